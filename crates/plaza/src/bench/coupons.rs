//! `plaza bench coupons`: coupon issuance per second against one stock from
//! `--concurrency` (1,000) concurrent requests through the signed APIv3 wire, with more
//! requests than the stock holds, proving the stock issues exactly its limit.
//!
//! Before the timed window the bench starts `plaza serve --sandbox`, funds a merchant,
//! creates and starts a stock of `--limit` coupons (`--per-user` each), creates `--users`
//! users and learns their openids, and signs every issue request. In the window each
//! answer must be 200 (a coupon) or 403 `NOT_ENOUGH` (the stock is exhausted); every
//! eighth answer's platform signature is verified. Afterwards the stock's own count and
//! the 200s must both equal the limit.

use std::io::Write;
use std::sync::Arc;

use anyhow::bail;
use clap::Args;
use plaza_wx::rsa::{PrivateKey, PublicKey};
use serde_json::json;

use crate::Outcome;
use crate::bench::pay::{api_call as call, drive, sign_requests, start_server};
use crate::bench::percentile_ms;

#[derive(Debug, Args)]
pub(crate) struct CouponsArgs {
    /// Coupons the stock holds.
    #[arg(long, default_value_t = 10_000)]
    limit: u64,
    /// Issue requests sent (more than the limit, to prove none is over-issued).
    #[arg(long, default_value_t = 12_000)]
    requests: usize,
    /// Concurrent requests (each on its own connection).
    #[arg(long, default_value_t = 1_000)]
    concurrency: usize,
    /// Users the coupons go to.
    #[arg(long, default_value_t = 1_000)]
    users: usize,
    /// Coupons one user may get.
    #[arg(long, default_value_t = 20)]
    per_user: u64,
    /// Stop the timed window after this many seconds even if requests remain.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Extra arguments for the server, e.g. `--database-url=postgres://…`.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    server_arg: Vec<String>,
}

/// Creates `users` users (32 at a time) and returns their openids under `appid`.
async fn openids(
    client: &reqwest::Client,
    base: &str,
    admin: &str,
    appid: &str,
    users: usize,
) -> anyhow::Result<Vec<String>> {
    let mut all = Vec::with_capacity(users);
    let mut start = 0;
    while start < users {
        let end = (start + 32).min(users);
        let mut tasks = Vec::new();
        for index in start..end {
            let (client, base, admin, appid) = (
                client.clone(),
                base.to_owned(),
                admin.to_owned(),
                appid.to_owned(),
            );
            tasks.push(tokio::spawn(async move {
                let user = call(
                    &client,
                    reqwest::Method::POST,
                    format!("{base}/api/v1/admin/users"),
                    &admin,
                    Some(&json!({ "name": format!("Coupon fan {index}"), "password": "123456" })),
                )
                .await?;
                let token = user["token"].as_str().unwrap_or_default().to_owned();
                let openid = call(
                    &client,
                    reqwest::Method::GET,
                    format!("{base}/api/v1/me/openid?appid={appid}"),
                    &token,
                    None,
                )
                .await?;
                anyhow::Ok(openid["openid"].as_str().unwrap_or_default().to_owned())
            }));
        }
        for task in tasks {
            all.push(task.await??);
        }
        start = end;
    }
    Ok(all)
}

#[expect(
    clippy::too_many_lines,
    reason = "a benchmark's script: set up, warm up, measure, report, in the order it runs"
)]
pub(crate) async fn run(args: CouponsArgs) -> anyhow::Result<Outcome> {
    if args.limit == 0 || args.requests == 0 || args.concurrency == 0 || args.users == 0 {
        bail!("--limit, --requests, --concurrency and --users must be at least 1");
    }
    let server = start_server(&args.server_arg)?;
    let base = server.base_url.clone();
    let admin = server.admin_token.clone();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .no_proxy()
        .build()?;
    let merchant = call(
        &client,
        reqwest::Method::POST,
        format!("{base}/api/v1/admin/merchants"),
        &admin,
        Some(&json!({ "name": "Bench Coupons" })),
    )
    .await?;
    let mchid = merchant["mchid"].as_str().unwrap_or_default().to_owned();
    let appid = merchant["appid"].as_str().unwrap_or_default().to_owned();
    let serial = merchant["cert_serial_no"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let key = Arc::new(PrivateKey::from_pem(
        merchant["private_key"].as_str().unwrap_or_default(),
    )?);
    let platform = Arc::new(PublicKey::from_pem(
        merchant["public_key"].as_str().unwrap_or_default(),
    )?);
    let coupon_amount = 100_i64;
    let budget = i64::try_from(args.limit)? * coupon_amount;
    call(
        &client,
        reqwest::Method::POST,
        format!("{base}/api/v1/sandbox/merchants/{mchid}/top-up"),
        &admin,
        Some(&json!({ "amount": budget, "request_id": "bench-budget" })),
    )
    .await?;
    writeln!(
        std::io::stdout().lock(),
        "coupons bench: a stock of {} coupons, {} users, {} signed issue requests…",
        args.limit,
        args.users,
        args.requests
    )?;
    // The stock is created and started through the signed wire too.
    let now_ms = i64::try_from(std::time::UNIX_EPOCH.elapsed()?.as_millis())?;
    let at = |offset_ms: i64| {
        plaza_pay::time::rfc3339(plaza_kernel::clock::Timestamp::from_unix_ms(
            now_ms + offset_ms,
        ))
    };
    let stock_body = json!({
        "stock_name": "Bench coupons",
        "belong_merchant": mchid,
        "available_begin_time": at(-3_600_000),
        "available_end_time": at(86_400_000),
        "stock_use_rule": {
            "max_coupons": args.limit, "max_amount": budget,
            "max_coupons_per_user": args.per_user,
            "natural_person_limit": false, "prevent_api_abuse": false,
        },
        "coupon_use_rule": {"fixed_normal_coupon": {"coupon_amount": coupon_amount, "transaction_minimum": 0}},
        "stock_type": "NORMAL",
        "out_request_no": "bench-stock",
    })
    .to_string();
    let host = base.trim_start_matches("http://").to_owned();
    let setup = sign_requests(
        &key,
        (&mchid, &serial),
        &host,
        1,
        Arc::new(move |_| {
            (
                "/v3/marketing/favor/coupon-stocks".to_owned(),
                stock_body.clone(),
            )
        }),
    )?;
    let created = drive(
        &server,
        Arc::new(setup),
        1,
        30,
        platform.clone(),
        |status, _| status == 200,
    )
    .await?;
    if created.status_200 != 1 {
        bail!("creating the stock failed");
    }
    let stocks = call(
        &client,
        reqwest::Method::GET,
        format!("{base}/api/v1/admin/merchants/{mchid}/stocks"),
        &admin,
        None,
    )
    .await;
    let stock_id = match stocks {
        Ok(stocks) => stocks["stocks"][0]["stock_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        Err(error) => bail!("cannot read the stock back: {error}"),
    };
    let start_body = json!({ "stock_creator_mchid": mchid }).to_string();
    let start_path = format!("/v3/marketing/favor/stocks/{stock_id}/start");
    let start = sign_requests(
        &key,
        (&mchid, &serial),
        &host,
        1,
        Arc::new(move |_| (start_path.clone(), start_body.clone())),
    )?;
    let started = drive(
        &server,
        Arc::new(start),
        1,
        30,
        platform.clone(),
        |status, _| status == 200,
    )
    .await?;
    if started.status_200 != 1 {
        bail!("starting the stock failed");
    }
    let openids = Arc::new(openids(&client, &base, &admin, &appid, args.users).await?);
    let make = {
        let (mchid, appid, stock_id, openids) = (
            mchid.clone(),
            appid.clone(),
            stock_id.clone(),
            openids.clone(),
        );
        move |index: usize| {
            let openid = &openids[index % openids.len()];
            (
                format!("/v3/marketing/favor/users/{openid}/coupons"),
                json!({
                    "stock_id": stock_id, "out_request_no": format!("bench-{index:09}"),
                    "appid": appid, "stock_creator_mchid": mchid,
                })
                .to_string(),
            )
        }
    };
    let prepared = Arc::new(sign_requests(
        &key,
        (&mchid, &serial),
        &host,
        args.requests,
        Arc::new(make),
    )?);
    writeln!(
        std::io::stdout().lock(),
        "sending them from {} concurrent connections to {base}",
        args.concurrency
    )?;
    let mut driven = drive(
        &server,
        prepared,
        args.concurrency,
        args.seconds,
        platform,
        |status, body| status == 200 || (status == 403 && body.contains("NOT_ENOUGH")),
    )
    .await?;
    driven.latencies_us.sort_unstable();
    let detail = call(
        &client,
        reqwest::Method::GET,
        format!("{base}/api/v1/admin/merchants/{mchid}/stocks"),
        &admin,
        None,
    )
    .await?;
    let distributed = detail["stocks"][0]["distributed_coupons"]
        .as_u64()
        .unwrap_or(u64::MAX);
    drop(server);
    let issued = driven.status_200;
    let figures = json!({
        "bench": "coupons",
        "issued": issued,
        "limit": args.limit,
        "stock_distributed_coupons": distributed,
        "requests": driven.latencies_us.len() as u64 + driven.errors,
        "refused_exhausted": driven.latencies_us.len() as u64 - issued,
        "concurrency": args.concurrency,
        "seconds": (driven.elapsed_s * 100.0).round() / 100.0,
        "issued_per_second": (issued as f64 / driven.elapsed_s).round(),
        "p50_ms": percentile_ms(&driven.latencies_us, 0.50),
        "p99_ms": percentile_ms(&driven.latencies_us, 0.99),
        "max_ms": percentile_ms(&driven.latencies_us, 1.0),
        "errors": driven.errors,
        "bad_signatures": driven.bad_signatures,
        "cores": std::thread::available_parallelism().map_or(0, usize::from),
        "server_cores_used": driven.server_cores,
        "client_cores_used": driven.client_cores,
    });
    let exact = issued == args.limit && distributed == args.limit;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} coupons issued ({} the limit of {}), {} issued/s; p50 {} ms, p99 {} ms; {} errors, {} bad signatures",
        issued,
        if exact { "exactly" } else { "NOT" },
        args.limit,
        figures["issued_per_second"],
        figures["p50_ms"],
        figures["p99_ms"],
        driven.errors,
        driven.bad_signatures
    )?;
    writeln!(out, "{figures}")?;
    Ok(
        if exact && driven.errors == 0 && driven.bad_signatures == 0 {
            Outcome::Success
        } else {
            Outcome::Found
        },
    )
}
