//! Assessment (考核) of a unit for a month: average connection time in working days (acceptance
//! → power-on) per job kind and per customer manager, the on-time rate of every stage whose
//! clock ended in the month, the return visits' satisfaction, and the supporting projects under
//! way (progress, overdue). For office staff, dispatchers and admins (admins: any unit).

use super::Env;
use crate::authz::Principal;
use crate::error::ServerError;
use crate::store::AssessmentQuery;
use chrono::{Datelike, NaiveDate};
use field_core::Role;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The URL's choice: a month (`YYYY-MM`, default this month) and, for admins, a unit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AssessmentFilter {
    pub month: String,
    pub unit: String,
}

/// Connection time of one group of jobs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConnectionTime {
    pub jobs: usize,
    /// Mean working days from acceptance to power-on.
    pub avg_working_days: f64,
}

/// On-time counts of one stage (or one manager's stages).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OnTime {
    pub met: i64,
    pub missed: i64,
}

impl OnTime {
    /// Percent on time (`None` when no clock ended).
    pub fn rate(&self) -> Option<f64> {
        let n = self.met + self.missed;
        (n > 0).then(|| self.met as f64 * 100.0 / n as f64)
    }
}

/// Satisfaction of the jobs powered on in the month: the dispatcher's return visits and the
/// customers' own ratings (each a score; the average is over both).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Satisfaction {
    /// Return visits scored.
    pub visits: usize,
    /// Customers' own ratings through their tracking link.
    #[serde(default)]
    pub ratings: usize,
    pub average: Option<f64>,
    /// Scores at or below the rule set's `low_satisfaction_max`.
    pub low: usize,
}

/// One customer manager's month.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ManagerMonth {
    pub manager: String,
    pub connection: ConnectionTime,
    pub on_time: OnTime,
    pub satisfaction: Satisfaction,
}

/// One project manager's supporting projects under way.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Projects {
    pub manager: String,
    pub running: usize,
    pub overdue: usize,
    pub avg_progress: Option<f64>,
}

/// A unit's month.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Assessment {
    pub unit: Option<String>,
    pub month: String,
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
    pub total: ConnectionTime,
    /// Per job kind code.
    pub by_kind: BTreeMap<String, ConnectionTime>,
    /// Per stage code.
    pub by_stage: BTreeMap<String, OnTime>,
    pub on_time: OnTime,
    pub satisfaction: Satisfaction,
    pub managers: Vec<ManagerMonth>,
    pub projects: Vec<Projects>,
}

/// Who may see assessments.
pub fn may_see(who: &Principal) -> bool {
    matches!(who.role, Role::Dispatcher | Role::OfficeStaff | Role::Admin)
}

/// The first and last day of `YYYY-MM`.
pub fn month_range(month: &str) -> Option<(NaiveDate, NaiveDate)> {
    let (y, m) = month.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let from = NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)?;
    let next = if from.month() == 12 {
        NaiveDate::from_ymd_opt(from.year() + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(from.year(), from.month() + 1, 1)?
    };
    Some((from, next.pred_opt()?))
}

fn mean(sum: f64, n: usize) -> f64 {
    if n == 0 { 0.0 } else { sum / n as f64 }
}

/// The assessment `filter` selects for `who`.
pub fn assess(
    env: &Env,
    who: &Principal,
    filter: &AssessmentFilter,
) -> Result<Assessment, ServerError> {
    if !may_see(who) {
        return Err(ServerError::forbidden(
            format!("{}无权查看考核", who.role.zh()),
            format!("a {} may not see assessments", who.role.en()),
        ));
    }
    let today = field_core::job::local_date(chrono::Utc::now());
    let unit = match (who.role, filter.unit.trim()) {
        (Role::Admin, "") => None,
        (Role::Admin, u) => Some(u.chars().take(64).collect::<String>()),
        _ => Some(who.unit.clone()),
    };
    // Without a month: the latest one with figures (a job powered on or a clock ended), so a
    // quiet start of a month does not open on an empty page.
    let month = if filter.month.is_empty() {
        let latest = env
            .store
            .read()?
            .latest_assessed_day(unit.as_deref(), &today.to_string())?;
        latest
            .and_then(|d| d.get(..7).map(str::to_string))
            .unwrap_or_else(|| today.format("%Y-%m").to_string())
    } else {
        filter.month.clone()
    };
    let Some((from, to)) = month_range(&month) else {
        return Err(ServerError::bad(
            "bad_filter",
            "月份须为 YYYY-MM",
            "the month is YYYY-MM",
        ));
    };
    if filter.unit.chars().count() > 64 {
        return Err(ServerError::bad(
            "bad_filter",
            "单位最多 64 个字符",
            "a unit is at most 64 characters",
        ));
    }
    let q = AssessmentQuery {
        unit: unit.clone(),
        from: from.to_string(),
        to: to.to_string(),
    };
    let (jobs, outcomes, projects) = {
        let tx = env.store.read()?;
        (
            tx.powered_jobs(&q)?,
            tx.stage_outcomes(&q)?,
            tx.running_projects(&q)?,
        )
    };
    let low = env
        .rules()
        .in_force(unit.as_deref().unwrap_or(&who.unit), to)
        .thresholds
        .low_satisfaction_max;
    let mut a = Assessment {
        unit,
        month,
        from,
        to,
        ..Default::default()
    };
    // Connection time and satisfaction, per kind and per manager.
    let mut sums: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    let mut managers: BTreeMap<String, ManagerMonth> = BTreeMap::new();
    let mut total = (0.0, 0usize);
    // Sum, scores, low scores, of them the customers' own.
    let mut sat = (0i64, 0usize, 0usize, 0usize);
    for j in &jobs {
        let (Ok(acc), Ok(on)) = (
            j.accepted_on.parse::<NaiveDate>(),
            j.powered_on.parse::<NaiveDate>(),
        ) else {
            continue;
        };
        let days = env.calendar().working_days_between(acc, on).max(0) as f64;
        let k = sums.entry(j.kind.clone()).or_default();
        k.0 += days;
        k.1 += 1;
        total.0 += days;
        total.1 += 1;
        let m = managers
            .entry(j.customer_manager.clone().unwrap_or_default())
            .or_default();
        m.connection.avg_working_days += days; // a sum until the end
        m.connection.jobs += 1;
        for (score, own) in [(j.satisfaction, false), (j.customer_rating, true)] {
            let Some(s) = score else { continue };
            sat.0 += s;
            sat.1 += 1;
            if own {
                sat.3 += 1;
                m.satisfaction.ratings += 1;
            } else {
                m.satisfaction.visits += 1;
            }
            m.satisfaction.average = Some(m.satisfaction.average.unwrap_or(0.0) + s as f64);
            if s <= low {
                sat.2 += 1;
                m.satisfaction.low += 1;
            }
        }
    }
    a.total = ConnectionTime {
        jobs: total.1,
        avg_working_days: mean(total.0, total.1),
    };
    a.by_kind = sums
        .into_iter()
        .map(|(k, (s, n))| {
            (
                k,
                ConnectionTime {
                    jobs: n,
                    avg_working_days: mean(s, n),
                },
            )
        })
        .collect();
    a.satisfaction = Satisfaction {
        visits: sat.1 - sat.3,
        ratings: sat.3,
        average: (sat.1 > 0).then(|| sat.0 as f64 / sat.1 as f64),
        low: sat.2,
    };
    // On time per stage and per manager.
    for (stage, cm, state, n) in outcomes {
        let (met, missed) = match state.as_str() {
            "met" => (n, 0),
            "missed" => (0, n),
            _ => continue,
        };
        for t in [
            a.by_stage.entry(stage).or_default(),
            &mut managers.entry(cm).or_default().on_time,
        ] {
            t.met += met;
            t.missed += missed;
        }
        a.on_time.met += met;
        a.on_time.missed += missed;
    }
    a.managers = managers
        .into_iter()
        .map(|(name, mut m)| {
            m.manager = name;
            m.connection.avg_working_days = mean(m.connection.avg_working_days, m.connection.jobs);
            m.satisfaction.average = m
                .satisfaction
                .average
                .map(|s| s / (m.satisfaction.visits + m.satisfaction.ratings).max(1) as f64);
            m
        })
        .collect();
    // Supporting projects under way, per project manager.
    let mut by_pm: BTreeMap<String, (Projects, f64, usize)> = BTreeMap::new();
    for p in projects {
        let e = by_pm
            .entry(p.project_manager.unwrap_or_default())
            .or_default();
        e.0.running += 1;
        if p.state == "overdue" {
            e.0.overdue += 1;
        }
        if let Some(pct) = p.progress {
            e.1 += pct;
            e.2 += 1;
        }
    }
    a.projects = by_pm
        .into_iter()
        .map(|(name, (mut p, sum, n))| {
            p.manager = name;
            p.avg_progress = (n > 0).then(|| sum / n as f64);
            p
        })
        .collect();
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_checked_and_end_on_their_last_day() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            month_range("2026-02"),
            Some((d("2026-02-01"), d("2026-02-28")))
        );
        assert_eq!(
            month_range("2024-02"),
            Some((d("2024-02-01"), d("2024-02-29")))
        );
        assert_eq!(
            month_range("2026-12"),
            Some((d("2026-12-01"), d("2026-12-31")))
        );
        for bad in [
            "", "2026", "2026-13", "2026-1", "26-01", "2026-00", "abcd-ef",
        ] {
            assert_eq!(month_range(bad), None, "{bad}");
        }
        assert_eq!(OnTime { met: 3, missed: 1 }.rate(), Some(75.0));
        assert_eq!(OnTime::default().rate(), None);
    }
}
