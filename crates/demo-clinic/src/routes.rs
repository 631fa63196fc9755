//! The back end's own API, which the mini program calls with `wx.request` (through
//! Plaza's container), and the payment notification Plaza calls.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::{Booking, Clinic};

/// The services and their fees, fen.
const SERVICES: [(&str, &str, i64); 2] = [("nat", "核酸检测", 500), ("vaccine", "疫苗预约", 200)];
/// The sites and the services each offers.
const SITES: [(&str, &[&str]); 3] = [
    ("市民中心采样点", &["nat"]),
    ("城东社区卫生服务中心", &["nat", "vaccine"]),
    ("市第一人民医院", &["vaccine"]),
];
/// Each day's slots.
const TIMES: [&str; 4] = ["09:00", "10:30", "14:00", "15:30"];

pub(crate) fn router(clinic: Arc<Clinic>) -> Router {
    Router::new()
        .route("/api/config", get(config))
        .route("/api/sites", get(sites))
        .route("/api/login", post(login))
        .route("/api/bookings", post(book).get(bookings))
        .route("/api/bookings/{id}", get(booking))
        .route("/api/pay-notify", post(notify))
        .with_state(clinic)
}

fn problem(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "message": message.into() }))).into_response()
}

fn failed(error: &anyhow::Error) -> Response {
    tracing::warn!(%error, "demo clinic");
    problem(StatusCode::BAD_GATEWAY, format!("{error:#}"))
}

/// `{tmplId}`: the template the mini program asks consent for.
async fn config(State(clinic): State<Arc<Clinic>>) -> Response {
    match clinic.plaza.template_id().await {
        Ok(id) => {
            axum::Json(json!({ "tmplId": id, "appid": clinic.plaza.appid() })).into_response()
        }
        Err(error) => failed(&error),
    }
}

/// The next three China days, `YYYY-MM-DD`.
fn next_days() -> Vec<String> {
    let china = jiff::tz::TimeZone::fixed(jiff::tz::offset(8));
    let today = jiff::Timestamp::from_second(crate::unix_seconds())
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
        .to_zoned(china)
        .date();
    (1..=3)
        .filter_map(|offset| today.checked_add(jiff::Span::new().days(offset)).ok())
        .map(|day| day.to_string())
        .collect()
}

/// The services, their fees, the sites offering each and the slots.
async fn sites() -> Response {
    let slots: Vec<String> = next_days()
        .iter()
        .flat_map(|day| TIMES.iter().map(move |time| format!("{day} {time}")))
        .collect();
    axum::Json(json!({
        "services": SERVICES.iter().map(|(id, name, fee)| json!({"id": id, "name": name, "fee_minor": fee})).collect::<Vec<_>>(),
        "sites": SITES.iter().map(|(name, services)| json!({"name": name, "services": services})).collect::<Vec<_>>(),
        "slots": slots,
    }))
    .into_response()
}

#[derive(Debug, Deserialize)]
struct LoginBody {
    code: String,
}

/// `{code}` from `wx.login` → `{token}`, the back end's own session.
async fn login(
    State(clinic): State<Arc<Clinic>>,
    axum::Json(body): axum::Json<LoginBody>,
) -> Response {
    match clinic.plaza.code_to_session(&body.code).await {
        Ok(openid) => {
            let token: String = (0..24)
                .map(|_| format!("{:x}", rand::random::<u8>() % 16))
                .collect();
            if let Ok(mut sessions) = clinic.sessions.lock() {
                sessions.insert(token.clone(), openid);
            }
            axum::Json(json!({ "token": token })).into_response()
        }
        Err(error) => failed(&error),
    }
}

fn openid_of(clinic: &Clinic, token: &str) -> Option<String> {
    clinic.sessions.lock().ok()?.get(token).cloned()
}

#[derive(Debug, Deserialize)]
struct BookBody {
    token: String,
    service: String,
    site: String,
    slot: String,
    name: String,
}

/// A booking and the values for `wx.requestPayment`.
async fn book(
    State(clinic): State<Arc<Clinic>>,
    axum::Json(body): axum::Json<BookBody>,
) -> Response {
    let Some(openid) = openid_of(&clinic, &body.token) else {
        return problem(StatusCode::UNAUTHORIZED, "log in first");
    };
    let Some((service, _, fee)) = SERVICES.iter().find(|(id, _, _)| *id == body.service) else {
        return problem(StatusCode::BAD_REQUEST, "no such service");
    };
    if !SITES
        .iter()
        .any(|(name, services)| *name == body.site && services.contains(service))
    {
        return problem(
            StatusCode::BAD_REQUEST,
            "this site does not offer the service",
        );
    }
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 10 {
        return problem(StatusCode::BAD_REQUEST, "a name of 1 to 10 characters");
    }
    let booking = Booking {
        id: format!(
            "BK{}{:04}",
            crate::unix_seconds(),
            rand::random::<u16>() % 10_000
        ),
        openid: openid.clone(),
        service: (*service).to_owned(),
        site: body.site,
        slot: body.slot,
        name: name.to_owned(),
        fee_minor: *fee,
        status: "unpaid".to_owned(),
        notified: false,
    };
    let notify_url = format!("{}/api/pay-notify", clinic.own_base);
    match clinic.plaza.prepay(&booking, &openid, &notify_url).await {
        Ok(payment) => {
            let id = booking.id.clone();
            if let Ok(mut bookings) = clinic.bookings.lock() {
                bookings.insert(id.clone(), booking);
            }
            axum::Json(json!({ "booking": id, "payment": payment })).into_response()
        }
        Err(error) => failed(&error),
    }
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: String,
}

/// The user's bookings, newest first.
async fn bookings(State(clinic): State<Arc<Clinic>>, Query(query): Query<TokenQuery>) -> Response {
    let Some(openid) = openid_of(&clinic, &query.token) else {
        return problem(StatusCode::UNAUTHORIZED, "log in first");
    };
    let mut mine: Vec<Booking> = clinic
        .bookings
        .lock()
        .map(|bookings| {
            bookings
                .values()
                .filter(|b| b.openid == openid)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    mine.sort_by(|a, b| b.id.cmp(&a.id));
    axum::Json(json!({ "bookings": mine })).into_response()
}

/// One booking; an unpaid one is checked with Pay first (the notification may not have
/// arrived yet), and a paid one's "预约成功" is sent once.
async fn booking(
    State(clinic): State<Arc<Clinic>>,
    Path(id): Path<String>,
    Query(query): Query<TokenQuery>,
) -> Response {
    let Some(openid) = openid_of(&clinic, &query.token) else {
        return problem(StatusCode::UNAUTHORIZED, "log in first");
    };
    let found = clinic
        .bookings
        .lock()
        .ok()
        .and_then(|b| b.get(&id).cloned())
        .filter(|b| b.openid == openid);
    let Some(found) = found else {
        return problem(StatusCode::NOT_FOUND, "no such booking");
    };
    if found.status == "unpaid" {
        match clinic.plaza.is_paid(&id).await {
            Ok(true) => mark_paid(&clinic, &id).await,
            Ok(false) => {}
            Err(error) => return failed(&error),
        }
    }
    let current = clinic
        .bookings
        .lock()
        .ok()
        .and_then(|b| b.get(&id).cloned());
    axum::Json(json!({ "booking": current })).into_response()
}

/// Marks a booking paid and sends "预约成功" once.
async fn mark_paid(clinic: &Clinic, id: &str) {
    let to_notify = clinic.bookings.lock().ok().and_then(|mut bookings| {
        let booking = bookings.get_mut(id)?;
        booking.status = "paid".to_owned();
        if booking.notified {
            return None;
        }
        booking.notified = true;
        Some(booking.clone())
    });
    if let Some(booking) = to_notify
        && let Err(error) = clinic.plaza.send_booked(&booking.openid, &booking).await
    {
        tracing::warn!(%error, booking = %booking.id, "sending 预约成功");
        if let Ok(mut bookings) = clinic.bookings.lock()
            && let Some(stored) = bookings.get_mut(id)
        {
            stored.notified = false;
        }
    }
}

/// Plaza's payment notification: verified, decrypted, and the booking marked paid.
async fn notify(State(clinic): State<Arc<Clinic>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    match clinic.plaza.paid_in_notification(
        header("wechatpay-timestamp"),
        header("wechatpay-nonce"),
        header("wechatpay-signature"),
        &body,
    ) {
        Ok(Some(id)) => {
            mark_paid(&clinic, &id).await;
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Err(error) => {
            tracing::warn!(%error, "a payment notification was refused");
            problem(StatusCode::UNAUTHORIZED, "bad signature")
        }
    }
}
