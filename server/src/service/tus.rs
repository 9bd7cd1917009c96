//! The tus 1.0 protocol's steps as the server takes them, apart from HTTP: creating an upload
//! from its declared length and metadata, its status, ending it, and receiving one PATCH's bytes
//! (one request at a time per upload on any node, at the offset the server holds, a checksummed
//! chunk all or nothing, the blob verified once complete). The rules of uploads themselves
//! (access, references, verification) are `uploads`'; handlers parse headers and render.

use super::Env;
use super::uploads::{self, Upload, parse_metadata};
use crate::authz::Principal;
use crate::error::ServerError;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Another request holds the upload.
fn busy() -> ServerError {
    ServerError::Conflict {
        code: "upload_busy",
        zh: "该上传正在进行中，请稍后重试".into(),
        en: "another request is writing this upload: retry shortly".into(),
    }
}

fn io(e: std::io::Error) -> ServerError {
    ServerError::Io(e.to_string())
}

/// Creates an upload of `length` bytes from its `Upload-Metadata` (`sha256` and `job`); returns
/// it and its offset (the whole length when the server has the blob already).
pub async fn create(
    env: &Arc<Env>,
    who: &Principal,
    length: u64,
    metadata: &str,
) -> Result<(Upload, u64), ServerError> {
    if length > env.uploads.max_size {
        return Err(ServerError::TooLarge {
            code: "too_large",
            zh: "文件超过上传上限".into(),
            en: "the upload is larger than the server accepts".into(),
        });
    }
    let meta = parse_metadata(metadata)?;
    let get = |k: &str| {
        meta.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let sha256 = get("sha256")
        .filter(|h| field_core::validate::is_sha256_hex(h))
        .ok_or_else(|| {
            ServerError::bad(
                "bad_metadata",
                "Upload-Metadata 需要 sha256（小写十六进制）",
                "Upload-Metadata needs sha256 (lower-case hex)",
            )
        })?;
    let job_id = get("job").filter(|j| !j.is_empty()).ok_or_else(|| {
        ServerError::bad(
            "bad_metadata",
            "Upload-Metadata 需要 job（工单 id）",
            "Upload-Metadata needs job (the job id)",
        )
    })?;
    let upload = uploads::create(env, who, job_id, sha256, length).await?;
    let offset = settled_offset(env, &upload).await?;
    Ok((upload, offset))
}

/// The upload's offset, after making sure a complete upload's blob was recorded (unless a
/// PATCH is writing it right now).
async fn settled_offset(env: &Arc<Env>, upload: &Upload) -> Result<u64, ServerError> {
    match uploads::claim(env, &upload.id).await? {
        Some(claim) => {
            let offset = uploads::ensure_finished(env, upload).await;
            claim.release().await?;
            offset
        }
        None => Ok(upload.offset),
    }
}

/// The caller's upload `id`: its offset and length.
pub async fn status(
    env: &Arc<Env>,
    who: &Principal,
    id: String,
) -> Result<(u64, u64), ServerError> {
    let upload = uploads::get(env, who, id).await?;
    let offset = settled_offset(env, &upload).await?;
    Ok((offset, upload.length))
}

/// Ends the caller's upload `id` (its parts go with it).
pub async fn terminate(env: &Arc<Env>, who: &Principal, id: String) -> Result<(), ServerError> {
    let upload = uploads::get(env, who, id).await?;
    let claim = uploads::claim(env, &upload.id).await?.ok_or_else(busy)?;
    uploads::delete(env, &upload.id).await?;
    drop(claim); // its row is gone with the upload
    Ok(())
}

/// Receives one PATCH of the caller's upload `id` that starts at `claimed` (the client's
/// `Upload-Offset`), with its SHA-256 `checksum` if the client sent one. Returns the new
/// offset. Without a checksum whatever arrived is kept, even from an interrupted request.
pub async fn receive<E: std::fmt::Display>(
    env: &Arc<Env>,
    who: &Principal,
    id: String,
    claimed: u64,
    checksum: Option<[u8; 32]>,
    body: impl Stream<Item = Result<bytes::Bytes, E>> + Unpin,
) -> Result<u64, ServerError> {
    let upload = uploads::get(env, who, id).await?;
    // One PATCH at a time per upload, whichever node it reaches.
    let claim = uploads::claim(env, &upload.id).await?.ok_or_else(busy)?;
    // Whatever the outcome, the claim ends before the answer: the client's next request (a
    // retried chunk after a checksum failure, say) must find the upload free, not wait for a
    // background release.
    let outcome = receive_claimed(env, who, upload, claimed, checksum, body, &claim).await;
    claim.release().await?;
    outcome
}

/// [`receive`]'s work under the claim.
async fn receive_claimed<E: std::fmt::Display>(
    env: &Arc<Env>,
    who: &Principal,
    upload: Upload,
    claimed: u64,
    checksum: Option<[u8; 32]>,
    body: impl Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    claim: &uploads::Claim,
) -> Result<u64, ServerError> {
    // Re-read under the claim: a PATCH that just ended may have moved the offset.
    let mut upload = uploads::get(env, who, upload.id.clone()).await?;
    upload.offset = uploads::ensure_finished(env, &upload).await?;
    if upload.offset == upload.length {
        // Complete already (or the server had the blob): nothing more to take.
        return Ok(upload.offset);
    }
    // The stored parts must hold exactly the bytes before the offset (they may not, after an
    // upgrade from node-local partial files or a lost bucket): else the upload starts over.
    if !uploads::parts_cover(&env.blobs.parts(&upload.id).await?, upload.offset) {
        tracing::warn!(upload = %upload.id, "an upload's parts do not match its offset: starting over");
        uploads::restart(env, &upload.id).await?;
        upload.offset = 0;
    }
    if claimed != upload.offset {
        return Err(ServerError::Conflict {
            code: "offset_mismatch",
            zh: format!("上传偏移应为 {}", upload.offset),
            en: format!("the upload is at offset {}, not {claimed}", upload.offset),
        });
    }
    // The request's bytes go to a file of their own; once whole (or, without a checksum,
    // whatever arrived) they become the part that starts at the offset.
    let (path, mut file) = env.uploads.incoming_file(&upload.id).await?;
    let discard = |path: std::path::PathBuf| async move {
        let _ = tokio::fs::remove_file(path).await;
    };
    let mut hasher = Sha256::new();
    let mut received: u64 = 0;
    let mut stream = body;
    let mut failure: Option<ServerError> = None;
    let mut renewed = std::time::Instant::now();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                failure = Some(ServerError::bad(
                    "interrupted",
                    "上传中断",
                    format!("the upload was interrupted: {e}"),
                ));
                break;
            }
        };
        if upload.offset + received + chunk.len() as u64 > upload.length {
            drop(file);
            discard(path).await;
            return Err(ServerError::bad(
                "too_much_data",
                "上传内容超过声明的长度",
                "more bytes than Upload-Length",
            ));
        }
        if checksum.is_some() {
            hasher.update(&chunk);
        }
        if let Err(e) = file.write_all(&chunk).await {
            drop(file);
            discard(path).await;
            return Err(io(e));
        }
        received += chunk.len() as u64;
        if renewed.elapsed() > std::time::Duration::from_millis(uploads::CLAIM_MS as u64 / 3) {
            claim.renew().await?;
            renewed = std::time::Instant::now();
        }
    }
    if let Some(expected) = checksum {
        let complete = failure.is_none();
        if !complete || hasher.finalize().as_slice() != expected {
            // A checksummed chunk is all or nothing.
            drop(file);
            discard(path).await;
            return Err(failure.unwrap_or_else(|| ServerError::ChecksumMismatch {
                zh: "数据块校验失败，请重发".into(),
                en: "the chunk does not match its Upload-Checksum: send it again".into(),
            }));
        }
    }
    if let Err(e) = file.sync_all().await {
        drop(file);
        discard(path).await;
        return Err(io(e));
    }
    drop(file);
    if received == 0 {
        discard(path).await;
    } else {
        env.blobs.put_part(&upload.id, upload.offset, &path).await?;
    }
    env.metrics.upload_bytes(received);
    let offset = upload.offset + received;
    uploads::set_offset(env, &upload.id, offset).await?;
    if let Some(e) = failure {
        return Err(e);
    }
    if offset == upload.length {
        let done = Upload { offset, ..upload };
        uploads::finish(env, &done).await?;
    }
    Ok(offset)
}

/// A photo file the caller may read: its media type, and whether it may be shown inline (the
/// image types a photo may be, whose bytes were checked against the type when they arrived).
/// Taking an original out is audited (display copies and thumbnails are views).
pub async fn open_blob(
    env: &Arc<Env>,
    who: &Principal,
    sha256: &str,
) -> Result<(String, bool), ServerError> {
    if !field_core::validate::is_sha256_hex(sha256) {
        return Err(ServerError::NotFound);
    }
    let (key, w) = (sha256.to_string(), who.clone());
    let (mime, role) = env
        .blocking(move |env| crate::authz::blob_access(&*env.store.read()?, &w, &key))
        .await?
        .ok_or(ServerError::NotFound)?;
    if role == "original" {
        let entry = crate::store::AuditEntry {
            detail: serde_json::json!({ "what": "photo_original", "sha256": sha256 }),
            ..super::audit::by(who, "download")
        };
        env.blocking(move |env| super::audit::record(env, entry))
            .await?;
    }
    let displayable = field_core::validate::PHOTO_MIME_TYPES.contains(&mime.as_str());
    Ok((mime, displayable))
}
