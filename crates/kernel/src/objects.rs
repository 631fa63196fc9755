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

/// Part of a blob: its total length and the bytes asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobPart {
    /// The whole blob's length.
    pub total: u64,
    /// The bytes read.
    pub bytes: Vec<u8>,
}

/// Immutable blobs by content address.
pub trait ObjectStore: Send + Sync {
    /// Stores `bytes` under `key` (their SHA-256 in hex) durably; storing a key that
    /// exists changes nothing.
    fn put(&self, key: String, bytes: Vec<u8>) -> BoxFuture<'_, Result<(), ObjectError>>;
    /// The blob under `key`, if any.
    fn get(&self, key: String) -> BoxFuture<'_, Result<Option<Vec<u8>>, ObjectError>>;
    /// Part of the blob under `key`, if any: its total length and up to `len_max` bytes
    /// from `start` (none when `start` is at or past its end). Streaming a large video
    /// reads it this way, a range at a time.
    fn get_range(
        &self,
        key: String,
        start: u64,
        len_max: u64,
    ) -> BoxFuture<'_, Result<Option<BlobPart>, ObjectError>>;
}

/// Whether `key` is a content address: 64 lower-case hex digits.
pub fn is_content_address(key: &str) -> bool {
    key.len() == 64
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
