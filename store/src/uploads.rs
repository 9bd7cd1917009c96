//! Photo files (blobs), the jobs that name them, and resumable (tus) uploads with their claims.

use crate::Result;
use crate::conn::{Conn, Finish};
use crate::sql::{Row, args};

/// A blob as [`UploadReads::blobs_named`] finds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobNamed {
    pub sha256: String,
    /// `(job_id, mime, role)` of every job that names it.
    pub refs: Vec<(String, String, String)>,
    /// The file was received.
    pub stored: bool,
}

/// A tus upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    pub id: String,
    pub username: String,
    pub job_id: String,
    pub sha256: String,
    pub length: u64,
    pub offset: u64,
}

/// Reads of photo files and uploads.
pub trait UploadReads {
    fn blob_ref_bytes(&self, sha256: &str, job_id: &str) -> Result<Option<i64>>;

    /// Jobs naming a blob, with its media type and role.
    fn blob_refs(&self, sha256: &str) -> Result<Vec<(String, String, String)>>;

    /// For each of `shas` in one read: the jobs naming it with the media type and role they
    /// declare, and whether the store has the file.
    fn blobs_named(&self, shas: &[&str]) -> Result<Vec<BlobNamed>>;

    /// Stored blobs (sha256, bytes), newest first, at most `limit`.
    fn recent_blobs(&self, limit: u32) -> Result<Vec<(String, i64)>>;

    /// Stored blobs (sha256, bytes) after `after` in hash order, at most `limit` (a check
    /// walks them all in pages).
    fn blobs_after(&self, after: &str, limit: u32) -> Result<Vec<(String, i64)>>;

    fn blob_stored(&self, sha256: &str) -> Result<bool>;

    fn upload(&self, id: &str, username: &str) -> Result<Option<UploadRow>>;

    /// The newest upload of `sha256` by `username` (a retried creation finds it).
    fn upload_of(&self, username: &str, sha256: &str) -> Result<Option<UploadRow>>;

    /// The photo files job `job_id` names that the blob store has not received (or lost).
    fn missing_blobs(&self, job_id: &str) -> Result<Vec<String>>;
}

/// Writes of photo files and uploads.
pub trait UploadWrites {
    fn insert_blob(&mut self, sha256: &str, bytes: i64, at: i64) -> Result<()>;

    fn forget_blob(&mut self, sha256: &str) -> Result<()>;

    fn insert_upload(&mut self, u: &UploadRow, at: i64) -> Result<()>;

    fn update_upload(&mut self, id: &str, job_id: &str, offset: u64, at: i64) -> Result<()>;

    fn set_upload_offset(&mut self, id: &str, offset: u64, at: i64) -> Result<()>;

    fn delete_upload(&mut self, id: &str) -> Result<()>;

    /// Deletes uploads untouched since `before`; returns their ids.
    fn delete_stale_uploads(&mut self, before: i64) -> Result<Vec<String>>;

    /// Claims upload `id` for `holder` until `until` (ms) unless another holder's claim stands
    /// at `now`; `true` when claimed (or renewed).
    fn claim_upload(&mut self, id: &str, holder: &str, now: i64, until: i64) -> Result<bool>;

    /// Ends `holder`'s claim on upload `id` (another's claim stays).
    fn release_upload(&mut self, id: &str, holder: &str) -> Result<()>;

    /// Ends every claim of node `node` (holders `node#…`): a restarted node's requests died
    /// with it. Returns how many.
    fn release_node_uploads(&mut self, node: &str) -> Result<u64>;
}

impl<T: Conn> UploadReads for T {
    fn blob_ref_bytes(&self, sha256: &str, job_id: &str) -> Result<Option<i64>> {
        self.db().opt(
            "SELECT bytes FROM blob_ref WHERE sha256 = ?1 AND job_id = ?2",
            args![sha256, job_id],
            |r| r.get(0),
        )
    }

    fn blob_refs(&self, sha256: &str) -> Result<Vec<(String, String, String)>> {
        self.db().all(
            "SELECT job_id, mime, role FROM blob_ref WHERE sha256 = ?1",
            args![sha256],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    }

    fn blobs_named(&self, shas: &[&str]) -> Result<Vec<crate::BlobNamed>> {
        if shas.is_empty() {
            return Ok(Vec::new());
        }
        let db = self.db();
        let list = serde_json::to_string(shas).expect("json");
        let rows = db.query(
            &format!(
                "SELECT s.value, r.job_id, r.mime, r.role,
                    CASE WHEN EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = s.value)
                         THEN 1 ELSE 0 END
                 FROM {} LEFT JOIN blob_ref r ON r.sha256 = s.value ORDER BY s.value",
                db.dialect().text_list("?1")
            ),
            args![list],
        )?;
        let mut out: Vec<crate::BlobNamed> = Vec::new();
        for r in &rows {
            let sha: String = r.get(0)?;
            if out.last().is_none_or(|b| b.sha256 != sha) {
                out.push(crate::BlobNamed {
                    sha256: sha,
                    refs: Vec::new(),
                    stored: r.get::<i64>(4)? != 0,
                });
            }
            if let (Some(job), Some(mime), Some(role)) = (
                r.get::<Option<String>>(1)?,
                r.get::<Option<String>>(2)?,
                r.get::<Option<String>>(3)?,
            ) {
                let last = out.last_mut().expect("pushed above");
                last.refs.push((job, mime, role));
            }
        }
        Ok(out)
    }

    fn recent_blobs(&self, limit: u32) -> Result<Vec<(String, i64)>> {
        self.db().all(
            "SELECT sha256, bytes FROM blobs ORDER BY stored_at DESC, sha256 LIMIT ?1",
            args![limit],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    fn blobs_after(&self, after: &str, limit: u32) -> Result<Vec<(String, i64)>> {
        self.db().all(
            "SELECT sha256, bytes FROM blobs WHERE sha256 > ?1 ORDER BY sha256 LIMIT ?2",
            args![after, limit],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    fn blob_stored(&self, sha256: &str) -> Result<bool> {
        Ok(!self
            .db()
            .query("SELECT 1 FROM blobs WHERE sha256 = ?1", args![sha256])?
            .is_empty())
    }

    fn upload(&self, id: &str, username: &str) -> Result<Option<UploadRow>> {
        self.db().opt(
            &format!("SELECT {UPLOAD_COLS} FROM uploads WHERE id = ?1 AND username = ?2"),
            args![id, username],
            upload_row,
        )
    }

    fn upload_of(&self, username: &str, sha256: &str) -> Result<Option<UploadRow>> {
        self.db().opt(
            &format!(
                "SELECT {UPLOAD_COLS} FROM uploads
                 WHERE username = ?1 AND sha256 = ?2 ORDER BY created_at DESC LIMIT 1"
            ),
            args![username, sha256],
            upload_row,
        )
    }

    fn missing_blobs(&self, job_id: &str) -> Result<Vec<String>> {
        self.db().column(
            "SELECT DISTINCT r.sha256 FROM blob_ref r WHERE r.job_id = ?1
                AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = r.sha256)
             ORDER BY r.sha256",
            args![job_id],
        )
    }
}

impl<T: Conn + Finish> UploadWrites for T {
    fn insert_blob(&mut self, sha256: &str, bytes: i64, at: i64) -> Result<()> {
        self.db().execute(
            "INSERT INTO blobs (sha256, bytes, stored_at) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            args![sha256, bytes, at],
        )?;
        Ok(())
    }

    fn forget_blob(&mut self, sha256: &str) -> Result<()> {
        self.db()
            .execute("DELETE FROM blobs WHERE sha256 = ?1", args![sha256])?;
        Ok(())
    }

    fn insert_upload(&mut self, u: &UploadRow, at: i64) -> Result<()> {
        self.db().execute(
            r#"INSERT INTO uploads (id, username, job_id, sha256, length, "offset", created_at,
                updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)"#,
            args![
                &u.id,
                &u.username,
                &u.job_id,
                &u.sha256,
                u.length,
                u.offset,
                at
            ],
        )?;
        Ok(())
    }

    fn update_upload(&mut self, id: &str, job_id: &str, offset: u64, at: i64) -> Result<()> {
        self.db().execute(
            r#"UPDATE uploads SET "offset" = ?2, job_id = ?3, updated_at = ?4 WHERE id = ?1"#,
            args![id, offset, job_id, at],
        )?;
        Ok(())
    }

    fn set_upload_offset(&mut self, id: &str, offset: u64, at: i64) -> Result<()> {
        self.db().execute(
            r#"UPDATE uploads SET "offset" = ?2, updated_at = ?3 WHERE id = ?1"#,
            args![id, offset, at],
        )?;
        Ok(())
    }

    fn delete_upload(&mut self, id: &str) -> Result<()> {
        self.db()
            .execute("DELETE FROM uploads WHERE id = ?1", args![id])?;
        Ok(())
    }

    fn delete_stale_uploads(&mut self, before: i64) -> Result<Vec<String>> {
        self.db().column(
            "DELETE FROM uploads WHERE updated_at < ?1 RETURNING id",
            args![before],
        )
    }

    fn claim_upload(&mut self, id: &str, holder: &str, now: i64, until: i64) -> Result<bool> {
        Ok(self.db().execute(
            "UPDATE uploads SET lock_holder = ?2, lock_until = ?4
             WHERE id = ?1 AND (lock_until IS NULL OR lock_until < ?3 OR lock_holder = ?2)",
            args![id, holder, now, until],
        )? == 1)
    }

    fn release_upload(&mut self, id: &str, holder: &str) -> Result<()> {
        self.db().execute(
            "UPDATE uploads SET lock_holder = NULL, lock_until = NULL
             WHERE id = ?1 AND lock_holder = ?2",
            args![id, holder],
        )?;
        Ok(())
    }

    fn release_node_uploads(&mut self, node: &str) -> Result<u64> {
        self.db().execute(
            "UPDATE uploads SET lock_holder = NULL, lock_until = NULL
             WHERE substr(lock_holder, 1, length(?1) + 1) = ?1 || '#'",
            args![node],
        )
    }
}

fn upload_row(r: &Row) -> Result<UploadRow> {
    Ok(UploadRow {
        id: r.get(0)?,
        username: r.get(1)?,
        job_id: r.get(2)?,
        sha256: r.get(3)?,
        length: r.get::<i64>(4)? as u64,
        offset: r.get::<i64>(5)? as u64,
    })
}

const UPLOAD_COLS: &str = r#"id, username, job_id, sha256, length, "offset""#;
