//! `plaza bench codepay`: counter payments (v3 `codepay`) per second through the signed
//! APIv3 wire, as a fraction of the machine's RSA-2048 signing rate measured in the same
//! run; then the latency from a payer paying a collection code to the payment arriving
//! on the owner's page (its server-sent event stream).
//!
//! Before the timed window the bench starts `plaza serve --sandbox`, creates a merchant
//! and payers, has the payers show one payment code per payment (each valid a minute),
//! and signs every codepay request. In the window each answer must be 200 with
//! `trade_state` `SUCCESS` (paid at once: amounts stay under the password-free limit),
//! and every eighth answer's platform signature is verified.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use plaza_wx::rsa::{PrivateKey, PublicKey};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::Outcome;
use crate::bench::pay::{drive, rsa_signs_per_second, sign_requests, start_server};
use crate::bench::percentile_ms;

#[derive(Debug, Args)]
pub(crate) struct CodepayArgs {
    /// Counter payments to make (one payment code each).
    #[arg(long, default_value_t = 10_000)]
    payments: usize,
    /// Concurrent cash registers.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Payers the codes come from (their wallets pay).
    #[arg(long, default_value_t = 100)]
    payers: usize,
    /// Collection-code payments whose arrival on the owner's page is timed.
    #[arg(long, default_value_t = 1_000)]
    collect_payments: usize,
    /// Concurrent payers paying the collection code.
    #[arg(long, default_value_t = 8)]
    collect_concurrency: usize,
    /// Stop the timed window after this many seconds even if payments remain (codes
    /// expire a minute after they are shown).
    #[arg(long, default_value_t = 40)]
    seconds: u64,
    /// Seconds each core spends signing when the RSA bound is measured.
    #[arg(long, default_value_t = 3)]
    rsa_seconds: u64,
    /// Extra arguments for the server, e.g. `--database-url=postgres://…`.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    server_arg: Vec<String>,
}

const CODEPAY_PATH: &str = "/v3/pay/transactions/codepay";

async fn post_json(
    client: &reqwest::Client,
    url: String,
    token: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    crate::bench::pay::api_call(client, reqwest::Method::POST, url, token, Some(body)).await
}

/// Creates payers and has them show `count` payment codes, round robin.
async fn payment_codes(
    client: &reqwest::Client,
    base: &str,
    admin: &str,
    payers: usize,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let mut tokens = Vec::new();
    for index in 0..payers {
        let user = post_json(
            client,
            format!("{base}/api/v1/admin/users"),
            admin,
            &json!({ "name": format!("Bench payer {index}"), "password": "123456", "balance": 100_000_000 }),
        )
        .await?;
        tokens.push(user["token"].as_str().unwrap_or_default().to_owned());
    }
    let tokens = Arc::new(tokens);
    let codes = Arc::new(Mutex::new(vec![String::new(); count]));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (client, base, tokens, codes, next) = (
            client.clone(),
            base.to_owned(),
            tokens.clone(),
            codes.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if index >= count {
                    return anyhow::Ok(());
                }
                let token = &tokens[index % tokens.len()];
                let code = post_json(
                    &client,
                    format!("{base}/api/v1/me/payment-code"),
                    token,
                    &json!({}),
                )
                .await?;
                codes.lock().await[index] = code["code"].as_str().unwrap_or_default().to_owned();
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let codes = Arc::try_unwrap(codes)
        .map_err(|_| anyhow::anyhow!("payment codes still shared"))?
        .into_inner();
    Ok(codes)
}

/// Latencies from paying a collection code to its event on the owner's stream, µs.
#[expect(
    clippy::too_many_lines,
    reason = "one pass over the timed requests, which reads best as one loop with its bookkeeping"
)]
async fn collect_latencies(
    client: &reqwest::Client,
    base: &str,
    admin: &str,
    payments: usize,
    concurrency: usize,
) -> anyhow::Result<Vec<u32>> {
    let owner = post_json(
        client,
        format!("{base}/api/v1/admin/users"),
        admin,
        &json!({ "name": "Stall owner", "password": "123456", "balance": 1 }),
    )
    .await?;
    let owner_token = owner["token"].as_str().unwrap_or_default().to_owned();
    let code = post_json(
        client,
        format!("{base}/api/v1/me/collection-code"),
        &owner_token,
        &json!({ "name": "Bench Stall" }),
    )
    .await?;
    let code_token = code["token"].as_str().unwrap_or_default().to_owned();
    let mut payers = Vec::new();
    for index in 0..concurrency {
        let payer = post_json(
            client,
            format!("{base}/api/v1/admin/users"),
            admin,
            &json!({ "name": format!("Stall payer {index}"), "password": "123456", "balance": 100_000_000 }),
        )
        .await?;
        payers.push(payer["token"].as_str().unwrap_or_default().to_owned());
    }
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::new()));
    let mut stream = client
        .get(format!("{base}/api/v1/me/collection-code/events"))
        .bearer_auth(&owner_token)
        .send()
        .await?
        .error_for_status()?;
    let listener_sent = sent.clone();
    let listener = tokio::spawn(async move {
        let mut latencies = Vec::with_capacity(payments);
        let mut buffer = String::new();
        while latencies.len() < payments {
            let chunk = tokio::time::timeout(Duration::from_secs(30), stream.chunk())
                .await
                .context("no event within 30 s")??
                .context("the event stream ended")?;
            let arrived = Instant::now();
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let Some(data) = block
                    .lines()
                    .find_map(|line| line.strip_prefix("data:"))
                    .map(str::trim)
                else {
                    continue;
                };
                let Ok(event) = serde_json::from_str::<Value>(data) else {
                    continue;
                };
                let note = event["note"].as_str().unwrap_or_default().to_owned();
                if let Some(at) = listener_sent.lock().await.remove(&note) {
                    latencies.push(
                        u32::try_from(arrived.duration_since(at).as_micros()).unwrap_or(u32::MAX),
                    );
                }
            }
        }
        anyhow::Ok(latencies)
    });
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for token in payers {
        let (client, base, code_token, sent, next) = (
            client.clone(),
            base.to_owned(),
            code_token.clone(),
            sent.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if index >= payments {
                    return anyhow::Ok(());
                }
                let note = format!("bench {index}");
                sent.lock().await.insert(note.clone(), Instant::now());
                post_json(
                    &client,
                    format!("{base}/api/v1/pay/collect"),
                    &token,
                    &json!({
                        "token": code_token, "amount": 1 + index % 900, "note": note,
                        "password": "123456", "client_ref": format!("bench-collect-{index:08}"),
                    }),
                )
                .await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let mut latencies = tokio::time::timeout(Duration::from_secs(60), listener)
        .await
        .context("events did not all arrive")???;
    latencies.sort_unstable();
    Ok(latencies)
}

#[expect(
    clippy::too_many_lines,
    reason = "a benchmark's script: set up, warm up, measure, report, in the order it runs"
)]
pub(crate) async fn run(args: CodepayArgs) -> anyhow::Result<Outcome> {
    if args.payments == 0 || args.concurrency == 0 || args.payers == 0 {
        bail!("--payments, --concurrency and --payers must be at least 1");
    }
    let server = start_server(&args.server_arg)?;
    let base = server.base_url.clone();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .no_proxy()
        .build()?;
    let merchant = post_json(
        &client,
        format!("{base}/api/v1/admin/merchants"),
        &server.admin_token,
        &json!({ "name": "Bench Bakery" }),
    )
    .await?;
    let key = Arc::new(PrivateKey::from_pem(
        merchant["private_key"].as_str().unwrap_or_default(),
    )?);
    let platform = Arc::new(PublicKey::from_pem(
        merchant["public_key"].as_str().unwrap_or_default(),
    )?);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "codepay bench: {} payers show {} payment codes; signing the charges ahead of the timed window…",
        args.payers, args.payments
    )?;
    drop(out);
    let codes = Arc::new(
        payment_codes(
            &client,
            &base,
            &server.admin_token,
            args.payers,
            args.payments,
        )
        .await?,
    );
    let mchid = merchant["mchid"].as_str().unwrap_or_default().to_owned();
    let appid = merchant["appid"].as_str().unwrap_or_default().to_owned();
    let serial = merchant["cert_serial_no"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let run = format!("{:06x}", rand::random::<u32>() & 0xFF_FFFF);
    let body = {
        let (mchid, codes) = (mchid.clone(), codes.clone());
        move |index: usize| {
            json!({
                "appid": appid,
                "mchid": mchid,
                "description": "Bench bun",
                "out_trade_no": format!("P{run}{index:09}"),
                "payer": {"auth_code": codes[index]},
                "amount": {"total": 1 + index % 2_000, "currency": "CNY"},
                "scene_info": {"device_id": "POS-1"},
            })
            .to_string()
        }
    };
    let host = base.trim_start_matches("http://").to_owned();
    let prepared = Arc::new(sign_requests(
        &key,
        (&mchid, &serial),
        &host,
        args.payments,
        Arc::new(move |index| (CODEPAY_PATH.to_owned(), body(index))),
    )?);
    writeln!(
        std::io::stdout().lock(),
        "charging them from {} concurrent registers over loopback to {base}",
        args.concurrency
    )?;
    let mut driven = drive(
        &server,
        prepared,
        args.concurrency,
        args.seconds,
        platform,
        |status, body| status == 200 && body.contains("\"trade_state\":\"SUCCESS\""),
    )
    .await?;
    driven.latencies_us.sort_unstable();
    let per_second = driven.latencies_us.len() as f64 / driven.elapsed_s;
    writeln!(
        std::io::stdout().lock(),
        "measured {per_second:.0} counter payments/s; now {} collection-code payments, timed to the owner's page…",
        args.collect_payments
    )?;
    let notify = if args.collect_payments > 0 {
        collect_latencies(
            &client,
            &base,
            &server.admin_token,
            args.collect_payments,
            args.collect_concurrency.max(1),
        )
        .await?
    } else {
        Vec::new()
    };
    drop(server);
    writeln!(
        std::io::stdout().lock(),
        "now the machine's RSA-2048 signing rate on all cores…"
    )?;
    let rsa = rsa_signs_per_second(args.rsa_seconds)?;
    let latencies = &driven.latencies_us;
    let figures = json!({
        "bench": "codepay",
        "payments": latencies.len(),
        "concurrency": args.concurrency,
        "seconds": (driven.elapsed_s * 100.0).round() / 100.0,
        "payments_per_second": per_second.round(),
        "rsa_signs_per_second": rsa.round(),
        "ratio_to_rsa_bound": (per_second / rsa * 1000.0).round() / 1000.0,
        "p50_ms": percentile_ms(latencies, 0.50),
        "p99_ms": percentile_ms(latencies, 0.99),
        "max_ms": percentile_ms(latencies, 1.0),
        "errors": driven.errors,
        "bad_signatures": driven.bad_signatures,
        "collect_payments": notify.len(),
        "notify_p50_ms": percentile_ms(&notify, 0.50),
        "notify_p99_ms": percentile_ms(&notify, 0.99),
        "cores": std::thread::available_parallelism().map_or(0, usize::from),
        "server_cores_used": driven.server_cores,
        "client_cores_used": driven.client_cores,
    });
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} counter payments/s = {} of the {} RSA signs/s bound; p50 {} ms, p99 {} ms; \
         collection code to the owner's page: p50 {} ms, p99 {} ms; {} errors, {} bad signatures",
        figures["payments_per_second"],
        figures["ratio_to_rsa_bound"],
        figures["rsa_signs_per_second"],
        figures["p50_ms"],
        figures["p99_ms"],
        figures["notify_p50_ms"],
        figures["notify_p99_ms"],
        driven.errors,
        driven.bad_signatures
    )?;
    writeln!(out, "{figures}")?;
    Ok(if driven.errors == 0 && driven.bad_signatures == 0 {
        Outcome::Success
    } else {
        Outcome::Found
    })
}
