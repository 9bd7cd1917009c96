//! Fieldline on Android (Kotlin), iOS (Swift) and in Python: a thin uniffi layer over field-core.
//!
//! No business logic lives here: the types are field-core's own (declared to uniffi in the
//! generated `remote.rs`) or views of them, and every method forwards to `field_core::Store` or
//! the sync client. Errors become one boundary enum, [`FieldlineError`]. See `README.md` for
//! building the Android and iOS libraries and generating the bindings.

uniffi::setup_scaffolding!("fieldline");

mod app;
mod edit;
mod error;
mod pdf;
mod records;
mod remote;
mod sections;
mod types;
mod views;

pub use app::{FieldApp, NewJobInput, StoreKeyProvider, SyncListener, new_store_secret};
pub use edit::{FindingList, JobEdit};
pub use error::FieldlineError;
pub use records::*;
pub use sections::*;
pub use views::*;
