//! Answers kept for a while: people search the same things (the hot searches are hot
//! because many ask them), and an answer only changes when the index or the intent
//! dictionary does. An answer is kept until either changes, for at most
//! [`ANSWER_KEPT_MS`], and [`ANSWERS_KEPT`] answers at most; explained searches are not
//! kept. The searcher's context is part of what is asked, so a signed-in person's
//! answer is theirs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::document::Section;
use crate::engine::{Answer, Request};

/// Longest an answer is kept, in milliseconds of the domain clock: freshness moves.
pub const ANSWER_KEPT_MS: i64 = 60_000;
/// Most answers kept; when full, all are dropped and it fills again.
pub const ANSWERS_KEPT: usize = 10_000;

/// What makes two searches the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Asked {
    q: String,
    section: Option<Section>,
    page: usize,
    /// The searcher's context, order-free.
    context: Vec<u64>,
}

impl Asked {
    fn of(request: &Request<'_>) -> Self {
        let mut context: Vec<u64> = request.context.owners.iter().copied().collect();
        context.sort_unstable();
        Self {
            q: request.q.trim().to_owned(),
            section: request.section,
            page: request.page,
            context,
        }
    }
}

struct Kept {
    /// The index's and the dictionary's versions the answers were found with.
    version: (u64, u64),
    answers: HashMap<Asked, (i64, Answer)>,
}

/// The answer cache, with its counts.
pub struct AnswerCache {
    kept: Mutex<Kept>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for AnswerCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnswerCache")
            .field("stats", &self.stats())
            .finish()
    }
}

/// How the cache did since start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    /// Searches answered from the cache.
    pub hits: u64,
    /// Searches answered by the index.
    pub misses: u64,
    /// Answers kept now.
    pub entries: usize,
}

impl Default for AnswerCache {
    fn default() -> Self {
        Self {
            kept: Mutex::new(Kept {
                version: (0, 0),
                answers: HashMap::new(),
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }
}

impl AnswerCache {
    /// The answer kept for `request` found with `version` (the index's and the
    /// dictionary's), if it is young enough.
    pub(crate) fn get(&self, request: &Request<'_>, version: (u64, u64)) -> Option<Answer> {
        if request.explain {
            return None;
        }
        let found = self.kept.lock().ok().and_then(|kept| {
            if kept.version != version {
                return None;
            }
            let (at, answer) = kept.answers.get(&Asked::of(request))?;
            let age = request.now_ms - at;
            ((0..ANSWER_KEPT_MS).contains(&age)).then(|| answer.clone())
        });
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keeps `answer` to `request`, found with `version`.
    pub(crate) fn put(&self, request: &Request<'_>, version: (u64, u64), answer: &Answer) {
        if request.explain {
            return;
        }
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        // A search that began before a change and ended after it: its answer is already
        // out of date, and keeping it would drop the newer ones.
        if version.0 < kept.version.0 || version.1 < kept.version.1 {
            return;
        }
        if kept.version != version || kept.answers.len() >= ANSWERS_KEPT {
            kept.version = version;
            kept.answers.clear();
        }
        kept.answers
            .insert(Asked::of(request), (request.now_ms, answer.clone()));
    }

    /// Its counts.
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries: self.kept.lock().map_or(0, |kept| kept.answers.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rank::Context;

    fn answer(query: &str) -> Answer {
        Answer {
            query: query.to_owned(),
            cut: false,
            relaxed: false,
            intent: None,
            sections: Vec::new(),
            suggestions: Vec::new(),
            intent_checks: None,
        }
    }

    fn request<'a>(q: &'a str, context: &'a Context, now_ms: i64) -> Request<'a> {
        Request {
            q,
            section: None,
            page: 0,
            explain: false,
            context,
            now_ms,
        }
    }

    #[test]
    fn an_answer_is_kept_until_the_index_changes_or_a_minute_passes() {
        let cache = AnswerCache::default();
        let nobody = Context::default();
        let asked = request("火锅", &nobody, 1_000);
        assert!(cache.get(&asked, (1, 0)).is_none());
        cache.put(&asked, (1, 0), &answer("火锅"));
        let again = request(" 火锅 ", &nobody, 30_000);
        assert_eq!(
            cache.get(&again, (1, 0)).map(|a| a.query),
            Some("火锅".into())
        );
        // Another version of the index or of the dictionary: not kept.
        assert!(cache.get(&again, (2, 0)).is_none());
        assert!(cache.get(&again, (1, 1)).is_none());
        // A minute later, or with the clock moved back: not kept.
        assert!(
            cache
                .get(&request("火锅", &nobody, 61_000), (1, 0))
                .is_none()
        );
        assert!(cache.get(&request("火锅", &nobody, 999), (1, 0)).is_none());
        // Someone with a context asks their own search.
        let mine = Context::from_owners(["wxapp"]);
        assert!(cache.get(&request("火锅", &mine, 2_000), (1, 0)).is_none());
        // An explained search is never answered from the cache.
        let mut explained = request("火锅", &nobody, 2_000);
        explained.explain = true;
        assert!(cache.get(&explained, (1, 0)).is_none());
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.entries), (1, 1));
        assert_eq!(stats.misses, 6);
        // A new version drops what the old one kept, and an answer found with the old
        // one after that is not kept.
        cache.put(&asked, (2, 0), &answer("火锅"));
        assert_eq!(cache.stats().entries, 1);
        cache.put(&request("饺子", &nobody, 2_000), (1, 0), &answer("饺子"));
        assert_eq!(cache.stats().entries, 1);
        assert!(
            cache
                .get(&request("饺子", &nobody, 2_000), (2, 0))
                .is_none()
        );
    }
}
