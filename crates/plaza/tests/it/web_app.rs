//! The user app in headless Chromium at a phone's size (playwright-core driving Debian's
//! `chromium`, `tests/web/app.mjs`): its three tabs, a payment made in the test showing
//! in the 账单 and as WeChat Pay's receipt in Chats beside an earlier refund, Scan, and
//! the pages' old addresses redirecting into `/app`. Screenshots land in
//! `target/screenshots/app-*.png`. And, over plain HTTP: the sandbox's sign-in page
//! offers every role the systems sign in (payers, merchants, service providers, the
//! operator) and each lands in its place; outside the sandbox a session token signs in
//! and demo sign-in is refused.
//!
//! Needs what `web.rs` needs (`node`, `tests/web/node_modules`, `/usr/bin/chromium` or
//! `PLAZA_CHROMIUM`); without them the test is compiled as ignored with the reason
//! (`crates/plaza/build.rs`), unless `PLAZA_TEST_REQUIRE_BROWSER=1` (CI) makes their
//! absence a failure.

use std::process::Command;

use plaza_testkit::ServerOptions;
use plaza_testkit::pay::{Merchant, Payer};
use serde_json::json;

use crate::PLAZA;
use crate::web::{browser_ready, root};

/// A Native order of `merchant` for `total` fen: its `code_url`.
async fn native_order(
    server: &plaza_testkit::TestServer,
    merchant: &Merchant,
    out_trade_no: &str,
    description: &str,
    total: i64,
) -> String {
    let reply = merchant
        .v3(
            server,
            "POST",
            "/v3/pay/transactions/native",
            Some(&json!({
                "appid": merchant.appid, "mchid": merchant.mchid, "description": description,
                "out_trade_no": out_trade_no, "notify_url": "https://m.example/n",
                "amount": {"total": total},
            })),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["code_url"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    plaza_browser_missing,
    ignore = "browser part skipped: needs node, tests/web/node_modules (npm ci --prefix tests/web) and chromium"
)]
async fn the_user_app_shows_a_payment_in_the_bills_and_in_chats_on_a_phone() {
    if !browser_ready() {
        return;
    }
    let server = ServerOptions::new(PLAZA).sandbox().start();
    // Pinned, so the times on the pages read the same at any hour.
    let _pinned = server.pin_clock("10:00").await;
    let merchant = Merchant::create(&server, "Harbour Coffee").await;
    let payer = Payer::create(&server, "Lin Wei", 10_000).await;

    // An earlier payment, partly refunded.
    let earlier = native_order(&server, &merchant, "APP-0001", "Morning bun", 1_200).await;
    assert_eq!(payer.pay_code(&server, &earlier).await.status, 200);
    let refund = merchant
        .v3(
            &server,
            "POST",
            "/v3/refund/domestic/refunds",
            Some(&json!({
                "out_trade_no": "APP-0001", "out_refund_no": "APP-R-1", "reason": "stale",
                "amount": {"refund": 500, "total": 1_200, "currency": "CNY"},
            })),
        )
        .await;
    assert_eq!(refund.status, 200, "{}", refund.text);

    // The order the payer pays in the browser, through the checkout's old address.
    let code_url = native_order(&server, &merchant, "APP-0002", "Flat white", 1_850).await;
    let token = code_url.rsplit("pr=").next().unwrap().to_owned();
    let checkout = format!("{}/pay/checkout?code={token}", server.base_url);
    let screenshots = root().join("target/screenshots");
    server.run_script(
        "the user app browser test",
        Command::new("node")
            .arg(root().join("tests/web/app.mjs"))
            .arg(&server.base_url)
            .arg("Lin Wei")
            .arg(&payer.password)
            .arg(&checkout)
            .arg(&code_url)
            .arg(&screenshots),
    );
    for tab in ["app-chats", "app-discover", "app-me", "app-bills"] {
        assert!(screenshots.join(format!("{tab}.png")).is_file(), "{tab}");
    }
    // What the pages showed is what the API says.
    assert_eq!(payer.balance(&server).await, 10_000 - 1_200 + 500 - 1_850);
}

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    plaza_testkit::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn cookie_set(reply: &plaza_testkit::Reply, name: &str) -> Option<String> {
    reply
        .headers
        .iter()
        .filter(|(header, _)| header == "set-cookie")
        .find_map(|(_, value)| {
            let pair = value.split(';').next()?;
            pair.starts_with(&format!("{name}="))
                .then(|| pair.to_owned())
        })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_signs_in_as_any_role_the_systems_offer_and_each_lands_in_its_place() {
    let server = ServerOptions::new(PLAZA).sandbox().start();
    let merchant = Merchant::create(&server, "Harbour Coffee").await;
    let provider = Merchant::create_provider(&server, &json!({ "name": "POS Services" })).await;
    let payer = Payer::create(&server, "Lin Wei", 1_000).await;
    let client = no_redirects();
    let send = |request: reqwest::RequestBuilder| async move {
        plaza_testkit::send(request).await.unwrap()
    };

    let page = send(client.get(format!("{}/signin", server.base_url))).await;
    assert_eq!(page.status, 200);
    for button in [
        "data-user=\"Lin Wei\"",
        "data-merchant=\"Harbour Coffee\"",
        "data-provider=\"POS Services\"",
        "data-operator=\"operator\"",
    ] {
        assert!(page.text.contains(button), "{button}: {}", page.text);
    }
    assert!(
        !page.text.contains("data-merchant=\"POS Services\""),
        "a provider is listed as a provider"
    );

    let sign_in = |role: &str, account: &str| {
        send(
            client
                .post(format!("{}/signin/{role}", server.base_url))
                .form(&[("account", account)]),
        )
    };
    for (role, account, landing, cookie) in [
        ("user", payer.user_id.as_str(), "/app", "plaza_session"),
        (
            "merchant",
            merchant.mchid.as_str(),
            "/merchant",
            "plaza_merchant",
        ),
        (
            "provider",
            provider.mchid.as_str(),
            "/provider",
            "plaza_merchant",
        ),
    ] {
        let reply = sign_in(role, account).await;
        assert_eq!(reply.status, 303, "{role}: {}", reply.text);
        assert_eq!(reply.header("location"), Some(landing), "{role}");
        assert!(cookie_set(&reply, cookie).is_some(), "{role}");
    }
    // The provider's cookie signs it in as a provider: the operator's console offers
    // its own console beside.
    let provider_cookie = cookie_set(
        &sign_in("provider", &provider.mchid).await,
        "plaza_merchant",
    )
    .unwrap();
    let app = send(
        client
            .get(format!("{}/app/me", server.base_url))
            .header("cookie", format!("plaza_session={}", payer.token)),
    )
    .await;
    assert_eq!(app.status, 200);
    assert!(app.text.contains("id=\"me-name\">Lin Wei<"), "{}", app.text);
    let home = send(
        client
            .get(format!("{}/", server.base_url))
            .header("cookie", &provider_cookie),
    )
    .await;
    assert!(
        home.text
            .contains("Service provider: <strong>POS Services</strong>"),
        "{}",
        home.text
    );

    // A direct merchant is no provider; an unknown role signs nobody in.
    let refused = sign_in("provider", &merchant.mchid).await;
    assert_eq!(refused.status, 404, "{}", refused.text);
    assert!(cookie_set(&refused, "plaza_merchant").is_none());
    assert_eq!(sign_in("nobody", "x").await.status, 404);
    let unknown_user = sign_in("user", "u0000000000000000").await;
    assert!(unknown_user.status >= 400, "{}", unknown_user.text);
    assert!(cookie_set(&unknown_user, "plaza_session").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn outside_the_sandbox_sign_in_takes_a_session_token_and_demo_sign_in_is_refused() {
    let server = ServerOptions::new(PLAZA).start();
    let created = server
        .admin_post(
            "/api/v1/admin/users",
            &json!({ "name": "Bo", "password": "135791" }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let user = created.json();
    let client = no_redirects();
    let page = plaza_testkit::send(client.get(format!("{}/signin", server.base_url)))
        .await
        .unwrap();
    assert!(
        page.text.contains("action=\"/signin/token\""),
        "{}",
        page.text
    );
    assert!(page.text.contains("id=\"admin-token\""));
    assert!(!page.text.contains("data-user="), "no demo accounts");
    let demo = plaza_testkit::send(
        client
            .post(format!("{}/signin/user", server.base_url))
            .form(&[("user_id", user["user_id"].as_str().unwrap())]),
    )
    .await
    .unwrap();
    assert_eq!(demo.status, 404);
    assert!(
        demo.text.contains("data-code=\"sandbox_only\""),
        "{}",
        demo.text
    );
    let token = user["token"].as_str().unwrap();
    let signed_in = plaza_testkit::send(
        client
            .post(format!("{}/signin/token", server.base_url))
            .form(&[("token", token), ("next", "/app/me/bills")]),
    )
    .await
    .unwrap();
    assert_eq!(signed_in.status, 303, "{}", signed_in.text);
    assert_eq!(signed_in.header("location"), Some("/app/me/bills"));
    assert_eq!(
        cookie_set(&signed_in, "plaza_session"),
        Some(format!("plaza_session={token}"))
    );
    let bills = plaza_testkit::send(
        client
            .get(format!("{}/app/me/bills", server.base_url))
            .header("cookie", format!("plaza_session={token}")),
    )
    .await
    .unwrap();
    assert_eq!(bills.status, 200);
    assert!(bills.text.contains("No transactions yet"), "{}", bills.text);
}
