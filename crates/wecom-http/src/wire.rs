//! WeCom's server API envelope (the shared [`plaza_http::wechat`] one: HTTP 200 with an
//! integer `errcode`, bodies read as JSON whatever their `Content-Type`), WeCom's
//! errors in it, the access token from the query, and lenient readers for body fields
//! that clients send as numbers or strings.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use plaza_http::wechat::WxCoded;
use plaza_wecom::{Scope, WeComError};
use serde_json::{Value, json};

pub use plaza_http::wechat::{WxJson, WxQuery};

use crate::WeComState;

/// A refusal in WeCom's format, which WeCom's errors convert into. `extra` fields go
/// beside `errcode` (`invaliduser` … of a 81013).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WxError {
    inner: plaza_http::wechat::WxError,
    extra: Option<serde_json::Map<String, Value>>,
}

impl WxError {
    /// A refusal with `errcode` and `errmsg`.
    pub fn new(errcode: i64, errmsg: impl Into<String>) -> Self {
        Self {
            inner: plaza_http::wechat::WxError::new(errcode, errmsg),
            extra: None,
        }
    }

    /// `47001` naming the field.
    pub fn format(field: &str, problem: &str) -> Self {
        Self::new(47001, format!("data format error: {field}: {problem}"))
    }
}

impl From<plaza_http::wechat::WxError> for WxError {
    fn from(inner: plaza_http::wechat::WxError) -> Self {
        Self { inner, extra: None }
    }
}

impl IntoResponse for WxError {
    fn into_response(self) -> Response {
        let mut body = serde_json::Map::new();
        body.insert("errcode".into(), json!(self.inner.errcode));
        body.insert("errmsg".into(), json!(self.inner.errmsg));
        if let Some(extra) = self.extra {
            body.extend(extra);
        }
        axum::Json(Value::Object(body)).into_response()
    }
}

struct Coded(WeComError);

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
            WeComError::Unavailable { reason } => Some(format!("wecom: {reason}")),
            WeComError::Busy { .. } => Some(String::new()),
            _ => None,
        }
    }
}

impl From<WeComError> for WxError {
    fn from(error: WeComError) -> Self {
        let extra = match &error {
            WeComError::NoRecipient { invalid } => {
                let mut map = serde_json::Map::new();
                map.insert("invaliduser".into(), json!(invalid.invaliduser));
                map.insert("invalidparty".into(), json!(invalid.invalidparty));
                map.insert("invalidtag".into(), json!(invalid.invalidtag));
                Some(map)
            }
            _ => None,
        };
        Self {
            inner: Coded(error).into(),
            extra,
        }
    }
}

/// The corp and scope a request's `access_token` acts for: `41001` without one,
/// `40014` for an unknown one (a mini program's too: another realm), `42001` for an
/// ended one.
pub struct CorpToken {
    /// The corp.
    pub corpid: String,
    /// The secret the token came from.
    pub scope: Scope,
}

impl FromRequestParts<WeComState> for CorpToken {
    type Rejection = WxError;

    async fn from_request_parts(parts: &mut Parts, state: &WeComState) -> Result<Self, WxError> {
        let WxQuery(query) = WxQuery::from_request_parts(parts, state).await?;
        let token = query.get("access_token").map_or("", String::as_str);
        let grant = state.wecom.check_token(token).await?;
        Ok(Self {
            corpid: grant.corpid,
            scope: grant.scope,
        })
    }
}

/// A body field read leniently: absent, `null` and `""` are absent.
pub fn field<'a>(body: &'a Value, name: &str) -> Option<&'a Value> {
    body.get(name)
        .filter(|value| !value.is_null() && value.as_str() != Some(""))
}

/// A text field (numbers are taken as their text).
pub fn text(body: &Value, name: &str) -> Result<Option<String>, WxError> {
    match field(body, name) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(number)) => Ok(Some(number.to_string())),
        Some(_) => Err(WxError::format(name, "must be a string")),
    }
}

/// An integer field (a string of digits counts).
pub fn int(body: &Value, name: &str) -> Result<Option<i64>, WxError> {
    match field(body, name) {
        None => Ok(None),
        Some(value) => as_int(value)
            .map(Some)
            .ok_or_else(|| WxError::format(name, "must be an integer")),
    }
}

fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        Value::Bool(flag) => Some(i64::from(*flag)),
        _ => None,
    }
}

/// A list of integers (one integer counts as a list of one).
pub fn int_list(body: &Value, name: &str) -> Result<Option<Vec<i64>>, WxError> {
    match field(body, name) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                as_int(item).ok_or_else(|| WxError::format(name, "must be a list of integers"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(value) => as_int(value)
            .map(|one| Some(vec![one]))
            .ok_or_else(|| WxError::format(name, "must be a list of integers")),
    }
}

/// A list of strings (`|`-joined text counts).
pub fn text_list(body: &Value, name: &str) -> Result<Vec<String>, WxError> {
    match field(body, name) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => Ok(text.clone()),
                Value::Number(number) => Ok(number.to_string()),
                _ => Err(WxError::format(name, "must be a list of strings")),
            })
            .collect(),
        Some(Value::String(text)) => Ok(text
            .split('|')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()),
        Some(_) => Err(WxError::format(name, "must be a list of strings")),
    }
}

/// A 0/1 flag (booleans count).
pub fn flag(body: &Value, name: &str) -> Result<Option<bool>, WxError> {
    Ok(int(body, name)?.map(|value| value != 0))
}

/// `{"errcode":0,"errmsg":msg, …fields}`.
pub fn ok(errmsg: &str, fields: Value) -> axum::Json<Value> {
    let mut body = serde_json::Map::new();
    body.insert("errcode".into(), json!(0));
    body.insert("errmsg".into(), json!(errmsg));
    if let Value::Object(fields) = fields {
        body.extend(fields);
    }
    axum::Json(Value::Object(body))
}
