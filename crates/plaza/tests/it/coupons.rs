//! Cash coupons over the APIv3 wire: stocks with budgets reserved in the ledger, their
//! life (start, pause, restart, stop), issuing under the stock's limits — exactly, even
//! with hundreds of users racing for the last coupons — and every refusal.

use plaza_testkit::pay::{Merchant, Payer};
use plaza_testkit::{Reply, TestServer};
use serde_json::{Value, json};

use crate::PLAZA;

fn stock_body(merchant: &Merchant, no: &str, coupons: u64, amount: i64, minimum: i64) -> Value {
    let begin = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let end = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 30);
    json!({
        "stock_name": "Autumn ¥5 off",
        "comment": "autumn campaign",
        "belong_merchant": merchant.mchid,
        "available_begin_time": begin.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
        "available_end_time": end.strftime("%Y-%m-%dT%H:%M:%S+00:00").to_string(),
        "stock_use_rule": {
            "max_coupons": coupons, "max_amount": coupons as i64 * amount,
            "max_coupons_per_user": 2, "natural_person_limit": false, "prevent_api_abuse": false,
        },
        "coupon_use_rule": {
            "fixed_normal_coupon": {"coupon_amount": amount, "transaction_minimum": minimum},
            "available_merchants": [merchant.mchid],
        },
        "stock_type": "NORMAL",
        "out_request_no": no,
    })
}

fn issue_body(merchant: &Merchant, stock_id: &str, no: &str) -> Value {
    json!({
        "stock_id": stock_id, "out_request_no": no, "appid": merchant.appid,
        "stock_creator_mchid": merchant.mchid,
    })
}

async fn act(server: &TestServer, merchant: &Merchant, stock_id: &str, action: &str) -> Reply {
    merchant
        .post(
            server,
            &format!("/v3/marketing/favor/stocks/{stock_id}/{action}"),
            &json!({ "stock_creator_mchid": merchant.mchid }),
        )
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stock_reserves_its_budget_issues_within_its_rules_and_returns_the_rest() {
    let server = TestServer::sandbox(PLAZA);
    let merchant = Merchant::create(&server, "Tea House").await;
    merchant.top_up(&server, 100_000, "fund-1").await;
    let create = "/v3/marketing/favor/coupon-stocks";

    // Inconsistent rules are refused, naming the field; nothing is reserved.
    let mut bigger = stock_body(&merchant, "BAD-1", 100, 500, 400);
    let reply = merchant.post(&server, create, &bigger).await;
    reply.assert_error(400, "PARAM_ERROR");
    assert!(
        reply.json()["detail"]["field"]
            .as_str()
            .unwrap()
            .ends_with("transaction_minimum")
    );
    bigger = stock_body(&merchant, "BAD-2", 100, 500, 1_000);
    bigger["stock_use_rule"]["max_amount"] = json!(49_999);
    let reply = merchant.post(&server, create, &bigger).await;
    assert_eq!(
        reply.json()["detail"]["field"],
        "/stock_use_rule/max_amount",
        "{}",
        reply.text
    );
    let mut backwards = stock_body(&merchant, "BAD-3", 100, 500, 1_000);
    backwards["available_end_time"] = backwards["available_begin_time"].clone();
    let reply = merchant.post(&server, create, &backwards).await;
    assert_eq!(
        reply.json()["detail"]["field"],
        "/available_end_time",
        "{}",
        reply.text
    );
    let too_big = stock_body(&merchant, "BAD-4", 1_000, 500, 1_000);
    let reply = merchant.post(&server, create, &too_big).await;
    reply.assert_error(403, "NOT_ENOUGH");
    assert_eq!(merchant.available_balance(&server).await, 100_000);

    // A good stock: 100 coupons of ¥5 over ¥10 reserve ¥500.
    let body = stock_body(&merchant, "STOCK-1", 100, 500, 1_000);
    let created = merchant.post_ok(&server, create, &body).await;
    let stock_id = created["stock_id"].as_str().unwrap().to_owned();
    let again = merchant.post_ok(&server, create, &body).await;
    assert_eq!(
        again["stock_id"],
        stock_id.as_str(),
        "idempotent by out_request_no"
    );
    assert_eq!(merchant.available_balance(&server).await, 50_000);

    let alice = Payer::create(&server, "Alice", 1).await;
    let alice_openid = alice.openid(&server, &merchant.appid).await;
    let issue_path = format!("/v3/marketing/favor/users/{alice_openid}/coupons");
    let not_started = merchant
        .post(
            &server,
            &issue_path,
            &issue_body(&merchant, &stock_id, "R-1"),
        )
        .await;
    not_started.assert_error(400, "STOCK_IS_NOT_ACTIVE");
    assert_eq!(
        act(&server, &merchant, &stock_id, "start").await.status,
        200
    );

    let first = merchant
        .post_ok(
            &server,
            &issue_path,
            &issue_body(&merchant, &stock_id, "R-1"),
        )
        .await;
    let coupon_id = first["coupon_id"].as_str().unwrap().to_owned();
    let retried = merchant
        .post_ok(
            &server,
            &issue_path,
            &issue_body(&merchant, &stock_id, "R-1"),
        )
        .await;
    assert_eq!(retried["coupon_id"], coupon_id.as_str(), "idempotent");
    merchant
        .post_ok(
            &server,
            &issue_path,
            &issue_body(&merchant, &stock_id, "R-2"),
        )
        .await;
    let third = merchant
        .post(
            &server,
            &issue_path,
            &issue_body(&merchant, &stock_id, "R-3"),
        )
        .await;
    third.assert_error(403, "USER_AL_GET_COUPON");
    let stranger = merchant
        .post(
            &server,
            "/v3/marketing/favor/users/o-nobody/coupons",
            &issue_body(&merchant, &stock_id, "R-4"),
        )
        .await;
    stranger.assert_error(404, "USER_NOT_EXISTS");

    // Paused, nothing is issued; restarted, it issues again.
    assert_eq!(
        act(&server, &merchant, &stock_id, "pause").await.status,
        200
    );
    let bob = Payer::create(&server, "Bob", 1).await;
    let bob_openid = bob.openid(&server, &merchant.appid).await;
    let bob_path = format!("/v3/marketing/favor/users/{bob_openid}/coupons");
    let paused = merchant
        .post(&server, &bob_path, &issue_body(&merchant, &stock_id, "R-5"))
        .await;
    paused.assert_error(400, "STOCK_IS_NOT_ACTIVE");
    act(&server, &merchant, &stock_id, "pause")
        .await
        .assert_error(400, "STOCK_IS_NOT_ACTIVE");
    assert_eq!(
        act(&server, &merchant, &stock_id, "restart").await.status,
        200
    );
    merchant
        .post_ok(&server, &bob_path, &issue_body(&merchant, &stock_id, "R-5"))
        .await;

    // Queries.
    let detail = merchant
        .get_ok(
            &server,
            &format!(
                "/v3/marketing/favor/stocks/{stock_id}?stock_creator_mchid={}",
                merchant.mchid
            ),
        )
        .await;
    assert_eq!(detail["distributed_coupons"], 3, "{}", detail);
    assert_eq!(detail["status"], "running");
    let listed = merchant
        .get_ok(
            &server,
            &format!(
                "/v3/marketing/favor/stocks?offset=0&limit=10&stock_creator_mchid={}",
                merchant.mchid
            ),
        )
        .await;
    assert_eq!(listed["total_count"], 1, "{}", listed);
    let target = format!(
        "/v3/marketing/favor/stocks/{stock_id}/merchants?stock_creator_mchid={}&offset=0&limit=50",
        merchant.mchid
    );
    let merchants = merchant.get_ok(&server, &target).await;
    assert_eq!(
        merchants["data"][0],
        merchant.mchid.as_str(),
        "{}",
        merchants
    );
    let mine = merchant
        .get_ok(
            &server,
            &format!("{issue_path}?appid={}&offset=0&limit=20", merchant.appid),
        )
        .await;
    assert_eq!(mine["total_count"], 2, "{}", mine);
    let one = merchant
        .get_ok(
            &server,
            &format!("{issue_path}/{coupon_id}?appid={}", merchant.appid),
        )
        .await;
    assert_eq!(one["status"], "SENDED", "{}", one);
    assert_eq!(one["normal_coupon_information"]["coupon_amount"], 500);

    // Stopping returns what was not issued (97 × ¥5); issued coupons keep their value.
    let stopped = act(&server, &merchant, &stock_id, "stop").await;
    assert_eq!(stopped.status, 200, "{}", stopped.text);
    assert_eq!(merchant.available_balance(&server).await, 50_000 + 97 * 500);
    let after = merchant
        .post(&server, &bob_path, &issue_body(&merchant, &stock_id, "R-6"))
        .await;
    after.assert_error(400, "STOCK_IS_NOT_ACTIVE");
    server.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn users_racing_for_the_last_coupons_get_exactly_the_limit() {
    let server = TestServer::sandbox(PLAZA);
    let merchant = Merchant::create(&server, "Flash Sale").await;
    merchant.top_up(&server, 10_000, "fund-1").await;
    let mut body = stock_body(&merchant, "FLASH-1", 40, 100, 0);
    body["stock_use_rule"]["max_coupons_per_user"] = json!(1);
    let created = merchant
        .post_ok(&server, "/v3/marketing/favor/coupon-stocks", &body)
        .await;
    let stock_id = created["stock_id"].as_str().unwrap().to_owned();
    assert_eq!(
        act(&server, &merchant, &stock_id, "start").await.status,
        200
    );

    // 150 users, each asking twice at the same time: 300 requests for 40 coupons.
    let mut openids = Vec::new();
    for index in 0..150 {
        let payer = Payer::create(&server, &format!("Racer {index}"), 1).await;
        openids.push(payer.openid(&server, &merchant.appid).await);
    }
    let mut tasks = Vec::new();
    for (index, openid) in openids.iter().enumerate() {
        for attempt in 0..2 {
            let (merchant, stock_id, openid) = (merchant.clone(), stock_id.clone(), openid.clone());
            let server = &server;
            tasks.push(async move {
                merchant
                    .post(
                        server,
                        &format!("/v3/marketing/favor/users/{openid}/coupons"),
                        &issue_body(&merchant, &stock_id, &format!("RACE-{index}-{attempt}")),
                    )
                    .await
            });
        }
    }
    let replies = futures_util::future::join_all(tasks).await;
    let issued = replies.iter().filter(|reply| reply.status == 200).count();
    let exhausted = replies
        .iter()
        .filter(|reply| reply.error_code() == (403, "NOT_ENOUGH".to_owned()))
        .count();
    let per_user = replies
        .iter()
        .filter(|reply| reply.error_code() == (403, "USER_AL_GET_COUPON".to_owned()))
        .count();
    assert_eq!(issued, 40, "exactly the limit");
    assert_eq!(
        issued + exhausted + per_user,
        300,
        "every other request is refused cleanly"
    );
    let detail = merchant
        .get_ok(
            &server,
            &format!(
                "/v3/marketing/favor/stocks/{stock_id}?stock_creator_mchid={}",
                merchant.mchid
            ),
        )
        .await;
    assert_eq!(detail["distributed_coupons"], 40);
    server.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn at_the_end_of_its_window_a_stock_expires_its_coupons_and_returns_its_budget() {
    let server = TestServer::sandbox(PLAZA);
    // Pinned, so the test's day arithmetic is the same at any hour.
    let _pinned = server.pin_clock("10:00").await;
    let merchant = Merchant::create(&server, "Bakery").await;
    merchant.top_up(&server, 10_000, "fund-1").await;
    let body = stock_body(&merchant, "END-1", 20, 100, 0);
    let created = merchant
        .post_ok(&server, "/v3/marketing/favor/coupon-stocks", &body)
        .await;
    let stock_id = created["stock_id"].as_str().unwrap().to_owned();
    assert_eq!(
        act(&server, &merchant, &stock_id, "start").await.status,
        200
    );
    let payer = Payer::create(&server, "Dora", 1).await;
    let openid = payer.openid(&server, &merchant.appid).await;
    let path = format!("/v3/marketing/favor/users/{openid}/coupons");
    let issued = merchant
        .post_ok(&server, &path, &issue_body(&merchant, &stock_id, "E-1"))
        .await;
    let coupon_id = issued["coupon_id"].as_str().unwrap().to_owned();
    assert_eq!(merchant.available_balance(&server).await, 10_000 - 2_000);

    // 31 days on, the window (30 days) is over.
    server.advance_clock(31_i64 * 86_400_000).await;
    let coupon = merchant
        .get_ok(
            &server,
            &format!("{path}/{coupon_id}?appid={}", merchant.appid),
        )
        .await;
    assert_eq!(coupon["status"], "EXPIRED", "{}", coupon);
    let detail = merchant
        .get_ok(
            &server,
            &format!(
                "/v3/marketing/favor/stocks/{stock_id}?stock_creator_mchid={}",
                merchant.mchid
            ),
        )
        .await;
    assert_eq!(detail["status"], "stoped");
    assert_eq!(
        merchant.available_balance(&server).await,
        10_000,
        "the whole budget is back"
    );
    server.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn payers_claim_coupons_and_see_them_and_creators_set_their_callback() {
    let server = TestServer::sandbox(PLAZA);
    let merchant = Merchant::create(&server, "Noodle Bar").await;
    merchant.top_up(&server, 10_000, "fund-1").await;
    let created = merchant
        .post_ok(
            &server,
            "/v3/marketing/favor/coupon-stocks",
            &stock_body(&merchant, "CLAIM-1", 10, 300, 2_000),
        )
        .await;
    let stock_id = created["stock_id"].as_str().unwrap().to_owned();
    let payer = Payer::create(&server, "Eli", 1).await;
    let claim = json!({ "stock_id": stock_id, "client_ref": "claim-ref-0001" });
    let early = payer
        .post(&server, "/api/v1/me/coupons/claim", &claim)
        .await;
    assert_eq!(early.json()["code"], "stock_not_active", "{}", early.text);
    assert_eq!(
        act(&server, &merchant, &stock_id, "start").await.status,
        200
    );
    let claimed = payer
        .post_ok(&server, "/api/v1/me/coupons/claim", &claim)
        .await;
    assert_eq!(claimed["amount"], 300);
    assert_eq!(claimed["merchant"], "Noodle Bar");
    let again = payer
        .post(&server, "/api/v1/me/coupons/claim", &claim)
        .await;
    assert_eq!(
        again.json()["coupon_id"],
        claimed["coupon_id"],
        "one claim per reference"
    );
    let mine = payer.get(&server, "/api/v1/me/coupons").await.json();
    assert_eq!(mine["coupons"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine["coupons"][0]["status"], "SENDED");
    assert_eq!(mine["coupons"][0]["usable_at"], "Noodle Bar");

    // The wallet page lists it; the claim page shows the stock.
    let client = plaza_testkit::http_client();
    let cookie = format!("plaza_session={}", payer.token);
    let page = |path: String| {
        let client = client.clone();
        let cookie = cookie.clone();
        async move {
            client
                .get(path)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let wallet = page(format!("{}/me", server.base_url)).await;
    assert!(
        wallet.contains("id=\"my-coupons\"") && wallet.contains("¥3.00"),
        "{wallet}"
    );
    assert!(wallet.contains("on orders of ¥20.00 or more"), "{wallet}");
    let claim_page = page(format!("{}/coupons/{stock_id}", server.base_url)).await;
    // The payer holds one already: the claim page says so.
    assert!(
        claim_page.contains("id=\"claimed\"")
            && claim_page.contains("已领取 Claimed")
            && claim_page.contains("Noodle Bar"),
        "{claim_page}"
    );

    // COUPON.USE goes where the creator says.
    merchant
        .post_ok(
            &server,
            "/v3/marketing/favor/callbacks",
            &json!({ "mchid": merchant.mchid, "notify_url": "https://m.example/coupons" }),
        )
        .await;
    let bad = merchant
        .post(
            &server,
            "/v3/marketing/favor/callbacks",
            &json!({ "mchid": merchant.mchid, "notify_url": "ftp://m.example/coupons" }),
        )
        .await;
    bad.assert_error(400, "PARAM_ERROR");
    let read = merchant
        .get_ok(
            &server,
            &format!("/v3/marketing/favor/callbacks?mchid={}", merchant.mchid),
        )
        .await;
    assert_eq!(read["notify_url"], "https://m.example/coupons", "{}", read);
}

#[tokio::test(flavor = "multi_thread")]
async fn paying_uses_the_best_coupon_and_its_value_moves_from_the_budget() {
    use plaza_testkit::pay::{NotifySink, SinkMode};
    let server = TestServer::sandbox(PLAZA);
    // Pinned, so the test's day arithmetic is the same at any hour.
    let _pinned = server.pin_clock("10:00").await;
    let sink = NotifySink::start(SinkMode::Accept).await;
    let merchant = Merchant::create(&server, "Dumpling House").await;
    merchant.top_up(&server, 10_000, "fund-1").await;
    merchant
        .post_ok(
            &server,
            "/v3/marketing/favor/callbacks",
            &json!({ "mchid": merchant.mchid, "notify_url": sink.url }),
        )
        .await;
    let create = |body: Value| {
        let merchant = &merchant;
        let server = &server;
        async move {
            let created = merchant
                .post_ok(server, "/v3/marketing/favor/coupon-stocks", &body)
                .await;
            let stock_id = created["stock_id"].as_str().unwrap().to_owned();
            assert_eq!(act(server, merchant, &stock_id, "start").await.status, 200);
            stock_id
        }
    };
    // ¥5 off ¥10 (prepaid: ¥50 reserved), and ¥3 off anything given by the merchant (免充值).
    let prepaid = create(stock_body(&merchant, "PRE-1", 10, 500, 1_000)).await;
    let mut free = stock_body(&merchant, "FREE-1", 10, 300, 0);
    free["no_cash"] = json!(true);
    let no_cash = create(free).await;
    assert_eq!(merchant.available_balance(&server).await, 5_000);

    let payer = Payer::create(&server, "Fei", 10_000).await;
    let openid = payer.openid(&server, &merchant.appid).await;
    let path = format!("/v3/marketing/favor/users/{openid}/coupons");
    let issue = |stock_id: String, no: &'static str| {
        let merchant = &merchant;
        let server = &server;
        let path = path.clone();
        async move {
            let reply = merchant
                .post_ok(server, &path, &issue_body(merchant, &stock_id, no))
                .await;
            reply["coupon_id"].as_str().unwrap().to_owned()
        }
    };
    let five = issue(prepaid.clone(), "I-1").await;
    let three = issue(no_cash.clone(), "I-2").await;

    let order = |no: &'static str, total: i64| {
        let merchant = &merchant;
        let server = &server;
        async move {
            merchant
                .prepay_native(
                    server,
                    &json!({
                        "appid": merchant.appid, "mchid": merchant.mchid, "description": "Dumplings",
                        "out_trade_no": no, "notify_url": "https://m.example/n", "amount": {"total": total},
                    }),
                )
                .await
        }
    };
    let confirm = |code_url: String, coupon: Option<&str>| {
        let mut body = json!({ "code_url": code_url, "password": "123456" });
        if let Some(coupon) = coupon {
            body["coupon_id"] = json!(coupon);
        }
        body
    };

    // ¥20: the best usable coupon is the ¥5 one (the ¥3 one is smaller).
    let code = order("DUMP-0001", 2_000).await;
    let paid = payer
        .post_ok(&server, "/api/v1/pay/confirm", &confirm(code, None))
        .await;
    assert_eq!(paid["payer_total"], 1_500);
    assert_eq!(paid["coupon"]["coupon_id"], five.as_str());
    assert_eq!(payer.balance(&server).await, 8_500);
    let transaction = merchant.order(&server, "DUMP-0001").await;
    assert_eq!(transaction["amount"]["total"], 2_000);
    assert_eq!(transaction["amount"]["payer_total"], 1_500);
    let promotion = &transaction["promotion_detail"][0];
    assert_eq!(promotion["coupon_id"], five.as_str());
    assert_eq!(promotion["type"], "CASH");
    assert_eq!(promotion["amount"], 500);
    assert_eq!(promotion["stock_id"], prepaid.as_str());
    let used = merchant
        .get_ok(&server, &format!("{path}/{five}?appid={}", merchant.appid))
        .await;
    assert_eq!(used["status"], "USED");
    // COUPON.USE reaches the stock's creator, encrypted with its APIv3 key.
    let notes = sink.wait_for(1).await;
    let note = notes[0].json();
    assert_eq!(note["event_type"], "COUPON.USE");
    assert_eq!(note["resource"]["original_type"], "coupon");
    let resource = merchant.decrypt(&note);
    assert_eq!(resource["coupon_id"], five.as_str());
    assert_eq!(resource["status"], "USED");
    assert_eq!(
        resource["consume_information"]["transaction_id"],
        transaction["transaction_id"]
    );

    // Asked for no coupon, none is used.
    let code = order("DUMP-0002", 900).await;
    let plain = payer
        .post(&server, "/api/v1/pay/confirm", &confirm(code, Some("none")))
        .await;
    assert_eq!(plain.json()["payer_total"], 900, "{}", plain.text);
    // A chosen 免充值 coupon: the merchant gives ¥3, no budget moves.
    let code = order("DUMP-0003", 1_000).await;
    let chosen = payer
        .post(&server, "/api/v1/pay/confirm", &confirm(code, Some(&three)))
        .await;
    assert_eq!(chosen.json()["payer_total"], 700, "{}", chosen.text);
    let transaction = merchant.order(&server, "DUMP-0003").await;
    assert_eq!(transaction["promotion_detail"][0]["type"], "NOCASH");
    assert_eq!(
        transaction["promotion_detail"][0]["merchant_contribute"],
        300
    );
    // A used coupon cannot be chosen again.
    let code = order("DUMP-0004", 1_000).await;
    let again = payer
        .post(&server, "/api/v1/pay/confirm", &confirm(code, Some(&three)))
        .await;
    assert_eq!(again.json()["code"], "business_rule", "{}", again.text);

    // Refunds return the cash part first; the coupon part then goes back to the stock's
    // funder (here the merchant itself), not to the payer.
    let refund = |no: &'static str, amount: i64| {
        json!({
            "out_trade_no": "DUMP-0001", "out_refund_no": no,
            "amount": {"refund": amount, "total": 2_000, "currency": "CNY"},
        })
    };
    let refunded = merchant
        .post_ok(
            &server,
            "/v3/refund/domestic/refunds",
            &refund("DR-1", 1_500),
        )
        .await;
    assert_eq!(refunded["amount"]["payer_refund"], 1_500);
    assert_eq!(refunded["amount"]["discount_refund"], 0);
    assert_eq!(payer.balance(&server).await, 10_000 - 900 - 700);
    let before = merchant.available_balance(&server).await;
    let coupon_part = merchant
        .post_ok(&server, "/v3/refund/domestic/refunds", &refund("DR-2", 500))
        .await;
    assert_eq!(coupon_part["amount"]["payer_refund"], 0);
    assert_eq!(coupon_part["amount"]["discount_refund"], 500);
    assert_eq!(
        payer.balance(&server).await,
        10_000 - 900 - 700,
        "the payer gets no coupon money"
    );
    assert_eq!(
        merchant.available_balance(&server).await,
        before + 500,
        "the funder does"
    );
    let beyond = merchant
        .post(&server, "/v3/refund/domestic/refunds", &refund("DR-3", 1))
        .await;
    beyond.assert_error(400, "INVALID_REQUEST");

    // A 免充值 order refunded whole: the payer's ¥7 comes back; the merchant's ¥3 discount
    // was never paid, so nothing moves for it.
    let free_refund = merchant
        .post_ok(
            &server,
            "/v3/refund/domestic/refunds",
            &json!({
                "out_trade_no": "DUMP-0003", "out_refund_no": "DR-4",
                "amount": {"refund": 1_000, "total": 1_000, "currency": "CNY"},
            }),
        )
        .await;
    assert_eq!(free_refund["amount"]["payer_refund"], 700);
    assert_eq!(free_refund["amount"]["discount_refund"], 300);
    assert_eq!(payer.balance(&server).await, 10_000 - 900);

    // Settlement: the ¥20 and ¥10 orders were refunded whole (their fees too); only the
    // 900 (fee 5) settles.
    server.advance_clock(86_400_000_i64 + 3 * 3_600_000).await;
    assert_eq!(
        merchant.available_balance(&server).await,
        5_000 + 500 + (900 - 5)
    );

    // The trade bills say what the Transactions and Refunds say.
    trade_bills_show_the_coupons(&server, &merchant, [&refunded, &coupon_part, &free_refund]).await;

    // The numbers: two coupons issued and used, ¥8 of subsidy drove ¥30 of spending — as
    // paid. Both orders were then refunded in full and the coupons' parts came back, so
    // net of refunds they drove nothing.
    let report = server
        .admin_get(&format!(
            "/api/v1/admin/reports/coupons?mchid={}",
            merchant.mchid
        ))
        .await
        .json();
    let total = &report["total"];
    assert_eq!(total["issued"], 2, "{report}");
    assert_eq!(total["redeemed"], 2);
    assert_eq!(total["redemption_rate"], "100.00%");
    assert_eq!(total["subsidy"], 800);
    assert_eq!(total["driven_spending"], 3_000);
    assert_eq!(total["refunded"], 2, "{report}");
    assert_eq!(total["net_redeemed"], 0);
    assert_eq!(total["subsidy_refunded"], 800);
    assert_eq!(total["net_subsidy"], 0);
    assert_eq!(total["driven_spending_refunded"], 3_000);
    assert_eq!(total["net_driven_spending"], 0);
    assert_eq!(report["stocks"].as_array().unwrap().len(), 2);
    for stock in report["stocks"].as_array().unwrap() {
        assert_eq!(
            (
                &stock["redeemed"],
                &stock["refunded"],
                &stock["net_subsidy"]
            ),
            (&json!(1), &json!(1), &json!(0)),
            "{stock}"
        );
    }
    // The console's headline is the net figure; the gross one stands beside it.
    let page = server.operator_page("/console").await;
    assert!(page.contains("Net of refunds"), "{page}");
    for (id, figure) in [
        ("coupon-net-subsidy", "0.00"),
        ("coupon-net-driven", "0.00"),
        ("coupon-net-redeemed", "0"),
        ("coupon-subsidy", "8.00"),
        ("coupon-driven", "30.00"),
        ("coupon-refunded", "2"),
    ] {
        assert!(
            page.contains(&format!("id=\"{id}\">{figure}<")),
            "{id} = {figure}: {page}"
        );
    }
    server.assert_ledger_sound().await;
}

/// The trade bills of the days the coupon orders of
/// `paying_uses_the_best_coupon_and_its_value_moves_from_the_budget` were paid and
/// refunded on (one day, unless the test ran across midnight): 代金券金额 is each coupon's
/// value, as in `promotion_detail`; 应结订单金额 leaves out a 免充值 discount, which the
/// merchant gave; 充值券退款金额 is what a refund returned to a prepaid stock
/// (`discount_refund`); 退款金额 leaves out what a refund undid of a 免充值 discount; and
/// each bill's totals row adds up its rows.
async fn trade_bills_show_the_coupons(
    server: &TestServer,
    merchant: &Merchant,
    refunds: [&Value; 3],
) {
    use plaza_testkit::pay::{TradeBill, fen};
    let mut days = std::collections::BTreeSet::new();
    let mut discounts = std::collections::BTreeMap::new();
    for no in ["DUMP-0001", "DUMP-0002", "DUMP-0003"] {
        let order = merchant.order(server, no).await;
        days.insert(order["success_time"].as_str().unwrap()[..10].to_owned());
        discounts.insert(no, order["promotion_detail"][0]["amount"].as_i64());
    }
    for refund in refunds {
        days.insert(refund["success_time"].as_str().unwrap()[..10].to_owned());
    }
    let mut rows = Vec::new();
    for day in &days {
        let text = merchant
            .bill_text(server, &format!("/v3/bill/tradebill?bill_date={day}"))
            .await;
        let bill = TradeBill::parse(&text);
        bill.assert_totals_add_up();
        rows.extend(bill.rows);
    }
    let payment = |no: &str| {
        rows.iter()
            .find(|row| row["商户订单号"] == no && row["交易状态"] == "SUCCESS")
            .unwrap_or_else(|| panic!("no payment row of {no}: {rows:?}"))
    };
    let refund = |no: &str| {
        rows.iter()
            .find(|row| row["商户退款单号"] == no)
            .unwrap_or_else(|| panic!("no refund row of {no}: {rows:?}"))
    };
    let cells = |row: &std::collections::BTreeMap<String, String>, columns: [&str; 3]| {
        columns.map(|column| row[column].clone())
    };
    let paid = ["应结订单金额", "代金券金额", "订单金额"];
    // ¥20 with the ¥5 prepaid coupon: the merchant is paid all ¥20.
    assert_eq!(
        cells(payment("DUMP-0001"), paid),
        ["20.00", "5.00", "20.00"]
    );
    assert_eq!(
        fen(&payment("DUMP-0001")["代金券金额"]),
        discounts["DUMP-0001"].unwrap()
    );
    assert_eq!(cells(payment("DUMP-0002"), paid), ["9.00", "0.00", "9.00"]);
    assert_eq!(discounts["DUMP-0002"], None);
    // ¥10 with the merchant's own ¥3 (免充值): it is paid ¥7.
    assert_eq!(cells(payment("DUMP-0003"), paid), ["7.00", "3.00", "10.00"]);
    assert_eq!(
        fen(&payment("DUMP-0003")["代金券金额"]),
        discounts["DUMP-0003"].unwrap()
    );
    let refunded = ["退款金额", "充值券退款金额", "申请退款金额"];
    assert_eq!(cells(refund("DR-1"), refunded), ["15.00", "0.00", "15.00"]);
    assert_eq!(cells(refund("DR-2"), refunded), ["5.00", "5.00", "5.00"]);
    assert_eq!(cells(refund("DR-4"), refunded), ["7.00", "0.00", "10.00"]);
    for (no, reply) in ["DR-1", "DR-2", "DR-4"].into_iter().zip(refunds) {
        let amount = &reply["amount"];
        let row = refund(no);
        let discount_refund = amount["discount_refund"].as_i64().unwrap();
        let prepaid = fen(&row["充值券退款金额"]);
        let no_cash = fen(&row["申请退款金额"]) - fen(&row["退款金额"]);
        assert_eq!(prepaid + no_cash, discount_refund, "{no}: {amount}");
        assert_eq!(
            fen(&row["申请退款金额"]),
            amount["refund"].as_i64().unwrap()
        );
    }
    // The fee is on what the merchant was paid: ¥7 at 0.6% for the 免充值 order.
    assert_eq!(payment("DUMP-0003")["手续费"], "0.04000");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_funds_stocks_for_its_own_sub_merchants_only() {
    let server = TestServer::sandbox(PLAZA);
    let provider = Merchant::create_provider(&server, &json!({ "name": "Mall Services" })).await;
    let shop = json!({ "name": "Shoe Shop" });
    let ours = provider.add_sub_merchant(&server, &shop).await;
    let other = Merchant::create_provider(&server, &json!({ "name": "Other Services" })).await;
    let theirs = other.add_sub_merchant(&server, &shop).await;
    provider.top_up(&server, 10_000, "fund-1").await;
    let mut body = stock_body(&provider, "SP-STOCK-1", 10, 200, 1_000);
    body["belong_merchant"] = json!(theirs);
    body["coupon_use_rule"]["available_merchants"] = json!([theirs]);
    let foreign = provider
        .post(&server, "/v3/marketing/favor/coupon-stocks", &body)
        .await;
    foreign.assert_error(403, "NO_AUTH");
    body["belong_merchant"] = json!(ours);
    body["coupon_use_rule"]["available_merchants"] = json!([ours]);
    let created = provider
        .post_ok(&server, "/v3/marketing/favor/coupon-stocks", &body)
        .await;
    // The provider's balance funds the ¥20 budget.
    assert_eq!(provider.available_balance(&server).await, 10_000 - 2_000);
    let stock_id = created["stock_id"].as_str().unwrap().to_owned();
    let merchants = provider
        .get_ok(
            &server,
            &format!(
                "/v3/marketing/favor/stocks/{stock_id}/merchants?stock_creator_mchid={}",
                provider.mchid
            ),
        )
        .await;
    assert_eq!(merchants["data"][0], ours.as_str(), "{}", merchants);
}
