//! Refunds: create (idempotent on `out_refund_no`) and query — for a direct merchant's
//! own orders, or by a service provider for a sub-merchant's (`sub_mchid`).

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use plaza_pay::model::MerchantKind;
use plaza_pay::{PayError, RefundRequest};
use serde::Deserialize;

use super::wire::{RefundBody, refund_json};
use super::{Caller, Location, V3Error, bad_query, json_response, parse_body};
use crate::PayState;

/// The merchant whose order a refund request is about, and the provider asking for it:
/// a direct merchant for itself, or a provider for one of its sub-merchants.
pub(crate) async fn refund_parties(
    state: &PayState,
    caller: &Caller,
    sub_mchid: Option<String>,
    location: Location,
) -> Result<(String, Option<String>), V3Error> {
    let field = if location == Location::Body {
        "/sub_mchid"
    } else {
        "sub_mchid"
    };
    let provider = caller.merchant.kind == MerchantKind::Provider;
    match sub_mchid {
        Some(sub_mchid) if provider => {
            state
                .pay
                .pay
                .sub_merchant_of(&caller.merchant.mchid, &sub_mchid)
                .await?;
            Ok((sub_mchid, Some(caller.merchant.mchid.clone())))
        }
        Some(_) => Err(V3Error::param(
            field,
            "is for service providers; a direct merchant refunds its own orders",
            location,
        )),
        None if provider => Err(V3Error::param(
            field,
            "is required: a service provider refunds its sub-merchants' orders",
            location,
        )),
        None => Ok((caller.merchant.mchid.clone(), None)),
    }
}

/// `POST /v3/refund/domestic/refunds`.
pub(crate) async fn create(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, V3Error> {
    let body: RefundBody = parse_body(&caller.body)?;
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
    let (mchid, sp_mchid) = refund_parties(&state, &caller, body.sub_mchid, Location::Body).await?;
    let refund = state
        .pay
        .pay
        .refund(RefundRequest {
            mchid,
            out_trade_no: body.out_trade_no,
            transaction_id: body.transaction_id,
            out_refund_no: body.out_refund_no,
            reason: body.reason,
            notify_url: body.notify_url,
            refund_minor: body.amount.refund,
            total_minor: body.amount.total,
            currency: body.amount.currency,
            sp_mchid,
        })
        .await?;
    Ok(json_response(StatusCode::OK, refund_json(&refund)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct RefundQuery {
    sub_mchid: Option<String>,
}

/// `GET /v3/refund/domestic/refunds/{out_refund_no}[?sub_mchid=]`.
pub(crate) async fn query(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path(out_refund_no): Path<String>,
    query: Result<Query<RefundQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    let (mchid, _) = refund_parties(&state, &caller, query.sub_mchid, Location::Query).await?;
    let refund = state
        .pay
        .pay
        .refund_of(&mchid, &out_refund_no)
        .await?
        .ok_or(PayError::RefundNotFound)?;
    Ok(json_response(StatusCode::OK, refund_json(&refund)))
}
