//! `plaza admin`: operator commands.
//!
//! They work on a running Plaza through its admin API, found as `locate.rs` describes
//! (or named with `--server` and `--token`); `verify-ledger` also works on a stopped one
//! by opening its data directory. `list` and `show` print a table or a few lines, and
//! with `--json` the API's answer as one JSON object, as `create --json` does. Mini
//! programs are in `miniapp.rs`, WeCom corps in `corp.rs`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use plaza_http::wire::VerifyView;
use plaza_kernel::clock::SystemClock;
use plaza_kernel::limits::{PAGE_ROWS_DEFAULT, PAGE_ROWS_MAX};
use plaza_ledger::{LedgerStore, verify};
use plaza_store::Store;

use crate::admin_view;
use crate::config::{Config, Database, SQLITE_FILE};
use crate::datadir::{DataDir, read_admin_token};
use crate::locate::Survey;
use crate::{Outcome, StoreArgs};

mod corp;
mod miniapp;
mod search;

#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// Recompute every balance from the transfers; check that each currency sums to zero
    /// and that no balance is below its floor. Exits 1 and names each violation if any.
    VerifyLedger(ServerArgs),
    /// Print the admin token (the bearer token of /api/v1/admin endpoints).
    Token(ServerArgs),
    /// Merchants (WeChat Pay direct merchants), through the running Plaza.
    #[command(subcommand)]
    Merchant(MerchantCommand),
    /// Service providers (服务商), through the running Plaza.
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Sub-merchants of a service provider, through the running Plaza.
    #[command(subcommand)]
    SubMerchant(SubMerchantCommand),
    /// Users (payers), through the running Plaza.
    #[command(subcommand)]
    User(UserCommand),
    /// Mini programs (appid and AppSecret, optionally with a Pay merchant), through the
    /// running Plaza.
    #[command(subcommand)]
    Miniapp(miniapp::MiniappCommand),
    /// WeCom corps (corpid, contacts secret, a first app), through the running Plaza.
    #[command(subcommand)]
    Corp(corp::CorpCommand),
    /// Search's index (rebuild it from the database), through the running Plaza.
    #[command(subcommand)]
    Search(search::SearchCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProviderCommand {
    /// Create a service provider: sp_mchid, a bound sp_appid, an API key pair and
    /// certificate, an APIv3 key. With --json, prints one object with everything an SDK
    /// in partner mode needs.
    Create(ProviderCreateArgs),
    /// List service providers, oldest first.
    List(ListArgs),
    /// Show one service provider (by sp_mchid) and its sub-merchants.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ProviderCreateArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The provider's name.
    #[arg(long)]
    name: String,
    /// Bind this appid as sp_appid (registered if new) instead of making a new app.
    #[arg(long)]
    appid: Option<String>,
    /// Its share of the platform fee on its sub-merchants' payments, in basis points of
    /// the fee [default: 2000, i.e. 20%].
    #[arg(long, value_name = "BPS")]
    commission_bps: Option<u32>,
    /// Which platform identity signs its notifications: certificate or public_key.
    #[arg(long, value_name = "MODE")]
    sign_mode: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SubMerchantCommand {
    /// Onboard a sub-merchant under a service provider: its own sub_mchid, fee rate and
    /// settlement.
    Create(SubMerchantCreateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct SubMerchantCreateArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The service provider's sp_mchid.
    #[arg(long, value_name = "SP_MCHID")]
    provider: String,
    /// The sub-merchant's name, shown to payers.
    #[arg(long)]
    name: String,
    /// The sub-merchant's own app (registered if new).
    #[arg(long)]
    sub_appid: Option<String>,
    /// Fee in basis points of each payment [default: 60, i.e. 0.6%].
    #[arg(long, value_name = "BPS")]
    fee_rate_bps: Option<u32>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum MerchantCommand {
    /// Create a merchant: mchid, a bound appid, an API key pair and certificate, an
    /// APIv3 key. With --json, prints one object with everything an SDK needs.
    Create(MerchantCreateArgs),
    /// List merchants of every kind (direct, service providers, sub-merchants, collection
    /// codes), oldest first.
    List(ListArgs),
    /// Show one merchant by its mchid: fee, keys, balances.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub(crate) struct MerchantCreateArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The merchant's name, shown to payers.
    #[arg(long)]
    name: String,
    /// Bind this appid (registered if new) instead of making a new app.
    #[arg(long)]
    appid: Option<String>,
    /// Fee in basis points of each payment [default: 60, i.e. 0.6%].
    #[arg(long, value_name = "BPS")]
    fee_rate_bps: Option<u32>,
    /// Which platform identity signs its notifications: certificate or public_key
    /// [default: certificate; a request naming PUB_KEY_ID_… switches it].
    #[arg(long, value_name = "MODE")]
    sign_mode: Option<String>,
    /// Register this public key (PEM file) instead of generating a key pair; needs
    /// --serial-no.
    #[arg(long, value_name = "FILE")]
    public_key_file: Option<PathBuf>,
    /// The serial of the certificate of --public-key-file.
    #[arg(long, value_name = "HEX")]
    serial_no: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create a user with a wallet and a 6-digit payment password; prints a session
    /// token for /api/v1.
    Create(UserCreateArgs),
    /// List users, oldest first.
    List(ListArgs),
    /// Show one user by user_id: balance, password-free limit, lock.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Show at most this many, oldest first [default: 50; at most 500].
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Print the API's answer as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Its id: mchid, sp_mchid or user_id.
    #[arg(value_name = "ID")]
    id: String,
    /// Print the API's answer as one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct UserCreateArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The user's display name.
    #[arg(long, default_value = "Demo user")]
    name: String,
    /// The 6-digit payment password [default: in the sandbox the demo password 123456,
    /// else random].
    #[arg(long)]
    password: Option<String>,
    /// Start the wallet with this much, in yuan like every page shows: 100 or 100.00
    /// (sandbox only).
    #[arg(
        long,
        value_name = "YUAN",
        value_parser = crate::yuan::parse_fen,
        allow_negative_numbers = true
    )]
    balance: Option<i64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Which Plaza to work on. Unlike `plaza serve`, with no data directory given it looks
/// in both ./plaza-data and ./plaza-demo.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// TOML config file [env: PLAZA_CONFIG] [default: ./plaza.toml if present].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The data directory of the Plaza to work on [env: PLAZA_DATA_DIR] [default: the
    /// first of ./plaza-data (plaza serve) and ./plaza-demo (plaza demo) where a Plaza is
    /// running].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<String>,
    /// postgres://user@host:port/db or sqlite://FILE, for verify-ledger on a stopped
    /// Plaza [env: PLAZA_DATABASE_URL] [default: sqlite://<data-dir>/plaza.sqlite3].
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Ask this running Plaza (e.g. http://127.0.0.1:8080) instead of looking for one.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Admin token [default: the admin.token of the data directory].
    #[arg(
        long,
        value_name = "TOKEN",
        env = "PLAZA_ADMIN_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
}

pub(crate) async fn run(command: AdminCommand) -> anyhow::Result<Outcome> {
    match command {
        AdminCommand::Merchant(MerchantCommand::Create(args)) => create_merchant(args).await,
        AdminCommand::Merchant(MerchantCommand::List(args)) => {
            list(args, "/api/v1/admin/merchants", admin_view::merchants).await
        }
        AdminCommand::Merchant(MerchantCommand::Show(args)) => {
            show(args, "/api/v1/admin/merchants", admin_view::merchant).await
        }
        AdminCommand::Provider(ProviderCommand::Create(args)) => create_provider(args).await,
        AdminCommand::Provider(ProviderCommand::List(args)) => {
            list(args, "/api/v1/admin/providers", admin_view::providers).await
        }
        AdminCommand::Provider(ProviderCommand::Show(args)) => {
            show(args, "/api/v1/admin/providers", admin_view::provider).await
        }
        AdminCommand::SubMerchant(SubMerchantCommand::Create(args)) => {
            create_sub_merchant(args).await
        }
        AdminCommand::User(UserCommand::Create(args)) => create_user(args).await,
        AdminCommand::User(UserCommand::List(args)) => {
            list(args, "/api/v1/admin/users", admin_view::users).await
        }
        AdminCommand::User(UserCommand::Show(args)) => {
            show(args, "/api/v1/admin/users", admin_view::user).await
        }
        AdminCommand::Miniapp(command) => miniapp::run(command).await,
        AdminCommand::Corp(command) => corp::run(command).await,
        AdminCommand::Search(command) => search::run(command).await,
        AdminCommand::VerifyLedger(args) => verify_ledger(args).await,
        AdminCommand::Token(args) => {
            let survey = Survey::of(&args.load()?);
            let token = survey
                .admin_token()?
                .ok_or_else(|| survey.not_found("no admin token found"))?;
            writeln!(std::io::stdout().lock(), "{token}")?;
            Ok(Outcome::Success)
        }
    }
}

impl ServerArgs {
    fn load(&self) -> anyhow::Result<Config> {
        StoreArgs {
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
        }
        .load()
    }

    /// The token: `--token`, else the admin token in `data_dir`, else in any place the
    /// survey looked at.
    fn token(&self, data_dir: Option<&Path>, survey: &Survey) -> anyhow::Result<String> {
        if let Some(token) = &self.token {
            return Ok(token.clone());
        }
        if let Some(token) = data_dir.map(read_admin_token).transpose()?.flatten() {
            return Ok(token);
        }
        survey.admin_token()?.ok_or_else(|| {
            survey.not_found("no admin token found: pass --token (or PLAZA_ADMIN_TOKEN)")
        })
    }
}

/// A running Plaza's admin API: where it answers and the token it takes. Found once, so
/// the steps of one command all go to the same server.
struct AdminApi {
    /// Its base URL, without a trailing slash.
    server: String,
    token: String,
}

impl AdminApi {
    /// The server `args` name, else the running one the survey finds, and its token.
    fn of(args: &ServerArgs) -> anyhow::Result<Self> {
        let survey = Survey::of(&args.load()?);
        let (server, data_dir) = match &args.server {
            Some(server) => (server.trim_end_matches('/').to_owned(), None),
            None => {
                let (data_dir, addr) = survey
                    .running()
                    .ok_or_else(|| survey.not_found("no running Plaza found"))?;
                (format!("http://{addr}"), Some(data_dir))
            }
        };
        let token = args.token(data_dir, &survey)?;
        Ok(Self { server, token })
    }

    /// The answer to one request, or [`Refused`] when the server refuses it.
    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<serde_json::Value> {
        let server = &self.server;
        let mut request = reqwest::Client::new()
            .request(method, format!("{server}{path}"))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach {server}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(Refused::new(server.clone(), status, &text).into());
        }
        Ok(serde_json::from_str(&text)?)
    }
}

async fn admin_request(
    args: &ServerArgs,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    AdminApi::of(args)?.request(method, path, body).await
}

/// A running Plaza's refusal: its status, and the code and message of its /api/v1
/// envelope (the body as it came when it is not one).
#[derive(Debug, thiserror::Error)]
#[error("{server} answered {status}: {message}")]
struct Refused {
    server: String,
    status: reqwest::StatusCode,
    code: Option<String>,
    message: String,
}

impl Refused {
    fn new(server: String, status: reqwest::StatusCode, body: &str) -> Self {
        let envelope: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        match (envelope["code"].as_str(), envelope["message"].as_str()) {
            (Some(code), Some(message)) => Self {
                server,
                status,
                code: Some(code.to_owned()),
                message: format!("{message} ({code})"),
            },
            _ => Self {
                server,
                status,
                code: None,
                message: body.to_owned(),
            },
        }
    }
}

async fn admin_post(
    args: &ServerArgs,
    path: &str,
    body: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    admin_request(args, reqwest::Method::POST, path, Some(body)).await
}

async fn list(
    args: ListArgs,
    path: &str,
    table: fn(&serde_json::Value) -> String,
) -> anyhow::Result<Outcome> {
    let path = match args.limit {
        Some(limit) => format!("{path}?limit={limit}"),
        None => path.to_owned(),
    };
    let listed = admin_request(&args.server, reqwest::Method::GET, &path, None).await?;
    let mut text = table(&listed);
    let limit = args.limit.unwrap_or(PAGE_ROWS_DEFAULT);
    if admin_view::count(&listed) >= limit {
        text.push_str(&format!(
            "(the first {limit}; there may be more: --limit up to {PAGE_ROWS_MAX})\n"
        ));
    }
    print_json_or(args.json, &listed, text)?;
    Ok(Outcome::Success)
}

async fn show(
    args: ShowArgs,
    path: &str,
    text: fn(&serde_json::Value) -> String,
) -> anyhow::Result<Outcome> {
    let id = &args.id;
    check_id(id)?;
    let path = format!("{path}/{id}");
    let shown = admin_request(&args.server, reqwest::Method::GET, &path, None).await?;
    print_json_or(args.json, &shown, text(&shown))?;
    Ok(Outcome::Success)
}

/// Refuses what cannot be one path segment of an id, so `../users` never reaches the
/// server as a path.
fn check_id(id: &str) -> anyhow::Result<()> {
    let is_id_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if id.is_empty() || !id.chars().all(is_id_char) {
        bail!("{id:?} is not an id (letters, digits, - and _)");
    }
    Ok(())
}

fn print_json_or(json: bool, value: &serde_json::Value, text: String) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(value)?)?;
    } else {
        write!(out, "{text}")?;
    }
    Ok(())
}

async fn create_merchant(args: MerchantCreateArgs) -> anyhow::Result<Outcome> {
    let public_key = match &args.public_key_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
        ),
        None => None,
    };
    let body = serde_json::json!({
        "name": args.name,
        "appid": args.appid,
        "fee_rate_bps": args.fee_rate_bps,
        "sign_mode": args.sign_mode,
        "public_key": public_key,
        "serial_no": args.serial_no,
    });
    let created = admin_post(&args.server, "/api/v1/admin/merchants", body).await?;
    let field = |name: &str| created[name].as_str().unwrap_or_default().to_owned();
    let text = format!(
        "merchant {} ({})\n  mchid:          {}\n  appid:          {}\n  cert_serial_no: {}\n  apiv3_key:      {}\n  public_key_id:  {}\n  gateway:        {}\n{}",
        field("name"),
        field("sign_mode"),
        field("mchid"),
        field("appid"),
        field("cert_serial_no"),
        field("apiv3_key"),
        field("public_key_id"),
        field("gateway"),
        if created["private_key"].is_string() {
            "  (the private key and both public keys are in the --json output)\n"
        } else {
            ""
        },
    );
    print_json_or(args.json, &created, text)?;
    Ok(Outcome::Success)
}

async fn create_provider(args: ProviderCreateArgs) -> anyhow::Result<Outcome> {
    let body = serde_json::json!({
        "name": args.name,
        "appid": args.appid,
        "commission_bps": args.commission_bps,
        "sign_mode": args.sign_mode,
    });
    let created = admin_post(&args.server, "/api/v1/admin/providers", body).await?;
    let field = |name: &str| created[name].as_str().unwrap_or_default().to_owned();
    let text = format!(
        "service provider {} ({})\n  sp_mchid:       {}\n  sp_appid:       {}\n  cert_serial_no: {}\n  apiv3_key:      {}\n  commission:     {} bps of the fee\n  public_key_id:  {}\n  gateway:        {}\n  (the private key and both public keys are in the --json output)\n",
        field("name"),
        field("sign_mode"),
        field("sp_mchid"),
        field("sp_appid"),
        field("cert_serial_no"),
        field("apiv3_key"),
        created["commission_bps"].as_u64().unwrap_or(0),
        field("public_key_id"),
        field("gateway"),
    );
    print_json_or(args.json, &created, text)?;
    Ok(Outcome::Success)
}

async fn create_sub_merchant(args: SubMerchantCreateArgs) -> anyhow::Result<Outcome> {
    let body = serde_json::json!({
        "name": args.name,
        "sub_appid": args.sub_appid,
        "fee_rate_bps": args.fee_rate_bps,
    });
    let path = format!("/api/v1/admin/providers/{}/sub-merchants", args.provider);
    let created = admin_post(&args.server, &path, body).await?;
    let field = |name: &str| created[name].as_str().unwrap_or_default().to_owned();
    let text = format!(
        "sub-merchant {}\n  sub_mchid: {}\n  sp_mchid:  {}\n  sub_appid: {}\n  fee:       {} bps\n",
        field("name"),
        field("sub_mchid"),
        field("sp_mchid"),
        created["sub_appid"].as_str().unwrap_or("(none)"),
        created["fee_rate_bps"].as_u64().unwrap_or(0),
    );
    print_json_or(args.json, &created, text)?;
    Ok(Outcome::Success)
}

async fn create_user(args: UserCreateArgs) -> anyhow::Result<Outcome> {
    let password = match args.password {
        Some(password) => Some(password),
        None => sandbox_password(&args.server).await?,
    };
    let body = serde_json::json!({
        "name": args.name,
        "password": password,
        "balance": args.balance,
    });
    let created = admin_post(&args.server, "/api/v1/admin/users", body).await?;
    let field = |name: &str| created[name].as_str().unwrap_or_default().to_owned();
    let text = format!(
        "user {}\n  user_id:  {}\n  password: {}\n  balance:  {}\n  token:    {}\n",
        field("name"),
        field("user_id"),
        field("password"),
        crate::yuan::format_fen(created["balance"].as_i64().unwrap_or(0)),
        field("token"),
    );
    print_json_or(args.json, &created, text)?;
    Ok(Outcome::Success)
}

/// The password of a user made without one: in the sandbox the demo's, which the docs
/// and the demo's sign-in pages name; in production none, so the server picks one at
/// random. Whether the server is a sandbox is what its clock endpoint answers.
async fn sandbox_password(args: &ServerArgs) -> anyhow::Result<Option<String>> {
    match admin_request(args, reqwest::Method::GET, "/api/v1/sandbox/clock", None).await {
        Ok(_) => Ok(Some(crate::demo::DEMO_PASSWORD.to_owned())),
        Err(error)
            if error
                .downcast_ref::<Refused>()
                .is_some_and(|refused| refused.code.as_deref() == Some("sandbox_only")) =>
        {
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

async fn verify_ledger(args: ServerArgs) -> anyhow::Result<Outcome> {
    let config = args.load()?;
    let survey = Survey::of(&config);
    let server = match &args.server {
        Some(server) => Some((server.trim_end_matches('/').to_owned(), None)),
        None => survey
            .running()
            .map(|(data_dir, addr)| (format!("http://{addr}"), Some(data_dir))),
    };
    let view = match server {
        Some((server, data_dir)) => {
            let token = args.token(data_dir, &survey)?;
            let response = reqwest::Client::new()
                .get(format!("{server}/api/v1/admin/ledger/verify"))
                .bearer_auth(token)
                .send()
                .await
                .with_context(|| format!("cannot reach {server}"))?;
            if !response.status().is_success() {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                bail!("{server} answered {status}: {body}");
            }
            response.json::<VerifyView>().await?
        }
        None => {
            let data_dir = survey
                .stopped()
                .ok_or_else(|| survey.not_found("no Plaza data found"))?;
            verify_stopped(&config, data_dir).await?
        }
    };
    report_verified(&view)
}

/// Verifies the ledger of a stopped Plaza in `data_dir`, holding its lock meanwhile.
/// Nothing is created: a data directory without its database is an error.
async fn verify_stopped(config: &Config, data_dir: &Path) -> anyhow::Result<VerifyView> {
    // The default database follows the data directory found; a configured one stays.
    let database = if config.database == Database::Sqlite(config.data_dir.join(SQLITE_FILE)) {
        Database::Sqlite(data_dir.join(SQLITE_FILE))
    } else {
        config.database.clone()
    };
    if let Database::Sqlite(path) = &database
        && !path.is_file()
    {
        bail!(
            "{} holds no Plaza database ({} is missing): nothing to verify",
            data_dir.display(),
            path.display()
        );
    }
    let _data_dir = DataDir::open(data_dir)?;
    let store = Store::open(&crate::serve::backend(&database), Arc::new(SystemClock)).await?;
    let audits = store.audit().await;
    store.close().await;
    Ok(VerifyView::from(verify(&audits?)))
}

fn report_verified(view: &VerifyView) -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout().lock();
    for violation in &view.violations {
        writeln!(out, "violation: {violation}")?;
    }
    let held: Vec<String> = view
        .held_minor_by_currency
        .iter()
        .map(|(currency, held)| format!("{currency} {held}"))
        .collect();
    if view.sound {
        writeln!(
            out,
            "ledger sound: {} accounts, every currency sums to zero, no floor broken (held: {})",
            view.accounts_count,
            if held.is_empty() {
                "nothing".to_owned()
            } else {
                held.join(", ")
            }
        )?;
        Ok(Outcome::Success)
    } else {
        writeln!(
            out,
            "ledger NOT sound: {} violation(s) over {} accounts",
            view.violations.len(),
            view.accounts_count
        )?;
        Ok(Outcome::Found)
    }
}
