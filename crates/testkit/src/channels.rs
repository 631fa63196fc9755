//! Channels helpers: a creator (a Plaza user with a channel), clips made by ffmpeg from
//! its test sources (through `plaza-media`, the same tools the server runs), resumable
//! uploads in pieces, and posts waited for until processing ends.

use serde_json::{Value, json};

use crate::pay::Payer;
use crate::{Reply, TestServer, eventually};

/// A person with a channel.
#[derive(Debug, Clone)]
pub struct Creator {
    /// The person (a sandbox user with a session).
    pub person: Payer,
    /// Their channel.
    pub channel_id: String,
}

impl Creator {
    /// A new user named `name` who opens a channel of the same name in `area`.
    ///
    /// # Panics
    ///
    /// When the server refuses.
    pub async fn open(server: &TestServer, name: &str, area: &str) -> Self {
        let person = Payer::create(server, name, 1).await;
        let reply = person
            .post(
                server,
                "/api/v1/channels/me",
                &json!({ "name": name, "bio": format!("{name} 的频道"), "area": area }),
            )
            .await;
        assert_eq!(reply.status, 201, "opening a channel: {}", reply.text);
        // The answer was checked to be 201 just above, whose body carries the id.
        let channel_id = reply.json()["channel_id"]
            .as_str()
            .expect("a channel id")
            .to_owned();
        Self { person, channel_id }
    }

    /// Uploads `bytes` as a video and posts it with `caption`; the new post's id (still
    /// processing).
    ///
    /// # Panics
    ///
    /// When the server refuses.
    pub async fn post_video(&self, server: &TestServer, bytes: &[u8], caption: &str) -> String {
        let upload_id = upload(server, &self.person, "video", bytes, 256 * 1024).await;
        self.post_uploads(server, &[upload_id], caption).await
    }

    /// Posts finished uploads with `caption`; the new post's id.
    ///
    /// # Panics
    ///
    /// When the server refuses.
    pub async fn post_uploads(
        &self,
        server: &TestServer,
        uploads: &[String],
        caption: &str,
    ) -> String {
        let reply = self
            .person
            .post(
                server,
                "/api/v1/channels/posts",
                &json!({ "uploads": uploads, "caption": caption }),
            )
            .await;
        assert_eq!(reply.status, 202, "posting: {}", reply.text);
        // The answer was checked to be 202 just above, whose body carries the id.
        reply.json()["post_id"]
            .as_str()
            .expect("a post id")
            .to_owned()
    }

    /// Waits (bounded) until the post's processing ended; the post as its author sees it.
    ///
    /// # Panics
    ///
    /// When it is still processing after the bound.
    pub async fn finished(&self, server: &TestServer, post_id: &str) -> Value {
        let path = format!("/api/v1/channels/posts/{post_id}");
        eventually("the post's processing to end", || async {
            let post = self.person.get_ok(server, &path).await;
            (post["state"] != "processing").then_some(post)
        })
        .await
    }
}

/// Uploads `bytes` for `purpose` (`video` or `image`) in pieces of `piece_bytes`; the
/// upload's id.
///
/// # Panics
///
/// When the server refuses a piece.
pub async fn upload(
    server: &TestServer,
    person: &Payer,
    purpose: &str,
    bytes: &[u8],
    piece_bytes: usize,
) -> String {
    let started = person
        .post(
            server,
            "/api/v1/channels/uploads",
            &json!({ "purpose": purpose, "size": bytes.len() }),
        )
        .await;
    assert_eq!(started.status, 201, "starting an upload: {}", started.text);
    // The answer was checked to be 201 just above, whose body carries the id.
    let upload_id = started.json()["upload_id"]
        .as_str()
        .expect("an upload id")
        .to_owned();
    let mut offset = 0;
    for piece in bytes.chunks(piece_bytes) {
        let reply = put_piece(server, person, &upload_id, offset, piece.to_vec()).await;
        assert_eq!(reply.status, 200, "a piece at {offset}: {}", reply.text);
        offset += piece.len();
    }
    upload_id
}

/// `PUT /api/v1/channels/uploads/{id}?offset=…` with raw bytes.
///
/// # Panics
///
/// When the server cannot be reached.
pub async fn put_piece(
    server: &TestServer,
    person: &Payer,
    upload_id: &str,
    offset: usize,
    bytes: Vec<u8>,
) -> Reply {
    server
        .send(
            server
                .client
                .put(format!(
                    "{}/api/v1/channels/uploads/{upload_id}?offset={offset}",
                    server.base_url
                ))
                .bearer_auth(&person.token)
                .header("content-type", "application/octet-stream")
                .body(bytes),
        )
        .await
        // Fails only when the server under test does not answer, the test's failure to
        // report (see the crate's note on `expect`).
        .expect("PUT a piece")
}

/// A clip of `seconds` from ffmpeg's test source `source` at `size`, as `format` (`mp4`,
/// `webm` or `mp4v`, see [`plaza_media::Tools::generate_clip`]).
///
/// # Panics
///
/// When ffmpeg is missing or fails.
pub async fn clip(source: &str, seconds: u32, size: (u32, u32), format: &str) -> Vec<u8> {
    // Fails only without Debian's ffmpeg, which .ci/run installs; no test can go on without its clip.
    plaza_media::Tools::default()
        .generate_clip(source, seconds, size, format)
        .await
        .expect("ffmpeg makes a clip (.ci/run installs it)")
}

/// A `width`×`height` PNG of a colour gradient (`shade` moves its colours).
///
/// # Panics
///
/// Never for sizes above zero: the encoder writes to memory.
pub fn png_image(width: u32, height: u32, shade: u8) -> Vec<u8> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // Encoding into memory with fixed, valid settings cannot fail for sizes above zero.
        let mut writer = encoder.write_header().expect("a PNG header");
        let pixels: Vec<u8> = (0..width * height)
            .flat_map(|i| {
                let (x, y) = (i % width, i / width);
                [
                    u8::try_from(x * 255 / width.max(1)).unwrap_or(0),
                    u8::try_from(y * 255 / height.max(1)).unwrap_or(0),
                    shade,
                ]
            })
            .collect();
        // The pixel buffer has exactly width × height × 3 bytes, as the header says.
        writer.write_image_data(&pixels).expect("PNG pixels");
    }
    bytes
}

/// `bytes` re-encoded at `width` pixels wide, as someone copying a video would.
///
/// # Panics
///
/// When ffmpeg fails.
pub async fn reencoded(bytes: &[u8], width: u32) -> Vec<u8> {
    // Fails only without Debian's ffmpeg, which .ci/run installs; the input is a clip ffmpeg made.
    plaza_media::Tools::default()
        .reencode_resized(bytes, width)
        .await
        .expect("ffmpeg re-encodes a clip")
}

/// A frame read off a live room's socket.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveFrame {
    /// A JSON event.
    Event(Value),
    /// Stream bytes.
    Media(Vec<u8>),
}

/// A socket on a live room: `publish` (the host) or `watch` (a viewer).
pub struct LiveSocket {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    /// The items of the last tick frame not yet read.
    pending: std::collections::VecDeque<Value>,
}

impl LiveSocket {
    /// Opens `/api/v1/channels/live/{room_id}/{which}`, signed in with `token` if given.
    ///
    /// # Errors
    ///
    /// The handshake's error (a refusal's HTTP status is in it).
    pub async fn connect(
        server: &TestServer,
        room_id: &str,
        which: &str,
        token: Option<&str>,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let url = format!(
            "{}/api/v1/channels/live/{room_id}/{which}",
            server.base_url.replacen("http", "ws", 1)
        );
        let mut request = url.into_client_request()?;
        if let Some(token) = token {
            let bearer = format!("Bearer {token}")
                .parse()
                .map_err(|_| tokio_tungstenite::tungstenite::Error::Utf8("bad token".into()))?;
            request.headers_mut().insert("authorization", bearer);
        }
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Self {
            socket,
            pending: std::collections::VecDeque::new(),
        })
    }

    /// Sends stream bytes.
    ///
    /// # Panics
    ///
    /// When the socket is closed.
    pub async fn send_media(&mut self, bytes: &[u8]) {
        use futures_util::SinkExt as _;
        self.socket
            .send(tokio_tungstenite::tungstenite::Message::Binary(
                bytes.to_vec().into(),
            ))
            .await
            // Fails only when the server closed the socket, the test's failure to report.
            .expect("send stream bytes");
    }

    /// Sends a JSON frame.
    ///
    /// # Panics
    ///
    /// When the socket is closed.
    pub async fn send_json(&mut self, frame: &Value) {
        use futures_util::SinkExt as _;
        self.socket
            .send(tokio_tungstenite::tungstenite::Message::Text(
                frame.to_string().into(),
            ))
            .await
            // Fails only when the server closed the socket, the test's failure to report.
            .expect("send a frame");
    }

    /// The next frame (up to 20 s), after the items of a tick's frame (`comments`) were
    /// each given as events; `None` once the socket closed.
    ///
    /// # Panics
    ///
    /// When none comes in time.
    pub async fn next(&mut self) -> Option<LiveFrame> {
        use futures_util::StreamExt as _;
        use tokio_tungstenite::tungstenite::Message;
        if let Some(item) = self.pending.pop_front() {
            return Some(LiveFrame::Event(item));
        }
        loop {
            let frame =
                // A bounded wait: nothing in 20 s is the test's failure to report.
                tokio::time::timeout(std::time::Duration::from_secs(20), self.socket.next())
                    .await
                    .expect("a frame within 20 s");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    // The server sends JSON text frames only; anything else is the failure under test.
                    let event: Value = serde_json::from_str(&text).expect("JSON");
                    // A tick's frame: itself, then each of its items as an event.
                    if event["op"] == "comments"
                        && let Some(items) = event["items"].as_array()
                    {
                        self.pending.extend(items.iter().cloned());
                    }
                    return Some(LiveFrame::Event(event));
                }
                Some(Ok(Message::Binary(bytes))) => return Some(LiveFrame::Media(bytes.to_vec())),
                Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// Reads until an event `wanted` accepts, keeping the stream bytes read meanwhile
    /// in `media`.
    ///
    /// # Panics
    ///
    /// When the socket closes first or nothing comes for 20 s.
    pub async fn event(&mut self, media: &mut Vec<u8>, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            // The room is on air for the whole wait; a closed socket is the failure under test.
            match self.next().await.expect("the socket stays open") {
                LiveFrame::Event(event) if wanted(&event) => return event,
                LiveFrame::Event(_) => {}
                LiveFrame::Media(bytes) => media.extend(bytes),
            }
        }
    }

    /// Reads stream bytes into `media` until it holds `length` bytes (events skipped).
    ///
    /// # Panics
    ///
    /// When the socket closes first or nothing comes for 20 s.
    pub async fn media_until(&mut self, media: &mut Vec<u8>, length: usize) {
        while media.len() < length {
            // The room is on air for the whole wait; a closed socket is the failure under test.
            if let LiveFrame::Media(bytes) = self.next().await.expect("the socket stays open") {
                media.extend(bytes);
            }
        }
    }
}
