//! The creator incentive plan on `/api/v1`: the operator funds a month's pool and sets
//! its thresholds (admin token), and reads every creator's standing and the payout; a
//! creator reads their own standing — why they qualify, or what they still lack.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use plaza_channels::incentive::{Funding, Payout, Plan, Standing, month_of};
use plaza_http::ApiError;
use plaza_http::extract::{Admin, Json, Query};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ChannelsState;
use crate::api::SignedIn;
use crate::error::api_error;

pub(crate) fn router() -> Router<ChannelsState> {
    Router::new()
        .route(
            "/api/v1/admin/channels/incentives/{month}",
            post(fund).get(month_report),
        )
        .route("/api/v1/channels/me/incentive", get(my_standing))
}

pub(crate) fn plan_json(plan: &Plan) -> Value {
    json!({
        "month": plan.month,
        "min_followers": plan.min_followers,
        "min_views": plan.min_views,
        "min_engagement_bps": plan.min_engagement_bps,
        "funded_minor": plan.funded_minor,
    })
}

pub(crate) fn standing_json(standing: &Standing) -> Value {
    json!({
        "channel_id": standing.channel_id,
        "followers": standing.followers,
        "views": standing.views,
        "likes": standing.likes,
        "comments": standing.comments,
        "shares": standing.shares,
        "engagement_bps": standing.engagement_bps,
        "score": standing.score,
        "qualified": standing.qualified(),
        "missing": standing.missing,
        "paid_minor": standing.paid_minor,
    })
}

fn payout_json(payout: &Payout) -> Value {
    json!({
        "month": payout.month,
        "pool_minor": payout.pool_minor,
        "returned_minor": payout.returned_minor,
        "paid_minor": payout.creators.iter().map(|c| c.paid_minor).sum::<i64>(),
        "paid_at": plaza_http::rfc3339(payout.paid_at),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FundBody {
    amount_minor: i64,
    request_id: String,
    min_followers: Option<u64>,
    min_views: Option<u64>,
    min_engagement_bps: Option<u64>,
}

async fn fund(
    State(state): State<ChannelsState>,
    _admin: Admin,
    Path(month): Path<String>,
    Json(body): Json<FundBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let plan = state
        .channels
        .fund_incentive(Funding {
            month,
            amount_minor: body.amount_minor,
            request_id: body.request_id,
            min_followers: body.min_followers,
            min_views: body.min_views,
            min_engagement_bps: body.min_engagement_bps,
        })
        .await
        .map_err(api_error)?;
    Ok(AxumJson(plan_json(&plan)))
}

async fn month_report(
    State(state): State<ChannelsState>,
    _admin: Admin,
    Path(month): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    plaza_channels::incentive::payday(&month).map_err(api_error)?;
    let channels = &state.channels;
    let plan = channels.plan(&month).await.map_err(api_error)?;
    let payout = channels.payout(&month).await.map_err(api_error)?;
    let creators = match &payout {
        Some(payout) => payout.creators.clone(),
        None => channels.standings(&month).await.map_err(api_error)?,
    };
    Ok(AxumJson(json!({
        "month": month,
        "plan": plan.as_ref().map(plan_json),
        "payout": payout.as_ref().map(payout_json),
        "creators": creators.iter().map(standing_json).collect::<Vec<_>>(),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MonthQuery {
    month: Option<String>,
}

async fn my_standing(
    State(state): State<ChannelsState>,
    SignedIn(user): SignedIn,
    Query(query): Query<MonthQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let channels = &state.channels;
    let month = query.month.unwrap_or_else(|| month_of(channels.now()));
    plaza_channels::incentive::payday(&month).map_err(api_error)?;
    let channel = channels
        .channel_of(&user.user_id)
        .await
        .map_err(api_error)?
        .ok_or_else(|| api_error(plaza_channels::ChannelsError::NoChannel))?;
    let standing = channels
        .standing(&channel.channel_id, &month)
        .await
        .map_err(api_error)?;
    let plan = channels.plan(&month).await.map_err(api_error)?;
    let payout = channels.payout(&month).await.map_err(api_error)?;
    Ok(AxumJson(json!({
        "month": month,
        "plan": plan.as_ref().map(plan_json),
        "paid": payout.is_some(),
        "standing": standing_json(&standing),
    })))
}
