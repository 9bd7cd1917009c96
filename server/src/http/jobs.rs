//! A job's resources: its automerge document, its history (audit trail), its contracts'
//! verification and PDF. Each answers 404 to a caller who may not see the job.

use super::caller::Caller;
use crate::authz;
use crate::authz::Principal;
use crate::error::ServerError;
use crate::service::{Env, audit, contracts, jobs};
use crate::store::AuditEntry;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use std::sync::Arc;

/// The caller may see the job, or 404 (the job's existence is not disclosed).
async fn visible(env: &Arc<Env>, who: &Principal, id: &str) -> Result<(), ServerError> {
    let (who, id) = (who.clone(), id.to_string());
    let ok = env
        .blocking(move |env| authz::can_read_job(&*env.store.read()?, &who, &id))
        .await?;
    if ok {
        Ok(())
    } else {
        Err(ServerError::NotFound)
    }
}

/// Records a download in the audit trail.
async fn audited(
    env: &Arc<Env>,
    who: &Principal,
    kind: &str,
    job_id: &str,
    detail: serde_json::Value,
) -> Result<(), ServerError> {
    let entry = AuditEntry {
        job_id: Some(job_id.to_string()),
        detail,
        ..audit::by(who, kind)
    };
    env.blocking(move |env| audit::record(env, entry)).await
}

pub async fn automerge_doc(
    State(env): State<Arc<Env>>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ServerError> {
    let (w, i) = (who.clone(), id.clone());
    let bytes = env.blocking(move |env| jobs::document(env, &w, &i)).await?;
    audited(
        &env,
        &who,
        "download",
        &id,
        serde_json::json!({ "what": "automerge", "bytes": bytes.len() }),
    )
    .await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        bytes,
    ))
}

pub async fn contract_verification(
    State(env): State<Arc<Env>>,
    Caller(who): Caller,
    Path((id, cid)): Path<(String, String)>,
) -> Result<Json<field_core::contract::Verification>, ServerError> {
    visible(&env, &who, &id).await?;
    let key = env.server_key().unwrap_or_default();
    let mut all = contracts::verify_job(&env, &key, &id, Some(&cid)).await?;
    let v = all.pop().ok_or(ServerError::NotFound)?;
    audited(
        &env,
        &who,
        "contract_verified",
        &id,
        serde_json::json!({ "contract": cid, "valid": v.is_valid() }),
    )
    .await?;
    Ok(Json(v))
}

pub async fn contract_pdf(
    State(env): State<Arc<Env>>,
    Caller(who): Caller,
    Path((id, cid)): Path<(String, String)>,
) -> Result<impl IntoResponse, ServerError> {
    visible(&env, &who, &id).await?;
    let job = contracts::load_job(&env, &id).await?;
    if !job.contracts.contains_key(&cid) {
        return Err(ServerError::NotFound);
    }
    let c = cid.clone();
    let pdf = tokio::task::spawn_blocking(move || crate::pdf::render(&job, &c))
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))??
        .ok_or(ServerError::NotImplemented {
            code: "pdf_not_built",
            zh: "此服务器构建时未启用 PDF 功能".into(),
            en: "this server was built without the pdf feature".into(),
        })?;
    audited(
        &env,
        &who,
        "download",
        &id,
        serde_json::json!({ "what": "contract_pdf", "contract": cid }),
    )
    .await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/pdf")],
        pdf,
    ))
}
