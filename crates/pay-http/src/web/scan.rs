//! Scan (扫一扫, `/app/pay/scan`): what a merchant's or a person's QR code says, pasted
//! or typed, opens the page that pays it — a Native order's `weixin://wxpay/bizpayurl`
//! link its checkout, a collection code's link its paying page.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use plaza_http::web::{AppPage, AppTab, FlashKind, app_layout, flash_html, percent_encode};
use serde::Deserialize;

use super::pages::{signin_redirect, viewer};
use super::{PageQuery, escape};
use crate::PayState;

#[derive(Debug, Deserialize)]
pub(crate) struct ScanQuery {
    code: Option<String>,
}

/// Where a scanned text leads: the page paying it, or `None` for text no Plaza code
/// holds.
fn destination(scanned: &str) -> Option<String> {
    let scanned = scanned.trim();
    let token_after = |marker: &str| {
        let (_, rest) = scanned.split_once(marker)?;
        let token: String = rest
            .chars()
            .take_while(|character| character.is_ascii_alphanumeric() || "-_".contains(*character))
            .collect();
        (!token.is_empty()).then_some(token)
    };
    if scanned.starts_with("weixin://wxpay/bizpayurl") {
        let token = token_after("pr=")?;
        return Some(format!("/app/pay/checkout?code={}", percent_encode(&token)));
    }
    if let Some(token) = token_after("/pay/collect/") {
        return Some(format!("/app/pay/collect/{}", percent_encode(&token)));
    }
    for (marker, key) in [
        ("checkout?code=", "code"),
        ("checkout?prepay_id=", "prepay_id"),
    ] {
        if let Some(token) = token_after(marker) {
            return Some(format!(
                "/app/pay/checkout?{key}={}",
                percent_encode(&token)
            ));
        }
    }
    None
}

/// `GET /app/pay/scan[?code=…]`: the scanner; with a code, on to what pays it.
pub(crate) async fn page(
    State(state): State<PayState>,
    headers: HeaderMap,
    PageQuery(query): PageQuery<ScanQuery>,
) -> Response {
    let surface = &state.pay;
    let (viewer, user, _) = viewer(&state, surface, &headers).await;
    if user.is_none() {
        return signin_redirect("/app/pay/scan");
    }
    let scanned = query.code.unwrap_or_default();
    if !scanned.trim().is_empty()
        && let Some(to) = destination(&scanned)
    {
        return Redirect::to(&to).into_response();
    }
    let notice = if scanned.trim().is_empty() {
        String::new()
    } else {
        flash_html(
            FlashKind::Bad,
            "无法识别 That is not a Plaza payment code: paste a weixin://wxpay/bizpayurl link or a collection code's address.",
        )
    };
    let body = format!(
        "{notice}<div class=\"card scan\"><div class=\"scan-frame\" aria-hidden=\"true\"><span></span></div>\
         <form method=\"get\" action=\"/app/pay/scan\" id=\"scan-form\">\
         <label for=\"scan-code\">What the QR code says</label>\
         <input type=\"text\" id=\"scan-code\" name=\"code\" value=\"{value}\" autocomplete=\"off\" \
         placeholder=\"weixin://wxpay/bizpayurl?pr=…\">\
         <p><button class=\"wide\" id=\"scan-go\">Open</button></p></form>\
         <p class=\"muted\">A merchant's order code opens its checkout; a person's collection code opens \
         the page to pay them. In the sandbox, copy the text under the merchant console's QR code.</p></div>",
        value = escape(scanned.trim()),
    );
    let page = AppPage::below(AppTab::Discover, "扫一扫 Scan", "/app/discover");
    app_layout(page, &viewer, &body).into_response()
}

#[cfg(test)]
mod tests {
    use super::destination;

    #[test]
    fn scanned_codes_lead_to_the_page_that_pays_them() {
        assert_eq!(
            destination(" weixin://wxpay/bizpayurl?pr=AbC123 ").as_deref(),
            Some("/app/pay/checkout?code=AbC123")
        );
        assert_eq!(
            destination("http://127.0.0.1:8080/app/pay/collect/ct_9x").as_deref(),
            Some("/app/pay/collect/ct_9x")
        );
        assert_eq!(
            destination("http://h/pay/checkout?prepay_id=wx26").as_deref(),
            Some("/app/pay/checkout?prepay_id=wx26")
        );
        assert_eq!(destination("weixin://wxpay/bizpayurl?pr="), None);
        assert_eq!(destination("hello"), None);
        assert_eq!(
            destination("weixin://wxpay/bizpayurl?pr=a\"><script>").as_deref(),
            Some("/app/pay/checkout?code=a")
        );
    }
}
