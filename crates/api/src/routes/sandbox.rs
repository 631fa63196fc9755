//! Sandbox powers: the test clock. Refused (404 `sandbox_only`) in production mode.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::extract::{Admin, Json};
use crate::wire::rfc3339;
use crate::{AppState, TimeTravel};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sandbox/clock", get(get_clock))
        .route("/api/v1/sandbox/clock/advance", post(create_advance))
}

fn time_travel(state: &AppState) -> Result<&dyn TimeTravel, ApiError> {
    state.time_travel.as_deref().ok_or_else(|| {
        ApiError::new(
            "sandbox_only",
            "the clock can be moved only in sandbox mode (plaza serve --sandbox)",
        )
    })
}

/// # `GET /api/v1/sandbox/clock`
async fn get_clock(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
    let travel = time_travel(&state)?;
    let now = state.clock.now();
    Ok(axum::Json(json!({
        "now": rfc3339(now),
        "now_ms": now.unix_ms(),
        "offset_ms": travel.offset_ms(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    by_ms: i64,
}

/// # `POST /api/v1/sandbox/clock/advance`
///
/// Moves the clock forward by `by_ms` and runs every job that became due, in due order,
/// before answering.
async fn create_advance(
    _admin: Admin,
    State(state): State<AppState>,
    Json(body): Json<AdvanceBody>,
) -> Result<axum::Json<Value>, ApiError> {
    let travel = time_travel(&state)?;
    let advanced = travel.advance(body.by_ms).await?;
    Ok(axum::Json(json!({
        "now": rfc3339(advanced.now),
        "now_ms": advanced.now.unix_ms(),
        "offset_ms": travel.offset_ms(),
        "jobs_run": advanced.jobs_run,
    })))
}
