//! WeCom's errors. Each says which WeCom errcode it is on the server API
//! ([`WeComError::errcode`]); Plaza's own API maps them to its envelope at the edge.

use plaza_identity::IdentityError;
use plaza_kernel::record::{ReadError, RecordCodecError, RecordError};
use plaza_ledger::LedgerError;

/// What can go wrong in WeCom.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeComError {
    /// A field is missing or malformed (`errcode` says which WeCom code applies).
    #[error("{field}: {problem}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong with it.
        problem: String,
        /// WeCom's code for it.
        errcode: i64,
    },
    /// No corp has this corpid.
    #[error("invalid corpid: no corp {corpid}")]
    CorpNotFound {
        /// The corpid asked for.
        corpid: String,
    },
    /// `corpid` or `corpsecret` was not sent.
    #[error("missing {name}")]
    Missing {
        /// The parameter.
        name: &'static str,
    },
    /// The secret is none of the corp's.
    #[error("invalid credential: the corpsecret is wrong or not the latest")]
    SecretWrong,
    /// No `access_token` was sent.
    #[error("access_token missing")]
    TokenMissing,
    /// Not a token WeCom issued.
    #[error("invalid access_token")]
    TokenInvalid,
    /// The token has ended.
    #[error("access_token expired")]
    TokenExpired,
    /// The token's secret may not call this API.
    #[error("api forbidden: {what}")]
    Forbidden {
        /// What it may not do.
        what: String,
    },
    /// No such app in the corp.
    #[error("invalid agentid {agentid}")]
    AgentNotFound {
        /// The agentid.
        agentid: i64,
    },
    /// No such department.
    #[error("department not found: {id}")]
    DepartmentNotFound {
        /// The id.
        id: i64,
    },
    /// The parent department does not exist.
    #[error("parent department not found: {id}")]
    ParentNotFound {
        /// The id.
        id: i64,
    },
    /// A department still has members.
    #[error("department {id} contains members")]
    DepartmentHasMembers {
        /// The id.
        id: u32,
    },
    /// A department still has sub-departments.
    #[error("department {id} contains sub-departments")]
    DepartmentHasChildren {
        /// The id.
        id: u32,
    },
    /// The root department cannot be removed.
    #[error("the root department cannot be deleted")]
    RootDepartment,
    /// A sibling already has this name.
    #[error("department name exists: {name}")]
    DepartmentNameExists {
        /// The name.
        name: String,
    },
    /// The department id is taken.
    #[error("department id exists: {id}")]
    DepartmentIdExists {
        /// The id.
        id: u32,
    },
    /// Moving the department would put it under itself.
    #[error("department {id} cannot move under its own sub-department")]
    DepartmentCycle {
        /// The id.
        id: u32,
    },
    /// The userid is taken (case-insensitively).
    #[error("userid existed: {userid}")]
    UserExists {
        /// The userid.
        userid: String,
    },
    /// No member has this userid.
    #[error("userid not found: {userid}")]
    UserNotFound {
        /// The userid.
        userid: String,
    },
    /// Another member has this mobile number.
    #[error("mobile existed: {mobile}")]
    MobileExists {
        /// The number.
        mobile: String,
    },
    /// Another member has this email address.
    #[error("email existed: {email}")]
    EmailExists {
        /// The address.
        email: String,
    },
    /// A message reached nobody.
    #[error("user & party & tag all invalid")]
    NoRecipient {
        /// The invalid parts, as answered.
        invalid: Box<crate::model::Invalid>,
    },
    /// No appchat has this chatid.
    #[error("chatid not found: {chatid}")]
    ChatNotFound {
        /// The chatid.
        chatid: String,
    },
    /// The chatid is taken.
    #[error("chatid exists: {chatid}")]
    ChatExists {
        /// The chatid.
        chatid: String,
    },
    /// No such Plaza user.
    #[error("no user {user_id}")]
    PlazaUserNotFound {
        /// The id.
        user_id: String,
    },
    /// The invitation is unknown or was accepted.
    #[error("the invitation is unknown or was accepted")]
    InvitationInvalid,
    /// The Plaza user is already a member of this corp.
    #[error("the user is already a member of this corp ({userid})")]
    AlreadyMember {
        /// Their userid.
        userid: String,
    },
    /// A write lost its race too often.
    #[error("busy: {what}")]
    Busy {
        /// What was busy.
        what: String,
    },
    /// The store failed.
    #[error("unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
}

impl WeComError {
    /// A malformed field with WeCom's general code (40058: invalid parameter).
    pub fn invalid(field: &str, problem: impl Into<String>) -> Self {
        Self::invalid_as(40058, field, problem)
    }

    /// A malformed field with a specific code.
    pub fn invalid_as(errcode: i64, field: &str, problem: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            problem: problem.into(),
            errcode,
        }
    }

    /// WeCom's errcode for it on the server API.
    pub fn errcode(&self) -> i64 {
        match self {
            Self::Invalid { errcode, .. } => *errcode,
            Self::CorpNotFound { .. } => 40013,
            Self::Missing { name: "corpid" } => 41002,
            Self::Missing { name: "corpsecret" } => 41004,
            Self::Missing { .. } => 40058,
            Self::SecretWrong => 40001,
            Self::TokenMissing => 41001,
            Self::TokenInvalid => 40014,
            Self::TokenExpired => 42001,
            Self::Forbidden { .. } => 48002,
            Self::AgentNotFound { .. } => 40056,
            Self::DepartmentNotFound { .. } => 60003,
            Self::ParentNotFound { .. } => 60004,
            Self::DepartmentHasMembers { .. } => 60005,
            Self::DepartmentHasChildren { .. } => 60006,
            Self::RootDepartment => 60007,
            Self::DepartmentNameExists { .. } => 60008,
            Self::DepartmentIdExists { .. } => 60008,
            Self::DepartmentCycle { .. } => 60010,
            Self::UserExists { .. } => 60102,
            Self::UserNotFound { .. } => 60111,
            Self::MobileExists { .. } => 60104,
            Self::EmailExists { .. } => 60106,
            Self::NoRecipient { .. } => 81013,
            Self::ChatNotFound { .. } => 86003,
            Self::ChatExists { .. } => 86001,
            Self::PlazaUserNotFound { .. } => 40003,
            Self::InvitationInvalid | Self::AlreadyMember { .. } => 40058,
            Self::Busy { .. } | Self::Unavailable { .. } => -1,
        }
    }
}

impl From<RecordError> for WeComError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::Unavailable { reason } => Self::Unavailable { reason },
        }
    }
}

impl From<RecordCodecError> for WeComError {
    fn from(error: RecordCodecError) -> Self {
        Self::Unavailable {
            reason: error.to_string(),
        }
    }
}

impl From<ReadError> for WeComError {
    fn from(error: ReadError) -> Self {
        Self::Unavailable {
            reason: error.to_string(),
        }
    }
}

impl From<LedgerError> for WeComError {
    fn from(error: LedgerError) -> Self {
        Self::Unavailable {
            reason: error.to_string(),
        }
    }
}

impl From<IdentityError> for WeComError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::Invalid { field, problem } => Self::invalid(&field, problem),
            IdentityError::UserNotFound { user_id } => Self::PlazaUserNotFound { user_id },
            IdentityError::SessionUnknown => Self::Unavailable {
                reason: "a session ended while it was used".to_owned(),
            },
            IdentityError::Busy { what } => Self::Busy { what },
            IdentityError::Unavailable { reason } => Self::Unavailable { reason },
        }
    }
}
