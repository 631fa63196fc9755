//! Profit sharing (分账) over the APIv3 wire: receivers, splits within the ratio, returns,
//! unfreezing, refunds of frozen orders, and every refusal — each move checked in the
//! ledger, which stays sound.

use plaza_testkit::TestServer;
use plaza_testkit::pay::{Merchant, Payer, available_balance};
use serde_json::{Value, json};

use crate::PLAZA;

/// A paid Native order; returns its transaction id.
async fn paid_order(
    server: &TestServer,
    merchant: &Merchant,
    payer: &Payer,
    no: &str,
    total: i64,
    profit_sharing: bool,
) -> String {
    let code_url = merchant
        .prepay_native(
            server,
            &json!({
                "appid": merchant.appid, "mchid": merchant.mchid, "description": "Tour package",
                "out_trade_no": no, "notify_url": "https://m.example/notify",
                "amount": {"total": total}, "settle_info": {"profit_sharing": profit_sharing},
            }),
        )
        .await;
    let paid = payer.pay(server, &code_url).await;
    paid["transaction_id"].as_str().unwrap().to_owned()
}

async fn unsplit(server: &TestServer, merchant: &Merchant, transaction_id: &str) -> i64 {
    let reply = merchant
        .get_ok(
            server,
            &format!("/v3/profitsharing/transactions/{transaction_id}/amounts"),
        )
        .await;
    reply["unsplit_amount"].as_i64().unwrap()
}

fn split_body(merchant: &Merchant, transaction_id: &str, no: &str, lines: Value) -> Value {
    json!({
        "appid": merchant.appid, "transaction_id": transaction_id, "out_order_no": no,
        "receivers": lines, "unfreeze_unsplit": false,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_order_is_split_within_the_ratio_returned_and_unfrozen() {
    let server = TestServer::sandbox(PLAZA);
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
                .post(server, "/v3/profitsharing/receivers/add", &body)
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
    wrong_name.assert_error(400, "PARAM_ERROR");
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
    stranger.assert_error(400, "PARAM_ERROR");

    // Paid with profit sharing: the net (10,000 less the 60 fee) is frozen.
    let transaction_id = paid_order(&server, &agency, &tourist, "TOUR-0001", 10_000, true).await;
    assert_eq!(unsplit(&server, &agency, &transaction_id).await, 9_940);

    let lines = json!([
        {"type": "MERCHANT_ID", "account": guide.mchid, "amount": 2_000, "description": "guiding"},
        {"type": "PERSONAL_OPENID", "account": driver_openid, "amount": 500, "description": "driving"},
    ]);
    let body = split_body(&agency, &transaction_id, "PS-0001", lines);
    let entity = agency
        .post_ok(&server, "/v3/profitsharing/orders", &body)
        .await;
    assert_eq!(entity["state"], "FINISHED");
    assert_eq!(entity["receivers"][0]["result"], "SUCCESS");
    assert_eq!(entity["receivers"][1]["amount"], 500);
    assert_eq!(guide.available_balance(&server).await, 2_000);
    assert_eq!(driver.balance(&server).await, 501);
    assert_eq!(unsplit(&server, &agency, &transaction_id).await, 7_440);
    // The same request again answers the same split; other content is refused.
    let again = agency
        .post_ok(&server, "/v3/profitsharing/orders", &body)
        .await;
    assert_eq!(again["order_id"], entity["order_id"]);
    let other = split_body(
        &agency,
        &transaction_id,
        "PS-0001",
        json!([{"type": "MERCHANT_ID", "account": guide.mchid, "amount": 1, "description": "x"}]),
    );
    let reused = agency
        .post(&server, "/v3/profitsharing/orders", &other)
        .await;
    reused.assert_error(400, "INVALID_REQUEST");

    // At most 30% of the order goes to others: 2,500 given, 600 more is too much.
    let over = split_body(
        &agency,
        &transaction_id,
        "PS-0002",
        json!([{"type": "MERCHANT_ID", "account": guide.mchid, "amount": 600, "description": "bonus"}]),
    );
    let refused = agency
        .post(&server, "/v3/profitsharing/orders", &over)
        .await;
    refused.assert_error(400, "INVALID_REQUEST");
    assert_eq!(guide.available_balance(&server).await, 2_000);
    // A receiver that was not added.
    let unknown = split_body(
        &agency,
        &transaction_id,
        "PS-0003",
        json!([{"type": "MERCHANT_ID", "account": agency.mchid, "amount": 10, "description": "x"}]),
    );
    let refused = agency
        .post(&server, "/v3/profitsharing/orders", &unknown)
        .await;
    refused.assert_error(400, "INVALID_REQUEST");

    let queried = agency
        .get_ok(
            &server,
            &format!("/v3/profitsharing/orders/PS-0001?transaction_id={transaction_id}"),
        )
        .await;
    assert_eq!(queried["order_id"], entity["order_id"]);

    // The guide returns 300 of its 2,000; it cannot return more than it got.
    let back = |no: &str, amount: i64| {
        json!({
            "out_order_no": "PS-0001", "out_return_no": no, "return_mchid": guide.mchid,
            "amount": amount, "description": "overpaid",
        })
    };
    let returned = agency
        .post_ok(
            &server,
            "/v3/profitsharing/return-orders",
            &back("RT-0001", 300),
        )
        .await;
    assert_eq!(returned["result"], "SUCCESS");
    assert_eq!(guide.available_balance(&server).await, 1_700);
    assert_eq!(agency.available_balance(&server).await, 300);
    let too_much = agency
        .post(
            &server,
            "/v3/profitsharing/return-orders",
            &back("RT-0002", 1_701),
        )
        .await;
    too_much.assert_error(400, "INVALID_REQUEST");
    let found = agency
        .get_ok(
            &server,
            "/v3/profitsharing/return-orders/RT-0001?out_order_no=PS-0001",
        )
        .await;
    assert_eq!(found["amount"], 300, "{}", found);

    // Unfreeze the rest to the agency; nothing more can be split.
    let unfrozen = agency
        .post_ok(
            &server,
            "/v3/profitsharing/orders/unfreeze",
            &json!({
                "transaction_id": transaction_id, "out_order_no": "PS-UNFREEZE",
                "description": "解冻全部剩余资金",
            }),
        )
        .await;
    assert_eq!(unfrozen["receivers"][0]["amount"], 7_440);
    assert_eq!(unsplit(&server, &agency, &transaction_id).await, 0);
    assert_eq!(agency.available_balance(&server).await, 300 + 7_440);
    let late = split_body(
        &agency,
        &transaction_id,
        "PS-0004",
        json!([{"type": "MERCHANT_ID", "account": guide.mchid, "amount": 1, "description": "x"}]),
    );
    let refused = agency
        .post(&server, "/v3/profitsharing/orders", &late)
        .await;
    refused.assert_error(400, "INVALID_REQUEST");

    // An order paid without profit sharing cannot be split.
    let plain = paid_order(&server, &agency, &tourist, "TOUR-0002", 1_000, false).await;
    let refused = agency
        .post(
            &server,
            "/v3/profitsharing/orders",
            &split_body(
                &agency,
                &plain,
                "PS-0005",
                json!([{"type": "MERCHANT_ID", "account": guide.mchid, "amount": 1, "description": "x"}]),
            ),
        )
        .await;
    refused.assert_error(400, "INVALID_REQUEST");
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("非分账订单")
    );

    // A frozen order refunds from its frozen share.
    let frozen = paid_order(&server, &agency, &tourist, "TOUR-0003", 5_000, true).await;
    agency
        .post_ok(
            &server,
            "/v3/refund/domestic/refunds",
            &json!({
                "transaction_id": frozen, "out_refund_no": "TR-0003",
                "amount": {"refund": 1_000, "total": 5_000, "currency": "CNY"},
            }),
        )
        .await;
    // Fee 30 on 5,000; the refund returns 6 of it: 994 came out of the frozen 4,970.
    assert_eq!(unsplit(&server, &agency, &frozen).await, 4_970 - 994);

    // Beyond what is still frozen (a refund took most of it): NOT_ENOUGH, nothing moves.
    let mostly_refunded = paid_order(&server, &agency, &tourist, "TOUR-0004", 10_000, true).await;
    agency
        .post_ok(
            &server,
            "/v3/refund/domestic/refunds",
            &json!({
                "transaction_id": mostly_refunded, "out_refund_no": "TR-0004",
                "amount": {"refund": 9_000, "total": 10_000, "currency": "CNY"},
            }),
        )
        .await;
    let frozen_left = unsplit(&server, &agency, &mostly_refunded).await;
    assert_eq!(frozen_left, 9_940 - (9_000 - 54));
    let guide_before = guide.available_balance(&server).await;
    let beyond = agency
        .post(
            &server,
            "/v3/profitsharing/orders",
            &split_body(
                &agency,
                &mostly_refunded,
                "PS-0007",
                json!([{"type": "MERCHANT_ID", "account": guide.mchid, "amount": 2_000, "description": "too much"}]),
            ),
        )
        .await;
    beyond.assert_error(403, "NOT_ENOUGH");
    assert_eq!(
        unsplit(&server, &agency, &mostly_refunded).await,
        frozen_left
    );
    assert_eq!(guide.available_balance(&server).await, guide_before);

    // Deleted receivers are not split to.
    agency
        .post_ok(
            &server,
            "/v3/profitsharing/receivers/delete",
            &json!({"appid": agency.appid, "type": "MERCHANT_ID", "account": guide.mchid}),
        )
        .await;
    let refused = agency
        .post(
            &server,
            "/v3/profitsharing/orders",
            &split_body(
                &agency,
                &frozen,
                "PS-0006",
                json!([{"type": "MERCHANT_ID", "account": guide.mchid, "amount": 1, "description": "x"}]),
            ),
        )
        .await;
    refused.assert_error(400, "INVALID_REQUEST");

    server.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_splits_for_its_own_sub_merchants_only() {
    let server = TestServer::sandbox(PLAZA);
    let provider = Merchant::create_provider(&server, &json!({ "name": "Mall Services" })).await;
    let other = Merchant::create_provider(&server, &json!({ "name": "Other Services" })).await;
    let sub = provider
        .add_sub_merchant(&server, &json!({ "name": "Shoe Shop" }))
        .await;
    let brand = Merchant::create(&server, "Shoe Brand").await;
    let payer = Payer::create(&server, "Shopper", 20_000).await;
    let reply = provider
        .post_ok(
            &server,
            "/v3/pay/partner/transactions/native",
            &json!({
                "sp_appid": provider.appid, "sp_mchid": provider.mchid, "sub_mchid": sub,
                "description": "Shoes", "out_trade_no": "SHOE-0001",
                "notify_url": "https://m.example/notify", "amount": {"total": 10_000},
                "settle_info": {"profit_sharing": true},
            }),
        )
        .await;
    let paid = payer
        .pay(&server, reply["code_url"].as_str().unwrap())
        .await;
    let transaction_id = paid["transaction_id"].as_str().unwrap().to_owned();
    let name = provider
        .platform_key
        .encrypt_oaep_sha1(b"Shoe Brand")
        .unwrap();
    let receiver = json!({
        "sub_mchid": sub, "appid": provider.appid, "type": "MERCHANT_ID",
        "account": brand.mchid, "name": name, "relation_type": "BRAND",
    });
    let foreign = other
        .post(&server, "/v3/profitsharing/receivers/add", &receiver)
        .await;
    foreign.assert_error(403, "NO_AUTH");
    let added = provider
        .post_ok(&server, "/v3/profitsharing/receivers/add", &receiver)
        .await;
    assert_eq!(added["sub_mchid"], sub.as_str());
    let split = provider
        .post_ok(
            &server,
            "/v3/profitsharing/orders",
            &json!({
                "sub_mchid": sub, "appid": provider.appid, "transaction_id": transaction_id,
                "out_order_no": "SP-PS-1", "unfreeze_unsplit": true,
                "receivers": [{"type": "MERCHANT_ID", "account": brand.mchid, "amount": 1_500, "description": "royalty"}],
            }),
        )
        .await;
    assert_eq!(split["sub_mchid"], sub.as_str());
    assert_eq!(brand.available_balance(&server).await, 1_500);
    // 10,000 less the 60 fee, less 1,500: unfrozen to the sub-merchant at once.
    assert_eq!(available_balance(&server, &sub).await, 8_440);
    let config = provider
        .get_ok(
            &server,
            &format!("/v3/profitsharing/merchant-configs/{sub}"),
        )
        .await;
    assert_eq!(config["max_ratio"], 3_000, "{}", config);
    server.assert_ledger_sound().await;
}
