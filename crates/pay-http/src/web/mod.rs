//! Pay's pages, in the shared page shell (`plaza_http::web`), with small JavaScript
//! modules where a page talks back (`web/` in the repository, embedded in the binary):
//! the home page; Pay's parts of the user app under `/app` — the wallet's cards on the Me
//! tab, the 账单 (`bills`), the "WeChat Pay" service conversation in Chats (`app`), the
//! payment code, Scan, the checkout, collection codes and coupons; the merchant demo; and
//! the operator's Pay console.
//!
//! Signing in is the shell's (`/signin`); Pay takes part through its [`PayWeb`] port
//! (`signin`): a payer is signed in by the `plaza_session` cookie, which holds the same
//! bearer token `/api/v1` takes, so the pages call the same API as scripts do; a merchant
//! or a service provider by `plaza_merchant`, its mchid with an HMAC. The pages' old
//! addresses (`/me`, `/pay/checkout`, `/collect`, `/pay/collect/…`, `/coupons/…`) answer
//! with a redirect to the same address under `/app`, query kept (`moved_into_app`).

mod app;
mod bills;
mod checkout;
mod collect;
mod console;
mod coupons;
mod pages;
mod paycode;
mod sandbox;
mod scan;
mod signin;

pub use signin::PayWeb;

pub(crate) use plaza_http::web::{
    ErrorPage, MERCHANT_COOKIE, PageForm, PageQuery, SESSION_COOKIE, Viewer, cookie_in, escape,
    human_message, qr_svg, signed_in_operator, yuan,
};

use axum::Router;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use plaza_http::web::{Role, asset, check_signed, cookie};

use crate::PayState;
use crate::pay_v3::PaySurface;

const CHECKOUT_JS: &str = include_str!("../../../../web/checkout.js");
const MERCHANT_JS: &str = include_str!("../../../../web/merchant.js");
const PIN_JS: &str = include_str!("../../../../web/pin.js");
const COLLECT_JS: &str = include_str!("../../../../web/collect.js");
const COLLECT_PAY_JS: &str = include_str!("../../../../web/collect-pay.js");

/// The pages' old addresses, each now the same path under `/app`.
const MOVED_INTO_APP: &[&str] = &[
    "/me",
    "/pay/checkout",
    "/collect",
    "/pay/collect/{token}",
    "/coupons/{stock_id}",
];

/// The old addresses of forms, answered with `307` so the browser posts again there.
const FORMS_MOVED_INTO_APP: &[&str] = &["/me/payment-code", "/coupons/{stock_id}/claim"];

pub(crate) fn router() -> Router<PayState> {
    let mut router = Router::new()
        .route("/", get(pages::home))
        .route("/app/me/payment-code", post(paycode::show))
        .route("/app/me/bills", get(bills::page))
        .route("/app/pay/scan", get(scan::page))
        .route("/app/pay/checkout", get(checkout::page))
        .route("/app/collect", get(collect::owner))
        .route("/app/pay/collect/{token}", get(collect::payer))
        .route("/app/coupons/{stock_id}", get(coupons::claim_page))
        .route("/app/coupons/{stock_id}/claim", post(coupons::claim))
        .route("/merchant", get(pages::merchant))
        .route("/merchant/orders", post(pages::merchant_create_order))
        .route(
            "/merchant/orders/{out_trade_no}",
            get(pages::merchant_order),
        )
        .route("/console", get(console::day))
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
        );
    for path in MOVED_INTO_APP {
        router = router.route(path, get(moved_into_app));
    }
    for path in FORMS_MOVED_INTO_APP {
        router = router.route(path, post(moved_into_app));
    }
    router
}

/// An old address: the same path and query under `/app` — `303 See Other` for a page,
/// `307 Temporary Redirect` for a form, so the browser posts it again there.
async fn moved_into_app(method: Method, uri: Uri) -> Response {
    let path = uri.path_and_query().map_or("/", |path| path.as_str());
    let to = format!("/app{path}");
    if method == Method::GET {
        Redirect::to(&to).into_response()
    } else {
        Redirect::temporary(&to).into_response()
    }
}

/// Where a stock's coupons are usable (its merchants' names), for `/api/v1` too.
pub(crate) async fn coupon_usable_at(surface: &PaySurface, stock_id: &str) -> Option<String> {
    coupons::usable_at(&surface.pay, stock_id).await
}

/// The payer's session token from a `Cookie` header, if any.
pub(crate) fn session_cookie(header: &str) -> Option<&str> {
    cookie(header, SESSION_COOKIE)
}

/// The merchant a `plaza_merchant` cookie signs in, if it is genuine and not too old.
pub(crate) fn signed_in_merchant(surface: &PaySurface, headers: &HeaderMap) -> Option<String> {
    let value = cookie_in(headers, MERCHANT_COOKIE)?;
    let now_s = surface.wall_clock.now().unix_ms() / 1_000;
    check_signed(
        &surface.token_secret,
        signin::MERCHANT_COOKIE_KIND,
        value,
        now_s,
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

/// Which section of the navigation a page belongs to, for the pages drawn with
/// [`layout`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Home,
    Merchant,
    Console,
}

/// The merchant demo's section.
pub(crate) const SECTION_MERCHANT: &str = "merchant";

/// A page in the shared shell: the home page in the site's layout, a merchant page in
/// the merchant console's, an operator page in the operator console's (with the sandbox
/// clock). `narrow` asks the site's layout for a phone-width column.
pub(crate) fn layout(
    title: &str,
    section: Section,
    viewer: &Viewer,
    narrow: bool,
    body: &str,
) -> Html<String> {
    match section {
        Section::Home => {
            plaza_http::web::layout(title, plaza_http::web::SECTION_HOME, viewer, narrow, body)
        }
        Section::Merchant => {
            plaza_http::web::console_layout(Role::MERCHANT, SECTION_MERCHANT, viewer, title, body)
        }
        Section::Console => plaza_http::web::console_layout(
            Role::OPERATOR,
            plaza_http::web::SECTION_CONSOLE,
            viewer,
            title,
            body,
        ),
    }
}
