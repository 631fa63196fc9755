//! Channels (视频号): creators open a channel, post videos and images whose media is
//! really processed (probed, given a poster, transcoded when browsers cannot play it,
//! hashed to find copies of someone else's video), and people follow, like, comment,
//! share and watch through a feed that can say why it shows each post. Plain Rust, no
//! HTTP.
//!
//! The one design decision: counters are exact because every change to one thing (a
//! post's likes, comments, views and shares; a channel's followers; a comment's likes)
//! is decided under that thing's in-process lock and committed with the record that
//! causes it, checked by version; and the feed ranks from an in-memory copy of every
//! ready post's facts, written through after each commit, because one process writes a
//! data directory.
#![deny(missing_docs)]

pub mod caption;
pub mod creators;
pub mod error;
pub mod feed;
pub mod incentive;
pub mod live;
pub mod model;
pub mod originality;
pub mod ports;
pub mod posts;
pub mod social;
pub mod store;
pub mod uploads;

mod locks;

use std::sync::Arc;

use plaza_identity::Identity;
use plaza_kernel::clock::{Clock, Timestamp};
use plaza_kernel::objects::ObjectStore;
use plaza_kernel::record::RecordStore;
use plaza_ledger::{LedgerError, LedgerStore, WriteSet};

pub use error::ChannelsError;
pub use model::{Area, Channel, Comment, Post, PostState, PostStats};

/// How often a write that lost a race is tried again before answering `Busy`.
const CONFLICT_RETRIES_MAX: usize = 16;

/// Channels over the record store.
pub struct Channels {
    records: Arc<dyn RecordStore>,
    ledger: Arc<dyn LedgerStore>,
    clock: Arc<dyn Clock>,
    identity: Arc<Identity>,
    objects: Arc<dyn ObjectStore>,
    media: Arc<dyn ports::MediaTools>,
    money: Option<Arc<dyn ports::Money>>,
    fanout: Option<plaza_fanout::SharedFanOut>,
    stages: live::Stages,
    locks: locks::KeyedLocks,
    feed: feed::FeedIndex,
}

impl std::fmt::Debug for Channels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channels").finish_non_exhaustive()
    }
}

impl Channels {
    /// Channels over the given stores; media files go to `objects`, and `media`
    /// processes them.
    pub fn new(
        records: Arc<dyn RecordStore>,
        ledger: Arc<dyn LedgerStore>,
        clock: Arc<dyn Clock>,
        identity: Arc<Identity>,
        objects: Arc<dyn ObjectStore>,
        media: Arc<dyn ports::MediaTools>,
    ) -> Self {
        Self {
            records,
            ledger,
            clock,
            identity,
            objects,
            media,
            money: None,
            fanout: None,
            stages: live::Stages::default(),
            locks: locks::KeyedLocks::default(),
            feed: feed::FeedIndex::default(),
        }
    }

    /// With the money port: wallets for payouts and gifts, the operator's funding source.
    #[must_use]
    pub fn with_money(mut self, money: Arc<dyn ports::Money>) -> Self {
        self.money = Some(money);
        self
    }

    /// With the realtime fan-out live rooms publish on.
    #[must_use]
    pub fn with_fanout(mut self, fanout: plaza_fanout::SharedFanOut) -> Self {
        self.fanout = Some(fanout);
        self
    }

    /// The realtime fan-out, if attached.
    pub fn fanout(&self) -> Option<&plaza_fanout::SharedFanOut> {
        self.fanout.as_ref()
    }

    /// People.
    pub fn identity(&self) -> &Arc<Identity> {
        &self.identity
    }

    /// The domain clock's now.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Commits a unit of work; `Ok(false)` when a record changed meanwhile.
    async fn try_commit(&self, write: WriteSet) -> Result<bool, ChannelsError> {
        match self.ledger.commit(write).await {
            Ok(_) => Ok(true),
            Err(LedgerError::RecordConflict { .. }) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// The money port, or why there is none.
    pub(crate) fn money(&self) -> Result<&Arc<dyn ports::Money>, ChannelsError> {
        self.money
            .as_ref()
            .ok_or_else(|| ChannelsError::Unavailable {
                reason: "this Plaza runs no payments".to_owned(),
            })
    }

    fn busy(what: &str) -> ChannelsError {
        ChannelsError::Busy {
            what: what.to_owned(),
        }
    }
}

/// The China calendar day (UTC+8) of an instant, as days since 1970-01-01.
pub fn china_day(at: Timestamp) -> i64 {
    const CHINA_OFFSET_MS: i64 = 8 * 3_600_000;
    (at.unix_ms() + CHINA_OFFSET_MS).div_euclid(86_400_000)
}

/// `len` random letters and digits.
pub(crate) fn random_id(prefix: &str, len: usize) -> String {
    use rand::Rng as _;
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let mut id = String::with_capacity(prefix.len() + len);
    id.push_str(prefix);
    id.extend((0..len).map(|_| char::from(ALNUM[rng.random_range(0..ALNUM.len())])));
    id
}
