//! Payments over the WeChat Pay APIv3 wire and the payer's API: the real binary, signed
//! requests as SDKs make them, a merchant notify server, the sandbox clock.

use plaza_testkit::TestServer;
use plaza_testkit::clock::{HOUR_MS, Pinned};
use plaza_testkit::pay::{Merchant, NotifySink, Payer, SinkMode, gunzip, now_s};
use serde_json::{Value, json};

use crate::PLAZA;
const DAY_MS: i64 = 86_400_000;

/// A sandbox whose clock is pinned to `time_of_day` (China time) on a known day, for
/// tests that move the clock: their day arithmetic is then the same at any hour.
async fn pinned_sandbox(time_of_day: &str) -> (TestServer, Pinned) {
    let server = TestServer::sandbox(PLAZA);
    let pinned = server.pin_clock(time_of_day).await;
    (server, pinned)
}

/// The test kit's Native order with this file's description and `attach`, which the
/// first test reads back from the payer's scan and the notification.
fn native(merchant: &Merchant, out_trade_no: &str, total: i64, notify_url: &str) -> Value {
    let mut order = merchant.native_order(out_trade_no, total, notify_url);
    order["description"] = json!("Iced latte");
    order["attach"] = json!("table 7");
    order
}

#[tokio::test(flavor = "multi_thread")]
async fn a_native_order_is_paid_notified_refunded_settled_and_billed() {
    let (server, pinned) = pinned_sandbox("10:00").await;
    let sink = NotifySink::start(SinkMode::Accept).await;
    let merchant = Merchant::create(&server, "Corner Cafe").await;
    let payer = Payer::create(&server, "Alice", 10_000).await;

    let code_url = merchant
        .prepay_native(&server, &native(&merchant, "ORDER-0001", 2_500, &sink.url))
        .await;
    assert!(
        code_url.starts_with("weixin://wxpay/bizpayurl?pr="),
        "{code_url}"
    );
    // The same request again answers the same code; other content is refused.
    let again = merchant
        .prepay_native(&server, &native(&merchant, "ORDER-0001", 2_500, &sink.url))
        .await;
    assert_eq!(again, code_url);
    let reused = merchant
        .post(
            &server,
            "/v3/pay/transactions/native",
            &native(&merchant, "ORDER-0001", 2_600, &sink.url),
        )
        .await;
    reused.assert_error(403, "OUT_TRADE_NO_USED");
    assert!(merchant.verifies(&reused), "errors are signed too");

    let unpaid = merchant.order(&server, "ORDER-0001").await;
    assert_eq!(unpaid["trade_state"], "NOTPAY");
    assert_eq!(unpaid["trade_state_desc"], "订单未支付");
    assert!(unpaid.get("transaction_id").is_none());

    // The payer scans, sees the order, and pays.
    let scanned = payer
        .post_ok(
            &server,
            "/api/v1/pay/scan",
            &json!({ "code_url": code_url }),
        )
        .await;
    assert_eq!(
        (
            scanned["merchant_name"].as_str(),
            scanned["total"].as_i64(),
            scanned["description"].as_str()
        ),
        (Some("Corner Cafe"), Some(2_500), Some("Iced latte"))
    );
    let paid = payer.pay(&server, &code_url).await;
    assert_eq!(paid["trade_state"], "SUCCESS");
    assert_eq!(payer.balance(&server).await, 7_500);
    let paid_twice = payer.pay_code(&server, &code_url).await;
    paid_twice.assert_error(409, "order_not_payable");

    // The merchant hears of it: signed, encrypted, in WeChat's envelope.
    let received = sink.wait_for(1).await;
    let notification = &received[0];
    assert_eq!(
        notification.header("wechatpay-signature-type"),
        Some("WECHATPAY2-SHA256-RSA2048")
    );
    assert!(merchant.verifies_notification(notification));
    assert_eq!(
        notification.header("wechatpay-serial"),
        merchant.credentials["platform_serial_no"].as_str()
    );
    let envelope = notification.json();
    assert_eq!(envelope["event_type"], "TRANSACTION.SUCCESS");
    assert_eq!(envelope["resource_type"], "encrypt-resource");
    assert_eq!(envelope["resource"]["original_type"], "transaction");
    assert_eq!(envelope["resource"]["algorithm"], "AEAD_AES_256_GCM");
    let transaction = merchant.decrypt(&envelope);
    assert_eq!(transaction["out_trade_no"], "ORDER-0001");
    assert_eq!(transaction["trade_state"], "SUCCESS");
    assert_eq!(transaction["attach"], "table 7");
    assert_eq!(transaction["amount"]["payer_total"], 2_500);
    let transaction_id = transaction["transaction_id"].as_str().unwrap().to_owned();
    assert_eq!(transaction_id.len(), 28);
    let openid = payer.openid(&server, &merchant.appid).await;
    assert_eq!(transaction["payer"]["openid"], openid.as_str());
    assert!(
        transaction["success_time"]
            .as_str()
            .unwrap()
            .ends_with("+08:00")
    );

    // Both queries agree with the notification.
    let by_number = merchant.order(&server, "ORDER-0001").await;
    let by_id = merchant
        .get_ok(
            &server,
            &format!(
                "/v3/pay/transactions/id/{transaction_id}?mchid={}",
                merchant.mchid
            ),
        )
        .await;
    assert_eq!(by_id, by_number);
    assert_eq!(by_number["bank_type"], "OTHERS");

    // Two partial refunds, then one too many.
    let refund = |no: &str, amount: i64| {
        json!({
            "out_trade_no": "ORDER-0001",
            "out_refund_no": no,
            "reason": "spilled",
            "notify_url": sink.url,
            "amount": {"refund": amount, "total": 2_500, "currency": "CNY"},
        })
    };
    let first = merchant
        .post_ok(
            &server,
            "/v3/refund/domestic/refunds",
            &refund("R-1", 1_000),
        )
        .await;
    assert_eq!(first["status"], "SUCCESS");
    assert_eq!(first["funds_account"], "UNSETTLED");
    let repeat = merchant
        .post_ok(
            &server,
            "/v3/refund/domestic/refunds",
            &refund("R-1", 1_000),
        )
        .await;
    assert_eq!(
        repeat["refund_id"], first["refund_id"],
        "idempotent on out_refund_no"
    );
    merchant
        .post_ok(
            &server,
            "/v3/refund/domestic/refunds",
            &json!({
                "transaction_id": transaction_id,
                "out_refund_no": "R-2",
                "amount": {"refund": 500, "total": 2_500, "currency": "CNY"},
            }),
        )
        .await;
    let too_much = merchant
        .post(
            &server,
            "/v3/refund/domestic/refunds",
            &refund("R-3", 1_001),
        )
        .await;
    too_much.assert_error(400, "INVALID_REQUEST");
    let reused = merchant
        .post(&server, "/v3/refund/domestic/refunds", &refund("R-1", 900))
        .await;
    reused.assert_error(400, "INVALID_REQUEST");
    let queried = merchant
        .get_ok(&server, "/v3/refund/domestic/refunds/R-2")
        .await;
    assert_eq!(queried["amount"]["refund"], 500);
    let missing = merchant
        .get(&server, "/v3/refund/domestic/refunds/R-404")
        .await;
    missing.assert_error(404, "RESOURCE_NOT_EXISTS");
    assert_eq!(payer.balance(&server).await, 9_000);
    assert_eq!(
        merchant.order(&server, "ORDER-0001").await["trade_state"],
        "REFUND"
    );

    let received = sink.wait_for(2).await;
    let refund_note = received
        .iter()
        .map(Received::json)
        .find(|body| body["event_type"] == "REFUND.SUCCESS")
        .unwrap();
    assert_eq!(refund_note["resource"]["original_type"], "refund");
    let refund_resource = merchant.decrypt(&refund_note);
    assert_eq!(refund_resource["out_refund_no"], "R-1");
    assert_eq!(refund_resource["refund_status"], "SUCCESS");
    assert_eq!(refund_resource["amount"]["refund"], 1_000);

    // Nothing is settled today; tomorrow at 02:00 the day settles with its fee.
    assert_eq!(merchant.available_balance(&server).await, 0);
    let bill_query =
        |day: &str| format!("/v3/bill/tradebill?bill_date={day}&bill_type=ALL&tar_type=GZIP");
    let today = transaction["success_time"].as_str().unwrap()[..10].to_owned();
    assert_eq!(today, pinned.day);
    let not_yet = merchant.get(&server, &bill_query(&today)).await;
    not_yet.assert_error(400, "NO_STATEMENT_EXIST");
    server.advance_clock(DAY_MS + 3 * 3_600_000).await;
    // 2,500 paid, fee 0.6% = 15; refunds 1,500 took back 9 of the fee (rounded share).
    assert_eq!(
        merchant.available_balance(&server).await,
        2_500 - 15 - (1_500 - 9)
    );

    // The trade bill of the closed day: both payment and refund rows, hash of the
    // uncompressed file.
    let bill = merchant.get_ok(&server, &bill_query(&today)).await;
    assert_eq!(bill["hash_type"], "SHA1");
    let url = bill["download_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/v3/billdownload/file?token=", server.base_url)),
        "{url}"
    );
    let file = merchant.download(&server, url).await;
    let text = gunzip(&file);
    assert_eq!(
        plaza_wx::digest::sha1_hex(text.as_bytes()),
        bill["hash_value"].as_str().unwrap()
    );
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert!(
        lines[0].starts_with("交易时间,公众账号ID,商户号"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[0].split(',').count(), 27);
    assert!(
        lines[1].contains("`ORDER-0001")
            && lines[1].contains("`SUCCESS")
            && lines[1].contains("`25.00"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains("`0.15000") && lines[1].contains("`0.60%"),
        "{}",
        lines[1]
    );
    assert!(text.contains("`R-1") && text.contains("`REFUND"), "{text}");
    assert!(lines[4].starts_with("总交易单数"), "{}", lines[4]);
    assert!(lines[5].starts_with("`3,`25.00,`15.00"), "{}", lines[5]);

    // The fund-flow bill of the settlement day shows the settlement coming in.
    let settle_day = plaza_day_after(&today);
    let flow = merchant
        .get(
            &server,
            &format!("/v3/bill/fundflowbill?bill_date={settle_day}&account_type=BASIC"),
        )
        .await;
    // The settlement day is today on the moved clock: not closed yet.
    assert_eq!(flow.json()["code"], "NO_STATEMENT_EXIST", "{}", flow.text);
    server.advance_clock(DAY_MS).await;
    let flow = merchant
        .get_ok(
            &server,
            &format!("/v3/bill/fundflowbill?bill_date={settle_day}&account_type=BASIC"),
        )
        .await;
    let url = flow["download_url"].as_str().unwrap().to_owned();
    let plain = merchant.download(&server, &url).await;
    let plain = String::from_utf8(plain).unwrap();
    assert!(plain.starts_with("记账时间,微信支付业务单号"), "{plain}");
    assert!(plain.contains("`收入,`9.94"), "{plain}");
    server.assert_ledger_sound().await;
}

use plaza_testkit::pay::Received;

fn plaza_day_after(day: &str) -> String {
    let date: jiff::civil::Date = day.parse().unwrap();
    date.tomorrow().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_wechats_errors_signed_and_change_nothing() {
    let server = TestServer::sandbox(PLAZA);
    let merchant = Merchant::create(&server, "Strict Shop").await;
    let other = Merchant::create(&server, "Other Shop").await;
    let path = "/v3/pay/transactions/native";
    let body = native(
        &merchant,
        "GOOD-0001",
        100,
        "https://merchant.example/notify",
    )
    .to_string();

    // Authentication.
    let none = merchant.v3_raw(&server, "POST", path, &body, None).await;
    none.assert_error(401, "SIGN_ERROR");
    assert!(merchant.verifies(&none), "a refusal is signed");
    let stale = merchant.authorization("POST", path, &body, now_s() - 600);
    assert_eq!(
        merchant
            .v3_raw(&server, "POST", path, &body, Some(&stale))
            .await
            .status,
        401
    );
    let tampered = merchant.authorization("POST", path, &body.replace("100", "1"), now_s());
    assert_eq!(
        merchant
            .v3_raw(&server, "POST", path, &body, Some(&tampered))
            .await
            .status,
        401
    );
    let wrong_serial = merchant
        .authorization("POST", path, &body, now_s())
        .replace(
            &merchant.serial_no,
            "ABCDEF0123456789ABCDEF0123456789ABCDEF01",
        );
    assert_eq!(
        merchant
            .v3_raw(&server, "POST", path, &body, Some(&wrong_serial))
            .await
            .status,
        401
    );
    let garbled = merchant
        .v3_raw(
            &server,
            "POST",
            path,
            &body,
            Some("WECHATPAY2-SHA256-RSA2048 nonsense"),
        )
        .await;
    assert_eq!(garbled.status, 401);
    let unknown_mchid = merchant
        .authorization("POST", path, &body, now_s())
        .replace(&merchant.mchid, "1999999999");
    merchant
        .v3_raw(&server, "POST", path, &body, Some(&unknown_mchid))
        .await
        .assert_error(400, "MCH_NOT_EXISTS");
    // Parameters order does not matter (Go SDK order).
    let go_order = {
        let header = merchant.authorization("POST", path, &body, now_s());
        let parsed = plaza_wx::auth::parse_authorization(&header).unwrap();
        parsed.to_header_value(plaza_wx::auth::ParamOrder::Go)
    };
    assert_eq!(
        merchant
            .v3_raw(&server, "POST", path, &body, Some(&go_order))
            .await
            .status,
        200
    );

    // Parameters.
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"mchid": merchant.mchid, "description": "x", "out_trade_no": "BAD-0001", "notify_url": "https://a.example/n", "amount": {"total": 1}}),
            "/appid",
        ),
        (json!({"appid": merchant.appid}), "/description"),
        (
            json!({"appid": merchant.appid, "mchid": merchant.mchid, "description": "x", "out_trade_no": "BAD-0001", "notify_url": "https://a.example/n", "amount": {"total": "100"}}),
            "/amount/total",
        ),
        (
            json!({"appid": merchant.appid, "mchid": merchant.mchid, "description": "x", "out_trade_no": "BAD-0001", "notify_url": "https://a.example/n", "amount": {"total": 0}}),
            "/amount/total",
        ),
        (
            json!({"appid": merchant.appid, "mchid": merchant.mchid, "description": "x", "out_trade_no": "BAD-0001", "notify_url": "ftp://a.example/n", "amount": {"total": 1}}),
            "/notify_url",
        ),
        (
            json!({"appid": merchant.appid, "mchid": merchant.mchid, "description": "x", "out_trade_no": "BAD-0001", "notify_url": "https://a.example/n?x=1", "amount": {"total": 1}}),
            "/notify_url",
        ),
        (
            json!({"appid": merchant.appid, "mchid": other.mchid, "description": "x", "out_trade_no": "BAD-0001", "notify_url": "https://a.example/n", "amount": {"total": 1}}),
            "/mchid",
        ),
        (
            json!({"appid": merchant.appid, "mchid": merchant.mchid, "description": "x", "out_trade_no": "BAD 01", "notify_url": "https://a.example/n", "amount": {"total": 1}}),
            "/out_trade_no",
        ),
        (
            json!({"appid": merchant.appid, "mchid": merchant.mchid, "description": "x", "out_trade_no": "BAD-0001", "notify_url": "https://a.example/n", "amount": {"total": 1, "currency": "USD"}}),
            "/amount/currency",
        ),
        (
            json!({"appid": merchant.appid, "mchid": merchant.mchid, "description": "x", "out_trade_no": "BAD-0001", "notify_url": "https://a.example/n", "time_expire": "tomorrow", "amount": {"total": 1}}),
            "/time_expire",
        ),
    ];
    for (body, field) in cases {
        let reply = merchant.post(&server, path, &body).await;
        assert_eq!(
            reply.error_code(),
            (400, "PARAM_ERROR".to_owned()),
            "{field}: {}",
            reply.text
        );
        assert_eq!(reply.json()["detail"]["field"], field, "{}", reply.text);
        assert_eq!(reply.json()["detail"]["location"], "body");
        assert!(merchant.verifies(&reply));
    }
    let malformed = merchant.authorization("POST", path, "{", now_s());
    merchant
        .v3_raw(&server, "POST", path, "{", Some(&malformed))
        .await
        .assert_error(400, "PARAM_ERROR");
    let big = format!("{{\"description\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let big_auth = merchant.authorization("POST", path, &big, now_s());
    assert_eq!(
        merchant
            .v3_raw(&server, "POST", path, &big, Some(&big_auth))
            .await
            .status,
        400
    );
    let not_bound = merchant
        .post(&server, path, &json!({"appid": other.appid, "mchid": merchant.mchid, "description": "x", "out_trade_no": "BAD-0002", "notify_url": "https://a.example/n", "amount": {"total": 1}}))
        .await;
    not_bound.assert_error(400, "APPID_MCHID_NOT_MATCH");
    let jsapi_without_payer = merchant
        .post(
            &server,
            "/v3/pay/transactions/jsapi",
            &native(&merchant, "BAD-0003", 1, "https://a.example/n"),
        )
        .await;
    assert_eq!(
        jsapi_without_payer.json()["detail"]["field"],
        "/payer/openid"
    );
    let h5_without_scene = merchant
        .post(
            &server,
            "/v3/pay/transactions/h5",
            &native(&merchant, "BAD-0004", 1, "https://a.example/n"),
        )
        .await;
    assert_eq!(
        h5_without_scene.json()["detail"]["field"],
        "/scene_info/h5_info"
    );
    let no_mchid = merchant
        .get(&server, "/v3/pay/transactions/out-trade-no/GOOD-0001")
        .await;
    assert_eq!(
        (
            no_mchid.status,
            no_mchid.json()["detail"]["location"].as_str()
        ),
        (400, Some("query"))
    );
    let unknown = merchant.get(&server, "/v3/marketing/nothing-here").await;
    unknown.assert_error(404, "NOT_FOUND");
    assert!(merchant.verifies(&unknown));
    let order_404 = merchant.query_order(&server, "NOPE-0001").await;
    order_404.assert_error(404, "ORDER_NOT_EXIST");
    let foreign = other.query_order(&server, "GOOD-0001").await;
    assert_eq!(foreign.status, 404, "another merchant's order is invisible");

    // Nothing but GOOD-0001 exists.
    let orders = server
        .admin_get(&format!(
            "/api/v1/admin/merchants/{}/orders",
            merchant.mchid
        ))
        .await
        .json();
    let numbers: Vec<&str> = orders["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["out_trade_no"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["GOOD-0001"]);
    // Refunds of unpaid orders.
    let unpaid_refund = merchant
        .post(&server, "/v3/refund/domestic/refunds", &json!({"out_trade_no": "GOOD-0001", "out_refund_no": "RF-1", "amount": {"refund": 1, "total": 100, "currency": "CNY"}}))
        .await;
    unpaid_refund.assert_error(404, "RESOURCE_NOT_EXISTS");
    server.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn notifications_retry_on_schedule_and_a_hanging_merchant_blocks_no_one() {
    let (server, _pinned) = pinned_sandbox("10:00").await;
    let failing = NotifySink::start(SinkMode::Fail).await;
    let hanging = NotifySink::start(SinkMode::Hang).await;
    let healthy = NotifySink::start(SinkMode::Accept).await;
    let merchant = Merchant::create(&server, "Flaky Shop").await;
    let payer = Payer::create(&server, "Bob", 100_000).await;

    let hang_code = merchant
        .prepay_native(&server, &native(&merchant, "HANG-0001", 100, &hanging.url))
        .await;
    let fail_code = merchant
        .prepay_native(&server, &native(&merchant, "FAIL-0001", 100, &failing.url))
        .await;
    let ok_code = merchant
        .prepay_native(&server, &native(&merchant, "OKAY-0001", 100, &healthy.url))
        .await;
    payer.pay(&server, &hang_code).await;
    hanging.wait_for(1).await;
    // While that merchant hangs, the others are served at once.
    payer.pay(&server, &fail_code).await;
    payer.pay(&server, &ok_code).await;
    healthy.wait_for(1).await;
    failing.wait_for(1).await;

    // Failed deliveries come back at 15 s, 15 s, 30 s, 3 min … as the clock moves.
    for (step, expected) in [(15_000, 2), (15_000, 3), (30_000, 4), (180_000, 5)] {
        server.advance_clock(step).await;
        failing.wait_for(expected).await;
    }
    let listed = server
        .admin_get(&format!(
            "/api/v1/admin/merchants/{}/notifications",
            merchant.mchid
        ))
        .await
        .json();
    let failing_note = listed["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["notify_url"] == failing.url.as_str())
        .unwrap()
        .clone();
    assert_eq!(failing_note["state"], "pending");
    let attempts = failing_note["attempts"].as_array().unwrap();
    assert!(attempts.len() >= 5, "{failing_note}");
    assert_eq!(attempts[0]["status"], 500);
    assert!(
        attempts[0]["response_body"]
            .as_str()
            .unwrap()
            .contains("FAIL")
    );
    assert!(failing_note["next_attempt_at"].is_string());
    // Never before its time: the gaps between attempts (on the sandbox clock) follow
    // the schedule.
    let sent: Vec<i64> = attempts
        .iter()
        .map(|attempt| {
            let at: jiff::Timestamp = attempt["sent_at"].as_str().unwrap().parse().unwrap();
            at.as_second()
        })
        .collect();
    for (gap, delay_s) in sent
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .zip([15, 15, 30, 180])
    {
        assert!(
            gap >= delay_s - 1 && gap <= delay_s + 60,
            "gap {gap} s for a {delay_s} s retry: {sent:?}"
        );
    }
    // Every attempt is the same notification: same id, re-signed.
    let ids: Vec<String> = failing
        .received()
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(ids.windows(2).all(|pair| pair[0] == pair[1]), "{ids:?}");

    // The merchant recovers: the next retry is acknowledged and retries stop.
    failing.set_mode(SinkMode::Accept);
    server.advance_clock(600_000).await;
    let delivered = failing.wait_for(6).await.len();
    server.advance_clock(3_600_000).await;
    assert_eq!(
        failing.received().len(),
        delivered,
        "no retries after a 2xx"
    );
    let hang_state = server
        .admin_get(&format!(
            "/api/v1/admin/merchants/{}/notifications",
            merchant.mchid
        ))
        .await
        .json();
    let hang_note = hang_state["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["notify_url"] == hanging.url.as_str())
        .unwrap()
        .clone();
    assert!(
        hang_note["attempts"][0]["error"]
            .as_str()
            .unwrap_or("")
            .contains("no answer within 5 s"),
        "{hang_note}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notification_survives_a_restart_and_is_sent_after_it() {
    let sink = NotifySink::start(SinkMode::Fail).await;
    let (server, _pinned) = pinned_sandbox("10:00").await;
    let merchant = Merchant::create(&server, "Restart Shop").await;
    let payer = Payer::create(&server, "Carol", 1_000).await;
    let code_url = merchant
        .prepay_native(&server, &native(&merchant, "RESTART-01", 300, &sink.url))
        .await;
    payer.pay(&server, &code_url).await;
    sink.wait_for(1).await;
    let server = server.restart();
    sink.set_mode(SinkMode::Accept);
    server.advance_clock(15_000).await;
    let received = sink.wait_for(2).await;
    assert_eq!(received[0].json()["id"], received[1].json()["id"]);
    server.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn payers_need_money_the_right_password_and_the_right_openid() {
    let (server, _pinned) = pinned_sandbox("10:00").await;
    let merchant = Merchant::create(&server, "Careful Shop").await;
    let poor = Payer::create(&server, "Dan", 50).await;
    let rich = Payer::create(&server, "Eve", 10_000).await;
    let code_url = merchant
        .prepay_native(
            &server,
            &native(&merchant, "CARE-0001", 100, "https://m.example/n"),
        )
        .await;

    let short = poor.pay_code(&server, &code_url).await;
    short.assert_error(422, "insufficient_funds");
    assert_eq!(
        merchant.order(&server, "CARE-0001").await["trade_state"],
        "NOTPAY",
        "still payable"
    );

    // Wrong passwords count down, then lock paying for three hours.
    for attempts_left in (1..=4).rev() {
        let wrong = rich
            .post(
                &server,
                "/api/v1/pay/confirm",
                &json!({ "code_url": code_url, "password": "000000" }),
            )
            .await;
        assert_eq!(wrong.json()["code"], "wrong_password");
        assert!(
            wrong.json()["message"]
                .as_str()
                .unwrap()
                .contains(&if attempts_left == 1 {
                    "1 try left".to_owned()
                } else {
                    format!("{attempts_left} tries left")
                })
        );
    }
    let locked = rich
        .post(
            &server,
            "/api/v1/pay/confirm",
            &json!({ "code_url": code_url, "password": "000000" }),
        )
        .await;
    locked.assert_error(423, "password_locked");
    let still_locked = rich.pay_code(&server, &code_url).await;
    assert_eq!(
        still_locked.json()["code"],
        "password_locked",
        "even the right password"
    );
    server.advance_clock(3 * 3_600_000 + 1_000).await;
    // The order expired meanwhile (two hours by default) and closed itself.
    let expired = rich.pay_code(&server, &code_url).await;
    assert_eq!(
        expired.json()["code"],
        "order_not_payable",
        "{}",
        expired.text
    );
    assert_eq!(
        merchant.order(&server, "CARE-0001").await["trade_state"],
        "CLOSED"
    );

    // A JSAPI order is for one openid only.
    let openid = rich.openid(&server, &merchant.appid).await;
    let mut body = native(&merchant, "JSAPI-0001", 200, "https://m.example/n");
    body["payer"] = json!({ "openid": openid });
    let prepay = merchant
        .post_ok(&server, "/v3/pay/transactions/jsapi", &body)
        .await;
    let prepay_id = prepay["prepay_id"].as_str().unwrap().to_owned();
    assert!(prepay_id.starts_with("wx"));
    let stranger = poor
        .post(
            &server,
            "/api/v1/pay/confirm",
            &json!({ "prepay_id": prepay_id, "password": "123456" }),
        )
        .await;
    assert_eq!(stranger.json()["code"], "not_the_payer");
    rich.post_ok(
        &server,
        "/api/v1/pay/confirm",
        &json!({ "prepay_id": prepay_id, "password": "123456" }),
    )
    .await;
    let paid = merchant.order(&server, "JSAPI-0001").await;
    assert_eq!(
        (
            paid["trade_type"].as_str(),
            paid["payer"]["openid"].as_str()
        ),
        (Some("JSAPI"), Some(openid.as_str()))
    );
    // Paid orders cannot be closed or created again.
    let close = merchant
        .post(
            &server,
            "/v3/pay/transactions/out-trade-no/JSAPI-0001/close",
            &json!({ "mchid": merchant.mchid }),
        )
        .await;
    close.assert_error(400, "ORDERPAID");
    let again = merchant
        .post(&server, "/v3/pay/transactions/jsapi", &body)
        .await;
    assert_eq!(again.json()["code"], "ORDERPAID");
    server.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn public_key_mode_is_answered_with_the_public_key_id_and_followed_by_notifications() {
    let server = TestServer::sandbox(PLAZA);
    let sink = NotifySink::start(SinkMode::Accept).await;
    let mut merchant = Merchant::create(&server, "Modern Shop").await;
    let cert_reply = merchant.get(&server, "/v3/certificates").await;
    assert_eq!(
        cert_reply.header("wechatpay-serial"),
        merchant.credentials["platform_serial_no"].as_str()
    );
    let listed = cert_reply.json();
    let entry = &listed["data"][0];
    assert_eq!(
        entry["serial_no"],
        merchant.credentials["platform_serial_no"]
    );
    let pem = plaza_wx::aead::decrypt_resource(
        &merchant.apiv3_key,
        entry["encrypt_certificate"]["nonce"].as_str().unwrap(),
        "certificate",
        entry["encrypt_certificate"]["ciphertext"].as_str().unwrap(),
    )
    .unwrap();
    let certificate =
        plaza_wx::cert::parse_certificate_pem(std::str::from_utf8(&pem).unwrap()).unwrap();
    assert_eq!(certificate.public_key, merchant.platform_key);
    assert!(certificate.is_valid_at(now_s()));

    let public_key_id = merchant.credentials["public_key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(public_key_id.starts_with("PUB_KEY_ID_"));
    merchant.wechatpay_serial = Some(public_key_id.clone());
    let code_url = {
        let reply = merchant
            .post(
                &server,
                "/v3/pay/transactions/native",
                &native(&merchant, "PK-000001", 100, &sink.url),
            )
            .await;
        assert_eq!(
            reply.header("wechatpay-serial"),
            Some(public_key_id.as_str())
        );
        assert!(merchant.verifies(&reply));
        reply.json()["code_url"].as_str().unwrap().to_owned()
    };
    let payer = Payer::create(&server, "Fay", 500).await;
    payer.pay(&server, &code_url).await;
    let received = sink.wait_for(1).await;
    assert_eq!(
        received[0].header("wechatpay-serial"),
        Some(public_key_id.as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_cli_creates_merchants_and_users_on_a_running_plaza() {
    let server = TestServer::sandbox(PLAZA);
    let run = |args: &[&str]| {
        let output = std::process::Command::new(PLAZA)
            .args(args)
            .arg("--data-dir")
            .arg(&server.data_dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let merchant: Value = serde_json::from_str(&run(&[
        "admin", "merchant", "create", "--name", "CLI Shop", "--json",
    ]))
    .unwrap();
    for field in [
        "mchid",
        "appid",
        "cert_serial_no",
        "private_key",
        "apiv3_key",
        "public_key_id",
        "public_key",
        "gateway",
    ] {
        assert!(
            merchant[field]
                .as_str()
                .is_some_and(|text| !text.is_empty()),
            "{field} in {merchant}"
        );
    }
    assert_eq!(merchant["gateway"], server.base_url.as_str());
    assert_eq!(merchant["apiv3_key"].as_str().unwrap().len(), 32);
    let user: Value = serde_json::from_str(&run(&[
        "admin",
        "user",
        "create",
        "--name",
        "Gus",
        "--password",
        "654321",
        "--balance",
        "8.00",
        "--json",
    ]))
    .unwrap();
    // --balance is in yuan: 8.00 yuan is 800 fen.
    assert_eq!(
        (user["balance"].as_i64(), user["password"].as_str()),
        (Some(800), Some("654321"))
    );
    let text = run(&["admin", "merchant", "create", "--name", "Text Shop"]);
    assert!(
        text.contains("mchid:") && text.contains("apiv3_key:"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plaza_demo_seeds_merchants_payers_and_sdk_configs_once() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        let mut child = std::process::Command::new(PLAZA)
            .args(["demo", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut printed = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            printed.push_str(&line);
            printed.push('\n');
            if line.contains("Ctrl-C stops it") {
                break;
            }
        }
        std::thread::spawn(move || for _line in lines {});
        (child, printed)
    };
    let (mut child, printed) = start();
    let base = printed
        .lines()
        .find_map(|line| line.strip_prefix("plaza listening on "))
        .unwrap()
        .to_owned();
    assert!(printed.contains(&format!("{base}/merchant")), "{printed}");
    assert!(printed.contains("wechatpayv3"), "{printed}");
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("demo/harbour-coffee.json")).unwrap(),
    )
    .unwrap();
    for field in [
        "mchid",
        "appid",
        "private_key",
        "cert_serial_no",
        "apiv3_key",
        "public_key_id",
        "public_key",
    ] {
        assert!(config[field].is_string(), "{field}");
    }
    let token = std::fs::read_to_string(dir.path().join("admin.token")).unwrap();
    let client = plaza_testkit::http_client();
    let get = |path: &str| {
        client
            .get(format!("{base}{path}"))
            .bearer_auth(token.trim())
            .send()
    };
    let users: Value = get("/api/v1/admin/users")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Three payers, the collection-code owner, the mini program's developer, the WeCom
    // corp's two sales staff and the two Channels creators.
    assert_eq!(users["users"].as_array().unwrap().len(), 9);
    let corps: Value = get("/api/v1/admin/corps")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let corpid = corps["corps"][0]["corpid"].as_str().unwrap().to_owned();
    let corp: Value = get(&format!("/api/v1/admin/corps/{corpid}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(corp["members"], 2, "{corp}");
    assert!(dir.path().join("demo/wecom-corp.json").is_file());
    assert!(printed.contains(&format!("{base}/app/work")), "{printed}");
    let merchants: Value = get("/api/v1/admin/merchants")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = merchants["merchants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|merchant| merchant["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "direct",
            "direct",
            "direct",
            "provider",
            "sub_merchant",
            "micro",
            "direct"
        ],
        "the last is the mini program's merchant"
    );
    let provider: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("demo/provider.json")).unwrap(),
    )
    .unwrap();
    assert!(provider["sp_mchid"].is_string() && provider["sub_mchid"].is_string());
    assert!(printed.contains(&format!("{base}/console")), "{printed}");
    let orders: Value = get(&format!(
        "/api/v1/admin/merchants/{}/orders",
        config["mchid"].as_str().unwrap()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(orders["orders"][0]["trade_state"], "SUCCESS");
    child.kill().unwrap();
    child.wait().unwrap();

    // Again: the same data, nothing seeded twice.
    let (mut child, _) = start();
    let again: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("demo/harbour-coffee.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(again["mchid"], config["mchid"]);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn refunds_after_settlement_come_from_the_available_balance_and_need_it() {
    let (server, _pinned) = pinned_sandbox("10:00").await;
    let merchant = Merchant::create(&server, "Settled Shop").await;
    let payer = Payer::create(&server, "Hana", 100_000).await;
    for (no, total) in [("SET-000001", 10_000), ("SET-000002", 5_000)] {
        let code_url = merchant
            .prepay_native(
                &server,
                &native(&merchant, no, total, "https://m.example/n"),
            )
            .await;
        payer.pay(&server, &code_url).await;
    }
    server.advance_clock(DAY_MS + 3 * 3_600_000).await;
    // 15,000 paid; fees 60 + 30.
    assert_eq!(merchant.available_balance(&server).await, 15_000 - 90);
    let refund = |no: &str, order: &str, amount: i64, total: i64| {
        json!({
            "out_trade_no": order,
            "out_refund_no": no,
            "amount": {"refund": amount, "total": total, "currency": "CNY"},
        })
    };
    let first = merchant
        .post_ok(
            &server,
            "/v3/refund/domestic/refunds",
            &refund("SR-1", "SET-000001", 10_000, 10_000),
        )
        .await;
    assert_eq!(first["funds_account"], "AVAILABLE");
    assert_eq!(
        first["amount"]["refund_fee"], 60,
        "the whole fee comes back with a full refund"
    );
    assert_eq!(
        merchant.available_balance(&server).await,
        15_000 - 90 - (10_000 - 60)
    );
    assert_eq!(payer.balance(&server).await, 100_000 - 5_000);
    // The merchant holds 4,970, exactly what refunding the other order takes back from
    // it; an operator withdrawal of 100 leaves too little.
    let withdrawal = server
        .admin_post(
            "/api/v1/admin/ledger/transfers",
            &json!({"transfers": [{
                "id": "withdraw-1",
                "from": format!("mch:{}:available", merchant.mchid),
                "to": "bank:CNY",
                "amount_minor": 100,
            }]}),
        )
        .await;
    assert_eq!(withdrawal.status, 201, "{}", withdrawal.text);
    let short = merchant
        .post(
            &server,
            "/v3/refund/domestic/refunds",
            &refund("SR-2", "SET-000002", 5_000, 5_000),
        )
        .await;
    short.assert_error(403, "NOT_ENOUGH");
    let missing = merchant
        .get(&server, "/v3/refund/domestic/refunds/SR-2")
        .await;
    assert_eq!(
        missing.status, 404,
        "a refused refund leaves nothing behind"
    );
    let mismatch = merchant
        .post(
            &server,
            "/v3/refund/domestic/refunds",
            &refund("SR-3", "SET-000002", 100, 4_999),
        )
        .await;
    assert_eq!(mismatch.json()["code"], "INVALID_REQUEST");
    // Both numbers may be given, and must name the same order.
    let first_id = merchant.order(&server, "SET-000001").await["transaction_id"].clone();
    let mut crossed = refund("SR-4", "SET-000002", 100, 5_000);
    crossed["transaction_id"] = first_id;
    let crossed = merchant
        .post(&server, "/v3/refund/domestic/refunds", &crossed)
        .await;
    crossed.assert_error(404, "RESOURCE_NOT_EXISTS");
    let second_id = merchant.order(&server, "SET-000002").await["transaction_id"].clone();
    let mut both = refund("SR-5", "SET-000002", 100, 5_000);
    both["transaction_id"] = second_id;
    merchant
        .post_ok(&server, "/v3/refund/domestic/refunds", &both)
        .await;
    server.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn h5_and_app_orders_and_an_explicit_time_expire() {
    let (server, _pinned) = pinned_sandbox("10:00").await;
    let merchant = Merchant::create(&server, "Mobile Shop").await;
    let payer = Payer::create(&server, "Ivy", 10_000).await;

    let mut h5 = native(&merchant, "H5-0000001", 700, "https://m.example/n");
    h5["scene_info"] = json!({"payer_client_ip": "203.0.113.9", "h5_info": {"type": "iOS"}});
    let reply = merchant
        .post_ok(&server, "/v3/pay/transactions/h5", &h5)
        .await;
    let h5_url = reply["h5_url"].as_str().unwrap().to_owned();
    assert!(
        h5_url.starts_with(&format!("{}/pay/checkout?prepay_id=wx", server.base_url)),
        "{h5_url}"
    );
    let prepay_id = h5_url.split("prepay_id=").nth(1).unwrap().to_owned();
    let page = server
        .get(&format!("/pay/checkout?prepay_id={prepay_id}"))
        .await;
    assert!(
        page.text.contains("<title>Sign in"),
        "the checkout page asks for a sign-in first"
    );
    payer
        .post_ok(
            &server,
            "/api/v1/pay/confirm",
            &json!({ "prepay_id": prepay_id, "password": "123456" }),
        )
        .await;
    assert_eq!(
        merchant.order(&server, "H5-0000001").await["trade_type"],
        "MWEB"
    );

    let app = merchant
        .post_ok(
            &server,
            "/v3/pay/transactions/app",
            &native(&merchant, "APP-000001", 300, "https://m.example/n"),
        )
        .await;
    assert!(app["prepay_id"].as_str().unwrap().starts_with("wx"));
    assert_eq!(
        merchant.order(&server, "APP-000001").await["trade_type"],
        "APP"
    );

    // An order that expires in ten minutes closes itself then, and not before.
    let expire_at =
        plaza_testkit::clock::china_rfc3339((server.clock_now_ms().await / 1_000 + 600) * 1_000);
    let mut short_lived = native(&merchant, "SHORT-0001", 100, "https://m.example/n");
    short_lived["time_expire"] = json!(expire_at);
    let code_url = merchant.prepay_native(&server, &short_lived).await;
    server.advance_clock(540_000).await;
    assert_eq!(
        merchant.order(&server, "SHORT-0001").await["trade_state"],
        "NOTPAY"
    );
    server.advance_clock(120_000).await;
    assert_eq!(
        merchant.order(&server, "SHORT-0001").await["trade_state"],
        "CLOSED"
    );
    assert_eq!(
        payer.pay_code(&server, &code_url).await.json()["code"],
        "order_not_payable"
    );
    let past = {
        let mut body = native(&merchant, "PAST-00001", 100, "https://m.example/n");
        body["time_expire"] = json!("2020-01-01T00:00:00+08:00");
        merchant
            .post(&server, "/v3/pay/transactions/native", &body)
            .await
    };
    assert_eq!(past.json()["detail"]["field"], "/time_expire");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_notification_nobody_acknowledges_is_given_up_after_fifteen_retries() {
    let (server, _pinned) = pinned_sandbox("10:00").await;
    let sink = NotifySink::start(SinkMode::Fail).await;
    let merchant = Merchant::create(&server, "Deaf Shop").await;
    let payer = Payer::create(&server, "Jun", 1_000).await;
    let code_url = merchant
        .prepay_native(&server, &native(&merchant, "DEAF-00001", 100, &sink.url))
        .await;
    payer.pay(&server, &code_url).await;
    sink.wait_for(1).await;
    for (index, delay_s) in [
        15, 15, 30, 180, 600, 1_200, 1_800, 1_800, 1_800, 3_600, 10_800, 10_800, 10_800, 21_600,
        21_600,
    ]
    .into_iter()
    .enumerate()
    {
        server.advance_clock(delay_s * 1_000).await;
        sink.wait_for(index + 2).await;
    }
    server.advance_clock(DAY_MS).await;
    assert_eq!(
        sink.received().len(),
        16,
        "one delivery and fifteen retries, then no more"
    );
    let listed = server
        .admin_get(&format!(
            "/api/v1/admin/merchants/{}/notifications",
            merchant.mchid
        ))
        .await
        .json();
    let note = &listed["notifications"][0];
    assert_eq!(note["state"], "failed");
    assert_eq!(note["attempts"].as_array().unwrap().len(), 16);
    assert!(note["next_attempt_at"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_https_notify_url_is_tried_over_tls_and_a_failed_handshake_is_recorded() {
    let server = TestServer::sandbox(PLAZA);
    // A plain-HTTP server behind an https:// URL: the TLS handshake cannot succeed.
    let sink = NotifySink::start(SinkMode::Accept).await;
    let https_url = sink.url.replace("http://", "https://");
    let merchant = Merchant::create(&server, "TLS Shop").await;
    let payer = Payer::create(&server, "Kai", 1_000).await;
    let code_url = merchant
        .prepay_native(&server, &native(&merchant, "TLS-000001", 100, &https_url))
        .await;
    payer.pay(&server, &code_url).await;
    let mut attempts = Value::Null;
    for _ in 0..100 {
        let listed = server
            .admin_get(&format!(
                "/api/v1/admin/merchants/{}/notifications",
                merchant.mchid
            ))
            .await
            .json();
        attempts = listed["notifications"][0]["attempts"].clone();
        if attempts.as_array().is_some_and(|list| !list.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(attempts[0]["error"].is_string(), "{attempts}");
    assert!(attempts[0]["status"].is_null(), "{attempts}");
    assert!(sink.received().is_empty() || !sink.received()[0].body.contains("TRANSACTION"));
}

#[tokio::test(flavor = "multi_thread")]
async fn closed_orders_and_percent_encoded_targets() {
    let server = TestServer::sandbox(PLAZA);
    let merchant = Merchant::create(&server, "Closing Shop").await;
    merchant
        .prepay_native(
            &server,
            &native(&merchant, "CLOSE-0001", 100, "https://m.example/n"),
        )
        .await;
    let close = |no: &str| format!("/v3/pay/transactions/out-trade-no/{no}/close");
    let body = json!({ "mchid": merchant.mchid });
    let closed = merchant.post(&server, &close("CLOSE-0001"), &body).await;
    assert_eq!(closed.status, 204);
    assert!(closed.text.is_empty());
    assert!(merchant.verifies(&closed), "an empty 204 is signed too");
    let again = merchant.post(&server, &close("CLOSE-0001"), &body).await;
    assert_eq!(again.status, 204, "closing twice is fine");
    let missing = merchant.post(&server, &close("NOPE-00001"), &body).await;
    assert_eq!(missing.json()["code"], "ORDER_NOT_EXIST");
    let reopen = merchant
        .post(
            &server,
            "/v3/pay/transactions/native",
            &native(&merchant, "CLOSE-0001", 100, "https://m.example/n"),
        )
        .await;
    reopen.assert_error(400, "ORDER_CLOSED");

    // The Python SDK signs the target before percent-encoding it: the server accepts a
    // signature over the decoded target.
    let raw_target = "/v3/refund/domestic/refunds/退款单";
    let wire_target = "/v3/refund/domestic/refunds/%E9%80%80%E6%AC%BE%E5%8D%95";
    let authorization = merchant.authorization("GET", raw_target, "", now_s());
    let reply = merchant
        .v3_raw(&server, "GET", wire_target, "", Some(&authorization))
        .await;
    reply.assert_error(404, "RESOURCE_NOT_EXISTS");
    let wrong = merchant.authorization("GET", "/v3/refund/domestic/refunds/别的", "", now_s());
    let refused = merchant
        .v3_raw(&server, "GET", wire_target, "", Some(&wrong))
        .await;
    assert_eq!(refused.json()["code"], "SIGN_ERROR");
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_payers_and_racing_refunds_never_move_money_twice() {
    let server = TestServer::sandbox(PLAZA);
    let merchant = Merchant::create(&server, "Race Shop").await;
    let code_url = merchant
        .prepay_native(
            &server,
            &native(&merchant, "RACE-00001", 1_000, "https://m.example/n"),
        )
        .await;
    let mut payers = Vec::new();
    for index in 0..8 {
        payers.push(Payer::create(&server, &format!("Racer {index}"), 5_000).await);
    }
    let server = std::sync::Arc::new(server);
    let mut tasks = Vec::new();
    for payer in payers.clone() {
        let (server, code_url) = (server.clone(), code_url.clone());
        tasks.push(tokio::spawn(async move {
            payer.pay_code(&server, &code_url).await.status
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|status| **status == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|status| *status == 200 || *status == 409),
        "{statuses:?}"
    );
    let mut total_left = 0;
    for payer in &payers {
        total_left += payer.balance(&server).await;
    }
    assert_eq!(
        total_left,
        8 * 5_000 - 1_000,
        "exactly one payer was charged, once"
    );

    // Ten concurrent refunds of 300 each on a 1,000 order: at most three can fit.
    let mut tasks = Vec::new();
    for index in 0..10 {
        let (server, merchant) = (server.clone(), merchant.clone());
        tasks.push(tokio::spawn(async move {
            merchant
                .post(
                    &server,
                    "/v3/refund/domestic/refunds",
                    &json!({
                        "out_trade_no": "RACE-00001",
                        "out_refund_no": format!("RR-{index}"),
                        "amount": {"refund": 300, "total": 1_000, "currency": "CNY"},
                    }),
                )
                .await
                .status
        }));
    }
    let mut refunded = 0;
    for task in tasks {
        let status = task.await.unwrap();
        assert!(status == 200 || status == 400 || status == 429, "{status}");
        if status == 200 {
            refunded += 1;
        }
    }
    assert!(
        (1..=3).contains(&refunded),
        "{refunded} refunds of 300 on a 1,000 order"
    );
    let order = merchant.order(&server, "RACE-00001").await;
    assert_eq!(order["trade_state"], "REFUND");
    let mut total_after = 0;
    for payer in &payers {
        total_after += payer.balance(&server).await;
    }
    assert_eq!(total_after, total_left + refunded * 300);
    server.assert_ledger_sound().await;
}

/// Pays a Native order of `total` fen to a new merchant, on the day the clock was
/// `pinned` to, and answers the merchant.
async fn paid_order(server: &TestServer, pinned: &Pinned, total: i64, sink_url: &str) -> Merchant {
    let merchant = Merchant::create(server, "Night Owl Noodles").await;
    let payer = Payer::create(server, "Mei", 100_000).await;
    let code_url = merchant
        .prepay_native(server, &native(&merchant, "NIGHT-0001", total, sink_url))
        .await;
    payer.pay(server, &code_url).await;
    let transaction = merchant.order(server, "NIGHT-0001").await;
    assert_eq!(
        transaction["success_time"].as_str().unwrap()[..10],
        pinned.day,
        "{transaction}"
    );
    merchant
}

/// The fund-flow bill (BASIC) of `day`, downloaded and unpacked, or the error's code.
async fn fund_flow(server: &TestServer, merchant: &Merchant, day: &str) -> Result<String, String> {
    let reply = merchant
        .get(
            server,
            &format!("/v3/bill/fundflowbill?bill_date={day}&account_type=BASIC"),
        )
        .await;
    if reply.status != 200 {
        return Err(reply.json()["code"].as_str().unwrap_or("").to_owned());
    }
    let url = reply.json()["download_url"].as_str().unwrap().to_owned();
    let file = merchant.download(server, &url).await;
    Ok(String::from_utf8(file).unwrap())
}

/// Asserts that the payment of `paid_order`, made on `pinned`'s day, was settled at 02:00
/// the next day: on that day's fund-flow bill, booked at 02:00 and bringing
/// `income_yuan` in.
async fn assert_settled_at_two(
    server: &TestServer,
    merchant: &Merchant,
    pinned: &Pinned,
    income_yuan: &str,
) {
    let settle_day = pinned.day_plus(1);
    let flow = fund_flow(server, merchant, &settle_day).await.unwrap();
    assert!(
        flow.contains(&format!("`{settle_day} 02:00:00"))
            && flow.contains(&format!("`收入,`{income_yuan}")),
        "settled at 02:00 on {settle_day}, ¥{income_yuan} in: {flow}"
    );
}

/// A sandbox pinned at 10:00, where a merchant has just been paid ¥25.00 (`paid_order`).
async fn paid_at_ten() -> (TestServer, Pinned, Merchant) {
    let (server, pinned) = pinned_sandbox("10:00").await;
    let merchant = paid_order(&server, &pinned, 2_500, "https://m.example/n").await;
    (server, pinned, merchant)
}

/// Asserts, of the server of [`paid_at_ten`] started again 17 hours or more after the
/// payment, that the settlement due at 02:00 on the way ran before it listened, and (once
/// that day is over) is booked at 02:00.
async fn assert_caught_up_at_start(server: &TestServer, merchant: &Merchant, pinned: &Pinned) {
    assert_eq!(merchant.available_balance(server).await, 2_500 - 15);
    assert!(server.clock_now_ms().await >= pinned.at_ms + 17 * HOUR_MS);
    server.advance_clock(DAY_MS).await;
    assert_settled_at_two(server, merchant, pinned, "24.85").await;
}

/// Issue 11's repro: a payment at 22:25 with the clock moved two days is settled at
/// 02:00 the next day, where waiting would have settled it, and its income is on that
/// day's fund-flow bill.
#[tokio::test(flavor = "multi_thread")]
async fn a_two_day_move_settles_at_two_the_next_morning_as_waiting_would() {
    let (server, pinned) = pinned_sandbox("22:25").await;
    let merchant = paid_order(&server, &pinned, 2_500, "https://m.example/n").await;
    let moved = server.advance_clock(2 * DAY_MS).await;
    assert!(moved["jobs_run"].as_u64().unwrap() >= 1, "{moved}");
    assert!(moved["now_ms"].as_i64().unwrap() >= pinned.at_ms + 2 * DAY_MS);
    assert_eq!(merchant.available_balance(&server).await, 2_500 - 15);
    assert_settled_at_two(&server, &merchant, &pinned, "24.85").await;
    server.assert_ledger_sound().await;
}

/// The settlement-and-bills path from 23:30 China time: the day arithmetic holds at the
/// hour that used to break it.
#[tokio::test(flavor = "multi_thread")]
async fn settlement_and_bills_hold_for_a_payment_at_half_past_eleven_at_night() {
    let (server, pinned) = pinned_sandbox("23:30").await;
    let sink = NotifySink::start(SinkMode::Accept).await;
    let merchant = paid_order(&server, &pinned, 2_500, &sink.url).await;
    merchant
        .post_ok(
            &server,
            "/v3/refund/domestic/refunds",
            &json!({
                "out_trade_no": "NIGHT-0001",
                "out_refund_no": "NIGHT-R-1",
                "amount": {"refund": 1_000, "total": 2_500, "currency": "CNY"},
            }),
        )
        .await;

    // 02:31 the next day: the payment's day is over and settled.
    server.advance_clock(3 * HOUR_MS + 60_000).await;
    // 2,500 paid with a 15 fee; the 1,000 refund took back 6 of it.
    assert_eq!(
        merchant.available_balance(&server).await,
        2_500 - 15 - (1_000 - 6)
    );
    let bill = merchant
        .get_ok(
            &server,
            &format!("/v3/bill/tradebill?bill_date={}&bill_type=ALL", pinned.day),
        )
        .await;
    let url = bill["download_url"].as_str().unwrap().to_owned();
    let text = String::from_utf8(merchant.download(&server, &url).await).unwrap();
    assert!(
        text.contains("`NIGHT-0001") && text.contains("`NIGHT-R-1"),
        "{text}"
    );
    // The settlement day is not over yet; a day later its bill shows the settlement.
    assert_eq!(
        fund_flow(&server, &merchant, &pinned.day_plus(1)).await,
        Err("NO_STATEMENT_EXIST".to_owned())
    );
    server.advance_clock(DAY_MS).await;
    assert_settled_at_two(&server, &merchant, &pinned, "14.91").await;
    server.assert_ledger_sound().await;
}

/// Retries that come due during one clock move run inside it, each at its time on the
/// schedule, so a long move delivers every retry that waiting as long would.
#[tokio::test(flavor = "multi_thread")]
async fn retries_due_during_a_clock_move_run_inside_it_on_their_schedule() {
    let (server, pinned) = pinned_sandbox("10:00").await;
    let sink = NotifySink::start(SinkMode::Fail).await;
    let merchant = paid_order(&server, &pinned, 100, &sink.url).await;
    sink.wait_for(1).await;
    // The fifteen retries span a day and four minutes.
    server.advance_clock(2 * DAY_MS).await;
    assert_eq!(sink.wait_for(16).await.len(), 16);
    let listed = server
        .admin_get(&format!(
            "/api/v1/admin/merchants/{}/notifications",
            merchant.mchid
        ))
        .await
        .json();
    let note = &listed["notifications"][0];
    assert_eq!(note["state"], "failed", "{note}");
    let sent_ms: Vec<i64> = note["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| {
            let at: jiff::Timestamp = attempt["sent_at"].as_str().unwrap().parse().unwrap();
            at.as_millisecond()
        })
        .collect();
    let gaps_s: Vec<i64> = sent_ms
        .windows(2)
        .map(|pair| (pair[1] - pair[0]) / 1_000)
        .collect();
    // The first retry is 15 s after the first try ended; every later one exactly on
    // WeChat's schedule, since the clock reads each retry's due time while it runs.
    assert!(gaps_s[0] >= 15, "{gaps_s:?}");
    assert_eq!(
        gaps_s[1..],
        [
            15, 30, 180, 600, 1_200, 1_800, 1_800, 1_800, 3_600, 10_800, 10_800, 10_800, 21_600,
            21_600
        ],
        "{gaps_s:?}"
    );
}

/// A settlement due while the server was down runs when it starts again and, in the
/// sandbox, is booked at its due time (02:00), as if the server had been up.
#[tokio::test(flavor = "multi_thread")]
async fn a_settlement_missed_while_down_is_caught_up_at_start_and_booked_at_its_time() {
    let (server, pinned, merchant) = paid_at_ten().await;
    // 01:00 the next day: settlement is an hour away when the server goes down …
    server.set_clock(pinned.at_ms + 15 * HOUR_MS).await;
    assert_eq!(merchant.available_balance(&server).await, 0);
    let mut server = server;
    server.kill();
    // … and stays down two hours and a minute: the sandbox clock is the wall clock plus a
    // stored offset, so downtime is more offset. (The minute keeps the restart past 03:00
    // even where the wall clock itself restarts, as under `faketime`.)
    {
        let database = rusqlite::Connection::open(server.data_dir.join("plaza.sqlite3")).unwrap();
        let offset_ms: i64 = database
            .query_row(
                "SELECT value FROM plaza_meta WHERE key = 'sandbox_clock_offset_ms'",
                [],
                |row| row.get::<_, String>(0),
            )
            .unwrap()
            .parse()
            .unwrap();
        database
            .execute(
                "UPDATE plaza_meta SET value = ?1 WHERE key = 'sandbox_clock_offset_ms'",
                [(offset_ms + 2 * HOUR_MS + 60_000).to_string()],
            )
            .unwrap();
    }
    let server = server.restart();
    assert_caught_up_at_start(&server, &merchant, &pinned).await;
    assert!(
        server.log().contains("each at its due time"),
        "{}",
        server.log()
    );
    server.assert_ledger_sound().await;
}

/// `--sandbox-clock-start` starts a server at a known instant; jobs due on the way run
/// at their due times.
#[tokio::test(flavor = "multi_thread")]
async fn a_sandbox_started_at_a_later_instant_runs_what_came_due_on_the_way() {
    let (server, pinned, merchant) = paid_at_ten().await;
    let start_at = plaza_testkit::clock::china_rfc3339(pinned.at_ms + 17 * HOUR_MS);
    let server = server.restart_with(|options| options.arg("--sandbox-clock-start").arg(start_at));
    assert_caught_up_at_start(&server, &merchant, &pinned).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_clock_is_set_forward_only_to_an_rfc3339_instant() {
    let (server, pinned) = pinned_sandbox("10:00").await;
    let clock = server.clock().await;
    assert!(clock["now_ms"].as_i64().unwrap() >= pinned.at_ms);
    assert!(clock["now"].as_str().is_some());
    let back = server
        .admin_post(
            "/api/v1/sandbox/clock/set",
            &json!({ "to": plaza_testkit::clock::china_rfc3339(pinned.at_ms - HOUR_MS) }),
        )
        .await;
    back.assert_error(400, "clock_not_forward");
    let garbled = server
        .admin_post("/api/v1/sandbox/clock/set", &json!({ "to": "tomorrow" }))
        .await;
    garbled.assert_error(400, "invalid_field");
    let anonymous = plaza_testkit::send(
        plaza_testkit::http_client()
            .post(format!("{}/api/v1/sandbox/clock/set", server.base_url))
            .json(&json!({ "to": "2099-01-01T00:00:00Z" })),
    )
    .await
    .unwrap();
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    let forward = server.set_clock(pinned.at_ms + DAY_MS).await;
    assert!(forward["now_ms"].as_i64().unwrap() >= pinned.at_ms + DAY_MS);
}

/// Moves a payer's record back to the layout of data directories made before Pay kept
/// its own `pay.payer` record: the payer's fields inside the person's `pay.user` record.
fn to_the_older_layout(data_dir: &std::path::Path, user_id: &str) {
    let script = r#"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
(payer,) = db.execute("SELECT body FROM records WHERE kind = 'pay.payer' AND key = ?", (sys.argv[2],)).fetchone()
(person,) = db.execute("SELECT body FROM records WHERE kind = 'pay.user' AND key = ?", (sys.argv[2],)).fetchone()
merged = dict(json.loads(person), **json.loads(payer))
db.execute("UPDATE records SET body = ? WHERE kind = 'pay.user' AND key = ?", (json.dumps(merged), sys.argv[2]))
db.execute("DELETE FROM records WHERE kind = 'pay.payer' AND key = ?", (sys.argv[2],))
db.commit()
"#;
    let database = data_dir.join("plaza.sqlite3");
    let output = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(&database)
        .arg(user_id)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payer_from_an_older_data_directory_keeps_its_password_and_its_wrong_tries() {
    let (server, _pinned) = pinned_sandbox("10:00").await;
    let merchant = Merchant::create(&server, "Old Shop").await;
    let payer = Payer::create(&server, "Old Wang", 10_000).await;
    let code_url = merchant
        .prepay_native(
            &server,
            &native(&merchant, "OLD-0001", 100, "https://m.example/n"),
        )
        .await;
    let wrong = async |server: &TestServer| {
        payer
            .post(
                server,
                "/api/v1/pay/confirm",
                &json!({ "code_url": code_url, "password": "000000" }),
            )
            .await
    };
    let first = wrong(&server).await;
    assert!(first.text.contains("4 tries left"), "{}", first.text);

    let mut server = server;
    server.terminate();
    to_the_older_layout(&server.data_dir, &payer.user_id);
    let server = server.restart();

    // The wrong try counted before the upgrade still counts, and the next is written to
    // Pay's own record from then on.
    let second = wrong(&server).await;
    assert!(second.text.contains("3 tries left"), "{}", second.text);
    let third = wrong(&server).await;
    assert!(third.text.contains("2 tries left"), "{}", third.text);
    let paid = payer.pay(&server, &code_url).await;
    assert_eq!(paid["trade_state"], "SUCCESS", "{paid}");
    let users = server.admin_get("/api/v1/admin/users").await;
    assert!(users.text.contains("Old Wang"), "{}", users.text);
    server.assert_ledger_sound().await;
}
