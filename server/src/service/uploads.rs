//! Photo uploads (tus 1.0): the rules, independent of HTTP. An upload names the blob's SHA-256
//! and a job. It is accepted only from a user who may see the job, only for a blob the job's
//! document already names (the phone syncs documents first), with the length the document
//! records. The final bytes must hash to the declared SHA-256 before the blob exists. A blob the
//! server has already is not uploaded again: the upload is created complete.

use super::{Env, now_ms};
use crate::authz;
use crate::authz::Principal;
use crate::error::ServerError;
use crate::store::UploadRow;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const TUS_VERSION: &str = "1.0.0";
pub const TUS_EXTENSIONS: &str = "creation,checksum,termination";
pub const OFFSET_MEDIA_TYPE: &str = "application/offset+octet-stream";

/// Where a PATCH's bytes wait before they become a part, the size limit, and this node's name
/// (claims name their holder).
pub struct Uploads {
    incoming: PathBuf,
    pub max_size: u64,
    node: String,
}

/// How long a claim on an upload stands without renewal; a PATCH renews it while it streams.
pub const CLAIM_MS: i64 = 60_000;

/// One PATCH's claim on an upload, in the database so that it holds across nodes; released
/// when dropped (and lapsing after [`CLAIM_MS`] if its node died).
pub struct Claim {
    env: Arc<Env>,
    id: String,
    holder: String,
}

/// Ends `holder`'s claim on upload `id`.
async fn release(env: &Arc<Env>, id: String, holder: String) -> Result<(), ServerError> {
    env.blocking(move |env| {
        let mut tx = env.store.write_beside()?;
        tx.release_upload(&id, &holder)?;
        tx.commit()?;
        Ok(())
    })
    .await
}

impl Claim {
    /// Ends the claim before answering, so the client's next request finds the upload free
    /// (dropping a claim releases it in the background).
    pub async fn release(mut self) -> Result<(), ServerError> {
        let (id, holder) = (
            std::mem::take(&mut self.id),
            std::mem::take(&mut self.holder),
        );
        release(&self.env, id, holder).await
    }

    /// Extends the claim (a long PATCH).
    pub async fn renew(&self) -> Result<(), ServerError> {
        claim_for(&self.env, self.id.clone(), self.holder.clone())
            .await
            .map(|_| ())
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let (id, holder) = (
            std::mem::take(&mut self.id),
            std::mem::take(&mut self.holder),
        );
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let env = self.env.clone();
            rt.spawn(async move {
                let released = env
                    .blocking(move |env| {
                        let mut tx = env.store.write_beside()?;
                        tx.release_upload(&id, &holder)?;
                        tx.commit()?;
                        Ok(())
                    })
                    .await;
                if let Err(e) = released {
                    tracing::warn!(error = %e, "releasing an upload claim failed (it lapses)");
                }
            });
        }
    }
}

/// One upload.
pub type Upload = UploadRow;

impl Uploads {
    pub fn new(data_dir: &Path, max_size: u64, node: String) -> Uploads {
        Uploads {
            incoming: data_dir.join("uploads").join("incoming"),
            max_size,
            node,
        }
    }

    /// A new file for the bytes of one PATCH of upload `id`.
    pub async fn incoming_file(&self, id: &str) -> Result<(PathBuf, tokio::fs::File), ServerError> {
        tokio::fs::create_dir_all(&self.incoming)
            .await
            .map_err(|e| ServerError::Io(format!("{}: {e}", self.incoming.display())))?;
        let path = self
            .incoming
            .join(format!("{id}-{}", uuid::Uuid::new_v4().simple()));
        let file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| ServerError::Io(format!("{}: {e}", path.display())))?;
        Ok((path, file))
    }
}

/// Claims upload `id` for one request; `None` while another request (on any node) holds it.
pub async fn claim(env: &Arc<Env>, id: &str) -> Result<Option<Claim>, ServerError> {
    let holder = format!("{}#{}", env.uploads.node, uuid::Uuid::new_v4().simple());
    let claimed = claim_for(env, id.to_string(), holder.clone()).await?;
    Ok(claimed.then(|| Claim {
        env: env.clone(),
        id: id.to_string(),
        holder,
    }))
}

/// Claims (or renews the claim on) upload `id` for `holder` for the next [`CLAIM_MS`].
async fn claim_for(env: &Arc<Env>, id: String, holder: String) -> Result<bool, ServerError> {
    env.blocking(move |env| {
        let mut tx = env.store.write_beside()?;
        let now = now_ms();
        let claimed = tx.claim_upload(&id, &holder, now, now + CLAIM_MS)?;
        tx.commit()?;
        Ok(claimed)
    })
    .await
}

/// Whether `parts` (`(first byte, length)`, in order) hold exactly the bytes `[0, upto)`
/// (parts from `upto` on are ignored: a write whose offset was never recorded).
pub fn parts_cover(parts: &[(u64, u64)], upto: u64) -> bool {
    let mut at = 0;
    for &(start, len) in parts.iter().filter(|(start, _)| *start < upto) {
        if start != at {
            return false;
        }
        at += len;
    }
    at == upto
}

/// Creates (or, for a retried creation, finds) the upload of `sha256` for job `job_id`.
pub async fn create(
    env: &Arc<Env>,
    who: &Principal,
    job_id: String,
    sha256: String,
    length: u64,
) -> Result<Upload, ServerError> {
    let who = who.clone();
    let (upload, _new) = env
        .blocking(move |env| {
            let mut tx = env.store.write()?;
            if !authz::can_read_job(&*tx, &who, &job_id)? {
                return Err(ServerError::forbidden(
                    "无权为该工单上传照片",
                    "you may not upload photos to this job",
                ));
            }
            let Some(recorded) = tx.blob_ref_bytes(&sha256, &job_id)? else {
                return Err(ServerError::conflict(
                    "not_referenced",
                    "工单文档中没有这张照片：请先同步工单",
                    "the job's document does not name this blob: sync the job first",
                ));
            };
            if recorded as u64 != length {
                return Err(ServerError::bad(
                    "length_mismatch",
                    format!("照片大小应为 {recorded} 字节"),
                    format!("the document records this blob as {recorded} bytes"),
                ));
            }
            let stored = tx.blob_stored(&sha256)?;
            // A retried creation finds the upload it created before.
            if let Some(existing) = tx.upload_of(&who.username, &sha256)? {
                let offset = if stored { length } else { existing.offset };
                tx.update_upload(&existing.id, &job_id, offset, now_ms())?;
                tx.commit()?;
                return Ok((
                    Upload {
                        job_id,
                        offset,
                        length,
                        ..existing
                    },
                    false,
                ));
            }
            let upload = Upload {
                id: uuid::Uuid::new_v4().simple().to_string(),
                username: who.username.clone(),
                job_id,
                sha256,
                length,
                offset: if stored { length } else { 0 },
            };
            tx.insert_upload(&upload, now_ms())?;
            tx.commit()?;
            Ok((upload, !stored))
        })
        .await?;
    Ok(upload)
}

/// The upload `id` if it belongs to `who`.
pub async fn get(env: &Arc<Env>, who: &Principal, id: String) -> Result<Upload, ServerError> {
    let username = who.username.clone();
    env.blocking(move |env| {
        env.store
            .read()?
            .upload(&id, &username)?
            .ok_or(ServerError::NotFound)
    })
    .await
}

/// Stores the new offset of an upload.
pub async fn set_offset(env: &Arc<Env>, id: &str, offset: u64) -> Result<(), ServerError> {
    let id = id.to_string();
    env.blocking(move |env| {
        let mut tx = env.store.write_beside()?;
        tx.set_upload_offset(&id, offset, now_ms())?;
        tx.commit()?;
        Ok(())
    })
    .await
}

/// Deletes an upload and its parts.
pub async fn delete(env: &Arc<Env>, id: &str) -> Result<(), ServerError> {
    let key = id.to_string();
    env.blocking(move |env| {
        let mut tx = env.store.write()?;
        tx.delete_upload(&key)?;
        tx.commit()?;
        Ok(())
    })
    .await?;
    env.blobs.delete_parts(id).await
}

/// The upload is complete: assemble its parts, check the whole file's SHA-256 against its name,
/// then make it a blob. A mismatch deletes the upload (the client starts again).
pub async fn finish(env: &Arc<Env>, upload: &Upload) -> Result<(), ServerError> {
    let parts = env.blobs.parts(&upload.id).await?;
    let (path, mut file) = env.uploads.incoming_file(&upload.id).await?;
    let assembled = async {
        for &(start, _) in parts.iter().filter(|(start, _)| *start < upload.length) {
            env.blobs.copy_part(&upload.id, start, &mut file).await?;
        }
        file.sync_all()
            .await
            .map_err(|e| ServerError::Io(e.to_string()))
    }
    .await;
    drop(file);
    if let Err(e) = assembled {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(e);
    }
    let p = path.clone();
    let actual = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut f = std::fs::File::open(&p)?;
        let mut h = Sha256::new();
        std::io::copy(&mut f, &mut h)?;
        Ok(hex::encode(h.finalize()))
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))?
    .map_err(|e| ServerError::Io(e.to_string()))?;
    if actual != upload.sha256 {
        let _ = tokio::fs::remove_file(&path).await;
        delete(env, &upload.id).await?;
        return Err(ServerError::ChecksumMismatch {
            zh: "上传内容与其 SHA-256 不符，请重新上传".into(),
            en: format!(
                "the uploaded bytes hash to {actual}, not {}: upload again",
                upload.sha256
            ),
        });
    }
    if let Err(e) = check_content(env, &upload.sha256, &path).await {
        let _ = tokio::fs::remove_file(&path).await;
        delete(env, &upload.id).await?;
        return Err(e);
    }
    crate::fault::point("upload_before_blob");
    env.blobs.put_file(&upload.sha256, &path).await?;
    crate::fault::point("upload_after_blob");
    record_blob(env, upload).await?;
    env.blobs.delete_parts(&upload.id).await
}

/// Checks a finished upload's bytes against what its photo records say it is: its leading bytes
/// must be an image of the type every job naming it declares (a type is read from the bytes,
/// never taken from a claim).
async fn check_content(env: &Arc<Env>, sha256: &str, path: &Path) -> Result<(), ServerError> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::with_capacity(32);
    tokio::fs::File::open(path)
        .await
        .map_err(|e| ServerError::Io(format!("{}: {e}", path.display())))?
        .take(32)
        .read_to_end(&mut head)
        .await
        .map_err(|e| ServerError::Io(format!("{}: {e}", path.display())))?;
    let sniffed = field_core::validate::sniff_image(&head);
    let sha = sha256.to_string();
    let declared: Vec<String> = env
        .blocking(move |env| {
            Ok(env
                .store
                .read()?
                .blob_refs(&sha)?
                .into_iter()
                .map(|(_, mime, _)| mime)
                .collect())
        })
        .await?;
    match declared.iter().find(|m| Some(m.as_str()) != sniffed) {
        None => Ok(()),
        Some(claimed) => Err(ServerError::MediaType {
            code: "content_mismatch",
            zh: format!(
                "上传的文件不是工单记录的 {claimed} 图片（实际：{}）",
                sniffed.unwrap_or("非图片")
            ),
            en: format!(
                "the uploaded file is not the {claimed} image its photo record declares (it is {})",
                sniffed.unwrap_or("not an image")
            ),
        }),
    }
}

/// Forgets uploads untouched for `max_age` (their partial files too). Returns how many.
pub async fn prune(env: &Arc<Env>, max_age: std::time::Duration) -> Result<usize, ServerError> {
    let cutoff = now_ms() - max_age.as_millis() as i64;
    let ids: Vec<String> = env
        .blocking(move |env| {
            let mut tx = env.store.write()?;
            let ids = tx.delete_stale_uploads(cutoff)?;
            tx.commit()?;
            Ok(ids)
        })
        .await?;
    for id in &ids {
        if let Err(e) = env.blobs.delete_parts(id).await {
            tracing::warn!(upload = %id, error = %e, "could not remove an expired upload's parts");
        }
    }
    Ok(ids.len())
}

/// Makes sure a complete upload's blob exists: the server may have stopped between the last
/// byte and recording the blob. Finishes it again from its parts, records a blob the store
/// already holds, or, when neither is there, starts the upload over (offset 0).
pub async fn ensure_finished(env: &Arc<Env>, upload: &Upload) -> Result<u64, ServerError> {
    if upload.offset < upload.length {
        return Ok(upload.offset);
    }
    let sha = upload.sha256.clone();
    let stored = env
        .blocking(move |env| Ok(env.store.read()?.blob_stored(&sha)?))
        .await?;
    if stored {
        return Ok(upload.offset);
    }
    if parts_cover(&env.blobs.parts(&upload.id).await?, upload.length) {
        finish(env, upload).await?;
        return Ok(upload.offset);
    }
    if env.blobs.get(&upload.sha256).await.is_ok() {
        record_blob(env, upload).await?;
        return Ok(upload.offset);
    }
    tracing::warn!(upload = %upload.id, "complete upload without its blob: starting over");
    restart(env, &upload.id).await?;
    Ok(0)
}

/// Forgets an upload's bytes and sets it back to offset 0 (its parts are lost or were never
/// all stored).
pub async fn restart(env: &Arc<Env>, id: &str) -> Result<(), ServerError> {
    env.blobs.delete_parts(id).await?;
    set_offset(env, id, 0).await
}

/// Records that the blob of `upload` is in the store.
async fn record_blob(env: &Arc<Env>, upload: &Upload) -> Result<(), ServerError> {
    let (sha, len) = (upload.sha256.clone(), upload.length);
    env.blocking(move |env| {
        let mut tx = env.store.write()?;
        tx.insert_blob(&sha, len as i64, now_ms())?;
        tx.commit()?;
        Ok(())
    })
    .await
}

/// Longest `Upload-Metadata` header, and most pairs in it.
pub const METADATA_MAX: usize = 4096;
pub const METADATA_PAIRS_MAX: usize = 16;

/// Parses `Upload-Metadata`: comma-separated `key base64value` pairs.
pub fn parse_metadata(header: &str) -> Result<Vec<(String, String)>, ServerError> {
    if header.len() > METADATA_MAX || header.split(',').count() > METADATA_PAIRS_MAX {
        return Err(ServerError::bad(
            "bad_metadata",
            format!("Upload-Metadata 过长（最多 {METADATA_MAX} 字节、{METADATA_PAIRS_MAX} 项）"),
            format!(
                "Upload-Metadata is too long (at most {METADATA_MAX} bytes and {METADATA_PAIRS_MAX} pairs)"
            ),
        ));
    }
    let mut out = Vec::new();
    for pair in header.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = match pair.split_once(' ') {
            Some((k, v)) => (k, v.trim()),
            None => (pair, ""),
        };
        let value = B64.decode(value).map_err(|_| {
            ServerError::bad(
                "bad_metadata",
                "Upload-Metadata 的值不是 base64",
                "Upload-Metadata values must be base64",
            )
        })?;
        out.push((
            key.to_string(),
            String::from_utf8_lossy(&value).into_owned(),
        ));
    }
    Ok(out)
}

/// Parses `Upload-Checksum: sha256 <base64 digest>`.
pub fn parse_checksum(header: &str) -> Result<[u8; 32], ServerError> {
    if header.len() > 128 {
        return Err(ServerError::bad(
            "bad_checksum",
            "Upload-Checksum 格式错误",
            "Upload-Checksum must be sha256 and a base64 digest",
        ));
    }
    let (algo, value) = header.trim().split_once(' ').unwrap_or((header, ""));
    if !algo.eq_ignore_ascii_case("sha256") {
        return Err(ServerError::bad(
            "checksum_algorithm",
            format!("不支持校验算法 {algo}，请用 sha256"),
            format!("checksum algorithm {algo} is not supported: use sha256"),
        ));
    }
    B64.decode(value.trim())
        .ok()
        .and_then(|d| <[u8; 32]>::try_from(d).ok())
        .ok_or_else(|| {
            ServerError::bad(
                "bad_checksum",
                "Upload-Checksum 格式错误",
                "Upload-Checksum must be sha256 and a base64 digest",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ServerStore;

    #[test]
    fn parts_must_tile_the_bytes_before_the_offset() {
        assert!(parts_cover(&[], 0));
        assert!(parts_cover(&[(0, 5), (5, 3)], 8));
        assert!(
            parts_cover(&[(0, 5), (5, 3), (8, 9)], 8),
            "a part past the offset is ignored"
        );
        assert!(!parts_cover(&[(0, 5)], 8), "bytes missing");
        assert!(!parts_cover(&[(0, 5), (6, 2)], 8), "a gap");
        assert!(!parts_cover(&[(1, 7)], 8), "no first part");
        assert!(
            !parts_cover(&[(0, 5), (5, 5)], 8),
            "a part runs past the offset"
        );
    }

    #[tokio::test]
    async fn stale_uploads_are_forgotten_with_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::Config {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        let store: Arc<dyn ServerStore> =
            Arc::new(crate::store::sqlite::SqliteStore::open(dir.path()).unwrap());
        let env = Arc::new(Env::new(&config, store.clone(), None).unwrap());
        let (old, fresh) = ("0".repeat(32), "f".repeat(32));
        for (id, age_ms) in [(&old, 10 * 86_400_000i64), (&fresh, 0)] {
            let (path, _) = env.uploads.incoming_file(id).await.unwrap();
            std::fs::write(&path, b"partial").unwrap();
            env.blobs.put_part(id, 0, &path).await.unwrap();
            let mut tx = store.write().unwrap();
            tx.insert_upload(
                &Upload {
                    id: id.to_string(),
                    username: "u".into(),
                    job_id: "j".into(),
                    sha256: "s".into(),
                    length: 10,
                    offset: 7,
                },
                now_ms() - age_ms,
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let n = prune(&env, std::time::Duration::from_secs(7 * 86_400))
            .await
            .unwrap();
        assert_eq!(n, 1);
        assert!(env.blobs.parts(&old).await.unwrap().is_empty());
        assert_eq!(env.blobs.parts(&fresh).await.unwrap(), vec![(0, 7)]);
        assert_eq!(store.read().unwrap().stats().unwrap().uploads, 1);
    }
}
