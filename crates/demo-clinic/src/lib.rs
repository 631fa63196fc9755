//! The demo mini program's back end: a booking service for 核酸检测 (nucleic-acid
//! tests) and 疫苗预约 (vaccinations). It is an ordinary third-party back end: it knows
//! Plaza only as WeChat's API at a base URL, and uses what any back end uses —
//! `jscode2session` to log users in, JSAPI prepay signed with its merchant key and the
//! `paySign` for `wx.requestPayment`, the signed and encrypted payment notification
//! (and an order query as a fallback), and `subscribe/send` for "预约成功".
//!
//! It keeps its bookings in memory: it is a demo that `plaza demo` runs beside Plaza.
#![deny(missing_docs)]

mod plaza;
mod routes;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

pub use plaza::Credentials;

/// One booking.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Booking {
    /// `BK` + digits: also the order's `out_trade_no`.
    pub id: String,
    /// Whose (the openid in the mini program).
    #[serde(skip)]
    pub openid: String,
    /// `nat` (核酸检测) or `vaccine` (疫苗预约).
    pub service: String,
    /// The site's name.
    pub site: String,
    /// The slot (`2026-12-08 09:30`).
    pub slot: String,
    /// The person booked.
    pub name: String,
    /// The fee, fen.
    pub fee_minor: i64,
    /// `unpaid` or `paid`.
    pub status: String,
    /// Whether "预约成功" was sent.
    pub notified: bool,
}

/// Seconds since the Unix epoch, by this program's own clock.
#[expect(
    clippy::disallowed_methods,
    reason = "an outside program reads its own wall clock, as a real back end does: Plaza's sandbox clock is not its clock"
)]
pub(crate) fn unix_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
        })
}

/// The back end's state.
pub(crate) struct Clinic {
    pub(crate) plaza: plaza::Plaza,
    /// The back end's own base URL (for `notify_url`).
    pub(crate) own_base: String,
    /// Session token → openid.
    pub(crate) sessions: Mutex<HashMap<String, String>>,
    /// Booking id → booking.
    pub(crate) bookings: Mutex<HashMap<String, Booking>>,
}

/// A running back end.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its base URL: what the mini program's `wx.request` calls and what must be on the
    /// app's request-domain list.
    pub base_url: String,
}

/// Starts the back end on `listen` (port 0 picks one), talking to Plaza as
/// `credentials` say; it runs until the process ends.
///
/// # Errors
///
/// When it cannot listen or its credentials are unusable.
pub async fn start(credentials: Credentials, listen: SocketAddr) -> anyhow::Result<Running> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://{addr}");
    let clinic = Arc::new(Clinic {
        plaza: plaza::Plaza::new(credentials)?,
        own_base: base_url.clone(),
        sessions: Mutex::default(),
        bookings: Mutex::default(),
    });
    let app = routes::router(clinic);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "the demo clinic stopped");
        }
    });
    Ok(Running { addr, base_url })
}
