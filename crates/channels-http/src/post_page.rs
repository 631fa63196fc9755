//! The post page's body: the player (or images), the channel with its follow button, the
//! caption, likes and shares (into a WeCom chat as a card, or the link), why it was
//! recommended, and the comments with replies, likes and the form.

use plaza_channels::model::{Comment, Originality};
use plaza_channels::{Channels, ChannelsError};
use plaza_http::web::{china_time, escape};

use crate::ChannelsState;
use crate::page_parts::{caption_html, channel_avatar, count, media_html, state_label, when};

/// Top-level comments the page draws, with up to this many replies each.
const COMMENTS_SHOWN: usize = 30;
const REPLIES_SHOWN: usize = 5;

fn comment_html(comment: &Comment, signed_in: bool, replies: &str) -> String {
    let reply = if signed_in && comment.reply_to.is_none() {
        format!(
            "<button type=\"button\" class=\"ch-reply\" data-comment=\"{id}\" data-name=\"{name}\">回复</button>",
            id = escape(&comment.comment_id),
            name = escape(&comment.author_name)
        )
    } else {
        String::new()
    };
    format!(
        "<li class=\"ch-comment\" id=\"c-{id}\"><p><strong>{name}</strong> {text}</p>\
         <div class=\"ch-comment-meta\"><small>{at}</small>{reply}\
         <button type=\"button\" class=\"ch-comment-like\" data-comment=\"{id}\">♡ <span>{likes}</span></button></div>{replies}</li>",
        id = escape(&comment.comment_id),
        name = escape(&comment.author_name),
        text = escape(&comment.text),
        at = china_time(comment.created_at),
        likes = count(comment.likes),
    )
}

async fn comments_html(
    channels: &Channels,
    post_id: &str,
    signed_in: bool,
) -> Result<String, ChannelsError> {
    let mut html = String::new();
    for (_, comment) in channels
        .comments(post_id, None, None, COMMENTS_SHOWN)
        .await?
    {
        let mut replies = String::new();
        if comment.replies > 0 {
            let found = channels
                .comments(post_id, Some(&comment.comment_id), None, REPLIES_SHOWN)
                .await?;
            let items: String = found
                .iter()
                .map(|(_, reply)| comment_html(reply, signed_in, ""))
                .collect();
            replies = format!("<ul class=\"ch-replies\">{items}</ul>");
        }
        html.push_str(&comment_html(&comment, signed_in, &replies));
    }
    Ok(html)
}

/// The follow button, when the viewer may follow (signed in, not their own).
fn follow_button(channel_id: &str, shown: bool, following: bool) -> String {
    if !shown {
        return String::new();
    }
    format!(
        "<button type=\"button\" class=\"ch-follow{on}\" id=\"ch-follow\" data-channel=\"{cid}\" aria-pressed=\"{following}\">{label}</button>",
        on = if following { " on" } else { "" },
        cid = escape(channel_id),
        label = if following {
            "已关注"
        } else {
            "关注 Follow"
        }
    )
}

/// Whether the post is original, or whose copy it is.
fn origin_html(post: &plaza_channels::Post) -> String {
    match &post.originality {
        Originality::Original if post.video.is_some() => {
            "<p class=\"ch-origin original\">原创 Original</p>".to_owned()
        }
        Originality::Copy { of_post, .. } => format!(
            "<p class=\"ch-origin copy\">非原创：与<a href=\"/app/channels/posts/{}\">原作</a>相同 A copy of an earlier post</p>",
            escape(of_post)
        ),
        _ => String::new(),
    }
}

/// The comment form, or a sign-in link.
fn comment_form(post_id: &str, signed_in: bool) -> String {
    if signed_in {
        "<form class=\"ch-comment-form\" id=\"ch-comment-form\" autocomplete=\"off\">\
         <input type=\"hidden\" name=\"reply_to\" value=\"\">\
         <input name=\"text\" maxlength=\"500\" required placeholder=\"写评论 Add a comment\" aria-label=\"Comment\">\
         <button type=\"submit\">发送</button></form>"
            .to_owned()
    } else {
        format!(
            "<p class=\"muted\"><a href=\"/signin?next=/app/channels/posts/{}\">登录</a>后评论 Sign in to comment.</p>",
            escape(post_id)
        )
    }
}

/// The page's title and body for `viewer`.
pub(crate) async fn body(
    state: &ChannelsState,
    post_id: &str,
    viewer: Option<&str>,
) -> Result<(String, String), ChannelsError> {
    let channels = &state.channels;
    let post = channels.post(post_id, viewer).await?;
    let channel = channels.existing_channel(&post.channel_id).await?;
    let stats = channels.post_stats(post_id).await?;
    let (liked, following) = match viewer {
        Some(user_id) => (
            channels.likes(user_id, post_id).await?,
            channels.follows(user_id, &post.channel_id).await?,
        ),
        None => (false, false),
    };
    let signed_in = viewer.is_some();
    let own = viewer == Some(post.author.as_str());
    let follow = follow_button(&channel.channel_id, signed_in && !own, following);
    let origin = origin_html(&post);
    let status = if post.ready() {
        String::new()
    } else {
        let (key, label) = state_label(&post);
        format!(
            "<p class=\"ch-state {key}\" id=\"ch-state\">{}</p>",
            escape(&label)
        )
    };
    let why = match channels.explain(viewer, post_id) {
        Ok(ranked) => format!(
            "<p class=\"muted small ch-score\" id=\"ch-score\">推荐分 Score {:.3}</p>",
            ranked.score
        ),
        Err(_) => String::new(),
    };
    let form = comment_form(post_id, signed_in);
    let comments = comments_html(channels, post_id, signed_in).await?;
    let body = format!(
        "<article class=\"ch-post\" data-post=\"{id}\" data-signed-in=\"{signed_in}\">{media}{status}\
         <header class=\"ch-post-head\"><a class=\"ch-who\" href=\"/app/channels/c/{cid}\">{avatar}<span><strong>{name}</strong>\
         <small>{area} · {when}</small></span></a>{follow}</header>\
         <p class=\"ch-caption\">{caption}</p>{origin}\
         <footer class=\"ch-actions\">\
         <button type=\"button\" class=\"ch-like{liked_class}\" id=\"ch-like\" data-post=\"{id}\" aria-pressed=\"{liked}\">{heart} <span>{likes}</span></button>\
         <button type=\"button\" class=\"ch-share\" id=\"ch-share\" data-post=\"{id}\">↗ 分享 <span>{shares}</span></button>\
         <span class=\"muted\">▶ <span id=\"ch-views\">{views}</span></span></footer>{why}\
         <dialog id=\"ch-share-sheet\" class=\"ch-sheet\"><form method=\"dialog\"><h3>分享到 Share to</h3>\
         <ul id=\"ch-share-targets\" class=\"ch-targets\"><li class=\"muted\">加载中 Loading…</li></ul>\
         <p><button type=\"button\" id=\"ch-copy-link\">复制链接 Copy link</button> <button value=\"close\">关闭 Close</button></p>\
         <p class=\"muted small\" id=\"ch-share-status\" role=\"status\"></p></form></dialog>\
         <section class=\"ch-comments\" id=\"comments\"><h3>评论 <span id=\"ch-comment-count\">{comment_count}</span></h3>{form}\
         <ul class=\"ch-comment-list\" id=\"ch-comment-list\">{comments}</ul></section></article>",
        id = escape(post_id),
        media = media_html(&post, true),
        cid = escape(&channel.channel_id),
        avatar = channel_avatar(&channel),
        name = escape(&channel.name),
        area = channel.area.label(),
        when = when(&post),
        caption = caption_html(&post.caption),
        liked_class = if liked { " on" } else { "" },
        heart = if liked { "♥" } else { "♡" },
        likes = count(stats.likes),
        shares = count(stats.shares),
        views = count(stats.views),
        comment_count = stats.comments,
    );
    Ok((channel.name.clone(), body))
}
