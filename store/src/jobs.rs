//! Jobs: a job's meta, its stored document, its planned writes (change log, list row, derived rows,
//! audit, access, photo references, snapshot), office reviews and the server's own state.

use crate::Result;
use crate::audit::{AuditEntry, insert_audit};
use crate::board::{AgendaRow, StageClockRow, SupervisionRow};
use crate::conn::{Conn, Finish};
use crate::sql::{Db, Ty, Value, args, insert_rows};

/// What the server keeps about a job besides its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobMeta {
    pub job_id: String,
    pub unit: String,
    pub created_by: String,
    /// How many changes the job has (numbered 1, 2, …): the version of its document, which a
    /// write planned from it must still find ([`JobWrites::write_job`]).
    pub version: i64,
    /// How many of them its snapshot holds.
    pub snapshot_n: i64,
}

/// A job's version, next due date and worst time-limit state.
pub type JobClock = (i64, Option<String>, Option<String>);

/// A job as a write is planned from it: its meta and who may see it through an assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    pub meta: JobMeta,
    /// Users with access (managers, the creator until a customer manager is assigned), sorted.
    pub access: Vec<String>,
}

/// A change to append to a job's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChange {
    pub hash: Vec<u8>,
    pub bytes: Vec<u8>,
    /// The device that pushed it (`server` for the server's own).
    pub origin: String,
}

/// A photo file a job's document names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRefRow {
    pub sha256: String,
    pub photo_id: String,
    pub role: String,
    pub bytes: i64,
    pub mime: String,
}

/// Everything one write of a job stores, planned before the transaction from the job as it
/// stood at version `expected` (so the work that depends on a job runs beside the writes of
/// other jobs, never inside a lock they wait for). [`JobWrites::write_job`] stores it only if the
/// job is still at that version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobWrite {
    pub job_id: String,
    /// The version the write was planned from; `None`: a new job.
    pub expected: Option<i64>,
    /// The list row (lists, filters, clocks' summary).
    pub row: JobRow,
    /// The list row the job had at `expected`, as planned from it: only the columns that differ
    /// are rewritten (the clock columns and `updated_at` always), so indexes and the text
    /// search of unchanged columns are left alone. `None`: every column.
    pub previous: Option<JobRow>,
    /// The running stage clocks, when they changed.
    pub clocks: Option<Vec<StageClockRow>>,
    /// The supervision orders, when they changed.
    pub supervision: Option<Vec<SupervisionRow>>,
    /// The agenda items, when they changed.
    pub agenda: Option<Vec<AgendaRow>>,
    /// The new changes, in the document's order.
    pub changes: Vec<NewChange>,
    /// The audit entries of the write (one per change, and any other).
    pub audit: Vec<AuditEntry>,
    /// Users who gain / lose access (told at this write's feed position).
    pub grant: Vec<String>,
    pub revoke: Vec<String>,
    /// Photo files the job names for the first time.
    pub blob_refs: Vec<BlobRefRow>,
    /// The whole document, to keep as the job's snapshot (it holds every change).
    pub snapshot: Option<Vec<u8>>,
    /// Server state set where not yet set (the countersigning key's first use).
    pub state: Vec<(String, String)>,
}

/// The list row of a job (what lists and filters need).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobRow {
    pub job_id: String,
    pub unit: String,
    pub kind: String,
    pub job_no: String,
    pub status: String,
    pub customer_name: String,
    pub customer_manager: Option<String>,
    pub project_manager: Option<String>,
    pub next_due: Option<String>,
    pub sla_state: Option<String>,
    pub created_by: String,
    pub updated_at: i64,
    pub review_state: Option<String>,
    pub accepted_on: String,
    pub address: String,
    pub key_project: bool,
    /// The China-time day the job was powered on.
    pub powered_on: Option<String>,
    /// The return visit: `due`, `follow_up` or `done` (`None`: not powered on yet).
    pub visit_state: Option<String>,
    /// The return visit's satisfaction, 1–5.
    pub satisfaction: Option<i64>,
    /// The supporting project's progress, percent.
    pub project_progress: Option<f64>,
    /// The customer's own rating through their tracking link, 1–5.
    pub customer_rating: Option<i64>,
}

/// An office review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRow {
    pub id: i64,
    pub job_id: String,
    pub at: i64,
    pub reviewer: String,
    pub outcome: String,
    pub comment: String,
    /// The document heads the reviewer saw (32 bytes each).
    pub heads: Vec<u8>,
}

/// Reads of jobs: meta, documents, clocks' summary, reviews, server state.
pub trait JobReads {
    fn job_meta(&self, job_id: &str) -> Result<Option<JobMeta>>;

    /// A job's meta and access in one read (what planning a write needs).
    fn job_state(&self, job_id: &str) -> Result<Option<JobState>>;

    /// The stored document: its snapshot followed by the changes after it.
    fn job_bytes(&self, job_id: &str) -> Result<Option<Vec<u8>>>;

    /// Rows of the job's change log.
    fn job_change_count(&self, job_id: &str) -> Result<i64>;

    fn fallback_state(&self, device_id: &str, job_id: &str) -> Result<Option<Vec<u8>>>;

    /// Jobs whose list row predates a column (filled in at start).
    fn jobs_to_reproject(&self) -> Result<Vec<String>>;

    /// A value of the server's own state (e.g. the day time limits were last recomputed).
    fn state(&self, key: &str) -> Result<Option<String>>;

    /// A job's clock columns, next due date and worst state, with its version.
    fn job_clock(&self, job_id: &str) -> Result<Option<JobClock>>;

    /// Jobs with a running clock (a due date) after `after` in id order, at most `limit`.
    fn running_clocks(&self, after: &str, limit: u32) -> Result<Vec<String>>;

    fn last_review(&self, job_id: &str) -> Result<Option<ReviewRow>>;
}

/// Writes of jobs: a planned write ([`JobWrite`]) checked against its version, the daily clock
/// recomputation, reviews, server state.
pub trait JobWrites {
    /// Stores a planned write of a job if the job is still at the version it was planned from
    /// (a new job: if it does not exist yet); `false` when it moved on (nothing written: plan
    /// again). Positions in the feed are drawn by the backend (see the module's notes).
    fn write_job(&mut self, w: &JobWrite) -> Result<bool>;

    /// Rewrites a job's clocks (the daily recomputation: `updated_at` stays) if it is still at
    /// `version`; whether it was.
    fn set_job_clocks(
        &mut self,
        job_id: &str,
        version: i64,
        clock: Option<(Option<&str>, Option<&str>)>,
        stages: &[StageClockRow],
    ) -> Result<bool>;

    fn set_state(&mut self, key: &str, value: &str) -> Result<()>;

    fn save_fallback_state(&mut self, device_id: &str, job_id: &str, state: &[u8]) -> Result<()>;

    fn insert_review(&mut self, r: &ReviewRow) -> Result<i64>;
}

impl<T: Conn> JobReads for T {
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

    fn fallback_state(&self, device_id: &str, job_id: &str) -> Result<Option<Vec<u8>>> {
        self.db().opt(
            "SELECT state FROM fallback_state WHERE device_id = ?1 AND job_id = ?2",
            args![device_id, job_id],
            |r| r.get(0),
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

    fn state(&self, key: &str) -> Result<Option<String>> {
        self.db().opt(
            "SELECT value FROM server_state WHERE key = ?1",
            args![key],
            |r| r.get(0),
        )
    }

    fn job_clock(&self, job_id: &str) -> Result<Option<crate::JobClock>> {
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
}

impl<T: Conn + Finish> JobWrites for T {
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
}

/// The columns of a job's list row, in [`job_row_values`]' order.
const JOB_ROW_COLS: &str = "job_id, unit, kind, job_no, status, customer_name, customer_manager,
    project_manager, next_due, sla_state, created_by, updated_at, review_state, accepted_on,
    address, key_project, powered_on, visit_state, satisfaction, project_progress, customer_rating";

fn job_row_values(j: &crate::JobRow) -> Vec<Value> {
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
        j.customer_rating,
    ]
    .to_vec()
}

/// [`JobWrites::write_job`]: the list row first, checked against the planned version (the row's
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
                    ?17, ?18, ?19, ?20, ?21, ?22, COALESCE(?23, 0))
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
            args.push(values[22].clone());
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
    if let Some(items) = &w.agenda {
        replace_agenda(db, job_id, items)?;
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

fn replace_agenda(db: &dyn Db, job_id: &str, items: &[AgendaRow]) -> Result<()> {
    db.execute("DELETE FROM agenda_items WHERE job_id = ?1", args![job_id])?;
    insert_rows(
        db,
        "agenda_items",
        &[
            ("job_id", Ty::Text),
            ("item_id", Ty::Text),
            ("unit", Ty::Text),
            ("job_no", Ty::Text),
            ("customer_name", Ty::Text),
            ("kind", Ty::Text),
            ("owner", Ty::Text),
            ("due_on", Ty::Text),
            ("late_on", Ty::Text),
            ("title", Ty::Text),
            ("done", Ty::Int),
        ],
        items
            .iter()
            .map(|i| {
                args![
                    job_id,
                    &i.item_id,
                    &i.unit,
                    &i.job_no,
                    &i.customer_name,
                    &i.kind,
                    &i.owner,
                    &i.due_on,
                    &i.late_on,
                    &i.title,
                    i.done
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
