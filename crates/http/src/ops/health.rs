//! Liveness and metrics.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::HttpState;
use crate::error::{ApiError, code};

pub(crate) fn router() -> Router<HttpState> {
    Router::new()
        .route("/healthz", get(get_health))
        .route("/metrics", get(get_metrics))
}

/// # `GET /healthz`
///
/// 200 when the store answers a query, 503 otherwise.
async fn get_health(State(state): State<HttpState>) -> Response {
    let backend = state.health.backend_name();
    match state.health.check().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(json!({"status": "ok", "store": backend})),
        )
            .into_response(),
        Err(reason) => {
            tracing::error!(%reason, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({"status": "unavailable", "store": backend})),
            )
                .into_response()
        }
    }
}

/// # `GET /metrics`
///
/// The Prometheus/OpenMetrics text exposition of every registered figure.
async fn get_metrics(State(state): State<HttpState>) -> Response {
    state.scrape_hook.refresh().await;
    let mut text = String::new();
    if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &state.registry) {
        tracing::error!(%error, "encoding metrics failed");
        return ApiError::new(code::INTERNAL, "internal error").into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
