//! `plaza admin miniapp`: mini programs through the running Plaza's admin API.
//!
//! `create --with-merchant` takes three requests — make the app, make a Pay merchant
//! with the app's appid, bind the merchant to the app — and prints one object with
//! everything a back end needs. The AppSecret and the merchant's private key are shown
//! only when they are made, so a run that stops halfway puts what it made, secrets and
//! all, into its error instead of losing it.

use anyhow::anyhow;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::{AdminApi, Refused, ServerArgs, ShowArgs, check_id, print_json_or, show};
use crate::Outcome;
use crate::admin_view;

/// Where the admin API keeps mini programs.
const MINIAPPS_PATH: &str = "/api/v1/admin/miniapps";

#[derive(Debug, Subcommand)]
pub(crate) enum MiniappCommand {
    /// Create a mini program owned by a user's developer account (made if the user has
    /// none): its appid and its AppSecret, which is shown only now. With --with-merchant,
    /// also a Pay merchant that takes its payments. With --json, prints one object with
    /// everything a back end needs.
    Create(CreateArgs),
    /// List mini programs, oldest first.
    List(ListArgs),
    /// Show one mini program by its appid (never its secret).
    Show(AppidArgs),
    /// Make a new AppSecret: the old one stops working at once; access tokens already
    /// issued keep working until they expire.
    ResetSecret(AppidArgs),
    /// Bind the Pay merchant that takes the app's payments (the appid is bound to the
    /// merchant in Pay too).
    BindMerchant(BindMerchantArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CreateArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The user_id of the developer: the app belongs to this user's developer account.
    #[arg(long, value_name = "USER_ID")]
    developer: String,
    /// The app's name, 1 to 30 characters.
    #[arg(long)]
    name: String,
    /// Its category, e.g. 工具 or 医疗.
    #[arg(long)]
    category: Option<String>,
    /// What it does, as users see it.
    #[arg(long)]
    description: Option<String>,
    /// A server its pages may call with wx.request, as https://HOST; repeat for more.
    #[arg(long = "request-domain", value_name = "URL")]
    request_domains: Vec<String>,
    /// A service keyword it is found by; repeat for more.
    #[arg(long = "keyword", value_name = "WORD")]
    keywords: Vec<String>,
    /// Also create a Pay merchant named like the app, bound to it; --json then prints the
    /// merchant's SDK config (mchid, private_key, apiv3_key, …) as `merchant`.
    #[arg(long)]
    with_merchant: bool,
    /// Print one JSON object instead of text: the app with its `secret`, `gateway`
    /// (Plaza's base URL) and, with --with-merchant, `merchant`.
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
pub(crate) struct AppidArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The app's appid (wx…).
    #[arg(value_name = "APPID")]
    appid: String,
    /// Print the API's answer as one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct BindMerchantArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// The app's appid (wx…).
    #[arg(value_name = "APPID")]
    appid: String,
    /// The merchant's mchid.
    #[arg(long)]
    mchid: String,
    /// Print the API's answer as one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(command: MiniappCommand) -> anyhow::Result<Outcome> {
    match command {
        MiniappCommand::Create(args) => create(args).await,
        MiniappCommand::List(args) => {
            let api = AdminApi::of(&args.server)?;
            let listed = api.request(Method::GET, MINIAPPS_PATH, None).await?;
            print_json_or(args.json, &listed, admin_view::miniapps(&listed))?;
            Ok(Outcome::Success)
        }
        MiniappCommand::Show(args) => {
            let args = ShowArgs {
                server: args.server,
                id: args.appid,
                json: args.json,
            };
            show(args, MINIAPPS_PATH, admin_view::miniapp).await
        }
        MiniappCommand::ResetSecret(args) => {
            check_id(&args.appid)?;
            let path = format!("{MINIAPPS_PATH}/{}/secret", args.appid);
            let api = AdminApi::of(&args.server)?;
            let reset = api.request(Method::POST, &path, Some(json!({}))).await?;
            print_json_or(args.json, &reset, admin_view::miniapp_secret(&reset))?;
            Ok(Outcome::Success)
        }
        MiniappCommand::BindMerchant(args) => {
            check_id(&args.appid)?;
            let path = format!("{MINIAPPS_PATH}/{}/merchant", args.appid);
            let api = AdminApi::of(&args.server)?;
            let body = json!({ "mchid": args.mchid });
            let bound = api.request(Method::PUT, &path, Some(body)).await?;
            print_json_or(args.json, &bound, admin_view::miniapp(&bound))?;
            Ok(Outcome::Success)
        }
    }
}

async fn create(args: CreateArgs) -> anyhow::Result<Outcome> {
    let api = AdminApi::of(&args.server)?;
    let listed_or_none = |values: &[String]| (!values.is_empty()).then(|| values.to_vec());
    let body = json!({
        "developer": args.developer,
        "name": args.name,
        "category": args.category,
        "description": args.description,
        "request_domains": listed_or_none(&args.request_domains),
        "service_keywords": listed_or_none(&args.keywords),
    });
    let app = api
        .request(Method::POST, MINIAPPS_PATH, Some(body))
        .await
        .map_err(|error| not_created(error, &args.developer))?;
    let mut created = object(app, "the created mini program")?;
    let gateway = if args.with_merchant {
        let merchant = add_merchant(&api, &created).await?;
        created.insert("mchid".to_owned(), merchant["mchid"].clone());
        let gateway = merchant["gateway"].as_str().map(str::to_owned);
        created.insert("merchant".to_owned(), merchant);
        gateway
    } else {
        None
    };
    // The merchant's gateway follows --public-base-url; without one, the address the
    // CLI reached is the best this side knows.
    let gateway = gateway.unwrap_or_else(|| api.server.clone());
    created.insert("gateway".to_owned(), Value::String(gateway));
    let created = Value::Object(created);
    print_json_or(args.json, &created, admin_view::created_miniapp(&created))?;
    Ok(Outcome::Success)
}

/// Why the app was not made, with a hint when the developer is not a user.
fn not_created(error: anyhow::Error, developer: &str) -> anyhow::Error {
    let unknown_user = error
        .downcast_ref::<Refused>()
        .is_some_and(|refused| refused.code.as_deref() == Some("user_not_found"));
    if unknown_user {
        error.context(format!(
            "cannot create the mini program: --developer takes a user_id, and there is no \
             user {developer:?} (plaza admin user list shows them)"
        ))
    } else {
        error.context("cannot create the mini program")
    }
}

/// A JSON object, or an error saying `what` was not one.
fn object(value: Value, what: &str) -> anyhow::Result<Map<String, Value>> {
    match value {
        Value::Object(fields) => Ok(fields),
        other => Err(anyhow!("{what} is not a JSON object: {other}")),
    }
}

/// Makes the app's merchant and binds the two; the merchant's SDK config as the
/// merchant API answered it. Any failure names what exists already.
async fn add_merchant(api: &AdminApi, app: &Map<String, Value>) -> anyhow::Result<Value> {
    let appid = app.get("appid").and_then(Value::as_str).unwrap_or_default();
    let body = json!({ "name": app.get("name"), "appid": appid });
    let merchant = api
        .request(Method::POST, "/api/v1/admin/merchants", Some(body))
        .await
        .map_err(|error| half_made(&error, app, None))?;
    let Some(mchid) = merchant["mchid"].as_str() else {
        let error = anyhow!("the merchant API answered no mchid");
        return Err(half_made(&error, app, Some(&merchant)));
    };
    let path = format!("{MINIAPPS_PATH}/{appid}/merchant");
    api.request(Method::PUT, &path, Some(json!({ "mchid": mchid })))
        .await
        .map_err(|error| half_made(&error, app, Some(&merchant)))?;
    Ok(merchant)
}

/// The error of a `create --with-merchant` that stopped after making the app: what
/// failed, what exists already (in full: its secrets are shown nowhere else), and how to
/// finish by hand.
fn half_made(
    error: &anyhow::Error,
    app: &Map<String, Value>,
    merchant: Option<&Value>,
) -> anyhow::Error {
    let appid = app.get("appid").and_then(Value::as_str).unwrap_or("?");
    let mchid = merchant.and_then(|merchant| merchant["mchid"].as_str());
    let mut text = match mchid {
        None => {
            format!("the mini program {appid} was created, but its merchant was not: {error:#}")
        }
        Some(mchid) => format!(
            "the mini program {appid} and the merchant {mchid} were created, but binding \
             them failed: {error:#}"
        ),
    };
    text.push_str("\nwhat exists already (its secrets are shown only here: keep them):");
    text.push_str(&format!("\nmini program: {}", Value::Object(app.clone())));
    if let Some(merchant) = merchant {
        text.push_str(&format!("\nmerchant: {merchant}"));
    }
    let bind = format!(
        "plaza admin miniapp bind-merchant {appid} --mchid {}",
        mchid.unwrap_or("MCHID")
    );
    match mchid {
        None => text.push_str(&format!(
            "\nto finish: plaza admin merchant create --name NAME --appid {appid} --json, \
             then {bind}"
        )),
        Some(_) => text.push_str(&format!("\nto finish: {bind}")),
    }
    anyhow!(text)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

    fn app() -> Map<String, Value> {
        object(
            json!({ "appid": "wx0123456789abcdef", "name": "Shop", "secret": "s3cr3t" }),
            "an app",
        )
        .unwrap()
    }

    #[test]
    fn a_create_that_fails_before_the_merchant_keeps_the_app_and_its_secret() {
        let text = half_made(&anyhow!("the server went away"), &app(), None).to_string();
        assert!(
            text.starts_with(
                "the mini program wx0123456789abcdef was created, but its merchant was not: \
                 the server went away\n"
            ),
            "{text}"
        );
        assert!(text.contains("\"secret\":\"s3cr3t\""), "{text}");
        assert!(
            text.contains(
                "to finish: plaza admin merchant create --name NAME --appid wx0123456789abcdef \
                 --json, then plaza admin miniapp bind-merchant wx0123456789abcdef --mchid MCHID"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_create_that_fails_to_bind_keeps_the_app_and_the_merchant_with_their_keys() {
        let merchant =
            json!({ "mchid": "1900000001", "private_key": "-----BEGIN PRIVATE KEY-----" });
        let text = half_made(&anyhow!("refused"), &app(), Some(&merchant)).to_string();
        assert!(
            text.starts_with(
                "the mini program wx0123456789abcdef and the merchant 1900000001 were created"
            ),
            "{text}"
        );
        assert!(text.contains("\"secret\":\"s3cr3t\""), "{text}");
        assert!(text.contains("BEGIN PRIVATE KEY"), "{text}");
        assert!(
            text.ends_with(
                "to finish: plaza admin miniapp bind-merchant wx0123456789abcdef --mchid 1900000001"
            ),
            "{text}"
        );
    }
}
