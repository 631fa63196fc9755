//! Plaza's storage: SQLite (embedded default) or PostgreSQL, behind the domains' ports.
//!
//! The one design decision: every write goes through a single group-commit writer per
//! database ([`writer`]). It batches concurrent submissions into one transaction, keeps
//! the accounts it touches in memory and hands out sequence numbers itself, so that a
//! commit costs one fsync for hundreds of transfers and the ledger's rules are checked
//! in memory ([`plan`]) before any row is written. Reads go to separate connections.
//! A consequence: one Plaza process writes to a database at a time (a lock file guards
//! SQLite's data directory; an advisory lock guards PostgreSQL).
#![deny(missing_docs)]

mod error;
mod metrics;
pub mod objects;
mod plan;
mod postgres;
mod sql;
mod sqlite;
mod writer;

use std::sync::Arc;

use plaza_kernel::BoxFuture;
use plaza_kernel::clock::{Clock, Timestamp};
use plaza_kernel::id::{AccountId, TransferId};
use plaza_kernel::queue::{Event, Job, JobOutcome, JobStore, OutboxStore, QueueError};
use plaza_kernel::record::{IndexRange, IndexedRecord, Record, RecordError, RecordStore};
use plaza_ledger::{
    Account, AccountAudit, Committed, HistoryPage, LedgerError, LedgerStore, NewAccount, Transfer,
    WriteSet,
};

pub use error::StoreError;
pub use metrics::StoreMetrics;
pub use postgres::PostgresOptions;
pub use sqlite::{SqliteDurability, SqliteOptions};

/// The highest outbox sequence number known to be durable. Readers of the outbox never
/// go past it, so a consumer never acts on an event whose commit could still be lost.
#[derive(Debug, Clone, Default)]
pub(crate) struct DurableHorizon(Arc<std::sync::atomic::AtomicI64>);

impl DurableHorizon {
    pub(crate) fn advance(&self, seq: i64) {
        self.0.fetch_max(seq, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) fn get(&self) -> i64 {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

use crate::plan::{Answer, Command, check_consumer};
use crate::writer::WriterHandle;

/// Which database, and how to reach it.
#[derive(Debug, Clone)]
pub enum Backend {
    /// A SQLite file.
    Sqlite(SqliteOptions),
    /// A PostgreSQL server.
    Postgres(PostgresOptions),
}

/// The newest schema version this build knows, per backend (the same number for both).
pub const SCHEMA_VERSION: i64 = sqlite::SCHEMA_VERSION;

#[derive(Debug, Clone)]
enum Readers {
    Sqlite(sqlite::SqliteReaders),
    Postgres(postgres::PgReaders),
}

enum WriterTask {
    Thread(std::thread::JoinHandle<()>),
    Task(tokio::task::JoinHandle<()>),
}

struct Inner {
    horizon: DurableHorizon,
    writer: WriterHandle,
    readers: Readers,
    writer_task: std::sync::Mutex<Option<WriterTask>>,
    metrics: StoreMetrics,
}

/// An open store. Cloning is cheap and shares the writer and the connections.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend_name())
            .finish_non_exhaustive()
    }
}

fn unavailable(error: StoreError) -> LedgerError {
    LedgerError::Unavailable {
        reason: error.to_string(),
    }
}

fn queue_unavailable(error: StoreError) -> QueueError {
    QueueError::Unavailable {
        reason: error.to_string(),
    }
}

fn wrong_answer() -> LedgerError {
    LedgerError::Unavailable {
        reason: "the writer answered with another kind of answer".to_owned(),
    }
}

macro_rules! read {
    ($self:ident, $method:ident ( $($arg:expr),* )) => {
        match &$self.inner.readers {
            Readers::Sqlite(readers) => readers.$method($($arg),*).await,
            Readers::Postgres(readers) => readers.$method($($arg),*).await,
        }
    };
}

impl Store {
    /// Opens the database, runs its migrations and starts the writer.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the database cannot be reached, is corrupt, comes from a newer
    /// Plaza, or is in use by another Plaza process (PostgreSQL: answered after about two
    /// seconds of asking again, time for the server to end the session of a Plaza that was
    /// killed or a store dropped without [`Store::close`]).
    pub async fn open(backend: &Backend, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let metrics = StoreMetrics::default();
        let horizon = DurableHorizon::default();
        let (writer, receiver) = writer::mailbox();
        let (readers, writer_task) = match backend {
            Backend::Sqlite(options) => {
                let options = options.clone();
                let writer_metrics = metrics.clone();
                let writer_horizon = horizon.clone();
                let (readers, thread) = tokio::task::spawn_blocking(move || {
                    sqlite::open(&options, clock, writer_metrics, writer_horizon, receiver)
                })
                .await
                .map_err(StoreError::unavailable)??;
                (Readers::Sqlite(readers), WriterTask::Thread(thread))
            }
            Backend::Postgres(options) => {
                let (readers, task) =
                    postgres::open(options, clock, metrics.clone(), horizon.clone(), receiver)
                        .await?;
                (Readers::Postgres(readers), WriterTask::Task(task))
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                horizon,
                writer,
                readers,
                writer_task: std::sync::Mutex::new(Some(writer_task)),
                metrics,
            }),
        })
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend_name(&self) -> &'static str {
        match self.inner.readers {
            Readers::Sqlite(_) => "sqlite",
            Readers::Postgres(_) => "postgres",
        }
    }

    /// The writer's figures.
    pub fn metrics(&self) -> &StoreMetrics {
        &self.inner.metrics
    }

    /// Checks that the database answers a query.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when it does not.
    pub async fn check(&self) -> Result<(), StoreError> {
        read!(self, check())
    }

    /// Reads a value from the store's own key-value table.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] when the database fails.
    pub async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        read!(self, meta(key.to_owned()))
    }

    /// Writes a value to the store's own key-value table, durably.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] when the database fails.
    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), QueueError> {
        self.inner
            .writer
            .queue(Command::SetMeta {
                key: key.to_owned(),
                value: value.to_owned(),
            })
            .await
    }

    /// Finishes every queued write, stops the writer and waits for it: after this returns,
    /// every acknowledged write is on disk, further writes fail, and the database is free
    /// for the next [`Store::open`] (PostgreSQL: the writer has given its lock back and
    /// ended its session).
    pub async fn close(&self) {
        self.inner.writer.shutdown().await;
        let task = self
            .inner
            .writer_task
            .lock()
            .ok()
            .and_then(|mut task| task.take());
        match task {
            Some(WriterTask::Thread(thread)) => {
                let _joined = tokio::task::spawn_blocking(move || thread.join()).await;
            }
            Some(WriterTask::Task(task)) => {
                let _joined = task.await;
            }
            None => {}
        }
    }
}

impl LedgerStore for Store {
    fn open_account(&self, account: NewAccount) -> BoxFuture<'_, Result<Account, LedgerError>> {
        Box::pin(async move {
            match self
                .inner
                .writer
                .ledger(Command::OpenAccount(account))
                .await?
            {
                Answer::Account(result) => result,
                _ => Err(wrong_answer()),
            }
        })
    }

    fn commit(&self, write: WriteSet) -> BoxFuture<'_, Result<Committed, LedgerError>> {
        Box::pin(async move {
            match self.inner.writer.ledger(Command::Commit(write)).await? {
                Answer::Committed(result) => result,
                _ => Err(wrong_answer()),
            }
        })
    }

    fn account(&self, id: AccountId) -> BoxFuture<'_, Result<Option<Account>, LedgerError>> {
        Box::pin(async move { read!(self, account(id.as_str().to_owned())).map_err(unavailable) })
    }

    fn transfer(&self, id: TransferId) -> BoxFuture<'_, Result<Option<Transfer>, LedgerError>> {
        Box::pin(async move { read!(self, transfer(id.as_str().to_owned())).map_err(unavailable) })
    }

    fn history(
        &self,
        id: AccountId,
        before_seq: Option<i64>,
        rows_max: usize,
    ) -> BoxFuture<'_, Result<HistoryPage, LedgerError>> {
        Box::pin(async move {
            read!(self, history(id.as_str().to_owned(), before_seq, rows_max))
                .map_err(unavailable)?
                .ok_or(LedgerError::UnknownAccount { account: id })
        })
    }

    fn audit(&self) -> BoxFuture<'_, Result<Vec<AccountAudit>, LedgerError>> {
        Box::pin(async move { read!(self, audit()).map_err(unavailable) })
    }
}

impl OutboxStore for Store {
    fn read_events(
        &self,
        consumer: String,
        rows_max: usize,
    ) -> BoxFuture<'_, Result<Vec<Event>, QueueError>> {
        Box::pin(async move {
            check_consumer(&consumer)?;
            match &self.inner.readers {
                Readers::Sqlite(readers) => {
                    readers
                        .read_events(consumer, rows_max, self.inner.horizon.get())
                        .await
                }
                Readers::Postgres(readers) => readers.read_events(consumer, rows_max).await,
            }
            .map_err(queue_unavailable)
        })
    }

    fn events_of(
        &self,
        topic: String,
        key: String,
        after_seq: i64,
        rows_max: usize,
    ) -> BoxFuture<'_, Result<Vec<Event>, QueueError>> {
        Box::pin(async move {
            match &self.inner.readers {
                Readers::Sqlite(readers) => {
                    readers
                        .events_of(topic, key, after_seq, rows_max, self.inner.horizon.get())
                        .await
                }
                Readers::Postgres(readers) => {
                    readers.events_of(topic, key, after_seq, rows_max).await
                }
            }
            .map_err(queue_unavailable)
        })
    }

    fn ack_events(
        &self,
        consumer: String,
        through_seq: i64,
    ) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            self.inner
                .writer
                .queue(Command::AckEvents {
                    consumer,
                    through_seq,
                })
                .await
        })
    }

    fn lag(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, QueueError>> {
        Box::pin(async move { read!(self, lag()).map_err(queue_unavailable) })
    }
}

impl JobStore for Store {
    fn due_jobs(
        &self,
        now: Timestamp,
        rows_max: usize,
    ) -> BoxFuture<'_, Result<Vec<Job>, QueueError>> {
        Box::pin(async move { read!(self, due_jobs(now, rows_max)).map_err(queue_unavailable) })
    }

    fn next_due_at(&self) -> BoxFuture<'_, Result<Option<Timestamp>, QueueError>> {
        Box::pin(async move { read!(self, next_due_at()).map_err(queue_unavailable) })
    }

    fn finish_job(&self, job: Job, outcome: JobOutcome) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            self.inner
                .writer
                .queue(Command::FinishJob { job, outcome })
                .await
        })
    }

    fn job(&self, id: i64) -> BoxFuture<'_, Result<Option<Job>, QueueError>> {
        Box::pin(async move { read!(self, job(id)).map_err(queue_unavailable) })
    }
}

fn record_unavailable(error: StoreError) -> RecordError {
    RecordError::Unavailable {
        reason: error.to_string(),
    }
}

impl RecordStore for Store {
    fn record(&self, kind: &str, key: &str) -> BoxFuture<'_, Result<Option<Record>, RecordError>> {
        let (kind, key) = (kind.to_owned(), key.to_owned());
        Box::pin(async move { read!(self, record(kind, key)).map_err(record_unavailable) })
    }

    fn find(
        &self,
        kind: &str,
        name: &str,
        value: &str,
        rows_max: usize,
    ) -> BoxFuture<'_, Result<Vec<Record>, RecordError>> {
        let (kind, name, value) = (kind.to_owned(), name.to_owned(), value.to_owned());
        Box::pin(async move {
            read!(self, find_records(kind, name, value, rows_max)).map_err(record_unavailable)
        })
    }

    fn range(&self, range: IndexRange) -> BoxFuture<'_, Result<Vec<IndexedRecord>, RecordError>> {
        Box::pin(async move { read!(self, record_range(range)).map_err(record_unavailable) })
    }
}
