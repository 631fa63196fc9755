//! Channels: any user opens one (name, bio, one of the seven areas, an avatar), renames
//! it, and anyone reads it. Names are unique case-insensitively, held by claim records
//! written in the channel's unit of work.

use plaza_kernel::queue::NewEvent;
use plaza_kernel::record::{Expect, IndexEntry};
use plaza_ledger::WriteSet;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::model::{Area, Channel, ChannelStats, UploadPurpose};
use crate::store::{self, index, kind, load, prefix_bounds, range, time_value, write};
use crate::{Channels, ChannelsError};

/// The shortest and longest channel name, in characters.
pub const NAME_CHARS: (usize, usize) = (2, 30);
/// The longest bio, in characters.
pub const BIO_CHARS_MAX: usize = 200;
/// The outbox topic of channel changes (Search indexes it).
pub const TOPIC_CHANNEL: &str = "channels.channel";

/// What a new channel is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChannel {
    /// Its name.
    pub name: String,
    /// What it is about.
    pub bio: String,
    /// Its area.
    pub area: Area,
    /// An image upload of the owner's to use as the avatar.
    pub avatar_upload: Option<String>,
}

/// A change to a channel: each field given replaces the old one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelPatch {
    /// A new name.
    pub name: Option<String>,
    /// A new bio.
    pub bio: Option<String>,
    /// A new area.
    pub area: Option<Area>,
    /// A new avatar, from an image upload.
    pub avatar_upload: Option<String>,
}

/// Who holds a name (none once released by a rename).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct NameClaim {
    channel_id: Option<String>,
}

/// The channel a user opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Owner {
    channel_id: String,
}

/// A name as claims compare it.
fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

fn check_name(name: &str) -> Result<String, ChannelsError> {
    let name = name.trim();
    let length = name.chars().count();
    if length < NAME_CHARS.0 || length > NAME_CHARS.1 {
        return Err(ChannelsError::invalid(
            "name",
            format!("{} to {} characters", NAME_CHARS.0, NAME_CHARS.1),
        ));
    }
    if name
        .chars()
        .any(|c| c.is_control() || matches!(c, '@' | '#' | '/'))
    {
        return Err(ChannelsError::invalid(
            "name",
            "may not contain @, #, / or control characters",
        ));
    }
    Ok(name.to_owned())
}

fn check_bio(bio: &str) -> Result<String, ChannelsError> {
    let bio = bio.trim();
    if bio.chars().count() > BIO_CHARS_MAX {
        return Err(ChannelsError::invalid(
            "bio",
            format!("at most {BIO_CHARS_MAX} characters"),
        ));
    }
    Ok(bio.to_owned())
}

/// The channel record's write.
pub(crate) fn channel_write(
    channel: &Channel,
    expect: Expect,
) -> Result<plaza_kernel::record::RecordWrite, ChannelsError> {
    write(
        kind::CHANNEL,
        &channel.channel_id,
        expect,
        channel,
        vec![
            IndexEntry::new(index::USER, &channel.user_id),
            IndexEntry::new(index::CREATED, time_value(channel.created_at.unix_ms())),
        ],
    )
}

/// The outbox event of a channel as it now is: its public profile.
#[must_use]
pub fn channel_event(channel: &Channel) -> NewEvent {
    NewEvent {
        topic: TOPIC_CHANNEL.to_owned(),
        key: channel.channel_id.clone(),
        payload: json!({
            "channel_id": channel.channel_id,
            "name": channel.name,
            "bio": channel.bio,
            "area": channel.area.as_str(),
            "avatar": channel.avatar,
        })
        .to_string(),
    }
}

impl Channels {
    /// Opens `user_id`'s channel.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::HasChannel`], [`ChannelsError::NameTaken`], an invalid field or
    /// avatar upload.
    pub async fn open_channel(
        &self,
        user_id: &str,
        new: NewChannel,
    ) -> Result<Channel, ChannelsError> {
        let name = check_name(&new.name)?;
        let bio = check_bio(&new.bio)?;
        if let Some(channel) = self.channel_of(user_id).await? {
            return Err(ChannelsError::HasChannel {
                channel_id: channel.channel_id,
            });
        }
        let channel_id = crate::random_id("ch", 14);
        let mut records = Vec::new();
        let avatar = match &new.avatar_upload {
            Some(upload_id) => {
                let (sha, writes) = self
                    .use_image_upload(user_id, upload_id, &channel_id)
                    .await?;
                records.extend(writes);
                Some(sha)
            }
            None => None,
        };
        let channel = Channel {
            channel_id: channel_id.clone(),
            user_id: user_id.to_owned(),
            name: name.clone(),
            bio,
            area: new.area,
            avatar,
            created_at: self.now(),
        };
        records.extend(self.new_channel_records(&channel).await?);
        let unit = WriteSet {
            records,
            events: vec![channel_event(&channel)],
            ..WriteSet::default()
        };
        if self.try_commit(unit).await? {
            self.feed.channel_changed(&channel);
            return Ok(channel);
        }
        // Lost a race: say which.
        if let Some(channel) = self.channel_of(user_id).await? {
            return Err(ChannelsError::HasChannel {
                channel_id: channel.channel_id,
            });
        }
        Err(ChannelsError::NameTaken { name })
    }

    /// The records a new channel writes: its owner and name claims, itself and its
    /// counters.
    async fn new_channel_records(
        &self,
        channel: &Channel,
    ) -> Result<Vec<plaza_kernel::record::RecordWrite>, ChannelsError> {
        let (claim, claim_version) = self.name_claim(&channel.name).await?;
        if claim.is_some_and(|holder| holder.is_some()) {
            return Err(ChannelsError::NameTaken {
                name: channel.name.clone(),
            });
        }
        Ok(vec![
            write(
                kind::OWNER,
                &channel.user_id,
                Expect::Absent,
                &Owner {
                    channel_id: channel.channel_id.clone(),
                },
                Vec::new(),
            )?,
            write(
                kind::NAME,
                &name_key(&channel.name),
                store::expect(claim_version),
                &NameClaim {
                    channel_id: Some(channel.channel_id.clone()),
                },
                Vec::new(),
            )?,
            channel_write(channel, Expect::Absent)?,
            write(
                kind::CHANNEL_STATS,
                &channel.channel_id,
                Expect::Absent,
                &ChannelStats::default(),
                Vec::new(),
            )?,
        ])
    }

    /// Changes `user_id`'s channel.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::NoChannel`], [`ChannelsError::NameTaken`], an invalid field.
    pub async fn update_channel(
        &self,
        user_id: &str,
        patch: ChannelPatch,
    ) -> Result<Channel, ChannelsError> {
        let name = patch.name.as_deref().map(check_name).transpose()?;
        let bio = patch.bio.as_deref().map(check_bio).transpose()?;
        let (mut channel, version) = self
            .channel_record_of(user_id)
            .await?
            .ok_or(ChannelsError::NoChannel)?;
        let mut records = Vec::new();
        if let Some(name) = name.filter(|name| *name != channel.name) {
            if name_key(&name) != name_key(&channel.name) {
                let (claim, claim_version) = self.name_claim(&name).await?;
                if claim.is_some_and(|holder| holder.is_some()) {
                    return Err(ChannelsError::NameTaken { name });
                }
                let (_, old_version) = self.name_claim(&channel.name).await?;
                records.push(write(
                    kind::NAME,
                    &name_key(&channel.name),
                    store::expect(old_version),
                    &NameClaim { channel_id: None },
                    Vec::new(),
                )?);
                records.push(write(
                    kind::NAME,
                    &name_key(&name),
                    store::expect(claim_version),
                    &NameClaim {
                        channel_id: Some(channel.channel_id.clone()),
                    },
                    Vec::new(),
                )?);
            }
            channel.name = name;
        }
        if let Some(bio) = bio {
            channel.bio = bio;
        }
        if let Some(area) = patch.area {
            channel.area = area;
        }
        if let Some(upload_id) = &patch.avatar_upload {
            let (sha, writes) = self
                .use_image_upload(user_id, upload_id, &channel.channel_id)
                .await?;
            records.extend(writes);
            channel.avatar = Some(sha);
        }
        records.push(channel_write(&channel, Expect::Version(version))?);
        let unit = WriteSet {
            records,
            events: vec![channel_event(&channel)],
            ..WriteSet::default()
        };
        if self.try_commit(unit).await? {
            self.feed.channel_changed(&channel);
            Ok(channel)
        } else {
            Err(Self::busy("channel"))
        }
    }

    /// Turns an image upload into a stored avatar: its bytes checked, kept under their
    /// content address and marked as served for `channel_id`.
    async fn use_image_upload(
        &self,
        user_id: &str,
        upload_id: &str,
        channel_id: &str,
    ) -> Result<(String, Vec<plaza_kernel::record::RecordWrite>), ChannelsError> {
        let (upload, version) = self.usable_upload(user_id, upload_id).await?;
        if upload.purpose != UploadPurpose::Image {
            return Err(ChannelsError::invalid(
                "avatar_upload",
                "must be an image upload",
            ));
        }
        let image = self.store_image(&upload).await?;
        let mut used = upload;
        used.used_by = Some(channel_id.to_owned());
        Ok((
            image.sha256.clone(),
            vec![
                crate::uploads::upload_write(&used, Expect::Version(version))?,
                crate::posts::media_write(&image.sha256, &image.content_type, channel_id)?,
            ],
        ))
    }

    async fn name_claim(
        &self,
        name: &str,
    ) -> Result<(Option<Option<String>>, Option<u64>), ChannelsError> {
        Ok(
            match load::<NameClaim>(&*self.records, kind::NAME, &name_key(name)).await? {
                Some((claim, version)) => (Some(claim.channel_id), Some(version)),
                None => (None, None),
            },
        )
    }

    /// A channel by id.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn channel(&self, channel_id: &str) -> Result<Option<Channel>, ChannelsError> {
        Ok(load(&*self.records, kind::CHANNEL, channel_id)
            .await?
            .map(|(channel, _)| channel))
    }

    /// A channel by id, or [`ChannelsError::ChannelNotFound`].
    ///
    /// # Errors
    ///
    /// As said, or when the store fails.
    pub async fn existing_channel(&self, channel_id: &str) -> Result<Channel, ChannelsError> {
        self.channel(channel_id)
            .await?
            .ok_or_else(|| ChannelsError::ChannelNotFound {
                channel_id: channel_id.to_owned(),
            })
    }

    /// The channel `user_id` opened, if any.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn channel_of(&self, user_id: &str) -> Result<Option<Channel>, ChannelsError> {
        Ok(self
            .channel_record_of(user_id)
            .await?
            .map(|(channel, _)| channel))
    }

    async fn channel_record_of(
        &self,
        user_id: &str,
    ) -> Result<Option<(Channel, u64)>, ChannelsError> {
        let Some((owner, _)) = load::<Owner>(&*self.records, kind::OWNER, user_id).await? else {
            return Ok(None);
        };
        load(&*self.records, kind::CHANNEL, &owner.channel_id).await
    }

    /// The channel holding `name` (compared case-insensitively), if any.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn channel_named(&self, name: &str) -> Result<Option<Channel>, ChannelsError> {
        match self.name_claim(name).await?.0.flatten() {
            Some(channel_id) => self.channel(&channel_id).await,
            None => Ok(None),
        }
    }

    /// A channel's counters.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn channel_stats(&self, channel_id: &str) -> Result<ChannelStats, ChannelsError> {
        Ok(load(&*self.records, kind::CHANNEL_STATS, channel_id)
            .await?
            .map(|(stats, _)| stats)
            .unwrap_or_default())
    }

    /// Channels, newest first, after the one `after` (its creation value and id), at
    /// most `rows_max`.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn channels(
        &self,
        after: Option<(String, String)>,
        rows_max: usize,
    ) -> Result<Vec<(String, Channel)>, ChannelsError> {
        range(
            &*self.records,
            kind::CHANNEL,
            index::CREATED,
            prefix_bounds(""),
            after,
            rows_max,
            true,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_compared_without_case() {
        assert!(check_name("a").is_err());
        assert!(check_name("a@b").is_err());
        assert_eq!(check_name("  山野小林 ").ok().as_deref(), Some("山野小林"));
        assert_eq!(name_key("Bob Cooks"), name_key("bob cooks"));
        assert!(check_bio(&"字".repeat(201)).is_err());
    }
}
