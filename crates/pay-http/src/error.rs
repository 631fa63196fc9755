//! Pay's `/api/v1` errors: its codes, and the shared envelope under a local name, so
//! the payment domain's errors convert into it with `?`.

use axum::response::{IntoResponse, Response};
use plaza_kernel::clock::ClockError;
use plaza_kernel::queue::QueueError;
use plaza_ledger::LedgerError;
use plaza_pay::PayError;

/// Every code Pay's handlers answer with: the shared ones and Pay's own.
pub mod code {
    pub use plaza_http::code::*;

    plaza_http::error_codes! {
        /// Pay's own codes.
        PAY_ERROR_CODES {
        MERCHANT_NOT_FOUND = ("merchant_not_found", InvalidRequest, 404);
        APP_NOT_FOUND = ("app_not_found", InvalidRequest, 404);
        ORDER_NOT_FOUND = ("order_not_found", InvalidRequest, 404);
        REFUND_NOT_FOUND = ("refund_not_found", InvalidRequest, 404);
        APPID_MCHID_NOT_MATCH = ("appid_mchid_not_match", InvalidRequest, 400);
        OUT_TRADE_NO_USED = ("out_trade_no_used", InvalidRequest, 409);
        ORDER_NOT_PAYABLE = ("order_not_payable", InvalidRequest, 409);
        WRONG_PASSWORD = ("wrong_password", Auth, 403);
        PASSWORD_LOCKED = ("password_locked", Auth, 423);
        NOT_THE_PAYER = ("not_the_payer", Auth, 403);
        PAYMENT_FAILED = ("payment_failed", InvalidRequest, 402);
        NOTIFICATION_NOT_FOUND = ("notification_not_found", InvalidRequest, 404);
        NOTIFICATION_NOT_PENDING = ("notification_not_pending", InvalidRequest, 409);
        NO_AUTH = ("no_auth", Auth, 403);
        STOCK_NOT_FOUND = ("stock_not_found", InvalidRequest, 404);
        STOCK_NOT_ACTIVE = ("stock_not_active", InvalidRequest, 409);
        STOCK_EXHAUSTED = ("stock_exhausted", InvalidRequest, 409);
        COUPON_LIMIT_REACHED = ("coupon_limit_reached", InvalidRequest, 409);
        COLLECTION_CODE_NOT_OPEN = ("collection_code_not_open", InvalidRequest, 404);
        COLLECTION_CODE_NOT_FOUND = ("collection_code_not_found", InvalidRequest, 404);
        PAYMENT_CODE_INVALID = ("payment_code_invalid", InvalidRequest, 400);
        }
    }
}

pub use code::PAY_ERROR_CODES;

/// An error answer of Pay's `/api/v1` resources: the shared envelope
/// ([`plaza_http::ApiError`]), under a type of this crate so that [`PayError`] converts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(plaza_http::ApiError);

impl ApiError {
    /// An error with `code` and a message for the developer.
    pub fn new(code: plaza_http::ErrorCode, message: impl Into<String>) -> Self {
        Self(plaza_http::ApiError::new(code, message))
    }

    /// The code's name.
    pub fn code(&self) -> &'static str {
        self.0.code()
    }

    /// The message, for a page to show.
    pub(crate) fn message_text(&self) -> String {
        self.0.message_text()
    }

    /// The shared envelope.
    pub(crate) fn shared(&self) -> &plaza_http::ApiError {
        &self.0
    }

    /// `invalid_field`, naming the field and what is wrong with it.
    pub(crate) fn invalid_field(field: &str, problem: impl std::fmt::Display) -> Self {
        Self(plaza_http::ApiError::invalid_field(field, problem))
    }

    /// `store_unavailable`; the reason goes to the log only.
    pub(crate) fn unavailable(reason: &str) -> Self {
        Self(plaza_http::ApiError::unavailable(reason))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

impl From<plaza_http::ApiError> for ApiError {
    fn from(error: plaza_http::ApiError) -> Self {
        Self(error)
    }
}

impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> Self {
        Self(error.into())
    }
}

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        Self(error.into())
    }
}

impl From<ClockError> for ApiError {
    fn from(error: ClockError) -> Self {
        Self(error.into())
    }
}

impl From<PayError> for ApiError {
    fn from(error: PayError) -> Self {
        let message = error.to_string();
        let code = match error {
            PayError::Invalid { .. } => code::INVALID_FIELD,
            PayError::MerchantNotFound { .. } => code::MERCHANT_NOT_FOUND,
            PayError::AppNotFound { .. } => code::APP_NOT_FOUND,
            PayError::AppidMchidNotMatch { .. } => code::APPID_MCHID_NOT_MATCH,
            PayError::OutTradeNoUsed { .. } => code::OUT_TRADE_NO_USED,
            PayError::OrderPaid { .. }
            | PayError::OrderClosed { .. }
            | PayError::NotPayable { .. } => code::ORDER_NOT_PAYABLE,
            PayError::OrderNotFound | PayError::RefundOrderNotFound => code::ORDER_NOT_FOUND,
            PayError::RefundNotFound => code::REFUND_NOT_FOUND,
            PayError::InvalidRequest { .. } => code::BUSINESS_RULE,
            PayError::MerchantBalanceNotEnough | PayError::WalletBalanceNotEnough { .. } => {
                code::INSUFFICIENT_FUNDS
            }
            PayError::WrongPassword { .. } => code::WRONG_PASSWORD,
            PayError::PasswordLocked { .. } => code::PASSWORD_LOCKED,
            PayError::NotThePayer => code::NOT_THE_PAYER,
            PayError::PaymentFailed { .. } => code::PAYMENT_FAILED,
            PayError::NoAuth { .. } => code::NO_AUTH,
            PayError::OrderReversed { .. } => code::ORDER_NOT_PAYABLE,
            PayError::AuthCodeMalformed { .. } => code::INVALID_FIELD,
            PayError::AuthCodeInvalid | PayError::AuthCodeExpired => code::PAYMENT_CODE_INVALID,
            PayError::StockNotFound { .. } => code::STOCK_NOT_FOUND,
            PayError::StockNotActive { .. } => code::STOCK_NOT_ACTIVE,
            PayError::StockExhausted { .. } => code::STOCK_EXHAUSTED,
            PayError::CouponLimitPerUser { .. } => code::COUPON_LIMIT_REACHED,
            PayError::UserNotFound { .. } => code::USER_NOT_FOUND,
            PayError::SessionUnknown => code::UNAUTHORIZED,
            PayError::Busy { .. } => code::BUSY,
            PayError::AmountOverflow { .. } => code::AMOUNT_OVERFLOW,
            PayError::BalanceOverflow { .. } => code::BALANCE_OVERFLOW,
            PayError::Unavailable { reason } => return ApiError::unavailable(&reason),
        };
        ApiError::new(code, message)
    }
}
