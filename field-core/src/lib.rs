//! Fieldline's phone-side core (no FFI here): the job as an automerge document, the business
//! rules, the working-day calendar and time-limit engine, and the offline store.
//!
//! See `ARCHITECTURE.md` at the workspace root for how the parts fit together.

pub mod agenda;
pub mod book;
pub mod calendar;
pub mod catalogue;
pub mod codes;
pub mod contract;
pub mod fees;
pub mod firms;
pub mod grid;
pub mod guide;
pub mod job;
#[cfg(feature = "photo")]
pub mod photo;
pub mod policy;
pub mod qualification;
pub mod report;
pub mod rules;
pub mod validate;
pub mod written_receipt;

pub use calendar::Calendar;
pub use codes::*;
pub use job::{Edit, EditContext, Job, JobDoc, NewJob};
pub use rules::{RuleBook, RuleSet, Verdict};
pub mod sla;
pub mod store;
pub mod sync;

pub use store::{Store, StoreError, StoreKey};
