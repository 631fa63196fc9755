//! `/api/v1/channels/…`: a person's channel, resumable uploads, posts and the feed.
//! Reading is open to everyone (signed in or not); changing needs a user session
//! (`Authorization: Bearer <token>` or the session cookie).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json as AxumJson, Router};
use plaza_channels::creators::{ChannelPatch, NewChannel};
use plaza_channels::feed::FeedItem;
use plaza_channels::model::{Area, Post, UploadPurpose};
use plaza_channels::posts::NewPost;
use plaza_http::ApiError;
use plaza_http::extract::{Json, Query};
use plaza_identity::{IdentityError, User};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::ChannelsState;
use crate::error::api_error;
use crate::views::{channel_json, post_json, upload_json, why_json};

/// Room above the largest piece, so a piece a little too large is refused by the domain
/// with its size and limit rather than by the transport.
const PIECE_SLACK_BYTES: usize = 64 * 1024;
/// Posts a page of a feed or a channel holds by default, and at most.
const PAGE_DEFAULT: usize = 10;
const PAGE_MAX: usize = 50;

pub(crate) fn router() -> Router<ChannelsState> {
    let piece_limit = DefaultBodyLimit::max(
        usize::try_from(plaza_channels::uploads::CHUNK_BYTES_MAX).unwrap_or(usize::MAX)
            + PIECE_SLACK_BYTES,
    );
    Router::new()
        .route(
            "/api/v1/channels/me",
            get(my_channel).post(open_channel).patch(update_channel),
        )
        .route("/api/v1/channels/uploads", post(start_upload))
        .route(
            "/api/v1/channels/uploads/{upload_id}",
            get(upload_status).put(append_upload).layer(piece_limit),
        )
        .route("/api/v1/channels/posts", post(create_post))
        .route(
            "/api/v1/channels/posts/{post_id}",
            get(read_post).delete(delete_post),
        )
        .route("/api/v1/channels/posts/{post_id}/why", get(why))
        .route("/api/v1/channels/feed", get(feed))
        .route("/api/v1/channels/{channel_id}", get(read_channel))
        .route("/api/v1/channels/{channel_id}/posts", get(channel_posts))
}

/// The signed-in user (401 `unauthorized` otherwise).
pub(crate) struct SignedIn(pub(crate) User);

impl FromRequestParts<ChannelsState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ChannelsState,
    ) -> Result<Self, ApiError> {
        let token = plaza_http::web::session_token(&parts.headers)?;
        user_of(state, token).await.map(Self)
    }
}

/// The signed-in user if a session was sent (a session sent but ended is 401).
pub(crate) struct MaybeSignedIn(pub(crate) Option<User>);

impl FromRequestParts<ChannelsState> for MaybeSignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ChannelsState,
    ) -> Result<Self, ApiError> {
        match plaza_http::web::session_token(&parts.headers) {
            Ok(token) => user_of(state, token).await.map(|user| Self(Some(user))),
            Err(_) => Ok(Self(None)),
        }
    }
}

impl MaybeSignedIn {
    pub(crate) fn id(&self) -> Option<&str> {
        self.0.as_ref().map(|user| user.user_id.as_str())
    }
}

async fn user_of(state: &ChannelsState, token: &str) -> Result<User, ApiError> {
    state
        .channels
        .identity()
        .session_user(token)
        .await
        .map_err(|error| match error {
            IdentityError::SessionUnknown => plaza_http::web::session_ended(),
            other => api_error(other.into()),
        })
}

fn area_of(text: &str) -> Result<Area, ApiError> {
    Area::parse(text).ok_or_else(|| {
        ApiError::invalid_field(
            "area",
            "one of knowledge, lifestyle, news, sport, music, drama, talent",
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenChannelBody {
    name: String,
    #[serde(default)]
    bio: String,
    area: String,
    avatar_upload: Option<String>,
}

async fn open_channel(
    State(state): State<ChannelsState>,
    SignedIn(user): SignedIn,
    Json(body): Json<OpenChannelBody>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let new = NewChannel {
        name: body.name,
        bio: body.bio,
        area: area_of(&body.area)?,
        avatar_upload: body.avatar_upload,
    };
    let channel = state
        .channels
        .open_channel(&user.user_id, new)
        .await
        .map_err(api_error)?;
    Ok((
        StatusCode::CREATED,
        AxumJson(channel_json(&channel, &Default::default())),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchChannelBody {
    name: Option<String>,
    bio: Option<String>,
    area: Option<String>,
    avatar_upload: Option<String>,
}

async fn update_channel(
    State(state): State<ChannelsState>,
    SignedIn(user): SignedIn,
    Json(body): Json<PatchChannelBody>,
) -> Result<AxumJson<Value>, ApiError> {
    let patch = ChannelPatch {
        name: body.name,
        bio: body.bio,
        area: body.area.as_deref().map(area_of).transpose()?,
        avatar_upload: body.avatar_upload,
    };
    let channels = &state.channels;
    let channel = channels
        .update_channel(&user.user_id, patch)
        .await
        .map_err(api_error)?;
    let stats = channels
        .channel_stats(&channel.channel_id)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(channel_json(&channel, &stats)))
}

async fn my_channel(
    State(state): State<ChannelsState>,
    SignedIn(user): SignedIn,
) -> Result<AxumJson<Value>, ApiError> {
    let channels = &state.channels;
    let channel = channels
        .channel_of(&user.user_id)
        .await
        .map_err(api_error)?
        .ok_or_else(|| api_error(plaza_channels::ChannelsError::NoChannel))?;
    let stats = channels
        .channel_stats(&channel.channel_id)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(channel_json(&channel, &stats)))
}

async fn read_channel(
    State(state): State<ChannelsState>,
    MaybeSignedIn(viewer): MaybeSignedIn,
    Path(channel_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let channels = &state.channels;
    let channel = channels
        .existing_channel(&channel_id)
        .await
        .map_err(api_error)?;
    let stats = channels
        .channel_stats(&channel_id)
        .await
        .map_err(api_error)?;
    let mut view = channel_json(&channel, &stats);
    if let Some(viewer) = viewer {
        view["following"] = json!(
            channels
                .follows(&viewer.user_id, &channel_id)
                .await
                .map_err(api_error)?
        );
    }
    Ok(AxumJson(view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    cursor: Option<String>,
    limit: Option<usize>,
    tab: Option<String>,
}

fn page_size(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(PAGE_DEFAULT);
    if (1..=PAGE_MAX).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::new(
            crate::error::code::INVALID_QUERY,
            format!("limit must be between 1 and {PAGE_MAX}"),
        ))
    }
}

/// A cursor of two parts, `first~second`.
fn split_cursor(cursor: &str) -> Result<(String, String), ApiError> {
    cursor
        .split_once('~')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .ok_or_else(|| ApiError::new(crate::error::code::INVALID_QUERY, "cursor is malformed"))
}

/// A post with its counters and its channel's name, as the API shows it.
pub(crate) async fn post_view(state: &ChannelsState, post: &Post) -> Result<Value, ApiError> {
    let channels = &state.channels;
    let stats = channels
        .post_stats(&post.post_id)
        .await
        .map_err(api_error)?;
    let name = channels
        .channel(&post.channel_id)
        .await
        .map_err(api_error)?
        .map(|channel| channel.name)
        .unwrap_or_default();
    Ok(post_json(post, &stats, &name))
}

async fn channel_posts(
    State(state): State<ChannelsState>,
    viewer: MaybeSignedIn,
    Path(channel_id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let limit = page_size(query.limit)?;
    let before = query.cursor.as_deref().map(split_cursor).transpose()?;
    state
        .channels
        .existing_channel(&channel_id)
        .await
        .map_err(api_error)?;
    let found = state
        .channels
        .posts_of(&channel_id, viewer.id(), before, limit)
        .await
        .map_err(api_error)?;
    let mut posts = Vec::new();
    for (_, post) in &found {
        posts.push(post_view(&state, post).await?);
    }
    let next = (found.len() == limit)
        .then(|| {
            found
                .last()
                .map(|(value, post)| format!("{value}~{}", post.post_id))
        })
        .flatten();
    Ok(AxumJson(json!({ "posts": posts, "next_cursor": next })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartUploadBody {
    purpose: String,
    size: u64,
}

async fn start_upload(
    State(state): State<ChannelsState>,
    SignedIn(user): SignedIn,
    Json(body): Json<StartUploadBody>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let purpose = match body.purpose.as_str() {
        "video" => UploadPurpose::Video,
        "image" => UploadPurpose::Image,
        _ => return Err(ApiError::invalid_field("purpose", "video or image")),
    };
    let upload = state
        .channels
        .start_upload(&user.user_id, purpose, body.size)
        .await
        .map_err(api_error)?;
    Ok((StatusCode::CREATED, AxumJson(upload_json(&upload))))
}

async fn upload_status(
    State(state): State<ChannelsState>,
    SignedIn(user): SignedIn,
    Path(upload_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let upload = state
        .channels
        .upload(&user.user_id, &upload_id)
        .await
        .map_err(api_error)?;
    Ok(AxumJson(upload_json(&upload)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OffsetQuery {
    offset: u64,
}

async fn append_upload(
    State(state): State<ChannelsState>,
    SignedIn(user): SignedIn,
    Path(upload_id): Path<String>,
    Query(query): Query<OffsetQuery>,
    body: Bytes,
) -> Result<AxumJson<Value>, ApiError> {
    let upload = state
        .channels
        .append_upload(&user.user_id, &upload_id, query.offset, body.to_vec())
        .await
        .map_err(api_error)?;
    Ok(AxumJson(upload_json(&upload)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreatePostBody {
    uploads: Vec<String>,
    #[serde(default)]
    caption: String,
}

async fn create_post(
    State(state): State<ChannelsState>,
    SignedIn(user): SignedIn,
    Json(body): Json<CreatePostBody>,
) -> Result<(StatusCode, AxumJson<Value>), ApiError> {
    let new = NewPost {
        uploads: body.uploads,
        caption: body.caption,
    };
    let post = state
        .channels
        .create_post(&user.user_id, new)
        .await
        .map_err(api_error)?;
    Ok((
        StatusCode::ACCEPTED,
        AxumJson(post_view(&state, &post).await?),
    ))
}

async fn read_post(
    State(state): State<ChannelsState>,
    viewer: MaybeSignedIn,
    Path(post_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let channels = &state.channels;
    let post = channels
        .post(&post_id, viewer.id())
        .await
        .map_err(api_error)?;
    let mut view = post_view(&state, &post).await?;
    if let Some(user_id) = viewer.id() {
        view["liked"] = json!(channels.likes(user_id, &post_id).await.map_err(api_error)?);
        view["following"] = json!(
            channels
                .follows(user_id, &post.channel_id)
                .await
                .map_err(api_error)?
        );
    }
    Ok(AxumJson(view))
}

async fn delete_post(
    State(state): State<ChannelsState>,
    SignedIn(user): SignedIn,
    Path(post_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .channels
        .delete_post(&user.user_id, &post_id)
        .await
        .map_err(api_error)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn why(
    State(state): State<ChannelsState>,
    viewer: MaybeSignedIn,
    Path(post_id): Path<String>,
) -> Result<AxumJson<Value>, ApiError> {
    let ranked = state
        .channels
        .explain(viewer.id(), &post_id)
        .map_err(api_error)?;
    Ok(AxumJson(why_json(&ranked)))
}

async fn feed(
    State(state): State<ChannelsState>,
    viewer: MaybeSignedIn,
    Query(query): Query<PageQuery>,
) -> Result<AxumJson<Value>, ApiError> {
    let limit = page_size(query.limit)?;
    match query.tab.as_deref().unwrap_or("recommended") {
        "recommended" => recommended(&state, &viewer, query.cursor.as_deref(), limit).await,
        "following" => following(&state, &viewer, query.cursor.as_deref(), limit).await,
        _ => Err(ApiError::new(
            crate::error::code::INVALID_QUERY,
            "tab must be recommended or following",
        )),
    }
}

/// A feed card: the post as the API shows it, and why it is there.
fn item_json(item: &FeedItem) -> Value {
    json!({
        "post": post_json(&item.post, &item.stats, &item.channel.name),
        "why": why_json(&item.ranked),
    })
}

#[allow(clippy::unused_async, reason = "the feed's handlers share one shape")]
async fn recommended(
    state: &ChannelsState,
    viewer: &MaybeSignedIn,
    cursor: Option<&str>,
    limit: usize,
) -> Result<AxumJson<Value>, ApiError> {
    let offset = match cursor {
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| ApiError::new(crate::error::code::INVALID_QUERY, "cursor is malformed"))?,
        None => 0,
    };
    let found = state.channels.recommended(viewer.id(), offset, limit);
    let items: Vec<Value> = found.iter().map(item_json).collect();
    let next = (found.len() == limit).then(|| (offset + limit).to_string());
    Ok(AxumJson(
        json!({ "tab": "recommended", "items": items, "next_cursor": next }),
    ))
}

#[allow(clippy::unused_async, reason = "the feed's handlers share one shape")]
async fn following(
    state: &ChannelsState,
    viewer: &MaybeSignedIn,
    cursor: Option<&str>,
    limit: usize,
) -> Result<AxumJson<Value>, ApiError> {
    let Some(user_id) = viewer.id() else {
        return Err(ApiError::new(
            crate::error::code::UNAUTHORIZED,
            "the Following tab needs a user session",
        ));
    };
    let before = match cursor {
        Some(text) => {
            let (published, post_id) = split_cursor(text)?;
            let published = published.parse::<i64>().map_err(|_| {
                ApiError::new(crate::error::code::INVALID_QUERY, "cursor is malformed")
            })?;
            Some((published, post_id))
        }
        None => None,
    };
    let found = state.channels.following_feed(user_id, before, limit);
    let items: Vec<Value> = found.iter().map(|(_, item)| item_json(item)).collect();
    let next = (found.len() == limit)
        .then(|| found.last().map(|((at, id), _)| format!("{at}~{id}")))
        .flatten();
    Ok(AxumJson(
        json!({ "tab": "following", "items": items, "next_cursor": next }),
    ))
}
