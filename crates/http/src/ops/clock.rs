//! The sandbox clock: read it, move it forward (by a span, to an instant, to the next
//! job), each move running what became due on the way as waiting would. Everything
//! here answers 404 `sandbox_only` in production mode.

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, code};
use crate::extract::{Admin, Json};
use crate::wire::rfc3339;
use crate::{Advanced, HttpState, TimeTravel};

pub(crate) fn router() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/sandbox/clock", get(get_clock))
        .route("/api/v1/sandbox/clock/advance", post(create_advance))
        .route("/api/v1/sandbox/clock/set", post(create_set))
        .route("/api/v1/sandbox/clock/next-job", post(create_next_job))
}

/// `404 sandbox_only`: what a sandbox power answers in production mode.
pub fn sandbox_only() -> ApiError {
    ApiError::new(
        code::SANDBOX_ONLY,
        "sandbox powers exist only in sandbox mode (plaza serve --sandbox)",
    )
}

/// Proof that the server runs in sandbox mode. An extractor, so a handler that names it
/// after [`Admin`] checks the admin token, then the mode (404 `sandbox_only`), and only
/// then reads its body.
pub struct SandboxOnly;

impl<S: Send + Sync> FromRequestParts<S> for SandboxOnly
where
    HttpState: axum::extract::FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let state = <HttpState as axum::extract::FromRef<S>>::from_ref(state);
        time_travel(&state)?;
        Ok(Self)
    }
}

/// The sandbox clock's mover, or `404 sandbox_only` in production mode.
pub fn time_travel(state: &HttpState) -> Result<&dyn TimeTravel, ApiError> {
    state.time_travel.as_deref().ok_or_else(sandbox_only)
}

/// The clock as `/api/v1/sandbox/clock` shows it, with `jobs_run` after a move.
pub fn clock_json(state: &HttpState, travel: &dyn TimeTravel, advanced: Option<Advanced>) -> Value {
    let now = advanced.map_or_else(|| state.clock.now(), |advanced| advanced.now);
    let mut body = json!({
        "now": rfc3339(now),
        "now_ms": now.unix_ms(),
        "offset_ms": travel.offset_ms(),
    });
    if let Some(advanced) = advanced {
        body["jobs_run"] = json!(advanced.jobs_run);
    }
    body
}

/// # `GET /api/v1/sandbox/clock`
///
/// The sandbox clock, and when the next job is due.
async fn get_clock(State(state): State<HttpState>) -> Result<axum::Json<Value>, ApiError> {
    let travel = time_travel(&state)?;
    let mut body = clock_json(&state, travel, None);
    body["next_job_at"] = match state.jobs.next_due_at().await? {
        Some(due) => json!(rfc3339(due)),
        None => Value::Null,
    };
    Ok(axum::Json(body))
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
    _sandbox: SandboxOnly,
    State(state): State<HttpState>,
    Json(body): Json<AdvanceBody>,
) -> Result<axum::Json<Value>, ApiError> {
    let travel = time_travel(&state)?;
    let advanced = travel.advance(body.by_ms).await?;
    Ok(axum::Json(clock_json(&state, travel, Some(advanced))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetBody {
    to: String,
}

/// # `POST /api/v1/sandbox/clock/set`
///
/// Moves the clock forward to `to` (RFC 3339, any offset) the way
/// `POST /api/v1/sandbox/clock/advance` does, so scripts and tests can start from a known
/// instant. A `to` that is not after the clock's time is refused (`clock_not_forward`).
async fn create_set(
    _admin: Admin,
    _sandbox: SandboxOnly,
    State(state): State<HttpState>,
    Json(body): Json<SetBody>,
) -> Result<axum::Json<Value>, ApiError> {
    let travel = time_travel(&state)?;
    let to = parse_instant("to", &body.to)?;
    let advanced = travel.set(to).await?;
    Ok(axum::Json(clock_json(&state, travel, Some(advanced))))
}

fn parse_instant(field: &str, text: &str) -> Result<plaza_kernel::clock::Timestamp, ApiError> {
    let instant: jiff::Timestamp = text.parse().map_err(|error| {
        ApiError::invalid_field(
            field,
            format!(
                "{text:?} is not an RFC 3339 instant such as 2030-01-02T10:00:00+08:00 ({error})"
            ),
        )
    })?;
    Ok(plaza_kernel::clock::Timestamp::from_unix_ms(
        instant.as_millisecond(),
    ))
}

/// Moves the clock to `due` (or runs what is due now, if `due` has passed) and runs what
/// became due on the way, each job at its due time.
pub async fn advance_to(
    state: &HttpState,
    due: plaza_kernel::clock::Timestamp,
) -> Result<Advanced, ApiError> {
    let travel = time_travel(state)?;
    Ok(travel.reach(due).await?)
}

/// # `POST /api/v1/sandbox/clock/next-job`
///
/// Moves the clock to the next job's due time and runs it (and whatever else is due
/// by then). With no job waiting, `409 business_rule`.
async fn create_next_job(
    _admin: Admin,
    State(state): State<HttpState>,
) -> Result<axum::Json<Value>, ApiError> {
    let travel = time_travel(&state)?;
    let Some(due) = state.jobs.next_due_at().await? else {
        return Err(ApiError::new(code::BUSINESS_RULE, "no job is waiting"));
    };
    let advanced = advance_to(&state, due).await?;
    Ok(axum::Json(clock_json(&state, travel, Some(advanced))))
}
