//! The page shell every system's pages share, knowing no system: the three layouts
//! ([`layouts`]: the site's, a role's console, the user app) with the navigation the
//! systems contribute ([`nav`]), the shared components ([`components`]: money, local
//! time, badges, tables, empty states, flash messages), sign-in for every role through
//! the systems' [`SignIn`] ports ([`signin`]), the user app's tabs filled through their
//! [`UserApp`] ports ([`app`]), one stylesheet, escaping, cookies (plain and signed), the
//! HTML error pages and fallbacks ([`errors`]) and the same-origin rule ([`security`]).
//!
//! Signed cookies (a merchant's or the operator's sign-in) are not stored: they carry
//! their subject, their end and an HMAC under the platform's token secret.

pub mod app;
pub mod components;
mod errors;
pub mod layouts;
pub mod nav;
mod security;
pub mod signin;

pub use app::{AppUser, Conversation, ConversationSummary, Notice, UserApp, app_user, avatar};
pub use components::{
    Flash, FlashKind, china_date, china_month, china_time, china_time_of_day, china_time_short,
    empty_state, flash_html, money, percent_encode, signed_money, status_badge, table, tile,
    with_flash, yuan,
};
pub use errors::{ErrorPage, Fallbacks, PageForm, PageQuery, human_message};
pub use layouts::{
    AppPage, AppTab, SECTION_APP, SECTION_CONSOLE, SECTION_HOME, SECTION_SIGN_IN, SignedIn, Viewer,
    app_layout, console_layout, layout,
};
pub use nav::{NavEntry, NavPlace, Role};
pub use security::{Provenance, SecurityState, layer as security_layer, provenance};
pub use signin::{
    DemoAccount, SessionCookie, SignIn, SignInRole, safe_next, signin_redirect, viewer, with_cookie,
};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::HttpState;
use crate::extract::{constant_time_eq, hmac_hex};

/// The cookie that carries a payer's session token.
pub const SESSION_COOKIE: &str = "plaza_session";
/// The cookie that carries a signed-in merchant.
pub const MERCHANT_COOKIE: &str = "plaza_merchant";
/// The cookie that carries a signed-in operator.
pub const OPERATOR_COOKIE: &str = "plaza_operator";

const STYLESHEET: &str = include_str!("../../../../web/plaza.css");

/// The shell's own routes: the stylesheet, sign-in and sign-out, the user app's tabs.
pub(crate) fn router() -> Router<HttpState> {
    Router::new()
        .route(
            "/static/plaza.css",
            get(|| asset("text/css; charset=utf-8", STYLESHEET)),
        )
        .route("/signin", get(signin::page))
        .route("/signin/token", post(signin::token))
        .route("/signin/operator", post(signin::operator))
        .route("/signin/{role}", post(signin::demo))
        .route("/signout", post(signin::sign_out))
        .route("/app", get(app::chats))
        .route("/app/chats/{id}", get(app::conversation))
        .route("/app/discover", get(app::discover))
        .route("/app/me", get(app::me))
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

/// The user-session token of a request: `Authorization: Bearer <token>`, else the pages'
/// session cookie; refused with `unauthorized` when neither is there.
///
/// # Errors
///
/// [`crate::ApiError`] `unauthorized`.
pub fn session_token(headers: &HeaderMap) -> Result<&str, crate::ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .or_else(|| cookie_in(headers, SESSION_COOKIE))
        .ok_or_else(|| {
            crate::ApiError::new(
                crate::code::UNAUTHORIZED,
                "this endpoint needs `Authorization: Bearer <token>` from a user session",
            )
        })
}

/// The refusal of a session token that names no live session.
pub fn session_ended() -> crate::ApiError {
    crate::ApiError::new(
        crate::code::UNAUTHORIZED,
        "the session token is unknown or its session has ended",
    )
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
    fn html_is_escaped_and_qr_codes_drawn() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert!(qr_svg("weixin://wxpay/bizpayurl?pr=abc").starts_with("<?xml"));
    }
}
