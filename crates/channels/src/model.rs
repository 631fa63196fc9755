//! Channels' entities as they are stored (JSON records; `store.rs` says where).

use plaza_kernel::clock::Timestamp;
use serde::{Deserialize, Serialize};

/// The seven focus areas a channel belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// 知识.
    Knowledge,
    /// 生活.
    Lifestyle,
    /// 新闻.
    News,
    /// 体育.
    Sport,
    /// 音乐.
    Music,
    /// 剧情 (drama).
    Drama,
    /// 才艺 (talent).
    Talent,
}

impl Area {
    /// Every area, in the order pages list them.
    pub const ALL: [Self; 7] = [
        Self::Knowledge,
        Self::Lifestyle,
        Self::News,
        Self::Sport,
        Self::Music,
        Self::Drama,
        Self::Talent,
    ];

    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Knowledge => "knowledge",
            Self::Lifestyle => "lifestyle",
            Self::News => "news",
            Self::Sport => "sport",
            Self::Music => "music",
            Self::Drama => "drama",
            Self::Talent => "talent",
        }
    }

    /// Its Chinese name, for pages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Knowledge => "知识",
            Self::Lifestyle => "生活",
            Self::News => "新闻",
            Self::Sport => "体育",
            Self::Music => "音乐",
            Self::Drama => "剧情",
            Self::Talent => "才艺",
        }
    }

    /// The area named `text` on the wire.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|area| area.as_str() == text)
    }
}

/// A creator's channel: one per Plaza user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// `ch` + 14 letters and digits.
    pub channel_id: String,
    /// The Plaza user who runs it.
    pub user_id: String,
    /// Its name, unique among channels (compared case-insensitively).
    pub name: String,
    /// What it is about.
    pub bio: String,
    /// Its focus area.
    pub area: Area,
    /// The avatar image's content address, if one was uploaded.
    pub avatar: Option<String>,
    /// When it was opened.
    pub created_at: Timestamp,
}

/// A channel's counters, kept beside it so the channel's own record changes rarely.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelStats {
    /// People following it now.
    pub followers: u64,
    /// Channels it follows now.
    pub following: u64,
    /// Ready posts it has (deleted ones not counted).
    pub posts: u64,
}

/// What an upload is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UploadPurpose {
    /// A post's video (MP4 or WebM).
    Video,
    /// A post's image, or an avatar (PNG, JPEG, GIF or WebP).
    Image,
}

/// One stored piece of an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    /// The piece's content address in the object store.
    pub sha256: String,
    /// Its length.
    pub bytes: u64,
}

/// A resumable upload: pieces appended in order until `size_bytes` have arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    /// `up` + 20 letters and digits.
    pub upload_id: String,
    /// Who uploads.
    pub owner: String,
    /// What for.
    pub purpose: UploadPurpose,
    /// The whole file's length, declared at the start.
    pub size_bytes: u64,
    /// The pieces so far.
    pub chunks: Vec<Chunk>,
    /// The container the first bytes showed (`mp4`, `webm`, `png`, `jpeg`, `gif`,
    /// `webp`), once they arrived.
    pub format: Option<String>,
    /// The post or avatar it became, once used.
    pub used_by: Option<String>,
    /// When it started.
    pub created_at: Timestamp,
}

impl Upload {
    /// Bytes received so far.
    pub fn received_bytes(&self) -> u64 {
        self.chunks.iter().map(|chunk| chunk.bytes).sum()
    }

    /// Whether every declared byte has arrived.
    pub fn complete(&self) -> bool {
        self.received_bytes() == self.size_bytes
    }
}

/// Where a post stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PostState {
    /// Its media is being processed; only its author sees it.
    Processing,
    /// Processed and visible to everyone.
    Ready,
    /// Processing refused the media; only its author sees why.
    Failed {
        /// Why, in people's words.
        reason: String,
    },
    /// Its author deleted it.
    Deleted,
}

/// A post's video once processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Video {
    /// The uploaded file's content address (also the exact-copy key).
    pub source: String,
    /// The file browsers play: the upload itself, or its H.264/AAC copy.
    pub playable: String,
    /// The playable file's MIME type.
    pub content_type: String,
    /// Its size.
    pub playable_bytes: u64,
    /// The poster frame (JPEG).
    pub poster: String,
    /// Length in milliseconds.
    pub duration_ms: u64,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// The upload's video codec.
    pub codec: String,
    /// Whether the playable file was made by transcoding.
    pub transcoded: bool,
    /// One difference hash per sampled frame.
    pub frame_hashes: Vec<u64>,
}

/// A post's image once checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// Its content address.
    pub sha256: String,
    /// Its MIME type.
    pub content_type: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Whether a post is its author's own work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Originality {
    /// Not decided yet (processing) or not a video.
    Unknown,
    /// No earlier post by someone else shows the same video.
    Original,
    /// A re-upload of someone else's earlier post.
    Copy {
        /// The original post.
        of_post: String,
        /// How it was found: `exact` (same bytes) or `frames` (perceptual hashes).
        by: String,
    },
}

/// What a post shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostKind {
    /// One video.
    Video,
    /// One to nine images.
    Images,
}

impl PostKind {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Video => "video",
            Self::Images => "images",
        }
    }
}

/// A post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Post {
    /// `p` + 15 letters and digits.
    pub post_id: String,
    /// The author's channel.
    pub channel_id: String,
    /// The author.
    pub author: String,
    /// A video or images.
    pub kind: PostKind,
    /// The channel's area when posted.
    pub area: Area,
    /// The caption as written.
    pub caption: String,
    /// The topics the caption names (`#话题`), without `#`, in order, each once.
    pub topics: Vec<String>,
    /// The channels the caption mentions (`@name`) that exist, by channel id.
    pub mentions: Vec<String>,
    /// The uploads it was made from.
    pub uploads: Vec<String>,
    /// Its video, once processed (video posts).
    pub video: Option<Video>,
    /// Its images, once checked (image posts).
    pub images: Vec<Image>,
    /// Whether it is original.
    pub originality: Originality,
    /// Where it stands.
    #[serde(flatten)]
    pub state: PostState,
    /// When it was posted.
    pub created_at: Timestamp,
    /// When it became visible.
    pub published_at: Option<Timestamp>,
}

impl Post {
    /// Whether it is visible to everyone.
    pub fn ready(&self) -> bool {
        self.state == PostState::Ready
    }

    /// Whether it counts as original (copies and undecided posts do not).
    pub fn original(&self) -> bool {
        self.originality == Originality::Original
    }
}

/// A post's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostStats {
    /// Likes now.
    pub likes: u64,
    /// Comments and replies, not deleted.
    pub comments: u64,
    /// Shares into chats.
    pub shares: u64,
    /// Views, once per viewer per China day.
    pub views: u64,
}

/// A comment on a post, or a reply to one (one level deep).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// `c` + 15 letters and digits.
    pub comment_id: String,
    /// The post.
    pub post_id: String,
    /// Who wrote it.
    pub author: String,
    /// Their name when they wrote it.
    pub author_name: String,
    /// The comment it replies to (always a top-level comment), if a reply.
    pub reply_to: Option<String>,
    /// What it says.
    pub text: String,
    /// Likes now.
    pub likes: u64,
    /// Replies to it now (top-level comments).
    pub replies: u64,
    /// When it was written.
    pub created_at: Timestamp,
}

/// A like, a follow or a comment's like: present while `active`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// Whether it stands now (an undo keeps the record, inactive).
    pub active: bool,
    /// When it was last set.
    pub at: Timestamp,
}

/// A person following a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Follow {
    /// Who follows.
    pub follower: String,
    /// The channel followed.
    pub channel_id: String,
    /// The channel's owner.
    pub creator: String,
    /// Whether it stands now.
    pub active: bool,
    /// When it was last set.
    pub at: Timestamp,
}
