//! The operator's search page (`/console/search`): Search's daily and monthly users,
//! hot searches with their controls (the minimum of distinct searchers, pinned and
//! blocked terms), the queries that found nothing, the query log, the intent
//! dictionary, and the index with its reindex.

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use plaza_http::web::{
    Flash, FlashKind, PageForm, PageQuery, Role, Viewer, china_time, console_layout, escape,
    signin_redirect, table, viewer, with_flash,
};
use plaza_kernel::clock::Timestamp;
use plaza_search::activity::{HotTerm, LoggedSearch, SearchUsers, ZeroResultQuery};
use plaza_search::{HotSettings, IntentDictionary, ServiceIntent};
use serde::Deserialize;

use crate::SearchState;

/// The page's section in the operator's navigation.
const SECTION: &str = "search";
const HERE: &str = "/console/search";
/// Searches the page's log shows.
const LOG_SHOWN: usize = 50;

pub(crate) fn router() -> Router<SearchState> {
    Router::new()
        .route(HERE, get(page))
        .route("/console/search/hot", post(save_hot))
        .route("/console/search/intents", post(save_intents))
        .route("/console/search/reindex", post(reindex))
}

async fn operator(state: &SearchState, headers: &HeaderMap) -> Result<Viewer, Response> {
    let viewer = viewer(&state.http, headers).await;
    if viewer.operator() {
        Ok(viewer)
    } else {
        Err(signin_redirect(HERE))
    }
}

fn users_html(users: &SearchUsers) -> String {
    let peak = users
        .last_days
        .iter()
        .map(|(_, count)| *count)
        .max()
        .unwrap_or(0)
        .max(1);
    let bars: String = users
        .last_days
        .iter()
        .map(|(day, count)| {
            format!(
                "<div class=\"bar\" title=\"{day}: {count}\"><span style=\"height:{}%\"></span><small>{}</small></div>",
                count * 100 / peak,
                escape(day.get(5..).unwrap_or(day)),
            )
        })
        .collect();
    format!(
        "<section class=\"card\" id=\"search-users\"><h2>搜一搜的用户 People searching</h2>\
         <div class=\"figures\"><div><strong id=\"search-dau\">{dau}</strong><span>today ({day})</span></div>\
         <div><strong id=\"search-mau\">{mau}</strong><span>this month ({month})</span></div></div>\
         <div class=\"bars\" aria-label=\"The last seven days\">{bars}</div>\
         <p class=\"muted\">Signed-in people, each counted once per China day and month.</p></section>",
        dau = users.daily_users,
        mau = users.monthly_users,
        day = escape(&users.day),
        month = escape(&users.month),
    )
}

fn hot_list(terms: &[HotTerm]) -> String {
    if terms.is_empty() {
        return "<p class=\"muted\">Nothing hot</p>".to_owned();
    }
    let items: String = terms
        .iter()
        .map(|term| {
            format!(
                "<li><span>{q}{pin}</span><span class=\"muted\">{people} people · {searches} searches</span></li>",
                q = escape(&term.q),
                pin = if term.pinned { " <span class=\"badge\">pinned</span>" } else { "" },
                people = term.searchers,
                searches = term.searches,
            )
        })
        .collect();
    format!("<ol class=\"hot-terms\">{items}</ol>")
}

fn hot_html(state: &SearchState) -> String {
    let activity = state.search.activity();
    let hot = activity.hot(state.search.now_ms());
    let settings = activity.settings();
    format!(
        "<section class=\"card\" id=\"search-hot\"><h2>热搜 Hot searches</h2>\
         <div class=\"grid\"><div id=\"hot-hour\"><h3>Last hour</h3>{hour}</div><div id=\"hot-day\"><h3>Last day</h3>{day}</div></div>\
         <form method=\"post\" action=\"/console/search/hot\" class=\"stack\" id=\"hot-settings\">\
         <label>Distinct signed-in searchers a term needs <input type=\"number\" name=\"min_searchers\" min=\"1\" max=\"64\" value=\"{min}\" required></label>\
         <label>Pinned terms, one per line (shown first) <textarea name=\"pinned\" rows=\"3\">{pinned}</textarea></label>\
         <label>Blocked words, one per line (a term containing one is never shown) <textarea name=\"blocked\" rows=\"3\">{blocked}</textarea></label>\
         <button id=\"save-hot\">Save hot-search settings</button></form></section>",
        hour = hot_list(&hot.hour),
        day = hot_list(&hot.day),
        min = settings.min_searchers,
        pinned = escape(&settings.pinned.join("\n")),
        blocked = escape(&settings.blocked.join("\n")),
    )
}

fn zero_html(queries: &[ZeroResultQuery]) -> String {
    let rows: String = queries
        .iter()
        .map(|query| {
            format!(
                "<tr><td>{q}</td><td>{n}</td><td>{at}</td></tr>",
                q = escape(&query.q),
                n = query.searches,
                at = china_time(Timestamp::from_unix_ms(query.last_at_ms)),
            )
        })
        .collect();
    format!(
        "<section class=\"card\" id=\"search-zero\"><h2>没有结果的搜索 Queries that found nothing</h2>{}\
         <p class=\"muted\">Add a phrasing to the intent dictionary, or ask a mini program to declare the service.</p></section>",
        table(
            "zero-results",
            &["Query", "Searches", "Latest"],
            &rows,
            "Every query found something"
        )
    )
}

fn log_html(log: &[LoggedSearch]) -> String {
    let rows: String = log
        .iter()
        .map(|search| {
            format!(
                "<tr><td>{at}</td><td>{q}</td><td>{who}</td><td>{section}</td><td>{results}{relaxed}</td><td>{intent}</td></tr>",
                at = china_time(Timestamp::from_unix_ms(search.at_ms)),
                q = escape(&search.q),
                who = search
                    .searcher
                    .as_deref()
                    .map_or_else(|| "<span class=\"muted\">anonymous</span>".to_owned(), |u| format!("<code>{}</code>", escape(u))),
                section = search.section.map_or("all", |s| s.as_str()),
                results = search.results,
                relaxed = if search.relaxed { " (relaxed)" } else { "" },
                intent = escape(search.intent.as_deref().unwrap_or("")),
            )
        })
        .collect();
    format!(
        "<section class=\"card\" id=\"search-log\"><h2>搜索记录 Query log</h2>{}\
         <p class=\"muted\">The newest {LOG_SHOWN}; the log keeps the last 10,000 searches. Also <code>GET /api/v1/admin/search/log</code>.</p></section>",
        table(
            "query-log",
            &["When", "Query", "Who", "Section", "Results", "Intent"],
            &rows,
            "Nobody has searched yet"
        )
    )
}

/// The dictionary as the form's text: one service per line, `service: phrasing, …`.
fn dictionary_text(dictionary: &IntentDictionary) -> String {
    dictionary
        .entries
        .iter()
        .map(|entry| format!("{}: {}", entry.service, entry.phrasings.join(", ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The form's text as a dictionary (commas may be Chinese ones).
fn dictionary_of(text: &str) -> IntentDictionary {
    let entries = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (service, rest) = line.split_once([':', '：']).unwrap_or((line, ""));
            ServiceIntent {
                service: service.trim().to_owned(),
                phrasings: rest
                    .split([',', '，', '、'])
                    .map(str::trim)
                    .filter(|phrasing| !phrasing.is_empty())
                    .map(str::to_owned)
                    .collect(),
            }
        })
        .collect();
    IntentDictionary { entries }
}

fn index_html(state: &SearchState) -> String {
    let progress = state.search.reindex_progress();
    let status = if progress.running {
        format!(
            "<p id=\"reindex-status\">Reindexing: {} of {} read.</p>",
            progress.done, progress.total
        )
    } else if let Some(error) = &progress.error {
        format!(
            "<p id=\"reindex-status\" class=\"bad\">The last reindex failed: {}</p>",
            escape(error)
        )
    } else {
        String::new()
    };
    format!(
        "<section class=\"card\" id=\"search-index\"><h2>索引 The index</h2>\
         <p><strong id=\"index-documents\">{documents}</strong> documents.</p>{status}\
         <form method=\"post\" action=\"/console/search/reindex\"><button class=\"secondary\" id=\"reindex\"{disabled}>Rebuild from the database</button></form></section>",
        documents = state.search.index().document_count(),
        disabled = if progress.running { " disabled" } else { "" },
    )
}

/// `GET /console/search`.
async fn page(
    State(state): State<SearchState>,
    headers: HeaderMap,
    PageQuery(flash): PageQuery<Flash>,
) -> Response {
    let viewer = match operator(&state, &headers).await {
        Ok(viewer) => viewer,
        Err(response) => return response,
    };
    let activity = state.search.activity();
    let gathered = async {
        let users = activity.users(state.search.now_ms()).await?;
        let zero = activity.zero_result_queries(20).await?;
        let log = activity.log(false, LOG_SHOWN).await?;
        Ok::<_, plaza_search::SearchError>((users, zero, log))
    };
    let (users, zero, log) = match gathered.await {
        Ok(found) => found,
        Err(error) => {
            return plaza_http::web::ErrorPage::from_api(&crate::error::api_error(error))
                .into_response();
        }
    };
    let body = format!(
        "<link rel=\"stylesheet\" href=\"/static/search.css\">{flash}<h1>搜一搜 Search</h1><div class=\"grid\">{users}{index}</div>{hot}{zero}{log}\
         <section class=\"card\" id=\"search-intents\"><h2>意图词典 Intent dictionary</h2>\
         <form method=\"post\" action=\"/console/search/intents\" class=\"stack\">\
         <label><span>One service per line, <code>service: phrasing, phrasing</code>. A query naming a phrasing leads to the mini program serving the service.</span>\
         <textarea name=\"dictionary\" rows=\"12\">{dictionary}</textarea></label>\
         <button id=\"save-intents\">Save the dictionary</button></form></section>",
        flash = flash.html(),
        users = users_html(&users),
        index = index_html(&state),
        hot = hot_html(&state),
        zero = zero_html(&zero),
        log = log_html(&log),
        dictionary = escape(&dictionary_text(&state.search.dictionary())),
    );
    console_layout(Role::OPERATOR, SECTION, &viewer, "Search", &body).into_response()
}

#[derive(Debug, Deserialize)]
struct HotForm {
    min_searchers: String,
    #[serde(default)]
    pinned: String,
    #[serde(default)]
    blocked: String,
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `POST /console/search/hot`.
async fn save_hot(
    State(state): State<SearchState>,
    headers: HeaderMap,
    PageForm(form): PageForm<HotForm>,
) -> Response {
    if let Err(response) = operator(&state, &headers).await {
        return response;
    }
    let Ok(min_searchers) = form.min_searchers.trim().parse::<u32>() else {
        return Redirect::to(&with_flash(
            HERE,
            FlashKind::Bad,
            "The minimum of searchers is a whole number from 1 to 64.",
        ))
        .into_response();
    };
    let settings = HotSettings {
        min_searchers,
        pinned: lines(&form.pinned),
        blocked: lines(&form.blocked),
    };
    let (kind, text) = match state.search.activity().set_settings(settings).await {
        Ok(_) => (FlashKind::Good, "Hot-search settings saved.".to_owned()),
        Err(error) => (FlashKind::Bad, error.to_string()),
    };
    Redirect::to(&with_flash(HERE, kind, &text)).into_response()
}

#[derive(Debug, Deserialize)]
struct IntentsForm {
    dictionary: String,
}

/// `POST /console/search/intents`.
async fn save_intents(
    State(state): State<SearchState>,
    headers: HeaderMap,
    PageForm(form): PageForm<IntentsForm>,
) -> Response {
    if let Err(response) = operator(&state, &headers).await {
        return response;
    }
    let (kind, text) = match state
        .search
        .set_dictionary(dictionary_of(&form.dictionary))
        .await
    {
        Ok(saved) => (
            FlashKind::Good,
            format!(
                "The dictionary was saved: {} services.",
                saved.entries.len()
            ),
        ),
        Err(error) => (FlashKind::Bad, error.to_string()),
    };
    Redirect::to(&with_flash(HERE, kind, &text)).into_response()
}

/// `POST /console/search/reindex`.
async fn reindex(State(state): State<SearchState>, headers: HeaderMap) -> Response {
    if let Err(response) = operator(&state, &headers).await {
        return response;
    }
    if state.search.reindexing() {
        return Redirect::to(&with_flash(
            HERE,
            FlashKind::Bad,
            "A reindex is already running.",
        ))
        .into_response();
    }
    let search = std::sync::Arc::clone(&state.search);
    let catalog = std::sync::Arc::clone(&state.catalog);
    tokio::spawn(async move {
        match search.reindex(&*catalog).await {
            Ok(documents) => tracing::info!(documents, "search reindex finished"),
            Err(error) => tracing::error!(%error, "search reindex failed"),
        }
    });
    Redirect::to(&with_flash(
        HERE,
        FlashKind::Good,
        "Rebuilding the index; searches use the old one until it is whole.",
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_form_reads_back_what_it_shows() {
        let text = "核酸检测: 做核酸, 核酸预约\n社保查询：社保怎么查，查社保\n\n  公积金  ";
        let dictionary = dictionary_of(text);
        assert_eq!(dictionary.entries.len(), 3);
        assert_eq!(dictionary.entries[1].service, "社保查询");
        assert_eq!(dictionary.entries[1].phrasings, ["社保怎么查", "查社保"]);
        assert!(dictionary.entries[2].phrasings.is_empty());
        assert_eq!(dictionary_of(&dictionary_text(&dictionary)), dictionary);
    }
}
