//! Grid cells (电网网格) and their health grade (健康 / 亚健康 / 病态), kept by admins per unit and
//! published as restricted-access information (接入受限, seed 004 §10). A unit's cells travel as one
//! versioned document (reference data of kind `grid_cells`); the phone and the server judge a
//! job by its cell's current grade, so a cell that is cured turns the job's direct-install
//! verdict without anybody editing the job.

use crate::codes::GridHealth;
use crate::job::Job;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// One grid cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridCell {
    /// Short identifier, e.g. `ZX-03`.
    pub id: String,
    pub name: String,
    pub grade: GridHealth,
    /// What is restricted, or the upgrade plan (published).
    #[serde(default)]
    pub note: String,
    /// The upgrade project's number, when one is under way.
    #[serde(default)]
    pub upgrade_project: String,
}

/// A unit's grid cells, version by version (the highest wins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridCells {
    pub unit: String,
    pub version: u32,
    pub cells: Vec<GridCell>,
}

/// Why a grid document is refused.
#[derive(Debug, thiserror::Error)]
pub enum GridError {
    #[error("电网网格数据格式错误 / the grid cell document is malformed: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("电网网格数据无效：{zh} / the grid cell document is invalid: {en}")]
    Invalid { zh: String, en: String },
}

impl GridCells {
    /// Parses and checks a document: a unit, ids of `[A-Za-z0-9_-]{1,32}` used once, names.
    pub fn from_json(json: &str) -> Result<GridCells, GridError> {
        let g: GridCells = serde_json::from_str(json)?;
        g.check()?;
        Ok(g)
    }

    fn check(&self) -> Result<(), GridError> {
        let invalid = |zh: String, en: String| Err(GridError::Invalid { zh, en });
        if self.unit.trim().is_empty() || self.unit.len() > 64 {
            return invalid("缺少单位".into(), "the unit is missing".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for c in &self.cells {
            if c.id.is_empty()
                || c.id.len() > 32
                || !c
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return invalid(
                    format!("网格编号 {} 无效（1–32 位字母、数字、- 或 _）", c.id),
                    format!("cell id {} is invalid (1–32 letters, digits, - or _)", c.id),
                );
            }
            if !seen.insert(c.id.as_str()) {
                return invalid(
                    format!("网格编号 {} 重复", c.id),
                    format!("cell id {} is used twice", c.id),
                );
            }
            let long = c.name.chars().count() > 100
                || c.note.chars().count() > 500
                || c.upgrade_project.chars().count() > 64;
            if c.name.trim().is_empty() || long {
                return invalid(
                    format!("网格 {} 的名称、说明或改造项目号无效", c.id),
                    format!("cell {}'s name, note or upgrade project is invalid", c.id),
                );
            }
        }
        Ok(())
    }

    pub fn cell(&self, id: &str) -> Option<&GridCell> {
        self.cells.iter().find(|c| c.id == id)
    }

    /// Cells whose grade restricts access (sub-healthy and sick), to publish.
    pub fn restricted(&self) -> impl Iterator<Item = &GridCell> {
        self.cells.iter().filter(|c| c.grade != GridHealth::Healthy)
    }
}

/// Every unit's newest grid cells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GridBook {
    units: BTreeMap<String, GridCells>,
}

impl GridBook {
    /// Keeps `cells` if it is newer than what the book holds for its unit.
    pub fn add(&mut self, cells: GridCells) -> bool {
        match self.units.get(&cells.unit) {
            Some(have) if have.version >= cells.version => false,
            _ => {
                self.units.insert(cells.unit.clone(), cells);
                true
            }
        }
    }

    pub fn add_json(&mut self, json: &str) -> Result<bool, GridError> {
        Ok(self.add(GridCells::from_json(json)?))
    }

    /// A unit's cells, if any were published.
    pub fn unit(&self, unit: &str) -> Option<&GridCells> {
        self.units.get(unit)
    }

    /// The job as the rules should judge it: with its cell's current grade, when the job names
    /// a cell this book knows (else as it is).
    pub fn judged<'a>(&self, job: &'a Job) -> Cow<'a, Job> {
        let grade = job
            .application
            .grid_cell
            .as_deref()
            .and_then(|id| self.unit(&job.unit)?.cell(id))
            .map(|c| c.grade);
        match grade {
            Some(g) if job.application.grid_health != Some(g) => {
                let mut j = job.clone();
                j.application.grid_health = Some(g);
                Cow::Owned(j)
            }
            _ => Cow::Borrowed(job),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_checked_and_the_newest_wins() {
        let doc = |v: u32, grade: &str| {
            format!(
                r#"{{"unit": "zhuxian", "version": {v}, "cells": [
                    {{"id": "ZX-03", "name": "城东网格", "grade": "{grade}"}}]}}"#
            )
        };
        let mut book = GridBook::default();
        assert!(book.add_json(&doc(2, "sick")).unwrap());
        assert!(!book.add_json(&doc(1, "healthy")).unwrap(), "older loses");
        assert_eq!(
            book.unit("zhuxian").unwrap().cell("ZX-03").unwrap().grade,
            GridHealth::Sick
        );
        assert_eq!(book.unit("zhuxian").unwrap().restricted().count(), 1);
        for bad in [
            r#"{"unit": "", "version": 1, "cells": []}"#,
            r#"{"unit": "u", "version": 1, "cells": [{"id": "a b", "name": "x", "grade": "sick"}]}"#,
            r#"{"unit": "u", "version": 1, "cells": [{"id": "a", "name": "x", "grade": "sick"},
                {"id": "a", "name": "y", "grade": "healthy"}]}"#,
            r#"{"unit": "u", "version": 1, "cells": [{"id": "a", "name": "x", "grade": "bad"}]}"#,
        ] {
            assert!(GridCells::from_json(bad).is_err(), "{bad}");
        }
    }
}
