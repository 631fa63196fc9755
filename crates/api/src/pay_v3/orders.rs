//! Prepay (JSAPI, Native, App, H5), query by either number, and close.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use plaza_pay::PrepayRequest;
use plaza_pay::model::{Order, TradeType};
use serde::Deserialize;

use super::wire::{CloseBody, PrepayBody, transaction_json};
use super::{Caller, Location, PaySurface, V3Error, bad_query, json_response, parse_body, surface};
use crate::AppState;

fn check_mchid(
    caller: &Caller,
    mchid: &str,
    field: &str,
    location: Location,
) -> Result<(), V3Error> {
    if mchid == caller.merchant.mchid {
        Ok(())
    } else {
        Err(V3Error::param(
            field,
            format!(
                "mchid {mchid} is not the merchant that signed the request ({})",
                caller.merchant.mchid
            ),
            location,
        ))
    }
}

fn prepay_request(caller: &Caller, trade_type: TradeType) -> Result<PrepayRequest, V3Error> {
    let body: PrepayBody = parse_body(&caller.body)?;
    check_mchid(caller, &body.mchid, "/mchid", Location::Body)?;
    let time_expire = body
        .time_expire
        .as_deref()
        .map(plaza_pay::time::parse_rfc3339)
        .transpose()
        .map_err(|issue| V3Error::param("/time_expire", issue, Location::Body))?;
    if body.notify_url.is_empty() {
        return Err(V3Error::param("/notify_url", "is required", Location::Body));
    }
    let payer_openid = body.payer.map(|payer| payer.openid);
    if trade_type == TradeType::Jsapi && payer_openid.is_none() {
        return Err(V3Error::param(
            "/payer",
            "is required for JSAPI",
            Location::Body,
        ));
    }
    if trade_type == TradeType::H5 {
        match &body.scene_info {
            Some(scene) if scene.h5_info.is_some() => {
                let kind = scene.h5_info.as_ref().map_or("", |info| info.kind.as_str());
                if !matches!(kind, "iOS" | "Android" | "Wap") {
                    return Err(V3Error::param(
                        "/scene_info/h5_info/type",
                        "must be iOS, Android or Wap",
                        Location::Body,
                    ));
                }
            }
            _ => {
                return Err(V3Error::param(
                    "/scene_info/h5_info",
                    "is required for H5",
                    Location::Body,
                ));
            }
        }
    }
    let _ = (&body.support_fapiao, &body.detail);
    Ok(PrepayRequest {
        mchid: body.mchid,
        appid: body.appid,
        trade_type,
        description: body.description,
        out_trade_no: body.out_trade_no,
        time_expire,
        attach: body.attach,
        notify_url: body.notify_url,
        goods_tag: body.goods_tag,
        total_minor: body.amount.total,
        currency: body.amount.currency.unwrap_or_else(|| "CNY".to_owned()),
        payer_openid,
        payer_client_ip: body
            .scene_info
            .as_ref()
            .map(|scene| scene.payer_client_ip.clone()),
        device_id: body.scene_info.and_then(|scene| scene.device_id),
        profit_sharing: body
            .settle_info
            .and_then(|settle| settle.profit_sharing)
            .unwrap_or(false),
    })
}

async fn prepay<'a>(
    state: &'a AppState,
    caller: &Caller,
    trade_type: TradeType,
) -> Result<(Order, &'a PaySurface), V3Error> {
    let surface = surface(state)?;
    let request = prepay_request(caller, trade_type)?;
    let order = surface.pay.prepay(request).await?;
    Ok((order, surface))
}

/// The `code_url` of a Native order.
pub fn code_url(order: &Order) -> String {
    format!("weixin://wxpay/bizpayurl?pr={}", order.code_token)
}

/// `POST /v3/pay/transactions/jsapi` → `{prepay_id}`.
pub(crate) async fn prepay_jsapi(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, V3Error> {
    let (order, _) = prepay(&state, &caller, TradeType::Jsapi).await?;
    Ok(json_response(
        StatusCode::OK,
        serde_json::json!({ "prepay_id": order.prepay_id }).to_string(),
    ))
}

/// `POST /v3/pay/transactions/app` → `{prepay_id}`.
pub(crate) async fn prepay_app(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, V3Error> {
    let (order, _) = prepay(&state, &caller, TradeType::App).await?;
    Ok(json_response(
        StatusCode::OK,
        serde_json::json!({ "prepay_id": order.prepay_id }).to_string(),
    ))
}

/// `POST /v3/pay/transactions/native` → `{code_url}`.
pub(crate) async fn prepay_native(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, V3Error> {
    let (order, _) = prepay(&state, &caller, TradeType::Native).await?;
    Ok(json_response(
        StatusCode::OK,
        serde_json::json!({ "code_url": code_url(&order) }).to_string(),
    ))
}

/// `POST /v3/pay/transactions/h5` → `{h5_url}`: Plaza's own checkout page.
pub(crate) async fn prepay_h5(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, V3Error> {
    let (order, surface) = prepay(&state, &caller, TradeType::H5).await?;
    let h5_url = format!(
        "{}/pay/checkout?prepay_id={}",
        surface.public_base_url, order.prepay_id
    );
    Ok(json_response(
        StatusCode::OK,
        serde_json::json!({ "h5_url": h5_url }).to_string(),
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct MchidQuery {
    mchid: Option<String>,
}

fn query_mchid(caller: &Caller, query: &MchidQuery) -> Result<(), V3Error> {
    let Some(mchid) = &query.mchid else {
        return Err(V3Error::param("mchid", "is required", Location::Query));
    };
    check_mchid(caller, mchid, "mchid", Location::Query)
}

/// `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=`.
pub(crate) async fn query_by_out_trade_no(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(out_trade_no): Path<String>,
    query: Result<Query<MchidQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    query_mchid(&caller, &query)?;
    let order = surface(&state)?
        .pay
        .order(&caller.merchant.mchid, &out_trade_no)
        .await?
        .ok_or(plaza_pay::PayError::OrderNotFound)?;
    Ok(json_response(StatusCode::OK, transaction_json(&order)))
}

/// `GET /v3/pay/transactions/id/{transaction_id}?mchid=`.
pub(crate) async fn query_by_transaction_id(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(transaction_id): Path<String>,
    query: Result<Query<MchidQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    query_mchid(&caller, &query)?;
    let order = surface(&state)?
        .pay
        .order_by_transaction_id(&caller.merchant.mchid, &transaction_id)
        .await?
        .ok_or(plaza_pay::PayError::OrderNotFound)?;
    Ok(json_response(StatusCode::OK, transaction_json(&order)))
}

/// `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close` → 204.
pub(crate) async fn close(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(out_trade_no): Path<String>,
) -> Result<Response, V3Error> {
    let body: CloseBody = parse_body(&caller.body)?;
    check_mchid(&caller, &body.mchid, "/mchid", Location::Body)?;
    surface(&state)?
        .pay
        .close(&caller.merchant.mchid, &out_trade_no)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
