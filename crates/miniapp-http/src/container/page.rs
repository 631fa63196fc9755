//! The container's pages and files: the list of released mini programs (Discover →
//! 小程序), the container page itself, package files behind capability URLs, and the
//! scripts.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use plaza_http::extract::{constant_time_eq, hmac_hex};
use plaza_http::web::{
    AppPage, AppTab, ErrorPage, app_layout, app_user, asset, empty_state, escape, signin_redirect,
    tile, viewer,
};
use plaza_miniapp::container::Flavor;
use plaza_miniapp::model::CodeVersion;
use plaza_miniapp::{MiniApp, MiniAppError};

use crate::MiniAppState;

const CONTAINER_JS: &str = include_str!("../../../../web/mp-container.js");
const WX_JS: &str = include_str!("../../../../web/wx.js");
const STYLESHEET: &str = include_str!("../../../../web/miniapp.css");

/// What sandboxes a package file wherever it is opened: an opaque origin (no Plaza
/// cookies, storage or pages), scripts and forms only, and no network of its own
/// (`wx.request` goes through the container).
const PACKAGE_CSP: &str = "sandbox allow-scripts allow-forms; default-src 'self' data: blob:; \
     script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; \
     connect-src 'none'; form-action 'none'; frame-ancestors 'self'; base-uri 'none'";

pub(crate) async fn wx_js() -> Response {
    asset("text/javascript; charset=utf-8", WX_JS).await
}

pub(crate) async fn container_js() -> Response {
    asset("text/javascript; charset=utf-8", CONTAINER_JS).await
}

pub(crate) async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", STYLESHEET).await
}

/// The capability segment of a version's files: `appid.version.tag`, the tag an HMAC
/// under the cookie secret, so only a container page that let the user run the
/// version hands its files out.
fn package_token(state: &MiniAppState, appid: &str, version: u32) -> String {
    let tag = hmac_hex(
        &state.http.token_secret,
        format!("mp-pkg\n{appid}\n{version}").as_bytes(),
    );
    format!("{appid}.{version}.{}", &tag[..32])
}

fn open_token(state: &MiniAppState, token: &str) -> Option<(String, u32)> {
    let mut parts = token.splitn(3, '.');
    let appid = parts.next()?;
    let version: u32 = parts.next()?.parse().ok()?;
    let tag = parts.next()?;
    let expected = package_token(state, appid, version);
    constant_time_eq(expected.as_bytes(), token.as_bytes()).then(|| {
        let _ = tag;
        (appid.to_owned(), version)
    })
}

/// # `GET /mp-pkg/{appid.version.tag}/{path}`
///
/// A file of a package, sandboxed by its `Content-Security-Policy`.
pub(crate) async fn package_file(
    State(state): State<MiniAppState>,
    Path((token, path)): Path<(String, String)>,
) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "no such file").into_response();
    let Some((appid, number)) = open_token(&state, &token) else {
        return not_found();
    };
    let Ok(version) = state.miniapps.version(&appid, number).await else {
        return not_found();
    };
    match state.miniapps.package_file(&version, &path).await {
        Ok(Some((bytes, content_type))) => (
            [
                (header::CONTENT_TYPE, content_type),
                (header::CONTENT_SECURITY_POLICY, PACKAGE_CSP),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CACHE_CONTROL, "private, max-age=3600"),
                (header::REFERRER_POLICY, "no-referrer"),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => not_found(),
        Err(error) => {
            tracing::error!(%error, %appid, number, "reading a package file");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the package store is unavailable",
            )
                .into_response()
        }
    }
}

/// # `GET /app/mp`
///
/// Released mini programs, as Discover lists them.
pub(crate) async fn directory(State(state): State<MiniAppState>, headers: HeaderMap) -> Response {
    let viewer = viewer(&state.http, &headers).await;
    let apps = match state.miniapps.released_apps(200).await {
        Ok(apps) => apps,
        Err(error) => {
            tracing::error!(%error, "listing released mini programs");
            Vec::new()
        }
    };
    let rows: String = apps
        .iter()
        .map(|app| {
            format!(
                "<li><a href=\"/app/mp/{appid}\" id=\"mp-{appid}\">{tile}<span>{name}<small class=\"muted\">{description}</small></span></a></li>",
                appid = escape(&app.appid),
                tile = tile(&app.icon, &app.name),
                name = escape(&app.name),
                description = escape(&app.description),
            )
        })
        .collect();
    let body = if rows.is_empty() {
        empty_state(
            "No mini programs yet",
            "Mini programs appear here once a developer releases one.",
            None,
        )
    } else {
        format!(
            "<div class=\"card rows-card\"><ul class=\"entries mp-list\" id=\"miniapps\">{rows}</ul></div>"
        )
    };
    app_layout(
        AppPage::below(AppTab::Discover, "小程序 Mini Programs", "/app/discover"),
        &viewer,
        &body,
    )
    .into_response()
}

/// Which version the query asks for (`env_version`, `dev_version`), and the rest of
/// the query, which is the page's.
fn split_query(raw: Option<&str>) -> (Flavor, String) {
    let mut flavor = Flavor::Release;
    let mut develop = None;
    let mut env = "release".to_owned();
    let mut rest = Vec::new();
    for pair in raw.unwrap_or("").split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "env_version" => env = value.to_owned(),
            "dev_version" => develop = value.parse().ok(),
            _ => rest.push(pair.to_owned()),
        }
    }
    if env == "trial" {
        flavor = Flavor::Trial;
    } else if env == "develop" {
        flavor = Flavor::Develop(develop.unwrap_or(0));
    }
    (flavor, rest.join("&"))
}

/// # `GET /app/mp/{appid}[/{page}][?query]`
///
/// The container: the mini program's page in a sandboxed frame, with its title bar and
/// tab bar, and the sheets of the calls that need the user.
pub(crate) async fn container(
    State(state): State<MiniAppState>,
    headers: HeaderMap,
    path: Path<Vec<(String, String)>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let appid = path
        .iter()
        .find(|(name, _)| name == "appid")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let page = path
        .iter()
        .find(|(name, _)| name == "page")
        .map(|(_, v)| v.trim_end_matches(".html").to_owned());
    let here = format!(
        "/app/mp/{appid}{}{}",
        page.as_deref()
            .map(|page| format!("/{page}"))
            .unwrap_or_default(),
        raw.as_deref()
            .map(|query| format!("?{query}"))
            .unwrap_or_default()
    );
    let viewer = viewer(&state.http, &headers).await;
    let Some(user) = app_user(&viewer) else {
        return signin_redirect(&here);
    };
    let (flavor, page_query) = split_query(raw.as_deref());
    let (app, version) = match state.miniapps.runnable(&appid, &user.user_id, flavor).await {
        Ok(found) => found,
        Err(error) => return refusal(&error).into_response(),
    };
    let page = page.unwrap_or_else(|| version.config.pages.first().cloned().unwrap_or_default());
    if !version.config.pages.contains(&page) {
        return ErrorPage::not_found(format!("页面不存在 {} has no page {page}", app.name))
            .back("/app/mp", "小程序 Mini Programs")
            .into_response();
    }
    let body = container_body(&state, &app, &version, flavor, &page, &page_query);
    let title = if version.config.window_title.is_empty() {
        app.name
    } else {
        version.config.window_title
    };
    let mut response = app_layout(
        AppPage::below(AppTab::Discover, &title, "/app/mp"),
        &viewer,
        &body,
    )
    .into_response();
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

fn refusal(error: &MiniAppError) -> ErrorPage {
    let page = match error {
        MiniAppError::AppNotFound { .. } => {
            ErrorPage::not_found("这个小程序不存在 No such mini program.")
        }
        MiniAppError::NotYourApp { .. } => ErrorPage::new(
            StatusCode::FORBIDDEN,
            "Not for you",
            "这个版本只对开发者和体验者开放 This version is open to the developer and testers only.",
        ),
        MiniAppError::VersionState { problem, .. } => {
            ErrorPage::not_found(format!("暂未发布 {problem}."))
        }
        MiniAppError::VersionNotFound { version } => {
            ErrorPage::not_found(format!("No version {version}."))
        }
        other => ErrorPage::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            other.to_string(),
        ),
    };
    page.back("/app/mp", "小程序 Mini Programs")
}

fn container_body(
    state: &MiniAppState,
    app: &MiniApp,
    version: &CodeVersion,
    flavor: Flavor,
    page: &str,
    query: &str,
) -> String {
    let base = format!(
        "/mp-pkg/{}/",
        package_token(state, &app.appid, version.version)
    );
    let pages = serde_json::to_string(&version.config.pages).unwrap_or_else(|_| "[]".to_owned());
    let ext = serde_json::to_string(&app.ext_config).unwrap_or_else(|_| "{}".to_owned());
    let tabs: String = version
        .config
        .tab_bar
        .iter()
        .map(|(tab_page, text)| {
            format!(
                "<button type=\"button\" data-page=\"{page}\" class=\"mp-tab\">{text}</button>",
                page = escape(tab_page),
                text = escape(text)
            )
        })
        .collect();
    let tabbar = if tabs.is_empty() {
        String::new()
    } else {
        format!("<nav class=\"mp-tabbar\" id=\"mp-tabbar\">{tabs}</nav>")
    };
    let badge = match flavor {
        Flavor::Release => String::new(),
        Flavor::Trial => "<div class=\"mp-env\" id=\"mp-env\">体验版 Trial</div>".to_owned(),
        Flavor::Develop(number) => {
            format!("<div class=\"mp-env\" id=\"mp-env\">开发版 Development · v{number}</div>")
        }
    };
    format!(
        "<link rel=\"stylesheet\" href=\"/static/miniapp.css\">\
         <div class=\"mp\" id=\"mp\" data-appid=\"{appid}\" data-name=\"{name}\" data-version=\"{number}\" \
         data-base=\"{base}\" data-page=\"{page}\" data-query=\"{query}\" data-pages=\"{pages}\" data-title=\"{title}\" data-ext=\"{ext}\">\
         {badge}<iframe id=\"mp-view\" title=\"{name}\" sandbox=\"allow-scripts allow-forms\" referrerpolicy=\"no-referrer\"></iframe>\
         {tabbar}<div class=\"mp-layer\" id=\"mp-layer\" hidden></div></div>\
         <script type=\"module\" src=\"/static/mp-container.js\"></script>",
        appid = escape(&app.appid),
        name = escape(&app.name),
        number = version.version,
        base = escape(&base),
        page = escape(page),
        query = escape(query),
        pages = escape(&pages),
        ext = escape(&ext),
        title = escape(&version.config.window_title),
    )
}

/// # `GET /mp/{appid}/qr`
///
/// The mini program's code, as a poster shows it: scanning it (or following the link)
/// opens the released version in the container.
pub(crate) async fn qr_page(
    State(state): State<MiniAppState>,
    headers: HeaderMap,
    Path(appid): Path<String>,
) -> Response {
    let viewer = viewer(&state.http, &headers).await;
    let app = match state.miniapps.existing_app(&appid).await {
        Ok(app) => app,
        Err(error) => return refusal(&error).into_response(),
    };
    let body = format!(
        "<link rel=\"stylesheet\" href=\"/static/miniapp.css\">\
         <div class=\"card mp-poster\" id=\"mp-poster\">{tile}<h2>{name}</h2><p class=\"muted\">{description}</p>\
         <img id=\"mp-qr\" src=\"/mp/{appid}/qr.png\" alt=\"{name} 小程序码\" width=\"240\" height=\"240\">\
         <p class=\"muted\">用 Plaza 扫一扫 Scan with Plaza</p>\
         <a class=\"button\" id=\"mp-open\" href=\"/app/mp/{appid}\">打开小程序 Open</a></div>",
        tile = tile(&app.icon, &app.name),
        name = escape(&app.name),
        description = escape(&app.description),
        appid = escape(&app.appid),
    );
    app_layout(
        AppPage::below(AppTab::Discover, "小程序码 Mini program code", "/app/mp"),
        &viewer,
        &body,
    )
    .into_response()
}

/// # `GET /mp/{appid}/qr.png`
///
/// The code behind [`qr_page`]: a PNG QR code of the container URL.
pub(crate) async fn qr_png(
    State(state): State<MiniAppState>,
    Path(appid): Path<String>,
) -> Response {
    if state.miniapps.existing_app(&appid).await.is_err() {
        return (StatusCode::NOT_FOUND, "no such mini program").into_response();
    }
    let url = format!(
        "{}/app/mp/{appid}",
        state.http.public_base_url.trim_end_matches('/')
    );
    match crate::qr::png(&url, 480, [0, 0, 0], false) {
        Ok(png) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "public, max-age=300"),
            ],
            png,
        )
            .into_response(),
        Err(problem) => (StatusCode::INTERNAL_SERVER_ERROR, problem).into_response(),
    }
}
