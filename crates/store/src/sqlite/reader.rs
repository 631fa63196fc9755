//! Read-only SQLite connections, used from blocking tasks. WAL lets them read a
//! consistent snapshot while the writer commits.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use plaza_kernel::clock::Timestamp;
use plaza_kernel::queue::{Event, Job, JobState};
use plaza_kernel::record::{IndexRange, IndexedRecord, Record};
use plaza_ledger::{Account, AccountAudit, HistoryPage, Transfer};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

use super::{
    BALANCE_OF_A, TRANSFER_SELECT, account_from_row, account_id, account_select, bad_value,
    currency, open_connection, transfer_from_row,
};
use crate::error::StoreError;
use crate::sql::history_page;

/// SQLite's `SUM` fails on a running total beyond `i64`, which an account's incoming
/// (or outgoing) transfers can reach while its balance stays in range. So each sum is
/// taken in two halves — the amounts' high 32 bits and their low 32 bits, each far from
/// overflowing — and put together in `i128` ([`recombine`]).
const SUM_IN_HALVES_TO: &str = "COALESCE((SELECT SUM(amount_minor >> 32) FROM ledger_transfers WHERE to_row = a.row_id), 0), \
     COALESCE((SELECT SUM(amount_minor & 4294967295) FROM ledger_transfers WHERE to_row = a.row_id), 0)";
/// See [`SUM_IN_HALVES_TO`].
const SUM_IN_HALVES_FROM: &str = "COALESCE((SELECT SUM(amount_minor >> 32) FROM ledger_transfers WHERE from_row = a.row_id), 0), \
     COALESCE((SELECT SUM(amount_minor & 4294967295) FROM ledger_transfers WHERE from_row = a.row_id), 0)";

/// Money in minus money out from the halves of [`SUM_IN_HALVES_TO`] and
/// [`SUM_IN_HALVES_FROM`]; a result beyond `i64` (never in a sound ledger) is clamped,
/// and then differs from the stored balance, which the audit reports.
fn recombine((high_in, low_in): (i64, i64), (high_out, low_out): (i64, i64)) -> i64 {
    let sum = |high: i64, low: i64| (i128::from(high) << 32) + i128::from(low);
    let balance = sum(high_in, low_in) - sum(high_out, low_out);
    i64::try_from(balance).unwrap_or(if balance < 0 { i64::MIN } else { i64::MAX })
}

/// Idle reader connections kept open.
const IDLE_READERS_MAX: usize = 8;

/// A small pool of read-only connections.
#[derive(Debug, Clone)]
pub(crate) struct SqliteReaders {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    synchronous_full: bool,
    idle: Mutex<Vec<Connection>>,
}

impl SqliteReaders {
    pub(crate) fn new(path: PathBuf, synchronous_full: bool) -> Self {
        Self {
            inner: Arc::new(Inner {
                path,
                synchronous_full,
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Runs `read` on a pooled connection, on a blocking thread.
    async fn with<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = Arc::clone(&self.inner);
        let joined = tokio::task::spawn_blocking(move || {
            let pooled = inner.idle.lock().ok().and_then(|mut idle| idle.pop());
            let conn = match pooled {
                Some(conn) => conn,
                None => open_connection(
                    &inner.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    inner.synchronous_full,
                )?,
            };
            let result = read(&conn).map_err(StoreError::unavailable);
            if let Ok(mut idle) = inner.idle.lock()
                && idle.len() < IDLE_READERS_MAX
            {
                idle.push(conn);
            }
            result
        })
        .await;
        joined.map_err(StoreError::unavailable)?
    }

    pub(crate) async fn check(&self) -> Result<(), StoreError> {
        self.with(|conn| conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0)))
            .await
            .map(|_| ())
    }

    pub(crate) async fn meta(&self, key: String) -> Result<Option<String>, StoreError> {
        self.with(move |conn| {
            conn.query_row(
                "SELECT value FROM plaza_meta WHERE key = ?1",
                [key],
                |row| row.get(0),
            )
            .optional()
        })
        .await
    }

    pub(crate) async fn account(&self, id: String) -> Result<Option<Account>, StoreError> {
        self.with(move |conn| {
            conn.prepare_cached(&format!("{} WHERE a.id = ?1", account_select()))?
                .query_row([id], account_from_row)
                .optional()
                .map(|cached| cached.map(|cached| cached.account))
        })
        .await
    }

    pub(crate) async fn transfer(&self, id: String) -> Result<Option<Transfer>, StoreError> {
        self.with(move |conn| {
            conn.prepare_cached(&format!("{TRANSFER_SELECT} WHERE t.id = ?1"))?
                .query_row([id], transfer_from_row)
                .optional()
        })
        .await
    }

    /// `None` when the account does not exist.
    pub(crate) async fn history(
        &self,
        id: String,
        before_seq: Option<i64>,
        rows_max: usize,
    ) -> Result<Option<HistoryPage>, StoreError> {
        self.with(move |conn| {
            let row: Option<i64> = conn
                .query_row(
                    "SELECT row_id FROM ledger_accounts WHERE id = ?1",
                    [id],
                    |row| row.get(0),
                )
                .optional()?;
            let Some(row) = row else { return Ok(None) };
            let before = before_seq.unwrap_or(i64::MAX);
            // Ask for one more than a page to learn whether another page follows.
            let limit = rows_max as i64 + 1;
            let sql = format!(
                "{TRANSFER_SELECT} WHERE t.seq IN (\
                   SELECT seq FROM (SELECT seq FROM ledger_transfers WHERE from_row = ?1 AND seq < ?2 \
                                    ORDER BY seq DESC LIMIT ?3) \
                   UNION ALL \
                   SELECT seq FROM (SELECT seq FROM ledger_transfers WHERE to_row = ?1 AND seq < ?2 \
                                    ORDER BY seq DESC LIMIT ?3)) \
                 ORDER BY t.seq DESC LIMIT ?3"
            );
            let transfers: Vec<Transfer> = conn
                .prepare_cached(&sql)?
                .query_map(params![row, before, limit], transfer_from_row)?
                .collect::<rusqlite::Result<_>>()?;
            Ok(Some(history_page(transfers, rows_max)))
        })
        .await
    }

    /// Every account with its stored balance and the balance its transfers add up to.
    pub(crate) async fn audit(&self) -> Result<Vec<AccountAudit>, StoreError> {
        self.with(|conn| {
            let mut statement = conn.prepare(
                &format!("SELECT a.id, a.currency, a.floor_minor, {BALANCE_OF_A}, \
                   {SUM_IN_HALVES_TO}, {SUM_IN_HALVES_FROM}, \
                   (SELECT COUNT(*) FROM ledger_transfers WHERE to_row = a.row_id AND currency <> a.currency) \
                 + (SELECT COUNT(*) FROM ledger_transfers WHERE from_row = a.row_id AND currency <> a.currency) \
                 FROM ledger_accounts a ORDER BY a.row_id"),
            )?;
            statement
                .query_map([], |row| {
                    let currency_text: String = row.get(1)?;
                    let recomputed = recombine(
                        (row.get(4)?, row.get(5)?),
                        (row.get(6)?, row.get(7)?),
                    );
                    Ok(AccountAudit {
                        id: account_id(row.get(0)?)?,
                        currency: currency(&currency_text)?,
                        floor_minor: row.get(2)?,
                        stored_balance_minor: row.get(3)?,
                        recomputed_balance_minor: recomputed,
                        foreign_currency_transfers_count: row.get(8)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()
        })
        .await
    }

    /// Events up to `durable_seq` only: a committed event whose WAL sync is still pending
    /// must not reach a consumer that could act on it before it is durable.
    pub(crate) async fn read_events(
        &self,
        consumer: String,
        rows_max: usize,
        durable_seq: i64,
    ) -> Result<Vec<Event>, StoreError> {
        self.with(move |conn| {
            conn.prepare_cached(
                "SELECT seq, topic, key, payload, created_at_ms FROM outbox_events \
                 WHERE seq > COALESCE((SELECT seq FROM outbox_cursors WHERE consumer = ?1), 0) \
                   AND seq <= ?3 \
                 ORDER BY seq LIMIT ?2",
            )?
            .query_map(
                params![consumer, rows_max as i64, durable_seq],
                event_from_row,
            )?
            .collect()
        })
        .await
    }

    /// One topic and key's events up to `durable_seq`.
    pub(crate) async fn events_of(
        &self,
        topic: String,
        key: String,
        after_seq: i64,
        rows_max: usize,
        durable_seq: i64,
    ) -> Result<Vec<Event>, StoreError> {
        self.with(move |conn| {
            conn.prepare_cached(
                "SELECT seq, topic, key, payload, created_at_ms FROM outbox_events \
                 WHERE topic = ?1 AND key = ?2 AND seq > ?3 AND seq <= ?5 \
                 ORDER BY seq LIMIT ?4",
            )?
            .query_map(
                params![topic, key, after_seq, rows_max as i64, durable_seq],
                event_from_row,
            )?
            .collect()
        })
        .await
    }

    pub(crate) async fn lag(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.with(|conn| {
            conn.prepare_cached(
                "SELECT c.consumer, (SELECT COUNT(*) FROM outbox_events e WHERE e.seq > c.seq) \
                 FROM outbox_cursors c ORDER BY c.consumer",
            )?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect()
        })
        .await
    }

    pub(crate) async fn due_jobs(
        &self,
        now: Timestamp,
        rows_max: usize,
    ) -> Result<Vec<Job>, StoreError> {
        self.with(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE state = 'pending' AND due_at_ms <= ?1 \
                 ORDER BY due_at_ms, id LIMIT ?2"
            ))?
            .query_map(params![now.unix_ms(), rows_max as i64], job_from_row)?
            .collect()
        })
        .await
    }

    pub(crate) async fn next_due_at(&self) -> Result<Option<Timestamp>, StoreError> {
        self.with(|conn| {
            conn.query_row(
                "SELECT MIN(due_at_ms) FROM jobs WHERE state = 'pending'",
                [],
                |row| row.get::<_, Option<i64>>(0),
            )
            .map(|due| due.map(Timestamp::from_unix_ms))
        })
        .await
    }

    pub(crate) async fn job(&self, id: i64) -> Result<Option<Job>, StoreError> {
        self.with(move |conn| {
            conn.prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"))?
                .query_row([id], job_from_row)
                .optional()
        })
        .await
    }
}

impl SqliteReaders {
    pub(crate) async fn record(
        &self,
        kind: String,
        key: String,
    ) -> Result<Option<Record>, StoreError> {
        self.with(move |conn| {
            conn.prepare_cached(
                "SELECT kind, key, version, body, updated_at_ms FROM records \
                 WHERE kind = ?1 AND key = ?2",
            )?
            .query_row([kind, key], record_from_row)
            .optional()
        })
        .await
    }

    pub(crate) async fn find_records(
        &self,
        kind: String,
        name: String,
        value: String,
        rows_max: usize,
    ) -> Result<Vec<Record>, StoreError> {
        self.with(move |conn| {
            conn.prepare_cached(
                "SELECT r.kind, r.key, r.version, r.body, r.updated_at_ms \
                 FROM record_index i JOIN records r ON r.kind = i.kind AND r.key = i.key \
                 WHERE i.kind = ?1 AND i.name = ?2 AND i.value = ?3 ORDER BY i.key LIMIT ?4",
            )?
            .query_map(params![kind, name, value, rows_max as i64], record_from_row)?
            .collect()
        })
        .await
    }

    pub(crate) async fn record_range(
        &self,
        range: IndexRange,
    ) -> Result<Vec<IndexedRecord>, StoreError> {
        self.with(move |conn| {
            let (after_value, after_key) = range.after.clone().unwrap_or_default();
            let (past, order) = if range.newest_first {
                ("i.value < ?6 OR (i.value = ?6 AND i.key < ?7)", "DESC")
            } else {
                ("i.value > ?6 OR (i.value = ?6 AND i.key > ?7)", "ASC")
            };
            conn.prepare_cached(&format!(
                "SELECT r.kind, r.key, r.version, r.body, r.updated_at_ms, i.value \
                 FROM record_index i JOIN records r ON r.kind = i.kind AND r.key = i.key \
                 WHERE i.kind = ?1 AND i.name = ?2 AND i.value >= ?3 AND i.value < ?4 \
                 AND (?5 = 0 OR {past}) \
                 ORDER BY i.value {order}, i.key {order} LIMIT ?8"
            ))?
            .query_map(
                params![
                    range.kind,
                    range.name,
                    range.from,
                    range.to,
                    i64::from(range.after.is_some()),
                    after_value,
                    after_key,
                    range.rows_max as i64
                ],
                |row| {
                    Ok(IndexedRecord {
                        value: row.get(5)?,
                        record: record_from_row(row)?,
                    })
                },
            )?
            .collect()
        })
        .await
    }
}

fn record_from_row(row: &Row<'_>) -> rusqlite::Result<Record> {
    Ok(Record {
        kind: row.get(0)?,
        key: row.get(1)?,
        version: row.get::<_, i64>(2)?.try_into().unwrap_or(0),
        body: row.get(3)?,
        updated_at: Timestamp::from_unix_ms(row.get(4)?),
    })
}

const JOB_COLUMNS: &str = "id, kind, key, payload, due_at_ms, attempts, state, last_error";

fn job_from_row(row: &Row<'_>) -> rusqlite::Result<Job> {
    let state: String = row.get(6)?;
    Ok(Job {
        id: row.get(0)?,
        kind: row.get(1)?,
        key: row.get(2)?,
        payload: row.get(3)?,
        due_at: Timestamp::from_unix_ms(row.get(4)?),
        attempts: row.get(5)?,
        state: JobState::parse(&state).ok_or_else(|| bad_value("state", &state))?,
        last_error: row.get(7)?,
    })
}

/// An outbox row selected as `seq, topic, key, payload, created_at_ms`.
fn event_from_row(row: &Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        seq: row.get(0)?,
        topic: row.get(1)?,
        key: row.get(2)?,
        payload: row.get(3)?,
        created_at: Timestamp::from_unix_ms(row.get(4)?),
    })
}
