//! `plaza`: one binary for the whole platform.
//!
//! `main` parses the command line, sets up logging and the runtime, and hands over to one
//! subcommand; everything else lives in the library crates. This is the only crate that
//! reads the environment, files and flags, and the only one that starts long-lived tasks.

mod admin;
mod admin_view;
mod bench;
mod ca;
mod config;
mod datadir;
mod demo;
mod demo_channels;
mod demo_miniapp;
mod demo_wecom;
mod locate;
mod outbound;
mod pay_jobs;
mod sandbox_file;
mod scheduler;
mod serve;
mod systems;
mod tls;
mod wiring;
mod yuan;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Key, LogFormat};

/// mimalloc instead of the system allocator: the writer thread and the runtime's workers
/// allocate concurrently, and glibc's arena locks showed up as ~10% of the writer's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Plaza: an open, self-hostable super-app platform (pay, channels, mini programs,
/// search, work) in one binary.
#[derive(Debug, Parser)]
#[command(name = "plaza", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    ///
    /// With no flags and no config file it listens on 127.0.0.1:8080 and keeps everything
    /// under ./plaza-data (SQLite). Settings come from, in increasing precedence: built-in
    /// defaults, the TOML file (--config, else $PLAZA_CONFIG, else ./plaza.toml if present),
    /// PLAZA_* environment variables, and these flags. See docs/config.md.
    Serve(ServeArgs),
    /// Run Plaza in sandbox mode with a seeded demo: merchants (their SDK configuration
    /// written to <data-dir>/demo/), payers with money, a paid order; prints the URLs to
    /// open and how to point an SDK at it. Data lives in ./plaza-demo unless told.
    Demo(DemoArgs),
    /// Measure performance against a real store; the last line of output is one JSON
    /// object of figures.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Operate a Plaza: merchants, providers and users (create, list, show), check the
    /// ledger, read the admin token. Finds the running Plaza in --data-dir, else
    /// PLAZA_DATA_DIR, else ./plaza-data or ./plaza-demo.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Drop-in mode (sandbox only): make a local CA and a certificate for WeChat's API
    /// hosts, so code with a hard-coded WeChat host talks to Plaza unchanged.
    ///
    /// The certificate names api.mch.weixin.qq.com, api.weixin.qq.com,
    /// qyapi.weixin.qq.com, localhost and 127.0.0.1. Writes ca.pem (the CA certificate to trust), ca.key, server.pem and server.key to
    /// <data-dir>/ca/ and prints the next steps: a hosts-file line, trusting the CA, and
    /// `plaza serve --sandbox --tls-listen 127.0.0.1:443`. Running it again keeps the CA
    /// (trust survives) and issues a new server certificate.
    Ca(ca::CaArgs),
}

/// Where the data lives; shared by every subcommand that opens a store.
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// TOML config file [env: PLAZA_CONFIG] [default: ./plaza.toml if present].
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Directory for everything Plaza keeps on disk [env: PLAZA_DATA_DIR] [default: ./plaza-data].
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: Option<String>,
    /// postgres://user@host:port/db for PostgreSQL, or sqlite://FILE
    /// [env: PLAZA_DATABASE_URL] [default: sqlite://<data-dir>/plaza.sqlite3].
    #[arg(long, value_name = "URL")]
    pub(crate) database_url: Option<String>,
}

impl StoreArgs {
    pub(crate) fn flags(&self) -> Vec<(Key, Option<String>)> {
        vec![
            (Key::DataDir, self.data_dir.clone()),
            (Key::DatabaseUrl, self.database_url.clone()),
        ]
    }

    pub(crate) fn load(&self) -> anyhow::Result<config::Config> {
        Ok(config::load(
            self.config.as_deref(),
            &self.flags(),
            &config::process_env,
        )?)
    }
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Address to listen on, IP:PORT or HOST:PORT [env: PLAZA_LISTEN] [default:
    /// 127.0.0.1:8080]. Port 0 picks a free port; the chosen address is printed and
    /// written to <data-dir>/plaza.addr.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Sandbox mode: the clock can be moved forward through the admin API
    /// [env: PLAZA_SANDBOX].
    #[arg(long)]
    sandbox: bool,
    /// Largest request body accepted [env: PLAZA_REQUEST_BODY_BYTES_MAX] [default: 1048576].
    #[arg(long, value_name = "BYTES")]
    request_body_bytes_max: Option<String>,
    /// Longest a request may take [env: PLAZA_REQUEST_TIMEOUT_MS] [default: 30000].
    #[arg(long, value_name = "MS")]
    request_timeout_ms: Option<String>,
    /// How long shutdown waits for in-flight requests [env: PLAZA_SHUTDOWN_GRACE_MS]
    /// [default: 10000].
    #[arg(long, value_name = "MS")]
    shutdown_grace_ms: Option<String>,
    /// Log format on stderr: text or json [env: PLAZA_LOG_FORMAT] [default: text].
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
    /// Log filter, e.g. info or plaza_store=debug [env: PLAZA_LOG_LEVEL] [default: info].
    #[arg(long, value_name = "FILTER")]
    log_level: Option<String>,
    /// The URL clients reach Plaza at, e.g. https://pay.example.com
    /// [env: PLAZA_PUBLIC_BASE_URL] [default: http://<listen address>].
    #[arg(long, value_name = "URL")]
    public_base_url: Option<String>,
    /// Drop-in mode (needs --sandbox): also serve HTTPS on this address for WeChat's API
    /// hosts, with the certificates from `plaza ca`; plain HTTP keeps working
    /// [env: PLAZA_TLS_LISTEN]. Port 0 picks a free port; the chosen address is printed
    /// and written to <data-dir>/plaza-tls.addr.
    #[arg(long, value_name = "ADDR")]
    tls_listen: Option<String>,
    /// Where drop-in mode reads its certificates [env: PLAZA_TLS_CERT_DIR]
    /// [default: <data-dir>/ca].
    #[arg(long, value_name = "DIR")]
    tls_cert_dir: Option<String>,
    /// Sandbox only: start the clock at this RFC 3339 instant, e.g.
    /// 2030-01-02T10:00:00+08:00, if it is behind it; jobs due on the way run at their
    /// due times [env: PLAZA_SANDBOX_CLOCK_START].
    #[arg(long, value_name = "RFC3339")]
    sandbox_clock_start: Option<String>,
    /// Internal hosts (names or addresses, comma-separated) that merchants' notify and
    /// callback URLs may name outside the sandbox, which otherwise refuses loopback,
    /// private and link-local hosts [env: PLAZA_NOTIFY_ALLOWED_INTERNAL_HOSTS]
    /// [default: none].
    #[arg(long, value_name = "HOSTS")]
    notify_allowed_internal_hosts: Option<String>,
    /// Access tokens `/cgi-bin/token` issues per mini program and China calendar day
    /// before it answers 45009 [env: PLAZA_MINIAPP_TOKEN_DAILY_MAX] [default: 2000].
    #[arg(long, value_name = "COUNT")]
    miniapp_token_daily_max: Option<String>,
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Where the demo keeps its data.
    #[arg(long, value_name = "DIR", default_value = locate::DEMO_DIR_DEFAULT)]
    data_dir: PathBuf,
    /// Address to listen on: IP:PORT or HOST:PORT (e.g. localhost:8080). Port 0 picks a
    /// free port; the chosen address is printed.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: String,
    /// The URL clients reach Plaza at [default: http://<listen address>].
    #[arg(long, value_name = "URL")]
    public_base_url: Option<String>,
}

impl ServeArgs {
    fn load(&self) -> anyhow::Result<config::Config> {
        let mut flags = self.store.flags();
        flags.extend([
            (Key::Listen, self.listen.clone()),
            (Key::Sandbox, self.sandbox.then(|| "true".to_owned())),
            (
                Key::RequestBodyBytesMax,
                self.request_body_bytes_max.clone(),
            ),
            (Key::RequestTimeoutMs, self.request_timeout_ms.clone()),
            (Key::ShutdownGraceMs, self.shutdown_grace_ms.clone()),
            (Key::LogFormat, self.log_format.clone()),
            (Key::LogLevel, self.log_level.clone()),
            (Key::PublicBaseUrl, self.public_base_url.clone()),
            (Key::TlsListen, self.tls_listen.clone()),
            (Key::TlsCertDir, self.tls_cert_dir.clone()),
            (Key::SandboxClockStart, self.sandbox_clock_start.clone()),
            (
                Key::NotifyAllowedInternalHosts,
                self.notify_allowed_internal_hosts.clone(),
            ),
            (
                Key::MiniappTokenDailyMax,
                self.miniapp_token_daily_max.clone(),
            ),
        ]);
        Ok(config::load(
            self.store.config.as_deref(),
            &flags,
            &config::process_env,
        )?)
    }
}

fn init_logging(format: LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// What a subcommand asks the process to exit with.
pub(crate) enum Outcome {
    Success,
    /// The command ran and found a problem (e.g. a ledger violation): exit 1.
    Found,
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Serve(args) => {
            let config = args.load()?;
            init_logging(config.log_format, &config.log_level);
            runtime()?.block_on(serve::serve(config))?;
            Ok(Outcome::Success)
        }
        Command::Demo(args) => {
            let flags = [
                (Key::DataDir, Some(args.data_dir.display().to_string())),
                (Key::Listen, Some(args.listen.clone())),
                (Key::Sandbox, Some("true".to_owned())),
                (Key::PublicBaseUrl, args.public_base_url.clone()),
                (Key::LogLevel, Some("warn".to_owned())),
            ];
            let config = config::load(None, &flags, &config::process_env)?;
            init_logging(config.log_format, &config.log_level);
            runtime()?.block_on(serve::serve_with(config, Some(serve::AfterStart::Demo)))?;
            Ok(Outcome::Success)
        }
        Command::Bench(command) => {
            init_logging(LogFormat::Text, "warn");
            runtime()?.block_on(bench::run(command))
        }
        Command::Admin(command) => {
            init_logging(LogFormat::Text, "warn");
            runtime()?.block_on(admin::run(command))
        }
        Command::Ca(args) => {
            init_logging(LogFormat::Text, "warn");
            ca::run(&args)
        }
    }
}

fn main() -> ExitCode {
    // Every HTTP client of the process (notifications, admin commands, benches) does TLS
    // with rustls on aws-lc-rs. Installing fails only if a provider is installed already,
    // which is just as good.
    let _installed = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = Cli::parse();
    match run(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Found) => ExitCode::from(1),
        Err(error) => {
            eprintln!("plaza: error: {error:#}");
            ExitCode::from(2)
        }
    }
}
