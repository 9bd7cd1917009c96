//! Supervision orders (督办). A dispatcher orders the job's responsible manager (its customer or
//! project manager) to act by a deadline, for a reason; the order is written into the job
//! document on the dispatcher's behalf, so it reaches the manager's phone by sync, where they
//! answer it. An order still unanswered after its deadline is escalated by the server to the
//! unit's leaders (单位负责人, marked in the administration pages), once, written into the document
//! too. Every step is a recorded change in the audit trail; the escalation also has its own
//! `supervision_escalated` entry.

use super::audit;
use super::jobs::{self, Origin, SERVER_ORIGIN};
use super::{Env, on_behalf};
use crate::authz::Principal;
use crate::error::ServerError;
use crate::store::AuditEntry;
use chrono::{NaiveDate, Utc};
use field_core::Edit;
use field_core::job::schema::Section;
use field_core::job::{SupervisionEscalation, SupervisionOrder};
use field_core::policy::{Checked, Right};
use field_core::sla::Stage;
use serde::{Deserialize, Serialize};

/// Longest reason, answer or remarks (characters).
pub const TEXT_MAX: usize = 500;
/// Late orders escalated per pass (the next pass, ten minutes on, takes the rest).
const ESCALATE_BATCH: u32 = 200;

/// An order as a dispatcher fills it in.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IssueInput {
    /// `customer_manager` or `project_manager`: the job's manager of that role gets the order.
    pub to: String,
    /// The stage it concerns (a clock stage code), or empty.
    #[serde(default)]
    pub stage: String,
    pub reason: String,
    /// `YYYY-MM-DD`, not before today.
    pub due_on: String,
}

/// Whether `who` may issue and close orders (the write policy's `supervision` right).
pub fn may_issue(env: &Env, who: &Principal) -> bool {
    env.policy(&who.unit).right(Section::Supervision, who.role) == Some(Right::Write)
}

fn text(s: &str, required: bool, zh: &str, en: &str) -> Result<Option<String>, ServerError> {
    let t = s.trim();
    if t.chars().count() > TEXT_MAX || t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ServerError::bad(
            "invalid_value",
            format!("{zh}最多 {TEXT_MAX} 字，不能含控制字符"),
            format!("{en} is at most {TEXT_MAX} characters, without control characters"),
        ));
    }
    if t.is_empty() && required {
        return Err(ServerError::bad(
            "invalid_value",
            format!("请填写{zh}"),
            format!("{en} is required"),
        ));
    }
    Ok(Some(t.to_string()).filter(|t| !t.is_empty()))
}

fn allowed(env: &Env, who: &Principal) -> Result<(), ServerError> {
    if may_issue(env, who) {
        Ok(())
    } else {
        Err(ServerError::forbidden(
            format!("{}无权督办", who.role.zh()),
            format!("a {} may not issue supervision orders", who.role.en()),
        ))
    }
}

/// Issues an order on a job; returns its id.
pub fn issue(
    env: &Env,
    who: &Principal,
    job_id: &str,
    input: &IssueInput,
) -> Result<String, ServerError> {
    let reason = text(&input.reason, true, "督办事由", "the reason")?;
    let due_on: NaiveDate = input.due_on.trim().parse().map_err(|_| {
        ServerError::bad(
            "invalid_value",
            "请填写办结期限（年-月-日）",
            "give the deadline as YYYY-MM-DD",
        )
    })?;
    let stage = match input.stage.trim() {
        "" => None,
        s => Some(
            Stage::parse(s)
                .ok_or_else(|| ServerError::bad("invalid_value", "未知的环节", "unknown stage"))?
                .code()
                .to_string(),
        ),
    };
    let today = field_core::job::local_date(Utc::now());
    if due_on < today {
        return Err(ServerError::bad(
            "invalid_value",
            format!("办结期限不能早于今天（{today}）"),
            format!("the deadline cannot be before today ({today})"),
        ));
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let order_id = id.clone();
    on_behalf::write(
        env,
        who,
        job_id,
        || allowed(env, who),
        |job, _| {
            let a = &job.assignment;
            let (manager, name) = match input.to.as_str() {
                "customer_manager" => (&a.customer_manager, &a.customer_manager_name),
                "project_manager" => (&a.project_manager, &a.project_manager_name),
                _ => {
                    return Err(ServerError::bad(
                        "invalid_value",
                        "请选择督办对象：客户经理或项目经理",
                        "choose whom to order: the customer manager or the project manager",
                    ));
                }
            };
            let Some(manager) = manager.clone().filter(|m| !m.is_empty()) else {
                return Err(ServerError::bad(
                    "no_manager",
                    "该工单尚未指派这一经理，无法督办",
                    "the job has no manager of that role to order",
                ));
            };
            Ok(vec![Edit::IssueSupervision {
                id: order_id.clone(),
                order: SupervisionOrder {
                    issued_by_name: Some(who.display_name.clone()),
                    manager_name: Some(name.clone().unwrap_or_else(|| manager.clone())),
                    manager: Some(manager),
                    stage: stage.clone(),
                    reason: reason.clone(),
                    due_on: Some(due_on),
                    ..Default::default()
                },
            }])
        },
        |_, _| Ok(()),
    )?;
    Ok(id)
}

/// Closes an order (办结), with optional remarks.
pub fn close(
    env: &Env,
    who: &Principal,
    job_id: &str,
    order_id: &str,
    remarks: &str,
) -> Result<(), ServerError> {
    let remarks = text(remarks, false, "办结意见", "the remarks")?;
    on_behalf::write(
        env,
        who,
        job_id,
        || allowed(env, who),
        |job, _| {
            if !job.supervision.contains_key(order_id) {
                return Err(ServerError::NotFound);
            }
            Ok(vec![Edit::CloseSupervision {
                id: order_id.to_string(),
                remarks: remarks.clone(),
            }])
        },
        |_, _| Ok(()),
    )
}

/// Escalates every open order left unanswered after its deadline (as of `today`) to its unit's
/// leaders; returns how many were escalated. Runs with the daily clocks, every ten minutes.
pub fn escalate_late(env: &Env, today: NaiveDate) -> Result<usize, ServerError> {
    let late = env
        .store
        .read()?
        .late_orders(&today.to_string(), ESCALATE_BATCH)?;
    let mut done = 0;
    for (job_id, order_id) in late {
        if escalate(env, &job_id, &order_id, today)? {
            done += 1;
        }
    }
    Ok(done)
}

fn escalate(
    env: &Env,
    job_id: &str,
    order_id: &str,
    today: NaiveDate,
) -> Result<bool, ServerError> {
    // (manager, due day, leaders, unit) of the order escalated.
    type Escalated = (
        Option<String>,
        Option<NaiveDate>,
        Vec<(String, String)>,
        String,
    );
    let escalated = std::cell::RefCell::new(None::<Escalated>);
    let done = jobs::write(
        env,
        job_id,
        |tx| {
            let Some(state) = tx.job_state(job_id)? else {
                return Ok(None);
            };
            let mut doc = jobs::load(tx, env, job_id, &state)?;
            let before = doc.heads();
            let job = doc
                .read()
                .map_err(|e| ServerError::Internal(e.to_string()))?;
            let Some(order) = job.supervision.get(order_id) else {
                return Ok(None);
            };
            if !order.is_late(today) || order.escalation.escalated_at.is_some() {
                return Ok(None);
            }
            let leaders = tx.unit_leaders(&job.unit)?;
            let join = |f: fn(&(String, String)) -> &str| {
                leaders.iter().map(f).collect::<Vec<_>>().join(",")
            };
            let now = Utc::now();
            let escalation = SupervisionEscalation {
                escalated_at: Some(now),
                leaders: Some(join(|l| &l.0)),
                leader_names: Some(join(|l| &l.1)),
            };
            let escalate = Edit::RecordEscalation {
                id: order_id.to_string(),
                escalation,
            };
            jobs::apply_as_server(&mut doc, &[escalate], now)?;
            *escalated.borrow_mut() = Some((
                order.manager.clone(),
                order.due_on,
                leaders,
                job.unit.clone(),
            ));
            Ok(Some(jobs::plan(
                tx,
                env,
                Origin::Server,
                job_id,
                doc,
                jobs::Before::at(&before, &job, &state),
                &Checked::default(),
            )?))
        },
        |tx, _| {
            let e = escalated.borrow();
            let Some((manager, due_on, leaders, _)) = e.as_ref() else {
                return Ok(());
            };
            audit::append(
                tx,
                AuditEntry {
                    kind: "supervision_escalated".into(),
                    username: Some(SERVER_ORIGIN.into()),
                    device_id: Some(SERVER_ORIGIN.into()),
                    job_id: Some(job_id.to_string()),
                    detail: serde_json::json!({
                        "order": order_id,
                        "manager": manager,
                        "due_on": due_on,
                        "leaders": leaders.iter().map(|l| &l.0).collect::<Vec<_>>(),
                    }),
                    ..Default::default()
                },
            )?;
            Ok(())
        },
    )?;
    if done.is_none() {
        return Ok(false);
    }
    if let Some((_, _, leaders, unit)) = escalated.borrow().as_ref()
        && leaders.is_empty()
    {
        tracing::warn!(job = %job_id, order = %order_id, unit = %unit,
            "supervision order escalated, but the unit has no leader");
    }
    Ok(true)
}
