//! Identity's entities, as stored (each is one record; see [`crate::records`]).

use plaza_kernel::clock::Timestamp;
use serde::{Deserialize, Serialize};

/// An app people know a business by: an official account, a mini program or a mobile app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    /// `wx` + 16 hex digits.
    pub appid: String,
    /// Its display name.
    pub name: String,
    /// When it was registered.
    pub created_at: Timestamp,
    /// The developer account (开放平台账号) it is bound to, which scopes unionids; apps
    /// of one account see the same unionid for a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub developer_id: Option<String>,
}

/// A developer account (WeChat's open-platform account): the scope of unionids, owned
/// by one user. Every app bound to it sees the same unionid for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Developer {
    /// `d` + 16 hex digits.
    pub developer_id: String,
    /// The user who owns the account.
    pub owner_user_id: String,
    /// When the user became a developer.
    pub created_at: Timestamp,
}

/// A person using Plaza. Systems keep what is theirs about a person in their own
/// records keyed by [`User::user_id`] (Pay: the wallet and payment password).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Plaza's internal id, `u` + 16 hex digits. Apps never see it: they see openids.
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// When the user was created.
    pub created_at: Timestamp,
}

/// A signed-in session of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Whose.
    pub user_id: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last used (kept to [`plaza_kernel::limits::SESSION_TOUCH_MS`]);
    /// absent: not since it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<Timestamp>,
    /// When it was signed out; a revoked session never works again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<Timestamp>,
}

impl Session {
    /// Whether the session still works at `now`: not revoked, used within
    /// [`plaza_kernel::limits::SESSION_IDLE_MS`], younger than
    /// [`plaza_kernel::limits::SESSION_AGE_MAX_MS`].
    pub fn live_at(&self, now: Timestamp) -> bool {
        let last_seen = self.last_seen_at.unwrap_or(self.created_at);
        self.revoked_at.is_none()
            && now.unix_ms() - self.created_at.unix_ms() < plaza_kernel::limits::SESSION_AGE_MAX_MS
            && now.unix_ms() - last_seen.unix_ms() < plaza_kernel::limits::SESSION_IDLE_MS
    }

    /// Whether a request at `now` should write the session's last use again.
    pub fn needs_touch_at(&self, now: Timestamp) -> bool {
        let last_seen = self.last_seen_at.unwrap_or(self.created_at);
        now.unix_ms() - last_seen.unix_ms() >= plaza_kernel::limits::SESSION_TOUCH_MS
    }
}
