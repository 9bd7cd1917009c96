//! The one boundary error type of the HTTP edge. Every error becomes a status code and a JSON
//! body `{code, zh, en}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use field_core::sync::protocol::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{en}")]
    BadRequest {
        code: &'static str,
        zh: String,
        en: String,
    },
    #[error("unauthorised: {0}")]
    Unauthorized(&'static str),
    #[error("forbidden: {en}")]
    Forbidden { zh: String, en: String },
    #[error("not found")]
    NotFound,
    #[error("too many requests")]
    TooManyRequests,
    #[error("client too old")]
    UpgradeRequired { client: u32, min: u32 },
    #[error("conflict: {en}")]
    Conflict {
        code: &'static str,
        zh: String,
        en: String,
    },
    #[error("checksum mismatch: {en}")]
    ChecksumMismatch { zh: String, en: String },
    #[error("{en}")]
    Status {
        status: u16,
        code: &'static str,
        zh: String,
        en: String,
    },
    #[error("io: {0}")]
    Io(String),
    #[error("internal: {0}")]
    Internal(String),
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
}

impl ServerError {
    pub fn bad(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        ServerError::BadRequest {
            code,
            zh: zh.into(),
            en: en.into(),
        }
    }

    pub fn forbidden(zh: impl Into<String>, en: impl Into<String>) -> Self {
        ServerError::Forbidden {
            zh: zh.into(),
            en: en.into(),
        }
    }

    fn parts(&self) -> (StatusCode, ApiError) {
        let e = |code: &str, zh: &str, en: &str| ApiError {
            code: code.into(),
            zh: zh.into(),
            en: en.into(),
        };
        match self {
            ServerError::BadRequest { code, zh, en } => (StatusCode::BAD_REQUEST, e(code, zh, en)),
            ServerError::Unauthorized(why) => (
                StatusCode::UNAUTHORIZED,
                e("unauthorized", "未登录或登录已失效，请重新登录", why),
            ),
            ServerError::Forbidden { zh, en } => (StatusCode::FORBIDDEN, e("forbidden", zh, en)),
            ServerError::Conflict { code, zh, en } => (StatusCode::CONFLICT, e(code, zh, en)),
            ServerError::ChecksumMismatch { zh, en } => (
                StatusCode::from_u16(460).expect("valid status"),
                e("checksum_mismatch", zh, en),
            ),
            ServerError::Status {
                status,
                code,
                zh,
                en,
            } => (
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
                e(code, zh, en),
            ),
            ServerError::NotFound => (StatusCode::NOT_FOUND, e("not_found", "找不到", "not found")),
            ServerError::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                e(
                    "rate_limited",
                    "尝试次数过多，请稍后再试",
                    "too many attempts, try again later",
                ),
            ),
            ServerError::UpgradeRequired { client, min } => (
                StatusCode::UPGRADE_REQUIRED,
                e(
                    "please_update",
                    &format!("应用版本过旧（协议 {client}，最低 {min}），请更新应用"),
                    &format!(
                        "this app is too old (protocol {client}, server needs {min}): please update"
                    ),
                ),
            ),
            ServerError::Io(_) | ServerError::Internal(_) | ServerError::Db(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                e(
                    "internal",
                    "服务器内部错误，请稍后重试",
                    "internal server error, please retry",
                ),
            ),
        }
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let (status, body) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::debug!(error = %self, %status, "request refused");
        }
        (status, axum::Json(body)).into_response()
    }
}
