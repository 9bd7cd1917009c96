//! The dispatch board (调度台): running stage clocks that raise a time-limit warning (时限预警:
//! overdue, due within the rule set's days, or a share of the limit used), counted per stage
//! and per manager, and listed most urgent first. For dispatchers, office staff and admins.

use super::Env;
use crate::authz::Principal;
use crate::error::ServerError;
use crate::store::{
    AgendaQuery, AgendaRow, BoardCounts, BoardQuery, BoardRow, JobListQuery, JobListRow, ListSort,
    SupervisionQuery, SupervisionRow,
};
use field_core::Role;
use field_core::sla::Stage;
use serde::{Deserialize, Serialize};

/// Most warnings one page lists.
pub const ROWS_MAX: u32 = 300;
/// The board's agenda looks this many days ahead.
pub const AGENDA_DAYS: u64 = 14;

/// Filters as they come from a URL (empty: any).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BoardFilter {
    /// A stage code (`handover`, `supply_plan_reply`…).
    pub stage: String,
    /// `overdue`, `due_soon` or `used_<percent>`.
    pub warning: String,
    /// A customer or project manager (user name).
    pub manager: String,
    /// `1`: key projects only.
    pub key: String,
}

impl BoardFilter {
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        [
            ("stage", self.stage.as_str()),
            ("warning", &self.warning),
            ("manager", &self.manager),
            ("key", &self.key),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect()
    }
}

/// The board for a caller.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Board {
    pub rows: Vec<BoardRow>,
    pub counts: BoardCounts,
    /// The warning levels in use, most urgent first (columns of the counts).
    pub levels: Vec<String>,
    /// Powered on at least the rule set's days ago, not visited yet (待回访), oldest first.
    pub visits_due: Vec<JobListRow>,
    /// Visits scored low whose follow-up is not recorded (低分跟进).
    pub follow_ups: Vec<JobListRow>,
    /// Days after power-on a visit falls due.
    pub visit_after_days: u32,
    /// Open supervision orders (督办): escalated first, then late, then by deadline.
    pub supervision: Vec<SupervisionRow>,
    /// The day the board was drawn for (China time, `YYYY-MM-DD`).
    pub today: String,
    /// Online applications not started the same working day (seed 000), oldest first.
    pub late_applications: Vec<LateApplication>,
    /// Open agenda items due within [`AGENDA_DAYS`] (meeting action items, planned power-on and
    /// outages by date, rented transformers to remove, important-customer visits), late first.
    pub agenda: Vec<BoardAgendaItem>,
}

/// An agenda item with where it stands today.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BoardAgendaItem {
    #[serde(flatten)]
    pub item: AgendaRow,
    /// `late`, `due_soon` or `upcoming`.
    pub state: String,
}

/// Open agenda items of `q`, each with its state on `today`, late first then by day.
pub fn agenda(
    tx: &dyn crate::store::ReadTx,
    q: &AgendaQuery,
    today: chrono::NaiveDate,
) -> Result<Vec<BoardAgendaItem>, ServerError> {
    let day = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    let mut items: Vec<BoardAgendaItem> = tx
        .agenda_items(q)?
        .into_iter()
        .filter_map(|item| {
            let state =
                field_core::agenda::state(day(&item.due_on)?, day(&item.late_on)?, false, today);
            Some(BoardAgendaItem {
                state: state.as_str().to_string(),
                item,
            })
        })
        .collect();
    items.sort_by_key(|i| i.state != "late");
    Ok(items)
}

/// An online application still waiting at the counter after the working day it was filed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LateApplication {
    pub id: String,
    pub number: String,
    pub unit: String,
    /// When it was filed (China time, `YYYY-MM-DD HH:MM`).
    pub filed_at: String,
    pub applicant: String,
}

/// Who may see the board.
pub fn may_see(who: &Principal) -> bool {
    matches!(who.role, Role::Dispatcher | Role::OfficeStaff | Role::Admin)
}

fn valid_warning(w: &str) -> bool {
    matches!(w, "overdue" | "due_soon")
        || w.strip_prefix("used_")
            .and_then(|p| p.parse::<u32>().ok())
            .is_some_and(|p| (1..=100).contains(&p))
}

/// The board `filter` selects for `who`.
pub fn board(env: &Env, who: &Principal, filter: &BoardFilter) -> Result<Board, ServerError> {
    if !may_see(who) {
        return Err(ServerError::forbidden(
            format!("{}无权查看调度台", who.role.zh()),
            format!("a {} may not see the dispatch board", who.role.en()),
        ));
    }
    let text = |s: &str| Some(s.trim().to_string()).filter(|v| !v.is_empty());
    if !filter.stage.is_empty() && Stage::parse(&filter.stage).is_none() {
        return Err(ServerError::bad(
            "bad_filter",
            "未知的环节",
            "unknown stage",
        ));
    }
    if filter.manager.chars().count() > 64 {
        return Err(ServerError::bad(
            "bad_filter",
            "经理用户名最多 64 个字符",
            "a manager's user name is at most 64 characters",
        ));
    }
    if !filter.warning.is_empty() && !valid_warning(&filter.warning) {
        return Err(ServerError::bad(
            "bad_filter",
            "未知的预警级别",
            "unknown warning level",
        ));
    }
    let q = BoardQuery {
        unit: (who.role != Role::Admin).then(|| who.unit.clone()),
        assigned_to: None,
        stage: text(&filter.stage),
        warning: text(&filter.warning),
        manager: text(&filter.manager),
        key_project: (filter.key == "1").then_some(true),
        limit: ROWS_MAX,
    };
    let tx = env.store.read()?;
    let rows = tx.board_rows(&q)?;
    let counts = tx.board_counts(&q)?;
    let mut levels = vec!["overdue".to_string(), "due_soon".to_string()];
    let mut percents = env
        .rules()
        .in_force(&who.unit, today())
        .thresholds
        .warn_percent
        .clone();
    percents.sort_unstable_by(|a, b| b.cmp(a));
    levels.extend(percents.iter().map(|p| format!("used_{p}")));
    // Levels a unit's older rule set still raised stay visible.
    for (_, w, _) in counts.by_stage.iter() {
        if !levels.contains(w) {
            levels.push(w.clone());
        }
    }
    let book = env.rules();
    let thresholds = &book.in_force(&who.unit, today()).thresholds;
    let visit_after_days = thresholds.return_visit_after_days;
    let visits = |state: &str, until: Option<String>| -> Result<Vec<JobListRow>, ServerError> {
        let mut rows = tx.list_jobs(&JobListQuery {
            unit: q.unit.clone(),
            customer_manager: q.manager.clone(),
            key_project: q.key_project,
            visit_state: Some(state.to_string()),
            powered_on_until: until,
            sort: ListSort::Accepted,
            limit: ROWS_MAX,
            ..Default::default()
        })?;
        rows.sort_by(|a, b| a.powered_on.cmp(&b.powered_on));
        Ok(rows)
    };
    let due_by = today() - chrono::Duration::days(i64::from(visit_after_days));
    let visits_due = visits("due", Some(due_by.to_string()))?;
    let follow_ups = visits("follow_up", None)?;
    let mut supervision = tx.supervision_orders(&SupervisionQuery {
        unit: q.unit.clone(),
        open_only: true,
        limit: ROWS_MAX,
    })?;
    if let Some(m) = &q.manager {
        supervision.retain(|o| &o.manager == m);
    }
    let agenda = agenda(
        &*tx,
        &AgendaQuery {
            unit: q.unit.clone(),
            owner: q.manager.clone(),
            until: (today() + chrono::Days::new(AGENDA_DAYS)).to_string(),
            limit: ROWS_MAX,
        },
        today(),
    )?;
    drop(tx);
    let units = q.unit.clone().map(|u| vec![u]);
    let late_applications = super::applications::late(env, units.as_deref())?
        .into_iter()
        .map(|a| LateApplication {
            filed_at: a
                .filed_at
                .with_timezone(&field_core::job::china_offset())
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            applicant: a.detail.name,
            id: a.id,
            number: a.number,
            unit: a.unit,
        })
        .collect();
    Ok(Board {
        agenda,
        late_applications,
        supervision,
        today: today().to_string(),
        rows,
        counts,
        levels,
        visits_due,
        follow_ups,
        visit_after_days,
    })
}

fn today() -> chrono::NaiveDate {
    field_core::job::local_date(chrono::Utc::now())
}
