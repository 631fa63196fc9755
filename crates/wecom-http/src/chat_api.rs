//! Chat for people, on their session: the conversations list with unread counts,
//! history pages, sending (text, images, cards), read places, and the WebSocket that
//! delivers messages and read receipts live.
//!
//! The socket's protocol is JSON text frames. The client sends `subscribe`
//! (`conversation`, `after`: the last sequence it has), `send` (`conversation`,
//! `client_id`, `msgtype` and its object), `read` (`conversation`, `seq`),
//! `unsubscribe` and `ping`; the server sends `hello`, `message` (with `seq`), `ack`
//! (`client_id`, `seq`, `duplicate`), `read` receipts, `left`/`closed` when the
//! conversation ends for the client, `pong` and `error`. A subscription first attaches to
//! the fan-out, then sends what the store has after `after`, then forwards live
//! messages it has not sent — so a reconnect loses nothing and repeats nothing, and a
//! subscriber that falls behind the fan-out's buffer reads the gap from the store.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use plaza_fanout::{Payload, Received};
use plaza_http::ApiError;
use plaza_http::extract::Json;
use plaza_identity::{IdentityError, User};
use plaza_wecom::WeComError;
use plaza_wecom::chat::{Conversation, ConversationSummary, Speaker, message_json};
use plaza_wecom::messages::Content;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::WeComState;
use crate::api::SignedIn;
use crate::error::api_error;

/// The largest frame a client may send.
pub const FRAME_BYTES_MAX: usize = 64 * 1024;
/// A socket's read buffer. tungstenite zero-fills the whole buffer before each read, so
/// a large one costs more than it saves: client frames are a few hundred bytes.
const READ_BUFFER_BYTES: usize = 8 * 1024;
/// Frames waiting to be written to one socket before it counts as stuck.
const OUTBOX_FRAMES_MAX: usize = 4_096;

pub(crate) fn router() -> Router<WeComState> {
    Router::new()
        .route("/api/v1/me/wecom/conversations", get(conversations))
        .route("/api/v1/me/wecom/conversations/{id}", get(conversation))
        .route(
            "/api/v1/me/wecom/conversations/{id}/messages",
            get(history).post(send),
        )
        .route(
            "/api/v1/me/wecom/conversations/{id}/images",
            post(send_image),
        )
        .route(
            "/api/v1/me/wecom/conversations/{id}/images/{sha}",
            get(image),
        )
        .route("/api/v1/me/wecom/conversations/{id}/read", post(read))
        .route("/api/v1/me/wecom/chat", get(socket))
}

fn summary_json(summary: &ConversationSummary) -> Value {
    json!({
        "id": summary.id,
        "kind": summary.kind,
        "title": summary.title,
        "corp_name": summary.corp_name,
        "me": { "id": summary.me.id, "name": summary.me.name },
        "last": summary.last.as_ref().map(message_json),
        "unread": summary.unread,
    })
}

async fn conversations(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
) -> Result<AxumJson<Value>, ApiError> {
    let list = state
        .wecom
        .conversations(&user.user_id)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(
        json!({ "conversations": list.iter().map(summary_json).collect::<Vec<_>>() }),
    ))
}

/// The conversation and who the user is in it.
async fn speaking(
    state: &WeComState,
    user: &User,
    id: &str,
) -> Result<(Conversation, Speaker), ApiError> {
    let conversation = Conversation::parse(id).map_err(api_error)?;
    let speaker = state
        .wecom
        .speaker(&conversation, &user.user_id)
        .await
        .map_err(api_error)?;
    Ok((conversation, speaker))
}

async fn conversation(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let (_, me) = speaking(&state, &user, &id).await?;
    let last_seq = state.wecom.last_seq(&id).await.map_err(api_error)?;
    let places = state.wecom.read_places(&id).await.map_err(api_error)?;
    Ok(AxumJson(
        json!({ "id": id, "me": { "id": me.id, "name": me.name }, "last_seq": last_seq, "read": places }),
    ))
}

#[derive(Debug, Deserialize)]
struct HistoryQuery {
    after: Option<u64>,
    before: Option<u64>,
    limit: Option<usize>,
}

async fn history(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    speaking(&state, &user, &id).await?;
    let limit = query.limit.unwrap_or(50);
    let mut messages = match query.after {
        Some(after) => state.wecom.history_after(&id, after, limit).await,
        None => state.wecom.history_before(&id, query.before, limit).await,
    }
    .map_err(api_error)?;
    messages.sort_by_key(|m| m.seq);
    Ok(AxumJson(
        json!({ "messages": messages.iter().map(message_json).collect::<Vec<_>>() }),
    ))
}

/// A message to send, as HTTP and the socket take it.
fn content_of(body: &Value) -> Result<(Content, Option<String>), WeComError> {
    let msgtype = body
        .get("msgtype")
        .and_then(Value::as_str)
        .unwrap_or("text")
        .to_owned();
    let object = body
        .get(&msgtype)
        .cloned()
        .filter(Value::is_object)
        .ok_or_else(|| WeComError::invalid(&msgtype, "is required, an object"))?;
    if msgtype == "image" {
        return Err(WeComError::invalid(
            "msgtype",
            "images are posted to …/images",
        ));
    }
    let client_id = body
        .get("client_id")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok((
        Content {
            msgtype,
            body: object,
        },
        client_id,
    ))
}

async fn send(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let (conversation, me) = speaking(&state, &user, &id).await?;
    let (content, client_id) = content_of(&body).map_err(api_error)?;
    let (message, duplicate) = state
        .wecom
        .post(&conversation, &me, client_id.as_deref(), content)
        .await
        .map_err(api_error)?;
    let status = if duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut view = message_json(&message);
    view["duplicate"] = json!(duplicate);
    Ok((status, AxumJson(view)))
}

#[derive(Debug, Deserialize)]
struct ImageQuery {
    client_id: Option<String>,
}

async fn send_image(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
    Query(query): Query<ImageQuery>,
    body: Bytes,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let (conversation, me) = speaking(&state, &user, &id).await?;
    let size = body.len();
    let (sha, mime) = state
        .wecom
        .put_image(body.to_vec())
        .await
        .map_err(api_error)?;
    let content = Content {
        msgtype: "image".to_owned(),
        body: json!({ "sha256": sha, "mime": mime, "size": size, "url": format!("/api/v1/me/wecom/conversations/{id}/images/{sha}") }),
    };
    let (message, _) = state
        .wecom
        .post(&conversation, &me, query.client_id.as_deref(), content)
        .await
        .map_err(api_error)?;
    Ok((StatusCode::CREATED, AxumJson(message_json(&message))))
}

async fn image(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path((id, sha)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    speaking(&state, &user, &id).await?;
    let (bytes, mime) = state.wecom.image(&id, &sha).await.map_err(api_error)?;
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable",
            ),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadBody {
    seq: u64,
}

async fn read(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path(id): Path<String>,
    Json(body): Json<ReadBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let (_, me) = speaking(&state, &user, &id).await?;
    let seq = state
        .wecom
        .mark_read(&id, &me.id, body.seq)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(
        json!({ "conversation": id, "reader": me.id, "seq": seq }),
    ))
}

/// The socket, for a signed-in user (session cookie or bearer token) from this site.
async fn socket(
    State(state): State<WeComState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let same = origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest == host)
            || origin.trim_end_matches('/') == state.http.public_base_url.trim_end_matches('/');
        if !same {
            return Err(ApiError::new(
                crate::error::code::UNAUTHORIZED,
                "the chat socket is for pages of this site",
            ));
        }
    }
    let token = plaza_http::web::session_token(&headers)?;
    let user = state
        .wecom
        .identity()
        .session_user(token)
        .await
        .map_err(|error| match error {
            IdentityError::SessionUnknown => plaza_http::web::session_ended(),
            other => api_error(other.into()),
        })?;
    Ok(upgrade
        .max_message_size(FRAME_BYTES_MAX)
        .max_frame_size(FRAME_BYTES_MAX)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| serve(state, user, socket)))
}

/// What the forwarder of one subscription reads off each payload. Borrowed from the
/// payload where it can be, copied only when a value holds an escape (a client id with a
/// quote in it, say), so no payload is ever skipped for its spelling.
#[derive(Debug, Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    op: Cow<'a, str>,
    seq: Option<u64>,
    #[serde(borrow)]
    who: Option<Cow<'a, str>>,
    #[serde(borrow)]
    sender: Option<Cow<'a, str>>,
    #[serde(borrow)]
    client_id: Option<Cow<'a, str>>,
}

/// The client ids this socket sent in one conversation whose messages its forwarder has
/// not passed yet: the sender has its acknowledgement, so the forwarder skips them
/// instead of sending the message back to the socket it came from. (Another socket of
/// the same person still receives it.) The send path adds an id before posting and takes
/// it out again when nothing was published (an error or a duplicate); the forwarder takes
/// it out when the message passes, live or from the store.
#[derive(Debug, Default, Clone)]
struct OwnSends(Arc<std::sync::Mutex<HashSet<String>>>);

impl OwnSends {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // Each operation under the lock is one insert or removal: a panic leaves the set
        // consistent, so a poisoned lock is still usable.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn add(&self, client_id: &str) {
        self.lock().insert(client_id.to_owned());
    }

    /// Whether the message from `sender` with `client_id` was this socket's, forgetting it.
    fn take(&self, me: &str, sender: Option<&str>, client_id: Option<&str>) -> bool {
        match client_id {
            Some(id) if sender == Some(me) => self.lock().remove(id),
            _ => false,
        }
    }
}

/// One live subscription: who the user is in it, the task forwarding it and the
/// messages this socket sent there that the forwarder has not passed yet.
struct Subscribed {
    speaker: Speaker,
    forwarder: tokio::task::JoinHandle<()>,
    own: OwnSends,
}

/// A socket's writer task and the queue it drains: whatever is queued goes out in one
/// write (every waiting frame fed, then one flush); the socket closes when the queue's
/// senders are all gone.
pub fn socket_writer(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
) -> (mpsc::Sender<String>, tokio::task::JoinHandle<()>) {
    use futures_util::SinkExt as _;
    let (outbox, mut pending) = mpsc::channel::<String>(OUTBOX_FRAMES_MAX);
    let writer = tokio::spawn(async move {
        'writing: while let Some(frame) = pending.recv().await {
            if sink.feed(Message::Text(frame.into())).await.is_err() {
                break;
            }
            while let Ok(frame) = pending.try_recv() {
                if sink.feed(Message::Text(frame.into())).await.is_err() {
                    break 'writing;
                }
            }
            if sink.flush().await.is_err() {
                break;
            }
        }
        let _closed = sink.close().await;
    });
    (outbox, writer)
}

async fn serve(state: WeComState, user: User, socket: WebSocket) {
    use futures_util::StreamExt as _;
    let (sink, mut stream) = socket.split();
    let (outbox, writer) = socket_writer(sink);
    let mut subscriptions: HashMap<String, Subscribed> = HashMap::new();
    let _hello = outbox
        .send(json!({ "op": "hello", "user_id": user.user_id }).to_string())
        .await;
    while let Some(Ok(frame)) = stream.next().await {
        let text = match frame {
            Message::Text(text) => text.to_string(),
            Message::Close(_) => break,
            _ => continue,
        };
        let answer = match serde_json::from_str::<Value>(&text) {
            Ok(request) => handle(&state, &user, &outbox, &mut subscriptions, request).await,
            Err(_) => Some(
                json!({ "op": "error", "code": "invalid_json", "message": "frames are JSON objects" }),
            ),
        };
        if let Some(answer) = answer
            && outbox.send(answer.to_string()).await.is_err()
        {
            break;
        }
    }
    for (_, subscribed) in subscriptions.drain() {
        subscribed.forwarder.abort();
    }
    drop(outbox);
    let _done = writer.await;
}

fn error_frame(error: &WeComError, client_id: Option<&Value>) -> Value {
    let api = api_error(error.clone());
    json!({ "op": "error", "code": api.code(), "message": error.to_string(), "errcode": error.errcode(), "client_id": client_id })
}

async fn handle(
    state: &WeComState,
    user: &User,
    outbox: &mpsc::Sender<String>,
    subscriptions: &mut HashMap<String, Subscribed>,
    request: Value,
) -> Option<Value> {
    let op = request.get("op").and_then(Value::as_str).unwrap_or("");
    let id = request
        .get("conversation")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    match op {
        "ping" => Some(json!({ "op": "pong" })),
        "subscribe" => {
            let after = request.get("after").and_then(Value::as_u64).unwrap_or(0);
            match subscribe(state, user, outbox, &id, after).await {
                Ok(subscribed) => {
                    if let Some(old) = subscriptions.insert(id.clone(), subscribed) {
                        old.forwarder.abort();
                    }
                    None
                }
                Err(error) => Some(error_frame(&error, None)),
            }
        }
        "unsubscribe" => {
            if let Some(old) = subscriptions.remove(&id) {
                old.forwarder.abort();
            }
            None
        }
        "send" => Some(send_frame(state, subscriptions, &id, &request).await),
        "read" => {
            let Some(subscribed) = subscriptions.get(&id) else {
                return Some(error_frame(
                    &WeComError::Forbidden {
                        what: "subscribe to the conversation first".to_owned(),
                    },
                    None,
                ));
            };
            let seq = request.get("seq").and_then(Value::as_u64).unwrap_or(0);
            match state
                .wecom
                .mark_read(&id, &subscribed.speaker.id, seq)
                .await
            {
                Ok(_) => None,
                Err(error) => Some(error_frame(&error, None)),
            }
        }
        _ => Some(
            json!({ "op": "error", "code": "invalid_op", "message": "op is one of subscribe, unsubscribe, send, read, ping" }),
        ),
    }
}

/// Sends a message from a socket: acknowledged with its sequence, or an error.
async fn send_frame(
    state: &WeComState,
    subscriptions: &HashMap<String, Subscribed>,
    id: &str,
    request: &Value,
) -> Value {
    let client_id = request.get("client_id");
    let Some(subscribed) = subscriptions.get(id).filter(|s| !s.forwarder.is_finished()) else {
        return error_frame(
            &WeComError::Forbidden {
                what: "subscribe to the conversation first".to_owned(),
            },
            client_id,
        );
    };
    let posted = match (Conversation::parse(id), content_of(request)) {
        (Ok(conversation), Ok((content, client))) => {
            if let Some(client) = &client {
                subscribed.own.add(client);
            }
            let posted = state
                .wecom
                .post(
                    &conversation,
                    &subscribed.speaker,
                    client.as_deref(),
                    content,
                )
                .await;
            if let Some(client) = &client
                && !matches!(posted, Ok((_, false)))
            {
                // Nothing was published: there is no message for the forwarder to skip.
                subscribed.own.lock().remove(client);
            }
            posted
        }
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    match posted {
        Ok((message, duplicate)) => {
            json!({ "op": "ack", "conversation": id, "client_id": client_id, "seq": message.seq, "sent_at": message.sent_at.unix_ms(), "duplicate": duplicate })
        }
        Err(error) => error_frame(&error, client_id),
    }
}

/// Attaches to the conversation's topic, sends what the store has after `after`, then
/// forwards live payloads not sent yet.
async fn subscribe(
    state: &WeComState,
    user: &User,
    outbox: &mpsc::Sender<String>,
    id: &str,
    after: u64,
) -> Result<Subscribed, WeComError> {
    let conversation = Conversation::parse(id)?;
    let speaker = state.wecom.speaker(&conversation, &user.user_id).await?;
    let fanout = state
        .wecom
        .fanout()
        .cloned()
        .ok_or_else(|| WeComError::Unavailable {
            reason: "no fan-out".to_owned(),
        })?;
    let subscription = fanout.subscribe(id);
    let own = OwnSends::default();
    let forwarding = Forwarding {
        wecom: state.wecom.clone(),
        outbox: outbox.clone(),
        id: id.to_owned(),
        me: speaker.id.clone(),
        own: own.clone(),
    };
    let forwarder = tokio::spawn(async move { forwarding.run(after, subscription).await });
    Ok(Subscribed {
        speaker,
        forwarder,
        own,
    })
}

/// What one subscription's forwarder works with.
struct Forwarding {
    wecom: Arc<plaza_wecom::WeCom>,
    outbox: mpsc::Sender<String>,
    id: String,
    me: String,
    own: OwnSends,
}

impl Forwarding {
    /// Forwards one subscription: first what the store has after `after`, then live
    /// payloads in sequence, reading any gap from the store; ends when the user leaves,
    /// the conversation closes or the socket goes.
    async fn run(&self, after: u64, mut subscription: Box<dyn plaza_fanout::Subscription>) {
        let mut last = after;
        if self.catch_up(&mut last).await.is_err() {
            return;
        }
        let subscribed = json!({ "op": "subscribed", "conversation": self.id, "last_seq": last });
        if self.outbox.send(subscribed.to_string()).await.is_err() {
            return;
        }
        loop {
            let payload = match subscription.recv().await {
                Received::Payload(Payload::Text(payload)) => payload,
                // Chat topics carry text only.
                Received::Payload(Payload::Binary(_)) => continue,
                Received::Lagged(_) => {
                    if self.catch_up(&mut last).await.is_err() {
                        return;
                    }
                    continue;
                }
                Received::Closed => return,
            };
            let Ok(head) = serde_json::from_str::<Head<'_>>(&payload) else {
                continue;
            };
            let go_on = match head.op.as_ref() {
                "message" => self.live_message(&head, &payload, &mut last).await,
                "left" if head.who.as_deref() == Some(self.me.as_str()) => {
                    let _left = self.outbox.send(payload.to_string()).await;
                    false
                }
                "closed" => {
                    let _closed = self.outbox.send(payload.to_string()).await;
                    false
                }
                _ => self.outbox.send(payload.to_string()).await.is_ok(),
            };
            if !go_on {
                return;
            }
        }
    }

    /// Passes one live message on in sequence (reading a gap before it from the store);
    /// whether to go on.
    async fn live_message(&self, head: &Head<'_>, payload: &str, last: &mut u64) -> bool {
        let seq = head.seq.unwrap_or(0);
        if seq <= *last {
            return true;
        }
        if seq > *last + 1 && self.catch_up(last).await.is_err() {
            return false;
        }
        if seq != *last + 1 {
            return true;
        }
        *last = seq;
        if self
            .own
            .take(&self.me, head.sender.as_deref(), head.client_id.as_deref())
        {
            return true;
        }
        self.outbox.send(payload.to_owned()).await.is_ok()
    }

    /// Sends every stored message after `last`, moving `last` on; `Err` when the socket
    /// is gone or the store failed.
    async fn catch_up(&self, last: &mut u64) -> Result<(), ()> {
        loop {
            let page = self
                .wecom
                .history_after(&self.id, *last, plaza_wecom::chat::HISTORY_PAGE_MAX)
                .await
                .map_err(|error| {
                    tracing::warn!(%error, conversation = self.id, "chat history could not be read");
                })?;
            let full = page.len() == plaza_wecom::chat::HISTORY_PAGE_MAX;
            for message in page {
                *last = message.seq;
                if self.own.take(
                    &self.me,
                    Some(&message.sender),
                    message.client_id.as_deref(),
                ) {
                    continue;
                }
                self.outbox
                    .send(message_json(&message).to_string())
                    .await
                    .map_err(|_| ())?;
            }
            if !full {
                return Ok(());
            }
        }
    }
}
