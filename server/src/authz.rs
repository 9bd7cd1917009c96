//! Every access decision of the server, in one place: who may see a job (read scope), what a
//! caller may write into one (the write policy, checked on the changes themselves), and who may
//! read a photo blob. Sync, the document and history endpoints, uploads and downloads all ask
//! here.

use crate::error::ServerError;
use crate::store::{ReadTx, Scope};
use automerge::{ActorId, ChangeHash};
use field_core::job::JobDoc;
use field_core::policy::{Checked, Refusal, WritePolicy, Writer};
use field_core::{Job, Role};

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub unit: String,
    pub device_id: String,
    /// The automerge actor the caller's device registered (`None`: an old app that did not).
    pub actor: Option<ActorId>,
}

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
    Ok(tx.job_state(job_id)?.is_some_and(|s| may_see(who, &s)))
}

/// Whether the caller may see the job `state` describes, which is also whether they may push
/// changes to it at all (what they may change in it is the write policy's business): the rule
/// of [`can_read_job`], for a job already read.
pub fn may_see(who: &Principal, state: &crate::store::JobState) -> bool {
    who.role == Role::Admin
        || (sees_unit(who.role) && state.meta.unit == who.unit)
        || state.access.contains(&who.username)
}

/// The changes `doc` holds beyond `before` against the caller's rights: the caller's own device
/// wrote them, every key is known, every section is one the caller's role may write, write-once
/// entries are new, values pass the phone's limits.
pub fn check_write(
    doc: &mut JobDoc,
    changes: &[automerge::Change],
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
    field_core::policy::check_these_changes(doc, changes, before, before_job, &writer, policy)
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
    // The photo of an online application (the customer's ID card or licence): the counter and
    // the job's managers, not the rest of the unit.
    let private = tx.is_application_blob(sha256)?;
    for (job_id, mime, role) in tx.blob_refs(sha256)? {
        let Some(state) = tx.job_state(&job_id)? else {
            continue;
        };
        let sees = if private {
            matches!(who.role, Role::Admin | Role::OfficeStaff) && may_see(who, &state)
                || state.access.contains(&who.username)
        } else {
            may_see(who, &state)
        };
        if sees {
            return Ok(Some((mime, role)));
        }
    }
    Ok(None)
}

/// Whether the caller may name, in the photos a push adds, the blobs those photos name: a blob
/// nobody stores or names yet (the caller's device uploads it next), or one the caller can
/// already read through a job that names it. A photo record is no way to reach someone else's
/// photo by its hash. A blob named elsewhere must also keep the media type it was checked
/// against when it arrived.
pub fn check_blob_names(
    tx: &dyn ReadTx,
    who: &Principal,
    job_id: &str,
    job: &Job,
    before_job: Option<&Job>,
) -> Result<Option<Refusal>, ServerError> {
    let new_photos: Vec<_> = job
        .photos
        .iter()
        .filter(|(id, _)| !before_job.is_some_and(|b| b.photos.contains_key(*id)))
        .collect();
    let shas: Vec<&str> = new_photos
        .iter()
        .flat_map(|(_, p)| p.blobs().into_iter().map(|(_, sha, _)| sha))
        .collect();
    // One read for every file the new photos name.
    let found: std::collections::HashMap<String, crate::store::BlobNamed> = tx
        .blobs_named(&shas)?
        .into_iter()
        .map(|b| (b.sha256.clone(), b))
        .collect();
    let none = crate::store::BlobNamed::default();
    for (photo_id, photo) in new_photos {
        for (role, sha, _) in photo.blobs() {
            let declared = photo.declared_mime(role);
            let named = found.get(sha).unwrap_or(&none);
            let (refs, stored) = (&named.refs, named.stored);
            if refs.iter().any(|(_, mime, _)| mime != declared) {
                return Ok(Some(Refusal::new(
                    "content_mismatch",
                    format!("照片 {photo_id} 声明的类型 {declared} 与已存文件不符"),
                    format!(
                        "photo {photo_id} declares {declared}, which is not what the stored file is"
                    ),
                )));
            }
            if !stored && refs.is_empty() {
                continue;
            }
            let mut readable = false;
            for (other, _, _) in refs {
                if other == job_id || can_read_job(tx, who, other)? {
                    readable = true;
                    break;
                }
            }
            if !readable {
                return Ok(Some(Refusal::new(
                    "foreign_blob",
                    format!("照片 {photo_id} 引用了您无权查看的文件"),
                    format!("photo {photo_id} names a file you may not see"),
                )));
            }
        }
    }
    Ok(None)
}

/// A new job's rules must be the set in force for its unit on its acceptance day (another unit's,
/// an older or a laxer one would loosen its time limits and checks).
pub fn check_new_job_rules(rules: &field_core::rules::RuleBook, job: &Job) -> Option<Refusal> {
    let (Some(id), Some(version)) = (job.rules.id.as_deref(), job.rules.version) else {
        return None; // none named: the set in force is used anyway
    };
    let expected = rules.in_force(&job.unit, job.accepted_on());
    if id == expected.id && i64::from(expected.version) == version {
        return None;
    }
    Some(Refusal::new(
        "wrong_rule_set",
        format!(
            "新工单须采用本单位受理日（{}）施行的业务规则 {} v{}，而不是 {id} v{version}：请同步后重试",
            job.accepted_on(),
            expected.id,
            expected.version
        ),
        format!(
            "a new job must follow the rules in force for its unit on its acceptance day ({}): {} v{}, not {id} v{version}; sync and retry",
            job.accepted_on(),
            expected.id,
            expected.version
        ),
    ))
}
