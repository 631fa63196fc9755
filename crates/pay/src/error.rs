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
    #[error("the wallet holds {balance_minor} fen; {needed_minor} are needed")]
    WalletBalanceNotEnough {
        /// What the wallet holds.
        balance_minor: i64,
        /// What the order needs.
        needed_minor: i64,
    },
    /// A wrong payment password.
    #[error("wrong payment password; {attempts_left} attempts left before a lock")]
    WrongPassword {
        /// Tries left before the lock.
        attempts_left: u32,
    },
    /// Too many wrong passwords.
    #[error("too many wrong passwords; paying is locked until {until}")]
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
    #[error("this order is for another payer")]
    NotThePayer,
    /// The order cannot be paid any more (closed, expired or paid).
    #[error("order {out_trade_no} cannot be paid: it is {state}")]
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
    #[error("批次已发放完: stock {stock_id} has no coupons left to issue")]
    StockExhausted {
        /// The stock.
        stock_id: String,
    },
    /// The user already holds as many coupons of the stock as one user may.
    #[error("用户已领取过: a user may get {limit} coupon(s) of this stock")]
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
    /// No such session.
    #[error("the session token is unknown")]
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
