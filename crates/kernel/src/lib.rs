//! Plaza's shared vocabulary: typed ids, money, time, limits and the records that the
//! outbox and the job queue carry.
//!
//! The one design decision here: nothing in this crate does I/O or knows a runtime, so
//! every other crate can depend on it and tests can build any value without setup.
//! Time is the one exception that looks like I/O: it is read only through the
//! [`clock::Clock`] trait, so the sandbox can move it and tests can fix it.
#![deny(missing_docs)]

pub mod clock;
pub mod id;
pub mod limits;
pub mod money;
pub mod objects;
pub mod queue;
pub mod record;

use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future: the return type of storage ports, so that they stay
/// object-safe and one `Arc<dyn Port>` can stand for either backend.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
