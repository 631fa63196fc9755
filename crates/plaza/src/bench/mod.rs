//! `plaza bench`: closed-loop load against a real store, with the machine's own bound
//! measured in the same run. The last line printed is one JSON object of the figures.

pub(crate) mod chat;
mod chat_relay;
pub(crate) mod codepay;
pub(crate) mod coupons;
pub(crate) mod feed;
pub(crate) mod live;
mod live_relay;
pub(crate) mod miniapp;
pub(crate) mod pay;
pub(crate) mod search;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use plaza_kernel::clock::SystemClock;
use plaza_kernel::id::{AccountId, TransferId};
use plaza_kernel::money::Currency;
use plaza_ledger::{AccountKind, LedgerStore, NewAccount, NewTransfer, TransferBatch, WriteSet};
use plaza_store::{Backend, PostgresOptions, SqliteDurability, SqliteOptions, Store};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use serde_json::json;

use crate::Outcome;
use crate::config::SQLITE_FILE;
use crate::datadir::DataDir;

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Many concurrent submitters, each submitting one transfer and waiting until it is
    /// durable, over many accounts chosen with a Zipf skew (synchronous=FULL on SQLite).
    Ledger(LedgerArgs),
    /// Native orders per second through the WeChat Pay APIv3 wire of a real `plaza
    /// serve` over loopback, against the machine's RSA-2048 signing bound (every answer
    /// is signed). Requests are signed before the timed window.
    Pay(pay::PayArgs),
    /// Counter payments (v3 codepay) per second through the signed APIv3 wire, against
    /// the machine's RSA-2048 signing bound; then the latency from paying a collection
    /// code to the payment arriving on the owner's page.
    Codepay(codepay::CodepayArgs),
    /// Coupon issuance per second against one stock from many concurrent requests
    /// through the signed APIv3 wire, proving the stock issues exactly its limit.
    Coupons(coupons::CouponsArgs),
    /// Mini-program logins per second (the container's wx.login and the back end's
    /// jscode2session, each code spent durably), against the same two requests served
    /// by handlers that do no work (the machine's HTTP bound).
    Miniapp(miniapp::MiniappArgs),
    /// WeCom customer-group chat: WebSocket clients in groups sending at a fixed rate,
    /// every message persisted before its acknowledgement and delivered to every other
    /// member; messages and deliveries per second, send-to-delivery p50/p99, lost and
    /// duplicated.
    Chat(chat::ChatArgs),
    /// Channels feed requests per second (Recommended and Following, alternating) with
    /// `--posts` ready posts and `--users` signed-in people, against the same requests
    /// answered by a handler that does no work (the machine's HTTP bound).
    Feed(feed::FeedArgs),
    /// A Channels live room: `--viewers` WebSocket viewers, comments and gifts at fixed
    /// rates; frames delivered per second, comment send-to-delivery p50/p99, gifts per
    /// second checked exact in the ledger, and the server's memory per viewer.
    Live(live::LiveArgs),
    /// The relay `plaza bench live` measures the machine's bound against (started by it).
    #[command(hide = true)]
    LiveRelay(live_relay::LiveRelayArgs),
    /// Search: indexing documents per second over `--docs` generated documents (Chinese
    /// text, every section), then mixed queries (terms, phrases, substrings, pinyin,
    /// intents, section pages) at a fixed `--rate` over HTTP; queries/s, p50/p99 from
    /// when each request was due, and the index's size on disk, with the same queries
    /// answered in process by the index alone (the machine's bound).
    Search(search::SearchArgs),
}

#[derive(Debug, Args)]
pub(crate) struct LedgerArgs {
    /// Data directory for the SQLite database [default: a temporary directory, removed after].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Run against PostgreSQL instead (postgres://…); bench accounts get a per-run prefix.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Measured seconds (after a one-second warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent submitters.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Accounts to spread transfers over.
    #[arg(long, default_value_t = 10_000)]
    accounts: usize,
    /// Zipf exponent of the account choice (0 = uniform; 1 = a few hot accounts).
    #[arg(long, default_value_t = 1.0)]
    zipf_exponent: f64,
    /// SQLite durability: `pipelined` (fdatasync of the WAL on a syncer thread before any
    /// acknowledgement, the default) or `full` (synchronous=FULL inside each commit).
    #[arg(long, default_value = "pipelined", value_parser = ["pipelined", "full"])]
    sqlite_sync: String,
}

const WARMUP: Duration = Duration::from_secs(1);
const FUNDING_MINOR: i64 = 1_000_000_000_000;

pub(crate) async fn run(command: BenchCommand) -> anyhow::Result<Outcome> {
    match command {
        BenchCommand::Ledger(args) => ledger(args).await,
        BenchCommand::Pay(args) => pay::run(args).await,
        BenchCommand::Codepay(args) => codepay::run(args).await,
        BenchCommand::Coupons(args) => coupons::run(args).await,
        BenchCommand::Miniapp(args) => miniapp::run(args).await,
        BenchCommand::Chat(args) => chat::run(args).await,
        BenchCommand::Feed(args) => feed::run(args).await,
        BenchCommand::Live(args) => live::run(args).await,
        BenchCommand::LiveRelay(args) => live_relay::run(args).await,
        BenchCommand::Search(args) => search::run(args).await,
    }
}

/// The disk's own bound: p50 of a 1 KiB append + fdatasync, in microseconds.
fn fsync_p50_us(dir: &std::path::Path) -> anyhow::Result<f64> {
    let path = dir.join("bench-fsync.probe");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    let block = [7u8; 1024];
    let mut samples = Vec::with_capacity(500);
    for _ in 0..500 {
        let started = Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    drop(file);
    std::fs::remove_file(&path)?;
    samples.sort_by(f64::total_cmp);
    Ok(samples[samples.len() / 2])
}

pub(crate) fn percentile_ms(sorted_us: &[u32], fraction: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let index = ((sorted_us.len() as f64 - 1.0) * fraction).round() as usize;
    f64::from(sorted_us[index.min(sorted_us.len() - 1)]) / 1000.0
}

fn account(run: &str, index: usize) -> anyhow::Result<AccountId> {
    Ok(AccountId::parse(format!("bench:{run}:{index}"))?)
}

async fn open_accounts(store: &Store, run: &str, accounts: usize) -> anyhow::Result<()> {
    let bank = AccountId::parse(format!("bench:{run}:bank"))?;
    store
        .open_account(NewAccount::new(
            bank.clone(),
            AccountKind::External,
            Currency::CNY,
        ))
        .await?;
    let mut tasks = Vec::new();
    for chunk_start in (0..accounts).step_by(1_000) {
        let store = store.clone();
        let run = run.to_owned();
        let bank = bank.clone();
        tasks.push(tokio::spawn(async move {
            let chunk_end = (chunk_start + 1_000).min(accounts);
            let mut funding = Vec::new();
            for index in chunk_start..chunk_end {
                let id = account(&run, index)?;
                store
                    .open_account(NewAccount::new(
                        id.clone(),
                        AccountKind::Wallet,
                        Currency::CNY,
                    ))
                    .await?;
                funding.push(NewTransfer {
                    id: TransferId::parse(format!("bench:{run}:fund:{index}"))?,
                    from: bank.clone(),
                    to: id,
                    amount_minor: FUNDING_MINOR,
                    currency: Currency::CNY,
                    memo: String::new(),
                });
            }
            store
                .commit(WriteSet::transfers(TransferBatch::new(funding)?))
                .await?;
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

struct Submitter {
    store: Store,
    run: String,
    /// Parsed once, so the load generator spends its CPU on submitting, not formatting.
    account_ids: Arc<Vec<AccountId>>,
    task: usize,
    accounts: usize,
    zipf: Zipf<f64>,
    measure_from: Instant,
    measure_until: Instant,
    stop: Arc<AtomicBool>,
    next_id: Arc<AtomicU64>,
}

struct Sample {
    latencies_us: Vec<u32>,
    errors: u64,
}

impl Submitter {
    async fn run(self) -> anyhow::Result<Sample> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(self.task as u64);
        let mut latencies_us = Vec::new();
        let mut errors = 0;
        while !self.stop.load(Ordering::Relaxed) {
            let from = (self.zipf.sample(&mut rng) as usize - 1).min(self.accounts - 1);
            let mut to = (self.zipf.sample(&mut rng) as usize - 1).min(self.accounts - 1);
            if to == from {
                to = (to + 1) % self.accounts;
            }
            let transfer = NewTransfer {
                id: TransferId::parse(format!(
                    "bench:{}:{:012}",
                    self.run,
                    self.next_id.fetch_add(1, Ordering::Relaxed)
                ))?,
                from: self.account_ids[from].clone(),
                to: self.account_ids[to].clone(),
                amount_minor: rng.random_range(1..=100),
                currency: Currency::CNY,
                memo: String::new(),
            };
            let started = Instant::now();
            let result = self
                .store
                .commit(WriteSet::transfers(TransferBatch::single(transfer)?))
                .await;
            let finished = Instant::now();
            if started >= self.measure_from && finished <= self.measure_until {
                match result {
                    Ok(_) => latencies_us
                        .push(u32::try_from((finished - started).as_micros()).unwrap_or(u32::MAX)),
                    Err(_) => errors += 1,
                }
            }
        }
        Ok(Sample {
            latencies_us,
            errors,
        })
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "a benchmark's script: set up, warm up, measure, report, in the order it runs"
)]
async fn ledger(args: LedgerArgs) -> anyhow::Result<Outcome> {
    if args.accounts < 2 || args.concurrency == 0 || args.seconds == 0 {
        bail!("--accounts must be at least 2, --concurrency and --seconds at least 1");
    }
    let temp = tempfile_dir()?;
    let dir = args.data_dir.clone().unwrap_or_else(|| temp.clone());
    let _lock = DataDir::open(&dir)?;
    let backend = match &args.database_url {
        Some(url) => Backend::Postgres(PostgresOptions { url: url.clone() }),
        None => Backend::Sqlite(SqliteOptions {
            path: dir.join(SQLITE_FILE),
            durability: if args.sqlite_sync == "full" {
                SqliteDurability::FullSync
            } else {
                SqliteDurability::PipelinedSync
            },
        }),
    };
    let fsync_us = fsync_p50_us(&dir)?;
    let store = Store::open(&backend, Arc::new(SystemClock)).await?;
    let run: String = format!("{:08x}", rand::random::<u32>());
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "ledger bench: {} backend, {} accounts, concurrency {}, {} s measured (+1 s warm-up)",
        store.backend_name(),
        args.accounts,
        args.concurrency,
        args.seconds
    )?;
    drop(out);
    open_accounts(&store, &run, args.accounts).await?;

    let zipf = Zipf::new(args.accounts as f64, args.zipf_exponent)
        .map_err(|error| anyhow::anyhow!("--zipf-exponent: {error}"))?;
    let account_ids = Arc::new(
        (0..args.accounts)
            .map(|index| account(&run, index))
            .collect::<anyhow::Result<Vec<_>>>()?,
    );
    let stop = Arc::new(AtomicBool::new(false));
    let next_id = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + WARMUP;
    let measure_until = measure_from + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for task in 0..args.concurrency {
        let submitter = Submitter {
            store: store.clone(),
            run: run.clone(),
            account_ids: account_ids.clone(),
            task,
            accounts: args.accounts,
            zipf,
            measure_from,
            measure_until,
            stop: stop.clone(),
            next_id: next_id.clone(),
        };
        tasks.push(tokio::spawn(submitter.run()));
    }
    tokio::time::sleep_until(measure_from.into()).await;
    let (transfers_before, commits_before) = (
        store.metrics().transfers.get(),
        store.metrics().commits.get(),
    );
    tokio::time::sleep_until(measure_until.into()).await;
    let (transfers_after, commits_after) = (
        store.metrics().transfers.get(),
        store.metrics().commits.get(),
    );
    stop.store(true, Ordering::Relaxed);
    let mut latencies_us = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let sample = task.await.context("a submitter failed")??;
        latencies_us.extend(sample.latencies_us);
        errors += sample.errors;
    }
    latencies_us.sort_unstable();
    let seconds = args.seconds as f64;
    let acknowledged = latencies_us.len() as f64;
    let commits = commits_after.saturating_sub(commits_before).max(1) as f64;
    let committed = transfers_after.saturating_sub(transfers_before) as f64;
    writeln!(
        std::io::stdout().lock(),
        "measured: {} transfers/s acknowledged durable; verifying the ledger…",
        (acknowledged / seconds).round()
    )?;
    let report = plaza_ledger::verify(&store.audit().await?);
    store.close().await;
    if args.data_dir.is_none() {
        let _removed = std::fs::remove_dir_all(&temp);
    }
    let figures = json!({
        "bench": "ledger",
        "backend": if args.database_url.is_some() { "postgres" } else { "sqlite" },
        "seconds": args.seconds,
        "concurrency": args.concurrency,
        "accounts": args.accounts,
        "zipf_exponent": args.zipf_exponent,
        "sqlite_sync": if args.database_url.is_some() { "n/a" } else { args.sqlite_sync.as_str() },
        "transfers": latencies_us.len(),
        "transfers_per_second": (acknowledged / seconds).round(),
        "p50_ms": percentile_ms(&latencies_us, 0.50),
        "p90_ms": percentile_ms(&latencies_us, 0.90),
        "p99_ms": percentile_ms(&latencies_us, 0.99),
        "max_ms": percentile_ms(&latencies_us, 1.0),
        "batch_mean": (committed / commits * 10.0).round() / 10.0,
        "commits_per_second": (commits / seconds).round(),
        "errors": errors,
        "fsync_p50_us": fsync_us.round(),
        "fsync_bound_commits_per_second": (1e6 / fsync_us).round(),
        "ledger_sound": report.is_sound(),
    });
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} transfers/s acknowledged durable; p50 {} ms, p99 {} ms; {} transfers per commit; disk fsync p50 {} µs; ledger sound: {}",
        figures["transfers_per_second"],
        figures["p50_ms"],
        figures["p99_ms"],
        figures["batch_mean"],
        figures["fsync_p50_us"],
        report.is_sound()
    )?;
    writeln!(out, "{figures}")?;
    if report.is_sound() && errors == 0 {
        Ok(Outcome::Success)
    } else {
        Ok(Outcome::Found)
    }
}

/// A data directory opened by a bench to write its data through the domain before
/// `plaza serve` serves it: the folder (its secrets), the SQLite store and identity.
pub(crate) struct Seeding {
    pub(crate) data_dir: DataDir,
    pub(crate) store: Store,
    pub(crate) shared: Arc<Store>,
    pub(crate) identity: Arc<plaza_identity::Identity>,
}

impl Seeding {
    pub(crate) async fn open(dir: &std::path::Path) -> anyhow::Result<Self> {
        let data_dir = DataDir::open(dir)?;
        let store = Store::open(
            &crate::serve::backend(&crate::config::Database::Sqlite(dir.join(SQLITE_FILE))),
            Arc::new(SystemClock),
        )
        .await?;
        let shared = Arc::new(store.clone());
        let identity = Arc::new(plaza_identity::Identity::new(
            shared.clone(),
            shared.clone(),
            Arc::new(SystemClock),
            data_dir
                .secret(crate::systems::IDENTITY_SECRET_FILE)?
                .as_bytes()
                .to_vec(),
        ));
        Ok(Self {
            data_dir,
            store,
            shared,
            identity,
        })
    }
}

/// A fresh directory under the system's temporary directory.
pub(crate) fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("plaza-bench-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Serves `app` on its own two-thread runtime (as `plaza serve` has), on a loopback
/// port; the address. `what` names it in the log if it fails.
pub(crate) fn serve_on_own_runtime(
    app: axum::Router,
    what: &'static str,
) -> anyhow::Result<std::net::SocketAddr> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let served = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map(|runtime| {
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                    let _sent = sender.send(listener.local_addr());
                    axum::serve(listener, app).await
                })
            });
        if let Err(error) = served {
            tracing::error!(%error, what, "a bench server failed");
        }
    });
    Ok(receiver.recv_timeout(Duration::from_secs(10))??)
}
