//! `docs/compatibility.md` cannot drift from the code: every WeChat route the routers
//! serve has exactly one row per method, every row is a served route, and every test a
//! row names exists.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `(METHOD, path)` of every `.route(...)` in a file's `fn router()`.
fn routes_of(file: &str) -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let start = text.find("fn router()").unwrap();
    let body = &text[start..start + text[start..].find("\n}\n").unwrap()];
    let mut routes = BTreeSet::new();
    let pieces: Vec<&str> = body.split(".route(").skip(1).collect();
    for piece in pieces {
        let path = piece.split('"').nth(1).unwrap();
        if path.contains("{*") {
            continue;
        }
        for method in ["get", "post", "put", "patch", "delete"] {
            if piece.contains(&format!("{method}(")) {
                routes.insert((method.to_ascii_uppercase(), path.to_owned()));
            }
        }
    }
    routes
}

/// `(METHOD, path, proven by)` of every table row of the matrix.
fn rows() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(root().join("docs/compatibility.md")).unwrap();
    text.lines()
        .filter(|line| line.starts_with("| GET ") || line.starts_with("| POST "))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 5, "a row has five cells: {line}");
            assert!(
                cells[2] == "full" || cells[2] == "partial",
                "status is full or partial: {line}"
            );
            assert!(
                cells[2] == "full" || !cells[3].is_empty(),
                "a partial row says what is missing: {line}"
            );
            (
                cells[0].to_owned(),
                cells[1].trim_matches('`').to_owned(),
                cells[4].to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_matrix_lists_exactly_the_served_routes() {
    let mut served = routes_of("crates/pay-http/src/pay_v3/mod.rs");
    served.extend(routes_of("crates/pay-http/src/pay_v2.rs"));
    served.extend(routes_of("crates/miniapp-http/src/server_api.rs"));
    served.extend(routes_of("crates/miniapp-http/src/subscribe_api.rs"));
    served.extend(routes_of("crates/miniapp-http/src/more_api.rs"));
    served.extend(routes_of("crates/wecom-http/src/server_api.rs"));
    served.extend(routes_of("crates/wecom-http/src/contact_api.rs"));
    served.extend(routes_of("crates/wecom-http/src/group_api.rs"));
    assert!(served.len() > 40, "the routers were read: {served:?}");
    let listed: Vec<(String, String)> = rows()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect();
    let listed_set: BTreeSet<(String, String)> = listed.iter().cloned().collect();
    assert_eq!(listed.len(), listed_set.len(), "no route is listed twice");
    let missing: Vec<_> = served.difference(&listed_set).collect();
    let extra: Vec<_> = listed_set.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "served but not in docs/compatibility.md: {missing:?}"
    );
    assert!(
        extra.is_empty(),
        "in docs/compatibility.md but not served: {extra:?}"
    );
}

#[test]
fn every_test_the_matrix_names_exists() {
    for (method, path, proven_by) in rows() {
        let names: Vec<&str> = proven_by
            .split(", ")
            .map(|name| name.trim_matches('`'))
            .collect();
        assert!(!names.is_empty(), "{method} {path} names no test");
        for name in names {
            if let Some((file, function)) = name.split_once("::") {
                let text = std::fs::read_to_string(root().join("crates/plaza/tests/it").join(file))
                    .unwrap_or_else(|_| panic!("{method} {path}: no test file {file}"));
                assert!(
                    text.contains(&format!("fn {function}(")),
                    "{method} {path}: {file} has no test {function}"
                );
            } else {
                assert!(
                    root().join("tests").join(name).is_file(),
                    "{method} {path}: no script tests/{name}"
                );
            }
        }
    }
}
