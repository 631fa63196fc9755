//! What people search: the query log, hot searches, zero-result queries and Search's
//! daily and monthly users.
//!
//! A search is noted in memory at once ([`Activity::note`]) and written in batches
//! ([`Activity::flush`], every second from the binary and before every read of the
//! log): searching never waits for the database.
//!
//! - **The query log** is a ring of [`LOG_SLOTS`] records (`search.log`, one per
//!   search, the oldest overwritten), found newest first by time, zero-result ones by a
//!   second index.
//! - **Hot searches** count searches per five-minute bucket and query (`search.term`:
//!   searches, zero-result searches, and up to [`SEARCHERS_KEPT`] distinct signed-in
//!   searchers). The last hour is the twelve newest buckets, the last day 288. A query
//!   is hot only when at least the operator's minimum of *distinct* signed-in people
//!   searched it, so one person searching a thousand times cannot put a term there;
//!   anonymous searches are logged but vote for nothing. The operator blocks words (a
//!   hot term containing one is never shown) and pins terms (shown first).
//! - **Users**: the first search of a signed-in person in a China day (and month) writes
//!   a marker (`search.user`) and counts them once in that day's (month's) total
//!   (`search.users`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use plaza_kernel::record::{
    Expect, IndexEntry, IndexRange, RecordStore, RecordWrite, decode_json, encode_json, load_json,
};
use plaza_ledger::{LedgerError, LedgerStore, WriteSet};
use serde::{Deserialize, Serialize};

use crate::document::Section;
use crate::error::SearchError;
use crate::fold::fold;

/// Records of the query log's ring (`search.log`, keys `00000`…).
pub const KIND_LOG: &str = "search.log";
/// Searches per bucket and query (`search.term`, key `<bucket ms>/<query>`).
pub const KIND_TERM: &str = "search.term";
/// A person's first search in a day or month (`search.user`, key `<period>/<user>`).
pub const KIND_USER: &str = "search.user";
/// People who searched in a day or month (`search.users`, key `d20261206`, `m202612`).
pub const KIND_USERS: &str = "search.users";
/// The operator's hot-search settings (`search.hot`, key `settings`).
pub const KIND_HOT: &str = "search.hot";
const HOT_KEY: &str = "settings";

/// Searches the log keeps (older ones are overwritten).
pub const LOG_SLOTS: u64 = 10_000;
/// A bucket of hot-search counts.
pub const BUCKET_MS: i64 = 5 * 60_000;
/// Distinct searchers a bucket keeps per query; the largest minimum an operator may set.
pub const SEARCHERS_KEPT: usize = 64;
/// Characters of a query the log keeps (the search itself reads no more either).
const QUERY_CHARS_KEPT: usize = 64;
/// Searches waiting to be written at most; beyond it new ones are counted and dropped.
const PENDING_MAX: usize = 50_000;
/// Distinct queries one bucket counts in memory at most.
const TERMS_PER_BUCKET_MAX: usize = 20_000;
/// Hot terms shown per window.
pub const HOT_SHOWN: usize = 10;
/// Pinned or blocked terms an operator may keep.
const LISTED_MAX: usize = 50;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
const CHINA_OFFSET_MS: i64 = 8 * HOUR_MS;

/// Index names.
mod index {
    /// Log entries by time.
    pub const AT: &str = "at";
    /// Zero-result log entries by time.
    pub const ZERO: &str = "zero";
    /// Term counts by bucket start.
    pub const BUCKET: &str = "bucket";
}

/// One search as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedSearch {
    /// When, Unix milliseconds on the domain clock.
    pub at_ms: i64,
    /// What was typed (its first 64 characters).
    pub q: String,
    /// The signed-in searcher's user id; `None` when anonymous.
    pub searcher: Option<String>,
    /// The section asked for, if one was.
    pub section: Option<Section>,
    /// How many results the first page showed across sections (0: found nothing).
    pub results: u64,
    /// Whether only the relaxed query found something.
    pub relaxed: bool,
    /// The service an intent card led to, if any.
    pub intent: Option<String>,
}

/// One query's counts in one bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct TermCount {
    /// The query as last typed.
    q: String,
    searches: u64,
    /// Searches that found nothing.
    zero: u64,
    /// Distinct signed-in searchers, at most [`SEARCHERS_KEPT`].
    searchers: BTreeSet<String>,
}

impl TermCount {
    fn add(&mut self, other: &TermCount) {
        self.q.clone_from(&other.q);
        self.searches += other.searches;
        self.zero += other.zero;
        for searcher in &other.searchers {
            if self.searchers.len() >= SEARCHERS_KEPT {
                break;
            }
            self.searchers.insert(searcher.clone());
        }
    }

    fn of(search: &LoggedSearch) -> TermCount {
        TermCount {
            q: search.q.clone(),
            searches: 1,
            zero: u64::from(search.results == 0),
            searchers: search.searcher.iter().cloned().collect(),
        }
    }
}

/// The operator's hot-search controls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HotSettings {
    /// Distinct signed-in searchers a term needs in the window (1 to 64).
    pub min_searchers: u32,
    /// Words that keep any term containing them off the list (matched folded).
    #[serde(default)]
    pub blocked: Vec<String>,
    /// Terms always shown first, in this order.
    #[serde(default)]
    pub pinned: Vec<String>,
}

impl Default for HotSettings {
    fn default() -> Self {
        Self {
            min_searchers: 3,
            blocked: Vec::new(),
            pinned: Vec::new(),
        }
    }
}

impl HotSettings {
    /// The settings with lists trimmed and deduplicated, or why they cannot be kept.
    ///
    /// # Errors
    ///
    /// [`SearchError::Invalid`] naming the field.
    pub fn checked(self) -> Result<HotSettings, SearchError> {
        let most = u32::try_from(SEARCHERS_KEPT).unwrap_or(u32::MAX);
        if !(1..=most).contains(&self.min_searchers) {
            return Err(SearchError::Invalid {
                field: "min_searchers",
                reason: format!("from 1 to {most}"),
            });
        }
        Ok(HotSettings {
            min_searchers: self.min_searchers,
            blocked: listed("blocked", self.blocked)?,
            pinned: listed("pinned", self.pinned)?,
        })
    }
}

fn listed(field: &'static str, terms: Vec<String>) -> Result<Vec<String>, SearchError> {
    let mut kept: Vec<String> = Vec::new();
    for term in terms {
        let term = term.split_whitespace().collect::<Vec<_>>().join(" ");
        if term.is_empty() {
            continue;
        }
        if term.chars().count() > QUERY_CHARS_KEPT {
            return Err(SearchError::Invalid {
                field,
                reason: format!("each term has at most {QUERY_CHARS_KEPT} characters"),
            });
        }
        if !kept.iter().any(|seen| term_key(seen) == term_key(&term)) {
            kept.push(term);
        }
    }
    if kept.len() > LISTED_MAX {
        return Err(SearchError::Invalid {
            field,
            reason: format!("at most {LISTED_MAX} terms"),
        });
    }
    Ok(kept)
}

/// A hot term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HotTerm {
    /// The term as people typed it.
    pub q: String,
    /// Distinct signed-in searchers in the window (counted up to 64 per bucket).
    pub searchers: u64,
    /// Searches in the window.
    pub searches: u64,
    /// Pinned by the operator.
    pub pinned: bool,
}

/// Hot searches of the last hour and the last day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HotSearches {
    /// The last hour's.
    pub hour: Vec<HotTerm>,
    /// The last day's.
    pub day: Vec<HotTerm>,
    /// The minimum of distinct searchers in force.
    pub min_searchers: u32,
}

/// A query that found nothing, with how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZeroResultQuery {
    /// As last typed.
    pub q: String,
    /// Searches among the logged ones.
    pub searches: u64,
    /// The latest, Unix milliseconds.
    pub last_at_ms: i64,
}

/// People who searched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SearchUsers {
    /// Today in China, `yyyy-mm-dd`.
    pub day: String,
    /// People who searched today (signed in, each once).
    pub daily_users: u64,
    /// This month in China, `yyyy-mm`.
    pub month: String,
    /// People who searched this month.
    pub monthly_users: u64,
    /// The last seven days, oldest first: (`yyyy-mm-dd`, people).
    pub last_days: Vec<(String, u64)>,
}

/// The normal form two searches of the same thing share: folded, spaces collapsed.
#[must_use]
pub fn term_key(q: &str) -> String {
    fold(q)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(QUERY_CHARS_KEPT)
        .collect()
}

/// The China date of `at_ms` as (year, month, day).
fn china_date(at_ms: i64) -> (i16, i8, i8) {
    let day = (at_ms + CHINA_OFFSET_MS).div_euclid(DAY_MS);
    let epoch = jiff::civil::date(1970, 1, 1);
    let date = epoch
        .checked_add(jiff::Span::new().days(day))
        .unwrap_or(epoch);
    (date.year(), date.month(), date.day())
}

fn day_period(at_ms: i64) -> String {
    let (year, month, day) = china_date(at_ms);
    format!("d{year:04}{month:02}{day:02}")
}

fn month_period(at_ms: i64) -> String {
    let (year, month, _) = china_date(at_ms);
    format!("m{year:04}{month:02}")
}

fn day_label(at_ms: i64) -> String {
    let (year, month, day) = china_date(at_ms);
    format!("{year:04}-{month:02}-{day:02}")
}

fn time_value(unix_ms: i64) -> String {
    format!("{unix_ms:015}")
}

fn bucket_of(at_ms: i64) -> i64 {
    at_ms - at_ms.rem_euclid(BUCKET_MS)
}

/// A counter record's body.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Count {
    users: u64,
}

#[derive(Default)]
struct Noted {
    /// Searches not yet written, oldest first.
    pending: Vec<LoggedSearch>,
    /// Searches dropped because too many waited.
    dropped: u64,
    /// Counts per bucket start and term key, for hot searches (the last day).
    window: BTreeMap<i64, HashMap<String, TermCount>>,
    /// The next ring slot, once known.
    next_slot: Option<u64>,
    /// `period/user` markers known written.
    counted: HashSet<String>,
}

/// The query log, hot searches and users.
pub struct Activity {
    records: Arc<dyn RecordStore>,
    ledger: Arc<dyn LedgerStore>,
    noted: Mutex<Noted>,
    settings: RwLock<HotSettings>,
    /// One flush at a time.
    flushing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Activity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Activity").finish_non_exhaustive()
    }
}

fn store_error(error: impl std::fmt::Display) -> SearchError {
    SearchError::Store(error.to_string())
}

impl Activity {
    /// Activity kept in `records`, written through `ledger`.
    #[must_use]
    pub fn new(records: Arc<dyn RecordStore>, ledger: Arc<dyn LedgerStore>) -> Self {
        Self {
            records,
            ledger,
            noted: Mutex::new(Noted::default()),
            settings: RwLock::new(HotSettings::default()),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    fn noted(&self) -> Result<std::sync::MutexGuard<'_, Noted>, SearchError> {
        self.noted
            .lock()
            .map_err(|_| SearchError::Store("activity poisoned".to_owned()))
    }

    /// Reads the settings, the last day's counts and where the ring goes on.
    ///
    /// # Errors
    ///
    /// [`SearchError::Store`] when the store fails.
    pub async fn load(&self, now_ms: i64) -> Result<(), SearchError> {
        if let Some((settings, _)) = load_json::<HotSettings>(&*self.records, KIND_HOT, HOT_KEY)
            .await
            .map_err(store_error)?
            && let Ok(mut held) = self.settings.write()
        {
            *held = settings;
        }
        let mut window: BTreeMap<i64, HashMap<String, TermCount>> = BTreeMap::new();
        let mut after = None;
        loop {
            let page = self
                .records
                .range(IndexRange {
                    kind: KIND_TERM.to_owned(),
                    name: index::BUCKET.to_owned(),
                    from: time_value(bucket_of(now_ms) - DAY_MS),
                    to: "~".to_owned(),
                    after: after.take(),
                    rows_max: 1_000,
                    newest_first: false,
                })
                .await
                .map_err(store_error)?;
            let Some(last) = page.last() else { break };
            after = Some((last.value.clone(), last.record.key.clone()));
            for found in &page {
                let count: TermCount = decode_json(&found.record).map_err(store_error)?;
                let bucket = found.value.parse::<i64>().unwrap_or_default();
                let key = found
                    .record
                    .key
                    .split_once('/')
                    .map_or_else(String::new, |(_, key)| key.to_owned());
                window.entry(bucket).or_default().insert(key, count);
            }
        }
        let newest = self
            .records
            .range(IndexRange {
                kind: KIND_LOG.to_owned(),
                name: index::AT.to_owned(),
                from: String::new(),
                to: "~".to_owned(),
                after: None,
                rows_max: 1,
                newest_first: true,
            })
            .await
            .map_err(store_error)?;
        let next_slot = newest
            .first()
            .and_then(|found| found.record.key.parse::<u64>().ok())
            .map_or(0, |slot| (slot + 1) % LOG_SLOTS);
        let mut noted = self.noted()?;
        noted.window = window;
        noted.next_slot = Some(next_slot);
        Ok(())
    }

    /// Notes one search: counted for hot searches at once, written at the next flush.
    /// A blank query is not a search and is not noted.
    pub fn note(&self, mut search: LoggedSearch) {
        let key = term_key(&search.q);
        if key.is_empty() {
            return;
        }
        search.q = search
            .q
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(QUERY_CHARS_KEPT)
            .collect();
        let Ok(mut noted) = self.noted() else { return };
        let bucket = bucket_of(search.at_ms);
        let terms = noted.window.entry(bucket).or_default();
        if terms.len() < TERMS_PER_BUCKET_MAX || terms.contains_key(&key) {
            terms.entry(key).or_default().add(&TermCount::of(&search));
        }
        // Buckets are kept in time order: only the oldest ones can have left the day.
        let oldest = bucket - DAY_MS - BUCKET_MS;
        while let Some((&start, _)) = noted.window.first_key_value()
            && start <= oldest
        {
            noted.window.pop_first();
        }
        if noted.pending.len() < PENDING_MAX {
            noted.pending.push(search);
        } else {
            noted.dropped += 1;
        }
    }

    /// Searches dropped since start because writing fell behind.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.noted().map(|noted| noted.dropped).unwrap_or_default()
    }

    /// Writes what was noted since the last flush, in one unit of work. On failure
    /// the searches wait for the next flush.
    ///
    /// # Errors
    ///
    /// [`SearchError::Store`] when the store fails.
    pub async fn flush(&self) -> Result<usize, SearchError> {
        let _turn = self.flushing.lock().await;
        let (batch, first_slot) = {
            let mut noted = self.noted()?;
            if noted.pending.is_empty() {
                return Ok(0);
            }
            (std::mem::take(&mut noted.pending), noted.next_slot)
        };
        let first_slot = first_slot.unwrap_or(0);
        match self.write(&batch, first_slot).await {
            Ok(markers) => {
                let mut noted = self.noted()?;
                noted.next_slot = Some((first_slot + batch.len() as u64) % LOG_SLOTS);
                if noted.counted.len() > 200_000 {
                    noted.counted.clear();
                }
                noted.counted.extend(markers);
                Ok(batch.len())
            }
            Err(error) => {
                let mut noted = self.noted()?;
                let newer = std::mem::take(&mut noted.pending);
                noted.pending = batch;
                noted.pending.extend(newer);
                noted.pending.truncate(PENDING_MAX);
                Err(error)
            }
        }
    }

    /// Writes `batch` (log slots from `first_slot`, term counts, user markers and
    /// totals); answers the markers written.
    async fn write(
        &self,
        batch: &[LoggedSearch],
        first_slot: u64,
    ) -> Result<Vec<String>, SearchError> {
        let mut records = Vec::new();
        for (offset, search) in batch.iter().enumerate() {
            let slot = (first_slot + offset as u64) % LOG_SLOTS;
            let mut entries = vec![IndexEntry::new(index::AT, time_value(search.at_ms))];
            if search.results == 0 {
                entries.push(IndexEntry::new(index::ZERO, time_value(search.at_ms)));
            }
            records.push(
                encode_json(
                    KIND_LOG,
                    &format!("{slot:05}"),
                    Expect::Any,
                    search,
                    entries,
                )
                .map_err(store_error)?,
            );
        }
        records.extend(self.term_writes(batch).await?);
        let (user_writes, markers) = self.user_writes(batch).await?;
        records.extend(user_writes);
        let set = WriteSet {
            records,
            ..WriteSet::default()
        };
        match self.ledger.commit(set).await {
            Ok(_) => Ok(markers),
            Err(LedgerError::RecordConflict { .. }) => Err(SearchError::Store(
                "search activity changed meanwhile; written at the next flush".to_owned(),
            )),
            Err(error) => Err(store_error(error)),
        }
    }

    async fn term_writes(&self, batch: &[LoggedSearch]) -> Result<Vec<RecordWrite>, SearchError> {
        let mut deltas: BTreeMap<(i64, String), TermCount> = BTreeMap::new();
        for search in batch {
            deltas
                .entry((bucket_of(search.at_ms), term_key(&search.q)))
                .or_default()
                .add(&TermCount::of(search));
        }
        let mut writes = Vec::with_capacity(deltas.len());
        for ((bucket, key), delta) in deltas {
            let record_key = format!("{}/{key}", time_value(bucket));
            let (mut count, expect) =
                match load_json::<TermCount>(&*self.records, KIND_TERM, &record_key)
                    .await
                    .map_err(store_error)?
                {
                    Some((count, version)) => (count, Expect::Version(version)),
                    None => (TermCount::default(), Expect::Absent),
                };
            count.add(&delta);
            writes.push(
                encode_json(
                    KIND_TERM,
                    &record_key,
                    expect,
                    &count,
                    vec![IndexEntry::new(index::BUCKET, time_value(bucket))],
                )
                .map_err(store_error)?,
            );
        }
        Ok(writes)
    }

    async fn user_writes(
        &self,
        batch: &[LoggedSearch],
    ) -> Result<(Vec<RecordWrite>, Vec<String>), SearchError> {
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        for search in batch {
            if let Some(user) = &search.searcher {
                wanted.insert(format!("{}/{user}", day_period(search.at_ms)));
                wanted.insert(format!("{}/{user}", month_period(search.at_ms)));
            }
        }
        {
            let noted = self.noted()?;
            wanted.retain(|marker| !noted.counted.contains(marker));
        }
        let mut writes = Vec::new();
        let mut markers = Vec::new();
        let mut new_users: BTreeMap<String, u64> = BTreeMap::new();
        for marker in wanted {
            let exists = self
                .records
                .record(KIND_USER, &marker)
                .await
                .map_err(store_error)?
                .is_some();
            if !exists {
                writes.push(
                    encode_json(KIND_USER, &marker, Expect::Absent, &(), Vec::new())
                        .map_err(store_error)?,
                );
                let period = marker.split('/').next().unwrap_or_default().to_owned();
                *new_users.entry(period).or_default() += 1;
            }
            markers.push(marker);
        }
        for (period, added) in new_users {
            let (count, expect) = match load_json::<Count>(&*self.records, KIND_USERS, &period)
                .await
                .map_err(store_error)?
            {
                Some((count, version)) => (count, Expect::Version(version)),
                None => (Count::default(), Expect::Absent),
            };
            let count = Count {
                users: count.users + added,
            };
            writes.push(
                encode_json(KIND_USERS, &period, expect, &count, Vec::new())
                    .map_err(store_error)?,
            );
        }
        Ok((writes, markers))
    }

    /// The newest `rows_max` logged searches (only those that found nothing with
    /// `zero_only`), after writing what is pending.
    ///
    /// # Errors
    ///
    /// [`SearchError::Store`] when the store fails.
    pub async fn log(
        &self,
        zero_only: bool,
        rows_max: usize,
    ) -> Result<Vec<LoggedSearch>, SearchError> {
        self.flush().await?;
        let found = self
            .records
            .range(IndexRange {
                kind: KIND_LOG.to_owned(),
                name: if zero_only { index::ZERO } else { index::AT }.to_owned(),
                from: String::new(),
                to: "~".to_owned(),
                after: None,
                rows_max,
                newest_first: true,
            })
            .await
            .map_err(store_error)?;
        found
            .iter()
            .map(|found| decode_json(&found.record).map_err(store_error))
            .collect()
    }

    /// Queries that found nothing among the logged searches, most searched first.
    ///
    /// # Errors
    ///
    /// [`SearchError::Store`] when the store fails.
    pub async fn zero_result_queries(
        &self,
        rows_max: usize,
    ) -> Result<Vec<ZeroResultQuery>, SearchError> {
        let mut grouped: HashMap<String, ZeroResultQuery> = HashMap::new();
        for search in self.log(true, 1_000).await? {
            let entry = grouped
                .entry(term_key(&search.q))
                .or_insert_with(|| ZeroResultQuery {
                    q: search.q.clone(),
                    searches: 0,
                    last_at_ms: search.at_ms,
                });
            entry.searches += 1;
        }
        let mut queries: Vec<ZeroResultQuery> = grouped.into_values().collect();
        queries.sort_by(|a, b| {
            b.searches
                .cmp(&a.searches)
                .then(b.last_at_ms.cmp(&a.last_at_ms))
        });
        queries.truncate(rows_max);
        Ok(queries)
    }

    /// The hot-search settings in force.
    #[must_use]
    pub fn settings(&self) -> HotSettings {
        self.settings
            .read()
            .map(|held| held.clone())
            .unwrap_or_default()
    }

    /// Replaces the hot-search settings, checked, durably.
    ///
    /// # Errors
    ///
    /// [`SearchError::Invalid`] for bad settings; [`SearchError::Store`].
    pub async fn set_settings(&self, settings: HotSettings) -> Result<HotSettings, SearchError> {
        let settings = settings.checked()?;
        let write = encode_json(KIND_HOT, HOT_KEY, Expect::Any, &settings, Vec::new())
            .map_err(store_error)?;
        self.ledger
            .commit(WriteSet {
                records: vec![write],
                ..WriteSet::default()
            })
            .await
            .map_err(store_error)?;
        if let Ok(mut held) = self.settings.write() {
            *held = settings.clone();
        }
        Ok(settings)
    }

    /// Hot searches of the last hour and day at `now_ms`.
    #[must_use]
    pub fn hot(&self, now_ms: i64) -> HotSearches {
        let settings = self.settings();
        let (hour, day) = match self.noted() {
            Ok(noted) => (
                totals(&noted.window, now_ms, HOUR_MS),
                totals(&noted.window, now_ms, DAY_MS),
            ),
            Err(_) => (HashMap::new(), HashMap::new()),
        };
        HotSearches {
            hour: ranked(hour, &settings),
            day: ranked(day, &settings),
            min_searchers: settings.min_searchers,
        }
    }

    /// People who searched today, this month and on each of the last seven days, after
    /// writing what is pending.
    ///
    /// # Errors
    ///
    /// [`SearchError::Store`] when the store fails.
    pub async fn users(&self, now_ms: i64) -> Result<SearchUsers, SearchError> {
        self.flush().await?;
        let mut last_days = Vec::new();
        for back in (0..7).rev() {
            let at = now_ms - back * DAY_MS;
            last_days.push((day_label(at), self.count(&day_period(at)).await?));
        }
        let daily_users = last_days.last().map_or(0, |(_, users)| *users);
        let (year, month, _) = china_date(now_ms);
        Ok(SearchUsers {
            day: day_label(now_ms),
            daily_users,
            month: format!("{year:04}-{month:02}"),
            monthly_users: self.count(&month_period(now_ms)).await?,
            last_days,
        })
    }

    async fn count(&self, period: &str) -> Result<u64, SearchError> {
        Ok(load_json::<Count>(&*self.records, KIND_USERS, period)
            .await
            .map_err(store_error)?
            .map_or(0, |(count, _)| count.users))
    }
}

/// Each term's counts summed over the buckets of the `span_ms` before `now_ms` (the
/// bucket holding `now_ms` and those that began less than `span_ms` before it).
fn totals(
    window: &BTreeMap<i64, HashMap<String, TermCount>>,
    now_ms: i64,
    span_ms: i64,
) -> HashMap<String, TermCount> {
    let newest = bucket_of(now_ms);
    let oldest = newest - span_ms + BUCKET_MS;
    let mut totals: HashMap<String, TermCount> = HashMap::new();
    for terms in window.range(oldest..=newest).map(|(_, terms)| terms) {
        for (key, count) in terms {
            let total = totals.entry(key.clone()).or_default();
            total.q.clone_from(&count.q);
            total.searches += count.searches;
            total.zero += count.zero;
            // Distinct people across buckets, past one bucket's cap.
            total.searchers.extend(count.searchers.iter().cloned());
        }
    }
    totals
}

/// Pinned terms first, then terms enough distinct people searched and that found
/// something, most people first; blocked words keep a term off.
fn ranked(totals: HashMap<String, TermCount>, settings: &HotSettings) -> Vec<HotTerm> {
    let blocked: Vec<String> = settings.blocked.iter().map(|b| term_key(b)).collect();
    let pinned_keys: Vec<String> = settings.pinned.iter().map(|p| term_key(p)).collect();
    let mut hot: Vec<HotTerm> = settings
        .pinned
        .iter()
        .zip(&pinned_keys)
        .map(|(q, key)| {
            let count = totals.get(key);
            HotTerm {
                q: q.clone(),
                searchers: count.map_or(0, |c| c.searchers.len() as u64),
                searches: count.map_or(0, |c| c.searches),
                pinned: true,
            }
        })
        .collect();
    let mut earned: Vec<HotTerm> = totals
        .into_iter()
        .filter(|(key, count)| {
            count.searchers.len() as u64 >= u64::from(settings.min_searchers)
                && count.zero < count.searches
                && !pinned_keys.contains(key)
                && !blocked.iter().any(|word| key.contains(word.as_str()))
        })
        .map(|(_, count)| HotTerm {
            searchers: count.searchers.len() as u64,
            searches: count.searches,
            q: count.q,
            pinned: false,
        })
        .collect();
    earned.sort_by(|a, b| {
        b.searchers
            .cmp(&a.searchers)
            .then(b.searches.cmp(&a.searches))
            .then(a.q.cmp(&b.q))
    });
    hot.extend(earned);
    hot.truncate(HOT_SHOWN.max(settings.pinned.len()));
    hot
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(at_ms: i64, q: &str, searcher: Option<&str>, results: u64) -> LoggedSearch {
        LoggedSearch {
            at_ms,
            q: q.to_owned(),
            searcher: searcher.map(str::to_owned),
            section: None,
            results,
            relaxed: false,
            intent: None,
        }
    }

    fn window(searches: &[LoggedSearch]) -> BTreeMap<i64, HashMap<String, TermCount>> {
        let mut window: BTreeMap<i64, HashMap<String, TermCount>> = BTreeMap::new();
        for search in searches {
            window
                .entry(bucket_of(search.at_ms))
                .or_default()
                .entry(term_key(&search.q))
                .or_default()
                .add(&TermCount::of(search));
        }
        window
    }

    const NOW: i64 = 1_796_000_000_000;

    #[test]
    fn one_person_searching_often_is_not_hot_but_three_people_are() {
        let mut searches: Vec<LoggedSearch> = (0..50)
            .map(|i| search(NOW - i, "刷榜", Some("u1"), 3))
            .collect();
        for user in ["u1", "u2", "u3"] {
            searches.push(search(NOW - 1_000, "核酸 检测", Some(user), 5));
        }
        searches.push(search(NOW, "核酸　檢測", None, 5));
        let totals = totals(&window(&searches), NOW, HOUR_MS);
        let hot = ranked(totals, &HotSettings::default());
        assert_eq!(hot.len(), 1, "{hot:?}");
        assert_eq!(hot[0].searchers, 3);
        assert_eq!(hot[0].searches, 4, "the anonymous one counts as a search");
    }

    #[test]
    fn people_across_buckets_count_once_and_the_hour_ends() {
        let searches = vec![
            search(NOW - 50 * 60_000, "公积金", Some("u1"), 1),
            search(NOW - 20 * 60_000, "公积金", Some("u1"), 1),
            search(NOW - 10 * 60_000, "公积金", Some("u2"), 1),
            search(NOW - 2 * HOUR_MS, "公积金", Some("u3"), 1),
        ];
        let settings = HotSettings {
            min_searchers: 2,
            ..HotSettings::default()
        };
        let window = window(&searches);
        let hour = ranked(totals(&window, NOW, HOUR_MS), &settings);
        assert_eq!(hour[0].searchers, 2);
        assert_eq!(hour[0].searches, 3);
        let day = ranked(totals(&window, NOW, DAY_MS), &settings);
        assert_eq!(day[0].searchers, 3);
        let tomorrow = ranked(totals(&window, NOW + DAY_MS, DAY_MS), &settings);
        assert!(tomorrow.is_empty());
    }

    #[test]
    fn blocked_words_hide_pinned_terms_lead_and_nothing_found_is_never_hot() {
        let mut searches = Vec::new();
        for user in ["a", "b", "c"] {
            searches.push(search(NOW, "坏词 推广", Some(user), 2));
            searches.push(search(NOW, "不存在的东西", Some(user), 0));
            searches.push(search(NOW, "社保", Some(user), 2));
        }
        let settings = HotSettings {
            min_searchers: 3,
            blocked: vec!["坏词".to_owned()],
            pinned: vec!["疫苗预约".to_owned()],
        }
        .checked()
        .map_err(|e| e.to_string());
        assert!(settings.is_ok());
        let settings = settings.unwrap_or_default();
        let hot = ranked(totals(&window(&searches), NOW, HOUR_MS), &settings);
        let terms: Vec<(&str, bool)> = hot.iter().map(|h| (h.q.as_str(), h.pinned)).collect();
        assert_eq!(terms, [("疫苗预约", true), ("社保", false)]);
    }

    #[test]
    fn settings_are_checked() {
        let bad = HotSettings {
            min_searchers: 0,
            ..HotSettings::default()
        };
        assert!(matches!(
            bad.checked(),
            Err(SearchError::Invalid {
                field: "min_searchers",
                ..
            })
        ));
        let long = HotSettings {
            pinned: vec!["长".repeat(65)],
            ..HotSettings::default()
        };
        assert!(long.checked().is_err());
        let kept = HotSettings {
            blocked: vec![" 坏  词 ".to_owned(), "坏 词".to_owned(), String::new()],
            ..HotSettings::default()
        }
        .checked()
        .map(|s| s.blocked)
        .map_err(|e| e.to_string());
        assert_eq!(kept, Ok(vec!["坏 词".to_owned()]));
    }

    #[test]
    fn china_days_and_months() {
        // 2026-12-05 16:00 UTC is 2026-12-06 00:00 in China.
        let at = 1_796_486_400_000;
        assert_eq!(day_label(at), "2026-12-06");
        assert_eq!(day_label(at - 1), "2026-12-05");
        assert_eq!(month_period(at), "m202612");
        assert_eq!(day_period(at), "d20261206");
    }

    #[test]
    fn the_same_search_typed_differently_shares_a_key() {
        assert_eq!(term_key("  iPhone　維修 "), "iphone 维修");
        assert_eq!(term_key("   "), "");
    }
}
