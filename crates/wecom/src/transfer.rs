//! Customers and groups handed over (继承): from a member still working
//! (`transfer_customer`, completing 24 hours later unless the customer objects) or from
//! one who left (`resigned/transfer_customer`, the same wait; the deprecated `transfer`
//! at once), the customers of members who left waiting for someone (`get_unassigned_list`),
//! and customer groups whose owner left (`groupchat/transfer`) or is handing them on
//! (`groupchat/onjob_transfer`).

use plaza_kernel::queue::NewJob;
use plaza_kernel::record::Expect;

use crate::contacts::{ADD_WAY_ASSIGNED, follow_key, follow_write};
use crate::groups::group_writes;
use crate::model::{Follow, Member, MemberStatus, PendingTransfer};
use crate::store::{index, kind, load, with_prefix};
use crate::{CONFLICT_RETRIES_MAX, WeCom, WeComError};

/// The job that completes a hand-over; its payload is `corpid/handover/external_userid`.
pub const JOB_TRANSFER: &str = "wecom.transfer";
/// How long a hand-over waits before it completes (WeCom: 24 hours).
pub const TRANSFER_WAIT_MS: i64 = 86_400_000;
/// Customers one call may hand over.
pub const TRANSFER_CUSTOMERS_MAX: usize = 100;

/// A customer's hand-over as `transfer_result` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferState {
    /// The customer.
    pub external_userid: String,
    /// 1 done, 2 waiting.
    pub status: u8,
    /// When it completed or will.
    pub takeover_time: i64,
}

impl WeCom {
    async fn any_follow(
        &self,
        corpid: &str,
        userid: &str,
        external_userid: &str,
    ) -> Result<Option<(Follow, u64)>, WeComError> {
        load::<Follow>(
            &*self.records,
            kind::FOLLOW,
            &follow_key(corpid, userid, external_userid),
        )
        .await
    }

    /// A member who left, by userid.
    async fn left_member(&self, corpid: &str, userid: &str) -> Result<Member, WeComError> {
        let key = format!("{corpid}/{}", userid.to_ascii_lowercase());
        match load::<Member>(&*self.records, kind::MEMBER, &key).await? {
            Some((member, _)) if member.status() == MemberStatus::Left => Ok(member),
            _ => Err(WeComError::invalid_as(
                40098,
                "handover_userid",
                format!("{userid} has not left the corp"),
            )),
        }
    }

    /// `transfer_customer` (`resigned` false: the member still works here) and
    /// `resigned/transfer_customer`: each customer's hand-over starts and completes after
    /// [`TRANSFER_WAIT_MS`]; answered per customer (0 started, 40096 not the member's
    /// customer, 40097 already being handed over).
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] for a bad list, the same member on both sides, a
    /// handover who left (or did not, for `resigned`); 60111 for an unknown takeover.
    pub async fn transfer_customers(
        &self,
        corpid: &str,
        handover: &str,
        takeover: &str,
        external_userids: &[String],
        resigned: bool,
    ) -> Result<Vec<(String, i64)>, WeComError> {
        if external_userids.is_empty() || external_userids.len() > TRANSFER_CUSTOMERS_MAX {
            return Err(WeComError::invalid(
                "external_userid",
                format!("name 1 to {TRANSFER_CUSTOMERS_MAX} customers"),
            ));
        }
        let handover = if resigned {
            self.left_member(corpid, handover).await?
        } else {
            self.member(corpid, handover).await?
        };
        let takeover = self.member(corpid, takeover).await?;
        if handover.userid.eq_ignore_ascii_case(&takeover.userid) {
            return Err(WeComError::invalid(
                "takeover_userid",
                "must be another member",
            ));
        }
        let mut results = Vec::with_capacity(external_userids.len());
        for external_userid in external_userids {
            let code = self
                .start_transfer(corpid, &handover, &takeover, external_userid, resigned)
                .await?;
            results.push((external_userid.clone(), code));
        }
        Ok(results)
    }

    async fn start_transfer(
        &self,
        corpid: &str,
        handover: &Member,
        takeover: &Member,
        external_userid: &str,
        resigned: bool,
    ) -> Result<i64, WeComError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut follow, version)) = self
                .any_follow(corpid, &handover.userid, external_userid)
                .await?
                .filter(|(f, _)| f.ended_at.is_none())
            else {
                return Ok(40096);
            };
            if follow.transfer.is_some() {
                return Ok(40097);
            }
            let now = self.now();
            let completes_at = now.plus_ms(TRANSFER_WAIT_MS);
            follow.transfer = Some(PendingTransfer {
                takeover: takeover.userid.clone(),
                started_at: now,
                completes_at,
                resigned,
            });
            follow.handed_to = None;
            let payload = follow_key(corpid, &handover.userid, external_userid);
            let job = NewJob {
                kind: JOB_TRANSFER.to_owned(),
                key: payload.clone(),
                payload,
                due_at: completes_at,
            };
            if self
                .try_commit_with_jobs(
                    vec![follow_write(&follow, Expect::Version(version))?],
                    vec![job],
                )
                .await?
            {
                return Ok(0);
            }
        }
        Err(Self::busy("customer"))
    }

    /// Completes a hand-over (the job's work, or at once for the deprecated
    /// `transfer`): the old relation ends (the corp's server hears
    /// `del_external_contact` with `Source` `DELETE_BY_TRANSFER`), the takeover follows
    /// the customer with the remark and tags (`add_way` 202) unless they already did.
    ///
    /// # Errors
    ///
    /// Store failures; nothing to do is not an error.
    pub async fn complete_transfer(&self, payload: &str) -> Result<(), WeComError> {
        let mut parts = payload.splitn(3, '/');
        let (Some(corpid), Some(handover), Some(external_userid)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Ok(());
        };
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut follow, version)) =
                self.any_follow(corpid, handover, external_userid).await?
            else {
                return Ok(());
            };
            let Some(transfer) = follow.transfer.take().filter(|_| follow.ended_at.is_none())
            else {
                return Ok(());
            };
            let now = self.now();
            follow.ended_at = Some(now);
            follow.handed_to = Some((transfer.takeover.clone(), now));
            let mut records = vec![follow_write(&follow, Expect::Version(version))?];
            let existing = self
                .any_follow(corpid, &transfer.takeover, external_userid)
                .await?;
            if existing.as_ref().is_none_or(|(f, _)| f.ended_at.is_some()) {
                let taken = Follow {
                    userid: transfer.takeover.clone(),
                    add_way: ADD_WAY_ASSIGNED,
                    oper_userid: follow.userid.clone(),
                    created_at: now,
                    ended_at: None,
                    transfer: None,
                    handed_to: None,
                    state: String::new(),
                    ..follow.clone()
                };
                records.push(follow_write(
                    &taken,
                    existing.map_or(Expect::Absent, |(_, v)| Expect::Version(v)),
                )?);
            }
            let (event, job) = self.new_event(
                corpid,
                "change_external_contact",
                "del_external_contact",
                vec![
                    ("UserID".into(), follow.userid.clone()),
                    ("ExternalUserID".into(), external_userid.to_owned()),
                    ("Source".into(), "DELETE_BY_TRANSFER".into()),
                ],
            )?;
            records.push(event);
            if self.try_commit_with_jobs(records, vec![job]).await? {
                return Ok(());
            }
        }
        Err(Self::busy("customer"))
    }

    /// The deprecated `externalcontact/transfer` (what wechatpy 1.8.18 calls): one
    /// customer of any member handed over at once.
    ///
    /// # Errors
    ///
    /// 40096 when the handover does not follow the customer; as
    /// [`WeCom::transfer_customers`].
    pub async fn transfer_now(
        &self,
        corpid: &str,
        handover: &str,
        takeover: &str,
        external_userid: &str,
    ) -> Result<(), WeComError> {
        let left = self.left_member(corpid, handover).await.is_ok();
        let codes = self
            .transfer_customers(
                corpid,
                handover,
                takeover,
                &[external_userid.to_owned()],
                left,
            )
            .await?;
        match codes.first().map(|(_, code)| *code) {
            Some(0) => {
                self.complete_transfer(&follow_key(corpid, handover, external_userid))
                    .await
            }
            Some(code) => Err(WeComError::invalid_as(
                code,
                "external_userid",
                "the handover member does not follow this customer, or a hand-over is under way",
            )),
            None => Err(Self::busy("customer")),
        }
    }

    /// `transfer_result`: the customers handed from `handover` to `takeover`.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn transfer_results(
        &self,
        corpid: &str,
        handover: &str,
        takeover: &str,
    ) -> Result<Vec<TransferState>, WeComError> {
        let prefix = format!(
            "{corpid}/{}/{}/",
            handover.to_ascii_lowercase(),
            takeover.to_ascii_lowercase()
        );
        let follows: Vec<Follow> = with_prefix(
            &*self.records,
            kind::FOLLOW,
            index::TRANSFER,
            &prefix,
            10_000,
        )
        .await?;
        Ok(follows
            .into_iter()
            .filter_map(|f| match (&f.transfer, &f.handed_to) {
                (Some(t), _) => Some(TransferState {
                    external_userid: f.external_userid.clone(),
                    status: 2,
                    takeover_time: t.completes_at.unix_ms() / 1_000,
                }),
                (None, Some((_, at))) => Some(TransferState {
                    external_userid: f.external_userid.clone(),
                    status: 1,
                    takeover_time: at.unix_ms() / 1_000,
                }),
                _ => None,
            })
            .collect())
    }

    /// `get_unassigned_list`: customers of members who left, not yet handed over, as
    /// `(handover, external_userid, when they left)`.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn unassigned(&self, corpid: &str) -> Result<Vec<(String, String, i64)>, WeComError> {
        let left: Vec<Member> = with_prefix(
            &*self.records,
            kind::MEMBER,
            index::LEFT,
            &format!("{corpid}/"),
            10_000,
        )
        .await?;
        let mut out = Vec::new();
        for member in left {
            let left_at = member.left_at.map_or(0, |t| t.unix_ms() / 1_000);
            for follow in self.customers_of(corpid, &member.userid).await? {
                if follow.transfer.is_none() {
                    out.push((member.userid.clone(), follow.external_userid, left_at));
                }
            }
        }
        Ok(out)
    }

    /// `groupchat/transfer` (`onjob` false: the owner left) and
    /// `groupchat/onjob_transfer`: the groups get `new_owner` at once; answered with the
    /// groups that could not, each with its code (90501 unknown, 90503 owner still
    /// working, 90504 owner not working, 90500 already the owner).
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] for a bad list; 60111 for an unknown new owner.
    pub async fn transfer_groups(
        &self,
        corpid: &str,
        chat_ids: &[String],
        new_owner: &str,
        onjob: bool,
    ) -> Result<Vec<(String, i64, String)>, WeComError> {
        if chat_ids.is_empty() || chat_ids.len() > 100 {
            return Err(WeComError::invalid("chat_id_list", "name 1 to 100 groups"));
        }
        let new_owner = self.member(corpid, new_owner).await?;
        let mut failed = Vec::new();
        for chat_id in chat_ids {
            let Ok((mut group, version)) = self.group(corpid, chat_id).await else {
                failed.push((
                    chat_id.clone(),
                    90501,
                    "chat is not external group chat".to_owned(),
                ));
                continue;
            };
            let owner_works = self.member(corpid, &group.owner).await.is_ok();
            if group.owner.eq_ignore_ascii_case(&new_owner.userid) {
                failed.push((
                    chat_id.clone(),
                    90500,
                    "the new owner owns the group already".to_owned(),
                ));
                continue;
            }
            if owner_works != onjob {
                let (code, message) = if onjob {
                    (90504, "the owner has left: use groupchat/transfer")
                } else {
                    (
                        90503,
                        "the owner still works here: use groupchat/onjob_transfer",
                    )
                };
                failed.push((chat_id.clone(), code, message.to_owned()));
                continue;
            }
            if !self
                .hand_group(&mut group, version, &new_owner, onjob)
                .await?
            {
                failed.push((chat_id.clone(), -1, "system busy, retry".to_owned()));
            }
        }
        Ok(failed)
    }
    /// Gives a group to its new owner and reports it; `Ok(false)` when it changed meanwhile.
    async fn hand_group(
        &self,
        group: &mut crate::model::GroupChat,
        version: u64,
        new_owner: &Member,
        onjob: bool,
    ) -> Result<bool, WeComError> {
        let before = group.clone();
        let corpid = group.corpid.clone();
        let corpid = corpid.as_str();
        group.owner = new_owner.userid.clone();
        group.inherited = !onjob;
        if !group
            .members
            .iter()
            .any(|m| m.userid.eq_ignore_ascii_case(&new_owner.userid))
        {
            group.members.push(crate::model::GroupMember {
                userid: new_owner.userid.clone(),
                kind: 1,
                user_id: new_owner.user_id.clone(),
                name: new_owner.name.clone(),
                join_time: self.now(),
                join_scene: 1,
                invitor: None,
            });
        }
        let (event, job) = self.new_event(
            corpid,
            "change_external_chat",
            "update",
            vec![
                ("ChatId".into(), group.chat_id.clone()),
                ("UpdateDetail".into(), "change_owner".into()),
            ],
        )?;
        self.try_commit_with_jobs(
            [
                group_writes(Some(&before), group, Expect::Version(version))?,
                vec![event],
            ]
            .concat(),
            vec![job],
        )
        .await
    }
}
