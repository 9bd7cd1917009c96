//! Write rights as versioned data: which role may write which section of a job (see
//! `data/policy/` and `docs/job-document.md`). The phone checks every edit against the policy
//! in force before it stores it, and the server checks every pushed change with the same code
//! ([`check_changes`]), so an honest phone is never refused and a dishonest one always is.
//!
//! A policy has an id, a version and an effective date; a unit may have its own. The one in
//! force for a write is picked by the writer's unit and the day of the write ([`PolicyBook`]).

mod check;

pub use check::{
    ChangeTouches, Checked, Refusal, Writer, check_changes, check_these_changes, touched_paths,
};

use crate::codes::{MilestoneEvent, Role};
use crate::job::schema::Section;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The national default policy, compiled in.
pub const NATIONAL_V1: &str = include_str!("../../data/policy/national.v1.json");

/// What a role may do in a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Right {
    /// Add, change and delete.
    Write,
    /// Add new entries to a collection; an entry once stored is never changed or deleted.
    Add,
}

/// A versioned, dated write policy; `unit = None` is the default for every unit. Roles and
/// sections are stored by their codes; codes this build does not know are kept and ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WritePolicy {
    pub id: String,
    pub version: u32,
    pub effective_from: NaiveDate,
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Roles that may create jobs in their own unit (an admin in any unit).
    pub create: Vec<String>,
    /// Roles that may write keys the schema does not know (the server is upgraded before the
    /// phones, so only admins need this).
    #[serde(default)]
    pub unknown_keys: Vec<String>,
    /// Section code → role code → right. A role missing from a section may not write it.
    pub sections: BTreeMap<String, BTreeMap<String, Right>>,
    /// The milestone events each role may add.
    #[serde(default)]
    pub milestone_events: BTreeMap<String, Vec<String>>,
    /// Single values a role may write at one path outside its sections (dotted path → role →
    /// values), e.g. a customer manager putting the review back to `pending` (提交审核).
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    /// The days any date or instant written into a job may name (2000-01-01 … 2100-12-31 unless
    /// the policy says otherwise, and never wider than that).
    #[serde(default)]
    pub dates: crate::validate::DateWindow,
}

/// Errors loading a policy.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("写入权限策略格式错误 / the write policy is malformed: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error(
        "写入权限策略 {id} 中有未知角色 {role} / write policy {id} names an unknown role {role}"
    )]
    UnknownRole { id: String, role: String },
    #[error(
        "写入权限策略 {id} 中有未知里程碑事件 {event} / write policy {id} names an unknown milestone event {event}"
    )]
    UnknownEvent { id: String, event: String },
    #[error(
        "写入权限策略 {id} 的日期范围 {earliest}–{latest} 无效（须在 2000-01-01–2100-12-31 之内）/ write policy {id} allows dates {earliest}–{latest}, which is not within 2000-01-01–2100-12-31"
    )]
    DateWindow {
        id: String,
        earliest: NaiveDate,
        latest: NaiveDate,
    },
}

impl crate::rules::Dated for WritePolicy {
    fn unit(&self) -> Option<&str> {
        self.unit.as_deref()
    }
    fn effective_from(&self) -> NaiveDate {
        self.effective_from
    }
    fn version(&self) -> u32 {
        self.version
    }
}

impl Default for WritePolicy {
    fn default() -> Self {
        serde_json::from_str(NATIONAL_V1).expect("the embedded write policy is valid")
    }
}

impl WritePolicy {
    /// Parses and checks a policy (roles and events must be known codes).
    pub fn from_json(json: &str) -> Result<WritePolicy, PolicyError> {
        let p: WritePolicy = serde_json::from_str(json)?;
        p.validate()?;
        Ok(p)
    }

    fn validate(&self) -> Result<(), PolicyError> {
        let role = |r: &String| {
            Role::parse(r)
                .map(|_| ())
                .ok_or_else(|| PolicyError::UnknownRole {
                    id: self.id.clone(),
                    role: r.clone(),
                })
        };
        self.create.iter().try_for_each(role)?;
        self.unknown_keys.iter().try_for_each(role)?;
        for roles in self.sections.values() {
            roles.keys().try_for_each(role)?;
        }
        for roles in self.values.values() {
            roles.keys().try_for_each(role)?;
        }
        for (r, events) in &self.milestone_events {
            role(r)?;
            for e in events {
                if MilestoneEvent::parse(e).is_none() {
                    return Err(PolicyError::UnknownEvent {
                        id: self.id.clone(),
                        event: e.clone(),
                    });
                }
            }
        }
        let widest = crate::validate::DateWindow::default();
        if self.dates.earliest > self.dates.latest
            || !widest.contains(self.dates.earliest)
            || !widest.contains(self.dates.latest)
        {
            return Err(PolicyError::DateWindow {
                id: self.id.clone(),
                earliest: self.dates.earliest,
                latest: self.dates.latest,
            });
        }
        Ok(())
    }

    /// The right `role` has in `section`, if any.
    pub fn right(&self, section: Section, role: Role) -> Option<Right> {
        self.sections
            .get(section.as_str())
            .and_then(|roles| roles.get(role.as_str()))
            .copied()
    }

    /// Whether `role` may create jobs (in its own unit; an admin in any).
    pub fn may_create(&self, role: Role) -> bool {
        self.create.iter().any(|r| r == role.as_str())
    }

    /// Whether `role` may write keys the schema does not know.
    pub fn may_write_unknown(&self, role: Role) -> bool {
        self.unknown_keys.iter().any(|r| r == role.as_str())
    }

    /// Whether `role` may write `value` at the dotted `path` by a value rule.
    pub fn may_put_value(&self, path: &str, role: Role, value: &str) -> bool {
        self.values
            .get(path)
            .and_then(|roles| roles.get(role.as_str()))
            .is_some_and(|vals| vals.iter().any(|v| v == value))
    }

    /// Whether `role` may add a milestone with `event`.
    pub fn may_add_event(&self, role: Role, event: MilestoneEvent) -> bool {
        self.right(Section::Milestones, role) == Some(Right::Write)
            || self
                .milestone_events
                .get(role.as_str())
                .is_some_and(|events| events.iter().any(|e| e == event.as_str()))
    }
}

/// Every write policy a device or server knows; picks the one in force.
#[derive(Debug, Clone)]
pub struct PolicyBook {
    sets: Vec<WritePolicy>,
}

impl Default for PolicyBook {
    fn default() -> Self {
        PolicyBook {
            sets: vec![WritePolicy::default()],
        }
    }
}

impl PolicyBook {
    /// Adds a policy delivered as JSON (a unit's override or a newer national version).
    pub fn add_json(&mut self, json: &str) -> Result<&WritePolicy, PolicyError> {
        let p = WritePolicy::from_json(json)?;
        Ok(self.add(p))
    }

    pub fn add(&mut self, policy: WritePolicy) -> &WritePolicy {
        self.sets
            .retain(|s| !(s.id == policy.id && s.version == policy.version));
        self.sets.push(policy);
        self.sets.last().expect("just pushed")
    }

    /// The policy in force for `unit` on `date`: the unit's own if one is effective, else the
    /// default; among those the latest effective date, then the highest version.
    pub fn in_force(&self, unit: &str, date: NaiveDate) -> &WritePolicy {
        crate::rules::in_force_of(&self.sets, unit, date)
            .expect("a policy book always holds the default")
    }

    /// Every policy, for listings.
    pub fn all(&self) -> &[WritePolicy] {
        &self.sets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_follows_the_seeds() {
        let p = WritePolicy::default();
        p.validate().unwrap();
        assert_eq!(
            p.right(Section::Review, Role::OfficeStaff),
            Some(Right::Write)
        );
        assert_eq!(p.right(Section::Review, Role::CustomerManager), None);
        assert_eq!(
            p.right(Section::Project, Role::ProjectManager),
            Some(Right::Write)
        );
        assert_eq!(p.right(Section::Project, Role::CustomerManager), None);
        assert_eq!(
            p.right(Section::Contracts, Role::CustomerManager),
            Some(Right::Add)
        );
        assert_eq!(p.right(Section::Contracts, Role::Admin), None);
        assert_eq!(p.right(Section::ContractReceipts, Role::Admin), None);
        assert_eq!(
            p.right(Section::ReturnVisit, Role::Dispatcher),
            Some(Right::Write)
        );
        for role in Role::ALL {
            assert_eq!(p.right(Section::Photos, *role), Some(Right::Add));
            assert_eq!(p.right(Section::Notes, *role), Some(Right::Write));
            assert_eq!(p.right(Section::Identity, *role), None);
        }
        assert!(p.may_create(Role::CustomerManager) && !p.may_create(Role::ProjectManager));
        assert!(p.may_add_event(Role::ProjectManager, MilestoneEvent::WorksStarted));
        assert!(!p.may_add_event(Role::CustomerManager, MilestoneEvent::WorksStarted));
        assert!(p.may_add_event(Role::Admin, MilestoneEvent::Archived));
        assert!(p.may_write_unknown(Role::Admin) && !p.may_write_unknown(Role::OfficeStaff));
    }

    #[test]
    fn a_unit_override_takes_effect_on_its_date() {
        let mut book = PolicyBook::default();
        let mut local = WritePolicy {
            id: "zhuxian".into(),
            unit: Some("zhuxian".into()),
            effective_from: "2026-06-01".parse().unwrap(),
            ..Default::default()
        };
        local
            .sections
            .get_mut("survey")
            .unwrap()
            .insert("project_manager".into(), Right::Write);
        book.add_json(&serde_json::to_string(&local).unwrap())
            .unwrap();
        let before = book.in_force("zhuxian", "2026-05-31".parse().unwrap());
        assert_eq!(before.id, "national");
        let after = book.in_force("zhuxian", "2026-06-01".parse().unwrap());
        assert_eq!(
            after.right(Section::Survey, Role::ProjectManager),
            Some(Right::Write)
        );
        assert_eq!(
            book.in_force("other", "2026-07-01".parse().unwrap()).id,
            "national"
        );
        let bad = NATIONAL_V1.replace("\"dispatcher\": [", "\"janitor\": [");
        assert!(matches!(
            WritePolicy::from_json(&bad),
            Err(PolicyError::UnknownRole { .. })
        ));
    }
}
