//! The records that the outbox and the job queue carry.
//!
//! Both are generic: a topic or job kind names what the payload means, and the payload
//! is text that only the producer and consumer interpret (usually JSON written by the
//! surface that owns the event). This crate does not parse payloads.

use crate::clock::Timestamp;

/// A domain event to be written to the outbox in the same transaction as the change
/// that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// What happened, dotted lower case, e.g. `ledger.transfer.committed`.
    pub topic: String,
    /// The entity the event is about (an order id, a transfer id); consumers may use it
    /// to group or deduplicate.
    pub key: String,
    /// The event's body.
    pub payload: String,
}

/// An event read back from the outbox, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Position in the outbox: strictly increasing in commit order.
    pub seq: i64,
    /// What happened.
    pub topic: String,
    /// The entity the event is about.
    pub key: String,
    /// The event's body.
    pub payload: String,
    /// When it was written, by the injected clock.
    pub created_at: Timestamp,
}

/// Work to be done at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// Which handler runs it, e.g. `ledger.scheduled_transfer`.
    pub kind: String,
    /// A caller-chosen key, unique among live jobs of the same kind: scheduling the same
    /// key again replaces nothing and returns the existing job.
    pub key: String,
    /// What the handler needs.
    pub payload: String,
    /// When it becomes due, by the injected clock.
    pub due_at: Timestamp,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The queue's id for it.
    pub id: i64,
    /// Which handler runs it.
    pub kind: String,
    /// The caller's key.
    pub key: String,
    /// What the handler needs.
    pub payload: String,
    /// When it is (next) due.
    pub due_at: Timestamp,
    /// How many times it has been tried.
    pub attempts: u32,
    /// Where it stands.
    pub state: JobState,
    /// The last failure, if any.
    pub last_error: Option<String>,
}

/// The life of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Waiting to become due (or due and waiting for the scheduler).
    Pending,
    /// Ran to success.
    Done,
    /// Failed [`crate::limits::JOB_ATTEMPTS_MAX`] times; kept for an operator to look at.
    Failed,
}

impl JobState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "done" => Some(Self::Done),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// How a job run ended, as the scheduler reports it to the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// It succeeded.
    Done,
    /// It failed and will be tried again at `due_at`.
    Retry {
        /// When to try again.
        due_at: Timestamp,
        /// What went wrong.
        error: String,
    },
    /// It failed for the last time.
    Failed {
        /// What went wrong.
        error: String,
    },
}

/// Why the outbox or the job queue could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// A consumer name that is empty or too long.
    #[error("consumer name must be 1 to 64 bytes")]
    BadConsumer,
    /// A payload over [`crate::limits::PAYLOAD_BYTES_MAX`].
    #[error("payload is {len_bytes} bytes; at most {max_bytes} are allowed")]
    PayloadTooLarge {
        /// Its size.
        len_bytes: usize,
        /// The limit.
        max_bytes: usize,
    },
    /// Storage failed. The message is for logs.
    #[error("the queue store failed: {reason}")]
    Unavailable {
        /// What went wrong.
        reason: String,
    },
}

/// Durable outbox reads. Events are written through the ledger's unit of work, so that
/// they commit with the change that caused them.
pub trait OutboxStore: Send + Sync {
    /// Events after `consumer`'s cursor, oldest first, at most `rows_max`. Reading does
    /// not move the cursor: a consumer that crashes before [`OutboxStore::ack_events`]
    /// reads the same events again (at least once).
    ///
    /// # Errors
    ///
    /// [`QueueError`] when the name is bad or the store fails.
    fn read_events(
        &self,
        consumer: String,
        rows_max: usize,
    ) -> crate::BoxFuture<'_, Result<Vec<Event>, QueueError>>;

    /// The events of one topic and key after position `after_seq`, oldest first, at most
    /// `rows_max`: one partition of the outbox read as a log of its own (a corp's
    /// session archive, say). Only durable events are returned, and no cursor moves.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] when the store fails.
    fn events_of(
        &self,
        topic: String,
        key: String,
        after_seq: i64,
        rows_max: usize,
    ) -> crate::BoxFuture<'_, Result<Vec<Event>, QueueError>>;

    /// Moves `consumer`'s cursor to `through_seq` (never backwards), durably.
    ///
    /// # Errors
    ///
    /// [`QueueError`] when the name is bad or the store fails.
    fn ack_events(
        &self,
        consumer: String,
        through_seq: i64,
    ) -> crate::BoxFuture<'_, Result<(), QueueError>>;

    /// Per consumer, how many events wait behind its cursor.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] when the store fails.
    fn lag(&self) -> crate::BoxFuture<'_, Result<Vec<(String, i64)>, QueueError>>;
}

/// The durable job queue, read by the scheduler. Jobs are scheduled through the ledger's
/// unit of work, so that they commit with the change that caused them.
pub trait JobStore: Send + Sync {
    /// Pending jobs due at or before `now`, in due order (then id order), at most
    /// `rows_max`.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] when the store fails.
    fn due_jobs(
        &self,
        now: Timestamp,
        rows_max: usize,
    ) -> crate::BoxFuture<'_, Result<Vec<Job>, QueueError>>;

    /// When the earliest pending job is due, if any.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] when the store fails.
    fn next_due_at(&self) -> crate::BoxFuture<'_, Result<Option<Timestamp>, QueueError>>;

    /// Records how a run of `job` ended, durably.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] when the store fails.
    fn finish_job(
        &self,
        job: Job,
        outcome: JobOutcome,
    ) -> crate::BoxFuture<'_, Result<(), QueueError>>;

    /// Reads one job.
    ///
    /// # Errors
    ///
    /// [`QueueError::Unavailable`] when the store fails.
    fn job(&self, id: i64) -> crate::BoxFuture<'_, Result<Option<Job>, QueueError>>;
}
