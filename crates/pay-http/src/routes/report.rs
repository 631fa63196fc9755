//! The operator's day report: payments and volume by channel, and the service
//! providers' share of offline volume.

use axum::extract::State;
use axum::routing::get;
use axum::{Json as AxumJson, Router};
use plaza_pay::report::{DayReport, Tally};
use plaza_pay::time::Day;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::PayState;
use crate::error::ApiError;
use crate::extract::{Admin, Query};

pub(crate) fn router() -> Router<PayState> {
    Router::new().route("/api/v1/admin/reports/day", get(day_report))
}

fn tally_json(tally: &Tally) -> Value {
    json!({ "payments": tally.payments, "volume": tally.volume_minor })
}

/// `12.34%` from basis points.
pub(crate) fn percent(bps: i64) -> String {
    format!("{}.{:02}%", bps / 100, bps % 100)
}

/// The report as `/api/v1` answers it.
pub(crate) fn report_json(report: &DayReport) -> Value {
    let channels: serde_json::Map<String, Value> = report
        .channels
        .iter()
        .map(|(channel, tally)| (channel.as_str().to_owned(), tally_json(tally)))
        .collect();
    json!({
        "day": report.day.iso(),
        "total": tally_json(&report.total),
        "channels": channels,
        "offline": {
            "payments": report.offline.payments,
            "volume": report.offline.volume_minor,
            "through_service_providers": tally_json(&report.offline_through_providers),
            "service_provider_share_bps": report.provider_share_bps(),
            "service_provider_share": percent(report.provider_share_bps()),
        },
    })
}

#[derive(Debug, Deserialize)]
struct DayQuery {
    day: Option<String>,
}

async fn day_report(
    State(state): State<PayState>,
    _admin: Admin,
    Query(query): Query<DayQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    let day = match &query.day {
        Some(text) => Day::parse(text).map_err(|issue| ApiError::invalid_field("day", issue))?,
        None => Day::of(surface.pay.now()),
    };
    let report = surface.pay.day_report(day).await?;
    Ok(AxumJson(report_json(&report)))
}
