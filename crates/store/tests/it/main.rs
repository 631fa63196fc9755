//! The store's integration tests, in one binary (a module per suite).

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

mod conformance;
