//! The JSON shapes of Channels' `/api/v1`.

use plaza_channels::PostStats;
use plaza_channels::feed::Ranked;
use plaza_channels::model::{Channel, ChannelStats, Comment, Originality, Post, PostState, Upload};
use serde_json::{Value, json};

/// Where a stored file is served.
pub(crate) fn media_url(sha256: &str) -> String {
    format!("/api/v1/channels/media/{sha256}")
}

/// Where a post opens in the user app (its share link).
pub(crate) fn post_page(post_id: &str) -> String {
    format!("/app/channels/posts/{post_id}")
}

pub(crate) fn channel_json(channel: &Channel, stats: &ChannelStats) -> Value {
    json!({
        "channel_id": channel.channel_id,
        "name": channel.name,
        "bio": channel.bio,
        "area": channel.area.as_str(),
        "area_label": channel.area.label(),
        "avatar_url": channel.avatar.as_deref().map(media_url),
        "followers": stats.followers,
        "posts": stats.posts,
        "created_at": plaza_http::rfc3339(channel.created_at),
    })
}

pub(crate) fn upload_json(upload: &Upload) -> Value {
    json!({
        "upload_id": upload.upload_id,
        "purpose": match upload.purpose {
            plaza_channels::model::UploadPurpose::Video => "video",
            plaza_channels::model::UploadPurpose::Image => "image",
        },
        "size": upload.size_bytes,
        "received": upload.received_bytes(),
        "complete": upload.complete(),
        "format": upload.format,
        "used_by": upload.used_by,
        "chunk_bytes_max": plaza_channels::uploads::CHUNK_BYTES_MAX,
    })
}

fn originality_json(originality: &Originality) -> Value {
    match originality {
        Originality::Unknown => json!({ "kind": "unknown" }),
        Originality::Original => json!({ "kind": "original" }),
        Originality::Copy { of_post, by } => {
            json!({ "kind": "copy", "of_post": of_post, "by": by, "original_url": post_page(of_post) })
        }
    }
}

pub(crate) fn post_json(post: &Post, stats: &PostStats, channel_name: &str) -> Value {
    let (state, reason) = match &post.state {
        PostState::Processing => ("processing", None),
        PostState::Ready => ("ready", None),
        PostState::Failed { reason } => ("failed", Some(reason.as_str())),
        PostState::Deleted => ("deleted", None),
    };
    json!({
        "post_id": post.post_id,
        "channel_id": post.channel_id,
        "channel_name": channel_name,
        "area": post.area.as_str(),
        "state": state,
        "failure_reason": reason,
        "kind": post.kind.as_str(),
        "caption": post.caption,
        "topics": post.topics,
        "mentions": post.mentions,
        "video": post.video.as_ref().map(|video| json!({
            "url": media_url(&video.playable),
            "poster_url": media_url(&video.poster),
            "content_type": video.content_type,
            "bytes": video.playable_bytes,
            "duration_ms": video.duration_ms,
            "width": video.width,
            "height": video.height,
            "codec": video.codec,
            "transcoded": video.transcoded,
        })),
        "images": post.images.iter().map(|image| json!({
            "url": media_url(&image.sha256),
            "content_type": image.content_type,
            "width": image.width,
            "height": image.height,
        })).collect::<Vec<_>>(),
        "originality": originality_json(&post.originality),
        "likes": stats.likes,
        "comments": stats.comments,
        "shares": stats.shares,
        "views": stats.views,
        "share_url": post_page(&post.post_id),
        "created_at": plaza_http::rfc3339(post.created_at),
        "published_at": post.published_at.map(plaza_http::rfc3339),
    })
}

pub(crate) fn comment_json(comment: &Comment) -> Value {
    json!({
        "comment_id": comment.comment_id,
        "post_id": comment.post_id,
        "author_name": comment.author_name,
        "reply_to": comment.reply_to,
        "text": comment.text,
        "likes": comment.likes,
        "replies": comment.replies,
        "created_at": plaza_http::rfc3339(comment.created_at),
    })
}

/// "Why am I seeing this?": the score and each term that made it.
pub(crate) fn why_json(ranked: &Ranked) -> Value {
    json!({
        "score": ranked.score,
        "terms": ranked.terms.iter().map(|term| json!({
            "term": term.name,
            "value": term.value,
            "weight": term.weight,
            "points": term.points,
        })).collect::<Vec<_>>(),
    })
}
