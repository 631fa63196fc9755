//! The mini-program server API on WeChat's paths (`api.weixin.qq.com`): tokens, login
//! and sessions. Every answer follows [`crate::wire`]'s envelope.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::MiniAppState;
use crate::wire::{AppToken, WxError, WxJson, WxQuery};

pub(crate) fn router() -> Router<MiniAppState> {
    Router::new()
        .route("/cgi-bin/token", get(token))
        .route("/cgi-bin/stable_token", post(stable_token))
        .route("/sns/jscode2session", get(jscode2session))
        .route("/wxa/checksession", get(checksession))
}

/// # `GET /cgi-bin/token?grant_type=client_credential&appid=…&secret=…`
///
/// A new access token (`{access_token, expires_in}`, no errcode); the previous one
/// works five more minutes.
async fn token(State(state): State<MiniAppState>, query: WxQuery) -> Result<Response, WxError> {
    let issued = state
        .miniapps
        .token(
            query.get("grant_type"),
            query.get("appid"),
            query.get("secret"),
        )
        .await?;
    Ok(axum::Json(json!({
        "access_token": issued.access_token,
        "expires_in": issued.expires_in,
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
struct StableTokenBody {
    #[serde(default)]
    grant_type: String,
    #[serde(default)]
    appid: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    force_refresh: bool,
}

/// # `POST /cgi-bin/stable_token`
///
/// `{grant_type, appid, secret, force_refresh}`: the app's stable token, the same while
/// it has more than five minutes left unless `force_refresh`.
async fn stable_token(
    State(state): State<MiniAppState>,
    WxJson(body): WxJson<StableTokenBody>,
) -> Result<Response, WxError> {
    let issued = state
        .miniapps
        .stable_token(
            &body.grant_type,
            &body.appid,
            &body.secret,
            body.force_refresh,
        )
        .await?;
    Ok(axum::Json(json!({
        "access_token": issued.access_token,
        "expires_in": issued.expires_in,
    }))
    .into_response())
}

/// # `GET /sns/jscode2session?appid=…&secret=…&js_code=…&grant_type=authorization_code`
///
/// `{openid, session_key, unionid}` for a code from `wx.login`, once; an
/// `access_token` sent along (wechatpy does) is ignored.
async fn jscode2session(
    State(state): State<MiniAppState>,
    query: WxQuery,
) -> Result<Response, WxError> {
    let session = state
        .miniapps
        .code_to_session(
            query.get("appid"),
            query.get("secret"),
            query.get("js_code"),
            query.get("grant_type"),
        )
        .await?;
    Ok(axum::Json(json!({
        "openid": session.openid,
        "session_key": session.session_key,
        "unionid": session.unionid,
    }))
    .into_response())
}

/// # `GET /wxa/checksession?access_token=…&openid=…&signature=…&sig_method=hmac_sha256`
///
/// `errcode` 0 when `signature` is the HMAC-SHA256 of the empty string under the user's
/// current `session_key`, else `87009`.
async fn checksession(
    State(state): State<MiniAppState>,
    app: AppToken,
    query: WxQuery,
) -> Result<Response, WxError> {
    state
        .miniapps
        .check_session(
            &app.appid,
            query.get("openid"),
            query.get("signature"),
            query.get("sig_method"),
        )
        .await?;
    Ok(WxError::new(0, "ok").into_response())
}
