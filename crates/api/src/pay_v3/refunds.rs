//! Refunds: create (idempotent on `out_refund_no`) and query.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use plaza_pay::{PayError, RefundRequest};

use super::wire::{RefundBody, refund_json};
use super::{Caller, Location, V3Error, json_response, parse_body, surface};
use crate::AppState;

/// `POST /v3/refund/domestic/refunds`.
pub(crate) async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, V3Error> {
    let body: RefundBody = parse_body(&caller.body)?;
    if body.sub_mchid.is_some() {
        return Err(V3Error::param(
            "/sub_mchid",
            "is for service providers; a direct merchant refunds its own orders",
            Location::Body,
        ));
    }
    if let Some(funds_account) = &body.funds_account
        && funds_account != "AVAILABLE"
        && funds_account != "UNSETTLED"
    {
        return Err(V3Error::param(
            "/funds_account",
            "must be AVAILABLE or UNSETTLED",
            Location::Body,
        ));
    }
    let refund = surface(&state)?
        .pay
        .refund(RefundRequest {
            mchid: caller.merchant.mchid.clone(),
            out_trade_no: body.out_trade_no,
            transaction_id: body.transaction_id,
            out_refund_no: body.out_refund_no,
            reason: body.reason,
            notify_url: body.notify_url,
            refund_minor: body.amount.refund,
            total_minor: body.amount.total,
            currency: body.amount.currency,
        })
        .await?;
    Ok(json_response(StatusCode::OK, refund_json(&refund)))
}

/// `GET /v3/refund/domestic/refunds/{out_refund_no}`.
pub(crate) async fn query(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(out_refund_no): Path<String>,
) -> Result<Response, V3Error> {
    let refund = surface(&state)?
        .pay
        .refund_of(&caller.merchant.mchid, &out_refund_no)
        .await?
        .ok_or(PayError::RefundNotFound)?;
    Ok(json_response(StatusCode::OK, refund_json(&refund)))
}
