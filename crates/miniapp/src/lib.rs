//! Mini Programs: developers' apps (their settings and AppSecrets), the server API's
//! access tokens, and logins — the codes `wx.login` hands a mini program and the
//! sessions `jscode2session` hands its back end. Plain Rust, no HTTP.
//!
//! The one design decision: what WeChat keeps secret is never stored in the clear. An
//! AppSecret is kept as its SHA-256 (shown once, at creation and at reset). An access
//! token is an HMAC of a random nonce under this system's secret: the database keeps
//! the nonce and the token's SHA-256, so it can answer "which token is this" and give a
//! stable token again, but a copy of the database signs nothing. A login code is sealed
//! (AES-256-GCM) around its app, user and issue time, so minting one writes nothing;
//! exchanging it writes the spent code and the session in one unit of work, so a code
//! works once even across a restart.
#![deny(missing_docs)]

pub mod ads;
pub mod apps;
pub mod container;
pub mod error;
pub mod library;
pub mod login;
pub mod model;
pub mod moderation;
pub mod packages;
pub mod ports;
pub mod store;
pub mod subscribe;
pub mod tokens;
pub mod versions;

use std::sync::Arc;

use plaza_identity::Identity;
use plaza_kernel::clock::{Clock, Timestamp};
use plaza_kernel::objects::ObjectStore;
use plaza_kernel::record::{RecordStore, RecordWrite};
use plaza_ledger::{LedgerError, LedgerStore, WriteSet};

pub use apps::{AppSettings, NewMiniApp, TOPIC_APP, app_event};
pub use error::MiniAppError;
pub use login::CodeSession;
pub use model::{AccessToken, LoginSession, MiniApp, ServiceMessage, Template};
pub use ports::{
    MerchantRefusal, Merchants, PaymentRefusal, PaymentRequest, PaymentSummary, Payments,
};
pub use tokens::IssuedToken;

/// How often a write that lost a race is tried again before answering `Busy`.
const CONFLICT_RETRIES_MAX: usize = 16;

/// Limits an operator may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MiniAppLimits {
    /// Access tokens `/cgi-bin/token` issues per app and China calendar day before it
    /// answers `45009` (WeChat's documented quota: 2,000).
    pub token_daily_max: u32,
}

impl Default for MiniAppLimits {
    fn default() -> Self {
        Self {
            token_daily_max: 2_000,
        }
    }
}

/// Mini Programs over the record store.
pub struct MiniApps {
    records: Arc<dyn RecordStore>,
    ledger: Arc<dyn LedgerStore>,
    clock: Arc<dyn Clock>,
    identity: Arc<Identity>,
    secrets: login::Secrets,
    limits: MiniAppLimits,
    merchants: Option<Arc<dyn Merchants>>,
    /// Mini programs as last written or read, with their record version.
    app_cache: std::sync::RwLock<std::collections::HashMap<String, (u64, Arc<MiniApp>)>>,
    /// Ledger accounts this process opened (or found open), so a hot path opens once.
    opened: std::sync::Mutex<std::collections::HashSet<plaza_kernel::id::AccountId>>,
    payments: Option<Arc<dyn Payments>>,
    objects: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for MiniApps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniApps")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl MiniApps {
    /// Mini Programs over the given stores. `identity` knows people and apps (openids,
    /// unionids); `objects` keeps code packages; `secret` (at least 32 bytes of randomness) keys tokens and seals
    /// login codes.
    pub fn new(
        records: Arc<dyn RecordStore>,
        ledger: Arc<dyn LedgerStore>,
        clock: Arc<dyn Clock>,
        identity: Arc<Identity>,
        objects: Arc<dyn ObjectStore>,
        secret: &[u8],
        limits: MiniAppLimits,
    ) -> Self {
        Self {
            records,
            ledger,
            clock,
            identity,
            secrets: login::Secrets::derive(secret),
            limits,
            merchants: None,
            opened: std::sync::Mutex::default(),
            app_cache: std::sync::RwLock::default(),
            payments: None,
            objects,
        }
    }

    /// With Pay's payment check, for `wx.requestPayment`.
    #[must_use]
    pub fn with_payments(mut self, payments: Arc<dyn Payments>) -> Self {
        self.payments = Some(payments);
        self
    }

    /// With Pay's merchants, so apps can be bound to one.
    #[must_use]
    pub fn with_merchants(mut self, merchants: Arc<dyn Merchants>) -> Self {
        self.merchants = Some(merchants);
        self
    }

    /// People and apps.
    pub fn identity(&self) -> &Arc<Identity> {
        &self.identity
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Commits records; `Ok(false)` when one it relied on changed meanwhile.
    async fn try_commit(&self, records: Vec<RecordWrite>) -> Result<bool, MiniAppError> {
        self.try_commit_with_events(records, Vec::new()).await
    }

    /// Commits records with the outbox events they cause; `Ok(false)` on a conflict.
    async fn try_commit_with_events(
        &self,
        records: Vec<RecordWrite>,
        events: Vec<plaza_kernel::queue::NewEvent>,
    ) -> Result<bool, MiniAppError> {
        let write = WriteSet {
            records,
            events,
            ..WriteSet::default()
        };
        match self.ledger.commit(write).await {
            Ok(_) => Ok(true),
            Err(LedgerError::RecordConflict { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }
}

/// The China calendar day (UTC+8) of `at`, as days since 1970-01-01.
pub fn china_day(at: Timestamp) -> i64 {
    const CHINA_OFFSET_MS: i64 = 8 * 3_600_000;
    (at.unix_ms() + CHINA_OFFSET_MS).div_euclid(86_400_000)
}
