//! Mini Programs' own API: operators create and inspect mini programs (admin token),
//! developers manage theirs (a user's session), and the container asks for a
//! `wx.login` code on the signed-in user's behalf.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post, put};
use axum::{Json as AxumJson, Router};
use plaza_http::ApiError;
use plaza_http::extract::{Admin, Json};
use plaza_identity::{IdentityError, User};
use plaza_miniapp::{AppSettings, MiniApp, MiniAppError, NewMiniApp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::MiniAppState;
use crate::error::api_error;

pub(crate) fn router() -> Router<MiniAppState> {
    Router::new()
        .route("/api/v1/admin/miniapps", post(admin_create).get(admin_list))
        .route(
            "/api/v1/admin/miniapps/{appid}",
            get(admin_show).patch(admin_update),
        )
        .route(
            "/api/v1/admin/miniapps/{appid}/secret",
            post(admin_reset_secret),
        )
        .route(
            "/api/v1/admin/miniapps/{appid}/merchant",
            put(admin_bind_merchant),
        )
        .route(
            "/api/v1/me/developer",
            post(become_developer).get(my_developer),
        )
        .route("/api/v1/me/miniapps", post(my_create).get(my_list))
        .route("/api/v1/me/miniapps/{appid}", get(my_show).patch(my_update))
        .route("/api/v1/me/miniapps/{appid}/secret", post(my_reset_secret))
        .route("/api/v1/mp/{appid}/login", post(wx_login))
        .route("/api/v1/mp/{appid}/subscribe", post(subscribe))
        .route("/api/v1/me/notifications", get(my_notifications))
        .route(
            "/api/v1/admin/miniapp-words",
            get(word_list).put(set_word_list),
        )
}

/// The signed-in user of a request: `Authorization: Bearer pzu_…`, else the pages'
/// session cookie.
pub(crate) struct SignedIn(pub(crate) User);

impl FromRequestParts<MiniAppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &MiniAppState) -> Result<Self, ApiError> {
        let token = plaza_http::web::session_token(&parts.headers)?;
        let user = state
            .miniapps
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

/// A mini program as answered (never its secret, which only creation and reset show).
#[derive(Debug, Serialize)]
pub(crate) struct AppView {
    appid: String,
    developer_id: String,
    name: String,
    icon: String,
    category: String,
    description: String,
    service_keywords: Vec<String>,
    service_pages: std::collections::BTreeMap<String, String>,
    request_domains: Vec<String>,
    testers: Vec<String>,
    mchid: Option<String>,
    ext_config: serde_json::Map<String, Value>,
    secret_made_at: String,
    created_at: String,
}

impl From<MiniApp> for AppView {
    fn from(app: MiniApp) -> Self {
        Self {
            appid: app.appid,
            developer_id: app.developer_id,
            name: app.name,
            icon: app.icon,
            category: app.category,
            description: app.description,
            service_keywords: app.service_keywords,
            service_pages: app.service_pages,
            request_domains: app.request_domains,
            testers: app.testers,
            mchid: app.mchid,
            ext_config: app.ext_config,
            secret_made_at: plaza_http::rfc3339(app.secret_made_at),
            created_at: plaza_http::rfc3339(app.created_at),
        }
    }
}

/// Settings as a body: every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsBody {
    name: Option<String>,
    icon: Option<String>,
    category: Option<String>,
    description: Option<String>,
    service_keywords: Option<Vec<String>>,
    service_pages: Option<std::collections::BTreeMap<String, String>>,
    request_domains: Option<Vec<String>>,
    testers: Option<Vec<String>>,
    ext_config: Option<serde_json::Map<String, Value>>,
}

impl From<SettingsBody> for AppSettings {
    fn from(body: SettingsBody) -> Self {
        Self {
            name: body.name,
            icon: body.icon,
            category: body.category,
            description: body.description,
            service_keywords: body.service_keywords,
            service_pages: body.service_pages,
            request_domains: body.request_domains,
            testers: body.testers,
            ext_config: body.ext_config,
        }
    }
}

/// What creating an app takes: a name, and optionally its settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    /// The user whose developer account owns it (admin only; made if the user has
    /// none).
    developer: Option<String>,
    name: String,
    icon: Option<String>,
    category: Option<String>,
    description: Option<String>,
    service_keywords: Option<Vec<String>>,
    service_pages: Option<std::collections::BTreeMap<String, String>>,
    request_domains: Option<Vec<String>>,
    testers: Option<Vec<String>>,
    ext_config: Option<serde_json::Map<String, Value>>,
}

impl CreateBody {
    fn settings(&self) -> AppSettings {
        AppSettings {
            name: None,
            icon: self.icon.clone(),
            category: self.category.clone(),
            description: self.description.clone(),
            service_keywords: self.service_keywords.clone(),
            service_pages: self.service_pages.clone(),
            request_domains: self.request_domains.clone(),
            testers: self.testers.clone(),
            ext_config: self.ext_config.clone(),
        }
    }
}

/// A new app with its secret, answered once.
fn created(app: MiniApp, secret: String) -> (StatusCode, AxumJson<Value>) {
    let mut view = json!(AppView::from(app));
    view["secret"] = Value::String(secret);
    (StatusCode::CREATED, AxumJson(view))
}

async fn create_for(
    state: &MiniAppState,
    developer_id: &str,
    name: String,
    settings: AppSettings,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    if let Some(testers) = &settings.testers {
        for tester in testers {
            if state
                .miniapps
                .identity()
                .user(tester)
                .await
                .map_err(|error| api_error(error.into()))?
                .is_none()
            {
                return Err(ApiError::invalid_field(
                    "testers",
                    format!("no user {tester}"),
                ));
            }
        }
    }
    let (app, secret) = state
        .miniapps
        .create_app(developer_id, NewMiniApp { name, settings })
        .await
        .map_err(api_error)?;
    Ok(created(app, secret))
}

/// # `POST /api/v1/admin/miniapps`
///
/// `{developer: USER_ID, name, icon?, category?, description?, service_keywords?,
/// request_domains?, testers?}`: 201 with the app and its `secret` (shown only here).
async fn admin_create(
    State(state): State<MiniAppState>,
    _admin: Admin,
    Json(body): Json<CreateBody>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let user_id = body.developer.as_deref().ok_or_else(|| {
        ApiError::invalid_field("developer", "is required: the user id of the developer")
    })?;
    let developer = state
        .miniapps
        .identity()
        .become_developer(user_id)
        .await
        .map_err(|error| api_error(error.into()))?;
    let settings = body.settings();
    create_for(&state, &developer.developer_id, body.name, settings).await
}

async fn admin_list(
    State(state): State<MiniAppState>,
    _admin: Admin,
) -> Result<AxumJson<Value>, ApiError> {
    let apps = state.miniapps.apps(1_000).await.map_err(api_error)?;
    let apps: Vec<AppView> = apps.into_iter().map(AppView::from).collect();
    Ok(AxumJson(json!({ "miniapps": apps })))
}

async fn admin_show(
    State(state): State<MiniAppState>,
    _admin: Admin,
    Path(appid): Path<String>,
) -> Result<AxumJson<AppView>, ApiError> {
    let app = state
        .miniapps
        .existing_app(&appid)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(app.into()))
}

async fn admin_update(
    State(state): State<MiniAppState>,
    _admin: Admin,
    Path(appid): Path<String>,
    Json(body): Json<SettingsBody>,
) -> Result<AxumJson<AppView>, ApiError> {
    let app = state
        .miniapps
        .update_settings(&appid, body.into())
        .await
        .map_err(api_error)?;
    Ok(AxumJson(app.into()))
}

async fn admin_reset_secret(
    State(state): State<MiniAppState>,
    _admin: Admin,
    Path(appid): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let (app, secret) = state
        .miniapps
        .reset_secret(&appid)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(json!({ "appid": app.appid, "secret": secret })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MerchantBody {
    mchid: Option<String>,
}

/// # `PUT /api/v1/admin/miniapps/{appid}/merchant`
///
/// `{mchid}` binds the Pay merchant that takes the app's JSAPI payments (the appid is
/// bound to the merchant in Pay too); `{mchid: null}` unbinds it.
async fn admin_bind_merchant(
    State(state): State<MiniAppState>,
    _admin: Admin,
    Path(appid): Path<String>,
    Json(body): Json<MerchantBody>,
) -> Result<AxumJson<AppView>, ApiError> {
    let app = state
        .miniapps
        .bind_merchant(&appid, body.mchid.as_deref())
        .await
        .map_err(api_error)?;
    Ok(AxumJson(app.into()))
}

/// # `POST /api/v1/me/developer`
///
/// Makes the signed-in user a developer: its developer account (the unionid scope),
/// the same on every call.
async fn become_developer(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
) -> Result<AxumJson<Value>, ApiError> {
    let developer = state
        .miniapps
        .identity()
        .become_developer(&user.user_id)
        .await
        .map_err(|error| api_error(error.into()))?;
    Ok(AxumJson(json!({
        "developer_id": developer.developer_id,
        "created_at": plaza_http::rfc3339(developer.created_at),
    })))
}

async fn developer_id(state: &MiniAppState, user: &User) -> Result<String, ApiError> {
    state
        .miniapps
        .identity()
        .developer_of(&user.user_id)
        .await
        .map_err(|error| api_error(error.into()))?
        .map(|developer| developer.developer_id)
        .ok_or_else(|| api_error(MiniAppError::NotADeveloper))
}

async fn my_developer(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
) -> Result<AxumJson<Value>, ApiError> {
    let developer_id = developer_id(&state, &user).await?;
    Ok(AxumJson(json!({ "developer_id": developer_id })))
}

/// The signed-in developer's own app, or why not.
pub(crate) async fn my_app(
    state: &MiniAppState,
    user: &User,
    appid: &str,
) -> Result<MiniApp, ApiError> {
    let developer_id = developer_id(state, user).await?;
    let app = state
        .miniapps
        .existing_app(appid)
        .await
        .map_err(api_error)?;
    if app.developer_id == developer_id {
        Ok(app)
    } else {
        Err(api_error(MiniAppError::NotYourApp {
            appid: appid.to_owned(),
        }))
    }
}

async fn my_create(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Json(body): Json<CreateBody>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    if body.developer.is_some() {
        return Err(ApiError::invalid_field(
            "developer",
            "is the signed-in user's own account here; leave it out",
        ));
    }
    let developer_id = developer_id(&state, &user).await?;
    let settings = body.settings();
    create_for(&state, &developer_id, body.name, settings).await
}

async fn my_list(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
) -> Result<AxumJson<Value>, ApiError> {
    let developer_id = developer_id(&state, &user).await?;
    let apps = state
        .miniapps
        .apps_of(&developer_id)
        .await
        .map_err(api_error)?;
    let apps: Vec<AppView> = apps.into_iter().map(AppView::from).collect();
    Ok(AxumJson(json!({ "miniapps": apps })))
}

async fn my_show(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
) -> Result<AxumJson<AppView>, ApiError> {
    Ok(AxumJson(my_app(&state, &user, &appid).await?.into()))
}

async fn my_update(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
    Json(body): Json<SettingsBody>,
) -> Result<AxumJson<AppView>, ApiError> {
    my_app(&state, &user, &appid).await?;
    let app = state
        .miniapps
        .update_settings(&appid, body.into())
        .await
        .map_err(api_error)?;
    Ok(AxumJson(app.into()))
}

async fn my_reset_secret(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    my_app(&state, &user, &appid).await?;
    let (app, secret) = state
        .miniapps
        .reset_secret(&appid)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(json!({ "appid": app.appid, "secret": secret })))
}

/// # `POST /api/v1/mp/{appid}/login`
///
/// `wx.login` for the signed-in user: `{code, errMsg: "login:ok"}`, a code the app's
/// back end exchanges once within five minutes through `jscode2session`.
async fn wx_login(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let code = state
        .miniapps
        .login_code(&appid, &user.user_id)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(json!({ "code": code, "errMsg": "login:ok" })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscribeBody {
    #[serde(default)]
    accept: Vec<String>,
    #[serde(default)]
    reject: Vec<String>,
}

/// # `POST /api/v1/mp/{appid}/subscribe`
///
/// The consent sheet of `wx.requestSubscribeMessage`: `{accept: [priTmplId…],
/// reject: [priTmplId…]}` (1–3 templates of the app in all); each accepted template
/// allows the app one more message. Answers as the client call does:
/// `{errMsg: "requestSubscribeMessage:ok", <priTmplId>: "accept" | "reject"}`.
async fn subscribe(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
    Json(body): Json<SubscribeBody>,
) -> Result<AxumJson<Value>, ApiError> {
    use plaza_miniapp::subscribe::Decision;
    let decisions: Vec<(String, Decision)> = body
        .accept
        .into_iter()
        .map(|id| (id, Decision::Accept))
        .chain(body.reject.into_iter().map(|id| (id, Decision::Reject)))
        .collect();
    state
        .miniapps
        .existing_app(&appid)
        .await
        .map_err(api_error)?;
    state
        .miniapps
        .consent(&appid, &user.user_id, &decisions)
        .await
        .map_err(api_error)?;
    let mut answer = json!({ "errMsg": "requestSubscribeMessage:ok" });
    for (id, decision) in &decisions {
        answer[id.as_str()] = json!(decision.as_str());
    }
    Ok(AxumJson(answer))
}

/// # `GET /api/v1/me/notifications`
///
/// The signed-in user's service notifications from mini programs, newest first.
async fn my_notifications(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
) -> Result<AxumJson<Value>, ApiError> {
    let messages = state
        .miniapps
        .messages_of(&user.user_id, 100)
        .await
        .map_err(api_error)?;
    let notifications: Vec<Value> = messages
        .iter()
        .map(|message| {
            json!({
                "msgid": message.msgid,
                "appid": message.appid,
                "app_name": message.app_name,
                "title": message.title,
                "rows": message.rows.iter().map(|(name, value)| json!({"name": name, "value": value})).collect::<Vec<_>>(),
                "page": message.page,
                "link": crate::web::message_link(message),
                "sent_at": plaza_http::rfc3339(message.sent_at),
            })
        })
        .collect();
    Ok(AxumJson(json!({ "notifications": notifications })))
}

/// # `GET /api/v1/admin/miniapp-words`
///
/// The word list `msg_sec_check` applies.
async fn word_list(
    State(state): State<MiniAppState>,
    _admin: Admin,
) -> Result<AxumJson<Value>, ApiError> {
    let list = state.miniapps.word_list().await.map_err(api_error)?;
    Ok(AxumJson(json!({
        "words": list.words.iter().map(|word| json!({"word": word.word, "label": word.label, "risky": word.risky})).collect::<Vec<_>>(),
        "updated_at": list.updated_at.map(plaza_http::rfc3339),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WordsBody {
    words: Vec<WordBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WordBody {
    word: String,
    label: u32,
    #[serde(default = "risky_default")]
    risky: bool,
}

fn risky_default() -> bool {
    true
}

/// # `PUT /api/v1/admin/miniapp-words`
///
/// `{words: [{word, label, risky?}]}` replaces the list (`risky` defaults to true;
/// false sends matching text to review instead).
async fn set_word_list(
    State(state): State<MiniAppState>,
    _admin: Admin,
    Json(body): Json<WordsBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let words = body
        .words
        .into_iter()
        .map(|word| plaza_miniapp::moderation::Word {
            word: word.word,
            label: word.label,
            risky: word.risky,
        })
        .collect();
    let list = state
        .miniapps
        .set_word_list(words)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(
        json!({ "words": list.words.len(), "updated_at": list.updated_at.map(plaza_http::rfc3339) }),
    ))
}
