//! The WeCom server API (spec §4.1–§4.6): `gettoken`, the directory (departments and
//! members), app messages and appchat, in WeCom's envelope.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use plaza_wecom::directory::{DepartmentChange, MemberFields, NewDepartment};
use plaza_wecom::messages::{AppChatChange, Content, Recipients};
use plaza_wecom::{Department, Member, WeCom};
use serde_json::{Value, json};

use crate::WeComState;
use crate::wire::{
    CorpToken, WxError, WxJson, WxQuery, field, flag, int, int_list, ok, text, text_list,
};

pub(crate) fn router() -> Router<WeComState> {
    Router::new()
        .route("/cgi-bin/gettoken", get(gettoken))
        .route("/cgi-bin/department/create", post(department_create))
        .route("/cgi-bin/department/update", post(department_update))
        .route("/cgi-bin/department/delete", get(department_delete))
        .route("/cgi-bin/department/list", get(department_list))
        .route("/cgi-bin/department/simplelist", get(department_simplelist))
        .route("/cgi-bin/department/get", get(department_get))
        .route("/cgi-bin/user/create", post(user_create))
        .route("/cgi-bin/user/get", get(user_get))
        .route("/cgi-bin/user/update", post(user_update))
        .route("/cgi-bin/user/delete", get(user_delete))
        .route("/cgi-bin/user/batchdelete", post(user_batchdelete))
        .route("/cgi-bin/user/simplelist", get(user_simplelist))
        .route("/cgi-bin/user/list", get(user_list))
        .route("/cgi-bin/message/send", post(message_send))
        .route("/cgi-bin/appchat/create", post(appchat_create))
        .route("/cgi-bin/appchat/get", get(appchat_get))
        .route("/cgi-bin/appchat/update", post(appchat_update))
        .route("/cgi-bin/appchat/send", post(appchat_send))
}

type Answer = Result<Json<Value>, WxError>;

async fn gettoken(State(state): State<WeComState>, query: WxQuery) -> Answer {
    let issued = state
        .wecom
        .token(query.get("corpid"), query.get("corpsecret"))
        .await?;
    Ok(ok(
        "ok",
        json!({ "access_token": issued.access_token, "expires_in": issued.expires_in }),
    ))
}

fn department_json(department: &Department) -> Value {
    json!({
        "id": department.id,
        "name": department.name,
        "name_en": department.name_en,
        "department_leader": [],
        "parentid": department.parentid,
        "order": department.order,
    })
}

fn query_int(query: &WxQuery, name: &str) -> Result<Option<i64>, WxError> {
    match query.0.get(name) {
        None => Ok(None),
        Some(value) => value
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| WxError::format(name, "must be an integer")),
    }
}

fn required_int(query: &WxQuery, name: &str) -> Result<i64, WxError> {
    query_int(query, name)?.ok_or_else(|| WxError::new(40058, format!("missing {name}")))
}

fn order(body: &Value) -> Result<Option<u32>, WxError> {
    int(body, "order")?
        .map(|order| {
            u32::try_from(order).map_err(|_| WxError::format("order", "must be 0 to 2^32-1"))
        })
        .transpose()
}

async fn department_create(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    WeCom::check_directory_write(token.scope)?;
    let new = NewDepartment {
        name: text(&body, "name")?.unwrap_or_default(),
        name_en: text(&body, "name_en")?.unwrap_or_default(),
        parentid: int(&body, "parentid")?.ok_or_else(|| WxError::new(60124, "missing parentid"))?,
        order: order(&body)?.unwrap_or(0),
        id: int(&body, "id")?,
    };
    let id = state.wecom.create_department(&token.corpid, new).await?;
    Ok(ok("created", json!({ "id": id })))
}

async fn department_update(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    WeCom::check_directory_write(token.scope)?;
    let id = int(&body, "id")?.ok_or_else(|| WxError::new(40058, "missing id"))?;
    let change = DepartmentChange {
        name: text(&body, "name")?,
        name_en: text(&body, "name_en")?,
        parentid: int(&body, "parentid")?,
        order: order(&body)?,
    };
    state
        .wecom
        .update_department(&token.corpid, id, change)
        .await?;
    Ok(ok("updated", json!({})))
}

async fn department_delete(
    State(state): State<WeComState>,
    token: CorpToken,
    query: WxQuery,
) -> Answer {
    WeCom::check_directory_write(token.scope)?;
    state
        .wecom
        .delete_department(&token.corpid, required_int(&query, "id")?)
        .await?;
    Ok(ok("deleted", json!({})))
}

async fn department_list(
    State(state): State<WeComState>,
    token: CorpToken,
    query: WxQuery,
) -> Answer {
    let departments = state
        .wecom
        .departments(&token.corpid, query_int(&query, "id")?)
        .await?;
    let departments: Vec<Value> = departments.iter().map(department_json).collect();
    Ok(ok("ok", json!({ "department": departments })))
}

async fn department_simplelist(
    State(state): State<WeComState>,
    token: CorpToken,
    query: WxQuery,
) -> Answer {
    let departments = state
        .wecom
        .departments(&token.corpid, query_int(&query, "id")?)
        .await?;
    let ids: Vec<Value> = departments
        .iter()
        .map(|d| json!({ "id": d.id, "parentid": d.parentid, "order": d.order }))
        .collect();
    Ok(ok("ok", json!({ "department_id": ids })))
}

async fn department_get(
    State(state): State<WeComState>,
    token: CorpToken,
    query: WxQuery,
) -> Answer {
    let id = required_int(&query, "id")?;
    let department = state
        .wecom
        .department(
            &token.corpid,
            u32::try_from(id)
                .map_err(|_| WxError::new(60003, format!("department not found: {id}")))?,
        )
        .await?;
    Ok(ok(
        "ok",
        json!({ "department": department_json(&department) }),
    ))
}

/// A member as `user/get` and `user/list` answer.
pub(crate) fn member_json(member: &Member) -> Value {
    json!({
        "userid": member.userid,
        "name": member.name,
        "department": member.department,
        "order": member.order,
        "position": member.position,
        "mobile": member.mobile,
        "gender": member.gender.to_string(),
        "email": member.email,
        "biz_mail": "",
        "is_leader_in_dept": member.is_leader_in_dept,
        "direct_leader": [],
        "avatar": "",
        "thumb_avatar": "",
        "telephone": member.telephone,
        "alias": member.alias,
        "address": member.address,
        "open_userid": member.userid,
        "main_department": member.main_department,
        "extattr": { "attrs": [] },
        "status": member.status().code(),
        "external_position": "",
        "external_profile": { "external_corp_name": "", "external_attr": [] },
    })
}

fn member_fields(body: &Value) -> Result<MemberFields, WxError> {
    let gender = int(body, "gender")?
        .map(|g| u8::try_from(g).map_err(|_| WxError::new(60115, "gender must be 1, 2 or 0")))
        .transpose()?;
    let orders = int_list(body, "order")?
        .map(|list| {
            list.into_iter()
                .map(|o| {
                    u32::try_from(o).map_err(|_| WxError::format("order", "must be 0 to 2^32-1"))
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()?;
    let leaders = int_list(body, "is_leader_in_dept")?
        .map(|list| list.into_iter().map(|l| u8::from(l != 0)).collect());
    let telephone = match text(body, "telephone")? {
        Some(telephone) => Some(telephone),
        None => text(body, "tel")?,
    };
    Ok(MemberFields {
        name: text(body, "name")?,
        department: int_list(body, "department")?,
        order: orders,
        is_leader_in_dept: leaders,
        main_department: int(body, "main_department")?,
        position: text(body, "position")?,
        mobile: text(body, "mobile")?,
        email: text(body, "email")?,
        alias: text(body, "alias")?,
        gender: gender.filter(|g| *g != 0),
        telephone,
        address: text(body, "address")?,
        enable: flag(body, "enable")?,
    })
}

fn userid_of(body: &Value) -> Result<String, WxError> {
    text(body, "userid")?.ok_or_else(|| WxError::new(41009, "missing userid"))
}

async fn user_create(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    WeCom::check_directory_write(token.scope)?;
    let userid = userid_of(&body)?;
    state
        .wecom
        .create_member(&token.corpid, &userid, member_fields(&body)?)
        .await?;
    Ok(ok("created", json!({})))
}

async fn user_get(State(state): State<WeComState>, token: CorpToken, query: WxQuery) -> Answer {
    let member = state
        .wecom
        .member(&token.corpid, query.get("userid"))
        .await?;
    Ok(ok("ok", member_json(&member)))
}

async fn user_update(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    WeCom::check_directory_write(token.scope)?;
    let userid = userid_of(&body)?;
    state
        .wecom
        .update_member(&token.corpid, &userid, member_fields(&body)?)
        .await?;
    Ok(ok("updated", json!({})))
}

async fn user_delete(State(state): State<WeComState>, token: CorpToken, query: WxQuery) -> Answer {
    WeCom::check_directory_write(token.scope)?;
    state
        .wecom
        .delete_member(&token.corpid, query.get("userid"))
        .await?;
    Ok(ok("deleted", json!({})))
}

async fn user_batchdelete(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    WeCom::check_directory_write(token.scope)?;
    let userids = text_list(&body, "useridlist")?;
    state.wecom.delete_members(&token.corpid, &userids).await?;
    Ok(ok("deleted", json!({})))
}

async fn listed_members(
    state: &WeComState,
    token: &CorpToken,
    query: &WxQuery,
) -> Result<Vec<Member>, WxError> {
    let department = query_int(query, "department_id")?
        .ok_or_else(|| WxError::new(60123, "missing department_id"))?;
    let fetch_child = query_int(query, "fetch_child")?.is_some_and(|f| f != 0);
    Ok(state
        .wecom
        .members(&token.corpid, department, fetch_child)
        .await?)
}

async fn user_simplelist(
    State(state): State<WeComState>,
    token: CorpToken,
    query: WxQuery,
) -> Answer {
    let members = listed_members(&state, &token, &query).await?;
    let list: Vec<Value> = members
        .iter()
        .map(|m| json!({ "userid": m.userid, "name": m.name, "department": m.department, "open_userid": m.userid }))
        .collect();
    Ok(ok("ok", json!({ "userlist": list })))
}

async fn user_list(State(state): State<WeComState>, token: CorpToken, query: WxQuery) -> Answer {
    let members = listed_members(&state, &token, &query).await?;
    let list: Vec<Value> = members.iter().map(member_json).collect();
    Ok(ok("ok", json!({ "userlist": list })))
}

/// The message content under its type's name.
fn content_of(body: &Value) -> Result<Content, WxError> {
    let msgtype = text(body, "msgtype")?.ok_or_else(|| WxError::new(41005, "missing msgtype"))?;
    let object = field(body, &msgtype)
        .cloned()
        .ok_or_else(|| WxError::new(44004, format!("missing {msgtype}")))?;
    if !object.is_object() {
        return Err(WxError::format(&msgtype, "must be an object"));
    }
    Ok(Content {
        msgtype,
        body: object,
    })
}

async fn message_send(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    let agentid = int(&body, "agentid")?.ok_or_else(|| WxError::new(41011, "missing agentid"))?;
    let to = Recipients {
        touser: text(&body, "touser")?.unwrap_or_default(),
        toparty: text(&body, "toparty")?.unwrap_or_default(),
        totag: text(&body, "totag")?.unwrap_or_default(),
    };
    let sent = state
        .wecom
        .send_app_message(&token.corpid, token.scope, agentid, &to, content_of(&body)?)
        .await?;
    Ok(ok(
        "ok",
        json!({
            "invaliduser": sent.invalid.invaliduser,
            "invalidparty": sent.invalid.invalidparty,
            "invalidtag": sent.invalid.invalidtag,
            "unlicenseduser": "",
            "msgid": sent.msgid,
        }),
    ))
}

fn appchat_json(chat: &plaza_wecom::AppChat) -> Value {
    json!({ "chatid": chat.chatid, "name": chat.name, "owner": chat.owner, "userlist": chat.userlist, "chat_type": 0 })
}

async fn appchat_create(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    let chat = state
        .wecom
        .create_appchat(
            &token.corpid,
            token.scope,
            &text(&body, "name")?.unwrap_or_default(),
            text(&body, "owner")?.as_deref(),
            &text_list(&body, "userlist")?,
            text(&body, "chatid")?.as_deref(),
        )
        .await?;
    Ok(ok("ok", json!({ "chatid": chat.chatid })))
}

async fn appchat_get(State(state): State<WeComState>, token: CorpToken, query: WxQuery) -> Answer {
    let chat = state
        .wecom
        .appchat(&token.corpid, query.get("chatid"))
        .await?;
    Ok(ok("ok", json!({ "chat_info": appchat_json(&chat) })))
}

async fn appchat_update(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    let chatid = text(&body, "chatid")?.ok_or_else(|| WxError::new(86001, "missing chatid"))?;
    state
        .wecom
        .update_appchat(
            &token.corpid,
            token.scope,
            &chatid,
            &AppChatChange {
                name: text(&body, "name")?,
                owner: text(&body, "owner")?,
                add: text_list(&body, "add_user_list")?,
                remove: text_list(&body, "del_user_list")?,
            },
        )
        .await?;
    Ok(ok("ok", json!({})))
}

async fn appchat_send(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    let chatid = text(&body, "chatid")?.ok_or_else(|| WxError::new(86001, "missing chatid"))?;
    state
        .wecom
        .send_appchat(&token.corpid, token.scope, &chatid, content_of(&body)?)
        .await?;
    Ok(ok("ok", json!({})))
}
