//! The search page of the user app (`/app/search`, opened from the search bar atop
//! every tab): drawn on the server — the intent card, each section's cards with the
//! matched text marked (also where the match came through pinyin or a substring), hot
//! searches before anything is typed — while `search.js` adds suggestions as you type
//! and the infinite paging of one section (`/app/search/more`).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use plaza_http::web::{
    AppPage, AppTab, ErrorPage, PageQuery, Role, Viewer, app_layout, china_date, empty_state,
    escape, percent_encode, tile, viewer,
};
use plaza_kernel::clock::Timestamp;
use plaza_search::engine::{Hit, IntentCard, PAGE_MAX, SectionHits};
use plaza_search::{Answer, Context, Section};
use serde::Deserialize;

use crate::SearchState;
use crate::api::{Asked, searched};

const SCRIPT: &str = include_str!("../../../web/search.js");
const STYLESHEET: &str = include_str!("../../../web/search.css");
/// Characters of a card's text shown around its first match.
const SNIPPET_CHARS: usize = 72;

pub(crate) fn router() -> Router<SearchState> {
    Router::new()
        .route("/app/search", get(search_page))
        .route("/app/search/more", get(more))
        .route(
            "/static/search.js",
            get(|| plaza_http::web::asset("text/javascript; charset=utf-8", SCRIPT)),
        )
        .route(
            "/static/search.css",
            get(|| plaza_http::web::asset("text/css; charset=utf-8", STYLESHEET)),
        )
}

#[derive(Debug, Deserialize)]
struct PageParams {
    #[serde(default)]
    q: String,
    section: Option<String>,
    page: Option<usize>,
}

/// The section a page names; `None` for all (or a name that is not one).
fn section_of(name: Option<&str>) -> Option<Section> {
    name.and_then(Section::parse)
}

/// The signed-in user and their context.
async fn searcher(state: &SearchState, viewer: &Viewer) -> (Option<String>, Context) {
    let Some(user) = viewer.as_role(Role::USER) else {
        return (None, Context::default());
    };
    let owners = state.personal.owners(&user.account).await;
    (
        Some(user.account.clone()),
        Context::from_owners(owners.iter().map(String::as_str)),
    )
}

/// `text` with the characters in `spans` (`[start, end)`, in characters) marked.
pub(crate) fn marked(text: &str, spans: &[[usize; 2]]) -> String {
    let mut html = String::new();
    let mut open = false;
    for (at, c) in text.chars().enumerate() {
        let inside = spans
            .iter()
            .any(|[start, end]| (*start..*end).contains(&at));
        if inside && !open {
            html.push_str("<mark>");
            open = true;
        } else if !inside && open {
            html.push_str("</mark>");
            open = false;
        }
        html.push_str(&escape(c.encode_utf8(&mut [0; 4])));
    }
    if open {
        html.push_str("</mark>");
    }
    html
}

/// A window of `text` around its first match, with the matches in it marked.
fn snippet(text: &str, spans: &[[usize; 2]]) -> String {
    let length = text.chars().count();
    if length <= SNIPPET_CHARS {
        return marked(text, spans);
    }
    let first = spans.iter().map(|[start, _]| *start).min().unwrap_or(0);
    let start = first.saturating_sub(SNIPPET_CHARS / 4);
    let end = (start + SNIPPET_CHARS).min(length);
    let window: String = text.chars().skip(start).take(end - start).collect();
    let shifted: Vec<[usize; 2]> = spans
        .iter()
        .filter(|[s, e]| *e > start && *s < end)
        .map(|[s, e]| [s.saturating_sub(start), (*e).min(end) - start])
        .collect();
    format!(
        "{}{}{}",
        if start > 0 { "…" } else { "" },
        marked(&window, &shifted),
        if end < length { "…" } else { "" }
    )
}

fn card_text(hit: &Hit, key: &str) -> String {
    hit.document
        .card
        .get(key)
        .and_then(|value| value.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// What a card says under its title, by section.
fn meta(hit: &Hit) -> String {
    match hit.document.section {
        Section::Services => format!("服务 · {}", card_text(hit, "app_name")),
        Section::MiniPrograms => {
            let category = card_text(hit, "category");
            if category.is_empty() {
                "小程序".to_owned()
            } else {
                format!("小程序 · {category}")
            }
        }
        Section::Creators => "视频号".to_owned(),
        Section::Posts => {
            let by = card_text(hit, "channel_name");
            match hit.document.published_at_ms {
                Some(at) => format!("{by} · {}", china_date(Timestamp::from_unix_ms(at))),
                None => by,
            }
        }
        Section::Merchants => "商户".to_owned(),
        Section::Corps => "企业".to_owned(),
    }
}

/// One result's card.
fn hit_html(hit: &Hit) -> String {
    let document = &hit.document;
    let icon = card_text(hit, "icon");
    let body = if document.body.is_empty() {
        String::new()
    } else {
        format!(
            "<p class=\"sr-body\">{}</p>",
            snippet(&document.body, &hit.highlights.body)
        )
    };
    format!(
        "<li class=\"sr-hit\" data-key=\"{key}\"><a href=\"{link}\">{tile}<div>\
         <strong class=\"sr-title\">{title}</strong>{body}<small>{meta}</small></div></a></li>",
        key = escape(&document.key()),
        link = escape(&document.link),
        tile = tile(&icon, &document.title),
        title = marked(&document.title, &hit.highlights.title),
        meta = escape(&meta(hit)),
    )
}

fn search_href(q: &str, section: Option<Section>) -> String {
    match section {
        Some(section) => format!(
            "/app/search?q={}&section={}",
            percent_encode(q),
            section.as_str()
        ),
        None => format!("/app/search?q={}", percent_encode(q)),
    }
}

fn more_href(q: &str, section: Section, page: usize) -> String {
    format!(
        "/app/search/more?q={}&section={}&page={page}",
        percent_encode(q),
        section.as_str()
    )
}

/// A section's block: its heading, cards, and the way to more of it.
fn section_html(q: &str, hits: &SectionHits, alone: bool) -> String {
    let cards: String = hits.hits.iter().map(hit_html).collect();
    let name = hits.section.as_str();
    let more = match (hits.more, alone) {
        (false, _) => String::new(),
        (true, false) => format!(
            "<a class=\"sr-more-link\" href=\"{}\">更多{} More</a>",
            escape(&search_href(q, Some(hits.section))),
            escape(hits.heading)
        ),
        (true, true) => format!(
            "<div class=\"sr-more\" id=\"sr-more\" data-list=\"sr-hits-{name}\" data-next=\"{}\">加载中 Loading…</div>",
            escape(&more_href(q, hits.section, hits.page + 1))
        ),
    };
    format!(
        "<section class=\"card sr-section\" data-section=\"{name}\"><h2>{heading}</h2>\
         <ul class=\"sr-hits\" id=\"sr-hits-{name}\">{cards}</ul>{more}</section>",
        heading = escape(hits.heading),
    )
}

fn intent_html(card: &IntentCard) -> String {
    let document = &card.document;
    let icon = document
        .card
        .get("icon")
        .and_then(|value| value.as_str())
        .unwrap_or_default();
    let what = match document.section {
        Section::Services => document
            .card
            .get("app_name")
            .and_then(|value| value.as_str())
            .map(|app| format!("由「{app}」提供 Served by {app}"))
            .unwrap_or_default(),
        section => section.heading().to_owned(),
    };
    format!(
        "<section class=\"card sr-intent\" id=\"sr-intent\" data-kind=\"{kind}\">{tile}\
         <div><h2>{title}</h2><p class=\"muted\">{what}</p></div>\
         <a class=\"button\" id=\"sr-intent-open\" href=\"{link}\">打开 Open</a></section>",
        kind = escape(card.kind),
        tile = tile(icon, &document.title),
        title = escape(&document.title),
        what = escape(&what),
        link = escape(&document.link),
    )
}

fn tabs_html(q: &str, chosen: Option<Section>) -> String {
    let tab = |label: &str, section: Option<Section>| {
        let current = if section == chosen {
            " class=\"current\" aria-current=\"page\""
        } else {
            ""
        };
        format!(
            "<a href=\"{}\"{current}>{}</a>",
            escape(&search_href(q, section)),
            escape(label)
        )
    };
    let mut tabs = tab("全部", None);
    for section in Section::ALL {
        tabs.push_str(&tab(section.heading(), Some(section)));
    }
    format!("<nav class=\"sr-tabs\" aria-label=\"Sections\">{tabs}</nav>")
}

/// The answer to a query as the page's body below the bar.
fn answer_html(q: &str, section: Option<Section>, answer: &Answer) -> String {
    let mut html = tabs_html(q, section);
    if answer.cut {
        html.push_str(
            "<p class=\"muted sr-note\">只搜索了前 64 个字 Only the first 64 characters were searched.</p>",
        );
    }
    if answer.relaxed {
        html.push_str(
            "<p class=\"muted sr-note\" id=\"sr-relaxed\">没有同时包含所有词的结果，以下结果包含其中一部分 \
             Nothing had every word; these have some of them.</p>",
        );
    }
    if let Some(card) = &answer.intent {
        html.push_str(&intent_html(card));
    }
    for hits in &answer.sections {
        html.push_str(&section_html(q, hits, section.is_some()));
    }
    if answer.sections.is_empty() && answer.intent.is_none() {
        let tries: String = answer
            .suggestions
            .iter()
            .map(|suggestion| {
                format!(
                    "<a class=\"chip\" href=\"{}\">{}</a>",
                    escape(&search_href(&suggestion.text, None)),
                    escape(&suggestion.text)
                )
            })
            .collect();
        html.push_str(&empty_state(
            "没有找到 Nothing found",
            "换个说法，或少写几个字试试。Try other words, or fewer of them.",
            None,
        ));
        if !tries.is_empty() {
            html.push_str(&format!(
                "<section class=\"card\" id=\"sr-try\"><h2>试试 Try</h2><div class=\"chips\">{tries}</div></section>"
            ));
        }
    }
    html
}

/// Hot searches, before anything is typed.
fn hot_html(state: &SearchState) -> String {
    let hot = state.search.activity().hot(state.search.now_ms());
    let list = |id: &str, title: &str, terms: &[plaza_search::activity::HotTerm]| {
        let items: String = terms
            .iter()
            .enumerate()
            .map(|(rank, term)| {
                format!(
                    "<li><span class=\"sr-rank{top}\">{n}</span><a href=\"{href}\">{q}</a>{pin}</li>",
                    top = if rank < 3 { " top" } else { "" },
                    n = rank + 1,
                    href = escape(&search_href(&term.q, None)),
                    q = escape(&term.q),
                    pin = if term.pinned { "<small class=\"sr-pin\">荐</small>" } else { "" },
                )
            })
            .collect();
        if items.is_empty() {
            format!(
                "<div id=\"{id}\"><h3>{title}</h3><p class=\"muted\">暂无 Nothing yet</p></div>"
            )
        } else {
            format!("<div id=\"{id}\"><h3>{title}</h3><ol class=\"sr-hot-list\">{items}</ol></div>")
        }
    };
    format!(
        "<section class=\"card sr-hot\" id=\"sr-hot\"><h2>热搜 Trending</h2><div class=\"sr-hot-grid\">{}{}</div></section>",
        list("sr-hot-hour", "近一小时 Last hour", &hot.hour),
        list("sr-hot-day", "今天 Last day", &hot.day),
    )
}

fn bar_html(q: &str, section: Option<Section>) -> String {
    let hidden = section.map_or_else(String::new, |section| {
        format!(
            "<input type=\"hidden\" name=\"section\" value=\"{}\">",
            section.as_str()
        )
    });
    format!(
        "<form class=\"sr-bar\" id=\"sr-form\" action=\"/app/search\" method=\"get\" role=\"search\">\
         <input type=\"search\" name=\"q\" id=\"sr-q\" value=\"{q}\" maxlength=\"200\" autocomplete=\"off\" \
         enterkeyhint=\"search\"{focus} placeholder=\"搜索服务、小程序、视频号、商户\" aria-label=\"搜索 Search\">{hidden}\
         <button id=\"sr-go\">搜索</button>\
         <ul class=\"sr-suggestions\" id=\"sr-suggestions\" role=\"listbox\" hidden></ul></form>",
        q = escape(q),
        focus = if q.is_empty() { " autofocus" } else { "" },
    )
}

/// `GET /app/search?q=&section=`: the search page; hot searches when nothing is typed.
async fn search_page(
    State(state): State<SearchState>,
    headers: HeaderMap,
    PageQuery(params): PageQuery<PageParams>,
) -> Response {
    let viewer = viewer(&state.http, &headers).await;
    let section = section_of(params.section.as_deref());
    let q = params.q.trim();
    let body = if q.is_empty() {
        hot_html(&state)
    } else {
        let (user, context) = searcher(&state, &viewer).await;
        let asked = Asked {
            q: q.to_owned(),
            section,
            page: 0,
            explain: false,
            context,
            now_ms: state.search.now_ms(),
        };
        match searched(&state, asked, user).await {
            Ok(answer) => answer_html(q, section, &answer),
            Err(error) => {
                return ErrorPage::from_api(&crate::error::api_error(error)).into_response();
            }
        }
    };
    let body = format!(
        "<link rel=\"stylesheet\" href=\"/static/search.css\">{}<div id=\"sr-answer\">{body}</div>\
         <script type=\"module\" src=\"/static/search.js\"></script>",
        bar_html(q, section)
    );
    app_layout(
        AppPage::below(AppTab::Discover, "搜一搜 Search", "/app/discover"),
        &viewer,
        &body,
    )
    .into_response()
}

/// `GET /app/search/more?q=&section=&page=`: one more page of a section's cards, with
/// the next page's address in `x-next-page` while there is one.
async fn more(
    State(state): State<SearchState>,
    headers: HeaderMap,
    PageQuery(params): PageQuery<PageParams>,
) -> Response {
    let (Some(section), Some(page)) = (section_of(params.section.as_deref()), params.page) else {
        return ErrorPage::bad_request("A section and a page are needed.").into_response();
    };
    if page == 0 || page > PAGE_MAX {
        return Html(String::new()).into_response();
    }
    let viewer = viewer(&state.http, &headers).await;
    let (_, context) = searcher(&state, &viewer).await;
    let q = params.q.trim();
    let asked = Asked {
        q: q.to_owned(),
        section: Some(section),
        page,
        explain: false,
        context,
        now_ms: state.search.now_ms(),
    };
    let answer = match searched(&state, asked, None).await {
        Ok(answer) => answer,
        Err(error) => {
            return ErrorPage::from_api(&crate::error::api_error(error)).into_response();
        }
    };
    let Some(hits) = answer.sections.iter().find(|hits| hits.section == section) else {
        return Html(String::new()).into_response();
    };
    let cards: String = hits.hits.iter().map(hit_html).collect();
    let mut response = Html(cards).into_response();
    if hits.more
        && page < PAGE_MAX
        && let Ok(next) = HeaderValue::from_str(&more_href(q, section, page + 1))
    {
        response.headers_mut().insert("x-next-page", next);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_wrap_runs_of_matched_characters_and_escape_the_rest() {
        assert_eq!(
            marked("中国农业发展银行", &[[2, 4]]),
            "中国<mark>农业</mark>发展银行"
        );
        assert_eq!(
            marked("a<b>c", &[[0, 1], [1, 2], [4, 5]]),
            "<mark>a&lt;</mark>b&gt;<mark>c</mark>"
        );
        assert_eq!(marked("abc", &[]), "abc");
    }

    #[test]
    fn a_long_text_shows_a_window_around_its_first_match() {
        let text = format!("{}核酸检测{}", "前".repeat(100), "后".repeat(100));
        let html = snippet(&text, &[[100, 104]]);
        assert!(html.starts_with('…') && html.ends_with('…'), "{html}");
        assert!(html.contains("<mark>核酸检测</mark>"), "{html}");
        let shown = html.replace("<mark>", "").replace("</mark>", "");
        assert_eq!(shown.chars().count(), SNIPPET_CHARS + 2);
    }
}
