//! Channels in headless Chromium (`tests/web/channels.mjs`): the feed from Discover at
//! phone size with a video that plays, a like, the explanation of a card, the post page
//! with a comment and a reply, and a creator's upload from the studio, processed.

use std::process::Command;

use plaza_testkit::TestServer;
use plaza_testkit::channels::{Creator, clip};
use plaza_testkit::pay::Payer;

use crate::PLAZA;
use crate::web::{browser_ready, root};

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    plaza_browser_missing,
    ignore = "browser part skipped: needs node, tests/web/node_modules (npm ci --prefix tests/web) and chromium"
)]
async fn a_viewer_watches_likes_and_comments_and_a_creator_posts_from_the_studio() {
    if !browser_ready() {
        return;
    }
    let server = TestServer::sandbox(PLAZA);
    let music = Creator::open(&server, "晚风乐队", "music").await;
    let hiking = Creator::open(&server, "山野小林", "lifestyle").await;
    for (creator, source, caption) in [
        (&music, "testsrc2", "排练日常 #乐队 #周末"),
        (&hiking, "smptebars", "第一次露营 #露营 @晚风乐队"),
        (&music, "mandelbrot", "新歌预告，下周见"),
    ] {
        let bytes = clip(source, 3, (640, 360), "webm").await;
        let post_id = creator.post_video(&server, &bytes, caption).await;
        assert_eq!(creator.finished(&server, &post_id).await["state"], "ready");
    }
    Payer::create(&server, "Viewer Li", 1).await;

    let screenshots = root().join("target/screenshots");
    let dir = tempfile::tempdir().unwrap();
    let clip_path = dir.path().join("upload.mp4");
    std::fs::write(&clip_path, clip("testsrc", 2, (480, 270), "mp4").await).unwrap();
    let output = Command::new("node")
        .arg(root().join("tests/web/channels.mjs"))
        .args([&server.base_url, "Viewer Li", "山野小林"])
        .arg(&clip_path)
        .arg(&screenshots)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("all checks passed"),
        "channels.mjs failed\n{stdout}\n{}\n--- plaza log\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    plaza_browser_missing,
    ignore = "browser part skipped: needs node, tests/web/node_modules (npm ci --prefix tests/web) and chromium"
)]
async fn a_creator_goes_live_from_the_browser_and_viewers_watch_chat_and_gift() {
    if !browser_ready() {
        return;
    }
    let server = TestServer::sandbox(PLAZA);
    let host = Creator::open(&server, "晚风乐队", "music").await;
    Payer::create(&server, "Viewer A", 10_000).await;
    Payer::create(&server, "Viewer B", 10_000).await;
    let balance = |person: &Payer| {
        let (server, user_id) = (&server, person.user_id.clone());
        async move {
            server
                .admin_get(&format!("/api/v1/admin/users/{user_id}"))
                .await
                .json()["balance"]
                .as_i64()
                .unwrap()
        }
    };
    let before = balance(&host.person).await;
    let output = Command::new("node")
        .arg(root().join("tests/web/channels-live.mjs"))
        .args([&server.base_url, "晚风乐队", "Viewer A", "Viewer B"])
        .arg(root().join("target/screenshots"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("all checks passed"),
        "channels-live.mjs failed\n{stdout}\n{}\n--- plaza log\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    // A rose is 100 fen: the platform keeps 30, the creator gets exactly 70.
    assert_eq!(balance(&host.person).await - before, 70);
    let room_id = stdout
        .lines()
        .find_map(|line| line.strip_prefix("room "))
        .unwrap();
    let room = server
        .get(&format!("/api/v1/channels/live/{room_id}"))
        .await
        .json();
    assert_eq!(
        (room["state"].as_str(), room["gifts_minor"].as_i64()),
        (Some("ended"), Some(100))
    );
    assert_eq!(room["comments"], 2);
    server.assert_ledger_sound().await;
}
