//! Fees and their basis (收费标准和收费依据, seed 001 §2.4: published openly): a versioned
//! schedule per unit (reference data of kind `fee_schedule`, installed by admins like rule
//! sets), with a national default compiled in. The public pages, the customer's guide (报装指南)
//! and the phone show the schedule in force for the unit on a day.

use crate::codes::JobKind;
use crate::rules::Label;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One fee (or the absence of one) and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeeItem {
    /// The kinds it applies to (empty: every kind).
    #[serde(default)]
    pub kinds: Vec<JobKind>,
    /// What is charged for (or built, or provided).
    pub item: Label,
    /// The amount or the rule (e.g. 免费提供并安装).
    pub standard: Label,
    /// The document it rests on.
    pub basis: Label,
}

/// A fee schedule: national (`unit` none) or one unit's, from a day on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeeSchedule {
    pub id: String,
    pub version: u32,
    pub effective_from: NaiveDate,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub description: String,
    pub items: Vec<FeeItem>,
}

/// Why a fee schedule is refused.
#[derive(Debug, thiserror::Error)]
pub enum FeeError {
    #[error("收费标准格式错误 / the fee schedule is malformed: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("收费标准无效：{zh} / the fee schedule is invalid: {en}")]
    Invalid { zh: String, en: String },
}

const TEXT_MAX: usize = 500;
const ITEMS_MAX: usize = 100;

impl FeeSchedule {
    /// Parses and checks a schedule: an id, at most 100 items, every text present and at most
    /// 500 characters.
    pub fn from_json(json: &str) -> Result<FeeSchedule, FeeError> {
        let s: FeeSchedule = serde_json::from_str(json)?;
        let invalid = |zh: String, en: String| Err(FeeError::Invalid { zh, en });
        if let Err((zh, en)) =
            crate::book::check_set(&s.id, s.items.len(), ITEMS_MAX, ("收费项目", "fee items"))
        {
            return invalid(zh, en);
        }
        for (i, item) in s.items.iter().enumerate() {
            for l in [&item.item, &item.standard, &item.basis] {
                let bad = |t: &str| crate::book::bad_text(t, TEXT_MAX);
                if bad(&l.zh) || bad(&l.en) {
                    return invalid(
                        format!(
                            "第 {} 项的名称、标准或依据缺失或过长（最多 {TEXT_MAX} 字）",
                            i + 1
                        ),
                        format!(
                            "item {}: a name, standard or basis is missing or too long (at most {TEXT_MAX})",
                            i + 1
                        ),
                    );
                }
            }
        }
        Ok(s)
    }

    /// The items that apply to `kind`.
    pub fn for_kind(&self, kind: JobKind) -> impl Iterator<Item = &FeeItem> {
        self.items
            .iter()
            .filter(move |i| i.kinds.is_empty() || i.kinds.contains(&kind))
    }
}

crate::book::versioned!(FeeSchedule);

impl crate::book::National for FeeSchedule {
    type Error = FeeError;

    fn national() -> Self {
        FeeSchedule::from_json(include_str!("../data/fees/national.v1.json"))
            .expect("the compiled-in fee schedule is valid")
    }

    fn parse(json: &str) -> Result<Self, FeeError> {
        FeeSchedule::from_json(json)
    }
}

/// Every schedule known: the national default and what is installed.
pub type FeeBook = crate::book::NationalBook<FeeSchedule>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_units_schedule_takes_over_from_its_day() {
        let mut book = FeeBook::default();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            book.in_force("zhuxian", d("2026-12-07")).id,
            "national-fees"
        );
        let mut own = book.in_force("zhuxian", d("2026-12-07")).clone();
        own.id = "zhuxian-fees".into();
        own.unit = Some("zhuxian".into());
        own.effective_from = d("2027-01-01");
        book.add_json(&serde_json::to_string(&own).unwrap())
            .unwrap();
        assert_eq!(
            book.in_force("zhuxian", d("2026-12-31")).id,
            "national-fees"
        );
        assert_eq!(book.in_force("zhuxian", d("2027-01-01")).id, "zhuxian-fees");
        assert_eq!(book.in_force("other", d("2027-01-01")).id, "national-fees");
        let residential: Vec<_> = own.for_kind(JobKind::LowVoltageResidential).collect();
        assert!(
            residential.iter().any(|i| i.kinds.is_empty()),
            "items for every kind"
        );
        assert!(
            !residential
                .iter()
                .any(|i| i.kinds == vec![JobKind::HighVoltage])
        );
    }

    #[test]
    fn a_bad_schedule_is_refused_with_a_reason() {
        let e = FeeSchedule::from_json(
            r#"{"id":"x","version":1,"effective_from":"2026-01-01","items":[]}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("1–100"));
        assert!(FeeSchedule::from_json("{").is_err());
    }
}
