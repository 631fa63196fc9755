//! The envelope of WeChat's server APIs (the mini-program host and WeCom's alike):
//! HTTP 200 with `{errcode, errmsg}` for every refusal (wechatpy turns any other status
//! into an error without a code), bodies read as JSON whatever their `Content-Type`
//! (wechatpy sends none), and parameters from the query with empty ones treated as
//! absent. A system's domain error becomes a [`WxError`] by implementing [`WxCoded`].

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::json;

/// A refusal in WeChat's format: HTTP 200, `{"errcode": n, "errmsg": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WxError {
    /// WeChat's code.
    pub errcode: i64,
    /// Its message.
    pub errmsg: String,
}

impl WxError {
    /// A refusal with `errcode` and `errmsg`.
    pub fn new(errcode: i64, errmsg: impl Into<String>) -> Self {
        Self {
            errcode,
            errmsg: errmsg.into(),
        }
    }
}

/// A domain error as WeChat's server API answers it.
pub trait WxCoded: std::fmt::Display {
    /// WeChat's errcode for it.
    fn errcode(&self) -> i64;
    /// `Some(reason)` when the store failed (answered `-1 system error` and logged);
    /// `Some("")` for a lost race (answered `-1`, retry); `None` for a refusal.
    fn failure(&self) -> Option<String>;
}

impl<E: WxCoded> From<E> for WxError {
    fn from(error: E) -> Self {
        match error.failure() {
            Some(reason) if reason.is_empty() => Self::new(-1, "system busy, retry"),
            Some(reason) => {
                tracing::error!(%reason, "WeChat server API: the store failed");
                Self::new(-1, "system error")
            }
            None => Self::new(error.errcode(), error.to_string()),
        }
    }
}

impl IntoResponse for WxError {
    fn into_response(self) -> Response {
        axum::Json(json!({ "errcode": self.errcode, "errmsg": self.errmsg })).into_response()
    }
}

/// The query's parameters; an empty value counts as absent.
pub struct WxQuery(pub HashMap<String, String>);

impl WxQuery {
    /// A parameter, `""` when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WxQuery {
    type Rejection = WxError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, WxError> {
        let query = parts.uri.query().unwrap_or("");
        Ok(Self(
            url::form_urlencoded::parse(query.as_bytes())
                .filter(|(_, value)| !value.is_empty())
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect(),
        ))
    }
}

/// A JSON body, read whatever the `Content-Type`: empty is `44002`, unreadable `47001`
/// naming where.
pub struct WxJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for WxJson<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(WxError::new(44002, "empty post data").into_response());
        }
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(&mut deserializer)
            .map(Self)
            .map_err(|error| {
                let path = error.path().to_string();
                let problem = error.into_inner();
                let message = if path == "." {
                    format!("data format error: {problem}")
                } else {
                    format!("data format error: {path}: {problem}")
                };
                WxError::new(47001, message).into_response()
            })
    }
}
