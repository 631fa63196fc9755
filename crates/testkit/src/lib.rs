//! Test kit: starts the real `plaza` binary on a random port with a temporary data
//! directory, and hands out fresh PostgreSQL databases.
//!
//! Integration tests talk to a real process over real HTTP, so they exercise exactly what
//! users run: flags, config, the lock file, signals and the shutdown path included.
//! Pass the binary with `env!("CARGO_BIN_EXE_plaza")`.
//!
//! Its helpers `expect` instead of returning errors, each with a message naming what
//! failed: this crate runs only inside tests, where a setup that cannot start the server,
//! create a directory or reach it over HTTP must fail the test at once and say why.
#![deny(missing_docs)]

pub mod channels;
pub mod clock;
pub mod ledger;
pub mod miniapp;
pub mod pay;
pub mod search;
pub mod wecom;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

/// An HTTP client for tests. reqwest is built with rustls and no built-in crypto
/// provider; this installs aws-lc-rs as the process's provider once.
pub fn http_client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::new()
}

/// A builder for an HTTP client with other settings (trusted roots, name resolution),
/// with the crypto provider installed as for [`http_client`].
pub fn http_client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}

fn install_crypto_provider() {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        let _installed = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Options for starting a server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    binary: PathBuf,
    data_dir: Option<PathBuf>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// Run `plaza ca` in the data directory before the first start.
    with_ca: bool,
}

impl ServerOptions {
    /// A server from `binary`, in a fresh temporary data directory.
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        Self {
            binary: binary.into(),
            data_dir: None,
            args: Vec::new(),
            env: Vec::new(),
            with_ca: false,
        }
    }

    /// Uses this data directory (e.g. to restart on the same data).
    #[must_use]
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Adds `--sandbox`.
    #[must_use]
    pub fn sandbox(self) -> Self {
        self.arg("--sandbox")
    }

    /// Adds `--tls-listen 127.0.0.1:0`: drop-in mode's HTTPS listener on a free port,
    /// found in [`TestServer::tls_base_url`]. Needs [`ServerOptions::sandbox`] and the
    /// certificates of `plaza ca` in the data directory.
    #[must_use]
    pub fn tls(self) -> Self {
        self.arg("--tls-listen").arg("127.0.0.1:0")
    }

    /// Drop-in mode: [`ServerOptions::sandbox`] and [`ServerOptions::tls`], with the
    /// certificates `plaza ca` makes in the data directory before the first start (a
    /// restart keeps them). The CA to trust is [`TestServer::ca_pem`].
    #[must_use]
    pub fn drop_in(self) -> Self {
        let mut options = self.sandbox().tls();
        options.with_ca = true;
        options
    }

    /// Adds a command-line argument after `serve`.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets an environment variable for the process.
    #[must_use]
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Runs `plaza serve` and waits until it listens.
    ///
    /// # Panics
    ///
    /// When the process exits or stays silent before listening; the message holds its log.
    pub fn start(self) -> TestServer {
        let (temp, data_dir) = match &self.data_dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let temp = tempfile::tempdir().expect("create a temporary data directory");
                let dir = temp.path().to_owned();
                (Some(temp), dir)
            }
        };
        if self.with_ca && !data_dir.join("ca/ca.pem").exists() {
            self.make_ca(&data_dir);
        }
        let log_path = std::env::temp_dir().join(format!(
            "plaza-test-{}-{}.log",
            std::process::id(),
            unique()
        ));
        let log = std::fs::File::create(&log_path).expect("create the server log file");
        let mut child = self
            .command(&data_dir)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start the plaza binary");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            // The HTTPS line, when there is one, comes first; the HTTP line says that
            // everything listens.
            let mut tls_url = None;
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("plaza tls listening on ") {
                    tls_url = Some(url.to_owned());
                } else if let Some(url) = line.strip_prefix("plaza listening on ") {
                    let _sent = sender.send((url.to_owned(), tls_url.take()));
                    break;
                }
            }
            // Keep draining so the child never blocks on a full pipe.
            for _line in lines {}
        });
        let (base_url, tls_base_url) = match receiver.recv_timeout(START_TIMEOUT) {
            Ok(urls) => urls,
            Err(_) => {
                let _killed = child.kill();
                let _waited = child.wait();
                panic!(
                    "plaza did not start listening; its log:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
        };
        let admin_token = std::fs::read_to_string(data_dir.join("admin.token"))
            .expect("the server writes admin.token before listening")
            .trim()
            .to_owned();
        TestServer {
            base_url,
            tls_base_url,
            admin_token,
            data_dir,
            log_path,
            child: Some(child),
            options: self,
            _temp: temp,
            client: http_client(),
        }
    }

    /// Runs `plaza ca --data-dir DATA_DIR`, which must succeed.
    fn make_ca(&self, data_dir: &Path) {
        let made = Command::new(&self.binary)
            .arg("ca")
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("PLAZA_CONFIG")
            .env_remove("PLAZA_DATA_DIR")
            .env_remove("PLAZA_TLS_CERT_DIR")
            .output()
            .expect("run plaza ca");
        assert!(
            made.status.success(),
            "plaza ca failed: {}",
            String::from_utf8_lossy(&made.stderr)
        );
    }

    fn command(&self, data_dir: &Path) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .args(&self.args)
            .env_remove("PLAZA_CONFIG")
            .env("PLAZA_LOG_LEVEL", "info")
            .stdin(Stdio::null());
        for (name, value) in &self.env {
            command.env(name, value);
        }
        command
    }

    /// Runs `plaza serve` expecting it to fail; returns its exit status and stderr.
    ///
    /// # Panics
    ///
    /// When the process cannot be started.
    pub fn run_expecting_failure(&self, data_dir: &Path) -> (ExitStatus, String) {
        let output = self
            .command(data_dir)
            .output()
            .expect("start the plaza binary");
        (
            output.status,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

/// Sends a request and reads the whole response.
///
/// # Errors
///
/// When the request could not be sent or answered.
pub async fn send(request: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let text = response.text().await?;
    Ok(Reply {
        status,
        headers,
        text,
    })
}

/// How often [`eventually`] asks.
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How many times [`eventually`] asks before giving up: 400 × 50 ms = 20 s.
pub const POLL_TRIES_MAX: u32 = 400;

/// Asks `check` every [`POLL_INTERVAL`] until it answers `Some`, at most
/// [`POLL_TRIES_MAX`] times, so a wait for something that never happens fails with a
/// message naming `what` instead of hanging.
///
/// # Panics
///
/// When `check` never answers `Some`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..POLL_TRIES_MAX {
        if let Some(found) = check().await {
            return found;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    panic!(
        "gave up waiting after {POLL_TRIES_MAX} tries over {:?}: {what}",
        POLL_INTERVAL * POLL_TRIES_MAX
    );
}

pub(crate) fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

/// A running `plaza serve`. Dropping it kills the process.
#[derive(Debug)]
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// `https://127.0.0.1:PORT`, drop-in mode's listener, when started with
    /// [`ServerOptions::tls`].
    pub tls_base_url: Option<String>,
    /// The bearer token for `/api/v1/admin`.
    pub admin_token: String,
    /// The data directory.
    pub data_dir: PathBuf,
    log_path: PathBuf,
    child: Option<Child>,
    options: ServerOptions,
    _temp: Option<tempfile::TempDir>,
    client: reqwest::Client,
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub text: String,
}

impl Reply {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// The status and the error body's `code` (empty when there is none): the shape
    /// both Plaza's `/api/v1` envelope and WeChat's APIv3 errors share.
    pub fn error_code(&self) -> (u16, String) {
        (
            self.status,
            self.json()["code"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// Asserts that this is the error `code` with HTTP `status`.
    ///
    /// # Panics
    ///
    /// When it is not; the message holds the body.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.json()["code"].as_str()),
            (status, Some(code)),
            "expected {status} {code}, got: {}",
            self.text
        );
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

impl TestServer {
    /// Starts a server with default options.
    pub fn start(binary: impl Into<PathBuf>) -> Self {
        ServerOptions::new(binary).start()
    }

    /// Starts a sandbox (`serve --sandbox`) with otherwise default options.
    pub fn sandbox(binary: impl Into<PathBuf>) -> Self {
        ServerOptions::new(binary).sandbox().start()
    }

    /// Asserts that the ledger verifies: `GET /api/v1/admin/ledger/verify` answers
    /// `sound: true`.
    ///
    /// # Panics
    ///
    /// When it does not; the message holds the answer.
    pub async fn assert_ledger_sound(&self) {
        let reply = self.admin_get("/api/v1/admin/ledger/verify").await;
        assert_eq!(reply.json()["sound"], true, "the ledger: {}", reply.text);
    }

    /// The port of drop-in mode's HTTPS listener.
    ///
    /// # Panics
    ///
    /// When the server was started without [`ServerOptions::tls`].
    pub fn tls_port(&self) -> u16 {
        self.tls_base_url
            .as_deref()
            .and_then(|url| url.rsplit_once(':'))
            .and_then(|(_, port)| port.parse().ok())
            .expect("the server was started with ServerOptions::tls")
    }

    /// The CA certificate (PEM) that a server started with [`ServerOptions::drop_in`]
    /// serves under.
    ///
    /// # Panics
    ///
    /// When the data directory holds no CA.
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(self.ca_pem_path()).expect("the data directory holds ca/ca.pem")
    }

    /// Where [`TestServer::ca_pem`] is read from.
    pub fn ca_pem_path(&self) -> PathBuf {
        self.data_dir.join("ca/ca.pem")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Runs an outside test script (an SDK or browser driver) against this server and
    /// returns its stdout; it must exit 0 and print `all checks passed`.
    ///
    /// # Panics
    ///
    /// When the script cannot run or fails, with its output and the server's log.
    pub fn run_script(&self, what: &str, command: &mut Command) -> String {
        let output = command.output().expect("run the script");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && stdout.contains("all checks passed"),
            "{what} failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- plaza log\n{}",
            self.log()
        );
        stdout
    }

    /// The options it was started with.
    pub fn options(&self) -> &ServerOptions {
        &self.options
    }

    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Reply, reqwest::Error> {
        send(request).await
    }

    /// `GET path` without credentials.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(format!("{}{path}", self.base_url)))
            .await
            .expect("GET")
    }

    /// `GET path` with the admin token.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn admin_get(&self, path: &str) -> Reply {
        self.send(
            self.client
                .get(format!("{}{path}", self.base_url))
                .bearer_auth(&self.admin_token),
        )
        .await
        .expect("GET")
    }

    /// A web page as the sandbox's operator sees it: signs in with
    /// `POST /signin/operator`, which asks the sandbox for no token, then answers the
    /// body of `GET path` with the operator's cookie.
    ///
    /// # Panics
    ///
    /// When the sign-in sets no cookie or the server cannot be reached.
    pub async fn operator_page(&self, path: &str) -> String {
        let cookie = self.operator_cookie().await;
        self.operator_request(reqwest::Method::GET, path, &cookie, &[])
            .await
            .text
    }

    /// An operator's session cookie (`name=value`), from signing in.
    ///
    /// # Panics
    ///
    /// When the sign-in fails.
    pub async fn operator_cookie(&self) -> String {
        let signed = self
            .send(
                no_redirects_client()
                    .post(format!("{}/signin/operator", self.base_url))
                    .header("origin", &self.base_url)
                    .form(&[("next", "/console")]),
            )
            .await
            .expect("POST /signin/operator");
        signed
            .header("set-cookie")
            .and_then(|cookie| cookie.split(';').next())
            .unwrap_or_else(|| panic!("the operator sign-in sets a cookie: {}", signed.text))
            .to_owned()
    }

    /// A page request with an operator's `cookie` (a form POST when `form` is given),
    /// from Plaza's own pages, following no redirect.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn operator_request(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: &str,
        form: &[(&str, &str)],
    ) -> Reply {
        let mut request = no_redirects_client()
            .request(method.clone(), format!("{}{path}", self.base_url))
            .header("cookie", cookie)
            .header("origin", &self.base_url);
        if method == reqwest::Method::POST {
            request = request.form(form);
        }
        // Fails only when the server under test does not answer at all, which is the
        // test's failure to report (see the crate's note on `expect`).
        self.send(request).await.expect("an answer")
    }

    /// `POST path` with a JSON body and the admin token; `Err` when the connection fails.
    ///
    /// # Errors
    ///
    /// When the request could not be sent or answered.
    pub async fn try_admin_post(&self, path: &str, body: &Value) -> Result<Reply, reqwest::Error> {
        self.send(
            self.client
                .post(format!("{}{path}", self.base_url))
                .bearer_auth(&self.admin_token)
                .json(body),
        )
        .await
    }

    /// `POST path` with a JSON body and the admin token.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn admin_post(&self, path: &str, body: &Value) -> Reply {
        self.try_admin_post(path, body).await.expect("POST")
    }

    /// `POST path` with a JSON body and the admin token, which must answer 200; its JSON.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached or answers another status.
    pub async fn admin_post_ok(&self, path: &str, body: &Value) -> Value {
        let reply = self.admin_post(path, body).await;
        assert_eq!(reply.status, 200, "POST {path}: {}", reply.text);
        reply.json()
    }

    /// `PUT path` with a JSON body and the admin token.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn admin_put(&self, path: &str, body: &Value) -> Reply {
        self.send(
            self.client
                .put(format!("{}{path}", self.base_url))
                .bearer_auth(&self.admin_token)
                .json(body),
        )
        .await
        .expect("PUT")
    }

    /// `PATCH path` with a JSON body and the admin token.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn admin_patch(&self, path: &str, body: &Value) -> Reply {
        self.send(
            self.client
                .patch(format!("{}{path}", self.base_url))
                .bearer_auth(&self.admin_token)
                .json(body),
        )
        .await
        // Test-only code (the kit is a dev-dependency): the only failure is a server that
        // does not answer, and failing the calling test here is this helper's documented contract.
        .expect("PATCH")
    }

    /// `DELETE path` with the admin token.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn admin_delete(&self, path: &str) -> Reply {
        self.send(
            self.client
                .delete(format!("{}{path}", self.base_url))
                .bearer_auth(&self.admin_token),
        )
        .await
        .expect("DELETE")
    }

    /// `POST path` with a raw body and no credentials.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn post_raw(&self, path: &str, body: &str, token: Option<&str>) -> Reply {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base_url))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await.expect("POST")
    }

    /// Sends SIGTERM and waits for the process to exit.
    ///
    /// # Panics
    ///
    /// When the process does not exit within a minute.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the server is running");
        let _sent = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "plaza did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the process with SIGKILL, like a power cut to the process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _killed = child.kill();
            let _waited = child.wait();
        }
    }

    /// Starts the same server again on the same data directory (after a stop or kill).
    pub fn restart(self) -> Self {
        self.restart_with(|options| options)
    }

    /// Kills the server and starts it again on the same data, with options changed by
    /// `change` (e.g. an extra flag).
    pub fn restart_with(mut self, change: impl FnOnce(ServerOptions) -> ServerOptions) -> Self {
        self.kill();
        let temp = self._temp.take();
        let options = change(self.options.clone()).data_dir(&self.data_dir);
        let mut restarted = options.start();
        restarted._temp = temp;
        restarted
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
        let _removed = std::fs::remove_file(&self.log_path);
    }
}

/// Says on the terminal that part of a test was skipped. Written to stderr directly, not
/// through `eprintln!`, which the test harness captures and hides for passing tests: a
/// green local run must not be mistaken for a full one.
pub fn say_skipped(what: &str) {
    use std::io::Write as _;
    let _written = writeln!(std::io::stderr().lock(), "SKIPPED: {what}");
}

/// A fresh, empty PostgreSQL database for one test, or `None` (with a note on stderr)
/// when no server answers. With `PLAZA_TEST_REQUIRE_POSTGRES=1` (as in CI) an unreachable
/// server is a failure instead. The admin URL comes from `PLAZA_TEST_POSTGRES_URL`
/// (default `postgres://postgres@127.0.0.1:5432/postgres`).
///
/// # Panics
///
/// When PostgreSQL is required but unreachable, or a database cannot be created.
pub async fn postgres_database() -> Option<String> {
    let admin = std::env::var("PLAZA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let required = std::env::var("PLAZA_TEST_REQUIRE_POSTGRES").is_ok_and(|value| value == "1");
    let client = match tokio_postgres::connect(&admin, tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            client
        }
        Err(error) if required => {
            panic!(
                "PostgreSQL is required (PLAZA_TEST_REQUIRE_POSTGRES=1) but {admin} is unreachable: {error}"
            )
        }
        Err(error) => {
            say_skipped(&format!(
                "PostgreSQL part skipped: cannot reach {admin} ({error}); set PLAZA_TEST_POSTGRES_URL to run it"
            ));
            return None;
        }
    };
    drop_leftover_databases(&client).await;
    let random = {
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            % 1_000_000
    };
    let name = format!("plaza_test_{}_{random}_{}", std::process::id(), unique());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    Some(format!("{base}/{name}"))
}

/// Drops the databases of earlier test processes that have exited.
async fn drop_leftover_databases(client: &tokio_postgres::Client) {
    let Ok(rows) = client
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'plaza_test_%'",
            &[],
        )
        .await
    else {
        return;
    };
    for row in rows {
        let name: String = row.get(0);
        let pid = name.split('_').nth(2).unwrap_or("");
        if !pid.is_empty() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _dropped = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    }
}

/// A client that follows no redirect (to read where a page sends the browser).
fn no_redirects_client() -> reqwest::Client {
    // The builder fails only if the TLS backend cannot start, which no test could
    // survive anyway; its settings are fixed here, not taken from input.
    http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("build an HTTP client")
}
