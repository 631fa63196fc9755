//! WeCom (企业微信): companies with their departments, members and self-built apps, the
//! access tokens of their secrets, app messages delivered to members, and internal
//! group chats (appchat) whose messages are kept in order. Plain Rust, no HTTP.
//!
//! The one design decision: what WeCom keeps secret is never stored in the clear. A
//! secret is kept as its SHA-256 (shown at creation and at reset only), which is also
//! the key that finds the corp and scope it opens. An access token is an HMAC of a
//! stored nonce under this system's secret, stored by its SHA-256: the database can say
//! which token a text is and give the same token again while it is valid, but a copy of
//! it signs nothing. Every change is one unit of work on the record store, checked by
//! the versions it read.
#![deny(missing_docs)]

pub mod archive;
pub mod chat;
pub mod contacts;
pub mod conversation;
pub mod corps;
pub mod directory;
pub mod error;
pub mod events;
pub mod figures;
pub mod groups;
pub mod messages;
pub mod model;
pub mod ports;
pub mod store;
pub mod tags;
pub mod tokens;
pub mod transfer;
pub mod upgrade;

use std::sync::Arc;

use plaza_identity::Identity;
use plaza_kernel::clock::{Clock, Timestamp};
use plaza_kernel::queue::OutboxStore;
use plaza_kernel::record::{RecordStore, RecordWrite};
use plaza_ledger::{LedgerError, LedgerStore, WriteSet};

pub use corps::{CorpCreated, NewCorp};
pub use error::WeComError;
pub use model::{AppChat, AppMessage, Corp, CorpApp, Department, Member, MemberStatus, Scope};
pub use tokens::{IssuedToken, TokenGrant};

/// How often a write that lost a race is tried again before answering `Busy`.
const CONFLICT_RETRIES_MAX: usize = 16;

/// WeCom over the record store.
pub struct WeCom {
    records: Arc<dyn RecordStore>,
    ledger: Arc<dyn LedgerStore>,
    outbox: Arc<dyn OutboxStore>,
    clock: Arc<dyn Clock>,
    identity: Arc<Identity>,
    token_key: aws_lc_rs::hmac::Key,
    callbacks: Option<Arc<dyn ports::CallbackSender>>,
    fanout: Option<plaza_fanout::SharedFanOut>,
    objects: Option<Arc<dyn plaza_kernel::objects::ObjectStore>>,
    sequencers: chat::Sequencers,
    permit_cache: archive::PermitCache,
}

impl std::fmt::Debug for WeCom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeCom").finish_non_exhaustive()
    }
}

impl WeCom {
    /// WeCom over the given stores (the outbox holds the session archive); `secret` (at
    /// least 32 bytes of randomness) keys access tokens.
    pub fn new(
        records: Arc<dyn RecordStore>,
        ledger: Arc<dyn LedgerStore>,
        outbox: Arc<dyn OutboxStore>,
        clock: Arc<dyn Clock>,
        identity: Arc<Identity>,
        secret: &[u8],
    ) -> Self {
        Self {
            records,
            ledger,
            outbox,
            clock,
            identity,
            token_key: aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret),
            callbacks: None,
            fanout: None,
            objects: None,
            sequencers: chat::Sequencers::default(),
            permit_cache: archive::PermitCache::default(),
        }
    }

    /// With the realtime fan-out chat messages and read receipts are published on.
    #[must_use]
    pub fn with_fanout(mut self, fanout: plaza_fanout::SharedFanOut) -> Self {
        self.fanout = Some(fanout);
        self
    }

    /// With the object store chat images are kept in.
    #[must_use]
    pub fn with_objects(mut self, objects: Arc<dyn plaza_kernel::objects::ObjectStore>) -> Self {
        self.objects = Some(objects);
        self
    }

    /// The realtime fan-out, if attached.
    pub fn fanout(&self) -> Option<&plaza_fanout::SharedFanOut> {
        self.fanout.as_ref()
    }

    /// With the sender of callbacks to corps' servers.
    #[must_use]
    pub fn with_callbacks(mut self, sender: Arc<dyn ports::CallbackSender>) -> Self {
        self.callbacks = Some(sender);
        self
    }

    /// People.
    pub fn identity(&self) -> &Arc<Identity> {
        &self.identity
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Commits records; `Ok(false)` when one it relied on changed meanwhile.
    async fn try_commit(&self, records: Vec<RecordWrite>) -> Result<bool, WeComError> {
        self.try_commit_with_jobs(records, Vec::new()).await
    }

    /// Commits records with the jobs they schedule; `Ok(false)` when a record changed
    /// meanwhile.
    async fn try_commit_with_jobs(
        &self,
        records: Vec<RecordWrite>,
        jobs: Vec<plaza_kernel::queue::NewJob>,
    ) -> Result<bool, WeComError> {
        self.try_commit_set(WriteSet {
            records,
            jobs,
            ..WriteSet::default()
        })
        .await
    }

    /// Commits a unit of work; `Ok(false)` when a record changed meanwhile.
    async fn try_commit_set(&self, write: WriteSet) -> Result<bool, WeComError> {
        match self.ledger.commit(write).await {
            Ok(_) => Ok(true),
            Err(LedgerError::RecordConflict { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    fn busy(what: &str) -> WeComError {
        WeComError::Busy {
            what: what.to_owned(),
        }
    }
}

/// `len` random characters from `alphabet`.
pub(crate) fn random_text(alphabet: &[u8], len: usize) -> String {
    use rand::Rng as _;
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// Lower-case hex digits.
pub(crate) const HEX: &[u8] = b"0123456789abcdef";
/// Letters and digits.
pub(crate) const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
