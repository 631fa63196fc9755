//! Typed configuration, built once at startup from four layers:
//! built-in defaults < the TOML file < `PLAZA_*` environment variables < command-line
//! flags. Every value is validated here, and an invalid one stops startup with a message
//! naming the key and where it came from. `docs/config.md` documents every key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use plaza_kernel::limits::{REQUEST_BODY_BYTES_DEFAULT, REQUEST_TIMEOUT_MS_DEFAULT};

/// A configuration key: its TOML name, environment variable and flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Key {
    Listen,
    DataDir,
    DatabaseUrl,
    Sandbox,
    RequestBodyBytesMax,
    RequestTimeoutMs,
    ShutdownGraceMs,
    LogFormat,
    LogLevel,
    PublicBaseUrl,
    TlsListen,
    TlsCertDir,
    SandboxClockStart,
    NotifyAllowedInternalHosts,
    MiniappTokenDailyMax,
}

impl Key {
    pub(crate) const ALL: [Key; 15] = [
        Key::Listen,
        Key::DataDir,
        Key::DatabaseUrl,
        Key::Sandbox,
        Key::RequestBodyBytesMax,
        Key::RequestTimeoutMs,
        Key::ShutdownGraceMs,
        Key::LogFormat,
        Key::LogLevel,
        Key::PublicBaseUrl,
        Key::TlsListen,
        Key::TlsCertDir,
        Key::SandboxClockStart,
        Key::NotifyAllowedInternalHosts,
        Key::MiniappTokenDailyMax,
    ];

    pub(crate) fn toml_name(self) -> &'static str {
        match self {
            Key::Listen => "listen",
            Key::DataDir => "data_dir",
            Key::DatabaseUrl => "database_url",
            Key::Sandbox => "sandbox",
            Key::RequestBodyBytesMax => "request_body_bytes_max",
            Key::RequestTimeoutMs => "request_timeout_ms",
            Key::ShutdownGraceMs => "shutdown_grace_ms",
            Key::LogFormat => "log_format",
            Key::LogLevel => "log_level",
            Key::PublicBaseUrl => "public_base_url",
            Key::TlsListen => "tls_listen",
            Key::TlsCertDir => "tls_cert_dir",
            Key::SandboxClockStart => "sandbox_clock_start",
            Key::NotifyAllowedInternalHosts => "notify_allowed_internal_hosts",
            Key::MiniappTokenDailyMax => "miniapp_token_daily_max",
        }
    }

    pub(crate) fn env_name(self) -> String {
        format!("PLAZA_{}", self.toml_name().to_ascii_uppercase())
    }

    pub(crate) fn flag_name(self) -> String {
        format!("--{}", self.toml_name().replace('_', "-"))
    }
}

/// Where a raw value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    File(PathBuf),
    Env,
    Flag,
}

impl Source {
    fn describe(&self, key: Key) -> String {
        match self {
            Source::File(path) => format!("{} in {}", key.toml_name(), path.display()),
            Source::Env => format!("environment variable {}", key.env_name()),
            Source::Flag => format!("flag {}", key.flag_name()),
        }
    }
}

/// An invalid configuration, naming the key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub(crate) struct ConfigError(String);

/// Raw values by key, each with its source; later layers overwrite earlier ones.
#[derive(Debug, Default)]
pub(crate) struct RawConfig {
    values: BTreeMap<Key, (String, Source)>,
}

impl RawConfig {
    pub(crate) fn set(&mut self, key: Key, value: String, source: Source) {
        self.values.insert(key, (value, source));
    }

    /// Reads a TOML file. Unknown keys and values of the wrong type are errors.
    pub(crate) fn load_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            ConfigError(format!(
                "cannot read config file {}: {error}",
                path.display()
            ))
        })?;
        let table: toml::Table = toml::from_str(&text).map_err(|error| {
            ConfigError(format!(
                "config file {} is not valid TOML: {error}",
                path.display()
            ))
        })?;
        for (name, value) in table {
            let Some(key) = Key::ALL.into_iter().find(|key| key.toml_name() == name) else {
                let known: Vec<&str> = Key::ALL.iter().map(|key| key.toml_name()).collect();
                return Err(ConfigError(format!(
                    "unknown key `{name}` in {}; known keys: {}",
                    path.display(),
                    known.join(", ")
                )));
            };
            let text = match value {
                toml::Value::String(text) => text,
                toml::Value::Integer(number) => number.to_string(),
                toml::Value::Boolean(flag) => flag.to_string(),
                // A list (of host names) is kept as the comma-separated text the
                // environment and flags use.
                toml::Value::Array(items)
                    if items
                        .iter()
                        .all(|item| matches!(item, toml::Value::String(_))) =>
                {
                    items
                        .iter()
                        .filter_map(toml::Value::as_str)
                        .collect::<Vec<_>>()
                        .join(",")
                }
                other => {
                    return Err(ConfigError(format!(
                        "{name} in {}: expected a string, integer, boolean or list of strings, found {}",
                        path.display(),
                        other.type_str()
                    )));
                }
            };
            self.set(key, text, Source::File(path.to_owned()));
        }
        Ok(())
    }

    /// Reads every `PLAZA_<KEY>` variable through `lookup`.
    pub(crate) fn load_env(&mut self, lookup: &dyn Fn(&str) -> Option<String>) {
        for key in Key::ALL {
            if let Some(value) = lookup(&key.env_name()) {
                self.set(key, value, Source::Env);
            }
        }
    }

    fn get(&self, key: Key) -> Option<&(String, Source)> {
        self.values.get(&key)
    }

    fn parse<T>(
        &self,
        key: Key,
        default: T,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some((text, source)) => parse(text.trim()).map_err(|problem| {
                ConfigError(format!(
                    "{}: {problem} (got {text:?})",
                    source.describe(key)
                ))
            }),
        }
    }
}

fn parse_bool(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".to_owned()),
    }
}

fn parse_bounded(min: u64, max: u64) -> impl Fn(&str) -> Result<u64, String> {
    move |text| {
        let value: u64 = text
            .parse()
            .map_err(|_| "expected a whole number".to_owned())?;
        if (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(format!("must be between {min} and {max}"))
        }
    }
}

/// Which database to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) listen: SocketAddr,
    pub(crate) data_dir: PathBuf,
    pub(crate) database: Database,
    pub(crate) sandbox: bool,
    pub(crate) request_body_bytes_max: usize,
    pub(crate) request_timeout: Duration,
    pub(crate) shutdown_grace: Duration,
    pub(crate) log_format: LogFormat,
    pub(crate) log_level: String,
    /// The base URL clients reach Plaza at; `None` means `http://<listen address>`.
    pub(crate) public_base_url: Option<String>,
    /// Drop-in mode's HTTPS address (sandbox only); `None` serves plain HTTP only.
    pub(crate) tls_listen: Option<SocketAddr>,
    /// Where `plaza ca` writes and drop-in mode reads the certificates.
    pub(crate) tls_cert_dir: PathBuf,
    /// Sandbox only: at start, the sandbox clock moves forward to this instant if it is
    /// behind it (jobs due on the way run at their due times).
    pub(crate) sandbox_clock_start: Option<plaza_kernel::clock::Timestamp>,
    /// Where `data_dir` was set (e.g. "flag --data-dir"); `None` when it is the default.
    pub(crate) data_dir_origin: Option<String>,
    /// Internal hosts (names or addresses) merchants' notify and callback URLs may name
    /// outside the sandbox.
    pub(crate) notify_allowed_internal_hosts: Vec<String>,
    /// Access tokens `/cgi-bin/token` issues per mini program and day.
    pub(crate) miniapp_token_daily_max: u32,
}

/// The certificate directory inside the data directory, unless `tls_cert_dir` says
/// otherwise.
pub(crate) const CA_DIR: &str = "ca";

/// The data directory when none is configured.
pub(crate) const DATA_DIR_DEFAULT: &str = "plaza-data";

/// The file name of the SQLite database inside the data directory.
pub(crate) const SQLITE_FILE: &str = "plaza.sqlite3";

impl Config {
    /// Validates the raw layers.
    #[expect(
        clippy::too_many_lines,
        reason = "one line per configuration key, validated in the order the keys are documented"
    )]
    pub(crate) fn from_raw(raw: &RawConfig) -> Result<Self, ConfigError> {
        let listen = raw.parse(
            Key::Listen,
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            parse_listen,
        )?;
        let data_dir = raw.parse(Key::DataDir, PathBuf::from(DATA_DIR_DEFAULT), |text| {
            if text.is_empty() {
                Err("must not be empty".to_owned())
            } else {
                Ok(PathBuf::from(text))
            }
        })?;
        let sqlite_default = Database::Sqlite(data_dir.join(SQLITE_FILE));
        let database = raw.parse(Key::DatabaseUrl, sqlite_default, parse_database_url)?;
        let sandbox = raw.parse(Key::Sandbox, false, parse_bool)?;
        let request_body_bytes_max = raw.parse(
            Key::RequestBodyBytesMax,
            REQUEST_BODY_BYTES_DEFAULT as u64,
            parse_bounded(1024, 64 * 1024 * 1024),
        )?;
        let request_timeout_ms = raw.parse(
            Key::RequestTimeoutMs,
            REQUEST_TIMEOUT_MS_DEFAULT,
            parse_bounded(100, 600_000),
        )?;
        let shutdown_grace_ms =
            raw.parse(Key::ShutdownGraceMs, 10_000, parse_bounded(0, 600_000))?;
        let log_format = raw.parse(Key::LogFormat, LogFormat::Text, |text| match text {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err("expected text or json".to_owned()),
        })?;
        let log_level = raw.parse(Key::LogLevel, "info".to_owned(), |text| {
            tracing_subscriber::EnvFilter::try_new(text)
                .map(|_| text.to_owned())
                .map_err(|error| format!("not a log filter: {error}"))
        })?;
        let public_base_url = raw.parse(Key::PublicBaseUrl, None, |text| {
            let trimmed = text.trim_end_matches('/');
            let host = trimmed
                .strip_prefix("http://")
                .or_else(|| trimmed.strip_prefix("https://"))
                .ok_or_else(|| "expected an http:// or https:// URL".to_owned())?;
            if host.is_empty() || host.contains(['?', '#', ' ']) {
                return Err("expected a URL like https://pay.example.com".to_owned());
            }
            Ok(Some(trimmed.to_owned()))
        })?;
        let tls_listen = raw.parse(Key::TlsListen, None, |text| parse_listen(text).map(Some))?;
        if let Some((_, source)) = raw.get(Key::TlsListen)
            && tls_listen.is_some()
            && !sandbox
        {
            return Err(ConfigError(format!(
                "{} needs sandbox mode (--sandbox): drop-in mode answers for WeChat's own host names, which a production Plaza must never do",
                source.describe(Key::TlsListen)
            )));
        }
        let tls_cert_dir = raw.parse(Key::TlsCertDir, data_dir.join(CA_DIR), |text| {
            if text.is_empty() {
                Err("must not be empty".to_owned())
            } else {
                Ok(PathBuf::from(text))
            }
        })?;
        let sandbox_clock_start = raw.parse(Key::SandboxClockStart, None, |text| {
            text.parse::<jiff::Timestamp>()
                .map(|instant| {
                    Some(plaza_kernel::clock::Timestamp::from_unix_ms(
                        instant.as_millisecond(),
                    ))
                })
                .map_err(|_| {
                    "expected an RFC 3339 instant like 2030-01-02T10:00:00+08:00".to_owned()
                })
        })?;
        if let Some((_, source)) = raw.get(Key::SandboxClockStart)
            && sandbox_clock_start.is_some()
            && !sandbox
        {
            return Err(ConfigError(format!(
                "{} needs sandbox mode (--sandbox): a production clock follows the wall clock",
                source.describe(Key::SandboxClockStart)
            )));
        }
        let data_dir_origin = raw
            .get(Key::DataDir)
            .map(|(_, source)| source.describe(Key::DataDir));
        let notify_allowed_internal_hosts =
            raw.parse(Key::NotifyAllowedInternalHosts, Vec::new(), parse_host_list)?;
        let miniapp_token_daily_max = raw.parse(
            Key::MiniappTokenDailyMax,
            u64::from(plaza_miniapp::MiniAppLimits::default().token_daily_max),
            parse_bounded(1, 1_000_000),
        )?;
        Ok(Self {
            miniapp_token_daily_max: u32::try_from(miniapp_token_daily_max).unwrap_or(u32::MAX),
            sandbox_clock_start,
            data_dir_origin,
            tls_listen,
            tls_cert_dir,
            notify_allowed_internal_hosts,
            public_base_url,
            listen,
            data_dir,
            database,
            sandbox,
            request_body_bytes_max: usize::try_from(request_body_bytes_max)
                .unwrap_or(REQUEST_BODY_BYTES_DEFAULT),
            request_timeout: Duration::from_millis(request_timeout_ms),
            shutdown_grace: Duration::from_millis(shutdown_grace_ms),
            log_format,
            log_level,
        })
    }
}

/// A listening address: `IP:PORT`, or `HOST:PORT` with a name that resolves (IPv4 is
/// preferred when a name has both, as `localhost` often does). Port 0 picks a free port.
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let expected = "expected an address like 127.0.0.1:8080 or localhost:8080";
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(expected.to_owned());
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(expected.to_owned());
    }
    let resolved: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(text)
        .map_err(|error| format!("{expected}; cannot resolve {host}: {error}"))?
        .collect();
    resolved
        .iter()
        .find(|addr| addr.is_ipv4())
        .or_else(|| resolved.first())
        .copied()
        .ok_or_else(|| format!("{expected}; {host} resolves to no address"))
}

/// A comma-separated list of host names or IP addresses (IPv6 with or without
/// brackets), each as it would appear in a URL.
fn parse_host_list(text: &str) -> Result<Vec<String>, String> {
    let mut hosts = Vec::new();
    for host in text
        .split(',')
        .map(str::trim)
        .filter(|host| !host.is_empty())
    {
        let bare = host
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .unwrap_or(host);
        let is_name = bare.len() <= 253
            && bare
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_'));
        if bare.parse::<std::net::IpAddr>().is_err() && !is_name {
            return Err(format!(
                "{host:?} is not a host name or an IP address (give names like hooks.internal, separated by commas)"
            ));
        }
        hosts.push(bare.to_ascii_lowercase());
    }
    Ok(hosts)
}

fn parse_database_url(text: &str) -> Result<Database, String> {
    if let Some(path) = text.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err("sqlite:// needs a file path".to_owned());
        }
        return Ok(Database::Sqlite(PathBuf::from(path)));
    }
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        return Ok(Database::Postgres(text.to_owned()));
    }
    Err("expected postgres://… or sqlite://…".to_owned())
}

/// The config file to read: `--config`, else `PLAZA_CONFIG`, else `./plaza.toml` if it
/// exists.
pub(crate) fn config_file(
    flag: Option<&Path>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Option<PathBuf> {
    flag.map(Path::to_owned)
        .or_else(|| lookup("PLAZA_CONFIG").map(PathBuf::from))
        .or_else(|| {
            let default = PathBuf::from("plaza.toml");
            default.is_file().then_some(default)
        })
}

/// Builds the configuration from a file, the environment and flags.
pub(crate) fn load(
    config_flag: Option<&Path>,
    flags: &[(Key, Option<String>)],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut raw = RawConfig::default();
    if let Some(path) = config_file(config_flag, lookup) {
        raw.load_file(&path)?;
    }
    raw.load_env(lookup);
    for (key, value) in flags {
        if let Some(value) = value {
            raw.set(*key, value.clone(), Source::Flag);
        }
    }
    Config::from_raw(&raw)
}

/// Reads the process environment.
pub(crate) fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_need_no_file_and_no_flags() {
        let config = load(None, &[], &no_env).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.data_dir, PathBuf::from("plaza-data"));
        assert_eq!(
            config.database,
            Database::Sqlite(PathBuf::from("plaza-data").join(SQLITE_FILE))
        );
        assert!(!config.sandbox);
        assert_eq!(config.tls_listen, None);
        assert_eq!(config.tls_cert_dir, PathBuf::from("plaza-data").join("ca"));
        assert_eq!(config.data_dir_origin, None);
    }

    #[test]
    fn the_data_directory_says_where_it_was_set() {
        let flags = [(Key::DataDir, Some("d".to_owned()))];
        let config = load(None, &flags, &no_env).unwrap();
        assert_eq!(config.data_dir_origin.as_deref(), Some("flag --data-dir"));
        let env = |name: &str| (name == "PLAZA_DATA_DIR").then(|| "e".to_owned());
        let config = load(None, &[], &env).unwrap();
        assert_eq!(
            config.data_dir_origin.as_deref(),
            Some("environment variable PLAZA_DATA_DIR")
        );
    }

    #[test]
    fn listen_takes_addresses_and_names_that_resolve() {
        assert_eq!(
            parse_listen("127.0.0.1:0"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 0)))
        );
        assert_eq!(
            parse_listen("[::1]:8080"),
            Ok("[::1]:8080".parse().unwrap())
        );
        let localhost = parse_listen("localhost:0").unwrap();
        assert!(localhost.ip().is_loopback(), "{localhost}");
        assert_eq!(localhost.port(), 0);
        for bad in [
            "localhost",
            "localhost:http",
            ":8080",
            "127.0.0.1:99999",
            "",
        ] {
            let error = parse_listen(bad).unwrap_err();
            assert!(error.contains("localhost:8080"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_sandbox_clock_start_is_an_instant_and_needs_the_sandbox() {
        let flags = [
            (Key::Sandbox, Some("true".to_owned())),
            (
                Key::SandboxClockStart,
                Some("2030-01-02T10:00:00+08:00".to_owned()),
            ),
        ];
        let config = load(None, &flags, &|_: &str| None).unwrap();
        assert_eq!(
            config.sandbox_clock_start.map(|at| at.unix_ms()),
            Some(1_893_549_600_000)
        );
        let error = load(None, &flags[1..], &|_: &str| None)
            .unwrap_err()
            .to_string();
        assert!(error.contains("needs sandbox mode"), "{error}");
        let bad = [
            (Key::Sandbox, Some("true".to_owned())),
            (Key::SandboxClockStart, Some("tomorrow".to_owned())),
        ];
        let error = load(None, &bad, &|_: &str| None).unwrap_err().to_string();
        assert!(error.contains("RFC 3339"), "{error}");
    }

    #[test]
    fn tls_listen_is_refused_outside_the_sandbox() {
        let flags = [(Key::TlsListen, Some("127.0.0.1:0".to_owned()))];
        let error = load(None, &flags, &no_env).unwrap_err().to_string();
        assert!(error.contains("flag --tls-listen"), "{error}");
        assert!(error.contains("needs sandbox mode"), "{error}");
        let env = |name: &str| (name == "PLAZA_TLS_LISTEN").then(|| "127.0.0.1:443".to_owned());
        let error = load(None, &[], &env).unwrap_err().to_string();
        assert!(error.contains("PLAZA_TLS_LISTEN"), "{error}");
        let flags = [
            (Key::TlsListen, Some("127.0.0.1:443".to_owned())),
            (Key::Sandbox, Some("true".to_owned())),
            (Key::DataDir, Some("d".to_owned())),
        ];
        let config = load(None, &flags, &no_env).unwrap();
        assert_eq!(config.tls_listen.map(|addr| addr.port()), Some(443));
        assert_eq!(config.tls_cert_dir, PathBuf::from("d").join("ca"));
        let flags = [(Key::TlsCertDir, Some("/etc/plaza-ca".to_owned()))];
        let config = load(None, &flags, &no_env).unwrap();
        assert_eq!(config.tls_cert_dir, PathBuf::from("/etc/plaza-ca"));
    }

    #[test]
    fn flags_beat_environment_which_beats_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plaza.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:1000\"\ndata_dir = \"from-file\"\nrequest_timeout_ms = 5000\nsandbox = true\n",
        )
        .unwrap();
        let env = |name: &str| (name == "PLAZA_LISTEN").then(|| "127.0.0.1:2000".to_owned());
        let config = load(Some(&file), &[], &env).unwrap();
        assert_eq!(config.listen.port(), 2000);
        assert_eq!(config.data_dir, PathBuf::from("from-file"));
        assert_eq!(config.request_timeout, Duration::from_millis(5000));
        assert!(config.sandbox);
        let flags = [(Key::Listen, Some("127.0.0.1:3000".to_owned()))];
        let config = load(Some(&file), &flags, &env).unwrap();
        assert_eq!(config.listen.port(), 3000);
    }

    #[test]
    fn bad_values_name_their_key_and_source() {
        let env = |name: &str| (name == "PLAZA_LISTEN").then(|| "not-an-address".to_owned());
        let error = load(None, &[], &env).unwrap_err().to_string();
        assert!(
            error.contains("environment variable PLAZA_LISTEN"),
            "{error}"
        );
        let flags = [(Key::RequestTimeoutMs, Some("5".to_owned()))];
        let error = load(None, &flags, &no_env).unwrap_err().to_string();
        assert!(error.contains("flag --request-timeout-ms"), "{error}");
        assert!(error.contains("between 100 and 600000"), "{error}");
        let flags = [(Key::DatabaseUrl, Some("mysql://x".to_owned()))];
        let error = load(None, &flags, &no_env).unwrap_err().to_string();
        assert!(error.contains("--database-url"), "{error}");
    }

    #[test]
    fn allowed_internal_hosts_are_a_list_in_every_layer() {
        let config = load(None, &[], &no_env).unwrap();
        assert!(config.notify_allowed_internal_hosts.is_empty());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plaza.toml");
        std::fs::write(
            &file,
            "notify_allowed_internal_hosts = [\"Hooks.Internal\", \"10.0.0.7\", \"[fd00::1]\"]\n",
        )
        .unwrap();
        let config = load(Some(&file), &[], &no_env).unwrap();
        assert_eq!(
            config.notify_allowed_internal_hosts,
            ["hooks.internal", "10.0.0.7", "fd00::1"]
        );
        let env = |name: &str| {
            (name == "PLAZA_NOTIFY_ALLOWED_INTERNAL_HOSTS").then(|| "a.internal, b".to_owned())
        };
        let config = load(None, &[], &env).unwrap();
        assert_eq!(config.notify_allowed_internal_hosts, ["a.internal", "b"]);
        let flags = [(
            Key::NotifyAllowedInternalHosts,
            Some("http://x/".to_owned()),
        )];
        let error = load(None, &flags, &no_env).unwrap_err().to_string();
        assert!(error.contains("--notify-allowed-internal-hosts"), "{error}");
    }

    #[test]
    fn unknown_or_mistyped_file_keys_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plaza.toml");
        std::fs::write(&file, "listn = \"x\"\n").unwrap();
        let error = load(Some(&file), &[], &no_env).unwrap_err().to_string();
        assert!(error.contains("unknown key `listn`"), "{error}");
        std::fs::write(&file, "sandbox = \"maybe\"\n").unwrap();
        let error = load(Some(&file), &[], &no_env).unwrap_err().to_string();
        assert!(error.contains("sandbox in"), "{error}");
        std::fs::write(&file, "listen = [1]\n").unwrap();
        let error = load(Some(&file), &[], &no_env).unwrap_err().to_string();
        assert!(error.contains("found array"), "{error}");
    }
}
