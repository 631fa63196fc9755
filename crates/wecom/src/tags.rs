//! Corp tags for customers (企业客户标签): groups of tags the corp defines, and members
//! marking their customers with them.

use plaza_kernel::record::{Expect, IndexEntry, RecordWrite};

use crate::contacts::follow_write;
use crate::model::{Tag, TagGroup};
use crate::store::{index, kind, load, time_value, with_prefix, write};
use crate::{CONFLICT_RETRIES_MAX, HEX, WeCom, WeComError, random_text};

/// Tag groups a corp may have.
pub const TAG_GROUPS_MAX: usize = 100;
/// Tags a group may have.
pub const TAGS_PER_GROUP_MAX: usize = 100;

fn group_write(group: &TagGroup, expect: Expect) -> Result<RecordWrite, WeComError> {
    let index = if group.deleted {
        Vec::new()
    } else {
        vec![IndexEntry::new(
            index::CORP,
            format!(
                "{}/{}/{}",
                group.corpid,
                time_value(group.create_time.unix_ms()),
                group.group_id
            ),
        )]
    };
    write(
        kind::TAG_GROUP,
        &format!("{}/{}", group.corpid, group.group_id),
        expect,
        group,
        index,
    )
}

fn check_name(field: &str, name: &str) -> Result<(), WeComError> {
    if (1..=30).contains(&name.chars().count()) && !name.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(WeComError::invalid(field, "must have 1 to 30 characters"))
    }
}

impl WeCom {
    /// The corp's tag groups, oldest first.
    ///
    /// # Errors
    ///
    /// Store failures.
    pub async fn tag_groups(&self, corpid: &str) -> Result<Vec<TagGroup>, WeComError> {
        with_prefix(
            &*self.records,
            kind::TAG_GROUP,
            index::CORP,
            &format!("{corpid}/"),
            TAG_GROUPS_MAX,
        )
        .await
    }

    /// `add_corp_tag`: tags added to the group named by id or by name (made if new).
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] for bad names, an unknown group id, too many tags.
    pub async fn add_corp_tags(
        &self,
        corpid: &str,
        group_id: Option<&str>,
        group_name: Option<&str>,
        order: u32,
        tags: &[(String, u32)],
    ) -> Result<TagGroup, WeComError> {
        if tags.is_empty() || tags.len() > TAGS_PER_GROUP_MAX {
            return Err(WeComError::invalid(
                "tag",
                format!("give 1 to {TAGS_PER_GROUP_MAX} tags"),
            ));
        }
        for (name, _) in tags {
            check_name("tag.name", name)?;
        }
        for _ in 0..CONFLICT_RETRIES_MAX {
            let now = self.now();
            let (mut group, expect) = self
                .group_to_add_to(corpid, group_id, group_name, order)
                .await?;
            for (name, order) in tags {
                if group.tags.iter().any(|t| &t.name == name) {
                    return Err(WeComError::invalid(
                        "tag.name",
                        format!("the group has a tag {name} already"),
                    ));
                }
                group.tags.push(Tag {
                    id: format!("et{}", random_text(HEX, 20)),
                    name: name.clone(),
                    order: *order,
                    create_time: now,
                });
            }
            if group.tags.len() > TAGS_PER_GROUP_MAX {
                return Err(WeComError::invalid(
                    "tag",
                    format!("a group has at most {TAGS_PER_GROUP_MAX} tags"),
                ));
            }
            if self.try_commit(vec![group_write(&group, expect)?]).await? {
                return Ok(group);
            }
        }
        Err(Self::busy("tag group"))
    }

    /// The group tags are added to (with the version to expect), or a new one.
    async fn group_to_add_to(
        &self,
        corpid: &str,
        group_id: Option<&str>,
        group_name: Option<&str>,
        order: u32,
    ) -> Result<(TagGroup, Expect), WeComError> {
        let now = self.now();
        let groups = self.tag_groups(corpid).await?;
        let found = match (group_id, group_name) {
            (Some(id), _) => Some(
                groups
                    .iter()
                    .find(|g| g.group_id == id)
                    .ok_or_else(|| WeComError::invalid_as(40068, "group_id", "no such tag group"))?
                    .clone(),
            ),
            (None, Some(name)) => groups.iter().find(|g| g.group_name == name).cloned(),
            (None, None) => {
                return Err(WeComError::invalid(
                    "group_name",
                    "name a group by group_id or group_name",
                ));
            }
        };
        match found {
            Some(group) => {
                let key = format!("{corpid}/{}", group.group_id);
                let version = load::<TagGroup>(&*self.records, kind::TAG_GROUP, &key)
                    .await?
                    .map_or(0, |(_, v)| v);
                Ok((group, Expect::Version(version)))
            }
            None => {
                if groups.len() >= TAG_GROUPS_MAX {
                    return Err(WeComError::invalid(
                        "group_name",
                        format!("a corp has at most {TAG_GROUPS_MAX} tag groups"),
                    ));
                }
                let name = group_name.unwrap_or_default();
                check_name("group_name", name)?;
                let group = TagGroup {
                    corpid: corpid.to_owned(),
                    group_id: format!("etg{}", random_text(HEX, 20)),
                    group_name: name.to_owned(),
                    order,
                    create_time: now,
                    tags: Vec::new(),
                    deleted: false,
                };
                Ok((group, Expect::Absent))
            }
        }
    }

    /// `del_corp_tag`: tags and whole groups removed (customers keep no removed tag).
    ///
    /// # Errors
    ///
    /// [`WeComError::Invalid`] when nothing named exists.
    pub async fn delete_corp_tags(
        &self,
        corpid: &str,
        tag_ids: &[String],
        group_ids: &[String],
    ) -> Result<(), WeComError> {
        let mut changed = false;
        for group in self.tag_groups(corpid).await? {
            let key = format!("{corpid}/{}", group.group_id);
            let Some((mut stored, version)) =
                load::<TagGroup>(&*self.records, kind::TAG_GROUP, &key).await?
            else {
                continue;
            };
            let before = stored.tags.len();
            if group_ids.contains(&stored.group_id) {
                stored.deleted = true;
            } else {
                stored.tags.retain(|t| !tag_ids.contains(&t.id));
                if stored.tags.is_empty() {
                    stored.deleted = true;
                }
            }
            if stored.deleted || stored.tags.len() != before {
                changed = true;
                if !self
                    .try_commit(vec![group_write(&stored, Expect::Version(version))?])
                    .await?
                {
                    return Err(Self::busy("tag group"));
                }
            }
        }
        if changed {
            Ok(())
        } else {
            Err(WeComError::invalid_as(
                40068,
                "tag_id",
                "no such tag or group",
            ))
        }
    }

    /// `mark_tag`: a member adds and removes corp tags on a customer they follow.
    ///
    /// # Errors
    ///
    /// 84061 without the relation; 40068 for an unknown tag.
    pub async fn mark_tags(
        &self,
        corpid: &str,
        userid: &str,
        external_userid: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), WeComError> {
        let known: Vec<String> = self
            .tag_groups(corpid)
            .await?
            .into_iter()
            .flat_map(|g| g.tags.into_iter().map(|t| t.id))
            .collect();
        if let Some(unknown) = add.iter().chain(remove).find(|id| !known.contains(id)) {
            return Err(WeComError::invalid_as(
                40068,
                "add_tag",
                format!("no tag {unknown}"),
            ));
        }
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut follow, version) = self.follow_of(corpid, userid, external_userid).await?;
            follow
                .tags
                .retain(|t| !remove.contains(t) && known.contains(t));
            for id in add {
                if !follow.tags.contains(id) {
                    follow.tags.push(id.clone());
                }
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
}
