//! Subscribe messages on the server API: the template library
//! (`/wxaapi/newtmpl/getpubtemplatetitles`, `getpubtemplatekeywords`), an app's own
//! templates (`addtemplate`, `gettemplate`, `deltemplate`) and
//! `/cgi-bin/message/subscribe/send`. Every answer follows [`crate::wire`]'s envelope.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use plaza_miniapp::library::{LIBRARY, template as library_template};
use plaza_miniapp::subscribe::Outgoing;
use plaza_miniapp::{MiniAppError, Template};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::MiniAppState;
use crate::wire::{AppToken, WxError, WxJson, WxQuery};

pub(crate) fn router() -> Router<MiniAppState> {
    Router::new()
        .route("/wxaapi/newtmpl/getpubtemplatetitles", get(library_titles))
        .route(
            "/wxaapi/newtmpl/getpubtemplatekeywords",
            get(library_keywords),
        )
        .route("/wxaapi/newtmpl/addtemplate", post(add_template))
        .route("/wxaapi/newtmpl/gettemplate", get(list_templates))
        .route("/wxaapi/newtmpl/deltemplate", post(delete_template))
        .route("/cgi-bin/message/subscribe/send", post(send))
}

fn ok(mut body: Value) -> Response {
    body["errcode"] = json!(0);
    body["errmsg"] = json!("ok");
    axum::Json(body).into_response()
}

/// # `GET /wxaapi/newtmpl/getpubtemplatetitles?ids=&start=0&limit=30`
///
/// The library's templates (`ids`: comma-separated category filter, ignored when
/// empty), paged.
async fn library_titles(_app: AppToken, query: WxQuery) -> Result<Response, WxError> {
    let start: usize = query.get("start").parse().unwrap_or(0);
    let limit: usize = query.get("limit").parse().unwrap_or(30).clamp(1, 30);
    let data: Vec<Value> = LIBRARY
        .iter()
        .skip(start)
        .take(limit)
        .map(|template| {
            json!({"tid": template.tid, "title": template.title, "type": 2, "categoryId": template.category})
        })
        .collect();
    Ok(ok(json!({ "count": LIBRARY.len(), "data": data })))
}

/// # `GET /wxaapi/newtmpl/getpubtemplatekeywords?tid=…`
async fn library_keywords(_app: AppToken, query: WxQuery) -> Result<Response, WxError> {
    let template = query
        .get("tid")
        .parse()
        .ok()
        .and_then(library_template)
        .ok_or_else(|| WxError::from(MiniAppError::TidInvalid))?;
    let data: Vec<Value> = template
        .keywords
        .iter()
        .map(|keyword| {
            json!({"kid": keyword.kid, "name": keyword.name, "example": keyword.example, "rule": keyword.rule})
        })
        .collect();
    Ok(ok(json!({ "count": data.len(), "data": data })))
}

#[derive(Debug, Deserialize)]
struct AddBody {
    /// A number or its text, as clients send either.
    tid: Value,
    #[serde(rename = "kidList", default)]
    kid_list: Vec<u32>,
    #[serde(rename = "sceneDesc", default)]
    scene_desc: String,
}

/// # `POST /wxaapi/newtmpl/addtemplate`
///
/// `{tid, kidList, sceneDesc}` → `{priTmplId}`.
async fn add_template(
    State(state): State<MiniAppState>,
    app: AppToken,
    WxJson(body): WxJson<AddBody>,
) -> Result<Response, WxError> {
    let tid = match &body.tid {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
    .and_then(|tid| u32::try_from(tid).ok())
    .ok_or(MiniAppError::TidInvalid)?;
    let template = state
        .miniapps
        .add_template(&app.appid, tid, &body.kid_list, &body.scene_desc)
        .await?;
    Ok(ok(json!({ "priTmplId": template.pri_tmpl_id })))
}

fn template_json(template: &Template) -> Value {
    let lines = |value: &dyn Fn(&plaza_miniapp::model::TemplateKeyword) -> String| {
        template
            .keywords
            .iter()
            .map(|keyword| format!("{}:{}", keyword.name, value(keyword)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    json!({
        "priTmplId": template.pri_tmpl_id,
        "title": template.title,
        "content": lines(&|keyword| format!("{{{{{}.DATA}}}}", keyword.key)),
        "example": lines(&|keyword| keyword.example.clone()),
        "type": 2,
    })
}

/// # `GET /wxaapi/newtmpl/gettemplate`
async fn list_templates(
    State(state): State<MiniAppState>,
    app: AppToken,
) -> Result<Response, WxError> {
    let templates = state.miniapps.templates(&app.appid).await?;
    let data: Vec<Value> = templates.iter().map(template_json).collect();
    Ok(ok(json!({ "data": data })))
}

#[derive(Debug, Deserialize)]
struct DeleteBody {
    #[serde(rename = "priTmplId", default)]
    pri_tmpl_id: String,
}

/// # `POST /wxaapi/newtmpl/deltemplate`
async fn delete_template(
    State(state): State<MiniAppState>,
    app: AppToken,
    WxJson(body): WxJson<DeleteBody>,
) -> Result<Response, WxError> {
    state
        .miniapps
        .delete_template(&app.appid, &body.pri_tmpl_id)
        .await?;
    Ok(ok(json!({})))
}

#[derive(Debug, Deserialize)]
struct SendBody {
    #[serde(default)]
    touser: String,
    #[serde(default)]
    template_id: String,
    page: Option<String>,
    miniprogram_state: Option<String>,
    /// Accepted and not used: notifications are shown as sent.
    #[serde(default, rename = "lang")]
    _lang: Option<String>,
    #[serde(default)]
    data: BTreeMap<String, DataValue>,
}

#[derive(Debug, Deserialize)]
struct DataValue {
    value: Value,
}

/// # `POST /cgi-bin/message/subscribe/send`
///
/// `{touser, template_id, page?, miniprogram_state?, lang?, data: {key: {value}}}` →
/// `{errcode: 0, errmsg: "ok", msgid}`; `40037` template, `40003` openid, `47003` data,
/// `43101` no remaining consent.
async fn send(
    State(state): State<MiniAppState>,
    app: AppToken,
    WxJson(body): WxJson<SendBody>,
) -> Result<Response, WxError> {
    let data = body
        .data
        .into_iter()
        .map(|(key, value)| {
            let text = match value.value {
                Value::String(text) => text,
                Value::Number(number) => number.to_string(),
                _ => String::new(),
            };
            (key, text)
        })
        .collect();
    let message = state
        .miniapps
        .send_subscribe(
            &app.appid,
            Outgoing {
                touser: body.touser,
                template_id: body.template_id,
                page: body.page.filter(|page| !page.is_empty()),
                state: body.miniprogram_state.filter(|state| !state.is_empty()),
                data,
            },
        )
        .await?;
    Ok(ok(json!({ "msgid": message.msgid })))
}
