//! The payment service: every operation of the domain, each one unit of work.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use aws_lc_rs::digest;
use plaza_kernel::clock::{Clock, Timestamp};
use plaza_kernel::id::{AccountId, TransferId};
use plaza_kernel::money::Currency;
use plaza_kernel::queue::{NewEvent, NewJob};
use plaza_kernel::record::{Expect, IndexEntry, IndexRange, RecordStore, RecordWrite};
use plaza_ledger::{
    LedgerError, LedgerStore, NewAccount, NewTransfer, Transfer, TransferBatch, WriteSet,
};
use serde::{Deserialize, Serialize};

use crate::accounts::{self, AccountSpec};
use crate::error::PayError;
use crate::ids;
use crate::model::{
    App, DeliveryAttempt, DeliveryState, FundsAccount, Merchant, MerchantKey, MerchantKind,
    Notification, NotificationSubject, Order, Refund, RefundStatus, Session, Settlement, SignMode,
    TradeState, TradeType, User, order_key, refund_key,
};
use crate::money::{self, check_amount};
use crate::outbound::{self, OutboundPolicy};
use crate::password;
use crate::sealing::KeySealer;
use crate::store::{self, decode, find_one, index, kind, load, time_value};
use crate::time::Day;

/// Job kind: deliver a notification (payload: its id).
pub const JOB_NOTIFY: &str = "pay.notify";
/// Job kind: close an order whose `time_expire` passed (payload: the order's key).
pub const JOB_EXPIRE: &str = "pay.expire";
/// Job kind: settle a merchant's day (payload: `{"mchid", "day"}`).
pub const JOB_SETTLE: &str = "pay.settle";

/// WeChat's notification retry schedule after a failed delivery, in seconds: 15 retries
/// over about 24 hours.
pub const NOTIFY_RETRY_DELAYS_S: [i64; 15] = [
    15, 15, 30, 180, 600, 1_200, 1_800, 1_800, 1_800, 3_600, 10_800, 10_800, 10_800, 21_600, 21_600,
];

/// Wrong payment passwords in a row before paying is locked.
pub const PASSWORD_ATTEMPTS_MAX: u32 = 5;
/// How long paying stays locked after too many wrong passwords: three hours.
pub const PASSWORD_LOCK_MS: i64 = 3 * 3_600_000;
/// How long an unpaid order stays payable when the merchant sets no `time_expire`.
pub const ORDER_EXPIRE_MS_DEFAULT: i64 = 2 * 3_600_000;
/// Settlement runs at 02:00 the day after the payments (T+1).
const SETTLE_DELAY_AFTER_DAY_MS: i64 = 2 * 3_600_000;
/// Refunds one order may have.
pub const REFUNDS_PER_ORDER_MAX: u32 = 50;
/// How often a unit of work is retried when a record it read changed meanwhile.
pub(crate) const CONFLICT_RETRIES_MAX: usize = 16;
/// A new merchant's settings.
#[derive(Debug, Clone)]
pub struct NewMerchant {
    /// Its name.
    pub name: String,
    /// An app to bind: existing, or registered now; `None` makes a new one.
    pub appid: Option<String>,
    /// The merchant API key it signs with.
    pub serial_no: String,
    /// The key's public half, SPKI PEM.
    pub public_key_pem: String,
    /// The fee in basis points.
    pub fee_rate_bps: u32,
    /// Which identity signs its notifications.
    pub sign_mode: SignMode,
}

/// A merchant's prepay request, validated for shape by the surface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrepayRequest {
    /// The merchant (from the request, checked against the signer).
    pub mchid: String,
    /// The app.
    pub appid: String,
    /// How the payer pays.
    pub trade_type: TradeType,
    /// Goods description.
    pub description: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// When the order closes itself if unpaid.
    pub time_expire: Option<Timestamp>,
    /// Echoed back.
    pub attach: Option<String>,
    /// Where notifications go.
    pub notify_url: String,
    /// Coupon tag.
    pub goods_tag: Option<String>,
    /// Amount in fen.
    pub total_minor: i64,
    /// `CNY`.
    pub currency: String,
    /// JSAPI: who must pay.
    pub payer_openid: Option<String>,
    /// `scene_info.payer_client_ip`.
    pub payer_client_ip: Option<String>,
    /// `scene_info.device_id`.
    pub device_id: Option<String>,
    /// `settle_info.profit_sharing`.
    pub profit_sharing: bool,
    /// Partner orders: the service provider placing it; [`PrepayRequest::mchid`] is
    /// then the sub-merchant and [`PrepayRequest::appid`] the provider's `sp_appid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sp_mchid: Option<String>,
    /// Partner orders: the sub-merchant's app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_appid: Option<String>,
    /// Partner JSAPI: the payer's openid under `sub_appid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer_sub_openid: Option<String>,
}

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

/// How a payer names the order to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRef {
    /// A JSAPI/App/H5 prepay id.
    PrepayId(String),
    /// The token of a Native `code_url`.
    CodeToken(String),
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyOutcome {
    /// The merchant answered 2xx.
    Delivered,
    /// Try again then.
    RetryAt(Timestamp),
    /// No retries left.
    GaveUp,
}

#[derive(Debug, Serialize, Deserialize)]
struct SettlePayload {
    mchid: String,
    day: String,
}

/// The payment domain's operations.
pub struct PayService {
    ledger: Arc<dyn LedgerStore>,
    records: Arc<dyn RecordStore>,
    clock: Arc<dyn Clock>,
    secret: Vec<u8>,
    /// Accounts known to be open, so each is opened once per process.
    opened: Mutex<HashSet<AccountId>>,
    /// Merchants as last written by this process, which is their only writer (one Plaza
    /// process writes a database at a time): every signed request needs its merchant,
    /// and this saves a database read per request.
    merchants: RwLock<HashMap<String, Arc<Merchant>>>,
    /// Every payment as it commits, for live views (a collection-code page). Best
    /// effort: a slow listener misses some and reads the list again.
    payments: tokio::sync::broadcast::Sender<Arc<Order>>,
    /// One lock per coupon stock: issuing from a stock is serialised in this process.
    pub(crate) stock_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Each coupon stock's issuer: requests queue here and are committed in batches.
    pub(crate) stock_issuers:
        Mutex<HashMap<String, tokio::sync::mpsc::Sender<crate::coupons::Queued>>>,
    /// Sandbox scripts by mchid (the store holds them; this is read on every prepay).
    pub(crate) scripts: RwLock<HashMap<String, Arc<crate::sandbox::Script>>>,
    /// Seals merchants' symmetric keys in their records.
    sealer: KeySealer,
    /// Which hosts a merchant may have Plaza call (notify and callback URLs).
    outbound: OutboundPolicy,
}

/// Payments kept for a listener that falls behind before it misses some.
const PAYMENT_FEED_CAPACITY: usize = 1_024;

impl std::fmt::Debug for PayService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayService").finish_non_exhaustive()
    }
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    digest::digest(&digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

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
        memo: memo.chars().take(80).collect(),
    })
}

pub(crate) fn batch(transfers: Vec<NewTransfer>) -> Result<Option<TransferBatch>, PayError> {
    if transfers.is_empty() {
        return Ok(None);
    }
    TransferBatch::new(transfers)
        .map(Some)
        .map_err(PayError::from)
}

fn check_password_shape(password: &str) -> Result<(), PayError> {
    if password.len() == 6 && password.bytes().all(|byte| byte.is_ascii_digit()) {
        Ok(())
    } else {
        Err(PayError::invalid(
            "password",
            "the payment password is exactly 6 digits",
        ))
    }
}

pub(crate) fn check_text(
    field: &str,
    value: &str,
    min_chars: usize,
    max_chars: usize,
) -> Result<(), PayError> {
    check_chars(field, value, min_chars, max_chars)?;
    // WeChat Pay takes 1–3-byte UTF-8 only in its fields; Plaza's own text (notes)
    // is checked with `check_chars` and takes any Unicode.
    if value.chars().any(|c| u32::from(c) > 0xFFFF) {
        return Err(PayError::invalid(
            field,
            "4-byte UTF-8 characters (such as emoji) are not supported",
        ));
    }
    Ok(())
}

/// Any text of `min_chars` to `max_chars` characters, 4-byte UTF-8 (emoji) included.
pub(crate) fn check_chars(
    field: &str,
    value: &str,
    min_chars: usize,
    max_chars: usize,
) -> Result<(), PayError> {
    let chars = value.chars().count();
    if chars < min_chars || chars > max_chars {
        return Err(PayError::invalid(
            field,
            format!("must be {min_chars}–{max_chars} characters, got {chars}"),
        ));
    }
    Ok(())
}

fn check_merchant_no(
    field: &str,
    value: &str,
    min_chars: usize,
    max_chars: usize,
) -> Result<(), PayError> {
    check_text(field, value, min_chars, max_chars)?;
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*'))
    {
        return Err(PayError::invalid(
            field,
            "only letters, digits and _ - | * are allowed",
        ));
    }
    Ok(())
}

/// Checks a notify URL's form: absolute http(s), a host, no query string, no
/// credentials. Whether Plaza may call its host is [`OutboundPolicy::check_url`]'s.
///
/// # Errors
///
/// [`PayError::Invalid`] naming `field`.
pub fn check_notify_url(field: &str, url: &str) -> Result<(), PayError> {
    outbound::url_host(field, url).map(|_| ())
}

fn is_insufficient(error: &LedgerError, account: &AccountId) -> bool {
    matches!(error, LedgerError::InsufficientFunds { account: a, .. } if a == account)
}

impl PayService {
    /// A service over the given stores. `secret` derives openids and `sealer` seals
    /// merchants' keys in their records; both must stay the same across restarts (they
    /// are kept in the data directory).
    pub fn new(
        ledger: Arc<dyn LedgerStore>,
        records: Arc<dyn RecordStore>,
        clock: Arc<dyn Clock>,
        secret: Vec<u8>,
        sealer: KeySealer,
    ) -> Self {
        Self {
            ledger,
            records,
            clock,
            secret,
            opened: Mutex::new(HashSet::new()),
            merchants: RwLock::new(HashMap::new()),
            payments: tokio::sync::broadcast::channel(PAYMENT_FEED_CAPACITY).0,
            stock_locks: Mutex::new(HashMap::new()),
            stock_issuers: Mutex::new(HashMap::new()),
            scripts: RwLock::new(HashMap::new()),
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

    /// Payments from now on, as they commit.
    pub fn subscribe_payments(&self) -> tokio::sync::broadcast::Receiver<Arc<Order>> {
        self.payments.subscribe()
    }

    /// The clock the service reads.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

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

    async fn commit(&self, write: WriteSet) -> Result<plaza_ledger::Committed, LedgerError> {
        self.ledger.commit(write).await
    }

    /// The record store.
    pub(crate) fn records_port(&self) -> Arc<dyn RecordStore> {
        self.records.clone()
    }

    /// Commits records only; `Ok(false)` on a version conflict.
    pub(crate) async fn try_commit_records(
        &self,
        records: Vec<RecordWrite>,
    ) -> Result<bool, PayError> {
        self.try_commit(records_only(records)).await
    }

    /// Commits a unit of work; `Ok(false)` on a version conflict.
    pub(crate) async fn try_commit_write(&self, write: WriteSet) -> Result<bool, PayError> {
        self.try_commit(write).await
    }

    /// Commits a unit of work, handing back the ledger's refusal for the caller to read.
    pub(crate) async fn commit_write(&self, write: WriteSet) -> Result<(), LedgerError> {
        self.commit(write).await.map(|_| ())
    }

    /// An account's balance, fen (0 for one never opened).
    pub(crate) async fn balance_of(&self, account: &AccountId) -> Result<i64, PayError> {
        self.balance(account).await
    }

    /// The user an app's openid names, remembering it for later lookups (profit sharing
    /// names personal receivers by openid).
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn openid_remembered(&self, appid: &str, user_id: &str) -> Result<String, PayError> {
        let openid = self.openid(appid, user_id);
        self.try_commit_records(vec![openid_write(appid, &openid, user_id)?])
            .await?;
        Ok(openid)
    }

    /// Commits a unit of work; `Ok(false)` when a record it relied on changed meanwhile
    /// (the caller reads again and decides again).
    async fn try_commit(&self, write: WriteSet) -> Result<bool, PayError> {
        match self.commit(write).await {
            Ok(_) => Ok(true),
            Err(LedgerError::RecordConflict { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    // ---- apps and merchants ------------------------------------------------------

    /// Registers an app under `appid` (or a new one).
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`] for a malformed appid.
    pub async fn create_app(&self, name: &str, appid: Option<&str>) -> Result<App, PayError> {
        check_text("name", name, 1, 64)?;
        if let Some(appid) = appid {
            check_appid("appid", appid)?;
            if let Some((app, _)) = load::<App>(&*self.records, kind::APP, appid).await? {
                return Ok(app);
            }
        }
        for _ in 0..CONFLICT_RETRIES_MAX {
            let app = App {
                appid: appid.map_or_else(ids::new_appid, str::to_owned),
                name: name.to_owned(),
                created_at: self.now(),
            };
            let write = store::write(kind::APP, &app.appid, Expect::Absent, &app, vec![])?;
            match self.commit(records_only(vec![write])).await {
                Ok(_) => return Ok(app),
                Err(LedgerError::RecordConflict { .. }) if appid.is_none() => {}
                Err(LedgerError::RecordConflict { .. }) => {
                    return self.app(&app.appid).await?.ok_or(PayError::Busy {
                        what: "app".to_owned(),
                    });
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(PayError::Busy {
            what: "app".to_owned(),
        })
    }

    /// One app.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn app(&self, appid: &str) -> Result<Option<App>, PayError> {
        Ok(load::<App>(&*self.records, kind::APP, appid)
            .await?
            .map(|(app, _)| app))
    }

    /// Creates a merchant with a new mchid and APIv3 key, bound to an app.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`] for bad settings.
    pub async fn create_merchant(&self, new: NewMerchant) -> Result<Merchant, PayError> {
        self.create_signing_merchant(new, MerchantKind::Direct, 0)
            .await
    }

    /// Creates a merchant account that signs its own requests: a direct merchant or a
    /// service provider.
    pub(crate) async fn create_signing_merchant(
        &self,
        new: NewMerchant,
        kind: MerchantKind,
        commission_bps: u32,
    ) -> Result<Merchant, PayError> {
        check_text("name", &new.name, 1, 64)?;
        check_serial("serial_no", &new.serial_no)?;
        check_fee_rate(new.fee_rate_bps)?;
        let app = self.create_app(&new.name, new.appid.as_deref()).await?;
        let now = self.now();
        self.insert_merchant(|mchid| Merchant {
            mchid,
            name: new.name.clone(),
            appids: vec![app.appid.clone()],
            keys: vec![MerchantKey {
                serial_no: new.serial_no.to_ascii_uppercase(),
                public_key_pem: new.public_key_pem.clone(),
                added_at: now,
            }],
            apiv3_key: ids::random_alnum(32),
            fee_rate_bps: new.fee_rate_bps,
            sign_mode: new.sign_mode,
            created_at: now,
            kind,
            provider: None,
            commission_bps,
            apiv2_key: ids::random_alnum(32),
            owner_user_id: None,
            collection_token: None,
        })
        .await
    }

    /// Writes a new merchant account under a fresh mchid (drawn again on a collision)
    /// and opens its available balance.
    pub(crate) async fn insert_merchant(
        &self,
        build: impl Fn(String) -> Merchant,
    ) -> Result<Merchant, PayError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let merchant = build(ids::new_mchid());
            self.open(&accounts::available(&merchant.mchid)?).await?;
            let write = self.merchant_write(&merchant, Expect::Absent)?;
            if self.commit_merchant(write, &merchant).await? {
                return Ok(merchant);
            }
        }
        Err(PayError::Busy {
            what: "merchant".to_owned(),
        })
    }

    /// One merchant.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn merchant(&self, mchid: &str) -> Result<Option<Merchant>, PayError> {
        Ok(self
            .merchant_shared(mchid)
            .await?
            .map(|merchant| Merchant::clone(&merchant)))
    }

    /// One merchant, shared rather than copied (every signed request needs one).
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn merchant_shared(&self, mchid: &str) -> Result<Option<Arc<Merchant>>, PayError> {
        if let Some(merchant) = self
            .merchants
            .read()
            .ok()
            .and_then(|cache| cache.get(mchid).cloned())
        {
            return Ok(Some(merchant));
        }
        let found = match load::<Merchant>(&*self.records, kind::MERCHANT, mchid).await? {
            Some((stored, _)) => Some(Arc::new(self.opened(stored)?)),
            None => None,
        };
        if let Some(merchant) = &found
            && let Ok(mut cache) = self.merchants.write()
        {
            cache.insert(merchant.mchid.clone(), merchant.clone());
        }
        Ok(found)
    }

    fn remember(&self, merchant: &Merchant) {
        if let Ok(mut cache) = self.merchants.write() {
            cache.insert(merchant.mchid.clone(), Arc::new(merchant.clone()));
        }
    }

    /// Commits a merchant's record and keeps the cache in step: the merchant as written
    /// on success, nothing (read again) otherwise. `Ok(false)` on a version conflict.
    pub(crate) async fn commit_merchant(
        &self,
        write: RecordWrite,
        merchant: &Merchant,
    ) -> Result<bool, PayError> {
        let committed = self.try_commit(records_only(vec![write])).await;
        match &committed {
            Ok(true) => self.remember(merchant),
            _ => self.forget(&merchant.mchid),
        }
        committed
    }

    fn forget(&self, mchid: &str) {
        if let Ok(mut cache) = self.merchants.write() {
            cache.remove(mchid);
        }
    }

    /// Merchants, oldest first.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn merchants(&self, rows_max: usize) -> Result<Vec<Merchant>, PayError> {
        self.listed_merchants(index::CREATED, String::new(), "~".to_owned(), rows_max)
            .await
    }

    /// Merchants by an index range, oldest first, their keys opened.
    pub(crate) async fn listed_merchants(
        &self,
        name: &str,
        from: String,
        to: String,
        rows_max: usize,
    ) -> Result<Vec<Merchant>, PayError> {
        let stored: Vec<Merchant> = self
            .listed(kind::MERCHANT, name, from, to, rows_max, false)
            .await?;
        stored
            .into_iter()
            .map(|merchant| self.opened(merchant))
            .collect()
    }

    /// The merchant an index entry names, its keys opened.
    pub(crate) async fn found_merchant(
        &self,
        name: &str,
        value: &str,
    ) -> Result<Option<Merchant>, PayError> {
        match find_one::<Merchant>(&*self.records, kind::MERCHANT, name, value).await? {
            Some((stored, _)) => Ok(Some(self.opened(stored)?)),
            None => Ok(None),
        }
    }

    /// A merchant's record as stored: its keys sealed.
    fn merchant_write(&self, merchant: &Merchant, expect: Expect) -> Result<RecordWrite, PayError> {
        let mut stored = merchant.clone();
        stored.apiv3_key = self.sealer.seal(
            &merchant.apiv3_key,
            &key_context(&merchant.mchid, "apiv3_key"),
        )?;
        stored.apiv2_key = self.sealer.seal(
            &merchant.apiv2_key,
            &key_context(&merchant.mchid, "apiv2_key"),
        )?;
        store::write(
            kind::MERCHANT,
            &merchant.mchid,
            expect,
            &stored,
            merchant_index(merchant),
        )
    }

    /// A merchant as read from its record, its keys opened.
    fn opened(&self, mut merchant: Merchant) -> Result<Merchant, PayError> {
        merchant.apiv3_key = self.sealer.open(
            &merchant.apiv3_key,
            &key_context(&merchant.mchid, "apiv3_key"),
        )?;
        merchant.apiv2_key = self.sealer.open(
            &merchant.apiv2_key,
            &key_context(&merchant.mchid, "apiv2_key"),
        )?;
        Ok(merchant)
    }

    /// Seals the keys of merchant records written before keys were sealed (run at
    /// start); answers how many records it sealed.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn seal_stored_keys(&self) -> Result<usize, PayError> {
        let mut range = IndexRange {
            kind: kind::MERCHANT.to_owned(),
            name: index::CREATED.to_owned(),
            from: String::new(),
            to: "~".to_owned(),
            after: None,
            rows_max: 500,
            newest_first: false,
        };
        let mut sealed = 0;
        loop {
            let page = self.records.range(range.clone()).await?;
            let Some(last) = page.last() else { break };
            range.after = Some((last.value.clone(), last.record.key.clone()));
            for found in &page {
                let stored: Merchant = decode(&found.record)?;
                if KeySealer::is_sealed(&stored.apiv3_key)
                    && KeySealer::is_sealed(&stored.apiv2_key)
                {
                    continue;
                }
                let merchant = self.opened(stored)?;
                let write =
                    self.merchant_write(&merchant, Expect::Version(found.record.version))?;
                // A conflict means someone wrote it meanwhile, sealed.
                if self.commit_merchant(write, &merchant).await? {
                    sealed += 1;
                }
            }
        }
        Ok(sealed)
    }

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

    async fn update_merchant(
        &self,
        mchid: &str,
        change: impl Fn(&mut Merchant) -> Result<bool, PayError>,
    ) -> Result<Merchant, PayError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((stored, version)) =
                load::<Merchant>(&*self.records, kind::MERCHANT, mchid).await?
            else {
                return Err(PayError::MerchantNotFound {
                    mchid: mchid.to_owned(),
                });
            };
            let mut merchant = self.opened(stored)?;
            if !change(&mut merchant)? {
                return Ok(merchant);
            }
            let write = self.merchant_write(&merchant, Expect::Version(version))?;
            if self.commit_merchant(write, &merchant).await? {
                return Ok(merchant);
            }
        }
        Err(PayError::Busy {
            what: "merchant".to_owned(),
        })
    }

    /// Registers another merchant API key (a merchant bringing its own key pair).
    ///
    /// # Errors
    ///
    /// [`PayError::MerchantNotFound`], or [`PayError::Invalid`] for a bad serial.
    pub async fn add_merchant_key(
        &self,
        mchid: &str,
        serial_no: &str,
        public_key_pem: &str,
    ) -> Result<Merchant, PayError> {
        check_serial("serial_no", serial_no)?;
        let now = self.now();
        self.update_merchant(mchid, |merchant| {
            if merchant.key(serial_no).is_some() {
                return Err(PayError::invalid(
                    "serial_no",
                    "a key with this serial is registered",
                ));
            }
            merchant.keys.push(MerchantKey {
                serial_no: serial_no.to_ascii_uppercase(),
                public_key_pem: public_key_pem.to_owned(),
                added_at: now,
            });
            Ok(true)
        })
        .await
    }

    /// Binds another app to a merchant.
    ///
    /// # Errors
    ///
    /// [`PayError::MerchantNotFound`] or [`PayError::AppNotFound`].
    pub async fn bind_app(&self, mchid: &str, appid: &str) -> Result<Merchant, PayError> {
        if self.app(appid).await?.is_none() {
            return Err(PayError::AppNotFound {
                appid: appid.to_owned(),
            });
        }
        self.update_merchant(mchid, |merchant| {
            if merchant.appids.iter().any(|bound| bound == appid) {
                return Ok(false);
            }
            merchant.appids.push(appid.to_owned());
            Ok(true)
        })
        .await
    }

    /// Sets which identity signs a merchant's notifications; a no-op when unchanged.
    ///
    /// # Errors
    ///
    /// [`PayError::MerchantNotFound`].
    pub async fn set_sign_mode(&self, mchid: &str, mode: SignMode) -> Result<Merchant, PayError> {
        self.update_merchant(mchid, |merchant| {
            let changed = merchant.sign_mode != mode;
            merchant.sign_mode = mode;
            Ok(changed)
        })
        .await
    }

    /// A merchant's available balance, fen.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn available_balance(&self, mchid: &str) -> Result<i64, PayError> {
        self.balance(&accounts::available(mchid)?.0).await
    }

    /// A merchant's money of `day` not yet settled (net of fees, and the fees), fen.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn pending_balance(&self, mchid: &str, day: Day) -> Result<(i64, i64), PayError> {
        let net = self.balance(&accounts::pending(mchid, day)?.0).await?;
        let fee = self.balance(&accounts::fee_held(mchid, day)?.0).await?;
        Ok((net, fee))
    }

    async fn balance(&self, account: &AccountId) -> Result<i64, PayError> {
        Ok(self
            .ledger
            .account(account.clone())
            .await?
            .map_or(0, |account| account.balance_minor))
    }

    // ---- users -------------------------------------------------------------------

    /// Creates a payer with a wallet and a 6-digit payment password.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`] for a bad name or password.
    pub async fn create_user(&self, name: &str, password: &str) -> Result<User, PayError> {
        check_text("name", name, 1, 64)?;
        check_password_shape(password)?;
        let salt = ids::random_hex(32);
        let password_hash = password::hash_off_runtime(password, &salt).await?;
        let now = self.now();
        for _ in 0..CONFLICT_RETRIES_MAX {
            let user = User {
                user_id: ids::new_user_id(),
                name: name.to_owned(),
                password_hash: password_hash.clone(),
                password_salt: salt.clone(),
                password_rounds: password::PASSWORD_ROUNDS,
                failed_password_count: 0,
                locked_until: None,
                created_at: now,
                password_free_limit_minor: crate::model::PASSWORD_FREE_LIMIT_MINOR_DEFAULT,
            };
            self.open(&accounts::wallet(&user.user_id)?).await?;
            let write = store::write(
                kind::USER,
                &user.user_id,
                Expect::Absent,
                &user,
                vec![IndexEntry::new(index::CREATED, time_value(now.unix_ms()))],
            )?;
            if self.try_commit(records_only(vec![write])).await? {
                return Ok(user);
            }
        }
        Err(PayError::Busy {
            what: "user".to_owned(),
        })
    }

    /// One user.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn user(&self, user_id: &str) -> Result<Option<User>, PayError> {
        Ok(load::<User>(&*self.records, kind::USER, user_id)
            .await?
            .map(|(user, _)| user))
    }

    /// Users, oldest first.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn users(&self, rows_max: usize) -> Result<Vec<User>, PayError> {
        self.listed(
            kind::USER,
            index::CREATED,
            String::new(),
            "~".to_owned(),
            rows_max,
            false,
        )
        .await
    }

    /// The user's openid under `appid`.
    pub fn openid(&self, appid: &str, user_id: &str) -> String {
        ids::openid(&self.secret, appid, user_id)
    }

    /// A user's wallet balance, fen.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn wallet_balance(&self, user_id: &str) -> Result<i64, PayError> {
        self.balance(&accounts::wallet(user_id)?.0).await
    }

    /// Sandbox: puts money into a wallet from the bank, idempotent by `request_id`.
    ///
    /// # Errors
    ///
    /// [`PayError::UserNotFound`], or [`PayError::Invalid`] for a bad amount.
    pub async fn top_up(
        &self,
        user_id: &str,
        amount_minor: i64,
        request_id: &str,
    ) -> Result<i64, PayError> {
        check_top_up(amount_minor, request_id)?;
        if self.user(user_id).await?.is_none() {
            return Err(PayError::UserNotFound {
                user_id: user_id.to_owned(),
            });
        }
        let wallet = accounts::wallet(user_id)?;
        self.credit_from_bank(
            &wallet,
            &format!("topup:{user_id}:{request_id}"),
            amount_minor,
        )
        .await?;
        self.wallet_balance(user_id).await
    }

    /// Sandbox: puts money into a merchant's available balance from outside (to fund
    /// coupon budgets); idempotent on `request_id`.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`], [`PayError::MerchantNotFound`].
    pub async fn top_up_merchant(
        &self,
        mchid: &str,
        amount_minor: i64,
        request_id: &str,
    ) -> Result<i64, PayError> {
        check_top_up(amount_minor, request_id)?;
        if self.merchant_shared(mchid).await?.is_none() {
            return Err(PayError::MerchantNotFound {
                mchid: mchid.to_owned(),
            });
        }
        let available = accounts::available(mchid)?;
        self.credit_from_bank(
            &available,
            &format!("topup:{mchid}:{request_id}"),
            amount_minor,
        )
        .await?;
        self.available_balance(mchid).await
    }

    /// Moves money in from outside (the bank account), idempotent by `transfer_id`.
    async fn credit_from_bank(
        &self,
        to: &AccountSpec,
        transfer_id: &str,
        amount_minor: i64,
    ) -> Result<(), PayError> {
        let bank = accounts::bank()?;
        self.open(&bank).await?;
        self.open(to).await?;
        let top_up = transfer(
            transfer_id.to_owned(),
            &bank.0,
            &to.0,
            amount_minor,
            "sandbox top-up",
        )?;
        match self
            .commit(WriteSet::transfers(TransferBatch::single(top_up)?))
            .await
        {
            Ok(_) => Ok(()),
            Err(LedgerError::IdReused { .. }) => Err(PayError::invalid(
                "request_id",
                "already used for a different top-up",
            )),
            Err(error) => Err(error.into()),
        }
    }

    /// Signs a user in: a new bearer token.
    ///
    /// # Errors
    ///
    /// [`PayError::UserNotFound`].
    pub async fn create_session(&self, user_id: &str) -> Result<String, PayError> {
        if self.user(user_id).await?.is_none() {
            return Err(PayError::UserNotFound {
                user_id: user_id.to_owned(),
            });
        }
        let token = format!("pzu_{}", ids::random_alnum(40));
        let session = Session {
            user_id: user_id.to_owned(),
            created_at: self.now(),
            last_seen_at: None,
            revoked_at: None,
        };
        let write = store::write(
            kind::SESSION,
            &sha256_hex(token.as_bytes()),
            Expect::Absent,
            &session,
            vec![],
        )?;
        self.commit(records_only(vec![write])).await?;
        Ok(token)
    }

    /// The user a bearer token belongs to.
    ///
    /// # Errors
    ///
    /// [`PayError::SessionUnknown`].
    ///
    /// A session ends when it is signed out ([`PayService::revoke_session`]), when it
    /// was not used for `SESSION_IDLE_MS`, and `SESSION_AGE_MAX_MS` after it began
    /// (`plaza_kernel::limits`), all on the domain clock, so moving the sandbox clock
    /// ends sessions as waiting would. A use writes the session's last use again when
    /// it is older than `SESSION_TOUCH_MS`.
    pub async fn session_user(&self, token: &str) -> Result<User, PayError> {
        let key = sha256_hex(token.as_bytes());
        let Some((mut session, version)) =
            load::<Session>(&*self.records, kind::SESSION, &key).await?
        else {
            return Err(PayError::SessionUnknown);
        };
        let now = self.now();
        if !session.live_at(now) {
            return Err(PayError::SessionUnknown);
        }
        if session.needs_touch_at(now) {
            session.last_seen_at = Some(now);
            // A concurrent request touched it (or signed it out) first: either is fine
            // for this request, which was valid when it was read.
            let _touched = self.rewrite_session(&key, version, &session).await?;
        }
        self.user(&session.user_id)
            .await?
            .ok_or(PayError::SessionUnknown)
    }

    /// Signs a session out: its token never works again. Signing out an unknown or
    /// ended session succeeds and changes nothing.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn revoke_session(&self, token: &str) -> Result<(), PayError> {
        let key = sha256_hex(token.as_bytes());
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut session, version)) =
                load::<Session>(&*self.records, kind::SESSION, &key).await?
            else {
                return Ok(());
            };
            if session.revoked_at.is_some() {
                return Ok(());
            }
            session.revoked_at = Some(self.now());
            if self.rewrite_session(&key, version, &session).await? {
                return Ok(());
            }
        }
        Err(PayError::Busy {
            what: "session".to_owned(),
        })
    }

    /// Writes `session` back under `key` over the `version` it was read at; `Ok(false)`
    /// when another request wrote it first.
    async fn rewrite_session(
        &self,
        key: &str,
        version: u64,
        session: &Session,
    ) -> Result<bool, PayError> {
        let write = store::write(
            kind::SESSION,
            key,
            Expect::Version(version),
            session,
            vec![],
        )?;
        self.try_commit(records_only(vec![write])).await
    }

    // ---- orders ------------------------------------------------------------------

    /// Creates an order, or returns the same one for a retry with the same content.
    ///
    /// # Errors
    ///
    /// [`PayError::Invalid`], [`PayError::MerchantNotFound`],
    /// [`PayError::AppidMchidNotMatch`], [`PayError::OutTradeNoUsed`],
    /// [`PayError::OrderPaid`], [`PayError::OrderClosed`].
    pub async fn prepay(&self, request: PrepayRequest) -> Result<Order, PayError> {
        let now = self.now();
        check_prepay(&request, now)?;
        if !request.notify_url.is_empty() {
            self.outbound
                .check_url("/notify_url", &request.notify_url)?;
        }
        let merchant = self.merchant_shared(&request.mchid).await?.ok_or_else(|| {
            PayError::MerchantNotFound {
                mchid: request.mchid.clone(),
            }
        })?;
        self.check_order_parties(&request, &merchant).await?;
        self.insert_order(&request, now).await
    }

    /// Writes a new unpaid order for a checked request, or answers for the order its
    /// number already names (the same order again, or the refusal).
    pub(crate) async fn insert_order(
        &self,
        request: &PrepayRequest,
        now: Timestamp,
    ) -> Result<Order, PayError> {
        let digest = request_digest(request)?;
        let key = order_key(&request.mchid, &request.out_trade_no);
        for attempt in 0..CONFLICT_RETRIES_MAX {
            // Nearly every order number is new: try to create first, and read what is
            // there only when the number turns out to be taken.
            let existing = if attempt == 0 {
                None
            } else {
                load::<Order>(&*self.records, kind::ORDER, &key).await?
            };
            if let Some((existing, _)) = existing {
                return match existing.state {
                    TradeState::Success | TradeState::Refund => Err(PayError::OrderPaid {
                        out_trade_no: existing.out_trade_no,
                    }),
                    TradeState::Closed => Err(PayError::OrderClosed {
                        out_trade_no: existing.out_trade_no,
                    }),
                    TradeState::Notpay if existing.request_digest == digest => Ok(existing),
                    TradeState::Userpaying
                        if existing.scripted_polls.is_some()
                            && existing.request_digest == digest =>
                    {
                        Ok(existing)
                    }
                    TradeState::Payerror => Err(PayError::PaymentFailed {
                        out_trade_no: existing.out_trade_no,
                    }),
                    TradeState::Notpay | TradeState::Userpaying => Err(PayError::OutTradeNoUsed {
                        out_trade_no: existing.out_trade_no,
                    }),
                    TradeState::Revoked => Err(PayError::OrderReversed {
                        out_trade_no: existing.out_trade_no,
                    }),
                };
            }
            let mut order = Order {
                mchid: request.mchid.clone(),
                appid: request.appid.clone(),
                out_trade_no: request.out_trade_no.clone(),
                trade_type: request.trade_type,
                description: request.description.clone(),
                attach: request.attach.clone(),
                notify_url: request.notify_url.clone(),
                total_minor: request.total_minor,
                currency: request.currency.clone(),
                goods_tag: request.goods_tag.clone(),
                payer_openid: request.payer_openid.clone(),
                payer_client_ip: request.payer_client_ip.clone(),
                device_id: request.device_id.clone(),
                profit_sharing: request.profit_sharing,
                request_digest: digest.clone(),
                prepay_id: ids::new_prepay_id(now),
                code_token: ids::new_code_token(now),
                time_expire: request
                    .time_expire
                    .unwrap_or_else(|| now.plus_ms(ORDER_EXPIRE_MS_DEFAULT)),
                state: TradeState::Notpay,
                transaction_id: None,
                success_time: None,
                payer_user_id: None,
                paid_openid: None,
                payer_total_minor: 0,
                fee_minor: 0,
                refunded_minor: 0,
                fee_refunded_minor: 0,
                refund_count: 0,
                created_at: now,
                closed_at: None,
                sp_mchid: request.sp_mchid.clone(),
                sub_appid: request.sub_appid.clone(),
                payer_sub_openid: request.payer_sub_openid.clone(),
                paid_sub_openid: None,
                shared_minor: 0,
                sharing_finished: false,
                coupon: None,
                scripted_polls: None,
            };
            let jobs = self.new_order_jobs(&mut order);
            let write = WriteSet {
                records: vec![order_write(&order, Expect::Absent)?],
                jobs,
                ..WriteSet::default()
            };
            if self.try_commit(write).await? {
                return Ok(order);
            }
        }
        Err(PayError::Busy {
            what: "order".to_owned(),
        })
    }

    /// A merchant's order by its number.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn order(&self, mchid: &str, out_trade_no: &str) -> Result<Option<Order>, PayError> {
        Ok(
            load::<Order>(&*self.records, kind::ORDER, &order_key(mchid, out_trade_no))
                .await?
                .map(|(order, _)| order),
        )
    }

    /// A merchant's order by transaction id (paid orders only have one).
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn order_by_transaction_id(
        &self,
        mchid: &str,
        transaction_id: &str,
    ) -> Result<Option<Order>, PayError> {
        let found = self
            .records
            .find(kind::ORDER, index::TRANSACTION_ID, transaction_id, 4)
            .await?;
        for record in &found {
            let order: Order = decode(record)?;
            if order.mchid == mchid {
                return Ok(Some(order));
            }
        }
        Ok(None)
    }

    /// The order behind a prepay id or a Native code, as a payer sees it.
    ///
    /// # Errors
    ///
    /// [`PayError::OrderNotFound`].
    pub async fn order_by_ref(&self, reference: &OrderRef) -> Result<(Order, u64), PayError> {
        let (name, value) = match reference {
            OrderRef::PrepayId(prepay_id) => (index::PREPAY_ID, prepay_id.as_str()),
            OrderRef::CodeToken(token) => (index::CODE, token.as_str()),
        };
        find_one::<Order>(&*self.records, kind::ORDER, name, value)
            .await?
            .ok_or(PayError::OrderNotFound)
    }

    /// The order a payer's reference names, as payer `user_id` may see it: an order
    /// whose payer is known to be someone else answers as one that does not exist
    /// ([`crate::model::Order::visible_to`]).
    ///
    /// # Errors
    ///
    /// [`PayError::OrderNotFound`], [`PayError::Unavailable`].
    pub async fn order_for_payer(
        &self,
        user_id: &str,
        reference: &OrderRef,
    ) -> Result<(Order, u64), PayError> {
        let (order, version) = self.order_by_ref(reference).await?;
        if order.visible_to(user_id) {
            Ok((order, version))
        } else {
            Err(PayError::OrderNotFound)
        }
    }

    /// A merchant's orders, newest first.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn orders_of(&self, mchid: &str, rows_max: usize) -> Result<Vec<Order>, PayError> {
        let orders: Vec<Order> = self
            .listed(
                kind::ORDER,
                index::MERCHANT_CREATED,
                format!("{mchid}|"),
                format!("{mchid}}}"),
                rows_max,
                true,
            )
            .await?;
        Ok(orders)
    }

    /// Closes an unpaid order. Closing a closed order again succeeds.
    ///
    /// # Errors
    ///
    /// [`PayError::OrderNotFound`], [`PayError::OrderPaid`].
    pub async fn close(&self, mchid: &str, out_trade_no: &str) -> Result<Order, PayError> {
        let key = order_key(mchid, out_trade_no);
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut order, version)) =
                load::<Order>(&*self.records, kind::ORDER, &key).await?
            else {
                return Err(PayError::OrderNotFound);
            };
            match order.state {
                TradeState::Closed => return Ok(order),
                TradeState::Success | TradeState::Refund => {
                    return Err(PayError::OrderPaid {
                        out_trade_no: order.out_trade_no,
                    });
                }
                TradeState::Revoked => {
                    return Err(PayError::OrderReversed {
                        out_trade_no: order.out_trade_no,
                    });
                }
                TradeState::Notpay | TradeState::Userpaying | TradeState::Payerror => {}
            }
            order.state = TradeState::Closed;
            order.closed_at = Some(self.now());
            let write = records_only(vec![order_write(&order, Expect::Version(version))?]);
            if self.try_commit(write).await? {
                return Ok(order);
            }
        }
        Err(PayError::Busy {
            what: "order".to_owned(),
        })
    }

    /// The `pay.expire` job: closes the order if it is still unpaid past its deadline.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails (the job is retried).
    pub async fn expire(&self, key: &str) -> Result<(), PayError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut order, version)) =
                load::<Order>(&*self.records, kind::ORDER, key).await?
            else {
                return Ok(());
            };
            let now = self.now();
            let open = matches!(order.state, TradeState::Notpay | TradeState::Userpaying);
            if !open || now < order.time_expire {
                return Ok(());
            }
            order.state = TradeState::Closed;
            order.closed_at = Some(now);
            let write = records_only(vec![order_write(&order, Expect::Version(version))?]);
            if self.try_commit(write).await? {
                return Ok(());
            }
        }
        Err(PayError::Busy {
            what: "order".to_owned(),
        })
    }

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
        self.pay_with(
            user_id,
            reference,
            password,
            &crate::coupons::CouponChoice::Best,
        )
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
        choice: &crate::coupons::CouponChoice,
    ) -> Result<Order, PayError> {
        let mut verified_hash: Option<String> = None;
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (order, order_version) = self.order_for_payer(user_id, reference).await?;
            let Some((user, user_version)) =
                load::<User>(&*self.records, kind::USER, user_id).await?
            else {
                return Err(PayError::UserNotFound {
                    user_id: user_id.to_owned(),
                });
            };
            let now = self.now();
            if order.state == TradeState::Userpaying
                && order.payer_user_id.as_deref() != Some(user_id)
            {
                return Err(PayError::NotThePayer);
            }
            let open = matches!(order.state, TradeState::Notpay | TradeState::Userpaying);
            let payable = open && now < order.time_expire;
            if !payable {
                let state = if open {
                    TradeState::Closed
                } else {
                    order.state
                };
                return Err(PayError::NotPayable {
                    out_trade_no: order.out_trade_no,
                    state: state.wire(),
                });
            }
            let openid = self.openid(&order.appid, user_id);
            let sub_openid = order
                .sub_appid
                .as_ref()
                .map(|sub_appid| self.openid(sub_appid, user_id));
            if order
                .payer_openid
                .as_ref()
                .is_some_and(|payer| *payer != openid)
                || order
                    .payer_sub_openid
                    .as_ref()
                    .is_some_and(|payer| Some(payer) != sub_openid.as_ref())
            {
                return Err(PayError::NotThePayer);
            }
            if let Some(until) = user.locked_until
                && now < until
            {
                return Err(PayError::PasswordLocked { until });
            }
            let mut user_after = user.clone();
            // A retry after a conflict does not pay for the same hash twice.
            if verified_hash.as_deref() != Some(user.password_hash.as_str()) {
                let right = password::verify_off_runtime(
                    password,
                    &user.password_salt,
                    user.password_rounds(),
                    &user.password_hash,
                )
                .await?;
                if !right {
                    match self.wrong_password(user, user_version, now).await {
                        Err(PayError::Busy { .. }) => continue,
                        other => return other.map(|()| order),
                    }
                }
                verified_hash = Some(user.password_hash.clone());
            }
            if let Some(failure) = self.scripted_payment_failure(&order) {
                match self
                    .fail_scripted(order, order_version, failure, user_id)
                    .await
                {
                    Err(PayError::Busy { .. }) => continue,
                    Ok(answer) | Err(answer) => return Err(answer),
                }
            }
            // A hash made with fewer rounds than today's is made again now that the
            // password is known, in the same unit of work as the payment.
            let rehash = user.password_rounds() < password::PASSWORD_ROUNDS;
            if rehash {
                user_after.password_hash =
                    password::hash_off_runtime(password, &user.password_salt).await?;
                user_after.password_rounds = password::PASSWORD_ROUNDS;
            }
            let user_write =
                if user.failed_password_count > 0 || user.locked_until.is_some() || rehash {
                    user_after.failed_password_count = 0;
                    user_after.locked_until = None;
                    vec![user_record(&user_after, Expect::Version(user_version))?]
                } else {
                    Vec::new()
                };
            match self
                .commit_payment(
                    order,
                    Expect::Version(order_version),
                    user_id,
                    (openid, sub_openid),
                    user_write,
                    (now, choice),
                )
                .await
            {
                Err(PayError::Busy { .. }) => {}
                other => return other,
            }
        }
        Err(PayError::Busy {
            what: "order".to_owned(),
        })
    }

    /// Counts a wrong password; returns the error to answer with, or `Busy` to retry.
    async fn wrong_password(
        &self,
        mut user: User,
        version: u64,
        now: Timestamp,
    ) -> Result<(), PayError> {
        user.failed_password_count += 1;
        let answer = if user.failed_password_count >= PASSWORD_ATTEMPTS_MAX {
            let until = now.plus_ms(PASSWORD_LOCK_MS);
            user.failed_password_count = 0;
            user.locked_until = Some(until);
            PayError::PasswordLocked { until }
        } else {
            PayError::WrongPassword {
                attempts_left: PASSWORD_ATTEMPTS_MAX - user.failed_password_count,
            }
        };
        match self
            .commit(records_only(vec![user_record(
                &user,
                Expect::Version(version),
            )?]))
            .await
        {
            Ok(_) => Err(answer),
            Err(LedgerError::RecordConflict { .. }) => Err(PayError::Busy {
                what: "user".to_owned(),
            }),
            Err(error) => Err(error.into()),
        }
    }

    /// Pays `order` from the user's wallet, with `extra` records in the same unit of
    /// work; `Busy` when a record changed meanwhile.
    pub(crate) async fn commit_payment(
        &self,
        mut order: Order,
        order_expect: Expect,
        user_id: &str,
        (openid, sub_openid): (String, Option<String>),
        extra: Vec<RecordWrite>,
        (now, choice): (Timestamp, &crate::coupons::CouponChoice),
    ) -> Result<Order, PayError> {
        let merchant = self.merchant_shared(&order.mchid).await?.ok_or_else(|| {
            PayError::MerchantNotFound {
                mchid: order.mchid.clone(),
            }
        })?;
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
        let memo = format!("pay {} {}", order.mchid, order.out_trade_no);
        let picked = self.pick_coupon(user_id, &order, choice, now).await?;
        let discount = picked.as_ref().map_or(0, |(coupon, _, _)| coupon.amount);
        let no_cash = picked.as_ref().is_some_and(|(coupon, _, _)| coupon.no_cash);
        let split =
            money::payment_split(order.total_minor, discount, no_cash, merchant.fee_rate_bps)?;
        let sources: [(&AccountId, i64, i64, &str); 2] = [
            (
                &wallet.0,
                split.wallet_net_minor,
                split.wallet_fee_minor,
                "wallet",
            ),
            (
                &wallet.0,
                split.budget_net_minor,
                split.budget_fee_minor,
                "coupon",
            ),
        ];
        let budget = match &picked {
            Some((coupon, _, _)) if !coupon.no_cash => {
                let budget = accounts::coupon_budget(&coupon.stock_id)?;
                self.open(&budget).await?;
                Some(budget)
            }
            _ => None,
        };
        let mut transfers = Vec::new();
        for (from, net, fee_part, part) in sources {
            let from = if part == "coupon" {
                match &budget {
                    Some(budget) => &budget.0,
                    None => continue,
                }
            } else {
                from
            };
            if net > 0 {
                transfers.push(transfer(
                    format!("pay:{transaction_id}:{part}:net"),
                    from,
                    &pending.0,
                    net,
                    &memo,
                )?);
            }
            if fee_part > 0 {
                transfers.push(transfer(
                    format!("pay:{transaction_id}:{part}:fee"),
                    from,
                    &fee_held.0,
                    fee_part,
                    &memo,
                )?);
            }
        }
        order.state = TradeState::Success;
        order.transaction_id = Some(transaction_id.clone());
        order.success_time = Some(now);
        order.payer_user_id = Some(user_id.to_owned());
        order.paid_openid = Some(openid);
        order.paid_sub_openid = sub_openid;
        order.payer_total_minor = split.payer_total_minor;
        order.fee_minor = split.fee_minor;
        let mut coupon_records = Vec::new();
        let mut coupon_note = None;
        if let Some((mut coupon, stock, version)) = picked {
            order.coupon = Some(crate::model::AppliedCoupon {
                coupon_id: coupon.coupon_id.clone(),
                stock_id: coupon.stock_id.clone(),
                name: coupon.name.clone(),
                amount: coupon.amount,
                no_cash: coupon.no_cash,
                creator_mchid: stock.creator_mchid.clone(),
            });
            coupon.status = crate::coupons::CouponStatus::Used;
            coupon.consumed = Some(crate::coupons::Consumption {
                consume_time: now,
                consume_mchid: order.mchid.clone(),
                transaction_id: transaction_id.clone(),
                consume_amount: order.total_minor,
            });
            coupon_records.push(crate::coupons::coupon_used_write(&coupon, version)?);
            if let Some(callback) = self.coupon_callback(&stock.creator_mchid).await?
                && callback.enabled
            {
                coupon_note = Some((stock.creator_mchid, callback.notify_url, coupon));
            }
        }
        let mut records = vec![order_write(&order, order_expect)?];
        records.extend(extra);
        records.extend(coupon_records);
        if let Some(openid) = &order.paid_openid {
            records.push(openid_write(&order.appid, openid, user_id)?);
        }
        let mut jobs = vec![settle_job(&order.mchid, day)?];
        if let Some((creator, url, coupon)) = coupon_note {
            let subject = NotificationSubject::CouponUse {
                coupon: Box::new(coupon),
            };
            let (record, job) = new_notification(&creator, &url, subject, now)?;
            records.push(record);
            jobs.push(job);
        }
        if !order.notify_url.is_empty() {
            let subject = NotificationSubject::TransactionSuccess {
                order: Box::new(order.clone()),
            };
            let (record, job) =
                new_notification(order.notified_mchid(), &order.notify_url, subject, now)?;
            records.push(record);
            jobs.push(job);
        }
        let write = WriteSet {
            batch: batch(transfers)?,
            events: vec![NewEvent {
                topic: "pay.transaction.success".to_owned(),
                key: order.key(),
                payload: event_payload(&order)?,
            }],
            jobs,
            records,
        };
        match self.commit(write).await {
            Ok(_) => {
                // Nobody listening is not an error.
                let _ = self.payments.send(Arc::new(order.clone()));
                Ok(order)
            }
            Err(LedgerError::RecordConflict { .. }) => Err(PayError::Busy {
                what: "order".to_owned(),
            }),
            Err(error) if is_insufficient(&error, &wallet.0) => {
                Err(PayError::WalletBalanceNotEnough {
                    balance_minor: self.balance(&wallet.0).await?,
                    needed_minor: order.payer_total_minor,
                })
            }
            Err(error) => Err(error.into()),
        }
    }

    // ---- settlement --------------------------------------------------------------

    /// The `pay.settle` job: moves a merchant's day of payments to its available balance
    /// and books the day's fees to the platform. Runs once per merchant and day.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`], or a balance that moved meanwhile (the job retries).
    pub async fn settle_job(&self, payload: &str) -> Result<(), PayError> {
        let payload: SettlePayload = serde_json::from_str(payload)
            .map_err(|error| PayError::rule(format!("unreadable settle payload: {error}")))?;
        let day = Day::parse(&payload.day).map_err(PayError::rule)?;
        self.settle(&payload.mchid, day).await.map(|_| ())
    }

    /// Settles one merchant-day (idempotent: a settled day returns its settlement).
    ///
    /// # Errors
    ///
    /// As [`PayService::settle_job`].
    pub async fn settle(&self, mchid: &str, day: Day) -> Result<Settlement, PayError> {
        let key = format!("{mchid}|{}", day.iso());
        if let Some((settlement, _)) =
            load::<Settlement>(&*self.records, kind::SETTLEMENT, &key).await?
        {
            return Ok(settlement);
        }
        let pending = accounts::pending(mchid, day)?;
        let fee_held = accounts::fee_held(mchid, day)?;
        let available = accounts::available(mchid)?;
        let fees = accounts::platform_fees()?;
        self.open(&available).await?;
        self.open(&fees).await?;
        let net = self.balance(&pending.0).await?;
        let fee = self.balance(&fee_held.0).await?;
        let memo = format!("settle {mchid} {}", day.iso());
        let mut transfers = Vec::new();
        if net > 0 {
            transfers.push(transfer(
                format!("settle:{mchid}:{}:net", day.compact()),
                &pending.0,
                &available.0,
                net,
                &memo,
            )?);
        }
        if fee > 0 {
            transfers.push(transfer(
                format!("settle:{mchid}:{}:fee", day.compact()),
                &fee_held.0,
                &fees.0,
                fee,
                &memo,
            )?);
        }
        let (provider, commission) = self.commission_on(mchid, fee).await?;
        if let Some(provider) = &provider
            && commission > 0
        {
            let provider_available = accounts::available(provider)?;
            self.open(&provider_available).await?;
            transfers.push(transfer(
                format!("settle:{mchid}:{}:commission", day.compact()),
                &fees.0,
                &provider_available.0,
                commission,
                &format!("commission {provider} on {mchid} {}", day.iso()),
            )?);
        }
        let settlement = Settlement {
            mchid: mchid.to_owned(),
            day: day.iso(),
            settled_minor: net,
            fee_minor: fee,
            settled_at: self.now(),
            provider,
            commission_minor: commission,
        };
        let write = WriteSet {
            batch: batch(transfers)?,
            records: vec![store::write(
                kind::SETTLEMENT,
                &key,
                Expect::Absent,
                &settlement,
                vec![],
            )?],
            ..WriteSet::default()
        };
        match self.commit(write).await {
            Ok(_) => Ok(settlement),
            Err(LedgerError::RecordConflict { .. }) => {
                load::<Settlement>(&*self.records, kind::SETTLEMENT, &key)
                    .await?
                    .map(|(settlement, _)| settlement)
                    .ok_or(PayError::Busy {
                        what: "settlement".to_owned(),
                    })
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Whether a merchant's day has been settled.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn settlement(&self, mchid: &str, day: Day) -> Result<Option<Settlement>, PayError> {
        Ok(load::<Settlement>(
            &*self.records,
            kind::SETTLEMENT,
            &format!("{mchid}|{}", day.iso()),
        )
        .await?
        .map(|(settlement, _)| settlement))
    }

    // ---- refunds -----------------------------------------------------------------

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
            let found = match (&request.out_trade_no, &request.transaction_id) {
                (Some(out_trade_no), _) => {
                    load::<Order>(
                        &*self.records,
                        kind::ORDER,
                        &order_key(&request.mchid, out_trade_no),
                    )
                    .await?
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
            // Both numbers given: they must name the same order.
            if let Some(transaction_id) = &request.transaction_id
                && order.transaction_id.as_ref() != Some(transaction_id)
            {
                return Err(PayError::RefundOrderNotFound);
            }
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

    /// Refunds `request.refund_minor` of a paid order; with `revoke`, the order ends
    /// `REVOKED` (a reversed payment-code order) instead of `REFUND`.
    pub(crate) async fn commit_refund(
        &self,
        request: &RefundRequest,
        digest: &str,
        mut order: Order,
        order_version: u64,
        revoke: bool,
    ) -> Result<Refund, PayError> {
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
        let now = self.now();
        if !revoke && let Some(scripted) = self.scripted_refund(&order) {
            return self
                .scripted_refund_outcome(request, digest, &order, scripted, now)
                .await;
        }
        let refunded_after = money::add(
            order.refunded_minor,
            request.refund_minor,
            "the order's refunded amount",
        )?;
        let split = money::refund_split(
            &money::RefundBase {
                total_minor: order.total_minor,
                payer_total_minor: order.payer_total_minor,
                fee_minor: order.fee_minor,
                refunded_minor: order.refunded_minor,
                fee_refunded_minor: order.fee_refunded_minor,
                no_cash: order.coupon.as_ref().is_some_and(|coupon| coupon.no_cash),
            },
            request.refund_minor,
        )?;
        let paid_day = Day::of(success_time);
        let settled = self.settlement(&order.mchid, paid_day).await?.is_some();
        let frozen = order.profit_sharing && !order.sharing_finished;
        let (net_source, fee_source, funds_account) = if frozen {
            (
                accounts::frozen(&order.mchid, &transaction_id)?,
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
        let wallet = accounts::wallet(&payer)?;
        self.open(&net_source).await?;
        self.open(&fee_source).await?;
        let refund = Refund {
            mchid: order.mchid.clone(),
            out_refund_no: request.out_refund_no.clone(),
            refund_id: ids::new_refund_id(now),
            out_trade_no: order.out_trade_no.clone(),
            transaction_id: transaction_id.clone(),
            reason: request.reason.clone(),
            notify_url: request.notify_url.clone(),
            refund_minor: request.refund_minor,
            total_minor: order.total_minor,
            fee_refund_minor: split.fee_refund_minor,
            funds_account,
            status: RefundStatus::Success,
            request_digest: digest.to_owned(),
            created_at: now,
            success_time: Some(now),
            sp_mchid: order.sp_mchid.clone(),
            payer_refund_minor: split.cash_minor,
            discount_refund_minor: split.coupon_minor,
            payer_total_minor: order.payer_total_minor,
        };
        let memo = format!("refund {} {}", order.mchid, refund.out_refund_no);
        let to_funder = split.net_to_funder_minor + split.fee_to_funder_minor;
        let funder = match &order.coupon {
            Some(coupon) if to_funder > 0 => {
                let funder = accounts::available(&coupon.creator_mchid)?;
                self.open(&funder).await?;
                Some(funder)
            }
            _ => None,
        };
        let mut transfers = Vec::new();
        let mut moves = vec![
            ("net", &net_source.0, &wallet.0, split.net_to_payer_minor),
            ("fee", &fee_source.0, &wallet.0, split.fee_to_payer_minor),
        ];
        if let Some(funder) = &funder {
            moves.push((
                "coupon-net",
                &net_source.0,
                &funder.0,
                split.net_to_funder_minor,
            ));
            moves.push((
                "coupon-fee",
                &fee_source.0,
                &funder.0,
                split.fee_to_funder_minor,
            ));
        }
        for (part, from, to, amount) in moves {
            if amount > 0 {
                transfers.push(transfer(
                    format!("refund:{}:{part}", refund.refund_id),
                    from,
                    to,
                    amount,
                    &memo,
                )?);
            }
        }
        order.state = if revoke {
            TradeState::Revoked
        } else {
            TradeState::Refund
        };
        order.refunded_minor = refunded_after;
        order.fee_refunded_minor += split.fee_refund_minor;
        order.refund_count += 1;
        let mut records = vec![
            order_write(&order, Expect::Version(order_version))?,
            refund_write(&refund)?,
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
        let write = WriteSet {
            batch: batch(transfers)?,
            events: vec![NewEvent {
                topic: "pay.refund.success".to_owned(),
                key: refund_key(&refund.mchid, &refund.out_refund_no),
                payload: event_payload(&order)?,
            }],
            jobs,
            records,
        };
        match self.commit(write).await {
            Ok(_) => Ok(refund),
            Err(LedgerError::RecordConflict { .. }) => Err(PayError::Busy {
                what: "refund".to_owned(),
            }),
            Err(error) if is_insufficient(&error, &net_source.0) && (settled || frozen) => {
                Err(PayError::MerchantBalanceNotEnough)
            }
            // Settlement ran between the check and the commit: read again.
            Err(error)
                if is_insufficient(&error, &net_source.0)
                    || is_insufficient(&error, &fee_source.0) =>
            {
                Err(PayError::Busy {
                    what: "refund".to_owned(),
                })
            }
            Err(error) => Err(error.into()),
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

    // ---- bills -------------------------------------------------------------------

    /// Orders paid on `day` (trade bill rows), in payment order.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn orders_paid_on(&self, mchid: &str, day: Day) -> Result<Vec<Order>, PayError> {
        let value = format!("{mchid}|{}", day.iso());
        let mut orders: Vec<Order> = self
            .all_under(kind::ORDER, index::MERCHANT_DAY, &value)
            .await?;
        orders.sort_by_key(|order| order.success_time);
        Ok(orders)
    }

    /// Refunds that succeeded on `day`, in time order.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn refunds_on(&self, mchid: &str, day: Day) -> Result<Vec<Refund>, PayError> {
        let value = format!("{mchid}|{}", day.iso());
        let mut refunds: Vec<Refund> = self
            .all_under(kind::REFUND, index::MERCHANT_DAY, &value)
            .await?;
        refunds.sort_by_key(|refund| refund.success_time);
        Ok(refunds)
    }

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

    /// Movements of a merchant's available balance on `day` (fund-flow bill rows),
    /// oldest first.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn available_movements_on(
        &self,
        mchid: &str,
        day: Day,
    ) -> Result<Vec<Transfer>, PayError> {
        let account = accounts::available(mchid)?.0;
        let (start, end) = (day.start(), day.next().start());
        let mut movements = Vec::new();
        let mut before_seq = None;
        loop {
            let page = match self.ledger.history(account.clone(), before_seq, 500).await {
                Ok(page) => page,
                Err(LedgerError::UnknownAccount { .. }) => break,
                Err(error) => return Err(error.into()),
            };
            let mut older = false;
            for transfer in &page.transfers {
                if transfer.committed_at < start {
                    older = true;
                    break;
                }
                if transfer.committed_at < end {
                    movements.push(transfer.clone());
                }
            }
            match (older, page.next_before_seq) {
                (false, Some(next)) => before_seq = Some(next),
                _ => break,
            }
        }
        movements.reverse();
        Ok(movements)
    }

    /// The merchant's account the fund-flow bill covers.
    ///
    /// # Errors
    ///
    /// Only on a bug (an unnameable account).
    pub fn available_account(&self, mchid: &str) -> Result<AccountId, PayError> {
        Ok(accounts::available(mchid)?.0)
    }

    // ---- notifications -----------------------------------------------------------

    /// One notification.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn notification(&self, id: &str) -> Result<Option<Notification>, PayError> {
        Ok(load::<Notification>(&*self.records, kind::NOTIFICATION, id)
            .await?
            .map(|(notification, _)| notification))
    }

    /// A merchant's notifications, newest first.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn notifications_of(
        &self,
        mchid: &str,
        rows_max: usize,
    ) -> Result<Vec<Notification>, PayError> {
        let found: Vec<Notification> = self
            .listed(
                kind::NOTIFICATION,
                index::MERCHANT_CREATED,
                format!("{mchid}|"),
                format!("{mchid}}}"),
                rows_max,
                true,
            )
            .await?;
        Ok(found)
    }

    /// Records a delivery attempt and what happens next (`None`: the state and the
    /// schedule stay as they are); returns the updated notification.
    ///
    /// # Errors
    ///
    /// [`PayError::Unavailable`] when the store fails.
    pub async fn record_attempt(
        &self,
        id: &str,
        attempt: DeliveryAttempt,
        outcome: Option<NotifyOutcome>,
    ) -> Result<Notification, PayError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut notification, version)) =
                load::<Notification>(&*self.records, kind::NOTIFICATION, id).await?
            else {
                return Err(PayError::rule(format!("notification {id} does not exist")));
            };
            notification.attempts.push(attempt.clone());
            if outcome.is_some() {
                notification.held_until = None;
            }
            match outcome {
                None => {}
                Some(NotifyOutcome::Delivered) => {
                    notification.state = DeliveryState::Delivered;
                    notification.next_attempt_at = None;
                }
                Some(NotifyOutcome::RetryAt(at)) => {
                    notification.state = DeliveryState::Pending;
                    notification.next_attempt_at = Some(at);
                }
                Some(NotifyOutcome::GaveUp) => {
                    notification.state = DeliveryState::Failed;
                    notification.next_attempt_at = None;
                }
            }
            let write = notification_write(&notification, Expect::Version(version))?;
            if self.try_commit(records_only(vec![write])).await? {
                return Ok(notification);
            }
        }
        Err(PayError::Busy {
            what: "notification".to_owned(),
        })
    }
}

/// When the next delivery is due after `attempts` failed ones, or `None` when the
/// schedule is used up.
pub fn next_retry_at(attempts: usize, now: Timestamp) -> Option<Timestamp> {
    NOTIFY_RETRY_DELAYS_S
        .get(attempts.checked_sub(1)?)
        .map(|delay_s| now.plus_ms(delay_s * 1_000))
}

fn check_top_up(amount_minor: i64, request_id: &str) -> Result<(), PayError> {
    check_amount("amount", amount_minor)?;
    check_merchant_no("request_id", request_id, 1, 40)
}

/// Remembers which user an openid under an app is (profit sharing names personal
/// receivers by openid).
pub(crate) fn openid_write(
    appid: &str,
    openid: &str,
    user_id: &str,
) -> Result<RecordWrite, PayError> {
    store::write(
        kind::OPENID,
        &format!("{appid}|{openid}"),
        Expect::Any,
        &serde_json::json!({ "user_id": user_id }),
        vec![],
    )
}

/// The associated data of a sealed merchant key: whose, and which.
fn key_context(mchid: &str, field: &str) -> String {
    format!("merchant|{mchid}|{field}")
}

/// A merchant's index entries: by creation, and sub-merchants by their provider.
fn merchant_index(merchant: &Merchant) -> Vec<IndexEntry> {
    let created = time_value(merchant.created_at.unix_ms());
    let mut entries = vec![
        IndexEntry::new(index::CREATED, created.clone()),
        IndexEntry::new(
            index::KIND_CREATED,
            format!("{}|{created}", merchant.kind.as_str()),
        ),
    ];
    if let Some(provider) = &merchant.provider {
        entries.push(IndexEntry::new(
            index::PROVIDER_CREATED,
            format!("{provider}|{created}"),
        ));
    }
    if let Some(owner) = &merchant.owner_user_id {
        entries.push(IndexEntry::new(index::OWNER, owner.clone()));
    }
    if let Some(token) = &merchant.collection_token {
        entries.push(IndexEntry::new(index::COLLECTION_TOKEN, token.clone()));
    }
    entries
}

/// Checks a fee rate in basis points.
pub(crate) fn check_fee_rate(fee_rate_bps: u32) -> Result<(), PayError> {
    if fee_rate_bps > 10_000 {
        return Err(PayError::invalid("fee_rate_bps", "at most 10000 (100%)"));
    }
    Ok(())
}

pub(crate) fn records_only(records: Vec<RecordWrite>) -> WriteSet {
    WriteSet {
        records,
        ..WriteSet::default()
    }
}

pub(crate) fn check_appid(field: &str, appid: &str) -> Result<(), PayError> {
    if appid.len() == 18
        && appid.starts_with("wx")
        && appid[2..].bytes().all(|b| b.is_ascii_hexdigit())
    {
        Ok(())
    } else {
        Err(PayError::invalid(
            field,
            "an appid is wx followed by 16 hex digits",
        ))
    }
}

fn check_serial(field: &str, serial: &str) -> Result<(), PayError> {
    if (8..=64).contains(&serial.len()) && serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(PayError::invalid(
            field,
            "a certificate serial is 8–64 hex digits",
        ))
    }
}

pub(crate) fn check_prepay(request: &PrepayRequest, now: Timestamp) -> Result<(), PayError> {
    check_text("/description", &request.description, 1, 127)?;
    check_prepay_beyond_description(request, now)
}

/// [`check_prepay`] less the description, for orders Plaza makes itself from text it
/// checked its own way (a collection-code payer's note).
pub(crate) fn check_prepay_beyond_description(
    request: &PrepayRequest,
    now: Timestamp,
) -> Result<(), PayError> {
    check_merchant_no("/out_trade_no", &request.out_trade_no, 6, 32)?;
    if !request.notify_url.is_empty() {
        check_notify_url("/notify_url", &request.notify_url)?;
    }
    if let Some(attach) = &request.attach {
        check_text("/attach", attach, 0, 128)?;
    }
    if let Some(goods_tag) = &request.goods_tag {
        check_text("/goods_tag", goods_tag, 0, 32)?;
    }
    check_amount("/amount/total", request.total_minor)?;
    if request.currency != "CNY" {
        return Err(PayError::invalid(
            "/amount/currency",
            "only CNY is supported",
        ));
    }
    if let Some(time_expire) = request.time_expire
        && time_expire <= now
    {
        return Err(PayError::invalid("/time_expire", "is not in the future"));
    }
    let partner = request.sp_mchid.is_some();
    let openid_field = if partner {
        "/payer/sp_openid"
    } else {
        "/payer/openid"
    };
    if let Some(openid) = &request.payer_openid {
        check_text(openid_field, openid, 1, 128)?;
    }
    if let Some(openid) = &request.payer_sub_openid {
        check_text("/payer/sub_openid", openid, 1, 128)?;
    }
    if request.trade_type == TradeType::Jsapi
        && request.payer_openid.is_none()
        && request.payer_sub_openid.is_none()
    {
        return Err(PayError::invalid(openid_field, "is required for JSAPI"));
    }
    Ok(())
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

pub(crate) fn order_write(order: &Order, expect: Expect) -> Result<RecordWrite, PayError> {
    let mut entries = vec![
        IndexEntry::new(index::PREPAY_ID, order.prepay_id.clone()),
        IndexEntry::new(index::CODE, order.code_token.clone()),
        IndexEntry::new(
            index::MERCHANT_CREATED,
            format!("{}|{}", order.mchid, time_value(order.created_at.unix_ms())),
        ),
    ];
    if let Some(transaction_id) = &order.transaction_id {
        entries.push(IndexEntry::new(
            index::TRANSACTION_ID,
            transaction_id.clone(),
        ));
    }
    if let Some(success_time) = order.success_time {
        let day = Day::of(success_time).iso();
        entries.push(IndexEntry::new(
            index::MERCHANT_DAY,
            format!("{}|{day}", order.mchid),
        ));
        entries.push(IndexEntry::new(index::PAID_DAY, day));
    }
    if order.state == TradeState::Userpaying
        && let Some(user_id) = &order.payer_user_id
    {
        entries.push(IndexEntry::new(
            index::AWAITING_PAYER,
            format!("{user_id}|{}", time_value(order.created_at.unix_ms())),
        ));
    }
    store::write(kind::ORDER, &order.key(), expect, order, entries)
}

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

pub(crate) fn user_record(user: &User, expect: Expect) -> Result<RecordWrite, PayError> {
    store::write(
        kind::USER,
        &user.user_id,
        expect,
        user,
        vec![IndexEntry::new(
            index::CREATED,
            time_value(user.created_at.unix_ms()),
        )],
    )
}

pub(crate) fn notification_write(
    notification: &Notification,
    expect: Expect,
) -> Result<RecordWrite, PayError> {
    store::write(
        kind::NOTIFICATION,
        &notification.id,
        expect,
        notification,
        vec![
            IndexEntry::new(
                index::MERCHANT_CREATED,
                format!(
                    "{}|{}",
                    notification.mchid,
                    time_value(notification.created_at.unix_ms())
                ),
            ),
            IndexEntry::new(
                index::CREATED,
                format!(
                    "{}|{}",
                    time_value(notification.created_at.unix_ms()),
                    notification.id
                ),
            ),
        ],
    )
}

pub(crate) fn new_notification(
    mchid: &str,
    notify_url: &str,
    subject: NotificationSubject,
    now: Timestamp,
) -> Result<(RecordWrite, NewJob), PayError> {
    let notification = Notification {
        id: ids::new_notification_id(),
        mchid: mchid.to_owned(),
        notify_url: notify_url.to_owned(),
        created_at: now,
        subject,
        state: DeliveryState::Pending,
        attempts: Vec::new(),
        next_attempt_at: Some(now),
        held_until: None,
    };
    let job = NewJob {
        kind: JOB_NOTIFY.to_owned(),
        key: notification.id.clone(),
        payload: notification.id.clone(),
        due_at: now,
    };
    Ok((notification_write(&notification, Expect::Absent)?, job))
}

fn settle_job(mchid: &str, day: Day) -> Result<NewJob, PayError> {
    let payload = serde_json::to_string(&SettlePayload {
        mchid: mchid.to_owned(),
        day: day.iso(),
    })
    .map_err(|error| PayError::Unavailable {
        reason: error.to_string(),
    })?;
    Ok(NewJob {
        kind: JOB_SETTLE.to_owned(),
        key: format!("{mchid}|{}", day.iso()),
        payload,
        due_at: day.next().start().plus_ms(SETTLE_DELAY_AFTER_DAY_MS),
    })
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_schedule_is_wechats() {
        let now = Timestamp::from_unix_ms(0);
        assert_eq!(next_retry_at(1, now), Some(Timestamp::from_unix_ms(15_000)));
        assert_eq!(next_retry_at(3, now), Some(Timestamp::from_unix_ms(30_000)));
        assert_eq!(
            next_retry_at(15, now),
            Some(Timestamp::from_unix_ms(21_600_000))
        );
        assert_eq!(next_retry_at(16, now), None);
        let total_s: i64 = NOTIFY_RETRY_DELAYS_S.iter().sum();
        assert_eq!(total_s, 24 * 3_600 + 4 * 60 + 15 + 15 + 30 - 60);
    }

    #[test]
    fn passwords_are_six_digits() {
        assert!(check_password_shape("12345").is_err());
        assert!(check_password_shape("12345a").is_err());
        assert!(check_password_shape("123456").is_ok());
    }
}
