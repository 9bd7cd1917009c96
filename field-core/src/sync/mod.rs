//! Sync with the Fieldline server: the wire protocol shared with the server, and the client.

pub mod client;
pub mod protocol;
pub mod upload;

pub use client::{SyncError, SyncOptions, SyncProgress, SyncReport, login, sync};
