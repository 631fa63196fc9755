//! The one place that knows how WeCom's entities are stored: their record kinds, keys
//! and indexes, all under the `wecom.` prefix.

use std::collections::BTreeMap;

use plaza_kernel::record::{Expect, IndexEntry, IndexRange, RecordStore, RecordWrite};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::WeComError;
use crate::model::{AppChat, Corp, CorpApp, Department, Member, Scope, SecretGrant};

/// Record kinds.
pub mod kind {
    /// A corp, by corpid.
    pub const CORP: &str = "wecom.corp";
    /// An app, by `corpid/agentid`.
    pub const APP: &str = "wecom.app";
    /// The corp and scope a secret opens, by the secret's SHA-256.
    pub const SECRET: &str = "wecom.secret";
    /// An access token, by the SHA-256 of its text.
    pub const TOKEN: &str = "wecom.token";
    /// The current token of a secret, by `corpid/scope`.
    pub const TOKEN_SLOT: &str = "wecom.token_slot";
    /// A department, by `corpid/id` (ten digits).
    pub const DEPARTMENT: &str = "wecom.department";
    /// A member, by `corpid/lower-case userid`.
    pub const MEMBER: &str = "wecom.member";
    /// A claim on a member's mobile or email, by `corpid/mobile:…` or `corpid/email:…`.
    pub const CONTACT_CLAIM: &str = "wecom.contact_claim";
    /// An invitation, by its code: the member it links.
    pub const INVITATION: &str = "wecom.invitation";
    /// An app message, by `corpid/msgid`.
    pub const APP_MESSAGE: &str = "wecom.app_message";
    /// An appchat, by `corpid/chatid`.
    pub const APPCHAT: &str = "wecom.appchat";
    /// A reader's place in a conversation, by `conversation/participant`.
    pub const READ: &str = "wecom.read";
    /// The message a sender's client id made, by `conversation/sender/client_id`.
    pub const CLIENT_ID: &str = "wecom.chat_client_id";
    /// An image posted in a conversation, by `conversation/sha256`.
    pub const CHAT_IMAGE: &str = "wecom.chat_image";
    /// A message in a conversation, by `conversation/seq` (twelve digits), found by
    /// the `conversation` index.
    pub const CHAT_MESSAGE: &str = "wecom.chat_message";
    /// An event for the corp's server, by `corpid/id`.
    pub const CALLBACK_EVENT: &str = "wecom.callback_event";
    /// A contact way, by config_id.
    pub const CONTACT_WAY: &str = "wecom.contact_way";
    /// A customer of a corp, by `corpid/external_userid`.
    pub const EXTERNAL: &str = "wecom.external";
    /// A member following a customer, by `corpid/lower-case userid/external_userid`.
    pub const FOLLOW: &str = "wecom.follow";
    /// A customer group, by `corpid/chat_id`.
    pub const GROUP_CHAT: &str = "wecom.group_chat";
    /// Someone's seat in a customer group, by `corpid/chat_id/lower-case userid`: how a
    /// member's or a Plaza user's groups are found (one record per member, so a group
    /// of any size is indexed).
    pub const GROUP_SEAT: &str = "wecom.group_seat";
    /// A member's seat in an appchat, by `corpid/chatid/lower-case userid`.
    pub const APPCHAT_SEAT: &str = "wecom.appchat_seat";
    /// Done once-only steps over stored data, by name.
    pub const UPGRADE: &str = "wecom.upgrade";
    /// A group QR, by config_id.
    pub const JOIN_WAY: &str = "wecom.join_way";
    /// The members a corp archives, by corpid.
    pub const ARCHIVE_PERMITS: &str = "wecom.archive_permits";
    /// A customer's archive consent, by `corpid/external_userid`.
    pub const ARCHIVE_CONSENT: &str = "wecom.archive_consent";
    /// A group of corp tags, by `corpid/group_id`.
    pub const TAG_GROUP: &str = "wecom.tag_group";
}

/// Index names.
pub mod index {
    /// Corps by creation: `created`.
    pub const CREATED: &str = "created";
    /// Records of a corp: `corpid/…` (departments by id, apps by agentid, members by
    /// lower-case userid).
    pub const CORP: &str = "corp";
    /// Members by department: `corpid/department id/lower-case userid`.
    pub const DEPARTMENT: &str = "department";
    /// Departments by parent: `corpid/parent id`.
    pub const PARENT: &str = "parent";
    /// Members by Plaza user: `user_id/corpid`.
    pub const USER: &str = "user";
    /// App messages by recipient: `corpid/lower-case userid/sent`.
    pub const RECIPIENT: &str = "recipient";
    /// Seats (of a customer group or an appchat) by member:
    /// `corpid/lower-case userid/chat id`.
    pub const CHAT_MEMBER: &str = "chat_member";
    /// Customer groups by owner: `corpid/lower-case userid/created/chat_id`.
    pub const OWNER: &str = "owner";
    /// Messages and read places by conversation: `conversation/seq` or
    /// `conversation/participant`.
    pub const CONVERSATION: &str = "conversation";
    /// Members who left: `corpid/lower-case userid`.
    pub const LEFT: &str = "left";
    /// Follows by member: `corpid/lower-case userid/created`.
    pub const FOLLOWER: &str = "follower";
    /// Follows by customer: `corpid/external_userid/lower-case userid`.
    pub const FOLLOWED: &str = "followed";
    /// Follows waiting for a hand-over: `corpid/handover/takeover/external_userid`.
    pub const TRANSFER: &str = "transfer";
}

/// Index value for "by time": fixed width so that text order is time order.
pub fn time_value(unix_ms: i64) -> String {
    format!("{unix_ms:015}")
}

/// A department's key part: ten digits, so text order is number order.
pub fn department_value(id: u32) -> String {
    format!("{id:010}")
}

/// A write of `value` under `kind`/`key`.
pub(crate) fn write<T: Serialize>(
    kind: &str,
    key: &str,
    expect: Expect,
    value: &T,
    index: Vec<IndexEntry>,
) -> Result<RecordWrite, WeComError> {
    Ok(plaza_kernel::record::encode_json(
        kind, key, expect, value, index,
    )?)
}

/// Reads and decodes one record with its version.
pub(crate) async fn load<T: DeserializeOwned>(
    records: &dyn RecordStore,
    kind: &str,
    key: &str,
) -> Result<Option<(T, u64)>, WeComError> {
    Ok(plaza_kernel::record::load_json(records, kind, key).await?)
}

/// The records of `kind` whose index `name` starts with `prefix`, decoded, at most
/// `rows_max`.
pub(crate) async fn with_prefix<T: DeserializeOwned>(
    records: &dyn RecordStore,
    kind: &str,
    name: &str,
    prefix: &str,
    rows_max: usize,
) -> Result<Vec<T>, WeComError> {
    let range = IndexRange {
        kind: kind.to_owned(),
        name: name.to_owned(),
        from: prefix.to_owned(),
        to: format!("{prefix}\u{10FFFF}"),
        after: None,
        rows_max,
        newest_first: false,
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

pub(crate) fn corp_write(corp: &Corp, expect: Expect) -> Result<RecordWrite, WeComError> {
    write(
        kind::CORP,
        &corp.corpid,
        expect,
        corp,
        vec![IndexEntry::new(
            index::CREATED,
            time_value(corp.created_at.unix_ms()),
        )],
    )
}

pub(crate) fn app_key(corpid: &str, agentid: u32) -> String {
    format!("{corpid}/{agentid}")
}

pub(crate) fn app_write(app: &CorpApp, expect: Expect) -> Result<RecordWrite, WeComError> {
    write(
        kind::APP,
        &app_key(&app.corpid, app.agentid),
        expect,
        app,
        vec![IndexEntry::new(
            index::CORP,
            format!("{}/{:010}", app.corpid, app.agentid),
        )],
    )
}

pub(crate) fn grant_write(
    secret: &str,
    corpid: &str,
    scope: Scope,
) -> Result<RecordWrite, WeComError> {
    let grant = SecretGrant {
        corpid: corpid.to_owned(),
        scope,
        revoked: false,
    };
    write(
        kind::SECRET,
        &sha256_hex(secret),
        Expect::Absent,
        &grant,
        vec![],
    )
}

pub(crate) fn department_key(corpid: &str, id: u32) -> String {
    format!("{corpid}/{}", department_value(id))
}

/// The write of a department with its indexes (none once deleted).
pub(crate) fn department_write(
    department: &Department,
    expect: Expect,
) -> Result<RecordWrite, WeComError> {
    let key = department_key(&department.corpid, department.id);
    let index = if department.deleted {
        Vec::new()
    } else {
        vec![
            IndexEntry::new(index::CORP, key.clone()),
            IndexEntry::new(
                index::PARENT,
                format!(
                    "{}/{}",
                    department.corpid,
                    department_value(department.parentid)
                ),
            ),
        ]
    };
    write(kind::DEPARTMENT, &key, expect, department, index)
}

pub(crate) fn member_key(corpid: &str, userid: &str) -> String {
    format!("{corpid}/{}", userid.to_ascii_lowercase())
}

/// The write of a member with its indexes (only the Plaza user's once they left).
pub(crate) fn member_write(member: &Member, expect: Expect) -> Result<RecordWrite, WeComError> {
    let key = member_key(&member.corpid, &member.userid);
    let lower = member.userid.to_ascii_lowercase();
    let mut index = Vec::new();
    if member.left_at.is_none() {
        index.push(IndexEntry::new(index::CORP, key.clone()));
        for id in &member.department {
            index.push(IndexEntry::new(
                index::DEPARTMENT,
                format!("{}/{}/{lower}", member.corpid, department_value(*id)),
            ));
        }
        if let Some(user_id) = &member.user_id {
            index.push(IndexEntry::new(
                index::USER,
                format!("{user_id}/{}", member.corpid),
            ));
        }
    } else {
        index.push(IndexEntry::new(index::LEFT, key.clone()));
    }
    write(kind::MEMBER, &key, expect, member, index)
}

/// The writes of an appchat: its record, and the seats of members who joined or left
/// since `before` (`None` for a new appchat).
pub(crate) fn appchat_writes(
    before: Option<&AppChat>,
    chat: &AppChat,
    expect: Expect,
) -> Result<Vec<RecordWrite>, WeComError> {
    let seats = |chat: Option<&AppChat>| -> BTreeMap<String, SeatOf> {
        chat.map(|chat| {
            chat.userlist
                .iter()
                .map(|userid| (userid.to_ascii_lowercase(), SeatOf::default()))
                .collect()
        })
        .unwrap_or_default()
    };
    let mut writes = vec![write(
        kind::APPCHAT,
        &format!("{}/{}", chat.corpid, chat.chatid),
        expect,
        chat,
        vec![IndexEntry::new(
            index::CORP,
            format!("{}/{}", chat.corpid, chat.chatid),
        )],
    )?];
    writes.extend(seat_writes(
        kind::APPCHAT_SEAT,
        &chat.corpid,
        &chat.chatid,
        &seats(before),
        &seats(Some(chat)),
    )?);
    Ok(writes)
}

/// Who holds a seat, beyond their userid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SeatOf {
    /// The Plaza user, when linked.
    pub user_id: Option<String>,
}

/// A seat in a conversation (a customer group or an appchat): found by its member and
/// by its Plaza user while taken; an empty seat keeps no index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub(crate) struct Seat {
    pub corpid: String,
    pub chat_id: String,
    pub userid: String,
    pub user_id: Option<String>,
    pub taken: bool,
}

/// The seat writes that take `before` (lower-case userid → who) to `after`: a seat for
/// each newcomer or changed holder, an emptied one for each who left. The caller commits
/// them with the conversation's versioned write, which orders every change to its seats.
pub(crate) fn seat_writes(
    seat_kind: &str,
    corpid: &str,
    chat_id: &str,
    before: &BTreeMap<String, SeatOf>,
    after: &BTreeMap<String, SeatOf>,
) -> Result<Vec<RecordWrite>, WeComError> {
    let mut writes = Vec::new();
    for (userid, holder) in after {
        if before.get(userid) == Some(holder) {
            continue;
        }
        let mut index = vec![IndexEntry::new(
            index::CHAT_MEMBER,
            format!("{corpid}/{userid}/{chat_id}"),
        )];
        if let Some(user_id) = &holder.user_id {
            index.push(IndexEntry::new(
                index::USER,
                format!("{user_id}/{corpid}/{chat_id}"),
            ));
        }
        let seat = Seat {
            corpid: corpid.to_owned(),
            chat_id: chat_id.to_owned(),
            userid: userid.clone(),
            user_id: holder.user_id.clone(),
            taken: true,
        };
        writes.push(write(
            seat_kind,
            &format!("{corpid}/{chat_id}/{userid}"),
            Expect::Any,
            &seat,
            index,
        )?);
    }
    for (userid, holder) in before {
        if after.contains_key(userid) {
            continue;
        }
        let seat = Seat {
            corpid: corpid.to_owned(),
            chat_id: chat_id.to_owned(),
            userid: userid.clone(),
            user_id: holder.user_id.clone(),
            taken: false,
        };
        writes.push(write(
            seat_kind,
            &format!("{corpid}/{chat_id}/{userid}"),
            Expect::Any,
            &seat,
            Vec::new(),
        )?);
    }
    Ok(writes)
}

/// The taken seats of `seat_kind` whose index `name` starts with `prefix`, then the
/// conversations (of `chat_kind`, keyed `corpid/chat id`) they are in, in seat order;
/// at most `rows_max`.
pub(crate) async fn seated_in<T: DeserializeOwned>(
    records: &dyn RecordStore,
    (seat_kind, chat_kind): (&str, &str),
    name: &str,
    prefix: &str,
    rows_max: usize,
) -> Result<Vec<T>, WeComError> {
    let seats: Vec<Seat> = with_prefix(records, seat_kind, name, prefix, rows_max).await?;
    let mut chats = Vec::with_capacity(seats.len());
    for seat in seats.iter().filter(|seat| seat.taken) {
        if let Some((chat, _version)) = load::<T>(
            records,
            chat_kind,
            &format!("{}/{}", seat.corpid, seat.chat_id),
        )
        .await?
        {
            chats.push(chat);
        }
    }
    Ok(chats)
}
