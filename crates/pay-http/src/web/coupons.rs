//! Coupons on the web: the payer's 卡包 card on the app's Me tab, and a stock's claim
//! page (a merchant links it from its own pages).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use plaza_pay::coupons::{CouponStatus, StockStatus};
use serde::Deserialize;

use plaza_http::web::{
    AppPage, AppTab, FlashKind, app_layout, china_date, empty_state, status_badge, with_flash,
};
use plaza_pay::PayService;

use super::pages::{signin_redirect, viewer};
use super::{ErrorPage, PageForm, human_message};
use super::{escape, yuan};
use crate::PayState;

fn threshold(transaction_minimum: i64) -> String {
    if transaction_minimum > 0 {
        format!("on orders of ¥{} or more", yuan(transaction_minimum))
    } else {
        "on any order".to_owned()
    }
}

fn day(at: plaza_kernel::clock::Timestamp) -> String {
    china_date(at)
}

/// Where a stock's coupons are usable: its merchants' names.
pub(crate) async fn usable_at(pay: &PayService, stock_id: &str) -> Option<String> {
    crate::pay_v3::coupon_usable_at(pay, stock_id).await
}

/// The Me tab's 卡包 card: the payer's coupons, usable ones first.
pub(crate) async fn card(pay: &PayService, user_id: &str) -> String {
    let mut coupons = pay.coupons_of(user_id, 50).await.unwrap_or_default();
    coupons.sort_by_key(|coupon| coupon.status != CouponStatus::Sended);
    let mut rows = String::new();
    for coupon in &coupons {
        let merchant = usable_at(pay, &coupon.stock_id)
            .await
            .unwrap_or_else(|| coupon.creator_mchid.clone());
        rows.push_str(&format!(
            "<li class=\"coupon {status}\"><span class=\"coupon-value\">¥{amount}</span>\
             <span class=\"coupon-text\"><strong>{name}</strong><br>\
             <span class=\"muted\">{merchant} · {threshold} · until {until}</span></span>\
             {badge}</li>",
            status = coupon.status.wire(),
            amount = yuan(coupon.amount_minor),
            name = escape(&coupon.name),
            merchant = escape(&merchant),
            threshold = threshold(coupon.transaction_minimum_minor),
            until = day(coupon.available_end),
            badge = status_badge(
                coupon.status.wire(),
                match coupon.status {
                    CouponStatus::Sended => "usable",
                    CouponStatus::Used => "used",
                    CouponStatus::Expired => "expired",
                }
            ),
        ));
    }
    let list = if rows.is_empty() {
        format!(
            "<div id=\"my-coupons\">{}</div>",
            empty_state(
                "No coupons yet",
                "Merchants' claim pages give them out; they apply at checkout by themselves.",
                None,
            )
        )
    } else {
        format!("<ul class=\"list coupons\" id=\"my-coupons\">{rows}</ul>")
    };
    format!("<div class=\"card\" id=\"coupons\"><h2>卡包 My coupons</h2>{list}</div>")
}

/// `GET /app/coupons/{stock_id}`: a stock's claim page.
pub(crate) async fn claim_page(
    State(state): State<PayState>,
    headers: HeaderMap,
    Path(stock_id): Path<String>,
) -> Response {
    render(&state, &headers, &stock_id, None).await
}

#[expect(
    clippy::too_many_lines,
    reason = "one page's HTML, written top to bottom as it renders"
)]
async fn render(
    state: &PayState,
    headers: &HeaderMap,
    stock_id: &str,
    error: Option<String>,
) -> Response {
    let surface = &state.pay;
    let (viewer, user, _) = viewer(state, surface, headers).await;
    if user.is_none() {
        return signin_redirect(&format!("/app/coupons/{stock_id}"));
    }
    let Ok(Some(stock)) = surface.pay.public_stock(stock_id).await else {
        return ErrorPage::not_found("没有这张券 There is no such coupon.")
            .back("/app/me", "返回钱包 Back to my wallet")
            .into_response();
    };
    let merchant = surface
        .pay
        .merchant(&stock.creator_mchid)
        .await
        .ok()
        .flatten()
        .map_or_else(|| stock.creator_mchid.clone(), |merchant| merchant.name);
    let client_ref = plaza_pay::ids::random_hex(24);
    let held = match &user {
        Some(user) => surface
            .pay
            .coupons_of(&user.user_id, 200)
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|coupon| coupon.stock_id == stock.stock_id)
            .count(),
        None => 0,
    };
    let held = u64::try_from(held).unwrap_or(u64::MAX);
    let claimed_all = held >= stock.max_coupons_per_user;
    let open = stock.status == StockStatus::Running && !claimed_all;
    let claimed = if held > 0 {
        format!(
            "<p class=\"claimed\" id=\"claimed\"><span class=\"status SUCCESS\">已领取 Claimed</span> \
             {what} <a href=\"/app/me#coupons\">See it in my wallet</a></p>",
            what = if held == 1 {
                "You hold this coupon.".to_owned()
            } else {
                format!("You hold {held} of these coupons.")
            },
        )
    } else {
        String::new()
    };
    let note = match (&error, stock.status == StockStatus::Running) {
        (Some(error), _) => format!(
            "<p class=\"error\" id=\"claim-error\">{}</p>",
            escape(error)
        ),
        (None, false) if held == 0 => {
            "<p class=\"error\">暂停发放 This coupon is not being given out now.</p>".to_owned()
        }
        _ => String::new(),
    };
    let button = if claimed_all {
        "已领取 Claimed"
    } else if held > 0 {
        "再领一张 Claim another"
    } else {
        "立即领取 Claim this coupon"
    };
    let body = format!(
        "<div class=\"card coupon-claim\"><div class=\"payee\"><div class=\"avatar\">券</div>\
         <div class=\"merchant\">{merchant}</div><p class=\"muted\">{name}</p></div>\
         <div class=\"amount\"><small>¥</small>{amount}</div>\
         <p class=\"muted\" style=\"text-align:center\">{threshold}, until {until}</p>{claimed}{note}\
         <form method=\"post\" action=\"/app/coupons/{stock_id}/claim\">\
         <input type=\"hidden\" name=\"client_ref\" value=\"{client_ref}\">\
         <button class=\"wide\" id=\"claim\"{disabled}>{button}</button></form></div>",
        merchant = escape(&merchant),
        name = escape(&stock.name),
        amount = yuan(stock.coupon_amount_minor),
        threshold = threshold(stock.transaction_minimum_minor),
        until = day(stock.available_end),
        stock_id = escape(stock_id),
        disabled = if open { "" } else { " disabled" },
    );
    let page = AppPage::below(AppTab::Me, "Coupon", "/app/me");
    app_layout(page, &viewer, &body).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct ClaimForm {
    client_ref: String,
}

/// `POST /app/coupons/{stock_id}/claim`: claim, then back to the Me tab's coupons.
pub(crate) async fn claim(
    State(state): State<PayState>,
    headers: HeaderMap,
    Path(stock_id): Path<String>,
    PageForm(form): PageForm<ClaimForm>,
) -> Response {
    let surface = &state.pay;
    let (_, user, _) = viewer(&state, surface, &headers).await;
    let Some(user) = user else {
        return signin_redirect(&format!("/app/coupons/{stock_id}"));
    };
    match surface
        .pay
        .claim_coupon(&user.user_id, &stock_id, &form.client_ref)
        .await
    {
        Ok(_) => Redirect::to(&format!(
            "{}#coupons",
            with_flash("/app/me", FlashKind::Good, "领取成功 Coupon claimed")
        ))
        .into_response(),
        Err(error) => {
            let message = claim_refusal(&error);
            render(&state, &headers, &stock_id, Some(message)).await
        }
    }
}

/// Why a claim was refused, in the payer's terms.
fn claim_refusal(error: &plaza_pay::PayError) -> String {
    use plaza_pay::PayError;
    match error {
        PayError::StockNotActive { .. } => {
            "暂停发放 This coupon is not being given out now.".to_owned()
        }
        PayError::StockNotFound { .. } => "没有这张券 There is no such coupon.".to_owned(),
        PayError::StockExhausted { .. } => {
            "券已领完 All of these coupons have been given out.".to_owned()
        }
        other => human_message(crate::error::ApiError::from(other.clone()).shared()),
    }
}
