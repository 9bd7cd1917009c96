//! The dated things a job asks of people beyond its stage clocks: meeting action items, the
//! planned power-on, the outage window, the rented transformer's removal and the next visit to
//! an important customer. One pure function of the job, so the phone (the owner's list) and the
//! server (the dispatch board) agree on what is due and what is late.

use crate::job::{Job, local_date};
use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

crate::codes::coded_enum! {
    /// What an agenda item is.
    AgendaKind {
        Action = "action", "会议待办", "meeting action item";
        PowerOn = "power_on", "计划接电", "planned power-on";
        Outage = "outage", "计划停电", "planned outage";
        RentalRemoval = "rental_removal", "租赁变压器拆除", "rented transformer removal";
        KeyVisit = "key_visit", "重要客户走访", "important-customer visit";
    }
}

crate::codes::coded_enum! {
    /// Where an agenda item stands on a day.
    AgendaState {
        Late = "late", "已逾期", "late";
        DueSoon = "due_soon", "即将到期", "due soon";
        Upcoming = "upcoming", "待办", "upcoming";
        Done = "done", "已完成", "done";
    }
}

/// Days before its due day an item counts as due soon (the removal reminder included).
pub const DUE_SOON_DAYS: u64 = 5;

/// One dated item of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgendaItem {
    /// Unique within the job (`action:<id>`, `power_on`, `outage`, `rental_removal`,
    /// `key_visit`).
    pub item_id: String,
    pub kind: AgendaKind,
    /// Who is to act (a username; `None`: not named yet).
    pub owner: Option<String>,
    pub due_on: NaiveDate,
    /// What is to be done, as entered (an action's text, the outage's lines…).
    pub title: String,
    pub done: bool,
    /// An item not done by its day; an outage not approved when its window starts.
    pub late_on: NaiveDate,
}

impl AgendaItem {
    pub fn state(&self, today: NaiveDate) -> AgendaState {
        state(self.due_on, self.late_on, self.done, today)
    }
}

/// Where an item due on `due_on`, late after `late_on`, stands on `today`.
pub fn state(due_on: NaiveDate, late_on: NaiveDate, done: bool, today: NaiveDate) -> AgendaState {
    if done {
        AgendaState::Done
    } else if today > late_on {
        AgendaState::Late
    } else if due_on <= today + Days::new(DUE_SOON_DAYS) {
        AgendaState::DueSoon
    } else {
        AgendaState::Upcoming
    }
}

/// The job's agenda items. A job powered on has its power-on and outage done.
pub fn agenda(job: &Job) -> Vec<AgendaItem> {
    let mut items = Vec::new();
    let powered = job.powered_on_at().is_some();
    for (id, a) in &job.actions {
        let Some(due) = a.due_on else { continue };
        items.push(AgendaItem {
            item_id: format!("action:{id}"),
            kind: AgendaKind::Action,
            owner: a.owner.clone(),
            due_on: due,
            title: a.text.clone().unwrap_or_default(),
            done: a.is_done(),
            late_on: due,
        });
    }
    let p = &job.power_on_plan;
    if let Some(day) = p.planned_on {
        items.push(AgendaItem {
            item_id: "power_on".into(),
            kind: AgendaKind::PowerOn,
            owner: job.assignment.customer_manager.clone(),
            due_on: day,
            title: p.note.clone().unwrap_or_default(),
            done: powered,
            late_on: day,
        });
    }
    let o = &job.outage_plan;
    if let Some(start) = o.starts_at {
        use crate::codes::OutageState;
        let day = local_date(start);
        let end = o.ends_at.map(local_date).unwrap_or(day);
        let approved = o.state == Some(OutageState::Approved);
        // Before approval it is late once its day comes unapproved (the day itself counts);
        // approved, it is done once the window is over.
        let late_on = if approved { end } else { day - Days::new(1) };
        let what = [o.lines.as_deref(), o.transformers.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.trim().is_empty())
            .collect::<Vec<_>>()
            .join("；");
        items.push(AgendaItem {
            item_id: "outage".into(),
            kind: AgendaKind::Outage,
            owner: job.assignment.project_manager.clone(),
            due_on: day,
            title: what,
            done: powered || o.state == Some(OutageState::Rejected),
            late_on,
        });
    }
    let t = &job.temporary_supply;
    if let Some(due) = t.rented_to_on.or(t.ends_on) {
        let rented = t.transformer_asset_no.is_some();
        items.push(AgendaItem {
            item_id: "rental_removal".into(),
            kind: AgendaKind::RentalRemoval,
            owner: job
                .assignment
                .project_manager
                .clone()
                .or_else(|| job.assignment.customer_manager.clone()),
            due_on: due,
            title: t.transformer_asset_no.clone().unwrap_or_default(),
            done: t.removed_at.is_some() || !rented,
            late_on: due,
        });
    }
    if let Some(due) = next_key_visit(job) {
        let v = &job.visit_plan;
        items.push(AgendaItem {
            item_id: "key_visit".into(),
            kind: AgendaKind::KeyVisit,
            owner: v
                .customer_manager
                .clone()
                .or_else(|| job.assignment.customer_manager.clone()),
            due_on: due,
            title: v
                .leader_name
                .as_deref()
                .map(|l| format!("{l} 带队"))
                .unwrap_or_default(),
            done: false,
            late_on: due,
        });
    }
    items
}

/// The day the next visit to an important customer is due: the plan's interval after the last
/// visit, else its first day (`None`: no plan).
pub fn next_key_visit(job: &Job) -> Option<NaiveDate> {
    let v = &job.visit_plan;
    let every = u64::try_from(v.every_days?).ok()?;
    let last = job.key_visits.values().filter_map(|k| k.visited_on).max();
    match last {
        Some(l) => l.checked_add_days(Days::new(every)),
        None => v
            .starts_on
            .or_else(|| job.accepted_on().checked_add_days(Days::new(every))),
    }
}
