//! Sandbox powers over HTTP against the real binary: the notification console (list,
//! exact signed requests, resend, replay, send edited, skip to the next retry), fault
//! injection (drop, bad signature, duplicate, delay, reorder), scripted outcomes
//! (`USERPAYING` then success, `PAYERROR`, `NOT_ENOUGH`, refund `ABNORMAL` and
//! `NOT_ENOUGH`, auto-pay), the `sandbox.toml` file, and their absence in production.

use plaza_testkit::pay::{Merchant, NotifySink, Payer, SinkMode};
use plaza_testkit::{ServerOptions, TestServer};
use serde_json::{Value, json};

use crate::PLAZA;

async fn notifications(server: &TestServer, mchid: &str) -> Vec<Value> {
    let reply = server
        .admin_get(&format!("/api/v1/sandbox/notifications?mchid={mchid}"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["notifications"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_console_shows_signed_requests_and_resends_replays_and_sends_edited() {
    let server = TestServer::sandbox(PLAZA);
    let merchant = Merchant::create(&server, "Console Cafe").await;
    let payer = Payer::create(&server, "Li Lei", 10_000).await;
    let sink = NotifySink::start(SinkMode::Fail).await;
    let code = merchant
        .create_native(&server, "CONSOLE-1", 1_200, &sink.url)
        .await;
    payer.pay(&server, &code).await;
    sink.wait_for(1).await;

    // Listed with the exact request, the merchant's answer and the next try.
    let listed = notifications(&server, &merchant.mchid).await;
    assert_eq!(listed.len(), 1);
    let first = &listed[0];
    let id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(first["event_type"], "TRANSACTION.SUCCESS");
    assert_eq!(first["state"], "pending");
    assert!(first["next_attempt_at"].is_string());
    let attempt = &first["attempts"][0];
    assert_eq!(attempt["status"], 500);
    assert_eq!(attempt["trigger"], "scheduled");
    assert_eq!(attempt["sent"], true);
    let sent = &sink.received()[0];
    assert_eq!(attempt["request_body"].as_str().unwrap(), sent.body);
    assert_eq!(
        attempt["request_headers"]["Wechatpay-Signature"].as_str(),
        sent.header("wechatpay-signature")
    );
    let all = server.admin_get("/api/v1/sandbox/notifications").await;
    assert!(
        all.json()["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["id"] == id.as_str()),
        "the unfiltered list holds it too"
    );

    // Resend now: the next try of the schedule, delivered this time.
    sink.set_mode(SinkMode::Accept);
    let resent = server
        .admin_post_ok(
            &format!("/api/v1/sandbox/notifications/{id}/resend"),
            &json!({}),
        )
        .await;
    assert_eq!(resent["state"], "delivered");
    assert_eq!(resent["attempts"][1]["trigger"], "resend");
    assert_eq!(resent["attempts"][1]["status"], 200);
    let received = sink.wait_for(2).await;
    assert!(merchant.verifies_notification(&received[1]));
    let again = server
        .admin_post(
            &format!("/api/v1/sandbox/notifications/{id}/resend"),
            &json!({}),
        )
        .await;
    again.assert_error(409, "notification_not_pending");

    // Replay: the same notification, signed anew.
    let replayed = server
        .admin_post_ok(
            &format!("/api/v1/sandbox/notifications/{id}/replay"),
            &json!({}),
        )
        .await;
    assert_eq!(replayed["attempts"][2]["trigger"], "replay");
    let received = sink.wait_for(3).await;
    assert!(merchant.verifies_notification(&received[2]));
    assert_eq!(received[2].json()["id"], received[0].json()["id"]);
    assert_eq!(
        merchant.decrypt(&received[2].json())["out_trade_no"],
        "CONSOLE-1"
    );

    // Send edited: Plaza encrypts and signs the hand-edited resource.
    let mut edited = merchant.decrypt(&received[0].json());
    edited["trade_state"] = json!("NOTPAY");
    edited["attach"] = json!("edited by hand");
    let sent_edited = server
        .admin_post_ok(
            &format!("/api/v1/sandbox/notifications/{id}/send"),
            &json!({ "resource": edited }),
        )
        .await;
    assert_eq!(sent_edited["attempts"][3]["trigger"], "edited");
    assert_eq!(sent_edited["state"], "delivered", "the state is untouched");
    let received = sink.wait_for(4).await;
    assert!(merchant.verifies_notification(&received[3]));
    assert_eq!(merchant.decrypt(&received[3].json()), edited);

    // Invalid edits and unknown ids: clear errors, nothing sent.
    let broken = server
        .admin_post(
            &format!("/api/v1/sandbox/notifications/{id}/send"),
            &json!({ "resource_text": "{\"trade_state\": \"SUCC" }),
        )
        .await;
    broken.assert_error(400, "invalid_field");
    assert!(
        broken.json()["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON")
    );
    let not_object = server
        .admin_post(
            &format!("/api/v1/sandbox/notifications/{id}/send"),
            &json!({ "resource": [1, 2] }),
        )
        .await;
    assert_eq!(not_object.status, 400, "{}", not_object.text);
    let unknown = server
        .admin_post("/api/v1/sandbox/notifications/EV-nope/replay", &json!({}))
        .await;
    unknown.assert_error(404, "notification_not_found");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.received().len(), 4, "refused requests sent nothing");
    let unauthenticated = server.get("/api/v1/sandbox/notifications").await;
    assert_eq!(unauthenticated.status, 401);
}

#[tokio::test]
async fn next_retry_moves_the_clock_to_the_next_try_and_runs_it() {
    let server = TestServer::sandbox(PLAZA);
    // Pinned, so the test's day arithmetic is the same at any hour.
    let _pinned = server.pin_clock("10:00").await;
    let merchant = Merchant::create(&server, "Retry Bakery").await;
    let payer = Payer::create(&server, "Han Mei", 10_000).await;
    let sink = NotifySink::start(SinkMode::Fail).await;
    let code = merchant
        .create_native(&server, "RETRY-1", 800, &sink.url)
        .await;
    payer.pay(&server, &code).await;
    sink.wait_for(1).await;
    let id = notifications(&server, &merchant.mchid).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = server.get("/api/v1/sandbox/clock").await.json()["now_ms"]
        .as_i64()
        .unwrap();
    let moved = server
        .admin_post_ok(
            &format!("/api/v1/sandbox/notifications/{id}/next-retry"),
            &json!({}),
        )
        .await;
    assert_eq!(
        moved["notification"]["attempts"].as_array().unwrap().len(),
        2
    );
    let after = moved["clock"]["now_ms"].as_i64().unwrap();
    assert!(
        after - before >= 14_000,
        "the clock moved to the 15 s retry ({} ms)",
        after - before
    );
    assert!(moved["clock"]["jobs_run"].as_u64().unwrap() >= 1);
    assert_eq!(sink.received().len(), 2);

    // The clock page-side helpers: next job is known, and jumping to it works.
    let clock = server.get("/api/v1/sandbox/clock").await.json();
    assert!(clock["next_job_at"].is_string(), "{clock}");
    let jumped = server
        .admin_post_ok("/api/v1/sandbox/clock/next-job", &json!({}))
        .await;
    assert!(jumped["jobs_run"].as_u64().unwrap() >= 1);
    assert_eq!(sink.received().len(), 3, "the 30 s retry ran");

    sink.set_mode(SinkMode::Accept);
    server
        .admin_post_ok(
            &format!("/api/v1/sandbox/notifications/{id}/resend"),
            &json!({}),
        )
        .await;
    let done = server
        .admin_post(
            &format!("/api/v1/sandbox/notifications/{id}/next-retry"),
            &json!({}),
        )
        .await;
    done.assert_error(409, "notification_not_pending");
}

#[tokio::test]
async fn faults_are_injected_per_merchant_and_visible_on_each_attempt() {
    let server = TestServer::sandbox(PLAZA);
    // Pinned, so the test's day arithmetic is the same at any hour.
    let _pinned = server.pin_clock("10:00").await;
    let merchant = Merchant::create(&server, "Faulty Noodles").await;
    let other = Merchant::create(&server, "Calm Noodles").await;
    let payer = Payer::create(&server, "Wei", 100_000).await;
    let sink = NotifySink::start(SinkMode::Accept).await;
    let faults = format!("/api/v1/sandbox/merchants/{}/faults", merchant.mchid);

    // Bad input changes nothing.
    for (body, code) in [
        (json!({"delay_ms": 600_000}), "invalid_field"),
        (json!({"drop_first": 99}), "invalid_field"),
        (json!({"notify_url": "ftp://x"}), "invalid_field"),
        (json!({"explode": true}), "invalid_json"),
    ] {
        let reply = server.admin_put(&faults, &body).await;
        assert_eq!(reply.json()["code"], code, "{body}: {}", reply.text);
    }
    let unknown = server
        .admin_put(
            "/api/v1/sandbox/merchants/1699999999/faults",
            &json!({"drop_first": 1}),
        )
        .await;
    unknown.assert_error(404, "merchant_not_found");
    assert_eq!(server.admin_get(&faults).await.json()["drop_first"], 0);

    // Drop the first try; sign the first two badly; send each try twice.
    let plan = server
        .admin_put(
            &faults,
            &json!({"drop_first": 1, "bad_signature_first": 2, "duplicate": true}),
        )
        .await;
    assert_eq!(plan.status, 200, "{}", plan.text);
    let code = merchant
        .create_native(&server, "FAULT-1", 1_000, &sink.url)
        .await;
    payer.pay(&server, &code).await;
    let id = plaza_testkit::eventually("the first (dropped) try is recorded", || async {
        let listed = notifications(&server, &merchant.mchid).await;
        listed
            .first()
            .filter(|first| !first["attempts"].as_array().unwrap().is_empty())
            .map(|first| first["id"].as_str().unwrap().to_owned())
    })
    .await;
    let dropped = server
        .admin_get(&format!("/api/v1/sandbox/notifications/{id}"))
        .await
        .json();
    assert_eq!(dropped["attempts"][0]["sent"], false);
    assert!(
        dropped["attempts"][0]["fault"]
            .as_str()
            .unwrap()
            .contains("dropped")
    );
    assert_eq!(dropped["state"], "pending");
    assert!(sink.received().is_empty(), "a dropped try sends nothing");

    let retried = server
        .admin_post_ok(
            &format!("/api/v1/sandbox/notifications/{id}/next-retry"),
            &json!({}),
        )
        .await;
    let received = sink.wait_for(2).await;
    assert_eq!(
        received[0].body, received[1].body,
        "a duplicate is byte for byte"
    );
    assert_eq!(
        received[0].header("wechatpay-signature"),
        received[1].header("wechatpay-signature")
    );
    assert!(
        !merchant.verifies_notification(&received[0]),
        "the signature is spoiled"
    );
    let attempts = retried["notification"]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3);
    assert!(
        attempts[1]["fault"]
            .as_str()
            .unwrap()
            .contains("bad Wechatpay-Signature")
    );
    assert_eq!(attempts[2]["trigger"], "duplicate");
    assert_eq!(retried["notification"]["state"], "delivered");

    // The other merchant is untouched.
    let calm_code = other
        .create_native(&server, "CALM-1", 1_000, &sink.url)
        .await;
    payer.pay(&server, &calm_code).await;
    let received = sink.wait_for(3).await;
    assert!(other.verifies_notification(&received[2]));

    // A delay, scoped to one notify_url.
    let plan = server
        .admin_put(&faults, &json!({"delay_ms": 400, "notify_url": sink.url}))
        .await;
    assert_eq!(plan.status, 200, "{}", plan.text);
    let code = merchant
        .create_native(&server, "FAULT-2", 1_000, &sink.url)
        .await;
    payer.pay(&server, &code).await;
    let received = sink.wait_for(4).await;
    assert!(merchant.verifies_notification(&received[3]));
    // The attempt is recorded once the merchant has answered, so right after the sink
    // saw the request the record may still be on its way.
    let delayed = plaza_testkit::eventually("the delayed attempt is recorded", || async {
        let newest = notifications(&server, &merchant.mchid).await[0].clone();
        newest["attempts"][0]["fault"].is_string().then_some(newest)
    })
    .await;
    assert!(
        delayed["attempts"][0]["fault"]
            .as_str()
            .unwrap()
            .contains("delayed 400 ms"),
        "{delayed}"
    );

    // Reorder: the first is held until the second overtakes it.
    let plan = server.admin_put(&faults, &json!({"reorder": true})).await;
    assert_eq!(plan.status, 200, "{}", plan.text);
    let first = merchant
        .create_native(&server, "ORDER-A", 1_000, &sink.url)
        .await;
    payer.pay(&server, &first).await;
    let held = plaza_testkit::eventually("the notification is held back", || async {
        let listed = notifications(&server, &merchant.mchid).await;
        listed[0]["held_until"]
            .is_string()
            .then(|| listed[0].clone())
    })
    .await;
    assert!(held["attempts"].as_array().unwrap().is_empty());
    assert_eq!(sink.received().len(), 4, "held back");
    let second = merchant
        .create_native(&server, "ORDER-B", 1_000, &sink.url)
        .await;
    payer.pay(&server, &second).await;
    let received = sink.wait_for(6).await;
    let order_of = |at: usize| merchant.decrypt(&received[at].json())["out_trade_no"].clone();
    assert_eq!(
        (order_of(4), order_of(5)),
        (json!("ORDER-B"), json!("ORDER-A"))
    );
    let released = server
        .admin_get(&format!(
            "/api/v1/sandbox/notifications/{}",
            held["id"].as_str().unwrap()
        ))
        .await
        .json();
    assert!(
        released["attempts"][0]["fault"]
            .as_str()
            .unwrap()
            .contains("reordered")
    );
    assert_eq!(released["state"], "delivered");

    let cleared = server.admin_delete(&faults).await;
    assert_eq!(cleared.json()["reorder"], false);
    server.assert_ledger_sound().await;
}

#[tokio::test]
async fn scripted_outcomes_make_orders_and_refunds_behave_as_told() {
    let server = TestServer::sandbox(PLAZA);
    // Pinned, so the test's day arithmetic is the same at any hour.
    let _pinned = server.pin_clock("10:00").await;
    let merchant = Merchant::create(&server, "Scripted Tea").await;
    let payer = Payer::create(&server, "Zhang", 100_000).await;
    let sink = NotifySink::start(SinkMode::Accept).await;
    let script = format!("/api/v1/sandbox/merchants/{}/script", merchant.mchid);

    for (body, field) in [
        (json!({"rules": [{"polls": 2}]}), "rules[0].polls"),
        (
            json!({"rules": [{"payment": "userpaying", "amount_ends_with": "x3"}]}),
            "rules[0].amount_ends_with",
        ),
        (json!({"rules": [{"amount": 5}]}), "rules[0]"),
    ] {
        let reply = server.admin_put(&script, &body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        assert!(
            reply.json()["message"].as_str().unwrap().contains(field),
            "{}",
            reply.text
        );
    }
    let bad_value = server
        .admin_put(&script, &json!({"rules": [{"payment": "maybe"}]}))
        .await;
    assert_eq!(bad_value.json()["code"], "invalid_json");

    let rules = json!({"rules": [
        {"amount_ends_with": "03", "payment": "userpaying", "polls": 2},
        {"amount_ends_with": "04", "payment": "payerror"},
        {"amount_ends_with": "05", "payment": "not_enough"},
        {"amount_ends_with": "06", "refund": "abnormal"},
        {"amount_ends_with": "07", "auto_pay_after_s": 5},
        {"amount_ends_with": "08", "refund": "not_enough"},
    ]});
    let set = server.admin_put(&script, &rules).await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(
        server.admin_get(&script).await.json()["rules"],
        rules["rules"]
    );

    // ¥12.03: USERPAYING for two polls, then paid.
    merchant
        .create_native(&server, "SCRIPT-03", 1_203, &sink.url)
        .await;
    assert_eq!(
        merchant.order(&server, "SCRIPT-03").await["trade_state"],
        "USERPAYING"
    );
    assert_eq!(
        merchant.order(&server, "SCRIPT-03").await["trade_state"],
        "USERPAYING"
    );
    let paid = merchant.order(&server, "SCRIPT-03").await;
    assert_eq!(paid["trade_state"], "SUCCESS", "{paid}");
    assert_eq!(paid["amount"]["payer_total"], 1_203);
    let received = sink.wait_for(1).await;
    assert_eq!(
        merchant.decrypt(&received[0].json())["out_trade_no"],
        "SCRIPT-03"
    );

    // ¥12.04: the payment fails, the order ends PAYERROR, nothing is paid.
    let balance = payer.balance(&server).await;
    let code = merchant
        .create_native(&server, "SCRIPT-04", 1_204, &sink.url)
        .await;
    let failed = payer.pay_code(&server, &code).await;
    failed.assert_error(402, "payment_failed");
    assert_eq!(
        merchant.order(&server, "SCRIPT-04").await["trade_state"],
        "PAYERROR"
    );
    assert_eq!(payer.balance(&server).await, balance);

    // ¥12.05: refused for want of balance; the order stays payable.
    let code = merchant
        .create_native(&server, "SCRIPT-05", 1_205, &sink.url)
        .await;
    let short = payer.pay_code(&server, &code).await;
    assert_eq!(short.json()["code"], "insufficient_funds", "{}", short.text);
    assert_eq!(
        merchant.order(&server, "SCRIPT-05").await["trade_state"],
        "NOTPAY"
    );
    assert_eq!(payer.balance(&server).await, balance);

    // ¥12.06: paid; its refund ends ABNORMAL and moves no money.
    let code = merchant
        .create_native(&server, "SCRIPT-06", 1_206, &sink.url)
        .await;
    payer.pay(&server, &code).await;
    let after_payment = payer.balance(&server).await;
    let refund = merchant
        .post_ok(
            &server,
            "/v3/refund/domestic/refunds",
            &json!({
                "out_trade_no": "SCRIPT-06",
                "out_refund_no": "SR-06",
                "notify_url": sink.url,
                "amount": {"refund": 1_206, "total": 1_206, "currency": "CNY"},
            }),
        )
        .await;
    assert_eq!(refund["status"], "ABNORMAL");
    let queried = merchant
        .get_ok(&server, "/v3/refund/domestic/refunds/SR-06")
        .await;
    assert_eq!(queried["status"], "ABNORMAL");
    assert_eq!(payer.balance(&server).await, after_payment);
    assert_eq!(
        merchant.order(&server, "SCRIPT-06").await["trade_state"],
        "SUCCESS"
    );
    let received = sink.wait_for(3).await;
    let abnormal = received
        .iter()
        .find(|r| r.json()["event_type"] == "REFUND.ABNORMAL")
        .expect("REFUND.ABNORMAL was sent");
    assert_eq!(
        merchant.decrypt(&abnormal.json())["refund_status"],
        "ABNORMAL"
    );

    // ¥12.08: the refund is refused NOT_ENOUGH.
    let code = merchant
        .create_native(&server, "SCRIPT-08", 1_208, &sink.url)
        .await;
    payer.pay(&server, &code).await;
    let refused = merchant
        .post(
            &server,
            "/v3/refund/domestic/refunds",
            &json!({
                "out_trade_no": "SCRIPT-08",
                "out_refund_no": "SR-08",
                "amount": {"refund": 100, "total": 1_208, "currency": "CNY"},
            }),
        )
        .await;
    refused.assert_error(403, "NOT_ENOUGH");

    // ¥12.07: the robot payer pays it 5 s (sandbox clock) after it was created.
    merchant
        .create_native(&server, "SCRIPT-07", 1_207, &sink.url)
        .await;
    assert_eq!(
        merchant.order(&server, "SCRIPT-07").await["trade_state"],
        "NOTPAY"
    );
    let moved = server
        .admin_post("/api/v1/sandbox/clock/advance", &json!({"by_ms": 5_000}))
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(
        merchant.order(&server, "SCRIPT-07").await["trade_state"],
        "SUCCESS"
    );

    // Unscripted amounts behave as usual.
    let code = merchant
        .create_native(&server, "SCRIPT-00", 1_200, &sink.url)
        .await;
    payer.pay(&server, &code).await;
    assert_eq!(
        merchant.order(&server, "SCRIPT-00").await["trade_state"],
        "SUCCESS"
    );

    let cleared = server.admin_delete(&script).await;
    assert_eq!(cleared.json()["rules"], json!([]));
    let code = merchant
        .create_native(&server, "SCRIPT-14", 1_204, &sink.url)
        .await;
    payer.pay(&server, &code).await;
    server.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_sandbox_toml_in_the_data_dir_scripts_merchants_at_start() {
    let server = TestServer::sandbox(PLAZA);
    let merchant = Merchant::create(&server, "File Tea").await;
    let data_dir = server.data_dir.clone();
    std::fs::write(
        data_dir.join("sandbox.toml"),
        format!(
            "[[merchant.{mchid}.rules]]\namount_ends_with = \"03\"\npayment = \"userpaying\"\npolls = 1\n\n\
             [merchant.{mchid}.faults]\ndrop_first = 1\n\n\
             [[merchant.1699999999.rules]]\npayment = \"payerror\"\n",
            mchid = merchant.mchid
        ),
    )
    .unwrap();
    let server = server.restart();
    let script = server
        .admin_get(&format!(
            "/api/v1/sandbox/merchants/{}/script",
            merchant.mchid
        ))
        .await;
    assert_eq!(script.json()["rules"][0]["polls"], 1, "{}", script.text);
    let faults = server
        .admin_get(&format!(
            "/api/v1/sandbox/merchants/{}/faults",
            merchant.mchid
        ))
        .await;
    assert_eq!(faults.json()["drop_first"], 1);
    merchant
        .create_native(&server, "FILE-03", 503, "https://a.example/n")
        .await;
    assert_eq!(
        merchant.order(&server, "FILE-03").await["trade_state"],
        "USERPAYING"
    );
    assert_eq!(
        merchant.order(&server, "FILE-03").await["trade_state"],
        "SUCCESS"
    );
    assert!(
        server.log().contains("1699999999"),
        "the unknown merchant is reported"
    );

    // A malformed file stops the start and says where.
    let mut server = server;
    server.terminate();
    std::fs::write(
        data_dir.join("sandbox.toml"),
        "[[merchant.1.rules]]\npayment = \"sometimes\"\n",
    )
    .unwrap();
    let (status, output) = server.options().run_expecting_failure(&data_dir);
    assert!(!status.success());
    assert!(output.contains("sandbox.toml"), "{output}");
    assert!(output.contains("line 2"), "{output}");
}

#[tokio::test]
async fn none_of_it_exists_in_production_mode() {
    let server = ServerOptions::new(PLAZA).start();
    let merchant = Merchant::create(&server, "Real Shop").await;
    for path in [
        "/api/v1/sandbox/notifications".to_owned(),
        "/api/v1/sandbox/notifications/EV-1".to_owned(),
        format!("/api/v1/sandbox/merchants/{}/faults", merchant.mchid),
        format!("/api/v1/sandbox/merchants/{}/script", merchant.mchid),
    ] {
        let reply = server.admin_get(&path).await;
        assert_eq!(
            (reply.status, reply.json()["code"].as_str()),
            (404, Some("sandbox_only")),
            "{path}"
        );
    }
    let put = server
        .admin_put(
            &format!("/api/v1/sandbox/merchants/{}/script", merchant.mchid),
            &json!({"rules": [{"payment": "payerror"}]}),
        )
        .await;
    assert_eq!(put.status, 404);
    let next = server
        .admin_post("/api/v1/sandbox/clock/next-job", &json!({}))
        .await;
    assert_eq!(next.status, 404);
    // The console asks who is there first (web_security.rs: a signed-in operator then
    // meets the 404 `sandbox_only` page).
    let page = server.get("/console/notifications").await;
    assert!(
        page.status == 200 && page.text.contains("Admin token"),
        "{}",
        page.text
    );
}
