//! How a [`ServerError`] reaches an HTTP client: a status code and a JSON body `{code, zh, en}`.
//! The only place that knows status codes.

use crate::error::ServerError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use field_core::sync::protocol::ApiError;

/// The status code of an error.
pub fn status(e: &ServerError) -> StatusCode {
    match e {
        ServerError::BadRequest { .. } => StatusCode::BAD_REQUEST,
        ServerError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ServerError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        ServerError::Forbidden { .. } => StatusCode::FORBIDDEN,
        ServerError::NotFound | ServerError::NotFoundNamed { .. } => StatusCode::NOT_FOUND,
        ServerError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ServerError::UpgradeRequired { .. } => StatusCode::UPGRADE_REQUIRED,
        ServerError::Conflict { .. } => StatusCode::CONFLICT,
        // tus: "460 Checksum Mismatch".
        ServerError::ChecksumMismatch { .. } => {
            StatusCode::from_u16(460).expect("a valid status code")
        }
        ServerError::Precondition { .. } => StatusCode::PRECONDITION_FAILED,
        ServerError::MediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ServerError::NotImplemented { .. } => StatusCode::NOT_IMPLEMENTED,
        ServerError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
        ServerError::Setup { .. }
        | ServerError::Io(_)
        | ServerError::Internal(_)
        | ServerError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ServerError {
    fn into_response(self) -> Response {
        let status = status(&self);
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::debug!(error = %self, %status, "request refused");
        }
        let (code, zh, en) = self.describe();
        (status, axum::Json(ApiError { code, zh, en })).into_response()
    }
}
