//! Channels' errors; Plaza's `/api/v1` maps them to its envelope at the edge.

use plaza_identity::IdentityError;
use plaza_kernel::objects::ObjectError;
use plaza_kernel::record::{ReadError, RecordCodecError, RecordError};
use plaza_ledger::LedgerError;

/// What can go wrong in Channels.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelsError {
    /// A field is missing or malformed.
    #[error("{field}: {problem}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The person has no channel yet.
    #[error("open a channel first")]
    NoChannel,
    /// The person has a channel already.
    #[error("you have a channel already: {channel_id}")]
    HasChannel {
        /// Theirs.
        channel_id: String,
    },
    /// Another channel has this name.
    #[error("the name {name:?} is taken")]
    NameTaken {
        /// The name asked for.
        name: String,
    },
    /// No such channel.
    #[error("no channel {channel_id}")]
    ChannelNotFound {
        /// The id asked for.
        channel_id: String,
    },
    /// No such post visible to the caller.
    #[error("no post {post_id}")]
    PostNotFound {
        /// The id asked for.
        post_id: String,
    },
    /// No such comment.
    #[error("no comment {comment_id}")]
    CommentNotFound {
        /// The id asked for.
        comment_id: String,
    },
    /// No such upload of the caller's.
    #[error("no upload {upload_id}")]
    UploadNotFound {
        /// The id asked for.
        upload_id: String,
    },
    /// The bytes are not media of the kind the upload is for.
    #[error("not {expected}: {detail}")]
    NotMedia {
        /// What was expected.
        expected: &'static str,
        /// What was found.
        detail: String,
    },
    /// A file or a piece is larger than allowed.
    #[error("{what} is {bytes} bytes; at most {limit} bytes")]
    TooLarge {
        /// What.
        what: &'static str,
        /// Its size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// A piece does not continue the upload where it stands.
    #[error("the upload has {received} bytes; send from offset {received}, not {offset}")]
    WrongOffset {
        /// Bytes received so far: where the next piece starts.
        received: u64,
        /// The offset sent.
        offset: u64,
    },
    /// The upload is not finished or was used already.
    #[error("upload {upload_id} {problem}")]
    UploadUnusable {
        /// Which.
        upload_id: String,
        /// Why.
        problem: &'static str,
    },
    /// The media tools are missing on this server: uploads are refused rather than stored
    /// unprocessed.
    #[error("video processing is unavailable on this server: {reason}")]
    MediaUnavailable {
        /// Why, for the log and the answer.
        reason: String,
    },
    /// Only the author (or the host) may do this.
    #[error("only {who} may {what}")]
    NotYours {
        /// Who may.
        who: &'static str,
        /// What.
        what: &'static str,
    },
    /// No such live room (or it is not on air).
    #[error("no live room {room_id} on air")]
    RoomNotFound {
        /// The id asked for.
        room_id: String,
    },
    /// The channel is on air already.
    #[error("you are live already in room {room_id}")]
    AlreadyLive {
        /// That room.
        room_id: String,
    },
    /// The wallet holds less than the gift costs.
    #[error("the wallet holds less than {needed_minor} fen")]
    WalletShort {
        /// What the gift costs.
        needed_minor: i64,
    },
    /// Too many concurrent changes to one thing.
    #[error("too many concurrent changes to the {what}; retry")]
    Busy {
        /// What.
        what: String,
    },
    /// The store failed.
    #[error("storage is unavailable: {reason}")]
    Unavailable {
        /// Why, for the log.
        reason: String,
    },
}

impl ChannelsError {
    /// An invalid field.
    pub fn invalid(field: &str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            problem: problem.into(),
        }
    }
}

impl From<RecordError> for ChannelsError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::Unavailable { reason } => Self::Unavailable { reason },
        }
    }
}

impl From<RecordCodecError> for ChannelsError {
    fn from(error: RecordCodecError) -> Self {
        Self::Unavailable {
            reason: error.to_string(),
        }
    }
}

impl From<ReadError> for ChannelsError {
    fn from(error: ReadError) -> Self {
        Self::Unavailable {
            reason: error.to_string(),
        }
    }
}

impl From<LedgerError> for ChannelsError {
    fn from(error: LedgerError) -> Self {
        Self::Unavailable {
            reason: error.to_string(),
        }
    }
}

impl From<ObjectError> for ChannelsError {
    fn from(error: ObjectError) -> Self {
        Self::Unavailable {
            reason: error.to_string(),
        }
    }
}

impl From<IdentityError> for ChannelsError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::Invalid { field, problem } => Self::invalid(&field, problem),
            IdentityError::Busy { what } => Self::Busy { what },
            other => Self::Unavailable {
                reason: other.to_string(),
            },
        }
    }
}
