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
