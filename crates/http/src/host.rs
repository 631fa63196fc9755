//! Routing by `Host` for drop-in mode: when WeChat's host names resolve to Plaza (a
//! hosts-file line and a trusted local CA, see `plaza ca`), each name serves only what
//! the systems registered under it, so code with a hard-coded host sees the surface it
//! expects and nothing of Plaza's own. Each WeChat host has its own router: the same
//! path may mean different things under two hosts (the official-account API and WeCom
//! both define `/cgi-bin/user/get`).
//!
//! Any other name — `localhost`, an IP address, Plaza's own domain — reaches Plaza's own
//! routes, so dispatch changes nothing for ordinary use.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

use crate::error::{ApiError, code};
use crate::{HostRoutes, NotFound, WireApi};

/// Answers a known path asked with a method it does not take.
pub(crate) type MethodNotAllowed = Arc<dyn Fn(&axum::http::Uri) -> Response + Send + Sync>;

/// WeChat's API host names. Requests naming one of them never reach Plaza's own routes:
/// only what a system registered under that name ([`HostRoutes`]), else a 404 in
/// WeChat's format.
pub const WECHAT_HOSTS: [&str; 3] = [
    "api.mch.weixin.qq.com",
    "api.weixin.qq.com",
    "qyapi.weixin.qq.com",
];

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

    /// 80 or 443.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// The application as the TLS listener serves it: the same routes, each request marked
/// as having arrived over HTTPS.
pub fn served_over_tls(app: Router) -> Router {
    app.layer(axum::Extension(Scheme::Https))
}

/// Which of [`WECHAT_HOSTS`] a `Host` value names, if any: the port and a trailing dot
/// are ignored, and the comparison ignores case.
pub fn wechat_host(host: &str) -> Option<&'static str> {
    let name = host_name(host);
    WECHAT_HOSTS
        .iter()
        .find(|known| known.eq_ignore_ascii_case(name))
        .copied()
}

/// The name part of a `Host` value: without the port (also after an IPv6 literal's
/// `]`) and without a trailing dot.
pub fn host_name(host: &str) -> &str {
    let host = host.trim();
    let name = if host.starts_with('[') {
        host.find(']').map_or(host, |end| &host[..=end])
    } else {
        host.rsplit_once(':').map_or(host, |(name, _port)| name)
    };
    name.strip_suffix('.').unwrap_or(name)
}

/// `path` is `prefix` itself or below it.
pub fn is_under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The request's host: the `Host` header, else the URI's authority (absolute-form
/// requests and HTTP/2 carry it there).
pub fn request_host(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| request.uri().host())
}

impl WireApi {
    /// Whether `path` belongs to this API.
    pub fn owns(&self, path: &str) -> bool {
        self.prefixes.iter().any(|prefix| is_under(path, prefix))
            && !self.except.iter().any(|page| is_under(path, page))
    }
}

/// The wire API `path` belongs to, if any; paths of none are pages, answered in HTML.
pub fn wire_api_of<'a>(apis: &'a [WireApi], path: &str) -> Option<&'a WireApi> {
    apis.iter().find(|api| api.owns(path))
}

/// Plaza's own API: `/api/`, `/healthz`, `/metrics`, with the `/api/v1` envelope.
pub(crate) fn plaza_api() -> WireApi {
    WireApi {
        prefixes: &["/api", "/healthz", "/metrics"],
        except: &[],
        not_found: |_path| ApiError::new(code::NOT_FOUND, "no such endpoint").into_response(),
    }
}

/// The official-account, mini-program and WeCom server APIs: `{errcode, errmsg}`.
pub(crate) fn wechat_server_api() -> WireApi {
    WireApi {
        prefixes: &["/cgi-bin", "/sns", "/wxa"],
        except: &[],
        not_found: wechat_api_not_found,
    }
}

/// A 404 in the format of WeChat's server APIs.
pub fn wechat_api_not_found(path: &str) -> Response {
    let body = serde_json::json!({
        "errcode": 40066,
        "errmsg": format!("invalid url: {path} is not served here"),
    });
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

/// One router per WeChat host name (the systems' routes merged, with the first
/// registration's not-found answer), and `own` for every other name.
pub(crate) fn dispatch(
    own: Router,
    registered: Vec<HostRoutes>,
    method_not_allowed: MethodNotAllowed,
    layers: impl Fn(Router) -> Router,
) -> Router {
    let mut merged: HashMap<&'static str, (Router, NotFound)> = HashMap::new();
    for routes in registered {
        let entry = merged.remove(routes.host).map_or(
            (routes.routes.clone(), routes.not_found),
            |(router, not_found)| (router.merge(routes.routes.clone()), not_found),
        );
        merged.insert(routes.host, entry);
    }
    let mut hosts: HashMap<&'static str, Router> = WECHAT_HOSTS
        .iter()
        .map(|name| {
            let router = host_router(
                Router::new(),
                wechat_api_not_found,
                method_not_allowed.clone(),
            );
            (*name, layers(router))
        })
        .collect();
    for (name, (router, not_found)) in merged {
        hosts.insert(
            name,
            layers(host_router(router, not_found, method_not_allowed.clone())),
        );
    }
    let hosts = Arc::new(hosts);
    let own = layers(own);
    Router::new().fallback_service(tower::service_fn(move |request: Request| {
        let router = request_host(&request)
            .and_then(wechat_host)
            .and_then(|name| hosts.get(name))
            .unwrap_or(&own)
            .clone();
        router.oneshot(request)
    }))
}

fn host_router(
    router: Router,
    not_found: NotFound,
    method_not_allowed: MethodNotAllowed,
) -> Router {
    router
        .fallback(move |uri: axum::http::Uri| async move { not_found(uri.path()) })
        .method_not_allowed_fallback(
            move |uri: axum::http::Uri| async move { method_not_allowed(&uri) },
        )
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

    #[test]
    fn wechat_hosts_are_named_whatever_the_port_case_or_trailing_dot() {
        for host in [
            "api.mch.weixin.qq.com:443",
            "API.MCH.WEIXIN.QQ.COM",
            "Api.Mch.Weixin.QQ.com:8443",
            "api.mch.weixin.qq.com.",
            "api.mch.weixin.qq.com.:443",
            " api.mch.weixin.qq.com ",
        ] {
            assert_eq!(wechat_host(host), Some("api.mch.weixin.qq.com"), "{host}");
        }
        assert_eq!(
            wechat_host("qyapi.weixin.qq.com"),
            Some("qyapi.weixin.qq.com")
        );
        for host in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:443",
            "[::1]:8080",
            "pay.example.com",
            "mch.weixin.qq.com",
            "api.mch.weixin.qq.com.evil.example",
            "xapi.weixin.qq.com",
            "",
        ] {
            assert_eq!(wechat_host(host), None, "{host}");
        }
    }

    #[test]
    fn paths_belong_to_their_api_or_are_pages() {
        let pay_v2 = WireApi {
            prefixes: &["/pay", "/secapi"],
            except: &["/pay/checkout", "/pay/collect"],
            not_found: wechat_api_not_found,
        };
        let apis = [plaza_api(), wechat_server_api(), pay_v2];
        let which = |path: &str| wire_api_of(&apis, path).map(|api| api.prefixes[0]);
        for (path, expect) in [
            ("/api/v1/nothing", Some("/api")),
            ("/api", Some("/api")),
            ("/healthz", Some("/api")),
            ("/pay/nothing", Some("/pay")),
            ("/secapi/pay/nothing", Some("/pay")),
            ("/sns/nothing", Some("/cgi-bin")),
            ("/cgi-bin/nothing", Some("/cgi-bin")),
            ("/wxa/nothing", Some("/cgi-bin")),
            ("/pay/checkout", None),
            ("/pay/collect/x", None),
            ("/apix", None),
            ("/nothing", None),
            ("/", None),
            ("/console/nothing", None),
        ] {
            assert_eq!(which(path), expect, "{path}");
        }
    }

    /// Sends `GET path` with `Host: host` and returns the status and body.
    async fn get(app: &Router, host: &str, path: &str) -> (StatusCode, String) {
        let request = Request::builder()
            .uri(path)
            .header(header::HOST, host)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    fn answering(text: &'static str) -> Router {
        Router::new().route(
            "/cgi-bin/user/get",
            axum::routing::get(move || async move { text }),
        )
    }

    #[tokio::test]
    async fn each_wechat_host_has_its_own_router_and_reaches_nothing_else() {
        let own = Router::new().route("/healthz", axum::routing::get(|| async { "own" }));
        let registered = vec![
            HostRoutes {
                host: "api.weixin.qq.com",
                routes: answering("official account"),
                not_found: wechat_api_not_found,
            },
            HostRoutes {
                host: "qyapi.weixin.qq.com",
                routes: answering("wecom"),
                not_found: wechat_api_not_found,
            },
        ];
        let method_not_allowed: MethodNotAllowed =
            Arc::new(|_uri: &axum::http::Uri| StatusCode::METHOD_NOT_ALLOWED.into_response());
        let app = dispatch(own, registered, method_not_allowed, |router| router);

        // The same path means a different thing under each host.
        let (status, body) = get(&app, "api.weixin.qq.com", "/cgi-bin/user/get").await;
        assert_eq!(
            (status, body.as_str()),
            (StatusCode::OK, "official account")
        );
        let (status, body) = get(&app, "QYAPI.weixin.qq.com:443", "/cgi-bin/user/get").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "wecom"));
        // A WeChat host reaches none of Plaza's own routes, in WeChat's format.
        let (status, body) = get(&app, "api.weixin.qq.com", "/healthz").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("\"errcode\":40066"), "{body}");
        // A WeChat host nobody registered is still WeChat's, never Plaza's.
        let (status, body) = get(&app, "api.mch.weixin.qq.com", "/healthz").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("errcode"), "{body}");
        // Any other host reaches Plaza's own routes, and no WeChat host's.
        let (status, body) = get(&app, "localhost:8080", "/healthz").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "own"));
        let (status, _) = get(&app, "localhost:8080", "/cgi-bin/user/get").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
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
