//! `plaza serve`: open the data directory and the store, start the scheduler and the
//! HTTP server (and drop-in mode's HTTPS listener), and shut all of it down in order on
//! SIGTERM or Ctrl-C.

use std::future::IntoFuture;
use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use plaza_http::{HttpLimits, HttpMetrics, HttpState, HttpStateParts, SCHEDULED_TRANSFER_JOB};
use plaza_kernel::clock::{Clock, SandboxClock, SystemClock};
use plaza_store::{Backend, PostgresOptions, SqliteOptions, Store};
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::config::{Config, Database};
use crate::datadir::DataDir;
use crate::scheduler::Scheduler;
use crate::systems::{Foundation, System};
use crate::wiring::{
    OutboxLag, SANDBOX_OFFSET_KEY, SANDBOX_REACHED_KEY, SandboxTime, ScheduledTransfer, StoreHealth,
};

/// The data-directory file of the secret that signs cookies of the shared pages.
const COOKIE_SECRET_FILE: &str = "cookie.secret";

pub(crate) fn backend(database: &Database) -> Backend {
    match database {
        Database::Sqlite(path) => Backend::Sqlite(SqliteOptions {
            path: path.clone(),
            durability: plaza_store::SqliteDurability::default(),
        }),
        Database::Postgres(url) => Backend::Postgres(PostgresOptions { url: url.clone() }),
    }
}

/// The SIGTERM listener, registered before the server says it listens: a SIGTERM that
/// arrives the moment after must stop it gracefully, not kill it.
#[cfg(unix)]
type TermSignal = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type TermSignal = ();

fn listen_for_sigterm() -> TermSignal {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => Some(signal),
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                None
            }
        }
    }
}

/// Resolves when SIGTERM or Ctrl-C arrives.
async fn termination(sigterm: TermSignal) {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async move {
        match sigterm {
            Some(mut signal) => {
                signal.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = {
        let () = sigterm;
        std::future::pending::<()>()
    };
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

/// Drop-in mode's TLS configuration, from the certificates `plaza ca` wrote.
fn drop_in_config(config: &Config) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let mut command = "plaza ca".to_owned();
    if config.data_dir != std::path::Path::new(crate::config::DATA_DIR_DEFAULT) {
        command.push_str(&format!(" --data-dir {}", config.data_dir.display()));
    }
    if config.tls_cert_dir != config.data_dir.join(crate::config::CA_DIR) {
        command.push_str(&format!(" --out {}", config.tls_cert_dir.display()));
    }
    let now_s = SystemClock.now().unix_ms().div_euclid(1_000);
    Ok(crate::tls::server_config(
        &config.tls_cert_dir,
        &command,
        now_s,
    )?)
}

/// The server's sockets, bound before anything is made on disk.
struct Listeners {
    http: tokio::net::TcpListener,
    tls: Option<crate::tls::TlsListener>,
}

impl Listeners {
    async fn bind(
        config: &Config,
        tls_config: Option<Arc<rustls::ServerConfig>>,
    ) -> anyhow::Result<Self> {
        let http = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let tls = match (config.tls_listen, tls_config) {
            (Some(addr), Some(tls_config)) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (tls_listen)"))?;
                Some(crate::tls::TlsListener::new(listener, tls_config)?)
            }
            _ => None,
        };
        Ok(Self { http, tls })
    }
}

/// Work to do once the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterStart {
    /// Seed the demo ecosystem and print where to go (`plaza demo`).
    Demo,
}

/// Sets the sandbox clock where it stood before the restart (never before the latest
/// instant a move reached) and pins it at the first missed job's due time, before
/// anything at start writes, so nothing is stamped later than the jobs catching up
/// books. Returns the instant to catch up to.
async fn restore_sandbox_clock(
    sandbox_clock: &Arc<SandboxClock>,
    store: &Store,
) -> anyhow::Result<plaza_kernel::clock::Timestamp> {
    // Carry a moved sandbox clock over restarts, so time never goes backwards.
    let offset_ms: i64 = store
        .meta(SANDBOX_OFFSET_KEY)
        .await?
        .and_then(|text| text.parse().ok())
        .unwrap_or(0);
    if offset_ms > 0 {
        sandbox_clock.advance(offset_ms)?;
    }
    // And never before the latest instant a move reached, even if the wall clock has
    // stepped back since (a corrected machine clock, a restored VM).
    let reached_ms: Option<i64> = store
        .meta(SANDBOX_REACHED_KEY)
        .await?
        .and_then(|text| text.parse().ok());
    if let Some(reached_ms) = reached_ms {
        let behind_ms = reached_ms.saturating_sub(sandbox_clock.now().unix_ms());
        if behind_ms > 0 {
            sandbox_clock.advance(behind_ms)?;
        }
    }
    // Pinned at the first missed job's due time before anything below writes, so
    // nothing is stamped later than the jobs that catching up books.
    Ok(crate::scheduler::pin_for_catch_up(sandbox_clock, store).await?)
}

/// Builds every system, registers its jobs (and the ledger's scheduled transfers) and
/// runs its start work.
async fn start_systems(
    foundation: &Foundation<'_>,
) -> anyhow::Result<(Vec<Box<dyn System>>, Arc<Scheduler>)> {
    let systems = crate::systems::build(foundation)?;
    crate::systems::check_error_codes(&systems)?;
    let mut scheduler = Scheduler::new(foundation.store.clone(), foundation.clock.clone());
    for system in &systems {
        for (kind, handler) in system.jobs() {
            scheduler.register(kind, handler);
        }
        system
            .start(&foundation.config.data_dir)
            .await
            .with_context(|| format!("starting {}", system.name()))?;
    }
    scheduler.register(
        SCHEDULED_TRANSFER_JOB,
        Arc::new(ScheduledTransfer {
            ledger: foundation.store.clone(),
        }),
    );
    Ok((systems, Arc::new(scheduler)))
}

/// What runs once everything is ready.
struct Serving {
    listener: tokio::net::TcpListener,
    tls_listener: Option<crate::tls::TlsListener>,
    app: axum::Router,
    scheduler: Arc<Scheduler>,
    sigterm: TermSignal,
}

/// Serves (and seeds the demo when asked) until SIGTERM or Ctrl-C, then stops the
/// servers, finishing in-flight requests within the grace period, and the scheduler.
async fn serve_until_stopped(
    serving: Serving,
    config: &Config,
    after_start: Option<(AfterStart, String, String, std::net::SocketAddr)>,
) -> anyhow::Result<()> {
    let Serving {
        listener,
        tls_listener,
        app,
        scheduler,
        sigterm,
    } = serving;
    let (stop_sender, stop) = watch::channel(false);
    let scheduler_task = tokio::spawn(scheduler.clone().run(stop.clone()));

    let mut stop_for_server = stop.clone();
    // Small frames (chat, server-sent events) go out at once: without TCP_NODELAY a
    // second small write waits for the peer's delayed ACK, about 40 ms.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY could not be set");
        }
    });
    let server = axum::serve(listener, app.clone()).with_graceful_shutdown(async move {
        let _changed = stop_for_server.changed().await;
    });
    let tls_server = tls_listener.map(|tls_listener| {
        let mut stop_for_server = stop.clone();
        // Marked as HTTPS by the listener, so `download_url`s name the scheme the
        // request really came in on.
        let app = plaza_http::host::served_over_tls(app);
        axum::serve(tls_listener, app).with_graceful_shutdown(async move {
            let _changed = stop_for_server.changed().await;
        })
    });
    let mut server_task = tokio::spawn(async move {
        match tls_server {
            Some(tls_server) => {
                tokio::try_join!(server.into_future(), tls_server.into_future()).map(|_| ())
            }
            None => server.await,
        }
    });
    if let Some((AfterStart::Demo, gateway, admin_token, local_addr)) = after_start {
        let base = format!("http://{local_addr}");
        if let Err(error) =
            crate::demo::seed_and_greet(&base, &gateway, &admin_token, &config.data_dir).await
        {
            tracing::error!(%error, "seeding the demo failed");
            eprintln!("plaza: seeding the demo failed: {error:#}");
        }
    }

    tokio::select! {
        () = termination(sigterm) => {
            tracing::info!("stopping: finishing in-flight requests");
        }
        joined = &mut server_task => {
            joined.context("the server task failed")?.context("the server failed")?;
        }
    }
    let _sent = stop_sender.send(true);
    if !server_task.is_finished() {
        match tokio::time::timeout(config.shutdown_grace, &mut server_task).await {
            Ok(joined) => joined
                .context("the server task failed")?
                .context("the server failed")?,
            Err(_) => {
                tracing::warn!(
                    grace_ms = config.shutdown_grace.as_millis() as u64,
                    "requests still running after the grace period; stopping anyway"
                );
                server_task.abort();
            }
        }
    }
    let _stopped = scheduler_task.await;
    Ok(())
}

/// Writes the address files and tells the log and stdout where Plaza listens — the
/// last line only once SIGTERM is listened for, since scripts act on it.
fn announce(
    data_dir: &DataDir,
    tls_listener: Option<&crate::tls::TlsListener>,
    local_addr: std::net::SocketAddr,
    config: &Config,
    backend_name: &str,
) -> anyhow::Result<TermSignal> {
    data_dir.write_addr(local_addr)?;
    if let Some(tls_listener) = tls_listener {
        let tls_addr = axum::serve::Listener::local_addr(tls_listener)?;
        data_dir.write_tls_addr(tls_addr)?;
        tracing::info!(addr = %tls_addr, "plaza drop-in mode listening (https)");
        // Before the line below, which tells scripts that everything listens.
        writeln!(
            std::io::stdout().lock(),
            "plaza tls listening on https://{tls_addr}"
        )?;
    }
    tracing::info!(
        addr = %local_addr,
        data_dir = %config.data_dir.display(),
        store = backend_name,
        sandbox = config.sandbox,
        "plaza listening"
    );
    let sigterm = listen_for_sigterm();
    // One machine-readable line on stdout, for scripts and the test kit.
    writeln!(
        std::io::stdout().lock(),
        "plaza listening on http://{local_addr}"
    )?;
    Ok(sigterm)
}

/// In the sandbox, the clock's mover: it catches up on jobs missed while the server
/// was down (each at its due time) and moves to `--sandbox-clock-start` if asked.
async fn start_sandbox_time(
    sandbox_clock: Option<Arc<SandboxClock>>,
    catch_up_to: Option<plaza_kernel::clock::Timestamp>,
    store: &Store,
    scheduler: &Arc<Scheduler>,
    config: &Config,
) -> anyhow::Result<Option<Arc<dyn plaza_http::TimeTravel>>> {
    let Some(clock) = sandbox_clock else {
        return Ok(None);
    };
    let sandbox_time = Arc::new(SandboxTime {
        clock,
        store: store.clone(),
        scheduler: scheduler.clone(),
    });
    sandbox_time
        .start(catch_up_to, config.sandbox_clock_start)
        .await?;
    Ok(Some(sandbox_time))
}

/// The metrics registry with the store's, the HTTP layer's and the outbox lag's figures.
struct Metrics {
    registry: Registry,
    http_metrics: HttpMetrics,
    scrape_hook: Arc<OutboxLag>,
}

impl Metrics {
    fn new(store: &Store) -> Self {
        let mut registry = Registry::default();
        store.metrics().register(&mut registry);
        let http_metrics = HttpMetrics::default();
        http_metrics.register(&mut registry);
        let scrape_hook = Arc::new(OutboxLag::new(store.clone(), &mut registry));
        Self {
            registry,
            http_metrics,
            scrape_hook,
        }
    }
}

/// What every surface shares, with every system's navigation.
fn http_state(
    foundation: &Foundation<'_>,
    systems: &[Box<dyn System>],
    time_travel: Option<Arc<dyn plaza_http::TimeTravel>>,
    metrics: Metrics,
    public_base_url: String,
) -> anyhow::Result<HttpState> {
    let store = &foundation.store;
    let config = foundation.config;
    Ok(HttpState::new(HttpStateParts {
        ledger: store.clone(),
        outbox: store.clone(),
        jobs: store.clone(),
        health: Arc::new(StoreHealth(Store::clone(store))),
        clock: foundation.clock.clone(),
        wall_clock: foundation.wall_clock.clone(),
        time_travel,
        admin_token: foundation.data_dir.admin_token()?.into(),
        token_secret: foundation
            .data_dir
            .secret(COOKIE_SECRET_FILE)?
            .into_bytes()
            .into(),
        public_base_url,
        registry: Arc::new(metrics.registry),
        scrape_hook: metrics.scrape_hook,
        http_metrics: metrics.http_metrics,
        limits: HttpLimits {
            request_body_bytes_max: config.request_body_bytes_max,
            request_timeout: config.request_timeout,
        },
        nav: systems
            .iter()
            .flat_map(|system| system.nav().iter().copied())
            .collect(),
        sign_in: systems
            .iter()
            .filter_map(|system| system.sign_in())
            .collect(),
        user_apps: systems
            .iter()
            .filter_map(|system| system.user_app())
            .collect(),
    }))
}

/// Opens the data directory and binds the listeners. A start that fails on a taken port
/// leaves no half-made data directory: a new one is made only once the ports are ours.
/// An existing one is locked first, so a second process on it hears that the directory
/// is in use, not that its port is taken. Drop-in mode's certificates are checked
/// before anything is opened or bound.
async fn open_and_bind(config: &Config) -> anyhow::Result<(DataDir, Listeners)> {
    let tls_config = match config.tls_listen {
        Some(_) => Some(drop_in_config(config)?),
        None => None,
    };
    Ok(if config.data_dir.exists() {
        let data_dir = DataDir::open(&config.data_dir)?;
        (data_dir, Listeners::bind(config, tls_config).await?)
    } else {
        let listeners = Listeners::bind(config, tls_config).await?;
        (DataDir::open(&config.data_dir)?, listeners)
    })
}

pub(crate) async fn serve(config: Config) -> anyhow::Result<()> {
    serve_with(config, None).await
}

pub(crate) async fn serve_with(
    config: Config,
    after_start: Option<AfterStart>,
) -> anyhow::Result<()> {
    let (data_dir, listeners) = open_and_bind(&config).await?;
    let sandbox_clock = config.sandbox.then(|| Arc::new(SandboxClock::new()));
    let clock: Arc<dyn Clock> = match &sandbox_clock {
        Some(clock) => clock.clone(),
        None => Arc::new(SystemClock),
    };
    let store = Store::open(&backend(&config.database), clock.clone()).await?;
    // The sandbox's instant now; jobs that came due before it while the server was down
    // run at their due times before it listens (`SandboxTime::start`).
    let sandbox_catch_up_to = match &sandbox_clock {
        Some(sandbox_clock) => Some(restore_sandbox_clock(sandbox_clock, &store).await?),
        None => None,
    };

    let metrics = Metrics::new(&store);
    let foundation = Foundation {
        config: &config,
        data_dir: &data_dir,
        store: Arc::new(store.clone()),
        clock,
        wall_clock: Arc::new(SystemClock),
    };
    let (systems, scheduler) = start_systems(&foundation).await?;
    let time_travel = start_sandbox_time(
        sandbox_clock,
        sandbox_catch_up_to,
        &store,
        &scheduler,
        &config,
    )
    .await?;

    let local_addr = listeners.http.local_addr()?;
    let public_base_url = config
        .public_base_url
        .clone()
        .unwrap_or_else(|| format!("http://{local_addr}"));
    let gateway = public_base_url.clone();
    let http = http_state(&foundation, &systems, time_travel, metrics, public_base_url)?;
    let routes = systems.iter().map(|system| system.routes(&http)).collect();
    let app = plaza_http::app(http, routes);
    let sigterm = announce(
        &data_dir,
        listeners.tls.as_ref(),
        local_addr,
        &config,
        store.backend_name(),
    )?;

    serve_until_stopped(
        Serving {
            listener: listeners.http,
            tls_listener: listeners.tls,
            app,
            scheduler,
            sigterm,
        },
        &config,
        after_start
            .map(|after| {
                Ok::<_, anyhow::Error>((after, gateway, data_dir.admin_token()?, local_addr))
            })
            .transpose()?,
    )
    .await?;
    // Every acknowledged write is durable already; this drains what is still queued.
    store.close().await;
    data_dir.remove_addr();
    tracing::info!("plaza stopped");
    Ok(())
}
