//! The WeChat Pay APIv3 surface at `/v3/...`: what real SDKs talk to.
//!
//! Every request passes [`authenticate_and_sign`]: it reads the raw body, verifies the
//! merchant's `WECHATPAY2-SHA256-RSA2048` signature against the key registered under
//! the request's serial, hands the handler a [`Caller`], and signs whatever the handler
//! answers — successes, errors and empty 204s alike — with the platform identity the
//! caller expects (certificate serial or `PUB_KEY_ID_…`).

mod bills;
mod codepay;
mod coupons;
mod error;
mod orders;
mod platform;
mod refunds;
mod sharing;
pub mod wire;

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use plaza_kernel::clock::Clock;
use plaza_pay::PayService;
use plaza_pay::model::{Merchant, SignMode};
use plaza_wx::auth::{parse_authorization, verify_request};
use plaza_wx::rsa::PublicKey;

pub use error::{Detail, Location, V3Error};
pub use orders::code_url;
pub use platform::Platform;

use crate::PayState;

/// The content type of every JSON answer.
pub(crate) const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// How far a request's timestamp may be from the wall clock, in seconds.
pub const TIMESTAMP_SKEW_S_MAX: i64 = 300;

/// Everything the payment surfaces need.
pub struct PaySurface {
    /// The payment domain.
    pub pay: Arc<PayService>,
    /// The platform's signing identity.
    pub platform: Arc<Platform>,
    /// Real time, for signature timestamps: SDKs compare them with their own clocks,
    /// so they must not follow the sandbox clock.
    pub wall_clock: Arc<dyn Clock>,
    /// The externally visible base URL (`download_url`s, `h5_url`s, checkout links).
    pub public_base_url: String,
    /// Keys bill download tokens.
    pub token_secret: Vec<u8>,
    /// Merchant public keys already parsed, by their PEM (parsing costs more than
    /// verifying).
    pub parsed_keys: std::sync::RwLock<std::collections::HashMap<String, Arc<PublicKey>>>,
}

/// Where a stock's coupons are usable: its merchants' names.
pub(crate) async fn coupon_usable_at(pay: &PayService, stock_id: &str) -> Option<String> {
    let stock = pay.public_stock(stock_id).await.ok().flatten()?;
    let mut names = Vec::new();
    for mchid in &stock.available_merchants {
        let name = pay
            .merchant(mchid)
            .await
            .ok()
            .flatten()
            .map_or_else(|| mchid.clone(), |merchant| merchant.name);
        names.push(name);
    }
    Some(names.join(", "))
}

/// Merchant keys kept parsed at most; beyond it the map starts over.
const PARSED_KEYS_MAX: usize = 10_000;

impl PaySurface {
    /// Where a stock's coupons are usable: its merchants' names.
    pub(crate) async fn coupon_usable_at(&self, stock_id: &str) -> Option<String> {
        coupon_usable_at(&self.pay, stock_id).await
    }

    fn merchant_key(&self, pem: &str) -> Result<Arc<PublicKey>, V3Error> {
        if let Some(key) = self
            .parsed_keys
            .read()
            .ok()
            .and_then(|keys| keys.get(pem).cloned())
        {
            return Ok(key);
        }
        let key = Arc::new(PublicKey::from_pem(pem).map_err(|error| {
            V3Error::system(&format!("stored merchant key unreadable: {error}"))
        })?);
        if let Ok(mut keys) = self.parsed_keys.write() {
            if keys.len() >= PARSED_KEYS_MAX {
                keys.clear();
            }
            keys.insert(pem.to_owned(), key.clone());
        }
        Ok(key)
    }
}

impl std::fmt::Debug for PaySurface {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaySurface")
            .field("public_base_url", &self.public_base_url)
            .finish_non_exhaustive()
    }
}

/// The authenticated merchant of a request, and its raw body.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) merchant: Arc<Merchant>,
    pub(crate) body: Bytes,
}

/// Which identity signs this response.
#[derive(Debug, Clone, Copy)]
struct Signer(SignMode);

#[expect(
    clippy::too_many_lines,
    reason = "the APIv3 route table, one route per line"
)]
pub(crate) fn router() -> Router<PayState> {
    Router::new()
        .route("/v3/certificates", get(platform::certificates))
        .route("/v3/pay/transactions/jsapi", post(orders::prepay_jsapi))
        .route("/v3/pay/transactions/native", post(orders::prepay_native))
        .route("/v3/pay/transactions/app", post(orders::prepay_app))
        .route("/v3/pay/transactions/h5", post(orders::prepay_h5))
        .route(
            "/v3/pay/transactions/id/{transaction_id}",
            get(orders::query_by_transaction_id),
        )
        .route(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}",
            get(orders::query_by_out_trade_no),
        )
        .route(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}/close",
            post(orders::close),
        )
        .route(
            "/v3/pay/partner/transactions/jsapi",
            post(orders::partner_prepay_jsapi),
        )
        .route(
            "/v3/pay/partner/transactions/native",
            post(orders::partner_prepay_native),
        )
        .route(
            "/v3/pay/partner/transactions/app",
            post(orders::partner_prepay_app),
        )
        .route(
            "/v3/pay/partner/transactions/h5",
            post(orders::partner_prepay_h5),
        )
        .route(
            "/v3/pay/partner/transactions/id/{transaction_id}",
            get(orders::partner_query_by_transaction_id),
        )
        .route(
            "/v3/pay/partner/transactions/out-trade-no/{out_trade_no}",
            get(orders::partner_query_by_out_trade_no),
        )
        .route(
            "/v3/pay/partner/transactions/out-trade-no/{out_trade_no}/close",
            post(orders::partner_close),
        )
        .route("/v3/pay/transactions/codepay", post(codepay::direct))
        .route(
            "/v3/pay/partner/transactions/codepay",
            post(codepay::partner),
        )
        .route(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}/reverse",
            post(codepay::reverse_direct),
        )
        .route(
            "/v3/pay/partner/transactions/out-trade-no/{out_trade_no}/reverse",
            post(codepay::reverse_partner),
        )
        .route("/v3/refund/domestic/refunds", post(refunds::create))
        .route(
            "/v3/refund/domestic/refunds/{out_refund_no}",
            get(refunds::query),
        )
        .route(
            "/v3/profitsharing/receivers/add",
            post(sharing::add_receiver),
        )
        .route(
            "/v3/profitsharing/receivers/delete",
            post(sharing::delete_receiver),
        )
        .route("/v3/profitsharing/orders", post(sharing::split))
        .route("/v3/profitsharing/orders/unfreeze", post(sharing::unfreeze))
        .route(
            "/v3/profitsharing/orders/{out_order_no}",
            get(sharing::split_query),
        )
        .route(
            "/v3/profitsharing/return-orders",
            post(sharing::return_split),
        )
        .route(
            "/v3/profitsharing/return-orders/{out_return_no}",
            get(sharing::return_query),
        )
        .route(
            "/v3/profitsharing/transactions/{transaction_id}/amounts",
            get(sharing::amounts),
        )
        .route(
            "/v3/profitsharing/merchant-configs/{sub_mchid}",
            get(sharing::merchant_config),
        )
        .route(
            "/v3/marketing/favor/coupon-stocks",
            post(coupons::create_stock),
        )
        .route("/v3/marketing/favor/stocks", get(coupons::stocks))
        .route(
            "/v3/marketing/favor/callbacks",
            post(coupons::set_callback).get(coupons::callback),
        )
        .route("/v3/marketing/favor/stocks/{stock_id}", get(coupons::stock))
        .route(
            "/v3/marketing/favor/stocks/{stock_id}/start",
            post(coupons::start),
        )
        .route(
            "/v3/marketing/favor/stocks/{stock_id}/pause",
            post(coupons::pause),
        )
        .route(
            "/v3/marketing/favor/stocks/{stock_id}/restart",
            post(coupons::restart),
        )
        .route(
            "/v3/marketing/favor/stocks/{stock_id}/stop",
            post(coupons::stop),
        )
        .route(
            "/v3/marketing/favor/stocks/{stock_id}/merchants",
            get(coupons::merchants),
        )
        .route(
            "/v3/marketing/favor/stocks/{stock_id}/items",
            get(coupons::items),
        )
        .route(
            "/v3/marketing/favor/users/{openid}/coupons",
            post(coupons::issue).get(coupons::user_coupons),
        )
        .route(
            "/v3/marketing/favor/users/{openid}/coupons/{coupon_id}",
            get(coupons::user_coupon),
        )
        .route("/v3/bill/tradebill", get(bills::trade_bill))
        .route("/v3/bill/fundflowbill", get(bills::fund_flow_bill))
        .route(
            "/v3/bill/sub-merchant-fundflowbill",
            get(bills::sub_merchant_fund_flow_bill),
        )
        .route("/v3/billdownload/file", get(bills::download))
        .route("/v3/{*rest}", axum::routing::any(not_served))
}

async fn not_served(request: Request) -> V3Error {
    V3Error::not_found(request.uri().path())
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Which identity the caller expects: a `Wechatpay-Serial` naming the public key id
/// asks for public-key mode, one naming a certificate for certificate mode.
fn requested_mode(headers: &HeaderMap) -> Option<SignMode> {
    let serial = header_text(headers, plaza_wx::response::HEADER_SERIAL)?.trim();
    if serial.starts_with("PUB_KEY_ID_") {
        Some(SignMode::PublicKey)
    } else if !serial.is_empty() {
        Some(SignMode::Certificate)
    } else {
        None
    }
}

/// Verifies the request, runs the handler and signs the answer.
pub(crate) async fn authenticate_and_sign(
    State(state): State<PayState>,
    request: Request,
    next: Next,
) -> Response {
    let surface = state.pay.clone();
    let requested = requested_mode(request.headers());
    let (response, mode) = match authenticate(&state, &surface, request, requested).await {
        Ok((request, merchant)) => {
            let mode = requested.unwrap_or(merchant.sign_mode);
            if let Some(requested) = requested
                && requested != merchant.sign_mode
            {
                // Notifications follow the identity the merchant's SDK last asked for.
                if let Err(error) = surface.pay.set_sign_mode(&merchant.mchid, requested).await {
                    tracing::warn!(%error, "recording the merchant's sign mode failed");
                }
            }
            let mut response = next.run(request).await;
            if let Some(Signer(chosen)) = response.extensions().get::<Signer>() {
                let chosen = *chosen;
                response.extensions_mut().remove::<Signer>();
                (response, chosen)
            } else {
                (response, mode)
            }
        }
        Err(error) => {
            tracing::warn!(code = error.code, message = %error.message, "pay v3 request refused");
            (
                error.into_response(),
                requested.unwrap_or(SignMode::Certificate),
            )
        }
    };
    sign(&surface, response, mode).await
}

async fn authenticate(
    state: &PayState,
    surface: &PaySurface,
    request: Request,
    _requested: Option<SignMode>,
) -> Result<(Request, Arc<Merchant>), V3Error> {
    let (parts, body) = request.into_parts();
    let limit = state.http.limits.request_body_bytes_max;
    let body = read_body(body, limit).await?;
    let header = header_text(&parts.headers, header::AUTHORIZATION.as_str())
        .ok_or_else(|| V3Error::sign("Authorization header is missing"))?;
    let authorization = parse_authorization(header)
        .map_err(|error| V3Error::sign(format!("Authorization header is malformed: {error}")))?;
    let now_s = surface.wall_clock.now().unix_ms().div_euclid(1_000);
    if (now_s - authorization.timestamp).abs() > TIMESTAMP_SKEW_S_MAX {
        return Err(V3Error::sign(format!(
            "timestamp {} is more than {TIMESTAMP_SKEW_S_MAX} s from the server's time {now_s}",
            authorization.timestamp
        )));
    }
    let merchant = surface
        .pay
        .merchant_shared(&authorization.mchid)
        .await
        .map_err(V3Error::from)?
        .ok_or_else(|| {
            V3Error::new(
                StatusCode::BAD_REQUEST,
                "MCH_NOT_EXISTS",
                format!(
                    "商户号不存在: merchant {} does not exist",
                    authorization.mchid
                ),
            )
        })?;
    let key = merchant.key(&authorization.serial_no).ok_or_else(|| {
        V3Error::sign(format!(
            "no merchant API certificate with serial {} is registered for {}",
            authorization.serial_no, merchant.mchid
        ))
    })?;
    let public_key = surface.merchant_key(&key.public_key_pem)?;
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    if !verify_request(
        &public_key,
        &authorization,
        parts.method.as_str(),
        &target,
        &body,
    ) {
        return Err(V3Error::sign("签名错误: the signature does not verify"));
    }
    let caller = Caller {
        merchant: merchant.clone(),
        body: body.clone(),
    };
    let mut request = Request::from_parts(parts, Body::from(body));
    request.extensions_mut().insert(caller);
    Ok((request, merchant))
}

/// How much of an oversized body is read and thrown away before answering, as a
/// multiple of the limit: enough for the client to finish sending and read the error,
/// bounded so a huge upload cannot keep a connection busy.
const OVERSIZED_BODY_DRAIN_FACTOR: usize = 8;

/// Reads the whole body, or answers `PARAM_ERROR` when it is over `limit` bytes.
async fn read_body(mut body: Body, limit: usize) -> Result<Bytes, V3Error> {
    use http_body_util::BodyExt;
    let mut collected = Vec::new();
    let mut total = 0_usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| {
            V3Error::param(
                "/",
                format!("the body could not be read: {error}"),
                Location::Body,
            )
        })?;
        if let Ok(data) = frame.into_data() {
            total = total.saturating_add(data.len());
            if total <= limit {
                collected.extend_from_slice(&data);
            } else if total > limit.saturating_mul(OVERSIZED_BODY_DRAIN_FACTOR) {
                break;
            }
        }
    }
    if total > limit {
        return Err(V3Error::param(
            "/",
            format!("the body is larger than {limit} bytes"),
            Location::Body,
        ));
    }
    Ok(Bytes::from(collected))
}

/// A random request id in WeChat's shape: hex, a dash, and 0 on success.
fn request_id(status: StatusCode) -> String {
    let code = if status.is_success() {
        0
    } else {
        status.as_u16()
    };
    format!(
        "{}-{code}",
        plaza_pay::ids::random_hex(40).to_ascii_uppercase()
    )
}

async fn sign(surface: &PaySurface, response: Response, mode: SignMode) -> Response {
    let (mut parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(error) => {
            return V3Error::system(&format!("response body unreadable: {error}")).into_response();
        }
    };
    let now_s = surface.wall_clock.now().unix_ms().div_euclid(1_000);
    match surface.platform.sign(mode, now_s, &body) {
        Ok(headers) => {
            for (name, value) in headers.to_pairs() {
                if let (Ok(name), Ok(value)) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(&value),
                ) {
                    parts.headers.insert(name, value);
                }
            }
        }
        Err(error) => {
            return V3Error::system(&format!("signing the response failed: {error}"))
                .into_response();
        }
    }
    if let Ok(value) = HeaderValue::from_str(&request_id(parts.status)) {
        parts.headers.insert("Request-ID", value);
    }
    Response::from_parts(parts, Body::from(body))
}

/// A JSON answer with the APIv3 content type.
pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, JSON_CONTENT_TYPE)], body).into_response()
}

/// `PARAM_ERROR` for a query string that does not parse.
pub(crate) fn bad_query(error: &axum::extract::rejection::QueryRejection) -> V3Error {
    V3Error::param("query", error.body_text(), Location::Query)
}

/// Decodes a JSON body, naming the offending field on failure.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, V3Error> {
    if body.is_empty() {
        return Err(V3Error::param(
            "/",
            "the body must be a JSON object",
            Location::Body,
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut deserializer);
    match parsed {
        Ok(value) => deserializer
            .end()
            .map(|()| value)
            .map_err(|error| V3Error::param("/", error.to_string(), Location::Body)),
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            let text = inner.to_string();
            let field = missing_field(&text).map_or_else(
                || pointer(&path),
                |missing| {
                    let parent = pointer(&path);
                    if parent == "/" {
                        format!("/{missing}")
                    } else {
                        format!("{parent}/{missing}")
                    }
                },
            );
            let issue = text.split(" at line ").next().unwrap_or(&text).to_owned();
            Err(V3Error::param(&field, issue, Location::Body))
        }
    }
}

fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
}

/// `amount.total` → `/amount/total`; `.` (the root) → `/`.
fn pointer(path: &str) -> String {
    if path == "." || path.is_empty() {
        return "/".to_owned();
    }
    let mut out = String::new();
    for segment in path.split('.') {
        let segment = segment.trim_start_matches('[').trim_end_matches(']');
        out.push('/');
        out.push_str(segment);
    }
    out.replace("[", "/").replace(']', "")
}

/// Makes the surrounding middleware sign with `mode` instead of the caller's default.
pub(crate) fn signed_with(mut response: Response, mode: SignMode) -> Response {
    response.extensions_mut().insert(Signer(mode));
    response
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code, reason = "fields exist to be parsed")]
    struct Amount {
        total: i64,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code, reason = "fields exist to be parsed")]
    struct Order {
        description: String,
        amount: Amount,
    }

    #[test]
    fn parse_errors_name_the_field() {
        let error = parse_body::<Order>(br#"{"amount":{"total":1}}"#).unwrap_err();
        assert_eq!(error.detail.unwrap().field, "/description");
        let error = parse_body::<Order>(br#"{"description":"x","amount":{}}"#).unwrap_err();
        assert_eq!(error.detail.unwrap().field, "/amount/total");
        let error =
            parse_body::<Order>(br#"{"description":"x","amount":{"total":"1"}}"#).unwrap_err();
        assert_eq!(error.detail.unwrap().field, "/amount/total");
        let error = parse_body::<Order>(b"{").unwrap_err();
        assert_eq!(error.code, "PARAM_ERROR");
        assert!(parse_body::<Order>(br#"{"description":"x","amount":{"total":1}}"#).is_ok());
    }
}
