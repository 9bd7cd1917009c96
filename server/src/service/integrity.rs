//! Whether the photos the database says it has are really in the blob store: a sample for
//! `/readyz`, every blob for `fieldline blobs check`, and the ones an export is about to write
//! (a customer file or a contract archive is refused rather than answered without them).
//!
//! A blob the database records as stored but the store lacks (or holds at another size) was
//! lost: a restore without `blobs/`, a bucket emptied by hand. A photo whose upload has not
//! arrived yet is not recorded as stored and is no loss.

use super::Env;
use crate::error::ServerError;
use std::sync::Arc;

/// How many of the newest blobs `/readyz` looks at.
pub const READY_SAMPLE: u32 = 5;

/// What one blob is like in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Not in the store at all.
    Missing,
    /// In the store at another size than recorded.
    WrongSize { stored: u64 },
    /// Its bytes no longer hash to its name (`--full` only).
    Damaged,
}

/// A blob with a problem and the jobs that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lost {
    pub sha256: String,
    pub problem: Problem,
    pub jobs: Vec<String>,
}

/// The problem of blob `sha256`, recorded as `bytes` long, if it has one.
async fn problem(
    env: &Arc<Env>,
    sha256: &str,
    bytes: i64,
    full: bool,
) -> Result<Option<Problem>, ServerError> {
    match env.blobs.size(sha256).await? {
        None => Ok(Some(Problem::Missing)),
        Some(n) if n as i64 != bytes => Ok(Some(Problem::WrongSize { stored: n })),
        Some(_) if full => match env.blobs.stored_sha256(sha256).await? {
            Some(h) if h == sha256 => Ok(None),
            Some(_) => Ok(Some(Problem::Damaged)),
            None => Ok(Some(Problem::Missing)),
        },
        Some(_) => Ok(None),
    }
}

/// `/readyz`: the newest blobs the database records are in the store, at their size.
pub async fn ready(env: &Arc<Env>) -> Result<(), ServerError> {
    let sample = env
        .blocking(|env| Ok(env.store.read()?.recent_blobs(READY_SAMPLE)?))
        .await?;
    let mut lost = Vec::new();
    for (sha, bytes) in &sample {
        if problem(env, sha, *bytes, false).await?.is_some() {
            lost.push(sha.clone());
        }
    }
    if lost.is_empty() {
        return Ok(());
    }
    Err(ServerError::Setup {
        zh: format!(
            "照片存储缺少最近 {} 个照片文件中的 {} 个（如 {}）：请从备份恢复 blobs/ 或存储桶，并运行 fieldline blobs check",
            sample.len(),
            lost.len(),
            lost[0]
        ),
        en: format!(
            "the blob store lacks {} of the {} newest photo files (e.g. {}): restore blobs/ or the bucket from the backup, and run fieldline blobs check",
            lost.len(),
            sample.len(),
            lost[0]
        ),
    })
}

/// Refuses an export that would leave out photos the database says it has.
pub async fn require(env: &Arc<Env>, shas: Vec<String>) -> Result<(), ServerError> {
    let recorded: Vec<String> = env
        .blocking(move |env| {
            let tx = env.store.read()?;
            let mut out = Vec::new();
            for sha in shas {
                if tx.blob_stored(&sha)? {
                    out.push(sha);
                }
            }
            Ok(out)
        })
        .await?;
    for sha in recorded {
        if env.blobs.size(&sha).await?.is_none() {
            return Err(ServerError::Conflict {
                code: "blob_missing",
                zh: format!(
                    "照片文件 {sha} 已记录为收到，但照片存储中没有：导出不完整，已中止；请运维人员从备份恢复并运行 fieldline blobs check"
                ),
                en: format!(
                    "photo file {sha} was received but is not in the blob store: the export would be incomplete and was stopped; an operator restores it from the backup and runs fieldline blobs check"
                ),
            });
        }
    }
    Ok(())
}

/// Checks every stored blob (sizes; with `full`, their hashes too), calling `progress` with the
/// count checked; returns the lost ones with the jobs naming them.
pub async fn check_all(
    env: &Arc<Env>,
    full: bool,
    mut progress: impl FnMut(u64),
) -> Result<(u64, Vec<Lost>), ServerError> {
    let mut after = String::new();
    let (mut checked, mut lost) = (0u64, Vec::new());
    loop {
        let batch = check_after(env, &after, 500, full).await?;
        checked += batch.checked;
        progress(checked);
        lost.extend(batch.lost);
        match batch.last {
            Some(last) => after = last,
            None => return Ok((checked, lost)),
        }
    }
}

/// What one batch of the check found.
pub struct Batch {
    pub checked: u64,
    pub lost: Vec<Lost>,
    /// The last file looked at (the next batch starts after it); `None` at the end.
    pub last: Option<String>,
}

/// Checks up to `limit` recorded photo files after `after` (by name).
pub async fn check_after(
    env: &Arc<Env>,
    after: &str,
    limit: u32,
    full: bool,
) -> Result<Batch, ServerError> {
    let from = after.to_string();
    let page = env
        .blocking(move |env| Ok(env.store.read()?.blobs_after(&from, limit)?))
        .await?;
    let last = page.last().map(|p| p.0.clone());
    let mut batch = Batch {
        checked: 0,
        lost: Vec::new(),
        last,
    };
    for (sha, bytes) in page {
        batch.checked += 1;
        if let Some(p) = problem(env, &sha, bytes, full).await? {
            let key = sha.clone();
            let mut jobs: Vec<String> = env
                .blocking(move |env| {
                    Ok(env
                        .store
                        .read()?
                        .blob_refs(&key)?
                        .into_iter()
                        .map(|(job, _, _)| job)
                        .collect())
                })
                .await?;
            jobs.sort();
            jobs.dedup();
            batch.lost.push(Lost {
                sha256: sha,
                problem: p,
                jobs,
            });
        }
    }
    Ok(batch)
}
