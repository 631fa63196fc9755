//! The data directory: everything Plaza keeps on disk lives under one folder, so a backup
//! is a copy of that folder. A lock file makes sure one process uses it at a time.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

const LOCK_FILE: &str = "plaza.lock";
const ADMIN_TOKEN_FILE: &str = "admin.token";
const ADDR_FILE: &str = "plaza.addr";

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
    /// Creates the directory if needed and takes its lock.
    pub(crate) fn open(path: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(path)
            .with_context(|| format!("cannot create the data directory {}", path.display()))?;
        let lock_path = path.join(LOCK_FILE);
        let mut lock = OpenOptions::new()
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
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        file.write_all(token.as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(token)
    }

    /// Records where the server listens, for `plaza admin` commands.
    pub(crate) fn write_addr(&self, addr: SocketAddr) -> anyhow::Result<()> {
        let path = self.path.join(ADDR_FILE);
        std::fs::write(&path, addr.to_string())
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// Forgets the address at shutdown.
    pub(crate) fn remove_addr(&self) {
        let _removed = std::fs::remove_file(self.path.join(ADDR_FILE));
    }
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
