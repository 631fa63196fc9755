//! Prepay (JSAPI, Native, App, H5), query by either number, and close.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use plaza_pay::PrepayRequest;
use plaza_pay::model::{Order, TradeType};
use serde::Deserialize;

use super::wire::{CloseBody, PrepayBody, transaction_json};
use super::{Caller, Location, PaySurface, V3Error, bad_query, json_response, parse_body};
use crate::PayState;

pub(crate) fn check_mchid(
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

/// Which API a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Api {
    /// `/v3/pay/transactions/...`: a direct merchant for itself.
    Direct,
    /// `/v3/pay/partner/transactions/...`: a service provider for a sub-merchant.
    Partner,
}

fn required(value: Option<String>, field: &str) -> Result<String, V3Error> {
    value.ok_or_else(|| V3Error::param(field, "is required", Location::Body))
}

/// The parties of a prepay: `(mchid, appid, sp_mchid, sub_appid)` — for a partner
/// order the sub-merchant, the provider's `sp_appid`, the provider and `sub_appid`.
pub(crate) type Parties = (String, String, Option<String>, Option<String>);

/// The merchant and app fields of a request body, direct or partner.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PartyFields {
    #[serde(default)]
    pub(crate) appid: Option<String>,
    #[serde(default)]
    pub(crate) mchid: Option<String>,
    #[serde(default)]
    pub(crate) sp_appid: Option<String>,
    #[serde(default)]
    pub(crate) sp_mchid: Option<String>,
    #[serde(default)]
    pub(crate) sub_appid: Option<String>,
    #[serde(default)]
    pub(crate) sub_mchid: Option<String>,
}

/// Checks the parties a request names against its signer and the API it came through.
pub(crate) fn parties_of(
    caller: &Caller,
    fields: PartyFields,
    api: Api,
) -> Result<Parties, V3Error> {
    match api {
        Api::Direct => {
            let mchid = required(fields.mchid, "/mchid")?;
            check_mchid(caller, &mchid, "/mchid", Location::Body)?;
            Ok((mchid, required(fields.appid, "/appid")?, None, None))
        }
        Api::Partner => {
            let sp_mchid = required(fields.sp_mchid, "/sp_mchid")?;
            check_mchid(caller, &sp_mchid, "/sp_mchid", Location::Body)?;
            Ok((
                required(fields.sub_mchid, "/sub_mchid")?,
                required(fields.sp_appid, "/sp_appid")?,
                Some(sp_mchid),
                fields.sub_appid,
            ))
        }
    }
}

fn parties(caller: &Caller, body: &mut PrepayBody, api: Api) -> Result<Parties, V3Error> {
    let fields = PartyFields {
        appid: body.appid.take(),
        mchid: body.mchid.take(),
        sp_appid: body.sp_appid.take(),
        sp_mchid: body.sp_mchid.take(),
        sub_appid: body.sub_appid.take(),
        sub_mchid: body.sub_mchid.take(),
    };
    parties_of(caller, fields, api)
}

/// The payer a JSAPI order is made out to: `(openid, sub_openid)`.
fn jsapi_payer(
    body: &mut PrepayBody,
    api: Api,
    trade_type: TradeType,
    has_sub_appid: bool,
) -> Result<(Option<String>, Option<String>), V3Error> {
    let (openid, sub_openid) = match (api, body.payer.take()) {
        (_, None) => (None, None),
        (Api::Direct, Some(payer)) => (payer.openid, None),
        (Api::Partner, Some(payer)) => (payer.sp_openid, payer.sub_openid),
    };
    if sub_openid.is_some() && !has_sub_appid {
        return Err(V3Error::param(
            "/payer/sub_openid",
            "needs sub_appid: a sub_openid is an openid under the sub-merchant's app",
            Location::Body,
        ));
    }
    if trade_type == TradeType::Jsapi && openid.is_none() && sub_openid.is_none() {
        let (field, issue) = match api {
            Api::Direct => ("/payer/openid", "is required for JSAPI"),
            Api::Partner => (
                "/payer/sp_openid",
                "is required for JSAPI (or payer.sub_openid with sub_appid)",
            ),
        };
        return Err(V3Error::param(field, issue, Location::Body));
    }
    Ok((openid, sub_openid))
}

fn check_h5_scene(body: &PrepayBody) -> Result<(), V3Error> {
    match &body.scene_info {
        Some(scene) if scene.h5_info.is_some() => {
            let kind = scene.h5_info.as_ref().map_or("", |info| info.kind.as_str());
            if matches!(kind, "iOS" | "Android" | "Wap") {
                Ok(())
            } else {
                Err(V3Error::param(
                    "/scene_info/h5_info/type",
                    "must be iOS, Android or Wap",
                    Location::Body,
                ))
            }
        }
        _ => Err(V3Error::param(
            "/scene_info/h5_info",
            "is required for H5",
            Location::Body,
        )),
    }
}

fn prepay_request(
    caller: &Caller,
    trade_type: TradeType,
    api: Api,
) -> Result<PrepayRequest, V3Error> {
    let mut body: PrepayBody = parse_body(&caller.body)?;
    let (mchid, appid, sp_mchid, sub_appid) = parties(caller, &mut body, api)?;
    let time_expire = body
        .time_expire
        .as_deref()
        .map(plaza_pay::time::parse_rfc3339)
        .transpose()
        .map_err(|issue| V3Error::param("/time_expire", issue, Location::Body))?;
    if body.notify_url.is_empty() {
        return Err(V3Error::param("/notify_url", "is required", Location::Body));
    }
    let (payer_openid, payer_sub_openid) =
        jsapi_payer(&mut body, api, trade_type, sub_appid.is_some())?;
    if trade_type == TradeType::H5 {
        check_h5_scene(&body)?;
    }
    let _ = (&body.support_fapiao, &body.detail);
    Ok(PrepayRequest {
        mchid,
        appid,
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
        sp_mchid,
        sub_appid,
        payer_sub_openid,
    })
}

async fn prepay<'a>(
    state: &'a PayState,
    caller: &Caller,
    trade_type: TradeType,
    api: Api,
) -> Result<(Order, &'a PaySurface), V3Error> {
    let surface = &state.pay;
    let request = prepay_request(caller, trade_type, api)?;
    let order = surface.pay.prepay(request).await?;
    Ok((order, surface))
}

/// The `code_url` of a Native order.
pub fn code_url(order: &Order) -> String {
    format!("weixin://wxpay/bizpayurl?pr={}", order.code_token)
}

fn prepay_id_answer(order: &Order) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::json!({ "prepay_id": order.prepay_id }).to_string(),
    )
}

fn code_url_answer(order: &Order) -> Response {
    json_response(
        StatusCode::OK,
        serde_json::json!({ "code_url": code_url(order) }).to_string(),
    )
}

/// H5 orders pay on Plaza's own checkout page.
fn h5_url_answer(surface: &PaySurface, order: &Order) -> Response {
    let h5_url = format!(
        "{}/pay/checkout?prepay_id={}",
        surface.public_base_url, order.prepay_id
    );
    json_response(
        StatusCode::OK,
        serde_json::json!({ "h5_url": h5_url }).to_string(),
    )
}

macro_rules! prepay_handler {
    ($(#[$doc:meta])* $name:ident, $trade_type:expr, $api:expr, |$surface:ident, $order:ident| $answer:expr) => {
        $(#[$doc])*
        pub(crate) async fn $name(
            State(state): State<PayState>,
            Extension(caller): Extension<Caller>,
        ) -> Result<Response, V3Error> {
            let ($order, $surface) = prepay(&state, &caller, $trade_type, $api).await?;
            let _ = &$surface;
            Ok($answer)
        }
    };
}

prepay_handler!(
    /// `POST /v3/pay/transactions/jsapi` → `{prepay_id}`.
    prepay_jsapi, TradeType::Jsapi, Api::Direct, |surface, order| prepay_id_answer(&order)
);
prepay_handler!(
    /// `POST /v3/pay/transactions/app` → `{prepay_id}`.
    prepay_app, TradeType::App, Api::Direct, |surface, order| prepay_id_answer(&order)
);
prepay_handler!(
    /// `POST /v3/pay/transactions/native` → `{code_url}`.
    prepay_native, TradeType::Native, Api::Direct, |surface, order| code_url_answer(&order)
);
prepay_handler!(
    /// `POST /v3/pay/transactions/h5` → `{h5_url}`.
    prepay_h5, TradeType::H5, Api::Direct, |surface, order| h5_url_answer(surface, &order)
);
prepay_handler!(
    /// `POST /v3/pay/partner/transactions/jsapi` → `{prepay_id}`.
    partner_prepay_jsapi, TradeType::Jsapi, Api::Partner, |surface, order| prepay_id_answer(&order)
);
prepay_handler!(
    /// `POST /v3/pay/partner/transactions/app` → `{prepay_id}`.
    partner_prepay_app, TradeType::App, Api::Partner, |surface, order| prepay_id_answer(&order)
);
prepay_handler!(
    /// `POST /v3/pay/partner/transactions/native` → `{code_url}`.
    partner_prepay_native, TradeType::Native, Api::Partner, |surface, order| code_url_answer(&order)
);
prepay_handler!(
    /// `POST /v3/pay/partner/transactions/h5` → `{h5_url}`.
    partner_prepay_h5, TradeType::H5, Api::Partner, |surface, order| h5_url_answer(surface, &order)
);

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

#[derive(Debug, Deserialize)]
pub(crate) struct PartnerQuery {
    sp_mchid: Option<String>,
    sub_mchid: Option<String>,
}

/// The sub-merchant a partner request acts for: `sp_mchid` must be the signer and the
/// sub-merchant one of its own.
pub(crate) async fn partner_sub(
    state: &PayState,
    caller: &Caller,
    sp_mchid: Option<&str>,
    sub_mchid: Option<&str>,
    location: Location,
) -> Result<String, V3Error> {
    let prefix = if location == Location::Body { "/" } else { "" };
    let field = |name: &str| format!("{prefix}{name}");
    let sp_mchid =
        sp_mchid.ok_or_else(|| V3Error::param(&field("sp_mchid"), "is required", location))?;
    check_mchid(caller, sp_mchid, &field("sp_mchid"), location)?;
    let sub_mchid =
        sub_mchid.ok_or_else(|| V3Error::param(&field("sub_mchid"), "is required", location))?;
    state.pay.pay.sub_merchant_of(sp_mchid, sub_mchid).await?;
    Ok(sub_mchid.to_owned())
}

async fn order_by_number(
    state: &PayState,
    mchid: &str,
    out_trade_no: &str,
) -> Result<Response, V3Error> {
    let order = state
        .pay
        .pay
        .order(mchid, out_trade_no)
        .await?
        .ok_or(plaza_pay::PayError::OrderNotFound)?;
    // A sandbox-scripted USERPAYING order counts the poll.
    let order = state.pay.pay.order_polled(order).await?;
    Ok(json_response(StatusCode::OK, transaction_json(&order)))
}

async fn order_by_transaction_id(
    state: &PayState,
    mchid: &str,
    transaction_id: &str,
) -> Result<Response, V3Error> {
    let order = state
        .pay
        .pay
        .order_by_transaction_id(mchid, transaction_id)
        .await?
        .ok_or(plaza_pay::PayError::OrderNotFound)?;
    Ok(json_response(StatusCode::OK, transaction_json(&order)))
}

type QueryResult<T> = Result<Query<T>, axum::extract::rejection::QueryRejection>;

/// `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=`.
pub(crate) async fn query_by_out_trade_no(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path(out_trade_no): Path<String>,
    query: QueryResult<MchidQuery>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    query_mchid(&caller, &query)?;
    order_by_number(&state, &caller.merchant.mchid, &out_trade_no).await
}

/// `GET /v3/pay/transactions/id/{transaction_id}?mchid=`.
pub(crate) async fn query_by_transaction_id(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path(transaction_id): Path<String>,
    query: QueryResult<MchidQuery>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    query_mchid(&caller, &query)?;
    order_by_transaction_id(&state, &caller.merchant.mchid, &transaction_id).await
}

/// `GET /v3/pay/partner/transactions/out-trade-no/{out_trade_no}?sp_mchid=&sub_mchid=`.
pub(crate) async fn partner_query_by_out_trade_no(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path(out_trade_no): Path<String>,
    query: QueryResult<PartnerQuery>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    let sub_mchid = partner_sub(
        &state,
        &caller,
        query.sp_mchid.as_deref(),
        query.sub_mchid.as_deref(),
        Location::Query,
    )
    .await?;
    order_by_number(&state, &sub_mchid, &out_trade_no).await
}

/// `GET /v3/pay/partner/transactions/id/{transaction_id}?sp_mchid=&sub_mchid=`.
pub(crate) async fn partner_query_by_transaction_id(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path(transaction_id): Path<String>,
    query: QueryResult<PartnerQuery>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    let sub_mchid = partner_sub(
        &state,
        &caller,
        query.sp_mchid.as_deref(),
        query.sub_mchid.as_deref(),
        Location::Query,
    )
    .await?;
    order_by_transaction_id(&state, &sub_mchid, &transaction_id).await
}

/// `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close` → 204.
pub(crate) async fn close(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path(out_trade_no): Path<String>,
) -> Result<Response, V3Error> {
    let body: CloseBody = parse_body(&caller.body)?;
    let mchid = body
        .mchid
        .ok_or_else(|| V3Error::param("/mchid", "is required", Location::Body))?;
    check_mchid(&caller, &mchid, "/mchid", Location::Body)?;
    state.pay.pay.close(&mchid, &out_trade_no).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v3/pay/partner/transactions/out-trade-no/{out_trade_no}/close` → 204.
pub(crate) async fn partner_close(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path(out_trade_no): Path<String>,
) -> Result<Response, V3Error> {
    let body: CloseBody = parse_body(&caller.body)?;
    let sub_mchid = partner_sub(
        &state,
        &caller,
        body.sp_mchid.as_deref(),
        body.sub_mchid.as_deref(),
        Location::Body,
    )
    .await?;
    state.pay.pay.close(&sub_mchid, &out_trade_no).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
