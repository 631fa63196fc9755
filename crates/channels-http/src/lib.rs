//! Channels' HTTP surfaces in Plaza. There is no public WeChat server API for Channels,
//! so Plaza's own `/api/v1/channels/…` is the interface (documented in
//! `docs/channels.md`): channels, resumable uploads, posts, follows, likes, comments,
//! shares, views and the feed with its explanations ([`api`]); media files streamed
//! with HTTP range requests ([`media`]).
//!
//! The one design decision: a file is served only when a ready post (or a channel's
//! avatar) names it — the object store holds other systems' blobs too, and a deleted
//! post's files stop being served at once.
#![deny(missing_docs)]

mod api;
mod error;
mod incentive_api;
mod live_api;
mod live_page;
mod media;
mod page_parts;
mod post_page;
mod social_api;
mod studio;
mod views;
mod web;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use plaza_channels::Channels;
use plaza_http::{HttpState, NavEntry, SystemRoutes};

pub use error::CHANNELS_ERROR_CODES;

/// Channels' navigation entries: the feed on Discover, the creator studio on Me.
pub const NAV: &[NavEntry] = &[
    NavEntry::discover("channels", "/app/channels", "视频号 Channels", "视"),
    NavEntry::me(
        "channels-studio",
        "/app/channels/studio",
        "视频号助手 Creator studio",
        "创",
    ),
];

/// Everything Channels' handlers need; cheap to clone.
#[derive(Clone)]
pub struct ChannelsState(Arc<ChannelsStateParts>);

impl ChannelsState {
    /// Shares the parts.
    pub fn new(parts: ChannelsStateParts) -> Self {
        Self(Arc::new(parts))
    }
}

impl std::ops::Deref for ChannelsState {
    type Target = ChannelsStateParts;

    fn deref(&self) -> &ChannelsStateParts {
        &self.0
    }
}

impl FromRef<ChannelsState> for HttpState {
    fn from_ref(state: &ChannelsState) -> HttpState {
        state.http.clone()
    }
}

/// What [`ChannelsState`] holds.
pub struct ChannelsStateParts {
    /// What every surface shares.
    pub http: HttpState,
    /// The domain.
    pub channels: Arc<Channels>,
}

/// Everything Channels serves, on Plaza's own host.
pub fn routes(state: ChannelsState) -> SystemRoutes {
    SystemRoutes::own(
        Router::new()
            .merge(api::router())
            .merge(social_api::router())
            .merge(incentive_api::router())
            .merge(live_api::router())
            .merge(live_page::router())
            .merge(media::router())
            .merge(web::router())
            .with_state(state),
    )
}
