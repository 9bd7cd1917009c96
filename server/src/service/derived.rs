//! Derived views of a job: pure functions of its document (and the rule set and calendar in
//! force), bounded in cost, computed when a write is planned, never inside a lock. The list row
//! (what lists filter and sort on), its time limits and running stage clocks (the dispatch
//! board), and its supervision orders (督办) as the board lists them.

use super::Env;
use crate::store::{AgendaRow, JobRow, StageClockRow, SupervisionRow};
use chrono::{NaiveDate, Utc};
use field_core::Job;
use field_core::sla::{TimeLimits, Warning};

/// A job's time limits as of `today` (its own rule set and the calendar) and its started stage
/// clocks (running ones with their warnings, from the rule set's thresholds).
pub fn compute(env: &Env, job: &Job, today: NaiveDate) -> (TimeLimits, Vec<StageClockRow>) {
    let book = env.rules();
    let rules = book.for_job(job);
    let limits = field_core::sla::time_limits(job, rules, &env.calendar(), today);
    let stages = limits
        .clocks
        .iter()
        .filter(|c| c.started_on.is_some())
        .map(|c| {
            let warning = c.warning(&rules.thresholds);
            StageClockRow {
                stage: c.stage.code().to_string(),
                started_on: c.started_on.map(|d| d.to_string()).unwrap_or_default(),
                ended_on: c.ended_on.map(|d| d.to_string()),
                due_on: c.due_on.map(|d| d.to_string()),
                used_days: c.used_days,
                limit_days: i64::from(c.limit_days),
                state: c.state.as_str().to_string(),
                paused: c.paused_now,
                warning: warning.map(Warning::code),
                warn_rank: warning.map(|w| i64::from(w.rank())).unwrap_or(0),
            }
        })
        .collect();
    (limits, stages)
}

/// The list row of a job (what lists filter and sort on) and its running stage clocks (the
/// dispatch board), with its time limits as of today.
pub fn list_row(
    env: &Env,
    job: &Job,
    created_by: &str,
    updated_at: i64,
) -> (JobRow, Vec<StageClockRow>) {
    let today = field_core::job::local_date(chrono::Utc::now());
    let (limits, stages) = compute(env, job, today);
    let row = JobRow {
        job_id: job.id.clone(),
        unit: job.unit.clone(),
        kind: job.kind.as_str().to_string(),
        job_no: job.job_no.clone(),
        status: job.status().as_str().to_string(),
        customer_name: job.customer.name.clone().unwrap_or_default(),
        customer_manager: job.assignment.customer_manager.clone(),
        project_manager: job.assignment.project_manager.clone(),
        next_due: limits.next_due().map(|d| d.to_string()),
        sla_state: limits.worst().map(|s| s.as_str().to_string()),
        created_by: created_by.to_string(),
        updated_at,
        review_state: job.review.state.map(|s| s.as_str().to_string()),
        accepted_on: job.accepted_on().to_string(),
        address: job.customer.address.clone().unwrap_or_default(),
        key_project: job.application.key_project.unwrap_or(false),
        powered_on: powered_on(job).map(|d| d.to_string()),
        visit_state: visit_state(env, job).map(str::to_string),
        satisfaction: job.return_visit.satisfaction,
        customer_rating: job.customer_voice.rating,
        project_progress: job.project.progress_pct,
    };
    (row, stages)
}

/// The China-time day a job was powered on (its power-on milestone, else the metering record).
pub fn powered_on(job: &Job) -> Option<chrono::NaiveDate> {
    job.powered_on_at().map(field_core::job::local_date)
}

/// Where a powered-on job's return visit stands: `due`, `follow_up` (the visit or the customer's
/// own rating scored at or below the rule set's `low_satisfaction_max`, no follow-up recorded)
/// or `done`.
pub fn visit_state(env: &Env, job: &Job) -> Option<&'static str> {
    powered_on(job)?;
    let v = &job.return_visit;
    let low = env.rules().for_job(job).thresholds.low_satisfaction_max;
    let voice = &job.customer_voice;
    let rated_low = voice.rating.is_some_and(|r| r <= low);
    // A follow-up recorded before the rating does not answer it.
    let answered = v
        .follow_up_at
        .is_some_and(|f| voice.rated_at.is_none_or(|r| f >= r));
    if rated_low && !answered {
        return Some("follow_up");
    }
    Some(match (v.visited_at, v.satisfaction, v.follow_up_at) {
        (None, _, _) => "due",
        (Some(_), Some(s), None) if s <= low => "follow_up",
        _ => "done",
    })
}

/// The board's rows of a job's orders (orders missing their addressee or deadline are left out).
pub fn supervision_rows(job: &Job) -> Vec<SupervisionRow> {
    let ms = |t: Option<chrono::DateTime<Utc>>| t.map(|t| t.timestamp_millis());
    job.supervision
        .iter()
        .filter_map(|(id, o)| {
            Some(SupervisionRow {
                job_id: job.id.clone(),
                order_id: id.clone(),
                unit: job.unit.clone(),
                job_no: job.job_no.clone(),
                manager: o.manager.clone()?,
                manager_name: o.manager_name.clone().or_else(|| o.manager.clone())?,
                issued_by: o
                    .issued_by_name
                    .clone()
                    .or_else(|| o.issued_by.clone())
                    .unwrap_or_default(),
                stage: o.stage.clone(),
                reason: o.reason.clone().unwrap_or_default(),
                issued_at: ms(o.issued_at),
                due_on: o.due_on?.to_string(),
                answered_at: ms(o.answer.answered_at),
                escalated_at: ms(o.escalation.escalated_at),
                leaders: o.escalation.leaders.clone(),
                closed_at: ms(o.closed_at),
            })
        })
        .collect()
}

/// The board's rows of a job's agenda (`field_core::agenda`: action items, the planned power-on
/// and outage, a rented transformer's removal, the next important-customer visit).
pub fn agenda_rows(job: &Job) -> Vec<AgendaRow> {
    field_core::agenda::agenda(job)
        .into_iter()
        .map(|i| AgendaRow {
            job_id: job.id.clone(),
            item_id: i.item_id,
            unit: job.unit.clone(),
            job_no: job.job_no.clone(),
            customer_name: job.customer.name.clone().unwrap_or_default(),
            kind: i.kind.as_str().to_string(),
            owner: i.owner,
            due_on: i.due_on.to_string(),
            late_on: i.late_on.to_string(),
            title: i.title,
            done: i.done,
        })
        .collect()
}
