//! The store's own errors: opening, migrating and talking to a database.

/// Why the store could not open or answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or reached.
    #[error("cannot open the database at {location}: {reason}")]
    Open {
        /// The file or URL (without password).
        location: String,
        /// What the driver said.
        reason: String,
    },
    /// The file exists but is not a readable SQLite database.
    #[error(
        "the database file {location} is corrupt or not a SQLite database ({reason}); restore it from a backup or move it away to start afresh"
    )]
    Corrupt {
        /// The file.
        location: String,
        /// What SQLite said.
        reason: String,
    },
    /// The database was written by a newer Plaza.
    #[error(
        "the database at {location} has schema version {found}, newer than the {supported} this plaza knows; run a newer plaza (nothing was changed)"
    )]
    NewerSchema {
        /// The file or URL.
        location: String,
        /// The version found.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A migration failed; its transaction was rolled back.
    #[error("migration to schema version {version} failed: {reason}")]
    Migration {
        /// The version that failed.
        version: i64,
        /// What the database said.
        reason: String,
    },
    /// Another Plaza process writes to this PostgreSQL database.
    #[error(
        "another plaza process is already writing to the database at {location}{}; stop it first (one writer per database)",
        held_by(.holder.as_deref())
    )]
    InUse {
        /// The URL (without password).
        location: String,
        /// The database session that holds the writer lock, when the server tells.
        holder: Option<String>,
    },
    /// A query failed.
    #[error("the database failed: {reason}")]
    Unavailable {
        /// What the database said.
        reason: String,
    },
}

fn held_by(holder: Option<&str>) -> String {
    holder.map_or_else(String::new, |holder| format!(" (held by {holder})"))
}

impl StoreError {
    pub(crate) fn unavailable(error: impl std::fmt::Display) -> Self {
        Self::Unavailable {
            reason: error.to_string(),
        }
    }
}
