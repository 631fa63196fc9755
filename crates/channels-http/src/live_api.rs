//! Live rooms on `/api/v1/channels/live/…`: going live, ending, pins, comments, likes
//! and gifts over plain requests; and two WebSockets:
//!
//! - `…/{room_id}/publish` (the host): binary frames are the WebM stream as it is
//!   recorded (a browser's `MediaRecorder` chunks, or ffmpeg's); text frames
//!   `{"op":"ping"}`. The room ticks while its host is connected: every 100 ms the
//!   comments that came go out (sampled fairly when too many), every second the likes
//!   and viewer counts.
//! - `…/{room_id}/watch` (anyone): first a `hello` text frame, then binary frames — the
//!   init segment, the pieces since the last keyframe, then live — for Media Source
//!   Extensions, and text frames for events (`comment`, `stats`, `gift`, `pins`,
//!   `ended`). A signed-in viewer sends `{"op":"comment","text":…}` (answered with their
//!   own comment, `mine: true`) and `{"op":"like","count":n}`.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use plaza_channels::live::{
    LiveComment, LiveRoom, Pin, RoomState, comment_event, room_json_totals,
};
use plaza_fanout::{Payload, Received};
use plaza_http::ApiError;
use plaza_http::extract::{Json, Query};
use plaza_identity::User;
use plaza_media::webm::Splitter;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::ChannelsState;
use crate::api::{MaybeSignedIn, SignedIn};
use crate::error::api_error;

/// How often a room ticks while its host is connected: the comments go out every
/// tick, the counts every `COUNTS_EVERY` ticks (once a second).
const TICK: Duration = Duration::from_millis(100);
const COUNTS_EVERY: u64 = 10;
/// The largest stream chunk or text frame a socket takes.
const FRAME_BYTES_MAX: usize = 4 * 1024 * 1024;
/// A viewer socket's read and write buffers.
const VIEWER_BUFFER_BYTES: usize = 4 * 1024;
/// Frames waiting for a slow viewer's socket before it is dropped (it reconnects and
/// starts again from the last keyframe).
const VIEWER_QUEUE_MAX: usize = 512;

pub(crate) fn router() -> Router<ChannelsState> {
    Router::new()
        .route("/api/v1/channels/live", post(go_live).get(on_air))
        .route("/api/v1/channels/live/{room_id}", get(read_room))
        .route("/api/v1/channels/live/{room_id}/end", post(end))
        .route("/api/v1/channels/live/{room_id}/pins", post(pin))
        .route(
            "/api/v1/channels/live/{room_id}/comments",
            post(comment).get(replay),
        )
        .route("/api/v1/channels/live/{room_id}/likes", post(like))
        .route("/api/v1/channels/live/{room_id}/gifts", post(gift))
        .route("/api/v1/channels/live/{room_id}/publish", get(publish))
        .route("/api/v1/channels/live/{room_id}/watch", get(watch))
}

pub(crate) fn room_json(state: &ChannelsState, room: &LiveRoom) -> Value {
    let watching = state.channels.stage(&room.room_id).map_or(0, |stage| {
        stage.watching.load(std::sync::atomic::Ordering::Relaxed)
    });
    let mut view = room_json_totals(room);
    view["channel_id"] = json!(room.channel_id);
    view["title"] = json!(room.title);
    view["state"] = json!(match room.state {
        RoomState::Live => "live",
        RoomState::Ended => "ended",
    });
    view["watching"] = json!(watching);
    view["pins"] = json!(room.pins);
    view["started_at"] = json!(plaza_http::rfc3339(room.started_at));
    view["ended_at"] = json!(room.ended_at.map(plaza_http::rfc3339));
    view["page"] = json!(format!("/app/channels/live/{}", room.room_id));
    view
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GoLiveBody {
    title: String,
}

async fn go_live(
    State(state): State<ChannelsState>,
    SignedIn(user): SignedIn,
    Json(body): Json<GoLiveBody>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let room = state
        .channels
        .go_live(&user.user_id, &body.title)
        .await
        .map_err(api_error)?;
    Ok((StatusCode::CREATED, AxumJson(room_json(&state, &room))))
}

async fn on_air(State(state): State<ChannelsState>) -> Result<AxumJson<Value>, ApiError> {
    let rooms = state.channels.live_rooms(50).await.map_err(api_error)?;
    Ok(AxumJson(json!({
        "rooms": rooms.iter().map(|room| room_json(&state, room)).collect::<Vec<_>>(),
    })))
}

async fn read_room(
    State(state): State<ChannelsState>,
    Path(room_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let (room, _) = state.channels.room(&room_id).await.map_err(api_error)?;
    Ok(AxumJson(room_json(&state, &room)))
}

async fn end(
    State(state): State<ChannelsState>,
    SignedIn(user): SignedIn,
    Path(room_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let room = state
        .channels
        .end_live(&user.user_id, &room_id)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(room_json(&state, &room)))
}

async fn pin(
    State(state): State<ChannelsState>,
    SignedIn(user): SignedIn,
    Path(room_id): Path<String>,
    Json(body): Json<Pin>,
) -> Result<AxumJson<Value>, ApiError> {
    let room = state
        .channels
        .pin_live(&user.user_id, &room_id, body)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(room_json(&state, &room)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    text: String,
}

fn comment_json(comment: &LiveComment) -> Value {
    let mut view = comment_event(comment);
    view["mine"] = json!(true);
    view
}

async fn comment(
    State(state): State<ChannelsState>,
    SignedIn(user): SignedIn,
    Path(room_id): Path<String>,
    Json(body): Json<CommentBody>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let comment = state
        .channels
        .comment_live(&user.user_id, &room_id, &body.text)
        .await
        .map_err(api_error)?;
    Ok((StatusCode::CREATED, AxumJson(comment_json(&comment))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayQuery {
    after: Option<u64>,
}

async fn replay(
    State(state): State<ChannelsState>,
    Path(room_id): Path<String>,
    Query(query): Query<ReplayQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    state.channels.room(&room_id).await.map_err(api_error)?;
    let comments = state
        .channels
        .live_comments(&room_id, query.after.unwrap_or(0), 200)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(json!({
        "comments": comments.iter().map(comment_event).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LikeBody {
    count: Option<u32>,
}

async fn like(
    State(state): State<ChannelsState>,
    SignedIn(_user): SignedIn,
    Path(room_id): Path<String>,
    Json(body): Json<LikeBody>,
) -> Result<StatusCode, ApiError> {
    state
        .channels
        .like_live(&room_id, body.count.unwrap_or(1))
        .map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GiftBody {
    gift: String,
    count: Option<u32>,
    request_id: String,
}

async fn gift(
    State(state): State<ChannelsState>,
    SignedIn(user): SignedIn,
    Path(room_id): Path<String>,
    Json(body): Json<GiftBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let sent = state
        .channels
        .send_gift(
            &user.user_id,
            &room_id,
            &body.gift,
            body.count.unwrap_or(1),
            &body.request_id,
        )
        .await
        .map_err(api_error)?;
    Ok(AxumJson(json!({
        "gift": sent.gift,
        "count": sent.count,
        "total_minor": sent.total_minor,
        "platform_minor": sent.platform_minor,
        "host_minor": sent.total_minor - sent.platform_minor,
        "request_id": sent.request_id,
    })))
}

/// Refuses sockets opened by other sites' pages (the shell's same-origin rule, as for
/// every state change from a page).
fn same_site(state: &ChannelsState, headers: &HeaderMap) -> Result<(), ApiError> {
    let from = plaza_http::web::provenance(headers, Some(&state.http.public_base_url));
    if from == plaza_http::web::Provenance::Foreign {
        return Err(ApiError::new(
            crate::error::code::CROSS_SITE_REQUEST,
            "live sockets are for pages of this site",
        ));
    }
    Ok(())
}

async fn publish(
    State(state): State<ChannelsState>,
    SignedIn(user): SignedIn,
    Path(room_id): Path<String>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    same_site(&state, &headers)?;
    let (room, _) = state.channels.room(&room_id).await.map_err(api_error)?;
    if room.host != user.user_id {
        return Err(api_error(plaza_channels::ChannelsError::NotYours {
            who: "the host",
            what: "stream into a room",
        }));
    }
    if state.channels.stage(&room_id).is_none() {
        return Err(api_error(plaza_channels::ChannelsError::RoomNotFound {
            room_id,
        }));
    }
    Ok(upgrade
        .max_message_size(FRAME_BYTES_MAX)
        .on_upgrade(move |socket| host_loop(state, room_id, socket)))
}

/// The host's socket: stream chunks in, the room's ticks out.
async fn host_loop(state: ChannelsState, room_id: String, mut socket: WebSocket) {
    let mut splitter = Splitter::new();
    let mut ticks = tokio::time::interval(TICK);
    let tick_ms = u64::try_from(TICK.as_millis()).unwrap_or(100);
    let mut tick_count: u64 = 0;
    // The host sees the room's events (the chat, counts, gifts) on this socket too.
    let mut events = state
        .channels
        .fanout()
        .map(|fanout| fanout.subscribe(&plaza_channels::live::topic(&room_id)));
    loop {
        let next_event = async {
            match events.as_mut() {
                Some(subscription) => subscription.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            received = next_event => {
                if let Received::Payload(Payload::Text(text)) = received
                    && socket.send(Message::Text(text.to_string().into())).await.is_err()
                {
                    return;
                }
            }
            _ = ticks.tick() => {
                tick_count += 1;
                if state.channels.tick_live(&room_id, tick_ms, tick_count.is_multiple_of(COUNTS_EVERY)).is_err() {
                    let _bye = socket.send(Message::Text(json!({ "op": "ended" }).to_string().into())).await;
                    return;
                }
            }
            frame = socket.recv() => {
                let Some(Ok(frame)) = frame else { return };
                let answer = match frame {
                    Message::Binary(bytes) if bytes.is_empty() => Some(json!({ "op": "error", "code": "invalid_field", "message": "an empty chunk" })),
                    Message::Binary(bytes) => match splitter.push(&bytes) {
                        Ok(pieces) => state.channels.stream_pieces(&room_id, pieces).err().map(|error| json!({ "op": "error", "code": api_error(error).code(), "message": "the room is not on air" })),
                        Err(error) => {
                            tracing::info!(%room_id, %error, "a live stream was refused");
                            let refusal = json!({ "op": "error", "code": "not_media", "message": error.to_string() });
                            let _said = socket.send(Message::Text(refusal.to_string().into())).await;
                            return;
                        }
                    },
                    Message::Text(text) if serde_json::from_str::<Value>(&text).is_ok_and(|request| request["op"] == "ping") => Some(json!({ "op": "pong" })),
                    Message::Close(_) => return,
                    _ => None,
                };
                if let Some(answer) = answer
                    && socket.send(Message::Text(answer.to_string().into())).await.is_err()
                {
                    return;
                }
            }
        }
    }
}

async fn watch(
    State(state): State<ChannelsState>,
    viewer: MaybeSignedIn,
    Path(room_id): Path<String>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    same_site(&state, &headers)?;
    if state.channels.stage(&room_id).is_none() {
        state.channels.room(&room_id).await.map_err(api_error)?;
        return Err(api_error(plaza_channels::ChannelsError::RoomNotFound {
            room_id,
        }));
    }
    let user = viewer.0;
    // Small buffers: a room holds many viewers, each reading little.
    Ok(upgrade
        .max_message_size(64 * 1024)
        .read_buffer_size(VIEWER_BUFFER_BYTES)
        .write_buffer_size(VIEWER_BUFFER_BYTES)
        .on_upgrade(move |socket| viewer_loop(state, room_id, user, socket)))
}

/// A viewer's socket: what to play first, then the room's topic forwarded; their
/// comments and likes taken.
async fn viewer_loop(state: ChannelsState, room_id: String, user: Option<User>, socket: WebSocket) {
    use futures_util::StreamExt as _;
    let who = user.as_ref().map_or_else(
        || format!("guest:{}", rand_suffix()),
        |user| user.user_id.clone(),
    );
    let Ok((watching, catch)) = state.channels.join_live(&room_id, &who) else {
        return;
    };
    let (sink, mut stream) = socket.split();
    let (frames, pending) = mpsc::channel::<Message>(VIEWER_QUEUE_MAX);
    let hello = json!({ "op": "hello", "room_id": room_id, "signed_in": user.is_some() });
    let mut first = vec![Message::Text(hello.to_string().into())];
    first.extend(
        catch
            .init
            .iter()
            .chain(&catch.recent)
            .map(|bytes| shared_frame(Payload::Binary(bytes.clone()))),
    );
    let writer = tokio::spawn(write_to_viewer(sink, first, catch.subscription, pending));
    while let Some(Ok(frame)) = stream.next().await {
        let Message::Text(text) = frame else {
            if matches!(frame, Message::Close(_)) {
                break;
            }
            continue;
        };
        let answer = viewer_request(&state, &room_id, user.as_ref(), &text).await;
        if let Some(answer) = answer
            && frames
                .try_send(Message::Text(answer.to_string().into()))
                .is_err()
        {
            break;
        }
    }
    writer.abort();
    drop(frames);
    drop(watching);
}

/// A viewer's socket's one writer: the catch-up frames, then the room's topic and the
/// answers to the viewer's own requests, each wake-up's frames fed and flushed once. A
/// viewer too slow to keep up is told and dropped (it reconnects from the last
/// keyframe).
async fn write_to_viewer(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    first: Vec<Message>,
    subscription: Option<Box<dyn plaza_fanout::Subscription>>,
    mut answers: mpsc::Receiver<Message>,
) {
    use futures_util::{FutureExt as _, SinkExt as _};
    for frame in first {
        if sink.feed(frame).await.is_err() {
            return;
        }
    }
    if sink.flush().await.is_err() {
        return;
    }
    let Some(mut subscription) = subscription else {
        while let Some(frame) = answers.recv().await {
            if sink.send(frame).await.is_err() {
                return;
            }
        }
        return;
    };
    loop {
        let frame = tokio::select! {
            received = subscription.recv() => match as_frame(received) {
                Some(frame) => frame,
                None => {
                    let _told = sink.send(lagged()).await;
                    break;
                }
            },
            answer = answers.recv() => match answer {
                Some(frame) => frame,
                None => break,
            },
        };
        if sink.feed(frame).await.is_err() {
            return;
        }
        // Whatever else is ready goes out with it.
        while let Some(received) = subscription.recv().now_or_never() {
            let Some(frame) = as_frame(received) else {
                let _told = sink.send(lagged()).await;
                let _closed = sink.close().await;
                return;
            };
            if sink.feed(frame).await.is_err() {
                return;
            }
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
    let _closed = sink.close().await;
}

/// The frame telling a viewer it fell behind (the socket closes next; the page
/// reconnects from the last keyframe).
fn lagged() -> Message {
    Message::Text(json!({ "op": "lagged" }).to_string().into())
}

/// A payload of the room as a frame; `None` when the viewer must go (it lagged, or the
/// room's topic closed).
fn as_frame(received: Received) -> Option<Message> {
    match received {
        Received::Payload(payload) => Some(shared_frame(payload)),
        Received::Lagged(_) | Received::Closed => None,
    }
}

/// A published payload as a frame without copying it: every viewer's frame shares the
/// one published buffer (a room's payload goes to thousands of sockets).
fn shared_frame(payload: Payload) -> Message {
    match payload {
        Payload::Text(text) => {
            let bytes = Bytes::from_owner(SharedText(text.clone()));
            // The bytes are a `str`'s, so this is always `Ok`; copying is the fallback.
            axum::extract::ws::Utf8Bytes::try_from(bytes)
                .map_or_else(|_| Message::Text(text.as_ref().into()), Message::Text)
        }
        Payload::Binary(bytes) => Message::Binary(Bytes::from_owner(bytes)),
    }
}

/// A published text as bytes.
struct SharedText(std::sync::Arc<str>);

impl AsRef<[u8]> for SharedText {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// A viewer's request on their socket; the answer to send back, if any.
async fn viewer_request(
    state: &ChannelsState,
    room_id: &str,
    user: Option<&User>,
    text: &str,
) -> Option<Value> {
    let request: Value = serde_json::from_str(text).ok()?;
    let op = request.get("op").and_then(Value::as_str).unwrap_or("");
    let refuse = |error: plaza_channels::ChannelsError| {
        let api = api_error(error);
        Some(json!({ "op": "error", "code": api.code(), "message": api.message_text() }))
    };
    match (op, user) {
        ("ping", _) => Some(json!({ "op": "pong" })),
        ("comment" | "like", None) => Some(
            json!({ "op": "error", "code": "unauthorized", "message": "sign in to comment or like" }),
        ),
        ("comment", Some(user)) => {
            let text = request.get("text").and_then(Value::as_str).unwrap_or("");
            match state
                .channels
                .comment_live(&user.user_id, room_id, text)
                .await
            {
                Ok(comment) => Some(comment_json(&comment)),
                Err(error) => refuse(error),
            }
        }
        ("like", Some(_)) => {
            let count = request.get("count").and_then(Value::as_u64).unwrap_or(1);
            let count = u32::try_from(count).unwrap_or(u32::MAX);
            state
                .channels
                .like_live(room_id, count)
                .err()
                .and_then(refuse)
        }
        _ => None,
    }
}

/// A random id for an anonymous viewer.
fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let counter = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{}-{counter}", std::process::id())
}
