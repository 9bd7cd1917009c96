//! HTTP handlers of the tus 1.0 upload endpoint (`/api/v1/uploads`) and of blob downloads
//! (`/api/v1/blobs/{sha256}`): headers parsed, the service called ([`crate::service::tus`]:
//! the protocol's steps; [`crate::service::uploads`]: the rules), the response rendered.

use super::caller::Caller;
use crate::error::ServerError;
use crate::service::uploads::{OFFSET_MEDIA_TYPE, TUS_EXTENSIONS, TUS_VERSION, parse_checksum};
use crate::service::{Env, tus};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

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
    let who = caller(&env, &headers).await?;
    check_version(&headers)?;
    if headers.contains_key("upload-defer-length") {
        return Err(ServerError::bad(
            "defer_length",
            "必须在创建时给出 Upload-Length",
            "Upload-Length must be given at creation",
        ));
    }
    let length = u64_header(&headers, "upload-length")?;
    let metadata = header_str(&headers, "upload-metadata").unwrap_or("");
    let (upload, offset) = tus::create(&env, &who, length, metadata).await?;
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
    let who = caller(&env, &headers).await?;
    check_version(&headers)?;
    let (offset, length) = tus::status(&env, &who, id).await?;
    Ok(offset_response(StatusCode::OK, offset, Some(length)))
}

pub async fn delete(
    State(env): State<Arc<Env>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    let who = caller(&env, &headers).await?;
    check_version(&headers)?;
    tus::terminate(&env, &who, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The authenticated caller (resolved inside the handlers, before the tus version is checked:
/// a request without a valid token gets 401 whatever else is wrong with it).
async fn caller(
    env: &Arc<Env>,
    headers: &HeaderMap,
) -> Result<crate::authz::Principal, ServerError> {
    super::caller::authenticate(env, headers).await
}

pub async fn patch(
    State(env): State<Arc<Env>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ServerError> {
    let who = caller(&env, &headers).await?;
    check_version(&headers)?;
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
    let offset = tus::receive(&env, &who, id, claimed, checksum, body.into_data_stream()).await?;
    Ok(offset_response(StatusCode::NO_CONTENT, offset, None))
}

pub async fn blob(
    State(env): State<Arc<Env>>,
    Caller(who): Caller,
    Path(sha256): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ServerError> {
    let (mime, displayable) = tus::open_blob(&env, &who, &sha256).await?;
    serve_blob(&env, &sha256, mime, displayable, &headers).await
}

/// Streams a blob the caller was found to may see, as `mime` when `displayable` (else as a
/// download), honouring `If-None-Match` and a single `Range`.
pub async fn serve_blob(
    env: &Env,
    sha256: &str,
    mime: String,
    displayable: bool,
    headers: &HeaderMap,
) -> Result<Response, ServerError> {
    let etag = format!("\"{sha256}\"");
    if header_str(headers, "if-none-match") == Some(etag.as_str()) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    // A range applies only to the blob the client already has part of (If-Range names it).
    let range = header_str(headers, "range")
        .filter(|_| header_str(headers, "if-range").is_none_or(|tag| tag == etag));
    let read = match env.blobs.download(sha256, range).await? {
        crate::blobs::Download::Bytes(read) => read,
        crate::blobs::Download::Unsatisfiable { len } => {
            return Ok((
                StatusCode::RANGE_NOT_SATISFIABLE,
                [(header::CONTENT_RANGE, format!("bytes */{len}"))],
            )
                .into_response());
        }
    };
    // Anything but the image types a photo may be is a download. A blob never runs as a page.
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
