//! Payment passwords: PBKDF2-HMAC-SHA256 with a per-user salt, the round count kept with
//! each hash so that raising it never locks anyone out.
//!
//! A 6-digit password has a million values, so no hash makes it strong: online guessing
//! is stopped by the lock after a few wrong tries (`PASSWORD_ATTEMPTS_MAX`).
//! The hash is for a leaked database: it makes trying every password for every user cost
//! what OWASP asks of PBKDF2-HMAC-SHA256 today, [`PASSWORD_ROUNDS`] rounds each (about
//! 0.1–0.2 s of one core here). Hashing runs on the blocking pool, never on the
//! runtime's workers.

use std::num::NonZeroU32;

use aws_lc_rs::pbkdf2;

use crate::error::PayError;

/// Rounds of new hashes: OWASP's Password Storage Cheat Sheet figure for
/// PBKDF2-HMAC-SHA256.
pub const PASSWORD_ROUNDS: u32 = 600_000;

/// Rounds of hashes written before the count was stored with them.
pub const LEGACY_PASSWORD_ROUNDS: u32 = 10_000;

/// Bytes of a hash.
const HASH_BYTES: usize = 32;

fn rounds_of(rounds: u32) -> NonZeroU32 {
    NonZeroU32::new(rounds).unwrap_or(NonZeroU32::MIN)
}

/// The hex PBKDF2 hash of `password` under `salt`.
pub fn hash(password: &str, salt: &[u8], rounds: u32) -> String {
    let mut out = [0_u8; HASH_BYTES];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        rounds_of(rounds),
        salt,
        password.as_bytes(),
        &mut out,
    );
    crate::ids::to_hex(&out)
}

/// Whether `password` matches the hex hash `expected` (compared in constant time).
pub fn verify(password: &str, salt: &[u8], rounds: u32, expected: &str) -> bool {
    // A shorter hash would be a prefix of PBKDF2's longer output and still match.
    let Some(expected) = crate::ids::from_hex(expected).filter(|bytes| bytes.len() == HASH_BYTES)
    else {
        return false;
    };
    pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA256,
        rounds_of(rounds),
        salt,
        password.as_bytes(),
        &expected,
    )
    .is_ok()
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PayError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| PayError::Unavailable {
            reason: format!("password hashing stopped: {error}"),
        })
}

/// [`hash`] on the blocking pool, at [`PASSWORD_ROUNDS`].
///
/// # Errors
///
/// [`PayError::Unavailable`] if the blocking task dies.
pub async fn hash_off_runtime(password: &str, salt: &str) -> Result<String, PayError> {
    let (password, salt) = (password.to_owned(), salt.to_owned());
    blocking(move || hash(&password, salt.as_bytes(), PASSWORD_ROUNDS)).await
}

/// [`verify`] on the blocking pool.
///
/// # Errors
///
/// [`PayError::Unavailable`] if the blocking task dies.
pub async fn verify_off_runtime(
    password: &str,
    salt: &str,
    rounds: u32,
    expected: &str,
) -> Result<bool, PayError> {
    let (password, salt, expected) = (password.to_owned(), salt.to_owned(), expected.to_owned());
    blocking(move || verify(&password, salt.as_bytes(), rounds, &expected)).await
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

    #[test]
    fn hashes_depend_on_password_salt_and_rounds() {
        let a = hash("123456", b"salt-a", 1_000);
        assert_eq!(a.len(), 64);
        assert_eq!(a, hash("123456", b"salt-a", 1_000));
        assert_ne!(a, hash("123456", b"salt-b", 1_000));
        assert_ne!(a, hash("654321", b"salt-a", 1_000));
        assert_ne!(a, hash("123456", b"salt-a", 1_001));
        assert!(verify("123456", b"salt-a", 1_000, &a));
        assert!(!verify("123457", b"salt-a", 1_000, &a));
        assert!(!verify("123456", b"salt-a", 1_000, "not hex"));
        assert!(!verify("123456", b"salt-a", 1_000, &a[..62]));
    }

    #[test]
    fn a_hash_written_before_rounds_were_stored_still_verifies() {
        // What Plaza stored for the password 123456 under the salt "0123…", with the
        // 10,000 rounds it used then (computed once with Python's hashlib.pbkdf2_hmac).
        let salt = "0123456789abcdef0123456789abcdef";
        let stored = "adf5ce0c795870fafc1a93dcd95e66f146a9000ff2143103936c990c3b983347";
        assert_eq!(
            hash("123456", salt.as_bytes(), LEGACY_PASSWORD_ROUNDS),
            stored
        );
        assert!(verify(
            "123456",
            salt.as_bytes(),
            LEGACY_PASSWORD_ROUNDS,
            stored
        ));
        assert!(!verify("123456", salt.as_bytes(), PASSWORD_ROUNDS, stored));
    }

    #[tokio::test]
    async fn new_hashes_use_owasps_rounds_off_the_runtime() {
        let hashed = hash_off_runtime("123456", "salt").await.unwrap();
        // Python: hashlib.pbkdf2_hmac("sha256", b"123456", b"salt", 600000).hex()
        assert_eq!(
            hashed,
            "81fd5d0cda3bc4743b596e72781a258a829f60191aef4cd068b8bab1aca3b29e"
        );
        assert!(
            verify_off_runtime("123456", "salt", PASSWORD_ROUNDS, &hashed)
                .await
                .unwrap()
        );
    }
}
