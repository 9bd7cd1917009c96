//! The customer's view, without a login: a unit's customer managers to choose from (客户自选业务
//! 经理: name and work number, jobs handled, open jobs, average satisfaction), and each job's
//! progress behind an unguessable link (the stage, the next step's due date, whom to contact —
//! nothing personal beyond the job itself).

use super::Env;
use crate::error::ServerError;
use field_core::MilestoneEvent;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `server_state` key of the secret progress links are derived from.
const SECRET: &str = "progress_link_secret";

/// A customer manager as the public sees them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicManager {
    /// The work number (the user name).
    pub work_number: String,
    pub name: String,
    pub handled: i64,
    pub open: i64,
    pub satisfaction: Option<f64>,
    pub visits: i64,
}

/// A job's progress as its customer sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub job_no: String,
    pub unit: String,
    pub kind: field_core::JobKind,
    pub status: field_core::JobStatus,
    pub accepted_on: chrono::NaiveDate,
    /// The running stage due first, and its due date.
    pub next: Option<(field_core::sla::Stage, chrono::NaiveDate)>,
    /// Steps done so far: event and China-time day, in order.
    pub steps: Vec<(MilestoneEvent, chrono::NaiveDate)>,
    /// The customer manager to contact: name and work number.
    pub contact: Option<(String, String)>,
}

/// Units with a public page.
pub fn units(env: &Env) -> Result<Vec<String>, ServerError> {
    Ok(env.store.read()?.units()?)
}

/// The customer managers of `unit` (not found for a unit without any).
pub fn managers(env: &Env, unit: &str) -> Result<Vec<PublicManager>, ServerError> {
    let tx = env.store.read()?;
    let stats = tx.manager_stats(unit)?;
    let people: Vec<PublicManager> = tx
        .users_of(Some(unit))?
        .into_iter()
        .filter(|(_, _, role)| role == "customer_manager")
        .map(|(username, display, _)| {
            let s = stats.iter().find(|s| s.username == username);
            PublicManager {
                name: display,
                handled: s.map(|s| s.handled).unwrap_or(0),
                open: s.map(|s| s.open).unwrap_or(0),
                satisfaction: s.and_then(|s| s.satisfaction),
                visits: s.map(|s| s.visits).unwrap_or(0),
                work_number: username,
            }
        })
        .collect();
    if people.is_empty() {
        return Err(ServerError::NotFound);
    }
    Ok(people)
}

fn secret(env: &Env) -> Result<Vec<u8>, ServerError> {
    if let Some(s) = env.store.read()?.state(SECRET)? {
        return Ok(s.into_bytes());
    }
    let mut tx = env.store.write()?;
    // Another request may have created it meanwhile (inside this write, nobody else can).
    if let Some(s) = tx.state(SECRET)? {
        return Ok(s.into_bytes());
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let s: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    tx.set_state(SECRET, &s)?;
    tx.commit()?;
    Ok(s.into_bytes())
}

fn mac(secret: &[u8], job_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(secret);
    h.update(b"/progress/");
    h.update(job_id.as_bytes());
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The token of a job's progress page: its id and a MAC only the server can make.
pub fn token(env: &Env, job_id: &str) -> Result<String, ServerError> {
    Ok(format!("{job_id}.{}", mac(&secret(env)?, job_id)))
}

/// The progress token of `job_id` read inside a transaction (`None` until the secret exists:
/// [`ensure_secret`] creates it when the server opens).
pub fn token_in(
    tx: &dyn crate::store::ReadTx,
    job_id: &str,
) -> Result<Option<String>, ServerError> {
    Ok(tx
        .state(SECRET)?
        .map(|s| format!("{job_id}.{}", mac(s.as_bytes(), job_id))))
}

/// Creates the progress-link secret if the store has none yet.
pub fn ensure_secret(env: &Env) -> Result<(), ServerError> {
    secret(env).map(|_| ())
}

/// The progress a token opens (not found for anything else, without saying why).
pub fn progress(env: &Env, token: &str) -> Result<Progress, ServerError> {
    let (job_id, sent) = token.split_once('.').ok_or(ServerError::NotFound)?;
    if job_id.is_empty()
        || job_id.len() > 64
        || !job_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        || !super::session::same_secret(sent, &mac(&secret(env)?, job_id))
    {
        return Err(ServerError::NotFound);
    }
    let tx = env.store.read()?;
    let mut loaded = env
        .docs
        .checkout(&*tx, job_id)?
        .ok_or(ServerError::NotFound)?;
    let job = loaded
        .doc
        .job()
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    env.docs.checkin(job_id, loaded);
    let today = field_core::job::local_date(chrono::Utc::now());
    let limits =
        field_core::sla::time_limits(&job, env.rules().for_job(&job), &env.calendar(), today);
    let next = limits
        .clocks
        .iter()
        .filter(|c| c.running())
        .filter_map(|c| c.due_on.map(|d| (c.stage, d)))
        .min_by_key(|(_, d)| *d);
    let mut steps: Vec<(MilestoneEvent, chrono::NaiveDate)> = job
        .milestones
        .values()
        .filter_map(|m| Some((m.event?, field_core::job::local_date(m.at?))))
        .filter(|(e, _)| *e != MilestoneEvent::ReviewSubmitted)
        .collect();
    steps.sort_by_key(|(_, d)| *d);
    let contact = match job.assignment.customer_manager.as_deref() {
        Some(cm) => tx
            .users_of(Some(&job.unit))?
            .into_iter()
            .find(|(u, _, _)| u == cm)
            .map(|(u, d, _)| (d, u)),
        None => None,
    };
    Ok(Progress {
        job_no: job.job_no.clone(),
        unit: job.unit.clone(),
        kind: job.kind,
        status: job.status(),
        accepted_on: job.accepted_on(),
        next,
        steps,
        contact,
    })
}
