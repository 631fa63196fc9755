//! Conversations: a member with a customer (1:1), an appchat, a customer group. The
//! id names one and is also its fan-out topic.

use crate::WeComError;

/// A conversation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Conversation {
    /// A member and a customer: `d:corpid:userid:external_userid`.
    Direct {
        /// The corp.
        corpid: String,
        /// The member (lower-case userid).
        userid: String,
        /// The customer.
        external_userid: String,
    },
    /// An appchat: `a:corpid:chatid`.
    AppChat {
        /// The corp.
        corpid: String,
        /// The appchat.
        chatid: String,
    },
    /// A customer group: `g:corpid:chat_id`.
    Group {
        /// The corp.
        corpid: String,
        /// The group.
        chat_id: String,
    },
}

impl Conversation {
    /// Its id, also its fan-out topic.
    pub fn id(&self) -> String {
        match self {
            Self::Direct {
                corpid,
                userid,
                external_userid,
            } => format!(
                "d:{corpid}:{}:{external_userid}",
                userid.to_ascii_lowercase()
            ),
            Self::AppChat { corpid, chatid } => format!("a:{corpid}:{chatid}"),
            Self::Group { corpid, chat_id } => format!("g:{corpid}:{chat_id}"),
        }
    }

    /// Reads an id.
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] for anything that is not one.
    pub fn parse(id: &str) -> Result<Self, WeComError> {
        let bad = || WeComError::invalid("conversation", "not a conversation id");
        let parts: Vec<&str> = id.split(':').collect();
        let ok = |part: &str| {
            !part.is_empty()
                && part.len() <= 64
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@' | b'.'))
        };
        if !parts.iter().skip(1).all(|p| ok(p)) {
            return Err(bad());
        }
        match parts.as_slice() {
            ["d", corpid, userid, external] => Ok(Self::Direct {
                corpid: (*corpid).to_owned(),
                userid: userid.to_ascii_lowercase(),
                external_userid: (*external).to_owned(),
            }),
            ["a", corpid, chatid] => Ok(Self::AppChat {
                corpid: (*corpid).to_owned(),
                chatid: (*chatid).to_owned(),
            }),
            ["g", corpid, chat_id] => Ok(Self::Group {
                corpid: (*corpid).to_owned(),
                chat_id: (*chat_id).to_owned(),
            }),
            _ => Err(bad()),
        }
    }

    /// The corp it belongs to.
    pub fn corpid(&self) -> &str {
        match self {
            Self::Direct { corpid, .. }
            | Self::AppChat { corpid, .. }
            | Self::Group { corpid, .. } => corpid,
        }
    }
}
