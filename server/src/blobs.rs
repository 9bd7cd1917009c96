//! The server's content-addressed blob store. Blobs are named by their SHA-256 and written once.
//!
//! - `fs` (default): `<data dir>/blobs/<first two hex>/<sha256>`, synced before and after the
//!   rename that makes a blob visible.
//! - `s3`: any S3-compatible bucket through the `object_store` crate, key
//!   `<prefix><first two hex>/<sha256>`.
//!
//! Unfinished uploads keep their bytes in the same store, one immutable part per PATCH, named by
//! the upload and the part's first byte (`fs`: `<data dir>/uploads/<id>/<start>`; `s3`:
//! `<prefix>uploads/<id>/<start>`), so with a bucket any node can resume an upload another
//! began. A finished upload is assembled and verified on local disk, so a blob only reaches the
//! store once its SHA-256 is known to match.

use crate::config::{Config, S3Config};
use crate::error::ServerError;
use crate::range::{self, Wanted};
use axum::body::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// How much of a filesystem blob is read per chunk of a download.
const CHUNK: u64 = 256 * 1024;

/// A download in progress: which bytes of how many, streamed without holding the blob in memory.
pub struct BlobRead {
    pub len: u64,
    /// `None` when the request named no range (or one the server ignores): the whole blob.
    pub part: Option<Range<u64>>,
    pub body: BoxStream<'static, Result<Bytes, std::io::Error>>,
}

/// The outcome of opening a blob for a download.
pub enum Download {
    Bytes(BlobRead),
    /// The requested range lies outside the blob of this length.
    Unsatisfiable {
        len: u64,
    },
}

/// Where finished blobs live.
#[derive(Debug, Clone)]
pub enum BlobStore {
    Fs {
        root: PathBuf,
        /// Unfinished uploads' parts.
        parts: PathBuf,
    },
    S3 {
        store: Arc<dyn ObjectStore>,
        prefix: String,
    },
}

fn io(what: &str, path: &Path, e: std::io::Error) -> ServerError {
    ServerError::Io(format!("{what} {}: {e}", path.display()))
}

fn object_err(e: object_store::Error) -> ServerError {
    match e {
        object_store::Error::NotFound { .. } => ServerError::NotFound,
        other => ServerError::Io(format!("object store: {other}")),
    }
}

/// Moves `file` to `dest` so that it survives power loss: synced before and after the rename
/// that makes it visible (its folder created if need be).
async fn move_durably(file: &Path, dest: PathBuf) -> Result<(), ServerError> {
    let file = file.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let dir = dest.parent().expect("has parent").to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| io("cannot create", &dir, e))?;
        std::fs::File::open(&file)
            .and_then(|f| f.sync_all())
            .map_err(|e| io("cannot sync", &file, e))?;
        std::fs::rename(&file, &dest).map_err(|e| io("cannot move", &dest, e))?;
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("cannot sync", &dir, e))
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))?
}

/// Stores `file` (consumed) as the object `key`.
async fn put_object(
    store: &dyn ObjectStore,
    key: &ObjectPath,
    file: &Path,
) -> Result<(), ServerError> {
    let bytes = tokio::fs::read(file)
        .await
        .map_err(|e| io("cannot read", file, e))?;
    store.put(key, bytes.into()).await.map_err(object_err)?;
    let _ = tokio::fs::remove_file(file).await;
    Ok(())
}

impl BlobStore {
    /// The store `config` asks for.
    pub fn from_config(config: &Config) -> Result<BlobStore, ServerError> {
        match config.blob_store.as_str() {
            "fs" | "" => Ok(BlobStore::fs(&config.data_dir)),
            "s3" => BlobStore::s3(&config.s3),
            other => Err(ServerError::Setup {
                zh: format!("设置 blob_store 须为 \"fs\" 或 \"s3\"，不是 {other:?}"),
                en: format!("the setting blob_store must be \"fs\" or \"s3\", not {other:?}"),
            }),
        }
    }

    /// The filesystem store under `data_dir/blobs`.
    pub fn fs(data_dir: &Path) -> BlobStore {
        BlobStore::Fs {
            root: data_dir.join("blobs"),
            parts: data_dir.join("uploads"),
        }
    }

    /// An S3-compatible bucket.
    pub fn s3(c: &S3Config) -> Result<BlobStore, ServerError> {
        if c.bucket.is_empty() {
            return Err(ServerError::Io(
                "invalid configuration: s3.bucket is required when blob_store = \"s3\"".into(),
            ));
        }
        let mut b = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&c.bucket)
            .with_region(if c.region.is_empty() {
                "us-east-1"
            } else {
                &c.region
            })
            .with_allow_http(c.allow_http);
        if !c.endpoint.is_empty() {
            b = b
                .with_endpoint(&c.endpoint)
                .with_virtual_hosted_style_request(false);
        }
        if !c.access_key_id.is_empty() {
            b = b
                .with_access_key_id(&c.access_key_id)
                .with_secret_access_key(&c.secret_access_key);
        }
        let store = b
            .build()
            .map_err(|e| ServerError::Io(format!("invalid S3 configuration: {e}")))?;
        Ok(BlobStore::S3 {
            store: Arc::new(store),
            prefix: c.prefix.clone(),
        })
    }

    /// The file of a blob. Only a lower-case hex SHA-256 names one: anything else (a path, `..`,
    /// an empty string) is not found, so no caller can make the store read or write elsewhere.
    fn file(root: &Path, sha256: &str) -> Result<PathBuf, ServerError> {
        if !field_core::validate::is_sha256_hex(sha256) {
            return Err(ServerError::NotFound);
        }
        Ok(root.join(&sha256[..2]).join(sha256))
    }

    fn key(prefix: &str, sha256: &str) -> Result<ObjectPath, ServerError> {
        if !field_core::validate::is_sha256_hex(sha256) {
            return Err(ServerError::NotFound);
        }
        Ok(ObjectPath::from(format!(
            "{prefix}{}/{sha256}",
            &sha256[..2]
        )))
    }

    /// Whether the store answers: the blob folder (or the data folder that will hold it) exists,
    /// or the bucket answers a lookup (a missing probe object is an answer).
    pub async fn ready(&self) -> Result<(), ServerError> {
        match self {
            BlobStore::Fs { root, .. } => {
                let dir = if root.exists() {
                    root.as_path()
                } else {
                    root.parent().unwrap_or(root)
                };
                tokio::fs::metadata(dir)
                    .await
                    .map(|_| ())
                    .map_err(|e| io("blob store", dir, e))
            }
            BlobStore::S3 { store, prefix } => {
                let probe = ObjectPath::from(format!("{prefix}readyz-probe"));
                match store.head(&probe).await {
                    Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(ServerError::Io(format!("object store: {e}"))),
                }
            }
        }
    }

    /// Moves a verified upload file into the store under `sha256`; the file is consumed.
    pub async fn put_file(&self, sha256: &str, file: &Path) -> Result<(), ServerError> {
        match self {
            BlobStore::Fs { root, .. } => move_durably(file, Self::file(root, sha256)?).await,
            BlobStore::S3 { store, prefix } => {
                put_object(store.as_ref(), &Self::key(prefix, sha256)?, file).await
            }
        }
    }

    /// Stores `bytes` (already known to hash to `sha256`) through a scratch file in `scratch`.
    pub async fn put_bytes(
        &self,
        scratch: &Path,
        sha256: &str,
        bytes: &[u8],
    ) -> Result<(), ServerError> {
        tokio::fs::create_dir_all(scratch)
            .await
            .map_err(|e| io("cannot create", scratch, e))?;
        let path = scratch.join(format!("put-{}", uuid::Uuid::new_v4().simple()));
        tokio::fs::write(&path, bytes)
            .await
            .map_err(|e| io("cannot write", &path, e))?;
        let put = self.put_file(sha256, &path).await;
        if put.is_err() {
            let _ = tokio::fs::remove_file(&path).await;
        }
        put
    }

    /// Streams a blob, or the single byte range a `Range` header asks for.
    pub async fn download(
        &self,
        sha256: &str,
        range_header: Option<&str>,
    ) -> Result<Download, ServerError> {
        match self {
            BlobStore::Fs { root, .. } => {
                let path = Self::file(root, sha256)?;
                let mut file = match tokio::fs::File::open(&path).await {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(ServerError::NotFound);
                    }
                    Err(e) => return Err(io("cannot open", &path, e)),
                };
                let len = file
                    .metadata()
                    .await
                    .map_err(|e| io("cannot stat", &path, e))?
                    .len();
                let (part, bytes) = match range::wanted(range_header, len) {
                    Wanted::Unsatisfiable => return Ok(Download::Unsatisfiable { len }),
                    Wanted::Whole => (None, 0..len),
                    Wanted::Part(r) => (Some(r.clone()), r),
                };
                file.seek(std::io::SeekFrom::Start(bytes.start))
                    .await
                    .map_err(|e| io("cannot seek", &path, e))?;
                let body = stream::try_unfold(
                    (file, bytes.end - bytes.start),
                    |(mut file, left)| async move {
                        if left == 0 {
                            return Ok(None);
                        }
                        let mut buf = vec![0u8; left.min(CHUNK) as usize];
                        let n = file.read(&mut buf).await?;
                        if n == 0 {
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "blob ended before its length",
                            ));
                        }
                        buf.truncate(n);
                        Ok(Some((Bytes::from(buf), (file, left - n as u64))))
                    },
                )
                .boxed();
                Ok(Download::Bytes(BlobRead { len, part, body }))
            }
            BlobStore::S3 { store, prefix } => {
                let key = Self::key(prefix, sha256)?;
                let len = store.head(&key).await.map_err(object_err)?.size;
                let part = match range::wanted(range_header, len) {
                    Wanted::Unsatisfiable => return Ok(Download::Unsatisfiable { len }),
                    Wanted::Whole => None,
                    Wanted::Part(r) => Some(r),
                };
                let options = GetOptions {
                    range: part.clone().map(GetRange::Bounded),
                    ..Default::default()
                };
                let got = store.get_opts(&key, options).await.map_err(object_err)?;
                let body = got.into_stream().map_err(std::io::Error::other).boxed();
                Ok(Download::Bytes(BlobRead { len, part, body }))
            }
        }
    }

    /// The SHA-256 (hex) of the stored bytes of blob `sha256`, read as a stream: whether what
    /// is stored is still what was uploaded. `None` when it is not stored.
    pub async fn stored_sha256(&self, sha256: &str) -> Result<Option<String>, ServerError> {
        Ok(self.read_hashed(sha256, None).await?.map(|(_, hash)| hash))
    }

    /// Streams blob `sha256` (into the new file `copy` when given, synced): its size and the
    /// SHA-256 (hex) of its bytes, `None` when it is not stored.
    pub async fn read_hashed(
        &self,
        sha256: &str,
        copy: Option<&Path>,
    ) -> Result<Option<(u64, String)>, ServerError> {
        use sha2::{Digest, Sha256};
        use tokio::io::AsyncWriteExt;
        let read = match self.download(sha256, None).await {
            Ok(Download::Bytes(r)) => r,
            Ok(Download::Unsatisfiable { .. }) | Err(ServerError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut out = match copy {
            Some(file) => Some(
                tokio::fs::File::create(file)
                    .await
                    .map_err(|e| io("cannot create", file, e))?,
            ),
            None => None,
        };
        let (mut hasher, mut bytes) = (Sha256::new(), 0u64);
        let mut body = read.body;
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| ServerError::Io(format!("reading blob {sha256}: {e}")))?
        {
            hasher.update(&chunk);
            bytes += chunk.len() as u64;
            if let (Some(out), Some(file)) = (out.as_mut(), copy) {
                out.write_all(&chunk)
                    .await
                    .map_err(|e| io("cannot write", file, e))?;
            }
        }
        if let (Some(out), Some(file)) = (out, copy) {
            out.sync_all()
                .await
                .map_err(|e| io("cannot sync", file, e))?;
        }
        Ok(Some((bytes, hex::encode(hasher.finalize()))))
    }

    /// An upload id names parts only when it is what the server hands out (32 hex digits).
    fn upload_id(id: &str) -> Result<&str, ServerError> {
        if id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(id)
        } else {
            Err(ServerError::NotFound)
        }
    }

    fn part_key(prefix: &str, id: &str, start: u64) -> Result<ObjectPath, ServerError> {
        Ok(ObjectPath::from(format!(
            "{prefix}uploads/{}/{start:020}",
            Self::upload_id(id)?
        )))
    }

    /// Stores `file` (consumed) as the part of upload `id` that starts at byte `start`,
    /// replacing a part stored there before by a write whose offset was never recorded.
    pub async fn put_part(&self, id: &str, start: u64, file: &Path) -> Result<(), ServerError> {
        match self {
            BlobStore::Fs { parts, .. } => {
                let dest = parts
                    .join(Self::upload_id(id)?)
                    .join(format!("{start:020}"));
                move_durably(file, dest).await
            }
            BlobStore::S3 { store, prefix } => {
                put_object(store.as_ref(), &Self::part_key(prefix, id, start)?, file).await
            }
        }
    }

    /// The parts of upload `id`: `(first byte, length)`, in order.
    pub async fn parts(&self, id: &str) -> Result<Vec<(u64, u64)>, ServerError> {
        let mut out = Vec::new();
        match self {
            BlobStore::Fs { parts, .. } => {
                let dir = parts.join(Self::upload_id(id)?);
                let mut entries = match tokio::fs::read_dir(&dir).await {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
                    Err(e) => return Err(io("cannot list", &dir, e)),
                };
                while let Some(e) = entries
                    .next_entry()
                    .await
                    .map_err(|e| io("cannot list", &dir, e))?
                {
                    if let Ok(start) = e.file_name().to_string_lossy().parse::<u64>() {
                        let len = e.metadata().await.map_err(|e| io("cannot stat", &dir, e))?;
                        out.push((start, len.len()));
                    }
                }
            }
            BlobStore::S3 { store, prefix } => {
                let dir = ObjectPath::from(format!("{prefix}uploads/{}", Self::upload_id(id)?));
                let mut list = store.list(Some(&dir));
                while let Some(meta) = list.next().await {
                    let meta = meta.map_err(object_err)?;
                    if let Some(start) =
                        meta.location.filename().and_then(|n| n.parse::<u64>().ok())
                    {
                        out.push((start, meta.size));
                    }
                }
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Appends the part of upload `id` at `start` to `out`.
    pub async fn copy_part(
        &self,
        id: &str,
        start: u64,
        out: &mut tokio::fs::File,
    ) -> Result<(), ServerError> {
        use tokio::io::AsyncWriteExt;
        let bytes = match self {
            BlobStore::Fs { parts, .. } => {
                let path = parts
                    .join(Self::upload_id(id)?)
                    .join(format!("{start:020}"));
                tokio::fs::read(&path)
                    .await
                    .map_err(|e| io("cannot read", &path, e))?
            }
            BlobStore::S3 { store, prefix } => store
                .get(&Self::part_key(prefix, id, start)?)
                .await
                .map_err(object_err)?
                .bytes()
                .await
                .map_err(object_err)?
                .to_vec(),
        };
        out.write_all(&bytes)
            .await
            .map_err(|e| ServerError::Io(e.to_string()))
    }

    /// Forgets every part of upload `id`.
    pub async fn delete_parts(&self, id: &str) -> Result<(), ServerError> {
        match self {
            BlobStore::Fs { parts, .. } => {
                let dir = parts.join(Self::upload_id(id)?);
                match tokio::fs::remove_dir_all(&dir).await {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        Err(io("cannot remove", &dir, e))
                    }
                    _ => Ok(()),
                }
            }
            BlobStore::S3 { store, prefix } => {
                for (start, _) in self.parts(id).await? {
                    match store.delete(&Self::part_key(prefix, id, start)?).await {
                        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                        Err(e) => return Err(object_err(e)),
                    }
                }
                Ok(())
            }
        }
    }

    /// The stored size of a blob without reading it; `None` when it is not there.
    pub async fn size(&self, sha256: &str) -> Result<Option<u64>, ServerError> {
        match self {
            BlobStore::Fs { root, .. } => {
                let path = Self::file(root, sha256)?;
                match tokio::fs::metadata(&path).await {
                    Ok(m) => Ok(Some(m.len())),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(io("cannot stat", &path, e)),
                }
            }
            BlobStore::S3 { store, prefix } => {
                match store.head(&Self::key(prefix, sha256)?).await {
                    Ok(meta) => Ok(Some(meta.size)),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(ServerError::Io(format!("object store: {e}"))),
                }
            }
        }
    }

    /// The bytes of a blob.
    pub async fn get(&self, sha256: &str) -> Result<Vec<u8>, ServerError> {
        match self {
            BlobStore::Fs { root, .. } => {
                let path = Self::file(root, sha256)?;
                match tokio::fs::read(&path).await {
                    Ok(b) => Ok(b),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        Err(ServerError::NotFound)
                    }
                    Err(e) => Err(io("cannot read", &path, e)),
                }
            }
            BlobStore::S3 { store, prefix } => {
                let got = store
                    .get(&Self::key(prefix, sha256)?)
                    .await
                    .map_err(object_err)?;
                Ok(got.bytes().await.map_err(object_err)?.to_vec())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_a_sha256_names_a_blob() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret.key"), b"do not read").unwrap();
        let store = BlobStore::fs(&dir.path().join("data"));
        for name in [
            "/etc/passwd",
            "../secret.key",
            "../../secret.key",
            "",
            "ab",
            "AB12",
            &"A".repeat(64),
            &format!("../{}", "a".repeat(61)),
        ] {
            assert!(
                matches!(store.get(name).await, Err(ServerError::NotFound)),
                "{name}"
            );
            assert!(matches!(
                store.download(name, None).await,
                Err(ServerError::NotFound)
            ));
        }
        let file = dir.path().join("upload.part");
        std::fs::write(&file, b"x").unwrap();
        assert!(store.put_file("../../escape", &file).await.is_err());
        assert!(file.exists(), "a refused put consumes nothing");
    }
}
