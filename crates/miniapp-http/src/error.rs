//! Mini Programs' `/api/v1` codes, and how the domain's errors become the shared
//! envelope there (the server API uses WeChat's format instead: [`crate::wire`]).

use plaza_http::ApiError;
use plaza_miniapp::MiniAppError;
use plaza_miniapp::packages::PackageError;

/// Every code Mini Programs' `/api/v1` handlers answer with: the shared ones and their
/// own.
pub mod code {
    pub use plaza_http::code::*;

    plaza_http::error_codes! {
        /// Mini Programs' own codes.
        MINIAPP_ERROR_CODES {
        MINIAPP_NOT_FOUND = ("miniapp_not_found", InvalidRequest, 404);
        NOT_A_DEVELOPER = ("not_a_developer", Auth, 403);
        NOT_YOUR_MINIAPP = ("not_your_miniapp", Auth, 403);
        PACKAGE_INVALID = ("package_invalid", InvalidRequest, 400);
        PACKAGE_TOO_LARGE = ("package_too_large", InvalidRequest, 413);
        VERSION_NOT_FOUND = ("version_not_found", InvalidRequest, 404);
        VERSION_STATE = ("version_state", InvalidRequest, 409);
        AD_BUDGET_SHORT = ("ad_budget_short", InvalidRequest, 422);
        }
    }
}

pub use code::MINIAPP_ERROR_CODES;

/// The envelope of a domain error.
pub(crate) fn api_error(error: MiniAppError) -> ApiError {
    match error {
        MiniAppError::Invalid { field, problem } => ApiError::invalid_field(&field, problem),
        MiniAppError::Missing { name } => ApiError::invalid_field(name, "is required"),
        MiniAppError::AppNotFound { appid } => {
            ApiError::new(code::MINIAPP_NOT_FOUND, format!("no mini program {appid}"))
        }
        MiniAppError::UserNotFound { user_id } => {
            ApiError::new(code::USER_NOT_FOUND, format!("no user {user_id}"))
        }
        MiniAppError::NotADeveloper => ApiError::new(
            code::NOT_A_DEVELOPER,
            "this user has no developer account: POST /api/v1/me/developer first",
        ),
        MiniAppError::NotYourApp { appid } => ApiError::new(
            code::NOT_YOUR_MINIAPP,
            format!("the mini program {appid} belongs to another developer account"),
        ),
        MiniAppError::Busy { what } => ApiError::new(
            code::BUSY,
            format!("too many concurrent changes to the {what}; retry"),
        ),
        MiniAppError::Unavailable { reason } | MiniAppError::Objects { reason } => {
            ApiError::unavailable(&reason)
        }
        MiniAppError::Package(problem) => match problem {
            PackageError::TooLarge { .. } => {
                ApiError::new(code::PACKAGE_TOO_LARGE, problem.to_string())
            }
            PackageError::Invalid(_) => ApiError::new(code::PACKAGE_INVALID, problem.to_string()),
        },
        MiniAppError::BudgetShort { what } => {
            ApiError::new(code::AD_BUDGET_SHORT, format!("not enough money in {what}"))
        }
        MiniAppError::VersionNotFound { version } => ApiError::new(
            code::VERSION_NOT_FOUND,
            format!("no version {version} of this mini program"),
        ),
        MiniAppError::VersionState { errcode, problem } => ApiError::new(
            code::VERSION_STATE,
            format!("{problem} (WeChat's {errcode})"),
        ),
        other => ApiError::new(code::BUSINESS_RULE, other.to_string()),
    }
}
