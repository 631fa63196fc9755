//! Mini Programs' server API and own API against the real binary: access tokens and
//! their ends, logins (`wx.login` codes exchanged through `jscode2session`), sessions,
//! AppSecret resets, developers and their apps, and WeChat's envelope for every
//! refusal.

use plaza_testkit::miniapp::{MiniProgram, errcode, login, wx_get, wx_post};
use plaza_testkit::pay::Payer;
use plaza_testkit::{ServerOptions, TestServer};
use serde_json::{Value, json};

use crate::PLAZA;

const MINUTE_MS: i64 = 60_000;

/// A sandbox pinned to 10:00 on a known day, a developer and one mini program.
async fn sandbox_with_app() -> (TestServer, Payer, MiniProgram) {
    let server = TestServer::sandbox(PLAZA);
    server.pin_clock("10:00").await;
    let developer = Payer::create(&server, "Dev", 1).await;
    let app = MiniProgram::create(&server, &developer.user_id, "核酸检测预约").await;
    (server, developer, app)
}

fn assert_errcode(answer: &Value, expected: i64) {
    assert_eq!(errcode(answer), expected, "{answer}");
    assert!(
        answer["errmsg"]
            .as_str()
            .is_some_and(|text| !text.is_empty()),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_checked_replaced_and_end_on_time() {
    let (server, _developer, app) = sandbox_with_app().await;
    let token_path = |grant: &str, appid: &str, secret: &str| {
        format!("/cgi-bin/token?grant_type={grant}&appid={appid}&secret={secret}")
    };
    let ok = wx_get(
        &server,
        &token_path("client_credential", &app.appid, &app.secret),
    )
    .await;
    assert!(
        ok.get("errcode").is_none(),
        "a token answer has no errcode: {ok}"
    );
    assert_eq!(ok["expires_in"], 7200);
    let first = ok["access_token"].as_str().unwrap().to_owned();
    assert!(first.len() >= 64);

    // Refusals, each HTTP 200 with WeChat's code.
    let other_secret = "0123456789abcdef0123456789abcdef";
    for (path, code) in [
        (token_path("password", &app.appid, &app.secret), 40002),
        (
            token_path("client_credential", "wx0000000000000000", &app.secret),
            40013,
        ),
        (
            format!(
                "/cgi-bin/token?grant_type=client_credential&secret={}",
                app.secret
            ),
            41002,
        ),
        (
            format!(
                "/cgi-bin/token?grant_type=client_credential&appid={}",
                app.appid
            ),
            41004,
        ),
        (
            token_path("client_credential", &app.appid, "not-a-secret"),
            40125,
        ),
        (
            token_path("client_credential", &app.appid, other_secret),
            40001,
        ),
    ] {
        assert_errcode(&wx_get(&server, &path).await, code);
    }

    // A call with the token works; without one, or with an unknown one, it does not.
    let check = |token: &str| {
        format!(
            "/wxa/checksession?access_token={token}&openid=o&signature=s&sig_method=hmac_sha256"
        )
    };
    assert_errcode(&wx_get(&server, &check(&first)).await, 87009);
    assert_errcode(&wx_get(&server, "/wxa/checksession?openid=o").await, 41001);
    assert_errcode(&wx_get(&server, &check("not-a-token")).await, 40014);

    // A new token: the first keeps working five minutes, then ends.
    let second = app.token(&server).await;
    assert_ne!(second, first);
    server.advance_clock(4 * MINUTE_MS).await;
    assert_errcode(&wx_get(&server, &check(&first)).await, 87009);
    server.advance_clock(2 * MINUTE_MS).await;
    assert_errcode(&wx_get(&server, &check(&first)).await, 42001);
    assert_errcode(&wx_get(&server, &check(&second)).await, 87009);
    // Two hours after issue the second ends too.
    server.advance_clock(115 * MINUTE_MS).await;
    assert_errcode(&wx_get(&server, &check(&second)).await, 42001);
}

#[tokio::test(flavor = "multi_thread")]
async fn stable_tokens_stay_until_forced_and_never_touch_plain_ones() {
    let (server, _developer, app) = sandbox_with_app().await;
    let body = |force: bool| {
        json!({"grant_type": "client_credential", "appid": app.appid, "secret": app.secret, "force_refresh": force}).to_string()
    };
    let first = wx_post(&server, "/cgi-bin/stable_token", &body(false)).await;
    let again = wx_post(&server, "/cgi-bin/stable_token", &body(false)).await;
    assert_eq!(
        first["access_token"], again["access_token"],
        "normal mode answers the same token"
    );
    assert!(again["expires_in"].as_i64().unwrap() <= 7200);
    let plain = app.token(&server).await;
    let still = wx_post(&server, "/cgi-bin/stable_token", &body(false)).await;
    assert_eq!(
        still["access_token"], first["access_token"],
        "/cgi-bin/token does not replace it"
    );
    let check = |token: &str| {
        format!(
            "/wxa/checksession?access_token={token}&openid=o&signature=s&sig_method=hmac_sha256"
        )
    };
    assert_errcode(&wx_get(&server, &check(&plain)).await, 87009);

    let forced = wx_post(&server, "/cgi-bin/stable_token", &body(true)).await;
    assert_ne!(forced["access_token"], first["access_token"]);
    assert_eq!(forced["expires_in"], 7200);
    // Forced again at once: refused, 30 s apart.
    assert_errcode(
        &wx_post(&server, "/cgi-bin/stable_token", &body(true)).await,
        45009,
    );
    let old = first["access_token"].as_str().unwrap();
    assert_errcode(&wx_get(&server, &check(old)).await, 87009);
    server.advance_clock(6 * MINUTE_MS).await;
    assert_errcode(&wx_get(&server, &check(old)).await, 42001);
    assert_errcode(&wx_get(&server, &check(&plain)).await, 87009);

    // Near its end (within five minutes) normal mode makes a new one.
    let current = forced["access_token"].as_str().unwrap();
    server.advance_clock(110 * MINUTE_MS).await;
    let renewed = wx_post(&server, "/cgi-bin/stable_token", &body(false)).await;
    assert_ne!(renewed["access_token"], current);

    // The envelope: an empty body, broken JSON, a wrong type.
    assert_errcode(&wx_post(&server, "/cgi-bin/stable_token", "").await, 44002);
    assert_errcode(&wx_post(&server, "/cgi-bin/stable_token", "{").await, 47001);
    let wrong_type = wx_post(
        &server,
        "/cgi-bin/stable_token",
        r#"{"force_refresh": "yes"}"#,
    )
    .await;
    assert_errcode(&wrong_type, 47001);
    assert!(
        wrong_type["errmsg"]
            .as_str()
            .unwrap()
            .contains("force_refresh"),
        "{wrong_type}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daily_token_quota_is_45009_until_the_next_day() {
    let server = ServerOptions::new(PLAZA)
        .sandbox()
        .arg("--miniapp-token-daily-max")
        .arg("3")
        .start();
    server.pin_clock("10:00").await;
    let developer = Payer::create(&server, "Dev", 1).await;
    let app = MiniProgram::create(&server, &developer.user_id, "Quota").await;
    for _ in 0..3 {
        app.token(&server).await;
    }
    let path = format!(
        "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        app.appid, app.secret
    );
    assert_errcode(&wx_get(&server, &path).await, 45009);
    server.advance_clock(24 * 60 * MINUTE_MS).await;
    assert!(wx_get(&server, &path).await["access_token"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_code_works_once_even_across_a_restart_and_only_for_five_minutes() {
    let (server, developer, app) = sandbox_with_app().await;
    let user = Payer::create(&server, "Alice", 1).await;
    let code = app.login_code(&server, &user.token).await;
    let session = app.code_to_session(&server, &code).await;
    assert!(session.get("errcode").is_none(), "{session}");
    let openid = session["openid"].as_str().unwrap().to_owned();
    assert_eq!(openid.len(), 28);
    let key = session["session_key"].as_str().unwrap();
    use base64::Engine as _;
    let key_bytes = base64::engine::general_purpose::STANDARD
        .decode(key)
        .unwrap();
    assert_eq!(key_bytes.len(), 16, "session_key is base64 of 16 bytes");
    assert_errcode(&app.code_to_session(&server, &code).await, 40163);

    // The spent code is durable: after a restart it is still spent.
    let server = server.restart();
    assert_errcode(&app.code_to_session(&server, &code).await, 40163);

    // A fresh code: same openid, a new session key; the old session's signature fails.
    let old_key = key.to_owned();
    let next = app
        .code_to_session(&server, &app.login_code(&server, &user.token).await)
        .await;
    assert_eq!(next["openid"], openid.as_str());
    assert_ne!(next["session_key"], old_key.as_str());
    let token = app.token(&server).await;
    let check = |key: &str| {
        format!(
            "/wxa/checksession?access_token={token}&openid={openid}&signature={}&sig_method=hmac_sha256",
            hmac_hex(key)
        )
    };
    assert_errcode(
        &wx_get(&server, &check(next["session_key"].as_str().unwrap())).await,
        0,
    );
    assert_errcode(&wx_get(&server, &check(&old_key)).await, 87009);

    // Five minutes: a code older than that is invalid.
    let late = app.login_code(&server, &user.token).await;
    server.advance_clock(5 * MINUTE_MS + 1_000).await;
    assert_errcode(&app.code_to_session(&server, &late).await, 40029);

    // Garbage, another app's code, a missing code, wrong credentials.
    assert_errcode(&app.code_to_session(&server, "081abcdefghijk").await, 40029);
    let other = MiniProgram::create(&server, &developer.user_id, "另一个").await;
    let foreign = other.login_code(&server, &user.token).await;
    assert_errcode(&app.code_to_session(&server, &foreign).await, 40029);
    assert!(
        other.code_to_session(&server, &foreign).await["openid"].is_string(),
        "not spent by the refusal"
    );
    let path = format!(
        "/sns/jscode2session?appid={}&secret={}&grant_type=authorization_code",
        app.appid, app.secret
    );
    assert_errcode(&wx_get(&server, &path).await, 41008);
    let fresh = app.login_code(&server, &user.token).await;
    let wrong = format!(
        "/sns/jscode2session?appid={}&secret=0123456789abcdef0123456789abcdef&js_code={fresh}&grant_type=authorization_code",
        app.appid
    );
    assert_errcode(&wx_get(&server, &wrong).await, 40125);
    assert!(
        app.code_to_session(&server, &fresh).await["openid"].is_string(),
        "a refused exchange spends nothing"
    );

    // wx.login needs a signed-in user and a real app.
    login(&server, &app.appid, "pzu_unknown")
        .await
        .assert_error(401, "unauthorized");
    login(&server, "wx0000000000000000", &user.token)
        .await
        .assert_error(404, "miniapp_not_found");
}

fn hmac_hex(key: &str) -> String {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA256, key.as_bytes());
    hmac::sign(&key, b"")
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn openids_are_per_app_and_unionids_per_developer_account() {
    let (server, developer, first) = sandbox_with_app().await;
    let second = MiniProgram::create(&server, &developer.user_id, "疫苗预约").await;
    let stranger = Payer::create(&server, "Other Dev", 1).await;
    let foreign = MiniProgram::create(&server, &stranger.user_id, "社保查询").await;
    assert_eq!(first.developer_id, second.developer_id);
    assert_ne!(first.developer_id, foreign.developer_id);

    let user = Payer::create(&server, "Bob", 1).await;
    let session = |app: &MiniProgram| {
        let app = app.clone();
        let server = &server;
        let token = user.token.clone();
        async move {
            app.code_to_session(server, &app.login_code(server, &token).await)
                .await
        }
    };
    let a = session(&first).await;
    let b = session(&second).await;
    let c = session(&foreign).await;
    assert_ne!(a["openid"], b["openid"], "openids differ across apps");
    assert_eq!(
        a["unionid"], b["unionid"],
        "one developer account, one unionid"
    );
    assert_ne!(
        a["unionid"], c["unionid"],
        "another developer account, another unionid"
    );
    assert_ne!(a["unionid"], a["openid"]);
    // The openid is the one Pay knows the user by in this app (JSAPI payers).
    let pay_openid = user.openid(&server, &first.appid).await;
    assert_eq!(a["openid"], pay_openid.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_secret_is_dead_at_once_and_tokens_already_issued_keep_working() {
    let (server, developer, app) = sandbox_with_app().await;
    let token = app.token(&server).await;
    let reset = developer
        .post(
            &server,
            &format!("/api/v1/me/miniapps/{}/secret", app.appid),
            &json!({}),
        )
        .await;
    assert_eq!(reset.status, 200, "{}", reset.text);
    let new_secret = reset.json()["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, app.secret);
    let path = |secret: &str| {
        format!(
            "/cgi-bin/token?grant_type=client_credential&appid={}&secret={secret}",
            app.appid
        )
    };
    assert_errcode(&wx_get(&server, &path(&app.secret)).await, 40001);
    assert!(wx_get(&server, &path(&new_secret)).await["access_token"].is_string());
    let check = format!(
        "/wxa/checksession?access_token={token}&openid=o&signature=s&sig_method=hmac_sha256"
    );
    assert_errcode(&wx_get(&server, &check).await, 87009);
    // The secret is shown at creation and reset only.
    let shown = server
        .admin_get(&format!("/api/v1/admin/miniapps/{}", app.appid))
        .await;
    assert!(shown.json().get("secret").is_none(), "{}", shown.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn developers_manage_only_their_own_apps() {
    let server = TestServer::sandbox(PLAZA);
    let dev = Payer::create(&server, "Dev", 1).await;
    let other = Payer::create(&server, "Other", 1).await;
    let tester = Payer::create(&server, "Tester", 1).await;

    let body = json!({"name": "My App"});
    dev.post(&server, "/api/v1/me/miniapps", &body)
        .await
        .assert_error(403, "not_a_developer");
    let developer = dev.post(&server, "/api/v1/me/developer", &json!({})).await;
    assert_eq!(developer.status, 200, "{}", developer.text);
    let again = dev.post(&server, "/api/v1/me/developer", &json!({})).await;
    assert_eq!(
        again.json()["developer_id"],
        developer.json()["developer_id"],
        "one account per user"
    );

    let created = dev
        .post(
            &server,
            "/api/v1/me/miniapps",
            &json!({
                "name": "挂号",
                "category": "医疗",
                "description": "预约挂号",
                "service_keywords": ["挂号", "预约"],
                "request_domains": ["https://API.clinic.example/", "http://127.0.0.1:9000"],
                "testers": [tester.user_id],
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let app = created.json();
    let appid = app["appid"].as_str().unwrap().to_owned();
    assert!(appid.starts_with("wx") && appid.len() == 18);
    assert_eq!(app["secret"].as_str().unwrap().len(), 32);
    assert_eq!(
        app["request_domains"],
        json!(["https://api.clinic.example", "http://127.0.0.1:9000"])
    );
    assert_eq!(app["developer_id"], developer.json()["developer_id"]);

    // Bad fields are named and change nothing.
    for (body, field) in [
        (json!({"request_domains": ["ftp://x"]}), "request_domains"),
        (json!({"name": ""}), "name"),
        (json!({"testers": ["u-nobody"]}), "testers"),
        (
            json!({"service_keywords": ["a","b","c","d","e","f","g","h","i","j","k"]}),
            "service_keywords",
        ),
    ] {
        let reply = dev
            .patch(&server, &format!("/api/v1/me/miniapps/{appid}"), &body)
            .await;
        reply.assert_error(400, "invalid_field");
        assert!(reply.text.contains(field), "{}", reply.text);
    }
    let updated = dev
        .patch(
            &server,
            &format!("/api/v1/me/miniapps/{appid}"),
            &json!({"description": "预约挂号与缴费"}),
        )
        .await;
    assert_eq!(updated.status, 200, "{}", updated.text);
    assert_eq!(updated.json()["description"], "预约挂号与缴费");
    assert_eq!(
        updated.json()["service_keywords"],
        json!(["挂号", "预约"]),
        "untouched fields stay"
    );

    // Another user's developer account cannot see or change it.
    other
        .post(&server, "/api/v1/me/developer", &json!({}))
        .await;
    other
        .get(&server, &format!("/api/v1/me/miniapps/{appid}"))
        .await
        .assert_error(403, "not_your_miniapp");
    other
        .post(
            &server,
            &format!("/api/v1/me/miniapps/{appid}/secret"),
            &json!({}),
        )
        .await
        .assert_error(403, "not_your_miniapp");
    let mine = dev.get(&server, "/api/v1/me/miniapps").await.json();
    assert_eq!(mine["miniapps"].as_array().unwrap().len(), 1);
    let theirs = other.get(&server, "/api/v1/me/miniapps").await.json();
    assert_eq!(theirs["miniapps"], json!([]));
    let listed = server.admin_get("/api/v1/admin/miniapps").await.json();
    assert_eq!(listed["miniapps"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_binds_a_merchant_that_takes_its_payments() {
    let (server, _developer, app) = sandbox_with_app().await;
    let created = server
        .admin_post("/api/v1/admin/merchants", &json!({"name": "检测机构"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let mchid = created.json()["mchid"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/admin/miniapps/{}/merchant", app.appid);
    server
        .admin_put(&path, &json!({"mchid": "1999999999"}))
        .await
        .assert_error(400, "invalid_field");
    let bound = server.admin_put(&path, &json!({"mchid": mchid})).await;
    assert_eq!(bound.status, 200, "{}", bound.text);
    assert_eq!(bound.json()["mchid"], mchid.as_str());
    let merchant = server
        .admin_get(&format!("/api/v1/admin/merchants/{mchid}"))
        .await
        .json();
    assert!(
        merchant["appids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|appid| appid == app.appid.as_str()),
        "the appid is bound to the merchant in Pay: {merchant}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_api_answers_under_wechats_host_name_only_with_its_own_paths() {
    let (server, _developer, app) = sandbox_with_app().await;
    let client = plaza_testkit::http_client();
    let url = format!(
        "{}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        server.base_url, app.appid, app.secret
    );
    let answer: Value = client
        .get(&url)
        .header("host", "api.weixin.qq.com")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer["access_token"].is_string(), "{answer}");
    let own = client
        .get(format!("{}/api/v1/admin/miniapps", server.base_url))
        .header("host", "api.weixin.qq.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        own.status(),
        404,
        "Plaza's own API is not under WeChat's host"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscribe_message_needs_one_consent_matching_data_and_lands_in_service_notifications() {
    let (server, _developer, app) = sandbox_with_app().await;
    let token = app.token(&server).await;
    let wx = |path: &str| format!("{path}?access_token={token}");

    // The library and its keywords.
    let titles = wx_get(&server, &wx("/wxaapi/newtmpl/getpubtemplatetitles")).await;
    assert_errcode(&titles, 0);
    assert!(
        titles["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["title"] == "预约成功通知")
    );
    let keywords = wx_get(
        &server,
        &format!("{}&tid=1001", wx("/wxaapi/newtmpl/getpubtemplatekeywords")),
    )
    .await;
    assert_eq!(keywords["data"][1]["rule"], "time");
    assert_errcode(
        &wx_get(
            &server,
            &format!("{}&tid=9", wx("/wxaapi/newtmpl/getpubtemplatekeywords")),
        )
        .await,
        200_014,
    );

    // An app's template: tid, 2–5 keywords, a scene.
    let add = |body: Value| {
        let server = &server;
        let url = wx("/wxaapi/newtmpl/addtemplate");
        async move { wx_post(server, &url, &body.to_string()).await }
    };
    assert_errcode(
        &add(json!({"tid": "77", "kidList": [1, 2], "sceneDesc": "预约"})).await,
        200_014,
    );
    assert_errcode(
        &add(json!({"tid": "1001", "kidList": [1], "sceneDesc": "预约"})).await,
        200_020,
    );
    assert_errcode(
        &add(json!({"tid": "1001", "kidList": [1, 9], "sceneDesc": "预约"})).await,
        200_020,
    );
    assert_errcode(
        &add(json!({"tid": "1001", "kidList": [1, 2], "sceneDesc": ""})).await,
        200_021,
    );
    let added =
        add(json!({"tid": "1001", "kidList": [1, 2, 3, 4], "sceneDesc": "预约成功后通知"})).await;
    assert_errcode(&added, 0);
    let template_id = added["priTmplId"].as_str().unwrap().to_owned();
    let listed = wx_get(&server, &wx("/wxaapi/newtmpl/gettemplate")).await;
    assert_eq!(listed["data"][0]["priTmplId"], template_id.as_str());
    assert_eq!(
        listed["data"][0]["content"],
        "预约项目:{{thing1.DATA}}\n预约时间:{{time2.DATA}}\n预约地点:{{thing3.DATA}}\n预约人:{{name4.DATA}}"
    );

    // A user of the app: known by the openid jscode2session gave the back end.
    let user = Payer::create(&server, "Carol", 1).await;
    let openid = app
        .code_to_session(&server, &app.login_code(&server, &user.token).await)
        .await["openid"]
        .as_str()
        .unwrap()
        .to_owned();
    let data = json!({
        "thing1": {"value": "核酸检测"},
        "time2": {"value": "2026年12月8日 09:30"},
        "thing3": {"value": "市民中心采样点"},
        "name4": {"value": "张三"},
    });
    let send = |touser: &str, template: &str, data: &Value| {
        let body = json!({"touser": touser, "template_id": template, "page": "pages/booking/detail?id=7", "data": data});
        let server = &server;
        let url = wx("/cgi-bin/message/subscribe/send");
        async move { wx_post(server, &url, &body.to_string()).await }
    };
    assert_errcode(&send(&openid, &template_id, &data).await, 43101);

    let consent = |accept: Vec<&str>, reject: Vec<&str>| {
        let server = &server;
        let user = &user;
        let path = format!("/api/v1/mp/{}/subscribe", app.appid);
        let body = json!({"accept": accept, "reject": reject});
        async move { user.post(server, &path, &body).await }
    };
    let answer = consent(vec![&template_id], vec![]).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()[template_id.as_str()], "accept");
    assert_eq!(answer.json()["errMsg"], "requestSubscribeMessage:ok");
    consent(vec!["not-a-template"], vec![])
        .await
        .assert_error(400, "invalid_field");

    // Data that does not match the template: named, nothing spent.
    let mut wrong_time = data.clone();
    wrong_time["time2"] = json!({"value": "明天上午"});
    let refused = send(&openid, &template_id, &wrong_time).await;
    assert_errcode(&refused, 47003);
    assert!(
        refused["errmsg"]
            .as_str()
            .unwrap()
            .contains("data.time2.value invalid"),
        "{refused}"
    );
    let mut missing = data.clone();
    missing.as_object_mut().unwrap().remove("name4");
    assert!(
        send(&openid, &template_id, &missing).await["errmsg"]
            .as_str()
            .unwrap()
            .contains("name4")
    );
    let mut extra = data.clone();
    extra["thing9"] = json!({"value": "x"});
    assert_errcode(&send(&openid, &template_id, &extra).await, 47003);
    assert_errcode(&send(&openid, "no-such-template", &data).await, 40037);
    assert_errcode(
        &send("oUnknownOpenid000000000000000", &template_id, &data).await,
        40003,
    );

    // One consent, one message.
    let sent = send(&openid, &template_id, &data).await;
    assert_errcode(&sent, 0);
    assert!(
        sent["msgid"].as_str().is_some_and(|id| id.len() == 19),
        "{sent}"
    );
    assert_errcode(&send(&openid, &template_id, &data).await, 43101);
    // Two consents, two messages; a rejection adds none.
    consent(vec![&template_id], vec![]).await;
    consent(vec![], vec![&template_id]).await;
    consent(vec![&template_id], vec![]).await;
    assert_errcode(&send(&openid, &template_id, &data).await, 0);
    assert_errcode(&send(&openid, &template_id, &data).await, 0);
    assert_errcode(&send(&openid, &template_id, &data).await, 43101);

    // The user's service notifications: newest first, rows in the template's order.
    let notifications = user.get(&server, "/api/v1/me/notifications").await.json();
    let list = notifications["notifications"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["title"], "预约成功通知");
    assert_eq!(list[0]["app_name"], "核酸检测预约");
    assert_eq!(
        list[0]["rows"][1],
        json!({"name": "预约时间", "value": "2026年12月8日 09:30"})
    );
    assert_eq!(
        list[0]["link"],
        format!("/app/mp/{}/pages/booking/detail?id=7", app.appid)
    );
    // …and in Chats.
    let page = plaza_testkit::http_client()
        .get(format!(
            "{}/app/chats/service-notifications",
            server.base_url
        ))
        .header("cookie", format!("plaza_session={}", user.token))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("预约成功通知") && page.contains("市民中心采样点"),
        "{page}"
    );
    let chats = plaza_testkit::http_client()
        .get(format!("{}/app", server.base_url))
        .header("cookie", format!("plaza_session={}", user.token))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(chats.contains("服务通知"), "Chats lists the conversation");

    // A deleted template sends nothing and takes no consent.
    let deleted = wx_post(
        &server,
        &wx("/wxaapi/newtmpl/deltemplate"),
        &json!({"priTmplId": template_id}).to_string(),
    )
    .await;
    assert_errcode(&deleted, 0);
    assert_errcode(&send(&openid, &template_id, &data).await, 40037);
    consent(vec![&template_id], vec![])
        .await
        .assert_error(400, "invalid_field");
    assert_eq!(
        wx_get(&server, &wx("/wxaapi/newtmpl/gettemplate")).await["data"],
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn code_versions_go_through_review_release_and_one_rollback() {
    use plaza_testkit::miniapp::{package, upload_as, zip_of};
    let server = TestServer::sandbox(PLAZA);
    let dev = Payer::create(&server, "Dev", 1).await;
    let stranger = Payer::create(&server, "Stranger", 1).await;
    dev.post(&server, "/api/v1/me/developer", &json!({})).await;
    let created = dev
        .post(&server, "/api/v1/me/miniapps", &json!({"name": "预约"}))
        .await
        .json();
    let appid = created["appid"].as_str().unwrap().to_owned();
    let me = |path: &str| format!("/api/v1/me/miniapps/{appid}{path}");

    let first = upload_as(&server, &dev.token, &appid, package("预约", "v1"), "1.0.0").await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.json()["version"], 1);
    assert_eq!(
        first.json()["pages"],
        json!(["pages/index/index", "pages/about/about"])
    );
    assert_eq!(first.json()["window_title"], "预约");

    // Bad packages: named, and nothing recorded.
    let page: (&str, &[u8]) = ("pages/index/index.html", b"x");
    for (zip, needle) in [
        (zip_of(&[page]), "no app.json"),
        (
            zip_of(&[("app.json", br#"{"pages": "x"}"#), page]),
            "app.json: pages",
        ),
        (
            zip_of(&[
                ("app.json", br#"{"pages": ["pages/index/index"]}"#),
                page,
                ("../up.html", b"x"),
            ]),
            "../up.html",
        ),
        (b"PK not really".to_vec(), "not a zip"),
    ] {
        let refused = upload_as(&server, &dev.token, &appid, zip, "1.0.1").await;
        refused.assert_error(400, "package_invalid");
        assert!(refused.text.contains(needle), "{needle}: {}", refused.text);
    }
    let noise: Vec<u8> = (0..2 * 1024 * 1024 + 10)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    upload_as(&server, &dev.token, &appid, noise, "1.0.1")
        .await
        .assert_error(413, "package_too_large");
    upload_as(&server, &stranger.token, &appid, package("x", "x"), "9")
        .await
        .assert_error(403, "not_a_developer");
    let listed = dev.get(&server, &me("/versions")).await.json();
    assert_eq!(
        listed["versions"].as_array().unwrap().len(),
        1,
        "refusals recorded nothing"
    );

    // Trial, review, decision, release.
    assert_eq!(
        dev.post(&server, &me("/versions/1/trial"), &json!({}))
            .await
            .json()["trial"],
        1
    );
    dev.post(&server, &me("/versions/9/submit"), &json!({}))
        .await
        .assert_error(404, "version_not_found");
    let submitted = dev
        .post(&server, &me("/versions/1/submit"), &json!({}))
        .await
        .json();
    assert_eq!(submitted["audit"]["status"], "auditing");
    dev.post(&server, &me("/versions/1/submit"), &json!({}))
        .await
        .assert_error(409, "version_state");
    dev.post(&server, &me("/release"), &json!({}))
        .await
        .assert_error(409, "version_state");
    let reviews = server
        .admin_get("/api/v1/admin/miniapp-reviews")
        .await
        .json();
    assert_eq!(reviews["reviews"][0]["appid"], appid.as_str());
    assert_eq!(reviews["reviews"][0]["version"]["user_version"], "1.0.0");
    let review = format!("/api/v1/admin/miniapps/{appid}/review");
    server
        .admin_post(&review, &json!({"decision": "reject"}))
        .await
        .assert_error(400, "invalid_field");
    let rejected = server
        .admin_post(
            &review,
            &json!({"decision": "reject", "reason": "首页缺少隐私说明"}),
        )
        .await;
    assert_eq!(
        rejected.json()["audit"]["status"],
        "rejected",
        "{}",
        rejected.text
    );
    assert_eq!(rejected.json()["audit"]["reason"], "首页缺少隐私说明");
    assert_eq!(
        server
            .admin_get("/api/v1/admin/miniapp-reviews")
            .await
            .json()["reviews"],
        json!([])
    );
    dev.post(&server, &me("/release"), &json!({}))
        .await
        .assert_error(409, "version_state");

    let second = upload_as(&server, &dev.token, &appid, package("预约", "v2"), "1.0.1")
        .await
        .json();
    assert_eq!(second["version"], 2);
    dev.post(&server, &me("/versions/2/submit"), &json!({}))
        .await;
    server
        .admin_post(&review, &json!({"decision": "approve"}))
        .await;
    let released = dev.post(&server, &me("/release"), &json!({})).await.json();
    assert_eq!(released["release"], 2);
    assert_eq!(released["previous_release"], Value::Null);

    upload_as(&server, &dev.token, &appid, package("预约", "v3"), "1.1.0").await;
    dev.post(&server, &me("/versions/3/submit"), &json!({}))
        .await;
    server
        .admin_post(&review, &json!({"decision": "approve"}))
        .await;
    let third = dev.post(&server, &me("/release"), &json!({})).await.json();
    assert_eq!(
        (third["release"].clone(), third["previous_release"].clone()),
        (json!(3), json!(2))
    );
    let back = dev.post(&server, &me("/rollback"), &json!({})).await.json();
    assert_eq!(
        (back["release"].clone(), back["previous_release"].clone()),
        (json!(2), Value::Null)
    );
    dev.post(&server, &me("/rollback"), &json!({}))
        .await
        .assert_error(409, "version_state");

    // All of it survives a restart.
    let server = server.restart();
    let listed = dev.get(&server, &me("/versions")).await.json();
    assert_eq!(listed["state"]["release"], 2);
    assert_eq!(listed["versions"].as_array().unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn phone_numbers_go_to_the_back_end_once_with_the_users_consent() {
    let (server, _developer, app) = sandbox_with_app().await;
    let token = app.token(&server).await;
    let user = Payer::create(&server, "Dora", 1).await;
    let phone_path = format!("/api/v1/mp/{}/phone", app.appid);
    let without = user.post(&server, &phone_path, &json!({})).await;
    assert_eq!(without.status, 400);
    assert_eq!(
        without.json()["errMsg"],
        "getPhoneNumber:fail the user has no phone number"
    );
    user.put(&server, "/api/v1/me/phone", &json!({"phone": "12"}))
        .await
        .assert_error(400, "invalid_field");
    let set = user
        .put(
            &server,
            "/api/v1/me/phone",
            &json!({"phone": "138-0013-8000"}),
        )
        .await;
    assert_eq!(set.json()["phone"], "13800138000", "{}", set.text);

    let code = user.post(&server, &phone_path, &json!({})).await.json()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let exchange = |code: &str| {
        let body = json!({"code": code}).to_string();
        let server = &server;
        let url = format!("/wxa/business/getuserphonenumber?access_token={token}");
        async move { wx_post(server, &url, &body).await }
    };
    let info = exchange(&code).await;
    assert_errcode(&info, 0);
    assert_eq!(info["phone_info"]["phoneNumber"], "13800138000");
    assert_eq!(info["phone_info"]["purePhoneNumber"], "13800138000");
    assert_eq!(info["phone_info"]["countryCode"], "86");
    assert_eq!(info["phone_info"]["watermark"]["appid"], app.appid.as_str());
    assert_errcode(&exchange(&code).await, 40163);
    // A login code is no phone code, nor is garbage; no code is 41008.
    let login_code = app.login_code(&server, &user.token).await;
    assert_errcode(&exchange(&login_code).await, 40029);
    assert_errcode(&exchange("nonsense").await, 40029);
    assert_errcode(&exchange("").await, 41008);
    // And a phone code is no login code.
    let phone_code = user.post(&server, &phone_path, &json!({})).await.json()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_errcode(&app.code_to_session(&server, &phone_code).await, 40029);
}

#[tokio::test(flavor = "multi_thread")]
async fn msg_sec_check_applies_the_operators_word_list() {
    let (server, _developer, app) = sandbox_with_app().await;
    let token = app.token(&server).await;
    let words = server
        .admin_put(
            "/api/v1/admin/miniapp-words",
            &json!({"words": [
                {"word": "代开发票", "label": 20006},
                {"word": "加微信", "label": 10001, "risky": false},
            ]}),
        )
        .await;
    assert_eq!(words.status, 200, "{}", words.text);
    server
        .admin_put(
            "/api/v1/admin/miniapp-words",
            &json!({"words": [{"word": "x", "label": 1}]}),
        )
        .await
        .assert_error(400, "invalid_field");
    let check = |body: Value| {
        let server = &server;
        let url = format!("/wxa/msg_sec_check?access_token={token}");
        async move { wx_post(server, &url, &body.to_string()).await }
    };
    assert_errcode(&check(json!({"content": "预约核酸检测"})).await, 0);
    assert_errcode(&check(json!({"content": "专业 代开 发票"})).await, 87014);
    let v2 = |content: &str| json!({"version": 2, "openid": "oX", "scene": 2, "content": content});
    let pass = check(v2("明天上午九点")).await;
    assert_eq!(pass["result"], json!({"suggest": "pass", "label": 100}));
    assert!(pass["trace_id"].as_str().is_some_and(|id| !id.is_empty()));
    let review = check(v2("有事加微信")).await;
    assert_eq!(
        review["result"],
        json!({"suggest": "review", "label": 10001})
    );
    assert_eq!(review["detail"][0]["keyword"], "加微信");
    let risky = check(
        json!({"version": 2, "openid": "oX", "scene": 1, "content": "hi", "nickname": "代开发票"}),
    )
    .await;
    assert_eq!(risky["result"], json!({"suggest": "risky", "label": 20006}));
    assert_errcode(
        &check(json!({"version": 2, "scene": 1, "content": "hi"})).await,
        40003,
    );
    assert_errcode(
        &check(json!({"version": 2, "openid": "oX", "scene": 9, "content": "hi"})).await,
        47001,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn datacube_counts_yesterdays_visits_from_the_container() {
    let (server, developer, app) = sandbox_with_app().await;
    let alice = Payer::create(&server, "Alice", 1).await;
    let bob = Payer::create(&server, "Bob", 1).await;
    let visit = |user: &Payer, body: Value| {
        let server = &server;
        let path = format!("/api/v1/mp/{}/visit", app.appid);
        let user = user.clone();
        async move {
            let reply = user.post(server, &path, &body).await;
            assert_eq!(reply.status, 204, "{}", reply.text);
        }
    };
    // Day one: Alice opens twice (three pages in all), Bob once; 90 s spent.
    visit(&alice, json!({"event": "open"})).await;
    visit(&alice, json!({"event": "page"})).await;
    visit(&alice, json!({"event": "leave", "stay_ms": 60_000})).await;
    visit(&alice, json!({"event": "open"})).await;
    visit(&bob, json!({"event": "open"})).await;
    visit(&bob, json!({"event": "leave", "stay_ms": 30_000})).await;
    let day_one = china_yyyymmdd(&server).await;
    // A token per call: the clock moves by days here, and tokens live two hours.
    let trend = |date: &str, end: &str| {
        let server = &server;
        let app = app.clone();
        let body = json!({"begin_date": date, "end_date": end}).to_string();
        async move {
            let token = app.token(server).await;
            let url = format!("/datacube/getweanalysisappiddailyvisittrend?access_token={token}");
            wx_post(server, &url, &body).await
        }
    };
    assert_errcode(&trend(&day_one, &day_one).await, 61501);
    assert_errcode(&trend("2026-12-01", "2026-12-01").await, 61500);

    server.advance_clock(24 * 60 * MINUTE_MS).await;
    // Day two: Alice again (not new), and a new visitor.
    visit(&alice, json!({"event": "open"})).await;
    visit(&developer, json!({"event": "open"})).await;
    let row = trend(&day_one, &day_one).await["list"][0].clone();
    assert_eq!(row["ref_date"], day_one.as_str());
    assert_eq!(row["session_cnt"], 3);
    assert_eq!(row["visit_pv"], 4);
    assert_eq!(row["visit_uv"], 2);
    assert_eq!(row["visit_uv_new"], 2);
    assert_eq!(row["stay_time_uv"], 45.0);
    assert_eq!(row["stay_time_session"], 30.0);
    assert!(
        (row["visit_depth"].as_f64().unwrap() - 4.0 / 3.0).abs() < 0.001,
        "{row}"
    );
    assert_errcode(&trend(&day_one, "29991231").await, 61501);
    server.advance_clock(24 * 60 * MINUTE_MS).await;
    let day_two = shift_day(&day_one, 1);
    let second = trend(&day_two, &day_two).await["list"][0].clone();
    assert_eq!(
        (second["visit_uv"].clone(), second["visit_uv_new"].clone()),
        (json!(2), json!(1))
    );
    let token = app.token(&server).await;
    let summary = wx_post(
        &server,
        &format!("/datacube/getweanalysisappiddailysummarytrend?access_token={token}"),
        &json!({"begin_date": day_two, "end_date": day_two}).to_string(),
    )
    .await;
    assert_eq!(summary["list"][0]["visit_total"], 3);
}

/// The sandbox clock's China day, `yyyymmdd`.
async fn china_yyyymmdd(server: &TestServer) -> String {
    plaza_testkit::clock::china_day(server.clock_now_ms().await).replace('-', "")
}

/// The China day `days` after `yyyymmdd` (whose noon is `noon_ms` away from now).
fn shift_day(yyyymmdd: &str, days: i64) -> String {
    let (y, rest) = yyyymmdd.split_at(4);
    let (m, d) = rest.split_at(2);
    let noon = jiff::Timestamp::strptime(
        "%Y-%m-%d %H:%M:%S %z",
        format!("{y}-{m}-{d} 12:00:00 +0800"),
    )
    .unwrap()
    .as_millisecond();
    plaza_testkit::clock::china_day(noon + days * 86_400_000).replace('-', "")
}

#[tokio::test(flavor = "multi_thread")]
async fn wxacodes_are_png_qr_codes_that_open_the_page_in_the_container() {
    use plaza_testkit::miniapp::{package, read_qr_png, release};
    let (server, developer, app) = sandbox_with_app().await;
    let token = app.token(&server).await;
    let code = |path: &str, body: Value| {
        let server = &server;
        let url = format!("{}{path}?access_token={token}", server.base_url);
        async move {
            plaza_testkit::http_client()
                .post(url)
                .body(body.to_string())
                .send()
                .await
                .unwrap()
        }
    };
    let unreleased = code(
        "/wxa/getwxacodeunlimit",
        json!({"scene": "site=7", "page": "pages/index/index"}),
    )
    .await;
    assert_errcode(&unreleased.json::<Value>().await.unwrap(), 41030);
    release(
        &server,
        &app.appid,
        &developer.token,
        package("预约", "home"),
    )
    .await;

    let image = code(
        "/wxa/getwxacodeunlimit",
        json!({"scene": "site=7&slot=9", "page": "pages/index/index", "width": 430, "line_color": {"r": "0", "g": "120", "b": "60"}, "is_hyaline": true}),
    )
    .await;
    assert_eq!(image.headers()["content-type"], "image/png");
    let text = read_qr_png(&image.bytes().await.unwrap());
    assert_eq!(
        text,
        format!(
            "{}/app/mp/{}/pages/index/index?scene=site%3D7%26slot%3D9",
            server.base_url, app.appid
        )
    );

    for (body, errcode_expected) in [
        (
            json!({"scene": "x", "page": "pages/missing/missing"}),
            41030,
        ),
        (json!({"scene": "", "page": "pages/index/index"}), 40097),
        (
            json!({"scene": "有中文", "page": "pages/index/index"}),
            40097,
        ),
        (json!({"scene": "x", "width": 100}), 40097),
        (json!({"scene": "x", "env_version": "beta"}), 40097),
    ] {
        let reply = code("/wxa/getwxacodeunlimit", body.clone()).await;
        assert_errcode(&reply.json::<Value>().await.unwrap(), errcode_expected);
    }
    let unchecked = code(
        "/wxa/getwxacodeunlimit",
        json!({"scene": "x", "page": "pages/new/new", "check_path": false}),
    )
    .await;
    assert_eq!(unchecked.headers()["content-type"], "image/png");

    let qr = code(
        "/cgi-bin/wxaapp/createwxaqrcode",
        json!({"path": "pages/about/about?from=poster", "width": 280}),
    )
    .await;
    let text = read_qr_png(&qr.bytes().await.unwrap());
    assert_eq!(
        text,
        format!(
            "{}/app/mp/{}/pages/about/about?from=poster",
            server.base_url, app.appid
        )
    );
    let missing = code("/wxa/getwxacode", json!({"path": "pages/nope/nope"})).await;
    assert_errcode(&missing.json::<Value>().await.unwrap(), 41030);
}

#[tokio::test(flavor = "multi_thread")]
async fn ads_are_paid_per_view_and_click_and_shared_with_the_developer_at_month_end() {
    let (server, developer, app) = sandbox_with_app().await;
    let advertiser = plaza_testkit::pay::Merchant::create(&server, "奶茶店").await;
    let funded = server
        .admin_post(
            &format!("/api/v1/sandbox/merchants/{}/top-up", advertiser.mchid),
            &json!({"amount": 50_000, "request_id": "fund-ads"}),
        )
        .await;
    assert_eq!(funded.status, 200, "{}", funded.text);
    let ads = format!("/api/v1/admin/ads/advertisers/{}", advertiser.mchid);
    let top_up = |amount: i64, request: &str| {
        let server = &server;
        let path = format!("{ads}/top-up");
        let body = json!({"amount_minor": amount, "request_id": request});
        async move { server.admin_post(&path, &body).await }
    };
    assert_eq!(top_up(10_000, "t1").await.json()["budget_minor"], 10_000);
    assert_eq!(
        top_up(10_000, "t1").await.json()["budget_minor"],
        10_000,
        "the same request moves nothing more"
    );
    top_up(1_000_000, "t2")
        .await
        .assert_error(422, "ad_budget_short");
    let campaign = server
        .admin_post(
            &format!("{ads}/campaigns"),
            &json!({"title": "第二杯半价", "text": "门店限时", "link": "https://tea.example/promo", "cpm_minor": 1_500, "cpc_minor": 30}),
        )
        .await;
    assert_eq!(campaign.status, 201, "{}", campaign.text);
    server
        .admin_post(
            &format!("{ads}/campaigns"),
            &json!({"title": "x", "link": "ftp://x", "cpm_minor": 1}),
        )
        .await
        .assert_error(400, "invalid_field");

    let slot = developer
        .post(
            &server,
            &format!("/api/v1/me/miniapps/{}/ad-slots", app.appid),
            &json!({"name": "首页底部"}),
        )
        .await;
    assert_eq!(slot.status, 201, "{}", slot.text);
    let slot_id = slot.json()["slot_id"].as_str().unwrap().to_owned();
    let viewer = Payer::create(&server, "Viewer", 1).await;
    let stranger = Payer::create(&server, "Stranger", 1).await;
    let serve = |who: &Payer| {
        let server = &server;
        let who = who.clone();
        let path = format!("/api/v1/mp/{}/ad", app.appid);
        let body = json!({"adUnitId": slot_id});
        async move { who.post(server, &path, &body).await }
    };
    let event = |who: &Payer, token: &str, kind: &str| {
        let server = &server;
        let who = who.clone();
        let path = format!("/api/v1/mp/{}/ad/event", app.appid);
        let body = json!({"token": token, "event": kind});
        async move { who.post(server, &path, &body).await }
    };
    let first = serve(&viewer).await.json();
    assert_eq!(first["title"], "第二杯半价");
    let token = first["token"].as_str().unwrap().to_owned();
    event(&viewer, &token, "click")
        .await
        .assert_error(400, "invalid_field");
    assert_eq!(
        event(&viewer, &token, "impression").await.json()["counted"],
        true
    );
    assert_eq!(
        event(&viewer, &token, "impression").await.json()["counted"],
        false,
        "an impression counts once"
    );
    event(&stranger, &token, "impression")
        .await
        .assert_error(400, "invalid_field");
    assert_eq!(
        event(&viewer, &token, "click").await.json()["counted"],
        true
    );
    assert_eq!(
        event(&viewer, &token, "click").await.json()["counted"],
        false,
        "a click counts once"
    );
    let second = serve(&viewer).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        event(&viewer, &second, "impression").await.json()["counted"],
        true
    );
    // Two impressions at ¥15 per thousand (1.5 fen each → 3 fen) and a click at 30 fen.
    let budget = server.admin_get(&ads).await.json();
    assert_eq!(budget["budget_minor"], 10_000 - 33, "{budget}");
    let mine = developer
        .get(&server, &format!("/api/v1/me/miniapps/{}/ads", app.appid))
        .await
        .json();
    assert_eq!(mine["days"][0]["impressions"], 2);
    assert_eq!(mine["days"][0]["clicks"], 1);
    assert_eq!(mine["days"][0]["spend_minor"], 33);
    assert_eq!(mine["days"][0]["developer_share_minor"], 16);
    assert_eq!(mine["income_minor"], 0, "paid at month end");

    // A disabled slot shows nothing.
    developer
        .post(
            &server,
            &format!(
                "/api/v1/me/miniapps/{}/ad-slots/{slot_id}/disable",
                app.appid
            ),
            &json!({}),
        )
        .await;
    assert_eq!(serve(&viewer).await.status, 400);

    // The month ends: the app's earnings are shared.
    let now = server.clock_now_ms().await;
    let zoned = jiff::Timestamp::from_millisecond(now)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)));
    let next_month = zoned
        .date()
        .first_of_month()
        .checked_add(jiff::Span::new().months(1))
        .unwrap();
    let after = next_month
        .at(3, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
        .unwrap();
    server.set_clock(after.timestamp().as_millisecond()).await;
    // Sessions end after a week unused: the developer signs in again.
    let session = server
        .admin_post(
            &format!("/api/v1/admin/users/{}/sessions", developer.user_id),
            &json!({}),
        )
        .await
        .json();
    let developer = Payer {
        token: session["token"].as_str().unwrap().to_owned(),
        ..developer
    };
    let mine = developer
        .get(&server, &format!("/api/v1/me/miniapps/{}/ads", app.appid))
        .await
        .json();
    assert_eq!(mine["income_minor"], 16, "{mine}");
    assert_eq!(mine["payouts"][0]["earned_minor"], 33);
    let report = server.admin_get("/api/v1/admin/reports/ads").await.json();
    assert_eq!(report["shared_with_developers_minor"], 16);
    assert_eq!(report["platform_minor"], 17);
    assert_eq!(report["earned_minor"], 33);
    server.assert_ledger_sound().await;
}

/// A page or form post as a browser on Plaza's own origin sends it, with `cookie`;
/// redirects are not followed.
async fn as_browser(
    server: &TestServer,
    cookie: &str,
    path: &str,
    form: Option<&[(&str, &str)]>,
) -> reqwest::Response {
    let client = plaza_testkit::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = format!("{}{path}", server.base_url);
    let request = match form {
        Some(form) => client
            .post(url)
            .header("origin", &server.base_url)
            .form(form),
        None => client.get(url),
    };
    request.header("cookie", cookie).send().await.unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_developer_and_operator_consoles_manage_apps_and_reviews() {
    use plaza_testkit::miniapp::{package, upload_as_admin};
    let server = TestServer::sandbox(PLAZA);
    let user = Payer::create(&server, "Dev Qian", 1).await;
    let cookie = format!("plaza_session={}", user.token);

    // Not a developer yet: the console offers to become one.
    let home = as_browser(&server, &cookie, "/developer", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(home.contains("become-developer"), "{home}");
    let became = as_browser(&server, &cookie, "/developer/become", Some(&[])).await;
    assert_eq!(became.status(), 303);
    let created = as_browser(
        &server,
        &cookie,
        "/developer/apps",
        Some(&[("name", "挂号助手")]),
    )
    .await;
    let page_path = location(&created);
    assert!(
        page_path.starts_with("/developer/apps/wx") && page_path.contains("AppSecret"),
        "{page_path}"
    );
    let appid = page_path
        .trim_start_matches("/developer/apps/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let page = as_browser(&server, &cookie, &page_path, None)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&appid) && page.contains("shown only now"),
        "the secret is shown once: {page}"
    );

    // Settings: a bad domain is refused with its reason, a good one saved.
    let base_settings = [
        ("name", "挂号助手"),
        ("icon", "挂"),
        ("category", "医疗"),
        ("description", "预约挂号"),
        ("service_keywords", "挂号\n预约"),
        ("testers", ""),
    ];
    let mut bad = base_settings.to_vec();
    bad.push(("request_domains", "ftp://nope"));
    let refused = as_browser(
        &server,
        &cookie,
        &format!("/developer/apps/{appid}"),
        Some(&bad),
    )
    .await;
    assert!(
        location(&refused).contains("error="),
        "{}",
        location(&refused)
    );
    let mut good = base_settings.to_vec();
    good.push(("request_domains", "https://api.clinic.example"));
    let saved = as_browser(
        &server,
        &cookie,
        &format!("/developer/apps/{appid}"),
        Some(&good),
    )
    .await;
    assert!(location(&saved).contains("ok="), "{}", location(&saved));
    let app = server
        .admin_get(&format!("/api/v1/admin/miniapps/{appid}"))
        .await
        .json();
    assert_eq!(
        app["request_domains"],
        json!(["https://api.clinic.example"])
    );
    assert_eq!(app["service_keywords"], json!(["挂号", "预约"]));

    // A version, submitted from the console, reviewed by the operator, released.
    upload_as_admin(&server, &appid, package("挂号", "v1"), "1.0.0").await;
    let submitted = as_browser(
        &server,
        &cookie,
        &format!("/developer/apps/{appid}/versions/1/submit"),
        Some(&[]),
    )
    .await;
    assert!(
        location(&submitted).contains("ok="),
        "{}",
        location(&submitted)
    );
    let reviews = server.operator_page("/console/miniapps/reviews").await;
    assert!(
        reviews.contains(&format!("approve-{appid}")) && reviews.contains("pages/index/index"),
        "{reviews}"
    );
    let operator = operator_cookie(&server).await;
    let rejected = as_browser(
        &server,
        &operator,
        &format!("/console/miniapps/{appid}/review"),
        Some(&[("decision", "reject"), ("reason", "")]),
    )
    .await;
    assert!(
        location(&rejected).contains("error="),
        "a rejection needs a reason"
    );
    let approved = as_browser(
        &server,
        &operator,
        &format!("/console/miniapps/{appid}/review"),
        Some(&[("decision", "approve"), ("reason", "")]),
    )
    .await;
    assert!(
        location(&approved).contains("ok="),
        "{}",
        location(&approved)
    );
    let released = as_browser(
        &server,
        &cookie,
        &format!("/developer/apps/{appid}/release"),
        Some(&[]),
    )
    .await;
    assert!(
        location(&released).contains("Released%20v1"),
        "{}",
        location(&released)
    );
    let page = as_browser(&server, &cookie, &format!("/developer/apps/{appid}"), None)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("release v1"), "{page}");

    // Another developer's app is not found here.
    let other = Payer::create(&server, "Other", 1).await;
    let foreign = MiniProgram::create(&server, &other.user_id, "别人的").await;
    let hidden = as_browser(
        &server,
        &cookie,
        &format!("/developer/apps/{}", foreign.appid),
        None,
    )
    .await;
    assert_eq!(hidden.status(), 404);

    // The operator's list and word list.
    let list = server.operator_page("/console/miniapps").await;
    assert!(
        list.contains("挂号助手") && list.contains("别人的"),
        "{list}"
    );
    let words = as_browser(
        &server,
        &operator,
        "/console/miniapps/words",
        Some(&[("words", "代开发票 20006\n加微信 10001 review")]),
    )
    .await;
    assert!(
        location(&words).contains("2%20words%20saved"),
        "{}",
        location(&words)
    );
    let stored = server.admin_get("/api/v1/admin/miniapp-words").await.json();
    assert_eq!(
        stored["words"][1],
        json!({"word": "加微信", "label": 10001, "risky": false})
    );
}

/// The operator's console cookie (sandbox demo sign-in).
async fn operator_cookie(server: &TestServer) -> String {
    let client = plaza_testkit::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed = client
        .post(format!("{}/signin/operator", server.base_url))
        .header("origin", &server.base_url)
        .form(&[("next", "/console")])
        .send()
        .await
        .unwrap();
    signed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_profile_material_decrypts_with_the_session_key_and_payments_are_checked_as_wechat_does()
 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    let (server, developer, app) = sandbox_with_app().await;
    let user = Payer::create(&server, "Eve", 10_000).await;
    let profile_path = format!("/api/v1/mp/{}/profile", app.appid);
    let early = user.post(&server, &profile_path, &json!({})).await;
    assert_eq!(early.status, 400, "login first: {}", early.text);

    // §3.4: rawData + signature (SHA-1 with the session key), encryptedData and iv
    // (AES-128-CBC under the session key), with the app's watermark inside.
    let session = app
        .code_to_session(&server, &app.login_code(&server, &user.token).await)
        .await;
    let key = STANDARD
        .decode(session["session_key"].as_str().unwrap())
        .unwrap();
    let material = user.post(&server, &profile_path, &json!({})).await.json();
    let raw = material["rawData"].as_str().unwrap();
    let signed = format!("{raw}{}", session["session_key"].as_str().unwrap());
    let sha1: String = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        signed.as_bytes(),
    )
    .as_ref()
    .iter()
    .map(|b| format!("{b:02x}"))
    .collect();
    assert_eq!(material["signature"], sha1.as_str());
    let iv: [u8; 16] = STANDARD
        .decode(material["iv"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let mut data = STANDARD
        .decode(material["encryptedData"].as_str().unwrap())
        .unwrap();
    let decrypting = aws_lc_rs::cipher::PaddedBlockDecryptingKey::cbc_pkcs7(
        aws_lc_rs::cipher::UnboundCipherKey::new(&aws_lc_rs::cipher::AES_128, &key).unwrap(),
    )
    .unwrap();
    let plain = decrypting
        .decrypt(
            &mut data,
            aws_lc_rs::cipher::DecryptionContext::Iv128(iv.into()),
        )
        .unwrap();
    let inside: Value = serde_json::from_slice(plain).unwrap();
    assert_eq!(inside["watermark"]["appid"], app.appid.as_str());
    assert_eq!(inside["openId"], session["openid"]);
    assert_eq!(inside["unionId"], session["unionid"]);
    assert_eq!(inside["nickName"], "Eve");

    // wx.requestPayment: only this app's merchant's JSAPI order, made out to this user,
    // signed with the merchant's key.
    let merchant = plaza_testkit::pay::Merchant::create_with(
        &server,
        &json!({"name": "本店", "appid": app.appid}),
    )
    .await;
    server
        .admin_put(
            &format!("/api/v1/admin/miniapps/{}/merchant", app.appid),
            &json!({"mchid": merchant.mchid}),
        )
        .await;
    let other_app = MiniProgram::create(&server, &developer.user_id, "另一个").await;
    let other_merchant = plaza_testkit::pay::Merchant::create_with(
        &server,
        &json!({"name": "别家", "appid": other_app.appid}),
    )
    .await;
    let openid = session["openid"].as_str().unwrap().to_owned();
    let jsapi = |merchant: &plaza_testkit::pay::Merchant,
                 appid: &str,
                 openid: &str,
                 out_trade_no: &str| {
        let body = json!({
            "appid": appid, "mchid": merchant.mchid, "description": "费用", "out_trade_no": out_trade_no,
            "notify_url": "https://merchant.example/notify", "amount": {"total": 100}, "payer": {"openid": openid},
        });
        let server = &server;
        let merchant = merchant.clone();
        async move {
            merchant
                .post_ok(server, "/v3/pay/transactions/jsapi", &body)
                .await["prepay_id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let ours = jsapi(&merchant, &app.appid, &openid, "OK-000001").await;
    let others = jsapi(
        &other_merchant,
        &other_app.appid,
        &user.openid(&server, &other_app.appid).await,
        "OTHER-000001",
    )
    .await;
    let strangers = jsapi(
        &merchant,
        &app.appid,
        &Payer::create(&server, "Mallory", 1)
            .await
            .openid(&server, &app.appid)
            .await,
        "OK-000002",
    )
    .await;
    let pay_path = format!("/api/v1/mp/{}/payment", app.appid);
    let request = |signer: &plaza_testkit::pay::Merchant, prepay: &str, sign_type: &str| {
        let package = format!("prepay_id={prepay}");
        json!({
            "timeStamp": "1700000000", "nonceStr": "n0nce", "package": package, "signType": sign_type,
            "paySign": signer.pay_sign(&app.appid, "1700000000", "n0nce", &package),
        })
    };
    let answer = user
        .post(&server, &pay_path, &request(&merchant, &ours, "RSA"))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.json()["total_minor"], 100);
    for (body, reason) in [
        (
            request(&other_merchant, &others, "RSA"),
            "another app or merchant",
        ),
        (request(&merchant, &strangers, "RSA"), "another payer"),
        (
            request(&other_merchant, &ours, "RSA"),
            "paySign does not verify",
        ),
        (request(&merchant, &ours, "MD5"), "signType must be RSA"),
        (
            request(&merchant, "wx_no_such_prepay", "RSA"),
            "no order has this prepay_id",
        ),
    ] {
        let refused = user.post(&server, &pay_path, &body).await;
        assert_eq!(refused.status, 400, "{}", refused.text);
        let message = refused.json()["errMsg"].as_str().unwrap().to_owned();
        assert!(
            message.starts_with("requestPayment:fail") && message.contains(reason),
            "{reason}: {message}"
        );
    }
    assert_eq!(
        merchant.order(&server, "OK-000001").await["trade_state"],
        "NOTPAY",
        "checks change nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn testers_run_the_trial_version_and_everyone_else_the_release() {
    use plaza_testkit::miniapp::{package, release, upload_as_admin};
    let (server, developer, app) = sandbox_with_app().await;
    let tester = Payer::create(&server, "Tester", 1).await;
    let visitor = Payer::create(&server, "Visitor", 1).await;
    let open = |who: &Payer, query: &str| {
        let server = &server;
        let cookie = format!("plaza_session={}", who.token);
        let path = format!("/app/mp/{}{query}", app.appid);
        async move { as_browser(server, &cookie, &path, None).await }
    };
    // Nothing released yet: a page that says so, not a container.
    let unreleased = open(&visitor, "").await;
    assert_eq!(unreleased.status(), 404);
    release(
        &server,
        &app.appid,
        &developer.token,
        package("预约", "released"),
    )
    .await;
    let trial = upload_as_admin(&server, &app.appid, package("预约", "trial"), "1.1.0")
        .await
        .json();
    let number = trial["version"].as_u64().unwrap();
    developer
        .post(
            &server,
            &format!("/api/v1/me/miniapps/{}/versions/{number}/trial", app.appid),
            &json!({}),
        )
        .await;
    developer
        .patch(
            &server,
            &format!("/api/v1/me/miniapps/{}", app.appid),
            &json!({"testers": [tester.user_id]}),
        )
        .await;
    // Each page names its version in its package's capability URL.
    let base_of = |html: &str| {
        html.split("data-base=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    };
    let released = open(&visitor, "").await.text().await.unwrap();
    assert!(
        base_of(&released).contains(&format!("{}.1.", app.appid)),
        "{released}"
    );
    let as_tester = open(&tester, "?env_version=trial")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        base_of(&as_tester).contains(&format!("{}.{number}.", app.appid)),
        "the tester runs the trial"
    );
    assert!(as_tester.contains("体验版"), "the trial says so");
    assert_eq!(
        open(&visitor, "?env_version=trial").await.status(),
        403,
        "others may not"
    );
    assert_eq!(
        open(
            &visitor,
            &format!("?env_version=develop&dev_version={number}")
        )
        .await
        .status(),
        403
    );
    let as_developer = open(
        &developer,
        &format!("?env_version=develop&dev_version={number}"),
    )
    .await;
    assert_eq!(
        as_developer.status(),
        200,
        "the developer previews any version"
    );
    // A package file is served only through its capability URL, sandboxed.
    let file = plaza_testkit::http_client()
        .get(format!(
            "{}{}pages/index/index.html",
            server.base_url,
            base_of(&released)
        ))
        .send()
        .await
        .unwrap();
    assert!(
        file.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox allow-scripts")
    );
    assert!(file.text().await.unwrap().contains("released"));
    let forged = plaza_testkit::http_client()
        .get(format!(
            "{}/mp-pkg/{}.1.0000/pages/index/index.html",
            server.base_url, app.appid
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 404);
    // A page the version does not have.
    assert_eq!(open(&visitor, "/pages/nope/nope").await.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cached_session_ends_at_once_when_signed_out_through_pay_or_left_idle() {
    let (server, _developer, app) = sandbox_with_app().await;
    let leaving = Payer::create(&server, "Leaving", 1).await;
    let idle = Payer::create(&server, "Idle", 1).await;
    // Each session is used once here, so it sits in identity's cache.
    app.login_code(&server, &leaving.token).await;
    app.login_code(&server, &idle.token).await;
    // Signed out through Pay's API: Mini Programs refuse it at once.
    let signed_out = plaza_testkit::http_client()
        .delete(format!("{}/api/v1/me/session", server.base_url))
        .bearer_auth(&leaving.token)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 204);
    login(&server, &app.appid, &leaving.token)
        .await
        .assert_error(401, "unauthorized");
    // Unused for more than a week (7 days idle): ended too.
    server.advance_clock(8 * 24 * 60 * MINUTE_MS).await;
    login(&server, &app.appid, &idle.token)
        .await
        .assert_error(401, "unauthorized");
}
