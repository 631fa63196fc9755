//! The contacts directory (通讯录): departments (root 1) and members, with WeCom's rules —
//! names, case-insensitive unique userids, unique mobiles and emails, no department
//! under itself, no removal of a department that still holds someone — and the
//! invitation that links a member to a Plaza user.

use plaza_kernel::record::{Expect, RecordWrite};
use serde::{Deserialize, Serialize};

use crate::model::{Department, Member, Scope};
use crate::store::{
    corp_write, department_key, department_value, department_write, index, kind, load, member_key,
    member_write, with_prefix, write,
};
use crate::{ALNUM, CONFLICT_RETRIES_MAX, WeCom, WeComError, random_text};

pub use crate::model::ROOT_DEPARTMENT;

/// Departments a corp may have.
pub const DEPARTMENTS_MAX: usize = 10_000;
/// Departments a member may be in.
pub const MEMBER_DEPARTMENTS_MAX: usize = 100;
/// Members listed at most by one call.
pub const MEMBERS_LISTED_MAX: usize = 10_000;
/// Characters a department's name may not contain.
const DEPARTMENT_NAME_FORBIDDEN: &[char] = &['\\', ':', '*', '?', '"', '<', '>', '|'];

/// A department to create.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewDepartment {
    /// 1–32 characters, none of `\:*?"<>|`.
    pub name: String,
    /// Its English name.
    pub name_en: String,
    /// Its parent.
    pub parentid: i64,
    /// Its order among siblings.
    pub order: u32,
    /// The id to give it (above 1), or the next free one.
    pub id: Option<i64>,
}

/// A department's changes; `None` keeps what is there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DepartmentChange {
    /// A new name.
    pub name: Option<String>,
    /// A new English name.
    pub name_en: Option<String>,
    /// A new parent.
    pub parentid: Option<i64>,
    /// A new order.
    pub order: Option<u32>,
}

/// A member's fields as given to create or update; `None` keeps (or leaves empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberFields {
    /// 1–64 characters.
    pub name: Option<String>,
    /// Department ids (1–100).
    pub department: Option<Vec<i64>>,
    /// Order in each department.
    pub order: Option<Vec<u32>>,
    /// Leader in each department (0/1).
    pub is_leader_in_dept: Option<Vec<u8>>,
    /// The main department (one of `department`).
    pub main_department: Option<i64>,
    /// Position, up to 128 characters.
    pub position: Option<String>,
    /// Mobile number.
    pub mobile: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Alias.
    pub alias: Option<String>,
    /// 0 unset, 1 male, 2 female.
    pub gender: Option<u8>,
    /// Landline.
    pub telephone: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Enabled (true unless given false).
    pub enable: Option<bool>,
}

/// Who holds a mobile number or email address in a corp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Claim {
    /// The holder's lower-case userid; `None` once released.
    holder: Option<String>,
}

/// An unaccepted invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// The corp.
    pub corpid: String,
    /// The member it links (lower-case userid).
    pub member_key: String,
}

fn check_userid(userid: &str) -> Result<(), WeComError> {
    let ok = (1..=64).contains(&userid.len())
        && userid
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && userid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(WeComError::invalid_as(
            40003,
            "userid",
            "must be 1 to 64 of letters, digits, _ - @ . starting with a letter or digit",
        ))
    }
}

fn check_mobile(mobile: &str) -> Result<(), WeComError> {
    let digits = mobile.bytes().filter(u8::is_ascii_digit).count();
    let ok = (5..=32).contains(&mobile.len())
        && digits >= 5
        && mobile
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b' '));
    if ok {
        Ok(())
    } else {
        Err(WeComError::invalid_as(
            60103,
            "mobile",
            "must be a phone number of digits, + and -",
        ))
    }
}

fn check_email(email: &str) -> Result<(), WeComError> {
    let ok = email.len() <= 64
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(WeComError::invalid_as(
            60105,
            "email",
            "must be an email address",
        ))
    }
}

fn department_id(field: &str, id: i64, errcode: i64) -> Result<u32, WeComError> {
    u32::try_from(id).ok().filter(|id| *id >= 1).ok_or_else(|| {
        WeComError::invalid_as(errcode, field, "must be a department id (1 or more)")
    })
}

impl WeCom {
    /// Refuses writes to the directory by an app's token: only the contacts secret
    /// edits it.
    pub fn check_directory_write(scope: Scope) -> Result<(), WeComError> {
        match scope {
            Scope::Contacts => Ok(()),
            Scope::Agent(_) => Err(WeComError::Forbidden {
                what: "only the contacts secret's token edits the directory".to_owned(),
            }),
        }
    }

    /// A live department.
    ///
    /// # Errors
    ///
    /// [`WeComError::DepartmentNotFound`]; store failures.
    pub async fn department(&self, corpid: &str, id: u32) -> Result<Department, WeComError> {
        Ok(self.department_versioned(corpid, i64::from(id)).await?.0)
    }

    async fn department_versioned(
        &self,
        corpid: &str,
        id: i64,
    ) -> Result<(Department, u64), WeComError> {
        let missing = || WeComError::DepartmentNotFound { id };
        let id = u32::try_from(id).map_err(|_| missing())?;
        match load::<Department>(
            &*self.records,
            kind::DEPARTMENT,
            &department_key(corpid, id),
        )
        .await?
        {
            Some((department, version)) if !department.deleted => Ok((department, version)),
            _ => Err(missing()),
        }
    }

    /// A corp's live departments, by id.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn all_departments(&self, corpid: &str) -> Result<Vec<Department>, WeComError> {
        with_prefix(
            &*self.records,
            kind::DEPARTMENT,
            index::CORP,
            &format!("{corpid}/"),
            DEPARTMENTS_MAX,
        )
        .await
    }

    /// `department/list`: the department `id` and everything below it (the whole corp
    /// without an id), parents before children.
    ///
    /// # Errors
    ///
    /// [`WeComError::DepartmentNotFound`]; store failures.
    pub async fn departments(
        &self,
        corpid: &str,
        id: Option<i64>,
    ) -> Result<Vec<Department>, WeComError> {
        let all = self.all_departments(corpid).await?;
        let top = match id {
            Some(id) => self.department_versioned(corpid, id).await?.0.id,
            None => ROOT_DEPARTMENT,
        };
        Ok(subtree(&all, top))
    }

    /// `department/create`: the new department's id.
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] (60001 name length, 60009 characters),
    /// [`WeComError::ParentNotFound`], [`WeComError::DepartmentNameExists`],
    /// [`WeComError::DepartmentIdExists`].
    pub async fn create_department(
        &self,
        corpid: &str,
        new: NewDepartment,
    ) -> Result<u32, WeComError> {
        check_department_name(&new.name)?;
        let parentid = department_id("parentid", new.parentid, 60124)?;
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut corp, corp_version) = self.corp_versioned(corpid).await?;
            let parent_missing = || WeComError::ParentNotFound { id: new.parentid };
            self.department_versioned(corpid, i64::from(parentid))
                .await
                .map_err(|_| parent_missing())?;
            self.check_sibling_name(corpid, parentid, &new.name, None)
                .await?;
            let id = match new.id {
                Some(id) => {
                    let id = u32::try_from(id)
                        .ok()
                        .filter(|id| *id > ROOT_DEPARTMENT)
                        .ok_or_else(|| WeComError::invalid_as(60123, "id", "must be above 1"))?;
                    if load::<Department>(
                        &*self.records,
                        kind::DEPARTMENT,
                        &department_key(corpid, id),
                    )
                    .await?
                    .is_some()
                    {
                        return Err(WeComError::DepartmentIdExists { id });
                    }
                    id
                }
                None => {
                    let mut id = corp.next_department_id;
                    while load::<Department>(
                        &*self.records,
                        kind::DEPARTMENT,
                        &department_key(corpid, id),
                    )
                    .await?
                    .is_some()
                    {
                        id += 1;
                    }
                    corp.next_department_id = id + 1;
                    id
                }
            };
            let department = Department {
                corpid: corpid.to_owned(),
                id,
                name: new.name.clone(),
                name_en: new.name_en.clone(),
                parentid,
                order: new.order,
                deleted: false,
            };
            let writes = vec![
                corp_write(&corp, Expect::Version(corp_version))?,
                department_write(&department, Expect::Absent)?,
            ];
            if self.try_commit(writes).await? {
                return Ok(id);
            }
        }
        Err(Self::busy("department"))
    }

    async fn check_sibling_name(
        &self,
        corpid: &str,
        parentid: u32,
        name: &str,
        except: Option<u32>,
    ) -> Result<(), WeComError> {
        let siblings: Vec<Department> = with_prefix(
            &*self.records,
            kind::DEPARTMENT,
            index::PARENT,
            &format!("{corpid}/{}", department_value(parentid)),
            DEPARTMENTS_MAX,
        )
        .await?;
        if siblings
            .iter()
            .any(|d| d.name == name && Some(d.id) != except)
        {
            return Err(WeComError::DepartmentNameExists {
                name: name.to_owned(),
            });
        }
        Ok(())
    }

    /// `department/update`.
    ///
    /// # Errors
    ///
    /// As [`WeCom::create_department`], and [`WeComError::DepartmentCycle`].
    pub async fn update_department(
        &self,
        corpid: &str,
        id: i64,
        change: DepartmentChange,
    ) -> Result<(), WeComError> {
        if let Some(name) = &change.name {
            check_department_name(name)?;
        }
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut department, version) = self.department_versioned(corpid, id).await?;
            if let Some(parentid) = change
                .parentid
                .filter(|p| *p != i64::from(department.parentid))
            {
                if department.id == ROOT_DEPARTMENT {
                    return Err(WeComError::invalid_as(
                        60124,
                        "parentid",
                        "the root department has no parent",
                    ));
                }
                let parentid = department_id("parentid", parentid, 60124)?;
                let parent_missing = || WeComError::ParentNotFound {
                    id: i64::from(parentid),
                };
                self.department_versioned(corpid, i64::from(parentid))
                    .await
                    .map_err(|_| parent_missing())?;
                let all = self.all_departments(corpid).await?;
                if subtree(&all, department.id)
                    .iter()
                    .any(|d| d.id == parentid)
                {
                    return Err(WeComError::DepartmentCycle { id: department.id });
                }
                department.parentid = parentid;
            }
            if let Some(name) = &change.name {
                department.name.clone_from(name);
            }
            if change.name.is_some() || change.parentid.is_some() {
                self.check_sibling_name(
                    corpid,
                    department.parentid,
                    &department.name,
                    Some(department.id),
                )
                .await?;
            }
            if let Some(name_en) = &change.name_en {
                department.name_en.clone_from(name_en);
            }
            if let Some(order) = change.order {
                department.order = order;
            }
            if self
                .try_commit(vec![department_write(
                    &department,
                    Expect::Version(version),
                )?])
                .await?
            {
                return Ok(());
            }
        }
        Err(Self::busy("department"))
    }

    /// `department/delete`: only an empty leaf, never the root.
    ///
    /// # Errors
    ///
    /// [`WeComError::DepartmentNotFound`], [`WeComError::RootDepartment`],
    /// [`WeComError::DepartmentHasChildren`], [`WeComError::DepartmentHasMembers`].
    pub async fn delete_department(&self, corpid: &str, id: i64) -> Result<(), WeComError> {
        let (mut department, version) = self.department_versioned(corpid, id).await?;
        if department.id == ROOT_DEPARTMENT {
            return Err(WeComError::RootDepartment);
        }
        let children: Vec<Department> = with_prefix(
            &*self.records,
            kind::DEPARTMENT,
            index::PARENT,
            &format!("{corpid}/{}", department_value(department.id)),
            1,
        )
        .await?;
        if !children.is_empty() {
            return Err(WeComError::DepartmentHasChildren { id: department.id });
        }
        if !self.members_in(corpid, department.id, 1).await?.is_empty() {
            return Err(WeComError::DepartmentHasMembers { id: department.id });
        }
        department.deleted = true;
        if self
            .try_commit(vec![department_write(
                &department,
                Expect::Version(version),
            )?])
            .await?
        {
            Ok(())
        } else {
            Err(Self::busy("department"))
        }
    }

    async fn members_in(
        &self,
        corpid: &str,
        department: u32,
        rows_max: usize,
    ) -> Result<Vec<Member>, WeComError> {
        with_prefix(
            &*self.records,
            kind::MEMBER,
            index::DEPARTMENT,
            &format!("{corpid}/{}/", department_value(department)),
            rows_max,
        )
        .await
    }

    /// `user/simplelist` and `user/list`: the members of a department (and of those below
    /// it with `fetch_child`), each once, in department then userid order.
    ///
    /// # Errors
    ///
    /// [`WeComError::DepartmentNotFound`]; store failures.
    pub async fn members(
        &self,
        corpid: &str,
        department: i64,
        fetch_child: bool,
    ) -> Result<Vec<Member>, WeComError> {
        let top = self.department_versioned(corpid, department).await?.0;
        let departments = if fetch_child {
            subtree(&self.all_departments(corpid).await?, top.id)
        } else {
            vec![top]
        };
        let mut seen = std::collections::HashSet::new();
        let mut members = Vec::new();
        for department in departments {
            for member in self
                .members_in(corpid, department.id, MEMBERS_LISTED_MAX)
                .await?
            {
                if seen.insert(member.userid.to_ascii_lowercase()) {
                    members.push(member);
                }
            }
        }
        Ok(members)
    }

    /// Every member of a corp still in it, by lower-case userid.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn all_members(&self, corpid: &str) -> Result<Vec<Member>, WeComError> {
        with_prefix(
            &*self.records,
            kind::MEMBER,
            index::CORP,
            &format!("{corpid}/"),
            MEMBERS_LISTED_MAX,
        )
        .await
    }

    /// A member still in the corp, by userid (case-insensitive).
    ///
    /// # Errors
    ///
    /// [`WeComError::UserNotFound`]; store failures.
    pub async fn member(&self, corpid: &str, userid: &str) -> Result<Member, WeComError> {
        Ok(self.member_versioned(corpid, userid).await?.0)
    }

    pub(crate) async fn member_versioned(
        &self,
        corpid: &str,
        userid: &str,
    ) -> Result<(Member, u64), WeComError> {
        let missing = || WeComError::UserNotFound {
            userid: userid.to_owned(),
        };
        if userid.is_empty() {
            return Err(missing());
        }
        match load::<Member>(&*self.records, kind::MEMBER, &member_key(corpid, userid)).await? {
            Some((member, version)) if member.left_at.is_none() => Ok((member, version)),
            _ => Err(missing()),
        }
    }

    /// `user/create`: a member, not yet linked to a Plaza user (status 4) until the
    /// invitation ([`Member::invitation`]) is accepted.
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] (40003 userid, 60112 name, 60103 mobile, 60105 email,
    /// 60123 department), [`WeComError::DepartmentNotFound`], [`WeComError::UserExists`],
    /// [`WeComError::MobileExists`], [`WeComError::EmailExists`].
    pub async fn create_member(
        &self,
        corpid: &str,
        userid: &str,
        fields: MemberFields,
    ) -> Result<Member, WeComError> {
        check_userid(userid)?;
        self.corp_versioned(corpid).await?;
        let name = fields
            .name
            .clone()
            .ok_or_else(|| WeComError::invalid_as(60112, "name", "is required"))?;
        let departments = fields
            .department
            .clone()
            .ok_or_else(|| WeComError::invalid_as(60127, "department", "is required"))?;
        if fields.mobile.as_deref().unwrap_or("").is_empty()
            && fields.email.as_deref().unwrap_or("").is_empty()
        {
            return Err(WeComError::invalid_as(
                60129,
                "mobile",
                "a member needs a mobile number or an email address",
            ));
        }
        let mut member = Member::new(corpid, userid, name, self.now());
        member.invitation = Some(random_text(ALNUM, 24));
        let fields = MemberFields {
            department: Some(departments),
            ..fields
        };
        self.apply_fields(&mut member, &fields).await?;
        let key = member_key(corpid, userid);
        let expect = match load::<Member>(&*self.records, kind::MEMBER, &key).await? {
            Some((existing, _)) if existing.left_at.is_none() => {
                return Err(WeComError::UserExists {
                    userid: userid.to_owned(),
                });
            }
            // A member who left frees the userid; the new one takes the record over.
            Some((_, version)) => Expect::Version(version),
            None => Expect::Absent,
        };
        let mut writes = vec![member_write(&member, expect)?];
        writes.extend(self.claims(corpid, None, Some(&member)).await?);
        if let Some(code) = &member.invitation {
            let invitation = Invitation {
                corpid: corpid.to_owned(),
                member_key: userid.to_ascii_lowercase(),
            };
            writes.push(write(
                kind::INVITATION,
                code,
                Expect::Absent,
                &invitation,
                vec![],
            )?);
        }
        if self.try_commit(writes).await? {
            Ok(member)
        } else if load::<Member>(&*self.records, kind::MEMBER, &key)
            .await?
            .is_some_and(|(m, _)| m.left_at.is_none())
        {
            Err(WeComError::UserExists {
                userid: userid.to_owned(),
            })
        } else {
            Err(self.claim_conflict(corpid, &member).await)
        }
    }

    /// Which claim a failed write lost: the mobile or the email.
    async fn claim_conflict(&self, corpid: &str, member: &Member) -> WeComError {
        let lower = member.userid.to_ascii_lowercase();
        let held_by_other = |claim: Option<(Claim, u64)>| {
            claim.is_some_and(|(c, _)| c.holder.as_ref().is_some_and(|h| *h != lower))
        };
        if !member.mobile.is_empty()
            && held_by_other(
                load(
                    &*self.records,
                    kind::CONTACT_CLAIM,
                    &format!("{corpid}/mobile:{}", member.mobile),
                )
                .await
                .ok()
                .flatten(),
            )
        {
            return WeComError::MobileExists {
                mobile: member.mobile.clone(),
            };
        }
        if !member.email.is_empty()
            && held_by_other(
                load(
                    &*self.records,
                    kind::CONTACT_CLAIM,
                    &format!("{corpid}/email:{}", member.email.to_ascii_lowercase()),
                )
                .await
                .ok()
                .flatten(),
            )
        {
            return WeComError::EmailExists {
                email: member.email.clone(),
            };
        }
        Self::busy("member")
    }

    /// The claim writes that move a member's mobile and email from `before` to `after`,
    /// refusing ones another member holds.
    async fn claims(
        &self,
        corpid: &str,
        before: Option<&Member>,
        after: Option<&Member>,
    ) -> Result<Vec<RecordWrite>, WeComError> {
        let mut writes = Vec::new();
        let pairs = [
            (
                "mobile",
                before.map(|m| m.mobile.clone()),
                after.map(|m| m.mobile.clone()),
            ),
            (
                "email",
                before.map(|m| m.email.to_ascii_lowercase()),
                after.map(|m| m.email.to_ascii_lowercase()),
            ),
        ];
        let holder = after
            .or(before)
            .map(|m| m.userid.to_ascii_lowercase())
            .unwrap_or_default();
        for (what, old, new) in pairs {
            let old = old.filter(|v| !v.is_empty());
            let new = new.filter(|v| !v.is_empty());
            if old == new {
                continue;
            }
            if let Some(old) = old {
                let key = format!("{corpid}/{what}:{old}");
                if let Some((_, version)) =
                    load::<Claim>(&*self.records, kind::CONTACT_CLAIM, &key).await?
                {
                    writes.push(write(
                        kind::CONTACT_CLAIM,
                        &key,
                        Expect::Version(version),
                        &Claim { holder: None },
                        vec![],
                    )?);
                }
            }
            if let Some(new) = new {
                let key = format!("{corpid}/{what}:{new}");
                let expect = match load::<Claim>(&*self.records, kind::CONTACT_CLAIM, &key).await? {
                    Some((claim, version)) => match claim.holder {
                        Some(other) if other != holder => {
                            return Err(if what == "mobile" {
                                WeComError::MobileExists { mobile: new }
                            } else {
                                WeComError::EmailExists { email: new }
                            });
                        }
                        _ => Expect::Version(version),
                    },
                    None => Expect::Absent,
                };
                writes.push(write(
                    kind::CONTACT_CLAIM,
                    &key,
                    expect,
                    &Claim {
                        holder: Some(holder.clone()),
                    },
                    vec![],
                )?);
            }
        }
        Ok(writes)
    }

    /// Checks and applies the departments, orders, leaders and main department.
    async fn apply_departments(
        &self,
        member: &mut Member,
        fields: &MemberFields,
    ) -> Result<(), WeComError> {
        if let Some(departments) = &fields.department {
            if departments.is_empty() {
                return Err(WeComError::invalid_as(
                    60127,
                    "department",
                    "a member is in at least one department",
                ));
            }
            if departments.len() > MEMBER_DEPARTMENTS_MAX {
                return Err(WeComError::invalid_as(
                    60110,
                    "department",
                    format!("at most {MEMBER_DEPARTMENTS_MAX}"),
                ));
            }
            let mut ids = Vec::with_capacity(departments.len());
            for id in departments {
                let id = department_id("department", *id, 60123)?;
                self.department(&member.corpid, id).await?;
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            member.department = ids;
        }
        if let Some(order) = &fields.order {
            member.order.clone_from(order);
        }
        if let Some(leader) = &fields.is_leader_in_dept {
            member.is_leader_in_dept.clone_from(leader);
        }
        member.order.resize(member.department.len(), 0);
        member.is_leader_in_dept.resize(member.department.len(), 0);
        if let Some(main) = fields.main_department {
            let main = department_id("main_department", main, 60123)?;
            if !member.department.contains(&main) {
                return Err(WeComError::invalid_as(
                    60123,
                    "main_department",
                    "must be one of the member's departments",
                ));
            }
            member.main_department = main;
        }
        if !member.department.contains(&member.main_department) {
            member.main_department = member
                .department
                .first()
                .copied()
                .unwrap_or(ROOT_DEPARTMENT);
        }
        Ok(())
    }

    /// Checks and applies the given fields to `member`.
    async fn apply_fields(
        &self,
        member: &mut Member,
        fields: &MemberFields,
    ) -> Result<(), WeComError> {
        if let Some(name) = &fields.name {
            if !(1..=64).contains(&name.chars().count()) || name.chars().any(char::is_control) {
                return Err(WeComError::invalid_as(
                    60112,
                    "name",
                    "must have 1 to 64 characters",
                ));
            }
            member.name.clone_from(name);
        }
        self.apply_departments(member, fields).await?;
        if let Some(position) = &fields.position {
            if position.chars().count() > 128 {
                return Err(WeComError::invalid_as(
                    60119,
                    "position",
                    "at most 128 characters",
                ));
            }
            member.position.clone_from(position);
        }
        if let Some(mobile) = &fields.mobile {
            if !mobile.is_empty() {
                check_mobile(mobile)?;
            }
            member.mobile.clone_from(mobile);
        }
        if let Some(email) = &fields.email {
            if !email.is_empty() {
                check_email(email)?;
            }
            member.email.clone_from(email);
        }
        if let Some(gender) = fields.gender {
            if gender > 2 {
                return Err(WeComError::invalid_as(
                    60115,
                    "gender",
                    "must be 1 (male), 2 (female) or 0",
                ));
            }
            member.gender = gender;
        }
        for (field, value, target) in [
            ("alias", &fields.alias, &mut member.alias),
            ("telephone", &fields.telephone, &mut member.telephone),
            ("address", &fields.address, &mut member.address),
        ] {
            if let Some(value) = value {
                if value.chars().count() > 128 || value.chars().any(char::is_control) {
                    return Err(WeComError::invalid(
                        field,
                        "at most 128 characters, no control characters",
                    ));
                }
                target.clone_from(value);
            }
        }
        if let Some(enable) = fields.enable {
            member.enabled = enable;
        }
        Ok(())
    }

    /// `user/update`.
    ///
    /// # Errors
    ///
    /// [`WeComError::UserNotFound`] and those of [`WeCom::create_member`].
    pub async fn update_member(
        &self,
        corpid: &str,
        userid: &str,
        fields: MemberFields,
    ) -> Result<Member, WeComError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (before, version) = self.member_versioned(corpid, userid).await?;
            let mut member = before.clone();
            self.apply_fields(&mut member, &fields).await?;
            let mut writes = vec![member_write(&member, Expect::Version(version))?];
            writes.extend(self.claims(corpid, Some(&before), Some(&member)).await?);
            if self.try_commit(writes).await? {
                return Ok(member);
            }
        }
        Err(Self::busy("member"))
    }

    /// `user/delete`: the member leaves the corp (status 5), releasing their userid,
    /// mobile and email.
    ///
    /// # Errors
    ///
    /// [`WeComError::UserNotFound`]; store failures.
    pub async fn delete_member(&self, corpid: &str, userid: &str) -> Result<(), WeComError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (before, version) = self.member_versioned(corpid, userid).await?;
            let mut member = before.clone();
            member.left_at = Some(self.now());
            let mut writes = vec![member_write(&member, Expect::Version(version))?];
            writes.extend(self.claims(corpid, Some(&before), None).await?);
            if self.try_commit(writes).await? {
                return Ok(());
            }
        }
        Err(Self::busy("member"))
    }

    /// `user/batchdelete`: every listed member leaves, or none does if one is unknown.
    ///
    /// # Errors
    ///
    /// [`WeComError::UserNotFound`] for the first unknown userid.
    pub async fn delete_members(&self, corpid: &str, userids: &[String]) -> Result<(), WeComError> {
        if userids.is_empty() || userids.len() > 200 {
            return Err(WeComError::invalid(
                "useridlist",
                "must list 1 to 200 userids",
            ));
        }
        for userid in userids {
            self.member_versioned(corpid, userid).await?;
        }
        for userid in userids {
            self.delete_member(corpid, userid).await?;
        }
        Ok(())
    }

    /// A Plaza user accepts a member's invitation: the member is theirs (status 1).
    ///
    /// # Errors
    ///
    /// [`WeComError::InvitationInvalid`], [`WeComError::AlreadyMember`],
    /// [`WeComError::PlazaUserNotFound`].
    pub async fn accept_invitation(&self, code: &str, user_id: &str) -> Result<Member, WeComError> {
        if self.identity.user(user_id).await?.is_none() {
            return Err(WeComError::PlazaUserNotFound {
                user_id: user_id.to_owned(),
            });
        }
        let Some((invitation, _)) =
            load::<Invitation>(&*self.records, kind::INVITATION, code).await?
        else {
            return Err(WeComError::InvitationInvalid);
        };
        if let Some(existing) = self.member_of(user_id, &invitation.corpid).await? {
            return Err(WeComError::AlreadyMember {
                userid: existing.userid,
            });
        }
        let (mut member, version) = self
            .member_versioned(&invitation.corpid, &invitation.member_key)
            .await
            .map_err(|_| WeComError::InvitationInvalid)?;
        if member.invitation.as_deref() != Some(code) {
            return Err(WeComError::InvitationInvalid);
        }
        member.invitation = None;
        member.user_id = Some(user_id.to_owned());
        if self
            .try_commit(vec![member_write(&member, Expect::Version(version))?])
            .await?
        {
            Ok(member)
        } else {
            Err(WeComError::InvitationInvalid)
        }
    }

    /// The member a Plaza user is in a corp.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn member_of(
        &self,
        user_id: &str,
        corpid: &str,
    ) -> Result<Option<Member>, WeComError> {
        Ok(with_prefix::<Member>(
            &*self.records,
            kind::MEMBER,
            index::USER,
            &format!("{user_id}/{corpid}"),
            1,
        )
        .await?
        .into_iter()
        .next())
    }

    /// Every corp a Plaza user works in, as their member records.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn memberships(&self, user_id: &str) -> Result<Vec<Member>, WeComError> {
        with_prefix(
            &*self.records,
            kind::MEMBER,
            index::USER,
            &format!("{user_id}/"),
            100,
        )
        .await
    }
}

fn check_department_name(name: &str) -> Result<(), WeComError> {
    if !(1..=32).contains(&name.chars().count()) {
        return Err(WeComError::invalid_as(
            60001,
            "name",
            "must have 1 to 32 characters",
        ));
    }
    if name.contains(DEPARTMENT_NAME_FORBIDDEN) || name.chars().any(char::is_control) {
        return Err(WeComError::invalid_as(
            60009,
            "name",
            "may not contain \\ : * ? \" < > |",
        ));
    }
    Ok(())
}

/// The department `top` and everything below it, parents before children.
pub fn subtree(all: &[Department], top: u32) -> Vec<Department> {
    let mut out: Vec<Department> = all.iter().filter(|d| d.id == top).cloned().collect();
    let mut at = 0;
    while at < out.len() {
        let parent = out[at].id;
        let mut children: Vec<Department> = all
            .iter()
            .filter(|d| d.parentid == parent && d.id != parent)
            .cloned()
            .collect();
        children.sort_by_key(|d| d.id);
        out.extend(children);
        at += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn department(id: u32, parentid: u32) -> Department {
        Department {
            corpid: "ww".into(),
            id,
            name: id.to_string(),
            name_en: String::new(),
            parentid,
            order: 0,
            deleted: false,
        }
    }

    #[test]
    fn a_subtree_lists_parents_before_children_and_ignores_other_branches() {
        let all = [
            department(1, 0),
            department(2, 1),
            department(3, 2),
            department(4, 1),
            department(5, 4),
        ];
        let ids: Vec<u32> = subtree(&all, 2).iter().map(|d| d.id).collect();
        assert_eq!(ids, vec![2, 3]);
        let ids: Vec<u32> = subtree(&all, 1).iter().map(|d| d.id).collect();
        assert_eq!(ids, vec![1, 2, 4, 3, 5]);
    }

    #[test]
    fn userids_mobiles_and_emails_are_checked() {
        assert!(check_userid("zhang.san@x").is_ok());
        assert_eq!(check_userid("_x").err().map(|e| e.errcode()), Some(40003));
        assert_eq!(check_userid("a b").err().map(|e| e.errcode()), Some(40003));
        assert!(check_mobile("+86-13800000000").is_ok());
        assert_eq!(
            check_mobile("phone").err().map(|e| e.errcode()),
            Some(60103)
        );
        assert!(check_email("a@b.cn").is_ok());
        assert_eq!(check_email("a@b").err().map(|e| e.errcode()), Some(60105));
        assert_eq!(
            check_department_name("a|b").err().map(|e| e.errcode()),
            Some(60009)
        );
    }
}
