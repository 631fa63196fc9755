//! Cash coupons (`/v3/marketing/favor/...`): stocks — create, start, pause, restart,
//! stop, query, list, merchants, items — and coupons issued to users.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use plaza_pay::PayError;
use plaza_pay::coupons::{Coupon, IssueRequest, NewStock, Stock, StockAction};
use plaza_pay::time::{parse_rfc3339, rfc3339};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, Location, V3Error, bad_query, json_response, parse_body};
use crate::PayState;

type QueryResult<T> = Result<Query<T>, axum::extract::rejection::QueryRejection>;

#[derive(Debug, Deserialize)]
struct FixedNormalCoupon {
    coupon_amount: i64,
    transaction_minimum: i64,
}

#[derive(Debug, Deserialize)]
struct CouponUseRule {
    fixed_normal_coupon: FixedNormalCoupon,
    #[serde(default)]
    goods_tag: Vec<String>,
    #[serde(default)]
    combine_use: Option<bool>,
    #[serde(default)]
    available_items: Vec<String>,
    #[serde(default)]
    available_merchants: Vec<String>,
    #[serde(default)]
    trade_type: Vec<String>,
    #[serde(default)]
    coupon_available_time: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct StockUseRule {
    max_coupons: u64,
    max_amount: i64,
    #[serde(default)]
    max_amount_by_day: Option<i64>,
    max_coupons_per_user: u64,
    #[serde(default)]
    natural_person_limit: Option<bool>,
    #[serde(default)]
    prevent_api_abuse: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct CreateStockBody {
    stock_name: String,
    #[serde(default)]
    comment: Option<String>,
    belong_merchant: String,
    available_begin_time: String,
    available_end_time: String,
    stock_use_rule: StockUseRule,
    coupon_use_rule: CouponUseRule,
    #[serde(default)]
    no_cash: Option<bool>,
    stock_type: String,
    out_request_no: String,
    #[serde(default)]
    pattern_info: Option<Value>,
    #[serde(default)]
    ext_info: Option<String>,
}

fn time_field(text: &str, field: &str) -> Result<plaza_kernel::clock::Timestamp, V3Error> {
    parse_rfc3339(text).map_err(|issue| V3Error::param(field, issue, Location::Body))
}

fn stock_json(stock: &Stock) -> Value {
    json!({
        "stock_id": stock.stock_id,
        "stock_creator_mchid": stock.creator_mchid,
        "stock_name": stock.name,
        "status": stock.status.wire(),
        "create_time": rfc3339(stock.created_at),
        "description": stock.comment.clone().unwrap_or_default(),
        "stock_use_rule": {
            "max_coupons": stock.max_coupons,
            "max_amount": stock.max_amount_minor,
            "max_amount_by_day": stock.max_amount_by_day_minor,
            "fixed_normal_coupon": {
                "coupon_amount": stock.coupon_amount_minor,
                "transaction_minimum": stock.transaction_minimum_minor,
            },
            "max_coupons_per_user": stock.max_coupons_per_user,
            "coupon_type": "NORMAL",
            "goods_tag": stock.goods_tags,
            "combine_use": stock.combine_use,
        },
        "available_begin_time": rfc3339(stock.available_begin),
        "available_end_time": rfc3339(stock.available_end),
        "distributed_coupons": stock.distributed_coupons,
        "no_cash": stock.no_cash,
        "start_time": stock.started_at.map(rfc3339),
        "stop_time": stock.stopped_at.map(rfc3339),
        "singleitem": false,
        "stock_type": "NORMAL",
    })
}

/// The Coupon object.
pub(crate) fn coupon_json(coupon: &Coupon) -> Value {
    json!({
        "stock_creator_mchid": coupon.creator_mchid,
        "stock_id": coupon.stock_id,
        "coupon_id": coupon.coupon_id,
        "coupon_name": coupon.name,
        "status": coupon.status.wire(),
        "description": coupon.name,
        "create_time": rfc3339(coupon.created_at),
        "coupon_type": "NORMAL",
        "no_cash": coupon.no_cash,
        "available_begin_time": rfc3339(coupon.available_begin),
        "available_end_time": rfc3339(coupon.available_end),
        "singleitem": false,
        "normal_coupon_information": {
            "coupon_amount": coupon.amount_minor,
            "transaction_minimum": coupon.transaction_minimum_minor,
        },
    })
}

/// `POST /v3/marketing/favor/coupon-stocks` → `{stock_id, create_time}`.
pub(crate) async fn create_stock(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, V3Error> {
    let body: CreateStockBody = parse_body(&caller.body)?;
    if body.stock_type != "NORMAL" {
        return Err(V3Error::param(
            "/stock_type",
            "only NORMAL (cash coupons of a fixed amount) is served",
            Location::Body,
        ));
    }
    let rule = body.coupon_use_rule;
    let _ = (
        &rule.trade_type,
        &rule.coupon_available_time,
        &body.pattern_info,
        &body.ext_info,
        &body.stock_use_rule.natural_person_limit,
        &body.stock_use_rule.prevent_api_abuse,
    );
    let stock = state
        .pay
        .pay
        .create_stock(NewStock {
            creator_mchid: caller.merchant.mchid.clone(),
            name: body.stock_name,
            comment: body.comment,
            belong_merchant: body.belong_merchant,
            available_begin: time_field(&body.available_begin_time, "/available_begin_time")?,
            available_end: time_field(&body.available_end_time, "/available_end_time")?,
            max_coupons: body.stock_use_rule.max_coupons,
            max_amount_minor: body.stock_use_rule.max_amount,
            max_amount_by_day_minor: body.stock_use_rule.max_amount_by_day,
            max_coupons_per_user: body.stock_use_rule.max_coupons_per_user,
            coupon_amount_minor: rule.fixed_normal_coupon.coupon_amount,
            transaction_minimum_minor: rule.fixed_normal_coupon.transaction_minimum,
            goods_tags: rule.goods_tag,
            available_merchants: rule.available_merchants,
            available_items: rule.available_items,
            combine_use: rule.combine_use.unwrap_or(false),
            // The Python SDK leaves `no_cash` out when false.
            no_cash: body.no_cash.unwrap_or(false),
            out_request_no: body.out_request_no,
        })
        .await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "stock_id": stock.stock_id, "create_time": rfc3339(stock.created_at) }).to_string(),
    ))
}

#[derive(Debug, Deserialize)]
struct CreatorBody {
    stock_creator_mchid: String,
}

fn check_creator(caller: &Caller, mchid: &str, location: Location) -> Result<(), V3Error> {
    if mchid == caller.merchant.mchid {
        Ok(())
    } else {
        let field = if location == Location::Body {
            "/stock_creator_mchid"
        } else {
            "stock_creator_mchid"
        };
        Err(V3Error::param(
            field,
            format!(
                "{mchid} is not the merchant that signed the request ({})",
                caller.merchant.mchid
            ),
            location,
        ))
    }
}

async fn change(
    state: &PayState,
    caller: &Caller,
    stock_id: &str,
    action: StockAction,
) -> Result<Response, V3Error> {
    let body: CreatorBody = parse_body(&caller.body)?;
    check_creator(caller, &body.stock_creator_mchid, Location::Body)?;
    let stock = state
        .pay
        .pay
        .change_stock(&caller.merchant.mchid, stock_id, action)
        .await?;
    let now = rfc3339(state.pay.pay.now());
    let field = match action {
        StockAction::Start => "start_time",
        StockAction::Pause => "pause_time",
        StockAction::Restart => "restart_time",
        StockAction::Stop => "stop_time",
    };
    let mut answer = json!({ "stock_id": stock.stock_id });
    answer[field] = json!(now);
    Ok(json_response(StatusCode::OK, answer.to_string()))
}

macro_rules! stock_change {
    ($(#[$doc:meta])* $name:ident, $action:expr) => {
        $(#[$doc])*
        pub(crate) async fn $name(
            State(state): State<PayState>,
            Extension(caller): Extension<Caller>,
            Path(stock_id): Path<String>,
        ) -> Result<Response, V3Error> {
            change(&state, &caller, &stock_id, $action).await
        }
    };
}

stock_change!(
    /// `POST /v3/marketing/favor/stocks/{stock_id}/start`.
    start, StockAction::Start
);
stock_change!(
    /// `POST /v3/marketing/favor/stocks/{stock_id}/pause`.
    pause, StockAction::Pause
);
stock_change!(
    /// `POST /v3/marketing/favor/stocks/{stock_id}/restart`.
    restart, StockAction::Restart
);
stock_change!(
    /// `POST /v3/marketing/favor/stocks/{stock_id}/stop`.
    stop, StockAction::Stop
);

#[derive(Debug, Deserialize)]
pub(crate) struct StockQuery {
    stock_creator_mchid: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
    status: Option<String>,
}

fn creator_of(caller: &Caller, query: &StockQuery) -> Result<(), V3Error> {
    let mchid = query
        .stock_creator_mchid
        .as_deref()
        .ok_or_else(|| V3Error::param("stock_creator_mchid", "is required", Location::Query))?;
    check_creator(caller, mchid, Location::Query)
}

/// `GET /v3/marketing/favor/stocks/{stock_id}?stock_creator_mchid=`.
pub(crate) async fn stock(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path(stock_id): Path<String>,
    query: QueryResult<StockQuery>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    creator_of(&caller, &query)?;
    let stock = state
        .pay
        .pay
        .stock(&caller.merchant.mchid, &stock_id)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        stock_json(&stock).to_string(),
    ))
}

/// Stocks kept for listing at most; the wire pages through them with offset and limit.
const STOCKS_LISTED_MAX: usize = 1_000;

/// `GET /v3/marketing/favor/stocks?offset&limit&stock_creator_mchid[&status]`.
pub(crate) async fn stocks(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    query: QueryResult<StockQuery>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    creator_of(&caller, &query)?;
    let limit = query.limit.unwrap_or(10);
    if !(1..=10).contains(&limit) {
        return Err(V3Error::param("limit", "must be 1–10", Location::Query));
    }
    let offset = query.offset.unwrap_or(0);
    let all: Vec<Stock> = state
        .pay
        .pay
        .stocks_of(&caller.merchant.mchid, STOCKS_LISTED_MAX)
        .await?
        .into_iter()
        .filter(|stock| {
            query
                .status
                .as_deref()
                .is_none_or(|status| status == stock.status.wire())
        })
        .collect();
    let data: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(stock_json)
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({ "total_count": all.len(), "limit": limit, "offset": offset, "data": data })
            .to_string(),
    ))
}

fn paged(stock: &Stock, list: &[String], query: &StockQuery, max: usize) -> Result<Value, V3Error> {
    let limit = query.limit.unwrap_or(max);
    if !(1..=max).contains(&limit) {
        return Err(V3Error::param(
            "limit",
            format!("must be 1–{max}"),
            Location::Query,
        ));
    }
    let offset = query.offset.unwrap_or(0);
    let data: Vec<&String> = list.iter().skip(offset).take(limit).collect();
    Ok(json!({
        "total_count": list.len(), "data": data, "offset": offset, "limit": limit,
        "stock_id": stock.stock_id,
    }))
}

/// `GET /v3/marketing/favor/stocks/{stock_id}/merchants`.
pub(crate) async fn merchants(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path(stock_id): Path<String>,
    query: QueryResult<StockQuery>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    creator_of(&caller, &query)?;
    let stock = state
        .pay
        .pay
        .stock(&caller.merchant.mchid, &stock_id)
        .await?;
    let answer = paged(&stock, &stock.available_merchants, &query, 50)?;
    Ok(json_response(StatusCode::OK, answer.to_string()))
}

/// `GET /v3/marketing/favor/stocks/{stock_id}/items`.
pub(crate) async fn items(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path(stock_id): Path<String>,
    query: QueryResult<StockQuery>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    creator_of(&caller, &query)?;
    let stock = state
        .pay
        .pay
        .stock(&caller.merchant.mchid, &stock_id)
        .await?;
    let answer = paged(&stock, &stock.available_items, &query, 50)?;
    Ok(json_response(StatusCode::OK, answer.to_string()))
}

#[derive(Debug, Deserialize)]
struct IssueBody {
    stock_id: String,
    out_request_no: String,
    appid: String,
    stock_creator_mchid: String,
    #[serde(default)]
    coupon_value: Option<i64>,
    #[serde(default)]
    coupon_minimum: Option<i64>,
}

/// `POST /v3/marketing/favor/users/{openid}/coupons` → `{coupon_id}`.
pub(crate) async fn issue(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path(openid): Path<String>,
) -> Result<Response, V3Error> {
    let body: IssueBody = parse_body(&caller.body)?;
    check_creator(&caller, &body.stock_creator_mchid, Location::Body)?;
    if !caller.merchant.appids.contains(&body.appid) {
        return Err(PayError::AppidMchidNotMatch {
            appid: body.appid,
            mchid: caller.merchant.mchid.clone(),
        }
        .into());
    }
    let _ = (&body.coupon_value, &body.coupon_minimum);
    let coupon = state
        .pay
        .pay
        .issue_coupon(IssueRequest {
            stock_id: body.stock_id,
            creator_mchid: caller.merchant.mchid.clone(),
            appid: body.appid,
            openid,
            out_request_no: body.out_request_no,
        })
        .await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "coupon_id": coupon.coupon_id }).to_string(),
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct UserCouponsQuery {
    appid: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
    stock_id: Option<String>,
    status: Option<String>,
    creator_mchid: Option<String>,
}

async fn user_of(state: &PayState, appid: Option<&str>, openid: &str) -> Result<String, V3Error> {
    let appid = appid.ok_or_else(|| V3Error::param("appid", "is required", Location::Query))?;
    state
        .pay
        .pay
        .user_of_openid(appid, openid)
        .await?
        .ok_or_else(|| {
            PayError::UserNotFound {
                user_id: format!("openid {openid} under {appid}"),
            }
            .into()
        })
}

/// Coupons kept for listing at most.
const COUPONS_LISTED_MAX: usize = 1_000;

/// `GET /v3/marketing/favor/users/{openid}/coupons?appid&offset&limit[&stock_id&status]`.
pub(crate) async fn user_coupons(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path(openid): Path<String>,
    query: QueryResult<UserCouponsQuery>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    let user_id = user_of(&state, query.appid.as_deref(), &openid).await?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(V3Error::param("limit", "must be 1–100", Location::Query));
    }
    let offset = query.offset.unwrap_or(0);
    let mine = &caller.merchant.mchid;
    let all: Vec<Coupon> = state
        .pay
        .pay
        .coupons_of(&user_id, COUPONS_LISTED_MAX)
        .await?
        .into_iter()
        .filter(|coupon| coupon.creator_mchid == *mine)
        .filter(|coupon| {
            query
                .stock_id
                .as_deref()
                .is_none_or(|id| id == coupon.stock_id)
        })
        .filter(|coupon| {
            query
                .status
                .as_deref()
                .is_none_or(|s| s == coupon.status.wire())
        })
        .filter(|coupon| {
            query
                .creator_mchid
                .as_deref()
                .is_none_or(|creator| creator == coupon.creator_mchid)
        })
        .collect();
    let data: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(coupon_json)
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({ "data": data, "total_count": all.len(), "offset": offset, "limit": limit })
            .to_string(),
    ))
}

/// `GET /v3/marketing/favor/users/{openid}/coupons/{coupon_id}?appid=`.
pub(crate) async fn user_coupon(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    Path((openid, coupon_id)): Path<(String, String)>,
    query: QueryResult<UserCouponsQuery>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    let user_id = user_of(&state, query.appid.as_deref(), &openid).await?;
    let coupon = state
        .pay
        .pay
        .coupon(&coupon_id)
        .await?
        .filter(|coupon| coupon.user_id == user_id && coupon.creator_mchid == caller.merchant.mchid)
        .ok_or_else(|| {
            V3Error::new(
                StatusCode::NOT_FOUND,
                "RESOURCE_NOT_EXISTS",
                "代金券不存在: no such coupon for this user",
            )
        })?;
    Ok(json_response(
        StatusCode::OK,
        coupon_json(&coupon).to_string(),
    ))
}

#[derive(Debug, Deserialize)]
struct CallbackBody {
    mchid: String,
    notify_url: String,
    #[serde(default, rename = "switch")]
    enabled: Option<bool>,
}

/// `POST /v3/marketing/favor/callbacks` → `{update_time, notify_url}`.
pub(crate) async fn set_callback(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, V3Error> {
    let body: CallbackBody = parse_body(&caller.body)?;
    if body.mchid != caller.merchant.mchid {
        return Err(V3Error::param(
            "/mchid",
            "is not the merchant that signed the request",
            Location::Body,
        ));
    }
    let callback = state
        .pay
        .pay
        .set_coupon_callback(&body.mchid, &body.notify_url, body.enabled.unwrap_or(true))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "update_time": rfc3339(callback.updated_at), "notify_url": callback.notify_url })
            .to_string(),
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct CallbackQuery {
    mchid: Option<String>,
}

/// `GET /v3/marketing/favor/callbacks?mchid=` → `{mchid, notify_url}`.
pub(crate) async fn callback(
    State(state): State<PayState>,
    Extension(caller): Extension<Caller>,
    query: QueryResult<CallbackQuery>,
) -> Result<Response, V3Error> {
    let Query(query) = query.map_err(|error| bad_query(&error))?;
    let mchid = query
        .mchid
        .ok_or_else(|| V3Error::param("mchid", "is required", Location::Query))?;
    if mchid != caller.merchant.mchid {
        return Err(V3Error::param(
            "mchid",
            "is not the merchant that signed the request",
            Location::Query,
        ));
    }
    let callback = state.pay.pay.coupon_callback(&mchid).await?;
    Ok(json_response(
        StatusCode::OK,
        json!({
            "mchid": mchid,
            "notify_url": callback.map(|callback| callback.notify_url).unwrap_or_default(),
        })
        .to_string(),
    ))
}
