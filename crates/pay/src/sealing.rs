//! Merchants' symmetric keys (the APIv3 key that encrypts notifications, the APIv2 key
//! that signs XML) are kept sealed in their records: AES-256-GCM under a key that lives
//! outside the database (`secrets.key` in the data directory), with a fresh random nonce
//! per seal and the merchant and field as associated data, so a sealed value cannot be
//! moved to another merchant or field. A copy of the database alone reveals no key.
//!
//! A sealed value is `sealed1:` and the hex of nonce, ciphertext and tag. A value without
//! that prefix is a key written before sealing existed: it is read as it is, and
//! `PayService::seal_stored_keys` seals such records at start.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use crate::error::PayError;
use crate::ids::{from_hex, to_hex};

/// The prefix of a sealed value.
const SEALED_PREFIX: &str = "sealed1:";

/// Bytes of the sealing key.
pub const SEALING_KEY_BYTES: usize = 32;

/// Seals and opens merchants' keys.
pub struct KeySealer {
    key: LessSafeKey,
}

impl std::fmt::Debug for KeySealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeySealer(..)")
    }
}

fn broken(what: &str) -> PayError {
    PayError::Unavailable {
        reason: format!("a sealed merchant key {what}; is secrets.key the one it was sealed with?"),
    }
}

impl KeySealer {
    /// A sealer under a key given as 64 hex digits (the `secrets.key` file).
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`] when the text is not 32 bytes of hex.
    pub fn from_hex(text: &str) -> Result<Self, PayError> {
        let bytes = from_hex(text.trim())
            .filter(|bytes| bytes.len() == SEALING_KEY_BYTES)
            .ok_or_else(|| {
                PayError::invalid(
                    "secrets.key",
                    format!("must hold {SEALING_KEY_BYTES} bytes as hex digits"),
                )
            })?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| PayError::invalid("secrets.key", "is not an AES-256 key"))?;
        Ok(Self {
            key: LessSafeKey::new(key),
        })
    }

    /// Whether a stored value is sealed (an empty value, "no key", needs no sealing).
    pub fn is_sealed(stored: &str) -> bool {
        stored.is_empty() || stored.starts_with(SEALED_PREFIX)
    }

    /// Seals `plaintext` for the record field `context` names.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] if sealing fails (it does not for valid keys).
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<String, PayError> {
        if plaintext.is_empty() {
            return Ok(String::new());
        }
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let mut sealed = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(context.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| PayError::Unavailable {
                reason: "sealing a merchant key failed".to_owned(),
            })?;
        Ok(format!(
            "{SEALED_PREFIX}{}{}",
            to_hex(&nonce_bytes),
            to_hex(&sealed)
        ))
    }

    /// Opens a stored value for the field `context` names; a value written before
    /// sealing (no prefix) comes back as it is.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] for a sealed value that does not open under this key and
    /// context (a different `secrets.key`, or a value moved between records).
    pub fn open(&self, stored: &str, context: &str) -> Result<String, PayError> {
        let Some(sealed) = stored.strip_prefix(SEALED_PREFIX) else {
            return Ok(stored.to_owned());
        };
        let bytes = from_hex(sealed).ok_or_else(|| broken("is not hex"))?;
        if bytes.len() < NONCE_LEN {
            return Err(broken("is too short"));
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| broken("has no nonce"))?;
        let mut in_out = ciphertext.to_vec();
        let plaintext = self
            .key
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut in_out)
            .map_err(|_| broken("does not open"))?;
        String::from_utf8(plaintext.to_vec()).map_err(|_| broken("is not text"))
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn sealed_keys_open_only_under_their_key_and_field() {
        let sealer = KeySealer::from_hex(KEY).unwrap();
        let apiv3_key = "abcdefghijklmnopqrstuvwxyz012345";
        let sealed = sealer.seal(apiv3_key, "1900000001|apiv3_key").unwrap();
        assert!(KeySealer::is_sealed(&sealed));
        assert!(!sealed.contains(apiv3_key));
        assert_ne!(
            sealed,
            sealer.seal(apiv3_key, "1900000001|apiv3_key").unwrap(),
            "a fresh nonce each time"
        );
        assert_eq!(
            sealer.open(&sealed, "1900000001|apiv3_key").unwrap(),
            apiv3_key
        );
        assert!(sealer.open(&sealed, "1900000002|apiv3_key").is_err());
        assert!(sealer.open(&sealed, "1900000001|apiv2_key").is_err());
        let other = KeySealer::from_hex(&KEY.replace("00", "ff")).unwrap();
        assert!(other.open(&sealed, "1900000001|apiv3_key").is_err());
    }

    #[test]
    fn keys_written_before_sealing_read_as_they_are() {
        let sealer = KeySealer::from_hex(KEY).unwrap();
        assert!(!KeySealer::is_sealed("abcdefghijklmnopqrstuvwxyz012345"));
        assert_eq!(sealer.open("plain-key", "x").unwrap(), "plain-key");
        assert!(KeySealer::is_sealed(""));
        assert_eq!(sealer.seal("", "x").unwrap(), "");
        assert!(KeySealer::from_hex("abcd").is_err());
        assert!(KeySealer::from_hex(&"zz".repeat(32)).is_err());
    }
}
