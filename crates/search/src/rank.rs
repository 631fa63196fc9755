//! Ranking a person can read: the text score from tantivy (BM25 over the fields, with
//! the weights of [`crate::query::weight`]), then three factors, each shown by
//! `explain=true`:
//!
//! ```text
//! score = text × popularity × freshness × context
//! popularity = 1 + 0.1 · ln(1 + visits, followers or views)   (1,000 → 1.69; 1,000,000 → 2.38)
//! freshness  = 1 + 0.5 · 0.5^(age in days / 7)                 (posts only: new 1.5, a week 1.25)
//! context    = 1.5 when the searcher used the app or follows the creator, else 1
//! ```
//!
//! Relevance leads: a factor scales a match, it never makes a weak match strong.

use std::collections::HashSet;

use serde::Serialize;

use crate::document::Section;

/// How much popularity scales the text score per natural-log unit.
pub const POPULARITY_WEIGHT: f32 = 0.1;
/// The most freshness adds (a post published now).
pub const FRESHNESS_MAX: f32 = 0.5;
/// Days after which freshness adds half as much.
pub const FRESHNESS_HALF_LIFE_DAYS: f32 = 7.0;
/// The factor for something of the searcher's own context.
pub const CONTEXT_FACTOR: f32 = 1.5;

/// What the searcher brings: the apps they used and the creators they follow, as owner
/// hashes ([`crate::index::owner_hash`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    /// Owners (appids, channel ids) of the searcher's own context.
    pub owners: HashSet<u64>,
}

impl Context {
    /// A context from owner ids.
    #[must_use]
    pub fn from_owners<'a>(owners: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            owners: owners.into_iter().map(crate::index::owner_hash).collect(),
        }
    }
}

/// The factors of one result's score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Factors {
    /// The text score (BM25 with field weights and the exact-name constant).
    pub text: f32,
    /// The popularity behind the factor.
    pub popularity_count: u64,
    /// The popularity factor.
    pub popularity: f32,
    /// The freshness factor (1 for sections without dates).
    pub freshness: f32,
    /// The context factor.
    pub context: f32,
    /// The product: the result's score.
    pub score: f32,
}

/// Scores one candidate.
#[must_use]
pub fn score(
    text: f32,
    section: Section,
    popularity_count: u64,
    published_at_ms: i64,
    now_ms: i64,
    in_context: bool,
) -> Factors {
    #[allow(
        clippy::cast_precision_loss,
        reason = "a logarithm's input needs no exactness"
    )]
    let popularity = 1.0 + POPULARITY_WEIGHT * (1.0 + popularity_count as f64).ln() as f32;
    let freshness = if section == Section::Posts && published_at_ms > 0 {
        #[allow(clippy::cast_precision_loss, reason = "days of age need no exactness")]
        let age_days = (now_ms.saturating_sub(published_at_ms)).max(0) as f64 / 86_400_000.0;
        1.0 + FRESHNESS_MAX * 0.5_f64.powf(age_days / f64::from(FRESHNESS_HALF_LIFE_DAYS)) as f32
    } else {
        1.0
    };
    let context = if in_context { CONTEXT_FACTOR } else { 1.0 };
    Factors {
        text,
        popularity_count,
        popularity,
        freshness,
        context,
        score: text * popularity * freshness * context,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_follow_the_documented_formula() {
        let plain = score(10.0, Section::MiniPrograms, 0, 0, 0, false);
        assert!((plain.score - 10.0).abs() < 1e-4);
        let popular = score(10.0, Section::MiniPrograms, 1_000, 0, 0, false);
        assert!((popular.popularity - 1.6908).abs() < 1e-3, "{popular:?}");
        let week = 7 * 86_400_000;
        let post = score(10.0, Section::Posts, 0, 1, 1 + week, false);
        assert!((post.freshness - 1.25).abs() < 1e-4, "{post:?}");
        let mine = score(10.0, Section::Creators, 0, 0, 0, true);
        assert!((mine.score - 15.0).abs() < 1e-4);
        // A weak match stays below a strong one however popular it is.
        let weak_popular = score(2.0, Section::MiniPrograms, 10_000_000, 0, 0, false);
        let strong = score(10.0, Section::MiniPrograms, 0, 0, 0, false);
        assert!(weak_popular.score < strong.score);
    }
}
