//! 派工 at the counter: the customer manager (which the customer may choose from the unit's
//! published list: 客户自选业务经理, recorded as `customer_chose_manager`) and the project manager
//! appointed to the job's supporting project (聘任, with who approved it, as the `pm_appointed`
//! milestone). Written into the job on the office's behalf, so both managers' phones receive
//! the job by sync. A project manager is released (自动解聘) when the project is settled: see
//! `server_edits`, run with every recorded change.

use super::{Env, on_behalf, public};
use crate::authz::Principal;
use crate::error::ServerError;
use field_core::job::schema::Section;
use field_core::job::{Assignment, Milestone};
use field_core::policy::Right;
use field_core::{Edit, MilestoneEvent, Role};
use serde::{Deserialize, Serialize};

/// What the counter fills in (empty: leave as it is).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AssignInput {
    /// The customer manager's user name.
    #[serde(default)]
    pub customer_manager: String,
    /// The customer chose this manager from the published list.
    #[serde(default)]
    pub customer_chose: bool,
    /// The project manager's user name.
    #[serde(default)]
    pub project_manager: String,
    /// Who approved the project manager's appointment (主管副总经理).
    #[serde(default)]
    pub approved_by: String,
}

/// A project manager as the counter chooses them: how many supporting projects they run now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PmLoad {
    pub username: String,
    pub name: String,
    pub running: i64,
}

/// Whether `who` may assign managers (the write policy's `assignment` right).
pub fn may_assign(env: &Env, who: &Principal) -> bool {
    env.policy(&who.unit).right(Section::Assignment, who.role) == Some(Right::Write)
}

/// The customer managers of `unit` with the public page's figures, counted now.
pub fn customer_managers(env: &Env, unit: &str) -> Result<Vec<public::PublicManager>, ServerError> {
    Ok(public::count_managers(env, unit)?.unwrap_or_default())
}

/// The project managers of `unit`, with their running supporting projects.
pub fn project_managers(env: &Env, unit: &str) -> Result<Vec<PmLoad>, ServerError> {
    let tx = env.store.read()?;
    let running = tx.running_projects(&crate::store::AssessmentQuery {
        unit: Some(unit.to_string()),
        ..Default::default()
    })?;
    Ok(tx
        .users_of(Some(unit))?
        .into_iter()
        .filter(|(_, _, role)| role == Role::ProjectManager.as_str())
        .map(|(username, name, _)| PmLoad {
            running: running
                .iter()
                .filter(|p| p.project_manager.as_deref() == Some(username.as_str()))
                .count() as i64,
            username,
            name,
        })
        .collect())
}

/// The display name of an enabled user of `role` in `unit`, who meets the conditions for it
/// where the unit's rules block those who do not.
pub(crate) fn member(
    env: &Env,
    username: &str,
    role: Role,
    unit: &str,
) -> Result<String, ServerError> {
    let user = env.store.read()?.user_by_name(username)?;
    match user {
        Some(u) if u.role == role.as_str() && u.unit == unit && !u.disabled => {
            // Seed 003: a manager who falls short is refused where the unit's rules block it.
            super::qualifications::require(env, unit, username, role)?;
            Ok(u.display_name)
        }
        _ => Err(ServerError::bad(
            "invalid_value",
            format!("{username} 不是本单位在岗的{}", role.zh()),
            format!(
                "{username} is not an active {} of the job's unit",
                role.en()
            ),
        )),
    }
}

/// Assigns the managers `input` names.
pub fn assign(
    env: &Env,
    who: &Principal,
    job_id: &str,
    input: &AssignInput,
) -> Result<(), ServerError> {
    let cm = input.customer_manager.trim();
    let pm = input.project_manager.trim();
    let approved_by = input.approved_by.trim();
    if cm.is_empty() && pm.is_empty() {
        return Err(ServerError::bad(
            "invalid_value",
            "请选择客户经理或项目经理",
            "choose a customer manager or a project manager",
        ));
    }
    if approved_by.chars().count() > 100 || approved_by.chars().any(char::is_control) {
        return Err(ServerError::bad(
            "invalid_value",
            "批准人最多 100 字",
            "the approver is at most 100 characters",
        ));
    }
    let appointment = uuid::Uuid::new_v4().simple().to_string();
    on_behalf::write(
        env,
        who,
        job_id,
        || {
            if may_assign(env, who) {
                Ok(())
            } else {
                Err(ServerError::forbidden(
                    format!("{}无权派工", who.role.zh()),
                    format!("a {} may not assign managers", who.role.en()),
                ))
            }
        },
        |job, now| {
            let a = &job.assignment;
            let mut change = Assignment::default();
            if !cm.is_empty() {
                change.customer_manager_name =
                    Some(member(env, cm, Role::CustomerManager, &job.unit)?);
                change.customer_manager = Some(cm.to_string());
                change.customer_chose_manager = Some(input.customer_chose);
                if a.customer_manager.as_deref() != Some(cm) {
                    change.assigned_at = Some(now);
                }
            }
            let new_pm = !pm.is_empty() && a.project_manager.as_deref() != Some(pm);
            if new_pm {
                if job.assignment.pm_released_at.is_some() {
                    return Err(ServerError::bad(
                        "released",
                        "配套工程已结算，项目经理已解聘",
                        "the project is settled: its project manager was released",
                    ));
                }
                change.project_manager_name =
                    Some(member(env, pm, Role::ProjectManager, &job.unit)?);
                change.project_manager = Some(pm.to_string());
            }
            let mut edits = vec![Edit::UpdateAssignment(change)];
            if new_pm {
                let note = match approved_by {
                    "" => format!("聘任 {pm}"),
                    by => format!("聘任 {pm}，批准：{by}"),
                };
                edits.push(Edit::AddMilestone {
                    id: format!("pm-{appointment}"),
                    milestone: Milestone {
                        event: Some(MilestoneEvent::ProjectManagerAppointed),
                        at: Some(now),
                        note: Some(note),
                        ..Default::default()
                    },
                });
            }
            Ok(edits)
        },
        |_, _| Ok(()),
    )
}
