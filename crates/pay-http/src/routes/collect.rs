//! Collection codes (收款码): a user opens one and watches payments arrive (server-sent
//! events) with a daily summary; a payer pays through someone's code with the password.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use futures_util::stream::{self, Stream};
use plaza_pay::model::{Merchant, Order, User};
use plaza_pay::time::{Day, rfc3339};
use plaza_pay::{CollectPayment, PayError};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::pay::Payer;
use crate::PayState;
use crate::error::{ApiError, code};
use crate::extract::Json;
use crate::pay_v3::PaySurface;

pub(crate) fn router() -> Router<PayState> {
    Router::new()
        .route("/api/v1/me/collection-code", post(open_code).get(my_code))
        .route("/api/v1/me/collection-code/summary", get(summary))
        .route("/api/v1/me/collection-code/events", get(events))
        .route("/api/v1/collect/{token}", get(code_info))
        .route("/api/v1/pay/collect", post(collect))
}

/// Where a payer pays a code: the page the static QR code points at.
pub(crate) fn pay_url(surface: &PaySurface, token: &str) -> String {
    format!("{}/app/pay/collect/{token}", surface.public_base_url)
}

/// A payer's name as the collecting user sees it: the first character, then stars.
pub(crate) fn masked(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map_or_else(String::new, |first| format!("{first}**"))
}

fn code_json(surface: &PaySurface, merchant: &Merchant) -> Value {
    let token = merchant.collection_token.clone().unwrap_or_default();
    json!({
        "mchid": merchant.mchid,
        "name": merchant.name,
        "token": token,
        "pay_url": pay_url(surface, &token),
        "fee_rate_bps": merchant.fee_rate_bps,
        "created_at": rfc3339(merchant.created_at),
    })
}

/// Who paid an order, as the collecting user sees them (masked).
pub(crate) async fn payer_masked(surface: &PaySurface, order: &Order) -> Option<String> {
    let user_id = order.payer_user_id.as_ref()?;
    surface
        .pay
        .user(user_id)
        .await
        .ok()
        .flatten()
        .map(|user| masked(&user.name))
}

/// One received payment, as the collecting user sees it.
pub(crate) async fn payment_json(surface: &PaySurface, order: &Order) -> Value {
    let payer = payer_masked(surface, order).await;
    json!({
        "out_trade_no": order.out_trade_no,
        "transaction_id": order.transaction_id,
        "amount": order.total_minor,
        "fee": order.fee_minor,
        "note": order.description,
        "payer": payer,
        "paid_at": order.success_time.map(rfc3339),
    })
}

#[derive(Debug, Deserialize)]
struct OpenBody {
    name: Option<String>,
}

async fn open_code(
    State(state): State<PayState>,
    Payer(user): Payer,
    Json(body): Json<OpenBody>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let surface = &state.pay;
    let existed = surface.pay.collection_code_of(&user.user_id).await?;
    let name = body.name.unwrap_or_else(|| user.name.clone());
    let merchant = surface
        .pay
        .open_collection_code(&user.user_id, &name)
        .await?;
    let status = if existed.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, AxumJson(code_json(surface, &merchant))))
}

async fn own_code(surface: &PaySurface, user: &User) -> Result<Merchant, ApiError> {
    surface
        .pay
        .collection_code_of(&user.user_id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                code::COLLECTION_CODE_NOT_OPEN,
                "open a collection code first: POST /api/v1/me/collection-code",
            )
        })
}

async fn summary_json(
    surface: &PaySurface,
    merchant: &Merchant,
    day: Day,
) -> Result<Value, ApiError> {
    let (summary, orders) = surface.pay.collection_summary(&merchant.mchid, day).await?;
    let mut payments = Vec::new();
    for order in orders.iter().rev() {
        payments.push(payment_json(surface, order).await);
    }
    Ok(json!({
        "day": summary.day.iso(),
        "payments": summary.payments,
        "total": summary.total_minor,
        "fee": summary.fee_minor,
        "net": summary.total_minor - summary.fee_minor,
        "received": payments,
    }))
}

async fn my_code(
    State(state): State<PayState>,
    Payer(user): Payer,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    let merchant = own_code(surface, &user).await?;
    let mut view = code_json(surface, &merchant);
    view["today"] = summary_json(surface, &merchant, Day::of(surface.pay.now())).await?;
    Ok(AxumJson(view))
}

#[derive(Debug, Deserialize)]
struct DayQuery {
    day: Option<String>,
}

async fn summary(
    State(state): State<PayState>,
    Payer(user): Payer,
    Query(query): Query<DayQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    let merchant = own_code(surface, &user).await?;
    let day = match &query.day {
        Some(text) => Day::parse(text).map_err(|issue| ApiError::invalid_field("day", issue))?,
        None => Day::of(surface.pay.now()),
    };
    Ok(AxumJson(summary_json(surface, &merchant, day).await?))
}

/// How often an idle event stream says it is alive.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

async fn events(
    State(state): State<PayState>,
    Payer(user): Payer,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let surface = state.pay.clone();
    let merchant = own_code(&surface, &user).await?;
    let receiver = surface.pay.subscribe_payments();
    let feed = stream::unfold(
        (receiver, surface, merchant.mchid),
        |(mut receiver, surface, mchid)| async move {
            loop {
                match receiver.recv().await {
                    Ok(order) if order.mchid == mchid => {
                        let data = payment_json(&surface, &order).await.to_string();
                        let event = Event::default().event("payment").data(data);
                        return Some((Ok(event), (receiver, surface, mchid)));
                    }
                    Ok(_) => {}
                    // Fell behind: tell the page to read the list again.
                    Err(RecvError::Lagged(_)) => {
                        let event = Event::default().event("reload").data("{}");
                        return Some((Ok(event), (receiver, surface, mchid)));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        },
    );
    Ok(Sse::new(feed).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

async fn code_info(
    State(state): State<PayState>,
    Path(token): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    let merchant = surface
        .pay
        .collection_code(&token)
        .await
        .map_err(|error| match error {
            PayError::MerchantNotFound { .. } => ApiError::new(
                code::COLLECTION_CODE_NOT_FOUND,
                "no collection code with this token",
            ),
            other => other.into(),
        })?;
    Ok(AxumJson(
        json!({ "name": merchant.name, "mchid": merchant.mchid }),
    ))
}

#[derive(Debug, Deserialize)]
struct CollectBody {
    token: String,
    amount: i64,
    note: Option<String>,
    password: String,
    client_ref: String,
}

async fn collect(
    State(state): State<PayState>,
    Payer(user): Payer,
    Json(body): Json<CollectBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let surface: &Arc<PaySurface> = &state.pay;
    let order = surface
        .pay
        .collect(
            &user.user_id,
            CollectPayment {
                token: body.token,
                amount_minor: body.amount,
                note: body.note,
                client_ref: body.client_ref,
            },
            &body.password,
        )
        .await
        .map_err(|error| match error {
            PayError::MerchantNotFound { .. } => ApiError::new(
                code::COLLECTION_CODE_NOT_FOUND,
                "no collection code with this token",
            ),
            other => other.into(),
        })?;
    let merchant = surface.pay.merchant(&order.mchid).await?;
    Ok(AxumJson(json!({
        "merchant_name": merchant.map(|merchant| merchant.name),
        "out_trade_no": order.out_trade_no,
        "transaction_id": order.transaction_id,
        "amount": order.total_minor,
        "note": order.description,
        "trade_state": order.state.wire(),
        "balance": surface.pay.wallet_balance(&user.user_id).await?,
    })))
}
