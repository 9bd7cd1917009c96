//! The dispatch board and supervision: running stage clocks with their warnings, and supervision
//! orders (projections of the job documents, written with each job's write).

use crate::Result;
use crate::conn::Conn;
use crate::sql::{Row, Value, args};
use serde::{Deserialize, Serialize};

/// A running stage clock of a job (the dispatch board).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StageClockRow {
    pub stage: String,
    pub started_on: String,
    /// `None` while the clock runs.
    pub ended_on: Option<String>,
    pub due_on: Option<String>,
    pub used_days: i64,
    pub limit_days: i64,
    pub state: String,
    pub paused: bool,
    /// `overdue`, `due_soon`, `used_90`… (`None`: no warning).
    pub warning: Option<String>,
    pub warn_rank: i64,
}

/// What the dispatch board shows: a scope and optional filters.
#[derive(Debug, Clone, Default)]
pub struct BoardQuery {
    /// `None`: every unit (admins).
    pub unit: Option<String>,
    /// Only jobs this user is assigned to (managers).
    pub assigned_to: Option<String>,
    pub stage: Option<String>,
    pub warning: Option<String>,
    /// Customer or project manager.
    pub manager: Option<String>,
    pub key_project: Option<bool>,
    pub limit: u32,
}

/// A warning on the board: the stage clock and its job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BoardRow {
    pub job_id: String,
    pub job_no: String,
    pub unit: String,
    pub kind: String,
    pub customer_name: String,
    pub customer_manager: Option<String>,
    pub project_manager: Option<String>,
    pub key_project: bool,
    pub clock: StageClockRow,
}

/// Counts of warnings on the board.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BoardCounts {
    /// `(stage, warning, jobs)`.
    pub by_stage: Vec<(String, String, i64)>,
    /// `(customer manager or "", warning, jobs)`.
    pub by_manager: Vec<(String, String, i64)>,
}

/// A supervision order (督办) as the board lists it: a projection of the job document, written
/// with every change of the job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SupervisionRow {
    pub job_id: String,
    pub order_id: String,
    pub unit: String,
    pub job_no: String,
    pub manager: String,
    pub manager_name: String,
    pub issued_by: String,
    pub stage: Option<String>,
    pub reason: String,
    /// Milliseconds since the epoch, like every instant below.
    pub issued_at: Option<i64>,
    /// `YYYY-MM-DD`.
    pub due_on: String,
    pub answered_at: Option<i64>,
    pub escalated_at: Option<i64>,
    /// Comma-separated usernames of the leaders it escalated to.
    pub leaders: Option<String>,
    pub closed_at: Option<i64>,
}

/// An agenda item (日程) as the board lists it: a projection of the job document, written with
/// every change of the job (see `field_core::agenda`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AgendaRow {
    pub job_id: String,
    pub item_id: String,
    pub unit: String,
    pub job_no: String,
    pub customer_name: String,
    /// `action`, `power_on`, `outage`, `rental_removal`, `key_visit`.
    pub kind: String,
    pub owner: Option<String>,
    /// `YYYY-MM-DD`, like `late_on`: late once the day is after `late_on`.
    pub due_on: String,
    pub late_on: String,
    pub title: String,
    pub done: bool,
}

/// Which agenda items to list: open ones due up to a day.
#[derive(Debug, Clone, Default)]
pub struct AgendaQuery {
    /// `None`: every unit (admins).
    pub unit: Option<String>,
    /// Only items this user is to act on.
    pub owner: Option<String>,
    /// `YYYY-MM-DD`: items due up to this day.
    pub until: String,
    pub limit: u32,
}

/// Which supervision orders to list.
#[derive(Debug, Clone, Default)]
pub struct SupervisionQuery {
    /// `None`: every unit (admins).
    pub unit: Option<String>,
    /// Leave out closed orders.
    pub open_only: bool,
    pub limit: u32,
}

/// Reads of the dispatch board and supervision orders.
pub trait BoardReads {
    /// Warnings, most urgent first (then the earliest due).
    fn board_rows(&self, q: &BoardQuery) -> Result<Vec<BoardRow>>;

    /// Warnings counted by `(stage, warning)` and by `(customer manager, warning)`.
    fn board_counts(&self, q: &BoardQuery) -> Result<BoardCounts>;

    /// A job's running stage clocks.
    fn stage_clocks(&self, job_id: &str) -> Result<Vec<StageClockRow>>;

    /// Supervision orders, escalated and late first, then by deadline.
    fn supervision_orders(&self, q: &SupervisionQuery) -> Result<Vec<SupervisionRow>>;

    /// `(job_id, order_id)` of open, unanswered, not yet escalated orders due before `today`.
    fn late_orders(&self, today: &str, limit: u32) -> Result<Vec<(String, String)>>;

    /// Open agenda items due up to `q.until`, by due day.
    fn agenda_items(&self, q: &AgendaQuery) -> Result<Vec<AgendaRow>>;
}

impl<T: Conn> BoardReads for T {
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

    fn agenda_items(&self, q: &AgendaQuery) -> Result<Vec<AgendaRow>> {
        agenda_items_impl(self.db(), q)
    }
}

fn agenda_items_impl(db: &dyn crate::sql::Db, q: &AgendaQuery) -> Result<Vec<AgendaRow>> {
    db.all(
        "SELECT job_id, item_id, unit, job_no, customer_name, kind, owner, due_on, late_on, title,
            done
         FROM agenda_items
         WHERE done = 0 AND due_on <= ?1 AND (CAST(?2 AS TEXT) IS NULL OR unit = ?2)
            AND (CAST(?3 AS TEXT) IS NULL OR owner = ?3)
         ORDER BY due_on, job_no, item_id
         LIMIT ?4",
        args![&q.until, &q.unit, &q.owner, q.limit.clamp(1, 1000)],
        |r| {
            Ok(AgendaRow {
                job_id: r.get(0)?,
                item_id: r.get(1)?,
                unit: r.get(2)?,
                job_no: r.get(3)?,
                customer_name: r.get(4)?,
                kind: r.get(5)?,
                owner: r.get(6)?,
                due_on: r.get(7)?,
                late_on: r.get(8)?,
                title: r.get(9)?,
                done: r.get(10)?,
            })
        },
    )
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
