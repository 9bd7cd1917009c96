//! Every access decision of the server, in one place: who may see a job (read scope), what a
//! caller may write into one (the write policy, checked on the changes themselves), and who may
//! read a photo blob. Sync, the document and history endpoints, uploads and downloads all ask
//! here.

use crate::error::ServerError;
use crate::service::auth::Principal;
use crate::store::{ReadTx, Scope};
use automerge::ChangeHash;
use field_core::job::JobDoc;
use field_core::policy::{Checked, Refusal, WritePolicy, Writer};
use field_core::{Job, Role};

/// Office staff, dispatchers and admins see every job of their unit (admins: of every unit).
pub fn sees_unit(role: Role) -> bool {
    matches!(role, Role::OfficeStaff | Role::Dispatcher | Role::Admin)
}

/// Which jobs the caller's feed covers.
pub fn feed_scope(who: &Principal) -> Scope<'_> {
    match who.role {
        Role::Admin => Scope::All,
        r if sees_unit(r) => Scope::Unit(&who.unit),
        _ => Scope::User(&who.username),
    }
}

/// Whether the job exists and the caller may see it: admins all, office staff and dispatchers
/// their unit's, managers the jobs assigned to them (and creators until a customer manager is
/// assigned).
pub fn can_read_job(tx: &dyn ReadTx, who: &Principal, job_id: &str) -> Result<bool, ServerError> {
    let Some(meta) = tx.job_meta(job_id)? else {
        return Ok(false);
    };
    if who.role == Role::Admin || (sees_unit(who.role) && meta.unit == who.unit) {
        return Ok(true);
    }
    Ok(tx.has_access(job_id, &who.username)?)
}

/// Whether the caller may push changes to an existing job at all (what they may change in it is
/// the write policy's business).
pub fn can_write_job(tx: &dyn ReadTx, who: &Principal, job_id: &str) -> Result<bool, ServerError> {
    can_read_job(tx, who, job_id)
}

/// The changes `doc` holds beyond `before` against the caller's rights: the caller's own device
/// wrote them, every key is known, every section is one the caller's role may write, write-once
/// entries are new, values pass the phone's limits.
pub fn check_write(
    doc: &mut JobDoc,
    before: &[ChangeHash],
    before_job: Option<&Job>,
    who: &Principal,
    policy: &WritePolicy,
) -> Result<Checked, Refusal> {
    let Some(actor) = &who.actor else {
        return Err(Refusal::new(
            "actor_unregistered",
            "本设备尚未登记数据标识：请更新应用并重新登录",
            "this device has not registered its automerge actor: update the app and log in again",
        ));
    };
    let writer = Writer {
        username: &who.username,
        role: who.role,
        unit: &who.unit,
        device_id: &who.device_id,
        actor,
    };
    field_core::policy::check_changes(doc, before, before_job, &writer, policy)
}

/// Whether the caller may read blob `sha256`: it is stored and some job that names it is theirs.
/// Returns its media type and role (original, display, thumbnail).
pub fn blob_access(
    tx: &dyn ReadTx,
    who: &Principal,
    sha256: &str,
) -> Result<Option<(String, String)>, ServerError> {
    if !tx.blob_stored(sha256)? {
        return Ok(None);
    }
    for (job_id, mime, role) in tx.blob_refs(sha256)? {
        if can_read_job(tx, who, &job_id)? {
            return Ok(Some((mime, role)));
        }
    }
    Ok(None)
}
