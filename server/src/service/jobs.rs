//! The record path of job documents: every write of a job (a phone's push, a fallback
//! exchange, an office's edit on a user's behalf, the server's own) is *planned* outside any
//! lock from the job as it stands — the server's own edits applied, the derived rows computed
//! (`derived`), the audit entries, access, photo references and snapshot decided — into one
//! [`JobWrite`]. The write transaction then only stores it, if the job is still at the version
//! it was planned from; if another write of the job came first, the write is planned again.

use super::docs::{Loaded, server_actor};
use super::{Env, audit, derived, now_ms, server_edits};
use crate::authz;
use crate::authz::Principal;
use crate::error::ServerError;
use crate::store::{
    AuditEntry, BlobRefRow, JobState, JobWrite, NewChange, ReadTx, StoreError, WriteTx,
};
use automerge::ChangeHash;
use field_core::Job;
use field_core::job::{JobDoc, schema};
use field_core::policy::{ChangeTouches, Checked};
use std::collections::{BTreeSet, HashMap};

/// Compact a document when this many changes follow its snapshot.
const COMPACT_AFTER: i64 = 200;

/// How often a write is planned again when other writes of the job keep coming first.
pub const ATTEMPTS: usize = 5;

/// The origin recorded for changes the server writes itself (never filtered from any feed).
pub const SERVER_ORIGIN: &str = "server";

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
    /// The customer, through their tracking link (no account): the changes are the server's,
    /// the audit names the customer.
    Customer,
}

/// The name the audit gives a customer acting through their tracking link.
pub const CUSTOMER: &str = "customer";

impl Origin<'_> {
    fn device(&self) -> &str {
        match self {
            Origin::Device(p) => &p.device_id,
            Origin::OnBehalf(_) | Origin::Server | Origin::Customer => SERVER_ORIGIN,
            Origin::Seed(name) => name,
        }
    }

    fn username(&self) -> &str {
        match self {
            Origin::Device(p) | Origin::OnBehalf(p) => &p.username,
            Origin::Seed(name) => name,
            Origin::Server => SERVER_ORIGIN,
            Origin::Customer => CUSTOMER,
        }
    }
}

/// A job's write, planned: what to store, and the document it leaves (checked in once the
/// write committed).
pub struct Planned {
    pub write: JobWrite,
    pub doc: JobDoc,
}

impl Planned {
    /// The job's version once the write is stored.
    pub fn version(&self) -> i64 {
        self.write.expected.unwrap_or(0) + self.write.changes.len() as i64
    }

    /// Stores the write in `tx`; `false` when the job moved on (the document is dropped from
    /// the cache: plan again).
    pub fn store(&self, tx: &mut dyn WriteTx, env: &Env) -> Result<bool, StoreError> {
        let stored = tx.write_job(&self.write)?;
        if !stored {
            env.docs.evict(&self.write.job_id);
        }
        Ok(stored)
    }

    /// After the commit: the document goes back to the cache at its new version.
    pub fn check_in(self, env: &Env) {
        let version = self.version();
        let Planned { write, doc } = self;
        env.docs.checkin(&write.job_id, Loaded { doc, version });
    }
}

/// The job's document as of `state` (read in the same snapshot), or a new one.
pub fn load(
    tx: &dyn ReadTx,
    env: &Env,
    job_id: &str,
    state: &JobState,
) -> Result<JobDoc, ServerError> {
    env.docs
        .checkout_at(tx, job_id, state.meta.version)
        .map(|l| l.doc)
}

/// The job a write is planned from.
#[derive(Default)]
pub struct Before<'a> {
    /// Its heads (empty: a new job).
    pub heads: &'a [ChangeHash],
    /// The typed job at those heads.
    pub job: Option<&'a Job>,
    /// Its meta and access as read (`None`: a new job).
    pub state: Option<&'a JobState>,
    /// The changes the document holds beyond `heads`, when the caller collected them already.
    pub changes: Option<Vec<automerge::Change>>,
}

impl<'a> Before<'a> {
    /// An existing job at `heads` (as `job`, read with `state`), its changes to be collected.
    pub fn at(heads: &'a [ChangeHash], job: &'a Job, state: &'a JobState) -> Before<'a> {
        Before {
            heads,
            job: Some(job),
            state: Some(state),
            changes: None,
        }
    }
}

/// Plans recording the changes `doc` holds beyond `before` that passed the checks, or come
/// from the server itself.
pub fn plan(
    tx: &dyn ReadTx,
    env: &Env,
    origin: Origin,
    job_id: &str,
    mut doc: JobDoc,
    before: Before,
    checked: &Checked,
) -> Result<Planned, ServerError> {
    let internal = |e: field_core::job::JobError| ServerError::Internal(e.to_string());
    let (before_job, state) = (before.job, before.state);
    let mut changes = match before.changes {
        Some(c) => c,
        None => doc.changes_since(before.heads),
    };
    let job = doc.job().map_err(internal)?;
    let now = chrono::Utc::now();
    let facts = server_edits::facts(tx, env, &job)?;
    let own = server_edits::edits(env, &job, &facts, now);
    let mut server_state = Vec::new();
    if own
        .iter()
        .any(|e| matches!(e, field_core::Edit::RecordReceipt { .. }))
        && let Some(key) = &env.signing_key
    {
        // From the first receipt on, the server refuses to start with any other key.
        server_state.push((
            crate::signing::COUNTERSIGNED_BY.to_string(),
            key.public_hex(),
        ));
    }
    let job = if own.is_empty() {
        job
    } else {
        let from = doc.heads();
        apply_as_server(&mut doc, &own, now)?;
        changes.extend(doc.changes_since(&from));
        doc.job().map_err(internal)?
    };
    let created_by = state.map_or(origin.username(), |s| s.meta.created_by.as_str());
    let (row, clocks) = derived::list_row(env, &job, created_by, now_ms());
    let orders = derived::supervision_rows(&job);
    let agenda = derived::agenda_rows(&job);
    // Derived rows are rewritten only when they changed (the daily recomputation keeps the
    // clocks of an untouched job current).
    let (clocks, orders, agenda, previous) = match before_job {
        Some(b) => {
            let (old_row, old_clocks) = derived::list_row(env, b, created_by, 0);
            (
                (old_clocks != clocks).then_some(clocks),
                (derived::supervision_rows(b) != orders).then_some(orders),
                (derived::agenda_rows(b) != agenda).then_some(agenda),
                Some(old_row),
            )
        }
        None => (
            Some(clocks),
            (!orders.is_empty()).then_some(orders),
            (!agenda.is_empty()).then_some(agenda),
            None,
        ),
    };
    let audit = audit_entries(tx, &origin, job_id, &doc, &changes, checked)?;
    let (grant, revoke) = access_moves(&job, created_by, state);
    let blob_refs = new_blob_refs(&job, before_job);
    let expected = state.map(|s| s.meta.version);
    let version = expected.unwrap_or(0) + changes.len() as i64;
    // A new job gets its snapshot at once: loading it later then needs no replay of changes.
    let snapshot = match state {
        Some(s) if version - s.meta.snapshot_n <= COMPACT_AFTER => None,
        _ => Some(doc.save_plain()),
    };
    let changes = changes
        .iter()
        .map(|c| NewChange {
            hash: c.hash().0.to_vec(),
            bytes: c.raw_bytes().to_vec(),
            origin: if c.actor_id() == &server_actor() {
                SERVER_ORIGIN.to_string()
            } else {
                origin.device().to_string()
            },
        })
        .collect();
    Ok(Planned {
        write: JobWrite {
            job_id: job_id.to_string(),
            expected,
            row,
            previous,
            clocks,
            supervision: orders,
            agenda,
            changes,
            audit,
            grant,
            revoke,
            blob_refs,
            snapshot,
            state: server_state,
        },
        doc,
    })
}

/// One audit entry per new change: who (the origin, or the server for its own changes), the
/// sections and paths it wrote (from the rights check, or worked out here for changes no
/// check looked at).
fn audit_entries(
    tx: &dyn ReadTx,
    origin: &Origin,
    job_id: &str,
    doc: &JobDoc,
    changes: &[automerge::Change],
    checked: &Checked,
) -> Result<Vec<AuditEntry>, ServerError> {
    let touched: HashMap<ChangeHash, &ChangeTouches> =
        checked.changes.iter().map(|c| (c.hash, c)).collect();
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
    // Seeded documents name their devices' actors: each change is attributed to the registered
    // device and its user where there is one (one read for all).
    let devices: HashMap<String, (String, String)> = if seeded {
        let actors: BTreeSet<String> = changes
            .iter()
            .map(|c| c.actor_id().to_hex_string())
            .collect();
        tx.actor_devices(&actors.into_iter().collect::<Vec<_>>())?
            .into_iter()
            .map(|(actor, device, user, _)| (actor, (device, user)))
            .collect()
    } else {
        HashMap::new()
    };
    let now = now_ms();
    let mut entries = Vec::with_capacity(changes.len());
    for change in changes {
        let hash = change.hash();
        let by_server = change.actor_id() == &server;
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
        let entry = match (origin, by_server) {
            (Origin::OnBehalf(who), true) => audit::by(who, "change"),
            (Origin::Customer, _) => AuditEntry {
                kind: "change".into(),
                username: Some(CUSTOMER.into()),
                device_id: Some("progress-link".into()),
                ..Default::default()
            },
            (Origin::Server, _) | (_, true) => AuditEntry {
                kind: "change".into(),
                username: Some(SERVER_ORIGIN.into()),
                device_id: Some(SERVER_ORIGIN.into()),
                ..Default::default()
            },
            (Origin::Device(who) | Origin::OnBehalf(who), false) => audit::by(who, "change"),
            (Origin::Seed(name), false) => {
                let known = devices.get(&change.actor_id().to_hex_string());
                AuditEntry {
                    kind: "change".into(),
                    username: Some(known.map_or(name.to_string(), |k| k.1.clone())),
                    device_id: Some(known.map_or(name.to_string(), |k| k.0.clone())),
                    ..Default::default()
                }
            }
        };
        entries.push(AuditEntry {
            at: now,
            job_id: Some(job_id.to_string()),
            change_hash: Some(hash.to_string()),
            device_time: Some(change.timestamp().saturating_mul(1000)),
            sections,
            paths,
            detail: serde_json::json!({ "edit": change.message() }),
            ..entry
        });
    }
    Ok(entries)
}

/// Managers receive the jobs they are assigned to; the creator keeps access until a customer
/// manager is assigned. Returns who gains and who loses access.
fn access_moves(
    job: &Job,
    created_by: &str,
    state: Option<&JobState>,
) -> (Vec<String>, Vec<String>) {
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    wanted.extend(job.assignment.customer_manager.clone());
    wanted.extend(job.assignment.project_manager.clone());
    if job.assignment.customer_manager.is_none() {
        wanted.insert(created_by.to_string());
    }
    let current: BTreeSet<String> = state
        .map(|s| s.access.iter().cloned().collect())
        .unwrap_or_default();
    (
        wanted.difference(&current).cloned().collect(),
        current.difference(&wanted).cloned().collect(),
    )
}

/// The blobs the photos new in `job` name (photos are immutable: rows are only added).
fn new_blob_refs(job: &Job, before_job: Option<&Job>) -> Vec<BlobRefRow> {
    let mut refs = Vec::new();
    for (photo_id, photo) in &job.photos {
        if before_job.is_some_and(|b| b.photos.contains_key(photo_id)) {
            continue;
        }
        for (role, sha, bytes) in photo.blobs() {
            if !field_core::validate::is_sha256_hex(sha) {
                continue;
            }
            refs.push(BlobRefRow {
                sha256: sha.to_string(),
                photo_id: photo_id.clone(),
                role: role.to_string(),
                bytes,
                mime: photo.declared_mime(role).to_string(),
            });
        }
    }
    refs
}

/// Plans a job's write with `plan` (on a fresh read each time) and stores it with `after` in
/// the same transaction, planning again while other writes of the job come first. `plan`
/// returns `None` when there is nothing to write.
pub fn write<T>(
    env: &Env,
    job_id: &str,
    mut plan: impl FnMut(&dyn ReadTx) -> Result<Option<Planned>, ServerError>,
    mut after: impl FnMut(&mut dyn WriteTx, &mut JobDoc) -> Result<T, ServerError>,
) -> Result<Option<T>, ServerError> {
    for _ in 0..ATTEMPTS {
        let planned = {
            let tx = env.store.read()?;
            plan(&*tx)?
        };
        let Some(mut planned) = planned else {
            return Ok(None);
        };
        let mut tx = env.store.write_beside()?;
        if !planned.store(&mut *tx, env)? {
            continue;
        }
        let out = after(&mut *tx, &mut planned.doc)?;
        tx.commit()?;
        planned.check_in(env);
        return Ok(Some(out));
    }
    Err(busy(job_id))
}

/// Other writes of a job kept coming first.
pub fn busy(job_id: &str) -> ServerError {
    ServerError::conflict(
        "job_busy",
        format!("工单 {job_id} 正被频繁修改，请稍后重试"),
        format!("job {job_id} is being changed by others right now: try again"),
    )
}

/// Rewrites the derived rows of jobs whose list row predates a column (run at start; quick
/// when none).
pub fn reproject(env: &Env) -> Result<usize, ServerError> {
    let ids = env.store.read()?.jobs_to_reproject()?;
    for id in &ids {
        write(
            env,
            id,
            |tx| {
                let Some(state) = tx.job_state(id)? else {
                    return Ok(None);
                };
                let mut doc = load(tx, env, id, &state)?;
                let heads = doc.heads();
                let mut planned = plan(
                    tx,
                    env,
                    Origin::Server,
                    id,
                    doc,
                    Before {
                        heads: &heads,
                        state: Some(&state),
                        ..Default::default()
                    },
                    &Checked::default(),
                )?;
                // Planned as from no earlier job, every derived row is written (none, for
                // supervision orders: what the store holds is cleared).
                planned.write.supervision.get_or_insert_with(Vec::new);
                Ok(Some(planned))
            },
            |_, _| Ok(()),
        )?;
    }
    Ok(ids.len())
}

/// Applies `edits` as `ctx`'s: an edit the document refuses is a bad request with its reason
/// (zh and en), anything else the server's own failure.
pub fn apply_edits(
    doc: &mut JobDoc,
    edits: &[field_core::Edit],
    ctx: &field_core::EditContext,
) -> Result<(), ServerError> {
    for e in edits {
        doc.apply(e, ctx).map_err(|e| match e {
            field_core::job::JobError::Invalid(i) => ServerError::bad("invalid_value", i.zh, i.en),
            other => ServerError::Internal(other.to_string()),
        })?;
    }
    Ok(())
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
    let exists = || {
        ServerError::conflict(
            "job_exists",
            format!("工单 {} 已存在", job.id),
            format!("job {} already exists", job.id),
        )
    };
    if tx.job_meta(&job.id)?.is_some() {
        return Err(exists());
    }
    let planned = plan(
        &*tx,
        env,
        Origin::Seed(seed),
        &job.id,
        JobDoc::load(&doc.save(), server_actor())
            .map_err(|e| ServerError::Internal(e.to_string()))?,
        Before::default(),
        &Checked::default(),
    )?;
    if !tx.write_job(&planned.write)? {
        return Err(exists());
    }
    *doc = planned.doc;
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
