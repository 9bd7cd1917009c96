//! `fieldline db copy`: moves an installation from one store to another (SQLite to PostgreSQL,
//! or back), table by table, in one read snapshot of the source and one write transaction of
//! the destination (all or nothing), then proves the copy: per table, the row count and a
//! digest of every row (order-independent, so the two databases' sort orders do not matter)
//! must be equal on both sides.

use crate::sql::{Row, Value};
use crate::{Result, ServerStore, StoreError};
use sha2::{Digest, Sha256};

/// The tables in an order that satisfies the foreign keys, each with its columns (as both
/// schemas name them) and its primary key. An integer key is paged by value, others by offset.
const TABLES: &[(&str, &str, &str)] = &[
    (
        "units",
        "unit, name, created_at, created_by, address, hall_hours, hotline",
        "unit",
    ),
    (
        "users",
        "id, username, password_hash, role, unit, display_name, created_at, disabled, leader",
        "id",
    ),
    (
        "devices",
        "device_id, user_id, first_seen, last_seen, public_key, actor, revoked_at",
        "device_id",
    ),
    (
        "tokens",
        "hash, user_id, device_id, created_at, expires_at, revoked_at",
        "hash",
    ),
    (
        "web_sessions",
        "hash, user_id, csrf, created_at, expires_at, revoked_at",
        "hash",
    ),
    (
        "jobs",
        "job_id, unit, kind, job_no, status, customer_name, customer_manager, project_manager, \
         next_due, sla_state, created_by, updated_at, review_state, accepted_on, address, \
         key_project, powered_on, visit_state, satisfaction, project_progress, customer_rating, \
         changes_n, \
         snapshot_n",
        "job_id",
    ),
    ("job_snapshots", "job_id, snapshot", "job_id"),
    (
        "changes",
        "seq, job_id, n, hash, bytes, origin_device",
        "seq",
    ),
    (
        "job_access",
        "job_id, username, entered_seq",
        "job_id, username",
    ),
    (
        "access_left",
        "username, pos, job_id",
        "username, pos, job_id",
    ),
    (
        "fallback_state",
        "device_id, job_id, state",
        "device_id, job_id",
    ),
    (
        "job_clocks",
        "job_id, stage, started_on, due_on, used_days, limit_days, state, paused, warning, \
         warn_rank, ended_on",
        "job_id, stage",
    ),
    (
        "supervision_orders",
        "job_id, order_id, unit, job_no, manager, manager_name, issued_by, stage, reason, \
         issued_at, due_on, answered_at, escalated_at, leaders, closed_at",
        "job_id, order_id",
    ),
    (
        "agenda_items",
        "job_id, item_id, unit, job_no, customer_name, kind, owner, due_on, late_on, title, done",
        "job_id, item_id",
    ),
    ("blobs", "sha256, bytes, stored_at", "sha256"),
    (
        "blob_ref",
        "sha256, job_id, photo_id, role, bytes, mime",
        "sha256, job_id",
    ),
    (
        "uploads",
        r#"id, username, job_id, sha256, length, "offset", created_at, updated_at, lock_holder,
           lock_until"#,
        "id",
    ),
    (
        "audit",
        "id, at, kind, username, role, device_id, job_id, change_hash, device_time, sections, \
         paths, detail",
        "id",
    ),
    (
        "reviews",
        "id, job_id, at, reviewer, outcome, comment, heads",
        "id",
    ),
    ("server_state", "key, value", "key"),
    ("login_attempts", "key, minute, count", "key, minute"),
    (
        "reference_data",
        "seq, kind, id, version, unit, effective_from, body, installed_at, installed_by",
        "seq",
    ),
    (
        "applications",
        "id, unit, state, same_key, phone_key, detail, created_at, decided_at, decided_by, \
         reason, job_id",
        "id",
    ),
    ("application_blobs", "sha256, application_id", "sha256"),
    (
        "qualifications",
        "username, title, skill, updated_at, updated_by",
        "username",
    ),
    (
        "trainings",
        "id, username, course, completed_on, certificate, recorded_at, recorded_by",
        "id",
    ),
];

/// The tables whose key is one integer column, paged by its value (the others by offset).
const INTEGER_KEYED: &[&str] = &["users", "changes", "audit", "reviews", "reference_data"];

/// Rows read per statement.
const PAGE: usize = 1000;

/// What a copy moved, table by table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// `(table, rows, digest hex)`, equal on both sides.
    pub tables: Vec<(String, u64, String)>,
}

impl CopyReport {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n, _)| n).sum()
    }
}

/// The count and order-independent digest of a table's rows.
#[derive(Default)]
struct TableDigest {
    rows: u64,
    xor: [u8; 32],
}

impl TableDigest {
    fn add(&mut self, row: &Row) {
        let mut h = Sha256::new();
        for v in &row.0 {
            match v {
                Value::Null => h.update([0]),
                Value::Int(i) => {
                    h.update([1]);
                    h.update(i.to_be_bytes());
                }
                Value::Real(f) => {
                    h.update([2]);
                    h.update(f.to_bits().to_be_bytes());
                }
                Value::Text(s) => {
                    h.update([3]);
                    h.update((s.len() as u64).to_be_bytes());
                    h.update(s.as_bytes());
                }
                Value::Blob(b) => {
                    h.update([4]);
                    h.update((b.len() as u64).to_be_bytes());
                    h.update(b);
                }
                // Rows read back never hold arrays; counted apart all the same.
                Value::List(items) => {
                    h.update([5]);
                    h.update((items.len() as u64).to_be_bytes());
                }
            }
        }
        for (x, d) in self.xor.iter_mut().zip(h.finalize()) {
            *x ^= d;
        }
        self.rows += 1;
    }

    fn hex(&self) -> String {
        hex::encode(self.xor)
    }
}

fn placeholders(columns: &str) -> String {
    (1..=columns.split(',').count())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Pages through a table of `tx`, calling `f` with each page.
fn pages(
    db: &dyn super::sql::Db,
    table: &str,
    columns: &str,
    key: &str,
    mut f: impl FnMut(Vec<Row>) -> Result<()>,
) -> Result<()> {
    let integer_key = INTEGER_KEYED.contains(&table);
    let mut after = i64::MIN;
    let mut offset = 0usize;
    loop {
        let rows = if integer_key {
            db.query(
                &format!(
                    "SELECT {columns} FROM {table} WHERE {key} > ?1 ORDER BY {key} LIMIT {PAGE}"
                ),
                &[Value::Int(after)],
            )?
        } else {
            db.query(
                &format!(
                    "SELECT {columns} FROM {table} ORDER BY {key} LIMIT {PAGE} OFFSET {offset}"
                ),
                &[],
            )?
        };
        let n = rows.len();
        if integer_key && let Some(last) = rows.last() {
            after = last.get(0)?;
        }
        offset += n;
        f(rows)?;
        if n < PAGE {
            return Ok(());
        }
    }
}

/// Copies everything of `from` into the empty store `to`, then checks both sides agree;
/// `progress` hears each table's name and rows copied so far.
pub fn copy(
    from: &dyn ServerStore,
    to: &dyn ServerStore,
    mut progress: impl FnMut(&str, u64),
) -> Result<CopyReport> {
    let source = from.read()?;
    {
        let target = to.read()?;
        let stats = target.stats()?;
        let state: i64 = target.connection().value(
            "SELECT (SELECT COUNT(*) FROM server_state) + (SELECT COUNT(*) FROM units)",
            &[],
        )?;
        if stats != super::Stats::default() || state > 0 {
            return Err(StoreError::Database(
                "目标数据库不是空的 / the destination database is not empty: copy into a new one"
                    .into(),
            ));
        }
    }
    let mut report = CopyReport::default();
    let tx = to.write()?;
    for (table, columns, key) in TABLES {
        let insert = format!(
            "INSERT INTO {table} ({columns}) VALUES ({})",
            placeholders(columns)
        );
        let mut digest = TableDigest::default();
        pages(source.connection(), table, columns, key, |rows| {
            for row in rows {
                tx.connection().execute(&insert, &row.0)?;
                digest.add(&row);
            }
            progress(table, digest.rows);
            Ok(())
        })?;
        report
            .tables
            .push((table.to_string(), digest.rows, digest.hex()));
    }
    // Identity columns continue after the copied rows (PostgreSQL; SQLite keeps count itself).
    if tx.connection().dialect() == super::sql::Dialect::Postgres {
        for (table, column) in [
            ("users", "id"),
            ("audit", "id"),
            ("reviews", "id"),
            ("reference_data", "seq"),
        ] {
            tx.connection().query(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                        COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
                ),
                &[],
            )?;
        }
        // The feed's positions continue after the copied ones (see the migration
        // `0006_feed_positions.sql`).
        tx.connection().execute(
            "UPDATE feed_origin SET
                base = GREATEST(COALESCE((SELECT MAX(seq) FROM changes), 0),
                                COALESCE((SELECT MAX(entered_seq) FROM job_access), 0),
                                COALESCE((SELECT MAX(pos) FROM access_left), 0)) + 1,
                xid0 = CAST(CAST(pg_current_xact_id() AS TEXT) AS BIGINT)",
            &[],
        )?;
    }
    tx.commit()?;
    // Read everything back from the destination and compare.
    let copied = digests(to)?;
    for ((table, rows, hex), (_, got_rows, got_hex)) in report.tables.iter().zip(&copied) {
        if got_rows != rows || got_hex != hex {
            return Err(StoreError::Database(format!(
                "复制后 {table} 不一致 / {table} differs after the copy: {rows} rows {hex} in the source, {got_rows} rows {got_hex} in the destination"
            )));
        }
    }
    Ok(report)
}

/// Every copied table's `(name, rows, digest hex)` as one read snapshot of `store` sees them:
/// what a copy (or a backup) must reproduce.
pub fn digests(store: &dyn ServerStore) -> Result<Vec<(String, u64, String)>> {
    let read = store.read()?;
    let mut out = Vec::with_capacity(TABLES.len());
    for (table, columns, key) in TABLES {
        let mut digest = TableDigest::default();
        pages(read.connection(), table, columns, key, |rows| {
            rows.iter().for_each(|r| digest.add(r));
            Ok(())
        })?;
        out.push((table.to_string(), digest.rows, digest.hex()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tables the copy leaves out on purpose: derived from the copied ones by triggers (the
    /// text search) or SQLite's own.
    fn derived(table: &str) -> bool {
        table.starts_with("sqlite_") || table.starts_with("job_text")
    }

    /// Every column of every table of the newest schema is copied (a migration that adds one
    /// must add it here, or `db copy`, backups and restores would drop it).
    #[test]
    fn the_copy_names_every_column_of_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::sqlite::SqliteStore::open(dir.path()).unwrap();
        let read = store.read().unwrap();
        let db = read.connection();
        let tables: Vec<String> = db
            .query(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get::<String>(0).unwrap())
            .filter(|t| !derived(t))
            .collect();
        let copied: Vec<&str> = TABLES.iter().map(|t| t.0).collect();
        let mut missing_tables: Vec<&String> = tables
            .iter()
            .filter(|t| !copied.contains(&t.as_str()))
            .collect();
        missing_tables.sort();
        assert!(
            missing_tables.is_empty(),
            "tables not copied: {missing_tables:?}"
        );
        for (table, columns, _) in TABLES {
            let mut schema: Vec<String> = db
                .query(
                    &format!("SELECT name FROM pragma_table_info('{table}')"),
                    &[],
                )
                .unwrap()
                .iter()
                .map(|r| r.get::<String>(0).unwrap())
                .collect();
            let mut named: Vec<String> = columns
                .split(',')
                .map(|c| c.trim().trim_matches('"').to_string())
                .collect();
            schema.sort();
            named.sort();
            assert_eq!(named, schema, "the columns of {table}");
        }
    }
}
