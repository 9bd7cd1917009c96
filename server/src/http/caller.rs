//! The authenticated caller of a request, resolved once before any body is read: a phone's
//! bearer token, or a browser's session cookie (which must also send its CSRF token in
//! `X-CSRF-Token` for anything but a read). One access path for sync and the browser.

use crate::authz::Principal;
use crate::error::ServerError;
use crate::service::Env;
use crate::service::auth;
use crate::service::session::{self, WebSession};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use std::sync::Arc;

/// The browser session cookie.
pub const SESSION_COOKIE: &str = "fl_session";
/// The header a browser's non-read API call carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The caller: `Caller(principal)` in a handler's arguments (before the body).
pub struct Caller(pub Principal);

fn bearer(headers: &HeaderMap) -> Option<Result<String, ServerError>> {
    let value = headers.get(header::AUTHORIZATION)?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty() && t.len() <= 128)
            .ok_or(ServerError::Unauthorized("malformed bearer token")),
    )
}

/// The value of cookie `name` in `headers`, if present.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The browser session the cookie of `headers` names, if it is valid: `(token, session)`.
pub async fn web_session(
    env: &Arc<Env>,
    headers: &HeaderMap,
) -> Result<Option<(String, WebSession)>, ServerError> {
    let Some(token) = cookie(headers, SESSION_COOKIE).map(str::to_string) else {
        return Ok(None);
    };
    let t = token.clone();
    let s = env
        .blocking(move |env| session::resolve(&*env.store.read_fresh()?, &t))
        .await?;
    Ok(s.map(|s| (token, s)))
}

/// Resolves the bearer token of `headers` (a read; never waits for the writer).
pub async fn authenticate(env: &Arc<Env>, headers: &HeaderMap) -> Result<Principal, ServerError> {
    let token = match bearer(headers) {
        Some(t) => t?,
        None => return Err(ServerError::Unauthorized("missing bearer token")),
    };
    env.blocking(move |env| auth::authenticate(&*env.store.read_fresh()?, &token))
        .await
}

impl FromRequestParts<Arc<Env>> for Caller {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, env: &Arc<Env>) -> Result<Self, ServerError> {
        if bearer(&parts.headers).is_some() || cookie(&parts.headers, SESSION_COOKIE).is_none() {
            return Ok(Caller(authenticate(env, &parts.headers).await?));
        }
        let (_, s) = web_session(env, &parts.headers)
            .await?
            .ok_or(ServerError::Unauthorized("the session has ended"))?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !session::same_secret(sent, &s.csrf) {
                return Err(ServerError::forbidden(
                    "缺少或错误的 CSRF 令牌",
                    "missing or wrong CSRF token",
                ));
            }
        }
        Ok(Caller(s.who))
    }
}
