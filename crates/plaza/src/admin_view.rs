//! What `plaza admin … list` and `show` (and `miniapp create`) print without `--json`:
//! tables and a few labelled lines, made from the admin API's JSON. Money is in yuan, as
//! on every page. Names come last in a table, so wide characters in them never skew its
//! columns.

use serde_json::Value;

use crate::yuan::format_fen;

/// Columns padded to their widest cell; the last column is not padded.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|cell| cell.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|cell| (*cell).to_owned()).collect();
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        let mut line = String::new();
        for (index, cell) in row.iter().enumerate() {
            if index == last {
                line.push_str(cell);
            } else {
                let width = widths.get(index).copied().unwrap_or(0);
                line.push_str(&format!("{cell:<width$}  "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn text(value: &Value, field: &str) -> String {
    match &value[field] {
        Value::String(text) => text.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

fn money(value: &Value, field: &str) -> String {
    value[field]
        .as_i64()
        .map_or_else(|| "-".to_owned(), format_fen)
}

/// `0.60%` from 60 basis points.
fn percent(value: &Value, field: &str) -> String {
    value[field].as_u64().map_or_else(
        || "-".to_owned(),
        |bps| format!("{}.{:02}%", bps / 100, bps % 100),
    )
}

fn items<'a>(listed: &'a Value, field: &str) -> &'a [Value] {
    listed[field].as_array().map_or(&[], Vec::as_slice)
}

/// What to say under a list.
fn footer(count: usize, what: &str, create: &str) -> String {
    match count {
        0 => format!("no {what} yet: {create}\n"),
        1 => "1 shown\n".to_owned(),
        _ => format!("{count} shown, oldest first\n"),
    }
}

/// How many a list answer holds (its one array).
pub(crate) fn count(listed: &Value) -> usize {
    listed
        .as_object()
        .and_then(|object| object.values().find_map(Value::as_array))
        .map_or(0, Vec::len)
}

pub(crate) fn merchants(listed: &Value) -> String {
    let merchants = items(listed, "merchants");
    let rows: Vec<Vec<String>> = merchants
        .iter()
        .map(|merchant| {
            vec![
                text(merchant, "mchid"),
                text(merchant, "kind"),
                percent(merchant, "fee_rate_bps"),
                money(merchant, "available_balance"),
                text(merchant, "created_at"),
                text(merchant, "name"),
            ]
        })
        .collect();
    let header = ["MCHID", "KIND", "FEE", "AVAILABLE", "CREATED", "NAME"];
    let mut out = if rows.is_empty() {
        String::new()
    } else {
        table(&header, &rows)
    };
    out.push_str(&footer(
        merchants.len(),
        "merchants",
        "plaza admin merchant create --name NAME",
    ));
    out
}

pub(crate) fn providers(listed: &Value) -> String {
    let providers = items(listed, "providers");
    let rows: Vec<Vec<String>> = providers
        .iter()
        .map(|provider| {
            vec![
                text(provider, "mchid"),
                percent(provider, "commission_bps"),
                money(provider, "available_balance"),
                text(provider, "created_at"),
                text(provider, "name"),
            ]
        })
        .collect();
    let header = ["SP_MCHID", "COMMISSION", "AVAILABLE", "CREATED", "NAME"];
    let mut out = if rows.is_empty() {
        String::new()
    } else {
        table(&header, &rows)
    };
    out.push_str(&footer(
        providers.len(),
        "service providers",
        "plaza admin provider create --name NAME",
    ));
    out
}

pub(crate) fn users(listed: &Value) -> String {
    let users = items(listed, "users");
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|user| {
            vec![
                text(user, "user_id"),
                money(user, "balance"),
                text(user, "created_at"),
                text(user, "name"),
            ]
        })
        .collect();
    let mut out = if rows.is_empty() {
        String::new()
    } else {
        table(&["USER_ID", "BALANCE", "CREATED", "NAME"], &rows)
    };
    out.push_str(&footer(
        users.len(),
        "users",
        "plaza admin user create --name NAME",
    ));
    out
}

/// Labelled lines, the labels padded to one width.
fn lines(title: String, fields: &[(&str, String)]) -> String {
    let width = fields
        .iter()
        .map(|(label, _)| label.chars().count() + 1)
        .max()
        .unwrap_or(0);
    let mut out = format!("{title}\n");
    for (label, value) in fields {
        let label = format!("{label}:");
        out.push_str(&format!("  {label:<width$} {value}\n"));
    }
    out
}

fn merchant_fields(merchant: &Value) -> Vec<(&'static str, String)> {
    let appids: Vec<String> = merchant["appids"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(|appid| appid.as_str().map(str::to_owned))
        .collect();
    let keys: Vec<String> = merchant["keys"]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .map(|key| {
            format!(
                "{} (added {})",
                text(key, "serial_no"),
                text(key, "added_at")
            )
        })
        .collect();
    let mut fields = vec![
        ("mchid", text(merchant, "mchid")),
        ("kind", text(merchant, "kind")),
        ("appids", appids.join(", ")),
        ("fee", percent(merchant, "fee_rate_bps")),
    ];
    if merchant["kind"] == "provider" {
        fields.push((
            "commission",
            format!("{} of the fee", percent(merchant, "commission_bps")),
        ));
    }
    if merchant["provider"].is_string() {
        fields.push(("provider", text(merchant, "provider")));
    }
    fields.extend([
        ("sign_mode", text(merchant, "sign_mode")),
        ("available", money(merchant, "available_balance")),
        ("pending today", money(merchant, "pending_today")),
        ("keys", keys.join(", ")),
        ("created_at", text(merchant, "created_at")),
    ]);
    fields
}

pub(crate) fn merchant(merchant: &Value) -> String {
    lines(
        format!("merchant {}", text(merchant, "name")),
        &merchant_fields(merchant),
    )
}

pub(crate) fn provider(provider: &Value) -> String {
    let mut out = lines(
        format!("service provider {}", text(provider, "name")),
        &merchant_fields(provider),
    );
    let subs = items(provider, "sub_merchants");
    if subs.is_empty() {
        out.push_str(
            "no sub-merchants yet: plaza admin sub-merchant create --provider SP_MCHID --name NAME\n",
        );
    } else {
        let rows: Vec<Vec<String>> = subs
            .iter()
            .map(|sub| {
                vec![
                    text(sub, "mchid"),
                    percent(sub, "fee_rate_bps"),
                    money(sub, "available_balance"),
                    text(sub, "name"),
                ]
            })
            .collect();
        out.push_str("sub-merchants:\n");
        out.push_str(&table(&["SUB_MCHID", "FEE", "AVAILABLE", "NAME"], &rows));
    }
    out
}

pub(crate) fn user(user: &Value) -> String {
    lines(
        format!("user {}", text(user, "name")),
        &[
            ("user_id", text(user, "user_id")),
            ("balance", money(user, "balance")),
            ("password-free limit", money(user, "password_free_limit")),
            (
                "locked until",
                user["locked_until"]
                    .as_str()
                    .unwrap_or("not locked")
                    .to_owned(),
            ),
            ("created_at", text(user, "created_at")),
        ],
    )
}

/// A text field, or `-` when it is empty.
fn filled(value: &Value, field: &str) -> String {
    match value[field].as_str() {
        Some("") => "-".to_owned(),
        _ => text(value, field),
    }
}

/// A list of strings, comma-separated, or `-` when there is none.
fn strings(value: &Value, field: &str) -> String {
    let strings: Vec<&str> = value[field]
        .as_array()
        .map_or(&[][..], Vec::as_slice)
        .iter()
        .filter_map(Value::as_str)
        .collect();
    if strings.is_empty() {
        "-".to_owned()
    } else {
        strings.join(", ")
    }
}

pub(crate) fn miniapps(listed: &Value) -> String {
    let apps = items(listed, "miniapps");
    let rows: Vec<Vec<String>> = apps
        .iter()
        .map(|app| {
            vec![
                text(app, "appid"),
                text(app, "developer_id"),
                text(app, "mchid"),
                text(app, "created_at"),
                text(app, "name"),
            ]
        })
        .collect();
    let header = ["APPID", "DEVELOPER", "MERCHANT", "CREATED", "NAME"];
    let mut out = if rows.is_empty() {
        String::new()
    } else {
        table(&header, &rows)
    };
    out.push_str(&footer(
        apps.len(),
        "mini programs",
        "plaza admin miniapp create --developer USER_ID --name NAME",
    ));
    out
}

pub(crate) fn miniapp(app: &Value) -> String {
    lines(
        format!("mini program {}", text(app, "name")),
        &[
            ("appid", text(app, "appid")),
            ("developer", text(app, "developer_id")),
            ("merchant", text(app, "mchid")),
            ("category", filled(app, "category")),
            ("description", filled(app, "description")),
            ("keywords", strings(app, "service_keywords")),
            ("request domains", strings(app, "request_domains")),
            ("testers", strings(app, "testers")),
            ("secret made at", text(app, "secret_made_at")),
            ("created_at", text(app, "created_at")),
        ],
    )
}

/// What `miniapp create` prints without `--json`: the appid and the secret, once.
pub(crate) fn created_miniapp(created: &Value) -> String {
    let mut fields = vec![
        ("appid", text(created, "appid")),
        ("secret", text(created, "secret")),
        ("developer", text(created, "developer_id")),
    ];
    let merchant = &created["merchant"];
    if merchant.is_object() {
        fields.extend([
            ("mchid", text(merchant, "mchid")),
            ("cert_serial_no", text(merchant, "cert_serial_no")),
            ("apiv3_key", text(merchant, "apiv3_key")),
        ]);
    }
    fields.push(("gateway", text(created, "gateway")));
    let mut out = lines(format!("mini program {}", text(created, "name")), &fields);
    out.push_str(
        "the secret is shown only now: keep it (plaza admin miniapp reset-secret APPID makes a new one)\n",
    );
    if merchant.is_object() {
        out.push_str(&format!(
            "the merchant's private key is printed only with --json; to use a key of your own: \
             POST /api/v1/admin/merchants/{}/keys\n",
            text(merchant, "mchid"),
        ));
    }
    out
}

/// What `miniapp reset-secret` prints without `--json`.
pub(crate) fn miniapp_secret(reset: &Value) -> String {
    format!(
        "new secret of {}: {}\nshown only now; the old secret no longer works (access tokens \
         already issued keep working until they expire)\n",
        text(reset, "appid"),
        text(reset, "secret"),
    )
}

/// What `corp list` prints without `--json`.
pub(crate) fn corps(listed: &Value) -> String {
    let corps = items(listed, "corps");
    let rows: Vec<Vec<String>> = corps
        .iter()
        .map(|corp| {
            vec![
                text(corp, "corpid"),
                text(corp, "created_at"),
                text(corp, "name"),
            ]
        })
        .collect();
    let mut out = if rows.is_empty() {
        String::new()
    } else {
        table(&["CORPID", "CREATED", "NAME"], &rows)
    };
    out.push_str(&footer(
        corps.len(),
        "corps",
        "plaza admin corp create --name NAME",
    ));
    out
}

/// What `corp show` prints without `--json`.
pub(crate) fn corp(corp: &Value) -> String {
    let apps: Vec<String> = items(corp, "apps")
        .iter()
        .map(|app| format!("{} {}", text(app, "agentid"), text(app, "name")))
        .collect();
    lines(
        format!("corp {}", text(corp, "name")),
        &[
            ("corpid", text(corp, "corpid")),
            ("created", text(corp, "created_at")),
            ("departments", text(corp, "departments")),
            ("members", text(corp, "members")),
            ("apps", apps.join(", ")),
        ],
    )
}

/// What `corp create` prints without `--json`.
pub(crate) fn created_corp(created: &Value) -> String {
    let app = &created["app"];
    let mut out = lines(
        format!("corp {}", text(created, "name")),
        &[
            ("corpid", text(created, "corpid")),
            ("contacts_secret", text(created, "contacts_secret")),
            ("agentid", text(app, "agentid")),
            ("app_secret", text(app, "secret")),
            ("gateway", text(created, "gateway")),
        ],
    );
    out.push_str("the secrets are shown only now: keep them\n");
    out
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_table_aligns_every_column_but_the_last() {
        let out = table(
            &["ID", "BALANCE", "NAME"],
            &[
                vec!["u1".into(), "¥1.00".into(), "林伟".into()],
                vec!["u22222".into(), "¥100.00".into(), "Zhang".into()],
            ],
        );
        assert_eq!(
            out,
            "ID      BALANCE  NAME\nu1      ¥1.00    林伟\nu22222  ¥100.00  Zhang\n"
        );
    }

    #[test]
    fn users_show_yuan_and_an_empty_list_says_how_to_make_one() {
        let listed = json!({ "users": [
            { "user_id": "u1", "name": "Lin", "balance": 50_000, "created_at": "2026-01-01T10:00:00+08:00" }
        ]});
        let out = users(&listed);
        assert!(out.contains("¥500.00"), "{out}");
        assert!(out.contains("1 shown"), "{out}");
        let out = users(&json!({ "users": [] }));
        assert_eq!(out, "no users yet: plaza admin user create --name NAME\n");
    }

    #[test]
    fn mini_programs_show_their_merchant_and_the_secret_only_when_made() {
        let app = json!({
            "appid": "wx0123456789abcdef", "developer_id": "dev1", "name": "核酸检测预约",
            "mchid": null, "request_domains": ["a.example", "b.example"],
            "service_keywords": [], "created_at": "2026-01-01T10:00:00+08:00",
        });
        let out = miniapps(&json!({ "miniapps": [app] }));
        assert!(out.starts_with("APPID "), "{out}");
        assert!(
            out.contains(
                "wx0123456789abcdef  dev1       -         2026-01-01T10:00:00+08:00  核酸检测预约"
            ),
            "{out}"
        );
        let out = miniapp(&app);
        assert!(
            out.contains("request domains: a.example, b.example"),
            "{out}"
        );
        assert!(out.contains("keywords:        -"), "{out}");
        assert!(out.contains("category:        -"), "{out}");
        assert!(!out.contains("secret:"), "{out}");
        let out = miniapps(&json!({ "miniapps": [] }));
        assert!(
            out.starts_with("no mini programs yet: plaza admin miniapp create"),
            "{out}"
        );
    }

    #[test]
    fn a_merchant_shows_its_fee_as_a_percentage() {
        let out = merchant(&json!({
            "mchid": "1900000001", "name": "Shop", "kind": "direct", "fee_rate_bps": 38,
            "appids": ["wx1", "wx2"], "available_balance": 1234, "keys": [],
        }));
        assert!(out.starts_with("merchant Shop\n"), "{out}");
        assert!(out.contains("fee:           0.38%"), "{out}");
        assert!(out.contains("appids:        wx1, wx2"), "{out}");
        assert!(out.contains("available:     ¥12.34"), "{out}");
    }
}
