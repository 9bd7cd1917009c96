//! Browser sessions and the login attempts counted against guessing.

use crate::Result;
use crate::conn::{Conn, Finish};
use crate::sql::args;
use crate::users::{USER_COLS, UserRow, user_row};

/// A browser session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub user: UserRow,
    pub csrf: String,
    pub expires_at: i64,
    pub revoked: bool,
}

/// A live browser session of a user, as the admin's user page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// The session's stored hash (never the cookie itself), in hex: names it for ending it.
    pub id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// Reads of browser sessions.
pub trait SessionReads {
    fn web_session(&self, hash: &[u8]) -> Result<Option<SessionRow>>;

    /// The user's browser sessions neither ended nor expired, newest first.
    fn user_sessions(&self, user_id: i64, now: i64) -> Result<Vec<SessionSummary>>;
}

/// Writes of browser sessions and login attempts.
pub trait SessionWrites {
    fn insert_web_session(
        &mut self,
        hash: &[u8],
        user_id: i64,
        csrf: &str,
        created_at: i64,
        expires_at: i64,
    ) -> Result<()>;

    fn revoke_web_session(&mut self, hash: &[u8], at: i64) -> Result<()>;

    /// Ends one browser session of a user; whether there was such a live one.
    fn end_user_session(&mut self, user_id: i64, hash: &[u8], at: i64) -> Result<bool>;

    /// Counts one login attempt for `key` in `minute` (minutes since the epoch); returns the
    /// minute's count so far, every node's attempts included.
    fn count_login_attempt(&mut self, key: &str, minute: i64) -> Result<i64>;

    /// Attempts counted under `key` in `minute` so far (nothing counted).
    fn login_attempts(&mut self, key: &str, minute: i64) -> Result<i64>;

    /// Forgets attempts of minutes before `minute`.
    fn prune_login_attempts(&mut self, minute: i64) -> Result<usize>;
}

impl<T: Conn> SessionReads for T {
    fn web_session(&self, hash: &[u8]) -> Result<Option<SessionRow>> {
        self.db().opt(
            &format!(
                "SELECT {USER_COLS}, s.csrf, s.expires_at,
                    CASE WHEN s.revoked_at IS NULL THEN 0 ELSE 1 END
                 FROM web_sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ?1"
            ),
            args![hash],
            |r| {
                Ok(SessionRow {
                    user: user_row(r, 0)?,
                    csrf: r.get(7)?,
                    expires_at: r.get(8)?,
                    revoked: r.get(9)?,
                })
            },
        )
    }

    fn user_sessions(&self, user_id: i64, now: i64) -> Result<Vec<SessionSummary>> {
        self.db().all(
            "SELECT hash, created_at, expires_at FROM web_sessions
             WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2
             ORDER BY created_at DESC",
            args![user_id, now],
            |r| {
                let hash: Vec<u8> = r.get(0)?;
                Ok(SessionSummary {
                    id: hex::encode(hash),
                    created_at: r.get(1)?,
                    expires_at: r.get(2)?,
                })
            },
        )
    }
}

impl<T: Conn + Finish> SessionWrites for T {
    fn insert_web_session(
        &mut self,
        hash: &[u8],
        user_id: i64,
        csrf: &str,
        created_at: i64,
        expires_at: i64,
    ) -> Result<()> {
        self.db().execute(
            "INSERT INTO web_sessions (hash, user_id, csrf, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            args![hash, user_id, csrf, created_at, expires_at],
        )?;
        Ok(())
    }

    fn revoke_web_session(&mut self, hash: &[u8], at: i64) -> Result<()> {
        self.db().execute(
            "UPDATE web_sessions SET revoked_at = ?2 WHERE hash = ?1 AND revoked_at IS NULL",
            args![hash, at],
        )?;
        Ok(())
    }

    fn end_user_session(&mut self, user_id: i64, hash: &[u8], at: i64) -> Result<bool> {
        Ok(self.db().execute(
            "UPDATE web_sessions SET revoked_at = ?3
             WHERE user_id = ?1 AND hash = ?2 AND revoked_at IS NULL",
            args![user_id, hash, at],
        )? > 0)
    }

    fn count_login_attempt(&mut self, key: &str, minute: i64) -> Result<i64> {
        self.db().value(
            "INSERT INTO login_attempts (key, minute, count) VALUES (?1, ?2, 1)
             ON CONFLICT (key, minute) DO UPDATE SET count = login_attempts.count + 1
             RETURNING count",
            args![key, minute],
        )
    }

    fn login_attempts(&mut self, key: &str, minute: i64) -> Result<i64> {
        Ok(self
            .db()
            .opt(
                "SELECT count FROM login_attempts WHERE key = ?1 AND minute = ?2",
                args![key, minute],
                |r| r.get(0),
            )?
            .unwrap_or(0))
    }

    fn prune_login_attempts(&mut self, minute: i64) -> Result<usize> {
        Ok(self.db().execute(
            "DELETE FROM login_attempts WHERE minute < ?1",
            args![minute],
        )? as usize)
    }
}
