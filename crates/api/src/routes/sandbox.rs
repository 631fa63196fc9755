//! Sandbox powers: the test clock, the notification console (every notification with
//! its signed requests; resend, replay, send edited, skip to the next retry), fault
//! injection per merchant, and scripted outcomes per merchant. Everything here answers
//! 404 `sandbox_only` in production mode.

use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::routing::{get, post};
use plaza_pay::model::{DeliveryState, Notification};
use plaza_pay::sandbox::{FaultPlan, Script};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::extract::{Admin, Json, Query, page_limit};
use crate::pay_v3::wire::notification_view;
use crate::routes::pay::{find_merchant, pay};
use crate::wire::rfc3339;
use crate::{Advanced, AppState, NotificationActions, TimeTravel};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/sandbox/clock", get(get_clock))
        .route("/api/v1/sandbox/clock/advance", post(create_advance))
        .route("/api/v1/sandbox/clock/set", post(create_set))
        .route("/api/v1/sandbox/clock/next-job", post(create_next_job))
        .route("/api/v1/sandbox/notifications", get(list_notifications))
        .route("/api/v1/sandbox/notifications/{id}", get(get_notification))
        .route(
            "/api/v1/sandbox/notifications/{id}/resend",
            post(create_resend),
        )
        .route(
            "/api/v1/sandbox/notifications/{id}/replay",
            post(create_replay),
        )
        .route("/api/v1/sandbox/notifications/{id}/send", post(create_send))
        .route(
            "/api/v1/sandbox/notifications/{id}/next-retry",
            post(create_next_retry),
        )
        .route(
            "/api/v1/sandbox/merchants/{mchid}/faults",
            get(get_faults).put(put_faults).delete(delete_faults),
        )
        .route(
            "/api/v1/sandbox/merchants/{mchid}/script",
            get(get_script).put(put_script).delete(delete_script),
        )
}

fn sandbox_only() -> ApiError {
    ApiError::new(
        "sandbox_only",
        "sandbox powers exist only in sandbox mode (plaza serve --sandbox)",
    )
}

/// Proof that the server runs in sandbox mode. An extractor, so a handler that names it
/// after [`Admin`] checks the admin token, then the mode (404 `sandbox_only`), and only
/// then reads its body.
pub(crate) struct SandboxOnly;

impl FromRequestParts<AppState> for SandboxOnly {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        time_travel(state)?;
        actions(state)?;
        Ok(Self)
    }
}

pub(crate) fn time_travel(state: &AppState) -> Result<&dyn TimeTravel, ApiError> {
    state.time_travel.as_deref().ok_or_else(sandbox_only)
}

fn actions(state: &AppState) -> Result<&Arc<dyn NotificationActions>, ApiError> {
    state.notification_actions.as_ref().ok_or_else(sandbox_only)
}

fn clock_json(state: &AppState, travel: &dyn TimeTravel, advanced: Option<Advanced>) -> Value {
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
async fn get_clock(State(state): State<AppState>) -> Result<axum::Json<Value>, ApiError> {
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
    State(state): State<AppState>,
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
    State(state): State<AppState>,
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
pub(crate) async fn advance_to(
    state: &AppState,
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
    State(state): State<AppState>,
) -> Result<axum::Json<Value>, ApiError> {
    let travel = time_travel(&state)?;
    let Some(due) = state.jobs.next_due_at().await? else {
        return Err(ApiError::new("business_rule", "no job is waiting"));
    };
    let advanced = advance_to(&state, due).await?;
    Ok(axum::Json(clock_json(&state, travel, Some(advanced))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationsQuery {
    mchid: Option<String>,
    limit: Option<usize>,
}

fn view(notification: &Notification) -> Value {
    serde_json::to_value(notification_view(notification)).unwrap_or(Value::Null)
}

/// # `GET /api/v1/sandbox/notifications[?mchid=&limit=]`
///
/// Every notification Plaza sent or will send, newest first, each with its attempts
/// (the exact signed request, the merchant's answer, faults injected) and what is
/// scheduled next.
async fn list_notifications(
    _admin: Admin,
    State(state): State<AppState>,
    Query(query): Query<NotificationsQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    actions(&state)?;
    let surface = pay(&state)?;
    let limit = page_limit(query.limit)?;
    let notifications = match &query.mchid {
        Some(mchid) => {
            find_merchant(surface, mchid).await?;
            surface.pay.notifications_of(mchid, limit).await?
        }
        None => surface.pay.notifications_all(limit).await?,
    };
    let views: Vec<Value> = notifications.iter().map(view).collect();
    Ok(axum::Json(json!({ "notifications": views })))
}

pub(crate) async fn existing(state: &AppState, id: &str) -> Result<Notification, ApiError> {
    pay(state)?.pay.notification(id).await?.ok_or_else(|| {
        ApiError::new(
            "notification_not_found",
            format!("notification {id} does not exist"),
        )
    })
}

/// # `GET /api/v1/sandbox/notifications/{id}`
async fn get_notification(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    actions(&state)?;
    Ok(axum::Json(view(&existing(&state, &id).await?)))
}

/// Sends a pending notification now as its next scheduled try.
pub(crate) async fn resend(state: &AppState, id: &str) -> Result<Notification, ApiError> {
    let actions = actions(state)?;
    let notification = existing(state, id).await?;
    if notification.state != DeliveryState::Pending {
        return Err(ApiError::new(
            "notification_not_pending",
            format!(
                "notification {id} is {}; resend is for pending ones, replay it instead",
                notification.state.as_str()
            ),
        ));
    }
    Ok(actions.resend(id.to_owned()).await?)
}

/// # `POST /api/v1/sandbox/notifications/{id}/resend`
async fn create_resend(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    Ok(axum::Json(view(&resend(&state, &id).await?)))
}

/// Sends a notification again as it is, signed anew.
pub(crate) async fn replay(state: &AppState, id: &str) -> Result<Notification, ApiError> {
    let actions = actions(state)?;
    existing(state, id).await?;
    Ok(actions.replay(id.to_owned()).await?)
}

/// # `POST /api/v1/sandbox/notifications/{id}/replay`
async fn create_replay(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    Ok(axum::Json(view(&replay(&state, &id).await?)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    /// The edited resource as a JSON object.
    resource: Option<Value>,
    /// The edited resource as text (what a console's text box holds).
    resource_text: Option<String>,
}

/// The edited resource's plaintext: a JSON object, given as one or as text.
pub(crate) fn edited_plaintext(
    resource: Option<Value>,
    resource_text: Option<String>,
) -> Result<String, ApiError> {
    let value = match (resource, resource_text) {
        (Some(value), None) => value,
        (None, Some(text)) => serde_json::from_str::<Value>(&text).map_err(|error| {
            ApiError::new(
                "invalid_field",
                format!(
                    "resource_text: not valid JSON ({error}); fix it before sending — nothing was sent"
                ),
            )
        })?,
        _ => {
            return Err(ApiError::new(
                "invalid_field",
                "give exactly one of resource (a JSON object) or resource_text (its text)",
            ));
        }
    };
    if !value.is_object() {
        return Err(ApiError::new(
            "invalid_field",
            "resource: must be a JSON object, as the decrypted resource of a notification is",
        ));
    }
    Ok(value.to_string())
}

/// Sends a notification with an edited resource, encrypted and signed correctly.
pub(crate) async fn send_edited(
    state: &AppState,
    id: &str,
    plaintext: String,
) -> Result<Notification, ApiError> {
    let actions = actions(state)?;
    existing(state, id).await?;
    Ok(actions.send_edited(id.to_owned(), plaintext).await?)
}

/// # `POST /api/v1/sandbox/notifications/{id}/send`
///
/// Body `{"resource": {…}}` or `{"resource_text": "…"}`: the decrypted resource to
/// send instead of the original, which Plaza encrypts with the merchant's APIv3 key and
/// signs. The retry schedule is not touched.
async fn create_send(
    _admin: Admin,
    _sandbox: SandboxOnly,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<SendBody>,
) -> Result<axum::Json<Value>, ApiError> {
    actions(&state)?;
    let plaintext = edited_plaintext(body.resource, body.resource_text)?;
    Ok(axum::Json(view(
        &send_edited(&state, &id, plaintext).await?,
    )))
}

/// Moves the clock to a pending notification's next try and runs it.
pub(crate) async fn next_retry(
    state: &AppState,
    id: &str,
) -> Result<(Notification, Advanced), ApiError> {
    actions(state)?;
    let notification = existing(state, id).await?;
    let due = match (notification.state, notification.next_attempt_at) {
        (DeliveryState::Pending, Some(due)) => due,
        _ => {
            return Err(ApiError::new(
                "notification_not_pending",
                format!(
                    "notification {id} is {}: no retry is scheduled",
                    notification.state.as_str()
                ),
            ));
        }
    };
    let advanced = advance_to(state, due).await?;
    Ok((existing(state, id).await?, advanced))
}

/// # `POST /api/v1/sandbox/notifications/{id}/next-retry`
///
/// Moves the sandbox clock to the notification's next try, runs every job due by then
/// (that try included), and answers the notification and the clock.
async fn create_next_retry(
    _admin: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let (notification, advanced) = next_retry(&state, &id).await?;
    let travel = time_travel(&state)?;
    Ok(axum::Json(json!({
        "notification": view(&notification),
        "clock": clock_json(&state, travel, Some(advanced)),
    })))
}

fn faults_json(mchid: &str, plan: Option<&FaultPlan>) -> Value {
    let plan = plan.cloned().unwrap_or_default();
    json!({
        "mchid": mchid,
        "notify_url": plan.notify_url,
        "delay_ms": plan.delay_ms,
        "duplicate": plan.duplicate,
        "reorder": plan.reorder,
        "drop_first": plan.drop_first,
        "bad_signature_first": plan.bad_signature_first,
        "held": plan.held,
    })
}

/// # `GET /api/v1/sandbox/merchants/{mchid}/faults`
async fn get_faults(
    _admin: Admin,
    State(state): State<AppState>,
    Path(mchid): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    actions(&state)?;
    let surface = pay(&state)?;
    find_merchant(surface, &mchid).await?;
    let plan = surface.pay.faults(&mchid).await?;
    Ok(axum::Json(faults_json(&mchid, plan.as_ref())))
}

/// # `PUT /api/v1/sandbox/merchants/{mchid}/faults`
///
/// Replaces the merchant's fault plan: `delay_ms`, `duplicate`, `reorder`,
/// `drop_first`, `bad_signature_first`, optionally only for `notify_url`.
async fn put_faults(
    _admin: Admin,
    _sandbox: SandboxOnly,
    State(state): State<AppState>,
    Path(mchid): Path<String>,
    Json(plan): Json<FaultPlan>,
) -> Result<axum::Json<Value>, ApiError> {
    actions(&state)?;
    if plan.held.is_some() {
        return Err(ApiError::new(
            "invalid_field",
            "held: set by the reorder fault itself, not by a request",
        ));
    }
    let plan = pay(&state)?.pay.set_faults(&mchid, plan).await?;
    Ok(axum::Json(faults_json(&mchid, Some(&plan))))
}

/// # `DELETE /api/v1/sandbox/merchants/{mchid}/faults`
async fn delete_faults(
    _admin: Admin,
    State(state): State<AppState>,
    Path(mchid): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    actions(&state)?;
    let plan = pay(&state)?
        .pay
        .set_faults(&mchid, FaultPlan::default())
        .await?;
    Ok(axum::Json(faults_json(&mchid, Some(&plan))))
}

/// # `GET /api/v1/sandbox/merchants/{mchid}/script`
async fn get_script(
    _admin: Admin,
    State(state): State<AppState>,
    Path(mchid): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    actions(&state)?;
    let surface = pay(&state)?;
    find_merchant(surface, &mchid).await?;
    let script = surface.pay.script(&mchid);
    Ok(axum::Json(json!({ "mchid": mchid, "rules": script.rules })))
}

/// # `PUT /api/v1/sandbox/merchants/{mchid}/script`
///
/// Replaces the merchant's scripted outcomes (`{"rules": […]}`, see docs/sandbox.md).
async fn put_script(
    _admin: Admin,
    _sandbox: SandboxOnly,
    State(state): State<AppState>,
    Path(mchid): Path<String>,
    Json(script): Json<Script>,
) -> Result<axum::Json<Value>, ApiError> {
    actions(&state)?;
    let script = pay(&state)?.pay.set_script(&mchid, script).await?;
    Ok(axum::Json(json!({ "mchid": mchid, "rules": script.rules })))
}

/// # `DELETE /api/v1/sandbox/merchants/{mchid}/script`
async fn delete_script(
    _admin: Admin,
    State(state): State<AppState>,
    Path(mchid): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    actions(&state)?;
    pay(&state)?
        .pay
        .set_script(&mchid, Script::default())
        .await?;
    Ok(axum::Json(json!({ "mchid": mchid, "rules": [] })))
}
