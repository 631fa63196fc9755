//! The `/api/v1` error envelope and the table of its codes.
//!
//! Every error answer of Plaza's own API is
//! `{"code": "...", "message": "...", "type": "...", "link": "..."}` with the HTTP status
//! from [`ERROR_CODES`]. Codes are stable once released; `docs/errors.md` explains each.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use plaza_kernel::clock::ClockError;
use plaza_kernel::queue::QueueError;
use plaza_ledger::LedgerError;
use serde::Serialize;

/// Every code: `(code, type, HTTP status)`.
pub const ERROR_CODES: &[(&str, &str, u16)] = &[
    ("invalid_json", "invalid_request", 400),
    ("invalid_field", "invalid_request", 400),
    ("invalid_query", "invalid_request", 400),
    ("body_too_large", "invalid_request", 413),
    ("unauthorized", "auth", 401),
    ("not_found", "invalid_request", 404),
    ("method_not_allowed", "invalid_request", 405),
    ("sandbox_only", "invalid_request", 404),
    ("clock_not_forward", "invalid_request", 400),
    ("empty_batch", "invalid_request", 400),
    ("batch_too_large", "invalid_request", 400),
    ("amount_not_positive", "invalid_request", 400),
    ("same_account", "invalid_request", 400),
    ("memo_too_long", "invalid_request", 400),
    ("payload_too_large", "invalid_request", 400),
    ("duplicate_in_batch", "invalid_request", 400),
    ("account_not_found", "invalid_request", 404),
    ("transfer_not_found", "invalid_request", 404),
    ("job_not_found", "invalid_request", 404),
    ("currency_mismatch", "invalid_request", 422),
    ("insufficient_funds", "invalid_request", 422),
    ("balance_overflow", "invalid_request", 422),
    ("amount_overflow", "invalid_request", 422),
    ("transfer_id_reused", "invalid_request", 409),
    ("account_conflict", "invalid_request", 409),
    ("record_conflict", "invalid_request", 409),
    ("record_too_large", "invalid_request", 400),
    ("merchant_not_found", "invalid_request", 404),
    ("app_not_found", "invalid_request", 404),
    ("user_not_found", "invalid_request", 404),
    ("order_not_found", "invalid_request", 404),
    ("refund_not_found", "invalid_request", 404),
    ("appid_mchid_not_match", "invalid_request", 400),
    ("out_trade_no_used", "invalid_request", 409),
    ("order_not_payable", "invalid_request", 409),
    ("business_rule", "invalid_request", 400),
    ("wrong_password", "auth", 403),
    ("password_locked", "auth", 423),
    ("not_the_payer", "auth", 403),
    ("cross_site_request", "auth", 403),
    ("payment_failed", "invalid_request", 402),
    ("notification_not_found", "invalid_request", 404),
    ("notification_not_pending", "invalid_request", 409),
    ("no_auth", "auth", 403),
    ("stock_not_found", "invalid_request", 404),
    ("stock_not_active", "invalid_request", 409),
    ("stock_exhausted", "invalid_request", 409),
    ("coupon_limit_reached", "invalid_request", 409),
    ("collection_code_not_open", "invalid_request", 404),
    ("collection_code_not_found", "invalid_request", 404),
    ("payment_code_invalid", "invalid_request", 400),
    ("busy", "system", 429),
    ("request_timeout", "system", 503),
    ("store_unavailable", "system", 503),
    ("internal", "internal", 500),
];

/// An error answer of `/api/v1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    code: &'static str,
    message: String,
}

#[derive(Serialize)]
struct Envelope<'a> {
    code: &'a str,
    message: &'a str,
    r#type: &'a str,
    link: String,
}

impl ApiError {
    /// An error with a code from [`ERROR_CODES`] and a message for the developer.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        debug_assert!(
            ERROR_CODES.iter().any(|(known, _, _)| *known == code),
            "unknown error code {code}"
        );
        Self {
            code,
            message: message.into(),
        }
    }

    /// The code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message, for a page to show.
    pub(crate) fn message_text(&self) -> String {
        self.message.clone()
    }

    /// The HTTP status the code answers with.
    pub(crate) fn status(&self) -> StatusCode {
        self.entry().1
    }

    fn entry(&self) -> (&'static str, StatusCode) {
        let (kind, status) = ERROR_CODES
            .iter()
            .find(|(code, _, _)| *code == self.code)
            .map_or(("internal", 500), |(_, kind, status)| (*kind, *status));
        (
            kind,
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        )
    }

    pub(crate) fn invalid_field(field: &str, problem: impl std::fmt::Display) -> Self {
        Self::new("invalid_field", format!("{field}: {problem}"))
    }

    pub(crate) fn unavailable(reason: &str) -> Self {
        // The reason goes to the log; the caller learns only that the store is down.
        tracing::error!(%reason, "store unavailable");
        Self::new(
            "store_unavailable",
            "the store is unavailable; retry later with the same ids",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (kind, status) = self.entry();
        let envelope = Envelope {
            code: self.code,
            message: &self.message,
            r#type: kind,
            link: format!("docs/errors.md#{}", self.code),
        };
        let mut response = (status, Json(envelope)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> Self {
        let message = error.to_string();
        let code = match &error {
            LedgerError::EmptyBatch => "empty_batch",
            LedgerError::BatchTooLarge { .. } => "batch_too_large",
            LedgerError::AmountNotPositive { .. } => "amount_not_positive",
            LedgerError::SameAccount { .. } => "same_account",
            LedgerError::MemoTooLong { .. } => "memo_too_long",
            LedgerError::DuplicateInBatch { .. } => "duplicate_in_batch",
            LedgerError::UnknownAccount { .. } => "account_not_found",
            LedgerError::CurrencyMismatch { .. } => "currency_mismatch",
            LedgerError::InsufficientFunds { .. } => "insufficient_funds",
            LedgerError::Overflow { .. } => "balance_overflow",
            LedgerError::IdReused { .. } => "transfer_id_reused",
            LedgerError::AccountConflict { .. } => "account_conflict",
            LedgerError::PayloadTooLarge { .. } => "payload_too_large",
            LedgerError::RecordConflict { .. } => "record_conflict",
            LedgerError::RecordTooLarge { .. } => "record_too_large",
            LedgerError::Unavailable { reason } => return Self::unavailable(reason),
        };
        Self::new(code, message)
    }
}

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        match &error {
            QueueError::BadConsumer => Self::invalid_field("consumer", &error),
            QueueError::PayloadTooLarge { .. } => Self::new("payload_too_large", error.to_string()),
            QueueError::Unavailable { reason } => Self::unavailable(reason),
        }
    }
}

impl From<ClockError> for ApiError {
    fn from(error: ClockError) -> Self {
        match error {
            ClockError::NotMovable => Self::new("sandbox_only", error.to_string()),
            ClockError::NotForward { .. } => Self::new("clock_not_forward", error.to_string()),
            ClockError::Unavailable { reason } => Self::unavailable(&reason),
            ClockError::NotAfterNow { to, now } => Self::new(
                "clock_not_forward",
                format!(
                    "the clock moves forward only: {} is not after the clock's time, {}",
                    crate::wire::rfc3339(to),
                    crate::wire::rfc3339(now)
                ),
            ),
        }
    }
}
