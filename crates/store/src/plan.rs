//! Turning a group of write commands into rows, in memory, before anything touches disk.
//!
//! The group-commit writer is the only writer of its database, so it can keep every
//! account it has touched in memory ([`WriterCache`]) and hand out sequence numbers
//! itself ([`NextIds`]). Planning a group is then pure: given what the backend loaded for
//! it ([`Loaded`]), decide each command's answer and the rows to write ([`GroupRows`]).
//! Both backends share this code; each only loads and writes rows in its own dialect.
//! If the commit fails, the writer throws the cache away and reloads the ids, so memory
//! never runs ahead of disk.

use std::collections::{HashMap, HashSet};

use plaza_kernel::clock::Timestamp;
use plaza_kernel::id::{AccountId, TransferId};
use plaza_kernel::limits::{
    ID_BYTES_MAX, INDEX_VALUE_BYTES_MAX, PAYLOAD_BYTES_MAX, RECORD_BYTES_MAX,
    RECORD_INDEX_ENTRIES_MAX,
};
use plaza_kernel::queue::{Job, JobOutcome, JobState, QueueError};
use plaza_kernel::record::{Expect, IndexEntry, RecordWrite};
use plaza_ledger::{
    Account, AccountState, Balances, Committed, LedgerError, NewAccount, Replay, Transfer,
    WriteSet, apply, classify_replay,
};

/// An account the writer holds in memory, with its database row id.
#[derive(Debug, Clone)]
pub(crate) struct CachedAccount {
    pub(crate) row: i64,
    pub(crate) account: Account,
}

/// The writer's memory of accounts. It is always equal to what is committed plus what the
/// current group has applied; the writer clears it when a commit fails.
#[derive(Debug, Default)]
pub(crate) struct WriterCache {
    accounts: HashMap<AccountId, CachedAccount>,
}

/// Accounts kept in memory before the cache is emptied between groups (bounded memory:
/// ~200 bytes × 1M = 200 MiB at most).
const CACHE_ACCOUNTS_MAX: usize = 1_000_000;

impl WriterCache {
    pub(crate) fn contains(&self, id: &AccountId) -> bool {
        self.accounts.contains_key(id)
    }

    pub(crate) fn insert(&mut self, cached: CachedAccount) {
        self.accounts.insert(cached.account.id.clone(), cached);
    }

    pub(crate) fn clear(&mut self) {
        self.accounts.clear();
    }

    /// Empties the cache between groups when it has grown past its bound.
    pub(crate) fn trim(&mut self) {
        if self.accounts.len() > CACHE_ACCOUNTS_MAX {
            self.clear();
        }
    }

    fn row(&self, id: &AccountId) -> Option<i64> {
        self.accounts.get(id).map(|cached| cached.row)
    }
}

impl Balances for WriterCache {
    fn state(&self, id: &AccountId) -> Option<AccountState> {
        self.accounts.get(id).map(|cached| AccountState {
            currency: cached.account.currency,
            floor_minor: cached.account.floor_minor,
            balance_minor: cached.account.balance_minor,
        })
    }

    fn set_balance(&mut self, id: &AccountId, balance_minor: i64) {
        // Not written back: a balance is stored as the balance-after of the account's
        // latest transfer, which the group writes anyway.
        if let Some(cached) = self.accounts.get_mut(id) {
            cached.account.balance_minor = balance_minor;
        }
    }
}

/// The next free id of each table, handed out by the writer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct NextIds {
    pub(crate) account_row: i64,
    pub(crate) transfer_seq: i64,
    pub(crate) event_seq: i64,
    pub(crate) job_id: i64,
}

/// A write the writer was asked to do, with the answer it owes once durable.
#[derive(Debug)]
pub(crate) enum Command {
    Commit(WriteSet),
    OpenAccount(NewAccount),
    AckEvents { consumer: String, through_seq: i64 },
    FinishJob { job: Job, outcome: JobOutcome },
    SetMeta { key: String, value: String },
}

/// A command's answer.
#[derive(Debug, Clone)]
pub(crate) enum Answer {
    Committed(Result<Committed, LedgerError>),
    Account(Result<Account, LedgerError>),
    Queue(Result<(), QueueError>),
}

/// What the backend must look up before a group can be planned.
#[derive(Debug, Default)]
pub(crate) struct Needs {
    pub(crate) transfer_ids: Vec<TransferId>,
    pub(crate) account_ids: Vec<AccountId>,
    pub(crate) job_keys: Vec<(String, String)>,
    pub(crate) record_keys: Vec<(String, String)>,
}

/// What the backend found.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    /// Stored transfers under the ids the group uses (usually none).
    pub(crate) transfers: HashMap<TransferId, Transfer>,
    /// Jobs already scheduled under the group's keys.
    pub(crate) jobs: HashMap<(String, String), i64>,
    /// Transfers this group has planned so far, by id: their index in
    /// [`GroupRows::transfers`], so a later command in the same group sees them.
    pub(crate) planned: HashMap<TransferId, usize>,
    /// The stored version of each record the group writes (absent: no such record),
    /// updated as the group plans writes to them.
    pub(crate) record_versions: HashMap<(String, String), u64>,
    /// Records this group has planned so far: their index in [`GroupRows::records`], so
    /// a second write to the same record replaces the first row.
    pub(crate) planned_records: HashMap<(String, String), usize>,
    /// The index entries each stored record has on disk, so a write deletes exactly
    /// the entries it drops and inserts only the new ones.
    pub(crate) stored_index: HashMap<(String, String), Vec<IndexEntry>>,
}

impl Loaded {
    fn stored<'a>(&'a self, id: &TransferId, rows: &'a GroupRows) -> Option<&'a Transfer> {
        self.transfers.get(id).or_else(|| {
            self.planned
                .get(id)
                .and_then(|index| rows.transfers.get(*index))
                .map(|row| &row.transfer)
        })
    }
}

pub(crate) fn needs(commands: &[Command], cache: &WriterCache) -> Needs {
    let mut needs = Needs::default();
    let mut seen_accounts = HashSet::new();
    let mut want_account = |id: &AccountId, needs: &mut Needs| {
        if !cache.contains(id) && seen_accounts.insert(id.clone()) {
            needs.account_ids.push(id.clone());
        }
    };
    for command in commands {
        match command {
            Command::Commit(write) => {
                if let Some(batch) = &write.batch {
                    for transfer in batch.transfers() {
                        needs.transfer_ids.push(transfer.id.clone());
                        want_account(&transfer.from, &mut needs);
                        want_account(&transfer.to, &mut needs);
                    }
                }
                for job in &write.jobs {
                    needs.job_keys.push((job.kind.clone(), job.key.clone()));
                }
                for record in &write.records {
                    needs
                        .record_keys
                        .push((record.kind.clone(), record.key.clone()));
                }
            }
            Command::OpenAccount(account) => want_account(&account.id, &mut needs),
            Command::AckEvents { .. } | Command::FinishJob { .. } | Command::SetMeta { .. } => {}
        }
    }
    needs
}

/// A transfer row as written.
#[derive(Debug, Clone)]
pub(crate) struct TransferRow {
    pub(crate) transfer: Transfer,
    pub(crate) from_row: i64,
    pub(crate) to_row: i64,
}

/// An outbox row as written.
#[derive(Debug, Clone)]
pub(crate) struct EventRow {
    pub(crate) seq: i64,
    pub(crate) topic: String,
    pub(crate) key: String,
    pub(crate) payload: String,
    pub(crate) created_at: Timestamp,
}

/// A new job row.
#[derive(Debug, Clone)]
pub(crate) struct JobRow {
    pub(crate) id: i64,
    pub(crate) kind: String,
    pub(crate) key: String,
    pub(crate) payload: String,
    pub(crate) due_at: Timestamp,
    pub(crate) created_at: Timestamp,
}

/// A change to an existing job after a run.
#[derive(Debug, Clone)]
pub(crate) struct JobUpdate {
    pub(crate) id: i64,
    pub(crate) state: JobState,
    pub(crate) due_at: Timestamp,
    pub(crate) attempts: u32,
    pub(crate) last_error: Option<String>,
    pub(crate) finished_at: Option<Timestamp>,
}

/// A record row as written: its index entries (kept on the row), and how the index
/// table changes against what is on disk.
#[derive(Debug, Clone)]
pub(crate) struct RecordRow {
    pub(crate) kind: String,
    pub(crate) key: String,
    pub(crate) version: u64,
    pub(crate) body: String,
    pub(crate) index: Vec<IndexEntry>,
    pub(crate) index_removed: Vec<IndexEntry>,
    pub(crate) index_added: Vec<IndexEntry>,
    pub(crate) updated_at: Timestamp,
}

/// Index entries as stored on a record's row: each name and value prefixed by its
/// length in bytes (`4:name5:value…`), so any text survives.
pub(crate) fn encode_index(entries: &[IndexEntry]) -> String {
    let mut text = String::new();
    for entry in entries {
        for part in [&entry.name, &entry.value] {
            text.push_str(&part.len().to_string());
            text.push(':');
            text.push_str(part);
        }
    }
    text
}

/// Reads [`encode_index`]'s text; `None` when it is malformed.
pub(crate) fn decode_index(mut text: &str) -> Option<Vec<IndexEntry>> {
    let mut parts = Vec::new();
    while !text.is_empty() {
        let (length, rest) = text.split_once(':')?;
        let length: usize = length.parse().ok()?;
        let part = rest.get(..length)?;
        parts.push(part.to_owned());
        text = rest.get(length..)?;
    }
    if parts.len() % 2 != 0 {
        return None;
    }
    Some(
        parts
            .chunks(2)
            .filter_map(|pair| match pair {
                [name, value] => Some(IndexEntry::new(name.clone(), value.clone())),
                _ => None,
            })
            .collect(),
    )
}

/// Everything one group writes, in one transaction.
#[derive(Debug, Default)]
pub(crate) struct GroupRows {
    pub(crate) new_accounts: Vec<CachedAccount>,
    pub(crate) transfers: Vec<TransferRow>,
    pub(crate) events: Vec<EventRow>,
    pub(crate) jobs: Vec<JobRow>,
    pub(crate) job_updates: Vec<JobUpdate>,
    pub(crate) cursor_acks: Vec<(String, i64)>,
    pub(crate) meta: Vec<(String, String)>,
    pub(crate) records: Vec<RecordRow>,
}

impl GroupRows {
    pub(crate) fn is_empty(&self) -> bool {
        self.new_accounts.is_empty()
            && self.transfers.is_empty()
            && self.events.is_empty()
            && self.jobs.is_empty()
            && self.job_updates.is_empty()
            && self.cursor_acks.is_empty()
            && self.meta.is_empty()
            && self.records.is_empty()
    }
}

/// Plans a group: answers for every command, in order, and the rows to write.
pub(crate) fn plan(
    commands: &[Command],
    mut loaded: Loaded,
    cache: &mut WriterCache,
    next: &mut NextIds,
    now: Timestamp,
) -> (Vec<Answer>, GroupRows) {
    let mut rows = GroupRows::default();
    let mut answers = Vec::with_capacity(commands.len());
    for command in commands {
        let answer = match command {
            Command::Commit(write) => {
                Answer::Committed(plan_commit(write, &mut loaded, cache, next, now, &mut rows))
            }
            Command::OpenAccount(account) => {
                Answer::Account(plan_open_account(account, cache, next, now, &mut rows))
            }
            Command::AckEvents {
                consumer,
                through_seq,
            } => Answer::Queue(check_consumer(consumer).map(|()| {
                rows.cursor_acks.push((consumer.clone(), *through_seq));
            })),
            Command::FinishJob { job, outcome } => {
                rows.job_updates.push(job_update(job, outcome, now));
                Answer::Queue(Ok(()))
            }
            Command::SetMeta { key, value } => {
                rows.meta.push((key.clone(), value.clone()));
                Answer::Queue(Ok(()))
            }
        };
        answers.push(answer);
    }
    (answers, rows)
}

pub(crate) fn check_consumer(consumer: &str) -> Result<(), QueueError> {
    if consumer.is_empty() || consumer.len() > ID_BYTES_MAX {
        return Err(QueueError::BadConsumer);
    }
    Ok(())
}

fn job_update(job: &Job, outcome: &JobOutcome, now: Timestamp) -> JobUpdate {
    let attempts = job.attempts.saturating_add(1);
    match outcome {
        JobOutcome::Done => JobUpdate {
            id: job.id,
            state: JobState::Done,
            due_at: job.due_at,
            attempts,
            last_error: job.last_error.clone(),
            finished_at: Some(now),
        },
        JobOutcome::Retry { due_at, error } => JobUpdate {
            id: job.id,
            state: JobState::Pending,
            due_at: *due_at,
            attempts,
            last_error: Some(error.clone()),
            finished_at: None,
        },
        JobOutcome::Failed { error } => JobUpdate {
            id: job.id,
            state: JobState::Failed,
            due_at: job.due_at,
            attempts,
            last_error: Some(error.clone()),
            finished_at: Some(now),
        },
    }
}

fn plan_open_account(
    request: &NewAccount,
    cache: &mut WriterCache,
    next: &mut NextIds,
    now: Timestamp,
    rows: &mut GroupRows,
) -> Result<Account, LedgerError> {
    if let Some(existing) = cache.accounts.get(&request.id) {
        let same = existing.account.kind == request.kind
            && existing.account.currency == request.currency
            && existing.account.floor_minor == request.floor_minor;
        return if same {
            Ok(existing.account.clone())
        } else {
            Err(LedgerError::AccountConflict {
                account: request.id.clone(),
            })
        };
    }
    let cached = CachedAccount {
        row: next.account_row,
        account: Account {
            id: request.id.clone(),
            kind: request.kind,
            currency: request.currency,
            floor_minor: request.floor_minor,
            balance_minor: 0,
            created_at: now,
        },
    };
    next.account_row += 1;
    let account = cached.account.clone();
    cache.insert(cached.clone());
    rows.new_accounts.push(cached);
    Ok(account)
}

fn check_payloads(write: &WriteSet) -> Result<(), LedgerError> {
    let sizes = write
        .events
        .iter()
        .map(|event| event.payload.len())
        .chain(write.jobs.iter().map(|job| job.payload.len()));
    for len_bytes in sizes {
        if len_bytes > PAYLOAD_BYTES_MAX {
            return Err(LedgerError::PayloadTooLarge {
                len_bytes,
                max_bytes: PAYLOAD_BYTES_MAX,
            });
        }
    }
    Ok(())
}

fn too_large(record: &RecordWrite, reason: String) -> LedgerError {
    LedgerError::RecordTooLarge {
        kind: record.kind.clone(),
        key: record.key.clone(),
        reason,
    }
}

fn check_record_limits(record: &RecordWrite) -> Result<(), LedgerError> {
    if record.kind.is_empty() || record.kind.len() > ID_BYTES_MAX {
        return Err(too_large(
            record,
            format!("kind must be 1–{ID_BYTES_MAX} bytes"),
        ));
    }
    if record.key.is_empty() || record.key.len() > INDEX_VALUE_BYTES_MAX {
        return Err(too_large(
            record,
            format!("key must be 1–{INDEX_VALUE_BYTES_MAX} bytes"),
        ));
    }
    if record.body.len() > RECORD_BYTES_MAX {
        return Err(too_large(
            record,
            format!(
                "body is {} bytes, at most {RECORD_BYTES_MAX}",
                record.body.len()
            ),
        ));
    }
    if record.index.len() > RECORD_INDEX_ENTRIES_MAX {
        return Err(too_large(
            record,
            format!("at most {RECORD_INDEX_ENTRIES_MAX} index entries"),
        ));
    }
    for entry in &record.index {
        if entry.name.is_empty()
            || entry.name.len() > ID_BYTES_MAX
            || entry.value.len() > INDEX_VALUE_BYTES_MAX
        {
            return Err(too_large(
                record,
                format!(
                    "index {:?}: names are 1–{ID_BYTES_MAX} bytes, values at most \
                     {INDEX_VALUE_BYTES_MAX}",
                    entry.name
                ),
            ));
        }
    }
    Ok(())
}

/// Checks every record against the version it expects, counting earlier writes of the
/// same unit of work, and returns the version each will have.
fn check_records(records: &[RecordWrite], loaded: &Loaded) -> Result<Vec<u64>, LedgerError> {
    let mut seen: HashMap<(&str, &str), u64> = HashMap::new();
    let mut versions = Vec::with_capacity(records.len());
    for record in records {
        check_record_limits(record)?;
        let id = (record.kind.as_str(), record.key.as_str());
        let current = seen.get(&id).copied().or_else(|| {
            loaded
                .record_versions
                .get(&(record.kind.clone(), record.key.clone()))
                .copied()
        });
        let fits = match record.expect {
            Expect::Any => true,
            Expect::Absent => current.is_none(),
            Expect::Version(version) => current == Some(version),
        };
        if !fits {
            return Err(LedgerError::RecordConflict {
                kind: record.kind.clone(),
                key: record.key.clone(),
            });
        }
        let version = current.unwrap_or(0) + 1;
        seen.insert(id, version);
        versions.push(version);
    }
    Ok(versions)
}

fn plan_records(
    records: &[RecordWrite],
    versions: &[u64],
    loaded: &mut Loaded,
    now: Timestamp,
    rows: &mut GroupRows,
) {
    for (record, version) in records.iter().zip(versions) {
        let mut index: Vec<IndexEntry> = Vec::with_capacity(record.index.len());
        for entry in &record.index {
            if !index.contains(entry) {
                index.push(entry.clone());
            }
        }
        let id = (record.kind.clone(), record.key.clone());
        let on_disk = loaded.stored_index.get(&id).map_or(&[][..], Vec::as_slice);
        let index_removed = on_disk
            .iter()
            .filter(|entry| !index.contains(entry))
            .cloned()
            .collect();
        let index_added = index
            .iter()
            .filter(|entry| !on_disk.contains(entry))
            .cloned()
            .collect();
        let row = RecordRow {
            kind: record.kind.clone(),
            key: record.key.clone(),
            version: *version,
            body: record.body.clone(),
            index,
            index_removed,
            index_added,
            updated_at: now,
        };
        loaded.record_versions.insert(id.clone(), *version);
        let earlier = loaded
            .planned_records
            .get(&id)
            .and_then(|position| rows.records.get_mut(*position));
        match earlier {
            Some(slot) => *slot = row,
            None => {
                loaded.planned_records.insert(id, rows.records.len());
                rows.records.push(row);
            }
        }
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "the group's plan is one pass whose steps share the group's in-memory state; split, each would take all of it"
)]
fn plan_commit(
    write: &WriteSet,
    loaded: &mut Loaded,
    cache: &mut WriterCache,
    next: &mut NextIds,
    now: Timestamp,
    rows: &mut GroupRows,
) -> Result<Committed, LedgerError> {
    check_payloads(write)?;
    let mut transfers = Vec::new();
    if let Some(batch) = &write.batch {
        let stored: Vec<Option<Transfer>> = batch
            .transfers()
            .iter()
            .map(|transfer| loaded.stored(&transfer.id, rows).cloned())
            .collect();
        if let Replay::Replayed(transfers) = classify_replay(batch, &stored)? {
            return Ok(Committed {
                transfers,
                replayed: true,
                event_seqs: Vec::new(),
                job_ids: Vec::new(),
                record_versions: Vec::new(),
            });
        }
    }
    let record_versions = check_records(&write.records, loaded)?;
    if let Some(batch) = &write.batch {
        let posted = apply(batch, cache)?;
        for (request, posted) in batch.transfers().iter().zip(posted) {
            let (Some(from_row), Some(to_row)) = (cache.row(&request.from), cache.row(&request.to))
            else {
                // `apply` succeeded, so both accounts are in the cache.
                return Err(LedgerError::Unavailable {
                    reason: "writer cache lost an account it had just used".to_owned(),
                });
            };
            let transfer = Transfer {
                seq: next.transfer_seq,
                id: request.id.clone(),
                from: request.from.clone(),
                to: request.to.clone(),
                amount_minor: request.amount_minor,
                currency: request.currency,
                memo: request.memo.clone(),
                from_balance_after_minor: posted.from_after_minor,
                to_balance_after_minor: posted.to_after_minor,
                committed_at: now,
            };
            next.transfer_seq += 1;
            loaded
                .planned
                .insert(transfer.id.clone(), rows.transfers.len());
            rows.transfers.push(TransferRow {
                transfer: transfer.clone(),
                from_row,
                to_row,
            });
            transfers.push(transfer);
        }
    }
    plan_records(&write.records, &record_versions, loaded, now, rows);
    let mut event_seqs = Vec::with_capacity(write.events.len());
    for event in &write.events {
        rows.events.push(EventRow {
            seq: next.event_seq,
            topic: event.topic.clone(),
            key: event.key.clone(),
            payload: event.payload.clone(),
            created_at: now,
        });
        event_seqs.push(next.event_seq);
        next.event_seq += 1;
    }
    let mut job_ids = Vec::with_capacity(write.jobs.len());
    for job in &write.jobs {
        let key = (job.kind.clone(), job.key.clone());
        if let Some(existing) = loaded.jobs.get(&key) {
            job_ids.push(*existing);
            continue;
        }
        rows.jobs.push(JobRow {
            id: next.job_id,
            kind: job.kind.clone(),
            key: job.key.clone(),
            payload: job.payload.clone(),
            due_at: job.due_at,
            created_at: now,
        });
        loaded.jobs.insert(key, next.job_id);
        job_ids.push(next.job_id);
        next.job_id += 1;
    }
    Ok(Committed {
        transfers,
        replayed: false,
        event_seqs,
        job_ids,
        record_versions,
    })
}

#[cfg(test)]
mod index_text_tests {
    use super::*;

    #[test]
    fn index_entries_survive_any_text() {
        let entries = vec![
            IndexEntry::new("day", "1600000001|2026-11-26"),
            IndexEntry::new("odd:name", "12:34:value with : colons"),
            IndexEntry::new("empty", ""),
            IndexEntry::new("中文", "值"),
        ];
        let text = encode_index(&entries);
        assert_eq!(decode_index(&text), Some(entries));
        assert_eq!(decode_index(""), Some(Vec::new()));
        assert_eq!(decode_index("3:abc"), None, "a name without a value");
        assert_eq!(decode_index("9:abc"), None, "a length past the end");
        assert_eq!(decode_index("x:abc"), None);
    }
}
