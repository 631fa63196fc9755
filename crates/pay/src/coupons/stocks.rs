//! Stocks: creating one (its budget reserved unless 免充值), starting, pausing,
//! restarting and stopping it, ending it with its window, and where its creator's
//! `COUPON.USE` notifications go.

use std::collections::HashMap;

use plaza_kernel::clock::Timestamp;
use plaza_kernel::queue::NewJob;
use plaza_kernel::record::{Expect, IndexRange, RecordStore};
use plaza_ledger::{LedgerError, WriteSet};

use super::{
    Coupon, CouponCallback, CouponStatus, JOB_STOCK_END, NewStock, STOCK_COUPONS_PER_PAGE, Stock,
    StockAction, StockStatus, coupon_write, stock_write,
};
use crate::accounts::{self, AccountSpec};
use crate::error::PayError;
use crate::ids;
use crate::model::MerchantKind;
use crate::service::{
    CONFLICT_RETRIES_MAX, PayService, batch, check_text, request_digest, transfer,
};
use crate::store::{self, kind, load};

impl PayService {
    /// Creates a stock, reserving its budget from the creator unless it is 免充值;
    /// idempotent on `out_request_no` per creator.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`] for inconsistent rules, [`PayError::NoAuth`] for a stock
    /// that belongs to a merchant the creator may not act for,
    /// [`PayError::MerchantBalanceNotEnough`] when the creator cannot fund it.
    pub async fn create_stock(&self, new: NewStock) -> Result<Stock, PayError> {
        let now = self.now();
        check_stock(&new, now)?;
        self.check_stock_owner(&new).await?;
        let digest = request_digest(&new)?;
        let request_key = format!("{}|{}", new.creator_mchid, new.out_request_no);
        if let Some(stock) = self.stock_of_request(&request_key).await? {
            return if stock.request_digest == digest {
                Ok(stock)
            } else {
                Err(PayError::rule(format!(
                    "out_request_no {} was already used for a different stock",
                    new.out_request_no
                )))
            };
        }
        for _ in 0..CONFLICT_RETRIES_MAX {
            let stock = new_stock(&new, &digest, now);
            let funder = accounts::available(&stock.creator_mchid)?;
            let write = self.stock_creation(&stock, &funder, &request_key).await?;
            match self.commit_write(write).await {
                Ok(()) => return Ok(stock),
                Err(LedgerError::RecordConflict { .. }) => {
                    // A racing identical request, or a stock id drawn twice: read again.
                    if let Some(stock) = self.stock_of_request(&request_key).await? {
                        return Ok(stock);
                    }
                }
                Err(LedgerError::InsufficientFunds { account, .. }) if account == funder.0 => {
                    return Err(PayError::MerchantBalanceNotEnough);
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(PayError::Busy {
            what: "stock".to_owned(),
        })
    }

    /// Whether the creator may make a stock for the merchant it belongs to: itself, or
    /// (a provider) one of its sub-merchants.
    async fn check_stock_owner(&self, new: &NewStock) -> Result<(), PayError> {
        let creator = self.existing_merchant(&new.creator_mchid).await?;
        if new.belong_merchant == creator.mchid {
            return Ok(());
        }
        let owner = self
            .merchant_shared(&new.belong_merchant)
            .await?
            .ok_or_else(|| {
                PayError::invalid(
                    "/belong_merchant",
                    format!("merchant {} does not exist", new.belong_merchant),
                )
            })?;
        if creator.kind != MerchantKind::Provider
            || owner.provider.as_deref() != Some(creator.mchid.as_str())
        {
            return Err(PayError::NoAuth {
                reason: format!(
                    "无权限: {} may create stocks only for itself or its sub-merchants",
                    creator.mchid
                ),
            });
        }
        Ok(())
    }

    /// The stock a creator's request number made, if any.
    async fn stock_of_request(&self, request_key: &str) -> Result<Option<Stock>, PayError> {
        let records = self.records_port();
        if let Some((receipt, _)) =
            load::<String>(&*records, kind::STOCK_REQUEST, request_key).await?
            && let Some((stock, _)) = load::<Stock>(&*records, kind::STOCK, &receipt).await?
        {
            return Ok(Some(stock));
        }
        Ok(None)
    }

    /// A new stock's unit of work: its budget reserved from `funder` (unless 免充值),
    /// the stock and the receipt of its request number, and the job that ends it.
    async fn stock_creation(
        &self,
        stock: &Stock,
        funder: &AccountSpec,
        request_key: &str,
    ) -> Result<WriteSet, PayError> {
        let budget = accounts::coupon_budget(&stock.stock_id)?;
        let transfers = if stock.no_cash {
            Vec::new()
        } else {
            self.open(funder).await?;
            self.open(&budget).await?;
            vec![transfer(
                format!("stock:{}:budget", stock.stock_id),
                &funder.0,
                &budget.0,
                stock.max_amount_minor,
                &format!("budget of stock {}", stock.stock_id),
            )?]
        };
        Ok(WriteSet {
            batch: batch(transfers)?,
            records: vec![
                stock_write(stock, Expect::Absent)?,
                store::write(
                    kind::STOCK_REQUEST,
                    request_key,
                    Expect::Absent,
                    &stock.stock_id,
                    vec![],
                )?,
            ],
            jobs: vec![NewJob {
                kind: JOB_STOCK_END.to_owned(),
                key: stock.stock_id.clone(),
                payload: stock.stock_id.clone(),
                due_at: stock.available_end,
            }],
            ..WriteSet::default()
        })
    }

    /// A stock, when `creator_mchid` created it.
    ///
    /// # Errors
    ///
    /// [`PayError::StockNotFound`] for an unknown stock or another creator's.
    pub async fn stock(&self, creator_mchid: &str, stock_id: &str) -> Result<Stock, PayError> {
        let (stock, _) = self.stock_versioned(creator_mchid, stock_id).await?;
        Ok(stock)
    }

    async fn stock_versioned(
        &self,
        creator_mchid: &str,
        stock_id: &str,
    ) -> Result<(Stock, u64), PayError> {
        match load::<Stock>(&*self.records_port(), kind::STOCK, stock_id).await? {
            Some((stock, version)) if stock.creator_mchid == creator_mchid => Ok((stock, version)),
            _ => Err(PayError::StockNotFound {
                stock_id: stock_id.to_owned(),
            }),
        }
    }

    /// A creator's stocks, newest first.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn stocks_of(
        &self,
        creator_mchid: &str,
        rows_max: usize,
    ) -> Result<Vec<Stock>, PayError> {
        self.listed(
            kind::STOCK,
            "creator_created",
            format!("{creator_mchid}|"),
            format!("{creator_mchid}|~"),
            rows_max,
            true,
        )
        .await
    }

    /// A running stock as anyone may see it (a claim page), if it exists.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn public_stock(&self, stock_id: &str) -> Result<Option<Stock>, PayError> {
        Ok(load::<Stock>(&*self.records_port(), kind::STOCK, stock_id)
            .await?
            .map(|(stock, _)| stock))
    }

    /// Starts, pauses, restarts or stops a stock. Stopping returns the budget no issued
    /// coupon can still claim.
    ///
    /// # Errors
    ///
    /// [`PayError::StockNotFound`], [`PayError::StockNotActive`] for a change its state
    /// does not allow.
    pub async fn change_stock(
        &self,
        creator_mchid: &str,
        stock_id: &str,
        action: StockAction,
    ) -> Result<Stock, PayError> {
        let lock = self.coupons()?.stock_lock(stock_id);
        let _held = lock.lock().await;
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut stock, version) = self.stock_versioned(creator_mchid, stock_id).await?;
            change_status(&mut stock, action, self.now())?;
            let mut transfers = Vec::new();
            if action == StockAction::Stop && !stock.no_cash {
                let unissued = stock.max_amount_minor - stock.distributed_amount_minor;
                if unissued > 0 {
                    let funder = accounts::available(&stock.creator_mchid)?;
                    transfers.push(transfer(
                        format!("stock:{stock_id}:return"),
                        &accounts::coupon_budget(stock_id)?.0,
                        &funder.0,
                        unissued,
                        &format!("unissued budget of stock {stock_id}"),
                    )?);
                }
            }
            let write = WriteSet {
                batch: batch(transfers)?,
                records: vec![stock_write(&stock, Expect::Version(version))?],
                ..WriteSet::default()
            };
            if self.try_commit_write(write).await? {
                return Ok(stock);
            }
        }
        Err(PayError::Busy {
            what: "stock".to_owned(),
        })
    }

    /// The `pay.stock_end` job: at the end of a stock's window its issued, unused coupons
    /// expire and what is left of its budget returns to the creator. Running it again
    /// changes nothing.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails (the job is retried).
    pub async fn end_stock(&self, stock_id: &str) -> Result<(), PayError> {
        let lock = self.coupons()?.stock_lock(stock_id);
        let _held = lock.lock().await;
        let now = self.now();
        let mut ended = false;
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut stock, version)) =
                load::<Stock>(&*self.records_port(), kind::STOCK, stock_id).await?
            else {
                return Ok(());
            };
            if now < stock.available_end {
                return Err(PayError::rule("the stock's window has not ended"));
            }
            if stock.ended_at.is_some() {
                ended = true;
                break;
            }
            let write = self.stock_ending(&mut stock, version, now).await?;
            if self.try_commit_write(write).await? {
                ended = true;
                break;
            }
        }
        if !ended {
            return Err(PayError::Busy {
                what: "stock".to_owned(),
            });
        }
        self.expire_coupons_of(stock_id).await
    }

    /// Ends `stock` (read at `version`) at `now`: stopped, and what is left of a
    /// prepaid budget back to the creator.
    async fn stock_ending(
        &self,
        stock: &mut Stock,
        version: u64,
        now: Timestamp,
    ) -> Result<WriteSet, PayError> {
        let stock_id = stock.stock_id.clone();
        stock.ended_at = Some(now);
        if stock.status != StockStatus::Stopped {
            stock.status = StockStatus::Stopped;
            stock.stopped_at = Some(now);
        }
        let mut transfers = Vec::new();
        if !stock.no_cash {
            let budget = accounts::coupon_budget(&stock_id)?;
            let left = self.balance_of(&budget.0).await?;
            if left > 0 {
                transfers.push(transfer(
                    format!("stock:{stock_id}:end"),
                    &budget.0,
                    &accounts::available(&stock.creator_mchid)?.0,
                    left,
                    &format!("unused budget of stock {stock_id}"),
                )?);
            }
        }
        Ok(WriteSet {
            batch: batch(transfers)?,
            records: vec![stock_write(stock, Expect::Version(version))?],
            ..WriteSet::default()
        })
    }

    async fn expire_coupons_of(&self, stock_id: &str) -> Result<(), PayError> {
        let mut after = None;
        loop {
            let page = self
                .records_port()
                .range(IndexRange {
                    kind: kind::COUPON.to_owned(),
                    name: "stock".to_owned(),
                    from: stock_id.to_owned(),
                    to: format!("{stock_id}\u{0}"),
                    after: after.clone(),
                    rows_max: STOCK_COUPONS_PER_PAGE,
                    newest_first: false,
                })
                .await?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = Some((last.value.clone(), last.record.key.clone()));
            let mut writes = Vec::new();
            for found in &page {
                let mut coupon: Coupon = store::decode(&found.record)?;
                if coupon.status == CouponStatus::Sended {
                    coupon.status = CouponStatus::Expired;
                    writes.push(coupon_write(
                        &coupon,
                        Expect::Version(found.record.version),
                    )?);
                }
            }
            // A coupon used meanwhile keeps its state: the page is read again.
            if !writes.is_empty() && !self.try_commit_records(writes).await? {
                after = None;
            }
        }
    }

    /// Sets where a creator's `COUPON.USE` notifications go.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`] for a URL that is not absolute http(s).
    pub async fn set_coupon_callback(
        &self,
        mchid: &str,
        notify_url: &str,
        enabled: bool,
    ) -> Result<CouponCallback, PayError> {
        self.outbound_policy()
            .check_url("/notify_url", notify_url)?;
        let callback = CouponCallback {
            mchid: mchid.to_owned(),
            notify_url: notify_url.to_owned(),
            enabled,
            updated_at: self.now(),
        };
        let write = store::write(kind::COUPON_CALLBACK, mchid, Expect::Any, &callback, vec![])?;
        self.try_commit_records(vec![write]).await?;
        Ok(callback)
    }

    /// Where a creator's `COUPON.USE` notifications go, if set.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn coupon_callback(&self, mchid: &str) -> Result<Option<CouponCallback>, PayError> {
        callback_of(&*self.records_port(), mchid).await
    }
}

/// Where a creator's `COUPON.USE` notifications go, if set.
pub(super) async fn callback_of(
    records: &dyn RecordStore,
    mchid: &str,
) -> Result<Option<CouponCallback>, PayError> {
    Ok(
        load::<CouponCallback>(records, kind::COUPON_CALLBACK, mchid)
            .await?
            .map(|(callback, _)| callback),
    )
}

/// Moves `stock` to where `action` takes it at `now`, if its status allows.
fn change_status(stock: &mut Stock, action: StockAction, now: Timestamp) -> Result<(), PayError> {
    let refused = |reason: &str| PayError::StockNotActive {
        reason: format!(
            "stock {} is {}: {reason}",
            stock.stock_id,
            stock.status.wire()
        ),
    };
    match (action, stock.status) {
        (StockAction::Start, StockStatus::Unactivated) => {
            stock.status = StockStatus::Running;
            stock.started_at = Some(now);
        }
        (StockAction::Pause, StockStatus::Running) => {
            stock.status = StockStatus::Paused;
            stock.paused_at = Some(now);
        }
        (StockAction::Restart, StockStatus::Paused) => {
            stock.status = StockStatus::Running;
        }
        (StockAction::Stop, StockStatus::Running | StockStatus::Paused) => {
            stock.status = StockStatus::Stopped;
            stock.stopped_at = Some(now);
        }
        (StockAction::Start, _) => return Err(refused("only an unactivated stock starts")),
        (StockAction::Pause, _) => return Err(refused("only a running stock pauses")),
        (StockAction::Restart, _) => return Err(refused("only a paused stock restarts")),
        (StockAction::Stop, _) => {
            return Err(refused("only a running or paused stock stops"));
        }
    }
    Ok(())
}

/// The stock a checked request makes, not yet started.
fn new_stock(new: &NewStock, digest: &str, now: Timestamp) -> Stock {
    let available_merchants = if new.available_merchants.is_empty() {
        vec![new.belong_merchant.clone()]
    } else {
        new.available_merchants.clone()
    };
    Stock {
        stock_id: ids::new_stock_id(),
        creator_mchid: new.creator_mchid.clone(),
        name: new.name.clone(),
        comment: new.comment.clone(),
        belong_merchant: new.belong_merchant.clone(),
        available_begin: new.available_begin,
        available_end: new.available_end,
        max_coupons: new.max_coupons,
        max_amount_minor: new.max_amount_minor,
        max_amount_by_day_minor: new.max_amount_by_day_minor,
        max_coupons_per_user: new.max_coupons_per_user,
        coupon_amount_minor: new.coupon_amount_minor,
        transaction_minimum_minor: new.transaction_minimum_minor,
        goods_tags: new.goods_tags.clone(),
        available_merchants,
        available_items: new.available_items.clone(),
        combine_use: new.combine_use,
        no_cash: new.no_cash,
        status: StockStatus::Unactivated,
        distributed_coupons: 0,
        distributed_amount_minor: 0,
        distributed_by_day_minor: HashMap::new(),
        out_request_no: new.out_request_no.clone(),
        request_digest: digest.to_owned(),
        created_at: now,
        started_at: None,
        paused_at: None,
        stopped_at: None,
        ended_at: None,
    }
}

/// Checks a new stock's rules: amounts, counts, the budget they make, the window.
fn check_stock(new: &NewStock, now: Timestamp) -> Result<(), PayError> {
    check_text("/stock_name", &new.name, 1, 20)?;
    check_text("/out_request_no", &new.out_request_no, 1, 128)?;
    check_coupon_amounts(new)?;
    if new.max_coupons == 0 {
        return Err(PayError::invalid(
            "/stock_use_rule/max_coupons",
            "must be at least 1",
        ));
    }
    let budget = i64::try_from(new.max_coupons)
        .ok()
        .and_then(|count| count.checked_mul(new.coupon_amount_minor));
    if budget != Some(new.max_amount_minor) {
        return Err(PayError::invalid(
            "/stock_use_rule/max_amount",
            format!(
                "must be max_coupons × coupon_amount = {} fen",
                budget.map_or_else(|| "too much".to_owned(), |budget| budget.to_string())
            ),
        ));
    }
    if new.max_coupons_per_user == 0 || new.max_coupons_per_user > new.max_coupons {
        return Err(PayError::invalid(
            "/stock_use_rule/max_coupons_per_user",
            "must be between 1 and max_coupons",
        ));
    }
    if let Some(by_day) = new.max_amount_by_day_minor
        && (by_day < new.coupon_amount_minor || by_day > new.max_amount_minor)
    {
        return Err(PayError::invalid(
            "/stock_use_rule/max_amount_by_day",
            "must be between one coupon's amount and the whole budget",
        ));
    }
    if new.available_end <= new.available_begin {
        return Err(PayError::invalid(
            "/available_end_time",
            "must be after available_begin_time",
        ));
    }
    if new.available_end <= now {
        return Err(PayError::invalid("/available_end_time", "is already past"));
    }
    Ok(())
}

/// A coupon's value and the threshold it applies from.
fn check_coupon_amounts(new: &NewStock) -> Result<(), PayError> {
    crate::money::check_amount(
        "/coupon_use_rule/fixed_normal_coupon/coupon_amount",
        new.coupon_amount_minor,
    )?;
    // A threshold above the largest order could never be met.
    crate::money::check_amount_at_most_max(
        "/coupon_use_rule/fixed_normal_coupon/transaction_minimum",
        new.transaction_minimum_minor,
    )?;
    if new.transaction_minimum_minor < 0
        || (new.transaction_minimum_minor > 0
            && new.coupon_amount_minor >= new.transaction_minimum_minor)
    {
        return Err(PayError::invalid(
            "/coupon_use_rule/fixed_normal_coupon/transaction_minimum",
            format!(
                "must be above the coupon amount ({}) — or 0 for a coupon without threshold",
                new.coupon_amount_minor
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

    #[test]
    fn a_stocks_money_fields_keep_their_stored_names() {
        let at = Timestamp::from_unix_ms(0);
        let new = NewStock {
            creator_mchid: "1900000001".to_owned(),
            name: "Ten off".to_owned(),
            comment: None,
            belong_merchant: "1900000001".to_owned(),
            available_begin: at,
            available_end: at.plus_ms(86_400_000),
            max_coupons: 10,
            max_amount_minor: 1_000,
            max_amount_by_day_minor: None,
            max_coupons_per_user: 1,
            coupon_amount_minor: 100,
            transaction_minimum_minor: 0,
            goods_tags: Vec::new(),
            available_merchants: Vec::new(),
            available_items: Vec::new(),
            combine_use: false,
            no_cash: false,
            out_request_no: "r1".to_owned(),
        };
        let mut stock = new_stock(&new, "digest", at);
        stock
            .distributed_by_day_minor
            .insert("2026-01-01".to_owned(), 100);
        let stored = serde_json::to_value(&stock).unwrap();
        assert_eq!(stored["distributed_by_day"]["2026-01-01"], 100);
        assert!(stored.get("distributed_by_day_minor").is_none());
        let read: Stock = serde_json::from_value(stored).unwrap();
        assert_eq!(read, stock);
    }
}
