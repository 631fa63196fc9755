//! The tools against Debian's ffmpeg: clips made from test sources are probed, given a
//! poster and hashes; a re-encoded, resized copy matches its original and another clip
//! does not; a non-browser format is transcoded to H.264/AAC; garbage is unreadable.
#![allow(clippy::unwrap_used, reason = "tests")]

use plaza_media::webm::{Piece, Splitter};
use plaza_media::{MediaError, Tools, videos_match};

#[tokio::test]
async fn clips_are_processed_and_copies_recognised() {
    let tools = Tools::default();
    tools
        .check()
        .await
        .expect("ffmpeg and ffprobe are installed (.ci/run installs them)");
    let original = tools
        .generate_clip("testsrc", 3, (640, 360), "mp4")
        .await
        .unwrap();
    let processed = tools.process_video(&original).await.unwrap();
    assert_eq!((processed.facts.width, processed.facts.height), (640, 360));
    assert!(
        (2_900..=3_100).contains(&processed.facts.duration_ms),
        "{:?}",
        processed.facts
    );
    assert_eq!(processed.facts.video_codec, "h264");
    assert!(
        processed.playable_mp4.is_none(),
        "an H.264/AAC MP4 plays as it is"
    );
    assert!(
        processed.poster_jpeg.starts_with(&[0xff, 0xd8]),
        "the poster is a JPEG"
    );
    assert!(
        processed.frame_hashes.len() >= 6,
        "{:?}",
        processed.frame_hashes
    );

    let copy = tools.reencode_resized(&original, 320).await.unwrap();
    assert_ne!(copy, original);
    let copied = tools.process_video(&copy).await.unwrap();
    assert_eq!(copied.facts.width, 320);
    assert!(videos_match(&processed.frame_hashes, &copied.frame_hashes));

    let other = tools
        .generate_clip("mandelbrot", 3, (640, 360), "mp4")
        .await
        .unwrap();
    let different = tools.process_video(&other).await.unwrap();
    assert!(!videos_match(
        &processed.frame_hashes,
        &different.frame_hashes
    ));
}

#[tokio::test]
async fn a_format_browsers_do_not_play_is_transcoded() {
    let tools = Tools::default();
    let mp4v = tools
        .generate_clip("smptebars", 2, (320, 240), "mp4v")
        .await
        .unwrap();
    let processed = tools.process_video(&mp4v).await.unwrap();
    assert_eq!(processed.facts.video_codec, "mpeg4");
    let playable = processed.playable_mp4.expect("MPEG-4 Part 2 is transcoded");
    let again = tools.process_video(&playable).await.unwrap();
    assert_eq!(again.facts.video_codec, "h264");
    assert_eq!(again.facts.audio_codec.as_deref(), Some("aac"));
    assert!(again.facts.browser_friendly());
}

#[tokio::test]
async fn garbage_and_truncated_files_are_unreadable() {
    let tools = Tools::default();
    let garbage = tools.process_video(b"this is not a video at all").await;
    assert!(
        matches!(garbage, Err(MediaError::Unreadable { .. })),
        "{garbage:?}"
    );
    let clip = tools
        .generate_clip("testsrc", 2, (320, 240), "webm")
        .await
        .unwrap();
    let truncated = tools.process_video(&clip[..200]).await;
    assert!(truncated.is_err(), "{truncated:?}");
}

#[tokio::test]
async fn a_live_webm_stream_is_cut_into_init_and_clusters_starting_at_keyframes() {
    let tools = Tools::default();
    let stream = tools.live_webm("testsrc2", 4).await.unwrap();
    let mut splitter = Splitter::new();
    let mut pieces = Vec::new();
    let mut step = 1;
    let mut at = 0;
    while at < stream.len() {
        let end = (at + step).min(stream.len());
        pieces.extend(splitter.push(&stream[at..end]).unwrap());
        at = end;
        step = step * 7 % 5_003 + 1;
    }
    let Some(Piece::Init(init)) = pieces.first() else {
        panic!(
            "the first piece is the init segment: {:?}",
            pieces.first().map(std::mem::discriminant)
        );
    };
    assert!(stream.starts_with(init));
    let rest: Vec<u8> = pieces[1..]
        .iter()
        .flat_map(|piece| match piece {
            Piece::ClusterStart { bytes, .. } | Piece::ClusterMore(bytes) => bytes.clone(),
            Piece::Init(_) => panic!("one init segment"),
        })
        .collect();
    assert_eq!(
        [init.clone(), rest].concat(),
        stream,
        "every byte once, in order"
    );
    let keys = pieces
        .iter()
        .filter(|piece| matches!(piece, Piece::ClusterStart { key: true, .. }))
        .count();
    assert!(keys >= 3, "a keyframe each second starts a cluster: {keys}");
}
