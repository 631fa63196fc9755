//! The payer's payment code page (付款码): a fresh 18-digit code with its QR code for the
//! cashier to scan; and the counter payments waiting for the password, on the Me tab.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use plaza_http::web::{AppPage, AppTab, app_layout, china_time_of_day};

use super::pages::{signin_redirect, viewer};
use super::{escape, qr_svg, yuan};
use crate::PayState;

/// `POST /app/me/payment-code`: show a fresh code (each press shows a new one).
pub(crate) async fn show(State(state): State<PayState>, headers: HeaderMap) -> Response {
    let surface = &state.pay;
    let (viewer, user, _) = viewer(&state, surface, &headers).await;
    let Some(user) = user else {
        return signin_redirect("/app/me");
    };
    let code = match surface.pay.issue_payment_code(&user.user_id).await {
        Ok(code) => code,
        Err(error) => {
            return super::ErrorPage::from_api(crate::error::ApiError::from(error).shared())
                .back("/app/me", "返回钱包 Back to my wallet")
                .into_response();
        }
    };
    let grouped: Vec<String> = code
        .code
        .as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect();
    let body = format!(
        "<div class=\"card paycode\"><h2>付款码 Payment code</h2><p class=\"muted\">Show this to the cashier. \
         Up to ¥{limit} pays at once; above that you confirm with your password.</p>\
         <div class=\"qr\">{qr}</div><div class=\"digits mono\" id=\"payment-code\" data-code=\"{code}\">{grouped}</div>\
         <p class=\"muted\">Valid until {until_time} (one minute), for one payment.</p>\
         <form method=\"post\" action=\"/app/me/payment-code\"><button class=\"wide secondary\">Show a new code</button></form></div>",
        limit = yuan(user.password_free_limit_minor),
        qr = qr_svg(&code.code),
        code = escape(&code.code),
        grouped = escape(&grouped.join(" ")),
        until_time = china_time_of_day(code.expires_at),
    );
    let page = AppPage::below(AppTab::Me, "Payment code", "/app/me");
    app_layout(page, &viewer, &body).into_response()
}

/// The counter payments waiting for the payer's password, as a card on the Me tab
/// (nothing when none waits).
pub(crate) async fn awaiting(pay: &plaza_pay::PayService, user_id: &str) -> String {
    let mut waiting = String::new();
    for order in pay.awaiting_confirmation(user_id).await.unwrap_or_default() {
        let merchant = pay
            .merchant(&order.mchid)
            .await
            .ok()
            .flatten()
            .map_or_else(|| order.mchid.clone(), |merchant| merchant.name);
        waiting.push_str(&format!(
            "<li><span>{merchant}<br><span class=\"muted\">{description}</span></span>\
             <a class=\"button small\" href=\"/app/pay/checkout?prepay_id={prepay_id}\">Confirm ¥{amount}</a></li>",
            merchant = escape(&merchant),
            description = escape(&order.description),
            prepay_id = escape(&order.prepay_id),
            amount = yuan(order.total_minor),
        ));
    }
    if waiting.is_empty() {
        return String::new();
    }
    format!(
        "<div class=\"card\"><h2>待确认 Waiting for your password</h2><ul class=\"list\" id=\"awaiting\">{waiting}</ul></div>"
    )
}
