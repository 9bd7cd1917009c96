//! Online applications (线上申请): what a customer filed on the public pages, waiting at the
//! counter until it is accepted (a job is made from it) or declined.

use crate::Result;
use crate::conn::{Conn, Finish};
use crate::sql::{Row, args};

/// One application as stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApplicationRow {
    pub id: String,
    pub unit: String,
    /// `pending`, `accepted` or `declined`.
    pub state: String,
    /// Digest of the unit, ID number and address: one open application per key.
    pub same_key: String,
    /// Digest of the phone number: each phone's budget of applications.
    pub phone_key: String,
    /// The JSON of the form as given and its photo.
    pub detail: String,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
    /// Why it was declined (the applicant reads it).
    pub reason: Option<String>,
    /// The job made from it.
    pub job_id: Option<String>,
}

/// Reads of applications.
pub trait ApplicationReads {
    fn application(&self, id: &str) -> Result<Option<ApplicationRow>>;

    /// A unit's applications in `state` (every state for `None`), oldest first.
    fn applications_of(
        &self,
        unit: &str,
        state: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ApplicationRow>>;

    /// The open application with `same_key`: pending, or accepted and its job not closed.
    fn open_application(&self, same_key: &str) -> Result<Option<ApplicationRow>>;

    /// How many applications were filed with `phone_key` since `since`.
    fn applications_by_phone(&self, phone_key: &str, since: i64) -> Result<i64>;

    /// `(unit, id, created_at)` of applications still pending that were filed before `before`,
    /// in the given units (every unit's for `None`), oldest first.
    fn pending_before(
        &self,
        units: Option<&[String]>,
        before: i64,
        limit: u32,
    ) -> Result<Vec<ApplicationRow>>;

    /// Whether a blob is a file of an application's photo (kept from most of the unit).
    fn is_application_blob(&self, sha256: &str) -> Result<bool>;
}

/// Writes of applications.
pub trait ApplicationWrites {
    /// A new application and the files of its photo.
    fn insert_application(&mut self, a: &ApplicationRow) -> Result<()>;

    /// Marks the files of an application's photo.
    fn insert_application_blobs(&mut self, application_id: &str, shas: &[&str]) -> Result<()>;

    /// Decides a pending application (`accepted` with its job, or `declined` with a reason);
    /// `false` when it is not pending (anymore).
    fn decide_application(
        &mut self,
        id: &str,
        state: &str,
        by: &str,
        at: i64,
        reason: Option<&str>,
        job_id: Option<&str>,
    ) -> Result<bool>;
}

const COLS: &str = "id, unit, state, same_key, phone_key, detail, created_at, decided_at, \
                    decided_by, reason, job_id";

fn row(r: &Row) -> Result<ApplicationRow> {
    Ok(ApplicationRow {
        id: r.get(0)?,
        unit: r.get(1)?,
        state: r.get(2)?,
        same_key: r.get(3)?,
        phone_key: r.get(4)?,
        detail: r.get(5)?,
        created_at: r.get(6)?,
        decided_at: r.get(7)?,
        decided_by: r.get(8)?,
        reason: r.get(9)?,
        job_id: r.get(10)?,
    })
}

impl<T: Conn> ApplicationReads for T {
    fn application(&self, id: &str) -> Result<Option<ApplicationRow>> {
        self.db().opt(
            &format!("SELECT {COLS} FROM applications WHERE id = ?1"),
            args![id],
            row,
        )
    }

    fn applications_of(
        &self,
        unit: &str,
        state: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ApplicationRow>> {
        self.db().all(
            &format!(
                "SELECT {COLS} FROM applications
                 WHERE unit = ?1 AND (CAST(?2 AS TEXT) IS NULL OR state = ?2)
                 ORDER BY created_at, id LIMIT ?3"
            ),
            args![unit, state, limit],
            row,
        )
    }

    fn open_application(&self, same_key: &str) -> Result<Option<ApplicationRow>> {
        let cols: String = COLS
            .split(", ")
            .map(|c| format!("a.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        self.db().opt(
            &format!(
                "SELECT {cols} FROM applications a LEFT JOIN jobs j ON j.job_id = a.job_id
                 WHERE a.same_key = ?1 AND (a.state = 'pending'
                    OR (a.state = 'accepted' AND COALESCE(j.status, '') <> 'closed'))
                 ORDER BY a.created_at LIMIT 1"
            ),
            args![same_key],
            row,
        )
    }

    fn applications_by_phone(&self, phone_key: &str, since: i64) -> Result<i64> {
        self.db().value(
            "SELECT COUNT(*) FROM applications WHERE phone_key = ?1 AND created_at >= ?2",
            args![phone_key, since],
        )
    }

    fn pending_before(
        &self,
        units: Option<&[String]>,
        before: i64,
        limit: u32,
    ) -> Result<Vec<ApplicationRow>> {
        let units = units.map(|u| serde_json::to_string(u).unwrap_or_else(|_| "[]".into()));
        let list = self.db().dialect().text_list("?2");
        self.db().all(
            &format!(
                "SELECT {COLS} FROM applications
                 WHERE state = 'pending' AND created_at < ?1
                   AND (CAST(?2 AS TEXT) IS NULL OR unit IN (SELECT value FROM {list}))
                 ORDER BY created_at, id LIMIT ?3"
            ),
            args![before, units, limit],
            row,
        )
    }

    fn is_application_blob(&self, sha256: &str) -> Result<bool> {
        Ok(self
            .db()
            .opt(
                "SELECT 1 FROM application_blobs WHERE sha256 = ?1",
                args![sha256],
                |r| r.get::<i64>(0),
            )?
            .is_some())
    }
}

impl<T: Conn + Finish> ApplicationWrites for T {
    fn insert_application_blobs(&mut self, application_id: &str, shas: &[&str]) -> Result<()> {
        for sha in shas {
            self.db().execute(
                "INSERT INTO application_blobs (sha256, application_id) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
                args![*sha, application_id],
            )?;
        }
        Ok(())
    }

    fn insert_application(&mut self, a: &ApplicationRow) -> Result<()> {
        self.db().execute(
            &format!(
                "INSERT INTO applications ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
            ),
            args![
                &a.id,
                &a.unit,
                &a.state,
                &a.same_key,
                &a.phone_key,
                &a.detail,
                a.created_at,
                a.decided_at,
                a.decided_by.as_deref(),
                a.reason.as_deref(),
                a.job_id.as_deref()
            ],
        )?;
        Ok(())
    }

    fn decide_application(
        &mut self,
        id: &str,
        state: &str,
        by: &str,
        at: i64,
        reason: Option<&str>,
        job_id: Option<&str>,
    ) -> Result<bool> {
        Ok(self.db().execute(
            "UPDATE applications SET state = ?2, decided_by = ?3, decided_at = ?4, reason = ?5,
                job_id = ?6
             WHERE id = ?1 AND state = 'pending'",
            args![id, state, by, at, reason, job_id],
        )? == 1)
    }
}
