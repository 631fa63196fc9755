//! Plaza's pages in headless Chromium (playwright-core driving Debian's `chromium`):
//! `tests/web/checkout.mjs` — the merchant demo shows a Native order's QR code, a demo
//! payer signs in, pays on the checkout page, and the merchant page sees it;
//! `tests/web/collect.mjs` — a user opens a collection code, a payer pays through it,
//! and the owner's open page shows the payment live. Screenshots land in
//! `target/screenshots/`.
//!
//! Needs `node`, `tests/web/node_modules` (`npm ci --prefix tests/web`) and
//! `/usr/bin/chromium` (or `PLAZA_CHROMIUM`). Without them the test says so and passes,
//! unless `PLAZA_TEST_REQUIRE_BROWSER=1` (CI) makes their absence a failure.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use plaza_testkit::ServerOptions;

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
    eprintln!("browser part skipped; missing: {}", missing.join(", "));
    false
}

#[test]
fn a_payer_pays_a_native_order_on_the_checkout_page() {
    if !browser_ready() {
        return;
    }
    let server = ServerOptions::new(PLAZA).sandbox().start();
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
fn a_payer_pays_a_collection_code_and_the_owner_sees_it_live() {
    if !browser_ready() {
        return;
    }
    let server = ServerOptions::new(PLAZA).sandbox().start();
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
