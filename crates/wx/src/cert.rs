//! X.509 certificates: making a self-signed certificate for an RSA key (platform and
//! merchant API certificates; no SDK validates the chain, spec §1.4) and reading a
//! certificate's serial, validity and public key.
//!
//! Serial numbers are carried as one canonical string everywhere (`serial_no` in JSON,
//! `Wechatpay-Serial`, `Authorization` `serial_no`): uppercase hex of the integer without
//! leading zeros, i.e. Python's `hex(cert.serial_number).upper()[2:]` (spec §1.3).

use rand::Rng;
use rcgen::{CertificateParams, DistinguishedName, DnType, IsCa, KeyUsagePurpose, SerialNumber};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

use crate::der::{
    self, DerError, Reader, TAG_CONTEXT_0, TAG_GENERALIZED_TIME, TAG_INTEGER, TAG_SEQUENCE,
    TAG_UTC_TIME,
};
use crate::encoding::hex_upper;
use crate::rsa::{PrivateKey, PublicKey, RsaError};

/// Longest serial number RFC 5280 allows, in DER content octets.
pub const MAX_SERIAL_LEN: usize = 20;
/// Earliest supported validity instant: 1950-01-01T00:00:00Z.
pub const MIN_VALIDITY_UNIX_S: i64 = -631_152_000;
/// Latest supported validity instant: 9999-12-31T23:59:59Z.
pub const MAX_VALIDITY_UNIX_S: i64 = 253_402_300_799;
/// PEM label of a certificate.
pub const CERTIFICATE_PEM_TAG: &str = "CERTIFICATE";
/// BIT STRING tag (the certificate signature).
const TAG_BIT_STRING: u8 = 0x03;

/// Why a certificate could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    /// The serial is zero or does not fit in 20 DER octets.
    #[error("invalid certificate serial: {0}")]
    InvalidSerial(&'static str),
    /// A validity bound is outside [`MIN_VALIDITY_UNIX_S`]..=[`MAX_VALIDITY_UNIX_S`].
    #[error("validity instant {unix_s} is outside 1950-01-01..=9999-12-31")]
    ValidityOutOfRange {
        /// The offending Unix time.
        unix_s: i64,
    },
    /// `not_before` is after `not_after`.
    #[error("not_before {not_before} is after not_after {not_after}")]
    ValidityInverted {
        /// Start of validity.
        not_before: i64,
        /// End of validity.
        not_after: i64,
    },
    /// The key could not be used or read.
    #[error(transparent)]
    Key(#[from] RsaError),
    /// The certificate generator failed.
    #[error("certificate generation failed: {0}")]
    Generate(String),
    /// The text is not well-formed PEM.
    #[error("malformed PEM: {0}")]
    Pem(String),
    /// The PEM text holds no `CERTIFICATE` block.
    #[error("no CERTIFICATE PEM block found (labels present: {found:?})")]
    MissingPemBlock {
        /// The labels that were present.
        found: Vec<String>,
    },
    /// The DER is not a well-formed certificate.
    #[error("malformed certificate DER: {0}")]
    Malformed(String),
    /// The certificate has a negative serial number, which no SDK can name.
    #[error("certificate serial number is negative")]
    NegativeSerial,
    /// A validity time is not `YYMMDDHHMMSSZ` / `YYYYMMDDHHMMSSZ` or names no real instant.
    #[error("invalid certificate time {0:?}")]
    InvalidTime(String),
}

impl From<DerError> for CertError {
    fn from(err: DerError) -> Self {
        Self::Malformed(err.to_string())
    }
}

/// A certificate made by [`self_signed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The certificate as PEM (`-----BEGIN CERTIFICATE-----`, LF line endings).
    pub pem: String,
    /// Canonical serial: uppercase hex, no leading zero (see [`serial_hex`]).
    pub serial_hex: String,
    /// Start of validity, Unix seconds.
    pub not_before_unix_s: i64,
    /// End of validity, Unix seconds.
    pub not_after_unix_s: i64,
}

/// What [`parse_certificate_pem`] / [`parse_certificate_der`] read from a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCertificate {
    /// Canonical serial: uppercase hex, no leading zero (see [`serial_hex`]).
    pub serial_hex: String,
    /// Start of validity, Unix seconds.
    pub not_before_unix_s: i64,
    /// End of validity, Unix seconds.
    pub not_after_unix_s: i64,
    /// The subject's RSA public key.
    pub public_key: PublicKey,
}

impl ParsedCertificate {
    /// True when `not_before <= unix_s <= not_after` (the Python SDK's usability check).
    pub fn is_valid_at(&self, unix_s: i64) -> bool {
        (self.not_before_unix_s..=self.not_after_unix_s).contains(&unix_s)
    }
}

/// The canonical serial string for big-endian serial bytes: uppercase hex of the integer
/// without leading zeros (`"0"` for zero). Equals Python's `hex(n).upper()[2:]`.
pub fn serial_hex(serial: &[u8]) -> String {
    let hex = hex_upper(strip_leading_zeros(serial));
    match hex.strip_prefix('0') {
        Some(rest) if !rest.is_empty() => rest.to_owned(),
        Some(_) => hex,
        None if hex.is_empty() => "0".to_owned(),
        None => hex,
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// A random 20-byte serial whose first byte is in `0x10..=0x7F`: positive as a DER
/// integer, exactly 20 octets, and 40 hex digits with no leading zero.
pub fn random_serial<R: Rng + ?Sized>(rng: &mut R) -> [u8; MAX_SERIAL_LEN] {
    let mut serial = [0u8; MAX_SERIAL_LEN];
    rng.fill_bytes(&mut serial);
    serial[0] = rng.random_range(0x10..=0x7F);
    serial
}

fn check_validity(unix_s: i64) -> Result<OffsetDateTime, CertError> {
    if !(MIN_VALIDITY_UNIX_S..=MAX_VALIDITY_UNIX_S).contains(&unix_s) {
        return Err(CertError::ValidityOutOfRange { unix_s });
    }
    OffsetDateTime::from_unix_timestamp(unix_s)
        .map_err(|_| CertError::ValidityOutOfRange { unix_s })
}

/// Makes a self-signed X.509 v3 certificate for `key` (signature `sha256WithRSAEncryption`)
/// with subject and issuer `CN=<common_name>`, serial `serial` (big-endian, positive, at
/// most 20 DER octets; leading zero bytes are ignored) and validity
/// `[not_before_unix_s, not_after_unix_s]`.
///
/// Extensions mirror a WeChat merchant certificate: `basicConstraints CA:FALSE` and
/// `keyUsage digitalSignature, nonRepudiation, keyEncipherment`.
pub fn self_signed(
    key: &PrivateKey,
    common_name: &str,
    serial: &[u8],
    not_before_unix_s: i64,
    not_after_unix_s: i64,
) -> Result<Certificate, CertError> {
    let serial = strip_leading_zeros(serial);
    if serial.is_empty() {
        return Err(CertError::InvalidSerial("serial must be positive"));
    }
    if serial.len() > MAX_SERIAL_LEN || (serial.len() == MAX_SERIAL_LEN && serial[0] >= 0x80) {
        return Err(CertError::InvalidSerial("serial must fit in 20 DER octets"));
    }
    let not_before = check_validity(not_before_unix_s)?;
    let not_after = check_validity(not_after_unix_s)?;
    if not_before_unix_s > not_after_unix_s {
        return Err(CertError::ValidityInverted {
            not_before: not_before_unix_s,
            not_after: not_after_unix_s,
        });
    }

    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    params.distinguished_name = name;
    params.serial_number = Some(SerialNumber::from_slice(serial));
    params.not_before = not_before;
    params.not_after = not_after;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
        KeyUsagePurpose::KeyEncipherment,
    ];

    let signing_key =
        rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&key.to_pkcs8_pem()?, &rcgen::PKCS_RSA_SHA256)
            .map_err(|e| CertError::Generate(e.to_string()))?;
    let cert = params
        .self_signed(&signing_key)
        .map_err(|e| CertError::Generate(e.to_string()))?;

    Ok(Certificate {
        pem: cert.pem(),
        serial_hex: serial_hex(serial),
        not_before_unix_s,
        not_after_unix_s,
    })
}

/// Reads the first `CERTIFICATE` block of a PEM text (other blocks are skipped).
pub fn parse_certificate_pem(text: &str) -> Result<ParsedCertificate, CertError> {
    let blocks = pem::parse_many(text).map_err(|e| CertError::Pem(e.to_string()))?;
    if blocks.is_empty() {
        return Err(CertError::Pem("no PEM block found".to_owned()));
    }
    let mut found = Vec::with_capacity(blocks.len());
    for block in blocks {
        if block.tag() == CERTIFICATE_PEM_TAG {
            return parse_certificate_der(block.contents());
        }
        found.push(block.tag().to_owned());
    }
    Err(CertError::MissingPemBlock { found })
}

/// Reads a DER certificate's serial, validity and RSA public key. The signature is not
/// checked (self-signed certificates are the norm here).
pub fn parse_certificate_der(der: &[u8]) -> Result<ParsedCertificate, CertError> {
    let certificate = der::read_single(der, TAG_SEQUENCE)?;
    let mut outer = Reader::new(certificate.contents);
    let tbs = outer.read_expect(TAG_SEQUENCE)?;
    outer.read_expect(TAG_SEQUENCE)?; // signatureAlgorithm
    outer.read_expect(TAG_BIT_STRING)?; // signatureValue
    outer.finish()?;

    let mut fields = Reader::new(tbs.contents);
    if fields.peek_tag() == Some(TAG_CONTEXT_0) {
        fields.read()?; // version
    }
    let serial = fields.read_expect(TAG_INTEGER)?.contents;
    fields.read_expect(TAG_SEQUENCE)?; // signature
    fields.read_expect(TAG_SEQUENCE)?; // issuer
    let validity = fields.read_expect(TAG_SEQUENCE)?;
    fields.read_expect(TAG_SEQUENCE)?; // subject
    let spki = fields.read_expect(TAG_SEQUENCE)?.raw;

    let serial_hex = match serial.first() {
        None => return Err(CertError::Malformed("empty serial INTEGER".to_owned())),
        Some(&first) if first & 0x80 != 0 => return Err(CertError::NegativeSerial),
        Some(_) => serial_hex(serial),
    };

    let mut times = Reader::new(validity.contents);
    let not_before_unix_s = parse_time(times.read()?)?;
    let not_after_unix_s = parse_time(times.read()?)?;
    times.finish()?;

    Ok(ParsedCertificate {
        serial_hex,
        not_before_unix_s,
        not_after_unix_s,
        public_key: PublicKey::from_der(spki)?,
    })
}

/// `UTCTime` (`YYMMDDHHMMSSZ`, years 1950–2049) or `GeneralizedTime` (`YYYYMMDDHHMMSSZ`)
/// to Unix seconds.
fn parse_time(tlv: der::Tlv<'_>) -> Result<i64, CertError> {
    let text = tlv.contents;
    let invalid = || CertError::InvalidTime(String::from_utf8_lossy(text).into_owned());
    let (year, rest) = match tlv.tag {
        TAG_UTC_TIME if text.len() == 13 => {
            let yy = digits(&text[..2]).ok_or_else(invalid)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
        }
        TAG_GENERALIZED_TIME if text.len() == 15 => {
            (digits(&text[..4]).ok_or_else(invalid)?, &text[4..])
        }
        TAG_UTC_TIME | TAG_GENERALIZED_TIME => return Err(invalid()),
        other => {
            return Err(CertError::Malformed(format!(
                "validity time has tag 0x{other:02X}"
            )));
        }
    };
    // rest = MMDDHHMMSSZ
    if rest.len() != 11 || rest[10] != b'Z' {
        return Err(invalid());
    }
    let field = |i: usize| -> Result<u8, CertError> {
        digits(&rest[i..i + 2])
            .and_then(|v| u8::try_from(v).ok())
            .ok_or_else(invalid)
    };
    let month = Month::try_from(field(0)?).map_err(|_| invalid())?;
    let date = Date::from_calendar_date(year, month, field(2)?).map_err(|_| invalid())?;
    let time = Time::from_hms(field(4)?, field(6)?, field(8)?).map_err(|_| invalid())?;
    Ok(PrimitiveDateTime::new(date, time)
        .assume_utc()
        .unix_timestamp())
}

/// ASCII decimal digits to a number; `None` for anything else. Inputs are at most 4 long.
fn digits(bytes: &[u8]) -> Option<i32> {
    bytes.iter().try_fold(0i32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i32::from(b - b'0'))
    })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::rsa::tests::key;

    const NOT_BEFORE: i64 = 1_700_000_000; // 2023-11-14T22:13:20Z
    const NOT_AFTER: i64 = 1_857_766_400; // 2028-11-14T…

    #[test]
    fn canonical_serial_hex() {
        assert_eq!(serial_hex(&[]), "0");
        assert_eq!(serial_hex(&[0, 0]), "0");
        assert_eq!(serial_hex(&[0x05]), "5");
        assert_eq!(serial_hex(&[0x00, 0x05, 0xAB]), "5AB");
        assert_eq!(serial_hex(&[0x10, 0x0a]), "100A");
        assert_eq!(serial_hex(&[0xff]), "FF");
    }

    #[test]
    fn random_serials_have_40_hex_digits() {
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..1000 {
            let serial = random_serial(&mut rng);
            assert!((0x10..=0x7f).contains(&serial[0]));
            let hex = serial_hex(&serial);
            assert_eq!(hex.len(), 40);
            assert_eq!(hex, hex.to_uppercase());
        }
    }

    #[test]
    fn self_signed_parses_back() {
        let mut rng = StdRng::seed_from_u64(1);
        let serial = random_serial(&mut rng);
        let cert = self_signed(key(), "Plaza Platform", &serial, NOT_BEFORE, NOT_AFTER).unwrap();
        assert!(cert.pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(!cert.pem.contains('\r'));
        assert_eq!(cert.serial_hex, serial_hex(&serial));
        let parsed = parse_certificate_pem(&cert.pem).unwrap();
        assert_eq!(parsed.serial_hex, cert.serial_hex);
        assert_eq!(parsed.not_before_unix_s, NOT_BEFORE);
        assert_eq!(parsed.not_after_unix_s, NOT_AFTER);
        assert_eq!(&parsed.public_key, key().public_key());
        assert!(parsed.is_valid_at(NOT_BEFORE));
        assert!(parsed.is_valid_at(NOT_AFTER));
        assert!(!parsed.is_valid_at(NOT_BEFORE - 1));
        assert!(!parsed.is_valid_at(NOT_AFTER + 1));
    }

    #[test]
    fn generalized_time_and_small_serials() {
        // 2050 and later are GeneralizedTime; 1950–2049 UTCTime.
        let far = 2_556_144_000; // 2051-01-01T00:00:00Z
        let cert = self_signed(key(), "x", &[0x00, 0x01], MIN_VALIDITY_UNIX_S, far).unwrap();
        assert_eq!(cert.serial_hex, "1");
        let parsed = parse_certificate_pem(&cert.pem).unwrap();
        assert_eq!(parsed.serial_hex, "1");
        assert_eq!(parsed.not_before_unix_s, MIN_VALIDITY_UNIX_S);
        assert_eq!(parsed.not_after_unix_s, far);
        let max = self_signed(key(), "x", &[0x80], 0, MAX_VALIDITY_UNIX_S).unwrap();
        assert_eq!(max.serial_hex, "80");
        let parsed = parse_certificate_pem(&max.pem).unwrap();
        assert_eq!(parsed.serial_hex, "80");
        assert_eq!(parsed.not_after_unix_s, MAX_VALIDITY_UNIX_S);
    }

    #[test]
    fn bad_parameters_are_typed_errors() {
        let k = key();
        assert!(matches!(
            self_signed(k, "x", &[], 0, 1),
            Err(CertError::InvalidSerial(_))
        ));
        assert!(matches!(
            self_signed(k, "x", &[0, 0], 0, 1),
            Err(CertError::InvalidSerial(_))
        ));
        assert!(matches!(
            self_signed(k, "x", &[0x80; 20], 0, 1),
            Err(CertError::InvalidSerial(_))
        ));
        assert!(matches!(
            self_signed(k, "x", &[1; 21], 0, 1),
            Err(CertError::InvalidSerial(_))
        ));
        assert!(self_signed(k, "x", &[0x7f; 20], 0, 1).is_ok());
        assert_eq!(
            self_signed(k, "x", &[1], 2, 1),
            Err(CertError::ValidityInverted {
                not_before: 2,
                not_after: 1
            })
        );
        assert_eq!(
            self_signed(k, "x", &[1], MIN_VALIDITY_UNIX_S - 1, 1),
            Err(CertError::ValidityOutOfRange {
                unix_s: MIN_VALIDITY_UNIX_S - 1
            })
        );
        assert_eq!(
            self_signed(k, "x", &[1], 0, i64::MAX),
            Err(CertError::ValidityOutOfRange { unix_s: i64::MAX })
        );
    }

    #[test]
    fn garbage_certificates_are_typed_errors() {
        assert!(matches!(
            parse_certificate_pem("nope"),
            Err(CertError::Pem(_))
        ));
        let other = crate::encoding::pem_encode("PUBLIC KEY", &[0x30, 0x00]);
        assert_eq!(
            parse_certificate_pem(&other),
            Err(CertError::MissingPemBlock {
                found: vec!["PUBLIC KEY".to_owned()]
            })
        );
        let empty = crate::encoding::pem_encode("CERTIFICATE", &[0x30, 0x00]);
        assert!(matches!(
            parse_certificate_pem(&empty),
            Err(CertError::Malformed(_))
        ));
        assert!(matches!(
            parse_certificate_der(&[]),
            Err(CertError::Malformed(_))
        ));
    }

    #[test]
    fn truncations_of_a_real_certificate_never_panic() {
        let cert = self_signed(key(), "t", &[0x42], NOT_BEFORE, NOT_AFTER).unwrap();
        let der = pem::parse(&cert.pem).unwrap().into_contents();
        assert!(parse_certificate_der(&der).is_ok());
        for len in 0..der.len() {
            assert!(parse_certificate_der(&der[..len]).is_err());
        }
        let mut flipped = der;
        for i in 0..flipped.len() {
            flipped[i] ^= 0xff;
            let _ = parse_certificate_der(&flipped);
            flipped[i] ^= 0xff;
        }
    }

    #[test]
    fn times() {
        let t = |tag, s: &str| {
            parse_time(der::Tlv {
                tag,
                contents: s.as_bytes(),
                raw: &[],
            })
        };
        assert_eq!(t(TAG_UTC_TIME, "700101000000Z"), Ok(0));
        assert_eq!(t(TAG_UTC_TIME, "491231235959Z"), Ok(2_524_607_999));
        assert_eq!(t(TAG_UTC_TIME, "500101000000Z"), Ok(MIN_VALIDITY_UNIX_S));
        assert_eq!(
            t(TAG_GENERALIZED_TIME, "99991231235959Z"),
            Ok(MAX_VALIDITY_UNIX_S)
        );
        assert_eq!(
            t(TAG_GENERALIZED_TIME, "20240229120000Z"),
            Ok(1_709_208_000)
        );
        for bad in [
            "700101000000",
            "7001010000000",
            "700230000000Z",
            "701301000000Z",
            "700101240000Z",
            "70010100000aZ",
            "700101000060Z",
            "+00101000000Z",
        ] {
            assert!(
                matches!(t(TAG_UTC_TIME, bad), Err(CertError::InvalidTime(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            t(TAG_GENERALIZED_TIME, "20230229000000Z"),
            Err(CertError::InvalidTime(_))
        ));
        assert!(matches!(
            t(TAG_INTEGER, "700101000000Z"),
            Err(CertError::Malformed(_))
        ));
    }
}
