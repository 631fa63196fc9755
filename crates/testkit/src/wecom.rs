//! WeCom helpers: a corp made through the admin API with its secrets, the server API's
//! calls, and a corp's callback server that verifies and decrypts what Plaza sends with
//! the WXBizMsgCrypt of `plaza-wx` (itself checked against Python's `cryptography`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use plaza_wx::msgcrypt::MsgCrypt;
use serde_json::{Value, json};

use crate::TestServer;
use crate::miniapp::{errcode, wx_get, wx_post};

/// A corp made through the admin API, with its secrets.
#[derive(Debug, Clone)]
pub struct Corp {
    /// `ww…`.
    pub corpid: String,
    /// The contacts secret.
    pub contacts_secret: String,
    /// The first app's agentid.
    pub agentid: i64,
    /// The first app's secret.
    pub app_secret: String,
}

impl Corp {
    /// Creates a corp named `name`.
    ///
    /// # Panics
    ///
    /// When the server refuses.
    pub async fn create(server: &TestServer, name: &str) -> Self {
        let reply = server
            .admin_post("/api/v1/admin/corps", &json!({ "name": name }))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        let created = reply.json();
        let text = |value: &Value| value.as_str().expect("a text field").to_owned();
        Self {
            corpid: text(&created["corpid"]),
            contacts_secret: text(&created["contacts_secret"]),
            agentid: created["app"]["agentid"].as_i64().expect("an agentid"),
            app_secret: text(&created["app"]["secret"]),
        }
    }

    /// A token of `secret`.
    ///
    /// # Panics
    ///
    /// When the server refuses.
    pub async fn token(&self, server: &TestServer, secret: &str) -> String {
        let answer = wx_get(
            server,
            &format!(
                "/wecom/cgi-bin/gettoken?corpid={}&corpsecret={secret}",
                self.corpid
            ),
        )
        .await;
        assert_eq!(errcode(&answer), 0, "{answer}");
        answer["access_token"].as_str().expect("a token").to_owned()
    }

    /// Adds a member to department 1 with the contacts secret's token.
    ///
    /// # Panics
    ///
    /// When the server refuses.
    pub async fn add_member(&self, server: &TestServer, userid: &str, name: &str, mobile: &str) {
        let token = self.token(server, &self.contacts_secret).await;
        let body = json!({ "userid": userid, "name": name, "department": [1], "mobile": mobile });
        let answer = wx_post_json(server, "user/create", &token, &body).await;
        assert_eq!(errcode(&answer), 0, "{answer}");
    }

    /// The invitation code of a member.
    ///
    /// # Panics
    ///
    /// When the member has none.
    pub async fn invitation(&self, server: &TestServer, userid: &str) -> String {
        let members = server
            .admin_get(&format!("/api/v1/admin/corps/{}/members", self.corpid))
            .await
            .json();
        members["members"]
            .as_array()
            .expect("members")
            .iter()
            .find(|m| m["userid"] == userid)
            .and_then(|m| m["invitation"].as_str())
            .expect("an invitation")
            .to_owned()
    }
}

/// `GET /wecom/cgi-bin/{path}` with the token.
pub async fn wx_get_with(server: &TestServer, path: &str, token: &str) -> Value {
    let joiner = if path.contains('?') { '&' } else { '?' };
    wx_get(
        server,
        &format!("/wecom/cgi-bin/{path}{joiner}access_token={token}"),
    )
    .await
}

/// `POST /wecom/cgi-bin/{path}` with the token and a JSON body sent as wechatpy does.
pub async fn wx_post_json(server: &TestServer, path: &str, token: &str, body: &Value) -> Value {
    wx_post(
        server,
        &format!("/wecom/cgi-bin/{path}?access_token={token}"),
        &body.to_string(),
    )
    .await
}

/// How a corp's server answers events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorpMode {
    /// 200 with an empty body.
    Accept,
    /// 500.
    Fail,
    /// Never answers.
    Hang,
}

#[derive(Clone)]
struct CorpServerState {
    crypt: MsgCrypt,
    events: Arc<Mutex<Vec<String>>>,
    mode: Arc<Mutex<CorpMode>>,
    verified: Arc<Mutex<u32>>,
}

/// A corp's callback server: answers URL verification with the decrypted `echostr` and
/// keeps each event it can verify and decrypt.
#[derive(Clone)]
pub struct CorpServer {
    /// Where it listens.
    pub url: String,
    /// The token.
    pub token: String,
    /// The EncodingAESKey.
    pub encoding_aes_key: String,
    state: CorpServerState,
}

impl CorpServer {
    /// Starts one for `corpid`.
    ///
    /// # Panics
    ///
    /// When no port can be bound.
    pub async fn start(corpid: &str) -> Self {
        let token = "PlazaToken2026".to_owned();
        let encoding_aes_key = MsgCrypt::new_aes_key(&mut rand::rng());
        let crypt = MsgCrypt::new(&token, &encoding_aes_key, corpid).expect("a valid key");
        let state = CorpServerState {
            crypt,
            events: Arc::default(),
            mode: Arc::new(Mutex::new(CorpMode::Accept)),
            verified: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/wecom/callback", get(verify).post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a port");
        let url = format!(
            "http://{}/wecom/callback",
            listener.local_addr().expect("an address")
        );
        tokio::spawn(async move {
            let _ignored = axum::serve(listener, app).await;
        });
        Self {
            url,
            token,
            encoding_aes_key,
            state,
        }
    }

    /// Points the corp's callbacks here (Plaza verifies the URL first).
    ///
    /// # Panics
    ///
    /// When Plaza refuses.
    pub async fn register(&self, server: &TestServer, corpid: &str) {
        let body = json!({ "url": self.url, "token": self.token, "encoding_aes_key": self.encoding_aes_key });
        let reply = server
            .admin_put(&format!("/api/v1/admin/corps/{corpid}/callback"), &body)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert!(
            *self.state.verified.lock().expect("lock") >= 1,
            "Plaza verified the URL first"
        );
    }

    /// Changes how it answers from now on.
    ///
    /// # Panics
    ///
    /// When the lock is poisoned.
    pub fn set_mode(&self, mode: CorpMode) {
        *self.state.mode.lock().expect("lock") = mode;
    }

    /// The decrypted events so far.
    ///
    /// # Panics
    ///
    /// When the lock is poisoned.
    pub fn events(&self) -> Vec<String> {
        self.state.events.lock().expect("lock").clone()
    }

    /// Waits (up to 20 s) until an event containing every one of `parts` arrived.
    ///
    /// # Panics
    ///
    /// When none does in time.
    pub async fn wait_for(&self, parts: &[&str]) -> String {
        for _ in 0..400 {
            if let Some(found) = self
                .events()
                .into_iter()
                .find(|e| parts.iter().all(|p| e.contains(p)))
            {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no event with {parts:?} arrived; got {:?}", self.events());
    }
}

async fn verify(
    State(state): State<CorpServerState>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> (StatusCode, String) {
    let part = |name: &str| query.get(name).map_or("", String::as_str);
    match state.crypt.open(
        part("msg_signature"),
        part("timestamp"),
        part("nonce"),
        part("echostr"),
    ) {
        Ok(plain) => {
            *state.verified.lock().expect("lock") += 1;
            (StatusCode::OK, String::from_utf8_lossy(&plain).into_owned())
        }
        Err(error) => (StatusCode::FORBIDDEN, error.to_string()),
    }
}

async fn receive(
    State(state): State<CorpServerState>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    body: String,
) -> StatusCode {
    let mode = *state.mode.lock().expect("lock");
    if mode == CorpMode::Hang {
        tokio::time::sleep(Duration::from_secs(3_600)).await;
    }
    let part = |name: &str| query.get(name).map_or("", String::as_str);
    let Ok(plain) = state.crypt.open_envelope(
        body.as_bytes(),
        part("msg_signature"),
        part("timestamp"),
        part("nonce"),
    ) else {
        return StatusCode::FORBIDDEN;
    };
    if mode == CorpMode::Fail {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    state
        .events
        .lock()
        .expect("lock")
        .push(String::from_utf8_lossy(&plain).into_owned());
    StatusCode::OK
}

/// A chat client on the WeCom chat socket, signed in with a session token.
pub struct ChatClient {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    /// Frames read but not yet taken, oldest first.
    backlog: std::collections::VecDeque<Value>,
}

impl ChatClient {
    /// Connects with `token` (as a browser's cookie would sign in).
    ///
    /// # Errors
    ///
    /// The handshake's error (a refused session gets HTTP 401).
    pub async fn connect(
        server: &TestServer,
        token: &str,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let url = format!(
            "{}/api/v1/me/wecom/chat",
            server.base_url.replacen("http", "ws", 1)
        );
        let mut request = url.into_client_request()?;
        let bearer = format!("Bearer {token}")
            .parse()
            .map_err(|_| tokio_tungstenite::tungstenite::Error::Utf8("bad token".into()))?;
        request.headers_mut().insert("authorization", bearer);
        let (socket, _) = tokio_tungstenite::connect_async(request).await?;
        let mut client = Self {
            socket,
            backlog: std::collections::VecDeque::new(),
        };
        let hello = client.next().await;
        assert_eq!(hello["op"], "hello", "{hello}");
        Ok(client)
    }

    /// Sends one JSON frame.
    ///
    /// # Panics
    ///
    /// When the socket is closed.
    pub async fn send(&mut self, frame: &Value) {
        use futures_util::SinkExt as _;
        self.socket
            .send(tokio_tungstenite::tungstenite::Message::Text(
                frame.to_string().into(),
            ))
            .await
            .expect("send a frame");
    }

    /// The next frame (up to 20 s).
    ///
    /// # Panics
    ///
    /// When none comes in time or the socket closes.
    pub async fn next(&mut self) -> Value {
        if let Some(frame) = self.backlog.pop_front() {
            return frame;
        }
        self.read().await
    }

    async fn read(&mut self) -> Value {
        use futures_util::StreamExt as _;
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(20), self.socket.next())
                .await
                .expect("a frame within 20 s")
                .expect("the socket is open")
                .expect("a readable frame");
            if let tokio_tungstenite::tungstenite::Message::Text(text) = frame {
                return serde_json::from_str(&text).expect("JSON");
            }
        }
    }

    /// The first frame (skipping and keeping others for later) that `wanted` accepts,
    /// waiting up to 20 s for each.
    ///
    /// # Panics
    ///
    /// When none comes in time.
    pub async fn wait_for(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(at) = self.backlog.iter().position(&wanted) {
            return self.backlog.remove(at).expect("the position exists");
        }
        for _ in 0..10_000 {
            let frame = self.read().await;
            if wanted(&frame) {
                return frame;
            }
            self.backlog.push_back(frame);
        }
        panic!("no wanted frame among 10,000");
    }

    /// Subscribes to a conversation from after `after` and waits until it is live;
    /// returns the stored messages it was sent first.
    pub async fn subscribe(&mut self, conversation: &str, after: u64) -> Vec<Value> {
        self.send(&json!({ "op": "subscribe", "conversation": conversation, "after": after }))
            .await;
        let mut caught_up = Vec::new();
        loop {
            let frame = self.next().await;
            match frame["op"].as_str() {
                Some("subscribed") if frame["conversation"] == conversation => return caught_up,
                Some("message") if frame["conversation"] == conversation => caught_up.push(frame),
                Some("error") => panic!("subscribing failed: {frame}"),
                _ => self.backlog.push_back(frame),
            }
        }
    }

    /// Sends a text message and waits for its acknowledgement.
    pub async fn say(&mut self, conversation: &str, client_id: &str, text: &str) -> Value {
        self.send(&json!({ "op": "send", "conversation": conversation, "client_id": client_id, "msgtype": "text", "text": { "content": text } })).await;
        self.wait_for(|f| (f["op"] == "ack" || f["op"] == "error") && f["client_id"] == client_id)
            .await
    }

    /// Closes the socket.
    pub async fn close(mut self) {
        let _closed = self.socket.close(None).await;
    }
}
