//! Extractors that answer malformed input with the API's own envelope instead of axum's
//! plain-text rejections, and the admin bearer-token check.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use plaza_kernel::limits::{PAGE_ROWS_DEFAULT, PAGE_ROWS_MAX};

use crate::HttpState;
use crate::error::{ApiError, code};

/// A JSON body; malformed JSON or a body over the limit becomes an [`ApiError`].
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            code::BODY_TOO_LARGE,
            "the request body is larger than allowed",
        );
    }
    ApiError::new(code::INVALID_JSON, rejection.body_text())
}

/// Query parameters; malformed ones become an [`ApiError`].
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(&rejection)),
        }
    }
}

fn query_rejection(rejection: &QueryRejection) -> ApiError {
    ApiError::new(code::INVALID_QUERY, rejection.body_text())
}

/// The `limit` of a listing: the default when absent, an `invalid_query` error outside
/// 1 to [`PAGE_ROWS_MAX`].
pub fn page_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(PAGE_ROWS_DEFAULT);
    if (1..=PAGE_ROWS_MAX).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::new(
            code::INVALID_QUERY,
            format!("limit must be between 1 and {PAGE_ROWS_MAX}"),
        ))
    }
}

/// Proof that the request carried the admin token.
pub struct Admin;

impl<S: Send + Sync> FromRequestParts<S> for Admin
where
    HttpState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = HttpState::from_ref(state);
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        match presented {
            Some(token) if constant_time_eq(token.as_bytes(), state.admin_token.as_bytes()) => {
                Ok(Self)
            }
            _ => Err(ApiError::new(
                code::UNAUTHORIZED,
                "admin endpoints need `Authorization: Bearer <token>` with the token from admin.token in the data directory",
            )),
        }
    }
}

/// Lower-case hex of HMAC-SHA256 of `message` under `secret`: the tag of Plaza's own
/// self-contained tokens (bill downloads, merchant sign-in cookies).
pub fn hmac_hex(secret: &[u8], message: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    aws_lc_rs::hmac::sign(&key, message)
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

pub use plaza_kernel::record::constant_time_eq;

#[cfg(test)]
mod tests {
    use super::constant_time_eq;

    #[test]
    fn tokens_compare_equal_only_when_identical() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
