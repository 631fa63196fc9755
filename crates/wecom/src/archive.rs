//! Session archive (会话内容存档): which members the corp archives, which customers
//! agreed to have their conversations with the corp archived, and the archive itself.
//!
//! A message is archived when its conversation has a member the corp archives and, for
//! a customer's part, the customer agreed: a 1:1 needs both; in a customer group a
//! member's message is archived when some member of the group is, a customer's only
//! when that customer agreed; an appchat when any of its members is. The archived copy
//! is an outbox event (topic [`ARCHIVE_TOPIC`], key the corpid) written in the message's
//! own unit of work, so the archive's order is commit order and its `seq` the outbox
//! position: increasing, never reused, with gaps where other events fall.

use std::collections::HashMap;
use std::sync::Arc;

use plaza_kernel::clock::Timestamp;
use plaza_kernel::queue::NewEvent;
use plaza_kernel::record::Expect;
use serde::{Deserialize, Serialize};

use crate::conversation::Conversation;
use crate::model::ChatMessage;
use crate::store::{kind, load, write};
use crate::{CONFLICT_RETRIES_MAX, WeCom, WeComError};

/// The outbox topic of archived messages; the key is the corpid.
pub const ARCHIVE_TOPIC: &str = "wecom.archive";
/// Archived messages one read returns at most (the Finance SDK's own limit).
pub const ARCHIVE_PAGE_MAX: usize = 1_000;

/// A message in a corp's session archive, in the shape the Finance SDK decrypts to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedMessage {
    /// Its place in the archive: read the next page after the last one seen.
    #[serde(default)]
    pub seq: i64,
    /// The message's id: `conversation#seq`.
    pub msgid: String,
    /// `send` (Plaza has no recall yet).
    pub action: String,
    /// Who sent it: a userid, an external_userid or `agent:<id>`.
    pub from: String,
    /// Everyone else in the conversation when it was sent.
    pub tolist: Vec<String>,
    /// The group's chat_id or the appchat's chatid; empty for a 1:1.
    pub roomid: String,
    /// When it was sent, in Unix milliseconds.
    pub msgtime: i64,
    /// `text`, `image`, `card`, …
    pub msgtype: String,
    /// The content, in the type's shape.
    pub content: serde_json::Value,
}

impl ArchivedMessage {
    /// The archived copy of a message sent to `tolist`.
    pub(crate) fn of(
        message: &ChatMessage,
        conversation: &Conversation,
        tolist: Vec<String>,
    ) -> Self {
        let roomid = match conversation {
            Conversation::Direct { .. } => String::new(),
            Conversation::AppChat { chatid, .. } => chatid.clone(),
            Conversation::Group { chat_id, .. } => chat_id.clone(),
        };
        Self {
            seq: 0,
            msgid: format!("{}#{}", message.conversation, message.seq),
            action: "send".to_owned(),
            from: message.sender.clone(),
            tolist,
            roomid,
            msgtime: message.sent_at.unix_ms(),
            msgtype: message.msgtype.clone(),
            content: message.content.clone(),
        }
    }

    /// The outbox event that archives it.
    pub(crate) fn event(&self, corpid: &str) -> Result<NewEvent, WeComError> {
        Ok(NewEvent {
            topic: ARCHIVE_TOPIC.to_owned(),
            key: corpid.to_owned(),
            payload: serde_json::to_string(self).map_err(|error| WeComError::Unavailable {
                reason: format!("an archived message cannot be encoded: {error}"),
            })?,
        })
    }
}

/// The members a corp archives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Permits {
    userids: Vec<String>,
}

/// A customer's consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Consent {
    agreed_at: Option<Timestamp>,
}

/// The corps' permits as last read, with their record versions: every message asks
/// whether it is archived, and this saves it a read. A newer version always replaces an
/// older one, so racing readers and writers leave the newest.
#[derive(Debug, Default)]
pub(crate) struct PermitCache(std::sync::Mutex<PermitsByCorp>);

/// Per corpid: the permits record's version and its members.
type PermitsByCorp = HashMap<String, (u64, Arc<[String]>)>;

impl PermitCache {
    fn get(&self, corpid: &str) -> Option<Arc<[String]>> {
        self.lock().get(corpid).map(|(_, userids)| userids.clone())
    }

    fn keep(&self, corpid: &str, version: u64, userids: Arc<[String]>) {
        let mut map = self.lock();
        if map.len() >= PERMITS_CACHED_MAX {
            map.clear();
        }
        match map.get(corpid) {
            Some((known, _)) if *known >= version => {}
            _ => {
                map.insert(corpid.to_owned(), (version, userids));
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PermitsByCorp> {
        // Each operation under the lock is one lookup, insert or clear: a panic leaves
        // the map consistent, so a poisoned lock is still usable.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Corps whose permits are cached before the cache starts again.
const PERMITS_CACHED_MAX: usize = 10_000;

impl WeCom {
    /// `msgaudit/get_permit_user_list`: the members whose conversations are archived.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn archive_permits(&self, corpid: &str) -> Result<Vec<String>, WeComError> {
        Ok(self.permits_read(corpid).await?.to_vec())
    }

    /// The permits from the store, remembered in the cache.
    async fn permits_read(&self, corpid: &str) -> Result<Arc<[String]>, WeComError> {
        let (userids, version) =
            match load::<Permits>(&*self.records, kind::ARCHIVE_PERMITS, corpid).await? {
                Some((permits, version)) => (Arc::from(permits.userids), version),
                None => (Arc::from(Vec::new()), 0),
            };
        self.permit_cache
            .keep(corpid, version, Arc::clone(&userids));
        Ok(userids)
    }

    /// The permits, from the cache when they were read before.
    async fn permits_cached(&self, corpid: &str) -> Result<Arc<[String]>, WeComError> {
        match self.permit_cache.get(corpid) {
            Some(userids) => Ok(userids),
            None => self.permits_read(corpid).await,
        }
    }

    /// The corp sets which members are archived (each must be a member).
    ///
    /// # Errors
    ///
    /// 60111 for an unknown member.
    pub async fn set_archive_permits(
        &self,
        corpid: &str,
        userids: &[String],
    ) -> Result<Vec<String>, WeComError> {
        let mut kept = Vec::new();
        for userid in userids {
            let member = self.member(corpid, userid).await?;
            if !kept.contains(&member.userid) {
                kept.push(member.userid);
            }
        }
        for _ in 0..CONFLICT_RETRIES_MAX {
            let expect = load::<Permits>(&*self.records, kind::ARCHIVE_PERMITS, corpid)
                .await?
                .map_or(Expect::Absent, |(_, v)| Expect::Version(v));
            let permits = Permits {
                userids: kept.clone(),
            };
            if self
                .try_commit(vec![write(
                    kind::ARCHIVE_PERMITS,
                    corpid,
                    expect,
                    &permits,
                    vec![],
                )?])
                .await?
            {
                self.permits_read(corpid).await?;
                return Ok(kept);
            }
        }
        Err(Self::busy("archive permits"))
    }

    /// When the customer agreed to archiving by this corp, if they did.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn archive_consent(
        &self,
        corpid: &str,
        external_userid: &str,
    ) -> Result<Option<Timestamp>, WeComError> {
        Ok(load::<Consent>(
            &*self.records,
            kind::ARCHIVE_CONSENT,
            &format!("{corpid}/{external_userid}"),
        )
        .await?
        .and_then(|(c, _)| c.agreed_at))
    }

    /// A Plaza user agrees (or withdraws) to the corp archiving their conversations.
    ///
    /// # Errors
    ///
    /// [`WeComError::CorpNotFound`].
    pub async fn set_archive_consent(
        &self,
        corpid: &str,
        user_id: &str,
        agree: bool,
    ) -> Result<(), WeComError> {
        self.corp_versioned(corpid).await?;
        let key = format!("{corpid}/{}", self.external_userid(corpid, user_id));
        for _ in 0..CONFLICT_RETRIES_MAX {
            let expect = load::<Consent>(&*self.records, kind::ARCHIVE_CONSENT, &key)
                .await?
                .map_or(Expect::Absent, |(_, v)| Expect::Version(v));
            let consent = Consent {
                agreed_at: agree.then(|| self.now()),
            };
            if self
                .try_commit(vec![write(
                    kind::ARCHIVE_CONSENT,
                    &key,
                    expect,
                    &consent,
                    vec![],
                )?])
                .await?
            {
                return Ok(());
            }
        }
        Err(Self::busy("archive consent"))
    }
}

impl WeCom {
    /// Who else receives `sender`'s message in `conversation` when the corp archives it,
    /// or `None` when it is not archived.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub(crate) async fn archive_audience(
        &self,
        conversation: &Conversation,
        sender: &str,
    ) -> Result<Option<Vec<String>>, WeComError> {
        let corpid = conversation.corpid();
        let permits = self.permits_cached(corpid).await?;
        if permits.is_empty() {
            return Ok(None);
        }
        let permitted = |userid: &str| permits.iter().any(|p| p.eq_ignore_ascii_case(userid));
        match conversation {
            Conversation::Direct {
                userid,
                external_userid,
                ..
            } => {
                if !permitted(userid)
                    || self
                        .archive_consent(corpid, external_userid)
                        .await?
                        .is_none()
                {
                    return Ok(None);
                }
                let other = if sender.eq_ignore_ascii_case(userid) {
                    external_userid.clone()
                } else {
                    userid.clone()
                };
                Ok(Some(vec![other]))
            }
            Conversation::AppChat { chatid, .. } => {
                let chat = self.appchat(corpid, chatid).await?;
                if !chat.userlist.iter().any(|u| permitted(u)) {
                    return Ok(None);
                }
                Ok(Some(
                    chat.userlist
                        .into_iter()
                        .filter(|u| !u.eq_ignore_ascii_case(sender))
                        .collect(),
                ))
            }
            Conversation::Group { chat_id, .. } => {
                let (group, _) = self.group(corpid, chat_id).await?;
                if !group
                    .members
                    .iter()
                    .any(|m| m.kind == 1 && permitted(&m.userid))
                {
                    return Ok(None);
                }
                let from_customer = group
                    .members
                    .iter()
                    .any(|m| m.kind == 2 && m.userid == sender);
                if from_customer && self.archive_consent(corpid, sender).await?.is_none() {
                    return Ok(None);
                }
                Ok(Some(
                    group
                        .members
                        .into_iter()
                        .map(|m| m.userid)
                        .filter(|u| !u.eq_ignore_ascii_case(sender))
                        .collect(),
                ))
            }
        }
    }

    /// `msgaudit/get_chat_data`: the corp's archived messages after `seq`, oldest first,
    /// at most `limit` (1 to [`ARCHIVE_PAGE_MAX`]).
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] for a bad `seq` or `limit`; [`WeComError::CorpNotFound`];
    /// store failures.
    pub async fn archived_messages(
        &self,
        corpid: &str,
        seq: i64,
        limit: usize,
    ) -> Result<Vec<ArchivedMessage>, WeComError> {
        if seq < 0 {
            return Err(WeComError::invalid("seq", "must not be negative"));
        }
        if limit == 0 || limit > ARCHIVE_PAGE_MAX {
            return Err(WeComError::invalid(
                "limit",
                format!("must be 1 to {ARCHIVE_PAGE_MAX}"),
            ));
        }
        self.corp_versioned(corpid).await?;
        let events = self
            .outbox
            .events_of(ARCHIVE_TOPIC.to_owned(), corpid.to_owned(), seq, limit)
            .await
            .map_err(|error| WeComError::Unavailable {
                reason: error.to_string(),
            })?;
        events
            .into_iter()
            .map(|event| {
                let mut message: ArchivedMessage =
                    serde_json::from_str(&event.payload).map_err(|error| {
                        WeComError::Unavailable {
                            reason: format!(
                                "archived message {} is unreadable: {error}",
                                event.seq
                            ),
                        }
                    })?;
                message.seq = event.seq;
                Ok(message)
            })
            .collect()
    }
}
