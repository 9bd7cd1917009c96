//! The photo upload queue: which blobs the server still lacks, the tus upload each one is
//! resuming, and what went wrong last. Separate from the document outbox, so documents never
//! wait for photos.

use super::{Store, StoreError};
use rusqlite::{OptionalExtension, params};

/// One blob waiting for upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingUpload {
    pub sha256: String,
    pub job_id: String,
    pub photo_id: String,
    /// `thumbnail`, `display` or `original`.
    pub role: String,
    pub bytes: u64,
    /// The tus upload being resumed, once the server created one.
    pub upload_url: Option<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// How much is still to upload.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadStatus {
    /// Photos with at least one blob not yet on the server.
    pub photos_pending: u32,
    pub blobs_pending: u32,
    pub bytes_pending: u64,
    pub blobs_uploaded: u32,
}

impl Store {
    /// Blobs not yet on the server, thumbnails first, oldest first.
    pub fn pending_uploads(&self) -> Result<Vec<PendingUpload>, StoreError> {
        let inner = self.lock();
        let mut stmt = inner.conn.prepare(
            "SELECT sha256, job_id, photo_id, role, bytes, upload_url, attempts, last_error
             FROM photo_upload WHERE uploaded_at IS NULL ORDER BY priority, queued_at, sha256",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(PendingUpload {
                    sha256: r.get(0)?,
                    job_id: r.get(1)?,
                    photo_id: r.get(2)?,
                    role: r.get(3)?,
                    bytes: r.get::<_, i64>(4)? as u64,
                    upload_url: r.get(5)?,
                    attempts: r.get::<_, i64>(6)? as u32,
                    last_error: r.get(7)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Counts of what is still to upload.
    pub fn upload_status(&self) -> Result<UploadStatus, StoreError> {
        let inner = self.lock();
        let status = inner.conn.query_row(
            "SELECT COUNT(DISTINCT CASE WHEN uploaded_at IS NULL THEN photo_id END),
                    COUNT(CASE WHEN uploaded_at IS NULL THEN 1 END),
                    COALESCE(SUM(CASE WHEN uploaded_at IS NULL THEN bytes END), 0),
                    COUNT(uploaded_at)
             FROM photo_upload",
            [],
            |r| {
                Ok(UploadStatus {
                    photos_pending: r.get::<_, i64>(0)? as u32,
                    blobs_pending: r.get::<_, i64>(1)? as u32,
                    bytes_pending: r.get::<_, i64>(2)? as u64,
                    blobs_uploaded: r.get::<_, i64>(3)? as u32,
                })
            },
        )?;
        Ok(status)
    }

    /// Remembers (or forgets, with `None`) the tus upload URL of a blob.
    pub fn set_upload_url(&self, sha256: &str, url: Option<&str>) -> Result<(), StoreError> {
        self.lock().conn.execute(
            "UPDATE photo_upload SET upload_url = ?2 WHERE sha256 = ?1",
            params![sha256, url],
        )?;
        Ok(())
    }

    /// The server has the blob.
    pub fn mark_uploaded(&self, sha256: &str) -> Result<(), StoreError> {
        let now = self.now().timestamp_millis();
        self.lock().conn.execute(
            "UPDATE photo_upload SET uploaded_at = COALESCE(uploaded_at, ?2), last_error = NULL
             WHERE sha256 = ?1",
            params![sha256, now],
        )?;
        Ok(())
    }

    /// Queues a blob the server reported lacking again (it was uploaded before, then lost with a
    /// restore), when this phone still holds it; whether it was queued.
    pub fn requeue_upload(&self, sha256: &str) -> Result<bool, StoreError> {
        if !self.blobs.path(sha256)?.exists() {
            return Ok(false);
        }
        Ok(self.lock().conn.execute(
            "UPDATE photo_upload SET uploaded_at = NULL, upload_url = NULL, attempts = 0,
                last_error = NULL
             WHERE sha256 = ?1 AND uploaded_at IS NOT NULL",
            params![sha256],
        )? > 0)
    }

    /// Records a failed attempt (shown to the user; the blob stays queued).
    pub fn upload_failed(&self, sha256: &str, error: &str) -> Result<(), StoreError> {
        self.lock().conn.execute(
            "UPDATE photo_upload SET attempts = attempts + 1, last_error = ?2 WHERE sha256 = ?1",
            params![sha256, error],
        )?;
        Ok(())
    }

    /// Whether the blob is queued and not yet uploaded.
    pub fn upload_pending(&self, sha256: &str) -> Result<bool, StoreError> {
        let pending: Option<i64> = self
            .lock()
            .conn
            .query_row(
                "SELECT 1 FROM photo_upload WHERE sha256 = ?1 AND uploaded_at IS NULL",
                [sha256],
                |r| r.get(0),
            )
            .optional()?;
        Ok(pending.is_some())
    }

    /// `len` bytes of a stored blob from `offset` (an upload chunk).
    pub fn blob_range(&self, sha256: &str, offset: u64, len: usize) -> Result<Vec<u8>, StoreError> {
        self.blobs.read_range(sha256, offset, len)
    }

    /// Keeps a blob fetched from the server (already checked against its name): shown offline
    /// from now on, never uploaded back.
    pub fn keep_blob(&self, sha256: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.blobs.put(sha256, bytes)
    }

    /// The bytes of a stored blob.
    pub fn blob(&self, sha256: &str) -> Result<Vec<u8>, StoreError> {
        self.blobs.get(sha256)
    }
}
