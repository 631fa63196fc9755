//! RSA keys for APIv3: PKCS#1 v1.5 + SHA-256 signatures (spec §1.2, §1.3) and
//! RSA-OAEP with SHA-1 / MGF1-SHA-1 for sensitive fields (spec §1.6).
//!
//! [`PrivateKey`] and [`PublicKey`] are `Send + Sync` and immutable, so one key can be put
//! in an `Arc` and used to sign from many threads at once.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey, OaepPublicEncryptingKey,
    PrivateDecryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::signature::{
    KeyPair as _, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair,
};

use crate::encoding::{b64_decode, b64_encode, pem_encode};

/// Smallest modulus accepted, in bits (the scheme is named RSA2048).
pub const MIN_KEY_BITS: usize = 2048;
/// Largest modulus accepted, in bits (the verifier's upper bound).
pub const MAX_KEY_BITS: usize = 8192;

/// PEM label of a PKCS#8 private key.
pub const PKCS8_PEM_TAG: &str = "PRIVATE KEY";
/// PEM label of a PKCS#1 (`RSAPrivateKey`) private key.
pub const PKCS1_PRIVATE_PEM_TAG: &str = "RSA PRIVATE KEY";
/// PEM label of an X.509 `SubjectPublicKeyInfo` public key.
pub const SPKI_PEM_TAG: &str = "PUBLIC KEY";
/// PEM label of a PKCS#1 (`RSAPublicKey`) public key.
pub const PKCS1_PUBLIC_PEM_TAG: &str = "RSA PUBLIC KEY";

/// Why a key could not be read, or an RSA operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RsaError {
    /// The text is not well-formed PEM.
    #[error("malformed PEM: {0}")]
    Pem(String),
    /// The PEM text holds no block with a label this function reads.
    #[error("no {expected} PEM block found (labels present: {found:?})")]
    MissingPemBlock {
        /// What was looked for.
        expected: &'static str,
        /// The labels that were present.
        found: Vec<String>,
    },
    /// Base64 that does not decode.
    #[error("invalid base64 in {0}")]
    Base64(&'static str),
    /// The DER bytes are not an acceptable RSA key.
    #[error("RSA key rejected: {0}")]
    KeyRejected(String),
    /// The modulus size is outside [`MIN_KEY_BITS`]..=[`MAX_KEY_BITS`].
    #[error("RSA key has {bits} bits; {MIN_KEY_BITS}..={MAX_KEY_BITS} are supported")]
    KeySize {
        /// The key's modulus size.
        bits: usize,
    },
    /// The platform could not generate a key.
    #[error("RSA key generation failed")]
    Generate,
    /// The key could not be serialized.
    #[error("RSA key serialization failed")]
    Serialize,
    /// Signing failed (not expected for a key that loaded).
    #[error("RSA signing failed")]
    Sign,
    /// The plaintext is longer than RSA-OAEP-SHA1 can carry with this key.
    #[error("plaintext is {len} bytes; RSA-OAEP-SHA1 with this key carries at most {max}")]
    PlaintextTooLong {
        /// Plaintext length.
        len: usize,
        /// The limit for this key (214 for RSA-2048).
        max: usize,
    },
    /// The ciphertext length is not the modulus length.
    #[error("ciphertext is {len} bytes; this key needs exactly {expected}")]
    CiphertextLength {
        /// Decoded ciphertext length.
        len: usize,
        /// The modulus length in bytes.
        expected: usize,
    },
    /// RSA-OAEP encryption failed.
    #[error("RSA-OAEP encryption failed")]
    Encrypt,
    /// RSA-OAEP decryption failed: wrong key, or the ciphertext was altered.
    #[error("RSA-OAEP decryption failed")]
    Decrypt,
}

fn rejected(err: aws_lc_rs::error::KeyRejected) -> RsaError {
    RsaError::KeyRejected(err.to_string())
}

fn check_bits(bits: usize) -> Result<(), RsaError> {
    if (MIN_KEY_BITS..=MAX_KEY_BITS).contains(&bits) {
        Ok(())
    } else {
        Err(RsaError::KeySize { bits })
    }
}

/// Parses every PEM block of `text` and returns the contents of the first whose label is
/// one of `tags`, with the label found.
fn pem_block<'t>(
    text: &str,
    tags: &[&'t str],
    expected: &'static str,
) -> Result<(&'t str, Vec<u8>), RsaError> {
    let blocks = pem::parse_many(text).map_err(|e| RsaError::Pem(e.to_string()))?;
    if blocks.is_empty() {
        return Err(RsaError::Pem("no PEM block found".to_owned()));
    }
    let mut found = Vec::with_capacity(blocks.len());
    for block in blocks {
        if let Some(tag) = tags.iter().find(|t| **t == block.tag()) {
            return Ok((tag, block.into_contents()));
        }
        found.push(block.tag().to_owned());
    }
    Err(RsaError::MissingPemBlock { expected, found })
}

/// An RSA private key that signs (PKCS#1 v1.5 SHA-256) and decrypts (OAEP SHA-1).
pub struct PrivateKey {
    signer: RsaKeyPair,
    decryptor: OaepPrivateDecryptingKey,
    public: PublicKey,
}

impl PrivateKey {
    /// Generates a fresh RSA-2048 key (e = 65537) from the system RNG. Takes tens to
    /// hundreds of milliseconds.
    pub fn generate() -> Result<Self, RsaError> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| RsaError::Generate)?;
        let pkcs8 = pair.as_der().map_err(|_| RsaError::Serialize)?;
        Self::from_pkcs8_der(pkcs8.as_ref())
    }

    /// Reads a PEM private key: PKCS#8 (`-----BEGIN PRIVATE KEY-----`, what the merchant
    /// `apiclient_key.pem` holds) or PKCS#1 (`-----BEGIN RSA PRIVATE KEY-----`).
    /// Encrypted keys are not supported.
    pub fn from_pem(text: &str) -> Result<Self, RsaError> {
        let (tag, der) = pem_block(
            text,
            &[PKCS8_PEM_TAG, PKCS1_PRIVATE_PEM_TAG],
            "PRIVATE KEY or RSA PRIVATE KEY",
        )?;
        if tag == PKCS8_PEM_TAG {
            Self::from_pkcs8_der(&der)
        } else {
            Self::from_pkcs1_der(&der)
        }
    }

    /// Reads an unencrypted PKCS#8 DER RSA private key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, RsaError> {
        let signer = RsaKeyPair::from_pkcs8(der).map_err(rejected)?;
        check_bits(signer.public_modulus_len() * 8)?;
        let decryptor = PrivateDecryptingKey::from_pkcs8(der).map_err(rejected)?;
        let decryptor = OaepPrivateDecryptingKey::new(decryptor)
            .map_err(|_| RsaError::KeyRejected("not usable for RSA-OAEP decryption".to_owned()))?;
        let spki = signer
            .public_key()
            .as_der()
            .map_err(|_| RsaError::Serialize)?;
        let public = PublicKey::from_der(spki.as_ref())?;
        Ok(Self {
            signer,
            decryptor,
            public,
        })
    }

    /// Reads a PKCS#1 DER (`RSAPrivateKey`) private key.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, RsaError> {
        let pair = RsaKeyPair::from_der(der).map_err(rejected)?;
        let pkcs8 = pair.as_der().map_err(|_| RsaError::Serialize)?;
        Self::from_pkcs8_der(pkcs8.as_ref())
    }

    /// The key as PKCS#8 DER. Secret material: handle with care.
    pub fn to_pkcs8_der(&self) -> Result<Vec<u8>, RsaError> {
        let der = self.signer.as_der().map_err(|_| RsaError::Serialize)?;
        Ok(der.as_ref().to_vec())
    }

    /// The key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`, LF line endings), the format
    /// of a merchant's `apiclient_key.pem`. Secret material: handle with care.
    pub fn to_pkcs8_pem(&self) -> Result<String, RsaError> {
        Ok(pem_encode(PKCS8_PEM_TAG, &self.to_pkcs8_der()?))
    }

    /// The matching public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.signer.public_modulus_len() * 8
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`: the raw signature bytes.
    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, RsaError> {
        let mut signature = vec![0u8; self.signer.public_modulus_len()];
        self.signer
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| RsaError::Sign)?;
        Ok(signature)
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`, standard padded base64: the value of
    /// an `Authorization` `signature="…"` or a `Wechatpay-Signature` header.
    pub fn sign_sha256_base64(&self, message: &[u8]) -> Result<String, RsaError> {
        Ok(b64_encode(&self.sign_sha256(message)?))
    }

    /// Decrypts a base64 RSA-OAEP (SHA-1, MGF1-SHA-1, no label) ciphertext, as sent in
    /// encrypted request fields (spec §1.6).
    pub fn decrypt_oaep_sha1(&self, ciphertext_b64: &str) -> Result<Vec<u8>, RsaError> {
        let ciphertext =
            b64_decode(ciphertext_b64.trim()).ok_or(RsaError::Base64("RSA-OAEP ciphertext"))?;
        self.decrypt_oaep_sha1_bytes(&ciphertext)
    }

    /// Decrypts raw RSA-OAEP (SHA-1, MGF1-SHA-1, no label) ciphertext bytes.
    pub fn decrypt_oaep_sha1_bytes(&self, ciphertext: &[u8]) -> Result<Vec<u8>, RsaError> {
        let expected = self.decryptor.key_size_bytes();
        if ciphertext.len() != expected {
            return Err(RsaError::CiphertextLength {
                len: ciphertext.len(),
                expected,
            });
        }
        let mut plaintext = vec![0u8; self.decryptor.min_output_size()];
        let len = self
            .decryptor
            .decrypt(&OAEP_SHA1_MGF1SHA1, ciphertext, &mut plaintext, None)
            .map_err(|_| RsaError::Decrypt)?
            .len();
        plaintext.truncate(len);
        Ok(plaintext)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

/// An RSA public key that verifies (PKCS#1 v1.5 SHA-256) and encrypts (OAEP SHA-1).
///
/// Equality compares the `SubjectPublicKeyInfo` DER.
#[derive(Clone)]
pub struct PublicKey {
    verifier: ParsedPublicKey,
    encryptor: PublicEncryptingKey,
    spki_der: Box<[u8]>,
}

impl PublicKey {
    /// Reads a public key the way the Python SDK's `public_key=` option does: PEM
    /// (`-----BEGIN PUBLIC KEY-----`, or PKCS#1 `-----BEGIN RSA PUBLIC KEY-----`), or else
    /// the bare base64 body of an SPKI key (line breaks and spaces ignored).
    pub fn from_pem(text: &str) -> Result<Self, RsaError> {
        let trimmed = text.trim();
        if trimmed.starts_with("-----") {
            let (_, der) = pem_block(
                trimmed,
                &[SPKI_PEM_TAG, PKCS1_PUBLIC_PEM_TAG],
                "PUBLIC KEY or RSA PUBLIC KEY",
            )?;
            Self::from_der(&der)
        } else {
            let body: String = trimmed
                .chars()
                .filter(|c| !c.is_ascii_whitespace())
                .collect();
            let der = b64_decode(&body).ok_or(RsaError::Base64("public key body"))?;
            Self::from_der(&der)
        }
    }

    /// Reads DER: X.509 `SubjectPublicKeyInfo` or PKCS#1 `RSAPublicKey`.
    pub fn from_der(der: &[u8]) -> Result<Self, RsaError> {
        let verifier = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der).map_err(rejected)?;
        let spki = verifier.as_der().map_err(|_| RsaError::Serialize)?;
        let encryptor = PublicEncryptingKey::from_der(spki.as_ref()).map_err(rejected)?;
        check_bits(encryptor.key_size_bits())?;
        Ok(Self {
            verifier,
            encryptor,
            spki_der: spki.as_ref().into(),
        })
    }

    /// The X.509 `SubjectPublicKeyInfo` DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`, LF line endings).
    pub fn to_spki_pem(&self) -> String {
        pem_encode(SPKI_PEM_TAG, &self.spki_der)
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.encryptor.key_size_bits()
    }

    /// Checks a raw RSASSA-PKCS1-v1_5 SHA-256 signature over `message`.
    pub fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verifier.verify_sig(message, signature).is_ok()
    }

    /// Checks a base64 RSASSA-PKCS1-v1_5 SHA-256 signature over `message`. Garbled base64
    /// is simply a failed verification.
    pub fn verify_sha256_base64(&self, message: &[u8], signature_b64: &str) -> bool {
        match b64_decode(signature_b64) {
            Some(signature) => self.verify_sha256(message, &signature),
            None => false,
        }
    }

    /// Largest plaintext [`encrypt_oaep_sha1`](Self::encrypt_oaep_sha1) accepts (214 bytes
    /// for RSA-2048).
    pub fn max_oaep_sha1_plaintext(&self) -> usize {
        // OAEP overhead is 2 * hLen + 2 with SHA-1 (hLen = 20); keys are >= 2048 bits.
        self.encryptor.key_size_bytes().saturating_sub(2 * 20 + 2)
    }

    /// Encrypts with RSA-OAEP (SHA-1, MGF1-SHA-1, no label) and returns standard base64,
    /// as for sensitive request/response fields (spec §1.6). Randomized: two calls differ.
    pub fn encrypt_oaep_sha1(&self, plaintext: &[u8]) -> Result<String, RsaError> {
        let max = self.max_oaep_sha1_plaintext();
        if plaintext.len() > max {
            return Err(RsaError::PlaintextTooLong {
                len: plaintext.len(),
                max,
            });
        }
        let key =
            OaepPublicEncryptingKey::new(self.encryptor.clone()).map_err(|_| RsaError::Encrypt)?;
        let mut ciphertext = vec![0u8; key.ciphertext_size()];
        let len = key
            .encrypt(&OAEP_SHA1_MGF1SHA1, plaintext, &mut ciphertext, None)
            .map_err(|_| RsaError::Encrypt)?
            .len();
        ciphertext.truncate(len);
        Ok(b64_encode(&ciphertext))
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.spki_der == other.spki_der
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("bits", &self.bits())
            .field("spki_sha256", &crate::digest::sha256_hex(&self.spki_der))
            .finish()
    }
}

/// Compile-time proof that keys can be shared across threads (e.g. in an `Arc`).
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PrivateKey>();
    assert_send_sync::<PublicKey>();
};

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
pub(crate) mod tests {
    use std::sync::{Arc, OnceLock};

    use proptest::prelude::*;

    use super::*;

    /// One generated key shared by every test of this module (generation is slow).
    pub(crate) fn key() -> &'static PrivateKey {
        static KEY: OnceLock<PrivateKey> = OnceLock::new();
        KEY.get_or_init(|| PrivateKey::generate().expect("generate"))
    }

    #[test]
    fn generated_key_is_2048_and_pem_round_trips() {
        let key = key();
        assert_eq!(key.bits(), 2048);
        let pem = key.to_pkcs8_pem().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        assert!(pem.ends_with("-----END PRIVATE KEY-----\n"));
        assert!(!pem.contains('\r'));
        let back = PrivateKey::from_pem(&pem).unwrap();
        assert_eq!(back.public_key(), key.public_key());
        assert_eq!(back.to_pkcs8_der().unwrap(), key.to_pkcs8_der().unwrap());
    }

    #[test]
    fn public_key_pem_and_bare_base64() {
        let public = key().public_key();
        let pem = public.to_spki_pem();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert_eq!(&PublicKey::from_pem(&pem).unwrap(), public);
        // The Python SDK also accepts the body alone, with or without line breaks.
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        assert_eq!(&PublicKey::from_pem(&body).unwrap(), public);
        let multi_line: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(&PublicKey::from_pem(&multi_line).unwrap(), public);
        // CRLF PEM is fine too.
        assert_eq!(
            &PublicKey::from_pem(&pem.replace('\n', "\r\n")).unwrap(),
            public
        );
        assert_eq!(public.bits(), 2048);
        assert_eq!(public.max_oaep_sha1_plaintext(), 214);
    }

    #[test]
    fn bad_keys_are_typed_errors() {
        assert!(matches!(
            PublicKey::from_pem("not base64!"),
            Err(RsaError::Base64(_))
        ));
        assert!(matches!(
            PublicKey::from_pem("AAAA"),
            Err(RsaError::KeyRejected(_))
        ));
        assert!(matches!(
            PublicKey::from_pem("-----BEGIN PUBLIC KEY"),
            Err(RsaError::Pem(_))
        ));
        let private_pem = key().to_pkcs8_pem().unwrap();
        assert!(matches!(
            PublicKey::from_pem(&private_pem),
            Err(RsaError::MissingPemBlock { .. })
        ));
        assert!(matches!(
            PrivateKey::from_pem(&key().public_key().to_spki_pem()),
            Err(RsaError::MissingPemBlock { .. })
        ));
        assert!(matches!(
            PrivateKey::from_pkcs8_der(&[0x30, 0x00]),
            Err(RsaError::KeyRejected(_))
        ));
        assert!(matches!(
            PrivateKey::from_pem(""),
            Err(RsaError::Pem(_) | RsaError::MissingPemBlock { .. })
        ));
    }

    #[test]
    fn pkcs1_private_key_is_accepted() {
        // A PKCS#1 key is the OCTET STRING inside the PKCS#8 wrapper.
        let pkcs1 = crate::der::tests::pkcs1_from_pkcs8(&key().to_pkcs8_der().unwrap());
        let pem = pem_encode(PKCS1_PRIVATE_PEM_TAG, &pkcs1);
        let back = PrivateKey::from_pem(&pem).unwrap();
        assert_eq!(back.public_key(), key().public_key());
    }

    #[test]
    fn oaep_rejects_wrong_sizes() {
        let public = key().public_key();
        assert!(matches!(
            public.encrypt_oaep_sha1(&[0u8; 215]),
            Err(RsaError::PlaintextTooLong { len: 215, max: 214 })
        ));
        assert!(public.encrypt_oaep_sha1(&[7u8; 214]).is_ok());
        assert!(matches!(
            key().decrypt_oaep_sha1("AAAA"),
            Err(RsaError::CiphertextLength {
                len: 3,
                expected: 256
            })
        ));
        assert!(matches!(
            key().decrypt_oaep_sha1("@@@"),
            Err(RsaError::Base64(_))
        ));
        assert!(matches!(
            key().decrypt_oaep_sha1_bytes(&[0u8; 256]),
            Err(RsaError::Decrypt)
        ));
    }

    #[test]
    fn signature_is_deterministic_and_shared_across_threads() {
        let key = Arc::new(PrivateKey::from_pem(&key().to_pkcs8_pem().unwrap()).unwrap());
        let first = key.sign_sha256_base64(b"hello").unwrap();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let key = Arc::clone(&key);
                std::thread::spawn(move || key.sign_sha256_base64(b"hello").unwrap())
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), first);
        }
        assert_eq!(first.len(), 344);
    }

    #[test]
    fn verify_rejects_garbage() {
        let public = key().public_key();
        assert!(!public.verify_sha256_base64(b"m", ""));
        assert!(!public.verify_sha256_base64(b"m", "not base64"));
        assert!(!public.verify_sha256(b"m", &[0u8; 256]));
    }

    #[test]
    fn a_different_key_does_not_verify() {
        let other = PrivateKey::generate().unwrap();
        let sig = other.sign_sha256_base64(b"m").unwrap();
        assert!(other.public_key().verify_sha256_base64(b"m", &sig));
        assert!(!key().public_key().verify_sha256_base64(b"m", &sig));
        let ct = other.public_key().encrypt_oaep_sha1(b"secret").unwrap();
        assert_eq!(key().decrypt_oaep_sha1(&ct), Err(RsaError::Decrypt));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn sign_verify_round_trip(message in proptest::collection::vec(any::<u8>(), 0..512)) {
            let sig = key().sign_sha256_base64(&message).unwrap();
            prop_assert!(key().public_key().verify_sha256_base64(&message, &sig));
        }

        #[test]
        fn tampered_message_fails(
            message in proptest::collection::vec(any::<u8>(), 1..256),
            index in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let sig = key().sign_sha256_base64(&message).unwrap();
            let mut tampered = message.clone();
            tampered[index.index(message.len())] ^= flip;
            prop_assert!(!key().public_key().verify_sha256_base64(&tampered, &sig));
        }

        #[test]
        fn tampered_signature_fails(
            message in proptest::collection::vec(any::<u8>(), 0..64),
            index in 0usize..256,
            flip in 1u8..=255,
        ) {
            let mut sig = key().sign_sha256(&message).unwrap();
            sig[index] ^= flip;
            prop_assert!(!key().public_key().verify_sha256(&message, &sig));
        }

        #[test]
        fn oaep_round_trip(plaintext in proptest::collection::vec(any::<u8>(), 0..=214)) {
            let ct = key().public_key().encrypt_oaep_sha1(&plaintext).unwrap();
            prop_assert_eq!(key().decrypt_oaep_sha1(&ct).unwrap(), plaintext);
        }
    }
}
