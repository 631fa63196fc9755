//! The admin CLI and `plaza demo` as a new user meets them: run from the folder where
//! the demo runs, with no flags; told where it looked when nothing is there; listing and
//! showing what exists; balances in yuan; a demo that moves to another port, listens on
//! a host name, or fails on a taken port without leaving a half-made data directory;
//! mini programs made, with or without their merchant, with credentials that work.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use plaza_testkit::TestServer;
use plaza_testkit::miniapp::{errcode, wx_get};
use serde_json::Value;

use crate::PLAZA;

/// How long a demo may take to seed and greet, or a failing start to exit.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// `plaza ARGS` in `cwd`, with none of the caller's PLAZA_* settings.
fn plaza(cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(PLAZA);
    command.current_dir(cwd).args(args).stdin(Stdio::null());
    for (name, _) in std::env::vars() {
        if name.starts_with("PLAZA_") {
            command.env_remove(name);
        }
    }
    command
}

/// Runs `plaza ARGS` in `cwd`; it must succeed. Its stdout.
fn run_ok(cwd: &Path, args: &[&str]) -> String {
    let output = plaza(cwd, args).output().unwrap();
    assert!(
        output.status.success(),
        "plaza {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Runs `plaza ARGS` in `cwd`; it must fail with exit code 2. Its stderr.
fn run_err(cwd: &Path, args: &[&str]) -> String {
    let output = plaza(cwd, args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "plaza {args:?}: {stderr}");
    stderr
}

fn run_json(cwd: &Path, args: &[&str]) -> Value {
    let text = run_ok(cwd, args);
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}: {text}"))
}

/// The arguments of `plaza admin user create ARGS`.
fn user_create<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [&["admin", "user", "create"], args].concat()
}

/// The arguments of `plaza admin miniapp ARGS`.
fn miniapp<'a>(args: &[&'a str]) -> Vec<&'a str> {
    [&["admin", "miniapp"], args].concat()
}

/// A user made with `plaza admin user create`, working on `data_dir`: its user_id.
fn user_id(cwd: &Path, data_dir: &str, name: &str) -> String {
    let created = run_json(
        cwd,
        &user_create(&["--data-dir", data_dir, "--name", name, "--json"]),
    );
    created["user_id"].as_str().unwrap().to_owned()
}

/// What `/cgi-bin/token` answers for these credentials.
async fn access_token(server: &TestServer, appid: &str, secret: &str) -> Value {
    wx_get(
        server,
        &format!("/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={secret}"),
    )
    .await
}

/// Waits for a process to exit, for at most [`START_TIMEOUT`].
fn wait_exit(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _killed = child.kill();
            panic!("plaza did not exit within {START_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `plaza demo`; dropping it kills the process.
struct Demo {
    child: Child,
    /// `http://ADDR` it listens on.
    base: String,
    /// Everything it printed up to its last greeting line.
    printed: String,
}

impl Demo {
    /// Starts `plaza demo ARGS` in `cwd` and waits until it has seeded and greeted.
    fn start(cwd: &Path, log_dir: &Path, args: &[&str]) -> Self {
        let log_path = log_dir.join(format!("demo-{}.log", std::process::id()));
        let log = std::fs::File::create(&log_path).unwrap();
        let mut demo_args = vec!["demo"];
        demo_args.extend(args);
        let mut child = plaza(cwd, &demo_args)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let mut printed = String::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match receiver.recv_timeout(left) {
                Ok(line) => {
                    printed.push_str(&line);
                    printed.push('\n');
                    if line.contains("Ctrl-C stops it") {
                        break;
                    }
                }
                Err(_) => {
                    let _killed = child.kill();
                    let _waited = child.wait();
                    panic!(
                        "plaza demo did not greet; printed:\n{printed}\nlog:\n{}",
                        std::fs::read_to_string(&log_path).unwrap_or_default()
                    );
                }
            }
        }
        // Keep draining so the demo never blocks on a full pipe.
        std::thread::spawn(move || for _line in receiver {});
        let base = printed
            .lines()
            .find_map(|line| line.strip_prefix("plaza listening on "))
            .unwrap_or_else(|| panic!("no listening line in:\n{printed}"))
            .to_owned();
        Self {
            child,
            base,
            printed,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.base.strip_prefix("http://").unwrap().parse().unwrap()
    }

    fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _waited = self.child.wait();
    }
}

fn sdk_file(cwd: &Path, slug: &str) -> Value {
    let path = cwd.join("plaza-demo/demo").join(format!("{slug}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The line of a table whose last column is `name`.
fn row<'a>(table: &'a str, name: &str) -> &'a str {
    table
        .lines()
        .find(|line| line.ends_with(&format!("  {name}")))
        .unwrap_or_else(|| panic!("no row for {name} in:\n{table}"))
}

#[test]
fn admin_commands_find_the_demo_from_its_folder_and_list_and_show_what_it_seeded() {
    let cwd = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    let _demo = Demo::start(cwd, logs.path(), &["--listen", "127.0.0.1:0"]);
    let harbour = sdk_file(cwd, "harbour-coffee");
    let provider_file = sdk_file(cwd, "provider");

    // Merchants: a table by default, the API's object with --json.
    let table = run_ok(cwd, &["admin", "merchant", "list"]);
    assert!(table.starts_with("MCHID "), "{table}");
    let harbour_row = row(&table, "Harbour Coffee");
    assert!(
        harbour_row.starts_with(harbour["mchid"].as_str().unwrap()),
        "{harbour_row}"
    );
    assert!(harbour_row.contains(" direct "), "{harbour_row}");
    assert!(harbour_row.contains(" 0.60% "), "{harbour_row}");
    assert!(row(&table, "Lotus Books").contains(" 0.38% "), "{table}");
    assert!(row(&table, "Riverside Services").contains(" provider "));
    let listed = run_json(cwd, &["admin", "merchant", "list", "--json"]);
    // Six of Pay's demo and the mini program's merchant.
    assert_eq!(listed["merchants"].as_array().unwrap().len(), 7, "{listed}");
    let listed = run_json(
        cwd,
        &["admin", "merchant", "list", "--limit", "2", "--json"],
    );
    assert_eq!(listed["merchants"].as_array().unwrap().len(), 2, "{listed}");
    assert!(table.ends_with("7 shown, oldest first\n"), "{table}");
    let cut = run_ok(cwd, &["admin", "merchant", "list", "--limit", "2"]);
    assert!(
        cut.contains("Lotus Books") && !cut.contains("Metro Bakery"),
        "{cut}"
    );
    assert!(
        cut.ends_with("(the first 2; there may be more: --limit up to 500)\n"),
        "{cut}"
    );
    let mchid = harbour["mchid"].as_str().unwrap();
    let shown = run_ok(cwd, &["admin", "merchant", "show", mchid]);
    assert!(shown.starts_with("merchant Harbour Coffee\n"), "{shown}");
    assert!(
        shown.contains(&format!("mchid:         {mchid}")),
        "{shown}"
    );
    assert!(
        shown.contains(harbour["appid"].as_str().unwrap()),
        "{shown}"
    );
    // The seeded Cappuccino (¥28.00) is paid and waits for settlement.
    assert!(shown.contains("pending today: ¥28.00"), "{shown}");
    let shown = run_json(cwd, &["admin", "merchant", "show", mchid, "--json"]);
    assert_eq!(
        (shown["mchid"].as_str(), shown["fee_rate_bps"].as_u64()),
        (Some(mchid), Some(60))
    );
    let missing = run_err(cwd, &["admin", "merchant", "show", "1000000001"]);
    assert!(missing.contains("merchant_not_found"), "{missing}");
    let refused = run_err(cwd, &["admin", "merchant", "show", "../users"]);
    assert!(refused.contains("is not an id"), "{refused}");

    // Providers, and a provider with its sub-merchants.
    let sp_mchid = provider_file["sp_mchid"].as_str().unwrap();
    let table = run_ok(cwd, &["admin", "provider", "list"]);
    assert!(table.starts_with("SP_MCHID "), "{table}");
    assert!(row(&table, "Riverside Services").starts_with(sp_mchid));
    assert!(
        row(&table, "Riverside Services").contains(" 20.00% "),
        "{table}"
    );
    let listed = run_json(cwd, &["admin", "provider", "list", "--json"]);
    assert_eq!(listed["providers"][0]["mchid"], sp_mchid, "{listed}");
    let shown = run_ok(cwd, &["admin", "provider", "show", sp_mchid]);
    assert!(
        shown.starts_with("service provider Riverside Services\n"),
        "{shown}"
    );
    assert!(shown.contains("commission:"), "{shown}");
    let sub_row = row(&shown, "Riverside Noodles");
    assert!(
        sub_row.starts_with(provider_file["sub_mchid"].as_str().unwrap()),
        "{shown}"
    );
    let shown = run_json(cwd, &["admin", "provider", "show", sp_mchid, "--json"]);
    assert_eq!(
        shown["sub_merchants"][0]["name"], "Riverside Noodles",
        "{shown}"
    );
    let not_provider = run_err(cwd, &["admin", "provider", "show", mchid]);
    assert!(
        not_provider.contains("is not a service provider"),
        "{not_provider}"
    );

    // Users, with balances in yuan.
    let table = run_ok(cwd, &["admin", "user", "list"]);
    assert!(table.starts_with("USER_ID "), "{table}");
    assert!(row(&table, "Chen Jing").contains(" ¥200.00 "), "{table}");
    assert!(row(&table, "Lin Wei").contains(" ¥472.00 "), "{table}");
    let listed = run_json(cwd, &["admin", "user", "list", "--json"]);
    let users = listed["users"].as_array().unwrap();
    // Three payers, the collection code's owner, the mini program's developer, the
    // WeCom corp's two sales staff and the two Channels creators.
    assert_eq!(users.len(), 9, "{listed}");
    let chen = users
        .iter()
        .find(|user| user["name"] == "Chen Jing")
        .unwrap();
    let chen_id = chen["user_id"].as_str().unwrap();
    assert_eq!(chen["balance"], 20_000);
    let shown = run_ok(cwd, &["admin", "user", "show", chen_id]);
    assert!(shown.starts_with("user Chen Jing\n"), "{shown}");
    assert!(
        shown.contains("balance:") && shown.contains("¥200.00"),
        "{shown}"
    );
    let shown = run_json(cwd, &["admin", "user", "show", chen_id, "--json"]);
    assert_eq!(shown["user_id"], chen_id);

    // The demo's data directory holds the running server; nothing else is made.
    let token = run_ok(cwd, &["admin", "token"]);
    let kept = std::fs::read_to_string(cwd.join("plaza-demo/admin.token")).unwrap();
    assert_eq!(token.trim(), kept.trim());
    let verified = run_ok(cwd, &["admin", "verify-ledger"]);
    assert!(verified.starts_with("ledger sound"), "{verified}");
    assert!(!cwd.join("plaza-data").exists());
}

#[test]
fn user_create_takes_yuan_and_gives_sandbox_users_the_demo_password() {
    let cwd = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    let _demo = Demo::start(cwd, logs.path(), &["--listen", "127.0.0.1:0"]);
    let created = run_json(
        cwd,
        &user_create(&["--name", "Bo", "--balance", "100.00", "--json"]),
    );
    assert_eq!(created["balance"], 10_000, "{created}");
    assert_eq!(created["password"], "123456", "{created}");
    let text = run_ok(cwd, &user_create(&["--name", "Cy", "--balance", "0.5"]));
    assert!(text.contains("balance:  ¥0.50"), "{text}");
    assert!(text.contains("password: 123456"), "{text}");
    let created = run_json(
        cwd,
        &user_create(&[
            "--name",
            "Di",
            "--balance",
            "¥7",
            "--password",
            "654321",
            "--json",
        ]),
    );
    assert_eq!(
        (created["balance"].as_i64(), created["password"].as_str()),
        (Some(700), Some("654321"))
    );
    for (balance, reason) in [
        ("1.005", "at most two decimals"),
        ("-1", "cannot be negative"),
        ("92233720368547758.08", "too large"),
        ("1,000", "an amount in yuan"),
        ("1e3", "an amount in yuan"),
    ] {
        let output = plaza(cwd, &user_create(&["--balance", balance]))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{balance}");
        assert!(stderr.contains(reason), "{balance}: {stderr}");
    }
    let help = run_ok(cwd, &user_create(&["--help"]));
    assert!(
        help.contains("--balance <YUAN>") && help.contains("100.00"),
        "{help}"
    );
    let users = run_json(cwd, &["admin", "user", "list", "--json"]);
    assert_eq!(
        users["users"].as_array().unwrap().len(),
        12,
        "nothing refused was made"
    );
}

#[test]
fn outside_the_sandbox_a_user_gets_a_random_password_and_no_balance() {
    let server = TestServer::start(PLAZA);
    let cwd = tempfile::tempdir().unwrap();
    let data_dir = server.data_dir.to_str().unwrap();
    let passwords: Vec<String> = (0..2)
        .map(|_| {
            let created = run_json(
                cwd.path(),
                &user_create(&["--data-dir", data_dir, "--json"]),
            );
            let password = created["password"].as_str().unwrap().to_owned();
            assert!(password.len() == 6 && password.bytes().all(|b| b.is_ascii_digit()));
            password
        })
        .collect();
    assert_ne!(passwords, ["123456", "123456"]);
    let refused = run_err(
        cwd.path(),
        &user_create(&["--data-dir", data_dir, "--balance", "1"]),
    );
    assert!(refused.contains("sandbox_only"), "{refused}");
}

#[test]
fn with_nothing_running_the_admin_cli_says_where_it_looked_and_makes_nothing() {
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    let here = std::fs::canonicalize(cwd).unwrap();
    let said = run_err(cwd, &["admin", "merchant", "list"]);
    assert!(said.contains("no running Plaza found"), "{said}");
    for place in ["plaza-data", "plaza-demo"] {
        let named = format!("{} (", here.join(place).display());
        assert!(
            said.lines()
                .any(|line| line.contains(&named) && line.ends_with("no such directory")),
            "{place}: {said}"
        );
    }
    let said = run_err(cwd, &["admin", "verify-ledger"]);
    assert!(said.contains("no Plaza data found"), "{said}");
    assert!(
        said.contains("plaza-data") && said.contains("plaza-demo"),
        "{said}"
    );
    assert_eq!(
        std::fs::read_dir(cwd).unwrap().count(),
        0,
        "verify-ledger made nothing"
    );

    // A stopped data directory is named as such; one without a database is not
    // given one.
    std::fs::create_dir(cwd.join("plaza-data")).unwrap();
    let said = run_err(cwd, &["admin", "user", "list"]);
    assert!(
        said.lines()
            .any(|l| l.contains("plaza-data") && l.ends_with("no Plaza is running there")),
        "{said}"
    );
    let said = run_err(cwd, &["admin", "verify-ledger"]);
    assert!(said.contains("holds no Plaza database"), "{said}");
    assert_eq!(
        std::fs::read_dir(cwd.join("plaza-data")).unwrap().count(),
        0
    );

    // A directory named by PLAZA_DATA_DIR is the only place looked at.
    let elsewhere = here.join("elsewhere");
    let output = plaza(cwd, &["admin", "token"])
        .env("PLAZA_DATA_DIR", &elsewhere)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{said}");
    assert!(
        said.contains(&format!(
            "{} (environment variable PLAZA_DATA_DIR): no such directory",
            elsewhere.display()
        )),
        "{said}"
    );
    assert!(!said.contains("plaza-demo"), "{said}");
    let said = run_err(cwd, &["admin", "user", "list", "--data-dir", "nowhere"]);
    assert!(
        said.contains("(flag --data-dir): no such directory"),
        "{said}"
    );
    assert!(!elsewhere.exists() && !cwd.join("nowhere").exists());
}

#[test]
fn a_restarted_demo_points_its_sdk_files_at_where_it_listens_now() {
    let cwd = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    let first = Demo::start(
        cwd,
        logs.path(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--public-base-url",
            "http://first.example:1",
        ],
    );
    for slug in ["harbour-coffee", "lotus-books", "metro-bakery", "provider"] {
        assert_eq!(
            sdk_file(cwd, slug)["gateway"],
            "http://first.example:1",
            "{slug}"
        );
    }
    // The snippet opens the SDK file by its absolute path.
    let file = std::fs::canonicalize(cwd)
        .unwrap()
        .join("plaza-demo/demo/harbour-coffee.json");
    assert!(
        first.printed.contains(&format!(
            "json.load(open({:?}))",
            file.display().to_string()
        )),
        "{}",
        first.printed
    );
    let mchid = sdk_file(cwd, "harbour-coffee")["mchid"].clone();
    // They hold private keys: the owner's alone, and still so after the rewrite.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
    first.stop();

    // Stopped: verify-ledger finds the demo's data and checks it in place.
    let verified = run_ok(cwd, &["admin", "verify-ledger"]);
    assert!(verified.starts_with("ledger sound"), "{verified}");

    // Again, on a host name and a port picked for it.
    let second = Demo::start(cwd, logs.path(), &["--listen", "localhost:0"]);
    assert!(second.addr().ip().is_loopback(), "{}", second.base);
    assert_ne!(second.addr().port(), 0);
    assert!(
        second
            .printed
            .contains(&format!("running at {}", second.base))
    );
    for slug in ["harbour-coffee", "lotus-books", "metro-bakery", "provider"] {
        let config = sdk_file(cwd, slug);
        assert_eq!(config["gateway"], second.base.as_str(), "{slug}");
        assert!(config["private_key"].is_string(), "{slug} kept its keys");
    }
    assert_eq!(
        sdk_file(cwd, "harbour-coffee")["mchid"],
        mchid,
        "not seeded again"
    );
    assert!(
        second.printed.contains(&format!("# {}", second.base)),
        "{}",
        second.printed
    );
    let listed = run_json(cwd, &["admin", "merchant", "list", "--json"]);
    assert_eq!(listed["merchants"].as_array().unwrap().len(), 7);
}

#[test]
fn a_start_on_a_taken_port_fails_before_making_a_data_directory() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    for (args, data_dir) in [
        (vec!["demo", "--listen", addr.as_str()], "plaza-demo"),
        (vec!["serve", "--listen", addr.as_str()], "plaza-data"),
    ] {
        let mut child = plaza(cwd, &args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = wait_exit(&mut child);
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("cannot listen on {addr}")),
            "{stderr}"
        );
        assert!(
            !cwd.join(data_dir).exists(),
            "{args:?} left {data_dir} behind"
        );
    }
    drop(taken);
}

#[test]
fn demo_help_names_each_default_once() {
    let help = run_ok(Path::new("."), &["demo", "--help"]);
    assert_eq!(help.matches("[default: plaza-demo]").count(), 1, "{help}");
    assert_eq!(
        help.matches("[default: 127.0.0.1:8080]").count(),
        1,
        "{help}"
    );
    assert!(help.contains("localhost"), "{help}");
    let admin = run_ok(Path::new("."), &["admin", "merchant", "list", "--help"]);
    assert!(
        admin.contains("plaza-demo") && admin.contains("PLAZA_DATA_DIR"),
        "{admin}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn miniapp_create_prints_a_secret_that_works_and_list_and_show_find_the_app() {
    let server = TestServer::start(PLAZA);
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    let data_dir = server.data_dir.to_str().unwrap();
    let developer = user_id(cwd, data_dir, "Dev");
    let created = run_json(
        cwd,
        &miniapp(&[
            "create",
            "--data-dir",
            data_dir,
            "--developer",
            &developer,
            "--name",
            "核酸检测预约",
            "--category",
            "医疗",
            "--request-domain",
            "https://api.example.com",
            "--request-domain",
            "https://cdn.example.com",
            "--keyword",
            "核酸",
            "--json",
        ]),
    );
    let appid = created["appid"].as_str().unwrap();
    let secret = created["secret"].as_str().unwrap();
    assert!(appid.starts_with("wx") && appid.len() == 18, "{created}");
    assert_eq!(secret.len(), 32, "{created}");
    assert!(created["developer_id"].is_string(), "{created}");
    assert_eq!(created["gateway"], server.base_url.as_str(), "{created}");
    assert_eq!(
        created["request_domains"],
        serde_json::json!(["https://api.example.com", "https://cdn.example.com"])
    );
    assert_eq!(created["service_keywords"], serde_json::json!(["核酸"]));
    assert!(
        created.get("merchant").is_none() && created["mchid"].is_null(),
        "{created}"
    );
    let token = access_token(&server, appid, secret).await;
    assert!(token["access_token"].is_string(), "{token}");

    // Without --json: the appid and the secret, once, and that it is shown only now.
    let text = run_ok(
        cwd,
        &miniapp(&[
            "create",
            "--data-dir",
            data_dir,
            "--developer",
            &developer,
            "--name",
            "Second",
        ]),
    );
    assert!(text.starts_with("mini program Second\n"), "{text}");
    assert!(
        text.contains("  appid: ") && text.contains("  secret: "),
        "{text}"
    );
    assert!(text.contains("shown only now"), "{text}");

    // List and show: a table and labelled lines, the API's answer with --json, never
    // the secret.
    let table = run_ok(cwd, &miniapp(&["list", "--data-dir", data_dir]));
    assert!(table.starts_with("APPID "), "{table}");
    let app_row = row(&table, "核酸检测预约");
    assert!(app_row.starts_with(appid), "{app_row}");
    assert!(
        app_row.contains(created["developer_id"].as_str().unwrap()),
        "{app_row}"
    );
    assert!(table.ends_with("2 shown, oldest first\n"), "{table}");
    let listed = run_json(cwd, &miniapp(&["list", "--data-dir", data_dir, "--json"]));
    assert_eq!(listed["miniapps"].as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(listed["miniapps"][0]["appid"], appid, "oldest first");
    let shown = run_ok(cwd, &miniapp(&["show", appid, "--data-dir", data_dir]));
    assert!(shown.starts_with("mini program 核酸检测预约\n"), "{shown}");
    assert!(
        shown.contains("request domains: https://api.example.com, https://cdn.example.com"),
        "{shown}"
    );
    assert!(!shown.contains(secret), "{shown}");
    let shown = run_json(
        cwd,
        &miniapp(&["show", appid, "--data-dir", data_dir, "--json"]),
    );
    assert_eq!(shown["appid"], appid);
    assert!(shown.get("secret").is_none(), "{shown}");
    let missing = run_err(
        cwd,
        &miniapp(&["show", "wx0000000000000000", "--data-dir", data_dir]),
    );
    assert!(missing.contains("miniapp_not_found"), "{missing}");

    // A new secret: the old one is refused at once, the new one works.
    let reset = run_json(
        cwd,
        &miniapp(&["reset-secret", appid, "--data-dir", data_dir, "--json"]),
    );
    assert_eq!(reset["appid"], appid);
    let new_secret = reset["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert_ne!(errcode(&access_token(&server, appid, secret).await), 0);
    let token = access_token(&server, appid, new_secret).await;
    assert!(token["access_token"].is_string(), "{token}");
    let text = run_ok(
        cwd,
        &miniapp(&["reset-secret", appid, "--data-dir", data_dir]),
    );
    assert!(
        text.starts_with(&format!("new secret of {appid}: ")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn miniapp_create_with_merchant_prints_everything_a_back_end_needs() {
    let server = TestServer::start(PLAZA);
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    let data_dir = server.data_dir.to_str().unwrap();
    let developer = user_id(cwd, data_dir, "Dev");
    let created = run_json(
        cwd,
        &miniapp(&[
            "create",
            "--data-dir",
            data_dir,
            "--developer",
            &developer,
            "--name",
            "检测机构",
            "--with-merchant",
            "--json",
        ]),
    );
    let appid = created["appid"].as_str().unwrap();
    let secret = created["secret"].as_str().unwrap();
    assert!(created["developer_id"].is_string(), "{created}");
    let merchant = &created["merchant"];
    let mchid = merchant["mchid"].as_str().unwrap();
    assert_eq!(created["mchid"], mchid, "{created}");
    assert_eq!(merchant["appid"], appid, "{created}");
    assert_eq!(merchant["name"], "检测机构", "{created}");
    assert!(
        merchant["private_key"]
            .as_str()
            .is_some_and(|pem| pem.contains("PRIVATE KEY")),
        "{created}"
    );
    assert_eq!(merchant["apiv3_key"].as_str().map(str::len), Some(32));
    for field in ["cert_serial_no", "public_key_id", "public_key"] {
        assert!(merchant[field].is_string(), "{field}: {created}");
    }
    assert_eq!(created["gateway"], server.base_url.as_str(), "{created}");
    assert_eq!(merchant["gateway"], created["gateway"]);

    // Bound both ways: Pay knows the appid as the merchant's, the app its merchant.
    let in_pay = server
        .admin_get(&format!("/api/v1/admin/merchants/{mchid}"))
        .await
        .json();
    assert!(
        in_pay["appids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|bound| bound == appid),
        "{in_pay}"
    );
    let shown = run_json(
        cwd,
        &miniapp(&["show", appid, "--data-dir", data_dir, "--json"]),
    );
    assert_eq!(shown["mchid"], mchid, "{shown}");
    let table = run_ok(cwd, &miniapp(&["list", "--data-dir", data_dir]));
    assert!(row(&table, "检测机构").contains(mchid), "{table}");
    let token = access_token(&server, appid, secret).await;
    assert!(token["access_token"].is_string(), "{token}");

    let text = run_ok(
        cwd,
        &miniapp(&[
            "create",
            "--data-dir",
            data_dir,
            "--developer",
            &developer,
            "--name",
            "Clinic",
            "--with-merchant",
        ]),
    );
    assert!(
        text.contains("  mchid: ") && text.contains("  apiv3_key: "),
        "{text}"
    );
    assert!(
        text.contains("private key is printed only with --json"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn miniapp_create_for_an_unknown_developer_says_so_and_makes_nothing() {
    let server = TestServer::start(PLAZA);
    let cwd = tempfile::tempdir().unwrap();
    let cwd = cwd.path();
    let data_dir = server.data_dir.to_str().unwrap();
    for extra in [&[][..], &["--with-merchant"][..]] {
        let mut args = miniapp(&[
            "create",
            "--data-dir",
            data_dir,
            "--developer",
            "nobody",
            "--name",
            "Orphan",
            "--json",
        ]);
        args.extend(extra);
        let said = run_err(cwd, &args);
        assert!(
            said.contains("cannot create the mini program")
                && said.contains("no user \"nobody\"")
                && said.contains("user_not_found"),
            "{said}"
        );
    }
    let listed = run_json(cwd, &miniapp(&["list", "--data-dir", data_dir, "--json"]));
    assert_eq!(listed["miniapps"], serde_json::json!([]), "{listed}");
    let merchants = server.admin_get("/api/v1/admin/merchants").await.json();
    assert_eq!(merchants["merchants"], serde_json::json!([]), "{merchants}");
    let table = run_ok(cwd, &miniapp(&["list", "--data-dir", data_dir]));
    assert!(table.starts_with("no mini programs yet"), "{table}");
}
