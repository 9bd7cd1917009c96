//! A phone's push of one job, planned on a read of the job as it stands: its id, the caller's
//! scope (before a byte of the job is parsed), the automerge chunks within the decoding
//! bounds, the merge, the caller's rights on the new changes, the photo names and the rule set
//! of a new job; then the record path plans what to store (`jobs::plan`).

use super::Env;
use super::docs::server_actor;
use super::jobs::{self, Origin, Planned};
use crate::authz;
use crate::authz::Principal;
use crate::error::ServerError;
use crate::store::{JobState, ReadTx, StoreError};
use automerge::ChangeHash;
use field_core::Job;
use field_core::job::{JobDoc, chunks};
use field_core::policy::Refusal;
use field_core::sync::protocol::{Ack, Hash, PushJob, Rejected};

/// Why one job of a request was not stored.
#[derive(Debug)]
pub enum PushError {
    /// Refused: reported to the device per job; the other jobs go on.
    Refused(Rejected),
    /// The server failed: the whole request fails.
    Failed(ServerError),
}

impl From<StoreError> for PushError {
    fn from(e: StoreError) -> Self {
        PushError::Failed(e.into())
    }
}

impl From<ServerError> for PushError {
    fn from(e: ServerError) -> Self {
        PushError::Failed(e)
    }
}

pub fn refused(
    job_id: &str,
    code: &str,
    zh: impl Into<String>,
    en: impl Into<String>,
) -> PushError {
    PushError::Refused(Rejected {
        job_id: job_id.to_string(),
        code: code.to_string(),
        zh: zh.into(),
        en: en.into(),
        paths: Vec::new(),
    })
}

fn from_refusal(job_id: &str, r: Refusal) -> PushError {
    PushError::Refused(Rejected {
        job_id: job_id.to_string(),
        code: r.code,
        zh: r.zh,
        en: r.en,
        paths: r.paths,
    })
}

pub fn not_yours(job_id: &str) -> PushError {
    refused(
        job_id,
        "not_yours",
        format!("工单 {job_id} 不在您的负责范围内"),
        format!("job {job_id} is outside your scope"),
    )
}

pub fn to_hashes(heads: &[ChangeHash]) -> Vec<Hash> {
    heads
        .iter()
        .map(|h| serde_bytes::ByteBuf::from(h.0.to_vec()))
        .collect()
}

fn from_hash(h: &Hash) -> Option<ChangeHash> {
    ChangeHash::try_from(h.as_ref()).ok()
}

/// True when the first change chunk depends on changes not in the bytes.
fn push_has_deps(bytes: &[u8]) -> bool {
    automerge::Automerge::load_with_options(
        bytes,
        automerge::LoadOptions::new().on_partial_load(automerge::OnPartialLoad::Error),
    )
    .is_err_and(|e| matches!(e, automerge::AutomergeError::MissingDeps))
}

/// Most operations a job's document may hold (a busy job has a few tens of thousands).
pub const JOB_OPS_MAX: u64 = 2_000_000;

/// What a push comes to.
pub enum PushPlan {
    /// Nothing new to store: acknowledged with the server's heads.
    Ack(Ack),
    /// Stored once the write commits (and acknowledged then).
    Write(Ack, Box<Planned>),
    /// The server lacks the base of these changes: continue with automerge's sync protocol.
    Fallback,
}

/// Plans one pushed job on `tx` (a read of the store).
pub fn plan_push(
    tx: &dyn ReadTx,
    env: &Env,
    who: &Principal,
    push: &PushJob,
) -> Result<PushPlan, PushError> {
    let job_id = push.job_id.as_str();
    field_core::validate::check_id("job_id", job_id)
        .map_err(|e| refused(job_id, "invalid_job_id", e.zh, e.en))?;
    let state = tx.job_state(job_id)?;
    if let Some(s) = &state
        && !authz::may_see(who, s)
    {
        return Err(not_yours(job_id));
    }
    if !push.changes.is_empty() {
        chunks::check(&push.changes).map_err(|e| {
            refused(
                job_id,
                "not_automerge",
                format!("工单 {job_id} 的数据不是 automerge 变更：{e}"),
                format!("job {job_id}: the data is not automerge changes: {e}"),
            )
        })?;
    }
    let ack = |doc: &mut JobDoc| Ack {
        job_id: job_id.to_string(),
        heads: to_hashes(&doc.heads()),
    };
    let Some(state) = state else {
        if push.changes.is_empty() {
            return Ok(PushPlan::Ack(Ack {
                job_id: job_id.to_string(),
                heads: Vec::new(),
            }));
        }
        let mut doc = match JobDoc::load(&push.changes, server_actor()) {
            Ok(doc) => doc,
            // The beginning of the job is missing (the server lost it): fall back.
            Err(field_core::job::JobError::Corrupt(_)) if push_has_deps(&push.changes) => {
                return Ok(PushPlan::Fallback);
            }
            Err(e) => {
                return Err(refused(
                    job_id,
                    "not_a_job",
                    format!("不是有效的工单文档：{e}"),
                    format!("not a valid job document: {e}"),
                ));
            }
        };
        check_size(job_id, &doc)?;
        if !complete(&mut doc, push) {
            return Ok(PushPlan::Fallback);
        }
        let ack = ack(&mut doc);
        let planned = plan_checked(tx, env, who, job_id, doc, &[], None, None)?;
        return Ok(PushPlan::Write(ack, Box::new(planned)));
    };
    let mut doc = jobs::load(tx, env, job_id, &state)?;
    let before = doc.heads();
    if push.changes.is_empty() {
        return Ok(unchanged(env, job_id, state.meta.version, doc));
    }
    let before_job = doc
        .job()
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    doc.load_incremental(&push.changes).map_err(|e| {
        refused(
            job_id,
            "bad_changes",
            format!("变更无法应用：{e}"),
            format!("changes cannot be applied: {e}"),
        )
    })?;
    check_size(job_id, &doc)?;
    // Changes whose base the server lacks stay out: the document is dropped, not cached, and
    // the fallback exchange brings everything.
    if !complete(&mut doc, push) {
        return Ok(PushPlan::Fallback);
    }
    if doc.heads() == before {
        // Nothing new (a repeated push).
        return Ok(unchanged(env, job_id, state.meta.version, doc));
    }
    let ack = ack(&mut doc);
    let planned = plan_checked(
        tx,
        env,
        who,
        job_id,
        doc,
        &before,
        Some(&before_job),
        Some(&state),
    )?;
    Ok(PushPlan::Write(ack, Box::new(planned)))
}

/// Nothing to store: the document goes back to the cache as read, and the push is
/// acknowledged with its heads.
fn unchanged(env: &Env, job_id: &str, version: i64, mut doc: JobDoc) -> PushPlan {
    let ack = Ack {
        job_id: job_id.to_string(),
        heads: to_hashes(&doc.heads()),
    };
    env.docs
        .checkin(job_id, super::docs::Loaded { doc, version });
    PushPlan::Ack(ack)
}

fn check_size(job_id: &str, doc: &JobDoc) -> Result<(), PushError> {
    let ops = automerge::ReadDoc::stats(doc.automerge_ref()).num_ops;
    if ops > JOB_OPS_MAX {
        return Err(refused(
            job_id,
            "job_too_large",
            format!("工单文档过大（{ops} 个操作，最多 {JOB_OPS_MAX}）"),
            format!("the job's document is too large ({ops} operations, at most {JOB_OPS_MAX})"),
        ));
    }
    Ok(())
}

/// Whether the document holds every head the device pushed.
fn complete(doc: &mut JobDoc, push: &PushJob) -> bool {
    push.heads
        .iter()
        .filter_map(from_hash)
        .all(|h| doc.has_change(&h))
}

/// Checks the changes `doc` holds beyond `before` against the caller's rights and plans
/// recording them.
#[allow(clippy::too_many_arguments)]
pub fn plan_checked(
    tx: &dyn ReadTx,
    env: &Env,
    who: &Principal,
    job_id: &str,
    mut doc: JobDoc,
    before: &[ChangeHash],
    before_job: Option<&Job>,
    state: Option<&JobState>,
) -> Result<Planned, PushError> {
    let job = doc.job().map_err(|e| {
        refused(
            job_id,
            "not_a_job",
            format!("不是有效的工单文档：{e}"),
            format!("not a valid job document: {e}"),
        )
    })?;
    if job.id != job_id {
        return Err(refused(
            job_id,
            "job_id_mismatch",
            "文档中的工单号与请求不符",
            "the document's job id does not match the request",
        ));
    }
    let policy = env.policy(&who.unit);
    // Collected once: for the check and for the change log.
    let changes = doc.changes_since(before);
    let checked = authz::check_write(&mut doc, &changes, before, before_job, who, &policy)
        .map_err(|r| from_refusal(job_id, r))?;
    if let Some(r) = authz::check_blob_names(tx, who, job_id, &job, before_job)? {
        return Err(from_refusal(job_id, r));
    }
    if before_job.is_none()
        && let Some(r) = authz::check_new_job_rules(&env.rules(), &job)
    {
        return Err(from_refusal(job_id, r));
    }
    Ok(jobs::plan(
        tx,
        env,
        Origin::Device(who),
        job_id,
        doc,
        jobs::Before {
            heads: before,
            job: before_job,
            state,
            changes: Some(changes),
        },
        &checked,
    )?)
}
