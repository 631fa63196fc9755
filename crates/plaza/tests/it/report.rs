//! The operator's day report and console: every channel counted once, and the service
//! providers' share of offline volume computed from the day's real payments.

use plaza_testkit::pay::{Merchant, Payer};
use plaza_testkit::{ServerOptions, TestServer};
use serde_json::{Value, json};

use crate::PLAZA;

fn sandbox() -> TestServer {
    ServerOptions::new(PLAZA).sandbox().start()
}

async fn payment_code(server: &TestServer, payer: &Payer) -> String {
    let reply = payer
        .post(server, "/api/v1/me/payment-code", &json!({}))
        .await;
    reply.json()["code"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_day_report_counts_each_channel_and_the_providers_offline_share() {
    let server = sandbox();
    // Pinned, so the test's day arithmetic is the same at any hour.
    let _pinned = server.pin_clock("10:00").await;
    let shop = Merchant::create(&server, "Book Shop").await;
    let provider = Merchant::create_provider(&server, &json!({ "name": "Retail Services" })).await;
    let sub = server
        .admin_post(
            &format!("/api/v1/admin/providers/{}/sub-merchants", provider.mchid),
            &json!({ "name": "Grocer" }),
        )
        .await
        .json()["sub_mchid"]
        .as_str()
        .unwrap()
        .to_owned();
    let payer = Payer::create(&server, "Reader", 100_000).await;
    let owner = Payer::create(&server, "Stall Owner", 1).await;

    // Direct Native: 1,000.
    let native = shop
        .v3(
            &server,
            "POST",
            "/v3/pay/transactions/native",
            Some(&json!({
                "appid": shop.appid, "mchid": shop.mchid, "description": "Novel",
                "out_trade_no": "BOOK-0001", "notify_url": "https://m.example/n",
                "amount": {"total": 1_000},
            })),
        )
        .await;
    let code_url = native.json()["code_url"].as_str().unwrap().to_owned();
    assert_eq!(payer.pay_code(&server, &code_url).await.status, 200);
    // Direct counter (payment code): 300.
    let code = payment_code(&server, &payer).await;
    let counter = shop
        .v3(
            &server,
            "POST",
            "/v3/pay/transactions/codepay",
            Some(&json!({
                "appid": shop.appid, "mchid": shop.mchid, "description": "Pen",
                "out_trade_no": "BOOK-0002", "payer": {"auth_code": code},
                "amount": {"total": 300},
            })),
        )
        .await;
    assert_eq!(counter.status, 200, "{}", counter.text);
    // Provider counter for its sub-merchant: 9,000 — and a provider Native: 500.
    let code = payment_code(&server, &payer).await;
    let provided = provider
        .v3(
            &server,
            "POST",
            "/v3/pay/partner/transactions/codepay",
            Some(&json!({
                "sp_appid": provider.appid, "sp_mchid": provider.mchid, "sub_mchid": sub,
                "description": "Vegetables", "out_trade_no": "GROC-0001",
                "payer": {"auth_code": code}, "amount": {"total": 9_000},
            })),
        )
        .await;
    assert_eq!(provided.status, 200, "{}", provided.text);
    let online = provider
        .v3(
            &server,
            "POST",
            "/v3/pay/partner/transactions/native",
            Some(&json!({
                "sp_appid": provider.appid, "sp_mchid": provider.mchid, "sub_mchid": sub,
                "description": "Delivery", "out_trade_no": "GROC-0002",
                "notify_url": "https://m.example/n", "amount": {"total": 500},
            })),
        )
        .await;
    let code_url = online.json()["code_url"].as_str().unwrap().to_owned();
    assert_eq!(payer.pay_code(&server, &code_url).await.status, 200);
    // A collection code: 700.
    let token = owner
        .post(
            &server,
            "/api/v1/me/collection-code",
            &json!({ "name": "Fruit Stall" }),
        )
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let collected = payer
        .post(
            &server,
            "/api/v1/pay/collect",
            &json!({ "token": token, "amount": 700, "password": "123456", "client_ref": "report-0001" }),
        )
        .await;
    assert_eq!(collected.status, 200, "{}", collected.text);
    // An unpaid order counts nowhere.
    shop.v3(
        &server,
        "POST",
        "/v3/pay/transactions/native",
        Some(&json!({
            "appid": shop.appid, "mchid": shop.mchid, "description": "Unpaid",
            "out_trade_no": "BOOK-0003", "notify_url": "https://m.example/n",
            "amount": {"total": 99_999},
        })),
    )
    .await;

    let reply = server.admin_get("/api/v1/admin/reports/day").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let report: Value = reply.json();
    let channel = |name: &str| {
        (
            report["channels"][name]["payments"].as_u64().unwrap(),
            report["channels"][name]["volume"].as_i64().unwrap(),
        )
    };
    assert_eq!(channel("direct"), (1, 1_000), "{report}");
    assert_eq!(channel("payment_code"), (1, 300));
    assert_eq!(channel("service_provider"), (2, 9_500));
    assert_eq!(channel("collection_code"), (1, 700));
    assert_eq!(report["total"]["payments"], 5);
    assert_eq!(report["total"]["volume"], 11_500);
    // Offline: 300 + 9,000 + 700 = 10,000, of which providers handled 9,000: 90%.
    assert_eq!(report["offline"]["volume"], 10_000);
    assert_eq!(
        report["offline"]["through_service_providers"]["volume"],
        9_000
    );
    assert_eq!(report["offline"]["service_provider_share_bps"], 9_000);
    assert_eq!(report["offline"]["service_provider_share"], "90.00%");

    // Another day has nothing; a bad day is refused.
    let empty = server
        .admin_get("/api/v1/admin/reports/day?day=2020-01-01")
        .await
        .json();
    assert_eq!(empty["total"]["payments"], 0);
    assert_eq!(empty["offline"]["service_provider_share"], "0.00%");
    let bad = server
        .admin_get("/api/v1/admin/reports/day?day=yesterday")
        .await;
    assert_eq!(bad.json()["code"], "invalid_field");

    // The console page shows the same figures to the operator only.
    let client = plaza_testkit::http_client();
    let anonymous = client
        .get(format!("{}/console", server.base_url))
        .send()
        .await
        .unwrap();
    assert!(
        anonymous.url().path().starts_with("/signin"),
        "{}",
        anonymous.url()
    );
    let page = server.operator_page("/console").await;
    assert!(page.contains("id=\"provider-share\">90.00%"), "{page}");
    assert!(page.contains("id=\"total-volume\">¥115.00"), "{page}");
    assert!(page.contains("id=\"channel-service_provider\""), "{page}");
}
