//! Ledger values and the ledger's errors.

use std::fmt;

use plaza_kernel::clock::Timestamp;
use plaza_kernel::id::{AccountId, TransferId};
use plaza_kernel::limits::{BATCH_TRANSFERS_MAX, MEMO_BYTES_MAX};
use plaza_kernel::money::Currency;

/// What an account is for. The kind sets the default balance floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// A user's wallet.
    Wallet,
    /// A merchant's money not yet settled.
    MerchantPending,
    /// A merchant's settled money.
    MerchantAvailable,
    /// Money held back (frozen for profit sharing, disputes).
    Frozen,
    /// The platform's fee income.
    Fee,
    /// A coupon stock's budget.
    CouponBudget,
    /// Money owed to the platform (e.g. Pay Score arrears); may go negative.
    Receivable,
    /// The outside world (a bank): money enters and leaves through it; may go negative.
    External,
}

impl AccountKind {
    /// Every kind, for listings and tests.
    pub const ALL: [AccountKind; 8] = [
        Self::Wallet,
        Self::MerchantPending,
        Self::MerchantAvailable,
        Self::Frozen,
        Self::Fee,
        Self::CouponBudget,
        Self::Receivable,
        Self::External,
    ];

    /// The stored and wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wallet => "wallet",
            Self::MerchantPending => "merchant_pending",
            Self::MerchantAvailable => "merchant_available",
            Self::Frozen => "frozen",
            Self::Fee => "fee",
            Self::CouponBudget => "coupon_budget",
            Self::Receivable => "receivable",
            Self::External => "external",
        }
    }

    /// Reads the stored and wire spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// The floor an account of this kind gets unless its creator says otherwise:
    /// `None` (no floor) for external and receivable accounts, zero for the rest.
    pub fn default_floor_minor(self) -> Option<i64> {
        match self {
            Self::External | Self::Receivable => None,
            _ => Some(0),
        }
    }
}

impl fmt::Display for AccountKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request to open an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    /// The caller's name for it.
    pub id: AccountId,
    /// What it is for.
    pub kind: AccountKind,
    /// Its one currency.
    pub currency: Currency,
    /// The lowest balance it may ever have; `None` means no floor.
    pub floor_minor: Option<i64>,
}

impl NewAccount {
    /// An account with its kind's default floor.
    pub fn new(id: AccountId, kind: AccountKind, currency: Currency) -> Self {
        Self {
            id,
            kind,
            currency,
            floor_minor: kind.default_floor_minor(),
        }
    }
}

/// An account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its name.
    pub id: AccountId,
    /// What it is for.
    pub kind: AccountKind,
    /// Its one currency.
    pub currency: Currency,
    /// Its floor; `None` means no floor.
    pub floor_minor: Option<i64>,
    /// Its balance, in minor units.
    pub balance_minor: i64,
    /// When it was opened.
    pub created_at: Timestamp,
}

/// A request to move money, identified by a caller-chosen id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTransfer {
    /// The idempotency key: the same id is applied at most once.
    pub id: TransferId,
    /// Where the money comes from.
    pub from: AccountId,
    /// Where it goes.
    pub to: AccountId,
    /// How much, in minor units; always positive.
    pub amount_minor: i64,
    /// Its currency, which both accounts must hold.
    pub currency: Currency,
    /// Free text for statements, at most [`MEMO_BYTES_MAX`] bytes.
    pub memo: String,
}

impl NewTransfer {
    /// Whether `stored` is this very request, already applied.
    pub fn is_same_as(&self, stored: &Transfer) -> bool {
        self.id == stored.id
            && self.from == stored.from
            && self.to == stored.to
            && self.amount_minor == stored.amount_minor
            && self.currency == stored.currency
            && self.memo == stored.memo
    }
}

/// A transfer as stored: the request plus where it landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Its position in the ledger: strictly increasing in commit order.
    pub seq: i64,
    /// The caller's id.
    pub id: TransferId,
    /// Where the money came from.
    pub from: AccountId,
    /// Where it went.
    pub to: AccountId,
    /// How much.
    pub amount_minor: i64,
    /// Its currency.
    pub currency: Currency,
    /// Free text.
    pub memo: String,
    /// `from`'s balance right after this transfer.
    pub from_balance_after_minor: i64,
    /// `to`'s balance right after this transfer.
    pub to_balance_after_minor: i64,
    /// When it was committed, by the injected clock.
    pub committed_at: Timestamp,
}

/// Transfers applied all together or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferBatch(Vec<NewTransfer>);

impl TransferBatch {
    /// Checks the shape of a batch: 1 to [`BATCH_TRANSFERS_MAX`] transfers, ids unique,
    /// positive amounts, two different accounts, memos within their limit. Whether the
    /// accounts exist and hold the money is decided later, by [`crate::apply`].
    ///
    /// # Errors
    ///
    /// The [`LedgerError`] naming the first transfer that breaks a rule.
    pub fn new(transfers: Vec<NewTransfer>) -> Result<Self, LedgerError> {
        if transfers.is_empty() {
            return Err(LedgerError::EmptyBatch);
        }
        if transfers.len() > BATCH_TRANSFERS_MAX {
            return Err(LedgerError::BatchTooLarge {
                len: transfers.len(),
                max: BATCH_TRANSFERS_MAX,
            });
        }
        for (index, transfer) in transfers.iter().enumerate() {
            if transfer.amount_minor <= 0 {
                return Err(LedgerError::AmountNotPositive {
                    transfer: transfer.id.clone(),
                    amount_minor: transfer.amount_minor,
                });
            }
            if transfer.from == transfer.to {
                return Err(LedgerError::SameAccount {
                    transfer: transfer.id.clone(),
                });
            }
            if transfer.memo.len() > MEMO_BYTES_MAX {
                return Err(LedgerError::MemoTooLong {
                    transfer: transfer.id.clone(),
                    max_bytes: MEMO_BYTES_MAX,
                });
            }
            if transfers[..index]
                .iter()
                .any(|earlier| earlier.id == transfer.id)
            {
                return Err(LedgerError::DuplicateInBatch {
                    transfer: transfer.id.clone(),
                });
            }
        }
        Ok(Self(transfers))
    }

    /// A batch of one.
    ///
    /// # Errors
    ///
    /// As [`TransferBatch::new`].
    pub fn single(transfer: NewTransfer) -> Result<Self, LedgerError> {
        Self::new(vec![transfer])
    }

    /// The transfers, in order.
    pub fn transfers(&self) -> &[NewTransfer] {
        &self.0
    }

    /// Gives the transfers back.
    pub fn into_transfers(self) -> Vec<NewTransfer> {
        self.0
    }
}

/// One page of an account's history, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    /// The transfers on this page.
    pub transfers: Vec<Transfer>,
    /// Pass this as `before_seq` to get the next (older) page; `None` on the last page.
    pub next_before_seq: Option<i64>,
}

/// Why the ledger refused, or could not do, what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// A batch with nothing in it.
    #[error("a batch must hold at least one transfer")]
    EmptyBatch,
    /// A batch over the limit.
    #[error("a batch holds at most {max} transfers, this one has {len}")]
    BatchTooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Zero or negative amount.
    #[error("transfer {transfer}: amount must be positive, got {amount_minor}")]
    AmountNotPositive {
        /// The transfer.
        transfer: TransferId,
        /// The refused amount.
        amount_minor: i64,
    },
    /// From and to are the same account.
    #[error("transfer {transfer}: from and to are the same account")]
    SameAccount {
        /// The transfer.
        transfer: TransferId,
    },
    /// Memo over the limit.
    #[error("transfer {transfer}: memo is longer than {max_bytes} bytes")]
    MemoTooLong {
        /// The transfer.
        transfer: TransferId,
        /// The limit.
        max_bytes: usize,
    },
    /// Two transfers in one batch share an id.
    #[error("transfer {transfer}: the id appears twice in one batch")]
    DuplicateInBatch {
        /// The transfer.
        transfer: TransferId,
    },
    /// An account that does not exist.
    #[error("account {account} does not exist")]
    UnknownAccount {
        /// The account.
        account: AccountId,
    },
    /// The transfer's currency is not the account's.
    #[error(
        "transfer {transfer}: account {account} holds {account_currency}, not {transfer_currency}"
    )]
    CurrencyMismatch {
        /// The transfer.
        transfer: TransferId,
        /// The account.
        account: AccountId,
        /// What the account holds.
        account_currency: Currency,
        /// What the transfer moves.
        transfer_currency: Currency,
    },
    /// The transfer would take an account below its floor.
    #[error(
        "transfer {transfer}: account {account} has {balance_minor}, and {amount_minor} more out would break its floor of {floor_minor}"
    )]
    InsufficientFunds {
        /// The transfer.
        transfer: TransferId,
        /// The account.
        account: AccountId,
        /// Its balance before the transfer (including earlier transfers of the batch).
        balance_minor: i64,
        /// The amount asked for.
        amount_minor: i64,
        /// Its floor.
        floor_minor: i64,
    },
    /// A balance would leave the range of `i64`.
    #[error("transfer {transfer}: account {account}'s balance would overflow")]
    Overflow {
        /// The transfer.
        transfer: TransferId,
        /// The account.
        account: AccountId,
    },
    /// The id was used before for a different transfer, or a batch partly repeats an
    /// earlier one.
    #[error("transfer {transfer}: this id was already used for a different transfer")]
    IdReused {
        /// The transfer.
        transfer: TransferId,
    },
    /// The account exists with other settings.
    #[error("account {account} already exists with a different kind, currency or floor")]
    AccountConflict {
        /// The account.
        account: AccountId,
    },
    /// An event or job payload over the limit.
    #[error("an event or job payload is {len_bytes} bytes; at most {max_bytes} are allowed")]
    PayloadTooLarge {
        /// Its size.
        len_bytes: usize,
        /// The limit.
        max_bytes: usize,
    },
    /// A record was not at the version the write expected: someone else changed it
    /// first. Nothing was applied; read it again and decide again.
    #[error("record {kind}/{key} changed since it was read")]
    RecordConflict {
        /// The record's kind.
        kind: String,
        /// Its key.
        key: String,
    },
    /// A record over the limits on its body, key or index entries.
    #[error("record {kind}/{key} is too large: {reason}")]
    RecordTooLarge {
        /// The record's kind.
        kind: String,
        /// Its key.
        key: String,
        /// Which limit.
        reason: String,
    },
    /// Storage failed; nothing was applied. The message is for logs, not for callers.
    #[error("the ledger store failed: {reason}")]
    Unavailable {
        /// What went wrong, for the log.
        reason: String,
    },
}

impl LedgerError {
    /// Whether the caller's request was at fault (as opposed to the store).
    pub fn is_caller_error(&self) -> bool {
        !matches!(self, Self::Unavailable { .. })
    }
}
