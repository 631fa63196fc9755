//! `plaza admin`: operator commands.
//!
//! They work on a stopped Plaza by opening its data directory, and on a running one
//! through its admin API (address and token from the data directory, or `--server` and
//! `--token`).

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use plaza_api::wire::VerifyView;
use plaza_kernel::clock::SystemClock;
use plaza_ledger::{LedgerStore, verify};
use plaza_store::Store;

use crate::datadir::{DataDir, is_locked, read_addr, read_admin_token};
use crate::{Outcome, StoreArgs};

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
}

#[derive(Debug, Subcommand)]
pub(crate) enum ProviderCommand {
    /// Create a service provider: sp_mchid, a bound sp_appid, an API key pair and
    /// certificate, an APIv3 key. With --json, prints one object with everything an SDK
    /// in partner mode needs.
    Create(ProviderCreateArgs),
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
    public_key_file: Option<std::path::PathBuf>,
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
}

#[derive(Debug, Args)]
pub(crate) struct UserCreateArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The user's display name.
    #[arg(long, default_value = "Demo user")]
    name: String,
    /// The 6-digit payment password [default: random].
    #[arg(long)]
    password: Option<String>,
    /// Start the wallet with this many fen (sandbox only).
    #[arg(long, value_name = "FEN")]
    balance: Option<i64>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Ask this running Plaza (e.g. http://127.0.0.1:8080) instead of the data directory.
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Admin token for --server [default: <data-dir>/admin.token].
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
        AdminCommand::Provider(ProviderCommand::Create(args)) => create_provider(args).await,
        AdminCommand::SubMerchant(SubMerchantCommand::Create(args)) => {
            create_sub_merchant(args).await
        }
        AdminCommand::User(UserCommand::Create(args)) => create_user(args).await,
        AdminCommand::VerifyLedger(args) => verify_ledger(args).await,
        AdminCommand::Token(args) => {
            let config = args.store.load()?;
            let token = read_admin_token(&config.data_dir)?.with_context(|| {
                format!(
                    "{} has no admin token yet; start plaza serve once",
                    config.data_dir.display()
                )
            })?;
            writeln!(std::io::stdout().lock(), "{token}")?;
            Ok(Outcome::Success)
        }
    }
}

/// The running server's base URL and admin token.
fn running_server(args: &ServerArgs) -> anyhow::Result<(String, String)> {
    let config = args.store.load()?;
    let server = match &args.server {
        Some(server) => server.trim_end_matches('/').to_owned(),
        None if is_locked(&config.data_dir) => format!("http://{}", read_addr(&config.data_dir)?),
        None => bail!(
            "no Plaza is running on {}; start plaza serve, or pass --server",
            config.data_dir.display()
        ),
    };
    let token = match &args.token {
        Some(token) => token.clone(),
        None => read_admin_token(&config.data_dir)?
            .context("no admin token: pass --token or --data-dir")?,
    };
    Ok((server, token))
}

async fn admin_post(
    args: &ServerArgs,
    path: &str,
    body: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let (server, token) = running_server(args)?;
    let response = reqwest::Client::new()
        .post(format!("{server}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("cannot reach {server}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("{server} answered {status}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
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
    let body = serde_json::json!({
        "name": args.name,
        "password": args.password,
        "balance": args.balance,
    });
    let created = admin_post(&args.server, "/api/v1/admin/users", body).await?;
    let field = |name: &str| created[name].as_str().unwrap_or_default().to_owned();
    let text = format!(
        "user {}\n  user_id:  {}\n  password: {}\n  balance:  {} fen\n  token:    {}\n",
        field("name"),
        field("user_id"),
        field("password"),
        created["balance"].as_i64().unwrap_or(0),
        field("token"),
    );
    print_json_or(args.json, &created, text)?;
    Ok(Outcome::Success)
}

async fn verify_ledger(args: ServerArgs) -> anyhow::Result<Outcome> {
    let config = args.store.load()?;
    let server = match &args.server {
        Some(server) => Some(server.trim_end_matches('/').to_owned()),
        None if is_locked(&config.data_dir) => {
            Some(format!("http://{}", read_addr(&config.data_dir)?))
        }
        None => None,
    };
    let view = match server {
        Some(server) => {
            let token = match args.token {
                Some(token) => token,
                None => read_admin_token(&config.data_dir)?
                    .context("no admin token: pass --token or --data-dir")?,
            };
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
            let _data_dir = DataDir::open(&config.data_dir)?;
            let store = Store::open(
                &crate::serve::backend(&config.database),
                Arc::new(SystemClock),
            )
            .await?;
            let audits = store.audit().await;
            store.close().await;
            VerifyView::from(verify(&audits?))
        }
    };
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
