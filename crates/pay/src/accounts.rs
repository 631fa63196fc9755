//! The ledger accounts the payment domain moves money between, and their names.

use plaza_kernel::id::AccountId;
use plaza_ledger::AccountKind;

use crate::error::PayError;
use crate::time::Day;

/// An account's id and the kind it is opened with.
pub type AccountSpec = (AccountId, AccountKind);

fn account(name: String, kind: AccountKind) -> Result<AccountSpec, PayError> {
    // Names are built from ids Plaza validated or generated, so this fails only on a bug.
    AccountId::parse(&name)
        .map(|id| (id, kind))
        .map_err(|error| PayError::Unavailable {
            reason: format!("account name {name:?}: {error}"),
        })
}

/// Where money enters (sandbox top-ups) and leaves.
pub fn bank() -> Result<AccountSpec, PayError> {
    account("bank:CNY".to_owned(), AccountKind::External)
}

/// The platform's fee income.
pub fn platform_fees() -> Result<AccountSpec, PayError> {
    account("platform:fees".to_owned(), AccountKind::Fee)
}

/// A payer's wallet.
pub fn wallet(user_id: &str) -> Result<AccountSpec, PayError> {
    account(format!("user:{user_id}:wallet"), AccountKind::Wallet)
}

/// A merchant's payments of one day, net of fees, until settled.
pub fn pending(mchid: &str, day: Day) -> Result<AccountSpec, PayError> {
    account(
        format!("mch:{mchid}:pending:{}", day.compact()),
        AccountKind::MerchantPending,
    )
}

/// The fees on a merchant's payments of one day, held until settlement.
pub fn fee_held(mchid: &str, day: Day) -> Result<AccountSpec, PayError> {
    account(
        format!("mch:{mchid}:fee:{}", day.compact()),
        AccountKind::MerchantPending,
    )
}

/// A merchant's settled, available balance (the basic account).
pub fn available(mchid: &str) -> Result<AccountSpec, PayError> {
    account(
        format!("mch:{mchid}:available"),
        AccountKind::MerchantAvailable,
    )
}

/// The merchant's share of one profit-sharing order, frozen until it is split or
/// unfrozen.
pub fn frozen(mchid: &str, transaction_id: &str) -> Result<AccountSpec, PayError> {
    account(
        format!("mch:{mchid}:frozen:{transaction_id}"),
        AccountKind::Frozen,
    )
}

/// A prepaid coupon stock's budget, reserved from its creator when it is created.
pub fn coupon_budget(stock_id: &str) -> Result<AccountSpec, PayError> {
    account(format!("coupon:{stock_id}:budget"), AccountKind::Frozen)
}
