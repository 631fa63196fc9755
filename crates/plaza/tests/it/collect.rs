//! Collection codes (收款码): a user opens a static code, a payer pays through it with
//! the password, the owner's event stream sees the payment at once, and the daily
//! summary and settlement add up.

use std::time::Duration;

use plaza_testkit::TestServer;
use plaza_testkit::pay::Payer;
use serde_json::{Value, json};

use crate::PLAZA;

fn pay_body(token: &str, amount: i64, client_ref: &str, password: &str) -> Value {
    json!({
        "token": token, "amount": amount, "note": "猪肉 2 斤",
        "password": password, "client_ref": client_ref,
    })
}

/// Reads server-sent events until one named `name` arrives; returns its data.
async fn next_event(response: &mut reqwest::Response, buffer: &mut String, name: &str) -> Value {
    // Bounded: at most this many events or chunks, each within 10 s.
    for _ in 0..1_000 {
        if let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut event = "";
            let mut data = String::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    event = value.trim();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim());
                }
            }
            if event == name {
                return serde_json::from_str(&data).unwrap();
            }
            continue;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .expect("the stream stays open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
    panic!("no {name} event among 1,000 events and chunks");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payer_pays_a_collection_code_and_the_owner_sees_it_live() {
    let server = TestServer::sandbox(PLAZA);
    // Pinned, so the test's day arithmetic is the same at any hour.
    let _pinned = server.pin_clock("10:00").await;
    let owner = Payer::create(&server, "Zhang San", 1).await;
    let payer = Payer::create(&server, "Bai Li", 10_000).await;

    let opened = owner
        .post(
            &server,
            "/api/v1/me/collection-code",
            &json!({ "name": "Zhang's Pork Stall" }),
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let code = opened.json();
    let token = code["token"].as_str().unwrap().to_owned();
    assert!(
        code["pay_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/pay/collect/{token}"))
    );
    assert_eq!(code["fee_rate_bps"], 38);
    let again = owner
        .post(&server, "/api/v1/me/collection-code", &json!({}))
        .await;
    assert_eq!(again.status, 200, "opening twice returns the same code");
    assert_eq!(again.json()["token"], token.as_str());

    // The payer sees whose code it is.
    let info = payer
        .get(&server, &format!("/api/v1/collect/{token}"))
        .await;
    assert_eq!(info.json()["name"], "Zhang's Pork Stall");

    // The owner listens; the payer pays; the event arrives.
    let mut stream = plaza_testkit::http_client()
        .get(format!(
            "{}/api/v1/me/collection-code/events",
            server.base_url
        ))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let wrong = payer
        .post(
            &server,
            "/api/v1/pay/collect",
            &pay_body(&token, 1_234, "ref-00000001", "000000"),
        )
        .await;
    assert_eq!(wrong.json()["code"], "wrong_password", "{}", wrong.text);
    let paid = payer
        .post_ok(
            &server,
            "/api/v1/pay/collect",
            &pay_body(&token, 1_234, "ref-00000001", "123456"),
        )
        .await;
    assert_eq!(paid["trade_state"], "SUCCESS");
    assert_eq!(paid["merchant_name"], "Zhang's Pork Stall");
    let mut buffer = String::new();
    let event = next_event(&mut stream, &mut buffer, "payment").await;
    assert_eq!(event["amount"], 1_234);
    assert_eq!(event["note"], "猪肉 2 斤");
    assert_eq!(event["payer"], "B**");
    assert_eq!(event["transaction_id"], paid["transaction_id"]);

    // The same page submitting twice pays once.
    let twice = payer
        .post_ok(
            &server,
            "/api/v1/pay/collect",
            &pay_body(&token, 1_234, "ref-00000001", "123456"),
        )
        .await;
    assert_eq!(twice["transaction_id"], paid["transaction_id"]);
    assert_eq!(payer.balance(&server).await, 10_000 - 1_234);

    // Refusals.
    let own = owner
        .post(
            &server,
            "/api/v1/pay/collect",
            &pay_body(&token, 100, "ref-00000002", "123456"),
        )
        .await;
    assert_eq!(own.json()["code"], "business_rule", "{}", own.text);
    let unknown = payer
        .post(
            &server,
            "/api/v1/pay/collect",
            &pay_body("nope", 100, "ref-00000003", "123456"),
        )
        .await;
    assert_eq!(
        unknown.json()["code"],
        "collection_code_not_found",
        "{}",
        unknown.text
    );
    let zero = payer
        .post(
            &server,
            "/api/v1/pay/collect",
            &pay_body(&token, 0, "ref-00000004", "123456"),
        )
        .await;
    assert_eq!(zero.json()["code"], "invalid_field", "{}", zero.text);
    let broke = Payer::create(&server, "Empty", 50).await;
    let short = broke
        .post(
            &server,
            "/api/v1/pay/collect",
            &pay_body(&token, 100, "ref-00000005", "123456"),
        )
        .await;
    assert_eq!(short.json()["code"], "insufficient_funds", "{}", short.text);
    let not_open = payer.get(&server, "/api/v1/me/collection-code").await;
    assert_eq!(not_open.json()["code"], "collection_code_not_open");

    // Today's summary: one payment, the 0.38% fee rounded.
    let mine = owner
        .get(&server, "/api/v1/me/collection-code")
        .await
        .json();
    assert_eq!(mine["today"]["payments"], 1, "{mine}");
    assert_eq!(mine["today"]["total"], 1_234);
    assert_eq!(mine["today"]["fee"], 5);
    assert_eq!(mine["today"]["net"], 1_229);
    assert_eq!(mine["today"]["received"][0]["payer"], "B**");

    // Settlement pays the micro-merchant like any merchant.
    let advanced = server
        .admin_post(
            "/api/v1/sandbox/clock/advance",
            &json!({ "by_ms": 86_400_000 + 3 * 3_600_000 }),
        )
        .await;
    assert_eq!(advanced.status, 200);
    let mchid = code["mchid"].as_str().unwrap();
    let merchant = server
        .admin_get(&format!("/api/v1/admin/merchants/{mchid}"))
        .await
        .json();
    assert_eq!(merchant["available_balance"], 1_229);
    assert_eq!(merchant["kind"], "micro");
    server.assert_ledger_sound().await;
}
