//! The machine's own bound for `plaza bench live`: a relay that sends a live room's
//! frames to its viewers with the same stack as Plaza's watch socket (axum's WebSocket
//! over loopback TCP with the same buffer sizes, one writer task per viewer fed from one
//! broadcast channel, each wake-up's frames fed and flushed once) and does no other
//! work — no room, no comments taken over HTTP, no store, no ledger. It makes the frames
//! itself at the same rates and shapes: every 100 ms a frame of the comments "sent"
//! since the last (at most as many as a room shows), once a second a counts frame.
//!
//! It runs as its own process (`plaza bench live-relay`, started by `plaza bench live`)
//! because a process may hold only so many sockets, and the relay's viewers' sockets and
//! the bench's clients' would otherwise share one limit.

use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use clap::Args;
use tokio::sync::broadcast;

use crate::Outcome;

/// How often the relay's room ticks, as a Plaza room does.
const TICK: Duration = Duration::from_millis(100);
/// Comments shown per tick at most (a Plaza room shows 20 a second).
const SHOWN_PER_TICK: usize = 2;
/// A viewer socket's buffers, as Plaza's.
const VIEWER_BUFFER_BYTES: usize = 4 * 1024;

#[derive(Debug, Args)]
pub(crate) struct LiveRelayArgs {
    /// Comments "sent" per second.
    #[arg(long, default_value_t = 100)]
    comment_rate: u64,
}

/// Microseconds since the Unix epoch: how the bench stamps a comment, so that a client in
/// another process can tell how long it took.
#[allow(
    clippy::disallowed_methods,
    reason = "a bench's latency stamps, read by two processes: the sandbox clock is not theirs"
)]
pub(crate) fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
        })
}

/// Serves until killed; prints `relay listening on http://…` first.
pub(crate) async fn run(args: LiveRelayArgs) -> anyhow::Result<Outcome> {
    let (room, _kept) = broadcast::channel::<Message>(plaza_fanout::BUFFER_PER_TOPIC);
    let pending: Arc<Mutex<Vec<u64>>> = Arc::default();
    tokio::spawn(comments(args.comment_rate, pending.clone()));
    tokio::spawn(ticks(room.clone(), pending));
    let app = axum::Router::new()
        .route("/watch", axum::routing::get(watch))
        .with_state(room);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "relay listening on http://{}", listener.local_addr()?)?;
        out.flush()?;
    }
    axum::serve(listener, app).await?;
    Ok(Outcome::Success)
}

/// Comments "sent" at `rate` a second: each their sending time.
async fn comments(rate: u64, pending: Arc<Mutex<Vec<u64>>>) {
    if rate == 0 {
        return;
    }
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    loop {
        ticker.tick().await;
        pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(unix_micros());
    }
}

/// The room's frames: the tick's comments (the first `SHOWN_PER_TICK`, shaped as a Plaza
/// room's), counts once a second.
async fn ticks(room: broadcast::Sender<Message>, pending: Arc<Mutex<Vec<u64>>>) {
    let mut ticker = tokio::time::interval(TICK);
    let mut seq = 0_u64;
    for tick in 0_u64.. {
        ticker.tick().await;
        let sent = std::mem::take(&mut *pending.lock().unwrap_or_else(PoisonError::into_inner));
        if !sent.is_empty() {
            let items: Vec<String> = sent
                .iter()
                .take(SHOWN_PER_TICK)
                .map(|at| {
                    seq += 1;
                    format!(
                        "{{\"op\":\"comment\",\"seq\":{seq},\"author_name\":\"Sender {}\",\"host\":false,\"text\":\"t={at}\",\"at\":{}}}",
                        seq % 16,
                        at / 1_000
                    )
                })
                .collect();
            let frame = format!("{{\"op\":\"comments\",\"items\":[{}]}}", items.join(","));
            let _sent = room.send(Message::Text(Utf8Bytes::from(frame)));
        }
        if tick % 10 == 9 {
            let stats = format!(
                "{{\"op\":\"stats\",\"watching\":{0},\"viewers_total\":{0},\"likes\":0,\"likes_total\":0}}",
                room.receiver_count()
            );
            let _sent = room.send(Message::Text(Utf8Bytes::from(stats)));
        }
    }
}

async fn watch(
    State(room): State<broadcast::Sender<Message>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .max_message_size(64 * 1024)
        .read_buffer_size(VIEWER_BUFFER_BYTES)
        .write_buffer_size(VIEWER_BUFFER_BYTES)
        .on_upgrade(move |socket| viewer(socket, room.subscribe()))
}

/// One viewer: a hello, then the room's frames, each wake-up's fed and flushed once (as
/// Plaza's writer); reads and drops what the viewer sends.
async fn viewer(socket: WebSocket, mut room: broadcast::Receiver<Message>) {
    use futures_util::{FutureExt as _, SinkExt as _, StreamExt as _};
    let (mut sink, mut stream) = socket.split();
    let reader = tokio::spawn(async move { while let Some(Ok(_frame)) = stream.next().await {} });
    let hello = Message::Text(Utf8Bytes::from_static(
        "{\"op\":\"hello\",\"signed_in\":false}",
    ));
    if sink.send(hello).await.is_ok() {
        while let Ok(frame) = room.recv().await {
            if sink.feed(frame).await.is_err() {
                break;
            }
            let mut gone = false;
            while let Some(next) = room.recv().now_or_never() {
                match next {
                    Ok(frame) => {
                        if sink.feed(frame).await.is_err() {
                            gone = true;
                            break;
                        }
                    }
                    Err(_lagged_or_closed) => {
                        gone = true;
                        break;
                    }
                }
            }
            if gone || sink.flush().await.is_err() {
                break;
            }
        }
    }
    reader.abort();
}
