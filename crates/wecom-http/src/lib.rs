//! WeCom's HTTP surfaces in Plaza: the WeCom server API on `qyapi.weixin.qq.com`'s paths
//! ([`server_api`], in WeCom's envelope: [`wire`]) and WeCom's own `/api/v1` resources
//! (operators create corps; people accept invitations and read their app messages).
//!
//! The one design decision: the server API is its own router. Under the WeCom host name
//! it answers at `/cgi-bin/…` as WeCom does; on Plaza's own host it lives under
//! `/wecom/cgi-bin/…`, because the mini-program server API already answers `/cgi-bin/…`
//! there and the two define some of the same paths with other meanings. Its tokens are
//! WeCom records only, so a mini program's token is unknown here (40014) and a corp's
//! token reaches only its own corp.
#![deny(missing_docs)]

mod api;
mod chat_api;
mod console;
mod contact_api;
mod error;
mod group_api;
mod people_api;
mod server_api;
mod web;
pub mod wire;

pub use chat_api::socket_writer;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use plaza_http::{HostRoutes, HttpState, NavEntry, Role, SystemRoutes, WireApi};
use plaza_wecom::WeCom;

pub use error::WECOM_ERROR_CODES;
pub use web::WeComWeb;

/// WeCom's navigation entries: the staff workbench on Me, the operator's corps.
pub const NAV: &[NavEntry] = &[
    NavEntry::me("workbench", "/app/work", "工作台 Workbench", "工"),
    NavEntry::console(Role::OPERATOR, console::SECTION, "/console/wecom", "WeCom"),
];

/// The WeChat host the WeCom server API lives on.
pub const WECOM_HOST: &str = "qyapi.weixin.qq.com";

/// Where the WeCom server API lives on Plaza's own host.
pub const WECOM_PREFIX: &str = "/wecom";

/// Everything WeCom's handlers need; cheap to clone.
#[derive(Clone)]
pub struct WeComState(Arc<WeComStateParts>);

impl WeComState {
    /// Shares the parts.
    pub fn new(parts: WeComStateParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for WeComState {
    type Target = WeComStateParts;

    fn deref(&self) -> &WeComStateParts {
        &self.0
    }
}

impl FromRef<WeComState> for HttpState {
    fn from_ref(state: &WeComState) -> HttpState {
        state.http.clone()
    }
}

/// What [`WeComState`] holds.
pub struct WeComStateParts {
    /// What every surface shares.
    pub http: HttpState,
    /// The domain.
    pub wecom: Arc<WeCom>,
}

/// Everything WeCom serves: on Plaza's own host `/api/v1` and the server API under
/// [`WECOM_PREFIX`]; under `qyapi.weixin.qq.com` the server API at WeCom's paths.
pub fn routes(state: WeComState) -> SystemRoutes {
    let server_api = || {
        server_api::router()
            .merge(contact_api::router())
            .merge(group_api::router())
            .with_state(state.clone())
    };
    let own = Router::new()
        .merge(api::router())
        .merge(people_api::router())
        .merge(chat_api::router())
        .merge(web::router())
        .with_state(state.clone())
        .nest(WECOM_PREFIX, server_api());
    SystemRoutes {
        own,
        hosts: vec![HostRoutes {
            host: WECOM_HOST,
            routes: server_api(),
            not_found: plaza_http::host::wechat_api_not_found,
        }],
        wire_apis: vec![WireApi {
            prefixes: &["/wecom/cgi-bin"],
            except: &[],
            not_found: plaza_http::host::wechat_api_not_found,
        }],
        outermost: None,
        moves_the_clock: None,
    }
}
