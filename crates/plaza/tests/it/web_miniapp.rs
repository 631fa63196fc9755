//! Mini Programs in headless Chromium. `tests/web/miniapp.mjs`: a released package runs
//! in its sandboxed frame and checks what it can and cannot reach; it pays with
//! `wx.requestPayment` on the checkout sheet, a bad `paySign` is refused, a subscribe
//! consent is given, a banner ad is shown and tapped, and the message this test then
//! sends lands in Chats and opens its page. `tests/web/demo-miniapp.mjs`: `plaza demo`'s
//! booking mini program from its QR page to the paid booking and its notification.
//! `tests/web/miniapp-release.mjs`: a developer uploads and submits in the console, the
//! operator approves, the developer releases, a user runs the new version.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};

use plaza_testkit::TestServer;
use plaza_testkit::miniapp::{MiniProgram, errcode, upload_as_admin, wx_post, zip_of};
use plaza_testkit::pay::{Merchant, NotifySink, Payer, SinkMode};
use serde_json::json;

use crate::PLAZA;
use crate::web::{browser_ready, root};

/// The test package: `tests/web/miniapp/` as two pages with a tab bar.
fn test_package() -> Vec<u8> {
    let index = std::fs::read(root().join("tests/web/miniapp/index.html")).unwrap();
    let about = std::fs::read(root().join("tests/web/miniapp/about.html")).unwrap();
    let app_json = json!({
        "pages": ["pages/index/index", "pages/about/about"],
        "window": {"navigationBarTitleText": "核酸检测预约"},
        "tabBar": {"list": [
            {"pagePath": "pages/index/index", "text": "首页"},
            {"pagePath": "pages/about/about", "text": "关于"},
        ]},
    })
    .to_string();
    zip_of(&[
        ("app.json", app_json.as_bytes()),
        ("pages/index/index.html", &index),
        ("pages/about/about.html", &about),
    ])
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    plaza_browser_missing,
    ignore = "browser part skipped: needs node, tests/web/node_modules (npm ci --prefix tests/web) and chromium"
)]
async fn a_released_mini_program_runs_sandboxed_pays_and_notifies() {
    if !browser_ready() {
        return;
    }
    let server = TestServer::sandbox(PLAZA);
    server.pin_clock("10:00").await;
    let sink = NotifySink::start(SinkMode::Accept).await;
    let origin = sink.url.split('/').take(3).collect::<Vec<_>>().join("/");
    let developer = Payer::create(&server, "Dev Wang", 1).await;
    let app = MiniProgram::create_with(
        &server,
        &json!({"developer": developer.user_id, "name": "核酸检测预约", "request_domains": [origin]}),
    )
    .await;
    let merchant = Merchant::create_with(
        &server,
        &json!({"name": "城市检测中心", "appid": app.appid}),
    )
    .await;
    let bound = server
        .admin_put(
            &format!("/api/v1/admin/miniapps/{}/merchant", app.appid),
            &json!({"mchid": merchant.mchid}),
        )
        .await;
    assert_eq!(bound.status, 200, "{}", bound.text);

    // Upload, review, release.
    let uploaded = upload_as_admin(&server, &app.appid, test_package(), "1.0.0").await;
    assert_eq!(uploaded.status, 201, "{}", uploaded.text);
    let me = |path: &str| format!("/api/v1/me/miniapps/{}{path}", app.appid);
    developer
        .post(&server, &me("/versions/1/submit"), &json!({}))
        .await;
    server
        .admin_post(
            &format!("/api/v1/admin/miniapps/{}/review", app.appid),
            &json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(
        developer
            .post(&server, &me("/release"), &json!({}))
            .await
            .json()["release"],
        1
    );

    // The user, a JSAPI order made out to them, its paySign, and a template.
    let user = Payer::create(&server, "Xiao Ming", 10_000).await;
    let openid = user.openid(&server, &app.appid).await;
    let prepay = merchant
        .post_ok(
            &server,
            "/v3/pay/transactions/jsapi",
            &json!({
                "appid": app.appid, "mchid": merchant.mchid, "description": "核酸检测费",
                "out_trade_no": "MP-0001", "notify_url": sink.url,
                "amount": {"total": 500, "currency": "CNY"}, "payer": {"openid": openid},
            }),
        )
        .await;
    let package = format!("prepay_id={}", prepay["prepay_id"].as_str().unwrap());
    let (time_stamp, nonce) = ("1700000000", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS");
    let pay = json!({
        "timeStamp": time_stamp, "nonceStr": nonce, "package": package, "signType": "RSA",
        "paySign": merchant.pay_sign(&app.appid, time_stamp, nonce, &package),
    });
    let token = app.token(&server).await;
    let template = wx_post(
        &server,
        &format!("/wxaapi/newtmpl/addtemplate?access_token={token}"),
        &json!({"tid": "1001", "kidList": [1, 2, 3], "sceneDesc": "预约成功"}).to_string(),
    )
    .await;
    let template_id = template["priTmplId"].as_str().unwrap().to_owned();

    // An advertiser with a budget and a campaign, and a slot in the app.
    let advertiser = Merchant::create(&server, "奶茶店").await;
    server
        .admin_post(
            &format!("/api/v1/sandbox/merchants/{}/top-up", advertiser.mchid),
            &json!({"amount": 10_000, "request_id": "ads"}),
        )
        .await;
    let ads = format!("/api/v1/admin/ads/advertisers/{}", advertiser.mchid);
    server
        .admin_post(
            &format!("{ads}/top-up"),
            &json!({"amount_minor": 5_000, "request_id": "t1"}),
        )
        .await;
    let link = format!("/app/mp/{}/pages/about/about?from=ad", app.appid);
    let campaign = server
        .admin_post(
            &format!("{ads}/campaigns"),
            &json!({"title": "第二杯半价", "text": "门店限时", "link": link, "cpm_minor": 2_000, "cpc_minor": 20}),
        )
        .await;
    assert_eq!(campaign.status, 201, "{}", campaign.text);
    let slot = developer
        .post(&server, &me("/ad-slots"), &json!({"name": "首页底部"}))
        .await
        .json();
    let slot_id = slot["slot_id"].as_str().unwrap().to_owned();

    let query = format!(
        "sink={}&tmpl={}&slot={}&pay={}",
        plaza_http_encode(&origin),
        plaza_http_encode(&template_id),
        plaza_http_encode(&slot_id),
        plaza_http_encode(&pay.to_string())
    );
    let screenshots = root().join("target/screenshots");
    let mut child = Command::new("node")
        .arg(root().join("tests/web/miniapp.mjs"))
        .arg(&server.base_url)
        .arg(format!("/app/mp/{}?{query}", app.appid))
        .arg("Xiao Ming")
        .arg(&screenshots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let subscribed = loop {
        match lines_rx.recv_timeout(std::time::Duration::from_secs(90)) {
            Ok(line) if line == "SUBSCRIBED" => break true,
            Ok(line) => seen.push(line),
            Err(_) => break false,
        }
    };
    if !subscribed {
        let output = child.wait_with_output().unwrap();
        panic!(
            "the browser script stopped before the consent\n--- stdout\n{}\n--- stderr\n{}\n--- plaza log\n{}",
            seen.join("\n"),
            String::from_utf8_lossy(&output.stderr),
            server.log()
        );
    }
    // The ad: one impression and one click, 2 + 20 fen from the budget.
    let figures = developer.get(&server, &me("/ads")).await.json();
    assert_eq!(
        (
            figures["days"][0]["impressions"].clone(),
            figures["days"][0]["clicks"].clone()
        ),
        (json!(1), json!(1)),
        "{figures}"
    );
    assert_eq!(
        server.admin_get(&ads).await.json()["budget_minor"],
        5_000 - 22
    );
    // The paid order, and the message the consent allows.
    assert_eq!(
        merchant.order(&server, "MP-0001").await["trade_state"],
        "SUCCESS"
    );
    let sent = wx_post(
        &server,
        &format!("/cgi-bin/message/subscribe/send?access_token={token}"),
        &json!({
            "touser": openid, "template_id": template_id, "page": "pages/about/about?from=notice",
            "data": {"thing1": {"value": "核酸检测"}, "time2": {"value": "2026-12-08 09:30"}, "thing3": {"value": "市民中心采样点"}},
        })
        .to_string(),
    )
    .await;
    assert_eq!(errcode(&sent), 0, "{sent}");
    child.stdin.take().unwrap().write_all(b"sent\n").unwrap();
    let output = child.wait_with_output().unwrap();
    let rest: Vec<String> = lines_rx.try_iter().collect();
    assert!(
        output.status.success() && rest.iter().any(|line| line.contains("all checks passed")),
        "the browser script failed\n--- stdout\n{}\n{}\n--- stderr\n{}\n--- plaza log\n{}",
        seen.join("\n"),
        rest.join("\n"),
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    let from_miniapp = sink
        .received()
        .into_iter()
        .find(|request| request.body.contains("世界"))
        .expect("wx.request reached the allowed origin");
    assert!(
        from_miniapp
            .headers
            .iter()
            .any(|(name, value)| name == "referer"
                && value.starts_with(&format!("https://servicewechat.com/{}/1/", app.appid))),
        "with WeChat's Referer: {:?}",
        from_miniapp.headers
    );
}

/// Percent-encodes a query value.
fn plaza_http_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    plaza_browser_missing,
    ignore = "browser part skipped: needs node, tests/web/node_modules (npm ci --prefix tests/web) and chromium"
)]
async fn the_demo_mini_program_books_pays_and_notifies_through_its_own_back_end() {
    if !browser_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("demo.log");
    let mut demo = Command::new(PLAZA)
        .current_dir(dir.path())
        .args(["demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let stdout = demo.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    let (mut base, mut appid) = (None, None);
    while let Ok(line) = lines_rx.recv_timeout(std::time::Duration::from_secs(60)) {
        if let Some(rest) = line.split("is running at ").nth(1) {
            base = Some(rest.trim().to_owned());
        }
        if line.trim_start().starts_with("Mini program") {
            appid = line
                .split("/mp/")
                .nth(1)
                .and_then(|rest| rest.split('/').next())
                .map(str::to_owned);
        }
        let done = line.contains("Ctrl-C stops it");
        printed.push(line);
        if done {
            break;
        }
    }
    let (Some(base), Some(appid)) = (base, appid) else {
        let _ = demo.kill();
        panic!(
            "the demo did not greet\n{}\n--- log\n{}",
            printed.join("\n"),
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    };
    let screenshots = root().join("target/screenshots");
    let output = Command::new("node")
        .arg(root().join("tests/web/demo-miniapp.mjs"))
        .arg(&base)
        .arg(&appid)
        .arg(&screenshots)
        .output()
        .unwrap();
    let _ = demo.kill();
    let _ = demo.wait();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("all checks passed"),
        "the demo browser script failed\n--- stdout\n{stdout}\n--- stderr\n{}\n--- demo log\n{}",
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(&log_path).unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(
    plaza_browser_missing,
    ignore = "browser part skipped: needs node, tests/web/node_modules (npm ci --prefix tests/web) and chromium"
)]
async fn a_developer_uploads_the_operator_approves_and_users_get_the_new_version() {
    use plaza_testkit::miniapp::{package, release};
    if !browser_ready() {
        return;
    }
    let server = TestServer::sandbox(PLAZA);
    let developer = Payer::create(&server, "Dev Sun", 1).await;
    let _user = Payer::create(&server, "Reader Li", 1).await;
    let app = MiniProgram::create(&server, &developer.user_id, "新闻早读").await;
    release(
        &server,
        &app.appid,
        &developer.token,
        package("早读", "first release"),
    )
    .await;
    let zip = server.data_dir.join("v2.zip");
    std::fs::write(&zip, package("早读", "second release")).unwrap();
    let screenshots = root().join("target/screenshots");
    server.run_script(
        "the mini-program release browser test",
        Command::new("node")
            .arg(root().join("tests/web/miniapp-release.mjs"))
            .arg(&server.base_url)
            .arg(&app.appid)
            .arg(&zip)
            .arg("Dev Sun")
            .arg("Reader Li")
            .arg(&screenshots),
    );
}
