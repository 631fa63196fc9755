//! Soundness checks over stored balances: what `plaza admin verify-ledger` reports.

use std::collections::BTreeMap;

use plaza_kernel::id::AccountId;
use plaza_kernel::money::Currency;

/// One account as the auditor sees it: the stored balance next to the balance recomputed
/// from every transfer that touched it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountAudit {
    /// The account.
    pub id: AccountId,
    /// Its currency.
    pub currency: Currency,
    /// Its floor.
    pub floor_minor: Option<i64>,
    /// The balance the store keeps.
    pub stored_balance_minor: i64,
    /// Money in minus money out, over all its transfers.
    pub recomputed_balance_minor: i64,
    /// Transfers touching it in another currency (always 0 in a sound ledger).
    pub foreign_currency_transfers_count: u64,
}

/// Something wrong in the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// The stored balance is not what the transfers add up to.
    BalanceMismatch {
        /// The account.
        account: AccountId,
        /// What the store says.
        stored_minor: i64,
        /// What the transfers say.
        recomputed_minor: i64,
    },
    /// A balance below its floor.
    BelowFloor {
        /// The account.
        account: AccountId,
        /// Its balance.
        balance_minor: i64,
        /// Its floor.
        floor_minor: i64,
    },
    /// Transfers in a currency the account does not hold.
    ForeignCurrency {
        /// The account.
        account: AccountId,
        /// How many.
        transfers_count: u64,
    },
    /// The balances of one currency do not sum to zero.
    CurrencyNotBalanced {
        /// The currency.
        currency: Currency,
        /// The sum of its balances.
        sum_minor: i128,
    },
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BalanceMismatch {
                account,
                stored_minor,
                recomputed_minor,
            } => write!(
                f,
                "account {account}: stored balance {stored_minor} but its transfers sum to {recomputed_minor}"
            ),
            Self::BelowFloor {
                account,
                balance_minor,
                floor_minor,
            } => write!(
                f,
                "account {account}: balance {balance_minor} is below its floor {floor_minor}"
            ),
            Self::ForeignCurrency {
                account,
                transfers_count,
            } => write!(
                f,
                "account {account}: {transfers_count} transfers in a currency it does not hold"
            ),
            Self::CurrencyNotBalanced {
                currency,
                sum_minor,
            } => write!(f, "currency {currency}: balances sum to {sum_minor}, not 0"),
        }
    }
}

/// The outcome of an audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// How many accounts were checked.
    pub accounts_count: usize,
    /// Per currency, the total of all positive balances (the money held in Plaza).
    pub held_minor_by_currency: BTreeMap<Currency, i128>,
    /// Everything found wrong; empty when the ledger is sound.
    pub violations: Vec<Violation>,
}

impl VerifyReport {
    /// Whether the ledger is sound.
    pub fn is_sound(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Checks that every stored balance equals its recomputation, no balance is below its
/// floor, no account has foreign-currency transfers, and each currency sums to zero.
pub fn verify(audits: &[AccountAudit]) -> VerifyReport {
    let mut violations = Vec::new();
    let mut sum_by_currency: BTreeMap<Currency, i128> = BTreeMap::new();
    let mut held_by_currency: BTreeMap<Currency, i128> = BTreeMap::new();
    for audit in audits {
        if audit.stored_balance_minor != audit.recomputed_balance_minor {
            violations.push(Violation::BalanceMismatch {
                account: audit.id.clone(),
                stored_minor: audit.stored_balance_minor,
                recomputed_minor: audit.recomputed_balance_minor,
            });
        }
        if let Some(floor_minor) = audit.floor_minor
            && audit.stored_balance_minor < floor_minor
        {
            violations.push(Violation::BelowFloor {
                account: audit.id.clone(),
                balance_minor: audit.stored_balance_minor,
                floor_minor,
            });
        }
        if audit.foreign_currency_transfers_count > 0 {
            violations.push(Violation::ForeignCurrency {
                account: audit.id.clone(),
                transfers_count: audit.foreign_currency_transfers_count,
            });
        }
        *sum_by_currency.entry(audit.currency).or_default() +=
            i128::from(audit.stored_balance_minor);
        *held_by_currency.entry(audit.currency).or_default() +=
            i128::from(audit.stored_balance_minor.max(0));
    }
    for (currency, sum_minor) in sum_by_currency {
        if sum_minor != 0 {
            violations.push(Violation::CurrencyNotBalanced {
                currency,
                sum_minor,
            });
        }
    }
    VerifyReport {
        accounts_count: audits.len(),
        held_minor_by_currency: held_by_currency,
        violations,
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

    fn audit(id: &str, floor_minor: Option<i64>, stored: i64, recomputed: i64) -> AccountAudit {
        AccountAudit {
            id: AccountId::parse(id).unwrap(),
            currency: Currency::CNY,
            floor_minor,
            stored_balance_minor: stored,
            recomputed_balance_minor: recomputed,
            foreign_currency_transfers_count: 0,
        }
    }

    #[test]
    fn a_sound_ledger_has_no_violations() {
        let report = verify(&[
            audit("bank", None, -100, -100),
            audit("a", Some(0), 100, 100),
        ]);
        assert!(report.is_sound());
        assert_eq!(report.held_minor_by_currency[&Currency::CNY], 100);
    }

    #[test]
    fn each_kind_of_damage_is_named() {
        let report = verify(&[
            audit("bank", None, -100, -100),
            audit("a", Some(0), -5, 100),
        ]);
        assert_eq!(report.violations.len(), 3, "{:?}", report.violations);
        let text: Vec<String> = report.violations.iter().map(ToString::to_string).collect();
        assert!(text[0].contains("stored balance -5 but its transfers sum to 100"));
        assert!(text[1].contains("below its floor 0"));
        assert!(text[2].contains("CNY: balances sum to -105"));
    }
}
