//! Ads on Plaza's own API: advertisers' budgets and campaigns (operator's token; the
//! merchant console builds on the same calls), developers' slots and income (their
//! session), the operator's revenue-share report, and the container's ad calls.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use plaza_http::ApiError;
use plaza_http::extract::{Admin, Json};
use plaza_miniapp::MiniAppError;
use plaza_miniapp::ads::{
    AdSlot, Campaign, DEVELOPER_SHARE_BPS, NewCampaign, Payout, developer_share,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::MiniAppState;
use crate::error::{api_error, code};
use crate::routes::{SignedIn, my_app};

pub(crate) fn router() -> Router<MiniAppState> {
    Router::new()
        .route("/api/v1/admin/ads/advertisers/{mchid}", get(advertiser))
        .route("/api/v1/admin/ads/advertisers/{mchid}/top-up", post(top_up))
        .route(
            "/api/v1/admin/ads/advertisers/{mchid}/campaigns",
            post(create_campaign),
        )
        .route(
            "/api/v1/admin/ads/advertisers/{mchid}/campaigns/{campaign_id}/pause",
            post(pause),
        )
        .route(
            "/api/v1/admin/ads/advertisers/{mchid}/campaigns/{campaign_id}/resume",
            post(resume),
        )
        .route("/api/v1/admin/reports/ads", get(report))
        .route("/api/v1/me/miniapps/{appid}/ad-slots", post(add_slot))
        .route(
            "/api/v1/me/miniapps/{appid}/ad-slots/{slot_id}/enable",
            post(enable_slot),
        )
        .route(
            "/api/v1/me/miniapps/{appid}/ad-slots/{slot_id}/disable",
            post(disable_slot),
        )
        .route("/api/v1/me/miniapps/{appid}/ads", get(my_ads))
        .route("/api/v1/mp/{appid}/ad", post(serve))
        .route("/api/v1/mp/{appid}/ad/event", post(event))
}

fn campaign_json(campaign: &Campaign) -> Value {
    json!({
        "campaign_id": campaign.campaign_id,
        "title": campaign.title,
        "text": campaign.text,
        "link": campaign.link,
        "cpm_minor": campaign.cpm_minor,
        "cpc_minor": campaign.cpc_minor,
        "active": campaign.active,
        "created_at": plaza_http::rfc3339(campaign.created_at),
    })
}

fn slot_json(slot: &AdSlot) -> Value {
    json!({"slot_id": slot.slot_id, "name": slot.name, "enabled": slot.enabled, "created_at": plaza_http::rfc3339(slot.created_at)})
}

fn payout_json(payout: &Payout) -> Value {
    json!({
        "appid": payout.appid,
        "month": payout.month,
        "earned_minor": payout.earned_minor,
        "developer_minor": payout.developer_minor,
        "platform_minor": payout.platform_minor,
        "paid_at": plaza_http::rfc3339(payout.paid_at),
    })
}

/// # `GET /api/v1/admin/ads/advertisers/{mchid}`
///
/// The advertiser's budget and campaigns.
async fn advertiser(
    State(state): State<MiniAppState>,
    _admin: Admin,
    Path(mchid): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let budget = state.miniapps.ad_budget(&mchid).await.map_err(api_error)?;
    let campaigns = state
        .miniapps
        .campaigns_of(&mchid)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(json!({
        "mchid": mchid,
        "budget_minor": budget,
        "campaigns": campaigns.iter().map(campaign_json).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopUpBody {
    amount_minor: i64,
    request_id: String,
}

/// # `POST /api/v1/admin/ads/advertisers/{mchid}/top-up`
///
/// `{amount_minor, request_id}`: from the merchant's available balance into its ad
/// budget; the same `request_id` again moves nothing more.
async fn top_up(
    State(state): State<MiniAppState>,
    _admin: Admin,
    Path(mchid): Path<String>,
    Json(body): Json<TopUpBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let budget = state
        .miniapps
        .top_up_ads(&mchid, body.amount_minor, &body.request_id)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(json!({ "mchid": mchid, "budget_minor": budget })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignBody {
    title: String,
    #[serde(default)]
    text: String,
    link: String,
    cpm_minor: i64,
    #[serde(default)]
    cpc_minor: i64,
}

async fn create_campaign(
    State(state): State<MiniAppState>,
    _admin: Admin,
    Path(mchid): Path<String>,
    Json(body): Json<CampaignBody>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let campaign = state
        .miniapps
        .create_campaign(
            &mchid,
            NewCampaign {
                title: body.title,
                text: body.text,
                link: body.link,
                cpm_minor: body.cpm_minor,
                cpc_minor: body.cpc_minor,
            },
        )
        .await
        .map_err(api_error)?;
    Ok((StatusCode::CREATED, AxumJson(campaign_json(&campaign))))
}

async fn pause(
    State(state): State<MiniAppState>,
    _admin: Admin,
    Path((mchid, campaign_id)): Path<(String, String)>,
) -> Result<AxumJson<Value>, ApiError> {
    let campaign = state
        .miniapps
        .set_campaign_active(&mchid, &campaign_id, false)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(campaign_json(&campaign)))
}

async fn resume(
    State(state): State<MiniAppState>,
    _admin: Admin,
    Path((mchid, campaign_id)): Path<(String, String)>,
) -> Result<AxumJson<Value>, ApiError> {
    let campaign = state
        .miniapps
        .set_campaign_active(&mchid, &campaign_id, true)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(campaign_json(&campaign)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    month: Option<String>,
}

/// # `GET /api/v1/admin/reports/ads[?month=yyyymm]`
///
/// What apps earned and how it was shared: per app and in total, for a month or for all
/// months paid out so far.
async fn report(
    State(state): State<MiniAppState>,
    _admin: Admin,
    Query(query): Query<ReportQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    if let Some(month) = &query.month
        && !(month.len() == 6 && month.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(ApiError::new(code::INVALID_QUERY, "month is yyyymm"));
    }
    let payouts = state
        .miniapps
        .payouts(query.month.as_deref(), None)
        .await
        .map_err(api_error)?;
    let sum = |pick: fn(&Payout) -> i64| payouts.iter().map(pick).sum::<i64>();
    Ok(AxumJson(json!({
        "month": query.month,
        "developer_share_bps": DEVELOPER_SHARE_BPS,
        "earned_minor": sum(|p| p.earned_minor),
        "shared_with_developers_minor": sum(|p| p.developer_minor),
        "platform_minor": sum(|p| p.platform_minor),
        "payouts": payouts.iter().map(payout_json).collect::<Vec<_>>(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotBody {
    name: String,
}

/// # `POST /api/v1/me/miniapps/{appid}/ad-slots`
///
/// `{name}`: a new enabled slot; its `slot_id` is the `adUnitId` pages show ads in.
async fn add_slot(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
    Json(body): Json<SlotBody>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    my_app(&state, &user, &appid).await?;
    let slot = state
        .miniapps
        .add_slot(&appid, &body.name)
        .await
        .map_err(api_error)?;
    Ok((StatusCode::CREATED, AxumJson(slot_json(&slot))))
}

async fn switch_slot(
    state: &MiniAppState,
    user: &plaza_identity::User,
    appid: &str,
    slot_id: &str,
    enabled: bool,
) -> Result<AxumJson<Value>, ApiError> {
    my_app(state, user, appid).await?;
    let slot = state
        .miniapps
        .set_slot_enabled(appid, slot_id, enabled)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(slot_json(&slot)))
}

async fn enable_slot(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path((appid, slot_id)): Path<(String, String)>,
) -> Result<AxumJson<Value>, ApiError> {
    switch_slot(&state, &user, &appid, &slot_id, true).await
}

async fn disable_slot(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path((appid, slot_id)): Path<(String, String)>,
) -> Result<AxumJson<Value>, ApiError> {
    switch_slot(&state, &user, &appid, &slot_id, false).await
}

/// The last 30 China days of an app's ad figures, newest first, with the developer's
/// share of each day's spend (paid at month end).
pub(crate) async fn ad_days(state: &MiniAppState, appid: &str) -> Result<Vec<Value>, MiniAppError> {
    let today = plaza_miniapp::china_day(state.http.clock.now());
    let mut days = Vec::new();
    for day in (today - 29..=today).rev() {
        let figures = state.miniapps.ad_day(appid, day).await?;
        let date = jiff::civil::date(1970, 1, 1)
            .checked_add(jiff::Span::new().days(day))
            .map(|date| date.to_string())
            .unwrap_or_default();
        days.push(json!({
            "date": date,
            "impressions": figures.impressions,
            "clicks": figures.clicks,
            "spend_minor": figures.spend_minor,
            "developer_share_minor": developer_share(figures.spend_minor),
        }));
    }
    Ok(days)
}

/// # `GET /api/v1/me/miniapps/{appid}/ads`
///
/// The app's slots, its daily ad figures (30 days), its payouts, and the developer
/// account's ad income.
async fn my_ads(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let app = my_app(&state, &user, &appid).await?;
    let slots = state.miniapps.slots(&appid).await.map_err(api_error)?;
    let days = ad_days(&state, &appid).await.map_err(api_error)?;
    let payouts = state
        .miniapps
        .payouts(None, Some(&app.developer_id))
        .await
        .map_err(api_error)?;
    let income = state
        .miniapps
        .ad_income(&app.developer_id)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(json!({
        "developer_share_bps": DEVELOPER_SHARE_BPS,
        "slots": slots.iter().map(slot_json).collect::<Vec<_>>(),
        "days": days,
        "payouts": payouts.iter().filter(|p| p.appid == appid).map(payout_json).collect::<Vec<_>>(),
        "income_minor": income,
    })))
}

#[derive(Debug, Deserialize)]
struct ServeBody {
    #[serde(rename = "adUnitId")]
    ad_unit_id: String,
}

/// # `POST /api/v1/mp/{appid}/ad`
///
/// An ad for a slot (`{adUnitId}`): `{token, title, text, link}`, or `400 {errMsg}`
/// when no campaign can pay.
async fn serve(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
    Json(body): Json<ServeBody>,
) -> Result<AxumJson<Value>, (StatusCode, AxumJson<Value>)> {
    let fail = |reason: String| {
        (
            StatusCode::BAD_REQUEST,
            AxumJson(json!({ "errMsg": format!("showBannerAd:fail {reason}") })),
        )
    };
    let served = state
        .miniapps
        .serve_ad(&appid, &body.ad_unit_id, &user.user_id)
        .await
        .map_err(|error| match error {
            MiniAppError::Invalid { problem, .. } => fail(problem),
            other => fail(other.to_string()),
        })?
        .ok_or_else(|| fail("no ad to show (1004)".to_owned()))?;
    Ok(AxumJson(json!({
        "token": served.token,
        "title": served.campaign.title,
        "text": served.campaign.text,
        "link": served.campaign.link,
        "errMsg": "showBannerAd:ok",
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventBody {
    token: String,
    /// `impression` or `click`.
    event: String,
}

/// # `POST /api/v1/mp/{appid}/ad/event`
///
/// `{token, event: "impression" | "click"}`: counted once each (`counted: false` the
/// second time).
async fn event(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
    Json(body): Json<EventBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let click = match body.event.as_str() {
        "impression" => false,
        "click" => true,
        _ => return Err(ApiError::invalid_field("event", "impression or click")),
    };
    let counted = state
        .miniapps
        .count_ad_event(&appid, &user.user_id, &body.token, click)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(json!({ "counted": counted })))
}
