//! The one error type of the boundary. Each variant says what the app should do; every variant
//! carries the reason in Chinese (`zh`) and English (`en`). (No field is named `message`: Kotlin
//! exceptions already have one.)

use field_core::StoreError;
use field_core::contract::ContractError;
use field_core::job::JobError;
use field_core::sync::SyncError;

#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum FieldlineError {
    /// The input is wrong: show `zh`/`en` next to `field`; nothing was stored.
    #[error("{zh} / {en}")]
    InvalidInput {
        field: String,
        zh: String,
        en: String,
    },
    /// The job, contract or photo does not exist on this phone.
    #[error("{zh} / {en}")]
    NotFound { zh: String, en: String },
    /// Log in (again).
    #[error("{zh} / {en}")]
    LoginRequired { zh: String, en: String },
    /// No network or the server is unreachable: everything is stored; try again later.
    #[error("{zh} / {en}")]
    Offline { zh: String, en: String },
    /// The server refused (`code`): show the reason; an update may be needed.
    #[error("{zh} / {en}")]
    Refused {
        code: String,
        zh: String,
        en: String,
    },
    /// The phone's storage failed (disk full, database from a newer app).
    #[error("{zh} / {en}")]
    Storage { zh: String, en: String },
    /// The data's key is missing, unusable or not the one it was encrypted with. Nothing was
    /// changed: never delete the data folder for this; get the right key back (unlock the
    /// device, restore the keystore entry) and open again.
    #[error("{zh} / {en}")]
    Key { zh: String, en: String },
}

/// What a foreign implementation (a `StoreKeyProvider`) threw that was not a `FieldlineError`.
impl From<uniffi::UnexpectedUniFFICallbackError> for FieldlineError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        FieldlineError::Key {
            zh: format!("应用未能提供数据密钥：{}", e.reason),
            en: format!("the app could not provide the data key: {}", e.reason),
        }
    }
}

fn split(text: String) -> (String, String) {
    match text.split_once(" / ") {
        Some((zh, en)) => (zh.to_string(), en.to_string()),
        None => (text.clone(), text),
    }
}

impl From<StoreError> for FieldlineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Job(JobError::Invalid(i)) => FieldlineError::InvalidInput {
                field: i.field,
                zh: i.zh,
                en: i.en,
            },
            StoreError::Contract(ContractError::Invalid(i)) => FieldlineError::InvalidInput {
                field: i.field,
                zh: i.zh,
                en: i.en,
            },
            StoreError::Refused(r) => FieldlineError::Refused {
                code: r.code,
                zh: r.zh,
                en: r.en,
            },
            StoreError::WrongKey | StoreError::KeyRequired | StoreError::BadKey(_) => {
                let (zh, en) = split(e.to_string());
                FieldlineError::Key { zh, en }
            }
            StoreError::NotFound(_) => {
                let (zh, en) = split(e.to_string());
                FieldlineError::NotFound { zh, en }
            }
            StoreError::Photo(_) | StoreError::Contract(_) => {
                let (zh, en) = split(e.to_string());
                FieldlineError::InvalidInput {
                    field: String::new(),
                    zh,
                    en,
                }
            }
            other => {
                let (zh, en) = split(other.to_string());
                FieldlineError::Storage { zh, en }
            }
        }
    }
}

impl From<SyncError> for FieldlineError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::Store(s) => s.into(),
            SyncError::Network(_) | SyncError::Protocol(_) => {
                let (zh, en) = split(e.to_string());
                FieldlineError::Offline { zh, en }
            }
            SyncError::NotLoggedIn | SyncError::Unauthorized { .. } => {
                let (zh, en) = split(e.to_string());
                FieldlineError::LoginRequired { zh, en }
            }
            SyncError::PleaseUpdate { zh, en } => FieldlineError::Refused {
                code: "please_update".into(),
                zh,
                en,
            },
            SyncError::Refused { code, zh, en, .. } => FieldlineError::Refused { code, zh, en },
        }
    }
}

impl From<field_core::validate::Invalid> for FieldlineError {
    fn from(i: field_core::validate::Invalid) -> Self {
        FieldlineError::InvalidInput {
            field: i.field,
            zh: i.zh,
            en: i.en,
        }
    }
}

impl From<ContractError> for FieldlineError {
    fn from(e: ContractError) -> Self {
        StoreError::Contract(e).into()
    }
}

impl From<field_core::calendar::CalendarError> for FieldlineError {
    fn from(e: field_core::calendar::CalendarError) -> Self {
        let (zh, en) = split(e.to_string());
        FieldlineError::InvalidInput {
            field: "calendar".into(),
            zh,
            en,
        }
    }
}
