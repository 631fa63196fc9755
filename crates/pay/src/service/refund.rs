//! Refunds: checked against the order, then one unit of work that returns the money —
//! from the merchant's day before settlement, from its available balance after, from
//! the frozen account while profit sharing holds it; the fee in proportion; a hook's
//! discount share to its funder — with the refund's record, its notification and event.

use plaza_kernel::clock::Timestamp;
use plaza_kernel::queue::NewEvent;
use plaza_kernel::record::{Expect, IndexEntry, RecordWrite};
use plaza_ledger::{LedgerError, NewTransfer, WriteSet};
use serde::Serialize;

use super::checks::{check_merchant_no, check_notify_url};
use super::notifications::new_notification;
use super::orders::order_write;
use super::{
    CONFLICT_RETRIES_MAX, PayService, batch, check_text, event_payload, is_insufficient,
    request_digest, transfer,
};
use crate::accounts::{self, AccountSpec};
use crate::error::PayError;
use crate::hooks::{FailedRefund, RefundShare};
use crate::ids;
use crate::model::{
    FundsAccount, NotificationSubject, Order, Refund, RefundStatus, TradeState, order_key,
    refund_key,
};
use crate::money::{self, RefundBase, RefundSplit, check_amount};
use crate::store::{self, decode, index, kind, load};
use crate::time::Day;

/// Refunds one order may have.
pub const REFUNDS_PER_ORDER_MAX: u32 = 50;

/// A refund request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundRequest {
    /// The merchant (the signer).
    pub mchid: String,
    /// The order, by the merchant's number …
    pub out_trade_no: Option<String>,
    /// … or by its transaction id.
    pub transaction_id: Option<String>,
    /// The merchant's refund number.
    pub out_refund_no: String,
    /// Why.
    pub reason: Option<String>,
    /// Where `REFUND.SUCCESS` goes.
    pub notify_url: Option<String>,
    /// To refund, fen.
    pub refund_minor: i64,
    /// The order's total, fen, as the merchant believes it.
    pub total_minor: i64,
    /// `CNY`.
    pub currency: String,
    /// Partner refunds: the service provider asking for the sub-merchant `mchid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sp_mchid: Option<String>,
}

/// What a paid order's refund needs to know of its payment.
struct Payment {
    transaction_id: String,
    success_time: Timestamp,
    payer: String,
}

/// Where one refund's money comes from and goes to.
struct RefundSources {
    /// The merchant's money: its day, its available balance, or the frozen account.
    net: AccountSpec,
    /// The fee: held for the day, or the platform's once settled.
    fee: AccountSpec,
    /// As the refund reports it.
    funds_account: FundsAccount,
    /// The payer's wallet.
    wallet: AccountSpec,
    /// The paid day was settled.
    settled: bool,
    /// Profit sharing still holds the merchant's money.
    frozen: bool,
}

impl PayService {
    /// Refunds (part of) a paid order, idempotent on `out_refund_no`.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`], [`PayError::RefundOrderNotFound`],
    /// [`PayError::InvalidRequest`] (over the refundable amount, total mismatch, reused
    /// `out_refund_no`), [`PayError::MerchantBalanceNotEnough`].
    pub async fn refund(&self, request: RefundRequest) -> Result<Refund, PayError> {
        check_refund(&request)?;
        if let Some(url) = &request.notify_url {
            self.outbound.check_url("/notify_url", url)?;
        }
        let digest = request_digest(&request)?;
        let key = refund_key(&request.mchid, &request.out_refund_no);
        for _ in 0..CONFLICT_RETRIES_MAX {
            if let Some((existing, _)) = load::<Refund>(&*self.records, kind::REFUND, &key).await? {
                return if existing.request_digest == digest {
                    Ok(existing)
                } else {
                    Err(PayError::rule(format!(
                        "out_refund_no {} was already used for a different refund",
                        request.out_refund_no
                    )))
                };
            }
            let (order, order_version) = self.order_to_refund(&request).await?;
            match self
                .commit_refund(&request, &digest, order, order_version, false)
                .await
            {
                Err(PayError::Busy { .. }) => {}
                other => return other,
            }
        }
        Err(PayError::Busy {
            what: "refund".to_owned(),
        })
    }

    /// The order a refund request names, with its version: by number or transaction id
    /// (both given: they must name the same order), placed by the same provider if any.
    async fn order_to_refund(&self, request: &RefundRequest) -> Result<(Order, u64), PayError> {
        let found = match (&request.out_trade_no, &request.transaction_id) {
            (Some(out_trade_no), _) => {
                let key = order_key(&request.mchid, out_trade_no);
                load::<Order>(&*self.records, kind::ORDER, &key).await?
            }
            (None, Some(transaction_id)) => {
                let mut found = None;
                for record in self
                    .records
                    .find(kind::ORDER, index::TRANSACTION_ID, transaction_id, 4)
                    .await?
                {
                    let order: Order = decode(&record)?;
                    if order.mchid == request.mchid {
                        found = Some((order, record.version));
                    }
                }
                found
            }
            (None, None) => None,
        };
        let Some((order, order_version)) = found else {
            return Err(PayError::RefundOrderNotFound);
        };
        if order.sp_mchid != request.sp_mchid {
            return Err(PayError::RefundOrderNotFound);
        }
        if let Some(transaction_id) = &request.transaction_id
            && order.transaction_id.as_ref() != Some(transaction_id)
        {
            return Err(PayError::RefundOrderNotFound);
        }
        Ok((order, order_version))
    }

    /// Refunds `request.refund_minor` of a paid order; with `revoke`, the order ends
    /// `REVOKED` (a reversed payment-code order) instead of `REFUND`, and no hook may
    /// make it fail.
    pub(crate) async fn commit_refund(
        &self,
        request: &RefundRequest,
        digest: &str,
        mut order: Order,
        order_version: u64,
        revoke: bool,
    ) -> Result<Refund, PayError> {
        let payment = check_refundable(request, &order)?;
        let now = self.now();
        if !revoke && let Some(failure) = self.failed_refund(&order) {
            return self
                .refund_failed(request, digest, &order, failure, now)
                .await;
        }
        let share = self.refund_share(&order)?;
        let refunded_after = money::add(
            order.refunded_minor,
            request.refund_minor,
            "the order's refunded amount",
        )?;
        let split =
            money::refund_split(&refund_base(&order, share.as_ref()), request.refund_minor)?;
        let sources = self.refund_sources(&order, &payment).await?;
        let refund = new_refund(request, digest, &order, &payment, &split, &sources, now);
        let transfers = self
            .refund_transfers(&refund, &split, &sources, share.as_ref())
            .await?;
        order.state = if revoke {
            TradeState::Revoked
        } else {
            TradeState::Refund
        };
        order.refunded_minor = refunded_after;
        order.fee_refunded_minor += split.fee_refund_minor;
        order.refund_count += 1;
        let write = refund_write_set(&order, order_version, &refund, transfers, now)?;
        self.commit_refunded(refund, write, &sources).await
    }

    /// Whether a hook makes a refund of `order` fail (the first that says so decides).
    fn failed_refund(&self, order: &Order) -> Option<FailedRefund> {
        self.hooks().find_map(|hook| hook.refund_attempt(order))
    }

    /// The hooks' share of a refund of `order`: at most one, as a payment has at most
    /// one discount.
    fn refund_share(&self, order: &Order) -> Result<Option<RefundShare>, PayError> {
        let mut shares = Vec::new();
        for hook in self.hooks() {
            shares.extend(hook.refund(order)?);
        }
        let first = shares.pop();
        if !shares.is_empty() {
            return Err(PayError::Unavailable {
                reason: "two hooks share one refund; a payment has one discount".to_owned(),
            });
        }
        Ok(first)
    }

    /// Where a refund of `order` takes the money from (opened here), as the paid day's
    /// settlement and profit sharing stand now.
    async fn refund_sources(
        &self,
        order: &Order,
        payment: &Payment,
    ) -> Result<RefundSources, PayError> {
        let paid_day = Day::of(payment.success_time);
        let settled = self.settlement(&order.mchid, paid_day).await?.is_some();
        let frozen = order.profit_sharing && !order.sharing_finished;
        let (net, fee, funds_account) = if frozen {
            (
                accounts::frozen(&order.mchid, &payment.transaction_id)?,
                if settled {
                    accounts::platform_fees()?
                } else {
                    accounts::fee_held(&order.mchid, paid_day)?
                },
                FundsAccount::Unsettled,
            )
        } else if settled {
            (
                accounts::available(&order.mchid)?,
                accounts::platform_fees()?,
                FundsAccount::Available,
            )
        } else {
            (
                accounts::pending(&order.mchid, paid_day)?,
                accounts::fee_held(&order.mchid, paid_day)?,
                FundsAccount::Unsettled,
            )
        };
        let wallet = accounts::wallet(&payment.payer)?;
        self.open(&net).await?;
        self.open(&fee).await?;
        Ok(RefundSources {
            net,
            fee,
            funds_account,
            wallet,
            settled,
            frozen,
        })
    }

    /// The refund's transfers: the merchant's money and the fee back to the payer, then a
    /// discount's share to its funder (opened here when it gets anything).
    async fn refund_transfers(
        &self,
        refund: &Refund,
        split: &RefundSplit,
        sources: &RefundSources,
        share: Option<&RefundShare>,
    ) -> Result<Vec<NewTransfer>, PayError> {
        let to_funder = split.net_to_funder_minor + split.fee_to_funder_minor;
        let funder = match share {
            Some(share) if to_funder > 0 => {
                self.open(&share.funder.account).await?;
                Some(&share.funder)
            }
            _ => None,
        };
        let mut moves = vec![
            (
                "net".to_owned(),
                &sources.net.0,
                &sources.wallet.0,
                split.net_to_payer_minor,
            ),
            (
                "fee".to_owned(),
                &sources.fee.0,
                &sources.wallet.0,
                split.fee_to_payer_minor,
            ),
        ];
        if let Some(funder) = funder {
            let (name, to) = (funder.name, &funder.account.0);
            moves.push((
                format!("{name}-net"),
                &sources.net.0,
                to,
                split.net_to_funder_minor,
            ));
            moves.push((
                format!("{name}-fee"),
                &sources.fee.0,
                to,
                split.fee_to_funder_minor,
            ));
        }
        let memo = format!("refund {} {}", refund.mchid, refund.out_refund_no);
        let mut transfers = Vec::new();
        for (part, from, to, amount) in moves {
            if amount > 0 {
                let id = format!("refund:{}:{part}", refund.refund_id);
                transfers.push(transfer(id, from, to, amount, &memo)?);
            }
        }
        Ok(transfers)
    }

    /// Commits a refund's unit of work. A merchant short of money (once settled, or while
    /// frozen) is [`PayError::MerchantBalanceNotEnough`]; a day settled between the read
    /// and the commit is `Busy` (read again).
    async fn commit_refunded(
        &self,
        refund: Refund,
        write: WriteSet,
        sources: &RefundSources,
    ) -> Result<Refund, PayError> {
        match self.commit_write(write).await {
            Ok(()) => Ok(refund),
            Err(LedgerError::RecordConflict { .. }) => Err(PayError::Busy {
                what: "refund".to_owned(),
            }),
            Err(error)
                if is_insufficient(&error, &sources.net.0)
                    && (sources.settled || sources.frozen) =>
            {
                Err(PayError::MerchantBalanceNotEnough)
            }
            // Settlement ran between the check and the commit: read again.
            Err(error)
                if is_insufficient(&error, &sources.net.0)
                    || is_insufficient(&error, &sources.fee.0) =>
            {
                Err(PayError::Busy {
                    what: "refund".to_owned(),
                })
            }
            Err(error) => Err(error.into()),
        }
    }

    /// A refund a hook made fail: `NOT_ENOUGH` refuses it; `ABNORMAL` records it as
    /// failed, moves no money, leaves the order as it was and sends `REFUND.ABNORMAL`.
    async fn refund_failed(
        &self,
        request: &RefundRequest,
        digest: &str,
        order: &Order,
        failure: FailedRefund,
        now: Timestamp,
    ) -> Result<Refund, PayError> {
        if failure == FailedRefund::NotEnough {
            return Err(PayError::MerchantBalanceNotEnough);
        }
        let refund = abnormal_refund(request, digest, order, now);
        let mut records = vec![refund_write(&refund)?];
        let mut jobs = Vec::new();
        if let Some(url) = &refund.notify_url {
            let subject = NotificationSubject::RefundAbnormal {
                refund: Box::new(refund.clone()),
                order: Box::new(order.clone()),
            };
            let (record, job) = new_notification(order.notified_mchid(), url, subject, now)?;
            records.push(record);
            jobs.push(job);
        }
        let write = WriteSet {
            records,
            jobs,
            ..WriteSet::default()
        };
        if self.try_commit_write(write).await? {
            Ok(refund)
        } else {
            Err(PayError::Busy {
                what: "refund".to_owned(),
            })
        }
    }

    /// A merchant's refund by its number.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn refund_of(
        &self,
        mchid: &str,
        out_refund_no: &str,
    ) -> Result<Option<Refund>, PayError> {
        Ok(load::<Refund>(
            &*self.records,
            kind::REFUND,
            &refund_key(mchid, out_refund_no),
        )
        .await?
        .map(|(refund, _)| refund))
    }
}

/// Whether `order` can be refunded as `request` asks: paid, the total as the merchant
/// believes it, within what is left, under the number of refunds one order may have.
fn check_refundable(request: &RefundRequest, order: &Order) -> Result<Payment, PayError> {
    if !matches!(order.state, TradeState::Success | TradeState::Refund) {
        return Err(PayError::RefundOrderNotFound);
    }
    let (Some(transaction_id), Some(success_time), Some(payer)) = (
        order.transaction_id.clone(),
        order.success_time,
        order.payer_user_id.clone(),
    ) else {
        return Err(PayError::RefundOrderNotFound);
    };
    if request.total_minor != order.total_minor {
        return Err(PayError::rule(format!(
            "amount.total {} does not match the order's total {}",
            request.total_minor, order.total_minor
        )));
    }
    if request.refund_minor > order.refundable_minor() {
        return Err(PayError::rule(format!(
            "amount.refund {} is more than the {} fen left to refund",
            request.refund_minor,
            order.refundable_minor()
        )));
    }
    if order.refund_count >= REFUNDS_PER_ORDER_MAX {
        return Err(PayError::rule(format!(
            "an order can have at most {REFUNDS_PER_ORDER_MAX} refunds"
        )));
    }
    Ok(Payment {
        transaction_id,
        success_time,
        payer,
    })
}

/// What a refund split needs of the order (and of a discount the merchant gave).
fn refund_base(order: &Order, share: Option<&RefundShare>) -> RefundBase {
    RefundBase {
        total_minor: order.total_minor,
        payer_total_minor: order.payer_total_minor,
        fee_minor: order.fee_minor,
        refunded_minor: order.refunded_minor,
        fee_refunded_minor: order.fee_refunded_minor,
        no_cash: share.is_some_and(|share| share.merchant_gave),
    }
}

/// The refund record of a refund that succeeds now.
fn new_refund(
    request: &RefundRequest,
    digest: &str,
    order: &Order,
    payment: &Payment,
    split: &RefundSplit,
    sources: &RefundSources,
    now: Timestamp,
) -> Refund {
    Refund {
        mchid: order.mchid.clone(),
        out_refund_no: request.out_refund_no.clone(),
        refund_id: ids::new_refund_id(now),
        out_trade_no: order.out_trade_no.clone(),
        transaction_id: payment.transaction_id.clone(),
        reason: request.reason.clone(),
        notify_url: request.notify_url.clone(),
        refund_minor: request.refund_minor,
        total_minor: order.total_minor,
        fee_refund_minor: split.fee_refund_minor,
        funds_account: sources.funds_account,
        status: RefundStatus::Success,
        request_digest: digest.to_owned(),
        created_at: now,
        success_time: Some(now),
        sp_mchid: order.sp_mchid.clone(),
        payer_refund_minor: split.cash_minor,
        discount_refund_minor: split.coupon_minor,
        payer_total_minor: order.payer_total_minor,
    }
}

/// The refund record of a refund that failed at the payer's bank: nothing moved.
fn abnormal_refund(request: &RefundRequest, digest: &str, order: &Order, now: Timestamp) -> Refund {
    Refund {
        mchid: order.mchid.clone(),
        out_refund_no: request.out_refund_no.clone(),
        refund_id: ids::new_refund_id(now),
        out_trade_no: order.out_trade_no.clone(),
        transaction_id: order.transaction_id.clone().unwrap_or_default(),
        reason: request.reason.clone(),
        notify_url: request.notify_url.clone(),
        refund_minor: request.refund_minor,
        total_minor: order.total_minor,
        fee_refund_minor: 0,
        funds_account: FundsAccount::Unsettled,
        status: RefundStatus::Abnormal,
        request_digest: digest.to_owned(),
        created_at: now,
        success_time: None,
        sp_mchid: order.sp_mchid.clone(),
        payer_refund_minor: 0,
        discount_refund_minor: 0,
        payer_total_minor: order.payer_total_minor,
    }
}

/// A refund's unit of work: the order (over the version it was read at), the refund,
/// its `REFUND.SUCCESS` notification if it has a URL, and `pay.refund.success`.
fn refund_write_set(
    order: &Order,
    order_version: u64,
    refund: &Refund,
    transfers: Vec<NewTransfer>,
    now: Timestamp,
) -> Result<WriteSet, PayError> {
    let mut records = vec![
        order_write(order, Expect::Version(order_version))?,
        refund_write(refund)?,
    ];
    let mut jobs = Vec::new();
    if let Some(url) = &refund.notify_url {
        let subject = NotificationSubject::RefundSuccess {
            refund: Box::new(refund.clone()),
            order: Box::new(order.clone()),
        };
        let (record, job) = new_notification(order.notified_mchid(), url, subject, now)?;
        records.push(record);
        jobs.push(job);
    }
    Ok(WriteSet {
        batch: batch(transfers)?,
        events: vec![NewEvent {
            topic: "pay.refund.success".to_owned(),
            key: refund_key(&refund.mchid, &refund.out_refund_no),
            payload: event_payload(order)?,
        }],
        jobs,
        records,
    })
}

/// A refund's record.
pub(crate) fn refund_write(refund: &Refund) -> Result<RecordWrite, PayError> {
    let mut entries = vec![
        IndexEntry::new(index::REFUND_ID, refund.refund_id.clone()),
        IndexEntry::new(index::TRANSACTION_ID, refund.transaction_id.clone()),
    ];
    if let Some(success_time) = refund.success_time {
        entries.push(IndexEntry::new(
            index::MERCHANT_DAY,
            format!("{}|{}", refund.mchid, Day::of(success_time).iso()),
        ));
    }
    store::write(
        kind::REFUND,
        &refund_key(&refund.mchid, &refund.out_refund_no),
        Expect::Absent,
        refund,
        entries,
    )
}

fn check_refund(request: &RefundRequest) -> Result<(), PayError> {
    check_merchant_no("/out_refund_no", &request.out_refund_no, 1, 64)?;
    if request.out_trade_no.is_none() && request.transaction_id.is_none() {
        return Err(PayError::invalid(
            "/out_trade_no",
            "give out_trade_no or transaction_id",
        ));
    }
    if let Some(no) = &request.out_trade_no {
        check_merchant_no("/out_trade_no", no, 6, 32)?;
    }
    if let Some(id) = &request.transaction_id {
        check_text("/transaction_id", id, 1, 32)?;
    }
    if let Some(reason) = &request.reason {
        check_text("/reason", reason, 0, 80)?;
    }
    if let Some(url) = &request.notify_url {
        check_notify_url("/notify_url", url)?;
    }
    check_amount("/amount/refund", request.refund_minor)?;
    check_amount("/amount/total", request.total_minor)?;
    if request.currency != "CNY" {
        return Err(PayError::invalid(
            "/amount/currency",
            "only CNY is supported",
        ));
    }
    Ok(())
}
