//! The rest of the server API: phone numbers (`getuserphonenumber`), content security
//! (`msg_sec_check` against the operator's word list), visit analytics (`datacube`)
//! and mini-program codes (`getwxacodeunlimit`, `getwxacode`, `createwxaqrcode`: PNG
//! QR codes that open the page in Plaza's container).

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use plaza_miniapp::MiniAppError;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::MiniAppState;
use crate::wire::{AppToken, WxError, WxJson};

pub(crate) fn router() -> Router<MiniAppState> {
    Router::new()
        .route("/wxa/business/getuserphonenumber", post(phone_number))
        .route("/wxa/msg_sec_check", post(msg_sec_check))
        .route(
            "/datacube/getweanalysisappiddailyvisittrend",
            post(daily_visit_trend),
        )
        .route(
            "/datacube/getweanalysisappiddailysummarytrend",
            post(daily_summary_trend),
        )
        .route("/wxa/getwxacodeunlimit", post(wxacode_unlimit))
        .route("/wxa/getwxacode", post(wxacode))
        .route("/cgi-bin/wxaapp/createwxaqrcode", post(qrcode))
}

fn ok(mut body: Value) -> Response {
    body["errcode"] = json!(0);
    body["errmsg"] = json!("ok");
    axum::Json(body).into_response()
}

#[derive(Debug, Deserialize)]
struct PhoneBody {
    #[serde(default)]
    code: String,
}

/// # `POST /wxa/business/getuserphonenumber`
///
/// `{code}` from the container's `getPhoneNumber` → `{phone_info}`, once.
async fn phone_number(
    State(state): State<MiniAppState>,
    app: AppToken,
    WxJson(body): WxJson<PhoneBody>,
) -> Result<Response, WxError> {
    if body.code.is_empty() {
        return Err(MiniAppError::Missing { name: "code" }.into());
    }
    let phone = state.miniapps.phone_number(&app.appid, &body.code).await?;
    let (country, pure) = match phone.strip_prefix('+') {
        Some(rest) if rest.starts_with("86") => ("86".to_owned(), rest[2..].to_owned()),
        Some(rest) => (
            rest.chars().take(rest.len().saturating_sub(10)).collect(),
            rest.chars().skip(rest.len().saturating_sub(10)).collect(),
        ),
        None => ("86".to_owned(), phone.clone()),
    };
    let shown = if country == "86" {
        pure.clone()
    } else {
        format!("+{country}{pure}")
    };
    Ok(ok(json!({
        "phone_info": {
            "phoneNumber": shown,
            "purePhoneNumber": pure,
            "countryCode": country,
            "watermark": {"timestamp": state.http.wall_clock.now().unix_ms() / 1_000, "appid": app.appid},
        }
    })))
}

#[derive(Debug, Deserialize)]
struct SecCheckBody {
    #[serde(default)]
    version: Option<Value>,
    #[serde(default)]
    content: String,
    #[serde(default)]
    nickname: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    openid: Option<String>,
    #[serde(default)]
    scene: Option<Value>,
}

/// # `POST /wxa/msg_sec_check`
///
/// v1 `{content}`: `errcode` 0, or `87014` for risky content. v2 `{version: 2, openid,
/// scene (1–4), content, nickname?, title?, signature?}`: `result.suggest` (`pass`,
/// `review`, `risky`) and `label`, with `detail` and a `trace_id`.
async fn msg_sec_check(
    State(state): State<MiniAppState>,
    _app: AppToken,
    WxJson(body): WxJson<SecCheckBody>,
) -> Result<Response, WxError> {
    let v2 = matches!(&body.version, Some(Value::Number(n)) if n.as_u64() == Some(2))
        || matches!(&body.version, Some(Value::String(s)) if s == "2");
    if body.content.chars().count() > 2_500 {
        return Err(WxError::new(
            47001,
            "data format error: content is at most 2500 characters",
        ));
    }
    let texts: Vec<&str> = [
        Some(body.content.as_str()),
        body.nickname.as_deref(),
        body.title.as_deref(),
        body.signature.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let verdict = state.miniapps.check_text(&texts).await?;
    if !v2 {
        if verdict.suggest == "risky" {
            return Err(WxError::new(87014, "risky content"));
        }
        return Ok(ok(json!({})));
    }
    if body.openid.as_deref().is_none_or(str::is_empty) {
        return Err(WxError::new(
            40003,
            "invalid openid: v2 needs the user's openid",
        ));
    }
    let scene = body.scene.as_ref().and_then(|scene| match scene {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    });
    if !scene.is_some_and(|scene| (1..=4).contains(&scene)) {
        return Err(WxError::new(
            47001,
            "data format error: scene is 1 (profile), 2 (comment), 3 (forum) or 4 (social log)",
        ));
    }
    let trace_id = format!("{:016x}", rand::random::<u64>());
    Ok(ok(json!({
        "result": {"suggest": verdict.suggest, "label": verdict.label},
        "detail": [{
            "strategy": "content_model",
            "errcode": 0,
            "suggest": verdict.suggest,
            "label": verdict.label,
            "prob": if verdict.keyword.is_some() { 90 } else { 0 },
            "keyword": verdict.keyword.unwrap_or_default(),
        }],
        "trace_id": trace_id,
    })))
}

#[derive(Debug, Deserialize)]
struct DatesBody {
    #[serde(default)]
    begin_date: String,
    #[serde(default)]
    end_date: String,
}

/// The one China day a datacube request asks about: `begin_date` = `end_date`
/// (`yyyymmdd`), before today. `61500` for a malformed date, `61501` for a range that is
/// not one past day.
fn one_past_day(state: &MiniAppState, body: &DatesBody) -> Result<(i64, String), WxError> {
    let parse = |text: &str| {
        jiff::civil::Date::strptime("%Y%m%d", text)
            .ok()
            .filter(|_| text.len() == 8)
            .ok_or_else(|| {
                WxError::new(
                    61500,
                    format!("date format error: {text:?} is not yyyymmdd"),
                )
            })
    };
    let begin = parse(&body.begin_date)?;
    let end = parse(&body.end_date)?;
    let epoch = jiff::civil::date(1970, 1, 1);
    let day = i64::from(
        begin
            .since(epoch)
            .map_err(|_| WxError::new(61500, "date format error"))?
            .get_days(),
    );
    let today = plaza_miniapp::china_day(state.http.clock.now());
    if begin != end || day >= today {
        return Err(WxError::new(
            61501,
            "date range error: one day, at most yesterday (China time)",
        ));
    }
    Ok((day, body.begin_date.clone()))
}

/// # `POST /datacube/getweanalysisappiddailyvisittrend`
///
/// One past day's opens, page views, daily active and new visitors, time per visitor
/// and per open, pages per open — from the container's visits.
async fn daily_visit_trend(
    State(state): State<MiniAppState>,
    app: AppToken,
    WxJson(body): WxJson<DatesBody>,
) -> Result<Response, WxError> {
    let (day, ref_date) = one_past_day(&state, &body)?;
    let visits = state.miniapps.day_visits(&app.appid, day).await?;
    let per = |total: u64, count: u64| {
        if count == 0 {
            0.0
        } else {
            ((total as f64 / count as f64) * 10_000.0).round() / 10_000.0
        }
    };
    let stay_s = visits.stay_ms / 1_000;
    Ok(axum::Json(json!({
        "list": [{
            "ref_date": ref_date,
            "session_cnt": visits.session_cnt,
            "visit_pv": visits.visit_pv,
            "visit_uv": visits.visit_uv,
            "visit_uv_new": visits.visit_uv_new,
            "stay_time_uv": per(stay_s, visits.visit_uv),
            "stay_time_session": per(stay_s, visits.session_cnt),
            "visit_depth": per(visits.visit_pv, visits.session_cnt),
        }]
    }))
    .into_response())
}

/// # `POST /datacube/getweanalysisappiddailysummarytrend`
///
/// One past day's cumulative visitors (`visit_total`); shares are not counted yet (0).
async fn daily_summary_trend(
    State(state): State<MiniAppState>,
    app: AppToken,
    WxJson(body): WxJson<DatesBody>,
) -> Result<Response, WxError> {
    let (day, ref_date) = one_past_day(&state, &body)?;
    let visits = state.miniapps.day_visits(&app.appid, day).await?;
    Ok(axum::Json(json!({
        "list": [{"ref_date": ref_date, "visit_total": visits.visit_total, "share_pv": 0, "share_uv": 0}]
    }))
    .into_response())
}

#[derive(Debug, Deserialize)]
struct UnlimitBody {
    #[serde(default)]
    scene: String,
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    check_path: Option<bool>,
    #[serde(default)]
    env_version: Option<String>,
    #[serde(default)]
    width: Option<Value>,
    #[serde(default)]
    line_color: Option<Value>,
    #[serde(default)]
    is_hyaline: Option<bool>,
    /// Accepted: a QR code is drawn in its line colour either way.
    #[serde(default, rename = "auto_color")]
    _auto_color: Option<bool>,
}

fn number(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A code's look: its width in pixels, line colour, transparent background.
struct Look {
    width: u32,
    rgb: [u8; 3],
    hyaline: bool,
}

fn look(
    width: Option<&Value>,
    line_color: Option<&Value>,
    hyaline: Option<bool>,
) -> Result<Look, WxError> {
    let width = match number(width) {
        None => 430,
        Some(width) if (280..=1280).contains(&width) => u32::try_from(width).unwrap_or(430),
        Some(_) => return Err(WxError::new(40097, "invalid args: width is 280 to 1280")),
    };
    let channel = |color: &Value, name: &str| {
        number(color.get(name)).and_then(|value| u8::try_from(value).ok())
    };
    let rgb = match line_color {
        None | Some(Value::Null) => [0, 0, 0],
        Some(color) => match (
            channel(color, "r"),
            channel(color, "g"),
            channel(color, "b"),
        ) {
            (Some(r), Some(g), Some(b)) => [r, g, b],
            _ => {
                return Err(WxError::new(
                    40097,
                    "invalid args: line_color is {r, g, b}, each 0 to 255",
                ));
            }
        },
    };
    Ok(Look {
        width,
        rgb,
        hyaline: hyaline.unwrap_or(false),
    })
}

fn png_response(state: &MiniAppState, path: &str, look: &Look) -> Result<Response, WxError> {
    let url = format!("{}{path}", state.http.public_base_url.trim_end_matches('/'));
    let png = crate::qr::png(&url, look.width, look.rgb, look.hyaline)
        .map_err(|problem| WxError::new(-1, format!("system error: {problem}")))?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

/// A page path as codes take it: no leading `/`, no query, no `.html`.
fn page_path(page: &str) -> String {
    page.trim_start_matches('/')
        .trim_end_matches(".html")
        .to_owned()
}

/// # `POST /wxa/getwxacodeunlimit`
///
/// A PNG QR code of the container URL `…/app/mp/{appid}/{page}?scene={scene}`:
/// `scene` 1–32 visible characters of WeChat's set, `page` a page of the released
/// version when `check_path` (else `41030`), `env_version` `release`/`trial`/`develop`.
async fn wxacode_unlimit(
    State(state): State<MiniAppState>,
    app: AppToken,
    WxJson(body): WxJson<UnlimitBody>,
) -> Result<Response, WxError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "!#$&'()*+,/:;=?@-._~".contains(c);
    if body.scene.is_empty() || body.scene.len() > 32 || !body.scene.chars().all(allowed) {
        return Err(WxError::new(
            40097,
            "invalid args: scene is 1 to 32 characters of [0-9A-Za-z!#$&'()*+,/:;=?@-._~]",
        ));
    }
    let env = body.env_version.as_deref().unwrap_or("release");
    if !["release", "trial", "develop"].contains(&env) {
        return Err(WxError::new(
            40097,
            "invalid args: env_version is release, trial or develop",
        ));
    }
    let page = body.page.as_deref().map(page_path).unwrap_or_default();
    if body.check_path.unwrap_or(true) && env != "develop" {
        let page_to_check = if page.is_empty() {
            None
        } else {
            Some(page.as_str())
        };
        let known = match page_to_check {
            Some(page) => {
                state
                    .miniapps
                    .has_page(&app.appid, page, env == "trial")
                    .await?
            }
            None => true,
        };
        if !known {
            return Err(WxError::new(
                41030,
                "invalid page: not a page of the released version",
            ));
        }
    }
    let look = look(
        body.width.as_ref(),
        body.line_color.as_ref(),
        body.is_hyaline,
    )?;
    let mut path = format!("/app/mp/{}", app.appid);
    if !page.is_empty() {
        path.push('/');
        path.push_str(&page);
    }
    path.push_str(&format!(
        "?scene={}",
        crate::qr::encode_component(&body.scene)
    ));
    if env != "release" {
        path.push_str(&format!("&env_version={env}"));
    }
    png_response(&state, &path, &look)
}

#[derive(Debug, Deserialize)]
struct PathBody {
    #[serde(default)]
    path: String,
    #[serde(default)]
    width: Option<Value>,
    #[serde(default)]
    line_color: Option<Value>,
    #[serde(default)]
    is_hyaline: Option<bool>,
}

async fn path_code(
    state: &MiniAppState,
    appid: &str,
    body: &PathBody,
) -> Result<Response, WxError> {
    if body.path.is_empty() || body.path.len() > 128 {
        return Err(WxError::new(40097, "invalid args: path is 1 to 128 bytes"));
    }
    let (page, query) = body.path.split_once('?').unwrap_or((&body.path, ""));
    let page = page_path(page);
    if !state.miniapps.has_page(appid, &page, false).await? {
        return Err(WxError::new(
            41030,
            "invalid page: not a page of the released version",
        ));
    }
    let look = look(
        body.width.as_ref(),
        body.line_color.as_ref(),
        body.is_hyaline,
    )?;
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    png_response(state, &format!("/app/mp/{appid}/{page}{query}"), &look)
}

/// # `POST /wxa/getwxacode`
///
/// `{path, width?, line_color?, is_hyaline?}`: a PNG QR code opening `path` (with its
/// query) in the container.
async fn wxacode(
    State(state): State<MiniAppState>,
    app: AppToken,
    WxJson(body): WxJson<PathBody>,
) -> Result<Response, WxError> {
    path_code(&state, &app.appid, &body).await
}

/// # `POST /cgi-bin/wxaapp/createwxaqrcode`
///
/// `{path, width?}`: the same as `getwxacode`.
async fn qrcode(
    State(state): State<MiniAppState>,
    app: AppToken,
    WxJson(body): WxJson<PathBody>,
) -> Result<Response, WxError> {
    path_code(&state, &app.appid, &body).await
}
