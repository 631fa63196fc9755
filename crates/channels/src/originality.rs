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

impl Channels {
    /// Whether `post` (being published with `video`) is original or a copy.
    pub(crate) async fn originality_of(
        &self,
        post: &Post,
        video: &Video,
    ) -> Result<Originality, ChannelsError> {
        let mut candidates: Vec<Post> = Vec::new();
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
        if let Some(original) = earliest_by_other(post, exact.into_iter().map(|(_, p)| p)) {
            return Ok(Originality::Copy {
                of_post: original.post_id,
                by: "exact".to_owned(),
            });
        }
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
        let matching = candidates.into_iter().filter(|candidate| {
            candidate.video.as_ref().is_some_and(|theirs| {
                plaza_media::videos_match(&theirs.frame_hashes, &video.frame_hashes)
            })
        });
        Ok(match earliest_by_other(post, matching) {
            Some(original) => Originality::Copy {
                of_post: original.post_id,
                by: "frames".to_owned(),
            },
            None => Originality::Original,
        })
    }
}

/// The earliest published ready original among `found` by someone other than `post`'s
/// author. Copies are passed over: a copy's original is an original itself (the first
/// upload of a video is never a copy), so comparing with originals finds the one to
/// point to, and an author re-uploading their own video, which others copied, is not
/// taken for a copier.
fn earliest_by_other(post: &Post, found: impl Iterator<Item = Post>) -> Option<Post> {
    found
        .filter(|candidate| {
            candidate.ready()
                && candidate.original()
                && candidate.author != post.author
                && candidate.post_id != post.post_id
        })
        .min_by_key(|candidate| (candidate.published_at, candidate.post_id.clone()))
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
