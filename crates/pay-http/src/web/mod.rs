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
//!
//! The consoles — a merchant's orders, a service provider's sub-merchants, the
//! operator's day report, merchants and notifications — render through one helper,
//! `consoles::console_page`, in the shell's console layout with each role's entries of
//! Pay's navigation ([`crate::NAV`]).

mod app;
mod bills;
mod checkout;
mod collect;
mod console;
mod consoles;
mod coupons;
mod orders;
mod pages;
mod paycode;
mod provider;
mod sandbox;
mod scan;
mod signin;
mod timeline;

pub use signin::PayWeb;

pub(crate) use plaza_http::web::{
    ErrorPage, MERCHANT_COOKIE, PageForm, PageQuery, Viewer, cookie_in, escape, human_message,
    qr_svg, signed_in_operator, yuan,
};

use axum::Router;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use plaza_http::web::{NavEntry, Role, asset, check_signed};

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

/// Pay's navigation entries in the page shell: Scan on the app's Discover tab, the 账单
/// and the collection code on its Me tab, and each console's pages.
pub const NAV: &[NavEntry] = &[
    NavEntry::discover("scan", "/app/pay/scan", "扫一扫 Scan", "扫"),
    NavEntry::me("bills", "/app/me/bills", "账单 Bills", "账"),
    NavEntry::me("collect", "/app/collect", "收款码 Collection code", "收"),
    NavEntry::console(
        Role::MERCHANT,
        consoles::SECTION_ORDERS,
        "/merchant/console/orders",
        "Orders",
    ),
    NavEntry::console(
        Role::MERCHANT,
        consoles::SECTION_NEW_ORDER,
        "/merchant",
        "New order",
    ),
    NavEntry::console(
        Role::PROVIDER,
        consoles::SECTION_SUB_MERCHANTS,
        "/provider",
        "Sub-merchants",
    ),
    NavEntry::console(
        Role::OPERATOR,
        consoles::SECTION_PAYMENTS,
        "/console",
        "Payments",
    ),
    NavEntry::console(
        Role::OPERATOR,
        consoles::SECTION_MERCHANTS,
        "/console/merchants",
        "Merchants",
    ),
    NavEntry::console(
        Role::OPERATOR,
        consoles::SECTION_NOTIFICATIONS,
        "/console/notifications",
        "Notifications",
    )
    .in_sandbox_only(),
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
        .merge(console_routes())
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
        .route("/provider/sub-merchants/{mchid}/orders", get(orders::list))
        .merge(order_pages("/provider/sub-merchants/{mchid}/orders", true))
        .route("/console/merchants", get(console::merchants))
        .route("/console/merchants/{mchid}", get(orders::list))
        .route("/console/merchants/{mchid}/orders", get(orders::list))
        .merge(order_pages("/console/merchants/{mchid}/orders", false))
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
}

/// A page in the shared shell: the home page in the site's layout, the merchant demo in
/// the merchant console's (its "New order" entry). `narrow` asks the site's layout for a
/// phone-width column.
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
        Section::Merchant => plaza_http::web::console_layout(
            Role::MERCHANT,
            consoles::SECTION_NEW_ORDER,
            viewer,
            title,
            body,
        ),
    }
}
