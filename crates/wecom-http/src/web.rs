//! What WeCom puts into the user app: its conversations in Chats (each opening the live
//! chat page), the chat page itself (`/app/wecom/chat/{id}`, driven by
//! `web/wecom-chat.js` over the chat socket), and the pages behind the QR codes — a
//! member's contact QR (`/app/wecom/add/{config_id}`) and a group's
//! (`/app/wecom/join/{config_id}`), each asking before it adds or joins.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use plaza_http::web::{
    AppPage, AppTab, AppUser, Conversation, ConversationSummary, ErrorPage, UserApp, app_layout,
    app_user, asset, escape, signin_redirect, tile, viewer,
};
use plaza_kernel::BoxFuture;
use plaza_wecom::chat::Conversation as ChatConversation;
use plaza_wecom::{WeCom, WeComError};

use crate::WeComState;

const CHAT_JS: &str = include_str!("../../../web/wecom-chat.js");
const STYLESHEET: &str = include_str!("../../../web/wecom.css");
const WORK_JS: &str = include_str!("../../../web/wecom-work.js");

pub(crate) fn router() -> Router<WeComState> {
    Router::new()
        .route("/app/wecom/chat/{id}", get(chat_page))
        .route("/app/work", get(workbench))
        .route("/console/wecom", get(crate::console::corps))
        .route("/console/wecom/{corpid}", get(crate::console::corp))
        .route(
            "/console/wecom/{corpid}/secret",
            axum::routing::post(crate::console::reset_secret),
        )
        .route(
            "/console/wecom/{corpid}/members",
            axum::routing::post(crate::console::invite_member),
        )
        .route(
            "/console/wecom/{corpid}/members/{userid}/{action}",
            axum::routing::post(crate::console::member_action),
        )
        .route("/app/wecom/add/{config_id}", get(add_page).post(add))
        .route("/app/wecom/join/{config_id}", get(join_page).post(join))
        .route(
            "/static/wecom-chat.js",
            get(|| asset("text/javascript; charset=utf-8", CHAT_JS)),
        )
        .route(
            "/static/wecom-work.js",
            get(|| asset("text/javascript; charset=utf-8", WORK_JS)),
        )
        .route(
            "/static/wecom.css",
            get(|| asset("text/css; charset=utf-8", STYLESHEET)),
        )
}

/// WeCom's port into the user app.
pub struct WeComWeb {
    wecom: Arc<WeCom>,
}

impl WeComWeb {
    /// Over the domain.
    pub fn new(wecom: Arc<WeCom>) -> Self {
        Self { wecom }
    }
}

/// A message in one line, for lists.
fn preview(message: &plaza_wecom::model::ChatMessage) -> String {
    let text = match message.msgtype.as_str() {
        "text" | "markdown" => message
            .content
            .get("content")
            .and_then(|c| c.as_str())
            .unwrap_or("")
            .to_owned(),
        "image" => "[图片 Image]".to_owned(),
        "card" => format!(
            "[卡片 Card] {}",
            message
                .content
                .get("title")
                .and_then(|c| c.as_str())
                .unwrap_or("")
        ),
        other => format!("[{other}]"),
    };
    format!("{}: {text}", message.sender_name)
}

impl UserApp for WeComWeb {
    fn conversations<'a>(&'a self, user: &'a AppUser) -> BoxFuture<'a, Vec<ConversationSummary>> {
        Box::pin(async move {
            let list = self
                .wecom
                .conversations(&user.user_id)
                .await
                .unwrap_or_else(|error| {
                    tracing::error!(%error, "reading WeCom conversations");
                    Vec::new()
                });
            list.into_iter()
                .map(|summary| ConversationSummary {
                    link: Some(format!("/app/wecom/chat/{}", summary.id)),
                    title: format!("{} · {}", summary.title, summary.corp_name),
                    icon: if summary.kind == "group" {
                        "群"
                    } else {
                        "企"
                    },
                    preview: summary
                        .last
                        .as_ref()
                        .map(preview)
                        .unwrap_or_else(|| "开始聊天 Say hello".to_owned()),
                    at: summary.last.as_ref().map(|m| m.sent_at),
                    unread: summary.unread,
                    id: summary.id,
                })
                .collect()
        })
    }

    fn conversation<'a>(
        &'a self,
        _user: &'a AppUser,
        _id: &'a str,
    ) -> BoxFuture<'a, Option<Conversation>> {
        Box::pin(async { None })
    }

    fn me_cards<'a>(&'a self, _user: &'a AppUser) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async { Vec::new() })
    }
}

fn refusal(error: &WeComError) -> Response {
    match error {
        WeComError::Forbidden { .. } | WeComError::Invalid { .. } => ErrorPage::not_found(
            "这个聊天不存在或你不在其中 This chat does not exist, or you are not in it.",
        )
        .back("/app", "Chats")
        .into_response(),
        other => {
            tracing::error!(error = %other, "a WeCom page failed");
            ErrorPage::from_api(&crate::error::api_error(other.clone())).into_response()
        }
    }
}

async fn chat_page(
    State(state): State<WeComState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let viewer = viewer(&state.http, &headers).await;
    let Some(user) = app_user(&viewer) else {
        return signin_redirect(&format!("/app/wecom/chat/{id}"));
    };
    let conversation = match ChatConversation::parse(&id) {
        Ok(conversation) => conversation,
        Err(error) => return refusal(&error),
    };
    let me = match state.wecom.speaker(&conversation, &user.user_id).await {
        Ok(me) => me,
        Err(error) => return refusal(&error),
    };
    let summary = state
        .wecom
        .conversations(&user.user_id)
        .await
        .ok()
        .and_then(|list| list.into_iter().find(|s| s.id == id));
    let (title, kind, corp) = summary.map_or_else(
        || ("聊天 Chat".to_owned(), "direct", String::new()),
        |s| (s.title, s.kind, s.corp_name),
    );
    let body = format!(
        "<link rel=\"stylesheet\" href=\"/static/wecom.css\">\
         <div class=\"wecom-chat\" id=\"chat\" data-conversation=\"{id}\" data-me=\"{me}\" data-kind=\"{kind}\">\
         <p class=\"chat-corp\">{corp}</p>\
         <ol class=\"messages\" id=\"messages\" aria-live=\"polite\"></ol>\
         <p class=\"chat-status\" id=\"chat-status\" role=\"status\">连接中 Connecting…</p>\
         <form class=\"composer\" id=\"composer\" autocomplete=\"off\">\
         <label class=\"attach\" title=\"发送图片 Send an image\">＋<input type=\"file\" id=\"chat-image\" accept=\"image/png,image/jpeg,image/gif,image/webp\" hidden></label>\
         <input id=\"chat-input\" name=\"text\" maxlength=\"2000\" placeholder=\"发消息 Message\" aria-label=\"Message\">\
         <button id=\"chat-send\" type=\"submit\">发送</button></form></div>\
         <script type=\"module\" src=\"/static/wecom-chat.js\"></script>",
        id = escape(&id),
        me = escape(&me.id),
        corp = escape(&corp),
    );
    app_layout(
        AppPage::below(AppTab::Chats, &title, "/app"),
        &viewer,
        &body,
    )
    .into_response()
}

/// One person or group on a QR's page.
fn entry(icon: &str, name: &str, detail: &str) -> String {
    format!(
        "<li>{}<span><strong>{}</strong><small>{}</small></span></li>",
        tile(icon, name),
        escape(name),
        escape(detail)
    )
}

/// A QR's page: who or what it adds, a sentence, and the button that does it.
fn qr_card(
    viewer: &plaza_http::web::Viewer,
    title: &str,
    corp: &str,
    entries: &str,
    about: &str,
    button: (&str, &str),
) -> Response {
    let body = format!(
        "<link rel=\"stylesheet\" href=\"/static/wecom.css\"><section class=\"card wecom-card\">\
         <p class=\"muted\">企业微信 WeCom · {corp}</p><ul class=\"people\">{entries}</ul><p>{about}</p>\
         <form method=\"post\"><button id=\"{id}\" type=\"submit\">{label}</button></form></section>",
        corp = escape(corp),
        about = escape(about),
        id = button.0,
        label = escape(button.1),
    );
    app_layout(AppPage::below(AppTab::Chats, title, "/app"), viewer, &body).into_response()
}

fn qr_gone() -> Response {
    ErrorPage::not_found("这个二维码已失效 This QR code no longer works.")
        .back("/app", "Chats")
        .into_response()
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

async fn add_page(
    State(state): State<WeComState>,
    Path(config_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let viewer = viewer(&state.http, &headers).await;
    if app_user(&viewer).is_none() {
        return signin_redirect(&format!("/app/wecom/add/{config_id}"));
    }
    let Ok((way, _)) = state.wecom.contact_way(None, &config_id).await else {
        return qr_gone();
    };
    let mut people = String::new();
    for userid in &way.users {
        if let Ok(member) = state.wecom.member(&way.corpid, userid).await {
            people.push_str(&entry("企", &member.name, &member.position));
        }
    }
    let about = "添加后，你可以和对方聊天，对方能看到你的名字。 Once added, you can chat; they see your name.";
    qr_card(
        &viewer,
        "添加联系人 Add contact",
        &corp_name(&state, &way.corpid).await,
        &people,
        about,
        ("add-contact", "添加到通讯录 Add"),
    )
}

async fn add(
    State(state): State<WeComState>,
    Path(config_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let viewer = viewer(&state.http, &headers).await;
    let Some(user) = app_user(&viewer) else {
        return signin_redirect(&format!("/app/wecom/add/{config_id}"));
    };
    match state.wecom.add_customer(&config_id, &user.user_id).await {
        Ok(added) => {
            let id = ChatConversation::Direct {
                corpid: added.contact.corpid,
                userid: added.member.userid.to_ascii_lowercase(),
                external_userid: added.contact.external_userid,
            }
            .id();
            Redirect::to(&format!("/app/wecom/chat/{id}")).into_response()
        }
        Err(error) => refusal(&error),
    }
}

async fn join_page(
    State(state): State<WeComState>,
    Path(config_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let viewer = viewer(&state.http, &headers).await;
    if app_user(&viewer).is_none() {
        return signin_redirect(&format!("/app/wecom/join/{config_id}"));
    }
    let Ok((way, _)) = state.wecom.join_way(None, &config_id).await else {
        return qr_gone();
    };
    let mut groups = String::new();
    for chat_id in &way.chat_id_list {
        if let Ok((group, _)) = state.wecom.group(&way.corpid, chat_id).await {
            groups.push_str(&entry(
                "群",
                &group.name,
                &format!("{} 人 members", group.members.len()),
            ));
        }
    }
    let about =
        "群里有企业的员工和其他客户。 The group has the company's staff and other customers in it.";
    qr_card(
        &viewer,
        "加入群聊 Join group",
        &corp_name(&state, &way.corpid).await,
        &groups,
        about,
        ("join-group", "加入群聊 Join"),
    )
}

async fn join(
    State(state): State<WeComState>,
    Path(config_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let viewer = viewer(&state.http, &headers).await;
    let Some(user) = app_user(&viewer) else {
        return signin_redirect(&format!("/app/wecom/join/{config_id}"));
    };
    match state.wecom.join_group(&config_id, &user.user_id).await {
        Ok(group) => {
            let id = ChatConversation::Group {
                corpid: group.corpid,
                chat_id: group.chat_id,
            }
            .id();
            Redirect::to(&format!("/app/wecom/chat/{id}")).into_response()
        }
        Err(error) => refusal(&error),
    }
}

/// # `GET /app/work`: the staff workbench
///
/// For each corp the user works in: their contact QR (made on first visit), their
/// customers with remarks and tags (each opening the chat), their customer groups (each
/// opening the chat, with the group's QR), and the app messages sent to them.
async fn workbench(State(state): State<WeComState>, headers: HeaderMap) -> Response {
    let viewer = viewer(&state.http, &headers).await;
    let Some(user) = app_user(&viewer) else {
        return signin_redirect("/app/work");
    };
    let memberships = state
        .wecom
        .memberships(&user.user_id)
        .await
        .unwrap_or_default();
    let mut body = String::from(
        "<link rel=\"stylesheet\" href=\"/static/wecom.css\"><div class=\"workbench\">",
    );
    if memberships.is_empty() {
        body.push_str(&plaza_http::web::empty_state(
            "不是员工 Not staff",
            "You work in no corp yet: a corp's invitation makes you a member.",
            None,
        ));
    }
    for member in memberships
        .iter()
        .filter(|m| m.status() == plaza_wecom::MemberStatus::Active)
    {
        body.push_str(&corp_section(&state, member).await);
    }
    body.push_str("</div><script type=\"module\" src=\"/static/wecom-work.js\"></script>");
    app_layout(
        AppPage::below(AppTab::Me, "工作台 Workbench", "/app/me"),
        &viewer,
        &body,
    )
    .into_response()
}

async fn corp_section(state: &WeComState, member: &plaza_wecom::Member) -> String {
    let corpid = member.corpid.as_str();
    let corp = corp_name(state, corpid).await;
    let qr = my_qr(state, member).await;
    let customers = customer_rows(state, member).await;
    let groups = group_rows(state, member).await;
    let inbox = inbox_rows(state, member).await;
    let to_app = to_app_form(state, member).await;
    let list = |id: &str, items: &str, empty: &str| {
        if items.is_empty() {
            format!("<p class=\"muted\">{empty}</p>")
        } else {
            format!("<ul class=\"rows\" id=\"{id}\">{items}</ul>")
        }
    };
    format!(
        "<section class=\"card\"><h2>{corp} · {name}</h2>{qr}</section>\
         <section class=\"card\"><h2>客户 Customers</h2>{customers}</section>\
         <section class=\"card\"><h2>客户群 Customer groups</h2>{groups}</section>\
         <section class=\"card\"><h2>应用消息 App messages</h2>{inbox}{to_app}</section>",
        corp = escape(&corp),
        name = escape(&member.name),
        customers = list(
            "work-customers",
            &customers,
            "No customers yet: they add you by your QR."
        ),
        groups = list("work-groups", &groups, "No customer groups yet."),
        inbox = list("work-inbox", &inbox, "No app messages."),
    )
}

/// The member's contact QR (their single-member contact way, made on first visit).
async fn my_qr(state: &WeComState, member: &plaza_wecom::Member) -> String {
    let corpid = member.corpid.as_str();
    let ways = state
        .wecom
        .contact_ways_of(corpid, &member.userid)
        .await
        .unwrap_or_default();
    let way = match ways.into_iter().find(|w| w.kind == 1) {
        Some(way) => Some(way),
        None => {
            let new = plaza_wecom::contacts::NewContactWay {
                kind: Some(1),
                scene: Some(2),
                skip_verify: true,
                users: vec![member.userid.clone()],
                state: "workbench".to_owned(),
                ..Default::default()
            };
            state.wecom.add_contact_way(corpid, new).await.ok()
        }
    };
    way.map(|w| crate::contact_api::qr_url(state, "add", &w.config_id)).map(|url| format!("<div class=\"qr\" id=\"my-qr\">{}</div><p class=\"muted\">客户扫码添加你 Customers scan this to add you</p>", plaza_http::web::qr_svg(&url))).unwrap_or_default()
}

/// The member's customers, each opening the chat.
async fn customer_rows(state: &WeComState, member: &plaza_wecom::Member) -> String {
    let corpid = member.corpid.as_str();
    let groups_of_tags = state.wecom.tag_groups(corpid).await.unwrap_or_default();
    let mut customers = String::new();
    for follow in state
        .wecom
        .customers_of(corpid, &member.userid)
        .await
        .unwrap_or_default()
    {
        let name = state
            .wecom
            .external_contact(corpid, &follow.external_userid)
            .await
            .map(|(c, _)| c.name)
            .unwrap_or_default();
        let tags: String = groups_of_tags
            .iter()
            .flat_map(|g| g.tags.iter())
            .filter(|t| follow.tags.contains(&t.id))
            .map(|t| format!("<span class=\"tag\">{}</span>", escape(&t.name)))
            .collect();
        let id = ChatConversation::Direct {
            corpid: corpid.to_owned(),
            userid: member.userid.to_ascii_lowercase(),
            external_userid: follow.external_userid.clone(),
        }
        .id();
        let remark = if follow.remark.is_empty() {
            String::new()
        } else {
            format!("<small>{}</small>", escape(&follow.remark))
        };
        customers.push_str(&format!(
            "<li><a href=\"/app/wecom/chat/{}\"><span>{}{tags}</span>{remark}</a></li>",
            escape(&id),
            escape(&name)
        ));
    }
    customers
}

/// The member's customer groups, each opening the chat.
async fn group_rows(state: &WeComState, member: &plaza_wecom::Member) -> String {
    let corpid = member.corpid.as_str();
    let mut groups = String::new();
    for group in state
        .wecom
        .groups_of_member(corpid, &member.userid)
        .await
        .unwrap_or_default()
    {
        let id = ChatConversation::Group {
            corpid: corpid.to_owned(),
            chat_id: group.chat_id.clone(),
        }
        .id();
        groups.push_str(&format!("<li><a href=\"/app/wecom/chat/{}\"><span>{}</span><small>{} 人 members</small></a></li>", escape(&id), escape(&group.name), group.members.len()));
    }
    groups
}

/// A form to write to one of the corp's apps (the corp's server hears it).
async fn to_app_form(state: &WeComState, member: &plaza_wecom::Member) -> String {
    let apps = state.wecom.apps(&member.corpid).await.unwrap_or_default();
    if apps.is_empty() {
        return String::new();
    }
    let options: String = apps
        .iter()
        .map(|app| {
            format!(
                "<option value=\"{}\">{}</option>",
                app.agentid,
                escape(&app.name)
            )
        })
        .collect();
    format!(
        "<form class=\"to-app\" data-corpid=\"{corpid}\">\
         <select name=\"agentid\" aria-label=\"App\">{options}</select>\
         <input name=\"content\" maxlength=\"2048\" required placeholder=\"写给应用 Write to the app\" aria-label=\"Message to the app\">\
         <button type=\"submit\">发送 Send</button><small class=\"to-app-status\" role=\"status\"></small></form>",
        corpid = escape(&member.corpid),
    )
}

/// The member's latest app messages.
async fn inbox_rows(state: &WeComState, member: &plaza_wecom::Member) -> String {
    let corpid = member.corpid.as_str();
    state
        .wecom
        .inbox(corpid, &member.userid, 5)
        .await
        .unwrap_or_default()
        .iter()
        .map(|m| {
            let text = m
                .content
                .get("content")
                .or_else(|| m.content.get("title"))
                .and_then(|c| c.as_str())
                .unwrap_or("");
            format!(
                "<li><a><span>{}</span><small>{}</small></a></li>",
                escape(text),
                plaza_http::web::china_time(m.sent_at)
            )
        })
        .collect()
}
