//! Resumable photo uploads over tus 1.0 (core + creation + checksum + termination) at
//! `/api/v1/uploads`, and blob downloads at `/api/v1/blobs/{sha256}`.
//!
//! An upload names the blob's SHA-256 and a job (`Upload-Metadata: sha256 <b64>,job <b64>`).
//! It is accepted only from a user with access to that job, and only for a blob the job's
//! document already names (the phone syncs documents first), with the length the document
//! records. The final bytes must hash to the declared SHA-256 before the blob exists. A blob
//! the server has already is not uploaded again: the upload is created complete.

use crate::auth::Principal;
use crate::db::{Db, now_ms};
use crate::error::ServerError;
use crate::jobs::can_access;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use field_core::Job;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub const TUS_VERSION: &str = "1.0.0";
pub const TUS_EXTENSIONS: &str = "creation,checksum,termination";
pub const OFFSET_MEDIA_TYPE: &str = "application/offset+octet-stream";

/// Records which blobs a job's photos name (photos are immutable, so rows are only added).
pub fn record_blob_refs(conn: &Connection, job: &Job, job_id: &str) -> Result<(), ServerError> {
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO blob_ref (sha256, job_id, photo_id, role, bytes, mime)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (photo_id, photo) in &job.photos {
        for (role, sha, bytes) in photo.blobs() {
            if !field_core::validate::is_sha256_hex(sha) {
                continue;
            }
            let mime = match role {
                "original" => photo.original_mime.as_deref().unwrap_or("image/jpeg"),
                _ => "image/jpeg",
            };
            insert.execute(params![sha, job_id, photo_id, role, bytes, mime])?;
        }
    }
    Ok(())
}

/// Upload state shared by the handlers: where partial uploads live, the size limit, and which
/// uploads a PATCH is writing right now.
pub struct Uploads {
    dir: PathBuf,
    pub max_size: u64,
    busy: Mutex<HashSet<String>>,
}

/// Holds an upload for one PATCH; released on drop.
pub struct Busy<'a> {
    uploads: &'a Uploads,
    id: String,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        let mut set = self.uploads.busy.lock().unwrap_or_else(|p| p.into_inner());
        set.remove(&self.id);
    }
}

/// One upload row.
#[derive(Debug, Clone)]
pub struct Upload {
    pub id: String,
    pub username: String,
    pub job_id: String,
    pub sha256: String,
    pub length: u64,
    pub offset: u64,
}

impl Uploads {
    pub fn new(data_dir: &Path, max_size: u64) -> Uploads {
        Uploads {
            dir: data_dir.join("uploads"),
            max_size,
            busy: Mutex::new(HashSet::new()),
        }
    }

    pub fn part_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.part"))
    }

    /// Claims an upload for a PATCH; `None` when another PATCH is writing it.
    pub fn claim(&self, id: &str) -> Option<Busy<'_>> {
        let mut set = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        set.insert(id.to_string()).then(|| Busy {
            uploads: self,
            id: id.to_string(),
        })
    }

    /// Creates (or, for a retried creation, finds) the upload of `sha256` for job `job_id`.
    pub async fn create(
        &self,
        db: &Db,
        who: &Principal,
        job_id: String,
        sha256: String,
        length: u64,
    ) -> Result<Upload, ServerError> {
        let who = who.clone();
        let upload = db
            .run(move |core| {
                let conn = &core.conn;
                if !can_access(conn, &who, &job_id)? {
                    return Err(ServerError::forbidden(
                        "无权为该工单上传照片",
                        "you may not upload photos to this job",
                    ));
                }
                let recorded: Option<i64> = conn
                    .query_row(
                        "SELECT bytes FROM blob_ref WHERE sha256 = ?1 AND job_id = ?2",
                        params![sha256, job_id],
                        |r| r.get(0),
                    )
                    .optional()?;
                let Some(recorded) = recorded else {
                    return Err(ServerError::Conflict {
                        code: "not_referenced",
                        zh: "工单文档中没有这张照片：请先同步工单".into(),
                        en: "the job's document does not name this blob: sync the job first"
                            .into(),
                    });
                };
                if recorded as u64 != length {
                    return Err(ServerError::bad(
                        "length_mismatch",
                        format!("照片大小应为 {recorded} 字节"),
                        format!("the document records this blob as {recorded} bytes"),
                    ));
                }
                let stored: bool = conn
                    .query_row("SELECT 1 FROM blobs WHERE sha256 = ?1", [&sha256], |_| {
                        Ok(true)
                    })
                    .optional()?
                    .unwrap_or(false);
                // A retried creation finds the upload it created before.
                let existing: Option<(String, i64)> = conn
                    .query_row(
                        "SELECT id, offset FROM uploads WHERE username = ?1 AND sha256 = ?2
                         ORDER BY created_at DESC LIMIT 1",
                        params![who.username, sha256],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                if let Some((id, offset)) = existing {
                    let offset = if stored { length } else { offset as u64 };
                    conn.execute(
                        "UPDATE uploads SET offset = ?2, job_id = ?3, updated_at = ?4 WHERE id = ?1",
                        params![id, offset as i64, job_id, now_ms()],
                    )?;
                    return Ok((
                        Upload {
                            id,
                            username: who.username.clone(),
                            job_id,
                            sha256,
                            length,
                            offset,
                        },
                        false,
                    ));
                }
                let id = uuid::Uuid::new_v4().simple().to_string();
                let offset = if stored { length } else { 0 };
                conn.execute(
                    "INSERT INTO uploads (id, username, job_id, sha256, length, offset, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
                    params![id, who.username, job_id, sha256, length as i64, offset as i64, now_ms()],
                )?;
                Ok((
                    Upload {
                        id,
                        username: who.username.clone(),
                        job_id,
                        sha256,
                        length,
                        offset,
                    },
                    !stored,
                ))
            })
            .await?;
        let (upload, new_file) = upload;
        if new_file {
            tokio::fs::create_dir_all(&self.dir)
                .await
                .map_err(|e| ServerError::Io(format!("{}: {e}", self.dir.display())))?;
            tokio::fs::File::create(self.part_path(&upload.id))
                .await
                .map_err(|e| ServerError::Io(e.to_string()))?;
        }
        Ok(upload)
    }

    /// The upload `id` if it belongs to `who`.
    pub async fn get(&self, db: &Db, who: &Principal, id: String) -> Result<Upload, ServerError> {
        let username = who.username.clone();
        db.run(move |core| {
            core.conn
                .query_row(
                    "SELECT id, username, job_id, sha256, length, offset FROM uploads
                     WHERE id = ?1 AND username = ?2",
                    params![id, username],
                    |r| {
                        Ok(Upload {
                            id: r.get(0)?,
                            username: r.get(1)?,
                            job_id: r.get(2)?,
                            sha256: r.get(3)?,
                            length: r.get::<_, i64>(4)? as u64,
                            offset: r.get::<_, i64>(5)? as u64,
                        })
                    },
                )
                .optional()?
                .ok_or(ServerError::NotFound)
        })
        .await
    }

    /// Stores the new offset of an upload.
    pub async fn set_offset(&self, db: &Db, id: &str, offset: u64) -> Result<(), ServerError> {
        let id = id.to_string();
        db.run(move |core| {
            core.conn.execute(
                "UPDATE uploads SET offset = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, offset as i64, now_ms()],
            )?;
            Ok(())
        })
        .await
    }

    /// Deletes an upload and its partial file.
    pub async fn delete(&self, db: &Db, id: &str) -> Result<(), ServerError> {
        let key = id.to_string();
        db.run(move |core| {
            core.conn
                .execute("DELETE FROM uploads WHERE id = ?1", [key])?;
            Ok(())
        })
        .await?;
        let _ = tokio::fs::remove_file(self.part_path(id)).await;
        Ok(())
    }

    /// The upload is complete: check the whole file's SHA-256 against its name, then make it a
    /// blob. A mismatch deletes the upload (the client starts again).
    pub async fn finish(
        &self,
        db: &Db,
        blobs: &crate::blobs::BlobStore,
        upload: &Upload,
    ) -> Result<(), ServerError> {
        let path = self.part_path(&upload.id);
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
            self.delete(db, &upload.id).await?;
            return Err(ServerError::ChecksumMismatch {
                zh: "上传内容与其 SHA-256 不符，请重新上传".into(),
                en: format!(
                    "the uploaded bytes hash to {actual}, not {}: upload again",
                    upload.sha256
                ),
            });
        }
        blobs.put_file(&upload.sha256, &path).await?;
        record_blob(db, upload).await
    }
}

impl Uploads {
    /// Forgets uploads untouched for `max_age` (their partial files too). Returns how many.
    pub async fn prune(&self, db: &Db, max_age: std::time::Duration) -> Result<usize, ServerError> {
        let cutoff = now_ms() - max_age.as_millis() as i64;
        let ids: Vec<String> = db
            .run(move |core| {
                let ids: Vec<String> = core
                    .conn
                    .prepare("SELECT id FROM uploads WHERE updated_at < ?1")?
                    .query_map([cutoff], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                core.conn
                    .execute("DELETE FROM uploads WHERE updated_at < ?1", [cutoff])?;
                Ok(ids)
            })
            .await?;
        for id in &ids {
            let _ = tokio::fs::remove_file(self.part_path(id)).await;
        }
        Ok(ids.len())
    }

    /// Makes sure a complete upload's blob exists: the server may have stopped between the last
    /// byte and recording the blob. Finishes it again from the partial file, records a blob the
    /// store already holds, or, when neither is there, starts the upload over (offset 0).
    pub async fn ensure_finished(
        &self,
        db: &Db,
        blobs: &crate::blobs::BlobStore,
        upload: &Upload,
    ) -> Result<u64, ServerError> {
        if upload.offset < upload.length {
            return Ok(upload.offset);
        }
        let sha = upload.sha256.clone();
        let stored = db
            .run(move |core| {
                Ok(core
                    .conn
                    .query_row("SELECT 1 FROM blobs WHERE sha256 = ?1", [sha], |_| Ok(()))
                    .optional()?
                    .is_some())
            })
            .await?;
        if stored {
            return Ok(upload.offset);
        }
        if tokio::fs::metadata(self.part_path(&upload.id))
            .await
            .is_ok_and(|m| m.len() == upload.length)
        {
            self.finish(db, blobs, upload).await?;
            return Ok(upload.offset);
        }
        if blobs.get(&upload.sha256).await.is_ok() {
            record_blob(db, upload).await?;
            return Ok(upload.offset);
        }
        tracing::warn!(upload = %upload.id, "complete upload without its blob: starting over");
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| ServerError::Io(e.to_string()))?;
        tokio::fs::File::create(self.part_path(&upload.id))
            .await
            .map_err(|e| ServerError::Io(e.to_string()))?;
        self.set_offset(db, &upload.id, 0).await?;
        Ok(0)
    }
}

/// Records that the blob of `upload` is in the store.
async fn record_blob(db: &Db, upload: &Upload) -> Result<(), ServerError> {
    let (sha, len) = (upload.sha256.clone(), upload.length);
    db.run(move |core| {
        core.conn.execute(
            "INSERT OR IGNORE INTO blobs (sha256, bytes, stored_at) VALUES (?1, ?2, ?3)",
            params![sha, len as i64, now_ms()],
        )?;
        Ok(())
    })
    .await
}

/// Parses `Upload-Metadata`: comma-separated `key base64value` pairs.
pub fn parse_metadata(header: &str) -> Result<Vec<(String, String)>, ServerError> {
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

/// Whether `who` may read blob `sha256`: some job that names it is theirs. Returns its type.
pub fn blob_access(
    conn: &Connection,
    who: &Principal,
    sha256: &str,
) -> Result<Option<String>, ServerError> {
    let refs: Vec<(String, String)> = conn
        .prepare_cached("SELECT job_id, mime FROM blob_ref WHERE sha256 = ?1")?
        .query_map([sha256], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let stored: bool = conn
        .query_row("SELECT 1 FROM blobs WHERE sha256 = ?1", [sha256], |_| {
            Ok(true)
        })
        .optional()?
        .unwrap_or(false);
    if !stored {
        return Ok(None);
    }
    for (job_id, mime) in refs {
        if can_access(conn, who, &job_id)? {
            return Ok(Some(mime));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stale_uploads_are_forgotten_with_their_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        let uploads = Uploads::new(dir.path(), 1 << 20);
        std::fs::create_dir_all(dir.path().join("uploads")).unwrap();
        for (id, age_ms) in [("old", 10 * 86_400_000i64), ("fresh", 0)] {
            std::fs::write(uploads.part_path(id), b"partial").unwrap();
            let at = now_ms() - age_ms;
            db.run_sync(|core| {
                core.conn.execute(
                    "INSERT INTO uploads (id, username, job_id, sha256, length, offset, created_at, updated_at)
                     VALUES (?1, 'u', 'j', 's', 10, 7, ?2, ?2)",
                    params![id, at],
                )?;
                Ok(())
            })
            .unwrap();
        }
        let n = uploads
            .prune(&db, std::time::Duration::from_secs(7 * 86_400))
            .await
            .unwrap();
        assert_eq!(n, 1);
        assert!(!uploads.part_path("old").exists());
        assert!(uploads.part_path("fresh").exists());
        let left: i64 = db
            .run_sync(|core| {
                Ok(core
                    .conn
                    .query_row("SELECT COUNT(*) FROM uploads", [], |r| r.get(0))?)
            })
            .unwrap();
        assert_eq!(left, 1);
    }
}
