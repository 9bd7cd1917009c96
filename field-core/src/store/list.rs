//! Job lists with filters and keyset paging, served from the projection only.

use super::StoreError;
use crate::codes::{JobKind, JobStatus};
use crate::sla::SlaState;
use rusqlite::{Connection, ToSql, types::Value};
use serde::{Deserialize, Serialize};

/// Largest page a caller may ask for.
pub const PAGE_MAX: u32 = 500;

/// How a list is ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SortOrder {
    /// Most recently changed first.
    #[default]
    RecentlyUpdated,
    /// Earliest due date first (jobs with no running clock last).
    NextDue,
}

/// Filters for [`crate::store::Store::list_jobs`]. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct JobFilter {
    pub kind: Option<JobKind>,
    pub status: Option<JobStatus>,
    pub unit: Option<String>,
    pub customer_manager: Option<String>,
    pub project_manager: Option<String>,
    pub sla_state: Option<SlaState>,
    pub waiting: Option<bool>,
    /// Matches the job number or the customer's name (substring).
    pub text: Option<String>,
    pub order: SortOrder,
    /// Page size (default 50, at most 500).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One row of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSummary {
    pub job_id: String,
    pub job_no: String,
    pub kind: JobKind,
    pub unit: String,
    pub status: JobStatus,
    pub customer_name: String,
    pub customer_manager: Option<String>,
    pub project_manager: Option<String>,
    pub accepted_on: String,
    pub next_due: Option<String>,
    pub sla_state: Option<SlaState>,
    pub waiting: bool,
    pub conflicts: i64,
    pub updated_at_ms: i64,
    /// Set when the job needs attention: the code of the server's refusal (see
    /// `Store::refused_jobs` for the reason).
    #[serde(default)]
    pub attention: Option<String>,
}

/// A page of results; pass `next_cursor` back to get the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobPage {
    pub items: Vec<JobSummary>,
    pub next_cursor: Option<String>,
}

fn sla_from(s: &str) -> Option<SlaState> {
    [
        SlaState::Missed,
        SlaState::Overdue,
        SlaState::DueSoon,
        SlaState::OnTrack,
        SlaState::NotStarted,
        SlaState::Met,
    ]
    .into_iter()
    .find(|x| x.as_str() == s)
}

fn bad_cursor() -> StoreError {
    crate::validate::Invalid::new("cursor", "翻页标记无效", "the page cursor is invalid").into()
}

pub(super) fn list(conn: &Connection, f: &JobFilter) -> Result<JobPage, StoreError> {
    let limit = f.limit.unwrap_or(50).clamp(1, PAGE_MAX);
    let mut clauses: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    let mut eq = |col: &str, v: Option<String>| {
        if let Some(v) = v {
            args.push(Value::Text(v));
            clauses.push(format!("{col} = ?{}", args.len()));
        }
    };
    eq("kind", f.kind.map(|k| k.as_str().to_string()));
    eq("status", f.status.map(|k| k.as_str().to_string()));
    eq("unit", f.unit.clone());
    eq("customer_manager", f.customer_manager.clone());
    eq("project_manager", f.project_manager.clone());
    eq("sla_state", f.sla_state.map(|k| k.as_str().to_string()));
    if let Some(w) = f.waiting {
        args.push(Value::Integer(w as i64));
        clauses.push(format!("waiting = ?{}", args.len()));
    }
    if let Some(t) = f.text.as_ref().filter(|t| !t.is_empty()) {
        let escaped = t
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        args.push(Value::Text(format!("%{escaped}%")));
        let n = args.len();
        clauses.push(format!(
            "(job_no LIKE ?{n} ESCAPE '\\' OR customer_name LIKE ?{n} ESCAPE '\\')"
        ));
    }
    let (sort_expr, order, cmp) = match f.order {
        SortOrder::RecentlyUpdated => ("updated_at", "DESC", "<"),
        SortOrder::NextDue => ("COALESCE(next_due, '9999-12-31')", "ASC", ">"),
    };
    if let Some(c) = &f.cursor {
        let (key, id) = c.split_once('|').ok_or_else(bad_cursor)?;
        let key = match f.order {
            SortOrder::RecentlyUpdated => Value::Integer(key.parse().map_err(|_| bad_cursor())?),
            SortOrder::NextDue => Value::Text(key.to_string()),
        };
        args.push(key);
        args.push(Value::Text(id.to_string()));
        let n = args.len();
        clauses.push(format!("({sort_expr}, job_id) {cmp} (?{}, ?{n})", n - 1));
    }
    let where_sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let sql = format!(
        "SELECT job_id, job_no, kind, unit, status, customer_name, customer_manager, project_manager,
                accepted_on, next_due, sla_state, waiting, conflicts, updated_at, {sort_expr},
                (SELECT code FROM sync_refused r WHERE r.job_id = job_list.job_id)
         FROM job_list {where_sql} ORDER BY {sort_expr} {order}, job_id {order} LIMIT {}",
        limit + 1
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let params: Vec<&dyn ToSql> = args.iter().map(|a| a as &dyn ToSql).collect();
    let mut rows = stmt.query(params.as_slice())?;
    let mut items = Vec::new();
    let mut keys = Vec::new();
    while let Some(r) = rows.next()? {
        let kind: String = r.get(2)?;
        let status: String = r.get(4)?;
        let sla: Option<String> = r.get(10)?;
        items.push(JobSummary {
            job_id: r.get(0)?,
            job_no: r.get(1)?,
            kind: JobKind::parse(&kind).unwrap_or(JobKind::LowVoltageResidential),
            unit: r.get(3)?,
            status: JobStatus::parse(&status).unwrap_or(JobStatus::Accepted),
            customer_name: r.get(5)?,
            customer_manager: r.get(6)?,
            project_manager: r.get(7)?,
            accepted_on: r.get(8)?,
            next_due: r.get(9)?,
            sla_state: sla.as_deref().and_then(sla_from),
            waiting: r.get(11)?,
            conflicts: r.get(12)?,
            updated_at_ms: r.get(13)?,
            attention: r.get(15)?,
        });
        keys.push(match r.get_ref(14)? {
            rusqlite::types::ValueRef::Integer(i) => i.to_string(),
            v => v.as_str().unwrap_or_default().to_string(),
        });
    }
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        let last = items.last().expect("non-empty");
        Some(format!("{}|{}", keys[limit as usize - 1], last.job_id))
    } else {
        None
    };
    Ok(JobPage { items, next_cursor })
}
