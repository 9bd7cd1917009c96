//! What the server adds to a job itself, decided from the job and a few facts read before the
//! write: one list of edits, each applied as the server's own change. Receipts for newly signed
//! contracts (countersigning), the release of a settled project's manager (自动解聘), and the
//! token of the customer's progress page.

use super::Env;
use crate::error::ServerError;
use crate::store::ReadTx;
use field_core::job::Assignment;
use field_core::{Edit, Job};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// `server_state` key of the secret progress tokens are made with.
pub const PROGRESS_SECRET: &str = "progress_link_secret";

/// The MAC part of a job's progress token.
pub fn progress_mac(secret: &[u8], job_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(secret);
    h.update(b"/progress/");
    h.update(job_id.as_bytes());
    h.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the edits depend on besides the job, read before the write.
#[derive(Debug, Default)]
pub struct Facts {
    /// The registered public key of each device that signed a contract still without receipt.
    device_keys: HashMap<String, Option<String>>,
    /// The job's progress token, when it has none yet (`None`: no secret yet).
    progress_token: Option<String>,
}

/// Reads the facts [`edits`] needs for `job` (nothing for most writes).
pub fn facts(tx: &dyn ReadTx, env: &Env, job: &Job) -> Result<Facts, ServerError> {
    let mut facts = Facts::default();
    if env.signing_key.is_some() {
        for (_, c) in unreceipted(job) {
            if let Ok(m) =
                field_core::contract::Manifest::parse(c.manifest.as_deref().unwrap_or_default())
                && !facts.device_keys.contains_key(&m.device_id)
            {
                let key = tx.device(&m.device_id)?.and_then(|d| d.public_key);
                facts.device_keys.insert(m.device_id, key);
            }
        }
    }
    if job.progress_token.is_none() {
        facts.progress_token = tx
            .state(PROGRESS_SECRET)?
            .map(|s| format!("{}.{}", job.id, progress_mac(s.as_bytes(), &job.id)));
    }
    Ok(facts)
}

fn unreceipted(job: &Job) -> impl Iterator<Item = (&String, &field_core::job::Contract)> {
    job.contracts
        .iter()
        .filter(|(_, c)| c.is_signed() && c.receipt.receipt.is_none())
}

/// The edits the server adds to `job`, in order.
pub fn edits(env: &Env, job: &Job, facts: &Facts, now: chrono::DateTime<chrono::Utc>) -> Vec<Edit> {
    let mut edits = countersign(env, job, facts, now);
    edits.extend(release_on_settlement(job));
    if job.progress_token.is_none()
        && let Some(token) = &facts.progress_token
    {
        edits.push(Edit::RecordProgressToken {
            token: token.clone(),
        });
    }
    edits
}

/// Receipts for every signed contract of the job that has none yet. A contract whose device
/// signature does not hold, or whose device registered no key, gets no receipt (verification
/// then names the problem).
fn countersign(
    env: &Env,
    job: &Job,
    facts: &Facts,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<Edit> {
    let mut edits = Vec::new();
    let Some(key) = &env.signing_key else {
        return edits;
    };
    for (id, c) in unreceipted(job) {
        let Ok(manifest) =
            field_core::contract::Manifest::parse(c.manifest.as_deref().unwrap_or_default())
        else {
            tracing::warn!(job = %job.id, contract = %id, "contract manifest unreadable: no receipt");
            continue;
        };
        let registered = facts
            .device_keys
            .get(&manifest.device_id)
            .cloned()
            .flatten();
        match field_core::contract::countersign(job, id, registered.as_deref(), key, now) {
            Ok(receipt) => edits.push(Edit::RecordReceipt {
                contract_id: id.clone(),
                receipt,
            }),
            Err(check) => {
                let (_, en) = check.summary();
                tracing::warn!(job = %job.id, contract = %id, problem = %en, "contract not countersigned");
            }
        }
    }
    edits
}

/// The release of the job's project manager (自动解聘) once its supporting project is settled:
/// `assignment.pm_released_at` set to the settlement's time, written by the server. Their
/// running-project count drops; they keep the job on their phone, like a closed job.
fn release_on_settlement(job: &Job) -> Option<Edit> {
    let a = &job.assignment;
    let settled = job.project.settlement.settled_at?;
    if a.project_manager.as_deref().is_none_or(str::is_empty) || a.pm_released_at.is_some() {
        return None;
    }
    Some(Edit::UpdateAssignment(Assignment {
        pm_released_at: Some(settled),
        ..Default::default()
    }))
}
