//! Coupon stocks for operators (admin token).

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json as AxumJson, Router};
use plaza_pay::time::rfc3339;
use serde_json::{Value, json};

use super::pay::{ListQuery, pay};
use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Admin, Query, page_limit};

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/api/v1/admin/merchants/{mchid}/stocks", get(stocks))
}

async fn stocks(
    State(state): State<AppState>,
    _admin: Admin,
    Path(mchid): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let stocks = pay(&state)?
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
                "coupon_amount": stock.coupon_amount,
                "transaction_minimum": stock.transaction_minimum,
                "max_amount": stock.max_amount,
                "distributed_amount": stock.distributed_amount,
                "no_cash": stock.no_cash,
                "available_begin_time": rfc3339(stock.available_begin),
                "available_end_time": rfc3339(stock.available_end),
                "created_at": rfc3339(stock.created_at),
            })
        })
        .collect();
    Ok(AxumJson(json!({ "stocks": stocks })))
}
