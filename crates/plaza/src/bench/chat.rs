//! `plaza bench chat`: WeCom customer-group chat at scale. `--clients` WebSocket
//! clients (default 5,000) in groups of `--group-size` (default 5: two members of the
//! corp and three customers), each sending text messages at an even pace so that all
//! together offer `--rate` messages a second for `--seconds`. Every message is persisted
//! before its acknowledgement and delivered to every other member of its group.
//!
//! The people, the corp and its groups are written into the data directory in this
//! process through the domain (a payer's password hashing would take minutes), then the
//! same binary serves it as `plaza serve --sandbox`, and the clients talk to it over
//! loopback — load generator and server on the same machine. Each message carries the
//! time it was sent; a receiver records the latency to it and the sequence numbers it
//! saw, so a message delivered twice, or never, is counted. Figures: messages
//! acknowledged per second, deliveries per second, p50/p99 from send to delivery, lost
//! and duplicated.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use futures_util::{SinkExt as _, StreamExt as _};
use plaza_identity::Identity;
use plaza_kernel::clock::SystemClock;
use plaza_wecom::directory::MemberFields;
use plaza_wecom::{NewCorp, WeCom};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::Outcome;
use crate::bench::chat_relay;
use crate::bench::pay::start_server_in;
use crate::bench::{percentile_ms, tempfile_dir};

#[derive(Debug, Args)]
pub(crate) struct ChatArgs {
    /// Connected clients.
    #[arg(long, default_value_t = 5_000)]
    clients: usize,
    /// People per customer group (the first two are members of the corp).
    #[arg(long, default_value_t = 5)]
    group_size: usize,
    /// Messages a second offered by all clients together.
    #[arg(long, default_value_t = 20_000)]
    rate: u64,
    /// Measured seconds of sending.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
}

/// One client: its session, its group's conversation and its id there.
#[derive(Clone)]
pub(crate) struct Seat {
    pub(crate) token: String,
    pub(crate) conversation: String,
    pub(crate) me: String,
}

/// What every client counts.
#[derive(Default)]
struct Counters {
    acked: AtomicU64,
    delivered: AtomicU64,
    duplicated: AtomicU64,
    errors: AtomicU64,
}

/// Writes the corp, its people and groups into the data directory `dir`.
async fn populate(
    dir: &std::path::Path,
    clients: usize,
    group_size: usize,
) -> anyhow::Result<Vec<Seat>> {
    let crate::bench::Seeding {
        data_dir,
        store,
        shared,
        identity,
    } = crate::bench::Seeding::open(dir).await?;
    let wecom = Arc::new(WeCom::new(
        shared.clone(),
        shared.clone(),
        shared,
        Arc::new(SystemClock),
        identity.clone(),
        data_dir
            .secret(crate::systems::WECOM_SECRET_FILE)?
            .as_bytes(),
    ));
    let corp = wecom
        .create_corp(NewCorp {
            name: "Bench Motors".to_owned(),
            app_name: None,
        })
        .await?;
    let corpid = corp.corp.corpid.clone();
    let groups = clients.div_ceil(group_size);
    let mut seats = Vec::with_capacity(clients);
    let mut tasks = Vec::new();
    for group in 0..groups {
        let (wecom, identity, corpid) = (wecom.clone(), identity.clone(), corpid.clone());
        let people = group_size.min(clients - group * group_size);
        tasks.push(tokio::spawn(async move {
            populate_group(&wecom, &identity, &corpid, group, people).await
        }));
        if tasks.len() >= 64 || group + 1 == groups {
            for task in std::mem::take(&mut tasks) {
                seats.extend(task.await??);
            }
        }
    }
    drop(wecom);
    drop(identity);
    store.close().await;
    drop(data_dir);
    if seats.len() != clients {
        bail!("{} seats were made for {clients} clients", seats.len());
    }
    Ok(seats)
}

/// One group: its members and customers made, linked and joined; their seats.
async fn populate_group(
    wecom: &WeCom,
    identity: &Identity,
    corpid: &str,
    group: usize,
    people: usize,
) -> anyhow::Result<Vec<Seat>> {
    let mut staff = Vec::new();
    let mut seats = Vec::new();
    for index in 0..people.min(2) {
        let userid = format!("s{group}x{index}");
        let user = identity
            .create_user(&format!("Staff {group}-{index}"))
            .await?;
        let fields = MemberFields {
            name: Some(format!("Staff {group}-{index}")),
            department: Some(vec![1]),
            mobile: Some(format!("1380{group:05}{index:02}")),
            ..MemberFields::default()
        };
        let member = wecom.create_member(corpid, &userid, fields).await?;
        let code = member.invitation.context("an invitation")?;
        wecom.accept_invitation(&code, &user.user_id).await?;
        seats.push(Seat {
            token: identity.create_session(&user.user_id).await?,
            conversation: String::new(),
            me: userid.clone(),
        });
        staff.push(userid);
    }
    let owner = staff.first().context("a group has a member")?;
    let chat = wecom
        .create_group(corpid, owner, &format!("Group {group}"), &staff[1..])
        .await?;
    let way = wecom
        .add_join_way(corpid, 2, "bench", std::slice::from_ref(&chat.chat_id), "")
        .await?;
    for index in 2..people {
        let user = identity
            .create_user(&format!("Customer {group}-{index}"))
            .await?;
        wecom.join_group(&way.config_id, &user.user_id).await?;
        seats.push(Seat {
            token: identity.create_session(&user.user_id).await?,
            conversation: String::new(),
            me: wecom.external_userid(corpid, &user.user_id),
        });
    }
    let conversation = plaza_wecom::chat::Conversation::Group {
        corpid: corpid.to_owned(),
        chat_id: chat.chat_id,
    }
    .id();
    for seat in &mut seats {
        seat.conversation.clone_from(&conversation);
    }
    Ok(seats)
}

/// A client's read buffer: frames are a few hundred bytes.
const READ_BUFFER_BYTES: usize = 8 * 1024;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects and subscribes one seat.
async fn connect(base: &str, seat: &Seat) -> anyhow::Result<Socket> {
    let mut request =
        format!("{}/api/v1/me/wecom/chat", base.replacen("http", "ws", 1)).into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {}", seat.token).parse()?);
    // tungstenite zero-fills its whole read buffer before every read: keep it small.
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
    socket
        .send(Message::Text(
            json!({ "op": "subscribe", "conversation": seat.conversation, "after": 0 })
                .to_string()
                .into(),
        ))
        .await?;
    while let Some(frame) = socket.next().await {
        if let Message::Text(text) = frame? {
            let frame: Value = serde_json::from_str(&text)?;
            match frame["op"].as_str() {
                Some("subscribed") => return Ok(socket),
                Some("error") => bail!("subscribing: {frame}"),
                _ => {}
            }
        }
    }
    bail!("the socket closed while subscribing")
}

/// What one client measured: delivery latencies in microseconds.
type Latencies = Vec<u32>;

/// When one client sends and how long it listens.
#[derive(Clone, Copy)]
struct Schedule {
    /// Time zero of the message timestamps.
    epoch: Instant,
    /// Between two of this client's messages.
    interval: Duration,
    /// Before its first message (spreading clients over one interval).
    offset: Duration,
    /// No message after this.
    stop: Instant,
    /// Reading ends here at the latest (the bench ends it sooner once every delivery
    /// arrived).
    drain_until: Instant,
}

/// The parts of a received frame the bench reads.
#[derive(serde::Deserialize)]
struct Frame<'a> {
    #[serde(borrow)]
    op: Cow<'a, str>,
    seq: Option<u64>,
    #[serde(borrow)]
    sender: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Option<Text<'a>>,
}

#[derive(serde::Deserialize)]
struct Text<'a> {
    #[serde(borrow)]
    content: Cow<'a, str>,
}

/// What a client does with one frame it receives. Its own messages come back only as
/// acknowledgements; a message seen twice, its own included, is a duplicate.
fn receive(
    text: &str,
    seat: &Seat,
    schedule: &Schedule,
    counters: &Counters,
    seen: &mut HashSet<u64>,
    latencies: &mut Latencies,
) -> anyhow::Result<()> {
    let frame: Frame<'_> = serde_json::from_str(text)?;
    match frame.op.as_ref() {
        "ack" => {
            counters.acked.fetch_add(1, Ordering::Relaxed);
            if !seen.insert(frame.seq.unwrap_or(0)) {
                counters.duplicated.fetch_add(1, Ordering::Relaxed);
            }
        }
        "message" => {
            if !seen.insert(frame.seq.unwrap_or(0)) {
                counters.duplicated.fetch_add(1, Ordering::Relaxed);
            } else if frame.sender.as_deref() != Some(seat.me.as_str()) {
                counters.delivered.fetch_add(1, Ordering::Relaxed);
                let sent_us: u64 = frame.text.and_then(|t| t.content.parse().ok()).unwrap_or(0);
                let now_us =
                    u64::try_from(schedule.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
                latencies.push(u32::try_from(now_us.saturating_sub(sent_us)).unwrap_or(u32::MAX));
            }
        }
        "error" => {
            counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        _ => {}
    }
    Ok(())
}

/// Runs one client on one task: sends at its pace until the schedule stops and reads
/// (acknowledgements and deliveries) until its drain ends; the delivery latencies.
async fn client(
    seat: Seat,
    mut socket: Socket,
    schedule: Schedule,
    counters: Arc<Counters>,
    mut done: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Latencies> {
    let mut latencies = Vec::new();
    let mut seen: HashSet<u64> = HashSet::new();
    let first = tokio::time::Instant::now() + schedule.offset;
    let mut ticker = tokio::time::interval_at(first, schedule.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let drain_until = tokio::time::Instant::from_std(schedule.drain_until);
    let mut sent = 0_u64;
    loop {
        let sending = Instant::now() < schedule.stop;
        tokio::select! {
            _ = ticker.tick(), if sending => {
                let at = u64::try_from(schedule.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
                let frame = json!({ "op": "send", "conversation": seat.conversation, "client_id": format!("{}-{sent}", seat.me), "msgtype": "text", "text": { "content": at.to_string() } });
                if socket.send(Message::Text(frame.to_string().into())).await.is_err() {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                sent += 1;
            }
            next = socket.next() => match next {
                Some(Ok(Message::Text(text))) => receive(&text, &seat, &schedule, &counters, &mut seen, &mut latencies)?,
                Some(Ok(_)) => {}
                _ => break,
            },
            () = tokio::time::sleep_until(drain_until) => break,
            _ = done.changed() => break,
        }
    }
    let _closed = socket.close(None).await;
    Ok(latencies)
}

/// How long after the last send the bench waits for deliveries at most.
const DRAIN_SECONDS_MAX: u64 = 60;

/// After the last send, waits until every acknowledged message reached every other
/// member of its group (or the drain's end): what is still missing then is lost.
async fn wait_for_deliveries(
    counters: &Counters,
    group_size: usize,
    stop: Instant,
    drain_until: Instant,
) -> (u64, u64) {
    tokio::time::sleep_until(tokio::time::Instant::from_std(stop)).await;
    let at_stop = (
        counters.acked.load(Ordering::Relaxed),
        counters.delivered.load(Ordering::Relaxed),
    );
    let mut last_acked = u64::MAX;
    while Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let acked = counters.acked.load(Ordering::Relaxed);
        let expected = acked * (group_size as u64 - 1);
        if acked == last_acked && counters.delivered.load(Ordering::Relaxed) >= expected {
            return at_stop;
        }
        last_acked = acked;
    }
    at_stop
}

/// Connects and subscribes every seat, 200 at a time.
async fn connect_all(base: &str, seats: Vec<Seat>) -> anyhow::Result<Vec<(Seat, Socket)>> {
    let mut connected = Vec::with_capacity(seats.len());
    for chunk in seats.chunks(200) {
        let mut tasks = Vec::new();
        for seat in chunk {
            let (base, seat) = (base.to_owned(), seat.clone());
            tasks.push(tokio::spawn(async move {
                connect(&base, &seat).await.map(|socket| (seat, socket))
            }));
        }
        for task in tasks {
            connected.push(task.await??);
        }
    }
    Ok(connected)
}

/// What one measured phase counted: at the end of the sending window and after the
/// drain, and the delivery latencies.
struct Measured {
    counters: Arc<Counters>,
    acked_at_stop: u64,
    delivered_at_stop: u64,
    latencies: Latencies,
}

impl Measured {
    fn lost(&self, group_size: usize) -> u64 {
        let acked = self.counters.acked.load(Ordering::Relaxed);
        let expected = acked * (group_size as u64 - 1);
        expected.saturating_sub(self.counters.delivered.load(Ordering::Relaxed))
    }
}

/// Connects every seat to `base`, sends at the offered rate for the measured seconds and
/// waits for the deliveries.
async fn measure(args: &ChatArgs, base: &str, seats: Vec<Seat>) -> anyhow::Result<Measured> {
    let connected = connect_all(base, seats).await?;
    let counters = Arc::new(Counters::default());
    let interval = Duration::from_secs_f64(args.clients as f64 / args.rate as f64);
    let epoch = Instant::now();
    let stop = epoch + Duration::from_millis(200) + Duration::from_secs(args.seconds);
    let drain_until = stop + Duration::from_secs(DRAIN_SECONDS_MAX);
    let (finish, done) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::with_capacity(connected.len());
    let count = connected.len();
    for (index, (seat, socket)) in connected.into_iter().enumerate() {
        let offset = Duration::from_millis(200) + interval.mul_f64(index as f64 / count as f64);
        let schedule = Schedule {
            epoch,
            interval,
            offset,
            stop,
            drain_until,
        };
        tasks.push(tokio::spawn(client(
            seat,
            socket,
            schedule,
            counters.clone(),
            done.clone(),
        )));
    }
    let (acked_at_stop, delivered_at_stop) =
        wait_for_deliveries(&counters, args.group_size, stop, drain_until).await;
    let _finished = finish.send(true);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.context("a client panicked")??);
    }
    latencies.sort_unstable();
    Ok(Measured {
        counters,
        acked_at_stop,
        delivered_at_stop,
        latencies,
    })
}

/// Prints the figures and the closing JSON line: rates over the sending window (what was
/// acknowledged and delivered by its end), latencies and losses after the drain, and the
/// same for the relay (the machine's bound); whether nothing was lost or repeated.
fn report(
    args: &ChatArgs,
    set_up_s: f64,
    plaza: &Measured,
    bound: &Measured,
) -> anyhow::Result<bool> {
    let lost = plaza.lost(args.group_size);
    let duplicated = plaza.counters.duplicated.load(Ordering::Relaxed);
    let seconds = args.seconds as f64;
    let messages_per_second = (plaza.acked_at_stop as f64 / seconds).round();
    let bound_messages_per_second = (bound.acked_at_stop as f64 / seconds).round();
    let figures = json!({
        "clients": args.clients,
        "groups": args.clients.div_ceil(args.group_size),
        "offered_rate": args.rate,
        "seconds": args.seconds,
        "set_up_s": (set_up_s * 10.0).round() / 10.0,
        "messages_per_second": messages_per_second,
        "deliveries_per_second": (plaza.delivered_at_stop as f64 / seconds).round(),
        "p50_ms": percentile_ms(&plaza.latencies, 0.50),
        "p99_ms": percentile_ms(&plaza.latencies, 0.99),
        "lost": lost,
        "duplicated": duplicated,
        "errors": plaza.counters.errors.load(Ordering::Relaxed),
        "relay_bound_messages_per_second": bound_messages_per_second,
        "relay_bound_deliveries_per_second": (bound.delivered_at_stop as f64 / seconds).round(),
        "relay_bound_p50_ms": percentile_ms(&bound.latencies, 0.50),
        "relay_bound_p99_ms": percentile_ms(&bound.latencies, 0.99),
        "ratio_to_relay_bound": if bound_messages_per_second > 0.0 { (messages_per_second / bound_messages_per_second * 1000.0).round() / 1000.0 } else { 0.0 },
    });
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} clients in {} groups, {} messages/s offered for {} s (set-up {set_up_s:.1} s)",
        args.clients, figures["groups"], args.rate, args.seconds
    )?;
    writeln!(
        out,
        "relay bound (same sockets and clients, no work): {} messages/s, {} deliveries/s; p50 {} ms, p99 {} ms",
        figures["relay_bound_messages_per_second"],
        figures["relay_bound_deliveries_per_second"],
        figures["relay_bound_p50_ms"],
        figures["relay_bound_p99_ms"]
    )?;
    writeln!(
        out,
        "plaza, persisted and acknowledged: {} messages/s ({} of the bound); delivered: {} deliveries/s",
        figures["messages_per_second"],
        figures["ratio_to_relay_bound"],
        figures["deliveries_per_second"]
    )?;
    writeln!(
        out,
        "send → delivery: p50 {} ms, p99 {} ms; lost {lost}, duplicated {duplicated}",
        figures["p50_ms"], figures["p99_ms"]
    )?;
    writeln!(out, "{figures}")?;
    Ok(lost == 0 && duplicated == 0)
}

pub(crate) async fn run(args: ChatArgs) -> anyhow::Result<Outcome> {
    if args.clients < 2 || args.group_size < 2 || args.rate == 0 || args.seconds == 0 {
        bail!("--clients and --group-size must be at least 2, --rate and --seconds at least 1");
    }
    let relay_seats = chat_relay::seats(args.clients, args.group_size);
    let relay = chat_relay::start(&relay_seats)?;
    let bound = measure(&args, &relay, relay_seats).await?;
    let dir = tempfile_dir()?;
    let set_up = Instant::now();
    let seats = populate(&dir, args.clients, args.group_size).await?;
    let set_up_s = set_up.elapsed().as_secs_f64();
    let server = start_server_in(dir, &[])?;
    let plaza = measure(&args, &server.base_url, seats).await?;
    let clean = report(&args, set_up_s, &plaza, &bound)?;
    drop(server);
    Ok(if clean {
        Outcome::Success
    } else {
        Outcome::Found
    })
}
