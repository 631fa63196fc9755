//! The WeCom server API's customer groups (§4.8), hand-overs (§4.9) and session-archive
//! permits (§4.10).

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use plaza_wecom::model::JoinWay;
use serde_json::{Value, json};

use crate::WeComState;
use crate::contact_api::{app_only, config_id, group_json, qr_url};
use crate::wire::{CorpToken, WxError, WxJson, field, flag, int, ok, text, text_list};

pub(crate) fn router() -> Router<WeComState> {
    Router::new()
        .route(
            "/cgi-bin/externalcontact/groupchat/list",
            post(groupchat_list),
        )
        .route(
            "/cgi-bin/externalcontact/groupchat/get",
            post(groupchat_get),
        )
        .route(
            "/cgi-bin/externalcontact/groupchat/add_join_way",
            post(add_join_way),
        )
        .route(
            "/cgi-bin/externalcontact/groupchat/get_join_way",
            post(get_join_way),
        )
        .route(
            "/cgi-bin/externalcontact/groupchat/del_join_way",
            post(del_join_way),
        )
        .route(
            "/cgi-bin/externalcontact/groupchat/transfer",
            post(groupchat_transfer),
        )
        .route(
            "/cgi-bin/externalcontact/groupchat/onjob_transfer",
            post(groupchat_onjob_transfer),
        )
        .route(
            "/cgi-bin/externalcontact/transfer_customer",
            post(transfer_customer),
        )
        .route(
            "/cgi-bin/externalcontact/resigned/transfer_customer",
            post(resigned_transfer_customer),
        )
        .route(
            "/cgi-bin/externalcontact/transfer_result",
            post(transfer_result),
        )
        .route(
            "/cgi-bin/externalcontact/resigned/transfer_result",
            post(transfer_result),
        )
        .route("/cgi-bin/externalcontact/transfer", post(transfer_legacy))
        .route(
            "/cgi-bin/externalcontact/get_unassigned_list",
            post(unassigned_list),
        )
        .route(
            "/cgi-bin/msgaudit/get_permit_user_list",
            post(permit_user_list),
        )
        .route(
            "/cgi-bin/msgaudit/check_single_agree",
            post(check_single_agree),
        )
        .route("/cgi-bin/msgaudit/get_chat_data", post(get_chat_data))
}

type Answer = Result<Json<Value>, WxError>;

async fn groupchat_list(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    let owners = field(&body, "owner_filter")
        .map(|f| text_list(f, "userid_list"))
        .transpose()?
        .unwrap_or_default();
    let status = u8::try_from(int(&body, "status_filter")?.unwrap_or(0))
        .map_err(|_| WxError::format("status_filter", "must be 0 to 3"))?;
    let limit = usize::try_from(int(&body, "limit")?.unwrap_or(100))
        .map_err(|_| WxError::format("limit", "must be 1 to 1000"))?;
    let cursor = text(&body, "cursor")?.unwrap_or_default();
    let (page, next) = state
        .wecom
        .list_groups(&token.corpid, status, &owners, &cursor, limit)
        .await?;
    let list: Vec<Value> = page
        .iter()
        .map(|(chat_id, status)| json!({ "chat_id": chat_id, "status": status }))
        .collect();
    Ok(ok(
        "ok",
        json!({ "group_chat_list": list, "next_cursor": next }),
    ))
}

async fn groupchat_get(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    let chat_id = text(&body, "chat_id")?.ok_or_else(|| WxError::new(90501, "missing chat_id"))?;
    let (group, _) = state.wecom.group(&token.corpid, &chat_id).await?;
    let need_name = flag(&body, "need_name")?.unwrap_or(false);
    Ok(ok(
        "ok",
        json!({ "group_chat": group_json(&group, need_name) }),
    ))
}

async fn add_join_way(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    let way = state
        .wecom
        .add_join_way(
            &token.corpid,
            int(&body, "scene")?.unwrap_or(0),
            &text(&body, "remark")?.unwrap_or_default(),
            &text_list(&body, "chat_id_list")?,
            &text(&body, "state")?.unwrap_or_default(),
        )
        .await?;
    Ok(ok("ok", json!({ "config_id": way.config_id })))
}

async fn get_join_way(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    let (way, _) = state
        .wecom
        .join_way(Some(&token.corpid), &config_id(&body)?)
        .await?;
    Ok(ok("ok", json!({ "join_way": join_way_json(&state, &way) })))
}

async fn del_join_way(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    state
        .wecom
        .delete_join_way(&token.corpid, &config_id(&body)?)
        .await?;
    Ok(ok("ok", json!({})))
}

async fn groupchat_transfer(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    transfer_groups(&state, &token, &body, false).await
}

async fn groupchat_onjob_transfer(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    transfer_groups(&state, &token, &body, true).await
}

async fn transfer_customer(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    if text(&body, "transfer_success_msg")?.is_some_and(|m| m.chars().count() > 200) {
        return Err(WxError::format(
            "transfer_success_msg",
            "at most 200 characters",
        ));
    }
    transfer_customers(&state, &token, &body, false).await
}

async fn resigned_transfer_customer(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    transfer_customers(&state, &token, &body, true).await
}

async fn transfer_result(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    let results = state
        .wecom
        .transfer_results(
            &token.corpid,
            &text(&body, "handover_userid")?.unwrap_or_default(),
            &text(&body, "takeover_userid")?.unwrap_or_default(),
        )
        .await?;
    let customers: Vec<Value> = results.iter().map(|r| json!({ "external_userid": r.external_userid, "status": r.status, "takeover_time": r.takeover_time })).collect();
    Ok(ok(
        "ok",
        json!({ "customer": customers, "next_cursor": "" }),
    ))
}

async fn transfer_legacy(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    state
        .wecom
        .transfer_now(
            &token.corpid,
            &text(&body, "handover_userid")?.unwrap_or_default(),
            &text(&body, "takeover_userid")?.unwrap_or_default(),
            &text(&body, "external_userid")?.unwrap_or_default(),
        )
        .await?;
    Ok(ok("ok", json!({})))
}

async fn unassigned_list(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    let all = state.wecom.unassigned(&token.corpid).await?;
    let size =
        usize::try_from(int(&body, "page_size")?.unwrap_or(1_000).clamp(1, 1_000)).unwrap_or(1_000);
    let start = match text(&body, "cursor")? {
        Some(cursor) => cursor
            .parse::<usize>()
            .map_err(|_| WxError::format("cursor", "not a cursor this API gave"))?,
        None => usize::try_from(int(&body, "page_id")?.unwrap_or(0).max(0)).unwrap_or(0) * size,
    };
    let page: Vec<Value> = all.iter().skip(start).take(size).map(|(handover, external, left)| json!({ "handover_userid": handover, "external_userid": external, "dimission_time": left })).collect();
    let is_last = start + size >= all.len();
    let next = if is_last {
        String::new()
    } else {
        (start + size).to_string()
    };
    Ok(ok(
        "ok",
        json!({ "info": page, "is_last": is_last, "next_cursor": next }),
    ))
}

async fn permit_user_list(State(state): State<WeComState>, token: CorpToken) -> Answer {
    app_only(&token)?;
    let ids = state.wecom.archive_permits(&token.corpid).await?;
    Ok(ok("ok", json!({ "ids": ids })))
}

/// The archived messages in the shape the Finance SDK's `DecryptData` yields, in plain
/// text: Plaza's archive is read over HTTP, without the native SDK's encryption.
async fn get_chat_data(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    let seq = int(&body, "seq")?.unwrap_or(0);
    let limit = usize::try_from(int(&body, "limit")?.unwrap_or(100)).map_err(|_| {
        WxError::format(
            "limit",
            &format!("must be 1 to {}", plaza_wecom::archive::ARCHIVE_PAGE_MAX),
        )
    })?;
    let messages = state
        .wecom
        .archived_messages(&token.corpid, seq, limit)
        .await?;
    let chatdata: Vec<Value> = messages
        .into_iter()
        .map(|m| {
            let mut item = json!({
                "seq": m.seq,
                "msgid": m.msgid,
                "action": m.action,
                "from": m.from,
                "tolist": m.tolist,
                "roomid": m.roomid,
                "msgtime": m.msgtime,
                "msgtype": m.msgtype,
            });
            item[m.msgtype.as_str()] = m.content;
            item
        })
        .collect();
    Ok(ok("ok", json!({ "chatdata": chatdata })))
}

async fn check_single_agree(
    State(state): State<WeComState>,
    token: CorpToken,
    WxJson(body): WxJson<Value>,
) -> Answer {
    app_only(&token)?;
    let pairs: Vec<(String, String)> = field(&body, "info")
        .and_then(Value::as_array)
        .ok_or_else(|| WxError::format("info", "must be a list of {userid, exteranalopenid}"))?
        .iter()
        .map(|item| {
            (
                item.get("userid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                item.get("exteranalopenid")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect();
    let mut agree = Vec::with_capacity(pairs.len());
    for (userid, external) in pairs {
        let consent = state
            .wecom
            .archive_consent(&token.corpid, &external)
            .await?;
        agree.push(json!({
            "userid": userid,
            "exteranalopenid": external,
            "agree_status": if consent.is_some() { "Agree" } else { "Disagree" },
            "status_change_time": consent.map_or(0, |at| at.unix_ms() / 1_000),
        }));
    }
    Ok(ok("ok", json!({ "agreeinfo": agree })))
}

async fn transfer_groups(
    state: &WeComState,
    token: &CorpToken,
    body: &Value,
    onjob: bool,
) -> Answer {
    app_only(token)?;
    let new_owner = text(body, "new_owner")?.unwrap_or_default();
    let failed = state
        .wecom
        .transfer_groups(
            &token.corpid,
            &text_list(body, "chat_id_list")?,
            &new_owner,
            onjob,
        )
        .await?;
    let failed: Vec<Value> = failed.iter().map(|(chat_id, code, message)| json!({ "chat_id": chat_id, "errcode": code, "errmsg": message })).collect();
    Ok(ok("ok", json!({ "failed_chat_list": failed })))
}

async fn transfer_customers(
    state: &WeComState,
    token: &CorpToken,
    body: &Value,
    resigned: bool,
) -> Answer {
    app_only(token)?;
    let results = state
        .wecom
        .transfer_customers(
            &token.corpid,
            &text(body, "handover_userid")?.unwrap_or_default(),
            &text(body, "takeover_userid")?.unwrap_or_default(),
            &text_list(body, "external_userid")?,
            resigned,
        )
        .await?;
    let customers: Vec<Value> = results
        .iter()
        .map(|(id, code)| json!({ "external_userid": id, "errcode": code }))
        .collect();
    Ok(ok("ok", json!({ "customer": customers })))
}

fn join_way_json(state: &WeComState, way: &JoinWay) -> Value {
    json!({
        "config_id": way.config_id,
        "scene": way.scene,
        "remark": way.remark,
        "auto_create_room": 0,
        "chat_id_list": way.chat_id_list,
        "qr_code": qr_url(state, "join", &way.config_id),
        "state": way.state,
    })
}
