//! HTTP handlers of the tus 1.0 upload endpoint (`/api/v1/uploads`) and of blob downloads
//! (`/api/v1/blobs/{sha256}`). Protocol parsing and streaming live here; the rules (access,
//! references, verification) in [`crate::service::uploads`].

use super::caller::Caller;
use crate::authz;
use crate::error::ServerError;
use crate::service::uploads::{
    self, OFFSET_MEDIA_TYPE, TUS_EXTENSIONS, TUS_VERSION, Upload, parse_checksum, parse_metadata,
};
use crate::service::{Env, audit};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Every request but OPTIONS must say which tus version it speaks.
fn check_version(headers: &HeaderMap) -> Result<(), ServerError> {
    match header_str(headers, "tus-resumable") {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(ServerError::Precondition {
            code: "tus_version",
            zh: "需要 Tus-Resumable: 1.0.0".into(),
            en: "Tus-Resumable: 1.0.0 is required".into(),
        }),
    }
}

/// Adds `Tus-Resumable` to every response of the upload routes (errors included).
pub async fn tus_header(resp: Response) -> Response {
    let mut resp = resp;
    resp.headers_mut()
        .insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    resp
}

fn u64_header(headers: &HeaderMap, name: &str) -> Result<u64, ServerError> {
    header_str(headers, name)
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            ServerError::bad(
                "bad_header",
                format!("缺少或无效的 {name} 请求头"),
                format!("missing or invalid {name} header"),
            )
        })
}

pub async fn options(State(env): State<Arc<Env>>) -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            ("tus-version", TUS_VERSION.to_string()),
            ("tus-extension", TUS_EXTENSIONS.to_string()),
            ("tus-max-size", env.uploads.max_size.to_string()),
            ("tus-checksum-algorithm", "sha256".to_string()),
        ],
    )
        .into_response()
}

pub async fn create(
    State(env): State<Arc<Env>>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    check_version(&headers)?;
    let who = caller(&env, &headers).await?;
    if headers.contains_key("upload-defer-length") {
        return Err(ServerError::bad(
            "defer_length",
            "必须在创建时给出 Upload-Length",
            "Upload-Length must be given at creation",
        ));
    }
    let length = u64_header(&headers, "upload-length")?;
    if length > env.uploads.max_size {
        return Err(ServerError::TooLarge {
            code: "too_large",
            zh: "文件超过上传上限".into(),
            en: "the upload is larger than the server accepts".into(),
        });
    }
    let meta = parse_metadata(header_str(&headers, "upload-metadata").unwrap_or(""))?;
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
    let upload = uploads::create(&env, &who, job_id, sha256, length).await?;
    let offset = settled_offset(&env, &upload).await?;
    Ok((
        StatusCode::CREATED,
        [
            (header::LOCATION, format!("/api/v1/uploads/{}", upload.id)),
            (
                header::HeaderName::from_static("upload-offset"),
                offset.to_string(),
            ),
        ],
    )
        .into_response())
}

fn offset_response(code: StatusCode, offset: u64, length: Option<u64>) -> Response {
    let mut resp = code.into_response();
    let h = resp.headers_mut();
    h.insert("upload-offset", HeaderValue::from(offset));
    if let Some(l) = length {
        h.insert("upload-length", HeaderValue::from(l));
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

pub async fn head(
    State(env): State<Arc<Env>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    let upload = owned_upload(&env, &headers, id).await?;
    let offset = settled_offset(&env, &upload).await?;
    Ok(offset_response(StatusCode::OK, offset, Some(upload.length)))
}

pub async fn delete(
    State(env): State<Arc<Env>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    let upload = owned_upload(&env, &headers, id).await?;
    let claim = uploads::claim(&env, &upload.id).await?.ok_or_else(busy)?;
    uploads::delete(&env, &upload.id).await?;
    drop(claim); // its row is gone with the upload
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The authenticated caller (tus checks its version header first, so the caller is resolved
/// inside the handlers).
async fn caller(
    env: &Arc<Env>,
    headers: &HeaderMap,
) -> Result<crate::service::auth::Principal, ServerError> {
    super::caller::authenticate(env, headers).await
}

/// The upload `id` of the caller (after the version check and authentication).
async fn owned_upload(
    env: &Arc<Env>,
    headers: &HeaderMap,
    id: String,
) -> Result<Upload, ServerError> {
    check_version(headers)?;
    let who = caller(env, headers).await?;
    uploads::get(env, &who, id).await
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

pub async fn patch(
    State(env): State<Arc<Env>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    check_version(&headers)?;
    let who = caller(&env, &headers).await?;
    if header_str(&headers, "content-type") != Some(OFFSET_MEDIA_TYPE) {
        return Err(ServerError::MediaType {
            code: "content_type",
            zh: "Content-Type 必须是 application/offset+octet-stream".into(),
            en: "Content-Type must be application/offset+octet-stream".into(),
        });
    }
    let claimed = u64_header(&headers, "upload-offset")?;
    let checksum = header_str(&headers, "upload-checksum")
        .map(parse_checksum)
        .transpose()?;
    let upload = uploads::get(&env, &who, id).await?;
    // One PATCH at a time per upload, whichever node it reaches.
    let claim = uploads::claim(&env, &upload.id).await?.ok_or_else(busy)?;
    // Re-read under the claim: a PATCH that just ended may have moved the offset.
    let mut upload = uploads::get(&env, &who, upload.id.clone()).await?;
    upload.offset = uploads::ensure_finished(&env, &upload).await?;
    if upload.offset == upload.length {
        // Complete already (or the server had the blob): nothing more to take.
        claim.release().await?;
        return Ok(offset_response(StatusCode::NO_CONTENT, upload.offset, None));
    }
    // The stored parts must hold exactly the bytes before the offset (they may not, after an
    // upgrade from node-local partial files or a lost bucket): else the upload starts over.
    if !uploads::parts_cover(&env.blobs.parts(&upload.id).await?, upload.offset) {
        tracing::warn!(upload = %upload.id, "an upload's parts do not match its offset: starting over");
        uploads::restart(&env, &upload.id).await?;
        upload.offset = 0;
    }
    if claimed != upload.offset {
        claim.release().await?;
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
    let mut stream = body.into_data_stream();
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
    // Without a checksum, whatever arrived is kept, even from an interrupted request.
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
    uploads::set_offset(&env, &upload.id, offset).await?;
    if let Some(e) = failure {
        return Err(e);
    }
    if offset == upload.length {
        let done = Upload { offset, ..upload };
        uploads::finish(&env, &done).await?;
    }
    claim.release().await?;
    Ok(offset_response(StatusCode::NO_CONTENT, offset, None))
}

pub async fn blob(
    State(env): State<Arc<Env>>,
    Caller(who): Caller,
    Path(sha256): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    if !field_core::validate::is_sha256_hex(&sha256) {
        return Err(ServerError::NotFound);
    }
    let (key, w) = (sha256.clone(), who.clone());
    let (mime, role) = env
        .blocking(move |env| authz::blob_access(&*env.store.read()?, &w, &key))
        .await?
        .ok_or(ServerError::NotFound)?;
    if role == "original" {
        // Evidence leaves the server: on the record (display copies and thumbnails are views).
        let entry = crate::store::AuditEntry {
            detail: serde_json::json!({ "what": "photo_original", "sha256": sha256 }),
            ..audit::by(&who, "download")
        };
        env.blocking(move |env| audit::record(env, entry)).await?;
    }
    let etag = format!("\"{sha256}\"");
    if header_str(&headers, "if-none-match") == Some(etag.as_str()) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    // A range applies only to the blob the client already has part of (If-Range names it).
    let range = header_str(&headers, "range")
        .filter(|_| header_str(&headers, "if-range").is_none_or(|tag| tag == etag));
    let read = match env.blobs.download(&sha256, range).await? {
        crate::blobs::Download::Bytes(read) => read,
        crate::blobs::Download::Unsatisfiable { len } => {
            return Ok((
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response());
        }
    };
    // Only the image types a photo may be are shown inline (their bytes were checked against the
    // type when they arrived); anything else is a download. A blob never runs as a page.
    let displayable = field_core::validate::PHOTO_MIME_TYPES.contains(&mime.as_str());
    let (mime, disposition) = if displayable {
        (mime, "inline")
    } else {
        ("application/octet-stream".to_string(), "attachment")
    };
    let mut response = Response::builder()
        .header(header::CONTENT_TYPE, mime)
        .header(header::CONTENT_DISPOSITION, disposition)
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(
            header::CONTENT_SECURITY_POLICY,
            super::hardening::BLOB_POLICY,
        )
        .header(header::ETAG, etag)
        .header(
            header::CACHE_CONTROL,
            "private, max-age=31536000, immutable",
        )
        .header(header::ACCEPT_RANGES, "bytes");
    response = match &read.part {
        Some(r) => response
            .status(StatusCode::PARTIAL_CONTENT)
            .header(header::CONTENT_LENGTH, r.end - r.start)
            .header(
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{}", r.start, r.end - 1, read.len),
            ),
        None => response.header(header::CONTENT_LENGTH, read.len),
    };
    response
        .body(axum::body::Body::from_stream(read.body))
        .map_err(|e| ServerError::Internal(e.to_string()))
}
