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

/// Declares error codes: one [`ErrorCode`] constant each, and `$list`, every one of them
/// (a system lists its codes this way, so its list is complete by construction).
#[macro_export]
macro_rules! error_codes {
    ($(#[$list_meta:meta])* $list:ident { $($name:ident = ($code:literal, $kind:ident, $status:literal);)* }) => {
        $(
            #[doc = concat!("`", $code, "`: HTTP ", stringify!($status), ".")]
            pub const $name: $crate::ErrorCode =
                $crate::ErrorCode::new($code, $crate::ErrorType::$kind, $status);
        )*
        $(#[$list_meta])*
        pub const $list: &[$crate::ErrorCode] = &[$($name),*];
    };
}

/// The `type` of an error envelope: who has to act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// The request is wrong; the caller fixes it.
    InvalidRequest,
    /// The caller is not signed in or may not do this.
    Auth,
    /// Plaza cannot answer now; the same request may succeed later.
    System,
    /// A fault inside Plaza.
    Internal,
}

impl ErrorType {
    /// Its spelling in the envelope.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request",
            ErrorType::Auth => "auth",
            ErrorType::System => "system",
            ErrorType::Internal => "internal",
        }
    }
}

/// One stable error code of `/api/v1` with its type and HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCode {
    /// The code, `snake_case`, stable once released.
    pub name: &'static str,
    /// Who has to act.
    pub kind: ErrorType,
    /// The HTTP status it answers with.
    pub status: u16,
}

impl ErrorCode {
    /// A code (see [`error_codes!`]).
    pub const fn new(name: &'static str, kind: ErrorType, status: u16) -> Self {
        Self { name, kind, status }
    }
}

/// The codes every surface shares (systems add their own through [`error_codes!`]).
pub mod code {
    crate::error_codes! {
        /// Every shared code.
        ERROR_CODES {
        INVALID_JSON = ("invalid_json", InvalidRequest, 400);
        INVALID_FIELD = ("invalid_field", InvalidRequest, 400);
        INVALID_QUERY = ("invalid_query", InvalidRequest, 400);
        BODY_TOO_LARGE = ("body_too_large", InvalidRequest, 413);
        UNAUTHORIZED = ("unauthorized", Auth, 401);
        NOT_FOUND = ("not_found", InvalidRequest, 404);
        USER_NOT_FOUND = ("user_not_found", InvalidRequest, 404);
        METHOD_NOT_ALLOWED = ("method_not_allowed", InvalidRequest, 405);
        SANDBOX_ONLY = ("sandbox_only", InvalidRequest, 404);
        CLOCK_NOT_FORWARD = ("clock_not_forward", InvalidRequest, 400);
        EMPTY_BATCH = ("empty_batch", InvalidRequest, 400);
        BATCH_TOO_LARGE = ("batch_too_large", InvalidRequest, 400);
        AMOUNT_NOT_POSITIVE = ("amount_not_positive", InvalidRequest, 400);
        SAME_ACCOUNT = ("same_account", InvalidRequest, 400);
        MEMO_TOO_LONG = ("memo_too_long", InvalidRequest, 400);
        PAYLOAD_TOO_LARGE = ("payload_too_large", InvalidRequest, 400);
        DUPLICATE_IN_BATCH = ("duplicate_in_batch", InvalidRequest, 400);
        ACCOUNT_NOT_FOUND = ("account_not_found", InvalidRequest, 404);
        TRANSFER_NOT_FOUND = ("transfer_not_found", InvalidRequest, 404);
        JOB_NOT_FOUND = ("job_not_found", InvalidRequest, 404);
        CURRENCY_MISMATCH = ("currency_mismatch", InvalidRequest, 422);
        INSUFFICIENT_FUNDS = ("insufficient_funds", InvalidRequest, 422);
        BALANCE_OVERFLOW = ("balance_overflow", InvalidRequest, 422);
        AMOUNT_OVERFLOW = ("amount_overflow", InvalidRequest, 422);
        TRANSFER_ID_REUSED = ("transfer_id_reused", InvalidRequest, 409);
        ACCOUNT_CONFLICT = ("account_conflict", InvalidRequest, 409);
        RECORD_CONFLICT = ("record_conflict", InvalidRequest, 409);
        RECORD_TOO_LARGE = ("record_too_large", InvalidRequest, 400);
        CROSS_SITE_REQUEST = ("cross_site_request", Auth, 403);
        BUSY = ("busy", System, 429);
        REQUEST_TIMEOUT = ("request_timeout", System, 503);
        BUSINESS_RULE = ("business_rule", InvalidRequest, 400);
        STORE_UNAVAILABLE = ("store_unavailable", System, 503);
        INTERNAL = ("internal", Internal, 500);
        }
    }
}

pub use code::ERROR_CODES;

/// An error answer of `/api/v1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    code: ErrorCode,
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
    /// An error with `code` and a message for the developer.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The code's name.
    pub fn code(&self) -> &'static str {
        self.code.name
    }

    /// The message, for a page to show.
    pub fn message_text(&self) -> String {
        self.message.clone()
    }

    /// The HTTP status the code answers with.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// `invalid_field`, naming the field and what is wrong with it.
    pub fn invalid_field(field: &str, problem: impl std::fmt::Display) -> Self {
        Self::new(code::INVALID_FIELD, format!("{field}: {problem}"))
    }

    /// `store_unavailable`; the reason goes to the log only.
    pub fn unavailable(reason: &str) -> Self {
        // The reason goes to the log; the caller learns only that the store is down.
        tracing::error!(%reason, "store unavailable");
        Self::new(
            code::STORE_UNAVAILABLE,
            "the store is unavailable; retry later with the same ids",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let envelope = Envelope {
            code: self.code.name,
            message: &self.message,
            r#type: self.code.kind.as_str(),
            link: format!("docs/errors.md#{}", self.code.name),
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
            LedgerError::EmptyBatch => code::EMPTY_BATCH,
            LedgerError::BatchTooLarge { .. } => code::BATCH_TOO_LARGE,
            LedgerError::AmountNotPositive { .. } => code::AMOUNT_NOT_POSITIVE,
            LedgerError::SameAccount { .. } => code::SAME_ACCOUNT,
            LedgerError::MemoTooLong { .. } => code::MEMO_TOO_LONG,
            LedgerError::DuplicateInBatch { .. } => code::DUPLICATE_IN_BATCH,
            LedgerError::UnknownAccount { .. } => code::ACCOUNT_NOT_FOUND,
            LedgerError::CurrencyMismatch { .. } => code::CURRENCY_MISMATCH,
            LedgerError::InsufficientFunds { .. } => code::INSUFFICIENT_FUNDS,
            LedgerError::Overflow { .. } => code::BALANCE_OVERFLOW,
            LedgerError::IdReused { .. } => code::TRANSFER_ID_REUSED,
            LedgerError::AccountConflict { .. } => code::ACCOUNT_CONFLICT,
            LedgerError::PayloadTooLarge { .. } => code::PAYLOAD_TOO_LARGE,
            LedgerError::RecordConflict { .. } => code::RECORD_CONFLICT,
            LedgerError::RecordTooLarge { .. } => code::RECORD_TOO_LARGE,
            LedgerError::Unavailable { reason } => return Self::unavailable(reason),
        };
        Self::new(code, message)
    }
}

impl From<QueueError> for ApiError {
    fn from(error: QueueError) -> Self {
        match &error {
            QueueError::BadConsumer => Self::invalid_field("consumer", &error),
            QueueError::PayloadTooLarge { .. } => {
                Self::new(code::PAYLOAD_TOO_LARGE, error.to_string())
            }
            QueueError::Unavailable { reason } => Self::unavailable(reason),
        }
    }
}

impl From<ClockError> for ApiError {
    fn from(error: ClockError) -> Self {
        match error {
            ClockError::NotMovable => Self::new(code::SANDBOX_ONLY, error.to_string()),
            ClockError::NotForward { .. } => Self::new(code::CLOCK_NOT_FORWARD, error.to_string()),
            ClockError::Unavailable { reason } => Self::unavailable(&reason),
            ClockError::NotAfterNow { to, now } => Self::new(
                code::CLOCK_NOT_FORWARD,
                format!(
                    "the clock moves forward only: {} is not after the clock's time, {}",
                    crate::rfc3339(to),
                    crate::rfc3339(now)
                ),
            ),
        }
    }
}
