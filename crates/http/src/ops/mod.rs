//! The operator's routes every deployment has, whatever systems it runs: health and
//! metrics, the ledger and the queues under `/api/v1/admin`, and the sandbox clock.

pub(crate) mod clock;
pub(crate) mod health;
pub(crate) mod ledger;
pub(crate) mod queue;

pub use clock::{SandboxOnly, advance_to, clock_json, sandbox_only, time_travel};

use axum::Router;

use crate::HttpState;

/// The shared routes and assets.
pub(crate) fn router() -> Router<HttpState> {
    Router::new()
        .merge(health::router())
        .merge(ledger::router())
        .merge(queue::router())
        .merge(clock::router())
        .merge(crate::web::router())
}
