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
