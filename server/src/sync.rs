//! One sync exchange: apply the device's pushes and fallback messages, then serve a feed page.
//! Everything the request changes is one SQLite transaction: the response (and so every ack) is
//! sent only after it committed; on any error nothing is stored.

use crate::auth::Principal;
use crate::db::Core;
use crate::error::ServerError;
use crate::jobs::{self, Applied, Context, PAGE_BYTES_DEFAULT};
use automerge::AutoCommit;
use automerge::sync::{self as amsync, SyncDoc};
use field_core::job::JobDoc;
use field_core::sync::protocol::{PROTOCOL_VERSION, SyncMessage, SyncRequest, SyncResponse};
use rusqlite::{OptionalExtension, params};

/// Handles a decoded, authenticated sync request.
pub fn handle(
    core: &mut Core,
    who: &Principal,
    req: &SyncRequest,
    ctx: &Context,
) -> Result<SyncResponse, ServerError> {
    if req.device_id != who.device_id {
        return Err(ServerError::forbidden(
            "设备与登录凭证不符",
            "the device id does not match the login token",
        ));
    }
    core.conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = exchange(core, who, req, ctx);
    let result = match result {
        Ok(resp) => core
            .conn
            .execute_batch("COMMIT")
            .map(|_| resp)
            .map_err(ServerError::from),
        Err(e) => Err(e),
    };
    if result.is_err() {
        let _ = core.conn.execute_batch("ROLLBACK");
        // Documents in memory may hold changes that were not stored: reload them next time.
        for p in &req.push {
            core.docs.evict(&p.job_id);
        }
        for m in &req.messages {
            core.docs.evict(&m.job_id);
        }
    }
    result
}

fn exchange(
    core: &mut Core,
    who: &Principal,
    req: &SyncRequest,
    ctx: &Context,
) -> Result<SyncResponse, ServerError> {
    let mut resp = SyncResponse {
        protocol: PROTOCOL_VERSION,
        acks: Vec::new(),
        fallback: Vec::new(),
        messages: Vec::new(),
        rejected: Vec::new(),
        pull: Vec::new(),
        cursor: req.cursor,
        more: false,
    };
    for push in &req.push {
        match jobs::apply_push(core, who, push, ctx)? {
            Applied::Ack(ack) => resp.acks.push(ack),
            Applied::NeedsFallback => {
                tracing::info!(job = %push.job_id, device = %who.device_id, "server lacks base: fallback to automerge sync");
                resp.fallback.push(push.job_id.clone());
                if let Some(m) = start_fallback(core, who, &push.job_id)? {
                    resp.messages.push(m);
                }
            }
        }
    }
    for msg in &req.messages {
        if let Some(reply) = receive_fallback(core, who, msg, ctx)? {
            resp.messages.push(reply);
        }
    }
    let page = req.page_bytes.unwrap_or(PAGE_BYTES_DEFAULT);
    let (pull, cursor, more) = jobs::feed_page(&core.conn, who, req.cursor, page)?;
    resp.pull = pull;
    resp.cursor = cursor;
    resp.more = more;
    Ok(resp)
}

fn load_state(core: &Core, who: &Principal, job_id: &str) -> Result<amsync::State, ServerError> {
    let saved: Option<Vec<u8>> = core
        .conn
        .query_row(
            "SELECT state FROM fallback_state WHERE device_id = ?1 AND job_id = ?2",
            params![who.device_id, job_id],
            |r| r.get(0),
        )
        .optional()?;
    // Always rebuilt from its saved form: in-memory state goes stale when a message is lost.
    Ok(saved
        .and_then(|b| amsync::State::decode(&b).ok())
        .unwrap_or_default())
}

fn save_state(
    core: &Core,
    who: &Principal,
    job_id: &str,
    state: &amsync::State,
) -> Result<(), ServerError> {
    core.conn.execute(
        "INSERT INTO fallback_state (device_id, job_id, state) VALUES (?1, ?2, ?3)
         ON CONFLICT (device_id, job_id) DO UPDATE SET state = excluded.state",
        params![who.device_id, job_id, state.encode()],
    )?;
    Ok(())
}

/// Opens an automerge sync-protocol exchange for a job whose pushed changes lack their base.
fn start_fallback(
    core: &mut Core,
    who: &Principal,
    job_id: &str,
) -> Result<Option<SyncMessage>, ServerError> {
    let mut state = amsync::State::new();
    let msg = match jobs::doc_for_fallback(core, who, job_id)? {
        Some(doc) => doc.automerge().sync().generate_sync_message(&mut state),
        None => AutoCommit::new().sync().generate_sync_message(&mut state),
    };
    save_state(core, who, job_id, &state)?;
    Ok(msg.map(|m| SyncMessage {
        job_id: job_id.to_string(),
        message: m.encode(),
    }))
}

/// Receives one fallback message and answers it. The server always answers (with at least its
/// heads), so the device can tell when both sides agree and stop.
fn receive_fallback(
    core: &mut Core,
    who: &Principal,
    msg: &SyncMessage,
    ctx: &Context,
) -> Result<Option<SyncMessage>, ServerError> {
    field_core::validate::check_id("job_id", &msg.job_id)
        .map_err(|e| ServerError::bad("invalid_job_id", e.zh, e.en))?;
    let message = amsync::Message::decode(&msg.message).map_err(|e| {
        ServerError::bad(
            "bad_sync_message",
            format!("同步消息无法解析：{e}"),
            format!("the sync message cannot be decoded: {e}"),
        )
    })?;
    let mut state = load_state(core, who, &msg.job_id)?;
    let bad = |e: automerge::AutomergeError| {
        ServerError::bad(
            "bad_sync_message",
            format!("同步消息无法应用：{e}"),
            format!("the sync message cannot be applied: {e}"),
        )
    };
    let reply = match jobs::doc_for_fallback(core, who, &msg.job_id)? {
        Some(doc) => {
            let before = doc.heads();
            doc.automerge()
                .sync()
                .receive_sync_message(&mut state, message)
                .map_err(bad)?;
            let reply = doc.automerge().sync().generate_sync_message(&mut state);
            if doc.heads() != before {
                jobs::record_fallback(core, who, &msg.job_id, &before, true, ctx)?;
            }
            reply
        }
        None => {
            let mut scratch = AutoCommit::new();
            scratch
                .sync()
                .receive_sync_message(&mut state, message)
                .map_err(bad)?;
            let reply = scratch.sync().generate_sync_message(&mut state);
            if !scratch.get_heads().is_empty() {
                let doc =
                    JobDoc::load(&scratch.save(), automerge::ActorId::random()).map_err(|e| {
                        ServerError::bad(
                            "not_a_job",
                            format!("不是有效的工单文档：{e}"),
                            format!("not a valid job document: {e}"),
                        )
                    })?;
                jobs::adopt(core, &msg.job_id, doc);
                jobs::record_fallback(core, who, &msg.job_id, &[], false, ctx)?;
            }
            reply
        }
    };
    let mut state_for_heads = state.clone();
    let reply = match reply {
        Some(m) => Some(m),
        // Nothing new to send, but the device must learn our heads to finish.
        None => {
            state_for_heads.have_responded = false;
            state_for_heads.in_flight = false;
            state_for_heads.last_sent_heads = Vec::new();
            match jobs::doc_for_fallback(core, who, &msg.job_id)? {
                Some(doc) => doc
                    .automerge()
                    .sync()
                    .generate_sync_message(&mut state_for_heads),
                None => None,
            }
        }
    };
    save_state(core, who, &msg.job_id, &state)?;
    Ok(reply.map(|m| SyncMessage {
        job_id: msg.job_id.clone(),
        message: m.encode(),
    }))
}
