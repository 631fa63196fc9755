//! WeCom's customer contact against the real binary: Plaza users adding members by
//! their contact QR and joining customer groups by the group QR, what the server API
//! reads back, hand-overs when members leave, and callbacks to the corp's server —
//! verified and decrypted there with WXBizMsgCrypt, retried until it answers, and a
//! hanging server blocking no other corp.

use plaza_testkit::TestServer;
use plaza_testkit::pay::Payer;
use plaza_testkit::wecom::{Corp, CorpMode, CorpServer, wx_get_with, wx_post_json};
use serde_json::{Value, json};

use crate::PLAZA;
use crate::wecom::assert_errcode;

const HOUR_MS: i64 = 3_600_000;

/// A corp with its callback server, members zhangsan (linked to a Plaza user, who works
/// in the workbench) and lisi, and the app's token.
struct Shop {
    server: TestServer,
    corp: Corp,
    callbacks: CorpServer,
    zhangsan: Payer,
    token: String,
}

async fn shop() -> Shop {
    let server = TestServer::sandbox(PLAZA);
    server.pin_clock("10:00").await;
    let corp = Corp::create(&server, "星河汽车").await;
    let callbacks = CorpServer::start(&corp.corpid).await;
    callbacks.register(&server, &corp.corpid).await;
    corp.add_member(&server, "zhangsan", "张三", "13800000001")
        .await;
    corp.add_member(&server, "lisi", "李四", "13800000002")
        .await;
    let zhangsan = Payer::create(&server, "张三", 1).await;
    let code = corp.invitation(&server, "zhangsan").await;
    let accepted = zhangsan
        .post(
            &server,
            &format!("/api/v1/me/wecom/invitations/{code}"),
            &json!({}),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.text);
    let token = corp.token(&server, &corp.app_secret).await;
    Shop {
        server,
        corp,
        callbacks,
        zhangsan,
        token,
    }
}

async fn post(shop: &Shop, path: &str, body: &Value) -> Value {
    wx_post_json(&shop.server, path, &shop.token, body).await
}

async fn get(shop: &Shop, path: &str) -> Value {
    wx_get_with(&shop.server, path, &shop.token).await
}

/// zhangsan makes a customer group named `name` with `staff` in it: its chat_id.
async fn new_group(shop: &Shop, name: &str, staff: &[impl serde::Serialize]) -> String {
    let created = shop
        .zhangsan
        .post(
            &shop.server,
            &format!("/api/v1/me/wecom/{}/groups", shop.corp.corpid),
            &json!({"name": name, "staff": staff}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.json()["chat_id"].as_str().unwrap().to_owned()
}

/// `who` leaves customer group `chat_id`: the answer.
async fn leave_group(shop: &Shop, who: &Payer, chat_id: &str) -> plaza_testkit::Reply {
    plaza_testkit::send(
        plaza_testkit::http_client()
            .delete(format!(
                "{}/api/v1/me/wecom/customer-groups/{}/{chat_id}",
                shop.server.base_url, shop.corp.corpid
            ))
            .bearer_auth(&who.token),
    )
    .await
    .unwrap()
}

/// A Plaza user scans a contact way's QR: the API's answer.
async fn scan(shop: &Shop, who: &Payer, config_id: &str) -> Value {
    let reply = who
        .post(
            &shop.server,
            &format!("/api/v1/me/wecom/contact-ways/{config_id}"),
            &json!({}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

async fn me_get(server: &TestServer, who: &Payer, path: &str) -> Value {
    let reply = plaza_testkit::send(
        plaza_testkit::http_client()
            .get(format!("{}{path}", server.base_url))
            .bearer_auth(&who.token),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_customer_adds_a_member_by_qr_and_the_corp_reads_and_hears_it() {
    let shop = shop().await;
    for (body, code) in [
        (json!({"scene": 2, "user": ["zhangsan"]}), 41037),
        (json!({"type": 1, "scene": 9, "user": ["zhangsan"]}), 41038),
        (
            json!({"type": 1, "scene": 2, "user": ["zhangsan", "lisi"]}),
            40058,
        ),
        (json!({"type": 1, "scene": 2, "user": ["ghost"]}), 40003),
    ] {
        assert_errcode(
            &post(&shop, "externalcontact/add_contact_way", &body).await,
            code,
        );
    }
    let contacts_token = shop
        .corp
        .token(&shop.server, &shop.corp.contacts_secret)
        .await;
    assert_errcode(
        &wx_get_with(
            &shop.server,
            "externalcontact/get_follow_user_list",
            &contacts_token,
        )
        .await,
        48002,
    );
    let way = post(&shop, "externalcontact/add_contact_way", &json!({"type": 1, "scene": 2, "user": ["zhangsan"], "state": "spring-show", "skip_verify": true})).await;
    assert_errcode(&way, 0);
    let config_id = way["config_id"].as_str().unwrap().to_owned();
    assert_eq!(
        way["qr_code"],
        format!("{}/app/wecom/add/{config_id}", shop.server.base_url)
    );
    let read = post(
        &shop,
        "externalcontact/get_contact_way",
        &json!({"config_id": config_id}),
    )
    .await;
    assert_eq!(
        (
            read["contact_way"]["state"].as_str(),
            read["contact_way"]["user"].clone()
        ),
        (Some("spring-show"), json!(["zhangsan"])),
        "{read}"
    );

    // Before anyone scans, zhangsan has no customers (84061).
    assert_errcode(
        &get(&shop, "externalcontact/list?userid=zhangsan").await,
        84061,
    );
    let buyer = Payer::create(&shop.server, "小王", 1).await;
    let added = scan(&shop, &buyer, &config_id).await;
    assert_eq!(
        (
            added["userid"].as_str(),
            added["corp_name"].as_str(),
            added["new"].as_bool()
        ),
        (Some("zhangsan"), Some("星河汽车"), Some(true)),
        "{added}"
    );
    let external_userid = added["external_userid"].as_str().unwrap().to_owned();
    assert!(
        external_userid.starts_with("wm") && external_userid.len() == 32,
        "{external_userid}"
    );
    let event = shop
        .callbacks
        .wait_for(&["add_external_contact", &external_userid])
        .await;
    for part in [
        "<Event><![CDATA[change_external_contact]]></Event>",
        "<UserID><![CDATA[zhangsan]]></UserID>",
        "<State><![CDATA[spring-show]]></State>",
        "<WelcomeCode>",
        &format!("<ToUserName><![CDATA[{}]]></ToUserName>", shop.corp.corpid),
    ] {
        assert!(event.contains(part), "{part} in {event}");
    }
    // Scanning again keeps the relation and tells no one.
    assert_eq!(scan(&shop, &buyer, &config_id).await["new"], false);

    let follow_users = get(&shop, "externalcontact/get_follow_user_list").await;
    assert_eq!(
        follow_users["follow_user"],
        json!(["lisi", "zhangsan"]),
        "{follow_users}"
    );
    assert_eq!(
        get(&shop, "externalcontact/list?userid=zhangsan").await["external_userid"],
        json!([external_userid])
    );
    let detail = get(
        &shop,
        &format!("externalcontact/get?external_userid={external_userid}"),
    )
    .await;
    assert_eq!(
        (
            detail["external_contact"]["name"].as_str(),
            detail["external_contact"]["type"].as_i64()
        ),
        (Some("小王"), Some(1)),
        "{detail}"
    );
    let follow = &detail["follow_user"][0];
    assert_eq!(
        (
            follow["userid"].as_str(),
            follow["add_way"].as_i64(),
            follow["state"].as_str()
        ),
        (Some("zhangsan"), Some(1), Some("spring-show")),
        "{detail}"
    );
    assert_eq!(detail["next_cursor"], "");
    assert_errcode(
        &get(&shop, "externalcontact/get?external_userid=wm000").await,
        40096,
    );

    // Remarks and corp tags.
    assert_errcode(&post(&shop, "externalcontact/remark", &json!({"userid": "zhangsan", "external_userid": external_userid, "remark": "王先生", "description": "想试驾 SUV", "remark_mobiles": ["13900000000"]})).await, 0);
    assert_errcode(
        &post(
            &shop,
            "externalcontact/remark",
            &json!({"userid": "lisi", "external_userid": external_userid, "remark": "x"}),
        )
        .await,
        84061,
    );
    let tags = post(
        &shop,
        "externalcontact/add_corp_tag",
        &json!({"group_name": "意向", "tag": [{"name": "高意向"}, {"name": "试驾过"}]}),
    )
    .await;
    assert_errcode(&tags, 0);
    let hot = tags["tag_group"]["tag"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_errcode(
        &post(
            &shop,
            "externalcontact/mark_tag",
            &json!({"userid": "zhangsan", "external_userid": external_userid, "add_tag": [hot]}),
        )
        .await,
        0,
    );
    assert_errcode(&post(&shop, "externalcontact/mark_tag", &json!({"userid": "zhangsan", "external_userid": external_userid, "add_tag": ["etnope"]})).await, 40068);
    let listed_tags = post(&shop, "externalcontact/get_corp_tag_list", &json!({})).await;
    assert_eq!(
        listed_tags["tag_group"][0]["tag"].as_array().map(Vec::len),
        Some(2),
        "{listed_tags}"
    );
    let detail = get(
        &shop,
        &format!("externalcontact/get?external_userid={external_userid}"),
    )
    .await;
    let follow = &detail["follow_user"][0];
    assert_eq!(
        (follow["remark"].as_str(), follow["description"].as_str()),
        (Some("王先生"), Some("想试驾 SUV")),
        "{detail}"
    );
    assert_eq!(
        follow["tags"],
        json!([{"group_name": "意向", "tag_name": "高意向", "tag_id": hot, "type": 1}])
    );

    // Batch reads page by page, with the list of members or the legacy single userid.
    let second = Payer::create(&shop.server, "小李", 1).await;
    scan(&shop, &second, &config_id).await;
    let first_page = post(
        &shop,
        "externalcontact/batch/get_by_user",
        &json!({"userid_list": ["zhangsan"], "limit": 1}),
    )
    .await;
    assert_eq!(
        first_page["external_contact_list"].as_array().map(Vec::len),
        Some(1),
        "{first_page}"
    );
    assert_eq!(
        first_page["external_contact_list"][0]["follow_info"]["tag_id"],
        json!([hot])
    );
    let cursor = first_page["next_cursor"].as_str().unwrap().to_owned();
    assert!(!cursor.is_empty());
    let last_page = post(
        &shop,
        "externalcontact/batch/get_by_user",
        &json!({"userid": "zhangsan", "cursor": cursor, "limit": 1}),
    )
    .await;
    assert_eq!(
        (
            last_page["external_contact_list"][0]["external_contact"]["name"].as_str(),
            last_page["next_cursor"].as_str()
        ),
        (Some("小李"), Some("")),
        "{last_page}"
    );

    // The workbench and the customer's side see the same relation.
    let customers = me_get(
        &shop.server,
        &shop.zhangsan,
        &format!("/api/v1/me/wecom/{}/customers", shop.corp.corpid),
    )
    .await;
    assert_eq!(
        customers["customers"][0]["tags"],
        json!(["高意向"]),
        "{customers}"
    );
    let mine = me_get(&shop.server, &buyer, "/api/v1/me/wecom/contacts").await;
    assert_eq!(
        (
            mine["staff"][0]["name"].as_str(),
            mine["staff"][0]["corp_name"].as_str()
        ),
        (Some("张三"), Some("星河汽车")),
        "{mine}"
    );

    // The member deletes the customer: the corp hears it, the relation is gone.
    let deleted = plaza_testkit::send(
        plaza_testkit::http_client()
            .delete(format!(
                "{}/api/v1/me/wecom/{}/customers/{external_userid}",
                shop.server.base_url, shop.corp.corpid
            ))
            .bearer_auth(&shop.zhangsan.token),
    )
    .await
    .unwrap();
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    shop.callbacks
        .wait_for(&["del_external_contact", &external_userid])
        .await;
    assert_eq!(
        get(&shop, "externalcontact/list?userid=zhangsan").await["external_userid"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_errcode(
        &post(
            &shop,
            "externalcontact/del_contact_way",
            &json!({"config_id": config_id}),
        )
        .await,
        0,
    );
    assert_errcode(
        &post(
            &shop,
            "externalcontact/get_contact_way",
            &json!({"config_id": config_id}),
        )
        .await,
        41039,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn customer_groups_mix_members_and_customers_and_report_every_change() {
    let shop = shop().await;
    let corpid = shop.corp.corpid.clone();
    let chat_id = new_group(&shop, "星河车友群", &["lisi"]).await;
    assert!(chat_id.starts_with("wr"));
    shop.callbacks
        .wait_for(&["<ChangeType><![CDATA[create]]></ChangeType>", &chat_id])
        .await;

    let qr = shop
        .zhangsan
        .post(
            &shop.server,
            &format!("/api/v1/me/wecom/{corpid}/groups/{chat_id}/join-way"),
            &json!({}),
        )
        .await
        .json();
    let config_id = qr["config_id"].as_str().unwrap().to_owned();
    let read = post(
        &shop,
        "externalcontact/groupchat/get_join_way",
        &json!({"config_id": config_id}),
    )
    .await;
    assert_eq!(read["join_way"]["chat_id_list"], json!([chat_id]), "{read}");
    let before = post(
        &shop,
        "externalcontact/groupchat/get",
        &json!({"chat_id": chat_id}),
    )
    .await["group_chat"]["member_version"]
        .as_str()
        .unwrap()
        .to_owned();

    let buyers = [
        Payer::create(&shop.server, "小王", 1).await,
        Payer::create(&shop.server, "小李", 1).await,
    ];
    for buyer in &buyers {
        let joined = buyer
            .post(
                &shop.server,
                &format!("/api/v1/me/wecom/join-ways/{config_id}"),
                &json!({}),
            )
            .await;
        assert_eq!(joined.status, 200, "{}", joined.text);
    }
    let first = shop
        .callbacks
        .wait_for(&[
            "add_member",
            "<JoinScene><![CDATA[3]]></JoinScene>",
            &format!("<LastMemVer><![CDATA[{before}]]></LastMemVer>"),
        ])
        .await;
    assert!(
        first.contains("<MemChangeList><Item><![CDATA[wm"),
        "{first}"
    );

    let group = post(
        &shop,
        "externalcontact/groupchat/get",
        &json!({"chat_id": chat_id, "need_name": 1}),
    )
    .await["group_chat"]
        .clone();
    let members = group["member_list"].as_array().unwrap();
    let kinds: Vec<(i64, &str)> = members
        .iter()
        .map(|m| (m["type"].as_i64().unwrap(), m["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [(1, "张三"), (1, "李四"), (2, "小王"), (2, "小李")],
        "{group}"
    );
    assert_eq!(
        (
            group["owner"].as_str(),
            members[2]["join_scene"].as_i64(),
            members[1]["invitor"]["userid"].as_str()
        ),
        (Some("zhangsan"), Some(3), Some("zhangsan")),
        "{group}"
    );
    assert_ne!(group["member_version"].as_str(), Some(before.as_str()));
    assert_eq!(group["admin_list"], json!([]));
    let mine = me_get(&shop.server, &buyers[0], "/api/v1/me/wecom/contacts").await;
    assert_eq!(mine["groups"][0]["chat_id"], chat_id.as_str(), "{mine}");

    // Paging through the corp's groups ends with an empty cursor.
    let second = shop
        .zhangsan
        .post(
            &shop.server,
            &format!("/api/v1/me/wecom/{corpid}/groups"),
            &json!({"name": "售后群"}),
        )
        .await
        .json();
    let page = post(
        &shop,
        "externalcontact/groupchat/list",
        &json!({"limit": 1}),
    )
    .await;
    assert_eq!(
        (
            page["group_chat_list"][0]["chat_id"].as_str(),
            page["group_chat_list"][0]["status"].as_i64()
        ),
        (Some(chat_id.as_str()), Some(0)),
        "{page}"
    );
    let rest = post(
        &shop,
        "externalcontact/groupchat/list",
        &json!({"limit": 1, "cursor": page["next_cursor"]}),
    )
    .await;
    assert_eq!(
        (
            rest["group_chat_list"][0]["chat_id"].clone(),
            rest["next_cursor"].as_str()
        ),
        (second["chat_id"].clone(), Some("")),
        "{rest}"
    );
    let by_owner = post(
        &shop,
        "externalcontact/groupchat/list",
        &json!({"owner_filter": {"userid_list": ["lisi"]}, "limit": 10}),
    )
    .await;
    assert_eq!(by_owner["group_chat_list"], json!([]));

    // A customer leaves (quit scene 0); the owner removes another (1); a member who does
    // not manage the group cannot remove anyone.
    let external = |i: usize| members[2 + i]["userid"].as_str().unwrap().to_owned();
    let left = leave_group(&shop, &buyers[0], &chat_id).await;
    assert_eq!(left.status, 204, "{}", left.text);
    shop.callbacks
        .wait_for(&[
            "del_member",
            "<QuitScene><![CDATA[0]]></QuitScene>",
            &external(0),
        ])
        .await;
    let lisi = Payer::create(&shop.server, "李四", 1).await;
    let code = shop.corp.invitation(&shop.server, "lisi").await;
    lisi.post(
        &shop.server,
        &format!("/api/v1/me/wecom/invitations/{code}"),
        &json!({}),
    )
    .await;
    let refused = plaza_testkit::send(
        plaza_testkit::http_client()
            .delete(format!(
                "{}/api/v1/me/wecom/{corpid}/groups/{chat_id}/members/{}",
                shop.server.base_url,
                external(1)
            ))
            .bearer_auth(&lisi.token),
    )
    .await
    .unwrap();
    assert_ne!(refused.status, 200, "{}", refused.text);
    let removed = plaza_testkit::send(
        plaza_testkit::http_client()
            .delete(format!(
                "{}/api/v1/me/wecom/{corpid}/groups/{chat_id}/members/{}",
                shop.server.base_url,
                external(1)
            ))
            .bearer_auth(&shop.zhangsan.token),
    )
    .await
    .unwrap();
    assert_eq!(removed.status, 200, "{}", removed.text);
    shop.callbacks
        .wait_for(&[
            "del_member",
            "<QuitScene><![CDATA[1]]></QuitScene>",
            &external(1),
        ])
        .await;

    let dismissed = plaza_testkit::send(
        plaza_testkit::http_client()
            .delete(format!(
                "{}/api/v1/me/wecom/{corpid}/groups/{chat_id}",
                shop.server.base_url
            ))
            .bearer_auth(&shop.zhangsan.token),
    )
    .await
    .unwrap();
    assert_eq!(dismissed.status, 204, "{}", dismissed.text);
    shop.callbacks
        .wait_for(&["<ChangeType><![CDATA[dismiss]]></ChangeType>", &chat_id])
        .await;
    assert_errcode(
        &post(
            &shop,
            "externalcontact/groupchat/get",
            &json!({"chat_id": chat_id}),
        )
        .await,
        90501,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn customers_and_groups_are_handed_over_when_a_member_leaves() {
    let mut shop = shop().await;
    let corpid = shop.corp.corpid.clone();
    let way = post(
        &shop,
        "externalcontact/add_contact_way",
        &json!({"type": 1, "scene": 2, "user": ["zhangsan"]}),
    )
    .await;
    let config_id = way["config_id"].as_str().unwrap().to_owned();
    let mut externals = Vec::new();
    for name in ["甲", "乙", "丙"] {
        let buyer = Payer::create(&shop.server, name, 1).await;
        externals.push(
            scan(&shop, &buyer, &config_id).await["external_userid"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let group = shop
        .zhangsan
        .post(
            &shop.server,
            &format!("/api/v1/me/wecom/{corpid}/groups"),
            &json!({"name": "老客户群"}),
        )
        .await
        .json();
    let chat_id = group["chat_id"].as_str().unwrap().to_owned();

    // On the job: the first customer goes to lisi after 24 hours.
    let started = post(&shop, "externalcontact/transfer_customer", &json!({"handover_userid": "zhangsan", "takeover_userid": "lisi", "external_userid": [externals[0], "wm000"], "transfer_success_msg": "您好，后续由李四为您服务"})).await;
    assert_eq!(
        started["customer"],
        json!([{"external_userid": externals[0], "errcode": 0}, {"external_userid": "wm000", "errcode": 40096}]),
        "{started}"
    );
    let again = post(&shop, "externalcontact/transfer_customer", &json!({"handover_userid": "zhangsan", "takeover_userid": "lisi", "external_userid": [externals[0]]})).await;
    assert_eq!(again["customer"][0]["errcode"], 40097, "{again}");
    let waiting = post(
        &shop,
        "externalcontact/transfer_result",
        &json!({"handover_userid": "zhangsan", "takeover_userid": "lisi"}),
    )
    .await;
    assert_eq!(waiting["customer"][0]["status"], 2, "{waiting}");
    shop.server.advance_clock(24 * HOUR_MS + 60_000).await;
    shop.token = shop.corp.token(&shop.server, &shop.corp.app_secret).await;
    let done = post(
        &shop,
        "externalcontact/transfer_result",
        &json!({"handover_userid": "zhangsan", "takeover_userid": "lisi"}),
    )
    .await;
    assert_eq!(done["customer"][0]["status"], 1, "{done}");
    shop.callbacks
        .wait_for(&["del_external_contact", "DELETE_BY_TRANSFER", &externals[0]])
        .await;
    let detail = get(
        &shop,
        &format!("externalcontact/get?external_userid={}", externals[0]),
    )
    .await;
    let follows: Vec<(&str, i64)> = detail["follow_user"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["userid"].as_str().unwrap(),
                f["add_way"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(follows, [("lisi", 202)], "{detail}");

    // zhangsan leaves: their two other customers wait for someone; their group's owner
    // has left (status 1).
    let contacts_token = shop
        .corp
        .token(&shop.server, &shop.corp.contacts_secret)
        .await;
    assert_errcode(
        &wx_get_with(&shop.server, "user/delete?userid=zhangsan", &contacts_token).await,
        0,
    );
    let unassigned = post(
        &shop,
        "externalcontact/get_unassigned_list",
        &json!({"page_id": 0, "page_size": 100}),
    )
    .await;
    let waiting: Vec<&str> = unassigned["info"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["external_userid"].as_str().unwrap())
        .collect();
    assert_eq!(
        (waiting.len(), unassigned["is_last"].as_bool()),
        (2, Some(true)),
        "{unassigned}"
    );
    assert_eq!(unassigned["info"][0]["handover_userid"], "zhangsan");
    let on_job = post(&shop, "externalcontact/transfer_customer", &json!({"handover_userid": "zhangsan", "takeover_userid": "lisi", "external_userid": [externals[1]]})).await;
    assert_errcode(&on_job, 60111);
    let resigned = post(&shop, "externalcontact/resigned/transfer_customer", &json!({"handover_userid": "zhangsan", "takeover_userid": "lisi", "external_userid": [externals[1]]})).await;
    assert_eq!(resigned["customer"][0]["errcode"], 0, "{resigned}");
    // The deprecated single transfer wechatpy 1.8.18 calls completes at once.
    assert_errcode(&post(&shop, "externalcontact/transfer", &json!({"handover_userid": "zhangsan", "takeover_userid": "lisi", "external_userid": externals[2]})).await, 0);
    assert_eq!(
        get(&shop, "externalcontact/list?userid=lisi").await["external_userid"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    let listed = post(
        &shop,
        "externalcontact/groupchat/list",
        &json!({"status_filter": 1, "limit": 10}),
    )
    .await;
    assert_eq!(
        listed["group_chat_list"],
        json!([{"chat_id": chat_id, "status": 1}]),
        "{listed}"
    );
    let onjob = post(
        &shop,
        "externalcontact/groupchat/onjob_transfer",
        &json!({"chat_id_list": [chat_id], "new_owner": "lisi"}),
    )
    .await;
    assert_eq!(onjob["failed_chat_list"][0]["errcode"], 90504, "{onjob}");
    let moved = post(
        &shop,
        "externalcontact/groupchat/transfer",
        &json!({"chat_id_list": [chat_id, "wrnope"], "new_owner": "lisi"}),
    )
    .await;
    assert_eq!(
        moved["failed_chat_list"],
        json!([{"chat_id": "wrnope", "errcode": 90501, "errmsg": "chat is not external group chat"}]),
        "{moved}"
    );
    let group = post(
        &shop,
        "externalcontact/groupchat/get",
        &json!({"chat_id": chat_id}),
    )
    .await;
    assert_eq!(group["group_chat"]["owner"], "lisi", "{group}");
    let listed = post(
        &shop,
        "externalcontact/groupchat/list",
        &json!({"status_filter": 3, "limit": 10}),
    )
    .await;
    assert_eq!(
        listed["group_chat_list"],
        json!([{"chat_id": chat_id, "status": 3}]),
        "{listed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn callbacks_are_retried_replayed_and_a_hanging_corp_blocks_no_one() {
    let shop = shop().await;
    let corpid = shop.corp.corpid.clone();
    // A URL that does not answer the verification is refused, and so is a bad key.
    let refused = shop.server.admin_put(&format!("/api/v1/admin/corps/{corpid}/callback"), &json!({"url": format!("{}/healthz", shop.server.base_url), "token": "t", "encoding_aes_key": shop.callbacks.encoding_aes_key})).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    let refused = shop
        .server
        .admin_put(
            &format!("/api/v1/admin/corps/{corpid}/callback"),
            &json!({"url": shop.callbacks.url, "token": "t", "encoding_aes_key": "short"}),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);

    // Another corp whose server hangs.
    let other = Corp::create(&shop.server, "另一家").await;
    let hanging = CorpServer::start(&other.corpid).await;
    hanging.register(&shop.server, &other.corpid).await;
    hanging.set_mode(CorpMode::Hang);
    other
        .add_member(&shop.server, "wangwu", "王五", "13800000003")
        .await;
    let other_token = other.token(&shop.server, &other.app_secret).await;
    let other_way = wx_post_json(
        &shop.server,
        "externalcontact/add_contact_way",
        &other_token,
        &json!({"type": 1, "scene": 2, "user": ["wangwu"]}),
    )
    .await;

    shop.callbacks.set_mode(CorpMode::Fail);
    let way = post(
        &shop,
        "externalcontact/add_contact_way",
        &json!({"type": 1, "scene": 2, "user": ["zhangsan"]}),
    )
    .await;
    let buyer = Payer::create(&shop.server, "小王", 1).await;
    scan(&shop, &buyer, other_way["config_id"].as_str().unwrap()).await;
    let external = scan(&shop, &buyer, way["config_id"].as_str().unwrap()).await["external_userid"]
        .as_str()
        .unwrap()
        .to_owned();
    let attempts = plaza_testkit::eventually("a failed attempt is recorded", || async {
        let events = shop
            .server
            .admin_get(&format!("/api/v1/admin/corps/{corpid}/callbacks"))
            .await
            .json();
        let event = events["events"].as_array().and_then(|e| {
            e.iter()
                .find(|e| e["change_type"] == "add_external_contact")
                .cloned()
        })?;
        (!event["attempts"].as_array()?.is_empty()).then_some(event)
    })
    .await;
    assert_eq!(
        (
            attempts["attempts"][0]["status"].as_i64(),
            attempts["delivered_at"].clone()
        ),
        (Some(500), Value::Null),
        "{attempts}"
    );
    assert!(attempts["xml"].as_str().unwrap().contains(&external));

    // The corp's server recovers: the retry gets through; the hanging corp held no one up.
    shop.callbacks.set_mode(CorpMode::Accept);
    shop.server.advance_clock(60_000).await;
    shop.callbacks
        .wait_for(&["add_external_contact", &external])
        .await;
    let id = attempts["id"].as_str().unwrap().to_owned();
    let replayed = shop
        .server
        .admin_post(
            &format!("/api/v1/admin/corps/{corpid}/callbacks/{id}/replay"),
            &json!({}),
        )
        .await;
    assert_eq!(replayed.status, 202, "{}", replayed.text);
    plaza_testkit::eventually("the replay arrives", || async {
        (shop
            .callbacks
            .events()
            .iter()
            .filter(|e| e.contains("add_external_contact") && e.contains(&external))
            .count()
            >= 2)
            .then_some(())
    })
    .await;
    assert!(hanging.events().is_empty());
}

/// The ids of the conversations `who`'s workbench or Chats tab lists.
async fn conversation_ids(server: &TestServer, who: &Payer) -> Vec<String> {
    me_get(server, who, "/api/v1/me/wecom/conversations").await["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_customer_group_and_a_large_appchat_are_found_by_every_member() {
    let shop = shop().await;
    let corpid = shop.corp.corpid.clone();
    // 50 staff (zhangsan, lisi and 48 more) and 450 customers: WeCom's 500.
    let mut staff = vec!["lisi".to_owned()];
    for i in 0..48 {
        let userid = format!("sales{i:02}");
        shop.corp
            .add_member(
                &shop.server,
                &userid,
                &format!("销售{i}"),
                &format!("1390000{i:04}"),
            )
            .await;
        staff.push(userid);
    }
    let chat_id = new_group(&shop, "星河车主大群", &staff).await;
    let config_id = shop
        .zhangsan
        .post(
            &shop.server,
            &format!("/api/v1/me/wecom/{corpid}/groups/{chat_id}/join-way"),
            &json!({}),
        )
        .await
        .json()["config_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let join_path = format!("/api/v1/me/wecom/join-ways/{config_id}");
    let nothing = json!({});
    let join = async |who: &Payer| who.post(&shop.server, &join_path, &nothing).await;
    let mut customers = Vec::new();
    for i in 0..450 {
        let customer = Payer::create(&shop.server, &format!("车主{i}"), 1).await;
        let joined = join(&customer).await;
        assert_eq!(joined.status, 200, "customer {i}: {}", joined.text);
        customers.push(customer);
    }
    let late = Payer::create(&shop.server, "晚到的车主", 1).await;
    let full = join(&late).await;
    assert_eq!(full.status, 400, "{}", full.text);

    let group = post(
        &shop,
        "externalcontact/groupchat/get",
        &json!({"chat_id": chat_id}),
    )
    .await;
    assert_eq!(
        group["group_chat"]["member_list"].as_array().map(Vec::len),
        Some(500),
        "{}",
        group["errmsg"]
    );
    let conversation = format!("g:{corpid}:{chat_id}");
    assert!(
        conversation_ids(&shop.server, &shop.zhangsan)
            .await
            .contains(&conversation)
    );
    for customer in [&customers[0], &customers[449]] {
        assert!(
            conversation_ids(&shop.server, customer)
                .await
                .contains(&conversation)
        );
    }
    assert!(
        !conversation_ids(&shop.server, &late)
            .await
            .contains(&conversation)
    );
    let groups = me_get(
        &shop.server,
        &shop.zhangsan,
        &format!("/api/v1/me/wecom/{corpid}/groups"),
    )
    .await;
    assert!(groups.to_string().contains(&chat_id), "{groups}");

    // A customer who leaves no longer finds it; the one who waited now gets in.
    let left = leave_group(&shop, &customers[0], &chat_id).await;
    assert_eq!(left.status, 204, "{}", left.text);
    assert!(
        !conversation_ids(&shop.server, &customers[0])
            .await
            .contains(&conversation)
    );
    assert_eq!(join(&late).await.status, 200);
    assert!(
        conversation_ids(&shop.server, &late)
            .await
            .contains(&conversation)
    );

    // An appchat of all 50 staff is found by each of them.
    let mut userlist = staff.clone();
    userlist.insert(0, "zhangsan".to_owned());
    let made = post(
        &shop,
        "appchat/create",
        &json!({"name": "全体销售", "owner": "zhangsan", "userlist": userlist, "chatid": "allsales"}),
    )
    .await;
    assert_eq!(made["errcode"], 0, "{made}");
    assert!(
        conversation_ids(&shop.server, &shop.zhangsan)
            .await
            .contains(&format!("a:{corpid}:allsales"))
    );
    let removed = post(
        &shop,
        "appchat/update",
        &json!({"chatid": "allsales", "del_user_list": ["zhangsan"]}),
    )
    .await;
    assert_eq!(removed["errcode"], 0, "{removed}");
    assert!(
        !conversation_ids(&shop.server, &shop.zhangsan)
            .await
            .contains(&format!("a:{corpid}:allsales"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_stored_before_seats_are_found_again_after_an_upgrade() {
    let shop = shop().await;
    let corpid = shop.corp.corpid.clone();
    let chat_id = new_group(&shop, "老车友群", &["lisi"]).await;
    let made = post(
        &shop,
        "appchat/create",
        &json!({"name": "老销售群", "owner": "zhangsan", "userlist": ["zhangsan", "lisi"], "chatid": "oldsales"}),
    )
    .await;
    assert_eq!(made["errcode"], 0, "{made}");
    let wanted = [
        format!("a:{corpid}:oldsales"),
        format!("g:{corpid}:{chat_id}"),
    ];
    let Shop {
        mut server,
        zhangsan,
        ..
    } = shop;
    let mut found = conversation_ids(&server, &zhangsan).await;
    found.sort();
    assert_eq!(found, wanted);

    // As an earlier Plaza stored them: no seats; an appchat found by its members'
    // entries on its own record.
    server.terminate();
    {
        let conn = rusqlite::Connection::open(server.data_dir.join("plaza.sqlite3")).unwrap();
        for table in ["records", "record_index"] {
            conn.execute(
                &format!("DELETE FROM {table} WHERE kind IN ('wecom.group_seat', 'wecom.appchat_seat', 'wecom.upgrade')"),
                [],
            )
            .unwrap();
        }
        conn.execute("DELETE FROM record_index WHERE kind = 'wecom.appchat'", [])
            .unwrap();
        for userid in ["zhangsan", "lisi"] {
            conn.execute(
                "INSERT INTO record_index (kind, name, value, key) VALUES ('wecom.appchat', 'chat_member', ?1, ?2)",
                [format!("{corpid}/{userid}/oldsales"), format!("{corpid}/oldsales")],
            )
            .unwrap();
        }
    }
    server = server.restart();
    let mut found = conversation_ids(&server, &zhangsan).await;
    found.sort();
    assert_eq!(found, wanted);
}
