//! Developers' mini programs: creation with a new AppSecret, settings, secret resets,
//! the bound merchant, and checking an appid and secret.

use plaza_kernel::record::{Expect, IndexEntry};

use crate::model::MiniApp;
use crate::store::{index, kind, load, sha256_hex, time_value, write};
use crate::{CONFLICT_RETRIES_MAX, MerchantRefusal, MiniAppError, MiniApps};

/// Most request domains an app may list (WeChat allows 20 per kind).
pub const REQUEST_DOMAINS_MAX: usize = 20;
/// Most testers of an app.
pub const TESTERS_MAX: usize = 30;
/// Most service keywords of an app.
pub const KEYWORDS_MAX: usize = 10;
/// The largest ext config, as JSON text.
pub const EXT_CONFIG_BYTES_MAX: usize = 4_096;
/// The outbox topic of a mini program's public profile, written with every change of
/// the app (Search reads it).
pub const TOPIC_APP: &str = "miniapp.app";

/// The outbox event of a mini program as it now is: what anyone may see of it — no
/// secret, domain, tester or merchant.
#[must_use]
pub fn app_event(app: &MiniApp) -> plaza_kernel::queue::NewEvent {
    plaza_kernel::queue::NewEvent {
        topic: TOPIC_APP.to_owned(),
        key: app.appid.clone(),
        payload: serde_json::json!({
            "appid": app.appid,
            "name": app.name,
            "icon": app.icon,
            "category": app.category,
            "description": app.description,
            "service_keywords": app.service_keywords,
            "service_pages": app.service_pages,
        })
        .to_string(),
    }
}

/// What a developer gives to create a mini program.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewMiniApp {
    /// 1–30 characters.
    pub name: String,
    /// Settings beyond the name; absent ones start empty.
    pub settings: AppSettings,
}

/// Settings a developer changes; `None` keeps what is there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppSettings {
    /// 1–30 characters.
    pub name: Option<String>,
    /// An emoji or 1–2 characters.
    pub icon: Option<String>,
    /// Up to 20 characters.
    pub category: Option<String>,
    /// Up to 200 characters.
    pub description: Option<String>,
    /// Up to [`KEYWORDS_MAX`] words of 1–20 characters.
    pub service_keywords: Option<Vec<String>>,
    /// The page each declared service keyword opens: a package page (`pages/…`) with
    /// an optional query.
    pub service_pages: Option<std::collections::BTreeMap<String, String>>,
    /// Up to [`REQUEST_DOMAINS_MAX`] origins (`https://host[:port]`; `http://` for
    /// back ends on a local network).
    pub request_domains: Option<Vec<String>>,
    /// Up to [`TESTERS_MAX`] user ids.
    pub testers: Option<Vec<String>>,
    /// What `wx.getExtConfigSync()` answers: a JSON object of at most
    /// [`EXT_CONFIG_BYTES_MAX`] bytes.
    pub ext_config: Option<serde_json::Map<String, serde_json::Value>>,
}

fn check_chars(field: &str, value: &str, min: usize, max: usize) -> Result<(), MiniAppError> {
    let chars = value.chars().count();
    if (min..=max).contains(&chars) && !value.chars().any(char::is_control) {
        Ok(())
    } else {
        Err(MiniAppError::invalid(
            field,
            format!("must have {min} to {max} characters and no control characters"),
        ))
    }
}

/// `text` as an origin `scheme://host[:port]`, lower-cased, or why not.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let lower = text.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or("must start with https:// (or http:// for a local back end)")?;
    let (host, port) = rest
        .rsplit_once(':')
        .map_or((rest, None), |(h, p)| (h, Some(p)));
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let port_ok = port.is_none_or(|port| port.parse::<u16>().is_ok_and(|port| port > 0));
    if host_ok && port_ok {
        Ok(lower)
    } else {
        Err("must be an origin: scheme://host[:port], no path".to_owned())
    }
}

/// Whether `page` is a package page with an optional query: `pages/…` of letters,
/// digits, `_`, `-`, `.` and `/` (no `..`), then `?` and a query without spaces,
/// control characters, `#`, quotes or angle brackets.
fn page_shaped(page: &str) -> bool {
    let (path, query) = page.split_once('?').unwrap_or((page, ""));
    let path_ok = path.starts_with("pages/")
        && path.len() <= 100
        && !path.contains("..")
        && !path.contains("//")
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./".contains(&b));
    let query_ok = query.chars().count() <= 200
        && !query
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "#\"'<>".contains(c));
    path_ok && query_ok
}

/// Checks service pages: at most one per keyword allowed, each a package page.
fn check_pages(pages: &std::collections::BTreeMap<String, String>) -> Result<(), MiniAppError> {
    if pages.len() > KEYWORDS_MAX {
        return Err(MiniAppError::invalid(
            "service_pages",
            format!("at most {KEYWORDS_MAX}"),
        ));
    }
    match pages.iter().find(|(_, page)| !page_shaped(page)) {
        Some((keyword, page)) => Err(MiniAppError::invalid(
            "service_pages",
            format!("{keyword}: {page} is not a package page (pages/…, with an optional ?query)"),
        )),
        None => Ok(()),
    }
}

impl AppSettings {
    /// Checks every given field; the first bad one is named.
    fn check(&self) -> Result<(), MiniAppError> {
        if let Some(name) = &self.name {
            check_chars("name", name, 1, 30)?;
        }
        if let Some(icon) = &self.icon {
            check_chars("icon", icon, 1, 2)?;
        }
        if let Some(category) = &self.category {
            check_chars("category", category, 0, 20)?;
        }
        if let Some(description) = &self.description {
            check_chars("description", description, 0, 200)?;
        }
        if let Some(keywords) = &self.service_keywords {
            if keywords.len() > KEYWORDS_MAX {
                return Err(MiniAppError::invalid(
                    "service_keywords",
                    format!("at most {KEYWORDS_MAX}"),
                ));
            }
            for keyword in keywords {
                check_chars("service_keywords", keyword, 1, 20)?;
            }
        }
        if let Some(pages) = &self.service_pages {
            check_pages(pages)?;
        }
        if let Some(domains) = &self.request_domains {
            if domains.len() > REQUEST_DOMAINS_MAX {
                return Err(MiniAppError::invalid(
                    "request_domains",
                    format!("at most {REQUEST_DOMAINS_MAX}"),
                ));
            }
            for domain in domains {
                parse_origin(domain).map_err(|problem| {
                    MiniAppError::invalid("request_domains", format!("{domain}: {problem}"))
                })?;
            }
        }
        if let Some(ext) = &self.ext_config
            && serde_json::to_string(ext).map_or(usize::MAX, |text| text.len())
                > EXT_CONFIG_BYTES_MAX
        {
            return Err(MiniAppError::invalid(
                "ext_config",
                format!("at most {EXT_CONFIG_BYTES_MAX} bytes of JSON"),
            ));
        }
        if let Some(testers) = &self.testers
            && testers.len() > TESTERS_MAX
        {
            return Err(MiniAppError::invalid(
                "testers",
                format!("at most {TESTERS_MAX}"),
            ));
        }
        Ok(())
    }

    /// Applies the settings to `app`; a page given for a keyword the app does not
    /// declare is refused, and a keyword no longer declared loses its page.
    fn apply_checked(self, app: &mut MiniApp) -> Result<(), MiniAppError> {
        let pages_given = self.service_pages.is_some();
        self.apply(app);
        if pages_given
            && let Some(keyword) = app
                .service_pages
                .keys()
                .find(|keyword| !app.service_keywords.contains(keyword))
        {
            return Err(MiniAppError::invalid(
                "service_pages",
                format!("{keyword} is not one of service_keywords"),
            ));
        }
        let keywords = app.service_keywords.clone();
        app.service_pages
            .retain(|keyword, _| keywords.contains(keyword));
        Ok(())
    }

    fn apply(self, app: &mut MiniApp) {
        if let Some(name) = self.name {
            app.name = name;
        }
        if let Some(icon) = self.icon {
            app.icon = icon;
        }
        if let Some(category) = self.category {
            app.category = category;
        }
        if let Some(description) = self.description {
            app.description = description;
        }
        if let Some(keywords) = self.service_keywords {
            app.service_keywords = dedup(keywords);
        }
        if let Some(pages) = self.service_pages {
            app.service_pages = pages;
        }
        if let Some(domains) = self.request_domains {
            app.request_domains = dedup(
                domains
                    .iter()
                    .filter_map(|domain| parse_origin(domain).ok())
                    .collect(),
            );
        }
        if let Some(testers) = self.testers {
            app.testers = dedup(testers);
        }
        if let Some(ext) = self.ext_config {
            app.ext_config = ext;
        }
    }
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|item| seen.insert(item.clone()))
        .collect()
}

/// A new AppSecret: 32 hex digits, like WeChat's.
fn new_secret() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Whether `secret` has an AppSecret's shape.
fn secret_shaped(secret: &str) -> bool {
    secret.len() == 32 && secret.bytes().all(|b| b.is_ascii_hexdigit())
}

impl MiniApps {
    /// Creates a mini program under developer account `developer_id`: its appid
    /// (registered with identity, bound to the account) and its AppSecret, answered
    /// here once and never again.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Invalid`] naming a bad field; [`MiniAppError::NotADeveloper`]
    /// for an unknown developer account.
    pub async fn create_app(
        &self,
        developer_id: &str,
        new: NewMiniApp,
    ) -> Result<(MiniApp, String), MiniAppError> {
        check_chars("name", &new.name, 1, 30)?;
        new.settings.check()?;
        if self.identity.developer(developer_id).await?.is_none() {
            return Err(MiniAppError::NotADeveloper);
        }
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (registered, app_write) =
                self.identity.new_app(&new.name, None, Some(developer_id))?;
            let secret = new_secret();
            let now = self.now();
            let mut app = MiniApp {
                appid: registered.appid,
                developer_id: developer_id.to_owned(),
                name: new.name.clone(),
                icon: new
                    .name
                    .chars()
                    .next()
                    .map(String::from)
                    .unwrap_or_default(),
                category: String::new(),
                description: String::new(),
                service_keywords: Vec::new(),
                service_pages: std::collections::BTreeMap::new(),
                request_domains: Vec::new(),
                testers: Vec::new(),
                mchid: None,
                ext_config: serde_json::Map::new(),
                secret_sha256: sha256_hex(&secret),
                secret_made_at: now,
                created_at: now,
            };
            new.settings.clone().apply_checked(&mut app)?;
            let writes = vec![app_write, self.app_write(&app, Expect::Absent)?];
            if self
                .try_commit_with_events(writes, vec![app_event(&app)])
                .await?
            {
                self.remember_app(&app, 1);
                return Ok((app, secret));
            }
        }
        Err(MiniAppError::Busy {
            what: "appid".to_owned(),
        })
    }

    fn app_write(
        &self,
        app: &MiniApp,
        expect: Expect,
    ) -> Result<plaza_kernel::record::RecordWrite, MiniAppError> {
        let created = time_value(app.created_at.unix_ms());
        write(
            kind::APP,
            &app.appid,
            expect,
            app,
            vec![
                IndexEntry::new(index::DEVELOPER, format!("{}/{created}", app.developer_id)),
                IndexEntry::new(index::CREATED, created),
            ],
        )
    }

    /// One mini program.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn app(&self, appid: &str) -> Result<Option<MiniApp>, MiniAppError> {
        if let Ok(cache) = self.app_cache.read()
            && let Some((_, app)) = cache.get(appid)
        {
            return Ok(Some(MiniApp::clone(app)));
        }
        let loaded = load::<MiniApp>(&*self.records, kind::APP, appid).await?;
        Ok(loaded.map(|(app, version)| {
            self.remember_app(&app, version);
            app
        }))
    }

    /// Keeps `app` as of record `version` in the cache every read of an app goes
    /// through. This process is the only writer (the data directory's lock), and every
    /// write of an app passes here after its commit, so the cache is exact; a newer
    /// version is never replaced by an older one that finished later.
    fn remember_app(&self, app: &MiniApp, version: u64) {
        if let Ok(mut cache) = self.app_cache.write() {
            let newer = cache
                .get(&app.appid)
                .is_none_or(|(known, _)| *known < version);
            if newer {
                cache.insert(
                    app.appid.clone(),
                    (version, std::sync::Arc::new(app.clone())),
                );
            }
        }
    }

    /// One mini program, or [`MiniAppError::AppNotFound`].
    ///
    /// # Errors
    ///
    /// As said.
    pub async fn existing_app(&self, appid: &str) -> Result<MiniApp, MiniAppError> {
        self.app(appid)
            .await?
            .ok_or_else(|| MiniAppError::AppNotFound {
                appid: appid.to_owned(),
            })
    }

    /// A developer account's mini programs, oldest first.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn apps_of(&self, developer_id: &str) -> Result<Vec<MiniApp>, MiniAppError> {
        self.range(
            index::DEVELOPER,
            format!("{developer_id}/"),
            format!("{developer_id}/~"),
            1_000,
        )
        .await
    }

    /// Every mini program, oldest first, at most `rows_max`.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Unavailable`] when the store fails.
    pub async fn apps(&self, rows_max: usize) -> Result<Vec<MiniApp>, MiniAppError> {
        self.range(index::CREATED, String::new(), "~".to_owned(), rows_max)
            .await
    }

    async fn range(
        &self,
        name: &str,
        from: String,
        to: String,
        rows_max: usize,
    ) -> Result<Vec<MiniApp>, MiniAppError> {
        crate::store::range(&*self.records, kind::APP, name, (from, to), rows_max, false).await
    }

    /// Changes an app by `change`, checked against the version read; retried on a race.
    async fn change_app<T>(
        &self,
        appid: &str,
        change: impl Fn(&mut MiniApp) -> Result<T, MiniAppError>,
    ) -> Result<(MiniApp, T), MiniAppError> {
        for _ in 0..CONFLICT_RETRIES_MAX {
            let (mut app, version) = load::<MiniApp>(&*self.records, kind::APP, appid)
                .await?
                .ok_or_else(|| MiniAppError::AppNotFound {
                    appid: appid.to_owned(),
                })?;
            let answer = change(&mut app)?;
            let write = self.app_write(&app, Expect::Version(version))?;
            if self
                .try_commit_with_events(vec![write], vec![app_event(&app)])
                .await?
            {
                self.remember_app(&app, version + 1);
                return Ok((app, answer));
            }
        }
        Err(MiniAppError::Busy {
            what: "mini program".to_owned(),
        })
    }

    /// Changes settings; the first bad field is named and nothing changes.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Invalid`], [`MiniAppError::AppNotFound`].
    pub async fn update_settings(
        &self,
        appid: &str,
        settings: AppSettings,
    ) -> Result<MiniApp, MiniAppError> {
        settings.check()?;
        if let Some(testers) = &settings.testers {
            for tester in testers {
                if self.identity.user(tester).await?.is_none() {
                    return Err(MiniAppError::invalid(
                        "testers",
                        format!("no user {tester}"),
                    ));
                }
            }
        }
        let (app, ()) = self
            .change_app(appid, |app| settings.clone().apply_checked(app))
            .await?;
        Ok(app)
    }

    /// Makes a new AppSecret: the old one stops working at once (tokens already issued
    /// keep working until they end, as on WeChat). The new secret is answered once.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::AppNotFound`].
    pub async fn reset_secret(&self, appid: &str) -> Result<(MiniApp, String), MiniAppError> {
        let now = self.now();
        self.change_app(appid, |app| {
            let secret = new_secret();
            app.secret_sha256 = sha256_hex(&secret);
            app.secret_made_at = now;
            Ok(secret)
        })
        .await
    }

    /// Binds the Pay merchant that takes the app's JSAPI payments (binding the appid to
    /// the merchant in Pay too), or unbinds it with `None`.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::AppNotFound`]; [`MiniAppError::Invalid`] for a malformed or
    /// unknown mchid, or when this Plaza runs no payments.
    pub async fn bind_merchant(
        &self,
        appid: &str,
        mchid: Option<&str>,
    ) -> Result<MiniApp, MiniAppError> {
        self.existing_app(appid).await?;
        if let Some(mchid) = mchid {
            if mchid.is_empty() || mchid.len() > 32 || !mchid.bytes().all(|b| b.is_ascii_digit()) {
                return Err(MiniAppError::invalid(
                    "mchid",
                    "a merchant number is digits",
                ));
            }
            let merchants = self
                .merchants
                .as_ref()
                .ok_or_else(|| MiniAppError::invalid("mchid", "this Plaza runs no payments"))?;
            merchants
                .bind(mchid.to_owned(), appid.to_owned())
                .await
                .map_err(|refusal| match refusal {
                    MerchantRefusal::NotFound { .. } => {
                        MiniAppError::invalid("mchid", refusal.to_string())
                    }
                    MerchantRefusal::Unavailable { reason } => MiniAppError::Unavailable { reason },
                })?;
        }
        let (app, ()) = self
            .change_app(appid, |app| {
                app.mchid = mchid.map(str::to_owned);
                Ok(())
            })
            .await?;
        Ok(app)
    }

    /// The app whose appid and AppSecret these are, checked in WeChat's order: appid
    /// present, secret present, appid known, secret shaped, secret current.
    ///
    /// # Errors
    ///
    /// [`MiniAppError::Missing`], [`MiniAppError::AppNotFound`],
    /// [`MiniAppError::SecretMalformed`], [`MiniAppError::SecretWrong`].
    pub async fn authenticate(&self, appid: &str, secret: &str) -> Result<MiniApp, MiniAppError> {
        if appid.is_empty() {
            return Err(MiniAppError::Missing { name: "appid" });
        }
        if secret.is_empty() {
            return Err(MiniAppError::Missing { name: "secret" });
        }
        let app = self.existing_app(appid).await?;
        if !secret_shaped(secret) {
            return Err(MiniAppError::SecretMalformed);
        }
        let presented = sha256_hex(&secret.to_ascii_lowercase());
        if plaza_kernel::record::constant_time_eq(
            presented.as_bytes(),
            app.secret_sha256.as_bytes(),
        ) {
            Ok(app)
        } else {
            Err(MiniAppError::SecretWrong)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_origin;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert_eq!(
            parse_origin("https://API.example.com/").as_deref(),
            Ok("https://api.example.com")
        );
        assert_eq!(
            parse_origin("http://127.0.0.1:9000").as_deref(),
            Ok("http://127.0.0.1:9000")
        );
        assert!(parse_origin("ftp://example.com").is_err());
        assert!(parse_origin("https://example.com/path").is_err());
        assert!(parse_origin("https://example.com:0").is_err());
        assert!(parse_origin("https://").is_err());
    }
}
