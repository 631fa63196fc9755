//! The sandbox console: every notification with its exact signed requests and the
//! merchant's answers, with resend, replay, send-edited and skip-to-next-retry; a
//! merchant's fault plan and scripted outcomes; the sandbox clock's buttons. Sandbox
//! mode only, signed in as the operator. Merchants and orders open their console pages.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use plaza_pay::model::{DeliveryState, Notification, NotificationSubject, Order};
use plaza_pay::sandbox::{FaultPlan, Script};
use serde::Deserialize;

use super::consoles::{Role, SECTION_NOTIFICATIONS, console_page, flash_html, flash_url};
use super::pages::{signin_redirect, viewer};
use super::{ErrorPage, PageForm, PageQuery};
use super::{escape, signed_in_operator};
use crate::PayState;
use crate::error::{ApiError, code};
use crate::pay_v3::PaySurface;
use crate::pay_v3::wire::notification_resource;
use crate::routes::sandbox as actions;

/// Notifications listed on one page.
const LISTED: usize = 100;

/// The signed-in operator on a sandbox console page or action. As an extractor it runs
/// before any form is read, and checks in this order: the operator is signed in (else
/// the sign-in page), then the sandbox is on (else the 404 page, `sandbox_only`) — so
/// in production a console action answers the same whatever its body holds.
pub(crate) struct Console(Arc<PaySurface>);

impl FromRequestParts<PayState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &PayState) -> Result<Self, Response> {
        let surface = &state.pay;
        if !signed_in_operator(&state.http, &parts.headers) {
            let here = if parts.method == Method::GET {
                parts
                    .uri
                    .path_and_query()
                    .map_or("/console/notifications", |path| path.as_str())
            } else {
                "/console/notifications"
            };
            return Err(signin_redirect(here));
        }
        if state.notification_actions.is_none() {
            return Err(ErrorPage::not_found(
                "沙箱功能 The sandbox console exists only in sandbox mode (plaza serve --sandbox).",
            )
            .code("sandbox_only")
            .back("/console", "返回控制台 Back to the console")
            .into_response());
        }
        Ok(Self(surface.clone()))
    }
}

/// Where to go back to: the page the form was on (same site only), or `fallback`.
fn back(headers: &HeaderMap, fallback: &str) -> String {
    headers
        .get(header::REFERER)
        .and_then(|value| value.to_str().ok())
        .and_then(|referer| {
            let after_scheme = referer.split_once("://").map_or(referer, |(_, rest)| rest);
            after_scheme.find('/').map(|at| &after_scheme[at..])
        })
        .filter(|path| path.starts_with("/console") && !path.contains("//"))
        .map_or_else(|| fallback.to_owned(), |path| strip_notice(path).to_owned())
}

fn strip_notice(path: &str) -> &str {
    path.split_once('?').map_or(path, |(path, _)| path)
}

fn with_notice(path: &str, key: &str, text: &str) -> Redirect {
    Redirect::to(&flash_url(path, key, text))
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Notice {
    ok: Option<String>,
    error: Option<String>,
    mchid: Option<String>,
}

fn notice_html(notice: &Notice) -> String {
    flash_html(notice.ok.as_deref(), notice.error.as_deref())
}

/// The order a notification reports on, if any.
fn order_of(notification: &Notification) -> Option<&Order> {
    match &notification.subject {
        NotificationSubject::TransactionSuccess { order }
        | NotificationSubject::RefundSuccess { order, .. }
        | NotificationSubject::RefundAbnormal { order, .. } => Some(order),
        NotificationSubject::CouponUse { .. } => None,
    }
}

/// A link to the console page of the order `notification` reports on, or `—`.
fn order_link(notification: &Notification) -> String {
    order_of(notification).map_or_else(
        || "—".to_owned(),
        |order| {
            format!(
                "<a class=\"mono order-link\" href=\"/console/merchants/{mchid}/orders/{no}\">{no}</a>",
                mchid = escape(&order.mchid),
                no = escape(&order.out_trade_no),
            )
        },
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct ClockForm {
    advance: String,
}

/// `POST /console/clock`: +1 hour, +1 day, or to the next job; due jobs run in order.
pub(crate) async fn clock(
    State(state): State<PayState>,
    _console: Console,
    headers: HeaderMap,
    PageForm(form): PageForm<ClockForm>,
) -> Response {
    let path = back(&headers, "/console");
    let result = async {
        let travel = actions::time_travel(&state)?;
        match form.advance.as_str() {
            "hour" => Ok(travel.advance(3_600_000).await?),
            "day" => Ok(travel.advance(86_400_000).await?),
            "next-job" => match state.http.jobs.next_due_at().await? {
                Some(due) => actions::advance_to(&state, due).await,
                None => Err(ApiError::new(code::BUSINESS_RULE, "no job is waiting")),
            },
            other => Err(ApiError::new(
                code::INVALID_FIELD,
                format!("advance: {other:?} is not hour, day or next-job"),
            )),
        }
    }
    .await;
    match result {
        Ok(advanced) => with_notice(
            &path,
            "ok",
            &format!(
                "Clock moved to {}; {} job(s) ran.",
                plaza_pay::time::bill_time(advanced.now),
                advanced.jobs_run
            ),
        )
        .into_response(),
        Err(error) => with_notice(&path, "error", &error.message_text()).into_response(),
    }
}

fn store_unavailable() -> Response {
    ErrorPage::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "系统繁忙 Busy",
        "The store is unavailable; try again in a moment.",
    )
    .into_response()
}

fn state_badge(state: DeliveryState) -> String {
    format!("<span class=\"status {0}\">{0}</span>", state.as_str())
}

fn when(at: Option<plaza_kernel::clock::Timestamp>) -> String {
    at.map_or_else(|| "—".to_owned(), plaza_pay::time::bill_time)
}

/// `GET /console/notifications[?mchid=]`: every notification, newest first; with a
/// merchant, its fault plan and script too.
#[expect(
    clippy::too_many_lines,
    reason = "one page's HTML, written top to bottom as it renders"
)]
pub(crate) async fn notifications(
    State(state): State<PayState>,
    Console(surface): Console,
    headers: HeaderMap,
    PageQuery(notice): PageQuery<Notice>,
) -> Response {
    let surface = &*surface;
    let mchid = notice.mchid.clone().filter(|mchid| !mchid.is_empty());
    let listed = match &mchid {
        Some(mchid) => surface.pay.notifications_of(mchid, LISTED).await,
        None => surface.pay.notifications_all(LISTED).await,
    };
    let Ok(listed) = listed else {
        return store_unavailable();
    };
    let mchids: Vec<&str> = listed
        .iter()
        .map(|notification| notification.mchid.as_str())
        .collect();
    let names = merchant_names(surface, &mchids).await;
    let mut rows = String::new();
    for notification in &listed {
        let faults = notification
            .attempts
            .iter()
            .filter(|attempt| attempt.fault.is_some())
            .count();
        let fault_note = if faults > 0 {
            let noun = if faults == 1 { "fault" } else { "faults" };
            format!(" <span class=\"fault\">{faults} {noun}</span>")
        } else if notification.held_until.is_some() {
            " <span class=\"fault\">held</span>".to_owned()
        } else {
            String::new()
        };
        rows.push_str(&format!(
            "<tr class=\"notification\" data-id=\"{id}\"><td class=\"mono nowrap\">{created}</td>\
             <td><a href=\"/console/notifications/{id}\">{event}</a><br><span class=\"muted mono\">{id}</span></td>\
             <td><a href=\"/console/merchants/{mchid}\">{merchant}</a><br><span class=\"muted mono\">{mchid}</span></td>\
             <td>{order}</td><td class=\"mono\">{url}</td><td>{state}{fault_note}</td><td>{attempts}</td><td class=\"mono nowrap\">{next}</td></tr>",
            id = escape(&notification.id),
            created = when(Some(notification.created_at)),
            event = notification.subject.event_type(),
            mchid = escape(&notification.mchid),
            merchant = escape(names.get(&notification.mchid).map_or("—", String::as_str)),
            order = order_link(notification),
            url = escape(&notification.notify_url),
            state = state_badge(notification.state),
            attempts = notification.attempts.len(),
            next = when(notification.next_attempt_at),
        ));
    }
    if rows.is_empty() {
        rows.push_str("<tr><td colspan=\"8\" class=\"muted\">No notifications yet: pay or refund an order with a notify_url.</td></tr>");
    }
    let merchant_panel = match &mchid {
        Some(mchid) => merchant_panel(surface, mchid).await,
        None => String::new(),
    };
    let filter = format!(
        "<form method=\"get\" action=\"/console/notifications\" class=\"form-grid\" style=\"margin-bottom:16px\">\
         <label>Merchant (mchid)<input type=\"text\" name=\"mchid\" value=\"{}\" placeholder=\"all merchants\"></label>\
         <button>Show</button></form>",
        escape(mchid.as_deref().unwrap_or_default())
    );
    let body = format!(
        "<h1>Notifications</h1>{notice}<p class=\"lead\">Every notification Plaza sent or will send, \
         with each signed request and the merchant's answer. Open one to resend, replay or edit it.</p>\
         {filter}{merchant_panel}<div class=\"card\"><div class=\"table-scroll\"><table class=\"data\" id=\"notifications\"><thead><tr><th>Created (CST)</th>\
         <th>Event</th><th>Merchant</th><th>Order</th><th>notify_url</th><th>State</th><th>Attempts</th><th>Next try</th></tr></thead>\
         <tbody>{rows}</tbody></table></div></div>",
        notice = notice_html(&notice),
    );
    let (viewer, _, _) = viewer(&state, surface, &headers).await;
    console_page(
        Role::Operator,
        SECTION_NOTIFICATIONS,
        &viewer,
        "Notifications",
        &body,
    )
    .into_response()
}

/// The names of the merchants `mchids` name (each looked up once); unknown ones are left
/// out.
async fn merchant_names(
    surface: &PaySurface,
    mchids: &[&str],
) -> std::collections::HashMap<String, String> {
    let mut names = std::collections::HashMap::new();
    for &mchid in mchids {
        if names.contains_key(mchid) {
            continue;
        }
        if let Ok(Some(merchant)) = surface.pay.merchant(mchid).await {
            names.insert(mchid.to_owned(), merchant.name);
        }
    }
    names
}

async fn merchant_panel(surface: &PaySurface, mchid: &str) -> String {
    let Ok(Some(merchant)) = surface.pay.merchant(mchid).await else {
        return format!(
            "<div class=\"notice bad\">Merchant {} does not exist.</div>",
            escape(mchid)
        );
    };
    let plan = surface
        .pay
        .faults(mchid)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let script = surface.pay.script(mchid);
    let rules = serde_json::to_string_pretty(&script.rules).unwrap_or_else(|_| "[]".to_owned());
    let checked = |on: bool| if on { " checked" } else { "" };
    format!(
        "<div class=\"grid two\">\
         <div class=\"card\" id=\"faults\"><h2>Faults for <a href=\"/console/merchants/{mchid}\">{name}</a> <span class=\"muted mono\">{mchid}</span></h2><p class=\"muted\">Applied to this merchant's deliveries \
         (or only to one notify_url); every injected fault shows on the attempt it touched.</p>\
         <form method=\"post\" action=\"/console/merchants/{mchid}/faults\" class=\"form-grid\">\
         <label>Delay (ms)<input type=\"number\" name=\"delay_ms\" min=\"0\" max=\"60000\" value=\"{delay}\"></label>\
         <label>Drop first N attempts<input type=\"number\" name=\"drop_first\" min=\"0\" max=\"16\" value=\"{drop}\"></label>\
         <label>Bad signature on first N<input type=\"number\" name=\"bad_signature_first\" min=\"0\" max=\"16\" value=\"{bad}\"></label>\
         <label>Only notify_url<input type=\"text\" name=\"notify_url\" value=\"{url}\" placeholder=\"every URL\"></label>\
         <label><input type=\"checkbox\" name=\"duplicate\" value=\"on\"{dup}> Duplicate each attempt</label>\
         <label><input type=\"checkbox\" name=\"reorder\" value=\"on\"{reorder}> Reorder (hold until the next overtakes)</label>\
         <button id=\"save-faults\">Save faults</button></form></div>\
         <div class=\"card\" id=\"script\"><h2>Scripted outcomes</h2><p class=\"muted\">Rules as JSON, first match wins per question \
         (see docs/sandbox.md), e.g. <span class=\"mono\">{{\"amount_ends_with\":\"03\",\"payment\":\"userpaying\",\"polls\":2}}</span>.</p>\
         <form method=\"post\" action=\"/console/merchants/{mchid}/script\"><textarea class=\"code\" name=\"rules_text\" id=\"rules-text\">{rules}</textarea>\
         <div class=\"actions\"><button id=\"save-script\">Save script</button></div></form></div></div>",
        name = escape(&merchant.name),
        mchid = escape(mchid),
        delay = plan.delay_ms,
        drop = plan.drop_first,
        bad = plan.bad_signature_first,
        url = escape(plan.notify_url.as_deref().unwrap_or_default()),
        dup = checked(plan.duplicate),
        reorder = checked(plan.reorder),
        rules = escape(&rules),
    )
}

/// `GET /console/notifications/{id}`.
pub(crate) async fn notification(
    State(state): State<PayState>,
    Console(surface): Console,
    headers: HeaderMap,
    Path(id): Path<String>,
    PageQuery(notice): PageQuery<Notice>,
) -> Response {
    let surface = &*surface;
    let notification = match surface.pay.notification(&id).await {
        Ok(Some(notification)) => notification,
        Ok(None) => {
            return ErrorPage::not_found("There is no notification with this id.")
                .back(
                    "/console/notifications",
                    "返回通知列表 Back to notifications",
                )
                .into_response();
        }
        Err(_) => return store_unavailable(),
    };
    let names = merchant_names(surface, &[notification.mchid.as_str()]).await;
    let merchant = names.get(&notification.mchid).map_or("—", String::as_str);
    let body = notification_body(&notification, merchant, &notice);
    let (viewer, _, _) = viewer(&state, surface, &headers).await;
    console_page(
        Role::Operator,
        SECTION_NOTIFICATIONS,
        &viewer,
        "Notification",
        &body,
    )
    .into_response()
}

#[expect(
    clippy::too_many_lines,
    reason = "one page's HTML, written top to bottom as it renders"
)]
fn notification_body(notification: &Notification, merchant: &str, notice: &Notice) -> String {
    let (plaintext, _, _) = notification_resource(&notification.subject);
    let pretty = serde_json::from_str::<serde_json::Value>(&plaintext)
        .and_then(|value| serde_json::to_string_pretty(&value))
        .unwrap_or(plaintext);
    let id = escape(&notification.id);
    let pending = notification.state == DeliveryState::Pending;
    let pending_only = if pending { "" } else { " disabled" };
    let mut attempts = String::new();
    for (at, attempt) in notification.attempts.iter().enumerate().rev() {
        let headers: String = attempt
            .request_headers
            .iter()
            .map(|(name, value)| format!("{}: {}\n", escape(name), escape(value)))
            .collect();
        let answer = match (attempt.status, &attempt.error) {
            (Some(status), _) => format!("HTTP {status}"),
            (None, Some(error)) => escape(error),
            (None, None) => "no answer".to_owned(),
        };
        let fault = attempt.fault.as_ref().map_or_else(String::new, |fault| {
            format!(" <span class=\"fault\">{}</span>", escape(fault))
        });
        let request = if attempt.sent {
            format!(
                "<pre class=\"wire\">POST {url}\n{headers}\n{body}</pre>",
                url = escape(&notification.notify_url),
                body = escape(&attempt.request_body),
            )
        } else {
            "<p class=\"muted\">Nothing was sent.</p>".to_owned()
        };
        let response = attempt
            .response_body
            .as_ref()
            .map_or_else(String::new, |body| {
                format!("<pre class=\"wire\">{}</pre>", escape(body))
            });
        attempts.push_str(&format!(
            "<li class=\"attempt\" style=\"display:block\"><div><strong>#{number}</strong> {sent_at} · \
             <span class=\"trigger\">{trigger}</span> · <strong class=\"answer\">{answer}</strong> · {latency} ms{fault}</div>\
             <details><summary class=\"muted\">Request and answer</summary>{request}{response}</details></li>",
            number = at + 1,
            sent_at = plaza_pay::time::bill_time(attempt.sent_at),
            trigger = attempt.trigger.as_str(),
            latency = attempt.latency_ms,
        ));
    }
    if attempts.is_empty() {
        attempts.push_str("<li class=\"muted\">Not tried yet.</li>");
    }
    let held = notification.held_until.map_or_else(String::new, |until| {
        format!(
            "<div><span>Held for reorder until</span><span class=\"mono\">{}</span></div>",
            plaza_pay::time::bill_time(until)
        )
    });
    format!(
        "<h1>{event}</h1>{notice}<div class=\"grid two\">\
         <div class=\"card\"><h2>Delivery</h2><div class=\"rows\">\
         <div><span>Id</span><span class=\"mono\" id=\"notification-id\">{id}</span></div>\
         <div><span>Merchant</span><span><a href=\"/console/merchants/{mchid}\" id=\"merchant-name\">{merchant}</a> <span class=\"muted mono\">{mchid}</span> · \
         <a href=\"/console/notifications?mchid={mchid}\">its notifications</a></span></div>\
         <div><span>Order</span><span id=\"notification-order\">{order}</span></div>\
         <div><span>notify_url</span><span class=\"mono\">{url}</span></div>\
         <div><span>State</span><span id=\"notification-state\">{state}</span></div>\
         <div><span>Created</span><span class=\"mono\">{created}</span></div>\
         <div><span>Next try</span><span class=\"mono\" id=\"next-try\">{next}</span></div>{held}</div>\
         <form method=\"post\" action=\"/console/notifications/{id}/action\" class=\"actions\">\
         <button name=\"action\" value=\"resend\" id=\"resend\"{pending_only}>Resend now</button>\
         <button class=\"secondary\" name=\"action\" value=\"replay\" id=\"replay\">Replay</button>\
         <button class=\"secondary\" name=\"action\" value=\"next-retry\" id=\"next-retry\"{pending_only}>Move clock to next retry</button>\
         </form></div>\
         <div class=\"card\"><h2>Send edited</h2><p class=\"muted\">The decrypted resource; Plaza encrypts it with the \
         merchant's APIv3 key and signs the request. The retry schedule is not touched.</p>\
         <form method=\"post\" action=\"/console/notifications/{id}/send\"><textarea class=\"code\" name=\"resource_text\" id=\"resource-text\">{resource}</textarea>\
         <div class=\"actions\"><button id=\"send-edited\">Sign, encrypt and send</button></div></form></div></div>\
         <div class=\"card\" style=\"margin-top:20px\"><h2>Attempts</h2><ul class=\"list\" id=\"attempts\">{attempts}</ul></div>",
        event = notification.subject.event_type(),
        notice = notice_html(notice),
        order = order_link(notification),
        mchid = escape(&notification.mchid),
        merchant = escape(merchant),
        url = escape(&notification.notify_url),
        state = state_badge(notification.state),
        created = plaza_pay::time::bill_time(notification.created_at),
        next = when(notification.next_attempt_at),
        resource = escape(&pretty),
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct ActionForm {
    action: String,
}

/// `POST /console/notifications/{id}/action`: resend, replay or next-retry.
pub(crate) async fn notification_action(
    State(state): State<PayState>,
    _console: Console,
    Path(id): Path<String>,
    PageForm(form): PageForm<ActionForm>,
) -> Response {
    let here = format!("/console/notifications/{id}");
    match form.action.as_str() {
        "resend" => notice_back(&here, actions::resend(&state, &id).await, "Sent now."),
        "replay" => notice_back(&here, actions::replay(&state, &id).await, "Replayed."),
        "next-retry" => notice_back(
            &here,
            actions::next_retry(&state, &id).await,
            "Clock moved to the next retry; due jobs ran.",
        ),
        other => with_notice(
            &here,
            "error",
            &format!("unknown action {other:?}: resend, replay or next-retry"),
        )
        .into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct SendForm {
    resource_text: String,
}

/// `POST /console/notifications/{id}/send`: the edited resource, signed and encrypted.
pub(crate) async fn send_edited(
    State(state): State<PayState>,
    _console: Console,
    Path(id): Path<String>,
    PageForm(form): PageForm<SendForm>,
) -> Response {
    let here = format!("/console/notifications/{id}");
    let result = match actions::edited_plaintext(None, Some(form.resource_text)) {
        Ok(plaintext) => actions::send_edited(&state, &id, plaintext).await,
        Err(error) => Err(error),
    };
    notice_back(&here, result, "Edited notification sent.")
}

#[derive(Debug, Deserialize)]
pub(crate) struct FaultForm {
    #[serde(default)]
    delay_ms: String,
    #[serde(default)]
    drop_first: String,
    #[serde(default)]
    bad_signature_first: String,
    #[serde(default)]
    notify_url: String,
    duplicate: Option<String>,
    reorder: Option<String>,
}

fn number<T: std::str::FromStr + Default>(field: &str, text: &str) -> Result<T, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(T::default());
    }
    text.parse().map_err(|_| {
        ApiError::new(
            code::INVALID_FIELD,
            format!("{field}: {text:?} is not a whole number"),
        )
    })
}

/// `POST /console/merchants/{mchid}/faults`.
pub(crate) async fn set_faults(
    Console(surface): Console,
    Path(mchid): Path<String>,
    PageForm(form): PageForm<FaultForm>,
) -> Response {
    let here = "/console/notifications";
    let back = format!("{here}?mchid={mchid}");
    let result = async {
        let plan = FaultPlan {
            notify_url: Some(form.notify_url.trim().to_owned()).filter(|url| !url.is_empty()),
            delay_ms: number("delay_ms", &form.delay_ms)?,
            duplicate: form.duplicate.is_some(),
            reorder: form.reorder.is_some(),
            drop_first: number("drop_first", &form.drop_first)?,
            bad_signature_first: number("bad_signature_first", &form.bad_signature_first)?,
            held: None,
        };
        Ok::<_, ApiError>(surface.pay.set_faults(&mchid, plan).await?)
    }
    .await;
    notice_back(&back, result, "Faults saved.")
}

#[derive(Debug, Deserialize)]
pub(crate) struct ScriptForm {
    rules_text: String,
}

/// `POST /console/merchants/{mchid}/script`.
pub(crate) async fn set_script(
    Console(surface): Console,
    Path(mchid): Path<String>,
    PageForm(form): PageForm<ScriptForm>,
) -> Response {
    let here = "/console/notifications";
    let back = format!("{here}?mchid={mchid}");
    let result = async {
        let text = form.rules_text.trim();
        let rules = if text.is_empty() {
            Vec::new()
        } else {
            serde_json::from_str(text).map_err(|error| {
                ApiError::new(
                    code::INVALID_FIELD,
                    format!("rules: {error}; nothing was saved"),
                )
            })?
        };
        Ok::<_, ApiError>(surface.pay.set_script(&mchid, Script { rules }).await?)
    }
    .await;
    notice_back(&back, result, "Script saved.")
}

/// Back to `path` (which may carry a query already) with a notice.
fn notice_back<T>(path: &str, result: Result<T, ApiError>, ok: &str) -> Response {
    match result {
        Ok(_) => with_notice(path, "ok", ok).into_response(),
        Err(error) => with_notice(path, "error", &error.message_text()).into_response(),
    }
}
