//! The container: the user app's page that runs a mini program (`/app/mp/{appid}…`),
//! the package files it loads into a sandboxed frame (`/mp-pkg/{token}/…`, a
//! capability URL, with a CSP `sandbox` header so they never run with Plaza's origin
//! even when opened directly), the `wx.js` library packages include, and the bridge
//! API the container page calls on the package's behalf (`/api/v1/mp/{appid}/…`).
//!
//! The one design decision: the package runs in `<iframe sandbox="allow-scripts">`, an
//! opaque origin that cannot read Plaza's pages, cookies or storage, and talks to the
//! page only through a `MessageChannel` the page hands it at each load; everything
//! that needs the user (login, payment, consent, phone number) is done by the page,
//! on Plaza's origin, with the user's session, after the page's own checks.

mod bridge;
mod page;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use plaza_kernel::BoxFuture;

use crate::MiniAppState;

/// A request `wx.request` makes, after the allow-list check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// The full URL.
    pub url: String,
    /// Headers the mini program set.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
    /// `https://servicewechat.com/{appid}/{version}/page-frame.html`, as WeChat sends.
    pub referer: String,
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Makes `wx.request`'s requests from the server (as WeChat's client does: no CORS, no
/// cookies of Plaza's), through the outbound policy the binary applies.
pub trait Fetch: Send + Sync {
    /// Sends the request; the error is a sentence for `request:fail …`.
    fn fetch(&self, request: FetchRequest) -> BoxFuture<'_, Result<Fetched, String>>;
}

/// Bodies the bridge takes: a stored value (1 MB) or a request body, JSON-encoded.
const BRIDGE_BODY_BYTES_MAX: usize = 3 * 1024 * 1024;

pub(crate) fn router() -> Router<MiniAppState> {
    let bridge_limit = DefaultBodyLimit::max(BRIDGE_BODY_BYTES_MAX);
    Router::new()
        .route("/app/mp", get(page::directory))
        .route("/app/mp/{appid}", get(page::container))
        .route("/app/mp/{appid}/{*page}", get(page::container))
        .route("/mp-pkg/{token}/{*path}", get(page::package_file))
        .route("/mp/wx.js", get(page::wx_js))
        .route("/mp/{appid}/qr", get(page::qr_page))
        .route("/mp/{appid}/qr.png", get(page::qr_png))
        .route("/static/mp-container.js", get(page::container_js))
        .route("/static/miniapp.css", get(page::stylesheet))
        .route(
            "/api/v1/mp/{appid}/check-session",
            post(bridge::check_session),
        )
        .route(
            "/api/v1/mp/{appid}/request",
            post(bridge::request).layer(bridge_limit),
        )
        .route(
            "/api/v1/mp/{appid}/storage",
            post(bridge::storage).layer(bridge_limit),
        )
        .route("/api/v1/mp/{appid}/payment", post(bridge::payment))
        .route("/api/v1/mp/{appid}/templates", get(bridge::templates))
        .route("/api/v1/mp/{appid}/phone", post(bridge::phone))
        .route("/api/v1/mp/{appid}/profile", post(bridge::profile))
        .route("/api/v1/mp/{appid}/visit", post(bridge::visit))
        .route(
            "/api/v1/me/phone",
            put(bridge::set_phone).get(bridge::my_phone),
        )
}
