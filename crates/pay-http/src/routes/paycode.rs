//! The payer's payment code (付款码): show a fresh one, see the counter payments waiting
//! for the password (confirmed through `/api/v1/pay/confirm` with their `prepay_id`),
//! and, for operators, the password-free limit.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use plaza_pay::time::rfc3339;
use serde::Deserialize;
use serde_json::{Value, json};

use super::pay::Payer;
use crate::PayState;
use crate::error::ApiError;
use crate::extract::{Admin, Json};

pub(crate) fn router() -> Router<PayState> {
    Router::new()
        .route("/api/v1/me/payment-code", post(payment_code))
        .route("/api/v1/me/awaiting", get(awaiting))
        .route(
            "/api/v1/admin/users/{user_id}/password-free-limit",
            post(set_limit),
        )
}

async fn payment_code(
    State(state): State<PayState>,
    Payer(user): Payer,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    let code = surface.pay.issue_payment_code(&user.user_id).await?;
    let valid_ms = code.expires_at.unix_ms() - code.created_at.unix_ms();
    Ok(AxumJson(json!({
        "code": code.code,
        "expires_at": rfc3339(code.expires_at),
        "valid_for_s": valid_ms / 1_000,
        "password_free_limit": user.password_free_limit_minor,
    })))
}

async fn awaiting(
    State(state): State<PayState>,
    Payer(user): Payer,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    let mut orders = Vec::new();
    for order in surface.pay.awaiting_confirmation(&user.user_id).await? {
        let merchant = surface.pay.merchant(&order.mchid).await?;
        orders.push(json!({
            "prepay_id": order.prepay_id,
            "merchant": merchant.map(|merchant| merchant.name),
            "mchid": order.mchid,
            "out_trade_no": order.out_trade_no,
            "description": order.description,
            "amount": order.total_minor,
            "created_at": rfc3339(order.created_at),
            "expires_at": rfc3339(order.time_expire),
        }));
    }
    Ok(AxumJson(json!({ "orders": orders })))
}

#[derive(Debug, Deserialize)]
struct LimitBody {
    password_free_limit: i64,
}

async fn set_limit(
    State(state): State<PayState>,
    _admin: Admin,
    Path(user_id): Path<String>,
    Json(body): Json<LimitBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let user = state
        .pay
        .pay
        .set_password_free_limit(&user_id, body.password_free_limit)
        .await?;
    Ok(AxumJson(json!({
        "user_id": user.user_id,
        "password_free_limit": user.password_free_limit_minor,
    })))
}
