//! Payment test helpers: a merchant that signs APIv3 requests like an SDK does, a payer
//! with a session, and a notification sink that plays a merchant's `notify_url`.
//!
//! Like the rest of the kit, the helpers `expect` instead of returning errors, each with
//! a message naming what failed: they run only inside tests, where a key that does not
//! parse or a server that cannot be reached must fail the test at once and say why.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use plaza_wx::rsa::{PrivateKey, PublicKey};
use plaza_wx::v2::{Params, SignType};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::{Reply, TestServer};

/// A merchant's credentials, as `POST /api/v1/admin/merchants` returns them.
#[derive(Debug, Clone)]
pub struct Merchant {
    /// Everything the server returned.
    pub credentials: Value,
    /// `mchid`.
    pub mchid: String,
    /// The bound appid.
    pub appid: String,
    /// The merchant certificate's serial.
    pub serial_no: String,
    /// The APIv3 key.
    pub apiv3_key: String,
    key: Arc<PrivateKey>,
    /// The platform's public key (both modes share one key).
    pub platform_key: PublicKey,
    /// `Wechatpay-Serial` to send: `None` (certificate mode, like the Python SDK) or
    /// the public key id.
    pub wechatpay_serial: Option<String>,
}

impl Merchant {
    /// `paySign` for `wx.requestPayment` (APIv3, `signType: "RSA"`): base64 RSA-SHA256
    /// over `appId\ntimeStamp\nnonceStr\npackage\n` with this merchant's key.
    ///
    /// # Panics
    ///
    /// When signing fails (the key is a valid RSA key made by the server).
    pub fn pay_sign(
        &self,
        appid: &str,
        time_stamp: &str,
        nonce_str: &str,
        package: &str,
    ) -> String {
        let message = format!("{appid}\n{time_stamp}\n{nonce_str}\n{package}\n");
        self.key
            .sign_sha256_base64(message.as_bytes())
            .expect("sign with the merchant's key")
    }

    /// Creates a merchant through the admin API.
    ///
    /// # Panics
    ///
    /// When the server refuses.
    pub async fn create(server: &TestServer, name: &str) -> Self {
        Self::create_with(server, &json!({ "name": name })).await
    }

    /// Creates a merchant with the given admin request body.
    ///
    /// # Panics
    ///
    /// When the server refuses.
    pub async fn create_with(server: &TestServer, body: &Value) -> Self {
        let reply = server.admin_post("/api/v1/admin/merchants", body).await;
        assert_eq!(reply.status, 201, "creating a merchant: {}", reply.text);
        Self::from_credentials(reply.json(), "mchid", "appid")
    }

    /// Creates a service provider through the admin API: it signs as `sp_mchid`, and
    /// [`Merchant::appid`] is its `sp_appid`.
    ///
    /// # Panics
    ///
    /// When the server refuses.
    pub async fn create_provider(server: &TestServer, body: &Value) -> Self {
        let reply = server.admin_post("/api/v1/admin/providers", body).await;
        assert_eq!(reply.status, 201, "creating a provider: {}", reply.text);
        Self::from_credentials(reply.json(), "sp_mchid", "sp_appid")
    }

    fn from_credentials(credentials: Value, mchid_field: &str, appid_field: &str) -> Self {
        let text = |name: &str| credentials[name].as_str().unwrap_or_default().to_owned();
        let key = PrivateKey::from_pem(&text("private_key")).expect("the private key parses");
        let platform_key =
            PublicKey::from_pem(&text("public_key")).expect("the platform public key parses");
        Self {
            mchid: text(mchid_field),
            appid: text(appid_field),
            serial_no: text("cert_serial_no"),
            apiv3_key: text("apiv3_key"),
            key: Arc::new(key),
            platform_key,
            wechatpay_serial: None,
            credentials,
        }
    }

    /// The `Authorization` header of a request signed now.
    ///
    /// # Panics
    ///
    /// When signing fails.
    pub fn authorization(&self, method: &str, target: &str, body: &str, timestamp: i64) -> String {
        let nonce = format!(
            "{:032X}",
            crate::unique() as u128 * 7_919 + timestamp as u128
        );
        plaza_wx::auth::sign_request(
            &self.key,
            &self.mchid,
            &self.serial_no,
            method,
            target,
            body.as_bytes(),
            timestamp,
            &nonce,
        )
        .expect("signing works")
    }

    /// Sends a signed APIv3 request, like an SDK.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn v3(
        &self,
        server: &TestServer,
        method: &str,
        target: &str,
        body: Option<&Value>,
    ) -> Reply {
        let body = body.map(Value::to_string).unwrap_or_default();
        let authorization = self.authorization(method, target, &body, now_s());
        self.v3_raw(server, method, target, &body, Some(&authorization))
            .await
    }

    /// `GET target`, signed; the reply whatever it is.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn get(&self, server: &TestServer, target: &str) -> Reply {
        self.v3(server, "GET", target, None).await
    }

    /// `POST target` with a JSON body, signed; the reply whatever it is.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn post(&self, server: &TestServer, target: &str, body: &Value) -> Reply {
        self.v3(server, "POST", target, Some(body)).await
    }

    /// Sends a signed APIv3 request that must answer `status` with the platform's
    /// signature over its body, as an SDK checks every answer; its JSON (`Null` for an
    /// empty body).
    ///
    /// # Panics
    ///
    /// When the status differs (the message holds the body) or the answer is not signed.
    pub async fn v3_expecting(
        &self,
        server: &TestServer,
        method: &str,
        target: &str,
        body: Option<&Value>,
        status: u16,
    ) -> Value {
        let reply = self.v3(server, method, target, body).await;
        assert_eq!(reply.status, status, "{method} {target}: {}", reply.text);
        assert!(
            self.verifies(&reply),
            "{method} {target}: the answer is signed by the platform"
        );
        reply.json()
    }

    /// `GET target`, signed, which must answer 200, signed; its JSON.
    ///
    /// # Panics
    ///
    /// As [`Merchant::v3_expecting`].
    pub async fn get_ok(&self, server: &TestServer, target: &str) -> Value {
        self.v3_expecting(server, "GET", target, None, 200).await
    }

    /// `POST target` with a JSON body, signed, which must answer 200, signed; its JSON.
    ///
    /// # Panics
    ///
    /// As [`Merchant::v3_expecting`].
    pub async fn post_ok(&self, server: &TestServer, target: &str, body: &Value) -> Value {
        self.v3_expecting(server, "POST", target, Some(body), 200)
            .await
    }

    /// The body of a Native prepay (`POST /v3/pay/transactions/native`) of this merchant
    /// for `total_fen` CNY, notifying `notify_url`.
    pub fn native_order(&self, out_trade_no: &str, total_fen: i64, notify_url: &str) -> Value {
        json!({
            "appid": self.appid,
            "mchid": self.mchid,
            "description": "Flat white",
            "out_trade_no": out_trade_no,
            "notify_url": notify_url,
            "amount": {"total": total_fen, "currency": "CNY"},
        })
    }

    /// Prepays a Native order (`POST /v3/pay/transactions/native`) with `body`, which
    /// must succeed; its `code_url`.
    ///
    /// # Panics
    ///
    /// When the prepay is refused or its answer is not signed.
    pub async fn prepay_native(&self, server: &TestServer, body: &Value) -> String {
        let answer = self
            .post_ok(server, "/v3/pay/transactions/native", body)
            .await;
        answer["code_url"]
            .as_str()
            .expect("a prepay answers a code_url")
            .to_owned()
    }

    /// Prepays the Native order of [`Merchant::native_order`], which must succeed; its
    /// `code_url`.
    ///
    /// # Panics
    ///
    /// When the prepay is refused or its answer is not signed.
    pub async fn create_native(
        &self,
        server: &TestServer,
        out_trade_no: &str,
        total_fen: i64,
        notify_url: &str,
    ) -> String {
        self.prepay_native(
            server,
            &self.native_order(out_trade_no, total_fen, notify_url),
        )
        .await
    }

    /// Its available balance, fen, as the admin API shows it.
    ///
    /// # Panics
    ///
    /// As [`available_balance`].
    pub async fn available_balance(&self, server: &TestServer) -> i64 {
        available_balance(server, &self.mchid).await
    }

    /// Tops up its available balance from the bank by `amount_fen`
    /// (`POST /api/v1/sandbox/merchants/{mchid}/top-up`, idempotent by `request_id`).
    ///
    /// # Panics
    ///
    /// When the sandbox refuses.
    pub async fn top_up(&self, server: &TestServer, amount_fen: i64, request_id: &str) {
        server
            .admin_post_ok(
                &format!("/api/v1/sandbox/merchants/{}/top-up", self.mchid),
                &json!({ "amount": amount_fen, "request_id": request_id }),
            )
            .await;
    }

    /// As a service provider, adds a sub-merchant
    /// (`POST /api/v1/admin/providers/{sp_mchid}/sub-merchants` with `body`); its
    /// `sub_mchid`.
    ///
    /// # Panics
    ///
    /// When the server refuses or names another provider.
    pub async fn add_sub_merchant(&self, server: &TestServer, body: &Value) -> String {
        let reply = server
            .admin_post(
                &format!("/api/v1/admin/providers/{}/sub-merchants", self.mchid),
                body,
            )
            .await;
        assert_eq!(reply.status, 201, "adding a sub-merchant: {}", reply.text);
        assert_eq!(reply.json()["sp_mchid"], self.mchid.as_str());
        reply.json()["sub_mchid"]
            .as_str()
            .expect("a sub_mchid")
            .to_owned()
    }

    /// Sends an APIv3 request with a given body and `Authorization` (or none).
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn v3_raw(
        &self,
        server: &TestServer,
        method: &str,
        target: &str,
        body: &str,
        authorization: Option<&str>,
    ) -> Reply {
        self.v3_raw_at(
            &server.client,
            &server.base_url,
            method,
            target,
            body,
            authorization,
        )
        .await
    }

    /// Sends a signed APIv3 request through `client` to `base_url` (e.g. WeChat's own
    /// host, in drop-in mode), like an SDK.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn v3_at(
        &self,
        client: &reqwest::Client,
        base_url: &str,
        method: &str,
        target: &str,
        body: Option<&Value>,
    ) -> Reply {
        let body = body.map(Value::to_string).unwrap_or_default();
        let authorization = self.authorization(method, target, &body, now_s());
        self.v3_raw_at(
            client,
            base_url,
            method,
            target,
            &body,
            Some(&authorization),
        )
        .await
    }

    async fn v3_raw_at(
        &self,
        client: &reqwest::Client,
        base_url: &str,
        method: &str,
        target: &str,
        body: &str,
        authorization: Option<&str>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = client
            .request(method, format!("{base_url}{target}"))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(body.to_owned());
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        if let Some(serial) = &self.wechatpay_serial {
            request = request.header("wechatpay-serial", serial);
        }
        crate::send(request).await.expect("send a v3 request")
    }

    /// Queries one of its orders by `out_trade_no`
    /// (`GET /v3/pay/transactions/out-trade-no/{no}?mchid=`), signed, and answers the
    /// reply whatever it is.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn query_order(&self, server: &TestServer, out_trade_no: &str) -> Reply {
        let target = format!(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={}",
            self.mchid
        );
        self.v3(server, "GET", &target, None).await
    }

    /// One of its orders, by `out_trade_no`, as the query answers it.
    ///
    /// # Panics
    ///
    /// When the query is refused or its answer is not signed by the platform.
    pub async fn order(&self, server: &TestServer, out_trade_no: &str) -> Value {
        let reply = self.query_order(server, out_trade_no).await;
        assert_eq!(
            reply.status, 200,
            "querying order {out_trade_no}: {}",
            reply.text
        );
        assert!(
            self.verifies(&reply),
            "the answer about order {out_trade_no} is signed"
        );
        reply.json()
    }

    /// Whether a reply carries a valid platform signature over its exact body.
    pub fn verifies(&self, reply: &Reply) -> bool {
        let (Some(timestamp), Some(nonce), Some(signature)) = (
            reply.header("wechatpay-timestamp"),
            reply.header("wechatpay-nonce"),
            reply.header("wechatpay-signature"),
        ) else {
            return false;
        };
        reply.header("wechatpay-signature-type") == Some("WECHATPAY2-SHA256-RSA2048")
            && plaza_wx::response::verify_response(
                &self.platform_key,
                timestamp,
                nonce,
                signature,
                reply.text.as_bytes(),
            )
    }

    /// Whether a received notification carries a valid platform signature.
    pub fn verifies_notification(&self, received: &Received) -> bool {
        let (Some(timestamp), Some(nonce), Some(signature)) = (
            received.header("wechatpay-timestamp"),
            received.header("wechatpay-nonce"),
            received.header("wechatpay-signature"),
        ) else {
            return false;
        };
        plaza_wx::response::verify_response(
            &self.platform_key,
            timestamp,
            nonce,
            signature,
            received.body.as_bytes(),
        )
    }

    /// Downloads a bill the way SDKs with a fixed gateway do: `download_url` must start
    /// with `gateway`, and the rest of it is the target that is signed and fetched
    /// through `client`. Returns the file's bytes (gzip or plain, as asked for).
    ///
    /// # Panics
    ///
    /// When the URL is not under `gateway` or the download fails.
    pub async fn download_bill(
        &self,
        client: &reqwest::Client,
        gateway: &str,
        download_url: &str,
    ) -> Vec<u8> {
        let target = download_url
            .strip_prefix(gateway)
            .unwrap_or_else(|| panic!("download_url {download_url} is not under {gateway}"));
        let authorization = self.authorization("GET", target, "", now_s());
        let response = client
            .get(format!("{gateway}{target}"))
            .header("authorization", authorization)
            .send()
            .await
            .expect("download the bill");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let encoded = response.headers().get("content-encoding").is_some();
        let bytes = response.bytes().await.expect("read the bill").to_vec();
        assert_eq!(
            status,
            200,
            "downloading {target}: {}",
            String::from_utf8_lossy(&bytes)
        );
        assert!(!content_type.contains("json"), "{content_type}");
        assert!(!encoded, "a bill is sent without Content-Encoding");
        bytes
    }

    /// Downloads a bill from Plaza's base URL as [`Merchant::download_bill`] does.
    ///
    /// # Panics
    ///
    /// As [`Merchant::download_bill`].
    pub async fn download(&self, server: &TestServer, download_url: &str) -> Vec<u8> {
        self.download_bill(&server.client, &server.base_url, download_url)
            .await
    }

    /// Asks for a bill (`target`, e.g. `/v3/bill/tradebill?bill_date=…`, without
    /// `tar_type`, so the file is plain), downloads it from Plaza's base URL, checks its
    /// SHA-1 against the answer's `hash_value` and returns its text.
    ///
    /// # Panics
    ///
    /// When the bill is refused, the download fails or the hash differs.
    pub async fn bill_text(&self, server: &TestServer, target: &str) -> String {
        let answer = self.v3(server, "GET", target, None).await;
        assert_eq!(answer.status, 200, "{target}: {}", answer.text);
        let answer = answer.json();
        let url = answer["download_url"].as_str().expect("a download_url");
        let bytes = self
            .download_bill(&server.client, &server.base_url, url)
            .await;
        let text = String::from_utf8(bytes).expect("a plain bill is UTF-8");
        assert_eq!(
            Some(plaza_wx::digest::sha1_hex(text.as_bytes()).as_str()),
            answer["hash_value"].as_str(),
            "the bill's SHA-1"
        );
        text
    }

    /// Decrypts an RSA-OAEP field sent to this merchant (e.g. an encrypted bill's
    /// `encrypt_key`) with its private key.
    ///
    /// # Panics
    ///
    /// When it does not decrypt.
    pub fn decrypt_oaep(&self, ciphertext_b64: &str) -> Vec<u8> {
        self.key
            .decrypt_oaep_sha1(ciphertext_b64)
            .expect("the field decrypts with the merchant's private key")
    }

    /// Decrypts a notification body's resource with this merchant's APIv3 key.
    ///
    /// # Panics
    ///
    /// When the body is not a notification or does not decrypt.
    pub fn decrypt(&self, notification: &Value) -> Value {
        let resource = &notification["resource"];
        let text = |name: &str| {
            resource[name]
                .as_str()
                .expect("a resource field")
                .to_owned()
        };
        let plain = plaza_wx::aead::decrypt_resource(
            &self.apiv3_key,
            &text("nonce"),
            &text("associated_data"),
            &text("ciphertext"),
        )
        .expect("the resource decrypts with the APIv3 key");
        serde_json::from_slice(&plain).expect("the resource is JSON")
    }
}

/// A merchant's available balance, fen, as `GET /api/v1/admin/merchants/{mchid}` shows it.
///
/// # Panics
///
/// When the answer has no balance.
pub async fn available_balance(server: &TestServer, mchid: &str) -> i64 {
    let reply = server
        .admin_get(&format!("/api/v1/admin/merchants/{mchid}"))
        .await;
    reply.json()["available_balance"]
        .as_i64()
        .unwrap_or_else(|| panic!("merchant {mchid} has an available balance: {}", reply.text))
}

/// An APIv2 request document: `params`, signed with the merchant's APIv2 `key` the way
/// `sign_type` says (with `sign_type` among the fields when it is HMAC-SHA256), as XML.
pub fn v2_request(params: &[(&str, &str)], key: &str, sign_type: SignType) -> String {
    let mut params: Params = params
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    if sign_type == SignType::HmacSha256 {
        params.insert("sign_type".to_owned(), "HMAC-SHA256".to_owned());
    }
    let signature = plaza_wx::v2::sign(&params, key, sign_type);
    params.insert("sign".to_owned(), signature);
    plaza_wx::v2::to_xml(&params)
}

/// Posts an APIv2 document to `path` (no credentials but its signature); the answer,
/// which must be `200` XML, parsed.
///
/// # Panics
///
/// When the answer is another status, not XML, or unreadable.
pub async fn post_v2(server: &TestServer, path: &str, body: &str) -> Params {
    let reply = server.post_raw(path, body, None).await;
    assert_eq!(reply.status, 200, "POST {path}: {}", reply.text);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|kind| kind.starts_with("text/xml")),
        "POST {path} answers XML: {:?}",
        reply.header("content-type")
    );
    plaza_wx::v2::parse_xml(reply.text.as_bytes()).unwrap_or_else(|error| {
        panic!(
            "POST {path} answers readable XML ({error:?}): {}",
            reply.text
        )
    })
}

/// A trade bill read back: its detail rows and its summary, each by column name, with
/// the back-quotes taken off.
#[derive(Debug, Clone)]
pub struct TradeBill {
    /// Detail rows.
    pub rows: Vec<BTreeMap<String, String>>,
    /// The summary row.
    pub summary: BTreeMap<String, String>,
}

/// Which detail column each summary total adds up.
const TRADE_TOTALS: [(&str, &str); 6] = [
    ("应结订单总金额", "应结订单金额"),
    ("退款总金额", "退款金额"),
    ("充值券退款总金额", "充值券退款金额"),
    ("手续费总金额", "手续费"),
    ("订单总金额", "订单金额"),
    ("申请退款总金额", "申请退款金额"),
];

impl TradeBill {
    /// Reads a trade bill's text.
    ///
    /// # Panics
    ///
    /// When it is not in the trade bill's layout.
    pub fn parse(text: &str) -> Self {
        let lines: Vec<&str> = text.split("\r\n").filter(|line| !line.is_empty()).collect();
        let split = |line: &str| -> Vec<String> {
            line.split(',')
                .map(|cell| cell.strip_prefix('`').unwrap_or(cell).to_owned())
                .collect()
        };
        let named = |header: &str, line: &str| -> BTreeMap<String, String> {
            let (names, cells) = (split(header), split(line));
            assert_eq!(names.len(), cells.len(), "{line}");
            names.into_iter().zip(cells).collect()
        };
        let summary_at = lines
            .iter()
            .position(|line| line.starts_with("总交易单数"))
            .expect("a summary header");
        assert_eq!(lines.len(), summary_at + 2, "one summary row: {text}");
        let header = lines.first().expect("a header");
        assert!(header.starts_with("交易时间,"), "{header}");
        Self {
            rows: lines[1..summary_at]
                .iter()
                .map(|line| named(header, line))
                .collect(),
            summary: named(lines[summary_at], lines[summary_at + 1]),
        }
    }

    /// The row whose `column` is `value`.
    ///
    /// # Panics
    ///
    /// When there is none.
    pub fn row(&self, column: &str, value: &str) -> &BTreeMap<String, String> {
        self.rows
            .iter()
            .find(|row| row.get(column).map(String::as_str) == Some(value))
            .unwrap_or_else(|| panic!("no row with {column} = {value}: {:?}", self.rows))
    }

    /// Asserts that the summary's count and totals are what its rows add up to.
    ///
    /// # Panics
    ///
    /// When they are not.
    pub fn assert_totals_add_up(&self) {
        assert_eq!(
            self.summary["总交易单数"],
            self.rows.len().to_string(),
            "总交易单数"
        );
        for (total, column) in TRADE_TOTALS {
            let sum: i64 = self.rows.iter().map(|row| fen(&row[column])).sum();
            assert_eq!(fen(&self.summary[total]), sum, "{total} against {column}");
        }
    }
}

/// A bill's amount in yuan (`12.30`, `-0.05`, fees with five decimals `0.15000`) as fen.
///
/// # Panics
///
/// When it is not an amount, or has fractions of a fen.
pub fn fen(yuan: &str) -> i64 {
    let (sign, digits) = match yuan.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, yuan),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let (cents, rest) = fraction.split_at(fraction.len().min(2));
    assert!(
        rest.bytes().all(|byte| byte == b'0'),
        "fractions of a fen: {yuan}"
    );
    let whole: i64 = whole.parse().expect("yuan");
    let cents: i64 = format!("{cents:0<2}").parse().expect("fen");
    sign * (whole * 100 + cents)
}

/// The text of a gzipped bill (`tar_type=GZIP`).
///
/// # Panics
///
/// When the bytes are not gzip or the text is not UTF-8.
pub fn gunzip(bytes: &[u8]) -> String {
    use std::io::Read as _;
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("a gzipped UTF-8 bill");
    text
}

/// Unix seconds now (the wall clock: what SDKs sign with).
pub fn now_s() -> i64 {
    std::time::SystemTime::UNIX_EPOCH
        .elapsed()
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// A payer with a session.
#[derive(Debug, Clone)]
pub struct Payer {
    /// The internal user id.
    pub user_id: String,
    /// The payment password.
    pub password: String,
    /// The bearer token.
    pub token: String,
}

impl Payer {
    /// Creates a user with `balance` fen (sandbox servers only).
    ///
    /// # Panics
    ///
    /// When the server refuses.
    pub async fn create(server: &TestServer, name: &str, balance: i64) -> Self {
        let reply = server
            .admin_post(
                "/api/v1/admin/users",
                &json!({ "name": name, "password": "123456", "balance": balance }),
            )
            .await;
        assert_eq!(reply.status, 201, "creating a user: {}", reply.text);
        let user = reply.json();
        Self {
            user_id: user["user_id"].as_str().unwrap_or_default().to_owned(),
            password: "123456".to_owned(),
            token: user["token"].as_str().unwrap_or_default().to_owned(),
        }
    }

    /// `POST path` as this payer.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn post(&self, server: &TestServer, path: &str, body: &Value) -> Reply {
        server
            .send(
                server
                    .client
                    .post(format!("{}{path}", server.base_url))
                    .bearer_auth(&self.token)
                    .json(body),
            )
            .await
            .expect("POST as a payer")
    }

    /// `PUT path` with a JSON body as this payer.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn put(&self, server: &TestServer, path: &str, body: &Value) -> Reply {
        server
            .send(
                server
                    .client
                    .put(format!("{}{path}", server.base_url))
                    .bearer_auth(&self.token)
                    .json(body),
            )
            .await
            .expect("PUT as a payer")
    }

    /// `PATCH path` with a JSON body as this payer.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn patch(&self, server: &TestServer, path: &str, body: &Value) -> Reply {
        server
            .send(
                server
                    .client
                    .patch(format!("{}{path}", server.base_url))
                    .bearer_auth(&self.token)
                    .json(body),
            )
            .await
            .expect("PATCH as a payer")
    }

    /// `DELETE path` as this payer.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn delete(&self, server: &TestServer, path: &str) -> Reply {
        server
            .send(
                server
                    .client
                    .delete(format!("{}{path}", server.base_url))
                    .bearer_auth(&self.token),
            )
            .await
            // Fails only when the server under test does not answer, the test's failure to report.
            .expect("DELETE as a payer")
    }

    /// `GET path` as this payer.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn get(&self, server: &TestServer, path: &str) -> Reply {
        server
            .send(
                server
                    .client
                    .get(format!("{}{path}", server.base_url))
                    .bearer_auth(&self.token),
            )
            .await
            .expect("GET as a payer")
    }

    /// Pays the order behind a `code_url` with the right password.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn pay_code(&self, server: &TestServer, code_url: &str) -> Reply {
        self.post(
            server,
            "/api/v1/pay/confirm",
            &json!({ "code_url": code_url, "password": self.password }),
        )
        .await
    }

    /// `POST path` as this payer, which must answer 200; its JSON.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached or answers another status.
    pub async fn post_ok(&self, server: &TestServer, path: &str, body: &Value) -> Value {
        let reply = self.post(server, path, body).await;
        assert_eq!(reply.status, 200, "POST {path}: {}", reply.text);
        reply.json()
    }

    /// `GET path` as this payer, which must answer 200; its JSON.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached or answers another status.
    pub async fn get_ok(&self, server: &TestServer, path: &str) -> Value {
        let reply = self.get(server, path).await;
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.text);
        reply.json()
    }

    /// Pays the order behind a `code_url` with the right password, which must succeed;
    /// the answer (`trade_state`, `transaction_id`…).
    ///
    /// # Panics
    ///
    /// When the payment is refused; the message holds the answer.
    pub async fn pay(&self, server: &TestServer, code_url: &str) -> Value {
        let reply = self.pay_code(server, code_url).await;
        assert_eq!(reply.status, 200, "paying {code_url}: {}", reply.text);
        reply.json()
    }

    /// Sets the payer's password-free limit for payment codes, fen
    /// (`POST /api/v1/admin/users/{id}/password-free-limit`).
    ///
    /// # Panics
    ///
    /// When the server refuses.
    pub async fn set_password_free_limit(&self, server: &TestServer, limit_fen: i64) {
        server
            .admin_post_ok(
                &format!("/api/v1/admin/users/{}/password-free-limit", self.user_id),
                &json!({ "password_free_limit": limit_fen }),
            )
            .await;
    }

    /// A fresh payment code (`POST /api/v1/me/payment-code`): 18 digits starting 10–15,
    /// valid for a minute.
    ///
    /// # Panics
    ///
    /// When the server refuses or the code has another shape.
    pub async fn payment_code(&self, server: &TestServer) -> String {
        let reply = self
            .post(server, "/api/v1/me/payment-code", &json!({}))
            .await;
        assert_eq!(reply.status, 200, "a payment code: {}", reply.text);
        let code = reply.json()["code"]
            .as_str()
            .expect("a payment code")
            .to_owned();
        assert_eq!(code.len(), 18, "{code}");
        assert!(("10".."16").contains(&&code[..2]), "{code}");
        assert_eq!(reply.json()["valid_for_s"], 60);
        code
    }

    /// The payer's openid under `appid` (`GET /api/v1/me/openid?appid=`).
    ///
    /// # Panics
    ///
    /// When the server answers none.
    pub async fn openid(&self, server: &TestServer, appid: &str) -> String {
        let reply = self
            .get(server, &format!("/api/v1/me/openid?appid={appid}"))
            .await;
        reply.json()["openid"]
            .as_str()
            .unwrap_or_else(|| panic!("an openid under {appid}: {}", reply.text))
            .to_owned()
    }

    /// The payer's wallet balance, fen.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub async fn balance(&self, server: &TestServer) -> i64 {
        self.get(server, "/api/v1/me").await.json()["balance"]
            .as_i64()
            .expect("a balance")
    }
}

/// One request a [`NotifySink`] received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Header names in lower case, with values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Received {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// How a sink answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkMode {
    /// `200 {"code":"SUCCESS"}`.
    Accept,
    /// `500 {"code":"FAIL"}`.
    Fail,
    /// Reads the request and never answers.
    Hang,
}

/// A merchant's `notify_url`: an HTTP server that records what it receives.
#[derive(Debug, Clone)]
pub struct NotifySink {
    /// `http://127.0.0.1:PORT/notify`.
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    mode: Arc<Mutex<SinkMode>>,
}

impl NotifySink {
    /// Starts a sink answering as `mode`.
    ///
    /// # Panics
    ///
    /// When no port can be bound.
    pub async fn start(mode: SinkMode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a sink port");
        let url = format!(
            "http://{}/notify",
            listener.local_addr().expect("a local address")
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let mode = Arc::new(Mutex::new(mode));
        let sink = Self {
            url,
            received: received.clone(),
            mode: mode.clone(),
        };
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    break;
                };
                let received = received.clone();
                let mode = mode.clone();
                tokio::spawn(async move {
                    let _ignored = serve_one(stream, received, mode).await;
                });
            }
        });
        sink
    }

    /// Changes how it answers from now on.
    ///
    /// # Panics
    ///
    /// When the lock is poisoned.
    pub fn set_mode(&self, mode: SinkMode) {
        *self.mode.lock().expect("the mode lock") = mode;
    }

    /// Everything received so far.
    ///
    /// # Panics
    ///
    /// When the lock is poisoned.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("the received lock").clone()
    }

    /// Waits until at least `count` requests arrived (up to 20 s).
    ///
    /// # Panics
    ///
    /// When they do not arrive in time.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..400 {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the sink received {} requests, expected {count}",
            self.received().len()
        );
    }
}

async fn serve_one(
    mut stream: tokio::net::TcpStream,
    received: Arc<Mutex<Vec<Received>>>,
    mode: Arc<Mutex<SinkMode>>,
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0_u8; 4096];
    let (head_end, content_length) = loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(position) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..position]).to_string();
            let length = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            break (position + 4, length);
        }
    };
    while buffer.len() < head_end + content_length {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect();
    let end = (head_end + content_length).min(buffer.len());
    let body = String::from_utf8_lossy(&buffer[head_end..end]).to_string();
    received
        .lock()
        .expect("the received lock")
        .push(Received { headers, body });
    let mode = *mode.lock().expect("the mode lock");
    let (status, text) = match mode {
        SinkMode::Accept => ("200 OK", r#"{"code":"SUCCESS","message":"成功"}"#),
        SinkMode::Fail => (
            "500 Internal Server Error",
            r#"{"code":"FAIL","message":"busy"}"#,
        ),
        SinkMode::Hang => {
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            return Ok(());
        }
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}
