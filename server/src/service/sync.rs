//! One sync exchange. The request was decoded before this runs. Each pushed job (and each
//! message of a fallback exchange) is planned on a read of the store, outside any lock: checked,
//! merged, its rights checked, what to store worked out (`push`, `jobs`). Then one write
//! transaction stores the planned jobs, in job order, each only if its job is still at the
//! version it was planned from; a refused job is reported in `rejected` and blocks nothing, a job
//! another write changed meanwhile is planned again (and left for the next sync if that keeps
//! happening). The response is sent only after the commit; the feed page is read afterwards from
//! a reader, which never waits for writers.

use super::docs::server_actor;
use super::jobs::{self, Planned};
use super::push::{self, PushError, PushPlan};
use super::{Env, audit, feed};
use crate::authz;
use crate::authz::Principal;
use crate::error::ServerError;
use crate::store::{AuditEntry, ReadTx};
use automerge::AutoCommit;
use automerge::sync::{self as amsync, SyncDoc};
use field_core::job::JobDoc;
use field_core::sync::protocol::{
    Ack, PROTOCOL_VERSION, PushJob, Rejected, SyncMessage, SyncRequest, SyncResponse,
};

/// At most this many jobs, or jobs with this many new changes, are written per transaction.
const COMMIT_JOBS: usize = 16;
const COMMIT_CHANGES: usize = 400;

/// The most photo files one response asks for again (the rest at the next push).
const WANTED_BLOBS_MAX: usize = 1000;

/// One job's part of a request.
#[derive(Clone)]
enum Item<'r> {
    Push(&'r PushJob),
    Message(&'r str, amsync::Message),
}

impl Item<'_> {
    fn job_id(&self) -> &str {
        match self {
            Item::Push(p) => &p.job_id,
            Item::Message(job_id, _) => job_id,
        }
    }
}

/// What one item came to once planned.
#[derive(Default)]
struct Outcome {
    ack: Option<Ack>,
    planned: Option<Box<Planned>>,
    /// The job falls back to automerge's sync protocol.
    fallback: Option<String>,
    message: Option<SyncMessage>,
    /// A fallback exchange's state to save: `(job_id, state)`.
    state: Option<(String, Vec<u8>)>,
}

/// Handles a decoded, authenticated sync request.
pub fn handle(env: &Env, who: &Principal, req: &SyncRequest) -> Result<SyncResponse, ServerError> {
    if req.device_id != who.device_id {
        return Err(ServerError::forbidden(
            "设备与登录凭证不符",
            "the device id does not match the login token",
        ));
    }
    let mut resp = SyncResponse {
        protocol: PROTOCOL_VERSION,
        acks: Vec::new(),
        fallback: Vec::new(),
        messages: Vec::new(),
        rejected: Vec::new(),
        pull: Vec::new(),
        cursor: req.cursor,
        more: false,
        gone: Vec::new(),
        wanted_blobs: Vec::new(),
        server_keys: env.server_keys(),
    };
    let mut items: Vec<Item> = req.push.iter().map(Item::Push).collect();
    for m in &req.messages {
        if let Err(e) = field_core::validate::check_id("job_id", &m.job_id) {
            resp.rejected
                .push(rejected(&m.job_id, "invalid_job_id", e.zh, e.en));
            continue;
        }
        match amsync::Message::decode(&m.message) {
            Ok(msg) => items.push(Item::Message(&m.job_id, msg)),
            Err(e) => resp.rejected.push(rejected(
                &m.job_id,
                "bad_sync_message",
                format!("同步消息无法解析：{e}"),
                format!("the sync message cannot be decoded: {e}"),
            )),
        }
    }
    // Rows of the same job in one request are written in request order, jobs in id order (so
    // two requests never wait for each other's jobs in opposite orders).
    items.sort_by(|a, b| a.job_id().cmp(b.job_id()));
    let mut audited = 0;
    for attempt in 0..jobs::ATTEMPTS {
        if items.is_empty() && audited == resp.rejected.len() {
            break;
        }
        let planned = {
            let mut planned = Vec::with_capacity(items.len());
            for (item, outcome) in items.iter().zip(plan_all(env, who, &items)?) {
                match outcome {
                    Ok(outcome) => planned.push((item.clone(), outcome)),
                    Err(PushError::Refused(r)) => {
                        env.docs.evict(item.job_id());
                        resp.rejected.push(r);
                    }
                    Err(PushError::Failed(e)) => return Err(e),
                }
            }
            planned
        };
        let mut again = Vec::new();
        let mut stored = Vec::with_capacity(planned.len());
        // Written a few jobs per transaction (each job's write stands alone), so a large push
        // never holds the writer (SQLite) or many rows (PostgreSQL) for long.
        let mut planned = planned.into_iter().peekable();
        let mut first = true;
        while first || planned.peek().is_some() {
            let mut tx = env.store.write_beside()?;
            let (mut jobs_in, mut changes_in) = (0, 0);
            while jobs_in < COMMIT_JOBS
                && changes_in < COMMIT_CHANGES
                && let Some((item, outcome)) = planned.next()
            {
                jobs_in += 1;
                if let Some(p) = &outcome.planned {
                    changes_in += p.write.changes.len();
                    if !p.store(&mut *tx, env)? {
                        again.push(item);
                        continue;
                    }
                }
                if let Some((job_id, state)) = &outcome.state {
                    tx.save_fallback_state(&who.device_id, job_id, state)?;
                }
                stored.push(outcome);
            }
            if first {
                for r in &resp.rejected[audited..] {
                    audit::append(
                        &mut *tx,
                        AuditEntry {
                            job_id: Some(r.job_id.clone()),
                            paths: r.paths.clone(),
                            detail: serde_json::json!({ "code": r.code, "en": r.en }),
                            ..audit::by(who, "push_refused")
                        },
                    )?;
                }
                first = false;
            }
            crate::fault::point("sync_before_commit");
            tx.commit()?;
            crate::fault::point("sync_after_commit");
        }
        audited = resp.rejected.len();
        for outcome in stored {
            if let Some(p) = outcome.planned {
                p.check_in(env);
            }
            resp.acks.extend(outcome.ack);
            resp.fallback.extend(outcome.fallback);
            resp.messages.extend(outcome.message);
        }
        if !again.is_empty() {
            tracing::debug!(
                jobs = again.len(),
                attempt,
                "jobs changed meanwhile: planned again"
            );
        }
        items = again;
    }
    for item in &items {
        // Still changed by others each time: the device pushes it again at its next sync.
        tracing::info!(job = %item.job_id(), device = %who.device_id, "job busy: left for the next sync");
    }
    for outcome in resp.fallback.iter() {
        tracing::info!(job = %outcome, device = %who.device_id, "server lacks base: fallback to automerge sync");
    }
    let reader = env.store.read_fresh()?;
    // The photo files the pushed jobs name that the server lacks (normally those still to be
    // uploaded; after a restore, also those lost with it): the device sends them again.
    let pushed: std::collections::BTreeSet<&str> = resp
        .acks
        .iter()
        .map(|a| a.job_id.as_str())
        .chain(req.messages.iter().map(|m| m.job_id.as_str()))
        .filter(|j| !resp.rejected.iter().any(|r| r.job_id == *j))
        .collect();
    for job in pushed {
        for sha in reader.missing_blobs(job)? {
            if resp.wanted_blobs.len() < WANTED_BLOBS_MAX {
                resp.wanted_blobs.push(sha);
            }
        }
    }
    let page = req.page_bytes.unwrap_or(feed::PAGE_BYTES_DEFAULT);
    let page = feed::page(&*reader, who, req.cursor, page)?;
    resp.pull = page.pull;
    resp.cursor = page.cursor;
    resp.more = page.more;
    resp.gone = page.gone;
    Ok(resp)
}

/// Requests with at least this many jobs are planned on several threads.
const PARALLEL_FROM: usize = 16;
/// The most threads one request plans on.
const PLAN_THREADS: usize = 4;

/// Plans every item, in order: on this thread, or for a large request (a first upload) split
/// over up to [`PLAN_THREADS`] threads, each with its own reader.
fn plan_all(
    env: &Env,
    who: &Principal,
    items: &[Item],
) -> Result<Vec<Result<Outcome, PushError>>, ServerError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(PLAN_THREADS);
    if items.len() < PARALLEL_FROM || threads < 2 {
        let reader = env.store.read_fresh()?;
        return Ok(items.iter().map(|i| plan(&*reader, env, who, i)).collect());
    }
    let span = tracing::Span::current();
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(items.len().div_ceil(threads))
            .map(|part| {
                let span = span.clone();
                scope.spawn(move || -> Result<Vec<_>, ServerError> {
                    let _in = span.enter();
                    let reader = env.store.read_fresh()?;
                    Ok(part.iter().map(|i| plan(&*reader, env, who, i)).collect())
                })
            })
            .collect();
        let mut out = Vec::with_capacity(items.len());
        for part in parts {
            out.extend(
                part.join()
                    .map_err(|_| ServerError::Internal("planning a push panicked".into()))??,
            );
        }
        Ok(out)
    })
}

fn rejected(job_id: &str, code: &str, zh: impl Into<String>, en: impl Into<String>) -> Rejected {
    Rejected {
        job_id: job_id.to_string(),
        code: code.to_string(),
        zh: zh.into(),
        en: en.into(),
        paths: Vec::new(),
    }
}

/// Plans one item on `tx`.
fn plan(tx: &dyn ReadTx, env: &Env, who: &Principal, item: &Item) -> Result<Outcome, PushError> {
    match item {
        Item::Push(p) => Ok(match push::plan_push(tx, env, who, p)? {
            PushPlan::Ack(ack) => Outcome {
                ack: Some(ack),
                ..Default::default()
            },
            PushPlan::Write(ack, planned) => Outcome {
                ack: Some(ack),
                planned: Some(planned),
                ..Default::default()
            },
            PushPlan::Fallback => {
                env.docs.evict(&p.job_id);
                let (message, state) = start_fallback(tx, env, who, &p.job_id)?;
                Outcome {
                    fallback: Some(p.job_id.clone()),
                    message,
                    state: Some((p.job_id.clone(), state)),
                    ..Default::default()
                }
            }
        }),
        Item::Message(job_id, message) => receive_fallback(tx, env, who, job_id, message.clone()),
    }
}

/// Opens an automerge sync-protocol exchange for a job whose pushed changes lack their base:
/// the first message and the state to save.
fn start_fallback(
    tx: &dyn ReadTx,
    env: &Env,
    who: &Principal,
    job_id: &str,
) -> Result<(Option<SyncMessage>, Vec<u8>), ServerError> {
    let mut state = amsync::State::new();
    let msg = match tx.job_state(job_id)? {
        Some(s) if authz::may_see(who, &s) => {
            let mut l = env.docs.checkout_at(tx, job_id, s.meta.version)?;
            let m = l.doc.automerge().sync().generate_sync_message(&mut state);
            env.docs.checkin(job_id, l);
            m
        }
        Some(_) => None,
        None => AutoCommit::new().sync().generate_sync_message(&mut state),
    };
    Ok((
        msg.map(|m| SyncMessage {
            job_id: job_id.to_string(),
            message: m.encode(),
        }),
        state.encode(),
    ))
}

/// Receives one fallback message and plans the answer. The server always answers (with at
/// least its heads), so the device can tell when both sides agree and stop. What the message
/// brings is checked and planned like a push.
fn receive_fallback(
    tx: &dyn ReadTx,
    env: &Env,
    who: &Principal,
    job_id: &str,
    message: amsync::Message,
) -> Result<Outcome, PushError> {
    // Always rebuilt from its saved form: in-memory state goes stale when a message is lost.
    let mut state = tx
        .fallback_state(&who.device_id, job_id)?
        .and_then(|b| amsync::State::decode(&b).ok())
        .unwrap_or_default();
    let bad = |e: automerge::AutomergeError| {
        push::refused(
            job_id,
            "bad_sync_message",
            format!("同步消息无法应用：{e}"),
            format!("the sync message cannot be applied: {e}"),
        )
    };
    let job_state = tx.job_state(job_id)?;
    if let Some(s) = &job_state
        && !authz::may_see(who, s)
    {
        return Err(push::not_yours(job_id));
    }
    let (reply, mut planned, mut kept) = match &job_state {
        Some(s) => {
            let mut l = env.docs.checkout_at(tx, job_id, s.meta.version)?;
            let before = l.doc.heads();
            let before_job = l
                .doc
                .job()
                .map_err(|e| ServerError::Internal(e.to_string()))?;
            l.doc
                .automerge()
                .sync()
                .receive_sync_message(&mut state, message)
                .map_err(bad)?;
            let reply = l.doc.automerge().sync().generate_sync_message(&mut state);
            if l.doc.heads() != before {
                let p = push::plan_checked(
                    tx,
                    env,
                    who,
                    job_id,
                    l.doc,
                    &before,
                    Some(&before_job),
                    Some(s),
                )?;
                (reply, Some(Box::new(p)), None)
            } else {
                (reply, None, Some(l))
            }
        }
        None => {
            let mut scratch = AutoCommit::new();
            scratch
                .sync()
                .receive_sync_message(&mut state, message)
                .map_err(bad)?;
            let reply = scratch.sync().generate_sync_message(&mut state);
            if scratch.get_heads().is_empty() {
                (reply, None, None)
            } else {
                let doc = JobDoc::load(&scratch.save(), server_actor()).map_err(|e| {
                    push::refused(
                        job_id,
                        "not_a_job",
                        format!("不是有效的工单文档：{e}"),
                        format!("not a valid job document: {e}"),
                    )
                })?;
                let p = push::plan_checked(tx, env, who, job_id, doc, &[], None, None)?;
                (reply, Some(Box::new(p)), None)
            }
        }
    };
    let reply = match reply {
        Some(m) => Some(m),
        // Nothing new to send, but the device must learn our heads to finish.
        None => {
            let mut for_heads = state.clone();
            for_heads.have_responded = false;
            for_heads.in_flight = false;
            for_heads.last_sent_heads = Vec::new();
            let doc = match (planned.as_mut(), kept.as_mut()) {
                (Some(p), _) => Some(&mut p.doc),
                (None, Some(l)) => Some(&mut l.doc),
                (None, None) => None,
            };
            doc.and_then(|d| d.automerge().sync().generate_sync_message(&mut for_heads))
        }
    };
    if let Some(l) = kept {
        // Unchanged: back to the cache at the version it was read at.
        env.docs.checkin(job_id, l);
    }
    Ok(Outcome {
        ack: None,
        planned,
        fallback: None,
        message: reply.map(|m| SyncMessage {
            job_id: job_id.to_string(),
            message: m.encode(),
        }),
        state: Some((job_id.to_string(), state.encode())),
    })
}
