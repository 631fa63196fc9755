//! The payer's payment code page (付款码): a fresh 18-digit code with its QR code for the
//! cashier to scan, and the counter payments waiting for the password.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::pages::{signin_redirect, viewer};
use super::{Section, escape, layout, qr_svg, yuan};
use crate::PayState;

/// `POST /me/payment-code`: show a fresh code (each press shows a new one).
pub(crate) async fn show(State(state): State<PayState>, headers: HeaderMap) -> Response {
    let surface = &state.pay;
    let (viewer, user, _) = viewer(&state, surface, &headers).await;
    let Some(user) = user else {
        return signin_redirect("/me");
    };
    let code = match surface.pay.issue_payment_code(&user.user_id).await {
        Ok(code) => code,
        Err(error) => {
            return super::ErrorPage::from_api(crate::error::ApiError::from(error).shared())
                .back("/me", "返回钱包 Back to my wallet")
                .into_response();
        }
    };
    let grouped: Vec<String> = code
        .code
        .as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect();
    let until = plaza_pay::time::rfc3339(code.expires_at);
    let body = format!(
        "<div class=\"card paycode\"><h2>Payment code</h2><p class=\"muted\">Show this to the cashier. \
         Up to ¥{limit} pays at once; above that you confirm with your password.</p>\
         <div class=\"qr\">{qr}</div><div class=\"digits mono\" id=\"payment-code\" data-code=\"{code}\">{grouped}</div>\
         <p class=\"muted\">Valid until {until_time} (one minute), for one payment.</p>\
         <form method=\"post\" action=\"/me/payment-code\"><button class=\"wide secondary\">Show a new code</button></form></div>\
         <p><a href=\"/me\">← My wallet</a></p>",
        limit = yuan(user.password_free_limit_minor),
        qr = qr_svg(&code.code),
        code = escape(&code.code),
        grouped = escape(&grouped.join(" ")),
        until_time = escape(until.get(11..19).unwrap_or_default()),
    );
    layout("Payment code", Section::Wallet, &viewer, true, &body).into_response()
}

/// The wallet page's card: the button, and counter payments waiting for the password.
pub(crate) async fn card(surface: &crate::pay_v3::PaySurface, user_id: &str) -> String {
    let mut waiting = String::new();
    for order in surface
        .pay
        .awaiting_confirmation(user_id)
        .await
        .unwrap_or_default()
    {
        let merchant = surface
            .pay
            .merchant(&order.mchid)
            .await
            .ok()
            .flatten()
            .map_or_else(|| order.mchid.clone(), |merchant| merchant.name);
        waiting.push_str(&format!(
            "<li><span>{merchant}<br><span class=\"muted\">{description}</span></span>\
             <a class=\"button\" href=\"/pay/checkout?prepay_id={prepay_id}\">Confirm ¥{amount}</a></li>",
            merchant = escape(&merchant),
            description = escape(&order.description),
            prepay_id = escape(&order.prepay_id),
            amount = yuan(order.total_minor),
        ));
    }
    let waiting = if waiting.is_empty() {
        String::new()
    } else {
        format!(
            "<h3>Waiting for your password</h3><ul class=\"list\" id=\"awaiting\">{waiting}</ul>"
        )
    };
    format!(
        "<div class=\"card\"><h2>Pay at a counter</h2><p class=\"muted\">Show a one-minute payment code \
         for the cashier to scan.</p><form method=\"post\" action=\"/me/payment-code\">\
         <button class=\"wide\" id=\"show-code\">Show my payment code</button></form>{waiting}</div>"
    )
}
