//! Edits of supervision orders (督办): issued and closed by a dispatcher, answered by the
//! addressed manager, escalated by the server. Who may write which part is the write policy's
//! business (`supervision`, `supervision_answers`, `supervision_escalations`); these plans check
//! that each edit makes sense for the order as it stands.

use super::Job;
use super::edit::{EditContext, Write, blank, fields, merged, not_before_acceptance, path};
use super::local_date;
use super::sections::{SupervisionAnswer, SupervisionEscalation, SupervisionOrder};
use crate::validate::{Invalid, check_id};
use chrono::{DateTime, Utc};
use serde_json::Map;

fn order<'a>(job: &'a Job, id: &str) -> Result<&'a SupervisionOrder, Invalid> {
    job.supervision.get(id).ok_or_else(|| {
        Invalid::new(
            "supervision.id",
            format!("没有编号为 {id} 的督办单"),
            format!("there is no supervision order {id}"),
        )
    })
}

fn closed(id: &str) -> Invalid {
    Invalid::new(
        "supervision.closed_at",
        format!("督办单 {id} 已办结，不能再修改"),
        format!("supervision order {id} is closed and cannot be changed"),
    )
}

fn required(field: &str, zh: &str, en: &str) -> Invalid {
    Invalid::new(
        field,
        format!("督办单缺少{zh}"),
        format!("a supervision order needs {en}"),
    )
}

pub(super) fn plan_issue(
    job: &Job,
    ctx: &EditContext,
    id: &str,
    o: &SupervisionOrder,
) -> Result<Vec<Write>, Invalid> {
    check_id("supervision.id", id)?;
    let existing = job.supervision.get(id);
    if existing.is_some_and(|e| !e.is_open()) {
        return Err(closed(id));
    }
    if blank(&merged(&o.reason, existing.map(|e| &e.reason))) {
        return Err(required("supervision.reason", "督办事由", "a reason"));
    }
    if blank(&merged(&o.manager, existing.map(|e| &e.manager))) {
        return Err(required(
            "supervision.manager",
            "被督办人",
            "the manager it is addressed to",
        ));
    }
    let Some(due) = o.due_on.or_else(|| existing.and_then(|e| e.due_on)) else {
        return Err(required("supervision.due_on", "办结期限", "a deadline"));
    };
    let issued = existing.and_then(|e| e.issued_at).unwrap_or(ctx.now);
    if due < local_date(issued) {
        return Err(Invalid::new(
            "supervision.due_on",
            format!("办结期限 {due} 早于督办日期 {}", local_date(issued)),
            format!(
                "the deadline {due} is before the order was issued ({})",
                local_date(issued)
            ),
        ));
    }
    // Who issued it and when, and its closing, are not the issuer's to choose.
    let mut write = SupervisionOrder {
        closed_at: None,
        closed_by: None,
        issued_at: None,
        issued_by: None,
        ..o.clone()
    };
    let mut writes = Vec::new();
    if existing.is_none() {
        write.issued_at = Some(ctx.now);
        write.issued_by = Some(ctx.actor.clone());
    }
    writes.push(Write::Entry {
        path: path(&["supervision"]),
        id: id.to_string(),
        fields: fields("supervision", &write)?,
    });
    if existing.is_none() {
        // Laid out with the order, so two devices answering never both create it.
        writes.push(Write::Patch {
            path: path(&["supervision", id, "answer"]),
            fields: Map::new(),
        });
    }
    Ok(writes)
}

pub(super) fn plan_answer(
    job: &Job,
    ctx: &EditContext,
    id: &str,
    text: &str,
    at: DateTime<Utc>,
) -> Result<Vec<Write>, Invalid> {
    let o = order(job, id)?;
    if !o.is_open() {
        return Err(closed(id));
    }
    if text.trim().is_empty() {
        return Err(Invalid::new(
            "supervision.answer.text",
            "答复内容不能为空",
            "the answer cannot be empty",
        ));
    }
    not_before_acceptance(job, "supervision.answer.answered_at", Some(at))?;
    let answer = SupervisionAnswer {
        text: Some(text.to_string()),
        answered_by: Some(ctx.actor.clone()),
        answered_at: Some(at),
    };
    Ok(vec![Write::Patch {
        path: path(&["supervision", id, "answer"]),
        fields: fields("supervision.answer", &answer)?,
    }])
}

pub(super) fn plan_close(
    job: &Job,
    ctx: &EditContext,
    id: &str,
    remarks: Option<&str>,
) -> Result<Vec<Write>, Invalid> {
    if !order(job, id)?.is_open() {
        return Ok(Vec::new());
    }
    let close = SupervisionOrder {
        closed_at: Some(ctx.now),
        closed_by: Some(ctx.actor.clone()),
        remarks: remarks.filter(|r| !r.trim().is_empty()).map(str::to_string),
        ..Default::default()
    };
    Ok(vec![Write::Patch {
        path: path(&["supervision", id]),
        fields: fields("supervision", &close)?,
    }])
}

pub(super) fn plan_escalation(
    job: &Job,
    id: &str,
    e: &SupervisionEscalation,
) -> Result<Vec<Write>, Invalid> {
    let o = order(job, id)?;
    if o.escalation.escalated_at.is_some() || !o.is_open() {
        return Ok(Vec::new());
    }
    Ok(vec![Write::Patch {
        path: path(&["supervision", id, "escalation"]),
        fields: fields("supervision.escalation", e)?,
    }])
}
