//! `/api/v1/search`, `/api/v1/search/suggest` and the operator's `/api/v1/admin/search/…`.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use plaza_http::ApiError;
use plaza_http::extract::{Admin, Json, Query};
use plaza_search::engine::PAGE_MAX;
use plaza_search::{
    Answer, Context, HotSettings, IntentDictionary, LoggedSearch, Request, Section,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::SearchState;
use crate::error::api_error;

pub(crate) fn router() -> Router<SearchState> {
    Router::new()
        .route("/api/v1/search", get(search))
        .route("/api/v1/search/suggest", get(suggest))
        .route(
            "/api/v1/admin/search/reindex",
            get(reindex_progress).post(start_reindex),
        )
        .route(
            "/api/v1/admin/search/intents",
            get(intents).put(set_intents),
        )
        .route("/api/v1/search/hot", get(hot))
        .route(
            "/api/v1/admin/search/popularity",
            axum::routing::post(refresh_popularity),
        )
        .route("/api/v1/admin/search/log", get(query_log))
        .route("/api/v1/admin/search/stats", get(stats))
        .route(
            "/api/v1/admin/search/hot",
            get(hot_settings).put(set_hot_settings),
        )
}

/// What to search, owned, so the search can leave the async workers.
pub(crate) struct Asked {
    pub q: String,
    pub section: Option<Section>,
    pub page: usize,
    pub explain: bool,
    pub context: Context,
    pub now_ms: i64,
}

impl Asked {
    fn request(&self) -> Request<'_> {
        Request {
            q: &self.q,
            section: self.section,
            page: self.page,
            explain: self.explain,
            context: &self.context,
            now_ms: self.now_ms,
        }
    }
}

/// Runs a search on the blocking pool (a search of a large index takes milliseconds of
/// CPU and must not hold one of the few async workers every request shares), and notes
/// a first page's search in the query log.
pub(crate) async fn searched(
    state: &SearchState,
    asked: Asked,
    user: Option<String>,
) -> Result<Answer, plaza_search::SearchError> {
    let search = std::sync::Arc::clone(&state.search);
    let (asked, answer) = tokio::task::spawn_blocking(move || {
        let answer = search.search(&asked.request());
        (asked, answer)
    })
    .await
    .map_err(|error| plaza_search::SearchError::Index(format!("a search stopped: {error}")))?;
    let answer = answer?;
    note(state, &asked.request(), &answer, user);
    Ok(answer)
}

/// Notes a first page's search in the query log (later pages are the same search).
pub(crate) fn note(
    state: &SearchState,
    request: &Request<'_>,
    answer: &Answer,
    user: Option<String>,
) {
    if request.page > 0 {
        return;
    }
    let results: usize = answer
        .sections
        .iter()
        .map(|section| section.hits.len())
        .sum();
    state.search.activity().note(LoggedSearch {
        at_ms: request.now_ms,
        q: request.q.to_owned(),
        searcher: user,
        section: request.section,
        results: (results + usize::from(answer.intent.is_some())) as u64,
        relaxed: answer.relaxed,
        intent: answer.intent.as_ref().map(|card| {
            card.service
                .clone()
                .unwrap_or_else(|| card.document.title.clone())
        }),
    });
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    section: Option<String>,
    page: Option<usize>,
    explain: Option<bool>,
}

/// The searcher's context when a live session came with the request; none otherwise
/// (searching needs no sign-in, and a stale cookie must not break it).
pub(crate) async fn context_of(
    state: &SearchState,
    headers: &HeaderMap,
) -> (Option<String>, Context) {
    let Ok(token) = plaza_http::web::session_token(headers) else {
        return (None, Context::default());
    };
    let Ok(user) = state.identity.session_user(token).await else {
        return (None, Context::default());
    };
    let owners = state.personal.owners(&user.user_id).await;
    let context = Context::from_owners(owners.iter().map(String::as_str));
    (Some(user.user_id), context)
}

/// `GET /api/v1/search?q=&section=&page=&explain=`.
async fn search(
    State(state): State<SearchState>,
    headers: HeaderMap,
    Query(query): Query<SearchQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let section = match query.section.as_deref() {
        None | Some("" | "all") => None,
        Some(name) => Some(Section::parse(name).ok_or_else(|| {
            ApiError::invalid_field(
                "section",
                "one of all, services, mini_programs, creators, posts, merchants, corps",
            )
        })?),
    };
    let page = query.page.unwrap_or(0);
    if page > PAGE_MAX {
        return Err(ApiError::invalid_field(
            "page",
            format!("pages go from 0 to {PAGE_MAX}"),
        ));
    }
    if page > 0 && section.is_none() {
        return Err(ApiError::invalid_field(
            "page",
            "pages beyond the first are per section: give `section`",
        ));
    }
    let (user, context) = context_of(&state, &headers).await;
    let asked = Asked {
        q: query.q,
        section,
        page,
        explain: query.explain.unwrap_or(false),
        context,
        now_ms: state.search.now_ms(),
    };
    let answer = searched(&state, asked, user).await.map_err(api_error)?;
    Ok(axum::Json(serde_json::to_value(&answer).map_err(
        |error| ApiError::unavailable(&format!("an answer could not be written: {error}")),
    )?))
}

#[derive(Deserialize)]
struct SuggestQuery {
    #[serde(default)]
    q: String,
}

/// `GET /api/v1/search/suggest?q=`.
async fn suggest(
    State(state): State<SearchState>,
    Query(query): Query<SuggestQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let search = std::sync::Arc::clone(&state.search);
    let q = query.q.clone();
    let suggestions = tokio::task::spawn_blocking(move || search.suggest(&q))
        .await
        .map_err(|error| ApiError::unavailable(&format!("suggestions stopped: {error}")))?
        .map_err(api_error)?;
    Ok(axum::Json(
        json!({ "query": query.q, "suggestions": suggestions }),
    ))
}

fn progress_json(state: &SearchState) -> Value {
    let progress = state.search.reindex_progress();
    json!({
        "running": progress.running,
        "total": progress.total,
        "done": progress.done,
        "finished": progress.finished,
        "error": progress.error,
        "documents": state.search.index().document_count(),
    })
}

/// `GET /api/v1/admin/search/reindex`: how the current or last reindex stands.
async fn reindex_progress(_admin: Admin, State(state): State<SearchState>) -> axum::Json<Value> {
    axum::Json(progress_json(&state))
}

/// `POST /api/v1/admin/search/reindex`: rebuilds the index from the database; 202 with
/// the progress, read again with `GET` (409 `reindex_running` while one runs).
async fn start_reindex(
    _admin: Admin,
    State(state): State<SearchState>,
) -> Result<(StatusCode, axum::Json<Value>), ApiError> {
    if state.search.reindexing() {
        return Err(ApiError::new(
            crate::error::code::REINDEX_RUNNING,
            "a reindex is already running",
        ));
    }
    let search = std::sync::Arc::clone(&state.search);
    let catalog = std::sync::Arc::clone(&state.catalog);
    tokio::spawn(async move {
        match search.reindex(&*catalog).await {
            Ok(documents) => tracing::info!(documents, "search reindex finished"),
            Err(error) => tracing::error!(%error, "search reindex failed"),
        }
    });
    // The task marks itself running at once; give it the turn so the answer shows it.
    tokio::task::yield_now().await;
    Ok((StatusCode::ACCEPTED, axum::Json(progress_json(&state))))
}

/// `GET /api/v1/admin/search/intents`: the intent dictionary in force.
async fn intents(_admin: Admin, State(state): State<SearchState>) -> axum::Json<Value> {
    axum::Json(json!(*state.search.dictionary()))
}

/// `PUT /api/v1/admin/search/intents`: replaces the dictionary
/// (`{"entries": [{"service", "phrasings": [...]}]}`).
async fn set_intents(
    _admin: Admin,
    State(state): State<SearchState>,
    Json(dictionary): Json<IntentDictionary>,
) -> Result<axum::Json<Value>, ApiError> {
    let saved = state
        .search
        .set_dictionary(dictionary)
        .await
        .map_err(api_error)?;
    Ok(axum::Json(json!(saved)))
}

/// `GET /api/v1/search/hot`: hot searches of the last hour and day.
async fn hot(State(state): State<SearchState>) -> axum::Json<Value> {
    axum::Json(json!(state.search.activity().hot(state.search.now_ms())))
}

/// Rows the log answers at most.
const LOG_ROWS_MAX: usize = 500;

#[derive(Deserialize)]
struct LogQuery {
    zero_results: Option<bool>,
    limit: Option<usize>,
}

/// `GET /api/v1/admin/search/log?zero_results=&limit=`: the newest searches (only those
/// that found nothing with `zero_results=true`), 50 unless `limit` (1–500) says.
async fn query_log(
    _admin: Admin,
    State(state): State<SearchState>,
    Query(query): Query<LogQuery>,
) -> Result<axum::Json<Value>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=LOG_ROWS_MAX).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("from 1 to {LOG_ROWS_MAX}"),
        ));
    }
    let searches = state
        .search
        .activity()
        .log(query.zero_results.unwrap_or(false), limit)
        .await
        .map_err(api_error)?;
    Ok(axum::Json(json!({ "searches": searches })))
}

/// `GET /api/v1/admin/search/stats`: Search's daily and monthly users, hot searches,
/// the queries that found nothing, the index, and the answer cache's counts.
async fn stats(
    _admin: Admin,
    State(state): State<SearchState>,
) -> Result<axum::Json<Value>, ApiError> {
    let activity = state.search.activity();
    let now = state.search.now_ms();
    let users = activity.users(now).await.map_err(api_error)?;
    let zero = activity.zero_result_queries(50).await.map_err(api_error)?;
    Ok(axum::Json(json!({
        "users": users,
        "hot": activity.hot(now),
        "zero_result_queries": zero,
        "dropped_from_log": activity.dropped(),
        "documents": state.search.index().document_count(),
        "answer_cache": state.search.cache_stats(),
    })))
}

/// `GET /api/v1/admin/search/hot`: the hot-search settings.
async fn hot_settings(_admin: Admin, State(state): State<SearchState>) -> axum::Json<Value> {
    axum::Json(json!(state.search.activity().settings()))
}

/// `PUT /api/v1/admin/search/hot`: replaces them
/// (`{"min_searchers": 3, "blocked": [...], "pinned": [...]}`).
async fn set_hot_settings(
    _admin: Admin,
    State(state): State<SearchState>,
    Json(settings): Json<HotSettings>,
) -> Result<axum::Json<Value>, ApiError> {
    let saved = state
        .search
        .activity()
        .set_settings(settings)
        .await
        .map_err(api_error)?;
    Ok(axum::Json(json!(saved)))
}

/// `POST /api/v1/admin/search/popularity`: reads visits, followers and views from the
/// systems now (it also happens every five minutes); how many documents changed.
async fn refresh_popularity(
    _admin: Admin,
    State(state): State<SearchState>,
) -> Result<axum::Json<Value>, ApiError> {
    let changed = state
        .search
        .refresh_popularity(&*state.popularity)
        .await
        .map_err(api_error)?;
    Ok(axum::Json(json!({ "changed": changed })))
}
