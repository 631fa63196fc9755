//! Following channels, liking posts and comments, commenting (replies one level deep),
//! sharing and viewing. Each change to one thing's counter is decided under that
//! thing's lock and committed with the record that causes it, so counts are exact under
//! any concurrency; doing a thing twice (liking a liked post) changes nothing.

use plaza_kernel::record::{Expect, IndexEntry};
use plaza_ledger::WriteSet;
use serde::{Deserialize, Serialize};

use crate::incentive::Activity;
use crate::model::{Comment, Follow, Mark, Post, PostStats};
use crate::store::{self, index, kind, load, prefix_bounds, range, time_value, write};
use crate::{CONFLICT_RETRIES_MAX, Channels, ChannelsError};

/// The longest comment, in characters.
pub const COMMENT_CHARS_MAX: usize = 500;

/// What a like, follow or view changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    /// Whether this call changed the count (a repeat does not).
    pub changed: bool,
    /// The count now.
    pub count: u64,
}

/// A counted view of a post by a viewer on a China day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct View {
    at: plaza_kernel::clock::Timestamp,
}

impl Channels {
    /// A ready post and its counters with their version, under the post's lock held by
    /// the caller.
    async fn ready_post_stats(
        &self,
        post_id: &str,
    ) -> Result<(Post, PostStats, Option<u64>), ChannelsError> {
        let post = self.post(post_id, None).await?;
        let (stats, version) =
            match load::<PostStats>(&*self.records, kind::POST_STATS, post_id).await? {
                Some((stats, version)) => (stats, Some(version)),
                None => (PostStats::default(), None),
            };
        Ok((post, stats, version))
    }

    /// Commits a post's new counters with `records` and the change to this month's
    /// activity (what the incentive plan scores), then tells the feed.
    async fn commit_post_stats(
        &self,
        post: &Post,
        stats: &PostStats,
        version: Option<u64>,
        change: Activity,
        mut records: Vec<plaza_kernel::record::RecordWrite>,
    ) -> Result<bool, ChannelsError> {
        records.push(write(
            kind::POST_STATS,
            &post.post_id,
            store::expect(version),
            stats,
            Vec::new(),
        )?);
        records.push(self.month_activity_write(post, change).await?);
        let committed = self
            .try_commit(WriteSet {
                records,
                ..WriteSet::default()
            })
            .await?;
        if committed {
            self.feed.stats_changed(&post.post_id, stats);
        }
        Ok(committed)
    }

    /// Likes (`like`) or stops liking a ready post.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::PostNotFound`].
    pub async fn set_like(
        &self,
        user_id: &str,
        post_id: &str,
        like: bool,
    ) -> Result<Counted, ChannelsError> {
        let _guard = self.locks.lock(&format!("post:{post_id}")).await;
        let key = format!("{post_id}/{user_id}");
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (post, mut stats, version) = self.ready_post_stats(post_id).await?;
            let mark = load::<Mark>(&*self.records, kind::LIKE, &key).await?;
            let active = mark.as_ref().is_some_and(|(mark, _)| mark.active);
            if active == like {
                return Ok(Counted {
                    changed: false,
                    count: stats.likes,
                });
            }
            stats.likes = stepped(stats.likes, like);
            let record = write(
                kind::LIKE,
                &key,
                store::expect(mark.map(|(_, version)| version)),
                &Mark {
                    active: like,
                    at: self.now(),
                },
                Vec::new(),
            )?;
            if self
                .commit_post_stats(&post, &stats, version, Activity::likes(like), vec![record])
                .await?
            {
                return Ok(Counted {
                    changed: true,
                    count: stats.likes,
                });
            }
        }
        Err(Self::busy("post"))
    }

    /// Whether `user_id` likes the post now.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn likes(&self, user_id: &str, post_id: &str) -> Result<bool, ChannelsError> {
        Ok(
            load::<Mark>(&*self.records, kind::LIKE, &format!("{post_id}/{user_id}"))
                .await?
                .is_some_and(|(mark, _)| mark.active),
        )
    }

    /// Counts a view of a ready post: once per viewer per post per China day.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::PostNotFound`].
    pub async fn view(&self, user_id: &str, post_id: &str) -> Result<Counted, ChannelsError> {
        let _guard = self.locks.lock(&format!("post:{post_id}")).await;
        let day = crate::china_day(self.now());
        let key = format!("{post_id}/{user_id}/{day}");
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (post, mut stats, version) = self.ready_post_stats(post_id).await?;
            if load::<View>(&*self.records, kind::VIEW, &key)
                .await?
                .is_some()
            {
                return Ok(Counted {
                    changed: false,
                    count: stats.views,
                });
            }
            stats.views += 1;
            let record = write(
                kind::VIEW,
                &key,
                Expect::Absent,
                &View { at: self.now() },
                Vec::new(),
            )?;
            if self
                .commit_post_stats(&post, &stats, version, Activity::VIEW, vec![record])
                .await?
            {
                return Ok(Counted {
                    changed: true,
                    count: stats.views,
                });
            }
        }
        Err(Self::busy("post"))
    }

    /// Counts a share of a ready post into a chat; answers the post.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::PostNotFound`].
    pub async fn share(&self, post_id: &str) -> Result<(Post, Counted), ChannelsError> {
        let _guard = self.locks.lock(&format!("post:{post_id}")).await;
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (post, mut stats, version) = self.ready_post_stats(post_id).await?;
            stats.shares += 1;
            if self
                .commit_post_stats(&post, &stats, version, Activity::SHARE, Vec::new())
                .await?
            {
                let count = stats.shares;
                return Ok((
                    post,
                    Counted {
                        changed: true,
                        count,
                    },
                ));
            }
        }
        Err(Self::busy("post"))
    }

    /// Writes a comment on a ready post, or a reply to one of its comments (a reply to
    /// a reply joins that reply's thread: one level deep).
    ///
    /// # Errors
    ///
    /// [`ChannelsError::PostNotFound`], [`ChannelsError::CommentNotFound`], an empty or
    /// too long text.
    pub async fn comment(
        &self,
        user_id: &str,
        post_id: &str,
        text: &str,
        reply_to: Option<&str>,
    ) -> Result<Comment, ChannelsError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ChannelsError::invalid("text", "an empty comment"));
        }
        let length = text.chars().count();
        if length > COMMENT_CHARS_MAX {
            return Err(ChannelsError::invalid(
                "text",
                format!("{length} characters; at most {COMMENT_CHARS_MAX}"),
            ));
        }
        let author_name = self
            .identity
            .user(user_id)
            .await?
            .map_or_else(|| user_id.to_owned(), |user| user.name);
        let _guard = self.locks.lock(&format!("post:{post_id}")).await;
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (post, mut stats, version) = self.ready_post_stats(post_id).await?;
            let parent = match reply_to {
                Some(comment_id) => Some(self.thread_head(post_id, comment_id).await?),
                None => None,
            };
            let now = self.now();
            let comment = Comment {
                comment_id: crate::random_id("c", 15),
                post_id: post_id.to_owned(),
                author: user_id.to_owned(),
                author_name: author_name.clone(),
                reply_to: parent.as_ref().map(|(head, _)| head.comment_id.clone()),
                text: text.to_owned(),
                likes: 0,
                replies: 0,
                created_at: now,
            };
            let mut records = vec![comment_write(&comment, Expect::Absent)?];
            if let Some((mut head, head_version)) = parent {
                head.replies += 1;
                records.push(comment_write(&head, Expect::Version(head_version))?);
            }
            stats.comments += 1;
            if self
                .commit_post_stats(&post, &stats, version, Activity::COMMENT, records)
                .await?
            {
                return Ok(comment);
            }
        }
        Err(Self::busy("post"))
    }

    /// The top-level comment a reply to `comment_id` belongs under.
    async fn thread_head(
        &self,
        post_id: &str,
        comment_id: &str,
    ) -> Result<(Comment, u64), ChannelsError> {
        let not_found = || ChannelsError::CommentNotFound {
            comment_id: comment_id.to_owned(),
        };
        let (comment, version) = load::<Comment>(&*self.records, kind::COMMENT, comment_id)
            .await?
            .filter(|(comment, _)| comment.post_id == post_id)
            .ok_or_else(not_found)?;
        match &comment.reply_to {
            None => Ok((comment, version)),
            Some(head) => load::<Comment>(&*self.records, kind::COMMENT, head)
                .await?
                .ok_or_else(not_found),
        }
    }

    /// A post's top-level comments, newest first, after `after`; or, with `thread`, the
    /// replies to that comment, oldest first.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn comments(
        &self,
        post_id: &str,
        thread: Option<&str>,
        after: Option<(String, String)>,
        rows_max: usize,
    ) -> Result<Vec<(String, Comment)>, ChannelsError> {
        let (prefix, newest_first) = match thread {
            Some(head) => (format!("{post_id}/{head}/"), false),
            None => (format!("{post_id}/t/"), true),
        };
        range(
            &*self.records,
            kind::COMMENT,
            index::THREAD,
            prefix_bounds(&prefix),
            after,
            rows_max,
            newest_first,
        )
        .await
    }

    /// A comment by id.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::CommentNotFound`].
    pub async fn comment_by_id(&self, comment_id: &str) -> Result<Comment, ChannelsError> {
        load::<Comment>(&*self.records, kind::COMMENT, comment_id)
            .await?
            .map(|(comment, _)| comment)
            .ok_or_else(|| ChannelsError::CommentNotFound {
                comment_id: comment_id.to_owned(),
            })
    }

    /// Likes (`like`) or stops liking a comment.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::CommentNotFound`].
    pub async fn set_comment_like(
        &self,
        user_id: &str,
        comment_id: &str,
        like: bool,
    ) -> Result<Counted, ChannelsError> {
        let _guard = self.locks.lock(&format!("comment:{comment_id}")).await;
        let key = format!("{comment_id}/{user_id}");
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut comment, version) = load::<Comment>(&*self.records, kind::COMMENT, comment_id)
                .await?
                .ok_or_else(|| ChannelsError::CommentNotFound {
                    comment_id: comment_id.to_owned(),
                })?;
            self.post(&comment.post_id, None).await?;
            let mark = load::<Mark>(&*self.records, kind::COMMENT_LIKE, &key).await?;
            if mark.as_ref().is_some_and(|(mark, _)| mark.active) == like {
                return Ok(Counted {
                    changed: false,
                    count: comment.likes,
                });
            }
            comment.likes = stepped(comment.likes, like);
            let records = vec![
                write(
                    kind::COMMENT_LIKE,
                    &key,
                    store::expect(mark.map(|(_, version)| version)),
                    &Mark {
                        active: like,
                        at: self.now(),
                    },
                    Vec::new(),
                )?,
                comment_write(&comment, Expect::Version(version))?,
            ];
            if self
                .try_commit(WriteSet {
                    records,
                    ..WriteSet::default()
                })
                .await?
            {
                return Ok(Counted {
                    changed: true,
                    count: comment.likes,
                });
            }
        }
        Err(Self::busy("comment"))
    }

    /// Follows (`follow`) or stops following a channel.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::ChannelNotFound`]; following one's own channel is invalid.
    pub async fn set_follow(
        &self,
        user_id: &str,
        channel_id: &str,
        follow: bool,
    ) -> Result<Counted, ChannelsError> {
        let channel = self.existing_channel(channel_id).await?;
        if channel.user_id == user_id {
            return Err(ChannelsError::invalid("channel_id", "your own channel"));
        }
        let _guard = self.locks.lock(&format!("channel:{channel_id}")).await;
        let key = format!("{user_id}/{channel_id}");
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut stats, stats_version) = self.channel_stats_record(channel_id).await?;
            let existing = load::<Follow>(&*self.records, kind::FOLLOW, &key).await?;
            if existing.as_ref().is_some_and(|(found, _)| found.active) == follow {
                return Ok(Counted {
                    changed: false,
                    count: stats.followers,
                });
            }
            stats.followers = stepped(stats.followers, follow);
            let record = Follow {
                follower: user_id.to_owned(),
                channel_id: channel_id.to_owned(),
                creator: channel.user_id.clone(),
                active: follow,
                at: self.now(),
            };
            let records = vec![
                follow_write(&record, store::expect(existing.map(|(_, version)| version)))?,
                write(
                    kind::CHANNEL_STATS,
                    channel_id,
                    store::expect(stats_version),
                    &stats,
                    Vec::new(),
                )?,
            ];
            if self
                .try_commit(WriteSet {
                    records,
                    ..WriteSet::default()
                })
                .await?
            {
                self.feed.follow_changed(&record);
                return Ok(Counted {
                    changed: true,
                    count: stats.followers,
                });
            }
        }
        Err(Self::busy("channel"))
    }

    /// Whether `user_id` follows the channel now.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn follows(&self, user_id: &str, channel_id: &str) -> Result<bool, ChannelsError> {
        Ok(load::<Follow>(
            &*self.records,
            kind::FOLLOW,
            &format!("{user_id}/{channel_id}"),
        )
        .await?
        .is_some_and(|(follow, _)| follow.active))
    }

    /// The channels `user_id` follows, most recent first, at most `rows_max`.
    ///
    /// # Errors
    ///
    /// When the store fails.
    pub async fn following(
        &self,
        user_id: &str,
        rows_max: usize,
    ) -> Result<Vec<Follow>, ChannelsError> {
        let found: Vec<(String, Follow)> = range(
            &*self.records,
            kind::FOLLOW,
            index::FOLLOWER,
            prefix_bounds(&format!("{user_id}/")),
            None,
            rows_max,
            true,
        )
        .await?;
        Ok(found.into_iter().map(|(_, follow)| follow).collect())
    }
}

/// A count one up (`up`) or one down, never below zero.
fn stepped(count: u64, up: bool) -> u64 {
    if up {
        count + 1
    } else {
        count.saturating_sub(1)
    }
}

/// A follow's record write: indexed both ways while it stands.
fn follow_write(
    follow: &Follow,
    expect: Expect,
) -> Result<plaza_kernel::record::RecordWrite, ChannelsError> {
    let at = time_value(follow.at.unix_ms());
    let entries = if follow.active {
        vec![
            IndexEntry::new(index::FOLLOWER, format!("{}/{at}", follow.follower)),
            IndexEntry::new(index::FOLLOWED, format!("{}/{at}", follow.channel_id)),
        ]
    } else {
        Vec::new()
    };
    write(
        kind::FOLLOW,
        &format!("{}/{}", follow.follower, follow.channel_id),
        expect,
        follow,
        entries,
    )
}

/// A comment's record write, found by its thread: top-level comments under
/// `post/t/created`, replies under `post/head/created`.
fn comment_write(
    comment: &Comment,
    expect: Expect,
) -> Result<plaza_kernel::record::RecordWrite, ChannelsError> {
    let created = time_value(comment.created_at.unix_ms());
    let thread = match &comment.reply_to {
        Some(head) => format!("{}/{head}/{created}", comment.post_id),
        None => format!("{}/t/{created}", comment.post_id),
    };
    write(
        kind::COMMENT,
        &comment.comment_id,
        expect,
        comment,
        vec![IndexEntry::new(index::THREAD, thread)],
    )
}
