//! Tells the integration tests which outside tools this machine has.
//!
//! The SDK tests need a Python with the SDKs (`PLAZA_SDK_PYTHON`); the browser tests need
//! `node`, `tests/web/node_modules` and Chromium. Where they are missing and not required
//! (`PLAZA_TEST_REQUIRE_SDK=1`, `PLAZA_TEST_REQUIRE_BROWSER=1`, as in CI), those tests are
//! compiled as ignored with the reason, so `cargo test` ends with "N ignored" instead of
//! a green run that silently did less than CI does.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(plaza_sdk_missing)");
    println!("cargo::rustc-check-cfg=cfg(plaza_browser_missing)");
    println!("cargo::rerun-if-changed=build.rs");
    for variable in [
        "PLAZA_SDK_PYTHON",
        "PLAZA_CHROMIUM",
        "PLAZA_TEST_REQUIRE_SDK",
        "PLAZA_TEST_REQUIRE_BROWSER",
        "PATH",
    ] {
        println!("cargo::rerun-if-env-changed={variable}");
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");

    let required = |variable: &str| std::env::var(variable).is_ok_and(|value| value == "1");
    let sdk_python = std::env::var("PLAZA_SDK_PYTHON")
        .ok()
        .filter(|python| !python.is_empty());
    if let Some(python) = &sdk_python {
        watch(Path::new(python));
    }
    // A name that is not a file on this machine is as good as none (a bare `python3` is
    // looked up on PATH).
    let sdk_python = sdk_python.filter(|python| {
        Path::new(python).is_file() || Command::new(python).arg("--version").output().is_ok()
    });
    if sdk_python.is_none() && !required("PLAZA_TEST_REQUIRE_SDK") {
        println!("cargo::rustc-cfg=plaza_sdk_missing");
    }

    let chromium = PathBuf::from(
        std::env::var("PLAZA_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned()),
    );
    let playwright = root.join("tests/web/node_modules/playwright-core");
    watch(&chromium);
    watch(&playwright);
    let node = Command::new("node").arg("--version").output().is_ok();
    let browser = node && chromium.exists() && playwright.is_dir();
    if !browser && !required("PLAZA_TEST_REQUIRE_BROWSER") {
        println!("cargo::rustc-cfg=plaza_browser_missing");
    }
}

/// Reruns this script when `path` changes, or, while it does not exist, when the folder
/// that would hold it changes (a missing path named directly would rerun it every build).
fn watch(path: &Path) {
    let mut watched = path;
    while !watched.exists() {
        match watched.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => watched = parent,
            _ => return,
        }
    }
    println!("cargo::rerun-if-changed={}", watched.display());
}
