//! Code versions on Plaza's own API: developers upload packages, pick the trial
//! version, submit one for review, release and roll back (their session); operators
//! list what waits for review and decide (admin token), and may upload for an app too
//! (the demo installs its package that way).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use plaza_http::ApiError;
use plaza_http::extract::{Admin, Json, Query};
use plaza_miniapp::model::{AuditStatus, CodeState, CodeVersion};
use plaza_miniapp::packages::PACKAGE_BYTES_MAX;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::MiniAppState;
use crate::error::api_error;
use crate::routes::{SignedIn, my_app};

/// Room above the largest package, so a package a little too large is refused by the
/// domain with its size and limit rather than by the transport.
const UPLOAD_SLACK_BYTES: usize = 64 * 1024;

pub(crate) fn router() -> Router<MiniAppState> {
    let upload_limit = DefaultBodyLimit::max(PACKAGE_BYTES_MAX + UPLOAD_SLACK_BYTES);
    Router::new()
        .route(
            "/api/v1/me/miniapps/{appid}/versions",
            post(my_upload).get(my_versions).layer(upload_limit),
        )
        .route(
            "/api/v1/me/miniapps/{appid}/versions/{version}/trial",
            post(my_trial),
        )
        .route(
            "/api/v1/me/miniapps/{appid}/versions/{version}/submit",
            post(my_submit),
        )
        .route("/api/v1/me/miniapps/{appid}/release", post(my_release))
        .route("/api/v1/me/miniapps/{appid}/rollback", post(my_rollback))
        .route(
            "/api/v1/admin/miniapps/{appid}/versions",
            post(admin_upload).get(admin_versions).layer(upload_limit),
        )
        .route("/api/v1/admin/miniapp-reviews", get(reviews))
        .route("/api/v1/admin/miniapps/{appid}/review", post(decide))
}

pub(crate) fn state_json(state: &CodeState) -> Value {
    json!({
        "trial": state.trial,
        "release": state.release,
        "previous_release": state.previous_release,
        "released_at": state.released_at.map(plaza_http::rfc3339),
        "audit": state.audit.as_ref().map(|audit| json!({
            "version": audit.version,
            "status": match audit.status {
                AuditStatus::Auditing => "auditing",
                AuditStatus::Approved => "approved",
                AuditStatus::Rejected => "rejected",
            },
            "reason": audit.reason,
            "submitted_at": plaza_http::rfc3339(audit.submitted_at),
            "decided_at": audit.decided_at.map(plaza_http::rfc3339),
        })),
    })
}

pub(crate) fn version_json(version: &CodeVersion) -> Value {
    json!({
        "version": version.version,
        "user_version": version.user_version,
        "user_desc": version.user_desc,
        "uploaded_at": plaza_http::rfc3339(version.uploaded_at),
        "size_bytes": version.size_bytes,
        "pages": version.config.pages,
        "window_title": version.config.window_title,
        "tab_bar": version.config.tab_bar.iter().map(|(page, text)| json!({"pagePath": page, "text": text})).collect::<Vec<_>>(),
        "files": version.files.len(),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadQuery {
    user_version: Option<String>,
    user_desc: Option<String>,
}

async fn upload(
    state: &MiniAppState,
    appid: &str,
    query: UploadQuery,
    body: &[u8],
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let user_version = query.user_version.unwrap_or_else(|| "1.0.0".to_owned());
    let version = state
        .miniapps
        .upload_version(
            appid,
            body,
            &user_version,
            query.user_desc.as_deref().unwrap_or(""),
        )
        .await
        .map_err(api_error)?;
    Ok((StatusCode::CREATED, AxumJson(version_json(&version))))
}

/// # `POST /api/v1/me/miniapps/{appid}/versions?user_version=…&user_desc=…`
///
/// The body is the package (a zip, at most 2 MB): 201 with the new development
/// version, or `package_invalid` naming the entry or `app.json` field.
async fn my_upload(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
    Query(query): Query<UploadQuery>,
    body: Bytes,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    my_app(&state, &user, &appid).await?;
    upload(&state, &appid, query, &body).await
}

async fn admin_upload(
    State(state): State<MiniAppState>,
    _admin: Admin,
    Path(appid): Path<String>,
    Query(query): Query<UploadQuery>,
    body: Bytes,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    upload(&state, &appid, query, &body).await
}

async fn versions(state: &MiniAppState, appid: &str) -> Result<AxumJson<Value>, ApiError> {
    let code = state.miniapps.code_state(appid).await.map_err(api_error)?;
    let versions = state.miniapps.versions(appid).await.map_err(api_error)?;
    Ok(AxumJson(json!({
        "state": state_json(&code),
        "versions": versions.iter().map(version_json).collect::<Vec<_>>(),
    })))
}

async fn my_versions(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    my_app(&state, &user, &appid).await?;
    versions(&state, &appid).await
}

async fn admin_versions(
    State(state): State<MiniAppState>,
    _admin: Admin,
    Path(appid): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    state
        .miniapps
        .existing_app(&appid)
        .await
        .map_err(api_error)?;
    versions(&state, &appid).await
}

/// A change of the signed-in developer's own app's life cycle, answered with the new
/// state. `change` is a future, so it runs only once ownership is checked.
async fn my_change(
    state: &MiniAppState,
    user: &plaza_identity::User,
    appid: &str,
    change: impl Future<Output = Result<CodeState, plaza_miniapp::MiniAppError>>,
) -> Result<AxumJson<Value>, ApiError> {
    my_app(state, user, appid).await?;
    let code = change.await.map_err(api_error)?;
    Ok(AxumJson(state_json(&code)))
}

async fn my_trial(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path((appid, version)): Path<(String, u32)>,
) -> Result<AxumJson<Value>, ApiError> {
    my_change(
        &state,
        &user,
        &appid,
        state.miniapps.set_trial(&appid, version),
    )
    .await
}

async fn my_submit(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path((appid, version)): Path<(String, u32)>,
) -> Result<AxumJson<Value>, ApiError> {
    my_change(
        &state,
        &user,
        &appid,
        state.miniapps.submit_audit(&appid, version),
    )
    .await
}

async fn my_release(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    my_change(&state, &user, &appid, state.miniapps.release(&appid)).await
}

async fn my_rollback(
    State(state): State<MiniAppState>,
    SignedIn(user): SignedIn,
    Path(appid): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    my_change(&state, &user, &appid, state.miniapps.rollback(&appid)).await
}

/// # `GET /api/v1/admin/miniapp-reviews`
///
/// Versions waiting for review, oldest first, with their app and package summary.
async fn reviews(
    State(state): State<MiniAppState>,
    _admin: Admin,
) -> Result<AxumJson<Value>, ApiError> {
    let pending = state.miniapps.reviews_pending().await.map_err(api_error)?;
    let mut list = Vec::new();
    for (appid, audit) in pending {
        let app = state
            .miniapps
            .existing_app(&appid)
            .await
            .map_err(api_error)?;
        let version = state
            .miniapps
            .version(&appid, audit.version)
            .await
            .map_err(api_error)?;
        list.push(json!({
            "appid": appid,
            "name": app.name,
            "submitted_at": plaza_http::rfc3339(audit.submitted_at),
            "version": version_json(&version),
        }));
    }
    Ok(AxumJson(json!({ "reviews": list })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    /// `approve` or `reject`.
    decision: String,
    reason: Option<String>,
}

/// # `POST /api/v1/admin/miniapps/{appid}/review`
///
/// `{decision: "approve" | "reject", reason}` on the version under review (a
/// rejection needs a reason).
async fn decide(
    State(state): State<MiniAppState>,
    _admin: Admin,
    Path(appid): Path<String>,
    Json(body): Json<DecisionBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let approve = match body.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return Err(ApiError::invalid_field("decision", "approve or reject")),
    };
    state
        .miniapps
        .existing_app(&appid)
        .await
        .map_err(api_error)?;
    let code = state
        .miniapps
        .decide_audit(&appid, approve, body.reason.as_deref())
        .await
        .map_err(api_error)?;
    Ok(AxumJson(state_json(&code)))
}
