//! Content-addressed blob files on the phone: `<dir>/<first two hex>/<sha256>`. A file is
//! written to a temporary name, synced and renamed, so a crash never leaves a partial blob under
//! its final name; writing a blob that exists is a no-op.

use super::StoreError;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the blobs of one store live.
#[derive(Debug)]
pub struct BlobDir {
    root: PathBuf,
    temporary: bool,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Blob(format!("{what} {}: {e}", path.display()))
}

impl BlobDir {
    /// The directory beside a database file: `field.db` → `field.db-blobs/`.
    pub fn beside(db: &Path) -> Result<BlobDir, StoreError> {
        let mut name = db.file_name().unwrap_or_default().to_os_string();
        name.push("-blobs");
        Ok(BlobDir {
            root: db.with_file_name(name),
            temporary: false,
        })
    }

    /// A fresh directory under the system's temporary directory, removed on drop.
    pub fn temporary() -> Result<BlobDir, StoreError> {
        let root =
            std::env::temp_dir().join(format!("fieldline-blobs-{}", uuid::Uuid::new_v4().simple()));
        Ok(BlobDir {
            root,
            temporary: true,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of a blob; an error for anything but a lower-case hex SHA-256.
    pub fn path(&self, sha256: &str) -> Result<PathBuf, StoreError> {
        if !crate::validate::is_sha256_hex(sha256) {
            return Err(StoreError::Blob(format!("not a SHA-256: {sha256:.80}")));
        }
        Ok(self.root.join(&sha256[..2]).join(sha256))
    }

    /// Stores `bytes` under `sha256` durably (file and directory entry synced).
    pub fn put(&self, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path(sha256)?;
        if fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64) {
            return Ok(());
        }
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
        fs::read(&path).map_err(|e| io("cannot read", &path, e))
    }

    /// Reads `len` bytes of a blob from `offset` (upload chunks).
    pub fn read_range(&self, sha256: &str, offset: u64, len: usize) -> Result<Vec<u8>, StoreError> {
        use std::io::{Read, Seek, SeekFrom};
        let path = self.path(sha256)?;
        let mut f = File::open(&path).map_err(|e| io("cannot open", &path, e))?;
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
