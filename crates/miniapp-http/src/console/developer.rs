//! The developer console.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use plaza_http::web::{
    ErrorPage, Flash, FlashKind, PageForm, PageQuery, Role, Viewer, asset, console_layout, escape,
    signin_redirect, table, viewer, with_flash,
};
use plaza_miniapp::model::{AuditStatus, CodeState, CodeVersion};
use plaza_miniapp::{AppSettings, MiniApp, MiniAppError, NewMiniApp};
use serde::Deserialize;

use super::SECTION_APPS;
use crate::MiniAppState;

const SCRIPT: &str = include_str!("../../../../web/developer.js");

pub(crate) async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT).await
}

/// The signed-in user (as the app's user or as a developer) and their developer
/// account, if any.
async fn who(
    state: &MiniAppState,
    headers: &HeaderMap,
) -> (Viewer, Option<(String, Option<String>)>) {
    let viewer = viewer(&state.http, headers).await;
    let user = viewer
        .as_role(Role::DEVELOPER)
        .or_else(|| viewer.as_role(Role::USER))
        .map(|signed_in| signed_in.account.clone());
    let Some(user_id) = user else {
        return (viewer, None);
    };
    let developer = state
        .miniapps
        .identity()
        .developer_of(&user_id)
        .await
        .ok()
        .flatten()
        .map(|developer| developer.developer_id);
    (viewer, Some((user_id, developer)))
}

fn page(viewer: &Viewer, title: &str, body: &str) -> Response {
    let body = format!("<link rel=\"stylesheet\" href=\"/static/miniapp.css\">{body}");
    console_layout(Role::DEVELOPER, SECTION_APPS, viewer, title, &body).into_response()
}

fn refused(error: &MiniAppError) -> String {
    match error {
        MiniAppError::Invalid { field, problem } => format!("{field}: {problem}"),
        other => other.to_string(),
    }
}

/// # `GET /developer`
///
/// The developer's mini programs and a form for a new one (or the button that makes the
/// user a developer).
pub(crate) async fn home(
    State(state): State<MiniAppState>,
    headers: HeaderMap,
    PageQuery(flash): PageQuery<Flash>,
) -> Response {
    let (viewer, who) = who(&state, &headers).await;
    let Some((_, developer)) = who else {
        return signin_redirect("/developer");
    };
    let Some(developer_id) = developer else {
        let body = format!(
            "{}<div class=\"card\"><h2>成为开发者 Become a developer</h2><p>A developer account owns mini programs; \
             every app of one account sees the same unionid for a person.</p>\
             <form method=\"post\" action=\"/developer/become\"><button id=\"become-developer\">Become a developer</button></form></div>",
            flash.html()
        );
        return page(&viewer, "Mini programs", &body);
    };
    let apps = state
        .miniapps
        .apps_of(&developer_id)
        .await
        .unwrap_or_default();
    let mut rows = String::new();
    for app in &apps {
        let code = state
            .miniapps
            .code_state(&app.appid)
            .await
            .unwrap_or_default();
        rows.push_str(&format!(
            "<tr><td><a href=\"/developer/apps/{appid}\">{name}</a></td><td><code>{appid}</code></td><td>{release}</td><td>{review}</td></tr>",
            appid = escape(&app.appid),
            name = escape(&app.name),
            release = code.release.map_or_else(|| "—".to_owned(), |v| format!("v{v}")),
            review = review_text(&code),
        ));
    }
    let body = format!(
        "{flash}<div class=\"card\"><h2>My mini programs</h2>{table}</div>\
         <div class=\"card\"><h2>New mini program</h2><form method=\"post\" action=\"/developer/apps\" class=\"inline\">\
         <label>Name <input name=\"name\" maxlength=\"30\" required></label> <button id=\"create-app\">Create</button></form>\
         <p class=\"muted\">Its AppSecret is shown once, on the next page.</p></div>",
        flash = flash.html(),
        table = table(
            "apps",
            &["Name", "AppID", "Release", "Review"],
            &rows,
            "No mini program yet."
        ),
    );
    page(&viewer, "Mini programs", &body)
}

fn review_text(code: &CodeState) -> String {
    match &code.audit {
        None => "—".to_owned(),
        Some(audit) => match audit.status {
            AuditStatus::Auditing => format!("v{} under review", audit.version),
            AuditStatus::Approved => format!("v{} approved", audit.version),
            AuditStatus::Rejected => format!(
                "v{} rejected: {}",
                audit.version,
                escape(audit.reason.as_deref().unwrap_or(""))
            ),
        },
    }
}

/// # `POST /developer/become`
pub(crate) async fn become_developer(
    State(state): State<MiniAppState>,
    headers: HeaderMap,
) -> Response {
    let (_, who) = who(&state, &headers).await;
    let Some((user_id, _)) = who else {
        return signin_redirect("/developer");
    };
    match state.miniapps.identity().become_developer(&user_id).await {
        Ok(_) => Redirect::to(&with_flash(
            "/developer",
            FlashKind::Good,
            "You are a developer now.",
        ))
        .into_response(),
        Err(error) => ErrorPage::bad_request(error.to_string()).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct CreateForm {
    name: String,
}

/// # `POST /developer/apps`
///
/// A new mini program; its page shows the secret once.
pub(crate) async fn create(
    State(state): State<MiniAppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<CreateForm>,
) -> Response {
    let (_, who) = who(&state, &headers).await;
    let Some((_, Some(developer_id))) = who else {
        return signin_redirect("/developer");
    };
    match state
        .miniapps
        .create_app(
            &developer_id,
            NewMiniApp {
                name: form.name.trim().to_owned(),
                settings: AppSettings::default(),
            },
        )
        .await
    {
        Ok((app, secret)) => Redirect::to(&with_flash(
            &format!("/developer/apps/{}", app.appid),
            FlashKind::Good,
            &format!("Created. AppSecret (shown only now): {secret}"),
        ))
        .into_response(),
        Err(error) => Redirect::to(&with_flash("/developer", FlashKind::Bad, &refused(&error)))
            .into_response(),
    }
}

/// The signed-in developer's own app, or the page that says why not.
async fn own_app(
    state: &MiniAppState,
    headers: &HeaderMap,
    appid: &str,
) -> Result<(Viewer, MiniApp), Response> {
    let (viewer, who) = who(state, headers).await;
    let Some((_, Some(developer_id))) = who else {
        return Err(signin_redirect(&format!("/developer/apps/{appid}")));
    };
    match state.miniapps.app(appid).await {
        Ok(Some(app)) if app.developer_id == developer_id => Ok((viewer, app)),
        Ok(_) => {
            Err(ErrorPage::not_found("No mini program of yours has this appid.").into_response())
        }
        Err(error) => Err(ErrorPage::bad_request(error.to_string()).into_response()),
    }
}

fn lines(items: &[String]) -> String {
    escape(&items.join("\n"))
}

/// # `GET /developer/apps/{appid}`
pub(crate) async fn app_page(
    State(state): State<MiniAppState>,
    headers: HeaderMap,
    Path(appid): Path<String>,
    PageQuery(flash): PageQuery<Flash>,
) -> Response {
    let (viewer, app) = match own_app(&state, &headers, &appid).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let code = state.miniapps.code_state(&appid).await.unwrap_or_default();
    let versions = state.miniapps.versions(&appid).await.unwrap_or_default();
    let body = format!(
        "{flash}{overview}{settings}{versions}{analytics}{ads}",
        flash = flash.html(),
        overview = overview(&app, &code),
        settings = settings_card(&app),
        versions = versions_card(&app, &code, &versions),
        analytics = analytics_card(&state, &app).await,
        ads = ads_card(&state, &app).await,
    );
    page(&viewer, &app.name, &body)
}

fn overview(app: &MiniApp, code: &CodeState) -> String {
    format!(
        "<div class=\"card\" id=\"overview\"><h2>{name}</h2><p><code id=\"appid\">{appid}</code> · release {release} · \
         review {review} · merchant {mchid}</p><p><a href=\"/mp/{appid}/qr\">Its code (QR)</a> · \
         <a href=\"/app/mp/{appid}\">Open the release</a>{trial}</p>\
         <form method=\"post\" action=\"/developer/apps/{appid}/secret\"><button class=\"secondary small\" id=\"reset-secret\">Reset the AppSecret</button> \
         <span class=\"muted\">The old secret stops working at once; tokens already issued keep working until they end.</span></form></div>",
        name = escape(&app.name),
        appid = escape(&app.appid),
        release = code
            .release
            .map_or_else(|| "none yet".to_owned(), |v| format!("v{v}")),
        review = review_text(code),
        mchid = app
            .mchid
            .as_deref()
            .map_or_else(|| "none".to_owned(), escape),
        trial = if code.trial.is_some() {
            format!(
                " · <a href=\"/app/mp/{}?env_version=trial\">Open the trial version</a>",
                escape(&app.appid)
            )
        } else {
            String::new()
        },
    )
}

fn settings_card(app: &MiniApp) -> String {
    format!(
        "<div class=\"card\"><h2>Settings</h2><form method=\"post\" action=\"/developer/apps/{appid}\" class=\"stacked\" id=\"settings\">\
         <label>Name <input name=\"name\" value=\"{name}\" maxlength=\"30\"></label>\
         <label>Icon <input name=\"icon\" value=\"{icon}\" maxlength=\"2\"></label>\
         <label>Category <input name=\"category\" value=\"{category}\" maxlength=\"20\"></label>\
         <label>Description <input name=\"description\" value=\"{description}\" maxlength=\"200\"></label>\
         <label>Service keywords (one per line) <textarea name=\"service_keywords\" rows=\"3\">{keywords}</textarea></label>\
         <label>Request domains (one origin per line) <textarea name=\"request_domains\" rows=\"3\">{domains}</textarea></label>\
         <label>Testers (user ids, one per line) <textarea name=\"testers\" rows=\"2\">{testers}</textarea></label>\
         <button id=\"save-settings\">Save</button></form></div>",
        appid = escape(&app.appid),
        name = escape(&app.name),
        icon = escape(&app.icon),
        category = escape(&app.category),
        description = escape(&app.description),
        keywords = lines(&app.service_keywords),
        domains = lines(&app.request_domains),
        testers = lines(&app.testers),
    )
}

fn versions_card(app: &MiniApp, code: &CodeState, versions: &[CodeVersion]) -> String {
    let appid = escape(&app.appid);
    let rows: String = versions
        .iter()
        .map(|version| {
            let mut marks = Vec::new();
            if code.release == Some(version.version) {
                marks.push("release".to_owned());
            }
            if code.trial == Some(version.version) {
                marks.push("trial".to_owned());
            }
            if let Some(audit) = code.audit.as_ref().filter(|audit| audit.version == version.version) {
                marks.push(review_text(&CodeState { audit: Some(audit.clone()), ..CodeState::default() }));
            }
            let button = |action: &str, label: &str| {
                format!(
                    "<form method=\"post\" action=\"/developer/apps/{appid}/versions/{v}/{action}\" class=\"inline\">\
                     <button class=\"secondary small\" id=\"{action}-{v}\">{label}</button></form>",
                    v = version.version
                )
            };
            format!(
                "<tr><td>v{v}</td><td>{user_version}</td><td>{pages}</td><td>{marks}</td><td>{trial}{submit}</td></tr>",
                v = version.version,
                user_version = escape(&version.user_version),
                pages = version.config.pages.len(),
                marks = marks.join(" · "),
                trial = button("trial", "Make trial"),
                submit = button("submit", "Submit for review"),
            )
        })
        .collect();
    format!(
        "<div class=\"card\"><h2>Code versions</h2>{table}\
         <form id=\"upload\" data-appid=\"{appid}\" class=\"inline\"><label>Package (zip, ≤ 2 MB) <input type=\"file\" id=\"package\" accept=\".zip\" required></label> \
         <label>Version <input id=\"user-version\" value=\"1.0.{next}\" maxlength=\"64\"></label> <button id=\"upload-package\">Upload</button></form>\
         <p class=\"mp-upload-state muted\" id=\"upload-state\"></p><div class=\"actions\">\
         <form method=\"post\" action=\"/developer/apps/{appid}/release\" class=\"inline\"><button id=\"release\">Release the approved version</button></form>\
         <form method=\"post\" action=\"/developer/apps/{appid}/rollback\" class=\"inline\"><button class=\"secondary\" id=\"rollback\">Roll back</button></form></div></div>\
         <script type=\"module\" src=\"/static/developer.js\"></script>",
        table = table(
            "versions",
            &["Version", "Name", "Pages", "State", ""],
            &rows,
            "No version uploaded yet."
        ),
        next = versions.len(),
    )
}

async fn analytics_card(state: &MiniAppState, app: &MiniApp) -> String {
    let today = plaza_miniapp::china_day(state.http.clock.now());
    let mut rows = String::new();
    for day in (today - 6..=today).rev() {
        let visits = state
            .miniapps
            .day_visits(&app.appid, day)
            .await
            .unwrap_or_default();
        rows.push_str(&format!(
            "<tr><td>{date}</td><td>{opens}</td><td>{uv}</td><td>{new}</td><td>{pv}</td></tr>",
            date = day_text(day),
            opens = visits.session_cnt,
            uv = visits.visit_uv,
            new = visits.visit_uv_new,
            pv = visits.visit_pv,
        ));
    }
    format!(
        "<div class=\"card\"><h2>Visits (last 7 days)</h2>{}</div>",
        table(
            "visits",
            &["Day", "Opens", "Daily users", "New users", "Page views"],
            &rows,
            ""
        )
    )
}

fn day_text(day: i64) -> String {
    jiff::civil::date(1970, 1, 1)
        .checked_add(jiff::Span::new().days(day))
        .map(|date| date.to_string())
        .unwrap_or_default()
}

async fn ads_card(state: &MiniAppState, app: &MiniApp) -> String {
    let slots = state.miniapps.slots(&app.appid).await.unwrap_or_default();
    let slot_rows: String = slots
        .iter()
        .map(|slot| {
            format!(
                "<tr><td>{name}</td><td><code>{id}</code></td><td>{state}</td></tr>",
                name = escape(&slot.name),
                id = escape(&slot.slot_id),
                state = if slot.enabled { "enabled" } else { "disabled" },
            )
        })
        .collect();
    let days = crate::ads_api::ad_days(state, &app.appid)
        .await
        .unwrap_or_default();
    let day_rows: String = days
        .iter()
        .take(7)
        .map(|day| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(day["date"].as_str().unwrap_or("")),
                day["impressions"],
                day["clicks"],
                plaza_http::web::money(day["developer_share_minor"].as_i64().unwrap_or(0)),
            )
        })
        .collect();
    let income = state
        .miniapps
        .ad_income(&app.developer_id)
        .await
        .unwrap_or(0);
    format!(
        "<div class=\"card\" id=\"ads\"><h2>Ads</h2><p>Ad income of this developer account: <strong id=\"ad-income\">{income}</strong> \
         <span class=\"muted\">(50% of what your slots earn, paid at each month's end)</span></p>{slots}\
         <form method=\"post\" action=\"/developer/apps/{appid}/ad-slots\" class=\"inline\"><label>New slot <input name=\"name\" maxlength=\"20\" required></label> <button id=\"add-slot\">Add</button></form>\
         <h3>Daily income (estimated)</h3>{days}</div>",
        income = plaza_http::web::money(income),
        slots = table(
            "slots",
            &["Slot", "adUnitId", "State"],
            &slot_rows,
            "No ad slot yet."
        ),
        appid = escape(&app.appid),
        days = table(
            "ad-days",
            &["Day", "Impressions", "Clicks", "Your share"],
            &day_rows,
            ""
        ),
    )
}

#[derive(Debug, Deserialize)]
pub(crate) struct SettingsForm {
    name: String,
    icon: String,
    category: String,
    description: String,
    service_keywords: String,
    request_domains: String,
    testers: String,
}

fn split_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// # `POST /developer/apps/{appid}`
pub(crate) async fn save_settings(
    State(state): State<MiniAppState>,
    headers: HeaderMap,
    Path(appid): Path<String>,
    PageForm(form): PageForm<SettingsForm>,
) -> Response {
    if let Err(response) = own_app(&state, &headers, &appid).await {
        return response;
    }
    let settings = AppSettings {
        name: Some(form.name.trim().to_owned()),
        icon: Some(form.icon.trim().to_owned()),
        category: Some(form.category.trim().to_owned()),
        description: Some(form.description.trim().to_owned()),
        service_keywords: Some(split_lines(&form.service_keywords)),
        service_pages: None,
        request_domains: Some(split_lines(&form.request_domains)),
        testers: Some(split_lines(&form.testers)),
        ext_config: None,
    };
    let back = format!("/developer/apps/{appid}");
    match state.miniapps.update_settings(&appid, settings).await {
        Ok(_) => Redirect::to(&with_flash(&back, FlashKind::Good, "Saved.")).into_response(),
        Err(error) => {
            Redirect::to(&with_flash(&back, FlashKind::Bad, &refused(&error))).into_response()
        }
    }
}

/// Runs a change of the app and returns to its page with what happened.
async fn act<T>(
    state: &MiniAppState,
    headers: &HeaderMap,
    appid: &str,
    done: impl FnOnce(T) -> String,
    change: impl Future<Output = Result<T, MiniAppError>>,
) -> Response {
    if let Err(response) = own_app(state, headers, appid).await {
        return response;
    }
    let back = format!("/developer/apps/{appid}");
    match change.await {
        Ok(value) => {
            Redirect::to(&with_flash(&back, FlashKind::Good, &done(value))).into_response()
        }
        Err(error) => {
            Redirect::to(&with_flash(&back, FlashKind::Bad, &refused(&error))).into_response()
        }
    }
}

/// # `POST /developer/apps/{appid}/secret`
pub(crate) async fn reset_secret(
    State(state): State<MiniAppState>,
    headers: HeaderMap,
    Path(appid): Path<String>,
) -> Response {
    act(
        &state,
        &headers,
        &appid,
        |(_, secret)| format!("New AppSecret (shown only now): {secret}"),
        state.miniapps.reset_secret(&appid),
    )
    .await
}

/// # `POST /developer/apps/{appid}/versions/{version}/{trial|submit}`
pub(crate) async fn version_action(
    State(state): State<MiniAppState>,
    headers: HeaderMap,
    Path((appid, version, action)): Path<(String, u32, String)>,
) -> Response {
    match action.as_str() {
        "trial" => {
            act(
                &state,
                &headers,
                &appid,
                |_| format!("v{version} is the trial version."),
                state.miniapps.set_trial(&appid, version),
            )
            .await
        }
        "submit" => {
            act(
                &state,
                &headers,
                &appid,
                |_| format!("v{version} is submitted for review."),
                state.miniapps.submit_audit(&appid, version),
            )
            .await
        }
        _ => ErrorPage::not_found("No such action.").into_response(),
    }
}

/// # `POST /developer/apps/{appid}/release`
pub(crate) async fn release(
    State(state): State<MiniAppState>,
    headers: HeaderMap,
    Path(appid): Path<String>,
) -> Response {
    act(
        &state,
        &headers,
        &appid,
        |code: CodeState| format!("Released v{}.", code.release.unwrap_or(0)),
        state.miniapps.release(&appid),
    )
    .await
}

/// # `POST /developer/apps/{appid}/rollback`
pub(crate) async fn rollback(
    State(state): State<MiniAppState>,
    headers: HeaderMap,
    Path(appid): Path<String>,
) -> Response {
    act(
        &state,
        &headers,
        &appid,
        |code: CodeState| format!("Rolled back to v{}.", code.release.unwrap_or(0)),
        state.miniapps.rollback(&appid),
    )
    .await
}

#[derive(Debug, Deserialize)]
pub(crate) struct SlotForm {
    name: String,
}

/// # `POST /developer/apps/{appid}/ad-slots`
pub(crate) async fn add_slot(
    State(state): State<MiniAppState>,
    headers: HeaderMap,
    Path(appid): Path<String>,
    PageForm(form): PageForm<SlotForm>,
) -> Response {
    act(
        &state,
        &headers,
        &appid,
        |slot: plaza_miniapp::ads::AdSlot| format!("Slot {} added.", slot.slot_id),
        state.miniapps.add_slot(&appid, form.name.trim()),
    )
    .await
}
