//! The one boundary error type of the server. Each variant says what went wrong in domain terms
//! with a stable code and the reason in Chinese and English; only the HTTP layer
//! (`http::error`) turns it into a status code, and the CLI prints it.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The request is malformed or its content invalid.
    #[error("{en}")]
    BadRequest {
        code: &'static str,
        zh: String,
        en: String,
    },
    /// The request (or a part of it) is larger than the server accepts.
    #[error("{en}")]
    TooLarge {
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
    /// Something named by the caller does not exist, said in words (for operators and admins;
    /// never for what a stranger could probe).
    #[error("{en}")]
    NotFoundNamed { zh: String, en: String },
    #[error("too many requests")]
    TooManyRequests,
    #[error("client too old")]
    UpgradeRequired { client: u32, min: u32 },
    /// The request conflicts with what is stored.
    #[error("conflict: {en}")]
    Conflict {
        code: &'static str,
        zh: String,
        en: String,
    },
    /// The bytes do not hash to what they claim.
    #[error("checksum mismatch: {en}")]
    ChecksumMismatch { zh: String, en: String },
    /// A protocol precondition is not met (e.g. the tus version).
    #[error("{en}")]
    Precondition {
        code: &'static str,
        zh: String,
        en: String,
    },
    /// The body has the wrong media type.
    #[error("{en}")]
    MediaType {
        code: &'static str,
        zh: String,
        en: String,
    },
    /// The server is busy with as much of this work as it takes at once: retry shortly.
    #[error("{en}")]
    Busy {
        code: &'static str,
        zh: String,
        en: String,
    },
    /// This build cannot do it (e.g. PDFs without the `pdf` feature).
    #[error("{en}")]
    NotImplemented {
        code: &'static str,
        zh: String,
        en: String,
    },
    /// The installation is not as it must be (a missing key, a wrong setting): what to do is in
    /// the message, for the operator.
    #[error("{zh} / {en}")]
    Setup { zh: String, en: String },
    #[error("io: {0}")]
    Io(String),
    #[error("internal: {0}")]
    Internal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
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

    pub fn conflict(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Self {
        ServerError::Conflict {
            code,
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// A failure of the server itself (not of the request).
    pub fn is_internal(&self) -> bool {
        matches!(
            self,
            ServerError::Setup { .. }
                | ServerError::Io(_)
                | ServerError::Internal(_)
                | ServerError::Store(_)
        )
    }

    /// The stable code and the reason in both languages, as a client sees it.
    pub fn describe(&self) -> (String, String, String) {
        let s = |code: &str, zh: &str, en: &str| (code.to_string(), zh.to_string(), en.to_string());
        match self {
            ServerError::BadRequest { code, zh, en }
            | ServerError::TooLarge { code, zh, en }
            | ServerError::Conflict { code, zh, en }
            | ServerError::Precondition { code, zh, en }
            | ServerError::MediaType { code, zh, en }
            | ServerError::Busy { code, zh, en }
            | ServerError::NotImplemented { code, zh, en } => s(code, zh, en),
            ServerError::Unauthorized(why) => {
                s("unauthorized", "未登录或登录已失效，请重新登录", why)
            }
            ServerError::Forbidden { zh, en } => s("forbidden", zh, en),
            ServerError::ChecksumMismatch { zh, en } => s("checksum_mismatch", zh, en),
            ServerError::NotFound => s("not_found", "找不到", "not found"),
            ServerError::NotFoundNamed { zh, en } => s("not_found", zh, en),
            ServerError::TooManyRequests => s(
                "rate_limited",
                "尝试次数过多，请稍后再试",
                "too many attempts, try again later",
            ),
            ServerError::UpgradeRequired { client, min } => (
                "please_update".into(),
                format!("应用版本过旧（协议 {client}，最低 {min}），请更新应用"),
                format!(
                    "this app is too old (protocol {client}, server needs {min}): please update"
                ),
            ),
            ServerError::Setup { .. }
            | ServerError::Io(_)
            | ServerError::Internal(_)
            | ServerError::Store(_) => s(
                "internal",
                "服务器内部错误，请稍后重试",
                "internal server error, please retry",
            ),
        }
    }
}
