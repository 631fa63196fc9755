//! The object-store port: immutable blobs by content address (the lower-case hex
//! SHA-256 of their bytes), for what is too large for a record — mini-program packages
//! today, media next. A local folder implements it today (`plaza-store`); an
//! S3-compatible bucket can later, behind the same trait.
//!
//! Callers compute the key; a store may refuse a key that is not 64 lower-case hex
//! digits. `put` returns only once the blob is durable, so a record naming it can be
//! committed after; a blob whose record never commits is harmless garbage.

use crate::BoxFuture;

/// Why the object store failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// The key is not a content address.
    #[error("not a content address: {key}")]
    BadKey {
        /// The key given.
        key: String,
    },
    /// The store failed.
    #[error("the object store is unavailable: {reason}")]
    Unavailable {
        /// What went wrong, for the log.
        reason: String,
    },
}

/// Immutable blobs by content address.
pub trait ObjectStore: Send + Sync {
    /// Stores `bytes` under `key` (their SHA-256 in hex) durably; storing a key that
    /// exists changes nothing.
    fn put(&self, key: String, bytes: Vec<u8>) -> BoxFuture<'_, Result<(), ObjectError>>;
    /// The blob under `key`, if any.
    fn get(&self, key: String) -> BoxFuture<'_, Result<Option<Vec<u8>>, ObjectError>>;
}

/// Whether `key` is a content address: 64 lower-case hex digits.
pub fn is_content_address(key: &str) -> bool {
    key.len() == 64
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
