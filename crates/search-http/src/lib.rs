//! Search's HTTP surfaces: `/api/v1/search` and `/api/v1/search/suggest` for everyone
//! (a signed-in searcher's own context counts in the ranking), and the operator's
//! reindex, intent dictionary, query log, statistics and hot-search settings under
//! `/api/v1/admin/search`; the search page `/app/search` and the operator's
//! `/console/search`.

mod api;
mod console;
pub mod error;
mod web;

use std::sync::Arc;

use axum::extract::FromRef;
use plaza_http::web::Role;
use plaza_http::{HttpState, NavEntry, SystemRoutes};
use plaza_search::{Catalog, Personal, PopularitySource, Search};

pub use error::SEARCH_ERROR_CODES;

/// Search's navigation entries: the search bar atop the app's tabs, a row on
/// Discover, and the operator's page.
pub const NAV: &[NavEntry] = &[
    NavEntry::app_search("search", "/app/search", "搜索 Search"),
    NavEntry::discover("search", "/app/search", "搜一搜 Search", "搜"),
    NavEntry::console(Role::OPERATOR, "search", "/console/search", "Search"),
];

/// What Search's handlers share.
#[derive(Clone)]
pub struct SearchState(Arc<SearchStateParts>);

impl SearchState {
    /// Shares the parts.
    pub fn new(parts: SearchStateParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for SearchState {
    type Target = SearchStateParts;

    fn deref(&self) -> &SearchStateParts {
        &self.0
    }
}

impl FromRef<SearchState> for HttpState {
    fn from_ref(state: &SearchState) -> HttpState {
        state.http.clone()
    }
}

/// The parts.
pub struct SearchStateParts {
    /// What every surface shares.
    pub http: HttpState,
    /// The domain.
    pub search: Arc<Search>,
    /// Where a reindex reads from.
    pub catalog: Arc<dyn Catalog>,
    /// Where popularity is read from.
    pub popularity: Arc<dyn PopularitySource>,
    /// A searcher's own context.
    pub personal: Arc<dyn Personal>,
    /// Who a session is.
    pub identity: Arc<plaza_identity::Identity>,
}

/// Everything Search serves, on Plaza's own host.
pub fn routes(state: SearchState) -> SystemRoutes {
    SystemRoutes::own(
        api::router()
            .merge(web::router())
            .merge(console::router())
            .with_state(state),
    )
}
