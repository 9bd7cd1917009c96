//! Job documents on the server: applying one job's push (or fallback exchange) inside the
//! caller's savepoint, and recording what it changed: the change log (= the feed), the audit
//! trail, the list row with recomputed time limits, who may see the job, the photo blobs it
//! names, its snapshot, and the server's countersignature of new contracts.

use super::auth::Principal;
use super::docs::{Loaded, server_actor};
use super::{Env, audit, now_ms};
use crate::authz;
use crate::error::ServerError;
use crate::store::{AuditEntry, BlobRef, JobRow, ReadTx, StageClockRow, StoreError, WriteTx};
use automerge::ChangeHash;
use field_core::Job;
use field_core::job::{JobDoc, chunks, schema};
use field_core::policy::{ChangeTouches, Checked, Refusal};
use field_core::sync::protocol::{Ack, Hash, PushJob, Rejected};
use std::collections::{BTreeSet, HashMap};

/// Compact a document when this many changes follow its snapshot.
const COMPACT_AFTER: i64 = 200;

/// The origin recorded for changes the server writes itself (never filtered from any feed).
pub const SERVER_ORIGIN: &str = "server";

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

/// Starts with automerge's magic bytes.
pub fn looks_like_automerge(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x85, 0x6f, 0x4a, 0x83])
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

/// Checks a push before the write transaction, in this order: a valid job id; an existing job
/// must be the caller's (before a byte of it is parsed); then whole automerge chunks within the
/// decoding bounds.
pub fn precheck(tx: &dyn ReadTx, who: &Principal, push: &PushJob) -> Result<(), PushError> {
    field_core::validate::check_id("job_id", &push.job_id)
        .map_err(|e| refused(&push.job_id, "invalid_job_id", e.zh, e.en))?;
    if tx.job_meta(&push.job_id)?.is_some() && !authz::can_write_job(tx, who, &push.job_id)? {
        return Err(not_yours(&push.job_id));
    }
    if !push.changes.is_empty() {
        chunks::check(&push.changes).map_err(|e| {
            refused(
                &push.job_id,
                "not_automerge",
                format!("工单 {} 的数据不是 automerge 变更：{e}", push.job_id),
                format!(
                    "job {}: the data is not automerge changes: {e}",
                    push.job_id
                ),
            )
        })?;
    }
    Ok(())
}

/// What applying one push did.
pub enum Outcome {
    /// Stored (once the transaction commits): the server's heads, and the document to check in.
    Acked {
        ack: Ack,
        loaded: Option<Box<Loaded>>,
    },
    /// The server lacks the base of these changes: continue with automerge's sync protocol.
    Fallback,
}

/// Applies one pushed job inside `tx` (a savepoint of the request): checks scope, applies the
/// changes to a checked-out document, checks them against the caller's rights, records them.
/// The bytes were prechecked ([`precheck`]).
pub fn apply_push(
    tx: &mut dyn WriteTx,
    env: &Env,
    who: &Principal,
    push: &PushJob,
) -> Result<Outcome, PushError> {
    let job_id = push.job_id.as_str();
    let exists = tx.job_meta(job_id)?.is_some();
    if exists && !authz::can_write_job(&*tx, who, job_id)? {
        return Err(not_yours(job_id));
    }
    if push.changes.is_empty() {
        let heads = match env.docs.checkout(&*tx, job_id)? {
            Some(mut l) => {
                let h = to_hashes(&l.doc.heads());
                env.docs.checkin(job_id, l);
                h
            }
            None => Vec::new(),
        };
        return Ok(Outcome::Acked {
            ack: Ack {
                job_id: job_id.to_string(),
                heads,
            },
            loaded: None,
        });
    }
    let (mut doc, before, before_job) = if exists {
        let Loaded { mut doc, .. } = env
            .docs
            .checkout(&*tx, job_id)?
            .ok_or_else(|| ServerError::Internal(format!("job {job_id} vanished")))?;
        let before = doc.heads();
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
        (doc, before, Some(before_job))
    } else {
        match JobDoc::load(&push.changes, server_actor()) {
            Ok(doc) => (doc, Vec::new(), None),
            // The beginning of the job is missing (the server lost it): fall back.
            Err(field_core::job::JobError::Corrupt(_)) if push_has_deps(&push.changes) => {
                return Ok(Outcome::Fallback);
            }
            Err(e) => {
                return Err(refused(
                    job_id,
                    "not_a_job",
                    format!("不是有效的工单文档：{e}"),
                    format!("not a valid job document: {e}"),
                ));
            }
        }
    };
    let ops = automerge::ReadDoc::stats(doc.automerge_ref()).num_ops;
    if ops > JOB_OPS_MAX {
        return Err(refused(
            job_id,
            "job_too_large",
            format!("工单文档过大（{ops} 个操作，最多 {JOB_OPS_MAX}）"),
            format!("the job's document is too large ({ops} operations, at most {JOB_OPS_MAX})"),
        ));
    }
    // Changes whose base the server lacks stay out: the document is dropped, not cached, and the
    // fallback exchange brings everything.
    let complete = push
        .heads
        .iter()
        .filter_map(from_hash)
        .all(|h| doc.has_change(&h));
    if !complete {
        return Ok(Outcome::Fallback);
    }
    let version = record_checked(tx, env, who, job_id, &mut doc, &before, before_job.as_ref())?;
    let heads = to_hashes(&doc.heads());
    Ok(Outcome::Acked {
        ack: Ack {
            job_id: job_id.to_string(),
            heads,
        },
        loaded: Some(Box::new(Loaded { doc, version })),
    })
}

/// Checks the changes `doc` holds beyond `before` against the caller's rights and records them.
/// Returns the job's new version.
pub fn record_checked(
    tx: &mut dyn WriteTx,
    env: &Env,
    who: &Principal,
    job_id: &str,
    doc: &mut JobDoc,
    before: &[ChangeHash],
    before_job: Option<&Job>,
) -> Result<i64, PushError> {
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
    let checked = authz::check_write(doc, before, before_job, who, &policy)
        .map_err(|r| from_refusal(job_id, r))?;
    if let Some(r) = authz::check_blob_names(&*tx, who, job_id, &job, before_job)? {
        return Err(from_refusal(job_id, r));
    }
    if before_job.is_none()
        && let Some(r) = authz::check_new_job_rules(&env.rules(), &job)
    {
        return Err(from_refusal(job_id, r));
    }
    let origin = Origin::Device(who);
    Ok(record(tx, env, origin, job_id, doc, before, &checked)?)
}

/// Whose changes are being recorded.
pub enum Origin<'a> {
    /// A caller's device, checked against the write policy.
    Device(&'a Principal),
    /// The server writing on a browser user's behalf (an office review), after checking their
    /// rights: the changes are the server's, the audit names the user.
    OnBehalf(&'a Principal),
    /// Data the server itself puts in (demo seeding): trusted, attributed to `seed`.
    Seed(&'a str),
    /// The server's own work (escalating a late supervision order).
    Server,
}

impl Origin<'_> {
    fn device(&self) -> &str {
        match self {
            Origin::Device(p) => &p.device_id,
            Origin::OnBehalf(_) | Origin::Server => SERVER_ORIGIN,
            Origin::Seed(name) => name,
        }
    }

    fn username(&self) -> &str {
        match self {
            Origin::Device(p) | Origin::OnBehalf(p) => &p.username,
            Origin::Seed(name) => name,
            Origin::Server => SERVER_ORIGIN,
        }
    }
}

/// Records a document's changes beyond `before` that passed the checks (or come from the
/// server itself). Returns the job's new version.
pub fn record(
    tx: &mut dyn WriteTx,
    env: &Env,
    origin: Origin,
    job_id: &str,
    doc: &mut JobDoc,
    before: &[ChangeHash],
    checked: &Checked,
) -> Result<i64, ServerError> {
    let existed = !before.is_empty();
    let job = doc
        .job()
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    // What the server adds itself, decided from one read of the job.
    let now = chrono::Utc::now();
    let mut own = countersign_edits(&*tx, env, &job, now)?;
    if !own.is_empty()
        && let Some(key) = &env.signing_key
        && tx.state(crate::signing::COUNTERSIGNED_BY)?.is_none()
    {
        // From the first receipt on, the server refuses to start with any other key.
        tx.set_state(crate::signing::COUNTERSIGNED_BY, &key.public_hex())?;
    }
    own.extend(super::assignment::release_on_settlement(&job));
    own.extend(progress_token_edit(&*tx, &job)?);
    let job = if own.is_empty() {
        job
    } else {
        apply_as_server(doc, &own, now)?;
        doc.job()
            .map_err(|e| ServerError::Internal(e.to_string()))?
    };
    let (row, stages) = list_row(env, &job, origin.username(), now_ms());
    tx.upsert_job(&row)?;
    tx.set_stage_clocks(job_id, &stages)?;
    tx.set_supervision(job_id, &super::supervision::rows(&job))?;
    let touched: HashMap<ChangeHash, &ChangeTouches> =
        checked.changes.iter().map(|c| (c.hash, c)).collect();
    let changes = doc.changes_since(before);
    let server = server_actor();
    let seeded = matches!(origin, Origin::Seed(_));
    // Paths of the changes no rights check looked at: the server's own, and all of a seed's.
    let server_paths: HashMap<ChangeHash, Vec<String>> = {
        let own: Vec<automerge::Change> = changes
            .iter()
            .filter(|c| seeded || c.actor_id() == &server)
            .cloned()
            .collect();
        field_core::policy::touched_paths(doc, &own)
            .into_iter()
            .collect()
    };
    let mut newest = None;
    for change in &changes {
        let hash = change.hash();
        let by_server = change.actor_id() == &server;
        let source = if by_server {
            SERVER_ORIGIN
        } else {
            origin.device()
        };
        let Some(seq) = tx.insert_change(job_id, &hash.0, change.raw_bytes(), source)? else {
            continue;
        };
        newest = Some(seq);
        let (sections, paths) = match (touched.get(&hash), server_paths.get(&hash)) {
            (Some(t), _) => (
                t.sections.iter().map(|s| s.as_str().to_string()).collect(),
                t.paths.clone(),
            ),
            (None, Some(paths)) => {
                let sections: BTreeSet<String> = paths
                    .iter()
                    .filter_map(|p| {
                        let parts: Vec<&str> = p.split('.').collect();
                        schema::section_of(&parts).map(|s| s.as_str().to_string())
                    })
                    .collect();
                (sections.into_iter().collect(), paths.clone())
            }
            (None, None) => (Vec::new(), Vec::new()),
        };
        let entry = match (&origin, by_server) {
            (Origin::OnBehalf(who), true) => audit::by(who, "change"),
            (Origin::Server, _) | (_, true) => AuditEntry {
                kind: "change".into(),
                username: Some(SERVER_ORIGIN.into()),
                device_id: Some(SERVER_ORIGIN.into()),
                ..Default::default()
            },
            (Origin::Device(who) | Origin::OnBehalf(who), false) => audit::by(who, "change"),
            (Origin::Seed(name), false) => {
                // Seeded documents name their devices' actors: attribute each change to the
                // registered device and its user where there is one.
                let actor = change.actor_id().to_hex_string();
                let known = tx.actor_devices(std::slice::from_ref(&actor))?.pop();
                AuditEntry {
                    kind: "change".into(),
                    username: Some(known.as_ref().map_or(name.to_string(), |k| k.2.clone())),
                    device_id: Some(known.as_ref().map_or(name.to_string(), |k| k.1.clone())),
                    ..Default::default()
                }
            }
        };
        audit::append(
            tx,
            AuditEntry {
                job_id: Some(job_id.to_string()),
                change_hash: Some(hash.to_string()),
                device_time: Some(change.timestamp().saturating_mul(1000)),
                sections,
                paths,
                detail: serde_json::json!({ "seq": seq, "edit": change.message() }),
                ..entry
            },
        )?;
    }
    let version = match newest {
        Some(seq) => {
            tx.set_doc_seq(job_id, seq)?;
            seq
        }
        None => tx.job_meta(job_id)?.map(|m| m.doc_seq).unwrap_or(0),
    };
    update_access(tx, &job, job_id)?;
    record_blob_refs(tx, &job, job_id)?;
    // A new job gets its snapshot at once: loading it later then needs no replay of changes.
    if !existed || tx.changes_after_snapshot(job_id)? > COMPACT_AFTER {
        tx.save_snapshot(job_id, &doc.save(), version)?;
    }
    Ok(version)
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
    let (limits, stages) = super::clocks::compute(env, job, today);
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
        project_progress: job.project.progress_pct,
    };
    (row, stages)
}

/// The China-time day a job was powered on (its power-on milestone, else the metering record).
pub fn powered_on(job: &Job) -> Option<chrono::NaiveDate> {
    job.milestones
        .values()
        .filter(|m| m.event == Some(field_core::MilestoneEvent::PoweredOn))
        .filter_map(|m| m.at)
        .min()
        .or(job.metering.powered_on_at)
        .map(field_core::job::local_date)
}

/// Where a powered-on job's return visit stands: `due`, `follow_up` (scored at or below the
/// rule set's `low_satisfaction_max`, no follow-up recorded) or `done`.
pub fn visit_state(env: &Env, job: &Job) -> Option<&'static str> {
    powered_on(job)?;
    let v = &job.return_visit;
    let low = env.rules().for_job(job).thresholds.low_satisfaction_max;
    Some(match (v.visited_at, v.satisfaction, v.follow_up_at) {
        (None, _, _) => "due",
        (Some(_), Some(s), None) if s <= low => "follow_up",
        _ => "done",
    })
}

/// Fills in list columns added after a job was last written (run at start; quick when none).
pub fn reproject(env: &Env) -> Result<usize, ServerError> {
    let ids = env.store.read()?.jobs_to_reproject()?;
    if ids.is_empty() {
        return Ok(0);
    }
    let mut tx = env.store.write()?;
    for id in &ids {
        let Some(mut loaded) = env.docs.checkout(&*tx, id)? else {
            continue;
        };
        let job = loaded
            .doc
            .job()
            .map_err(|e| ServerError::Internal(e.to_string()))?;
        let meta = tx.job_meta(id)?.expect("checked out");
        let updated = now_ms();
        let (row, stages) = list_row(env, &job, &meta.created_by, updated);
        tx.upsert_job(&row)?;
        tx.set_stage_clocks(id, &stages)?;
    }
    tx.commit()?;
    Ok(ids.len())
}

/// Applies edits the server makes itself (receipts, releases, tokens, escalations), each as its
/// own change by the server's actor.
pub fn apply_as_server(
    doc: &mut JobDoc,
    edits: &[field_core::Edit],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ServerError> {
    let ctx = field_core::EditContext {
        actor: SERVER_ORIGIN.into(),
        device: SERVER_ORIGIN.into(),
        now,
    };
    for edit in edits {
        doc.apply(edit, &ctx)
            .map_err(|e| ServerError::Internal(e.to_string()))?;
    }
    Ok(())
}

/// Receipts for every signed contract of the job that has none yet. A contract whose device
/// signature does not hold, or whose device registered no key, gets no receipt (verification
/// then names the problem).
fn countersign_edits(
    tx: &dyn ReadTx,
    env: &Env,
    job: &Job,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<field_core::Edit>, ServerError> {
    let mut edits = Vec::new();
    let Some(key) = &env.signing_key else {
        return Ok(edits);
    };
    for (id, c) in &job.contracts {
        if !c.is_signed() || c.receipt.receipt.is_some() {
            continue;
        }
        let Ok(manifest) =
            field_core::contract::Manifest::parse(c.manifest.as_deref().unwrap_or_default())
        else {
            tracing::warn!(job = %job.id, contract = %id, "contract manifest unreadable: no receipt");
            continue;
        };
        let registered = tx.device(&manifest.device_id)?.and_then(|d| d.public_key);
        match field_core::contract::countersign(job, id, registered.as_deref(), key, now) {
            Ok(receipt) => edits.push(field_core::Edit::RecordReceipt {
                contract_id: id.clone(),
                receipt,
            }),
            Err(check) => {
                let (_, en) = check.summary();
                tracing::warn!(job = %job.id, contract = %id, problem = %en, "contract not countersigned");
            }
        }
    }
    Ok(edits)
}

/// The token of the customer's progress page for a job that has none, so the phones can print
/// it on the written receipt.
fn progress_token_edit(
    tx: &dyn ReadTx,
    job: &Job,
) -> Result<Option<field_core::Edit>, ServerError> {
    if job.progress_token.is_some() {
        return Ok(None);
    }
    Ok(super::public::token_in(tx, &job.id)?
        .map(|token| field_core::Edit::RecordProgressToken { token }))
}

/// Managers receive the jobs they are assigned to; the creator keeps access until a customer
/// manager is assigned. A user who loses a job is told at this feed position.
fn update_access(tx: &mut dyn WriteTx, job: &Job, job_id: &str) -> Result<(), ServerError> {
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    wanted.extend(job.assignment.customer_manager.clone());
    wanted.extend(job.assignment.project_manager.clone());
    if job.assignment.customer_manager.is_none()
        && let Some(meta) = tx.job_meta(job_id)?
    {
        wanted.insert(meta.created_by);
    }
    let pos = tx.max_seq()?;
    let current: BTreeSet<String> = tx.access_users(job_id)?.into_iter().collect();
    for gone in current.difference(&wanted) {
        tx.revoke_access(job_id, gone, pos)?;
    }
    for new in wanted.difference(&current) {
        tx.grant_access(job_id, new, pos)?;
    }
    Ok(())
}

/// Records which blobs a job's photos name (photos are immutable, so rows are only added).
fn record_blob_refs(tx: &mut dyn WriteTx, job: &Job, job_id: &str) -> Result<(), ServerError> {
    for (photo_id, photo) in &job.photos {
        for (role, sha, bytes) in photo.blobs() {
            if !field_core::validate::is_sha256_hex(sha) {
                continue;
            }
            let mime = photo.declared_mime(role);
            tx.insert_blob_ref(&BlobRef {
                sha256: sha,
                job_id,
                photo_id,
                role,
                bytes,
                mime,
            })?;
        }
    }
    Ok(())
}

/// Stores a document the server builds itself (demo data): no rights check, attributed to
/// `seed`.
pub fn import_trusted(
    tx: &mut dyn WriteTx,
    env: &Env,
    seed: &str,
    doc: &mut JobDoc,
) -> Result<(), ServerError> {
    let job = doc
        .job()
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    if tx.job_meta(&job.id)?.is_some() {
        return Err(ServerError::conflict(
            "job_exists",
            format!("工单 {} 已存在", job.id),
            format!("job {} already exists", job.id),
        ));
    }
    let checked = Checked::default();
    record(
        tx,
        env,
        Origin::Seed(seed),
        &job.id.clone(),
        doc,
        &[],
        &checked,
    )?;
    Ok(())
}

/// The whole automerge document of a job the caller may see.
pub fn document(env: &Env, who: &Principal, job_id: &str) -> Result<Vec<u8>, ServerError> {
    let tx = env.store.read()?;
    if !authz::can_read_job(&*tx, who, job_id)? {
        return Err(ServerError::NotFound);
    }
    let mut loaded = env
        .docs
        .checkout(&*tx, job_id)?
        .ok_or(ServerError::NotFound)?;
    let bytes = loaded.doc.save();
    env.docs.checkin(job_id, loaded);
    Ok(bytes)
}

/// The typed job as stored (no access check: callers check).
pub fn read_job(env: &Env, job_id: &str) -> Result<Option<Job>, ServerError> {
    let tx = env.store.read()?;
    let Some(mut loaded) = env.docs.checkout(&*tx, job_id)? else {
        return Ok(None);
    };
    let job = loaded
        .doc
        .job()
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    env.docs.checkin(job_id, loaded);
    Ok(Some(job))
}
