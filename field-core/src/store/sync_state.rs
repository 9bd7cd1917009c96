//! What the sync client keeps in the store: settings and the feed cursor, the server heads each
//! job was last acknowledged at (the base of the next push), and automerge sync-protocol state
//! for jobs in fallback. Persisted state is always rebuilt from its saved form.

use super::{DirtyJob, Store, StoreError};
use crate::job::JobError;
use crate::sync::protocol::{Ack, Hash, PullJob, PushJob, SyncMessage};
use automerge::ChangeHash;
use automerge::sync::{self as amsync, SyncDoc};
use rusqlite::{OptionalExtension, params};

/// What the next sync request carries.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub push: Vec<PushJob>,
    /// The outbox generations the pushes were read at.
    pub dirty: Vec<DirtyJob>,
    pub messages: Vec<SyncMessage>,
    pub cursor: u64,
    /// Dirty jobs left for a later round (request size limit).
    pub more: bool,
}

pub(super) fn encode_heads(heads: &[ChangeHash]) -> Vec<u8> {
    heads.iter().flat_map(|h| h.0).collect()
}

pub(super) fn decode_heads(bytes: &[u8]) -> Vec<ChangeHash> {
    bytes
        .chunks_exact(32)
        .filter_map(|c| ChangeHash::try_from(c).ok())
        .collect()
}

/// What [`Store::sync_merge_pulled`] stored of a page.
#[derive(Debug, Clone, Default)]
pub(crate) struct PulledPage {
    /// Jobs merged, each with whether it had local changes waiting (then both sides' work met).
    pub merged: Vec<(String, bool)>,
    /// Jobs whose changes lack their dependencies: nothing of them was stored.
    pub incomplete: Vec<String>,
}

/// The jobs of a page, in one transaction the caller opened and ends.
fn merge_page(
    inner: &mut super::Inner,
    pulls: &[PullJob],
    now: chrono::DateTime<chrono::Utc>,
    page: &mut PulledPage,
) -> Result<(), StoreError> {
    for p in pulls {
        crate::validate::check_id("job.id", &p.job_id)?;
        let waiting: i64 = inner.conn.query_row(
            "SELECT COUNT(*) FROM outbox WHERE job_id = ?1",
            [&p.job_id],
            |r| r.get(0),
        )?;
        match inner.merge_locked(&p.job_id, &p.changes, now) {
            Ok(_) => {}
            Err(StoreError::MissingDeps(_)) => {
                inner.cache.remove(&p.job_id);
                page.incomplete.push(p.job_id.clone());
                continue;
            }
            Err(e) => {
                inner.cache.remove(&p.job_id);
                return Err(e);
            }
        }
        super::refused::lift_left_scope(&inner.conn, &p.job_id)?;
        // Nothing of its own waiting: everything it holds is on the server, so its heads become
        // the base of its next push (which then carries only new work).
        if waiting == 0 {
            let heads = inner.doc(&p.job_id)?.heads();
            set_base(&inner.conn, &p.job_id, &heads)?;
        }
        page.merged.push((p.job_id.clone(), waiting > 0));
    }
    Ok(())
}

/// Records the server heads a job's next push starts from.
pub(super) fn set_base(
    conn: &rusqlite::Connection,
    job_id: &str,
    heads: &[ChangeHash],
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO sync_base (job_id, heads) VALUES (?1, ?2)
         ON CONFLICT (job_id) DO UPDATE SET heads = excluded.heads",
        params![job_id, encode_heads(heads)],
    )?;
    Ok(())
}

/// Ends a job's fallback: both sides hold `heads`.
fn finish_fallback(
    conn: &rusqlite::Connection,
    job_id: &str,
    heads: &[ChangeHash],
) -> Result<(), StoreError> {
    conn.execute("DELETE FROM sync_peer WHERE job_id = ?1", [job_id])?;
    set_base(conn, job_id, heads)
}

/// Wire form of heads.
pub fn wire_heads(heads: &[ChangeHash]) -> Vec<Hash> {
    heads
        .iter()
        .map(|h| serde_bytes::ByteBuf::from(h.0.to_vec()))
        .collect()
}

impl Store {
    /// A sync setting (server URL, token, user…).
    pub fn sync_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .conn
            .query_row("SELECT value FROM sync_meta WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_sync_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let inner = self.lock();
        inner.conn.execute(
            "INSERT INTO sync_meta (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// The feed cursor of the last page stored.
    pub fn sync_cursor(&self) -> Result<u64, StoreError> {
        Ok(self
            .sync_setting("cursor")?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0))
    }

    pub(crate) fn set_sync_cursor(&self, cursor: u64) -> Result<(), StoreError> {
        self.set_sync_setting("cursor", &cursor.to_string())
    }

    /// Builds the next request's pushes: for each dirty job not in fallback, the changes since
    /// the server's last acknowledged heads.
    pub(crate) fn sync_outgoing(&self, push_bytes: usize) -> Result<Outgoing, StoreError> {
        let dirty = self.dirty_jobs()?;
        let cursor = self.sync_cursor()?;
        let mut inner = self.lock();
        let mut out = Outgoing {
            cursor,
            ..Default::default()
        };
        let mut bytes = 0usize;
        for d in dirty {
            // Jobs in fallback continue below; jobs set aside wait for the user.
            let held: bool = inner
                .conn
                .query_row(
                    "SELECT (SELECT COUNT(*) FROM sync_peer WHERE job_id = ?1)
                          + (SELECT COUNT(*) FROM sync_refused WHERE job_id = ?1)",
                    [&d.job_id],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n > 0)?;
            if held {
                continue;
            }
            if bytes >= push_bytes.max(1) {
                out.more = true;
                break;
            }
            let base: Vec<ChangeHash> = inner
                .conn
                .query_row(
                    "SELECT heads FROM sync_base WHERE job_id = ?1",
                    [&d.job_id],
                    |r| r.get::<_, Vec<u8>>(0),
                )
                .optional()?
                .map(|b| decode_heads(&b))
                .unwrap_or_default();
            let push = if base.is_empty() {
                // Nothing acknowledged yet: send the stored document as it is (snapshot and
                // chunks are valid automerge bytes back to back). It is whole, so no heads are
                // needed for the server to know it lacks nothing.
                let mut bytes: Vec<u8> = inner.conn.query_row(
                    "SELECT snapshot FROM job_doc WHERE job_id = ?1",
                    [&d.job_id],
                    |r| r.get(0),
                )?;
                let mut stmt = inner
                    .conn
                    .prepare_cached("SELECT bytes FROM job_chunk WHERE job_id = ?1 ORDER BY seq")?;
                for chunk in stmt.query_map([&d.job_id], |r| r.get::<_, Vec<u8>>(0))? {
                    bytes.extend(chunk?);
                }
                PushJob {
                    job_id: d.job_id.clone(),
                    changes: bytes,
                    heads: Vec::new(),
                }
            } else {
                let doc = inner.doc(&d.job_id)?;
                // Heads the server reported that this device has not seen yet cannot be a base.
                let base: Vec<ChangeHash> =
                    base.into_iter().filter(|h| doc.has_change(h)).collect();
                PushJob {
                    job_id: d.job_id.clone(),
                    changes: doc.save_after(&base),
                    heads: wire_heads(&doc.heads()),
                }
            };
            bytes += push.changes.len();
            out.push.push(push);
            out.dirty.push(d);
        }
        // Jobs in fallback: the queued reply, or a message rebuilt from the saved state (a lost
        // response must not stall the exchange). Nothing left to say means the fallback is over.
        let peers: Vec<(String, Vec<u8>, Option<Vec<u8>>)> = inner
            .conn
            .prepare(
                "SELECT job_id, state, outgoing FROM sync_peer
                 WHERE job_id NOT IN (SELECT job_id FROM sync_refused) ORDER BY job_id",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        for (job_id, state, outgoing) in peers {
            let message = match outgoing {
                Some(m) => Some(m),
                None => {
                    let mut state = amsync::State::decode(&state).unwrap_or_default();
                    let doc = inner.doc(&job_id)?;
                    doc.automerge()
                        .sync()
                        .generate_sync_message(&mut state)
                        .map(|m| m.encode())
                }
            };
            match message {
                Some(message) => out.messages.push(SyncMessage { job_id, message }),
                None => {
                    let heads = inner.doc(&job_id)?.heads();
                    finish_fallback(&inner.conn, &job_id, &heads)?;
                }
            }
        }
        Ok(out)
    }

    /// Records durable acknowledgements in one transaction: each job's new base, and the job
    /// clean if it did not change since its push was read. Returns how many became clean.
    pub(crate) fn sync_acks(&self, acks: &[Ack], dirty: &[DirtyJob]) -> Result<usize, StoreError> {
        let inner = self.lock();
        let tx = inner.conn.unchecked_transaction()?;
        let mut clean = 0;
        for ack in acks {
            let heads: Vec<ChangeHash> = ack
                .heads
                .iter()
                .filter_map(|h| ChangeHash::try_from(h.as_ref()).ok())
                .collect();
            set_base(&tx, &ack.job_id, &heads)?;
            if let Some(d) = dirty.iter().find(|d| d.job_id == ack.job_id) {
                clean += tx.execute(
                    "DELETE FROM outbox WHERE job_id = ?1 AND generation = ?2",
                    params![d.job_id, d.generation],
                )?;
            }
        }
        tx.commit()?;
        Ok(clean)
    }

    /// The server lacks this job's base: switch it to automerge's sync protocol.
    pub(crate) fn sync_fallback_start(&self, job_id: &str) -> Result<(), StoreError> {
        let inner = self.lock();
        inner.conn.execute(
            "INSERT INTO sync_peer (job_id, state, outgoing) VALUES (?1, ?2, NULL)
             ON CONFLICT (job_id) DO UPDATE SET state = excluded.state, outgoing = NULL",
            params![job_id, amsync::State::new().encode()],
        )?;
        inner
            .conn
            .execute("DELETE FROM sync_base WHERE job_id = ?1", [job_id])?;
        Ok(())
    }

    /// Receives one sync-protocol message for a job in fallback, stores what it brought and
    /// queues the reply. When there is nothing left to say, the fallback ends and the job is
    /// clean (if it did not change meanwhile). Returns whether the fallback ended.
    pub(crate) fn sync_fallback_receive(
        &self,
        job_id: &str,
        message: &[u8],
        dirty: Option<&DirtyJob>,
    ) -> Result<bool, StoreError> {
        let message = amsync::Message::decode(message)
            .map_err(|e| JobError::Corrupt(format!("sync message: {e}")))?;
        let now = self.now();
        let done = {
            let mut inner = self.lock();
            let saved: Option<Vec<u8>> = inner
                .conn
                .query_row(
                    "SELECT state FROM sync_peer WHERE job_id = ?1",
                    [job_id],
                    |r| r.get(0),
                )
                .optional()?;
            let mut state = saved
                .and_then(|b| amsync::State::decode(&b).ok())
                .unwrap_or_default();
            let doc = inner.doc(job_id)?;
            let before = doc.heads();
            let result = doc
                .automerge()
                .sync()
                .receive_sync_message(&mut state, message);
            if let Err(e) = result {
                inner.cache.remove(job_id);
                return Err(JobError::Automerge(e).into());
            }
            // In sync once the server's heads equal ours: then there is nothing to answer.
            let mut ours = doc.heads();
            ours.sort();
            let in_sync = state.their_heads.as_ref().is_some_and(|t| {
                let mut t = t.clone();
                t.sort();
                t == ours
            });
            let reply = if in_sync {
                None
            } else {
                doc.automerge().sync().generate_sync_message(&mut state)
            };
            let changed = doc.heads() != before;
            let job = doc.job()?;
            let chunk = doc.save_incremental();
            if changed && let Err(e) = inner.store_change(job_id, &job, chunk, now, false) {
                inner.cache.remove(job_id);
                return Err(e);
            }
            match reply {
                Some(m) => {
                    inner.conn.execute(
                        "UPDATE sync_peer SET state = ?2, outgoing = ?3 WHERE job_id = ?1",
                        params![job_id, state.encode(), m.encode()],
                    )?;
                    false
                }
                None => {
                    let heads = inner.doc(job_id)?.heads();
                    finish_fallback(&inner.conn, job_id, &heads)?;
                    true
                }
            }
        };
        if done && let Some(d) = dirty {
            self.mark_synced(d)?;
        }
        Ok(done)
    }

    /// Stores a page of pulled jobs in one transaction (one flush for the page, not two or three
    /// per job): each job's changes merged, a left-scope hold lifted, and, when it has no local
    /// changes waiting, its heads as the base of its next push (the merge is
    /// [`Store::merge_remote`]'s; all under the store lock, so no edit slips in between). A job
    /// whose changes lack their dependencies is left out whole and named in `incomplete`; any
    /// other error ends the page with the jobs before it stored.
    pub(crate) fn sync_merge_pulled(&self, pulls: &[PullJob]) -> Result<PulledPage, StoreError> {
        let now = self.now();
        let mut inner = self.lock();
        if !inner.conn.is_autocommit() {
            // Left open by a panic in an earlier call: nothing of it was committed.
            inner.conn.execute_batch("ROLLBACK")?;
        }
        inner.conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut page = PulledPage::default();
        let merged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            merge_page(&mut inner, pulls, now, &mut page)
        }));
        let ended = match &merged {
            Ok(_) => inner.conn.execute_batch("COMMIT"),
            Err(_) => inner.conn.execute_batch("ROLLBACK"),
        };
        if ended.is_err() || !matches!(merged, Ok(Ok(()))) {
            // What the cache holds of these jobs may be ahead of what was stored.
            for p in pulls {
                inner.cache.remove(&p.job_id);
            }
        }
        match merged {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(result) => {
                if let Err(e) = ended {
                    let _ = inner.conn.execute_batch("ROLLBACK");
                    return Err(e.into());
                }
                result.map(|()| page)
            }
        }
    }

    /// Whether a fallback exchange is still going on.
    pub(crate) fn fallback_pending(&self) -> Result<bool, StoreError> {
        let inner = self.lock();
        let n: i64 = inner.conn.query_row(
            "SELECT COUNT(*) FROM sync_peer WHERE job_id NOT IN (SELECT job_id FROM sync_refused)",
            [],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// Drops a queued fallback message once it was delivered in a request.
    pub(crate) fn sync_message_sent(&self, job_id: &str) -> Result<(), StoreError> {
        let inner = self.lock();
        inner.conn.execute(
            "UPDATE sync_peer SET outgoing = NULL WHERE job_id = ?1",
            [job_id],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Customer;
    use crate::{JobKind, NewJob};

    fn job(store: &Store) -> String {
        let accepted = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 3, 2, 1, 0, 0)
            .single()
            .unwrap();
        store
            .create_job(
                "o",
                &NewJob {
                    id: None,
                    job_no: None,
                    kind: JobKind::LowVoltageSmallMicro,
                    unit: "zhuxian".into(),
                    accepted_at: accepted,
                    customer: Customer {
                        name: Some("邾县宏达五金厂".into()),
                        ..Default::default()
                    },
                    application: Default::default(),
                },
            )
            .unwrap()
            .id
    }

    #[test]
    fn a_page_of_pulls_is_stored_together_and_a_bad_job_ends_it_after_the_good_ones() {
        let server = Store::open_in_memory().unwrap();
        let phone = Store::open_in_memory().unwrap();
        let (a, b) = (job(&server), job(&server));
        // The phone's own job: a local change waiting, so its base stays.
        let own = job(&phone);
        server
            .merge_remote(&own, &phone.document_bytes(&own).unwrap())
            .unwrap();
        let pull = |id: &str| PullJob {
            job_id: id.into(),
            changes: server.document_bytes(id).unwrap(),
        };
        let page = phone
            .sync_merge_pulled(&[pull(&a), pull(&own), pull(&b)])
            .unwrap();
        assert_eq!(
            page.merged,
            vec![(a.clone(), false), (own.clone(), true), (b.clone(), false)]
        );
        assert!(page.incomplete.is_empty());
        for id in [&a, &b] {
            assert_eq!(phone.job(id).unwrap().id, *id);
        }
        // Jobs with nothing waiting got a base; the one with local work did not.
        let bases: i64 = phone
            .lock()
            .conn
            .query_row("SELECT COUNT(*) FROM sync_base", [], |r| r.get(0))
            .unwrap();
        assert_eq!(bases, 2);
        // A job that is not automerge ends the page: the job before it is stored, none after.
        let c = job(&server);
        let d = job(&server);
        let bad = PullJob {
            job_id: "bad-job".into(),
            changes: b"not automerge".to_vec(),
        };
        assert!(phone.sync_merge_pulled(&[pull(&c), bad, pull(&d)]).is_err());
        assert!(phone.job(&c).is_ok());
        assert!(phone.job(&d).is_err());
        // The store is usable afterwards (no transaction left open).
        assert!(phone.sync_merge_pulled(&[pull(&d)]).is_ok());
        assert!(phone.job(&d).is_ok());
    }
}
