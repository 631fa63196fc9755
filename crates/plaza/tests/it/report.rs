//! The operator's day report and console: every channel counted once, and the service
//! providers' share of offline volume computed from the day's real payments.

use plaza_testkit::TestServer;
use plaza_testkit::pay::{Merchant, Payer};
use serde_json::{Value, json};

use crate::PLAZA;

#[tokio::test(flavor = "multi_thread")]
async fn the_day_report_counts_each_channel_and_the_providers_offline_share() {
    let server = TestServer::sandbox(PLAZA);
    // Pinned, so the test's day arithmetic is the same at any hour.
    let _pinned = server.pin_clock("10:00").await;
    let shop = Merchant::create(&server, "Book Shop").await;
    let provider = Merchant::create_provider(&server, &json!({ "name": "Retail Services" })).await;
    let sub = provider
        .add_sub_merchant(&server, &json!({ "name": "Grocer" }))
        .await;
    let payer = Payer::create(&server, "Reader", 100_000).await;
    let owner = Payer::create(&server, "Stall Owner", 1).await;

    // Direct Native: 1,000.
    let code_url = shop
        .prepay_native(
            &server,
            &json!({
                "appid": shop.appid, "mchid": shop.mchid, "description": "Novel",
                "out_trade_no": "BOOK-0001", "notify_url": "https://m.example/n",
                "amount": {"total": 1_000},
            }),
        )
        .await;
    payer.pay(&server, &code_url).await;
    // Direct counter (payment code): 300.
    let code = payer.payment_code(&server).await;
    shop.post_ok(
        &server,
        "/v3/pay/transactions/codepay",
        &json!({
            "appid": shop.appid, "mchid": shop.mchid, "description": "Pen",
            "out_trade_no": "BOOK-0002", "payer": {"auth_code": code},
            "amount": {"total": 300},
        }),
    )
    .await;
    // Provider counter for its sub-merchant: 9,000 — and a provider Native: 500.
    let code = payer.payment_code(&server).await;
    provider
        .post_ok(
            &server,
            "/v3/pay/partner/transactions/codepay",
            &json!({
                "sp_appid": provider.appid, "sp_mchid": provider.mchid, "sub_mchid": sub,
                "description": "Vegetables", "out_trade_no": "GROC-0001",
                "payer": {"auth_code": code}, "amount": {"total": 9_000},
            }),
        )
        .await;
    let online = provider
        .post_ok(
            &server,
            "/v3/pay/partner/transactions/native",
            &json!({
                "sp_appid": provider.appid, "sp_mchid": provider.mchid, "sub_mchid": sub,
                "description": "Delivery", "out_trade_no": "GROC-0002",
                "notify_url": "https://m.example/n", "amount": {"total": 500},
            }),
        )
        .await;
    let code_url = online["code_url"].as_str().unwrap().to_owned();
    payer.pay(&server, &code_url).await;
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
    payer
        .post_ok(
            &server,
            "/api/v1/pay/collect",
            &json!({
                "token": token, "amount": 700, "password": "123456", "client_ref": "report-0001",
            }),
        )
        .await;
    // An unpaid order counts nowhere.
    shop.prepay_native(
        &server,
        &json!({
            "appid": shop.appid, "mchid": shop.mchid, "description": "Unpaid",
            "out_trade_no": "BOOK-0003", "notify_url": "https://m.example/n",
            "amount": {"total": 99_999},
        }),
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
