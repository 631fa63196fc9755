//! Plaza's pages in headless Chromium (playwright-core driving Debian's `chromium`):
//! `tests/web/checkout.mjs` — the merchant demo shows a Native order's QR code, a demo
//! payer signs in, pays on the checkout page, and the merchant page sees it; a paid or
//! closed order's checkout shows its end state, a short wallet reads in yuan, and unknown
//! or incomplete addresses are 404/400 pages;
//! `tests/web/collect.mjs` — a user opens a collection code, a payer pays through it,
//! and the owner's open page shows the payment live; `tests/web/coupon.mjs` — a payer
//! claims a coupon and pays with it on the checkout page. Screenshots land in
//! `target/screenshots/`.
//!
//! Needs `node`, `tests/web/node_modules` (`npm ci --prefix tests/web`) and
//! `/usr/bin/chromium` (or `PLAZA_CHROMIUM`). Without them these tests are compiled as
//! ignored with the reason (`crates/plaza/build.rs`), so the summary counts them as
//! ignored, unless `PLAZA_TEST_REQUIRE_BROWSER=1` (CI) makes their absence a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use plaza_testkit::TestServer;

use crate::PLAZA;

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn browser_ready() -> bool {
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

#[test]
#[cfg_attr(
    plaza_browser_missing,
    ignore = "browser part skipped: needs node, tests/web/node_modules (npm ci --prefix tests/web) and chromium"
)]
fn a_payer_pays_a_native_order_on_the_checkout_page() {
    if !browser_ready() {
        return;
    }
    let server = TestServer::sandbox(PLAZA);
    let screenshots = root().join("target/screenshots");
    server.run_script(
        "the browser test",
        Command::new("node")
            .arg(root().join("tests/web/checkout.mjs"))
            .arg(&server.base_url)
            .arg(&server.admin_token)
            .arg(&screenshots),
    );
    assert!(screenshots.join("checkout.png").is_file());
}

#[test]
#[cfg_attr(
    plaza_browser_missing,
    ignore = "browser part skipped: needs node, tests/web/node_modules (npm ci --prefix tests/web) and chromium"
)]
fn a_payer_pays_a_collection_code_and_the_owner_sees_it_live() {
    if !browser_ready() {
        return;
    }
    let server = TestServer::sandbox(PLAZA);
    let screenshots = root().join("target/screenshots");
    server.run_script(
        "the collection-code browser test",
        Command::new("node")
            .arg(root().join("tests/web/collect.mjs"))
            .arg(&server.base_url)
            .arg(&server.admin_token)
            .arg(&screenshots),
    );
    assert!(screenshots.join("collect-received.png").is_file());
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    plaza_browser_missing,
    ignore = "browser part skipped: needs node, tests/web/node_modules (npm ci --prefix tests/web) and chromium"
)]
async fn a_payer_claims_a_coupon_and_pays_with_it_on_the_checkout_page() {
    use plaza_testkit::pay::Merchant;
    use serde_json::json;
    if !browser_ready() {
        return;
    }
    let server = TestServer::sandbox(PLAZA);
    let merchant = Merchant::create(&server, "Mei's Tea").await;
    merchant.top_up(&server, 10_000, "fund-1").await;
    let now_ms = i64::try_from(std::time::UNIX_EPOCH.elapsed().unwrap().as_millis()).unwrap();
    let at = |offset_ms: i64| {
        plaza_pay::time::rfc3339(plaza_kernel::clock::Timestamp::from_unix_ms(
            now_ms + offset_ms,
        ))
    };
    let created = merchant
        .post_ok(
            &server,
            "/v3/marketing/favor/coupon-stocks",
            &json!({
                "stock_name": "¥5 off tea", "belong_merchant": merchant.mchid,
                "available_begin_time": at(-3_600_000), "available_end_time": at(86_400_000),
                "stock_use_rule": {"max_coupons": 10, "max_amount": 5_000, "max_coupons_per_user": 1},
                "coupon_use_rule": {"fixed_normal_coupon": {"coupon_amount": 500, "transaction_minimum": 1_000}},
                "stock_type": "NORMAL", "out_request_no": "WEB-STOCK-1",
            }),
        )
        .await;
    let stock_id = created["stock_id"].as_str().unwrap().to_owned();
    merchant
        .post_ok(
            &server,
            &format!("/v3/marketing/favor/stocks/{stock_id}/start"),
            &json!({ "stock_creator_mchid": merchant.mchid }),
        )
        .await;
    let payer = server
        .admin_post(
            "/api/v1/admin/users",
            &json!({ "name": "Mei Lin", "password": "135791", "balance": 10_000 }),
        )
        .await;
    assert_eq!(payer.status, 201, "{}", payer.text);
    let code_url = merchant
        .prepay_native(
            &server,
            &json!({
                "appid": merchant.appid, "mchid": merchant.mchid, "description": "Oolong, large",
                "out_trade_no": "TEA-0002", "notify_url": "https://m.example/n",
                "amount": {"total": 2_000},
            }),
        )
        .await;
    let token = code_url.rsplit("pr=").next().unwrap().to_owned();
    let checkout = format!("{}/pay/checkout?code={token}", server.base_url);
    let screenshots = root().join("target/screenshots");
    server.run_script(
        "the coupon browser test",
        Command::new("node")
            .arg(root().join("tests/web/coupon.mjs"))
            .arg(&server.base_url)
            .arg(&stock_id)
            .arg(&checkout)
            .arg(&screenshots),
    );
    assert!(screenshots.join("checkout-coupon.png").is_file());
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    plaza_browser_missing,
    ignore = "browser part skipped: needs node, tests/web/node_modules (npm ci --prefix tests/web) and chromium"
)]
async fn the_operator_drives_notifications_and_the_clock_from_the_sandbox_console() {
    use plaza_testkit::pay::{Merchant, NotifySink, Payer, SinkMode};
    use serde_json::json;
    if !browser_ready() {
        return;
    }
    let server = TestServer::sandbox(PLAZA);
    // Pinned, so what the console shows reads the same at any hour.
    let _pinned = server.pin_clock("10:00").await;
    let merchant = Merchant::create(&server, "Console Dumplings").await;
    let payer = Payer::create(&server, "Sun Li", 10_000).await;
    let sink = NotifySink::start(SinkMode::Fail).await;
    let code_url = merchant
        .prepay_native(
            &server,
            &json!({
                "appid": merchant.appid, "mchid": merchant.mchid, "description": "Dumplings",
                "out_trade_no": "WEB-SANDBOX-1", "notify_url": sink.url,
                "amount": {"total": 1_800, "currency": "CNY"},
            }),
        )
        .await;
    payer.pay(&server, &code_url).await;
    sink.wait_for(1).await;
    let screenshots = root().join("target/screenshots");
    server.run_script(
        "the sandbox console browser test",
        Command::new("node")
            .arg(root().join("tests/web/sandbox.mjs"))
            .arg(&server.base_url)
            .arg(&merchant.mchid)
            .arg(&screenshots),
    );
    assert!(screenshots.join("sandbox-notification.png").is_file());
    // What the page did is what the API sees.
    let faults = server
        .admin_get(&format!(
            "/api/v1/sandbox/merchants/{}/faults",
            merchant.mchid
        ))
        .await;
    assert_eq!(faults.json()["drop_first"], 2, "{}", faults.text);
    assert!(sink.received().len() >= 4);
}
