//! Mini Programs' HTTP surfaces in Plaza: the WeChat mini-program server API on
//! `api.weixin.qq.com`'s paths ([`server_api`], in WeChat's envelope: [`wire`]) and
//! Mini Programs' own `/api/v1` resources (operators, developers, and the container's
//! `wx.login`).
//!
//! The one design decision: handlers parse, authenticate and translate; the rules live
//! in `plaza-miniapp`. The server API is served on Plaza's own host (SDKs given Plaza's
//! base URL) and under `api.weixin.qq.com` (drop-in mode), where its tokens are the only
//! ones that work: WeCom's realm is another host and another record kind.
#![deny(missing_docs)]

mod ads_api;
mod console;
mod container;
mod error;
mod more_api;
pub mod qr;
mod routes;
mod server_api;
mod subscribe_api;
mod versions_api;
mod web;
pub mod wire;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use plaza_http::{HostRoutes, HttpState, NavEntry, Role, SystemRoutes, WireApi};
use plaza_miniapp::MiniApps;

pub use console::MiniAppSignIn;
pub use container::{Fetch, FetchRequest, Fetched};
pub use error::MINIAPP_ERROR_CODES;
pub use web::MiniAppWeb;

/// The WeChat host the mini-program server API lives on.
pub const MINIAPP_HOST: &str = "api.weixin.qq.com";

/// Mini Programs' navigation entries: the released mini programs on Discover, the
/// developer console from Me, and the consoles' pages.
pub const NAV: &[NavEntry] = &[
    NavEntry::discover("miniapps", "/app/mp", "小程序 Mini Programs", "程"),
    NavEntry::me("developer", "/developer", "开发者 Developer", "开"),
    NavEntry::console(Role::DEVELOPER, "miniapps", "/developer", "Mini programs"),
    NavEntry::console(
        Role::OPERATOR,
        "miniapps",
        "/console/miniapps",
        "Mini programs",
    ),
    NavEntry::console(
        Role::OPERATOR,
        "miniapp-reviews",
        "/console/miniapps/reviews",
        "Reviews",
    ),
];

/// Everything Mini Programs' handlers need; cheap to clone.
#[derive(Clone)]
pub struct MiniAppState(Arc<MiniAppStateParts>);

impl MiniAppState {
    /// Shares the parts.
    pub fn new(parts: MiniAppStateParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for MiniAppState {
    type Target = MiniAppStateParts;

    fn deref(&self) -> &MiniAppStateParts {
        &self.0
    }
}

impl FromRef<MiniAppState> for HttpState {
    fn from_ref(state: &MiniAppState) -> HttpState {
        state.http.clone()
    }
}

/// What [`MiniAppState`] holds.
pub struct MiniAppStateParts {
    /// What every surface shares.
    pub http: HttpState,
    /// The domain.
    pub miniapps: Arc<MiniApps>,
    /// Sends `wx.request`'s requests.
    pub fetch: Arc<dyn Fetch>,
}

/// Everything Mini Programs serve: on Plaza's own host the server API and `/api/v1`;
/// under `api.weixin.qq.com` only the server API.
pub fn routes(state: MiniAppState) -> SystemRoutes {
    let server_api = || {
        server_api::router()
            .merge(subscribe_api::router())
            .merge(more_api::router())
            .with_state(state.clone())
    };
    let own = Router::new()
        .merge(routes::router())
        .merge(versions_api::router())
        .merge(container::router())
        .merge(ads_api::router())
        .merge(console::router())
        .with_state(state.clone())
        .merge(server_api());
    SystemRoutes {
        own,
        hosts: vec![HostRoutes {
            host: MINIAPP_HOST,
            routes: server_api(),
            not_found: plaza_http::host::wechat_api_not_found,
        }],
        wire_apis: vec![WireApi {
            prefixes: &["/wxaapi", "/datacube"],
            except: &[],
            not_found: plaza_http::host::wechat_api_not_found,
        }],
        outermost: None,
        moves_the_clock: None,
    }
}
