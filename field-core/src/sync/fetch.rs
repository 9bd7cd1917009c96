//! Fetching a photo another device (or the server, for an online application's ID photo) took:
//! the blob named by the job's photo record is downloaded once, checked against its SHA-256 and
//! size, and kept in the phone's blob store, so it shows offline afterwards.

use super::client::{SyncError, SyncOptions, api_error, network};
use crate::store::Store;
use sha2::{Digest, Sha256};

/// Largest blob fetched, bytes (the largest original a phone accepts).
const FETCH_MAX: u64 = 64 << 20;

/// The bytes of the blob of `role` (`thumbnail`, `display`, `original`) of photo `photo_id` of
/// job `job_id`: from the phone's blob store, or downloaded from the server and stored.
pub async fn fetch_photo(
    store: &Store,
    job_id: &str,
    photo_id: &str,
    role: &str,
    options: &SyncOptions,
) -> Result<Vec<u8>, SyncError> {
    let job = store.job(job_id)?;
    let photo = job.photos.get(photo_id).ok_or_else(|| SyncError::Refused {
        status: 404,
        code: "not_found".into(),
        zh: format!("工单中没有照片 {photo_id}"),
        en: format!("the job has no photo {photo_id}"),
    })?;
    let Some((_, sha, declared)) = photo.blobs().into_iter().find(|(r, _, _)| *r == role) else {
        return Err(SyncError::Refused {
            status: 404,
            code: "not_found".into(),
            zh: format!("照片没有 {role}"),
            en: format!("the photo has no {role}"),
        });
    };
    if let Ok(bytes) = store.blob(sha) {
        return Ok(bytes);
    }
    let server = store
        .sync_setting("server")?
        .ok_or(SyncError::NotLoggedIn)?;
    let token = store.sync_setting("token")?.ok_or(SyncError::NotLoggedIn)?;
    let client = super::client::http(options.timeout)?;
    let resp = client
        .get(format!(
            "{}/api/v1/blobs/{sha}",
            server.trim_end_matches('/')
        ))
        .bearer_auth(&token)
        .send()
        .await
        .map_err(network)?;
    if !resp.status().is_success() {
        return Err(api_error(resp).await);
    }
    let limit = if declared > 0 {
        (declared as u64).min(FETCH_MAX)
    } else {
        FETCH_MAX
    };
    let mut bytes = Vec::new();
    let mut resp = resp;
    while let Some(chunk) = resp.chunk().await.map_err(network)? {
        if bytes.len() as u64 + chunk.len() as u64 > limit {
            return Err(corrupt(sha, "larger than its record"));
        }
        bytes.extend_from_slice(&chunk);
    }
    if hex::encode(Sha256::digest(&bytes)) != sha {
        return Err(corrupt(sha, "its SHA-256 does not match"));
    }
    store.keep_blob(sha, &bytes)?;
    Ok(bytes)
}

fn corrupt(sha: &str, why: &str) -> SyncError {
    SyncError::Refused {
        status: 502,
        code: "corrupt_blob".into(),
        zh: format!("服务器发来的照片 {sha:.12}… 已损坏"),
        en: format!("the photo {sha:.12}… the server sent is damaged: {why}"),
    }
}
