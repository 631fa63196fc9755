//! Customer contact (客户联系): 「联系我」 contact ways, Plaza users adding members as
//! customers by scanning one, the relation each member keeps with a customer (remark,
//! tags, how they were added), reading customers one by one and in batches, and either
//! side ending the relation. Each change that WeCom reports to the corp's server writes
//! its `change_external_contact` event in the same unit of work.

use std::collections::HashSet;

use plaza_kernel::record::{Expect, IndexEntry, RecordWrite};

use crate::model::{ContactWay, ExternalContact, Follow, Member, MemberStatus};
use crate::store::{index, kind, load, time_value, with_prefix, write};
use crate::{CONFLICT_RETRIES_MAX, HEX, WeCom, WeComError, random_text};

/// Customers a member may list at once.
pub const CUSTOMERS_LISTED_MAX: usize = 10_000;
/// Relations `batch/get_by_user` returns per page at most.
pub const BATCH_LIMIT_MAX: usize = 100;
/// Members a batch may name.
pub const BATCH_USERS_MAX: usize = 100;
/// `add_way` of a customer who scanned a contact way's QR code.
pub const ADD_WAY_QR: u32 = 1;
/// `add_way` of a customer the corp assigned (a hand-over).
pub const ADD_WAY_ASSIGNED: u32 = 202;

/// A contact way to create or change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewContactWay {
    /// 1 one member, 2 several.
    pub kind: Option<i64>,
    /// 1 in a mini program, 2 a QR code.
    pub scene: Option<i64>,
    /// The control's style.
    pub style: Option<i64>,
    /// Up to 30 characters.
    pub remark: String,
    /// Customers are added without the member confirming (default true).
    pub skip_verify: bool,
    /// Up to 30 characters.
    pub state: String,
    /// Members (exactly one for kind 1).
    pub users: Vec<String>,
    /// Departments (kind 2 only).
    pub parties: Vec<i64>,
}

/// The member's notes on a customer; `None` keeps what is there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemarkChange {
    /// Up to 20 characters.
    pub remark: Option<String>,
    /// Up to 150 characters.
    pub description: Option<String>,
    /// Up to 20 characters.
    pub remark_company: Option<String>,
    /// Up to 5 numbers.
    pub remark_mobiles: Option<Vec<String>>,
}

/// A customer added by a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// The customer as the corp knows them.
    pub contact: ExternalContact,
    /// The member they added.
    pub member: Member,
    /// Whether the relation is new (an existing one is kept as it is).
    pub new: bool,
}

pub(crate) fn follow_key(corpid: &str, userid: &str, external_userid: &str) -> String {
    format!("{corpid}/{}/{external_userid}", userid.to_ascii_lowercase())
}

/// The write of a relation with its indexes (none once ended).
pub(crate) fn follow_write(follow: &Follow, expect: Expect) -> Result<RecordWrite, WeComError> {
    let lower = follow.userid.to_ascii_lowercase();
    let mut index = Vec::new();
    if follow.ended_at.is_none() {
        index.push(IndexEntry::new(
            index::FOLLOWER,
            format!(
                "{}/{lower}/{}/{}",
                follow.corpid,
                time_value(follow.created_at.unix_ms()),
                follow.external_userid
            ),
        ));
        index.push(IndexEntry::new(
            index::FOLLOWED,
            format!("{}/{}/{lower}", follow.corpid, follow.external_userid),
        ));
    }
    if let Some(transfer) = &follow.transfer {
        index.push(IndexEntry::new(
            index::TRANSFER,
            format!(
                "{}/{lower}/{}/{}",
                follow.corpid,
                transfer.takeover.to_ascii_lowercase(),
                follow.external_userid
            ),
        ));
    } else if let Some((takeover, _)) = &follow.handed_to {
        index.push(IndexEntry::new(
            index::TRANSFER,
            format!(
                "{}/{lower}/{}/{}",
                follow.corpid,
                takeover.to_ascii_lowercase(),
                follow.external_userid
            ),
        ));
    }
    write(
        kind::FOLLOW,
        &follow_key(&follow.corpid, &follow.userid, &follow.external_userid),
        expect,
        follow,
        index,
    )
}

fn contact_way_write(way: &ContactWay, expect: Expect) -> Result<RecordWrite, WeComError> {
    let index = if way.deleted {
        Vec::new()
    } else {
        vec![IndexEntry::new(
            index::CORP,
            format!(
                "{}/{}/{}",
                way.corpid,
                time_value(way.created_at.unix_ms()),
                way.config_id
            ),
        )]
    };
    write(kind::CONTACT_WAY, &way.config_id, expect, way, index)
}

pub(crate) fn external_write(contact: &ExternalContact) -> Result<RecordWrite, WeComError> {
    write(
        kind::EXTERNAL,
        &format!("{}/{}", contact.corpid, contact.external_userid),
        Expect::Absent,
        contact,
        vec![IndexEntry::new(
            index::USER,
            format!("{}/{}", contact.user_id, contact.corpid),
        )],
    )
}

fn check_len(field: &str, value: &str, max: usize) -> Result<(), WeComError> {
    if value.chars().count() > max || value.chars().any(char::is_control) {
        Err(WeComError::invalid(
            field,
            format!("at most {max} characters, no control characters"),
        ))
    } else {
        Ok(())
    }
}

impl WeCom {
    /// The external_userid a corp knows a Plaza user by: `wm` and 30 hex digits of an
    /// HMAC of the corp and the user, so it is stable per corp and unlinkable across.
    pub fn external_userid(&self, corpid: &str, user_id: &str) -> String {
        let tag = aws_lc_rs::hmac::sign(
            &self.token_key,
            format!("external|{corpid}|{user_id}").as_bytes(),
        );
        let hex: String = tag
            .as_ref()
            .iter()
            .take(15)
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("wm{hex}")
    }

    /// Members that can serve customers (every member still in the corp who is not
    /// disabled), for `get_follow_user_list`.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn follow_users(&self, corpid: &str) -> Result<Vec<Member>, WeComError> {
        Ok(self
            .all_members(corpid)
            .await?
            .into_iter()
            .filter(|m| m.status() != MemberStatus::Disabled)
            .collect())
    }

    async fn check_way(
        &self,
        corpid: &str,
        new: &NewContactWay,
    ) -> Result<(u8, u8, Vec<String>, Vec<u32>), WeComError> {
        let kind = match new.kind {
            None => return Err(WeComError::invalid_as(41037, "type", "is required")),
            Some(1) => 1,
            Some(2) => 2,
            Some(_) => {
                return Err(WeComError::invalid(
                    "type",
                    "must be 1 (one member) or 2 (several)",
                ));
            }
        };
        let scene = match new.scene {
            Some(1) => 1,
            Some(2) => 2,
            _ => {
                return Err(WeComError::invalid_as(
                    41038,
                    "scene",
                    "must be 1 (mini program) or 2 (QR code)",
                ));
            }
        };
        check_len("remark", &new.remark, 30)?;
        check_len("state", &new.state, 30)?;
        if kind == 1 && (new.users.len() != 1 || !new.parties.is_empty()) {
            return Err(WeComError::invalid(
                "user",
                "a single-member way names exactly one member and no department",
            ));
        }
        if new.users.is_empty() && new.parties.is_empty() {
            return Err(WeComError::invalid("user", "name a member or a department"));
        }
        let mut users = Vec::new();
        for userid in &new.users {
            let member = self.member(corpid, userid).await.map_err(|_| {
                WeComError::invalid_as(40003, "user", format!("{userid} is not a member"))
            })?;
            if !users.contains(&member.userid) {
                users.push(member.userid);
            }
        }
        let mut parties = Vec::new();
        for id in &new.parties {
            let id = u32::try_from(*id).map_err(|_| WeComError::DepartmentNotFound { id: *id })?;
            self.department(corpid, id).await?;
            parties.push(id);
        }
        Ok((kind, scene, users, parties))
    }

    /// `add_contact_way`.
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] (41037 type, 41038 scene, 40003 a member), a department
    /// not found.
    pub async fn add_contact_way(
        &self,
        corpid: &str,
        new: NewContactWay,
    ) -> Result<ContactWay, WeComError> {
        let (kind, scene, users, parties) = self.check_way(corpid, &new).await?;
        let way = ContactWay {
            corpid: corpid.to_owned(),
            config_id: random_text(HEX, 32),
            kind,
            scene,
            style: new.style,
            remark: new.remark,
            skip_verify: new.skip_verify,
            state: new.state,
            users,
            parties,
            created_at: self.now(),
            deleted: false,
        };
        if self
            .try_commit(vec![contact_way_write(&way, Expect::Absent)?])
            .await?
        {
            Ok(way)
        } else {
            Err(Self::busy("contact way"))
        }
    }

    /// A live contact way of a corp (`corpid` `None`: of any corp, for the scanning user).
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] (41039) for an unknown or removed one.
    pub async fn contact_way(
        &self,
        corpid: Option<&str>,
        config_id: &str,
    ) -> Result<(ContactWay, u64), WeComError> {
        match load::<ContactWay>(&*self.records, kind::CONTACT_WAY, config_id).await? {
            Some((way, version)) if !way.deleted && corpid.is_none_or(|c| c == way.corpid) => {
                Ok((way, version))
            }
            _ => Err(WeComError::invalid_as(
                41039,
                "config_id",
                "no such contact way",
            )),
        }
    }

    /// `update_contact_way`: remark, skip_verify, state, members and departments.
    ///
    /// # Errors
    ///
    /// As [`WeCom::add_contact_way`].
    pub async fn update_contact_way(
        &self,
        corpid: &str,
        config_id: &str,
        change: NewContactWay,
    ) -> Result<ContactWay, WeComError> {
        let (mut way, version) = self.contact_way(Some(corpid), config_id).await?;
        let merged = NewContactWay {
            kind: Some(i64::from(way.kind)),
            scene: Some(i64::from(way.scene)),
            style: change.style.or(way.style),
            users: if change.users.is_empty() {
                way.users.clone()
            } else {
                change.users
            },
            parties: if change.parties.is_empty() {
                way.parties.iter().map(|p| i64::from(*p)).collect()
            } else {
                change.parties
            },
            ..change
        };
        let (_, _, users, parties) = self.check_way(corpid, &merged).await?;
        way.style = merged.style;
        way.remark = merged.remark;
        way.skip_verify = merged.skip_verify;
        way.state = merged.state;
        way.users = users;
        way.parties = parties;
        if self
            .try_commit(vec![contact_way_write(&way, Expect::Version(version))?])
            .await?
        {
            Ok(way)
        } else {
            Err(Self::busy("contact way"))
        }
    }

    /// `del_contact_way`.
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] (41039) for an unknown one.
    pub async fn delete_contact_way(
        &self,
        corpid: &str,
        config_id: &str,
    ) -> Result<(), WeComError> {
        let (mut way, version) = self.contact_way(Some(corpid), config_id).await?;
        way.deleted = true;
        if self
            .try_commit(vec![contact_way_write(&way, Expect::Version(version))?])
            .await?
        {
            Ok(())
        } else {
            Err(Self::busy("contact way"))
        }
    }

    /// A member's contact ways, newest first (the workbench's QR).
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn contact_ways_of(
        &self,
        corpid: &str,
        userid: &str,
    ) -> Result<Vec<ContactWay>, WeComError> {
        let all: Vec<ContactWay> = with_prefix(
            &*self.records,
            kind::CONTACT_WAY,
            index::CORP,
            &format!("{corpid}/"),
            1_000,
        )
        .await?;
        Ok(all
            .into_iter()
            .rev()
            .filter(|w| w.users.iter().any(|u| u.eq_ignore_ascii_case(userid)))
            .collect())
    }

    /// The member a contact way hands a new customer to: its one member, or among its
    /// members and departments' members the one with the fewest customers.
    async fn serving_member(&self, way: &ContactWay) -> Result<Member, WeComError> {
        let mut candidates: Vec<Member> = Vec::new();
        for userid in &way.users {
            if let Ok(member) = self.member(&way.corpid, userid).await {
                candidates.push(member);
            }
        }
        for party in &way.parties {
            if let Ok(members) = self.members(&way.corpid, i64::from(*party), true).await {
                candidates.extend(members);
            }
        }
        let mut best: Option<(usize, Member)> = None;
        let mut seen = HashSet::new();
        for member in candidates
            .into_iter()
            .filter(|m| m.status() != MemberStatus::Disabled)
        {
            if !seen.insert(member.userid.to_ascii_lowercase()) {
                continue;
            }
            let load = self.customers_of(&way.corpid, &member.userid).await?.len();
            if best.as_ref().is_none_or(|(fewest, _)| load < *fewest) {
                best = Some((load, member));
            }
        }
        best.map(|(_, m)| m).ok_or_else(|| {
            WeComError::invalid(
                "config_id",
                "nobody serves customers through this contact way now",
            )
        })
    }

    /// A Plaza user scans a contact way: they become the member's customer (the relation
    /// `add_way` 1 with the way's `state`), and the corp's server hears
    /// `add_external_contact` — unless the relation exists already, which is kept.
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] for an unknown way or nobody to serve;
    /// [`WeComError::PlazaUserNotFound`].
    pub async fn add_customer(&self, config_id: &str, user_id: &str) -> Result<Added, WeComError> {
        let user =
            self.identity
                .user(user_id)
                .await?
                .ok_or_else(|| WeComError::PlazaUserNotFound {
                    user_id: user_id.to_owned(),
                })?;
        let (way, _) = self.contact_way(None, config_id).await?;
        let member = self.serving_member(&way).await?;
        let corpid = way.corpid.clone();
        let external_userid = self.external_userid(&corpid, user_id);
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (contact, new_contact) = self.contact_record(&corpid, user_id, &user.name).await?;
            let key = follow_key(&corpid, &member.userid, &external_userid);
            let previous = load::<Follow>(&*self.records, kind::FOLLOW, &key).await?;
            if previous.as_ref().is_some_and(|(f, _)| f.ended_at.is_none()) {
                return Ok(Added {
                    contact,
                    member,
                    new: false,
                });
            }
            let follow = Follow::new(
                &corpid,
                &member.userid,
                &external_userid,
                ADD_WAY_QR,
                &way.state,
                self.now(),
            );
            let mut records = vec![follow_write(
                &follow,
                previous.map_or(Expect::Absent, |(_, v)| Expect::Version(v)),
            )?];
            records.extend(new_contact);
            let (event, job) = self.new_event(
                &corpid,
                "change_external_contact",
                "add_external_contact",
                vec![
                    ("UserID".into(), member.userid.clone()),
                    ("ExternalUserID".into(), external_userid.clone()),
                    ("State".into(), way.state.clone()),
                    ("WelcomeCode".into(), random_text(HEX, 32)),
                ],
            )?;
            records.push(event);
            if self.try_commit_with_jobs(records, vec![job]).await? {
                return Ok(Added {
                    contact,
                    member,
                    new: true,
                });
            }
        }
        Err(Self::busy("customer"))
    }

    /// The corp's record of a Plaza user as an external contact, with its write when it
    /// is new (for the caller's unit of work).
    pub(crate) async fn contact_record(
        &self,
        corpid: &str,
        user_id: &str,
        name: &str,
    ) -> Result<(ExternalContact, Option<RecordWrite>), WeComError> {
        let external_userid = self.external_userid(corpid, user_id);
        let key = format!("{corpid}/{external_userid}");
        if let Some((contact, _)) =
            load::<ExternalContact>(&*self.records, kind::EXTERNAL, &key).await?
        {
            return Ok((contact, None));
        }
        let contact = ExternalContact {
            corpid: corpid.to_owned(),
            external_userid,
            user_id: user_id.to_owned(),
            name: name.to_owned(),
            created_at: self.now(),
        };
        let write = external_write(&contact)?;
        Ok((contact, Some(write)))
    }

    /// The live relations of a member, oldest first.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn customers_of(
        &self,
        corpid: &str,
        userid: &str,
    ) -> Result<Vec<Follow>, WeComError> {
        with_prefix(
            &*self.records,
            kind::FOLLOW,
            index::FOLLOWER,
            &format!("{corpid}/{}/", userid.to_ascii_lowercase()),
            CUSTOMERS_LISTED_MAX,
        )
        .await
    }

    /// A customer of the corp and every member following them.
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] (40096) for an external_userid the corp does not know.
    pub async fn external_contact(
        &self,
        corpid: &str,
        external_userid: &str,
    ) -> Result<(ExternalContact, Vec<Follow>), WeComError> {
        let Some((contact, _)) = load::<ExternalContact>(
            &*self.records,
            kind::EXTERNAL,
            &format!("{corpid}/{external_userid}"),
        )
        .await?
        else {
            return Err(WeComError::invalid_as(
                40096,
                "external_userid",
                "invalid external_userid",
            ));
        };
        let follows = with_prefix(
            &*self.records,
            kind::FOLLOW,
            index::FOLLOWED,
            &format!("{corpid}/{external_userid}/"),
            1_000,
        )
        .await?;
        Ok((contact, follows))
    }

    /// A customer known by the Plaza user behind them.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn contact_of_user(
        &self,
        corpid: &str,
        user_id: &str,
    ) -> Result<Option<ExternalContact>, WeComError> {
        Ok(load::<ExternalContact>(
            &*self.records,
            kind::EXTERNAL,
            &format!("{corpid}/{}", self.external_userid(corpid, user_id)),
        )
        .await?
        .map(|(c, _)| c))
    }

    /// Every corp relation a Plaza user has as a customer (the user app's side).
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn corps_of_customer(
        &self,
        user_id: &str,
    ) -> Result<Vec<ExternalContact>, WeComError> {
        with_prefix(
            &*self.records,
            kind::EXTERNAL,
            index::USER,
            &format!("{user_id}/"),
            1_000,
        )
        .await
    }

    /// `batch/get_by_user`: the relations of up to 100 members, `limit` at a time from
    /// `cursor` (an offset), with the next cursor (empty at the end).
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] for too many members, a bad limit or cursor; 60111 for an
    /// unknown member.
    pub async fn batch_by_user(
        &self,
        corpid: &str,
        userids: &[String],
        cursor: &str,
        limit: usize,
    ) -> Result<(Vec<(ExternalContact, Follow)>, String), WeComError> {
        if userids.is_empty() || userids.len() > BATCH_USERS_MAX {
            return Err(WeComError::invalid(
                "userid_list",
                format!("name 1 to {BATCH_USERS_MAX} members"),
            ));
        }
        if !(1..=BATCH_LIMIT_MAX).contains(&limit) {
            return Err(WeComError::invalid(
                "limit",
                format!("must be 1 to {BATCH_LIMIT_MAX}"),
            ));
        }
        let offset: usize = if cursor.is_empty() {
            0
        } else {
            cursor
                .parse()
                .map_err(|_| WeComError::invalid("cursor", "not a cursor this API gave"))?
        };
        let mut follows = Vec::new();
        for userid in userids {
            let member = self.member(corpid, userid).await?;
            follows.extend(self.customers_of(corpid, &member.userid).await?);
        }
        let page: Vec<Follow> = follows.iter().skip(offset).take(limit).cloned().collect();
        let mut out = Vec::with_capacity(page.len());
        for follow in page {
            let (contact, _) = self
                .external_contact(corpid, &follow.external_userid)
                .await?;
            out.push((contact, follow));
        }
        let next = if offset + limit < follows.len() {
            (offset + limit).to_string()
        } else {
            String::new()
        };
        Ok((out, next))
    }

    /// A live relation of a member with a customer.
    ///
    /// # Errors
    ///
    /// 60111 for an unknown member, 84061 without the relation.
    pub async fn follow_of(
        &self,
        corpid: &str,
        userid: &str,
        external_userid: &str,
    ) -> Result<(Follow, u64), WeComError> {
        let member = self.member(corpid, userid).await?;
        match load::<Follow>(
            &*self.records,
            kind::FOLLOW,
            &follow_key(corpid, &member.userid, external_userid),
        )
        .await?
        {
            Some((follow, version)) if follow.ended_at.is_none() => Ok((follow, version)),
            _ => Err(WeComError::invalid_as(
                84061,
                "external_userid",
                "no external contact relationship with this member",
            )),
        }
    }

    /// `remark`: the member's notes on a customer.
    ///
    /// # Errors
    ///
    /// 84061 when the member does not follow the customer; [`WeComError::Invalid`].
    pub async fn remark(
        &self,
        corpid: &str,
        userid: &str,
        external_userid: &str,
        change: RemarkChange,
    ) -> Result<(), WeComError> {
        for (field, value, max) in [
            ("remark", &change.remark, 20),
            ("description", &change.description, 150),
            ("remark_company", &change.remark_company, 20),
        ] {
            if let Some(value) = value {
                check_len(field, value, max)?;
            }
        }
        if change
            .remark_mobiles
            .as_ref()
            .is_some_and(|m| m.len() > 5 || m.iter().any(|n| n.len() > 32))
        {
            return Err(WeComError::invalid("remark_mobiles", "at most 5 numbers"));
        }
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut follow, version) = self.follow_of(corpid, userid, external_userid).await?;
            if let Some(remark) = &change.remark {
                follow.remark.clone_from(remark);
            }
            if let Some(description) = &change.description {
                follow.description.clone_from(description);
            }
            if let Some(company) = &change.remark_company {
                follow.remark_corp_name.clone_from(company);
            }
            if let Some(mobiles) = &change.remark_mobiles {
                follow.remark_mobiles.clone_from(mobiles);
            }
            if self
                .try_commit(vec![follow_write(&follow, Expect::Version(version))?])
                .await?
            {
                return Ok(());
            }
        }
        Err(Self::busy("customer"))
    }

    /// Ends a relation: the member deleted the customer (`del_external_contact`) or the
    /// customer deleted the member (`del_follow_user`); the corp's server hears which.
    ///
    /// # Errors
    ///
    /// 84061 when there is no such relation.
    pub async fn end_follow(
        &self,
        corpid: &str,
        userid: &str,
        external_userid: &str,
        by_customer: bool,
    ) -> Result<(), WeComError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut follow, version) = self.follow_of(corpid, userid, external_userid).await?;
            follow.ended_at = Some(self.now());
            follow.transfer = None;
            let change = if by_customer {
                "del_follow_user"
            } else {
                "del_external_contact"
            };
            let (event, job) = self.new_event(
                corpid,
                "change_external_contact",
                change,
                vec![
                    ("UserID".into(), follow.userid.clone()),
                    ("ExternalUserID".into(), external_userid.to_owned()),
                ],
            )?;
            if self
                .try_commit_with_jobs(
                    vec![follow_write(&follow, Expect::Version(version))?, event],
                    vec![job],
                )
                .await?
            {
                let topic = crate::chat::Conversation::Direct {
                    corpid: corpid.to_owned(),
                    userid: follow.userid.to_ascii_lowercase(),
                    external_userid: external_userid.to_owned(),
                };
                self.publish(
                    &topic.id(),
                    &serde_json::json!({ "op": "closed", "conversation": topic.id() }),
                );
                return Ok(());
            }
        }
        Err(Self::busy("customer"))
    }
}
