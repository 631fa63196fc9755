//! Search's errors.

use std::path::Path;

/// What can go wrong in search.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// tantivy failed (the detail is for the log).
    #[error("search index: {0}")]
    Index(String),
    /// The index directory could not be prepared.
    #[error("search index directory {path}: {reason}")]
    Io {
        /// The directory.
        path: String,
        /// What failed.
        reason: String,
    },
    /// A document could not be stored or read back.
    #[error("search document: {0}")]
    Document(String),
    /// A producer's event could not be read.
    #[error("search event {topic}/{key}: {reason}")]
    Event {
        /// Its topic.
        topic: String,
        /// Its key.
        key: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The database could not be read or written.
    #[error("search storage: {0}")]
    Store(String),
    /// Bad input from a caller, naming the field.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

impl SearchError {
    pub(crate) fn io(path: &Path, error: &std::io::Error) -> Self {
        SearchError::Io {
            path: path.display().to_string(),
            reason: error.to_string(),
        }
    }

    pub(crate) fn document(error: serde_json::Error) -> Self {
        SearchError::Document(error.to_string())
    }
}

impl From<tantivy::TantivyError> for SearchError {
    fn from(error: tantivy::TantivyError) -> Self {
        SearchError::Index(error.to_string())
    }
}

impl From<tantivy::directory::error::OpenDirectoryError> for SearchError {
    fn from(error: tantivy::directory::error::OpenDirectoryError) -> Self {
        SearchError::Index(error.to_string())
    }
}
