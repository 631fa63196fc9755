//! What a probe of hostile inputs found, each proven closed against the real binary over
//! HTTP: amounts beyond WeChat's 32-bit `total` on every prepay path, money arithmetic
//! at the largest amounts, balances that would overflow, notify URLs that point inside
//! Plaza's network (at prepay and at delivery), secrets on disk readable by others or in
//! a copied database, and APIv2 answers that were not XML.

use std::time::Duration;

use plaza_testkit::pay::{Merchant, NotifySink, Payer, SinkMode, post_v2, v2_request};
use plaza_testkit::{Reply, ServerOptions, TestServer};
use plaza_wx::v2::{Params, SignType, parse_xml, verify};
use serde_json::{Value, json};

use crate::PLAZA;
/// 2^31 − 1 fen: the largest amount of one order.
const TOTAL_MAX: i64 = 2_147_483_647;

/// A refusal of the amount: `400 PARAM_ERROR` naming `field`.
fn assert_param_error(reply: &Reply, field: &str) {
    reply.assert_error(400, "PARAM_ERROR");
    assert_eq!(reply.json()["detail"]["field"], field, "{}", reply.text);
}

fn codepay(merchant: &Merchant, no: &str, total: i64, auth_code: &str) -> Value {
    json!({
        "appid": merchant.appid,
        "mchid": merchant.mchid,
        "description": "A counter sale",
        "out_trade_no": no,
        "payer": {"auth_code": auth_code},
        "amount": {"total": total, "currency": "CNY"},
        "scene_info": {"device_id": "POS-1"},
    })
}

async fn micropay(
    server: &TestServer,
    merchant: &Merchant,
    no: &str,
    total_fee: i64,
    code: &str,
) -> Params {
    let key = merchant.credentials["apiv2_key"].as_str().unwrap();
    let body = v2_request(
        &[
            ("appid", &merchant.appid),
            ("mch_id", &merchant.mchid),
            ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
            ("out_trade_no", no),
            ("body", "A counter sale"),
            ("total_fee", &total_fee.to_string()),
            ("spbill_create_ip", "10.0.0.9"),
            ("auth_code", code),
        ],
        key,
        SignType::Md5,
    );
    let answer = post_v2(server, "/pay/micropay", &body).await;
    assert!(verify(&answer, key, SignType::Md5), "{answer:?}");
    answer
}

#[tokio::test(flavor = "multi_thread")]
async fn totals_above_two_to_the_31_minus_1_fen_are_refused_on_every_prepay_path() {
    let server = TestServer::sandbox(PLAZA);
    let merchant = Merchant::create(&server, "Big Ticket").await;
    let url = "https://merchant.example/notify";

    // Direct: 2^31 − 1 is an order; 2^31 and i64::MAX (the probe's) are refused.
    merchant
        .create_native(&server, "MAX-0001", TOTAL_MAX, url)
        .await;
    for (no, total) in [("MAX-0002", TOTAL_MAX + 1), ("MAX-0003", i64::MAX)] {
        let refused = merchant
            .post(
                &server,
                "/v3/pay/transactions/native",
                &merchant.native_order(no, total, url),
            )
            .await;
        assert_param_error(&refused, "/amount/total");
        assert!(merchant.verifies(&refused), "refusals are signed too");
    }

    // Partner: the same bound for a provider's sub-merchant.
    let provider = Merchant::create_provider(
        &server,
        &json!({ "name": "Big Services", "commission_bps": 0 }),
    )
    .await;
    let sub = server
        .admin_post(
            &format!("/api/v1/admin/providers/{}/sub-merchants", provider.mchid),
            &json!({ "name": "Big Shop" }),
        )
        .await;
    assert_eq!(sub.status, 201, "{}", sub.text);
    let sub_mchid = sub.json()["sub_mchid"].as_str().unwrap().to_owned();
    let partner = |no: &str, total: i64| {
        json!({
            "sp_appid": provider.appid, "sp_mchid": provider.mchid, "sub_mchid": sub_mchid,
            "description": "A very large order", "out_trade_no": no, "notify_url": url,
            "amount": {"total": total, "currency": "CNY"},
        })
    };
    let path = "/v3/pay/partner/transactions/native";
    provider
        .post_ok(&server, path, &partner("PMAX-0001", TOTAL_MAX))
        .await;
    let refused = provider
        .post(&server, path, &partner("PMAX-0002", TOTAL_MAX + 1))
        .await;
    assert_param_error(&refused, "/amount/total");

    // Codepay: refused before the code is looked at; the largest total pays at once for
    // a payer whose password-free limit allows it, taking exactly the total.
    let payer = Payer::create(&server, "Whale", TOTAL_MAX).await;
    payer.set_password_free_limit(&server, TOTAL_MAX).await;
    let over_limit = server
        .admin_post(
            &format!("/api/v1/admin/users/{}/password-free-limit", payer.user_id),
            &json!({ "password_free_limit": TOTAL_MAX + 1 }),
        )
        .await;
    assert_eq!(
        over_limit.json()["code"],
        "invalid_field",
        "{}",
        over_limit.text
    );
    let code = payer.payment_code(&server).await;
    let codepay_path = "/v3/pay/transactions/codepay";
    let refused = merchant
        .post(
            &server,
            codepay_path,
            &codepay(&merchant, "CMAX-0001", TOTAL_MAX + 1, &code),
        )
        .await;
    assert_param_error(&refused, "/amount/total");
    let paid = merchant
        .post_ok(
            &server,
            codepay_path,
            &codepay(&merchant, "CMAX-0002", TOTAL_MAX, &code),
        )
        .await;
    assert_eq!(paid["trade_state"], "SUCCESS", "{}", paid);
    assert_eq!(paid["amount"]["payer_total"], TOTAL_MAX);
    assert_eq!(
        payer.balance(&server).await,
        0,
        "exactly the total was taken"
    );

    // APIv2 micropay: the same bound, answered in its XML.
    let topped = server
        .admin_post(
            &format!("/api/v1/sandbox/users/{}/top-up", payer.user_id),
            &json!({ "amount": 10_000, "request_id": "after-the-whale" }),
        )
        .await;
    assert_eq!(topped.status, 200, "{}", topped.text);
    let code = payer.payment_code(&server).await;
    let refused = micropay(&server, &merchant, "VMAX-0001", TOTAL_MAX + 1, &code).await;
    assert_eq!(refused["return_code"], "SUCCESS", "{refused:?}");
    assert_eq!(refused["result_code"], "FAIL", "{refused:?}");
    assert_eq!(refused["err_code"], "PARAM_ERROR", "{refused:?}");
    assert!(refused["err_code_des"].contains("total_fee"), "{refused:?}");
    let waiting = micropay(&server, &merchant, "VMAX-0002", TOTAL_MAX, &code).await;
    assert_eq!(
        waiting["err_code"], "NOTENOUGH",
        "the largest total is an order (the wallet is short): {waiting:?}"
    );

    // Refunds and sandbox top-ups carry the same bound.
    let refund = merchant
        .post(
            &server,
            "/v3/refund/domestic/refunds",
            &json!({
                "out_trade_no": "CMAX-0002", "out_refund_no": "RMAX-0001",
                "amount": {"refund": TOTAL_MAX + 1, "total": TOTAL_MAX, "currency": "CNY"},
            }),
        )
        .await;
    assert_param_error(&refund, "/amount/refund");
    let top_up = server
        .admin_post(
            &format!("/api/v1/sandbox/users/{}/top-up", payer.user_id),
            &json!({ "amount": TOTAL_MAX + 1, "request_id": "too-much" }),
        )
        .await;
    top_up.assert_error(400, "invalid_field");
    server.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_of_the_largest_total_is_paid_and_refunded_in_parts_to_the_fen() {
    let server = TestServer::sandbox(PLAZA);
    let merchant = Merchant::create(&server, "Jeweller").await;
    let payer = Payer::create(&server, "Collector", TOTAL_MAX).await;
    let code_url = merchant
        .create_native(&server, "BIG-0001", TOTAL_MAX, "https://merchant.example/n")
        .await;
    payer.pay(&server, &code_url).await;
    assert_eq!(payer.balance(&server).await, 0);

    // Three refunds; the last one (where the proportional fee used to overflow) too.
    let parts = [1_000_000_000, 1_000_000_000, TOTAL_MAX - 2_000_000_000];
    for (index, part) in parts.iter().enumerate() {
        let refund = merchant
            .post(
                &server,
                "/v3/refund/domestic/refunds",
                &json!({
                    "out_trade_no": "BIG-0001", "out_refund_no": format!("BIG-R{index}"),
                    "amount": {"refund": part, "total": TOTAL_MAX, "currency": "CNY"},
                }),
            )
            .await;
        assert_eq!(refund.status, 200, "part {index}: {}", refund.text);
        assert_eq!(refund.json()["status"], "SUCCESS", "{}", refund.text);
    }
    assert_eq!(
        payer.balance(&server).await,
        TOTAL_MAX,
        "every fen came back"
    );
    let merchant_view = server
        .admin_get(&format!("/api/v1/admin/merchants/{}", merchant.mchid))
        .await
        .json();
    assert_eq!(merchant_view["available_balance"], 0, "{merchant_view}");
    server.assert_ledger_sound().await;
}

/// Opens an external account and moves `amount` from it into `to`.
async fn push(server: &TestServer, id: &str, to: &str, amount: i64) {
    let opened = server
        .admin_post(
            "/api/v1/admin/ledger/accounts",
            &json!({ "id": "probe:outside", "kind": "external", "currency": "CNY" }),
        )
        .await;
    assert!(matches!(opened.status, 200 | 201), "{}", opened.text);
    let moved = server
        .admin_post(
            "/api/v1/admin/ledger/transfers",
            &json!({ "transfers": [{ "id": id, "from": "probe:outside", "to": to, "amount_minor": amount }] }),
        )
        .await;
    assert_eq!(moved.status, 201, "{}", moved.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_balance_that_would_overflow_is_a_clear_refusal_not_a_store_failure() {
    let server = TestServer::sandbox(PLAZA);
    let merchant = Merchant::create(&server, "Corner Shop").await;
    let payer = Payer::create(&server, "Rich", 1_000).await;
    let code_url = merchant
        .create_native(&server, "OVF-0001", 100, "https://merchant.example/n")
        .await;
    payer.pay(&server, &code_url).await;
    let wallet = format!("user:{}:wallet", payer.user_id);
    // 900 are there; this brings the wallet 50 fen short of i64::MAX.
    push(&server, "probe-fill", &wallet, i64::MAX - 950).await;
    assert_eq!(payer.balance(&server).await, i64::MAX - 50);

    // A top-up through the payment service: the ledger's overflow, named.
    let top_up = server
        .admin_post(
            &format!("/api/v1/sandbox/users/{}/top-up", payer.user_id),
            &json!({ "amount": 100, "request_id": "one-more" }),
        )
        .await;
    top_up.assert_error(422, "balance_overflow");
    assert!(top_up.json()["message"].as_str().unwrap().contains(&wallet));
    // A refund into it over the APIv3 wire: a refusal, not SYSTEM_ERROR.
    let refund = merchant
        .post(
            &server,
            "/v3/refund/domestic/refunds",
            &json!({
                "out_trade_no": "OVF-0001", "out_refund_no": "OVF-R1",
                "amount": {"refund": 100, "total": 100, "currency": "CNY"},
            }),
        )
        .await;
    refund.assert_error(400, "INVALID_REQUEST");
    assert!(merchant.verifies(&refund));
    // Nothing moved, and the ledger is sound.
    assert_eq!(payer.balance(&server).await, i64::MAX - 50);
    server.assert_ledger_sound().await;
}

/// Polls the merchant's notifications until the one for `out_trade_no` has an attempt.
async fn first_attempt(server: &TestServer, mchid: &str, out_trade_no: &str) -> Value {
    for _ in 0..200 {
        let listed = server
            .admin_get(&format!("/api/v1/admin/merchants/{mchid}/notifications"))
            .await
            .json();
        let found = listed["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .find(|notification| notification["resource"]["out_trade_no"] == out_trade_no)
            .cloned();
        if let Some(notification) = found
            && notification["attempts"][0].is_object()
        {
            return notification;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no attempt for {out_trade_no} within 20 s");
}

async fn production_payer(server: &TestServer, name: &str, balance: i64) -> Payer {
    let created = server
        .admin_post(
            "/api/v1/admin/users",
            &json!({ "name": name, "password": "123456" }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let user = created.json();
    let payer = Payer {
        user_id: user["user_id"].as_str().unwrap().to_owned(),
        password: "123456".to_owned(),
        token: user["token"].as_str().unwrap().to_owned(),
    };
    push(
        server,
        &format!("fund-{name}"),
        &format!("user:{}:wallet", payer.user_id),
        balance,
    )
    .await;
    payer
}

#[tokio::test(flavor = "multi_thread")]
async fn notify_urls_inside_plazas_network_are_refused_in_production_at_prepay_and_at_delivery() {
    let data = tempfile::tempdir().unwrap();
    let sink = NotifySink::start(SinkMode::Accept).await;
    let by_name = sink.url.replace("127.0.0.1", "localhost");

    // Production, with `localhost` allowed by name.
    let mut server = ServerOptions::new(PLAZA)
        .data_dir(data.path())
        .arg("--notify-allowed-internal-hosts")
        .arg("localhost")
        .start();
    let merchant = Merchant::create(&server, "Careful Shop").await;
    let payer = production_payer(&server, "Prudence", 10_000).await;
    for url in [
        sink.url.as_str(),
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/n",
        "http://2130706433/n",
        "http://10.0.0.5/n",
        "http://172.16.3.4/n",
        "http://192.168.1.1/n",
        "http://100.64.0.1/n",
        "http://0.0.0.0:8080/n",
        "http://[fd00::1]/n",
        &format!("{}/api/v1/admin/merchants", server.base_url),
    ] {
        let refused = merchant
            .post(
                &server,
                "/v3/pay/transactions/native",
                &merchant.native_order("SSRF-0001", 100, url),
            )
            .await;
        assert_param_error(&refused, "/notify_url");
    }
    let refund = merchant
        .post(
            &server,
            "/v3/refund/domestic/refunds",
            &json!({
                "out_trade_no": "SSRF-0001", "out_refund_no": "SSRF-R1",
                "notify_url": "http://10.1.1.1/refunds",
                "amount": {"refund": 1, "total": 100, "currency": "CNY"},
            }),
        )
        .await;
    assert_param_error(&refund, "/notify_url");
    let callback = merchant
        .post(
            &server,
            "/v3/marketing/favor/callbacks",
            &json!({ "mchid": merchant.mchid, "notify_url": "http://127.0.0.1:9/coupons" }),
        )
        .await;
    assert_param_error(&callback, "/notify_url");

    // The allowed name is taken and delivered to.
    let mut codes = Vec::new();
    for no in ["SSRF-0002", "SSRF-0003"] {
        codes.push(merchant.create_native(&server, no, 100, &by_name).await);
    }
    payer.pay(&server, &codes[0]).await;
    sink.wait_for(1).await;
    let delivered = first_attempt(&server, &merchant.mchid, "SSRF-0002").await;
    assert_eq!(delivered["attempts"][0]["status"], 200, "{delivered}");

    // The same data without the allow-list: the name is refused at prepay, and the
    // order taken before is refused at delivery once `localhost` resolves to loopback.
    server.terminate();
    let server = ServerOptions::new(PLAZA).data_dir(data.path()).start();
    let refused = merchant
        .post(
            &server,
            "/v3/pay/transactions/native",
            &merchant.native_order("SSRF-0004", 100, &by_name),
        )
        .await;
    assert_param_error(&refused, "/notify_url");
    payer.pay(&server, &codes[1]).await;
    let notification = first_attempt(&server, &merchant.mchid, "SSRF-0003").await;
    let attempt = &notification["attempts"][0];
    assert_eq!(attempt["sent"], false, "{notification}");
    assert!(attempt["status"].is_null(), "{notification}");
    let error = attempt["error"].as_str().unwrap();
    assert!(
        error.contains("localhost (resolved to") && error.contains("loopback"),
        "refused after resolution: {error}"
    );
    assert_eq!(notification["state"], "pending", "{notification}");
    assert_eq!(sink.received().len(), 1, "nothing more reached the sink");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_still_notifies_a_developers_own_machine() {
    let server = TestServer::sandbox(PLAZA);
    let sink = NotifySink::start(SinkMode::Accept).await;
    let merchant = Merchant::create(&server, "Dev Shop").await;
    let payer = Payer::create(&server, "Dev", 1_000).await;
    for (no, url) in [
        ("DEV-0001", sink.url.clone()),
        ("DEV-0002", sink.url.replace("127.0.0.1", "localhost")),
    ] {
        let code_url = merchant.create_native(&server, no, 100, &url).await;
        payer.pay(&server, &code_url).await;
    }
    sink.wait_for(2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_apiv2_answer_is_xml_even_a_body_too_large_or_a_wrong_method() {
    let server = ServerOptions::new(PLAZA)
        .sandbox()
        .arg("--request-body-bytes-max")
        .arg("1024")
        .start();
    let too_large = format!(
        "<xml><mch_id>1</mch_id><body>{}</body></xml>",
        "x".repeat(4_096)
    );
    let reply = server.post_raw("/pay/micropay", &too_large, None).await;
    assert_eq!(reply.status, 413, "{}", reply.text);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|value| value.starts_with("text/xml")),
        "{:?}",
        reply.header("content-type")
    );
    let answer = parse_xml(reply.text.as_bytes()).unwrap();
    assert_eq!(answer["return_code"], "FAIL", "{answer:?}");
    assert!(answer["return_msg"].contains("1024 bytes"), "{answer:?}");
    assert!(reply.header("x-request-id").is_some(), "headers are kept");

    let wrong_method = server.get("/secapi/pay/reverse").await;
    assert_eq!(wrong_method.status, 405, "{}", wrong_method.text);
    let answer = parse_xml(wrong_method.text.as_bytes()).unwrap();
    assert_eq!(answer["return_code"], "FAIL", "{answer:?}");
    assert!(answer["return_msg"].contains("POST"), "{answer:?}");

    // Plaza's own API keeps its JSON envelope for the same failures.
    let json_too_large = server
        .admin_post("/api/v1/admin/users", &json!({ "name": "x".repeat(4_096) }))
        .await;
    assert_eq!(json_too_large.status, 413, "{}", json_too_large.text);
    assert!(!json_too_large.text.starts_with("<xml>"));
}

#[cfg(unix)]
fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|error| panic!("{}: {error}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every byte of the SQLite files (the database, its WAL and shared memory).
fn database_bytes(data_dir: &std::path::Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in ["plaza.sqlite3", "plaza.sqlite3-wal", "plaza.sqlite3-shm"] {
        if let Ok(found) = std::fs::read(data_dir.join(name)) {
            bytes.extend(found);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

/// Signs a `/pay/orderquery` with the APIv2 key: its answer says whether the server
/// still holds the same key.
async fn apiv2_key_works(server: &TestServer, merchant: &Merchant) -> bool {
    let key = merchant.credentials["apiv2_key"].as_str().unwrap();
    let body = v2_request(
        &[
            ("appid", &merchant.appid),
            ("mch_id", &merchant.mchid),
            ("nonce_str", "N0NCE"),
            ("out_trade_no", "NOT-THERE"),
        ],
        key,
        SignType::Md5,
    );
    let reply = server.post_raw("/pay/orderquery", &body, None).await;
    let answer = parse_xml(reply.text.as_bytes()).unwrap();
    answer["err_code"] == "ORDERNOTEXIST" && verify(&answer, key, SignType::Md5)
}

/// Fetches the platform certificates, encrypted with the APIv3 key, and decrypts them.
async fn apiv3_key_works(server: &TestServer, merchant: &Merchant) -> bool {
    let listed = merchant.get(server, "/v3/certificates").await.json();
    let encrypted = &listed["data"][0]["encrypt_certificate"];
    plaza_wx::aead::decrypt_resource(
        &merchant.apiv3_key,
        encrypted["nonce"].as_str().unwrap(),
        "certificate",
        encrypted["ciphertext"].as_str().unwrap(),
    )
    .is_ok()
}

/// The stored body of record `kind`/`key` (e.g. `pay.user`), read from the database file.
fn record_body(data_dir: &std::path::Path, kind: &str, key: &str) -> String {
    let conn = rusqlite::Connection::open(data_dir.join("plaza.sqlite3")).unwrap();
    conn.query_row(
        "SELECT body FROM records WHERE kind = ?1 AND key = ?2",
        [kind, key],
        |row| row.get(0),
    )
    .unwrap()
}

/// Writes `record` over the stored body of record `kind`/`key` (the server stopped), as
/// an older Plaza would have written it.
fn overwrite_record(data_dir: &std::path::Path, kind: &str, key: &str, record: &Value) {
    let conn = rusqlite::Connection::open(data_dir.join("plaza.sqlite3")).unwrap();
    let changed = conn
        .execute(
            "UPDATE records SET body = ?1 WHERE kind = ?2 AND key = ?3",
            [record.to_string().as_str(), kind, key],
        )
        .unwrap();
    assert_eq!(changed, 1, "{kind} {key}");
}

/// What Pay keeps about a payer (its password hash, rounds, tries), as stored.
fn payer_record(data_dir: &std::path::Path, user_id: &str) -> Value {
    serde_json::from_str(&record_body(data_dir, "pay.payer", user_id)).unwrap()
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn the_data_directory_is_the_owners_and_a_copied_database_holds_no_merchant_key() {
    let mut server = TestServer::start(PLAZA);
    let merchant = Merchant::create(&server, "Secretive Shop").await;
    let apiv3_key = merchant.apiv3_key.clone();
    let apiv2_key = merchant.credentials["apiv2_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(apiv3_key_works(&server, &merchant).await);
    assert!(apiv2_key_works(&server, &merchant).await);

    let dir = server.data_dir.clone();
    assert_eq!(mode_of(&dir), 0o700);
    for name in [
        "plaza.sqlite3",
        "plaza.sqlite3-wal",
        "plaza.sqlite3-shm",
        "admin.token",
        "pay.secret",
        "cookie.secret",
        "secrets.key",
        "plaza.lock",
        "plaza.addr",
        "platform/private_key.pem",
    ] {
        assert_eq!(mode_of(&dir.join(name)), 0o600, "{name}");
    }
    assert_eq!(mode_of(&dir.join("platform")), 0o700);
    // Neither key is in the files, while running (WAL) or after a clean stop.
    let running = database_bytes(&dir);
    assert!(contains(&running, &merchant.mchid), "the merchant is there");
    assert!(!contains(&running, &apiv3_key));
    assert!(!contains(&running, &apiv2_key));
    server.terminate();
    let stopped = database_bytes(&dir);
    assert!(!contains(&stopped, &apiv3_key));
    assert!(!contains(&stopped, &apiv2_key));

    // A record as an older Plaza wrote it (keys in plain text, files readable by all)
    // still works, and is sealed at the next start.
    {
        use std::os::unix::fs::PermissionsExt;
        let body = record_body(&dir, "pay.merchant", &merchant.mchid);
        let mut record: Value = serde_json::from_str(&body).unwrap();
        record["apiv3_key"] = json!(apiv3_key);
        record["apiv2_key"] = json!(apiv2_key);
        overwrite_record(&dir, "pay.merchant", &merchant.mchid, &record);
        for name in ["", "platform"] {
            std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        for name in ["plaza.sqlite3", "admin.token", "secrets.key"] {
            std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o644))
                .unwrap();
        }
    }
    let server = server.restart();
    assert_eq!(mode_of(&dir), 0o700);
    assert_eq!(mode_of(&dir.join("platform")), 0o700);
    for name in ["plaza.sqlite3", "admin.token", "secrets.key"] {
        assert_eq!(mode_of(&dir.join(name)), 0o600, "{name}");
    }
    assert!(apiv3_key_works(&server, &merchant).await);
    assert!(apiv2_key_works(&server, &merchant).await);
    let body = record_body(&dir, "pay.merchant", &merchant.mchid);
    assert!(!body.contains(&apiv3_key), "sealed again at start: {body}");
    assert!(!body.contains(&apiv2_key), "sealed again at start: {body}");
    assert!(body.contains("sealed1:"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_hashed_with_the_old_rounds_still_pays_and_is_hashed_again_with_owasps() {
    let mut server = TestServer::sandbox(PLAZA);
    let merchant = Merchant::create(&server, "Old Friends").await;
    let payer = Payer::create(&server, "Veteran", 1_000).await;
    let record = payer_record(&server.data_dir, &payer.user_id);
    assert_eq!(record["password_rounds"], 600_000, "{record}");
    let salt = record["password_salt"].as_str().unwrap().to_owned();
    assert_eq!(
        record["password_hash"],
        plaza_pay::password::hash("123456", salt.as_bytes(), 600_000)
    );

    // Rewrite the record as Plaza wrote it before the rounds were kept: 10,000 rounds.
    server.terminate();
    let mut legacy = record.clone();
    legacy["password_hash"] = json!(plaza_pay::password::hash("123456", salt.as_bytes(), 10_000));
    legacy.as_object_mut().unwrap().remove("password_rounds");
    overwrite_record(&server.data_dir, "pay.payer", &payer.user_id, &legacy);
    let server = server.restart();

    let code_url = merchant
        .create_native(&server, "OLD-0001", 100, "https://merchant.example/n")
        .await;
    let wrong = payer
        .post(
            &server,
            "/api/v1/pay/confirm",
            &json!({ "code_url": code_url, "password": "654321" }),
        )
        .await;
    assert_eq!(wrong.json()["code"], "wrong_password", "{}", wrong.text);
    let paid = payer.pay_code(&server, &code_url).await;
    assert_eq!(paid.status, 200, "the old hash verifies: {}", paid.text);
    let record = payer_record(&server.data_dir, &payer.user_id);
    assert_eq!(record["password_rounds"], 600_000, "{record}");
    assert_eq!(
        record["password_hash"],
        plaza_pay::password::hash("123456", salt.as_bytes(), 600_000)
    );
    assert_eq!(record["failed_password_count"], 0, "{record}");
}
