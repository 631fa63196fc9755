//! `AEAD_AES_256_GCM` resources (spec §1.7): callback `resource` objects and the
//! `encrypt_certificate` of `GET /v3/certificates`.
//!
//! Key = the merchant's APIv3 key as its 32 ASCII bytes (not hex-decoded); nonce = the
//! 12-byte `nonce` string; AAD = the `associated_data` string (may be empty);
//! `ciphertext` = base64(AES-256-GCM ciphertext ‖ 16-byte tag).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use crate::encoding::{b64_decode, b64_encode};

/// The `algorithm` field value.
pub const ALGORITHM: &str = "AEAD_AES_256_GCM";
/// APIv3 key length in bytes.
pub const KEY_LEN: usize = 32;
/// Nonce length in bytes.
pub const NONCE_LEN: usize = 12;
/// GCM tag length in bytes, appended to the ciphertext.
pub const TAG_LEN: usize = 16;

/// Why a resource could not be encrypted or decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AeadError {
    /// The APIv3 key is not 32 bytes.
    #[error("APIv3 key must be {KEY_LEN} bytes, got {len}")]
    KeyLength {
        /// Actual length in bytes.
        len: usize,
    },
    /// The nonce is not 12 bytes.
    #[error("AEAD nonce must be {NONCE_LEN} bytes, got {len}")]
    NonceLength {
        /// Actual length in bytes.
        len: usize,
    },
    /// The ciphertext is not base64.
    #[error("AEAD ciphertext is not valid base64")]
    Base64,
    /// The decoded ciphertext is shorter than the 16-byte tag.
    #[error("AEAD ciphertext is {len} bytes, shorter than the {TAG_LEN}-byte tag")]
    TooShort {
        /// Decoded length in bytes.
        len: usize,
    },
    /// Authentication failed: wrong key, nonce or associated data, or altered ciphertext.
    #[error("AEAD authentication failed")]
    Decrypt,
    /// Encryption failed (plaintext beyond GCM's limit).
    #[error("AEAD encryption failed")]
    Encrypt,
}

fn key_and_nonce(apiv3_key: &str, nonce: &str) -> Result<(LessSafeKey, Nonce), AeadError> {
    let key_bytes = apiv3_key.as_bytes();
    if key_bytes.len() != KEY_LEN {
        return Err(AeadError::KeyLength {
            len: key_bytes.len(),
        });
    }
    let nonce_bytes = nonce.as_bytes();
    if nonce_bytes.len() != NONCE_LEN {
        return Err(AeadError::NonceLength {
            len: nonce_bytes.len(),
        });
    }
    let key = UnboundKey::new(&AES_256_GCM, key_bytes).map_err(|_| AeadError::KeyLength {
        len: key_bytes.len(),
    })?;
    let nonce =
        Nonce::try_assume_unique_for_key(nonce_bytes).map_err(|_| AeadError::NonceLength {
            len: nonce_bytes.len(),
        })?;
    Ok((LessSafeKey::new(key), nonce))
}

/// Encrypts `plaintext` and returns `base64(ciphertext ‖ tag)`. A nonce must never be
/// reused with the same key: draw a fresh one per resource ([`crate::random::aead_nonce`]).
pub fn encrypt_resource(
    apiv3_key: &str,
    nonce: &str,
    associated_data: &str,
    plaintext: &[u8],
) -> Result<String, AeadError> {
    Ok(b64_encode(&seal(
        apiv3_key,
        nonce,
        associated_data,
        plaintext,
    )?))
}

/// Encrypts `plaintext` and returns the raw `ciphertext ‖ tag` (for encrypted files, which
/// travel as bytes). The same rules for the key and nonce as [`encrypt_resource`].
pub fn seal(
    key: &str,
    nonce: &str,
    associated_data: &str,
    plaintext: &[u8],
) -> Result<Vec<u8>, AeadError> {
    let (key, nonce) = key_and_nonce(key, nonce)?;
    let mut in_out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    in_out.extend_from_slice(plaintext);
    key.seal_in_place_append_tag(nonce, Aad::from(associated_data.as_bytes()), &mut in_out)
        .map_err(|_| AeadError::Encrypt)?;
    Ok(in_out)
}

/// Decrypts and authenticates `base64(ciphertext ‖ tag)`.
pub fn decrypt_resource(
    apiv3_key: &str,
    nonce: &str,
    associated_data: &str,
    ciphertext_b64: &str,
) -> Result<Vec<u8>, AeadError> {
    let in_out = b64_decode(ciphertext_b64).ok_or(AeadError::Base64)?;
    open(apiv3_key, nonce, associated_data, in_out)
}

/// Decrypts and authenticates the raw `ciphertext ‖ tag` made by [`seal`].
pub fn open(
    key: &str,
    nonce: &str,
    associated_data: &str,
    mut in_out: Vec<u8>,
) -> Result<Vec<u8>, AeadError> {
    let (key, nonce) = key_and_nonce(key, nonce)?;
    if in_out.len() < TAG_LEN {
        return Err(AeadError::TooShort { len: in_out.len() });
    }
    let len = key
        .open_in_place(nonce, Aad::from(associated_data.as_bytes()), &mut in_out)
        .map_err(|_| AeadError::Decrypt)?
        .len();
    in_out.truncate(len);
    Ok(in_out)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const KEY: &str = "0123456789abcdefghijABCDEFGHIJ01";
    const NONCE: &str = "61f9fcfc45d1";

    #[test]
    fn sealed_bytes_are_the_resource_before_base64_and_open_back() {
        let sealed = seal(KEY, NONCE, "", b"a bill").unwrap();
        assert_eq!(
            b64_encode(&sealed),
            encrypt_resource(KEY, NONCE, "", b"a bill").unwrap()
        );
        assert_eq!(open(KEY, NONCE, "", sealed.clone()).unwrap(), b"a bill");
        let mut altered = sealed;
        altered[0] ^= 1;
        assert_eq!(open(KEY, NONCE, "", altered), Err(AeadError::Decrypt));
    }

    /// AES-256-GCM known answer (NIST GCM test case 13: zero key, zero IV, empty input),
    /// run through the raw primitive to pin down the construction.
    #[test]
    fn gcm_known_answer_for_empty_input() {
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[0u8; 32]).unwrap());
        let nonce = Nonce::try_assume_unique_for_key(&[0u8; 12]).unwrap();
        let mut in_out = Vec::new();
        key.seal_in_place_append_tag(nonce, Aad::empty(), &mut in_out)
            .unwrap();
        assert_eq!(
            crate::encoding::hex_lower(&in_out),
            "530f8afbc74536b9a963b4f1c4cb738b"
        );
    }

    #[test]
    fn round_trip_and_layout() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let ct = encrypt_resource(KEY, NONCE, "certificate", pem.as_bytes()).unwrap();
        let raw = b64_decode(&ct).unwrap();
        assert_eq!(raw.len(), pem.len() + TAG_LEN);
        assert_eq!(
            decrypt_resource(KEY, NONCE, "certificate", &ct).unwrap(),
            pem.as_bytes()
        );
        // Empty associated data and empty plaintext are allowed.
        let ct = encrypt_resource(KEY, NONCE, "", b"").unwrap();
        assert_eq!(b64_decode(&ct).unwrap().len(), TAG_LEN);
        assert_eq!(decrypt_resource(KEY, NONCE, "", &ct).unwrap(), b"");
    }

    #[test]
    fn typed_errors() {
        assert_eq!(
            encrypt_resource("short", NONCE, "", b"x"),
            Err(AeadError::KeyLength { len: 5 })
        );
        assert_eq!(
            encrypt_resource(&format!("{KEY}x"), NONCE, "", b"x"),
            Err(AeadError::KeyLength { len: 33 })
        );
        assert_eq!(
            encrypt_resource(KEY, "123", "", b"x"),
            Err(AeadError::NonceLength { len: 3 })
        );
        // Length is counted in bytes: 4 × 3-byte characters = 12 bytes is accepted.
        assert!(encrypt_resource(KEY, "中文中文", "", b"x").is_ok());
        assert_eq!(
            decrypt_resource(KEY, NONCE, "", "%%%"),
            Err(AeadError::Base64)
        );
        assert_eq!(
            decrypt_resource(KEY, NONCE, "", "AAAA"),
            Err(AeadError::TooShort { len: 3 })
        );
        assert_eq!(
            decrypt_resource(KEY, NONCE, "", &b64_encode(&[0u8; 16])),
            Err(AeadError::Decrypt)
        );
    }

    #[test]
    fn wrong_context_fails() {
        let ct = encrypt_resource(KEY, NONCE, "transaction", b"{\"a\":1}").unwrap();
        assert_eq!(
            decrypt_resource(KEY, NONCE, "refund", &ct),
            Err(AeadError::Decrypt)
        );
        assert_eq!(
            decrypt_resource(KEY, "61f9fcfc45d2", "transaction", &ct),
            Err(AeadError::Decrypt)
        );
        let other_key = "1123456789abcdefghijABCDEFGHIJ01";
        assert_eq!(
            decrypt_resource(other_key, NONCE, "transaction", &ct),
            Err(AeadError::Decrypt)
        );
    }

    proptest! {
        #[test]
        fn round_trip(
            key in "[A-Za-z0-9]{32}",
            nonce in "[A-Za-z0-9]{12}",
            aad in "\\PC{0,20}",
            plaintext in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let ct = encrypt_resource(&key, &nonce, &aad, &plaintext).unwrap();
            prop_assert_eq!(decrypt_resource(&key, &nonce, &aad, &ct).unwrap(), plaintext);
        }

        #[test]
        fn any_bit_flip_is_detected(
            plaintext in proptest::collection::vec(any::<u8>(), 0..100),
            index in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let ct = encrypt_resource(KEY, NONCE, "transaction", &plaintext).unwrap();
            let mut raw = b64_decode(&ct).unwrap();
            let i = index.index(raw.len());
            raw[i] ^= 1 << bit;
            prop_assert_eq!(
                decrypt_resource(KEY, NONCE, "transaction", &b64_encode(&raw)),
                Err(AeadError::Decrypt)
            );
        }
    }
}
