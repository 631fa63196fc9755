//! The feed: Following (the followed channels' posts, newest first) and Recommended,
//! ranked by a formula anyone can read and that every card can explain.
//!
//! A post's score is the sum of five terms, each a value in `[0, 1]` times a weight:
//!
//! | term | value | weight |
//! |---|---|---|
//! | `freshness` | `0.5 ^ (age in hours / 24)`: halves every day | 1.0 |
//! | `engagement` | `min(1, (likes + 2·comments + 3·shares) / (views + 20))` | 2.0 |
//! | `following` | 1 when the viewer follows the channel | 1.5 |
//! | `area` | the share of the viewer's follows in the post's area | 1.0 |
//! | `original` | 1 for an original video or an image post; 0 for a copy | 0.5 |
//!
//! Candidates are the newest [`RECENT_CANDIDATES`] ready posts and the newest
//! [`PER_FOLLOW_CANDIDATES`] of each followed channel, never the viewer's own; ties go to
//! the newer post.
//!
//! The one design decision: the feed is served from memory. Every ready post (with its
//! counters), every channel and every follow is kept in a [`FeedIndex`], loaded at start
//! by [`Channels::load_feed`] and written through after each commit that changes them —
//! exact because one process writes a data directory — so a feed request reads nothing
//! from the store.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};

use crate::model::{Area, Channel, Follow, Originality, Post, PostStats};
use crate::store::{index, kind, prefix_bounds, range};
use crate::{Channels, ChannelsError};

/// The weight of each term, in the order the table above gives them.
pub const WEIGHTS: [(&str, f64); 5] = [
    ("freshness", 1.0),
    ("engagement", 2.0),
    ("following", 1.5),
    ("area", 1.0),
    ("original", 0.5),
];
/// How many of the newest posts are candidates.
pub const RECENT_CANDIDATES: usize = 2_000;
/// How many of each followed channel's newest posts are candidates.
pub const PER_FOLLOW_CANDIDATES: usize = 20;
/// The engagement term's damping: views added to the denominator.
const VIEWS_DAMPING: f64 = 20.0;
/// Records read per page while loading.
const LOAD_PAGE: usize = 1_000;

/// What the feed keeps of a ready post.
#[derive(Debug, Clone)]
struct Facts {
    post: Arc<Post>,
    published_ms: i64,
    original: bool,
    stats: PostStats,
}

#[derive(Debug, Default)]
struct Inner {
    posts: HashMap<String, Facts>,
    /// Every ready post by (published, id).
    by_time: BTreeSet<(i64, String)>,
    /// Each channel's ready posts by (published, id).
    by_channel: HashMap<String, BTreeSet<(i64, String)>>,
    channels: HashMap<String, Arc<Channel>>,
    /// Each user's channel.
    owners: HashMap<String, String>,
    /// The channels each user follows.
    follows: HashMap<String, HashSet<String>>,
}

/// The in-memory copy of every ready post, channel and follow.
#[derive(Debug, Default)]
pub(crate) struct FeedIndex(RwLock<Inner>);

impl FeedIndex {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// A post became visible (or changed while visible: its originality).
    pub(crate) fn post_ready(&self, post: &Post, stats: &PostStats) {
        let published_ms = post.published_at.map_or(0, |at| at.unix_ms());
        let facts = Facts {
            post: Arc::new(post.clone()),
            published_ms,
            original: !matches!(post.originality, Originality::Copy { .. }),
            stats: stats.clone(),
        };
        let mut inner = self.write();
        inner.by_time.insert((published_ms, post.post_id.clone()));
        inner
            .by_channel
            .entry(post.channel_id.clone())
            .or_default()
            .insert((published_ms, post.post_id.clone()));
        inner.posts.insert(post.post_id.clone(), facts);
    }

    /// A post went away.
    pub(crate) fn post_gone(&self, post_id: &str) {
        let mut inner = self.write();
        if let Some(facts) = inner.posts.remove(post_id) {
            let entry = (facts.published_ms, post_id.to_owned());
            inner.by_time.remove(&entry);
            if let Some(posts) = inner.by_channel.get_mut(&facts.post.channel_id) {
                posts.remove(&entry);
            }
        }
    }

    /// A post's counters changed.
    pub(crate) fn stats_changed(&self, post_id: &str, stats: &PostStats) {
        if let Some(facts) = self.write().posts.get_mut(post_id) {
            facts.stats = stats.clone();
        }
    }

    /// A channel was opened or changed.
    pub(crate) fn channel_changed(&self, channel: &Channel) {
        let mut inner = self.write();
        inner
            .owners
            .insert(channel.user_id.clone(), channel.channel_id.clone());
        inner
            .channels
            .insert(channel.channel_id.clone(), Arc::new(channel.clone()));
    }

    /// A follow started or ended.
    pub(crate) fn follow_changed(&self, follow: &Follow) {
        let mut inner = self.write();
        let followed = inner.follows.entry(follow.follower.clone()).or_default();
        if follow.active {
            followed.insert(follow.channel_id.clone());
        } else {
            followed.remove(&follow.channel_id);
        }
    }

    /// How many posts it holds.
    pub(crate) fn len(&self) -> usize {
        self.read().posts.len()
    }
}

/// One term of a post's score.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// Its name (see the table in this module's documentation).
    pub name: &'static str,
    /// Its value, in `[0, 1]`.
    pub value: f64,
    /// Its weight.
    pub weight: f64,
    /// `value × weight`.
    pub points: f64,
}

/// A post as Recommended ranked it, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// The post.
    pub post_id: String,
    /// The sum of its terms' points.
    pub score: f64,
    /// Its terms, in the table's order.
    pub terms: Vec<Term>,
}

/// A card of the feed: the post, its counters, its channel and why it is there.
#[derive(Debug, Clone)]
pub struct FeedItem {
    /// The post.
    pub post: Arc<Post>,
    /// Its counters now.
    pub stats: PostStats,
    /// Its channel.
    pub channel: Arc<Channel>,
    /// Its score and terms for this viewer.
    pub ranked: Ranked,
}

/// Who is looking, as ranking sees them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewerContext {
    /// Their own channel, never recommended to them.
    pub own_channel: Option<String>,
    /// The channels they follow.
    pub follows: HashSet<String>,
    /// The share of their follows in each area.
    pub area_share: HashMap<Area, f64>,
}

/// The five term values of one post for one viewer at `now_ms`, in the table's order.
fn values(facts: &Facts, viewer: &ViewerContext, now_ms: i64) -> [f64; 5] {
    #[allow(clippy::cast_precision_loss, reason = "ages and counts far below 2^52")]
    let (age_hours, interactions, views) = {
        let stats = &facts.stats;
        (
            (now_ms - facts.published_ms).max(0) as f64 / 3_600_000.0,
            (stats.likes + 2 * stats.comments + 3 * stats.shares) as f64,
            stats.views as f64,
        )
    };
    [
        0.5_f64.powf(age_hours / 24.0),
        (interactions / (views + VIEWS_DAMPING)).min(1.0),
        if viewer.follows.contains(&facts.post.channel_id) {
            1.0
        } else {
            0.0
        },
        viewer
            .area_share
            .get(&facts.post.area)
            .copied()
            .unwrap_or(0.0),
        if facts.original { 1.0 } else { 0.0 },
    ]
}

/// The score: the values weighted and summed.
fn score(values: &[f64; 5]) -> f64 {
    WEIGHTS
        .iter()
        .zip(values)
        .map(|((_, weight), value)| weight * value)
        .sum()
}

/// A post's terms and score.
fn ranked(post_id: &str, facts: &Facts, viewer: &ViewerContext, now_ms: i64) -> Ranked {
    let values = values(facts, viewer, now_ms);
    let terms: Vec<Term> = WEIGHTS
        .iter()
        .zip(values)
        .map(|(&(name, weight), value)| Term {
            name,
            value,
            weight,
            points: value * weight,
        })
        .collect();
    Ranked {
        post_id: post_id.to_owned(),
        score: terms.iter().map(|term| term.points).sum(),
        terms,
    }
}

impl Inner {
    /// What ranking knows of `viewer`: their channel, follows and areas.
    fn context(&self, viewer: Option<&str>) -> ViewerContext {
        let Some(user_id) = viewer else {
            return ViewerContext::default();
        };
        let follows = self.follows.get(user_id).cloned().unwrap_or_default();
        let mut area_count: HashMap<Area, u32> = HashMap::new();
        for channel_id in &follows {
            if let Some(channel) = self.channels.get(channel_id) {
                *area_count.entry(channel.area).or_default() += 1;
            }
        }
        let total: u32 = area_count.values().sum();
        ViewerContext {
            own_channel: self.owners.get(user_id).cloned(),
            follows,
            area_share: area_count
                .into_iter()
                .map(|(area, count)| (area, f64::from(count) / f64::from(total.max(1))))
                .collect(),
        }
    }

    /// Candidates ranked for a viewer: best first, newer first on a tie.
    fn rank(&self, viewer: &ViewerContext, now_ms: i64) -> Vec<(f64, i64, &str)> {
        let mut candidates: HashSet<&str> = self
            .by_time
            .iter()
            .rev()
            .take(RECENT_CANDIDATES)
            .map(|(_, id)| id.as_str())
            .collect();
        for channel in &viewer.follows {
            if let Some(posts) = self.by_channel.get(channel) {
                candidates.extend(
                    posts
                        .iter()
                        .rev()
                        .take(PER_FOLLOW_CANDIDATES)
                        .map(|(_, id)| id.as_str()),
                );
            }
        }
        let mut scored: Vec<(f64, i64, &str)> = candidates
            .into_iter()
            .filter_map(|post_id| {
                let facts = self.posts.get(post_id)?;
                if viewer.own_channel.as_deref() == Some(facts.post.channel_id.as_str()) {
                    return None;
                }
                Some((
                    score(&values(facts, viewer, now_ms)),
                    facts.published_ms,
                    post_id,
                ))
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(b.2.cmp(a.2)));
        scored
    }

    /// The card of a ready post whose channel is known.
    fn item(&self, post_id: &str, viewer: &ViewerContext, now_ms: i64) -> Option<FeedItem> {
        let facts = self.posts.get(post_id)?;
        let channel = self.channels.get(&facts.post.channel_id)?.clone();
        Some(FeedItem {
            post: facts.post.clone(),
            stats: facts.stats.clone(),
            channel,
            ranked: ranked(post_id, facts, viewer, now_ms),
        })
    }
}

impl Channels {
    /// Loads every channel, follow and ready post into the feed (at start); the posts
    /// loaded.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn load_feed(&self) -> Result<usize, ChannelsError> {
        let channels: Vec<Channel> = self
            .load_all(kind::CHANNEL, |channel: &Channel| {
                channel.channel_id.clone()
            })
            .await?;
        for channel in &channels {
            self.feed.channel_changed(channel);
        }
        let follows: Vec<Follow> = self
            .load_all(kind::FOLLOW, |follow: &Follow| {
                format!("{}/{}", follow.follower, follow.channel_id)
            })
            .await?;
        for follow in &follows {
            self.feed.follow_changed(follow);
        }
        let posts: Vec<Post> = self
            .load_all(kind::POST, |post: &Post| post.post_id.clone())
            .await?;
        for post in &posts {
            let stats = self.post_stats(&post.post_id).await?;
            self.feed.post_ready(post, &stats);
        }
        Ok(self.feed.len())
    }

    /// Every record of `kind` in its feed index (`created` for channels and posts —
    /// only ready posts have it —, `follower` for follows: only standing ones), read a
    /// page at a time; `key_of` gives a record's key, where the next page starts.
    async fn load_all<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        key_of: impl Fn(&T) -> String,
    ) -> Result<Vec<T>, ChannelsError> {
        let name = if kind == kind::FOLLOW {
            index::FOLLOWER
        } else {
            index::CREATED
        };
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page: Vec<(String, T)> = range(
                &*self.records,
                kind,
                name,
                prefix_bounds(""),
                after.take(),
                LOAD_PAGE,
                false,
            )
            .await?;
            let full = page.len() == LOAD_PAGE;
            after = page
                .last()
                .map(|(value, last)| (value.clone(), key_of(last)));
            all.extend(page.into_iter().map(|(_, record)| record));
            if !full {
                return Ok(all);
            }
        }
    }

    /// What ranking knows of `viewer`: their channel, follows and areas.
    pub fn viewer_context(&self, viewer: Option<&str>) -> ViewerContext {
        self.feed.read().context(viewer)
    }

    /// Recommended for `viewer`: the ranked cards `offset..offset + rows_max`.
    pub fn recommended(
        &self,
        viewer: Option<&str>,
        offset: usize,
        rows_max: usize,
    ) -> Vec<FeedItem> {
        let now_ms = self.now().unix_ms();
        let inner = self.feed.read();
        let context = inner.context(viewer);
        inner
            .rank(&context, now_ms)
            .into_iter()
            .skip(offset)
            .take(rows_max)
            .filter_map(|(_, _, post_id)| inner.item(post_id, &context, now_ms))
            .collect()
    }

    /// Why `viewer` would see `post_id` in Recommended: its terms now.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::PostNotFound`] when it is not a ready post.
    pub fn explain(&self, viewer: Option<&str>, post_id: &str) -> Result<Ranked, ChannelsError> {
        let now_ms = self.now().unix_ms();
        let inner = self.feed.read();
        let context = inner.context(viewer);
        let facts = inner
            .posts
            .get(post_id)
            .ok_or_else(|| ChannelsError::PostNotFound {
                post_id: post_id.to_owned(),
            })?;
        Ok(ranked(post_id, facts, &context, now_ms))
    }

    /// Following for `viewer`: the followed channels' ready posts, newest first, older
    /// than `before` (a previous page's last: published ms and id), at most `rows_max`,
    /// each with its terms.
    pub fn following_feed(
        &self,
        viewer: &str,
        before: Option<(i64, String)>,
        rows_max: usize,
    ) -> Vec<((i64, String), FeedItem)> {
        let now_ms = self.now().unix_ms();
        let inner = self.feed.read();
        let context = inner.context(Some(viewer));
        let mut found: Vec<&(i64, String)> = Vec::new();
        for channel in &context.follows {
            let Some(posts) = inner.by_channel.get(channel) else {
                continue;
            };
            found.extend(
                posts
                    .iter()
                    .rev()
                    .filter(|entry| before.as_ref().is_none_or(|before| *entry < before))
                    .take(rows_max),
            );
        }
        found.sort_unstable_by(|a, b| b.cmp(a));
        found
            .into_iter()
            .take(rows_max)
            .filter_map(|entry| {
                let item = inner.item(&entry.1, &context, now_ms)?;
                Some((entry.clone(), item))
            })
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use plaza_kernel::clock::Timestamp;

    fn post(id: &str, channel: &str, area: Area, published_ms: i64) -> Post {
        Post {
            post_id: id.to_owned(),
            channel_id: channel.to_owned(),
            author: format!("u-{channel}"),
            kind: crate::model::PostKind::Images,
            area,
            caption: String::new(),
            topics: Vec::new(),
            mentions: Vec::new(),
            uploads: Vec::new(),
            video: None,
            images: Vec::new(),
            originality: Originality::Original,
            state: crate::model::PostState::Ready,
            created_at: Timestamp::from_unix_ms(published_ms),
            published_at: Some(Timestamp::from_unix_ms(published_ms)),
        }
    }

    fn facts(channel: &str, area: Area, published_ms: i64, likes: u64, views: u64) -> Facts {
        Facts {
            post: Arc::new(post("p", channel, area, published_ms)),
            published_ms,
            original: true,
            stats: PostStats {
                likes,
                views,
                ..PostStats::default()
            },
        }
    }

    #[test]
    fn terms_follow_the_documented_formula() {
        let day_ms = 86_400_000;
        let viewer = ViewerContext {
            own_channel: None,
            follows: HashSet::from(["chA".to_owned()]),
            area_share: HashMap::from([(Area::Music, 0.5)]),
        };
        let post = facts("chA", Area::Music, 0, 10, 30);
        let explained = ranked("p", &post, &viewer, day_ms);
        let term_values: Vec<f64> = explained.terms.iter().map(|term| term.value).collect();
        assert_eq!(term_values, [0.5, 0.2, 1.0, 0.5, 1.0]);
        assert!((explained.score - (0.5 + 0.4 + 1.5 + 0.5 + 0.5)).abs() < 1e-12);
        assert!((score(&values(&post, &viewer, day_ms)) - explained.score).abs() < 1e-12);
    }

    #[test]
    fn ranking_is_by_score_and_leaves_out_the_viewers_own() {
        let index = FeedIndex::default();
        for (id, channel, published, likes) in [
            ("p1", "chA", 1_000, 0),
            ("p2", "chB", 1_000, 50),
            ("p3", "chMe", 2_000, 99),
        ] {
            let stats = PostStats {
                likes,
                ..PostStats::default()
            };
            index.post_ready(&post(id, channel, Area::News, published), &stats);
        }
        let mut inner = index.write();
        inner.owners.insert("me".to_owned(), "chMe".to_owned());
        let context = inner.context(Some("me"));
        let ranked = inner.rank(&context, 3_000);
        let order: Vec<&str> = ranked.iter().map(|(_, _, id)| *id).collect();
        assert_eq!(order, ["p2", "p1"]);
        assert!(ranked[0].0 >= ranked[1].0);
    }
}
