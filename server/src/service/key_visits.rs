//! Visits to important customers (重要客户“1+1+1”走访, seed 004 item 12): the counter or dispatch
//! sets a customer's visit plan on the job's page — the company leader who leads the visits, the
//! grid manager and the customer manager, every so many days from a first day — written into the
//! job on their behalf, so it reaches the customer manager's phone, where visits are recorded.
//! Visits due under the plan are on the board's agenda (`field_core::agenda`).

use super::{Env, on_behalf};
use crate::authz::Principal;
use crate::error::ServerError;
use chrono::NaiveDate;
use field_core::job::VisitPlan;
use field_core::job::schema::Section;
use field_core::policy::Right;
use field_core::{Edit, Role};
use serde::{Deserialize, Serialize};

/// A visit plan as the form gives it: user names, the interval and the first day.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PlanInput {
    pub leader: String,
    pub grid_manager: String,
    pub customer_manager: String,
    pub every_days: String,
    pub starts_on: String,
}

/// Whether `who` may set visit plans (the write policy's `visit_plan` right).
pub fn may_plan(env: &Env, who: &Principal) -> bool {
    env.policy(&who.unit).right(Section::VisitPlan, who.role) == Some(Right::Write)
}

fn bad(zh: &str, en: &str) -> ServerError {
    ServerError::bad("invalid_value", zh, en)
}

/// Sets the visit plan of a job's customer. Whether the caller sees the job and may set plans
/// is decided before their input is looked at: someone of another unit learns nothing more.
pub fn set_plan(
    env: &Env,
    who: &Principal,
    job_id: &str,
    input: &PlanInput,
) -> Result<(), ServerError> {
    on_behalf::write(
        env,
        who,
        job_id,
        || {
            if may_plan(env, who) {
                Ok(())
            } else {
                Err(ServerError::forbidden(
                    format!("{}无权制定重要客户走访计划", who.role.zh()),
                    format!("a {} may not set visit plans", who.role.en()),
                ))
            }
        },
        |_, _| Ok(vec![Edit::UpdateVisitPlan(checked(env, who, input)?)]),
        |_, _| Ok(()),
    )
}

/// The plan `input` describes, checked: an interval of 1–366 days, a first day, and three
/// active users of the caller's unit (the customer manager one of its customer managers), whose
/// names are written with them.
fn checked(env: &Env, who: &Principal, input: &PlanInput) -> Result<VisitPlan, ServerError> {
    let every: i64 = input
        .every_days
        .trim()
        .parse()
        .ok()
        .filter(|d| (1..=366).contains(d))
        .ok_or_else(|| bad("走访周期应为 1–366 天", "visits are every 1 to 366 days"))?;
    let starts_on: NaiveDate = input.starts_on.trim().parse().map_err(|_| {
        bad(
            "请填写首次走访日期（年-月-日）",
            "give the first visit's day as YYYY-MM-DD",
        )
    })?;
    let tx = env.store.read()?;
    let person = |username: &str, manager: bool, zh: &str, en: &str| {
        let u = tx
            .user_by_name(username.trim())?
            .filter(|u| !u.disabled && u.unit == who.unit)
            .filter(|u| !manager || u.role == Role::CustomerManager.as_str());
        u.map(|u| (u.username, u.display_name)).ok_or_else(|| {
            ServerError::bad(
                "invalid_value",
                format!("{zh}应为本单位的在岗人员"),
                format!("{en} must be an active user of your unit"),
            )
        })
    };
    let (leader, leader_name) = person(&input.leader, false, "带队公司领导", "the leader")?;
    let (grid, grid_name) = person(&input.grid_manager, false, "网格经理", "the grid manager")?;
    let (cm, cm_name) = person(
        &input.customer_manager,
        true,
        "客户经理",
        "the customer manager",
    )?;
    Ok(VisitPlan {
        leader: Some(leader),
        leader_name: Some(leader_name),
        grid_manager: Some(grid),
        grid_manager_name: Some(grid_name),
        customer_manager: Some(cm),
        customer_manager_name: Some(cm_name),
        every_days: Some(every),
        starts_on: Some(starts_on),
    })
}
