//! Live rooms: a creator goes live; the room relays their WebM stream (its init segment
//! and the pieces since the last keyframe for late joiners, then live), counts viewers
//! now and in all, takes comments (sampled fairly when more come than a viewer can
//! read), aggregates likes per second, takes gifts paid from the viewer's wallet to the
//! creator's through the ledger (the platform's share booked), and shows pinned cards.
//! Ending the room keeps its record: totals and the chat for replay.
//!
//! The one design decision: what must be exact is written to the store as it happens
//! (each comment, each gift with its transfers, idempotent by the viewer's request id);
//! what is only realtime (the stream, counts of viewers, likes between flushes) lives in
//! memory in this process and is published through the fan-out on the room's topic
//! (`live:<room_id>`), text events as JSON and media as bytes.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use plaza_fanout::Payload;
use plaza_kernel::clock::Timestamp;
use plaza_kernel::id::{AccountId, TransferId};
use plaza_kernel::money::Currency;
use plaza_kernel::record::{Expect, IndexEntry, RecordWrite};
use plaza_ledger::{AccountKind, LedgerError, NewAccount, NewTransfer, TransferBatch, WriteSet};
use plaza_media::webm::Piece;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::store::{index, kind, load, prefix_bounds, range, time_value, write};
use crate::{CONFLICT_RETRIES_MAX, Channels, ChannelsError};

/// The gifts a viewer can send: id, name, price in fen.
pub const GIFTS: [(&str, &str, i64); 5] = [
    ("heart", "爱心", 10),
    ("rose", "玫瑰", 100),
    ("cake", "蛋糕", 990),
    ("crown", "皇冠", 9_900),
    ("rocket", "火箭", 50_000),
];
/// The platform's share of a gift, basis points (30%); the creator gets the rest.
pub const PLATFORM_SHARE_BPS: i64 = 3_000;
/// Gifts of one kind in one sending, at most.
pub const GIFT_COUNT_MAX: u32 = 99;
/// The longest live comment, in characters.
pub const LIVE_COMMENT_CHARS_MAX: usize = 200;
/// The longest room title, in characters.
pub const TITLE_CHARS_MAX: usize = 40;
/// Comments a viewer is shown per second at most; beyond it they see a fair sample
/// (and always the host's and their own).
pub const COMMENTS_SHOWN_PER_SECOND: usize = 20;
/// Gifts a tick shows at most (every gift is counted in the room's total either way).
pub const GIFTS_SHOWN_PER_TICK: usize = 20;
/// The stream pieces a room keeps for late joiners at most (since the last keyframe).
const RECENT_PIECES_MAX: usize = 512;
/// Cards a room may pin at once.
pub const PINS_MAX: usize = 3;

/// The platform's account for its share of gifts.
fn platform_account() -> Result<AccountId, ChannelsError> {
    account("platform:channels".to_owned())
}

fn account(name: String) -> Result<AccountId, ChannelsError> {
    AccountId::parse(&name).map_err(|error| ChannelsError::Unavailable {
        reason: format!("account {name:?}: {error}"),
    })
}

/// A gift's price and the platform's share of `total_minor`: `⌊total × 30%⌋`.
pub fn platform_share(total_minor: i64) -> i64 {
    let share = i128::from(total_minor) * i128::from(PLATFORM_SHARE_BPS) / 10_000;
    i64::try_from(share).unwrap_or(0)
}

/// Where a room stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomState {
    /// On air.
    Live,
    /// Closed.
    Ended,
}

/// A card pinned in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// `product` (a Pay checkout), `miniprogram` or `wecom_group` (a group's QR page).
    pub kind: String,
    /// What it says.
    pub title: String,
    /// Where it leads: a path on Plaza.
    pub url: String,
    /// A product's price, fen.
    pub price_minor: Option<i64>,
}

/// A live room as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveRoom {
    /// `lv` + 14 letters and digits.
    pub room_id: String,
    /// The host's channel.
    pub channel_id: String,
    /// The host.
    pub host: String,
    /// Its title.
    pub title: String,
    /// Where it stands.
    pub state: RoomState,
    /// When it started.
    pub started_at: Timestamp,
    /// When it ended.
    pub ended_at: Option<Timestamp>,
    /// Distinct viewers who ever joined.
    pub viewers_total: u64,
    /// The most watching at once.
    pub viewers_peak: u64,
    /// Likes.
    pub likes: u64,
    /// Comments.
    pub comments: u64,
    /// Gifts sent (each count).
    pub gifts: u64,
    /// What gifts paid, fen (the creator's part and the platform's).
    pub gifts_minor: i64,
    /// Pinned cards.
    pub pins: Vec<Pin>,
}

/// A comment in a room, kept for the replay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveComment {
    /// Its place in the room, from 1.
    pub seq: u64,
    /// Who wrote it.
    pub author: String,
    /// Their name.
    pub author_name: String,
    /// Whether the host wrote it.
    pub host: bool,
    /// What it says.
    pub text: String,
    /// When.
    pub at: Timestamp,
}

/// A gift as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gift {
    /// The room.
    pub room_id: String,
    /// Who sent it.
    pub sender: String,
    /// Their name.
    pub sender_name: String,
    /// Which gift.
    pub gift: String,
    /// How many.
    pub count: u32,
    /// The total, fen.
    pub total_minor: i64,
    /// The platform's share, fen.
    pub platform_minor: i64,
    /// The sender's request id.
    pub request_id: String,
    /// When.
    pub at: Timestamp,
}

/// What lives only in memory for a room on air.
#[derive(Debug, Default)]
pub struct Stage {
    /// The stream's init segment.
    init: Mutex<Option<Arc<[u8]>>>,
    /// Pieces since the last keyframe cluster start.
    recent: Mutex<Vec<Arc<[u8]>>>,
    /// Watching now.
    pub watching: AtomicU64,
    /// Everyone who joined.
    joined: Mutex<HashSet<String>>,
    /// Likes not yet published.
    likes_pending: AtomicU64,
    /// Likes published.
    likes_total: AtomicU64,
    /// The most watching at once, as ticks saw it.
    peak: AtomicU64,
    /// The next comment's place.
    comment_seq: AtomicU64,
    /// Comments of the current tick, for sampling: (author, host, payload).
    tick: Mutex<Vec<(String, bool, Arc<str>)>>,
    /// Gifts of the current tick: (the room's gift total after it, payload).
    gifts_tick: Mutex<Vec<(i64, Arc<str>)>>,
}

/// Rooms on air in this process.
#[derive(Debug, Default)]
pub(crate) struct Stages(Mutex<HashMap<String, Arc<Stage>>>);

impl Stages {
    fn get(&self, room_id: &str) -> Option<Arc<Stage>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(room_id)
            .cloned()
    }

    fn insert(&self, room_id: &str, stage: Arc<Stage>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(room_id.to_owned(), stage);
    }

    fn remove(&self, room_id: &str) -> Option<Arc<Stage>> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(room_id)
    }
}

/// The fan-out topic of a room.
pub fn topic(room_id: &str) -> String {
    format!("live:{room_id}")
}

/// A viewer in a room: counted while held.
#[derive(Debug)]
pub struct Watching(Arc<Stage>);

impl Drop for Watching {
    fn drop(&mut self) {
        self.0.watching.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a joining viewer gets first: the init segment and the pieces since the last
/// keyframe, and the room's topic subscribed at that same instant (so nothing is missed
/// and nothing comes twice).
pub struct Catch {
    /// The init segment, once the host sent it.
    pub init: Option<Arc<[u8]>>,
    /// The pieces since the last keyframe cluster start.
    pub recent: Vec<Arc<[u8]>>,
    /// Everything published on the room from then on (none without a fan-out).
    pub subscription: Option<Box<dyn plaza_fanout::Subscription>>,
}

impl std::fmt::Debug for Catch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catch")
            .field("init", &self.init.as_ref().map(|init| init.len()))
            .field("recent", &self.recent.len())
            .finish_non_exhaustive()
    }
}

fn room_write(room: &LiveRoom, expect: Expect) -> Result<RecordWrite, ChannelsError> {
    let mut entries = vec![IndexEntry::new(
        index::CREATED,
        time_value(room.started_at.unix_ms()),
    )];
    entries.push(IndexEntry::new(
        index::AUTHOR,
        format!(
            "{}/{}",
            room.channel_id,
            time_value(room.started_at.unix_ms())
        ),
    ));
    if room.state == RoomState::Live {
        entries.push(IndexEntry::new(index::LIVE, &room.channel_id));
    }
    write(kind::LIVE_ROOM, &room.room_id, expect, room, entries)
}

fn check_text(field: &str, text: &str, max: usize) -> Result<String, ChannelsError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > max {
        return Err(ChannelsError::invalid(
            field,
            format!("1 to {max} characters"),
        ));
    }
    Ok(text.to_owned())
}

impl Channels {
    /// Publishes on a room's topic.
    fn publish_live(&self, room_id: &str, payload: Payload) {
        if let Some(fanout) = &self.fanout {
            fanout.publish(&topic(room_id), payload);
        }
    }

    fn publish_event(&self, room_id: &str, event: &serde_json::Value) {
        self.publish_live(room_id, Payload::Text(Arc::from(event.to_string())));
    }

    /// A room by id.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::RoomNotFound`].
    pub async fn room(&self, room_id: &str) -> Result<(LiveRoom, u64), ChannelsError> {
        load::<LiveRoom>(&*self.records, kind::LIVE_ROOM, room_id)
            .await?
            .ok_or_else(|| ChannelsError::RoomNotFound {
                room_id: room_id.to_owned(),
            })
    }

    /// The room on air in this process, if it is.
    pub fn stage(&self, room_id: &str) -> Option<Arc<Stage>> {
        self.stages.get(room_id)
    }

    /// Rooms on air now, newest first, at most `rows_max`.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn live_rooms(&self, rows_max: usize) -> Result<Vec<LiveRoom>, ChannelsError> {
        let found: Vec<(String, LiveRoom)> = range(
            &*self.records,
            kind::LIVE_ROOM,
            index::LIVE,
            prefix_bounds(""),
            None,
            rows_max,
            false,
        )
        .await?;
        Ok(found.into_iter().map(|(_, room)| room).collect())
    }

    /// Closes the rooms a previous run left on air (their stream, viewers and ticks were
    /// that process's): each ends now with the totals it has. At start, before anyone
    /// can go live.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn close_stale_rooms(&self) -> Result<usize, ChannelsError> {
        let stale = self.live_rooms(10_000).await?;
        let mut closed = 0;
        for room in stale {
            if self.stages.get(&room.room_id).is_some() {
                continue;
            }
            let (mut room, version) = self.room(&room.room_id).await?;
            room.state = RoomState::Ended;
            room.ended_at = Some(self.now());
            // The comments stored are the room's count (read once, at start).
            room.comments =
                u64::try_from(self.live_comments(&room.room_id, 0, 1_000_000).await?.len())
                    .unwrap_or(u64::MAX);
            let unit = WriteSet {
                records: vec![room_write(&room, Expect::Version(version))?],
                ..WriteSet::default()
            };
            if self.try_commit(unit).await? {
                closed += 1;
            }
        }
        Ok(closed)
    }

    /// `user_id` goes live with `title`.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::NoChannel`]; [`ChannelsError::AlreadyLive`] while another of
    /// their rooms is on air; an invalid title.
    pub async fn go_live(&self, user_id: &str, title: &str) -> Result<LiveRoom, ChannelsError> {
        let title = check_text("title", title, TITLE_CHARS_MAX)?;
        let channel = self
            .channel_of(user_id)
            .await?
            .ok_or(ChannelsError::NoChannel)?;
        let _guard = self
            .locks
            .lock(&format!("live:{}", channel.channel_id))
            .await;
        let on_air: Vec<(String, LiveRoom)> = range(
            &*self.records,
            kind::LIVE_ROOM,
            index::LIVE,
            (
                channel.channel_id.clone(),
                format!("{}\u{0}", channel.channel_id),
            ),
            None,
            1,
            false,
        )
        .await?;
        if let Some((_, room)) = on_air.into_iter().next() {
            return Err(ChannelsError::AlreadyLive {
                room_id: room.room_id,
            });
        }
        let room = LiveRoom {
            room_id: crate::random_id("lv", 14),
            channel_id: channel.channel_id.clone(),
            host: user_id.to_owned(),
            title,
            state: RoomState::Live,
            started_at: self.now(),
            ended_at: None,
            viewers_total: 0,
            viewers_peak: 0,
            likes: 0,
            comments: 0,
            gifts: 0,
            gifts_minor: 0,
            pins: Vec::new(),
        };
        let unit = WriteSet {
            records: vec![room_write(&room, Expect::Absent)?],
            ..WriteSet::default()
        };
        if !self.try_commit(unit).await? {
            return Err(Self::busy("room"));
        }
        self.stages
            .insert(&room.room_id, Arc::new(Stage::default()));
        Ok(room)
    }

    /// The host sends stream pieces; they are kept for late joiners and published.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::RoomNotFound`] when the room is not on air here.
    pub fn stream_pieces(&self, room_id: &str, pieces: Vec<Piece>) -> Result<(), ChannelsError> {
        let stage = self.on_air(room_id)?;
        for piece in pieces {
            // Kept and published under the lock a joining viewer takes to copy what is
            // kept and subscribe, so each piece reaches them exactly once.
            let mut recent = stage.recent.lock().unwrap_or_else(PoisonError::into_inner);
            let (bytes, restart) = match piece {
                Piece::Init(bytes) => {
                    let bytes: Arc<[u8]> = bytes.into();
                    *stage.init.lock().unwrap_or_else(PoisonError::into_inner) =
                        Some(bytes.clone());
                    recent.clear();
                    self.publish_live(room_id, Payload::Binary(bytes));
                    continue;
                }
                Piece::ClusterStart { bytes, key } => (bytes, key),
                Piece::ClusterMore(bytes) => (bytes, false),
            };
            let bytes: Arc<[u8]> = bytes.into();
            if restart || recent.len() >= RECENT_PIECES_MAX {
                recent.clear();
            }
            recent.push(bytes.clone());
            self.publish_live(room_id, Payload::Binary(bytes));
        }
        Ok(())
    }

    fn on_air(&self, room_id: &str) -> Result<Arc<Stage>, ChannelsError> {
        self.stages
            .get(room_id)
            .ok_or_else(|| ChannelsError::RoomNotFound {
                room_id: room_id.to_owned(),
            })
    }

    /// A viewer (`who`: a user id, or an anonymous visitor's id) joins: counted while
    /// the returned guard lives; what to play first.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::RoomNotFound`] when the room is not on air.
    pub fn join_live(&self, room_id: &str, who: &str) -> Result<(Watching, Catch), ChannelsError> {
        let stage = self.on_air(room_id)?;
        stage.watching.fetch_add(1, Ordering::Relaxed);
        stage
            .joined
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(who.to_owned());
        let catch = {
            let recent = stage.recent.lock().unwrap_or_else(PoisonError::into_inner);
            Catch {
                init: stage
                    .init
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone(),
                recent: recent.clone(),
                subscription: self
                    .fanout
                    .as_ref()
                    .map(|fanout| fanout.subscribe(&topic(room_id))),
            }
        };
        Ok((Watching(stage), catch))
    }

    /// Likes from a viewer: counted now, published with the next tick.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::RoomNotFound`]; a count outside 1 to 99.
    pub fn like_live(&self, room_id: &str, count: u32) -> Result<(), ChannelsError> {
        if !(1..=GIFT_COUNT_MAX).contains(&count) {
            return Err(ChannelsError::invalid("count", "1 to 99"));
        }
        self.on_air(room_id)?
            .likes_pending
            .fetch_add(u64::from(count), Ordering::Relaxed);
        Ok(())
    }

    /// A comment in a room: stored for the replay (in its own unit of work), then
    /// shown — to everyone when few come, else in the tick's fair sample; the author
    /// sees theirs from the answer.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::RoomNotFound`]; an empty or too long text.
    pub async fn comment_live(
        &self,
        user_id: &str,
        room_id: &str,
        text: &str,
    ) -> Result<LiveComment, ChannelsError> {
        let text = check_text("text", text, LIVE_COMMENT_CHARS_MAX)?;
        let stage = self.on_air(room_id)?;
        let (room, _) = self.room(room_id).await?;
        let author_name = self
            .identity
            .user(user_id)
            .await?
            .map_or_else(|| user_id.to_owned(), |user| user.name);
        let comment = LiveComment {
            seq: stage.comment_seq.fetch_add(1, Ordering::Relaxed) + 1,
            author: user_id.to_owned(),
            author_name,
            host: room.host == user_id,
            text,
            at: self.now(),
        };
        let unit = WriteSet {
            records: vec![write(
                kind::LIVE_COMMENT,
                &format!("{room_id}/{:012}", comment.seq),
                Expect::Absent,
                &comment,
                vec![IndexEntry::new(
                    index::ROOM,
                    format!("{room_id}/{:012}", comment.seq),
                )],
            )?],
            ..WriteSet::default()
        };
        if !self.try_commit(unit).await? {
            return Err(Self::busy("room"));
        }
        let event: Arc<str> = Arc::from(comment_event(&comment).to_string());
        stage
            .tick
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((comment.author.clone(), comment.host, event));
        Ok(comment)
    }

    /// A room's comments in order after `after_seq`, at most `rows_max` (the replay).
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn live_comments(
        &self,
        room_id: &str,
        after_seq: u64,
        rows_max: usize,
    ) -> Result<Vec<LiveComment>, ChannelsError> {
        let found: Vec<(String, LiveComment)> = range(
            &*self.records,
            kind::LIVE_COMMENT,
            index::ROOM,
            (
                format!("{room_id}/{:012}", after_seq + 1),
                format!("{room_id}/\u{10FFFF}"),
            ),
            None,
            rows_max,
            false,
        )
        .await?;
        Ok(found.into_iter().map(|(_, comment)| comment).collect())
    }

    /// One tick of a room (the caller runs it every `period_ms`): the comments that
    /// came, sampled fairly when more than a viewer can read (the host's always shown);
    /// with `counts` (once a second) also the likes aggregated since the last and the
    /// viewer counts.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::RoomNotFound`] when the room is off air.
    pub fn tick_live(
        &self,
        room_id: &str,
        period_ms: u64,
        counts: bool,
    ) -> Result<(), ChannelsError> {
        let stage = self.on_air(room_id)?;
        let comments =
            std::mem::take(&mut *stage.tick.lock().unwrap_or_else(PoisonError::into_inner));
        let shown_max =
            usize::try_from((COMMENTS_SHOWN_PER_SECOND as u64 * period_ms).div_ceil(1_000))
                .unwrap_or(COMMENTS_SHOWN_PER_SECOND)
                .max(1);
        let mut items = sample(comments, shown_max);
        let mut gifts = std::mem::take(
            &mut *stage
                .gifts_tick
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        // Every gift, up to what a screen shows; the last shown carries the room's total.
        gifts.sort_by_key(|(total, _)| *total);
        let skipped = gifts.len().saturating_sub(GIFTS_SHOWN_PER_TICK);
        items.extend(gifts.into_iter().skip(skipped).map(|(_, event)| event));
        if counts {
            items.push(Arc::from(Self::counts_event(&stage).to_string()));
        }
        if !items.is_empty() {
            // One frame a tick, whatever it carries: a room's cost grows with its
            // viewers, not with its comments and gifts.
            let items = items.join(",");
            self.publish_live(
                room_id,
                Payload::Text(Arc::from(format!(
                    "{{\"op\":\"comments\",\"items\":[{items}]}}"
                ))),
            );
        }
        Ok(())
    }

    /// The room's counts (the likes since the last counts aggregated), as a `stats`
    /// event.
    fn counts_event(stage: &Stage) -> serde_json::Value {
        let likes = stage.likes_pending.swap(0, Ordering::Relaxed);
        let likes_total = stage.likes_total.fetch_add(likes, Ordering::Relaxed) + likes;
        let watching = stage.watching.load(Ordering::Relaxed);
        stage.peak.fetch_max(watching, Ordering::Relaxed);
        let joined = u64::try_from(
            stage
                .joined
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len(),
        )
        .unwrap_or(u64::MAX);
        json!({
            "op": "stats",
            "watching": watching,
            "viewers_total": joined,
            "likes": likes,
            "likes_total": likes_total,
        })
    }

    /// Pins `pin` in the host's room (replacing one of the same kind); at most
    /// [`PINS_MAX`].
    ///
    /// # Errors
    ///
    /// [`ChannelsError::RoomNotFound`], [`ChannelsError::NotYours`], an invalid card.
    pub async fn pin_live(
        &self,
        user_id: &str,
        room_id: &str,
        pin: Pin,
    ) -> Result<LiveRoom, ChannelsError> {
        if !matches!(pin.kind.as_str(), "product" | "miniprogram" | "wecom_group") {
            return Err(ChannelsError::invalid(
                "kind",
                "product, miniprogram or wecom_group",
            ));
        }
        check_text("title", &pin.title, TITLE_CHARS_MAX)?;
        if !pin.url.starts_with('/') || pin.url.starts_with("//") || pin.url.len() > 512 {
            return Err(ChannelsError::invalid("url", "a path on Plaza"));
        }
        if pin
            .price_minor
            .is_some_and(|price| !(1..=plaza_kernel::limits::AMOUNT_MINOR_MAX).contains(&price))
        {
            return Err(ChannelsError::invalid(
                "price_minor",
                "a positive amount of fen",
            ));
        }
        let _guard = self.locks.lock(&format!("room:{room_id}")).await;
        let (mut room, version) = self.room(room_id).await?;
        if room.host != user_id {
            return Err(ChannelsError::NotYours {
                who: "the host",
                what: "pin a card",
            });
        }
        if room.state != RoomState::Live {
            return Err(ChannelsError::RoomNotFound {
                room_id: room_id.to_owned(),
            });
        }
        room.pins.retain(|existing| existing.kind != pin.kind);
        room.pins.push(pin);
        room.pins.truncate(PINS_MAX);
        let unit = WriteSet {
            records: vec![room_write(&room, Expect::Version(version))?],
            ..WriteSet::default()
        };
        if !self.try_commit(unit).await? {
            return Err(Self::busy("room"));
        }
        self.publish_event(room_id, &json!({ "op": "pins", "pins": room.pins }));
        Ok(room)
    }

    /// The host ends the room: its totals are written, viewers are told, the stream
    /// stops; the comments stay for the replay.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::RoomNotFound`], [`ChannelsError::NotYours`].
    pub async fn end_live(&self, user_id: &str, room_id: &str) -> Result<LiveRoom, ChannelsError> {
        let _guard = self.locks.lock(&format!("room:{room_id}")).await;
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut room, version) = self.room(room_id).await?;
            if room.host != user_id {
                return Err(ChannelsError::NotYours {
                    who: "the host",
                    what: "end the room",
                });
            }
            if room.state == RoomState::Ended {
                return Ok(room);
            }
            if let Some(stage) = self.stages.get(room_id) {
                let pending = stage.likes_pending.swap(0, Ordering::Relaxed);
                room.likes = stage.likes_total.load(Ordering::Relaxed) + pending;
                room.viewers_peak = stage
                    .peak
                    .load(Ordering::Relaxed)
                    .max(stage.watching.load(Ordering::Relaxed));
                room.viewers_total = u64::try_from(
                    stage
                        .joined
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .len(),
                )
                .unwrap_or(u64::MAX);
                room.comments = stage.comment_seq.load(Ordering::Relaxed);
            }
            room.state = RoomState::Ended;
            room.ended_at = Some(self.now());
            let unit = WriteSet {
                records: vec![room_write(&room, Expect::Version(version))?],
                ..WriteSet::default()
            };
            if self.try_commit(unit).await? {
                self.stages.remove(room_id);
                self.publish_event(
                    room_id,
                    &json!({ "op": "ended", "room": room_json_totals(&room) }),
                );
                return Ok(room);
            }
        }
        Err(Self::busy("room"))
    }

    /// A viewer sends `count` of `gift` in a room: paid from their wallet, the
    /// platform's share booked and the rest to the host's wallet, with the gift's record
    /// and the room's totals, in one unit of work. The same `request_id` again sends
    /// nothing more and answers the first.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::RoomNotFound`] (or ended), [`ChannelsError::WalletShort`], an
    /// unknown gift, a count outside 1 to 99, a bad request id, the host gifting
    /// themselves.
    pub async fn send_gift(
        &self,
        user_id: &str,
        room_id: &str,
        gift: &str,
        count: u32,
        request_id: &str,
    ) -> Result<Gift, ChannelsError> {
        let price = check_gift(gift, count, request_id)?;
        let key = format!("{room_id}/{user_id}/{request_id}");
        if let Some((gift, _)) = load::<Gift>(&*self.records, kind::LIVE_GIFT, &key).await? {
            return Ok(gift);
        }
        let total_minor = price * i64::from(count);
        let sender_name = self
            .identity
            .user(user_id)
            .await?
            .map_or_else(|| user_id.to_owned(), |user| user.name);
        let _guard = self.locks.lock(&format!("room:{room_id}")).await;
        let (mut room, version) = self.room(room_id).await?;
        if room.state != RoomState::Live {
            return Err(ChannelsError::RoomNotFound {
                room_id: room_id.to_owned(),
            });
        }
        if room.host == user_id {
            return Err(ChannelsError::invalid(
                "room_id",
                "a host does not gift their own room",
            ));
        }
        let sent = Gift {
            room_id: room_id.to_owned(),
            sender: user_id.to_owned(),
            sender_name,
            gift: gift.to_owned(),
            count,
            total_minor,
            platform_minor: platform_share(total_minor),
            request_id: request_id.to_owned(),
            at: self.now(),
        };
        room.gifts += u64::from(count);
        room.gifts_minor += total_minor;
        self.commit_gift(&room, version, &sent, &key).await
    }

    /// Commits a gift with its transfers and the room's totals, then tells the room.
    async fn commit_gift(
        &self,
        room: &LiveRoom,
        version: u64,
        sent: &Gift,
        key: &str,
    ) -> Result<Gift, ChannelsError> {
        let batch = self.gift_batch(room, sent).await?;
        let by_time = format!("{}/{}", room.room_id, time_value(sent.at.unix_ms()));
        let unit = WriteSet {
            batch: Some(batch),
            records: vec![
                write(
                    kind::LIVE_GIFT,
                    key,
                    Expect::Absent,
                    sent,
                    vec![IndexEntry::new(index::ROOM, by_time)],
                )?,
                room_write(room, Expect::Version(version))?,
            ],
            ..WriteSet::default()
        };
        match self.ledger.commit(unit).await {
            Ok(_) => {}
            Err(LedgerError::InsufficientFunds { .. }) => {
                return Err(ChannelsError::WalletShort {
                    needed_minor: sent.total_minor,
                });
            }
            Err(LedgerError::RecordConflict { .. } | LedgerError::IdReused { .. }) => {
                return load::<Gift>(&*self.records, kind::LIVE_GIFT, key)
                    .await?
                    .map(|(gift, _)| gift)
                    .ok_or_else(|| Self::busy("room"));
            }
            Err(error) => return Err(error.into()),
        }
        let event = json!({
            "op": "gift",
            "sender_name": sent.sender_name,
            "gift": sent.gift,
            "gift_name": GIFTS.iter().find(|(id, _, _)| *id == sent.gift).map_or("", |(_, name, _)| *name),
            "count": sent.count,
            "total_minor": sent.total_minor,
            "gifts_minor": room.gifts_minor,
        });
        // Shown with the next tick; straight away when the room just went off air.
        match self.on_air(&room.room_id) {
            Ok(stage) => stage
                .gifts_tick
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((room.gifts_minor, Arc::from(event.to_string()))),
            Err(_) => self.publish_event(&room.room_id, &event),
        }
        Ok(sent.clone())
    }

    /// A gift's transfers: the sender's wallet to the host's (net) and to the
    /// platform (its share), ids from the room, sender and request.
    async fn gift_batch(
        &self,
        room: &LiveRoom,
        gift: &Gift,
    ) -> Result<TransferBatch, ChannelsError> {
        let money = self.money()?;
        let from = account(
            money
                .wallet(&gift.sender)
                .await
                .map_err(|reason| ChannelsError::invalid("wallet", reason))?,
        )?;
        let to = account(
            money
                .wallet(&room.host)
                .await
                .map_err(|reason| ChannelsError::Unavailable { reason })?,
        )?;
        let platform = platform_account()?;
        match self
            .ledger
            .open_account(NewAccount::new(
                platform.clone(),
                AccountKind::Fee,
                Currency::CNY,
            ))
            .await
        {
            Ok(_) | Err(LedgerError::AccountConflict { .. }) => {}
            Err(error) => return Err(error.into()),
        }
        // Ids are at most 64 bytes: the room, sender and request named by their digest.
        let digest = crate::store::sha256_hex(
            format!("{}/{}/{}", room.room_id, gift.sender, gift.request_id).as_bytes(),
        );
        let id = |part: &str| {
            let text = format!("channels-gift:{}:{part}", &digest[..40]);
            TransferId::parse(&text).map_err(|error| ChannelsError::Unavailable {
                reason: format!("transfer id {text:?}: {error}"),
            })
        };
        let mut transfers = vec![NewTransfer {
            id: id("host")?,
            from: from.clone(),
            to,
            amount_minor: gift.total_minor - gift.platform_minor,
            currency: Currency::CNY,
            memo: format!("live gift: {} × {}", gift.gift, gift.count),
        }];
        if gift.platform_minor > 0 {
            transfers.push(NewTransfer {
                id: id("platform")?,
                from,
                to: platform,
                amount_minor: gift.platform_minor,
                currency: Currency::CNY,
                memo: "live gift, platform share".to_owned(),
            });
        }
        Ok(TransferBatch::new(transfers)?)
    }
}

/// A gift's price, once its kind, count and request id are checked.
fn check_gift(gift: &str, count: u32, request_id: &str) -> Result<i64, ChannelsError> {
    let price = GIFTS
        .iter()
        .find(|(id, _, _)| *id == gift)
        .map(|(_, _, price)| *price)
        .ok_or_else(|| ChannelsError::invalid("gift", "one of heart, rose, cake, crown, rocket"))?;
    if !(1..=GIFT_COUNT_MAX).contains(&count) {
        return Err(ChannelsError::invalid("count", "1 to 99"));
    }
    let request_fine = !request_id.is_empty()
        && request_id.len() <= 64
        && request_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
    if !request_fine {
        return Err(ChannelsError::invalid(
            "request_id",
            "1 to 64 letters, digits, - and _",
        ));
    }
    Ok(price)
}

/// A room's totals as viewers are told when it ends.
pub fn room_json_totals(room: &LiveRoom) -> serde_json::Value {
    json!({
        "room_id": room.room_id,
        "viewers_total": room.viewers_total,
        "viewers_peak": room.viewers_peak,
        "likes": room.likes,
        "comments": room.comments,
        "gifts": room.gifts,
        "gifts_minor": room.gifts_minor,
    })
}

/// A comment as viewers receive it.
pub fn comment_event(comment: &LiveComment) -> serde_json::Value {
    json!({
        "op": "comment",
        "seq": comment.seq,
        "author_name": comment.author_name,
        "host": comment.host,
        "text": comment.text,
        "at": comment.at.unix_ms(),
    })
}

/// The comments of a tick to show everyone (each a JSON event; a tick's go out as one
/// `{"op":"comments","items":[…]}` frame): all of them when at most `shown_max`;
/// else every host comment and a uniformly random sample of the others filling the
/// rest, in arrival order.
pub fn sample(comments: Vec<(String, bool, Arc<str>)>, shown_max: usize) -> Vec<Arc<str>> {
    if comments.len() <= shown_max {
        return comments.into_iter().map(|(_, _, event)| event).collect();
    }
    use rand::seq::index::sample as pick;
    let hosts: Vec<usize> = (0..comments.len()).filter(|&i| comments[i].1).collect();
    let others: Vec<usize> = (0..comments.len()).filter(|&i| !comments[i].1).collect();
    let room = shown_max.saturating_sub(hosts.len()).min(others.len());
    let mut chosen: Vec<usize> = pick(&mut rand::rng(), others.len(), room)
        .into_iter()
        .map(|i| others[i])
        .chain(hosts)
        .collect();
    chosen.sort_unstable();
    chosen.into_iter().map(|i| comments[i].2.clone()).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn comments(hosts: usize, others: usize) -> Vec<(String, bool, Arc<str>)> {
        (0..hosts + others)
            .map(|i| {
                let host = i < hosts;
                (format!("u{i}"), host, Arc::from(format!("{i}")))
            })
            .collect()
    }

    #[test]
    fn few_comments_are_all_shown_in_order() {
        let shown = sample(comments(1, 3), 5);
        let texts: Vec<&str> = shown.iter().map(|s| &**s).collect();
        assert_eq!(texts, ["0", "1", "2", "3"]);
    }

    #[test]
    fn many_comments_are_sampled_fairly_with_every_host_comment() {
        let mut seen = vec![0_u32; 102];
        for _ in 0..2_000 {
            let shown = sample(comments(2, 100), 12);
            assert_eq!(shown.len(), 12);
            assert!(shown.iter().any(|s| &**s == "0") && shown.iter().any(|s| &**s == "1"));
            // Every sampled event is one of the numbers the test made.
            let numbers: Vec<usize> = shown.iter().map(|s| s.parse().unwrap()).collect();
            assert!(
                numbers.windows(2).all(|pair| pair[0] < pair[1]),
                "in arrival order"
            );
            for number in numbers {
                seen[number] += 1;
            }
        }
        // Each of the 100 others is shown 10 times in 100 on average: 200 of 2,000.
        let others = &seen[2..];
        assert!(
            others.iter().all(|&count| (120..=290).contains(&count)),
            "{others:?}"
        );
    }

    #[test]
    fn the_platform_takes_thirty_percent_rounded_down() {
        assert_eq!(platform_share(100), 30);
        assert_eq!(platform_share(10), 3);
        assert_eq!(platform_share(1), 0);
        assert_eq!(platform_share(50_000 * 99), 1_485_000);
    }
}
