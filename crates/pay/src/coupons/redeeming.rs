//! Coupons at payment and refund, as the payment hook: the payer's best usable coupon
//! (or the one chosen, or none) is the payment's discount, marked used in the payment's
//! unit of work with `COUPON.USE` for the creator; a refund returns the cash part first,
//! and beyond it the coupon's part goes back to a prepaid stock's creator.

use std::collections::HashMap;

use plaza_kernel::BoxFuture;
use plaza_kernel::clock::Timestamp;
use plaza_kernel::record::{Expect, IndexRange, RecordStore};

use super::stocks::callback_of;
use super::{
    Consumption, Coupon, CouponCallback, CouponChoice, CouponStatus, Coupons, Stock, coupon_write,
};
use crate::accounts;
use crate::error::PayError;
use crate::hooks::{
    Discount, Funder, PaymentDraft, PaymentEffects, PaymentHook, PaymentPart, RefundShare,
};
use crate::model::{AppliedCoupon, NotificationSubject, Order};
use crate::service::{PayService, new_notification};
use crate::store::{self, kind, load};

/// A payer's coupons considered for one payment at most.
const COUPONS_CONSIDERED_MAX: usize = 200;

/// The name a prepaid stock's budget gives its transfers at payment and refund.
const FUNDER_NAME: &str = "coupon";

impl PaymentHook for Coupons {
    fn payment<'a>(
        &'a self,
        draft: PaymentDraft<'a>,
    ) -> BoxFuture<'a, Result<Option<Box<dyn PaymentPart>>, PayError>> {
        Box::pin(async move {
            let records = &*self.records;
            let Some((coupon, stock, version)) = picked(records, draft).await? else {
                return Ok(None);
            };
            let callback = callback_of(records, &stock.creator_mchid)
                .await?
                .filter(|callback| callback.enabled);
            let part: Box<dyn PaymentPart> = Box::new(CouponUse::new(
                coupon,
                stock.creator_mchid,
                version,
                callback,
                draft.now,
            )?);
            Ok(Some(part))
        })
    }

    fn refund(&self, order: &Order) -> Result<Option<RefundShare>, PayError> {
        let Some(coupon) = &order.coupon else {
            return Ok(None);
        };
        Ok(Some(RefundShare {
            merchant_gave: coupon.no_cash,
            funder: Funder {
                account: accounts::available(&coupon.creator_mchid)?,
                name: FUNDER_NAME,
            },
        }))
    }
}

/// A coupon used in one payment.
struct CouponUse {
    coupon: Coupon,
    /// The stock's creator (and funder), who is told of the use.
    creator_mchid: String,
    /// The coupon's record version, checked when it is marked used.
    version: u64,
    /// Where the creator hears of the use, when it wants to.
    callback: Option<CouponCallback>,
    now: Timestamp,
    discount: Discount,
}

impl CouponUse {
    fn new(
        coupon: Coupon,
        creator_mchid: String,
        version: u64,
        callback: Option<CouponCallback>,
        now: Timestamp,
    ) -> Result<Self, PayError> {
        // A 免充值 discount is the merchant's; a prepaid one is paid from the budget.
        let funder = if coupon.no_cash {
            None
        } else {
            Some(Funder {
                account: accounts::coupon_budget(&coupon.stock_id)?,
                name: FUNDER_NAME,
            })
        };
        let discount = Discount {
            amount_minor: coupon.amount_minor,
            merchant_gives: coupon.no_cash,
            funder,
        };
        Ok(Self {
            coupon,
            creator_mchid,
            version,
            callback,
            now,
            discount,
        })
    }
}

impl PaymentPart for CouponUse {
    fn discount(&self) -> Option<&Discount> {
        Some(&self.discount)
    }

    fn write(
        self: Box<Self>,
        order: &mut Order,
        effects: &mut PaymentEffects,
    ) -> Result<(), PayError> {
        let Self {
            mut coupon,
            creator_mchid,
            version,
            callback,
            now,
            ..
        } = *self;
        let transaction_id = order
            .transaction_id
            .clone()
            .ok_or_else(|| PayError::Unavailable {
                reason: "a coupon is used only on a paid order".to_owned(),
            })?;
        order.coupon = Some(AppliedCoupon {
            coupon_id: coupon.coupon_id.clone(),
            stock_id: coupon.stock_id.clone(),
            name: coupon.name.clone(),
            amount_minor: coupon.amount_minor,
            no_cash: coupon.no_cash,
            creator_mchid: creator_mchid.clone(),
        });
        coupon.status = CouponStatus::Used;
        coupon.consumed = Some(Consumption {
            consume_time: now,
            consume_mchid: order.mchid.clone(),
            transaction_id,
            consume_amount_minor: order.total_minor,
        });
        effects
            .records
            .push(coupon_write(&coupon, Expect::Version(version))?);
        if let Some(callback) = callback {
            let subject = NotificationSubject::CouponUse {
                coupon: Box::new(coupon),
            };
            let notification =
                new_notification(&creator_mchid, &callback.notify_url, subject, now)?;
            effects.notifications.push(notification);
        }
        Ok(())
    }
}

impl PayService {
    /// The payer's coupons usable on `order` now, best first (the largest discount; the
    /// soonest to expire first), with their stocks.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn usable_coupons(
        &self,
        user_id: &str,
        order: &Order,
        now: Timestamp,
    ) -> Result<Vec<(Coupon, Stock)>, PayError> {
        usable(&*self.records_port(), user_id, order, now).await
    }

    /// A user's coupons, newest first.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn coupons_of(
        &self,
        user_id: &str,
        rows_max: usize,
    ) -> Result<Vec<Coupon>, PayError> {
        coupons_of(&*self.records_port(), user_id, rows_max).await
    }

    /// One coupon by id.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn coupon(&self, coupon_id: &str) -> Result<Option<Coupon>, PayError> {
        Ok(
            load::<Coupon>(&*self.records_port(), kind::COUPON, coupon_id)
                .await?
                .map(|(coupon, _)| coupon),
        )
    }
}

/// The coupon a payment uses, as the payer chose, with its stock and record version.
async fn picked(
    records: &dyn RecordStore,
    draft: PaymentDraft<'_>,
) -> Result<Option<(Coupon, Stock, u64)>, PayError> {
    let (user_id, order, now) = (draft.payer_user_id, draft.order, draft.now);
    let picked = match draft.choice {
        CouponChoice::None => return Ok(None),
        CouponChoice::Best => usable(records, user_id, order, now)
            .await?
            .into_iter()
            .next(),
        CouponChoice::This(id) => {
            let found = usable(records, user_id, order, now)
                .await?
                .into_iter()
                .find(|(coupon, _)| coupon.coupon_id == *id);
            if found.is_none() {
                return Err(PayError::rule(format!(
                    "coupon {id} cannot be used on this order (its merchant, threshold, goods or window do not match, or it was used)"
                )));
            }
            found
        }
    };
    let Some((coupon, stock)) = picked else {
        return Ok(None);
    };
    let version = load::<Coupon>(records, kind::COUPON, &coupon.coupon_id)
        .await?
        .map_or(0, |(_, version)| version);
    Ok(Some((coupon, stock, version)))
}

/// A user's coupons usable on `order` at `now`, best first, with their stocks.
async fn usable(
    records: &dyn RecordStore,
    user_id: &str,
    order: &Order,
    now: Timestamp,
) -> Result<Vec<(Coupon, Stock)>, PayError> {
    let mut stocks: HashMap<String, Option<Stock>> = HashMap::new();
    let mut usable = Vec::new();
    for coupon in coupons_of(records, user_id, COUPONS_CONSIDERED_MAX).await? {
        if coupon.status != CouponStatus::Sended {
            continue;
        }
        if !stocks.contains_key(&coupon.stock_id) {
            let stock = load::<Stock>(records, kind::STOCK, &coupon.stock_id)
                .await?
                .map(|(stock, _)| stock);
            stocks.insert(coupon.stock_id.clone(), stock);
        }
        let Some(Some(stock)) = stocks.get(&coupon.stock_id) else {
            continue;
        };
        if fits(&coupon, stock, order, now) {
            usable.push((coupon, stock.clone()));
        }
    }
    usable.sort_by_key(|(coupon, _)| {
        (
            std::cmp::Reverse(coupon.amount_minor),
            coupon.available_end,
            coupon.coupon_id.clone(),
        )
    });
    Ok(usable)
}

/// Whether an issued coupon of `stock` applies to `order` at `now`: in its window, below
/// the total, the threshold met, at a merchant and with goods the stock allows.
fn fits(coupon: &Coupon, stock: &Stock, order: &Order, now: Timestamp) -> bool {
    now >= coupon.available_begin
        && now < coupon.available_end
        && coupon.amount_minor < order.total_minor
        && order.total_minor >= coupon.transaction_minimum_minor
        && stock.available_merchants.contains(&order.mchid)
        && (stock.goods_tags.is_empty()
            || order
                .goods_tag
                .as_ref()
                .is_some_and(|tag| stock.goods_tags.contains(tag)))
}

/// A user's coupons, newest first.
async fn coupons_of(
    records: &dyn RecordStore,
    user_id: &str,
    rows_max: usize,
) -> Result<Vec<Coupon>, PayError> {
    let found = records
        .range(IndexRange {
            kind: kind::COUPON.to_owned(),
            name: "user_created".to_owned(),
            from: format!("{user_id}|"),
            to: format!("{user_id}|~"),
            after: None,
            rows_max,
            newest_first: true,
        })
        .await?;
    found
        .iter()
        .map(|found| store::decode(&found.record))
        .collect()
}
