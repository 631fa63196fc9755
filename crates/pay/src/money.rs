//! Money arithmetic, in one place and checked: every product of an amount with a rate is
//! computed in `i128` and every sum is a checked `i64` addition, so nothing wraps; a
//! result that does not fit is [`PayError::AmountOverflow`]. How a payment and a refund
//! split into the ledger's moves is decided here too, as pure functions whose parts
//! provably add up to the whole (see the property tests below).

use plaza_kernel::limits::AMOUNT_MINOR_MAX;

use crate::error::PayError;

/// Basis points in one whole (100%).
pub const BPS_WHOLE: u32 = 10_000;

/// Checks an amount a caller gives: positive, and at most [`AMOUNT_MINOR_MAX`] fen.
///
/// # Errors
///
/// [`PayError::Invalid`] naming `field`.
pub fn check_amount(field: &str, amount_minor: i64) -> Result<(), PayError> {
    if amount_minor <= 0 {
        return Err(PayError::invalid(field, "must be a positive number of fen"));
    }
    check_amount_at_most_max(field, amount_minor)
}

/// Checks that an amount (which may be 0) is at most [`AMOUNT_MINOR_MAX`] fen.
///
/// # Errors
///
/// [`PayError::Invalid`] naming `field`.
pub fn check_amount_at_most_max(field: &str, amount_minor: i64) -> Result<(), PayError> {
    if amount_minor > AMOUNT_MINOR_MAX {
        return Err(PayError::invalid(
            field,
            format!(
                "must be at most {AMOUNT_MINOR_MAX} fen (¥21,474,836.47), the largest amount of one order; got {amount_minor}"
            ),
        ));
    }
    Ok(())
}

fn overflow(what: &str) -> PayError {
    PayError::AmountOverflow {
        what: what.to_owned(),
    }
}

/// `a + b`, or [`PayError::AmountOverflow`] naming `what`.
///
/// # Errors
///
/// When the sum does not fit in `i64`.
pub fn add(a: i64, b: i64, what: &str) -> Result<i64, PayError> {
    a.checked_add(b).ok_or_else(|| overflow(what))
}

/// The sum of `amounts`, or [`PayError::AmountOverflow`] naming `what`.
///
/// # Errors
///
/// When the sum does not fit in `i64`.
pub fn sum(amounts: impl IntoIterator<Item = i64>, what: &str) -> Result<i64, PayError> {
    amounts
        .into_iter()
        .try_fold(0_i64, |total, amount| add(total, amount, what))
}

fn narrow(value: i128, what: &str) -> Result<i64, PayError> {
    i64::try_from(value).map_err(|_| overflow(what))
}

/// `amount × rate_bps / 10,000`, rounded half up (fees).
///
/// # Errors
///
/// When the result does not fit in `i64` (never for amounts within
/// [`AMOUNT_MINOR_MAX`]).
pub fn bps_half_up(amount_minor: i64, rate_bps: u32, what: &str) -> Result<i64, PayError> {
    ratio_half_up(
        amount_minor,
        i64::from(rate_bps),
        i64::from(BPS_WHOLE),
        what,
    )
}

/// `amount × rate_bps / 10,000`, rounded down (commissions, limits: the odd fen stays).
///
/// # Errors
///
/// When the result does not fit in `i64`.
pub fn bps_down(amount_minor: i64, rate_bps: u32, what: &str) -> Result<i64, PayError> {
    let product = i128::from(amount_minor) * i128::from(rate_bps);
    narrow(product.div_euclid(i128::from(BPS_WHOLE)), what)
}

/// `value × numerator / denominator`, rounded half up; 0 when `denominator` is 0.
///
/// # Errors
///
/// When the result does not fit in `i64`.
pub fn ratio_half_up(
    value: i64,
    numerator: i64,
    denominator: i64,
    what: &str,
) -> Result<i64, PayError> {
    if denominator == 0 {
        return Ok(0);
    }
    let (product, denominator) = (
        i128::from(value) * i128::from(numerator),
        i128::from(denominator),
    );
    // Half up for either sign: floor((2·p + d) / 2·d).
    let doubled = product * 2 + denominator;
    narrow(doubled.div_euclid(denominator * 2), what)
}

/// The platform's fee on what a merchant is paid: `amount × fee_rate`, half up.
///
/// # Errors
///
/// When the fee does not fit in `i64`.
pub fn fee_of(amount_minor: i64, fee_rate_bps: u32) -> Result<i64, PayError> {
    bps_half_up(amount_minor, fee_rate_bps, "the fee")
}

/// How one payment's money moves: what the payer pays, the fee, and the moves from the
/// wallet and (for a prepaid coupon) the stock's budget. The payer's money goes to the
/// fee first, then to the merchant; the budget pays the rest of both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentSplit {
    /// What the payer pays: the total less the coupon.
    pub payer_total_minor: i64,
    /// What the merchant is paid before the fee: the total, or the total less a 免充值
    /// discount (which the merchant gives).
    pub merchant_gets_minor: i64,
    /// The fee on [`PaymentSplit::merchant_gets_minor`].
    pub fee_minor: i64,
    /// From the wallet to the merchant's pending (or frozen) account.
    pub wallet_net_minor: i64,
    /// From the wallet to the fee held back.
    pub wallet_fee_minor: i64,
    /// From a prepaid coupon's budget to the merchant.
    pub budget_net_minor: i64,
    /// From a prepaid coupon's budget to the fee held back.
    pub budget_fee_minor: i64,
}

/// Splits a payment of an order of `total_minor` with a coupon of `discount_minor` (0 for
/// none; `no_cash` for 免充值) at `fee_rate_bps`.
///
/// # Errors
///
/// [`PayError::Invalid`] for amounts out of range (a total beyond
/// [`AMOUNT_MINOR_MAX`], a discount not below the total, a rate above 100%).
pub fn payment_split(
    total_minor: i64,
    discount_minor: i64,
    no_cash: bool,
    fee_rate_bps: u32,
) -> Result<PaymentSplit, PayError> {
    check_amount("total", total_minor)?;
    if discount_minor < 0 || discount_minor >= total_minor {
        return Err(PayError::invalid(
            "coupon",
            "a coupon's amount must be below the order's total",
        ));
    }
    if fee_rate_bps > BPS_WHOLE {
        return Err(PayError::invalid("fee_rate_bps", "at most 10000 (100%)"));
    }
    // Within the bounds just checked nothing below can overflow: every amount is at
    // most the total, and the fee at most what the merchant gets.
    let payer_total = total_minor - discount_minor;
    let merchant_gets = if no_cash { payer_total } else { total_minor };
    let fee = fee_of(merchant_gets, fee_rate_bps)?;
    let wallet_fee = fee.min(payer_total);
    Ok(PaymentSplit {
        payer_total_minor: payer_total,
        merchant_gets_minor: merchant_gets,
        fee_minor: fee,
        wallet_net_minor: payer_total - wallet_fee,
        wallet_fee_minor: wallet_fee,
        budget_net_minor: merchant_gets - payer_total - (fee - wallet_fee),
        budget_fee_minor: fee - wallet_fee,
    })
}

/// What is known of a paid order when a refund of it is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundBase {
    /// The order's total.
    pub total_minor: i64,
    /// What the payer paid (the total less a coupon).
    pub payer_total_minor: i64,
    /// The fee charged on the payment.
    pub fee_minor: i64,
    /// Refunded before this refund.
    pub refunded_minor: i64,
    /// Fee returned with earlier refunds.
    pub fee_refunded_minor: i64,
    /// The coupon was 免充值 (its part was never paid to the merchant).
    pub no_cash: bool,
}

/// How one refund's money moves. Cash first: what the payer paid comes back before any
/// of the coupon, whose part goes back to its funder (nothing moves for a 免充值
/// discount). The fee comes back in proportion to what leaves the merchant, to the payer
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundSplit {
    /// The payer's part of the refund.
    pub cash_minor: i64,
    /// The coupon's part of the refund.
    pub coupon_minor: i64,
    /// The fee returned with this refund.
    pub fee_refund_minor: i64,
    /// To the payer, from the merchant's money.
    pub net_to_payer_minor: i64,
    /// To the payer, from the fee.
    pub fee_to_payer_minor: i64,
    /// To the coupon's funder, from the merchant's money.
    pub net_to_funder_minor: i64,
    /// To the coupon's funder, from the fee.
    pub fee_to_funder_minor: i64,
}

/// Splits a refund of `refund_minor` of the order `base` describes.
///
/// # Errors
///
/// [`PayError::Invalid`] for a refund that is not positive or beyond what is left to
/// refund, or order facts out of range; [`PayError::AmountOverflow`] never for amounts
/// within [`AMOUNT_MINOR_MAX`].
pub fn refund_split(base: &RefundBase, refund_minor: i64) -> Result<RefundSplit, PayError> {
    check_amount("total", base.total_minor)?;
    let left = base.total_minor - base.refunded_minor;
    if base.refunded_minor < 0
        || !(1..=base.total_minor).contains(&base.payer_total_minor)
        || !(0..=base.total_minor).contains(&base.fee_minor)
        || !(0..=base.fee_minor).contains(&base.fee_refunded_minor)
        || left < 0
    {
        return Err(PayError::invalid("order", "its amounts are inconsistent"));
    }
    if refund_minor <= 0 || refund_minor > left {
        return Err(PayError::invalid(
            "refund",
            format!("must be between 1 and the {left} fen left to refund"),
        ));
    }
    let refunded_after = base.refunded_minor + refund_minor;
    let cash_before = base.refunded_minor.min(base.payer_total_minor);
    let cash = refund_minor.min(base.payer_total_minor - cash_before);
    let coupon = refund_minor - cash;
    // What leaves the merchant, and the fee's share of it: the fee was on what the
    // merchant was paid (the total, or the payer's part with a 免充值 coupon).
    let (fee_base, merchant_before, merchant_after) = if base.no_cash {
        (
            base.payer_total_minor,
            cash_before,
            refunded_after.min(base.payer_total_minor),
        )
    } else {
        (base.total_minor, base.refunded_minor, refunded_after)
    };
    let merchant_refund = merchant_after - merchant_before;
    let fee_refunded_after = ratio_half_up(
        base.fee_minor,
        merchant_after,
        fee_base,
        "the fee returned with a refund",
    )?;
    let fee_refund = (fee_refunded_after - base.fee_refunded_minor).clamp(0, merchant_refund);
    let net_refund = merchant_refund - fee_refund;
    let fee_to_payer = fee_refund.min(cash);
    let net_to_payer = cash - fee_to_payer;
    Ok(RefundSplit {
        cash_minor: cash,
        coupon_minor: coupon,
        fee_refund_minor: fee_refund,
        net_to_payer_minor: net_to_payer,
        fee_to_payer_minor: fee_to_payer,
        net_to_funder_minor: net_refund - net_to_payer,
        fee_to_funder_minor: fee_refund - fee_to_payer,
    })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn fees_round_half_up() {
        let fee = |amount, bps| fee_of(amount, bps).unwrap();
        assert_eq!(fee(100, 60), 1); // 0.6 fen → 1
        assert_eq!(fee(1, 60), 0);
        assert_eq!(fee(10_000, 60), 60);
        assert_eq!(fee(83, 60), 0); // 0.498
        assert_eq!(fee(84, 60), 1); // 0.504
        assert_eq!(ratio_half_up(-5, 1, 2, "x").unwrap(), -2); // −2.5 → −2
        assert_eq!(ratio_half_up(7, 3, 0, "x").unwrap(), 0);
    }

    #[test]
    fn the_orders_the_probe_broke_no_longer_wrap() {
        // 2×10^17 fen at 0.6%: the fee used to wrap to a negative number in release
        // builds, so the wallet paid more than the total and no fee was held.
        let fee = fee_of(200_000_000_000_000_000, 60).unwrap();
        assert_eq!(fee, 1_200_000_000_000_000);
        // Such an order is refused before it is paid.
        assert!(matches!(
            payment_split(200_000_000_000_000_000, 0, false, 60),
            Err(PayError::Invalid { .. })
        ));
        // 4×10^10 fen: the last part's proportional fee (fee × refunded) overflowed
        // i64, so it could never be refunded. The arithmetic is exact now…
        let base = RefundBase {
            total_minor: 40_000_000_000,
            payer_total_minor: 40_000_000_000,
            fee_minor: 240_000_000,
            refunded_minor: 39_000_000_000,
            fee_refunded_minor: 234_000_000,
            no_cash: false,
        };
        assert_eq!(
            ratio_half_up(base.fee_minor, base.total_minor, base.total_minor, "x").unwrap(),
            240_000_000
        );
        // … and such an order is refused too.
        assert!(refund_split(&base, 1_000_000_000).is_err());
        assert_eq!(
            bps_down(i64::MAX, BPS_WHOLE, "x").unwrap(),
            i64::MAX,
            "i128 products of i64 amounts and rates never overflow"
        );
        assert!(add(i64::MAX, 1, "x").is_err());
        assert!(sum([i64::MAX, 1], "x").is_err());
        assert_eq!(sum([1, 2, 3], "x").unwrap(), 6);
    }

    #[test]
    fn amounts_up_to_two_to_the_31_minus_1_are_accepted() {
        assert!(check_amount("/amount/total", 2_147_483_647).is_ok());
        let refused = check_amount("/amount/total", 2_147_483_648).unwrap_err();
        assert!(
            matches!(&refused, PayError::Invalid { field, .. } if field == "/amount/total"),
            "{refused:?}"
        );
        assert!(check_amount("x", 0).is_err());
        assert!(check_amount("x", -1).is_err());
        assert!(check_amount_at_most_max("x", 0).is_ok());
    }

    /// An order, a coupon on it and a rate, within every bound Plaza enforces.
    fn payment() -> impl Strategy<Value = (i64, i64, bool, u32)> {
        // Small totals too, where rounding matters most.
        prop_oneof![1..=1_000_i64, 1..=AMOUNT_MINOR_MAX].prop_flat_map(|total| {
            // No coupon, or one of up to total − 1.
            let discount = prop_oneof![Just(0), 0..total];
            (Just(total), discount, any::<bool>(), 0..=BPS_WHOLE)
        })
    }

    /// Splits `total` into 1 to 50 positive refunds (50 is the most one order may have).
    fn refunds_of(total: i64, cuts: &[u32]) -> Vec<i64> {
        let mut points: Vec<i64> = cuts
            .iter()
            .map(|cut| i64::from(*cut) % total)
            .filter(|point| *point > 0)
            .collect();
        points.sort_unstable();
        points.dedup();
        let mut parts = Vec::new();
        let mut before = 0;
        for point in points.into_iter().chain([total]) {
            parts.push(point - before);
            before = point;
        }
        parts
    }

    proptest! {
        #[test]
        fn a_payments_parts_add_up_to_the_whole((total, discount, no_cash, bps) in payment()) {
            let split = payment_split(total, discount, no_cash, bps).unwrap();
            for part in [
                split.fee_minor,
                split.wallet_net_minor,
                split.wallet_fee_minor,
                split.budget_net_minor,
                split.budget_fee_minor,
            ] {
                prop_assert!(part >= 0, "{split:?}");
            }
            prop_assert_eq!(split.payer_total_minor, total - discount);
            prop_assert_eq!(split.wallet_net_minor + split.wallet_fee_minor, split.payer_total_minor);
            prop_assert_eq!(split.wallet_fee_minor + split.budget_fee_minor, split.fee_minor);
            prop_assert_eq!(
                split.wallet_net_minor + split.budget_net_minor + split.fee_minor,
                split.merchant_gets_minor
            );
            let budget = split.budget_net_minor + split.budget_fee_minor;
            prop_assert_eq!(budget, if no_cash { 0 } else { discount });
            prop_assert!(split.fee_minor <= split.merchant_gets_minor);
        }

        #[test]
        fn refunds_in_parts_return_exactly_what_was_paid(
            (total, discount, no_cash, bps) in payment(),
            cuts in proptest::collection::vec(any::<u32>(), 0..49),
        ) {
            let paid = payment_split(total, discount, no_cash, bps).unwrap();
            let mut base = RefundBase {
                total_minor: total,
                payer_total_minor: paid.payer_total_minor,
                fee_minor: paid.fee_minor,
                refunded_minor: 0,
                fee_refunded_minor: 0,
                no_cash,
            };
            let (mut to_payer, mut to_funder, mut cash, mut coupon) = (0, 0, 0, 0);
            for refund in refunds_of(total, &cuts) {
                let split = refund_split(&base, refund).unwrap();
                for part in [
                    split.cash_minor,
                    split.coupon_minor,
                    split.fee_refund_minor,
                    split.net_to_payer_minor,
                    split.fee_to_payer_minor,
                    split.net_to_funder_minor,
                    split.fee_to_funder_minor,
                ] {
                    prop_assert!(part >= 0, "{split:?}");
                }
                prop_assert_eq!(split.cash_minor + split.coupon_minor, refund);
                prop_assert_eq!(split.net_to_payer_minor + split.fee_to_payer_minor, split.cash_minor);
                prop_assert_eq!(split.fee_to_payer_minor + split.fee_to_funder_minor, split.fee_refund_minor);
                let funder = split.net_to_funder_minor + split.fee_to_funder_minor;
                prop_assert_eq!(funder, if no_cash { 0 } else { split.coupon_minor });
                to_payer += split.cash_minor;
                to_funder += funder;
                cash += split.cash_minor;
                coupon += split.coupon_minor;
                base.refunded_minor += refund;
                base.fee_refunded_minor += split.fee_refund_minor;
            }
            // Everything refunded: each party has back exactly what it put in, and the
            // whole fee came back.
            prop_assert_eq!(base.refunded_minor, total);
            prop_assert_eq!(to_payer, paid.payer_total_minor);
            prop_assert_eq!(cash, paid.payer_total_minor);
            prop_assert_eq!(coupon, discount);
            prop_assert_eq!(to_funder, paid.budget_net_minor + paid.budget_fee_minor);
            prop_assert_eq!(base.fee_refunded_minor, paid.fee_minor);
        }

        #[test]
        fn products_and_sums_never_wrap(amount in any::<i64>(), bps in any::<u32>(), other in any::<i64>()) {
            let exact = i128::from(amount) * i128::from(bps);
            match bps_down(amount, bps, "x") {
                Ok(value) => prop_assert_eq!(i128::from(value), exact.div_euclid(10_000)),
                Err(error) => {
                    prop_assert!(i64::try_from(exact.div_euclid(10_000)).is_err());
                    prop_assert!(
                        matches!(error, PayError::AmountOverflow { .. }),
                        "overflow is typed: {:?}", error
                    );
                }
            }
            match add(amount, other, "x") {
                Ok(value) => prop_assert_eq!(i128::from(value), i128::from(amount) + i128::from(other)),
                Err(_) => prop_assert!(i64::try_from(i128::from(amount) + i128::from(other)).is_err()),
            }
        }
    }
}
