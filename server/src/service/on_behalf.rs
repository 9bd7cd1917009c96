//! A change the server writes into a job on a browser user's behalf (a review, a return visit):
//! the job must be visible to them (else not found) and the action theirs (else forbidden); the
//! edits are planned from the job as it stands, applied as theirs from the web device, and
//! recorded like a phone's push (change log, audit, list row), so the phones get them by sync.

use super::Env;
use super::jobs::{self, Origin};
use super::session::WEB_DEVICE;
use crate::authz;
use crate::authz::Principal;
use crate::error::ServerError;
use crate::store::WriteTx;
use chrono::{DateTime, Utc};
use field_core::policy::Checked;
use field_core::{Edit, EditContext, Job, JobDoc};

/// Writes the edits `plan` gives as one recorded change; `after` runs in the same transaction
/// with the changed document (e.g. to note the heads a review saw). If another write of the job
/// comes first, the edits are planned again from the job as it then stands.
pub fn write<T>(
    env: &Env,
    who: &Principal,
    job_id: &str,
    allowed: impl Fn() -> Result<(), ServerError>,
    plan: impl Fn(&Job, DateTime<Utc>) -> Result<Vec<Edit>, ServerError>,
    mut after: impl FnMut(&mut dyn WriteTx, &mut JobDoc) -> Result<T, ServerError>,
) -> Result<T, ServerError> {
    let out = jobs::write(
        env,
        job_id,
        |tx| {
            let Some(state) = tx.job_state(job_id)? else {
                return Err(ServerError::NotFound);
            };
            if !authz::may_see(who, &state) {
                return Err(ServerError::NotFound);
            }
            allowed()?;
            let mut doc = jobs::load(tx, env, job_id, &state)?;
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
            jobs::apply_edits(&mut doc, &edits, &ctx)?;
            Ok(Some(jobs::plan(
                tx,
                env,
                Origin::OnBehalf(who),
                job_id,
                doc,
                jobs::Before::at(&before, &job, &state),
                &Checked::default(),
            )?))
        },
        &mut after,
    )?;
    out.ok_or(ServerError::NotFound)
}
