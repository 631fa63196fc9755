//! Merchant → server request authentication: the `Authorization` header (spec §1.2).
//!
//! ```text
//! WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"
//! ```
//!
//! The signature is RSASSA-PKCS1-v1_5 SHA-256 over
//! `METHOD\nTARGET\nTIMESTAMP\nNONCE\nBODY\n` ([`request_message`]).

use crate::encoding::{b64_decode, lf_message, parse_canonical_i64};
use crate::rsa::{PrivateKey, PublicKey, RsaError};

/// The `Authorization` scheme token (also the `Wechatpay-Signature-Type` value).
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// Longest excerpt of attacker-supplied text quoted back in an [`AuthError`].
const MAX_ECHO_CHARS: usize = 48;

/// The parameters of a parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The caller's merchant id (the service provider's `sp_mchid` in partner mode).
    pub mchid: String,
    /// The request nonce.
    pub nonce_str: String,
    /// Base64 signature over [`request_message`].
    pub signature: String,
    /// Unix seconds, as signed (a canonical decimal on the wire).
    pub timestamp: i64,
    /// Serial of the merchant API certificate that signed.
    pub serial_no: String,
}

/// Parameter order when writing a header. Servers must accept any order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParamOrder {
    /// `mchid,nonce_str,signature,timestamp,serial_no` (Python / Java SDKs).
    #[default]
    Python,
    /// `mchid,nonce_str,timestamp,serial_no,signature` (Go SDK).
    Go,
}

impl Authorization {
    /// The full header value, `WECHATPAY2-SHA256-RSA2048 k="v",…`, in the given order.
    pub fn to_header_value(&self, order: ParamOrder) -> String {
        let Self {
            mchid,
            nonce_str,
            signature,
            timestamp,
            serial_no,
        } = self;
        match order {
            ParamOrder::Python => format!(
                "{SCHEME} mchid=\"{mchid}\",nonce_str=\"{nonce_str}\",signature=\"{signature}\",\
                 timestamp=\"{timestamp}\",serial_no=\"{serial_no}\""
            ),
            ParamOrder::Go => format!(
                "{SCHEME} mchid=\"{mchid}\",nonce_str=\"{nonce_str}\",timestamp=\"{timestamp}\",\
                 serial_no=\"{serial_no}\",signature=\"{signature}\""
            ),
        }
    }
}

/// Why an `Authorization` header was rejected (all map to 401 `SIGN_ERROR`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The header is empty.
    #[error("Authorization header is empty")]
    Empty,
    /// The header does not start with exactly `WECHATPAY2-SHA256-RSA2048 `.
    #[error("Authorization scheme must be `{SCHEME}` followed by one space")]
    Scheme,
    /// The scheme is there but no parameters follow.
    #[error("Authorization header has no parameters")]
    NoParameters,
    /// A comma-separated item is not `key="value"`.
    #[error("malformed Authorization parameter {0:?}: expected key=\"value\"")]
    Malformed(String),
    /// A required parameter is absent.
    #[error("Authorization parameter `{0}` is missing")]
    Missing(&'static str),
    /// A parameter appears more than once.
    #[error("Authorization parameter `{0}` appears more than once")]
    Duplicate(&'static str),
    /// A required parameter has an empty value.
    #[error("Authorization parameter `{0}` is empty")]
    EmptyValue(&'static str),
    /// `timestamp` is not a canonical non-negative decimal that fits in an `i64`.
    #[error("Authorization timestamp {0:?} is not a decimal Unix time")]
    Timestamp(String),
}

/// The five parameters, in the index order used by the parser.
const NAMES: [&str; 5] = ["mchid", "nonce_str", "signature", "timestamp", "serial_no"];

/// Whitespace tolerated around items (HTTP optional whitespace).
fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// At most [`MAX_ECHO_CHARS`] characters of `text`, for error messages.
fn echo(text: &str) -> String {
    match text.char_indices().nth(MAX_ECHO_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Strips one pair of surrounding double quotes; a value may also be bare. Quotes
/// anywhere else make the item malformed.
fn unquote(value: &str) -> Option<&str> {
    let inner = match value.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"')?,
        None => value,
    };
    (!inner.contains('"')).then_some(inner)
}

/// Parses an `Authorization` header value.
///
/// The scheme token must be exactly [`SCHEME`] followed by one space. Parameters are
/// `key="value"` items separated by commas, in any order (whitespace around an item is
/// ignored); each item is split on its first `=` and the quotes are stripped. Unknown
/// keys are ignored; a known key that is missing, repeated or empty, an item without `=`,
/// or a `timestamp` that is not a canonical decimal is a typed error.
pub fn parse_authorization(header: &str) -> Result<Authorization, AuthError> {
    let header = header.trim_matches(is_ows);
    if header.is_empty() {
        return Err(AuthError::Empty);
    }
    let rest = header.strip_prefix(SCHEME).ok_or(AuthError::Scheme)?;
    if rest.is_empty() {
        return Err(AuthError::NoParameters);
    }
    let params = rest.strip_prefix(' ').ok_or(AuthError::Scheme)?;
    if params.trim_matches(is_ows).is_empty() {
        return Err(AuthError::NoParameters);
    }

    let mut values: [Option<&str>; 5] = [None; 5];
    for item in params.split(',') {
        let item = item.trim_matches(is_ows);
        let malformed = || AuthError::Malformed(echo(item));
        let (key, value) = item.split_once('=').ok_or_else(malformed)?;
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(malformed());
        }
        let value = unquote(value).ok_or_else(malformed)?;
        if let Some(index) = NAMES.iter().position(|name| *name == key)
            && values[index].replace(value).is_some()
        {
            return Err(AuthError::Duplicate(NAMES[index]));
        }
    }

    let mut fields = [""; 5];
    for (index, name) in NAMES.iter().enumerate() {
        fields[index] = values[index].ok_or(AuthError::Missing(name))?;
    }
    for (index, name) in NAMES.iter().enumerate() {
        if fields[index].is_empty() {
            return Err(AuthError::EmptyValue(name));
        }
    }
    let [mchid, nonce_str, signature, timestamp, serial_no] = fields;
    let timestamp =
        parse_canonical_i64(timestamp).ok_or_else(|| AuthError::Timestamp(echo(timestamp)))?;
    Ok(Authorization {
        mchid: mchid.to_owned(),
        nonce_str: nonce_str.to_owned(),
        signature: signature.to_owned(),
        timestamp,
        serial_no: serial_no.to_owned(),
    })
}

/// The signed request message: `METHOD\nTARGET\nTIMESTAMP\nNONCE\nBODY\n`.
///
/// `method` is the uppercase HTTP method, `target` the path plus `?query` exactly as sent,
/// `body` the raw body bytes (empty for GET/DELETE; the `meta` JSON for uploads).
pub fn request_message(
    method: &str,
    target: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let timestamp = timestamp.to_string();
    lf_message(&[
        method.as_bytes(),
        target.as_bytes(),
        timestamp.as_bytes(),
        nonce.as_bytes(),
        body,
    ])
}

/// Signs a request as a merchant SDK does and returns the full `Authorization` header
/// value (Python parameter order).
#[expect(
    clippy::too_many_arguments,
    reason = "one argument per signed wire field; a struct would only rename them"
)]
pub fn sign_request(
    key: &PrivateKey,
    mchid: &str,
    serial_no: &str,
    method: &str,
    target: &str,
    body: &[u8],
    timestamp: i64,
    nonce: &str,
) -> Result<String, RsaError> {
    let message = request_message(method, target, timestamp, nonce, body);
    let authorization = Authorization {
        mchid: mchid.to_owned(),
        nonce_str: nonce.to_owned(),
        signature: key.sign_sha256_base64(&message)?,
        timestamp,
        serial_no: serial_no.to_owned(),
    };
    Ok(authorization.to_header_value(ParamOrder::Python))
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// The target with every `%XX` escape decoded, for the Python SDK quirk (it signs the
/// unescaped path, then `requests` percent-encodes it on the wire).
///
/// Returns `Some` only when decoding changed something and the result is valid UTF-8
/// without ASCII control characters (a decoded `%0A` could otherwise forge extra lines of
/// the signed message). A `%` not followed by two hex digits is kept as is.
pub fn percent_decoded_target(target: &str) -> Option<String> {
    if !target.contains('%') {
        return None;
    }
    let bytes = target.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut changed = false;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            let high = bytes.get(i + 1).copied().and_then(hex_value);
            let low = bytes.get(i + 2).copied().and_then(hex_value);
            if let (Some(high), Some(low)) = (high, low) {
                out.push((high << 4) | low);
                changed = true;
                i += 3;
                continue;
            }
        }
        out.push(byte);
        i += 1;
    }
    if !changed || out.iter().any(u8::is_ascii_control) {
        return None;
    }
    String::from_utf8(out).ok()
}

/// Verifies a parsed `Authorization` against the request: first over the raw `target`,
/// then over [`percent_decoded_target`] when that differs. Does not check the timestamp's
/// freshness, the `mchid` or the `serial_no` (the caller picks the key by them).
pub fn verify_request(
    public_key: &PublicKey,
    auth: &Authorization,
    method: &str,
    target: &str,
    body: &[u8],
) -> bool {
    let Some(signature) = b64_decode(&auth.signature) else {
        return false;
    };
    let verify = |target: &str| {
        let message = request_message(method, target, auth.timestamp, &auth.nonce_str, body);
        public_key.verify_sha256(&message, &signature)
    };
    verify(target) || percent_decoded_target(target).is_some_and(|decoded| verify(&decoded))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
#[allow(
    clippy::too_many_lines,
    reason = "a test is one scenario read top to bottom; the 70-line rule is for production code"
)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::rsa::tests::key;

    const SIG: &str = "c2lnbmF0dXJl";

    fn sample() -> Authorization {
        Authorization {
            mchid: "1900000001".to_owned(),
            nonce_str: "5K8264ILTKCH16CQ2502SI8ZNMTM67VS".to_owned(),
            signature: SIG.to_owned(),
            timestamp: 1_554_208_460,
            serial_no: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1".to_owned(),
        }
    }

    #[test]
    fn spec_example_parses() {
        let header = "WECHATPAY2-SHA256-RSA2048 mchid=\"1900000001\",\
            nonce_str=\"5K8264ILTKCH16CQ2502SI8ZNMTM67VS\",signature=\"c2lnbmF0dXJl\",\
            timestamp=\"1554208460\",serial_no=\"5157F09EFDC096DE15EBE81A47057A7232F1B8E1\"";
        assert_eq!(parse_authorization(header), Ok(sample()));
    }

    #[test]
    fn both_sdk_orders_round_trip() {
        let auth = sample();
        let python = auth.to_header_value(ParamOrder::Python);
        let go = auth.to_header_value(ParamOrder::Go);
        assert!(python.contains("signature=\"c2lnbmF0dXJl\",timestamp="));
        assert!(go.ends_with(",signature=\"c2lnbmF0dXJl\""));
        assert_eq!(parse_authorization(&python), Ok(auth.clone()));
        assert_eq!(parse_authorization(&go), Ok(auth));
    }

    #[test]
    fn request_message_layout() {
        assert_eq!(
            request_message(
                "GET",
                "/v3/pay/transactions/out-trade-no/T1?mchid=1900000001",
                1_554_208_460,
                "593BEC0C930BF1AFEB40B4A08C8FB242",
                b""
            ),
            b"GET\n/v3/pay/transactions/out-trade-no/T1?mchid=1900000001\n1554208460\n\
              593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
        );
        assert_eq!(
            request_message("POST", "/v3/x", 1, "N", b"{}"),
            b"POST\n/v3/x\n1\nN\n{}\n"
        );
    }

    #[test]
    fn typed_errors() {
        let ok = sample().to_header_value(ParamOrder::Python);
        let params = ok.strip_prefix("WECHATPAY2-SHA256-RSA2048 ").unwrap();
        let with = |p: &str| format!("{SCHEME} {p}");
        assert_eq!(parse_authorization(""), Err(AuthError::Empty));
        assert_eq!(parse_authorization("   "), Err(AuthError::Empty));
        assert_eq!(parse_authorization(SCHEME), Err(AuthError::NoParameters));
        assert_eq!(
            parse_authorization(&format!("{SCHEME}  ")),
            Err(AuthError::NoParameters)
        );
        assert_eq!(
            parse_authorization(&format!("wechatpay2-sha256-rsa2048 {params}")),
            Err(AuthError::Scheme)
        );
        assert_eq!(
            parse_authorization(&format!("WECHATPAY2-SHA256-RSA2048X {params}")),
            Err(AuthError::Scheme)
        );
        assert_eq!(
            parse_authorization(&format!("WECHATPAY2-SHA256-RSA2048,{params}")),
            Err(AuthError::Scheme)
        );
        assert_eq!(
            parse_authorization(&format!("Bearer {params}")),
            Err(AuthError::Scheme)
        );
        assert_eq!(
            parse_authorization(&with(
                "mchid=\"1\",nonce_str=\"n\",signature=\"s\",timestamp=\"1\""
            )),
            Err(AuthError::Missing("serial_no"))
        );
        assert_eq!(
            parse_authorization(&with(&format!("{params},mchid=\"2\""))),
            Err(AuthError::Duplicate("mchid"))
        );
        assert_eq!(
            parse_authorization(&with(&params.replace("mchid=\"1900000001\"", "mchid=\"\""))),
            Err(AuthError::EmptyValue("mchid"))
        );
        assert_eq!(
            parse_authorization(&with(&format!("{params},garbage"))),
            Err(AuthError::Malformed("garbage".to_owned()))
        );
        assert_eq!(
            parse_authorization(&with(&format!("{params},"))),
            Err(AuthError::Malformed(String::new()))
        );
        assert_eq!(
            parse_authorization(&with(
                &params.replace("mchid=\"1900000001\"", "mchid=\"19\"00\"")
            )),
            Err(AuthError::Malformed("mchid=\"19\"00\"".to_owned()))
        );
        assert_eq!(
            parse_authorization(&with(
                &params.replace("mchid=\"1900000001\"", "mchid=\"1900")
            )),
            Err(AuthError::Malformed("mchid=\"1900".to_owned()))
        );
        assert_eq!(
            parse_authorization(&with(&format!("{params},=\"x\""))),
            Err(AuthError::Malformed("=\"x\"".to_owned()))
        );
        for bad in ["-1", "+1", "01", "1.5", "abc", "99999999999999999999", " 1"] {
            assert_eq!(
                parse_authorization(&with(&params.replace("1554208460", bad))),
                Err(AuthError::Timestamp(bad.to_owned())),
                "{bad}"
            );
        }
        let long = "x".repeat(500);
        let Err(AuthError::Malformed(echoed)) = parse_authorization(&with(&long)) else {
            panic!("expected Malformed");
        };
        assert_eq!(echoed.chars().count(), MAX_ECHO_CHARS + 1);
    }

    #[test]
    fn tolerated_variations() {
        let auth = sample();
        let header = auth.to_header_value(ParamOrder::Python);
        // Surrounding whitespace, spaces after commas, unquoted values, unknown keys.
        assert_eq!(
            parse_authorization(&format!("  {header}\t")),
            Ok(auth.clone())
        );
        assert_eq!(
            parse_authorization(&header.replace("\",", "\", ")),
            Ok(auth.clone())
        );
        assert_eq!(
            parse_authorization(&header.replace('"', "")),
            Ok(auth.clone())
        );
        assert_eq!(
            parse_authorization(&format!("{header},extra=\"1\"")),
            Ok(auth.clone())
        );
        // '=' inside a value: split on the first '=' only (base64 padding).
        let padded = Authorization {
            signature: "YWI=".to_owned(),
            ..auth
        };
        let header = padded.to_header_value(ParamOrder::Go);
        assert_eq!(parse_authorization(&header), Ok(padded));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decoded_target("/v3/x"), None);
        assert_eq!(
            percent_decoded_target("/v3/x/%E4%B8%AD%E6%96%87").as_deref(),
            Some("/v3/x/中文")
        );
        assert_eq!(
            percent_decoded_target("/a%7b%22b%22%7D%20c").as_deref(),
            Some("/a{\"b\"} c")
        );
        assert_eq!(percent_decoded_target("/a%zz%4").as_deref(), None);
        assert_eq!(
            percent_decoded_target("/a%zz%41%").as_deref(),
            Some("/a%zzA%")
        );
        assert_eq!(percent_decoded_target("/a%25zz").as_deref(), Some("/a%zz"));
        assert_eq!(percent_decoded_target("/a%FF"), None, "not UTF-8");
        assert_eq!(percent_decoded_target("/a%0Ab"), None, "control character");
        assert_eq!(percent_decoded_target("/a%7F"), None, "control character");
        assert_eq!(percent_decoded_target("%E4%B8"), None, "truncated UTF-8");
    }

    #[test]
    fn signed_request_verifies_and_tampering_fails() {
        let body = br#"{"appid":"wx1","amount":{"total":1}}"#;
        let header = sign_request(
            key(),
            "1900000001",
            "SERIAL1",
            "POST",
            "/v3/pay/transactions/native",
            body,
            1_700_000_000,
            "NONCE",
        )
        .unwrap();
        let auth = parse_authorization(&header).unwrap();
        assert_eq!(auth.mchid, "1900000001");
        assert_eq!(auth.serial_no, "SERIAL1");
        assert_eq!(auth.timestamp, 1_700_000_000);
        assert_eq!(auth.nonce_str, "NONCE");
        let pk = key().public_key();
        let target = "/v3/pay/transactions/native";
        assert!(verify_request(pk, &auth, "POST", target, body));
        assert!(!verify_request(pk, &auth, "GET", target, body));
        assert!(!verify_request(
            pk,
            &auth,
            "POST",
            "/v3/pay/transactions/app",
            body
        ));
        assert!(!verify_request(pk, &auth, "POST", target, b"{}"));
        let later = Authorization {
            timestamp: 1_700_000_001,
            ..auth.clone()
        };
        assert!(!verify_request(pk, &later, "POST", target, body));
        let renonced = Authorization {
            nonce_str: "NONCF".to_owned(),
            ..auth.clone()
        };
        assert!(!verify_request(pk, &renonced, "POST", target, body));
        let garbled = Authorization {
            signature: "!!".to_owned(),
            ..auth
        };
        assert!(!verify_request(pk, &garbled, "POST", target, body));
    }

    #[test]
    fn percent_decoded_fallback() {
        let header = sign_request(
            key(),
            "1",
            "S",
            "GET",
            "/v3/x/中文",
            b"",
            1_700_000_000,
            "N",
        )
        .unwrap();
        let auth = parse_authorization(&header).unwrap();
        let pk = key().public_key();
        assert!(verify_request(
            pk,
            &auth,
            "GET",
            "/v3/x/%E4%B8%AD%E6%96%87",
            b""
        ));
        assert!(verify_request(
            pk,
            &auth,
            "GET",
            "/v3/x/%e4%b8%ad%e6%96%87",
            b""
        ));
        assert!(verify_request(pk, &auth, "GET", "/v3/x/中文", b""));
        assert!(!verify_request(pk, &auth, "GET", "/v3/x/%E4%B8%AD", b""));
        // The raw target is tried first: a signature over the encoded form also verifies.
        let encoded = "/v3/x/%E4%B8%AD%E6%96%87";
        let header = sign_request(key(), "1", "S", "GET", encoded, b"", 1, "N").unwrap();
        let auth = parse_authorization(&header).unwrap();
        assert!(verify_request(pk, &auth, "GET", encoded, b""));
    }

    fn token() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_-]{1,40}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn parse_is_order_insensitive(
            mchid in token(), nonce in token(), serial in token(),
            signature in "[A-Za-z0-9+/]{1,60}={0,2}",
            timestamp in 0i64..=i64::MAX,
            order in Just(vec![0usize, 1, 2, 3, 4]).prop_shuffle(),
        ) {
            let values = [
                mchid.clone(), nonce.clone(), signature.clone(), timestamp.to_string(),
                serial.clone(),
            ];
            let params: Vec<String> =
                order.iter().map(|&i| format!("{}=\"{}\"", NAMES[i], values[i])).collect();
            let header = format!("{SCHEME} {}", params.join(","));
            let parsed = parse_authorization(&header).unwrap();
            prop_assert_eq!(parsed, Authorization {
                mchid, nonce_str: nonce, signature, timestamp, serial_no: serial,
            });
        }

        #[test]
        fn parse_never_panics(header in "\\PC{0,200}") {
            let _ = parse_authorization(&header);
            let _ = parse_authorization(&format!("{SCHEME} {header}"));
            let _ = percent_decoded_target(&header);
        }

        #[test]
        fn sign_verify_round_trip(
            method in "(GET|POST|PUT|PATCH|DELETE)",
            path in "/v3/[a-z0-9/_-]{0,40}(\\?[a-z_=&0-9]{0,30})?",
            body in proptest::collection::vec(any::<u8>(), 0..200),
            timestamp in 0i64..4_000_000_000,
            nonce in "[0-9A-F]{32}",
        ) {
            let header = sign_request(key(), "1900000001", "SER", &method, &path, &body,
                timestamp, &nonce).unwrap();
            let auth = parse_authorization(&header).unwrap();
            prop_assert!(verify_request(key().public_key(), &auth, &method, &path, &body));
            let mut tampered = body;
            tampered.push(b'x');
            prop_assert!(!verify_request(key().public_key(), &auth, &method, &path, &tampered));
        }
    }
}
