//! Posts: made from the author's finished uploads (one video, or one to nine images)
//! with a caption, then processed by a job — the video probed, given a poster, made
//! playable and hashed; images checked — and visible once ready. A post whose media the
//! tools refuse fails with the reason, seen by its author only; nothing half-made is
//! ever shown.

use plaza_kernel::queue::{NewEvent, NewJob};
use plaza_kernel::record::{Expect, IndexEntry, RecordWrite};
use plaza_ledger::WriteSet;
use plaza_media::MediaError;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::model::{
    Channel, ChannelStats, Image, Originality, Post, PostKind, PostState, PostStats, Upload,
    UploadPurpose, Video,
};
use crate::store::{self, index, kind, load, prefix_bounds, range, sha256_hex, time_value, write};
use crate::{CONFLICT_RETRIES_MAX, Channels, ChannelsError, caption};

/// The job that processes a post's media, keyed by post id.
pub const JOB_PROCESS: &str = "channels.process";
/// The outbox topic of posts becoming visible or going away (Search indexes it).
pub const TOPIC_POST: &str = "channels.post";
/// The lock every originality decision is made under.
const ORIGINALITY_LOCK: &str = "originality";
/// Images a post may have.
pub const IMAGES_MAX: usize = 9;

/// What a new post is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPost {
    /// The author's finished uploads: one video, or one to nine images.
    pub uploads: Vec<String>,
    /// Its caption (topics and mentions are read from it).
    pub caption: String,
}

/// A file a post or channel serves. Two posts may serve the same file (an exact
/// copy): each has its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaFile {
    /// The post (`p…`) or channel (`ch…`) it belongs to.
    pub owner: String,
    /// Its MIME type.
    pub content_type: String,
}

/// The record saying `sha256` is served for `owner`.
pub(crate) fn media_write(
    sha256: &str,
    content_type: &str,
    owner: &str,
) -> Result<RecordWrite, ChannelsError> {
    write(
        kind::MEDIA,
        &format!("{sha256}/{owner}"),
        Expect::Any,
        &MediaFile {
            owner: owner.to_owned(),
            content_type: content_type.to_owned(),
        },
        vec![IndexEntry::new(index::FILE, sha256)],
    )
}

/// Index entries a record may carry (the store's bound).
const INDEX_ENTRIES_MAX: usize = 16;

/// The fingerprint records of a post's video: its frame-hash bands, sixteen per record,
/// indexed while `findable` (a ready original), emptied otherwise.
pub(crate) fn fingerprint_writes(
    post: &Post,
    findable: bool,
) -> Result<Vec<RecordWrite>, ChannelsError> {
    let Some(video) = &post.video else {
        return Ok(Vec::new());
    };
    let bands = crate::originality::band_values(&video.frame_hashes);
    bands
        .chunks(INDEX_ENTRIES_MAX)
        .enumerate()
        .map(|(n, chunk)| {
            let entries = if findable {
                chunk
                    .iter()
                    .map(|band| IndexEntry::new(index::FRAME_BAND, band))
                    .collect()
            } else {
                Vec::new()
            };
            write(
                kind::FINGERPRINT,
                &format!("{}/{n}", post.post_id),
                Expect::Any,
                &json!({ "post_id": post.post_id }),
                entries,
            )
        })
        .collect()
}

/// The post record's write, with the indexes its state calls for: every post by its
/// author; a ready one by publication, topic and source file (its frame-hash bands are
/// in its fingerprint records).
pub(crate) fn post_write(post: &Post, expect: Expect) -> Result<RecordWrite, ChannelsError> {
    let mut entries = Vec::new();
    if post.state != PostState::Deleted {
        entries.push(IndexEntry::new(
            index::AUTHOR,
            format!(
                "{}/{}",
                post.channel_id,
                time_value(post.created_at.unix_ms())
            ),
        ));
    }
    if let (PostState::Ready, Some(published)) = (&post.state, post.published_at) {
        let published = time_value(published.unix_ms());
        entries.push(IndexEntry::new(index::CREATED, &published));
        for topic in &post.topics {
            entries.push(IndexEntry::new(
                index::TOPIC,
                format!("{}/{published}", topic.to_lowercase()),
            ));
        }
        if let Some(video) = &post.video {
            entries.push(IndexEntry::new(index::SOURCE, &video.source));
        }
    }
    write(kind::POST, &post.post_id, expect, post, entries)
}

/// The outbox event of a post as it now is: its public facts when ready, its id when
/// gone.
#[must_use]
pub fn post_event(post: &Post, channel: &Channel) -> NewEvent {
    let payload = if post.ready() {
        json!({
            "post_id": post.post_id,
            "state": "ready",
            "channel_id": post.channel_id,
            "channel_name": channel.name,
            "area": post.area.as_str(),
            "caption": post.caption,
            "topics": post.topics,
            "original": post.original(),
            "published_at": post.published_at.map(|at| at.unix_ms()),
        })
    } else {
        json!({ "post_id": post.post_id, "state": "deleted" })
    };
    NewEvent {
        topic: TOPIC_POST.to_owned(),
        key: post.post_id.clone(),
        payload: payload.to_string(),
    }
}

/// How processing ended for one post.
enum Processed {
    Video(Video),
    Images(Vec<Image>),
    Refused(String),
}

impl Channels {
    /// Posts `new` on `user_id`'s channel: the post waits for its media to be processed.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::NoChannel`], an unusable upload, an invalid caption or mix of
    /// uploads.
    pub async fn create_post(&self, user_id: &str, new: NewPost) -> Result<Post, ChannelsError> {
        let channel = self
            .channel_of(user_id)
            .await?
            .ok_or(ChannelsError::NoChannel)?;
        let (caption_text, topics, mentions) = self.read_caption(&new.caption).await?;
        let uploads = self.post_uploads(user_id, &new.uploads).await?;
        let now = self.now();
        let post = Post {
            post_id: crate::random_id("p", 15),
            channel_id: channel.channel_id.clone(),
            author: user_id.to_owned(),
            kind: if uploads
                .iter()
                .any(|(upload, _)| upload.purpose == UploadPurpose::Video)
            {
                PostKind::Video
            } else {
                PostKind::Images
            },
            area: channel.area,
            caption: caption_text,
            topics,
            mentions,
            uploads: new.uploads.clone(),
            video: None,
            images: Vec::new(),
            originality: Originality::Unknown,
            state: PostState::Processing,
            created_at: now,
            published_at: None,
        };
        let mut records = vec![
            post_write(&post, Expect::Absent)?,
            write(
                kind::POST_STATS,
                &post.post_id,
                Expect::Absent,
                &PostStats::default(),
                Vec::new(),
            )?,
        ];
        for (mut upload, version) in uploads {
            upload.used_by = Some(post.post_id.clone());
            records.push(crate::uploads::upload_write(
                &upload,
                Expect::Version(version),
            )?);
        }
        let unit = WriteSet {
            records,
            jobs: vec![NewJob {
                kind: JOB_PROCESS.to_owned(),
                key: post.post_id.clone(),
                payload: post.post_id.clone(),
                due_at: now,
            }],
            ..WriteSet::default()
        };
        if self.try_commit(unit).await? {
            Ok(post)
        } else {
            Err(ChannelsError::UploadUnusable {
                upload_id: new.uploads.join(","),
                problem: "changed while posting; try again",
            })
        }
    }

    /// A caption trimmed and checked, with its topics and the channels it mentions.
    async fn read_caption(
        &self,
        caption_text: &str,
    ) -> Result<(String, Vec<String>, Vec<String>), ChannelsError> {
        let caption_text = caption_text.trim().to_owned();
        if caption_text.chars().count() > caption::CAPTION_CHARS_MAX {
            return Err(ChannelsError::invalid(
                "caption",
                format!("at most {} characters", caption::CAPTION_CHARS_MAX),
            ));
        }
        let topics = caption::topics(&caption_text);
        if topics.len() > caption::TOPICS_MAX {
            return Err(ChannelsError::invalid(
                "caption",
                format!("at most {} topics", caption::TOPICS_MAX),
            ));
        }
        let mut mentions = Vec::new();
        for name in caption::mentions(&caption_text) {
            if let Some(mentioned) = self.channel_named(&name).await? {
                mentions.push(mentioned.channel_id);
            }
        }
        Ok((caption_text, topics, mentions))
    }

    /// Publishes a post whose video was processed before — the demo's and the
    /// benchmarks' seeding, where many posts share one processed clip. The post is
    /// ready at once, counted on its channel, in the feed and announced on the outbox;
    /// it leaves no fingerprint, so it is never taken for another post's original.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::NoChannel`], an invalid caption.
    pub async fn publish_processed(
        &self,
        user_id: &str,
        caption_text: &str,
        video: Video,
    ) -> Result<Post, ChannelsError> {
        let channel = self
            .channel_of(user_id)
            .await?
            .ok_or(ChannelsError::NoChannel)?;
        let (caption_text, topics, mentions) = self.read_caption(caption_text).await?;
        let now = self.now();
        let post = Post {
            post_id: crate::random_id("p", 15),
            channel_id: channel.channel_id.clone(),
            author: user_id.to_owned(),
            kind: PostKind::Video,
            area: channel.area,
            caption: caption_text,
            topics,
            mentions,
            uploads: Vec::new(),
            images: Vec::new(),
            originality: Originality::Original,
            state: PostState::Ready,
            created_at: now,
            published_at: Some(now),
            video: Some(video),
        };
        let Some(video) = &post.video else {
            return Err(Self::busy("post"));
        };
        let _guard = self
            .locks
            .lock(&format!("channel:{}", post.channel_id))
            .await;
        let unit = WriteSet {
            records: vec![
                post_write(&post, Expect::Absent)?,
                write(
                    kind::POST_STATS,
                    &post.post_id,
                    Expect::Absent,
                    &PostStats::default(),
                    Vec::new(),
                )?,
                media_write(&video.playable, &video.content_type, &post.post_id)?,
                media_write(&video.poster, "image/jpeg", &post.post_id)?,
                self.one_more_post(&post.channel_id).await?,
            ],
            events: vec![post_event(&post, &channel)],
            ..WriteSet::default()
        };
        if !self.try_commit(unit).await? {
            return Err(Self::busy("channel"));
        }
        self.feed.post_ready(&post, &PostStats::default());
        Ok(post)
    }

    /// The uploads of a new post, checked: one video or one to nine images, each the
    /// author's, finished and unused.
    async fn post_uploads(
        &self,
        user_id: &str,
        upload_ids: &[String],
    ) -> Result<Vec<(Upload, u64)>, ChannelsError> {
        if upload_ids.is_empty() || upload_ids.len() > IMAGES_MAX {
            return Err(ChannelsError::invalid(
                "uploads",
                format!("one video, or one to {IMAGES_MAX} images"),
            ));
        }
        let mut uploads = Vec::new();
        for upload_id in upload_ids {
            if uploads
                .iter()
                .any(|(upload, _): &(Upload, u64)| &upload.upload_id == upload_id)
            {
                return Err(ChannelsError::invalid(
                    "uploads",
                    "an upload is named twice",
                ));
            }
            uploads.push(self.usable_upload(user_id, upload_id).await?);
        }
        let videos = uploads
            .iter()
            .filter(|(upload, _)| upload.purpose == UploadPurpose::Video)
            .count();
        if videos > 0 && uploads.len() > 1 {
            return Err(ChannelsError::invalid(
                "uploads",
                "a video post has exactly one upload",
            ));
        }
        Ok(uploads)
    }

    /// Processes a post's media (the [`JOB_PROCESS`] job): the post becomes ready, or
    /// fails with the tools' reason. Running it again after it finished changes
    /// nothing.
    ///
    /// # Errors
    ///
    /// When the store fails or the tools are missing (the job retries).
    pub async fn process_post(&self, post_id: &str) -> Result<(), ChannelsError> {
        let Some((post, _)) = load::<Post>(&*self.records, kind::POST, post_id).await? else {
            return Ok(());
        };
        if post.state != PostState::Processing {
            return Ok(());
        }
        let mut uploads = Vec::new();
        for upload_id in &post.uploads {
            match load::<Upload>(&*self.records, kind::UPLOAD, upload_id).await? {
                Some((upload, _)) => uploads.push(upload),
                None => {
                    return Err(ChannelsError::Unavailable {
                        reason: format!("upload {upload_id} of post {post_id} is missing"),
                    });
                }
            }
        }
        let processed = match uploads.as_slice() {
            [video] if video.purpose == UploadPurpose::Video => self.store_video(video).await?,
            images => {
                let mut stored = Vec::new();
                let mut refused = None;
                for image in images {
                    match self.store_image(image).await {
                        Ok(image) => stored.push(image),
                        Err(ChannelsError::NotMedia { detail, .. }) => {
                            refused = Some(detail);
                            break;
                        }
                        Err(other) => return Err(other),
                    }
                }
                refused.map_or(Processed::Images(stored), Processed::Refused)
            }
        };
        self.finish_processing(post_id, processed).await
    }

    /// A video's processing, its files stored: the source, the playable copy and the
    /// poster.
    async fn store_video(&self, upload: &Upload) -> Result<Processed, ChannelsError> {
        let bytes = self.assemble(upload).await?;
        let source = sha256_hex(&bytes);
        let processed = match self.media.process_video(bytes.clone()).await {
            Ok(processed) => processed,
            Err(MediaError::Missing { tool, reason }) => {
                return Err(ChannelsError::MediaUnavailable {
                    reason: format!("{tool}: {reason}"),
                });
            }
            Err(MediaError::Unreadable { reason }) => {
                return Ok(Processed::Refused(format!(
                    "the file could not be read as a video ({reason})"
                )));
            }
            Err(MediaError::Failed { step, reason }) => {
                return Ok(Processed::Refused(format!("{step} failed ({reason})")));
            }
        };
        let source_type = crate::uploads::content_type(upload.format.as_deref().unwrap_or(""));
        self.objects.put(source.clone(), bytes).await?;
        let poster = sha256_hex(&processed.poster_jpeg);
        self.objects
            .put(poster.clone(), processed.poster_jpeg)
            .await?;
        let (playable, content_type, playable_bytes, transcoded) = match processed.playable_mp4 {
            Some(mp4) => {
                let key = sha256_hex(&mp4);
                let length = u64::try_from(mp4.len()).unwrap_or(u64::MAX);
                self.objects.put(key.clone(), mp4).await?;
                (key, "video/mp4", length, true)
            }
            None => (
                source.clone(),
                source_type,
                processed.facts.size_bytes,
                false,
            ),
        };
        Ok(Processed::Video(Video {
            source,
            playable,
            content_type: content_type.to_owned(),
            playable_bytes,
            poster,
            duration_ms: processed.facts.duration_ms,
            width: processed.facts.width,
            height: processed.facts.height,
            codec: processed.facts.video_codec,
            transcoded,
            frame_hashes: processed.frame_hashes,
        }))
    }

    /// An image upload checked by the tools and stored under its content address.
    pub(crate) async fn store_image(&self, upload: &Upload) -> Result<Image, ChannelsError> {
        let bytes = self.assemble(upload).await?;
        let format = upload.format.as_deref().unwrap_or("");
        let facts = self
            .media
            .image_facts(bytes.clone())
            .await
            .map_err(|error| match error {
                MediaError::Missing { tool, reason } => ChannelsError::MediaUnavailable {
                    reason: format!("{tool}: {reason}"),
                },
                other => ChannelsError::NotMedia {
                    expected: "an image",
                    detail: other.to_string(),
                },
            })?;
        let sha256 = sha256_hex(&bytes);
        self.objects.put(sha256.clone(), bytes).await?;
        Ok(Image {
            sha256,
            content_type: crate::uploads::content_type(format).to_owned(),
            width: facts.width,
            height: facts.height,
        })
    }

    /// Writes the outcome of processing onto the post, with its media records, the
    /// channel's post count and the outbox event, in one unit of work.
    async fn finish_processing(
        &self,
        post_id: &str,
        processed: Processed,
    ) -> Result<(), ChannelsError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut post, version)) =
                load::<Post>(&*self.records, kind::POST, post_id).await?
            else {
                return Ok(());
            };
            if post.state != PostState::Processing {
                return Ok(());
            }
            let channel = self.existing_channel(&post.channel_id).await?;
            // Originality is decided one video at a time (each decision sees every
            // earlier one), then the channel's counters under its lock.
            let _originality = match processed {
                Processed::Video(_) => Some(self.locks.lock(ORIGINALITY_LOCK).await),
                _ => None,
            };
            let _guard = self
                .locks
                .lock(&format!("channel:{}", post.channel_id))
                .await;
            let mut records = Vec::new();
            let mut events = Vec::new();
            let mut demoted = Vec::new();
            match &processed {
                Processed::Refused(reason) => {
                    tracing::info!(post_id, %reason, "a post's media was refused");
                    post.state = PostState::Failed {
                        reason: reason.clone(),
                    };
                }
                Processed::Video(video) => {
                    demoted = self
                        .publish_video(&mut post, video, &mut records, &mut events)
                        .await?;
                }
                Processed::Images(images) => {
                    for image in images {
                        records.push(media_write(&image.sha256, &image.content_type, post_id)?);
                    }
                    post.images = images.clone();
                }
            }
            if !matches!(processed, Processed::Refused(_)) {
                post.state = PostState::Ready;
                post.published_at = Some(self.now());
                records.push(self.one_more_post(&post.channel_id).await?);
                events.push(post_event(&post, &channel));
            }
            records.push(post_write(&post, Expect::Version(version))?);
            let unit = WriteSet {
                records,
                events,
                ..WriteSet::default()
            };
            if self.try_commit(unit).await? {
                for ready in std::iter::once(&post).chain(&demoted) {
                    if ready.ready() {
                        let ready_stats = self.post_stats(&ready.post_id).await?;
                        self.feed.post_ready(ready, &ready_stats);
                    }
                }
                return Ok(());
            }
        }
        Err(Self::busy("post"))
    }

    /// A video post's originality, media and fingerprint records, and the later
    /// uploads by others it shows to be copies (rewritten as such, with events); those
    /// copies are answered so the feed can learn of them after the commit.
    async fn publish_video(
        &self,
        post: &mut Post,
        video: &Video,
        records: &mut Vec<RecordWrite>,
        events: &mut Vec<NewEvent>,
    ) -> Result<Vec<Post>, ChannelsError> {
        let decision = self.originality_of(post, video).await?;
        post.originality = decision.originality;
        let mut demoted = Vec::new();
        for (mut copy, copy_version, by) in decision.later_copies {
            tracing::info!(copy = %copy.post_id, original = %post.post_id, "a later upload turned out to be a copy");
            copy.originality = Originality::Copy {
                of_post: post.post_id.clone(),
                by: by.to_owned(),
            };
            records.push(post_write(&copy, Expect::Version(copy_version))?);
            records.extend(fingerprint_writes(&copy, false)?);
            if let Some(copier) = self.channel(&copy.channel_id).await? {
                events.push(post_event(&copy, &copier));
            }
            demoted.push(copy);
        }
        records.push(media_write(
            &video.playable,
            &video.content_type,
            &post.post_id,
        )?);
        records.push(media_write(&video.poster, "image/jpeg", &post.post_id)?);
        post.video = Some(video.clone());
        records.extend(fingerprint_writes(post, post.original())?);
        Ok(demoted)
    }

    /// The channel's counters with one more post (the caller holds its lock).
    async fn one_more_post(&self, channel_id: &str) -> Result<RecordWrite, ChannelsError> {
        let (mut stats, version) = self.channel_stats_record(channel_id).await?;
        stats.posts += 1;
        write(
            kind::CHANNEL_STATS,
            channel_id,
            store::expect(version),
            &stats,
            Vec::new(),
        )
    }

    pub(crate) async fn channel_stats_record(
        &self,
        channel_id: &str,
    ) -> Result<(ChannelStats, Option<u64>), ChannelsError> {
        Ok(
            match load::<ChannelStats>(&*self.records, kind::CHANNEL_STATS, channel_id).await? {
                Some((stats, version)) => (stats, Some(version)),
                None => (ChannelStats::default(), None),
            },
        )
    }

    /// A post as `viewer` may see it: ready posts to anyone, the author's own in any
    /// state but deleted.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::PostNotFound`] otherwise.
    pub async fn post(&self, post_id: &str, viewer: Option<&str>) -> Result<Post, ChannelsError> {
        match load::<Post>(&*self.records, kind::POST, post_id).await? {
            Some((post, _))
                if post.ready()
                    || (post.state != PostState::Deleted
                        && viewer == Some(post.author.as_str())) =>
            {
                Ok(post)
            }
            _ => Err(ChannelsError::PostNotFound {
                post_id: post_id.to_owned(),
            }),
        }
    }

    /// A ready post's counters.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn post_stats(&self, post_id: &str) -> Result<PostStats, ChannelsError> {
        Ok(load(&*self.records, kind::POST_STATS, post_id)
            .await?
            .map(|(stats, _)| stats)
            .unwrap_or_default())
    }

    /// A channel's posts newest first, as `viewer` may see them, before `before` (a
    /// previous page's last post: its index value and id), at most `rows_max`.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn posts_of(
        &self,
        channel_id: &str,
        viewer: Option<&str>,
        before: Option<(String, String)>,
        rows_max: usize,
    ) -> Result<Vec<(String, Post)>, ChannelsError> {
        let found: Vec<(String, Post)> = range(
            &*self.records,
            kind::POST,
            index::AUTHOR,
            prefix_bounds(&format!("{channel_id}/")),
            before,
            rows_max,
            true,
        )
        .await?;
        Ok(found
            .into_iter()
            .filter(|(_, post)| post.ready() || viewer == Some(post.author.as_str()))
            .collect())
    }

    /// Ready posts naming `topic`, newest first, at most `rows_max`.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn posts_with_topic(
        &self,
        topic: &str,
        rows_max: usize,
    ) -> Result<Vec<Post>, ChannelsError> {
        let found: Vec<(String, Post)> = range(
            &*self.records,
            kind::POST,
            index::TOPIC,
            prefix_bounds(&format!("{}/", topic.to_lowercase())),
            None,
            rows_max,
            true,
        )
        .await?;
        Ok(found.into_iter().map(|(_, post)| post).collect())
    }

    /// Deletes the author's post: it disappears from every listing, its files stop
    /// being served, and the outbox says so.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::PostNotFound`], [`ChannelsError::NotYours`].
    pub async fn delete_post(&self, user_id: &str, post_id: &str) -> Result<(), ChannelsError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let Some((mut post, version)) =
                load::<Post>(&*self.records, kind::POST, post_id).await?
            else {
                return Err(ChannelsError::PostNotFound {
                    post_id: post_id.to_owned(),
                });
            };
            if post.state == PostState::Deleted {
                return Err(ChannelsError::PostNotFound {
                    post_id: post_id.to_owned(),
                });
            }
            if post.author != user_id {
                return Err(ChannelsError::NotYours {
                    who: "its author",
                    what: "delete a post",
                });
            }
            let channel = self.existing_channel(&post.channel_id).await?;
            let _guard = self
                .locks
                .lock(&format!("channel:{}", post.channel_id))
                .await;
            let was_ready = post.ready();
            post.state = PostState::Deleted;
            let mut records = vec![post_write(&post, Expect::Version(version))?];
            if was_ready && post.original() {
                records.extend(fingerprint_writes(&post, false)?);
            }
            let mut events = Vec::new();
            if was_ready {
                let (mut stats, stats_version) =
                    self.channel_stats_record(&post.channel_id).await?;
                stats.posts = stats.posts.saturating_sub(1);
                records.push(write(
                    kind::CHANNEL_STATS,
                    &post.channel_id,
                    store::expect(stats_version),
                    &stats,
                    Vec::new(),
                )?);
                events.push(post_event(&post, &channel));
            }
            let unit = WriteSet {
                records,
                events,
                ..WriteSet::default()
            };
            if self.try_commit(unit).await? {
                self.feed.post_gone(post_id);
                return Ok(());
            }
        }
        Err(Self::busy("post"))
    }

    /// The MIME type of a file Channels serves, if `sha256` is one: a ready post's
    /// video, poster or image, or a channel's avatar.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn served_media(&self, sha256: &str) -> Result<Option<String>, ChannelsError> {
        /// Owners checked at most: a file is shared by a post and its exact copies.
        const OWNERS_MAX: usize = 32;
        let files: Vec<(String, MediaFile)> = range(
            &*self.records,
            kind::MEDIA,
            index::FILE,
            (sha256.to_owned(), format!("{sha256}\u{0}")),
            None,
            OWNERS_MAX,
            false,
        )
        .await?;
        for (_, file) in files {
            let served = if file.owner.starts_with("ch") {
                self.channel(&file.owner).await?.is_some()
            } else {
                matches!(
                    load::<Post>(&*self.records, kind::POST, &file.owner).await?,
                    Some((post, _)) if post.ready()
                )
            };
            if served {
                return Ok(Some(file.content_type));
            }
        }
        Ok(None)
    }

    /// The object store the files live in (for streaming them).
    pub fn objects(&self) -> &std::sync::Arc<dyn plaza_kernel::objects::ObjectStore> {
        &self.objects
    }
}
