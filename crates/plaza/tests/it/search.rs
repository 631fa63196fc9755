//! Search over the real binary: the index follows the outbox (a new thing, a rename, a
//! deletion), a reindex from the database gives the same answers, private things are
//! never indexed, a missing or corrupt index is rebuilt at start, events committed just
//! before a crash are caught up, intents lead to the serving mini program, and bad
//! queries are answered, not refused.

use plaza_testkit::TestServer;
use plaza_testkit::channels::{Creator, png_image, upload};
use plaza_testkit::miniapp::MiniProgram;
use plaza_testkit::pay::{Merchant, Payer};
use plaza_testkit::search::{found_keys, reindex, search, wait_for};
use plaza_testkit::wecom::Corp;
use serde_json::json;

use crate::PLAZA;

async fn health_app(server: &TestServer) -> MiniProgram {
    let developer = Payer::create(server, "开发者小王", 1).await;
    MiniProgram::create_with(
        server,
        &json!({
            "developer": developer.user_id,
            "name": "健康杭州",
            "category": "政务民生",
            "description": "核酸检测预约与疫苗接种查询",
            "service_keywords": ["核酸检测", "疫苗预约"],
        }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_index_follows_the_outbox_and_a_reindex_answers_the_same() {
    let server = TestServer::sandbox(PLAZA);
    let app = health_app(&server).await;
    let merchant = Merchant::create(&server, "星巴克咖啡西湖店").await;
    let corp = Corp::create(&server, "星河汽车销售有限公司").await;
    let creator = Creator::open(&server, "旅行家小李", "lifestyle").await;
    let image = upload(
        &server,
        &creator.person,
        "image",
        &png_image(64, 48, 90),
        1 << 20,
    )
    .await;
    let post_id = creator
        .post_uploads(&server, &[image], "西湖的秋天 #旅行 #杭州")
        .await;
    creator.finished(&server, &post_id).await;

    let app_key = format!("mini_programs:{}", app.appid);
    let post_key = format!("posts:{post_id}");
    // Substrings, pinyin, initials and Traditional input all find what was published.
    wait_for(&server, "杭州", &app_key, true).await;
    wait_for(
        &server,
        "咖啡",
        &format!("merchants:{}", merchant.mchid),
        true,
    )
    .await;
    wait_for(&server, "xinghe", &format!("corps:{}", corp.corpid), true).await;
    wait_for(
        &server,
        "lxj",
        &format!("creators:{}", creator.channel_id),
        true,
    )
    .await;
    wait_for(&server, "西湖秋天", &post_key, true).await;
    wait_for(&server, "健康杭州", &app_key, true).await;

    // A rename: the old name no longer finds it, the new one does.
    let renamed = server
        .admin_patch(
            &format!("/api/v1/admin/miniapps/{}", app.appid),
            &json!({ "name": "城市服务通", "service_keywords": ["核酸检测"] }),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    wait_for(&server, "服务通", &app_key, true).await;
    wait_for(&server, "健康杭州", &app_key, false).await;
    // The service it no longer declares is gone with the old settings.
    wait_for(
        &server,
        "疫苗预约",
        &format!("services:{}:疫苗预约", app.appid),
        false,
    )
    .await;

    // What a reindex from the database answers is what the outbox built.
    let queries = [
        "杭州",
        "咖啡",
        "xinghe",
        "lxj",
        "西湖",
        "服务通",
        "核酸",
        "星",
    ];
    let mut before = Vec::new();
    for q in queries {
        before.push(found_keys(&server, q).await);
    }
    let progress = reindex(&server).await;
    assert_eq!(progress["error"], serde_json::Value::Null, "{progress}");
    assert!(progress["total"].as_u64().unwrap() >= 5, "{progress}");
    assert_eq!(progress["done"], progress["total"], "{progress}");
    for (q, was) in queries.iter().zip(&before) {
        assert_eq!(&found_keys(&server, q).await, was, "{q} after a reindex");
    }

    // A deleted post disappears.
    let deleted = creator
        .person
        .delete(&server, &format!("/api/v1/channels/posts/{post_id}"))
        .await;
    assert!(
        deleted.status == 200 || deleted.status == 204,
        "{}",
        deleted.text
    );
    wait_for(&server, "西湖秋天", &post_key, false).await;

    // Never people: neither the developer's nor the creator's person's name as a user,
    // nor payments, are searchable.
    assert!(found_keys(&server, "开发者小王").await.is_empty());
    let progress = reindex(&server).await;
    // The mini program, its one service, the creator, the merchant and the corp: the
    // deleted post and the people are not there.
    assert_eq!(progress["documents"], 5, "{progress}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_corrupt_index_is_rebuilt_and_a_crash_loses_nothing() {
    let server = TestServer::sandbox(PLAZA);
    let merchant = Merchant::create(&server, "老字号知味观").await;
    let key = format!("merchants:{}", merchant.mchid);
    wait_for(&server, "知味观", &key, true).await;

    // Created, then killed before the consumer may have read it: caught up at start.
    let second = Merchant::create(&server, "楼外楼餐厅").await;
    let second_key = format!("merchants:{}", second.mchid);
    let server = server.restart();
    wait_for(&server, "楼外楼", &second_key, true).await;

    // The index's files garbled while stopped: rebuilt from the database at start.
    let mut server = server;
    let _status = server.terminate();
    let dir = server.data_dir.join("search-index");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            std::fs::write(&path, b"{ not an index").unwrap();
        }
    }
    let server = server.restart();
    wait_for(&server, "知味观", &key, true).await;

    // And removed altogether.
    let mut server = server;
    let _status = server.terminate();
    std::fs::remove_dir_all(&dir).unwrap();
    let server = server.restart();
    wait_for(&server, "楼外楼", &second_key, true).await;

    // The operator's command rebuilds it with a progress bar.
    let mut command = std::process::Command::new(PLAZA);
    command.args(["admin", "search", "reindex", "--data-dir"]);
    command.arg(&server.data_dir);
    for (name, _) in std::env::vars() {
        if name.starts_with("PLAZA_") {
            command.env_remove(name);
        }
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("[{}] 2/2", "#".repeat(30))),
        "{stderr}"
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "search index rebuilt: 2 documents"
    );
    wait_for(&server, "知味观", &key, true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_request_opens_the_mini_program_that_serves_it() {
    let server = TestServer::sandbox(PLAZA);
    let app = health_app(&server).await;
    let service_key = format!("services:{}:核酸检测", app.appid);
    wait_for(&server, "核酸检测", &service_key, true).await;
    for q in ["附近 核酸", "核酸检测预约", "做核酸"] {
        let answer = search(&server, &[("q", q), ("explain", "true")])
            .await
            .json();
        let intent = &answer["intent"];
        assert_eq!(intent["kind"], "service", "{q}: {answer}");
        assert_eq!(intent["service"], "核酸检测", "{q}");
        assert_eq!(
            intent["document"]["link"],
            format!("/app/mp/{}", app.appid),
            "{q}"
        );
        let checks = answer["intent_checks"].as_array().unwrap();
        assert!(
            checks.iter().any(|c| c["check"] == "service"),
            "{q}: {checks:?}"
        );
    }
    // The operator's dictionary decides what counts as asking.
    let saved = server
        .admin_put(
            "/api/v1/admin/search/intents",
            &json!({ "entries": [{ "service": "核酸检测", "phrasings": ["捅喉咙"] }] }),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    let answer = search(&server, &[("q", "捅喉咙")]).await.json();
    assert_eq!(answer["intent"]["service"], "核酸检测", "{answer}");
    let refused = server
        .admin_put(
            "/api/v1/admin/search/intents",
            &json!({ "entries": [{ "service": "" }] }),
        )
        .await;
    refused.assert_error(400, "invalid_field");
    // An explanation shows the formula's factors for each result.
    let answer = search(&server, &[("q", "杭州"), ("explain", "true")])
        .await
        .json();
    let first = &answer["sections"][0]["hits"][0];
    assert!(first["explanation"]["formula"].is_string(), "{answer}");
    assert!(
        first["explanation"]["popularity"]["factor"].is_number(),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_queries_are_answered_and_bad_parameters_named() {
    let server = TestServer::sandbox(PLAZA);
    let shop = Merchant::create(&server, "茶颜悦色").await;
    let shop_key = format!("merchants:{}", shop.mchid);
    wait_for(&server, "茶颜", &shop_key, true).await;
    // 10,000 characters (percent-encoded Han characters would pass the URI's length
    // limit, so most are Latin).
    let long = format!("茶颜{}", "x".repeat(9_998));
    for q in [
        "",
        "   ",
        "\"",
        ":",
        "*",
        "(",
        "\"茶颜\":*(",
        "🍵🍵",
        "\u{7}茶颜\u{1b}",
        long.as_str(),
    ] {
        let reply = search(&server, &[("q", q)]).await;
        assert_eq!(reply.status, 200, "{q:?}: {}", reply.text);
    }
    let answer = search(&server, &[("q", long.as_str())]).await.json();
    assert_eq!(answer["cut"], true);
    assert_eq!(answer["query"].as_str().unwrap().chars().count(), 64);
    // Syntax characters are text, not syntax: the words between them still match.
    assert_eq!(found_keys(&server, "\"茶颜\":*(").await, [shop_key]);
    // Invalid UTF-8 in the query string is read, not refused.
    let reply = server.get("/api/v1/search?q=%FF%FE%E8%8C%B6").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    search(&server, &[("q", "茶"), ("section", "nowhere")])
        .await
        .assert_error(400, "invalid_field");
    search(
        &server,
        &[("q", "茶"), ("section", "merchants"), ("page", "999")],
    )
    .await
    .assert_error(400, "invalid_field");
    search(&server, &[("q", "茶"), ("page", "1")])
        .await
        .assert_error(400, "invalid_field");
    // Suggestions begin like what is typed, by pinyin too.
    let suggested = server.get("/api/v1/search/suggest?q=chay").await.json();
    assert_eq!(
        suggested["suggestions"][0]["text"], "茶颜悦色",
        "{suggested}"
    );
    let none = server.get("/api/v1/search/suggest?q=").await.json();
    assert_eq!(none["suggestions"], json!([]));
}
