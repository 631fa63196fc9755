//! The payment core: [`PayService`], the unit-of-work plumbing every operation shares,
//! and the core's operations, one module per concern. The features (coupons, the
//! sandbox, payment codes, collection codes, profit sharing, partners, the day report)
//! build on the core from their own modules; the ones that change a payment take part in
//! it through the hooks (the `hooks` module), so the core knows none of them.
//!
//! Inside, the modules depend on each other in one direction only: `checks` (field
//! checks) and `identity` (users, sessions, openids, apps) at the bottom, then
//! `merchants` and `parties`, then `orders`, `settlement`, `notifications` and
//! `balances`, then `payment` and `refund`; `bills` stands alone.

mod balances;
mod bills;
mod checks;
mod identity;
mod merchants;
mod notifications;
mod orders;
mod parties;
mod payment;
mod refund;
mod settlement;

use plaza_identity::Identity;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use aws_lc_rs::digest;
use plaza_kernel::clock::{Clock, Timestamp};
use plaza_kernel::id::{AccountId, TransferId};
use plaza_kernel::money::Currency;
use plaza_kernel::record::{IndexRange, RecordStore, RecordWrite};
use plaza_ledger::{LedgerError, LedgerStore, NewAccount, NewTransfer, TransferBatch, WriteSet};
use serde::Serialize;

use crate::accounts::AccountSpec;
use crate::error::PayError;
use crate::hooks::PaymentHook;
use crate::model::{Merchant, Order};
use crate::outbound::OutboundPolicy;
use crate::sealing::KeySealer;
use crate::store::decode;

pub use checks::check_notify_url;
pub(crate) use checks::{check_chars, check_fee_rate, check_text};
pub(crate) use identity::payer_record;
pub use identity::{PASSWORD_ATTEMPTS_MAX, PASSWORD_LOCK_MS};
pub use merchants::{NewMerchant, TOPIC_MERCHANT, merchant_event};
pub use notifications::{JOB_NOTIFY, NOTIFY_RETRY_DELAYS_S, NotifyOutcome, next_retry_at};
pub(crate) use notifications::{new_notification, notification_write};
pub use orders::{JOB_EXPIRE, ORDER_EXPIRE_MS_DEFAULT, OrderRef, PrepayRequest};
pub(crate) use orders::{check_prepay, check_prepay_beyond_description, order_write};
pub use refund::{REFUNDS_PER_ORDER_MAX, RefundRequest};
pub use settlement::JOB_SETTLE;

/// How often a unit of work is retried when a record it read changed meanwhile.
pub(crate) const CONFLICT_RETRIES_MAX: usize = 16;

/// Payments kept for a listener that falls behind before it misses some.
const PAYMENT_FEED_CAPACITY: usize = 1_024;

/// A transfer's memo is cut to this many characters.
const MEMO_CHARS_MAX: usize = 80;

// The ledger takes memos of `MEMO_BYTES_MAX` bytes. Memos are made of ids and numbers
// Plaza checked, and any text in them passed `check_text`, which refuses 4-byte UTF-8:
// 80 characters of at most 3 bytes fit.
const _: () = assert!(MEMO_CHARS_MAX * 3 <= plaza_kernel::limits::MEMO_BYTES_MAX);

/// The payment domain's operations.
pub struct PayService {
    ledger: Arc<dyn LedgerStore>,
    records: Arc<dyn RecordStore>,
    clock: Arc<dyn Clock>,
    /// Apps, sessions and openids, shared with every system.
    identity: Arc<Identity>,
    /// Accounts known to be open, so each is opened once per process.
    opened: Mutex<HashSet<AccountId>>,
    /// Merchants as last written by this process, which is their only writer (one Plaza
    /// process writes a database at a time): every signed request needs its merchant,
    /// and this saves a database read per request.
    merchants: RwLock<HashMap<String, Arc<Merchant>>>,
    /// Every payment as it commits, for live views (a collection-code page). Best
    /// effort: a slow listener misses some and reads the list again.
    payments: tokio::sync::broadcast::Sender<Arc<Order>>,
    /// The features that take part in orders, payments and refunds, in call order; each
    /// keeps its own state (a coupon stock's issuer, the sandbox's scripts).
    hooks: Vec<Arc<dyn PaymentHook>>,
    /// Seals merchants' symmetric keys in their records.
    sealer: KeySealer,
    /// Which hosts a merchant may have Plaza call (notify and callback URLs).
    outbound: OutboundPolicy,
}

impl std::fmt::Debug for PayService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayService").finish_non_exhaustive()
    }
}

impl PayService {
    /// A service over the given stores with `hooks` taking part in its payments (see
    /// `PayService::new` for the usual set). `secret` derives openids and `sealer` seals
    /// merchants' keys in their records; both must stay the same across restarts.
    pub(crate) fn with_hooks(
        ledger: Arc<dyn LedgerStore>,
        records: Arc<dyn RecordStore>,
        clock: Arc<dyn Clock>,
        secret: Vec<u8>,
        sealer: KeySealer,
        hooks: Vec<Arc<dyn PaymentHook>>,
    ) -> Self {
        let identity = Arc::new(Identity::new(
            records.clone(),
            ledger.clone(),
            clock.clone(),
            secret,
        ));
        Self {
            ledger,
            records,
            identity,
            clock,
            opened: Mutex::new(HashSet::new()),
            merchants: RwLock::new(HashMap::new()),
            payments: tokio::sync::broadcast::channel(PAYMENT_FEED_CAPACITY).0,
            hooks,
            sealer,
            outbound: OutboundPolicy::default(),
        }
    }

    /// The same service, letting merchants have it call the hosts `policy` allows (the
    /// default allows public hosts only).
    #[must_use]
    pub fn with_outbound_policy(mut self, policy: OutboundPolicy) -> Self {
        self.outbound = policy;
        self
    }

    /// Which hosts merchants may have Plaza call.
    pub fn outbound_policy(&self) -> &OutboundPolicy {
        &self.outbound
    }

    /// The clock the service reads.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The installed hook of type `H`, which keeps that feature's state.
    pub(crate) fn hook<H: PaymentHook>(&self) -> Option<&H> {
        self.hooks.iter().find_map(|hook| {
            let hook: &dyn std::any::Any = hook.as_ref();
            hook.downcast_ref::<H>()
        })
    }

    /// Every installed hook, in call order.
    pub(crate) fn hooks(&self) -> impl Iterator<Item = &dyn PaymentHook> {
        self.hooks.iter().map(AsRef::as_ref)
    }

    /// The record store.
    pub(crate) fn records_port(&self) -> Arc<dyn RecordStore> {
        self.records.clone()
    }

    /// Opens a ledger account unless this process knows it is open.
    pub(crate) async fn open(&self, spec: &AccountSpec) -> Result<(), PayError> {
        let (id, account_kind) = spec;
        if self.opened.lock().is_ok_and(|opened| opened.contains(id)) {
            return Ok(());
        }
        self.ledger
            .open_account(NewAccount::new(id.clone(), *account_kind, Currency::CNY))
            .await?;
        if let Ok(mut opened) = self.opened.lock() {
            opened.insert(id.clone());
        }
        Ok(())
    }

    /// Commits a unit of work, handing back the ledger's refusal for the caller to read.
    pub(crate) async fn commit_write(&self, write: WriteSet) -> Result<(), LedgerError> {
        self.ledger.commit(write).await.map(|_| ())
    }

    /// Commits a unit of work; `Ok(false)` when a record it relied on changed meanwhile
    /// (the caller reads again and decides again).
    pub(crate) async fn try_commit_write(&self, write: WriteSet) -> Result<bool, PayError> {
        match self.commit_write(write).await {
            Ok(()) => Ok(true),
            Err(LedgerError::RecordConflict { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// Commits records only; `Ok(false)` on a version conflict.
    pub(crate) async fn try_commit_records(
        &self,
        records: Vec<RecordWrite>,
    ) -> Result<bool, PayError> {
        self.try_commit_write(records_only(records)).await
    }

    /// An account's balance, fen (0 for one never opened).
    pub(crate) async fn balance_of(&self, account: &AccountId) -> Result<i64, PayError> {
        Ok(self
            .ledger
            .account(account.clone())
            .await?
            .map_or(0, |account| account.balance_minor))
    }

    /// Records of `record_kind` in an index range, decoded.
    pub(crate) async fn listed<T: serde::de::DeserializeOwned>(
        &self,
        record_kind: &str,
        name: &str,
        from: String,
        to: String,
        rows_max: usize,
        newest_first: bool,
    ) -> Result<Vec<T>, PayError> {
        let found = self
            .records
            .range(IndexRange {
                kind: record_kind.to_owned(),
                name: name.to_owned(),
                from,
                to,
                after: None,
                rows_max,
                newest_first,
            })
            .await?;
        found.iter().map(|found| decode(&found.record)).collect()
    }

    /// Every record of `record_kind` under one index value, read page by page, oldest
    /// first.
    pub(crate) async fn all_under<T: serde::de::DeserializeOwned>(
        &self,
        record_kind: &str,
        name: &str,
        value: &str,
    ) -> Result<Vec<T>, PayError> {
        let mut range = IndexRange {
            kind: record_kind.to_owned(),
            name: name.to_owned(),
            from: value.to_owned(),
            to: format!("{value}\u{0}"),
            after: None,
            rows_max: 500,
            newest_first: false,
        };
        let mut all = Vec::new();
        loop {
            let page = self.records.range(range.clone()).await?;
            let Some(last) = page.last() else { break };
            range.after = Some((last.value.clone(), last.record.key.clone()));
            for found in &page {
                all.push(decode(&found.record)?);
            }
        }
        Ok(all)
    }
}

/// The SHA-256 of `bytes`, lower-case hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    digest::digest(&digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The digest of a request's content, to tell a retry (same content) from a reuse.
pub(crate) fn request_digest<T: Serialize>(request: &T) -> Result<String, PayError> {
    let text = serde_json::to_string(request).map_err(|error| PayError::Unavailable {
        reason: format!("request cannot be encoded: {error}"),
    })?;
    Ok(sha256_hex(text.as_bytes()))
}

fn transfer_id(text: String) -> Result<TransferId, PayError> {
    TransferId::parse(&text).map_err(|error| PayError::Unavailable {
        reason: format!("transfer id {text:?}: {error}"),
    })
}

/// A transfer of `amount_minor` fen, its memo cut to [`MEMO_CHARS_MAX`] characters.
pub(crate) fn transfer(
    id: String,
    from: &AccountId,
    to: &AccountId,
    amount_minor: i64,
    memo: &str,
) -> Result<NewTransfer, PayError> {
    Ok(NewTransfer {
        id: transfer_id(id)?,
        from: from.clone(),
        to: to.clone(),
        amount_minor,
        currency: Currency::CNY,
        memo: memo.chars().take(MEMO_CHARS_MAX).collect(),
    })
}

/// The batch of `transfers`, or none when there are none.
pub(crate) fn batch(transfers: Vec<NewTransfer>) -> Result<Option<TransferBatch>, PayError> {
    if transfers.is_empty() {
        return Ok(None);
    }
    TransferBatch::new(transfers)
        .map(Some)
        .map_err(PayError::from)
}

/// A unit of work of records only.
pub(crate) fn records_only(records: Vec<RecordWrite>) -> WriteSet {
    WriteSet {
        records,
        ..WriteSet::default()
    }
}

/// Whether the ledger refused for want of money in `account`.
fn is_insufficient(error: &LedgerError, account: &AccountId) -> bool {
    matches!(error, LedgerError::InsufficientFunds { account: a, .. } if a == account)
}

/// The payload of an order's outbox events.
fn event_payload(order: &Order) -> Result<String, PayError> {
    serde_json::to_string(&serde_json::json!({
        "mchid": order.mchid,
        "out_trade_no": order.out_trade_no,
        "transaction_id": order.transaction_id,
        "total": order.total_minor,
        "refunded": order.refunded_minor,
    }))
    .map_err(|error| PayError::Unavailable {
        reason: error.to_string(),
    })
}
