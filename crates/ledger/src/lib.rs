//! The double-entry ledger: accounts, transfers and the rules that move money.
//!
//! Every movement of money in Plaza is a [`NewTransfer`] from one account to another, or
//! an atomic [`TransferBatch`] of them. This crate decides whether a batch may be applied
//! ([`apply`]), what a replayed id means ([`classify_replay`]) and whether stored
//! balances are sound ([`verify`]); it does no I/O. Storage lives behind the
//! [`LedgerStore`] port, which the `store` crate implements with a group-commit writer.
//!
//! Sign convention: a transfer of `amount_minor` takes that amount from `from` and adds it
//! to `to`. Money enters Plaza from an external account (a bank) whose balance goes
//! negative, so the sum of all balances per currency is always exactly zero.
#![deny(missing_docs)]

mod apply;
mod model;
mod port;
mod verify;

pub use apply::{AccountState, Balances, PostedBalances, Replay, apply, classify_replay};
pub use model::{
    Account, AccountKind, HistoryPage, LedgerError, NewAccount, NewTransfer, Transfer,
    TransferBatch,
};
pub use port::{Committed, LedgerStore, WriteSet};
pub use verify::{AccountAudit, VerifyReport, Violation, verify};
