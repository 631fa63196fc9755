//! The demo's mini program: 核酸检测 · 疫苗预约, a booking service whose package is in
//! `web/demo-miniapp/` and whose back end (`plaza-demo-clinic`) runs beside Plaza and
//! talks to it over loopback HTTP only, through WeChat's endpoints.
//!
//! Seeded once like the rest of the demo, through the admin and developer APIs: a
//! developer, the mini program with its merchant, the package uploaded, reviewed and
//! released. At every start the back end starts on a free port, and the app's request
//! domain and ext config (`backend`) are pointed at it.

use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// The package's files, embedded.
const PACKAGE: &[(&str, &str)] = &[
    (
        "app.json",
        include_str!("../../../web/demo-miniapp/app.json"),
    ),
    (
        "common.css",
        include_str!("../../../web/demo-miniapp/common.css"),
    ),
    (
        "pages/index/index.html",
        include_str!("../../../web/demo-miniapp/pages/index/index.html"),
    ),
    (
        "pages/book/book.html",
        include_str!("../../../web/demo-miniapp/pages/book/book.html"),
    ),
    (
        "pages/mine/mine.html",
        include_str!("../../../web/demo-miniapp/pages/mine/mine.html"),
    ),
];

/// Where the back end's credentials are kept (owner-only: they hold keys).
const CLINIC_FILE: &str = "clinic.json";

async fn call(request: reqwest::RequestBuilder, what: &str) -> anyhow::Result<Value> {
    let response = request
        .send()
        .await
        .with_context(|| format!("seeding the mini program: {what}"))?;
    let status = response.status();
    let text = response.text().await?;
    if !status.is_success() {
        bail!("seeding the mini program: {what} answered {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The package as a zip.
fn package_zip() -> anyhow::Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (path, text) in PACKAGE {
        writer.start_file(*path, options)?;
        writer.write_all(text.as_bytes())?;
    }
    Ok(writer.finish()?.into_inner())
}

/// Seeds the mini program once: its developer (signing in with `password`), the app
/// and its merchant, the released package, and the back end's credentials in
/// `demo/clinic.json`.
pub(crate) async fn seed(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    demo_dir: &Path,
    password: &str,
) -> anyhow::Result<()> {
    let admin = |path: &str| client.post(format!("{base}{path}")).bearer_auth(token);
    let developer = call(
        admin("/api/v1/admin/users")
            .json(&json!({"name": "Dev Zhao", "password": password, "balance": 100})),
        "the developer",
    )
    .await?;
    let app = call(
        admin("/api/v1/admin/miniapps").json(&json!({
            "developer": developer["user_id"],
            "name": "核酸疫苗预约",
            "icon": "核",
            "category": "政务民生",
            "description": "核酸检测、疫苗接种在线预约与缴费",
            "service_keywords": ["核酸检测", "核酸预约", "疫苗预约", "打疫苗"],
            "service_pages": {
                "核酸检测": "pages/index/index?service=nat",
                "核酸预约": "pages/index/index?service=nat",
                "疫苗预约": "pages/index/index?service=vaccine",
                "打疫苗": "pages/index/index?service=vaccine",
            },
        })),
        "the mini program",
    )
    .await?;
    let appid = app["appid"].as_str().context("an appid")?.to_owned();
    let merchant = call(
        admin("/api/v1/admin/merchants").json(&json!({"name": "城市核酸检测服务", "appid": appid})),
        "its merchant",
    )
    .await?;
    call(
        client
            .put(format!("{base}/api/v1/admin/miniapps/{appid}/merchant"))
            .bearer_auth(token)
            .json(&json!({"mchid": merchant["mchid"]})),
        "binding the merchant",
    )
    .await?;
    release(
        client,
        base,
        token,
        developer["token"].as_str().unwrap_or_default(),
        &appid,
    )
    .await?;
    let credentials = json!({
        "appid": appid,
        "secret": app["secret"],
        "mchid": merchant["mchid"],
        "cert_serial_no": merchant["cert_serial_no"],
        "private_key": merchant["private_key"],
        "apiv3_key": merchant["apiv3_key"],
        "public_key": merchant["public_key"],
    });
    crate::datadir::create_private(
        &demo_dir.join(CLINIC_FILE),
        serde_json::to_string_pretty(&credentials)?.as_bytes(),
    )
}

/// Uploads the package (operator), submits it (developer), approves it (operator) and
/// releases it (developer).
async fn release(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    developer_token: &str,
    appid: &str,
) -> anyhow::Result<()> {
    call(
        client
            .post(format!("{base}/api/v1/admin/miniapps/{appid}/versions?user_version=1.0.0&user_desc=first%20release"))
            .bearer_auth(token)
            .header("content-type", "application/zip")
            .body(package_zip()?),
        "uploading the package",
    )
    .await?;
    let as_developer = |path: &str| {
        client
            .post(format!("{base}/api/v1/me/miniapps/{appid}{path}"))
            .bearer_auth(developer_token)
            .json(&json!({}))
    };
    call(
        as_developer("/versions/1/submit"),
        "submitting it for review",
    )
    .await?;
    call(
        client
            .post(format!("{base}/api/v1/admin/miniapps/{appid}/review"))
            .bearer_auth(token)
            .json(&json!({"decision": "approve"})),
        "approving it",
    )
    .await?;
    call(as_developer("/release"), "releasing it").await?;
    Ok(())
}

/// Starts the back end and points the app at it; the app's appid and the back end's
/// address.
pub(crate) async fn start_backend(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    demo_dir: &Path,
) -> anyhow::Result<(String, String)> {
    let path = demo_dir.join(CLINIC_FILE);
    let mut credentials: Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?,
    )?;
    credentials["plaza_base"] = json!(base);
    let credentials: plaza_demo_clinic::Credentials = serde_json::from_value(credentials)?;
    let appid = credentials.appid.clone();
    let running = plaza_demo_clinic::start(credentials, ([127, 0, 0, 1], 0).into()).await?;
    call(
        client
            .patch(format!("{base}/api/v1/admin/miniapps/{appid}"))
            .bearer_auth(token)
            .json(&json!({"request_domains": [running.base_url], "ext_config": {"backend": running.base_url}})),
        "pointing the app at its back end",
    )
    .await?;
    Ok((appid, running.base_url))
}
