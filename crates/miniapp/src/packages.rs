//! Code packages: a zip with `app.json` at its root (pages, window title, tab bar) and
//! static files per page (`pages/index/index.html`, with its `.js` and `.css`), at most
//! 2 MB like WeChat's main package. Reading one is defensive: the compressed size, the
//! unpacked size (read, not as declared — a zip bomb stops at the limit), the number of
//! entries, every entry's name (relative, no `..`, no absolute or Windows paths, no
//! duplicates) and its kind of file are checked, and a malformed `app.json` is refused
//! naming the field.

use std::collections::BTreeMap;
use std::io::Read as _;

use serde_json::Value;

/// The largest package accepted, compressed (WeChat's main package: 2 MB).
pub const PACKAGE_BYTES_MAX: usize = 2 * 1024 * 1024;
/// The most a package may unpack to: four times its largest compressed size.
pub const PACKAGE_UNPACKED_BYTES_MAX: u64 = 8 * 1024 * 1024;
/// The most entries a package may hold.
pub const PACKAGE_ENTRIES_MAX: usize = 300;
/// Pages an app may declare.
pub const PAGES_MAX: usize = 50;

/// The kinds of file a package may hold, by extension, with the type they are served as.
pub const FILE_TYPES: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("json", "application/json"),
    ("txt", "text/plain; charset=utf-8"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
];

/// The content type a package file is served as, by its extension.
pub fn content_type(path: &str) -> Option<&'static str> {
    let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
    FILE_TYPES
        .iter()
        .find(|(known, _)| *known == extension)
        .map(|(_, content_type)| *content_type)
}

/// What `app.json` declares.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppConfig {
    /// Page paths (`pages/index/index`), the first one the home page.
    pub pages: Vec<String>,
    /// The title bar's text.
    pub window_title: String,
    /// Tab bar entries: page path and label.
    pub tab_bar: Vec<(String, String)>,
}

/// A package read and checked: its files and its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// Path → bytes.
    pub files: BTreeMap<String, Vec<u8>>,
    /// `app.json`.
    pub config: AppConfig,
    /// The compressed size.
    pub size_bytes: usize,
}

/// Why a package is refused: in people's words, naming the entry or field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    /// Larger than [`PACKAGE_BYTES_MAX`].
    #[error("the package is {bytes} bytes; a package is at most {PACKAGE_BYTES_MAX} bytes")]
    TooLarge {
        /// Its size.
        bytes: usize,
    },
    /// Anything else.
    #[error("{0}")]
    Invalid(String),
}

fn invalid(problem: impl Into<String>) -> PackageError {
    PackageError::Invalid(problem.into())
}

/// Reads and checks a package.
///
/// # Errors
///
/// [`PackageError`] naming what is wrong.
pub fn read_package(bytes: &[u8]) -> Result<Package, PackageError> {
    if bytes.len() > PACKAGE_BYTES_MAX {
        return Err(PackageError::TooLarge { bytes: bytes.len() });
    }
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|error| invalid(format!("not a zip archive: {error}")))?;
    if archive.len() > PACKAGE_ENTRIES_MAX {
        return Err(invalid(format!(
            "the package has {} entries; at most {PACKAGE_ENTRIES_MAX}",
            archive.len()
        )));
    }
    let mut files = BTreeMap::new();
    let mut unpacked: u64 = 0;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|error| invalid(format!("entry {index}: {error}")))?;
        let name = String::from_utf8(entry.name_raw().to_vec())
            .map_err(|_| invalid(format!("entry {index}: its name is not UTF-8")))?;
        if entry.is_dir() {
            check_path(name.trim_end_matches('/'))?;
            continue;
        }
        check_path(&name)?;
        if content_type(&name).is_none() {
            return Err(invalid(format!(
                "{name}: a package holds only html, js, css, json, txt and image files"
            )));
        }
        let room = PACKAGE_UNPACKED_BYTES_MAX - unpacked;
        let mut content = Vec::new();
        (&mut entry)
            .take(room + 1)
            .read_to_end(&mut content)
            .map_err(|error| invalid(format!("{name}: {error}")))?;
        unpacked += content.len() as u64;
        if unpacked > PACKAGE_UNPACKED_BYTES_MAX {
            return Err(invalid(format!(
                "the package unpacks to more than {PACKAGE_UNPACKED_BYTES_MAX} bytes"
            )));
        }
        if files.insert(name.clone(), content).is_some() {
            return Err(invalid(format!("{name}: the package holds it twice")));
        }
    }
    let config = read_app_json(&files)?;
    Ok(Package {
        files,
        config,
        size_bytes: bytes.len(),
    })
}

/// A safe relative path: no `..`, `.`, empty or hidden segment, not absolute, no
/// backslash, drive letter or control character.
fn check_path(name: &str) -> Result<(), PackageError> {
    let shown: String = name.chars().take(80).collect();
    let bad = name.is_empty()
        || name.len() > 200
        || name.starts_with('/')
        || name.contains('\\')
        || name.contains(':')
        || name.chars().any(char::is_control)
        || name
            .split('/')
            .any(|segment| segment.is_empty() || segment.starts_with('.'));
    if bad {
        Err(invalid(format!(
            "{shown}: entries must be relative paths without `..`, hidden, absolute or Windows parts"
        )))
    } else {
        Ok(())
    }
}

fn field_error(field: &str, problem: &str) -> PackageError {
    invalid(format!("app.json: {field}: {problem}"))
}

fn read_app_json(files: &BTreeMap<String, Vec<u8>>) -> Result<AppConfig, PackageError> {
    let raw = files
        .get("app.json")
        .ok_or_else(|| invalid("the package has no app.json at its root"))?;
    let json: Value = serde_json::from_slice(raw)
        .map_err(|error| invalid(format!("app.json: not JSON: {error}")))?;
    let pages = read_pages(&json, files)?;
    let window = json.get("window");
    let window_title = match window.and_then(|window| window.get("navigationBarTitleText")) {
        None => String::new(),
        Some(Value::String(title)) if title.chars().count() <= 30 => title.clone(),
        Some(_) => {
            return Err(field_error(
                "window.navigationBarTitleText",
                "must be a string of at most 30 characters",
            ));
        }
    };
    let tab_bar = read_tab_bar(&json, &pages)?;
    Ok(AppConfig {
        pages,
        window_title,
        tab_bar,
    })
}

fn read_pages(
    json: &Value,
    files: &BTreeMap<String, Vec<u8>>,
) -> Result<Vec<String>, PackageError> {
    let list = json
        .get("pages")
        .and_then(Value::as_array)
        .ok_or_else(|| field_error("pages", "must be a list of page paths"))?;
    if list.is_empty() || list.len() > PAGES_MAX {
        return Err(field_error(
            "pages",
            &format!("must list 1 to {PAGES_MAX} pages"),
        ));
    }
    let mut pages = Vec::new();
    for (index, page) in list.iter().enumerate() {
        let field = format!("pages[{index}]");
        let page = page
            .as_str()
            .ok_or_else(|| field_error(&field, "must be a string"))?;
        let shaped = !page.is_empty()
            && page.len() <= 100
            && page
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
            && !page.starts_with('/')
            && !page.split('/').any(str::is_empty);
        if !shaped {
            return Err(field_error(
                &field,
                "a page path is letters, digits, _ - and / (like pages/index/index), without .html",
            ));
        }
        if !files.contains_key(&format!("{page}.html")) {
            return Err(field_error(
                &field,
                &format!("the package has no {page}.html"),
            ));
        }
        if pages.iter().any(|seen| seen == page) {
            return Err(field_error(&field, "is listed twice"));
        }
        pages.push(page.to_owned());
    }
    Ok(pages)
}

fn read_tab_bar(json: &Value, pages: &[String]) -> Result<Vec<(String, String)>, PackageError> {
    let Some(tab_bar) = json.get("tabBar") else {
        return Ok(Vec::new());
    };
    let list = tab_bar
        .get("list")
        .and_then(Value::as_array)
        .ok_or_else(|| field_error("tabBar.list", "must be a list"))?;
    if !(2..=5).contains(&list.len()) {
        return Err(field_error("tabBar.list", "must have 2 to 5 entries"));
    }
    list.iter()
        .enumerate()
        .map(|(index, entry)| {
            let field = format!("tabBar.list[{index}]");
            let page = entry
                .get("pagePath")
                .and_then(Value::as_str)
                .ok_or_else(|| field_error(&format!("{field}.pagePath"), "must be a string"))?;
            if !pages.iter().any(|known| known == page) {
                return Err(field_error(
                    &format!("{field}.pagePath"),
                    "must be one of pages",
                ));
            }
            let text = entry
                .get("text")
                .and_then(Value::as_str)
                .filter(|text| (1..=8).contains(&text.chars().count()))
                .ok_or_else(|| {
                    field_error(&format!("{field}.text"), "must be 1 to 8 characters")
                })?;
            Ok((page.to_owned(), text.to_owned()))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            writer.start_file(*name, options).unwrap();
            writer.write_all(bytes).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    const APP_JSON: &str = r#"{"pages":["pages/index/index","pages/book/book"],"window":{"navigationBarTitleText":"预约"},"tabBar":{"list":[{"pagePath":"pages/index/index","text":"首页"},{"pagePath":"pages/book/book","text":"预约"}]}}"#;

    #[test]
    fn a_good_package_is_read_with_its_pages_and_tab_bar() {
        let package = read_package(&zip_of(&[
            ("app.json", APP_JSON.as_bytes()),
            ("pages/index/index.html", b"<h1>hi</h1>"),
            ("pages/index/index.js", b"1"),
            ("pages/book/book.html", b"<p>book</p>"),
        ]))
        .unwrap();
        assert_eq!(
            package.config.pages,
            ["pages/index/index", "pages/book/book"]
        );
        assert_eq!(package.config.window_title, "预约");
        assert_eq!(
            package.config.tab_bar[1],
            ("pages/book/book".to_owned(), "预约".to_owned())
        );
        assert_eq!(package.files.len(), 4);
    }

    fn refusal(entries: &[(&str, &[u8])]) -> String {
        read_package(&zip_of(entries)).unwrap_err().to_string()
    }

    #[test]
    fn bad_packages_are_refused_naming_what_is_wrong() {
        let page: (&str, &[u8]) = ("pages/index/index.html", b"x");
        assert!(refusal(&[page]).contains("no app.json"));
        assert!(refusal(&[("app.json", b"{"), page]).contains("app.json: not JSON"));
        assert!(refusal(&[("app.json", br#"{"pages": []}"#), page]).contains("app.json: pages:"));
        assert!(
            refusal(&[
                ("app.json", br#"{"pages": ["pages/missing/missing"]}"#),
                page
            ])
            .contains("pages[0]")
        );
        assert!(
            refusal(&[
                ("app.json", br#"{"pages": ["/pages/index/index.html"]}"#),
                page
            ])
            .contains("pages[0]")
        );
        assert!(
            refusal(&[
                (
                    "app.json",
                    br#"{"pages": ["pages/index/index"], "window": {"navigationBarTitleText": 5}}"#
                ),
                page
            ])
            .contains("window.navigationBarTitleText")
        );
        assert!(
            refusal(&[("app.json", br#"{"pages": ["pages/index/index"], "tabBar": {"list": [{"pagePath": "x", "text": "a"}, {"pagePath": "y", "text": "b"}]}}"#), page])
                .contains("tabBar.list[0].pagePath")
        );
        let app: (&str, &[u8]) = ("app.json", br#"{"pages": ["pages/index/index"]}"#);
        assert!(refusal(&[app, page, ("../evil.html", b"x")]).contains("../evil.html"));
        assert!(refusal(&[app, page, ("/etc/passwd.txt", b"x")]).contains("relative"));
        assert!(refusal(&[app, page, ("a\\b.html", b"x")]).contains("relative"));
        assert!(refusal(&[app, page, ("run.exe", b"x")]).contains("run.exe"));
        assert!(
            read_package(b"not a zip")
                .unwrap_err()
                .to_string()
                .contains("not a zip")
        );
    }

    #[test]
    fn a_zip_bomb_stops_at_the_unpacked_limit_and_size_limits_hold() {
        let zeros = vec![0u8; usize::try_from(PACKAGE_UNPACKED_BYTES_MAX).unwrap() + 1];
        let bomb = zip_of(&[
            ("app.json", br#"{"pages":["p"]}"#),
            ("p.html", b"x"),
            ("zeros.txt", &zeros),
        ]);
        assert!(
            bomb.len() < PACKAGE_BYTES_MAX,
            "it compresses well: {}",
            bomb.len()
        );
        assert!(
            read_package(&bomb)
                .unwrap_err()
                .to_string()
                .contains("unpacks to more than")
        );
        let big = vec![0u8; PACKAGE_BYTES_MAX + 1];
        assert!(matches!(
            read_package(&big),
            Err(PackageError::TooLarge { .. })
        ));
        let many: Vec<(String, Vec<u8>)> = (0..=PACKAGE_ENTRIES_MAX)
            .map(|i| (format!("f{i}.txt"), vec![]))
            .collect();
        let refs: Vec<(&str, &[u8])> = many
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        assert!(refusal(&refs).contains("entries"));
    }
}
