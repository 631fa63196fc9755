//! The consoles against the real binary: a merchant's orders and an order's page with
//! its timeline (created → paid → notifications → settled → refunds), a refund made
//! from that page through the same path as the APIs (idempotent on the form, refused
//! in people's words, refused from another site), the sandbox's "pay as robot" and
//! "expire now"; a service provider's sub-merchants with their volume and commission;
//! the operator's merchants and orders, read-only, opened from the console. Over HTTP,
//! and in headless Chromium at 1280×800 (`tests/web/consoles.mjs`, screenshots in
//! `target/screenshots/`; skipped as in `web.rs` when the browser tools are missing).

use std::process::Command;

use plaza_testkit::clock::Pinned;
use plaza_testkit::pay::{Merchant, NotifySink, Payer, SinkMode};
use plaza_testkit::{Reply, ServerOptions, TestServer};
use serde_json::json;

use crate::PLAZA;
use crate::web::{browser_ready, root};
const DAY_MS: i64 = 86_400_000;
const MERCHANT_NAME: &str = "Console Noodles";
const PROVIDER_NAME: &str = "Harbor Services";
const SUB_MERCHANT_NAME: &str = "Harbor Dumplings";

/// A sandbox with a day of history: a merchant with two orders paid yesterday (one
/// notified, settled overnight) and two open ones today; a provider (25% commission)
/// with a sub-merchant paid ¥100.00 yesterday (settled) and ¥50.00 today (not yet).
struct World {
    server: TestServer,
    merchant: Merchant,
    provider: Merchant,
    sub_mchid: String,
    pinned: Pinned,
    _sink: NotifySink,
}

async fn native(
    server: &TestServer,
    merchant: &Merchant,
    no: &str,
    total: i64,
    url: &str,
) -> String {
    let reply = merchant
        .v3(
            server,
            "POST",
            "/v3/pay/transactions/native",
            Some(&json!({
                "appid": merchant.appid, "mchid": merchant.mchid, "description": "Beef noodles",
                "out_trade_no": no, "notify_url": url, "amount": {"total": total, "currency": "CNY"},
            })),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["code_url"].as_str().unwrap().to_owned()
}

async fn partner_native(
    world_parts: (&TestServer, &Merchant, &str),
    no: &str,
    total: i64,
    url: &str,
) -> String {
    let (server, provider, sub_mchid) = world_parts;
    let reply = provider
        .v3(
            server,
            "POST",
            "/v3/pay/partner/transactions/native",
            Some(&json!({
                "sp_appid": provider.appid, "sp_mchid": provider.mchid, "sub_mchid": sub_mchid,
                "description": "Pork dumplings", "out_trade_no": no, "notify_url": url,
                "amount": {"total": total, "currency": "CNY"},
            })),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["code_url"].as_str().unwrap().to_owned()
}

async fn world() -> World {
    let server = ServerOptions::new(PLAZA).sandbox().start();
    // Pinned, so "yesterday" and the overnight settlement are the same at any hour.
    let pinned = server.pin_clock("10:00").await;
    let sink = NotifySink::start(SinkMode::Accept).await;
    let merchant = Merchant::create(&server, MERCHANT_NAME).await;
    let provider = Merchant::create_provider(
        &server,
        &json!({ "name": PROVIDER_NAME, "commission_bps": 2_500 }),
    )
    .await;
    let sub = server
        .admin_post(
            &format!("/api/v1/admin/providers/{}/sub-merchants", provider.mchid),
            &json!({ "name": SUB_MERCHANT_NAME, "fee_rate_bps": 60 }),
        )
        .await;
    assert_eq!(sub.status, 201, "{}", sub.text);
    let sub_mchid = sub.json()["sub_mchid"].as_str().unwrap().to_owned();
    let payer = Payer::create(&server, "Sun Li", 100_000).await;
    for (no, total) in [("NOODLE-0001", 2_800), ("NOODLE-0004", 1_550)] {
        let code_url = native(&server, &merchant, no, total, &sink.url).await;
        assert_eq!(payer.pay_code(&server, &code_url).await.status, 200);
    }
    let parts = (&server, &provider, sub_mchid.as_str());
    let code_url = partner_native(parts, "HD-0001", 10_000, &sink.url).await;
    assert_eq!(payer.pay_code(&server, &code_url).await.status, 200);
    sink.wait_for(3).await;
    // Overnight: yesterday settles at 02:00.
    server.advance_clock(DAY_MS).await;
    for (no, total) in [("NOODLE-0002", 1_200), ("NOODLE-0003", 900)] {
        native(&server, &merchant, no, total, &sink.url).await;
    }
    let code_url = partner_native(parts, "HD-0002", 5_000, &sink.url).await;
    assert_eq!(payer.pay_code(&server, &code_url).await.status, 200);
    World {
        server,
        merchant,
        provider,
        sub_mchid,
        pinned,
        _sink: sink,
    }
}

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    plaza_testkit::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    plaza_testkit::send(request).await.unwrap()
}

/// Signs in through a demo sign-in form (`/signin/merchant`, `/signin/provider`,
/// `/signin/operator`) and answers the cookie it sets.
async fn sign_in(server: &TestServer, path: &str, form: &[(&str, &str)]) -> String {
    let reply = send(
        browser()
            .post(format!("{}{path}", server.base_url))
            .header("origin", &server.base_url)
            .form(form),
    )
    .await;
    assert_eq!(reply.status, 303, "{path}: {}", reply.text);
    reply
        .header("set-cookie")
        .and_then(|cookie| cookie.split(';').next())
        .unwrap()
        .to_owned()
}

async fn page(server: &TestServer, cookie: &str, path: &str) -> Reply {
    send(
        browser()
            .get(format!("{}{path}", server.base_url))
            .header("cookie", cookie),
    )
    .await
}

/// Posts a page's form the way a browser on the site does; answers the redirect.
async fn post_form(server: &TestServer, cookie: &str, path: &str, form: &[(&str, &str)]) -> Reply {
    send(
        browser()
            .post(format!("{}{path}", server.base_url))
            .header("cookie", cookie)
            .header("origin", &server.base_url)
            .form(form),
    )
    .await
}

/// The page a form's redirect leads to, and the flash message on it.
async fn follow(server: &TestServer, cookie: &str, reply: &Reply) -> (String, String) {
    assert_eq!(reply.status, 303, "{}", reply.text);
    let location = reply.header("location").unwrap().to_owned();
    let text = page(server, cookie, &location).await.text;
    let flash = between(&text, "id=\"notice\" role=\"status\">", "</div>").unwrap_or_default();
    (text, flash)
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(text[from..to].to_owned())
}

/// The timeline's lines, in order, as their `data-kind`s.
fn timeline_kinds(page: &str) -> Vec<String> {
    let timeline = between(page, "id=\"timeline\">", "</ol>").unwrap_or_default();
    timeline
        .split("data-kind=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

fn hidden_value(page: &str, name: &str) -> String {
    between(page, &format!("name=\"{name}\" value=\""), "\"").unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_merchant_refunds_from_the_order_page_and_the_refund_joins_its_timeline() {
    let world = world().await;
    let server = &world.server;
    let cookie = sign_in(
        server,
        "/signin/merchant",
        &[("mchid", &world.merchant.mchid)],
    )
    .await;

    let list = page(server, &cookie, "/merchant/console/orders").await;
    assert_eq!(list.status, 200, "{}", list.text);
    for no in ["NOODLE-0001", "NOODLE-0002", "NOODLE-0003", "NOODLE-0004"] {
        assert!(
            list.text
                .contains(&format!("href=\"/merchant/console/orders/{no}\">{no}</a>")),
            "{no} opens its page: {}",
            list.text
        );
    }
    assert!(list.text.contains("data-state=\"SUCCESS\">Paid</span>"));
    assert!(list.text.contains("data-state=\"NOTPAY\">Not paid</span>"));
    assert!(list.text.contains("¥28.00"), "amounts in yuan");
    assert!(
        list.text.contains(&format!("{} 10:0", world.pinned.day)),
        "created in China time"
    );

    let path = "/merchant/console/orders/NOODLE-0001";
    let before = page(server, &cookie, path).await;
    assert_eq!(before.status, 200, "{}", before.text);
    assert_eq!(
        timeline_kinds(&before.text),
        ["created", "paid", "notification", "settled"],
        "{}",
        before.text
    );
    assert!(
        before.text.contains("Sun Li paid ¥28.00"),
        "{}",
        before.text
    );
    assert!(
        before
            .text
            .contains("<span class=\"status delivered\">delivered</span>")
    );
    assert!(
        before.text.contains("HTTP 200"),
        "the delivery attempt is shown"
    );
    assert!(
        before
            .text
            .contains(&format!("The day {} settled", world.pinned.day)),
        "{}",
        before.text
    );

    // The refund form draws its refund number once: the same form sent twice refunds once.
    let out_refund_no = hidden_value(&before.text, "out_refund_no");
    let form = [
        ("out_refund_no", out_refund_no.as_str()),
        ("amount", "5.00"),
        ("reason", "Cold noodles"),
    ];
    for _ in 0..2 {
        let reply = post_form(server, &cookie, &format!("{path}/refund"), &form).await;
        let (_, flash) = follow(server, &cookie, &reply).await;
        assert_eq!(flash, "退款成功 Refunded ¥5.00 to the payer.");
    }
    let after = page(server, &cookie, path).await.text;
    assert_eq!(
        timeline_kinds(&after),
        ["created", "paid", "notification", "settled", "refund"],
        "{after}"
    );
    assert!(after.contains("<strong>Refund ¥5.00</strong>"), "{after}");
    assert!(after.contains("data-state=\"SUCCESS\">Refunded</span>"));
    assert!(after.contains("Cold noodles") && after.contains(&out_refund_no));
    assert!(
        after.contains("id=\"order-refunded\">¥5.00<"),
        "refunded once: {after}"
    );
    assert!(after.contains("data-state=\"REFUND\">Partly refunded</span>"));

    // It is the refund the APIs see.
    let queried = world
        .merchant
        .v3(
            server,
            "GET",
            &format!("/v3/refund/domestic/refunds/{out_refund_no}"),
            None,
        )
        .await;
    assert_eq!(queried.status, 200, "{}", queried.text);
    assert_eq!(queried.json()["status"], "SUCCESS");
    assert_eq!(queried.json()["amount"]["refund"], 500);

    // Refusals come back as flash messages people read, and change nothing.
    let next_no = hidden_value(&after, "out_refund_no");
    for (amount, expected) in [
        ("100", "At most ¥23.00 of this order can still be refunded."),
        ("abc", "Enter an amount in yuan"),
        ("0", "Enter an amount in yuan"),
        ("1.234", "at most two decimals"),
    ] {
        let form = [("out_refund_no", next_no.as_str()), ("amount", amount)];
        let reply = post_form(server, &cookie, &format!("{path}/refund"), &form).await;
        let (text, flash) = follow(server, &cookie, &reply).await;
        assert!(flash.contains(expected), "{amount}: {flash}");
        assert!(text.contains("class=\"notice bad\""));
    }
    let cross_site = send(
        browser()
            .post(format!("{}{path}/refund", server.base_url))
            .header("cookie", &cookie)
            .header("origin", "https://evil.example")
            .form(&[("out_refund_no", next_no.as_str()), ("amount", "1.00")]),
    )
    .await;
    assert_eq!(cross_site.status, 403, "{}", cross_site.text);
    let unchanged = page(server, &cookie, path).await.text;
    assert!(
        unchanged.contains("id=\"order-refunded\">¥5.00<"),
        "{unchanged}"
    );

    // Another merchant's order is not there; nobody signed in is sent to sign in.
    let missing = page(server, &cookie, "/merchant/console/orders/HD-0001").await;
    assert_eq!(missing.status, 404);
    assert!(missing.text.contains("id=\"error-page\""));
    let anonymous = send(browser().get(format!("{}{path}", server.base_url))).await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(
        anonymous.header("location"),
        Some("/signin?next=/merchant/console/orders/NOODLE-0001")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_robot_pays_an_open_order_and_another_expires_now() {
    let world = world().await;
    let server = &world.server;
    let cookie = sign_in(
        server,
        "/signin/merchant",
        &[("mchid", &world.merchant.mchid)],
    )
    .await;

    let open = page(server, &cookie, "/merchant/console/orders/NOODLE-0002")
        .await
        .text;
    assert_eq!(timeline_kinds(&open), ["created", "expires"], "{open}");
    assert!(open.contains("id=\"robot-pay\"") && open.contains("id=\"expire-now\""));
    assert!(
        !open.contains("id=\"refund-form\""),
        "nothing to refund yet"
    );
    let reply = post_form(
        server,
        &cookie,
        "/merchant/console/orders/NOODLE-0002/robot-pay",
        &[],
    )
    .await;
    let (paid, flash) = follow(server, &cookie, &reply).await;
    assert_eq!(flash, "已支付 The sandbox robot payer paid ¥12.00.");
    assert_eq!(
        timeline_kinds(&paid),
        ["created", "paid", "notification", "settles"],
        "{paid}"
    );
    assert!(paid.contains("Sandbox robot payer paid ¥12.00"), "{paid}");
    assert!(
        paid.contains("id=\"refund-form\""),
        "now it can be refunded"
    );
    assert_eq!(
        world.merchant.order(server, "NOODLE-0002").await["trade_state"],
        "SUCCESS"
    );

    let reply = post_form(
        server,
        &cookie,
        "/merchant/console/orders/NOODLE-0003/expire",
        &[],
    )
    .await;
    let (closed, flash) = follow(server, &cookie, &reply).await;
    assert_eq!(
        flash,
        "已关闭 The order is closed; it can no longer be paid."
    );
    assert_eq!(timeline_kinds(&closed), ["created", "closed"], "{closed}");
    assert!(closed.contains("data-state=\"CLOSED\">Closed</span>"));
    assert!(
        !closed.contains("id=\"robot-pay\""),
        "a closed order offers nothing"
    );
    let reply = post_form(
        server,
        &cookie,
        "/merchant/console/orders/NOODLE-0003/robot-pay",
        &[],
    )
    .await;
    let (_, flash) = follow(server, &cookie, &reply).await;
    assert!(flash.contains("can no longer be paid"), "{flash}");
    let reply = post_form(
        server,
        &cookie,
        "/merchant/console/orders/NOODLE-0001/expire",
        &[],
    )
    .await;
    let (_, flash) = follow(server, &cookie, &reply).await;
    assert!(flash.contains("paid already"), "{flash}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_sees_its_sub_merchants_volume_and_commission_and_refunds_for_them() {
    let world = world().await;
    let server = &world.server;
    let anonymous = send(browser().get(format!("{}/provider", server.base_url))).await;
    assert_eq!(
        anonymous.header("location"),
        Some("/provider/signin?next=%2Fprovider")
    );
    let signin = server.get("/provider/signin").await.text;
    assert!(
        signin.contains(&format!("data-provider=\"{PROVIDER_NAME}\"")),
        "{signin}"
    );
    let merchant_cookie = sign_in(
        server,
        "/signin/merchant",
        &[("mchid", &world.merchant.mchid)],
    )
    .await;
    let not_a_provider = page(server, &merchant_cookie, "/provider").await;
    assert_eq!(
        not_a_provider.status, 303,
        "a direct merchant is no provider"
    );
    let refused = post_form(
        server,
        "",
        "/signin/provider",
        &[("mchid", world.merchant.mchid.as_str())],
    )
    .await;
    assert_eq!(refused.status, 404, "{}", refused.text);

    let cookie = sign_in(
        server,
        "/signin/provider",
        &[("mchid", &world.provider.mchid)],
    )
    .await;
    let home = page(server, &cookie, "/provider").await;
    assert_eq!(home.status, 200, "{}", home.text);
    let text = &home.text;
    // ¥100.00 yesterday (fee ¥0.60, settled: 25% = ¥0.15) and ¥50.00 today (fee ¥0.30,
    // 25% = ¥0.075, rounded down as settlement does).
    assert!(text.contains("id=\"total-paid-orders\">2<"), "{text}");
    assert!(text.contains("id=\"total-volume\">¥150.00<"), "{text}");
    assert!(text.contains("id=\"commission-settled\">¥0.15<"), "{text}");
    assert!(text.contains("id=\"commission-to-come\">¥0.07<"), "{text}");
    let orders_href = format!("/provider/sub-merchants/{}/orders", world.sub_mchid);
    assert!(text.contains(&format!("href=\"{orders_href}\">{SUB_MERCHANT_NAME}</a>")));
    assert!(text.contains(&format!(
        "{} – {}",
        world.pinned.day_plus(-5),
        world.pinned.day_plus(1)
    )));

    let orders = page(server, &cookie, &orders_href).await.text;
    assert!(
        orders.contains(&format!("href=\"{orders_href}/HD-0001\">HD-0001</a>")),
        "{orders}"
    );
    let order = page(server, &cookie, &format!("{orders_href}/HD-0001"))
        .await
        .text;
    assert_eq!(
        timeline_kinds(&order),
        ["created", "paid", "notification", "settled"],
        "{order}"
    );
    assert!(order.contains("¥0.15 commission to provider"), "{order}");
    let form = [
        ("out_refund_no", hidden_value(&order, "out_refund_no")),
        ("amount", "10".to_owned()),
    ];
    let form: Vec<(&str, &str)> = form
        .iter()
        .map(|(key, value)| (*key, value.as_str()))
        .collect();
    let reply = post_form(
        server,
        &cookie,
        &format!("{orders_href}/HD-0001/refund"),
        &form,
    )
    .await;
    let (refunded, flash) = follow(server, &cookie, &reply).await;
    assert_eq!(flash, "退款成功 Refunded ¥10.00 to the payer.");
    assert_eq!(
        timeline_kinds(&refunded).last().map(String::as_str),
        Some("refund")
    );

    // Someone else's sub-merchant is refused in words.
    let other = page(
        server,
        &cookie,
        &format!("/provider/sub-merchants/{}/orders", world.merchant.mchid),
    )
    .await;
    assert_eq!(other.status, 403, "{}", other.text);
    assert!(
        other
            .text
            .contains("is not a sub-merchant of service provider")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_opens_merchants_and_orders_from_the_console_read_only() {
    let world = world().await;
    let server = &world.server;
    let cookie = sign_in(server, "/signin/operator", &[]).await;
    let mchid = &world.merchant.mchid;

    let yesterday = page(
        server,
        &cookie,
        &format!("/console?day={}", world.pinned.day),
    )
    .await
    .text;
    assert!(
        yesterday.contains(&format!(
            "href=\"/console/merchants/{mchid}/orders/NOODLE-0001\">NOODLE-0001</a>"
        )),
        "{yesterday}"
    );
    assert!(yesterday.contains(&format!(
        "href=\"/console/merchants/{mchid}\">{MERCHANT_NAME}</a>"
    )));
    let today = page(server, &cookie, "/console").await.text;
    assert!(
        today.contains(&format!(
            "href=\"/console/merchants/{}/orders/HD-0002\"",
            world.sub_mchid
        )),
        "{today}"
    );

    let merchants = page(server, &cookie, "/console/merchants").await.text;
    for name in [MERCHANT_NAME, PROVIDER_NAME, SUB_MERCHANT_NAME] {
        assert!(
            merchants.contains(&format!(">{name}</a>")),
            "{name}: {merchants}"
        );
    }
    let merchant = page(server, &cookie, &format!("/console/merchants/{mchid}"))
        .await
        .text;
    assert!(merchant.contains(&format!(
        "href=\"/console/merchants/{mchid}/orders/NOODLE-0003\""
    )));
    assert!(merchant.contains(&format!("href=\"/console/notifications?mchid={mchid}\"")));
    let provider = page(
        server,
        &cookie,
        &format!("/console/merchants/{}", world.provider.mchid),
    )
    .await
    .text;
    assert!(provider.contains(&format!(
        "href=\"/console/merchants/{}\">{SUB_MERCHANT_NAME}</a>",
        world.sub_mchid
    )));

    let order_path = format!("/console/merchants/{mchid}/orders/NOODLE-0001");
    let order = page(server, &cookie, &order_path).await.text;
    assert_eq!(
        timeline_kinds(&order),
        ["created", "paid", "notification", "settled"]
    );
    assert!(
        !order.contains("id=\"refund-form\""),
        "the operator reads: {order}"
    );
    assert!(
        order.contains("href=\"/console/notifications/EV-"),
        "notifications open in the console"
    );
    let refund = post_form(
        server,
        &cookie,
        &format!("{order_path}/refund"),
        &[("amount", "1")],
    )
    .await;
    assert_eq!(refund.status, 404, "no refunds on the operator's pages");
    let open = page(
        server,
        &cookie,
        &format!("/console/merchants/{mchid}/orders/NOODLE-0002"),
    )
    .await
    .text;
    assert!(
        open.contains("id=\"robot-pay\""),
        "sandbox powers are the operator's too"
    );

    let notifications = page(server, &cookie, "/console/notifications").await.text;
    assert!(
        notifications.contains(&format!(
            "class=\"mono order-link\" href=\"/console/merchants/{mchid}/orders/NOODLE-0001\""
        )),
        "{notifications}"
    );
    // Only the operator.
    let merchant_cookie = sign_in(server, "/signin/merchant", &[("mchid", mchid)]).await;
    let refused = page(server, &merchant_cookie, &order_path).await;
    assert_eq!(refused.status, 303);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_order_list_pages_twenty_orders_at_a_time_newest_first() {
    let server = ServerOptions::new(PLAZA).sandbox().start();
    let merchant = Merchant::create(&server, MERCHANT_NAME).await;
    for number in 1..=21 {
        let no = format!("PAGE-{number:04}");
        native(
            &server,
            &merchant,
            &no,
            100 + number,
            "https://m.example/notify",
        )
        .await;
    }
    let cookie = sign_in(&server, "/signin/merchant", &[("mchid", &merchant.mchid)]).await;
    let rows = |text: &str| text.matches("<tr class=\"order\"").count();
    let first = page(&server, &cookie, "/merchant/console/orders")
        .await
        .text;
    assert_eq!(rows(&first), 20, "{first}");
    assert!(first.contains(">PAGE-0021</a>") && !first.contains(">PAGE-0001</a>"));
    assert!(first.contains("href=\"/merchant/console/orders?page=2\" id=\"older\""));
    let second = page(&server, &cookie, "/merchant/console/orders?page=2")
        .await
        .text;
    assert_eq!(rows(&second), 1, "{second}");
    assert!(second.contains(">PAGE-0001</a>"));
    assert!(second.contains("href=\"/merchant/console/orders?page=1\" id=\"newer\""));
    assert!(!second.contains("id=\"older\""), "no page after the last");
    let bad = page(&server, &cookie, "/merchant/console/orders?page=two").await;
    assert_eq!(
        bad.status, 400,
        "a page that is not a number is the 400 page"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn outside_the_sandbox_the_order_pages_offer_no_sandbox_powers() {
    let server = ServerOptions::new(PLAZA).start();
    let merchant = Merchant::create(&server, MERCHANT_NAME).await;
    native(
        &server,
        &merchant,
        "PROD-0001",
        1_000,
        "https://m.example/notify",
    )
    .await;
    let cookie = sign_in(
        &server,
        "/signin/operator",
        &[("token", server.admin_token.as_str())],
    )
    .await;
    let path = format!("/console/merchants/{}/orders/PROD-0001", merchant.mchid);
    let order = page(&server, &cookie, &path).await;
    assert_eq!(order.status, 200, "{}", order.text);
    assert!(!order.text.contains("id=\"robot-pay\""), "{}", order.text);
    assert!(
        !order.text.contains("/console/notifications"),
        "no sandbox console to link"
    );
    for action in ["robot-pay", "expire"] {
        let refused = post_form(&server, &cookie, &format!("{path}/{action}"), &[]).await;
        assert_eq!(refused.status, 404, "{action}: {}", refused.text);
        assert!(refused.text.contains("data-code=\"sandbox_only\""));
    }
    assert_eq!(
        merchant.order(&server, "PROD-0001").await["trade_state"],
        "NOTPAY"
    );
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    plaza_browser_missing,
    ignore = "browser part skipped: needs node, tests/web/node_modules (npm ci --prefix tests/web) and chromium"
)]
async fn the_merchant_provider_and_operator_consoles_in_a_browser() {
    if !browser_ready() {
        return;
    }
    let world = world().await;
    let screenshots = root().join("target/screenshots");
    world.server.run_script(
        "the consoles browser test",
        Command::new("node")
            .arg(root().join("tests/web/consoles.mjs"))
            .arg(&world.server.base_url)
            .arg(MERCHANT_NAME)
            .arg(PROVIDER_NAME)
            .arg(&screenshots),
    );
    for name in [
        "console-merchant-orders.png",
        "console-merchant-order-refunded.png",
        "console-provider.png",
        "console-operator.png",
    ] {
        assert!(screenshots.join(name).is_file(), "{name}");
    }
}
