//! Feed pages: the changes a device lacks, in feed order, cut only between feed positions so
//! every page can be stored on its own; plus the earlier history of jobs that entered the
//! caller's scope and the jobs that left it.

use super::auth::Principal;
use crate::authz;
use crate::error::ServerError;
use crate::store::{ReadTx, Scope};
use field_core::sync::protocol::PullJob;
use std::collections::HashMap;

/// Default and largest feed page, in bytes of changes.
pub const PAGE_BYTES_DEFAULT: u64 = 4 * 1024 * 1024;
pub const PAGE_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// Rows read per query.
const ROWS: u32 = 100_000;

/// One page of the feed.
pub struct Page {
    pub pull: Vec<PullJob>,
    pub cursor: u64,
    pub more: bool,
    /// Jobs that left the caller's scope within the page.
    pub gone: Vec<String>,
}

/// One page of the feed for `who` after `cursor`: changes of jobs in scope, and the earlier
/// history of jobs that entered the scope after `cursor`. Changes this device pushed itself are
/// left out.
pub fn page(
    tx: &dyn ReadTx,
    who: &Principal,
    cursor: u64,
    page_bytes: u64,
) -> Result<Page, ServerError> {
    let max_seq = tx.max_seq()?;
    let mut cursor = i64::try_from(cursor).unwrap_or(i64::MAX);
    if cursor > max_seq {
        // A cursor from another server (or a restored backup): start over, idempotently.
        cursor = 0;
    }
    let budget = page_bytes.clamp(1, PAGE_BYTES_MAX) as usize;
    let scope = authz::feed_scope(who);
    // (position, seq, job_id, bytes)
    let mut items: Vec<(i64, i64, String, Vec<u8>)> = Vec::new();
    // The main query stops once the budget is spent; then nothing beyond its last seq may be
    // sent, or the next cursor would skip changes.
    let mut taken = 0usize;
    let mut limit_pos = max_seq;
    let rows = tx.feed_changes(scope, &who.device_id, cursor, ROWS)?;
    let full = rows.len() == ROWS as usize;
    for c in rows {
        taken += c.bytes.len();
        let seq = c.seq;
        items.push((seq, seq, c.job_id, c.bytes));
        if taken >= budget {
            limit_pos = seq;
            break;
        }
    }
    if full && taken < budget {
        limit_pos = items.last().map(|x| x.0).unwrap_or(max_seq);
    }
    let mut gone = Vec::new();
    if let Scope::User(user) = scope {
        // Jobs that entered this user's scope after the cursor: send their earlier history.
        for (job_id, at) in tx.entered_jobs(user, cursor, limit_pos)? {
            for (seq, bytes) in tx.job_changes_upto(&job_id, cursor)? {
                items.push((at, seq, job_id.clone(), bytes));
            }
        }
        gone = tx.left_jobs(user, cursor, limit_pos)?;
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
    if truncated && let Scope::User(user) = scope {
        gone = tx.left_jobs(user, cursor, next_cursor)?;
    }
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
    Ok(Page {
        pull,
        cursor: next_cursor.max(0) as u64,
        more,
        gone,
    })
}
