//! The pages: home, sign-in, the payer's wallet and checkout, the merchant demo.

use axum::Json as AxumJson;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use plaza_pay::model::{Merchant, MerchantKind, TradeState, TradeType, User};
use plaza_pay::{OrderRef, PrepayRequest};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ErrorPage, PageForm, PageQuery};
use super::{
    MERCHANT_COOKIE, SESSION_COOKIE, Section, Viewer, cookie_in, escape, layout,
    merchant_cookie_value, pin_inputs, qr_svg, set_cookie, signed_in_merchant, yuan,
};
use crate::PayState;
use crate::error::{ApiError, code};
use crate::pay_v3::PaySurface;
use crate::routes::pay::order_json;

/// How many recent orders the merchant page lists.
const RECENT_ORDERS: usize = 8;

async fn signed_in_user(surface: &PaySurface, headers: &HeaderMap) -> Option<User> {
    let token = cookie_in(headers, SESSION_COOKIE)?;
    surface.pay.session_user(token).await.ok()
}

async fn merchant_of(surface: &PaySurface, headers: &HeaderMap) -> Option<Merchant> {
    let mchid = signed_in_merchant(surface, headers)?;
    surface.pay.merchant(&mchid).await.ok().flatten()
}

pub(super) async fn viewer(
    state: &PayState,
    surface: &PaySurface,
    headers: &HeaderMap,
) -> (Viewer, Option<User>, Option<Merchant>) {
    let user = signed_in_user(surface, headers).await;
    let merchant = merchant_of(surface, headers).await;
    let clock = match &state.http.time_travel {
        Some(_) => {
            let next_job = state.http.jobs.next_due_at().await.ok().flatten();
            Some((
                plaza_pay::time::bill_time(state.http.clock.now()),
                next_job.map(plaza_pay::time::bill_time),
            ))
        }
        None => None,
    };
    (
        Viewer {
            user_name: user.as_ref().map(|user| user.name.clone()),
            merchant_name: merchant.as_ref().map(|merchant| merchant.name.clone()),
            operator: super::signed_in_operator(&state.http, headers),
            sandbox: state.http.time_travel.is_some(),
            clock,
        },
        user,
        merchant,
    )
}

/// A path on this site to return to after signing in, or `fallback`.
///
/// Browsers read `//host`, `/\host` and `/<tab>/host` (they drop tabs and newlines)
/// as another site, so only a path that starts with one `/` followed by a character
/// that is not `/`, `\`, a control character or whitespace is taken — judged after
/// percent-decoding, so `/%2F…` is no way around it — and it may hold no control
/// characters at all. The path is returned with anything outside visible ASCII
/// percent-encoded, so it is always a valid `Location`.
pub(super) fn safe_next(next: Option<&str>, fallback: &str) -> String {
    match next {
        Some(next) if is_local_path(next) => encode_location(next),
        _ => fallback.to_owned(),
    }
}

fn is_local_path(next: &str) -> bool {
    let Some(decoded) = percent_decoded(next) else {
        return false;
    };
    let mut chars = decoded.chars();
    let first_ok = chars.next() == Some('/');
    let second_ok = chars
        .next()
        .is_none_or(|second| !matches!(second, '/' | '\\') && !second.is_whitespace());
    let clean = |text: &str| !text.chars().any(char::is_control);
    first_ok && second_ok && clean(&decoded) && clean(next)
}

/// `%XX` sequences decoded; `None` when the result is not UTF-8.
fn percent_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                at += 3;
            }
            (byte, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn encode_location(path: &str) -> String {
    let mut encoded = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_graphic() {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

pub(super) fn signin_redirect(next: &str) -> Response {
    let mut encoded = String::new();
    for byte in next.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~/".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    Redirect::to(&format!("/signin?next={encoded}")).into_response()
}

pub(crate) async fn home(State(state): State<PayState>, headers: HeaderMap) -> Response {
    let surface = &state.pay;
    let (viewer, _, _) = viewer(&state, surface, &headers).await;
    let base = escape(&surface.public_base_url);
    let body = format!(
        "<h1>Plaza</h1><p class=\"lead\">A WeChat-compatible platform you can run yourself: \
         WeChat Pay APIv3 on the wire, payers and merchants on the web.</p>\
         <div class=\"grid\">\
         <div class=\"card\"><h2>Merchant demo</h2><p class=\"muted\">Create a Native order, show its QR \
         code, and watch it get paid.</p><a class=\"button\" href=\"/merchant\">Open the merchant demo</a></div>\
         <div class=\"card\"><h2>Pay as a user</h2><p class=\"muted\">Sign in as a demo payer, open a \
         checkout link and pay with the 6-digit password.</p><a class=\"button\" href=\"/me\">My wallet</a></div>\
         <div class=\"card\"><h2>Point an SDK here</h2><p class=\"muted\">WeChat Pay APIv3 answers at</p>\
         <p class=\"mono\">{base}/v3/…</p><p class=\"muted\">Set your SDK's gateway to <span class=\"mono\">{base}</span>; \
         <span class=\"mono\">plaza admin merchant create --json</span> prints the keys.</p></div>\
         </div>"
    );
    layout("Home", Section::Home, &viewer, false, &body).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
    failed: Option<String>,
}

#[expect(
    clippy::too_many_lines,
    reason = "one page's HTML, written top to bottom as it renders"
)]
pub(crate) async fn signin(
    State(state): State<PayState>,
    headers: HeaderMap,
    PageQuery(query): PageQuery<NextQuery>,
) -> Response {
    let surface = &state.pay;
    let (viewer, _, _) = viewer(&state, surface, &headers).await;
    let next = escape(&safe_next(query.next.as_deref(), ""));
    let mut body = String::from("<h1>Sign in</h1>");
    if query.failed.is_some() {
        body.push_str(
            "<div class=\"notice bad\" id=\"notice\">登录失败 That session token is not valid, \
             or its session has ended (signed out, or unused too long). Ask for a new one.</div>",
        );
    }
    if viewer.sandbox {
        body.push_str("<p class=\"lead\">Sandbox mode: sign in as any demo payer or merchant.</p><div class=\"grid\">");
        let users = surface.pay.users(50).await.unwrap_or_default();
        body.push_str("<div class=\"card\"><h2>Payers</h2><ul class=\"list\">");
        if users.is_empty() {
            body.push_str("<li class=\"muted\">No users yet: <span class=\"mono\">plaza admin user create</span></li>");
        }
        for user in &users {
            let balance = surface.pay.wallet_balance(&user.user_id).await.unwrap_or(0);
            body.push_str(&format!(
                "<li><span>{name}<br><span class=\"muted\">¥{balance}</span></span>\
                 <form method=\"post\" action=\"/signin/user\"><input type=\"hidden\" name=\"user_id\" value=\"{id}\">\
                 <input type=\"hidden\" name=\"next\" value=\"{next}\"><button data-user=\"{name}\">Sign in</button></form></li>",
                name = escape(&user.name),
                id = escape(&user.user_id),
                balance = yuan(balance),
            ));
        }
        body.push_str("</ul></div><div class=\"card\"><h2>Merchants</h2><ul class=\"list\">");
        let merchants: Vec<Merchant> = surface
            .pay
            .merchants(200)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|merchant| merchant.kind == MerchantKind::Direct)
            .take(50)
            .collect();
        if merchants.is_empty() {
            body.push_str("<li class=\"muted\">No merchants yet: <span class=\"mono\">plaza admin merchant create</span></li>");
        }
        for merchant in &merchants {
            body.push_str(&format!(
                "<li><span>{name}<br><span class=\"muted mono\">{mchid}</span></span>\
                 <form method=\"post\" action=\"/signin/merchant\"><input type=\"hidden\" name=\"mchid\" value=\"{mchid}\">\
                 <input type=\"hidden\" name=\"next\" value=\"{next}\"><button data-merchant=\"{name}\">Sign in</button></form></li>",
                name = escape(&merchant.name),
                mchid = escape(&merchant.mchid),
            ));
        }
        body.push_str(&format!(
            "</ul></div><div class=\"card\"><h2>Operator</h2><p class=\"muted\">The console: the day's \
             payments by channel.</p><form method=\"post\" action=\"/signin/operator\">\
             <input type=\"hidden\" name=\"next\" value=\"{next}\"><button data-operator=\"operator\">\
             Sign in as operator</button></form></div></div>"
        ));
    } else {
        body.push_str(&format!(
            "<div class=\"card\"><form method=\"post\" action=\"/signin/token\">\
             <label for=\"token\">Session token (from <span class=\"mono\">plaza admin user create</span>)</label>\
             <input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"off\">\
             <input type=\"hidden\" name=\"next\" value=\"{next}\"><p><button>Sign in</button></p></form></div>\
             <div class=\"card\"><h2>Operator</h2><form method=\"post\" action=\"/signin/operator\">\
             <label for=\"admin-token\">Admin token (<span class=\"mono\">plaza admin token</span>)</label>\
             <input type=\"password\" id=\"admin-token\" name=\"token\" autocomplete=\"off\">\
             <input type=\"hidden\" name=\"next\" value=\"{next}\"><p><button>Sign in as operator</button></p></form></div>"
        ));
    }
    layout("Sign in", Section::SignIn, &viewer, false, &body).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct UserSignIn {
    user_id: String,
    next: Option<String>,
}

pub(super) fn with_cookie(mut response: Response, name: &str, value: &str) -> Response {
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(name, value));
    response
}

fn sandbox_only(state: &PayState) -> Result<(), ErrorPage> {
    if state.http.time_travel.is_some() {
        Ok(())
    } else {
        Err(
            ErrorPage::not_found("Demo sign-in is a sandbox power; sign in with a session token.")
                .code("sandbox_only")
                .back("/signin", "去登录 Sign in"),
        )
    }
}

pub(crate) async fn signin_user(
    State(state): State<PayState>,
    PageForm(form): PageForm<UserSignIn>,
) -> Response {
    if let Err(response) = sandbox_only(&state) {
        return response.into_response();
    }
    let surface = &state.pay;
    match surface.pay.create_session(&form.user_id).await {
        Ok(token) => with_cookie(
            Redirect::to(&safe_next(form.next.as_deref(), "/me")).into_response(),
            SESSION_COOKIE,
            &token,
        ),
        Err(error) => ErrorPage::from_api(ApiError::from(error).shared())
            .back("/signin", "返回登录 Back to sign-in")
            .into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct MerchantSignIn {
    mchid: String,
    next: Option<String>,
}

pub(crate) async fn signin_merchant(
    State(state): State<PayState>,
    PageForm(form): PageForm<MerchantSignIn>,
) -> Response {
    if let Err(response) = sandbox_only(&state) {
        return response.into_response();
    }
    let surface = &state.pay;
    match surface.pay.merchant(&form.mchid).await {
        Ok(Some(merchant)) => with_cookie(
            Redirect::to(&safe_next(form.next.as_deref(), "/merchant")).into_response(),
            MERCHANT_COOKIE,
            &merchant_cookie_value(surface, &merchant.mchid),
        ),
        Ok(None) => ErrorPage::not_found("There is no such merchant.")
            .back("/signin", "返回登录 Back to sign-in")
            .into_response(),
        Err(error) => ErrorPage::from_api(ApiError::from(error).shared()).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct TokenSignIn {
    token: String,
    next: Option<String>,
}

pub(crate) async fn signin_token(
    State(state): State<PayState>,
    PageForm(form): PageForm<TokenSignIn>,
) -> Response {
    let surface = &state.pay;
    match surface.pay.session_user(form.token.trim()).await {
        Ok(_) => with_cookie(
            Redirect::to(&safe_next(form.next.as_deref(), "/me")).into_response(),
            SESSION_COOKIE,
            form.token.trim(),
        ),
        Err(_) => Redirect::to("/signin?failed=token").into_response(),
    }
}

/// `POST /signout`: ends the payer's session (its token stops working everywhere, as a
/// bearer token too) and drops every sign-in cookie.
pub(crate) async fn signout(State(state): State<PayState>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie_in(&headers, SESSION_COOKIE)
        && let Err(error) = state.pay.pay.revoke_session(token).await
    {
        return ErrorPage::from_api(ApiError::from(error).shared()).into_response();
    }
    let response = Redirect::to("/").into_response();
    let response = with_cookie(response, SESSION_COOKIE, "");
    let response = with_cookie(response, super::OPERATOR_COOKIE, "");
    with_cookie(response, MERCHANT_COOKIE, "")
}

pub(crate) async fn wallet(State(state): State<PayState>, headers: HeaderMap) -> Response {
    let surface = &state.pay;
    let (viewer, user, _) = viewer(&state, surface, &headers).await;
    let Some(user) = user else {
        return signin_redirect("/me");
    };
    let balance = surface.pay.wallet_balance(&user.user_id).await.unwrap_or(0);
    let counter = super::paycode::card(surface, &user.user_id).await;
    let coupons = super::coupons::card(surface, &user.user_id).await;
    let body = format!(
        "<div class=\"card\"><div class=\"payee\"><div class=\"avatar\">{initial}</div>\
         <div class=\"merchant\">{name}</div><div class=\"muted\">Balance (零钱)</div></div>\
         <div class=\"amount\" id=\"balance\"><small>¥</small>{balance}</div></div>{counter}{coupons}\
         <p class=\"muted\">To pay online, open a checkout link or scan a merchant's code from the merchant demo; \
         to collect, open <a href=\"/collect\">your collection code</a>.</p>",
        initial = escape(&user.name.chars().next().unwrap_or('?').to_string()),
        name = escape(&user.name),
        balance = yuan(balance),
    );
    layout("My wallet", Section::Wallet, &viewer, true, &body).into_response()
}

pub(crate) async fn merchant(State(state): State<PayState>, headers: HeaderMap) -> Response {
    let surface = &state.pay;
    let (viewer, _, merchant) = viewer(&state, surface, &headers).await;
    let Some(merchant) = merchant else {
        return signin_redirect("/merchant");
    };
    let orders = surface
        .pay
        .orders_of(&merchant.mchid, RECENT_ORDERS)
        .await
        .unwrap_or_default();
    let mut recent = String::new();
    for order in &orders {
        recent.push_str(&format!(
            "<li><span>{description} <a class=\"mono\" href=\"/merchant/console/orders/{no}\">{no}</a></span>\
             <span>¥{amount} <span class=\"status {state}\">{label}</span></span></li>",
            description = escape(&order.description),
            no = escape(&order.out_trade_no),
            amount = yuan(order.total_minor),
            state = order.state.wire(),
            label = order.state.description(),
        ));
    }
    if recent.is_empty() {
        recent.push_str("<li class=\"muted\">No orders yet.</li>");
    }
    let available = surface
        .pay
        .available_balance(&merchant.mchid)
        .await
        .unwrap_or(0);
    let body = format!(
        "<h1>{name}</h1><p class=\"lead\">Merchant <span class=\"mono\">{mchid}</span> · available ¥{available}</p>\
         <div class=\"grid\"><div class=\"card\"><h2>New Native order</h2>\
         <form id=\"new-order\"><label for=\"description\">Description</label>\
         <input type=\"text\" id=\"description\" name=\"description\" value=\"Iced latte\" maxlength=\"127\">\
         <label for=\"amount\">Amount (¥)</label>\
         <input type=\"text\" id=\"amount\" name=\"amount\" value=\"12.00\" inputmode=\"decimal\">\
         <p class=\"error\"></p><button class=\"wide\" id=\"create\">Create order and show its code</button></form></div>\
         <div class=\"card\" id=\"order\" hidden><h2>Scan to pay <span class=\"order-amount\"></span></h2>\
         <div class=\"qr\"></div><p class=\"mono muted code-url\"></p>\
         <p>Order <span class=\"mono order-no\"></span> · <span class=\"status NOTPAY\">订单未支付</span></p>\
         <p class=\"paid-note\" hidden>Paid. The money is pending until the day settles tomorrow.</p>\
         <a class=\"checkout-link\" href=\"#\" target=\"_blank\">Open the checkout as a payer</a></div></div>\
         <div class=\"card\"><h2>Recent orders <a class=\"more\" href=\"/merchant/console/orders\">All orders →</a></h2>\
         <ul class=\"list\">{recent}</ul></div>{stocks}\
         <script type=\"module\" src=\"/static/merchant.js\"></script>",
        name = escape(&merchant.name),
        mchid = escape(&merchant.mchid),
        available = yuan(available),
        stocks = stock_links(surface, &merchant.mchid).await,
    );
    layout("Merchant demo", Section::Merchant, &viewer, false, &body).into_response()
}

/// The merchant's running coupon stocks, each with its claim page for payers.
async fn stock_links(surface: &PaySurface, mchid: &str) -> String {
    let running: Vec<_> = surface
        .pay
        .stocks_of(mchid, 20)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|stock| stock.status == plaza_pay::coupons::StockStatus::Running)
        .collect();
    if running.is_empty() {
        return String::new();
    }
    let items: String = running
        .iter()
        .map(|stock| {
            format!(
                "<li><span>{name}<br><span class=\"muted\">¥{amount} off · {left} left</span></span>\
                 <a class=\"button\" href=\"/coupons/{stock_id}\">Claim page</a></li>",
                name = escape(&stock.name),
                amount = yuan(stock.coupon_amount_minor),
                left = stock.max_coupons.saturating_sub(stock.distributed_coupons),
                stock_id = escape(&stock.stock_id),
            )
        })
        .collect();
    format!(
        "<div class=\"card\" id=\"stocks\"><h2>Coupons to claim</h2><ul class=\"list\">{items}</ul></div>"
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct NewOrder {
    description: String,
    total: i64,
}

fn unauthorized_merchant() -> Response {
    ApiError::new(code::UNAUTHORIZED, "sign in as a merchant first (/signin)").into_response()
}

pub(crate) async fn merchant_create_order(
    State(state): State<PayState>,
    headers: HeaderMap,
    crate::extract::Json(body): crate::extract::Json<NewOrder>,
) -> Response {
    let surface = &state.pay;
    let Some(merchant) = merchant_of(surface, &headers).await else {
        return unauthorized_merchant();
    };
    let now = surface.pay.now();
    let request = PrepayRequest {
        mchid: merchant.mchid.clone(),
        appid: merchant.appids.first().cloned().unwrap_or_default(),
        trade_type: TradeType::Native,
        description: body.description,
        out_trade_no: format!(
            "WEB{}{}",
            plaza_pay::time::compact(now),
            plaza_pay::ids::random_hex(6).to_ascii_uppercase()
        ),
        time_expire: None,
        attach: None,
        notify_url: String::new(),
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
    };
    match surface.pay.prepay(request).await {
        Ok(order) => {
            let mut view: Value = order_json(surface, &merchant.name, &order);
            view["qr_svg"] = json!(qr_svg(&crate::pay_v3::code_url(&order)));
            (StatusCode::CREATED, AxumJson(view)).into_response()
        }
        Err(error) => ApiError::from(error).into_response(),
    }
}

pub(crate) async fn merchant_order(
    State(state): State<PayState>,
    headers: HeaderMap,
    Path(out_trade_no): Path<String>,
) -> Response {
    let surface = &state.pay;
    let Some(merchant) = merchant_of(surface, &headers).await else {
        return unauthorized_merchant();
    };
    match surface.pay.order(&merchant.mchid, &out_trade_no).await {
        Ok(Some(order)) => AxumJson(order_json(surface, &merchant.name, &order)).into_response(),
        Ok(None) => ApiError::new(code::ORDER_NOT_FOUND, "no such order").into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct CheckoutQuery {
    code: Option<String>,
    prepay_id: Option<String>,
}

/// `GET /pay/checkout?code=…` or `?prepay_id=…`: the password pad for an order that can
/// be paid; for one that cannot any more, its end state.
pub(crate) async fn checkout(
    State(state): State<PayState>,
    headers: HeaderMap,
    PageQuery(query): PageQuery<CheckoutQuery>,
) -> Response {
    let surface = &state.pay;
    let (reference, ref_kind, ref_value, here) = match (query.code, query.prepay_id) {
        (Some(code), _) if !code.is_empty() => {
            let here = format!("/pay/checkout?code={code}");
            (OrderRef::CodeToken(code.clone()), "code_url", code, here)
        }
        (_, Some(prepay_id)) if !prepay_id.is_empty() => {
            let here = format!("/pay/checkout?prepay_id={prepay_id}");
            (
                OrderRef::PrepayId(prepay_id.clone()),
                "prepay_id",
                prepay_id,
                here,
            )
        }
        _ => {
            return ErrorPage::bad_request(
                "这个付款链接不完整 This checkout link is missing its order; scan the merchant's code again.",
            )
            .back("/me", "返回钱包 Back to my wallet")
            .into_response();
        }
    };
    let (viewer, user, _) = viewer(&state, surface, &headers).await;
    let Some(user) = user else {
        return signin_redirect(&here);
    };
    let Ok((order, _)) = surface.pay.order_for_payer(&user.user_id, &reference).await else {
        return ErrorPage::not_found("订单不存在 This code does not name an order you can see.")
            .back("/me", "返回钱包 Back to my wallet")
            .into_response();
    };
    let merchant_name = surface
        .pay
        .merchant(&order.mchid)
        .await
        .ok()
        .flatten()
        .map_or_else(|| order.mchid.clone(), |merchant| merchant.name);
    let balance = surface.pay.wallet_balance(&user.user_id).await.unwrap_or(0);
    let open = matches!(order.state, TradeState::Notpay | TradeState::Userpaying);
    let body = if open && surface.pay.now() < order.time_expire {
        let usable = surface
            .pay
            .usable_coupons(&user.user_id, &order, surface.pay.now())
            .await
            .unwrap_or_default();
        let usable: Vec<_> = usable.into_iter().map(|(coupon, _)| coupon).collect();
        let page = CheckoutPage {
            order: &order,
            merchant_name: &merchant_name,
            balance,
            ref_kind,
            ref_value: &ref_value,
        };
        page.payable(&usable)
    } else {
        let is_payer = order.payer_user_id.as_deref() == Some(user.user_id.as_str());
        end_state(&order, &merchant_name, balance, is_payer)
    };
    Html(layout("Checkout", Section::Wallet, &viewer, true, &body).0).into_response()
}

/// What the checkout page shows of one order.
struct CheckoutPage<'a> {
    order: &'a plaza_pay::model::Order,
    merchant_name: &'a str,
    balance: i64,
    ref_kind: &'static str,
    ref_value: &'a str,
}

fn payee(merchant_name: &str) -> String {
    format!(
        "<div class=\"payee\"><div class=\"avatar\">{initial}</div>\
         <div class=\"merchant\" id=\"merchant-name\">{merchant}</div></div>",
        initial = escape(&merchant_name.chars().next().unwrap_or('?').to_string()),
        merchant = escape(merchant_name),
    )
}

impl CheckoutPage<'_> {
    /// The password pad, with the coupon choice when coupons apply, and the success
    /// card the script fills in.
    fn payable(&self, usable: &[plaza_pay::coupons::Coupon]) -> String {
        let order = self.order;
        let pin = pin_inputs();
        let coupon_row = if usable.is_empty() {
            String::new()
        } else {
            let mut options = String::new();
            for coupon in usable {
                options.push_str(&format!(
                    "<option value=\"{id}\" data-amount=\"{amount}\">−¥{yuan} {name}</option>",
                    id = escape(&coupon.coupon_id),
                    amount = coupon.amount_minor,
                    yuan = yuan(coupon.amount_minor),
                    name = escape(&coupon.name),
                ));
            }
            options.push_str("<option value=\"none\" data-amount=\"0\">不使用 No coupon</option>");
            format!(
                "<div><span>Coupon</span><span><select id=\"coupon\" name=\"coupon\">{options}</select></span></div>"
            )
        };
        format!(
            "<div class=\"card\" id=\"paying\">{payee}\
             <div class=\"amount\" id=\"amount\"><small>¥</small>{amount}</div>\
             <div class=\"rows\"><div><span>Goods</span><span id=\"description\">{description}</span></div>\
             <div><span>Order</span><span class=\"mono\">{no}</span></div>\
             {coupon_row}<div><span>Pay with</span><span>Balance ¥{balance}</span></div></div>\
             <form id=\"checkout\" data-ref-kind=\"{ref_kind}\" data-ref=\"{ref_value}\" data-total=\"{total}\">\
             <label style=\"text-align:center\">输入支付密码 Enter your 6-digit payment password</label>\
             <div class=\"pin\">{pin}</div><p class=\"error\" id=\"error\" role=\"alert\"></p>\
             <button class=\"wide\" id=\"pay\" disabled>Pay ¥{amount}</button></form></div>\
             <div class=\"card\" id=\"done\" hidden><div class=\"result\"><div class=\"icon\">✓</div>\
             <h2>支付成功 Payment successful</h2><div class=\"amount paid-amount\"></div>\
             <p>Paid to <strong class=\"paid-merchant\"></strong></p>\
             <div class=\"rows\"><div class=\"paid-saving-row\" hidden><span>Coupon saved</span><span class=\"saving paid-saving\"></span></div>\
             <div><span>Order total</span><span class=\"paid-total\"></span></div>\
             <div><span>Transaction</span><span class=\"mono paid-transaction\"></span></div>\
             <div><span>Balance left</span><span class=\"paid-balance\"></span></div></div>\
             <a class=\"button wide\" id=\"done-button\" href=\"/me\">完成 Done</a></div></div>\
             <script type=\"module\" src=\"/static/checkout.js\"></script>",
            payee = payee(self.merchant_name),
            amount = yuan(order.total_minor),
            description = escape(&order.description),
            no = escape(&order.out_trade_no),
            balance = yuan(self.balance),
            ref_kind = self.ref_kind,
            ref_value = escape(self.ref_value),
            total = order.total_minor,
        )
    }
}

/// An order that cannot be paid any more: paid (to its payer: what was paid, the
/// coupon's saving, when) or closed, cancelled or failed; a Done button either way.
fn end_state(
    order: &plaza_pay::model::Order,
    merchant_name: &str,
    balance: i64,
    is_payer: bool,
) -> String {
    let paid = matches!(order.state, TradeState::Success | TradeState::Refund);
    let (class, icon, heading, note) = if paid {
        let refunded = if order.refunded_minor > 0 {
            format!(" ¥{} of it has been refunded.", yuan(order.refunded_minor))
        } else {
            String::new()
        };
        let note = if is_payer {
            format!("You paid this order; there is nothing more to pay.{refunded}")
        } else {
            "Someone has already paid this order; there is nothing to pay.".to_owned()
        };
        ("result", "✓", "已支付 Paid", note)
    } else {
        let (heading, note) = match order.state {
            TradeState::Revoked => ("已撤销 Cancelled", "The merchant cancelled this order."),
            TradeState::Payerror => ("支付失败 Payment failed", "This order's payment failed."),
            _ => (
                "已关闭 Closed",
                "This order is closed (it was closed or its time ran out). Ask the merchant for a new one.",
            ),
        };
        ("result failed", "!", heading, note.to_owned())
    };
    let mut rows = format!(
        "<div><span>Goods</span><span id=\"description\">{description}</span></div>\
         <div><span>Order</span><span class=\"mono\">{no}</span></div>",
        description = escape(&order.description),
        no = escape(&order.out_trade_no),
    );
    if paid && is_payer {
        if let Some(coupon) = &order.coupon {
            rows.push_str(&format!(
                "<div><span>Coupon saved</span><span class=\"saving\" id=\"saving\">−¥{saving} {name}</span></div>",
                saving = yuan(coupon.amount_minor),
                name = escape(&coupon.name),
            ));
        }
        rows.push_str(&format!(
            "<div><span>You paid</span><span id=\"paid\">¥{paid}</span></div>\
             <div><span>Paid at</span><span>{when} China time</span></div>\
             <div><span>Transaction</span><span class=\"mono\">{transaction}</span></div>",
            paid = yuan(order.payer_total_minor),
            when = order
                .success_time
                .map(plaza_pay::time::bill_time)
                .unwrap_or_default(),
            transaction = escape(order.transaction_id.as_deref().unwrap_or_default()),
        ));
    }
    rows.push_str(&format!(
        "<div><span>Balance</span><span>¥{}</span></div>",
        yuan(balance)
    ));
    format!(
        "<div class=\"card\" id=\"ended\" data-state=\"{state}\">{payee}\
         <div class=\"{class}\"><div class=\"icon\">{icon}</div><h2 id=\"end-state\">{heading}</h2>\
         <div class=\"amount\"><small>¥</small>{amount}</div><p class=\"muted\">{note}</p></div>\
         <div class=\"rows\">{rows}</div>\
         <a class=\"button wide\" id=\"done-button\" href=\"/me\">完成 Done</a></div>",
        state = order.state.wire(),
        payee = payee(merchant_name),
        amount = yuan(order.total_minor),
        note = escape(&note),
    )
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_paths_on_this_site_are_returned_to() {
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "/%2F/evil.example",
            "/%2f%2fevil.example",
            "/%5Cevil.example",
            "/%09/evil.example",
            "/ok\r\nSet-Cookie: x=1",
            "/%E9",
            "https://evil.example",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_next(Some(bad), "/home"), "/home", "{bad:?}");
        }
        assert_eq!(safe_next(None, "/home"), "/home");
        for good in ["/", "/me", "/pay/checkout?code=abc", "/collect?x=%2F"] {
            assert_eq!(safe_next(Some(good), "/home"), good);
        }
        assert_eq!(safe_next(Some("/付款"), "/home"), "/%E4%BB%98%E6%AC%BE");
    }
}
