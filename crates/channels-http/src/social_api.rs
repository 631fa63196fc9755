//! `/api/v1/channels/…` for following, liking, commenting, sharing and viewing. Each
//! answers the count after the change; repeating a change changes nothing.

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use plaza_channels::social::Counted;
use plaza_http::ApiError;
use plaza_http::extract::{Json, Query};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ChannelsState;
use crate::api::SignedIn;
use crate::error::api_error;
use crate::views::{comment_json, post_page};

/// Comments a page holds.
const COMMENTS_PAGE: usize = 20;
/// Replies shown under each comment in a page of comments.
const REPLIES_PREVIEW: usize = 3;

pub(crate) fn router() -> Router<ChannelsState> {
    Router::new()
        .route(
            "/api/v1/channels/{channel_id}/follow",
            post(follow).delete(follow),
        )
        .route(
            "/api/v1/channels/posts/{post_id}/like",
            post(like).delete(like),
        )
        .route(
            "/api/v1/channels/posts/{post_id}/comments",
            post(add_comment).get(list_comments),
        )
        .route(
            "/api/v1/channels/comments/{comment_id}/replies",
            get(list_replies),
        )
        .route(
            "/api/v1/channels/comments/{comment_id}/like",
            post(like_comment).delete(like_comment),
        )
        .route("/api/v1/channels/posts/{post_id}/views", post(view))
        .route("/api/v1/channels/posts/{post_id}/shares", post(share))
}

/// A mark's answer: the count, whether this call changed it, and the mark's state.
fn counted(name: &str, counted: Counted, (flag, on): (&str, bool)) -> AxumJson<Value> {
    AxumJson(json!({ name: counted.count, "changed": counted.changed, flag: on }))
}

/// `POST` sets a mark, `DELETE` takes it back.
fn switched_on(method: &Method) -> bool {
    *method == Method::POST
}

async fn follow(
    State(state): State<ChannelsState>,
    method: Method,
    SignedIn(user): SignedIn,
    Path(channel_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let on = switched_on(&method);
    let result = state
        .channels
        .set_follow(&user.user_id, &channel_id, on)
        .await
        .map_err(api_error)?;
    Ok(counted("followers", result, ("following", on)))
}

async fn like(
    State(state): State<ChannelsState>,
    method: Method,
    SignedIn(user): SignedIn,
    Path(post_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let on = switched_on(&method);
    let result = state
        .channels
        .set_like(&user.user_id, &post_id, on)
        .await
        .map_err(api_error)?;
    Ok(counted("likes", result, ("liked", on)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    text: String,
    reply_to: Option<String>,
}

async fn add_comment(
    State(state): State<ChannelsState>,
    SignedIn(user): SignedIn,
    Path(post_id): Path<String>,
    Json(body): Json<CommentBody>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let comment = state
        .channels
        .comment(
            &user.user_id,
            &post_id,
            &body.text,
            body.reply_to.as_deref(),
        )
        .await
        .map_err(api_error)?;
    Ok((StatusCode::CREATED, AxumJson(comment_json(&comment))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CursorQuery {
    cursor: Option<String>,
}

fn after(cursor: Option<&str>) -> Result<Option<(String, String)>, ApiError> {
    cursor
        .map(|text| {
            text.split_once('~')
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .ok_or_else(|| {
                    ApiError::new(crate::error::code::INVALID_QUERY, "cursor is malformed")
                })
        })
        .transpose()
}

async fn list_comments(
    State(state): State<ChannelsState>,
    Path(post_id): Path<String>,
    Query(query): Query<CursorQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let channels = &state.channels;
    channels.post(&post_id, None).await.map_err(api_error)?;
    let found = channels
        .comments(
            &post_id,
            None,
            after(query.cursor.as_deref())?,
            COMMENTS_PAGE,
        )
        .await
        .map_err(api_error)?;
    let mut comments = Vec::new();
    for (_, comment) in &found {
        let mut view = comment_json(comment);
        if comment.replies > 0 {
            let replies = channels
                .comments(&post_id, Some(&comment.comment_id), None, REPLIES_PREVIEW)
                .await
                .map_err(api_error)?;
            view["replies_preview"] = json!(
                replies
                    .iter()
                    .map(|(_, reply)| comment_json(reply))
                    .collect::<Vec<_>>()
            );
        }
        comments.push(view);
    }
    let next = (found.len() == COMMENTS_PAGE)
        .then(|| {
            found
                .last()
                .map(|(value, c)| format!("{value}~{}", c.comment_id))
        })
        .flatten();
    Ok(AxumJson(
        json!({ "comments": comments, "next_cursor": next }),
    ))
}

async fn list_replies(
    State(state): State<ChannelsState>,
    Path(comment_id): Path<String>,
    Query(query): Query<CursorQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let channels = &state.channels;
    let head = channels
        .comment_by_id(&comment_id)
        .await
        .map_err(api_error)?;
    channels
        .post(&head.post_id, None)
        .await
        .map_err(api_error)?;
    let found = channels
        .comments(
            &head.post_id,
            Some(&comment_id),
            after(query.cursor.as_deref())?,
            COMMENTS_PAGE,
        )
        .await
        .map_err(api_error)?;
    let next = (found.len() == COMMENTS_PAGE)
        .then(|| {
            found
                .last()
                .map(|(value, c)| format!("{value}~{}", c.comment_id))
        })
        .flatten();
    Ok(AxumJson(json!({
        "replies": found.iter().map(|(_, reply)| comment_json(reply)).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

async fn like_comment(
    State(state): State<ChannelsState>,
    method: Method,
    SignedIn(user): SignedIn,
    Path(comment_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let on = switched_on(&method);
    let result = state
        .channels
        .set_comment_like(&user.user_id, &comment_id, on)
        .await
        .map_err(api_error)?;
    Ok(counted("likes", result, ("liked", on)))
}

async fn view(
    State(state): State<ChannelsState>,
    SignedIn(user): SignedIn,
    Path(post_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let result = state
        .channels
        .view(&user.user_id, &post_id)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(
        json!({ "views": result.count, "counted": result.changed }),
    ))
}

/// Counts a share and answers the card a chat message carries (WeCom's chat takes it as
/// a `card` of kind `channels`).
async fn share(
    State(state): State<ChannelsState>,
    SignedIn(_user): SignedIn,
    Path(post_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let (post, result) = state.channels.share(&post_id).await.map_err(api_error)?;
    let channel = state
        .channels
        .channel(&post.channel_id)
        .await
        .map_err(api_error)?
        .map(|channel| channel.name)
        .unwrap_or_default();
    let title: String = if post.caption.is_empty() {
        format!("{channel}的视频")
    } else {
        post.caption.chars().take(64).collect()
    };
    Ok(AxumJson(json!({
        "shares": result.count,
        "card": {
            "kind": "channels",
            "title": title,
            "description": format!("视频号 · {channel}").chars().take(128).collect::<String>(),
            "url": post_page(&post.post_id),
        },
    })))
}
