//! The WeChat Pay APIv2 (XML) surface for counter payments: `POST /pay/micropay`,
//! `/pay/orderquery` and `/secapi/pay/reverse`, as `wechatpy` and cash registers speak
//! them (`shared/specs/wechatpay-v3.md` §10).
//!
//! Every request is a flat `<xml>` document signed with the merchant's APIv2 key (MD5,
//! or HMAC-SHA256 when `sign_type` says so). A document that cannot be read answers
//! `return_code=FAIL`; everything else answers `return_code=SUCCESS` with
//! `result_code=SUCCESS`, or `FAIL` and an `err_code`, signed the way the request was.
//! A service provider signs as `mch_id` and names its sub-merchant in `sub_mch_id`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use plaza_pay::model::{Merchant, MerchantKind, Order, TradeState, TradeType};
use plaza_pay::{CodepayOutcome, CodepayRequest, PayError, PrepayRequest};
use plaza_wx::v2::{Params, SignType, V2Error, parse_xml, sign, to_xml, verify};

use crate::PayState;
use crate::pay_v3::PaySurface;

/// The paths of the APIv2 surface (those [`router`] serves).
pub(crate) const PATHS: [&str; 3] = ["/pay/micropay", "/pay/orderquery", "/secapi/pay/reverse"];

pub(crate) fn router() -> Router<PayState> {
    Router::new()
        .route("/pay/micropay", post(micropay))
        .route("/pay/orderquery", post(orderquery))
        .route("/secapi/pay/reverse", post(reverse))
}

/// The text of a JSON error envelope's `message`, if the body is one.
fn envelope_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("message")?.as_str().map(str::to_owned)
}

/// The layer that keeps every answer on an APIv2 path XML: what the standard layers and
/// the router answer on their own — a body over the limit (413), a method other than
/// POST (405), a timeout, a panic — becomes `return_code=FAIL` with the reason in
/// `return_msg`, keeping its HTTP status and headers.
pub(crate) async fn answer_in_xml(
    State(body_bytes_max): State<usize>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let response = next.run(request).await;
    let is_xml = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/xml"));
    if is_xml {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // Error bodies of the standard layers are small; a larger one is not read.
    let detail = axum::body::to_bytes(body, 64 * 1024)
        .await
        .ok()
        .and_then(|bytes| envelope_message(&bytes));
    let message = match parts.status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("REQUEST_TOO_LARGE: 请求体过大, the body is larger than {body_bytes_max} bytes")
        }
        StatusCode::METHOD_NOT_ALLOWED => {
            "METHOD_NOT_ALLOWED: APIv2 requests are POSTs of an <xml> document".to_owned()
        }
        StatusCode::NOT_FOUND => "NOT_FOUND: Plaza does not serve this path".to_owned(),
        status if status.is_server_error() => format!(
            "SYSTEMERROR: 系统错误, {}",
            detail.unwrap_or_else(|| "retry with the same out_trade_no".to_owned())
        ),
        status => format!(
            "SYSTEMERROR: {}",
            detail.unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned())
        ),
    };
    let failure = communication_failure(&message);
    parts.headers.remove(header::CONTENT_LENGTH);
    if let Some(content_type) = failure.headers().get(header::CONTENT_TYPE) {
        parts
            .headers
            .insert(header::CONTENT_TYPE, content_type.clone());
    }
    Response::from_parts(parts, failure.into_body())
}

/// A refusal: an `err_code` and its description.
struct Refusal {
    code: &'static str,
    description: String,
}

impl Refusal {
    fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }
}

impl From<PayError> for Refusal {
    fn from(error: PayError) -> Self {
        let description = error.to_string();
        let code = match error {
            PayError::Invalid { .. } => "PARAM_ERROR",
            PayError::MerchantNotFound { .. } => "MCHID_NOT_EXIST",
            PayError::AppNotFound { .. } => "APPID_NOT_EXIST",
            PayError::AppidMchidNotMatch { .. } => "APPID_MCHID_NOT_MATCH",
            PayError::OutTradeNoUsed { .. } => "OUT_TRADE_NO_USED",
            PayError::OrderPaid { .. } => "ORDERPAID",
            PayError::OrderClosed { .. } => "ORDERCLOSED",
            PayError::OrderReversed { .. } => "ORDERREVERSED",
            PayError::OrderNotFound | PayError::RefundOrderNotFound => "ORDERNOTEXIST",
            PayError::AuthCodeMalformed { .. } => "AUTH_CODE_ERROR",
            PayError::AuthCodeInvalid => "AUTH_CODE_INVALID",
            PayError::AuthCodeExpired => "AUTHCODEEXPIRE",
            PayError::WalletBalanceNotEnough { .. } => "NOTENOUGH",
            PayError::PaymentFailed { .. } => "BANKERROR",
            PayError::NoAuth { .. } => "NOAUTH",
            PayError::MerchantBalanceNotEnough => "NOTENOUGH",
            PayError::Busy { .. } | PayError::Unavailable { .. } => "SYSTEMERROR",
            PayError::AmountOverflow { .. } | PayError::BalanceOverflow { .. } => "TRADE_ERROR",
            PayError::StockNotFound { .. }
            | PayError::StockNotActive { .. }
            | PayError::StockExhausted { .. }
            | PayError::CouponLimitPerUser { .. } => "TRADE_ERROR",
            PayError::RefundNotFound
            | PayError::InvalidRequest { .. }
            | PayError::WrongPassword { .. }
            | PayError::PasswordLocked { .. }
            | PayError::NotThePayer
            | PayError::NotPayable { .. }
            | PayError::UserNotFound { .. }
            | PayError::SessionUnknown => "TRADE_ERROR",
        };
        Self { code, description }
    }
}

/// A verified request: the merchant that signed it, the merchant it acts for (the
/// sub-merchant of a provider, or itself), and its parameters.
struct Signed {
    signer: Arc<Merchant>,
    acting_for: String,
    sp_mchid: Option<String>,
    sign_type: SignType,
    params: Params,
}

impl Signed {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    fn required(&self, name: &str) -> Result<&str, Refusal> {
        self.param(name)
            .ok_or_else(|| Refusal::new("LACK_PARAMS", format!("缺少参数 {name}")))
    }
}

fn xml_response(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// 404 for a path under `/pay/` or `/secapi/` that APIv2 does not have, as APIv2
/// answers: XML with `return_code=FAIL`.
pub(crate) fn not_found(path: &str) -> Response {
    let mut response = communication_failure(&format!("Plaza does not serve {path}"));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// `return_code=FAIL`: the document itself could not be taken.
fn communication_failure(message: &str) -> Response {
    let mut params = Params::new();
    params.insert("return_code".to_owned(), "FAIL".to_owned());
    params.insert("return_msg".to_owned(), message.to_owned());
    xml_response(to_xml(&params))
}

/// Reads and verifies a request, or answers for it.
#[expect(
    clippy::too_many_lines,
    reason = "each APIv2 refusal in the order WeChat checks: XML, merchant, key, signature type, signature"
)]
async fn authenticate(surface: &PaySurface, body: &[u8]) -> Result<Signed, Response> {
    let params = parse_xml(body).map_err(|error| {
        communication_failure(&match error {
            V2Error::NotUtf8 => "NOT_UTF8: 编码格式错误, the body must be UTF-8".to_owned(),
            other => format!("XML_FORMAT_ERROR: XML格式错误, {other}"),
        })
    })?;
    let mch_id = params
        .get("mch_id")
        .filter(|value| !value.is_empty())
        .cloned()
        .ok_or_else(|| communication_failure("LACK_PARAMS: 缺少参数 mch_id"))?;
    let refuse = |params: &Params, refusal: Refusal| {
        let mut answer = Params::new();
        answer.insert("mch_id".to_owned(), mch_id.clone());
        if let Some(appid) = params.get("appid") {
            answer.insert("appid".to_owned(), appid.clone());
        }
        fill_result(&mut answer, Err(refusal));
        xml_response(to_xml(&answer))
    };
    let sign_type = match SignType::parse(params.get("sign_type").map(String::as_str)) {
        Ok(sign_type) => sign_type,
        Err(error) => {
            return Err(refuse(
                &params,
                Refusal::new("PARAM_ERROR", error.to_string()),
            ));
        }
    };
    let signer = match surface.pay.merchant_shared(&mch_id).await {
        Ok(Some(merchant)) => merchant,
        Ok(None) => {
            return Err(refuse(
                &params,
                Refusal::new("MCHID_NOT_EXIST", format!("商户号不存在: {mch_id}")),
            ));
        }
        Err(error) => return Err(refuse(&params, error.into())),
    };
    if signer.apiv2_key.is_empty() || !verify(&params, &signer.apiv2_key, sign_type) {
        return Err(refuse(
            &params,
            Refusal::new(
                "SIGNERROR",
                format!(
                    "签名错误: the sign does not match the {} of the parameters with the merchant's APIv2 key",
                    sign_type.as_str()
                ),
            ),
        ));
    }
    let sub_mch_id = params
        .get("sub_mch_id")
        .filter(|value| !value.is_empty())
        .cloned();
    let (acting_for, sp_mchid) = match (&sub_mch_id, signer.kind) {
        (Some(sub), MerchantKind::Provider) => {
            if let Err(error) = surface.pay.sub_merchant_of(&mch_id, sub).await {
                return Err(refuse(&params, error.into()));
            }
            (sub.clone(), Some(mch_id.clone()))
        }
        (Some(_), _) => {
            return Err(refuse(
                &params,
                Refusal::new("NOAUTH", "sub_mch_id is for service providers"),
            ));
        }
        (None, MerchantKind::Provider) => {
            return Err(refuse(
                &params,
                Refusal::new(
                    "LACK_PARAMS",
                    "缺少参数 sub_mch_id: a service provider acts for a sub-merchant",
                ),
            ));
        }
        (None, _) => (mch_id.clone(), None),
    };
    Ok(Signed {
        signer,
        acting_for,
        sp_mchid,
        sign_type,
        params,
    })
}

/// Adds `result_code` and, on refusal, `err_code`/`err_code_des`.
fn fill_result(answer: &mut Params, outcome: Result<(), Refusal>) {
    answer.insert("return_code".to_owned(), "SUCCESS".to_owned());
    answer.insert("return_msg".to_owned(), "OK".to_owned());
    match outcome {
        Ok(()) => {
            answer.insert("result_code".to_owned(), "SUCCESS".to_owned());
        }
        Err(refusal) => {
            answer.insert("result_code".to_owned(), "FAIL".to_owned());
            answer.insert("err_code".to_owned(), refusal.code.to_owned());
            answer.insert("err_code_des".to_owned(), refusal.description);
        }
    }
}

/// The signed answer to a verified request.
fn answer(request: &Signed, outcome: Result<Params, Refusal>) -> Response {
    let mut answer = Params::new();
    for name in ["appid", "sub_appid", "mch_id", "sub_mch_id", "device_info"] {
        if let Some(value) = request.param(name) {
            answer.insert(name.to_owned(), value.to_owned());
        }
    }
    answer.insert("nonce_str".to_owned(), plaza_pay::ids::random_alnum(32));
    match outcome {
        Ok(data) => {
            answer.extend(data);
            fill_result(&mut answer, Ok(()));
        }
        Err(refusal) => fill_result(&mut answer, Err(refusal)),
    }
    let signature = sign(&answer, &request.signer.apiv2_key, request.sign_type);
    answer.insert("sign".to_owned(), signature);
    xml_response(to_xml(&answer))
}

/// The order fields micropay and orderquery answer with.
fn order_params(order: &Order) -> Params {
    let mut data = Params::new();
    let mut put = |name: &str, value: String| {
        data.insert(name.to_owned(), value);
    };
    put("out_trade_no", order.out_trade_no.clone());
    put("trade_type", order.trade_type.wire().to_owned());
    put("trade_state", order.state.wire().to_owned());
    put("trade_state_desc", order.state.description().to_owned());
    put("total_fee", order.total_minor.to_string());
    put("fee_type", order.currency.clone());
    if let Some(attach) = &order.attach {
        put("attach", attach.clone());
    }
    if let Some(transaction_id) = &order.transaction_id {
        put("transaction_id", transaction_id.clone());
    }
    if let Some(success_time) = order.success_time {
        put("time_end", plaza_pay::time::compact(success_time));
        put("bank_type", "OTHERS".to_owned());
        put("is_subscribe", "N".to_owned());
        put("cash_fee_type", order.currency.clone());
        put("cash_fee", order.payer_total_minor.to_string());
        put("settlement_total_fee", order.total_minor.to_string());
        put("coupon_fee", "0".to_owned());
    }
    if let Some(openid) = &order.paid_openid {
        put("openid", openid.clone());
    }
    if let Some(sub_openid) = &order.paid_sub_openid {
        put("sub_openid", sub_openid.clone());
        put("sub_is_subscribe", "N".to_owned());
    }
    data
}

fn check_appid(request: &Signed, appid: &str) -> Result<(), Refusal> {
    if request.signer.appids.iter().any(|bound| bound == appid) {
        Ok(())
    } else {
        Err(PayError::AppidMchidNotMatch {
            appid: appid.to_owned(),
            mchid: request.signer.mchid.clone(),
        }
        .into())
    }
}

async fn micropay_outcome(surface: &PaySurface, request: &Signed) -> Result<Params, Refusal> {
    let total_fee = request.required("total_fee")?;
    let total_minor = total_fee.parse::<i64>().map_err(|_| {
        Refusal::new(
            "PARAM_ERROR",
            format!("total_fee {total_fee:?} is not a whole number of fen"),
        )
    })?;
    plaza_pay::money::check_amount("total_fee", total_minor)?;
    for name in ["nonce_str", "spbill_create_ip"] {
        request.required(name)?;
    }
    let order = PrepayRequest {
        mchid: request.acting_for.clone(),
        appid: request.required("appid")?.to_owned(),
        trade_type: TradeType::Micropay,
        description: request.required("body")?.to_owned(),
        out_trade_no: request.required("out_trade_no")?.to_owned(),
        time_expire: None,
        attach: request.param("attach").map(str::to_owned),
        notify_url: String::new(),
        goods_tag: request.param("goods_tag").map(str::to_owned),
        total_minor,
        currency: request.param("fee_type").unwrap_or("CNY").to_owned(),
        payer_openid: None,
        payer_client_ip: request.param("spbill_create_ip").map(str::to_owned),
        device_id: request.param("device_info").map(str::to_owned),
        profit_sharing: request.param("profit_sharing") == Some("Y"),
        sp_mchid: request.sp_mchid.clone(),
        sub_appid: request.param("sub_appid").map(str::to_owned),
        payer_sub_openid: None,
    };
    let auth_code = request.required("auth_code")?.to_owned();
    match surface
        .pay
        .codepay(CodepayRequest { order, auth_code })
        .await?
    {
        CodepayOutcome::Paid(order) => Ok(order_params(&order)),
        CodepayOutcome::UserPaying(_) => Err(Refusal::new(
            "USERPAYING",
            "需要用户输入支付密码: poll pay/orderquery, then reverse if it does not complete",
        )),
    }
}

/// `POST /pay/micropay`: charge the payer's payment code.
async fn micropay(State(state): State<PayState>, body: Bytes) -> Response {
    let surface = &state.pay;
    let request = match authenticate(surface, &body).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let outcome = micropay_outcome(surface, &request).await;
    answer(&request, outcome)
}

async fn find_order(surface: &PaySurface, request: &Signed) -> Result<Order, Refusal> {
    let appid = request.required("appid")?;
    if request.sp_mchid.is_none() {
        check_appid(request, appid)?;
    }
    let order = match (
        request.param("transaction_id"),
        request.param("out_trade_no"),
    ) {
        (Some(transaction_id), _) => {
            surface
                .pay
                .order_by_transaction_id(&request.acting_for, transaction_id)
                .await?
        }
        (None, Some(out_trade_no)) => surface.pay.order(&request.acting_for, out_trade_no).await?,
        (None, None) => {
            return Err(Refusal::new(
                "LACK_PARAMS",
                "缺少参数: transaction_id or out_trade_no",
            ));
        }
    };
    order.ok_or_else(|| Refusal::from(PayError::OrderNotFound))
}

/// `POST /pay/orderquery`.
async fn orderquery(State(state): State<PayState>, body: Bytes) -> Response {
    let surface = &state.pay;
    let request = match authenticate(surface, &body).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let outcome = match find_order(surface, &request).await {
        // A sandbox-scripted USERPAYING order counts the poll.
        Ok(order) => surface
            .pay
            .order_polled(order)
            .await
            .map(|order| order_params(&order))
            .map_err(Refusal::from),
        Err(refusal) => Err(refusal),
    };
    answer(&request, outcome)
}

async fn reverse_outcome(surface: &PaySurface, request: &Signed) -> Result<Params, Refusal> {
    let order = find_order(surface, request).await?;
    let reversed = surface
        .pay
        .reverse(
            &request.acting_for,
            &order.out_trade_no,
            request.sp_mchid.as_deref(),
        )
        .await?;
    let mut data = Params::new();
    data.insert(
        "recall".to_owned(),
        if reversed.state == TradeState::Revoked {
            "N"
        } else {
            "Y"
        }
        .to_owned(),
    );
    Ok(data)
}

/// `POST /secapi/pay/reverse`: undo a code payment (refunding it if it was paid).
async fn reverse(State(state): State<PayState>, body: Bytes) -> Response {
    let surface = &state.pay;
    let request = match authenticate(surface, &body).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    let outcome = reverse_outcome(surface, &request).await;
    answer(&request, outcome)
}
