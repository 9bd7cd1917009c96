//! `POST /api/v1/auth/login` and `GET /api/v1/me`.

use super::caller::Caller;
use crate::authz::Principal;
use crate::error::ServerError;
use crate::service::Env;
use crate::service::auth::{self, LoginAttempt};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use field_core::sync::protocol::{LoginRequest, LoginResponse, UserInfo};
use std::net::SocketAddr;
use std::sync::Arc;

/// Largest login body.
pub const LOGIN_BODY_MAX: usize = 4 * 1024;

pub async fn login(
    State(env): State<Arc<Env>>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Json<LoginResponse>, ServerError> {
    let client = auth::client_address(addr.ip(), env.auth.client_ip_header.as_deref(), &headers);
    let req: LoginRequest = serde_json::from_slice(&body).map_err(|e| {
        ServerError::bad(
            "bad_json",
            format!("登录请求格式错误：{e}"),
            format!("the login request is not valid JSON: {e}"),
        )
    })?;
    // A device showing a valid token of the same account on the same device is never refused
    // by the login limits (a wrong or ended token is simply not counted as one).
    let holds_token = match super::caller::authenticate(&env, &headers).await {
        Ok(p) => p.username == req.username && p.device_id == req.device_id,
        Err(_) => false,
    };
    let issued = auth::login(
        &env,
        LoginAttempt {
            username: req.username,
            password: req.password,
            device_id: req.device_id,
            device_key: req.device_key,
            device_actor: req.device_actor,
            client,
            holds_token,
        },
    )
    .await?;
    let expires = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(issued.expires_at_ms)
        .unwrap_or_default()
        .to_rfc3339();
    Ok(Json(LoginResponse {
        token: issued.token,
        expires_at: expires,
        user: user_info(&issued.principal),
        server_key: env.server_key(),
        retired_server_keys: env.retired_keys.clone(),
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

pub async fn me(Caller(who): Caller) -> Json<UserInfo> {
    Json(user_info(&who))
}

/// Documents `GET /api/v1/me` (the handler is [`me`]).
#[utoipa::path(
    get, path = "/api/v1/me", tag = "office",
    responses(
        (status = 200, body = crate::http::openapi::Me),
        (status = 401, body = crate::http::openapi::ApiErrorBody),
    ),
    security(("bearer" = []))
)]
#[allow(dead_code)]
pub(crate) fn me_doc() {}
