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
//! the newer post. The facts ranked are an in-memory copy of every ready post's
//! (written through after each commit; loaded at start by [`Channels::load_feed`]).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{PoisonError, RwLock};

use crate::model::{Area, Originality, Post, PostStats};
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
/// Follows read to know the viewer's context, at most.
const FOLLOWS_READ_MAX: usize = 1_000;

/// What the feed keeps of a ready post.
#[derive(Debug, Clone, PartialEq)]
struct Facts {
    channel_id: String,
    area: Area,
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
}

/// The in-memory facts of every ready post.
#[derive(Debug, Default)]
pub(crate) struct FeedIndex(RwLock<Inner>);

impl FeedIndex {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// A post became visible.
    pub(crate) fn post_ready(&self, post: &Post, stats: &PostStats) {
        let published_ms = post.published_at.map_or(0, |at| at.unix_ms());
        let facts = Facts {
            channel_id: post.channel_id.clone(),
            area: post.area,
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
            if let Some(posts) = inner.by_channel.get_mut(&facts.channel_id) {
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

/// The terms of one post for one viewer at `now_ms`.
fn terms(facts: &Facts, viewer: &ViewerContext, now_ms: i64) -> Vec<Term> {
    #[allow(clippy::cast_precision_loss, reason = "ages and counts far below 2^52")]
    let values = {
        let age_hours = (now_ms - facts.published_ms).max(0) as f64 / 3_600_000.0;
        let stats = &facts.stats;
        let interactions = (stats.likes + 2 * stats.comments + 3 * stats.shares) as f64;
        [
            0.5_f64.powf(age_hours / 24.0),
            (interactions / (stats.views as f64 + VIEWS_DAMPING)).min(1.0),
            if viewer.follows.contains(&facts.channel_id) {
                1.0
            } else {
                0.0
            },
            viewer.area_share.get(&facts.area).copied().unwrap_or(0.0),
            if facts.original { 1.0 } else { 0.0 },
        ]
    };
    WEIGHTS
        .iter()
        .zip(values)
        .map(|(&(name, weight), value)| Term {
            name,
            value,
            weight,
            points: value * weight,
        })
        .collect()
}

/// Ranks candidates for a viewer: best first, newer first on a tie.
fn rank(inner: &Inner, viewer: &ViewerContext, now_ms: i64) -> Vec<Ranked> {
    let mut candidates: HashSet<&str> = inner
        .by_time
        .iter()
        .rev()
        .take(RECENT_CANDIDATES)
        .map(|(_, id)| id.as_str())
        .collect();
    for channel in &viewer.follows {
        if let Some(posts) = inner.by_channel.get(channel) {
            candidates.extend(
                posts
                    .iter()
                    .rev()
                    .take(PER_FOLLOW_CANDIDATES)
                    .map(|(_, id)| id.as_str()),
            );
        }
    }
    let mut ranked: Vec<(i64, Ranked)> = candidates
        .into_iter()
        .filter_map(|post_id| {
            let facts = inner.posts.get(post_id)?;
            if viewer.own_channel.as_deref() == Some(facts.channel_id.as_str()) {
                return None;
            }
            let terms = terms(facts, viewer, now_ms);
            let score = terms.iter().map(|term| term.points).sum();
            Some((
                facts.published_ms,
                Ranked {
                    post_id: post_id.to_owned(),
                    score,
                    terms,
                },
            ))
        })
        .collect();
    ranked.sort_by(|(a_time, a), (b_time, b)| {
        b.score
            .total_cmp(&a.score)
            .then(b_time.cmp(a_time))
            .then(b.post_id.cmp(&a.post_id))
    });
    ranked.into_iter().map(|(_, ranked)| ranked).collect()
}

impl Channels {
    /// Loads every ready post's facts into the feed (at start).
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn load_feed(&self) -> Result<usize, ChannelsError> {
        const PAGE: usize = 1_000;
        let mut after = None;
        loop {
            let page: Vec<(String, Post)> = range(
                &*self.records,
                kind::POST,
                index::CREATED,
                prefix_bounds(""),
                after.clone(),
                PAGE,
                false,
            )
            .await?;
            for (_, post) in &page {
                let stats = self.post_stats(&post.post_id).await?;
                self.feed.post_ready(post, &stats);
            }
            match page.last() {
                Some((value, post)) if page.len() == PAGE => {
                    after = Some((value.clone(), post.post_id.clone()));
                }
                _ => return Ok(self.feed.len()),
            }
        }
    }

    /// What ranking knows of `viewer`: their channel, follows and areas.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn viewer_context(
        &self,
        viewer: Option<&str>,
    ) -> Result<ViewerContext, ChannelsError> {
        let Some(user_id) = viewer else {
            return Ok(ViewerContext::default());
        };
        let own_channel = self
            .channel_of(user_id)
            .await?
            .map(|channel| channel.channel_id);
        let follows = self.following(user_id, FOLLOWS_READ_MAX).await?;
        let mut area_count: HashMap<Area, u32> = HashMap::new();
        let mut followed = HashSet::new();
        for follow in &follows {
            if let Some(channel) = self.channel(&follow.channel_id).await? {
                *area_count.entry(channel.area).or_default() += 1;
            }
            followed.insert(follow.channel_id.clone());
        }
        let total: u32 = area_count.values().sum();
        let area_share = area_count
            .into_iter()
            .map(|(area, count)| (area, f64::from(count) / f64::from(total.max(1))))
            .collect();
        Ok(ViewerContext {
            own_channel,
            follows: followed,
            area_share,
        })
    }

    /// Recommended for `viewer`: ranked posts `offset..offset + rows_max`.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn recommended(
        &self,
        viewer: Option<&str>,
        offset: usize,
        rows_max: usize,
    ) -> Result<Vec<Ranked>, ChannelsError> {
        let context = self.viewer_context(viewer).await?;
        let now_ms = self.now().unix_ms();
        let ranked = rank(&self.feed.read(), &context, now_ms);
        Ok(ranked.into_iter().skip(offset).take(rows_max).collect())
    }

    /// Why `viewer` would see `post_id` in Recommended: its terms now.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::PostNotFound`] when it is not a ready post.
    pub async fn explain(
        &self,
        viewer: Option<&str>,
        post_id: &str,
    ) -> Result<Ranked, ChannelsError> {
        let context = self.viewer_context(viewer).await?;
        let now_ms = self.now().unix_ms();
        let inner = self.feed.read();
        let facts = inner
            .posts
            .get(post_id)
            .ok_or_else(|| ChannelsError::PostNotFound {
                post_id: post_id.to_owned(),
            })?;
        let terms = terms(facts, &context, now_ms);
        Ok(Ranked {
            post_id: post_id.to_owned(),
            score: terms.iter().map(|term| term.points).sum(),
            terms,
        })
    }

    /// Following for `viewer` with each post's terms (as [`Channels::explain`] gives
    /// them, the viewer's context read once): newest first, older than `before`, at
    /// most `rows_max`.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn following_explained(
        &self,
        viewer: &str,
        before: Option<(i64, String)>,
        rows_max: usize,
    ) -> Result<Vec<((i64, String), Ranked)>, ChannelsError> {
        let found = self.following_feed(viewer, before, rows_max).await?;
        let context = self.viewer_context(Some(viewer)).await?;
        let now_ms = self.now().unix_ms();
        let inner = self.feed.read();
        Ok(found
            .into_iter()
            .filter_map(|entry| {
                let facts = inner.posts.get(&entry.1)?;
                let terms = terms(facts, &context, now_ms);
                let ranked = Ranked {
                    post_id: entry.1.clone(),
                    score: terms.iter().map(|term| term.points).sum(),
                    terms,
                };
                Some((entry, ranked))
            })
            .collect())
    }

    /// Following for `viewer`: the followed channels' ready posts, newest first, older
    /// than `before` (a previous page's last: published ms and id), at most `rows_max`.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn following_feed(
        &self,
        viewer: &str,
        before: Option<(i64, String)>,
        rows_max: usize,
    ) -> Result<Vec<(i64, String)>, ChannelsError> {
        let follows = self.following(viewer, FOLLOWS_READ_MAX).await?;
        let inner = self.feed.read();
        let mut found: Vec<(i64, String)> = Vec::new();
        for follow in &follows {
            let Some(posts) = inner.by_channel.get(&follow.channel_id) else {
                continue;
            };
            let older = posts
                .iter()
                .rev()
                .filter(|entry| before.as_ref().is_none_or(|before| *entry < before))
                .take(rows_max)
                .cloned();
            found.extend(older);
        }
        found.sort_unstable_by(|a, b| b.cmp(a));
        found.truncate(rows_max);
        Ok(found)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn facts(channel: &str, area: Area, published_ms: i64, likes: u64, views: u64) -> Facts {
        Facts {
            channel_id: channel.to_owned(),
            area,
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
        let terms = terms(&post, &viewer, day_ms);
        let values: Vec<f64> = terms.iter().map(|term| term.value).collect();
        assert_eq!(values, [0.5, 0.2, 1.0, 0.5, 1.0]);
        let score: f64 = terms.iter().map(|term| term.points).sum();
        assert!((score - (0.5 + 0.4 + 1.5 + 0.5 + 0.5)).abs() < 1e-12);
    }

    #[test]
    fn ranking_is_by_score_and_leaves_out_the_viewers_own() {
        let mut inner = Inner::default();
        for (id, channel, published, likes) in [
            ("p1", "chA", 1_000, 0),
            ("p2", "chB", 1_000, 50),
            ("p3", "chMe", 2_000, 99),
        ] {
            inner.by_time.insert((published, id.to_owned()));
            inner
                .by_channel
                .entry(channel.to_owned())
                .or_default()
                .insert((published, id.to_owned()));
            inner.posts.insert(
                id.to_owned(),
                facts(channel, Area::News, published, likes, 0),
            );
        }
        let viewer = ViewerContext {
            own_channel: Some("chMe".to_owned()),
            ..ViewerContext::default()
        };
        let ranked = rank(&inner, &viewer, 3_000);
        let order: Vec<&str> = ranked.iter().map(|r| r.post_id.as_str()).collect();
        assert_eq!(order, ["p2", "p1"]);
        assert!(ranked[0].score >= ranked[1].score);
    }
}
