//! The user app in headless Chromium at a phone's size (playwright-core driving Debian's
//! `chromium`, `tests/web/app.mjs`): its three tabs, a payment made in the test showing
//! in the 账单 and as WeChat Pay's receipt in Chats beside an earlier refund, Scan, and
//! the pages' old addresses redirecting into `/app`. Screenshots land in
//! `target/screenshots/app-*.png`.
//!
//! Needs what `web.rs` needs (`node`, `tests/web/node_modules`, `/usr/bin/chromium` or
//! `PLAZA_CHROMIUM`); without them the test is compiled as ignored with the reason
//! (`crates/plaza/build.rs`), unless `PLAZA_TEST_REQUIRE_BROWSER=1` (CI) makes their
//! absence a failure.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use plaza_testkit::ServerOptions;
use plaza_testkit::pay::{Merchant, Payer};
use serde_json::json;

const PLAZA: &str = env!("CARGO_BIN_EXE_plaza");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn browser_ready() -> bool {
    let chromium =
        std::env::var("PLAZA_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let missing: Vec<&str> = [
        (
            Command::new("node").arg("--version").output().is_err(),
            "node",
        ),
        (
            !root()
                .join("tests/web/node_modules/playwright-core")
                .is_dir(),
            "tests/web/node_modules (npm ci --prefix tests/web)",
        ),
        (!Path::new(&chromium).exists(), "chromium"),
    ]
    .into_iter()
    .filter_map(|(absent, name)| absent.then_some(name))
    .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var("PLAZA_TEST_REQUIRE_BROWSER").as_deref() != Ok("1"),
        "PLAZA_TEST_REQUIRE_BROWSER=1 but missing: {}",
        missing.join(", ")
    );
    plaza_testkit::say_skipped(&format!("browser part; missing: {}", missing.join(", ")));
    false
}

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
