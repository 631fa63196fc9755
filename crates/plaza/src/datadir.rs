//! The data directory: everything Plaza keeps on disk lives under one folder, so a backup
//! is a copy of that folder. A lock file makes sure one process uses it at a time.
//!
//! It holds secrets (the admin token, the keys, the database with every merchant's
//! records), so the folder is the owner's alone: 0700, and every file Plaza makes in it
//! 0600 (on Unix). Opening a directory made by an older Plaza, or by hand, narrows what
//! it finds to the same modes.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

const LOCK_FILE: &str = "plaza.lock";
const ADMIN_TOKEN_FILE: &str = "admin.token";
const ADDR_FILE: &str = "plaza.addr";
const TLS_ADDR_FILE: &str = "plaza-tls.addr";
const PLATFORM_DIR: &str = "platform";
/// Files Plaza makes in the data directory, narrowed to the owner when it opens one.
const PRIVATE_FILES: [&str; 10] = [
    LOCK_FILE,
    ADMIN_TOKEN_FILE,
    ADDR_FILE,
    TLS_ADDR_FILE,
    "pay.secret",
    "cookie.secret",
    "secrets.key",
    "plaza.sqlite3",
    "plaza.sqlite3-wal",
    "plaza.sqlite3-shm",
];
/// The owner-only modes of folders and files.
#[cfg(unix)]
const DIR_MODE: u32 = 0o700;
#[cfg(unix)]
const FILE_MODE: u32 = 0o600;
/// The platform certificate's validity: twenty years, so it never lapses under a demo.
const PLATFORM_CERT_VALIDITY_S: i64 = 20 * 365 * 86_400;

/// An open, locked data directory. The lock is released when this is dropped (or the
/// process dies: the operating system drops advisory locks with the process).
#[derive(Debug)]
pub(crate) struct DataDir {
    path: PathBuf,
    _lock: File,
}

/// Whether another process holds the directory's lock.
pub(crate) fn is_locked(path: &Path) -> bool {
    let Ok(file) = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path.join(LOCK_FILE))
    else {
        return false;
    };
    match file.try_lock() {
        Ok(()) => {
            let _unlocked = file.unlock();
            false
        }
        Err(_) => true,
    }
}

impl DataDir {
    /// Creates the directory if needed (owner only), narrows what it holds to the owner,
    /// and takes its lock.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        create_private_dir(path)
            .with_context(|| format!("cannot create the data directory {}", path.display()))?;
        make_private(path)?;
        let lock_path = path.join(LOCK_FILE);
        let mut lock = private_options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .with_context(|| format!("cannot open the lock file {}", lock_path.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _read = lock.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {holder})")
                };
                bail!(
                    "the data directory {} is in use by another plaza process{who}; stop it first, or give this one another --data-dir",
                    path.display()
                );
            }
            Err(std::fs::TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("cannot lock {}", lock_path.display()));
            }
        }
        lock.set_len(0)
            .and_then(|()| lock.write_all(std::process::id().to_string().as_bytes()))
            .with_context(|| format!("cannot write {}", lock_path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            _lock: lock,
        })
    }

    /// The admin token, created on first use (64 hex digits, readable by the owner only).
    pub(crate) fn admin_token(&self) -> anyhow::Result<String> {
        let path = self.path.join(ADMIN_TOKEN_FILE);
        if let Some(token) = read_admin_token(&self.path)? {
            return Ok(token);
        }
        let bytes: [u8; 32] = rand::random();
        let token: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        let mut options = private_options();
        options.write(true).create_new(true);
        let mut file = options
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        file.write_all(token.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(token)
    }

    /// A secret made on first use and kept (64 hex digits, owner-only): `name` is its
    /// file.
    pub(crate) fn secret(&self, name: &str) -> anyhow::Result<String> {
        let path = self.path.join(name);
        if let Some(text) = read_optional(&path)? {
            return Ok(text.trim().to_owned());
        }
        let bytes: [u8; 32] = rand::random();
        let secret: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        create_private(&path, secret.as_bytes())?;
        Ok(secret)
    }

    /// The platform's signing identity, made on first start: an RSA-2048 key, a
    /// self-signed certificate (20 years) and a `PUB_KEY_ID_…`.
    pub(crate) fn platform(&self, now_s: i64) -> anyhow::Result<plaza_pay_http::pay_v3::Platform> {
        let dir = self.path.join(PLATFORM_DIR);
        let key_path = dir.join("private_key.pem");
        let certificate_path = dir.join("certificate.pem");
        let id_path = dir.join("public_key_id");
        if !key_path.exists() {
            create_private_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let key = plaza_wx::rsa::PrivateKey::generate()?;
            let serial = plaza_wx::cert::random_serial(&mut rand::rng());
            let certificate = plaza_wx::cert::self_signed(
                &key,
                "Plaza platform certificate",
                &serial,
                now_s - 86_400,
                now_s + PLATFORM_CERT_VALIDITY_S,
            )?;
            let digits: String = (0..30)
                .map(|_| char::from(b'0' + rand::random_range(0..10_u8)))
                .collect();
            // Write the key last: its presence says the identity is complete.
            create_private(&certificate_path, certificate.pem.as_bytes())?;
            create_private(&id_path, format!("PUB_KEY_ID_{digits}").as_bytes())?;
            create_private(&key_path, key.to_pkcs8_pem()?.as_bytes())?;
            tracing::info!(serial = %certificate.serial_hex, "made the platform signing identity");
        }
        let read = |path: &Path| {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
        };
        let key = plaza_wx::rsa::PrivateKey::from_pem(&read(&key_path)?)
            .with_context(|| format!("{} is not a private key", key_path.display()))?;
        plaza_pay_http::pay_v3::Platform::new(
            key,
            read(&certificate_path)?,
            read(&id_path)?.trim().to_owned(),
        )
        .map_err(|reason| {
            anyhow::anyhow!(
                "the platform identity in {} is broken: {reason}",
                dir.display()
            )
        })
    }

    /// Records where the server listens, for `plaza admin` commands.
    pub(crate) fn write_addr(&self, addr: SocketAddr) -> anyhow::Result<()> {
        create_private(&self.path.join(ADDR_FILE), addr.to_string().as_bytes())
    }

    /// Records where drop-in mode's HTTPS listener listens.
    pub(crate) fn write_tls_addr(&self, addr: SocketAddr) -> anyhow::Result<()> {
        create_private(&self.path.join(TLS_ADDR_FILE), addr.to_string().as_bytes())
    }

    /// Forgets the addresses at shutdown.
    pub(crate) fn remove_addr(&self) {
        let _removed = std::fs::remove_file(self.path.join(ADDR_FILE));
        let _removed = std::fs::remove_file(self.path.join(TLS_ADDR_FILE));
    }
}

fn read_optional(path: &Path) -> anyhow::Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Options that create files readable by the owner only.
fn private_options() -> OpenOptions {
    #[allow(unused_mut, reason = "only Unix sets a mode")]
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options
}

/// Creates a folder (and its parents) for the owner only.
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(path)
}

/// Narrows a data directory made before (by an older Plaza, or by hand) to the owner:
/// the folder and `platform/` 0700, the files Plaza keeps there 0600.
fn make_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let narrow = |path: &Path, mode: u32| -> anyhow::Result<()> {
            let metadata = match std::fs::symlink_metadata(path) {
                Ok(metadata) => metadata,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(error) => {
                    return Err(error).with_context(|| format!("cannot read {}", path.display()));
                }
            };
            // A link is left alone: its target is not necessarily Plaza's to change.
            if !metadata.file_type().is_symlink()
                && metadata.permissions().mode() & 0o777 != mode
                && let Err(error) =
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            {
                // Some file systems (a mounted volume) keep no modes: say so, and go on
                // as before rather than refuse to start.
                tracing::warn!(path = %path.display(), %error, "cannot make it private to its owner");
            }
            Ok(())
        };
        narrow(path, DIR_MODE)?;
        for name in PRIVATE_FILES {
            narrow(&path.join(name), FILE_MODE)?;
        }
        let platform = path.join(PLATFORM_DIR);
        narrow(&platform, DIR_MODE)?;
        for name in ["private_key.pem", "certificate.pem", "public_key_id"] {
            narrow(&platform.join(name), FILE_MODE)?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates a file readable by the owner only, and syncs it.
pub(crate) fn create_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = private_options();
    options.write(true).create(true).truncate(true);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Reads the admin token of a data directory, if it has one.
pub(crate) fn read_admin_token(data_dir: &Path) -> anyhow::Result<Option<String>> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(text.trim().to_owned())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Reads where the server of a data directory listens.
pub(crate) fn read_addr(data_dir: &Path) -> anyhow::Result<SocketAddr> {
    let path = data_dir.join(ADDR_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "the data directory is in use but {} is missing; pass --server",
            path.display()
        )
    })?;
    text.trim()
        .parse()
        .with_context(|| format!("{} does not hold an address", path.display()))
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error; unwrap and expect are that failure"
)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDir::open(dir.path()).unwrap();
        assert!(is_locked(dir.path()));
        let error = DataDir::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("in use by another plaza process"), "{error}");
        assert!(
            error.contains(&format!("pid {}", std::process::id())),
            "{error}"
        );
        drop(first);
        assert!(!is_locked(dir.path()));
        DataDir::open(dir.path()).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn the_folder_and_its_files_are_the_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let parent = tempfile::tempdir().unwrap();
        let path = parent.path().join("data");
        let data_dir = DataDir::open(&path).unwrap();
        data_dir.admin_token().unwrap();
        data_dir.secret("secrets.key").unwrap();
        data_dir.write_addr("127.0.0.1:1".parse().unwrap()).unwrap();
        assert_eq!(mode(&path), 0o700);
        for name in [LOCK_FILE, ADMIN_TOKEN_FILE, "secrets.key", ADDR_FILE] {
            assert_eq!(mode(&path.join(name)), 0o600, "{name}");
        }
        drop(data_dir);
        // A folder made by an older Plaza, readable by everyone, is narrowed.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let token = path.join(ADMIN_TOKEN_FILE);
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(path.join("plaza.sqlite3"), b"").unwrap();
        std::fs::set_permissions(
            path.join("plaza.sqlite3"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let _reopened = DataDir::open(&path).unwrap();
        assert_eq!(mode(&path), 0o700);
        assert_eq!(mode(&token), 0o600);
        assert_eq!(mode(&path.join("plaza.sqlite3")), 0o600);
    }

    #[test]
    fn the_admin_token_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = DataDir::open(dir.path()).unwrap();
        let token = data_dir.admin_token().unwrap();
        assert_eq!(token.len(), 64);
        assert_eq!(data_dir.admin_token().unwrap(), token);
        assert_eq!(read_admin_token(dir.path()).unwrap(), Some(token));
    }
}
