//! Liveness and readiness.

use crate::error::ServerError;
use crate::service::Env;
use axum::extract::State;
use std::sync::Arc;

pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers.
pub async fn readyz(State(env): State<Arc<Env>>) -> Result<&'static str, ServerError> {
    env.blocking(|env| {
        env.store.read()?.max_seq()?;
        Ok("ready")
    })
    .await
}
