//! Service providers (服务商) and sub-merchants over the APIv3 partner wire: the real
//! binary, requests signed with the provider's key, notifications in the partner shape,
//! refunds with `sub_mchid`, and the provider's commission at settlement.

use plaza_testkit::pay::{Merchant, NotifySink, Payer, SinkMode, available_balance};
use plaza_testkit::{Reply, TestServer};
use serde_json::{Value, json};

use crate::PLAZA;
const DAY_MS: i64 = 86_400_000;

async fn provider(server: &TestServer, name: &str, commission_bps: u32) -> Merchant {
    Merchant::create_provider(
        server,
        &json!({ "name": name, "commission_bps": commission_bps }),
    )
    .await
}

fn partner_order(provider: &Merchant, sub_mchid: &str, no: &str, total: i64, url: &str) -> Value {
    json!({
        "sp_appid": provider.appid,
        "sp_mchid": provider.mchid,
        "sub_mchid": sub_mchid,
        "description": "Beef noodles",
        "out_trade_no": no,
        "notify_url": url,
        "amount": {"total": total, "currency": "CNY"},
    })
}

/// The partner query of order `no` of `sub_mchid`, signed by `provider` as its sp_mchid.
async fn partner_query(
    server: &TestServer,
    provider: &Merchant,
    sub_mchid: &str,
    no: &str,
) -> Reply {
    let target = format!(
        "/v3/pay/partner/transactions/out-trade-no/{no}?sp_mchid={}&sub_mchid={sub_mchid}",
        provider.mchid
    );
    provider.get(server, &target).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_takes_a_sub_merchants_payment_refunds_it_and_earns_its_commission() {
    let server = TestServer::sandbox(PLAZA);
    // Pinned, so the test's day arithmetic is the same at any hour.
    let _pinned = server.pin_clock("10:00").await;
    let sink = NotifySink::start(SinkMode::Accept).await;
    let acme = provider(&server, "Acme Services", 2_500).await;
    let sub_appid = "wx5ab0000000000001";
    let noodles = acme
        .add_sub_merchant(
            &server,
            &json!({ "name": "Noodle Bar", "sub_appid": sub_appid, "fee_rate_bps": 60 }),
        )
        .await;
    let payer = Payer::create(&server, "Alice", 20_000).await;

    // Native prepay through the partner API, signed by the provider.
    let mut order = partner_order(&acme, &noodles, "NB-0001", 10_000, &sink.url);
    order["sub_appid"] = json!(sub_appid);
    let reply = acme
        .post_ok(&server, "/v3/pay/partner/transactions/native", &order)
        .await;
    let code_url = reply["code_url"].as_str().unwrap().to_owned();

    // The partner query names both merchants, not `mchid`.
    let unpaid = partner_query(&server, &acme, &noodles, "NB-0001").await;
    assert_eq!(unpaid.status, 200, "{}", unpaid.text);
    let unpaid = unpaid.json();
    assert_eq!(unpaid["sp_mchid"], acme.mchid.as_str());
    assert_eq!(unpaid["sub_mchid"], noodles.as_str());
    assert_eq!(unpaid["sp_appid"], acme.appid.as_str());
    assert_eq!(unpaid["sub_appid"], sub_appid);
    assert_eq!(unpaid["trade_state"], "NOTPAY");
    assert!(unpaid.get("mchid").is_none(), "{unpaid}");

    // The payer pays; the provider is notified, with its own APIv3 key.
    payer.pay(&server, &code_url).await;
    let notes = sink.wait_for(1).await;
    let note = notes[0].json();
    assert_eq!(note["event_type"], "TRANSACTION.SUCCESS");
    let resource = acme.decrypt(&note);
    assert_eq!(resource["sp_mchid"], acme.mchid.as_str());
    assert_eq!(resource["sub_mchid"], noodles.as_str());
    assert_eq!(resource["sp_appid"], acme.appid.as_str());
    assert_eq!(resource["sub_appid"], sub_appid);
    assert_eq!(resource["trade_state"], "SUCCESS");
    assert_eq!(
        resource["payer"]["sp_openid"],
        payer.openid(&server, &acme.appid).await.as_str()
    );
    assert_eq!(
        resource["payer"]["sub_openid"],
        payer.openid(&server, sub_appid).await.as_str()
    );
    assert!(resource.get("mchid").is_none(), "{resource}");
    let transaction_id = resource["transaction_id"].as_str().unwrap().to_owned();

    let by_id = acme
        .get_ok(
            &server,
            &format!(
                "/v3/pay/partner/transactions/id/{transaction_id}?sp_mchid={}&sub_mchid={noodles}",
                acme.mchid
            ),
        )
        .await;
    assert_eq!(by_id["out_trade_no"], "NB-0001");

    // A refund names the sub-merchant; its notification is in the partner shape.
    let refund = acme
        .post_ok(
            &server,
            "/v3/refund/domestic/refunds",
            &json!({
                "sub_mchid": noodles,
                "out_trade_no": "NB-0001",
                "out_refund_no": "NB-R1",
                "notify_url": sink.url,
                "amount": {"refund": 1_000, "total": 10_000, "currency": "CNY"},
            }),
        )
        .await;
    assert_eq!(refund["status"], "SUCCESS");
    let queried = acme
        .get_ok(
            &server,
            &format!("/v3/refund/domestic/refunds/NB-R1?sub_mchid={noodles}"),
        )
        .await;
    assert_eq!(queried["amount"]["refund"], 1_000);
    let notes = sink.wait_for(2).await;
    let refund_note = notes
        .iter()
        .map(|received| received.json())
        .find(|body| body["event_type"] == "REFUND.SUCCESS")
        .unwrap();
    let refund_resource = acme.decrypt(&refund_note);
    assert_eq!(refund_resource["sp_mchid"], acme.mchid.as_str());
    assert_eq!(refund_resource["sub_mchid"], noodles.as_str());
    assert!(refund_resource.get("mchid").is_none(), "{refund_resource}");

    // Settlement: the sub-merchant gets its money; the provider its share of the fee.
    // Fee 0.6% of 10,000 = 60; the 1,000 refund took back 6 of it; 25% of 54 = 13.5,
    // rounded down to 13 (the platform keeps the odd fen).
    server.advance_clock(DAY_MS + 3 * 3_600_000).await;
    assert_eq!(
        available_balance(&server, &noodles).await,
        10_000 - 60 - (1_000 - 6)
    );
    assert_eq!(acme.available_balance(&server).await, 13);
    let view = server
        .admin_get(&format!("/api/v1/admin/providers/{}", acme.mchid))
        .await;
    assert_eq!(view.status, 200, "{}", view.text);
    assert_eq!(view.json()["kind"], "provider");
    assert_eq!(view.json()["sub_merchants"][0]["mchid"], noodles.as_str());
    assert_eq!(view.json()["sub_merchants"][0]["kind"], "sub_merchant");
    server.assert_ledger_sound().await;
}

/// Pays a partner Native order of `total` for `sub_mchid` through `provider`; returns the
/// day it was paid on.
async fn paid_partner_order(
    server: &TestServer,
    provider: &Merchant,
    (sub_mchid, no, total): (&str, &str, i64),
    payer: &Payer,
) -> String {
    let order = partner_order(provider, sub_mchid, no, total, "https://m.example/n");
    let reply = provider
        .post_ok(server, "/v3/pay/partner/transactions/native", &order)
        .await;
    let code_url = reply["code_url"].as_str().unwrap().to_owned();
    payer.pay(server, &code_url).await;
    let paid = partner_query(server, provider, sub_mchid, no).await.json();
    assert_eq!(paid["trade_state"], "SUCCESS", "{paid}");
    paid["success_time"].as_str().unwrap()[..10].to_owned()
}

/// A provider's trade bills of `days` (`extra`: more query parameters), each hash-checked
/// with its totals row adding up, as one list of rows.
async fn provider_bill_rows(
    server: &TestServer,
    provider: &Merchant,
    days: &std::collections::BTreeSet<String>,
    extra: &str,
) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut rows = Vec::new();
    for day in days {
        let text = provider
            .bill_text(
                server,
                &format!("/v3/bill/tradebill?bill_date={day}{extra}"),
            )
            .await;
        let bill = plaza_testkit::pay::TradeBill::parse(&text);
        bill.assert_totals_add_up();
        rows.extend(bill.rows);
    }
    rows
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_gets_its_sub_merchants_trade_bills_and_its_commission_in_its_fund_flow() {
    use std::collections::BTreeSet;
    let server = TestServer::sandbox(PLAZA);
    // Pinned, so the test's day arithmetic is the same at any hour.
    let _pinned = server.pin_clock("10:00").await;
    let acme = provider(&server, "Acme Services", 2_500).await;
    let other = provider(&server, "Other Services", 2_500).await;
    let noodles = acme
        .add_sub_merchant(
            &server,
            &json!({ "name": "Noodle Bar", "fee_rate_bps": 60 }),
        )
        .await;
    let tea = acme
        .add_sub_merchant(&server, &json!({ "name": "Tea House", "fee_rate_bps": 60 }))
        .await;
    let theirs = other
        .add_sub_merchant(&server, &json!({ "name": "Theirs" }))
        .await;
    let payer = Payer::create(&server, "Alice", 50_000).await;

    let noodle_day =
        paid_partner_order(&server, &acme, (&noodles, "NB-BILL1", 10_000), &payer).await;
    let tea_day = paid_partner_order(&server, &acme, (&tea, "TEA-BILL1", 3_000), &payer).await;
    let theirs_day =
        paid_partner_order(&server, &other, (&theirs, "TH-BILL1", 2_000), &payer).await;
    let refund = acme
        .post_ok(
            &server,
            "/v3/refund/domestic/refunds",
            &json!({
                "sub_mchid": noodles, "out_trade_no": "NB-BILL1", "out_refund_no": "NB-BREF1",
                "amount": {"refund": 1_000, "total": 10_000, "currency": "CNY"},
            }),
        )
        .await;
    let refund_day = refund["success_time"].as_str().unwrap()[..10].to_owned();
    // The day settles at 02:00 the next day; two days later, every day involved (and the
    // settlement's day) is over.
    server.advance_clock(DAY_MS + 3 * 3_600_000).await;
    server.advance_clock(2 * DAY_MS).await;

    // One sub-merchant's bill: its payment and refund, under the provider's mchid with
    // the sub-merchant as 特约商户号 and the provider's sp_appid.
    let noodle_days = BTreeSet::from([noodle_day.clone(), refund_day.clone()]);
    let rows = provider_bill_rows(
        &server,
        &acme,
        &noodle_days,
        &format!("&sub_mchid={noodles}"),
    )
    .await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in &rows {
        assert_eq!(row["商户号"], acme.mchid, "{row:?}");
        assert_eq!(row["特约商户号"], noodles, "{row:?}");
        assert_eq!(row["公众账号ID"], acme.appid, "{row:?}");
        assert_eq!(row["商户订单号"], "NB-BILL1", "{row:?}");
        assert_eq!(row["费率"], "0.60%", "{row:?}");
    }
    let payment = rows
        .iter()
        .find(|row| row["交易状态"] == "SUCCESS")
        .unwrap();
    assert_eq!(
        (payment["订单金额"].as_str(), payment["手续费"].as_str()),
        ("100.00", "0.60000")
    );
    let refunded = rows.iter().find(|row| row["交易状态"] == "REFUND").unwrap();
    assert_eq!(
        (
            refunded["商户退款单号"].as_str(),
            refunded["申请退款金额"].as_str()
        ),
        ("NB-BREF1", "10.00")
    );

    // Without sub_mchid: all of its sub-merchants, and nobody else's.
    let all_days = BTreeSet::from([noodle_day.clone(), tea_day.clone(), refund_day.clone()]);
    let rows = provider_bill_rows(&server, &acme, &all_days, "").await;
    let numbers: BTreeSet<(&str, &str)> = rows
        .iter()
        .map(|row| (row["特约商户号"].as_str(), row["商户订单号"].as_str()))
        .collect();
    assert_eq!(
        numbers,
        BTreeSet::from([(noodles.as_str(), "NB-BILL1"), (tea.as_str(), "TEA-BILL1")]),
        "{rows:?}"
    );
    assert_eq!(rows.len(), 3, "{rows:?}");
    let other_rows =
        provider_bill_rows(&server, &other, &BTreeSet::from([theirs_day.clone()]), "").await;
    assert_eq!(other_rows.len(), 1);
    assert_eq!(other_rows[0]["商户订单号"], "TH-BILL1");

    // Another provider's sub-merchant is refused, as is an unknown one; a direct
    // merchant has no sub_mchid to give, and has no sub-merchant's fund flow to ask for;
    // a sub-merchant's fund flow is only sent encrypted.
    let direct = Merchant::create(&server, "Direct Shop").await;
    let sub_fund_flow_bill = "sub-merchant-fundflowbill";
    let algorithm = "algorithm=AEAD_AES_256_GCM&account_type=BASIC";
    for (who, kind, query, (status, code)) in [
        (
            &acme,
            "tradebill",
            format!("bill_date={theirs_day}&sub_mchid={theirs}"),
            (403, "NO_AUTH"),
        ),
        (
            &acme,
            "tradebill",
            format!("bill_date={theirs_day}&sub_mchid=1999999999"),
            (400, "MCH_NOT_EXISTS"),
        ),
        (
            &direct,
            "tradebill",
            format!("bill_date={noodle_day}&sub_mchid={noodles}"),
            (400, "PARAM_ERROR"),
        ),
        (
            &acme,
            sub_fund_flow_bill,
            format!("sub_mchid={theirs}&bill_date={noodle_day}&{algorithm}"),
            (403, "NO_AUTH"),
        ),
        (
            &direct,
            sub_fund_flow_bill,
            format!("sub_mchid={noodles}&bill_date={noodle_day}&{algorithm}"),
            (403, "NO_AUTH"),
        ),
        (
            &acme,
            sub_fund_flow_bill,
            format!("sub_mchid={noodles}&bill_date={noodle_day}&account_type=BASIC"),
            (400, "PARAM_ERROR"),
        ),
    ] {
        let target = format!("/v3/bill/{kind}?{query}");
        let reply = who.get(&server, &target).await;
        reply.assert_error(status, code);
        assert!(who.verifies(&reply), "{target}");
    }
    // "No activity" only where there was none: Tea House had no refunds.
    let none = acme
        .get(
            &server,
            &format!("/v3/bill/tradebill?bill_date={tea_day}&bill_type=REFUND&sub_mchid={tea}"),
        )
        .await;
    none.assert_error(400, "NO_STATEMENT_EXIST");
    assert!(
        none.json()["message"].as_str().unwrap().contains(&tea),
        "{}",
        none.text
    );

    // The provider's own fund-flow bill: its commission comes in at each sub-merchant's
    // settlement. Noodles' fee is 60 less the 6 its refund took back, 25% of 54 = 13 (rounded
    // down); Tea House's 18, 25% = 4.
    let mut commission = Vec::new();
    let mut day: jiff::civil::Date = noodle_day.parse().unwrap();
    for _ in 0..3 {
        let flow = acme
            .get(&server, &format!("/v3/bill/fundflowbill?bill_date={day}"))
            .await;
        if flow.status == 200 {
            let text = acme
                .bill_text(&server, &format!("/v3/bill/fundflowbill?bill_date={day}"))
                .await;
            for line in text.lines().filter(|line| line.contains("`commission")) {
                assert!(line.contains("`收入,"), "{line}");
                commission.push(line.split(",`").nth(6).unwrap().to_owned());
            }
        } else {
            flow.assert_error(400, "NO_STATEMENT_EXIST");
        }
        day = day.tomorrow().unwrap();
    }
    commission.sort();
    assert_eq!(commission, ["0.04", "0.13"], "the commission rows");
    assert_eq!(acme.available_balance(&server).await, 13 + 4);

    // The provider's copy of a sub-merchant's fund-flow bill, encrypted for it: Noodle
    // Bar's settlement comes in (10,000 less the 60 fee and the 1,000 refund with its 6 of
    // fee back).
    let mut settled = Vec::new();
    let mut day: jiff::civil::Date = noodle_day.parse().unwrap();
    for _ in 0..3 {
        if let Some(text) = sub_fund_flow(&server, &acme, &noodles, &day.to_string()).await {
            for line in text.lines().filter(|line| line.contains("`settle ")) {
                settled.push(line.split(",`").nth(6).unwrap().to_owned());
            }
        }
        day = day.tomorrow().unwrap();
    }
    assert_eq!(settled, ["89.46"], "Noodle Bar's settlement");
    assert_eq!(available_balance(&server, &noodles).await, 8_946);
}

/// A sub-merchant's fund-flow bill of `day` as its provider gets it (gzip, encrypted):
/// the key decrypted with the provider's private key, the file opened with it and the
/// nonce, unzipped and hash-checked. `None` when the day had no movements.
async fn sub_fund_flow(
    server: &TestServer,
    provider: &Merchant,
    sub_mchid: &str,
    day: &str,
) -> Option<String> {
    let reply = provider
        .get(
            server,
            &format!(
                "/v3/bill/sub-merchant-fundflowbill?sub_mchid={sub_mchid}&bill_date={day}\
                 &account_type=BASIC&algorithm=AEAD_AES_256_GCM&tar_type=GZIP"
            ),
        )
        .await;
    if reply.status == 400 && reply.json()["code"] == "NO_STATEMENT_EXIST" {
        return None;
    }
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(provider.verifies(&reply));
    let answer = reply.json();
    assert_eq!(answer["download_bill_count"], 1, "{answer}");
    let part = &answer["download_bill_list"][0];
    assert_eq!(part["bill_sequence"], 1);
    assert_eq!(part["hash_type"], "SHA1");
    let key = provider.decrypt_oaep(part["encrypt_key"].as_str().unwrap());
    let key = String::from_utf8(key).unwrap();
    let sealed = provider
        .download_bill(
            &plaza_testkit::http_client(),
            &server.base_url,
            part["download_url"].as_str().unwrap(),
        )
        .await;
    let gzipped = plaza_wx::aead::open(&key, part["nonce"].as_str().unwrap(), "", sealed).unwrap();
    let text = plaza_testkit::pay::gunzip(&gzipped);
    assert_eq!(
        Some(plaza_wx::digest::sha1_hex(text.as_bytes()).as_str()),
        part["hash_value"].as_str()
    );
    assert!(text.starts_with("记账时间,"), "{text}");
    Some(text)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_acts_only_for_its_own_sub_merchants_and_apps() {
    let server = TestServer::sandbox(PLAZA);
    let acme = provider(&server, "Acme Services", 2_000).await;
    let other = provider(&server, "Other Services", 2_000).await;
    let sub_appid = "wx5ab0000000000002";
    let ours = acme
        .add_sub_merchant(&server, &json!({ "name": "Ours", "sub_appid": sub_appid }))
        .await;
    let theirs = other
        .add_sub_merchant(&server, &json!({ "name": "Theirs" }))
        .await;
    let native = "/v3/pay/partner/transactions/native";
    let url = "https://merchant.example/notify";

    // Another provider's sub-merchant: NO_AUTH, and nothing is created.
    let foreign = acme
        .post(
            &server,
            native,
            &partner_order(&acme, &theirs, "XORD-1", 100, url),
        )
        .await;
    foreign.assert_error(403, "NO_AUTH");
    assert!(acme.verifies(&foreign), "errors are signed too");
    let lookup = partner_query(&server, &other, &theirs, "XORD-1").await;
    lookup.assert_error(404, "ORDER_NOT_EXIST");
    let foreign_query = partner_query(&server, &acme, &theirs, "XORD-1").await;
    foreign_query.assert_error(403, "NO_AUTH");

    // sp_appid must be the provider's, sub_appid the sub-merchant's.
    let mut wrong_app = partner_order(&acme, &ours, "XORD-2", 100, url);
    wrong_app["sp_appid"] = json!(other.appid);
    let reply = acme.post(&server, native, &wrong_app).await;
    reply.assert_error(400, "APPID_MCHID_NOT_MATCH");
    let mut wrong_sub_app = partner_order(&acme, &ours, "XORD-3", 100, url);
    wrong_sub_app["sub_appid"] = json!("wx5ab0000000000099");
    let reply = acme.post(&server, native, &wrong_sub_app).await;
    reply.assert_error(400, "APPID_MCHID_NOT_MATCH");

    // The body must name the signer as sp_mchid, and a sub-merchant.
    let mut not_signer = partner_order(&acme, &ours, "XORD-4", 100, url);
    not_signer["sp_mchid"] = json!(other.mchid);
    let reply = acme.post(&server, native, &not_signer).await;
    reply.assert_error(400, "PARAM_ERROR");
    assert_eq!(reply.json()["detail"]["field"], "/sp_mchid");
    let mut no_sub = partner_order(&acme, &ours, "XORD-5", 100, url);
    no_sub.as_object_mut().unwrap().remove("sub_mchid");
    let reply = acme.post(&server, native, &no_sub).await;
    reply.assert_error(400, "PARAM_ERROR");
    assert_eq!(reply.json()["detail"]["field"], "/sub_mchid");

    // A provider is not paid directly.
    let direct = acme
        .post(
            &server,
            "/v3/pay/transactions/native",
            &json!({
                "appid": acme.appid, "mchid": acme.mchid, "description": "x",
                "out_trade_no": "XORD-6", "notify_url": url,
                "amount": {"total": 100, "currency": "CNY"},
            }),
        )
        .await;
    direct.assert_error(403, "NO_AUTH");

    // JSAPI: sub_openid needs sub_appid; the order is made out to that payer only.
    let jsapi = "/v3/pay/partner/transactions/jsapi";
    let payer = Payer::create(&server, "Bob", 1_000).await;
    let stranger = Payer::create(&server, "Eve", 1_000).await;
    let mut sub_openid_only = partner_order(&acme, &ours, "XORD-7", 100, url);
    sub_openid_only["payer"] = json!({ "sub_openid": payer.openid(&server, sub_appid).await });
    let reply = acme.post(&server, jsapi, &sub_openid_only).await;
    reply.assert_error(400, "PARAM_ERROR");
    assert_eq!(reply.json()["detail"]["field"], "/payer/sub_openid");
    sub_openid_only["sub_appid"] = json!(sub_appid);
    let reply = acme.post_ok(&server, jsapi, &sub_openid_only).await;
    let prepay_id = reply["prepay_id"].as_str().unwrap().to_owned();
    let confirm = json!({ "prepay_id": prepay_id, "password": "123456" });
    let refused = stranger
        .post(&server, "/api/v1/pay/confirm", &confirm)
        .await;
    assert_eq!(refused.json()["code"], "not_the_payer", "{}", refused.text);
    payer
        .post_ok(&server, "/api/v1/pay/confirm", &confirm)
        .await;

    // Refunds: a provider must name its own sub-merchant.
    let refund = |sub: Option<&str>| {
        let mut body = json!({
            "out_trade_no": "XORD-7", "out_refund_no": "XREF-1",
            "amount": {"refund": 10, "total": 100, "currency": "CNY"},
        });
        if let Some(sub) = sub {
            body["sub_mchid"] = json!(sub);
        }
        body
    };
    let path = "/v3/refund/domestic/refunds";
    let reply = acme.post(&server, path, &refund(None)).await;
    reply.assert_error(400, "PARAM_ERROR");
    assert_eq!(reply.json()["detail"]["field"], "/sub_mchid");
    let reply = acme.post(&server, path, &refund(Some(&theirs))).await;
    reply.assert_error(403, "NO_AUTH");
    let reply = other.post(&server, path, &refund(Some(&ours))).await;
    reply.assert_error(403, "NO_AUTH");
    acme.post_ok(&server, path, &refund(Some(&ours))).await;

    // Sub-merchants are onboarded only under providers.
    let merchant = Merchant::create(&server, "Plain Shop").await;
    let reply = server
        .admin_post(
            &format!("/api/v1/admin/providers/{}/sub-merchants", merchant.mchid),
            &json!({ "name": "Nope" }),
        )
        .await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    assert_eq!(reply.json()["code"], "invalid_field");
    server.assert_ledger_sound().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_cli_creates_providers_and_sub_merchants() {
    let server = TestServer::sandbox(PLAZA);
    let run = |args: &[&str]| {
        let output = std::process::Command::new(PLAZA)
            .args(args)
            .arg("--data-dir")
            .arg(&server.data_dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let provider: Value = serde_json::from_str(&run(&[
        "admin",
        "provider",
        "create",
        "--name",
        "CLI Services",
        "--json",
    ]))
    .unwrap();
    for field in [
        "sp_mchid",
        "sp_appid",
        "cert_serial_no",
        "private_key",
        "apiv3_key",
        "public_key_id",
        "public_key",
        "gateway",
    ] {
        assert!(
            provider[field]
                .as_str()
                .is_some_and(|value| !value.is_empty()),
            "{field} in {provider}"
        );
    }
    assert_eq!(provider["commission_bps"], 2_000);
    let sp_mchid = provider["sp_mchid"].as_str().unwrap();
    let sub: Value = serde_json::from_str(&run(&[
        "admin",
        "sub-merchant",
        "create",
        "--provider",
        sp_mchid,
        "--name",
        "CLI Noodles",
        "--fee-rate-bps",
        "38",
        "--json",
    ]))
    .unwrap();
    assert_eq!(sub["sp_mchid"], sp_mchid);
    assert_eq!(sub["fee_rate_bps"], 38);
    let text = run(&[
        "admin",
        "sub-merchant",
        "create",
        "--provider",
        sp_mchid,
        "--name",
        "Text Noodles",
    ]);
    assert!(text.contains("sub_mchid:"), "{text}");
    let listed = server
        .admin_get(&format!("/api/v1/admin/providers/{sp_mchid}/sub-merchants"))
        .await;
    assert_eq!(listed.json()["sub_merchants"].as_array().unwrap().len(), 2);
}
