//! Profit sharing (分账) over the APIv3 wire: receivers, splits within the ratio, returns,
//! unfreezing, refunds of frozen orders, and every refusal — each move checked in the
//! ledger, which stays sound.

use plaza_testkit::pay::{Merchant, Payer};
use plaza_testkit::{Reply, ServerOptions, TestServer};
use serde_json::{Value, json};

use crate::PLAZA;

fn sandbox() -> TestServer {
    ServerOptions::new(PLAZA).sandbox().start()
}

fn error_code(reply: &Reply) -> (u16, String) {
    (
        reply.status,
        reply.json()["code"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn available(server: &TestServer, mchid: &str) -> i64 {
    server
        .admin_get(&format!("/api/v1/admin/merchants/{mchid}"))
        .await
        .json()["available_balance"]
        .as_i64()
        .unwrap()
}

/// A paid Native order; returns its transaction id.
async fn paid_order(
    server: &TestServer,
    merchant: &Merchant,
    payer: &Payer,
    no: &str,
    total: i64,
    profit_sharing: bool,
) -> String {
    let reply = merchant
        .v3(
            server,
            "POST",
            "/v3/pay/transactions/native",
            Some(&json!({
                "appid": merchant.appid, "mchid": merchant.mchid, "description": "Tour package",
                "out_trade_no": no, "notify_url": "https://m.example/notify",
                "amount": {"total": total}, "settle_info": {"profit_sharing": profit_sharing},
            })),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let paid = payer
        .pay_code(server, reply.json()["code_url"].as_str().unwrap())
        .await;
    assert_eq!(paid.status, 200, "{}", paid.text);
    paid.json()["transaction_id"].as_str().unwrap().to_owned()
}

async fn unsplit(server: &TestServer, merchant: &Merchant, transaction_id: &str) -> i64 {
    let reply = merchant
        .v3(
            server,
            "GET",
            &format!("/v3/profitsharing/transactions/{transaction_id}/amounts"),
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["unsplit_amount"].as_i64().unwrap()
}

fn split_body(merchant: &Merchant, transaction_id: &str, no: &str, lines: Value) -> Value {
    json!({
        "appid": merchant.appid, "transaction_id": transaction_id, "out_order_no": no,
        "receivers": lines, "unfreeze_unsplit": false,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_order_is_split_within_the_ratio_returned_and_unfrozen() {
    let server = sandbox();
    let agency = Merchant::create(&server, "Travel Agency").await;
    let guide = Merchant::create(&server, "Mountain Guides").await;
    let tourist = Payer::create(&server, "Tourist", 50_000).await;
    let driver = Payer::create(&server, "Driver", 1).await;

    // Receivers: a merchant (name encrypted with the platform key) and a user by openid.
    let add = |body: Value| {
        let agency = &agency;
        let server = &server;
        async move {
            agency
                .v3(
                    server,
                    "POST",
                    "/v3/profitsharing/receivers/add",
                    Some(&body),
                )
                .await
        }
    };
    let encrypted = |name: &str| {
        agency
            .platform_key
            .encrypt_oaep_sha1(name.as_bytes())
            .unwrap()
    };
    let wrong_name = add(json!({
        "appid": agency.appid, "type": "MERCHANT_ID", "account": guide.mchid,
        "name": encrypted("Someone Else"), "relation_type": "PARTNER",
    }))
    .await;
    assert_eq!(error_code(&wrong_name), (400, "PARAM_ERROR".to_owned()));
    assert_eq!(wrong_name.json()["detail"]["field"], "/name");
    let added = add(json!({
        "appid": agency.appid, "type": "MERCHANT_ID", "account": guide.mchid,
        "name": encrypted("Mountain Guides"), "relation_type": "PARTNER",
    }))
    .await;
    assert_eq!(added.status, 200, "{}", added.text);
    assert!(agency.verifies(&added));
    assert_eq!(added.json()["account"], guide.mchid.as_str());
    let driver_openid = driver
        .get(
            &server,
            &format!("/api/v1/me/openid?appid={}", agency.appid),
        )
        .await
        .json()["openid"]
        .as_str()
        .unwrap()
        .to_owned();
    let added = add(json!({
        "appid": agency.appid, "type": "PERSONAL_OPENID", "account": driver_openid,
        "relation_type": "STAFF",
    }))
    .await;
    assert_eq!(added.status, 200, "{}", added.text);
    let stranger = add(json!({
        "appid": agency.appid, "type": "PERSONAL_OPENID", "account": "o-nobody",
        "relation_type": "STAFF",
    }))
    .await;
    assert_eq!(error_code(&stranger), (400, "PARAM_ERROR".to_owned()));

    // Paid with profit sharing: the net (10,000 less the 60 fee) is frozen.
    let transaction_id = paid_order(&server, &agency, &tourist, "TOUR-0001", 10_000, true).await;
    assert_eq!(unsplit(&server, &agency, &transaction_id).await, 9_940);

    let lines = json!([
        {"type": "MERCHANT_ID", "account": guide.mchid, "amount": 2_000, "description": "guiding"},
        {"type": "PERSONAL_OPENID", "account": driver_openid, "amount": 500, "description": "driving"},
    ]);
    let body = split_body(&agency, &transaction_id, "PS-0001", lines);
    let split = agency
        .v3(&server, "POST", "/v3/profitsharing/orders", Some(&body))
        .await;
    assert_eq!(split.status, 200, "{}", split.text);
    let entity = split.json();
    assert_eq!(entity["state"], "FINISHED");
    assert_eq!(entity["receivers"][0]["result"], "SUCCESS");
    assert_eq!(entity["receivers"][1]["amount"], 500);
    assert_eq!(available(&server, &guide.mchid).await, 2_000);
    assert_eq!(driver.balance(&server).await, 501);
    assert_eq!(unsplit(&server, &agency, &transaction_id).await, 7_440);
    // The same request again answers the same split; other content is refused.
    let again = agency
        .v3(&server, "POST", "/v3/profitsharing/orders", Some(&body))
        .await;
    assert_eq!(again.json()["order_id"], entity["order_id"]);
    let other = split_body(
        &agency,
        &transaction_id,
        "PS-0001",
        json!([{"type": "MERCHANT_ID", "account": guide.mchid, "amount": 1, "description": "x"}]),
    );
    let reused = agency
        .v3(&server, "POST", "/v3/profitsharing/orders", Some(&other))
        .await;
    assert_eq!(error_code(&reused), (400, "INVALID_REQUEST".to_owned()));

    // At most 30% of the order goes to others: 2,500 given, 600 more is too much.
    let over = split_body(
        &agency,
        &transaction_id,
        "PS-0002",
        json!([{"type": "MERCHANT_ID", "account": guide.mchid, "amount": 600, "description": "bonus"}]),
    );
    let refused = agency
        .v3(&server, "POST", "/v3/profitsharing/orders", Some(&over))
        .await;
    assert_eq!(
        error_code(&refused),
        (400, "INVALID_REQUEST".to_owned()),
        "{}",
        refused.text
    );
    assert_eq!(available(&server, &guide.mchid).await, 2_000);
    // A receiver that was not added.
    let unknown = split_body(
        &agency,
        &transaction_id,
        "PS-0003",
        json!([{"type": "MERCHANT_ID", "account": agency.mchid, "amount": 10, "description": "x"}]),
    );
    let refused = agency
        .v3(&server, "POST", "/v3/profitsharing/orders", Some(&unknown))
        .await;
    assert_eq!(error_code(&refused), (400, "INVALID_REQUEST".to_owned()));

    let queried = agency
        .v3(
            &server,
            "GET",
            &format!("/v3/profitsharing/orders/PS-0001?transaction_id={transaction_id}"),
            None,
        )
        .await;
    assert_eq!(queried.status, 200, "{}", queried.text);
    assert_eq!(queried.json()["order_id"], entity["order_id"]);

    // The guide returns 300 of its 2,000; it cannot return more than it got.
    let back = |no: &str, amount: i64| {
        json!({
            "out_order_no": "PS-0001", "out_return_no": no, "return_mchid": guide.mchid,
            "amount": amount, "description": "overpaid",
        })
    };
    let returned = agency
        .v3(
            &server,
            "POST",
            "/v3/profitsharing/return-orders",
            Some(&back("RT-0001", 300)),
        )
        .await;
    assert_eq!(returned.status, 200, "{}", returned.text);
    assert_eq!(returned.json()["result"], "SUCCESS");
    assert_eq!(available(&server, &guide.mchid).await, 1_700);
    assert_eq!(available(&server, &agency.mchid).await, 300);
    let too_much = agency
        .v3(
            &server,
            "POST",
            "/v3/profitsharing/return-orders",
            Some(&back("RT-0002", 1_701)),
        )
        .await;
    assert_eq!(error_code(&too_much), (400, "INVALID_REQUEST".to_owned()));
    let found = agency
        .v3(
            &server,
            "GET",
            "/v3/profitsharing/return-orders/RT-0001?out_order_no=PS-0001",
            None,
        )
        .await;
    assert_eq!(found.json()["amount"], 300, "{}", found.text);

    // Unfreeze the rest to the agency; nothing more can be split.
    let unfrozen = agency
        .v3(
            &server,
            "POST",
            "/v3/profitsharing/orders/unfreeze",
            Some(&json!({
                "transaction_id": transaction_id, "out_order_no": "PS-UNFREEZE",
                "description": "解冻全部剩余资金",
            })),
        )
        .await;
    assert_eq!(unfrozen.status, 200, "{}", unfrozen.text);
    assert_eq!(unfrozen.json()["receivers"][0]["amount"], 7_440);
    assert_eq!(unsplit(&server, &agency, &transaction_id).await, 0);
    assert_eq!(available(&server, &agency.mchid).await, 300 + 7_440);
    let late = split_body(
        &agency,
        &transaction_id,
        "PS-0004",
        json!([{"type": "MERCHANT_ID", "account": guide.mchid, "amount": 1, "description": "x"}]),
    );
    let refused = agency
        .v3(&server, "POST", "/v3/profitsharing/orders", Some(&late))
        .await;
    assert_eq!(error_code(&refused), (400, "INVALID_REQUEST".to_owned()));

    // An order paid without profit sharing cannot be split.
    let plain = paid_order(&server, &agency, &tourist, "TOUR-0002", 1_000, false).await;
    let refused = agency
        .v3(
            &server,
            "POST",
            "/v3/profitsharing/orders",
            Some(&split_body(
                &agency,
                &plain,
                "PS-0005",
                json!([{"type": "MERCHANT_ID", "account": guide.mchid, "amount": 1, "description": "x"}]),
            )),
        )
        .await;
    assert_eq!(error_code(&refused), (400, "INVALID_REQUEST".to_owned()));
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("非分账订单")
    );

    // A frozen order refunds from its frozen share.
    let frozen = paid_order(&server, &agency, &tourist, "TOUR-0003", 5_000, true).await;
    let refund = agency
        .v3(
            &server,
            "POST",
            "/v3/refund/domestic/refunds",
            Some(&json!({
                "transaction_id": frozen, "out_refund_no": "TR-0003",
                "amount": {"refund": 1_000, "total": 5_000, "currency": "CNY"},
            })),
        )
        .await;
    assert_eq!(refund.status, 200, "{}", refund.text);
    // Fee 30 on 5,000; the refund returns 6 of it: 994 came out of the frozen 4,970.
    assert_eq!(unsplit(&server, &agency, &frozen).await, 4_970 - 994);

    // Beyond what is still frozen (a refund took most of it): NOT_ENOUGH, nothing moves.
    let mostly_refunded = paid_order(&server, &agency, &tourist, "TOUR-0004", 10_000, true).await;
    let refund = agency
        .v3(
            &server,
            "POST",
            "/v3/refund/domestic/refunds",
            Some(&json!({
                "transaction_id": mostly_refunded, "out_refund_no": "TR-0004",
                "amount": {"refund": 9_000, "total": 10_000, "currency": "CNY"},
            })),
        )
        .await;
    assert_eq!(refund.status, 200, "{}", refund.text);
    let frozen_left = unsplit(&server, &agency, &mostly_refunded).await;
    assert_eq!(frozen_left, 9_940 - (9_000 - 54));
    let guide_before = available(&server, &guide.mchid).await;
    let beyond = agency
        .v3(
            &server,
            "POST",
            "/v3/profitsharing/orders",
            Some(&split_body(
                &agency,
                &mostly_refunded,
                "PS-0007",
                json!([{"type": "MERCHANT_ID", "account": guide.mchid, "amount": 2_000, "description": "too much"}]),
            )),
        )
        .await;
    assert_eq!(
        error_code(&beyond),
        (403, "NOT_ENOUGH".to_owned()),
        "{}",
        beyond.text
    );
    assert_eq!(
        unsplit(&server, &agency, &mostly_refunded).await,
        frozen_left
    );
    assert_eq!(available(&server, &guide.mchid).await, guide_before);

    // Deleted receivers are not split to.
    let deleted = agency
        .v3(
            &server,
            "POST",
            "/v3/profitsharing/receivers/delete",
            Some(&json!({"appid": agency.appid, "type": "MERCHANT_ID", "account": guide.mchid})),
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    let refused = agency
        .v3(
            &server,
            "POST",
            "/v3/profitsharing/orders",
            Some(&split_body(
                &agency,
                &frozen,
                "PS-0006",
                json!([{"type": "MERCHANT_ID", "account": guide.mchid, "amount": 1, "description": "x"}]),
            )),
        )
        .await;
    assert_eq!(error_code(&refused), (400, "INVALID_REQUEST".to_owned()));

    let verify = server.admin_get("/api/v1/admin/ledger/verify").await;
    assert_eq!(verify.json()["sound"], true, "{}", verify.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_splits_for_its_own_sub_merchants_only() {
    let server = sandbox();
    let provider = Merchant::create_provider(&server, &json!({ "name": "Mall Services" })).await;
    let other = Merchant::create_provider(&server, &json!({ "name": "Other Services" })).await;
    let sub = server
        .admin_post(
            &format!("/api/v1/admin/providers/{}/sub-merchants", provider.mchid),
            &json!({ "name": "Shoe Shop" }),
        )
        .await
        .json()["sub_mchid"]
        .as_str()
        .unwrap()
        .to_owned();
    let brand = Merchant::create(&server, "Shoe Brand").await;
    let payer = Payer::create(&server, "Shopper", 20_000).await;
    let reply = provider
        .v3(
            &server,
            "POST",
            "/v3/pay/partner/transactions/native",
            Some(&json!({
                "sp_appid": provider.appid, "sp_mchid": provider.mchid, "sub_mchid": sub,
                "description": "Shoes", "out_trade_no": "SHOE-0001",
                "notify_url": "https://m.example/notify", "amount": {"total": 10_000},
                "settle_info": {"profit_sharing": true},
            })),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let paid = payer
        .pay_code(&server, reply.json()["code_url"].as_str().unwrap())
        .await;
    let transaction_id = paid.json()["transaction_id"].as_str().unwrap().to_owned();
    let name = provider
        .platform_key
        .encrypt_oaep_sha1(b"Shoe Brand")
        .unwrap();
    let receiver = json!({
        "sub_mchid": sub, "appid": provider.appid, "type": "MERCHANT_ID",
        "account": brand.mchid, "name": name, "relation_type": "BRAND",
    });
    let foreign = other
        .v3(
            &server,
            "POST",
            "/v3/profitsharing/receivers/add",
            Some(&receiver),
        )
        .await;
    assert_eq!(error_code(&foreign), (403, "NO_AUTH".to_owned()));
    let added = provider
        .v3(
            &server,
            "POST",
            "/v3/profitsharing/receivers/add",
            Some(&receiver),
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.text);
    assert_eq!(added.json()["sub_mchid"], sub.as_str());
    let split = provider
        .v3(
            &server,
            "POST",
            "/v3/profitsharing/orders",
            Some(&json!({
                "sub_mchid": sub, "appid": provider.appid, "transaction_id": transaction_id,
                "out_order_no": "SP-PS-1", "unfreeze_unsplit": true,
                "receivers": [{"type": "MERCHANT_ID", "account": brand.mchid, "amount": 1_500, "description": "royalty"}],
            })),
        )
        .await;
    assert_eq!(split.status, 200, "{}", split.text);
    assert_eq!(split.json()["sub_mchid"], sub.as_str());
    assert_eq!(available(&server, &brand.mchid).await, 1_500);
    // 10,000 less the 60 fee, less 1,500: unfrozen to the sub-merchant at once.
    assert_eq!(available(&server, &sub).await, 8_440);
    let config = provider
        .v3(
            &server,
            "GET",
            &format!("/v3/profitsharing/merchant-configs/{sub}"),
            None,
        )
        .await;
    assert_eq!(config.json()["max_ratio"], 3_000, "{}", config.text);
    let verify = server.admin_get("/api/v1/admin/ledger/verify").await;
    assert_eq!(verify.json()["sound"], true, "{}", verify.text);
}
