//! `plaza bench pay`: Native prepay requests per second through the APIv3 wire, with the
//! machine's RSA-2048 signing rate on all cores measured in the same run.
//!
//! The bench starts this same binary as `plaza serve --sandbox` on a temporary data
//! directory, creates a merchant through the admin API, signs every request before the
//! timed window (so the client's signing does not compete with the server's), then
//! sends them over keep-alive loopback connections (a minimal HTTP/1.1 client, one
//! request in flight per connection) from `--concurrency` tasks. Every
//! answer is checked for status 200 and a `code_url`, and every eighth for a platform
//! signature that verifies (the client shares the machine's cores with the server).

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use plaza_wx::rsa::{PrivateKey, PublicKey};
use serde_json::{Value, json};

use crate::Outcome;
use crate::bench::{percentile_ms, tempfile_dir};

#[derive(Debug, Args)]
pub(crate) struct PayArgs {
    /// Orders to create (each signed ahead of the timed window).
    #[arg(long, default_value_t = 40_000)]
    orders: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Stop the timed window after this many seconds even if orders remain.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Seconds each core spends signing when the RSA bound is measured.
    #[arg(long, default_value_t = 3)]
    rsa_seconds: u64,
    /// Extra arguments for the server, e.g. `--database-url=postgres://…`.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    server_arg: Vec<String>,
}

const NATIVE_PATH: &str = "/v3/pay/transactions/native";

/// Answers whose platform signature the client verifies: one in this many.
const VERIFY_EVERY: usize = 8;

pub(crate) struct Server {
    pub(crate) child: std::process::Child,
    pub(crate) base_url: String,
    pub(crate) admin_token: String,
    /// Removed when the server is dropped, unless kept.
    dir: Option<PathBuf>,
}

impl Server {
    /// Leaves the data directory in place when the server is dropped (one the caller
    /// was given rather than made).
    pub(crate) fn keep_data_dir(&mut self) {
        self.dir = None;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _waited = self.child.wait();
        if let Some(dir) = &self.dir {
            let _removed = std::fs::remove_dir_all(dir);
        }
    }
}

pub(crate) fn start_server(extra: &[String]) -> anyhow::Result<Server> {
    start_server_in(tempfile_dir()?, extra)
}

/// Starts `plaza serve --sandbox` on `dir` (removed when the server is dropped).
pub(crate) fn start_server_in(dir: PathBuf, extra: &[String]) -> anyhow::Result<Server> {
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "serve",
            "--sandbox",
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "warn",
        ])
        .arg("--data-dir")
        .arg(&dir)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start plaza serve")?;
    let stdout = child.stdout.take().context("stdout is piped")?;
    let mut lines = BufReader::new(stdout).lines();
    let base_url = loop {
        let line = lines
            .next()
            .context("plaza serve exited before listening")??;
        if let Some(url) = line.strip_prefix("plaza listening on ") {
            break url.to_owned();
        }
    };
    std::thread::spawn(move || for _line in lines {});
    let admin_token = std::fs::read_to_string(dir.join("admin.token"))?
        .trim()
        .to_owned();
    Ok(Server {
        child,
        base_url,
        admin_token,
        dir: Some(dir),
    })
}

/// One request, as the bytes that go on the wire.
pub(crate) struct Prepared {
    pub(crate) wire: Vec<u8>,
}

fn sign_all(
    key: &Arc<PrivateKey>,
    merchant: &Value,
    orders: usize,
    run: &str,
    host: &str,
) -> anyhow::Result<Vec<Prepared>> {
    let mchid = merchant["mchid"].as_str().unwrap_or_default().to_owned();
    let appid = merchant["appid"].as_str().unwrap_or_default().to_owned();
    let serial = merchant["cert_serial_no"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let run = run.to_owned();
    let body = {
        let mchid = mchid.clone();
        move |index: usize| {
            json!({
                "appid": appid,
                "mchid": mchid,
                "description": "Bench coffee",
                "out_trade_no": format!("B{run}{index:09}"),
                "notify_url": "https://merchant.example/notify",
                "amount": {"total": 1 + index % 5_000, "currency": "CNY"},
            })
            .to_string()
        }
    };
    sign_requests(
        key,
        (&mchid, &serial),
        host,
        orders,
        Arc::new(move |index| (NATIVE_PATH.to_owned(), body(index))),
    )
}

/// Makes request `index`: its path and JSON body.
pub(crate) type RequestMaker = Arc<dyn Fn(usize) -> (String, String) + Send + Sync>;

/// Signs `count` POST requests (paths and bodies from `make`), as a merchant's SDK
/// would, on every core; returns them as wire bytes in index order.
pub(crate) fn sign_requests(
    key: &Arc<PrivateKey>,
    (mchid, serial): (&str, &str),
    host: &str,
    count: usize,
    make: RequestMaker,
) -> anyhow::Result<Vec<Prepared>> {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let timestamp = std::time::UNIX_EPOCH.elapsed()?.as_secs() as i64;
    let run = format!("{:06x}", rand::random::<u32>() & 0xFF_FFFF);
    let next = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for _ in 0..threads {
        let (key, mchid, serial, run, next, host, make) = (
            key.clone(),
            mchid.to_owned(),
            serial.to_owned(),
            run.clone(),
            next.clone(),
            host.to_owned(),
            make.clone(),
        );
        handles.push(std::thread::spawn(
            move || -> anyhow::Result<Vec<(usize, Prepared)>> {
                let mut done = Vec::new();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    if index >= count {
                        return Ok(done);
                    }
                    let (path, body) = make(index);
                    let nonce = format!("{run}{index:024}");
                    let authorization = plaza_wx::auth::sign_request(
                        &key,
                        &mchid,
                        &serial,
                        "POST",
                        &path,
                        body.as_bytes(),
                        timestamp,
                        &nonce,
                    )?;
                    let wire = format!(
                        "POST {path} HTTP/1.1\r\nhost: {host}\r\n\
                         content-type: application/json\r\naccept: application/json\r\n\
                         authorization: {authorization}\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .into_bytes();
                    done.push((index, Prepared { wire }));
                }
            },
        ));
    }
    let mut all = Vec::with_capacity(count);
    for handle in handles {
        let part = handle
            .join()
            .map_err(|_| anyhow::anyhow!("a signing thread panicked"))??;
        all.extend(part);
    }
    all.sort_by_key(|(index, _)| *index);
    Ok(all.into_iter().map(|(_, prepared)| prepared).collect())
}

/// CPU time (user + system) a process has used, in seconds, from `/proc/<pid>/stat`;
/// `None` where that file does not exist.
pub(crate) fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th
    // fields of the line, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / CLOCK_TICKS_PER_SECOND)
}

/// Linux's `USER_HZ`, the unit of `/proc/<pid>/stat` times.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

/// RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second, one thread per core.
pub(crate) fn rsa_signs_per_second(seconds: u64) -> anyhow::Result<f64> {
    let key = Arc::new(PrivateKey::generate()?);
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let key = key.clone();
            std::thread::spawn(move || {
                let mut signs = 0_u64;
                let message = [42_u8; 200];
                while Instant::now() < until {
                    if key.sign_sha256(&message).is_ok() {
                        signs += 1;
                    }
                }
                signs
            })
        })
        .collect();
    let mut total = 0;
    for handle in handles {
        total += handle
            .join()
            .map_err(|_| anyhow::anyhow!("a signing thread panicked"))?;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

struct Outcomes {
    latencies_us: Vec<u32>,
    status_200: u64,
    errors: u64,
    bad_signatures: u64,
}

pub(crate) fn verifies(platform: &PublicKey, headers: &[(String, String)], body: &str) -> bool {
    let text = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    };
    match (
        text("wechatpay-timestamp"),
        text("wechatpay-nonce"),
        text("wechatpay-signature"),
    ) {
        (Some(timestamp), Some(nonce), Some(signature)) => plaza_wx::response::verify_response(
            platform,
            timestamp,
            nonce,
            signature,
            body.as_bytes(),
        ),
        _ => false,
    }
}

/// A keep-alive HTTP/1.1 connection that sends prepared requests one at a time and
/// reads each answer whole: the lightest client that still checks every answer, so the
/// load generator takes as little as it can of the cores it shares with the server.
pub(crate) struct Connection {
    stream: tokio::net::TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    pub(crate) async fn open(address: std::net::SocketAddr) -> anyhow::Result<Self> {
        let stream = tokio::net::TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buffer: Vec::with_capacity(8 * 1024),
        })
    }

    /// Sends one request; returns the status, the headers and the body.
    pub(crate) async fn exchange(
        &mut self,
        wire: &[u8],
    ) -> anyhow::Result<(u16, Vec<(String, String)>, String)> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.stream.write_all(wire).await?;
        self.buffer.clear();
        let mut chunk = [0_u8; 8 * 1024];
        let head_end = loop {
            if let Some(position) = self
                .buffer
                .windows(4)
                .position(|window| window == b"\r\n\r\n")
            {
                break position + 4;
            }
            let read = self.stream.read(&mut chunk).await?;
            if read == 0 {
                bail!("the server closed the connection");
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        };
        let head = std::str::from_utf8(&self.buffer[..head_end])?;
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .context("no status line")?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| {
                let (name, value) = line.split_once(':')?;
                Some((name.trim().to_owned(), value.trim().to_owned()))
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, value)| value.parse().ok())
            .context("no content-length")?;
        while self.buffer.len() < head_end + length {
            let read = self.stream.read(&mut chunk).await?;
            if read == 0 {
                bail!("the server closed the connection mid-answer");
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        }
        let body = String::from_utf8_lossy(&self.buffer[head_end..head_end + length]).into_owned();
        Ok((status, headers, body))
    }
}

/// One call to a running Plaza's `/api/v1` (setup before a timed window): the JSON
/// answer, or an error naming the URL and the answer.
pub(crate) async fn api_call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let mut request = client.request(method, &url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let reply = request.send().await?;
    let status = reply.status();
    let text = reply.text().await?;
    if !status.is_success() {
        bail!("{url} answered {status}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

/// What the timed window measured.
pub(crate) struct Driven {
    pub(crate) latencies_us: Vec<u32>,
    /// Accepted answers with status 200 (others were accepted refusals).
    pub(crate) status_200: u64,
    pub(crate) errors: u64,
    pub(crate) bad_signatures: u64,
    pub(crate) elapsed_s: f64,
    pub(crate) server_cores: Value,
    pub(crate) client_cores: Value,
}

/// Sends prepared requests from `concurrency` keep-alive connections until they run out
/// or `seconds` pass; `accept` judges each answer, and every eighth answer's platform
/// signature is verified.
#[expect(
    clippy::too_many_lines,
    reason = "the load driver's workers, pacing and latency bookkeeping share their locals"
)]
pub(crate) async fn drive(
    server: &Server,
    prepared: Arc<Vec<Prepared>>,
    concurrency: usize,
    seconds: u64,
    platform: Arc<PublicKey>,
    accept: fn(u16, &str) -> bool,
) -> anyhow::Result<Driven> {
    let address = server
        .base_url
        .trim_start_matches("http://")
        .parse::<std::net::SocketAddr>()?;
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let cpu_before = (
        cpu_seconds("self"),
        cpu_seconds(&server.child.id().to_string()),
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (prepared, next, platform) = (prepared.clone(), next.clone(), platform.clone());
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Outcomes {
                latencies_us: Vec::new(),
                status_200: 0,
                errors: 0,
                bad_signatures: 0,
            };
            let mut connection = Connection::open(address).await?;
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(request) = prepared.get(index) else {
                    break;
                };
                if Instant::now() >= deadline {
                    break;
                }
                let sent = Instant::now();
                let ok = match connection.exchange(&request.wire).await {
                    Ok((status, headers, body)) => {
                        // Every status and body is checked; the signature on every
                        // eighth answer, so the client's verifying leaves the shared
                        // cores to the server.
                        if index % VERIFY_EVERY == 0 && !verifies(&platform, &headers, &body) {
                            outcomes.bad_signatures += 1;
                        }
                        let accepted = accept(status, &body);
                        if accepted && status == 200 {
                            outcomes.status_200 += 1;
                        }
                        accepted
                    }
                    Err(_) => {
                        connection = Connection::open(address).await?;
                        false
                    }
                };
                if ok {
                    outcomes
                        .latencies_us
                        .push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                } else {
                    outcomes.errors += 1;
                }
            }
            anyhow::Ok(outcomes)
        }));
    }
    let mut latencies_us = Vec::new();
    let (mut errors, mut bad_signatures, mut status_200) = (0, 0, 0);
    for task in tasks {
        let outcomes = task.await??;
        latencies_us.extend(outcomes.latencies_us);
        status_200 += outcomes.status_200;
        errors += outcomes.errors;
        bad_signatures += outcomes.bad_signatures;
    }
    let elapsed_s = started.elapsed().as_secs_f64();
    let cpu_after = (
        cpu_seconds("self"),
        cpu_seconds(&server.child.id().to_string()),
    );
    let cores_used = |before: Option<f64>, after: Option<f64>| {
        before.zip(after).map_or(Value::Null, |(before, after)| {
            json!(((after - before) / elapsed_s * 100.0).round() / 100.0)
        })
    };
    Ok(Driven {
        latencies_us,
        status_200,
        errors,
        bad_signatures,
        elapsed_s,
        client_cores: cores_used(cpu_before.0, cpu_after.0),
        server_cores: cores_used(cpu_before.1, cpu_after.1),
    })
}

#[expect(
    clippy::too_many_lines,
    reason = "a benchmark's script: set up, warm up, measure, report, in the order it runs"
)]
pub(crate) async fn run(args: PayArgs) -> anyhow::Result<Outcome> {
    if args.orders == 0 || args.concurrency == 0 {
        bail!("--orders and --concurrency must be at least 1");
    }
    let server = start_server(&args.server_arg)?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .no_proxy()
        .build()?;
    let merchant: Value = client
        .post(format!("{}/api/v1/admin/merchants", server.base_url))
        .bearer_auth(&server.admin_token)
        .json(&json!({ "name": "Bench Coffee" }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let key = Arc::new(PrivateKey::from_pem(
        merchant["private_key"].as_str().unwrap_or_default(),
    )?);
    let platform = PublicKey::from_pem(merchant["public_key"].as_str().unwrap_or_default())?;
    let run = format!("{:06x}", rand::random::<u32>() & 0xFF_FFFF);
    writeln!(
        std::io::stdout().lock(),
        "pay bench: signing {} Native prepay requests ahead of the timed window…",
        args.orders
    )?;
    let host = server.base_url.trim_start_matches("http://").to_owned();
    let prepared = Arc::new(sign_all(&key, &merchant, args.orders, &run, &host)?);
    writeln!(
        std::io::stdout().lock(),
        "sending them from {} concurrent clients over loopback to {}",
        args.concurrency,
        server.base_url
    )?;
    let driven = drive(
        &server,
        prepared,
        args.concurrency,
        args.seconds,
        Arc::new(platform),
        |status, body| status == 200 && body.contains("code_url"),
    )
    .await?;
    let (mut latencies_us, errors, bad_signatures, elapsed_s) = (
        driven.latencies_us,
        driven.errors,
        driven.bad_signatures,
        driven.elapsed_s,
    );
    let (client_cores, server_cores) = (driven.client_cores, driven.server_cores);
    latencies_us.sort_unstable();
    let orders_per_second = latencies_us.len() as f64 / elapsed_s;
    drop(server);
    writeln!(
        std::io::stdout().lock(),
        "measured {:.0} orders/s; now the machine's RSA-2048 signing rate on all cores…",
        orders_per_second
    )?;
    let rsa = rsa_signs_per_second(args.rsa_seconds)?;
    let figures = json!({
        "bench": "pay",
        "orders": latencies_us.len(),
        "concurrency": args.concurrency,
        "seconds": (elapsed_s * 100.0).round() / 100.0,
        "orders_per_second": orders_per_second.round(),
        "rsa_signs_per_second": rsa.round(),
        "ratio_to_rsa_bound": (orders_per_second / rsa * 1000.0).round() / 1000.0,
        "p50_ms": percentile_ms(&latencies_us, 0.50),
        "p90_ms": percentile_ms(&latencies_us, 0.90),
        "p99_ms": percentile_ms(&latencies_us, 0.99),
        "max_ms": percentile_ms(&latencies_us, 1.0),
        "errors": errors,
        "bad_signatures": bad_signatures,
        "cores": std::thread::available_parallelism().map_or(0, usize::from),
        "server_cores_used": server_cores,
        "client_cores_used": client_cores,
    });
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} orders/s = {} of the {} RSA signs/s bound; p50 {} ms, p99 {} ms; {} errors, {} bad signatures",
        figures["orders_per_second"],
        figures["ratio_to_rsa_bound"],
        figures["rsa_signs_per_second"],
        figures["p50_ms"],
        figures["p99_ms"],
        errors,
        bad_signatures
    )?;
    writeln!(out, "{figures}")?;
    Ok(if errors == 0 && bad_signatures == 0 {
        Outcome::Success
    } else {
        Outcome::Found
    })
}
