//! Mini Programs' errors. Each says which WeChat errcode it is on the server API
//! ([`MiniAppError::errcode`]); Plaza's own API maps them to its envelope at the edge.

use plaza_identity::IdentityError;
use plaza_kernel::record::{RecordCodecError, RecordError};
use plaza_ledger::LedgerError;

/// What can go wrong with mini programs, their tokens and logins.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MiniAppError {
    /// A field is missing or malformed.
    #[error("{field}: {problem}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong with it.
        problem: String,
    },
    /// No mini program has this appid.
    #[error("invalid appid: no mini program {appid}")]
    AppNotFound {
        /// The appid asked for.
        appid: String,
    },
    /// No such user.
    #[error("no user {user_id}")]
    UserNotFound {
        /// The id asked for.
        user_id: String,
    },
    /// The user has no developer account.
    #[error("the user is not a developer; become one first")]
    NotADeveloper,
    /// The mini program belongs to another developer account.
    #[error("the mini program {appid} belongs to another developer")]
    NotYourApp {
        /// The appid.
        appid: String,
    },
    /// A required parameter is absent (`41002` appid, `41004` secret, `41008` code).
    #[error("missing {name}")]
    Missing {
        /// The parameter.
        name: &'static str,
    },
    /// `grant_type` is not the one the endpoint takes.
    #[error("invalid grant_type: must be {expected}")]
    GrantType {
        /// What it must be.
        expected: &'static str,
    },
    /// The secret is not an AppSecret's shape (32 hex digits).
    #[error("invalid appsecret")]
    SecretMalformed,
    /// The secret is not the app's current AppSecret.
    #[error("invalid credential, the appsecret is wrong or not the latest")]
    SecretWrong,
    /// No `access_token` was sent.
    #[error("access_token missing")]
    TokenMissing,
    /// The token is not one this platform issued to a mini program.
    #[error("invalid access_token")]
    TokenInvalid,
    /// The token was issued but is past its end.
    #[error("access_token expired")]
    TokenExpired,
    /// The login code is unknown, for another app, or older than five minutes.
    #[error("invalid code")]
    CodeInvalid,
    /// The login code was exchanged before.
    #[error("code been used")]
    CodeUsed,
    /// A daily quota is spent.
    #[error("reach max api daily quota limit: {what}")]
    Quota {
        /// Which quota.
        what: String,
    },
    /// No session for this user in this app, or the signature does not match it.
    #[error("invalid signature")]
    SignatureInvalid,
    /// No template of this app has this id.
    #[error("invalid template_id")]
    TemplateNotFound,
    /// No library template has this tid.
    #[error("template tid does not exist in the library")]
    TidInvalid,
    /// The kid list is not 2–5 distinct keywords of the template.
    #[error("kidList invalid: {problem}")]
    KidListInvalid {
        /// What is wrong.
        problem: String,
    },
    /// The scene description is missing or too long.
    #[error("sceneDesc invalid: 1 to 15 characters")]
    SceneDescInvalid,
    /// The app holds as many templates as it may.
    #[error("an app holds at most {max} templates")]
    TemplateLimit {
        /// The limit.
        max: usize,
    },
    /// No user is known by this openid in this app.
    #[error("invalid openid")]
    OpenidInvalid,
    /// The user allowed no (more) messages of this template.
    #[error("user refuse to accept the msg")]
    ConsentMissing,
    /// A data value does not match the template.
    #[error("argument invalid! data.{key}.value invalid: {problem}")]
    DataInvalid {
        /// The data key.
        key: String,
        /// Why.
        problem: String,
    },
    /// A code package is refused.
    #[error("{0}")]
    Package(crate::packages::PackageError),
    /// No such code version.
    #[error("no version {version} of this mini program")]
    VersionNotFound {
        /// The number asked for.
        version: u32,
    },
    /// The life cycle does not allow this now.
    #[error("{problem}")]
    VersionState {
        /// WeChat's code for it (85009, 85019, 85020…).
        errcode: i64,
        /// What stands in the way.
        problem: String,
    },
    /// Not enough money for this.
    #[error("not enough money in {what}")]
    BudgetShort {
        /// Whose money.
        what: String,
    },
    /// The object store failed.
    #[error("the object store is unavailable: {reason}")]
    Objects {
        /// What went wrong, for the log.
        reason: String,
    },
    /// Too many concurrent changes to one record; the caller may retry.
    #[error("too many concurrent changes to the {what}; retry")]
    Busy {
        /// What was contended.
        what: String,
    },
    /// The store failed.
    #[error("the store is unavailable: {reason}")]
    Unavailable {
        /// What went wrong, for the log.
        reason: String,
    },
}

impl MiniAppError {
    /// A field error.
    pub fn invalid(field: &str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            problem: problem.into(),
        }
    }

    /// The WeChat errcode this error is on the server API (`-1` for a system error).
    pub fn errcode(&self) -> i64 {
        match self {
            Self::Invalid { .. } => 47001,
            Self::AppNotFound { .. } => 40013,
            Self::UserNotFound { .. } => 40003,
            Self::NotADeveloper | Self::NotYourApp { .. } => 48001,
            Self::Missing { name: "appid" } => 41002,
            Self::Missing { name: "secret" } => 41004,
            Self::Missing { name: "code" } => 41008,
            Self::Missing { .. } => 47001,
            Self::GrantType { .. } => 40002,
            Self::SecretMalformed => 40125,
            Self::SecretWrong => 40001,
            Self::TokenMissing => 41001,
            Self::TokenInvalid => 40014,
            Self::TokenExpired => 42001,
            Self::CodeInvalid => 40029,
            Self::CodeUsed => 40163,
            Self::Quota { .. } => 45009,
            Self::SignatureInvalid => 87009,
            Self::TemplateNotFound => 40037,
            Self::TidInvalid => 200_014,
            Self::KidListInvalid { .. } => 200_020,
            Self::SceneDescInvalid => 200_021,
            Self::TemplateLimit { .. } => 200_012,
            Self::OpenidInvalid => 40003,
            Self::ConsentMissing => 43101,
            Self::DataInvalid { .. } => 47003,
            Self::Package(_) => 47001,
            Self::BudgetShort { .. } => 47001,
            Self::VersionNotFound { .. } => 85012,
            Self::VersionState { errcode, .. } => *errcode,
            Self::Busy { .. } | Self::Unavailable { .. } | Self::Objects { .. } => -1,
        }
    }
}

impl From<RecordError> for MiniAppError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::Unavailable { reason } => Self::Unavailable { reason },
        }
    }
}

impl From<RecordCodecError> for MiniAppError {
    fn from(error: RecordCodecError) -> Self {
        Self::Unavailable {
            reason: error.to_string(),
        }
    }
}

impl From<plaza_kernel::record::ReadError> for MiniAppError {
    fn from(error: plaza_kernel::record::ReadError) -> Self {
        Self::Unavailable {
            reason: error.to_string(),
        }
    }
}

impl From<LedgerError> for MiniAppError {
    fn from(error: LedgerError) -> Self {
        Self::Unavailable {
            reason: error.to_string(),
        }
    }
}

impl From<IdentityError> for MiniAppError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::Invalid { field, problem } => Self::Invalid { field, problem },
            IdentityError::UserNotFound { user_id } => Self::UserNotFound { user_id },
            IdentityError::SessionUnknown => Self::Unavailable {
                reason: "a session ended while it was used".to_owned(),
            },
            IdentityError::Busy { what } => Self::Busy { what },
            IdentityError::Unavailable { reason } => Self::Unavailable { reason },
        }
    }
}
