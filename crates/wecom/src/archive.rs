//! Session archive (会话内容存档) permits and consent: which members the corp archives,
//! and which customers agreed to have their conversations with the corp archived.

use plaza_kernel::clock::Timestamp;
use plaza_kernel::record::Expect;
use serde::{Deserialize, Serialize};

use crate::store::{kind, load, write};
use crate::{CONFLICT_RETRIES_MAX, WeCom, WeComError};

/// The members a corp archives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Permits {
    userids: Vec<String>,
}

/// A customer's consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Consent {
    agreed_at: Option<Timestamp>,
}

impl WeCom {
    /// `msgaudit/get_permit_user_list`: the members whose conversations are archived.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn archive_permits(&self, corpid: &str) -> Result<Vec<String>, WeComError> {
        Ok(
            load::<Permits>(&*self.records, kind::ARCHIVE_PERMITS, corpid)
                .await?
                .map(|(p, _)| p.userids)
                .unwrap_or_default(),
        )
    }

    /// The corp sets which members are archived (each must be a member).
    ///
    /// # Errors
    ///
    /// 60111 for an unknown member.
    pub async fn set_archive_permits(
        &self,
        corpid: &str,
        userids: &[String],
    ) -> Result<Vec<String>, WeComError> {
        let mut kept = Vec::new();
        for userid in userids {
            let member = self.member(corpid, userid).await?;
            if !kept.contains(&member.userid) {
                kept.push(member.userid);
            }
        }
        for _ in 0..CONFLICT_RETRIES_MAX {
            let expect = load::<Permits>(&*self.records, kind::ARCHIVE_PERMITS, corpid)
                .await?
                .map_or(Expect::Absent, |(_, v)| Expect::Version(v));
            let permits = Permits {
                userids: kept.clone(),
            };
            if self
                .try_commit(vec![write(
                    kind::ARCHIVE_PERMITS,
                    corpid,
                    expect,
                    &permits,
                    vec![],
                )?])
                .await?
            {
                return Ok(kept);
            }
        }
        Err(Self::busy("archive permits"))
    }

    /// When the customer agreed to archiving by this corp, if they did.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn archive_consent(
        &self,
        corpid: &str,
        external_userid: &str,
    ) -> Result<Option<Timestamp>, WeComError> {
        Ok(load::<Consent>(
            &*self.records,
            kind::ARCHIVE_CONSENT,
            &format!("{corpid}/{external_userid}"),
        )
        .await?
        .and_then(|(c, _)| c.agreed_at))
    }

    /// A Plaza user agrees (or withdraws) to the corp archiving their conversations.
    ///
    /// # Errors
    ///
    /// [`WeComError::CorpNotFound`].
    pub async fn set_archive_consent(
        &self,
        corpid: &str,
        user_id: &str,
        agree: bool,
    ) -> Result<(), WeComError> {
        self.corp_versioned(corpid).await?;
        let key = format!("{corpid}/{}", self.external_userid(corpid, user_id));
        for _ in 0..CONFLICT_RETRIES_MAX {
            let expect = load::<Consent>(&*self.records, kind::ARCHIVE_CONSENT, &key)
                .await?
                .map_or(Expect::Absent, |(_, v)| Expect::Version(v));
            let consent = Consent {
                agreed_at: agree.then(|| self.now()),
            };
            if self
                .try_commit(vec![write(
                    kind::ARCHIVE_CONSENT,
                    &key,
                    expect,
                    &consent,
                    vec![],
                )?])
                .await?
            {
                return Ok(());
            }
        }
        Err(Self::busy("archive consent"))
    }
}
