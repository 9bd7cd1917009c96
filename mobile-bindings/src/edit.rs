//! Every edit field-core offers, as one enum that reads naturally in Kotlin (`JobEdit.UpdateSurvey(…)`)
//! and Swift (`.updateSurvey(…)`). Sections are patches: fields left `null`/`nil` are unchanged.

use crate::sections::*;
use crate::types::Timestamp;
use field_core::codes::{InspectionKind, SpecialLoad};
use field_core::job::{
    Agent, Assignment, ConstructionLog, Customer, CustomerWorks, Finding, KeyVisit, Material,
    Meeting, Milestone, OutagePlan, Permit, PowerOnPlan, ProjectAcceptance, ProjectDesign,
    ProjectSettlement, ReturnVisit, Seal, SupplyPlan, Survey, TemporarySupply,
};
use field_core::{Edit, job::FindingTarget};

/// Which findings list a finding belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FindingList {
    Inspection { kind: InspectionKind },
    Review,
}

/// One change to a job. Entries of collections are keyed by an id the app chooses (a UUID), so
/// retrying an edit never duplicates anything.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum JobEdit {
    UpdateCustomer {
        customer: Customer,
    },
    UpdateAgent {
        agent: Agent,
    },
    UpdateApplication {
        application: ApplicationPatch,
    },
    SetSpecialLoad {
        load: SpecialLoad,
        present: bool,
    },
    UpdateAssignment {
        assignment: Assignment,
    },
    UpdateSurvey {
        survey: Survey,
    },
    UpdateSupplyPlan {
        plan: SupplyPlan,
    },
    UpdateProject {
        project: ProjectPatch,
    },
    UpdateProjectDesign {
        design: ProjectDesign,
    },
    UpdateProjectAcceptance {
        acceptance: ProjectAcceptance,
    },
    UpdateProjectSettlement {
        settlement: ProjectSettlement,
    },
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
        inspection: InspectionPatch,
    },
    PutFinding {
        list: FindingList,
        id: String,
        finding: Finding,
    },
    UpdateMetering {
        metering: MeteringPatch,
    },
    PutSeal {
        id: String,
        seal: Seal,
    },
    UpdateReturnVisit {
        visit: ReturnVisit,
    },
    UpdateReview {
        review: ReviewPatch,
    },
    /// Which document was collected for a checklist group.
    CheckDocument {
        group: String,
        item: ChecklistItemPatch,
    },
    AddMilestone {
        id: String,
        milestone: Milestone,
    },
    /// The job waits on the customer: time-limit clocks pause.
    StartWaiting {
        id: String,
        reason: String,
        at: Timestamp,
    },
    /// The customer is back.
    EndWaiting {
        at: Timestamp,
    },
    /// Power-on: needs a signed contract and the meter's asset number and initial reading.
    RecordPowerOn {
        id: String,
        at: Timestamp,
    },
    /// Replace `delete` characters at `pos` of the notes with `insert`.
    SpliceNotes {
        pos: u32,
        delete: u32,
        insert: String,
    },
    SetNotes {
        text: String,
    },
    /// Submits the job for office review again after fixing what it was returned for
    /// (提交审核): the review is `pending` again and a milestone records it.
    SubmitForReview {
        id: String,
        at: Timestamp,
    },
    /// Answers a supervision order (督办) addressed to the signed-in manager.
    AnswerSupervision {
        id: String,
        text: String,
        at: Timestamp,
    },
    /// Records a coordination meeting (项目协调推进会; project managers), or changes one.
    PutMeeting {
        id: String,
        meeting: Meeting,
    },
    /// Records an action item of a meeting with its owner and due day (project managers).
    PutAction {
        id: String,
        action: ActionItemPatch,
    },
    /// The signed-in owner records an action item done.
    CompleteAction {
        id: String,
        at: Timestamp,
        note: Option<String>,
    },
    /// The connection plan (接电计划; customer managers).
    UpdatePowerOnPlan {
        plan: PowerOnPlan,
    },
    /// The outage plan (停电计划) and its approval (project managers).
    UpdateOutagePlan {
        plan: OutagePlan,
    },
    /// The customer's design and construction firms and the works' dates.
    UpdateCustomerWorks {
        works: CustomerWorks,
    },
    /// Temporary supply and the rented transformer, its removal included.
    UpdateTemporarySupply {
        supply: TemporarySupply,
    },
    /// A visit made to an important customer (written once).
    AddKeyVisit {
        id: String,
        visit: KeyVisit,
    },
}

impl From<JobEdit> for Edit {
    fn from(e: JobEdit) -> Edit {
        match e {
            JobEdit::UpdateCustomer { customer } => Edit::UpdateCustomer(customer),
            JobEdit::UpdateAgent { agent } => Edit::UpdateAgent(agent),
            JobEdit::UpdateApplication { application } => {
                Edit::UpdateApplication(application.into())
            }
            JobEdit::SetSpecialLoad { load, present } => Edit::SetSpecialLoad { load, present },
            JobEdit::UpdateAssignment { assignment } => Edit::UpdateAssignment(assignment),
            JobEdit::UpdateSurvey { survey } => Edit::UpdateSurvey(survey),
            JobEdit::UpdateSupplyPlan { plan } => Edit::UpdateSupplyPlan(plan),
            JobEdit::UpdateProject { project } => Edit::UpdateProject(project.into()),
            JobEdit::UpdateProjectDesign { design } => Edit::UpdateProjectDesign(design),
            JobEdit::UpdateProjectAcceptance { acceptance } => {
                Edit::UpdateProjectAcceptance(acceptance)
            }
            JobEdit::UpdateProjectSettlement { settlement } => {
                Edit::UpdateProjectSettlement(settlement)
            }
            JobEdit::PutMaterial { id, item } => Edit::PutMaterial { id, item },
            JobEdit::PutPermit { id, permit } => Edit::PutPermit { id, permit },
            JobEdit::PutConstructionLog { id, log } => Edit::PutConstructionLog { id, log },
            JobEdit::UpdateInspection { kind, inspection } => Edit::UpdateInspection {
                kind,
                inspection: inspection.into(),
            },
            JobEdit::PutFinding { list, id, finding } => Edit::PutFinding {
                target: match list {
                    FindingList::Inspection { kind } => FindingTarget::Inspection(kind),
                    FindingList::Review => FindingTarget::Review,
                },
                id,
                finding,
            },
            JobEdit::UpdateMetering { metering } => Edit::UpdateMetering(metering.into()),
            JobEdit::PutSeal { id, seal } => Edit::PutSeal { id, seal },
            JobEdit::UpdateReturnVisit { visit } => Edit::UpdateReturnVisit(visit),
            JobEdit::UpdateReview { review } => Edit::UpdateReview(review.into()),
            JobEdit::CheckDocument { group, item } => Edit::CheckDocument {
                group,
                item: item.into(),
            },
            JobEdit::AddMilestone { id, milestone } => Edit::AddMilestone { id, milestone },
            JobEdit::StartWaiting { id, reason, at } => Edit::StartWaiting { id, reason, at },
            JobEdit::EndWaiting { at } => Edit::EndWaiting { at },
            JobEdit::RecordPowerOn { id, at } => Edit::RecordPowerOn { id, at },
            JobEdit::SpliceNotes {
                pos,
                delete,
                insert,
            } => Edit::SpliceNotes {
                pos: pos as usize,
                delete: delete as usize,
                insert,
            },
            JobEdit::SetNotes { text } => Edit::SetNotes { text },
            JobEdit::SubmitForReview { id, at } => Edit::SubmitForReview { id, at },
            JobEdit::AnswerSupervision { id, text, at } => Edit::AnswerSupervision { id, text, at },
            JobEdit::PutMeeting { id, meeting } => Edit::PutMeeting { id, meeting },
            JobEdit::PutAction { id, action } => Edit::PutAction {
                id,
                action: action.into(),
            },
            JobEdit::CompleteAction { id, at, note } => Edit::CompleteAction { id, at, note },
            JobEdit::UpdatePowerOnPlan { plan } => Edit::UpdatePowerOnPlan(plan),
            JobEdit::UpdateOutagePlan { plan } => Edit::UpdateOutagePlan(plan),
            JobEdit::UpdateCustomerWorks { works } => Edit::UpdateCustomerWorks(works),
            JobEdit::UpdateTemporarySupply { supply } => Edit::UpdateTemporarySupply(supply),
            JobEdit::AddKeyVisit { id, visit } => Edit::AddKeyVisit { id, visit },
        }
    }
}
