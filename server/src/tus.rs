//! HTTP handlers of the tus 1.0 upload endpoint and of blob downloads. Protocol parsing and
//! streaming live here; the rules (access, references, verification) in [`crate::uploads`].

use crate::error::ServerError;
use crate::http::{AppState, principal};
use crate::uploads::{
    OFFSET_MEDIA_TYPE, TUS_EXTENSIONS, TUS_VERSION, parse_checksum, parse_metadata,
};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn status(status: u16, code: &'static str, zh: &str, en: &str) -> ServerError {
    ServerError::Status {
        status,
        code,
        zh: zh.into(),
        en: en.into(),
    }
}

/// Every request but OPTIONS must say which tus version it speaks.
fn check_version(headers: &HeaderMap) -> Result<(), ServerError> {
    match header_str(headers, "tus-resumable") {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(status(
            412,
            "tus_version",
            "需要 Tus-Resumable: 1.0.0",
            "Tus-Resumable: 1.0.0 is required",
        )),
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

pub async fn options(State(s): State<AppState>) -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            ("tus-version", TUS_VERSION.to_string()),
            ("tus-extension", TUS_EXTENSIONS.to_string()),
            ("tus-max-size", s.uploads.max_size.to_string()),
            ("tus-checksum-algorithm", "sha256".to_string()),
        ],
    )
        .into_response()
}

pub async fn create(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    check_version(&headers)?;
    let who = principal(&s, &headers).await?;
    if headers.contains_key("upload-defer-length") {
        return Err(ServerError::bad(
            "defer_length",
            "必须在创建时给出 Upload-Length",
            "Upload-Length must be given at creation",
        ));
    }
    let length = u64_header(&headers, "upload-length")?;
    if length > s.uploads.max_size {
        return Err(status(
            413,
            "too_large",
            "文件超过上传上限",
            "the upload is larger than the server accepts",
        ));
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
    let upload = s
        .uploads
        .create(&s.db, &who, job_id, sha256, length)
        .await?;
    let offset = settled_offset(&s, &upload).await?;
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
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    let upload = owned_upload(&s, &headers, id).await?;
    let offset = settled_offset(&s, &upload).await?;
    Ok(offset_response(StatusCode::OK, offset, Some(upload.length)))
}

pub async fn delete(
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    let upload = owned_upload(&s, &headers, id).await?;
    let _busy = s.uploads.claim(&upload.id).ok_or_else(busy)?;
    s.uploads.delete(&s.db, &upload.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The upload `id` of the caller (after the version check and authentication).
async fn owned_upload(
    s: &AppState,
    headers: &HeaderMap,
    id: String,
) -> Result<crate::uploads::Upload, ServerError> {
    check_version(headers)?;
    let who = principal(s, headers).await?;
    s.uploads.get(&s.db, &who, id).await
}

/// The upload's offset, after making sure a complete upload's blob was recorded (unless a
/// PATCH is writing it right now).
async fn settled_offset(s: &AppState, upload: &crate::uploads::Upload) -> Result<u64, ServerError> {
    match s.uploads.claim(&upload.id) {
        Some(_busy) => s.uploads.ensure_finished(&s.db, &s.blobs, upload).await,
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
    State(s): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    check_version(&headers)?;
    let who = principal(&s, &headers).await?;
    if header_str(&headers, "content-type") != Some(OFFSET_MEDIA_TYPE) {
        return Err(status(
            415,
            "content_type",
            "Content-Type 必须是 application/offset+octet-stream",
            "Content-Type must be application/offset+octet-stream",
        ));
    }
    let claimed = u64_header(&headers, "upload-offset")?;
    let checksum = header_str(&headers, "upload-checksum")
        .map(parse_checksum)
        .transpose()?;
    let upload = s.uploads.get(&s.db, &who, id).await?;
    let _busy = s.uploads.claim(&upload.id).ok_or_else(busy)?;
    // Re-read under the claim: a PATCH that just ended may have moved the offset.
    let mut upload = s.uploads.get(&s.db, &who, upload.id.clone()).await?;
    upload.offset = s.uploads.ensure_finished(&s.db, &s.blobs, &upload).await?;
    if upload.offset == upload.length {
        // Complete already (or the server had the blob): nothing more to take.
        return Ok(offset_response(StatusCode::NO_CONTENT, upload.offset, None));
    }
    if claimed != upload.offset {
        return Err(ServerError::Conflict {
            code: "offset_mismatch",
            zh: format!("上传偏移应为 {}", upload.offset),
            en: format!("the upload is at offset {}, not {claimed}", upload.offset),
        });
    }
    let path = s.uploads.part_path(&upload.id);
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .await
        .map_err(io)?;
    // Bytes past the stored offset are from a write that never completed: drop them.
    file.set_len(upload.offset).await.map_err(io)?;
    file.seek(std::io::SeekFrom::Start(upload.offset))
        .await
        .map_err(io)?;
    let mut hasher = Sha256::new();
    let mut received: u64 = 0;
    let mut stream = body.into_data_stream();
    let mut failure: Option<ServerError> = None;
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
            file.set_len(upload.offset).await.map_err(io)?;
            return Err(ServerError::bad(
                "too_much_data",
                "上传内容超过声明的长度",
                "more bytes than Upload-Length",
            ));
        }
        if checksum.is_some() {
            hasher.update(&chunk);
        }
        file.write_all(&chunk).await.map_err(io)?;
        received += chunk.len() as u64;
    }
    if let Some(expected) = checksum {
        let complete = failure.is_none();
        if !complete || hasher.finalize().as_slice() != expected {
            // A checksummed chunk is all or nothing.
            file.set_len(upload.offset).await.map_err(io)?;
            return Err(failure.unwrap_or_else(|| ServerError::ChecksumMismatch {
                zh: "数据块校验失败，请重发".into(),
                en: "the chunk does not match its Upload-Checksum: send it again".into(),
            }));
        }
    }
    // Without a checksum, whatever arrived is kept, even from an interrupted request.
    file.sync_all().await.map_err(io)?;
    drop(file);
    let offset = upload.offset + received;
    s.uploads.set_offset(&s.db, &upload.id, offset).await?;
    if let Some(e) = failure {
        return Err(e);
    }
    if offset == upload.length {
        let done = crate::uploads::Upload { offset, ..upload };
        s.uploads.finish(&s.db, &s.blobs, &done).await?;
    }
    Ok(offset_response(StatusCode::NO_CONTENT, offset, None))
}

pub async fn blob(
    State(s): State<AppState>,
    Path(sha256): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    let who = principal(&s, &headers).await?;
    if !field_core::validate::is_sha256_hex(&sha256) {
        return Err(ServerError::NotFound);
    }
    let key = sha256.clone();
    let mime =
        s.db.run(move |core| crate::uploads::blob_access(&core.conn, &who, &key))
            .await?
            .ok_or(ServerError::NotFound)?;
    let etag = format!("\"{sha256}\"");
    if header_str(&headers, "if-none-match") == Some(etag.as_str()) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    // A range applies only to the blob the client already has part of (If-Range names it).
    let range = header_str(&headers, "range")
        .filter(|_| header_str(&headers, "if-range").is_none_or(|tag| tag == etag));
    let read = match s.blobs.download(&sha256, range).await? {
        crate::blobs::Download::Bytes(read) => read,
        crate::blobs::Download::Unsatisfiable { len } => {
            return Ok((
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response());
        }
    };
    let mut response = Response::builder()
        .header(header::CONTENT_TYPE, mime)
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
