//! The authenticated caller of a request, resolved once from the bearer token before any body
//! is read.

use crate::error::ServerError;
use crate::service::Env;
use crate::service::auth::{self, Principal};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use std::sync::Arc;

/// The caller: `Caller(principal)` in a handler's arguments (before the body).
pub struct Caller(pub Principal);

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

/// Resolves the bearer token of `headers` (a read; never waits for the writer).
pub async fn authenticate(env: &Arc<Env>, headers: &HeaderMap) -> Result<Principal, ServerError> {
    let token = bearer(headers)?;
    env.blocking(move |env| auth::authenticate(&*env.store.read()?, &token))
        .await
}

impl FromRequestParts<Arc<Env>> for Caller {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, env: &Arc<Env>) -> Result<Self, ServerError> {
        Ok(Caller(authenticate(env, &parts.headers).await?))
    }
}
