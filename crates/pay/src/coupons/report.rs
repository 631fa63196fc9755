//! What stocks did: coupons issued and used, the subsidy, and the spending the coupons
//! drove, gross and net of refunds.

use plaza_kernel::record::IndexRange;

use super::STOCK_COUPONS_PER_PAGE;
use super::Stock;
use crate::error::PayError;
use crate::model::{Consumption, Coupon, Order};
use crate::service::PayService;
use crate::store::{self, kind};

/// What a stock (or all of a funder's stocks) did: the "coupons drove X of spending"
/// figures, from the coupons and the orders they were used on — gross (as paid) and net of
/// refunds (a refund undoes the coupon's part once the payer's cash part is back).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CouponNumbers {
    /// Coupons issued.
    pub issued: u64,
    /// Coupons used in a payment.
    pub redeemed: u64,
    /// Of those, coupons whose order was refunded in full (their whole value came back).
    pub refunded: u64,
    /// Their value: the subsidy spent at payment, fen.
    pub subsidy_minor: i64,
    /// The coupons' parts that refunds undid, fen (back to a prepaid stock's funder; a
    /// 免充值 discount simply stops being given).
    pub subsidy_refunded_minor: i64,
    /// The totals of the orders they were used on, fen.
    pub driven_minor: i64,
    /// What was refunded of those orders, fen.
    pub driven_refunded_minor: i64,
}

impl CouponNumbers {
    /// Redeemed per issued, in basis points.
    pub fn redemption_bps(&self) -> u64 {
        self.redeemed
            .checked_mul(10_000)
            .and_then(|scaled| scaled.checked_div(self.issued))
            .unwrap_or(0)
    }

    /// Coupons used and not refunded in full.
    pub fn net_redeemed(&self) -> u64 {
        self.redeemed.saturating_sub(self.refunded)
    }

    /// The subsidy that stayed spent, fen.
    pub fn net_subsidy_minor(&self) -> i64 {
        self.subsidy_minor
            .saturating_sub(self.subsidy_refunded_minor)
    }

    /// The spending the coupons drove that stayed spent, fen.
    pub fn net_driven_minor(&self) -> i64 {
        self.driven_minor.saturating_sub(self.driven_refunded_minor)
    }

    fn add(&mut self, other: &Self) -> Result<(), PayError> {
        let overflow = || PayError::rule("the coupon report's sums do not fit in 64 bits");
        let count = |sum: u64, more: u64| sum.checked_add(more).ok_or_else(overflow);
        let money = |sum: i64, more: i64| sum.checked_add(more).ok_or_else(overflow);
        *self = Self {
            issued: count(self.issued, other.issued)?,
            redeemed: count(self.redeemed, other.redeemed)?,
            refunded: count(self.refunded, other.refunded)?,
            subsidy_minor: money(self.subsidy_minor, other.subsidy_minor)?,
            subsidy_refunded_minor: money(
                self.subsidy_refunded_minor,
                other.subsidy_refunded_minor,
            )?,
            driven_minor: money(self.driven_minor, other.driven_minor)?,
            driven_refunded_minor: money(self.driven_refunded_minor, other.driven_refunded_minor)?,
        };
        Ok(())
    }

    /// Counts one used coupon, with its order as it stands now (`None` if it cannot be
    /// found: then nothing of it counts as refunded).
    fn add_used(
        &mut self,
        coupon: &Coupon,
        consumed: &Consumption,
        order: Option<&Order>,
    ) -> Result<(), PayError> {
        let subsidy_refunded = order.map_or(0, Order::discount_refunded_minor);
        self.add(&Self {
            redeemed: 1,
            refunded: u64::from(coupon.amount_minor > 0 && subsidy_refunded >= coupon.amount_minor),
            subsidy_minor: coupon.amount_minor,
            subsidy_refunded_minor: subsidy_refunded,
            driven_minor: consumed.consume_amount_minor,
            driven_refunded_minor: order.map_or(0, |order| order.refunded_minor),
            ..Self::default()
        })
    }
}

impl PayService {
    /// What one stock did.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn stock_numbers(&self, stock: &Stock) -> Result<CouponNumbers, PayError> {
        let mut numbers = CouponNumbers {
            issued: stock.distributed_coupons,
            ..CouponNumbers::default()
        };
        let mut after = None;
        loop {
            let page = self
                .records_port()
                .range(IndexRange {
                    kind: kind::COUPON.to_owned(),
                    name: "stock".to_owned(),
                    from: stock.stock_id.clone(),
                    to: format!("{}\u{0}", stock.stock_id),
                    after: after.clone(),
                    rows_max: STOCK_COUPONS_PER_PAGE,
                    newest_first: false,
                })
                .await?;
            let Some(last) = page.last() else {
                return Ok(numbers);
            };
            after = Some((last.value.clone(), last.record.key.clone()));
            for found in &page {
                let coupon: Coupon = store::decode(&found.record)?;
                if let Some(consumed) = &coupon.consumed {
                    let order = self
                        .order_by_transaction_id(&consumed.consume_mchid, &consumed.transaction_id)
                        .await?;
                    numbers.add_used(&coupon, consumed, order.as_ref())?;
                }
            }
        }
    }

    /// Every stock (of one funder, or all), newest first, with what each did, and the
    /// totals.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn coupon_report(
        &self,
        funder: Option<&str>,
        rows_max: usize,
    ) -> Result<(CouponNumbers, Vec<(Stock, CouponNumbers)>), PayError> {
        let (from, to) = match funder {
            Some(mchid) => (format!("{mchid}|"), format!("{mchid}|~")),
            None => (String::new(), "~".to_owned()),
        };
        let stocks: Vec<Stock> = self
            .listed(kind::STOCK, "creator_created", from, to, rows_max, true)
            .await?;
        let mut total = CouponNumbers::default();
        let mut rows = Vec::with_capacity(stocks.len());
        for stock in stocks {
            let numbers = self.stock_numbers(&stock).await?;
            total.add(&numbers)?;
            rows.push((stock, numbers));
        }
        Ok((total, rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_figures_are_gross_less_what_refunds_undid() {
        let numbers = CouponNumbers {
            issued: 4,
            redeemed: 3,
            refunded: 1,
            subsidy_minor: 1_500,
            subsidy_refunded_minor: 700,
            driven_minor: 6_000,
            driven_refunded_minor: 2_500,
        };
        assert_eq!(numbers.redemption_bps(), 7_500);
        assert_eq!(numbers.net_redeemed(), 2);
        assert_eq!(numbers.net_subsidy_minor(), 800);
        assert_eq!(numbers.net_driven_minor(), 3_500);
        assert_eq!(CouponNumbers::default().redemption_bps(), 0);
    }

    #[test]
    fn sums_that_do_not_fit_are_an_error() {
        let mut total = CouponNumbers {
            driven_minor: i64::MAX,
            ..CouponNumbers::default()
        };
        let more = CouponNumbers {
            driven_minor: 1,
            ..CouponNumbers::default()
        };
        assert!(total.add(&more).is_err());
        let huge = CouponNumbers {
            issued: 1,
            redeemed: u64::MAX,
            ..CouponNumbers::default()
        };
        assert_eq!(huge.redemption_bps(), 0, "no wrapped rate");
    }
}
