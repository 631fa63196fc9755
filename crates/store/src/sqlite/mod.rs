//! The embedded backend: SQLite in WAL mode, one writer thread and a few reader
//! connections.
//!
//! The writer owns the only read-write connection and runs on a dedicated OS thread, so
//! there is never a `SQLITE_BUSY` between writers and a commit never waits for the async
//! runtime. `synchronous=FULL`: a commit is on disk before anyone is told it happened.

mod reader;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use plaza_kernel::clock::{Clock, Timestamp};
use plaza_kernel::id::{AccountId, TransferId};
use plaza_kernel::money::Currency;
use plaza_ledger::{Account, AccountKind, Transfer};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use tokio::sync::mpsc;

pub(crate) use reader::SqliteReaders;
pub(crate) use schema::SCHEMA_VERSION;

use crate::DurableHorizon;
use crate::error::StoreError;
use crate::metrics::StoreMetrics;
use crate::plan::{CachedAccount, GroupRows, Loaded, Needs, NextIds, RecordRow, WriterCache};
pub(crate) use crate::sql::{BALANCE_OF_A, account_select};
use crate::writer::{Acknowledgement, Group, GroupFacts, GroupSteps, Message};

/// How the SQLite backend is opened.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The database file.
    pub path: PathBuf,
    /// How commits are made durable before they are acknowledged.
    pub durability: SqliteDurability,
}

impl SqliteOptions {
    /// Options for a database file with the default durability.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            durability: SqliteDurability::default(),
        }
    }
}

/// How commits are made durable. In both modes nothing is acknowledged before it is on
/// disk; they differ in who waits for the disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SqliteDurability {
    /// `synchronous=NORMAL`, and a separate syncer thread `fdatasync`s the WAL after each
    /// commit and only then acknowledges the group. The writer goes on with the next group
    /// while the disk flushes, and one flush covers every group committed before it.
    #[default]
    PipelinedSync,
    /// `synchronous=FULL`: SQLite syncs the WAL inside every commit and the writer waits.
    FullSync,
}

fn corrupt_or_open(location: &str, error: &rusqlite::Error) -> StoreError {
    let reason = error.to_string();
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt) => {
            StoreError::Corrupt {
                location: location.to_owned(),
                reason,
            }
        }
        _ => StoreError::Open {
            location: location.to_owned(),
            reason,
        },
    }
}

/// Each connection's page cache, in KiB (see [`open_connection`]).
const PAGE_CACHE_KIB: u32 = 8_192;

pub(crate) fn open_connection(
    path: &Path,
    flags: OpenFlags,
    synchronous_full: bool,
) -> Result<Connection, StoreError> {
    let location = path.display().to_string();
    let conn =
        Connection::open_with_flags(path, flags).map_err(|e| corrupt_or_open(&location, &e))?;
    // NORMAL is only used together with the syncer thread, which makes every commit
    // durable before it is acknowledged (see `SqliteDurability::PipelinedSync`).
    let synchronous = if synchronous_full { "FULL" } else { "NORMAL" };
    // An 8 MiB page cache per connection. Larger is slower: at the end of every write
    // transaction that moved pages in a B-tree balance, and whenever a reader finds the
    // database changed, SQLite truncates or clears the page cache by scanning its whole
    // hash table, so the scan grows with the cache. With 64 MiB that scan
    // (`pcache1TruncateUnsafe`) was a third of the writer's samples under the chat
    // bench's small commits; 8 MiB raised `plaza bench ledger` from ~50,000 to ~61,000
    // transfers/s and took a few per cent off the chat writer's CPU, while 2 MiB made the
    // writer read index pages back from the OS (docs/benchmarks.md).
    // A larger auto-checkpoint threshold lets one checkpoint absorb many commits' pages.
    // 2 KiB pages (for new databases): a group dirties one page per account it touches in
    // each history index, and every dirty page is written whole to the WAL; measured
    // faster than both 1 KiB and the default 4 KiB for the ledger's write pattern.
    conn.execute_batch(&format!(
        "PRAGMA busy_timeout = 5000; PRAGMA page_size = 2048; PRAGMA journal_mode = WAL; \
         PRAGMA synchronous = {synchronous}; \
         PRAGMA cache_size = -{PAGE_CACHE_KIB}; PRAGMA wal_autocheckpoint = 10000; PRAGMA temp_store = MEMORY;"
    ))
    .map_err(|e| corrupt_or_open(&location, &e))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Makes the database file readable by its owner only: a new one is created 0600 before
/// SQLite opens it, an existing one (and its `-wal` and `-shm`) narrowed to 0600. SQLite
/// creates the `-wal` and `-shm` files with the database file's mode, so they follow.
fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => return Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(error),
        }
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let file = PathBuf::from(name);
            match std::fs::metadata(&file) {
                Ok(metadata) if metadata.permissions().mode() & 0o077 != 0 => {
                    let mode = metadata.permissions().mode() & 0o700;
                    if let Err(error) =
                        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode))
                    {
                        // A file system that keeps no modes: go on as before.
                        tracing::warn!(file = %file.display(), %error, "cannot make it private to its owner");
                    }
                }
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Opens (creating if needed) and migrates the database, and starts the writer thread.
pub(crate) fn open(
    options: &SqliteOptions,
    clock: Arc<dyn Clock>,
    metrics: StoreMetrics,
    horizon: DurableHorizon,
    receiver: mpsc::Receiver<Message>,
) -> Result<(SqliteReaders, std::thread::JoinHandle<()>), StoreError> {
    let location = options.path.display().to_string();
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let full = options.durability == SqliteDurability::FullSync;
    make_private(&options.path).map_err(|error| StoreError::Open {
        location: location.clone(),
        reason: format!("cannot make the database file private: {error}"),
    })?;
    let mut conn = open_connection(&options.path, flags, full)?;
    schema::migrate(&mut conn, &location)?;
    let next = next_ids(&conn).map_err(|e| corrupt_or_open(&location, &e))?;
    horizon.advance(next.event_seq - 1);
    // Checkpoints move to their own thread, so the writer never copies pages into the
    // database file inside a commit.
    conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")
        .map_err(|e| corrupt_or_open(&location, &e))?;
    let checkpointer =
        Checkpointer::start(&options.path, full).map_err(|error| StoreError::Open {
            location: location.clone(),
            reason: format!("cannot start the checkpointer: {error}"),
        })?;
    let syncer = (!full).then(|| {
        let mut wal_name = options.path.clone().into_os_string();
        wal_name.push("-wal");
        Syncer::start(PathBuf::from(wal_name), metrics.clone(), horizon.clone())
    });
    let syncer = match syncer {
        Some(started) => Some(started.map_err(|error| StoreError::Open {
            location: location.clone(),
            reason: format!("cannot start the syncer thread: {error}"),
        })?),
        None => None,
    };
    let writer = SqliteWriter {
        conn,
        cache: WriterCache::default(),
        next,
        clock,
        metrics,
        horizon,
        syncer,
        checkpointer: Some(checkpointer),
    };
    let thread = std::thread::Builder::new()
        .name("plaza-sqlite-writer".to_owned())
        .spawn(move || writer.run(receiver))
        .map_err(|error| StoreError::Open {
            location: location.clone(),
            reason: format!("cannot start the writer thread: {error}"),
        })?;
    let readers = SqliteReaders::new(options.path.clone(), full);
    Ok((readers, thread))
}

fn next_ids(conn: &Connection) -> rusqlite::Result<NextIds> {
    let next = |sql: &str| conn.query_row(sql, [], |row| row.get::<_, i64>(0));
    Ok(NextIds {
        account_row: next("SELECT COALESCE(MAX(row_id), 0) + 1 FROM ledger_accounts")?,
        transfer_seq: next("SELECT COALESCE(MAX(seq), 0) + 1 FROM ledger_transfers")?,
        event_seq: next("SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox_events")?,
        job_id: next("SELECT COALESCE(MAX(id), 0) + 1 FROM jobs")?,
    })
}

/// A value read from a row that does not parse: the database was altered by hand.
pub(crate) fn bad_value(column: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("column {column} holds {value:?}, which plaza cannot read").into(),
    )
}

pub(crate) fn account_id(text: String) -> rusqlite::Result<AccountId> {
    AccountId::parse(text.clone()).map_err(|_| bad_value("account id", &text))
}

pub(crate) fn currency(text: &str) -> rusqlite::Result<Currency> {
    Currency::parse(text).map_err(|_| bad_value("currency", text))
}

pub(crate) fn account_from_row(row: &Row<'_>) -> rusqlite::Result<CachedAccount> {
    let kind: String = row.get(2)?;
    let currency_text: String = row.get(3)?;
    Ok(CachedAccount {
        row: row.get(0)?,
        account: Account {
            id: account_id(row.get(1)?)?,
            kind: AccountKind::parse(&kind).ok_or_else(|| bad_value("kind", &kind))?,
            currency: currency(&currency_text)?,
            floor_minor: row.get(4)?,
            balance_minor: row.get(5)?,
            created_at: Timestamp::from_unix_ms(row.get(6)?),
        },
    })
}

pub(crate) const TRANSFER_SELECT: &str = "SELECT t.seq, t.id, fa.id, ta.id, t.amount_minor, \
     t.currency, t.memo, t.from_balance_after_minor, t.to_balance_after_minor, t.committed_at_ms \
     FROM ledger_transfers t \
     JOIN ledger_accounts fa ON fa.row_id = t.from_row \
     JOIN ledger_accounts ta ON ta.row_id = t.to_row";

pub(crate) fn transfer_from_row(row: &Row<'_>) -> rusqlite::Result<Transfer> {
    let id: String = row.get(1)?;
    let currency_text: String = row.get(5)?;
    Ok(Transfer {
        seq: row.get(0)?,
        id: TransferId::parse(id.clone()).map_err(|_| bad_value("transfer id", &id))?,
        from: account_id(row.get(2)?)?,
        to: account_id(row.get(3)?)?,
        amount_minor: row.get(4)?,
        currency: currency(&currency_text)?,
        memo: row.get(6)?,
        from_balance_after_minor: row.get(7)?,
        to_balance_after_minor: row.get(8)?,
        committed_at: Timestamp::from_unix_ms(row.get(9)?),
    })
}

struct SqliteWriter {
    conn: Connection,
    cache: WriterCache,
    next: NextIds,
    clock: Arc<dyn Clock>,
    metrics: StoreMetrics,
    horizon: DurableHorizon,
    /// Present in `PipelinedSync` mode: acknowledges groups once the WAL is synced.
    syncer: Option<Syncer>,
    checkpointer: Option<Checkpointer>,
}

impl SqliteWriter {
    fn run(mut self, mut receiver: mpsc::Receiver<Message>) {
        let mut shutdown_replies = Vec::new();
        while let Some(first) = receiver.blocking_recv() {
            let group = Group::gather(first, &mut receiver);
            shutdown_replies.extend(group.shutdown_replies);
            if !group.requests.is_empty() {
                self.run_group(GroupSteps::new(group.requests));
            }
        }
        // Every committed group is acknowledged (after its sync) before the writer stops.
        if let Some(syncer) = self.syncer.take() {
            syncer.stop();
        }
        if let Some(checkpointer) = self.checkpointer.take() {
            checkpointer.stop();
        }
        // Closing the connection checkpoints the WAL into the main file.
        if let Err((_conn, error)) = self.conn.close() {
            tracing::warn!(%error, "closing the sqlite writer connection failed");
        }
        for reply in shutdown_replies {
            let _ignored = reply.send(());
        }
    }

    fn run_group(&mut self, steps: GroupSteps) {
        self.cache.trim();
        if self
            .checkpointer
            .as_ref()
            .is_some_and(Checkpointer::take_restart_request)
            && let Err(error) =
                self.conn
                    .query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(()))
        {
            tracing::warn!(%error, "restarting the WAL failed");
        }
        match self.plan_and_write(&steps) {
            Ok((answers, facts)) => {
                let acknowledgement = steps.acknowledgement(answers, facts);
                match &self.syncer {
                    Some(syncer) => syncer.acknowledge_when_durable(acknowledgement),
                    None => {
                        if let Some(seq) = acknowledgement.facts.last_event_seq {
                            self.horizon.advance(seq);
                        }
                        acknowledgement.send(&self.metrics);
                    }
                }
            }
            Err(reason) => {
                // Memory may now be ahead of disk: forget it and reread from the database.
                self.cache.clear();
                match next_ids(&self.conn) {
                    Ok(next) => self.next = next,
                    Err(error) => tracing::error!(%error, "rereading sequence numbers failed"),
                }
                steps.fail(&reason, &self.metrics);
            }
        }
    }

    /// Loads, plans and writes a group inside one `BEGIN IMMEDIATE` transaction: the
    /// look-ups share the write transaction's snapshot and locks, instead of each taking
    /// and releasing the WAL locks on its own.
    fn plan_and_write(
        &mut self,
        steps: &GroupSteps,
    ) -> Result<(Vec<crate::plan::Answer>, GroupFacts), String> {
        let failed = |error: rusqlite::Error| error.to_string();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(failed)?;
        let needs = steps.needs(&self.cache);
        let loaded = load(&tx, &mut self.cache, needs).map_err(failed)?;
        let now = self.clock.now();
        let (answers, rows) = steps.plan(loaded, &mut self.cache, &mut self.next, now);
        if !rows.is_empty() {
            write(&tx, &rows).map_err(failed)?;
        }
        tx.commit().map_err(failed)?;
        Ok((answers, GroupFacts::of(&rows)))
    }
}

fn load(conn: &Connection, cache: &mut WriterCache, needs: Needs) -> rusqlite::Result<Loaded> {
    let mut loaded = Loaded::default();
    // Nearly every id is new: probe the id index alone, and read the whole stored
    // transfer only for the rare replay.
    let mut probe = conn.prepare_cached("SELECT 1 FROM ledger_transfers WHERE id = ?1")?;
    let mut fetch = conn.prepare_cached(&format!("{TRANSFER_SELECT} WHERE t.id = ?1"))?;
    for id in needs.transfer_ids {
        if !probe.exists([id.as_str()])? {
            continue;
        }
        if let Some(transfer) = fetch
            .query_row([id.as_str()], transfer_from_row)
            .optional()?
        {
            loaded.transfers.insert(id, transfer);
        }
    }
    let account_sql = format!("{} WHERE a.id = ?1", account_select());
    let mut statement = conn.prepare_cached(&account_sql)?;
    for id in needs.account_ids {
        if let Some(cached) = statement
            .query_row([id.as_str()], account_from_row)
            .optional()?
        {
            cache.insert(cached);
        }
    }
    let mut statement = conn.prepare_cached(
        "SELECT version, index_entries FROM records WHERE kind = ?1 AND key = ?2",
    )?;
    for (kind, key) in needs.record_keys {
        if let Some((version, entries)) = statement
            .query_row([&kind, &key], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .optional()?
        {
            let entries = crate::plan::decode_index(&entries)
                .ok_or_else(|| bad_value("records.index_entries", &entries))?;
            let id = (kind, key);
            loaded
                .record_versions
                .insert(id.clone(), u64::try_from(version).unwrap_or(0));
            loaded.stored_index.insert(id, entries);
        }
    }
    let mut statement = conn.prepare_cached("SELECT id FROM jobs WHERE kind = ?1 AND key = ?2")?;
    for (kind, key) in needs.job_keys {
        if let Some(id) = statement
            .query_row([&kind, &key], |row| row.get::<_, i64>(0))
            .optional()?
        {
            loaded.jobs.insert((kind, key), id);
        }
    }
    Ok(loaded)
}

#[expect(
    clippy::too_many_lines,
    reason = "one statement per table of a group, in the order the transaction writes them"
)]
fn write(tx: &Connection, rows: &GroupRows) -> rusqlite::Result<()> {
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO ledger_accounts (row_id, id, kind, currency, floor_minor, created_at_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for cached in &rows.new_accounts {
            let account = &cached.account;
            insert.execute(params![
                cached.row,
                account.id.as_str(),
                account.kind.as_str(),
                account.currency.as_str(),
                account.floor_minor,
                account.created_at.unix_ms(),
            ])?;
        }
        let mut insert = tx.prepare_cached(
            "INSERT INTO ledger_transfers (seq, id, from_row, to_row, amount_minor, currency, \
                 memo, from_balance_after_minor, to_balance_after_minor, committed_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for row in &rows.transfers {
            let transfer = &row.transfer;
            insert.execute(params![
                transfer.seq,
                transfer.id.as_str(),
                row.from_row,
                row.to_row,
                transfer.amount_minor,
                transfer.currency.as_str(),
                transfer.memo,
                transfer.from_balance_after_minor,
                transfer.to_balance_after_minor,
                transfer.committed_at.unix_ms(),
            ])?;
        }
        let mut insert = tx.prepare_cached(
            "INSERT INTO outbox_events (seq, topic, key, payload, created_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for event in &rows.events {
            insert.execute(params![
                event.seq,
                event.topic,
                event.key,
                event.payload,
                event.created_at.unix_ms()
            ])?;
        }
        let mut insert = tx.prepare_cached(
            "INSERT INTO jobs (id, kind, key, payload, due_at_ms, attempts, state, created_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, 'pending', ?6)",
        )?;
        for job in &rows.jobs {
            insert.execute(params![
                job.id,
                job.kind,
                job.key,
                job.payload,
                job.due_at.unix_ms(),
                job.created_at.unix_ms()
            ])?;
        }
        let mut update = tx.prepare_cached(
            "UPDATE jobs SET state = ?2, due_at_ms = ?3, attempts = ?4, last_error = ?5, \
                 finished_at_ms = ?6 WHERE id = ?1",
        )?;
        for job in &rows.job_updates {
            update.execute(params![
                job.id,
                job.state.as_str(),
                job.due_at.unix_ms(),
                job.attempts,
                job.last_error,
                job.finished_at.map(Timestamp::unix_ms),
            ])?;
        }
        let mut upsert = tx.prepare_cached(
            "INSERT INTO outbox_cursors (consumer, seq) VALUES (?1, ?2) \
                 ON CONFLICT (consumer) DO UPDATE SET seq = MAX(seq, excluded.seq)",
        )?;
        for (consumer, seq) in &rows.cursor_acks {
            upsert.execute(params![consumer, seq])?;
        }
        let mut upsert = tx.prepare_cached(
            "INSERT INTO plaza_meta (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )?;
        for (key, value) in &rows.meta {
            upsert.execute(params![key, value])?;
        }
        write_records(tx, &rows.records)?;
    }
    Ok(())
}

fn write_records(tx: &Connection, records: &[RecordRow]) -> rusqlite::Result<()> {
    let mut upsert = tx.prepare_cached(
        "INSERT INTO records (kind, key, version, body, index_entries, updated_at_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (kind, key) DO UPDATE SET version = excluded.version, body = excluded.body, \
         index_entries = excluded.index_entries, updated_at_ms = excluded.updated_at_ms",
    )?;
    let mut remove = tx.prepare_cached(
        "DELETE FROM record_index WHERE kind = ?1 AND name = ?2 AND value = ?3 AND key = ?4",
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO record_index (kind, name, value, key) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for record in records {
        upsert.execute(params![
            record.kind,
            record.key,
            i64::try_from(record.version).unwrap_or(i64::MAX),
            record.body,
            crate::plan::encode_index(&record.index),
            record.updated_at.unix_ms(),
        ])?;
        for entry in &record.index_removed {
            remove.execute(params![record.kind, entry.name, entry.value, record.key])?;
        }
        for entry in &record.index_added {
            insert.execute(params![record.kind, entry.name, entry.value, record.key])?;
        }
    }
    Ok(())
}

/// Groups committed but not yet known to be on disk, at most (back pressure on the writer
/// beyond that).
const UNSYNCED_GROUPS_MAX: usize = 1_024;

/// The syncer thread of `PipelinedSync` mode: it `fdatasync`s the WAL and then answers
/// every group committed before that sync started.
struct Syncer {
    sender: std::sync::mpsc::SyncSender<Acknowledgement>,
    thread: std::thread::JoinHandle<()>,
}

impl Syncer {
    fn start(
        wal_path: PathBuf,
        metrics: StoreMetrics,
        horizon: DurableHorizon,
    ) -> std::io::Result<Self> {
        let (sender, receiver) = std::sync::mpsc::sync_channel(UNSYNCED_GROUPS_MAX);
        let thread = std::thread::Builder::new()
            .name("plaza-sqlite-syncer".to_owned())
            .spawn(move || run_syncer(&wal_path, &receiver, &metrics, &horizon))?;
        Ok(Self { sender, thread })
    }

    fn acknowledge_when_durable(&self, acknowledgement: Acknowledgement) {
        if let Err(error) = self.sender.send(acknowledgement) {
            // The syncer is gone, so nothing can be made durable: refuse instead.
            tracing::error!("the sqlite syncer stopped; refusing the group");
            error.0.fail(
                "the store cannot make writes durable",
                &StoreMetrics::default(),
            );
        }
    }

    /// Syncs and answers what is still pending, then stops the thread.
    fn stop(self) {
        drop(self.sender);
        if self.thread.join().is_err() {
            tracing::error!("the sqlite syncer thread panicked");
        }
    }
}

fn run_syncer(
    wal_path: &Path,
    receiver: &std::sync::mpsc::Receiver<Acknowledgement>,
    metrics: &StoreMetrics,
    horizon: &DurableHorizon,
) {
    let mut wal: Option<std::fs::File> = None;
    while let Ok(first) = receiver.recv() {
        let mut pending = vec![first];
        pending.extend(receiver.try_iter());
        match sync_wal(wal_path, &mut wal) {
            Ok(()) => {
                if let Some(seq) = pending
                    .iter()
                    .filter_map(|ack| ack.facts.last_event_seq)
                    .max()
                {
                    horizon.advance(seq);
                }
                for acknowledgement in pending {
                    acknowledgement.send(metrics);
                }
            }
            Err(error) => {
                tracing::error!(%error, wal = %wal_path.display(), "syncing the WAL failed");
                wal = None;
                for acknowledgement in pending {
                    acknowledgement.fail("the store could not make the write durable", metrics);
                }
            }
        }
    }
}

/// `fdatasync` of the WAL; the first time, also of its directory, so that the file's
/// existence is as durable as its contents.
fn sync_wal(wal_path: &Path, wal: &mut Option<std::fs::File>) -> std::io::Result<()> {
    if wal.is_none() {
        let file = std::fs::OpenOptions::new().read(true).open(wal_path)?;
        if let Some(dir) = wal_path.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            std::fs::File::open(dir)?.sync_all()?;
        }
        *wal = Some(file);
    }
    match wal {
        Some(file) => file.sync_data(),
        None => Ok(()),
    }
}

/// WAL frames after which the writer itself runs a `RESTART` checkpoint between two
/// groups, so the WAL starts over instead of growing. (A passive
/// checkpoint never catches up with a writer that never pauses, and a `RESTART` from
/// another connection starves waiting for the write lock; from the writer it only has
/// the few frames the passive checkpoints have not copied yet.) 32,768 × 2 KiB = 64 MiB.
const WAL_FRAMES_RESTART: i64 = 32_768;

/// How often the checkpointer copies WAL frames into the database file. A page rewritten
/// many times between two checkpoints is copied once, so rarer checkpoints cost the
/// shared CPU less (measured: 42k transfers/s at 250 ms, ~50k at 1 s, ~56k at 2 s). The
/// price is WAL size: up to about two seconds of writes, ~450 MB at full benchmark load.
const CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_millis(2000);

/// Copies WAL frames into the database file on its own thread and connection.
struct Checkpointer {
    stop: Arc<std::sync::atomic::AtomicBool>,
    /// Set when the WAL is long enough that the writer should restart it.
    restart_wanted: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Checkpointer {
    fn start(path: &Path, synchronous_full: bool) -> Result<Self, StoreError> {
        let conn = open_connection(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            synchronous_full,
        )?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let restart_wanted = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let wanted = restart_wanted.clone();
        let thread = std::thread::Builder::new()
            .name("plaza-sqlite-checkpointer".to_owned())
            .spawn(move || {
                while !stopping.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::park_timeout(CHECKPOINT_INTERVAL);
                    match checkpoint(&conn) {
                        // Catch up once more so the writer's restart has little left to copy.
                        Ok(true) => match checkpoint(&conn) {
                            Ok(_) => wanted.store(true, std::sync::atomic::Ordering::Relaxed),
                            Err(error) => tracing::warn!(%error, "checkpoint failed"),
                        },
                        Ok(false) => {}
                        Err(error) => tracing::warn!(%error, "checkpoint failed"),
                    }
                }
            })
            .map_err(|error| StoreError::Open {
                location: path.display().to_string(),
                reason: format!("cannot start the checkpointer thread: {error}"),
            })?;
        Ok(Self {
            stop,
            restart_wanted,
            thread,
        })
    }

    /// Whether the writer should restart the WAL now (clears the request).
    fn take_restart_request(&self) -> bool {
        self.restart_wanted
            .swap(false, std::sync::atomic::Ordering::Relaxed)
    }

    fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.thread().unpark();
        if self.thread.join().is_err() {
            tracing::error!("the sqlite checkpointer thread panicked");
        }
    }
}

/// A passive checkpoint; returns whether the WAL has grown past [`WAL_FRAMES_RESTART`].
fn checkpoint(conn: &Connection) -> rusqlite::Result<bool> {
    // (busy, frames in the WAL, frames copied)
    let (_busy, wal_frames, _copied): (i64, i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
    Ok(wal_frames > WAL_FRAMES_RESTART)
}
