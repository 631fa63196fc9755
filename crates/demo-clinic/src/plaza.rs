//! The back end's client of Plaza, speaking WeChat's APIs: the mini-program server API
//! (tokens, `jscode2session`, templates, `subscribe/send`) and WeChat Pay APIv3 (JSAPI
//! prepay and order query, signed with the merchant key; answers and notifications
//! verified with the platform's public key).

use std::sync::Mutex;

use anyhow::{Context, bail};
use plaza_wx::rsa::{PrivateKey, PublicKey};
use serde::Deserialize;
use serde_json::{Value, json};

/// What the back end needs to know: where Plaza is and its app's and merchant's keys.
#[derive(Debug, Clone, Deserialize)]
pub struct Credentials {
    /// Plaza's base URL (`http://127.0.0.1:8080`).
    pub plaza_base: String,
    /// The mini program.
    pub appid: String,
    /// Its AppSecret.
    pub secret: String,
    /// The merchant.
    pub mchid: String,
    /// The merchant certificate's serial.
    pub cert_serial_no: String,
    /// The merchant's private key (PEM).
    pub private_key: String,
    /// The merchant's APIv3 key.
    pub apiv3_key: String,
    /// The platform's public key (PEM), which signs answers and notifications.
    pub public_key: String,
}

pub(crate) struct Plaza {
    credentials: Credentials,
    key: PrivateKey,
    platform: PublicKey,
    client: reqwest::Client,
    token: Mutex<Option<(String, std::time::Instant)>>,
    template: Mutex<Option<String>>,
}

impl Plaza {
    pub(crate) fn new(credentials: Credentials) -> anyhow::Result<Self> {
        let key =
            PrivateKey::from_pem(&credentials.private_key).context("the merchant's private key")?;
        let platform =
            PublicKey::from_pem(&credentials.public_key).context("the platform's public key")?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        Ok(Self {
            credentials,
            key,
            platform,
            client,
            token: Mutex::default(),
            template: Mutex::default(),
        })
    }

    pub(crate) fn appid(&self) -> &str {
        &self.credentials.appid
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}{path}",
            self.credentials.plaza_base.trim_end_matches('/')
        )
    }

    /// An access token, fetched again a minute before two hours are up.
    async fn access_token(&self) -> anyhow::Result<String> {
        if let Ok(cached) = self.token.lock()
            && let Some((token, at)) = cached.as_ref()
            && at.elapsed() < std::time::Duration::from_secs(7_140)
        {
            return Ok(token.clone());
        }
        let answer: Value = self
            .client
            .get(self.url("/cgi-bin/token"))
            .query(&[
                ("grant_type", "client_credential"),
                ("appid", &self.credentials.appid),
                ("secret", &self.credentials.secret),
            ])
            .send()
            .await?
            .json()
            .await?;
        let token = answer["access_token"]
            .as_str()
            .with_context(|| format!("no token: {answer}"))?
            .to_owned();
        if let Ok(mut cached) = self.token.lock() {
            *cached = Some((token.clone(), std::time::Instant::now()));
        }
        Ok(token)
    }

    /// A call of the server API with the access token; a refusal is an error.
    async fn wx(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let token = self.access_token().await?;
        let answer: Value = self
            .client
            .post(self.url(path))
            .query(&[("access_token", token)])
            .body(body.to_string())
            .send()
            .await?
            .json()
            .await?;
        if answer["errcode"].as_i64().unwrap_or(0) != 0 {
            bail!("{path}: {answer}");
        }
        Ok(answer)
    }

    /// `jscode2session`: the user's openid behind a `wx.login` code.
    pub(crate) async fn code_to_session(&self, code: &str) -> anyhow::Result<String> {
        let answer: Value = self
            .client
            .get(self.url("/sns/jscode2session"))
            .query(&[
                ("appid", self.credentials.appid.as_str()),
                ("secret", self.credentials.secret.as_str()),
                ("js_code", code),
                ("grant_type", "authorization_code"),
            ])
            .send()
            .await?
            .json()
            .await?;
        match answer["openid"].as_str() {
            Some(openid) => Ok(openid.to_owned()),
            None => bail!("jscode2session: {answer}"),
        }
    }

    /// The "预约成功" template (库 1001: 项目, 时间, 地点, 预约人), added on first use.
    pub(crate) async fn template_id(&self) -> anyhow::Result<String> {
        if let Ok(cached) = self.template.lock()
            && let Some(id) = cached.as_ref()
        {
            return Ok(id.clone());
        }
        let token = self.access_token().await?;
        let listed: Value = self
            .client
            .get(self.url("/wxaapi/newtmpl/gettemplate"))
            .query(&[("access_token", token)])
            .send()
            .await?
            .json()
            .await?;
        let existing = listed["data"]
            .as_array()
            .and_then(|templates| templates.iter().find(|t| t["title"] == "预约成功通知"))
            .and_then(|t| t["priTmplId"].as_str().map(str::to_owned));
        let id = match existing {
            Some(id) => id,
            None => self
                .wx(
                    "/wxaapi/newtmpl/addtemplate",
                    &json!({"tid": "1001", "kidList": [1, 2, 3, 4], "sceneDesc": "预约成功"}),
                )
                .await?["priTmplId"]
                .as_str()
                .context("addtemplate answers a priTmplId")?
                .to_owned(),
        };
        if let Ok(mut cached) = self.template.lock() {
            *cached = Some(id.clone());
        }
        Ok(id)
    }

    /// `subscribe/send`: 预约成功 to the booking's person (needs their consent).
    pub(crate) async fn send_booked(
        &self,
        openid: &str,
        booking: &crate::Booking,
    ) -> anyhow::Result<()> {
        let service = if booking.service == "nat" {
            "核酸检测"
        } else {
            "疫苗接种"
        };
        let body = json!({
            "touser": openid,
            "template_id": self.template_id().await?,
            "page": format!("pages/mine/mine?booking={}", booking.id),
            "data": {
                "thing1": {"value": service},
                "time2": {"value": booking.slot},
                "thing3": {"value": booking.site},
                "name4": {"value": booking.name},
            },
        });
        self.wx("/cgi-bin/message/subscribe/send", &body)
            .await
            .map(|_| ())
    }

    /// A signed APIv3 call; the answer's signature is checked with the platform key.
    async fn v3(
        &self,
        method: &str,
        target: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let text = body.map(Value::to_string).unwrap_or_default();
        let timestamp = crate::unix_seconds();
        let nonce = plaza_wx::random::signature_nonce(&mut rand::rng());
        let authorization = plaza_wx::auth::sign_request(
            &self.key,
            &self.credentials.mchid,
            &self.credentials.cert_serial_no,
            method,
            target,
            text.as_bytes(),
            timestamp,
            &nonce,
        )?;
        let mut request = match method {
            "POST" => self.client.post(self.url(target)).body(text),
            _ => self.client.get(self.url(target)),
        };
        request = request
            .header("authorization", authorization)
            .header("content-type", "application/json")
            .header("accept", "application/json");
        let response = request.send().await?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let (stamp, once, signature) = (
            header("wechatpay-timestamp"),
            header("wechatpay-nonce"),
            header("wechatpay-signature"),
        );
        let bytes = response.bytes().await?;
        if !plaza_wx::response::verify_response(&self.platform, &stamp, &once, &signature, &bytes) {
            bail!("{target}: the answer's signature does not verify");
        }
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)?
        };
        Ok((status, value))
    }

    /// JSAPI prepay for a booking, and the five values `wx.requestPayment` takes.
    pub(crate) async fn prepay(
        &self,
        booking: &crate::Booking,
        openid: &str,
        notify_url: &str,
    ) -> anyhow::Result<Value> {
        let description = if booking.service == "nat" {
            "核酸检测费"
        } else {
            "疫苗预约服务费"
        };
        let (status, answer) = self
            .v3(
                "POST",
                "/v3/pay/transactions/jsapi",
                Some(&json!({
                    "appid": self.credentials.appid,
                    "mchid": self.credentials.mchid,
                    "description": description,
                    "out_trade_no": booking.id,
                    "notify_url": notify_url,
                    "amount": {"total": booking.fee_minor, "currency": "CNY"},
                    "payer": {"openid": openid},
                })),
            )
            .await?;
        let prepay_id = answer["prepay_id"]
            .as_str()
            .filter(|_| status == 200)
            .with_context(|| format!("prepay: {status} {answer}"))?;
        let time_stamp = crate::unix_seconds().to_string();
        let nonce = plaza_wx::random::signature_nonce(&mut rand::rng());
        let package = format!("prepay_id={prepay_id}");
        let message = format!(
            "{}\n{time_stamp}\n{nonce}\n{package}\n",
            self.credentials.appid
        );
        Ok(json!({
            "timeStamp": time_stamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": self.key.sign_sha256_base64(message.as_bytes())?,
        }))
    }

    /// Whether the booking's order is paid, asked of Pay.
    pub(crate) async fn is_paid(&self, booking_id: &str) -> anyhow::Result<bool> {
        let target = format!(
            "/v3/pay/transactions/out-trade-no/{booking_id}?mchid={}",
            self.credentials.mchid
        );
        let (status, answer) = self.v3("GET", &target, None).await?;
        Ok(status == 200 && answer["trade_state"] == "SUCCESS")
    }

    /// A payment notification, verified and decrypted: the paid `out_trade_no`.
    pub(crate) fn paid_in_notification(
        &self,
        timestamp: &str,
        nonce: &str,
        signature: &str,
        body: &[u8],
    ) -> anyhow::Result<Option<String>> {
        if !plaza_wx::response::verify_response(&self.platform, timestamp, nonce, signature, body) {
            bail!("the notification's signature does not verify");
        }
        let envelope: Value = serde_json::from_slice(body)?;
        let resource = &envelope["resource"];
        let plain = plaza_wx::aead::decrypt_resource(
            &self.credentials.apiv3_key,
            resource["nonce"].as_str().unwrap_or_default(),
            resource["associated_data"].as_str().unwrap_or_default(),
            resource["ciphertext"].as_str().unwrap_or_default(),
        )
        .map_err(|error| anyhow::anyhow!("decrypting the notification: {error:?}"))?;
        let transaction: Value = serde_json::from_slice(&plain)?;
        Ok((transaction["trade_state"] == "SUCCESS")
            .then(|| transaction["out_trade_no"].as_str().map(str::to_owned))
            .flatten())
    }
}
