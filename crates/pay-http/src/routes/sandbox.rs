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

use crate::error::{ApiError, code};
use crate::extract::{Admin, Json, Query, page_limit};
use crate::pay_v3::wire::notification_view;
use crate::routes::pay::find_merchant;
use crate::{NotificationActions, PayState};
use plaza_http::{Advanced, TimeTravel};

pub(crate) fn router() -> Router<PayState> {
    Router::new()
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

/// The paths here that move the sandbox clock (skipping to a notification's next retry),
/// and the console's forms that do.
pub(crate) fn moves_the_clock(path: &str) -> bool {
    (path.starts_with("/api/v1/sandbox/notifications/") && path.ends_with("/next-retry"))
        || path == "/console/clock"
        || (path.starts_with("/console/notifications/") && path.ends_with("/action"))
}

/// Proof that the server runs in sandbox mode. An extractor, so a handler that names it
/// after [`Admin`] checks the admin token, then the mode (404 `sandbox_only`), and only
/// then reads its body.
pub(crate) struct SandboxOnly;

impl FromRequestParts<PayState> for SandboxOnly {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, state: &PayState) -> Result<Self, ApiError> {
        time_travel(state)?;
        actions(state)?;
        Ok(Self)
    }
}

pub(crate) fn time_travel(state: &PayState) -> Result<&dyn TimeTravel, ApiError> {
    Ok(plaza_http::ops::time_travel(&state.http)?)
}

fn actions(state: &PayState) -> Result<&Arc<dyn NotificationActions>, ApiError> {
    state
        .notification_actions
        .as_ref()
        .ok_or_else(|| plaza_http::ops::sandbox_only().into())
}

/// Moves the clock to `due` (or runs what is due now, if `due` has passed) and runs what
/// became due on the way, each job at its due time.
pub(crate) async fn advance_to(
    state: &PayState,
    due: plaza_kernel::clock::Timestamp,
) -> Result<Advanced, ApiError> {
    Ok(plaza_http::ops::advance_to(&state.http, due).await?)
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
    State(state): State<PayState>,
    Query(query): Query<NotificationsQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    actions(&state)?;
    let surface = &state.pay;
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

pub(crate) async fn existing(state: &PayState, id: &str) -> Result<Notification, ApiError> {
    state.pay.pay.notification(id).await?.ok_or_else(|| {
        ApiError::new(
            code::NOTIFICATION_NOT_FOUND,
            format!("notification {id} does not exist"),
        )
    })
}

/// # `GET /api/v1/sandbox/notifications/{id}`
async fn get_notification(
    _admin: Admin,
    State(state): State<PayState>,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    actions(&state)?;
    Ok(axum::Json(view(&existing(&state, &id).await?)))
}

/// Sends a pending notification now as its next scheduled try.
pub(crate) async fn resend(state: &PayState, id: &str) -> Result<Notification, ApiError> {
    let actions = actions(state)?;
    let notification = existing(state, id).await?;
    if notification.state != DeliveryState::Pending {
        return Err(ApiError::new(
            code::NOTIFICATION_NOT_PENDING,
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
    State(state): State<PayState>,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    Ok(axum::Json(view(&resend(&state, &id).await?)))
}

/// Sends a notification again as it is, signed anew.
pub(crate) async fn replay(state: &PayState, id: &str) -> Result<Notification, ApiError> {
    let actions = actions(state)?;
    existing(state, id).await?;
    Ok(actions.replay(id.to_owned()).await?)
}

/// # `POST /api/v1/sandbox/notifications/{id}/replay`
async fn create_replay(
    _admin: Admin,
    State(state): State<PayState>,
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
                code::INVALID_FIELD,
                format!(
                    "resource_text: not valid JSON ({error}); fix it before sending — nothing was sent"
                ),
            )
        })?,
        _ => {
            return Err(ApiError::new(
                code::INVALID_FIELD,
                "give exactly one of resource (a JSON object) or resource_text (its text)",
            ));
        }
    };
    if !value.is_object() {
        return Err(ApiError::new(
            code::INVALID_FIELD,
            "resource: must be a JSON object, as the decrypted resource of a notification is",
        ));
    }
    Ok(value.to_string())
}

/// Sends a notification with an edited resource, encrypted and signed correctly.
pub(crate) async fn send_edited(
    state: &PayState,
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
    State(state): State<PayState>,
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
    state: &PayState,
    id: &str,
) -> Result<(Notification, Advanced), ApiError> {
    actions(state)?;
    let notification = existing(state, id).await?;
    let due = match (notification.state, notification.next_attempt_at) {
        (DeliveryState::Pending, Some(due)) => due,
        _ => {
            return Err(ApiError::new(
                code::NOTIFICATION_NOT_PENDING,
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
    State(state): State<PayState>,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    let (notification, advanced) = next_retry(&state, &id).await?;
    let travel = time_travel(&state)?;
    Ok(axum::Json(json!({
        "notification": view(&notification),
        "clock": plaza_http::ops::clock_json(&state.http, travel, Some(advanced)),
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
    State(state): State<PayState>,
    Path(mchid): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    actions(&state)?;
    let surface = &state.pay;
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
    State(state): State<PayState>,
    Path(mchid): Path<String>,
    Json(plan): Json<FaultPlan>,
) -> Result<axum::Json<Value>, ApiError> {
    actions(&state)?;
    if plan.held.is_some() {
        return Err(ApiError::new(
            code::INVALID_FIELD,
            "held: set by the reorder fault itself, not by a request",
        ));
    }
    let plan = state.pay.pay.set_faults(&mchid, plan).await?;
    Ok(axum::Json(faults_json(&mchid, Some(&plan))))
}

/// # `DELETE /api/v1/sandbox/merchants/{mchid}/faults`
async fn delete_faults(
    _admin: Admin,
    State(state): State<PayState>,
    Path(mchid): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    actions(&state)?;
    let plan = state
        .pay
        .pay
        .set_faults(&mchid, FaultPlan::default())
        .await?;
    Ok(axum::Json(faults_json(&mchid, Some(&plan))))
}

/// # `GET /api/v1/sandbox/merchants/{mchid}/script`
async fn get_script(
    _admin: Admin,
    State(state): State<PayState>,
    Path(mchid): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    actions(&state)?;
    let surface = &state.pay;
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
    State(state): State<PayState>,
    Path(mchid): Path<String>,
    Json(script): Json<Script>,
) -> Result<axum::Json<Value>, ApiError> {
    actions(&state)?;
    let script = state.pay.pay.set_script(&mchid, script).await?;
    Ok(axum::Json(json!({ "mchid": mchid, "rules": script.rules })))
}

/// # `DELETE /api/v1/sandbox/merchants/{mchid}/script`
async fn delete_script(
    _admin: Admin,
    State(state): State<PayState>,
    Path(mchid): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    actions(&state)?;
    state.pay.pay.set_script(&mchid, Script::default()).await?;
    Ok(axum::Json(json!({ "mchid": mchid, "rules": [] })))
}
