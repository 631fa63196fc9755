//! Signing in and out, for every role of every system, through one port ([`SignIn`])
//! each system implements: which roles it signs in, who a request's cookies sign in, its
//! demo accounts and how one is signed in (the sandbox's demo sign-in: any account, no
//! secret), and which session tokens it accepts (a real session elsewhere). The operator
//! is shared: signed in with the admin token, or by demo sign-in in the sandbox.
//!
//! Routes: `GET /signin` (the page), `POST /signin/{role}` (demo sign-in; the form's
//! `account` may be sent as `user_id` or `mchid`, the names the forms used before),
//! `POST /signin/token`, `POST /signin/operator`, `POST /signout`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use plaza_kernel::BoxFuture;
use serde::Deserialize;

use super::components::{china_time, empty_state};
use super::errors::{ErrorPage, PageForm, PageQuery};
use super::layouts::{SECTION_SIGN_IN, SignedIn, Viewer, layout};
use super::nav::Role;
use super::{OPERATOR_COOKIE, escape, operator_cookie_value, set_cookie, signed_in_operator};
use crate::HttpState;
use crate::extract::constant_time_eq;

/// Demo accounts listed per role on the sandbox's sign-in page.
const DEMO_ACCOUNTS_LISTED: usize = 50;

/// A role a system signs people in as, as the sign-in page shows it.
#[derive(Debug, Clone, Copy)]
pub struct SignInRole {
    /// The role.
    pub role: Role,
    /// The card's title (`Payers`).
    pub title: &'static str,
    /// One sentence on what the role does here.
    pub about: &'static str,
    /// Where a sign-in without a `next` lands.
    pub landing: &'static str,
    /// The data attribute each account's button carries with its name, for scripts
    /// (`user` gives `data-user="Lin Wei"`).
    pub attribute: &'static str,
    /// How to make an account when there is none (a command).
    pub create_hint: &'static str,
    /// Outside the sandbox: the label of a session-token field signing this role in
    /// (`None`: no real sign-in for this role yet).
    pub token_label: Option<&'static str>,
}

/// One account the sandbox's sign-in page offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoAccount {
    /// Its id, posted back as `account`.
    pub account: String,
    /// Its name.
    pub name: String,
    /// A second line (a balance, an mchid).
    pub detail: String,
}

/// A cookie that signs someone in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCookie {
    /// Its name (`plaza_session`).
    pub name: &'static str,
    /// Its value.
    pub value: String,
}

/// How a system signs people in and out. Registered in [`crate::HttpState::sign_in`].
pub trait SignIn: Send + Sync {
    /// Its roles, in the order the sign-in page lists them.
    fn roles(&self) -> &'static [SignInRole];
    /// Who the request's cookies sign in, among its roles.
    fn signed_in<'a>(&'a self, headers: &'a HeaderMap) -> BoxFuture<'a, Vec<SignedIn>>;
    /// Sandbox: up to `rows_max` accounts of `role` to sign in as.
    fn demo_accounts(&self, role: Role, rows_max: usize) -> BoxFuture<'_, Vec<DemoAccount>>;
    /// Sandbox: signs `account` in as `role`, asking no secret; the cookie to set, or
    /// the page that says why not.
    fn demo_sign_in<'a>(
        &'a self,
        role: Role,
        account: &'a str,
    ) -> BoxFuture<'a, Result<SessionCookie, ErrorPage>>;
    /// A real sign-in with a session token: the role and cookie when the token is one
    /// of this system's live sessions, `None` otherwise.
    fn token_sign_in<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Option<(Role, SessionCookie)>>;
    /// Ends the sessions the request's cookies carry (their tokens stop working
    /// everywhere); the cookies themselves are dropped by the caller.
    fn sign_out<'a>(&'a self, headers: &'a HeaderMap) -> BoxFuture<'a, Result<(), ErrorPage>>;
    /// The cookies it sets, dropped at sign-out.
    fn cookies(&self) -> &'static [&'static str];
}

/// Who is looking: everyone the request's cookies sign in (every system's, and the
/// operator), the sandbox clock, and the navigation.
pub async fn viewer(state: &HttpState, headers: &HeaderMap) -> Viewer {
    let mut signed_in = Vec::new();
    for port in state.sign_in.iter() {
        signed_in.extend(port.signed_in(headers).await);
    }
    if signed_in_operator(state, headers) {
        signed_in.push(SignedIn {
            role: Role::OPERATOR,
            account: "operator".to_owned(),
            name: "Operator".to_owned(),
        });
    }
    let clock = match &state.time_travel {
        Some(_) => {
            let next_job = state.jobs.next_due_at().await.ok().flatten();
            Some((china_time(state.clock.now()), next_job.map(china_time)))
        }
        None => None,
    };
    Viewer {
        signed_in,
        sandbox: state.time_travel.is_some(),
        clock,
        nav: state.nav.clone(),
    }
}

/// A path on this site to return to after signing in, or `fallback`.
///
/// Browsers read `//host`, `/\host` and `/<tab>/host` (they drop tabs and newlines)
/// as another site, so only a path that starts with one `/` followed by a character
/// that is not `/`, `\`, a control character or whitespace is taken — judged after
/// percent-decoding, so `/%2F…` is no way around it — and it may hold no control
/// characters at all. The path is returned with anything outside visible ASCII
/// percent-encoded, so it is always a valid `Location`.
pub fn safe_next(next: Option<&str>, fallback: &str) -> String {
    match next {
        Some(next) if is_local_path(next) => encode_location(next),
        _ => fallback.to_owned(),
    }
}

fn is_local_path(next: &str) -> bool {
    let Some(decoded) = percent_decoded(next) else {
        return false;
    };
    let mut chars = decoded.chars();
    let first_ok = chars.next() == Some('/');
    let second_ok = chars
        .next()
        .is_none_or(|second| !matches!(second, '/' | '\\') && !second.is_whitespace());
    let clean = |text: &str| !text.chars().any(char::is_control);
    first_ok && second_ok && clean(&decoded) && clean(next)
}

/// `%XX` sequences decoded; `None` when the result is not UTF-8.
fn percent_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        let hex = bytes
            .get(at + 1..at + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (byte, hex) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                at += 3;
            }
            (byte, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn encode_location(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_graphic() {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// To the sign-in page, coming back to `next` afterwards.
pub fn signin_redirect(next: &str) -> Response {
    let mut encoded = String::new();
    for byte in next.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~/".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    Redirect::to(&format!("/signin?next={encoded}")).into_response()
}

/// `response` setting cookie `name` to `value` (empty: dropping it).
pub fn with_cookie(mut response: Response, name: &str, value: &str) -> Response {
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(name, value));
    response
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignInQuery {
    next: Option<String>,
    failed: Option<String>,
}

/// `GET /signin`: in the sandbox every system's roles with their demo accounts, and the
/// operator; otherwise the session-token forms and the operator's admin token.
pub(crate) async fn page(
    State(state): State<HttpState>,
    headers: HeaderMap,
    PageQuery(query): PageQuery<SignInQuery>,
) -> Response {
    let viewer = viewer(&state, &headers).await;
    let next = escape(&safe_next(query.next.as_deref(), ""));
    let mut body = String::from("<h1>Sign in</h1>");
    if query.failed.is_some() {
        body.push_str(
            "<div class=\"notice bad\" id=\"notice\">登录失败 That session token is not valid, \
             or its session has ended (signed out, or unused too long). Ask for a new one.</div>",
        );
    }
    if viewer.sandbox {
        body.push_str(
            "<p class=\"lead\">Sandbox mode: sign in as anyone — a payer in the app, a merchant, \
             a service provider, or the operator.</p><div class=\"grid\">",
        );
        for port in state.sign_in.iter() {
            for role in port.roles() {
                let accounts = port.demo_accounts(role.role, DEMO_ACCOUNTS_LISTED).await;
                body.push_str(&demo_card(role, &accounts, &next));
            }
        }
        body.push_str(&format!(
            "<div class=\"card\" id=\"signin-operator\"><h2>Operator</h2><p class=\"muted\">The console: \
             the day's payments by channel, notifications, the sandbox clock.</p>\
             <form method=\"post\" action=\"/signin/operator\">\
             <input type=\"hidden\" name=\"next\" value=\"{next}\"><button data-operator=\"operator\">\
             Sign in as operator</button></form></div></div>"
        ));
    } else {
        for port in state.sign_in.iter() {
            for role in port.roles() {
                if let Some(label) = role.token_label {
                    body.push_str(&token_card(role, label, &next));
                }
            }
        }
        body.push_str(&format!(
            "<div class=\"card\" id=\"signin-operator\"><h2>Operator</h2><form method=\"post\" action=\"/signin/operator\">\
             <label for=\"admin-token\">Admin token (<span class=\"mono\">plaza admin token</span>)</label>\
             <input type=\"password\" id=\"admin-token\" name=\"token\" autocomplete=\"off\">\
             <input type=\"hidden\" name=\"next\" value=\"{next}\"><p><button>Sign in as operator</button></p></form></div>"
        ));
    }
    layout("Sign in", SECTION_SIGN_IN, &viewer, false, &body).into_response()
}

/// One role's card on the sandbox's sign-in page: its accounts, each with a button.
fn demo_card(role: &SignInRole, accounts: &[DemoAccount], next: &str) -> String {
    let items: String = accounts
        .iter()
        .map(|account| {
            format!(
                "<li><span>{name}<br><span class=\"muted mono\">{detail}</span></span>\
                 <form method=\"post\" action=\"/signin/{key}\"><input type=\"hidden\" name=\"account\" value=\"{id}\">\
                 <input type=\"hidden\" name=\"next\" value=\"{next}\"><button data-{attribute}=\"{name}\">Sign in</button></form></li>",
                name = escape(&account.name),
                detail = escape(&account.detail),
                key = escape(role.role.key),
                id = escape(&account.account),
                attribute = escape(role.attribute),
            )
        })
        .collect();
    let list = if items.is_empty() {
        empty_state(
            &format!("No {} yet", role.title.to_lowercase()),
            &format!("Make one with: {}", role.create_hint),
            None,
        )
    } else {
        format!("<ul class=\"list\">{items}</ul>")
    };
    format!(
        "<div class=\"card\" id=\"signin-{key}\"><h2>{title}</h2><p class=\"muted\">{about}</p>{list}</div>",
        key = escape(role.role.key),
        title = escape(role.title),
        about = escape(role.about),
    )
}

/// A role's session-token form, outside the sandbox.
fn token_card(role: &SignInRole, label: &str, next: &str) -> String {
    format!(
        "<div class=\"card\" id=\"signin-{key}\"><h2>{title}</h2><form method=\"post\" action=\"/signin/token\">\
         <label for=\"token\">{label}</label>\
         <input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"off\">\
         <input type=\"hidden\" name=\"next\" value=\"{next}\"><p><button>Sign in</button></p></form></div>",
        key = escape(role.role.key),
        title = escape(role.title),
        label = escape(label),
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct DemoSignInForm {
    #[serde(alias = "user_id", alias = "mchid")]
    account: String,
    next: Option<String>,
}

/// `POST /signin/{role}`: the sandbox's demo sign-in as any account of a role.
pub(crate) async fn demo(
    State(state): State<HttpState>,
    Path(role_key): Path<String>,
    PageForm(form): PageForm<DemoSignInForm>,
) -> Response {
    if state.time_travel.is_none() {
        return ErrorPage::not_found(
            "Demo sign-in is a sandbox power; sign in with a session token.",
        )
        .code("sandbox_only")
        .back("/signin", "去登录 Sign in")
        .into_response();
    }
    let found = state.sign_in.iter().find_map(|port| {
        port.roles()
            .iter()
            .find(|role| role.role.key == role_key)
            .map(|role| (port, role))
    });
    let Some((port, role)) = found else {
        return ErrorPage::not_found("Nobody signs in as that here.")
            .back("/signin", "返回登录 Back to sign-in")
            .into_response();
    };
    match port.demo_sign_in(role.role, &form.account).await {
        Ok(cookie) => with_cookie(
            Redirect::to(&safe_next(form.next.as_deref(), role.landing)).into_response(),
            cookie.name,
            &cookie.value,
        ),
        Err(page) => page
            .back("/signin", "返回登录 Back to sign-in")
            .into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct TokenSignInForm {
    token: String,
    next: Option<String>,
}

/// `POST /signin/token`: a real sign-in with a session token, by whichever system
/// issued it.
pub(crate) async fn token(
    State(state): State<HttpState>,
    PageForm(form): PageForm<TokenSignInForm>,
) -> Response {
    let token = form.token.trim();
    for port in state.sign_in.iter() {
        if let Some((role, cookie)) = port.token_sign_in(token).await {
            let landing = port
                .roles()
                .iter()
                .find(|known| known.role == role)
                .map_or("/", |known| known.landing);
            return with_cookie(
                Redirect::to(&safe_next(form.next.as_deref(), landing)).into_response(),
                cookie.name,
                &cookie.value,
            );
        }
    }
    Redirect::to("/signin?failed=token").into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct OperatorSignInForm {
    token: Option<String>,
    next: Option<String>,
}

/// `POST /signin/operator`: the admin token, or nothing in the sandbox.
pub(crate) async fn operator(
    State(state): State<HttpState>,
    PageForm(form): PageForm<OperatorSignInForm>,
) -> Response {
    let allowed = state.time_travel.is_some()
        || form.token.as_deref().is_some_and(|token| {
            constant_time_eq(token.trim().as_bytes(), state.admin_token.as_bytes())
        });
    if !allowed {
        return ErrorPage::new(
            StatusCode::FORBIDDEN,
            "登录失败 Sign-in failed",
            "That admin token is wrong (plaza admin token prints it).",
        )
        .back("/signin", "返回登录 Back to sign-in")
        .into_response();
    }
    with_cookie(
        Redirect::to(&safe_next(form.next.as_deref(), "/console")).into_response(),
        OPERATOR_COOKIE,
        &operator_cookie_value(&state),
    )
}

/// `POST /signout`: ends every session the cookies carry (a payer's token stops working
/// everywhere, as a bearer token too) and drops every sign-in cookie.
pub(crate) async fn sign_out(State(state): State<HttpState>, headers: HeaderMap) -> Response {
    for port in state.sign_in.iter() {
        if let Err(page) = port.sign_out(&headers).await {
            return page.into_response();
        }
    }
    let mut response = Redirect::to("/").into_response();
    for port in state.sign_in.iter() {
        for name in port.cookies() {
            response = with_cookie(response, name, "");
        }
    }
    with_cookie(response, OPERATOR_COOKIE, "")
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_paths_on_this_site_are_returned_to() {
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "/%2F/evil.example",
            "/%2f%2fevil.example",
            "/%5Cevil.example",
            "/%09/evil.example",
            "/ok\r\nSet-Cookie: x=1",
            "/%E9",
            "https://evil.example",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(bad), "/home"), "/home", "{bad:?}");
        }
        assert_eq!(safe_next(None, "/home"), "/home");
        for good in [
            "/",
            "/app/me",
            "/app/pay/checkout?code=abc",
            "/collect?x=%2F",
        ] {
            assert_eq!(safe_next(Some(good), "/home"), good);
        }
        assert_eq!(safe_next(Some("/付款"), "/home"), "/%E4%BB%98%E6%AC%BE");
    }
}
