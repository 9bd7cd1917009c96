//! Downloads from the office pages: the filtered list as CSV (streamed as it is read) and XLSX,
//! a job's 一户一档 zip and its one-time written notice (PDF).

use super::{ShowErr, Shown, Web, urlencode};
use crate::error::ServerError;
use crate::service::Env;
use crate::service::exports;
use crate::service::listing::ListFilter;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// `Content-Disposition` for a download named `name` (UTF-8 names per RFC 6266).
pub fn attachment(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        urlencode(name)
    )
}

/// Streams a scratch file (already unlinked) as a response body.
pub fn file_body(file: std::fs::File) -> Body {
    let file = tokio::fs::File::from_std(file);
    let stream = futures_util::stream::try_unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 256 * 1024];
        let n = f.read(&mut buf).await?;
        if n == 0 {
            return Ok::<_, std::io::Error>(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), f)))
    });
    Body::from_stream(stream)
}

fn stamp() -> String {
    chrono::Utc::now()
        .with_timezone(&field_core::job::china_offset())
        .format("%Y%m%d-%H%M")
        .to_string()
}

/// `GET /jobs/export.csv?…`: the rows go out page by page as they are read.
pub async fn csv(
    State(env): State<Arc<Env>>,
    web: Web,
    Query(filter): Query<ListFilter>,
) -> Result<Response, Shown> {
    let lang = web.lang;
    // Check the filter before answering 200.
    filter.query(&web.session.who, 1).page(lang)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let who = web.session.who.clone();
    tokio::task::spawn_blocking(move || {
        let result = exports::write_csv(&env, &who, &filter, lang, |chunk| {
            tx.blocking_send(Ok(Bytes::from(chunk)))
                .map_err(|_| ServerError::Io("the download was cancelled".into()))
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "csv export failed");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let name = format!("{}-{}.csv", lang.t("工单", "jobs"), stamp());
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, attachment(&name)),
        ],
        body,
    )
        .into_response())
}

/// `GET /jobs/export.xlsx?…`.
pub async fn xlsx(
    State(env): State<Arc<Env>>,
    web: Web,
    Query(filter): Query<ListFilter>,
) -> Result<Response, Shown> {
    let lang = web.lang;
    let who = web.session.who.clone();
    let (file, size) = env
        .blocking(move |env| {
            std::fs::create_dir_all(&env.tmp_dir).map_err(|e| ServerError::Io(e.to_string()))?;
            let mut file =
                tempfile::tempfile_in(&env.tmp_dir).map_err(|e| ServerError::Io(e.to_string()))?;
            exports::write_xlsx(env, &who, &filter, lang, &mut file)?;
            use std::io::Seek;
            let size = file
                .stream_position()
                .map_err(|e| ServerError::Io(e.to_string()))?;
            file.rewind().map_err(|e| ServerError::Io(e.to_string()))?;
            Ok((file, size))
        })
        .await
        .page(lang)?;
    let name = format!("{}-{}.xlsx", lang.t("工单", "jobs"), stamp());
    Ok((
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (header::CONTENT_DISPOSITION, attachment(&name)),
            (header::CONTENT_LENGTH, size.to_string()),
        ],
        file_body(file),
    )
        .into_response())
}

/// `GET /jobs/{id}/archive.zip`: 一户一档.
pub async fn archive(
    State(env): State<Arc<Env>>,
    web: Web,
    Path(id): Path<String>,
) -> Result<Response, Shown> {
    let (file, size, name) = exports::archive(&env, &web.session.who, &id, web.lang)
        .await
        .page(web.lang)?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (header::CONTENT_DISPOSITION, attachment(&name)),
            (header::CONTENT_LENGTH, size.to_string()),
        ],
        file_body(file),
    )
        .into_response())
}

/// `GET /jobs/{id}/notice.pdf?inspection=`: the one-time written notice of an inspection with findings
/// (the completion inspection by default); printing it records the notice as given.
pub async fn notice(
    State(env): State<Arc<Env>>,
    web: Web,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<NoticeQuery>,
) -> Result<Response, Shown> {
    let lang = web.lang;
    let who = web.session.who.clone();
    let i = id.clone();
    let kind = match q.inspection.as_deref() {
        None | Some("") => field_core::InspectionKind::Completion,
        Some(k) => field_core::InspectionKind::parse(k)
            .ok_or(crate::error::ServerError::NotFound)
            .page(lang)?,
    };
    let pdf = env
        .blocking(move |env| exports::notice_pdf(env, &who, &i, kind, lang))
        .await
        .page(lang)?;
    let name = format!(
        "{}-{}-{}.pdf",
        lang.t("一次性书面告知书", "written-notice"),
        kind.as_str(),
        id
    );
    Ok(inline_pdf(&name, pdf))
}

/// `?inspection=` of the written notice (`design_review`, `mid`, `completion`; completion by
/// default).
#[derive(serde::Deserialize, Default)]
pub struct NoticeQuery {
    #[serde(default)]
    inspection: Option<String>,
}

/// A PDF shown in the browser (with a file name for saving it).
pub fn inline_pdf(name: &str, pdf: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; {}", &attachment(name)["attachment; ".len()..]),
            ),
        ],
        pdf,
    )
        .into_response()
}

/// `GET /jobs/{id}/receipt.pdf`: the written receipt (书面回执) with the progress QR code.
pub async fn receipt(
    State(env): State<Arc<Env>>,
    headers: axum::http::HeaderMap,
    web: Web,
    Path(id): Path<String>,
) -> Result<Response, Shown> {
    let lang = web.lang;
    let who = web.session.who.clone();
    let origin = super::public::origin(&env, &headers);
    let i = id.clone();
    let pdf = env
        .blocking(move |env| exports::receipt_pdf(env, &who, &i, &origin))
        .await
        .page(lang)?;
    Ok(inline_pdf(&format!("书面回执-{id}.pdf"), pdf))
}
