//! The layers every request passes: panic catching, request ids, tracing, metrics, time
//! and body limits.

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::HeaderName;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

use crate::HttpLimits;
use crate::error::{ApiError, code};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    ])
}

/// Request counts by route and status, and latencies by route.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        }
    }
}

impl HttpMetrics {
    /// Adds the figures to a registry as `plaza_http_*`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "plaza_http_requests",
            "HTTP requests answered, by method, route and status",
            self.requests.clone(),
        );
        registry.register(
            "plaza_http_request_seconds",
            "HTTP request latency in seconds, by method and route",
            self.latency.clone(),
        );
    }
}

async fn record(State(metrics): State<HttpMetrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    metrics
        .requests
        .get_or_create(&RequestLabels {
            method: method.clone(),
            route: route.clone(),
            status: response.status().as_u16(),
        })
        .inc();
    metrics
        .latency
        .get_or_create(&RouteLabels { method, route })
        .observe(started.elapsed().as_secs_f64());
    response
}

/// How long a request that moves the sandbox clock may take: a move runs every job due
/// on the way, and a day with a merchant that never answers holds ~15 deliveries of 5 s.
const CLOCK_MOVE_TIMEOUT: Duration = Duration::from_secs(600);

/// Whether `path` moves the sandbox clock (the API's clock moves and next-retry, the
/// console's clock buttons and notification actions).
/// The shared paths that move the sandbox clock; systems add theirs
/// ([`crate::SystemRoutes::moves_the_clock`]).
pub(crate) fn moves_the_clock(path: &str) -> bool {
    path.starts_with("/api/v1/sandbox/clock/")
}

/// The time limit of ordinary requests, and which paths move the clock instead.
#[derive(Clone)]
pub(crate) struct TimeLimit {
    pub(crate) limit: Duration,
    pub(crate) moves_the_clock: std::sync::Arc<[crate::MovesTheClock]>,
}

async fn time_limit(State(time): State<TimeLimit>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let limit = time.limit;
    let limit = if time.moves_the_clock.iter().any(|moves| moves(path)) {
        limit.max(CLOCK_MOVE_TIMEOUT)
    } else {
        limit
    };
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            code::REQUEST_TIMEOUT,
            format!("the request took longer than {} ms", limit.as_millis()),
        )
        .into_response(),
    }
}

fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::new(
        code::INTERNAL,
        "internal error; the request id names it in the log",
    )
    .into_response()
}

/// Request ids `<random process prefix>-<sequence>`: unique across restarts (the prefix)
/// and cheap (no random draw or system call per request).
#[derive(Debug, Clone)]
struct SequentialRequestIds {
    prefix: std::sync::Arc<str>,
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl SequentialRequestIds {
    fn new() -> Self {
        Self {
            prefix: format!("{:016x}", rand::random::<u64>()).into(),
            next: std::sync::Arc::default(),
        }
    }
}

impl MakeRequestId for SequentialRequestIds {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let sequence = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        axum::http::HeaderValue::from_str(&format!("{}-{sequence:015}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// The standard layers that need the matched route (so they go on each router, inside
/// host dispatch): the body limit, the time limit and the request metrics.
pub(crate) fn per_router(
    routes: Router,
    limits: HttpLimits,
    metrics: HttpMetrics,
    moves_the_clock: std::sync::Arc<[crate::MovesTheClock]>,
) -> Router {
    let time = TimeLimit {
        limit: limits.request_timeout,
        moves_the_clock,
    };
    routes
        .layer(DefaultBodyLimit::max(limits.request_body_bytes_max))
        .layer(axum::middleware::from_fn_with_state(time, time_limit))
        .layer(axum::middleware::from_fn_with_state(metrics, record))
}

/// The standard layers around the whole application: the request's span, its id, and a
/// panic turned into a 500.
/// Request bodies up to this size are read in full before any handler runs.
const SMALL_BODY_BYTES_MAX: u64 = 64 * 1024;

/// Reads a small request body in full before the handler runs. A handler that ignores
/// the body (many WeChat APIs are POSTed `{}`) would otherwise leave it unread when the
/// client sent it in a second packet that had not arrived yet, and the connection would
/// then be closed after the answer: a client reusing it (as `requests` does) fails.
async fn read_small_body(request: Request, next: Next) -> Response {
    let length = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let Some(length) = length.filter(|length| (1..=SMALL_BODY_BYTES_MAX).contains(length)) else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let limit = usize::try_from(length).unwrap_or(usize::MAX);
    let read = tokio::time::timeout(
        Duration::from_millis(plaza_kernel::limits::REQUEST_TIMEOUT_MS_DEFAULT),
        axum::body::to_bytes(body, limit),
    )
    .await;
    match read {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        // The client did not send what it announced: nothing to answer it with.
        _ => axum::http::StatusCode::BAD_REQUEST.into_response(),
    }
}

pub(crate) fn outer(routes: Router) -> Router {
    routes
        .layer(axum::middleware::from_fn(read_small_body))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let request_id = request
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request_id = %request_id,
                )
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(
            REQUEST_ID,
            SequentialRequestIds::new(),
        ))
        .layer(CatchPanicLayer::custom(panic_response))
}

#[cfg(test)]
mod tests {
    use super::moves_the_clock;

    #[test]
    fn only_clock_moves_get_the_long_time_limit() {
        for path in [
            "/api/v1/sandbox/clock/advance",
            "/api/v1/sandbox/clock/set",
            "/api/v1/sandbox/clock/next-job",
        ] {
            assert!(moves_the_clock(path), "{path}");
        }
        for path in [
            "/api/v1/sandbox/clock",
            "/api/v1/sandbox/notifications/EV-1/replay",
            "/v3/pay/transactions/native",
            "/console",
        ] {
            assert!(!moves_the_clock(path), "{path}");
        }
    }
}
