//! `plaza demo`'s WeCom: a car maker (星河汽车 Xinghe Motors) with two sales staff who
//! are Plaza users (Wang Lei and Li Na, the demo password), a customer group of theirs
//! that the demo payers joined by its QR, Lin Wei added as Wang Lei's customer, and a
//! few messages, so the workbench, Chats and the corp's console have something live.
//! Seeded once, through the same APIs a corp and its people use.

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// The corp's name.
pub(crate) const CORP_NAME: &str = "星河汽车 Xinghe Motors";
/// The sales staff: userid, member name, Plaza user name, mobile.
const STAFF: [(&str, &str, &str, &str); 2] = [
    ("wanglei", "王磊", "Wang Lei", "13900000001"),
    ("lina", "李娜", "Li Na", "13900000002"),
];

/// Sends a request; its JSON answer, refused on an HTTP error or a non-zero `errcode`.
async fn call(request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
    let response = request
        .send()
        .await
        .with_context(|| format!("seeding the demo's WeCom: {what}"))?;
    let status = response.status();
    let text = response.text().await?;
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if !status.is_success() || value["errcode"].as_i64().is_some_and(|code| code != 0) {
        bail!("seeding the demo's WeCom: {what} answered {status}: {text}");
    }
    Ok(value)
}

/// Where the seeding talks: Plaza's base URL, the admin token, the client.
struct Seeder<'a> {
    client: &'a reqwest::Client,
    base: &'a str,
    admin: &'a str,
}

impl Seeder<'_> {
    /// `POST path` with `body` as `bearer`.
    async fn post(
        &self,
        path: &str,
        bearer: &str,
        body: &Value,
        what: &str,
    ) -> anyhow::Result<Value> {
        call(
            self.client
                .post(format!("{}{path}", self.base))
                .bearer_auth(bearer)
                .json(body),
            what,
        )
        .await
    }

    /// The corp, its sales department and staff linked to new Plaza users; the corpid
    /// and the staff's session tokens.
    async fn corp(&self, demo_dir: &Path, password: &str) -> anyhow::Result<(String, Vec<String>)> {
        let corp = self
            .post(
                "/api/v1/admin/corps",
                self.admin,
                &json!({ "name": CORP_NAME }),
                "the corp",
            )
            .await?;
        crate::datadir::create_private(
            &demo_dir.join("wecom-corp.json"),
            serde_json::to_string_pretty(&corp)?.as_bytes(),
        )?;
        let corpid = corp["corpid"].as_str().context("a corpid")?.to_owned();
        let secret = corp["contacts_secret"]
            .as_str()
            .context("a contacts secret")?;
        let token = call(
            self.client.get(format!(
                "{}/wecom/cgi-bin/gettoken?corpid={corpid}&corpsecret={secret}",
                self.base
            )),
            "gettoken",
        )
        .await?;
        let api = |path: &str| {
            format!(
                "{}/wecom/cgi-bin/{path}?access_token={}",
                self.base,
                token["access_token"].as_str().unwrap_or_default()
            )
        };
        let sales = call(
            self.client
                .post(api("department/create"))
                .body(json!({ "name": "销售部", "parentid": 1 }).to_string()),
            "a department",
        )
        .await?;
        let mut tokens = Vec::new();
        for (userid, name, user_name, mobile) in STAFF {
            let member = json!({ "userid": userid, "name": name, "department": [sales["id"]], "position": "销售顾问", "mobile": mobile });
            call(
                self.client
                    .post(api("user/create"))
                    .body(member.to_string()),
                "a member",
            )
            .await?;
            let user = self
                .post(
                    "/api/v1/admin/users",
                    self.admin,
                    &json!({ "name": user_name, "password": password }),
                    "a staff user",
                )
                .await?;
            tokens.push(user["token"].as_str().context("a session")?.to_owned());
        }
        self.accept_invitations(&corpid, &tokens).await?;
        Ok((corpid, tokens))
    }

    /// Each staff user accepts their member's invitation.
    async fn accept_invitations(&self, corpid: &str, tokens: &[String]) -> anyhow::Result<()> {
        let members = call(
            self.client
                .get(format!("{}/api/v1/admin/corps/{corpid}/members", self.base))
                .bearer_auth(self.admin),
            "the members",
        )
        .await?;
        for ((userid, ..), staff) in STAFF.iter().zip(tokens) {
            let code = members["members"]
                .as_array()
                .and_then(|m| m.iter().find(|m| m["userid"] == *userid))
                .and_then(|m| m["invitation"].as_str())
                .context("an invitation")?;
            self.post(
                &format!("/api/v1/me/wecom/invitations/{code}"),
                staff,
                &json!({}),
                "accepting an invitation",
            )
            .await?;
        }
        Ok(())
    }

    /// Wang Lei's customer group with Li Na, joined by every payer through its QR; its
    /// conversation.
    async fn group(&self, corpid: &str, wang: &str, payers: &[String]) -> anyhow::Result<String> {
        let group = self
            .post(
                &format!("/api/v1/me/wecom/{corpid}/groups"),
                wang,
                &json!({ "name": "星河车友群", "staff": ["lina"] }),
                "the customer group",
            )
            .await?;
        let chat_id = group["chat_id"].as_str().context("a chat_id")?;
        let qr = self
            .post(
                &format!("/api/v1/me/wecom/{corpid}/groups/{chat_id}/join-way"),
                wang,
                &json!({}),
                "the group's QR",
            )
            .await?;
        let join = qr["config_id"].as_str().context("a join way")?;
        for payer in payers {
            self.post(
                &format!("/api/v1/me/wecom/join-ways/{join}"),
                payer,
                &json!({}),
                "a payer joining",
            )
            .await?;
        }
        Ok(format!("g:{corpid}:{chat_id}"))
    }
}

/// Seeds the corp, its staff, their group with `payer_tokens`' users in it, Lin Wei as
/// Wang Lei's customer and a few messages; writes the corp's secrets to
/// `demo/wecom-corp.json`.
pub(crate) async fn seed(
    client: &reqwest::Client,
    base: &str,
    admin: &str,
    demo_dir: &Path,
    password: &str,
    payer_tokens: &[String],
) -> anyhow::Result<()> {
    let seeder = Seeder {
        client,
        base,
        admin,
    };
    let (corpid, staff) = seeder.corp(demo_dir, password).await?;
    let (wang, li) = (&staff[0], &staff[1]);
    let group = seeder.group(&corpid, wang, payer_tokens).await?;
    let way = seeder
        .post(
            &format!("/api/v1/me/wecom/{corpid}/contact-way"),
            wang,
            &json!({}),
            "Wang Lei's QR",
        )
        .await?;
    let first = payer_tokens.first().context("a demo payer")?;
    let config_id = way["config_id"].as_str().unwrap_or_default();
    let added = seeder
        .post(
            &format!("/api/v1/me/wecom/contact-ways/{config_id}"),
            first,
            &json!({}),
            "adding Wang Lei",
        )
        .await?;
    let direct = format!(
        "d:{corpid}:wanglei:{}",
        added["external_userid"].as_str().unwrap_or_default()
    );
    for (who, conversation, text) in [
        (
            wang,
            &group,
            "欢迎加入星河车友群！本周六上午十点有新车试驾活动。",
        ),
        (first, &group, "周六几点开始？需要预约吗？"),
        (li, &group, "十点开始，在群里报名就可以，我来登记。"),
        (
            wang,
            &direct,
            "您好，我是星河汽车的王磊，有任何问题随时问我。",
        ),
    ] {
        let body = json!({ "msgtype": "text", "text": { "content": text } });
        seeder
            .post(
                &format!("/api/v1/me/wecom/conversations/{conversation}/messages"),
                who,
                &body,
                "a message",
            )
            .await?;
    }
    Ok(())
}
