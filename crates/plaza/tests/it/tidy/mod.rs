//! Repository rules that a test can check: module docs, whitespace, no ignored tests,
//! documented error codes and config keys, the edges between crates that their roles
//! allow (`crate_edges`), and no module circle inside a crate (`module_circles`).

mod crate_edges;
mod module_circles;

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
    let every = plaza_http::ERROR_CODES
        .iter()
        .chain(plaza_pay_http::PAY_ERROR_CODES)
        .chain(plaza_miniapp_http::MINIAPP_ERROR_CODES);
    for code in every {
        let heading = format!("## {}\n{}.", code.name, code.status);
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

/// The module circles that exist today and are being removed (issue 12), per crate,
/// each as its set of top-level modules. The tidy test requires this list to be exact: a
/// new circle fails, and so does a listed one that is gone, so the list only shrinks.
const KNOWN_CIRCLES: &[(&str, &[&[&str]])] = &[];

/// `cargo metadata --format-version 1 --no-deps` of the workspace, parsed.
///
/// # Panics
///
/// When cargo cannot run or answers something that is not JSON.
pub(crate) fn cargo_metadata(root: &Path) -> serde_json::Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn crates_depend_only_as_their_roles_allow() {
    let crates = crate_edges::workspace_crates(&root());
    assert!(crates.len() >= 8, "found the crates: {crates:?}");
    let problems = crate_edges::violations(
        &crates,
        crate_edges::ROLES,
        crate_edges::BASE_EDGES,
        crate_edges::LEGACY_EDGES,
    );
    assert!(problems.is_empty(), "crate edges:\n{}", problems.join("\n"));
}

#[test]
fn no_crate_has_a_module_circle_beyond_the_known_ones() {
    let root = root().canonicalize().unwrap();
    let metadata = cargo_metadata(&root);
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for package in metadata["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        let targets = package["targets"].as_array().unwrap();
        let crate_root = ["lib", "bin"].iter().find_map(|kind| {
            targets
                .iter()
                .find(|target| target["kind"].as_array().unwrap().iter().any(|k| k == kind))
                .map(|target| PathBuf::from(target["src_path"].as_str().unwrap()))
        });
        let Some(crate_root) = crate_root else {
            continue;
        };
        let files = module_circles::crate_files(&root, &crate_root);
        let graph = module_circles::graph(&files);
        let found = module_circles::circles(&graph);
        let known = KNOWN_CIRCLES
            .iter()
            .find(|(krate, _)| *krate == name)
            .map_or(&[][..], |(_, circles)| *circles);
        problems.extend(module_circles::compare(name, &graph, &found, known));
        seen.push(name.to_owned());
    }
    assert!(seen.len() >= 8, "scanned the crates: {seen:?}");
    for (krate, _) in KNOWN_CIRCLES {
        if !seen.iter().any(|name| name == krate) {
            problems.push(format!(
                "{krate} is gone: delete its entry from KNOWN_CIRCLES"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "module circles:\n{}",
        problems.join("\n")
    );
}
