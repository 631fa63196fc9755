//! WeChat Pay's HTTP surfaces in Plaza: the APIv3 wire at `/v3/…` ([`pay_v3`]), APIv2's
//! XML at `/pay/…` and `/secapi/…`, Pay's own `/api/v1` resources and its pages (the
//! payer's wallet and checkout, the merchant demo, collection codes, the operator's
//! Pay console).
//!
//! The one design decision: handlers parse and authenticate, call the payment domain,
//! and translate the result back; they hold no business rules. What they share with
//! every other system (the envelope, extractors, the page shell, the admin check) comes
//! from `plaza-http`; [`routes`] hands everything to the binary as one
//! [`SystemRoutes`].
#![deny(missing_docs)]

mod error;
pub mod host;
mod pay_v2;
pub mod pay_v3;
mod routes;
mod web;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use plaza_http::{HostRoutes, HttpState, SystemRoutes, WireApi};
use plaza_kernel::BoxFuture;
use plaza_pay::PayError;
use plaza_pay::model::Notification;

pub use error::{ApiError, PAY_ERROR_CODES};
pub use pay_v3::PaySurface;
pub use web::{NAV, PayWeb};

/// The shared extractors, under the name Pay's handlers use.
pub(crate) use plaza_http::extract;

/// Sandbox actions on notifications, carried out by the binary's delivery code.
pub trait NotificationActions: Send + Sync {
    /// Sends a pending notification now, as the next try of its retry schedule (with
    /// the merchant's faults).
    fn resend(&self, id: String) -> BoxFuture<'_, Result<Notification, PayError>>;
    /// Sends the notification again as it is, newly signed, outside the schedule.
    fn replay(&self, id: String) -> BoxFuture<'_, Result<Notification, PayError>>;
    /// Sends the notification with `plaintext` as its resource, encrypted and signed
    /// correctly, outside the schedule.
    fn send_edited(
        &self,
        id: String,
        plaintext: String,
    ) -> BoxFuture<'_, Result<Notification, PayError>>;
}

/// Everything Pay's handlers need. Cloned for every extractor of every request, so it is
/// one shared pointer to [`PayStateParts`].
#[derive(Clone)]
pub struct PayState(Arc<PayStateParts>);

impl PayState {
    /// Shares the parts.
    pub fn new(parts: PayStateParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for PayState {
    type Target = PayStateParts;

    fn deref(&self) -> &PayStateParts {
        &self.0
    }
}

impl FromRef<PayState> for HttpState {
    fn from_ref(state: &PayState) -> HttpState {
        state.http.clone()
    }
}

/// What [`PayState`] holds.
pub struct PayStateParts {
    /// What every surface shares (ledger, clocks, admin token, sandbox clock).
    pub http: HttpState,
    /// The payment surfaces' own parts (the domain, the platform identity).
    pub pay: Arc<PaySurface>,
    /// Present in sandbox mode only.
    pub notification_actions: Option<Arc<dyn NotificationActions>>,
}

/// Everything Pay serves: on Plaza's own host its `/api/v1` resources, pages and both
/// wire APIs; under `api.mch.weixin.qq.com` only the wire APIs, as WeChat does.
pub fn routes(state: PayState) -> SystemRoutes {
    let wire = || {
        let pay_v3 = pay_v3::router().layer(axum::middleware::from_fn_with_state(
            state.clone(),
            pay_v3::authenticate_and_sign,
        ));
        Router::new()
            .merge(pay_v3)
            .merge(pay_v2::router())
            .with_state(state.clone())
    };
    let own = Router::new()
        .merge(routes::pay::router())
        .merge(routes::partner::router())
        .merge(routes::paycode::router())
        .merge(routes::collect::router())
        .merge(routes::report::router())
        .merge(routes::coupons::router())
        .merge(routes::sandbox::router())
        .merge(web::router())
        .with_state(state.clone())
        .merge(wire());
    SystemRoutes {
        own,
        hosts: vec![HostRoutes {
            host: host::PAY_HOST,
            routes: wire(),
            not_found: |path| {
                axum::response::IntoResponse::into_response(pay_v3::V3Error::not_found(path))
            },
        }],
        wire_apis: vec![
            WireApi {
                prefixes: &["/v3"],
                except: &[],
                not_found: |path| {
                    axum::response::IntoResponse::into_response(pay_v3::V3Error::not_found(path))
                },
            },
            WireApi {
                prefixes: &["/pay", "/secapi"],
                except: host::PAY_PAGES,
                not_found: pay_v2::not_found,
            },
        ],
        outermost: Some(|app, limits| {
            // Whatever the layers above answered on an APIv2 path, in its XML.
            app.layer(axum::middleware::from_fn_with_state(
                limits.request_body_bytes_max,
                pay_v2::answer_in_xml,
            ))
        }),
        moves_the_clock: Some(routes::sandbox::moves_the_clock),
    }
}
