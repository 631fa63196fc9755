//! The one place that knows how Channels' entities are stored: their record kinds, keys
//! and indexes, all under the `channels.` prefix.

use plaza_kernel::record::{Expect, IndexEntry, IndexRange, RecordStore, RecordWrite};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ChannelsError;

/// Record kinds.
pub mod kind {
    /// A channel, by channel id.
    pub const CHANNEL: &str = "channels.channel";
    /// A channel's counters, by channel id.
    pub const CHANNEL_STATS: &str = "channels.channel_stats";
    /// The channel a user opened, by user id (one each).
    pub const OWNER: &str = "channels.owner";
    /// A claim on a channel name, by its lower-case form: the channel holding it.
    pub const NAME: &str = "channels.name";
    /// An upload, by upload id.
    pub const UPLOAD: &str = "channels.upload";
    /// A post, by post id.
    pub const POST: &str = "channels.post";
    /// A post's counters, by post id.
    pub const POST_STATS: &str = "channels.post_stats";
    /// A file a post or channel serves (video, poster, image, avatar), by
    /// `content address/owner`: its MIME type. Only files of ready posts and of channels
    /// are served.
    pub const MEDIA: &str = "channels.media";
    /// Part of an original video's frame-hash bands, by `post/n`: how copies find it.
    pub const FINGERPRINT: &str = "channels.fingerprint";
    /// A like of a post, by `post/user`.
    pub const LIKE: &str = "channels.like";
    /// A follow, by `user/channel`.
    pub const FOLLOW: &str = "channels.follow";
    /// A comment or reply, by comment id.
    pub const COMMENT: &str = "channels.comment";
    /// A like of a comment, by `comment/user`.
    pub const COMMENT_LIKE: &str = "channels.comment_like";
    /// A counted view, by `post/user/China day`.
    pub const VIEW: &str = "channels.view";
    /// A post's activity in a month (what the incentive plan scores), by
    /// `post/yyyymm`.
    pub const POST_MONTH: &str = "channels.post_month";
    /// A live room, by room id.
    pub const LIVE_ROOM: &str = "channels.live_room";
    /// A comment in a live room, by `room/seq` (twelve digits).
    pub const LIVE_COMMENT: &str = "channels.live_comment";
    /// A gift in a live room, by `room/sender/request_id`.
    pub const LIVE_GIFT: &str = "channels.live_gift";
    /// A month's incentive plan, by `yyyymm`.
    pub const PLAN: &str = "channels.incentive_plan";
    /// A month's incentive payout, by `yyyymm`.
    pub const PAYOUT: &str = "channels.incentive_payout";
}

/// Index names.
pub mod index {
    /// Channels by owner: `user_id`.
    pub const USER: &str = "user";
    /// Channels by creation, posts by publication: time.
    pub const CREATED: &str = "created";
    /// Posts by author: `channel/created` (every state; pages filter).
    pub const AUTHOR: &str = "author";
    /// Ready posts by source file: the source's content address.
    pub const SOURCE: &str = "source";
    /// Fingerprints of ready original videos by a 16-bit band of a frame hash:
    /// `b<band>:<hex>`.
    pub const FRAME_BAND: &str = "frame_band";
    /// Posts' monthly activity by month: `yyyymm/channel/post`.
    pub const MONTH: &str = "month";
    /// Live rooms on air by channel: `channel_id`.
    pub const LIVE: &str = "live";
    /// A room's comments and gifts: `room/seq` or `room/time`.
    pub const ROOM: &str = "room";
    /// Media records by file: the content address.
    pub const FILE: &str = "file";
    /// Ready posts by topic: `topic/published`.
    pub const TOPIC: &str = "topic";
    /// Active follows by follower: `user/at`.
    pub const FOLLOWER: &str = "follower";
    /// Active follows by channel: `channel/at`.
    pub const FOLLOWED: &str = "followed";
    /// Comments by post: `post/created` (top level) or `post/comment/created` (replies).
    pub const THREAD: &str = "thread";
}

/// Index value for "by time": fixed width so that text order is time order.
pub fn time_value(unix_ms: i64) -> String {
    format!("{unix_ms:015}")
}

/// A write of `value` under `kind`/`key`.
pub(crate) fn write<T: Serialize>(
    kind: &str,
    key: &str,
    expect: Expect,
    value: &T,
    index: Vec<IndexEntry>,
) -> Result<RecordWrite, ChannelsError> {
    Ok(plaza_kernel::record::encode_json(
        kind, key, expect, value, index,
    )?)
}

/// The expectation for a record read at `version` (`None`: it was absent).
pub(crate) fn expect(version: Option<u64>) -> Expect {
    version.map_or(Expect::Absent, Expect::Version)
}

/// Reads and decodes one record with its version.
pub(crate) async fn load<T: DeserializeOwned>(
    records: &dyn RecordStore,
    kind: &str,
    key: &str,
) -> Result<Option<(T, u64)>, ChannelsError> {
    Ok(plaza_kernel::record::load_json(records, kind, key).await?)
}

/// The records of `kind` whose index `name` lies in `[from, to)`, decoded, in the
/// requested order, starting after `after`, at most `rows_max`.
pub(crate) async fn range<T: DeserializeOwned>(
    records: &dyn RecordStore,
    kind: &str,
    name: &str,
    (from, to): (String, String),
    after: Option<(String, String)>,
    rows_max: usize,
    newest_first: bool,
) -> Result<Vec<(String, T)>, ChannelsError> {
    let range = IndexRange {
        kind: kind.to_owned(),
        name: name.to_owned(),
        from,
        to,
        after,
        rows_max,
        newest_first,
    };
    records
        .range(range)
        .await
        .map_err(ChannelsError::from)?
        .into_iter()
        .map(|found| {
            let value = plaza_kernel::record::decode_json(&found.record)?;
            Ok((found.value, value))
        })
        .collect()
}

/// The bounds of every value starting with `prefix`.
pub(crate) fn prefix_bounds(prefix: &str) -> (String, String) {
    (prefix.to_owned(), format!("{prefix}\u{10FFFF}"))
}

/// Lower-case hex SHA-256 of `bytes`: content addresses.
pub fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
