//! Subscribe messages: an app copies templates from the library, a user consents in the
//! container (each "accept" allows one message of that template), the app's back end
//! sends with data that must match the template, and the user receives a service
//! notification. Sending spends one consent and writes the message in one unit of work,
//! so a consent is never spent twice nor a message lost.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use plaza_kernel::record::{Expect, IndexEntry};

use crate::library::{self, check_value};
use crate::model::{Consent, LoginSession, ServiceMessage, Template, TemplateKeyword};
use crate::store::{index, kind, load, range, time_value, write};
use crate::{CONFLICT_RETRIES_MAX, MiniAppError, MiniApps};

/// Templates an app may hold (WeChat: 50).
pub const TEMPLATES_MAX: usize = 50;
/// Templates one consent request may ask about (WeChat: 3).
pub const CONSENT_TEMPLATES_MAX: usize = 3;

/// A user's answer for one template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Allows one more message.
    Accept,
    /// Allows none.
    Reject,
}

impl Decision {
    /// `accept` or `reject`, as `wx.requestSubscribeMessage` answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Accept => "accept",
            Decision::Reject => "reject",
        }
    }
}

/// What a back end sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The receiver's openid in the app.
    pub touser: String,
    /// The template's `priTmplId`.
    pub template_id: String,
    /// The page the notification opens, if any.
    pub page: Option<String>,
    /// `formal` (default), `trial` or `developer`.
    pub state: Option<String>,
    /// Data key → value.
    pub data: BTreeMap<String, String>,
}

impl MiniApps {
    /// Copies library template `tid` with keywords `kid_list` (2–5, distinct, in the
    /// order given) into the app.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::TidInvalid`], [`MiniAppError::KidListInvalid`],
    /// [`MiniAppError::SceneDescInvalid`], [`MiniAppError::TemplateLimit`].
    pub async fn add_template(
        &self,
        appid: &str,
        tid: u32,
        kid_list: &[u32],
        scene_desc: &str,
    ) -> Result<Template, MiniAppError> {
        let source = library::template(tid).ok_or(MiniAppError::TidInvalid)?;
        if !(2..=5).contains(&kid_list.len()) {
            return Err(MiniAppError::KidListInvalid {
                problem: "choose 2 to 5 keywords".to_owned(),
            });
        }
        let mut keywords = Vec::new();
        for kid in kid_list {
            let keyword = source
                .keywords
                .iter()
                .find(|keyword| keyword.kid == *kid)
                .ok_or_else(|| MiniAppError::KidListInvalid {
                    problem: format!("template {tid} has no keyword {kid}"),
                })?;
            let key = format!("{}{}", keyword.rule, keyword.kid);
            if keywords
                .iter()
                .any(|chosen: &TemplateKeyword| chosen.key == key)
            {
                return Err(MiniAppError::KidListInvalid {
                    problem: format!("keyword {kid} is listed twice"),
                });
            }
            keywords.push(TemplateKeyword {
                key,
                name: keyword.name.to_owned(),
                rule: keyword.rule.to_owned(),
                example: keyword.example.to_owned(),
            });
        }
        let scene_chars = scene_desc.chars().count();
        if !(1..=15).contains(&scene_chars) {
            return Err(MiniAppError::SceneDescInvalid);
        }
        if self.templates(appid).await?.len() >= TEMPLATES_MAX {
            return Err(MiniAppError::TemplateLimit { max: TEMPLATES_MAX });
        }
        let now = self.now();
        let template = Template {
            pri_tmpl_id: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()),
            appid: appid.to_owned(),
            tid,
            title: source.title.to_owned(),
            keywords,
            scene_desc: scene_desc.to_owned(),
            created_at: now,
            deleted_at: None,
        };
        let write = self.template_write(&template, Expect::Absent)?;
        if self.try_commit(vec![write]).await? {
            Ok(template)
        } else {
            Err(MiniAppError::Busy {
                what: "template".to_owned(),
            })
        }
    }

    fn template_write(
        &self,
        template: &Template,
        expect: Expect,
    ) -> Result<plaza_kernel::record::RecordWrite, MiniAppError> {
        write(
            kind::TEMPLATE,
            &template.pri_tmpl_id,
            expect,
            template,
            vec![IndexEntry::new(
                index::APP,
                format!(
                    "{}/{}",
                    template.appid,
                    time_value(template.created_at.unix_ms())
                ),
            )],
        )
    }

    /// The app's templates, oldest first (deleted ones left out).
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn templates(&self, appid: &str) -> Result<Vec<Template>, MiniAppError> {
        let all: Vec<Template> = range(
            &*self.records,
            kind::TEMPLATE,
            index::APP,
            (format!("{appid}/"), format!("{appid}/~")),
            1_000,
            false,
        )
        .await?;
        Ok(all
            .into_iter()
            .filter(|template| template.deleted_at.is_none())
            .collect())
    }

    /// One live template of the app, with its version.
    async fn template(&self, appid: &str, id: &str) -> Result<(Template, u64), MiniAppError> {
        match load::<Template>(&*self.records, kind::TEMPLATE, id).await? {
            Some((template, version))
                if template.appid == appid && template.deleted_at.is_none() =>
            {
                Ok((template, version))
            }
            _ => Err(MiniAppError::TemplateNotFound),
        }
    }

    /// Deletes one of the app's templates: it takes no more consent and sends nothing.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::TemplateNotFound`].
    pub async fn delete_template(&self, appid: &str, id: &str) -> Result<(), MiniAppError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut template, version) = self.template(appid, id).await?;
            template.deleted_at = Some(self.now());
            let write = self.template_write(&template, Expect::Version(version))?;
            if self.try_commit(vec![write]).await? {
                return Ok(());
            }
        }
        Err(MiniAppError::Busy {
            what: "template".to_owned(),
        })
    }

    /// The user's answers in the container's consent sheet: each accepted template
    /// allows one more message. At most [`CONSENT_TEMPLATES_MAX`] templates, each one
    /// of the app's.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Invalid`] for too many or unknown template ids.
    pub async fn consent(
        &self,
        appid: &str,
        user_id: &str,
        decisions: &[(String, Decision)],
    ) -> Result<(), MiniAppError> {
        if decisions.is_empty() || decisions.len() > CONSENT_TEMPLATES_MAX {
            return Err(MiniAppError::invalid(
                "tmplIds",
                format!("ask about 1 to {CONSENT_TEMPLATES_MAX} templates"),
            ));
        }
        for (id, _) in decisions {
            self.template(appid, id).await.map_err(|_| {
                MiniAppError::invalid("tmplIds", format!("{id} is not a template of this app"))
            })?;
        }
        for _ in 0..CONFLICT_RETRIES_MAX {
            let mut writes = vec![self.openid_write(appid, user_id)?];
            for (id, decision) in decisions {
                if *decision == Decision::Reject {
                    continue;
                }
                let key = format!("{appid}/{user_id}/{id}");
                let (mut consent, expect) =
                    match load::<Consent>(&*self.records, kind::CONSENT, &key).await? {
                        Some((consent, version)) => (consent, Expect::Version(version)),
                        None => (Consent::default(), Expect::Absent),
                    };
                consent.remaining = consent.remaining.saturating_add(1);
                writes.push(write(kind::CONSENT, &key, expect, &consent, vec![])?);
            }
            if self.try_commit(writes).await? {
                return Ok(());
            }
        }
        Err(MiniAppError::Busy {
            what: "consent".to_owned(),
        })
    }

    fn openid_write(
        &self,
        appid: &str,
        user_id: &str,
    ) -> Result<plaza_kernel::record::RecordWrite, MiniAppError> {
        let openid = self.identity.openid(appid, user_id);
        write(
            kind::OPENID,
            &format!("{appid}/{openid}"),
            Expect::Any,
            &user_id,
            vec![],
        )
    }

    /// The user an openid names in the app: one who consented or logged in there.
    async fn user_of(&self, appid: &str, openid: &str) -> Result<Option<String>, MiniAppError> {
        let key = format!("{appid}/{openid}");
        if let Some((user_id, _)) = load::<String>(&*self.records, kind::OPENID, &key).await? {
            return Ok(Some(user_id));
        }
        Ok(load::<LoginSession>(&*self.records, kind::SESSION, &key)
            .await?
            .map(|(session, _)| session.user_id))
    }

    /// `/cgi-bin/message/subscribe/send`: checks the template and every data value,
    /// then spends one of the user's consents and writes the message together.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::TemplateNotFound`] (`40037`), [`MiniAppError::OpenidInvalid`]
    /// (`40003`), [`MiniAppError::DataInvalid`] (`47003`, naming the key),
    /// [`MiniAppError::ConsentMissing`] (`43101`).
    pub async fn send_subscribe(
        &self,
        appid: &str,
        outgoing: Outgoing,
    ) -> Result<ServiceMessage, MiniAppError> {
        let (template, _) = self.template(appid, &outgoing.template_id).await?;
        let user_id = self
            .user_of(appid, &outgoing.touser)
            .await?
            .ok_or(MiniAppError::OpenidInvalid)?;
        let rows = check_data(&template, &outgoing.data)?;
        let state = outgoing
            .state
            .clone()
            .unwrap_or_else(|| "formal".to_owned());
        if !["formal", "trial", "developer"].contains(&state.as_str()) {
            return Err(MiniAppError::invalid(
                "miniprogram_state",
                "formal, trial or developer",
            ));
        }
        let app = self.existing_app(appid).await?;
        let key = format!("{appid}/{user_id}/{}", template.pri_tmpl_id);
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut consent, version)) =
                load::<Consent>(&*self.records, kind::CONSENT, &key).await?
            else {
                return Err(MiniAppError::ConsentMissing);
            };
            if consent.remaining == 0 {
                return Err(MiniAppError::ConsentMissing);
            }
            consent.remaining -= 1;
            let now = self.now();
            let message = ServiceMessage {
                msgid: new_msgid(),
                appid: appid.to_owned(),
                app_name: app.name.clone(),
                user_id: user_id.clone(),
                pri_tmpl_id: template.pri_tmpl_id.clone(),
                title: template.title.clone(),
                rows: rows.clone(),
                page: outgoing.page.clone(),
                state: state.clone(),
                sent_at: now,
            };
            let writes = vec![
                write(
                    kind::CONSENT,
                    &key,
                    Expect::Version(version),
                    &consent,
                    vec![],
                )?,
                write(
                    kind::MESSAGE,
                    &message.msgid,
                    Expect::Absent,
                    &message,
                    vec![IndexEntry::new(
                        index::RECEIVER,
                        format!("{user_id}/{}", time_value(now.unix_ms())),
                    )],
                )?,
            ];
            if self.try_commit(writes).await? {
                return Ok(message);
            }
        }
        Err(MiniAppError::Busy {
            what: "consent".to_owned(),
        })
    }

    /// The user's service notifications, newest first, at most `rows_max`.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn messages_of(
        &self,
        user_id: &str,
        rows_max: usize,
    ) -> Result<Vec<ServiceMessage>, MiniAppError> {
        range(
            &*self.records,
            kind::MESSAGE,
            index::RECEIVER,
            (format!("{user_id}/"), format!("{user_id}/~")),
            rows_max,
            true,
        )
        .await
    }
}

/// The message's rows, in the template's order, when `data` has exactly the template's
/// keys and every value follows its rule.
fn check_data(
    template: &Template,
    data: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, MiniAppError> {
    if let Some(unknown) = data
        .keys()
        .find(|key| !template.keywords.iter().any(|keyword| &keyword.key == *key))
    {
        return Err(MiniAppError::DataInvalid {
            key: unknown.clone(),
            problem: "the template has no such keyword".to_owned(),
        });
    }
    template
        .keywords
        .iter()
        .map(|keyword| {
            let value = data
                .get(&keyword.key)
                .ok_or_else(|| MiniAppError::DataInvalid {
                    key: keyword.key.clone(),
                    problem: "is missing".to_owned(),
                })?;
            check_value(&keyword.rule, value).map_err(|problem| MiniAppError::DataInvalid {
                key: keyword.key.clone(),
                problem: problem.to_owned(),
            })?;
            Ok((keyword.name.clone(), value.clone()))
        })
        .collect()
}

/// A message id: 19 digits, like WeChat's.
fn new_msgid() -> String {
    let number: u64 = rand::random::<u64>() % 9_000_000_000_000_000_000 + 1_000_000_000_000_000_000;
    number.to_string()
}
