//! Service providers and their sub-merchants, for operators (admin token).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use plaza_pay::model::{Merchant, MerchantKind};
use plaza_pay::{NewMerchant, NewSubMerchant, PayError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::pay::{
    FEE_RATE_BPS_DEFAULT, ListQuery, SigningCredentials, find_merchant, key_material,
    merchant_json, sign_mode,
};
use crate::PayState;
use crate::error::ApiError;
use crate::extract::{Admin, Json, Query, page_limit};
use crate::pay_v3::PaySurface;

pub(crate) fn router() -> Router<PayState> {
    Router::new()
        .route(
            "/api/v1/admin/providers",
            post(create_provider).get(list_providers),
        )
        .route("/api/v1/admin/providers/{sp_mchid}", get(provider))
        .route(
            "/api/v1/admin/providers/{sp_mchid}/sub-merchants",
            post(create_sub_merchant).get(list_sub_merchants),
        )
}

/// A provider's commission when none is given: 20% of the platform fee on its
/// sub-merchants' payments.
pub(crate) const COMMISSION_BPS_DEFAULT: u32 = 2_000;

#[derive(Debug, Deserialize)]
struct NewProviderBody {
    name: String,
    appid: Option<String>,
    commission_bps: Option<u32>,
    sign_mode: Option<String>,
    certificate: Option<String>,
    public_key: Option<String>,
    serial_no: Option<String>,
}

/// What an SDK in partner mode needs: `mchid` = `sp_mchid`, `appid` = `sp_appid`.
#[derive(Serialize)]
struct ProviderCredentials {
    sp_mchid: String,
    sp_appid: String,
    name: String,
    commission_bps: u32,
    #[serde(flatten)]
    signing: SigningCredentials,
}

async fn create_provider(
    State(state): State<PayState>,
    _admin: Admin,
    Json(body): Json<NewProviderBody>,
) -> Result<(StatusCode, AxumJson<ProviderCredentials>), ApiError> {
    let surface = &state.pay;
    let mode = sign_mode(body.sign_mode.as_deref())?;
    let material = key_material(
        surface,
        body.certificate.as_deref(),
        body.public_key.as_deref(),
        body.serial_no.as_deref(),
        &body.name,
    )?;
    let provider = surface
        .pay
        .create_provider(
            NewMerchant {
                name: body.name,
                appid: body.appid,
                serial_no: material.serial_no.clone(),
                public_key_pem: material.public_key_pem.clone(),
                fee_rate_bps: 0,
                sign_mode: mode,
            },
            body.commission_bps.unwrap_or(COMMISSION_BPS_DEFAULT),
        )
        .await?;
    let signing = SigningCredentials::of(surface, &provider, material);
    Ok((
        StatusCode::CREATED,
        AxumJson(ProviderCredentials {
            sp_appid: provider.appids.first().cloned().unwrap_or_default(),
            sp_mchid: provider.mchid,
            name: provider.name,
            commission_bps: provider.commission_bps,
            signing,
        }),
    ))
}

async fn find_provider(surface: &PaySurface, sp_mchid: &str) -> Result<Merchant, ApiError> {
    let merchant = find_merchant(surface, sp_mchid).await?;
    if merchant.kind == MerchantKind::Provider {
        Ok(merchant)
    } else {
        Err(PayError::invalid("sp_mchid", format!("{sp_mchid} is not a service provider")).into())
    }
}

async fn list_providers(
    State(state): State<PayState>,
    _admin: Admin,
    Query(query): Query<ListQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    let mut providers = Vec::new();
    for provider in surface.pay.providers(page_limit(query.limit)?).await? {
        providers.push(merchant_json(surface, &provider).await?);
    }
    Ok(AxumJson(json!({ "providers": providers })))
}

async fn provider(
    State(state): State<PayState>,
    _admin: Admin,
    Path(sp_mchid): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    let provider = find_provider(surface, &sp_mchid).await?;
    let mut view = merchant_json(surface, &provider).await?;
    let mut subs = Vec::new();
    for sub in surface
        .pay
        .sub_merchants(&sp_mchid, page_limit(None)?)
        .await?
    {
        subs.push(merchant_json(surface, &sub).await?);
    }
    view["sub_merchants"] = Value::Array(subs);
    Ok(AxumJson(view))
}

#[derive(Debug, Deserialize)]
struct NewSubMerchantBody {
    name: String,
    sub_appid: Option<String>,
    fee_rate_bps: Option<u32>,
}

async fn create_sub_merchant(
    State(state): State<PayState>,
    _admin: Admin,
    Path(sp_mchid): Path<String>,
    Json(body): Json<NewSubMerchantBody>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let surface = &state.pay;
    let sub = surface
        .pay
        .create_sub_merchant(NewSubMerchant {
            provider: sp_mchid,
            name: body.name,
            sub_appid: body.sub_appid,
            fee_rate_bps: body.fee_rate_bps.unwrap_or(FEE_RATE_BPS_DEFAULT),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        AxumJson(json!({
            "sub_mchid": sub.mchid,
            "sp_mchid": sub.provider,
            "name": sub.name,
            "sub_appid": sub.appids.first(),
            "fee_rate_bps": sub.fee_rate_bps,
        })),
    ))
}

async fn list_sub_merchants(
    State(state): State<PayState>,
    _admin: Admin,
    Path(sp_mchid): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let surface = &state.pay;
    find_provider(surface, &sp_mchid).await?;
    let mut subs = Vec::new();
    for sub in surface
        .pay
        .sub_merchants(&sp_mchid, page_limit(query.limit)?)
        .await?
    {
        subs.push(merchant_json(surface, &sub).await?);
    }
    Ok(AxumJson(json!({ "sub_merchants": subs })))
}
