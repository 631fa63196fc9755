//! The rules that decide whether a batch may be applied, and what a replayed id means.

use std::collections::HashMap;

use plaza_kernel::id::AccountId;
use plaza_kernel::money::Currency;

use crate::model::{LedgerError, Transfer, TransferBatch};

/// What [`apply`] needs to know about an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountState {
    /// The account's currency.
    pub currency: Currency,
    /// Its floor; `None` means no floor.
    pub floor_minor: Option<i64>,
    /// Its current balance.
    pub balance_minor: i64,
}

/// Where [`apply`] reads and writes balances: the store's writer cache, or a plain map in
/// tests and models.
pub trait Balances {
    /// The account's state, or `None` if it does not exist.
    fn state(&self, id: &AccountId) -> Option<AccountState>;
    /// Records a new balance for an account that [`Balances::state`] returned.
    fn set_balance(&mut self, id: &AccountId, balance_minor: i64);
}

impl Balances for HashMap<AccountId, AccountState> {
    fn state(&self, id: &AccountId) -> Option<AccountState> {
        self.get(id).copied()
    }

    fn set_balance(&mut self, id: &AccountId, balance_minor: i64) {
        if let Some(state) = self.get_mut(id) {
            state.balance_minor = balance_minor;
        }
    }
}

/// The balances of a transfer's two accounts right after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostedBalances {
    /// `from`'s balance after the transfer.
    pub from_after_minor: i64,
    /// `to`'s balance after the transfer.
    pub to_after_minor: i64,
}

/// Applies a batch to `balances`, all or nothing.
///
/// The transfers are applied in order, so a later transfer may spend what an earlier one
/// brought in. On success every touched balance is updated and the post-transfer balances
/// are returned, one per transfer; on error `balances` is untouched.
///
/// # Errors
///
/// [`LedgerError::UnknownAccount`], [`LedgerError::CurrencyMismatch`],
/// [`LedgerError::InsufficientFunds`] or [`LedgerError::Overflow`] for the first transfer
/// that cannot be applied.
pub fn apply(
    batch: &TransferBatch,
    balances: &mut impl Balances,
) -> Result<Vec<PostedBalances>, LedgerError> {
    let mut overlay: HashMap<&AccountId, AccountState> = HashMap::new();
    let mut posted = Vec::with_capacity(batch.transfers().len());
    for transfer in batch.transfers() {
        let current = |account: &AccountId| -> Result<AccountState, LedgerError> {
            let state = match overlay.get(account) {
                Some(state) => *state,
                None => balances
                    .state(account)
                    .ok_or_else(|| LedgerError::UnknownAccount {
                        account: account.clone(),
                    })?,
            };
            if state.currency != transfer.currency {
                return Err(LedgerError::CurrencyMismatch {
                    transfer: transfer.id.clone(),
                    account: account.clone(),
                    account_currency: state.currency,
                    transfer_currency: transfer.currency,
                });
            }
            Ok(state)
        };
        let mut from = current(&transfer.from)?;
        let mut to = current(&transfer.to)?;
        let overflow = |account: &AccountId| LedgerError::Overflow {
            transfer: transfer.id.clone(),
            account: account.clone(),
        };
        let from_after = from
            .balance_minor
            .checked_sub(transfer.amount_minor)
            .ok_or_else(|| overflow(&transfer.from))?;
        if let Some(floor_minor) = from.floor_minor
            && from_after < floor_minor
        {
            return Err(LedgerError::InsufficientFunds {
                transfer: transfer.id.clone(),
                account: transfer.from.clone(),
                balance_minor: from.balance_minor,
                amount_minor: transfer.amount_minor,
                floor_minor,
            });
        }
        let to_after = to
            .balance_minor
            .checked_add(transfer.amount_minor)
            .ok_or_else(|| overflow(&transfer.to))?;
        from.balance_minor = from_after;
        to.balance_minor = to_after;
        overlay.insert(&transfer.from, from);
        overlay.insert(&transfer.to, to);
        posted.push(PostedBalances {
            from_after_minor: from_after,
            to_after_minor: to_after,
        });
    }
    for (account, state) in overlay {
        balances.set_balance(account, state.balance_minor);
    }
    Ok(posted)
}

/// What a batch is, given what the store already holds under its ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replay {
    /// None of its ids is known: apply it.
    Fresh,
    /// Every id is known with the same content: answer with the stored transfers and
    /// change nothing.
    Replayed(Vec<Transfer>),
}

/// Decides whether a batch is new or a replay. `stored[i]` is what the store holds under
/// the id of the batch's `i`-th transfer.
///
/// # Errors
///
/// [`LedgerError::IdReused`] when an id is known with different content, or when only
/// part of the batch is known (a batch is applied whole, so a partial match cannot be
/// the same batch).
pub fn classify_replay(
    batch: &TransferBatch,
    stored: &[Option<Transfer>],
) -> Result<Replay, LedgerError> {
    debug_assert_eq!(batch.transfers().len(), stored.len());
    if stored.iter().all(Option::is_none) {
        return Ok(Replay::Fresh);
    }
    let mut replayed = Vec::with_capacity(stored.len());
    for (request, stored) in batch.transfers().iter().zip(stored) {
        match stored {
            Some(stored) if request.is_same_as(stored) => replayed.push(stored.clone()),
            _ => {
                return Err(LedgerError::IdReused {
                    transfer: request.id.clone(),
                });
            }
        }
    }
    Ok(Replay::Replayed(replayed))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use plaza_kernel::id::TransferId;

    use super::*;
    use crate::model::NewTransfer;

    fn account(id: &str) -> AccountId {
        AccountId::parse(id).unwrap()
    }

    fn transfer(id: &str, from: &str, to: &str, amount_minor: i64) -> NewTransfer {
        NewTransfer {
            id: TransferId::parse(id).unwrap(),
            from: account(from),
            to: account(to),
            amount_minor,
            currency: Currency::CNY,
            memo: String::new(),
        }
    }

    fn book() -> HashMap<AccountId, AccountState> {
        let state = |floor_minor, balance_minor| AccountState {
            currency: Currency::CNY,
            floor_minor,
            balance_minor,
        };
        HashMap::from([
            (account("bank"), state(None, 0)),
            (account("alice"), state(Some(0), 0)),
            (account("bob"), state(Some(0), 0)),
        ])
    }

    #[test]
    fn a_batch_may_spend_what_an_earlier_transfer_brought_in() {
        let mut balances = book();
        let batch = TransferBatch::new(vec![
            transfer("t1", "bank", "alice", 500),
            transfer("t2", "alice", "bob", 300),
        ])
        .unwrap();
        let posted = apply(&batch, &mut balances).unwrap();
        assert_eq!(
            posted,
            vec![
                PostedBalances {
                    from_after_minor: -500,
                    to_after_minor: 500
                },
                PostedBalances {
                    from_after_minor: 200,
                    to_after_minor: 300
                },
            ]
        );
        assert_eq!(balances[&account("alice")].balance_minor, 200);
        assert_eq!(balances[&account("bank")].balance_minor, -500);
    }

    #[test]
    fn a_batch_with_one_bad_transfer_changes_nothing() {
        let mut balances = book();
        let before = balances.clone();
        let batch = TransferBatch::new(vec![
            transfer("t1", "bank", "alice", 500),
            transfer("t2", "alice", "bob", 501),
        ])
        .unwrap();
        let error = apply(&batch, &mut balances).unwrap_err();
        assert!(matches!(
            error,
            LedgerError::InsufficientFunds {
                balance_minor: 500,
                amount_minor: 501,
                ..
            }
        ));
        assert_eq!(balances, before);
    }

    #[test]
    fn unknown_accounts_and_foreign_currencies_are_refused() {
        let mut balances = book();
        let batch = TransferBatch::single(transfer("t1", "bank", "carol", 1)).unwrap();
        assert_eq!(
            apply(&batch, &mut balances),
            Err(LedgerError::UnknownAccount {
                account: account("carol")
            })
        );
        let mut usd = transfer("t2", "bank", "alice", 1);
        usd.currency = Currency::parse("USD").unwrap();
        let batch = TransferBatch::single(usd).unwrap();
        assert!(matches!(
            apply(&batch, &mut balances),
            Err(LedgerError::CurrencyMismatch { .. })
        ));
    }

    #[test]
    fn malformed_batches_are_refused_before_any_balance_is_read() {
        assert_eq!(TransferBatch::new(vec![]), Err(LedgerError::EmptyBatch));
        assert!(matches!(
            TransferBatch::single(transfer("t", "bank", "alice", 0)),
            Err(LedgerError::AmountNotPositive {
                amount_minor: 0,
                ..
            })
        ));
        assert!(matches!(
            TransferBatch::single(transfer("t", "alice", "alice", 1)),
            Err(LedgerError::SameAccount { .. })
        ));
        assert!(matches!(
            TransferBatch::new(vec![
                transfer("t", "bank", "alice", 1),
                transfer("t", "bank", "bob", 1)
            ]),
            Err(LedgerError::DuplicateInBatch { .. })
        ));
    }

    #[test]
    fn replays_are_recognised_and_partial_or_altered_ones_refused() {
        let batch = TransferBatch::new(vec![
            transfer("t1", "bank", "alice", 5),
            transfer("t2", "bank", "bob", 5),
        ])
        .unwrap();
        let stored = |request: &NewTransfer| Transfer {
            seq: 1,
            id: request.id.clone(),
            from: request.from.clone(),
            to: request.to.clone(),
            amount_minor: request.amount_minor,
            currency: request.currency,
            memo: request.memo.clone(),
            from_balance_after_minor: 0,
            to_balance_after_minor: 0,
            committed_at: plaza_kernel::clock::Timestamp::from_unix_ms(0),
        };
        let both: Vec<_> = batch.transfers().iter().map(|t| Some(stored(t))).collect();
        assert!(matches!(
            classify_replay(&batch, &both),
            Ok(Replay::Replayed(transfers)) if transfers.len() == 2
        ));
        assert_eq!(classify_replay(&batch, &[None, None]), Ok(Replay::Fresh));
        assert!(matches!(
            classify_replay(&batch, &[both[0].clone(), None]),
            Err(LedgerError::IdReused { .. })
        ));
        let mut altered = both;
        if let Some(transfer) = altered[1].as_mut() {
            transfer.amount_minor = 6;
        }
        assert!(matches!(
            classify_replay(&batch, &altered),
            Err(LedgerError::IdReused { .. })
        ));
    }
}
