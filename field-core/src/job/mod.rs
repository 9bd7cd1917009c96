//! The job (业扩工单) as an automerge document.
//!
//! [`Job`] is the typed view a UI reads; [`JobDoc`] owns the automerge document and applies
//! [`Edit`]s to it. The document layout and its merge semantics are specified in
//! `docs/job-document.md`.

pub mod chunks;
mod contract_edits;
pub mod diff;
mod doc;
mod edit;
pub mod mapping;
pub mod schema;
mod sections;
mod supervision_edits;
mod works_edits;

pub use doc::{JobDoc, JobError, NewJob, SCHEMA_VERSION};
pub use edit::{Edit, EditContext, FindingTarget, HANDOVER_MILESTONE};
pub use mapping::Conflict;
pub use sections::*;

/// Checks a signed contract record exactly as `Edit::SignContract` checks it before recording it
/// (the server runs this on contracts a phone pushes): consistent with its manifest, signed on
/// `ctx.device` by `ctx.actor`, the right version, signatures valid.
pub fn check_signed_contract(
    job: &Job,
    ctx: &EditContext,
    id: &str,
    contract: &Contract,
) -> Result<(), crate::validate::Invalid> {
    contract_edits::plan_sign(job, ctx, id, contract).map(|_| ())
}

use crate::codes::{InspectionKind, JobKind, JobStatus, MilestoneEvent};
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// China Standard Time, the zone in which working days are counted.
pub fn china_offset() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("valid offset")
}

/// The local (China) calendar date of an instant.
pub fn local_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&china_offset()).date_naive()
}

/// The three inspections of the customer's works.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Inspections {
    #[serde(deserialize_with = "mapping::lenient_default")]
    pub design_review: Inspection,
    #[serde(deserialize_with = "mapping::lenient_default")]
    pub mid: Inspection,
    #[serde(deserialize_with = "mapping::lenient_default")]
    pub completion: Inspection,
}

impl Inspections {
    pub fn get(&self, kind: InspectionKind) -> &Inspection {
        match kind {
            InspectionKind::DesignReview => &self.design_review,
            InspectionKind::Mid => &self.mid,
            InspectionKind::Completion => &self.completion,
        }
    }
}

/// The typed view of a job document. Unknown keys in the document are ignored here and left
/// untouched in the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub schema_version: i64,
    pub id: String,
    pub job_no: String,
    pub kind: JobKind,
    pub unit: String,
    pub created_at: DateTime<Utc>,
    pub rules: RulesRef,
    pub customer: Customer,
    pub agent: Agent,
    pub application: Application,
    pub checklist: BTreeMap<String, ChecklistItem>,
    pub assignment: Assignment,
    pub survey: Survey,
    pub supply_plan: SupplyPlan,
    pub project: Project,
    pub inspections: Inspections,
    pub metering: Metering,
    pub return_visit: ReturnVisit,
    /// What the customer said through their tracking link (absent in older documents).
    #[serde(default)]
    pub customer_voice: CustomerVoice,
    pub review: Review,
    pub milestones: BTreeMap<String, Milestone>,
    pub pauses: BTreeMap<String, Pause>,
    /// Photos by photo id (absent in documents written before photos existed).
    #[serde(default)]
    pub photos: BTreeMap<String, Photo>,
    /// Signed supply contracts by contract id (absent in documents written before contracts).
    #[serde(default)]
    pub contracts: BTreeMap<String, Contract>,
    /// The token of the customer's progress page (`/p/<token>` on the server), written by the
    /// server when it first stores the job; printed as a QR code on the written receipt.
    #[serde(default)]
    pub progress_token: Option<String>,
    /// Supervision orders (督办) by order id (absent in documents written before them).
    #[serde(default)]
    pub supervision: BTreeMap<String, SupervisionOrder>,
    /// Coordination meetings (项目协调推进会) by meeting id; the sections below are absent in
    /// documents written before them.
    #[serde(default)]
    pub meetings: BTreeMap<String, Meeting>,
    /// The meetings' action items by item id.
    #[serde(default)]
    pub actions: BTreeMap<String, ActionItem>,
    #[serde(default)]
    pub power_on_plan: PowerOnPlan,
    #[serde(default)]
    pub outage_plan: OutagePlan,
    #[serde(default)]
    pub customer_works: CustomerWorks,
    #[serde(default)]
    pub typical_design: TypicalDesign,
    #[serde(default)]
    pub temporary_supply: TemporarySupply,
    #[serde(default)]
    pub visit_plan: VisitPlan,
    /// Visits to an important customer by visit id.
    #[serde(default)]
    pub key_visits: BTreeMap<String, KeyVisit>,
    pub notes: String,
    /// Keys where concurrent edits left more than one value; the UI shows these.
    pub conflicts: Vec<Conflict>,
}

impl Job {
    /// Milestones in time order (ties broken by id, so every replica agrees).
    pub fn timeline(&self) -> Vec<(&str, &Milestone)> {
        let mut all: Vec<(&str, &Milestone)> = self
            .milestones
            .iter()
            .map(|(k, m)| (k.as_str(), m))
            .collect();
        all.sort_by_key(|(id, m)| (m.at, *id));
        all
    }

    /// The earliest time `event` happened, if it did.
    pub fn first(&self, event: MilestoneEvent) -> Option<DateTime<Utc>> {
        self.milestones
            .values()
            .filter(|m| m.event == Some(event))
            .filter_map(|m| m.at)
            .min()
    }

    /// When the job was powered on: its first power-on milestone, else the metering record.
    pub fn powered_on_at(&self) -> Option<DateTime<Utc>> {
        self.first(MilestoneEvent::PoweredOn)
            .or(self.metering.powered_on_at)
    }

    /// The earliest time `event` happened at or after `after`.
    pub fn first_after(
        &self,
        event: MilestoneEvent,
        after: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        self.milestones
            .values()
            .filter(|m| m.event == Some(event))
            .filter_map(|m| m.at)
            .filter(|t| *t >= after)
            .min()
    }

    /// When the application was accepted (falls back to creation).
    pub fn accepted_at(&self) -> DateTime<Utc> {
        self.first(MilestoneEvent::Accepted)
            .unwrap_or(self.created_at)
    }

    pub fn accepted_on(&self) -> NaiveDate {
        local_date(self.accepted_at())
    }

    /// Whether the job is waiting on the customer right now.
    pub fn waiting(&self) -> bool {
        self.pauses
            .values()
            .any(|p| p.started_at.is_some() && p.ended_at.is_none())
    }

    /// Supporting-works progress: from the latest construction log.
    pub fn progress_pct(&self) -> Option<f64> {
        self.project
            .logs
            .iter()
            .filter(|(_, l)| l.progress_pct.is_some())
            .max_by_key(|(id, l)| (l.at, *id))
            .and_then(|(_, l)| l.progress_pct)
    }

    /// Where the job stands: the furthest stage its milestones reach.
    pub fn status(&self) -> JobStatus {
        use MilestoneEvent as E;
        let has = |e: E| self.first(e).is_some();
        if has(E::Archived) || has(E::ReturnVisitDone) {
            JobStatus::Closed
        } else if has(E::PoweredOn) {
            JobStatus::PoweredOn
        } else if has(E::ContractSigned)
            && (has(E::CompletionInspectionPassed) || self.kind.is_low_voltage())
        {
            JobStatus::ReadyToPowerOn
        } else if has(E::CompletionInspectionRequested) || has(E::CompletionInspectionReplied) {
            JobStatus::Inspection
        } else if has(E::WorksStarted)
            || has(E::DesignReviewRequested)
            || has(E::MidInspectionRequested)
            || has(E::ApprovalApplied)
        {
            JobStatus::Works
        } else if has(E::SupplyPlanReplied) {
            JobStatus::PlanReplied
        } else if has(E::SurveyDone) {
            JobStatus::Surveyed
        } else if has(E::HandedOver) {
            JobStatus::HandedOver
        } else {
            JobStatus::Accepted
        }
    }
}
