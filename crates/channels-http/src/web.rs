//! Channels' pages in the user app, drawn on the server (JavaScript adds the actions and
//! the infinite paging): the feed (`/app/channels`, from Discover), a post with its
//! player and comments (`/app/channels/posts/{id}`, also the share link), a channel
//! (`/app/channels/c/{id}`) and the creator studio (`/app/channels/studio`, from Me).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use plaza_channels::feed::{FeedItem, Ranked};
use plaza_channels::model::{Channel, Originality, Post};
use plaza_channels::{ChannelsError, PostStats};
use plaza_http::web::{
    AppPage, AppTab, PageQuery, app_layout, app_user, empty_state, escape, signin_redirect, viewer,
};
use serde::Deserialize;

use crate::ChannelsState;
use crate::page_parts::{
    HEAD, SCRIPT_TAG, caption_html, channel_avatar, count, media_html, refusal,
};
use crate::views::media_url;

const SCRIPT: &str = include_str!("../../../web/channels.js");
const STYLESHEET: &str = include_str!("../../../web/channels.css");
/// Cards a page of the feed draws.
const FEED_PAGE: usize = 8;

pub(crate) fn router() -> Router<ChannelsState> {
    Router::new()
        .route("/app/channels", get(feed_page))
        .route("/app/channels/more", get(feed_more))
        .route("/app/channels/posts/{post_id}", get(post_page))
        .route("/app/channels/c/{channel_id}", get(channel_page))
        .route("/app/channels/studio", get(crate::studio::studio))
        .route(
            "/static/channels.js",
            get(|| plaza_http::web::asset("text/javascript; charset=utf-8", SCRIPT)),
        )
        .route(
            "/static/channels.css",
            get(|| plaza_http::web::asset("text/css; charset=utf-8", STYLESHEET)),
        )
}

/// "为什么推荐": the terms that ranked a post, as a disclosure.
fn why_html(ranked: &Ranked) -> String {
    let label = |term: &str| match term {
        "freshness" => "新鲜度 Freshness",
        "engagement" => "互动 Engagement",
        "following" => "已关注 Following",
        "area" => "你关注的领域 Your areas",
        "original" => "原创 Original",
        _ => "",
    };
    let rows: String = ranked
        .terms
        .iter()
        .map(|term| {
            format!(
                "<tr><td>{}</td><td class=\"num\">{:.2}</td><td class=\"num\">×{}</td><td class=\"num\">{:.2}</td></tr>",
                label(term.name),
                term.value,
                term.weight,
                term.points
            )
        })
        .collect();
    format!(
        "<details class=\"ch-why\"><summary>为什么推荐？ Why am I seeing this?</summary>\
         <table><thead><tr><th>因素 Term</th><th>值</th><th>权重</th><th>得分</th></tr></thead>\
         <tbody>{rows}</tbody><tfoot><tr><td colspan=\"3\">总分 Score</td><td class=\"num\" data-score>{:.3}</td></tr></tfoot></table></details>",
        ranked.score
    )
}

/// One card of the feed.
fn card_html(post: &Post, channel: &Channel, stats: &PostStats, ranked: &Ranked) -> String {
    let copy = match &post.originality {
        Originality::Original if post.video.is_some() => "<span class=\"ch-badge\">原创</span>",
        _ => "",
    };
    format!(
        "<article class=\"ch-card\" data-post=\"{id}\">\
         <header><a class=\"ch-who\" href=\"/app/channels/c/{cid}\">{avatar}<span><strong>{name}</strong>\
         <small>{area}</small></span></a>{copy}</header>{media}\
         <a class=\"ch-caption\" href=\"/app/channels/posts/{id}\">{caption}</a>\
         <footer class=\"ch-actions\"><button type=\"button\" class=\"ch-like\" data-post=\"{id}\" aria-pressed=\"false\">♡ <span>{likes}</span></button>\
         <a href=\"/app/channels/posts/{id}#comments\">评论 {comments}</a><span class=\"muted\">▶ {views}</span></footer>{why}</article>",
        id = escape(&post.post_id),
        cid = escape(&channel.channel_id),
        avatar = channel_avatar(channel),
        name = escape(&channel.name),
        area = channel.area.label(),
        media = media_html(post, false),
        caption = caption_html(&post.caption),
        likes = count(stats.likes),
        comments = count(stats.comments),
        views = count(stats.views),
        why = why_html(ranked),
    )
}

#[derive(Deserialize)]
struct FeedQuery {
    tab: Option<String>,
    cursor: Option<String>,
}

/// The cards of one page of a tab, and the cursor of the next.
async fn feed_cards(
    state: &ChannelsState,
    viewer: Option<&str>,
    following: bool,
    cursor: Option<&str>,
) -> Result<(String, Option<String>), ChannelsError> {
    let channels = &state.channels;
    let (items, next): (Vec<FeedItem>, Option<String>) = if following {
        let Some(user_id) = viewer else {
            return Ok((String::new(), None));
        };
        let before = cursor.and_then(|text| {
            let (at, id) = text.split_once('~')?;
            Some((at.parse().ok()?, id.to_owned()))
        });
        let found = channels.following_feed(user_id, before, FEED_PAGE);
        let next = (found.len() == FEED_PAGE)
            .then(|| found.last().map(|((at, id), _)| format!("{at}~{id}")))
            .flatten();
        (found.into_iter().map(|(_, item)| item).collect(), next)
    } else {
        let offset = cursor.and_then(|text| text.parse().ok()).unwrap_or(0);
        let items = channels.recommended(viewer, offset, FEED_PAGE);
        let next = (items.len() == FEED_PAGE).then(|| (offset + FEED_PAGE).to_string());
        (items, next)
    };
    let html = items
        .iter()
        .map(|item| card_html(&item.post, &item.channel, &item.stats, &item.ranked))
        .collect();
    Ok((html, next))
}

/// `GET /app/channels`: the feed, Recommended or Following.
async fn feed_page(
    State(state): State<ChannelsState>,
    headers: HeaderMap,
    PageQuery(query): PageQuery<FeedQuery>,
) -> Response {
    let viewer = viewer(&state.http, &headers).await;
    let user = app_user(&viewer);
    let following = query.tab.as_deref() == Some("following");
    if following && user.is_none() {
        return signin_redirect("/app/channels?tab=following");
    }
    let user_id = user.as_ref().map(|user| user.user_id.as_str());
    let (cards, next) = match feed_cards(&state, user_id, following, None).await {
        Ok(found) => found,
        Err(error) => return refusal(error),
    };
    let tab = |key: &str, href: &str, label: &str, current: bool| {
        format!(
            "<a id=\"tab-{key}\" href=\"{href}\"{}>{label}</a>",
            if current {
                " class=\"current\" aria-current=\"page\""
            } else {
                ""
            }
        )
    };
    let empty = if cards.is_empty() {
        empty_state(
            "还没有动态 Nothing here yet",
            if following {
                "Follow channels to see their posts here."
            } else {
                "No posts yet."
            },
            Some(("/app/channels/studio", "发表 Post something")),
        )
    } else {
        String::new()
    };
    let more = next.map_or_else(String::new, |cursor| {
        format!(
            "<div class=\"ch-more\" id=\"ch-more\" data-next=\"/app/channels/more?tab={}&amp;cursor={}\">加载中 Loading…</div>",
            if following { "following" } else { "recommended" },
            escape(&cursor)
        )
    });
    let body = format!(
        "{HEAD}<nav class=\"ch-tabs\">{}{}<a id=\"tab-live\" href=\"/app/channels/live\">直播</a>\
         <a class=\"ch-studio\" href=\"/app/channels/studio\">✚</a></nav>\
         <div class=\"ch-feed\" id=\"ch-feed\">{cards}</div>{empty}{more}{SCRIPT_TAG}",
        tab("recommended", "/app/channels", "推荐", !following),
        tab(
            "following",
            "/app/channels?tab=following",
            "关注",
            following
        ),
    );
    app_layout(
        AppPage::below(AppTab::Discover, "视频号 Channels", "/app/discover"),
        &viewer,
        &body,
    )
    .into_response()
}

/// `GET /app/channels/more`: the next page's cards, for the feed's infinite paging (an
/// HTML fragment with the following cursor in a header).
async fn feed_more(
    State(state): State<ChannelsState>,
    headers: HeaderMap,
    PageQuery(query): PageQuery<FeedQuery>,
) -> Response {
    let viewer = viewer(&state.http, &headers).await;
    let user = app_user(&viewer);
    let following = query.tab.as_deref() == Some("following");
    let user_id = user.as_ref().map(|user| user.user_id.as_str());
    match feed_cards(&state, user_id, following, query.cursor.as_deref()).await {
        Ok((cards, next)) => {
            let next = next.map_or_else(String::new, |cursor| {
                format!(
                    "/app/channels/more?tab={}&cursor={cursor}",
                    if following {
                        "following"
                    } else {
                        "recommended"
                    }
                )
            });
            ([("x-next-page", next)], Html(cards)).into_response()
        }
        Err(error) => refusal(error),
    }
}

/// `GET /app/channels/posts/{id}`: the post with its player, actions and comments.
async fn post_page(
    State(state): State<ChannelsState>,
    Path(post_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let viewer = viewer(&state.http, &headers).await;
    let user = app_user(&viewer);
    let user_id = user.as_ref().map(|user| user.user_id.as_str());
    match crate::post_page::body(&state, &post_id, user_id).await {
        Ok((title, body)) => app_layout(
            AppPage::below(AppTab::Discover, &title, "/app/channels"),
            &viewer,
            &format!("{HEAD}{body}{SCRIPT_TAG}"),
        )
        .into_response(),
        Err(error) => refusal(error),
    }
}

/// A post in a channel's grid: its poster (or first image) and the caption's start.
fn tile_html(post: &Post) -> String {
    let picture = post.video.as_ref().map_or_else(
        || {
            post.images
                .first()
                .map(|image| image.sha256.clone())
                .unwrap_or_default()
        },
        |video| video.poster.clone(),
    );
    format!(
        "<a class=\"ch-tile\" href=\"/app/channels/posts/{id}\"><img src=\"{src}\" alt=\"\" loading=\"lazy\"><span>{caption}</span></a>",
        id = escape(&post.post_id),
        src = media_url(&picture),
        caption = escape(&post.caption.chars().take(24).collect::<String>()),
    )
}

/// `GET /app/channels/c/{id}`: a channel and its posts.
async fn channel_page(
    State(state): State<ChannelsState>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let viewer = viewer(&state.http, &headers).await;
    let user = app_user(&viewer);
    let user_id = user.as_ref().map(|user| user.user_id.as_str());
    let channels = &state.channels;
    let channel = match channels.existing_channel(&channel_id).await {
        Ok(channel) => channel,
        Err(error) => return refusal(error),
    };
    let (stats, posts, following) = match (
        channels.channel_stats(&channel_id).await,
        channels.posts_of(&channel_id, None, None, 60).await,
        match user_id {
            Some(id) => channels.follows(id, &channel_id).await,
            None => Ok(false),
        },
    ) {
        (Ok(stats), Ok(posts), Ok(following)) => (stats, posts, following),
        (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) => return refusal(error),
    };
    let tiles: String = posts.iter().map(|(_, post)| tile_html(post)).collect();
    let follow = if user_id.is_some_and(|id| id != channel.user_id) {
        format!(
            "<button type=\"button\" class=\"ch-follow{}\" id=\"ch-follow\" data-channel=\"{}\" aria-pressed=\"{following}\">{}</button>",
            if following { " on" } else { "" },
            escape(&channel.channel_id),
            if following {
                "已关注"
            } else {
                "关注 Follow"
            }
        )
    } else {
        String::new()
    };
    let grid = if tiles.is_empty() {
        empty_state(
            "还没有作品 No posts yet",
            "Posts appear here once published.",
            None,
        )
    } else {
        format!("<div class=\"ch-grid\" id=\"ch-grid\">{tiles}</div>")
    };
    let body = format!(
        "{HEAD}<section class=\"card ch-profile\">{avatar}<div><h2>{name}</h2>\
         <p class=\"muted\">{area} · <span id=\"ch-followers\">{followers}</span> 关注者 · {count} 作品</p><p>{bio}</p></div>{follow}</section>\
         {grid}{SCRIPT_TAG}",
        avatar = channel_avatar(&channel),
        name = escape(&channel.name),
        area = channel.area.label(),
        followers = count(stats.followers),
        count = stats.posts,
        bio = escape(&channel.bio),
    );
    app_layout(
        AppPage::below(AppTab::Discover, &channel.name, "/app/channels"),
        &viewer,
        &body,
    )
    .into_response()
}
