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
