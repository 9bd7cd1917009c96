//! The audit trail: appended, never changed; read by filters and pages.

use crate::Result;
use crate::conn::{Conn, Finish};
use crate::sql::{Db, Ty, Value, args, insert_rows};
use serde::{Deserialize, Serialize};

/// One entry of the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Assigned by the store (ignored when appending).
    pub id: i64,
    /// Server time (ms since the epoch).
    pub at: i64,
    /// `change`, `login`, `login_failed`, `token_revoked`, `push_refused`,
    /// `contract_verified`, `contract_exported`, `download`, `user_added`, `reference_installed`,
    /// `supervision_escalated`, …
    pub kind: String,
    pub username: Option<String>,
    pub role: Option<String>,
    pub device_id: Option<String>,
    pub job_id: Option<String>,
    pub change_hash: Option<String>,
    /// The device's clock when the change was made (ms).
    pub device_time: Option<i64>,
    pub sections: Vec<String>,
    pub paths: Vec<String>,
    /// Anything else (reason codes, client address, file names).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// Which audit entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub job_id: Option<String>,
    pub username: Option<String>,
    /// Server time, ms: entries at or after.
    pub since: Option<i64>,
    /// Server time, ms: entries before.
    pub until: Option<i64>,
    /// Entries about this user (what was done *to* them: the `user` an administrative entry
    /// names), beside `username` (who did it).
    pub subject: Option<String>,
    /// Entries with a larger id (paging, oldest first).
    pub after_id: Option<i64>,
    /// Entries with a smaller id, newest first (paging backwards; overrides `after_id`).
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// Reads of the audit trail.
pub trait AuditReads {
    /// How many entries the query's filters match (its paging and limit aside).
    fn audit_count(&self, q: &AuditQuery) -> Result<i64>;

    fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>>;
}

/// Appends to the audit trail.
pub trait AuditWrites {
    fn append_audit(&mut self, entry: &AuditEntry) -> Result<i64>;
}

impl<T: Conn> AuditReads for T {
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
}

impl<T: Conn + Finish> AuditWrites for T {
    fn append_audit(&mut self, e: &AuditEntry) -> Result<i64> {
        self.db().value(
            "INSERT INTO audit (at, kind, username, role, device_id, job_id, change_hash,
                device_time, sections, paths, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id",
            &audit_values(e),
        )
    }
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

pub(crate) fn insert_audit(db: &dyn Db, entries: &[AuditEntry]) -> Result<()> {
    insert_rows(
        db,
        "audit",
        &AUDIT_COLUMNS,
        entries.iter().map(audit_values).collect(),
        "",
    )?;
    Ok(())
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

fn json_list(text: String) -> Vec<String> {
    serde_json::from_str(&text).unwrap_or_default()
}
