//! The machine's own bound for `plaza bench chat`: a relay that speaks the chat socket's
//! protocol with the same stack (axum's WebSocket over loopback TCP, a writer task per
//! socket that batches what is queued) and does no other work — no session, no store,
//! no membership check beyond a map lookup. Each `send` gets the next sequence number of
//! its group from a counter, an `ack` to its socket and the message to every other
//! member's socket. What the bench's clients achieve against it is what this machine's
//! sockets and the load generator allow; Plaza's figures are read against it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;
use tokio::sync::mpsc;

use crate::bench::chat::Seat;

/// One group: its members' sockets and its sequence counter.
#[derive(Default)]
struct Group {
    members: Mutex<Vec<(usize, mpsc::Sender<String>)>>,
    seq: AtomicU64,
}

/// Who each token is (seat number, id, group) and the groups.
struct Relay {
    seats: HashMap<String, (usize, String, Arc<Group>)>,
}

/// Seats for `clients` people in groups of `group_size`.
pub(crate) fn seats(clients: usize, group_size: usize) -> Vec<Seat> {
    (0..clients)
        .map(|index| Seat {
            token: format!("relay-{index}"),
            conversation: format!("g:relay:{}", index / group_size),
            me: format!("p{index}"),
        })
        .collect()
}

/// Starts the relay for `seats` on its own two-thread runtime (as `plaza serve` has);
/// its base URL.
pub(crate) fn start(seats: &[Seat]) -> anyhow::Result<String> {
    let mut groups: HashMap<String, Arc<Group>> = HashMap::new();
    let seats = seats
        .iter()
        .enumerate()
        .map(|(index, seat)| {
            let group = groups.entry(seat.conversation.clone()).or_default().clone();
            (seat.token.clone(), (index, seat.me.clone(), group))
        })
        .collect();
    let relay = Arc::new(Relay { seats });
    let app = axum::Router::new()
        .route("/api/v1/me/wecom/chat", axum::routing::get(socket))
        .with_state(relay);
    let address = crate::bench::serve_on_own_runtime(app, "the chat relay")?;
    Ok(format!("http://{address}"))
}

async fn socket(
    State(relay): State<Arc<Relay>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, axum::http::StatusCode> {
    let token = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    let (index, me, group) = relay
        .seats
        .get(token)
        .cloned()
        .ok_or(axum::http::StatusCode::UNAUTHORIZED)?;
    Ok(upgrade
        .read_buffer_size(8 * 1024)
        .on_upgrade(move |socket| serve(socket, index, me, group)))
}

/// The parts of a client frame the relay reads.
#[derive(serde::Deserialize)]
struct Frame<'a> {
    #[serde(borrow)]
    op: Cow<'a, str>,
    #[serde(borrow)]
    conversation: Option<Cow<'a, str>>,
    #[serde(borrow)]
    client_id: Option<Cow<'a, str>>,
    text: Option<serde_json::Value>,
}

async fn serve(socket: WebSocket, index: usize, me: String, group: Arc<Group>) {
    use futures_util::StreamExt as _;
    let (sink, mut stream) = socket.split();
    // The same writer as Plaza's chat socket.
    let (outbox, writer) = plaza_wecom_http::socket_writer(sink);
    while let Some(Ok(frame)) = stream.next().await {
        let Message::Text(text) = frame else {
            continue;
        };
        let Ok(frame) = serde_json::from_str::<Frame<'_>>(&text) else {
            continue;
        };
        let conversation = frame.conversation.as_deref().unwrap_or("");
        match frame.op.as_ref() {
            "subscribe" => {
                group
                    .members
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push((index, outbox.clone()));
                let subscribed =
                    json!({ "op": "subscribed", "conversation": conversation, "last_seq": 0 });
                let _sent = outbox.send(subscribed.to_string()).await;
            }
            "send" => {
                let seq = group.seq.fetch_add(1, Ordering::Relaxed) + 1;
                let message = json!({ "op": "message", "conversation": conversation, "seq": seq, "sender": me, "sender_name": me, "msgtype": "text", "text": frame.text, "client_id": frame.client_id, "sent_at": 0 }).to_string();
                let others: Vec<mpsc::Sender<String>> = group
                    .members
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .iter()
                    .filter(|(member, _)| *member != index)
                    .map(|(_, outbox)| outbox.clone())
                    .collect();
                for other in others {
                    let _sent = other.send(message.clone()).await;
                }
                let ack = json!({ "op": "ack", "conversation": conversation, "client_id": frame.client_id, "seq": seq, "sent_at": 0, "duplicate": false });
                let _sent = outbox.send(ack.to_string()).await;
            }
            _ => {}
        }
    }
    group
        .members
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .retain(|(member, _)| *member != index);
    drop(outbox);
    let _done = writer.await;
}
