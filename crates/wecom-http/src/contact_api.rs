//! The WeCom server API's customer contact (spec §4.7): contact ways, customers and
//! their remarks and corp tags.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use plaza_wecom::contacts::{NewContactWay, RemarkChange};
use plaza_wecom::model::{ContactWay, ExternalContact, Follow, GroupChat, TagGroup};
use plaza_wecom::{Scope, WeComError};
use serde_json::{Value, json};

use crate::WeComState;
use crate::wire::{
    CorpToken, WxError, WxJson, WxQuery, field, flag, int, int_list, ok, text, text_list,
};

pub(crate) fn router() -> Router<WeComState> {
    Router::new()
        .route(
            "/cgi-bin/externalcontact/get_follow_user_list",
            get(follow_user_list),
        )
        .route(
            "/cgi-bin/externalcontact/add_contact_way",
            post(add_contact_way),
        )
        .route(
            "/cgi-bin/externalcontact/get_contact_way",
            post(get_contact_way),
        )
        .route(
            "/cgi-bin/externalcontact/update_contact_way",
            post(update_contact_way),
        )
        .route(
            "/cgi-bin/externalcontact/del_contact_way",
            post(del_contact_way),
        )
        .route("/cgi-bin/externalcontact/list", get(list))
        .route("/cgi-bin/externalcontact/get", get(get_contact))
        .route(
            "/cgi-bin/externalcontact/batch/get_by_user",
            post(batch_get_by_user),
        )
        .route("/cgi-bin/externalcontact/remark", post(remark))
        .route(
            "/cgi-bin/externalcontact/get_corp_tag_list",
            post(get_corp_tag_list),
        )
        .route("/cgi-bin/externalcontact/add_corp_tag", post(add_corp_tag))
        .route("/cgi-bin/externalcontact/del_corp_tag", post(del_corp_tag))
        .route("/cgi-bin/externalcontact/mark_tag", post(mark_tag))
}

type Answer = Result<Json<Value>, WxError>;

/// Customer contact is for an app's token: the contacts secret's is refused (48002).
pub(crate) fn app_only(token: &CorpToken) -> Result<(), WxError> {
    match token.scope {
        Scope::Agent(_) => Ok(()),
        Scope::Contacts => Err(WeComError::Forbidden {
            what: "customer contact needs an app's token, not the contacts secret's".to_owned(),
        }
        .into()),
    }
}

/// Where a contact way's or a group QR's page is.
pub(crate) fn qr_url(state: &WeComState, what: &str, config_id: &str) -> String {
    format!(
        "{}/app/wecom/{what}/{config_id}",
        state.http.public_base_url.trim_end_matches('/')
    )
}

async fn follow_user_list(State(state): State<WeComState>, token: CorpToken) -> Answer {
    app_only(&token)?;
    let members = state.wecom.follow_users(&token.corpid).await?;
    Ok(ok(
        "ok",
        json!({ "follow_user": members.iter().map(|m| m.userid.clone()).collect::<Vec<_>>() }),
    ))
}

fn new_way(body: &Value) -> Result<NewContactWay, WxError> {
    Ok(NewContactWay {
        kind: int(body, "type")?,
        scene: int(body, "scene")?,
        style: int(body, "style")?,
        remark: text(body, "remark")?.unwrap_or_default(),
        skip_verify: flag(body, "skip_verify")?.unwrap_or(true),
        state: text(body, "state")?.unwrap_or_default(),
        users: text_list(body, "user")?,
        parties: int_list(body, "party")?.unwrap_or_default(),
    })
}

fn way_json(state: &WeComState, way: &ContactWay) -> Value {
    json!({
        "config_id": way.config_id,
        "type": way.kind,
        "scene": way.scene,
        "style": way.style,
        "remark": way.remark,
        "skip_verify": way.skip_verify,
        "state": way.state,
        "qr_code": qr_url(state, "add", &way.config_id),
        "user": way.users,
        "party": way.parties,
        "is_temp": false,
    })
}

async fn add_contact_way(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    let way = state
        .wecom
        .add_contact_way(&token.corpid, new_way(&body)?)
        .await?;
    Ok(ok(
        "ok",
        json!({ "config_id": way.config_id, "qr_code": qr_url(&state, "add", &way.config_id) }),
    ))
}

pub(crate) fn config_id(body: &Value) -> Result<String, WxError> {
    text(body, "config_id")?.ok_or_else(|| WxError::new(41039, "missing config_id"))
}

async fn get_contact_way(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    let (way, _) = state
        .wecom
        .contact_way(Some(&token.corpid), &config_id(&body)?)
        .await?;
    Ok(ok("ok", json!({ "contact_way": way_json(&state, &way) })))
}

async fn update_contact_way(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    state
        .wecom
        .update_contact_way(&token.corpid, &config_id(&body)?, new_way(&body)?)
        .await?;
    Ok(ok("ok", json!({})))
}

async fn del_contact_way(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    state
        .wecom
        .delete_contact_way(&token.corpid, &config_id(&body)?)
        .await?;
    Ok(ok("ok", json!({})))
}

async fn list(State(state): State<WeComState>, token: CorpToken, query: WxQuery) -> Answer {
    app_only(&token)?;
    let member = state
        .wecom
        .member(&token.corpid, query.get("userid"))
        .await?;
    let follows = state
        .wecom
        .customers_of(&token.corpid, &member.userid)
        .await?;
    if follows.is_empty() {
        return Err(WxError::new(
            84061,
            "not external contact: the member has no customers",
        ));
    }
    Ok(ok(
        "ok",
        json!({ "external_userid": follows.iter().map(|f| f.external_userid.clone()).collect::<Vec<_>>() }),
    ))
}

fn contact_json(contact: &ExternalContact) -> Value {
    json!({
        "external_userid": contact.external_userid,
        "name": contact.name,
        "avatar": "",
        "type": 1,
        "gender": 0,
    })
}

/// A relation as `get` answers it (`tags` with names) or as `batch/get_by_user` does
/// (`tag_id`).
fn follow_json(follow: &Follow, groups: &[TagGroup], names: bool) -> Value {
    let mut value = json!({
        "userid": follow.userid,
        "remark": follow.remark,
        "description": follow.description,
        "createtime": follow.created_at.unix_ms() / 1_000,
        "remark_corp_name": follow.remark_corp_name,
        "remark_mobiles": follow.remark_mobiles,
        "oper_userid": follow.oper_userid,
        "add_way": follow.add_way,
        "state": follow.state,
    });
    if names {
        let tags: Vec<Value> = groups
            .iter()
            .flat_map(|g| g.tags.iter().filter(|t| follow.tags.contains(&t.id)).map(move |t| json!({ "group_name": g.group_name, "tag_name": t.name, "tag_id": t.id, "type": 1 })))
            .collect();
        value["tags"] = json!(tags);
    } else {
        value["tag_id"] = json!(follow.tags);
    }
    value
}

async fn get_contact(State(state): State<WeComState>, token: CorpToken, query: WxQuery) -> Answer {
    app_only(&token)?;
    let (contact, follows) = state
        .wecom
        .external_contact(&token.corpid, query.get("external_userid"))
        .await?;
    let groups = state.wecom.tag_groups(&token.corpid).await?;
    let follows: Vec<Value> = follows
        .iter()
        .map(|f| follow_json(f, &groups, true))
        .collect();
    Ok(ok(
        "ok",
        json!({ "external_contact": contact_json(&contact), "follow_user": follows, "next_cursor": "" }),
    ))
}

async fn batch_get_by_user(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    let mut userids = text_list(&body, "userid_list")?;
    if let Some(one) = text(&body, "userid")? {
        userids.push(one);
    }
    let limit = usize::try_from(int(&body, "limit")?.unwrap_or(50))
        .map_err(|_| WxError::format("limit", "must be 1 to 100"))?;
    let cursor = text(&body, "cursor")?.unwrap_or_default();
    let (page, next) = state
        .wecom
        .batch_by_user(&token.corpid, &userids, &cursor, limit)
        .await?;
    let groups = state.wecom.tag_groups(&token.corpid).await?;
    let list: Vec<Value> = page.iter().map(|(c, f)| json!({ "external_contact": contact_json(c), "follow_info": follow_json(f, &groups, false) })).collect();
    Ok(ok(
        "ok",
        json!({ "external_contact_list": list, "next_cursor": next, "fail_info": { "unlicensed_userid_list": [] } }),
    ))
}

async fn remark(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    let userid = text(&body, "userid")?.unwrap_or_default();
    let external_userid = text(&body, "external_userid")?.unwrap_or_default();
    let mobiles = match field(&body, "remark_mobiles") {
        None => None,
        Some(_) => Some(text_list(&body, "remark_mobiles")?),
    };
    let change = RemarkChange {
        remark: text(&body, "remark")?,
        description: text(&body, "description")?,
        remark_company: text(&body, "remark_company")?,
        remark_mobiles: mobiles,
    };
    state
        .wecom
        .remark(&token.corpid, &userid, &external_userid, change)
        .await?;
    Ok(ok("ok", json!({})))
}

fn tag_group_json(group: &TagGroup) -> Value {
    json!({
        "group_id": group.group_id,
        "group_name": group.group_name,
        "create_time": group.create_time.unix_ms() / 1_000,
        "order": group.order,
        "tag": group.tags.iter().map(|t| json!({ "id": t.id, "name": t.name, "create_time": t.create_time.unix_ms() / 1_000, "order": t.order })).collect::<Vec<_>>(),
    })
}

async fn get_corp_tag_list(
    State(state): State<WeComState>,
    token: CorpToken,
    body: axum::body::Bytes,
) -> Answer {
    app_only(&token)?;
    // The body is optional here: empty means every tag.
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .map_err(|error| WxError::new(47001, format!("data format error: {error}")))?
    };
    let tag_ids = text_list(&body, "tag_id")?;
    let group_ids = text_list(&body, "group_id")?;
    let groups: Vec<Value> = state
        .wecom
        .tag_groups(&token.corpid)
        .await?
        .into_iter()
        .filter(|g| group_ids.is_empty() || group_ids.contains(&g.group_id))
        .map(|mut g| {
            if !tag_ids.is_empty() {
                g.tags.retain(|t| tag_ids.contains(&t.id));
            }
            g
        })
        .filter(|g| tag_ids.is_empty() || !g.tags.is_empty())
        .map(|g| tag_group_json(&g))
        .collect();
    Ok(ok("ok", json!({ "tag_group": groups })))
}

async fn add_corp_tag(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    let tags: Vec<(String, u32)> = field(&body, "tag")
        .and_then(Value::as_array)
        .ok_or_else(|| WxError::format("tag", "must be a list of {name, order}"))?
        .iter()
        .map(|t| {
            let name = t
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| WxError::format("tag.name", "is required"))?;
            let order = t
                .get("order")
                .and_then(Value::as_u64)
                .and_then(|o| u32::try_from(o).ok())
                .unwrap_or(0);
            Ok((name.to_owned(), order))
        })
        .collect::<Result<_, WxError>>()?;
    let order = int(&body, "order")?
        .and_then(|o| u32::try_from(o).ok())
        .unwrap_or(0);
    let group = state
        .wecom
        .add_corp_tags(
            &token.corpid,
            text(&body, "group_id")?.as_deref(),
            text(&body, "group_name")?.as_deref(),
            order,
            &tags,
        )
        .await?;
    Ok(ok("ok", json!({ "tag_group": tag_group_json(&group) })))
}

async fn del_corp_tag(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    state
        .wecom
        .delete_corp_tags(
            &token.corpid,
            &text_list(&body, "tag_id")?,
            &text_list(&body, "group_id")?,
        )
        .await?;
    Ok(ok("ok", json!({})))
}

async fn mark_tag(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    state
        .wecom
        .mark_tags(
            &token.corpid,
            &text(&body, "userid")?.unwrap_or_default(),
            &text(&body, "external_userid")?.unwrap_or_default(),
            &text_list(&body, "add_tag")?,
            &text_list(&body, "remove_tag")?,
        )
        .await?;
    Ok(ok("ok", json!({})))
}

/// A customer group as `groupchat/get` answers it.
pub(crate) fn group_json(group: &GroupChat, need_name: bool) -> Value {
    let members: Vec<Value> = group
        .members
        .iter()
        .map(|m| {
            let mut value = json!({
                "userid": m.userid,
                "type": m.kind,
                "join_time": m.join_time.unix_ms() / 1_000,
                "join_scene": m.join_scene,
                "group_nickname": "",
            });
            if let Some(invitor) = &m.invitor {
                value["invitor"] = json!({ "userid": invitor });
            }
            if need_name {
                value["name"] = json!(m.name);
            }
            value
        })
        .collect();
    json!({
        "chat_id": group.chat_id,
        "name": group.name,
        "owner": group.owner,
        "create_time": group.created_at.unix_ms() / 1_000,
        "notice": group.notice,
        "member_list": members,
        "admin_list": group.admin_list.iter().map(|a| json!({ "userid": a })).collect::<Vec<_>>(),
        "member_version": group.member_version(),
    })
}
