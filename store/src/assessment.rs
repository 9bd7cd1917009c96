//! The assessment's figures and the customer managers' public record.

use crate::Result;
use crate::conn::Conn;
use crate::sql::args;

/// The jobs and clocks an assessment period covers.
#[derive(Debug, Clone, Default)]
pub struct AssessmentQuery {
    /// `None`: every unit.
    pub unit: Option<String>,
    /// First and last day (`YYYY-MM-DD`) of the period.
    pub from: String,
    pub to: String,
}

/// A job powered on in an assessment period.
#[derive(Debug, Clone, PartialEq)]
pub struct PoweredJob {
    pub kind: String,
    pub customer_manager: Option<String>,
    pub accepted_on: String,
    pub powered_on: String,
    pub satisfaction: Option<i64>,
    /// The customer's own rating.
    pub customer_rating: Option<i64>,
}

/// A running supporting project (配套工程).
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectClock {
    pub project_manager: Option<String>,
    pub state: String,
    pub progress: Option<f64>,
}

/// A customer manager's record (the public page).
#[derive(Debug, Clone, PartialEq)]
pub struct ManagerStats {
    pub username: String,
    pub handled: i64,
    pub open: i64,
    /// The average of the return visits' scores and the customers' own ratings.
    pub satisfaction: Option<f64>,
    /// How many scores (visits and ratings) the average is of.
    pub visits: i64,
}

/// Reads of the assessment's figures.
pub trait AssessmentReads {
    /// Jobs powered on in the period.
    fn powered_jobs(&self, q: &AssessmentQuery) -> Result<Vec<PoweredJob>>;

    /// Stage clocks that ended in the period: `(stage, customer manager or "", state, count)`.
    fn stage_outcomes(&self, q: &AssessmentQuery) -> Result<Vec<(String, String, String, i64)>>;

    /// Supporting projects whose clock runs (the unit of `q`; the period is ignored).
    fn running_projects(&self, q: &AssessmentQuery) -> Result<Vec<ProjectClock>>;

    /// Per customer manager of a unit: jobs handled, open, satisfaction.
    fn manager_stats(&self, unit: &str) -> Result<Vec<ManagerStats>>;

    /// The latest day up to `until` (`YYYY-MM-DD`) on which a job of `unit` (every unit's for
    /// `None`) was powered on or a stage clock ended: the assessment's figures are there.
    fn latest_assessed_day(&self, unit: Option<&str>, until: &str) -> Result<Option<String>>;
}

impl<T: Conn> AssessmentReads for T {
    fn latest_assessed_day(&self, unit: Option<&str>, until: &str) -> Result<Option<String>> {
        self.db()
            .opt(
                "SELECT MAX(d) FROM (
                    SELECT MAX(powered_on) AS d FROM jobs
                    WHERE (CAST(?1 AS TEXT) IS NULL OR unit = ?1) AND powered_on <= ?2
                    UNION ALL
                    SELECT MAX(c.ended_on) AS d FROM job_clocks c JOIN jobs j ON j.job_id = c.job_id
                    WHERE (CAST(?1 AS TEXT) IS NULL OR j.unit = ?1) AND c.ended_on <= ?2
                 ) AS days",
                args![unit, until],
                |r| r.get::<Option<String>>(0),
            )
            .map(Option::flatten)
    }

    fn powered_jobs(&self, q: &AssessmentQuery) -> Result<Vec<PoweredJob>> {
        self.db().all(
            "SELECT kind, customer_manager, accepted_on, powered_on, satisfaction, customer_rating
             FROM jobs
             WHERE (CAST(?1 AS TEXT) IS NULL OR unit = ?1) AND powered_on >= ?2
               AND powered_on <= ?3",
            args![&q.unit, &q.from, &q.to],
            |r| {
                Ok(PoweredJob {
                    kind: r.get(0)?,
                    customer_manager: r.get(1)?,
                    accepted_on: r.get(2)?,
                    powered_on: r.get(3)?,
                    satisfaction: r.get(4)?,
                    customer_rating: r.get(5)?,
                })
            },
        )
    }

    fn stage_outcomes(&self, q: &AssessmentQuery) -> Result<Vec<(String, String, String, i64)>> {
        self.db().all(
            "SELECT c.stage, COALESCE(j.customer_manager, ''), c.state, COUNT(*)
             FROM job_clocks c JOIN jobs j ON j.job_id = c.job_id
             WHERE c.ended_on >= ?2 AND c.ended_on <= ?3
               AND (CAST(?1 AS TEXT) IS NULL OR j.unit = ?1)
             GROUP BY 1, 2, 3",
            args![&q.unit, &q.from, &q.to],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
    }

    fn running_projects(&self, q: &AssessmentQuery) -> Result<Vec<ProjectClock>> {
        self.db().all(
            "SELECT j.project_manager, c.state, j.project_progress
             FROM job_clocks c JOIN jobs j ON j.job_id = c.job_id
             WHERE c.stage = 'supporting_works' AND c.ended_on IS NULL
               AND (CAST(?1 AS TEXT) IS NULL OR j.unit = ?1)",
            args![&q.unit],
            |r| {
                Ok(ProjectClock {
                    project_manager: r.get(0)?,
                    state: r.get(1)?,
                    progress: r.get(2)?,
                })
            },
        )
    }

    fn manager_stats(&self, unit: &str) -> Result<Vec<ManagerStats>> {
        self.db().all(
            "SELECT customer_manager, COUNT(*),
                    CAST(SUM(CASE WHEN status IN ('powered_on', 'closed') THEN 0 ELSE 1 END)
                        AS BIGINT),
                    CAST(SUM(COALESCE(satisfaction, 0) + COALESCE(customer_rating, 0)) AS DOUBLE PRECISION)
                        / NULLIF(COUNT(satisfaction) + COUNT(customer_rating), 0),
                    CAST(COUNT(satisfaction) + COUNT(customer_rating) AS BIGINT)
             FROM jobs WHERE unit = ?1 AND customer_manager IS NOT NULL
             GROUP BY customer_manager",
            args![unit],
            |r| {
                Ok(ManagerStats {
                    username: r.get(0)?,
                    handled: r.get(1)?,
                    open: r.get(2)?,
                    satisfaction: r.get(3)?,
                    visits: r.get(4)?,
                })
            },
        )
    }
}
