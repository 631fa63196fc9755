//! What `ffprobe -print_format json -show_format -show_streams` says about a file, read
//! into the facts Plaza keeps.

use serde_json::Value;

use crate::MediaError;

/// A video as `ffprobe` read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoFacts {
    /// Its length in milliseconds.
    pub duration_ms: u64,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// The first video stream's codec (`h264`, `vp9`, …).
    pub video_codec: String,
    /// Its pixel format (`yuv420p`, …).
    pub pixel_format: String,
    /// The first audio stream's codec, if it has sound.
    pub audio_codec: Option<String>,
    /// The container formats `ffprobe` names (`mov,mp4,m4a,3gp,3g2,mj2`, `matroska,webm`).
    pub container: String,
    /// An MP4's major brand (`isom`, `mp42`; `qt` is a QuickTime movie).
    pub major_brand: Option<String>,
    /// The file's size.
    pub size_bytes: u64,
}

impl VideoFacts {
    pub(crate) fn from_probe(json: &Value, size_bytes: usize) -> Result<Self, MediaError> {
        let streams = json["streams"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let of_type = |kind: &str| {
            streams.iter().find(|stream| {
                stream["codec_type"] == kind && stream["disposition"]["attached_pic"] != 1
            })
        };
        let video = of_type("video").ok_or_else(|| MediaError::Unreadable {
            reason: "it has no video stream".to_owned(),
        })?;
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        let number = |value: &Value| {
            value
                .as_str()
                .and_then(|text| text.parse::<f64>().ok())
                .or_else(|| value.as_f64())
        };
        let seconds = number(&json["format"]["duration"])
            .or_else(|| number(&video["duration"]))
            .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
            .ok_or_else(|| MediaError::Unreadable {
                reason: "it has no duration".to_owned(),
            })?;
        let dimension = |value: &Value| {
            value
                .as_u64()
                .and_then(|pixels| u32::try_from(pixels).ok())
                .filter(|pixels| *pixels > 0)
        };
        let (Some(width), Some(height)) = (dimension(&video["width"]), dimension(&video["height"]))
        else {
            return Err(MediaError::Unreadable {
                reason: "its video has no frame size".to_owned(),
            });
        };
        Ok(Self {
            // Rounded to whole milliseconds; `seconds` is positive and finite.
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "a positive finite duration in ms fits u64 for any real file"
            )]
            duration_ms: (seconds * 1_000.0).round() as u64,
            width,
            height,
            video_codec: text(&video["codec_name"]),
            pixel_format: text(&video["pix_fmt"]),
            audio_codec: of_type("audio").map(|audio| text(&audio["codec_name"])),
            container: text(&json["format"]["format_name"]),
            major_brand: json["format"]["tags"]["major_brand"]
                .as_str()
                .map(|brand| brand.trim().to_owned()),
            size_bytes: u64::try_from(size_bytes).unwrap_or(u64::MAX),
        })
    }

    /// Whether browsers play the file as it is: an MP4 (not a QuickTime movie) of 4:2:0
    /// H.264 with AAC, MP3 or no sound, or a WebM of VP8, VP9 or AV1 with Opus, Vorbis or
    /// no sound.
    pub fn browser_friendly(&self) -> bool {
        let audio = self.audio_codec.as_deref();
        let mp4 = self.container.split(',').any(|name| name == "mp4")
            && self.major_brand.as_deref() != Some("qt")
            && self.video_codec == "h264"
            && self.pixel_format == "yuv420p"
            && matches!(audio, None | Some("aac" | "mp3"));
        let webm = self.container.split(',').any(|name| name == "webm")
            && matches!(self.video_codec.as_str(), "vp8" | "vp9" | "av1")
            && matches!(audio, None | Some("opus" | "vorbis"));
        mp4 || webm
    }
}

/// An image as `ffprobe` read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFacts {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Its codec (`mjpeg`, `png`, `gif`, `webp`).
    pub codec: String,
}

impl ImageFacts {
    pub(crate) fn from_probe(json: &Value) -> Result<Self, MediaError> {
        let streams = json["streams"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let image = streams
            .iter()
            .find(|stream| stream["codec_type"] == "video")
            .ok_or_else(|| MediaError::Unreadable {
                reason: "it is not an image".to_owned(),
            })?;
        let dimension = |value: &Value| {
            value
                .as_u64()
                .and_then(|pixels| u32::try_from(pixels).ok())
                .filter(|pixels| *pixels > 0)
        };
        let (Some(width), Some(height)) = (dimension(&image["width"]), dimension(&image["height"]))
        else {
            return Err(MediaError::Unreadable {
                reason: "the image has no size".to_owned(),
            });
        };
        Ok(Self {
            width,
            height,
            codec: image["codec_name"].as_str().unwrap_or_default().to_owned(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use serde_json::json;

    fn probe(format: &str, brand: &str, video: &str, audio: Option<&str>) -> Value {
        let mut streams = vec![
            json!({"codec_type": "video", "codec_name": video, "pix_fmt": "yuv420p", "width": 640, "height": 360}),
        ];
        if let Some(audio) = audio {
            streams.push(json!({"codec_type": "audio", "codec_name": audio}));
        }
        json!({"streams": streams, "format": {"format_name": format, "duration": "2.500000", "tags": {"major_brand": brand}}})
    }

    #[test]
    fn facts_are_read_and_browser_friendliness_decided() {
        // The probe fixtures are complete videos by construction; a refusal is the failure under test.
        let mp4 = VideoFacts::from_probe(
            &probe("mov,mp4,m4a,3gp,3g2,mj2", "isom", "h264", Some("aac")),
            10,
        )
        .unwrap();
        assert_eq!((mp4.duration_ms, mp4.width, mp4.height), (2_500, 640, 360));
        assert!(mp4.browser_friendly());
        // The probe fixtures are complete videos by construction; a refusal is the failure under test.
        let movie = VideoFacts::from_probe(
            &probe("mov,mp4,m4a,3gp,3g2,mj2", "qt  ", "h264", Some("aac")),
            10,
        )
        .unwrap();
        assert!(!movie.browser_friendly());
        // The probe fixtures are complete videos by construction; a refusal is the failure under test.
        let webm =
            VideoFacts::from_probe(&probe("matroska,webm", "", "vp9", Some("opus")), 10).unwrap();
        assert!(webm.browser_friendly());
        // The probe fixtures are complete videos by construction; a refusal is the failure under test.
        let mpeg4 =
            VideoFacts::from_probe(&probe("mov,mp4,m4a,3gp,3g2,mj2", "isom", "mpeg4", None), 10)
                .unwrap();
        assert!(!mpeg4.browser_friendly());
        // The probe fixtures are complete videos by construction; a refusal is the failure under test.
        let avi = VideoFacts::from_probe(&probe("avi", "", "h264", Some("mp3")), 10).unwrap();
        assert!(!avi.browser_friendly());
    }

    #[test]
    fn audio_alone_or_no_duration_is_unreadable() {
        let audio = json!({"streams": [{"codec_type": "audio", "codec_name": "mp3"}], "format": {"duration": "3"}});
        assert!(matches!(
            VideoFacts::from_probe(&audio, 1),
            Err(MediaError::Unreadable { .. })
        ));
        let still =
            json!({"streams": [{"codec_type": "video", "width": 1, "height": 1}], "format": {}});
        assert!(matches!(
            VideoFacts::from_probe(&still, 1),
            Err(MediaError::Unreadable { .. })
        ));
    }
}
