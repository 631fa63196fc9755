//! Mini Programs as a back end and a container see them: apps made through the
//! operator's API, the server API in WeChat's envelope (always HTTP 200, bodies sent
//! without a `Content-Type`, as wechatpy sends them), and `wx.login` codes minted for a
//! signed-in user.

use serde_json::{Value, json};

use crate::TestServer;

/// A mini program with its credentials.
#[derive(Debug, Clone)]
pub struct MiniProgram {
    /// `wx` + 16 hex digits.
    pub appid: String,
    /// Its AppSecret.
    pub secret: String,
    /// The developer account it belongs to.
    pub developer_id: String,
}

impl MiniProgram {
    /// Creates a mini program owned by `developer_user_id`'s developer account (made
    /// when the user has none) through the operator's API.
    ///
    /// # Panics
    ///
    /// When the server refuses.
    pub async fn create(server: &TestServer, developer_user_id: &str, name: &str) -> Self {
        Self::create_with(
            server,
            &json!({ "developer": developer_user_id, "name": name }),
        )
        .await
    }

    /// Creates a mini program from a whole `POST /api/v1/admin/miniapps` body.
    ///
    /// # Panics
    ///
    /// When the server refuses.
    pub async fn create_with(server: &TestServer, body: &Value) -> Self {
        let reply = server.admin_post("/api/v1/admin/miniapps", body).await;
        assert_eq!(reply.status, 201, "creating a mini program: {}", reply.text);
        let app = reply.json();
        Self {
            appid: app["appid"].as_str().expect("an appid").to_owned(),
            secret: app["secret"].as_str().expect("a secret").to_owned(),
            developer_id: app["developer_id"]
                .as_str()
                .expect("a developer")
                .to_owned(),
        }
    }

    /// A new access token from `/cgi-bin/token`.
    ///
    /// # Panics
    ///
    /// When it is refused.
    pub async fn token(&self, server: &TestServer) -> String {
        let answer = wx_get(
            server,
            &format!(
                "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
                self.appid, self.secret
            ),
        )
        .await;
        answer["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {answer}"))
            .to_owned()
    }

    /// `wx.login` in this app for the user signed in with `user_token`: the code.
    ///
    /// # Panics
    ///
    /// When it is refused.
    pub async fn login_code(&self, server: &TestServer, user_token: &str) -> String {
        let reply = login(server, &self.appid, user_token).await;
        assert_eq!(reply.status, 200, "wx.login: {}", reply.text);
        let answer = reply.json();
        assert_eq!(answer["errMsg"], "login:ok");
        answer["code"].as_str().expect("a code").to_owned()
    }

    /// `/sns/jscode2session` with this app's credentials, answered as it is.
    pub async fn code_to_session(&self, server: &TestServer, code: &str) -> Value {
        wx_get(
            server,
            &format!(
                "/sns/jscode2session?appid={}&secret={}&js_code={code}&grant_type=authorization_code",
                self.appid, self.secret
            ),
        )
        .await
    }
}

/// `POST /api/v1/mp/{appid}/login` as the user signed in with `user_token`.
///
/// # Panics
///
/// When the server cannot be reached.
pub async fn login(server: &TestServer, appid: &str, user_token: &str) -> crate::Reply {
    server
        .send(
            server
                .client
                .post(format!("{}/api/v1/mp/{appid}/login", server.base_url))
                .bearer_auth(user_token),
        )
        .await
        .expect("POST wx.login")
}

/// `GET path` on the server API, which answers HTTP 200 and JSON whatever happens: the
/// JSON.
///
/// # Panics
///
/// When the status is not 200 or the body not JSON.
pub async fn wx_get(server: &TestServer, path: &str) -> Value {
    let reply = server.get(path).await;
    assert_eq!(reply.status, 200, "GET {path}: {}", reply.text);
    reply.json()
}

/// `POST path` on the server API with `body` as it is and no `Content-Type`, as
/// wechatpy sends it: the JSON answer.
///
/// # Panics
///
/// When the status is not 200 or the body not JSON.
pub async fn wx_post(server: &TestServer, path: &str, body: &str) -> Value {
    let reply = server
        .send(
            server
                .client
                .post(format!("{}{path}", server.base_url))
                .body(body.to_owned()),
        )
        .await
        .expect("POST");
    assert_eq!(reply.status, 200, "POST {path}: {}", reply.text);
    reply.json()
}

/// The `errcode` of an answer (0 when absent, as clients read it).
pub fn errcode(answer: &Value) -> i64 {
    answer["errcode"].as_i64().unwrap_or(0)
}

/// A zip of `entries` (path, bytes), deflated, as a developer tool would make it.
///
/// # Panics
///
/// When the zip cannot be written (it is built in memory).
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write as _;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        writer
            .start_file(*name, options)
            .expect("start a zip entry");
        writer.write_all(bytes).expect("write a zip entry");
    }
    writer.finish().expect("finish the zip").into_inner()
}

/// A small valid package: two pages, a tab bar, `title` on the title bar and `marker`
/// in the home page's text.
pub fn package(title: &str, marker: &str) -> Vec<u8> {
    let app_json = serde_json::json!({
        "pages": ["pages/index/index", "pages/about/about"],
        "window": {"navigationBarTitleText": title},
        "tabBar": {"list": [
            {"pagePath": "pages/index/index", "text": "首页"},
            {"pagePath": "pages/about/about", "text": "关于"},
        ]},
    })
    .to_string();
    let index = format!("<h1>{marker}</h1>");
    zip_of(&[
        ("app.json", app_json.as_bytes()),
        ("pages/index/index.html", index.as_bytes()),
        ("pages/index/index.js", b"console.log('home');"),
        ("pages/index/index.css", b"h1 { color: #07c160; }"),
        ("pages/about/about.html", b"<p>about</p>"),
    ])
}

/// Uploads `zip` as a development version through the operator's API.
///
/// # Panics
///
/// When the server cannot be reached.
pub async fn upload_as_admin(
    server: &TestServer,
    appid: &str,
    zip: Vec<u8>,
    user_version: &str,
) -> crate::Reply {
    server
        .send(
            server
                .client
                .post(format!(
                    "{}/api/v1/admin/miniapps/{appid}/versions?user_version={user_version}",
                    server.base_url
                ))
                .bearer_auth(&server.admin_token)
                .header("content-type", "application/zip")
                .body(zip),
        )
        .await
        .expect("POST a package")
}

/// Uploads `zip` as the developer signed in with `token`.
///
/// # Panics
///
/// When the server cannot be reached.
pub async fn upload_as(
    server: &TestServer,
    token: &str,
    appid: &str,
    zip: Vec<u8>,
    user_version: &str,
) -> crate::Reply {
    server
        .send(
            server
                .client
                .post(format!(
                    "{}/api/v1/me/miniapps/{appid}/versions?user_version={user_version}",
                    server.base_url
                ))
                .bearer_auth(token)
                .header("content-type", "application/zip")
                .body(zip),
        )
        .await
        .expect("POST a package")
}

/// Uploads `zip` (through the operator), submits it as the developer signed in with
/// `developer_token`, approves it (operator) and releases it (developer): the new
/// release's number.
///
/// # Panics
///
/// When a step is refused.
pub async fn release(server: &TestServer, appid: &str, developer_token: &str, zip: Vec<u8>) -> u64 {
    let uploaded = upload_as_admin(server, appid, zip, "1.0.0").await;
    assert_eq!(uploaded.status, 201, "upload: {}", uploaded.text);
    let version = uploaded.json()["version"]
        .as_u64()
        .expect("a version number");
    let as_developer = |path: String| {
        server
            .client
            .post(format!(
                "{}/api/v1/me/miniapps/{appid}{path}",
                server.base_url
            ))
            .bearer_auth(developer_token)
            .json(&json!({}))
    };
    let submitted = server
        .send(as_developer(format!("/versions/{version}/submit")))
        .await
        .expect("submit");
    assert_eq!(submitted.status, 200, "submit: {}", submitted.text);
    let approved = server
        .admin_post(
            &format!("/api/v1/admin/miniapps/{appid}/review"),
            &json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(approved.status, 200, "approve: {}", approved.text);
    let released = server
        .send(as_developer("/release".to_owned()))
        .await
        .expect("release");
    assert_eq!(released.status, 200, "release: {}", released.text);
    version
}

/// The text of the QR code in a PNG.
///
/// # Panics
///
/// When the PNG or its code cannot be read.
pub fn read_qr_png(png_bytes: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a buffer size")];
    let frame = reader.next_frame(&mut pixels).expect("a frame");
    let channels = frame.color_type.samples();
    let (width, height) = (frame.width as usize, frame.height as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
        let at = (y * width + x) * channels;
        let alpha = if channels == 4 { pixels[at + 3] } else { 255 };
        if alpha < 128 { 255 } else { pixels[at] }
    });
    let grids = image.detect_grids();
    assert!(!grids.is_empty(), "no QR code in the image");
    grids[0].decode().expect("a readable QR code").1
}
