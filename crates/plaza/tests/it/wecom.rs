//! WeCom's server API against the real binary: tokens per corp and secret and their
//! realm, the directory's rules with WeCom's codes, app messages and their recipients,
//! appchat, and invitations that link members to Plaza users.

use plaza_testkit::TestServer;
use plaza_testkit::miniapp::{MiniProgram, errcode, wx_get, wx_post};
use plaza_testkit::pay::Payer;
use plaza_testkit::wecom::{Corp, CorpServer, wx_get_with, wx_post_json};
use serde_json::{Value, json};

use crate::PLAZA;

const HOUR_MS: i64 = 3_600_000;

async fn get(server: &TestServer, path: &str, token: &str) -> Value {
    wx_get_with(server, path, token).await
}

async fn post(server: &TestServer, path: &str, token: &str, body: &Value) -> Value {
    wx_post_json(server, path, token, body).await
}

pub(crate) fn assert_errcode(answer: &Value, expected: i64) {
    assert_eq!(errcode(answer), expected, "{answer}");
    assert!(
        answer["errmsg"].as_str().is_some_and(|m| !m.is_empty()),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_per_secret_stable_while_valid_and_stay_in_their_realm() {
    let server = TestServer::sandbox(PLAZA);
    server.pin_clock("10:00").await;
    let corp = Corp::create(&server, "星河汽车").await;
    let contacts = corp.token(&server, &corp.contacts_secret).await;
    assert_eq!(
        contacts,
        corp.token(&server, &corp.contacts_secret).await,
        "the same token while valid"
    );
    let app = corp.token(&server, &corp.app_secret).await;
    assert_ne!(contacts, app, "each secret has its own token");

    for (query, code) in [
        (format!("corpid={}&corpsecret=wrong", corp.corpid), 40001),
        (
            format!(
                "corpid=ww0000000000000000&corpsecret={}",
                corp.contacts_secret
            ),
            40013,
        ),
        (format!("corpsecret={}", corp.contacts_secret), 41002),
        (format!("corpid={}", corp.corpid), 41004),
    ] {
        assert_errcode(
            &wx_get(&server, &format!("/wecom/cgi-bin/gettoken?{query}")).await,
            code,
        );
    }
    // The same API under WeCom's host name.
    let dropin = plaza_testkit::send(
        plaza_testkit::http_client()
            .get(format!(
                "{}/cgi-bin/department/list?access_token={contacts}",
                server.base_url
            ))
            .header("host", "qyapi.weixin.qq.com"),
    )
    .await
    .unwrap()
    .json();
    assert_eq!(dropin["department"][0]["id"], 1, "{dropin}");

    // Missing, unknown and another realm's tokens.
    assert_errcode(
        &wx_get(&server, "/wecom/cgi-bin/department/list").await,
        41001,
    );
    assert_errcode(&get(&server, "department/list", "nope").await, 40014);
    let developer = Payer::create(&server, "Dev", 1).await;
    let mini = MiniProgram::create(&server, &developer.user_id, "预约").await;
    let mp_token = wx_get(
        &server,
        &format!(
            "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            mini.appid, mini.secret
        ),
    )
    .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_errcode(&get(&server, "department/list", &mp_token).await, 40014);
    assert_errcode(
        &wx_post(
            &server,
            &format!("/cgi-bin/message/subscribe/send?access_token={contacts}"),
            "{}",
        )
        .await,
        40014,
    );

    // Another corp's token sees only its own corp.
    let other = Corp::create(&server, "另一家").await;
    let other_token = other.token(&server, &other.contacts_secret).await;
    let created = post(
        &server,
        "user/create",
        &contacts,
        &json!({"userid": "zhangsan", "name": "张三", "department": [1], "mobile": "13800000001"}),
    )
    .await;
    assert_errcode(&created, 0);
    assert_errcode(
        &get(&server, "user/get?userid=zhangsan", &other_token).await,
        60111,
    );

    // Two hours on, the token has ended (42001, what makes wechatpy fetch a new one) and
    // gettoken hands out a new one.
    server.advance_clock(2 * HOUR_MS).await;
    assert_errcode(&get(&server, "department/list", &contacts).await, 42001);
    let renewed = corp.token(&server, &corp.contacts_secret).await;
    assert_ne!(renewed, contacts);
    assert_errcode(&get(&server, "department/list", &renewed).await, 0);

    // A reset secret opens nothing.
    let reset = server
        .admin_post_ok(
            &format!("/api/v1/admin/corps/{}/secret", corp.corpid),
            &json!({}),
        )
        .await;
    assert_errcode(
        &wx_get(
            &server,
            &format!(
                "/wecom/cgi-bin/gettoken?corpid={}&corpsecret={}",
                corp.corpid, corp.contacts_secret
            ),
        )
        .await,
        40001,
    );
    corp.token(&server, reset["secret"].as_str().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_directory_keeps_wecoms_rules_and_codes() {
    let server = TestServer::sandbox(PLAZA);
    let corp = Corp::create(&server, "星河汽车").await;
    let token = corp.token(&server, &corp.contacts_secret).await;
    let sales = post(
        &server,
        "department/create",
        &token,
        &json!({"name": "销售部", "parentid": 1, "order": 5}),
    )
    .await;
    assert_eq!(
        (sales["errmsg"].as_str(), sales["id"].as_i64()),
        (Some("created"), Some(2)),
        "{sales}"
    );
    let east = post(
        &server,
        "department/create",
        &token,
        &json!({"name": "华东区", "parentid": 2, "id": 20}),
    )
    .await;
    assert_eq!(east["id"], 20, "{east}");
    for (body, code) in [
        (json!({"name": "销售部", "parentid": 1}), 60008),
        (json!({"name": "a|b", "parentid": 1}), 60009),
        (json!({"name": "x", "parentid": 99}), 60004),
        (json!({"name": "", "parentid": 1}), 60001),
        (json!({"name": "y", "parentid": 1, "id": 20}), 60008),
    ] {
        assert_errcode(
            &post(&server, "department/create", &token, &body).await,
            code,
        );
    }
    assert_errcode(
        &post(
            &server,
            "department/update",
            &token,
            &json!({"id": 2, "parentid": 20}),
        )
        .await,
        60010,
    );
    assert_errcode(&get(&server, "department/delete?id=1", &token).await, 60007);
    assert_errcode(&get(&server, "department/delete?id=2", &token).await, 60006);
    assert_errcode(
        &get(&server, "department/delete?id=77", &token).await,
        60003,
    );

    let user = |userid: &str, mobile: &str, department: Value| json!({"userid": userid, "name": "成员", "department": department, "mobile": mobile, "gender": 0});
    assert_errcode(
        &post(
            &server,
            "user/create",
            &token,
            &user("LiSi", "13800000002", json!([20])),
        )
        .await,
        0,
    );
    for (body, code) in [
        (user("lisi", "13800000003", json!([1])), 60102),
        (user("wangwu", "13800000002", json!([1])), 60104),
        (user("wangwu", "13800000003", json!([99])), 60003),
        (user("wangwu", "13800000003", json!([0])), 60123),
        (user("wangwu", "not-a-phone", json!([1])), 60103),
        (user("-bad", "13800000003", json!([1])), 40003),
        (
            json!({"userid": "wangwu", "name": "王五", "department": [1], "email": "a@b"}),
            60105,
        ),
    ] {
        assert_errcode(&post(&server, "user/create", &token, &body).await, code);
    }
    assert_errcode(
        &get(&server, "department/delete?id=20", &token).await,
        60005,
    );
    let lisi = get(&server, "user/get?userid=LISI", &token).await;
    assert_eq!(
        (
            lisi["userid"].as_str(),
            lisi["status"].as_i64(),
            lisi["department"].clone()
        ),
        (Some("LiSi"), Some(4), json!([20])),
        "{lisi}"
    );
    assert_errcode(&get(&server, "user/get?userid=nobody", &token).await, 60111);

    // Listing: the department alone, or with everything below it.
    let direct = get(
        &server,
        "user/simplelist?department_id=2&fetch_child=0",
        &token,
    )
    .await;
    assert_eq!(direct["userlist"], json!([]), "{direct}");
    let below = get(&server, "user/list?department_id=1&fetch_child=1", &token).await;
    assert_eq!(below["userlist"][0]["userid"], "LiSi", "{below}");
    assert_eq!(below["userlist"][0]["mobile"], "13800000002");

    // An app's token reads the directory but does not edit it.
    let app_token = corp.token(&server, &corp.app_secret).await;
    assert_errcode(&get(&server, "user/get?userid=lisi", &app_token).await, 0);
    assert_errcode(
        &post(
            &server,
            "user/create",
            &app_token,
            &user("zhaoliu", "13800000009", json!([1])),
        )
        .await,
        48002,
    );

    // Update, then delete: the userid and mobile are free again.
    assert_errcode(&post(&server, "user/update", &token, &json!({"userid": "lisi", "position": "销售顾问", "department": [2, 20], "main_department": 20})).await, 0);
    let updated = get(&server, "user/get?userid=lisi", &token).await;
    assert_eq!(
        (
            updated["position"].as_str(),
            updated["main_department"].as_i64()
        ),
        (Some("销售顾问"), Some(20)),
        "{updated}"
    );
    assert_errcode(&get(&server, "user/delete?userid=lisi", &token).await, 0);
    assert_errcode(&get(&server, "user/get?userid=lisi", &token).await, 60111);
    assert_errcode(
        &post(
            &server,
            "user/create",
            &token,
            &user("lisi", "13800000002", json!([1])),
        )
        .await,
        0,
    );
    assert_errcode(
        &post(
            &server,
            "user/batchdelete",
            &token,
            &json!({"useridlist": ["lisi", "ghost"]}),
        )
        .await,
        60111,
    );
    assert_errcode(&get(&server, "user/get?userid=lisi", &token).await, 0);
    assert_errcode(
        &post(&server, "user/create", &token, &json!({"userid": "x"})).await,
        60112,
    );
    assert_errcode(
        &wx_post(
            &server,
            &format!("/wecom/cgi-bin/user/create?access_token={token}"),
            "",
        )
        .await,
        44002,
    );
    assert_errcode(
        &wx_post(
            &server,
            &format!("/wecom/cgi-bin/user/create?access_token={token}"),
            "{not json",
        )
        .await,
        47001,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn app_messages_reach_members_and_name_who_they_missed() {
    let server = TestServer::sandbox(PLAZA);
    let corp = Corp::create(&server, "星河汽车").await;
    let contacts = corp.token(&server, &corp.contacts_secret).await;
    post(
        &server,
        "department/create",
        &contacts,
        &json!({"name": "销售部", "parentid": 1}),
    )
    .await;
    for (userid, mobile, department) in [
        ("zhangsan", "13800000001", 2),
        ("lisi", "13800000002", 2),
        ("wangwu", "13800000003", 1),
    ] {
        let body =
            json!({"userid": userid, "name": userid, "department": [department], "mobile": mobile});
        assert_errcode(&post(&server, "user/create", &contacts, &body).await, 0);
    }
    let token = corp.token(&server, &corp.app_secret).await;
    let send = |to: Value, msgtype: &str, object: Value| {
        let mut body =
            json!({"agentid": corp.agentid, "msgtype": msgtype, "toparty": "", "totag": ""});
        body.as_object_mut()
            .unwrap()
            .extend(to.as_object().unwrap().clone());
        body[msgtype] = object;
        body
    };
    let text = json!({"content": "今晚 8 点试驾会"});
    let sent = post(
        &server,
        "message/send",
        &token,
        &send(json!({"touser": "ZhangSan|nobody"}), "text", text.clone()),
    )
    .await;
    assert_errcode(&sent, 0);
    assert_eq!(sent["invaliduser"], "nobody", "{sent}");
    assert!(sent["msgid"].as_str().is_some_and(|id| !id.is_empty()));
    let party = post(
        &server,
        "message/send",
        &token,
        &send(
            json!({"toparty": "2|99"}),
            "markdown",
            json!({"content": "**本周** 目标"}),
        ),
    )
    .await;
    assert_eq!(
        (errcode(&party), party["invalidparty"].as_str()),
        (0, Some("99")),
        "{party}"
    );
    let all = post(&server, "message/send", &token, &send(json!({"touser": "@all"}), "textcard", json!({"title": "新车到店", "description": "<div class=\"gray\">今天</div>", "url": "https://example.com"}))).await;
    assert_errcode(&all, 0);
    let nobody = post(
        &server,
        "message/send",
        &token,
        &send(
            json!({"touser": "ghost", "totag": "5"}),
            "text",
            text.clone(),
        ),
    )
    .await;
    assert_errcode(&nobody, 81013);
    assert_eq!(
        (
            nobody["invaliduser"].as_str(),
            nobody["invalidtag"].as_str()
        ),
        (Some("ghost"), Some("5")),
        "{nobody}"
    );
    for (body, code) in [
        (
            send(
                json!({"touser": "lisi"}),
                "text",
                json!({"content": "长".repeat(700)}),
            ),
            45002,
        ),
        (
            send(json!({"touser": "lisi"}), "text", json!({"content": " "})),
            44004,
        ),
        (
            send(json!({"touser": "lisi"}), "voice", json!({"media_id": "x"})),
            40008,
        ),
        (
            send(
                json!({"touser": "lisi"}),
                "textcard",
                json!({"title": "t", "description": "d", "url": "https://x", "btntxt": "更多详细内容"}),
            ),
            45002,
        ),
        (
            send(json!({"touser": "lisi"}), "news", json!({"articles": []})),
            45008,
        ),
        (
            json!({"agentid": 1, "msgtype": "text", "touser": "lisi", "text": text}),
            40056,
        ),
    ] {
        assert_errcode(&post(&server, "message/send", &token, &body).await, code);
    }
    // The contacts secret is not an app: it sends nothing.
    assert_errcode(
        &post(
            &server,
            "message/send",
            &contacts,
            &send(json!({"touser": "lisi"}), "text", text.clone()),
        )
        .await,
        301_002,
    );

    // zhangsan accepts the invitation and reads what the app sent them, newest first.
    let members = server
        .admin_get(&format!("/api/v1/admin/corps/{}/members", corp.corpid))
        .await
        .json();
    let invitation = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["userid"] == "zhangsan")
        .unwrap()["invitation"]
        .as_str()
        .unwrap()
        .to_owned();
    let person = Payer::create(&server, "张三", 1).await;
    let accepted = person
        .post(
            &server,
            &format!("/api/v1/me/wecom/invitations/{invitation}"),
            &json!({}),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    assert_eq!(accepted.json()["status"], 1);
    let again = person
        .post(
            &server,
            &format!("/api/v1/me/wecom/invitations/{invitation}"),
            &json!({}),
        )
        .await;
    again.assert_error(409, "already_member");
    let someone_else = Payer::create(&server, "冒名者", 1).await;
    someone_else
        .post(
            &server,
            &format!("/api/v1/me/wecom/invitations/{invitation}"),
            &json!({}),
        )
        .await
        .assert_error(404, "invitation_invalid");
    let inbox = plaza_testkit::send(
        plaza_testkit::http_client()
            .get(format!(
                "{}/api/v1/me/wecom/{}/messages",
                server.base_url, corp.corpid
            ))
            .bearer_auth(&person.token),
    )
    .await
    .unwrap()
    .json();
    let types: Vec<&str> = inbox["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["msgtype"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["textcard", "markdown", "text"], "{inbox}");
    assert_eq!(inbox["messages"][2]["text"]["content"], "今晚 8 点试驾会");
    assert_eq!(
        get(&server, "user/get?userid=zhangsan", &contacts).await["status"],
        1
    );

    // zhangsan writes back to the app: the corp's server hears a text message from
    // zhangsan for that app. An empty message, or an app that does not reach zhangsan,
    // is refused and nothing is sent.
    let callbacks = CorpServer::start(&corp.corpid).await;
    callbacks.register(&server, &corp.corpid).await;
    let to_app = |agentid: i64| format!("/api/v1/me/wecom/{}/apps/{agentid}/messages", corp.corpid);
    let wrote = person
        .post(
            &server,
            &to_app(corp.agentid),
            &json!({"content": "收到，准时参加"}),
        )
        .await;
    assert_eq!(wrote.status, 201, "{}", wrote.text);
    let msgid = wrote.json()["msgid"].as_str().unwrap().to_owned();
    let heard = callbacks
        .wait_for(&["<MsgType><![CDATA[text]]></MsgType>", "收到，准时参加"])
        .await;
    for part in [
        "<FromUserName><![CDATA[zhangsan]]></FromUserName>".to_owned(),
        format!("<MsgId>{msgid}</MsgId>"),
        format!("<AgentID>{}</AgentID>", corp.agentid),
    ] {
        assert!(heard.contains(&part), "{part} in {heard}");
    }
    person
        .post(&server, &to_app(corp.agentid), &json!({"content": "  "}))
        .await
        .assert_error(400, "invalid_field");
    let after_sales = post(
        &server,
        "department/create",
        &contacts,
        &json!({"name": "售后部", "parentid": 1}),
    )
    .await;
    let narrow = server
        .admin_post(
            &format!("/api/v1/admin/corps/{}/apps", corp.corpid),
            &json!({"name": "售后助手", "visible_departments": [after_sales["id"]]}),
        )
        .await;
    assert_eq!(narrow.status, 201, "{}", narrow.text);
    let narrow_agentid = narrow.json()["agentid"].as_i64().unwrap();
    person
        .post(
            &server,
            &to_app(narrow_agentid),
            &json!({"content": "你好"}),
        )
        .await
        .assert_error(400, "business_rule");
    assert_eq!(callbacks.events().len(), 1, "{:?}", callbacks.events());
}

#[tokio::test(flavor = "multi_thread")]
async fn appchats_are_made_changed_and_spoken_in_by_the_app() {
    let server = TestServer::sandbox(PLAZA);
    let corp = Corp::create(&server, "星河汽车").await;
    let contacts = corp.token(&server, &corp.contacts_secret).await;
    for (userid, mobile) in [
        ("zhangsan", "13800000001"),
        ("lisi", "13800000002"),
        ("wangwu", "13800000003"),
    ] {
        post(
            &server,
            "user/create",
            &contacts,
            &json!({"userid": userid, "name": userid, "department": [1], "mobile": mobile}),
        )
        .await;
    }
    let token = corp.token(&server, &corp.app_secret).await;
    let created = post(&server, "appchat/create", &token, &json!({"name": "销售群", "owner": "zhangsan", "userlist": ["zhangsan", "lisi"], "chatid": "sales01"})).await;
    assert_eq!(
        (errcode(&created), created["chatid"].as_str()),
        (0, Some("sales01")),
        "{created}"
    );
    for (body, code) in [
        (
            json!({"name": "x", "userlist": ["zhangsan", "lisi"], "chatid": "sales01"}),
            86001,
        ),
        (json!({"name": "x", "userlist": ["zhangsan"]}), 86006),
        (
            json!({"name": "x", "userlist": ["zhangsan", "ghost"]}),
            86007,
        ),
        (
            json!({"name": "x", "owner": "wangwu", "userlist": ["zhangsan", "lisi"]}),
            86005,
        ),
        (
            json!({"name": "x", "userlist": ["zhangsan", "lisi"], "chatid": "bad id!"}),
            86001,
        ),
    ] {
        assert_errcode(&post(&server, "appchat/create", &token, &body).await, code);
    }
    assert_errcode(
        &post(
            &server,
            "appchat/create",
            &contacts,
            &json!({"name": "x", "userlist": ["zhangsan", "lisi"]}),
        )
        .await,
        48002,
    );
    assert_errcode(&post(&server, "appchat/update", &token, &json!({"chatid": "sales01", "add_user_list": ["wangwu"], "del_user_list": ["zhangsan"], "name": "华东销售群"})).await, 0);
    let chat = get(&server, "appchat/get?chatid=sales01", &token).await;
    assert_eq!(
        chat["chat_info"],
        json!({"chatid": "sales01", "name": "华东销售群", "owner": "lisi", "userlist": ["lisi", "wangwu"], "chat_type": 0}),
        "the owner who left hands over to the first member: {chat}"
    );
    assert_errcode(
        &get(&server, "appchat/get?chatid=nope", &token).await,
        86003,
    );
    let sent = post(&server, "appchat/send", &token, &json!({"chatid": "sales01", "msgtype": "text", "text": {"content": "早会 9 点"}, "safe": 0})).await;
    assert_errcode(&sent, 0);
    assert_errcode(
        &post(
            &server,
            "appchat/send",
            &token,
            &json!({"chatid": "nope", "msgtype": "text", "text": {"content": "x"}}),
        )
        .await,
        86003,
    );
}

/// Sends `head` then, a moment later, `body` on `stream`; the status line of the answer.
async fn late_body_request(stream: &mut tokio::net::TcpStream, head: &str, body: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    stream.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stream.write_all(body.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0_u8; 4096];
    // Bounded: one answer, read until its JSON body closes or the peer hangs up.
    for _ in 0..100 {
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buffer))
                .await
                .unwrap()
                .unwrap();
        answer.extend_from_slice(&buffer[..read]);
        if read == 0 || answer.ends_with(b"}") {
            break;
        }
    }
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_stays_usable_when_a_posted_body_arrives_after_its_headers() {
    let server = TestServer::sandbox(PLAZA);
    let corp = Corp::create(&server, "星河汽车").await;
    let token = corp.token(&server, &corp.app_secret).await;
    let address = server.base_url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    // The handler needs nothing from the body ({}), as wechatpy posts it: in two packets.
    let head = format!(
        "POST /wecom/cgi-bin/msgaudit/get_permit_user_list?access_token={token} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n"
    );
    for attempt in 0..2 {
        let status = late_body_request(&mut stream, &head, "{}").await;
        assert_eq!(
            status, "HTTP/1.1 200 OK",
            "request {attempt} on one connection"
        );
    }
}
