//! Search's `/api/v1` codes, and how its errors become the shared envelope.

use plaza_http::ApiError;
use plaza_search::SearchError;

/// Every code Search's handlers answer with: the shared ones and its own.
pub mod code {
    pub use plaza_http::code::*;

    plaza_http::error_codes! {
        /// Search's own codes.
        SEARCH_ERROR_CODES {
        REINDEX_RUNNING = ("reindex_running", InvalidRequest, 409);
        }
    }
}

pub use code::SEARCH_ERROR_CODES;

/// The envelope of a search error: bad input names its field, a reindex already
/// running is `reindex_running`, and anything from the index or the store is
/// `store_unavailable` with the detail in the log.
pub(crate) fn api_error(error: SearchError) -> ApiError {
    match error {
        SearchError::Invalid {
            field: "reindex",
            reason,
        } => ApiError::new(code::REINDEX_RUNNING, reason),
        SearchError::Invalid { field, reason } => ApiError::invalid_field(field, reason),
        other => {
            tracing::error!(error = %other, "search failed");
            ApiError::unavailable(&other.to_string())
        }
    }
}
