//! The pages against a hostile or careless visitor: HTML error pages in the layout (and
//! the API prefixes keeping their own envelopes), sign-in redirects that stay on the
//! site, cross-site form posts refused, sessions that end (sign-out, idle time, maximum
//! age, on the sandbox clock), `Secure` cookies behind HTTPS, payment-code orders hidden
//! from other payers, the console's order of checks in production, texts payers can read,
//! and emoji in a collection-code note.

use plaza_testkit::pay::{Merchant, Payer};
use plaza_testkit::{Reply, ServerOptions, TestServer};
use serde_json::json;

use crate::PLAZA;
const DAY_MS: i64 = 86_400_000;

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    plaza_testkit::http_client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    plaza_testkit::send(request).await.unwrap()
}

fn is_layout_page(reply: &Reply) -> bool {
    reply
        .header("content-type")
        .is_some_and(|kind| kind.starts_with("text/html"))
        && reply.text.contains("<header class=\"top\">")
        && reply.text.contains("/static/plaza.css")
        && reply.text.contains("id=\"back\"")
}

fn location(reply: &Reply) -> &str {
    reply.header("location").unwrap_or_default()
}

fn set_cookies(reply: &Reply) -> Vec<&str> {
    reply
        .headers
        .iter()
        .filter(|(name, _)| name == "set-cookie")
        .map(|(_, value)| value.as_str())
        .collect()
}

/// The `plaza_session` cookie a payer's token makes.
fn session_cookie(payer: &Payer) -> String {
    format!("plaza_session={}", payer.token)
}

async fn operator_cookie(server: &TestServer, client: &reqwest::Client) -> String {
    let reply = send(
        client
            .post(format!("{}/signin/operator", server.base_url))
            .form(&[("token", server.admin_token.as_str())]),
    )
    .await;
    assert_eq!(reply.status, 303, "{}", reply.text);
    let cookie = set_cookies(&reply)
        .into_iter()
        .find(|cookie| cookie.starts_with("plaza_operator="))
        .unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_paths_answer_an_html_page_and_api_prefixes_keep_their_envelopes() {
    let server = TestServer::sandbox(PLAZA);
    let client = browser();
    let get = |path: &str| send(client.get(format!("{}{path}", server.base_url)));

    for path in [
        "/nothing-here",
        "/console/nothing",
        "/me/nothing",
        "/static/x.js",
    ] {
        let reply = get(path).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.text);
        assert!(is_layout_page(&reply), "{path}: {}", reply.text);
        assert!(reply.text.contains("页面不存在 Page not found"), "{path}");
    }

    // Each API keeps its own error format.
    let plaza = get("/api/v1/nothing").await;
    assert_eq!(plaza.status, 404);
    assert_eq!(plaza.json()["code"], "not_found", "{}", plaza.text);
    // APIv3 checks the signature before anything else: an unsigned request meets that.
    let v3 = get("/v3/nothing").await;
    assert!(matches!(v3.status, 401 | 404), "{}", v3.text);
    let v3_code = v3.json()["code"].as_str().unwrap().to_owned();
    assert!(
        v3_code.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
        "{}",
        v3.text
    );
    for path in ["/pay/nothing", "/secapi/pay/nothing"] {
        let v2 = send(
            client
                .post(format!("{}{path}", server.base_url))
                .body("<xml></xml>"),
        )
        .await;
        assert_eq!(v2.status, 404, "{path}");
        assert!(
            v2.text
                .contains("<return_code><![CDATA[FAIL]]></return_code>")
                || v2.text.contains("<return_code>FAIL</return_code>"),
            "{path}: {}",
            v2.text
        );
    }
    for path in ["/sns/nothing", "/cgi-bin/nothing", "/wxa/nothing"] {
        let api = get(path).await;
        assert_eq!(api.status, 404, "{path}");
        assert_eq!(api.json()["errcode"], 40066, "{path}: {}", api.text);
    }
    let wrong_method = send(client.delete(format!("{}/api/v1/me", server.base_url))).await;
    assert_eq!(wrong_method.json()["code"], "method_not_allowed");
    let wrong_page_method = send(client.delete(format!("{}/me", server.base_url))).await;
    assert_eq!(wrong_page_method.status, 405);
    assert!(
        is_layout_page(&wrong_page_method),
        "{}",
        wrong_page_method.text
    );

    // A page without its parameters: 400 in the layout, with a way back, no parser text.
    let payer = Payer::create(&server, "Lin", 1_000).await;
    for path in [
        "/app/pay/checkout",
        "/app/pay/checkout?code=",
        "/console?day=%ZZ&day=2",
    ] {
        let reply = send(
            client
                .get(format!("{}{path}", server.base_url))
                .header("cookie", session_cookie(&payer)),
        )
        .await;
        assert_eq!(reply.status, 400, "{path}: {}", reply.text);
        assert!(is_layout_page(&reply), "{path}: {}", reply.text);
    }
    let missing_field = send(
        client
            .post(format!("{}/signin/user", server.base_url))
            .form(&[("next", "/me")]),
    )
    .await;
    assert_eq!(missing_field.status, 400, "{}", missing_field.text);
    assert!(is_layout_page(&missing_field), "{}", missing_field.text);
    assert!(
        !missing_field.text.contains("missing field"),
        "{}",
        missing_field.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_redirects_stay_on_this_site() {
    let server = TestServer::sandbox(PLAZA);
    let client = browser();
    let payer = Payer::create(&server, "Lin", 1_000).await;
    let sign_in = |next: &'static str| {
        send(
            client
                .post(format!("{}/signin/user", server.base_url))
                .form(&[("user_id", payer.user_id.as_str()), ("next", next)]),
        )
    };
    // Each as the form value arrives after decoding; browsers read each as another site.
    for next in [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "/ /evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "//evil.example",
        "///evil.example",
        "/%2F/evil.example",
        "/%2f%2fevil.example",
        "/%5Cevil.example",
        "/%09/evil.example",
        "/%0A/evil.example",
        "https://evil.example/",
        "http:evil.example",
        "evil.example",
        "",
    ] {
        let reply = sign_in(next).await;
        assert_eq!(reply.status, 303, "{next:?}: {}", reply.text);
        assert_eq!(location(&reply), "/app", "{next:?} must go home");
    }
    for (next, expect) in [
        ("/pay/checkout?code=abc", "/pay/checkout?code=abc"),
        ("/coupons/123", "/coupons/123"),
        ("/", "/"),
        ("/collect?x=%2F", "/collect?x=%2F"),
    ] {
        let reply = sign_in(next).await;
        assert_eq!(location(&reply), expect, "{next:?}");
    }
    // The sign-in page carries only a safe `next` into its forms.
    let page = send(client.get(format!("{}/signin?next=/%09/evil.example", server.base_url))).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("name=\"next\" value=\"\""),
        "{}",
        page.text
    );
    assert!(!page.text.contains("evil.example"), "{}", page.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_site_posts_are_refused_and_same_origin_ones_accepted() {
    let server = TestServer::sandbox(PLAZA);
    let client = browser();
    let payer = Payer::create(&server, "Lin", 1_000).await;
    let token_sign_in = |headers: &[(&'static str, &str)]| {
        let mut request = client
            .post(format!("{}/signin/token", server.base_url))
            .form(&[("token", payer.token.as_str())]);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        send(request)
    };
    // Login CSRF: another site posts its own token to sign the victim in.
    for headers in [
        vec![("origin", "http://evil.example")],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![
            ("sec-fetch-site", "cross-site"),
            ("origin", server.base_url.as_str()),
        ],
    ] {
        let refused = token_sign_in(&headers).await;
        assert_eq!(refused.status, 403, "{headers:?}: {}", refused.text);
        assert!(is_layout_page(&refused), "{}", refused.text);
        assert!(refused.text.contains("请求被拒绝"), "{}", refused.text);
        assert!(set_cookies(&refused).is_empty(), "{headers:?}");
    }
    // Plaza's own page (same origin), a hand-made request, and a non-browser client.
    for headers in [
        vec![("origin", server.base_url.as_str())],
        vec![("sec-fetch-site", "same-origin")],
        vec![("sec-fetch-site", "none")],
        vec![],
    ] {
        let accepted = token_sign_in(&headers).await;
        assert_eq!(accepted.status, 303, "{headers:?}: {}", accepted.text);
        assert!(
            set_cookies(&accepted)
                .iter()
                .any(|cookie| cookie.starts_with("plaza_session=pzu_")),
            "{headers:?}"
        );
    }

    // The payer's confirm with the session cookie, the console's actions, sign-out and
    // a coupon claim: refused from another site.
    let operator = operator_cookie(&server, &client).await;
    let session = session_cookie(&payer);
    for (path, cookie, form) in [
        (
            "/console/clock",
            operator.as_str(),
            vec![("advance", "hour")],
        ),
        ("/signout", session.as_str(), vec![]),
        (
            "/coupons/123/claim",
            session.as_str(),
            vec![("client_ref", "abcdefgh12")],
        ),
        ("/me/payment-code", session.as_str(), vec![]),
    ] {
        let refused = send(
            client
                .post(format!("{}{path}", server.base_url))
                .header("cookie", cookie)
                .header("origin", "https://evil.example")
                .form(&form),
        )
        .await;
        assert_eq!(refused.status, 403, "{path}: {}", refused.text);
    }
    let clock = server.admin_get("/api/v1/sandbox/clock").await.json();
    assert_eq!(
        clock["offset_ms"], 0,
        "the refused clock button moved nothing"
    );
    let confirm = send(
        client
            .post(format!("{}/api/v1/pay/confirm", server.base_url))
            .header("cookie", session_cookie(&payer))
            .header("sec-fetch-site", "cross-site")
            .json(&json!({"prepay_id": "wx0", "password": "123456"})),
    )
    .await;
    assert_eq!(confirm.status, 403, "{}", confirm.text);
    assert_eq!(confirm.json()["code"], "cross_site_request");
    // The same API call with a bearer token and no cookie is not a browser's: it passes
    // the check (and finds no such order).
    let scripted = send(
        client
            .post(format!("{}/api/v1/pay/confirm", server.base_url))
            .bearer_auth(&payer.token)
            .header("origin", "https://evil.example")
            .json(&json!({"prepay_id": "wx0", "password": "123456"})),
    )
    .await;
    assert_eq!(
        scripted.json()["code"],
        "order_not_found",
        "{}",
        scripted.text
    );
    // The session survived the refused sign-out.
    assert_eq!(payer.get(&server, "/api/v1/me").await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_out_ends_the_session_for_its_bearer_token_too() {
    let server = TestServer::sandbox(PLAZA);
    let client = browser();
    let payer = Payer::create(&server, "Lin", 1_000).await;
    assert_eq!(payer.get(&server, "/api/v1/me").await.status, 200);
    let out = send(
        client
            .post(format!("{}/signout", server.base_url))
            .header("cookie", session_cookie(&payer))
            .header("origin", server.base_url.as_str()),
    )
    .await;
    assert_eq!(out.status, 303, "{}", out.text);
    assert!(
        set_cookies(&out)
            .iter()
            .any(|cookie| cookie.starts_with("plaza_session=;") && cookie.contains("Max-Age=0")),
        "{:?}",
        set_cookies(&out)
    );
    let after = payer.get(&server, "/api/v1/me").await;
    assert_eq!(after.status, 401, "{}", after.text);
    assert_eq!(after.json()["code"], "unauthorized");
    // The cookie, presented again, no longer signs anyone in.
    let wallet = send(
        client
            .get(format!("{}/app/me", server.base_url))
            .header("cookie", session_cookie(&payer)),
    )
    .await;
    assert_eq!(wallet.status, 303);
    assert!(location(&wallet).starts_with("/signin"));

    // A script signs its own token out through the API.
    let other = Payer::create(&server, "Wu", 1_000).await;
    let deleted = send(
        client
            .delete(format!("{}/api/v1/me/session", server.base_url))
            .bearer_auth(&other.token),
    )
    .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    assert_eq!(other.get(&server, "/api/v1/me").await.status, 401);
    let again = send(
        client
            .delete(format!("{}/api/v1/me/session", server.base_url))
            .bearer_auth(&other.token),
    )
    .await;
    assert_eq!(again.status, 204, "signing out twice is fine");
}

/// Sessions run on the domain clock, so moving the sandbox clock ends them as waiting
/// would: 7 days unused, or 30 days after sign-in however busy.
#[tokio::test(flavor = "multi_thread")]
async fn sessions_end_after_the_idle_time_and_the_maximum_age() {
    let server = TestServer::sandbox(PLAZA);
    let _pinned = server.pin_clock("10:00").await;
    let busy = Payer::create(&server, "Busy", 1_000).await;
    let idle = Payer::create(&server, "Idle", 1_000).await;
    server.advance_clock(6 * DAY_MS).await;
    assert_eq!(busy.get(&server, "/api/v1/me").await.status, 200);
    server.advance_clock(DAY_MS + 1_000).await;
    assert_eq!(
        idle.get(&server, "/api/v1/me").await.status,
        401,
        "unused for 7 days"
    );
    assert_eq!(
        busy.get(&server, "/api/v1/me").await.status,
        200,
        "used a day ago"
    );
    // Used every six days, the busy session still ends 30 days after it began.
    for _ in 0..3 {
        server.advance_clock(6 * DAY_MS).await;
        assert_eq!(busy.get(&server, "/api/v1/me").await.status, 200);
    }
    // Day 25 and a second now; day 30 is the end.
    server.advance_clock(5 * DAY_MS).await;
    let ended = busy.get(&server, "/api/v1/me").await;
    assert_eq!(ended.status, 401, "30 days old: {}", ended.text);
    assert!(ended.text.contains("ended"), "{}", ended.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn cookies_are_secure_when_plaza_is_reached_over_https() {
    let client = browser();
    let behind_tls = ServerOptions::new(PLAZA)
        .sandbox()
        .arg("--public-base-url")
        .arg("https://pay.example")
        .start();
    let payer = Payer::create(&behind_tls, "Lin", 1_000).await;
    let signed_in = send(
        client
            .post(format!("{}/signin/token", behind_tls.base_url))
            .form(&[("token", payer.token.as_str())]),
    )
    .await;
    let cookies = set_cookies(&signed_in);
    assert!(!cookies.is_empty());
    for cookie in &cookies {
        assert!(cookie.ends_with("; Secure"), "{cookie}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    }
    // Plain HTTP with a plain base URL: no `Secure` (the browser would drop the cookie),
    // and a forged X-Forwarded-Proto changes nothing.
    let plain = TestServer::sandbox(PLAZA);
    let payer = Payer::create(&plain, "Lin", 1_000).await;
    let signed_in = send(
        client
            .post(format!("{}/signin/token", plain.base_url))
            .header("x-forwarded-proto", "https")
            .form(&[("token", payer.token.as_str())]),
    )
    .await;
    for cookie in set_cookies(&signed_in) {
        assert!(!cookie.contains("Secure"), "{cookie}");
        assert!(cookie.contains("Max-Age=2592000"), "30 days: {cookie}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn another_payer_cannot_see_a_payment_code_order_waiting_for_the_password() {
    let server = TestServer::sandbox(PLAZA);
    let client = browser();
    let merchant = Merchant::create(&server, "Electronics").await;
    let payer = Payer::create(&server, "Bob", 50_000).await;
    let stranger = Payer::create(&server, "Eve", 50_000).await;
    payer.set_password_free_limit(&server, 1_000).await;
    let code = payer.payment_code(&server).await;
    let waiting = merchant
        .post(
            &server,
            "/v3/pay/transactions/codepay",
            &json!({
                "appid": merchant.appid,
                "mchid": merchant.mchid,
                "description": "Headphones",
                "out_trade_no": "POS-2001",
                "payer": {"auth_code": code},
                "amount": {"total": 5_000, "currency": "CNY"},
                "scene_info": {"device_id": "POS-7"},
            }),
        )
        .await;
    assert_eq!(waiting.status, 202, "{}", waiting.text);
    let awaiting = payer.get(&server, "/api/v1/me/awaiting").await.json();
    let prepay_id = awaiting["orders"][0]["prepay_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The payer sees it; the stranger gets what a made-up reference gets.
    let mine = payer
        .post_ok(
            &server,
            "/api/v1/pay/scan",
            &json!({ "prepay_id": prepay_id }),
        )
        .await;
    assert_eq!(mine["merchant_name"], "Electronics");
    let answer = |reply: &Reply| (reply.status, reply.json());
    for path in ["/api/v1/pay/scan", "/api/v1/pay/confirm"] {
        let body = |id: &str| json!({ "prepay_id": id, "password": "123456" });
        let theirs = stranger.post(&server, path, &body(&prepay_id)).await;
        let made_up = stranger.post(&server, path, &body("wx000000000000")).await;
        assert_eq!(answer(&theirs), answer(&made_up), "{path}");
        assert_eq!(theirs.json()["code"], "order_not_found", "{}", theirs.text);
        assert!(!theirs.text.contains("Electronics"));
    }
    let page = |id: &str| {
        send(
            client
                .get(format!(
                    "{}/app/pay/checkout?prepay_id={id}",
                    server.base_url
                ))
                .header("cookie", session_cookie(&stranger)),
        )
    };
    let theirs = page(&prepay_id).await;
    let made_up = page("wx000000000000").await;
    assert_eq!(theirs.status, 404);
    assert_eq!(theirs.text, made_up.text);
    assert!(!theirs.text.contains("Electronics") && !theirs.text.contains("50.00"));
    // The stranger's try moved nothing: the payer still confirms.
    payer
        .post_ok(
            &server,
            "/api/v1/pay/confirm",
            &json!({ "prepay_id": prepay_id, "password": "123456" }),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn console_actions_check_the_operator_then_the_sandbox_then_the_form() {
    let production = ServerOptions::new(PLAZA).start();
    let client = browser();
    let actions = [
        "/console/merchants/1600000001/script",
        "/console/merchants/1600000001/faults",
        "/console/notifications/n1/action",
        "/console/notifications/n1/send",
        "/console/clock",
    ];
    let post = |path: &str, cookie: Option<&str>| {
        let mut request = client
            .post(format!("{}{path}", production.base_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("not=the&form=%ZZ");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie.to_owned());
        }
        send(request)
    };
    for path in actions {
        let anonymous = post(path, None).await;
        assert_eq!(anonymous.status, 303, "{path}: {}", anonymous.text);
        assert!(location(&anonymous).starts_with("/signin"), "{path}");
    }
    let operator = operator_cookie(&production, &client).await;
    for path in actions {
        let signed_in = post(path, Some(&operator)).await;
        assert_eq!(signed_in.status, 404, "{path}: {}", signed_in.text);
        assert!(is_layout_page(&signed_in), "{path}");
        assert!(
            signed_in.text.contains("data-code=\"sandbox_only\""),
            "{path}: {}",
            signed_in.text
        );
    }
    // The JSON API the same way: the admin token, then the mode, then the body.
    for (method, path) in [
        (reqwest::Method::POST, "/api/v1/sandbox/clock/advance"),
        (
            reqwest::Method::PUT,
            "/api/v1/sandbox/merchants/1600000001/script",
        ),
        (
            reqwest::Method::PUT,
            "/api/v1/sandbox/merchants/1600000001/faults",
        ),
        (
            reqwest::Method::POST,
            "/api/v1/sandbox/notifications/n1/send",
        ),
    ] {
        let request = |admin: bool| {
            let request = client
                .request(method.clone(), format!("{}{path}", production.base_url))
                .header("content-type", "application/json")
                .body("{not json");
            if admin {
                request.bearer_auth(&production.admin_token)
            } else {
                request
            }
        };
        let anonymous = send(request(false)).await;
        assert_eq!(anonymous.json()["code"], "unauthorized", "{path}");
        let admin = send(request(true)).await;
        assert_eq!(admin.status, 404, "{path}: {}", admin.text);
        assert_eq!(admin.json()["code"], "sandbox_only", "{path}");
    }

    // In the sandbox, a form that does not parse gets the 400 page, after the checks.
    let server = TestServer::sandbox(PLAZA);
    let operator = operator_cookie(&server, &client).await;
    let bad_form = send(
        client
            .post(format!(
                "{}/console/merchants/1600000001/script",
                server.base_url
            ))
            .header("cookie", operator)
            .form(&[("other", "x")]),
    )
    .await;
    assert_eq!(bad_form.status, 400, "{}", bad_form.text);
    assert!(is_layout_page(&bad_form));
}

#[tokio::test(flavor = "multi_thread")]
async fn payers_read_yuan_local_times_and_plurals() {
    let server = TestServer::sandbox(PLAZA);
    let merchant = Merchant::create(&server, "Noodle Bar").await;
    let payer = Payer::create(&server, "Lin", 5_000).await;
    let code_url = merchant
        .create_native(
            &server,
            "NOODLE-0001",
            8_000,
            "https://merchant.example/notify",
        )
        .await;
    let short = payer.pay_code(&server, &code_url).await;
    assert_eq!(short.json()["code"], "insufficient_funds", "{}", short.text);
    assert_eq!(
        short.json()["message"],
        "余额不足 Balance ¥50.00, this payment needs ¥80.00"
    );

    let small_url = merchant
        .create_native(
            &server,
            "NOODLE-0002",
            1_000,
            "https://merchant.example/notify",
        )
        .await;
    let wrong = json!({ "code_url": small_url, "password": "000000" });
    let mut messages = Vec::new();
    for _ in 0..5 {
        let reply = payer.post(&server, "/api/v1/pay/confirm", &wrong).await;
        messages.push(reply.json()["message"].as_str().unwrap().to_owned());
    }
    assert!(messages[0].contains("4 tries left"), "{messages:?}");
    assert!(messages[3].contains("1 try left"), "{messages:?}");
    let locked = &messages[4];
    assert!(locked.contains("China time"), "{locked}");
    assert!(
        !locked.contains("ms") && !locked.contains("+08:00"),
        "{locked}"
    );
    // The lock's end is a China Standard Time wall-clock reading, 3 hours on. The lock
    // began a moment before `now`: the minute read now, or the one before.
    let clock = server.admin_get("/api/v1/sandbox/clock").await.json();
    let now_ms = clock["now_ms"].as_i64().unwrap();
    let minute = |at_ms: i64| {
        jiff::Timestamp::from_millisecond(at_ms)
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
            .strftime("%Y-%m-%d %H:%M")
            .to_string()
    };
    let lock_ms = now_ms + 3 * 3_600_000;
    assert!(
        locked.contains(&minute(lock_ms)) || locked.contains(&minute(lock_ms - 60_000)),
        "{locked} vs {}",
        minute(lock_ms)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_emoji_in_a_collection_note_is_stored_and_shown() {
    let server = TestServer::sandbox(PLAZA);
    let client = browser();
    let owner = Payer::create(&server, "Mei", 1).await;
    let payer = Payer::create(&server, "Lin", 5_000).await;
    let opened = owner
        .post(
            &server,
            "/api/v1/me/collection-code",
            &json!({ "name": "Mei's stall" }),
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let token = opened.json()["token"].as_str().unwrap().to_owned();
    // Pays `amount` fen to the collection code with a note.
    let collect = |amount: i64, note: String, client_ref: &str| {
        let body = json!({
            "token": token, "amount": amount, "note": note,
            "password": "123456", "client_ref": client_ref,
        });
        let (server, payer) = (&server, &payer);
        async move { payer.post(server, "/api/v1/pay/collect", &body).await }
    };
    let note = "谢谢 noodles 🍜🎉";
    let paid = collect(1_250, note.to_owned(), "emoji-note-1").await;
    assert_eq!(paid.status, 200, "{}", paid.text);
    let mine = owner
        .get(&server, "/api/v1/me/collection-code")
        .await
        .json();
    assert_eq!(mine["today"]["received"][0]["note"], note, "{mine}");
    let page = send(
        client
            .get(format!("{}/app/collect", server.base_url))
            .header("cookie", session_cookie(&owner)),
    )
    .await;
    assert!(page.text.contains(note), "{}", page.text);
    // Forty characters is still the most, counted as characters (an emoji is one).
    let refused = collect(100, "🍜".repeat(41), "emoji-note-2").await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    let forty = collect(100, "🍜".repeat(40), "emoji-note-3").await;
    assert_eq!(forty.status, 200, "{}", forty.text);
}

/// Over drop-in mode's HTTPS listener the cookies are `Secure`; over the plain listener
/// beside it, of the same server, they are not.
#[tokio::test(flavor = "multi_thread")]
async fn cookies_set_over_the_https_listener_are_secure() {
    let server = ServerOptions::new(PLAZA).drop_in().start();
    let payer = Payer::create(&server, "Lin", 1_000).await;
    let tls_client = plaza_testkit::http_client_builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&server.ca_pem()).unwrap())
        .resolve(
            "localhost",
            std::net::SocketAddr::from(([127, 0, 0, 1], server.tls_port())),
        )
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let over_tls = send(
        tls_client
            .post(format!(
                "https://localhost:{}/signin/token",
                server.tls_port()
            ))
            .form(&[("token", payer.token.as_str())]),
    )
    .await;
    assert_eq!(over_tls.status, 303, "{}", over_tls.text);
    let cookies = set_cookies(&over_tls);
    assert!(!cookies.is_empty());
    assert!(
        cookies.iter().all(|cookie| cookie.ends_with("; Secure")),
        "{cookies:?}"
    );
    let plain = send(
        browser()
            .post(format!("{}/signin/token", server.base_url))
            .form(&[("token", payer.token.as_str())]),
    )
    .await;
    assert!(
        set_cookies(&plain)
            .iter()
            .all(|cookie| !cookie.contains("Secure")),
        "{:?}",
        set_cookies(&plain)
    );
}
