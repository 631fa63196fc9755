//! Customer groups (客户群): made by a member, joined by Plaza users through a group QR
//! (and by members the owner adds), left or dismissed; listed and read as
//! `groupchat/list` and `groupchat/get` answer; every membership change reported to the
//! corp's server as `change_external_chat` with the member version before and after.

use plaza_kernel::record::{Expect, IndexEntry, RecordWrite};

use crate::events::items;
use crate::model::{GroupChat, GroupMember, JoinWay, Member, MemberStatus};
use std::collections::BTreeMap;

use crate::store::{
    SeatOf, index, kind, load, seat_writes, seated_in, time_value, with_prefix, write,
};
use crate::{CONFLICT_RETRIES_MAX, HEX, WeCom, WeComError, random_text};

/// Members a customer group holds at most (WeCom's: 500).
pub const GROUP_MEMBERS_MAX: usize = 500;
/// A group member's stored bytes at most: a 64-byte userid, a Plaza user id, a
/// 64-character name (192 bytes of UTF-8), an invitor and the join facts with keys.
const GROUP_MEMBER_BYTES_MAX: usize = 400;

// A full group fits one record, with 16 KiB left for its name, notice and admins.
const _: () = assert!(
    GROUP_MEMBERS_MAX * GROUP_MEMBER_BYTES_MAX + 16 * 1024
        <= plaza_kernel::limits::RECORD_BYTES_MAX
);
/// Groups a list page holds at most.
pub const GROUP_LIMIT_MAX: usize = 1_000;
/// Groups a join way may name.
pub const JOIN_WAY_CHATS_MAX: usize = 5;

/// A group's status as `groupchat/list` reports it: 0 normal, 1 its owner left, 3
/// handed over.
pub fn status_of(group: &GroupChat, owner: Option<&Member>) -> u8 {
    if group.inherited {
        3
    } else if owner.is_none_or(|o| o.status() == MemberStatus::Left) {
        1
    } else {
        0
    }
}

fn group_key(corpid: &str, chat_id: &str) -> String {
    format!("{corpid}/{chat_id}")
}

/// The writes of a group: its record (in the corp's list and by owner while live), and
/// the seats of whoever joined, left or changed since `before` (`None` for a new
/// group); a dismissed group empties every seat.
pub(crate) fn group_writes(
    before: Option<&GroupChat>,
    group: &GroupChat,
    expect: Expect,
) -> Result<Vec<RecordWrite>, WeComError> {
    let mut index = Vec::new();
    if group.dismissed_at.is_none() {
        let created = time_value(group.created_at.unix_ms());
        index.push(IndexEntry::new(
            index::CORP,
            format!("{}/{created}/{}", group.corpid, group.chat_id),
        ));
        index.push(IndexEntry::new(
            index::OWNER,
            format!(
                "{}/{}/{created}/{}",
                group.corpid,
                group.owner.to_ascii_lowercase(),
                group.chat_id
            ),
        ));
    }
    let mut writes = vec![write(
        kind::GROUP_CHAT,
        &group_key(&group.corpid, &group.chat_id),
        expect,
        group,
        index,
    )?];
    writes.extend(seat_writes(
        kind::GROUP_SEAT,
        &group.corpid,
        &group.chat_id,
        &seats_of(before),
        &seats_of(Some(group)),
    )?);
    Ok(writes)
}

/// Who sits in a live group (nobody in a dismissed one).
pub(crate) fn seats_of(group: Option<&GroupChat>) -> BTreeMap<String, SeatOf> {
    group
        .filter(|group| group.dismissed_at.is_none())
        .map(|group| {
            group
                .members
                .iter()
                .map(|member| {
                    (
                        member.userid.to_ascii_lowercase(),
                        SeatOf {
                            user_id: member.user_id.clone(),
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn staff_member(
    member: &Member,
    scene: u8,
    invitor: Option<String>,
    now: plaza_kernel::clock::Timestamp,
) -> GroupMember {
    GroupMember {
        userid: member.userid.clone(),
        kind: 1,
        user_id: member.user_id.clone(),
        name: member.name.clone(),
        join_time: now,
        join_scene: scene,
        invitor,
    }
}

impl WeCom {
    /// A member makes a customer group they own, with other members in it.
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] for a bad name; 60111 for an unknown member.
    pub async fn create_group(
        &self,
        corpid: &str,
        owner: &str,
        name: &str,
        staff: &[String],
    ) -> Result<GroupChat, WeComError> {
        if !(1..=50).contains(&name.chars().count()) || name.chars().any(char::is_control) {
            return Err(WeComError::invalid("name", "must have 1 to 50 characters"));
        }
        let now = self.now();
        let owner = self.member(corpid, owner).await?;
        let mut members = vec![staff_member(&owner, 1, None, now)];
        for userid in staff {
            let member = self.member(corpid, userid).await?;
            if !members
                .iter()
                .any(|m| m.userid.eq_ignore_ascii_case(&member.userid))
            {
                members.push(staff_member(&member, 1, Some(owner.userid.clone()), now));
            }
        }
        let group = GroupChat {
            corpid: corpid.to_owned(),
            chat_id: format!("wr{}", random_text(HEX, 30)),
            name: name.to_owned(),
            owner: owner.userid.clone(),
            notice: String::new(),
            created_at: now,
            members,
            admin_list: Vec::new(),
            inherited: false,
            dismissed_at: None,
        };
        let (event, job) = self.new_event(
            corpid,
            "change_external_chat",
            "create",
            vec![("ChatId".into(), group.chat_id.clone())],
        )?;
        if self
            .try_commit_with_jobs(
                [group_writes(None, &group, Expect::Absent)?, vec![event]].concat(),
                vec![job],
            )
            .await?
        {
            Ok(group)
        } else {
            Err(Self::busy("group"))
        }
    }

    /// A live customer group.
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] (90501) when no live customer group has this id.
    pub async fn group(&self, corpid: &str, chat_id: &str) -> Result<(GroupChat, u64), WeComError> {
        match load::<GroupChat>(
            &*self.records,
            kind::GROUP_CHAT,
            &group_key(corpid, chat_id),
        )
        .await?
        {
            Some((group, version)) if group.dismissed_at.is_none() => Ok((group, version)),
            _ => Err(WeComError::invalid_as(
                90501,
                "chat_id",
                "chat is not external group chat",
            )),
        }
    }

    /// `groupchat/list`: the corp's groups (or those of the owners named), filtered by
    /// status, `limit` from `cursor` (an offset), with the next cursor (empty at the end).
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] for a bad limit, cursor or status filter.
    pub async fn list_groups(
        &self,
        corpid: &str,
        status_filter: u8,
        owners: &[String],
        cursor: &str,
        limit: usize,
    ) -> Result<(Vec<(String, u8)>, String), WeComError> {
        if !(1..=GROUP_LIMIT_MAX).contains(&limit) {
            return Err(WeComError::invalid(
                "limit",
                format!("must be 1 to {GROUP_LIMIT_MAX}"),
            ));
        }
        if status_filter > 3 {
            return Err(WeComError::invalid("status_filter", "must be 0 to 3"));
        }
        if owners.len() > 100 {
            return Err(WeComError::invalid_as(
                81017,
                "owner_filter",
                "at most 100 owners",
            ));
        }
        let offset: usize = if cursor.is_empty() {
            0
        } else {
            cursor
                .parse()
                .map_err(|_| WeComError::invalid("cursor", "not a cursor this API gave"))?
        };
        let groups: Vec<GroupChat> = if owners.is_empty() {
            with_prefix(
                &*self.records,
                kind::GROUP_CHAT,
                index::CORP,
                &format!("{corpid}/"),
                100_000,
            )
            .await?
        } else {
            let mut all = Vec::new();
            for owner in owners {
                all.extend(
                    with_prefix::<GroupChat>(
                        &*self.records,
                        kind::GROUP_CHAT,
                        index::OWNER,
                        &format!("{corpid}/{}/", owner.to_ascii_lowercase()),
                        100_000,
                    )
                    .await?,
                );
            }
            all
        };
        let mut listed = Vec::new();
        for group in groups {
            let owner = self.member(corpid, &group.owner).await.ok();
            let status = status_of(&group, owner.as_ref());
            if status_filter == 0 || status_filter == status {
                listed.push((group.chat_id, status));
            }
        }
        let page: Vec<(String, u8)> = listed.iter().skip(offset).take(limit).cloned().collect();
        let next = if offset + limit < listed.len() {
            (offset + limit).to_string()
        } else {
            String::new()
        };
        Ok((page, next))
    }

    /// The groups a corp member is in, newest first.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn groups_of_member(
        &self,
        corpid: &str,
        userid: &str,
    ) -> Result<Vec<GroupChat>, WeComError> {
        seated_in(
            &*self.records,
            (kind::GROUP_SEAT, kind::GROUP_CHAT),
            index::CHAT_MEMBER,
            &format!("{corpid}/{}/", userid.to_ascii_lowercase()),
            1_000,
        )
        .await
    }

    /// The customer groups a Plaza user is in as an external user, in any corp.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn groups_of_user(&self, user_id: &str) -> Result<Vec<GroupChat>, WeComError> {
        seated_in(
            &*self.records,
            (kind::GROUP_SEAT, kind::GROUP_CHAT),
            index::USER,
            &format!("{user_id}/"),
            1_000,
        )
        .await
    }

    /// `groupchat/add_join_way`: a QR that joins the first of its groups with room.
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] for a bad scene, 1–5 groups, 90501 for an unknown group.
    pub async fn add_join_way(
        &self,
        corpid: &str,
        scene: i64,
        remark: &str,
        chat_ids: &[String],
        state: &str,
    ) -> Result<JoinWay, WeComError> {
        let scene = match scene {
            1 => 1,
            2 => 2,
            _ => {
                return Err(WeComError::invalid_as(
                    41038,
                    "scene",
                    "must be 1 (mini program) or 2 (QR code)",
                ));
            }
        };
        if chat_ids.is_empty() || chat_ids.len() > JOIN_WAY_CHATS_MAX {
            return Err(WeComError::invalid(
                "chat_id_list",
                format!("name 1 to {JOIN_WAY_CHATS_MAX} groups"),
            ));
        }
        for chat_id in chat_ids {
            self.group(corpid, chat_id).await?;
        }
        if remark.chars().count() > 30 || state.chars().count() > 30 {
            return Err(WeComError::invalid(
                "remark",
                "remark and state have at most 30 characters",
            ));
        }
        let way = JoinWay {
            corpid: corpid.to_owned(),
            config_id: random_text(HEX, 32),
            scene,
            remark: remark.to_owned(),
            chat_id_list: chat_ids.to_vec(),
            state: state.to_owned(),
            created_at: self.now(),
            deleted: false,
        };
        if self
            .try_commit(vec![write(
                kind::JOIN_WAY,
                &way.config_id,
                Expect::Absent,
                &way,
                vec![],
            )?])
            .await?
        {
            Ok(way)
        } else {
            Err(Self::busy("join way"))
        }
    }

    /// A live join way (`corpid` `None`: of any corp, for the scanning user).
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] (41039) for an unknown or removed one.
    pub async fn join_way(
        &self,
        corpid: Option<&str>,
        config_id: &str,
    ) -> Result<(JoinWay, u64), WeComError> {
        match load::<JoinWay>(&*self.records, kind::JOIN_WAY, config_id).await? {
            Some((way, version)) if !way.deleted && corpid.is_none_or(|c| c == way.corpid) => {
                Ok((way, version))
            }
            _ => Err(WeComError::invalid_as(
                41039,
                "config_id",
                "no such join way",
            )),
        }
    }

    /// `groupchat/del_join_way`.
    ///
    /// # Errors
    ///
    /// 41039 for an unknown one.
    pub async fn delete_join_way(&self, corpid: &str, config_id: &str) -> Result<(), WeComError> {
        let (mut way, version) = self.join_way(Some(corpid), config_id).await?;
        way.deleted = true;
        if self
            .try_commit(vec![write(
                kind::JOIN_WAY,
                config_id,
                Expect::Version(version),
                &way,
                vec![],
            )?])
            .await?
        {
            Ok(())
        } else {
            Err(Self::busy("join way"))
        }
    }

    /// A Plaza user scans a group QR: they join its first group with room as an
    /// external user (type 2, join scene 3) and the corp's server hears `update`
    /// `add_member`. Scanning again changes nothing.
    ///
    /// # Errors
    ///
    /// 41039 for an unknown way; [`WeComError::Invalid`] when every group is full.
    pub async fn join_group(
        &self,
        config_id: &str,
        user_id: &str,
    ) -> Result<GroupChat, WeComError> {
        let user =
            self.identity
                .user(user_id)
                .await?
                .ok_or_else(|| WeComError::PlazaUserNotFound {
                    user_id: user_id.to_owned(),
                })?;
        let (way, _) = self.join_way(None, config_id).await?;
        let corpid = way.corpid.clone();
        let external_userid = self.external_userid(&corpid, user_id);
        for _ in 0..CONFLICT_RETRIES_MAX {
            let mut chosen = None;
            for chat_id in &way.chat_id_list {
                let Ok((group, version)) = self.group(&corpid, chat_id).await else {
                    continue;
                };
                if group.members.iter().any(|m| m.userid == external_userid) {
                    return Ok(group);
                }
                if group.members.len() < GROUP_MEMBERS_MAX {
                    chosen = Some((group, version));
                    break;
                }
            }
            let (mut group, version) = chosen.ok_or_else(|| {
                WeComError::invalid("config_id", "every group of this QR is full or gone")
            })?;
            let before = group.clone();
            let last = group.member_version();
            group.members.push(GroupMember {
                userid: external_userid.clone(),
                kind: 2,
                user_id: Some(user_id.to_owned()),
                name: user.name.clone(),
                join_time: self.now(),
                join_scene: 3,
                invitor: None,
            });
            let mut records = group_writes(Some(&before), &group, Expect::Version(version))?;
            records.extend(self.contact_record(&corpid, user_id, &user.name).await?.1);
            let (event, job) = self.membership_event(
                &group,
                "add_member",
                ("JoinScene", "3"),
                std::slice::from_ref(&external_userid),
                &last,
            )?;
            records.push(event);
            if self.try_commit_with_jobs(records, vec![job]).await? {
                return Ok(group);
            }
        }
        Err(Self::busy("group"))
    }

    fn membership_event(
        &self,
        group: &GroupChat,
        detail: &str,
        scene: (&str, &str),
        changed: &[String],
        last: &str,
    ) -> Result<(RecordWrite, plaza_kernel::queue::NewJob), WeComError> {
        self.new_event(
            &group.corpid,
            "change_external_chat",
            "update",
            vec![
                ("ChatId".into(), group.chat_id.clone()),
                ("UpdateDetail".into(), detail.to_owned()),
                (scene.0.into(), scene.1.to_owned()),
                ("MemChangeCnt".into(), changed.len().to_string()),
                ("MemChangeList".into(), items(changed)),
                ("LastMemVer".into(), last.to_owned()),
                ("CurMemVer".into(), group.member_version()),
            ],
        )
    }

    /// A member of the group (the owner or an admin) adds corp members to it.
    ///
    /// # Errors
    ///
    /// [`WeComError::Forbidden`] for anyone else; 60111 for an unknown member.
    pub async fn add_group_staff(
        &self,
        corpid: &str,
        chat_id: &str,
        by: &str,
        userids: &[String],
    ) -> Result<GroupChat, WeComError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut group, version) = self.group(corpid, chat_id).await?;
            let before = group.clone();
            if !Self::manages(&group, by) {
                return Err(WeComError::Forbidden {
                    what: "only the owner or an admin adds members".to_owned(),
                });
            }
            let last = group.member_version();
            let mut changed = Vec::new();
            for userid in userids {
                let member = self.member(corpid, userid).await?;
                if !group
                    .members
                    .iter()
                    .any(|m| m.userid.eq_ignore_ascii_case(&member.userid))
                {
                    group
                        .members
                        .push(staff_member(&member, 1, Some(by.to_owned()), self.now()));
                    changed.push(member.userid);
                }
            }
            if changed.is_empty() {
                return Ok(group);
            }
            if group.members.len() > GROUP_MEMBERS_MAX {
                return Err(WeComError::invalid(
                    "userid",
                    format!("a group holds at most {GROUP_MEMBERS_MAX}"),
                ));
            }
            let (event, job) =
                self.membership_event(&group, "add_member", ("JoinScene", "0"), &changed, &last)?;
            if self
                .try_commit_with_jobs(
                    [
                        group_writes(Some(&before), &group, Expect::Version(version))?,
                        vec![event],
                    ]
                    .concat(),
                    vec![job],
                )
                .await?
            {
                return Ok(group);
            }
        }
        Err(Self::busy("group"))
    }

    fn manages(group: &GroupChat, userid: &str) -> bool {
        group.owner.eq_ignore_ascii_case(userid)
            || group
                .admin_list
                .iter()
                .any(|a| a.eq_ignore_ascii_case(userid))
    }

    /// Someone leaves a group (`removed_by` `None`) or is removed by its owner or an
    /// admin; the corp's server hears `update` `del_member` with `QuitScene` 0 or 1. The
    /// owner cannot leave (they dismiss or hand over).
    ///
    /// # Errors
    ///
    /// 90501 for an unknown group; [`WeComError::Invalid`] for someone not in it or the
    /// owner; [`WeComError::Forbidden`] for a remover who does not manage it.
    pub async fn leave_group(
        &self,
        corpid: &str,
        chat_id: &str,
        who: &str,
        removed_by: Option<&str>,
    ) -> Result<GroupChat, WeComError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut group, version) = self.group(corpid, chat_id).await?;
            let before = group.clone();
            if removed_by.is_some_and(|by| !Self::manages(&group, by)) {
                return Err(WeComError::Forbidden {
                    what: "only the owner or an admin removes members".to_owned(),
                });
            }
            if group.owner.eq_ignore_ascii_case(who) {
                return Err(WeComError::invalid(
                    "userid",
                    "the owner cannot leave: dismiss the group or hand it over",
                ));
            }
            let last = group.member_version();
            let count_before = group.members.len();
            group
                .members
                .retain(|m| !m.userid.eq_ignore_ascii_case(who));
            if group.members.len() == count_before {
                return Err(WeComError::invalid(
                    "userid",
                    format!("{who} is not in the group"),
                ));
            }
            group.admin_list.retain(|a| !a.eq_ignore_ascii_case(who));
            let scene = if removed_by.is_some() { "1" } else { "0" };
            let (event, job) = self.membership_event(
                &group,
                "del_member",
                ("QuitScene", scene),
                &[who.to_owned()],
                &last,
            )?;
            if self
                .try_commit_with_jobs(
                    [
                        group_writes(Some(&before), &group, Expect::Version(version))?,
                        vec![event],
                    ]
                    .concat(),
                    vec![job],
                )
                .await?
            {
                let topic = crate::chat::Conversation::Group {
                    corpid: corpid.to_owned(),
                    chat_id: chat_id.to_owned(),
                };
                self.publish(
                    &topic.id(),
                    &serde_json::json!({ "op": "left", "conversation": topic.id(), "who": who }),
                );
                return Ok(group);
            }
        }
        Err(Self::busy("group"))
    }

    /// The owner dismisses the group: the corp's server hears `dismiss`.
    ///
    /// # Errors
    ///
    /// 90501 for an unknown group; [`WeComError::Forbidden`] for anyone but the owner.
    pub async fn dismiss_group(
        &self,
        corpid: &str,
        chat_id: &str,
        by: &str,
    ) -> Result<(), WeComError> {
        let (mut group, version) = self.group(corpid, chat_id).await?;
        let before = group.clone();
        if !group.owner.eq_ignore_ascii_case(by) {
            return Err(WeComError::Forbidden {
                what: "only the owner dismisses a group".to_owned(),
            });
        }
        group.dismissed_at = Some(self.now());
        let (event, job) = self.new_event(
            corpid,
            "change_external_chat",
            "dismiss",
            vec![("ChatId".into(), chat_id.to_owned())],
        )?;
        if self
            .try_commit_with_jobs(
                [
                    group_writes(Some(&before), &group, Expect::Version(version))?,
                    vec![event],
                ]
                .concat(),
                vec![job],
            )
            .await?
        {
            let topic = crate::chat::Conversation::Group {
                corpid: corpid.to_owned(),
                chat_id: chat_id.to_owned(),
            };
            self.publish(
                &topic.id(),
                &serde_json::json!({ "op": "closed", "conversation": topic.id() }),
            );
            Ok(())
        } else {
            Err(Self::busy("group"))
        }
    }
}
