//! The page shell every system's pages share: one layout with the navigation the systems
//! contribute, one stylesheet, escaping, money in yuan, cookies (plain and signed), the
//! HTML error pages and fallbacks ([`errors`]) and the same-origin rule ([`security`]).
//!
//! Signed cookies (a merchant's or the operator's sign-in) are not stored: they carry
//! their subject, their end and an HMAC under the platform's token secret.

mod errors;
mod security;

pub use errors::{ErrorPage, Fallbacks, PageForm, PageQuery, human_message};
pub use security::{Provenance, SecurityState, layer as security_layer, provenance};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::extract::{constant_time_eq, hmac_hex};
use crate::{HttpState, NavEntry};

/// The cookie that carries a payer's session token.
pub const SESSION_COOKIE: &str = "plaza_session";
/// The cookie that carries a signed-in merchant.
pub const MERCHANT_COOKIE: &str = "plaza_merchant";
/// The cookie that carries a signed-in operator.
pub const OPERATOR_COOKIE: &str = "plaza_operator";

const STYLESHEET: &str = include_str!("../../../../web/plaza.css");

/// The shared assets: the stylesheet.
pub(crate) fn router() -> Router<HttpState> {
    Router::new().route(
        "/static/plaza.css",
        get(|| asset("text/css; charset=utf-8", STYLESHEET)),
    )
}

/// An embedded asset, cached for five minutes.
pub async fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name && !value.is_empty()).then_some(value)
    })
}

/// The value of cookie `name` among a request's `Cookie` headers.
pub fn cookie_in<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
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
pub fn check_signed(secret: &[u8], kind: &str, value: &str, now_s: i64) -> Option<String> {
    let (rest, mac) = value.rsplit_once('.')?;
    let (subject, expires) = rest.rsplit_once('.')?;
    let expires_s: i64 = expires.parse().ok()?;
    let expected = signed_mac(secret, &format!("{kind}\n{subject}"), expires_s);
    (constant_time_eq(expected.as_bytes(), mac.as_bytes()) && now_s < expires_s)
        .then(|| subject.to_owned())
}

/// `{subject}.{expires_s}.{mac}`: a signed value naming `subject` as a `kind`, ending
/// `SIGNED_COOKIE_AGE_MAX_MS` after `now_s`.
pub fn signed_value(secret: &[u8], kind: &str, subject: &str, now_s: i64) -> String {
    let expires_s = now_s + plaza_kernel::limits::SIGNED_COOKIE_AGE_MAX_MS / 1_000;
    let mac = signed_mac(secret, &format!("{kind}\n{subject}"), expires_s);
    format!("{subject}.{expires_s}.{mac}")
}

fn wall_now_s(state: &HttpState) -> i64 {
    state.wall_clock.now().unix_ms() / 1_000
}

/// A signed cookie's value naming `subject` as a `kind` (`merchant-session`), ending
/// `SIGNED_COOKIE_AGE_MAX_MS` from now on the wall clock.
pub fn signed_cookie_value(state: &HttpState, kind: &str, subject: &str) -> String {
    signed_value(&state.token_secret, kind, subject, wall_now_s(state))
}

/// The subject of the signed `kind` cookie `name`, if the request carries a genuine one
/// that has not ended.
pub fn signed_cookie_subject(
    state: &HttpState,
    headers: &HeaderMap,
    name: &str,
    kind: &str,
) -> Option<String> {
    let value = cookie_in(headers, name)?;
    check_signed(&state.token_secret, kind, value, wall_now_s(state))
}

/// The cookie value that signs in the operator.
pub fn operator_cookie_value(state: &HttpState) -> String {
    signed_cookie_value(state, "operator-session", "operator")
}

/// Whether a request carries a genuine operator cookie that is not too old.
pub fn signed_in_operator(state: &HttpState, headers: &HeaderMap) -> bool {
    signed_cookie_subject(state, headers, OPERATOR_COOKIE, "operator-session")
        .is_some_and(|subject| subject == "operator")
}

/// A `Set-Cookie` header value: HTTP-only, same-site, for the whole site, kept by the
/// browser as long as what it carries can work at most (`Secure` is added over HTTPS by
/// [`security_layer`]).
pub fn set_cookie(name: &str, value: &str) -> HeaderValue {
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
pub fn escape(text: &str) -> String {
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

/// `12.34` from 1234 fen.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    format!("{sign}{}.{:02}", fen / 100, fen % 100)
}

/// The section of the shared pages outside any system's (home, sign-in, error pages).
pub const SECTION_HOME: &str = "home";
/// The sign-in section.
pub const SECTION_SIGN_IN: &str = "signin";
/// The operator's console: its pages show the sandbox clock bar.
pub const SECTION_CONSOLE: &str = "console";

/// Who is signed in, for the header.
#[derive(Debug, Default)]
pub struct Viewer {
    /// The signed-in payer's name.
    pub user_name: Option<String>,
    /// The signed-in merchant's name.
    pub merchant_name: Option<String>,
    /// Whether the operator is signed in.
    pub operator: bool,
    /// Whether this is a sandbox.
    pub sandbox: bool,
    /// The sandbox clock and the next job's due time, both as China Standard Time.
    pub clock: Option<(String, Option<String>)>,
}

/// A page in the shared layout: the navigation (`nav`, the current `section` marked),
/// who is signed in, and the body (`narrow` for a phone-width column).
pub fn layout(
    title: &str,
    nav: &[NavEntry],
    section: &str,
    viewer: &Viewer,
    narrow: bool,
    body: &str,
) -> Html<String> {
    let link = |href: &str, label: &str, this: &str| {
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
        who.push(link("/signin", "Sign in", SECTION_SIGN_IN));
    } else {
        who.push(
            "<form method=\"post\" action=\"/signout\"><button class=\"secondary\" style=\"padding:6px 12px;font-size:13px\">Sign out</button></form>"
                .to_owned(),
        );
    }
    if viewer.sandbox {
        who.push("<span class=\"badge\">sandbox</span>".to_owned());
    }
    let clock_bar = match &viewer.clock {
        Some((now, next_job)) if section == SECTION_CONSOLE => clock_bar(now, next_job.as_deref()),
        _ => String::new(),
    };
    let body = format!("{clock_bar}{body}");
    let links: String = nav
        .iter()
        .map(|entry| link(entry.href, entry.label, entry.section))
        .collect();
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · Plaza</title><link rel=\"stylesheet\" href=\"/static/plaza.css\"></head>\
<body><header class=\"top\"><a class=\"brand\" href=\"/\">Pla<span>za</span></a><nav>{links}</nav>\
<div class=\"who\">{who}</div></header><main{main_class}>{body}</main>\
<footer>Plaza — an open, self-hostable super-app platform. Amounts in CNY.</footer></body></html>",
        title = escape(title),
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
pub fn qr_svg(text: &str) -> String {
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
