//! What every HTTP surface of Plaza shares, and knows of no system.
//!
//! The one design decision: a system (Pay, later Mini Programs, WeCom, Channels, Search)
//! hands this crate its routes as a [`SystemRoutes`] — what it serves on Plaza's own host,
//! what it serves under each WeChat host name, the wire APIs whose error format it owns,
//! its navigation entries and its error codes — and [`app`] puts them together with the
//! shared parts: the standard middleware, the `/api/v1` error envelope ([`ApiError`],
//! codes declared with [`error_codes!`]), extractors ([`extract`]), per-host dispatch
//! ([`host`]), the page shell and its security rules ([`web`]), and the operator's
//! routes ([`ops`]: health, metrics, ledger, queue, sandbox clock). Everything a handler
//! needs arrives in state built by the `plaza` binary, so two servers can run side by
//! side in one process.
#![deny(missing_docs)]

mod error;
pub mod extract;
pub mod host;
mod middleware;
pub mod ops;
pub mod web;
pub mod wechat;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::response::Response;
use plaza_kernel::BoxFuture;
use plaza_kernel::clock::{Clock, ClockError, Timestamp};
use plaza_kernel::queue::{JobStore, OutboxStore};
use plaza_ledger::LedgerStore;
use prometheus_client::registry::Registry;

pub use error::{ApiError, ERROR_CODES, ErrorCode, ErrorType, code};
pub use middleware::HttpMetrics;
pub use ops::ledger::SCHEDULED_TRANSFER_JOB;
pub use web::{NavEntry, NavPlace, Role};

/// RFC 3339 in UTC with milliseconds, e.g. `2026-11-26T01:22:45.123Z`.
pub fn rfc3339(at: Timestamp) -> String {
    jiff::Timestamp::from_millisecond(at.unix_ms())
        .map_or_else(|_| at.unix_ms().to_string(), |ts| ts.to_string())
}

/// Reports whether the store answers, for `/healthz`.
pub trait HealthCheck: Send + Sync {
    /// The backend's name (`sqlite`, `postgres`).
    fn backend_name(&self) -> &'static str;
    /// `Ok` when the store answers a query.
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
}

/// Figures computed when `/metrics` is scraped (queue lags and the like).
pub trait ScrapeHook: Send + Sync {
    /// Refreshes gauges right before the registry is encoded.
    fn refresh(&self) -> BoxFuture<'_, ()>;
}

/// What moving the sandbox clock did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advanced {
    /// The clock's time after the move.
    pub now: Timestamp,
    /// How many jobs ran because they became due.
    pub jobs_run: usize,
}

/// Moves the sandbox clock and runs what became due. Present only in sandbox mode.
pub trait TimeTravel: Send + Sync {
    /// Moves the clock forward by `by_ms`, records it durably and runs every job that
    /// became due, in due order, before returning.
    ///
    /// Moving the clock is the same as waiting: each job due on the way runs in due
    /// order as of its due time (the clock reads it meanwhile), then the clock lands.
    fn advance(&self, by_ms: i64) -> BoxFuture<'_, Result<Advanced, ClockError>>;
    /// Moves the clock forward to `to` the same way; `to` must be after the clock's time.
    fn set(&self, to: Timestamp) -> BoxFuture<'_, Result<Advanced, ClockError>>;
    /// Moves the clock to `at` the same way, or, when `at` is not ahead, runs what is
    /// due now without moving it (reaching a job that is already due).
    fn reach(&self, at: Timestamp) -> BoxFuture<'_, Result<Advanced, ClockError>>;
    /// How far the clock runs ahead of the wall clock.
    fn offset_ms(&self) -> i64;
}

/// Limits the HTTP layer enforces.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Largest accepted request body.
    pub request_body_bytes_max: usize,
    /// Longest time a request may take.
    pub request_timeout: Duration,
}

/// What every surface's handlers share. Cloned for every extractor of every request, so
/// it is one shared pointer to [`HttpStateParts`].
#[derive(Clone)]
pub struct HttpState(Arc<HttpStateParts>);

impl HttpState {
    /// Shares the parts.
    pub fn new(parts: HttpStateParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for HttpState {
    type Target = HttpStateParts;

    fn deref(&self) -> &HttpStateParts {
        &self.0
    }
}

/// What [`HttpState`] holds.
pub struct HttpStateParts {
    /// The ledger.
    pub ledger: Arc<dyn LedgerStore>,
    /// The outbox.
    pub outbox: Arc<dyn OutboxStore>,
    /// The job queue.
    pub jobs: Arc<dyn JobStore>,
    /// The store's health.
    pub health: Arc<dyn HealthCheck>,
    /// The domain clock (the sandbox clock in sandbox mode).
    pub clock: Arc<dyn Clock>,
    /// Real time, for what must not follow the sandbox clock (signed cookies' ends).
    pub wall_clock: Arc<dyn Clock>,
    /// Present in sandbox mode only.
    pub time_travel: Option<Arc<dyn TimeTravel>>,
    /// The secret that admin requests carry as `Authorization: Bearer …`.
    pub admin_token: Arc<str>,
    /// Keys signed cookies and download tokens.
    pub token_secret: Arc<[u8]>,
    /// The externally visible base URL (`http://127.0.0.1:8080` by default).
    pub public_base_url: String,
    /// The metrics registry rendered at `/metrics`.
    pub registry: Arc<Registry>,
    /// Called before each scrape.
    pub scrape_hook: Arc<dyn ScrapeHook>,
    /// Request counters and latencies.
    pub http_metrics: HttpMetrics,
    /// Body and time limits.
    pub limits: HttpLimits,
    /// The pages' navigation: every system's entries, in registration order.
    pub nav: Arc<[NavEntry]>,
    /// How each system signs people in and out, in registration order.
    pub sign_in: Arc<[Arc<dyn web::SignIn>]>,
    /// What each system puts into the user app, in registration order.
    pub user_apps: Arc<[Arc<dyn web::UserApp>]>,
}

/// An API that lives under path prefixes and answers errors in its own format (WeChat
/// Pay's `{code, message}`, its APIv2 XML, WeChat's `{errcode, errmsg}`); paths under
/// none of them are Plaza's pages or Plaza's own API.
#[derive(Debug, Clone, Copy)]
pub struct WireApi {
    /// The path prefixes it serves (`/v3`): the prefix itself and what is below it.
    pub prefixes: &'static [&'static str],
    /// Paths below those prefixes that are not its own (Plaza's pages there).
    pub except: &'static [&'static str],
    /// Answers a path under it that nothing serves, in its format.
    pub not_found: NotFound,
}

/// What a system serves under one of WeChat's host names (drop-in mode): only these
/// routes are reachable there.
pub struct HostRoutes {
    /// The host name (`api.mch.weixin.qq.com`).
    pub host: &'static str,
    /// Its routes, with their state.
    pub routes: Router,
    /// Answers a path the host does not serve, in the host's format.
    pub not_found: NotFound,
}

/// Answers a path nothing serves, in one API's or host's format.
pub type NotFound = fn(path: &str) -> Response;

/// Tells whether a path moves the sandbox clock.
pub type MovesTheClock = fn(path: &str) -> bool;

/// Everything a system contributes to the HTTP application.
pub struct SystemRoutes {
    /// Routes on Plaza's own host (any host name that is not WeChat's): its `/api/v1`
    /// resources, its pages and its WeChat-compatible paths for SDKs given Plaza's base
    /// URL. Must not overlap another system's.
    pub own: Router,
    /// Routes under WeChat host names, for drop-in mode.
    pub hosts: Vec<HostRoutes>,
    /// The wire APIs whose error format the system owns.
    pub wire_apis: Vec<WireApi>,
    /// Wraps the whole application, outermost (e.g. an answer rewritten into a wire
    /// API's format whatever layer produced it); applied in registration order.
    pub outermost: Option<fn(Router, &HttpLimits) -> Router>,
    /// Which of its paths move the sandbox clock (and so may take as long as that does).
    pub moves_the_clock: Option<MovesTheClock>,
}

impl SystemRoutes {
    /// A system that serves `own` on Plaza's host and nothing else.
    pub fn own(own: Router) -> Self {
        Self {
            own,
            hosts: Vec::new(),
            wire_apis: Vec::new(),
            outermost: None,
            moves_the_clock: None,
        }
    }
}

/// Builds the whole HTTP application from the shared routes and each system's. Requests
/// naming one of WeChat's hosts reach only what the systems serve under that host
/// ([`host`]).
pub fn app(state: HttpState, systems: Vec<SystemRoutes>) -> Router {
    let limits = state.limits;
    let http_metrics = state.http_metrics.clone();
    let mut wire_apis = vec![host::plaza_api(), host::wechat_server_api()];
    let mut own = ops::router().with_state(state.clone());
    let mut hosts = Vec::new();
    let mut outermost = Vec::new();
    let mut moves_the_clock: Vec<MovesTheClock> = vec![middleware::moves_the_clock];
    for system in systems {
        moves_the_clock.extend(system.moves_the_clock);
        own = own.merge(system.own);
        hosts.extend(system.hosts);
        wire_apis.extend(system.wire_apis);
        outermost.extend(system.outermost);
    }
    let wire_apis: Arc<[WireApi]> = wire_apis.into();
    let fallbacks = web::Fallbacks::new(wire_apis.clone());
    let own = own
        .fallback({
            let fallbacks = fallbacks.clone();
            move |uri: axum::http::Uri| async move { fallbacks.not_found(&uri) }
        })
        .method_not_allowed_fallback({
            let fallbacks = fallbacks.clone();
            move |uri: axum::http::Uri| async move { fallbacks.method_not_allowed(&uri) }
        });
    let security = web::SecurityState::new(state, wire_apis);
    let moves_the_clock: Arc<[MovesTheClock]> = moves_the_clock.into();
    // Each host's router gets the layers that read the matched route, innermost first:
    // the same-origin rule, then the body and time limits and the metrics.
    let layers = move |router: Router| {
        let router = router.layer(axum::middleware::from_fn_with_state(
            security.clone(),
            web::security_layer,
        ));
        middleware::per_router(
            router,
            limits,
            http_metrics.clone(),
            moves_the_clock.clone(),
        )
    };
    let method_not_allowed: host::MethodNotAllowed =
        Arc::new(move |uri: &axum::http::Uri| fallbacks.method_not_allowed(uri));
    let mut wrapped = middleware::outer(host::dispatch(own, hosts, method_not_allowed, layers));
    for wrap in outermost {
        wrapped = wrap(wrapped, &limits);
    }
    wrapped
}
