//! Search over the real binary: the index follows the outbox (a new thing, a rename, a
//! deletion), a reindex from the database gives the same answers, private things are
//! never indexed, a missing or corrupt index is rebuilt at start, events committed just
//! before a crash are caught up, intents lead to the serving mini program, and bad
//! queries are answered, not refused; the query log, hot searches and Search's users
//! are kept (also across a restart), and the search page and the operator's page work.

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
    // A mini program names the page each service opens; the card opens it there.
    let settings = format!("/api/v1/admin/miniapps/{}", app.appid);
    let saved = server
        .admin_patch(
            &settings,
            &json!({ "service_pages": { "核酸检测": "pages/book/book?service=核酸检测" } }),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    assert_eq!(
        saved.json()["service_pages"]["核酸检测"],
        "pages/book/book?service=核酸检测"
    );
    let link = format!("/app/mp/{}/pages/book/book?service=核酸检测", app.appid);
    eventually_linked(&server, "捅喉咙", &link).await;
    for (pages, why) in [
        (
            json!({ "打疫苗": "pages/index/index" }),
            "not one of service_keywords",
        ),
        (json!({ "核酸检测": "../secret" }), "is not a package page"),
        (json!({ "核酸检测": "pages/a b" }), "is not a package page"),
    ] {
        let refused = server
            .admin_patch(&settings, &json!({ "service_pages": pages }))
            .await;
        refused.assert_error(400, "invalid_field");
        assert!(refused.text.contains(why), "{}", refused.text);
    }
    // A keyword no longer declared loses its page.
    let saved = server
        .admin_patch(&settings, &json!({ "service_keywords": ["疫苗预约"] }))
        .await;
    assert_eq!(saved.json()["service_pages"], json!({}), "{}", saved.text);
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

/// Waits (bounded) until the intent card for `q` links `link`.
async fn eventually_linked(server: &TestServer, q: &str, link: &str) {
    plaza_testkit::eventually(&format!("{q:?} to open {link}"), || async {
        let answer = search(server, &[("q", q)]).await.json();
        (answer["intent"]["document"]["link"] == link).then_some(())
    })
    .await;
}

/// The stats an operator reads.
async fn stats(server: &TestServer) -> serde_json::Value {
    let reply = server.admin_get("/api/v1/admin/search/stats").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

fn hot_terms(hot: &serde_json::Value, window: &str) -> Vec<String> {
    hot[window]
        .as_array()
        .unwrap()
        .iter()
        .map(|term| term["q"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_query_log_hot_searches_and_search_users_are_kept() {
    let server = TestServer::sandbox(PLAZA);
    let pinned = server.pin_clock("10:00").await;
    let app = health_app(&server).await;
    // Waiting searches for the app's name, which no check below counts.
    wait_for(
        &server,
        "健康杭州",
        &format!("mini_programs:{}", app.appid),
        true,
    )
    .await;
    let people = [
        Payer::create(&server, "搜索者甲", 1).await,
        Payer::create(&server, "搜索者乙", 1).await,
        Payer::create(&server, "搜索者丙", 1).await,
    ];
    for person in &people {
        let reply = person.get(&server, "/api/v1/search?q=核酸检测").await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    // One person searching a term many times does not make it hot.
    for _ in 0..20 {
        people[0].get(&server, "/api/v1/search?q=刷榜").await;
    }
    // Anonymous searches are logged but vote for nothing.
    for _ in 0..5 {
        search(&server, &[("q", "疫苗预约")]).await;
    }
    search(&server, &[("q", "完全没有的东西")]).await;
    // A later page of a section is the same search, not another.
    search(
        &server,
        &[("q", "核酸"), ("section", "services"), ("page", "1")],
    )
    .await;

    let hot = server.get("/api/v1/search/hot").await.json();
    assert_eq!(hot_terms(&hot, "hour"), ["核酸检测"], "{hot}");
    assert_eq!(hot["hour"][0]["searchers"], 3, "{hot}");
    assert_eq!(hot["hour"][0]["searches"], 3, "{hot}");
    assert_eq!(hot_terms(&hot, "day"), ["核酸检测"]);
    assert_eq!(hot["min_searchers"], 3);

    let figures = stats(&server).await;
    assert_eq!(figures["users"]["daily_users"], 3, "{figures}");
    assert_eq!(figures["users"]["monthly_users"], 3, "{figures}");
    // Most searched first; 刷榜 found nothing either.
    let zero = figures["zero_result_queries"].as_array().unwrap();
    assert_eq!(zero[0]["q"], "刷榜", "{figures}");
    assert_eq!(zero[0]["searches"], 20);
    assert!(zero.iter().any(|query| query["q"] == "完全没有的东西"));
    assert!(!zero.iter().any(|query| query["q"] == "核酸检测"));

    let log = server
        .admin_get("/api/v1/admin/search/log?limit=2")
        .await
        .json();
    let newest = &log["searches"][0];
    assert_eq!(newest["q"], "完全没有的东西", "{log}");
    assert_eq!(newest["results"], 0);
    assert!(newest["searcher"].is_null(), "anonymous: {log}");
    assert_eq!(log["searches"][1]["q"], "疫苗预约");
    assert_eq!(log["searches"][1]["intent"], "疫苗预约", "{log}");
    let all = server
        .admin_get("/api/v1/admin/search/log?limit=500")
        .await
        .json();
    let logged = all["searches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|search| search["q"] != "健康杭州")
        .count();
    assert_eq!(logged, 3 + 20 + 5 + 1, "{all}");
    let refused = server.admin_get("/api/v1/admin/search/log?limit=0").await;
    refused.assert_error(400, "invalid_field");
    assert_eq!(
        server.get("/api/v1/admin/search/log").await.status,
        401,
        "the log is the operator's"
    );

    // The operator's controls: a higher bar, a pinned term, a blocked word.
    let saved = server
        .admin_put(
            "/api/v1/admin/search/hot",
            &json!({ "min_searchers": 1, "pinned": ["社保查询"], "blocked": ["刷"] }),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    let hot = server.get("/api/v1/search/hot").await.json();
    assert_eq!(hot_terms(&hot, "hour"), ["社保查询", "核酸检测"], "{hot}");
    assert_eq!(hot["hour"][0]["pinned"], true);
    let refused = server
        .admin_put("/api/v1/admin/search/hot", &json!({ "min_searchers": 0 }))
        .await;
    refused.assert_error(400, "invalid_field");
    assert!(refused.text.contains("min_searchers"), "{}", refused.text);

    // Everything survives a restart; a person searching again is not counted twice.
    let server = server.restart();
    people[1].get(&server, "/api/v1/search?q=核酸检测").await;
    let figures = stats(&server).await;
    assert_eq!(figures["users"]["daily_users"], 3, "{figures}");
    assert_eq!(hot_terms(&figures["hot"], "hour"), ["社保查询", "核酸检测"]);
    assert_eq!(figures["hot"]["hour"][1]["searches"], 4, "{figures}");

    // A day later: a new day's users; the hour and the day have passed.
    server.set_clock(pinned.at_ms + 86_400_000 + 60_000).await;
    people[2].get(&server, "/api/v1/search?q=疫苗").await;
    let figures = stats(&server).await;
    let users = &figures["users"];
    assert_eq!(users["daily_users"], 1, "{figures}");
    let days = users["last_days"].as_array().unwrap();
    assert_eq!(days.len(), 7);
    assert_eq!(days[5][1], 3, "yesterday: {figures}");
    let same_month = days[5][0].as_str().unwrap()[..7] == users["month"];
    let monthly = if same_month { 3 } else { 1 };
    assert_eq!(users["monthly_users"], monthly, "{figures}");
    assert_eq!(hot_terms(&figures["hot"], "hour"), ["社保查询", "疫苗"]);
    assert_eq!(hot_terms(&figures["hot"], "day"), ["社保查询", "疫苗"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_search_page_marks_matches_leads_to_services_and_pages_a_section() {
    let server = TestServer::sandbox(PLAZA);
    let app = health_app(&server).await;
    let developer = Payer::create(&server, "开发者小张", 1).await;
    let mut last = None;
    for n in 0..12 {
        last = Some(
            MiniProgram::create_with(
                &server,
                &json!({ "developer": developer.user_id, "name": format!("城市停车{n}号") }),
            )
            .await,
        );
    }
    let last = format!("mini_programs:{}", last.unwrap().appid);
    wait_for(&server, "城市停车11号", &last, true).await;
    wait_for(
        &server,
        "核酸",
        &format!("services:{}:核酸检测", app.appid),
        true,
    )
    .await;

    // The bar atop every tab opens the search page.
    let discover = server.get("/app/discover").await;
    assert!(
        discover.text.contains("action=\"/app/search\""),
        "{}",
        discover.text
    );
    assert!(discover.text.contains("id=\"entry-search\""));
    let empty = server.get("/app/search").await;
    assert_eq!(empty.status, 200);
    assert!(empty.text.contains("id=\"sr-hot\""), "{}", empty.text);

    // Pinyin finds the service and marks the characters it matched.
    let page = server.get("/app/search?q=hesuan").await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("id=\"sr-hits-services\""),
        "{}",
        page.text
    );
    assert!(page.text.contains("<mark>核酸</mark>检测"), "{}", page.text);
    // A service request shows the card that opens the mini program.
    let page = server.get("/app/search?q=核酸检测预约").await;
    assert!(
        page.text.contains(&format!(
            "id=\"sr-intent-open\" href=\"/app/mp/{}\"",
            app.appid
        )),
        "{}",
        page.text
    );
    // Nothing found: kindly said, with something to try.
    let page = server.get("/app/search?q=xyzzy完全没有").await;
    assert!(page.text.contains("没有找到"), "{}", page.text);

    // All sections show their first cards and a link to more; one section pages on.
    let page = server.get("/app/search?q=城市停车").await;
    assert_eq!(
        page.text.matches("class=\"sr-hit\"").count(),
        3,
        "{}",
        page.text
    );
    assert!(
        page.text.contains("section=mini_programs\">更多"),
        "{}",
        page.text
    );
    let page = server
        .get("/app/search?q=城市停车&section=mini_programs")
        .await;
    assert!(page.text.contains("id=\"sr-more\""), "{}", page.text);
    assert_eq!(page.text.matches("class=\"sr-hit\"").count(), 10);
    let more = server
        .get("/app/search/more?q=城市停车&section=mini_programs&page=1")
        .await;
    assert_eq!(more.status, 200);
    assert_eq!(
        more.text.matches("class=\"sr-hit\"").count(),
        2,
        "{}",
        more.text
    );
    assert!(more.header("x-next-page").is_none());
    let bad = server.get("/app/search/more?q=城市停车&page=1").await;
    assert_eq!(bad.status, 400);

    // The operator's page: the log, the users, hot searches and the dictionary.
    let cookie = server.operator_cookie().await;
    let console = server
        .operator_request(reqwest::Method::GET, "/console/search", &cookie, &[])
        .await;
    assert_eq!(console.status, 200);
    for id in [
        "search-dau",
        "search-mau",
        "hot-settings",
        "zero-results",
        "query-log",
        "save-intents",
    ] {
        assert!(
            console.text.contains(&format!("id=\"{id}\"")),
            "{id}: {}",
            console.text
        );
    }
    assert!(
        console.text.contains("xyzzy完全没有"),
        "the zero-result query is listed"
    );
    let saved = server
        .operator_request(
            reqwest::Method::POST,
            "/console/search/hot",
            &cookie,
            &[
                ("min_searchers", "2"),
                ("pinned", "核酸检测\n"),
                ("blocked", ""),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.text);
    let settings = server.admin_get("/api/v1/admin/search/hot").await.json();
    assert_eq!(
        settings,
        json!({ "min_searchers": 2, "blocked": [], "pinned": ["核酸检测"] })
    );
    let saved = server
        .operator_request(
            reqwest::Method::POST,
            "/console/search/intents",
            &cookie,
            &[(
                "dictionary",
                "核酸检测: 捅喉咙, 做核酸\n社保查询: 社保怎么查",
            )],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.text);
    let answer = search(&server, &[("q", "捅喉咙")]).await.json();
    assert_eq!(answer["intent"]["service"], "核酸检测", "{answer}");
    let anonymous = server
        .operator_request(reqwest::Method::GET, "/console/search", "x=y", &[])
        .await;
    assert_eq!(anonymous.status, 303, "the operator signs in first");
}

#[tokio::test(flavor = "multi_thread")]
async fn popularity_comes_from_followers_and_survives_a_change_and_a_reindex() {
    let server = TestServer::sandbox(PLAZA);
    let quiet = Creator::open(&server, "西湖美食探店", "lifestyle").await;
    let followed = Creator::open(&server, "西湖美食日记", "lifestyle").await;
    let quiet_key = format!("creators:{}", quiet.channel_id);
    let followed_key = format!("creators:{}", followed.channel_id);
    wait_for(&server, "西湖美食", &quiet_key, true).await;
    wait_for(&server, "西湖美食", &followed_key, true).await;
    for name in ["粉丝一", "粉丝二", "粉丝三"] {
        let fan = Payer::create(&server, name, 1).await;
        let path = format!("/api/v1/channels/{}/follow", followed.channel_id);
        let reply = fan.post(&server, &path, &json!({})).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    let refreshed = server
        .admin_post("/api/v1/admin/search/popularity", &json!({}))
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    assert!(
        refreshed.json()["changed"].as_u64().unwrap() >= 1,
        "{}",
        refreshed.text
    );

    let popularity_of = |answer: &serde_json::Value, key: &str| {
        answer["sections"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|section| section["hits"].as_array().unwrap().clone())
            .find(|hit| {
                format!(
                    "{}:{}",
                    hit["section"].as_str().unwrap(),
                    hit["id"].as_str().unwrap()
                ) == key
            })
            .map(|hit| hit["popularity"].clone())
    };
    let answer = search(&server, &[("q", "西湖美食"), ("explain", "true")])
        .await
        .json();
    assert_eq!(
        popularity_of(&answer, &followed_key),
        Some(json!(3)),
        "{answer}"
    );
    assert_eq!(popularity_of(&answer, &quiet_key), Some(json!(0)));
    let creators = &answer["sections"][0];
    assert_eq!(creators["section"], "creators");
    let first = &creators["hits"][0];
    assert_eq!(first["id"], followed.channel_id.as_str(), "{answer}");
    assert_eq!(first["explanation"]["popularity"]["count"], 3, "{answer}");

    // A renamed channel keeps its popularity; so does a reindex.
    let renamed = followed
        .person
        .patch(
            &server,
            "/api/v1/channels/me",
            &json!({ "name": "西湖美食日志" }),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    wait_for(&server, "美食日志", &followed_key, true).await;
    let answer = search(&server, &[("q", "西湖美食")]).await.json();
    assert_eq!(
        popularity_of(&answer, &followed_key),
        Some(json!(3)),
        "{answer}"
    );
    reindex(&server).await;
    let answer = search(&server, &[("q", "西湖美食")]).await.json();
    assert_eq!(
        popularity_of(&answer, &followed_key),
        Some(json!(3)),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mini_program_someone_used_ranks_higher_for_them() {
    let server = TestServer::sandbox(PLAZA);
    let developer = Payer::create(&server, "开发者老周", 1).await;
    let mut apps = Vec::new();
    for name in ["湖滨停车场", "湖滨停车位"] {
        apps.push(
            MiniProgram::create_with(
                &server,
                &json!({ "developer": developer.user_id, "name": name }),
            )
            .await,
        );
    }
    for app in &apps {
        wait_for(
            &server,
            "湖滨停车",
            &format!("mini_programs:{}", app.appid),
            true,
        )
        .await;
    }
    let user = Payer::create(&server, "常客小吴", 1).await;
    let used = &apps[1];
    let reply = user
        .post(
            &server,
            &format!("/api/v1/mp/{}/visit", used.appid),
            &json!({ "event": "open" }),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);

    let answer = user
        .get(&server, "/api/v1/search?q=湖滨停车&explain=true")
        .await
        .json();
    let hits = answer["sections"][0]["hits"].as_array().unwrap();
    assert_eq!(hits[0]["id"], used.appid.as_str(), "{answer}");
    assert_eq!(hits[0]["explanation"]["context"], 1.5, "{answer}");
    assert_eq!(hits[1]["explanation"]["context"], 1.0, "{answer}");
    // Anyone else sees no context; the visit is popularity once refreshed.
    let answer = search(&server, &[("q", "湖滨停车"), ("explain", "true")])
        .await
        .json();
    let hits = answer["sections"][0]["hits"].as_array().unwrap();
    assert!(hits.iter().all(|hit| hit["explanation"]["context"] == 1.0));
    server
        .admin_post("/api/v1/admin/search/popularity", &json!({}))
        .await;
    let answer = search(&server, &[("q", "湖滨停车")]).await.json();
    let hits = answer["sections"][0]["hits"].as_array().unwrap();
    assert_eq!(hits[0]["id"], used.appid.as_str(), "{answer}");
    assert_eq!(hits[0]["popularity"], 1, "{answer}");
}
