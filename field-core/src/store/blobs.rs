//! Content-addressed blob files on the phone: `<dir>/<first two hex>/<name>`, where the name is
//! the SHA-256 of the bytes in a plain store and an HMAC of it in an encrypted one (whose files
//! are sealed, see `sealed.rs`). A file is written to a temporary name, synced and renamed, so a
//! crash never leaves a partial blob under its final name; writing a blob that exists is a no-op.

use super::StoreError;
use super::sealed::{self, BlobSeal};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the blobs of one store live.
#[derive(Debug)]
pub struct BlobDir {
    root: PathBuf,
    temporary: bool,
    seal: Option<BlobSeal>,
}

pub(super) fn io(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Blob(format!("{what} {}: {e}", path.display()))
}

/// The file beside `path` whose name is `path`'s with `suffix` appended (`field.db` →
/// `field.db-blobs`).
pub(super) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

impl BlobDir {
    /// The directory beside a database file: `field.db` → `field.db-blobs/`.
    /// Files are sealed with `key` when one is given.
    pub(crate) fn beside(db: &Path, key: Option<&super::StoreKey>) -> BlobDir {
        BlobDir {
            root: sibling(db, "-blobs"),
            temporary: false,
            seal: key.map(BlobSeal::new),
        }
    }

    /// A fresh directory under the system's temporary directory, removed on drop; its files
    /// are sealed with a key of its own.
    pub(crate) fn temporary() -> BlobDir {
        let root =
            std::env::temp_dir().join(format!("fieldline-blobs-{}", uuid::Uuid::new_v4().simple()));
        BlobDir {
            root,
            temporary: true,
            seal: Some(BlobSeal::new(&super::StoreKey::generate())),
        }
    }

    /// Whether files are sealed.
    pub fn is_sealed(&self) -> bool {
        self.seal.is_some()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of a blob; an error for anything but a lower-case hex SHA-256.
    pub fn path(&self, sha256: &str) -> Result<PathBuf, StoreError> {
        if !crate::validate::is_sha256_hex(sha256) {
            return Err(StoreError::Blob(format!("not a SHA-256: {sha256:.80}")));
        }
        let name = match &self.seal {
            Some(seal) => seal.file_name(sha256),
            None => sha256.to_string(),
        };
        Ok(self.root.join(&name[..2]).join(name))
    }

    /// Stores `bytes` under `sha256` durably (file and directory entry synced).
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path(sha256)?;
        let stored_len = match &self.seal {
            Some(_) => sealed::sealed_len(bytes.len()),
            None => bytes.len() as u64,
        };
        if fs::metadata(&path).is_ok_and(|m| m.len() == stored_len) {
            return Ok(());
        }
        let sealed = self.seal.as_ref().map(|s| s.seal(sha256, bytes));
        let bytes = sealed.as_deref().unwrap_or(bytes);
        let dir = path.parent().expect("blob paths have a parent");
        fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
        let tmp = dir.join(format!(".{sha256}.{}.tmp", uuid::Uuid::new_v4().simple()));
        let result = (|| {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            File::open(dir)?.sync_all()
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(io("cannot write", &path, e));
        }
        Ok(())
    }

    /// The bytes of a blob.
    pub fn get(&self, sha256: &str) -> Result<Vec<u8>, StoreError> {
        let path = self.path(sha256)?;
        let bytes = fs::read(&path).map_err(|e| io("cannot read", &path, e))?;
        match &self.seal {
            Some(seal) => seal.open(sha256, &bytes),
            None => Ok(bytes),
        }
    }

    /// Reads `len` bytes of a blob from `offset` (upload chunks).
    pub fn read_range(&self, sha256: &str, offset: u64, len: usize) -> Result<Vec<u8>, StoreError> {
        use std::io::{Read, Seek, SeekFrom};
        let path = self.path(sha256)?;
        let mut f = File::open(&path).map_err(|e| io("cannot open", &path, e))?;
        if let Some(seal) = &self.seal {
            return seal.open_range(sha256, &mut f, offset, len);
        }
        f.seek(SeekFrom::Start(offset))
            .map_err(|e| io("cannot seek", &path, e))?;
        let mut buf = Vec::with_capacity(len);
        f.take(len as u64)
            .read_to_end(&mut buf)
            .map_err(|e| io("cannot read", &path, e))?;
        Ok(buf)
    }
}

impl Drop for BlobDir {
    fn drop(&mut self) {
        if self.temporary {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}
