//! Edits of the project side's duties: coordination meetings and their action items, the
//! connection and outage plans, the customer's design and construction firms, the typical design,
//! temporary supply with a rented transformer, and visits to important customers. Who may write
//! which part is the write policy's business; these plans check that each edit makes sense for
//! the job as it stands (dates in order, required parts present, nothing written twice).

use super::Job;
use super::edit::{EditContext, Write, blank, fields, merged, path};
use super::local_date;
use super::sections::*;
use crate::validate::{Invalid, check_id};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Map;

fn required(field: &str, zh: &str, en: &str) -> Invalid {
    Invalid::new(field, format!("缺少{zh}"), format!("{en} is required"))
}

/// `b` must not be before `a` (both given).
fn in_order<T: PartialOrd + std::fmt::Display>(
    field: &str,
    a: Option<T>,
    b: Option<T>,
    zh: &str,
    en: &str,
) -> Result<(), Invalid> {
    match (a, b) {
        (Some(a), Some(b)) if b < a => Err(Invalid::new(
            field,
            format!("{zh}（{b} 早于 {a}）"),
            format!("{en} ({b} is before {a})"),
        )),
        _ => Ok(()),
    }
}

/// A day a person enters must lie within ten years of the job's acceptance (a typo such as
/// 2206 for 2026 is refused instead of scheduling something two centuries away).
fn plausible(job: &Job, field: &str, day: Option<NaiveDate>) -> Result<(), Invalid> {
    let Some(d) = day else { return Ok(()) };
    let from = job.accepted_on() - chrono::Days::new(366);
    let to = job.accepted_on() + chrono::Days::new(3660);
    if d < from || d > to {
        return Err(Invalid::new(
            field,
            format!("日期 {d} 不在受理日期前后合理范围内（{from} 至 {to}）"),
            format!(
                "{d} is outside the plausible range around the job's acceptance ({from} to {to})"
            ),
        ));
    }
    Ok(())
}

fn plausible_at(job: &Job, field: &str, at: Option<DateTime<Utc>>) -> Result<(), Invalid> {
    plausible(job, field, at.map(local_date))
}

/// A coordination meeting (项目协调推进会). New meetings need their day; the organizer is the
/// person recording it, unless named.
pub(super) fn plan_meeting(
    job: &Job,
    ctx: &EditContext,
    id: &str,
    m: &Meeting,
) -> Result<Vec<Write>, Invalid> {
    check_id("meeting.id", id)?;
    let existing = job.meetings.get(id);
    if existing.is_none() && m.held_on.is_none() {
        return Err(required("meeting.held_on", "会议日期", "the meeting's day"));
    }
    if existing.is_none() && blank(&m.topics) {
        return Err(required(
            "meeting.topics",
            "会议议题",
            "the meeting's topics",
        ));
    }
    plausible(job, "meeting.held_on", m.held_on)?;
    let mut write = m.clone();
    if existing.is_none() && write.organizer.is_none() {
        write.organizer = Some(ctx.actor.clone());
    }
    Ok(vec![Write::Entry {
        path: path(&["meetings"]),
        id: id.to_string(),
        fields: fields("meeting", &write)?,
    }])
}

/// An action item: of a known meeting, with its text, owner and due day; the record of it done
/// is laid out with it, so two devices completing it never both create it.
pub(super) fn plan_action(job: &Job, id: &str, a: &ActionItem) -> Result<Vec<Write>, Invalid> {
    check_id("action.id", id)?;
    let existing = job.actions.get(id);
    if existing.is_some_and(ActionItem::is_done) {
        return Err(Invalid::new(
            "action.done",
            format!("待办事项 {id} 已办结，不能再修改"),
            format!("action item {id} is done and cannot be changed"),
        ));
    }
    let meeting = merged(&a.meeting, existing.map(|e| &e.meeting));
    match meeting.as_deref() {
        Some(m) if job.meetings.contains_key(m) => {}
        Some(m) => {
            return Err(Invalid::new(
                "action.meeting",
                format!("没有编号为 {m} 的协调会"),
                format!("there is no meeting {m}"),
            ));
        }
        None => return Err(required("action.meeting", "所属会议", "the meeting")),
    }
    if blank(&merged(&a.text, existing.map(|e| &e.text))) {
        return Err(required("action.text", "待办内容", "what is to be done"));
    }
    if blank(&merged(&a.owner, existing.map(|e| &e.owner))) {
        return Err(required("action.owner", "责任人", "the owner"));
    }
    let Some(due) = a.due_on.or_else(|| existing.and_then(|e| e.due_on)) else {
        return Err(required("action.due_on", "完成期限", "a due day"));
    };
    plausible(job, "action.due_on", Some(due))?;
    let held = meeting
        .as_deref()
        .and_then(|m| job.meetings.get(m))
        .and_then(|m| m.held_on);
    in_order(
        "action.due_on",
        held,
        Some(due),
        "完成期限早于会议日期",
        "the due day is before the meeting",
    )?;
    let mut writes = vec![Write::Entry {
        path: path(&["actions"]),
        id: id.to_string(),
        fields: fields("action", a)?,
    }];
    if existing.is_none() {
        writes.push(Write::Patch {
            path: path(&["actions", id, "done"]),
            fields: Map::new(),
        });
    }
    Ok(writes)
}

/// The owner records an action item done (the write policy lets only the owner write it).
pub(super) fn plan_complete_action(
    job: &Job,
    ctx: &EditContext,
    id: &str,
    at: DateTime<Utc>,
    note: Option<&str>,
) -> Result<Vec<Write>, Invalid> {
    let Some(item) = job.actions.get(id) else {
        return Err(Invalid::new(
            "action.id",
            format!("没有编号为 {id} 的待办事项"),
            format!("there is no action item {id}"),
        ));
    };
    if item.is_done() {
        return Ok(Vec::new());
    }
    plausible_at(job, "action.done.done_at", Some(at))?;
    let done = ActionDone {
        done_at: Some(at),
        done_by: Some(ctx.actor.clone()),
        note: note.filter(|n| !n.trim().is_empty()).map(str::to_string),
    };
    Ok(vec![Write::Patch {
        path: path(&["actions", id, "done"]),
        fields: fields("action.done", &done)?,
    }])
}

/// The connection plan: a window that ends after it starts, on the planned day.
pub(super) fn plan_power_on_plan(
    job: &Job,
    ctx: &EditContext,
    p: &PowerOnPlan,
) -> Result<Vec<Write>, Invalid> {
    plausible(job, "power_on_plan.planned_on", p.planned_on)?;
    let old = &job.power_on_plan;
    let start = p.window_start_at.or(old.window_start_at);
    let end = p.window_end_at.or(old.window_end_at);
    in_order(
        "power_on_plan.window_end_at",
        start,
        end,
        "接电时段的结束早于开始",
        "the window ends before it starts",
    )?;
    let day = p.planned_on.or(old.planned_on);
    if let (Some(day), Some(s)) = (day, start)
        && local_date(s) != day
    {
        return Err(Invalid::new(
            "power_on_plan.window_start_at",
            format!("接电时段不在计划接电日（{day}）"),
            format!("the window is not on the planned day ({day})"),
        ));
    }
    let mut write = p.clone();
    write.proposed_by = Some(ctx.actor.clone());
    write.proposed_at = Some(ctx.now);
    Ok(vec![Write::Patch {
        path: path(&["power_on_plan"]),
        fields: fields("power_on_plan", &write)?,
    }])
}

/// The outage plan: a window in order; filing it (any state past the draft) needs the lines or
/// transformers affected and the window.
pub(super) fn plan_outage_plan(
    job: &Job,
    ctx: &EditContext,
    p: &OutagePlan,
) -> Result<Vec<Write>, Invalid> {
    use crate::codes::OutageState;
    let old = &job.outage_plan;
    let start = p.starts_at.or(old.starts_at);
    let end = p.ends_at.or(old.ends_at);
    plausible_at(job, "outage_plan.starts_at", start)?;
    in_order(
        "outage_plan.ends_at",
        start,
        end,
        "停电结束时间早于开始时间",
        "the outage ends before it starts",
    )?;
    if p.customers_affected
        .is_some_and(|n| !(0..=1_000_000).contains(&n))
    {
        return Err(Invalid::new(
            "outage_plan.customers_affected",
            "停电影响户数应为 0–1000000",
            "customers affected is 0 to 1,000,000",
        ));
    }
    let state = p.state.or(old.state);
    let mut write = p.clone();
    if state.is_some_and(|s| s != OutageState::Draft) {
        if blank(&p.lines.clone().or(old.lines.clone()))
            && blank(&p.transformers.clone().or(old.transformers.clone()))
        {
            return Err(required(
                "outage_plan.lines",
                "停电线路或台区",
                "the lines or transformers affected",
            ));
        }
        if start.is_none() || end.is_none() {
            return Err(required(
                "outage_plan.starts_at",
                "停电时间段",
                "the outage window",
            ));
        }
        if old.filed_at.is_none() {
            write.filed_at = Some(ctx.now);
            write.filed_by = Some(ctx.actor.clone());
        }
    }
    if matches!(state, Some(OutageState::Approved | OutageState::Rejected))
        && p.state.is_some()
        && p.state != old.state
    {
        write.decided_at = Some(ctx.now);
    }
    Ok(vec![Write::Patch {
        path: path(&["outage_plan"]),
        fields: fields("outage_plan", &write)?,
    }])
}

/// The customer's firms and the works' dates, in order; the person checking them is recorded.
pub(super) fn plan_customer_works(
    job: &Job,
    ctx: &EditContext,
    w: &CustomerWorks,
) -> Result<Vec<Write>, Invalid> {
    let old = &job.customer_works;
    plausible(job, "customer_works.works_start_on", w.works_start_on)?;
    in_order(
        "customer_works.works_finish_on",
        w.works_start_on.or(old.works_start_on),
        w.works_finish_on.or(old.works_finish_on),
        "竣工日期早于开工日期",
        "the works finish before they start",
    )?;
    for (field, id) in [
        ("customer_works.designer_firm", &w.designer_firm),
        ("customer_works.builder_firm", &w.builder_firm),
    ] {
        if let Some(id) = id {
            check_id(field, id)?;
        }
    }
    let mut write = w.clone();
    write.checked_by = Some(ctx.actor.clone());
    write.checked_at = Some(ctx.now);
    Ok(vec![Write::Patch {
        path: path(&["customer_works"]),
        fields: fields("customer_works", &write)?,
    }])
}

/// The typical design picked: an id and a cost range that is in order.
pub(super) fn plan_typical_design(
    ctx: &EditContext,
    d: &TypicalDesign,
) -> Result<Vec<Write>, Invalid> {
    if blank(&d.design_id) {
        return Err(required(
            "typical_design.design_id",
            "典型设计编号",
            "the typical design's id",
        ));
    }
    for (field, v) in [
        ("typical_design.cost_low_yuan", d.cost_low_yuan),
        ("typical_design.cost_high_yuan", d.cost_high_yuan),
    ] {
        if v.is_some_and(|v| !(0.0..=1e10).contains(&v)) {
            return Err(Invalid::new(
                field,
                "造价应在 0 至 100 亿元之间",
                "a cost is between 0 and 10 billion yuan",
            ));
        }
    }
    in_order(
        "typical_design.cost_high_yuan",
        d.cost_low_yuan,
        d.cost_high_yuan,
        "造价上限低于下限",
        "the cost's upper bound is below its lower bound",
    )?;
    let mut write = d.clone();
    write.picked_by = Some(ctx.actor.clone());
    write.picked_at = Some(ctx.now);
    Ok(vec![Write::Patch {
        path: path(&["typical_design"]),
        fields: fields("typical_design", &write)?,
    }])
}

/// Temporary supply: the rental inside the period, a positive size; removal recorded by whom.
pub(super) fn plan_temporary_supply(
    job: &Job,
    ctx: &EditContext,
    t: &TemporarySupply,
) -> Result<Vec<Write>, Invalid> {
    let old = &job.temporary_supply;
    plausible(job, "temporary_supply.ends_on", t.ends_on)?;
    plausible(job, "temporary_supply.rented_to_on", t.rented_to_on)?;
    in_order(
        "temporary_supply.rented_to_on",
        t.rented_from_on.or(old.rented_from_on),
        t.rented_to_on.or(old.rented_to_on),
        "租赁结束日期早于开始日期",
        "the rental ends before it starts",
    )?;
    if t.transformer_kva
        .is_some_and(|k| !(k > 0.0 && k <= 100_000.0))
    {
        return Err(Invalid::new(
            "temporary_supply.transformer_kva",
            "变压器容量应在 0 至 100000 千伏安之间",
            "the transformer's size is above 0 and at most 100,000 kVA",
        ));
    }
    let mut write = t.clone();
    write.removed_by = None;
    if t.removed_at.is_some() && old.removed_at.is_none() {
        plausible_at(job, "temporary_supply.removed_at", t.removed_at)?;
        write.removed_by = Some(ctx.actor.clone());
    }
    Ok(vec![Write::Patch {
        path: path(&["temporary_supply"]),
        fields: fields("temporary_supply", &write)?,
    }])
}

/// The visit plan of an important customer: every 1 to 366 days.
pub(super) fn plan_visit_plan(job: &Job, p: &VisitPlan) -> Result<Vec<Write>, Invalid> {
    if p.every_days.is_some_and(|d| !(1..=366).contains(&d)) {
        return Err(Invalid::new(
            "visit_plan.every_days",
            "走访周期应为 1–366 天",
            "visits are every 1 to 366 days",
        ));
    }
    plausible(job, "visit_plan.starts_on", p.starts_on)?;
    Ok(vec![Write::Patch {
        path: path(&["visit_plan"]),
        fields: fields("visit_plan", p)?,
    }])
}

/// A visit made: its day and findings, recorded by its author, written once.
pub(super) fn plan_key_visit(
    job: &Job,
    ctx: &EditContext,
    id: &str,
    v: &KeyVisit,
) -> Result<Vec<Write>, Invalid> {
    check_id("key_visit.id", id)?;
    if job.key_visits.contains_key(id) {
        return Ok(Vec::new());
    }
    let Some(day) = v.visited_on else {
        return Err(required(
            "key_visit.visited_on",
            "走访日期",
            "the visit's day",
        ));
    };
    plausible(job, "key_visit.visited_on", Some(day))?;
    if day > local_date(ctx.now) {
        return Err(Invalid::new(
            "key_visit.visited_on",
            format!("走访日期 {day} 晚于今天"),
            format!("the visit's day {day} is in the future"),
        ));
    }
    let mut write = v.clone();
    write.recorded_by = Some(ctx.actor.clone());
    Ok(vec![Write::Entry {
        path: path(&["key_visits"]),
        id: id.to_string(),
        fields: fields("key_visit", &write)?,
    }])
}
