//! Every SQL statement of the server, grouped by concept, written once for both stores (see
//! [`super::sql`]). Reads are implemented for any transaction guard that has a connection;
//! writes for the write guards.

use super::sql::{Db, Dialect, Row, Ty, Value, args, insert_rows};
use crate::store::{
    AssessmentQuery, AuditEntry, AuditQuery, BoardCounts, BoardQuery, BoardRow, DeviceRow,
    FeedChange, JobCounts, JobListQuery, JobListRow, JobMeta, ListSort, ManagerStats, NewUser,
    PoweredJob, ProjectClock, ReadTx, ReferenceRow, Result, ReviewRow, Scope, SessionRow,
    StageClockRow, Stats, TokenRow, UploadRow, UserRow, WriteTx,
};
use crate::store::{
    DeviceSummary, JobState, JobWrite, SessionSummary, SupervisionQuery, SupervisionRow,
    UserChange, UserSummary,
};

/// Access to the connection of a transaction guard.
pub(crate) trait Conn {
    fn db(&self) -> &dyn Db;

    /// Where the feed's positions come from. `None`: drawn as rows are inserted (SQLite: one
    /// writer, so positions commit in order). `Some(first)`: the transaction reserves `k`
    /// ordinals from `first` on, turned into positions by `fieldline_feed_position`
    /// (PostgreSQL: from the transaction's id, see the migration `0006_feed_positions.sql`).
    fn feed_ordinals(&self, _k: usize) -> Result<Option<i64>> {
        Ok(None)
    }

    /// Tests only: the feed's horizon ignores transactions still running (the rule broken).
    fn unsafe_horizon(&self) -> bool {
        false
    }

    /// Notes that the transaction is about to add to the feed: from here to its end it holds a
    /// lock other writers may wait for (SQLite's one writer; PostgreSQL: the job's row).
    fn fed(&self) {}
}

/// How a write guard ends.
pub(crate) trait Finish {
    fn savepoint(&mut self) -> Result<Box<dyn WriteTx + '_>>;
    fn commit(self: Box<Self>) -> Result<()>;
}

fn user_row(r: &Row, at: usize) -> Result<UserRow> {
    Ok(UserRow {
        id: r.get(at)?,
        username: r.get(at + 1)?,
        password_hash: r.get(at + 2)?,
        role: r.get(at + 3)?,
        unit: r.get(at + 4)?,
        display_name: r.get(at + 5)?,
        disabled: r.get(at + 6)?,
    })
}

const USER_COLS: &str =
    "u.id, u.username, u.password_hash, u.role, u.unit, u.display_name, u.disabled";

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

fn json_list(text: String) -> Vec<String> {
    serde_json::from_str(&text).unwrap_or_default()
}

/// The FROM and WHERE clauses and arguments of a job list query (paging aside). Every `{}` of a
/// clause stands for its one argument. A text search drives the query from its matches.
fn list_filter(q: &JobListQuery, dialect: Dialect) -> (String, Vec<String>, Vec<Value>) {
    let mut clauses = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    let mut push = |clause: &str, v: Value, clauses: &mut Vec<String>| {
        args.push(v);
        clauses.push(clause.replace("{}", &format!("?{}", args.len())));
    };
    let text = |s: &Option<String>| s.as_ref().filter(|v| !v.is_empty()).cloned();
    if let Some(u) = text(&q.unit) {
        push("j.unit = {}", Value::Text(u), &mut clauses);
    }
    if let Some(u) = text(&q.assigned_to) {
        push(
            "j.job_id IN (SELECT a.job_id FROM job_access a WHERE a.username = {})",
            Value::Text(u),
            &mut clauses,
        );
    }
    for (col, v) in [
        ("j.kind", &q.kind),
        ("j.status", &q.status),
        ("j.sla_state", &q.sla_state),
        ("j.customer_manager", &q.customer_manager),
        ("j.project_manager", &q.project_manager),
    ] {
        if let Some(v) = text(v) {
            push(&format!("{col} = {{}}"), Value::Text(v), &mut clauses);
        }
    }
    match text(&q.review_state).as_deref() {
        None => {}
        Some("none") => clauses.push("j.review_state IS NULL".into()),
        Some(v) => push("j.review_state = {}", Value::Text(v.into()), &mut clauses),
    }
    if let Some(v) = text(&q.accepted_from) {
        push("j.accepted_on >= {}", Value::Text(v), &mut clauses);
    }
    if let Some(v) = text(&q.accepted_to) {
        push("j.accepted_on <= {}", Value::Text(v), &mut clauses);
    }
    if let Some(k) = q.key_project {
        push("j.key_project = {}", Value::from(k), &mut clauses);
    }
    if let Some(v) = text(&q.visit_state) {
        push("j.visit_state = {}", Value::Text(v), &mut clauses);
    }
    if let Some(v) = text(&q.powered_on_until) {
        push("j.powered_on <= {}", Value::Text(v), &mut clauses);
    }
    let mut from = "jobs j".to_string();
    if let Some(t) = text(&q.text) {
        let special = t.contains(['\\', '%', '_']);
        let escaped = t
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let matches = match dialect {
            // Three characters or more without wildcards: the trigram index finds the matches.
            // Shorter text (a two-character name) or text with LIKE's wildcards in it: a scan of
            // the narrow search rows.
            Dialect::Sqlite if !special && t.chars().count() >= 3 => {
                "SELECT t.job_id FROM job_text_index x CROSS JOIN job_text t \
                 WHERE x.text LIKE {} AND t.id = x.rowid"
            }
            Dialect::Sqlite => "SELECT t.job_id FROM job_text t WHERE t.text LIKE {} ESCAPE '\\'",
            // The same expression as the trigram index of the PostgreSQL schema.
            Dialect::Postgres => {
                "SELECT t.job_id FROM jobs t \
                 WHERE lower(t.job_no || ' ' || t.customer_name || ' ' || t.address) \
                 LIKE lower({}) ESCAPE '\\'"
            }
        };
        args.push(Value::Text(format!("%{escaped}%")));
        from = format!(
            "({}) m CROSS JOIN jobs j",
            matches.replace("{}", &format!("?{}", args.len()))
        );
        clauses.push("j.job_id = m.job_id".into());
    }
    (from, clauses, args)
}

/// The WHERE clause and arguments of a board query (warnings only).
fn board_filter(q: &BoardQuery) -> (String, Vec<Value>) {
    let mut clauses = vec!["c.warning IS NOT NULL".to_string()];
    let mut args: Vec<Value> = Vec::new();
    let mut push = |clause: &str, v: Value| {
        args.push(v);
        clauses.push(clause.replace("{}", &format!("?{}", args.len())));
    };
    let text = |s: &Option<String>| s.as_ref().filter(|v| !v.is_empty()).cloned();
    if let Some(u) = text(&q.unit) {
        push("j.unit = {}", Value::Text(u));
    }
    if let Some(u) = text(&q.assigned_to) {
        push(
            "j.job_id IN (SELECT a.job_id FROM job_access a WHERE a.username = {})",
            Value::Text(u),
        );
    }
    if let Some(v) = text(&q.stage) {
        push("c.stage = {}", Value::Text(v));
    }
    if let Some(v) = text(&q.warning) {
        push("c.warning = {}", Value::Text(v));
    }
    if let Some(v) = text(&q.manager) {
        push(
            "(j.customer_manager = {} OR j.project_manager = {})",
            Value::Text(v),
        );
    }
    if let Some(k) = q.key_project {
        push("j.key_project = {}", Value::from(k));
    }
    (format!("WHERE {}", clauses.join(" AND ")), args)
}

const CLOCK_COLS: &str = "c.stage, c.started_on, c.due_on, c.used_days, c.limit_days, c.state, \
     c.paused, c.warning, c.warn_rank, c.ended_on";

const REFERENCE_COLS: &str =
    "seq, kind, id, version, unit, effective_from, body, installed_at, installed_by";

fn reference_row(r: &Row) -> Result<ReferenceRow> {
    Ok(ReferenceRow {
        seq: r.get(0)?,
        kind: r.get(1)?,
        id: r.get(2)?,
        version: r.get(3)?,
        unit: r.get(4)?,
        effective_from: r.get(5)?,
        body: r.get(6)?,
        installed_at: r.get(7)?,
        installed_by: r.get(8)?,
    })
}

fn clock_row(r: &Row, at: usize) -> Result<StageClockRow> {
    Ok(StageClockRow {
        stage: r.get(at)?,
        started_on: r.get(at + 1)?,
        due_on: r.get(at + 2)?,
        used_days: r.get(at + 3)?,
        limit_days: r.get(at + 4)?,
        state: r.get(at + 5)?,
        paused: r.get(at + 6)?,
        warning: r.get(at + 7)?,
        warn_rank: r.get(at + 8)?,
        ended_on: r.get(at + 9)?,
    })
}

/// The sort expression, direction and keyset comparison of a list sort.
fn list_sort(sort: ListSort) -> (&'static str, &'static str, &'static str) {
    match sort {
        ListSort::Updated => ("CAST(j.updated_at AS TEXT)", "DESC", "<"),
        ListSort::Due => ("COALESCE(j.next_due, '9999-12-31')", "ASC", ">"),
        ListSort::Accepted => ("j.accepted_on", "DESC", "<"),
        ListSort::JobNo => ("j.job_no", "ASC", ">"),
    }
}

const LIST_COLS: &str = "j.job_id, j.unit, j.kind, j.job_no, j.status, j.customer_name, j.address,
    j.customer_manager, j.project_manager, j.next_due, j.sla_state, j.review_state,
    j.accepted_on, j.key_project, j.updated_at, j.powered_on, j.visit_state";

impl<T: Conn> ReadTx for T {
    fn user_by_name(&self, username: &str) -> Result<Option<UserRow>> {
        self.db().opt(
            &format!("SELECT {USER_COLS} FROM users u WHERE u.username = ?1"),
            args![username],
            |r| user_row(r, 0),
        )
    }

    fn device_revoked(&self, device_id: &str) -> Result<Option<Option<i64>>> {
        self.db().opt(
            "SELECT revoked_at FROM devices WHERE device_id = ?1",
            args![device_id],
            |r| r.get(0),
        )
    }

    fn device(&self, device_id: &str) -> Result<Option<DeviceRow>> {
        self.db().opt(
            "SELECT device_id, user_id, last_seen, public_key, actor FROM devices
             WHERE device_id = ?1",
            args![device_id],
            |r| {
                Ok(DeviceRow {
                    device_id: r.get(0)?,
                    user_id: r.get(1)?,
                    last_seen: r.get(2)?,
                    public_key: r.get(3)?,
                    actor: r.get(4)?,
                })
            },
        )
    }

    fn token(&self, hash: &[u8]) -> Result<Option<TokenRow>> {
        self.db().opt(
            &format!(
                "SELECT {USER_COLS}, t.device_id, d.actor, t.expires_at,
                    CASE WHEN t.revoked_at IS NULL THEN 0 ELSE 1 END
                 FROM tokens t JOIN users u ON u.id = t.user_id
                 LEFT JOIN devices d ON d.device_id = t.device_id
                 WHERE t.hash = ?1"
            ),
            args![hash],
            |r| {
                Ok(TokenRow {
                    user: user_row(r, 0)?,
                    device_id: r.get(7)?,
                    device_actor: r.get(8)?,
                    expires_at: r.get(9)?,
                    revoked: r.get(10)?,
                })
            },
        )
    }

    fn job_meta(&self, job_id: &str) -> Result<Option<JobMeta>> {
        self.db().opt(
            "SELECT job_id, unit, created_by, changes_n, snapshot_n FROM jobs WHERE job_id = ?1",
            args![job_id],
            |r| {
                Ok(JobMeta {
                    job_id: r.get(0)?,
                    unit: r.get(1)?,
                    created_by: r.get(2)?,
                    version: r.get(3)?,
                    snapshot_n: r.get(4)?,
                })
            },
        )
    }

    fn job_state(&self, job_id: &str) -> Result<Option<JobState>> {
        let rows = self.db().query(
            "SELECT j.job_id, j.unit, j.created_by, j.changes_n, j.snapshot_n, a.username
             FROM jobs j LEFT JOIN job_access a ON a.job_id = j.job_id
             WHERE j.job_id = ?1 ORDER BY a.username",
            args![job_id],
        )?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let meta = JobMeta {
            job_id: first.get(0)?,
            unit: first.get(1)?,
            created_by: first.get(2)?,
            version: first.get(3)?,
            snapshot_n: first.get(4)?,
        };
        let mut access = Vec::new();
        for r in &rows {
            if let Some(user) = r.get::<Option<String>>(5)? {
                access.push(user);
            }
        }
        Ok(Some(JobState { meta, access }))
    }

    fn job_bytes(&self, job_id: &str) -> Result<Option<Vec<u8>>> {
        let db = self.db();
        let row: Option<(Option<Vec<u8>>, i64)> = db.opt(
            "SELECT s.snapshot, j.snapshot_n FROM jobs j
             LEFT JOIN job_snapshots s ON s.job_id = j.job_id WHERE j.job_id = ?1",
            args![job_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let Some((snapshot, snapshot_n)) = row else {
            return Ok(None);
        };
        let mut bytes = snapshot.unwrap_or_default();
        for mut row in db.query(
            "SELECT bytes FROM changes WHERE job_id = ?1 AND n > ?2 ORDER BY n",
            args![job_id, snapshot_n],
        )? {
            if let Value::Blob(chunk) = row.take(0) {
                bytes.extend(chunk);
            }
        }
        Ok(Some(bytes))
    }

    fn job_change_count(&self, job_id: &str) -> Result<i64> {
        self.db().value(
            "SELECT COUNT(*) FROM changes WHERE job_id = ?1",
            args![job_id],
        )
    }

    fn max_seq(&self) -> Result<i64> {
        let db = self.db();
        match db.dialect() {
            Dialect::Sqlite => db.value("SELECT COALESCE(MAX(seq), 0) FROM changes", args![]),
            Dialect::Postgres if self.unsafe_horizon() => {
                db.value("SELECT COALESCE(MAX(seq), 0) FROM changes", args![])
            }
            // Below every transaction still running (the module's notes).
            Dialect::Postgres => db.value("SELECT fieldline_feed_horizon()", args![]),
        }
    }

    fn fallback_state(&self, device_id: &str, job_id: &str) -> Result<Option<Vec<u8>>> {
        self.db().opt(
            "SELECT state FROM fallback_state WHERE device_id = ?1 AND job_id = ?2",
            args![device_id, job_id],
            |r| r.get(0),
        )
    }

    fn feed_changes(
        &self,
        scope: Scope,
        device_id: &str,
        cursor: i64,
        upto: i64,
        limit: u32,
    ) -> Result<Vec<FeedChange>> {
        let (sql, key) = feed_query(scope, "c.bytes");
        let rows = self
            .db()
            .query(&sql, args![cursor, device_id, key, limit, upto])?;
        rows.into_iter()
            .map(|mut r| {
                Ok(FeedChange {
                    seq: r.get(0)?,
                    job_id: r.get(1)?,
                    bytes: match r.take(2) {
                        Value::Blob(b) => b,
                        _ => Vec::new(),
                    },
                })
            })
            .collect()
    }

    fn feed_sizes(
        &self,
        scope: Scope,
        device_id: &str,
        cursor: i64,
        upto: i64,
        limit: u32,
    ) -> Result<Vec<(i64, i64)>> {
        let (sql, key) = feed_query(scope, "CAST(length(c.bytes) AS BIGINT)");
        self.db()
            .all(&sql, args![cursor, device_id, key, limit, upto], |r| {
                Ok((r.get(0)?, r.get(2)?))
            })
    }

    fn job_history_bytes(&self, job_id: &str, upto: i64) -> Result<i64> {
        self.db().value(
            "SELECT CAST(COALESCE(SUM(length(bytes)), 0) AS BIGINT) FROM changes
             WHERE job_id = ?1 AND seq <= ?2",
            args![job_id, upto],
        )
    }

    fn entered_jobs(&self, username: &str, from: i64, to: i64) -> Result<Vec<(String, i64)>> {
        self.db().all(
            "SELECT job_id, entered_seq FROM job_access
             WHERE username = ?1 AND entered_seq > ?2 AND entered_seq <= ?3",
            args![username, from, to],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    fn left_jobs(&self, username: &str, from: i64, to: i64) -> Result<Vec<String>> {
        self.db().column(
            "SELECT DISTINCT l.job_id FROM access_left l
             WHERE l.username = ?1 AND l.pos > ?2 AND l.pos <= ?3
               AND NOT EXISTS (SELECT 1 FROM job_access a
                               WHERE a.job_id = l.job_id AND a.username = l.username)
             ORDER BY l.job_id",
            args![username, from, to],
        )
    }

    fn job_changes_upto(&self, job_id: &str, upto: i64) -> Result<Vec<(i64, Vec<u8>)>> {
        let rows = self.db().query(
            "SELECT seq, bytes FROM changes WHERE job_id = ?1 AND seq <= ?2 ORDER BY seq",
            args![job_id, upto],
        )?;
        rows.into_iter()
            .map(|mut r| {
                let bytes = match r.take(1) {
                    Value::Blob(b) => b,
                    _ => Vec::new(),
                };
                Ok((r.get(0)?, bytes))
            })
            .collect()
    }

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

    fn blobs_named(&self, shas: &[&str]) -> Result<Vec<crate::store::BlobNamed>> {
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
        let mut out: Vec<crate::store::BlobNamed> = Vec::new();
        for r in &rows {
            let sha: String = r.get(0)?;
            if out.last().is_none_or(|b| b.sha256 != sha) {
                out.push(crate::store::BlobNamed {
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

    fn audit_count(&self, q: &AuditQuery) -> Result<i64> {
        self.db().value(
            &format!(
                "SELECT COUNT(*) FROM audit WHERE {AUDIT_FILTER}
                   AND CAST(?4 AS BIGINT) IS NOT NULL AND CAST(?5 AS BIGINT) IS NOT NULL"
            ),
            args![
                &q.job_id,
                &q.username,
                q.since,
                0i64,
                0i64,
                q.until,
                subject_pattern(q)
            ],
        )
    }

    fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let columns = format!(
            "SELECT id, at, kind, username, role, device_id, job_id, change_hash,
                    device_time, sections, paths, detail
             FROM audit WHERE {AUDIT_FILTER}"
        );
        let (sql, cursor) = match q.before_id {
            Some(before) => (
                format!("{columns} AND id < ?4 ORDER BY id DESC LIMIT ?5"),
                before,
            ),
            None => (
                format!("{columns} AND id > ?4 ORDER BY id LIMIT ?5"),
                q.after_id.unwrap_or(0),
            ),
        };
        self.db().all(
            &sql,
            args![
                &q.job_id,
                &q.username,
                q.since,
                cursor,
                q.limit.max(1),
                q.until,
                subject_pattern(q)
            ],
            |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    kind: r.get(2)?,
                    username: r.get(3)?,
                    role: r.get(4)?,
                    device_id: r.get(5)?,
                    job_id: r.get(6)?,
                    change_hash: r.get(7)?,
                    device_time: r.get(8)?,
                    sections: json_list(r.get(9)?),
                    paths: json_list(r.get(10)?),
                    detail: serde_json::from_str(&r.get::<String>(11)?).unwrap_or_default(),
                })
            },
        )
    }

    fn reference_data(&self, kind: Option<&str>) -> Result<Vec<ReferenceRow>> {
        self.db().all(
            &format!(
                "SELECT {REFERENCE_COLS} FROM reference_data
                 WHERE (CAST(?1 AS TEXT) IS NULL OR kind = ?1) ORDER BY seq"
            ),
            args![kind],
            reference_row,
        )
    }

    fn reference_after(&self, after: i64, unit: &str, limit: u32) -> Result<Vec<ReferenceRow>> {
        self.db().all(
            &format!(
                "SELECT {REFERENCE_COLS} FROM reference_data
                 WHERE seq > ?1 AND (unit IS NULL OR unit = ?2) ORDER BY seq LIMIT ?3"
            ),
            args![after, unit, limit],
            reference_row,
        )
    }

    fn max_reference_seq(&self) -> Result<i64> {
        self.db()
            .value("SELECT COALESCE(MAX(seq), 0) FROM reference_data", args![])
    }

    fn list_jobs(&self, q: &JobListQuery) -> Result<Vec<JobListRow>> {
        let db = self.db();
        let (from, mut clauses, mut args) = list_filter(q, db.dialect());
        let (expr, dir, cmp) = list_sort(q.sort);
        // Updated sorts numerically: compare the number, not its text.
        let (key_expr, key_cmp_expr) = match q.sort {
            ListSort::Updated => (expr, "j.updated_at"),
            _ => (expr, expr),
        };
        if let Some((key, id)) = &q.after {
            let key = match q.sort {
                ListSort::Updated => Value::Int(key.parse().unwrap_or(0)),
                _ => Value::Text(key.clone()),
            };
            args.push(key);
            args.push(Value::Text(id.clone()));
            let n = args.len();
            clauses.push(format!(
                "({key_cmp_expr}, j.job_id) {cmp} (?{}, ?{n})",
                n - 1
            ));
        }
        let where_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let sql = format!(
            "SELECT {LIST_COLS}, {key_expr} FROM {from} {where_sql}
             ORDER BY {key_cmp_expr} {dir}, j.job_id {dir} LIMIT {}",
            q.limit.clamp(1, 1000)
        );
        db.all(&sql, &args, |r| {
            Ok(JobListRow {
                job_id: r.get(0)?,
                unit: r.get(1)?,
                kind: r.get(2)?,
                job_no: r.get(3)?,
                status: r.get(4)?,
                customer_name: r.get(5)?,
                address: r.get(6)?,
                customer_manager: r.get(7)?,
                project_manager: r.get(8)?,
                next_due: r.get(9)?,
                sla_state: r.get(10)?,
                review_state: r.get(11)?,
                accepted_on: r.get(12)?,
                key_project: r.get(13)?,
                updated_at: r.get(14)?,
                powered_on: r.get(15)?,
                visit_state: r.get(16)?,
                sort_key: r.get(17)?,
            })
        })
    }

    fn count_jobs(&self, q: &JobListQuery) -> Result<JobCounts> {
        let db = self.db();
        let (from, clauses, args) = list_filter(q, db.dialect());
        let where_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        // Grouped by the bare columns, in the order of the covering index (no sort).
        let sql = format!(
            "SELECT j.status, j.sla_state, j.review_state, COUNT(*)
             FROM {from} {where_sql} GROUP BY j.status, j.sla_state, j.review_state"
        );
        let rows = db.all(&sql, &args, |r| {
            Ok((
                r.get::<String>(0)?,
                r.get::<Option<String>>(1)?.unwrap_or_default(),
                r.get::<Option<String>>(2)?.unwrap_or_else(|| "none".into()),
                r.get::<i64>(3)?,
            ))
        })?;
        let mut counts = JobCounts::default();
        let add = |list: &mut Vec<(String, i64)>, k: &str, n: i64| match list
            .iter_mut()
            .find(|(key, _)| key == k)
        {
            Some((_, c)) => *c += n,
            None => list.push((k.to_string(), n)),
        };
        for (status, sla, review, n) in rows {
            counts.total += n;
            add(&mut counts.by_status, &status, n);
            if !sla.is_empty() {
                add(&mut counts.by_sla_state, &sla, n);
            }
            add(&mut counts.by_review_state, &review, n);
        }
        Ok(counts)
    }

    fn board_rows(&self, q: &BoardQuery) -> Result<Vec<BoardRow>> {
        let db = self.db();
        let (where_sql, args) = board_filter(q);
        let sql = format!(
            "SELECT j.job_id, j.job_no, j.unit, j.kind, j.customer_name, j.customer_manager,
                    j.project_manager, j.key_project, {CLOCK_COLS}
             FROM job_clocks c {} JOIN jobs j ON j.job_id = c.job_id
             {where_sql}
             ORDER BY c.warn_rank DESC, c.due_on, j.job_id LIMIT {}",
            db.dialect().indexed_by("job_clocks_warning"),
            q.limit.clamp(1, 1000)
        );
        db.all(&sql, &args, |r| {
            Ok(BoardRow {
                job_id: r.get(0)?,
                job_no: r.get(1)?,
                unit: r.get(2)?,
                kind: r.get(3)?,
                customer_name: r.get(4)?,
                customer_manager: r.get(5)?,
                project_manager: r.get(6)?,
                key_project: r.get(7)?,
                clock: clock_row(r, 8)?,
            })
        })
    }

    fn board_counts(&self, q: &BoardQuery) -> Result<BoardCounts> {
        let (where_sql, args) = board_filter(q);
        let count = |group: &str| -> Result<Vec<(String, String, i64)>> {
            let sql = format!(
                "SELECT COALESCE({group}, ''), c.warning, COUNT(*)
                 FROM job_clocks c JOIN jobs j ON j.job_id = c.job_id {where_sql}
                 GROUP BY 1, 2 ORDER BY 1, 2"
            );
            self.db()
                .all(&sql, &args, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        };
        Ok(BoardCounts {
            by_stage: count("c.stage")?,
            by_manager: count("j.customer_manager")?,
        })
    }

    fn powered_jobs(&self, q: &AssessmentQuery) -> Result<Vec<PoweredJob>> {
        self.db().all(
            "SELECT kind, customer_manager, accepted_on, powered_on, satisfaction FROM jobs
             WHERE (CAST(?1 AS TEXT) IS NULL OR unit = ?1) AND powered_on >= ?2
               AND powered_on <= ?3",
            args![&q.unit, &q.from, &q.to],
            |r| {
                Ok(PoweredJob {
                    kind: r.get(0)?,
                    customer_manager: r.get(1)?,
                    accepted_on: r.get(2)?,
                    powered_on: r.get(3)?,
                    satisfaction: r.get(4)?,
                })
            },
        )
    }

    fn stage_outcomes(&self, q: &AssessmentQuery) -> Result<Vec<(String, String, String, i64)>> {
        self.db().all(
            "SELECT c.stage, COALESCE(j.customer_manager, ''), c.state, COUNT(*)
             FROM job_clocks c JOIN jobs j ON j.job_id = c.job_id
             WHERE c.ended_on >= ?2 AND c.ended_on <= ?3
               AND (CAST(?1 AS TEXT) IS NULL OR j.unit = ?1)
             GROUP BY 1, 2, 3",
            args![&q.unit, &q.from, &q.to],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
    }

    fn running_projects(&self, q: &AssessmentQuery) -> Result<Vec<ProjectClock>> {
        self.db().all(
            "SELECT j.project_manager, c.state, j.project_progress
             FROM job_clocks c JOIN jobs j ON j.job_id = c.job_id
             WHERE c.stage = 'supporting_works' AND c.ended_on IS NULL
               AND (CAST(?1 AS TEXT) IS NULL OR j.unit = ?1)",
            args![&q.unit],
            |r| {
                Ok(ProjectClock {
                    project_manager: r.get(0)?,
                    state: r.get(1)?,
                    progress: r.get(2)?,
                })
            },
        )
    }

    fn manager_stats(&self, unit: &str) -> Result<Vec<ManagerStats>> {
        self.db().all(
            "SELECT customer_manager, COUNT(*),
                    CAST(SUM(CASE WHEN status IN ('powered_on', 'closed') THEN 0 ELSE 1 END)
                        AS BIGINT),
                    CAST(AVG(satisfaction) AS DOUBLE PRECISION), COUNT(satisfaction)
             FROM jobs WHERE unit = ?1 AND customer_manager IS NOT NULL
             GROUP BY customer_manager",
            args![unit],
            |r| {
                Ok(ManagerStats {
                    username: r.get(0)?,
                    handled: r.get(1)?,
                    open: r.get(2)?,
                    satisfaction: r.get(3)?,
                    visits: r.get(4)?,
                })
            },
        )
    }

    fn user_list(&self, unit: Option<&str>) -> Result<Vec<UserSummary>> {
        self.db().all(
            "SELECT username, display_name, role, unit, disabled, created_at, leader FROM users
             WHERE (CAST(?1 AS TEXT) IS NULL OR unit = ?1) ORDER BY unit, role, username",
            args![unit],
            |r| {
                Ok(UserSummary {
                    username: r.get(0)?,
                    display_name: r.get(1)?,
                    role: r.get(2)?,
                    unit: r.get(3)?,
                    disabled: r.get(4)?,
                    created_at: r.get(5)?,
                    leader: r.get(6)?,
                })
            },
        )
    }

    fn user_devices(&self, user_id: i64, now: i64) -> Result<Vec<DeviceSummary>> {
        self.db().all(
            "SELECT d.device_id, d.first_seen, d.last_seen,
                    (SELECT COUNT(*) FROM tokens t WHERE t.device_id = d.device_id
                        AND t.user_id = d.user_id AND t.revoked_at IS NULL AND t.expires_at > ?2),
                    d.revoked_at
             FROM devices d WHERE d.user_id = ?1 ORDER BY d.last_seen DESC, d.device_id",
            args![user_id, now],
            |r| {
                Ok(DeviceSummary {
                    device_id: r.get(0)?,
                    first_seen: r.get(1)?,
                    last_seen: r.get(2)?,
                    active_tokens: r.get(3)?,
                    revoked_at: r.get(4)?,
                })
            },
        )
    }

    fn user_sessions(&self, user_id: i64, now: i64) -> Result<Vec<SessionSummary>> {
        self.db().all(
            "SELECT hash, created_at, expires_at FROM web_sessions
             WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2
             ORDER BY created_at DESC",
            args![user_id, now],
            |r| {
                let hash: Vec<u8> = r.get(0)?;
                Ok(SessionSummary {
                    id: hex::encode(hash),
                    created_at: r.get(1)?,
                    expires_at: r.get(2)?,
                })
            },
        )
    }

    fn units(&self) -> Result<Vec<(String, String)>> {
        self.db()
            .all("SELECT unit, name FROM units ORDER BY unit", args![], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
    }

    fn missing_blobs(&self, job_id: &str) -> Result<Vec<String>> {
        self.db().column(
            "SELECT DISTINCT r.sha256 FROM blob_ref r WHERE r.job_id = ?1
                AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = r.sha256)
             ORDER BY r.sha256",
            args![job_id],
        )
    }

    fn unit_name(&self, unit: &str) -> Result<Option<String>> {
        self.db()
            .opt("SELECT name FROM units WHERE unit = ?1", args![unit], |r| {
                r.get(0)
            })
    }

    fn stage_clocks(&self, job_id: &str) -> Result<Vec<StageClockRow>> {
        self.db().all(
            &format!(
                "SELECT {CLOCK_COLS} FROM job_clocks c WHERE c.job_id = ?1 ORDER BY c.started_on"
            ),
            args![job_id],
            |r| clock_row(r, 0),
        )
    }

    fn supervision_orders(&self, q: &SupervisionQuery) -> Result<Vec<SupervisionRow>> {
        self.db().all(
            "SELECT job_id, order_id, unit, job_no, manager, manager_name, issued_by, stage, reason,
                issued_at, due_on, answered_at, escalated_at, leaders, closed_at
             FROM supervision_orders
             WHERE (CAST(?1 AS TEXT) IS NULL OR unit = ?1) AND (?2 = 0 OR closed_at IS NULL)
             ORDER BY closed_at IS NOT NULL, escalated_at IS NULL, answered_at IS NOT NULL,
                due_on, job_no, order_id
             LIMIT ?3",
            args![&q.unit, q.open_only, q.limit],
            |r| {
                Ok(SupervisionRow {
                    job_id: r.get(0)?,
                    order_id: r.get(1)?,
                    unit: r.get(2)?,
                    job_no: r.get(3)?,
                    manager: r.get(4)?,
                    manager_name: r.get(5)?,
                    issued_by: r.get(6)?,
                    stage: r.get(7)?,
                    reason: r.get(8)?,
                    issued_at: r.get(9)?,
                    due_on: r.get(10)?,
                    answered_at: r.get(11)?,
                    escalated_at: r.get(12)?,
                    leaders: r.get(13)?,
                    closed_at: r.get(14)?,
                })
            },
        )
    }

    fn late_orders(&self, today: &str, limit: u32) -> Result<Vec<(String, String)>> {
        let db = self.db();
        db.all(
            &format!(
                "SELECT job_id, order_id FROM supervision_orders {}
                 WHERE closed_at IS NULL AND answered_at IS NULL AND escalated_at IS NULL
                    AND due_on < ?1
                 ORDER BY due_on, job_id, order_id LIMIT ?2",
                db.dialect().indexed_by("supervision_late")
            ),
            args![today, limit],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    fn unit_leaders(&self, unit: &str) -> Result<Vec<(String, String)>> {
        self.db().all(
            "SELECT username, display_name FROM users
             WHERE unit = ?1 AND leader = 1 AND disabled = 0 ORDER BY username",
            args![unit],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    fn state(&self, key: &str) -> Result<Option<String>> {
        self.db().opt(
            "SELECT value FROM server_state WHERE key = ?1",
            args![key],
            |r| r.get(0),
        )
    }

    fn job_clock(&self, job_id: &str) -> Result<Option<crate::store::JobClock>> {
        self.db().opt(
            "SELECT changes_n, next_due, sla_state FROM jobs WHERE job_id = ?1",
            args![job_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    }

    fn running_clocks(&self, after: &str, limit: u32) -> Result<Vec<String>> {
        let db = self.db();
        db.column(
            &format!(
                "SELECT job_id FROM jobs {}
                 WHERE next_due IS NOT NULL AND job_id > ?1 ORDER BY job_id LIMIT ?2",
                db.dialect().indexed_by("jobs_running_clock")
            ),
            args![after, limit.max(1)],
        )
    }

    fn jobs_to_reproject(&self) -> Result<Vec<String>> {
        self.db().column(
            "SELECT job_id FROM jobs j WHERE accepted_on = ''
                OR (powered_on IS NULL AND status IN ('powered_on', 'closed'))
                OR NOT EXISTS (SELECT 1 FROM job_clocks c WHERE c.job_id = j.job_id)
             ORDER BY job_id",
            args![],
        )
    }

    fn users_of(&self, unit: Option<&str>) -> Result<Vec<(String, String, String)>> {
        self.db().all(
            "SELECT username, display_name, role FROM users
             WHERE (CAST(?1 AS TEXT) IS NULL OR unit = ?1) AND disabled = 0
             ORDER BY role, username",
            args![unit],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    }

    fn user_ids(&self, unit: &str) -> Result<Vec<(String, i64)>> {
        self.db().all(
            "SELECT username, id FROM users WHERE unit = ?1 AND disabled = 0",
            args![unit],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    fn actor_devices(&self, actors: &[String]) -> Result<Vec<(String, String, String, String)>> {
        let mut out = Vec::new();
        for actor in actors {
            if let Some(row) = self.db().opt(
                "SELECT d.actor, d.device_id, u.username, u.display_name
                 FROM devices d JOIN users u ON u.id = d.user_id WHERE d.actor = ?1",
                args![actor],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )? {
                out.push(row);
            }
        }
        Ok(out)
    }

    fn web_session(&self, hash: &[u8]) -> Result<Option<SessionRow>> {
        self.db().opt(
            &format!(
                "SELECT {USER_COLS}, s.csrf, s.expires_at,
                    CASE WHEN s.revoked_at IS NULL THEN 0 ELSE 1 END
                 FROM web_sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ?1"
            ),
            args![hash],
            |r| {
                Ok(SessionRow {
                    user: user_row(r, 0)?,
                    csrf: r.get(7)?,
                    expires_at: r.get(8)?,
                    revoked: r.get(9)?,
                })
            },
        )
    }

    fn last_review(&self, job_id: &str) -> Result<Option<ReviewRow>> {
        self.db().opt(
            "SELECT id, job_id, at, reviewer, outcome, comment, heads FROM reviews
             WHERE job_id = ?1 ORDER BY id DESC LIMIT 1",
            args![job_id],
            |r| {
                Ok(ReviewRow {
                    id: r.get(0)?,
                    job_id: r.get(1)?,
                    at: r.get(2)?,
                    reviewer: r.get(3)?,
                    outcome: r.get(4)?,
                    comment: r.get(5)?,
                    heads: r.get(6)?,
                })
            },
        )
    }

    fn stats(&self) -> Result<Stats> {
        let row = self.db().opt(
            "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM devices),
                    (SELECT COUNT(*) FROM jobs), (SELECT COUNT(*) FROM changes),
                    (SELECT COUNT(*) FROM blobs), (SELECT COUNT(*) FROM uploads),
                    (SELECT COUNT(*) FROM audit)",
            args![],
            |r| {
                Ok(Stats {
                    users: r.get(0)?,
                    devices: r.get(1)?,
                    jobs: r.get(2)?,
                    changes: r.get(3)?,
                    blobs: r.get(4)?,
                    uploads: r.get(5)?,
                    audit: r.get(6)?,
                })
            },
        )?;
        Ok(row.unwrap_or_default())
    }

    fn connection(&self) -> &dyn Db {
        self.db()
    }
}

impl<T: Conn + Finish> WriteTx for T {
    fn savepoint(&mut self) -> Result<Box<dyn WriteTx + '_>> {
        Finish::savepoint(self)
    }

    fn commit(self: Box<Self>) -> Result<()> {
        Finish::commit(self)
    }

    fn insert_user(&mut self, u: &NewUser) -> Result<Option<i64>> {
        self.db().opt(
            "INSERT INTO users (username, password_hash, role, unit, display_name, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING RETURNING id",
            args![
                u.username,
                u.password_hash,
                u.role,
                u.unit,
                u.display_name,
                u.created_at
            ],
            |r| r.get(0),
        )
    }

    fn insert_unit(&mut self, unit: &str, name: &str, at: i64, by: &str) -> Result<bool> {
        Ok(self.db().execute(
            "INSERT INTO units (unit, name, created_at, created_by) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
            args![unit, name, at, by],
        )? == 1)
    }

    fn upsert_device(&mut self, d: &DeviceRow) -> Result<()> {
        // A device keeps the first key and actor it registered.
        self.db().execute(
            "INSERT INTO devices (device_id, user_id, first_seen, last_seen, public_key, actor)
             VALUES (?1, ?2, ?3, ?3, ?4, ?5)
             ON CONFLICT (device_id) DO UPDATE SET last_seen = excluded.last_seen,
                public_key = COALESCE(devices.public_key, excluded.public_key),
                actor = COALESCE(devices.actor, excluded.actor)",
            args![
                &d.device_id,
                d.user_id,
                d.last_seen,
                &d.public_key,
                &d.actor
            ],
        )?;
        Ok(())
    }

    fn insert_token(
        &mut self,
        hash: &[u8],
        user_id: i64,
        device_id: &str,
        created_at: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.db().execute(
            "INSERT INTO tokens (hash, user_id, device_id, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            args![hash, user_id, device_id, created_at, expires_at],
        )?;
        Ok(())
    }

    fn set_device_revoked(&mut self, device_id: &str, at: Option<i64>) -> Result<bool> {
        Ok(self.db().execute(
            "UPDATE devices SET revoked_at = ?2 WHERE device_id = ?1",
            args![device_id, at],
        )? > 0)
    }

    fn revoke_device_tokens(&mut self, device_id: &str, at: i64) -> Result<usize> {
        Ok(self.db().execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE device_id = ?1 AND revoked_at IS NULL",
            args![device_id, at],
        )? as usize)
    }

    fn end_user_credentials(&mut self, user_id: i64, at: i64) -> Result<(usize, usize)> {
        let tokens = self.db().execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
            args![user_id, at],
        )? as usize;
        let sessions = self.db().execute(
            "UPDATE web_sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
            args![user_id, at],
        )? as usize;
        Ok((tokens, sessions))
    }

    fn end_user_session(&mut self, user_id: i64, hash: &[u8], at: i64) -> Result<bool> {
        Ok(self.db().execute(
            "UPDATE web_sessions SET revoked_at = ?3
             WHERE user_id = ?1 AND hash = ?2 AND revoked_at IS NULL",
            args![user_id, hash, at],
        )? > 0)
    }

    fn update_user(&mut self, username: &str, c: &UserChange) -> Result<bool> {
        let n = self.db().execute(
            "UPDATE users SET disabled = COALESCE(?2, disabled),
                password_hash = COALESCE(?3, password_hash), role = COALESCE(?4, role),
                unit = COALESCE(?5, unit), leader = COALESCE(?6, leader)
             WHERE username = ?1",
            args![
                username,
                c.disabled,
                &c.password_hash,
                &c.role,
                &c.unit,
                c.leader
            ],
        )?;
        Ok(n == 1)
    }

    fn write_job(&mut self, w: &JobWrite) -> Result<bool> {
        write_job(self, w)
    }

    fn set_job_clocks(
        &mut self,
        job_id: &str,
        version: i64,
        clock: Option<(Option<&str>, Option<&str>)>,
        stages: &[StageClockRow],
    ) -> Result<bool> {
        let db = self.db();
        // Also when nothing changes: the row is locked, so the clocks below are this version's.
        let (due, state) = clock.unwrap_or((None, None));
        let found = db.execute(
            "UPDATE jobs SET next_due = CASE WHEN ?4 = 1 THEN ?2 ELSE next_due END,
                sla_state = CASE WHEN ?4 = 1 THEN ?3 ELSE sla_state END
             WHERE job_id = ?1 AND changes_n = ?5",
            args![job_id, due, state, clock.is_some(), version],
        )?;
        if found != 1 {
            return Ok(false);
        }
        replace_clocks(db, job_id, stages)?;
        Ok(true)
    }

    fn set_state(&mut self, key: &str, value: &str) -> Result<()> {
        self.db().execute(
            "INSERT INTO server_state (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            args![key, value],
        )?;
        Ok(())
    }

    fn save_fallback_state(&mut self, device_id: &str, job_id: &str, state: &[u8]) -> Result<()> {
        self.db().execute(
            "INSERT INTO fallback_state (device_id, job_id, state) VALUES (?1, ?2, ?3)
             ON CONFLICT (device_id, job_id) DO UPDATE SET state = excluded.state",
            args![device_id, job_id, state],
        )?;
        Ok(())
    }

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

    fn append_audit(&mut self, e: &AuditEntry) -> Result<i64> {
        self.db().value(
            "INSERT INTO audit (at, kind, username, role, device_id, job_id, change_hash,
                device_time, sections, paths, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id",
            &audit_values(e),
        )
    }

    fn insert_web_session(
        &mut self,
        hash: &[u8],
        user_id: i64,
        csrf: &str,
        created_at: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.db().execute(
            "INSERT INTO web_sessions (hash, user_id, csrf, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            args![hash, user_id, csrf, created_at, expires_at],
        )?;
        Ok(())
    }

    fn revoke_web_session(&mut self, hash: &[u8], at: i64) -> Result<()> {
        self.db().execute(
            "UPDATE web_sessions SET revoked_at = ?2 WHERE hash = ?1 AND revoked_at IS NULL",
            args![hash, at],
        )?;
        Ok(())
    }

    fn insert_review(&mut self, r: &ReviewRow) -> Result<i64> {
        self.db().value(
            "INSERT INTO reviews (job_id, at, reviewer, outcome, comment, heads)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
            args![
                &r.job_id,
                r.at,
                &r.reviewer,
                &r.outcome,
                &r.comment,
                &r.heads
            ],
        )
    }

    fn count_login_attempt(&mut self, key: &str, minute: i64) -> Result<i64> {
        self.db().value(
            "INSERT INTO login_attempts (key, minute, count) VALUES (?1, ?2, 1)
             ON CONFLICT (key, minute) DO UPDATE SET count = login_attempts.count + 1
             RETURNING count",
            args![key, minute],
        )
    }

    fn login_attempts(&mut self, key: &str, minute: i64) -> Result<i64> {
        Ok(self
            .db()
            .opt(
                "SELECT count FROM login_attempts WHERE key = ?1 AND minute = ?2",
                args![key, minute],
                |r| r.get(0),
            )?
            .unwrap_or(0))
    }

    fn prune_login_attempts(&mut self, minute: i64) -> Result<usize> {
        Ok(self.db().execute(
            "DELETE FROM login_attempts WHERE minute < ?1",
            args![minute],
        )? as usize)
    }

    fn insert_reference(&mut self, r: &ReferenceRow) -> Result<i64> {
        let db = self.db();
        db.execute(
            "DELETE FROM reference_data WHERE kind = ?1 AND id = ?2 AND version = ?3",
            args![&r.kind, &r.id, r.version],
        )?;
        db.value(
            "INSERT INTO reference_data (kind, id, version, unit, effective_from, body,
                installed_at, installed_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING seq",
            args![
                &r.kind,
                &r.id,
                r.version,
                &r.unit,
                &r.effective_from,
                &r.body,
                r.installed_at,
                &r.installed_by
            ],
        )
    }
}

/// The columns of a job's list row, in [`job_row_values`]' order.
const JOB_ROW_COLS: &str = "job_id, unit, kind, job_no, status, customer_name, customer_manager,
    project_manager, next_due, sla_state, created_by, updated_at, review_state, accepted_on,
    address, key_project, powered_on, visit_state, satisfaction, project_progress";

fn job_row_values(j: &crate::store::JobRow) -> Vec<Value> {
    args![
        &j.job_id,
        &j.unit,
        &j.kind,
        &j.job_no,
        &j.status,
        &j.customer_name,
        &j.customer_manager,
        &j.project_manager,
        &j.next_due,
        &j.sla_state,
        &j.created_by,
        j.updated_at,
        &j.review_state,
        &j.accepted_on,
        &j.address,
        j.key_project,
        &j.powered_on,
        &j.visit_state,
        j.satisfaction,
        j.project_progress,
    ]
    .to_vec()
}

/// [`WriteTx::write_job`]: the list row first, checked against the planned version (the row's
/// lock then keeps other writers of this job out until the commit), then one statement per
/// table that changed.
fn write_job<T: Conn + ?Sized>(tx: &T, w: &JobWrite) -> Result<bool> {
    let db = tx.db();
    if !w.changes.is_empty() {
        tx.fed();
    }
    let version = w.expected.unwrap_or(0) + w.changes.len() as i64;
    let mut values = job_row_values(&w.row);
    values.push(Value::Int(version));
    values.push(
        w.snapshot
            .as_ref()
            .map_or(Value::Null, |_| Value::Int(version)),
    );
    let found = match w.expected {
        None => db.execute(
            &format!(
                "INSERT INTO jobs ({JOB_ROW_COLS}, changes_n, snapshot_n)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                    ?17, ?18, ?19, ?20, ?21, COALESCE(?22, 0))
                 ON CONFLICT (job_id) DO NOTHING"
            ),
            &values,
        )?,
        Some(expected) => {
            // The unit and the creator never change (columns 2 and 11 of the row); of the
            // others, those the planned row changes, and always the clock columns (the daily
            // recomputation moves them) and the time.
            let names: Vec<&str> = JOB_ROW_COLS.split(',').map(str::trim).collect();
            let old = w.previous.as_ref().map(job_row_values);
            let mut sets = Vec::new();
            let mut args = vec![values[0].clone()];
            for (i, name) in names.iter().enumerate() {
                let always = matches!(
                    *name,
                    "next_due" | "sla_state" | "updated_at" | "visit_state"
                );
                if matches!(*name, "job_id" | "unit" | "created_by")
                    || (!always && old.as_ref().is_some_and(|o| o[i] == values[i]))
                {
                    continue;
                }
                args.push(values[i].clone());
                sets.push(format!("{name} = ?{}", args.len()));
            }
            args.push(Value::Int(version));
            sets.push(format!("changes_n = ?{}", args.len()));
            args.push(values[21].clone());
            sets.push(format!(
                "snapshot_n = COALESCE(?{}, snapshot_n)",
                args.len()
            ));
            args.push(Value::Int(expected));
            db.execute(
                &format!(
                    "UPDATE jobs SET {} WHERE job_id = ?1 AND changes_n = ?{}",
                    sets.join(", "),
                    args.len()
                ),
                &args,
            )?
        }
    };
    if found != 1 {
        return Ok(false);
    }
    let job_id = w.job_id.as_str();
    let first = w.expected.unwrap_or(0);
    let moves = w.grant.len() + w.revoke.len();
    // One position for the changes each, and one for every access move of the write.
    let ordinals = tx.feed_ordinals(w.changes.len() + usize::from(moves > 0))?;
    let mut columns = vec![
        ("job_id", Ty::Text),
        ("n", Ty::Int),
        ("hash", Ty::Blob),
        ("bytes", Ty::Blob),
        ("origin_device", Ty::Text),
    ];
    if ordinals.is_some() {
        columns.push(("seq", Ty::Position));
    }
    insert_rows(
        db,
        "changes",
        &columns,
        w.changes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut row =
                    args![job_id, first + 1 + i as i64, &c.hash, &c.bytes, &c.origin].to_vec();
                if let Some(o) = ordinals {
                    row.push(Value::Int(o + i as i64));
                }
                row
            })
            .collect(),
        "",
    )?;
    if let Some(snapshot) = &w.snapshot {
        db.execute(
            "INSERT INTO job_snapshots (job_id, snapshot) VALUES (?1, ?2)
             ON CONFLICT (job_id) DO UPDATE SET snapshot = excluded.snapshot",
            args![job_id, snapshot],
        )?;
    }
    if let Some(clocks) = &w.clocks {
        replace_clocks(db, job_id, clocks)?;
    }
    if let Some(orders) = &w.supervision {
        replace_supervision(db, job_id, orders)?;
    }
    insert_rows(
        db,
        "blob_ref",
        &[
            ("sha256", Ty::Text),
            ("job_id", Ty::Text),
            ("photo_id", Ty::Text),
            ("role", Ty::Text),
            ("bytes", Ty::Int),
            ("mime", Ty::Text),
        ],
        w.blob_refs
            .iter()
            .map(|b| args![&b.sha256, job_id, &b.photo_id, &b.role, b.bytes, &b.mime].to_vec())
            .collect(),
        "ON CONFLICT DO NOTHING",
    )?;
    insert_audit(db, &w.audit)?;
    for user in &w.revoke {
        db.execute(
            "DELETE FROM job_access WHERE job_id = ?1 AND username = ?2",
            args![job_id, user],
        )?;
    }
    if moves > 0 {
        // Access moves at the write's newest feed position (SQLite: the changes above have
        // theirs already; PostgreSQL: the ordinals after them).
        let pos = match ordinals {
            Some(o) => Value::Int(o + w.changes.len() as i64),
            None => Value::Int(db.value("SELECT COALESCE(MAX(seq), 0) FROM changes", args![])?),
        };
        let at = match ordinals {
            Some(_) => "fieldline_feed_position(?2)",
            None => "?2",
        };
        for user in &w.revoke {
            db.execute(
                &format!(
                    "INSERT INTO access_left (username, pos, job_id) VALUES (?1, {at}, ?3)
                     ON CONFLICT DO NOTHING"
                ),
                &[Value::from(user), pos.clone(), Value::from(job_id)],
            )?;
        }
        for user in &w.grant {
            db.execute(
                &format!(
                    "INSERT INTO job_access (job_id, username, entered_seq) VALUES (?3, ?1, {at})
                     ON CONFLICT DO NOTHING"
                ),
                &[Value::from(user), pos.clone(), Value::from(job_id)],
            )?;
        }
    }
    for (key, value) in &w.state {
        db.execute(
            "INSERT INTO server_state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
            args![key, value],
        )?;
    }
    Ok(true)
}

fn replace_clocks(db: &dyn Db, job_id: &str, clocks: &[StageClockRow]) -> Result<()> {
    db.execute("DELETE FROM job_clocks WHERE job_id = ?1", args![job_id])?;
    insert_rows(
        db,
        "job_clocks",
        &[
            ("job_id", Ty::Text),
            ("stage", Ty::Text),
            ("started_on", Ty::Text),
            ("due_on", Ty::Text),
            ("used_days", Ty::Int),
            ("limit_days", Ty::Int),
            ("state", Ty::Text),
            ("paused", Ty::Int),
            ("warning", Ty::Text),
            ("warn_rank", Ty::Int),
            ("ended_on", Ty::Text),
        ],
        clocks
            .iter()
            .map(|c| {
                args![
                    job_id,
                    &c.stage,
                    &c.started_on,
                    &c.due_on,
                    c.used_days,
                    c.limit_days,
                    &c.state,
                    c.paused,
                    &c.warning,
                    c.warn_rank,
                    &c.ended_on
                ]
                .to_vec()
            })
            .collect(),
        "",
    )?;
    Ok(())
}

fn replace_supervision(db: &dyn Db, job_id: &str, orders: &[SupervisionRow]) -> Result<()> {
    db.execute(
        "DELETE FROM supervision_orders WHERE job_id = ?1",
        args![job_id],
    )?;
    insert_rows(
        db,
        "supervision_orders",
        &[
            ("job_id", Ty::Text),
            ("order_id", Ty::Text),
            ("unit", Ty::Text),
            ("job_no", Ty::Text),
            ("manager", Ty::Text),
            ("manager_name", Ty::Text),
            ("issued_by", Ty::Text),
            ("stage", Ty::Text),
            ("reason", Ty::Text),
            ("issued_at", Ty::Int),
            ("due_on", Ty::Text),
            ("answered_at", Ty::Int),
            ("escalated_at", Ty::Int),
            ("leaders", Ty::Text),
            ("closed_at", Ty::Int),
        ],
        orders
            .iter()
            .map(|o| {
                args![
                    job_id,
                    &o.order_id,
                    &o.unit,
                    &o.job_no,
                    &o.manager,
                    &o.manager_name,
                    &o.issued_by,
                    &o.stage,
                    &o.reason,
                    o.issued_at,
                    &o.due_on,
                    o.answered_at,
                    o.escalated_at,
                    &o.leaders,
                    o.closed_at
                ]
                .to_vec()
            })
            .collect(),
        "",
    )?;
    Ok(())
}

fn audit_values(e: &AuditEntry) -> Vec<Value> {
    args![
        e.at,
        &e.kind,
        &e.username,
        &e.role,
        &e.device_id,
        &e.job_id,
        &e.change_hash,
        e.device_time,
        serde_json::to_string(&e.sections).expect("json"),
        serde_json::to_string(&e.paths).expect("json"),
        if e.detail.is_null() {
            "{}".to_string()
        } else {
            e.detail.to_string()
        },
    ]
    .to_vec()
}

const AUDIT_COLUMNS: [(&str, Ty); 11] = [
    ("at", Ty::Int),
    ("kind", Ty::Text),
    ("username", Ty::Text),
    ("role", Ty::Text),
    ("device_id", Ty::Text),
    ("job_id", Ty::Text),
    ("change_hash", Ty::Text),
    ("device_time", Ty::Int),
    ("sections", Ty::Text),
    ("paths", Ty::Text),
    ("detail", Ty::Text),
];

fn insert_audit(db: &dyn Db, entries: &[AuditEntry]) -> Result<()> {
    insert_rows(
        db,
        "audit",
        &AUDIT_COLUMNS,
        entries.iter().map(audit_values).collect(),
        "",
    )?;
    Ok(())
}

/// The feed's query for `scope` selecting `seq`, `job_id` and `what` (the bytes, or their
/// length), with its scope key: changes after `?1` up to `?5`, not pushed by device `?2`, at
/// most `?4`.
fn feed_query(scope: Scope, what: &str) -> (String, String) {
    let (from_where, key) = match scope {
        Scope::All => (
            "FROM changes c WHERE c.seq > ?1 AND c.seq <= ?5 AND c.origin_device != ?2
               AND CAST(?3 AS TEXT) = ''",
            String::new(),
        ),
        Scope::Unit(unit) => (
            "FROM changes c JOIN jobs j ON j.job_id = c.job_id
             WHERE c.seq > ?1 AND c.seq <= ?5 AND c.origin_device != ?2 AND j.unit = ?3",
            unit.to_string(),
        ),
        Scope::User(user) => (
            "FROM changes c JOIN job_access a ON a.job_id = c.job_id
             WHERE c.seq > ?1 AND c.seq <= ?5 AND c.origin_device != ?2 AND a.username = ?3",
            user.to_string(),
        ),
    };
    (
        format!("SELECT c.seq, c.job_id, {what} {from_where} ORDER BY c.seq LIMIT ?4"),
        key,
    )
}

/// The audit filters (`?1` job, `?2` who did it, `?3` since, `?6` until, `?7` whom it was done
/// to); `?4` and `?5` are the caller's cursor and limit.
const AUDIT_FILTER: &str = "(CAST(?1 AS TEXT) IS NULL OR job_id = ?1)
               AND (CAST(?2 AS TEXT) IS NULL OR username = ?2)
               AND (CAST(?3 AS BIGINT) IS NULL OR at >= ?3)
               AND (CAST(?6 AS BIGINT) IS NULL OR at < ?6)
               AND (CAST(?7 AS TEXT) IS NULL OR detail LIKE ?7 ESCAPE '\\')";

/// The `LIKE` pattern finding entries whose detail names `subject` as the user acted on (the
/// detail is compact JSON: `"user":"name"`), with `LIKE`'s wildcards escaped.
fn subject_pattern(q: &AuditQuery) -> Option<String> {
    q.subject.as_ref().map(|s| {
        let json = serde_json::to_string(s).unwrap_or_default();
        let escaped = json
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%\"user\":{escaped}%")
    })
}
