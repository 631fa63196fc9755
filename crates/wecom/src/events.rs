//! Callbacks to the corp's server (§4.11): events are recorded in the unit of work of
//! the change they report (so none is sent for something that did not commit, and none
//! is lost once it did), each with a delivery job; a delivery encrypts and signs the
//! event's XML with the corp's token and `EncodingAESKey` (WXBizMsgCrypt) and POSTs it,
//! and the job retries with back-off until the server answers 200. Configuring the URL
//! verifies it first, as WeCom does: a `GET` with an encrypted `echostr` that the server
//! must answer with the plain text.

use plaza_kernel::queue::NewJob;
use plaza_kernel::record::{Expect, IndexEntry, RecordWrite};
use plaza_wx::msgcrypt::{MsgCrypt, cdata};

use crate::model::{CallbackAttempt, CallbackConfig, CallbackEvent};
use std::sync::Arc;

use crate::ports::{CallbackRequest, CallbackSender};
use crate::store::{corp_write, index, kind, load, time_value, write};
use crate::{ALNUM, CONFLICT_RETRIES_MAX, HEX, WeCom, WeComError, random_text};

/// The job that delivers one event; its payload is `corpid/event id`.
pub const JOB_CALLBACK: &str = "wecom.callback";
/// Events listed at most at once.
pub const EVENTS_LISTED_MAX: usize = 200;
/// Attempts kept per event (the oldest are dropped beyond).
const ATTEMPTS_KEPT_MAX: usize = 20;

/// Why a delivery did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryFailure {
    /// Try again later.
    Retry(String),
    /// Nothing to deliver (no callback configured, or the event is gone).
    Nothing(String),
}

impl CallbackEvent {
    /// The plain XML of the event, as the corp's server reads it after decryption: an
    /// event (`Event`, `ChangeType` and its elements) or a member's message to an app
    /// (`Content`, `MsgId`), with `AgentID` when it concerns an app.
    pub fn xml(&self) -> String {
        let mut xml = format!(
            "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{}</CreateTime><MsgType>{}</MsgType>",
            cdata(&self.corpid),
            cdata(&self.from),
            self.created_at.unix_ms() / 1_000,
            cdata(&self.msg_type),
        );
        if self.msg_type == "event" {
            xml.push_str(&format!("<Event>{}</Event>", cdata(&self.event)));
            if !self.change_type.is_empty() {
                xml.push_str(&format!(
                    "<ChangeType>{}</ChangeType>",
                    cdata(&self.change_type)
                ));
            }
        }
        for (name, value) in &self.fields {
            if value.starts_with("<Item>") || name == "MsgId" {
                xml.push_str(&format!("<{name}>{value}</{name}>"));
            } else {
                xml.push_str(&format!("<{name}>{}</{name}>", cdata(value)));
            }
        }
        if let Some(agentid) = self.agentid {
            xml.push_str(&format!("<AgentID>{agentid}</AgentID>"));
        }
        xml.push_str("</xml>");
        xml
    }
}

/// `<Item>…</Item>` children for a list element (`MemChangeList`).
pub fn items(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("<Item>{}</Item>", cdata(v)))
        .collect()
}

fn event_key(corpid: &str, id: &str) -> String {
    format!("{corpid}/{id}")
}

fn event_write(event: &CallbackEvent, expect: Expect) -> Result<RecordWrite, WeComError> {
    write(
        kind::CALLBACK_EVENT,
        &event_key(&event.corpid, &event.id),
        expect,
        event,
        vec![IndexEntry::new(
            index::CORP,
            format!(
                "{}/{}/{}",
                event.corpid,
                time_value(event.created_at.unix_ms()),
                event.id
            ),
        )],
    )
}

impl WeCom {
    /// An event's record and its delivery job, for the caller's unit of work.
    pub(crate) fn new_event(
        &self,
        corpid: &str,
        event: &str,
        change_type: &str,
        fields: Vec<(String, String)>,
    ) -> Result<(RecordWrite, NewJob), WeComError> {
        let event = CallbackEvent {
            corpid: corpid.to_owned(),
            id: random_text(HEX, 24),
            event: event.to_owned(),
            change_type: change_type.to_owned(),
            fields,
            msg_type: "event".to_owned(),
            from: "sys".to_owned(),
            agentid: None,
            created_at: self.now(),
            attempts: Vec::new(),
            delivered_at: None,
        };
        self.event_writes(event)
    }

    /// An event's record and its delivery job, as made.
    pub(crate) fn event_writes(
        &self,
        event: CallbackEvent,
    ) -> Result<(RecordWrite, NewJob), WeComError> {
        let (corpid, now) = (event.corpid.as_str(), event.created_at);
        let job = NewJob {
            kind: JOB_CALLBACK.to_owned(),
            key: event_key(corpid, &event.id),
            payload: event_key(corpid, &event.id),
            due_at: now,
        };
        Ok((event_write(&event, Expect::Absent)?, job))
    }

    /// Sets where the corp's callbacks go, after verifying the URL: a `GET` with an
    /// encrypted `echostr` the server must answer with the decrypted text.
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] for a bad key or URL, or a server that did not verify;
    /// [`WeComError::CorpNotFound`].
    pub async fn set_callback(
        &self,
        corpid: &str,
        config: CallbackConfig,
    ) -> Result<(), WeComError> {
        let sender = self
            .callbacks
            .as_ref()
            .ok_or_else(|| WeComError::Unavailable {
                reason: "no callback sender is configured".to_owned(),
            })?;
        let crypt = check_callback(corpid, &config)?;
        self.corp_versioned(corpid).await?;
        let echo = random_text(ALNUM, 20);
        let random: [u8; 16] = rand::random();
        let echostr = crypt
            .encrypt(echo.as_bytes(), random)
            .map_err(|error| WeComError::invalid("encoding_aes_key", error.to_string()))?;
        let timestamp = (self.now().unix_ms() / 1_000).to_string();
        let nonce = random_text(ALNUM, 10);
        let signature = crypt.sign(&timestamp, &nonce, &echostr);
        let url = with_query(
            &config.url,
            &[
                ("msg_signature", &signature),
                ("timestamp", &timestamp),
                ("nonce", &nonce),
                ("echostr", &echostr),
            ],
        );
        let answer = sender
            .send(CallbackRequest {
                method: "GET",
                url,
                body: String::new(),
            })
            .await
            .map_err(|reason| {
                WeComError::invalid(
                    "url",
                    format!("the server did not answer the verification: {reason}"),
                )
            })?;
        if answer.status != 200 || answer.body.trim_end_matches(['\r', '\n']) != echo {
            return Err(WeComError::invalid(
                "url",
                format!(
                    "the server must answer the verification with the decrypted echostr (HTTP {}, {} bytes)",
                    answer.status,
                    answer.body.len()
                ),
            ));
        }
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut corp, version) = self.corp_versioned(corpid).await?;
            corp.callback = Some(config.clone());
            if self
                .try_commit(vec![corp_write(&corp, Expect::Version(version))?])
                .await?
            {
                return Ok(());
            }
        }
        Err(Self::busy("corp"))
    }

    /// Delivers one event (the job's work): encrypted, signed and POSTed; the attempt is
    /// recorded whatever happens.
    ///
    /// # Errors
    ///
    /// [`DeliveryFailure::Retry`] until the server answers 200; `Nothing` when there is
    /// nothing to send.
    pub async fn deliver(&self, payload: &str) -> Result<(), DeliveryFailure> {
        let unavailable = |error: WeComError| DeliveryFailure::Retry(error.to_string());
        let (corpid, _) = payload
            .split_once('/')
            .ok_or_else(|| DeliveryFailure::Nothing(format!("bad payload {payload}")))?;
        let Some((event, _)) = load::<CallbackEvent>(&*self.records, kind::CALLBACK_EVENT, payload)
            .await
            .map_err(unavailable)?
        else {
            return Err(DeliveryFailure::Nothing(format!("no event {payload}")));
        };
        if event.delivered_at.is_some() {
            return Ok(());
        }
        let corp = self.corp_versioned(corpid).await.map_err(unavailable)?.0;
        let Some(config) = corp.callback else {
            return Err(DeliveryFailure::Nothing(
                "the corp has no callback URL".to_owned(),
            ));
        };
        let sender = self
            .callbacks
            .as_ref()
            .ok_or_else(|| DeliveryFailure::Nothing("no sender".to_owned()))?;
        let attempt = self.post_event(sender, corpid, &config, &event).await?;
        let delivered = attempt.error.is_none();
        let attempt_error = attempt.error.clone();
        self.record_attempt(payload, attempt, delivered)
            .await
            .map_err(unavailable)?;
        if delivered {
            Ok(())
        } else {
            Err(DeliveryFailure::Retry(attempt_error.unwrap_or_default()))
        }
    }

    /// Seals the event for the corp's server and POSTs it: the attempt as it went.
    async fn post_event(
        &self,
        sender: &Arc<dyn CallbackSender>,
        corpid: &str,
        config: &CallbackConfig,
        event: &CallbackEvent,
    ) -> Result<CallbackAttempt, DeliveryFailure> {
        let agentid = event
            .agentid
            .unwrap_or(crate::corps::FIRST_AGENTID)
            .to_string();
        let crypt = MsgCrypt::new(&config.token, &config.encoding_aes_key, corpid)
            .map_err(|e| DeliveryFailure::Nothing(e.to_string()))?;
        let nonce = random_text(ALNUM, 10);
        let sealed = crypt
            .seal_event(
                &agentid,
                &event.xml(),
                self.now().unix_ms() / 1_000,
                &nonce,
                rand::random(),
            )
            .map_err(|e| DeliveryFailure::Nothing(e.to_string()))?;
        let url = with_query(
            &config.url,
            &[
                ("msg_signature", &sealed.msg_signature),
                ("timestamp", &sealed.timestamp),
                ("nonce", &sealed.nonce),
            ],
        );
        let answer = sender
            .send(CallbackRequest {
                method: "POST",
                url: url.clone(),
                body: sealed.body,
            })
            .await;
        let attempt = CallbackAttempt {
            at: self.now(),
            url,
            status: answer.as_ref().ok().map(|a| a.status),
            error: match &answer {
                Ok(a) if a.status == 200 => None,
                Ok(a) => Some(format!("HTTP {}", a.status)),
                Err(reason) => Some(reason.clone()),
            },
        };
        Ok(attempt)
    }

    async fn record_attempt(
        &self,
        key: &str,
        attempt: CallbackAttempt,
        delivered: bool,
    ) -> Result<(), WeComError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut event, version)) =
                load::<CallbackEvent>(&*self.records, kind::CALLBACK_EVENT, key).await?
            else {
                return Ok(());
            };
            event.attempts.push(attempt.clone());
            if event.attempts.len() > ATTEMPTS_KEPT_MAX {
                event.attempts.remove(0);
            }
            if delivered {
                event.delivered_at = Some(attempt.at);
            }
            if self
                .try_commit(vec![event_write(&event, Expect::Version(version))?])
                .await?
            {
                return Ok(());
            }
        }
        Err(Self::busy("callback event"))
    }

    /// A corp's events, newest first.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn events(
        &self,
        corpid: &str,
        rows_max: usize,
    ) -> Result<Vec<CallbackEvent>, WeComError> {
        let prefix = format!("{corpid}/");
        let range = plaza_kernel::record::IndexRange {
            kind: kind::CALLBACK_EVENT.to_owned(),
            name: index::CORP.to_owned(),
            from: prefix.clone(),
            to: format!("{prefix}\u{10FFFF}"),
            after: None,
            rows_max: rows_max.min(EVENTS_LISTED_MAX),
            newest_first: true,
        };
        Ok(plaza_kernel::record::range_json(&*self.records, range).await?)
    }

    /// Sends an event again (a replay from the console), whether or not it was delivered:
    /// a new delivery job.
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] for an unknown event.
    pub async fn replay(&self, corpid: &str, id: &str) -> Result<(), WeComError> {
        let key = event_key(corpid, id);
        let Some((mut event, version)) =
            load::<CallbackEvent>(&*self.records, kind::CALLBACK_EVENT, &key).await?
        else {
            return Err(WeComError::invalid("id", "no such event"));
        };
        event.delivered_at = None;
        let job = NewJob {
            kind: JOB_CALLBACK.to_owned(),
            key: format!("{key}/replay/{}", random_text(HEX, 8)),
            payload: key.clone(),
            due_at: self.now(),
        };
        if self
            .try_commit_with_jobs(
                vec![event_write(&event, Expect::Version(version))?],
                vec![job],
            )
            .await?
        {
            Ok(())
        } else {
            Err(Self::busy("callback event"))
        }
    }
}

/// Checks a callback configuration: an http(s) URL, a token, a valid AES key.
fn check_callback(corpid: &str, config: &CallbackConfig) -> Result<MsgCrypt, WeComError> {
    if !(config.url.starts_with("https://") || config.url.starts_with("http://"))
        || config.url.len() > 1_024
    {
        return Err(WeComError::invalid(
            "url",
            "must be an http(s) URL of at most 1024 characters",
        ));
    }
    if config.token.is_empty()
        || config.token.len() > 32
        || !config.token.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(WeComError::invalid(
            "token",
            "must be 1 to 32 letters and digits",
        ));
    }
    MsgCrypt::new(&config.token, &config.encoding_aes_key, corpid)
        .map_err(|error| WeComError::invalid("encoding_aes_key", error.to_string()))
}

/// `url` with the parameters added to its query (values percent-encoded).
fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let joiner = if url.contains('?') { '&' } else { '?' };
    let query: Vec<String> = params
        .iter()
        .map(|(name, value)| format!("{name}={}", percent(value)))
        .collect();
    format!("{url}{joiner}{}", query.join("&"))
}

fn percent(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
