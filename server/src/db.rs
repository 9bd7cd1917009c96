//! The server's embedded SQLite database: one connection behind a mutex, used from blocking
//! threads only (`Db::run`), WAL with `synchronous = FULL`, numbered migrations.

use crate::error::ServerError;
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex};

const MIGRATIONS: &[&str] = &[
    // 1: users, devices, tokens.
    "CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL,
        unit TEXT NOT NULL,
        display_name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE devices (
        device_id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
    );
    CREATE TABLE tokens (
        hash BLOB PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id),
        device_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        revoked_at INTEGER
    );
    CREATE INDEX tokens_device ON tokens (device_id);",
    // 2: job documents (snapshot + change log), the change feed, access, fallback sync state.
    "CREATE TABLE jobs (
        job_id TEXT PRIMARY KEY,
        unit TEXT NOT NULL,
        kind TEXT NOT NULL,
        job_no TEXT NOT NULL,
        status TEXT NOT NULL,
        customer_name TEXT NOT NULL,
        customer_manager TEXT,
        project_manager TEXT,
        next_due TEXT,
        sla_state TEXT,
        created_by TEXT NOT NULL,
        snapshot BLOB,
        snapshot_seq INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX jobs_unit ON jobs (unit);
    CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL REFERENCES jobs(job_id),
        hash BLOB NOT NULL,
        bytes BLOB NOT NULL,
        origin_device TEXT NOT NULL,
        UNIQUE (job_id, hash)
    );
    CREATE INDEX changes_job ON changes (job_id, seq);
    CREATE TABLE job_access (
        job_id TEXT NOT NULL REFERENCES jobs(job_id),
        username TEXT NOT NULL,
        entered_seq INTEGER NOT NULL,
        PRIMARY KEY (job_id, username)
    );
    CREATE INDEX job_access_user ON job_access (username, entered_seq);
    CREATE TABLE fallback_state (
        device_id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        state BLOB NOT NULL,
        PRIMARY KEY (device_id, job_id)
    );",
    // 3: photo blobs: which job documents name which blob, the blobs stored, tus uploads.
    "CREATE TABLE blob_ref (
        sha256 TEXT NOT NULL,
        job_id TEXT NOT NULL REFERENCES jobs(job_id),
        photo_id TEXT NOT NULL,
        role TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        mime TEXT NOT NULL,
        PRIMARY KEY (sha256, job_id)
    );
    CREATE INDEX blob_ref_job ON blob_ref (job_id);
    CREATE TABLE blobs (
        sha256 TEXT PRIMARY KEY,
        bytes INTEGER NOT NULL,
        stored_at INTEGER NOT NULL
    );
    CREATE TABLE uploads (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        job_id TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        length INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX uploads_user_blob ON uploads (username, sha256);",
    // 4: each device's ed25519 public key for contract signatures (registered at login).
    "ALTER TABLE devices ADD COLUMN public_key TEXT;",
];

/// What blocking work gets: the connection and the cache of loaded job documents.
pub struct Core {
    pub conn: Connection,
    pub docs: crate::jobs::DocCache,
}

/// Shared handle to the database.
#[derive(Clone)]
pub struct Db {
    core: Arc<Mutex<Core>>,
}

impl Db {
    pub fn open(dir: &Path) -> Result<Db, ServerError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| ServerError::Io(format!("{}: {e}", dir.display())))?;
        let mut conn = Connection::open(dir.join("fieldline.db"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrate(&mut conn)?;
        Ok(Db {
            core: Arc::new(Mutex::new(Core {
                conn,
                docs: crate::jobs::DocCache::default(),
            })),
        })
    }

    /// Runs `f` with the database on a blocking thread.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ServerError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Core) -> Result<T, ServerError> + Send + 'static,
    {
        let core = self.core.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = core.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| ServerError::Internal(format!("blocking task failed: {e}")))?
    }

    /// Runs `f` on the current thread (CLI commands).
    pub fn run_sync<T>(
        &self,
        f: impl FnOnce(&mut Core) -> Result<T, ServerError>,
    ) -> Result<T, ServerError> {
        let mut guard = self.core.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

fn migrate(conn: &mut Connection) -> Result<(), ServerError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let current = current as usize;
    if current > MIGRATIONS.len() {
        return Err(ServerError::Internal(format!(
            "database version {current} is newer than this server ({}); please update",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_2_database_upgrades_and_keeps_its_jobs() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join("fieldline.db")).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(MIGRATIONS[1]).unwrap();
            conn.execute_batch(
                "INSERT INTO jobs (job_id, unit, kind, job_no, status, customer_name, created_by,
                    updated_at) VALUES ('j1', 'u', 'hv', 'YK-1', 'accepted', '客户', 'cm', 0);
                 PRAGMA user_version = 2;",
            )
            .unwrap();
        }
        let db = Db::open(dir.path()).unwrap();
        db.run_sync(|core| {
            let v: i64 = core
                .conn
                .query_row("PRAGMA user_version", [], |r| r.get(0))?;
            assert_eq!(v as usize, MIGRATIONS.len());
            let jobs: i64 = core
                .conn
                .query_row("SELECT COUNT(*) FROM jobs", [], |r| r.get(0))?;
            assert_eq!(jobs, 1);
            let keys: i64 =
                core.conn
                    .query_row("SELECT COUNT(public_key) FROM devices", [], |r| r.get(0))?;
            assert_eq!(keys, 0);
            for table in ["blob_ref", "blobs", "uploads"] {
                let n: i64 =
                    core.conn
                        .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))?;
                assert_eq!(n, 0);
            }
            Ok(())
        })
        .unwrap();
    }
}
