//! Job documents on the server: each is a snapshot plus the change log (`changes`), whose
//! `seq` is also the change feed's cursor. Applying pushes, access (scope) and feed pages live here.

use crate::auth::Principal;
use crate::db::{Core, now_ms};
use crate::error::ServerError;
use automerge::{ActorId, ChangeHash};
use field_core::job::{JobDoc, chunks};
use field_core::sync::protocol::{Ack, Hash, PullJob, PushJob};
use field_core::{Calendar, Job, Role, RuleBook};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::{BTreeSet, HashMap};

/// Compact a document when this many changes follow its snapshot.
const COMPACT_AFTER: i64 = 200;
/// Documents kept in memory.
const CACHE_MAX: usize = 256;
/// Default and largest feed page, in bytes of changes.
pub const PAGE_BYTES_DEFAULT: u64 = 4 * 1024 * 1024;
pub const PAGE_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// Loaded job documents.
#[derive(Default)]
pub struct DocCache {
    docs: HashMap<String, JobDoc>,
}

impl DocCache {
    pub fn evict(&mut self, job_id: &str) {
        self.docs.remove(job_id);
    }

    fn put(&mut self, job_id: &str, doc: JobDoc) {
        if self.docs.len() >= CACHE_MAX
            && !self.docs.contains_key(job_id)
            && let Some(k) = self.docs.keys().next().cloned()
        {
            self.docs.remove(&k);
        }
        self.docs.insert(job_id.to_string(), doc);
    }
}

fn server_actor() -> ActorId {
    ActorId::from(b"fieldline-server".as_slice())
}

/// Loads a stored job's document into the cache (snapshot + changes after it).
fn load<'a>(
    conn: &Connection,
    docs: &'a mut DocCache,
    job_id: &str,
) -> Result<Option<&'a mut JobDoc>, ServerError> {
    if !docs.docs.contains_key(job_id) {
        let row: Option<(Option<Vec<u8>>, i64)> = conn
            .query_row(
                "SELECT snapshot, snapshot_seq FROM jobs WHERE job_id = ?1",
                [job_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((snapshot, snapshot_seq)) = row else {
            return Ok(None);
        };
        let mut bytes = snapshot.unwrap_or_default();
        let mut stmt = conn.prepare_cached(
            "SELECT bytes FROM changes WHERE job_id = ?1 AND seq > ?2 ORDER BY seq",
        )?;
        for chunk in stmt.query_map(params![job_id, snapshot_seq], |r| r.get::<_, Vec<u8>>(0))? {
            bytes.extend(chunk?);
        }
        let doc = JobDoc::load(&bytes, server_actor()).map_err(|e| {
            ServerError::Internal(format!("stored job {job_id} is unreadable: {e}"))
        })?;
        docs.put(job_id, doc);
    }
    Ok(docs.docs.get_mut(job_id))
}

/// The unit a stored job belongs to.
fn job_unit(conn: &Connection, job_id: &str) -> Result<Option<String>, ServerError> {
    Ok(conn
        .query_row("SELECT unit FROM jobs WHERE job_id = ?1", [job_id], |r| {
            r.get(0)
        })
        .optional()?)
}

/// Whether `who` may read and write the stored job.
pub fn can_access(conn: &Connection, who: &Principal, job_id: &str) -> Result<bool, ServerError> {
    let Some(unit) = job_unit(conn, job_id)? else {
        return Ok(false);
    };
    if who.role == Role::Admin || (who.sees_unit() && unit == who.unit) {
        return Ok(true);
    }
    let n: i64 = conn.query_row(
        "SELECT COUNT(*) FROM job_access WHERE job_id = ?1 AND username = ?2",
        params![job_id, who.username],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

fn to_hashes(heads: &[ChangeHash]) -> Vec<Hash> {
    heads
        .iter()
        .map(|h| serde_bytes::ByteBuf::from(h.0.to_vec()))
        .collect()
}

fn from_hash(h: &Hash) -> Option<ChangeHash> {
    ChangeHash::try_from(h.as_ref()).ok()
}

fn not_yours(job_id: &str) -> ServerError {
    ServerError::forbidden(
        format!("无权修改工单 {job_id}"),
        format!("job {job_id} is outside your scope"),
    )
}

/// Outcome of applying one pushed job.
pub enum Applied {
    /// Stored durably (once the transaction commits); the server's heads.
    Ack(Ack),
    /// The server lacks the base of these changes: continue with automerge's sync protocol.
    NeedsFallback,
}

/// Applies one pushed job inside the caller's transaction.
pub fn apply_push(
    core: &mut Core,
    who: &Principal,
    push: &PushJob,
    ctx: &Context,
) -> Result<Applied, ServerError> {
    field_core::validate::check_id("job_id", &push.job_id)
        .map_err(|e| ServerError::bad("invalid_job_id", e.zh, e.en))?;
    if push.changes.is_empty() {
        return Ok(Applied::Ack(Ack {
            job_id: push.job_id.clone(),
            heads: current_heads(core, who, &push.job_id)?,
        }));
    }
    let Core { conn, docs } = core;
    let exists = job_unit(conn, &push.job_id)?.is_some();
    // An existing job merges incrementally, which tolerates trailing garbage: check strictly
    // first. A new job is loaded whole, which is strict by itself.
    if exists || !looks_like_automerge(&push.changes) {
        chunks::check(&push.changes).map_err(|e| {
            ServerError::bad(
                "not_automerge",
                format!("工单 {} 的数据不是 automerge 变更：{e}", push.job_id),
                format!(
                    "job {}: the data is not automerge changes: {e}",
                    push.job_id
                ),
            )
        })?;
    }
    let before: Vec<ChangeHash>;
    if exists {
        if !can_access(conn, who, &push.job_id)? {
            return Err(not_yours(&push.job_id));
        }
        let doc = load(conn, docs, &push.job_id)?.expect("exists");
        before = doc.heads();
        doc.apply_remote(&push.changes).map_err(|e| {
            ServerError::bad(
                "bad_changes",
                format!("变更无法应用：{e}"),
                format!("changes cannot be applied: {e}"),
            )
        })?;
    } else {
        before = Vec::new();
        match JobDoc::load(&push.changes, server_actor()) {
            Ok(doc) => docs.put(&push.job_id, doc),
            // The beginning of the job is missing (the server lost it): fall back.
            Err(field_core::job::JobError::Corrupt(_)) if push_has_deps(&push.changes) => {
                return Ok(Applied::NeedsFallback);
            }
            Err(e) => {
                return Err(ServerError::bad(
                    "not_a_job",
                    format!("不是有效的工单文档：{e}"),
                    format!("not a valid job document: {e}"),
                ));
            }
        }
    }
    let doc = docs.docs.get_mut(&push.job_id).expect("loaded above");
    let complete = push
        .heads
        .iter()
        .filter_map(from_hash)
        .all(|h| doc.has_change(&h));
    if !complete {
        return Ok(Applied::NeedsFallback);
    }
    record(conn, doc, who, &push.job_id, &before, exists, ctx)?;
    Ok(Applied::Ack(Ack {
        job_id: push.job_id.clone(),
        heads: to_hashes(&doc.heads()),
    }))
}

/// Starts with automerge's magic bytes.
fn looks_like_automerge(bytes: &[u8]) -> bool {
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

fn current_heads(core: &mut Core, who: &Principal, job_id: &str) -> Result<Vec<Hash>, ServerError> {
    let Core { conn, docs } = core;
    if job_unit(conn, job_id)?.is_none() {
        return Ok(Vec::new());
    }
    if !can_access(conn, who, job_id)? {
        return Err(not_yours(job_id));
    }
    let doc = load(conn, docs, job_id)?.expect("exists");
    Ok(to_hashes(&doc.heads()))
}

/// Rules and calendar for server-side projections, and the key that countersigns contracts.
pub struct Context {
    pub rules: RuleBook,
    pub calendar: Calendar,
    /// `None`: contracts are stored without a receipt (tools that only read).
    pub signing_key: Option<field_core::contract::KeyPair>,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            rules: RuleBook::default(),
            calendar: Calendar::embedded(),
            signing_key: None,
        }
    }
}

/// The origin recorded for changes the server writes itself (never filtered from any feed).
pub const SERVER_ORIGIN: &str = "server";

/// Countersigns every signed contract of the job that has no receipt yet, as changes by the
/// server's actor. A contract whose device signature does not hold, or whose device registered
/// no key, is left without a receipt (verification then names the problem).
fn countersign_contracts(
    conn: &Connection,
    doc: &mut JobDoc,
    job: &Job,
    ctx: &Context,
) -> Result<(), ServerError> {
    let Some(key) = &ctx.signing_key else {
        return Ok(());
    };
    let now = chrono::Utc::now();
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
        let registered = crate::auth::device_key_of(conn, &manifest.device_id)?;
        match field_core::contract::countersign(job, id, registered.as_deref(), key, now) {
            Ok(receipt) => {
                let edit = field_core::Edit::RecordReceipt {
                    contract_id: id.clone(),
                    receipt,
                };
                let ectx = field_core::EditContext {
                    actor: SERVER_ORIGIN.into(),
                    device: SERVER_ORIGIN.into(),
                    now,
                };
                doc.apply(&edit, &ectx)
                    .map_err(|e| ServerError::Internal(e.to_string()))?;
            }
            Err(check) => {
                let (_, en) = check.summary();
                tracing::warn!(job = %job.id, contract = %id, problem = %en, "contract not countersigned");
            }
        }
    }
    Ok(())
}

/// After a document changed: log its new changes, update its row and its access list, compact.
fn record(
    conn: &Connection,
    doc: &mut JobDoc,
    who: &Principal,
    job_id: &str,
    before: &[ChangeHash],
    existed: bool,
    ctx: &Context,
) -> Result<(), ServerError> {
    let job = doc.job().map_err(|e| {
        ServerError::bad(
            "not_a_job",
            format!("不是有效的工单文档：{e}"),
            format!("not a valid job document: {e}"),
        )
    })?;
    if job.id != job_id {
        return Err(ServerError::bad(
            "job_id_mismatch",
            "文档中的工单号与请求不符",
            "the document's job id does not match the request",
        ));
    }
    if existed {
        let unit = job_unit(conn, job_id)?.unwrap_or_default();
        if job.unit != unit {
            return Err(ServerError::bad(
                "unit_changed",
                "不能修改工单所属单位",
                "a job's unit cannot be changed",
            ));
        }
    } else if who.role != Role::Admin && job.unit != who.unit {
        return Err(ServerError::forbidden(
            format!("不能为其他单位（{}）创建工单", job.unit),
            format!("you cannot create jobs for another unit ({})", job.unit),
        ));
    }
    countersign_contracts(conn, doc, &job, ctx)?;
    let today = field_core::job::local_date(chrono::Utc::now());
    let limits = field_core::sla::time_limits(&job, ctx.rules.for_job(&job), &ctx.calendar, today);
    conn.execute(
        "INSERT INTO jobs (job_id, unit, kind, job_no, status, customer_name, customer_manager,
            project_manager, next_due, sla_state, created_by, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
         ON CONFLICT (job_id) DO UPDATE SET kind = excluded.kind, job_no = excluded.job_no,
            status = excluded.status, customer_name = excluded.customer_name,
            customer_manager = excluded.customer_manager, project_manager = excluded.project_manager,
            next_due = excluded.next_due, sla_state = excluded.sla_state, updated_at = excluded.updated_at",
        params![
            job_id,
            job.unit,
            job.kind.as_str(),
            job.job_no,
            job.status().as_str(),
            job.customer.name.clone().unwrap_or_default(),
            job.assignment.customer_manager,
            job.assignment.project_manager,
            limits.next_due().map(|d| d.to_string()),
            limits.worst().map(|s| s.as_str()),
            who.username,
            now_ms(),
        ],
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO changes (job_id, hash, bytes, origin_device) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let server = server_actor();
    for change in doc.changes_since(before) {
        let hash = change.hash();
        let origin = if change.actor_id() == &server {
            SERVER_ORIGIN
        } else {
            who.device_id.as_str()
        };
        insert.execute(params![job_id, hash.0.to_vec(), change.raw_bytes(), origin])?;
    }
    update_access(conn, &job, job_id)?;
    crate::uploads::record_blob_refs(conn, &job, job_id)?;
    let (snapshot_seq, max_seq): (i64, i64) = conn.query_row(
        "SELECT j.snapshot_seq, COALESCE(MAX(c.seq), 0) FROM jobs j LEFT JOIN changes c
         ON c.job_id = j.job_id WHERE j.job_id = ?1",
        [job_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let pending: i64 = conn.query_row(
        "SELECT COUNT(*) FROM changes WHERE job_id = ?1 AND seq > ?2",
        params![job_id, snapshot_seq],
        |r| r.get(0),
    )?;
    // A new job gets its snapshot at once: loading it later then needs no replay of changes.
    if pending > COMPACT_AFTER || !existed {
        conn.execute(
            "UPDATE jobs SET snapshot = ?2, snapshot_seq = ?3 WHERE job_id = ?1",
            params![job_id, doc.save(), max_seq],
        )?;
    }
    Ok(())
}

/// Managers receive the jobs they are assigned to; the creator keeps access until a customer
/// manager is assigned.
fn update_access(conn: &Connection, job: &Job, job_id: &str) -> Result<(), ServerError> {
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    wanted.extend(job.assignment.customer_manager.clone());
    wanted.extend(job.assignment.project_manager.clone());
    if job.assignment.customer_manager.is_none() {
        let creator: String = conn.query_row(
            "SELECT created_by FROM jobs WHERE job_id = ?1",
            [job_id],
            |r| r.get(0),
        )?;
        wanted.insert(creator);
    }
    let max_seq: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| {
        r.get(0)
    })?;
    let current: BTreeSet<String> = conn
        .prepare_cached("SELECT username FROM job_access WHERE job_id = ?1")?
        .query_map([job_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for gone in current.difference(&wanted) {
        conn.execute(
            "DELETE FROM job_access WHERE job_id = ?1 AND username = ?2",
            params![job_id, gone],
        )?;
    }
    for new in wanted.difference(&current) {
        conn.execute(
            "INSERT INTO job_access (job_id, username, entered_seq) VALUES (?1, ?2, ?3)",
            params![job_id, new, max_seq],
        )?;
    }
    Ok(())
}

/// Applies bytes that arrived through the fallback protocol: same checks as a push.
pub fn record_fallback(
    core: &mut Core,
    who: &Principal,
    job_id: &str,
    before: &[ChangeHash],
    existed: bool,
    ctx: &Context,
) -> Result<(), ServerError> {
    let Core { conn, docs } = core;
    let doc = docs
        .docs
        .get_mut(job_id)
        .expect("caller loaded the document");
    record(conn, doc, who, job_id, before, existed, ctx)
}

/// The document of a job for the fallback protocol: loaded, or `None` when the server has none.
pub fn doc_for_fallback<'a>(
    core: &'a mut Core,
    who: &Principal,
    job_id: &str,
) -> Result<Option<&'a mut JobDoc>, ServerError> {
    let Core { conn, docs } = core;
    if job_unit(conn, job_id)?.is_some() {
        if !can_access(conn, who, job_id)? {
            return Err(not_yours(job_id));
        }
        return load(conn, docs, job_id);
    }
    Ok(None)
}

/// Installs a document built by the fallback protocol for a job the server did not have.
pub fn adopt(core: &mut Core, job_id: &str, doc: JobDoc) {
    core.docs.put(job_id, doc);
}

/// One page of the feed for `who` after `cursor`: changes of jobs in scope, and the earlier
/// history of jobs that entered the scope after `cursor`. Changes this device pushed itself are
/// left out. Returns the page, the next cursor and whether more is waiting.
pub fn feed_page(
    conn: &Connection,
    who: &Principal,
    cursor: u64,
    page_bytes: u64,
) -> Result<(Vec<PullJob>, u64, bool), ServerError> {
    let cursor = cursor as i64;
    let max_seq: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| {
        r.get(0)
    })?;
    if cursor > max_seq {
        // A cursor from another server (or a restored backup): start over, idempotently.
        return feed_page(conn, who, 0, page_bytes);
    }
    // (position, seq, job_id, bytes)
    let mut items: Vec<(i64, i64, String, Vec<u8>)> = Vec::new();
    let budget = page_bytes.clamp(1, PAGE_BYTES_MAX) as usize;
    let scope_sql = if who.role == Role::Admin {
        "SELECT c.seq, c.job_id, c.bytes FROM changes c
         WHERE c.seq > ?1 AND c.origin_device != ?2 ORDER BY c.seq LIMIT ?4"
    } else if who.sees_unit() {
        "SELECT c.seq, c.job_id, c.bytes FROM changes c JOIN jobs j ON j.job_id = c.job_id
         WHERE c.seq > ?1 AND c.origin_device != ?2 AND j.unit = ?3 ORDER BY c.seq LIMIT ?4"
    } else {
        "SELECT c.seq, c.job_id, c.bytes FROM changes c JOIN job_access a ON a.job_id = c.job_id
         WHERE c.seq > ?1 AND c.origin_device != ?2 AND a.username = ?3 ORDER BY c.seq LIMIT ?4"
    };
    let who_key = if who.sees_unit() {
        &who.unit
    } else {
        &who.username
    };
    // The main query stops once the budget is spent; then nothing beyond its last seq may be
    // sent, or the next cursor would skip changes.
    let mut taken = 0usize;
    let mut limit_pos = max_seq;
    {
        let mut stmt = conn.prepare_cached(scope_sql)?;
        let mut rows = stmt.query(params![cursor, who.device_id, who_key, 100_000])?;
        while let Some(r) = rows.next()? {
            let bytes: Vec<u8> = r.get(2)?;
            taken += bytes.len();
            let seq: i64 = r.get(0)?;
            items.push((seq, seq, r.get(1)?, bytes));
            if taken >= budget {
                limit_pos = seq;
                break;
            }
        }
    }
    if !who.sees_unit() {
        // Jobs that entered this user's scope after the cursor: send their earlier history.
        let entered: Vec<(String, i64)> = conn
            .prepare_cached(
                "SELECT job_id, entered_seq FROM job_access
                 WHERE username = ?1 AND entered_seq > ?2 AND entered_seq <= ?3",
            )?
            .query_map(params![who.username, cursor, limit_pos], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<Result<_, _>>()?;
        let mut stmt = conn.prepare_cached(
            "SELECT seq, bytes FROM changes WHERE job_id = ?1 AND seq <= ?2 ORDER BY seq",
        )?;
        for (job_id, at) in entered {
            let rows: Vec<(i64, Vec<u8>)> = stmt
                .query_map(params![job_id, cursor], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            for (seq, bytes) in rows {
                items.push((at, seq, job_id.clone(), bytes));
            }
        }
    }
    items.sort_by_key(|(pos, seq, _, _)| (*pos, *seq));
    // Cut the page at a position boundary once the budget is spent.
    let mut end = items.len();
    let mut used = 0usize;
    for (i, item) in items.iter().enumerate() {
        used += item.3.len();
        if used >= budget {
            let pos = item.0;
            end = items[i..]
                .iter()
                .position(|x| x.0 != pos)
                .map(|p| i + p)
                .unwrap_or(items.len());
            break;
        }
    }
    let truncated = end < items.len();
    items.truncate(end);
    let next_cursor = if truncated {
        items.last().map(|x| x.0).unwrap_or(cursor)
    } else {
        limit_pos
    };
    let more = next_cursor < max_seq;
    // Group consecutive changes by job, keeping causal (seq) order within each job.
    let mut order: Vec<String> = Vec::new();
    let mut by_job: HashMap<String, Vec<u8>> = HashMap::new();
    for (_, _, job_id, bytes) in items {
        if !by_job.contains_key(&job_id) {
            order.push(job_id.clone());
        }
        by_job.entry(job_id).or_default().extend(bytes);
    }
    let pull = order
        .into_iter()
        .map(|job_id| {
            let changes = by_job.remove(&job_id).unwrap_or_default();
            PullJob { job_id, changes }
        })
        .collect();
    Ok((pull, next_cursor as u64, more))
}

/// The whole automerge document of a job the caller may see.
pub fn document(core: &mut Core, who: &Principal, job_id: &str) -> Result<Vec<u8>, ServerError> {
    let Core { conn, docs } = core;
    if !can_access(conn, who, job_id)? {
        return Err(ServerError::NotFound);
    }
    let doc = load(conn, docs, job_id)?.ok_or(ServerError::NotFound)?;
    Ok(doc.save())
}

/// The typed job, for server-side views and tests.
pub fn read_job(core: &mut Core, job_id: &str) -> Result<Option<Job>, ServerError> {
    let Core { conn, docs } = core;
    let Some(doc) = load(conn, docs, job_id)? else {
        return Ok(None);
    };
    doc.job()
        .map(Some)
        .map_err(|e| ServerError::Internal(e.to_string()))
}
