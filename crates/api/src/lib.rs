//! Plaza's HTTP surfaces.
//!
//! The one design decision: this is the only crate that knows HTTP, JSON spellings and
//! axum. Handlers parse and authenticate, call a domain port, and translate the result
//! back; they hold no business rules. Everything a handler needs arrives in [`AppState`],
//! built by the `plaza` binary, so two servers can run side by side in one process.
#![deny(missing_docs)]

mod error;
mod extract;
pub mod host;
mod middleware;
mod pay_v2;
pub mod pay_v3;
mod routes;
mod web;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use plaza_kernel::BoxFuture;
use plaza_kernel::clock::{Clock, ClockError, Timestamp};
use plaza_kernel::queue::{JobStore, OutboxStore};
use plaza_ledger::LedgerStore;
use plaza_pay::PayError;
use plaza_pay::model::Notification;
use prometheus_client::registry::Registry;

pub use error::{ApiError, ERROR_CODES};
pub use middleware::HttpMetrics;
pub use routes::ledger::SCHEDULED_TRANSFER_JOB;

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

/// Sandbox actions on notifications, carried out by the binary's delivery code.
pub trait NotificationActions: Send + Sync {
    /// Sends a pending notification now, as the next try of its retry schedule (with
    /// the merchant's faults).
    fn resend(&self, id: String) -> BoxFuture<'_, Result<Notification, PayError>>;
    /// Sends the notification again as it is, newly signed, outside the schedule.
    fn replay(&self, id: String) -> BoxFuture<'_, Result<Notification, PayError>>;
    /// Sends the notification with `plaintext` as its resource, encrypted and signed
    /// correctly, outside the schedule.
    fn send_edited(
        &self,
        id: String,
        plaintext: String,
    ) -> BoxFuture<'_, Result<Notification, PayError>>;
}

/// Limits the HTTP layer enforces.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    /// Largest accepted request body.
    pub request_body_bytes_max: usize,
    /// Longest time a request may take.
    pub request_timeout: Duration,
}

/// Everything the handlers need. Cloned for every extractor of every request, so it is
/// one shared pointer to [`AppStateParts`].
#[derive(Clone)]
pub struct AppState(Arc<AppStateParts>);

impl AppState {
    /// Shares the parts.
    pub fn new(parts: AppStateParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateParts;

    fn deref(&self) -> &AppStateParts {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct AppStateParts {
    /// The ledger.
    pub ledger: Arc<dyn LedgerStore>,
    /// The outbox.
    pub outbox: Arc<dyn OutboxStore>,
    /// The job queue.
    pub jobs: Arc<dyn JobStore>,
    /// The store's health.
    pub health: Arc<dyn HealthCheck>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// Present in sandbox mode only.
    pub time_travel: Option<Arc<dyn TimeTravel>>,
    /// Present in sandbox mode only.
    pub notification_actions: Option<Arc<dyn NotificationActions>>,
    /// The secret that admin requests carry as `Authorization: Bearer …`.
    pub admin_token: Arc<str>,
    /// The metrics registry rendered at `/metrics`.
    pub registry: Arc<Registry>,
    /// Called before each scrape.
    pub scrape_hook: Arc<dyn ScrapeHook>,
    /// Request counters and latencies.
    pub http_metrics: HttpMetrics,
    /// Body and time limits.
    pub limits: HttpLimits,
    /// The payment surfaces (WeChat Pay APIv3 and the payer's side).
    pub pay: Option<Arc<pay_v3::PaySurface>>,
}

/// Builds the whole HTTP application. Requests naming one of WeChat's hosts reach only
/// that host's surface ([`host`]).
pub fn app(state: AppState) -> Router {
    let limits = state.limits;
    let http_metrics = state.http_metrics.clone();
    let pay_v3 = pay_v3::router().layer(axum::middleware::from_fn_with_state(
        state.clone(),
        pay_v3::authenticate_and_sign,
    ));
    let routes = Router::new()
        .merge(pay_v3)
        .merge(pay_v2::router())
        .merge(routes::health::router())
        .merge(routes::ledger::router())
        .merge(routes::queue::router())
        .merge(routes::pay::router())
        .merge(routes::partner::router())
        .merge(routes::paycode::router())
        .merge(routes::collect::router())
        .merge(routes::report::router())
        .merge(routes::coupons::router())
        .merge(web::router())
        .merge(routes::sandbox::router())
        .fallback(web::not_found)
        .method_not_allowed_fallback(web::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::security_layer,
        ))
        .with_state(state)
        // Innermost of the standard layers, so a refused request still gets its request
        // id, span and metrics.
        .layer(axum::middleware::from_fn(host::restrict));
    middleware::wrap(routes, limits, http_metrics)
}
