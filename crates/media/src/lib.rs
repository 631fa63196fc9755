//! Media tools: what a video or an image is (`ffprobe`), a poster frame, a
//! browser-friendly H.264/AAC MP4 and perceptual frame hashes (`ffmpeg`), run as child
//! processes over a temporary file. Debian's `ffmpeg` package provides both programs.
//!
//! The one design decision: the tools are found and checked once ([`Tools::check`]), and
//! every run is bounded in time and killed when its caller gives up, so a hostile file
//! cannot hold a worker forever. Nothing here knows Plaza's records: callers get facts
//! and bytes and decide.
#![deny(missing_docs)]

mod hash;
mod probe;
pub mod webm;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

pub use hash::{FRAME_HASH_HEIGHT, FRAME_HASH_WIDTH, dhash, hamming, videos_match};
pub use probe::{ImageFacts, VideoFacts};

/// How many frames a video's perceptual hash samples, evenly over its duration.
pub const SAMPLED_FRAMES: u32 = 8;

/// The longest a probe, a poster or the frame hashes may take.
const QUICK_RUN_MAX: Duration = Duration::from_secs(60);

/// The longest a transcode may take, at least; longer videos get more (see
/// [`transcode_time_max`]).
const TRANSCODE_RUN_MIN: Duration = Duration::from_secs(120);

/// Why a tool failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// `ffmpeg` or `ffprobe` is not installed or does not run.
    #[error("{tool} is not available on this server: {reason}")]
    Missing {
        /// Which program.
        tool: &'static str,
        /// Why, for the log.
        reason: String,
    },
    /// The bytes are not media the tools can read.
    #[error("not readable as media: {reason}")]
    Unreadable {
        /// What the tool said, shortened.
        reason: String,
    },
    /// A step failed on media that probed fine (or ran out of time).
    #[error("{step} failed: {reason}")]
    Failed {
        /// Which step.
        step: &'static str,
        /// What went wrong.
        reason: String,
    },
}

/// A video processed: its facts, a poster frame, the copy browsers play (when the upload
/// itself is not one) and its frame hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessedVideo {
    /// What `ffprobe` read.
    pub facts: VideoFacts,
    /// A JPEG of a frame near the start.
    pub poster_jpeg: Vec<u8>,
    /// An H.264/AAC MP4 when the upload is not browser-friendly; `None` when it is.
    pub playable_mp4: Option<Vec<u8>>,
    /// One difference hash per sampled frame, in time order.
    pub frame_hashes: Vec<u64>,
}

/// The two programs.
#[derive(Debug, Clone)]
pub struct Tools {
    ffmpeg: PathBuf,
    ffprobe: PathBuf,
}

impl Default for Tools {
    fn default() -> Self {
        Self::new("ffmpeg", "ffprobe")
    }
}

impl Tools {
    /// The programs at these paths (or names looked up on `PATH`).
    pub fn new(ffmpeg: impl Into<PathBuf>, ffprobe: impl Into<PathBuf>) -> Self {
        Self {
            ffmpeg: ffmpeg.into(),
            ffprobe: ffprobe.into(),
        }
    }

    /// Whether both programs run.
    ///
    /// # Errors
    ///
    /// [`MediaError::Missing`] naming the one that does not.
    pub async fn check(&self) -> Result<(), MediaError> {
        for (tool, path) in [("ffprobe", &self.ffprobe), ("ffmpeg", &self.ffmpeg)] {
            let output = run(path, &["-version"], QUICK_RUN_MAX)
                .await
                .map_err(|reason| MediaError::Missing { tool, reason })?;
            if !output.status.success() {
                return Err(MediaError::Missing {
                    tool,
                    reason: format!("`{tool} -version` exited with {}", output.status),
                });
            }
        }
        Ok(())
    }

    /// What a video is, its poster, its browser copy if needed and its frame hashes.
    ///
    /// # Errors
    ///
    /// [`MediaError::Unreadable`] when `ffprobe` cannot read it or it has no video;
    /// [`MediaError::Failed`] when a later step fails.
    pub async fn process_video(&self, bytes: &[u8]) -> Result<ProcessedVideo, MediaError> {
        let input = temp_file_with(bytes)?;
        let facts = self.probe_video(input.path(), bytes.len()).await?;
        let poster_jpeg = self.poster(input.path(), &facts).await?;
        let frame_hashes = self.frame_hashes(input.path(), &facts).await?;
        let playable_mp4 = if facts.browser_friendly() {
            None
        } else {
            Some(self.transcode(input.path(), &facts).await?)
        };
        Ok(ProcessedVideo {
            facts,
            poster_jpeg,
            playable_mp4,
            frame_hashes,
        })
    }

    /// A clip made from one of ffmpeg's test sources (`testsrc`, `testsrc2`, `smptebars`,
    /// `mandelbrot`, `life`, …) with a tone, as `format`: `mp4` (H.264/AAC), `webm`
    /// (VP8/Vorbis) or `mp4v` (an MP4 of MPEG-4 Part 2 video, which browsers do not
    /// play). For the demo and tests.
    ///
    /// # Errors
    ///
    /// [`MediaError::Failed`] when ffmpeg fails or the container is not one of those.
    pub async fn generate_clip(
        &self,
        source: &str,
        seconds: u32,
        (width, height): (u32, u32),
        format: &str,
    ) -> Result<Vec<u8>, MediaError> {
        let (video, audio): (&[&str], &[&str]) = match format {
            "mp4" => (
                &[
                    "-c:v",
                    "libx264",
                    "-preset",
                    "ultrafast",
                    "-pix_fmt",
                    "yuv420p",
                ],
                &["-c:a", "aac"],
            ),
            "webm" => (
                &["-c:v", "libvpx", "-deadline", "realtime"],
                &["-c:a", "libvorbis"],
            ),
            "mp4v" => (&["-c:v", "mpeg4"], &["-c:a", "aac"]),
            other => {
                return Err(MediaError::Failed {
                    step: "clip",
                    reason: format!("no recipe for {other:?}"),
                });
            }
        };
        let output = tempfile::Builder::new()
            .suffix(if format == "webm" { ".webm" } else { ".mp4" })
            .tempfile()
            .map_err(|error| failed("clip", &error))?;
        let picture = format!("{source}=size={width}x{height}:rate=25");
        let length = seconds.to_string();
        let tone = format!("sine=frequency=440:duration={seconds}");
        let mut args: Vec<&str> = vec!["-v", "error", "-y", "-f", "lavfi", "-i", &picture];
        args.extend(["-f", "lavfi", "-i", &tone]);
        args.extend(video);
        args.extend(audio);
        args.extend(["-t", &length, path_arg(output.path())?]);
        self.ffmpeg_output("clip", &args, TRANSCODE_RUN_MIN).await?;
        tokio::fs::read(output.path())
            .await
            .map_err(|error| failed("clip", &error))
    }

    /// A clip from ffmpeg's test source `source`, written as a live WebM stream to a pipe
    /// (VP8 with a keyframe every second, Opus), as a live room receives one: the bytes
    /// in the order they left ffmpeg.
    ///
    /// # Errors
    ///
    /// [`MediaError::Failed`] when ffmpeg fails.
    pub async fn live_webm(&self, source: &str, seconds: u32) -> Result<Vec<u8>, MediaError> {
        let picture = format!("{source}=size=320x240:rate=25");
        let tone = "sine=frequency=330".to_owned();
        let length = seconds.to_string();
        let args = [
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            &picture,
            "-f",
            "lavfi",
            "-i",
            &tone,
            "-t",
            &length,
            "-c:v",
            "libvpx",
            "-deadline",
            "realtime",
            "-g",
            "25",
            "-b:v",
            "400k",
            "-c:a",
            "libopus",
            "-f",
            "webm",
            "-live",
            "1",
            "pipe:1",
        ];
        self.ffmpeg_output("live clip", &args, TRANSCODE_RUN_MIN)
            .await
    }

    /// ffmpeg playing the file at `path` in a loop at its real speed as a live WebM
    /// stream (VP8 with a keyframe a second, Opus) on its standard output: a live room
    /// fed from a file. The caller reads the stream and ends the child when done.
    ///
    /// # Errors
    ///
    /// [`MediaError::Missing`] when ffmpeg does not start.
    pub fn live_from_file(&self, path: &Path) -> Result<tokio::process::Child, MediaError> {
        tokio::process::Command::new(&self.ffmpeg)
            .args(["-v", "error", "-re", "-stream_loop", "-1", "-i"])
            .arg(path)
            .args([
                "-c:v",
                "libvpx",
                "-deadline",
                "realtime",
                "-g",
                "25",
                "-b:v",
                "600k",
                "-c:a",
                "libopus",
                "-f",
                "webm",
                "-live",
                "1",
                "pipe:1",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| MediaError::Missing {
                tool: "ffmpeg",
                reason: error.to_string(),
            })
    }

    /// The same video re-encoded and resized (another codec, another size, a lower
    /// quality): what someone re-uploading another's video would make. For tests and the
    /// demo's copy.
    ///
    /// # Errors
    ///
    /// [`MediaError::Failed`] when ffmpeg fails.
    pub async fn reencode_resized(&self, bytes: &[u8], width: u32) -> Result<Vec<u8>, MediaError> {
        let input = temp_file_with(bytes)?;
        let output = tempfile::Builder::new()
            .suffix(".mp4")
            .tempfile()
            .map_err(|error| failed("re-encode", &error))?;
        let scale = format!("scale={width}:-2");
        let args = [
            "-v",
            "error",
            "-y",
            "-i",
            path_arg(input.path())?,
            "-vf",
            &scale,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "35",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            path_arg(output.path())?,
        ];
        self.ffmpeg_output("re-encode", &args, TRANSCODE_RUN_MIN)
            .await?;
        tokio::fs::read(output.path())
            .await
            .map_err(|error| failed("re-encode", &error))
    }

    /// What an image is (width, height, codec).
    ///
    /// # Errors
    ///
    /// [`MediaError::Unreadable`] when `ffprobe` cannot read it as an image.
    pub async fn image_facts(&self, bytes: &[u8]) -> Result<ImageFacts, MediaError> {
        let input = temp_file_with(bytes)?;
        let json = self.probe_json(input.path()).await?;
        ImageFacts::from_probe(&json)
    }

    /// The facts of the video at `path` (`size_bytes` long).
    async fn probe_video(&self, path: &Path, size_bytes: usize) -> Result<VideoFacts, MediaError> {
        let json = self.probe_json(path).await?;
        VideoFacts::from_probe(&json, size_bytes)
    }

    async fn probe_json(&self, path: &Path) -> Result<serde_json::Value, MediaError> {
        let path_text = path_arg(path)?;
        let args = [
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            path_text,
        ];
        let output = run(&self.ffprobe, &args, QUICK_RUN_MAX)
            .await
            .map_err(|reason| MediaError::Unreadable { reason })?;
        if !output.status.success() {
            return Err(MediaError::Unreadable {
                reason: stderr_line(&output.stderr),
            });
        }
        serde_json::from_slice(&output.stdout).map_err(|error| MediaError::Unreadable {
            reason: format!("ffprobe's answer: {error}"),
        })
    }

    /// A JPEG of the frame a second in (or halfway through a shorter video), at most
    /// 720 pixels wide.
    async fn poster(&self, path: &Path, facts: &VideoFacts) -> Result<Vec<u8>, MediaError> {
        let at_ms = facts.duration_ms.min(2_000) / 2;
        let at = format!("{}.{:03}", at_ms / 1_000, at_ms % 1_000);
        let args = [
            "-v",
            "error",
            "-ss",
            &at,
            "-i",
            path_arg(path)?,
            "-frames:v",
            "1",
            "-vf",
            "scale='min(720,iw)':-2",
            "-f",
            "image2",
            "-c:v",
            "mjpeg",
            "pipe:1",
        ];
        let bytes = self.ffmpeg_output("poster", &args, QUICK_RUN_MAX).await?;
        if bytes.is_empty() {
            return Err(MediaError::Failed {
                step: "poster",
                reason: "no frame came out".to_owned(),
            });
        }
        Ok(bytes)
    }

    /// One difference hash for each of [`SAMPLED_FRAMES`] frames spread evenly over the
    /// video: each frame shrunk to 9×8 grey pixels by area averaging, so re-encoding and
    /// resizing change few bits.
    async fn frame_hashes(&self, path: &Path, facts: &VideoFacts) -> Result<Vec<u64>, MediaError> {
        let duration_ms = facts.duration_ms.max(1);
        let filter = format!(
            "fps={}/{duration_ms},scale={FRAME_HASH_WIDTH}:{FRAME_HASH_HEIGHT}:flags=area,format=gray",
            u64::from(SAMPLED_FRAMES) * 1_000
        );
        let frames = SAMPLED_FRAMES.to_string();
        let args = [
            "-v",
            "error",
            "-i",
            path_arg(path)?,
            "-an",
            "-vf",
            &filter,
            "-frames:v",
            &frames,
            "-f",
            "rawvideo",
            "pipe:1",
        ];
        let raw = self
            .ffmpeg_output("frame hashes", &args, QUICK_RUN_MAX)
            .await?;
        let frame_bytes = FRAME_HASH_WIDTH * FRAME_HASH_HEIGHT;
        let hashes: Vec<u64> = raw.chunks_exact(frame_bytes).map(dhash).collect();
        if hashes.is_empty() {
            return Err(MediaError::Failed {
                step: "frame hashes",
                reason: "no frame came out".to_owned(),
            });
        }
        Ok(hashes)
    }

    /// An H.264/AAC MP4 with its index first (so a browser can start before the end).
    async fn transcode(&self, path: &Path, facts: &VideoFacts) -> Result<Vec<u8>, MediaError> {
        let output = tempfile::Builder::new()
            .suffix(".mp4")
            .tempfile()
            .map_err(|error| failed("transcode", &error))?;
        let output_path = path_arg(output.path())?;
        let args = [
            "-v",
            "error",
            "-y",
            "-i",
            path_arg(path)?,
            "-map",
            "0:v:0",
            "-map",
            "0:a:0?",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "26",
            "-pix_fmt",
            "yuv420p",
            "-vf",
            "scale='min(1280,iw)':-2",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            output_path,
        ];
        self.ffmpeg_output("transcode", &args, transcode_time_max(facts.duration_ms))
            .await?;
        let bytes = tokio::fs::read(output.path())
            .await
            .map_err(|error| failed("transcode", &error))?;
        if bytes.is_empty() {
            return Err(MediaError::Failed {
                step: "transcode",
                reason: "the output is empty".to_owned(),
            });
        }
        Ok(bytes)
    }

    async fn ffmpeg_output(
        &self,
        step: &'static str,
        args: &[&str],
        time_max: Duration,
    ) -> Result<Vec<u8>, MediaError> {
        let output = run(&self.ffmpeg, args, time_max)
            .await
            .map_err(|reason| MediaError::Failed { step, reason })?;
        if !output.status.success() {
            return Err(MediaError::Failed {
                step,
                reason: stderr_line(&output.stderr),
            });
        }
        Ok(output.stdout)
    }
}

/// A transcode's time bound: two minutes, or four times the video's length if longer
/// (`veryfast` runs several times faster than real time on two cores).
fn transcode_time_max(duration_ms: u64) -> Duration {
    TRANSCODE_RUN_MIN.max(Duration::from_millis(duration_ms.saturating_mul(4)))
}

fn failed(step: &'static str, error: &std::io::Error) -> MediaError {
    MediaError::Failed {
        step,
        reason: error.to_string(),
    }
}

/// The bytes in a fresh temporary file (removed when dropped).
fn temp_file_with(bytes: &[u8]) -> Result<tempfile::NamedTempFile, MediaError> {
    use std::io::Write as _;
    let mut file = tempfile::NamedTempFile::new().map_err(|error| failed("staging", &error))?;
    file.write_all(bytes)
        .and_then(|()| file.flush())
        .map_err(|error| failed("staging", &error))?;
    Ok(file)
}

fn path_arg(path: &Path) -> Result<&str, MediaError> {
    path.to_str().ok_or_else(|| MediaError::Failed {
        step: "staging",
        reason: "the temporary folder's path is not UTF-8".to_owned(),
    })
}

/// Runs a program to its end within `time_max`, killing it when the time is up or the
/// caller goes away.
async fn run(
    program: &Path,
    args: &[&str],
    time_max: Duration,
) -> Result<std::process::Output, String> {
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("{}: {error}", program.display()))?;
    match tokio::time::timeout(time_max, child.wait_with_output()).await {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(error)) => Err(format!("{}: {error}", program.display())),
        Err(_) => Err(format!(
            "{} ran longer than {} s",
            program.display(),
            time_max.as_secs()
        )),
    }
}

/// The last non-empty line a tool wrote to stderr, at most 200 characters.
fn stderr_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("exited without saying why");
    line.chars().take(200).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn transcodes_get_at_least_two_minutes_and_four_times_the_length() {
        assert_eq!(transcode_time_max(1_000), TRANSCODE_RUN_MIN);
        assert_eq!(transcode_time_max(60_000), Duration::from_secs(240));
    }

    #[test]
    fn a_tool_says_its_last_line() {
        assert_eq!(stderr_line(b"first\nsecond\n\n"), "second");
        assert_eq!(stderr_line(b""), "exited without saying why");
    }

    #[tokio::test]
    async fn a_missing_program_is_named() {
        let tools = Tools::new("/nonexistent/ffmpeg", "/nonexistent/ffprobe");
        match tools.check().await {
            Err(MediaError::Missing { tool, .. }) => assert_eq!(tool, "ffprobe"),
            other => panic!("{other:?}"),
        }
    }
}
