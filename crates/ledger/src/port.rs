//! The storage port of the ledger, implemented by the `store` crate.

use plaza_kernel::BoxFuture;
use plaza_kernel::id::{AccountId, TransferId};
use plaza_kernel::queue::{NewEvent, NewJob};
use plaza_kernel::record::RecordWrite;

use crate::model::{Account, HistoryPage, LedgerError, NewAccount, Transfer, TransferBatch};
use crate::verify::AccountAudit;

/// One unit of work, committed atomically: an optional batch of transfers together with
/// the domain events and jobs that the change causes. A domain service builds one of these
/// per request so that money, events and follow-up work land together or not at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteSet {
    /// Money to move.
    pub batch: Option<TransferBatch>,
    /// Events for the outbox.
    pub events: Vec<NewEvent>,
    /// Work to schedule.
    pub jobs: Vec<NewJob>,
    /// Domain records to write, each checked against the version it expects.
    pub records: Vec<RecordWrite>,
}

impl WriteSet {
    /// A unit of work that only moves money.
    pub fn transfers(batch: TransferBatch) -> Self {
        Self {
            batch: Some(batch),
            ..Self::default()
        }
    }
}

/// What a committed [`WriteSet`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The stored transfers, in the batch's order.
    pub transfers: Vec<Transfer>,
    /// True when the batch had been committed before: nothing was changed this time, and
    /// the events and jobs of this request were not written again.
    pub replayed: bool,
    /// The outbox positions of the events written.
    pub event_seqs: Vec<i64>,
    /// The ids of the jobs scheduled.
    pub job_ids: Vec<i64>,
    /// The new version of each record written, in the write set's order.
    pub record_versions: Vec<u64>,
}

/// Durable storage for the ledger.
///
/// Implementations must answer [`LedgerStore::commit`] only once the write is durable, must
/// apply each transfer id at most once, and must keep every balance equal to the sum of
/// its transfers.
pub trait LedgerStore: Send + Sync {
    /// Opens an account, or returns it unchanged if the same account already exists.
    ///
    /// # Errors
    ///
    /// [`LedgerError::AccountConflict`] when the id exists with other settings.
    fn open_account(&self, account: NewAccount) -> BoxFuture<'_, Result<Account, LedgerError>>;

    /// Commits a unit of work once it is durable, group-committed with others.
    ///
    /// # Errors
    ///
    /// Any [`LedgerError`]; on error nothing of the write set was applied.
    fn commit(&self, write: WriteSet) -> BoxFuture<'_, Result<Committed, LedgerError>>;

    /// Reads one account.
    ///
    /// # Errors
    ///
    /// [`LedgerError::Unavailable`] when the store fails.
    fn account(&self, id: AccountId) -> BoxFuture<'_, Result<Option<Account>, LedgerError>>;

    /// Reads one transfer by its id.
    ///
    /// # Errors
    ///
    /// [`LedgerError::Unavailable`] when the store fails.
    fn transfer(&self, id: TransferId) -> BoxFuture<'_, Result<Option<Transfer>, LedgerError>>;

    /// Reads a page of an account's transfers, newest first, older than `before_seq`.
    ///
    /// # Errors
    ///
    /// [`LedgerError::UnknownAccount`] for an unknown account.
    fn history(
        &self,
        id: AccountId,
        before_seq: Option<i64>,
        rows_max: usize,
    ) -> BoxFuture<'_, Result<HistoryPage, LedgerError>>;

    /// Recomputes every account's balance from its transfers, for [`crate::verify`].
    ///
    /// # Errors
    ///
    /// [`LedgerError::Unavailable`] when the store fails.
    fn audit(&self) -> BoxFuture<'_, Result<Vec<AccountAudit>, LedgerError>>;
}
