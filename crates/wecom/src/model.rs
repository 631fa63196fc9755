//! WeCom's entities as stored (Plaza's own JSON, never sent on the wire).

use plaza_kernel::clock::Timestamp;
use serde::{Deserialize, Serialize};

/// A company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Corp {
    /// `ww` + 16 hex digits.
    pub corpid: String,
    /// Its name (also the root department's).
    pub name: String,
    /// The SHA-256 of the contacts (通讯录) secret.
    pub contacts_secret_sha256: String,
    /// The next department id handed out when a create names none.
    pub next_department_id: u32,
    /// The next app's agentid.
    pub next_agentid: u32,
    /// When it was made.
    pub created_at: Timestamp,
}

/// A self-built app of a corp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorpApp {
    /// Its corp.
    pub corpid: String,
    /// Its id in the corp (from 1000002, as WeCom numbers them).
    pub agentid: u32,
    /// Its name.
    pub name: String,
    /// The SHA-256 of its secret.
    pub secret_sha256: String,
    /// Departments whose members (and sub-departments') it reaches.
    pub visible_departments: Vec<u32>,
    /// Members it reaches beyond those departments.
    pub visible_users: Vec<String>,
    /// When it was made.
    pub created_at: Timestamp,
}

impl CorpApp {
    /// Whether its visible range is the whole corp (what appchat needs).
    pub fn sees_whole_corp(&self) -> bool {
        self.visible_departments.contains(&ROOT_DEPARTMENT)
    }
}

/// Which secret a token was issued for: the contacts secret or an app's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// The contacts (通讯录同步) secret: the directory, read and write.
    Contacts,
    /// An app's secret: the directory within its visible range (read), its messages,
    /// appchat.
    Agent(u32),
}

impl Scope {
    /// `contacts` or `agent:<id>`, for keys.
    pub fn key(self) -> String {
        match self {
            Self::Contacts => "contacts".to_owned(),
            Self::Agent(agentid) => format!("agent:{agentid}"),
        }
    }
}

/// An issued access token, stored by the SHA-256 of its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    /// The corp.
    pub corpid: String,
    /// The secret it was issued for.
    pub scope: Scope,
    /// When it ends.
    pub expires_at: Timestamp,
}

/// The current token of a corp's secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSlot {
    /// The nonce the current token's text is derived from.
    pub nonce: Option<String>,
    /// When the current token ends.
    pub expires_at: Option<Timestamp>,
}

/// A department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    /// The corp.
    pub corpid: String,
    /// Its id; the root is 1.
    pub id: u32,
    /// 1–32 characters.
    pub name: String,
    /// Its English name.
    #[serde(default)]
    pub name_en: String,
    /// Its parent (0 for the root).
    pub parentid: u32,
    /// Its order among siblings (larger first in WeCom's clients).
    pub order: u32,
    /// Removed (kept so its id is never reused).
    #[serde(default)]
    pub deleted: bool,
}

/// A member's status, as `user/get` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberStatus {
    /// 1: linked to a Plaza user and enabled.
    Active,
    /// 2: disabled by the corp.
    Disabled,
    /// 4: not yet linked (the invitation is not accepted).
    Invited,
    /// 5: left the corp (deleted).
    Left,
}

impl MemberStatus {
    /// WeCom's number.
    pub fn code(self) -> u8 {
        match self {
            Self::Active => 1,
            Self::Disabled => 2,
            Self::Invited => 4,
            Self::Left => 5,
        }
    }
}

/// A member (employee) of a corp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// The corp.
    pub corpid: String,
    /// As given at creation (matched case-insensitively).
    pub userid: String,
    /// Their name.
    pub name: String,
    /// Their departments (at least one).
    pub department: Vec<u32>,
    /// Their order in each department.
    #[serde(default)]
    pub order: Vec<u32>,
    /// Whether they lead each department (0/1).
    #[serde(default)]
    pub is_leader_in_dept: Vec<u8>,
    /// Their main department.
    pub main_department: u32,
    /// Their position.
    #[serde(default)]
    pub position: String,
    /// Mobile number.
    #[serde(default)]
    pub mobile: String,
    /// Email address.
    #[serde(default)]
    pub email: String,
    /// Alias.
    #[serde(default)]
    pub alias: String,
    /// 0 unset, 1 male, 2 female.
    #[serde(default)]
    pub gender: u8,
    /// Landline.
    #[serde(default)]
    pub telephone: String,
    /// Address.
    #[serde(default)]
    pub address: String,
    /// Whether the corp enabled them.
    pub enabled: bool,
    /// The Plaza user who accepted the invitation.
    #[serde(default)]
    pub user_id: Option<String>,
    /// The invitation's code, while unaccepted.
    #[serde(default)]
    pub invitation: Option<String>,
    /// Left the corp (deleted through the API or the console).
    #[serde(default)]
    pub left_at: Option<Timestamp>,
    /// When they were added.
    pub created_at: Timestamp,
}

impl Member {
    /// A new member of `corpid` in no department yet, enabled, not linked.
    pub fn new(corpid: &str, userid: &str, name: String, now: Timestamp) -> Self {
        Self {
            corpid: corpid.to_owned(),
            userid: userid.to_owned(),
            name,
            department: Vec::new(),
            order: Vec::new(),
            is_leader_in_dept: Vec::new(),
            main_department: 0,
            position: String::new(),
            mobile: String::new(),
            email: String::new(),
            alias: String::new(),
            gender: 0,
            telephone: String::new(),
            address: String::new(),
            enabled: true,
            user_id: None,
            invitation: None,
            left_at: None,
            created_at: now,
        }
    }

    /// Their status.
    pub fn status(&self) -> MemberStatus {
        if self.left_at.is_some() {
            MemberStatus::Left
        } else if !self.enabled {
            MemberStatus::Disabled
        } else if self.user_id.is_none() {
            MemberStatus::Invited
        } else {
            MemberStatus::Active
        }
    }
}

/// An app message as sent: its content and who received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppMessage {
    /// The corp.
    pub corpid: String,
    /// Its id.
    pub msgid: String,
    /// The sending app.
    pub agentid: u32,
    /// `text`, `markdown`, `textcard` or `news`.
    pub msgtype: String,
    /// The content, in the type's shape.
    pub content: serde_json::Value,
    /// The members it was delivered to (their userids as stored).
    pub recipients: Vec<String>,
    /// When it was sent.
    pub sent_at: Timestamp,
}

/// An internal group chat of members (appchat).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppChat {
    /// The corp.
    pub corpid: String,
    /// Its id.
    pub chatid: String,
    /// Its name.
    pub name: String,
    /// Its owner (a member).
    pub owner: String,
    /// Its members, in joining order.
    pub userlist: Vec<String>,
    /// When it was made.
    pub created_at: Timestamp,
}

/// A message posted in a conversation (an appchat today; customer chats next), in its
/// order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The conversation.
    pub conversation: String,
    /// Its place in the conversation, from 1.
    pub seq: u64,
    /// Who sent it: a member's userid, or `agent:<id>` for an app.
    pub sender: String,
    /// `text`, `markdown`, `textcard`, `news`, `image` or `card`.
    pub msgtype: String,
    /// The content, in the type's shape.
    pub content: serde_json::Value,
    /// When it was stored.
    pub sent_at: Timestamp,
}

/// A conversation's counter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    /// The last sequence number handed out.
    pub last_seq: u64,
}

/// The root department's id.
pub const ROOT_DEPARTMENT: u32 = 1;

/// What a secret opens: stored by the secret's SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretGrant {
    /// The corp.
    pub corpid: String,
    /// What it opens there.
    pub scope: Scope,
    /// Replaced by a reset: opens nothing any more.
    #[serde(default)]
    pub revoked: bool,
}

/// Recipients that were not valid, as `message/send` answers them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invalid {
    /// Userids, lower-cased, `|`-joined.
    pub invaliduser: String,
    /// Department ids, `|`-joined.
    pub invalidparty: String,
    /// Tag ids, `|`-joined.
    pub invalidtag: String,
}
