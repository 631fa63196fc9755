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
}
