//! What Mini Programs need from other systems, filled by the binary: Pay's merchants.

use plaza_kernel::BoxFuture;

/// Why a merchant cannot take an app's payments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerchantRefusal {
    /// No merchant has this number.
    #[error("no merchant {mchid}")]
    NotFound {
        /// The number asked for.
        mchid: String,
    },
    /// The payment system failed.
    #[error("the payment system is unavailable: {reason}")]
    Unavailable {
        /// What went wrong, for the log.
        reason: String,
    },
}

/// Pay's merchants, as Mini Programs see them.
pub trait Merchants: Send + Sync {
    /// Lets merchant `mchid` take JSAPI payments for `appid` (binding the appid to the
    /// merchant, as WeChat's AppID association does); binding twice changes nothing.
    fn bind(&self, mchid: String, appid: String) -> BoxFuture<'_, Result<(), MerchantRefusal>>;
    /// The ledger account of the merchant's available balance, from which it funds
    /// ads (opened if it was not).
    fn available_account(&self, mchid: String) -> BoxFuture<'_, Result<String, MerchantRefusal>>;
}

/// What `wx.requestPayment` hands the container, with who asks and for which app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    /// The mini program (its appid is the first line of the signed message).
    pub appid: String,
    /// The merchant the mini program is bound to.
    pub mchid: String,
    /// The signed-in user.
    pub user_id: String,
    /// Seconds, as text.
    pub time_stamp: String,
    /// The nonce.
    pub nonce_str: String,
    /// `prepay_id=…`.
    pub package: String,
    /// `RSA`.
    pub sign_type: String,
    /// Base64 RSA-SHA256 over `appId\ntimeStamp\nnonceStr\npackage\n` with the merchant's key.
    pub pay_sign: String,
}

/// The order a checked payment request names, for the checkout sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentSummary {
    /// The order's prepay id (the sheet pays it).
    pub prepay_id: String,
    /// The merchant's name.
    pub merchant_name: String,
    /// The order's description.
    pub description: String,
    /// Its total, fen.
    pub total_minor: i64,
    /// `NOTPAY`, `SUCCESS`, `CLOSED`…
    pub trade_state: String,
}

/// Why a payment request is refused, in `requestPayment:fail …` words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentRefusal {
    /// The request is wrong (bad signature, another merchant's order…).
    #[error("{0}")]
    Invalid(String),
    /// The payment system failed.
    #[error("the payment system is unavailable: {0}")]
    Unavailable(String),
}

/// Checks payment requests, as Pay sees them.
pub trait Payments: Send + Sync {
    /// Checks that `request` is what WeChat would accept: the package names a JSAPI
    /// order of this app and of the bound merchant, made out to this user, and the
    /// signature verifies with one of the merchant's keys.
    fn check(
        &self,
        request: PaymentRequest,
    ) -> BoxFuture<'_, Result<PaymentSummary, PaymentRefusal>>;
}
