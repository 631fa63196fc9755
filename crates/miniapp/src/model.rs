//! Mini Programs' entities, as stored (each is one record; see [`crate::store`]).

use plaza_kernel::clock::Timestamp;
use serde::{Deserialize, Serialize};

/// A mini program: what its developer set and its AppSecret's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MiniApp {
    /// `wx` + 16 hex digits; also registered as an app in identity (openids).
    pub appid: String,
    /// The developer account it belongs to (the unionid scope).
    pub developer_id: String,
    /// Its name, shown in Discover and on the container's title bar.
    pub name: String,
    /// A short mark for its tile: an emoji or one or two characters.
    pub icon: String,
    /// Its service category (`政务民生`, `生活服务`, …).
    pub category: String,
    /// What it does, in a sentence or two.
    pub description: String,
    /// Words people search to find its services (Search reads them).
    pub service_keywords: Vec<String>,
    /// The page each service keyword opens (`pages/book/book?service=核酸检测`), for
    /// Search's intent cards; a keyword without one opens the home page.
    #[serde(default)]
    pub service_pages: std::collections::BTreeMap<String, String>,
    /// Origins `wx.request` may reach (`https://api.example.com`).
    pub request_domains: Vec<String>,
    /// Users who may run its trial version.
    pub testers: Vec<String>,
    /// The Pay merchant its JSAPI payments go to.
    pub mchid: Option<String>,
    /// Configuration handed to the running package (`wx.getExtConfigSync()`), such as
    /// its back end's address; a JSON object.
    #[serde(default)]
    pub ext_config: serde_json::Map<String, serde_json::Value>,
    /// Lower-case hex SHA-256 of the AppSecret: the secret itself is shown once, at
    /// creation and at each reset, and never stored.
    pub secret_sha256: String,
    /// When the current AppSecret was made.
    pub secret_made_at: Timestamp,
    /// When the mini program was created.
    pub created_at: Timestamp,
}

/// An access token of the server API, stored by the SHA-256 of its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    /// The app it acts for.
    pub appid: String,
    /// From `/cgi-bin/stable_token` (else `/cgi-bin/token`): the two never replace each
    /// other's tokens.
    pub stable: bool,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// When it stops working: two hours after issue, or five minutes after a newer
    /// token of the same kind replaced it, whichever is sooner.
    pub expires_at: Timestamp,
}

/// Per app and token kind: the current token and the day's counts for the quotas.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSlot {
    /// The key (SHA-256) of the newest token of this kind.
    pub current: Option<String>,
    /// The nonce the newest token is made from (with this system's secret).
    pub current_nonce: Option<String>,
    /// When the newest token ends (as issued).
    pub current_expires_at: Option<Timestamp>,
    /// The China calendar day the counts are for (days since 1970-01-01, UTC+8).
    pub day: i64,
    /// Tokens issued that day.
    pub issued_on_day: u32,
    /// Forced refreshes that day (stable tokens).
    pub forced_on_day: u32,
    /// The last forced refresh.
    pub last_forced_at: Option<Timestamp>,
}

/// A user's login session in a mini program: what `jscode2session` last handed the
/// back end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginSession {
    /// Whose.
    pub user_id: String,
    /// Base64 of 16 random bytes: the AES-128 key of the user's encrypted data.
    pub session_key: String,
    /// When the code was exchanged.
    pub created_at: Timestamp,
}

/// A login code that was exchanged, kept so that it never works again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpentCode {
    /// The app it was for.
    pub appid: String,
    /// When it was exchanged.
    pub spent_at: Timestamp,
}

/// A subscribe-message template an app took from the library (its private copy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    /// Its id, `priTmplId` on the wire.
    pub pri_tmpl_id: String,
    /// The app it belongs to.
    pub appid: String,
    /// The library template it copies.
    pub tid: u32,
    /// Its title.
    pub title: String,
    /// The keywords the app chose, in its order.
    pub keywords: Vec<TemplateKeyword>,
    /// Why the app sends it (`sceneDesc`).
    pub scene_desc: String,
    /// When it was added.
    pub created_at: Timestamp,
    /// When it was deleted: it then takes no consent and sends nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
}

/// One keyword of an app's template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateKeyword {
    /// The data key: rule and kid (`thing1`).
    pub key: String,
    /// What it names.
    pub name: String,
    /// Its value rule.
    pub rule: String,
    /// An example value.
    pub example: String,
}

/// How many more messages of one template a user allows one app to send.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// Each "accept" adds one; each message sent takes one.
    pub remaining: u32,
}

/// A subscribe message as the user received it: a service notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceMessage {
    /// Its id.
    pub msgid: String,
    /// The app that sent it.
    pub appid: String,
    /// The app's name when it was sent.
    pub app_name: String,
    /// Its receiver.
    pub user_id: String,
    /// The template's id.
    pub pri_tmpl_id: String,
    /// The template's title.
    pub title: String,
    /// Keyword names and values, in the template's order.
    pub rows: Vec<(String, String)>,
    /// The page it opens (`pages/booking/detail?id=7`), if any.
    pub page: Option<String>,
    /// Which version opens (`formal`, `trial`, `developer`).
    pub state: String,
    /// When it was sent.
    pub sent_at: Timestamp,
}

/// One file of a code version: its content address in the object store and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageFile {
    /// Lower-case hex SHA-256 of its bytes.
    pub sha256: String,
    /// Its size.
    pub bytes: u64,
}

/// An uploaded code package: a development version of an app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeVersion {
    /// The app.
    pub appid: String,
    /// Its number within the app, from 1.
    pub version: u32,
    /// The developer's version text (`1.0.3`).
    pub user_version: String,
    /// The developer's note.
    pub user_desc: String,
    /// When it was uploaded.
    pub uploaded_at: Timestamp,
    /// The package's compressed size.
    pub size_bytes: u64,
    /// `app.json`'s pages, title and tab bar.
    pub config: crate::packages::AppConfig,
    /// Path → file.
    pub files: std::collections::BTreeMap<String, PackageFile>,
}

/// Where a review stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditStatus {
    /// Waiting for an operator.
    Auditing,
    /// Approved: the developer may release it.
    Approved,
    /// Rejected, with a reason.
    Rejected,
}

/// The version submitted for review and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audit {
    /// The version.
    pub version: u32,
    /// Where it stands.
    pub status: AuditStatus,
    /// The operator's reason (rejections).
    pub reason: Option<String>,
    /// When it was submitted.
    pub submitted_at: Timestamp,
    /// When an operator decided.
    pub decided_at: Option<Timestamp>,
}

/// An app's code life cycle: which version is trial, under review, released.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeState {
    /// The number the next upload gets.
    pub next_version: u32,
    /// The trial version (testers only).
    pub trial: Option<u32>,
    /// The latest review.
    pub audit: Option<Audit>,
    /// The released version: what users run.
    pub release: Option<u32>,
    /// The release before it, for one rollback.
    pub previous_release: Option<u32>,
    /// When the current release happened.
    pub released_at: Option<Timestamp>,
}
