//! Cutting a live WebM stream (a browser's `MediaRecorder`, or ffmpeg writing to a
//! pipe) into what a live room needs: the initialisation segment (everything before the
//! first cluster), then each cluster's start — marked when its first video block is a
//! keyframe, where a late joiner can begin — and the rest of each cluster as it
//! arrives. Bytes go in as they come, in pieces of any size; every byte after the
//! initialisation segment comes out exactly once, in order.
//!
//! Only the element framing is read (EBML ids and sizes; clusters of known or unknown
//! size, as `MediaRecorder` writes them), the tracks to know which is video, and each
//! simple block's track and keyframe flag. Nothing is decoded.

/// The EBML header's id.
const EBML: u32 = 0x1A45_DFA3;
/// The segment's id.
const SEGMENT: u32 = 0x1853_8067;
/// A cluster's id.
const CLUSTER: u32 = 0x1F43_B675;
/// The tracks element and what is read inside it.
const TRACKS: u32 = 0x1654_AE6B;
const TRACK_ENTRY: u32 = 0xAE;
const TRACK_NUMBER: u32 = 0xD7;
const TRACK_TYPE: u32 = 0x83;
/// A simple block.
const SIMPLE_BLOCK: u32 = 0xA3;
/// Segment-level elements other than clusters: one of them ends a cluster of unknown
/// size as a new cluster does.
const SEGMENT_LEVEL: [u32; 6] = [
    0x114D_9B74, // SeekHead
    0x1549_A966, // Info
    TRACKS,
    0x1C53_BB6B, // Cues
    0x1941_A469, // Attachments
    0x1254_C367, // Tags
];
/// The largest element accepted whole (a frame, the tracks): bounds the memory a
/// hostile stream can make the splitter hold.
pub const ELEMENT_BYTES_MAX: u64 = 32 * 1024 * 1024;

/// What the splitter cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// The initialisation segment: the EBML header, the segment's header, its info and
    /// tracks.
    Init(Vec<u8>),
    /// A cluster's header and its first blocks, up to its first video block (or first
    /// block, without video); `key` when that block is a keyframe.
    ClusterStart {
        /// The bytes.
        bytes: Vec<u8>,
        /// Whether a player can start here.
        key: bool,
    },
    /// More of the current cluster.
    ClusterMore(Vec<u8>),
}

/// Why a stream cannot be cut.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebmError {
    /// The bytes are not a WebM stream's framing.
    #[error("not a WebM stream: {0}")]
    Malformed(&'static str),
    /// An element larger than [`ELEMENT_BYTES_MAX`].
    #[error("an element of {0} bytes is larger than allowed")]
    TooLarge(u64),
}

/// Where the splitter stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the EBML header.
    Header,
    /// Before the segment's header.
    Segment,
    /// Between segment-level elements (before the first cluster: the init segment).
    SegmentChildren,
    /// Inside a cluster; `end` is where it ends when its size is known (bytes from the
    /// stream's start).
    Cluster { end: Option<u64> },
}

/// An element's id and size as read from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    id: u32,
    /// `None`: unknown size.
    size: Option<u64>,
    /// The header's own length.
    length: usize,
}

/// Reads an element id (with its length marker, as ids are written) at the start of
/// `bytes`: `Ok(None)` when more bytes are needed.
fn read_id(bytes: &[u8]) -> Result<Option<(u32, usize)>, WebmError> {
    let Some(&first) = bytes.first() else {
        return Ok(None);
    };
    let length = first.leading_zeros() as usize + 1;
    if length > 4 {
        return Err(WebmError::Malformed("an element id longer than 4 bytes"));
    }
    let Some(id_bytes) = bytes.get(..length) else {
        return Ok(None);
    };
    let id = id_bytes
        .iter()
        .fold(0_u32, |id, &byte| (id << 8) | u32::from(byte));
    Ok(Some((id, length)))
}

/// Reads a variable-size integer (marker removed) at the start of `bytes`:
/// `Ok(None)` when more bytes are needed; the value is `None` when all its bits are
/// set (an unknown size).
fn read_vint(bytes: &[u8]) -> Result<Option<(Option<u64>, usize)>, WebmError> {
    let Some(&first) = bytes.first() else {
        return Ok(None);
    };
    let length = first.leading_zeros() as usize + 1;
    if length > 8 {
        return Err(WebmError::Malformed("a size longer than 8 bytes"));
    }
    let Some(size_bytes) = bytes.get(..length) else {
        return Ok(None);
    };
    let marker_cleared = u64::from(first) & (0xFF_u64 >> length);
    let value = size_bytes[1..].iter().fold(marker_cleared, |value, &byte| {
        (value << 8) | u64::from(byte)
    });
    let all_ones = (1_u64 << (7 * length)) - 1;
    Ok(Some(((value != all_ones).then_some(value), length)))
}

/// An element's header at the start of `bytes`, or `Ok(None)` when incomplete.
fn read_header(bytes: &[u8]) -> Result<Option<Header>, WebmError> {
    let Some((id, id_length)) = read_id(bytes)? else {
        return Ok(None);
    };
    let Some((size, size_length)) = read_vint(&bytes[id_length..])? else {
        return Ok(None);
    };
    if size.is_some_and(|size| size > ELEMENT_BYTES_MAX) && id != SEGMENT && id != CLUSTER {
        return Err(WebmError::TooLarge(size.unwrap_or(0)));
    }
    Ok(Some(Header {
        id,
        size,
        length: id_length + size_length,
    }))
}

/// The children of an element body: (id, body) pairs, stopping at the first that does
/// not fit.
fn children(body: &[u8]) -> Vec<(u32, &[u8])> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Ok(Some(header)) = read_header(&body[at..]) {
        let Some(size) = header.size.and_then(|size| usize::try_from(size).ok()) else {
            break;
        };
        let start = at + header.length;
        let Some(child) = body.get(start..start + size) else {
            break;
        };
        found.push((header.id, child));
        at = start + size;
    }
    found
}

/// The video track's number in a tracks element's body, if it has one.
fn video_track(tracks: &[u8]) -> Option<u64> {
    children(tracks)
        .into_iter()
        .filter(|(id, _)| *id == TRACK_ENTRY)
        .find_map(|(_, entry)| {
            let fields = children(entry);
            let number = |wanted: u32| {
                fields
                    .iter()
                    .find(|(id, _)| *id == wanted)
                    .map(|(_, value)| {
                        value
                            .iter()
                            .fold(0_u64, |number, &byte| (number << 8) | u64::from(byte))
                    })
            };
            (number(TRACK_TYPE) == Some(1))
                .then(|| number(TRACK_NUMBER))
                .flatten()
        })
}

/// A simple block's track and whether it is a keyframe.
fn block_track_and_key(body: &[u8]) -> Option<(u64, bool)> {
    let (track, length) = read_vint(body).ok()??;
    let flags = body.get(length + 2)?;
    Some((track?, flags & 0x80 != 0))
}

/// Cuts a live WebM stream fed in pieces of any size.
#[derive(Debug)]
pub struct Splitter {
    phase: Phase,
    /// Bytes received and not yet cut.
    pending: Vec<u8>,
    /// The stream offset of `pending[0]`.
    offset: u64,
    /// The initialisation segment so far (until the first cluster).
    init: Vec<u8>,
    /// The video track, once the tracks were read.
    video: Option<u64>,
    /// Whether the first cluster began (the init segment was given out).
    clusters_seen: bool,
    /// The current cluster's bytes before its start piece was given out.
    start: Option<Vec<u8>>,
    /// Bytes of the current cluster cut in this call, after its start.
    more: Vec<u8>,
}

impl Default for Splitter {
    fn default() -> Self {
        Self::new()
    }
}

impl Splitter {
    /// A splitter at the start of a stream.
    pub fn new() -> Self {
        Self {
            phase: Phase::Header,
            pending: Vec::new(),
            offset: 0,
            init: Vec::new(),
            video: None,
            clusters_seen: false,
            start: None,
            more: Vec::new(),
        }
    }

    /// Takes the next bytes of the stream; the pieces they complete.
    ///
    /// # Errors
    ///
    /// [`WebmError`] when the stream is not WebM or holds an oversized element; the
    /// splitter should then be dropped.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<Piece>, WebmError> {
        self.pending.extend_from_slice(bytes);
        let mut pieces = Vec::new();
        while self.step(&mut pieces)? {}
        self.flush_more(&mut pieces);
        Ok(pieces)
    }

    /// Moves `length` bytes from the front of `pending`.
    fn take(&mut self, length: usize) -> Vec<u8> {
        self.offset += length as u64;
        self.pending.drain(..length).collect()
    }

    fn flush_more(&mut self, pieces: &mut Vec<Piece>) {
        if !self.more.is_empty() {
            pieces.push(Piece::ClusterMore(std::mem::take(&mut self.more)));
        }
    }

    /// Ends the current cluster: a start never given out goes out as one (not key).
    fn end_cluster(&mut self, pieces: &mut Vec<Piece>) {
        self.flush_more(pieces);
        if let Some(bytes) = self.start.take() {
            pieces.push(Piece::ClusterStart { bytes, key: false });
        }
    }

    /// Cuts one element (or header); `Ok(false)` when more bytes are needed.
    fn step(&mut self, pieces: &mut Vec<Piece>) -> Result<bool, WebmError> {
        let Some(header) = read_header(&self.pending)? else {
            return Ok(false);
        };
        match self.phase {
            Phase::Header => {
                if header.id != EBML {
                    return Err(WebmError::Malformed(
                        "it does not start with an EBML header",
                    ));
                }
                self.whole_into_init(header)
            }
            Phase::Segment => {
                if header.id != SEGMENT {
                    return Err(WebmError::Malformed("no segment after the EBML header"));
                }
                let bytes = self.take(header.length);
                self.init.extend(bytes);
                self.phase = Phase::SegmentChildren;
                Ok(true)
            }
            Phase::SegmentChildren => self.segment_child(header, pieces),
            Phase::Cluster { end } => self.cluster_child(header, end, pieces),
        }
    }

    /// The EBML header, whole, into the init segment.
    fn whole_into_init(&mut self, header: Header) -> Result<bool, WebmError> {
        let size = header
            .size
            .ok_or(WebmError::Malformed("an EBML header of unknown size"))?;
        let whole = header.length + usize::try_from(size).unwrap_or(usize::MAX);
        if self.pending.len() < whole {
            return Ok(false);
        }
        let bytes = self.take(whole);
        self.init.extend(bytes);
        self.phase = Phase::Segment;
        Ok(true)
    }

    /// A segment-level element: a cluster starts, or a known-size element goes into the
    /// init segment (before the first cluster) or after the previous cluster.
    fn segment_child(
        &mut self,
        header: Header,
        pieces: &mut Vec<Piece>,
    ) -> Result<bool, WebmError> {
        if header.id == CLUSTER {
            if !self.clusters_seen {
                self.clusters_seen = true;
                pieces.push(Piece::Init(std::mem::take(&mut self.init)));
            }
            let end = header
                .size
                .map(|size| self.offset + header.length as u64 + size);
            self.start = Some(self.take(header.length));
            self.phase = Phase::Cluster { end };
            return Ok(true);
        }
        let size = header
            .size
            .ok_or(WebmError::Malformed("a segment element of unknown size"))?;
        let whole = header.length + usize::try_from(size).unwrap_or(usize::MAX);
        if self.pending.len() < whole {
            return Ok(false);
        }
        let bytes = self.take(whole);
        if header.id == TRACKS {
            self.video = video_track(&bytes[header.length..]);
        }
        if self.clusters_seen {
            // Cues or tags between clusters go on with the stream.
            self.more.extend(bytes);
        } else {
            self.init.extend(bytes);
        }
        Ok(true)
    }

    /// An element inside a cluster: a new cluster or a segment-level element ends it;
    /// a block is cut whole and may complete the cluster's start.
    fn cluster_child(
        &mut self,
        header: Header,
        end: Option<u64>,
        pieces: &mut Vec<Piece>,
    ) -> Result<bool, WebmError> {
        if end.is_some_and(|end| self.offset >= end)
            || header.id == CLUSTER
            || SEGMENT_LEVEL.contains(&header.id)
        {
            self.end_cluster(pieces);
            self.phase = Phase::SegmentChildren;
            return Ok(true);
        }
        let size = header
            .size
            .ok_or(WebmError::Malformed("a cluster child of unknown size"))?;
        let whole = header.length + usize::try_from(size).unwrap_or(usize::MAX);
        if self.pending.len() < whole {
            return Ok(false);
        }
        let bytes = self.take(whole);
        let block = (header.id == SIMPLE_BLOCK)
            .then(|| block_track_and_key(&bytes[header.length..]))
            .flatten();
        match self.start.as_mut() {
            Some(start) => {
                start.extend_from_slice(&bytes);
                let decides =
                    block.filter(|(track, _)| self.video.is_none_or(|video| video == *track));
                if let Some((_, key)) = decides {
                    let bytes = self.start.take().unwrap_or_default();
                    pieces.push(Piece::ClusterStart { bytes, key });
                }
            }
            None => self.more.extend(bytes),
        }
        if end.is_some_and(|end| self.offset >= end) {
            self.end_cluster(pieces);
            self.phase = Phase::SegmentChildren;
        }
        Ok(true)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn element(id: &[u8], body: &[u8]) -> Vec<u8> {
        let mut bytes = id.to_vec();
        assert!(body.len() < 0x3FFF);
        bytes.extend([
            // Bodies are asserted under 0x3FFF bytes just above, so each part fits a byte.
            0x40 | u8::try_from(body.len() >> 8).unwrap(),
            // Masked to one byte.
            u8::try_from(body.len() & 0xFF).unwrap(),
        ]);
        bytes.extend(body);
        bytes
    }

    fn block(track: u8, key: bool) -> Vec<u8> {
        element(
            &[0xA3],
            &[0x80 | track, 0, 0, if key { 0x80 } else { 0 }, 1, 2, 3],
        )
    }

    /// A stream with video track 1 and audio track 2, clusters of unknown size.
    fn stream() -> (Vec<u8>, Vec<u8>) {
        let mut init = element(&[0x1A, 0x45, 0xDF, 0xA3], &[0x42, 0x86, 0x81, 0x01]);
        init.extend([
            0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        init.extend(element(
            &[0x15, 0x49, 0xA9, 0x66],
            &[0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40],
        ));
        let video = [element(&[0xD7], &[1]), element(&[0x83], &[1])].concat();
        let audio = [element(&[0xD7], &[2]), element(&[0x83], &[2])].concat();
        let tracks = [element(&[0xAE], &audio), element(&[0xAE], &video)].concat();
        init.extend(element(&[0x16, 0x54, 0xAE, 0x6B], &tracks));
        let mut clusters = Vec::new();
        for (index, key) in [true, false, true].into_iter().enumerate() {
            clusters.extend([
                0x1F, 0x43, 0xB6, 0x75, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
            ]);
            // Three clusters: the index is at most 2.
            clusters.extend(element(&[0xE7], &[u8::try_from(index).unwrap()]));
            clusters.extend(block(2, true));
            clusters.extend(block(1, key));
            clusters.extend(block(2, true));
            clusters.extend(block(1, false));
        }
        (init, clusters)
    }

    fn cut(bytes: &[u8], step: usize) -> Vec<Piece> {
        let mut splitter = Splitter::new();
        // The stream is well-formed by construction; a refusal is the failure under test.
        bytes
            .chunks(step)
            .flat_map(|chunk| splitter.push(chunk).unwrap())
            .collect()
    }

    #[test]
    fn every_byte_comes_out_once_whatever_the_pieces() {
        let (init, clusters) = stream();
        let whole = [init.clone(), clusters.clone()].concat();
        for step in [1, 2, 3, 7, 16, 64, whole.len()] {
            let pieces = cut(&whole, step);
            assert_eq!(
                pieces.first(),
                Some(&Piece::Init(init.clone())),
                "step {step}"
            );
            let rest: Vec<u8> = pieces[1..]
                .iter()
                .flat_map(|piece| match piece {
                    Piece::ClusterStart { bytes, .. } | Piece::ClusterMore(bytes) => bytes.clone(),
                    Piece::Init(_) => panic!("one init"),
                })
                .collect();
            // The last cluster's final block waits for what follows it only when the
            // size is unknown and nothing followed: every block is complete, so all
            // bytes came out.
            assert_eq!(rest, clusters, "step {step}");
            let keys: Vec<bool> = pieces
                .iter()
                .filter_map(|piece| match piece {
                    Piece::ClusterStart { key, .. } => Some(*key),
                    _ => None,
                })
                .collect();
            assert_eq!(
                keys,
                [true, false, true],
                "the video block decides, not the audio: step {step}"
            );
        }
    }

    #[test]
    fn what_is_not_webm_is_refused() {
        let mut splitter = Splitter::new();
        assert!(splitter.push(b"<html>not a video</html>").is_err());
        let mut huge = Splitter::new();
        let header = element(&[0x1A, 0x45, 0xDF, 0xA3], &[0x42, 0x86, 0x81, 0x01]);
        let mut stream = header;
        stream.extend([
            0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        stream.extend([0x16, 0x54, 0xAE, 0x6B, 0x01, 0, 0, 0, 0x10, 0, 0, 0]);
        assert_eq!(huge.push(&stream), Err(WebmError::TooLarge(0x10_00_00_00)));
    }
}
