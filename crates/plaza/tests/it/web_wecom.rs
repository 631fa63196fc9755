//! WeCom in headless Chromium (`tests/web/wecom.mjs`): two people side by side — a
//! customer adds a member by the contact QR and joins the member's customer group by its
//! QR, they chat live both ways, the customer comes back to what was missed, and read
//! receipts update; the corp's callback server hears the new customer and the joining.

use std::process::Command;

use plaza_testkit::TestServer;
use plaza_testkit::pay::Payer;
use plaza_testkit::wecom::{Corp, CorpServer, wx_post_json};
use serde_json::json;

use crate::PLAZA;
use crate::web::{browser_ready, root};

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    plaza_browser_missing,
    ignore = "browser part skipped: needs node, tests/web/node_modules (npm ci --prefix tests/web) and chromium"
)]
async fn a_customer_adds_a_member_joins_the_group_and_they_chat_live() {
    if !browser_ready() {
        return;
    }
    let server = TestServer::sandbox(PLAZA);
    let corp = Corp::create(&server, "星河汽车").await;
    let callbacks = CorpServer::start(&corp.corpid).await;
    callbacks.register(&server, &corp.corpid).await;
    corp.add_member(&server, "zhangsan", "张三", "13800000001")
        .await;
    let staff = Payer::create(&server, "Zhang San", 1).await;
    let code = corp.invitation(&server, "zhangsan").await;
    staff
        .post(
            &server,
            &format!("/api/v1/me/wecom/invitations/{code}"),
            &json!({}),
        )
        .await;
    Payer::create(&server, "Xiao Wang", 1).await;
    let token = corp.token(&server, &corp.app_secret).await;
    let way = wx_post_json(
        &server,
        "externalcontact/add_contact_way",
        &token,
        &json!({"type": 1, "scene": 2, "user": ["zhangsan"], "state": "showroom"}),
    )
    .await;
    let add_path = way["qr_code"]
        .as_str()
        .unwrap()
        .trim_start_matches(server.base_url.as_str())
        .to_owned();
    let group = staff
        .post(
            &server,
            &format!("/api/v1/me/wecom/{}/groups", corp.corpid),
            &json!({"name": "星河车友群"}),
        )
        .await
        .json();
    let qr = staff
        .post(
            &server,
            &format!(
                "/api/v1/me/wecom/{}/groups/{}/join-way",
                corp.corpid,
                group["chat_id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await
        .json();
    let join_path = qr["qr_code"]
        .as_str()
        .unwrap()
        .trim_start_matches(server.base_url.as_str())
        .to_owned();

    let screenshots = root().join("target/screenshots");
    let output = Command::new("node")
        .arg(root().join("tests/web/wecom.mjs"))
        .args([
            &server.base_url,
            &add_path,
            &join_path,
            "Zhang San",
            "Xiao Wang",
        ])
        .arg(&screenshots)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("all checks passed"),
        "wecom.mjs failed\n{stdout}\n{}\n--- plaza log\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    callbacks
        .wait_for(&[
            "add_external_contact",
            "<State><![CDATA[showroom]]></State>",
        ])
        .await;
    callbacks
        .wait_for(&[
            "<MsgType><![CDATA[text]]></MsgType>",
            "<FromUserName><![CDATA[zhangsan]]></FromUserName>",
            "今天到店 3 组客户",
        ])
        .await;
    callbacks
        .wait_for(&[
            "change_external_chat",
            "add_member",
            group["chat_id"].as_str().unwrap(),
        ])
        .await;
}
