//! The one place that knows how identity's entities are stored: their record kinds, keys
//! and indexes. The kinds keep the names they had when Pay owned these entities
//! (`pay.user`, `pay.app`, `pay.session`), so existing data directories keep their users,
//! apps and sessions.

use aws_lc_rs::digest;
use plaza_kernel::record::{Expect, IndexEntry, RecordStore, RecordWrite};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::IdentityError;

/// Record kinds.
pub mod kind {
    /// An app, by appid.
    pub const APP: &str = "pay.app";
    /// A user, by user id.
    pub const USER: &str = "pay.user";
    /// A session, by the SHA-256 of its token.
    pub const SESSION: &str = "pay.session";
    /// A developer account, by developer id.
    pub const DEVELOPER: &str = "identity.developer";
    /// The developer account a user owns, by user id (one per user).
    pub const DEVELOPER_OF: &str = "identity.developer_of";
    /// A user's phone number, by user id.
    pub const PHONE: &str = "identity.phone";
}

/// Index names.
pub mod index {
    /// Users by creation time.
    pub const CREATED: &str = "created";
}

/// Index value for "by time": fixed width so that text order is time order.
pub fn time_value(unix_ms: i64) -> String {
    format!("{unix_ms:015}")
}

/// The key a session is stored under: the hex SHA-256 of its token.
pub fn token_key(token: &str) -> String {
    digest::digest(&digest::SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A write of `value` under `kind`/`key`.
pub(crate) fn write<T: Serialize>(
    kind: &str,
    key: &str,
    expect: Expect,
    value: &T,
    index: Vec<IndexEntry>,
) -> Result<RecordWrite, IdentityError> {
    Ok(plaza_kernel::record::encode_json(
        kind, key, expect, value, index,
    )?)
}

/// Reads and decodes one record with its version.
pub(crate) async fn load<T: DeserializeOwned>(
    records: &dyn RecordStore,
    kind: &str,
    key: &str,
) -> Result<Option<(T, u64)>, IdentityError> {
    Ok(plaza_kernel::record::load_json(records, kind, key).await?)
}
