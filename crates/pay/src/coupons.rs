//! Cash coupons (代金券, the "favor" API): stocks (批次) with their rules and budget, and
//! coupons issued from them to users.
//!
//! A prepaid stock (`no_cash` false) reserves its whole budget from the creator's
//! available balance into the stock's own ledger account when it is created; stopping it
//! returns what no issued coupon can still claim. Issuing is serialised per stock in this
//! process (one Plaza process writes a database), and every issue is one unit of work that
//! checks the stock's and the user's counts by version, so limits hold exactly under any
//! concurrency.

use std::collections::HashMap;
use std::sync::Arc;

use plaza_kernel::clock::Timestamp;
use plaza_kernel::record::{Expect, IndexEntry, IndexRange, RecordWrite};
use plaza_ledger::{LedgerError, WriteSet};
use serde::{Deserialize, Serialize};

use crate::accounts;
use crate::error::PayError;
use crate::ids;
use crate::model::{MerchantKind, Order};
use crate::service::{
    CONFLICT_RETRIES_MAX, PayService, batch, check_text, request_digest, transfer,
};
use crate::store::{self, kind, load, time_value};

/// Where a stock stands (`status`, spelled as WeChat does, `stoped` included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockStatus {
    /// Created, not started.
    Unactivated,
    /// Issuing.
    Running,
    /// Issuing suspended; restart resumes it.
    Paused,
    /// Ended for good; unused budget went back.
    Stopped,
}

impl StockStatus {
    /// The wire spelling.
    pub fn wire(self) -> &'static str {
        match self {
            Self::Unactivated => "unactivated",
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Stopped => "stoped",
        }
    }
}

/// A stock of cash coupons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stock {
    /// 8–10 digits.
    pub stock_id: String,
    /// The merchant (or provider) that created and funds it.
    pub creator_mchid: String,
    /// Its name.
    pub name: String,
    /// A note for the creator.
    pub comment: Option<String>,
    /// The merchant the stock belongs to.
    pub belong_merchant: String,
    /// Coupons can be used from then …
    pub available_begin: Timestamp,
    /// … until then.
    pub available_end: Timestamp,
    /// Coupons in all.
    pub max_coupons: u64,
    /// The budget, fen: `max_coupons × coupon_amount`.
    pub max_amount: i64,
    /// Issued value per day at most, fen.
    pub max_amount_by_day: Option<i64>,
    /// Coupons one user may get.
    pub max_coupons_per_user: u64,
    /// Each coupon's value, fen.
    pub coupon_amount: i64,
    /// The least order total a coupon applies to, fen (0: any order).
    pub transaction_minimum: i64,
    /// Goods tags an order must carry (none: any).
    pub goods_tags: Vec<String>,
    /// Merchants where the coupons are usable.
    pub available_merchants: Vec<String>,
    /// Goods the coupons are limited to (`available_items`).
    pub available_items: Vec<String>,
    /// Whether it combines with other coupons on one order.
    pub combine_use: bool,
    /// 免充值: the merchant gives the discount at payment; nothing is prepaid.
    pub no_cash: bool,
    /// Where it stands.
    pub status: StockStatus,
    /// Coupons issued so far.
    pub distributed_coupons: u64,
    /// Value issued so far, fen.
    pub distributed_amount: i64,
    /// Value issued per day (`YYYY-MM-DD` → fen), for the daily budget.
    pub distributed_by_day: HashMap<String, i64>,
    /// The creator's request number.
    pub out_request_no: String,
    /// Digest of the create request.
    pub request_digest: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was started.
    pub started_at: Option<Timestamp>,
    /// When it was last paused.
    pub paused_at: Option<Timestamp>,
    /// When it was stopped.
    pub stopped_at: Option<Timestamp>,
    /// When its window ended: unused coupons expired, the rest of the budget went back.
    #[serde(default)]
    pub ended_at: Option<Timestamp>,
}

/// Where a coupon stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CouponStatus {
    /// Issued, usable (WeChat spells it `SENDED`).
    Sended,
    /// Used in a payment.
    Used,
    /// Past its window unused.
    Expired,
}

impl CouponStatus {
    /// The wire spelling.
    pub fn wire(self) -> &'static str {
        match self {
            Self::Sended => "SENDED",
            Self::Used => "USED",
            Self::Expired => "EXPIRED",
        }
    }
}

/// A coupon held by a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    /// 8–12 digits.
    pub coupon_id: String,
    /// Its stock.
    pub stock_id: String,
    /// The stock's creator.
    pub creator_mchid: String,
    /// The stock's name.
    pub name: String,
    /// The holder.
    pub user_id: String,
    /// The app and openid it was issued to.
    pub appid: String,
    /// The openid under `appid`.
    pub openid: String,
    /// Its value, fen.
    pub amount: i64,
    /// The least order total it applies to, fen.
    pub transaction_minimum: i64,
    /// Where it stands.
    pub status: CouponStatus,
    /// Usable from …
    pub available_begin: Timestamp,
    /// … until.
    pub available_end: Timestamp,
    /// Whether the stock is 免充值.
    pub no_cash: bool,
    /// When it was issued.
    pub created_at: Timestamp,
    /// The issuer's request number.
    pub out_request_no: String,
    /// Set when used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumed: Option<Consumption>,
}

/// How a coupon was used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consumption {
    /// When.
    pub consume_time: Timestamp,
    /// At which merchant.
    pub consume_mchid: String,
    /// In which payment.
    pub transaction_id: String,
    /// The order's total, fen.
    pub consume_amount: i64,
}

/// Which coupon a payment uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CouponChoice {
    /// The best usable one, if any (the largest discount; the soonest to expire first).
    Best,
    /// None.
    None,
    /// This one, which must be usable on the order.
    This(String),
}

/// A new stock, as the creator asks for it.
#[derive(Debug, Clone, Serialize)]
pub struct NewStock {
    /// The creating (and funding) merchant or provider.
    pub creator_mchid: String,
    /// Its name (≤ 20 characters).
    pub name: String,
    /// A note.
    pub comment: Option<String>,
    /// The merchant the stock belongs to: the creator, or one of its sub-merchants.
    pub belong_merchant: String,
    /// Window start.
    pub available_begin: Timestamp,
    /// Window end.
    pub available_end: Timestamp,
    /// Coupons in all.
    pub max_coupons: u64,
    /// The budget, fen.
    pub max_amount: i64,
    /// Daily budget, fen.
    pub max_amount_by_day: Option<i64>,
    /// Per user.
    pub max_coupons_per_user: u64,
    /// Each coupon's value.
    pub coupon_amount: i64,
    /// The threshold.
    pub transaction_minimum: i64,
    /// Goods tags.
    pub goods_tags: Vec<String>,
    /// Usable at (empty: the owning merchant).
    pub available_merchants: Vec<String>,
    /// Goods.
    pub available_items: Vec<String>,
    /// Combines with others.
    pub combine_use: bool,
    /// 免充值.
    pub no_cash: bool,
    /// The creator's request number.
    pub out_request_no: String,
}

/// The user a coupon goes to.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// The stock.
    pub stock_id: String,
    /// Who asks: must be the stock's creator.
    pub creator_mchid: String,
    /// The app `openid` is under.
    pub appid: String,
    /// The user.
    pub openid: String,
    /// Idempotency key, per stock.
    pub out_request_no: String,
}

/// What a stock change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockAction {
    /// `start`.
    Start,
    /// `pause`.
    Pause,
    /// `restart`.
    Restart,
    /// `stop`.
    Stop,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct UserCount {
    issued: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct IssueReceipt {
    coupon_id: String,
    openid: String,
}

/// Where a stock creator's `COUPON.USE` notifications go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponCallback {
    /// The creator.
    pub mchid: String,
    /// The URL.
    pub notify_url: String,
    /// Whether notifications are sent (`switch`).
    pub enabled: bool,
    /// When it was set.
    pub updated_at: Timestamp,
}

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
            refunded: u64::from(coupon.amount > 0 && subsidy_refunded >= coupon.amount),
            subsidy_minor: coupon.amount,
            subsidy_refunded_minor: subsidy_refunded,
            driven_minor: consumed.consume_amount,
            driven_refunded_minor: order.map_or(0, |order| order.refunded_minor),
            ..Self::default()
        })
    }
}

/// A used coupon's record.
pub(crate) fn coupon_used_write(coupon: &Coupon, version: u64) -> Result<RecordWrite, PayError> {
    coupon_write(coupon, Expect::Version(version))
}

/// A payer's coupons considered for one payment at most.
const COUPONS_CONSIDERED_MAX: usize = 200;

/// Issue requests one stock's issuer takes in one unit of work at most.
const ISSUE_BATCH_MAX: usize = 256;
/// Issue requests waiting for one stock's issuer at most; further askers wait to queue.
/// 4,096 × ~300 bytes ≈ 1.2 MiB per busy stock.
const ISSUE_QUEUE_CAPACITY: usize = 4_096;

/// An issue request waiting for its stock's issuer.
pub(crate) struct Queued {
    request: IssueRequest,
    user_id: String,
    reply: tokio::sync::oneshot::Sender<Result<Coupon, PayError>>,
}

/// The answer to an `out_request_no` used before: its coupon, if for the same user.
fn same_request(coupon: &Coupon, request: &IssueRequest) -> Result<Coupon, PayError> {
    if coupon.openid == request.openid {
        Ok(coupon.clone())
    } else {
        Err(PayError::rule(format!(
            "out_request_no {} was already used for another user",
            request.out_request_no
        )))
    }
}

fn stock_write(stock: &Stock, expect: Expect) -> Result<RecordWrite, PayError> {
    store::write(
        kind::STOCK,
        &stock.stock_id,
        expect,
        stock,
        vec![IndexEntry::new(
            "creator_created",
            format!(
                "{}|{}",
                stock.creator_mchid,
                time_value(stock.created_at.unix_ms())
            ),
        )],
    )
}

fn coupon_write(coupon: &Coupon, expect: Expect) -> Result<RecordWrite, PayError> {
    store::write(
        kind::COUPON,
        &coupon.coupon_id,
        expect,
        coupon,
        vec![
            IndexEntry::new(
                "user_created",
                format!(
                    "{}|{}",
                    coupon.user_id,
                    time_value(coupon.created_at.unix_ms())
                ),
            ),
            IndexEntry::new("stock", coupon.stock_id.clone()),
        ],
    )
}

/// Job kind: end a stock at the end of its window (payload: the stock id).
pub const JOB_STOCK_END: &str = "pay.stock_end";
/// Coupons expired in one unit of work when a stock ends.
const EXPIRE_BATCH: usize = 200;

fn check_stock(new: &NewStock, now: Timestamp) -> Result<(), PayError> {
    check_text("/stock_name", &new.name, 1, 20)?;
    check_text("/out_request_no", &new.out_request_no, 1, 128)?;
    crate::money::check_amount(
        "/coupon_use_rule/fixed_normal_coupon/coupon_amount",
        new.coupon_amount,
    )?;
    // A threshold above the largest order could never be met.
    crate::money::check_amount_at_most_max(
        "/coupon_use_rule/fixed_normal_coupon/transaction_minimum",
        new.transaction_minimum,
    )?;
    if new.transaction_minimum < 0
        || (new.transaction_minimum > 0 && new.coupon_amount >= new.transaction_minimum)
    {
        return Err(PayError::invalid(
            "/coupon_use_rule/fixed_normal_coupon/transaction_minimum",
            format!(
                "must be above the coupon amount ({}) — or 0 for a coupon without threshold",
                new.coupon_amount
            ),
        ));
    }
    if new.max_coupons == 0 {
        return Err(PayError::invalid(
            "/stock_use_rule/max_coupons",
            "must be at least 1",
        ));
    }
    let budget = i64::try_from(new.max_coupons)
        .ok()
        .and_then(|count| count.checked_mul(new.coupon_amount));
    if budget != Some(new.max_amount) {
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
    if let Some(by_day) = new.max_amount_by_day
        && (by_day < new.coupon_amount || by_day > new.max_amount)
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

impl PayService {
    fn stock_lock(&self, stock_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.stock_locks.lock().unwrap_or_else(|poisoned| {
            // A panic elsewhere while holding this map cannot leave it inconsistent:
            // entries are only ever inserted whole.
            poisoned.into_inner()
        });
        locks.entry(stock_id.to_owned()).or_default().clone()
    }

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
        let creator = self
            .merchant_shared(&new.creator_mchid)
            .await?
            .ok_or_else(|| PayError::MerchantNotFound {
                mchid: new.creator_mchid.clone(),
            })?;
        if new.belong_merchant != creator.mchid {
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
        }
        let digest = request_digest(&new)?;
        let request_key = format!("{}|{}", new.creator_mchid, new.out_request_no);
        if let Some((receipt, _)) =
            load::<String>(&*self.records_port(), kind::STOCK_REQUEST, &request_key).await?
            && let Some((stock, _)) =
                load::<Stock>(&*self.records_port(), kind::STOCK, &receipt).await?
        {
            return if stock.request_digest == digest {
                Ok(stock)
            } else {
                Err(PayError::rule(format!(
                    "out_request_no {} was already used for a different stock",
                    new.out_request_no
                )))
            };
        }
        let available_merchants = if new.available_merchants.is_empty() {
            vec![new.belong_merchant.clone()]
        } else {
            new.available_merchants.clone()
        };
        for _ in 0..CONFLICT_RETRIES_MAX {
            let stock = Stock {
                stock_id: ids::new_stock_id(),
                creator_mchid: new.creator_mchid.clone(),
                name: new.name.clone(),
                comment: new.comment.clone(),
                belong_merchant: new.belong_merchant.clone(),
                available_begin: new.available_begin,
                available_end: new.available_end,
                max_coupons: new.max_coupons,
                max_amount: new.max_amount,
                max_amount_by_day: new.max_amount_by_day,
                max_coupons_per_user: new.max_coupons_per_user,
                coupon_amount: new.coupon_amount,
                transaction_minimum: new.transaction_minimum,
                goods_tags: new.goods_tags.clone(),
                available_merchants: available_merchants.clone(),
                available_items: new.available_items.clone(),
                combine_use: new.combine_use,
                no_cash: new.no_cash,
                status: StockStatus::Unactivated,
                distributed_coupons: 0,
                distributed_amount: 0,
                distributed_by_day: HashMap::new(),
                out_request_no: new.out_request_no.clone(),
                request_digest: digest.clone(),
                created_at: now,
                started_at: None,
                paused_at: None,
                stopped_at: None,
                ended_at: None,
            };
            let funder = accounts::available(&stock.creator_mchid)?;
            let budget = accounts::coupon_budget(&stock.stock_id)?;
            let transfers = if stock.no_cash {
                Vec::new()
            } else {
                self.open(&funder).await?;
                self.open(&budget).await?;
                vec![transfer(
                    format!("stock:{}:budget", stock.stock_id),
                    &funder.0,
                    &budget.0,
                    stock.max_amount,
                    &format!("budget of stock {}", stock.stock_id),
                )?]
            };
            let write = WriteSet {
                batch: batch(transfers)?,
                records: vec![
                    stock_write(&stock, Expect::Absent)?,
                    store::write(
                        kind::STOCK_REQUEST,
                        &request_key,
                        Expect::Absent,
                        &stock.stock_id,
                        vec![],
                    )?,
                ],
                jobs: vec![plaza_kernel::queue::NewJob {
                    kind: JOB_STOCK_END.to_owned(),
                    key: stock.stock_id.clone(),
                    payload: stock.stock_id.clone(),
                    due_at: stock.available_end,
                }],
                ..WriteSet::default()
            };
            match self.commit_write(write).await {
                Ok(()) => return Ok(stock),
                Err(LedgerError::RecordConflict { .. }) => {
                    // A racing identical request, or a stock id drawn twice: read again.
                    if let Some((receipt, _)) =
                        load::<String>(&*self.records_port(), kind::STOCK_REQUEST, &request_key)
                            .await?
                        && let Some((stock, _)) =
                            load::<Stock>(&*self.records_port(), kind::STOCK, &receipt).await?
                    {
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
        let lock = self.stock_lock(stock_id);
        let _held = lock.lock().await;
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut stock, version) = self.stock_versioned(creator_mchid, stock_id).await?;
            let now = self.now();
            let refused = |reason: &str| PayError::StockNotActive {
                reason: format!("stock {stock_id} is {}: {reason}", stock.status.wire()),
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
            let mut transfers = Vec::new();
            if action == StockAction::Stop && !stock.no_cash {
                let unissued = stock.max_amount - stock.distributed_amount;
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

    /// Issues a coupon of a running stock to a user, idempotent on `out_request_no`
    /// per stock.
    ///
    /// Requests for one stock are queued to that stock's issuer, which takes everything
    /// waiting, decides each in order against the stock's and the users' counts, and
    /// commits them as one unit of work: the limits hold exactly, and one durable commit
    /// serves many requests.
    ///
    /// # Errors
    ///
    /// [`PayError::StockNotFound`], [`PayError::StockNotActive`] (not running, or
    /// outside its window), [`PayError::UserNotFound`] for an openid nobody has,
    /// [`PayError::CouponLimitPerUser`], [`PayError::StockExhausted`].
    pub async fn issue_coupon(self: &Arc<Self>, request: IssueRequest) -> Result<Coupon, PayError> {
        check_text("/out_request_no", &request.out_request_no, 1, 128)?;
        let user_id = self
            .user_of_openid(&request.appid, &request.openid)
            .await?
            .ok_or_else(|| PayError::UserNotFound {
                user_id: format!("openid {} under {}", request.openid, request.appid),
            })?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let queued = Queued {
            request,
            user_id,
            reply,
        };
        let stock_id = queued.request.stock_id.clone();
        let sender = self.issuer(&stock_id);
        if let Err(returned) = sender.send(queued).await {
            // The issuer is gone (its task ended abnormally): start a new one, retry once.
            self.forget_issuer(&stock_id);
            self.issuer(&stock_id)
                .send(returned.0)
                .await
                .map_err(|_| PayError::Busy {
                    what: "stock".to_owned(),
                })?;
        }
        answer.await.map_err(|_| PayError::Busy {
            what: "stock".to_owned(),
        })?
    }

    fn issuer(self: &Arc<Self>, stock_id: &str) -> tokio::sync::mpsc::Sender<Queued> {
        let mut issuers = self
            .stock_issuers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(sender) = issuers.get(stock_id)
            && !sender.is_closed()
        {
            return sender.clone();
        }
        let (sender, receiver) = tokio::sync::mpsc::channel(ISSUE_QUEUE_CAPACITY);
        issuers.insert(stock_id.to_owned(), sender.clone());
        let service = Arc::clone(self);
        let stock_id = stock_id.to_owned();
        tokio::spawn(async move { service.run_issuer(&stock_id, receiver).await });
        sender
    }

    fn forget_issuer(&self, stock_id: &str) {
        let mut issuers = self
            .stock_issuers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        issuers.remove(stock_id);
    }

    /// One stock's issuer: batches of waiting requests, each batch one unit of work.
    async fn run_issuer(&self, stock_id: &str, mut receiver: tokio::sync::mpsc::Receiver<Queued>) {
        while let Some(first) = receiver.recv().await {
            let mut batch = vec![first];
            while batch.len() < ISSUE_BATCH_MAX {
                match receiver.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let lock = self.stock_lock(stock_id);
            let _held = lock.lock().await;
            let answers = self.issue_batch(stock_id, &batch).await;
            for (queued, answer) in batch.into_iter().zip(answers) {
                // The asker may have gone away; its coupon stands either way.
                let _ = queued.reply.send(answer);
            }
        }
    }

    /// Decides and commits one batch; every request gets an answer.
    async fn issue_batch(&self, stock_id: &str, batch: &[Queued]) -> Vec<Result<Coupon, PayError>> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            match self.try_issue_batch(stock_id, batch).await {
                Ok(Some(answers)) => return answers,
                Ok(None) => {}
                Err(error) => return batch.iter().map(|_| Err(error.clone())).collect(),
            }
        }
        batch
            .iter()
            .map(|_| {
                Err(PayError::Busy {
                    what: "stock".to_owned(),
                })
            })
            .collect()
    }

    /// `Ok(None)` when a record changed under the batch (it is decided again).
    async fn try_issue_batch(
        &self,
        stock_id: &str,
        batch: &[Queued],
    ) -> Result<Option<Vec<Result<Coupon, PayError>>>, PayError> {
        let records_port = self.records_port();
        let found = load::<Stock>(&*records_port, kind::STOCK, stock_id).await?;
        let now = self.now();
        let mut answers: Vec<Result<Coupon, PayError>> = Vec::with_capacity(batch.len());
        let Some((mut stock, version)) = found else {
            return Ok(Some(
                batch
                    .iter()
                    .map(|_| {
                        Err(PayError::StockNotFound {
                            stock_id: stock_id.to_owned(),
                        })
                    })
                    .collect(),
            ));
        };
        let mut counts: HashMap<String, (UserCount, Expect)> = HashMap::new();
        let mut receipts: HashMap<String, Coupon> = HashMap::new();
        let mut writes = Vec::new();
        let day = crate::time::Day::of(now).iso();
        for queued in batch {
            let request = &queued.request;
            if stock.creator_mchid != request.creator_mchid {
                answers.push(Err(PayError::StockNotFound {
                    stock_id: stock_id.to_owned(),
                }));
                continue;
            }
            let receipt_key = format!("{stock_id}|{}", request.out_request_no);
            if let Some(coupon) = receipts.get(&receipt_key) {
                answers.push(same_request(coupon, request));
                continue;
            }
            if let Some((receipt, _)) =
                load::<IssueReceipt>(&*records_port, kind::COUPON_REQUEST, &receipt_key).await?
            {
                let coupon = load::<Coupon>(&*records_port, kind::COUPON, &receipt.coupon_id)
                    .await?
                    .map(|(coupon, _)| coupon);
                answers.push(match coupon {
                    Some(coupon) => same_request(&coupon, request),
                    None => Err(PayError::Busy {
                        what: "coupon".to_owned(),
                    }),
                });
                continue;
            }
            if stock.status != StockStatus::Running {
                answers.push(Err(PayError::StockNotActive {
                    reason: format!(
                        "批次不在发放状态: stock {stock_id} is {}",
                        stock.status.wire()
                    ),
                }));
                continue;
            }
            if now < stock.available_begin || now >= stock.available_end {
                answers.push(Err(PayError::StockNotActive {
                    reason: format!("stock {stock_id} issues only within its available window"),
                }));
                continue;
            }
            let today = stock.distributed_by_day.get(&day).copied().unwrap_or(0);
            let over_day = stock
                .max_amount_by_day
                .is_some_and(|by_day| today.saturating_add(stock.coupon_amount) > by_day);
            if stock.distributed_coupons >= stock.max_coupons || over_day {
                answers.push(Err(PayError::StockExhausted {
                    stock_id: stock_id.to_owned(),
                }));
                continue;
            }
            let user_id = &queued.user_id;
            if !counts.contains_key(user_id) {
                let count_key = format!("{stock_id}|{user_id}");
                let loaded = load::<UserCount>(&*records_port, kind::COUPON_COUNT, &count_key)
                    .await?
                    .map_or(
                        (UserCount::default(), Expect::Absent),
                        |(count, version)| (count, Expect::Version(version)),
                    );
                counts.insert(user_id.clone(), loaded);
            }
            let Some((count, _)) = counts.get_mut(user_id) else {
                continue;
            };
            if count.issued >= stock.max_coupons_per_user {
                answers.push(Err(PayError::CouponLimitPerUser {
                    limit: stock.max_coupons_per_user,
                }));
                continue;
            }
            count.issued += 1;
            stock.distributed_coupons += 1;
            // At most max_coupons × coupon_amount = max_amount, which `check_stock`
            // computed with a checked product: these sums stay in range.
            stock.distributed_amount += stock.coupon_amount;
            stock
                .distributed_by_day
                .insert(day.clone(), today + stock.coupon_amount);
            let coupon = Coupon {
                coupon_id: ids::new_coupon_id(),
                stock_id: stock_id.to_owned(),
                creator_mchid: stock.creator_mchid.clone(),
                name: stock.name.clone(),
                user_id: user_id.clone(),
                appid: request.appid.clone(),
                openid: request.openid.clone(),
                amount: stock.coupon_amount,
                transaction_minimum: stock.transaction_minimum,
                status: CouponStatus::Sended,
                available_begin: stock.available_begin,
                available_end: stock.available_end,
                no_cash: stock.no_cash,
                created_at: now,
                out_request_no: request.out_request_no.clone(),
                consumed: None,
            };
            writes.push(coupon_write(&coupon, Expect::Absent)?);
            writes.push(store::write(
                kind::COUPON_REQUEST,
                &receipt_key,
                Expect::Absent,
                &IssueReceipt {
                    coupon_id: coupon.coupon_id.clone(),
                    openid: request.openid.clone(),
                },
                vec![],
            )?);
            receipts.insert(receipt_key, coupon.clone());
            answers.push(Ok(coupon));
        }
        if writes.is_empty() {
            return Ok(Some(answers));
        }
        writes.push(stock_write(&stock, Expect::Version(version))?);
        for (user_id, (count, expect)) in &counts {
            writes.push(store::write(
                kind::COUPON_COUNT,
                &format!("{stock_id}|{user_id}"),
                *expect,
                count,
                vec![],
            )?);
        }
        if self.try_commit_records(writes).await? {
            Ok(Some(answers))
        } else {
            Ok(None)
        }
    }

    /// The `pay.stock_end` job: at the end of a stock's window its issued, unused coupons
    /// expire and what is left of its budget returns to the creator. Running it again
    /// changes nothing.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails (the job is retried).
    pub async fn end_stock(&self, stock_id: &str) -> Result<(), PayError> {
        let lock = self.stock_lock(stock_id);
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
            stock.ended_at = Some(now);
            if stock.status != StockStatus::Stopped {
                stock.status = StockStatus::Stopped;
                stock.stopped_at = Some(now);
            }
            let mut transfers = Vec::new();
            if !stock.no_cash {
                let budget = accounts::coupon_budget(stock_id)?;
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
            let write = WriteSet {
                batch: batch(transfers)?,
                records: vec![stock_write(&stock, Expect::Version(version))?],
                ..WriteSet::default()
            };
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
                    rows_max: EXPIRE_BATCH,
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

    /// A user claims a coupon of a running stock for themselves (a merchant's claim
    /// page); `client_ref` makes a repeated claim the same claim.
    ///
    /// # Errors
    ///
    /// As [`PayService::issue_coupon`].
    pub async fn claim_coupon(
        self: &Arc<Self>,
        user_id: &str,
        stock_id: &str,
        client_ref: &str,
    ) -> Result<Coupon, PayError> {
        check_text("client_ref", client_ref, 8, 64)?;
        let stock = load::<Stock>(&*self.records_port(), kind::STOCK, stock_id)
            .await?
            .map(|(stock, _)| stock)
            .ok_or_else(|| PayError::StockNotFound {
                stock_id: stock_id.to_owned(),
            })?;
        let creator = self
            .merchant_shared(&stock.creator_mchid)
            .await?
            .ok_or_else(|| PayError::MerchantNotFound {
                mchid: stock.creator_mchid.clone(),
            })?;
        let appid = creator.appids.first().cloned().ok_or_else(|| {
            PayError::rule("the stock's creator has no app to issue coupons under")
        })?;
        let openid = self.openid_remembered(&appid, user_id).await?;
        let reference = crate::service::sha256_hex(format!("{user_id}\n{client_ref}").as_bytes());
        self.issue_coupon(IssueRequest {
            stock_id: stock_id.to_owned(),
            creator_mchid: stock.creator_mchid,
            appid,
            openid,
            out_request_no: format!("claim-{}", &reference[..24]),
        })
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
        Ok(
            load::<CouponCallback>(&*self.records_port(), kind::COUPON_CALLBACK, mchid)
                .await?
                .map(|(callback, _)| callback),
        )
    }

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
        let mut stocks: HashMap<String, Option<Stock>> = HashMap::new();
        let mut usable = Vec::new();
        for coupon in self.coupons_of(user_id, COUPONS_CONSIDERED_MAX).await? {
            if coupon.status != CouponStatus::Sended {
                continue;
            }
            if !stocks.contains_key(&coupon.stock_id) {
                let stock = load::<Stock>(&*self.records_port(), kind::STOCK, &coupon.stock_id)
                    .await?
                    .map(|(stock, _)| stock);
                stocks.insert(coupon.stock_id.clone(), stock);
            }
            let Some(Some(stock)) = stocks.get(&coupon.stock_id) else {
                continue;
            };
            let fits = now >= coupon.available_begin
                && now < coupon.available_end
                && coupon.amount < order.total_minor
                && order.total_minor >= coupon.transaction_minimum
                && stock.available_merchants.contains(&order.mchid)
                && (stock.goods_tags.is_empty()
                    || order
                        .goods_tag
                        .as_ref()
                        .is_some_and(|tag| stock.goods_tags.contains(tag)));
            if fits {
                usable.push((coupon, stock.clone()));
            }
        }
        usable.sort_by_key(|(coupon, _)| {
            (
                std::cmp::Reverse(coupon.amount),
                coupon.available_end,
                coupon.coupon_id.clone(),
            )
        });
        Ok(usable)
    }

    /// The coupon a payment of `order` by `user_id` uses, with its record version.
    pub(crate) async fn pick_coupon(
        &self,
        user_id: &str,
        order: &Order,
        choice: &CouponChoice,
        now: Timestamp,
    ) -> Result<Option<(Coupon, Stock, u64)>, PayError> {
        let picked = match choice {
            CouponChoice::None => return Ok(None),
            CouponChoice::Best => self
                .usable_coupons(user_id, order, now)
                .await?
                .into_iter()
                .next(),
            CouponChoice::This(id) => {
                let found = self
                    .usable_coupons(user_id, order, now)
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
        let version = load::<Coupon>(&*self.records_port(), kind::COUPON, &coupon.coupon_id)
            .await?
            .map_or(0, |(_, version)| version);
        Ok(Some((coupon, stock, version)))
    }

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
                    rows_max: EXPIRE_BATCH,
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
        let found = self
            .records_port()
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

    /// The user an openid under an app names, if Plaza has seen it.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn user_of_openid(
        &self,
        appid: &str,
        openid: &str,
    ) -> Result<Option<String>, PayError> {
        let owner: Option<(serde_json::Value, u64)> = load(
            &*self.records_port(),
            kind::OPENID,
            &format!("{appid}|{openid}"),
        )
        .await?;
        Ok(owner.and_then(|(owner, _)| owner["user_id"].as_str().map(str::to_owned)))
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
