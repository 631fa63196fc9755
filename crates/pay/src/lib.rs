//! Payments: apps, merchants, payers, orders, refunds, settlement, notifications and the
//! facts bills are made of — plain Rust, no HTTP, no WeChat JSON spellings.
//!
//! The one design decision: every change is one unit of work ([`plaza_ledger::WriteSet`])
//! holding the money it moves, the records it changes (each checked against the version
//! that was read) and the jobs it schedules. A payment therefore moves the payer's money,
//! marks the order paid and schedules its notification together or not at all, and two
//! racing requests on one order cannot both win: the loser reads again and decides again.
//!
//! Entities are stored as JSON records ([`store`]); that is the one place their shape on
//! disk is known. Money lives only in the ledger: accounts per payer wallet, per merchant
//! and day (pending money and the fee held back until settlement), per merchant
//! (available balance), and the platform's fee income.
#![deny(missing_docs)]

pub mod accounts;
pub mod codepay;
pub mod collect;
pub mod coupons;
pub mod error;
mod hooks;
pub mod ids;
pub mod model;
pub mod money;
pub mod outbound;
pub mod partner;
pub mod password;
pub mod report;
pub mod sandbox;
pub mod sealing;
pub mod service;
pub mod sharing;
pub mod statement;
pub mod store;
pub mod time;
mod wiring;

pub use codepay::{CodepayOutcome, CodepayRequest};
pub use collect::{CollectPayment, CollectionSummary};
pub use error::PayError;
pub use partner::NewSubMerchant;
pub use service::{
    JOB_EXPIRE, JOB_NOTIFY, JOB_SETTLE, NOTIFY_RETRY_DELAYS_S, NewMerchant, NotifyOutcome,
    OrderRef, PayService, PrepayRequest, RefundRequest,
};
