//! Coupon stocks for operators (admin token), and a payer's own coupons: the list, and
//! claiming one from a merchant's running stock.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json as AxumJson, Router};
use plaza_pay::time::rfc3339;
use serde_json::{Value, json};

use super::pay::ListQuery;
use crate::PayState;
use crate::error::ApiError;
use crate::extract::{Admin, Query, page_limit};

pub(crate) fn router() -> Router<PayState> {
    Router::new()
        .route("/api/v1/admin/merchants/{mchid}/stocks", get(stocks))
        .route("/api/v1/admin/reports/coupons", get(report))
        .route("/api/v1/me/coupons", get(my_coupons))
        .route("/api/v1/me/coupons/claim", axum::routing::post(claim))
}

async fn stocks(
    State(state): State<PayState>,
    _admin: Admin,
    Path(mchid): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let stocks = state
        .pay
        .pay
        .stocks_of(&mchid, page_limit(query.limit)?)
        .await?;
    let stocks: Vec<Value> = stocks
        .iter()
        .map(|stock| {
            json!({
                "stock_id": stock.stock_id,
                "name": stock.name,
                "status": stock.status.wire(),
                "max_coupons": stock.max_coupons,
                "distributed_coupons": stock.distributed_coupons,
                "coupon_amount": stock.coupon_amount_minor,
                "transaction_minimum": stock.transaction_minimum_minor,
                "max_amount": stock.max_amount_minor,
                "distributed_amount": stock.distributed_amount_minor,
                "no_cash": stock.no_cash,
                "available_begin_time": rfc3339(stock.available_begin),
                "available_end_time": rfc3339(stock.available_end),
                "created_at": rfc3339(stock.created_at),
            })
        })
        .collect();
    Ok(AxumJson(json!({ "stocks": stocks })))
}

/// A coupon as its holder sees it.
pub(crate) async fn my_coupon_json(
    surface: &crate::pay_v3::PaySurface,
    coupon: &plaza_pay::coupons::Coupon,
) -> Value {
    let creator = surface
        .pay
        .merchant(&coupon.creator_mchid)
        .await
        .ok()
        .flatten()
        .map(|merchant| merchant.name);
    json!({
        "coupon_id": coupon.coupon_id,
        "stock_id": coupon.stock_id,
        "name": coupon.name,
        "merchant": creator,
        "usable_at": surface.coupon_usable_at(&coupon.stock_id).await,
        "amount": coupon.amount_minor,
        "transaction_minimum": coupon.transaction_minimum_minor,
        "status": coupon.status.wire(),
        "available_begin_time": rfc3339(coupon.available_begin),
        "available_end_time": rfc3339(coupon.available_end),
    })
}

/// Coupons listed for their holder at most.
const MY_COUPONS_MAX: usize = 200;

async fn my_coupons(
    State(state): State<PayState>,
    super::pay::Payer(user): super::pay::Payer,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    let mut coupons = Vec::new();
    for coupon in surface
        .pay
        .coupons_of(&user.user_id, MY_COUPONS_MAX)
        .await?
    {
        coupons.push(my_coupon_json(surface, &coupon).await);
    }
    Ok(AxumJson(json!({ "coupons": coupons })))
}

#[derive(Debug, serde::Deserialize)]
struct ClaimBody {
    stock_id: String,
    client_ref: String,
}

async fn claim(
    State(state): State<PayState>,
    super::pay::Payer(user): super::pay::Payer,
    crate::extract::Json(body): crate::extract::Json<ClaimBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    let coupon = surface
        .pay
        .claim_coupon(&user.user_id, &body.stock_id, &body.client_ref)
        .await?;
    Ok(AxumJson(my_coupon_json(surface, &coupon).await))
}

/// The numbers of a stock or of a funder's stocks, as `/api/v1` shows them: gross (as
/// paid: `redeemed`, `subsidy`, `driven_spending`), what refunds undid, and net.
pub(crate) fn numbers_json(numbers: &plaza_pay::coupons::CouponNumbers) -> Value {
    json!({
        "issued": numbers.issued,
        "redeemed": numbers.redeemed,
        "refunded": numbers.refunded,
        "net_redeemed": numbers.net_redeemed(),
        "redemption_rate_bps": numbers.redemption_bps(),
        "redemption_rate": super::report::percent(i64::try_from(numbers.redemption_bps()).unwrap_or(i64::MAX)),
        "subsidy": numbers.subsidy_minor,
        "subsidy_refunded": numbers.subsidy_refunded_minor,
        "net_subsidy": numbers.net_subsidy_minor(),
        "driven_spending": numbers.driven_minor,
        "driven_spending_refunded": numbers.driven_refunded_minor,
        "net_driven_spending": numbers.net_driven_minor(),
    })
}

#[derive(Debug, serde::Deserialize)]
struct ReportQuery {
    mchid: Option<String>,
    limit: Option<usize>,
}

/// Stocks a coupon report covers at most.
const REPORT_STOCKS_MAX: usize = 500;

async fn report(
    State(state): State<PayState>,
    _admin: Admin,
    Query(query): Query<ReportQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let limit = query
        .limit
        .unwrap_or(REPORT_STOCKS_MAX)
        .clamp(1, REPORT_STOCKS_MAX);
    let (total, rows) = state
        .pay
        .pay
        .coupon_report(query.mchid.as_deref(), limit)
        .await?;
    let stocks: Vec<Value> = rows
        .iter()
        .map(|(stock, numbers)| {
            let mut row = numbers_json(numbers);
            row["stock_id"] = json!(stock.stock_id);
            row["name"] = json!(stock.name);
            row["funder"] = json!(stock.creator_mchid);
            row["status"] = json!(stock.status.wire());
            row
        })
        .collect();
    Ok(AxumJson(json!({
        "funder": query.mchid,
        "total": numbers_json(&total),
        "stocks": stocks,
    })))
}
