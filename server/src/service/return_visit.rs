//! Return visits (回访): after power-on a visit falls due (the rule set's
//! `return_visit_after_days`); the dispatcher records the channel, a satisfaction of 1–5 and a
//! comment, which closes the job (milestone `return_visit_done`); a score at or below
//! `low_satisfaction_max` opens a follow-up, closed when its outcome is recorded. Both are
//! written into the job document on the dispatcher's behalf, like a review, so they reach the
//! phones by sync and are in the audit trail.

use super::{Env, on_behalf};
use crate::authz::Principal;
use crate::error::ServerError;
use field_core::job::schema::Section;
use field_core::job::{Milestone, ReturnVisit};
use field_core::policy::Right;
use field_core::{Edit, Job, MilestoneEvent};
use serde::{Deserialize, Serialize};

/// Contact channels: `(code, zh, en)` (the labels live with the other codes' in `i18n`).
pub use crate::i18n::VISIT_CHANNELS as CHANNELS;
pub const COMMENT_MAX: usize = 500;
/// The milestone id of the visit (one per job).
pub const VISIT_MILESTONE: &str = "return-visit";

/// A visit as recorded.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VisitInput {
    /// `phone`, `on_site`, `sms` or `wechat`.
    pub channel: String,
    /// 1 (very unhappy) … 5 (very happy).
    pub satisfaction: i64,
    #[serde(default)]
    pub comment: String,
}

/// Whether `who` may record return visits (the write policy's `return_visit` right).
pub fn may_visit(env: &Env, who: &Principal) -> bool {
    env.policy(&who.unit).right(Section::ReturnVisit, who.role) == Some(Right::Write)
}

fn clean(text: &str, what_zh: &str, what_en: &str) -> Result<String, ServerError> {
    let t = text.trim();
    if t.chars().count() > COMMENT_MAX || t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ServerError::bad(
            "invalid_value",
            format!("{what_zh}最多 {COMMENT_MAX} 字，不能含控制字符"),
            format!("{what_en} is at most {COMMENT_MAX} characters, without control characters"),
        ));
    }
    Ok(t.to_string())
}

/// Records the return visit of a powered-on job.
pub fn record_visit(
    env: &Env,
    who: &Principal,
    job_id: &str,
    input: &VisitInput,
) -> Result<(), ServerError> {
    if !CHANNELS.iter().any(|(c, _, _)| *c == input.channel) {
        return Err(ServerError::bad(
            "invalid_value",
            "请选择回访方式（电话、上门、短信或微信）",
            "choose how the customer was reached (phone, on site, SMS or WeChat)",
        ));
    }
    if !(1..=5).contains(&input.satisfaction) {
        return Err(ServerError::bad(
            "invalid_value",
            "满意度须为 1 到 5 分",
            "satisfaction is 1 to 5",
        ));
    }
    let comment = clean(&input.comment, "回访意见", "the comment")?;
    change(env, who, job_id, |job, now| {
        if super::derived::powered_on(job).is_none() {
            return Err(ServerError::bad(
                "not_powered_on",
                "尚未送电，不能回访",
                "the job is not powered on yet",
            ));
        }
        if job.return_visit.visited_at.is_some() {
            return Err(ServerError::bad(
                "already_visited",
                "已经回访过",
                "the return visit is already recorded",
            ));
        }
        Ok(vec![
            Edit::UpdateReturnVisit(ReturnVisit {
                visited_at: Some(now),
                visitor: Some(who.username.clone()),
                channel: Some(input.channel.clone()),
                satisfaction: Some(input.satisfaction),
                comment: Some(comment.clone()),
                ..Default::default()
            }),
            Edit::AddMilestone {
                id: VISIT_MILESTONE.into(),
                milestone: Milestone {
                    event: Some(MilestoneEvent::ReturnVisitDone),
                    at: Some(now),
                    ..Default::default()
                },
            },
        ])
    })
}

/// Records what was done about a low-scored visit, closing its follow-up.
pub fn record_follow_up(
    env: &Env,
    who: &Principal,
    job_id: &str,
    text: &str,
) -> Result<(), ServerError> {
    let text = clean(text, "跟进情况", "the follow-up")?;
    if text.is_empty() {
        return Err(ServerError::bad(
            "invalid_value",
            "请写明跟进情况",
            "say what was done",
        ));
    }
    change(env, who, job_id, |job, now| {
        if super::derived::visit_state(env, job) != Some("follow_up") {
            return Err(ServerError::bad(
                "no_follow_up",
                "此工单没有待跟进的低分回访",
                "this job has no low-scored visit to follow up",
            ));
        }
        Ok(vec![Edit::UpdateReturnVisit(ReturnVisit {
            follow_up: Some(text.clone()),
            follow_up_by: Some(who.username.clone()),
            follow_up_at: Some(now),
            ..Default::default()
        })])
    })
}

/// Applies the edits `plan` gives for the job as it stands, as one recorded change on `who`'s
/// behalf.
fn change(
    env: &Env,
    who: &Principal,
    job_id: &str,
    plan: impl Fn(&Job, chrono::DateTime<chrono::Utc>) -> Result<Vec<Edit>, ServerError>,
) -> Result<(), ServerError> {
    on_behalf::write(
        env,
        who,
        job_id,
        || {
            if may_visit(env, who) {
                Ok(())
            } else {
                Err(ServerError::forbidden(
                    format!("{}无权记录回访", who.role.zh()),
                    format!("a {} may not record return visits", who.role.en()),
                ))
            }
        },
        plan,
        |_, _| Ok(()),
    )
}
