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
    /// Where its callbacks go, once configured.
    #[serde(default)]
    pub callback: Option<CallbackConfig>,
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
    /// Who sent it: a member's userid, a customer's external_userid, or `agent:<id>`
    /// for an app.
    pub sender: String,
    /// Their name when they sent it.
    #[serde(default)]
    pub sender_name: String,
    /// The sender's own id for it, which makes a resend harmless.
    #[serde(default)]
    pub client_id: Option<String>,
    /// `text`, `markdown`, `textcard`, `news`, `image` or `card`.
    pub msgtype: String,
    /// The content, in the type's shape.
    pub content: serde_json::Value,
    /// When it was stored.
    pub sent_at: Timestamp,
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

/// A 「联系我」 way: a QR a Plaza user scans to add a member as a customer contact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactWay {
    /// The corp.
    pub corpid: String,
    /// Its id (32 hex digits, unique across corps).
    pub config_id: String,
    /// 1 one member, 2 several.
    pub kind: u8,
    /// 1 in a mini program, 2 a QR code.
    pub scene: u8,
    /// The mini-program control's style.
    #[serde(default)]
    pub style: Option<i64>,
    /// A note for the corp, up to 30 characters.
    #[serde(default)]
    pub remark: String,
    /// Whether customers are added without the member confirming.
    pub skip_verify: bool,
    /// The corp's channel mark, up to 30 characters, reported with each customer.
    #[serde(default)]
    pub state: String,
    /// The members it adds.
    pub users: Vec<String>,
    /// Departments whose members it adds (kind 2).
    #[serde(default)]
    pub parties: Vec<u32>,
    /// When it was made.
    pub created_at: Timestamp,
    /// Removed.
    #[serde(default)]
    pub deleted: bool,
}

/// A Plaza user as a corp's external contact (customer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalContact {
    /// The corp.
    pub corpid: String,
    /// `wm` + 30 hex digits: stable per corp and person, unlinkable across corps.
    pub external_userid: String,
    /// The Plaza user.
    pub user_id: String,
    /// Their name when they first became the corp's contact.
    pub name: String,
    /// When that was.
    pub created_at: Timestamp,
}

/// A customer handed from one member to another, waiting to complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTransfer {
    /// The member taking over.
    pub takeover: String,
    /// When it was asked.
    pub started_at: Timestamp,
    /// When it completes.
    pub completes_at: Timestamp,
    /// Asked for a member who left (离职继承) rather than one still working.
    pub resigned: bool,
}

/// A member following a customer: the relation `externalcontact/get` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Follow {
    /// The corp.
    pub corpid: String,
    /// The member, as stored.
    pub userid: String,
    /// The customer.
    pub external_userid: String,
    /// The member's remark for the customer.
    #[serde(default)]
    pub remark: String,
    /// The member's description.
    #[serde(default)]
    pub description: String,
    /// The customer's company, as the member noted it.
    #[serde(default)]
    pub remark_corp_name: String,
    /// The customer's phone numbers, as the member noted them.
    #[serde(default)]
    pub remark_mobiles: Vec<String>,
    /// Corp tag ids on the customer.
    #[serde(default)]
    pub tags: Vec<String>,
    /// How the customer was added (1 QR code, 202 a transfer by the corp …).
    pub add_way: u32,
    /// The contact way's `state`.
    #[serde(default)]
    pub state: String,
    /// Who added the relation (the member, or the one handing over).
    pub oper_userid: String,
    /// When it began.
    pub created_at: Timestamp,
    /// When it ended (either side deleted it, or it was handed over).
    #[serde(default)]
    pub ended_at: Option<Timestamp>,
    /// A hand-over in progress.
    #[serde(default)]
    pub transfer: Option<PendingTransfer>,
    /// The last hand-over of this customer from this member, once completed: `(takeover,
    /// when)`.
    #[serde(default)]
    pub handed_to: Option<(String, Timestamp)>,
}

impl Follow {
    /// A new relation of `userid` with a customer, added by the member themselves.
    pub fn new(
        corpid: &str,
        userid: &str,
        external_userid: &str,
        add_way: u32,
        state: &str,
        now: Timestamp,
    ) -> Self {
        Self {
            corpid: corpid.to_owned(),
            userid: userid.to_owned(),
            external_userid: external_userid.to_owned(),
            remark: String::new(),
            description: String::new(),
            remark_corp_name: String::new(),
            remark_mobiles: Vec::new(),
            tags: Vec::new(),
            add_way,
            state: state.to_owned(),
            oper_userid: userid.to_owned(),
            created_at: now,
            ended_at: None,
            transfer: None,
            handed_to: None,
        }
    }
}

/// A corp tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Its id (`et` + hex).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its order in the group.
    pub order: u32,
    /// When it was made.
    pub create_time: Timestamp,
}

/// A group of corp tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagGroup {
    /// The corp.
    pub corpid: String,
    /// Its id (`etg` + hex).
    pub group_id: String,
    /// Its name.
    pub group_name: String,
    /// Its order.
    pub order: u32,
    /// When it was made.
    pub create_time: Timestamp,
    /// Its tags.
    pub tags: Vec<Tag>,
    /// Removed.
    #[serde(default)]
    pub deleted: bool,
}

/// Where a corp's callbacks go (§4.11).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackConfig {
    /// The corp's server.
    pub url: String,
    /// The token signatures are made with.
    pub token: String,
    /// The 43-character AES key.
    pub encoding_aes_key: String,
}

/// An event for the corp's server, kept with its delivery attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackEvent {
    /// The corp.
    pub corpid: String,
    /// Its id.
    pub id: String,
    /// `Event`: `change_external_contact`, `change_external_chat` …
    pub event: String,
    /// `ChangeType`.
    pub change_type: String,
    /// The other elements, in order (`UserID`, `ExternalUserID`, …).
    pub fields: Vec<(String, String)>,
    /// `MsgType`: `event`, or the type of a member's message to an app (`text`).
    #[serde(default = "event_msg_type")]
    pub msg_type: String,
    /// `FromUserName`: `sys` for events, the member's userid for their message.
    #[serde(default = "sys_sender")]
    pub from: String,
    /// The app it concerns (`AgentID`), when one does.
    #[serde(default)]
    pub agentid: Option<u32>,
    /// When it happened.
    pub created_at: Timestamp,
    /// Delivery attempts, oldest first.
    #[serde(default)]
    pub attempts: Vec<CallbackAttempt>,
    /// When the corp's server accepted it.
    #[serde(default)]
    pub delivered_at: Option<Timestamp>,
}

fn event_msg_type() -> String {
    "event".to_owned()
}

fn sys_sender() -> String {
    "sys".to_owned()
}

/// One POST of an event to the corp's server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackAttempt {
    /// When it was sent.
    pub at: Timestamp,
    /// The URL it went to.
    pub url: String,
    /// The HTTP status, if an answer came.
    pub status: Option<u16>,
    /// What went wrong, if it did.
    pub error: Option<String>,
}

/// A member of a customer group: a member of the corp (type 1) or an external user
/// (type 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    /// The member's userid (type 1) or the external user's external_userid (type 2).
    pub userid: String,
    /// 1 a member of the corp, 2 an external user.
    pub kind: u8,
    /// The Plaza user (external users; linked members too).
    #[serde(default)]
    pub user_id: Option<String>,
    /// Their name.
    pub name: String,
    /// When they joined.
    pub join_time: Timestamp,
    /// 1 invited by a member, 2 by a link, 3 scanned the group's QR.
    pub join_scene: u8,
    /// The member who invited them.
    #[serde(default)]
    pub invitor: Option<String>,
}

/// A customer group (客户群): owned by a member, mixing members and external users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupChat {
    /// The corp.
    pub corpid: String,
    /// `wr` + 30 hex digits.
    pub chat_id: String,
    /// Its name.
    pub name: String,
    /// The owning member.
    pub owner: String,
    /// Its notice.
    #[serde(default)]
    pub notice: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// Its members, in joining order.
    pub members: Vec<GroupMember>,
    /// Members who administer it with the owner.
    #[serde(default)]
    pub admin_list: Vec<String>,
    /// Handed to a new owner after the old one left (status 3).
    #[serde(default)]
    pub inherited: bool,
    /// Dismissed by its owner.
    #[serde(default)]
    pub dismissed_at: Option<Timestamp>,
}

impl GroupChat {
    /// The membership's version: a digest of who is in it, changing with every join and
    /// leave (matches `CurMemVer` in callbacks).
    pub fn member_version(&self) -> String {
        let mut ids: Vec<String> = self
            .members
            .iter()
            .map(|m| m.userid.to_ascii_lowercase())
            .collect();
        ids.sort();
        let digest =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, ids.join(",").as_bytes());
        digest
            .as_ref()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// A group QR (加入群聊): scanning it joins one of its groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinWay {
    /// The corp.
    pub corpid: String,
    /// Its id (32 hex digits, unique across corps).
    pub config_id: String,
    /// 1 in a mini program, 2 a QR code.
    pub scene: u8,
    /// A note for the corp.
    #[serde(default)]
    pub remark: String,
    /// The groups it joins, the first with room first (1–5).
    pub chat_id_list: Vec<String>,
    /// The corp's channel mark.
    #[serde(default)]
    pub state: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// Removed.
    #[serde(default)]
    pub deleted: bool,
}
