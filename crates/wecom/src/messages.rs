//! App messages (`message/send`) delivered to members, and internal group chats
//! (`appchat`) whose messages are kept in order in a conversation.

use plaza_kernel::record::{Expect, IndexEntry};
use serde_json::Value;

use crate::model::{AppChat, AppMessage, CorpApp, Member, MemberStatus, Scope};
use crate::store::{appchat_writes, index, kind, load, seated_in, time_value, write};
use crate::{ALNUM, CONFLICT_RETRIES_MAX, HEX, WeCom, WeComError, random_text};

/// Userids a message may name.
pub const TOUSER_MAX: usize = 1_000;
/// Departments a message may name.
pub const TOPARTY_MAX: usize = 100;
/// The largest text or markdown content, in bytes.
pub const CONTENT_BYTES_MAX: usize = 2_048;
/// Members an appchat may have.
pub const APPCHAT_MEMBERS_MAX: usize = 2_000;
/// Messages an inbox page holds at most.
pub const INBOX_PAGE_MAX: usize = 200;

/// What `message/send` and `appchat/send` carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// `text`, `markdown`, `textcard` or `news`.
    pub msgtype: String,
    /// The object under the type's name.
    pub body: Value,
}

/// What `appchat/update` changes; empty lists and `None` change nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppChatChange {
    /// A new name.
    pub name: Option<String>,
    /// A new owner (a member of the chat).
    pub owner: Option<String>,
    /// Members to add.
    pub add: Vec<String>,
    /// Members to remove.
    pub remove: Vec<String>,
}

pub use crate::model::Invalid;

/// A message sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Its id.
    pub msgid: String,
    /// Who it did not reach.
    pub invalid: Invalid,
}

/// The recipients of `message/send`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipients {
    /// `touser`, `|`-separated, or `@all`.
    pub touser: String,
    /// `toparty`, `|`-separated.
    pub toparty: String,
    /// `totag`, `|`-separated.
    pub totag: String,
}

fn split(list: &str) -> Vec<&str> {
    list.split('|')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

fn text_of<'a>(body: &'a Value, field: &str) -> Option<&'a str> {
    body.get(field).and_then(Value::as_str)
}

/// Checks a message's content against its type's limits.
///
/// # Errors
///
/// [`WeComError::Invalid`]: 40008 unknown type, 44004 empty content, 45002 too long,
/// 40058 a bad field.
pub fn check_content(content: &Content) -> Result<(), WeComError> {
    let body = &content.body;
    let bytes_max = |field: &str, max: usize, required: bool| -> Result<(), WeComError> {
        match text_of(body, field) {
            Some(text) if text.len() > max => Err(WeComError::invalid_as(
                45002,
                field,
                format!("at most {max} bytes"),
            )),
            Some(text) if required && text.trim().is_empty() => {
                Err(WeComError::invalid_as(44004, field, "is empty"))
            }
            None if required => Err(WeComError::invalid_as(44004, field, "is required")),
            _ => Ok(()),
        }
    };
    match content.msgtype.as_str() {
        "text" | "markdown" => bytes_max("content", CONTENT_BYTES_MAX, true),
        "textcard" => {
            bytes_max("title", 128, true)?;
            bytes_max("description", 512, true)?;
            bytes_max("url", 2_048, true)?;
            if text_of(body, "btntxt").is_some_and(|b| b.chars().count() > 4) {
                return Err(WeComError::invalid_as(
                    45002,
                    "btntxt",
                    "at most 4 characters",
                ));
            }
            Ok(())
        }
        "news" => {
            let articles = body
                .get("articles")
                .and_then(Value::as_array)
                .ok_or_else(|| WeComError::invalid_as(44004, "articles", "is required"))?;
            if articles.is_empty() || articles.len() > 8 {
                return Err(WeComError::invalid_as(
                    45008,
                    "articles",
                    "must hold 1 to 8 articles",
                ));
            }
            for article in articles {
                match text_of(article, "title") {
                    Some(title) if !title.trim().is_empty() && title.len() <= 128 => {}
                    _ => {
                        return Err(WeComError::invalid_as(
                            44004,
                            "articles.title",
                            "each article needs a title of at most 128 bytes",
                        ));
                    }
                }
            }
            Ok(())
        }
        other => Err(WeComError::invalid_as(
            40008,
            "msgtype",
            format!("{other:?} is not one of text, markdown, textcard, news"),
        )),
    }
}

impl WeCom {
    /// The app a token acts as, which must be `agentid`.
    async fn sending_app(
        &self,
        corpid: &str,
        scope: Scope,
        agentid: i64,
    ) -> Result<CorpApp, WeComError> {
        let app = self.app(corpid, agentid).await?;
        match scope {
            Scope::Agent(own) if own == app.agentid => Ok(app),
            _ => Err(WeComError::invalid_as(
                301_002,
                "agentid",
                "is not the app this token's secret belongs to",
            )),
        }
    }

    /// Whether an app's visible range reaches a member.
    fn reaches(app: &CorpApp, member: &Member, visible: &std::collections::HashSet<u32>) -> bool {
        app.visible_users
            .iter()
            .any(|u| u.eq_ignore_ascii_case(&member.userid))
            || member.department.iter().any(|d| visible.contains(d))
    }

    async fn visible_departments(
        &self,
        app: &CorpApp,
    ) -> Result<std::collections::HashSet<u32>, WeComError> {
        let all = self.all_departments(&app.corpid).await?;
        Ok(app
            .visible_departments
            .iter()
            .flat_map(|top| crate::directory::subtree(&all, *top))
            .map(|d| d.id)
            .collect())
    }

    /// The members `users` and `parties` reach within the app's range, each once, and
    /// the names that reached nobody.
    async fn resolve(
        &self,
        app: &CorpApp,
        users: &[&str],
        parties: &[&str],
        tags: &[&str],
    ) -> Result<(Vec<String>, Invalid), WeComError> {
        let corpid = app.corpid.as_str();
        let visible = self.visible_departments(app).await?;
        let all = self.all_members(corpid).await?;
        let reachable =
            |m: &Member| m.status() != MemberStatus::Disabled && Self::reaches(app, m, &visible);
        let mut recipients: Vec<String> = Vec::new();
        let add = |member: &Member, recipients: &mut Vec<String>| {
            if !recipients
                .iter()
                .any(|r| r.eq_ignore_ascii_case(&member.userid))
            {
                recipients.push(member.userid.clone());
            }
        };
        let mut invalid = Invalid::default();
        let mut bad_users = Vec::new();
        if users.contains(&"@all") {
            for member in all.iter().filter(|m| reachable(m)) {
                add(member, &mut recipients);
            }
        } else {
            for userid in users {
                match all.iter().find(|m| m.userid.eq_ignore_ascii_case(userid)) {
                    Some(member) if reachable(member) => add(member, &mut recipients),
                    _ => bad_users.push(userid.to_ascii_lowercase()),
                }
            }
        }
        let departments = self.all_departments(corpid).await?;
        let mut bad_parties = Vec::new();
        for party in parties {
            match party
                .parse::<u32>()
                .ok()
                .filter(|id| departments.iter().any(|d| d.id == *id) && visible.contains(id))
            {
                Some(id) => {
                    let ids: std::collections::HashSet<u32> =
                        crate::directory::subtree(&departments, id)
                            .iter()
                            .map(|d| d.id)
                            .collect();
                    for member in all
                        .iter()
                        .filter(|m| reachable(m) && m.department.iter().any(|d| ids.contains(d)))
                    {
                        add(member, &mut recipients);
                    }
                }
                None => bad_parties.push((*party).to_owned()),
            }
        }
        invalid.invaliduser = bad_users.join("|");
        invalid.invalidparty = bad_parties.join("|");
        // Tags are not kept yet: every tag named is invalid.
        invalid.invalidtag = tags.join("|");
        Ok((recipients, invalid))
    }

    /// `message/send`: delivers to every valid recipient within the app's visible range
    /// (each member once) and names the invalid ones; nobody valid is 81013.
    ///
    /// # Errors
    ///
    /// [`WeComError::NoRecipient`], errors of [`check_content`], 40056/301002 for an
    /// agentid that is not the token's.
    pub async fn send_app_message(
        &self,
        corpid: &str,
        scope: Scope,
        agentid: i64,
        to: &Recipients,
        content: Content,
    ) -> Result<Sent, WeComError> {
        let app = self.sending_app(corpid, scope, agentid).await?;
        check_content(&content)?;
        let users = split(&to.touser);
        let parties = split(&to.toparty);
        let tags = split(&to.totag);
        if users.is_empty() && parties.is_empty() && tags.is_empty() {
            return Err(WeComError::invalid_as(
                40058,
                "touser",
                "touser, toparty and totag are all empty",
            ));
        }
        if users.len() > TOUSER_MAX || parties.len() > TOPARTY_MAX || tags.len() > TOPARTY_MAX {
            return Err(WeComError::invalid_as(
                40058,
                "touser",
                format!(
                    "at most {TOUSER_MAX} users, {TOPARTY_MAX} departments and {TOPARTY_MAX} tags"
                ),
            ));
        }
        let (recipients, invalid) = self.resolve(&app, &users, &parties, &tags).await?;
        if recipients.is_empty() {
            return Err(WeComError::NoRecipient {
                invalid: Box::new(invalid),
            });
        }
        let now = self.now();
        let message = AppMessage {
            corpid: corpid.to_owned(),
            msgid: random_text(ALNUM, 32),
            agentid: app.agentid,
            msgtype: content.msgtype,
            content: content.body,
            recipients,
            sent_at: now,
        };
        let index = message
            .recipients
            .iter()
            .map(|userid| {
                IndexEntry::new(
                    index::RECIPIENT,
                    format!(
                        "{corpid}/{}/{}",
                        userid.to_ascii_lowercase(),
                        time_value(now.unix_ms())
                    ),
                )
            })
            .collect();
        let record = write(
            kind::APP_MESSAGE,
            &format!("{corpid}/{}", message.msgid),
            Expect::Absent,
            &message,
            index,
        )?;
        if !self.try_commit(vec![record]).await? {
            return Err(Self::busy("message"));
        }
        Ok(Sent {
            msgid: message.msgid,
            invalid,
        })
    }

    /// A member writes to an app (in the app's conversation on the workbench): the
    /// corp's server receives it as a `text` message on its callback, with the member as
    /// `FromUserName` and the app's `AgentID`. Returns the `MsgId`.
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] (44004 empty, 45002 too long), [`WeComError::Forbidden`]
    /// when the app does not reach the member or the member is disabled,
    /// [`WeComError::AppNotFound`]; store failures.
    pub async fn message_app(
        &self,
        member: &Member,
        agentid: u32,
        text: &str,
    ) -> Result<String, WeComError> {
        if text.trim().is_empty() {
            return Err(WeComError::invalid_as(44004, "content", "is empty"));
        }
        if text.len() > CONTENT_BYTES_MAX {
            return Err(WeComError::invalid_as(
                45002,
                "content",
                format!("at most {CONTENT_BYTES_MAX} bytes"),
            ));
        }
        let app = self.app(&member.corpid, i64::from(agentid)).await?;
        let visible = self.visible_departments(&app).await?;
        if member.status() == MemberStatus::Disabled || !Self::reaches(&app, member, &visible) {
            return Err(WeComError::Forbidden {
                what: format!("{} does not reach {}", app.name, member.userid),
            });
        }
        let msgid = rand::random::<u64>().to_string();
        let event = crate::model::CallbackEvent {
            corpid: member.corpid.clone(),
            id: random_text(HEX, 24),
            event: String::new(),
            change_type: String::new(),
            fields: vec![
                ("Content".to_owned(), text.to_owned()),
                ("MsgId".to_owned(), msgid.clone()),
            ],
            msg_type: "text".to_owned(),
            from: member.userid.clone(),
            agentid: Some(agentid),
            created_at: self.now(),
            attempts: Vec::new(),
            delivered_at: None,
        };
        let (record, job) = self.event_writes(event)?;
        if self.try_commit_with_jobs(vec![record], vec![job]).await? {
            Ok(msgid)
        } else {
            Err(Self::busy("message"))
        }
    }

    /// A member's app messages, newest first.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn inbox(
        &self,
        corpid: &str,
        userid: &str,
        rows_max: usize,
    ) -> Result<Vec<AppMessage>, WeComError> {
        let prefix = format!("{corpid}/{}/", userid.to_ascii_lowercase());
        let range = plaza_kernel::record::IndexRange {
            kind: kind::APP_MESSAGE.to_owned(),
            name: index::RECIPIENT.to_owned(),
            from: prefix.clone(),
            to: format!("{prefix}\u{10FFFF}"),
            after: None,
            rows_max: rows_max.min(INBOX_PAGE_MAX),
            newest_first: true,
        };
        Ok(plaza_kernel::record::range_json(&*self.records, range).await?)
    }

    /// `appchat/create`: an internal group of 2 or more members, made by an app whose
    /// visible range is the whole corp.
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] (86001 chatid, 86004 name, 86005 owner, 86006 count,
    /// 86007 member), [`WeComError::ChatExists`], [`WeComError::Forbidden`].
    pub async fn create_appchat(
        &self,
        corpid: &str,
        scope: Scope,
        name: &str,
        owner: Option<&str>,
        userlist: &[String],
        chatid: Option<&str>,
    ) -> Result<AppChat, WeComError> {
        self.appchat_app(corpid, scope).await?;
        if name.chars().count() > 50 {
            return Err(WeComError::invalid_as(
                86004,
                "name",
                "at most 50 characters",
            ));
        }
        let chatid = match chatid {
            Some(id)
                if id.is_empty()
                    || id.len() > 32
                    || !id.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                return Err(WeComError::invalid_as(
                    86001,
                    "chatid",
                    "must be 1 to 32 letters and digits",
                ));
            }
            Some(id) => id.to_owned(),
            None => random_text(HEX, 32),
        };
        let members = self.chat_members(corpid, userlist).await?;
        if members.len() < 2 || members.len() > APPCHAT_MEMBERS_MAX {
            return Err(WeComError::invalid_as(
                86006,
                "userlist",
                format!("an appchat has 2 to {APPCHAT_MEMBERS_MAX} members"),
            ));
        }
        let owner = match owner {
            Some(owner) => members
                .iter()
                .find(|m| m.eq_ignore_ascii_case(owner))
                .cloned()
                .ok_or_else(|| WeComError::invalid_as(86005, "owner", "must be in userlist"))?,
            None => members[0].clone(),
        };
        let chat = AppChat {
            corpid: corpid.to_owned(),
            chatid: chatid.clone(),
            name: name.to_owned(),
            owner,
            userlist: members,
            created_at: self.now(),
        };
        if !self
            .try_commit(appchat_writes(None, &chat, Expect::Absent)?)
            .await?
        {
            return Err(WeComError::ChatExists { chatid });
        }
        Ok(chat)
    }

    pub(crate) async fn appchat_app(
        &self,
        corpid: &str,
        scope: Scope,
    ) -> Result<CorpApp, WeComError> {
        let Scope::Agent(agentid) = scope else {
            return Err(WeComError::Forbidden {
                what: "appchat is for an app's token".to_owned(),
            });
        };
        let app = self.app(corpid, i64::from(agentid)).await?;
        if !app.sees_whole_corp() {
            return Err(WeComError::Forbidden {
                what: "appchat needs an app visible to the whole corp".to_owned(),
            });
        }
        Ok(app)
    }

    /// The members named, each once, as stored; 86007 names the first unknown.
    async fn chat_members(
        &self,
        corpid: &str,
        userlist: &[String],
    ) -> Result<Vec<String>, WeComError> {
        let mut members: Vec<String> = Vec::new();
        for userid in userlist {
            let member = self.member(corpid, userid).await.map_err(|_| {
                WeComError::invalid_as(86007, "userlist", format!("{userid} is not a member"))
            })?;
            if !members
                .iter()
                .any(|m| m.eq_ignore_ascii_case(&member.userid))
            {
                members.push(member.userid);
            }
        }
        Ok(members)
    }

    /// `appchat/get`.
    ///
    /// # Errors
    ///
    /// [`WeComError::ChatNotFound`].
    pub async fn appchat(&self, corpid: &str, chatid: &str) -> Result<AppChat, WeComError> {
        Ok(self.appchat_versioned(corpid, chatid).await?.0)
    }

    async fn appchat_versioned(
        &self,
        corpid: &str,
        chatid: &str,
    ) -> Result<(AppChat, u64), WeComError> {
        load::<AppChat>(&*self.records, kind::APPCHAT, &format!("{corpid}/{chatid}"))
            .await?
            .ok_or_else(|| WeComError::ChatNotFound {
                chatid: chatid.to_owned(),
            })
    }

    /// `appchat/update`: name, owner, members added and removed.
    ///
    /// # Errors
    ///
    /// As [`WeCom::create_appchat`], and [`WeComError::ChatNotFound`].
    pub async fn update_appchat(
        &self,
        corpid: &str,
        scope: Scope,
        chatid: &str,
        change: &AppChatChange,
    ) -> Result<AppChat, WeComError> {
        let AppChatChange {
            name,
            owner,
            add,
            remove,
        } = change;
        let (name, owner) = (name.as_deref(), owner.as_deref());
        self.appchat_app(corpid, scope).await?;
        let added = self.chat_members(corpid, add).await?;
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut chat, version) = self.appchat_versioned(corpid, chatid).await?;
            let before = chat.clone();
            if let Some(name) = name {
                if name.chars().count() > 50 {
                    return Err(WeComError::invalid_as(
                        86004,
                        "name",
                        "at most 50 characters",
                    ));
                }
                chat.name = name.to_owned();
            }
            for userid in &added {
                if !chat.userlist.iter().any(|m| m.eq_ignore_ascii_case(userid)) {
                    chat.userlist.push(userid.clone());
                }
            }
            chat.userlist
                .retain(|m| !remove.iter().any(|r| r.eq_ignore_ascii_case(m)));
            if chat.userlist.len() < 2 || chat.userlist.len() > APPCHAT_MEMBERS_MAX {
                return Err(WeComError::invalid_as(
                    86006,
                    "del_user_list",
                    format!("an appchat keeps 2 to {APPCHAT_MEMBERS_MAX} members"),
                ));
            }
            if let Some(owner) = owner {
                chat.owner = chat
                    .userlist
                    .iter()
                    .find(|m| m.eq_ignore_ascii_case(owner))
                    .cloned()
                    .ok_or_else(|| {
                        WeComError::invalid_as(86005, "owner", "must be a member of the chat")
                    })?;
            } else if !chat
                .userlist
                .iter()
                .any(|m| m.eq_ignore_ascii_case(&chat.owner))
            {
                chat.owner = chat.userlist[0].clone();
            }
            if self
                .try_commit(appchat_writes(
                    Some(&before),
                    &chat,
                    Expect::Version(version),
                )?)
                .await?
            {
                return Ok(chat);
            }
        }
        Err(Self::busy("appchat"))
    }

    /// The appchats a member is in.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn appchats_of(
        &self,
        corpid: &str,
        userid: &str,
    ) -> Result<Vec<AppChat>, WeComError> {
        seated_in(
            &*self.records,
            (kind::APPCHAT_SEAT, kind::APPCHAT),
            index::CHAT_MEMBER,
            &format!("{corpid}/{}/", userid.to_ascii_lowercase()),
            200,
        )
        .await
    }
}
