//! `Search`, the one entry: the index with its writer's turn, the operator's intent
//! dictionary (a record), the outbox consumer's step, and reindexing from a catalog.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use plaza_kernel::BoxFuture;
use plaza_kernel::clock::Clock;
use plaza_kernel::queue::{Event, NewEvent};
use plaza_kernel::record::{Expect, RecordStore, encode_json, load_json};
use plaza_ledger::{LedgerError, LedgerStore, WriteSet};
use serde::Serialize;

use crate::activity::Activity;
use crate::cache::{AnswerCache, CacheStats};
use crate::engine::{Answer, Request, Suggestion};
use crate::error::SearchError;
use crate::events;
use crate::index::SearchIndex;
use crate::intent::IntentDictionary;

/// The record kind of the operator's intent dictionary (one record, key `dictionary`).
pub const KIND_INTENTS: &str = "search.intents";
const INTENTS_KEY: &str = "dictionary";
/// The outbox consumer's name (its durable cursor).
pub const CONSUMER: &str = "search";
/// Documents indexed between progress updates of a reindex.
const REINDEX_CHUNK: usize = 1_000;

/// Where search finds everything public to rebuild from: each producer's current
/// things as the events that would publish them now. The binary fills it from each
/// system, so search knows none of them.
pub trait Catalog: Send + Sync {
    /// The sources, by name (`miniapp`, `channels`…).
    fn sources(&self) -> Vec<&'static str>;
    /// Every public thing of `source`, as events.
    fn events_of(&self, source: &'static str) -> BoxFuture<'_, Result<Vec<NewEvent>, String>>;
}

/// The searcher's own context, read from the systems they use: the apps they used and
/// the channels they follow, as owner ids. The binary fills it.
pub trait Personal: Send + Sync {
    /// Owner ids of `user_id`'s context (appids, channel ids).
    fn owners(&self, user_id: &str) -> BoxFuture<'_, Vec<String>>;
}

/// How much people use each public thing: visits, followers, views. The binary reads
/// it from each system, so search knows none of them.
pub trait PopularitySource: Send + Sync {
    /// (document key, count) for every thing that has a count.
    fn popularity(&self) -> BoxFuture<'_, Result<Vec<(String, u64)>, String>>;
}

/// How a reindex stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReindexProgress {
    /// Whether one is running.
    pub running: bool,
    /// Events read from the catalog so far (all of them once indexing starts).
    pub total: u64,
    /// Events indexed.
    pub done: u64,
    /// Documents the index holds after the last finished reindex.
    pub documents: u64,
    /// Why the last one failed, if it did.
    pub error: Option<String>,
    /// How many reindexes finished since start.
    pub finished: u64,
}

/// Search's parts.
pub struct SearchParts {
    /// The index.
    pub index: SearchIndex,
    /// Records (the dictionary).
    pub records: Arc<dyn RecordStore>,
    /// Writes.
    pub ledger: Arc<dyn LedgerStore>,
    /// The domain clock.
    pub clock: Arc<dyn Clock>,
}

/// Search.
pub struct Search {
    index: Arc<SearchIndex>,
    records: Arc<dyn RecordStore>,
    ledger: Arc<dyn LedgerStore>,
    clock: Arc<dyn Clock>,
    dictionary: RwLock<Arc<IntentDictionary>>,
    /// Bumped whenever the dictionary changes, so kept answers are not reused.
    dictionary_version: AtomicU64,
    answers: AnswerCache,
    activity: Activity,
    /// Held while the index is written, so a reindex's clear and rebuild commit as one.
    turn: tokio::sync::Mutex<()>,
    progress: Mutex<ReindexProgress>,
}

impl std::fmt::Debug for Search {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Search")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl Search {
    /// Search over `parts`, with the starter dictionary until [`Search::load`].
    #[must_use]
    pub fn new(parts: SearchParts) -> Self {
        Self {
            index: Arc::new(parts.index),
            activity: Activity::new(Arc::clone(&parts.records), Arc::clone(&parts.ledger)),
            records: parts.records,
            ledger: parts.ledger,
            clock: parts.clock,
            dictionary: RwLock::new(Arc::new(IntentDictionary::starter())),
            dictionary_version: AtomicU64::new(0),
            answers: AnswerCache::default(),
            turn: tokio::sync::Mutex::new(()),
            progress: Mutex::new(ReindexProgress::default()),
        }
    }

    /// Reads the operator's dictionary (the starter one until an operator saves one) and
    /// what people searched lately.
    ///
    /// # Errors
    ///
    /// [`SearchError::Store`] when the store fails.
    pub async fn load(&self) -> Result<(), SearchError> {
        if let Some((dictionary, _)) =
            load_json::<IntentDictionary>(&*self.records, KIND_INTENTS, INTENTS_KEY)
                .await
                .map_err(|error| SearchError::Store(error.to_string()))?
        {
            self.remember(dictionary);
        }
        self.activity.load(self.now_ms()).await
    }

    /// The query log, hot searches and users.
    #[must_use]
    pub fn activity(&self) -> &Activity {
        &self.activity
    }

    fn remember(&self, dictionary: IntentDictionary) {
        if let Ok(mut held) = self.dictionary.write() {
            *held = Arc::new(dictionary);
            self.dictionary_version.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The intent dictionary in force.
    #[must_use]
    pub fn dictionary(&self) -> Arc<IntentDictionary> {
        self.dictionary
            .read()
            .map(|held| Arc::clone(&held))
            .unwrap_or_else(|_| Arc::new(IntentDictionary::starter()))
    }

    /// Replaces the intent dictionary, checked, durably.
    ///
    /// # Errors
    ///
    /// [`SearchError::Invalid`] for a bad dictionary; [`SearchError::Store`].
    pub async fn set_dictionary(
        &self,
        dictionary: IntentDictionary,
    ) -> Result<IntentDictionary, SearchError> {
        let dictionary = dictionary.checked()?;
        let write = encode_json(
            KIND_INTENTS,
            INTENTS_KEY,
            Expect::Any,
            &dictionary,
            Vec::new(),
        )
        .map_err(|error| SearchError::Store(error.to_string()))?;
        let set = WriteSet {
            records: vec![write],
            ..WriteSet::default()
        };
        match self.ledger.commit(set).await {
            Ok(_) => {}
            Err(LedgerError::RecordConflict { .. }) => {
                return Err(SearchError::Store(
                    "the dictionary changed meanwhile".to_owned(),
                ));
            }
            Err(error) => return Err(SearchError::Store(error.to_string())),
        }
        self.remember(dictionary.clone());
        Ok(dictionary)
    }

    /// The index.
    #[must_use]
    pub fn index(&self) -> &Arc<SearchIndex> {
        &self.index
    }

    /// Now on the domain clock, Unix milliseconds.
    #[must_use]
    pub fn now_ms(&self) -> i64 {
        self.clock.now().unix_ms()
    }

    /// Runs a search.
    ///
    /// # Errors
    ///
    /// [`SearchError::Index`] when the index cannot be read.
    pub fn search(&self, request: &Request<'_>) -> Result<Answer, SearchError> {
        // The versions are read before searching: a change meanwhile makes the answer
        // kept under the old ones, which no later search asks for.
        let version = (
            self.index.generation(),
            self.dictionary_version.load(Ordering::Relaxed),
        );
        if let Some(answer) = self.answers.get(request, version) {
            return Ok(answer);
        }
        let answer = self.index.search(request, &self.dictionary())?;
        self.answers.put(request, version, &answer);
        Ok(answer)
    }

    /// How the answer cache did since start.
    #[must_use]
    pub fn cache_stats(&self) -> CacheStats {
        self.answers.stats()
    }

    /// Suggestions for what is being typed.
    ///
    /// # Errors
    ///
    /// [`SearchError::Index`] when the index cannot be read.
    pub fn suggest(&self, q: &str) -> Result<Vec<Suggestion>, SearchError> {
        self.index.suggest(q)
    }

    /// The consumer's step: applies `events` (other systems' topics are skipped) and
    /// commits, so the caller may then move its cursor past them. A payload that cannot
    /// be read is logged and skipped: one bad event must not stop search.
    ///
    /// # Errors
    ///
    /// [`SearchError::Index`] when the index cannot be written; nothing is acknowledged
    /// then, and the events are read again.
    pub async fn apply_events(&self, events: &[Event]) -> Result<usize, SearchError> {
        let mut changes = Vec::new();
        for event in events {
            match events::changes(&event.topic, &event.key, &event.payload) {
                Ok(found) => changes.extend(found),
                Err(error) => {
                    tracing::warn!(%error, seq = event.seq, "search skipped an unreadable event")
                }
            }
        }
        if changes.is_empty() {
            return Ok(0);
        }
        let _turn = self.turn.lock().await;
        let index = Arc::clone(&self.index);
        let applied = changes.len();
        blocking(move || {
            for change in &changes {
                index.apply(change)?;
            }
            index.commit()
        })
        .await?;
        Ok(applied)
    }

    /// Sets every document's popularity from `source` and commits; how many changed.
    /// Documents the source does not name keep theirs.
    ///
    /// # Errors
    ///
    /// [`SearchError`] when the source or the index fails.
    pub async fn refresh_popularity(
        &self,
        source: &dyn PopularitySource,
    ) -> Result<usize, SearchError> {
        let counts = source
            .popularity()
            .await
            .map_err(|reason| SearchError::Store(format!("popularity: {reason}")))?;
        let _turn = self.turn.lock().await;
        let index = Arc::clone(&self.index);
        blocking(move || {
            let mut changed = 0;
            for (key, count) in &counts {
                changed += usize::from(index.set_popularity(key, *count)?);
            }
            if changed > 0 {
                index.commit()?;
            }
            Ok(changed)
        })
        .await
    }

    /// How the current or last reindex stands.
    #[must_use]
    pub fn reindex_progress(&self) -> ReindexProgress {
        self.progress.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// Whether a reindex is running.
    #[must_use]
    pub fn reindexing(&self) -> bool {
        self.reindex_progress().running
    }

    fn update_progress(&self, change: impl FnOnce(&mut ReindexProgress)) {
        if let Ok(mut progress) = self.progress.lock() {
            change(&mut progress);
        }
    }

    /// Rebuilds the index from `catalog`: everything is read first, then the index is
    /// cleared and refilled and committed once, so searches see the old index until the
    /// new one is whole. Events the consumer applies meanwhile wait for the writer's
    /// turn and land after, so the newest state wins.
    ///
    /// # Errors
    ///
    /// [`SearchError`] when the catalog or the index fails; the old index stays.
    pub async fn reindex(&self, catalog: &dyn Catalog) -> Result<u64, SearchError> {
        {
            let mut progress = self
                .progress
                .lock()
                .map_err(|_| SearchError::Index("progress poisoned".to_owned()))?;
            if progress.running {
                return Err(SearchError::Invalid {
                    field: "reindex",
                    reason: "a reindex is already running".to_owned(),
                });
            }
            *progress = ReindexProgress {
                running: true,
                finished: progress.finished,
                documents: progress.documents,
                ..ReindexProgress::default()
            };
        }
        let outcome = self.rebuild(catalog).await;
        let documents = self.index.document_count();
        self.update_progress(|progress| {
            progress.running = false;
            progress.documents = documents;
            progress.finished += 1;
            progress.error = outcome.as_ref().err().map(ToString::to_string);
        });
        outcome.map(|()| documents)
    }

    async fn rebuild(&self, catalog: &dyn Catalog) -> Result<(), SearchError> {
        let mut all: Vec<NewEvent> = Vec::new();
        for source in catalog.sources() {
            let events = catalog
                .events_of(source)
                .await
                .map_err(|reason| SearchError::Store(format!("{source}: {reason}")))?;
            all.extend(events);
            let total = all.len() as u64;
            self.update_progress(|progress| progress.total = total);
        }
        let _turn = self.turn.lock().await;
        let index = Arc::clone(&self.index);
        {
            let index = Arc::clone(&index);
            blocking(move || index.clear()).await?;
        }
        let mut done: u64 = 0;
        for chunk in all.chunks(REINDEX_CHUNK) {
            let chunk = chunk.to_vec();
            let index = Arc::clone(&index);
            let applied = blocking(move || {
                for event in &chunk {
                    match events::changes(&event.topic, &event.key, &event.payload) {
                        Ok(changes) => {
                            for change in &changes {
                                index.apply(change)?;
                            }
                        }
                        Err(error) => tracing::warn!(%error, "reindex skipped an unreadable thing"),
                    }
                }
                Ok(chunk.len() as u64)
            })
            .await?;
            done += applied;
            self.update_progress(|progress| progress.done = done);
        }
        blocking(move || index.commit()).await
    }
}

/// Runs index work off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SearchError> + Send + 'static,
) -> Result<T, SearchError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| SearchError::Index(format!("index work stopped: {error}")))?
}
