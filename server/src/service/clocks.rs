//! Clocks that are never stale: a job's list row carries its next due date and worst time-limit
//! state as of the day it was computed. Every change recomputes them (`jobs::list_row`); once
//! per working day (China time) this recomputes every job with a running clock, so a job nobody
//! touched still turns "due soon" and then "overdue" on the board and in the lists.

use super::Env;
use crate::error::ServerError;
use crate::store::StageClockRow;
use chrono::NaiveDate;
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

/// `server_state` key: the China-time day clocks were last recomputed for.
const REFRESHED_ON: &str = "clocks_refreshed_on";
/// Jobs per write transaction (keeps the writer free for phones between batches).
const BATCH: u32 = 500;

/// What a recomputation did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refresh {
    /// Jobs with a running clock that were looked at.
    pub jobs: usize,
    /// Rows whose due date or state changed.
    pub changed: usize,
    /// Jobs skipped because a push changed them meanwhile (that push recomputed them).
    pub raced: usize,
}

/// Recomputes the clocks once per day: does nothing when `today` was already done.
pub fn refresh_if_new_day(env: &Env, today: NaiveDate) -> Result<Option<Refresh>, ServerError> {
    let day = today.to_string();
    if env.store.read()?.state(REFRESHED_ON)?.as_deref() == Some(day.as_str()) {
        return Ok(None);
    }
    let done = refresh(env, today)?;
    let mut tx = env.store.write()?;
    tx.set_state(REFRESHED_ON, &day)?;
    tx.commit()?;
    Ok(Some(done))
}

/// Recomputes the due date and state of every job with a running clock as of `today`, with the
/// job's own rule set and the calendar, batch by batch. Documents are read outside the writer;
/// a job a push changed in between is left to that push's own recomputation.
pub fn refresh(env: &Env, today: NaiveDate) -> Result<Refresh, ServerError> {
    let mut done = Refresh::default();
    let mut after = String::new();
    loop {
        let (ids, computed) = {
            let tx = env.store.read()?;
            let ids = tx.running_clocks(&after, BATCH)?;
            let mut computed = Vec::with_capacity(ids.len());
            for id in &ids {
                let Some(mut loaded) = env.docs.checkout(&*tx, id)? else {
                    continue;
                };
                let job = loaded
                    .doc
                    .job()
                    .map_err(|e| ServerError::Internal(e.to_string()))?;
                let (limits, stages) = compute(env, &job, today);
                computed.push((
                    id.clone(),
                    loaded.version,
                    limits.next_due().map(|d| d.to_string()),
                    limits.worst().map(|s| s.as_str().to_string()),
                    stages,
                ));
                env.docs.checkin(id, loaded);
            }
            (ids, computed)
        };
        let Some(last) = ids.last() else { break };
        after = last.clone();
        let mut tx = env.store.write()?;
        for (id, version, due, state, stages) in &computed {
            done.jobs += 1;
            let Some(meta) = tx.job_meta(id)? else {
                continue;
            };
            if meta.doc_seq != *version {
                done.raced += 1;
                continue;
            }
            let (old_due, old_state) = tx.job_clock(id)?.unwrap_or_default();
            if old_due != *due || old_state != *state {
                tx.set_clock(id, due.as_deref(), state.as_deref())?;
                done.changed += 1;
            }
            // Days used move every working day: the board's clocks are always rewritten.
            tx.set_stage_clocks(id, stages)?;
        }
        tx.commit()?;
        if ids.len() < BATCH as usize {
            break;
        }
    }
    tracing::debug!(
        jobs = done.jobs,
        changed = done.changed,
        "clocks recomputed"
    );
    Ok(done)
}
