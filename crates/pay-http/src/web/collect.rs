//! Collection-code pages: the owner's code with today's payments arriving live, and the
//! payer's page behind the static QR code (amount, note, password).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use plaza_pay::time::Day;

use plaza_http::web::{AppPage, AppTab, app_layout, china_time_of_day};

use super::ErrorPage;
use super::pages::{signin_redirect, viewer};
use super::{escape, pin_inputs, qr_svg, yuan};
use crate::PayState;
use crate::routes::collect::{pay_url, payer_masked};

/// `GET /app/collect`: open a collection code, or show it with today's payments.
#[expect(
    clippy::too_many_lines,
    reason = "one page's HTML, written top to bottom as it renders"
)]
pub(crate) async fn owner(State(state): State<PayState>, headers: HeaderMap) -> Response {
    let surface = &state.pay;
    let (viewer, user, _) = viewer(&state, surface, &headers).await;
    let Some(user) = user else {
        return signin_redirect("/app/collect");
    };
    let code = surface
        .pay
        .collection_code_of(&user.user_id)
        .await
        .ok()
        .flatten();
    let Some(code) = code else {
        let body = format!(
            "<p class=\"lead\">Take payments from anyone with one static QR code \
             (收款码). Payers scan it, type the amount and pay with their password; you see each payment \
             here the moment it is made. Fee 0.38%, settled to your balance the next day.</p>\
             <div class=\"card\"><form id=\"open-code\"><label for=\"code-name-input\">Name payers see</label>\
             <input type=\"text\" id=\"code-name-input\" maxlength=\"64\" value=\"{name}\">\
             <p class=\"error\" id=\"open-error\"></p><button class=\"wide\" id=\"open\">Open my collection code</button>\
             </form></div><script type=\"module\" src=\"/static/collect.js\"></script>",
            name = escape(&user.name),
        );
        let page = AppPage::below(AppTab::Me, "Collection code", "/app/me");
        return app_layout(page, &viewer, &body).into_response();
    };
    let token = code.collection_token.clone().unwrap_or_default();
    let url = pay_url(surface, &token);
    let today = Day::of(surface.pay.now());
    let (summary, orders) = surface
        .pay
        .collection_summary(&code.mchid, today)
        .await
        .unwrap_or_else(|_| {
            (
                plaza_pay::CollectionSummary {
                    day: today,
                    payments: 0,
                    total_minor: 0,
                    fee_minor: 0,
                },
                Vec::new(),
            )
        });
    let mut rows = String::new();
    for order in orders.iter().rev() {
        let payer = payer_masked(surface, order).await.unwrap_or_default();
        let time = order
            .success_time
            .map(china_time_of_day)
            .unwrap_or_default();
        rows.push_str(&format!(
            "<li class=\"payment\"><span><strong>{note}</strong><br><span class=\"muted\">{payer} · {time}</span></span>\
             <span class=\"plus\">+¥{amount}</span></li>",
            note = escape(&order.description),
            payer = escape(&payer),
            amount = yuan(order.total_minor),
        ));
    }
    let body = format!(
        "<p class=\"lead\">Show this code to be paid. Payments appear below the moment they \
         are made.</p><div class=\"grid\"><div class=\"card collect-code\"><div class=\"qr\">{qr}</div>\
         <h2 id=\"code-name\">{name}</h2><p class=\"muted\">Scan with Plaza to pay</p>\
         <p class=\"mono\"><a id=\"pay-link\" href=\"{url}\">{url}</a></p></div>\
         <div class=\"card\"><h2>Today</h2><div class=\"stats\">\
         <div><span class=\"stat\" id=\"today-count\">{count}</span><span>payments</span></div>\
         <div><span class=\"stat\" id=\"today-total\">¥{total}</span><span>received</span></div>\
         <div><span class=\"stat\" id=\"today-net\">¥{net}</span><span>after fees</span></div></div>\
         <ul class=\"list\" id=\"received\">{rows}</ul>\
         <p class=\"muted\" id=\"none-yet\"{none_hidden}>No payments yet today.</p>\
         <p class=\"muted\" id=\"live\">Connecting…</p></div></div>\
         <script type=\"module\" src=\"/static/collect.js\"></script>",
        qr = qr_svg(&url),
        name = escape(&code.name),
        url = escape(&url),
        count = summary.payments,
        total = yuan(summary.total_minor),
        net = yuan(summary.total_minor - summary.fee_minor),
        none_hidden = if orders.is_empty() { "" } else { " hidden" },
    );
    let page = AppPage::below(AppTab::Me, "Collection code", "/app/me");
    app_layout(page, &viewer, &body).into_response()
}

/// `GET /app/pay/collect/{token}`: pay someone's collection code.
pub(crate) async fn payer(
    State(state): State<PayState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    let surface = &state.pay;
    let (viewer, user, _) = viewer(&state, surface, &headers).await;
    let Some(user) = user else {
        return signin_redirect(&format!("/app/pay/collect/{token}"));
    };
    let Ok(code) = surface.pay.collection_code(&token).await else {
        return ErrorPage::not_found("未知的收款码 This QR code is not a Plaza collection code.")
            .back("/app/me", "返回钱包 Back to my wallet")
            .into_response();
    };
    let balance = surface.pay.wallet_balance(&user.user_id).await.unwrap_or(0);
    let pin = pin_inputs();
    let body = format!(
        "<div class=\"card\" id=\"paying\"><div class=\"payee\"><div class=\"avatar\">{initial}</div>\
         <div class=\"merchant\" id=\"merchant-name\">{name}</div><p class=\"muted\">Collection code</p></div>\
         <form id=\"collect\" data-token=\"{token}\">\
         <label for=\"amount-input\">Amount (¥)</label>\
         <input type=\"text\" id=\"amount-input\" inputmode=\"decimal\" placeholder=\"0.00\" autocomplete=\"off\">\
         <label for=\"note\">Note for {name} (optional)</label>\
         <input type=\"text\" id=\"note\" maxlength=\"40\" autocomplete=\"off\">\
         <div class=\"rows\"><div><span>Pay with</span><span>Balance ¥{balance}</span></div></div>\
         <label style=\"text-align:center\">输入支付密码 Enter your 6-digit payment password</label>\
         <div class=\"pin\">{pin}</div><p class=\"error\" id=\"error\"></p>\
         <button class=\"wide\" id=\"pay\" disabled>Pay</button></form></div>\
         <div class=\"card\" id=\"done\" hidden><div class=\"result\"><div class=\"icon\">✓</div>\
         <h2>支付成功 Payment successful</h2><div class=\"amount paid-amount\"></div>\
         <p>Paid to <strong class=\"paid-merchant\"></strong></p>\
         <div class=\"rows\"><div><span>Transaction</span><span class=\"mono paid-transaction\"></span></div>\
         <div><span>Balance left</span><span class=\"paid-balance\"></span></div></div>\
         <a class=\"button wide\" id=\"done-button\" href=\"/app/me\">完成 Done</a></div></div>\
         <script type=\"module\" src=\"/static/collect-pay.js\"></script>",
        initial = escape(&code.name.chars().next().unwrap_or('?').to_string()),
        name = escape(&code.name),
        token = escape(&token),
        balance = yuan(balance),
    );
    let page = AppPage::below(AppTab::Me, "Pay", "/app/me");
    app_layout(page, &viewer, &body).into_response()
}
