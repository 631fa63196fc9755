//! Paying an order: who may pay it and the payment password, then one unit of work that
//! moves the money, marks the order paid, and carries the hooks' parts (a coupon), the
//! settlement job, the notifications and the outbox event.

use std::sync::Arc;

use plaza_kernel::clock::Timestamp;
use plaza_kernel::queue::NewEvent;
use plaza_kernel::record::{Expect, RecordWrite};
use plaza_ledger::{LedgerError, NewTransfer, WriteSet};

use super::identity::openid_write;
use super::notifications::new_notification;
use super::orders::{OrderRef, order_write};
use super::settlement::settle_job_for;
use super::{CONFLICT_RETRIES_MAX, PayService, batch, event_payload, is_insufficient, transfer};
use crate::accounts::{self, AccountSpec};
use crate::error::PayError;
use crate::hooks::{Discount, FailedAttempt, PaymentDraft, PaymentEffects, PaymentPart};
use crate::ids;
use crate::model::{CouponChoice, NotificationSubject, Order, TradeState};
use crate::money::{self, PaymentSplit};
use crate::time::Day;

/// The payer's openids under an order's app and, for a partner order, its `sub_appid`.
pub(crate) type PayerOpenids = (String, Option<String>);

/// Where one payment's money goes, named before it is split.
struct PaymentLegs {
    /// Who pays.
    payer: String,
    /// When.
    now: Timestamp,
    /// The day the merchant's money and fee are held for.
    day: Day,
    /// The payer's wallet.
    wallet: AccountSpec,
    /// The payment's new transaction id.
    transaction_id: String,
    /// The merchant's day (or, for profit sharing, the order's frozen account).
    pending: AccountSpec,
    /// The fee held back until settlement.
    fee_held: AccountSpec,
    /// The transfers' memo.
    memo: String,
}

impl PayService {
    /// A payer pays an order with the payment password.
    ///
    /// # Errors
    ///
    /// [`PayError::OrderNotFound`], [`PayError::NotPayable`], [`PayError::NotThePayer`],
    /// [`PayError::WrongPassword`], [`PayError::PasswordLocked`],
    /// [`PayError::WalletBalanceNotEnough`] (the order stays payable).
    pub async fn pay(
        &self,
        user_id: &str,
        reference: &OrderRef,
        password: &str,
    ) -> Result<Order, PayError> {
        self.pay_with(user_id, reference, password, &CouponChoice::Best)
            .await
    }

    /// A payer pays an order with the payment password, using the coupon `choice`
    /// names (the best usable one, none, or a given one).
    ///
    /// # Errors
    ///
    /// As [`PayService::pay`], and [`PayError::InvalidRequest`] for a chosen coupon
    /// that does not apply.
    pub async fn pay_with(
        &self,
        user_id: &str,
        reference: &OrderRef,
        password: &str,
        choice: &CouponChoice,
    ) -> Result<Order, PayError> {
        let mut verified_hash: Option<String> = None;
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (order, order_version) = self.order_for_payer(user_id, reference).await?;
            let (user, user_version) = self.user_versioned(user_id).await?;
            let now = self.now();
            check_payable(&order, user_id, now)?;
            let openids = self.payer_openids(&order, user_id);
            check_payer_named(&order, &openids)?;
            let checked = self
                .check_payment_password((&user, user_version), password, &mut verified_hash, now)
                .await?;
            if !checked {
                continue;
            }
            if let Some(failure) = self.failed_attempt(&order) {
                match self
                    .fail_attempt(order, order_version, failure, user_id)
                    .await
                {
                    Err(PayError::Busy { .. }) => continue,
                    Ok(answer) | Err(answer) => return Err(answer),
                }
            }
            let user_write = self
                .user_after_right_password(&user, user_version, password)
                .await?;
            let expect = Expect::Version(order_version);
            let paid = self
                .commit_payment(order, expect, user_id, openids, user_write, (now, choice))
                .await;
            match paid {
                Err(PayError::Busy { .. }) => {}
                other => return other,
            }
        }
        Err(PayError::Busy {
            what: "order".to_owned(),
        })
    }

    /// Payments from now on, as they commit.
    pub fn subscribe_payments(&self) -> tokio::sync::broadcast::Receiver<Arc<Order>> {
        self.payments.subscribe()
    }

    /// The payer's openids under the order's apps.
    pub(crate) fn payer_openids(&self, order: &Order, user_id: &str) -> PayerOpenids {
        let openid = self.openid(&order.appid, user_id);
        let sub_openid = order
            .sub_appid
            .as_ref()
            .map(|sub_appid| self.openid(sub_appid, user_id));
        (openid, sub_openid)
    }

    /// Whether a hook makes an attempt to pay `order` fail on purpose (the first that
    /// says so decides).
    pub(crate) fn failed_attempt(&self, order: &Order) -> Option<FailedAttempt> {
        self.hooks().find_map(|hook| hook.payment_attempt(order))
    }

    /// Applies a failed attempt to `order` (read at `version`): `PAYERROR` ends the
    /// order, `NOT_ENOUGH` leaves it payable. Answers the error to give `payer`, or
    /// `Busy` when the order changed meanwhile.
    pub(crate) async fn fail_attempt(
        &self,
        mut order: Order,
        version: u64,
        failure: FailedAttempt,
        payer: &str,
    ) -> Result<PayError, PayError> {
        if failure == FailedAttempt::NotEnough {
            return Ok(PayError::WalletBalanceNotEnough {
                balance_minor: self.wallet_balance(payer).await?,
                needed_minor: order.total_minor,
            });
        }
        order.state = TradeState::Payerror;
        let write = order_write(&order, Expect::Version(version))?;
        if self.try_commit_records(vec![write]).await? {
            Ok(PayError::PaymentFailed {
                out_trade_no: order.out_trade_no,
            })
        } else {
            Err(PayError::Busy {
                what: "order".to_owned(),
            })
        }
    }

    /// Pays `order` from the user's wallet, with `extra` records in the same unit of
    /// work; `Busy` when a record changed meanwhile.
    pub(crate) async fn commit_payment(
        &self,
        mut order: Order,
        order_expect: Expect,
        user_id: &str,
        openids: PayerOpenids,
        extra: Vec<RecordWrite>,
        (now, choice): (Timestamp, &CouponChoice),
    ) -> Result<Order, PayError> {
        let merchant = self.existing_merchant(&order.mchid).await?;
        let legs = self.payment_legs(&order, user_id, now).await?;
        let draft = PaymentDraft {
            order: &order,
            payer_user_id: user_id,
            choice,
            now,
        };
        let parts = self.payment_parts(draft).await?;
        let discount = only_discount(&parts)?;
        let split = money::payment_split(
            order.total_minor,
            discount.map_or(0, |discount| discount.amount_minor),
            discount.is_some_and(|discount| discount.merchant_gives),
            merchant.fee_rate_bps,
        )?;
        let mut effects = PaymentEffects {
            transfers: self.payment_transfers(&legs, &split, discount).await?,
            ..PaymentEffects::default()
        };
        legs.mark_paid(&mut order, openids, &split);
        for part in parts {
            part.write(&mut order, &mut effects)?;
        }
        let write = legs.write_set(&order, order_expect, extra, effects)?;
        self.commit_paid(order, write, &legs.wallet).await
    }

    /// Names (and opens) the accounts a payment of `order` by `user_id` moves money
    /// between, with the payment's new transaction id.
    async fn payment_legs(
        &self,
        order: &Order,
        user_id: &str,
        now: Timestamp,
    ) -> Result<PaymentLegs, PayError> {
        let day = Day::of(now);
        let wallet = accounts::wallet(user_id)?;
        let transaction_id = ids::new_transaction_id(now);
        // A profit-sharing order's share stays frozen (per order) until it is split.
        let pending = if order.profit_sharing {
            accounts::frozen(&order.mchid, &transaction_id)?
        } else {
            accounts::pending(&order.mchid, day)?
        };
        let fee_held = accounts::fee_held(&order.mchid, day)?;
        self.open(&wallet).await?;
        self.open(&pending).await?;
        self.open(&fee_held).await?;
        Ok(PaymentLegs {
            payer: user_id.to_owned(),
            now,
            day,
            wallet,
            memo: format!("pay {} {}", order.mchid, order.out_trade_no),
            transaction_id,
            pending,
            fee_held,
        })
    }

    /// Each hook's part in a payment, in hook order.
    async fn payment_parts(
        &self,
        draft: PaymentDraft<'_>,
    ) -> Result<Vec<Box<dyn PaymentPart>>, PayError> {
        let mut parts = Vec::new();
        for hook in self.hooks() {
            if let Some(part) = hook.payment(draft).await? {
                parts.push(part);
            }
        }
        Ok(parts)
    }

    /// The payment's transfers: from the wallet to the merchant and the fee, then from a
    /// discount's funder (opened here) for what the payer does not pay.
    async fn payment_transfers(
        &self,
        legs: &PaymentLegs,
        split: &PaymentSplit,
        discount: Option<&Discount>,
    ) -> Result<Vec<NewTransfer>, PayError> {
        let funder = discount.and_then(|discount| discount.funder.as_ref());
        if let Some(funder) = funder {
            self.open(&funder.account).await?;
        }
        let mut transfers = Vec::new();
        let wallet = (&legs.wallet.0, "wallet");
        let parts = (split.wallet_net_minor, split.wallet_fee_minor);
        legs.push_pair(&mut transfers, wallet, parts)?;
        if let Some(funder) = funder {
            let from = (&funder.account.0, funder.name);
            let parts = (split.budget_net_minor, split.budget_fee_minor);
            legs.push_pair(&mut transfers, from, parts)?;
        }
        Ok(transfers)
    }

    /// Commits a payment's unit of work and tells live listeners; a short wallet is
    /// [`PayError::WalletBalanceNotEnough`] and nothing is written.
    async fn commit_paid(
        &self,
        order: Order,
        write: WriteSet,
        wallet: &AccountSpec,
    ) -> Result<Order, PayError> {
        match self.commit_write(write).await {
            Ok(()) => {
                // Nobody listening is not an error.
                let _ = self.payments.send(Arc::new(order.clone()));
                Ok(order)
            }
            Err(LedgerError::RecordConflict { .. }) => Err(PayError::Busy {
                what: "order".to_owned(),
            }),
            Err(error) if is_insufficient(&error, &wallet.0) => {
                Err(PayError::WalletBalanceNotEnough {
                    balance_minor: self.balance_of(&wallet.0).await?,
                    needed_minor: order.payer_total_minor,
                })
            }
            Err(error) => Err(error.into()),
        }
    }
}

impl PaymentLegs {
    /// Pushes the net and fee transfers of one source, `name`d in their ids.
    fn push_pair(
        &self,
        transfers: &mut Vec<NewTransfer>,
        (from, name): (&plaza_kernel::id::AccountId, &str),
        (net_minor, fee_minor): (i64, i64),
    ) -> Result<(), PayError> {
        let transaction_id = &self.transaction_id;
        if net_minor > 0 {
            transfers.push(transfer(
                format!("pay:{transaction_id}:{name}:net"),
                from,
                &self.pending.0,
                net_minor,
                &self.memo,
            )?);
        }
        if fee_minor > 0 {
            transfers.push(transfer(
                format!("pay:{transaction_id}:{name}:fee"),
                from,
                &self.fee_held.0,
                fee_minor,
                &self.memo,
            )?);
        }
        Ok(())
    }

    /// Marks `order` paid by these legs' payer.
    fn mark_paid(
        &self,
        order: &mut Order,
        (openid, sub_openid): PayerOpenids,
        split: &PaymentSplit,
    ) {
        order.state = TradeState::Success;
        order.transaction_id = Some(self.transaction_id.clone());
        order.success_time = Some(self.now);
        order.payer_user_id = Some(self.payer.clone());
        order.paid_openid = Some(openid);
        order.paid_sub_openid = sub_openid;
        order.payer_total_minor = split.payer_total_minor;
        order.fee_minor = split.fee_minor;
    }

    /// The payment's unit of work: the paid order, `extra` and the hooks' records, the
    /// payer's openid, the day's settlement job, the hooks' notifications and then the
    /// merchant's `TRANSACTION.SUCCESS`, and `pay.transaction.success`.
    fn write_set(
        &self,
        order: &Order,
        order_expect: Expect,
        extra: Vec<RecordWrite>,
        effects: PaymentEffects,
    ) -> Result<WriteSet, PayError> {
        let mut records = vec![order_write(order, order_expect)?];
        records.extend(extra);
        records.extend(effects.records);
        if let Some(openid) = &order.paid_openid {
            records.push(openid_write(&order.appid, openid, &self.payer)?);
        }
        let mut jobs = vec![settle_job_for(&order.mchid, self.day)?];
        for (record, job) in effects.notifications {
            records.push(record);
            jobs.push(job);
        }
        if !order.notify_url.is_empty() {
            let subject = NotificationSubject::TransactionSuccess {
                order: Box::new(order.clone()),
            };
            let (record, job) =
                new_notification(order.notified_mchid(), &order.notify_url, subject, self.now)?;
            records.push(record);
            jobs.push(job);
        }
        let mut events = vec![NewEvent {
            topic: "pay.transaction.success".to_owned(),
            key: order.key(),
            payload: event_payload(order)?,
        }];
        events.extend(effects.events);
        Ok(WriteSet {
            batch: batch(effects.transfers)?,
            events,
            jobs,
            records,
        })
    }
}

/// The one discount the parts give, if any: a payment splits one discount.
fn only_discount(parts: &[Box<dyn PaymentPart>]) -> Result<Option<&Discount>, PayError> {
    let mut discounts = parts.iter().filter_map(|part| part.discount());
    let first = discounts.next();
    if discounts.next().is_some() {
        return Err(PayError::Unavailable {
            reason: "two hooks discount one payment; a payment splits one discount".to_owned(),
        });
    }
    Ok(first)
}

/// Whether `user_id` may pay `order` now: a `USERPAYING` order only by its payer, and
/// only an open order before its deadline.
fn check_payable(order: &Order, user_id: &str, now: Timestamp) -> Result<(), PayError> {
    if order.state == TradeState::Userpaying && order.payer_user_id.as_deref() != Some(user_id) {
        return Err(PayError::NotThePayer);
    }
    let open = matches!(order.state, TradeState::Notpay | TradeState::Userpaying);
    if open && now < order.time_expire {
        return Ok(());
    }
    let state = if open {
        TradeState::Closed
    } else {
        order.state
    };
    Err(PayError::NotPayable {
        out_trade_no: order.out_trade_no.clone(),
        state: state.wire(),
    })
}

/// Whether the payer is the one the order names by openid, if it names one.
fn check_payer_named(order: &Order, (openid, sub_openid): &PayerOpenids) -> Result<(), PayError> {
    let other_payer = order
        .payer_openid
        .as_ref()
        .is_some_and(|payer| payer != openid)
        || order
            .payer_sub_openid
            .as_ref()
            .is_some_and(|payer| Some(payer) != sub_openid.as_ref());
    if other_payer {
        Err(PayError::NotThePayer)
    } else {
        Ok(())
    }
}
