//! What can go wrong in the payment domain. The `api` crate maps each to WeChat's codes
//! on the compatible surface and to Plaza's on its own.

use plaza_kernel::clock::Timestamp;
use plaza_kernel::record::RecordError;
use plaza_ledger::LedgerError;

/// A payment-domain failure. Nothing was changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayError {
    /// A field is missing, malformed or out of range.
    #[error("{field}: {issue}")]
    Invalid {
        /// JSON-pointer-like path, e.g. `/amount/total`.
        field: String,
        /// What is wrong, for a developer.
        issue: String,
    },
    /// No merchant with this mchid.
    #[error("merchant {mchid} does not exist")]
    MerchantNotFound {
        /// The mchid asked for.
        mchid: String,
    },
    /// No app with this appid.
    #[error("app {appid} does not exist")]
    AppNotFound {
        /// The appid asked for.
        appid: String,
    },
    /// The appid is not bound to the merchant.
    #[error("appid {appid} is not bound to merchant {mchid}")]
    AppidMchidNotMatch {
        /// The appid.
        appid: String,
        /// The merchant.
        mchid: String,
    },
    /// The out_trade_no was used before with different content.
    #[error("out_trade_no {out_trade_no} was already used for a different order")]
    OutTradeNoUsed {
        /// The merchant's order number.
        out_trade_no: String,
    },
    /// The order is paid.
    #[error("order {out_trade_no} is already paid")]
    OrderPaid {
        /// The merchant's order number.
        out_trade_no: String,
    },
    /// The order is closed.
    #[error("order {out_trade_no} is closed")]
    OrderClosed {
        /// The merchant's order number.
        out_trade_no: String,
    },
    /// No such order (for this merchant).
    #[error("the order does not exist")]
    OrderNotFound,
    /// No such refund.
    #[error("the refund does not exist")]
    RefundNotFound,
    /// A refund of an order that does not exist or is not paid.
    #[error("the order to refund does not exist or is not paid")]
    RefundOrderNotFound,
    /// Valid in form, refused by a business rule (refund over what is left, …).
    #[error("{reason}")]
    InvalidRequest {
        /// Which rule, for a developer.
        reason: String,
    },
    /// The merchant's balance cannot cover a refund.
    #[error("the merchant's balance cannot cover this refund")]
    MerchantBalanceNotEnough,
    /// The payer's wallet cannot cover the payment.
    #[error(
        "余额不足 Balance ¥{}, this payment needs ¥{}",
        yuan(*.balance_minor),
        yuan(*.needed_minor)
    )]
    WalletBalanceNotEnough {
        /// What the wallet holds.
        balance_minor: i64,
        /// What the order needs.
        needed_minor: i64,
    },
    /// A wrong payment password.
    #[error(
        "支付密码错误 Wrong payment password; {} before paying is locked",
        tries_left(*.attempts_left)
    )]
    WrongPassword {
        /// Tries left before the lock.
        attempts_left: u32,
    },
    /// Too many wrong passwords.
    #[error(
        "支付已锁定 Too many wrong passwords; paying is locked until {} China time",
        crate::time::bill_time(*.until)
    )]
    PasswordLocked {
        /// When paying is possible again.
        until: Timestamp,
    },
    /// The payment failed (a sandbox script made it so); the order is `PAYERROR`.
    #[error("the payment of order {out_trade_no} failed (sandbox script)")]
    PaymentFailed {
        /// The merchant's order number.
        out_trade_no: String,
    },
    /// A JSAPI order made out to another payer.
    #[error("不是你的订单 This order is for another payer")]
    NotThePayer,
    /// The order cannot be paid any more (closed, expired or paid).
    #[error("订单无法支付 This order can no longer be paid: {}", end_state(.state))]
    NotPayable {
        /// The merchant's order number.
        out_trade_no: String,
        /// Its state, wire spelling.
        state: &'static str,
    },
    /// The caller may not act for this merchant: a provider naming a sub-merchant that
    /// is not its own, or a provider or sub-merchant using the direct-merchant API.
    #[error("{reason}")]
    NoAuth {
        /// Why, for a developer.
        reason: String,
    },
    /// A payment code that is not 18 digits starting 10–15.
    #[error("auth_code {issue}")]
    AuthCodeMalformed {
        /// What is wrong with it.
        issue: String,
    },
    /// A payment code nobody was shown, or one already used.
    #[error("the payment code is not valid (unknown, or already used)")]
    AuthCodeInvalid,
    /// A payment code past its minute.
    #[error("the payment code has expired; ask the payer to refresh it")]
    AuthCodeExpired,
    /// The order was reversed.
    #[error("order {out_trade_no} was reversed")]
    OrderReversed {
        /// The merchant's order number.
        out_trade_no: String,
    },
    /// No such coupon stock (for this creator).
    #[error("stock {stock_id} does not exist")]
    StockNotFound {
        /// The stock asked for.
        stock_id: String,
    },
    /// The stock does not allow this now (not running, paused, outside its window).
    #[error("{reason}")]
    StockNotActive {
        /// Why, for a developer.
        reason: String,
    },
    /// The stock has issued all it may (in all, or today).
    #[error("券已领完 All coupons of stock {stock_id} have been given out")]
    StockExhausted {
        /// The stock.
        stock_id: String,
    },
    /// The user already holds as many coupons of the stock as one user may.
    #[error("已领取 You already hold {}", coupons(*.limit))]
    CouponLimitPerUser {
        /// The stock's per-user limit.
        limit: u64,
    },
    /// No such user.
    #[error("user {user_id} does not exist")]
    UserNotFound {
        /// The user asked for.
        user_id: String,
    },
    /// No such session, or one that ended (signed out, idle too long, too old).
    #[error("the session token is unknown or its session has ended")]
    SessionUnknown,
    /// A record kept changing under concurrent writers; the caller may retry.
    #[error("too many concurrent changes to {what}; retry")]
    Busy {
        /// Which entity.
        what: String,
    },
    /// A sum or product of money does not fit in the range Plaza computes in (a bug, or
    /// data written before amounts were bounded); nothing was written.
    #[error("{what} is beyond the largest amount Plaza can compute")]
    AmountOverflow {
        /// Which figure.
        what: String,
    },
    /// A balance would leave the range the ledger keeps (`i64` fen); nothing moved.
    #[error("the balance of account {account} would exceed the largest balance the ledger keeps")]
    BalanceOverflow {
        /// The account.
        account: String,
    },
    /// Storage failed. The reason is for the log.
    #[error("the payment store failed: {reason}")]
    Unavailable {
        /// What went wrong.
        reason: String,
    },
}

/// `12.34` from 1234 fen, for messages people read.
fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    format!("{sign}{}.{:02}", fen / 100, fen % 100)
}

/// "1 try left", "2 tries left".
fn tries_left(count: u32) -> String {
    if count == 1 {
        "1 try left".to_owned()
    } else {
        format!("{count} tries left")
    }
}

/// "the one coupon", "the 3 coupons" a user may hold of a stock.
fn coupons(limit: u64) -> String {
    if limit == 1 {
        "this coupon; one per person".to_owned()
    } else {
        format!("{limit} of these coupons, the most one person may claim")
    }
}

/// What a payer reads for an order that can no longer be paid, from its wire state.
fn end_state(state: &str) -> &'static str {
    match state {
        "SUCCESS" | "REFUND" => "已支付 it is already paid",
        "REVOKED" => "已撤销 it was cancelled",
        "PAYERROR" => "支付失败 its payment failed",
        _ => "已关闭 it is closed",
    }
}

impl PayError {
    /// An [`PayError::Invalid`] for `field`.
    pub fn invalid(field: &str, issue: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            issue: issue.into(),
        }
    }

    /// A business-rule refusal.
    pub fn rule(reason: impl Into<String>) -> Self {
        Self::InvalidRequest {
            reason: reason.into(),
        }
    }
}

impl From<RecordError> for PayError {
    fn from(error: RecordError) -> Self {
        Self::Unavailable {
            reason: error.to_string(),
        }
    }
}

impl From<LedgerError> for PayError {
    fn from(error: LedgerError) -> Self {
        // Callers translate the ledger errors they expect (insufficient funds, record
        // conflicts); an overflowing balance is the caller's to hear about; anything else
        // reaching here is the store's or a bug's.
        match error {
            LedgerError::Overflow { account, .. } => Self::BalanceOverflow {
                account: account.to_string(),
            },
            other => Self::Unavailable {
                reason: other.to_string(),
            },
        }
    }
}

impl From<plaza_identity::IdentityError> for PayError {
    fn from(error: plaza_identity::IdentityError) -> Self {
        use plaza_identity::IdentityError;
        match error {
            IdentityError::Invalid { field, problem } => PayError::Invalid {
                field,
                issue: problem,
            },
            IdentityError::UserNotFound { user_id } => PayError::UserNotFound { user_id },
            IdentityError::SessionUnknown => PayError::SessionUnknown,
            IdentityError::Busy { what } => PayError::Busy { what },
            IdentityError::Unavailable { reason } => PayError::Unavailable { reason },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payers_read_yuan_local_time_and_plurals() {
        let short = PayError::WalletBalanceNotEnough {
            balance_minor: 5_000,
            needed_minor: 8_000,
        };
        assert_eq!(
            short.to_string(),
            "余额不足 Balance ¥50.00, this payment needs ¥80.00"
        );
        let one = PayError::WrongPassword { attempts_left: 1 }.to_string();
        assert!(one.contains("1 try left"), "{one}");
        let two = PayError::WrongPassword { attempts_left: 2 }.to_string();
        assert!(two.contains("2 tries left"), "{two}");
        // 2026-12-01T08:45:00Z is 16:45 in China.
        let locked = PayError::PasswordLocked {
            until: Timestamp::from_unix_ms(1_796_114_700_000),
        }
        .to_string();
        assert!(
            locked.contains("2026-12-01 16:45:00 China time"),
            "{locked}"
        );
        assert!(!locked.contains("ms"), "{locked}");
        let paid = PayError::NotPayable {
            out_trade_no: "A1".to_owned(),
            state: "SUCCESS",
        };
        assert!(paid.to_string().contains("已支付"), "{paid}");
    }
}
