//! Sync with the Fieldline server: the wire protocol shared with the server, and the client.

pub mod client;
pub mod fetch;
pub mod protocol;
pub mod upload;

pub use client::{SyncError, SyncOptions, SyncProgress, SyncReport, login, sync};
pub use fetch::fetch_photo;
