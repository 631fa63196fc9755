//! The operator's console: one day of payments by channel, the service providers'
//! share of offline volume and the day's latest payments, each opening its order and
//! merchant; and every merchant, each opening its page and orders
//! ([`super::orders`]). Signed in with the admin token (or by demo sign-in in the
//! sandbox), through the shell's `/signin/operator`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use plaza_pay::report::Channel;
use plaza_pay::time::Day;
use serde::Deserialize;

use super::consoles::{
    Role, SECTION_MERCHANTS, SECTION_PAYMENTS, china_time, console_page, money, order_badge, table,
};
use super::orders::{kind_label, rate};
use super::pages::{signin_redirect, viewer};
use super::{ErrorPage, PageQuery};
use super::{escape, signed_in_operator, yuan};
use crate::PayState;
use crate::routes::report::percent;

#[derive(Debug, Deserialize)]
pub(crate) struct DayQuery {
    day: Option<String>,
}

fn channel_label(channel: Channel) -> (&'static str, &'static str) {
    match channel {
        Channel::Direct => (
            "Direct merchants",
            "their own orders: JSAPI, Native, H5, App",
        ),
        Channel::ServiceProvider => (
            "Service providers",
            "orders placed for sub-merchants, counters included",
        ),
        Channel::CollectionCode => ("Collection codes", "micro-merchants' static QR codes"),
        Channel::PaymentCode => ("Payment codes", "direct merchants' counters"),
    }
}

/// `GET /console[?day=YYYY-MM-DD]`.
pub(crate) async fn day(
    State(state): State<PayState>,
    headers: HeaderMap,
    PageQuery(query): PageQuery<DayQuery>,
) -> Response {
    let surface = &state.pay;
    if !signed_in_operator(&state.http, &headers) {
        return signin_redirect("/console");
    }
    let (viewer, _, _) = viewer(&state, surface, &headers).await;
    let today = Day::of(surface.pay.now());
    let day = query
        .day
        .as_deref()
        .and_then(|text| Day::parse(text).ok())
        .unwrap_or(today);
    let report = match surface.pay.day_report(day).await {
        Ok(report) => report,
        Err(_) => {
            return ErrorPage::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "系统繁忙 Busy",
                "The store is unavailable; try again in a moment.",
            )
            .into_response();
        }
    };
    let mut cards = String::new();
    for (channel, tally) in &report.channels {
        let (title, note) = channel_label(*channel);
        cards.push_str(&format!(
            "<div class=\"card channel\" id=\"channel-{id}\"><h2>{title}</h2><p class=\"muted\">{note}</p>\
             <div class=\"stats\"><div><span class=\"stat payments\">{payments}</span><span>payments</span></div>\
             <div><span class=\"stat volume\">¥{volume}</span><span>volume</span></div></div></div>",
            id = channel.as_str(),
            payments = tally.payments,
            volume = yuan(tally.volume_minor),
        ));
    }
    let previous = Day::of(day.start().plus_ms(-86_400_000)).iso();
    let next = day.next().iso();
    let body = format!(
        "<h1>Console</h1><p class=\"lead\">Payments of <strong id=\"day\">{day}</strong> (China Standard Time) \
         by channel. <a href=\"/console?day={previous}\">← previous day</a> · <a href=\"/console?day={next}\">next day →</a></p>\
         <div class=\"card share\"><div class=\"stats\">\
         <div><span class=\"stat\" id=\"total-payments\">{total_payments}</span><span>payments</span></div>\
         <div><span class=\"stat\" id=\"total-volume\">¥{total_volume}</span><span>volume</span></div>\
         <div><span class=\"stat\" id=\"offline-volume\">¥{offline_volume}</span><span>offline (in person)</span></div>\
         <div><span class=\"stat\" id=\"provider-share\">{share}</span><span>of offline volume through service providers</span></div>\
         </div></div><div class=\"grid four\">{cards}</div>",
        day = escape(&day.iso()),
        total_payments = report.total.payments,
        total_volume = yuan(report.total.volume_minor),
        offline_volume = yuan(report.offline.volume_minor),
        share = percent(report.provider_share_bps()),
    );
    let payments = latest_payments_card(surface, day).await;
    let coupons = coupon_card(surface).await;
    let body = format!("{body}{payments}{coupons}");
    console_page(Role::Operator, SECTION_PAYMENTS, &viewer, "Console", &body).into_response()
}

/// Merchants the console reads: its lists stop there.
const MERCHANTS_LISTED: usize = 200;
/// Payments of the day listed on the console.
const LATEST_PAYMENTS: usize = 20;

/// The day's latest payments, each opening its order and its merchant. The domain has
/// no "orders paid on a day" read across merchants, so this asks each merchant's day.
async fn latest_payments_card(surface: &crate::pay_v3::PaySurface, day: Day) -> String {
    let merchants = surface
        .pay
        .merchants(MERCHANTS_LISTED)
        .await
        .unwrap_or_default();
    let mut paid = Vec::new();
    for merchant in &merchants {
        let orders = surface
            .pay
            .orders_paid_on(&merchant.mchid, day)
            .await
            .unwrap_or_default();
        paid.extend(
            orders
                .into_iter()
                .map(|order| (order, merchant.name.clone())),
        );
    }
    paid.sort_by_key(|(order, _)| std::cmp::Reverse(order.success_time));
    let mut rows = String::new();
    for (order, merchant_name) in paid.iter().take(LATEST_PAYMENTS) {
        rows.push_str(&format!(
            "<tr class=\"payment\"><td class=\"mono nowrap\">{paid}</td>\
             <td><a href=\"/console/merchants/{mchid}\">{merchant}</a><br><span class=\"muted mono\">{mchid}</span></td>\
             <td><a href=\"/console/merchants/{mchid}/orders/{no}\">{no}</a><br><span class=\"muted\">{description}</span></td>\
             <td class=\"nowrap\">{amount}</td><td>{badge}</td></tr>",
            paid = china_time(order.success_time),
            mchid = escape(&order.mchid),
            merchant = escape(merchant_name),
            no = escape(&order.out_trade_no),
            description = escape(&order.description),
            amount = money(order.total_minor),
            badge = order_badge(order),
        ));
    }
    format!(
        "<div class=\"card\" id=\"latest-payments\"><h2>Latest payments of the day</h2>{}</div>",
        table(
            "payments",
            &["Paid (China time)", "Merchant", "Order", "Amount", "Status"],
            &rows,
            "No payments on this day.",
        )
    )
}

/// `GET /console/merchants`: every merchant, each opening its page and orders.
pub(crate) async fn merchants(State(state): State<PayState>, headers: HeaderMap) -> Response {
    if !signed_in_operator(&state.http, &headers) {
        return signin_redirect("/console/merchants");
    }
    let surface = &state.pay;
    let merchants = match surface.pay.merchants(MERCHANTS_LISTED).await {
        Ok(merchants) => merchants,
        Err(error) => {
            return ErrorPage::from_api(crate::error::ApiError::from(error).shared())
                .into_response();
        }
    };
    let mut rows = String::new();
    for merchant in &merchants {
        let available = surface
            .pay
            .available_balance(&merchant.mchid)
            .await
            .unwrap_or(0);
        let provider = merchant.provider.as_deref().map_or_else(
            || "—".to_owned(),
            |provider| {
                format!(
                    "<a href=\"/console/merchants/{mchid}\" class=\"mono\">{mchid}</a>",
                    mchid = escape(provider)
                )
            },
        );
        rows.push_str(&format!(
            "<tr class=\"merchant\" data-mchid=\"{mchid}\"><td><a href=\"/console/merchants/{mchid}\">{name}</a>\
             <br><span class=\"muted mono\">{mchid}</span></td><td>{kind}</td><td>{provider}</td>\
             <td>{fee}</td><td class=\"nowrap\">{available}</td><td class=\"mono nowrap\">{created}</td></tr>",
            mchid = escape(&merchant.mchid),
            name = escape(&merchant.name),
            kind = kind_label(merchant.kind),
            fee = rate(merchant.fee_rate_bps),
            available = money(available),
            created = china_time(Some(merchant.created_at)),
        ));
    }
    let body = format!(
        "<h1>Merchants</h1><p class=\"lead\">Every merchant account: direct merchants, service providers, \
         their sub-merchants and collection codes. Open one for its orders.</p>\
         <div class=\"card\">{}</div>",
        table(
            "merchants",
            &[
                "Merchant",
                "Kind",
                "Provider",
                "Fee",
                "Available",
                "Created (China time)"
            ],
            &rows,
            "No merchants yet: plaza admin merchant create",
        )
    );
    let (viewer, _, _) = viewer(&state, surface, &headers).await;
    console_page(
        Role::Operator,
        SECTION_MERCHANTS,
        &viewer,
        "Merchants",
        &body,
    )
    .into_response()
}

/// Coupons, platform-wide: what they cost their funders and the spending they drove.
/// The headline is net of refunds (a coupon whose order was refunded in full drove
/// nothing); the gross figures, as paid, stand beside it.
async fn coupon_card(surface: &crate::pay_v3::PaySurface) -> String {
    let Ok((total, rows)) = surface.pay.coupon_report(None, 20).await else {
        return String::new();
    };
    let mut lines = String::new();
    for (stock, numbers) in &rows {
        lines.push_str(&format!(
            "<li><span>{name} <span class=\"muted mono\">{stock_id}</span><br><span class=\"muted\">\
             {redeemed} of {issued} used ({rate}), {refunded} refunded · subsidy ¥{net_subsidy} net, ¥{subsidy} gross</span></span>\
             <span>drove ¥{net_driven} net<br><span class=\"muted\">¥{driven} gross</span></span></li>",
            name = escape(&stock.name),
            stock_id = escape(&stock.stock_id),
            redeemed = numbers.redeemed,
            issued = numbers.issued,
            rate = percent(i64::try_from(numbers.redemption_bps()).unwrap_or(0)),
            refunded = numbers.refunded,
            net_subsidy = yuan(numbers.net_subsidy_minor()),
            subsidy = yuan(numbers.subsidy_minor),
            net_driven = yuan(numbers.net_driven_minor()),
            driven = yuan(numbers.driven_minor),
        ));
    }
    if lines.is_empty() {
        lines.push_str("<li class=\"muted\">No coupon stocks yet.</li>");
    }
    format!(
        "<div class=\"card\" id=\"coupons\"><h2>Coupons</h2><p>Net of refunds: ¥<span id=\"coupon-net-subsidy\">{net_subsidy}</span> \
         of coupons drove ¥<span id=\"coupon-net-driven\">{net_driven}</span> of spending \
         (<span id=\"coupon-net-redeemed\">{net_redeemed}</span> of {issued} coupons used and kept).</p>\
         <p class=\"muted\">Gross, as paid: ¥<span id=\"coupon-subsidy\">{subsidy}</span> drove \
         ¥<span id=\"coupon-driven\">{driven}</span> ({redeemed} used; <span id=\"coupon-refunded\">{refunded}</span> \
         of them refunded in full).</p>\
         <ul class=\"list\">{lines}</ul></div>",
        net_subsidy = yuan(total.net_subsidy_minor()),
        net_driven = yuan(total.net_driven_minor()),
        net_redeemed = total.net_redeemed(),
        subsidy = yuan(total.subsidy_minor),
        driven = yuan(total.driven_minor),
        redeemed = total.redeemed,
        refunded = total.refunded,
        issued = total.issued,
    )
}
