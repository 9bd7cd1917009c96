//! The customer's word through their tracking link, without an account: confirming the supply
//! plan their customer manager replied (方案答复优先采取线上推送, seed 002) or asking about it,
//! and rating the service and the manager once after power-on (客户评价, seeds 000 and 004). The
//! server writes it into the job on the customer's behalf (the `customer_voice` section, which
//! the write policy gives to no phone role), so it reaches the manager's phone by sync, and the
//! audit names the customer. A low rating opens the same follow-up as a low return visit.

use super::jobs::{self, Before, Origin};
use super::{Env, public};
use crate::error::ServerError;
use chrono::{DateTime, Utc};
use field_core::job::{CustomerVoice, Milestone};
use field_core::policy::Checked;
use field_core::{Edit, EditContext, Job, MilestoneEvent};

/// Longest question or comment, characters.
pub const TEXT_MAX: usize = 1000;

fn clean(text: &str, zh: &str, en: &str) -> Result<String, ServerError> {
    let text = text.trim();
    if text.chars().count() > TEXT_MAX
        || text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ServerError::bad(
            "invalid_value",
            format!("{zh}最多 {TEXT_MAX} 字，且不能含控制字符"),
            format!("{en} is at most {TEXT_MAX} characters, without control characters"),
        ));
    }
    Ok(text.to_string())
}

/// When the supply plan the customer is asked about was replied.
fn replied(job: &Job) -> Result<DateTime<Utc>, ServerError> {
    job.supply_plan
        .replied_at
        .or_else(|| job.first(MilestoneEvent::SupplyPlanReplied))
        .ok_or_else(|| {
            ServerError::conflict(
                "no_plan",
                "供电方案尚未答复",
                "the supply plan has not been replied yet",
            )
        })
}

/// Whether the customer confirmed the plan as it was last replied.
pub fn plan_confirmed(job: &Job) -> bool {
    let v = &job.customer_voice;
    v.plan_confirmed_at.is_some() && v.plan_replied_at == replied(job).ok()
}

/// Writes what `plan` decides for the job a tracking `token` opens, as the customer's.
fn write(
    env: &Env,
    token: &str,
    plan: impl Fn(&Job, DateTime<Utc>) -> Result<Vec<Edit>, ServerError>,
) -> Result<(), ServerError> {
    let id = public::token_id(env, token)?.to_string();
    jobs::write(
        env,
        &id,
        |tx| {
            let Some(state) = tx.job_state(&id)? else {
                return Err(ServerError::NotFound);
            };
            let mut doc = jobs::load(tx, env, &id, &state)?;
            let before = doc.heads();
            let job = doc
                .read()
                .map_err(|e| ServerError::Internal(e.to_string()))?;
            let now = Utc::now();
            let ctx = EditContext {
                actor: jobs::CUSTOMER.into(),
                device: jobs::SERVER_ORIGIN.into(),
                now,
            };
            jobs::apply_edits(&mut doc, &plan(&job, now)?, &ctx)?;
            Ok(Some(jobs::plan(
                tx,
                env,
                Origin::Customer,
                &id,
                doc,
                Before::at(&before, &job, &state),
                &Checked::default(),
            )?))
        },
        |_, _| Ok(()),
    )?
    .ok_or(ServerError::NotFound)
}

/// The customer confirms the supply plan as last replied (and the agreed power-on date in it).
pub fn confirm_plan(env: &Env, token: &str) -> Result<(), ServerError> {
    public::token_id(env, token)?;
    write(env, token, |job, now| {
        let at = replied(job)?;
        if plan_confirmed(job) {
            return Err(ServerError::conflict(
                "already_confirmed",
                "您已确认该供电方案",
                "you have confirmed this supply plan already",
            ));
        }
        Ok(vec![
            Edit::UpdateCustomerVoice(CustomerVoice {
                plan_replied_at: Some(at),
                plan_confirmed_at: Some(now),
                ..Default::default()
            }),
            Edit::AddMilestone {
                id: format!("plan-confirmed-{}", at.timestamp_millis()),
                milestone: Milestone {
                    event: Some(MilestoneEvent::PlanConfirmed),
                    at: Some(now),
                    ..Default::default()
                },
            },
        ])
    })
}

/// The customer asks about the supply plan instead of confirming it.
pub fn ask(env: &Env, token: &str, question: &str) -> Result<(), ServerError> {
    // A link that opens nothing says so before anything is checked.
    public::token_id(env, token)?;
    let question = clean(question, "问题", "a question")?;
    if question.is_empty() {
        return Err(ServerError::bad(
            "invalid_value",
            "请写下您的问题",
            "write your question",
        ));
    }
    write(env, token, |job, now| {
        let at = replied(job)?;
        Ok(vec![Edit::UpdateCustomerVoice(CustomerVoice {
            plan_replied_at: Some(at),
            plan_question: Some(question.clone()),
            plan_question_at: Some(now),
            ..Default::default()
        })])
    })
}

/// The customer rates the service and their manager, once, after power-on.
pub fn rate(env: &Env, token: &str, score: i64, comment: &str) -> Result<(), ServerError> {
    public::token_id(env, token)?;
    if !(1..=5).contains(&score) {
        return Err(ServerError::bad(
            "invalid_value",
            "请选择 1–5 分",
            "choose 1 to 5",
        ));
    }
    let comment = clean(comment, "评价", "a comment")?;
    write(env, token, |job, now| {
        if job.powered_on_at().is_none() {
            return Err(ServerError::conflict(
                "not_powered_on",
                "送电后才能评价",
                "you can rate the service once you are powered on",
            ));
        }
        if job.customer_voice.rated_at.is_some() {
            return Err(ServerError::conflict(
                "already_rated",
                "您已评价过本次服务",
                "you have rated this service already",
            ));
        }
        Ok(vec![Edit::UpdateCustomerVoice(CustomerVoice {
            rating: Some(score),
            rating_comment: Some(comment.clone()).filter(|c| !c.is_empty()),
            rated_at: Some(now),
            ..Default::default()
        })])
    })
}
