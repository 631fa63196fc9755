//! The operator's console for mini programs: every app, the review queue, the content
//! word list and the ad revenue share.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use plaza_http::web::{
    Flash, FlashKind, PageForm, PageQuery, Role, Viewer, console_layout, escape, money,
    signin_redirect, table, viewer, with_flash,
};
use plaza_miniapp::moderation::Word;
use serde::Deserialize;

use super::{SECTION_OPERATOR_APPS, SECTION_REVIEWS};
use crate::MiniAppState;

async fn operator(
    state: &MiniAppState,
    headers: &HeaderMap,
    here: &str,
) -> Result<Viewer, Response> {
    let viewer = viewer(&state.http, headers).await;
    if viewer.as_role(Role::OPERATOR).is_some() {
        Ok(viewer)
    } else {
        Err(signin_redirect(here))
    }
}

/// # `GET /console/miniapps`
///
/// Every mini program with its release and review, the ad revenue share so far, and the
/// content word list.
pub(crate) async fn apps(
    State(state): State<MiniAppState>,
    headers: HeaderMap,
    PageQuery(flash): PageQuery<Flash>,
) -> Response {
    let viewer = match operator(&state, &headers, "/console/miniapps").await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let apps = state.miniapps.apps(500).await.unwrap_or_default();
    let mut rows = String::new();
    for app in &apps {
        let code = state
            .miniapps
            .code_state(&app.appid)
            .await
            .unwrap_or_default();
        rows.push_str(&format!(
            "<tr><td>{name}</td><td><code>{appid}</code></td><td>{category}</td><td>{release}</td><td>{mchid}</td><td><a href=\"/mp/{appid}/qr\">code</a></td></tr>",
            name = escape(&app.name),
            appid = escape(&app.appid),
            category = escape(&app.category),
            release = code.release.map_or_else(|| "—".to_owned(), |v| format!("v{v}")),
            mchid = app.mchid.as_deref().map_or_else(|| "—".to_owned(), escape),
        ));
    }
    let payouts = state.miniapps.payouts(None, None).await.unwrap_or_default();
    let shared: i64 = payouts.iter().map(|p| p.developer_minor).sum();
    let platform: i64 = payouts.iter().map(|p| p.platform_minor).sum();
    let words = state.miniapps.word_list().await.unwrap_or_default();
    let word_lines: Vec<String> = words
        .words
        .iter()
        .map(|word| {
            format!(
                "{} {}{}",
                word.word,
                word.label,
                if word.risky { "" } else { " review" }
            )
        })
        .collect();
    let body = format!(
        "{flash}<div class=\"card\"><h2>Mini programs</h2>{table}</div>\
         <div class=\"card\" id=\"ad-share\"><h2>Ad revenue shared</h2><p>With developers: <strong id=\"ads-shared\">{shared}</strong> · \
         platform: {platform} · {months} payouts</p></div>\
         <div class=\"card\"><h2>Content word list (msg_sec_check)</h2>\
         <form method=\"post\" action=\"/console/miniapps/words\" class=\"stacked\"><label>One per line: word, label (20001 politics, 20002 porn, \
         20003 abuse, 20006 illegal, 20008 fraud, 20012 vulgar, 10001 ads, 21000 other), and <code>review</code> to review rather than refuse\
         <textarea name=\"words\" rows=\"6\" id=\"words\">{words}</textarea></label><button id=\"save-words\">Save</button></form></div>",
        flash = flash.html(),
        table = table(
            "miniapps",
            &["Name", "AppID", "Category", "Release", "Merchant", ""],
            &rows,
            "No mini program yet."
        ),
        shared = money(shared),
        platform = money(platform),
        months = payouts.len(),
        words = escape(&word_lines.join("\n")),
    );
    let body = format!("<link rel=\"stylesheet\" href=\"/static/miniapp.css\">{body}");
    console_layout(
        Role::OPERATOR,
        SECTION_OPERATOR_APPS,
        &viewer,
        "Mini programs",
        &body,
    )
    .into_response()
}

/// # `GET /console/miniapps/reviews`
///
/// Versions waiting for review, each with its pages and an approve or reject form.
pub(crate) async fn reviews(
    State(state): State<MiniAppState>,
    headers: HeaderMap,
    PageQuery(flash): PageQuery<Flash>,
) -> Response {
    let viewer = match operator(&state, &headers, "/console/miniapps/reviews").await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let pending = state.miniapps.reviews_pending().await.unwrap_or_default();
    let mut cards = String::new();
    for (appid, audit) in &pending {
        let Ok(app) = state.miniapps.existing_app(appid).await else {
            continue;
        };
        let Ok(version) = state.miniapps.version(appid, audit.version).await else {
            continue;
        };
        cards.push_str(&format!(
            "<div class=\"card review\" id=\"review-{appid}\"><h2>{name} · v{number} ({user_version})</h2>\
             <p class=\"muted\">{desc}</p><p>Pages: {pages} · {size} bytes · submitted {submitted}</p>\
             <form method=\"post\" action=\"/console/miniapps/{appid}/review\" class=\"inline\">\
             <button name=\"decision\" value=\"approve\" id=\"approve-{appid}\">Approve</button> \
             <input name=\"reason\" placeholder=\"Reason for a rejection\" maxlength=\"500\"> \
             <button name=\"decision\" value=\"reject\" class=\"secondary\" id=\"reject-{appid}\">Reject</button></form></div>",
            appid = escape(appid),
            name = escape(&app.name),
            number = version.version,
            user_version = escape(&version.user_version),
            desc = escape(&version.user_desc),
            pages = escape(&version.config.pages.join(", ")),
            size = version.size_bytes,
            submitted = plaza_http::web::china_time(audit.submitted_at),
        ));
    }
    if cards.is_empty() {
        cards = plaza_http::web::empty_state(
            "Nothing to review",
            "Versions developers submit appear here.",
            None,
        );
    }
    let body = format!(
        "<link rel=\"stylesheet\" href=\"/static/miniapp.css\">{}{cards}",
        flash.html()
    );
    console_layout(Role::OPERATOR, SECTION_REVIEWS, &viewer, "Reviews", &body).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct DecisionForm {
    decision: String,
    #[serde(default)]
    reason: String,
}

/// # `POST /console/miniapps/{appid}/review`
pub(crate) async fn decide(
    State(state): State<MiniAppState>,
    headers: HeaderMap,
    Path(appid): Path<String>,
    PageForm(form): PageForm<DecisionForm>,
) -> Response {
    if let Err(response) = operator(&state, &headers, "/console/miniapps/reviews").await {
        return response;
    }
    let approve = form.decision == "approve";
    let back = "/console/miniapps/reviews";
    match state
        .miniapps
        .decide_audit(&appid, approve, Some(&form.reason))
        .await
    {
        Ok(_) => Redirect::to(&with_flash(
            back,
            FlashKind::Good,
            if approve { "Approved." } else { "Rejected." },
        ))
        .into_response(),
        Err(error) => {
            Redirect::to(&with_flash(back, FlashKind::Bad, &error.to_string())).into_response()
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct WordsForm {
    words: String,
}

/// # `POST /console/miniapps/words`
pub(crate) async fn save_words(
    State(state): State<MiniAppState>,
    headers: HeaderMap,
    PageForm(form): PageForm<WordsForm>,
) -> Response {
    if let Err(response) = operator(&state, &headers, "/console/miniapps").await {
        return response;
    }
    let back = "/console/miniapps";
    let mut words = Vec::new();
    for (index, line) in form
        .words
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .enumerate()
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let label = parts.get(1).and_then(|label| label.parse().ok());
        match (parts.first(), label) {
            (Some(word), Some(label)) => words.push(Word {
                word: (*word).to_owned(),
                label,
                risky: parts.get(2) != Some(&"review"),
            }),
            _ => {
                return Redirect::to(&with_flash(
                    back,
                    FlashKind::Bad,
                    &format!("line {}: a word and a label", index + 1),
                ))
                .into_response();
            }
        }
    }
    match state.miniapps.set_word_list(words).await {
        Ok(list) => Redirect::to(&with_flash(
            back,
            FlashKind::Good,
            &format!("{} words saved.", list.words.len()),
        ))
        .into_response(),
        Err(error) => {
            Redirect::to(&with_flash(back, FlashKind::Bad, &error.to_string())).into_response()
        }
    }
}
