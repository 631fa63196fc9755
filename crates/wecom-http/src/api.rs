//! WeCom's own API: operators create corps and their apps and read their directory
//! (admin token); a person accepts a corp's invitation and reads the app messages sent
//! to them (their session).

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post, put};
use axum::{Json as AxumJson, Router};
use plaza_http::ApiError;
use plaza_http::extract::{Admin, Json};
use plaza_identity::{IdentityError, User};
use plaza_wecom::{Corp, CorpApp, Member, NewCorp, Scope};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::WeComState;
use crate::error::api_error;

pub(crate) fn router() -> Router<WeComState> {
    Router::new()
        .route("/api/v1/admin/corps", post(admin_create).get(admin_list))
        .route("/api/v1/admin/corps/{corpid}", get(admin_show))
        .route("/api/v1/admin/corps/{corpid}/apps", post(admin_create_app))
        .route(
            "/api/v1/admin/corps/{corpid}/secret",
            post(admin_reset_secret),
        )
        .route("/api/v1/admin/corps/{corpid}/members", get(admin_members))
        .route(
            "/api/v1/admin/corps/{corpid}/callback",
            put(admin_set_callback),
        )
        .route(
            "/api/v1/admin/corps/{corpid}/callbacks",
            get(admin_callbacks),
        )
        .route(
            "/api/v1/admin/corps/{corpid}/callbacks/{id}/replay",
            post(admin_replay),
        )
        .route(
            "/api/v1/admin/corps/{corpid}/archive-permits",
            put(admin_archive_permits),
        )
        .route("/api/v1/me/wecom", get(my_corps))
        .route(
            "/api/v1/me/wecom/invitations/{code}",
            post(accept_invitation),
        )
        .route("/api/v1/me/wecom/{corpid}/messages", get(my_messages))
        .route(
            "/api/v1/me/wecom/{corpid}/apps/{agentid}/messages",
            post(message_app),
        )
}

/// The signed-in user of a request (a session token or the pages' cookie).
pub(crate) struct SignedIn(pub(crate) User);

impl FromRequestParts<WeComState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &WeComState) -> Result<Self, ApiError> {
        let token = plaza_http::web::session_token(&parts.headers)?;
        let user =
            state
                .wecom
                .identity()
                .session_user(token)
                .await
                .map_err(|error| match error {
                    IdentityError::SessionUnknown => plaza_http::web::session_ended(),
                    other => api_error(other.into()),
                })?;
        Ok(Self(user))
    }
}

fn corp_json(corp: &Corp) -> Value {
    json!({
        "corpid": corp.corpid,
        "name": corp.name,
        "created_at": plaza_http::rfc3339(corp.created_at),
    })
}

fn app_json(app: &CorpApp) -> Value {
    json!({
        "agentid": app.agentid,
        "name": app.name,
        "visible_departments": app.visible_departments,
        "created_at": plaza_http::rfc3339(app.created_at),
    })
}

fn member_view(member: &Member) -> Value {
    json!({
        "corpid": member.corpid,
        "userid": member.userid,
        "name": member.name,
        "department": member.department,
        "position": member.position,
        "status": member.status().code(),
        "user_id": member.user_id,
        "invitation": member.invitation,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateCorp {
    name: String,
    #[serde(default)]
    app_name: Option<String>,
}

async fn admin_create(
    _: Admin,
    State(state): State<WeComState>,
    Json(body): Json<CreateCorp>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let created = state
        .wecom
        .create_corp(NewCorp {
            name: body.name,
            app_name: body.app_name,
        })
        .await
        .map_err(api_error)?;
    let mut view = corp_json(&created.corp);
    view["contacts_secret"] = json!(created.contacts_secret);
    let mut app = app_json(&created.app);
    app["secret"] = json!(created.app_secret);
    view["app"] = app;
    view["gateway"] = json!(format!(
        "{}{}",
        state.http.public_base_url.trim_end_matches('/'),
        crate::WECOM_PREFIX
    ));
    Ok((StatusCode::CREATED, AxumJson(view)))
}

async fn admin_list(
    _: Admin,
    State(state): State<WeComState>,
) -> Result<AxumJson<Value>, ApiError> {
    let corps = state.wecom.corps().await.map_err(api_error)?;
    Ok(AxumJson(
        json!({ "corps": corps.iter().map(corp_json).collect::<Vec<_>>() }),
    ))
}

async fn admin_show(
    _: Admin,
    State(state): State<WeComState>,
    Path(corpid): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let corp = state
        .wecom
        .corp(&corpid)
        .await
        .map_err(api_error)?
        .ok_or_else(|| {
            api_error(plaza_wecom::WeComError::CorpNotFound {
                corpid: corpid.clone(),
            })
        })?;
    let apps = state.wecom.apps(&corpid).await.map_err(api_error)?;
    let departments = state
        .wecom
        .all_departments(&corpid)
        .await
        .map_err(api_error)?;
    let members = state.wecom.all_members(&corpid).await.map_err(api_error)?;
    let mut view = corp_json(&corp);
    view["apps"] = json!(apps.iter().map(app_json).collect::<Vec<_>>());
    view["departments"] = json!(departments.len());
    view["members"] = json!(members.len());
    Ok(AxumJson(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateApp {
    name: String,
    #[serde(default)]
    visible_departments: Vec<u32>,
}

async fn admin_create_app(
    _: Admin,
    State(state): State<WeComState>,
    Path(corpid): Path<String>,
    Json(body): Json<CreateApp>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let (app, secret) = state
        .wecom
        .create_app(&corpid, &body.name, body.visible_departments)
        .await
        .map_err(api_error)?;
    let mut view = app_json(&app);
    view["secret"] = json!(secret);
    Ok((StatusCode::CREATED, AxumJson(view)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetSecret {
    /// Absent for the contacts secret; an app's agentid otherwise.
    #[serde(default)]
    agentid: Option<u32>,
}

async fn admin_reset_secret(
    _: Admin,
    State(state): State<WeComState>,
    Path(corpid): Path<String>,
    Json(body): Json<ResetSecret>,
) -> Result<AxumJson<Value>, ApiError> {
    let scope = body.agentid.map_or(Scope::Contacts, Scope::Agent);
    let secret = state
        .wecom
        .reset_secret(&corpid, scope)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(
        json!({ "corpid": corpid, "agentid": body.agentid, "secret": secret }),
    ))
}

async fn admin_members(
    _: Admin,
    State(state): State<WeComState>,
    Path(corpid): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    state
        .wecom
        .corp(&corpid)
        .await
        .map_err(api_error)?
        .ok_or_else(|| {
            api_error(plaza_wecom::WeComError::CorpNotFound {
                corpid: corpid.clone(),
            })
        })?;
    let members = state.wecom.all_members(&corpid).await.map_err(api_error)?;
    Ok(AxumJson(
        json!({ "members": members.iter().map(member_view).collect::<Vec<_>>() }),
    ))
}

async fn my_corps(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
) -> Result<AxumJson<Value>, ApiError> {
    let memberships = state
        .wecom
        .memberships(&user.user_id)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(
        json!({ "memberships": memberships.iter().map(member_view).collect::<Vec<_>>() }),
    ))
}

async fn accept_invitation(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path(code): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let member = state
        .wecom
        .accept_invitation(&code, &user.user_id)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(member_view(&member)))
}

/// The member the signed-in user is in a corp (`corp_not_found` when none).
async fn my_member(state: &WeComState, user: &User, corpid: &str) -> Result<Member, ApiError> {
    state
        .wecom
        .member_of(&user.user_id, corpid)
        .await
        .map_err(api_error)?
        .ok_or_else(|| {
            api_error(plaza_wecom::WeComError::CorpNotFound {
                corpid: corpid.to_owned(),
            })
        })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToApp {
    content: String,
}

/// A member writes to an app: the corp's server hears it on its callback.
async fn message_app(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path((corpid, agentid)): Path<(String, u32)>,
    Json(body): Json<ToApp>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let member = my_member(&state, &user, &corpid).await?;
    let msgid = state
        .wecom
        .message_app(&member, agentid, &body.content)
        .await
        .map_err(api_error)?;
    Ok((
        StatusCode::CREATED,
        AxumJson(json!({ "msgid": msgid, "agentid": agentid, "from": member.userid })),
    ))
}

async fn my_messages(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path(corpid): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let member = my_member(&state, &user, &corpid).await?;
    let messages = state
        .wecom
        .inbox(
            &corpid,
            &member.userid,
            plaza_wecom::messages::INBOX_PAGE_MAX,
        )
        .await
        .map_err(api_error)?;
    let messages: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "msgid": m.msgid,
                "agentid": m.agentid,
                "msgtype": m.msgtype,
                m.msgtype.clone(): m.content,
                "sent_at": plaza_http::rfc3339(m.sent_at),
            })
        })
        .collect();
    Ok(AxumJson(json!({ "messages": messages })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SetCallback {
    url: String,
    token: String,
    encoding_aes_key: String,
}

async fn admin_set_callback(
    _: Admin,
    State(state): State<WeComState>,
    Path(corpid): Path<String>,
    Json(body): Json<SetCallback>,
) -> Result<AxumJson<Value>, ApiError> {
    let config = plaza_wecom::model::CallbackConfig {
        url: body.url.clone(),
        token: body.token,
        encoding_aes_key: body.encoding_aes_key,
    };
    state
        .wecom
        .set_callback(&corpid, config)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(
        json!({ "corpid": corpid, "url": body.url, "verified": true }),
    ))
}

/// An event with its attempts, for the console and the API.
pub(crate) fn event_view(event: &plaza_wecom::model::CallbackEvent) -> Value {
    json!({
        "id": event.id,
        "event": event.event,
        "change_type": event.change_type,
        "fields": event.fields.iter().map(|(name, value)| json!([name, value])).collect::<Vec<_>>(),
        "xml": event.xml(),
        "created_at": plaza_http::rfc3339(event.created_at),
        "delivered_at": event.delivered_at.map(plaza_http::rfc3339),
        "attempts": event.attempts.iter().map(|a| json!({
            "at": plaza_http::rfc3339(a.at),
            "url": a.url,
            "status": a.status,
            "error": a.error,
        })).collect::<Vec<_>>(),
    })
}

async fn admin_callbacks(
    _: Admin,
    State(state): State<WeComState>,
    Path(corpid): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let events = state
        .wecom
        .events(&corpid, plaza_wecom::events::EVENTS_LISTED_MAX)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(
        json!({ "events": events.iter().map(event_view).collect::<Vec<_>>() }),
    ))
}

async fn admin_replay(
    _: Admin,
    State(state): State<WeComState>,
    Path((corpid, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.wecom.replay(&corpid, &id).await.map_err(api_error)?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchivePermits {
    userids: Vec<String>,
}

async fn admin_archive_permits(
    _: Admin,
    State(state): State<WeComState>,
    Path(corpid): Path<String>,
    Json(body): Json<ArchivePermits>,
) -> Result<AxumJson<Value>, ApiError> {
    let kept = state
        .wecom
        .set_archive_permits(&corpid, &body.userids)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(json!({ "corpid": corpid, "userids": kept })))
}
