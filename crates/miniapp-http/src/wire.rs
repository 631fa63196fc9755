//! The envelope of WeChat's server APIs as Mini Programs answer it (the shared
//! [`plaza_http::wechat`] envelope: HTTP 200 with integer `errcode`, bodies read as JSON
//! whatever their `Content-Type`, empty parameters absent), Mini Programs' errors in it,
//! and the access token from the query.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use plaza_http::wechat::WxCoded;
use plaza_miniapp::MiniAppError;

pub use plaza_http::wechat::{WxJson, WxQuery};

use crate::MiniAppState;

/// A refusal in WeChat's format (the shared [`plaza_http::wechat::WxError`]), which
/// Mini Programs' errors convert into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WxError(pub plaza_http::wechat::WxError);

impl WxError {
    /// A refusal with `errcode` and `errmsg`.
    pub fn new(errcode: i64, errmsg: impl Into<String>) -> Self {
        Self(plaza_http::wechat::WxError::new(errcode, errmsg))
    }
}

impl From<plaza_http::wechat::WxError> for WxError {
    fn from(error: plaza_http::wechat::WxError) -> Self {
        Self(error)
    }
}

impl IntoResponse for WxError {
    fn into_response(self) -> Response {
        self.0.into_response()
    }
}

/// Mini Programs' errors as the server API answers them.
struct Coded(MiniAppError);

impl std::fmt::Display for Coded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl WxCoded for Coded {
    fn errcode(&self) -> i64 {
        self.0.errcode()
    }

    fn failure(&self) -> Option<String> {
        match &self.0 {
            MiniAppError::Unavailable { reason } => Some(format!("mini programs: {reason}")),
            MiniAppError::Busy { .. } => Some(String::new()),
            _ => None,
        }
    }
}

impl From<MiniAppError> for WxError {
    fn from(error: MiniAppError) -> Self {
        Self(Coded(error).into())
    }
}

/// The app a request's `access_token` acts for: `41001` without one, `40014` for an
/// unknown one, `42001` for an ended one.
pub struct AppToken {
    /// The app's appid.
    pub appid: String,
}

impl FromRequestParts<MiniAppState> for AppToken {
    type Rejection = WxError;

    async fn from_request_parts(parts: &mut Parts, state: &MiniAppState) -> Result<Self, WxError> {
        let WxQuery(query) = WxQuery::from_request_parts(parts, state).await?;
        let token = query.get("access_token").map_or("", String::as_str);
        let appid = state.miniapps.check_token(token).await?;
        Ok(Self { appid })
    }
}
