//! The bridge API the container page calls for a running mini program, with the
//! user's session: each answer is what the matching `wx.*` call gives the mini program
//! on success, or `400 {"errMsg": "<api>:fail <reason>"}` in WeChat's words.

use axum::Json as AxumJson;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use plaza_http::extract::Json;
use plaza_miniapp::container::VisitEvent;
use plaza_miniapp::{MiniAppError, MiniApps, PaymentRequest};
use serde::Deserialize;
use serde_json::{Value, json};

use super::FetchRequest;
use crate::MiniAppState;
use crate::routes::SignedIn;

/// A refusal in the words `wx.*` fails with.
pub(crate) struct Fail {
    api: &'static str,
    reason: String,
}

impl Fail {
    fn new(api: &'static str, reason: impl Into<String>) -> Self {
        Self {
            api,
            reason: reason.into(),
        }
    }

    /// The domain's refusal, in people's words (a field's problem without its name).
    fn of(api: &'static str, error: MiniAppError) -> Self {
        let reason = match error {
            MiniAppError::Invalid { problem, .. } => problem,
            MiniAppError::Unavailable { reason } | MiniAppError::Objects { reason } => {
                tracing::error!(%reason, api, "mini-program bridge: the store failed");
                "system error".to_owned()
            }
            other => other.to_string(),
        };
        Self { api, reason }
    }
}

impl IntoResponse for Fail {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            AxumJson(json!({ "errMsg": format!("{}:fail {}", self.api, self.reason) })),
        )
            .into_response()
    }
}

fn ok(api: &str, mut body: Value) -> AxumJson<Value> {
    body["errMsg"] = json!(format!("{api}:ok"));
    AxumJson(body)
}

async fn existing(
    state: &MiniAppState,
    api: &'static str,
    appid: &str,
) -> Result<plaza_miniapp::MiniApp, Fail> {
    state
        .miniapps
        .existing_app(appid)
        .await
        .map_err(|error| Fail::of(api, error))
}

/// `wx.checkSession`: ok while the user has a login session in the app.
pub(crate) async fn check_session(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
) -> Result<AxumJson<Value>, Fail> {
    existing(&state, "checkSession", &appid).await?;
    let live = state
        .miniapps
        .has_session(&appid, &user.user_id)
        .await
        .map_err(|error| Fail::of("checkSession", error))?;
    if live {
        Ok(ok("checkSession", json!({})))
    } else {
        Err(Fail::new(
            "checkSession",
            "session_key expired, call wx.login",
        ))
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RequestBody {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    header: serde_json::Map<String, Value>,
    /// The body as text, already encoded by the page (JSON or a form).
    #[serde(default)]
    body: Option<String>,
    /// The version running, for the Referer.
    #[serde(default)]
    version: Option<u32>,
}

/// The most a `wx.request` answer may carry back.
const RESPONSE_BYTES_MAX: usize = 4 * 1024 * 1024;

/// `wx.request`: only to the app's allow-listed origins (else
/// `request:fail url not in domain list`), sent from the server.
pub(crate) async fn request(
    State(state): State<MiniAppState>,
    SignedIn(_user): SignedIn,
    Path(appid): Path<String>,
    Json(body): Json<RequestBody>,
) -> Result<AxumJson<Value>, Fail> {
    let app = existing(&state, "request", &appid).await?;
    MiniApps::check_request_url(&app, &body.url).map_err(|error| Fail::of("request", error))?;
    let method = body
        .method
        .unwrap_or_else(|| "GET".to_owned())
        .to_ascii_uppercase();
    if ![
        "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT",
    ]
    .contains(&method.as_str())
    {
        return Err(Fail::new("request", "invalid method"));
    }
    let headers = body
        .header
        .into_iter()
        .filter_map(|(name, value)| match value {
            Value::String(text) => Some((name, text)),
            Value::Number(number) => Some((name, number.to_string())),
            _ => None,
        })
        .filter(|(name, _)| {
            !["host", "cookie", "referer", "content-length"]
                .contains(&name.to_ascii_lowercase().as_str())
        })
        .collect();
    let fetched = state
        .fetch
        .fetch(FetchRequest {
            method,
            url: body.url,
            headers,
            body: body.body.map(String::into_bytes),
            referer: format!(
                "https://servicewechat.com/{appid}/{}/page-frame.html",
                body.version.unwrap_or(0)
            ),
        })
        .await
        .map_err(|reason| Fail::new("request", reason))?;
    if fetched.body.len() > RESPONSE_BYTES_MAX {
        return Err(Fail::new("request", "response too large"));
    }
    let header: serde_json::Map<String, Value> = fetched
        .headers
        .into_iter()
        .map(|(name, value)| (name, Value::String(value)))
        .collect();
    let text = String::from_utf8(fetched.body.clone()).ok();
    Ok(ok(
        "request",
        json!({
            "statusCode": fetched.status,
            "header": header,
            "data": text,
            "dataBase64": if text.is_none() { Some(base64::engine::general_purpose::STANDARD.encode(&fetched.body)) } else { None },
        }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StorageBody {
    /// `set`, `get` or `remove`.
    op: String,
    key: String,
    /// For `set`: the value as JSON text.
    data: Option<String>,
}

/// `wx.setStorage`, `wx.getStorage`, `wx.removeStorage`: per app and user, 10 MB.
pub(crate) async fn storage(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
    Json(body): Json<StorageBody>,
) -> Result<AxumJson<Value>, Fail> {
    existing(&state, "setStorage", &appid).await?;
    let miniapps = &state.miniapps;
    match body.op.as_str() {
        "set" => {
            let data = body
                .data
                .ok_or_else(|| Fail::new("setStorage", "parameter error: data is required"))?;
            miniapps
                .set_storage(&appid, &user.user_id, &body.key, Some(&data))
                .await
                .map_err(|error| Fail::of("setStorage", error))?;
            Ok(ok("setStorage", json!({})))
        }
        "get" => {
            let data = miniapps
                .storage(&appid, &user.user_id, &body.key)
                .await
                .map_err(|error| Fail::of("getStorage", error))?
                .ok_or_else(|| Fail::new("getStorage", "data not found"))?;
            Ok(ok("getStorage", json!({ "data": data })))
        }
        "remove" => {
            miniapps
                .set_storage(&appid, &user.user_id, &body.key, None)
                .await
                .map_err(|error| Fail::of("removeStorage", error))?;
            Ok(ok("removeStorage", json!({})))
        }
        _ => Err(Fail::new("setStorage", "op is set, get or remove")),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct PaymentBody {
    #[serde(rename = "timeStamp", default)]
    time_stamp: Value,
    #[serde(rename = "nonceStr", default)]
    nonce_str: String,
    #[serde(default)]
    package: String,
    #[serde(rename = "signType", default)]
    sign_type: String,
    #[serde(rename = "paySign", default)]
    pay_sign: String,
}

/// `wx.requestPayment`'s first step: the request checked as WeChat checks it (the
/// merchant's signature, this app's and merchant's JSAPI order, made out to this user);
/// the page then shows the checkout sheet and pays through Pay.
pub(crate) async fn payment(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
    Json(body): Json<PaymentBody>,
) -> Result<AxumJson<Value>, Fail> {
    let time_stamp = match body.time_stamp {
        Value::String(text) => text,
        Value::Number(number) => number.to_string(),
        _ => String::new(),
    };
    for (name, value) in [
        ("timeStamp", &time_stamp),
        ("nonceStr", &body.nonce_str),
        ("package", &body.package),
        ("paySign", &body.pay_sign),
    ] {
        if value.is_empty() {
            return Err(Fail::new(
                "requestPayment",
                format!("parameter error: {name} is required"),
            ));
        }
    }
    let summary = state
        .miniapps
        .check_payment(PaymentRequest {
            appid,
            mchid: String::new(),
            user_id: user.user_id,
            time_stamp,
            nonce_str: body.nonce_str,
            package: body.package,
            sign_type: body.sign_type,
            pay_sign: body.pay_sign,
        })
        .await
        .map_err(|error| Fail::of("requestPayment", error))?;
    Ok(ok(
        "requestPayment",
        json!({
            "prepay_id": summary.prepay_id,
            "merchant_name": summary.merchant_name,
            "description": summary.description,
            "total_minor": summary.total_minor,
            "trade_state": summary.trade_state,
        }),
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct TemplatesQuery {
    ids: Option<String>,
}

/// The templates a consent sheet asks about (`ids` comma-separated): titles and
/// keywords; unknown ids are left out.
pub(crate) async fn templates(
    State(state): State<MiniAppState>,
    SignedIn(_user): SignedIn,
    Path(appid): Path<String>,
    Query(query): Query<TemplatesQuery>,
) -> Result<AxumJson<Value>, Fail> {
    existing(&state, "requestSubscribeMessage", &appid).await?;
    let wanted: Vec<&str> = query
        .ids
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|id| !id.is_empty())
        .collect();
    let templates = state
        .miniapps
        .templates(&appid)
        .await
        .map_err(|error| Fail::of("requestSubscribeMessage", error))?;
    let list: Vec<Value> = templates
        .iter()
        .filter(|template| wanted.contains(&template.pri_tmpl_id.as_str()))
        .map(|template| {
            json!({
                "id": template.pri_tmpl_id,
                "title": template.title,
                "keywords": template.keywords.iter().map(|keyword| keyword.name.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(ok("requestSubscribeMessage", json!({ "templates": list })))
}

/// `getPhoneNumber`: a code for the back end's `getuserphonenumber`, and the number
/// masked for the consent sheet.
pub(crate) async fn phone(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
) -> Result<AxumJson<Value>, Fail> {
    let code = state
        .miniapps
        .phone_code(&appid, &user.user_id)
        .await
        .map_err(|error| Fail::of("getPhoneNumber", error))?;
    Ok(ok("getPhoneNumber", json!({ "code": code })))
}

/// `wx.getUserProfile`: the profile with `rawData`, `signature`, `encryptedData`, `iv`.
pub(crate) async fn profile(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
) -> Result<AxumJson<Value>, Fail> {
    let material = state
        .miniapps
        .user_profile(&appid, &user.user_id)
        .await
        .map_err(|error| match error {
            MiniAppError::SignatureInvalid => Fail::new(
                "getUserProfile",
                "login first: call wx.login and exchange the code",
            ),
            other => Fail::of("getUserProfile", other),
        })?;
    Ok(ok("getUserProfile", material))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VisitBody {
    /// `open`, `page` or `leave`.
    event: String,
    #[serde(default)]
    stay_ms: u64,
}

/// A visit event, for analytics: `open` (a visit), `page` (a page view), `leave`.
pub(crate) async fn visit(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
    Json(body): Json<VisitBody>,
) -> Result<StatusCode, Fail> {
    let event = match body.event.as_str() {
        "open" => VisitEvent::Open,
        "page" => VisitEvent::Page,
        "leave" => VisitEvent::Leave {
            stay_ms: body.stay_ms,
        },
        _ => return Err(Fail::new("visit", "event is open, page or leave")),
    };
    state
        .miniapps
        .record_visit(&appid, &user.user_id, event)
        .await
        .map_err(|error| Fail::of("visit", error))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PhoneBody {
    phone: String,
}

/// # `PUT /api/v1/me/phone`
///
/// `{phone}`: the number mini programs may ask for (with the user's consent each time).
pub(crate) async fn set_phone(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Json(body): Json<PhoneBody>,
) -> Result<AxumJson<Value>, plaza_http::ApiError> {
    let phone = state
        .miniapps
        .identity()
        .set_phone(&user.user_id, &body.phone)
        .await
        .map_err(|error| crate::error::api_error(error.into()))?;
    Ok(AxumJson(json!({ "phone": phone })))
}

/// # `GET /api/v1/me/phone`
pub(crate) async fn my_phone(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
) -> Result<AxumJson<Value>, plaza_http::ApiError> {
    let phone = state
        .miniapps
        .identity()
        .phone(&user.user_id)
        .await
        .map_err(|error| crate::error::api_error(error.into()))?;
    Ok(AxumJson(json!({ "phone": phone })))
}
