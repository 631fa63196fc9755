//! The APIv3 error body, `{"code", "message", "detail"}`, with WeChat's codes and HTTP
//! statuses (`shared/specs/wechatpay-v3.md` §1.8).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use plaza_pay::PayError;
use serde::Serialize;

/// Where a bad value was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    /// The JSON body.
    Body,
    /// The query string.
    Query,
    /// The path.
    Path,
    /// A header.
    Header,
}

/// `detail` of an error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Detail {
    /// JSON pointer to the field, e.g. `/amount/total`.
    pub field: String,
    /// The refused value, when short and safe to echo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// What is wrong.
    pub issue: String,
    /// Where the field was.
    pub location: Location,
}

/// An APIv3 error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Error {
    /// HTTP status.
    pub status: StatusCode,
    /// WeChat's code, e.g. `PARAM_ERROR`.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Which field, for parameter errors.
    pub detail: Option<Box<Detail>>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a Detail>,
}

impl V3Error {
    /// An error without detail.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            detail: None,
        }
    }

    /// `400 PARAM_ERROR` naming the field.
    pub fn param(field: &str, issue: impl Into<String>, location: Location) -> Self {
        let issue = issue.into();
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "PARAM_ERROR",
            message: format!("参数错误: {field} {issue}"),
            detail: Some(Box::new(Detail {
                field: field.to_owned(),
                value: None,
                issue,
                location,
            })),
        }
    }

    /// `401 SIGN_ERROR`.
    pub fn sign(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "SIGN_ERROR", message)
    }

    /// `404 NOT_FOUND` for paths Plaza does not serve.
    pub fn not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            format!("Plaza does not serve {path}"),
        )
    }

    /// `500 SYSTEM_ERROR`; the reason goes to the log only.
    pub fn system(reason: &str) -> Self {
        tracing::error!(%reason, "pay v3 system error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM_ERROR",
            "系统错误，请使用相同参数稍后重新调用",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::to_string(&Body {
            code: self.code,
            message: &self.message,
            detail: self.detail.as_deref(),
        })
        .unwrap_or_else(|_| format!("{{\"code\":\"{}\",\"message\":\"\"}}", self.code))
    }
}

impl IntoResponse for V3Error {
    fn into_response(self) -> Response {
        let body = self.body();
        (
            self.status,
            [(axum::http::header::CONTENT_TYPE, super::JSON_CONTENT_TYPE)],
            body,
        )
            .into_response()
    }
}

impl From<PayError> for V3Error {
    fn from(error: PayError) -> Self {
        let message = error.to_string();
        let status = |code: u16| StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
        match error {
            PayError::Invalid { field, issue } => {
                let location = if field.starts_with('/') {
                    Location::Body
                } else {
                    Location::Query
                };
                Self::param(&field, issue, location)
            }
            PayError::MerchantNotFound { .. } => Self::new(status(400), "MCH_NOT_EXISTS", message),
            PayError::AppNotFound { .. } | PayError::AppidMchidNotMatch { .. } => {
                Self::new(status(400), "APPID_MCHID_NOT_MATCH", message)
            }
            PayError::OutTradeNoUsed { .. } => Self::new(status(403), "OUT_TRADE_NO_USED", message),
            PayError::OrderPaid { .. } => Self::new(status(400), "ORDERPAID", message),
            PayError::OrderReversed { .. } => Self::new(status(400), "ORDER_REVERSED", message),
            PayError::AuthCodeMalformed { issue } => {
                Self::param("/payer/auth_code", issue, Location::Body)
            }
            PayError::AuthCodeInvalid => Self::new(status(400), "AUTH_CODE_INVALID", message),
            PayError::AuthCodeExpired => Self::new(status(400), "AUTHCODEEXPIRE", message),
            PayError::OrderClosed { .. } => Self::new(status(400), "ORDER_CLOSED", message),
            PayError::OrderNotFound => Self::new(status(404), "ORDER_NOT_EXIST", "订单不存在"),
            PayError::RefundNotFound => {
                Self::new(status(404), "RESOURCE_NOT_EXISTS", "退款单不存在")
            }
            PayError::RefundOrderNotFound => {
                Self::new(status(404), "RESOURCE_NOT_EXISTS", "订单不存在或未支付")
            }
            PayError::InvalidRequest { .. }
            | PayError::NotPayable { .. }
            | PayError::NotThePayer
            | PayError::WrongPassword { .. }
            | PayError::PasswordLocked { .. }
            | PayError::SessionUnknown => Self::new(status(400), "INVALID_REQUEST", message),
            PayError::UserNotFound { .. } => Self::new(status(404), "USER_NOT_EXISTS", message),
            PayError::StockNotFound { .. } => {
                Self::new(status(404), "RESOURCE_NOT_EXISTS", message)
            }
            PayError::StockNotActive { .. } => {
                Self::new(status(400), "STOCK_IS_NOT_ACTIVE", message)
            }
            PayError::StockExhausted { .. } => Self::new(status(403), "NOT_ENOUGH", message),
            PayError::CouponLimitPerUser { .. } => {
                Self::new(status(403), "USER_AL_GET_COUPON", message)
            }
            PayError::MerchantBalanceNotEnough | PayError::WalletBalanceNotEnough { .. } => {
                Self::new(status(403), "NOT_ENOUGH", message)
            }
            PayError::NoAuth { .. } => Self::new(status(403), "NO_AUTH", message),
            PayError::PaymentFailed { .. } => Self::new(status(403), "TRADE_ERROR", message),
            PayError::Busy { .. } => Self::new(
                status(429),
                "FREQUENCY_LIMITED",
                "频率超限: too many concurrent changes to one order; retry",
            ),
            // Amounts are bounded at the door, so only a balance grown huge (or data from
            // before the bound) gets here: a refusal of this request, not a failure.
            PayError::AmountOverflow { .. } | PayError::BalanceOverflow { .. } => {
                Self::new(status(400), "INVALID_REQUEST", message)
            }
            PayError::Unavailable { reason } => Self::system(&reason),
        }
    }
}
