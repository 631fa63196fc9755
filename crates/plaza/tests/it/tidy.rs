//! Repository rules that a test can check: module docs, whitespace, no ignored tests,
//! documented error codes and config keys, and the allowed edges between crates.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &Path, extension: &str, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "target" && !name.starts_with('.') && name != "node_modules" {
                files(&path, extension, found);
            }
        } else if name.ends_with(extension) {
            found.push(path);
        }
    }
}

fn rust_files() -> Vec<PathBuf> {
    let mut found = Vec::new();
    files(&root().join("crates"), ".rs", &mut found);
    assert!(found.len() > 20, "found the sources");
    found
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    for path in rust_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("//!"),
            "{} has no //! module doc",
            path.display()
        );
    }
}

#[test]
fn no_trailing_whitespace_and_no_ignored_or_should_panic_tests() {
    let mut paths = rust_files();
    files(&root().join("docs"), ".md", &mut paths);
    paths.push(root().join("README.md"));
    paths.push(root().join("ARCHITECTURE.md"));
    let ignore = ["#[", "ignore]"].concat();
    let should_panic = ["#[", "should_panic"].concat();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        for (index, line) in text.lines().enumerate() {
            assert!(
                !line.ends_with(' ') && !line.ends_with('\t'),
                "{}:{} has trailing whitespace",
                path.display(),
                index + 1
            );
            assert!(
                !line.contains(&ignore) && !line.contains(&should_panic),
                "{}:{}: assert the current behaviour instead",
                path.display(),
                index + 1
            );
        }
    }
}

#[test]
fn every_error_code_is_documented() {
    let doc = std::fs::read_to_string(root().join("docs/errors.md")).unwrap();
    for (code, _, status) in plaza_api::ERROR_CODES {
        let heading = format!("## {code}\n{status}.");
        assert!(doc.contains(&heading), "docs/errors.md lacks `{heading}`");
    }
}

#[test]
fn every_config_key_is_documented() {
    let source = std::fs::read_to_string(root().join("crates/plaza/src/config.rs")).unwrap();
    let doc = std::fs::read_to_string(root().join("docs/config.md")).unwrap();
    let keys: Vec<&str> = source
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Key::"))
        .filter_map(|rest| rest.split_once(" => \""))
        .map(|(_, name)| name.trim_end_matches("\","))
        .collect();
    assert!(keys.len() >= 9, "found the keys: {keys:?}");
    for key in keys {
        let env = format!("`PLAZA_{}`", key.to_ascii_uppercase());
        let flag = format!("`--{}`", key.replace('_', "-"));
        for needle in [format!("`{key}`"), env, flag] {
            assert!(doc.contains(&needle), "docs/config.md lacks {needle}");
        }
    }
}

/// Which workspace crates each crate may depend on (ARCHITECTURE.md's layering).
const ALLOWED_EDGES: &[(&str, &[&str])] = &[
    ("kernel", &[]),
    ("ledger", &["plaza-kernel"]),
    ("store", &["plaza-kernel", "plaza-ledger"]),
    ("wx", &[]),
    ("pay", &["plaza-kernel", "plaza-ledger"]),
    (
        "api",
        &["plaza-kernel", "plaza-ledger", "plaza-pay", "plaza-wx"],
    ),
    ("testkit", &["plaza-wx"]),
    (
        "plaza",
        &[
            "plaza-kernel",
            "plaza-ledger",
            "plaza-store",
            "plaza-api",
            "plaza-pay",
            "plaza-wx",
        ],
    ),
];

#[test]
fn crates_depend_only_downwards() {
    for (krate, allowed) in ALLOWED_EDGES {
        let manifest =
            std::fs::read_to_string(root().join(format!("crates/{krate}/Cargo.toml"))).unwrap();
        let dependencies = manifest
            .split("[dependencies]")
            .nth(1)
            .map(|rest| rest.split("\n[").next().unwrap_or(""))
            .unwrap_or("");
        for line in dependencies.lines() {
            let name = line.split(['.', ' ', '=']).next().unwrap_or("");
            if name.starts_with("plaza-") {
                assert!(
                    allowed.contains(&name),
                    "crates/{krate} depends on {name}, which ARCHITECTURE.md does not allow"
                );
            }
        }
    }
    let mut crates: Vec<String> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    crates.sort();
    let mut listed: Vec<String> = ALLOWED_EDGES
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    listed.sort();
    assert_eq!(
        crates, listed,
        "every crate has its allowed edges written down"
    );
}
