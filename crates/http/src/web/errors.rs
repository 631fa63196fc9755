//! What a page answers when it cannot be shown: an HTML page in the site's layout with a
//! way back, never plain text or an API envelope. Unknown paths get the 404 page, except
//! under a wire API's prefixes ([`crate::WireApi`]), which keep their own envelopes.
//! Page forms and queries that do not parse get the 400 page.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use std::sync::Arc;

use super::{Viewer, escape, layout};
use crate::WireApi;
use crate::error::{ApiError, code};
use crate::host::wire_api_of;

/// An HTML error page: a status, a heading in the payer's terms, a sentence, and a link
/// back.
#[derive(Debug, Clone)]
pub struct ErrorPage {
    status: StatusCode,
    heading: &'static str,
    message: String,
    back: (&'static str, &'static str),
    code: Option<&'static str>,
}

impl ErrorPage {
    /// A page with `status`, `heading` (Chinese first, English beside) and `message`,
    /// linking home.
    pub fn new(status: StatusCode, heading: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            heading,
            message: message.into(),
            back: ("/", "返回首页 Back to home"),
            code: None,
        }
    }

    /// 404: nothing here.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "页面不存在 Page not found", message)
    }

    /// 400: the page's parameters are missing or malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "请求有误 Bad request", message)
    }

    /// Links back to `href` with `label` instead of home.
    pub fn back(mut self, href: &'static str, label: &'static str) -> Self {
        self.back = (href, label);
        self
    }

    /// Names the error's code on the page (`data-code`), for scripts and tests.
    pub fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    /// The page for an [`ApiError`] met while serving a page: its status, and a message
    /// people can read ([`human_message`]).
    pub fn from_api(error: &ApiError) -> Self {
        let status = error.status();
        let heading = match status {
            StatusCode::NOT_FOUND => "未找到 Not found",
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "无法继续 Not allowed",
            status if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS => {
                "系统繁忙 Busy"
            }
            _ => "无法完成 Could not be done",
        };
        Self::new(status, heading, human_message(error)).code(error.code())
    }
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        let code = self
            .code
            .map_or_else(String::new, |code| format!(" data-code=\"{code}\""));
        let body = format!(
            "<div class=\"card\" id=\"error-page\"{code}><div class=\"result failed\"><div class=\"icon\">!</div>\
             <h2>{heading}</h2><p class=\"muted\" id=\"error-message\">{message}</p>\
             <p><a class=\"button\" id=\"back\" href=\"{href}\">{label}</a></p></div></div>",
            heading = escape(self.heading),
            message = escape(&self.message),
            href = escape(self.back.0),
            label = escape(self.back.1),
        );
        let title = self.status.canonical_reason().unwrap_or("Error");
        (
            self.status,
            layout(title, "", &Viewer::default(), true, &body),
        )
            .into_response()
    }
}

/// What a person reads for an API error met on a page. Domain refusals already speak
/// the payer's terms; the codes whose message is for developers (a field's path, a
/// parser's words) get a plain sentence instead.
pub fn human_message(error: &ApiError) -> String {
    match error.code() {
        "invalid_json" | "invalid_field" | "invalid_query" => {
            "请检查输入 Something in the form is not right; check it and try again.".to_owned()
        }
        "body_too_large" => "内容过长 What was sent is too long.".to_owned(),
        "unauthorized" => "请先登录 Please sign in first.".to_owned(),
        "busy" | "request_timeout" | "store_unavailable" | "record_conflict" => {
            "系统繁忙 Plaza is busy; try again in a moment.".to_owned()
        }
        "internal" => "出错了 Something went wrong on Plaza's side.".to_owned(),
        _ => error.message_text(),
    }
}

/// The answers for paths no route serves and for methods a path does not take, in the
/// format of the wire API the path belongs to, else as an HTML page.
#[derive(Clone)]
pub struct Fallbacks {
    wire_apis: Arc<[WireApi]>,
}

impl Fallbacks {
    /// Fallbacks that know these wire APIs.
    pub fn new(wire_apis: Arc<[WireApi]>) -> Self {
        Self { wire_apis }
    }

    /// The 404: the HTML page, or the format of the API the path belongs to.
    pub fn not_found(&self, uri: &Uri) -> Response {
        let path = uri.path();
        match wire_api_of(&self.wire_apis, path) {
            Some(api) => (api.not_found)(path),
            None => ErrorPage::not_found("这个页面不存在 There is no page at this address.")
                .into_response(),
        }
    }

    /// The 405 for a known path asked with a method it does not take.
    pub fn method_not_allowed(&self, uri: &Uri) -> Response {
        if wire_api_of(&self.wire_apis, uri.path()).is_some() {
            return ApiError::new(
                code::METHOD_NOT_ALLOWED,
                "this endpoint does not take that method",
            )
            .into_response();
        }
        ErrorPage::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "请求有误 Bad request",
            "这个页面不接受这种请求 This page cannot be used that way.",
        )
        .into_response()
    }
}

/// Query parameters of a page; malformed ones answer the 400 page.
pub struct PageQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for PageQuery<T> {
    type Rejection = ErrorPage;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ErrorPage> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection: QueryRejection| {
                tracing::debug!(%rejection, "page query refused");
                ErrorPage::bad_request(
                    "这个地址的参数不对 This address is missing something or has it wrong.",
                )
            })
    }
}

/// A page's form; one that does not parse answers the 400 page.
pub struct PageForm<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for PageForm<T> {
    type Rejection = ErrorPage;

    async fn from_request(request: Request, state: &S) -> Result<Self, ErrorPage> {
        axum::extract::Form::<T>::from_request(request, state)
            .await
            .map(|axum::extract::Form(value)| Self(value))
            .map_err(|rejection: FormRejection| {
                tracing::debug!(%rejection, "page form refused");
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    return ErrorPage::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "内容过长 Too long",
                        "What was sent is longer than Plaza takes.",
                    );
                }
                ErrorPage::bad_request(
                    "表单不完整 The form was missing something or had it wrong; go back and try again.",
                )
            })
    }
}
