//! Plaza's integration tests, in one binary: each module drives the real `plaza` binary
//! (`CARGO_BIN_EXE_plaza`) through the test kit, or checks the repository's own rules.
//!
//! One binary instead of one per file: the workspace links once, and the harness runs
//! every module's tests side by side. So a test must not depend on being alone in its
//! process: no test sets environment variables or the working directory of the process
//! (child processes get theirs through `Command`), every server listens on a port of its
//! own (`127.0.0.1:0`) with a data directory of its own, and the few process-wide things
//! (the TLS crypto provider, the counter behind unique names) are set up once and shared.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]
#![allow(
    clippy::too_many_lines,
    reason = "a test is one scenario read top to bottom; the 70-line rule is for production code"
)]

mod admin_cli;
mod channels;
mod codepay;
mod collect;
mod compatibility;
mod consoles;
mod coupons;
mod crash;
mod dropin;
mod hardening;
mod miniapp;
mod partner;
mod pay;
mod report;
mod sandbox_powers;
mod sdk;
mod search;
mod server;
mod sharing;
mod tidy;
mod web;
mod web_app;
mod web_channels;
mod web_miniapp;
mod web_search;
mod web_security;
mod web_wecom;
mod wecom;
mod wecom_chat;
mod wecom_contacts;

/// The `plaza` binary under test.
const PLAZA: &str = env!("CARGO_BIN_EXE_plaza");
