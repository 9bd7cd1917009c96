//! Numbered schema migrations on `PRAGMA user_version`. Each runs in the same transaction as the
//! version bump, so a crash mid-upgrade leaves the previous version intact.

use rusqlite::Connection;

/// A Rust step run after a migration's SQL (e.g. a backfill).
pub(crate) type Backfill = fn(&Connection) -> Result<(), super::StoreError>;

/// A migration: plain SQL, or SQL followed by a Rust step.
pub(crate) struct Migration {
    pub sql: &'static str,
    pub backfill: Option<Backfill>,
}

/// The migrations, in order; migration `i` takes the schema from version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[Migration] = &[
    // 1: device identity and job documents (snapshot + incremental chunks).
    Migration {
        sql: "
        CREATE TABLE device (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            device_id TEXT NOT NULL,
            actor_id BLOB NOT NULL,
            created_at INTEGER NOT NULL
        );
        CREATE TABLE job_doc (
            job_id TEXT PRIMARY KEY,
            snapshot BLOB NOT NULL,
            chunks_bytes INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE job_chunk (
            job_id TEXT NOT NULL REFERENCES job_doc(job_id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            bytes BLOB NOT NULL,
            PRIMARY KEY (job_id, seq)
        );",
        backfill: None,
    },
    // 2: the list projection and the sync outbox. Existing documents are projected.
    Migration {
        sql: "
        CREATE TABLE job_list (
            job_id TEXT PRIMARY KEY REFERENCES job_doc(job_id) ON DELETE CASCADE,
            job_no TEXT NOT NULL,
            kind TEXT NOT NULL,
            unit TEXT NOT NULL,
            status TEXT NOT NULL,
            customer_name TEXT NOT NULL,
            customer_manager TEXT,
            project_manager TEXT,
            accepted_on TEXT NOT NULL,
            next_due TEXT,
            sla_state TEXT,
            waiting INTEGER NOT NULL,
            conflicts INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        );
        CREATE INDEX job_list_updated ON job_list (updated_at DESC, job_id);
        CREATE INDEX job_list_due ON job_list (COALESCE(next_due, '9999-12-31'), job_id);
        CREATE INDEX job_list_cm ON job_list (customer_manager);
        CREATE INDEX job_list_pm ON job_list (project_manager);
        CREATE INDEX job_list_status ON job_list (status);
        CREATE TABLE outbox (
            job_id TEXT PRIMARY KEY REFERENCES job_doc(job_id) ON DELETE CASCADE,
            generation INTEGER NOT NULL,
            since INTEGER NOT NULL
        );",
        backfill: Some(super::projection::rebuild_all),
    },
    // 3: data delivered at run time: newer calendars and unit rule sets.
    Migration {
        sql: "
        CREATE TABLE calendar_data (
            version INTEGER PRIMARY KEY,
            bundle TEXT NOT NULL
        );
        CREATE TABLE rule_set (
            id TEXT NOT NULL,
            version INTEGER NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (id, version)
        );",
        backfill: None,
    },
    // 4: sync state: settings and cursor, the server heads each job was last acknowledged at,
    // and automerge sync-protocol state for jobs in fallback.
    Migration {
        sql: "
        CREATE TABLE sync_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE sync_base (
            job_id TEXT PRIMARY KEY REFERENCES job_doc(job_id) ON DELETE CASCADE,
            heads BLOB NOT NULL
        );
        CREATE TABLE sync_peer (
            job_id TEXT PRIMARY KEY REFERENCES job_doc(job_id) ON DELETE CASCADE,
            state BLOB NOT NULL,
            outgoing BLOB
        );",
        backfill: None,
    },
    // 5: the photo upload queue. Blob bytes live in files beside the database, named by SHA-256.
    Migration {
        sql: "
        CREATE TABLE photo_upload (
            sha256 TEXT PRIMARY KEY,
            job_id TEXT NOT NULL REFERENCES job_doc(job_id) ON DELETE CASCADE,
            photo_id TEXT NOT NULL,
            role TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            priority INTEGER NOT NULL,
            queued_at INTEGER NOT NULL,
            upload_url TEXT,
            uploaded_at INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        );
        CREATE INDEX photo_upload_pending ON photo_upload (priority, queued_at)
            WHERE uploaded_at IS NULL;",
        backfill: None,
    },
    // 6: the device's ed25519 signing key (contracts); created on first open after upgrade.
    Migration {
        sql: "ALTER TABLE device ADD COLUMN signing_key BLOB;",
        backfill: None,
    },
    // 7: write policies delivered at run time, and jobs the server refused (set aside with the
    // reason until the user exports, discards or retries their unsynced changes).
    Migration {
        sql: "
        CREATE TABLE write_policy (
            id TEXT NOT NULL,
            version INTEGER NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (id, version)
        );
        CREATE TABLE sync_refused (
            job_id TEXT PRIMARY KEY REFERENCES job_doc(job_id) ON DELETE CASCADE,
            job_no TEXT NOT NULL,
            customer_name TEXT NOT NULL,
            code TEXT NOT NULL,
            zh TEXT NOT NULL,
            en TEXT NOT NULL,
            paths TEXT NOT NULL,
            refused_at INTEGER NOT NULL,
            left_scope INTEGER NOT NULL DEFAULT 0
        );",
        backfill: None,
    },
    // 9: the phone's own bookkeeping (the China-time day the list's clocks were last computed).
    Migration {
        sql: "
        CREATE TABLE local_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );",
        backfill: None,
    },
    // 10: the grid cells of the user's unit (接入受限), newest version per unit.
    Migration {
        sql: "
        CREATE TABLE grid_cells (
            unit TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            body TEXT NOT NULL
        );",
        backfill: None,
    },
    // 11: fee schedules (收费标准和收费依据) for the customer's guide, every version kept.
    Migration {
        sql: "
        CREATE TABLE fee_schedules (
            id TEXT NOT NULL,
            version INTEGER NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (id, version)
        );",
        backfill: None,
    },
    // 12: the agenda (meeting action items, planned power-on and outage, rented transformers'
    // removal, important-customer visits), projected with each job; the typical-design
    // catalogues and registers of firms delivered by sync, every version kept.
    Migration {
        sql: "
        CREATE TABLE agenda (
            job_id TEXT NOT NULL,
            item_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            owner TEXT,
            due_on TEXT NOT NULL,
            late_on TEXT NOT NULL,
            title TEXT NOT NULL,
            done INTEGER NOT NULL,
            PRIMARY KEY (job_id, item_id)
        );
        CREATE INDEX agenda_owner ON agenda (owner, done, due_on);
        CREATE TABLE catalogues (
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            version INTEGER NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (kind, id, version)
        );",
        backfill: Some(super::projection::rebuild_all),
    },
];

pub(crate) fn version(conn: &Connection) -> rusqlite::Result<usize> {
    conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
        .map(|v| v as usize)
}

/// Brings the database up to `target` (normally `MIGRATIONS.len()`).
pub(crate) fn migrate_to(conn: &mut Connection, target: usize) -> Result<(), super::StoreError> {
    let current = version(conn)?;
    if current > MIGRATIONS.len() {
        return Err(super::StoreError::TooNew {
            found: current,
            supported: MIGRATIONS.len(),
        });
    }
    for (i, m) in MIGRATIONS.iter().enumerate().take(target).skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql)?;
        if let Some(step) = m.backfill {
            step(&tx)?;
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
