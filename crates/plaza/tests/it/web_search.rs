//! Search in headless Chromium (`tests/web/search.mjs`): pinyin typed in the bar atop
//! Discover, a suggestion picked, the intent card opening the serving mini program in
//! the container at the page it declared; screenshots at 390×844.

use std::process::Command;

use plaza_testkit::TestServer;
use plaza_testkit::miniapp::{MiniProgram, package, release};
use plaza_testkit::pay::Payer;
use plaza_testkit::search::wait_for;
use serde_json::json;

use crate::PLAZA;
use crate::web::{browser_ready, root};

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    plaza_browser_missing,
    ignore = "browser part skipped: needs node, tests/web/node_modules (npm ci --prefix tests/web) and chromium"
)]
async fn pinyin_a_suggestion_and_an_intent_card_open_the_mini_program() {
    if !browser_ready() {
        return;
    }
    let server = TestServer::sandbox(PLAZA);
    // The console counts today's searchers: keep the whole test inside one day.
    server.pin_clock("10:00").await;
    let developer = Payer::create(&server, "Dev Qian", 1).await;
    let app = MiniProgram::create_with(
        &server,
        &json!({
            "developer": developer.user_id,
            "name": "健康杭州",
            "category": "政务民生",
            "description": "核酸检测预约与疫苗接种查询",
            "service_keywords": ["核酸检测", "疫苗预约"],
            "service_pages": { "核酸检测": "pages/about/about" },
        }),
    )
    .await;
    release(
        &server,
        &app.appid,
        &developer.token,
        package("健康杭州", "home"),
    )
    .await;
    let _user = Payer::create(&server, "Searcher Zhou", 1).await;
    wait_for(
        &server,
        "核酸检测",
        &format!("services:{}:核酸检测", app.appid),
        true,
    )
    .await;
    // Three people searched it: trending.
    for name in ["甲", "乙", "丙"] {
        let person = Payer::create(&server, &format!("搜索者{name}"), 1).await;
        person.get(&server, "/api/v1/search?q=核酸检测").await;
    }
    server.run_script(
        "the search browser test",
        Command::new("node")
            .arg(root().join("tests/web/search.mjs"))
            .arg(&server.base_url)
            .arg(&app.appid)
            .arg("Searcher Zhou")
            .arg(root().join("target/screenshots")),
    );
}
