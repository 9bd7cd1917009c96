//! Records the app reads: a whole job, list pages, rule verdicts, time limits, sync progress,
//! contract results. Conversions from field-core only; no logic.

use crate::sections::*;
use crate::types::{Date, Timestamp};
use field_core::codes::*;
use field_core::job::{
    Agent, Assignment, Customer, CustomerWorks, KeyVisit, Meeting, Milestone, OutagePlan, Pause,
    Photo, PowerOnPlan, ReturnVisit, SupplyPlan, Survey, TemporarySupply, TypicalDesign, VisitPlan,
};
use std::collections::HashMap;

/// One of the three inspections.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct InspectionsView {
    pub design_review: InspectionView,
    pub mid: InspectionView,
    pub completion: InspectionView,
}

/// A key where concurrent edits left more than one value (values as JSON text).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ConflictView {
    pub path: String,
    pub winner: String,
    pub others: Vec<String>,
}

/// A whole job as the phone holds it.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct JobView {
    pub id: String,
    pub job_no: String,
    pub kind: JobKind,
    pub unit: String,
    pub status: JobStatus,
    pub created_at: Timestamp,
    pub accepted_at: Timestamp,
    pub waiting: bool,
    pub customer: Customer,
    pub agent: Agent,
    pub application: ApplicationView,
    pub checklist: HashMap<String, ChecklistItemView>,
    pub assignment: Assignment,
    pub survey: Survey,
    pub supply_plan: SupplyPlan,
    pub project: ProjectView,
    pub inspections: InspectionsView,
    pub metering: MeteringView,
    pub return_visit: ReturnVisit,
    /// The customer's own word: the supply plan confirmed or asked about, their rating.
    pub customer_voice: field_core::job::CustomerVoice,
    pub review: ReviewView,
    pub milestones: HashMap<String, Milestone>,
    pub pauses: HashMap<String, Pause>,
    pub photos: HashMap<String, Photo>,
    pub contracts: HashMap<String, ContractView>,
    /// Supervision orders (督办) by order id; the addressed manager answers with
    /// `JobEdit::AnswerSupervision`.
    pub supervision: HashMap<String, SupervisionOrderView>,
    /// Coordination meetings (项目协调推进会) by meeting id.
    pub meetings: HashMap<String, Meeting>,
    /// Their action items by item id; the owner records one done with
    /// `JobEdit::CompleteAction`.
    pub actions: HashMap<String, ActionItemView>,
    /// The connection plan (接电计划) and the outage plan (停电计划).
    pub power_on_plan: PowerOnPlan,
    pub outage_plan: OutagePlan,
    /// The customer's design and construction firms (judged by `firm_checks`).
    pub customer_works: CustomerWorks,
    /// The typical design picked (典型设计) and its typical cost range.
    pub typical_design: TypicalDesign,
    /// Temporary supply and the rented transformer.
    pub temporary_supply: TemporarySupply,
    /// An important customer's visit plan and the visits made.
    pub visit_plan: VisitPlan,
    pub key_visits: HashMap<String, KeyVisit>,
    /// The customer's progress page token (`<server>/p/<token>`), once the server has stored
    /// the job; the written receipt prints it as a QR code.
    pub progress_token: Option<String>,
    pub notes: String,
    pub conflicts: Vec<ConflictView>,
}

impl From<&field_core::Job> for JobView {
    fn from(j: &field_core::Job) -> Self {
        fn map<A, B: for<'a> From<&'a A>>(
            m: &std::collections::BTreeMap<String, A>,
        ) -> HashMap<String, B> {
            m.iter().map(|(k, v)| (k.clone(), B::from(v))).collect()
        }
        fn copy<A: Clone>(m: &std::collections::BTreeMap<String, A>) -> HashMap<String, A> {
            m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        }
        JobView {
            id: j.id.clone(),
            job_no: j.job_no.clone(),
            kind: j.kind,
            unit: j.unit.clone(),
            status: j.status(),
            created_at: j.created_at,
            accepted_at: j.accepted_at(),
            waiting: j.waiting(),
            customer: j.customer.clone(),
            agent: j.agent.clone(),
            application: (&j.application).into(),
            checklist: map(&j.checklist),
            assignment: j.assignment.clone(),
            survey: j.survey.clone(),
            supply_plan: j.supply_plan.clone(),
            project: (&j.project).into(),
            inspections: InspectionsView {
                design_review: (&j.inspections.design_review).into(),
                mid: (&j.inspections.mid).into(),
                completion: (&j.inspections.completion).into(),
            },
            metering: (&j.metering).into(),
            return_visit: j.return_visit.clone(),
            customer_voice: j.customer_voice.clone(),
            review: (&j.review).into(),
            milestones: copy(&j.milestones),
            pauses: copy(&j.pauses),
            photos: copy(&j.photos),
            contracts: map(&j.contracts),
            supervision: map(&j.supervision),
            meetings: copy(&j.meetings),
            actions: map(&j.actions),
            power_on_plan: j.power_on_plan.clone(),
            outage_plan: j.outage_plan.clone(),
            customer_works: j.customer_works.clone(),
            typical_design: j.typical_design.clone(),
            temporary_supply: j.temporary_supply.clone(),
            visit_plan: j.visit_plan.clone(),
            key_visits: copy(&j.key_visits),
            progress_token: j.progress_token.clone(),
            notes: j.notes.clone(),
            conflicts: j
                .conflicts
                .iter()
                .map(|c| ConflictView {
                    path: c.path.clone(),
                    winner: c.winner.to_string(),
                    others: c.others.iter().map(|o| o.to_string()).collect(),
                })
                .collect(),
        }
    }
}

/// How a list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, uniffi::Enum)]
pub enum JobOrder {
    #[default]
    RecentlyUpdated,
    NextDue,
}

/// Time-limit state of a clock (时限状态).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LimitState {
    Missed,
    Overdue,
    DueSoon,
    OnTrack,
    NotStarted,
    Met,
}

impl From<field_core::sla::SlaState> for LimitState {
    fn from(s: field_core::sla::SlaState) -> Self {
        use field_core::sla::SlaState as S;
        match s {
            S::Missed => LimitState::Missed,
            S::Overdue => LimitState::Overdue,
            S::DueSoon => LimitState::DueSoon,
            S::OnTrack => LimitState::OnTrack,
            S::NotStarted => LimitState::NotStarted,
            S::Met => LimitState::Met,
        }
    }
}

impl From<LimitState> for field_core::sla::SlaState {
    fn from(s: LimitState) -> Self {
        use field_core::sla::SlaState as S;
        match s {
            LimitState::Missed => S::Missed,
            LimitState::Overdue => S::Overdue,
            LimitState::DueSoon => S::DueSoon,
            LimitState::OnTrack => S::OnTrack,
            LimitState::NotStarted => S::NotStarted,
            LimitState::Met => S::Met,
        }
    }
}

/// Which jobs to list. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, uniffi::Record)]
pub struct JobQuery {
    #[uniffi(default)]
    pub kind: Option<JobKind>,
    #[uniffi(default)]
    pub status: Option<JobStatus>,
    #[uniffi(default)]
    pub customer_manager: Option<String>,
    #[uniffi(default)]
    pub project_manager: Option<String>,
    #[uniffi(default)]
    pub limit_state: Option<LimitState>,
    #[uniffi(default)]
    pub waiting: Option<bool>,
    /// Matches the job number or the customer's name.
    #[uniffi(default)]
    pub text: Option<String>,
    /// Default: most recently updated first.
    #[uniffi(default)]
    pub order: Option<JobOrder>,
    /// Page size (default 50, at most 500).
    #[uniffi(default)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    #[uniffi(default)]
    pub cursor: Option<String>,
}

/// One row of a job list.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct JobRow {
    pub job_id: String,
    pub job_no: String,
    pub kind: JobKind,
    pub status: JobStatus,
    pub customer_name: String,
    pub customer_manager: Option<String>,
    pub project_manager: Option<String>,
    pub accepted_on: String,
    pub next_due: Option<String>,
    pub limit_state: Option<LimitState>,
    pub waiting: bool,
    pub conflicts: i64,
    /// Set when the job needs attention: the code of the server's refusal (`refusedJobs()`
    /// gives the reason).
    pub attention: Option<String>,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct JobListPage {
    pub items: Vec<JobRow>,
    pub next_cursor: Option<String>,
}

impl From<field_core::store::JobPage> for JobListPage {
    fn from(p: field_core::store::JobPage) -> Self {
        JobListPage {
            items: p
                .items
                .into_iter()
                .map(|r| JobRow {
                    job_id: r.job_id,
                    job_no: r.job_no,
                    kind: r.kind,
                    status: r.status,
                    customer_name: r.customer_name,
                    customer_manager: r.customer_manager,
                    project_manager: r.project_manager,
                    accepted_on: r.accepted_on,
                    next_due: r.next_due,
                    limit_state: r.sla_state.map(Into::into),
                    waiting: r.waiting,
                    conflicts: r.conflicts,
                    attention: r.attention,
                })
                .collect(),
            next_cursor: p.next_cursor,
        }
    }
}

/// One time-limit clock (a stage of the job).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct LimitClock {
    pub stage: String,
    pub stage_zh: String,
    pub limit_days: u32,
    pub started_on: Option<Date>,
    pub ended_on: Option<Date>,
    pub due_on: Option<Date>,
    pub used_days: i64,
    pub paused_days: i64,
    pub paused_now: bool,
    pub state: LimitState,
    pub provisional: bool,
}

/// A rule's answer with its reasons.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RuleVerdict {
    pub rule: String,
    /// `yes`, `no` or `unknown` (facts missing).
    pub outcome: String,
    pub reasons_zh: Vec<String>,
    pub reasons_en: Vec<String>,
}

/// A document group the job must (or may) collect.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DocumentRequirement {
    pub group: String,
    pub label_zh: String,
    pub label_en: String,
    pub required: bool,
    pub collected: bool,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct JobRules {
    pub verdicts: Vec<RuleVerdict>,
    pub documents: Vec<DocumentRequirement>,
    pub service_steps_zh: Vec<String>,
}

/// The logged-in user.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct UserView {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub unit: String,
    pub server: String,
}

/// A job set aside: the server refused its changes, or it left this user's scope while it held
/// unsynced work. Export, discard or retry it (`exportUnsynced`, `discardUnsynced`,
/// `retryRefused`).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct RefusedJobView {
    pub job_id: String,
    pub job_no: String,
    pub customer_name: String,
    pub code: String,
    pub zh: String,
    pub en: String,
    /// The document paths the server named (e.g. `review.state`).
    pub paths: Vec<String>,
    pub refused_at: crate::types::Timestamp,
    /// No longer this user's job: hidden from lists, kept only for export.
    pub left_scope: bool,
    pub unsynced_changes: u64,
}

impl From<field_core::store::RefusedJob> for RefusedJobView {
    fn from(r: field_core::store::RefusedJob) -> Self {
        RefusedJobView {
            job_id: r.job_id,
            job_no: r.job_no,
            customer_name: r.customer_name,
            code: r.code,
            zh: r.zh,
            en: r.en,
            paths: r.paths,
            refused_at: r.refused_at,
            left_scope: r.left_scope,
            unsynced_changes: r.unsynced_changes as u64,
        }
    }
}

/// Files an export wrote.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct UnsyncedExportView {
    /// The unsynced changes as automerge bytes.
    pub changes_file: String,
    /// A readable JSON summary (the job, the reason, each change and what it touched).
    pub summary_file: String,
    pub changes: u64,
}

impl From<field_core::store::UnsyncedExport> for UnsyncedExportView {
    fn from(e: field_core::store::UnsyncedExport) -> Self {
        UnsyncedExportView {
            changes_file: e.changes_file.display().to_string(),
            summary_file: e.summary_file.display().to_string(),
            changes: e.changes as u64,
        }
    }
}

/// What discarding did.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DiscardedView {
    /// The export written first.
    pub export: UnsyncedExportView,
    /// The job never reached the server, so nothing of it is left on this phone.
    pub job_removed: bool,
}

/// This phone's identity.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct DeviceView {
    pub device_id: String,
    /// The public half of its contract-signing key (hex).
    pub public_key: String,
}
