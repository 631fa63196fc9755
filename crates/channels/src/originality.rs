//! Originality: a new video is a copy when an earlier ready post by someone else has the
//! same bytes (its source's content address) or shows the same frames (its perceptual
//! frame hashes match by [`plaza_media::videos_match`]). Candidates are found through an
//! index of 16-bit bands of each original's frame hashes — two hashes within three bits
//! share a band, and most frames of a copy are that close — then compared in full. A
//! copy points to the original, never to another copy.

use crate::model::{Originality, Post, Video};
use crate::store::{index, kind, load, prefix_bounds, range};

/// What a fingerprint record names.
#[derive(Debug, serde::Deserialize)]
struct Fingerprint {
    post_id: String,
}
use crate::{Channels, ChannelsError};

/// Bands per 64-bit hash.
const BANDS: u32 = 4;
/// Posts read per band value at most (a flood of near-identical videos must not make a
/// check unbounded).
const CANDIDATES_PER_BAND_MAX: usize = 16;
/// Posts compared in full at most.
const CANDIDATES_MAX: usize = 128;

/// The band index values of a video's frame hashes: `b<band>:<4 hex digits>`, skipping
/// flat frames (all bits equal: black, white), which every video may share.
pub fn band_values(hashes: &[u64]) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    for &hash in hashes {
        if hash == 0 || hash == u64::MAX {
            continue;
        }
        for band in 0..BANDS {
            let part = (hash >> (16 * band)) & 0xffff;
            let value = format!("b{band}:{part:04x}");
            if !values.contains(&value) {
                values.push(value);
            }
        }
    }
    values
}

/// What processing decides about a new video: whether it is original, and which
/// originals by others, uploaded later but processed first, turn out to be its copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    /// The new post's originality.
    pub(crate) originality: Originality,
    /// Later uploads by others, published as originals, that copy it: each with the
    /// version read and how it was found.
    pub(crate) later_copies: Vec<(Post, u64, &'static str)>,
}

impl Channels {
    /// Whether `post` (being published with `video`) is original or a copy. The caller
    /// holds the originality lock until it commits, so decisions are made one at a
    /// time and each sees every earlier one.
    pub(crate) async fn originality_of(
        &self,
        post: &Post,
        video: &Video,
    ) -> Result<Decision, ChannelsError> {
        let exact: Vec<(String, Post)> = range(
            &*self.records,
            kind::POST,
            index::SOURCE,
            (video.source.clone(), format!("{}\u{0}", video.source)),
            None,
            CANDIDATES_PER_BAND_MAX,
            false,
        )
        .await?;
        let exact: Vec<Post> = exact.into_iter().map(|(_, p)| p).collect();
        let by_frames: Vec<Post> = self
            .frame_candidates(video)
            .await?
            .into_iter()
            .filter(|candidate| {
                !exact.iter().any(|seen| seen.post_id == candidate.post_id)
                    && candidate.video.as_ref().is_some_and(|theirs| {
                        plaza_media::videos_match(&theirs.frame_hashes, &video.frame_hashes)
                    })
            })
            .collect();
        let found = exact
            .into_iter()
            .map(|p| (p, "exact"))
            .chain(by_frames.into_iter().map(|p| (p, "frames")));
        let (earlier, later): (Vec<_>, Vec<_>) = found
            .filter(|(candidate, _)| by_another_original(post, candidate))
            .partition(|(candidate, _)| uploaded_before(candidate, post));
        let originality = earlier
            .into_iter()
            .min_by_key(|(candidate, _)| (candidate.created_at, candidate.post_id.clone()))
            .map_or(Originality::Original, |(original, by)| Originality::Copy {
                of_post: original.post_id,
                by: by.to_owned(),
            });
        let mut later_copies = Vec::new();
        if originality == Originality::Original {
            for (candidate, by) in later {
                if let Some((fresh, version)) =
                    load::<Post>(&*self.records, kind::POST, &candidate.post_id).await?
                {
                    later_copies.push((fresh, version, by));
                }
            }
        }
        Ok(Decision {
            originality,
            later_copies,
        })
    }

    /// Ready originals whose frame-hash bands share one with `video`'s.
    async fn frame_candidates(&self, video: &Video) -> Result<Vec<Post>, ChannelsError> {
        let mut candidates: Vec<Post> = Vec::new();
        for band in band_values(&video.frame_hashes) {
            if candidates.len() >= CANDIDATES_MAX {
                break;
            }
            let found: Vec<(String, Fingerprint)> = range(
                &*self.records,
                kind::FINGERPRINT,
                index::FRAME_BAND,
                prefix_bounds(&band),
                None,
                CANDIDATES_PER_BAND_MAX,
                false,
            )
            .await?;
            for (_, fingerprint) in found {
                if candidates
                    .iter()
                    .any(|seen| seen.post_id == fingerprint.post_id)
                {
                    continue;
                }
                if let Some((candidate, _)) =
                    load::<Post>(&*self.records, kind::POST, &fingerprint.post_id).await?
                {
                    candidates.push(candidate);
                }
            }
        }
        Ok(candidates)
    }
}

/// Whether `candidate` is a ready original by someone other than `post`'s author.
/// Copies are passed over: a copy's original is an original itself, so comparing with
/// originals finds the one to point to, and an author re-uploading their own video,
/// which others copied, is not taken for a copier.
fn by_another_original(post: &Post, candidate: &Post) -> bool {
    candidate.ready()
        && candidate.original()
        && candidate.author != post.author
        && candidate.post_id != post.post_id
}

/// Whether `candidate` was uploaded before `post` (ties broken by id, so two posts
/// never both come first).
fn uploaded_before(candidate: &Post, post: &Post) -> bool {
    (candidate.created_at, &candidate.post_id) < (post.created_at, &post.post_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_within_three_bits_share_a_band() {
        let hash = 0x0123_4567_89ab_cdef_u64;
        let near = hash ^ 0b1 ^ (1 << 20) ^ (1 << 40);
        let ours = band_values(&[hash]);
        let theirs = band_values(&[near]);
        assert_eq!(ours.len(), 4);
        assert!(ours.iter().any(|value| theirs.contains(value)));
        assert!(
            band_values(&[0, u64::MAX]).is_empty(),
            "flat frames are not indexed"
        );
    }
}
