//! The operator's WeCom console (`/console/wecom`): every corp, and one corp's
//! customer-service figures (conversations, messages, interactions per hour over the
//! last day — the seed's measure — and each member's median first response), members,
//! departments, apps and where its callbacks go.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use plaza_http::web::{
    ErrorPage, Role, Viewer, china_time, console_layout, escape, signin_redirect, table, viewer,
};

use crate::WeComState;

/// The console's section in the operator's navigation.
pub const SECTION: &str = "wecom";

async fn operator(state: &WeComState, headers: &HeaderMap, here: &str) -> Result<Viewer, Response> {
    let viewer = viewer(&state.http, headers).await;
    if viewer.as_role(Role::OPERATOR).is_some() {
        Ok(viewer)
    } else {
        Err(signin_redirect(here))
    }
}

/// # `GET /console/wecom`
pub(crate) async fn corps(State(state): State<WeComState>, headers: HeaderMap) -> Response {
    let viewer = match operator(&state, &headers, "/console/wecom").await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let corps = state.wecom.corps().await.unwrap_or_default();
    let mut rows = String::new();
    for corp in &corps {
        let members = state
            .wecom
            .all_members(&corp.corpid)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        rows.push_str(&format!(
            "<tr><td><a href=\"/console/wecom/{id}\">{name}</a></td><td><code>{id}</code></td><td>{members}</td><td>{created}</td></tr>",
            id = escape(&corp.corpid),
            name = escape(&corp.name),
            created = china_time(corp.created_at),
        ));
    }
    let body = format!(
        "<section class=\"card\"><h2>企业 Corps</h2>{}<p class=\"muted\">Make one with <code>plaza admin corp create --name …</code>.</p></section>",
        table(
            "corps",
            &["Name", "corpid", "Members", "Created"],
            &rows,
            "No corps yet"
        )
    );
    console_layout(Role::OPERATOR, SECTION, &viewer, "WeCom", &body).into_response()
}

fn minutes(ms: i64) -> String {
    if ms < 60_000 {
        format!("{} s", ms / 1_000)
    } else {
        format!("{:.1} min", ms as f64 / 60_000.0)
    }
}

/// The figures card: counts, interactions per hour as bars, first responses.
fn figures_section(figures: &plaza_wecom::figures::CorpFigures) -> String {
    let peak = figures.per_hour.iter().copied().max().unwrap_or(0).max(1);
    let bars: String = figures
        .per_hour
        .iter()
        .map(|count| {
            format!(
                "<span class=\"bar\" style=\"height:{}%\" title=\"{count}\"></span>",
                count * 100 / peak
            )
        })
        .collect();
    let last_hour = figures.per_hour.last().copied().unwrap_or(0);
    let responders: String = figures
        .responders
        .iter()
        .map(|r| {
            format!(
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                escape(&r.name),
                escape(&r.userid),
                r.answered,
                minutes(r.median_ms)
            )
        })
        .collect();
    format!(
        "<section class=\"card\"><h2>客户服务 Customer service</h2><div class=\"figures\" id=\"figures\">\
         <div><strong id=\"figure-conversations\">{conversations}</strong><span>conversations with customers</span></div>\
         <div><strong id=\"figure-messages\">{messages}</strong><span>messages</span></div>\
         <div><strong id=\"figure-last-hour\">{last_hour}</strong><span>interactions in the last hour</span></div>\
         <div><strong>{customers}</strong><span>customer relations</span></div>\
         <div><strong>{groups}</strong><span>customer groups</span></div></div>\
         <p class=\"muted\">Interactions per hour, the last 24 hours</p><div class=\"hours\" id=\"per-hour\">{bars}</div>\
         <h3>First response</h3>{responders}</section>",
        conversations = figures.conversations,
        messages = figures.messages,
        customers = figures.customers,
        groups = figures.groups,
        responders = table(
            "responders",
            &["Member", "userid", "Answered", "Median first response"],
            &responders,
            "No customer has been answered yet"
        ),
    )
}

/// Where the corp's callbacks go, for people.
fn callback_target(corp: &plaza_wecom::Corp) -> String {
    corp.callback
        .as_ref()
        .map_or_else(|| "nowhere yet".to_owned(), |c| escape(&c.url))
}

/// The members table's rows.
fn member_rows(members: &[plaza_wecom::Member]) -> String {
    members
        .iter()
        .map(|m| {
            let status = match m.status().code() {
                1 => "active",
                2 => "disabled",
                4 => "invited",
                _ => "left",
            };
            format!("<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{status}</td></tr>", escape(&m.name), escape(&m.userid), escape(&m.position), m.department.iter().map(u32::to_string).collect::<Vec<_>>().join(", "))
        })
        .collect()
}

/// # `GET /console/wecom/{corpid}`
pub(crate) async fn corp(
    State(state): State<WeComState>,
    Path(corpid): Path<String>,
    headers: HeaderMap,
) -> Response {
    let viewer = match operator(&state, &headers, &format!("/console/wecom/{corpid}")).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let Ok(Some(corp)) = state.wecom.corp(&corpid).await else {
        return ErrorPage::not_found("No such corp.").into_response();
    };
    let figures = match state.wecom.figures(&corpid, state.http.clock.now()).await {
        Ok(figures) => figures,
        Err(error) => return ErrorPage::from_api(&crate::error::api_error(error)).into_response(),
    };
    let figures = figures_section(&figures);
    let member_rows = member_rows(&state.wecom.all_members(&corpid).await.unwrap_or_default());
    let departments: String = state
        .wecom
        .all_departments(&corpid)
        .await
        .unwrap_or_default()
        .iter()
        .map(|d| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                d.id,
                escape(&d.name),
                d.parentid
            )
        })
        .collect();
    let apps: String = state
        .wecom
        .apps(&corpid)
        .await
        .unwrap_or_default()
        .iter()
        .map(|a| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                a.agentid,
                escape(&a.name),
                china_time(a.created_at)
            )
        })
        .collect();
    let body = format!(
        "<link rel=\"stylesheet\" href=\"/static/wecom.css\">\
         {figures}\
         <section class=\"card\"><h2>成员 Members</h2>{members}</section>\
         <section class=\"card\"><h2>部门 Departments</h2>{departments}</section>\
         <section class=\"card\"><h2>应用 Apps</h2>{apps}<p class=\"muted\">Secrets are shown only when made: <code>POST /api/v1/admin/corps/{id}/secret</code> makes a new one. Callbacks go to {callback}.</p></section>",
        members = table(
            "members",
            &["Name", "userid", "Position", "Departments", "Status"],
            &member_rows,
            "No members yet"
        ),
        departments = table(
            "departments",
            &["id", "Name", "Parent"],
            &departments,
            "No departments"
        ),
        apps = table("apps", &["agentid", "Name", "Created"], &apps, "No apps"),
        id = escape(&corpid),
        callback = callback_target(&corp),
    );
    console_layout(Role::OPERATOR, SECTION, &viewer, &corp.name, &body).into_response()
}
