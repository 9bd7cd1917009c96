//! Jobs the server refused, and jobs that left this user's scope while they still held unsynced
//! work. Such a job is set aside ("needs attention") with the reason and blocks nothing else; its
//! unsynced changes can be exported to a file, discarded (the job returns to the server's version,
//! after an automatic export) or pushed again. Nothing is dropped silently.

use super::sync_state::{decode_heads, set_base};
use super::{Inner, Store, StoreError, projection};
use crate::job::{JobDoc, local_date};
use crate::sync::protocol::Rejected;
use automerge::{AutoCommit, Change, ChangeHash};
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// The code a job gets when it left this user's scope (e.g. reassigned) with unsynced work.
pub const LEFT_SCOPE: &str = "left_scope";

/// A job set aside: the server refused its changes, or it left this user's scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedJob {
    pub job_id: String,
    pub job_no: String,
    pub customer_name: String,
    pub code: String,
    pub zh: String,
    pub en: String,
    /// The document paths the server named.
    pub paths: Vec<String>,
    pub refused_at: DateTime<Utc>,
    /// The job is no longer this user's (it is hidden from lists; only its export remains).
    pub left_scope: bool,
    /// Local changes the server has not acknowledged.
    pub unsynced_changes: usize,
}

/// Files written by an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsyncedExport {
    /// The unsynced changes as automerge change chunks (any automerge implementation can load
    /// them on top of the job).
    pub changes_file: PathBuf,
    /// A readable JSON summary: the job, the reason, each change with what it touched.
    pub summary_file: PathBuf,
    pub changes: usize,
}

/// What discarding did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discarded {
    /// The export written first.
    pub export: UnsyncedExport,
    /// The job had never reached the server, so nothing of it is left on this phone.
    pub job_removed: bool,
}

fn export_err(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Export(format!("{}: {e}", path.display()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    let mut f = std::fs::File::create(path).map_err(|e| export_err(path, e))?;
    f.write_all(bytes).map_err(|e| export_err(path, e))?;
    f.sync_all().map_err(|e| export_err(path, e))
}

impl Inner {
    fn base(&self, job_id: &str) -> Result<Vec<ChangeHash>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT heads FROM sync_base WHERE job_id = ?1",
                [job_id],
                |r| r.get::<_, Vec<u8>>(0),
            )
            .optional()?
            .map(|b| decode_heads(&b))
            .unwrap_or_default())
    }

    /// This device's changes to the job that the server has not acknowledged.
    fn unsynced(&mut self, job_id: &str) -> Result<Vec<Change>, StoreError> {
        let base = self.base(job_id)?;
        let actor = self.device.actor.clone();
        let doc = self.doc(job_id)?;
        let base: Vec<ChangeHash> = base.into_iter().filter(|h| doc.has_change(h)).collect();
        Ok(doc
            .changes_since(&base)
            .into_iter()
            .filter(|c| c.actor_id() == &actor)
            .collect())
    }

    fn export(
        &mut self,
        job_id: &str,
        dir: &Path,
        now: DateTime<Utc>,
    ) -> Result<UnsyncedExport, StoreError> {
        let changes = self.unsynced(job_id)?;
        let refused = self.refused(job_id)?;
        let doc = self.doc(job_id)?;
        let job = doc.job()?;
        let touched: HashMap<ChangeHash, Vec<String>> = crate::policy::touched_paths(doc, &changes)
            .into_iter()
            .collect();
        std::fs::create_dir_all(dir).map_err(|e| export_err(dir, e))?;
        let stem = format!(
            "{}-{}",
            job.job_no
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect::<String>(),
            now.format("%Y%m%dT%H%M%S%3f")
        );
        let changes_file = dir.join(format!("{stem}.automerge"));
        let summary_file = dir.join(format!("{stem}.json"));
        let bytes: Vec<u8> = changes
            .iter()
            .flat_map(|c| c.raw_bytes().to_vec())
            .collect();
        let listed: Vec<serde_json::Value> = changes
            .iter()
            .map(|c| {
                serde_json::json!({
                    "hash": c.hash().to_string(),
                    "time": DateTime::<Utc>::from_timestamp(c.timestamp(), 0)
                        .map(|t| t.to_rfc3339()),
                    "edit": c.message(),
                    "paths": touched.get(&c.hash()).cloned().unwrap_or_default(),
                })
            })
            .collect();
        let summary = serde_json::json!({
            "what": "未同步的修改 / unsynced changes (Fieldline)",
            "job_id": job.id,
            "job_no": job.job_no,
            "customer_name": job.customer.name,
            "device_id": self.device.device_id,
            "exported_at": now.to_rfc3339(),
            "refused": refused.map(|r| serde_json::json!({
                "code": r.code, "zh": r.zh, "en": r.en, "paths": r.paths,
                "refused_at": r.refused_at.to_rfc3339(),
            })),
            "changes_file": changes_file.file_name().map(|n| n.to_string_lossy().into_owned()),
            "changes": listed,
            "job": job,
        });
        write_synced(&changes_file, &bytes)?;
        write_synced(
            &summary_file,
            serde_json::to_string_pretty(&summary)
                .expect("json")
                .as_bytes(),
        )?;
        Ok(UnsyncedExport {
            changes_file,
            summary_file,
            changes: changes.len(),
        })
    }

    fn refused(&mut self, job_id: &str) -> Result<Option<RefusedJob>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT job_no, customer_name, code, zh, en, paths, refused_at, left_scope
                 FROM sync_refused WHERE job_id = ?1",
                [job_id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, bool>(7)?,
                    ))
                },
            )
            .optional()?;
        let Some((job_no, customer_name, code, zh, en, paths, at, left_scope)) = row else {
            return Ok(None);
        };
        let unsynced_changes = self.unsynced(job_id)?.len();
        Ok(Some(RefusedJob {
            job_id: job_id.to_string(),
            job_no,
            customer_name,
            code,
            zh,
            en,
            paths: serde_json::from_str(&paths).unwrap_or_default(),
            refused_at: DateTime::<Utc>::from_timestamp_millis(at).unwrap_or_default(),
            left_scope,
            unsynced_changes,
        }))
    }

    fn set_aside(
        &mut self,
        why: &Rejected,
        left_scope: bool,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let Rejected {
            job_id,
            code,
            zh,
            en,
            paths,
        } = why;
        let job = self.doc(job_id)?.job()?;
        self.conn.execute(
            "INSERT INTO sync_refused (job_id, job_no, customer_name, code, zh, en, paths,
                refused_at, left_scope)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (job_id) DO UPDATE SET code = excluded.code, zh = excluded.zh,
                en = excluded.en, paths = excluded.paths, refused_at = excluded.refused_at,
                left_scope = MAX(left_scope, excluded.left_scope)",
            params![
                job_id,
                job.job_no,
                job.customer.name.unwrap_or_default(),
                code,
                zh,
                en,
                serde_json::to_string(paths).expect("json"),
                now.timestamp_millis(),
                left_scope,
            ],
        )?;
        Ok(())
    }
}

impl Store {
    /// Jobs set aside (refused by the server, or out of this user's scope with unsynced work).
    pub fn refused_jobs(&self) -> Result<Vec<RefusedJob>, StoreError> {
        let mut inner = self.lock();
        let ids: Vec<String> = inner
            .conn
            .prepare("SELECT job_id FROM sync_refused ORDER BY refused_at, job_id")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(inner.refused(&id)?);
        }
        Ok(out)
    }

    /// Writes the job's unsynced changes (automerge bytes) and a readable JSON summary into
    /// `dir`. Works for any job, set aside or not.
    pub fn export_unsynced(&self, job_id: &str, dir: &Path) -> Result<UnsyncedExport, StoreError> {
        let now = self.now();
        self.lock().export(job_id, dir, now)
    }

    /// Gives up the job's unsynced changes: exports them to `dir` first, then returns the job to
    /// the server's version (a job the server never had is removed from this phone). One
    /// transaction; on error nothing changed.
    pub fn discard_unsynced(&self, job_id: &str, dir: &Path) -> Result<Discarded, StoreError> {
        let now = self.now();
        let mut inner = self.lock();
        let export = inner.export(job_id, dir, now)?;
        // A job that is no longer this user's leaves the phone with its changes.
        let left_scope = inner.refused(job_id)?.is_some_and(|r| r.left_scope);
        if left_scope {
            inner
                .conn
                .execute("DELETE FROM job_doc WHERE job_id = ?1", [job_id])?;
            inner.cache.remove(job_id);
            return Ok(Discarded {
                export,
                job_removed: true,
            });
        }
        let mine: HashSet<ChangeHash> = inner.unsynced(job_id)?.iter().map(Change::hash).collect();
        let doc = inner.doc(job_id)?;
        let all = doc.changes_since(&[]);
        // Keep everything that is not ours-and-unacknowledged, and whatever a kept change
        // depends on (a change another device built on is on the server after all).
        let mut drop: HashSet<ChangeHash> = mine;
        loop {
            let needed: Vec<ChangeHash> = all
                .iter()
                .filter(|c| !drop.contains(&c.hash()))
                .flat_map(|c| c.deps().iter().copied())
                .filter(|d| drop.contains(d))
                .collect();
            if needed.is_empty() {
                break;
            }
            for d in needed {
                drop.remove(&d);
            }
        }
        let keep: Vec<Change> = all
            .into_iter()
            .filter(|c| !drop.contains(&c.hash()))
            .collect();
        let tx = inner.conn.unchecked_transaction()?;
        if keep.is_empty() {
            tx.execute("DELETE FROM job_doc WHERE job_id = ?1", [job_id])?;
            tx.commit()?;
            inner.cache.remove(job_id);
            return Ok(Discarded {
                export,
                job_removed: true,
            });
        }
        let mut rebuilt = AutoCommit::new();
        rebuilt
            .apply_changes(keep)
            .map_err(crate::job::JobError::from)?;
        let mut doc = JobDoc::load(&rebuilt.save(), inner.device.actor.clone())?;
        let job = doc.job()?;
        let heads = doc.heads();
        let snapshot = doc.save();
        tx.execute("DELETE FROM job_chunk WHERE job_id = ?1", [job_id])?;
        tx.execute(
            "UPDATE job_doc SET snapshot = ?2, chunks_bytes = 0 WHERE job_id = ?1",
            params![job_id, snapshot],
        )?;
        for table in ["outbox", "sync_refused", "sync_peer"] {
            tx.execute(&format!("DELETE FROM {table} WHERE job_id = ?1"), [job_id])?;
        }
        let kept_photos: Vec<String> = job.photos.keys().cloned().collect();
        let queued: Vec<String> = tx
            .prepare("SELECT DISTINCT photo_id FROM photo_upload WHERE job_id = ?1")?
            .query_map([job_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for photo in queued.iter().filter(|p| !kept_photos.contains(p)) {
            tx.execute(
                "DELETE FROM photo_upload WHERE job_id = ?1 AND photo_id = ?2",
                params![job_id, photo],
            )?;
        }
        set_base(&tx, job_id, &heads)?;
        let limits = projection::limits_for(&job, &inner.rules, &inner.calendar, local_date(now));
        projection::write(&tx, &job, &limits, now.timestamp_millis())?;
        tx.commit()?;
        inner.cache.remove(job_id);
        inner.cache_put(job_id.to_string(), doc);
        Ok(Discarded {
            export,
            job_removed: false,
        })
    }

    /// Takes a refused job out of "needs attention": its changes go to the server again at the
    /// next sync (e.g. after a policy or an assignment was corrected). Returns whether it was
    /// held. A job that is no longer this user's stays held: it comes back by itself when it is
    /// assigned to them again; until then it can be exported or discarded.
    pub fn retry_refused(&self, job_id: &str) -> Result<bool, StoreError> {
        let inner = self.lock();
        Ok(inner.conn.execute(
            "DELETE FROM sync_refused WHERE job_id = ?1 AND left_scope = 0",
            [job_id],
        )? > 0)
    }

    /// The server refused a job's push: set it aside with the reason.
    pub(crate) fn sync_set_aside(&self, r: &Rejected) -> Result<(), StoreError> {
        let now = self.now();
        let mut inner = self.lock();
        match inner.set_aside(r, false, now) {
            Err(StoreError::NotFound(_)) => Ok(()),
            other => other,
        }
    }

    /// The job left this user's scope (reassigned). A job with nothing unsynced is removed; one
    /// with unsynced work is hidden from lists and kept for export.
    pub(crate) fn sync_left_scope(&self, job_id: &str) -> Result<(), StoreError> {
        let now = self.now();
        let mut inner = self.lock();
        let dirty: i64 = inner.conn.query_row(
            "SELECT (SELECT COUNT(*) FROM outbox WHERE job_id = ?1)
                  + (SELECT COUNT(*) FROM sync_refused WHERE job_id = ?1)",
            [job_id],
            |r| r.get(0),
        )?;
        let exists: bool = inner
            .conn
            .query_row("SELECT 1 FROM job_doc WHERE job_id = ?1", [job_id], |_| {
                Ok(true)
            })
            .optional()?
            .unwrap_or(false);
        if !exists {
            return Ok(());
        }
        if dirty == 0 {
            inner
                .conn
                .execute("DELETE FROM job_doc WHERE job_id = ?1", [job_id])?;
            inner.cache.remove(job_id);
            return Ok(());
        }
        let tx = inner.conn.unchecked_transaction()?;
        tx.execute("DELETE FROM job_list WHERE job_id = ?1", [job_id])?;
        tx.execute("DELETE FROM agenda WHERE job_id = ?1", [job_id])?;
        tx.commit()?;
        let why = Rejected {
            job_id: job_id.to_string(),
            code: LEFT_SCOPE.into(),
            zh: "工单已不在您的负责范围（可能已改派他人）；本机未同步的修改可以导出或放弃".into(),
            en: "the job is no longer yours (it may have been reassigned): its unsynced changes on this phone can be exported or discarded".into(),
            paths: Vec::new(),
        };
        inner.set_aside(&why, true, now)
    }
}

/// A job came (back) into scope: a left-scope hold is lifted, so its work is pushed again.
pub(super) fn lift_left_scope(conn: &rusqlite::Connection, job_id: &str) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM sync_refused WHERE job_id = ?1 AND left_scope = 1",
        [job_id],
    )?;
    Ok(())
}
