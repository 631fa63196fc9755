//! Pay's pages: the payer's wallet and checkout, the merchant demo, collection codes,
//! coupons and the operator's Pay console, in the shared page shell (`plaza_http::web`),
//! with small JavaScript modules where a page talks back (`web/` in the repository,
//! embedded in the binary).
//!
//! A payer is signed in by the `plaza_session` cookie, which holds the same bearer token
//! `/api/v1` takes, so the pages call the same API as scripts do. A merchant is signed
//! in by `plaza_merchant`, its mchid with an HMAC. In sandbox mode the sign-in page
//! lists every user and merchant (demo sign-in); otherwise a payer signs in with a
//! session token.
//!
//! The consoles — a merchant's orders, a service provider's sub-merchants, the
//! operator's day report, merchants and notifications — render through one helper,
//! `consoles::console_page`, with each role's navigation as data (`CONSOLE_NAV`).

mod collect;
mod console;
mod consoles;
mod coupons;
mod orders;
mod pages;
mod paycode;
mod provider;
mod sandbox;
mod timeline;

pub(crate) use plaza_http::web::{
    ErrorPage, MERCHANT_COOKIE, OPERATOR_COOKIE, PageForm, PageQuery, SESSION_COOKIE, Viewer,
    cookie_in, escape, human_message, operator_cookie_value, qr_svg, set_cookie,
    signed_in_operator, yuan,
};

use axum::Router;
use axum::http::HeaderMap;
use axum::response::Html;
use axum::routing::{get, post};
use plaza_http::web::{asset, check_signed, signed_value};

use crate::PayState;
use crate::pay_v3::PaySurface;

const CHECKOUT_JS: &str = include_str!("../../../../web/checkout.js");
const MERCHANT_JS: &str = include_str!("../../../../web/merchant.js");
const PIN_JS: &str = include_str!("../../../../web/pin.js");
const COLLECT_JS: &str = include_str!("../../../../web/collect.js");
const COLLECT_PAY_JS: &str = include_str!("../../../../web/collect-pay.js");

pub(crate) fn router() -> Router<PayState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/signin", get(pages::signin))
        .route("/signin/user", post(pages::signin_user))
        .route("/signin/merchant", post(pages::signin_merchant))
        .route("/signin/token", post(pages::signin_token))
        .route("/signout", post(pages::signout))
        .route("/me", get(pages::wallet))
        .route("/me/payment-code", post(paycode::show))
        .route("/coupons/{stock_id}", get(coupons::claim_page))
        .route("/coupons/{stock_id}/claim", post(coupons::claim))
        .route("/merchant", get(pages::merchant))
        .route("/merchant/orders", post(pages::merchant_create_order))
        .route(
            "/merchant/orders/{out_trade_no}",
            get(pages::merchant_order),
        )
        .route("/pay/checkout", get(pages::checkout))
        .route("/collect", get(collect::owner))
        .route("/console", get(console::day))
        .route("/signin/operator", post(console::signin))
        .route("/console/clock", post(sandbox::clock))
        .route("/console/notifications", get(sandbox::notifications))
        .route("/console/notifications/{id}", get(sandbox::notification))
        .route(
            "/console/notifications/{id}/action",
            post(sandbox::notification_action),
        )
        .route(
            "/console/notifications/{id}/send",
            post(sandbox::send_edited),
        )
        .route(
            "/console/merchants/{mchid}/faults",
            post(sandbox::set_faults),
        )
        .route(
            "/console/merchants/{mchid}/script",
            post(sandbox::set_script),
        )
        .merge(console_routes())
        .route("/pay/collect/{token}", get(collect::payer))
        .route(
            "/static/pin.js",
            get(|| asset("text/javascript; charset=utf-8", PIN_JS)),
        )
        .route(
            "/static/collect.js",
            get(|| asset("text/javascript; charset=utf-8", COLLECT_JS)),
        )
        .route(
            "/static/collect-pay.js",
            get(|| asset("text/javascript; charset=utf-8", COLLECT_PAY_JS)),
        )
        .route(
            "/static/checkout.js",
            get(|| asset("text/javascript; charset=utf-8", CHECKOUT_JS)),
        )
        .route(
            "/static/merchant.js",
            get(|| asset("text/javascript; charset=utf-8", MERCHANT_JS)),
        )
}

/// The consoles' pages: a merchant's orders, a service provider's sub-merchants and
/// theirs, and the operator's merchants and any merchant's orders.
fn console_routes() -> Router<PayState> {
    let order_pages = |base: &str, refunds: bool| {
        let order = format!("{base}/{{out_trade_no}}");
        let mut router = Router::new()
            .route(&order, get(orders::order_page))
            .route(&format!("{order}/robot-pay"), post(orders::robot_pay))
            .route(&format!("{order}/expire"), post(orders::expire));
        if refunds {
            router = router.route(&format!("{order}/refund"), post(orders::refund));
        }
        router
    };
    Router::new()
        .route("/merchant/console/orders", get(orders::list))
        .merge(order_pages("/merchant/console/orders", true))
        .route("/provider", get(provider::home))
        .route("/provider/signin", get(provider::signin_page))
        .route("/signin/provider", post(provider::signin))
        .route("/provider/sub-merchants/{mchid}/orders", get(orders::list))
        .merge(order_pages("/provider/sub-merchants/{mchid}/orders", true))
        .route("/console/merchants", get(console::merchants))
        .route("/console/merchants/{mchid}", get(orders::list))
        .route("/console/merchants/{mchid}/orders", get(orders::list))
        .merge(order_pages("/console/merchants/{mchid}/orders", false))
}

fn wall_now_s(surface: &PaySurface) -> i64 {
    surface.wall_clock.now().unix_ms() / 1_000
}

/// The cookie value that signs in merchant `mchid`.
pub(crate) fn merchant_cookie_value(surface: &PaySurface, mchid: &str) -> String {
    signed_value(
        &surface.token_secret,
        "merchant-session",
        mchid,
        wall_now_s(surface),
    )
}

/// The merchant a `plaza_merchant` cookie signs in, if it is genuine and not too old.
pub(crate) fn signed_in_merchant(surface: &PaySurface, headers: &HeaderMap) -> Option<String> {
    let value = cookie_in(headers, MERCHANT_COOKIE)?;
    check_signed(
        &surface.token_secret,
        "merchant-session",
        value,
        wall_now_s(surface),
    )
}

/// The six one-digit boxes a payer types the payment password into (the page's script
/// reads them).
pub(crate) fn pin_inputs() -> String {
    (1..=6)
        .map(|digit| {
            format!(
                "<input type=\"password\" inputmode=\"numeric\" maxlength=\"1\" autocomplete=\"off\" aria-label=\"password digit {digit}\">"
            )
        })
        .collect()
}

/// Which section of the navigation a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Home,
    Merchant,
    Wallet,
    Collect,
    Console,
    SignIn,
}

impl Section {
    fn key(self) -> &'static str {
        match self {
            Section::Home => plaza_http::web::SECTION_HOME,
            Section::Merchant => SECTION_MERCHANT,
            Section::Wallet => SECTION_WALLET,
            Section::Collect => SECTION_COLLECT,
            Section::Console => plaza_http::web::SECTION_CONSOLE,
            Section::SignIn => plaza_http::web::SECTION_SIGN_IN,
        }
    }
}

/// The merchant demo's section.
pub(crate) const SECTION_MERCHANT: &str = "merchant";
/// The payer's wallet.
pub(crate) const SECTION_WALLET: &str = "wallet";
/// Collection codes.
pub(crate) const SECTION_COLLECT: &str = "collect";

/// A page in the shared layout with Pay's navigation.
pub(crate) fn layout(
    title: &str,
    section: Section,
    viewer: &Viewer,
    narrow: bool,
    body: &str,
) -> Html<String> {
    plaza_http::web::layout(title, crate::NAV, section.key(), viewer, narrow, body)
}
