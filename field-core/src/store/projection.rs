//! The list projection (`job_list`): one row per job with what lists and filters need, written in
//! the same transaction as the document so lists never load documents.

use super::StoreError;
use crate::calendar::Calendar;
use crate::job::{Job, JobDoc, local_date};
use crate::rules::RuleBook;
use crate::sla::{TimeLimits, time_limits};
use automerge::ActorId;
use chrono::{NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, params};

/// Loads a job's document: its snapshot followed by its incremental chunks.
pub(crate) fn load_doc(
    conn: &Connection,
    job_id: &str,
    actor: ActorId,
) -> Result<Option<JobDoc>, StoreError> {
    let snapshot: Option<Vec<u8>> = conn
        .query_row(
            "SELECT snapshot FROM job_doc WHERE job_id = ?1",
            [job_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(snapshot) = snapshot else {
        return Ok(None);
    };
    let mut doc = JobDoc::load(&snapshot, actor)?;
    let mut stmt =
        conn.prepare_cached("SELECT bytes FROM job_chunk WHERE job_id = ?1 ORDER BY seq")?;
    let chunks = stmt.query_map([job_id], |r| r.get::<_, Vec<u8>>(0))?;
    for chunk in chunks {
        doc.load_incremental(&chunk?)?;
    }
    Ok(Some(doc))
}

/// Writes the projection of `job`: its list row and its agenda items.
pub(crate) fn write(
    conn: &Connection,
    job: &Job,
    limits: &TimeLimits,
    updated_at_ms: i64,
) -> Result<(), StoreError> {
    write_row(conn, job, limits, updated_at_ms)?;
    write_agenda(conn, job)
}

/// Replaces the agenda items of `job` (action items, planned power-on and outage, the rented
/// transformer's removal, the next important-customer visit).
fn write_agenda(conn: &Connection, job: &Job) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM agenda WHERE job_id = ?1")?
        .execute([&job.id])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO agenda (job_id, item_id, kind, owner, due_on, late_on, title, done)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for item in crate::agenda::agenda(job) {
        insert.execute(params![
            job.id,
            item.item_id,
            item.kind.as_str(),
            item.owner,
            item.due_on.to_string(),
            item.late_on.to_string(),
            item.title,
            item.done,
        ])?;
    }
    Ok(())
}

fn write_row(
    conn: &Connection,
    job: &Job,
    limits: &TimeLimits,
    updated_at_ms: i64,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO job_list (job_id, job_no, kind, unit, status, customer_name, customer_manager,
            project_manager, accepted_on, next_due, sla_state, waiting, conflicts, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT (job_id) DO UPDATE SET job_no = excluded.job_no, kind = excluded.kind,
            unit = excluded.unit, status = excluded.status, customer_name = excluded.customer_name,
            customer_manager = excluded.customer_manager, project_manager = excluded.project_manager,
            accepted_on = excluded.accepted_on, next_due = excluded.next_due,
            sla_state = excluded.sla_state, waiting = excluded.waiting,
            conflicts = excluded.conflicts, updated_at = excluded.updated_at",
    )?;
    stmt.execute(params![
        job.id,
        job.job_no,
        job.kind.as_str(),
        job.unit,
        job.status().as_str(),
        job.customer.name.clone().unwrap_or_default(),
        job.assignment.customer_manager,
        job.assignment.project_manager,
        job.accepted_on().to_string(),
        limits.next_due().map(|d| d.to_string()),
        limits.worst().map(|s| s.as_str()),
        job.waiting(),
        job.conflicts.len() as i64,
        updated_at_ms,
    ])?;
    Ok(())
}

/// Computes the time limits the projection stores.
pub(crate) fn limits_for(
    job: &Job,
    rules: &RuleBook,
    cal: &Calendar,
    today: NaiveDate,
) -> TimeLimits {
    time_limits(job, rules.for_job(job), cal, today)
}

/// Re-projects every stored job (after an upgrade, or when rules or the calendar change).
pub(crate) fn rebuild_all(conn: &Connection) -> Result<(), StoreError> {
    rebuild_with(conn, &RuleBook::default(), &Calendar::embedded())
}

pub(crate) fn rebuild_with(
    conn: &Connection,
    rules: &RuleBook,
    cal: &Calendar,
) -> Result<(), StoreError> {
    // Jobs that left this user's scope stay hidden (the table exists from migration 7 on).
    let has_table = |name: &str| -> Result<bool, StoreError> {
        Ok(conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |_| Ok(true),
            )
            .optional()?
            .unwrap_or(false))
    };
    let has_refused = has_table("sync_refused")?;
    // An upgrade re-projects at several steps; the agenda exists from migration 12 on.
    let has_agenda = has_table("agenda")?;
    let sql = if has_refused {
        "SELECT job_id FROM job_doc WHERE job_id NOT IN
            (SELECT job_id FROM sync_refused WHERE left_scope = 1) ORDER BY job_id"
    } else {
        "SELECT job_id FROM job_doc ORDER BY job_id"
    };
    let ids: Vec<String> = conn
        .prepare(sql)?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let today = local_date(Utc::now());
    let now_ms = Utc::now().timestamp_millis();
    for id in ids {
        let Some(doc) = load_doc(conn, &id, ActorId::random())? else {
            continue;
        };
        let job = doc.read()?;
        let limits = limits_for(&job, rules, cal, today);
        if has_agenda {
            write(conn, &job, &limits, now_ms)?;
        } else {
            write_row(conn, &job, &limits, now_ms)?;
        }
    }
    Ok(())
}
