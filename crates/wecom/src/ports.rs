//! What WeCom needs from outside, filled by the binary: sending a callback to a corp's
//! server.

use plaza_kernel::BoxFuture;

/// A request to a corp's server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackRequest {
    /// `GET` (URL verification) or `POST` (an event).
    pub method: &'static str,
    /// The URL with its query.
    pub url: String,
    /// The body (empty for a `GET`).
    pub body: String,
}

/// What the corp's server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The body, as text (lossy).
    pub body: String,
}

/// Sends requests to corps' servers (the outbound policy and a timeout applied).
pub trait CallbackSender: Send + Sync {
    /// Sends one request; `Err` says why no answer came (refused target, timeout,
    /// network).
    fn send(&self, request: CallbackRequest) -> BoxFuture<'_, Result<CallbackAnswer, String>>;
}
