//! Domain records: versioned documents that a domain keeps beside the ledger.
//!
//! A domain (payments, coupons, …) stores its entities as records: a kind, a key unique
//! within the kind, a body (text the domain encodes and decodes; the store never looks
//! inside) and a version the store bumps on every write. Records are written in the same
//! unit of work as the transfers, events and jobs a change causes, so an order's state
//! and the money it moved can never disagree. A write may name the version it expects,
//! which makes read–decide–write safe under concurrency without locks: if someone else
//! wrote first, the whole unit of work is refused and the caller reads again.
//!
//! Each record may carry index entries, `(name, value)` pairs, so that it can be found
//! by something other than its key (an order by its transaction id, a merchant's orders
//! by day). Index values compare byte-wise, so a range over `"<mchid>|2026-11-26"` to
//! `"<mchid>|2026-11-27"` finds a merchant's orders of one day.

use crate::BoxFuture;
use crate::clock::Timestamp;

/// A record to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordWrite {
    /// What the record is, e.g. `pay.order`.
    pub kind: String,
    /// Its key, unique within the kind.
    pub key: String,
    /// The version the writer read, or [`Expect::Absent`] to create, or [`Expect::Any`].
    pub expect: Expect,
    /// The new body.
    pub body: String,
    /// The index entries that find this record. They replace the record's earlier ones.
    pub index: Vec<IndexEntry>,
}

/// What a write expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Write whatever is there.
    Any,
    /// The record must not exist yet.
    Absent,
    /// The record must be at this version.
    Version(u64),
}

/// One way to find a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// The index, e.g. `transaction_id`.
    pub name: String,
    /// The value this record has in it.
    pub value: String,
}

impl IndexEntry {
    /// An entry of index `name` with `value`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// What it is.
    pub kind: String,
    /// Its key.
    pub key: String,
    /// Starts at 1 and grows by one on every write.
    pub version: u64,
    /// Its body.
    pub body: String,
    /// When it was last written, by the injected clock.
    pub updated_at: Timestamp,
}

/// A query over one index: records whose value lies in `[from, to)`, in value then key
/// order (or the reverse with `newest_first`), starting after `after` when paging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexRange {
    /// The records' kind.
    pub kind: String,
    /// The index.
    pub name: String,
    /// The smallest value, included.
    pub from: String,
    /// The first value past the range, excluded.
    pub to: String,
    /// Where the previous page ended: its last (value, key).
    pub after: Option<(String, String)>,
    /// Rows at most.
    pub rows_max: usize,
    /// Largest values first (for "latest" listings over time-valued indexes).
    pub newest_first: bool,
}

/// A record with the index value it was found under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedRecord {
    /// The value in the index.
    pub value: String,
    /// The record.
    pub record: Record,
}

/// Why reading records failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The store failed.
    #[error("the record store failed: {reason}")]
    Unavailable {
        /// What went wrong, for the log.
        reason: String,
    },
}

/// Reading records. Writing goes through the ledger's unit of work.
pub trait RecordStore: Send + Sync {
    /// One record by kind and key.
    ///
    /// # Errors
    ///
    /// [`RecordError::Unavailable`] when the store fails.
    fn record(&self, kind: &str, key: &str) -> BoxFuture<'_, Result<Option<Record>, RecordError>>;

    /// The records whose index `name` holds exactly `value`, in key order, at most
    /// `rows_max`.
    ///
    /// # Errors
    ///
    /// [`RecordError::Unavailable`] when the store fails.
    fn find(
        &self,
        kind: &str,
        name: &str,
        value: &str,
        rows_max: usize,
    ) -> BoxFuture<'_, Result<Vec<Record>, RecordError>>;

    /// The records in a range of an index.
    ///
    /// # Errors
    ///
    /// [`RecordError::Unavailable`] when the store fails.
    fn range(&self, range: IndexRange) -> BoxFuture<'_, Result<Vec<IndexedRecord>, RecordError>>;
}

/// A record body that could not be encoded or decoded as JSON: a programming error or a
/// damaged store, reported as the store being unavailable by the domains.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {kind}/{key} {problem}")]
pub struct RecordCodecError {
    /// The record's kind.
    pub kind: String,
    /// Its key.
    pub key: String,
    /// What went wrong.
    pub problem: String,
}

/// Decodes a record's JSON body.
///
/// # Errors
///
/// [`RecordCodecError`] when the body is not `T`'s JSON.
pub fn decode_json<T: serde::de::DeserializeOwned>(record: &Record) -> Result<T, RecordCodecError> {
    serde_json::from_str(&record.body).map_err(|error| RecordCodecError {
        kind: record.kind.clone(),
        key: record.key.clone(),
        problem: format!("is unreadable: {error}"),
    })
}

/// A write of `value` as JSON under `kind`/`key`.
///
/// # Errors
///
/// [`RecordCodecError`] when `value` cannot be encoded.
pub fn encode_json<T: serde::Serialize>(
    kind: &str,
    key: &str,
    expect: Expect,
    value: &T,
    index: Vec<IndexEntry>,
) -> Result<RecordWrite, RecordCodecError> {
    let body = serde_json::to_string(value).map_err(|error| RecordCodecError {
        kind: kind.to_owned(),
        key: key.to_owned(),
        problem: format!("cannot be encoded: {error}"),
    })?;
    Ok(RecordWrite {
        kind: kind.to_owned(),
        key: key.to_owned(),
        expect,
        body,
        index,
    })
}

/// Why a record could not be read as `T`: the store failed, or its body is not `T`'s JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] RecordError),
    /// The body is unreadable.
    #[error(transparent)]
    Codec(#[from] RecordCodecError),
}

/// One record read and decoded as `T`, with its version.
///
/// # Errors
///
/// [`ReadError`] when the store fails or the body is not `T`'s JSON.
pub async fn load_json<T: serde::de::DeserializeOwned>(
    records: &dyn RecordStore,
    kind: &str,
    key: &str,
) -> Result<Option<(T, u64)>, ReadError> {
    match records.record(kind, key).await? {
        Some(record) => Ok(Some((decode_json(&record)?, record.version))),
        None => Ok(None),
    }
}

/// The records of a range of an index, decoded as `T`, in the range's order.
///
/// # Errors
///
/// [`ReadError`] when the store fails or a body is not `T`'s JSON.
pub async fn range_json<T: serde::de::DeserializeOwned>(
    records: &dyn RecordStore,
    range: IndexRange,
) -> Result<Vec<T>, ReadError> {
    records
        .range(range)
        .await?
        .iter()
        .map(|found| Ok(decode_json(&found.record)?))
        .collect()
}

/// Compares without an early exit, so the time taken does not reveal how much matched
/// (secrets, tokens, signatures).
pub fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}
