//! Plaza's own payment API: merchants, apps and users for operators (admin token), and
//! the payer's side (a user's bearer token): scan an order, pay it with the password.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use plaza_pay::model::TradeType;
use plaza_pay::model::{Merchant, Order, SignMode, User};
use plaza_pay::time::rfc3339;
use plaza_pay::{NewMerchant, OrderRef, PayError, PrepayRequest};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::PayState;
use crate::error::{ApiError, code};
use crate::extract::{Admin, Json, Query, page_limit};
use crate::pay_v3::PaySurface;
use crate::pay_v3::wire::notification_view;

pub(crate) fn router() -> Router<PayState> {
    Router::new()
        .route("/api/v1/admin/apps", post(create_app))
        .route(
            "/api/v1/admin/merchants",
            post(create_merchant).get(list_merchants),
        )
        .route("/api/v1/admin/merchants/{mchid}", get(merchant))
        .route("/api/v1/admin/merchants/{mchid}/keys", post(add_key))
        .route("/api/v1/admin/merchants/{mchid}/apps", post(bind_app))
        .route(
            "/api/v1/admin/merchants/{mchid}/sign-mode",
            post(set_sign_mode),
        )
        .route(
            "/api/v1/admin/merchants/{mchid}/orders",
            get(merchant_orders).post(console_order),
        )
        .route(
            "/api/v1/admin/merchants/{mchid}/notifications",
            get(merchant_notifications),
        )
        .route("/api/v1/admin/notifications/{id}", get(notification))
        .route("/api/v1/admin/users", post(create_user).get(list_users))
        .route("/api/v1/admin/users/{user_id}", get(user))
        .route(
            "/api/v1/admin/users/{user_id}/sessions",
            post(create_session),
        )
        .route("/api/v1/sandbox/users/{user_id}/top-up", post(top_up))
        .route(
            "/api/v1/sandbox/merchants/{mchid}/top-up",
            post(top_up_merchant),
        )
        .route("/api/v1/me", get(me))
        .route("/api/v1/me/session", axum::routing::delete(sign_out))
        .route("/api/v1/me/openid", get(my_openid))
        .route("/api/v1/pay/scan", post(scan))
        .route("/api/v1/pay/confirm", post(confirm))
}

/// A payer's session token: `Authorization: Bearer pzu_…`, else the pages' cookie.
fn session_token(parts: &Parts) -> Result<&str, ApiError> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .or_else(|| {
            parts
                .headers
                .get(axum::http::header::COOKIE)
                .and_then(|value| value.to_str().ok())
                .and_then(|header| plaza_http::web::cookie(header, plaza_http::web::SESSION_COOKIE))
        })
        .ok_or_else(|| {
            ApiError::new(
                code::UNAUTHORIZED,
                "payer endpoints need `Authorization: Bearer <token>` from a user session",
            )
        })
}

/// The session token a request presents, whether or not its session still works.
pub(crate) struct SessionToken(String);

impl FromRequestParts<PayState> for SessionToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &PayState) -> Result<Self, ApiError> {
        session_token(parts).map(|token| Self(token.to_owned()))
    }
}

/// # `DELETE /api/v1/me/session`
///
/// Signs the presented session out: its token stops working. 204, also for a session
/// that had already ended.
async fn sign_out(
    State(state): State<PayState>,
    SessionToken(token): SessionToken,
) -> Result<StatusCode, ApiError> {
    state.pay.pay.revoke_session(&token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in payer of a request (`Authorization: Bearer pzu_…`).
pub(crate) struct Payer(pub(crate) User);

impl FromRequestParts<PayState> for Payer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &PayState) -> Result<Self, ApiError> {
        let token = session_token(parts)?;
        let user = state.pay
            .pay
            .session_user(token)
            .await
            .map_err(|error| match error {
                PayError::SessionUnknown => ApiError::new(
                    code::UNAUTHORIZED,
                    "the session token is unknown or its session has ended (signed out, idle too long, or too old)",
                ),
                other => other.into(),
            })?;
        Ok(Self(user))
    }
}

#[derive(Debug, Deserialize)]
struct NewAppBody {
    name: String,
    appid: Option<String>,
}

async fn create_app(
    State(state): State<PayState>,
    _admin: Admin,
    Json(body): Json<NewAppBody>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let app = state
        .pay
        .pay
        .create_app(&body.name, body.appid.as_deref())
        .await?;
    Ok((
        StatusCode::CREATED,
        AxumJson(json!({ "appid": app.appid, "name": app.name })),
    ))
}

#[derive(Debug, Deserialize)]
struct NewMerchantBody {
    name: String,
    appid: Option<String>,
    fee_rate_bps: Option<u32>,
    sign_mode: Option<String>,
    /// The merchant's own key: a certificate PEM, or a public key PEM with its serial.
    certificate: Option<String>,
    public_key: Option<String>,
    serial_no: Option<String>,
}

/// The fee when none is given: 0.6%.
pub(crate) const FEE_RATE_BPS_DEFAULT: u32 = 60;
/// Merchant certificates Plaza issues are valid this long: five years.
const MERCHANT_CERT_VALIDITY_S: i64 = 5 * 365 * 86_400;

pub(crate) fn sign_mode(text: Option<&str>) -> Result<SignMode, ApiError> {
    match text {
        None => Ok(SignMode::Certificate),
        Some(text) => SignMode::parse(text).ok_or_else(|| {
            ApiError::invalid_field("sign_mode", "must be certificate or public_key")
        }),
    }
}

pub(crate) struct MerchantKeyMaterial {
    pub(crate) serial_no: String,
    pub(crate) public_key_pem: String,
    pub(crate) private_key_pem: Option<String>,
    pub(crate) certificate_pem: Option<String>,
}

pub(crate) fn key_material(
    surface: &PaySurface,
    certificate: Option<&str>,
    public_key: Option<&str>,
    serial_no: Option<&str>,
    name: &str,
) -> Result<MerchantKeyMaterial, ApiError> {
    if let Some(pem) = certificate {
        let parsed = plaza_wx::cert::parse_certificate_pem(pem)
            .map_err(|error| ApiError::invalid_field("certificate", error))?;
        return Ok(MerchantKeyMaterial {
            serial_no: parsed.serial_hex,
            public_key_pem: parsed.public_key.to_spki_pem(),
            private_key_pem: None,
            certificate_pem: Some(pem.to_owned()),
        });
    }
    if let Some(pem) = public_key {
        let key = plaza_wx::rsa::PublicKey::from_pem(pem)
            .map_err(|error| ApiError::invalid_field("public_key", error))?;
        let serial_no = serial_no
            .ok_or_else(|| ApiError::invalid_field("serial_no", "is required with public_key"))?;
        return Ok(MerchantKeyMaterial {
            serial_no: serial_no.to_ascii_uppercase(),
            public_key_pem: key.to_spki_pem(),
            private_key_pem: None,
            certificate_pem: None,
        });
    }
    let key = plaza_wx::rsa::PrivateKey::generate()
        .map_err(|error| ApiError::unavailable(&format!("key generation failed: {error}")))?;
    let serial = plaza_wx::cert::random_serial(&mut rand::rng());
    let now_s = surface.wall_clock.now().unix_ms().div_euclid(1_000);
    let certificate = plaza_wx::cert::self_signed(
        &key,
        name,
        &serial,
        now_s - 86_400,
        now_s + MERCHANT_CERT_VALIDITY_S,
    )
    .map_err(|error| ApiError::unavailable(&format!("certificate failed: {error}")))?;
    let private_key_pem = key
        .to_pkcs8_pem()
        .map_err(|error| ApiError::unavailable(&format!("key export failed: {error}")))?;
    Ok(MerchantKeyMaterial {
        serial_no: certificate.serial_hex.clone(),
        public_key_pem: key.public_key().to_spki_pem(),
        private_key_pem: Some(private_key_pem),
        certificate_pem: Some(certificate.pem),
    })
}

/// What any SDK needs besides the merchant's number and app: its keys, the platform's
/// identity in both modes, and the gateway.
#[derive(Serialize)]
pub(crate) struct SigningCredentials {
    cert_serial_no: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    private_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate: Option<String>,
    apiv3_key: String,
    apiv2_key: String,
    sign_mode: &'static str,
    public_key_id: String,
    public_key: String,
    platform_serial_no: String,
    platform_certificate: String,
    gateway: String,
}

impl SigningCredentials {
    /// The credentials of a merchant account just made with `material`.
    pub(crate) fn of(
        surface: &PaySurface,
        merchant: &Merchant,
        material: MerchantKeyMaterial,
    ) -> Self {
        let platform = &surface.platform;
        Self {
            cert_serial_no: material.serial_no,
            private_key: material.private_key_pem,
            certificate: material.certificate_pem,
            apiv3_key: merchant.apiv3_key.clone(),
            apiv2_key: merchant.apiv2_key.clone(),
            sign_mode: merchant.sign_mode.as_str(),
            public_key_id: platform.public_key_id().to_owned(),
            public_key: platform.public_key_pem(),
            platform_serial_no: platform.serial().to_owned(),
            platform_certificate: platform.certificate_pem().to_owned(),
            gateway: surface.public_base_url.clone(),
        }
    }
}

#[derive(Serialize)]
struct MerchantCredentials {
    mchid: String,
    name: String,
    appid: String,
    fee_rate_bps: u32,
    #[serde(flatten)]
    signing: SigningCredentials,
}

async fn create_merchant(
    State(state): State<PayState>,
    _admin: Admin,
    Json(body): Json<NewMerchantBody>,
) -> Result<(StatusCode, AxumJson<MerchantCredentials>), ApiError> {
    let surface = &state.pay;
    let mode = sign_mode(body.sign_mode.as_deref())?;
    let material = key_material(
        surface,
        body.certificate.as_deref(),
        body.public_key.as_deref(),
        body.serial_no.as_deref(),
        &body.name,
    )?;
    let merchant = surface
        .pay
        .create_merchant(NewMerchant {
            name: body.name,
            appid: body.appid,
            serial_no: material.serial_no.clone(),
            public_key_pem: material.public_key_pem.clone(),
            fee_rate_bps: body.fee_rate_bps.unwrap_or(FEE_RATE_BPS_DEFAULT),
            sign_mode: mode,
        })
        .await?;
    let signing = SigningCredentials::of(surface, &merchant, material);
    Ok((
        StatusCode::CREATED,
        AxumJson(MerchantCredentials {
            appid: merchant.appids.first().cloned().unwrap_or_default(),
            mchid: merchant.mchid,
            name: merchant.name,
            fee_rate_bps: merchant.fee_rate_bps,
            signing,
        }),
    ))
}

pub(crate) async fn merchant_json(
    surface: &PaySurface,
    merchant: &Merchant,
) -> Result<Value, ApiError> {
    let available = surface.pay.available_balance(&merchant.mchid).await?;
    let today = plaza_pay::time::Day::of(surface.pay.now());
    let (pending, fee_held) = surface.pay.pending_balance(&merchant.mchid, today).await?;
    Ok(json!({
        "mchid": merchant.mchid,
        "name": merchant.name,
        "appids": merchant.appids,
        "kind": merchant.kind.as_str(),
        "provider": merchant.provider,
        "commission_bps": merchant.commission_bps,
        "fee_rate_bps": merchant.fee_rate_bps,
        "sign_mode": merchant.sign_mode.as_str(),
        "keys": merchant.keys.iter().map(|key| json!({
            "serial_no": key.serial_no,
            "added_at": rfc3339(key.added_at),
        })).collect::<Vec<_>>(),
        "available_balance": available,
        "pending_today": pending + fee_held,
        "created_at": rfc3339(merchant.created_at),
    }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListQuery {
    pub(crate) limit: Option<usize>,
}

async fn list_merchants(
    State(state): State<PayState>,
    _admin: Admin,
    Query(query): Query<ListQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    let mut merchants = Vec::new();
    for merchant in surface.pay.merchants(page_limit(query.limit)?).await? {
        merchants.push(merchant_json(surface, &merchant).await?);
    }
    Ok(AxumJson(json!({ "merchants": merchants })))
}

pub(crate) async fn find_merchant(surface: &PaySurface, mchid: &str) -> Result<Merchant, ApiError> {
    surface.pay.merchant(mchid).await?.ok_or_else(|| {
        PayError::MerchantNotFound {
            mchid: mchid.to_owned(),
        }
        .into()
    })
}

async fn merchant(
    State(state): State<PayState>,
    _admin: Admin,
    Path(mchid): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    let merchant = find_merchant(surface, &mchid).await?;
    Ok(AxumJson(merchant_json(surface, &merchant).await?))
}

#[derive(Debug, Deserialize)]
struct KeyBody {
    certificate: Option<String>,
    public_key: Option<String>,
    serial_no: Option<String>,
}

async fn add_key(
    State(state): State<PayState>,
    _admin: Admin,
    Path(mchid): Path<String>,
    Json(body): Json<KeyBody>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let surface = &state.pay;
    if body.certificate.is_none() && body.public_key.is_none() {
        return Err(ApiError::invalid_field(
            "certificate",
            "give a certificate PEM, or a public_key PEM with its serial_no",
        ));
    }
    let material = key_material(
        surface,
        body.certificate.as_deref(),
        body.public_key.as_deref(),
        body.serial_no.as_deref(),
        &mchid,
    )?;
    let merchant = surface
        .pay
        .add_merchant_key(&mchid, &material.serial_no, &material.public_key_pem)
        .await?;
    Ok((
        StatusCode::CREATED,
        AxumJson(json!({ "mchid": merchant.mchid, "serial_no": material.serial_no })),
    ))
}

#[derive(Debug, Deserialize)]
struct BindBody {
    appid: String,
}

async fn bind_app(
    State(state): State<PayState>,
    _admin: Admin,
    Path(mchid): Path<String>,
    Json(body): Json<BindBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let merchant = state.pay.pay.bind_app(&mchid, &body.appid).await?;
    Ok(AxumJson(
        json!({ "mchid": merchant.mchid, "appids": merchant.appids }),
    ))
}

#[derive(Debug, Deserialize)]
struct SignModeBody {
    sign_mode: String,
}

async fn set_sign_mode(
    State(state): State<PayState>,
    _admin: Admin,
    Path(mchid): Path<String>,
    Json(body): Json<SignModeBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let mode = sign_mode(Some(&body.sign_mode))?;
    let merchant = state.pay.pay.set_sign_mode(&mchid, mode).await?;
    Ok(AxumJson(
        json!({ "mchid": merchant.mchid, "sign_mode": merchant.sign_mode.as_str() }),
    ))
}

/// An order as Plaza's own API and pages show it.
pub(crate) fn order_json(surface: &PaySurface, merchant_name: &str, order: &Order) -> Value {
    json!({
        "mchid": order.mchid,
        "merchant_name": merchant_name,
        "appid": order.appid,
        "out_trade_no": order.out_trade_no,
        "description": order.description,
        "total": order.total_minor,
        "currency": order.currency,
        "trade_type": order.trade_type.wire(),
        "trade_state": order.state.wire(),
        "trade_state_desc": order.state.description(),
        "transaction_id": order.transaction_id,
        "prepay_id": order.prepay_id,
        "code_url": crate::pay_v3::code_url(order),
        "checkout_url": format!("{}/app/pay/checkout?code={}", surface.public_base_url, order.code_token),
        "time_expire": rfc3339(order.time_expire),
        "success_time": order.success_time.map(rfc3339),
        "refunded": order.refunded_minor,
        "created_at": rfc3339(order.created_at),
    })
}

async fn merchant_orders(
    State(state): State<PayState>,
    _admin: Admin,
    Path(mchid): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    let merchant = find_merchant(surface, &mchid).await?;
    let orders = surface
        .pay
        .orders_of(&mchid, page_limit(query.limit)?)
        .await?;
    let orders: Vec<Value> = orders
        .iter()
        .map(|order| order_json(surface, &merchant.name, order))
        .collect();
    Ok(AxumJson(json!({ "orders": orders })))
}

#[derive(Debug, Deserialize)]
struct ConsoleOrderBody {
    description: String,
    total: i64,
    out_trade_no: Option<String>,
    notify_url: Option<String>,
    appid: Option<String>,
}

/// Creates a Native order from the console (the merchant demo page), without a signed
/// APIv3 request.
async fn console_order(
    State(state): State<PayState>,
    _admin: Admin,
    Path(mchid): Path<String>,
    Json(body): Json<ConsoleOrderBody>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let surface = &state.pay;
    let merchant = find_merchant(surface, &mchid).await?;
    let appid = body
        .appid
        .or_else(|| merchant.appids.first().cloned())
        .unwrap_or_default();
    let out_trade_no = body.out_trade_no.unwrap_or_else(|| {
        format!(
            "DEMO{}{}",
            plaza_pay::time::compact(surface.pay.now()),
            plaza_pay::ids::random_hex(6)
        )
    });
    let order = surface
        .pay
        .prepay(PrepayRequest {
            mchid: mchid.clone(),
            appid,
            trade_type: TradeType::Native,
            description: body.description,
            out_trade_no,
            time_expire: None,
            attach: None,
            notify_url: body.notify_url.unwrap_or_default(),
            goods_tag: None,
            total_minor: body.total,
            currency: "CNY".to_owned(),
            payer_openid: None,
            payer_client_ip: None,
            device_id: None,
            profit_sharing: false,
            sp_mchid: None,
            sub_appid: None,
            payer_sub_openid: None,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        AxumJson(order_json(surface, &merchant.name, &order)),
    ))
}

async fn merchant_notifications(
    State(state): State<PayState>,
    _admin: Admin,
    Path(mchid): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    find_merchant(surface, &mchid).await?;
    let notifications = surface
        .pay
        .notifications_of(&mchid, page_limit(query.limit)?)
        .await?;
    let views: Vec<Value> = notifications
        .iter()
        .map(|notification| {
            serde_json::to_value(notification_view(notification)).unwrap_or(Value::Null)
        })
        .collect();
    Ok(AxumJson(json!({ "notifications": views })))
}

async fn notification(
    State(state): State<PayState>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let notification = state.pay.pay.notification(&id).await?.ok_or_else(|| {
        ApiError::new(code::NOT_FOUND, format!("notification {id} does not exist"))
    })?;
    Ok(AxumJson(
        serde_json::to_value(notification_view(&notification)).unwrap_or(Value::Null),
    ))
}

#[derive(Debug, Deserialize)]
struct NewUserBody {
    name: String,
    password: Option<String>,
    balance: Option<i64>,
    password_free_limit: Option<i64>,
}

async fn user_json(surface: &PaySurface, user: &User) -> Result<Value, ApiError> {
    Ok(json!({
        "user_id": user.user_id,
        "name": user.name,
        "balance": surface.pay.wallet_balance(&user.user_id).await?,
        "password_free_limit": user.password_free_limit_minor,
        "locked_until": user.locked_until.map(rfc3339),
        "created_at": rfc3339(user.created_at),
    }))
}

/// Creates a user; with `balance` (sandbox only) the wallet starts with that much.
async fn create_user(
    State(state): State<PayState>,
    _admin: Admin,
    Json(body): Json<NewUserBody>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let surface = &state.pay;
    if body.balance.is_some() && state.http.time_travel.is_none() {
        return Err(ApiError::new(
            code::SANDBOX_ONLY,
            "a starting balance is a sandbox power; run plaza serve --sandbox",
        ));
    }
    let password = body.password.unwrap_or_else(|| {
        use rand::Rng as _;
        format!("{:06}", rand::rng().random_range(0..1_000_000))
    });
    let mut user = surface.pay.create_user(&body.name, &password).await?;
    if let Some(limit) = body.password_free_limit {
        user = surface
            .pay
            .set_password_free_limit(&user.user_id, limit)
            .await?;
    }
    if let Some(balance) = body.balance {
        surface
            .pay
            .top_up(&user.user_id, balance, "initial")
            .await?;
    }
    let token = surface.pay.create_session(&user.user_id).await?;
    let mut view = user_json(surface, &user).await?;
    view["password"] = json!(password);
    view["token"] = json!(token);
    Ok((StatusCode::CREATED, AxumJson(view)))
}

async fn list_users(
    State(state): State<PayState>,
    _admin: Admin,
    Query(query): Query<ListQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    let mut users = Vec::new();
    for user in surface.pay.users(page_limit(query.limit)?).await? {
        users.push(user_json(surface, &user).await?);
    }
    Ok(AxumJson(json!({ "users": users })))
}

async fn find_user(surface: &PaySurface, user_id: &str) -> Result<User, ApiError> {
    surface.pay.user(user_id).await?.ok_or_else(|| {
        PayError::UserNotFound {
            user_id: user_id.to_owned(),
        }
        .into()
    })
}

async fn user(
    State(state): State<PayState>,
    _admin: Admin,
    Path(user_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    let user = find_user(surface, &user_id).await?;
    Ok(AxumJson(user_json(surface, &user).await?))
}

async fn create_session(
    State(state): State<PayState>,
    _admin: Admin,
    Path(user_id): Path<String>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let token = state.pay.pay.create_session(&user_id).await?;
    Ok((
        StatusCode::CREATED,
        AxumJson(json!({ "user_id": user_id, "token": token })),
    ))
}

#[derive(Debug, Deserialize)]
struct TopUpBody {
    amount: i64,
    request_id: String,
}

async fn top_up(
    State(state): State<PayState>,
    _admin: Admin,
    Path(user_id): Path<String>,
    Json(body): Json<TopUpBody>,
) -> Result<AxumJson<Value>, ApiError> {
    if state.http.time_travel.is_none() {
        return Err(ApiError::new(
            code::SANDBOX_ONLY,
            "topping up a wallet from nowhere is a sandbox power; run plaza serve --sandbox",
        ));
    }
    let balance = state
        .pay
        .pay
        .top_up(&user_id, body.amount, &body.request_id)
        .await?;
    Ok(AxumJson(json!({ "user_id": user_id, "balance": balance })))
}

async fn top_up_merchant(
    State(state): State<PayState>,
    _admin: Admin,
    Path(mchid): Path<String>,
    Json(body): Json<TopUpBody>,
) -> Result<AxumJson<Value>, ApiError> {
    if state.http.time_travel.is_none() {
        return Err(ApiError::new(
            code::SANDBOX_ONLY,
            "topping up a balance from nowhere is a sandbox power; run plaza serve --sandbox",
        ));
    }
    let balance = state
        .pay
        .pay
        .top_up_merchant(&mchid, body.amount, &body.request_id)
        .await?;
    Ok(AxumJson(
        json!({ "mchid": mchid, "available_balance": balance }),
    ))
}

async fn me(
    State(state): State<PayState>,
    Payer(user): Payer,
) -> Result<AxumJson<Value>, ApiError> {
    Ok(AxumJson(user_json(&state.pay, &user).await?))
}

#[derive(Debug, Deserialize)]
struct OpenidQuery {
    appid: String,
}

async fn my_openid(
    State(state): State<PayState>,
    Payer(user): Payer,
    Query(query): Query<OpenidQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let openid = state
        .pay
        .pay
        .openid_remembered(&query.appid, &user.user_id)
        .await?;
    Ok(AxumJson(json!({ "appid": query.appid, "openid": openid })))
}

#[derive(Debug, Deserialize)]
struct OrderRefBody {
    code_url: Option<String>,
    prepay_id: Option<String>,
    password: Option<String>,
    /// A coupon to use, or `"none"`; absent: the best usable one.
    coupon_id: Option<String>,
}

fn order_ref(body: &OrderRefBody) -> Result<OrderRef, ApiError> {
    match (&body.code_url, &body.prepay_id) {
        (Some(code_url), None) => {
            let token = code_url
                .strip_prefix("weixin://wxpay/bizpayurl?pr=")
                .unwrap_or(code_url);
            Ok(OrderRef::CodeToken(token.to_owned()))
        }
        (None, Some(prepay_id)) => Ok(OrderRef::PrepayId(prepay_id.clone())),
        _ => Err(ApiError::invalid_field(
            "code_url",
            "give exactly one of code_url (or its pr token) and prepay_id",
        )),
    }
}

/// "Scans" an order: what the payer sees before confirming.
async fn scan(
    State(state): State<PayState>,
    Payer(user): Payer,
    Json(body): Json<OrderRefBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    let (order, _) = surface
        .pay
        .order_for_payer(&user.user_id, &order_ref(&body)?)
        .await?;
    let merchant = find_merchant(surface, &order.mchid).await?;
    let mut view = order_json(surface, &merchant.name, &order);
    view["balance"] = json!(surface.pay.wallet_balance(&user.user_id).await?);
    Ok(AxumJson(view))
}

/// Pays an order with the payment password.
async fn confirm(
    State(state): State<PayState>,
    Payer(user): Payer,
    Json(body): Json<OrderRefBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    let reference = order_ref(&body)?;
    let password = body
        .password
        .as_deref()
        .ok_or_else(|| ApiError::invalid_field("password", "is required"))?;
    let choice = match body.coupon_id.as_deref() {
        None => plaza_pay::coupons::CouponChoice::Best,
        Some("none") => plaza_pay::coupons::CouponChoice::None,
        Some(coupon_id) => plaza_pay::coupons::CouponChoice::This(coupon_id.to_owned()),
    };
    let order = surface
        .pay
        .pay_with(&user.user_id, &reference, password, &choice)
        .await?;
    let merchant = find_merchant(surface, &order.mchid).await?;
    let mut view = order_json(surface, &merchant.name, &order);
    view["payer_total"] = json!(order.payer_total_minor);
    view["coupon"] = json!(order.coupon.as_ref().map(|coupon| json!({
        "coupon_id": coupon.coupon_id, "name": coupon.name, "amount": coupon.amount_minor,
    })));
    view["balance"] = json!(surface.pay.wallet_balance(&user.user_id).await?);
    Ok(AxumJson(view))
}
