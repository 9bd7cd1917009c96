//! HTTP routes. Handlers are thin: authenticate, decode, hand the work to a blocking thread,
//! encode.

use crate::auth::{self, LoginLimiter, Principal};
use crate::db::Db;
use crate::error::ServerError;
use crate::jobs::{self, Context};
use crate::sync;
use crate::tus;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, head, post};
use axum::{Json, Router};
use field_core::sync::protocol::{
    self, LoginRequest, LoginResponse, MAX_DECODED_BYTES, MAX_REQUEST_BYTES, MIN_PROTOCOL_VERSION,
    PROTOCOL_HEADER, SyncRequest, UserInfo,
};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Media type of sync bodies: CBOR compressed with zstd.
pub const SYNC_MEDIA_TYPE: &str = "application/vnd.fieldline.sync+cbor+zstd";

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub blobs: Arc<crate::blobs::BlobStore>,
    pub uploads: Arc<crate::uploads::Uploads>,
    pub ctx: Arc<Context>,
    pub limiter: Arc<LoginLimiter>,
    pub token_ttl: Duration,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/me", get(me))
        .route("/api/v1/sync", post(sync_handler))
        .route("/api/v1/jobs/{id}/automerge", get(job_automerge))
        .route(
            "/api/v1/jobs/{id}/contracts/{cid}/verification",
            get(contract_verification),
        )
        .route("/api/v1/jobs/{id}/contracts/{cid}/pdf", get(contract_pdf))
        .route("/api/v1/blobs/{sha256}", get(tus::blob))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .merge(
            // Upload bodies stream to disk; their size is checked against Upload-Length.
            Router::new()
                .route("/api/v1/uploads", post(tus::create).options(tus::options))
                .route(
                    "/api/v1/uploads/{id}",
                    head(tus::head).patch(tus::patch).delete(tus::delete),
                )
                .layer(axum::middleware::map_response(tus::tus_header)),
        )
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn readyz(State(s): State<AppState>) -> Result<&'static str, ServerError> {
    s.db.run(|core| {
        core.conn.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok("ready")
    })
    .await
}

fn bearer(headers: &HeaderMap) -> Result<String, ServerError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(ServerError::Unauthorized("missing bearer token"))?;
    value
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .ok_or(ServerError::Unauthorized("malformed bearer token"))
}

pub(crate) async fn principal(s: &AppState, headers: &HeaderMap) -> Result<Principal, ServerError> {
    let token = bearer(headers)?;
    s.db.run(move |core| auth::authenticate(&core.conn, &token))
        .await
}

async fn login(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Result<Json<LoginResponse>, ServerError> {
    let req: LoginRequest = serde_json::from_slice(&body).map_err(|e| {
        ServerError::bad(
            "bad_json",
            format!("登录请求格式错误：{e}"),
            format!("the login request is not valid JSON: {e}"),
        )
    })?;
    s.limiter
        .check(&format!("{}|{}", addr.ip(), req.username))?;
    let ttl = s.token_ttl;
    let issued =
        s.db.run(move |core| {
            auth::login(
                &core.conn,
                &req.username,
                &req.password,
                &req.device_id,
                req.device_key.as_deref(),
                ttl,
            )
        })
        .await?;
    let expires = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(issued.expires_at_ms)
        .unwrap_or_default()
        .to_rfc3339();
    Ok(Json(LoginResponse {
        token: issued.token,
        expires_at: expires,
        user: user_info(&issued.principal),
        server_key: s.ctx.signing_key.as_ref().map(|k| k.public_hex()),
    }))
}

fn user_info(p: &Principal) -> UserInfo {
    UserInfo {
        username: p.username.clone(),
        display_name: p.display_name.clone(),
        role: p.role.as_str().to_string(),
        unit: p.unit.clone(),
    }
}

async fn me(State(s): State<AppState>, headers: HeaderMap) -> Result<Json<UserInfo>, ServerError> {
    Ok(Json(user_info(&principal(&s, &headers).await?)))
}

fn check_protocol(headers: &HeaderMap) -> Result<(), ServerError> {
    let client = headers
        .get(PROTOCOL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    if client < MIN_PROTOCOL_VERSION {
        return Err(ServerError::UpgradeRequired {
            client,
            min: MIN_PROTOCOL_VERSION,
        });
    }
    Ok(())
}

async fn sync_handler(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ServerError> {
    check_protocol(&headers)?;
    let who = principal(&s, &headers).await?;
    let ctx = s.ctx.clone();
    let bytes =
        s.db.run(move |core| {
            let req: SyncRequest = protocol::decode(&body, MAX_DECODED_BYTES)
                .map_err(|e| ServerError::bad("bad_body", e.to_string(), e.to_string()))?;
            if req.protocol < MIN_PROTOCOL_VERSION {
                return Err(ServerError::UpgradeRequired {
                    client: req.protocol,
                    min: MIN_PROTOCOL_VERSION,
                });
            }
            let resp = sync::handle(core, &who, &req, &ctx)?;
            Ok(protocol::encode(&resp))
        })
        .await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, SYNC_MEDIA_TYPE)],
        bytes,
    ))
}

async fn job_automerge(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ServerError> {
    let who = principal(&s, &headers).await?;
    let bytes =
        s.db.run(move |core| jobs::document(core, &who, &id))
            .await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        bytes,
    ))
}

/// The caller may see the job, or 404 (the job's existence is not disclosed).
async fn visible_job(
    s: &AppState,
    headers: &HeaderMap,
    id: &str,
) -> Result<field_core::Job, ServerError> {
    let who = principal(s, headers).await?;
    let job_id = id.to_string();
    let visible =
        s.db.run(move |core| jobs::can_access(&core.conn, &who, &job_id))
            .await?;
    if !visible {
        return Err(ServerError::NotFound);
    }
    crate::contracts::load_job(&s.db, id).await
}

async fn contract_verification(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((id, cid)): Path<(String, String)>,
) -> Result<Json<field_core::contract::Verification>, ServerError> {
    visible_job(&s, &headers, &id).await?;
    let key = s
        .ctx
        .signing_key
        .as_ref()
        .map(|k| k.public_hex())
        .unwrap_or_default();
    let mut all = crate::contracts::verify_job(&s.db, &s.blobs, &key, &id, Some(&cid)).await?;
    all.pop().map(Json).ok_or(ServerError::NotFound)
}

async fn contract_pdf(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path((id, cid)): Path<(String, String)>,
) -> Result<impl IntoResponse, ServerError> {
    let job = visible_job(&s, &headers, &id).await?;
    if !job.contracts.contains_key(&cid) {
        return Err(ServerError::NotFound);
    }
    let pdf = tokio::task::spawn_blocking(move || crate::pdf::render(&job, &cid))
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))??
        .ok_or(ServerError::Status {
            status: 501,
            code: "pdf_not_built",
            zh: "此服务器构建时未启用 PDF 功能".into(),
            en: "this server was built without the pdf feature".into(),
        })?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/pdf")],
        pdf,
    ))
}
