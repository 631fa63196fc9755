//! `plaza demo`: Plaza in sandbox mode with a small seeded ecosystem — merchants with
//! their SDK configuration written to the data directory, payers with money in their
//! wallets, one paid order — and the URLs and SDK lines to start from.
//!
//! Seeding goes through the admin API of the server just started, like any operator
//! script would, and happens once per data directory (`demo/seeded` marks it). The SDK
//! files' `gateway` is rewritten at every start, since a restart may listen elsewhere.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// The demo's merchants: name and fee in basis points.
const MERCHANTS: [(&str, &str, u32); 3] = [
    ("Harbour Coffee", "harbour-coffee", 60),
    ("Lotus Books", "lotus-books", 38),
    ("Metro Bakery", "metro-bakery", 60),
];

/// The demo's payers: name and starting balance in fen. All use password 123456.
const PAYERS: [(&str, i64); 3] = [
    ("Lin Wei", 50_000),
    ("Chen Jing", 20_000),
    ("Zhang Min", 5_000),
];

/// The payers' payment password.
pub(crate) const DEMO_PASSWORD: &str = "123456";

async fn post(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    path: &str,
    body: &Value,
) -> anyhow::Result<Value> {
    let response = client
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .with_context(|| format!("cannot reach {base}"))?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("seeding the demo: {path} answered {status}: {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

/// Seeds the demo once, points its SDK files at `gateway` (the server's public base
/// URL), then prints where to go.
pub(crate) async fn seed_and_greet(
    base: &str,
    gateway: &str,
    token: &str,
    data_dir: &Path,
) -> anyhow::Result<()> {
    // Absolute, so the printed paths and the SDK snippet work from any folder.
    let demo_dir = std::path::absolute(data_dir.join("demo"))
        .with_context(|| format!("cannot resolve {}", data_dir.display()))?;
    let marker = demo_dir.join("seeded");
    let client = reqwest::Client::builder().no_proxy().build()?;
    if !marker.exists() {
        seed(&client, base, token, &demo_dir).await?;
        std::fs::write(&marker, "seeded\n")
            .with_context(|| format!("cannot write {}", marker.display()))?;
    }
    point_sdk_files_at(&demo_dir, gateway)?;
    let (appid, backend) =
        crate::demo_miniapp::start_backend(&client, base, token, &demo_dir).await?;
    let live = crate::demo_channels::start_live_room(&client, base, token, &demo_dir)
        .await
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "the demo starts without its live room");
            None
        });
    greet(base, &demo_dir, &appid, &backend, live.as_deref())
}

/// Seeds the demo's merchants, payers, first paid order, partners, codes and mini
/// program.
async fn seed(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    demo_dir: &Path,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(demo_dir)
        .with_context(|| format!("cannot create {}", demo_dir.display()))?;
    let mut first_merchant = None;
    for (name, slug, fee_rate_bps) in MERCHANTS {
        let merchant = post(
            client,
            base,
            token,
            "/api/v1/admin/merchants",
            &json!({ "name": name, "fee_rate_bps": fee_rate_bps }),
        )
        .await?;
        let path = demo_dir.join(format!("{slug}.json"));
        // SDK configurations hold private keys: the owner's alone.
        crate::datadir::create_private(&path, serde_json::to_string_pretty(&merchant)?.as_bytes())?;
        first_merchant.get_or_insert(merchant);
    }
    let mut first_payer = None;
    let mut payer_tokens = Vec::new();
    for (name, balance) in PAYERS {
        let payer = post(
            client,
            base,
            token,
            "/api/v1/admin/users",
            &json!({ "name": name, "password": DEMO_PASSWORD, "balance": balance }),
        )
        .await?;
        payer_tokens.push(payer["token"].as_str().unwrap_or_default().to_owned());
        first_payer.get_or_insert(payer);
    }
    // One order already paid, so the pages have history.
    if let (Some(merchant), Some(payer)) = (first_merchant, first_payer) {
        let order = post(
            client,
            base,
            token,
            &format!(
                "/api/v1/admin/merchants/{}/orders",
                merchant["mchid"].as_str().unwrap_or_default()
            ),
            &json!({ "description": "Cappuccino", "total": 2_800 }),
        )
        .await?;
        let paid = client
            .post(format!("{base}/api/v1/pay/confirm"))
            .bearer_auth(payer["token"].as_str().unwrap_or_default())
            .json(&json!({ "code_url": order["code_url"], "password": DEMO_PASSWORD }))
            .send()
            .await?;
        if !paid.status().is_success() {
            bail!(
                "seeding the demo: paying the first order failed: {}",
                paid.text().await?
            );
        }
    }
    seed_partners_and_codes(client, base, token, demo_dir).await?;
    crate::demo_miniapp::seed(client, base, token, demo_dir, DEMO_PASSWORD).await?;
    crate::demo_wecom::seed(client, base, token, demo_dir, DEMO_PASSWORD, &payer_tokens).await?;
    crate::demo_channels::seed(client, base, token, DEMO_PASSWORD, &payer_tokens, demo_dir).await?;
    Ok(())
}

/// Sets `gateway` in every SDK file of the demo that says otherwise. Each file is
/// replaced whole (written beside it, owner-only since it holds a private key, then
/// renamed over it), so a crash leaves the old file or the new one, never half of one.
fn point_sdk_files_at(demo_dir: &Path, gateway: &str) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(demo_dir)
        .with_context(|| format!("cannot read {}", demo_dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read {}", demo_dir.display()))?
            .path();
        if path.extension().is_none_or(|extension| extension != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let Ok(mut config) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if !config["gateway"].is_string() || config["gateway"] == gateway {
            continue;
        }
        config["gateway"] = json!(gateway);
        let fresh = path.with_extension("json.new");
        crate::datadir::create_private(&fresh, serde_json::to_string_pretty(&config)?.as_bytes())?;
        std::fs::rename(&fresh, &path)
            .with_context(|| format!("cannot rewrite {}", path.display()))?;
    }
    Ok(())
}

/// A service provider with a sub-merchant (its SDK configuration in
/// `demo/provider.json`), and a collection code opened by the last payer.
async fn seed_partners_and_codes(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    demo_dir: &Path,
) -> anyhow::Result<()> {
    let mut provider = post(
        client,
        base,
        token,
        "/api/v1/admin/providers",
        &json!({ "name": "Riverside Services" }),
    )
    .await?;
    let sp_mchid = provider["sp_mchid"].as_str().unwrap_or_default().to_owned();
    let sub = post(
        client,
        base,
        token,
        &format!("/api/v1/admin/providers/{sp_mchid}/sub-merchants"),
        &json!({ "name": "Riverside Noodles" }),
    )
    .await?;
    provider["sub_mchid"] = sub["sub_mchid"].clone();
    let path = demo_dir.join("provider.json");
    crate::datadir::create_private(&path, serde_json::to_string_pretty(&provider)?.as_bytes())?;
    let stall_owner = post(
        client,
        base,
        token,
        "/api/v1/admin/users",
        &json!({ "name": "Fruit Stall Wu", "password": DEMO_PASSWORD, "balance": 100 }),
    )
    .await?;
    let opened = client
        .post(format!("{base}/api/v1/me/collection-code"))
        .bearer_auth(stall_owner["token"].as_str().unwrap_or_default())
        .json(&json!({ "name": "Wu's Fruit Stall" }))
        .send()
        .await?;
    if !opened.status().is_success() {
        bail!(
            "seeding the demo: opening a collection code failed: {}",
            opened.text().await?
        );
    }
    Ok(())
}

#[expect(
    clippy::too_many_lines,
    reason = "the demo's greeting is one printed page, kept in one place to read as it prints"
)]
fn greet(
    base: &str,
    demo_dir: &Path,
    appid: &str,
    backend: &str,
    live: Option<&str>,
) -> anyhow::Result<()> {
    let first = demo_dir.join(format!("{}.json", MERCHANTS[0].1));
    let merchant: Value = serde_json::from_str(
        &std::fs::read_to_string(&first)
            .with_context(|| format!("cannot read {}", first.display()))?,
    )?;
    let config_files: Vec<String> = MERCHANTS
        .iter()
        .map(|(_, slug, _)| demo_dir.join(format!("{slug}.json")).display().to_string())
        .collect();
    let payers: Vec<&str> = PAYERS.iter().map(|(name, _)| *name).collect();
    let mut out = std::io::stdout().lock();
    writeln!(out)?;
    writeln!(out, "Plaza demo (sandbox mode) is running at {base}")?;
    writeln!(out)?;
    writeln!(
        out,
        "  Merchant demo  {base}/merchant   sign in as {}",
        MERCHANTS.map(|m| m.0).join(", ")
    )?;
    writeln!(
        out,
        "  Payer wallet   {base}/me         sign in as {} (password {DEMO_PASSWORD})",
        payers.join(", ")
    )?;
    writeln!(
        out,
        "  Collect        {base}/collect    sign in as Fruit Stall Wu: a collection code, live"
    )?;
    writeln!(
        out,
        "  Console        {base}/console    sign in as operator: the day by channel"
    )?;
    writeln!(
        out,
        "  Notifications  {base}/console/notifications    every notification: resend, replay, edit, faults, scripts"
    )?;
    writeln!(
        out,
        "  Mini program   {base}/mp/{appid}/qr    核酸疫苗预约: its code, then book and pay in the container (back end {backend})"
    )?;
    writeln!(
        out,
        "  WeCom          {base}/app/work   sign in as Wang Lei: the workbench; Chats has 星河车友群 with the payers ({})",
        crate::demo_wecom::CORP_NAME
    )?;
    writeln!(
        out,
        "  Channels       {base}/app/channels    视频号: the feed (sign in as a payer); 晚风乐队 and 山野小林 post from {base}/app/channels/studio"
    )?;
    if let Some(live) = live {
        writeln!(
            out,
            "  Live room      {live}    晚风乐队 on air, played from a file by ffmpeg"
        )?;
    }
    writeln!(out, "  Sign-in page   {base}/signin")?;
    writeln!(
        out,
        "  Sandbox clock  POST {base}/api/v1/sandbox/clock/advance  {{\"by_ms\": 86400000}}"
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "  SDK configs (one JSON per merchant: keys, APIv3 key, platform public key):"
    )?;
    for file in &config_files {
        writeln!(out, "    {file}")?;
    }
    writeln!(
        out,
        "    {}  (a service provider, with its sub_mchid)",
        demo_dir.join("provider.json").display()
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "  Point the Python SDK (pip install wechatpayv3) at it:"
    )?;
    writeln!(out)?;
    writeln!(out, "    import json")?;
    writeln!(out, "    from wechatpayv3 import WeChatPay, WeChatPayType")?;
    writeln!(
        out,
        "    c = json.load(open({:?}))",
        first.display().to_string()
    )?;
    writeln!(
        out,
        "    pay = WeChatPay(wechatpay_type=WeChatPayType.NATIVE, mchid=c[\"mchid\"], private_key=c[\"private_key\"],"
    )?;
    writeln!(
        out,
        "                    cert_serial_no=c[\"cert_serial_no\"], appid=c[\"appid\"], apiv3_key=c[\"apiv3_key\"],"
    )?;
    writeln!(
        out,
        "                    notify_url=\"http://127.0.0.1:9000/notify\", public_key=c[\"public_key\"], public_key_id=c[\"public_key_id\"])"
    )?;
    writeln!(
        out,
        "    pay._core._gate_way = c[\"gateway\"]   # {}",
        merchant["gateway"].as_str().unwrap_or(base)
    )?;
    writeln!(
        out,
        "    print(pay.pay(description=\"Latte\", out_trade_no=\"DEMO000001\", amount={{\"total\": 1800}}))"
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "  Ctrl-C stops it; `plaza demo` again resumes with the same data."
    )?;
    Ok(())
}
