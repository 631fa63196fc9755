//! The outbox and job queue, for operators and external consumers.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::HttpState;
use crate::error::{ApiError, code};
use crate::extract::{Admin, Json, Query, page_limit};
use crate::wire::{EventView, JobView};

pub(crate) fn router() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/admin/outbox/{consumer}/events", get(list_events))
        .route("/api/v1/admin/outbox/{consumer}/ack", post(create_ack))
        .route("/api/v1/admin/jobs/{id}", get(get_job))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    limit: Option<usize>,
}

/// # `GET /api/v1/admin/outbox/{consumer}/events?limit=`
///
/// The events after the consumer's cursor, oldest first. Reading does not move the
/// cursor; acknowledge with `POST …/ack`.
async fn list_events(
    _admin: Admin,
    State(state): State<HttpState>,
    Path(consumer): Path<String>,
    Query(query): Query<EventsQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let limit = page_limit(query.limit)?;
    let events: Vec<EventView> = state
        .outbox
        .read_events(consumer, limit)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(axum::Json(json!({ "events": events })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    through_seq: i64,
}

/// # `POST /api/v1/admin/outbox/{consumer}/ack`
///
/// Moves the consumer's cursor to `through_seq` (never backwards).
async fn create_ack(
    _admin: Admin,
    State(state): State<HttpState>,
    Path(consumer): Path<String>,
    Json(body): Json<AckBody>,
) -> Result<axum::Json<Value>, ApiError> {
    state
        .outbox
        .ack_events(consumer.clone(), body.through_seq)
        .await?;
    Ok(axum::Json(
        json!({"consumer": consumer, "through_seq": body.through_seq}),
    ))
}

/// # `GET /api/v1/admin/jobs/{id}`
async fn get_job(
    _admin: Admin,
    State(state): State<HttpState>,
    Path(id): Path<i64>,
) -> Result<axum::Json<JobView>, ApiError> {
    match state.jobs.job(id).await? {
        Some(job) => Ok(axum::Json(job.into())),
        None => Err(ApiError::new(
            code::JOB_NOT_FOUND,
            format!("job {id} does not exist"),
        )),
    }
}
