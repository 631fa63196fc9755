//! What Channels' pages share: the stylesheet and script tags, counts in people's units,
//! captions with their topics marked, avatars, a post's media and state, and refusals
//! in people's words.

use axum::response::{IntoResponse, Response};
use plaza_channels::ChannelsError;
use plaza_channels::model::{Channel, Post, PostState};
use plaza_http::web::{ErrorPage, china_time, escape};

use crate::views::media_url;

/// A page's failure in people's words.
pub(crate) fn refusal(error: ChannelsError) -> Response {
    match error {
        ChannelsError::PostNotFound { .. } => {
            ErrorPage::not_found("这条动态不存在或已删除 This post does not exist or was deleted.")
                .back("/app/channels", "视频号 Channels")
                .into_response()
        }
        ChannelsError::ChannelNotFound { .. } => {
            ErrorPage::not_found("没有这个视频号 No such channel.")
                .back("/app/channels", "视频号 Channels")
                .into_response()
        }
        other => {
            tracing::error!(error = %other, "a Channels page failed");
            ErrorPage::from_api(&crate::error::api_error(other)).into_response()
        }
    }
}

/// The head every Channels page starts with: the stylesheet.
pub(crate) const HEAD: &str = "<link rel=\"stylesheet\" href=\"/static/channels.css\">";
/// The script every Channels page ends with.
pub(crate) const SCRIPT_TAG: &str = "<script type=\"module\" src=\"/static/channels.js\"></script>";

/// Counts in people's units: 1.2万 above ten thousand.
pub(crate) fn count(value: u64) -> String {
    if value >= 10_000 {
        let tenths = value / 1_000;
        format!("{}.{}万", tenths / 10, tenths % 10)
    } else {
        value.to_string()
    }
}

/// A caption with its topics and mentions marked.
pub(crate) fn caption_html(caption: &str) -> String {
    let mut html = String::new();
    let mut word = String::new();
    let mut marker: Option<char> = None;
    let flush = |html: &mut String, marker: Option<char>, word: &mut String| {
        match marker {
            Some(mark) if !word.is_empty() => html.push_str(&format!(
                "<span class=\"{}\">{mark}{}</span>",
                if mark == '#' { "topic" } else { "mention" },
                escape(word)
            )),
            Some(mark) => html.push(mark),
            None => {}
        }
        word.clear();
    };
    for c in caption.chars() {
        if marker.is_some() && (c.is_alphanumeric() || matches!(c, '_' | '-' | '·')) {
            word.push(c);
            continue;
        }
        flush(&mut html, marker, &mut word);
        marker = None;
        if c == '#' || c == '@' {
            marker = Some(c);
        } else {
            html.push_str(&escape(&c.to_string()));
        }
    }
    flush(&mut html, marker, &mut word);
    html
}

/// The channel's avatar: its image, or its first character in a tile.
pub(crate) fn channel_avatar(channel: &Channel) -> String {
    match &channel.avatar {
        Some(sha) => format!(
            "<img class=\"ch-avatar\" src=\"{}\" alt=\"\">",
            media_url(sha)
        ),
        None => {
            let initial: String = channel.name.chars().take(1).collect();
            format!(
                "<span class=\"ch-avatar ch-initial ch-area-{}\" aria-hidden=\"true\">{}</span>",
                channel.area.as_str(),
                escape(&initial)
            )
        }
    }
}

/// A post's media: the video with its poster, or its images.
pub(crate) fn media_html(post: &Post, autoload: bool) -> String {
    if let Some(video) = &post.video {
        format!(
            "<video class=\"ch-video\" data-post=\"{id}\" src=\"{src}\" poster=\"{poster}\" \
             preload=\"{preload}\" controls playsinline width=\"{w}\" height=\"{h}\"></video>",
            id = escape(&post.post_id),
            src = media_url(&video.playable),
            poster = media_url(&video.poster),
            preload = if autoload { "metadata" } else { "none" },
            w = video.width,
            h = video.height,
        )
    } else {
        let images: String = post
            .images
            .iter()
            .map(|image| {
                format!(
                    "<img src=\"{}\" alt=\"\" loading=\"lazy\" width=\"{}\" height=\"{}\">",
                    media_url(&image.sha256),
                    image.width,
                    image.height
                )
            })
            .collect();
        format!(
            "<div class=\"ch-images ch-images-{}\">{images}</div>",
            post.images.len().min(3)
        )
    }
}

/// A post's state in people's words, for its author.
pub(crate) fn state_label(post: &Post) -> (&'static str, String) {
    match &post.state {
        PostState::Processing => ("processing", "处理中 Processing".to_owned()),
        PostState::Ready => ("ready", "已发表 Published".to_owned()),
        PostState::Failed { reason } => ("failed", format!("失败 Failed: {reason}")),
        PostState::Deleted => ("deleted", "已删除 Deleted".to_owned()),
    }
}

/// When a post was published (or made), in China time.
pub(crate) fn when(post: &Post) -> String {
    china_time(post.published_at.unwrap_or(post.created_at))
}
