//! Cash coupons (代金券, the "favor" API): stocks (批次) with their rules and budget, and
//! coupons issued from them to users.
//!
//! A prepaid stock (`no_cash` false) reserves its whole budget from the creator's
//! available balance into the stock's own ledger account when it is created; stopping it
//! returns what no issued coupon can still claim. Issuing is serialised per stock in this
//! process (one Plaza process writes a database), and every issue is one unit of work that
//! checks the stock's and the user's counts by version, so limits hold exactly under any
//! concurrency.
//!
//! Coupons take part in payments as a hook (`Coupons`, which also keeps the issuers):
//! at payment the payer's coupon is the discount and is marked used in the payment's unit
//! of work; at a refund the coupon's share goes back to the stock's creator.
//!
//! By concern: `stocks` (create, change, end, the creator's callback), `issuing` (the
//! per-stock issuer), `redeeming` (the payment hook and the payer's usable coupons),
//! `report` (what stocks did).

mod issuing;
mod redeeming;
mod report;
mod stocks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use plaza_kernel::clock::Timestamp;
use plaza_kernel::record::{Expect, IndexEntry, RecordStore, RecordWrite};
use serde::{Deserialize, Serialize};

pub use crate::model::{Consumption, Coupon, CouponChoice, CouponStatus};
pub use report::CouponNumbers;

use crate::error::PayError;
use crate::service::PayService;
use crate::store::{self, kind, time_value};

/// Job kind: end a stock at the end of its window (payload: the stock id).
pub const JOB_STOCK_END: &str = "pay.stock_end";

/// Coupons of one stock read in one page, and expired in one unit of work when the
/// stock ends.
const STOCK_COUPONS_PER_PAGE: usize = 200;

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
    #[serde(rename = "max_amount")]
    pub max_amount_minor: i64,
    /// Issued value per day at most, fen.
    #[serde(rename = "max_amount_by_day")]
    pub max_amount_by_day_minor: Option<i64>,
    /// Coupons one user may get.
    pub max_coupons_per_user: u64,
    /// Each coupon's value, fen.
    #[serde(rename = "coupon_amount")]
    pub coupon_amount_minor: i64,
    /// The least order total a coupon applies to, fen (0: any order).
    #[serde(rename = "transaction_minimum")]
    pub transaction_minimum_minor: i64,
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
    #[serde(rename = "distributed_amount")]
    pub distributed_amount_minor: i64,
    /// Value issued per day (`YYYY-MM-DD` → fen), for the daily budget.
    #[serde(rename = "distributed_by_day")]
    pub distributed_by_day_minor: HashMap<String, i64>,
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
    #[serde(rename = "max_amount")]
    pub max_amount_minor: i64,
    /// Daily budget, fen.
    #[serde(rename = "max_amount_by_day")]
    pub max_amount_by_day_minor: Option<i64>,
    /// Per user.
    pub max_coupons_per_user: u64,
    /// Each coupon's value, fen.
    #[serde(rename = "coupon_amount")]
    pub coupon_amount_minor: i64,
    /// The threshold, fen.
    #[serde(rename = "transaction_minimum")]
    pub transaction_minimum_minor: i64,
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

/// Coupons in this process: the payment hook, and the state issuing keeps (a lock and an
/// issuer task per stock). The service holds it in its hook list.
pub(crate) struct Coupons {
    /// The record store, for what a payment reads (the payer's coupons, the callback).
    records: Arc<dyn RecordStore>,
    /// One lock per coupon stock: issuing from a stock is serialised in this process.
    stock_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Each coupon stock's issuer: requests queue here and are committed in batches.
    issuers: Mutex<HashMap<String, tokio::sync::mpsc::Sender<issuing::Queued>>>,
}

impl Coupons {
    /// Coupons over `records`, with no issuer running yet.
    pub(crate) fn new(records: Arc<dyn RecordStore>) -> Self {
        Self {
            records,
            stock_locks: Mutex::new(HashMap::new()),
            issuers: Mutex::new(HashMap::new()),
        }
    }

    /// The lock that serialises changes to one stock in this process.
    fn stock_lock(&self, stock_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.stock_locks.lock().unwrap_or_else(|poisoned| {
            // A panic elsewhere while holding this map cannot leave it inconsistent:
            // entries are only ever inserted whole.
            poisoned.into_inner()
        });
        locks.entry(stock_id.to_owned()).or_default().clone()
    }
}

impl std::fmt::Debug for Coupons {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coupons").finish_non_exhaustive()
    }
}

impl PayService {
    /// The coupons hook this service was made with.
    fn coupons(&self) -> Result<&Coupons, PayError> {
        self.hook::<Coupons>().ok_or_else(|| PayError::Unavailable {
            reason: "this payment service was made without coupons".to_owned(),
        })
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
