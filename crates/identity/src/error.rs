//! Identity's errors.

use plaza_kernel::record::{RecordCodecError, RecordError};
use plaza_ledger::LedgerError;

/// What can go wrong with users, apps and sessions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// A field is missing or malformed.
    #[error("{field}: {problem}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// No such user.
    #[error("no user {user_id}")]
    UserNotFound {
        /// The id asked for.
        user_id: String,
    },
    /// The token names no live session.
    #[error("the session token is unknown or its session has ended")]
    SessionUnknown,
    /// Too many concurrent writers of one record; the caller may retry.
    #[error("too many concurrent changes to the {what}; retry")]
    Busy {
        /// What was contended.
        what: String,
    },
    /// The store failed.
    #[error("the store is unavailable: {reason}")]
    Unavailable {
        /// What went wrong, for the log.
        reason: String,
    },
}

impl From<RecordError> for IdentityError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::Unavailable { reason } => Self::Unavailable { reason },
        }
    }
}

impl From<RecordCodecError> for IdentityError {
    fn from(error: RecordCodecError) -> Self {
        Self::Unavailable {
            reason: error.to_string(),
        }
    }
}

impl From<plaza_kernel::record::ReadError> for IdentityError {
    fn from(error: plaza_kernel::record::ReadError) -> Self {
        Self::Unavailable {
            reason: error.to_string(),
        }
    }
}

impl From<LedgerError> for IdentityError {
    fn from(error: LedgerError) -> Self {
        Self::Unavailable {
            reason: error.to_string(),
        }
    }
}
