//! WeCom's realtime chat against the real binary: live delivery over the socket in
//! order, each message once across reconnects and resends, read receipts and unread
//! counts, images and cards, and only participants speaking and listening.

use plaza_testkit::TestServer;
use plaza_testkit::miniapp::wx_get;
use plaza_testkit::pay::Payer;
use plaza_testkit::wecom::{ChatClient, Corp, wx_post_json};
use reqwest::Method;
use serde_json::{Value, json};

use crate::PLAZA;

/// A corp with staff zhangsan and lisi (both Plaza users), a customer who added
/// zhangsan, and a customer group of zhangsan, lisi and that customer.
struct Scene {
    server: TestServer,
    corp: Corp,
    zhangsan: Payer,
    lisi: Payer,
    customer: Payer,
    direct: String,
    group: String,
}

async fn link(server: &TestServer, corp: &Corp, userid: &str, name: &str, mobile: &str) -> Payer {
    corp.add_member(server, userid, name, mobile).await;
    let person = Payer::create(server, name, 1).await;
    let code = corp.invitation(server, userid).await;
    let accepted = person
        .post(
            server,
            &format!("/api/v1/me/wecom/invitations/{code}"),
            &json!({}),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    person
}

async fn scene() -> Scene {
    let server = TestServer::sandbox(PLAZA);
    let corp = Corp::create(&server, "星河汽车").await;
    let zhangsan = link(&server, &corp, "zhangsan", "张三", "13800000001").await;
    let lisi = link(&server, &corp, "lisi", "李四", "13800000002").await;
    let token = corp.token(&server, &corp.app_secret).await;
    let way = wx_post_json(
        &server,
        "externalcontact/add_contact_way",
        &token,
        &json!({"type": 1, "scene": 2, "user": ["zhangsan"]}),
    )
    .await;
    let customer = Payer::create(&server, "小王", 1).await;
    let added = customer
        .post(
            &server,
            &format!(
                "/api/v1/me/wecom/contact-ways/{}",
                way["config_id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await
        .json();
    let external = added["external_userid"].as_str().unwrap().to_owned();
    let group = zhangsan
        .post(
            &server,
            &format!("/api/v1/me/wecom/{}/groups", corp.corpid),
            &json!({"name": "车友群", "staff": ["lisi"]}),
        )
        .await
        .json();
    let chat_id = group["chat_id"].as_str().unwrap().to_owned();
    let qr = zhangsan
        .post(
            &server,
            &format!("/api/v1/me/wecom/{}/groups/{chat_id}/join-way", corp.corpid),
            &json!({}),
        )
        .await
        .json();
    let joined = customer
        .post(
            &server,
            &format!(
                "/api/v1/me/wecom/join-ways/{}",
                qr["config_id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(joined.status, 200, "{}", joined.text);
    Scene {
        direct: format!("d:{}:zhangsan:{external}", corp.corpid),
        group: format!("g:{}:{chat_id}", corp.corpid),
        server,
        corp,
        zhangsan,
        lisi,
        customer,
    }
}

async fn me_get(server: &TestServer, who: &Payer, path: &str) -> plaza_testkit::Reply {
    plaza_testkit::send(
        plaza_testkit::http_client()
            .get(format!("{}{path}", server.base_url))
            .bearer_auth(&who.token),
    )
    .await
    .unwrap()
}

fn seqs(frames: &[Value]) -> Vec<u64> {
    frames.iter().map(|f| f["seq"].as_u64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_arrive_live_in_order_and_once_across_reconnects_and_resends() {
    let scene = scene().await;
    let mut staff = ChatClient::connect(&scene.server, &scene.zhangsan.token)
        .await
        .unwrap();
    let mut buyer = ChatClient::connect(&scene.server, &scene.customer.token)
        .await
        .unwrap();
    assert!(staff.subscribe(&scene.direct, 0).await.is_empty());
    assert!(buyer.subscribe(&scene.direct, 0).await.is_empty());

    let ack = buyer.say(&scene.direct, "c-1", "这款车有现车吗？").await;
    assert_eq!(
        (
            ack["op"].as_str(),
            ack["seq"].as_u64(),
            ack["duplicate"].as_bool()
        ),
        (Some("ack"), Some(1), Some(false)),
        "{ack}"
    );
    let heard = staff.wait_for(|f| f["op"] == "message").await;
    assert_eq!(
        (
            heard["seq"].as_u64(),
            heard["sender_name"].as_str(),
            heard["text"]["content"].as_str()
        ),
        (Some(1), Some("小王"), Some("这款车有现车吗？")),
        "{heard}"
    );
    // A client id that JSON must escape still passes every forwarder.
    staff
        .say(&scene.direct, "s-\"1\\", "有的，周末可以来试驾")
        .await;
    let reply = buyer
        .wait_for(|f| f["op"] == "message" && f["seq"] == 2)
        .await;
    assert_eq!(reply["sender"], "zhangsan");

    // The customer goes offline; three messages wait; on reconnect after seq 2 they come
    // exactly once, in order, then live ones follow.
    buyer.close().await;
    for i in 0..3 {
        staff
            .say(
                &scene.direct,
                &format!("s-off-{i}"),
                &format!("离线消息 {i}"),
            )
            .await;
    }
    let mut buyer = ChatClient::connect(&scene.server, &scene.customer.token)
        .await
        .unwrap();
    let missed = buyer.subscribe(&scene.direct, 2).await;
    assert_eq!(seqs(&missed), [3, 4, 5]);
    staff.say(&scene.direct, "s-live", "在线了").await;
    let live = buyer.wait_for(|f| f["op"] == "message").await;
    assert_eq!(live["seq"], 6, "{live}");

    // A resend with the same client id (the ack was lost) is the same message, and the
    // other side never sees it twice.
    let again = buyer.say(&scene.direct, "c-1", "这款车有现车吗？").await;
    assert_eq!(
        (again["seq"].as_u64(), again["duplicate"].as_bool()),
        (Some(1), Some(true)),
        "{again}"
    );
    buyer.say(&scene.direct, "c-2", "好的").await;
    let next = staff
        .wait_for(|f| f["op"] == "message" && f["sender"] != "zhangsan")
        .await;
    assert_eq!(next["seq"], 7, "the resend delivered nothing new: {next}");

    // History pages back from the newest.
    let page = me_get(
        &scene.server,
        &scene.customer,
        &format!(
            "/api/v1/me/wecom/conversations/{}/messages?before=7&limit=3",
            scene.direct
        ),
    )
    .await
    .json();
    assert_eq!(
        seqs(page["messages"].as_array().unwrap()),
        [4, 5, 6],
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_group_mixes_staff_and_customers_with_read_receipts_and_unread_counts() {
    let scene = scene().await;
    let mut staff = ChatClient::connect(&scene.server, &scene.zhangsan.token)
        .await
        .unwrap();
    let mut colleague = ChatClient::connect(&scene.server, &scene.lisi.token)
        .await
        .unwrap();
    let mut buyer = ChatClient::connect(&scene.server, &scene.customer.token)
        .await
        .unwrap();
    // zhangsan also has the group open in a second tab.
    let mut staff_tab = ChatClient::connect(&scene.server, &scene.zhangsan.token)
        .await
        .unwrap();
    for client in [&mut staff, &mut colleague, &mut buyer, &mut staff_tab] {
        client.subscribe(&scene.group, 0).await;
    }
    staff.say(&scene.group, "s1", "欢迎加入车友群").await;
    for client in [&mut colleague, &mut buyer, &mut staff_tab] {
        let frame = client.wait_for(|f| f["op"] == "message").await;
        assert_eq!(frame["seq"], 1);
    }
    buyer.say(&scene.group, "b1", "谢谢！").await;
    colleague
        .wait_for(|f| f["op"] == "message" && f["seq"] == 2)
        .await;
    // The socket a message came from has its acknowledgement and is not sent it again;
    // the first message it receives is the next one.
    let first = staff.wait_for(|f| f["op"] == "message").await;
    assert_eq!(first["seq"], 2, "{first}");
    staff_tab.close().await;

    // lisi has two unread; reading makes it none and zhangsan sees the receipt.
    let list = me_get(&scene.server, &scene.lisi, "/api/v1/me/wecom/conversations")
        .await
        .json();
    let group = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == scene.group.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (
            group["unread"].as_u64(),
            group["kind"].as_str(),
            group["title"].as_str()
        ),
        (Some(2), Some("group"), Some("车友群")),
        "{group}"
    );
    colleague
        .send(&json!({"op": "read", "conversation": scene.group, "seq": 2}))
        .await;
    let receipt = staff.wait_for(|f| f["op"] == "read").await;
    assert_eq!(
        (receipt["reader"].as_str(), receipt["seq"].as_u64()),
        (Some("lisi"), Some(2)),
        "{receipt}"
    );
    let list = me_get(&scene.server, &scene.lisi, "/api/v1/me/wecom/conversations")
        .await
        .json();
    let group = list["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == scene.group.as_str())
        .unwrap()
        .clone();
    assert_eq!(group["unread"], 0);
    let detail = me_get(
        &scene.server,
        &scene.zhangsan,
        &format!("/api/v1/me/wecom/conversations/{}", scene.group),
    )
    .await
    .json();
    assert_eq!(
        (detail["last_seq"].as_u64(), detail["read"]["lisi"].as_u64()),
        (Some(2), Some(2)),
        "{detail}"
    );
    // The customer's list has the group and the 1:1 with zhangsan.
    let theirs = me_get(
        &scene.server,
        &scene.customer,
        "/api/v1/me/wecom/conversations",
    )
    .await
    .json();
    let kinds: Vec<&str> = theirs["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["group", "direct"], "{theirs}");

    // The customer leaves the group: their subscription ends and they cannot speak there.
    let left = plaza_testkit::send(
        plaza_testkit::http_client()
            .delete(format!(
                "{}/api/v1/me/wecom/customer-groups/{}/{}",
                scene.server.base_url,
                scene.corp.corpid,
                scene.group.rsplit(':').next().unwrap()
            ))
            .bearer_auth(&scene.customer.token),
    )
    .await
    .unwrap();
    assert_eq!(left.status, 204, "{}", left.text);
    let notice = buyer.wait_for(|f| f["op"] == "left").await;
    assert_eq!(notice["conversation"], scene.group.as_str());
    let refused = buyer.say(&scene.group, "b2", "还在吗").await;
    assert_eq!(refused["op"], "error", "{refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_participants_speak_or_listen_and_bad_input_is_refused() {
    let scene = scene().await;
    let outsider = Payer::create(&scene.server, "路人", 1).await;
    let mut stranger = ChatClient::connect(&scene.server, &outsider.token)
        .await
        .unwrap();
    stranger
        .send(&json!({"op": "subscribe", "conversation": scene.group, "after": 0}))
        .await;
    let refused = stranger.wait_for(|f| f["op"] == "error").await;
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("not in this conversation"),
        "{refused}"
    );
    let said = stranger.say(&scene.group, "x1", "hello").await;
    assert_eq!(said["op"], "error");
    stranger
        .send(&json!({"op": "subscribe", "conversation": "g:ww:../x", "after": 0}))
        .await;
    stranger.wait_for(|f| f["op"] == "error").await;
    stranger.send(&json!({"op": "dance"})).await;
    assert_eq!(
        stranger.wait_for(|f| f["op"] == "error").await["code"],
        "invalid_op"
    );

    let posted = outsider
        .post(
            &scene.server,
            &format!("/api/v1/me/wecom/conversations/{}/messages", scene.group),
            &json!({"msgtype": "text", "text": {"content": "hi"}}),
        )
        .await;
    assert!(
        posted.status >= 400 && posted.status < 500,
        "{}",
        posted.text
    );
    let history = me_get(
        &scene.server,
        &outsider,
        &format!("/api/v1/me/wecom/conversations/{}/messages", scene.group),
    )
    .await;
    assert!(
        history.status >= 400 && history.status < 500,
        "{}",
        history.text
    );

    // A forged or ended session never gets a socket.
    assert!(
        ChatClient::connect(&scene.server, "pzu_forged")
            .await
            .is_err()
    );
    let ended = Payer::create(&scene.server, "走了", 1).await;
    let signed_out = plaza_testkit::send(
        plaza_testkit::http_client()
            .post(format!("{}/signout", scene.server.base_url))
            .header("cookie", format!("plaza_session={}", ended.token))
            .header("origin", scene.server.base_url.as_str()),
    )
    .await
    .unwrap();
    assert!(signed_out.status < 400, "{}", signed_out.text);
    assert!(
        ChatClient::connect(&scene.server, &ended.token)
            .await
            .is_err()
    );

    // Oversized text, an unknown type, an image that is not one.
    let mut staff = ChatClient::connect(&scene.server, &scene.zhangsan.token)
        .await
        .unwrap();
    staff.subscribe(&scene.group, 0).await;
    let long = staff.say(&scene.group, "long", &"长".repeat(2_000)).await;
    assert_eq!(
        (long["op"].as_str(), long["errcode"].as_i64()),
        (Some("error"), Some(45002)),
        "{long}"
    );
    staff.send(&json!({"op": "send", "conversation": scene.group, "client_id": "v", "msgtype": "voice", "voice": {}})).await;
    assert_eq!(
        staff.wait_for(|f| f["client_id"] == "v").await["errcode"],
        40008
    );
    let svg = plaza_testkit::send(
        plaza_testkit::http_client()
            .post(format!(
                "{}/api/v1/me/wecom/conversations/{}/images",
                scene.server.base_url, scene.group
            ))
            .bearer_auth(&scene.zhangsan.token)
            .body("<svg/>"),
    )
    .await
    .unwrap();
    assert!(svg.status >= 400 && svg.status < 500, "{}", svg.text);
    // Nothing refused was stored.
    let history = me_get(
        &scene.server,
        &scene.zhangsan,
        &format!("/api/v1/me/wecom/conversations/{}/messages", scene.group),
    )
    .await
    .json();
    assert_eq!(history["messages"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn images_and_cards_are_messages_too_and_images_stay_in_the_conversation() {
    let scene = scene().await;
    let mut buyer = ChatClient::connect(&scene.server, &scene.customer.token)
        .await
        .unwrap();
    buyer.subscribe(&scene.direct, 0).await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0\x90wS\xde".to_vec();
    let posted = plaza_testkit::send(
        plaza_testkit::http_client()
            .post(format!(
                "{}/api/v1/me/wecom/conversations/{}/images?client_id=img1",
                scene.server.base_url, scene.direct
            ))
            .bearer_auth(&scene.zhangsan.token)
            .body(png.clone()),
    )
    .await
    .unwrap();
    assert_eq!(posted.status, 201, "{}", posted.text);
    let frame = buyer.wait_for(|f| f["op"] == "message").await;
    assert_eq!(
        (frame["msgtype"].as_str(), frame["image"]["mime"].as_str()),
        (Some("image"), Some("image/png")),
        "{frame}"
    );
    let url = frame["image"]["url"].as_str().unwrap().to_owned();
    let fetched = me_get(&scene.server, &scene.customer, &url).await;
    assert_eq!(
        (fetched.status, fetched.header("content-type")),
        (200, Some("image/png"))
    );
    let outsider = Payer::create(&scene.server, "路人", 1).await;
    assert!(me_get(&scene.server, &outsider, &url).await.status >= 400);
    // The same bytes named under another conversation are not served there.
    let elsewhere = url.replace(&scene.direct, &scene.group);
    assert!(
        me_get(&scene.server, &scene.customer, &elsewhere)
            .await
            .status
            >= 400
    );

    let card = scene.zhangsan.post(&scene.server, &format!("/api/v1/me/wecom/conversations/{}/messages", scene.direct), &json!({"msgtype": "card", "client_id": "card1", "card": {"kind": "miniprogram", "title": "预约试驾", "url": "/app/mp/wx0000000000000000"}})).await;
    assert_eq!(card.status, 201, "{}", card.text);
    let frame = buyer
        .wait_for(|f| f["op"] == "message" && f["msgtype"] == "card")
        .await;
    assert_eq!(frame["card"]["title"], "预约试驾");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_senders_get_gapless_sequences() {
    let scene = scene().await;
    let mut tasks = Vec::new();
    for i in 0..30 {
        let (who, server_url, conversation) = (
            if i % 2 == 0 {
                scene.zhangsan.token.clone()
            } else {
                scene.customer.token.clone()
            },
            scene.server.base_url.clone(),
            scene.direct.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let reply = plaza_testkit::send(plaza_testkit::http_client().post(format!("{server_url}/api/v1/me/wecom/conversations/{conversation}/messages")).bearer_auth(who).json(&json!({"msgtype": "text", "client_id": format!("m{i}"), "text": {"content": format!("第 {i} 条")}}))).await.unwrap();
            assert_eq!(reply.status, 201, "{}", reply.text);
            reply.json()["seq"].as_u64().unwrap()
        }));
    }
    let mut got = Vec::new();
    for task in tasks {
        got.push(task.await.unwrap());
    }
    got.sort_unstable();
    assert_eq!(got, (1..=30).collect::<Vec<u64>>());
    let history = me_get(
        &scene.server,
        &scene.zhangsan,
        &format!(
            "/api/v1/me/wecom/conversations/{}/messages?after=0&limit=100",
            scene.direct
        ),
    )
    .await
    .json();
    assert_eq!(
        seqs(history["messages"].as_array().unwrap()),
        (1..=30).collect::<Vec<u64>>()
    );
}

async fn say(scene: &Scene, who: &Payer, conversation: &str, text: &str) {
    let sent = who
        .post(
            &scene.server,
            &format!("/api/v1/me/wecom/conversations/{conversation}/messages"),
            &json!({"msgtype": "text", "text": {"content": text}}),
        )
        .await;
    assert_eq!(sent.status, 201, "{}", sent.text);
}

async fn consent(scene: &Scene, agree: bool) {
    let reply = scene
        .customer
        .post(
            &scene.server,
            &format!("/api/v1/me/wecom/archive-consent/{}", scene.corp.corpid),
            &json!({ "agree": agree }),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_corp_reads_archived_messages_of_permitted_members_and_consenting_customers() {
    let scene = scene().await;
    let token = scene
        .corp
        .token(&scene.server, &scene.corp.app_secret)
        .await;
    let read = |seq: i64, limit: i64| {
        let (server, token) = (&scene.server, &token);
        async move {
            wx_post_json(
                server,
                "msgaudit/get_chat_data",
                token,
                &json!({ "seq": seq, "limit": limit }),
            )
            .await
        }
    };
    let texts = |answer: &Value| -> Vec<String> {
        answer["chatdata"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"]["content"].as_str().unwrap().to_owned())
            .collect()
    };
    // Nobody archived yet; then zhangsan is, but the customer has not agreed.
    say(&scene, &scene.zhangsan, &scene.direct, "未存档").await;
    let permits = scene
        .server
        .admin_put(
            &format!("/api/v1/admin/corps/{}/archive-permits", scene.corp.corpid),
            &json!({"userids": ["zhangsan"]}),
        )
        .await;
    assert_eq!(permits.status, 200, "{}", permits.text);
    say(&scene, &scene.zhangsan, &scene.direct, "客户未同意").await;
    say(&scene, &scene.customer, &scene.group, "群里客户未同意").await;
    consent(&scene, true).await;
    say(&scene, &scene.zhangsan, &scene.direct, "您好").await;
    say(&scene, &scene.customer, &scene.direct, "想看车").await;
    say(&scene, &scene.lisi, &scene.group, "周六试驾").await;
    say(&scene, &scene.customer, &scene.group, "我报名").await;
    // The customer withdraws: their group messages stop, the staff's go on.
    consent(&scene, false).await;
    say(&scene, &scene.customer, &scene.group, "撤回同意后").await;
    say(&scene, &scene.lisi, &scene.group, "已登记").await;

    let all = read(0, 100).await;
    assert_eq!(all["errcode"], 0, "{all}");
    assert_eq!(
        texts(&all),
        ["您好", "想看车", "周六试驾", "我报名", "已登记"]
    );
    let items = all["chatdata"].as_array().unwrap();
    let seqs: Vec<i64> = items.iter().map(|m| m["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let external = scene.direct.rsplit(':').next().unwrap();
    let chat_id = scene.group.rsplit(':').next().unwrap();
    assert_eq!(items[0]["from"], "zhangsan");
    assert_eq!(items[0]["tolist"], json!([external]));
    assert_eq!(items[0]["roomid"], "");
    assert_eq!(items[0]["action"], "send");
    assert_eq!(items[0]["msgtype"], "text");
    assert_eq!(items[0]["msgid"], format!("{}#3", scene.direct));
    assert_eq!(items[1]["from"], external);
    assert_eq!(items[1]["tolist"], json!(["zhangsan"]));
    assert_eq!(items[2]["from"], "lisi");
    assert_eq!(items[2]["roomid"], chat_id);
    assert_eq!(items[2]["tolist"], json!(["zhangsan", external]));
    assert!(items[2]["msgtime"].as_i64().unwrap() > 0);

    // Paging: after the second message's seq come the other three.
    let first = read(0, 2).await;
    assert_eq!(texts(&first), ["您好", "想看车"]);
    let rest = read(first["chatdata"][1]["seq"].as_i64().unwrap(), 100).await;
    assert_eq!(texts(&rest), ["周六试驾", "我报名", "已登记"]);
    assert!(texts(&read(seqs[4], 100).await).is_empty());
    for bad in [
        json!({"seq": 0, "limit": 0}),
        json!({"seq": 0, "limit": 1001}),
        json!({"seq": -1}),
    ] {
        let refused = wx_post_json(&scene.server, "msgaudit/get_chat_data", &token, &bad).await;
        assert_ne!(refused["errcode"], 0, "{bad} → {refused}");
        assert!(refused.get("chatdata").is_none(), "{refused}");
    }
}

async fn page_as(server: &TestServer, who: &Payer, path: &str) -> String {
    let reply = plaza_testkit::send(
        plaza_testkit::http_client()
            .get(format!("{}{path}", server.base_url))
            .header("cookie", format!("plaza_session={}", who.token)),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    reply.text
}

#[tokio::test(flavor = "multi_thread")]
async fn the_workbench_and_the_corp_console_show_customers_groups_and_figures() {
    let scene = scene().await;
    // Counted per clock hour: from the start of one, so both messages and the page fall
    // in the same hour whatever the time.
    scene.server.pin_clock("10:00").await;
    let say = |who: &Payer, text: &str, id: &str| {
        let (server, who, conversation, body) = (
            scene.server.base_url.clone(),
            who.token.clone(),
            scene.direct.clone(),
            json!({"msgtype": "text", "client_id": id, "text": {"content": text}}),
        );
        async move {
            let reply = plaza_testkit::send(
                plaza_testkit::http_client()
                    .post(format!(
                        "{server}/api/v1/me/wecom/conversations/{conversation}/messages"
                    ))
                    .bearer_auth(who)
                    .json(&body),
            )
            .await
            .unwrap();
            assert_eq!(reply.status, 201, "{}", reply.text);
        }
    };
    say(&scene.customer, "在吗？", "q1").await;
    say(&scene.zhangsan, "在的", "a1").await;

    let workbench = page_as(&scene.server, &scene.zhangsan, "/app/work").await;
    for part in [
        "星河汽车 · 张三",
        "id=\"my-qr\"",
        "<svg",
        "小王",
        "车友群",
        &format!("/app/wecom/chat/{}", scene.direct),
    ] {
        assert!(workbench.contains(part), "{part} on the workbench");
    }
    let outsider = Payer::create(&scene.server, "路人", 1).await;
    assert!(
        page_as(&scene.server, &outsider, "/app/work")
            .await
            .contains("Not staff")
    );

    let console = scene
        .server
        .operator_page(&format!("/console/wecom/{}", scene.corp.corpid))
        .await;
    for part in [
        "id=\"figure-conversations\">1<",
        "id=\"figure-messages\">2<",
        "id=\"figure-last-hour\">2<",
        "<code>zhangsan</code>",
        "id=\"per-hour\"",
    ] {
        assert!(console.contains(part), "{part} on the corp page");
    }
    let corps = scene.server.operator_page("/console/wecom").await;
    assert!(corps.contains(&scene.corp.corpid));

    // The operator's actions: a new contacts secret shown once on the answer (the old
    // one opens nothing), a member invited, disabled and removed.
    let server = &scene.server;
    let corpid = scene.corp.corpid.as_str();
    let cookie = server.operator_cookie().await;
    let reset = server
        .operator_request(
            Method::POST,
            &format!("/console/wecom/{corpid}/secret"),
            &cookie,
            &[("scope", "contacts")],
        )
        .await;
    assert_eq!(reset.status, 200, "{}", reset.text);
    let secret = reset
        .text
        .split("(shown only now): ")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the new secret on the page")
        .to_owned();
    let token_with = |secret: String| async move {
        wx_get(
            server,
            &format!("/wecom/cgi-bin/gettoken?corpid={corpid}&corpsecret={secret}"),
        )
        .await
    };
    assert_eq!(token_with(secret).await["errcode"], 0);
    assert_eq!(
        token_with(scene.corp.contacts_secret.clone()).await["errcode"],
        40001,
        "the old secret opens nothing"
    );
    let invited = server
        .operator_request(
            Method::POST,
            &format!("/console/wecom/{corpid}/members"),
            &cookie,
            &[
                ("userid", "zhaoliu"),
                ("name", "赵六"),
                ("mobile", "13800000077"),
                ("department", "1"),
            ],
        )
        .await;
    assert_eq!(invited.status, 303, "{}", invited.text);
    let back = invited.header("location").unwrap().to_owned();
    assert!(back.contains("ok=zhaoliu"), "{back}");
    let refused = server
        .operator_request(
            Method::POST,
            &format!("/console/wecom/{corpid}/members"),
            &cookie,
            &[
                ("userid", "ZhaoLiu"),
                ("name", "又一个"),
                ("mobile", "13800000078"),
                ("department", "1"),
            ],
        )
        .await;
    assert!(
        refused.header("location").unwrap().contains("error="),
        "a userid taken in another case is refused"
    );
    for action in ["disable", "remove"] {
        let acted = server
            .operator_request(
                Method::POST,
                &format!("/console/wecom/{corpid}/members/zhaoliu/{action}"),
                &cookie,
                &[],
            )
            .await;
        assert!(
            acted.header("location").unwrap().contains("ok="),
            "{action}: {:?}",
            acted.header("location")
        );
        let shown = server
            .operator_request(
                Method::GET,
                &format!("/console/wecom/{corpid}"),
                &cookie,
                &[],
            )
            .await
            .text;
        let row = shown
            .split("<tr>")
            .find(|row| row.contains("<code>zhaoliu</code>"))
            .unwrap_or_default()
            .to_owned();
        if action == "disable" {
            assert!(row.contains("<td>disabled</td>"), "{action}: {row}");
        } else {
            assert!(row.is_empty(), "a member who left is not listed: {row}");
        }
    }
}
