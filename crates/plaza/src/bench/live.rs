//! `plaza bench live`: one live room with `--viewers` connected viewers (WebSocket
//! clients in this process, signed out, as most viewers are), a comment rate and a gift
//! rate. The bench starts this binary as `plaza serve --sandbox`, makes the host and
//! `--senders` people with money through the admin API, opens the room and the host's
//! publish socket (which drives the room's ticks; no video is sent: the room's events
//! are measured, not the stream's bandwidth), connects the viewers, then for
//! `--seconds` sends comments and gifts at the given rates over HTTP.
//!
//! First the machine's bound: the same viewers on `plaza bench live-relay`, which sends
//! a room's frames over the same stack and does nothing else.
//!
//! Reported: viewers connected; comment frames (a tick's frame holding comments —
//! sampled to at most 20 a second per viewer when more come) and frames of every kind
//! delivered per second to all viewers together; the time from sending a comment to its arrival, over the comments a
//! sample of viewers received; gifts per second, checked exact (the host's wallet rose by
//! exactly the gifts less the platform's share, the room's total matches, the ledger
//! verifies); and the server's memory per viewer (its resident set before and after
//! the viewers connected).

use std::io::Write;
use std::sync::Arc;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::Outcome;
use crate::bench::live_relay::unix_micros;
use crate::bench::pay::{Server, start_server_in};
use crate::bench::{percentile_ms, tempfile_dir};

#[derive(Debug, Args)]
pub(crate) struct LiveArgs {
    /// Connected viewers.
    #[arg(long, default_value_t = 20_000)]
    viewers: usize,
    /// Measured seconds.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Comments sent per second (from `--senders` people).
    #[arg(long, default_value_t = 100)]
    comment_rate: u64,
    /// Gifts sent per second (a 爱心, 10 fen, each).
    #[arg(long, default_value_t = 20)]
    gift_rate: u64,
    /// People sending comments and gifts.
    #[arg(long, default_value_t = 16)]
    senders: usize,
}

/// One viewer in this many measures latencies (every viewer counts frames).
const LATENCY_SAMPLE_EVERY: usize = 50;
/// Viewers connecting at once.
const CONNECTING_AT_ONCE: usize = 256;
/// What marks a comment in a tick's frame (a room's and the relay's): a frame holding
/// one is a comment frame.
const COMMENT_ITEM: &str = "\"op\":\"comment\",";
/// A viewer client's read buffer.
const CLIENT_BUFFER_BYTES: usize = 4 * 1024;
/// The gift sent, and its price and the host's part, fen.
const GIFT: (&str, i64, i64) = ("heart", 10, 7);

/// What every viewer counts.
#[derive(Default)]
struct Counters {
    frames: AtomicU64,
    comment_frames: AtomicU64,
    connected: AtomicUsize,
    closed: AtomicUsize,
}

/// Raises this process's open-file limit (its children inherit it) to `wanted`, as far
/// as allowed; the limit now.
fn raise_open_files(wanted: u64) -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let current = getrlimit(Resource::Nofile);
    let mut raised = current;
    raised.current = Some(wanted.max(current.current.unwrap_or(0)));
    raised.maximum = Some(wanted.max(current.maximum.unwrap_or(0)));
    if setrlimit(Resource::Nofile, raised).is_err() {
        // Not allowed to raise the hard limit: go as far as it allows.
        let mut soft = current;
        soft.current = current.maximum;
        let _ignored = setrlimit(Resource::Nofile, soft);
    }
    getrlimit(Resource::Nofile).current.unwrap_or(0)
}

/// The resident memory of process `pid`, bytes.
fn resident_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|value| {
                    value
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or(0, |kib| kib * 1024)
}

/// The admin API.
async fn admin(
    client: &reqwest::Client,
    server: &Server,
    path: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let reply = client
        .post(format!("{}{path}", server.base_url))
        .bearer_auth(&server.admin_token)
        .json(body)
        .send()
        .await?;
    let status = reply.status();
    let text = reply.text().await?;
    if !status.is_success() {
        bail!("{path}: {status} {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

async fn as_user(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    path: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let reply = client
        .post(format!("{}{path}", server.base_url))
        .bearer_auth(token)
        .json(body)
        .send()
        .await?;
    let status = reply.status();
    let text = reply.text().await?;
    if !status.is_success() {
        bail!("{path}: {status} {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The host (with a channel) and the senders: their user ids and tokens; the room.
async fn set_up(
    client: &reqwest::Client,
    server: &Server,
    senders: usize,
) -> anyhow::Result<((String, String), Vec<String>, String)> {
    let host = admin(
        client,
        server,
        "/api/v1/admin/users",
        &json!({ "name": "Bench Host", "balance": 1 }),
    )
    .await?;
    let host_token = host["token"].as_str().context("a token")?.to_owned();
    as_user(
        client,
        server,
        &host_token,
        "/api/v1/channels/me",
        &json!({ "name": "Bench Live", "area": "music" }),
    )
    .await?;
    let room = as_user(
        client,
        server,
        &host_token,
        "/api/v1/channels/live",
        &json!({ "title": "bench" }),
    )
    .await?;
    let room_id = room["room_id"].as_str().context("a room")?.to_owned();
    let made = futures_util::future::join_all((0..senders).map(|index| async move {
        admin(
            client,
            server,
            "/api/v1/admin/users",
            &json!({ "name": format!("Sender {index}"), "balance": 10_000_000 }),
        )
        .await
    }))
    .await;
    let mut tokens = Vec::new();
    for sender in made {
        tokens.push(sender?["token"].as_str().context("a token")?.to_owned());
    }
    let host_id = host["user_id"].as_str().context("a user id")?.to_owned();
    Ok(((host_id, host_token), tokens, room_id))
}

/// One viewer: connects, then counts frames; a sampled one records comment latencies
/// (the comment's text is the Unix time in microseconds it was sent at).
async fn viewer(
    url: String,
    counters: Arc<Counters>,
    latencies: Option<Arc<std::sync::Mutex<Vec<u32>>>>,
) -> anyhow::Result<()> {
    let config = WebSocketConfig::default().read_buffer_size(CLIENT_BUFFER_BYTES);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(url, Some(config), true).await?;
    counters.connected.fetch_add(1, Ordering::Relaxed);
    while let Some(Ok(frame)) = socket.next().await {
        let Message::Text(text) = frame else { continue };
        counters.frames.fetch_add(1, Ordering::Relaxed);
        if text.contains(COMMENT_ITEM) {
            counters.comment_frames.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(latencies) = &latencies {
            // Each comment in the frame: its text is when it was sent.
            let now_us = unix_micros();
            let mut found = latencies.lock().unwrap_or_else(PoisonError::into_inner);
            for part in text.split("\"text\":\"t=").skip(1) {
                let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(sent_us) = digits.parse::<u64>() {
                    found.push(u32::try_from(now_us.saturating_sub(sent_us)).unwrap_or(u32::MAX));
                }
            }
        }
    }
    counters.closed.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Sends `rate` requests a second for `seconds`, each made by `request(n)`; how many
/// succeeded.
async fn at_rate<F, Fut>(rate: u64, seconds: u64, request: F) -> u64
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = bool> + Send + 'static,
{
    if rate == 0 {
        return 0;
    }
    let period = Duration::from_micros(1_000_000 / rate);
    let mut ticker = tokio::time::interval(period);
    let total = rate * seconds;
    let mut tasks = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for n in 0..total {
        ticker.tick().await;
        tasks.push(tokio::spawn(request(n)));
    }
    let mut done = 0;
    for task in tasks {
        if task.await.unwrap_or(false) {
            done += 1;
        }
    }
    done
}

pub(crate) async fn run(args: LiveArgs) -> anyhow::Result<Outcome> {
    anyhow::ensure!(
        args.viewers > 0 && args.seconds > 0 && args.senders > 0,
        "--viewers, --seconds and --senders must be at least 1"
    );
    let wanted = u64::try_from(args.viewers)?;
    let limit = raise_open_files(wanted + 4_096);
    // Each side (this process's clients, the server's viewers) holds a socket per
    // viewer and a few files more.
    anyhow::ensure!(
        limit >= wanted + 256,
        "a process may open {limit} files here; {wanted} viewers need {} on each side (raise `ulimit -n`, or ask for fewer viewers)",
        wanted + 256
    );
    let bound = relay_bound(&args).await?;
    let server = start_server_in(tempfile_dir()?, &[])?;
    let client = reqwest::Client::builder().no_proxy().build()?;
    let ((host_id, host_token), senders, room_id) = set_up(&client, &server, args.senders).await?;
    let ws_base = server.base_url.replacen("http", "ws", 1);
    let host_reader = host_socket(&ws_base, &room_id, &host_token).await?;
    let pid = server.child.id();
    let before = resident_bytes(pid);
    let url = format!("{ws_base}/api/v1/channels/live/{room_id}/watch");
    let crowd = Crowd::connect(&url, args.viewers).await;
    let bytes_per_viewer =
        resident_bytes(pid).saturating_sub(before) / u64::try_from(crowd.connected.max(1))?;
    let host_before = wallet(&client, &server, &host_id).await?;
    let load = Load {
        client: client.clone(),
        base: server.base_url.clone(),
        room_id: room_id.clone(),
        senders: Arc::new(senders),
    };
    let mut measured = crowd.under(&load, &args).await;
    measured.bytes_per_viewer = bytes_per_viewer;
    let host_gain = wallet(&client, &server, &host_id).await? - host_before;
    let (exact, counted) =
        gifts_exact(&client, &server, &room_id, host_gain, measured.gifts_sent).await?;
    measured.gifts_exact = exact;
    measured.gifts_sent = counted;
    crowd.stop().await;
    host_reader.abort();
    drop(server);
    report(&args, &bound, measured)
}

/// The relay process `plaza bench live-relay`; killed when dropped.
struct RelayProcess(std::process::Child);

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _killed = self.0.kill();
        let _waited = self.0.wait();
    }
}

/// The machine's bound: the same viewers on the relay (same stack, no room behind it)
/// for `--seconds` at the same comment rate.
async fn relay_bound(args: &LiveArgs) -> anyhow::Result<Report> {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(["bench", "live-relay", "--comment-rate"])
        .arg(args.comment_rate.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .context("cannot start the relay")?;
    let stdout = child.stdout.take().context("stdout is piped")?;
    let relay = RelayProcess(child);
    let mut lines = std::io::BufReader::new(stdout).lines();
    let url = loop {
        let line = lines
            .next()
            .context("the relay exited before listening")??;
        if let Some(url) = line.strip_prefix("relay listening on ") {
            break url.replacen("http", "ws", 1);
        }
    };
    let crowd = Crowd::connect(&format!("{url}/watch"), args.viewers).await;
    let seconds = args.seconds;
    let measured = crowd
        .during(async move {
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            (0, 0)
        })
        .await;
    crowd.stop().await;
    drop(relay);
    Ok(measured)
}

/// The host's publish socket, which drives the room's ticks; read in the background
/// (or its buffers fill) until the returned task is aborted.
async fn host_socket(
    ws_base: &str,
    room_id: &str,
    token: &str,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request =
        format!("{ws_base}/api/v1/channels/live/{room_id}/publish").into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(tokio::spawn(async move {
        while socket.next().await.is_some() {}
    }))
}

/// The connected viewers.
struct Crowd {
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<()>>>,
    counters: Arc<Counters>,
    latencies: Arc<std::sync::Mutex<Vec<u32>>>,
    connected: usize,
    connect_s: f64,
}

impl Crowd {
    /// Connects `viewers` viewers, `CONNECTING_AT_ONCE` at a time (two minutes at most).
    async fn connect(url: &str, viewers: usize) -> Self {
        let counters = Arc::new(Counters::default());
        let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
        let started = Instant::now();
        let settled = |counters: &Counters| {
            counters.connected.load(Ordering::Relaxed) + counters.closed.load(Ordering::Relaxed)
        };
        let mut tasks = Vec::with_capacity(viewers);
        for index in 0..viewers {
            let sample = (index % LATENCY_SAMPLE_EVERY == 0).then(|| latencies.clone());
            tasks.push(tokio::spawn(viewer(
                url.to_owned(),
                counters.clone(),
                sample,
            )));
            if index % CONNECTING_AT_ONCE == CONNECTING_AT_ONCE - 1 {
                while settled(&counters) + CONNECTING_AT_ONCE / 2 < index
                    && started.elapsed() < Duration::from_secs(120)
                {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }
        while settled(&counters) < viewers && started.elapsed() < Duration::from_secs(120) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let connect_s = started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let connected = counters.connected.load(Ordering::Relaxed);
        Self {
            tasks,
            counters,
            latencies,
            connected,
            connect_s,
        }
    }

    /// The crowd under the load's comments and gifts for `--seconds`: what it received.
    async fn under(&self, load: &Load, args: &LiveArgs) -> Report {
        self.during(async {
            tokio::join!(
                load.comments(args.comment_rate, args.seconds),
                load.gifts(args.gift_rate, args.seconds)
            )
        })
        .await
    }

    /// What the crowd received while `load` ran (it answers the comments and gifts it
    /// sent).
    async fn during(&self, load: impl Future<Output = (u64, u64)>) -> Report {
        self.latencies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        let frames_before = self.counters.frames.load(Ordering::Relaxed);
        let comment_frames_before = self.counters.comment_frames.load(Ordering::Relaxed);
        let window = Instant::now();
        let (comments_sent, gifts_sent) = load.await;
        let window_s = window.elapsed().as_secs_f64();
        // Let the last tick's frames arrive.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        let frames = self.counters.frames.load(Ordering::Relaxed) - frames_before;
        let comment_frames =
            self.counters.comment_frames.load(Ordering::Relaxed) - comment_frames_before;
        let mut sampled = std::mem::take(
            &mut *self
                .latencies
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        sampled.sort_unstable();
        Report {
            connected: self.connected,
            connect_s: self.connect_s,
            frames,
            comment_frames,
            window_s,
            sampled,
            comments_sent,
            gifts_sent,
            gifts_exact: false,
            bytes_per_viewer: 0,
        }
    }

    /// Disconnects every viewer (their sockets closed when this returns).
    async fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ended = task.await;
        }
    }
}

/// Comments and gifts sent over HTTP by the senders.
struct Load {
    client: reqwest::Client,
    base: String,
    room_id: String,
    senders: Arc<Vec<String>>,
}

impl Load {
    fn sender(&self, n: u64) -> String {
        self.senders[usize::try_from(n).unwrap_or(0) % self.senders.len()].clone()
    }

    /// Comments whose text is the Unix time in microseconds they were sent at.
    async fn comments(&self, rate: u64, seconds: u64) -> u64 {
        let url = format!(
            "{}/api/v1/channels/live/{}/comments",
            self.base, self.room_id
        );
        at_rate(rate, seconds, |n| {
            let (client, url, token) = (self.client.clone(), url.clone(), self.sender(n));
            async move {
                let sent_us = unix_micros();
                client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({ "text": format!("t={sent_us}") }))
                    .send()
                    .await
                    .is_ok_and(|reply| reply.status().is_success())
            }
        })
        .await
    }

    /// Gifts, each with its own request id.
    async fn gifts(&self, rate: u64, seconds: u64) -> u64 {
        let url = format!("{}/api/v1/channels/live/{}/gifts", self.base, self.room_id);
        at_rate(rate, seconds, |n| {
            let (client, url, token) = (self.client.clone(), url.clone(), self.sender(n));
            async move {
                let answer = client
                    .post(url)
                    .bearer_auth(token)
                    .json(
                        &json!({ "gift": GIFT.0, "count": 1, "request_id": format!("bench-{n}") }),
                    )
                    .send()
                    .await;
                match answer {
                    Ok(reply) if reply.status().is_success() => true,
                    Ok(reply) => {
                        let status = reply.status();
                        let text = reply.text().await.unwrap_or_default();
                        tracing::warn!(%status, %text, "a gift was refused");
                        false
                    }
                    Err(error) => {
                        tracing::warn!(%error, "a gift was not answered");
                        false
                    }
                }
            }
        })
        .await
    }
}

/// Whether the gifts are exact, by the server's own account: the host gained each gift
/// the room counts less the platform's share, the room's total is its gifts' price, no
/// gift was acknowledged that the room does not count, and the ledger verifies; and the
/// gifts the room counts.
async fn gifts_exact(
    client: &reqwest::Client,
    server: &Server,
    room_id: &str,
    host_gain: i64,
    gifts_acknowledged: u64,
) -> anyhow::Result<(bool, u64)> {
    let room: Value = client
        .get(format!(
            "{}/api/v1/channels/live/{room_id}",
            server.base_url
        ))
        .send()
        .await?
        .json()
        .await?;
    let verify: Value = client
        .get(format!("{}/api/v1/admin/ledger/verify", server.base_url))
        .bearer_auth(&server.admin_token)
        .send()
        .await?
        .json()
        .await?;
    let counted = room["gifts"].as_u64().unwrap_or(0);
    let gifts = i64::try_from(counted)?;
    let exact = host_gain == gifts * GIFT.2
        && room["gifts_minor"].as_i64() == Some(gifts * GIFT.1)
        && gifts_acknowledged <= counted
        && verify["sound"] == true;
    Ok((exact, counted))
}

async fn wallet(client: &reqwest::Client, server: &Server, user_id: &str) -> anyhow::Result<i64> {
    let user: Value = client
        .get(format!("{}/api/v1/admin/users/{user_id}", server.base_url))
        .bearer_auth(&server.admin_token)
        .send()
        .await?
        .json()
        .await?;
    user["balance"].as_i64().context("a balance")
}

/// What one run measured.
struct Report {
    connected: usize,
    connect_s: f64,
    frames: u64,
    comment_frames: u64,
    window_s: f64,
    sampled: Vec<u32>,
    comments_sent: u64,
    gifts_sent: u64,
    gifts_exact: bool,
    bytes_per_viewer: u64,
}

fn report(args: &LiveArgs, bound: &Report, measured: Report) -> anyhow::Result<Outcome> {
    #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let per_second = |count: u64| (count as f64 / measured.window_s.max(1e-9)).round();
    #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let bound_all_per_second = (bound.frames as f64 / bound.window_s.max(1e-9)).round();
    #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    let bound_per_second = (bound.comment_frames as f64 / bound.window_s.max(1e-9)).round();
    let ratio = per_second(measured.comment_frames) / bound_per_second.max(1.0);
    let figures = json!({
        "viewers": measured.connected,
        "viewers_asked": args.viewers,
        "connect_s": (measured.connect_s * 10.0).round() / 10.0,
        "frames_per_second": per_second(measured.comment_frames),
        "all_frames_per_second": per_second(measured.frames),
        "comments_sent_per_second": per_second(measured.comments_sent),
        "p50_ms": percentile_ms(&measured.sampled, 0.50),
        "p99_ms": percentile_ms(&measured.sampled, 0.99),
        "latencies_sampled": measured.sampled.len(),
        "gifts_per_second": per_second(measured.gifts_sent),
        "gifts_exact": measured.gifts_exact,
        "bytes_per_viewer": measured.bytes_per_viewer,
        "seconds": args.seconds,
        "bound_viewers": bound.connected,
        "bound_frames_per_second": bound_per_second,
        "bound_all_frames_per_second": bound_all_per_second,
        "bound_p50_ms": percentile_ms(&bound.sampled, 0.50),
        "bound_p99_ms": percentile_ms(&bound.sampled, 0.99),
        "ratio_to_bound": (ratio * 100.0).round() / 100.0,
    });
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "live: {} viewers connected in {} s; {} comment frames/s delivered ({} frames/s of every kind); comment send-to-delivery p50 {} ms, p99 {} ms ({} samples); {} gifts/s, exact: {}; {} bytes of server memory per viewer",
        figures["viewers"],
        figures["connect_s"],
        figures["frames_per_second"],
        figures["all_frames_per_second"],
        figures["p50_ms"],
        figures["p99_ms"],
        figures["latencies_sampled"],
        figures["gifts_per_second"],
        figures["gifts_exact"],
        figures["bytes_per_viewer"],
    )?;
    writeln!(
        out,
        "machine's bound (the same viewers on a relay that does no other work): {} comment frames/s ({} of every kind), p50 {} ms, p99 {} ms; Plaza reaches {} of it",
        figures["bound_frames_per_second"],
        figures["bound_all_frames_per_second"],
        figures["bound_p50_ms"],
        figures["bound_p99_ms"],
        figures["ratio_to_bound"],
    )?;
    writeln!(out, "{figures}")?;
    Ok(
        if measured.gifts_exact && measured.connected == args.viewers {
            Outcome::Success
        } else {
            Outcome::Found
        },
    )
}
