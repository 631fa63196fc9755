//! The checkout (`/app/pay/checkout`): the order a payer's link or scanned code names,
//! with the coupon choice and the six password boxes (`checkout.js` posts to
//! `/api/v1/pay/confirm` with the session cookie); an order that cannot be paid any more
//! shows how it ended.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use plaza_http::web::{AppPage, AppTab, app_layout, china_time};
use plaza_pay::OrderRef;
use plaza_pay::model::TradeState;
use serde::Deserialize;

use super::pages::{signin_redirect, viewer};
use super::{ErrorPage, PageQuery, escape, pin_inputs, yuan};
use crate::PayState;

#[derive(Debug, Deserialize)]
pub(crate) struct CheckoutQuery {
    code: Option<String>,
    prepay_id: Option<String>,
}

/// `GET /app/pay/checkout?code=…` or `?prepay_id=…`: the password pad for an order that can
/// be paid; for one that cannot any more, its end state.
pub(crate) async fn page(
    State(state): State<PayState>,
    headers: HeaderMap,
    PageQuery(query): PageQuery<CheckoutQuery>,
) -> Response {
    let surface = &state.pay;
    let (reference, ref_kind, ref_value, here) = match (query.code, query.prepay_id) {
        (Some(code), _) if !code.is_empty() => {
            let here = format!("/app/pay/checkout?code={code}");
            (OrderRef::CodeToken(code.clone()), "code_url", code, here)
        }
        (_, Some(prepay_id)) if !prepay_id.is_empty() => {
            let here = format!("/app/pay/checkout?prepay_id={prepay_id}");
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
            .back("/app/me", "返回钱包 Back to my wallet")
            .into_response();
        }
    };
    let (viewer, user, _) = viewer(&state, surface, &headers).await;
    let Some(user) = user else {
        return signin_redirect(&here);
    };
    let Ok((order, _)) = surface.pay.order_for_payer(&user.user_id, &reference).await else {
        return ErrorPage::not_found("订单不存在 This code does not name an order you can see.")
            .back("/app/me", "返回钱包 Back to my wallet")
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
    app_layout(
        AppPage::below(AppTab::Me, "Checkout", "/app/me"),
        &viewer,
        &body,
    )
    .into_response()
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
             <a class=\"button wide\" id=\"done-button\" href=\"/app/me\">完成 Done</a></div></div>\
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
            when = order.success_time.map(china_time).unwrap_or_default(),
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
         <a class=\"button wide\" id=\"done-button\" href=\"/app/me\">完成 Done</a></div>",
        state = order.state.wire(),
        payee = payee(merchant_name),
        amount = yuan(order.total_minor),
        note = escape(&note),
    )
}
