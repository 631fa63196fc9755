//! WeCom's `/api/v1` codes, and how the domain's errors become the shared envelope there
//! (the server API uses WeCom's format instead: [`crate::wire`]).

use plaza_http::ApiError;
use plaza_wecom::WeComError;

/// Every code WeCom's `/api/v1` handlers answer with: the shared ones and their own.
pub mod code {
    pub use plaza_http::code::*;

    plaza_http::error_codes! {
        /// WeCom's own codes.
        WECOM_ERROR_CODES {
        CORP_NOT_FOUND = ("corp_not_found", InvalidRequest, 404);
        MEMBER_NOT_FOUND = ("member_not_found", InvalidRequest, 404);
        INVITATION_INVALID = ("invitation_invalid", InvalidRequest, 404);
        ALREADY_MEMBER = ("already_member", InvalidRequest, 409);
        }
    }
}

pub use code::WECOM_ERROR_CODES;

/// The envelope of a domain error.
pub(crate) fn api_error(error: WeComError) -> ApiError {
    match error {
        WeComError::Invalid { field, problem, .. } => ApiError::invalid_field(&field, problem),
        WeComError::CorpNotFound { corpid } => {
            ApiError::new(code::CORP_NOT_FOUND, format!("no corp {corpid}"))
        }
        WeComError::UserNotFound { userid } => {
            ApiError::new(code::MEMBER_NOT_FOUND, format!("no member {userid}"))
        }
        WeComError::PlazaUserNotFound { user_id } => {
            ApiError::new(code::USER_NOT_FOUND, format!("no user {user_id}"))
        }
        WeComError::InvitationInvalid => ApiError::new(
            code::INVITATION_INVALID,
            "the invitation is unknown or was accepted already",
        ),
        WeComError::AlreadyMember { userid } => ApiError::new(
            code::ALREADY_MEMBER,
            format!("you are a member of this corp already, as {userid}"),
        ),
        WeComError::Busy { what } => ApiError::new(
            code::BUSY,
            format!("too many concurrent changes to the {what}; retry"),
        ),
        WeComError::Unavailable { reason } => ApiError::unavailable(&reason),
        other => ApiError::new(code::BUSINESS_RULE, other.to_string()),
    }
}
