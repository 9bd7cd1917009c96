//! A change the server writes into a job on a browser user's behalf (a review, a return visit):
//! the job must be visible to them (else not found) and the action theirs (else forbidden); the
//! edits are planned from the job as it stands, applied as theirs from the web device, and
//! recorded like a phone's push (change log, audit, list row), so the phones get them by sync.

use super::Env;
use super::auth::Principal;
use super::docs::Loaded;
use super::jobs::{self, Origin};
use super::session::WEB_DEVICE;
use crate::authz;
use crate::error::ServerError;
use crate::store::WriteTx;
use chrono::{DateTime, Utc};
use field_core::policy::Checked;
use field_core::{Edit, EditContext, Job, JobDoc};

/// Writes the edits `plan` gives as one recorded change; `after` runs in the same transaction
/// with the changed document (e.g. to note the heads a review saw).
pub fn write<T>(
    env: &Env,
    who: &Principal,
    job_id: &str,
    allowed: impl FnOnce() -> Result<(), ServerError>,
    plan: impl FnOnce(&Job, DateTime<Utc>) -> Result<Vec<Edit>, ServerError>,
    after: impl FnOnce(&mut dyn WriteTx, &mut JobDoc) -> Result<T, ServerError>,
) -> Result<T, ServerError> {
    let mut tx = env.store.write()?;
    if !authz::can_read_job(&*tx, who, job_id)? {
        return Err(ServerError::NotFound);
    }
    allowed()?;
    let Loaded { mut doc, .. } = env
        .docs
        .checkout(&*tx, job_id)?
        .ok_or(ServerError::NotFound)?;
    let before = doc.heads();
    let now = Utc::now();
    let job = doc
        .read()
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    let edits = plan(&job, now)?;
    let ctx = EditContext {
        actor: who.username.clone(),
        device: WEB_DEVICE.into(),
        now,
    };
    for e in &edits {
        doc.apply(e, &ctx).map_err(|e| match e {
            field_core::job::JobError::Invalid(i) => ServerError::bad("invalid_value", i.zh, i.en),
            other => ServerError::Internal(other.to_string()),
        })?;
    }
    let version = jobs::record(
        &mut *tx,
        env,
        Origin::OnBehalf(who),
        job_id,
        &mut doc,
        &before,
        &Checked::default(),
    )?;
    let out = after(&mut *tx, &mut doc)?;
    tx.commit()?;
    env.docs.checkin(job_id, Loaded { doc, version });
    Ok(out)
}
