//! Orders in the consoles, one set of pages for three viewers: a merchant's own orders
//! (`/merchant/console/orders…`), a service provider's sub-merchant's
//! (`/provider/sub-merchants/{mchid}/orders…`) and any merchant's for the operator
//! (`/console/merchants/{mchid}…`). A paged list, and an order's page with its timeline
//! ([`super::timeline`]) and what the viewer may do: refund it (merchants and
//! providers, through the same `PayService::refund` as the APIs), and in the sandbox
//! have the robot payer pay it or close it now as its deadline would. The operator
//! reads, and has only the sandbox powers.
//!
//! Every action is a form that posts back (the same-origin rule applies) and comes back
//! to the order's page with a flash message in people's words.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use plaza_pay::model::{Merchant, MerchantKind, Order, RefundStatus, TradeState};
use plaza_pay::{PayError, RefundRequest};
use serde::Deserialize;

use super::consoles::{
    Flash, Role, SECTION_MERCHANTS, SECTION_ORDERS, SECTION_SUB_MERCHANTS, YUAN_HINT, china_time,
    console_page, fen_from_yuan, money, order_badge, page_of, pager, redirect_with_flash,
    rows_for_page, table,
};
use super::pages::{signin_redirect, viewer};
use super::provider::{provider_signin_redirect, signed_in_provider};
use super::timeline::{OrderFacts, TimelineLinks, timeline, timeline_html};
use super::{ErrorPage, PageForm, PageQuery, Viewer, escape, human_message, signed_in_operator};
use crate::PayState;
use crate::error::ApiError;

/// Whose orders a console page shows, to whom, and what that viewer may do.
pub(crate) struct OrderScope {
    role: Role,
    /// The merchant whose orders these are.
    merchant: Merchant,
    /// A provider acting for its sub-merchant: refunds name it as `sp_mchid`.
    acting_provider: Option<String>,
    /// The list's address.
    list_href: String,
    /// Where order pages live: an order's page is `{order_base}/{out_trade_no}`.
    order_base: String,
    /// Who is signed in, for the header.
    viewer: Viewer,
}

impl OrderScope {
    fn order_href(&self, out_trade_no: &str) -> String {
        format!("{}/{}", self.order_base, escape(out_trade_no))
    }

    /// Where an error page leads back to.
    fn home(&self) -> (&'static str, &'static str) {
        match self.role {
            Role::Merchant => ("/merchant/console/orders", "返回订单 Back to the orders"),
            Role::Provider => ("/provider", "返回子商户 Back to the sub-merchants"),
            Role::Operator => ("/console/merchants", "返回商户 Back to the merchants"),
        }
    }

    fn section(&self) -> &'static str {
        match self.role {
            Role::Merchant => SECTION_ORDERS,
            Role::Provider => SECTION_SUB_MERCHANTS,
            Role::Operator => SECTION_MERCHANTS,
        }
    }

    /// Merchants refund their own orders and providers their sub-merchants'; the
    /// operator only reads.
    fn may_refund(&self) -> bool {
        self.role != Role::Operator
    }

    fn page(&self, title: &str, body: &str) -> Response {
        console_page(self.role, self.section(), &self.viewer, title, body).into_response()
    }
}

/// Where a visitor who is not signed in goes back to after signing in: the page itself,
/// or for a form, the order's page it was on.
fn return_path(parts: &Parts) -> String {
    let path = parts.uri.path();
    if parts.method == Method::GET {
        return parts
            .uri
            .path_and_query()
            .map_or(path, |path| path.as_str())
            .to_owned();
    }
    path.rsplit_once('/')
        .map_or(path, |(order_page, _action)| order_page)
        .to_owned()
}

impl FromRequestParts<PayState> for OrderScope {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &PayState) -> Result<Self, Response> {
        let params = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map(|Path(params)| params)
            .unwrap_or_default();
        let mchid = params.get("mchid").cloned().unwrap_or_default();
        let back = return_path(parts);
        let (viewer, _, signed_in) = viewer(state, &state.pay, &parts.headers).await;
        let path = parts.uri.path();
        if path.starts_with("/merchant/") {
            let merchant = signed_in.ok_or_else(|| signin_redirect(&back))?;
            return Ok(Self {
                role: Role::Merchant,
                merchant,
                acting_provider: None,
                list_href: "/merchant/console/orders".to_owned(),
                order_base: "/merchant/console/orders".to_owned(),
                viewer,
            });
        }
        if path.starts_with("/provider/") {
            let provider = signed_in_provider(state, &parts.headers)
                .await
                .ok_or_else(|| provider_signin_redirect(&back))?;
            let sub = state
                .pay
                .pay
                .sub_merchant_of(&provider.mchid, &mchid)
                .await
                .map_err(|error| refusal_page(error, ("/provider", "返回 Back")))?;
            let list_href = format!("/provider/sub-merchants/{}/orders", escape(&sub.mchid));
            return Ok(Self {
                role: Role::Provider,
                merchant: (*sub).clone(),
                acting_provider: Some(provider.mchid),
                order_base: list_href.clone(),
                list_href,
                viewer,
            });
        }
        operator_scope(state, parts, &mchid, &back, viewer).await
    }
}

async fn operator_scope(
    state: &PayState,
    parts: &Parts,
    mchid: &str,
    back: &str,
    viewer: Viewer,
) -> Result<OrderScope, Response> {
    if !signed_in_operator(&state.http, &parts.headers) {
        return Err(signin_redirect(back));
    }
    let merchant = match state.pay.pay.merchant(mchid).await {
        Ok(Some(merchant)) => merchant,
        Ok(None) => {
            return Err(ErrorPage::not_found(
                "这个商户不存在 There is no merchant with this mchid.",
            )
            .back("/console/merchants", "返回商户 Back to the merchants")
            .into_response());
        }
        Err(error) => return Err(refusal_page(error, ("/console", "返回 Back"))),
    };
    let list_href = format!("/console/merchants/{}", escape(&merchant.mchid));
    Ok(OrderScope {
        role: Role::Operator,
        order_base: format!("{list_href}/orders"),
        list_href,
        merchant,
        acting_provider: None,
        viewer,
    })
}

/// The error page for a domain refusal met while opening a page.
fn refusal_page(error: PayError, back: (&'static str, &'static str)) -> Response {
    ErrorPage::from_api(ApiError::from(error).shared())
        .back(back.0, back.1)
        .into_response()
}

/// A domain refusal in people's words, for a flash message.
fn in_words(error: PayError) -> String {
    match error {
        PayError::MerchantBalanceNotEnough => {
            "余额不足 The merchant's available balance cannot cover this refund.".to_owned()
        }
        PayError::OrderPaid { .. } => {
            "已支付 This order is paid already, so it cannot be closed; refund it instead."
                .to_owned()
        }
        error => human_message(ApiError::from(error).shared()),
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    page: Option<usize>,
}

/// `GET /merchant/console/orders`, `/provider/sub-merchants/{mchid}/orders`,
/// `/console/merchants/{mchid}`: the merchant's orders, newest first, a page at a time.
pub(crate) async fn list(
    State(state): State<PayState>,
    scope: OrderScope,
    PageQuery(query): PageQuery<ListQuery>,
) -> Response {
    let page = query.page.unwrap_or(1);
    let pay = &state.pay.pay;
    let orders = match pay
        .orders_of(&scope.merchant.mchid, rows_for_page(page))
        .await
    {
        Ok(orders) => orders,
        Err(error) => return refusal_page(error, scope.home()),
    };
    let (orders, more) = page_of(orders, page);
    let mut rows = String::new();
    for order in &orders {
        rows.push_str(&order_row(&scope, order));
    }
    let head = merchant_header(&state, &scope).await;
    let body = format!(
        "{head}<div class=\"card\"><h2>Orders</h2>{table}{pager}</div>",
        table = table(
            "orders",
            &[
                "Created (China time)",
                "Order",
                "Amount",
                "Status",
                "Paid",
                "Refunded"
            ],
            &rows,
            "No orders yet.",
        ),
        pager = pager(&scope.list_href, page, more),
    );
    let title = format!("Orders · {}", scope.merchant.name);
    scope.page(&title, &body)
}

fn order_row(scope: &OrderScope, order: &Order) -> String {
    format!(
        "<tr class=\"order\" data-no=\"{no}\"><td class=\"mono nowrap\">{created}</td>\
         <td><a href=\"{href}\">{no}</a><br><span class=\"muted\">{description}</span></td>\
         <td class=\"nowrap\">{amount}</td><td>{badge}</td><td class=\"mono nowrap\">{paid}</td>\
         <td class=\"nowrap\">{refunded}</td></tr>",
        no = escape(&order.out_trade_no),
        created = china_time(Some(order.created_at)),
        href = scope.order_href(&order.out_trade_no),
        description = escape(&order.description),
        amount = money(order.total_minor),
        badge = order_badge(order),
        paid = china_time(order.success_time),
        refunded = if order.refunded_minor > 0 {
            money(order.refunded_minor)
        } else {
            "—".to_owned()
        },
    )
}

/// The heading of a merchant's list: who it is, and for the operator its kind, balance
/// and the merchants around it.
async fn merchant_header(state: &PayState, scope: &OrderScope) -> String {
    let merchant = &scope.merchant;
    let pay = &state.pay.pay;
    let available = pay.available_balance(&merchant.mchid).await.unwrap_or(0);
    let lead = format!(
        "<p class=\"lead\"><span class=\"mono\" id=\"mchid\">{mchid}</span> · {kind} · fee {fee} · \
         available <span id=\"available\">{available}</span></p>",
        mchid = escape(&merchant.mchid),
        kind = kind_label(merchant.kind),
        fee = rate(merchant.fee_rate_bps),
        available = money(available),
    );
    let mut links = Vec::new();
    if scope.role == Role::Provider {
        links.push("<a href=\"/provider\">← All sub-merchants</a>".to_owned());
    }
    if scope.role == Role::Operator {
        links.extend(operator_links(state, merchant).await);
    }
    let links = if links.is_empty() {
        String::new()
    } else {
        format!("<p class=\"links\">{}</p>", links.join(" · "))
    };
    format!(
        "<h1 id=\"merchant-name\">{name}</h1>{lead}{links}",
        name = escape(&merchant.name)
    )
}

/// What the operator can open from a merchant: its provider or sub-merchants, and its
/// notifications in the sandbox console.
async fn operator_links(state: &PayState, merchant: &Merchant) -> Vec<String> {
    let mut links = Vec::new();
    if let Some(provider) = &merchant.provider {
        links.push(format!(
            "Provider <a href=\"/console/merchants/{mchid}\">{mchid}</a>",
            mchid = escape(provider)
        ));
    }
    if merchant.kind == MerchantKind::Provider {
        let subs = state
            .pay
            .pay
            .sub_merchants(&merchant.mchid, 20)
            .await
            .unwrap_or_default();
        let names: Vec<String> = subs
            .iter()
            .map(|sub| {
                format!(
                    "<a href=\"/console/merchants/{mchid}\">{name}</a>",
                    mchid = escape(&sub.mchid),
                    name = escape(&sub.name)
                )
            })
            .collect();
        if !names.is_empty() {
            links.push(format!("Sub-merchants: {}", names.join(", ")));
        }
    }
    if state.notification_actions.is_some() {
        links.push(format!(
            "<a href=\"/console/notifications?mchid={}\">Notifications, faults and script</a>",
            escape(&merchant.mchid)
        ));
    }
    links
}

pub(crate) fn kind_label(kind: MerchantKind) -> &'static str {
    match kind {
        MerchantKind::Direct => "direct merchant",
        MerchantKind::Provider => "service provider",
        MerchantKind::SubMerchant => "sub-merchant",
        MerchantKind::Micro => "collection code",
    }
}

/// `0.60%` from 60 basis points.
pub(crate) fn rate(bps: u32) -> String {
    format!("{}.{:02}%", bps / 100, bps % 100)
}

/// `GET …/{out_trade_no}`: the order, its timeline and what the viewer may do with it.
pub(crate) async fn order_page(
    State(state): State<PayState>,
    scope: OrderScope,
    Path(params): Path<HashMap<String, String>>,
    PageQuery(flash): PageQuery<Flash>,
) -> Response {
    let out_trade_no = params.get("out_trade_no").cloned().unwrap_or_default();
    let pay = &state.pay.pay;
    let order = match pay.order(&scope.merchant.mchid, &out_trade_no).await {
        Ok(Some(order)) => order,
        Ok(None) => {
            let (href, label) = scope.home();
            return ErrorPage::not_found("订单不存在 This merchant has no order with this number.")
                .back(href, label)
                .into_response();
        }
        Err(error) => return refusal_page(error, scope.home()),
    };
    let facts = match OrderFacts::read(pay, order).await {
        Ok(facts) => facts,
        Err(error) => return refusal_page(error, scope.home()),
    };
    let links = TimelineLinks {
        notification_console: scope.role == Role::Operator && state.notification_actions.is_some(),
    };
    let events = timeline(&facts, pay.now(), links);
    let order = &facts.order;
    let body = format!(
        "<p class=\"crumbs\"><a href=\"{list}\">{merchant}</a> › Order</p>\
         <h1>{description}</h1><p class=\"lead\"><span class=\"mono\" id=\"out-trade-no\">{no}</span> · \
         <span id=\"order-state\">{badge}</span></p>{flash}\
         <div class=\"grid two top\" id=\"order-grid\">{facts}{actions}</div>\
         <div class=\"card\"><h2>Timeline</h2>{timeline}</div>",
        list = scope.list_href,
        merchant = escape(&scope.merchant.name),
        description = escape(&order.description),
        no = escape(&order.out_trade_no),
        badge = order_badge(order),
        flash = flash.html(),
        facts = facts_card(&facts),
        actions = actions_card(&state, &scope, order),
        timeline = timeline_html(&events, facts.notifications_complete),
    );
    scope.page(&format!("Order {}", order.out_trade_no), &body)
}

fn facts_card(facts: &OrderFacts) -> String {
    let order = &facts.order;
    let provider = order
        .sp_mchid
        .as_deref()
        .map_or_else(String::new, |sp_mchid| {
            format!(
                "<div><span>Service provider</span><span class=\"mono\">{}</span></div>",
                escape(sp_mchid)
            )
        });
    format!(
        "<div class=\"card\" id=\"order-facts\"><h2>Order</h2><div class=\"rows\">\
         <div><span>Amount</span><span id=\"order-total\">{total}</span></div>\
         <div><span>Type</span><span>{trade_type}</span></div>\
         <div><span>Created</span><span class=\"mono\">{created}</span></div>\
         <div><span>Pay by</span><span class=\"mono\">{deadline}</span></div>\
         <div><span>Paid</span><span class=\"mono\">{paid}</span></div>\
         <div><span>Payer</span><span>{payer}</span></div>\
         <div><span>Fee</span><span>{fee}</span></div>\
         <div><span>Refunded</span><span id=\"order-refunded\">{refunded}</span></div>{provider}</div></div>",
        total = money(order.total_minor),
        trade_type = order.trade_type.wire(),
        created = china_time(Some(order.created_at)),
        deadline = china_time(Some(order.time_expire)),
        paid = china_time(order.success_time),
        payer = facts
            .payer_name
            .as_deref()
            .map_or_else(|| "—".to_owned(), escape),
        fee = money(order.fee_minor),
        refunded = money(order.refunded_minor),
    )
}

/// What the viewer may do with the order now.
fn actions_card(state: &PayState, scope: &OrderScope, order: &Order) -> String {
    let href = scope.order_href(&order.out_trade_no);
    let mut actions = String::new();
    let paid = matches!(order.state, TradeState::Success | TradeState::Refund);
    if scope.may_refund() && paid && order.refundable_minor() > 0 {
        let now = state.pay.pay.now();
        let out_refund_no = format!(
            "RF{}{}",
            plaza_pay::time::compact(now),
            plaza_pay::ids::random_hex(6).to_ascii_uppercase()
        );
        actions.push_str(&format!(
            "<form method=\"post\" action=\"{href}/refund\" id=\"refund-form\">\
             <input type=\"hidden\" name=\"out_refund_no\" value=\"{out_refund_no}\">\
             <div class=\"form-grid\"><label>Amount (¥)<input type=\"text\" name=\"amount\" id=\"refund-amount\" \
             value=\"{refundable}\" inputmode=\"decimal\" autocomplete=\"off\"></label>\
             <label>Reason<input type=\"text\" name=\"reason\" id=\"refund-reason\" maxlength=\"80\" \
             placeholder=\"optional\"></label></div>\
             <p class=\"muted\">Up to {left} can still be refunded; it goes back to the payer.</p>\
             <button id=\"refund\">Refund</button></form>",
            refundable = super::yuan(order.refundable_minor()),
            left = money(order.refundable_minor()),
        ));
    }
    let open = matches!(order.state, TradeState::Notpay | TradeState::Userpaying);
    let sandbox = state.http.time_travel.is_some();
    if sandbox && open && state.pay.pay.now() < order.time_expire {
        actions.push_str(&format!(
            "<p class=\"muted\">Sandbox: have the robot payer pay it now, or close it now as its \
             deadline would.</p><div class=\"actions\">\
             <form method=\"post\" action=\"{href}/robot-pay\"><button id=\"robot-pay\">Pay as robot</button></form>\
             <form method=\"post\" action=\"{href}/expire\"><button class=\"secondary\" id=\"expire-now\">Expire now</button></form></div>"
        ));
    }
    if actions.is_empty() {
        let why = if scope.role == Role::Operator && paid {
            "The operator reads orders; refunds are the merchant's."
        } else if open {
            "It waits for its payer."
        } else {
            "Nothing more can be done with this order."
        };
        actions = format!("<p class=\"muted\" id=\"no-actions\">{why}</p>");
    }
    format!("<div class=\"card\" id=\"actions\"><h2>Actions</h2>{actions}</div>")
}

/// Reads the order an action is about, or the page to answer instead.
async fn order_for_action(
    state: &PayState,
    scope: &OrderScope,
    params: &HashMap<String, String>,
) -> Result<(Order, String), Response> {
    let out_trade_no = params.get("out_trade_no").cloned().unwrap_or_default();
    match state
        .pay
        .pay
        .order(&scope.merchant.mchid, &out_trade_no)
        .await
    {
        Ok(Some(order)) => {
            let href = scope.order_href(&order.out_trade_no);
            Ok((order, href))
        }
        Ok(None) => {
            let (href, label) = scope.home();
            Err(
                ErrorPage::not_found("订单不存在 This merchant has no order with this number.")
                    .back(href, label)
                    .into_response(),
            )
        }
        Err(error) => Err(refusal_page(error, scope.home())),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct RefundForm {
    out_refund_no: String,
    amount: String,
    #[serde(default)]
    reason: String,
}

/// Longest refund reason WeChat takes, in characters.
const REFUND_REASON_CHARS_MAX: usize = 80;

/// `POST …/{out_trade_no}/refund`: refunds `amount` yuan through `PayService::refund`,
/// idempotent on the form's `out_refund_no` (drawn when the page was shown, so a double
/// submit refunds once).
pub(crate) async fn refund(
    State(state): State<PayState>,
    scope: OrderScope,
    Path(params): Path<HashMap<String, String>>,
    PageForm(form): PageForm<RefundForm>,
) -> Response {
    if !scope.may_refund() {
        return ErrorPage::new(
            StatusCode::FORBIDDEN,
            "无法继续 Not allowed",
            "The operator reads orders; refunds are the merchant's.",
        )
        .into_response();
    }
    let (order, href) = match order_for_action(&state, &scope, &params).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let Some(refund_minor) = fen_from_yuan(&form.amount).filter(|fen| *fen > 0) else {
        return redirect_with_flash(&href, "error", YUAN_HINT);
    };
    if refund_minor > order.refundable_minor() {
        let left = money(order.refundable_minor());
        return redirect_with_flash(
            &href,
            "error",
            &format!("退款金额过大 At most {left} of this order can still be refunded."),
        );
    }
    let reason = form.reason.trim();
    if reason.chars().count() > REFUND_REASON_CHARS_MAX {
        return redirect_with_flash(
            &href,
            "error",
            "退款原因过长 Keep the reason to 80 characters.",
        );
    }
    let request = RefundRequest {
        mchid: order.mchid.clone(),
        out_trade_no: Some(order.out_trade_no.clone()),
        transaction_id: None,
        out_refund_no: form.out_refund_no.trim().to_owned(),
        reason: Some(reason.to_owned()).filter(|reason| !reason.is_empty()),
        notify_url: None,
        refund_minor,
        total_minor: order.total_minor,
        currency: "CNY".to_owned(),
        sp_mchid: scope.acting_provider.clone(),
    };
    match state.pay.pay.refund(request).await {
        Ok(refund) if refund.status == RefundStatus::Abnormal => redirect_with_flash(
            &href,
            "error",
            &format!(
                "退款异常 The refund of {} failed at the payer's bank (a sandbox script); no money moved.",
                money(refund.refund_minor)
            ),
        ),
        Ok(refund) => redirect_with_flash(
            &href,
            "ok",
            &format!(
                "退款成功 Refunded {} to the payer.",
                money(refund.refund_minor)
            ),
        ),
        Err(error) => redirect_with_flash(&href, "error", &in_words(error)),
    }
}

/// The sandbox powers answer the 404 page in production.
fn sandbox_only(state: &PayState) -> Result<(), ErrorPage> {
    if state.http.time_travel.is_some() {
        return Ok(());
    }
    Err(ErrorPage::not_found(
        "沙箱功能 Paying as the robot and expiring orders exist only in sandbox mode.",
    )
    .code("sandbox_only"))
}

/// `POST …/{out_trade_no}/robot-pay` (sandbox): the robot payer pays the open order, as
/// a scripted order's auto-pay does (`PayService::robot_pay`).
pub(crate) async fn robot_pay(
    State(state): State<PayState>,
    scope: OrderScope,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    if let Err(page) = sandbox_only(&state) {
        return page.into_response();
    }
    let (order, href) = match order_for_action(&state, &scope, &params).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match state.pay.pay.robot_pay(&order.key()).await {
        Ok(paid) if paid.state == TradeState::Success => redirect_with_flash(
            &href,
            "ok",
            &format!(
                "已支付 The sandbox robot payer paid {}.",
                money(paid.payer_total_minor)
            ),
        ),
        Ok(_) => redirect_with_flash(
            &href,
            "error",
            "订单无法支付 This order can no longer be paid (it is paid, closed or past its deadline).",
        ),
        Err(error) => redirect_with_flash(&href, "error", &in_words(error)),
    }
}

/// `POST …/{out_trade_no}/expire` (sandbox): closes the unpaid order now, as its
/// deadline would (`PayService::close`).
pub(crate) async fn expire(
    State(state): State<PayState>,
    scope: OrderScope,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    if let Err(page) = sandbox_only(&state) {
        return page.into_response();
    }
    let (order, href) = match order_for_action(&state, &scope, &params).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match state.pay.pay.close(&order.mchid, &order.out_trade_no).await {
        Ok(_) => redirect_with_flash(
            &href,
            "ok",
            "已关闭 The order is closed; it can no longer be paid.",
        ),
        Err(error) => redirect_with_flash(&href, "error", &in_words(error)),
    }
}
