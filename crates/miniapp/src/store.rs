//! The one place that knows how Mini Programs' entities are stored: their record kinds,
//! keys and indexes, all under the `miniapp.` prefix.

use plaza_kernel::record::{Expect, IndexEntry, IndexRange, RecordStore, RecordWrite};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::MiniAppError;

/// Record kinds.
pub mod kind {
    /// A mini program, by appid.
    pub const APP: &str = "miniapp.app";
    /// An access token, by the SHA-256 of its text.
    pub const TOKEN: &str = "miniapp.token";
    /// The current token and quotas of an app, by `appid/token` or `appid/stable`.
    pub const TOKEN_SLOT: &str = "miniapp.token_slot";
    /// A login session, by `appid/openid`.
    pub const SESSION: &str = "miniapp.session";
    /// An exchanged login code, by the code's id.
    pub const SPENT_CODE: &str = "miniapp.spent_code";
    /// A subscribe-message template, by `priTmplId`.
    pub const TEMPLATE: &str = "miniapp.template";
    /// A user's remaining consent, by `appid/user_id/priTmplId`.
    pub const CONSENT: &str = "miniapp.consent";
    /// The user behind an openid, by `appid/openid` (written when the user consents).
    pub const OPENID: &str = "miniapp.openid";
    /// A service notification, by msgid.
    pub const MESSAGE: &str = "miniapp.message";
    /// A code version, by `appid/version` (eight digits).
    pub const VERSION: &str = "miniapp.version";
    /// An app's code life cycle, by appid.
    pub const CODE_STATE: &str = "miniapp.code_state";
    /// A stored value of `wx.setStorage`, by `appid/user_id/key`.
    pub const STORAGE: &str = "miniapp.storage";
    /// A user's storage use in an app, by `appid/user_id`.
    pub const STORAGE_USAGE: &str = "miniapp.storage_usage";
    /// An app's visits on a day, by `appid/day`.
    pub const VISITS: &str = "miniapp.visits";
    /// A user seen: by `appid/day/user_id` (that day) and `appid/user_id` (ever).
    pub const VISITOR_DAY: &str = "miniapp.visitor";
    /// How many users ever opened an app, by appid.
    pub const VISITORS: &str = "miniapp.visitors";
    /// The operator's word list for content security (one record).
    pub const WORD_LIST: &str = "miniapp.word_list";
    /// An ad campaign, by id.
    pub const CAMPAIGN: &str = "miniapp.campaign";
    /// An ad slot, by id.
    pub const AD_SLOT: &str = "miniapp.ad_slot";
    /// A counted ad event, by `serve_id/view` or `serve_id/click`.
    pub const AD_EVENT: &str = "miniapp.ad_event";
    /// A campaign's events in an app in a month, by `campaign/appid/yyyymm`.
    pub const AD_TALLY: &str = "miniapp.ad_tally";
    /// An app's ad figures on a day, by `appid/day`.
    pub const AD_DAY: &str = "miniapp.ad_day";
    /// An app's month paid out, by `appid/yyyymm`.
    pub const AD_PAYOUT: &str = "miniapp.ad_payout";
}

/// Index names.
pub mod index {
    /// A user's first open of an app (the ever marker), by `user_id`.
    pub const VISITOR: &str = "visitor";
    /// Apps by developer account: `developer_id/created`.
    pub const DEVELOPER: &str = "developer";
    /// Apps by creation time.
    pub const CREATED: &str = "created";
    /// Templates by app: `appid/created`.
    pub const APP: &str = "app";
    /// Messages by receiver: `user_id/sent`.
    pub const RECEIVER: &str = "receiver";
    /// Versions by app: `appid/version`.
    pub const VERSIONS: &str = "versions";
    /// Apps waiting for review: `submitted/appid`, present only while auditing.
    pub const AUDITING: &str = "auditing";
    /// Visit days by app: `appid/day`.
    pub const VISIT_DAYS: &str = "visit_days";
    /// Campaigns by advertiser: `mchid/created`.
    pub const ADVERTISER: &str = "advertiser";
    /// Active campaigns: `created`.
    pub const ACTIVE: &str = "active";
    /// By month: `yyyymm/appid[/campaign]`.
    pub const MONTH: &str = "month";
}

/// Index value for "by time": fixed width so that text order is time order.
pub fn time_value(unix_ms: i64) -> String {
    format!("{unix_ms:015}")
}

/// A write of `value` under `kind`/`key`.
pub(crate) fn write<T: Serialize>(
    kind: &str,
    key: &str,
    expect: Expect,
    value: &T,
    index: Vec<IndexEntry>,
) -> Result<RecordWrite, MiniAppError> {
    Ok(plaza_kernel::record::encode_json(
        kind, key, expect, value, index,
    )?)
}

/// Reads and decodes one record with its version.
pub(crate) async fn load<T: DeserializeOwned>(
    records: &dyn RecordStore,
    kind: &str,
    key: &str,
) -> Result<Option<(T, u64)>, MiniAppError> {
    Ok(plaza_kernel::record::load_json(records, kind, key).await?)
}

/// The records of `kind` whose index `name` lies in `from..=to`, decoded, at most
/// `rows_max`.
pub(crate) async fn range<T: DeserializeOwned>(
    records: &dyn RecordStore,
    kind: &str,
    name: &str,
    (from, to): (String, String),
    rows_max: usize,
    newest_first: bool,
) -> Result<Vec<T>, MiniAppError> {
    let range = IndexRange {
        kind: kind.to_owned(),
        name: name.to_owned(),
        from,
        to,
        after: None,
        rows_max,
        newest_first,
    };
    Ok(plaza_kernel::record::range_json(records, range).await?)
}

/// Lower-case hex SHA-256 of `text`: how secrets and tokens are kept.
pub fn sha256_hex(text: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
