//! `plaza admin corp`: WeCom corps through the running Plaza's admin API.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;

use super::{AdminApi, ServerArgs, ShowArgs, print_json_or, show};
use crate::Outcome;
use crate::admin_view;

/// Where the admin API keeps corps.
const CORPS_PATH: &str = "/api/v1/admin/corps";

#[derive(Debug, Subcommand)]
pub(crate) enum CorpCommand {
    /// Create a WeCom corp: its corpid, its contacts secret and a first self-built app
    /// (agentid and secret) visible to the whole corp. The secrets are shown only now.
    /// With --json, prints one object with everything a back end needs.
    Create(CreateArgs),
    /// List corps, oldest first.
    List(ListArgs),
    /// Show one corp by its corpid (never its secrets).
    Show(CorpidArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The corp's name, 1 to 40 characters.
    #[arg(long)]
    name: String,
    /// The first app's name (default 客户联系).
    #[arg(long)]
    app_name: Option<String>,
    /// Print one JSON object instead of text: `corpid`, `contacts_secret`, `app`
    /// (`agentid`, `secret`) and `gateway`.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Print the API's answer as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CorpidArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The corp's corpid (ww…).
    #[arg(value_name = "CORPID")]
    corpid: String,
    /// Print the API's answer as one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(command: CorpCommand) -> anyhow::Result<Outcome> {
    match command {
        CorpCommand::Create(args) => {
            let api = AdminApi::of(&args.server)?;
            let body = json!({ "name": args.name, "app_name": args.app_name });
            let created = api.request(Method::POST, CORPS_PATH, Some(body)).await?;
            print_json_or(args.json, &created, admin_view::created_corp(&created))?;
            Ok(Outcome::Success)
        }
        CorpCommand::List(args) => {
            let api = AdminApi::of(&args.server)?;
            let listed = api.request(Method::GET, CORPS_PATH, None).await?;
            print_json_or(args.json, &listed, admin_view::corps(&listed))?;
            Ok(Outcome::Success)
        }
        CorpCommand::Show(args) => {
            let args = ShowArgs {
                server: args.server,
                id: args.corpid,
                json: args.json,
            };
            show(args, CORPS_PATH, admin_view::corp).await
        }
    }
}
