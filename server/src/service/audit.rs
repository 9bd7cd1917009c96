//! The audit trail: every accepted change (who, role, device, the device's time, the server's
//! time, the sections and paths it touched) and every security event (logins and failures,
//! revocations, refused pushes, contract verifications and exports, downloads). Entries are
//! written in the transaction of what they record and never changed (the database refuses
//! updates and deletes).

use super::{Env, now_ms};
use crate::authz;
use crate::authz::Principal;
use crate::error::ServerError;
use crate::store::{AuditEntry, AuditQuery, WriteTx};
use serde::{Deserialize, Serialize};

/// Largest page of history.
pub const PAGE_MAX: u32 = 500;

/// Appends an entry (its time is now unless set).
pub fn append(tx: &mut dyn WriteTx, mut entry: AuditEntry) -> Result<i64, ServerError> {
    if entry.at == 0 {
        entry.at = now_ms();
    }
    Ok(tx.append_audit(&entry)?)
}

/// An entry attributed to a caller.
pub fn by(who: &Principal, kind: &str) -> AuditEntry {
    AuditEntry {
        kind: kind.to_string(),
        username: Some(who.username.clone()),
        role: Some(who.role.as_str().to_string()),
        device_id: Some(who.device_id.clone()),
        ..Default::default()
    }
}

/// Records a security event in its own transaction.
pub fn record(env: &Env, entry: AuditEntry) -> Result<(), ServerError> {
    let mut tx = env.store.write()?;
    append(&mut *tx, entry)?;
    tx.commit()?;
    Ok(())
}

/// One page of a job's history.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct History {
    pub job_id: String,
    pub entries: Vec<AuditEntry>,
    /// Pass as `after` for the next page (oldest first).
    pub next_after: Option<i64>,
    /// Pass as `before` for the next page (newest first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
}

/// A job's audit trail, for a caller who may see the job (else not found).
pub fn history(
    env: &Env,
    who: &Principal,
    job_id: &str,
    after: Option<i64>,
    limit: u32,
) -> Result<History, ServerError> {
    let tx = env.store.read()?;
    if !authz::can_read_job(&*tx, who, job_id)? {
        return Err(ServerError::NotFound);
    }
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(ServerError::bad(
            "bad_limit",
            format!("每页条数须在 1 到 {PAGE_MAX} 之间"),
            format!("the page size must be between 1 and {PAGE_MAX}"),
        ));
    }
    let entries = tx.audit(&AuditQuery {
        job_id: Some(job_id.to_string()),
        after_id: after,
        limit: limit + 1,
        ..Default::default()
    })?;
    Ok(page(job_id, entries, limit, false))
}

/// A job's audit trail newest first (the history page), from before entry `before`.
pub fn recent(
    env: &Env,
    who: &Principal,
    job_id: &str,
    before: Option<i64>,
    limit: u32,
) -> Result<History, ServerError> {
    let tx = env.store.read()?;
    if !authz::can_read_job(&*tx, who, job_id)? {
        return Err(ServerError::NotFound);
    }
    let limit = limit.clamp(1, PAGE_MAX);
    let entries = tx.audit(&AuditQuery {
        job_id: Some(job_id.to_string()),
        before_id: Some(before.unwrap_or(i64::MAX)),
        limit: limit + 1,
        ..Default::default()
    })?;
    Ok(page(job_id, entries, limit, true))
}

fn page(job_id: &str, mut entries: Vec<AuditEntry>, limit: u32, newest_first: bool) -> History {
    let more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    let next = if more {
        entries.last().map(|e| e.id)
    } else {
        None
    };
    let (next_after, next_before) = if newest_first {
        (None, next)
    } else {
        (next, None)
    };
    History {
        job_id: job_id.to_string(),
        next_after,
        next_before,
        entries,
    }
}

/// Entries for the operator (CLI), oldest first.
pub fn query(env: &Env, q: &AuditQuery) -> Result<Vec<AuditEntry>, ServerError> {
    Ok(env.store.read()?.audit(q)?)
}
