//! Managers' qualifications (任职条件, seed 003 第五条/第六条): a customer manager needs the
//! business-expansion training given by the higher company (业扩报装业务培训) and a title of
//! assistant engineer or above (助理工程师) or a skill grade of intermediate or above (中级工); a
//! project manager needs the title or the skill grade. Whether the counter is only warned or
//! blocked when assigning someone who falls short is the rule set's
//! `thresholds.manager_qualification`.

use crate::codes::{Role, coded_enum};
use crate::rules::Reason;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

coded_enum! {
    /// Professional title (职称), lowest first.
    Title {
        None = "none", "无职称", "no title";
        Technician = "technician", "技术员", "technician";
        AssistantEngineer = "assistant_engineer", "助理工程师", "assistant engineer";
        Engineer = "engineer", "工程师", "engineer";
        SeniorEngineer = "senior_engineer", "高级工程师", "senior engineer";
        ProfessorEngineer = "professor_engineer", "正高级工程师", "professor-level senior engineer";
    }
}

coded_enum! {
    /// Skill grade (技能鉴定), lowest first.
    Skill {
        None = "none", "无技能等级", "no skill grade";
        Junior = "junior", "初级工", "junior worker";
        Intermediate = "intermediate", "中级工", "intermediate worker";
        Senior = "senior", "高级工", "senior worker";
        Technician = "technician", "技师", "technician";
        SeniorTechnician = "senior_technician", "高级技师", "senior technician";
    }
}

/// The course a customer manager must have passed.
pub const BUSINESS_EXPANSION_COURSE: &str = "business_expansion";

/// One completed training.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Training {
    /// `business_expansion` (业扩报装业务培训) or another course's code.
    pub course: String,
    pub completed_on: NaiveDate,
    /// The certificate's number, if any.
    #[serde(default)]
    pub certificate: String,
}

/// A manager's title, skill grade and trainings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Qualifications {
    pub title: Title,
    pub skill: Skill,
    #[serde(default)]
    pub trainings: Vec<Training>,
}

impl Default for Qualifications {
    fn default() -> Self {
        Qualifications {
            title: Title::None,
            skill: Skill::None,
            trainings: Vec::new(),
        }
    }
}

/// What the counter does with a manager who falls short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QualificationRule {
    /// Shown as a warning; the assignment goes through.
    #[default]
    Warn,
    /// The assignment is refused.
    Block,
}

/// Why `q` does not qualify for `role` (empty: it does; roles other than the two managers need
/// nothing).
pub fn shortfalls(role: Role, q: &Qualifications) -> Vec<Reason> {
    let mut out = Vec::new();
    if !matches!(role, Role::CustomerManager | Role::ProjectManager) {
        return out;
    }
    if q.title < Title::AssistantEngineer && q.skill < Skill::Intermediate {
        out.push(Reason {
            code: "title_or_skill".into(),
            zh: "须取得助理工程师及以上职称或中级及以上技能鉴定".into(),
            en: "needs the title of assistant engineer or above, or an intermediate skill grade or above".into(),
        });
    }
    if role == Role::CustomerManager
        && !q
            .trainings
            .iter()
            .any(|t| t.course == BUSINESS_EXPANSION_COURSE)
    {
        out.push(Reason {
            code: "training".into(),
            zh: "未通过上级公司组织的业扩报装业务培训".into(),
            en: "has not passed the business-expansion training given by the higher company".into(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_conditions_for_each_manager() {
        let trained = Training {
            course: BUSINESS_EXPANSION_COURSE.into(),
            completed_on: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            certificate: String::new(),
        };
        let q = |title, skill, trainings: Vec<Training>| Qualifications {
            title,
            skill,
            trainings,
        };
        assert!(
            shortfalls(
                Role::CustomerManager,
                &q(Title::AssistantEngineer, Skill::None, vec![trained.clone()])
            )
            .is_empty()
        );
        assert!(
            shortfalls(
                Role::CustomerManager,
                &q(Title::None, Skill::Intermediate, vec![trained.clone()])
            )
            .is_empty()
        );
        let short = shortfalls(
            Role::CustomerManager,
            &q(Title::Technician, Skill::Junior, vec![]),
        );
        assert_eq!(
            short.iter().map(|r| r.code.as_str()).collect::<Vec<_>>(),
            ["title_or_skill", "training"]
        );
        assert!(
            shortfalls(
                Role::ProjectManager,
                &q(Title::Engineer, Skill::None, vec![])
            )
            .is_empty(),
            "no training needed"
        );
        assert_eq!(
            shortfalls(Role::ProjectManager, &Qualifications::default()).len(),
            1
        );
        assert!(shortfalls(Role::OfficeStaff, &Qualifications::default()).is_empty());
    }
}
