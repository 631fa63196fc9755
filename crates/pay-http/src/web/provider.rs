//! The service provider's console: its sub-merchants with their volume over a week
//! (orders paid, amounts, refunds, fees) and the provider's commission — settled, from
//! the days' settlement records, and still to come on days not settled yet (the held
//! fee times the provider's rate, rounded down as settlement does) — each sub-merchant
//! opening its orders. A provider is a merchant of kind provider, signed in with the
//! same `plaza_merchant` cookie; in the sandbox by demo sign-in (this console's sign-in
//! page posts to the shell's `/signin/provider`).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use plaza_pay::model::{Merchant, MerchantKind};
use plaza_pay::time::Day;
use plaza_pay::{PayError, PayService};
use serde::Deserialize;

use super::consoles::{Role, SECTION_SUB_MERCHANTS, console_page, money, table};
use super::orders::rate;
use super::pages::viewer;
use super::{ErrorPage, PageQuery, escape, signed_in_merchant};
use crate::PayState;
use crate::error::ApiError;
use plaza_http::web::{SECTION_SIGN_IN, safe_next};

/// Days the console adds up, ending on the day asked for (today by default).
const WINDOW_DAYS: usize = 7;
/// Sub-merchants listed.
const SUB_MERCHANTS_LISTED: usize = 100;

/// The signed-in service provider, if the merchant cookie names one.
pub(crate) async fn signed_in_provider(state: &PayState, headers: &HeaderMap) -> Option<Merchant> {
    let mchid = signed_in_merchant(&state.pay, headers)?;
    let merchant = state.pay.pay.merchant(&mchid).await.ok().flatten()?;
    (merchant.kind == MerchantKind::Provider).then_some(merchant)
}

/// To the provider sign-in, coming back to `next`.
pub(crate) fn provider_signin_redirect(next: &str) -> Response {
    Redirect::to(&format!(
        "/provider/signin?next={}",
        plaza_http::web::percent_encode(next)
    ))
    .into_response()
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

/// `GET /provider/signin`: in the sandbox, every service provider with a sign-in button.
pub(crate) async fn signin_page(
    State(state): State<PayState>,
    headers: HeaderMap,
    PageQuery(query): PageQuery<NextQuery>,
) -> Response {
    let (viewer, _, _) = viewer(&state, &state.pay, &headers).await;
    let next = escape(&safe_next(query.next.as_deref(), "/provider"));
    let mut body = String::from("<h1>Sign in as a service provider</h1>");
    if !viewer.sandbox {
        body.push_str(
            "<div class=\"card\"><p class=\"muted\">Demo sign-in is a sandbox power. Outside the sandbox, \
             service providers work through the partner APIs (<span class=\"mono\">/v3/pay/partner/…</span>).</p></div>",
        );
        return plaza_http::web::layout("Provider sign-in", SECTION_SIGN_IN, &viewer, false, &body)
            .into_response();
    }
    let providers = state.pay.pay.providers(50).await.unwrap_or_default();
    let mut items = String::new();
    for provider in &providers {
        items.push_str(&format!(
            "<li><span>{name}<br><span class=\"muted mono\">{mchid}</span></span>\
             <form method=\"post\" action=\"/signin/provider\"><input type=\"hidden\" name=\"mchid\" value=\"{mchid}\">\
             <input type=\"hidden\" name=\"next\" value=\"{next}\"><button data-provider=\"{name}\">Sign in</button></form></li>",
            name = escape(&provider.name),
            mchid = escape(&provider.mchid),
        ));
    }
    if items.is_empty() {
        items.push_str("<li class=\"muted\">No service providers yet: <span class=\"mono\">plaza admin provider create</span></li>");
    }
    body.push_str(&format!(
        "<p class=\"lead\">Sandbox mode: sign in as any service provider.</p>\
         <div class=\"card\"><h2>Service providers</h2><ul class=\"list\" id=\"providers\">{items}</ul></div>"
    ));
    plaza_http::web::layout("Provider sign-in", SECTION_SIGN_IN, &viewer, false, &body)
        .into_response()
}

/// One sub-merchant's week.
#[derive(Debug, Default, Clone, Copy)]
struct Volume {
    paid_orders: u64,
    volume_minor: i64,
    refunded_minor: i64,
    fees_minor: i64,
    commission_settled_minor: i64,
    commission_to_come_minor: i64,
}

impl Volume {
    fn add(&mut self, other: &Self) -> Result<(), PayError> {
        let add = plaza_pay::money::add;
        self.paid_orders += other.paid_orders;
        self.volume_minor = add(self.volume_minor, other.volume_minor, "volume")?;
        self.refunded_minor = add(self.refunded_minor, other.refunded_minor, "refunds")?;
        self.fees_minor = add(self.fees_minor, other.fees_minor, "fees")?;
        self.commission_settled_minor = add(
            self.commission_settled_minor,
            other.commission_settled_minor,
            "commission",
        )?;
        self.commission_to_come_minor = add(
            self.commission_to_come_minor,
            other.commission_to_come_minor,
            "commission",
        )?;
        Ok(())
    }
}

/// One day of a sub-merchant, as its provider sees it.
async fn day_volume(
    pay: &PayService,
    provider: &Merchant,
    sub_mchid: &str,
    day: Day,
) -> Result<Volume, PayError> {
    use plaza_pay::money::sum;
    let orders = pay.orders_paid_on(sub_mchid, day).await?;
    let refunds = pay.refunds_on(sub_mchid, day).await?;
    let mut volume = Volume {
        paid_orders: orders.len() as u64,
        volume_minor: sum(orders.iter().map(|order| order.total_minor), "volume")?,
        refunded_minor: sum(refunds.iter().map(|refund| refund.refund_minor), "refunds")?,
        fees_minor: sum(orders.iter().map(|order| order.fee_minor), "fees")?,
        ..Volume::default()
    };
    match pay.settlement(sub_mchid, day).await? {
        Some(settlement) if settlement.provider.as_deref() == Some(provider.mchid.as_str()) => {
            volume.commission_settled_minor = settlement.commission_minor;
        }
        Some(_) => {}
        None => {
            let (_, fee_held) = pay.pending_balance(sub_mchid, day).await?;
            volume.commission_to_come_minor = plaza_pay::money::bps_down(
                fee_held,
                provider.commission_bps,
                "the provider's commission",
            )?;
        }
    }
    Ok(volume)
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WindowQuery {
    until: Option<String>,
}

/// `GET /provider[?until=YYYY-MM-DD]`: the sub-merchants' week and the commission.
pub(crate) async fn home(
    State(state): State<PayState>,
    headers: HeaderMap,
    PageQuery(query): PageQuery<WindowQuery>,
) -> Response {
    let Some(provider) = signed_in_provider(&state, &headers).await else {
        return provider_signin_redirect("/provider");
    };
    let pay = &state.pay.pay;
    let today = Day::of(pay.now());
    let until = query
        .until
        .as_deref()
        .and_then(|text| Day::parse(text).ok())
        .unwrap_or(today);
    let days = window(until);
    let subs = match pay
        .sub_merchants(&provider.mchid, SUB_MERCHANTS_LISTED)
        .await
    {
        Ok(subs) => subs,
        Err(error) => return ErrorPage::from_api(ApiError::from(error).shared()).into_response(),
    };
    let mut rows = String::new();
    let mut total = Volume::default();
    for sub in &subs {
        let mut volume = Volume::default();
        for day in &days {
            let counted = match day_volume(pay, &provider, &sub.mchid, *day).await {
                Ok(counted) => counted,
                Err(error) => {
                    return ErrorPage::from_api(ApiError::from(error).shared()).into_response();
                }
            };
            if let Err(error) = volume.add(&counted).and_then(|()| total.add(&counted)) {
                return ErrorPage::from_api(ApiError::from(error).shared()).into_response();
            }
        }
        rows.push_str(&sub_row(sub, &volume));
    }
    let body = home_body(&provider, (&days, today), &total, &rows);
    let (viewer, _, _) = viewer(&state, &state.pay, &headers).await;
    console_page(
        Role::Provider,
        SECTION_SUB_MERCHANTS,
        &viewer,
        &format!("Sub-merchants · {}", provider.name),
        &body,
    )
    .into_response()
}

/// The `WINDOW_DAYS` days ending on `until`, oldest first.
fn window(until: Day) -> Vec<Day> {
    let mut days = vec![until];
    for _ in 1..WINDOW_DAYS {
        let Some(earliest) = days.first() else { break };
        days.insert(0, Day::of(earliest.start().plus_ms(-86_400_000)));
    }
    days
}

fn sub_row(sub: &Merchant, volume: &Volume) -> String {
    format!(
        "<tr class=\"sub-merchant\" data-mchid=\"{mchid}\"><td><a href=\"/provider/sub-merchants/{mchid}/orders\">{name}</a>\
         <br><span class=\"muted mono\">{mchid}</span></td><td>{fee_rate}</td>\
         <td class=\"paid-orders\">{paid}</td><td class=\"nowrap volume\">{volume}</td>\
         <td class=\"nowrap\">{refunded}</td><td class=\"nowrap\">{fees}</td>\
         <td class=\"nowrap commission\">{settled}</td><td class=\"nowrap to-come\">{to_come}</td></tr>",
        mchid = escape(&sub.mchid),
        name = escape(&sub.name),
        fee_rate = rate(sub.fee_rate_bps),
        paid = volume.paid_orders,
        volume = money(volume.volume_minor),
        refunded = money(volume.refunded_minor),
        fees = money(volume.fees_minor),
        settled = money(volume.commission_settled_minor),
        to_come = money(volume.commission_to_come_minor),
    )
}

fn home_body(provider: &Merchant, window: (&[Day], Day), total: &Volume, rows: &str) -> String {
    let (days, today) = window;
    let (first, last) = match (days.first(), days.last()) {
        (Some(first), Some(last)) => (*first, *last),
        _ => return String::new(),
    };
    let earlier = Day::of(first.start().plus_ms(-86_400_000)).iso();
    let later = if last < today {
        let until = Day::of(last.start().plus_ms(86_400_000 * WINDOW_DAYS as i64)).min(today);
        format!(
            " · <a href=\"/provider?until={}\">later week →</a>",
            until.iso()
        )
    } else {
        String::new()
    };
    format!(
        "<h1 id=\"provider-name\">{name}</h1><p class=\"lead\">Service provider <span class=\"mono\">{mchid}</span> · \
         commission {commission} of the platform fee on your sub-merchants' payments</p>\
         <p class=\"links\"><strong id=\"window\">{from} – {until}</strong> (China time) · \
         <a href=\"/provider?until={earlier}\">← earlier week</a>{later}</p>\
         <div class=\"card\"><div class=\"stats\">\
         <div><span class=\"stat\" id=\"total-paid-orders\">{paid}</span><span>orders paid</span></div>\
         <div><span class=\"stat\" id=\"total-volume\">{volume}</span><span>volume</span></div>\
         <div><span class=\"stat\" id=\"commission-settled\">{settled}</span><span>commission settled</span></div>\
         <div><span class=\"stat\" id=\"commission-to-come\">{to_come}</span><span>commission to come</span></div>\
         </div><p class=\"muted\">Commission is paid to your available balance when each sub-merchant's day \
         settles, early the next morning; what is still to come is the held fee of days not settled yet.</p></div>\
         <div class=\"card\"><h2>Sub-merchants</h2>{table}</div>",
        name = escape(&provider.name),
        mchid = escape(&provider.mchid),
        commission = rate(provider.commission_bps),
        from = first.iso(),
        until = last.iso(),
        paid = total.paid_orders,
        volume = money(total.volume_minor),
        settled = money(total.commission_settled_minor),
        to_come = money(total.commission_to_come_minor),
        table = table(
            "sub-merchants",
            &[
                "Sub-merchant",
                "Fee",
                "Paid",
                "Volume",
                "Refunded",
                "Fees",
                "Commission",
                "To come"
            ],
            rows,
            "No sub-merchants yet: onboard one with POST /api/v1/admin/providers/{sp_mchid}/sub-merchants.",
        ),
    )
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_a_week_ending_on_the_day_asked_for() {
        let until = Day::parse("2026-03-02").unwrap();
        let days: Vec<String> = window(until).iter().map(|day| day.iso()).collect();
        assert_eq!(
            days,
            [
                "2026-02-24",
                "2026-02-25",
                "2026-02-26",
                "2026-02-27",
                "2026-02-28",
                "2026-03-01",
                "2026-03-02"
            ]
        );
    }
}
