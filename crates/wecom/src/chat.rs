//! Realtime chat in the three kinds of conversation: a member with a customer (1:1),
//! an appchat (members only) and a customer group (members and customers together).
//!
//! Each message is one record written in one unit of work with the sender's client id
//! (so a resend after a lost acknowledgement returns the same message, never a second
//! one) and only then acknowledged and published to the conversation's topic on the
//! fan-out port. Sequence numbers are per conversation, handed out in memory under the
//! conversation's lock — exact because this process is the only writer — and the lock
//! is held until the commit, so they are gapless and published in order. A reader's
//! place (`wecom.read`) gives read receipts and unread counts; a client that reconnects
//! reads history after the last sequence it saw.

use std::collections::HashMap;
use std::sync::Arc;

use plaza_kernel::clock::Timestamp;
use plaza_kernel::record::{Expect, IndexEntry, IndexRange, RecordWrite};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use crate::conversation::Conversation;
use crate::messages::{Content, check_content};
use crate::model::{ChatMessage, MemberStatus, Scope};
use crate::store::{index, kind, load, write};
use crate::{CONFLICT_RETRIES_MAX, WeCom, WeComError};

/// The largest text message, in bytes.
pub const TEXT_BYTES_MAX: usize = 4_096;
/// The largest image, in bytes.
pub const IMAGE_BYTES_MAX: usize = 5 * 1024 * 1024;
/// The longest client id.
pub const CLIENT_ID_MAX: usize = 64;
/// Conversations whose place this process keeps in memory before it forgets idle ones.
pub const SEQUENCERS_KEPT_MAX: usize = 100_000;
/// Messages a history page holds at most.
pub const HISTORY_PAGE_MAX: usize = 200;

/// Who speaks in a conversation: a member's userid, a customer's external_userid or an
/// app (`agent:<id>`), with the name others see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Speaker {
    /// The id messages carry as `sender`.
    pub id: String,
    /// Their name.
    pub name: String,
}

/// A reader's place in a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ReadPlace {
    reader: String,
    seq: u64,
}

/// A conversation as a participant sees it in a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    /// Its id.
    pub id: String,
    /// 1:1, appchat or group (`direct`, `appchat`, `group`).
    pub kind: &'static str,
    /// What to call it: the other person, or the group's name.
    pub title: String,
    /// The corp's name.
    pub corp_name: String,
    /// Who the viewer is in it.
    pub me: Speaker,
    /// The newest message.
    pub last: Option<ChatMessage>,
    /// Messages after the viewer's read place.
    pub unread: u64,
}

/// A conversation someone is in, before its summary is read.
struct Place {
    conversation: Conversation,
    kind: &'static str,
    title: String,
    corp_name: String,
    me: Speaker,
}

/// The per-conversation sequencers of this process.
#[derive(Debug, Default)]
pub(crate) struct Sequencers {
    conversations: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<u64>>>>>,
}

impl Sequencers {
    fn of(&self, conversation: &str) -> Arc<tokio::sync::Mutex<Option<u64>>> {
        // Each operation under this lock is one lookup or insert: a panic leaves the map
        // consistent, so a poisoned lock is still usable.
        let mut map = self
            .conversations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= SEQUENCERS_KEPT_MAX {
            // Forget the idle ones (held by nobody but the map): their next message
            // reads its place from the store again.
            map.retain(|_, sequencer| Arc::strong_count(sequencer) > 1);
        }
        map.entry(conversation.to_owned()).or_default().clone()
    }
}

fn message_key(conversation: &str, seq: u64) -> String {
    format!("{conversation}/{seq:012}")
}

fn message_write(message: &ChatMessage) -> Result<RecordWrite, WeComError> {
    let key = message_key(&message.conversation, message.seq);
    write(
        kind::CHAT_MESSAGE,
        &key,
        Expect::Absent,
        message,
        vec![IndexEntry::new(index::CONVERSATION, key.clone())],
    )
}

/// The unit of work that stores a message: the message, the sender's client id, the
/// image it shows, and its archived copy when the corp archives it.
fn message_write_set(
    conversation: &Conversation,
    message: &ChatMessage,
    client_key: Option<&str>,
    archive_to: Option<Vec<String>>,
) -> Result<plaza_ledger::WriteSet, WeComError> {
    let mut records = vec![message_write(message)?];
    if let Some(key) = client_key {
        records.push(write(
            kind::CLIENT_ID,
            key,
            Expect::Absent,
            &message.seq,
            vec![],
        )?);
    }
    if let Some((sha, _)) = image_of(message) {
        records.push(write(
            kind::CHAT_IMAGE,
            &format!("{}/{sha}", message.conversation),
            Expect::Any,
            &message.seq,
            vec![],
        )?);
    }
    let events = match archive_to {
        Some(tolist) => vec![
            crate::archive::ArchivedMessage::of(message, conversation, tolist)
                .event(conversation.corpid())?,
        ],
        None => Vec::new(),
    };
    Ok(plaza_ledger::WriteSet {
        records,
        events,
        ..plaza_ledger::WriteSet::default()
    })
}

/// Checks a chat message's content: text, an image posted before, or a card.
///
/// # Errors
///
/// [`WeComError::Invalid`] naming the field.
pub fn check_chat_content(content: &Content) -> Result<(), WeComError> {
    let field = |name: &str| content.body.get(name).and_then(Value::as_str).unwrap_or("");
    match content.msgtype.as_str() {
        "text" => {
            let text = field("content");
            if text.trim().is_empty() {
                return Err(WeComError::invalid_as(44004, "text.content", "is empty"));
            }
            if text.len() > TEXT_BYTES_MAX {
                return Err(WeComError::invalid_as(
                    45002,
                    "text.content",
                    format!("at most {TEXT_BYTES_MAX} bytes"),
                ));
            }
            Ok(())
        }
        "image" => {
            if plaza_kernel::objects::is_content_address(field("sha256")) {
                Ok(())
            } else {
                Err(WeComError::invalid("image.sha256", "post the image first"))
            }
        }
        "card" => {
            let kinds = ["miniprogram", "channels", "pay"];
            if !kinds.contains(&field("kind")) {
                return Err(WeComError::invalid(
                    "card.kind",
                    "must be miniprogram, channels or pay",
                ));
            }
            let title = field("title");
            if title.trim().is_empty() || title.chars().count() > 64 {
                return Err(WeComError::invalid("card.title", "1 to 64 characters"));
            }
            let url = field("url");
            if !(url.starts_with('/') || url.starts_with("https://") || url.starts_with("http://"))
                || url.len() > 1_024
            {
                return Err(WeComError::invalid(
                    "card.url",
                    "a path on Plaza or an http(s) URL",
                ));
            }
            if field("description").chars().count() > 128 {
                return Err(WeComError::invalid(
                    "card.description",
                    "at most 128 characters",
                ));
            }
            Ok(())
        }
        "markdown" | "textcard" | "news" => check_content(content),
        other => Err(WeComError::invalid_as(
            40008,
            "msgtype",
            format!("{other:?} is not text, image or card"),
        )),
    }
}

/// A message as subscribers receive it (and as history answers it).
pub fn message_json(message: &ChatMessage) -> Value {
    json!({
        "op": "message",
        "conversation": message.conversation,
        "seq": message.seq,
        "sender": message.sender,
        "sender_name": message.sender_name,
        "msgtype": message.msgtype,
        message.msgtype.clone(): message.content,
        "client_id": message.client_id,
        "sent_at": message.sent_at.unix_ms(),
    })
}

impl WeCom {
    /// Who a Plaza user is in a conversation.
    ///
    /// # Errors
    ///
    /// [`WeComError::Forbidden`] when they are not in it (or it does not exist).
    pub async fn speaker(
        &self,
        conversation: &Conversation,
        user_id: &str,
    ) -> Result<Speaker, WeComError> {
        let not_in = || WeComError::Forbidden {
            what: "you are not in this conversation".to_owned(),
        };
        let corpid = conversation.corpid();
        let member = self
            .member_of(user_id, corpid)
            .await?
            .filter(|m| m.status() == MemberStatus::Active);
        let external = self.external_userid(corpid, user_id);
        match conversation {
            Conversation::Direct {
                userid,
                external_userid,
                ..
            } => {
                self.follow_of(corpid, userid, external_userid)
                    .await
                    .map_err(|_| not_in())?;
                if let Some(member) = member.filter(|m| m.userid.eq_ignore_ascii_case(userid)) {
                    return Ok(Speaker {
                        id: member.userid,
                        name: member.name,
                    });
                }
                if &external == external_userid {
                    let (contact, _) = self.external_contact(corpid, external_userid).await?;
                    return Ok(Speaker {
                        id: external,
                        name: contact.name,
                    });
                }
                Err(not_in())
            }
            Conversation::AppChat { chatid, .. } => {
                let chat = self.appchat(corpid, chatid).await.map_err(|_| not_in())?;
                let member = member.ok_or_else(not_in)?;
                if chat
                    .userlist
                    .iter()
                    .any(|u| u.eq_ignore_ascii_case(&member.userid))
                {
                    Ok(Speaker {
                        id: member.userid,
                        name: member.name,
                    })
                } else {
                    Err(not_in())
                }
            }
            Conversation::Group { chat_id, .. } => {
                self.group_speaker(corpid, chat_id, member, &external).await
            }
        }
    }

    async fn group_speaker(
        &self,
        corpid: &str,
        chat_id: &str,
        member: Option<crate::model::Member>,
        external: &str,
    ) -> Result<Speaker, WeComError> {
        let not_in = || WeComError::Forbidden {
            what: "you are not in this conversation".to_owned(),
        };
        let (group, _) = self.group(corpid, chat_id).await.map_err(|_| not_in())?;
        if let Some(member) = member.filter(|m| {
            group
                .members
                .iter()
                .any(|g| g.kind == 1 && g.userid.eq_ignore_ascii_case(&m.userid))
        }) {
            return Ok(Speaker {
                id: member.userid,
                name: member.name,
            });
        }
        group
            .members
            .iter()
            .find(|g| g.kind == 2 && g.userid == *external)
            .map(|g| Speaker {
                id: g.userid.clone(),
                name: g.name.clone(),
            })
            .ok_or_else(not_in)
    }

    /// The newest sequence number of a conversation (0 when empty), from this process's
    /// sequencer or the store.
    async fn last_seq_stored(&self, conversation: &str) -> Result<u64, WeComError> {
        let range = IndexRange {
            kind: kind::CHAT_MESSAGE.to_owned(),
            name: index::CONVERSATION.to_owned(),
            from: format!("{conversation}/"),
            to: format!("{conversation}/\u{10FFFF}"),
            after: None,
            rows_max: 1,
            newest_first: true,
        };
        let newest: Vec<ChatMessage> =
            plaza_kernel::record::range_json(&*self.records, range).await?;
        Ok(newest.first().map_or(0, |m| m.seq))
    }

    /// `appchat/send`: the app's message appended to the chat's conversation.
    ///
    /// # Errors
    ///
    /// [`WeComError::ChatNotFound`], errors of [`check_content`].
    pub async fn send_appchat(
        &self,
        corpid: &str,
        scope: Scope,
        chatid: &str,
        content: Content,
    ) -> Result<ChatMessage, WeComError> {
        let app = self.appchat_app(corpid, scope).await?;
        check_content(&content)?;
        self.appchat(corpid, chatid).await?;
        let conversation = Conversation::AppChat {
            corpid: corpid.to_owned(),
            chatid: chatid.to_owned(),
        };
        let sender = Speaker {
            id: format!("agent:{}", app.agentid),
            name: app.name.clone(),
        };
        Ok(self.post(&conversation, &sender, None, content).await?.0)
    }

    /// The newest sequence number of a conversation.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn last_seq(&self, conversation: &str) -> Result<u64, WeComError> {
        let sequencer = self.sequencers.of(conversation);
        let known = *sequencer.lock().await;
        match known {
            Some(seq) => Ok(seq),
            None => self.last_seq_stored(conversation).await,
        }
    }

    /// Posts a message: persisted with the next sequence number, then published. A
    /// `client_id` seen before from the same sender returns the message it made (and
    /// `true`), publishing nothing again.
    ///
    /// # Errors
    ///
    /// Those of [`check_chat_content`]; [`WeComError::Invalid`] for a bad client id;
    /// store failures (nothing is published then).
    pub async fn post(
        &self,
        conversation: &Conversation,
        sender: &Speaker,
        client_id: Option<&str>,
        content: Content,
    ) -> Result<(ChatMessage, bool), WeComError> {
        check_chat_content(&content)?;
        if client_id.is_some_and(|id| {
            id.is_empty() || id.len() > CLIENT_ID_MAX || id.chars().any(char::is_control)
        }) {
            return Err(WeComError::invalid(
                "client_id",
                format!("1 to {CLIENT_ID_MAX} characters"),
            ));
        }
        let id = conversation.id();
        let archive_to = self.archive_audience(conversation, &sender.id).await?;
        let sequencer = self.sequencers.of(&id);
        let mut last = sequencer.lock().await;
        let last_seq = match *last {
            Some(seq) => seq,
            None => self.last_seq_stored(&id).await?,
        };
        let message = ChatMessage {
            conversation: id.clone(),
            seq: last_seq + 1,
            sender: sender.id.clone(),
            sender_name: sender.name.clone(),
            msgtype: content.msgtype,
            content: content.body,
            client_id: client_id.map(str::to_owned),
            sent_at: self.now(),
        };
        let client_key = client_id.map(|c| format!("{id}/{}/{c}", sender.id));
        let write = message_write_set(conversation, &message, client_key.as_deref(), archive_to)?;
        if self.try_commit_set(write).await? {
            *last = Some(message.seq);
            drop(last);
            self.publish(&id, &message_json(&message));
            Ok((message, false))
        } else {
            // Only the client id's record can have been there: the sequence is ours.
            *last = Some(last_seq);
            drop(last);
            let key = client_key.ok_or_else(|| Self::busy("conversation"))?;
            Ok((self.earlier_message(&id, &key).await?, true))
        }
    }

    /// The message a sender's client id made before.
    async fn earlier_message(
        &self,
        conversation: &str,
        client_key: &str,
    ) -> Result<ChatMessage, WeComError> {
        let (seq, _) = load::<u64>(&*self.records, kind::CLIENT_ID, client_key)
            .await?
            .ok_or_else(|| Self::busy("conversation"))?;
        let (earlier, _) = load::<ChatMessage>(
            &*self.records,
            kind::CHAT_MESSAGE,
            &message_key(conversation, seq),
        )
        .await?
        .ok_or_else(|| Self::busy("conversation"))?;
        Ok(earlier)
    }

    /// Publishes a payload on a conversation's topic, if a fan-out is attached.
    pub(crate) fn publish(&self, topic: &str, payload: &Value) {
        if let Some(fanout) = &self.fanout {
            fanout.publish(
                topic,
                plaza_fanout::Payload::Text(Arc::from(payload.to_string())),
            );
        }
    }

    /// Stores an image for a conversation in the object store: its content address and
    /// type, for an `image` message.
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] when it is too large or not PNG, JPEG, GIF or WebP;
    /// store failures.
    pub async fn put_image(&self, bytes: Vec<u8>) -> Result<(String, &'static str), WeComError> {
        if bytes.len() > IMAGE_BYTES_MAX {
            return Err(WeComError::invalid_as(
                40006,
                "image",
                format!("at most {} MB", IMAGE_BYTES_MAX / 1024 / 1024),
            ));
        }
        let mime = image_type(&bytes).ok_or_else(|| {
            WeComError::invalid_as(40005, "image", "must be PNG, JPEG, GIF or WebP")
        })?;
        let objects = self
            .objects
            .as_ref()
            .ok_or_else(|| WeComError::Unavailable {
                reason: "no object store".to_owned(),
            })?;
        let sha = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        objects
            .put(sha.clone(), bytes)
            .await
            .map_err(|error| WeComError::Unavailable {
                reason: error.to_string(),
            })?;
        Ok((sha, mime))
    }

    /// An image posted in a conversation, with its type.
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] when it was not posted there.
    pub async fn image(
        &self,
        conversation: &str,
        sha: &str,
    ) -> Result<(Vec<u8>, &'static str), WeComError> {
        let missing = || WeComError::invalid("image", "no such image in this conversation");
        if !plaza_kernel::objects::is_content_address(sha)
            || load::<u64>(
                &*self.records,
                kind::CHAT_IMAGE,
                &format!("{conversation}/{sha}"),
            )
            .await?
            .is_none()
        {
            return Err(missing());
        }
        let objects = self
            .objects
            .as_ref()
            .ok_or_else(|| WeComError::Unavailable {
                reason: "no object store".to_owned(),
            })?;
        let bytes = objects
            .get(sha.to_owned())
            .await
            .map_err(|error| WeComError::Unavailable {
                reason: error.to_string(),
            })?
            .ok_or_else(missing)?;
        let mime = image_type(&bytes).ok_or_else(missing)?;
        Ok((bytes, mime))
    }

    /// Messages after `after_seq`, oldest first, at most `limit`.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn history_after(
        &self,
        conversation: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, WeComError> {
        let range = IndexRange {
            kind: kind::CHAT_MESSAGE.to_owned(),
            name: index::CONVERSATION.to_owned(),
            from: message_key(conversation, after_seq.saturating_add(1)),
            to: format!("{conversation}/\u{10FFFF}"),
            after: None,
            rows_max: limit.clamp(1, HISTORY_PAGE_MAX),
            newest_first: false,
        };
        Ok(plaza_kernel::record::range_json(&*self.records, range).await?)
    }

    /// Messages before `before_seq` (the newest without one), newest first, at most
    /// `limit`.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn history_before(
        &self,
        conversation: &str,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, WeComError> {
        let range = IndexRange {
            kind: kind::CHAT_MESSAGE.to_owned(),
            name: index::CONVERSATION.to_owned(),
            from: format!("{conversation}/"),
            to: before_seq.map_or_else(
                || format!("{conversation}/\u{10FFFF}"),
                |seq| message_key(conversation, seq),
            ),
            after: None,
            rows_max: limit.clamp(1, HISTORY_PAGE_MAX),
            newest_first: true,
        };
        Ok(plaza_kernel::record::range_json(&*self.records, range).await?)
    }

    /// A reader has read up to `seq` (never backwards): stored, and published as a
    /// read receipt.
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] for a place past the newest message.
    pub async fn mark_read(
        &self,
        conversation: &str,
        reader: &str,
        seq: u64,
    ) -> Result<u64, WeComError> {
        if seq > self.last_seq(conversation).await? {
            return Err(WeComError::invalid("seq", "past the newest message"));
        }
        let key = format!("{conversation}/{reader}");
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (place, expect) = match load::<ReadPlace>(&*self.records, kind::READ, &key).await? {
                Some((place, version)) => (place, Expect::Version(version)),
                None => (
                    ReadPlace {
                        reader: reader.to_owned(),
                        seq: 0,
                    },
                    Expect::Absent,
                ),
            };
            if place.seq >= seq {
                return Ok(place.seq);
            }
            let place = ReadPlace {
                reader: reader.to_owned(),
                seq,
            };
            let record = write(
                kind::READ,
                &key,
                expect,
                &place,
                vec![IndexEntry::new(index::CONVERSATION, key.clone())],
            )?;
            if self.try_commit(vec![record]).await? {
                self.publish(conversation, &json!({ "op": "read", "conversation": conversation, "reader": reader, "seq": seq }));
                return Ok(seq);
            }
        }
        Err(Self::busy("read place"))
    }

    /// Every reader's place in a conversation.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn read_places(
        &self,
        conversation: &str,
    ) -> Result<HashMap<String, u64>, WeComError> {
        let range = IndexRange {
            kind: kind::READ.to_owned(),
            name: index::CONVERSATION.to_owned(),
            from: format!("{conversation}/"),
            to: format!("{conversation}/\u{10FFFF}"),
            after: None,
            rows_max: 2_000,
            newest_first: false,
        };
        let places: Vec<ReadPlace> =
            plaza_kernel::record::range_json(&*self.records, range).await?;
        Ok(places.into_iter().map(|p| (p.reader, p.seq)).collect())
    }

    /// The conversations a Plaza user is in — as a member (their customers, appchats and
    /// groups) and as a customer (the members they added, the groups they joined) — with
    /// the newest message and their unread count, newest activity first.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn conversations(
        &self,
        user_id: &str,
    ) -> Result<Vec<ConversationSummary>, WeComError> {
        let mut found = Vec::new();
        for member in self.memberships(user_id).await? {
            if member.status() == MemberStatus::Active {
                found.extend(self.as_member(&member).await?);
            }
        }
        found.extend(self.as_customer(user_id).await?);
        let mut summaries = Vec::with_capacity(found.len());
        let mut seen = std::collections::HashSet::new();
        for place in found {
            let id = place.conversation.id();
            if !seen.insert(id.clone()) {
                continue;
            }
            let last = self.history_before(&id, None, 1).await?.into_iter().next();
            let read =
                load::<ReadPlace>(&*self.records, kind::READ, &format!("{id}/{}", place.me.id))
                    .await?
                    .map_or(0, |(p, _)| p.seq);
            let unread = last.as_ref().map_or(0, |m| m.seq.saturating_sub(read));
            summaries.push(ConversationSummary {
                id,
                kind: place.kind,
                title: place.title,
                corp_name: place.corp_name,
                me: place.me,
                last,
                unread,
            });
        }
        summaries.sort_by_key(|s| {
            std::cmp::Reverse(
                s.last
                    .as_ref()
                    .map_or(Timestamp::from_unix_ms(0), |m| m.sent_at),
            )
        });
        Ok(summaries)
    }

    async fn corp_name(&self, corpid: &str) -> Result<String, WeComError> {
        Ok(self.corp(corpid).await?.map(|c| c.name).unwrap_or_default())
    }

    /// A member's conversations: with each customer, their appchats and groups.
    async fn as_member(&self, member: &crate::model::Member) -> Result<Vec<Place>, WeComError> {
        let corpid = member.corpid.clone();
        let corp_name = self.corp_name(&corpid).await?;
        let me = Speaker {
            id: member.userid.clone(),
            name: member.name.clone(),
        };
        let place = |conversation, kind, title| Place {
            conversation,
            kind,
            title,
            corp_name: corp_name.clone(),
            me: me.clone(),
        };
        let mut found = Vec::new();
        for follow in self.customers_of(&corpid, &member.userid).await? {
            let (contact, _) = self
                .external_contact(&corpid, &follow.external_userid)
                .await?;
            let title = if follow.remark.is_empty() {
                contact.name
            } else {
                follow.remark.clone()
            };
            let conversation = Conversation::Direct {
                corpid: corpid.clone(),
                userid: member.userid.to_ascii_lowercase(),
                external_userid: follow.external_userid,
            };
            found.push(place(conversation, "direct", title));
        }
        for chat in self.appchats_of(&corpid, &member.userid).await? {
            found.push(place(
                Conversation::AppChat {
                    corpid: corpid.clone(),
                    chatid: chat.chatid,
                },
                "appchat",
                chat.name,
            ));
        }
        for group in self.groups_of_member(&corpid, &member.userid).await? {
            found.push(place(
                Conversation::Group {
                    corpid: corpid.clone(),
                    chat_id: group.chat_id,
                },
                "group",
                group.name,
            ));
        }
        Ok(found)
    }

    /// A customer's conversations: with each member they added, and their groups.
    async fn as_customer(&self, user_id: &str) -> Result<Vec<Place>, WeComError> {
        let mut found = Vec::new();
        for contact in self.corps_of_customer(user_id).await? {
            let corp_name = self.corp_name(&contact.corpid).await?;
            let me = Speaker {
                id: contact.external_userid.clone(),
                name: contact.name.clone(),
            };
            let (_, follows) = self
                .external_contact(&contact.corpid, &contact.external_userid)
                .await?;
            for follow in follows {
                let title = self
                    .member(&contact.corpid, &follow.userid)
                    .await
                    .map_or_else(|_| follow.userid.clone(), |m| m.name);
                let conversation = Conversation::Direct {
                    corpid: contact.corpid.clone(),
                    userid: follow.userid.to_ascii_lowercase(),
                    external_userid: contact.external_userid.clone(),
                };
                found.push(Place {
                    conversation,
                    kind: "direct",
                    title,
                    corp_name: corp_name.clone(),
                    me: me.clone(),
                });
            }
        }
        for group in self.groups_of_user(user_id).await? {
            let external = self.external_userid(&group.corpid, user_id);
            if let Some(me) = group
                .members
                .iter()
                .find(|m| m.kind == 2 && m.userid == external)
            {
                let me = Speaker {
                    id: me.userid.clone(),
                    name: me.name.clone(),
                };
                let corp_name = self.corp_name(&group.corpid).await?;
                found.push(Place {
                    conversation: Conversation::Group {
                        corpid: group.corpid.clone(),
                        chat_id: group.chat_id.clone(),
                    },
                    kind: "group",
                    title: group.name.clone(),
                    corp_name,
                    me,
                });
            }
        }
        Ok(found)
    }
}

/// The image a message carries: its content address and type.
fn image_of(message: &ChatMessage) -> Option<(String, String)> {
    (message.msgtype == "image").then(|| {
        let sha = message
            .content
            .get("sha256")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mime = message
            .content
            .get("mime")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        (sha, mime)
    })
}

/// The image type of `bytes` by their first bytes.
pub fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn conversation_ids_round_trip_and_refuse_anything_else() {
        let direct = Conversation::Direct {
            corpid: "ww1".into(),
            userid: "zhang.san".into(),
            external_userid: "wmabc".into(),
        };
        assert_eq!(Conversation::parse(&direct.id()).unwrap(), direct);
        let group = Conversation::Group {
            corpid: "ww1".into(),
            chat_id: "wr1".into(),
        };
        assert_eq!(Conversation::parse(&group.id()).unwrap(), group);
        for bad in [
            "",
            "x:ww1:wr1",
            "g:ww1",
            "g:ww1:wr/1",
            "d:ww1:a:b:c",
            "a::c1",
        ] {
            assert!(Conversation::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn content_is_checked_per_type() {
        let text = |t: &str| Content {
            msgtype: "text".into(),
            body: json!({ "content": t }),
        };
        assert!(check_chat_content(&text("你好")).is_ok());
        assert_eq!(check_chat_content(&text(" ")).unwrap_err().errcode(), 44004);
        assert_eq!(
            check_chat_content(&text(&"长".repeat(2_000)))
                .unwrap_err()
                .errcode(),
            45002
        );
        let card = Content {
            msgtype: "card".into(),
            body: json!({ "kind": "miniprogram", "title": "预约", "url": "/app/mp/wx1" }),
        };
        assert!(check_chat_content(&card).is_ok());
        let bad_card = Content {
            msgtype: "card".into(),
            body: json!({ "kind": "video", "title": "x", "url": "/x" }),
        };
        assert!(check_chat_content(&bad_card).is_err());
        let voice = Content {
            msgtype: "voice".into(),
            body: json!({}),
        };
        assert_eq!(check_chat_content(&voice).unwrap_err().errcode(), 40008);
    }

    #[test]
    fn images_are_recognised_by_their_first_bytes() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(image_type(&[0xff, 0xd8, 0xff, 0xe0]), Some("image/jpeg"));
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(image_type(b"<svg>"), None);
    }
}
