//! The sync feed: changes in position order, bounded by the newest final position (see the crate's
//! notes on the feed cursor), and jobs entering and leaving a user's scope.

use crate::Result;
use crate::conn::Conn;
use crate::sql::{Dialect, Value, args};

/// Whose jobs a feed query covers.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Every job (admins).
    All,
    /// Every job of a unit (office staff, dispatchers).
    Unit(&'a str),
    /// The jobs a user is assigned to.
    User(&'a str),
}

/// One change of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedChange {
    pub seq: i64,
    pub job_id: String,
    pub bytes: Vec<u8>,
}

/// Reads of the feed, each bounded by a position [`FeedReads::max_seq`] gave.
pub trait FeedReads {
    /// The newest feed position a reader may serve: every position up to it is final
    /// (committed, or never to be), whichever writers are still running.
    fn max_seq(&self) -> Result<i64>;

    /// Changes after `cursor` up to `upto` (a position [`FeedReads::max_seq`] gave) in scope, in
    /// position order, except those `device` pushed, at most `limit` rows.
    fn feed_changes(
        &self,
        scope: Scope,
        device_id: &str,
        cursor: i64,
        upto: i64,
        limit: u32,
    ) -> Result<Vec<FeedChange>>;

    /// Like [`FeedReads::feed_changes`], the position and size in bytes of each change only (a page
    /// is measured before any change is loaded).
    fn feed_sizes(
        &self,
        scope: Scope,
        device_id: &str,
        cursor: i64,
        upto: i64,
        limit: u32,
    ) -> Result<Vec<(i64, i64)>>;

    /// The bytes of a job's changes up to position `upto`.
    fn job_history_bytes(&self, job_id: &str, upto: i64) -> Result<i64>;

    /// Jobs that entered `username`'s scope at a position in `(from, to]`.
    fn entered_jobs(&self, username: &str, from: i64, to: i64) -> Result<Vec<(String, i64)>>;

    /// Jobs that left `username`'s scope at a position in `(from, to]` and are still out of it.
    fn left_jobs(&self, username: &str, from: i64, to: i64) -> Result<Vec<String>>;

    /// A job's changes up to position `upto`, in order.
    fn job_changes_upto(&self, job_id: &str, upto: i64) -> Result<Vec<(i64, Vec<u8>)>>;
}

impl<T: Conn> FeedReads for T {
    fn max_seq(&self) -> Result<i64> {
        let db = self.db();
        match db.dialect() {
            Dialect::Sqlite => {
                let newest: i64 = db.value("SELECT COALESCE(MAX(seq), 0) FROM changes", args![])?;
                Ok(self.durable_seq().map_or(newest, |d| newest.min(d)))
            }
            Dialect::Postgres if self.unsafe_horizon() => {
                db.value("SELECT COALESCE(MAX(seq), 0) FROM changes", args![])
            }
            // Below every transaction still running (the module's notes).
            Dialect::Postgres => db.value("SELECT fieldline_feed_horizon()", args![]),
        }
    }

    fn feed_changes(
        &self,
        scope: Scope,
        device_id: &str,
        cursor: i64,
        upto: i64,
        limit: u32,
    ) -> Result<Vec<FeedChange>> {
        let (sql, key) = feed_query(scope, "c.bytes");
        let rows = self
            .db()
            .query(&sql, args![cursor, device_id, key, limit, upto])?;
        rows.into_iter()
            .map(|mut r| {
                Ok(FeedChange {
                    seq: r.get(0)?,
                    job_id: r.get(1)?,
                    bytes: match r.take(2) {
                        Value::Blob(b) => b,
                        _ => Vec::new(),
                    },
                })
            })
            .collect()
    }

    fn feed_sizes(
        &self,
        scope: Scope,
        device_id: &str,
        cursor: i64,
        upto: i64,
        limit: u32,
    ) -> Result<Vec<(i64, i64)>> {
        let (sql, key) = feed_query(scope, "CAST(length(c.bytes) AS BIGINT)");
        self.db()
            .all(&sql, args![cursor, device_id, key, limit, upto], |r| {
                Ok((r.get(0)?, r.get(2)?))
            })
    }

    fn job_history_bytes(&self, job_id: &str, upto: i64) -> Result<i64> {
        self.db().value(
            "SELECT CAST(COALESCE(SUM(length(bytes)), 0) AS BIGINT) FROM changes
             WHERE job_id = ?1 AND seq <= ?2",
            args![job_id, upto],
        )
    }

    fn entered_jobs(&self, username: &str, from: i64, to: i64) -> Result<Vec<(String, i64)>> {
        self.db().all(
            "SELECT job_id, entered_seq FROM job_access
             WHERE username = ?1 AND entered_seq > ?2 AND entered_seq <= ?3",
            args![username, from, to],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    fn left_jobs(&self, username: &str, from: i64, to: i64) -> Result<Vec<String>> {
        self.db().column(
            "SELECT DISTINCT l.job_id FROM access_left l
             WHERE l.username = ?1 AND l.pos > ?2 AND l.pos <= ?3
               AND NOT EXISTS (SELECT 1 FROM job_access a
                               WHERE a.job_id = l.job_id AND a.username = l.username)
             ORDER BY l.job_id",
            args![username, from, to],
        )
    }

    fn job_changes_upto(&self, job_id: &str, upto: i64) -> Result<Vec<(i64, Vec<u8>)>> {
        let rows = self.db().query(
            "SELECT seq, bytes FROM changes WHERE job_id = ?1 AND seq <= ?2 ORDER BY seq",
            args![job_id, upto],
        )?;
        rows.into_iter()
            .map(|mut r| {
                let bytes = match r.take(1) {
                    Value::Blob(b) => b,
                    _ => Vec::new(),
                };
                Ok((r.get(0)?, bytes))
            })
            .collect()
    }
}

/// The feed's query for `scope` selecting `seq`, `job_id` and `what` (the bytes, or their
/// length), with its scope key: changes after `?1` up to `?5`, not pushed by device `?2`, at
/// most `?4`.
fn feed_query(scope: Scope, what: &str) -> (String, String) {
    let (from_where, key) = match scope {
        Scope::All => (
            "FROM changes c WHERE c.seq > ?1 AND c.seq <= ?5 AND c.origin_device != ?2
               AND CAST(?3 AS TEXT) = ''",
            String::new(),
        ),
        Scope::Unit(unit) => (
            "FROM changes c JOIN jobs j ON j.job_id = c.job_id
             WHERE c.seq > ?1 AND c.seq <= ?5 AND c.origin_device != ?2 AND j.unit = ?3",
            unit.to_string(),
        ),
        Scope::User(user) => (
            "FROM changes c JOIN job_access a ON a.job_id = c.job_id
             WHERE c.seq > ?1 AND c.seq <= ?5 AND c.origin_device != ?2 AND a.username = ?3",
            user.to_string(),
        ),
    };
    (
        format!("SELECT c.seq, c.job_id, {what} {from_where} ORDER BY c.seq LIMIT ?4"),
        key,
    )
}
