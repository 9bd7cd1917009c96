//! Feed pages: the changes a device lacks, in feed order, cut only between feed positions so
//! every page can be stored on its own; plus the earlier history of jobs that entered the
//! caller's scope and the jobs that left it.

use crate::authz;
use crate::authz::Principal;
use crate::error::ServerError;
use crate::store::{ReadTx, Scope};
use field_core::sync::protocol::PullJob;
use std::collections::HashMap;

/// Default and largest feed page, in bytes of changes.
pub const PAGE_BYTES_DEFAULT: u64 = 4 * 1024 * 1024;
pub const PAGE_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// Sizes read per query while measuring a page, and at most this many batches (a page of tiny
/// changes stops there).
const SIZE_ROWS: u32 = 2_000;
const SIZE_BATCHES: usize = 50;

/// One page of the feed.
pub struct Page {
    pub pull: Vec<PullJob>,
    pub cursor: u64,
    pub more: bool,
    /// Jobs that left the caller's scope within the page.
    pub gone: Vec<String>,
    /// Bytes of changes read from the store for this page (the page is measured first, so this
    /// is what it holds, never what others wrote beyond it).
    pub loaded: usize,
}

/// One page of the feed for `who` after `cursor`: changes of jobs in scope, and the earlier
/// history of jobs that entered the scope after `cursor`. Changes this device pushed itself are
/// left out. Nothing beyond the newest position read first is used, so `tx` needs no snapshot:
/// every position up to it is final (committed or never to be).
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
    // The page is measured first, from the changes' sizes alone, and only what it holds is
    // loaded: memory follows the budget, not what others wrote.
    // (position, size, what): a change of the feed, or the history of a job that entered.
    enum Part {
        Change,
        History(String),
    }
    let mut parts: Vec<(i64, usize, Part)> = Vec::new();
    let mut measured = 0usize;
    // The main feed stops once the budget is spent; then nothing beyond its last position may
    // be sent, or the next cursor would skip changes.
    let mut limit_pos = max_seq;
    let mut after = cursor;
    'sizes: for batch in 0.. {
        let rows = tx.feed_sizes(scope, &who.device_id, after, max_seq, SIZE_ROWS)?;
        let last_batch = rows.len() < SIZE_ROWS as usize;
        for (seq, len) in rows {
            if seq > max_seq {
                // Committed after the page's bound was read (a reader without a snapshot):
                // the next page starts there.
                break 'sizes;
            }
            measured += len.max(0) as usize;
            parts.push((seq, len.max(0) as usize, Part::Change));
            after = seq;
            if measured >= budget {
                limit_pos = seq;
                break 'sizes;
            }
        }
        if last_batch {
            break;
        }
        if batch + 1 == SIZE_BATCHES {
            limit_pos = after;
            break;
        }
    }
    if let Scope::User(user) = scope {
        // Jobs that entered this user's scope after the cursor: their earlier history, each
        // whole at the position it entered, measured in position order until the budget is
        // spent (a page always holds at least one position).
        let mut entered = tx.entered_jobs(user, cursor, limit_pos)?;
        entered.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        // Bytes of the main feed before each position (its parts are in position order).
        let mut before: Vec<(i64, usize)> = Vec::with_capacity(parts.len());
        let mut sum = 0usize;
        for (pos, len, _) in &parts {
            sum += len;
            before.push((*pos, sum));
        }
        let main_before = |at: i64| match before.partition_point(|(pos, _)| *pos < at) {
            0 => 0,
            n => before[n - 1].1,
        };
        let (mut histories_before, mut at_this, mut this_at) = (0usize, 0usize, None);
        for (job_id, at) in entered {
            if this_at != Some(at) {
                histories_before += at_this;
                at_this = 0;
                this_at = Some(at);
            }
            if main_before(at) + histories_before >= budget {
                // This position and the rest are beyond the page: the next one starts here.
                limit_pos = limit_pos.min(at - 1);
                break;
            }
            let len = tx.job_history_bytes(&job_id, cursor)?.max(0) as usize;
            at_this += len;
            parts.push((at, len, Part::History(job_id)));
        }
        parts.retain(|(pos, _, _)| *pos <= limit_pos);
    }
    parts.sort_by_key(|(pos, _, _)| *pos);
    // Cut the page at a position boundary once the budget is spent.
    let mut end = parts.len();
    let mut used = 0usize;
    for (i, part) in parts.iter().enumerate() {
        used += part.1;
        if used >= budget {
            let pos = part.0;
            end = parts[i..]
                .iter()
                .position(|x| x.0 != pos)
                .map(|p| i + p)
                .unwrap_or(parts.len());
            break;
        }
    }
    let truncated = end < parts.len();
    parts.truncate(end);
    let next_cursor = if truncated {
        parts.last().map(|x| x.0).unwrap_or(cursor)
    } else {
        limit_pos
    };
    let gone = match scope {
        Scope::User(user) => tx.left_jobs(user, cursor, next_cursor)?,
        _ => Vec::new(),
    };
    // Now the bytes of exactly what the page holds.
    let changes = parts.iter().filter(|p| matches!(p.2, Part::Change)).count();
    // (position, seq, job_id, bytes)
    let mut items: Vec<(i64, i64, String, Vec<u8>)> = Vec::new();
    if changes > 0 {
        // The store bounds the read at the page's end.
        for c in tx.feed_changes(scope, &who.device_id, cursor, next_cursor, changes as u32)? {
            items.push((c.seq, c.seq, c.job_id, c.bytes));
        }
    }
    for (at, _, part) in &parts {
        if let Part::History(job_id) = part {
            for (seq, bytes) in tx.job_changes_upto(job_id, cursor)? {
                items.push((*at, seq, job_id.clone(), bytes));
            }
        }
    }
    items.sort_by_key(|(pos, seq, _, _)| (*pos, *seq));
    let loaded = items.iter().map(|i| i.3.len()).sum();
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
        loaded,
    })
}
