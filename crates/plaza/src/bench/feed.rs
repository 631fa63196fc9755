//! `plaza bench feed`: Channels feed requests per second. The bench writes a data
//! directory through the domain — `--users` people, `--creators` of them with channels
//! in the seven areas, `--posts` ready posts sharing one clip ffmpeg made and processed,
//! each person following `--follows` channels — then starts this binary as
//! `plaza serve --sandbox` on it, which loads the feed's facts at start. `--concurrency`
//! clients, each a signed-in person over a keep-alive loopback connection, ask
//! `GET /api/v1/channels/feed` back to back, alternating Recommended (ranked with the
//! person's follows and areas) and Following; every answer must be 200 with items.
//!
//! The machine's own bound is measured in the same run: the same requests, over the
//! same client, against a server on this process whose handler does no work but
//! answers a real feed page's bytes (on its own two-thread runtime, like the real
//! server's).

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use plaza_channels::Channels;
use plaza_channels::creators::NewChannel;
use plaza_channels::model::{Area, Video};
use plaza_identity::Identity;
use plaza_kernel::clock::SystemClock;
use serde_json::{Value, json};

use crate::Outcome;
use crate::bench::pay::{Connection, start_server_in};
use crate::bench::{percentile_ms, serve_on_own_runtime, tempfile_dir};

#[derive(Debug, Args)]
pub(crate) struct FeedArgs {
    /// Ready posts in the feed.
    #[arg(long, default_value_t = 100_000)]
    posts: usize,
    /// People (each with a session).
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    /// People among them with a channel.
    #[arg(long, default_value_t = 1_000)]
    creators: usize,
    /// Channels each person follows.
    #[arg(long, default_value_t = 10)]
    follows: usize,
    /// Measured seconds of feed requests.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Measured seconds against the no-work server (the HTTP bound).
    #[arg(long, default_value_t = 5)]
    bound_seconds: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

/// Concurrent writers while seeding.
const SEEDING_TASKS: usize = 64;

/// What one run of clients measured.
struct Measured {
    recommended_us: Vec<u32>,
    following_us: Vec<u32>,
    errors: u64,
    elapsed_s: f64,
}

impl Measured {
    fn requests(&self) -> usize {
        self.recommended_us.len() + self.following_us.len()
    }
}

/// The processed clip every seeded post shares: made by ffmpeg, processed like an
/// upload, its files in the data directory's object store.
async fn shared_clip(objects: &dyn plaza_kernel::objects::ObjectStore) -> anyhow::Result<Video> {
    let tools = plaza_media::Tools::default();
    tools.check().await.context("the feed bench needs ffmpeg")?;
    let bytes = tools
        .generate_clip("testsrc2", 3, (640, 360), "mp4")
        .await?;
    let processed = tools.process_video(&bytes).await?;
    let source = plaza_channels::store::sha256_hex(&bytes);
    let poster = plaza_channels::store::sha256_hex(&processed.poster_jpeg);
    let size = u64::try_from(bytes.len())?;
    objects.put(source.clone(), bytes).await?;
    objects.put(poster.clone(), processed.poster_jpeg).await?;
    Ok(Video {
        source: source.clone(),
        playable: source,
        content_type: "video/mp4".to_owned(),
        playable_bytes: size,
        poster,
        duration_ms: processed.facts.duration_ms,
        width: processed.facts.width,
        height: processed.facts.height,
        codec: processed.facts.video_codec,
        transcoded: false,
        frame_hashes: processed.frame_hashes,
    })
}

/// Runs `work(i)` for `0..count`, `SEEDING_TASKS` at a time.
async fn in_parallel<F, Fut, T>(count: usize, work: F) -> anyhow::Result<Vec<T>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let mut results = Vec::with_capacity(count);
    let mut tasks = Vec::new();
    for index in 0..count {
        tasks.push(tokio::spawn(work(index)));
        if tasks.len() >= SEEDING_TASKS || index + 1 == count {
            for task in std::mem::take(&mut tasks) {
                results.push(task.await??);
            }
        }
    }
    Ok(results)
}

/// Writes people, channels, posts and follows into `dir`; the people's session tokens.
async fn populate(dir: &std::path::Path, args: &FeedArgs) -> anyhow::Result<Vec<String>> {
    let crate::bench::Seeding {
        data_dir,
        store,
        shared,
        identity,
    } = crate::bench::Seeding::open(dir).await?;
    let objects = Arc::new(plaza_store::objects::LocalObjects::open(
        dir.join(crate::systems::OBJECTS_DIR),
    )?);
    let video = shared_clip(&*objects).await?;
    let channels = Arc::new(Channels::new(
        shared.clone(),
        shared,
        Arc::new(SystemClock),
        identity.clone(),
        objects,
        Arc::new(plaza_media::Tools::default()),
    ));
    let tokens = seed(&channels, &identity, &video, args).await?;
    drop(channels);
    drop(identity);
    store.close().await;
    drop(data_dir);
    Ok(tokens)
}

/// The people (with sessions), channels, posts and follows; the people's tokens.
async fn seed(
    channels: &Arc<Channels>,
    identity: &Arc<Identity>,
    video: &Video,
    args: &FeedArgs,
) -> anyhow::Result<Vec<String>> {
    let people: Vec<(String, String)> = in_parallel(args.users, |index| {
        let identity = Arc::clone(identity);
        async move {
            let user = identity.create_user(&format!("Viewer {index}")).await?;
            let token = identity.create_session(&user.user_id).await?;
            Ok((user.user_id, token))
        }
    })
    .await?;
    let creators: Vec<String> = in_parallel(args.creators.min(args.users), |index| {
        let (channels, user_id) = (Arc::clone(channels), people[index].0.clone());
        async move {
            let new = NewChannel {
                name: format!("Creator {index}"),
                bio: "bench".to_owned(),
                area: Area::ALL[index % Area::ALL.len()],
                avatar_upload: None,
            };
            Ok(channels.open_channel(&user_id, new).await?.channel_id)
        }
    })
    .await?;
    let authors: Vec<String> = people
        .iter()
        .take(creators.len())
        .map(|(id, _)| id.clone())
        .collect();
    in_parallel(args.posts, |index| {
        let (channels, author, video) = (
            Arc::clone(channels),
            authors[index % authors.len()].clone(),
            video.clone(),
        );
        async move {
            channels
                .publish_processed(&author, &format!("Post {index} #bench"), video)
                .await?;
            Ok(())
        }
    })
    .await?;
    in_parallel(args.users, |index| {
        let (channels, follower) = (Arc::clone(channels), people[index].0.clone());
        let followed: Vec<String> = (1..=args.follows)
            .map(|step| creators[(index * 7 + step * 13) % creators.len()].clone())
            .filter(|channel| index >= creators.len() || creators[index] != *channel)
            .collect();
        async move {
            for channel in followed {
                channels.set_follow(&follower, &channel, true).await?;
            }
            Ok(())
        }
    })
    .await?;
    Ok(people.into_iter().map(|(_, token)| token).collect())
}

fn feed_request(tab: &str, token: &str) -> Vec<u8> {
    format!(
        "GET /api/v1/channels/feed?tab={tab} HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {token}\r\n\r\n"
    )
    .into_bytes()
}

/// Runs `concurrency` clients asking for feeds back to back for `seconds`.
async fn drive(
    address: std::net::SocketAddr,
    tokens: Arc<Vec<String>>,
    concurrency: usize,
    seconds: u64,
) -> anyhow::Result<Measured> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let errors = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (tokens, errors, next) = (tokens.clone(), errors.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(address).await?;
            let (mut recommended, mut following) = (Vec::new(), Vec::new());
            while Instant::now() < deadline {
                let turn = next.fetch_add(1, Ordering::Relaxed);
                let token = &tokens[turn % tokens.len()];
                let tab = if turn % 2 == 0 {
                    "recommended"
                } else {
                    "following"
                };
                let sent = Instant::now();
                let (status, _, body) = connection.exchange(&feed_request(tab, token)).await?;
                let took = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
                let answer: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                if status != 200 || answer["items"].as_array().is_none_or(Vec::is_empty) {
                    errors.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if tab == "recommended" {
                    recommended.push(took);
                } else {
                    following.push(took);
                }
            }
            anyhow::Ok((recommended, following))
        }));
    }
    let mut measured = Measured {
        recommended_us: Vec::new(),
        following_us: Vec::new(),
        errors: 0,
        elapsed_s: 0.0,
    };
    for task in tasks {
        let (recommended, following) = task.await??;
        measured.recommended_us.extend(recommended);
        measured.following_us.extend(following);
    }
    measured.elapsed_s = started.elapsed().as_secs_f64();
    measured.errors = errors.load(Ordering::Relaxed);
    measured.recommended_us.sort_unstable();
    measured.following_us.sort_unstable();
    Ok(measured)
}

/// A server that answers every feed request with `body` and does nothing else.
fn no_work_server(body: String) -> anyhow::Result<std::net::SocketAddr> {
    let body: Arc<str> = body.into();
    let app = axum::Router::new().route(
        "/api/v1/channels/feed",
        axum::routing::get(move || {
            let body = body.clone();
            async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    body.to_string(),
                )
            }
        }),
    );
    serve_on_own_runtime(app, "the feed bench's no-work server")
}

pub(crate) async fn run(args: FeedArgs) -> anyhow::Result<Outcome> {
    if args.posts == 0 || args.users == 0 || args.creators == 0 || args.seconds == 0 {
        bail!("--posts, --users, --creators and --seconds must be at least 1");
    }
    let dir = tempfile_dir()?;
    let set_up = Instant::now();
    let tokens = Arc::new(populate(&dir, &args).await?);
    let set_up_s = set_up.elapsed().as_secs_f64();
    let server = start_server_in(dir, &[])?;
    let address: std::net::SocketAddr = server
        .base_url
        .trim_start_matches("http://")
        .parse()
        .context("the server's address")?;
    let mut sample = Connection::open(address).await?;
    let (_, _, page) = sample
        .exchange(&feed_request("recommended", &tokens[0]))
        .await?;
    let plaza = drive(address, tokens.clone(), args.concurrency, args.seconds).await?;
    drop(server);
    let bound_address = no_work_server(page.clone())?;
    let bound = drive(bound_address, tokens, args.concurrency, args.bound_seconds).await?;
    report(&args, set_up_s, &plaza, &bound, page.len())
}

fn report(
    args: &FeedArgs,
    set_up_s: f64,
    plaza: &Measured,
    bound: &Measured,
    page_bytes: usize,
) -> anyhow::Result<Outcome> {
    #[allow(clippy::cast_precision_loss, reason = "request counts far below 2^52")]
    let rate = |measured: &Measured| measured.requests() as f64 / measured.elapsed_s.max(1e-9);
    let mut all: Vec<u32> = plaza
        .recommended_us
        .iter()
        .chain(&plaza.following_us)
        .copied()
        .collect();
    all.sort_unstable();
    let figures = json!({
        "posts": args.posts,
        "users": args.users,
        "creators": args.creators,
        "follows_each": args.follows,
        "concurrency": args.concurrency,
        "set_up_s": (set_up_s * 10.0).round() / 10.0,
        "page_bytes": page_bytes,
        "feed_requests_per_second": rate(plaza).round(),
        "p50_ms": percentile_ms(&all, 0.50),
        "p99_ms": percentile_ms(&all, 0.99),
        "recommended_p50_ms": percentile_ms(&plaza.recommended_us, 0.50),
        "recommended_p99_ms": percentile_ms(&plaza.recommended_us, 0.99),
        "following_p50_ms": percentile_ms(&plaza.following_us, 0.50),
        "following_p99_ms": percentile_ms(&plaza.following_us, 0.99),
        "errors": plaza.errors + bound.errors,
        "bound_requests_per_second": rate(bound).round(),
        "ratio_to_bound": ((rate(plaza) / rate(bound).max(1e-9)) * 1000.0).round() / 1000.0,
    });
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "feed: {} requests/s over {} posts and {} users (p50 {} ms, p99 {} ms; Recommended p99 {} ms, Following p99 {} ms); the no-work server's bound {} requests/s; {} errors",
        figures["feed_requests_per_second"],
        args.posts,
        args.users,
        figures["p50_ms"],
        figures["p99_ms"],
        figures["recommended_p99_ms"],
        figures["following_p99_ms"],
        figures["bound_requests_per_second"],
        figures["errors"],
    )?;
    writeln!(out, "{figures}")?;
    Ok(if plaza.errors == 0 && bound.errors == 0 {
        Outcome::Success
    } else {
        Outcome::Found
    })
}
