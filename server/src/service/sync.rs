//! One sync exchange. The request was decoded before this runs (never under the database lock);
//! every job's bytes are checked before the write transaction starts. Then each pushed job is
//! applied in its own savepoint: a refused job is undone and reported in `rejected`, the others
//! are acknowledged, and the response is sent only after the transaction committed. The feed page
//! is read afterwards from a reader, which never waits for the writer.

use super::auth::Principal;
use super::docs::{Loaded, server_actor};
use super::jobs::{self, Outcome, PushError};
use super::{Env, audit, feed};
use crate::authz;
use crate::error::ServerError;
use crate::store::WriteTx;
use automerge::AutoCommit;
use automerge::sync::{self as amsync, SyncDoc};
use field_core::job::JobDoc;
use field_core::sync::protocol::{
    PROTOCOL_VERSION, Rejected, SyncMessage, SyncRequest, SyncResponse,
};

/// The most photo files one response asks for again (the rest at the next push).
const WANTED_BLOBS_MAX: usize = 1000;

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
    // Outside the write lock, on a reader: ids, scope, then the bytes.
    let mut checked = Vec::with_capacity(req.push.len());
    {
        let reader = env.store.read()?;
        for push in &req.push {
            match jobs::precheck(&*reader, who, push) {
                Ok(()) => checked.push(push),
                Err(PushError::Refused(r)) => resp.rejected.push(r),
                Err(PushError::Failed(e)) => return Err(e),
            }
        }
    }
    let mut messages = Vec::with_capacity(req.messages.len());
    for m in &req.messages {
        if let Err(e) = field_core::validate::check_id("job_id", &m.job_id) {
            resp.rejected.push(Rejected {
                job_id: m.job_id.clone(),
                code: "invalid_job_id".into(),
                zh: e.zh,
                en: e.en,
                paths: Vec::new(),
            });
            continue;
        }
        match amsync::Message::decode(&m.message) {
            Ok(msg) => messages.push((m.job_id.as_str(), msg)),
            Err(e) => resp.rejected.push(Rejected {
                job_id: m.job_id.clone(),
                code: "bad_sync_message".into(),
                zh: format!("同步消息无法解析：{e}"),
                en: format!("the sync message cannot be decoded: {e}"),
                paths: Vec::new(),
            }),
        }
    }
    let mut checkin: Vec<(String, Loaded)> = Vec::new();
    // A request that only pulls never takes the writer (with several nodes, the one writer of
    // the whole cluster).
    let writes = !(checked.is_empty() && messages.is_empty() && resp.rejected.is_empty());
    if writes {
        let mut tx = env.store.write()?;
        for push in checked {
            let mut sp = tx.savepoint()?;
            match jobs::apply_push(&mut *sp, env, who, push) {
                Ok(Outcome::Acked { ack, loaded }) => {
                    sp.commit()?;
                    if let Some(l) = loaded {
                        checkin.push((ack.job_id.clone(), *l));
                    }
                    resp.acks.push(ack);
                }
                Ok(Outcome::Fallback) => {
                    drop(sp);
                    tracing::info!(job = %push.job_id, device = %who.device_id, "server lacks base: fallback to automerge sync");
                    env.docs.evict(&push.job_id);
                    resp.fallback.push(push.job_id.clone());
                    if let Some(m) = start_fallback(&mut *tx, env, who, &push.job_id)? {
                        resp.messages.push(m);
                    }
                }
                Err(PushError::Refused(r)) => {
                    drop(sp);
                    env.docs.evict(&push.job_id);
                    resp.rejected.push(r);
                }
                Err(PushError::Failed(e)) => return Err(e),
            }
        }
        for (job_id, msg) in messages {
            let mut sp = tx.savepoint()?;
            match receive_fallback(&mut *sp, env, who, job_id, msg) {
                Ok((reply, loaded)) => {
                    sp.commit()?;
                    if let Some(l) = loaded {
                        checkin.push((job_id.to_string(), l));
                    }
                    resp.messages.extend(reply);
                }
                Err(PushError::Refused(r)) => {
                    drop(sp);
                    env.docs.evict(job_id);
                    resp.rejected.push(r);
                }
                Err(PushError::Failed(e)) => return Err(e),
            }
        }
        for r in &resp.rejected {
            audit::append(
                &mut *tx,
                crate::store::AuditEntry {
                    job_id: Some(r.job_id.clone()),
                    paths: r.paths.clone(),
                    detail: serde_json::json!({ "code": r.code, "en": r.en }),
                    ..audit::by(who, "push_refused")
                },
            )?;
        }
        crate::fault::point("sync_before_commit");
        tx.commit()?;
        crate::fault::point("sync_after_commit");
    }
    for (job_id, loaded) in checkin {
        env.docs.checkin(&job_id, loaded);
    }
    let reader = env.store.read()?;
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

fn load_state(
    tx: &dyn WriteTx,
    who: &Principal,
    job_id: &str,
) -> Result<amsync::State, ServerError> {
    // Always rebuilt from its saved form: in-memory state goes stale when a message is lost.
    Ok(tx
        .fallback_state(&who.device_id, job_id)?
        .and_then(|b| amsync::State::decode(&b).ok())
        .unwrap_or_default())
}

/// Opens an automerge sync-protocol exchange for a job whose pushed changes lack their base.
fn start_fallback(
    tx: &mut dyn WriteTx,
    env: &Env,
    who: &Principal,
    job_id: &str,
) -> Result<Option<SyncMessage>, ServerError> {
    let mut state = amsync::State::new();
    let msg = if tx.job_meta(job_id)?.is_some() {
        if !authz::can_write_job(&*tx, who, job_id)? {
            None
        } else {
            let mut l = env
                .docs
                .checkout(&*tx, job_id)?
                .ok_or(ServerError::NotFound)?;
            let m = l.doc.automerge().sync().generate_sync_message(&mut state);
            env.docs.checkin(job_id, l);
            m
        }
    } else {
        AutoCommit::new().sync().generate_sync_message(&mut state)
    };
    tx.save_fallback_state(&who.device_id, job_id, &state.encode())?;
    Ok(msg.map(|m| SyncMessage {
        job_id: job_id.to_string(),
        message: m.encode(),
    }))
}

/// Receives one fallback message and answers it. The server always answers (with at least its
/// heads), so the device can tell when both sides agree and stop. What the message brings is
/// checked and recorded like a push.
fn receive_fallback(
    tx: &mut dyn WriteTx,
    env: &Env,
    who: &Principal,
    job_id: &str,
    message: amsync::Message,
) -> Result<(Option<SyncMessage>, Option<Loaded>), PushError> {
    let mut state = load_state(&*tx, who, job_id)?;
    let bad = |e: automerge::AutomergeError| {
        jobs::refused(
            job_id,
            "bad_sync_message",
            format!("同步消息无法应用：{e}"),
            format!("the sync message cannot be applied: {e}"),
        )
    };
    let exists = tx.job_meta(job_id)?.is_some();
    if exists && !authz::can_write_job(&*tx, who, job_id)? {
        return Err(jobs::not_yours(job_id));
    }
    let (reply, mut loaded) = if exists {
        let mut l = env
            .docs
            .checkout(&*tx, job_id)?
            .ok_or_else(|| ServerError::Internal(format!("job {job_id} vanished")))?;
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
            l.version =
                jobs::record_checked(tx, env, who, job_id, &mut l.doc, &before, Some(&before_job))?;
        }
        (reply, Some(l))
    } else {
        let mut scratch = AutoCommit::new();
        scratch
            .sync()
            .receive_sync_message(&mut state, message)
            .map_err(bad)?;
        let reply = scratch.sync().generate_sync_message(&mut state);
        if scratch.get_heads().is_empty() {
            (reply, None)
        } else {
            let mut doc = JobDoc::load(&scratch.save(), server_actor()).map_err(|e| {
                jobs::refused(
                    job_id,
                    "not_a_job",
                    format!("不是有效的工单文档：{e}"),
                    format!("not a valid job document: {e}"),
                )
            })?;
            let version = jobs::record_checked(tx, env, who, job_id, &mut doc, &[], None)?;
            (reply, Some(Loaded { doc, version }))
        }
    };
    let reply = match reply {
        Some(m) => Some(m),
        // Nothing new to send, but the device must learn our heads to finish.
        None => loaded.as_mut().and_then(|l| {
            let mut for_heads = state.clone();
            for_heads.have_responded = false;
            for_heads.in_flight = false;
            for_heads.last_sent_heads = Vec::new();
            l.doc
                .automerge()
                .sync()
                .generate_sync_message(&mut for_heads)
        }),
    };
    tx.save_fallback_state(&who.device_id, job_id, &state.encode())?;
    Ok((
        reply.map(|m| SyncMessage {
            job_id: job_id.to_string(),
            message: m.encode(),
        }),
        loaded,
    ))
}
