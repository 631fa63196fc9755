//! The operator's WeCom console (`/console/wecom`): every corp, and one corp's
//! customer-service figures (conversations, messages, interactions per hour over the
//! last day — the seed's measure — and each member's median first response), members,
//! departments, apps and where its callbacks go; and the operator's actions on a corp:
//! invite a member, disable, enable or remove one, and reset the contacts secret or an
//! app's (the new secret is shown once, on the answer itself, never in a URL).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use plaza_http::web::{
    ErrorPage, Flash, FlashKind, PageForm, PageQuery, Role, Viewer, china_time, console_layout,
    escape, flash_html, signin_redirect, table, viewer, with_flash,
};
use plaza_wecom::directory::MemberFields;
use plaza_wecom::{Scope, WeComError};
use serde::Deserialize;

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
            let toggle = if status == "disabled" { "enable" } else { "disable" };
            let actions = if status == "left" {
                String::new()
            } else {
                format!(
                    "<form method=\"post\" action=\"/console/wecom/{corpid}/members/{userid}/{toggle}\" class=\"inline\"><button class=\"secondary small\">{toggle}</button></form> \
                     <form method=\"post\" action=\"/console/wecom/{corpid}/members/{userid}/remove\" class=\"inline\"><button class=\"secondary small\">remove</button></form>",
                    corpid = escape(&m.corpid),
                    userid = escape(&m.userid),
                )
            };
            format!("<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{status}</td><td>{actions}</td></tr>", escape(&m.name), escape(&m.userid), escape(&m.position), m.department.iter().map(u32::to_string).collect::<Vec<_>>().join(", "))
        })
        .collect()
}

/// The form that invites a member.
fn invite_form(corpid: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/console/wecom/{corpid}/members\" class=\"inline\" id=\"invite-member\">\
         <input name=\"userid\" required maxlength=\"64\" placeholder=\"userid\" aria-label=\"userid\">\
         <input name=\"name\" required maxlength=\"64\" placeholder=\"Name\" aria-label=\"Name\">\
         <input name=\"mobile\" required maxlength=\"20\" placeholder=\"Mobile\" aria-label=\"Mobile\">\
         <input name=\"department\" value=\"1\" size=\"4\" aria-label=\"Department id\">\
         <button class=\"small\">Invite</button></form>",
        corpid = escape(corpid)
    )
}

/// The forms that reset the contacts secret and each app's.
fn secret_forms(corpid: &str, apps: &[plaza_wecom::CorpApp]) -> String {
    let form = |scope: &str, label: &str| {
        format!(
            "<form method=\"post\" action=\"/console/wecom/{corpid}/secret\" class=\"inline\">\
             <input type=\"hidden\" name=\"scope\" value=\"{scope}\">\
             <button class=\"secondary small\">Reset {label}</button></form> ",
            corpid = escape(corpid),
            label = escape(label),
        )
    };
    let mut forms = form("contacts", "the contacts secret");
    for app in apps {
        forms.push_str(&form(
            &app.agentid.to_string(),
            &format!("{}'s secret", app.name),
        ));
    }
    forms
}

/// # `GET /console/wecom/{corpid}`
pub(crate) async fn corp(
    State(state): State<WeComState>,
    Path(corpid): Path<String>,
    PageQuery(flash): PageQuery<Flash>,
    headers: HeaderMap,
) -> Response {
    let viewer = match operator(&state, &headers, &format!("/console/wecom/{corpid}")).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    corp_page(&state, &viewer, &corpid, &flash.html()).await
}

/// One corp's page, with `notice` (HTML) above it.
async fn corp_page(state: &WeComState, viewer: &Viewer, corpid: &str, notice: &str) -> Response {
    let Ok(Some(corp)) = state.wecom.corp(corpid).await else {
        return ErrorPage::not_found("No such corp.").into_response();
    };
    let figures = match state.wecom.figures(corpid, state.http.clock.now()).await {
        Ok(figures) => figures,
        Err(error) => return ErrorPage::from_api(&crate::error::api_error(error)).into_response(),
    };
    let figures = figures_section(&figures);
    let member_rows = member_rows(&state.wecom.all_members(corpid).await.unwrap_or_default());
    let departments: String = state
        .wecom
        .all_departments(corpid)
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
    let apps = state.wecom.apps(corpid).await.unwrap_or_default();
    let app_rows: String = apps
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
        "<link rel=\"stylesheet\" href=\"/static/wecom.css\">{notice}\
         {figures}\
         <section class=\"card\"><h2>成员 Members</h2>{members}{invite}</section>\
         <section class=\"card\"><h2>部门 Departments</h2>{departments}</section>\
         <section class=\"card\"><h2>应用 Apps</h2>{apps}<p>{secrets}</p><p class=\"muted\">A secret is shown only when made; a reset revokes the old one. Callbacks go to {callback}.</p></section>",
        members = table(
            "members",
            &["Name", "userid", "Position", "Departments", "Status", ""],
            &member_rows,
            "No members yet"
        ),
        invite = invite_form(corpid),
        departments = table(
            "departments",
            &["id", "Name", "Parent"],
            &departments,
            "No departments"
        ),
        apps = table(
            "apps",
            &["agentid", "Name", "Created"],
            &app_rows,
            "No apps"
        ),
        secrets = secret_forms(corpid, &apps),
        callback = callback_target(&corp),
    );
    console_layout(Role::OPERATOR, SECTION, viewer, &corp.name, &body).into_response()
}

/// A refusal in words for the operator.
fn refused(error: &WeComError) -> String {
    let api = crate::error::api_error(error.clone());
    format!("Refused ({}): {error}", api.code())
}

#[derive(Debug, Deserialize)]
pub(crate) struct SecretForm {
    scope: String,
}

/// # `POST /console/wecom/{corpid}/secret`: a new secret, shown on this answer only
pub(crate) async fn reset_secret(
    State(state): State<WeComState>,
    Path(corpid): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<SecretForm>,
) -> Response {
    let viewer = match operator(&state, &headers, &format!("/console/wecom/{corpid}")).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let scope = if form.scope == "contacts" {
        Some(Scope::Contacts)
    } else {
        form.scope.parse().ok().map(Scope::Agent)
    };
    let notice = match scope {
        None => flash_html(FlashKind::Bad, "The scope is contacts or an agentid."),
        Some(scope) => match state.wecom.reset_secret(&corpid, scope).await {
            Ok(secret) => flash_html(
                FlashKind::Good,
                &format!("New secret for {} (shown only now): {secret}", form.scope),
            ),
            Err(error) => flash_html(FlashKind::Bad, &refused(&error)),
        },
    };
    corp_page(&state, &viewer, &corpid, &notice).await
}

#[derive(Debug, Deserialize)]
pub(crate) struct InviteForm {
    userid: String,
    name: String,
    mobile: String,
    department: String,
}

/// # `POST /console/wecom/{corpid}/members`: a new member, invited
pub(crate) async fn invite_member(
    State(state): State<WeComState>,
    Path(corpid): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<InviteForm>,
) -> Response {
    let back = format!("/console/wecom/{corpid}");
    if let Err(response) = operator(&state, &headers, &back).await {
        return response;
    }
    let Ok(department) = form.department.trim().parse::<i64>() else {
        return Redirect::to(&with_flash(
            &back,
            FlashKind::Bad,
            "The department is a number.",
        ))
        .into_response();
    };
    let fields = MemberFields {
        name: Some(form.name.trim().to_owned()),
        department: Some(vec![department]),
        mobile: Some(form.mobile.trim().to_owned()),
        ..MemberFields::default()
    };
    let done = match state
        .wecom
        .create_member(&corpid, form.userid.trim(), fields)
        .await
    {
        Ok(member) => (
            FlashKind::Good,
            format!(
                "{} is invited; the invitation code is {}.",
                member.userid,
                member.invitation.unwrap_or_default()
            ),
        ),
        Err(error) => (FlashKind::Bad, refused(&error)),
    };
    Redirect::to(&with_flash(&back, done.0, &done.1)).into_response()
}

/// # `POST /console/wecom/{corpid}/members/{userid}/{enable|disable|remove}`
pub(crate) async fn member_action(
    State(state): State<WeComState>,
    Path((corpid, userid, action)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    let back = format!("/console/wecom/{corpid}");
    if let Err(response) = operator(&state, &headers, &back).await {
        return response;
    }
    let changed = match action.as_str() {
        "enable" | "disable" => {
            let fields = MemberFields {
                enable: Some(action == "enable"),
                ..MemberFields::default()
            };
            state
                .wecom
                .update_member(&corpid, &userid, fields)
                .await
                .map(|_| format!("{userid} is {action}d."))
        }
        "remove" => state
            .wecom
            .delete_member(&corpid, &userid)
            .await
            .map(|()| format!("{userid} has left; their customers wait to be handed over.")),
        _ => return ErrorPage::not_found("No such action.").into_response(),
    };
    let (kind, text) = match changed {
        Ok(text) => (FlashKind::Good, text),
        Err(error) => (FlashKind::Bad, refused(&error)),
    };
    Redirect::to(&with_flash(&back, kind, &text)).into_response()
}
