//! Integration tests: the real `plaza` binary, over real HTTP, on a temporary data dir.

use plaza_testkit::{ServerOptions, TestServer};
use serde_json::{Value, json};

use crate::PLAZA;

#[tokio::test]
async fn healthz_answers_with_the_store_and_every_response_has_a_request_id() {
    let server = TestServer::start(PLAZA);
    let reply = server.get("/healthz").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"status": "ok", "store": "sqlite"}));
    assert!(
        reply
            .header("x-request-id")
            .is_some_and(|id| id.len() >= 32)
    );
    let missing = server.get("/api/v1/no/such/thing").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["code"], "not_found");
    assert!(missing.header("x-request-id").is_some());
    // Outside the APIs, an unknown path is a page.
    let page = server.get("/no/such/thing").await;
    assert_eq!(page.status, 404);
    assert!(page.text.contains("Page not found"), "{}", page.text);
    assert!(page.header("x-request-id").is_some());
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_report_ledger_commits() {
    let server = TestServer::start(PLAZA);
    server.open_account("bank", "external").await;
    server.open_account("alice", "wallet").await;
    assert_eq!(server.transfer("m1", "bank", "alice", 5).await.status, 201);
    server.get("/healthz").await;
    let metrics = server.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text;
    assert!(
        text.contains(r#"plaza_http_requests_total{method="GET",route="/healthz",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|line| line.starts_with("plaza_http_request_seconds_bucket")
                && line.contains(r#"method="POST""#)
                && line.contains(r#"route="/api/v1/admin/ledger/transfers""#)),
        "{text}"
    );
    assert!(text.contains("plaza_ledger_transfers_total 1"), "{text}");
    assert!(text.contains("plaza_ledger_batch_commands_count"));
    assert!(text.contains("plaza_ledger_commits_total"));
}

#[tokio::test]
async fn admin_endpoints_need_the_admin_token() {
    let server = TestServer::start(PLAZA);
    let reply = server.get("/api/v1/admin/ledger/verify").await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["code"], "unauthorized");
    let reply = server
        .post_raw(
            "/api/v1/admin/ledger/accounts",
            r#"{"id":"x","kind":"wallet"}"#,
            Some("wrong"),
        )
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["type"], "auth");
}

#[tokio::test]
async fn the_ledger_over_http_moves_money_once_per_id_and_refuses_bad_transfers() {
    let server = TestServer::start(PLAZA);
    assert_eq!(
        server.open_account("bank", "external").await["floor_minor"],
        Value::Null
    );
    assert_eq!(
        server.open_account("alice", "wallet").await["floor_minor"],
        0
    );
    server.open_account("bob", "wallet").await;

    let first = server.transfer("t1", "bank", "alice", 1_000).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.json()["replayed"], false);
    let again = server.transfer("t1", "bank", "alice", 1_000).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["replayed"], true);
    assert_eq!(again.json()["transfers"], first.json()["transfers"]);
    assert_eq!(server.balance("alice").await, 1_000);

    let reused = server.transfer("t1", "bank", "alice", 999).await;
    assert_eq!(
        (reused.status, reused.json()["code"].clone()),
        (409, json!("transfer_id_reused"))
    );
    let broke = server.transfer("t2", "alice", "bob", 1_001).await;
    assert_eq!(
        (broke.status, broke.json()["code"].clone()),
        (422, json!("insufficient_funds"))
    );
    assert!(broke.json()["message"].as_str().unwrap().contains("alice"));
    let unknown = server.transfer("t3", "alice", "nobody", 1).await;
    assert_eq!(
        (unknown.status, unknown.json()["code"].clone()),
        (404, json!("account_not_found"))
    );
    let zero = server.transfer("t4", "alice", "bob", 0).await;
    assert_eq!(
        (zero.status, zero.json()["code"].clone()),
        (400, json!("amount_not_positive"))
    );
    let bad_id = server.transfer("t 5", "alice", "bob", 1).await;
    assert_eq!(bad_id.json()["code"], "invalid_field");
    assert!(
        bad_id.json()["message"]
            .as_str()
            .unwrap()
            .contains("transfers[0].id")
    );
    let usd = server
        .admin_post(
            "/api/v1/admin/ledger/transfers",
            &json!({"transfers": [{"id": "t6", "from": "alice", "to": "bob", "amount_minor": 1, "currency": "USD"}]}),
        )
        .await;
    assert_eq!(usd.json()["code"], "currency_mismatch");
    // A batch with one bad transfer changes nothing.
    let batch = server
        .admin_post(
            "/api/v1/admin/ledger/transfers",
            &json!({"transfers": [
                {"id": "b1", "from": "alice", "to": "bob", "amount_minor": 600},
                {"id": "b2", "from": "alice", "to": "bob", "amount_minor": 600}
            ]}),
        )
        .await;
    assert_eq!(batch.json()["code"], "insufficient_funds");
    assert_eq!(server.balance("alice").await, 1_000);
    assert_eq!(
        server
            .admin_get("/api/v1/admin/ledger/transfers/b1")
            .await
            .status,
        404
    );

    let malformed = server
        .post_raw(
            "/api/v1/admin/ledger/transfers",
            "{not json",
            Some(&server.admin_token),
        )
        .await;
    assert_eq!(
        (malformed.status, malformed.json()["code"].clone()),
        (400, json!("invalid_json"))
    );
    let unknown_field = server
        .admin_post(
            "/api/v1/admin/ledger/transfers",
            &json!({"transfers": [], "extra": 1}),
        )
        .await;
    assert_eq!(unknown_field.json()["code"], "invalid_json");
    let empty = server
        .admin_post("/api/v1/admin/ledger/transfers", &json!({"transfers": []}))
        .await;
    assert_eq!(empty.json()["code"], "empty_batch");

    let stored = server
        .admin_get("/api/v1/admin/ledger/transfers/t1")
        .await
        .json();
    assert_eq!(stored["to_balance_after_minor"], 1_000);
    assert_eq!(stored["seq"], 1);
    let verify = server.admin_get("/api/v1/admin/ledger/verify").await.json();
    assert_eq!(verify["sound"], true, "{verify}");
    assert_eq!(verify["held_minor_by_currency"]["CNY"], "1000");
}

#[tokio::test]
async fn account_history_pages_newest_first() {
    let server = TestServer::start(PLAZA);
    server.open_account("bank", "external").await;
    server.open_account("alice", "wallet").await;
    for index in 0..5 {
        server
            .transfer(&format!("h{index}"), "bank", "alice", 1)
            .await;
    }
    let page = server
        .admin_get("/api/v1/admin/ledger/accounts/alice/transfers?limit=2")
        .await
        .json();
    let ids: Vec<&str> = page["transfers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["h4", "h3"]);
    let next = page["next_before_seq"].as_i64().unwrap();
    let page = server
        .admin_get(&format!(
            "/api/v1/admin/ledger/accounts/alice/transfers?limit=2&before_seq={next}"
        ))
        .await
        .json();
    assert_eq!(page["transfers"][0]["id"], "h2");
    let bad = server
        .admin_get("/api/v1/admin/ledger/accounts/alice/transfers?limit=0")
        .await;
    assert_eq!(bad.json()["code"], "invalid_query");
    let missing = server
        .admin_get("/api/v1/admin/ledger/accounts/ghost/transfers")
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn committed_batches_reach_outbox_consumers_in_order_at_least_once() {
    let server = TestServer::start(PLAZA);
    server.open_account("bank", "external").await;
    server.open_account("alice", "wallet").await;
    server.transfer("o1", "bank", "alice", 1).await;
    server.transfer("o1", "bank", "alice", 1).await; // a replay writes no second event
    server.transfer("o2", "alice", "bank", 5).await; // refused: no event
    server.transfer("o3", "bank", "alice", 2).await;
    let events = server
        .admin_get("/api/v1/admin/outbox/analytics/events")
        .await
        .json();
    let keys: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["o1", "o3"]);
    assert_eq!(events["events"][0]["topic"], "ledger.batch_committed");
    let payload: Value =
        serde_json::from_str(events["events"][0]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["transfers"][0]["amount_minor"], 1);
    let first_seq = events["events"][0]["seq"].as_i64().unwrap();
    let ack = server
        .admin_post(
            "/api/v1/admin/outbox/analytics/ack",
            &json!({"through_seq": first_seq}),
        )
        .await;
    assert_eq!(ack.status, 200);
    let rest = server
        .admin_get("/api/v1/admin/outbox/analytics/events")
        .await
        .json();
    assert_eq!(rest["events"].as_array().unwrap().len(), 1);
    let metrics = server.get("/metrics").await.text;
    assert!(
        metrics.contains(r#"plaza_outbox_lag_events{consumer="analytics"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused_in_the_api_envelope() {
    let server = ServerOptions::new(PLAZA)
        .arg("--request-body-bytes-max")
        .arg("1024")
        .start();
    let memo = "x".repeat(4096);
    let reply = server
        .admin_post(
            "/api/v1/admin/ledger/transfers",
            &json!({"transfers": [{"id": "big", "from": "a", "to": "b", "amount_minor": 1, "memo": memo}]}),
        )
        .await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["code"], "body_too_large");
}

#[tokio::test]
async fn production_mode_refuses_to_move_the_clock() {
    let server = TestServer::start(PLAZA);
    let reply = server
        .admin_post("/api/v1/sandbox/clock/advance", &json!({"by_ms": 1000}))
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["code"], "sandbox_only");
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("--sandbox")
    );
}

#[tokio::test]
async fn the_sandbox_clock_runs_what_became_due_in_due_order_and_survives_a_restart() {
    let server = TestServer::sandbox(PLAZA);
    assert_eq!(
        server.clock().await["offset_ms"],
        0,
        "a new sandbox starts at the wall clock"
    );
    let _pinned = server.pin_clock("10:00").await;
    server.open_account("bank", "external").await;
    server.open_account("alice", "wallet").await;
    server.open_account("bob", "wallet").await;
    let schedule = |id: &'static str,
                    from: &'static str,
                    to: &'static str,
                    amount: i64,
                    after_ms: i64| {
        json!({"transfer": {"id": id, "from": from, "to": to, "amount_minor": amount}, "after_ms": after_ms})
    };
    // Due order matters: the payout to bob is only possible after alice is paid.
    let later = server
        .admin_post(
            "/api/v1/admin/ledger/scheduled-transfers",
            &schedule("payout", "alice", "bob", 70, 7_200_000),
        )
        .await;
    assert_eq!(later.status, 201, "{}", later.text);
    server
        .admin_post(
            "/api/v1/admin/ledger/scheduled-transfers",
            &schedule("salary", "bank", "alice", 100, 3_600_000),
        )
        .await;
    server
        .admin_post(
            "/api/v1/admin/ledger/scheduled-transfers",
            &schedule("next-week", "bank", "bob", 1, 7 * 86_400_000),
        )
        .await;

    let before = server.get("/api/v1/sandbox/clock").await.json();
    let moved = server
        .admin_post(
            "/api/v1/sandbox/clock/advance",
            &json!({"by_ms": 86_400_000}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.json()["jobs_run"], 2);
    assert!(
        moved.json()["now_ms"].as_i64().unwrap() >= before["now_ms"].as_i64().unwrap() + 86_400_000
    );
    assert_eq!(server.balance("alice").await, 30);
    assert_eq!(server.balance("bob").await, 70);
    let salary = server
        .admin_get("/api/v1/admin/ledger/transfers/salary")
        .await
        .json();
    let payout = server
        .admin_get("/api/v1/admin/ledger/transfers/payout")
        .await
        .json();
    assert!(salary["seq"].as_i64() < payout["seq"].as_i64());
    let job_id = later.json()["job_id"].as_i64().unwrap();
    let job = server
        .admin_get(&format!("/api/v1/admin/jobs/{job_id}"))
        .await
        .json();
    assert_eq!(job["state"], "done");

    let backwards = server
        .admin_post("/api/v1/sandbox/clock/advance", &json!({"by_ms": -5}))
        .await;
    assert_eq!(
        (backwards.status, backwards.json()["code"].clone()),
        (400, json!("clock_not_forward"))
    );

    let landed_ms = moved.json()["now_ms"].as_i64().unwrap();
    let server = server.restart();
    let after = server.get("/api/v1/sandbox/clock").await.json();
    // The moved clock survives the restart: it never reads earlier than where it landed.
    assert!(after["now_ms"].as_i64().unwrap() >= landed_ms, "{after}");
    assert!(after["offset_ms"].as_i64().unwrap() > 86_000_000, "{after}");
    // Not even when the stored offset falls short, as it does when the wall clock steps
    // back while the server is down: the instant the move reached is the floor.
    let mut server = server;
    server.kill();
    rusqlite::Connection::open(server.data_dir.join("plaza.sqlite3"))
        .unwrap()
        .execute(
            "UPDATE plaza_meta SET value = '0' WHERE key = 'sandbox_clock_offset_ms'",
            [],
        )
        .unwrap();
    let server = server.restart();
    let after = server.get("/api/v1/sandbox/clock").await.json();
    assert!(after["now_ms"].as_i64().unwrap() >= landed_ms, "{after}");
    let moved = server
        .admin_post(
            "/api/v1/sandbox/clock/advance",
            &json!({"by_ms": 7 * 86_400_000}),
        )
        .await;
    assert_eq!(moved.json()["jobs_run"], 1);
    assert_eq!(server.balance("bob").await, 71);
}

#[tokio::test]
async fn a_second_process_on_the_same_data_directory_is_refused() {
    let server = TestServer::start(PLAZA);
    let (status, stderr) = ServerOptions::new(PLAZA).run_expecting_failure(&server.data_dir);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("in use by another plaza process"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("pid {}", server.pid())),
        "{stderr}"
    );
    assert_eq!(
        server.get("/healthz").await.status,
        200,
        "the first one keeps running"
    );
}

#[tokio::test]
async fn a_data_directory_from_a_newer_plaza_is_refused_untouched() {
    let mut server = TestServer::start(PLAZA);
    assert!(server.terminate().success());
    let db = server.data_dir.join("plaza.sqlite3");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE plaza_meta SET value = '99' WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    drop(conn);
    let (status, stderr) = ServerOptions::new(PLAZA).run_expecting_failure(&server.data_dir);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("schema version 99, newer than"), "{stderr}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: String = conn
        .query_row(
            "SELECT value FROM plaza_meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, "99");
}

#[tokio::test]
async fn a_corrupt_database_gives_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plaza.sqlite3"), vec![0x42u8; 8192]).unwrap();
    let (status, stderr) = ServerOptions::new(PLAZA).run_expecting_failure(dir.path());
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("corrupt or not a SQLite database"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn malformed_configuration_stops_startup_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let options = ServerOptions::new(PLAZA).env("PLAZA_REQUEST_TIMEOUT_MS", "soon");
    let (status, stderr) = options.run_expecting_failure(dir.path());
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("PLAZA_REQUEST_TIMEOUT_MS"), "{stderr}");
    let file = dir.path().join("plaza.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:0\"\nrequest_body_byte_max = 5\n",
    )
    .unwrap();
    let options = ServerOptions::new(PLAZA)
        .arg("--config")
        .arg(file.to_str().unwrap());
    let (status, stderr) = options.run_expecting_failure(dir.path());
    assert_eq!(status.code(), Some(2));
    assert!(
        stderr.contains("unknown key `request_body_byte_max`"),
        "{stderr}"
    );
    let options = ServerOptions::new(PLAZA)
        .arg("--database-url")
        .arg("mysql://nope");
    let (_, stderr) = options.run_expecting_failure(dir.path());
    assert!(stderr.contains("--database-url"), "{stderr}");
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_and_keeps_every_acknowledged_transfer() {
    let mut server = TestServer::start(PLAZA);
    server.open_account("bank", "external").await;
    server.open_account("alice", "wallet").await;
    let base = server.base_url.clone();
    let token = server.admin_token.clone();
    let mut tasks = Vec::new();
    for index in 0..40 {
        let base = base.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"transfers": [{"id": format!("g{index}"), "from": "bank", "to": "alice", "amount_minor": 1}]});
            let reply = plaza_testkit::http_client()
                .post(format!("{base}/api/v1/admin/ledger/transfers"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await;
            matches!(reply, Ok(reply) if reply.status().as_u16() == 201).then_some(index)
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let status = server.terminate();
    assert!(status.success(), "{}", server.log());
    assert!(server.log().contains("plaza stopped"));
    let mut acknowledged = Vec::new();
    for task in tasks {
        if let Some(index) = task.await.unwrap() {
            acknowledged.push(index);
        }
    }
    let server = server.restart();
    for index in &acknowledged {
        let reply = server
            .admin_get(&format!("/api/v1/admin/ledger/transfers/g{index}"))
            .await;
        assert_eq!(
            reply.status, 200,
            "acknowledged transfer g{index} is missing"
        );
    }
    assert!(server.balance("alice").await >= acknowledged.len() as i64);
}

#[test]
fn help_explains_every_subcommand() {
    let run = |args: &[&str]| {
        let output = std::process::Command::new(PLAZA)
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let top = run(&["--help"]);
    for word in ["serve", "bench", "admin"] {
        assert!(top.contains(word), "{top}");
    }
    let serve = run(&["serve", "--help"]);
    for word in [
        "--listen",
        "--data-dir",
        "--database-url",
        "--sandbox",
        "PLAZA_LISTEN",
        "plaza.toml",
    ] {
        assert!(serve.contains(word), "{word}: {serve}");
    }
    assert!(run(&["bench", "ledger", "--help"]).contains("--concurrency"));
    assert!(run(&["admin", "verify-ledger", "--help"]).contains("Exits 1"));
}
