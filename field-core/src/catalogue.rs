//! Typical designs and typical costs (典型设计和典型造价咨询, seed 002 三(二)): a versioned
//! catalogue per unit (reference data of kind `typical_designs`, installed by admins like rule
//! sets), with a national default compiled in. The customer manager picks the design that fits
//! the job during the survey; the plan and the customer's progress page show it with its cost
//! range.

use crate::codes::{JobKind, Voltage};
use crate::job::{Job, TypicalDesign};
use crate::rules::Label;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One typical design with the capacity it fits and its typical cost range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignEntry {
    pub id: String,
    /// The kinds of job it fits (empty: every kind).
    #[serde(default)]
    pub kinds: Vec<JobKind>,
    pub voltage: Voltage,
    pub capacity_min_kva: f64,
    pub capacity_max_kva: f64,
    pub title: Label,
    /// What the design covers (the works to the metering point).
    pub scope: Label,
    pub cost_low_yuan: f64,
    pub cost_high_yuan: f64,
}

impl DesignEntry {
    /// Whether it fits a job of `kind` at `voltage` with `capacity_kva` (unknown facts do not
    /// exclude it).
    pub fn fits(&self, kind: JobKind, voltage: Option<Voltage>, capacity_kva: Option<f64>) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&kind))
            && voltage.is_none_or(|v| v == self.voltage)
            && capacity_kva.is_none_or(|c| c >= self.capacity_min_kva && c <= self.capacity_max_kva)
    }

    /// What the job records when this design is picked from `catalogue`.
    pub fn pick(&self, catalogue: &Catalogue) -> TypicalDesign {
        TypicalDesign {
            design_id: Some(self.id.clone()),
            catalogue: Some(catalogue.id.clone()),
            catalogue_version: Some(i64::from(catalogue.version)),
            title: Some(self.title.zh.clone()),
            cost_low_yuan: Some(self.cost_low_yuan),
            cost_high_yuan: Some(self.cost_high_yuan),
            ..Default::default()
        }
    }
}

/// A catalogue of typical designs: national (`unit` none) or one unit's, from a day on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalogue {
    pub id: String,
    pub version: u32,
    pub effective_from: NaiveDate,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub description: String,
    pub designs: Vec<DesignEntry>,
}

crate::book::versioned!(Catalogue);

/// Why a catalogue is refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("典型设计目录格式错误 / the typical-design catalogue is malformed: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("典型设计目录无效：{zh} / the typical-design catalogue is invalid: {en}")]
    Invalid { zh: String, en: String },
}

const DESIGNS_MAX: usize = 500;
const TEXT_MAX: usize = 500;

impl Catalogue {
    /// Parses and checks a catalogue: an id, 1–500 designs with distinct ids, texts present and
    /// at most 500 characters, capacity and cost ranges in order and finite.
    pub fn from_json(json: &str) -> Result<Catalogue, CatalogueError> {
        let c: Catalogue = serde_json::from_str(json)?;
        let invalid = |zh: String, en: String| Err(CatalogueError::Invalid { zh, en });
        if let Err((zh, en)) =
            crate::book::check_set(&c.id, c.designs.len(), DESIGNS_MAX, ("典型设计", "designs"))
        {
            return invalid(zh, en);
        }
        let mut ids = std::collections::BTreeSet::new();
        for (i, d) in c.designs.iter().enumerate() {
            let n = i + 1;
            if crate::validate::check_id("design.id", &d.id).is_err() || !ids.insert(&d.id) {
                return invalid(
                    format!("第 {n} 项的编号无效或重复"),
                    format!("design {n}: the id is invalid or repeated"),
                );
            }
            let bad = |t: &str| crate::book::bad_text(t, TEXT_MAX);
            if [&d.title, &d.scope]
                .iter()
                .any(|l| bad(&l.zh) || bad(&l.en))
            {
                return invalid(
                    format!("第 {n} 项的名称或范围缺失或过长（最多 {TEXT_MAX} 字）"),
                    format!(
                        "design {n}: a title or scope is missing or too long (at most {TEXT_MAX})"
                    ),
                );
            }
            let range_ok =
                |lo: f64, hi: f64| lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo <= hi;
            if !range_ok(d.capacity_min_kva, d.capacity_max_kva)
                || !range_ok(d.cost_low_yuan, d.cost_high_yuan)
                || d.cost_high_yuan > 1e10
            {
                return invalid(
                    format!("第 {n} 项的容量或造价范围无效（下限不大于上限，且不为负）"),
                    format!(
                        "design {n}: a capacity or cost range is invalid (low ≤ high, not negative)"
                    ),
                );
            }
        }
        Ok(c)
    }

    /// The designs that fit `job` (its kind, voltage and capacity; the survey's verified
    /// capacity and the plan's voltage when given).
    pub fn for_job<'a>(&'a self, job: &Job) -> impl Iterator<Item = &'a DesignEntry> + 'a {
        let kind = job.kind;
        let voltage = job.supply_plan.voltage.or(job.application.voltage);
        let capacity = job
            .survey
            .verified_capacity_kva
            .or(job.supply_plan.capacity_kva)
            .or(job.application.capacity_kva);
        self.designs
            .iter()
            .filter(move |d| d.fits(kind, voltage, capacity))
    }

    pub fn get(&self, id: &str) -> Option<&DesignEntry> {
        self.designs.iter().find(|d| d.id == id)
    }
}

impl crate::book::National for Catalogue {
    type Error = CatalogueError;

    fn national() -> Self {
        Catalogue::from_json(include_str!("../data/designs/national.v1.json"))
            .expect("the compiled-in catalogue is valid")
    }

    fn parse(json: &str) -> Result<Self, CatalogueError> {
        Catalogue::from_json(json)
    }
}

/// Every catalogue known: the national default and what is installed.
pub type CatalogueBook = crate::book::NationalBook<Catalogue>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_national_catalogue_fits_jobs_by_kind_voltage_and_capacity() {
        let book = CatalogueBook::default();
        let d = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let c = book.in_force("any", d);
        let fits = |kind, v, kva| {
            c.designs
                .iter()
                .filter(|e| e.fits(kind, Some(v), Some(kva)))
                .map(|e| e.id.clone())
                .collect::<Vec<_>>()
        };
        let small = fits(JobKind::LowVoltageSmallMicro, Voltage::V380, 60.0);
        assert!(!small.is_empty());
        let hv = fits(JobKind::HighVoltage, Voltage::Kv10, 800.0);
        assert!(!hv.is_empty());
        assert!(small.iter().all(|id| !hv.contains(id)));
        assert!(fits(JobKind::HighVoltage, Voltage::Kv10, 1e9).is_empty());
    }

    #[test]
    fn a_bad_catalogue_is_refused_with_a_reason() {
        let mut c = CatalogueBook::default()
            .in_force("x", NaiveDate::from_ymd_opt(2026, 1, 1).unwrap())
            .clone();
        c.designs[0].cost_low_yuan = 10.0;
        c.designs[0].cost_high_yuan = 5.0;
        let e = Catalogue::from_json(&serde_json::to_string(&c).unwrap()).unwrap_err();
        assert!(e.to_string().contains("造价"), "{e}");
        c.designs[0].cost_high_yuan = 50.0;
        let dup = c.designs[0].clone();
        c.designs.push(dup);
        let e = Catalogue::from_json(&serde_json::to_string(&c).unwrap()).unwrap_err();
        assert!(e.to_string().contains("重复"), "{e}");
    }
}
