//! Payment codes at the counter over the APIv3 wire: the payer's dynamic code, `codepay`
//! paid at once or waiting for the password (`USERPAYING`), `reverse`, every refusal, and
//! the same over APIv2 XML (`micropay`, `orderquery`, `reverse`).

use plaza_testkit::pay::{Merchant, Payer, post_v2, v2_request};
use plaza_testkit::{Reply, TestServer};
use plaza_wx::v2::{SignType, verify};
use serde_json::{Value, json};

use crate::PLAZA;
const CODEPAY: &str = "/v3/pay/transactions/codepay";

fn charge(merchant: &Merchant, no: &str, total: i64, auth_code: &str) -> Value {
    json!({
        "appid": merchant.appid,
        "mchid": merchant.mchid,
        "description": "Two buns",
        "out_trade_no": no,
        "payer": {"auth_code": auth_code},
        "amount": {"total": total, "currency": "CNY"},
        "scene_info": {"device_id": "POS-7", "device_ip": "10.0.0.7"},
    })
}

async fn reverse(server: &TestServer, merchant: &Merchant, no: &str) -> Reply {
    merchant
        .post(
            server,
            &format!("/v3/pay/transactions/out-trade-no/{no}/reverse"),
            &json!({ "appid": merchant.appid, "mchid": merchant.mchid }),
        )
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_small_code_payment_is_paid_at_once_and_can_be_reversed() {
    let server = TestServer::sandbox(PLAZA);
    let merchant = Merchant::create(&server, "Bakery").await;
    let payer = Payer::create(&server, "Alice", 10_000).await;
    let code = payer.payment_code(&server).await;

    let transaction = merchant
        .post_ok(
            &server,
            CODEPAY,
            &charge(&merchant, "POS-0001", 1_500, &code),
        )
        .await;
    assert_eq!(transaction["trade_state"], "SUCCESS");
    assert_eq!(transaction["trade_type"], "MICROPAY");
    assert_eq!(transaction["amount"]["payer_total"], 1_500);
    let openid = payer.openid(&server, &merchant.appid).await;
    assert_eq!(transaction["payer"]["openid"], openid.as_str());
    assert_eq!(transaction["scene_info"]["device_id"], "POS-7");
    assert_eq!(payer.balance(&server).await, 8_500);

    // A retry of the same charge answers the same payment; the code is spent.
    let again = merchant
        .post_ok(
            &server,
            CODEPAY,
            &charge(&merchant, "POS-0001", 1_500, &code),
        )
        .await;
    assert_eq!(again["transaction_id"], transaction["transaction_id"]);
    assert_eq!(payer.balance(&server).await, 8_500);
    let reused = merchant
        .post(&server, CODEPAY, &charge(&merchant, "POS-0002", 100, &code))
        .await;
    reused.assert_error(400, "AUTH_CODE_INVALID");
    // The paid order with other content: ORDERPAID.
    let fresh = payer.payment_code(&server).await;
    let other = merchant
        .post(
            &server,
            CODEPAY,
            &charge(&merchant, "POS-0001", 999, &fresh),
        )
        .await;
    other.assert_error(400, "ORDERPAID");

    // Reversing a paid code payment refunds it in full.
    let reversed = reverse(&server, &merchant, "POS-0001").await;
    assert_eq!(reversed.status, 200, "{}", reversed.text);
    assert_eq!(reversed.json()["out_trade_no"], "POS-0001");
    assert_eq!(reversed.json()["mchid"], merchant.mchid.as_str());
    assert_eq!(
        merchant.order(&server, "POS-0001").await["trade_state"],
        "REVOKED"
    );
    assert_eq!(payer.balance(&server).await, 10_000);
    let twice = reverse(&server, &merchant, "POS-0001").await;
    assert_eq!(twice.status, 200, "{}", twice.text);
    assert_eq!(payer.balance(&server).await, 10_000);
    server.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn above_the_password_free_limit_the_payer_confirms_or_the_merchant_reverses() {
    let server = TestServer::sandbox(PLAZA);
    // Pinned, so the test's day arithmetic is the same at any hour.
    let _pinned = server.pin_clock("10:00").await;
    let merchant = Merchant::create(&server, "Electronics").await;
    let payer = Payer::create(&server, "Bob", 50_000).await;
    let stranger = Payer::create(&server, "Eve", 50_000).await;
    payer.set_password_free_limit(&server, 1_000).await;

    let code = payer.payment_code(&server).await;
    let waiting = merchant
        .post(
            &server,
            CODEPAY,
            &charge(&merchant, "POS-1001", 5_000, &code),
        )
        .await;
    waiting.assert_error(202, "USERPAYING");
    assert!(merchant.verifies(&waiting));
    assert_eq!(
        merchant.order(&server, "POS-1001").await["trade_state"],
        "USERPAYING"
    );
    assert_eq!(
        payer.balance(&server).await,
        50_000,
        "no money moves before the password"
    );

    // The payer sees what waits for the password, and confirms; nobody else can.
    let awaiting = payer.get(&server, "/api/v1/me/awaiting").await.json();
    assert_eq!(
        awaiting["orders"].as_array().unwrap().len(),
        1,
        "{awaiting}"
    );
    assert_eq!(awaiting["orders"][0]["amount"], 5_000);
    assert_eq!(awaiting["orders"][0]["merchant"], "Electronics");
    let prepay_id = awaiting["orders"][0]["prepay_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let confirm = json!({ "prepay_id": prepay_id, "password": "123456" });
    let refused = stranger
        .post(&server, "/api/v1/pay/confirm", &confirm)
        .await;
    // Another payer learns nothing: the order answers as one that does not exist.
    assert_eq!(
        refused.json()["code"],
        "order_not_found",
        "{}",
        refused.text
    );
    payer
        .post_ok(&server, "/api/v1/pay/confirm", &confirm)
        .await;
    assert_eq!(
        merchant.order(&server, "POS-1001").await["trade_state"],
        "SUCCESS"
    );
    assert_eq!(payer.balance(&server).await, 45_000);
    let none_left = payer.get(&server, "/api/v1/me/awaiting").await.json();
    assert_eq!(none_left["orders"].as_array().unwrap().len(), 0);

    // Waiting, then reversed by the merchant: the payer can no longer pay it.
    let code = payer.payment_code(&server).await;
    let waiting = merchant
        .post(
            &server,
            CODEPAY,
            &charge(&merchant, "POS-1002", 2_000, &code),
        )
        .await;
    assert_eq!(waiting.status, 202, "{}", waiting.text);
    let prepay_id =
        payer.get(&server, "/api/v1/me/awaiting").await.json()["orders"][0]["prepay_id"].clone();
    let reversed = reverse(&server, &merchant, "POS-1002").await;
    assert_eq!(reversed.status, 200, "{}", reversed.text);
    assert_eq!(
        merchant.order(&server, "POS-1002").await["trade_state"],
        "REVOKED"
    );
    let late = payer
        .post(
            &server,
            "/api/v1/pay/confirm",
            &json!({ "prepay_id": prepay_id, "password": "123456" }),
        )
        .await;
    assert_eq!(late.json()["code"], "order_not_payable", "{}", late.text);
    assert_eq!(payer.balance(&server).await, 45_000);

    // Waiting, then left alone: it closes after five minutes.
    let code = payer.payment_code(&server).await;
    let waiting = merchant
        .post(
            &server,
            CODEPAY,
            &charge(&merchant, "POS-1003", 2_000, &code),
        )
        .await;
    assert_eq!(waiting.status, 202, "{}", waiting.text);
    server.advance_clock(6 * 60_000).await;
    assert_eq!(
        merchant.order(&server, "POS-1003").await["trade_state"],
        "CLOSED"
    );
    server.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_codes_short_wallets_and_foreign_orders_are_refused_and_change_nothing() {
    let server = TestServer::sandbox(PLAZA);
    // Pinned, so the test's day arithmetic is the same at any hour.
    let _pinned = server.pin_clock("10:00").await;
    let merchant = Merchant::create(&server, "Kiosk").await;
    let payer = Payer::create(&server, "Carol", 500).await;

    for (auth_code, why) in [("123", "too short"), ("169999999999999999", "prefix 16")] {
        let reply = merchant
            .post(
                &server,
                CODEPAY,
                &charge(&merchant, "POS-2001", 100, auth_code),
            )
            .await;
        assert_eq!(reply.error_code(), (400, "PARAM_ERROR".to_owned()), "{why}");
        assert_eq!(reply.json()["detail"]["field"], "/payer/auth_code");
    }
    let unknown = merchant
        .post(
            &server,
            CODEPAY,
            &charge(&merchant, "POS-2001", 100, "134567890123456789"),
        )
        .await;
    unknown.assert_error(400, "AUTH_CODE_INVALID");

    // Not enough in the wallet: refused, nothing written, the code still works.
    let code = payer.payment_code(&server).await;
    let short = merchant
        .post(&server, CODEPAY, &charge(&merchant, "POS-2002", 900, &code))
        .await;
    short.assert_error(403, "NOT_ENOUGH");
    let missing = merchant.query_order(&server, "POS-2002").await;
    missing.assert_error(404, "ORDER_NOT_EXIST");
    merchant
        .post_ok(&server, CODEPAY, &charge(&merchant, "POS-2003", 400, &code))
        .await;
    assert_eq!(payer.balance(&server).await, 100);

    // A code is good for a minute.
    let code = payer.payment_code(&server).await;
    server.advance_clock(61_000).await;
    let expired = merchant
        .post(&server, CODEPAY, &charge(&merchant, "POS-2004", 50, &code))
        .await;
    expired.assert_error(400, "AUTHCODEEXPIRE");

    // Only code payments are reversed, and only one's own.
    merchant
        .post_ok(
            &server,
            "/v3/pay/transactions/native",
            &json!({
                "appid": merchant.appid, "mchid": merchant.mchid, "description": "x",
                "out_trade_no": "NAT-2005", "notify_url": "https://m.example/n",
                "amount": {"total": 100},
            }),
        )
        .await;
    let not_code = reverse(&server, &merchant, "NAT-2005").await;
    not_code.assert_error(400, "INVALID_REQUEST");
    let other = Merchant::create(&server, "Other").await;
    let foreign = reverse(&server, &other, "POS-2003").await;
    foreign.assert_error(404, "ORDER_NOT_EXIST");
    assert_eq!(
        merchant.order(&server, "POS-2003").await["trade_state"],
        "SUCCESS"
    );
    server.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_charges_codes_for_its_own_sub_merchants_only() {
    let server = TestServer::sandbox(PLAZA);
    let provider = Merchant::create_provider(&server, &json!({ "name": "POS Services" })).await;
    let other = Merchant::create_provider(&server, &json!({ "name": "Other Services" })).await;
    let shop = json!({ "name": "Shop" });
    let ours = provider.add_sub_merchant(&server, &shop).await;
    let theirs = other.add_sub_merchant(&server, &shop).await;
    let payer = Payer::create(&server, "Dan", 5_000).await;
    let body = |sub_mchid: &str, no: &str, code: &str| {
        json!({
            "sp_appid": provider.appid, "sp_mchid": provider.mchid, "sub_mchid": sub_mchid,
            "description": "Soup", "out_trade_no": no,
            "payer": {"auth_code": code}, "amount": {"total": 300},
        })
    };
    let partner = "/v3/pay/partner/transactions/codepay";
    let code = payer.payment_code(&server).await;
    let foreign = provider
        .post(&server, partner, &body(&theirs, "SPC-0001", &code))
        .await;
    foreign.assert_error(403, "NO_AUTH");
    let paid = provider
        .post_ok(&server, partner, &body(&ours, "SPC-0001", &code))
        .await;
    assert_eq!(paid["sub_mchid"], ours.as_str());
    assert_eq!(paid["trade_type"], "MICROPAY");
    let reversed = provider
        .post_ok(
            &server,
            "/v3/pay/partner/transactions/out-trade-no/SPC-0001/reverse",
            &json!({
                "sp_appid": provider.appid, "sp_mchid": provider.mchid, "sub_mchid": ours,
            }),
        )
        .await;
    assert_eq!(reversed["sub_mchid"], ours.as_str());
    assert_eq!(payer.balance(&server).await, 5_000);
    server.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn apiv2_micropay_orderquery_and_reverse_speak_signed_xml() {
    let server = TestServer::sandbox(PLAZA);
    // Pinned, so the test's day arithmetic is the same at any hour.
    let _pinned = server.pin_clock("10:00").await;
    let merchant = Merchant::create(&server, "Noodle Stall").await;
    let key = merchant.credentials["apiv2_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(key.len(), 32);
    let payer = Payer::create(&server, "Fay", 10_000).await;
    let code = payer.payment_code(&server).await;
    let base = |no: &'static str| {
        vec![
            ("appid", merchant.appid.clone()),
            ("mch_id", merchant.mchid.clone()),
            ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS".to_owned()),
            ("out_trade_no", no.to_owned()),
        ]
    };
    let as_refs =
        |params: &[(&'static str, String)]| -> Vec<(&'static str, String)> { params.to_vec() };
    let body_of = |params: &[(&'static str, String)], sign_type| {
        let refs: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
        v2_request(&refs, &key, sign_type)
    };

    // micropay, MD5: paid at once; the answer is signed the same way.
    let mut charge = as_refs(&base("V2-0001"));
    charge.extend([
        ("body", "牛肉面 & tea".to_owned()),
        ("total_fee", "1200".to_owned()),
        ("spbill_create_ip", "10.0.0.9".to_owned()),
        ("auth_code", code.clone()),
        ("attach", "stall 3".to_owned()),
    ]);
    let paid = post_v2(&server, "/pay/micropay", &body_of(&charge, SignType::Md5)).await;
    assert_eq!(paid["return_code"], "SUCCESS", "{paid:?}");
    assert_eq!(paid["result_code"], "SUCCESS", "{paid:?}");
    assert!(verify(&paid, &key, SignType::Md5), "the answer is signed");
    assert_eq!(paid["trade_type"], "MICROPAY");
    assert_eq!(paid["total_fee"], "1200");
    assert_eq!(paid["cash_fee"], "1200");
    assert_eq!(paid["attach"], "stall 3");
    assert_eq!(paid["time_end"].len(), 14);
    assert!(paid["transaction_id"].len() >= 28, "{paid:?}");
    assert!(!paid["openid"].is_empty());
    assert_eq!(payer.balance(&server).await, 8_800);

    // orderquery, HMAC-SHA256.
    let query = body_of(&base("V2-0001"), SignType::HmacSha256);
    let found = post_v2(&server, "/pay/orderquery", &query).await;
    assert_eq!(found["result_code"], "SUCCESS", "{found:?}");
    assert!(verify(&found, &key, SignType::HmacSha256));
    assert_eq!(found["trade_state"], "SUCCESS");
    assert_eq!(found["transaction_id"], paid["transaction_id"]);

    // A wrong sign changes nothing.
    let forged = body_of(&charge, SignType::Md5)
        .replace("<total_fee>1200</total_fee>", "<total_fee>1</total_fee>");
    let refused = post_v2(&server, "/pay/micropay", &forged).await;
    assert_eq!(refused["return_code"], "SUCCESS");
    assert_eq!(refused["result_code"], "FAIL");
    assert_eq!(refused["err_code"], "SIGNERROR", "{refused:?}");

    // reverse: the paid order is refunded; recall N.
    let reversed = post_v2(
        &server,
        "/secapi/pay/reverse",
        &body_of(&base("V2-0001"), SignType::Md5),
    )
    .await;
    assert_eq!(reversed["result_code"], "SUCCESS", "{reversed:?}");
    assert_eq!(reversed["recall"], "N");
    assert_eq!(payer.balance(&server).await, 10_000);
    let found = post_v2(&server, "/pay/orderquery", &query).await;
    assert_eq!(found["trade_state"], "REVOKED");

    // Above the password-free limit: USERPAYING, then the query shows it.
    payer.set_password_free_limit(&server, 100).await;
    let code = payer.payment_code(&server).await;
    let mut big = as_refs(&base("V2-0002"));
    big.extend([
        ("body", "Big order".to_owned()),
        ("total_fee", "5000".to_owned()),
        ("spbill_create_ip", "10.0.0.9".to_owned()),
        ("auth_code", code),
    ]);
    let waiting = post_v2(&server, "/pay/micropay", &body_of(&big, SignType::Md5)).await;
    assert_eq!(waiting["err_code"], "USERPAYING", "{waiting:?}");
    let state = post_v2(
        &server,
        "/pay/orderquery",
        &body_of(&base("V2-0002"), SignType::Md5),
    )
    .await;
    assert_eq!(state["trade_state"], "USERPAYING");

    // Unreadable documents, unknown merchants, unknown orders.
    let broken = post_v2(&server, "/pay/micropay", "<xml><mch_id>1</mch_id>").await;
    assert_eq!(broken["return_code"], "FAIL", "{broken:?}");
    let mut stranger = as_refs(&base("V2-0003"));
    stranger[1].1 = "1999999999".to_owned();
    let unknown = post_v2(
        &server,
        "/pay/orderquery",
        &body_of(&stranger, SignType::Md5),
    )
    .await;
    assert_eq!(unknown["err_code"], "MCHID_NOT_EXIST", "{unknown:?}");
    let missing = post_v2(
        &server,
        "/pay/orderquery",
        &body_of(&base("V2-0404"), SignType::Md5),
    )
    .await;
    assert_eq!(missing["err_code"], "ORDERNOTEXIST", "{missing:?}");
    let mut bad_code = as_refs(&base("V2-0005"));
    bad_code.extend([
        ("body", "x".to_owned()),
        ("total_fee", "10".to_owned()),
        ("spbill_create_ip", "10.0.0.9".to_owned()),
        ("auth_code", "99".to_owned()),
    ]);
    let malformed = post_v2(&server, "/pay/micropay", &body_of(&bad_code, SignType::Md5)).await;
    assert_eq!(malformed["err_code"], "AUTH_CODE_ERROR", "{malformed:?}");
    server.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_wallet_page_shows_a_payment_code_and_what_waits_for_the_password() {
    let server = TestServer::sandbox(PLAZA);
    let merchant = Merchant::create(&server, "Toy Store").await;
    let payer = Payer::create(&server, "Gao", 50_000).await;
    payer.set_password_free_limit(&server, 100).await;
    let client = plaza_testkit::http_client();
    let cookie = format!("plaza_session={}", payer.token);
    let page = client
        .post(format!("{}/me/payment-code", server.base_url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = page.find("data-code=\"").unwrap() + "data-code=\"".len();
    let code = &page[start..start + 18];
    assert!(code.bytes().all(|byte| byte.is_ascii_digit()), "{page}");
    assert!(page.contains("<svg"), "the code is also a QR code");
    let waiting = merchant
        .post(
            &server,
            CODEPAY,
            &charge(&merchant, "POS-3001", 2_000, code),
        )
        .await;
    assert_eq!(waiting.status, 202, "{}", waiting.text);
    let wallet = client
        .get(format!("{}/me", server.base_url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(wallet.contains("id=\"awaiting\""), "{wallet}");
    assert!(
        wallet.contains("Toy Store") && wallet.contains("Confirm ¥20.00"),
        "{wallet}"
    );
}
