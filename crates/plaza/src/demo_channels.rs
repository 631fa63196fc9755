//! The demo's Channels: two creators (new users with the demo password) open channels
//! and post short clips made from ffmpeg's test sources, uploaded in pieces through the
//! API like the studio does (the server processes them in its jobs); the demo payers
//! follow them, like and comment. Without ffmpeg the demo starts without Channels'
//! posts, and says so.

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// A demo creator: name, area, bio, and their posts (ffmpeg test source, caption).
type DemoCreator = (
    &'static str,
    &'static str,
    &'static str,
    [(&'static str, &'static str); 2],
);

/// The demo's creators.
const CREATORS: [DemoCreator; 2] = [
    (
        "晚风乐队",
        "music",
        "周末排练，偶尔演出",
        [
            ("testsrc2", "排练日常 #乐队 #周末"),
            ("mandelbrot", "新歌预告，下周见 #原创音乐"),
        ],
    ),
    (
        "山野小林",
        "lifestyle",
        "露营、徒步和路上的风景",
        [
            ("smptebars", "第一次露营 #露营 @晚风乐队"),
            ("life", "徒步路线分享 #徒步"),
        ],
    ),
];

/// The pieces uploads are sent in.
const PIECE_BYTES: usize = 1024 * 1024;

async fn call(request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
    let response = request
        .send()
        .await
        .with_context(|| format!("seeding the demo's Channels: {what}"))?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("seeding the demo's Channels: {what} answered {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Uploads `bytes` as a video in pieces; the upload's id.
async fn upload(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    bytes: &[u8],
) -> anyhow::Result<String> {
    let started = call(
        client
            .post(format!("{base}/api/v1/channels/uploads"))
            .bearer_auth(token)
            .json(&json!({ "purpose": "video", "size": bytes.len() })),
        "an upload",
    )
    .await?;
    let upload_id = started["upload_id"]
        .as_str()
        .context("an upload id")?
        .to_owned();
    let mut offset = 0;
    for piece in bytes.chunks(PIECE_BYTES) {
        call(
            client
                .put(format!(
                    "{base}/api/v1/channels/uploads/{upload_id}?offset={offset}"
                ))
                .bearer_auth(token)
                .body(piece.to_vec()),
            "a piece",
        )
        .await?;
        offset += piece.len();
    }
    Ok(upload_id)
}

/// Where the demo keeps its live room's host and clip, in the demo folder.
const LIVE_HOST_FILE: &str = "channels-live-host";
const LIVE_CLIP_FILE: &str = "channels-live-clip.mp4";

/// Seeds the creators, their posts, and the payers' follows, likes and a comment; keeps
/// the first creator and a clip for the live room every start opens.
pub(crate) async fn seed(
    client: &reqwest::Client,
    base: &str,
    admin: &str,
    password: &str,
    payer_tokens: &[String],
    demo_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let tools = plaza_media::Tools::default();
    if let Err(missing) = tools.check().await {
        tracing::warn!(%missing, "the demo starts without Channels' posts");
        return Ok(());
    }
    let mut posts = Vec::new();
    for (name, area, bio, clips) in CREATORS {
        let creator = call(
            client
                .post(format!("{base}/api/v1/admin/users"))
                .bearer_auth(admin)
                .json(&json!({ "name": name, "password": password, "balance": 100 })),
            "a creator",
        )
        .await?;
        let token = creator["token"].as_str().context("a token")?.to_owned();
        if !demo_dir.join(LIVE_HOST_FILE).exists() {
            let user_id = creator["user_id"].as_str().context("a user id")?;
            std::fs::write(demo_dir.join(LIVE_HOST_FILE), user_id)?;
            let clip = tools
                .generate_clip("testsrc2", 10, (640, 360), "mp4")
                .await
                .context("the live room's clip")?;
            std::fs::write(demo_dir.join(LIVE_CLIP_FILE), clip)?;
        }
        let channel = call(
            client
                .post(format!("{base}/api/v1/channels/me"))
                .bearer_auth(&token)
                .json(&json!({ "name": name, "bio": bio, "area": area })),
            "a channel",
        )
        .await?;
        for follower in payer_tokens {
            call(
                client
                    .post(format!(
                        "{base}/api/v1/channels/{}/follow",
                        channel["channel_id"].as_str().unwrap_or_default()
                    ))
                    .bearer_auth(follower),
                "a follow",
            )
            .await?;
        }
        for (source, caption) in clips {
            let bytes = tools
                .generate_clip(source, 4, (640, 360), "mp4")
                .await
                .context("a demo clip")?;
            let upload_id = upload(client, base, &token, &bytes).await?;
            let post = call(
                client
                    .post(format!("{base}/api/v1/channels/posts"))
                    .bearer_auth(&token)
                    .json(&json!({ "uploads": [upload_id], "caption": caption })),
                "a post",
            )
            .await?;
            posts.push(post["post_id"].as_str().unwrap_or_default().to_owned());
        }
    }
    react(client, base, payer_tokens, &posts).await
}

/// The payers like the posts and leave a comment, once they are processed (a bounded
/// wait: the demo starts regardless).
async fn react(
    client: &reqwest::Client,
    base: &str,
    payer_tokens: &[String],
    posts: &[String],
) -> anyhow::Result<()> {
    let (Some(first_post), Some(first_payer)) = (posts.first(), payer_tokens.first()) else {
        return Ok(());
    };
    for _ in 0..60 {
        let post = call(
            client.get(format!("{base}/api/v1/channels/posts/{first_post}")),
            "a post",
        )
        .await;
        if post.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    for token in payer_tokens {
        let liked = client
            .post(format!("{base}/api/v1/channels/posts/{first_post}/like"))
            .bearer_auth(token)
            .send()
            .await;
        if liked.is_err() {
            break;
        }
    }
    let _commented = client
        .post(format!(
            "{base}/api/v1/channels/posts/{first_post}/comments"
        ))
        .bearer_auth(first_payer)
        .json(&json!({ "text": "好听！周末去现场 #期待" }))
        .send()
        .await;
    Ok(())
}

/// Opens the demo's live room (every start: rooms do not outlive their server) with the
/// first creator, fed from the kept clip by ffmpeg through the host's publish socket,
/// like a browser's chunks; the room's page, or `None` without ffmpeg or a seeded host.
pub(crate) async fn start_live_room(
    client: &reqwest::Client,
    base: &str,
    admin: &str,
    demo_dir: &std::path::Path,
) -> anyhow::Result<Option<String>> {
    let (Ok(host), clip) = (
        std::fs::read_to_string(demo_dir.join(LIVE_HOST_FILE)),
        demo_dir.join(LIVE_CLIP_FILE),
    ) else {
        return Ok(None);
    };
    let tools = plaza_media::Tools::default();
    if tools.check().await.is_err() || !clip.exists() {
        return Ok(None);
    }
    let session = call(
        client
            .post(format!(
                "{base}/api/v1/admin/users/{}/sessions",
                host.trim()
            ))
            .bearer_auth(admin),
        "the host's session",
    )
    .await?;
    let token = session["token"].as_str().context("a token")?.to_owned();
    let room = call(
        client
            .post(format!("{base}/api/v1/channels/live"))
            .bearer_auth(&token)
            .json(&json!({ "title": "周末排练直播" })),
        "the live room",
    )
    .await?;
    let room_id = room["room_id"].as_str().context("a room")?.to_owned();
    let child = tools.live_from_file(&clip)?;
    let url = format!(
        "{}/api/v1/channels/live/{room_id}/publish",
        base.replacen("http", "ws", 1)
    );
    tokio::spawn(async move {
        if let Err(error) = play(child, &url, &token).await {
            tracing::warn!(%error, "the demo's live room stopped");
        }
    });
    Ok(Some(format!("{base}/app/channels/live/{room_id}")))
}

/// Sends ffmpeg's output into the room as the host, until either ends.
async fn play(mut child: tokio::process::Child, url: &str, token: &str) -> anyhow::Result<()> {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio::io::AsyncReadExt as _;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse()?);
    let (socket, _) = tokio_tungstenite::connect_async(request).await?;
    let (mut sink, mut events) = socket.split();
    // The room's events come back on this socket: read and drop them.
    tokio::spawn(async move { while events.next().await.is_some() {} });
    let mut output = child.stdout.take().context("ffmpeg's output")?;
    let mut buffer = vec![0_u8; 64 * 1024];
    loop {
        let read = output.read(&mut buffer).await?;
        if read == 0 {
            return Ok(());
        }
        sink.send(Message::Binary(buffer[..read].to_vec().into()))
            .await?;
    }
}
