//! Drop-in mode end to end: `plaza ca`, then `plaza serve --sandbox --tls-listen`, and a
//! client that trusts only Plaza's CA and resolves WeChat's host names to Plaza, as a
//! hosts-file line would (the machine's own hosts file is not touched). A real signed
//! APIv3 call goes to `https://api.mch.weixin.qq.com` with nothing else changed.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use plaza_testkit::pay::{Merchant, Payer, gunzip};
use plaza_testkit::{Reply, ServerOptions, TestServer, http_client_builder, send};

use crate::PLAZA;
const PAY_HOST: &str = "api.mch.weixin.qq.com";
const API_HOST: &str = "api.weixin.qq.com";
const HOSTS_LINE: &str = "127.0.0.1 api.mch.weixin.qq.com api.weixin.qq.com qyapi.weixin.qq.com";

fn plaza_ca(args: &[&str]) -> Output {
    Command::new(PLAZA)
        .arg("ca")
        .args(args)
        .env_remove("PLAZA_CONFIG")
        .env_remove("PLAZA_DATA_DIR")
        .env_remove("PLAZA_TLS_CERT_DIR")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A client that resolves WeChat's hosts and `localhost` to Plaza's TLS port and trusts
/// `ca_pem` only (or nothing).
fn client_of(server: &TestServer, ca_pem: Option<&[u8]>) -> reqwest::Client {
    let addr = SocketAddr::from(([127, 0, 0, 1], server.tls_port()));
    let mut builder = http_client_builder()
        .tls_built_in_root_certs(false)
        .resolve(PAY_HOST, addr)
        .resolve(API_HOST, addr)
        .resolve("localhost", addr);
    if let Some(ca_pem) = ca_pem {
        builder = builder.add_root_certificate(reqwest::Certificate::from_pem(ca_pem).unwrap());
    }
    builder.build().unwrap()
}

async fn get(client: &reqwest::Client, url: &str) -> Reply {
    send(client.get(url)).await.unwrap()
}

/// Places a Native order of `total` fen with a signed request through `client` to
/// `wechat_pay` (WeChat Pay's host), as an SDK would; answers its code_url.
async fn native_at(
    client: &reqwest::Client,
    wechat_pay: &str,
    merchant: &Merchant,
    (no, total): (&str, i64),
) -> String {
    let order = merchant.native_order(no, total, "https://merchant.example/notify");
    let prepay = merchant
        .v3_at(
            client,
            wechat_pay,
            "POST",
            "/v3/pay/transactions/native",
            Some(&order),
        )
        .await;
    assert_eq!(prepay.status, 200, "{}", prepay.text);
    assert!(merchant.verifies(&prepay), "the prepay answer is signed");
    prepay.json()["code_url"].as_str().unwrap().to_owned()
}

/// Queries order `no` with a signed request through `client` to `wechat_pay`.
async fn query_at(
    client: &reqwest::Client,
    wechat_pay: &str,
    merchant: &Merchant,
    no: &str,
) -> Reply {
    let target = format!(
        "/v3/pay/transactions/out-trade-no/{no}?mchid={}",
        merchant.mchid
    );
    merchant
        .v3_at(client, wechat_pay, "GET", &target, None)
        .await
}

/// Every message in an error's chain.
fn chain(error: &dyn std::error::Error) -> String {
    let mut messages = vec![error.to_string()];
    let mut source = error.source();
    while let Some(error) = source {
        messages.push(error.to_string());
        source = error.source();
    }
    messages.join(": ")
}

#[tokio::test(flavor = "multi_thread")]
async fn code_that_calls_wechat_pay_by_its_host_name_talks_to_plaza() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path();
    let ca_dir = data.join("ca");

    let made = plaza_ca(&["--data-dir", data.to_str().unwrap()]);
    let stdout = text(&made.stdout);
    assert!(made.status.success(), "{stdout}{}", text(&made.stderr));
    assert!(stdout.contains("made a new CA"), "{stdout}");
    assert!(stdout.contains(HOSTS_LINE), "{stdout}");
    assert!(stdout.contains("update-ca-certificates"), "{stdout}");
    assert!(
        stdout.contains("plaza serve --sandbox --tls-listen 127.0.0.1:443"),
        "{stdout}"
    );
    assert_eq!(mode(&ca_dir.join("ca.key")), 0o600);
    assert_eq!(mode(&ca_dir.join("server.key")), 0o600);
    let ca_pem = std::fs::read(ca_dir.join("ca.pem")).unwrap();
    let server_pem = std::fs::read(ca_dir.join("server.pem")).unwrap();

    // Again: the CA stays (trust survives), the server certificate is new.
    let again = plaza_ca(&["--data-dir", data.to_str().unwrap()]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert!(text(&again.stdout).contains("kept the CA"));
    assert_eq!(std::fs::read(ca_dir.join("ca.pem")).unwrap(), ca_pem);
    assert_ne!(
        std::fs::read(ca_dir.join("server.pem")).unwrap(),
        server_pem
    );

    let server = ServerOptions::new(PLAZA)
        .data_dir(data)
        .sandbox()
        .tls()
        .start();
    let port = server.tls_port();
    assert_eq!(
        std::fs::read_to_string(data.join("plaza-tls.addr")).unwrap(),
        format!("127.0.0.1:{port}")
    );
    // Plain HTTP keeps working beside HTTPS.
    assert_eq!(server.get("/healthz").await.status, 200);

    let client = client_of(&server, Some(&ca_pem));
    let wechat_pay = format!("https://{PAY_HOST}:{port}");
    let merchant = Merchant::create(&server, "Drop-in Cafe").await;
    let payer = Payer::create(&server, "Dora", 10_000).await;

    let code_url = native_at(&client, &wechat_pay, &merchant, ("DROPIN-0001", 1_800)).await;
    assert!(
        code_url.starts_with("weixin://wxpay/bizpayurl?pr="),
        "{code_url}"
    );

    let query = query_at(&client, &wechat_pay, &merchant, "DROPIN-0001").await;
    assert_eq!(query.status, 200, "{}", query.text);
    assert!(merchant.verifies(&query), "the query answer is signed");
    assert_eq!(query.json()["trade_state"], "NOTPAY");

    payer.pay(&server, &code_url).await;
    let query = query_at(&client, &wechat_pay, &merchant, "DROPIN-0001").await;
    assert!(merchant.verifies(&query));
    assert_eq!(query.json()["trade_state"], "SUCCESS", "{}", query.text);
    assert_eq!(query.json()["amount"]["total"], 1_800);

    // WeChat Pay's host serves WeChat Pay only: Plaza's own API is not there.
    let admin = send(
        client
            .get(format!(
                "{wechat_pay}/api/v1/admin/merchants/{}",
                merchant.mchid
            ))
            .bearer_auth(&server.admin_token),
    )
    .await
    .unwrap();
    assert_eq!(admin.status, 404, "{}", admin.text);
    assert_eq!(admin.json()["code"], "NOT_FOUND", "{}", admin.text);
    assert_eq!(
        get(&client, &format!("{wechat_pay}/healthz")).await.status,
        404
    );

    // api.weixin.qq.com answers in its own style and has no Pay paths.
    let api = format!("https://{API_HOST}:{port}");
    let pay_path = get(&client, &format!("{api}/v3/certificates")).await;
    assert_eq!(pay_path.status, 404);
    assert_eq!(pay_path.json()["errcode"], 40066, "{}", pay_path.text);
    // A path of its own that Plaza does not serve: 404, still in its style.
    let own_path = get(&client, &format!("{api}/cgi-bin/no-such-api")).await;
    assert_eq!(own_path.status, 404);
    assert_eq!(own_path.json()["errcode"], 40066, "{}", own_path.text);
    // Mini Programs' server API is served there: a refusal in WeChat's envelope.
    let token = get(
        &client,
        &format!("{api}/cgi-bin/token?grant_type=client_credential"),
    )
    .await;
    assert_eq!(token.status, 200);
    assert_eq!(token.json()["errcode"], 41002, "{}", token.text);

    // Any other name gets the whole application, over the same certificate.
    for base in [
        format!("https://localhost:{port}"),
        format!("https://127.0.0.1:{port}"),
    ] {
        let health = get(&client, &format!("{base}/healthz")).await;
        assert_eq!(health.status, 200, "{base}: {}", health.text);
    }

    // Without the CA the handshake fails: nothing else makes Plaza trusted.
    let untrusting = client_of(&server, None);
    let error = untrusting
        .get(format!("{wechat_pay}/v3/certificates"))
        .send()
        .await
        .unwrap_err();
    let reason = chain(&error);
    assert!(error.is_connect(), "{reason}");
    assert!(reason.contains("UnknownIssuer"), "{reason}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bill_asked_for_at_wechats_host_is_downloaded_from_it() {
    let server = ServerOptions::new(PLAZA).drop_in().start();
    // Pinned, so the test's day arithmetic is the same at any hour.
    let _pinned = server.pin_clock("10:00").await;
    let port = server.tls_port();
    let client = client_of(&server, Some(&server.ca_pem()));
    let wechat_pay = format!("https://{PAY_HOST}:{port}");
    let merchant = Merchant::create(&server, "Drop-in Bakery").await;
    let payer = Payer::create(&server, "Bea", 10_000).await;

    let code_url = native_at(&client, &wechat_pay, &merchant, ("DROPIN-BILL-1", 2_600)).await;
    payer.pay(&server, &code_url).await;
    let paid = query_at(&client, &wechat_pay, &merchant, "DROPIN-BILL-1").await;
    let day = paid.json()["success_time"].as_str().unwrap()[..10].to_owned();
    // A day on, the payment's day is over and has a bill.
    server.advance_clock(86_400_000).await;

    // Asked for at WeChat Pay's host over HTTPS, the bill downloads from there: an SDK
    // with that host built in strips exactly this prefix, signs the rest and fetches it
    // over HTTPS from the same name.
    let target = format!("/v3/bill/tradebill?bill_date={day}&bill_type=ALL&tar_type=GZIP");
    let bill = merchant
        .v3_at(&client, &wechat_pay, "GET", &target, None)
        .await;
    assert_eq!(bill.status, 200, "{}", bill.text);
    assert!(merchant.verifies(&bill));
    let url = bill.json()["download_url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("{wechat_pay}/v3/billdownload/file?token=")),
        "{url}"
    );
    let file = gunzip(&merchant.download_bill(&client, &wechat_pay, &url).await);
    assert_eq!(
        plaza_wx::digest::sha1_hex(file.as_bytes()),
        bill.json()["hash_value"].as_str().unwrap(),
        "the file hashes to the answer's hash_value"
    );
    assert!(
        file.contains("`DROPIN-BILL-1") && file.contains("`26.00"),
        "{file}"
    );

    // Any other name keeps Plaza's public base URL, over either listener.
    let plain_client = plaza_testkit::http_client();
    let local = format!("https://localhost:{port}");
    for (client, base) in [(&client, &local), (&plain_client, &server.base_url)] {
        let bill = merchant.v3_at(client, base, "GET", &target, None).await;
        assert_eq!(bill.status, 200, "{base}: {}", bill.text);
        let url = bill.json()["download_url"].as_str().unwrap().to_owned();
        assert!(
            url.starts_with(&format!("{}/v3/billdownload/file?token=", server.base_url)),
            "{base}: {url}"
        );
    }

    // The scheme is the listener's: plain HTTP naming WeChat Pay's host gets an http://
    // URL, whatever a header claims about the original scheme.
    let plain_port = server.base_url.rsplit_once(':').unwrap().1.to_owned();
    let authorization = merchant.authorization("GET", &target, "", plaza_testkit::pay::now_s());
    let plain = send(
        plain_client
            .get(format!("{}{target}", server.base_url))
            .header("host", format!("{PAY_HOST}:{plain_port}"))
            .header("x-forwarded-proto", "https")
            .header("authorization", authorization),
    )
    .await
    .unwrap();
    assert_eq!(plain.status, 200, "{}", plain.text);
    let url = plain.json()["download_url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!(
            "http://{PAY_HOST}:{plain_port}/v3/billdownload/file?token="
        )),
        "{url}"
    );
}

#[tokio::test]
async fn drop_in_mode_is_refused_outside_the_sandbox_and_without_certificates() {
    let temp = tempfile::tempdir().unwrap();
    let (status, stderr) = ServerOptions::new(PLAZA)
        .tls()
        .run_expecting_failure(temp.path());
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("flag --tls-listen"), "{stderr}");
    assert!(stderr.contains("needs sandbox mode"), "{stderr}");

    let (status, stderr) = ServerOptions::new(PLAZA)
        .sandbox()
        .tls()
        .run_expecting_failure(temp.path());
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("ca.pem, which does not exist"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "run `plaza ca --data-dir {}` first",
            temp.path().display()
        )),
        "{stderr}"
    );
}

#[test]
fn plaza_ca_names_the_directory_it_cannot_write() {
    let temp = tempfile::tempdir().unwrap();
    // Under a regular file: no user, root included, can make a directory there.
    let file = temp.path().join("afile");
    std::fs::write(&file, "a file").unwrap();
    let out = file.join("ca");
    let refused = plaza_ca(&["--out", out.to_str().unwrap()]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot create the directory {}", out.display())),
        "{stderr}"
    );

    // A read-only directory: only for users the permission bits bind (not root).
    let read_only = temp.path().join("read-only");
    std::fs::create_dir(&read_only).unwrap();
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = read_only.join("probe");
    if std::fs::write(&probe, "").is_ok() {
        std::fs::remove_file(&probe).unwrap();
        plaza_testkit::say_skipped("read-only part: permission bits do not bind this user (root)");
        return;
    }
    let refused = plaza_ca(&["--out", read_only.to_str().unwrap()]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "cannot write {}",
            read_only.join("ca.key").display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("Permission denied"), "{stderr}");
}
