//! Liveness and readiness.

use crate::error::ServerError;
use crate::service::Env;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tracing::Instrument;

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database and the blob store answer and the newest photo files the database
/// records are in the store. Not ready: 503 and what is wrong, for the operator's probe.
pub async fn readyz(State(env): State<Arc<Env>>) -> Response {
    let checked = async {
        env.blocking(|env| {
            env.store.read()?.max_seq()?;
            Ok(())
        })
        .await?;
        env.blobs.ready().await?;
        crate::service::integrity::ready(&env).await
    }
    .await;
    match checked {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {e}"),
            )
                .into_response()
        }
    }
}

/// `GET /metrics`: Prometheus' text format.
pub async fn metrics(State(env): State<Arc<Env>>) -> Result<Response, ServerError> {
    let position = env.blocking(|env| Ok(env.store.read()?.max_seq()?)).await?;
    let text = env
        .metrics
        .render(position, env.docs.len(), env.store.status());
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// Counts every routed request (by its route template) and gives it an id: the caller's
/// `X-Request-Id` when it is a plain token, else a new one; the id is in every log line of the
/// request and in the response's `X-Request-Id`.
pub async fn track(State(env): State<Arc<Env>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let method = req.method().to_string();
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let span = tracing::info_span!("request", id = %id, method = %method, route = %route);
    let started = std::time::Instant::now();
    let mut resp = async {
        let resp = next.run(req).await;
        // One line per request: the route's template, never the raw path or its query (search
        // terms may be ID or phone numbers).
        tracing::info!(
            status = resp.status().as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "answered"
        );
        resp
    }
    .instrument(span)
    .await;
    env.metrics
        .request(&route, &method, resp.status().as_u16(), started.elapsed());
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}
