//! WeChat Pay's host name, for drop-in mode: what `api.mch.weixin.qq.com` serves (the
//! wire APIs, not Plaza's pages under `/pay/`) and the origin a request reached it at.

use axum::http::{HeaderMap, Uri, header};
use plaza_http::host::{Scheme, wechat_host};

/// WeChat Pay's host name.
pub const PAY_HOST: &str = "api.mch.weixin.qq.com";

/// Plaza's own pages that live under a Pay prefix (the payer's checkout and the
/// collection-code page): not WeChat Pay's, so not on its host.
pub const PAY_PAGES: &[&str] = &["/pay/checkout", "/pay/collect"];

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
    if wechat_host(host) != Some(PAY_HOST) {
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

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

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
}
