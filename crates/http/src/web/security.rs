//! Two rules for every request a browser can be made to send, in one layer:
//!
//! - **Same origin for state changes.** A `POST` (or any unsafe method) to a page — a
//!   sign-in, a sign-out, the payer's forms, the console's and the sandbox's actions —
//!   and any unsafe request carrying cookies (the payer's `/api/v1` calls from the pages)
//!   must come from Plaza's own pages. Browsers say where a request comes from:
//!   `Sec-Fetch-Site` (`same-origin`, or `none` for one the user made by hand, pass;
//!   `same-site` and `cross-site` are refused, since a sibling subdomain is another
//!   party), else `Origin` (it must name this host, or the configured public base URL;
//!   `null` is refused). A request with neither header did not come from a current
//!   browser's page (curl, SDKs, scripts, the tests) and passes: every browser that runs
//!   Plaza's pages sends `Origin` on a `POST`. A refusal is a 403 page (or the
//!   `cross_site_request` envelope under `/api/`).
//! - **`Secure` cookies over HTTPS.** When the request arrived over TLS (drop-in mode's
//!   listener marks it with [`crate::host::Scheme::Https`], see [`crate::host::served_over_tls`]) or Plaza's public base URL is
//!   `https://` (a TLS-terminating proxy in front), every cookie set carries `Secure`.
//!   `X-Forwarded-Proto` is not trusted: any client can send it, and the base URL is
//!   the operator's statement of how Plaza is reached.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::ErrorPage;
use std::sync::Arc;

use crate::error::{ApiError, code};
use crate::host::{Scheme, wire_api_of};
use crate::{HttpState, WireApi};

/// What the layer reads: Plaza's public base URL and which paths are wire APIs.
#[derive(Clone)]
pub struct SecurityState {
    state: HttpState,
    wire_apis: Arc<[WireApi]>,
}

impl SecurityState {
    /// The layer's state.
    pub fn new(state: HttpState, wire_apis: Arc<[WireApi]>) -> Self {
        Self { state, wire_apis }
    }

    fn is_api(&self, path: &str) -> bool {
        wire_api_of(&self.wire_apis, path).is_some()
    }

    fn is_plaza_api(&self, path: &str) -> bool {
        // The first wire API is always Plaza's own (`crate::app` puts it there).
        self.wire_apis.first().is_some_and(|api| api.owns(path))
    }
}

/// Where a request says it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// Plaza's own page, or typed by the user.
    SameOrigin,
    /// Another site's page (or a sandboxed document: `Origin: null`).
    Foreign,
    /// No browser said anything: not a page's request.
    Unstated,
}

/// Reads `Sec-Fetch-Site`, else `Origin`, against the request's `Host` and the public
/// base URL.
pub fn provenance(headers: &HeaderMap, public_base_url: Option<&str>) -> Provenance {
    let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    match text("sec-fetch-site").map(str::trim) {
        Some("same-origin" | "none") => return Provenance::SameOrigin,
        Some("same-site" | "cross-site") => return Provenance::Foreign,
        _ => {}
    }
    let Some(origin) = text("origin").map(str::trim) else {
        return Provenance::Unstated;
    };
    let Some(origin) = Origin::parse(origin) else {
        return Provenance::Foreign;
    };
    let from_host = text("host").is_some_and(|host| origin.serves_host(host));
    let from_base = public_base_url
        .and_then(Origin::parse)
        .is_some_and(|base| base == origin);
    if from_host || from_base {
        Provenance::SameOrigin
    } else {
        Provenance::Foreign
    }
}

/// A web origin: scheme, lower-case host, port (the scheme's default when absent).
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// `scheme://host[:port]`, with any path ignored; `None` for `null` and the
    /// unreadable.
    fn parse(text: &str) -> Option<Self> {
        let (scheme, rest) = text.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let (host, port) = split_port(authority)?;
        Some(Self {
            scheme,
            host,
            port: port.unwrap_or(default_port),
        })
    }

    /// Whether a `Host` header names this origin's host and port.
    fn serves_host(&self, host: &str) -> bool {
        let default_port = if self.scheme == "https" { 443 } else { 80 };
        split_port(host.trim()).is_some_and(|(name, port)| {
            name == self.host && port.unwrap_or(default_port) == self.port
        })
    }
}

/// `host[:port]` as a lower-case host and the port, if given; IPv6 literals keep their
/// brackets. `None` when the port is not a number or the host is empty.
fn split_port(authority: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')?;
        let (host, rest) = authority.split_at(end + 1);
        (host, rest.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host.contains('@') {
        return None;
    }
    let port = match port {
        Some(port) => Some(port.parse().ok()?),
        None => None,
    };
    Some((host.to_ascii_lowercase(), port))
}

/// Whether the same-origin rule applies: an unsafe method to a page, or to an API with
/// cookies (which a browser adds by itself).
fn needs_same_origin(security: &SecurityState, request: &Request) -> bool {
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    if safe {
        return false;
    }
    !security.is_api(request.uri().path()) || request.headers().contains_key(header::COOKIE)
}

fn refusal(security: &SecurityState, path: &str) -> Response {
    if security.is_plaza_api(path) {
        return ApiError::new(
            code::CROSS_SITE_REQUEST,
            "this request came from another site's page; Plaza acts only on its own pages' requests",
        )
        .into_response();
    }
    ErrorPage::new(
        StatusCode::FORBIDDEN,
        "请求被拒绝 Request refused",
        "这个请求来自其他网站 This form was sent from another site, so Plaza did nothing. \
         Open Plaza yourself and try again.",
    )
    .code("cross_site_request")
    .into_response()
}

/// The layer: refuses cross-site state changes, and marks cookies `Secure` over HTTPS.
pub async fn layer(
    State(security): State<SecurityState>,
    request: Request,
    next: Next,
) -> Response {
    let public_base_url = Some(security.state.public_base_url.as_str());
    if needs_same_origin(&security, &request)
        && provenance(request.headers(), public_base_url) == Provenance::Foreign
    {
        tracing::info!(path = %request.uri().path(), "cross-site request refused");
        return refusal(&security, request.uri().path());
    }
    let https = request.extensions().get::<Scheme>() == Some(&Scheme::Https)
        || public_base_url.is_some_and(|url| url.to_ascii_lowercase().starts_with("https://"));
    let mut response = next.run(request).await;
    if https {
        secure_cookies(response.headers_mut());
    }
    response
}

/// Adds `; Secure` to every `Set-Cookie` that lacks it.
fn secure_cookies(headers: &mut HeaderMap) {
    let cookies: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        let secured = cookie
            .to_str()
            .ok()
            .filter(|text| !text.to_ascii_lowercase().contains("; secure"))
            .and_then(|text| HeaderValue::from_str(&format!("{text}; Secure")).ok())
            .unwrap_or(cookie);
        headers.append(header::SET_COOKIE, secured);
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn fetch_metadata_decides_first() {
        for (site, expect) in [
            ("same-origin", Provenance::SameOrigin),
            ("none", Provenance::SameOrigin),
            ("same-site", Provenance::Foreign),
            ("cross-site", Provenance::Foreign),
        ] {
            let map = headers(&[
                ("sec-fetch-site", site),
                ("origin", "http://plaza.test"),
                ("host", "plaza.test"),
            ]);
            assert_eq!(provenance(&map, None), expect, "{site}");
        }
    }

    #[test]
    fn origin_must_name_this_host_or_the_public_base_url() {
        let check = |origin: &str, host: &str, base: Option<&str>, expect| {
            let map = headers(&[("origin", origin), ("host", host)]);
            assert_eq!(provenance(&map, base), expect, "{origin} {host} {base:?}");
        };
        check(
            "http://127.0.0.1:8080",
            "127.0.0.1:8080",
            None,
            Provenance::SameOrigin,
        );
        check(
            "http://LOCALHOST:8080",
            "localhost:8080",
            None,
            Provenance::SameOrigin,
        );
        check(
            "https://pay.example",
            "pay.example:443",
            None,
            Provenance::SameOrigin,
        );
        check(
            "http://pay.example",
            "pay.example",
            None,
            Provenance::SameOrigin,
        );
        check(
            "http://127.0.0.1:8081",
            "127.0.0.1:8080",
            None,
            Provenance::Foreign,
        );
        check(
            "http://evil.example",
            "127.0.0.1:8080",
            None,
            Provenance::Foreign,
        );
        check("null", "127.0.0.1:8080", None, Provenance::Foreign);
        check(
            "http://a@127.0.0.1:8080",
            "127.0.0.1:8080",
            None,
            Provenance::Foreign,
        );
        check(
            "ftp://127.0.0.1:8080",
            "127.0.0.1:8080",
            None,
            Provenance::Foreign,
        );
        check(
            "https://pay.example",
            "10.0.0.5:8080",
            Some("https://pay.example/"),
            Provenance::SameOrigin,
        );
        check(
            "https://evil.example",
            "10.0.0.5:8080",
            Some("https://pay.example"),
            Provenance::Foreign,
        );
        assert_eq!(provenance(&HeaderMap::new(), None), Provenance::Unstated);
        let host_only = headers(&[("host", "127.0.0.1:8080")]);
        assert_eq!(provenance(&host_only, None), Provenance::Unstated);
    }

    #[test]
    fn cookies_get_secure_once() {
        let mut map = HeaderMap::new();
        map.append(header::SET_COOKIE, HeaderValue::from_static("a=1; Path=/"));
        map.append(
            header::SET_COOKIE,
            HeaderValue::from_static("b=2; Path=/; Secure"),
        );
        secure_cookies(&mut map);
        let values: Vec<&str> = map
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|value| value.to_str().unwrap())
            .collect();
        assert_eq!(values, ["a=1; Path=/; Secure", "b=2; Path=/; Secure"]);
    }
}
