//! Routing by `Host` for drop-in mode: when WeChat's host names resolve to Plaza (a
//! hosts-file line and a trusted local CA, see `plaza ca`), each name serves only what
//! WeChat serves under it, so code with a hard-coded host sees the surface it expects
//! and nothing of Plaza's own.
//!
//! `api.mch.weixin.qq.com` is WeChat Pay (APIv3 under `/v3/`, APIv2 under `/pay/` and
//! `/secapi/`); `api.weixin.qq.com` and `qyapi.weixin.qq.com` are the official-account,
//! mini-program and WeCom server APIs (`/cgi-bin/`, `/sns/`, `/wxa/`). Any other name —
//! `localhost`, an IP address, Plaza's own domain — reaches the whole application, so the
//! layer changes nothing for ordinary use.

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::pay_v3::V3Error;

/// One of WeChat's API host names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WechatHost {
    /// `api.mch.weixin.qq.com`: WeChat Pay.
    Pay,
    /// `api.weixin.qq.com` or `qyapi.weixin.qq.com`: the server APIs of official
    /// accounts, mini programs and WeCom.
    Api,
}

/// WeChat Pay's host name.
pub const PAY_HOST: &str = "api.mch.weixin.qq.com";

/// Which WeChat host names Plaza answers for, and what each is.
pub const WECHAT_HOSTS: [(&str, WechatHost); 3] = [
    (PAY_HOST, WechatHost::Pay),
    ("api.weixin.qq.com", WechatHost::Api),
    ("qyapi.weixin.qq.com", WechatHost::Api),
];

/// The path prefixes WeChat Pay serves.
const PAY_PREFIXES: [&str; 3] = ["/v3", "/pay", "/secapi"];

/// Plaza's own pages that live under a Pay prefix (the payer's checkout and the
/// collection-code page): not WeChat Pay's, so not on its host.
const PAY_PAGES: [&str; 2] = ["/pay/checkout", "/pay/collect"];

/// The path prefixes the official-account, mini-program and WeCom APIs serve.
const API_PREFIXES: [&str; 3] = ["/cgi-bin", "/sns", "/wxa"];

impl WechatHost {
    /// The WeChat host a `Host` value names, if any: the port and a trailing dot are
    /// ignored, and the comparison ignores case.
    pub fn of(host: &str) -> Option<Self> {
        let name = host_name(host);
        WECHAT_HOSTS
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, which)| *which)
    }

    /// Whether this host serves `path`.
    pub fn serves(self, path: &str) -> bool {
        let under = |prefixes: &[&str]| prefixes.iter().any(|prefix| is_under(path, prefix));
        match self {
            WechatHost::Pay => under(&PAY_PREFIXES) && !under(&PAY_PAGES),
            WechatHost::Api => under(&API_PREFIXES),
        }
    }
}

/// The scheme of the listener that accepted a request's connection. Drop-in mode's TLS
/// listener marks every request it serves with [`Scheme::Https`] (see [`served_over_tls`]);
/// a request without the mark came over plain HTTP. Nothing the client sends can set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTPS, through drop-in mode's TLS listener.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// The application as the TLS listener serves it: the same routes, each request marked
/// as having arrived over HTTPS.
pub fn served_over_tls(app: axum::Router) -> axum::Router {
    app.layer(axum::Extension(Scheme::Https))
}

/// The origin (`https://api.mch.weixin.qq.com`, with the port when it is not the
/// scheme's default) a request reached WeChat Pay's host name at, or `None` when the
/// request named another host. The scheme is the listener's; the name is the canonical
/// WeChat Pay host, so only the port comes from the `Host` value, and only when it is a
/// number.
pub fn wechat_pay_origin(headers: &HeaderMap, uri: &Uri, scheme: Scheme) -> Option<String> {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| uri.host())?
        .trim();
    if WechatHost::of(host) != Some(WechatHost::Pay) {
        return None;
    }
    let port = match host.rsplit_once(':') {
        None => None,
        Some((_, port)) => Some(port.parse::<u16>().ok()?),
    }
    .or_else(|| uri.port_u16());
    Some(match port {
        Some(port) if port != scheme.default_port() => {
            format!("{}://{PAY_HOST}:{port}", scheme.as_str())
        }
        _ => format!("{}://{PAY_HOST}", scheme.as_str()),
    })
}

/// The API a path belongs to; paths of none are pages, answered in HTML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiSurface {
    /// Plaza's own: `/api/`, `/healthz`, `/metrics`; the `/api/v1` envelope.
    Plaza,
    /// WeChat Pay APIv3, `/v3`: `{code, message}`.
    PayV3,
    /// WeChat Pay APIv2, `/pay` and `/secapi` less Plaza's pages: XML.
    PayV2,
    /// The official-account, mini-program and WeCom server APIs: `{errcode, errmsg}`.
    Wechat,
}

/// Which API `path` belongs to, if any.
pub fn api_surface(path: &str) -> Option<ApiSurface> {
    let under = |prefixes: &[&str]| prefixes.iter().any(|prefix| is_under(path, prefix));
    if under(&["/api", "/healthz", "/metrics"]) {
        Some(ApiSurface::Plaza)
    } else if is_under(path, "/v3") {
        Some(ApiSurface::PayV3)
    } else if under(&PAY_PREFIXES[1..]) && !under(&PAY_PAGES) {
        Some(ApiSurface::PayV2)
    } else if under(&API_PREFIXES) {
        Some(ApiSurface::Wechat)
    } else {
        None
    }
}

/// What a request may reach, decided from its `Host` and path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The application answers as usual.
    Serve,
    /// The path does not belong to this WeChat host: answer 404 in the host's style.
    NotFound(WechatHost),
}

/// Decides what a request with this `Host` (if any) and path may reach.
pub fn route(host: Option<&str>, path: &str) -> Route {
    match host.and_then(WechatHost::of) {
        Some(which) if !which.serves(path) => Route::NotFound(which),
        _ => Route::Serve,
    }
}

/// The name part of a `Host` value: without the port (also after an IPv6 literal's
/// `]`) and without a trailing dot.
fn host_name(host: &str) -> &str {
    let host = host.trim();
    let name = if host.starts_with('[') {
        host.find(']').map_or(host, |end| &host[..=end])
    } else {
        host.rsplit_once(':').map_or(host, |(name, _port)| name)
    };
    name.strip_suffix('.').unwrap_or(name)
}

/// `path` is `prefix` itself or below it.
fn is_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The request's host: the `Host` header, else the URI's authority (absolute-form
/// requests and HTTP/2 carry it there).
fn request_host(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| request.uri().host())
}

/// The layer: lets a request through or answers 404 the way its WeChat host would.
pub(crate) async fn restrict(request: Request, next: Next) -> Response {
    match route(request_host(&request), request.uri().path()) {
        Route::Serve => next.run(request).await,
        Route::NotFound(which) => not_found(which, request.uri().path()),
    }
}

fn not_found(which: WechatHost, path: &str) -> Response {
    match which {
        WechatHost::Pay => V3Error::not_found(path).into_response(),
        WechatHost::Api => wechat_api_not_found(path),
    }
}

/// 404 in the server APIs' style: `{"errcode": 40066, "errmsg": "invalid url …"}`.
pub(crate) fn wechat_api_not_found(path: &str) -> Response {
    let body = serde_json::json!({
        "errcode": 40066,
        "errmsg": format!("invalid url: {path} is not served here"),
    });
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

    fn check(host: Option<&str>, path: &str, expect: Route) {
        assert_eq!(route(host, path), expect, "{host:?} {path}");
    }

    #[test]
    fn the_pay_host_serves_only_the_pay_surfaces() {
        let host = Some("api.mch.weixin.qq.com");
        for path in [
            "/v3/pay/transactions/native",
            "/v3/certificates",
            "/v3",
            "/pay/micropay",
            "/secapi/pay/reverse",
        ] {
            check(host, path, Route::Serve);
        }
        for path in [
            "/",
            "/api/v1/admin/merchants",
            "/healthz",
            "/metrics",
            "/me",
            "/v3x",
            "/payx",
            "/cgi-bin/token",
            "/pay/checkout",
            "/pay/checkout/",
            "/pay/collect/abc",
        ] {
            check(host, path, Route::NotFound(WechatHost::Pay));
        }
    }

    #[test]
    fn the_api_hosts_serve_only_their_own_paths() {
        for host in ["api.weixin.qq.com", "qyapi.weixin.qq.com"] {
            for path in ["/cgi-bin/token", "/sns/jscode2session", "/wxa/getwxacode"] {
                check(Some(host), path, Route::Serve);
            }
            for path in [
                "/v3/pay/transactions/native",
                "/pay/micropay",
                "/api/v1/admin/merchants",
                "/",
                "/cgi-binx",
            ] {
                check(Some(host), path, Route::NotFound(WechatHost::Api));
            }
        }
    }

    #[test]
    fn ports_case_and_a_trailing_dot_do_not_matter() {
        for host in [
            "api.mch.weixin.qq.com:443",
            "API.MCH.WEIXIN.QQ.COM",
            "Api.Mch.Weixin.QQ.com:8443",
            "api.mch.weixin.qq.com.",
            "api.mch.weixin.qq.com.:443",
            " api.mch.weixin.qq.com ",
        ] {
            check(Some(host), "/api/v1/me", Route::NotFound(WechatHost::Pay));
        }
    }

    #[test]
    fn any_other_host_reaches_the_whole_application() {
        for host in [
            None,
            Some("localhost"),
            Some("localhost:8080"),
            Some("127.0.0.1:443"),
            Some("[::1]:8080"),
            Some("[::1]"),
            Some("pay.example.com"),
            Some("mch.weixin.qq.com"),
            Some("api.mch.weixin.qq.com.evil.example"),
            Some("xapi.weixin.qq.com"),
            Some(""),
        ] {
            for path in ["/api/v1/admin/merchants", "/v3/certificates", "/cgi-bin/x"] {
                check(host, path, Route::Serve);
            }
        }
    }

    fn origin(host: &str, scheme: Scheme) -> Option<String> {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, host.parse().unwrap());
        wechat_pay_origin(&headers, &Uri::from_static("/v3/bill/tradebill"), scheme)
    }

    #[test]
    fn the_pay_origin_has_the_listeners_scheme_and_the_hosts_port() {
        let https = Scheme::Https;
        for host in [
            "api.mch.weixin.qq.com",
            "API.Mch.Weixin.QQ.com",
            "api.mch.weixin.qq.com.",
            "api.mch.weixin.qq.com:443",
        ] {
            assert_eq!(
                origin(host, https).as_deref(),
                Some("https://api.mch.weixin.qq.com"),
                "{host}"
            );
        }
        assert_eq!(
            origin("api.mch.weixin.qq.com:8443", https).as_deref(),
            Some("https://api.mch.weixin.qq.com:8443")
        );
        assert_eq!(
            origin("api.mch.weixin.qq.com", Scheme::Http).as_deref(),
            Some("http://api.mch.weixin.qq.com")
        );
        assert_eq!(
            origin("api.mch.weixin.qq.com:443", Scheme::Http).as_deref(),
            Some("http://api.mch.weixin.qq.com:443")
        );
        for other in [
            "localhost:8080",
            "127.0.0.1",
            "api.weixin.qq.com",
            "api.mch.weixin.qq.com.evil.example",
            "api.mch.weixin.qq.com:44x3",
            "api.mch.weixin.qq.com:99999",
        ] {
            assert_eq!(origin(other, https), None, "{other}");
        }
        // Without a `Host`, nothing names WeChat Pay.
        let bare = wechat_pay_origin(&HeaderMap::new(), &Uri::from_static("/v3/x"), https);
        assert_eq!(bare, None);
    }

    #[test]
    fn paths_belong_to_their_api_or_are_pages() {
        for (path, expect) in [
            ("/api/v1/nothing", Some(ApiSurface::Plaza)),
            ("/api", Some(ApiSurface::Plaza)),
            ("/healthz", Some(ApiSurface::Plaza)),
            ("/v3/nothing", Some(ApiSurface::PayV3)),
            ("/pay/nothing", Some(ApiSurface::PayV2)),
            ("/secapi/pay/nothing", Some(ApiSurface::PayV2)),
            ("/sns/nothing", Some(ApiSurface::Wechat)),
            ("/cgi-bin/nothing", Some(ApiSurface::Wechat)),
            ("/wxa/nothing", Some(ApiSurface::Wechat)),
            ("/pay/checkout", None),
            ("/pay/collect/x", None),
            ("/apix", None),
            ("/v3x", None),
            ("/nothing", None),
            ("/", None),
            ("/console/nothing", None),
        ] {
            assert_eq!(api_surface(path), expect, "{path}");
        }
    }

    #[test]
    fn host_names_drop_ports_and_keep_ipv6_literals() {
        assert_eq!(host_name("a.example:80"), "a.example");
        assert_eq!(host_name("a.example"), "a.example");
        assert_eq!(host_name("[::1]:80"), "[::1]");
        assert_eq!(host_name("[::1]"), "[::1]");
        assert_eq!(host_name("a.example."), "a.example");
    }
}
