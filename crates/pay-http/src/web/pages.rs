//! The home page, and the merchant demo: create a Native order, show its QR code,
//! watch it get paid.

use axum::Json as AxumJson;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use plaza_http::web::Role;
use plaza_pay::PrepayRequest;
use plaza_pay::model::{Merchant, TradeType, User};
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) use plaza_http::web::signin_redirect;

use super::{Section, Viewer, escape, layout, qr_svg, signed_in_merchant, yuan};
use crate::PayState;
use crate::error::{ApiError, code};
use crate::pay_v3::PaySurface;
use crate::routes::pay::order_json;

/// How many recent orders the merchant page lists.
const RECENT_ORDERS: usize = 8;

async fn merchant_of(surface: &PaySurface, headers: &HeaderMap) -> Option<Merchant> {
    let mchid = signed_in_merchant(surface, headers)?;
    surface.pay.merchant(&mchid).await.ok().flatten()
}

/// Who is looking (the shell's viewer: everyone signed in, the sandbox clock, the
/// navigation), with the payer and the merchant (or provider) it names, read once more
/// as Pay's records.
pub(super) async fn viewer(
    state: &PayState,
    surface: &PaySurface,
    headers: &HeaderMap,
) -> (Viewer, Option<User>, Option<Merchant>) {
    let viewer = plaza_http::web::viewer(&state.http, headers).await;
    let user = match viewer.as_role(Role::USER) {
        Some(signed_in) => surface.pay.user(&signed_in.account).await.ok().flatten(),
        None => None,
    };
    let merchant = match viewer
        .as_role(Role::MERCHANT)
        .or_else(|| viewer.as_role(Role::PROVIDER))
    {
        Some(signed_in) => surface
            .pay
            .merchant(&signed_in.account)
            .await
            .ok()
            .flatten(),
        None => None,
    };
    (viewer, user, merchant)
}

pub(crate) async fn home(State(state): State<PayState>, headers: HeaderMap) -> Response {
    let surface = &state.pay;
    let (viewer, _, _) = viewer(&state, surface, &headers).await;
    let base = escape(&surface.public_base_url);
    let body = format!(
        "<h1>Plaza</h1><p class=\"lead\">A WeChat-compatible platform you can run yourself: \
         WeChat Pay APIv3 on the wire, payers and merchants on the web.</p>\
         <div class=\"grid\">\
         <div class=\"card\"><h2>The app</h2><p class=\"muted\">As a payer: chats with WeChat Pay's receipts, \
         the wallet and its 账单, checkout with the 6-digit password, payment and collection codes, coupons.</p>\
         <a class=\"button\" href=\"/app\">Open the app</a></div>\
         <div class=\"card\"><h2>Merchant console</h2><p class=\"muted\">Create a Native order, show its QR \
         code, and watch it get paid.</p><a class=\"button\" href=\"/merchant\">Open the merchant console</a></div>\
         <div class=\"card\"><h2>Point an SDK here</h2><p class=\"muted\">WeChat Pay APIv3 answers at</p>\
         <p class=\"mono\">{base}/v3/…</p><p class=\"muted\">Set your SDK's gateway to <span class=\"mono\">{base}</span>; \
         <span class=\"mono\">plaza admin merchant create --json</span> prints the keys.</p></div>\
         </div>"
    );
    layout("Home", Section::Home, &viewer, false, &body).into_response()
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
