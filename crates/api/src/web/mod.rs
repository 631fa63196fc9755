//! Plaza's web pages: server-rendered HTML sharing one layout, one stylesheet and one
//! sign-in, with small JavaScript modules where a page talks back (`web/` in the
//! repository, embedded in the binary).
//!
//! A payer is signed in by the `plaza_session` cookie, which holds the same bearer token
//! `/api/v1` takes, so the pages call the same API as scripts do. A merchant is signed
//! in by `plaza_merchant`, its mchid with an HMAC. In sandbox mode the sign-in page
//! lists every user and merchant (demo sign-in); otherwise a payer signs in with a
//! session token.

mod collect;
mod console;
mod coupons;
mod errors;
mod pages;
mod paycode;
mod sandbox;
mod security;

pub(crate) use errors::{method_not_allowed, not_found};
pub(crate) use security::layer as security_layer;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use crate::AppState;
use crate::extract::{constant_time_eq, hmac_hex};
use crate::pay_v3::PaySurface;

/// The cookie that carries a payer's session token.
pub(crate) const SESSION_COOKIE: &str = "plaza_session";
/// The cookie that carries a signed-in merchant.
pub(crate) const MERCHANT_COOKIE: &str = "plaza_merchant";
/// The cookie that carries a signed-in operator.
pub(crate) const OPERATOR_COOKIE: &str = "plaza_operator";

const STYLESHEET: &str = include_str!("../../../../web/plaza.css");
const CHECKOUT_JS: &str = include_str!("../../../../web/checkout.js");
const MERCHANT_JS: &str = include_str!("../../../../web/merchant.js");
const PIN_JS: &str = include_str!("../../../../web/pin.js");
const COLLECT_JS: &str = include_str!("../../../../web/collect.js");
const COLLECT_PAY_JS: &str = include_str!("../../../../web/collect-pay.js");

pub(crate) fn router() -> Router<AppState> {
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
            "/static/plaza.css",
            get(|| asset("text/css; charset=utf-8", STYLESHEET)),
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

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// Where a stock's coupons are usable (its merchants' names), for `/api/v1` too.
pub(crate) async fn coupon_usable_at(surface: &PaySurface, stock_id: &str) -> Option<String> {
    coupons::usable_at(surface, stock_id).await
}

/// The payer's session token from a `Cookie` header, if any.
pub(crate) fn session_cookie(header: &str) -> Option<&str> {
    cookie(header, SESSION_COOKIE)
}

/// The value of cookie `name` in a `Cookie` header.
pub(crate) fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name && !value.is_empty()).then_some(value)
    })
}

fn cookie_in<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| cookie(value, name))
}

/// Characters of the HMAC kept in a merchant or operator cookie (128 bits).
const MERCHANT_MAC_HEX_LEN: usize = 32;

/// The merchant and operator cookies are signed, not stored: sign-out asks the browser
/// to drop them, and a copied one works until the end it names, read on the wall clock
/// (moving the sandbox clock must not sign the operator out of the console that moves
/// it).
fn signed_mac(secret: &[u8], what: &str, expires_s: i64) -> String {
    let mut mac = hmac_hex(secret, format!("{what}\n{expires_s}").as_bytes());
    mac.truncate(MERCHANT_MAC_HEX_LEN);
    mac
}

/// `{subject}.{expires_s}.{mac}` checked: genuine and not past its end at `now_s`.
fn check_signed(secret: &[u8], kind: &str, value: &str, now_s: i64) -> Option<String> {
    let (rest, mac) = value.rsplit_once('.')?;
    let (subject, expires) = rest.rsplit_once('.')?;
    let expires_s: i64 = expires.parse().ok()?;
    let expected = signed_mac(secret, &format!("{kind}\n{subject}"), expires_s);
    (constant_time_eq(expected.as_bytes(), mac.as_bytes()) && now_s < expires_s)
        .then(|| subject.to_owned())
}

fn signed_value(secret: &[u8], kind: &str, subject: &str, now_s: i64) -> String {
    let expires_s = now_s + plaza_kernel::limits::SIGNED_COOKIE_AGE_MAX_MS / 1_000;
    let mac = signed_mac(secret, &format!("{kind}\n{subject}"), expires_s);
    format!("{subject}.{expires_s}.{mac}")
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

/// The cookie value that signs in the operator.
pub(crate) fn operator_cookie_value(surface: &PaySurface) -> String {
    signed_value(
        &surface.token_secret,
        "operator-session",
        "operator",
        wall_now_s(surface),
    )
}

/// Whether a request carries a genuine operator cookie that is not too old.
pub(crate) fn signed_in_operator(surface: &PaySurface, headers: &HeaderMap) -> bool {
    cookie_in(headers, OPERATOR_COOKIE).is_some_and(|value| {
        check_signed(
            &surface.token_secret,
            "operator-session",
            value,
            wall_now_s(surface),
        )
        .is_some_and(|subject| subject == "operator")
    })
}

/// A `Set-Cookie` header value: HTTP-only, same-site, for the whole site, kept by the
/// browser as long as what it carries can work at most (`Secure` is added over HTTPS by
/// [`security_layer`]).
pub(crate) fn set_cookie(name: &str, value: &str) -> HeaderValue {
    let max_age = if value.is_empty() {
        0
    } else if name == SESSION_COOKIE {
        plaza_kernel::limits::SESSION_AGE_MAX_MS / 1_000
    } else {
        plaza_kernel::limits::SIGNED_COOKIE_AGE_MAX_MS / 1_000
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("plaza_invalid=; Path=/; Max-Age=0"))
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
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

/// `12.34` from 1234 fen.
pub(crate) fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    format!("{sign}{}.{:02}", fen / 100, fen % 100)
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

/// Who is signed in, for the header.
#[derive(Debug, Default)]
pub(crate) struct Viewer {
    pub(crate) user_name: Option<String>,
    pub(crate) merchant_name: Option<String>,
    pub(crate) operator: bool,
    pub(crate) sandbox: bool,
    /// The sandbox clock and the next job's due time, both as China Standard Time.
    pub(crate) clock: Option<(String, Option<String>)>,
}

/// The shared layout.
pub(crate) fn layout(
    title: &str,
    section: Section,
    viewer: &Viewer,
    narrow: bool,
    body: &str,
) -> Html<String> {
    let link = |href: &str, label: &str, this: Section| {
        let class = if this == section {
            " class=\"current\""
        } else {
            ""
        };
        format!("<a href=\"{href}\"{class}>{label}</a>")
    };
    let mut who = Vec::new();
    if let Some(name) = &viewer.user_name {
        who.push(format!(
            "<span>Payer: <strong>{}</strong></span>",
            escape(name)
        ));
    }
    if let Some(name) = &viewer.merchant_name {
        who.push(format!(
            "<span>Merchant: <strong>{}</strong></span>",
            escape(name)
        ));
    }
    if viewer.operator {
        who.push("<span><strong>Operator</strong></span>".to_owned());
    }
    if who.is_empty() {
        who.push(link("/signin", "Sign in", Section::SignIn));
    } else {
        who.push(
            "<form method=\"post\" action=\"/signout\"><button class=\"secondary\" style=\"padding:6px 12px;font-size:13px\">Sign out</button></form>"
                .to_owned(),
        );
    }
    if viewer.sandbox {
        who.push("<span class=\"badge\">sandbox</span>".to_owned());
    }
    let clock_bar = match (&viewer.clock, section) {
        (Some((now, next_job)), Section::Console) => clock_bar(now, next_job.as_deref()),
        _ => String::new(),
    };
    let body = format!("{clock_bar}{body}");
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · Plaza</title><link rel=\"stylesheet\" href=\"/static/plaza.css\"></head>\
<body><header class=\"top\"><a class=\"brand\" href=\"/\">Pla<span>za</span></a><nav>{home}{merchant}{wallet}{collect}{console}</nav>\
<div class=\"who\">{who}</div></header><main{main_class}>{body}</main>\
<footer>Plaza — an open, self-hostable super-app platform. Amounts in CNY.</footer></body></html>",
        title = escape(title),
        home = link("/", "Home", Section::Home),
        merchant = link("/merchant", "Merchant demo", Section::Merchant),
        wallet = link("/me", "My wallet", Section::Wallet),
        collect = link("/collect", "Collect", Section::Collect),
        console = link("/console", "Console", Section::Console),
        who = who.join(""),
        main_class = if narrow { " class=\"narrow\"" } else { "" },
    ))
}

/// The sandbox clock with its buttons, on top of every console page.
fn clock_bar(now: &str, next_job: Option<&str>) -> String {
    let next = next_job.map_or_else(
        || "no job waiting".to_owned(),
        |due| {
            format!(
                "next job due <span id=\"clock-next-job\">{}</span>",
                escape(due)
            )
        },
    );
    format!(
        "<div class=\"clockbar\" id=\"sandbox-clock\"><div><span class=\"muted\">Sandbox clock</span> \
         <strong id=\"clock-now\">{now}</strong> <span class=\"muted\">CST · {next}</span></div>\
         <form method=\"post\" action=\"/console/clock\">\
         <button class=\"secondary\" name=\"advance\" value=\"hour\" id=\"advance-hour\">+1 hour</button>\
         <button class=\"secondary\" name=\"advance\" value=\"day\" id=\"advance-day\">+1 day</button>\
         <button class=\"secondary\" name=\"advance\" value=\"next-job\" id=\"advance-next-job\"{disabled}>To next job</button>\
         </form></div>",
        now = escape(now),
        disabled = if next_job.is_none() { " disabled" } else { "" },
    )
}

/// An SVG QR code of `text`.
pub(crate) fn qr_svg(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(220, 220)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_name() {
        assert_eq!(
            cookie("a=1; plaza_session=tok; b=2", SESSION_COOKIE),
            Some("tok")
        );
        assert_eq!(cookie("a=1", SESSION_COOKIE), None);
        assert_eq!(cookie("plaza_session=", SESSION_COOKIE), None);
    }

    #[test]
    fn signed_cookies_are_genuine_and_end() {
        let value = signed_value(b"secret", "merchant-session", "1600000001", 1_000);
        let check = |secret: &[u8], value: &str, now_s| {
            check_signed(secret, "merchant-session", value, now_s)
        };
        assert_eq!(
            check(b"secret", &value, 1_001).as_deref(),
            Some("1600000001")
        );
        assert_eq!(check(b"other", &value, 1_001), None);
        let forged = value.replace("1600000001", "1600000002");
        assert_eq!(check(b"secret", &forged, 1_001), None);
        let age_s = plaza_kernel::limits::SIGNED_COOKIE_AGE_MAX_MS / 1_000;
        let extended = value.replace(&format!(".{}.", 1_000 + age_s), &format!(".{}.", 9_999_999));
        assert_eq!(check(b"secret", &extended, 1_001), None);
        assert_eq!(check(b"secret", &value, 1_000 + age_s), None, "ended");
        assert_eq!(
            check_signed(b"secret", "operator-session", &value, 1_001),
            None,
            "a merchant cookie is no operator cookie"
        );
    }

    #[test]
    fn html_is_escaped_and_yuan_formatted() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(yuan(1234), "12.34");
        assert_eq!(yuan(5), "0.05");
        assert!(qr_svg("weixin://wxpay/bizpayurl?pr=abc").starts_with("<?xml"));
    }
}
