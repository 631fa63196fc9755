//! `plaza bench miniapp`: mini-program logins per second. A login is what a user opening
//! a mini program causes: the container's `wx.login` (`POST /api/v1/mp/{appid}/login`
//! with the user's session) and the back end's `GET /sns/jscode2session` (appid and
//! AppSecret checked, the code spent durably and the session written in one unit of
//! work). The bench starts this same binary as `plaza serve --sandbox`, makes a mini
//! program and users through the admin API, then runs `--concurrency` clients over
//! keep-alive loopback connections, each doing logins back to back; every answer is
//! checked (a code, then an openid), and after the window a few spent codes are
//! exchanged again and must answer `40163`.
//!
//! The machine's own bound is measured in the same run: the same two requests, over the
//! same client, against a server on this process whose two handlers do no work but
//! answer the same shapes (on its own two-thread runtime, like the real server's). The
//! ratio is requests per second: `2 × logins/s ÷ bound requests/s`.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::Outcome;
use crate::bench::pay::{Connection, api_call, start_server};
use crate::bench::percentile_ms;

#[derive(Debug, Args)]
pub(crate) struct MiniappArgs {
    /// Measured seconds of logins.
    #[arg(long, default_value_t = 15)]
    seconds: u64,
    /// Measured seconds against the no-work server (the HTTP bound).
    #[arg(long, default_value_t = 5)]
    bound_seconds: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Users logging in (each made with a payment password, which takes a while).
    #[arg(long, default_value_t = 16)]
    users: usize,
    /// Extra arguments for the server, e.g. `--database-url=postgres://…`.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    server_arg: Vec<String>,
}

/// What one client's logins are made of.
#[derive(Clone)]
struct Target {
    address: std::net::SocketAddr,
    appid: String,
    secret: String,
    tokens: Arc<Vec<String>>,
}

/// What the clients measured.
struct Measured {
    latencies_us: Vec<u32>,
    logins: u64,
    errors: u64,
    elapsed_s: f64,
    spent_codes: Vec<String>,
}

fn login_request(target: &Target, token: &str) -> Vec<u8> {
    format!(
        "POST /api/v1/mp/{}/login HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {token}\r\ncontent-length: 0\r\n\r\n",
        target.appid
    )
    .into_bytes()
}

fn exchange_request(target: &Target, code: &str) -> Vec<u8> {
    format!(
        "GET /sns/jscode2session?appid={}&secret={}&js_code={code}&grant_type=authorization_code HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n",
        target.appid, target.secret
    )
    .into_bytes()
}

/// One login: the code, then its exchange; the code when both answered as they must.
async fn one_login(
    connection: &mut Connection,
    target: &Target,
    token: &str,
) -> anyhow::Result<String> {
    let (status, _, body) = connection.exchange(&login_request(target, token)).await?;
    let answer: Value = serde_json::from_str(&body)?;
    let code = answer["code"]
        .as_str()
        .filter(|_| status == 200)
        .with_context(|| format!("wx.login: {status} {body}"))?
        .to_owned();
    let (status, _, body) = connection
        .exchange(&exchange_request(target, &code))
        .await?;
    let session: Value = serde_json::from_str(&body)?;
    if status != 200 || !session["openid"].is_string() {
        bail!("jscode2session: {status} {body}");
    }
    Ok(code)
}

/// Runs `concurrency` clients doing logins back to back for `seconds`.
async fn drive(target: &Target, concurrency: usize, seconds: u64) -> anyhow::Result<Measured> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let errors = Arc::new(AtomicU64::new(0));
    let next_user = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (target, errors, next_user) = (target.clone(), errors.clone(), next_user.clone());
        tasks.push(tokio::spawn(async move {
            let mut connection = Connection::open(target.address).await?;
            let mut latencies = Vec::new();
            let mut spent = Vec::new();
            while Instant::now() < deadline {
                let user = next_user.fetch_add(1, Ordering::Relaxed) % target.tokens.len();
                let sent = Instant::now();
                match one_login(&mut connection, &target, &target.tokens[user]).await {
                    Ok(code) => {
                        latencies
                            .push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                        if spent.len() < 2 {
                            spent.push(code);
                        }
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        connection = Connection::open(target.address).await?;
                    }
                }
            }
            anyhow::Ok((latencies, spent))
        }));
    }
    let mut latencies_us = Vec::new();
    let mut spent_codes = Vec::new();
    for task in tasks {
        let (latencies, spent) = task.await??;
        latencies_us.extend(latencies);
        spent_codes.extend(spent);
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    latencies_us.sort_unstable();
    Ok(Measured {
        logins: latencies_us.len() as u64,
        latencies_us,
        errors: errors.load(Ordering::Relaxed),
        elapsed_s,
        spent_codes,
    })
}

/// A server whose two handlers do no work but answer the shapes the real ones do, on
/// its own two-thread runtime; its address.
fn start_no_work_server() -> anyhow::Result<std::net::SocketAddr> {
    use axum::routing::{get, post};
    let app = axum::Router::new()
        .route(
            "/api/v1/mp/{appid}/login",
            post(|| async { axum::Json(json!({"code": "0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2", "errMsg": "login:ok"})) }),
        )
        .route(
            "/sns/jscode2session",
            get(|| async { axum::Json(json!({"openid": "oAbCdEfGhIjKlMnOpQrStUvWxYz0", "session_key": "MDEyMzQ1Njc4OWFiY2RlZg==", "unionid": "oZyXwVuTsRqPoNmLkJiHgFeDcBa9"})) }),
        );
    crate::bench::serve_on_own_runtime(app, "the no-work server")
}

/// Users with sessions, a developer and a mini program, through the admin API.
async fn set_up(
    base: &str,
    admin: &str,
    users: usize,
) -> anyhow::Result<(String, String, Vec<String>)> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let post = |path: &str, body: Value| {
        let client = client.clone();
        let url = format!("{base}{path}");
        let admin = admin.to_owned();
        async move { api_call(&client, reqwest::Method::POST, url, &admin, Some(&body)).await }
    };
    let mut made = Vec::new();
    for index in 0..=users {
        made.push(tokio::spawn(post(
            "/api/v1/admin/users",
            json!({"name": format!("Bench {index}"), "password": "123456", "balance": 1}),
        )));
    }
    let mut tokens = Vec::new();
    let mut developer = None;
    for task in made {
        let user = task.await??;
        if developer.is_none() {
            developer = user["user_id"].as_str().map(str::to_owned);
        } else {
            tokens.push(
                user["token"]
                    .as_str()
                    .context("a session token")?
                    .to_owned(),
            );
        }
    }
    let app = post(
        "/api/v1/admin/miniapps",
        json!({"developer": developer, "name": "Bench"}),
    )
    .await?;
    Ok((
        app["appid"].as_str().context("an appid")?.to_owned(),
        app["secret"].as_str().context("a secret")?.to_owned(),
        tokens,
    ))
}

/// Spent codes exchanged again: how many were refused with `40163`.
async fn replays_refused(
    address: std::net::SocketAddr,
    target: &Target,
    codes: &[String],
) -> anyhow::Result<usize> {
    let mut connection = Connection::open(address).await?;
    let mut refused = 0;
    for code in codes {
        let (_, _, body) = connection.exchange(&exchange_request(target, code)).await?;
        let answer: Value = serde_json::from_str(&body)?;
        if answer["errcode"] == 40163 {
            refused += 1;
        }
    }
    Ok(refused)
}

pub(crate) async fn run(args: MiniappArgs) -> anyhow::Result<Outcome> {
    if args.users == 0 || args.concurrency == 0 {
        bail!("--users and --concurrency must be at least 1");
    }
    let server = start_server(&args.server_arg)?;
    let address = server.base_url.trim_start_matches("http://").parse()?;
    let (appid, secret, tokens) = set_up(&server.base_url, &server.admin_token, args.users).await?;
    let target = Target {
        address,
        appid,
        secret,
        tokens: Arc::new(tokens),
    };
    drive(&target, args.concurrency, 1).await?;
    let measured = drive(&target, args.concurrency, args.seconds).await?;
    let replays: Vec<String> = measured.spent_codes.iter().take(8).cloned().collect();
    let refused = replays_refused(address, &target, &replays).await?;
    let bound_target = Target {
        address: start_no_work_server()?,
        ..target.clone()
    };
    drive(&bound_target, args.concurrency, 1).await?;
    let bound = drive(&bound_target, args.concurrency, args.bound_seconds).await?;
    let logins_per_second = measured.logins as f64 / measured.elapsed_s;
    let bound_requests = 2.0 * bound.logins as f64 / bound.elapsed_s;
    let figures = json!({
        "logins_per_second": logins_per_second.round(),
        "http_bound_requests_per_second": bound_requests.round(),
        "ratio_to_http_bound": ((2.0 * logins_per_second / bound_requests) * 1000.0).round() / 1000.0,
        "p50_ms": percentile_ms(&measured.latencies_us, 0.50),
        "p99_ms": percentile_ms(&measured.latencies_us, 0.99),
        "bound_p50_ms": percentile_ms(&bound.latencies_us, 0.50),
        "logins": measured.logins,
        "errors": measured.errors,
        "replays_refused": format!("{refused}/{}", replays.len()),
        "concurrency": args.concurrency,
        "users": args.users,
        "seconds": (measured.elapsed_s * 100.0).round() / 100.0,
        "cores": std::thread::available_parallelism().map_or(0, usize::from),
    });
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} logins/s (wx.login + jscode2session, each code spent durably) = {} of the {} requests/s HTTP bound; p50 {} ms, p99 {} ms; {} errors; replayed codes refused {}",
        figures["logins_per_second"],
        figures["ratio_to_http_bound"],
        figures["http_bound_requests_per_second"],
        figures["p50_ms"],
        figures["p99_ms"],
        measured.errors,
        figures["replays_refused"]
    )?;
    writeln!(out, "{figures}")?;
    Ok(
        if measured.errors == 0 && refused == replays.len() && measured.logins > 0 {
            Outcome::Success
        } else {
            Outcome::Found
        },
    )
}
