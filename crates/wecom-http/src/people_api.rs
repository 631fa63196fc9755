//! WeCom's `/api/v1` for people: a member (staff) gets their contact QR, sees their
//! customers, makes customer groups and their QRs and manages who is in them; a customer
//! adds a member by a contact QR, joins a group by its QR, leaves it, and consents to
//! archiving. All on the person's own session.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json as AxumJson, Router};
use plaza_http::ApiError;
use plaza_http::extract::Json;
use plaza_wecom::WeComError;
use plaza_wecom::contacts::NewContactWay;
use plaza_wecom::model::{GroupChat, Member};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::WeComState;
use crate::api::SignedIn;
use crate::contact_api::{group_json, qr_url};
use crate::error::api_error;

pub(crate) fn router() -> Router<WeComState> {
    Router::new()
        .route(
            "/api/v1/me/wecom/{corpid}/contact-way",
            post(my_contact_way),
        )
        .route("/api/v1/me/wecom/{corpid}/customers", get(my_customers))
        .route(
            "/api/v1/me/wecom/{corpid}/customers/{external_userid}",
            delete(delete_customer),
        )
        .route(
            "/api/v1/me/wecom/{corpid}/groups",
            post(create_group).get(my_groups),
        )
        .route(
            "/api/v1/me/wecom/{corpid}/groups/{chat_id}/join-way",
            post(group_join_way),
        )
        .route(
            "/api/v1/me/wecom/{corpid}/groups/{chat_id}/members",
            post(add_group_staff),
        )
        .route(
            "/api/v1/me/wecom/{corpid}/groups/{chat_id}/members/{userid}",
            delete(remove_group_member),
        )
        .route(
            "/api/v1/me/wecom/{corpid}/groups/{chat_id}",
            delete(dismiss_group),
        )
        .route(
            "/api/v1/me/wecom/contact-ways/{config_id}",
            post(add_as_customer),
        )
        .route("/api/v1/me/wecom/join-ways/{config_id}", post(join_group))
        .route("/api/v1/me/wecom/contacts", get(my_contacts))
        .route(
            "/api/v1/me/wecom/customer-groups/{corpid}/{chat_id}",
            delete(leave_group),
        )
        .route(
            "/api/v1/me/wecom/archive-consent/{corpid}",
            post(archive_consent),
        )
}

/// The signed-in user's member record in the corp, or 404 `corp_not_found`.
async fn me_in(state: &WeComState, user_id: &str, corpid: &str) -> Result<Member, ApiError> {
    state
        .wecom
        .member_of(user_id, corpid)
        .await
        .map_err(api_error)?
        .ok_or_else(|| {
            api_error(WeComError::CorpNotFound {
                corpid: corpid.to_owned(),
            })
        })
}

async fn my_contact_way(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path(corpid): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let me = me_in(&state, &user.user_id, &corpid).await?;
    let existing = state
        .wecom
        .contact_ways_of(&corpid, &me.userid)
        .await
        .map_err(api_error)?;
    let way = match existing.into_iter().find(|w| w.kind == 1 && w.scene == 2) {
        Some(way) => way,
        None => {
            let new = NewContactWay {
                kind: Some(1),
                scene: Some(2),
                skip_verify: true,
                users: vec![me.userid.clone()],
                state: "workbench".to_owned(),
                ..NewContactWay::default()
            };
            state
                .wecom
                .add_contact_way(&corpid, new)
                .await
                .map_err(api_error)?
        }
    };
    Ok(AxumJson(
        json!({ "config_id": way.config_id, "qr_code": qr_url(&state, "add", &way.config_id), "userid": me.userid }),
    ))
}

async fn my_customers(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path(corpid): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let me = me_in(&state, &user.user_id, &corpid).await?;
    let follows = state
        .wecom
        .customers_of(&corpid, &me.userid)
        .await
        .map_err(api_error)?;
    let groups = state.wecom.tag_groups(&corpid).await.map_err(api_error)?;
    let mut customers = Vec::with_capacity(follows.len());
    for follow in follows {
        let (contact, _) = state
            .wecom
            .external_contact(&corpid, &follow.external_userid)
            .await
            .map_err(api_error)?;
        let tags: Vec<String> = groups
            .iter()
            .flat_map(|g| g.tags.iter())
            .filter(|t| follow.tags.contains(&t.id))
            .map(|t| t.name.clone())
            .collect();
        customers.push(json!({
            "external_userid": contact.external_userid,
            "name": contact.name,
            "remark": follow.remark,
            "description": follow.description,
            "tags": tags,
            "add_way": follow.add_way,
            "state": follow.state,
            "created_at": plaza_http::rfc3339(follow.created_at),
        }));
    }
    Ok(AxumJson(json!({ "customers": customers })))
}

async fn delete_customer(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path((corpid, external_userid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let me = me_in(&state, &user.user_id, &corpid).await?;
    state
        .wecom
        .end_follow(&corpid, &me.userid, &external_userid, false)
        .await
        .map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGroup {
    name: String,
    #[serde(default)]
    staff: Vec<String>,
}

fn group_view(group: &GroupChat) -> Value {
    let mut view = group_json(group, true);
    view["corpid"] = json!(group.corpid);
    view
}

async fn create_group(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path(corpid): Path<String>,
    Json(body): Json<NewGroup>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let me = me_in(&state, &user.user_id, &corpid).await?;
    let group = state
        .wecom
        .create_group(&corpid, &me.userid, &body.name, &body.staff)
        .await
        .map_err(api_error)?;
    Ok((StatusCode::CREATED, AxumJson(group_view(&group))))
}

async fn my_groups(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path(corpid): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let me = me_in(&state, &user.user_id, &corpid).await?;
    let groups = state
        .wecom
        .groups_of_member(&corpid, &me.userid)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(
        json!({ "groups": groups.iter().map(group_view).collect::<Vec<_>>() }),
    ))
}

async fn group_join_way(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path((corpid, chat_id)): Path<(String, String)>,
) -> Result<AxumJson<Value>, ApiError> {
    let me = me_in(&state, &user.user_id, &corpid).await?;
    let (group, _) = state
        .wecom
        .group(&corpid, &chat_id)
        .await
        .map_err(api_error)?;
    if !group.owner.eq_ignore_ascii_case(&me.userid)
        && !group
            .admin_list
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&me.userid))
    {
        return Err(api_error(WeComError::Forbidden {
            what: "only the owner or an admin makes the group's QR".to_owned(),
        }));
    }
    let way = state
        .wecom
        .add_join_way(
            &corpid,
            2,
            &group.name,
            std::slice::from_ref(&chat_id),
            "workbench",
        )
        .await
        .map_err(api_error)?;
    Ok(AxumJson(
        json!({ "config_id": way.config_id, "qr_code": qr_url(&state, "join", &way.config_id), "chat_id": chat_id }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddStaff {
    userids: Vec<String>,
}

async fn add_group_staff(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path((corpid, chat_id)): Path<(String, String)>,
    Json(body): Json<AddStaff>,
) -> Result<AxumJson<Value>, ApiError> {
    let me = me_in(&state, &user.user_id, &corpid).await?;
    let group = state
        .wecom
        .add_group_staff(&corpid, &chat_id, &me.userid, &body.userids)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(group_view(&group)))
}

async fn remove_group_member(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path((corpid, chat_id, userid)): Path<(String, String, String)>,
) -> Result<AxumJson<Value>, ApiError> {
    let me = me_in(&state, &user.user_id, &corpid).await?;
    let by = (!me.userid.eq_ignore_ascii_case(&userid)).then_some(me.userid.as_str());
    let group = state
        .wecom
        .leave_group(&corpid, &chat_id, &userid, by)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(group_view(&group)))
}

async fn dismiss_group(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path((corpid, chat_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let me = me_in(&state, &user.user_id, &corpid).await?;
    state
        .wecom
        .dismiss_group(&corpid, &chat_id, &me.userid)
        .await
        .map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn corp_name(state: &WeComState, corpid: &str) -> String {
    state
        .wecom
        .corp(corpid)
        .await
        .ok()
        .flatten()
        .map(|c| c.name)
        .unwrap_or_default()
}

async fn add_as_customer(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path(config_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let added = state
        .wecom
        .add_customer(&config_id, &user.user_id)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(json!({
        "corpid": added.contact.corpid,
        "corp_name": corp_name(&state, &added.contact.corpid).await,
        "userid": added.member.userid,
        "name": added.member.name,
        "position": added.member.position,
        "external_userid": added.contact.external_userid,
        "new": added.new,
    })))
}

async fn join_group(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path(config_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let group = state
        .wecom
        .join_group(&config_id, &user.user_id)
        .await
        .map_err(api_error)?;
    let mut view = group_view(&group);
    view["corp_name"] = json!(corp_name(&state, &group.corpid).await);
    Ok(AxumJson(view))
}

async fn my_contacts(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
) -> Result<AxumJson<Value>, ApiError> {
    let mut staff = Vec::new();
    for contact in state
        .wecom
        .corps_of_customer(&user.user_id)
        .await
        .map_err(api_error)?
    {
        let (_, follows) = state
            .wecom
            .external_contact(&contact.corpid, &contact.external_userid)
            .await
            .map_err(api_error)?;
        let name = corp_name(&state, &contact.corpid).await;
        for follow in follows {
            let member = state
                .wecom
                .member(&contact.corpid, &follow.userid)
                .await
                .ok();
            staff.push(json!({
                "corpid": contact.corpid,
                "corp_name": name,
                "userid": follow.userid,
                "name": member.as_ref().map(|m| m.name.clone()),
                "position": member.map(|m| m.position),
                "since": plaza_http::rfc3339(follow.created_at),
            }));
        }
    }
    let groups = state
        .wecom
        .groups_of_user(&user.user_id)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(
        json!({ "staff": staff, "groups": groups.iter().map(group_view).collect::<Vec<_>>() }),
    ))
}

async fn leave_group(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path((corpid, chat_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let external_userid = state.wecom.external_userid(&corpid, &user.user_id);
    state
        .wecom
        .leave_group(&corpid, &chat_id, &external_userid, None)
        .await
        .map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArchiveConsent {
    agree: bool,
}

async fn archive_consent(
    State(state): State<WeComState>,
    SignedIn(user): SignedIn,
    Path(corpid): Path<String>,
    Json(body): Json<ArchiveConsent>,
) -> Result<AxumJson<Value>, ApiError> {
    state
        .wecom
        .set_archive_consent(&corpid, &user.user_id, body.agree)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(json!({ "corpid": corpid, "agree": body.agree })))
}
