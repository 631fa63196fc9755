//! The object-store port over a local folder: each blob a file named by its content
//! address under a two-character fan-out (`ab/abcdef…`), written to a temporary file,
//! synced, renamed into place and the folder synced, so a blob that `put` acknowledged
//! survives a crash and a reader never sees half of one.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use plaza_kernel::BoxFuture;
use plaza_kernel::objects::{BlobPart, ObjectError, ObjectStore, is_content_address};

/// Blobs in a folder.
#[derive(Debug, Clone)]
pub struct LocalObjects {
    root: PathBuf,
}

impl LocalObjects {
    /// Blobs under `root` (made when missing).
    ///
    /// # Errors
    ///
    /// When the folder cannot be made.
    pub fn open(root: impl Into<PathBuf>) -> std::io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(Self { root })
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, ObjectError> {
        if !is_content_address(key) {
            return Err(ObjectError::BadKey {
                key: key.chars().take(80).collect(),
            });
        }
        Ok(self.root.join(&key[..2]).join(key))
    }
}

fn unavailable(error: &std::io::Error) -> ObjectError {
    ObjectError::Unavailable {
        reason: error.to_string(),
    }
}

fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("an object path has a folder"))?;
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(".tmp-{}-{}", std::process::id(), rand_suffix()));
    {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// A suffix that differs between concurrent writers in one process.
fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl ObjectStore for LocalObjects {
    fn put(&self, key: String, bytes: Vec<u8>) -> BoxFuture<'_, Result<(), ObjectError>> {
        Box::pin(async move {
            let path = self.path_of(&key)?;
            tokio::task::spawn_blocking(move || write_durably(&path, &bytes))
                .await
                .map_err(|error| ObjectError::Unavailable {
                    reason: error.to_string(),
                })?
                .map_err(|error| unavailable(&error))
        })
    }

    fn get(&self, key: String) -> BoxFuture<'_, Result<Option<Vec<u8>>, ObjectError>> {
        Box::pin(async move {
            let path = self.path_of(&key)?;
            tokio::task::spawn_blocking(move || match std::fs::read(&path) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(unavailable(&error)),
            })
            .await
            .map_err(|error| ObjectError::Unavailable {
                reason: error.to_string(),
            })?
        })
    }

    fn get_range(
        &self,
        key: String,
        start: u64,
        len_max: u64,
    ) -> BoxFuture<'_, Result<Option<BlobPart>, ObjectError>> {
        Box::pin(async move {
            let path = self.path_of(&key)?;
            tokio::task::spawn_blocking(move || read_range(&path, start, len_max))
                .await
                .map_err(|error| ObjectError::Unavailable {
                    reason: error.to_string(),
                })?
                .map_err(|error| unavailable(&error))
        })
    }
}

/// The length of the file at `path` and up to `len_max` of its bytes from `start`.
fn read_range(path: &Path, start: u64, len_max: u64) -> std::io::Result<Option<BlobPart>> {
    use std::io::{Read as _, Seek as _};
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let total = file.metadata()?.len();
    let wanted = len_max.min(total.saturating_sub(start));
    let mut bytes = Vec::with_capacity(usize::try_from(wanted).unwrap_or(0));
    if wanted > 0 {
        file.seek(std::io::SeekFrom::Start(start))?;
        file.take(wanted).read_to_end(&mut bytes)?;
    }
    Ok(Some(BlobPart { total, bytes }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[tokio::test]
    async fn blobs_round_trip_and_keys_must_be_content_addresses() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalObjects::open(dir.path().join("objects")).unwrap();
        let key = "a".repeat(64);
        store.put(key.clone(), b"hello".to_vec()).await.unwrap();
        store.put(key.clone(), b"hello".to_vec()).await.unwrap();
        assert_eq!(store.get(key.clone()).await.unwrap().unwrap(), b"hello");
        assert_eq!(store.get("b".repeat(64)).await.unwrap(), None);
        let part = |total, bytes: &[u8]| {
            Some(BlobPart {
                total,
                bytes: bytes.to_vec(),
            })
        };
        // A local temporary folder the test just wrote to; an I/O error is the failure to report.
        let middle = store.get_range(key.clone(), 1, 3).await.unwrap();
        assert_eq!(middle, part(5, b"ell"));
        // A local temporary folder the test just wrote to; an I/O error is the failure to report.
        let tail = store.get_range(key.clone(), 3, 100).await.unwrap();
        assert_eq!(tail, part(5, b"lo"));
        // A local temporary folder the test just wrote to; an I/O error is the failure to report.
        let past = store.get_range(key.clone(), 9, 1).await.unwrap();
        assert_eq!(past, part(5, b""));
        // A local temporary folder the test just wrote to; an I/O error is the failure to report.
        assert_eq!(store.get_range("b".repeat(64), 0, 1).await.unwrap(), None);
        for bad in ["../../etc/passwd", "AB", &"A".repeat(64)] {
            assert!(matches!(
                store.get(bad.to_owned()).await,
                Err(ObjectError::BadKey { .. })
            ));
        }
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("objects/aa"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers.len(),
            1,
            "no temporary file is left: {leftovers:?}"
        );
    }
}
