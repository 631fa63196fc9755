//! Channels against the real binary: an upload is processed by ffmpeg into a playable
//! post that streams with range requests; bad media is refused and nothing half-made is
//! shown; counts stay exact under concurrency; copies of someone else's video are found
//! after re-encoding; the feed's explanations match its order.

use plaza_testkit::TestServer;
use plaza_testkit::channels::{Creator, clip, png_image, put_piece, reencoded, upload};
use plaza_testkit::pay::Payer;
use serde_json::{Value, json};

use crate::PLAZA;

/// `GET path` with a `Range` header, signed out; the status, the headers asked for and
/// the body.
async fn get_range(
    server: &TestServer,
    path: &str,
    range: Option<&str>,
) -> (u16, Vec<u8>, reqwest::header::HeaderMap) {
    let mut request = plaza_testkit::http_client().get(format!("{}{path}", server.base_url));
    if let Some(range) = range {
        request = request.header("range", range);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.unwrap().to_vec();
    (status, body, headers)
}

#[tokio::test]
async fn a_video_upload_becomes_a_post_that_streams_with_ranges() {
    let server = TestServer::sandbox(PLAZA);
    let creator = Creator::open(&server, "山野小林", "lifestyle").await;
    let video = clip("testsrc", 3, (640, 360), "mp4").await;

    // A resumable upload: a piece at the wrong offset is refused with where to go on.
    let started = creator
        .person
        .post(
            &server,
            "/api/v1/channels/uploads",
            &json!({ "purpose": "video", "size": video.len() }),
        )
        .await;
    assert_eq!(started.status, 201, "{}", started.text);
    let upload_id = started.json()["upload_id"].as_str().unwrap().to_owned();
    let half = video.len() / 2;
    let first = put_piece(
        &server,
        &creator.person,
        &upload_id,
        0,
        video[..half].to_vec(),
    )
    .await;
    assert_eq!(first.json()["received"], half);
    let skipped = put_piece(
        &server,
        &creator.person,
        &upload_id,
        half + 10,
        video[half..].to_vec(),
    )
    .await;
    skipped.assert_error(409, "upload_offset_mismatch");
    assert!(
        skipped.json()["message"]
            .as_str()
            .unwrap()
            .contains(&half.to_string())
    );
    let early = creator
        .person
        .post(
            &server,
            "/api/v1/channels/posts",
            &json!({ "uploads": [upload_id], "caption": "x" }),
        )
        .await;
    early.assert_error(409, "upload_unusable");
    let status = creator
        .person
        .get_ok(&server, &format!("/api/v1/channels/uploads/{upload_id}"))
        .await;
    assert_eq!(
        (status["received"].as_u64(), status["complete"].as_bool()),
        (Some(half as u64), Some(false))
    );
    let rest = put_piece(
        &server,
        &creator.person,
        &upload_id,
        half,
        video[half..].to_vec(),
    )
    .await;
    assert_eq!(rest.json()["complete"], true, "{}", rest.text);

    let other = Creator::open(&server, "BobCooks", "knowledge").await;
    let post_id = creator
        .post_uploads(
            &server,
            std::slice::from_ref(&upload_id),
            "周末 #露营 记录，和 @bobcooks 还有 @nobody",
        )
        .await;
    let post = creator.finished(&server, &post_id).await;
    assert_eq!(post["state"], "ready", "{post}");
    assert_eq!(post["kind"], "video");
    assert_eq!(post["topics"], json!(["露营"]));
    assert_eq!(post["video"]["width"], 640);
    let duration = post["video"]["duration_ms"].as_u64().unwrap();
    assert!((2_900..=3_100).contains(&duration), "{duration}");
    assert_eq!(
        post["video"]["transcoded"], false,
        "an H.264/AAC MP4 plays as uploaded"
    );
    assert_eq!(post["originality"]["kind"], "original");
    assert_eq!(
        post["mentions"],
        json!([other.channel_id]),
        "names are matched without case"
    );

    // Streaming: whole, ranges, suffixes, and what cannot be satisfied.
    let url = post["video"]["url"].as_str().unwrap();
    let (status, whole, headers) = get_range(&server, url, None).await;
    assert_eq!(status, 200);
    assert_eq!(whole, video, "the playable file is the upload itself");
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(headers["content-type"], "video/mp4");
    let (status, part, headers) = get_range(&server, url, Some("bytes=100-199")).await;
    assert_eq!(status, 206);
    assert_eq!(part, video[100..200]);
    assert_eq!(
        headers["content-range"],
        format!("bytes 100-199/{}", video.len()).as_str()
    );
    let (status, tail, _) = get_range(&server, url, Some("bytes=-50")).await;
    assert_eq!((status, tail.as_slice()), (206, &video[video.len() - 50..]));
    let (status, _, headers) =
        get_range(&server, url, Some(&format!("bytes={}-", video.len()))).await;
    assert_eq!(status, 416);
    assert_eq!(
        headers["content-range"],
        format!("bytes */{}", video.len()).as_str()
    );
    let (status, poster, headers) =
        get_range(&server, post["video"]["poster_url"].as_str().unwrap(), None).await;
    assert_eq!(
        (status, headers["content-type"].to_str().unwrap()),
        (200, "image/jpeg")
    );
    assert!(poster.starts_with(&[0xff, 0xd8]));

    // Anyone reads a ready post; a blob that is no post's is not served.
    let public = server
        .get(&format!("/api/v1/channels/posts/{post_id}"))
        .await;
    assert_eq!(public.status, 200);
    let stranger = server
        .get(&format!("/api/v1/channels/media/{}", "a".repeat(64)))
        .await;
    stranger.assert_error(404, "not_found");

    // Deleting: gone from reads and listings, its files no longer served.
    let deleted = creator
        .person
        .delete(&server, &format!("/api/v1/channels/posts/{post_id}"))
        .await;
    assert_eq!(deleted.status, 204);
    server
        .get(&format!("/api/v1/channels/posts/{post_id}"))
        .await
        .assert_error(404, "post_not_found");
    server.get(url).await.assert_error(404, "not_found");
    let listing = server
        .get(&format!("/api/v1/channels/{}/posts", creator.channel_id))
        .await
        .json();
    assert_eq!(listing["posts"], json!([]));
}

#[tokio::test]
async fn uploads_browsers_cannot_play_are_transcoded_and_bad_media_is_refused() {
    let server = TestServer::sandbox(PLAZA);
    let creator = Creator::open(&server, "转码测试", "news").await;

    let mpeg4 = clip("smptebars", 2, (320, 240), "mp4v").await;
    let post_id = creator.post_video(&server, &mpeg4, "MPEG-4 Part 2").await;
    let post = creator.finished(&server, &post_id).await;
    assert_eq!(post["state"], "ready", "{post}");
    assert_eq!(post["video"]["codec"], "mpeg4");
    assert_eq!(post["video"]["transcoded"], true);
    let (status, playable, headers) =
        get_range(&server, post["video"]["url"].as_str().unwrap(), None).await;
    assert_eq!(
        (status, headers["content-type"].to_str().unwrap()),
        (200, "video/mp4")
    );
    assert_ne!(playable, mpeg4);
    let facts = plaza_media::Tools::default()
        .process_video(&playable)
        .await
        .unwrap()
        .facts;
    assert_eq!(
        (facts.video_codec.as_str(), facts.audio_codec.as_deref()),
        ("h264", Some("aac"))
    );

    // Not media at all: refused at the first piece.
    let started = creator
        .person
        .post(
            &server,
            "/api/v1/channels/uploads",
            &json!({ "purpose": "video", "size": 64 }),
        )
        .await
        .json();
    let upload_id = started["upload_id"].as_str().unwrap();
    let text = put_piece(
        &server,
        &creator.person,
        upload_id,
        0,
        b"<html>this is a web page, not a video at all......</html>".to_vec(),
    )
    .await;
    text.assert_error(415, "not_media");
    put_piece(&server, &creator.person, upload_id, 0, Vec::new())
        .await
        .assert_error(400, "invalid_field");

    // Too large, before any byte; a piece past the declared size.
    let huge = creator
        .person
        .post(
            &server,
            "/api/v1/channels/uploads",
            &json!({ "purpose": "video", "size": 1_u64 << 40 }),
        )
        .await;
    huge.assert_error(413, "file_too_large");
    let small = creator
        .person
        .post(
            &server,
            "/api/v1/channels/uploads",
            &json!({ "purpose": "video", "size": 16 }),
        )
        .await
        .json();
    let over = put_piece(
        &server,
        &creator.person,
        small["upload_id"].as_str().unwrap(),
        0,
        mpeg4[..32].to_vec(),
    )
    .await;
    over.assert_error(413, "file_too_large");

    // Looks like an MP4, but ffprobe cannot read it: the post fails, seen by its author
    // only, and its channel counts no post.
    let mut fake = mpeg4[..16].to_vec();
    fake.extend(std::iter::repeat_n(0x5a_u8, 4_000));
    let fake_id = creator.post_video(&server, &fake, "broken").await;
    let failed = creator.finished(&server, &fake_id).await;
    assert_eq!(failed["state"], "failed");
    assert!(
        failed["failure_reason"]
            .as_str()
            .unwrap()
            .contains("could not be read"),
        "{failed}"
    );
    server
        .get(&format!("/api/v1/channels/posts/{fake_id}"))
        .await
        .assert_error(404, "post_not_found");
    let channel = server
        .get(&format!("/api/v1/channels/{}", creator.channel_id))
        .await
        .json();
    assert_eq!(channel["posts"], 1, "only the transcoded post counts");

    // Signed out: reading works, liking does not.
    let like = server
        .post_raw(
            &format!("/api/v1/channels/posts/{post_id}/like"),
            "{}",
            None,
        )
        .await;
    like.assert_error(401, "unauthorized");
    // Posting needs a channel.
    let stranger = Payer::create(&server, "路人", 1).await;
    let reuse = stranger
        .post(
            &server,
            "/api/v1/channels/posts",
            &json!({ "uploads": ["up1"], "caption": "" }),
        )
        .await;
    reuse.assert_error(409, "channel_required");
}

#[tokio::test]
async fn likes_follows_and_comments_are_exact_under_concurrency() {
    let server = TestServer::sandbox(PLAZA);
    let creator = Creator::open(&server, "计数", "sport").await;
    let video = clip("testsrc2", 2, (320, 240), "webm").await;
    let post_id = creator.post_video(&server, &video, "#计数").await;
    assert_eq!(creator.finished(&server, &post_id).await["state"], "ready");

    let people: Vec<Payer> = futures_util::future::join_all((0..200).map(|index| {
        let server = &server;
        async move { Payer::create(server, &format!("粉丝{index}"), 1).await }
    }))
    .await;
    let like_path = format!("/api/v1/channels/posts/{post_id}/like");
    let follow_path = format!("/api/v1/channels/{}/follow", creator.channel_id);
    let replies = futures_util::future::join_all(people.iter().flat_map(|person| {
        let server = &server;
        let (like_path, follow_path) = (like_path.clone(), follow_path.clone());
        [
            Box::pin(async move { person.post(server, &like_path, &json!({})).await })
                as std::pin::Pin<Box<dyn Future<Output = _>>>,
            Box::pin(async move { person.post(server, &follow_path, &json!({})).await }),
        ]
    }))
    .await;
    assert!(
        replies.iter().all(|reply| reply.status == 200),
        "{:?}",
        replies.iter().find(|r| r.status != 200).map(|r| &r.text)
    );
    let post = server
        .get(&format!("/api/v1/channels/posts/{post_id}"))
        .await
        .json();
    assert_eq!(post["likes"], 200);
    let channel = server
        .get(&format!("/api/v1/channels/{}", creator.channel_id))
        .await
        .json();
    assert_eq!(channel["followers"], 200);

    // Repeats change nothing; half take their like back at once.
    let again = people[0].post_ok(&server, &like_path, &json!({})).await;
    assert_eq!(
        (again["likes"].as_u64(), again["changed"].as_bool()),
        (Some(200), Some(false))
    );
    let unlikes = futures_util::future::join_all(people.iter().take(100).map(|person| {
        let server = &server;
        let path = like_path.clone();
        async move { person.delete(server, &path).await }
    }))
    .await;
    assert!(unlikes.iter().all(|reply| reply.status == 200));
    let post = server
        .get(&format!("/api/v1/channels/posts/{post_id}"))
        .await
        .json();
    assert_eq!(post["likes"], 100);

    // Comments, concurrently, with replies one level deep and likes on comments.
    let comments = futures_util::future::join_all(people.iter().take(50).enumerate().map(
        |(index, person)| {
            let server = &server;
            let path = format!("/api/v1/channels/posts/{post_id}/comments");
            async move {
                person
                    .post(server, &path, &json!({ "text": format!("第{index}条") }))
                    .await
            }
        },
    ))
    .await;
    assert!(comments.iter().all(|reply| reply.status == 201));
    let head = comments[0].json()["comment_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = people[1]
        .post(
            &server,
            &format!("/api/v1/channels/posts/{post_id}/comments"),
            &json!({ "text": "回复", "reply_to": head }),
        )
        .await
        .json();
    assert_eq!(reply["reply_to"], head.as_str());
    let deeper = people[2]
        .post(
            &server,
            &format!("/api/v1/channels/posts/{post_id}/comments"),
            &json!({ "text": "再回复", "reply_to": reply["comment_id"] }),
        )
        .await
        .json();
    assert_eq!(
        deeper["reply_to"],
        head.as_str(),
        "a reply to a reply joins the thread: one level deep"
    );
    let too_long = people[3]
        .post(
            &server,
            &format!("/api/v1/channels/posts/{post_id}/comments"),
            &json!({ "text": "长".repeat(501) }),
        )
        .await;
    too_long.assert_error(400, "invalid_field");
    let comment_likes = futures_util::future::join_all(people.iter().take(30).map(|person| {
        let server = &server;
        let path = format!("/api/v1/channels/comments/{head}/like");
        async move { person.post(server, &path, &json!({})).await }
    }))
    .await;
    assert!(comment_likes.iter().all(|reply| reply.status == 200));
    let replies = server
        .get(&format!("/api/v1/channels/comments/{head}/replies"))
        .await
        .json();
    assert_eq!(replies["replies"].as_array().unwrap().len(), 2);
    let listing = server
        .get(&format!("/api/v1/channels/posts/{post_id}/comments"))
        .await
        .json();
    let listed_head = listing["comments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["comment_id"] == head.as_str());
    // The newest 20 of 50 are listed; the head may be older than them, so read it by its thread.
    if let Some(listed) = listed_head {
        assert_eq!(
            (listed["likes"].as_u64(), listed["replies"].as_u64()),
            (Some(30), Some(2))
        );
    }
    let post = server
        .get(&format!("/api/v1/channels/posts/{post_id}"))
        .await
        .json();
    assert_eq!(post["comments"], 52);

    // A share answers the card WeCom's chat carries.
    let shared = people[4]
        .post_ok(
            &server,
            &format!("/api/v1/channels/posts/{post_id}/shares"),
            &json!({}),
        )
        .await;
    assert_eq!(shared["card"]["kind"], "channels");
    assert_eq!(
        shared["card"]["url"],
        format!("/app/channels/posts/{post_id}")
    );
    assert_eq!(shared["shares"], 1);
}

#[tokio::test]
async fn a_reencoded_resized_copy_of_someone_elses_video_is_found() {
    let server = TestServer::sandbox(PLAZA);
    let author = Creator::open(&server, "原创作者", "talent").await;
    let copier = Creator::open(&server, "搬运工", "talent").await;
    let honest = Creator::open(&server, "另一位作者", "talent").await;

    let original = clip("testsrc", 3, (640, 360), "mp4").await;
    let original_id = author.post_video(&server, &original, "原创 #才艺").await;
    assert_eq!(
        author.finished(&server, &original_id).await["originality"]["kind"],
        "original"
    );

    let copy = reencoded(&original, 320).await;
    let copy_id = copier.post_video(&server, &copy, "搬运").await;
    let copied = copier.finished(&server, &copy_id).await;
    assert_eq!(
        copied["originality"],
        json!({ "kind": "copy", "of_post": original_id, "by": "frames", "original_url": format!("/app/channels/posts/{original_id}") })
    );

    let exact_id = copier.post_video(&server, &original, "原样搬运").await;
    let exact = copier.finished(&server, &exact_id).await;
    assert_eq!(
        (
            exact["originality"]["kind"].as_str(),
            exact["originality"]["by"].as_str()
        ),
        (Some("copy"), Some("exact"))
    );
    assert_eq!(exact["originality"]["of_post"], original_id.as_str());

    let different = clip("mandelbrot", 3, (640, 360), "mp4").await;
    let different_id = honest.post_video(&server, &different, "不同的视频").await;
    assert_eq!(
        honest.finished(&server, &different_id).await["originality"]["kind"],
        "original"
    );

    // Uploaded at nearly the same time and processed side by side: whichever finishes
    // first, the earlier upload is the original and the later one the copy.
    let racer = Creator::open(&server, "先发者", "talent").await;
    let raced = clip("testsrc2", 3, (640, 360), "mp4").await;
    let raced_copy = reencoded(&raced, 256).await;
    let first_id = racer.post_video(&server, &raced, "先发").await;
    let second_id = copier.post_video(&server, &raced_copy, "后发").await;
    racer.finished(&server, &first_id).await;
    let second = copier.finished(&server, &second_id).await;
    let first = server
        .get(&format!("/api/v1/channels/posts/{first_id}"))
        .await
        .json();
    let second_now = server
        .get(&format!("/api/v1/channels/posts/{second_id}"))
        .await
        .json();
    assert_eq!(first["originality"]["kind"], "original", "{first}");
    assert_eq!(second_now["originality"]["kind"], "copy", "{second}");
    assert_eq!(second_now["originality"]["of_post"], first_id.as_str());

    // Copies rank without the originality term.
    let why = server
        .get(&format!("/api/v1/channels/posts/{copy_id}/why"))
        .await
        .json();
    let original_term = why["terms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["term"] == "original")
        .unwrap()
        .clone();
    assert_eq!(original_term["value"], 0.0);
}

fn points(why: &Value) -> f64 {
    why["terms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|term| term["points"].as_f64().unwrap())
        .sum()
}

#[tokio::test]
async fn the_feed_explains_its_order_and_counts_a_view_once_a_day() {
    let server = TestServer::sandbox(PLAZA);
    server.pin_clock("10:00").await;
    let music = Creator::open(&server, "音乐人", "music").await;
    let news = Creator::open(&server, "新闻台", "news").await;
    let viewer = Payer::create(&server, "观众", 1).await;
    let clip_bytes = clip("testsrc2", 1, (160, 120), "webm").await;
    let mut posts = Vec::new();
    for (creator, caption) in [
        (&music, "歌一"),
        (&news, "新闻一"),
        (&music, "歌二"),
        (&news, "新闻二"),
    ] {
        let id = creator.post_video(&server, &clip_bytes, caption).await;
        assert_eq!(creator.finished(&server, &id).await["state"], "ready");
        posts.push(id);
        server.advance_clock(3_600_000).await;
    }
    viewer
        .post_ok(
            &server,
            &format!("/api/v1/channels/{}/follow", music.channel_id),
            &json!({}),
        )
        .await;
    viewer
        .post_ok(
            &server,
            &format!("/api/v1/channels/posts/{}/like", posts[1]),
            &json!({}),
        )
        .await;

    let feed = viewer
        .get_ok(&server, "/api/v1/channels/feed?tab=recommended")
        .await;
    let items = feed["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    let scores: Vec<f64> = items
        .iter()
        .map(|item| item["why"]["score"].as_f64().unwrap())
        .collect();
    assert!(
        scores.windows(2).all(|pair| pair[0] >= pair[1]),
        "{scores:?}"
    );
    for item in items {
        let why = &item["why"];
        assert!(
            (points(why) - why["score"].as_f64().unwrap()).abs() < 1e-9,
            "the terms add up to the score"
        );
        let following = why["terms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["term"] == "following")
            .unwrap();
        let followed = item["post"]["channel_id"] == music.channel_id.as_str();
        assert_eq!(following["value"], if followed { 1.0 } else { 0.0 });
        // The explanation endpoint says the same (freshness decays a little between the
        // two requests: under 1e-8 per millisecond).
        let asked = viewer
            .get_ok(
                &server,
                &format!(
                    "/api/v1/channels/posts/{}/why",
                    item["post"]["post_id"].as_str().unwrap()
                ),
            )
            .await;
        assert!((asked["score"].as_f64().unwrap() - why["score"].as_f64().unwrap()).abs() < 1e-3);
    }
    assert_eq!(
        items[0]["post"]["post_id"],
        posts[2].as_str(),
        "the newest followed post leads: {posts:?} {feed}"
    );

    let following = viewer
        .get_ok(&server, "/api/v1/channels/feed?tab=following")
        .await;
    let ids: Vec<&str> = following["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["post"]["post_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [posts[2].as_str(), posts[0].as_str()]);
    let paged = viewer
        .get_ok(&server, "/api/v1/channels/feed?tab=following&limit=1")
        .await;
    let cursor = paged["next_cursor"].as_str().unwrap();
    let second = viewer
        .get_ok(
            &server,
            &format!("/api/v1/channels/feed?tab=following&limit=1&cursor={cursor}"),
        )
        .await;
    assert_eq!(second["items"][0]["post"]["post_id"], posts[0].as_str());
    server
        .get("/api/v1/channels/feed?tab=following")
        .await
        .assert_error(401, "unauthorized");
    server
        .get("/api/v1/channels/feed?tab=nearby")
        .await
        .assert_error(400, "invalid_query");

    // A view counts once per viewer per post per China day.
    let path = format!("/api/v1/channels/posts/{}/views", posts[0]);
    assert_eq!(
        viewer.post_ok(&server, &path, &json!({})).await["counted"],
        true
    );
    assert_eq!(
        viewer.post_ok(&server, &path, &json!({})).await["counted"],
        false
    );
    server.advance_clock(86_400_000).await;
    let next_day = viewer.post_ok(&server, &path, &json!({})).await;
    assert_eq!(
        (next_day["counted"].as_bool(), next_day["views"].as_u64()),
        (Some(true), Some(2))
    );

    // The feed survives a restart: it is loaded from the store.
    let server = server.restart();
    let feed = server.get("/api/v1/channels/feed").await.json();
    assert_eq!(feed["items"].as_array().unwrap().len(), 4);
}

/// A user's wallet balance, fen.
async fn wallet(server: &TestServer, person: &Payer) -> i64 {
    server
        .admin_get(&format!("/api/v1/admin/users/{}", person.user_id))
        .await
        .json()["balance"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn the_monthly_incentive_pays_quality_originals_in_proportion_and_copies_nothing() {
    let server = TestServer::sandbox(PLAZA);
    server.pin_clock("10:00").await;
    let a = Creator::open(&server, "原创甲", "knowledge").await;
    let b = Creator::open(&server, "原创乙", "music").await;
    let copier = Creator::open(&server, "搬运丙", "music").await;
    let newcomer = Creator::open(&server, "新人丁", "sport").await;
    let viewers: Vec<Payer> = futures_util::future::join_all((0..3).map(|index| {
        let server = &server;
        async move { Payer::create(server, &format!("观众{index}"), 1).await }
    }))
    .await;
    let video_a = clip("testsrc", 2, (320, 240), "webm").await;
    let post_a = a.post_video(&server, &video_a, "甲的原创").await;
    let post_b = b
        .post_video(
            &server,
            &clip("mandelbrot", 2, (320, 240), "webm").await,
            "乙的原创",
        )
        .await;
    let post_c = copier.post_video(&server, &video_a, "搬运甲").await;
    let post_d = newcomer
        .post_video(
            &server,
            &clip("life", 2, (320, 240), "webm").await,
            "丁的原创",
        )
        .await;
    for (creator, post) in [
        (&a, &post_a),
        (&b, &post_b),
        (&copier, &post_c),
        (&newcomer, &post_d),
    ] {
        assert_eq!(creator.finished(&server, post).await["state"], "ready");
    }
    assert_eq!(
        server
            .get(&format!("/api/v1/channels/posts/{post_c}"))
            .await
            .json()["originality"]["kind"],
        "copy"
    );

    let month = a
        .person
        .get_ok(&server, "/api/v1/channels/me/incentive")
        .await["month"]
        .as_str()
        .unwrap()
        .to_owned();
    let fund = |amount: i64, request_id: &str| {
        let (server, month) = (&server, month.clone());
        let body = json!({ "amount_minor": amount, "request_id": request_id, "min_followers": 1, "min_views": 2, "min_engagement_bps": 1_000 });
        async move {
            server
                .admin_post(&format!("/api/v1/admin/channels/incentives/{month}"), &body)
                .await
        }
    };
    assert_eq!(fund(6_000, "fund-1").await.json()["funded_minor"], 6_000);
    assert_eq!(fund(4_000, "fund-2").await.json()["funded_minor"], 10_000);
    assert_eq!(
        fund(4_000, "fund-2").await.json()["funded_minor"],
        10_000,
        "the same request adds nothing"
    );
    fund(0, "fund-3").await.assert_error(400, "invalid_field");
    server
        .admin_post(
            "/api/v1/admin/channels/incentives/200001",
            &json!({ "amount_minor": 1, "request_id": "old" }),
        )
        .await
        .assert_error(400, "invalid_field");

    // A: 3 views, 1 like → 3 + 5 = 8. B: 2 views, 2 likes, 1 comment → 2 + 10 + 10 = 22.
    // The copy gets more than either and earns nothing; D has no follower.
    for viewer in &viewers {
        viewer
            .post_ok(
                &server,
                &format!("/api/v1/channels/posts/{post_a}/views"),
                &json!({}),
            )
            .await;
        viewer
            .post_ok(
                &server,
                &format!("/api/v1/channels/posts/{post_c}/views"),
                &json!({}),
            )
            .await;
        viewer
            .post_ok(
                &server,
                &format!("/api/v1/channels/posts/{post_c}/like"),
                &json!({}),
            )
            .await;
    }
    viewers[0]
        .post_ok(
            &server,
            &format!("/api/v1/channels/posts/{post_a}/like"),
            &json!({}),
        )
        .await;
    for viewer in &viewers[..2] {
        viewer
            .post_ok(
                &server,
                &format!("/api/v1/channels/posts/{post_b}/views"),
                &json!({}),
            )
            .await;
        viewer
            .post_ok(
                &server,
                &format!("/api/v1/channels/posts/{post_b}/like"),
                &json!({}),
            )
            .await;
        viewer
            .post_ok(
                &server,
                &format!("/api/v1/channels/posts/{post_d}/views"),
                &json!({}),
            )
            .await;
    }
    viewers[2]
        .post_ok(
            &server,
            &format!("/api/v1/channels/posts/{post_d}/like"),
            &json!({}),
        )
        .await;
    let comment = viewers[2]
        .post(
            &server,
            &format!("/api/v1/channels/posts/{post_b}/comments"),
            &json!({ "text": "好听" }),
        )
        .await;
    assert_eq!(comment.status, 201);
    for creator in [&a, &b, &copier] {
        viewers[0]
            .post_ok(
                &server,
                &format!("/api/v1/channels/{}/follow", creator.channel_id),
                &json!({}),
            )
            .await;
    }

    let standing = newcomer
        .person
        .get_ok(&server, "/api/v1/channels/me/incentive")
        .await;
    assert_eq!(standing["standing"]["qualified"], false);
    assert_eq!(standing["standing"]["missing"], json!(["followers 0/1"]));
    let mine = a
        .person
        .get_ok(&server, "/api/v1/channels/me/incentive")
        .await["standing"]
        .clone();
    assert_eq!(
        (mine["score"].as_u64(), mine["qualified"].as_bool()),
        (Some(8), Some(true))
    );
    let copied = copier
        .person
        .get_ok(&server, "/api/v1/channels/me/incentive")
        .await["standing"]
        .clone();
    assert_eq!(copied["score"], 0, "copies never count");
    assert_eq!(copied["qualified"], false);

    let before: Vec<i64> = futures_util::future::join_all(
        [&a, &b, &copier, &newcomer].map(|c| wallet(&server, &c.person)),
    )
    .await;
    let payday = plaza_channels::incentive::payday(&month).unwrap().unix_ms();
    server.set_clock(payday + 60_000).await;
    let report = server
        .admin_get(&format!("/api/v1/admin/channels/incentives/{month}"))
        .await
        .json();
    assert_eq!(report["payout"]["pool_minor"], 10_000, "{report}");
    // ⌊10000 × 8 / 30⌋ = 2666 and ⌊10000 × 22 / 30⌋ = 7333; the 1 fen left goes back.
    assert_eq!(report["payout"]["paid_minor"], 9_999);
    assert_eq!(report["payout"]["returned_minor"], 1);
    let after: Vec<i64> = futures_util::future::join_all(
        [&a, &b, &copier, &newcomer].map(|c| wallet(&server, &c.person)),
    )
    .await;
    let gained: Vec<i64> = after
        .iter()
        .zip(&before)
        .map(|(after, before)| after - before)
        .collect();
    assert_eq!(gained, [2_666, 7_333, 0, 0]);
    // The month's lines say who got what and why (sessions ended over the month, so the
    // operator's report is read).
    let lines = report["creators"].as_array().unwrap();
    let line = |channel: &str| lines.iter().find(|l| l["channel_id"] == channel).cloned();
    assert_eq!(line(&a.channel_id).unwrap()["paid_minor"], 2_666);
    assert_eq!(line(&b.channel_id).unwrap()["score"], 22);
    assert!(
        line(&copier.channel_id).is_none(),
        "a copier has no original activity"
    );
    assert_eq!(
        line(&newcomer.channel_id).unwrap()["missing"],
        json!(["followers 0/1"])
    );
    server.assert_ledger_sound().await;
}

#[tokio::test]
async fn an_image_post_serves_its_images_and_an_avatar_is_shown() {
    let server = TestServer::sandbox(PLAZA);
    let creator = Creator::open(&server, "图片作者", "lifestyle").await;
    let first = png_image(320, 240, 40);
    let second = png_image(240, 320, 200);
    let uploads = [
        upload(&server, &creator.person, "image", &first, 4_096).await,
        upload(&server, &creator.person, "image", &second, 1 << 20).await,
    ];
    let post_id = creator
        .post_uploads(&server, &uploads, "两张图 #风景")
        .await;
    let post = creator.finished(&server, &post_id).await;
    assert_eq!(
        (post["state"].as_str(), post["kind"].as_str()),
        (Some("ready"), Some("images")),
        "{post}"
    );
    let images = post["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(
        (images[0]["width"].as_u64(), images[0]["height"].as_u64()),
        (Some(320), Some(240))
    );
    let (status, served, headers) =
        get_range(&server, images[1]["url"].as_str().unwrap(), None).await;
    assert_eq!(
        (status, headers["content-type"].to_str().unwrap()),
        (200, "image/png")
    );
    assert_eq!(served, second);

    // A video upload cannot join images, and an image upload is no avatar twice.
    let avatar = upload(
        &server,
        &creator.person,
        "image",
        &png_image(64, 64, 90),
        1 << 20,
    )
    .await;
    let changed = creator
        .person
        .patch(
            &server,
            "/api/v1/channels/me",
            &json!({ "avatar_upload": avatar, "bio": "新简介" }),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    let avatar_url = changed.json()["avatar_url"].as_str().unwrap().to_owned();
    assert_eq!(get_range(&server, &avatar_url, None).await.0, 200);
    let again = creator
        .person
        .patch(
            &server,
            "/api/v1/channels/me",
            &json!({ "avatar_upload": avatar }),
        )
        .await;
    again.assert_error(409, "upload_unusable");
    let not_an_image = upload(
        &server,
        &creator.person,
        "image",
        b"GIF89a but then nothing an image needs",
        1 << 20,
    )
    .await;
    let refused_id = creator.post_uploads(&server, &[not_an_image], "坏图").await;
    assert_eq!(
        creator.finished(&server, &refused_id).await["state"],
        "failed"
    );
}

#[tokio::test]
async fn a_live_room_relays_its_stream_comments_likes_and_exact_gifts() {
    use plaza_testkit::channels::{LiveFrame, LiveSocket};
    let server = TestServer::sandbox(PLAZA);
    let host = Creator::open(&server, "直播主播", "music").await;
    let viewer_a = Payer::create(&server, "观众甲", 100_000).await;
    let viewer_b = Payer::create(&server, "观众乙", 100_000).await;
    let poor = Payer::create(&server, "观众丙", 50).await;
    let room = host
        .person
        .post(
            &server,
            "/api/v1/channels/live",
            &json!({ "title": "周末排练直播" }),
        )
        .await;
    assert_eq!(room.status, 201, "{}", room.text);
    let room_id = room.json()["room_id"].as_str().unwrap().to_owned();
    host.person
        .post(
            &server,
            "/api/v1/channels/live",
            &json!({ "title": "again" }),
        )
        .await
        .assert_error(409, "already_live");

    // A viewer waiting before the stream starts gets every byte of it, in order.
    let mut early = LiveSocket::connect(&server, &room_id, "watch", Some(&viewer_a.token))
        .await
        .unwrap();
    let Some(LiveFrame::Event(hello)) = early.next().await else {
        panic!("hello first")
    };
    assert_eq!(hello["op"], "hello");
    let stream = plaza_media::Tools::default()
        .live_webm("testsrc2", 3)
        .await
        .unwrap();
    let refused = LiveSocket::connect(&server, &room_id, "publish", Some(&viewer_a.token)).await;
    assert!(refused.is_err(), "only the host publishes");
    let mut publisher = LiveSocket::connect(&server, &room_id, "publish", Some(&host.person.token))
        .await
        .unwrap();
    publisher.send_media(&[]).await;
    let empty = publisher.next().await;
    assert!(
        matches!(&empty, Some(LiveFrame::Event(event)) if event["message"] == "an empty chunk"),
        "{empty:?}"
    );
    for chunk in stream.chunks(16 * 1024) {
        publisher.send_media(chunk).await;
    }
    let mut received = Vec::new();
    early.media_until(&mut received, stream.len()).await;
    assert_eq!(received, stream, "every byte once, in order");

    // A late joiner starts at the init segment and a keyframe cluster.
    let mut late = LiveSocket::connect(&server, &room_id, "watch", Some(&viewer_b.token))
        .await
        .unwrap();
    let mut first = Vec::new();
    let Some(LiveFrame::Event(_)) = late.next().await else {
        panic!("hello first")
    };
    let Some(LiveFrame::Media(init)) = late.next().await else {
        panic!("the init segment")
    };
    assert!(stream.starts_with(&init) && init.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]));
    let Some(LiveFrame::Media(cluster)) = late.next().await else {
        panic!("a cluster")
    };
    assert!(
        cluster.starts_with(&[0x1F, 0x43, 0xB6, 0x75]),
        "a cluster start"
    );
    first.extend(cluster);

    // Comments and likes: the author has theirs at once, the others with the next tick.
    early
        .send_json(&json!({ "op": "comment", "text": "好听！" }))
        .await;
    let mine = early.event(&mut received, |e| e["op"] == "comment").await;
    assert_eq!(
        (mine["mine"].as_bool(), mine["text"].as_str()),
        (Some(true), Some("好听！"))
    );
    let seen = late.event(&mut first, |e| e["op"] == "comments").await;
    assert_eq!(seen["items"][0]["author_name"], "观众甲");
    late.send_json(&json!({ "op": "like", "count": 5 })).await;
    let stats = early
        .event(&mut received, |e| {
            e["op"] == "stats" && e["likes_total"] == 5
        })
        .await;
    assert_eq!(stats["watching"], 2);
    let anonymous = LiveSocket::connect(&server, &room_id, "watch", None).await;
    let mut anonymous = anonymous.unwrap();
    anonymous.next().await;
    anonymous
        .send_json(&json!({ "op": "comment", "text": "hi" }))
        .await;
    let refused = anonymous
        .event(&mut Vec::new(), |e| e["op"] == "error")
        .await;
    assert_eq!(refused["code"], "unauthorized");

    // Gifts, concurrently: exact in the ledger, the platform's 30% booked.
    let host_before = wallet(&server, &host.person).await;
    let gift_path = format!("/api/v1/channels/live/{room_id}/gifts");
    let sends = futures_util::future::join_all((0..20).map(|index| {
        let (server, gift_path) = (&server, gift_path.clone());
        let viewer = if index % 2 == 0 { &viewer_a } else { &viewer_b };
        async move {
            viewer
                .post(
                    server,
                    &gift_path,
                    &json!({ "gift": "rose", "count": 2, "request_id": format!("g{}", index / 2) }),
                )
                .await
        }
    }))
    .await;
    assert!(
        sends.iter().all(|reply| reply.status == 200),
        "{:?}",
        sends.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    let again = viewer_a
        .post(
            &server,
            &gift_path,
            &json!({ "gift": "rose", "count": 2, "request_id": "g0" }),
        )
        .await;
    assert_eq!(
        again.json()["total_minor"],
        200,
        "the same request sends nothing more"
    );
    poor.post(
        &server,
        &gift_path,
        &json!({ "gift": "rocket", "request_id": "big" }),
    )
    .await
    .assert_error(422, "insufficient_funds");
    server
        .post_raw(&gift_path, r#"{"gift":"rose","request_id":"x"}"#, None)
        .await
        .assert_error(401, "unauthorized");
    assert_eq!(wallet(&server, &host.person).await - host_before, 20 * 140);
    assert_eq!(wallet(&server, &viewer_a).await, 100_000 - 10 * 200);
    let gifted = late.event(&mut first, |e| e["op"] == "gift").await;
    assert_eq!(gifted["gift"], "rose");

    // A pinned card, then the end: totals kept, the chat replayable, the room closed.
    let pinned = host
        .person
        .post(
            &server,
            &format!("/api/v1/channels/live/{room_id}/pins"),
            &json!({ "kind": "wecom_group", "title": "粉丝群", "url": "/app/wecom/join/abc" }),
        )
        .await;
    assert_eq!(pinned.status, 200, "{}", pinned.text);
    let pins = early.event(&mut received, |e| e["op"] == "pins").await;
    assert_eq!(pins["pins"][0]["title"], "粉丝群");
    viewer_a
        .post(
            &server,
            &format!("/api/v1/channels/live/{room_id}/end"),
            &json!({}),
        )
        .await
        .assert_error(403, "not_yours");
    let ended = host
        .person
        .post_ok(
            &server,
            &format!("/api/v1/channels/live/{room_id}/end"),
            &json!({}),
        )
        .await;
    assert_eq!(ended["state"], "ended");
    assert_eq!(
        (
            ended["comments"].as_u64(),
            ended["gifts"].as_u64(),
            ended["gifts_minor"].as_i64()
        ),
        (Some(1), Some(40), Some(4_000))
    );
    assert_eq!(
        ended["viewers_total"], 3,
        "two signed-in viewers and a guest"
    );
    assert_eq!(ended["likes"], 5);
    let told = early.event(&mut received, |e| e["op"] == "ended").await;
    assert_eq!(told["room"]["gifts_minor"], 4_000);
    let replay = server
        .get(&format!("/api/v1/channels/live/{room_id}/comments"))
        .await
        .json();
    assert_eq!(replay["comments"][0]["text"], "好听！");
    assert!(
        LiveSocket::connect(&server, &room_id, "watch", None)
            .await
            .is_err(),
        "an ended room cannot be watched"
    );
    server.assert_ledger_sound().await;
}

#[tokio::test]
async fn a_room_left_on_air_by_a_stopped_server_is_closed_at_start() {
    let server = TestServer::sandbox(PLAZA);
    let host = Creator::open(&server, "重启主播", "news").await;
    let room = host
        .person
        .post(
            &server,
            "/api/v1/channels/live",
            &json!({ "title": "before" }),
        )
        .await;
    assert_eq!(room.status, 201, "{}", room.text);
    let room_id = room.json()["room_id"].as_str().unwrap().to_owned();
    // Another site's page may not open a room's socket.
    let foreign = {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let url = format!(
            "{}/api/v1/channels/live/{room_id}/watch",
            server.base_url.replacen("http", "ws", 1)
        );
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("origin", "https://evil.example".parse().unwrap());
        tokio_tungstenite::connect_async(request).await
    };
    assert!(
        matches!(&foreign, Err(tokio_tungstenite::tungstenite::Error::Http(response)) if response.status() == 403),
        "{foreign:?}"
    );
    let comment = host
        .person
        .post(
            &server,
            &format!("/api/v1/channels/live/{room_id}/comments"),
            &json!({ "text": "开播了" }),
        )
        .await;
    assert_eq!(comment.status, 201);
    let server = server.restart();
    let after = server
        .get(&format!("/api/v1/channels/live/{room_id}"))
        .await
        .json();
    assert_eq!(
        (after["state"].as_str(), after["comments"].as_u64()),
        (Some("ended"), Some(1))
    );
    let again = host
        .person
        .post(
            &server,
            "/api/v1/channels/live",
            &json!({ "title": "after" }),
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.text);
}
