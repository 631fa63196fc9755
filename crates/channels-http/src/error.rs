//! Channels' `/api/v1` codes, and how the domain's errors become the shared envelope.

use plaza_channels::ChannelsError;
use plaza_http::ApiError;

/// Every code Channels' handlers answer with: the shared ones and their own.
pub mod code {
    pub use plaza_http::code::*;

    plaza_http::error_codes! {
        /// Channels' own codes.
        CHANNELS_ERROR_CODES {
        CHANNEL_NOT_FOUND = ("channel_not_found", InvalidRequest, 404);
        CHANNEL_REQUIRED = ("channel_required", InvalidRequest, 409);
        CHANNEL_EXISTS = ("channel_exists", InvalidRequest, 409);
        CHANNEL_NAME_TAKEN = ("channel_name_taken", InvalidRequest, 409);
        POST_NOT_FOUND = ("post_not_found", InvalidRequest, 404);
        COMMENT_NOT_FOUND = ("comment_not_found", InvalidRequest, 404);
        UPLOAD_NOT_FOUND = ("upload_not_found", InvalidRequest, 404);
        UPLOAD_OFFSET_MISMATCH = ("upload_offset_mismatch", InvalidRequest, 409);
        UPLOAD_UNUSABLE = ("upload_unusable", InvalidRequest, 409);
        NOT_MEDIA = ("not_media", InvalidRequest, 415);
        FILE_TOO_LARGE = ("file_too_large", InvalidRequest, 413);
        MEDIA_TOOLS_UNAVAILABLE = ("media_tools_unavailable", System, 503);
        ROOM_NOT_FOUND = ("room_not_found", InvalidRequest, 404);
        ALREADY_LIVE = ("already_live", InvalidRequest, 409);
        NOT_YOURS = ("not_yours", Auth, 403);
        }
    }
}

pub use code::CHANNELS_ERROR_CODES;

/// The envelope of a domain error.
pub(crate) fn api_error(error: ChannelsError) -> ApiError {
    let message = error.to_string();
    let code = match error {
        ChannelsError::Invalid { field, problem } => {
            return ApiError::invalid_field(&field, problem);
        }
        ChannelsError::Unavailable { reason } => return ApiError::unavailable(&reason),
        ChannelsError::NoChannel => code::CHANNEL_REQUIRED,
        ChannelsError::HasChannel { .. } => code::CHANNEL_EXISTS,
        ChannelsError::NameTaken { .. } => code::CHANNEL_NAME_TAKEN,
        ChannelsError::ChannelNotFound { .. } => code::CHANNEL_NOT_FOUND,
        ChannelsError::PostNotFound { .. } => code::POST_NOT_FOUND,
        ChannelsError::CommentNotFound { .. } => code::COMMENT_NOT_FOUND,
        ChannelsError::UploadNotFound { .. } => code::UPLOAD_NOT_FOUND,
        ChannelsError::NotMedia { .. } => code::NOT_MEDIA,
        ChannelsError::TooLarge { .. } => code::FILE_TOO_LARGE,
        ChannelsError::WrongOffset { .. } => code::UPLOAD_OFFSET_MISMATCH,
        ChannelsError::UploadUnusable { .. } => code::UPLOAD_UNUSABLE,
        ChannelsError::MediaUnavailable { .. } => code::MEDIA_TOOLS_UNAVAILABLE,
        ChannelsError::NotYours { .. } => code::NOT_YOURS,
        ChannelsError::RoomNotFound { .. } => code::ROOM_NOT_FOUND,
        ChannelsError::AlreadyLive { .. } => code::ALREADY_LIVE,
        ChannelsError::WalletShort { .. } => code::INSUFFICIENT_FUNDS,
        ChannelsError::Busy { .. } => code::BUSY,
    };
    ApiError::new(code, message)
}
