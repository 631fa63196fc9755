//! Resumable uploads: declare the size, send pieces in order (each stored in the object
//! store before the upload's record names it), ask where it stands after a broken
//! connection and continue from there. The first piece must show the declared kind of
//! media; a video upload is refused at once when the media tools are missing.

use plaza_kernel::record::{Expect, RecordWrite};
use plaza_ledger::WriteSet;

use crate::model::{Chunk, Upload, UploadPurpose};
use crate::store::{kind, load, sha256_hex, write};
use crate::{CONFLICT_RETRIES_MAX, Channels, ChannelsError};

/// The largest video file.
pub const VIDEO_BYTES_MAX: u64 = 256 * 1024 * 1024;
/// The largest image file.
pub const IMAGE_BYTES_MAX: u64 = 10 * 1024 * 1024;
/// The largest piece of an upload.
pub const CHUNK_BYTES_MAX: u64 = 4 * 1024 * 1024;
/// How many leading bytes the kind of a file is read from.
const SNIFF_BYTES: usize = 12;

/// The container `head` (a file's first bytes) shows, if it is media of `purpose`.
pub fn sniff(purpose: UploadPurpose, head: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| head.starts_with(magic);
    match purpose {
        UploadPurpose::Video if head.get(4..8) == Some(b"ftyp") => Some("mp4"),
        UploadPurpose::Video if starts(&[0x1a, 0x45, 0xdf, 0xa3]) => Some("webm"),
        UploadPurpose::Image if starts(b"\x89PNG\r\n\x1a\n") => Some("png"),
        UploadPurpose::Image if starts(&[0xff, 0xd8, 0xff]) => Some("jpeg"),
        UploadPurpose::Image if starts(b"GIF87a") || starts(b"GIF89a") => Some("gif"),
        UploadPurpose::Image if starts(b"RIFF") && head.get(8..12) == Some(b"WEBP") => Some("webp"),
        _ => None,
    }
}

/// The MIME type of a sniffed container.
pub fn content_type(format: &str) -> &'static str {
    match format {
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "png" => "image/png",
        "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => "application/octet-stream",
    }
}

/// The upload record's write.
pub(crate) fn upload_write(upload: &Upload, expect: Expect) -> Result<RecordWrite, ChannelsError> {
    write(kind::UPLOAD, &upload.upload_id, expect, upload, Vec::new())
}

impl Channels {
    /// Starts an upload of `size_bytes` for `purpose`.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::TooLarge`], an invalid size, or
    /// [`ChannelsError::MediaUnavailable`] for a video when `ffmpeg`/`ffprobe` do not run.
    pub async fn start_upload(
        &self,
        owner: &str,
        purpose: UploadPurpose,
        size_bytes: u64,
    ) -> Result<Upload, ChannelsError> {
        let limit = match purpose {
            UploadPurpose::Video => VIDEO_BYTES_MAX,
            UploadPurpose::Image => IMAGE_BYTES_MAX,
        };
        if size_bytes == 0 {
            return Err(ChannelsError::invalid("size", "an empty file"));
        }
        if size_bytes > limit {
            return Err(ChannelsError::TooLarge {
                what: "the file",
                bytes: size_bytes,
                limit,
            });
        }
        if purpose == UploadPurpose::Video {
            self.media
                .check()
                .await
                .map_err(|error| ChannelsError::MediaUnavailable {
                    reason: error.to_string(),
                })?;
        }
        let upload = Upload {
            upload_id: crate::random_id("up", 20),
            owner: owner.to_owned(),
            purpose,
            size_bytes,
            chunks: Vec::new(),
            format: None,
            used_by: None,
            created_at: self.now(),
        };
        let unit = WriteSet {
            records: vec![upload_write(&upload, Expect::Absent)?],
            ..WriteSet::default()
        };
        if self.try_commit(unit).await? {
            Ok(upload)
        } else {
            Err(Self::busy("upload"))
        }
    }

    /// The caller's upload.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::UploadNotFound`] when it is not theirs or does not exist.
    pub async fn upload(&self, owner: &str, upload_id: &str) -> Result<Upload, ChannelsError> {
        Ok(self.owned_upload(owner, upload_id).await?.0)
    }

    async fn owned_upload(
        &self,
        owner: &str,
        upload_id: &str,
    ) -> Result<(Upload, u64), ChannelsError> {
        match load::<Upload>(&*self.records, kind::UPLOAD, upload_id).await? {
            Some((upload, version)) if upload.owner == owner => Ok((upload, version)),
            _ => Err(ChannelsError::UploadNotFound {
                upload_id: upload_id.to_owned(),
            }),
        }
    }

    /// Appends `bytes` at `offset`, which must be where the upload stands.
    ///
    /// # Errors
    ///
    /// [`ChannelsError::WrongOffset`] (with where to continue), an empty or oversized
    /// piece, [`ChannelsError::NotMedia`] when the first bytes are not the declared
    /// kind, [`ChannelsError::UploadUnusable`] when it was used already.
    pub async fn append_upload(
        &self,
        owner: &str,
        upload_id: &str,
        offset: u64,
        bytes: Vec<u8>,
    ) -> Result<Upload, ChannelsError> {
        let length = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if length == 0 {
            return Err(ChannelsError::invalid("body", "an empty piece"));
        }
        if length > CHUNK_BYTES_MAX {
            return Err(ChannelsError::TooLarge {
                what: "a piece",
                bytes: length,
                limit: CHUNK_BYTES_MAX,
            });
        }
        let _guard = self.locks.lock(&format!("upload:{upload_id}")).await;
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut upload, version) = self.owned_upload(owner, upload_id).await?;
            let received = upload.received_bytes();
            check_piece(&upload, offset, length)?;
            if received == 0 {
                upload.format =
                    Some(first_piece_format(upload.purpose, &bytes, upload.size_bytes)?.to_owned());
            }
            let sha256 = sha256_hex(&bytes);
            self.objects.put(sha256.clone(), bytes.clone()).await?;
            upload.chunks.push(Chunk {
                sha256,
                bytes: length,
            });
            let unit = WriteSet {
                records: vec![upload_write(&upload, Expect::Version(version))?],
                ..WriteSet::default()
            };
            if self.try_commit(unit).await? {
                return Ok(upload);
            }
        }
        Err(Self::busy("upload"))
    }

    /// The caller's complete, unused upload with its version.
    pub(crate) async fn usable_upload(
        &self,
        owner: &str,
        upload_id: &str,
    ) -> Result<(Upload, u64), ChannelsError> {
        let (upload, version) = self.owned_upload(owner, upload_id).await?;
        if upload.used_by.is_some() {
            return Err(ChannelsError::UploadUnusable {
                upload_id: upload_id.to_owned(),
                problem: "was used already",
            });
        }
        if !upload.complete() {
            return Err(ChannelsError::UploadUnusable {
                upload_id: upload_id.to_owned(),
                problem: "is not complete: send the rest first",
            });
        }
        Ok((upload, version))
    }

    /// The whole file of an upload, its pieces read back in order.
    pub(crate) async fn assemble(&self, upload: &Upload) -> Result<Vec<u8>, ChannelsError> {
        let mut bytes = Vec::with_capacity(usize::try_from(upload.size_bytes).unwrap_or(0));
        for chunk in &upload.chunks {
            let piece = self
                .objects
                .get(chunk.sha256.clone())
                .await?
                .ok_or_else(|| ChannelsError::Unavailable {
                    reason: format!(
                        "the piece {} of {} is missing",
                        chunk.sha256, upload.upload_id
                    ),
                })?;
            bytes.extend_from_slice(&piece);
        }
        Ok(bytes)
    }
}

/// Whether a piece of `length` bytes at `offset` continues `upload`.
fn check_piece(upload: &Upload, offset: u64, length: u64) -> Result<(), ChannelsError> {
    let received = upload.received_bytes();
    if upload.used_by.is_some() {
        return Err(ChannelsError::UploadUnusable {
            upload_id: upload.upload_id.clone(),
            problem: "was used already",
        });
    }
    if offset != received {
        return Err(ChannelsError::WrongOffset { received, offset });
    }
    if received + length > upload.size_bytes {
        return Err(ChannelsError::TooLarge {
            what: "the upload with this piece",
            bytes: received + length,
            limit: upload.size_bytes,
        });
    }
    Ok(())
}

/// The container the first piece shows, or why it is not media of `purpose`.
fn first_piece_format(
    purpose: UploadPurpose,
    bytes: &[u8],
    size_bytes: u64,
) -> Result<&'static str, ChannelsError> {
    let expected = match purpose {
        UploadPurpose::Video => "a video (MP4 or WebM)",
        UploadPurpose::Image => "an image (PNG, JPEG, GIF or WebP)",
    };
    let whole_file_is_short = u64::try_from(bytes.len()).unwrap_or(u64::MAX) == size_bytes;
    if bytes.len() < SNIFF_BYTES && !whole_file_is_short {
        return Err(ChannelsError::invalid(
            "body",
            format!("the first piece must hold at least {SNIFF_BYTES} bytes"),
        ));
    }
    sniff(purpose, bytes).ok_or_else(|| ChannelsError::NotMedia {
        expected,
        detail: "its first bytes are not such a file".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_known_by_their_first_bytes() {
        let mp4 = b"\0\0\0\x20ftypisom\0\0\0\0";
        assert_eq!(sniff(UploadPurpose::Video, mp4), Some("mp4"));
        assert_eq!(sniff(UploadPurpose::Image, mp4), None);
        assert_eq!(
            sniff(UploadPurpose::Video, &[0x1a, 0x45, 0xdf, 0xa3, 1]),
            Some("webm")
        );
        assert_eq!(
            sniff(UploadPurpose::Image, b"RIFF\0\0\0\0WEBPVP8 "),
            Some("webp")
        );
        assert_eq!(
            sniff(UploadPurpose::Image, b"\xff\xd8\xff\xe0"),
            Some("jpeg")
        );
        assert_eq!(sniff(UploadPurpose::Video, b"<html>hello</html>"), None);
        assert!(matches!(
            first_piece_format(UploadPurpose::Video, b"hello world, not a video", 100),
            Err(ChannelsError::NotMedia { .. })
        ));
    }
}
