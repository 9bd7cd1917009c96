//! Loaded job documents, kept by version (the feed position of the job's newest change), so a
//! cached document is used only while it is exactly what the database holds. A document is
//! checked out while a request works on it and checked back in only after its changes were
//! committed; one whose changes were refused or rolled back is simply dropped.

use crate::error::ServerError;
use crate::store::ReadTx;
use automerge::ActorId;
use field_core::job::JobDoc;
use std::collections::HashMap;
use std::sync::Mutex;

/// Documents kept in memory.
const CACHE_MAX: usize = 256;

/// The automerge actor of the server's own changes (contract receipts).
pub fn server_actor() -> ActorId {
    ActorId::from(b"fieldline-server".as_slice())
}

/// A document and the version it was loaded at.
pub struct Loaded {
    pub doc: JobDoc,
    pub version: i64,
}

#[derive(Default)]
pub struct DocCache {
    docs: Mutex<HashMap<String, Loaded>>,
}

impl DocCache {
    /// The stored job's document as of `tx`, from the cache when it is current; `None` when the
    /// job does not exist.
    pub fn checkout(&self, tx: &dyn ReadTx, job_id: &str) -> Result<Option<Loaded>, ServerError> {
        let Some(meta) = tx.job_meta(job_id)? else {
            return Ok(None);
        };
        self.checkout_at(tx, job_id, meta.version).map(Some)
    }

    /// The job's document at `version` (what `tx` holds), from the cache when it has exactly
    /// that version.
    pub fn checkout_at(
        &self,
        tx: &dyn ReadTx,
        job_id: &str,
        version: i64,
    ) -> Result<Loaded, ServerError> {
        {
            let mut docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(l) = docs.remove(job_id)
                && l.version == version
            {
                return Ok(l);
            }
        }
        let bytes = tx.job_bytes(job_id)?.unwrap_or_default();
        let doc = JobDoc::load(&bytes, server_actor()).map_err(|e| {
            ServerError::Internal(format!("stored job {job_id} is unreadable: {e}"))
        })?;
        Ok(Loaded { doc, version })
    }

    /// Returns a document whose every change is committed at `version`.
    pub fn checkin(&self, job_id: &str, loaded: Loaded) {
        let mut docs = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        if docs.len() >= CACHE_MAX
            && !docs.contains_key(job_id)
            && let Some(k) = docs.keys().next().cloned()
        {
            docs.remove(&k);
        }
        match docs.get(job_id) {
            Some(l) if l.version >= loaded.version => {}
            _ => {
                docs.insert(job_id.to_string(), loaded);
            }
        }
    }

    /// Documents held in memory.
    pub fn len(&self) -> usize {
        self.docs.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn evict(&self, job_id: &str) {
        self.docs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(job_id);
    }
}
