//! The ledger, for operators and tests: accounts, transfers, history, verification.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use plaza_kernel::id::{AccountId, TransferId};
use plaza_kernel::queue::{NewEvent, NewJob};
use plaza_ledger::{TransferBatch, WriteSet, verify};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::HttpState;
use crate::error::{ApiError, code};
use crate::extract::{Admin, Json, Query, page_limit};
use crate::wire::{
    AccountView, OpenAccountBody, ScheduleBody, ScheduledTransferPayload, SubmitBody, TransferView,
    VerifyView,
};

/// The job kind that makes a scheduled transfer.
pub const SCHEDULED_TRANSFER_JOB: &str = "ledger.scheduled_transfer";

pub(crate) fn router() -> Router<HttpState> {
    Router::new()
        .route("/api/v1/admin/ledger/accounts", post(create_account))
        .route("/api/v1/admin/ledger/accounts/{id}", get(get_account))
        .route(
            "/api/v1/admin/ledger/accounts/{id}/transfers",
            get(list_account_transfers),
        )
        .route("/api/v1/admin/ledger/transfers", post(create_transfers))
        .route("/api/v1/admin/ledger/transfers/{id}", get(get_transfer))
        .route(
            "/api/v1/admin/ledger/scheduled-transfers",
            post(create_scheduled_transfer),
        )
        .route("/api/v1/admin/ledger/verify", get(get_verify))
}

fn account_id(text: String) -> Result<AccountId, ApiError> {
    AccountId::parse(text).map_err(|error| ApiError::invalid_field("account id", error))
}

/// # `POST /api/v1/admin/ledger/accounts`
///
/// Opens an account; opening the same account again answers it unchanged (200 instead of
/// 201).
async fn create_account(
    _admin: Admin,
    State(state): State<HttpState>,
    Json(body): Json<OpenAccountBody>,
) -> Result<(StatusCode, axum::Json<AccountView>), ApiError> {
    let request = body.into_domain()?;
    let existed = state.ledger.account(request.id.clone()).await?.is_some();
    let account = state.ledger.open_account(request).await?;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, axum::Json(account.into())))
}

/// # `GET /api/v1/admin/ledger/accounts/{id}`
async fn get_account(
    _admin: Admin,
    State(state): State<HttpState>,
    Path(id): Path<String>,
) -> Result<axum::Json<AccountView>, ApiError> {
    let id = account_id(id)?;
    match state.ledger.account(id.clone()).await? {
        Some(account) => Ok(axum::Json(account.into())),
        None => Err(ApiError::new(
            code::ACCOUNT_NOT_FOUND,
            format!("account {id} does not exist"),
        )),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryQuery {
    before_seq: Option<i64>,
    limit: Option<usize>,
}

/// # `GET /api/v1/admin/ledger/accounts/{id}/transfers?before_seq=&limit=`
///
/// The account's transfers, newest first; pass `next_before_seq` back for the next page.
async fn list_account_transfers(
    _admin: Admin,
    State(state): State<HttpState>,
    Path(id): Path<String>,
    Query(query): Query<HistoryQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let id = account_id(id)?;
    let limit = page_limit(query.limit)?;
    let page = state.ledger.history(id, query.before_seq, limit).await?;
    let transfers: Vec<TransferView> = page.transfers.into_iter().map(Into::into).collect();
    Ok(axum::Json(json!({
        "transfers": transfers,
        "next_before_seq": page.next_before_seq,
    })))
}

/// # `POST /api/v1/admin/ledger/transfers`
///
/// Applies a batch of transfers atomically once durable, with a `ledger.batch_committed`
/// outbox event. Sending the same batch again answers the original transfers with
/// `"replayed": true` (200 instead of 201) and writes nothing.
async fn create_transfers(
    _admin: Admin,
    State(state): State<HttpState>,
    Json(body): Json<SubmitBody>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let transfers = body
        .transfers
        .into_iter()
        .enumerate()
        .map(|(index, transfer)| transfer.into_domain(&format!("transfers[{index}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let batch = TransferBatch::new(transfers)?;
    let event = batch_committed_event(&batch);
    let write = WriteSet {
        batch: Some(batch),
        events: vec![event],
        ..WriteSet::default()
    };
    let committed = state.ledger.commit(write).await?;
    let status = if committed.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let transfers: Vec<TransferView> = committed.transfers.into_iter().map(Into::into).collect();
    Ok((
        status,
        axum::Json(json!({"transfers": transfers, "replayed": committed.replayed})),
    ))
}

/// The outbox event of an admin batch: `ledger.batch_committed`, keyed by the first
/// transfer id, with the batch's transfers as JSON. Written in the batch's transaction.
fn batch_committed_event(batch: &TransferBatch) -> NewEvent {
    let transfers: Vec<Value> = batch
        .transfers()
        .iter()
        .map(|transfer| {
            json!({
                "id": transfer.id.as_str(),
                "from": transfer.from.as_str(),
                "to": transfer.to.as_str(),
                "amount_minor": transfer.amount_minor,
                "currency": transfer.currency.as_str(),
            })
        })
        .collect();
    NewEvent {
        topic: "ledger.batch_committed".to_owned(),
        key: batch
            .transfers()
            .first()
            .map(|transfer| transfer.id.to_string())
            .unwrap_or_default(),
        payload: json!({ "transfers": transfers }).to_string(),
    }
}

/// # `GET /api/v1/admin/ledger/transfers/{id}`
async fn get_transfer(
    _admin: Admin,
    State(state): State<HttpState>,
    Path(id): Path<String>,
) -> Result<axum::Json<TransferView>, ApiError> {
    let id =
        TransferId::parse(id).map_err(|error| ApiError::invalid_field("transfer id", error))?;
    match state.ledger.transfer(id.clone()).await? {
        Some(transfer) => Ok(axum::Json(transfer.into())),
        None => Err(ApiError::new(
            code::TRANSFER_NOT_FOUND,
            format!("transfer {id} does not exist"),
        )),
    }
}

/// # `POST /api/v1/admin/ledger/scheduled-transfers`
///
/// Schedules a transfer for a time by Plaza's clock (`due_at_ms`, or `after_ms` from now).
/// It runs as a job when due; its transfer id is also the job's key, so scheduling the same
/// transfer twice schedules it once.
async fn create_scheduled_transfer(
    _admin: Admin,
    State(state): State<HttpState>,
    Json(body): Json<ScheduleBody>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    let now = state.clock.now();
    let due_at = match (body.due_at_ms, body.after_ms) {
        (Some(due_at_ms), None) => plaza_kernel::clock::Timestamp::from_unix_ms(due_at_ms),
        (None, Some(after_ms)) if after_ms >= 0 => now.plus_ms(after_ms),
        (None, Some(_)) => return Err(ApiError::invalid_field("after_ms", "must not be negative")),
        _ => {
            return Err(ApiError::invalid_field(
                "due_at_ms",
                "give exactly one of due_at_ms and after_ms",
            ));
        }
    };
    // Check the transfer's shape now, so a malformed one is refused instead of failing later.
    let transfer = body.transfer.clone().into_domain("transfer")?;
    TransferBatch::single(transfer.clone())?;
    let payload = serde_json::to_string(&ScheduledTransferPayload {
        transfer: body.transfer,
    })
    .map_err(|error| ApiError::new(code::INTERNAL, error.to_string()))?;
    let job = NewJob {
        kind: SCHEDULED_TRANSFER_JOB.to_owned(),
        key: transfer.id.to_string(),
        payload,
        due_at,
    };
    let committed = state
        .ledger
        .commit(WriteSet {
            jobs: vec![job],
            ..WriteSet::default()
        })
        .await?;
    let job_id = committed.job_ids.first().copied();
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"job_id": job_id, "due_at_ms": due_at.unix_ms()})),
    ))
}

/// # `GET /api/v1/admin/ledger/verify`
///
/// Recomputes every balance from the transfers and reports any violation.
async fn get_verify(
    _admin: Admin,
    State(state): State<HttpState>,
) -> Result<axum::Json<VerifyView>, ApiError> {
    let audits = state.ledger.audit().await?;
    Ok(axum::Json(verify(&audits).into()))
}
