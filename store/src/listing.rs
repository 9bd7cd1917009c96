//! The office's job lists: filters, sorts, keyset pages and totals over the jobs' list rows.

use crate::Result;
use crate::conn::Conn;
use crate::sql::{Dialect, Value};
use serde::{Deserialize, Serialize};

/// How a job list is sorted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListSort {
    /// Most recently changed first.
    #[default]
    Updated,
    /// Earliest due date first (no running clock last).
    Due,
    /// Most recently accepted first.
    Accepted,
    /// By job number.
    JobNo,
}

/// A job list query: a scope, filters (all optional), a sort and a keyset page.
#[derive(Debug, Clone, Default)]
pub struct JobListQuery {
    /// `None`: every job (admins).
    pub unit: Option<String>,
    /// Only jobs this user is assigned to (managers).
    pub assigned_to: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    /// A review state, or `none` for jobs never reviewed or submitted.
    pub review_state: Option<String>,
    pub sla_state: Option<String>,
    pub customer_manager: Option<String>,
    pub project_manager: Option<String>,
    /// Accepted on or after / before (YYYY-MM-DD).
    pub accepted_from: Option<String>,
    pub accepted_to: Option<String>,
    /// Matched in the customer's name, the address and the job number.
    pub text: Option<String>,
    pub key_project: Option<bool>,
    pub sort: ListSort,
    /// `due`, `follow_up` or `done` (return visits).
    pub visit_state: Option<String>,
    /// Powered on on or before this day (`YYYY-MM-DD`).
    pub powered_on_until: Option<String>,
    /// The sort key and job id of the last row of the previous page.
    pub after: Option<(String, String)>,
    pub limit: u32,
}

/// One row of a job list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobListRow {
    pub job_id: String,
    pub unit: String,
    pub kind: String,
    pub job_no: String,
    pub status: String,
    pub customer_name: String,
    pub address: String,
    pub customer_manager: Option<String>,
    pub project_manager: Option<String>,
    pub next_due: Option<String>,
    pub sla_state: Option<String>,
    pub review_state: Option<String>,
    pub accepted_on: String,
    pub key_project: bool,
    pub updated_at: i64,
    pub powered_on: Option<String>,
    pub visit_state: Option<String>,
    /// The value the list is sorted by (for the next page's cursor).
    pub sort_key: String,
}

/// Totals of a job list query (paging aside): `[state, count]` pairs per kind of state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobCounts {
    pub total: i64,
    #[schema(value_type = Vec<Vec<serde_json::Value>>)]
    pub by_status: Vec<(String, i64)>,
    #[schema(value_type = Vec<Vec<serde_json::Value>>)]
    pub by_sla_state: Vec<(String, i64)>,
    #[schema(value_type = Vec<Vec<serde_json::Value>>)]
    pub by_review_state: Vec<(String, i64)>,
}

/// Reads of the office's job lists.
pub trait ListReads {
    fn list_jobs(&self, q: &JobListQuery) -> Result<Vec<JobListRow>>;

    fn count_jobs(&self, q: &JobListQuery) -> Result<JobCounts>;
}

impl<T: Conn> ListReads for T {
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
