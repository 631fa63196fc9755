//! The store's integration tests, in one binary (a module per suite).

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]
#![allow(
    clippy::too_many_lines,
    reason = "a test is one scenario read top to bottom; the 70-line rule is for production code"
)]

mod conformance;
