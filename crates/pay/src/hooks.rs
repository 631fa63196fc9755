//! How features plug into the payment core: the [`PaymentHook`] trait, and what a hook
//! and the core hand each other.
//!
//! The core (the `service` module) decides payments and refunds; a hook takes part in
//! them from inside their unit of work. Coupons are a hook (a discount at payment, its
//! funder's share of a refund, the coupon's record and `COUPON.USE` written with the
//! payment), and so is the sandbox (a merchant's script shapes new orders and makes
//! payment attempts and refunds fail on purpose). The core knows this trait, not them,
//! so the next feature that changes a payment is one more hook, not more core.
//!
//! Hooks are called in the order they were installed. At most one hook discounts one
//! payment (a payment splits one discount, see [`crate::money::payment_split`]).

use std::any::Any;

use plaza_kernel::BoxFuture;
use plaza_kernel::clock::Timestamp;
use plaza_kernel::queue::{NewEvent, NewJob};
use plaza_kernel::record::RecordWrite;
use plaza_ledger::NewTransfer;

use crate::accounts::AccountSpec;
use crate::error::PayError;
use crate::model::{CouponChoice, Order};

/// A payment attempt a hook makes fail on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailedAttempt {
    /// Refused for want of balance: nothing is written and the order stays payable.
    NotEnough,
    /// The payment fails: the order ends `PAYERROR` and nothing is paid.
    Payerror,
}

/// A refund a hook makes end otherwise than with the money back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailedRefund {
    /// Refused with `NOT_ENOUGH`: nothing is written.
    NotEnough,
    /// Accepted and recorded `ABNORMAL`: no money moves and `REFUND.ABNORMAL` is sent.
    Abnormal,
}

/// Who pays for a discount the merchant does not give, and the name its transfers carry
/// (`pay:<transaction_id>:<name>:net` at payment, `refund:<refund_id>:<name>-net` back).
#[derive(Debug, Clone)]
pub(crate) struct Funder {
    /// The account the discount is paid from, and refunded to.
    pub(crate) account: AccountSpec,
    /// The transfers' name part.
    pub(crate) name: &'static str,
}

/// A discount off an order's total at payment: the payer pays that much less.
#[derive(Debug, Clone)]
pub(crate) struct Discount {
    /// Off the total, fen.
    pub(crate) amount_minor: i64,
    /// 免充值: the merchant gives the discount (it is simply paid that much less, and its
    /// fee is on what it gets) instead of a funder paying it.
    pub(crate) merchant_gives: bool,
    /// Pays the merchant the discount (the fee first from the payer's part), unless the
    /// merchant gives it.
    pub(crate) funder: Option<Funder>,
}

/// What a hook sees of a payment about to be decided.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PaymentDraft<'a> {
    /// The order, unpaid.
    pub(crate) order: &'a Order,
    /// Who pays.
    pub(crate) payer_user_id: &'a str,
    /// The payer's coupon choice.
    pub(crate) choice: &'a CouponChoice,
    /// The payment's time.
    pub(crate) now: Timestamp,
}

/// What hooks add to a payment's unit of work, beside the core's own: transfers after the
/// core's, records after the order's (and the caller's), notifications before the
/// order's own `TRANSACTION.SUCCESS`, events after `pay.transaction.success`.
#[derive(Debug, Default)]
pub(crate) struct PaymentEffects {
    /// Money moved with the payment.
    pub(crate) transfers: Vec<NewTransfer>,
    /// Records written with the payment (each checked as its write says).
    pub(crate) records: Vec<RecordWrite>,
    /// Notifications sent about the payment: each record and its delivery job.
    pub(crate) notifications: Vec<(RecordWrite, NewJob)>,
    /// Outbox events.
    pub(crate) events: Vec<NewEvent>,
}

/// One hook's part in one payment, decided (with whatever it read) before the money is
/// split, and written into the payment's unit of work once the core has marked the order
/// paid.
pub(crate) trait PaymentPart: Send {
    /// The discount it gives, if any.
    fn discount(&self) -> Option<&Discount>;

    /// Adds its effects; `order` is paid (transaction id, time, amounts) and is written
    /// after this, so what the part sets on it is kept.
    ///
    /// # Errors
    ///
    /// A record that cannot be encoded: the payment is not made.
    fn write(
        self: Box<Self>,
        order: &mut Order,
        effects: &mut PaymentEffects,
    ) -> Result<(), PayError>;
}

/// A discount given at payment whose share of a refund goes back to its funder (cash
/// first: the payer's part is refunded before any of the discount's).
#[derive(Debug, Clone)]
pub(crate) struct RefundShare {
    /// 免充值: the merchant gave the discount, so no money of it was paid to the merchant.
    pub(crate) merchant_gave: bool,
    /// Where the discount's share (and its fee) goes back.
    pub(crate) funder: Funder,
}

/// A feature that takes part in orders, payments and refunds. Every method has a default
/// that takes no part.
pub(crate) trait PaymentHook: Any + Send + Sync {
    /// Shapes a new order before it is first written, adding jobs to its unit of work.
    fn order_created(&self, _order: &mut Order, _jobs: &mut Vec<NewJob>) {}

    /// Whether an attempt to pay `order` (the payer's password already checked) fails on
    /// purpose.
    fn payment_attempt(&self, _order: &Order) -> Option<FailedAttempt> {
        None
    }

    /// The hook's part in a payment, if it takes one.
    fn payment<'a>(
        &'a self,
        _draft: PaymentDraft<'a>,
    ) -> BoxFuture<'a, Result<Option<Box<dyn PaymentPart>>, PayError>> {
        Box::pin(async { Ok(None) })
    }

    /// Whether a refund of `order` (checked against the order already) ends otherwise
    /// than with the money back.
    fn refund_attempt(&self, _order: &Order) -> Option<FailedRefund> {
        None
    }

    /// The hook's share of a refund of `order`, if it has one.
    ///
    /// # Errors
    ///
    /// Only on a bug (an account that cannot be named).
    fn refund(&self, _order: &Order) -> Result<Option<RefundShare>, PayError> {
        Ok(None)
    }
}
