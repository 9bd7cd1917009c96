//! Typed edit operations on a job document. Each edit is validated against the current job, then
//! written field by field (see `mapping::put_patch`), so edits of different fields merge cleanly
//! and re-applying an edit is a no-op.

use super::sections::*;
use super::works_edits as works;
use super::{Job, local_date};
use crate::codes::{InspectionKind, MilestoneEvent, SpecialLoad};
use crate::validate::{Invalid, check_id, check_notes_len, check_patch};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// Who makes an edit, on which device, and when (device clock).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditContext {
    pub actor: String,
    pub device: String,
    pub now: DateTime<Utc>,
}

/// Which findings list a finding belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingTarget {
    Inspection(InspectionKind),
    Review,
}

/// Every change a person can make to a job. Sections are patches: `None` fields are left as they
/// are. Entries in collections are keyed by a client-chosen id (a UUID), so a retried edit
/// updates the same entry instead of adding a duplicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Edit {
    UpdateCustomer(Customer),
    UpdateAgent(Agent),
    UpdateApplication(Application),
    SetSpecialLoad {
        load: SpecialLoad,
        present: bool,
    },
    UpdateAssignment(Assignment),
    UpdateSurvey(Survey),
    UpdateSupplyPlan(SupplyPlan),
    UpdateProject(Project),
    UpdateProjectDesign(ProjectDesign),
    UpdateProjectAcceptance(ProjectAcceptance),
    UpdateProjectSettlement(ProjectSettlement),
    PutMaterial {
        id: String,
        item: Material,
    },
    PutPermit {
        id: String,
        permit: Permit,
    },
    PutConstructionLog {
        id: String,
        log: ConstructionLog,
    },
    UpdateInspection {
        kind: InspectionKind,
        inspection: Inspection,
    },
    PutFinding {
        target: FindingTarget,
        id: String,
        finding: Finding,
    },
    UpdateMetering(Metering),
    PutSeal {
        id: String,
        seal: Seal,
    },
    UpdateReturnVisit(ReturnVisit),
    /// The customer's word through their tracking link (written by the server only).
    UpdateCustomerVoice(CustomerVoice),
    UpdateReview(Review),
    /// Records which document was collected for a checklist group.
    CheckDocument {
        group: String,
        item: ChecklistItem,
    },
    AddMilestone {
        id: String,
        milestone: Milestone,
    },
    /// The job starts waiting on the customer: time-limit clocks pause.
    StartWaiting {
        id: String,
        reason: String,
        at: DateTime<Utc>,
    },
    /// The customer is back: every open pause ends.
    EndWaiting {
        at: DateTime<Utc>,
    },
    /// Records a photo (see `field_core::photo`). A document-proof photo with a checklist group
    /// is also linked from that group. Photos are evidence: recording the same id again with
    /// other content is rejected.
    AddPhoto {
        id: String,
        photo: Photo,
    },
    /// Records a signed supply contract (see `field_core::contract::sign`) and the
    /// `contract_signed` milestone. A signed contract is immutable: recording the same id with
    /// other content is rejected; a change is a new contract that `amends` the old one.
    SignContract {
        id: String,
        contract: Contract,
    },
    /// The server's countersignature of a contract it received (written by the server).
    RecordReceipt {
        contract_id: String,
        receipt: ContractReceipt,
    },
    /// Power-on (送电): sets `metering.powered_on_at` and adds the `powered_on` milestone. Needs a
    /// signed contract and the meter's asset number and initial reading.
    RecordPowerOn {
        id: String,
        at: DateTime<Utc>,
    },
    /// Replaces `delete` characters at `pos` of the notes with `insert` (Unicode code points).
    SpliceNotes {
        pos: usize,
        delete: usize,
        insert: String,
    },
    /// Sets the notes to `text`, written as the smallest diff from the current text.
    SetNotes {
        text: String,
    },
    /// The customer manager submits the job for office review again after fixing what it was
    /// returned for (提交审核): the review state goes back to `pending`, and a milestone records it.
    SubmitForReview {
        id: String,
        at: DateTime<Utc>,
    },
    /// A dispatcher issues a supervision order (督办) to the job's responsible manager, or changes
    /// one still open (reason, deadline). Issuing lays out the order's answer.
    IssueSupervision {
        id: String,
        order: SupervisionOrder,
    },
    /// The addressed manager answers a supervision order (on their phone).
    AnswerSupervision {
        id: String,
        text: String,
        at: DateTime<Utc>,
    },
    /// The dispatcher closes a supervision order, with optional remarks.
    CloseSupervision {
        id: String,
        remarks: Option<String>,
    },
    /// The token of the customer's progress page (written by the server, once).
    RecordProgressToken {
        token: String,
    },
    /// The server escalates an unanswered, overdue order to the unit's leaders (written by the
    /// server).
    RecordEscalation {
        id: String,
        escalation: SupervisionEscalation,
    },
    /// The project manager records a coordination meeting (项目协调推进会), or changes one.
    PutMeeting {
        id: String,
        meeting: Meeting,
    },
    /// The project manager records an action item of a meeting, with its owner and due day.
    PutAction {
        id: String,
        action: ActionItem,
    },
    /// The action item's owner records it done.
    CompleteAction {
        id: String,
        at: DateTime<Utc>,
        note: Option<String>,
    },
    /// The customer manager's connection plan (接电计划): the day and window for power-on.
    UpdatePowerOnPlan(PowerOnPlan),
    /// The project manager's outage plan (停电计划) and its approval.
    UpdateOutagePlan(OutagePlan),
    /// The customer's design and construction firms and the works' dates.
    UpdateCustomerWorks(CustomerWorks),
    /// The typical design picked from the catalogue, with its cost range.
    PickTypicalDesign(TypicalDesign),
    /// Temporary supply (临时用电) and the rented transformer, its removal included.
    UpdateTemporarySupply(TemporarySupply),
    /// The visit plan of an important customer (“1+1+1”).
    UpdateVisitPlan(VisitPlan),
    /// A visit made to an important customer (written once).
    AddKeyVisit {
        id: String,
        visit: KeyVisit,
    },
}

/// A validated, low-level write.
pub(super) enum Write {
    Patch {
        path: Vec<String>,
        fields: Map<String, Json>,
    },
    Entry {
        path: Vec<String>,
        id: String,
        fields: Map<String, Json>,
    },
    EndPauses {
        fields: Map<String, Json>,
    },
    Splice {
        pos: usize,
        delete: usize,
        insert: String,
    },
    SetText {
        text: String,
    },
}

pub(super) fn fields<T: Serialize>(section: &str, value: &T) -> Result<Map<String, Json>, Invalid> {
    let map = match serde_json::to_value(value) {
        Ok(Json::Object(m)) => m,
        _ => {
            return Err(Invalid::new(
                section,
                "内容无法编码",
                "the value cannot be encoded",
            ));
        }
    };
    check_patch(section, &map)?;
    Ok(map)
}

/// Whether an optional text is missing or only spaces.
pub(super) fn blank(v: &Option<String>) -> bool {
    v.as_deref().is_none_or(|s| s.trim().is_empty())
}

/// A field as it will stand after a patch: the new value, else the stored one.
pub(super) fn merged(new: &Option<String>, old: Option<&Option<String>>) -> Option<String> {
    new.clone().or_else(|| old.cloned().flatten())
}

pub(super) fn path(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

pub(super) fn not_before_acceptance(
    job: &Job,
    field: &str,
    at: Option<DateTime<Utc>>,
) -> Result<(), Invalid> {
    if let Some(t) = at {
        let day = local_date(t);
        if day < job.accepted_on() {
            return Err(Invalid::new(
                field,
                format!("日期 {day} 早于受理日期 {}", job.accepted_on()),
                format!(
                    "{day} is before the application was accepted ({})",
                    job.accepted_on()
                ),
            ));
        }
    }
    Ok(())
}

fn date_not_before_acceptance(
    job: &Job,
    field: &str,
    day: Option<NaiveDate>,
) -> Result<(), Invalid> {
    match day {
        Some(d) if d < job.accepted_on() => Err(Invalid::new(
            field,
            format!("日期 {d} 早于受理日期 {}", job.accepted_on()),
            format!(
                "{d} is before the application was accepted ({})",
                job.accepted_on()
            ),
        )),
        _ => Ok(()),
    }
}

fn inspection_key(kind: InspectionKind) -> &'static str {
    kind.as_str()
}

impl Edit {
    /// A short name for logs and commit messages.
    pub fn name(&self) -> &'static str {
        match self {
            Edit::UpdateCustomer(_) => "update_customer",
            Edit::UpdateAgent(_) => "update_agent",
            Edit::UpdateApplication(_) => "update_application",
            Edit::SetSpecialLoad { .. } => "set_special_load",
            Edit::UpdateAssignment(_) => "update_assignment",
            Edit::UpdateSurvey(_) => "update_survey",
            Edit::UpdateSupplyPlan(_) => "update_supply_plan",
            Edit::UpdateProject(_) => "update_project",
            Edit::UpdateProjectDesign(_) => "update_project_design",
            Edit::UpdateProjectAcceptance(_) => "update_project_acceptance",
            Edit::UpdateProjectSettlement(_) => "update_project_settlement",
            Edit::PutMaterial { .. } => "put_material",
            Edit::PutPermit { .. } => "put_permit",
            Edit::PutConstructionLog { .. } => "put_construction_log",
            Edit::UpdateInspection { .. } => "update_inspection",
            Edit::PutFinding { .. } => "put_finding",
            Edit::UpdateMetering(_) => "update_metering",
            Edit::PutSeal { .. } => "put_seal",
            Edit::UpdateReturnVisit(_) => "update_return_visit",
            Edit::UpdateCustomerVoice(_) => "update_customer_voice",
            Edit::UpdateReview(_) => "update_review",
            Edit::CheckDocument { .. } => "check_document",
            Edit::AddMilestone { .. } => "add_milestone",
            Edit::StartWaiting { .. } => "start_waiting",
            Edit::EndWaiting { .. } => "end_waiting",
            Edit::AddPhoto { .. } => "add_photo",
            Edit::SignContract { .. } => "sign_contract",
            Edit::RecordReceipt { .. } => "record_receipt",
            Edit::RecordPowerOn { .. } => "record_power_on",
            Edit::SpliceNotes { .. } => "splice_notes",
            Edit::SetNotes { .. } => "set_notes",
            Edit::SubmitForReview { .. } => "submit_for_review",
            Edit::IssueSupervision { .. } => "issue_supervision",
            Edit::AnswerSupervision { .. } => "answer_supervision",
            Edit::CloseSupervision { .. } => "close_supervision",
            Edit::RecordEscalation { .. } => "record_escalation",
            Edit::RecordProgressToken { .. } => "record_progress_token",
            Edit::PutMeeting { .. } => "put_meeting",
            Edit::PutAction { .. } => "put_action",
            Edit::CompleteAction { .. } => "complete_action",
            Edit::UpdatePowerOnPlan(_) => "update_power_on_plan",
            Edit::UpdateOutagePlan(_) => "update_outage_plan",
            Edit::UpdateCustomerWorks(_) => "update_customer_works",
            Edit::PickTypicalDesign(_) => "pick_typical_design",
            Edit::UpdateTemporarySupply(_) => "update_temporary_supply",
            Edit::UpdateVisitPlan(_) => "update_visit_plan",
            Edit::AddKeyVisit { .. } => "add_key_visit",
        }
    }

    /// Validates the edit against the job as it stands and turns it into writes.
    pub(super) fn plan(&self, job: &Job, ctx: &EditContext) -> Result<Vec<Write>, Invalid> {
        let patch = |p: &[&str], f: Map<String, Json>| Write::Patch {
            path: path(p),
            fields: f,
        };
        let entry = |p: &[&str], id: &str, f: Map<String, Json>| -> Result<Write, Invalid> {
            check_id("id", id)?;
            Ok(Write::Entry {
                path: path(p),
                id: id.to_string(),
                fields: f,
            })
        };
        match self {
            Edit::AddPhoto { id, photo } => return plan_photo(job, ctx, id, photo),
            Edit::SignContract { id, contract } => {
                return super::contract_edits::plan_sign(job, ctx, id, contract);
            }
            Edit::RecordReceipt {
                contract_id,
                receipt,
            } => return super::contract_edits::plan_receipt(job, contract_id, receipt),
            Edit::RecordPowerOn { id, at } => {
                return super::contract_edits::plan_power_on(job, ctx, id, *at);
            }
            Edit::SubmitForReview { id, at } => return plan_submit(job, ctx, id, *at),
            Edit::UpdateAssignment(a) => return plan_assignment(job, ctx, a),
            Edit::IssueSupervision { id, order } => {
                return super::supervision_edits::plan_issue(job, ctx, id, order);
            }
            Edit::AnswerSupervision { id, text, at } => {
                return super::supervision_edits::plan_answer(job, ctx, id, text, *at);
            }
            Edit::CloseSupervision { id, remarks } => {
                return super::supervision_edits::plan_close(job, ctx, id, remarks.as_deref());
            }
            Edit::RecordEscalation { id, escalation } => {
                return super::supervision_edits::plan_escalation(job, id, escalation);
            }
            Edit::PutMeeting { id, meeting } => return works::plan_meeting(job, ctx, id, meeting),
            Edit::PutAction { id, action } => return works::plan_action(job, id, action),
            Edit::CompleteAction { id, at, note } => {
                return works::plan_complete_action(job, ctx, id, *at, note.as_deref());
            }
            Edit::UpdatePowerOnPlan(p) => return works::plan_power_on_plan(job, ctx, p),
            Edit::UpdateOutagePlan(p) => return works::plan_outage_plan(job, ctx, p),
            Edit::UpdateCustomerWorks(w) => return works::plan_customer_works(job, ctx, w),
            Edit::PickTypicalDesign(d) => return works::plan_typical_design(ctx, d),
            Edit::UpdateTemporarySupply(t) => return works::plan_temporary_supply(job, ctx, t),
            Edit::UpdateVisitPlan(p) => return works::plan_visit_plan(job, p),
            Edit::AddKeyVisit { id, visit } => return works::plan_key_visit(job, ctx, id, visit),
            _ => {}
        }
        Ok(vec![match self {
            Edit::AddPhoto { .. }
            | Edit::SignContract { .. }
            | Edit::RecordReceipt { .. }
            | Edit::RecordPowerOn { .. }
            | Edit::SubmitForReview { .. }
            | Edit::UpdateAssignment(_)
            | Edit::IssueSupervision { .. }
            | Edit::AnswerSupervision { .. }
            | Edit::CloseSupervision { .. }
            | Edit::RecordEscalation { .. }
            | Edit::PutMeeting { .. }
            | Edit::PutAction { .. }
            | Edit::CompleteAction { .. }
            | Edit::UpdatePowerOnPlan(_)
            | Edit::UpdateOutagePlan(_)
            | Edit::UpdateCustomerWorks(_)
            | Edit::PickTypicalDesign(_)
            | Edit::UpdateTemporarySupply(_)
            | Edit::UpdateVisitPlan(_)
            | Edit::AddKeyVisit { .. } => unreachable!("planned above"),
            Edit::UpdateCustomer(c) => patch(&["customer"], fields("customer", c)?),
            Edit::UpdateAgent(a) => patch(&["agent"], fields("agent", a)?),
            Edit::UpdateApplication(a) => {
                date_not_before_acceptance(job, "application.wanted_on", a.wanted_on)?;
                patch(&["application"], fields("application", a)?)
            }
            Edit::SetSpecialLoad { load, present } => {
                let mut f = Map::new();
                f.insert(load.as_str().to_string(), Json::Bool(*present));
                patch(&["application", "special_loads"], f)
            }
            Edit::UpdateSurvey(s) => {
                not_before_acceptance(job, "survey.surveyed_at", s.surveyed_at)?;
                patch(&["survey"], fields("survey", s)?)
            }
            Edit::UpdateSupplyPlan(s) => {
                not_before_acceptance(job, "supply_plan.replied_at", s.replied_at)?;
                date_not_before_acceptance(job, "supply_plan.valid_until_on", s.valid_until_on)?;
                patch(&["supply_plan"], fields("supply_plan", s)?)
            }
            Edit::UpdateProject(p) => {
                if let (Some(a), Some(b)) = (p.planned_start_on, p.planned_finish_on)
                    && b < a
                {
                    return Err(Invalid::new(
                        "project.planned_finish_on",
                        "计划完工日期早于计划开工日期",
                        "planned finish is before planned start",
                    ));
                }
                patch(&["project"], fields("project", p)?)
            }
            Edit::UpdateProjectDesign(d) => {
                patch(&["project", "design"], fields("project.design", d)?)
            }
            Edit::UpdateProjectAcceptance(a) => {
                not_before_acceptance(job, "project.acceptance.accepted_at", a.accepted_at)?;
                patch(&["project", "acceptance"], fields("project.acceptance", a)?)
            }
            Edit::UpdateProjectSettlement(s) => {
                patch(&["project", "settlement"], fields("project.settlement", s)?)
            }
            Edit::PutMaterial { id, item } => {
                entry(&["project", "materials"], id, fields("material", item)?)?
            }
            Edit::PutPermit { id, permit } => {
                if let (Some(a), Some(b)) = (permit.issued_on, permit.expires_on)
                    && b < a
                {
                    return Err(Invalid::new(
                        "permit.expires_on",
                        "许可证到期日早于签发日",
                        "the permit expires before it was issued",
                    ));
                }
                entry(&["project", "permits"], id, fields("permit", permit)?)?
            }
            Edit::PutConstructionLog { id, log } => {
                not_before_acceptance(job, "log.at", log.at)?;
                let mut f = fields("log", log)?;
                if log.author.is_none() {
                    f.insert("author".into(), Json::String(ctx.actor.clone()));
                }
                entry(&["project", "logs"], id, f)?
            }
            Edit::UpdateInspection { kind, inspection } => {
                not_before_acceptance(job, "inspection.requested_at", inspection.requested_at)?;
                if let (Some(a), Some(b)) = (inspection.requested_at, inspection.replied_at)
                    && b < a
                {
                    return Err(Invalid::new(
                        "inspection.replied_at",
                        "答复时间早于受理时间",
                        "the reply is before the request",
                    ));
                }
                patch(
                    &["inspections", inspection_key(*kind)],
                    fields("inspection", inspection)?,
                )
            }
            Edit::PutFinding {
                target,
                id,
                finding,
            } => {
                let mut f = fields("finding", finding)?;
                if finding.raised_by.is_none() && !job_has_finding(job, *target, id) {
                    f.insert("raised_by".into(), Json::String(ctx.actor.clone()));
                }
                match target {
                    FindingTarget::Inspection(k) => {
                        entry(&["inspections", inspection_key(*k), "findings"], id, f)?
                    }
                    FindingTarget::Review => entry(&["review", "findings"], id, f)?,
                }
            }
            Edit::UpdateMetering(m) => {
                not_before_acceptance(job, "metering.installed_at", m.installed_at)?;
                not_before_acceptance(job, "metering.powered_on_at", m.powered_on_at)?;
                patch(&["metering"], fields("metering", m)?)
            }
            Edit::PutSeal { id, seal } => entry(&["metering", "seals"], id, fields("seal", seal)?)?,
            Edit::UpdateReturnVisit(r) => patch(&["return_visit"], fields("return_visit", r)?),
            Edit::UpdateCustomerVoice(v) => {
                if v.rating.is_some_and(|r| !(1..=5).contains(&r)) {
                    return Err(Invalid::new(
                        "customer_voice.rating",
                        "评价应为 1–5 分",
                        "a rating is 1 to 5",
                    ));
                }
                patch(&["customer_voice"], fields("customer_voice", v)?)
            }
            Edit::UpdateReview(r) => patch(&["review"], fields("review", r)?),
            Edit::CheckDocument { group, item } => {
                check_id("checklist.group", group)?;
                let mut f = fields("checklist", item)?;
                if item.collected == Some(true) && item.collected_by.is_none() {
                    f.insert("collected_by".into(), Json::String(ctx.actor.clone()));
                }
                entry(&["checklist"], group, f)?
            }
            Edit::AddMilestone { id, milestone } => {
                let Some(event) = milestone.event else {
                    return Err(Invalid::new(
                        "milestone.event",
                        "里程碑缺少事件类型",
                        "a milestone needs an event",
                    ));
                };
                let Some(at) = milestone.at else {
                    return Err(Invalid::new(
                        "milestone.at",
                        "里程碑缺少时间",
                        "a milestone needs the time of the action",
                    ));
                };
                if event != MilestoneEvent::Accepted {
                    not_before_acceptance(job, "milestone.at", Some(at))?;
                }
                let mut m = milestone.clone();
                // A milestone is written once, by the person who records it.
                m.actor = Some(ctx.actor.clone());
                m.device = Some(ctx.device.clone());
                if !job.milestones.contains_key(id) {
                    m.recorded_at = Some(ctx.now);
                } else {
                    m.recorded_at = None;
                }
                entry(&["milestones"], id, fields("milestone", &m)?)?
            }
            Edit::StartWaiting { id, reason, at } => {
                not_before_acceptance(job, "pause.started_at", Some(*at))?;
                if job.waiting() && !job.pauses.contains_key(id) {
                    return Err(Invalid::new(
                        "pause",
                        "工单已处于等待客户状态",
                        "the job is already waiting on the customer",
                    ));
                }
                let p = Pause {
                    reason: Some(reason.clone()),
                    started_at: Some(*at),
                    started_by: Some(ctx.actor.clone()),
                    ..Default::default()
                };
                entry(&["pauses"], id, fields("pause", &p)?)?
            }
            Edit::EndWaiting { at } => {
                if !job.waiting() {
                    return Err(Invalid::new(
                        "pause",
                        "工单没有处于等待客户状态",
                        "the job is not waiting on the customer",
                    ));
                }
                for p in job.pauses.values().filter(|p| p.ended_at.is_none()) {
                    if p.started_at.is_some_and(|s| *at < s) {
                        return Err(Invalid::new(
                            "pause.ended_at",
                            "结束时间早于开始时间",
                            "the wait cannot end before it started",
                        ));
                    }
                }
                let p = Pause {
                    ended_at: Some(*at),
                    ended_by: Some(ctx.actor.clone()),
                    ..Default::default()
                };
                Write::EndPauses {
                    fields: fields("pause", &p)?,
                }
            }
            Edit::RecordProgressToken { token } => {
                if token.is_empty()
                    || token.len() > 200
                    || !token
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                {
                    return Err(Invalid::new(
                        "progress_token",
                        "进度查询令牌无效",
                        "the progress token is invalid",
                    ));
                }
                if job.progress_token.as_deref() == Some(token.as_str()) {
                    return Ok(Vec::new());
                }
                let mut f = Map::new();
                f.insert("progress_token".into(), Json::String(token.clone()));
                patch(&[], f)
            }
            Edit::SpliceNotes {
                pos,
                delete,
                insert,
            } => {
                let len = job.notes.chars().count();
                if *pos > len || pos.saturating_add(*delete) > len {
                    return Err(Invalid::new(
                        "notes",
                        format!("位置 {pos}+{delete} 超出备注长度 {len}"),
                        format!("position {pos}+{delete} is beyond the notes' length {len}"),
                    ));
                }
                check_notes_len(len - delete + insert.chars().count())?;
                Write::Splice {
                    pos: *pos,
                    delete: *delete,
                    insert: insert.clone(),
                }
            }
            Edit::SetNotes { text } => {
                check_notes_len(text.chars().count())?;
                Write::SetText { text: text.clone() }
            }
        }])
    }
}

fn job_has_finding(job: &Job, target: FindingTarget, id: &str) -> bool {
    match target {
        FindingTarget::Inspection(k) => job.inspections.get(k).findings.contains_key(id),
        FindingTarget::Review => job.review.findings.contains_key(id),
    }
}

/// The milestone id of the hand-over a first customer manager assignment records (one id, so two
/// offline assignments of the same job merge into one hand-over).
pub const HANDOVER_MILESTONE: &str = "handed-over";

/// An assignment; giving the job its first customer manager also records the hand-over
/// (转客户经理), which stops the same-day hand-over clock (seed 001).
fn plan_assignment(job: &Job, ctx: &EditContext, a: &Assignment) -> Result<Vec<Write>, Invalid> {
    let mut writes = vec![Write::Patch {
        path: path(&["assignment"]),
        fields: fields("assignment", a)?,
    }];
    let gets_manager = a.customer_manager.as_deref().is_some_and(|m| !m.is_empty());
    let handed_over = job
        .milestones
        .values()
        .any(|m| m.event == Some(MilestoneEvent::HandedOver));
    if gets_manager && !handed_over {
        let at = a.assigned_at.unwrap_or(ctx.now);
        not_before_acceptance(job, "assignment.assigned_at", Some(at))?;
        let m = Milestone {
            event: Some(MilestoneEvent::HandedOver),
            actor: Some(ctx.actor.clone()),
            at: Some(at),
            recorded_at: Some(ctx.now),
            device: Some(ctx.device.clone()),
            note: None,
        };
        writes.push(Write::Entry {
            path: path(&["milestones"]),
            id: HANDOVER_MILESTONE.to_string(),
            fields: fields("milestone", &m)?,
        });
    }
    Ok(writes)
}

fn plan_submit(
    job: &Job,
    ctx: &EditContext,
    id: &str,
    at: DateTime<Utc>,
) -> Result<Vec<Write>, Invalid> {
    check_id("milestone.id", id)?;
    not_before_acceptance(job, "review.submitted_at", Some(at))?;
    if job.review.state == Some(crate::codes::ReviewState::Pending)
        && job.milestones.contains_key(id)
    {
        return Ok(Vec::new());
    }
    let review = Review {
        state: Some(crate::codes::ReviewState::Pending),
        ..Default::default()
    };
    let m = Milestone {
        event: Some(MilestoneEvent::ReviewSubmitted),
        actor: Some(ctx.actor.clone()),
        at: Some(at),
        recorded_at: Some(ctx.now),
        device: Some(ctx.device.clone()),
        note: None,
    };
    Ok(vec![
        Write::Patch {
            path: path(&["review"]),
            fields: fields("review", &review)?,
        },
        Write::Entry {
            path: path(&["milestones"]),
            id: id.to_string(),
            fields: fields("milestone", &m)?,
        },
    ])
}

fn plan_photo(
    job: &Job,
    ctx: &EditContext,
    id: &str,
    photo: &Photo,
) -> Result<Vec<Write>, Invalid> {
    check_id("photo.id", id)?;
    for (role, hash) in [
        ("original", &photo.original_sha256),
        ("display", &photo.display_sha256),
        ("thumbnail", &photo.thumbnail_sha256),
    ] {
        if !hash.as_deref().is_some_and(crate::validate::is_sha256_hex) {
            return Err(Invalid::new(
                &format!("photo.{role}_sha256"),
                "照片缺少有效的 SHA-256 摘要",
                "a photo needs a valid SHA-256 for each of its blobs",
            ));
        }
    }
    if let Some(existing) = job.photos.get(id) {
        if existing.original_sha256 != photo.original_sha256 {
            return Err(Invalid::new(
                "photo.id",
                "照片是证据，记录后不可更改",
                "photos are evidence: a recorded photo cannot be changed",
            ));
        }
        return Ok(Vec::new());
    }
    if photo.author.as_deref().is_some_and(|a| a != ctx.actor) {
        return Err(Invalid::new(
            "photo.author",
            "只能记录本人拍摄的照片",
            "a photo is recorded by the person who took it",
        ));
    }
    let mut p = photo.clone();
    p.device = Some(ctx.device.clone());
    p.author = Some(ctx.actor.clone());
    let mut writes = Vec::new();
    if let Some(group) = &p.checklist_group {
        if !job.checklist.contains_key(group) {
            return Err(Invalid::new(
                "photo.checklist_group",
                format!("收资清单中没有 {group} 这一项"),
                format!("the checklist has no group {group}"),
            ));
        }
        let mut link = Map::new();
        link.insert(id.to_string(), Json::Bool(true));
        writes.push(Write::Patch {
            path: path(&["checklist", group, "photos"]),
            fields: link,
        });
    }
    writes.insert(
        0,
        Write::Entry {
            path: path(&["photos"]),
            id: id.to_string(),
            fields: fields("photo", &p)?,
        },
    );
    Ok(writes)
}
