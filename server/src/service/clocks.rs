//! Clocks that are never stale: a job's list row carries its next due date and worst time-limit
//! state as of the day it was computed. Every change recomputes them (`derived::list_row`); once
//! per working day (China time) this recomputes every job with a running clock, so a job nobody
//! touched still turns "due soon" and then "overdue" on the board and in the lists.

use super::Env;
use crate::error::ServerError;
use chrono::NaiveDate;

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
                let (limits, stages) = super::derived::compute(env, &job, today);
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
        let mut tx = env.store.write_beside()?;
        for (id, version, due, state, stages) in &computed {
            done.jobs += 1;
            let Some((found, old_due, old_state)) = tx.job_clock(id)? else {
                continue;
            };
            if found != *version {
                done.raced += 1;
                continue;
            }
            let changed = old_due != *due || old_state != *state;
            // Days used move every working day: the board's clocks are always rewritten.
            let clock = changed.then_some((due.as_deref(), state.as_deref()));
            if !tx.set_job_clocks(id, *version, clock, stages)? {
                done.raced += 1;
                continue;
            }
            if changed {
                done.changed += 1;
            }
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
