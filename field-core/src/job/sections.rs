//! Typed sections of the job document.
//!
//! Every scalar field is an `Option`: when reading, `None` means "not filled in yet"; when a
//! section is used as a patch in an edit, `None` means "leave as it is". That way an edit writes
//! only the fields a person changed, and two people changing different fields both win.
//!
//! Field-name conventions the mapping relies on (see `docs/job-document.md`): a field ending in
//! `_at` is an instant (automerge timestamp, RFC 3339 in JSON); a field ending in `_on` is a
//! calendar date (`YYYY-MM-DD` string).

use crate::codes::*;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Defines a section struct whose scalar fields are all optional and skipped when `None`.
/// Fields after `;` are nested, read-only parts (maps filled by their own edits).
macro_rules! section {
    ($(#[$meta:meta])* $name:ident { $($field:ident : $ty:ty),* $(,)? } $(; $($nested:ident : $nty:ty),* $(,)?)?) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(default)]
        pub struct $name {
            $(#[serde(skip_serializing_if = "Option::is_none", deserialize_with = "super::mapping::lenient")]
            pub $field: Option<$ty>,)*
            $($(#[serde(skip_serializing, deserialize_with = "super::mapping::lenient_default")]
            pub $nested: $nty,)*)?
        }

        impl super::schema::Schema for $name {
            fn field(key: &str) -> Option<super::schema::FieldKind> {
                use super::schema::ValueKind;
                match key {
                    $(stringify!($field) => Some(<$ty as ValueKind>::KIND),)*
                    $($(stringify!($nested) => Some(<$nty as ValueKind>::KIND),)*)?
                    _ => None,
                }
            }
        }

        impl super::schema::ValueKind for $name {
            const KIND: super::schema::FieldKind =
                super::schema::FieldKind::Map(<$name as super::schema::Schema>::field);
        }
    };
}

section! {
    /// The customer (客户) and how to reach them.
    Customer {
        name: String,
        id_number: String,
        contact_name: String,
        contact_phone: String,
        address: String,
        account_no: String,
    }
}

section! {
    /// An agent filing on the customer's behalf (委托代理人).
    Agent { filed_by_agent: bool, name: String, id_number: String, phone: String }
}

section! {
    /// The application (用电申请) and the facts the rules need.
    Application {
        project_name: String,
        industry: String,
        channel: String,
        capacity_kva: f64,
        voltage: Voltage,
        tariff: Tariff,
        importance: Importance,
        source: Source,
        grid_distance_m: f64,
        replacement_share_pct: f64,
        ev_charging: bool,
        dev_zone: DevZone,
        rural: bool,
        special_industry: bool,
        grid_health: GridHealth,
        grid_cell: String,
        upgrade_project: String,
        wanted_on: NaiveDate,
        key_project: bool,
        chief_service_officer: String,
        fees_due: bool,
        supply_management: String,
    };
    special_loads: BTreeMap<String, bool>,
}

impl Application {
    /// The special loads currently marked present.
    pub fn special_load_list(&self) -> Vec<SpecialLoad> {
        self.special_loads
            .iter()
            .filter(|(_, on)| **on)
            .filter_map(|(k, _)| SpecialLoad::parse(k))
            .collect()
    }
}

section! {
    /// Who serves the job (双经理).
    Assignment {
        customer_manager: String,
        customer_manager_name: String,
        customer_chose_manager: bool,
        project_manager: String,
        project_manager_name: String,
        assigned_at: DateTime<Utc>,
        pm_released_at: DateTime<Utc>,
    }
}

section! {
    /// The site survey (现场勘查).
    Survey {
        surveyed_at: DateTime<Utc>,
        surveyor: String,
        address_verified: bool,
        load_nature: String,
        capacity_verified: bool,
        category_verified: bool,
        verified_capacity_kva: f64,
        direct_install: bool,
        access_point: String,
        findings: String,
    }
}

section! {
    /// The supply plan (供电方案).
    SupplyPlan {
        source: Source,
        voltage: Voltage,
        capacity_kva: f64,
        access_point: String,
        metering_point: String,
        metering_method: String,
        property_boundary: String,
        utility_invests_to_red_line: bool,
        reply_mode: String,
        replied_at: DateTime<Utc>,
        valid_until_on: NaiveDate,
        fees_yuan: f64,
        fees_basis: String,
        power_on_agreed_on: NaiveDate,
    }
}

section! {
    /// The supporting grid project (业扩配套工程) run by the project manager.
    Project {
        project_no: String,
        utility_invested: bool,
        voltage: Voltage,
        planned_start_on: NaiveDate,
        planned_finish_on: NaiveDate,
        progress_pct: f64,
    };
    design: ProjectDesign,
    acceptance: ProjectAcceptance,
    settlement: ProjectSettlement,
    materials: BTreeMap<String, Material>,
    permits: BTreeMap<String, Permit>,
    logs: BTreeMap<String, ConstructionLog>,
}

section! {
    /// Design of the supporting works (设计方案).
    ProjectDesign { designer: String, plan: String, approved_at: DateTime<Utc>, approved_by: String }
}

section! {
    /// Acceptance of the supporting works (验收).
    ProjectAcceptance { accepted_at: DateTime<Utc>, accepted_by: String, passed: bool, remarks: String }
}

section! {
    /// Settlement of the supporting works (结算).
    ProjectSettlement { amount_yuan: f64, settled_at: DateTime<Utc>, documents_complete: bool }
}

section! {
    /// One line of the bill of materials (物资清单).
    Material {
        name: String,
        spec: String,
        quantity: f64,
        unit: String,
        requisition_no: String,
        requisitioned: bool,
        received: bool,
    }
}

section! {
    /// A permit (占路/掘路/占绿) with its expiry.
    Permit {
        kind: String,
        number: String,
        authority: String,
        issued_on: NaiveDate,
        expires_on: NaiveDate,
    }
}

section! {
    /// A construction log entry with progress.
    ConstructionLog {
        at: DateTime<Utc>,
        author: String,
        progress_pct: f64,
        text: String,
        safety_ok: bool,
        quality_ok: bool,
    }
}

section! {
    /// An inspection of the customer's works (design review, mid, completion).
    Inspection {
        requested_at: DateTime<Utc>,
        replied_at: DateTime<Utc>,
        inspector: String,
        passed: bool,
        written_notice: bool,
    };
    findings: BTreeMap<String, Finding>,
}

section! {
    /// A finding raised by an inspection or the office review.
    Finding {
        text: String,
        severity: String,
        raised_by: String,
        raised_at: DateTime<Utc>,
        resolved: bool,
        resolved_at: DateTime<Utc>,
    }
}

section! {
    /// Metering and power-on (装表接电).
    Metering {
        meter_asset_no: String,
        initial_reading: f64,
        ct_ratio: String,
        installer: String,
        installed_at: DateTime<Utc>,
        powered_on_at: DateTime<Utc>,
    };
    seals: BTreeMap<String, Seal>,
}

section! {
    /// A seal on the meter or its box (封印).
    Seal { number: String, position: String }
}

section! {
    /// The return visit (回访). A satisfaction at or below the rule set's
    /// `low_satisfaction_max` opens a follow-up, closed when `follow_up_at` is written.
    ReturnVisit {
        visited_at: DateTime<Utc>,
        visitor: String,
        channel: String,
        satisfaction: i64,
        comment: String,
        follow_up: String,
        follow_up_by: String,
        follow_up_at: DateTime<Utc>,
    }
}

section! {
    /// The customer's own word, given through their tracking link and written by the server on
    /// their behalf (no phone role writes it): the supply plan confirmed (the reply it confirms
    /// is `plan_replied_at`) or a question about it, and their rating of the service and the
    /// customer manager after power-on (kept apart from the dispatcher's return visit).
    CustomerVoice {
        plan_replied_at: DateTime<Utc>,
        plan_confirmed_at: DateTime<Utc>,
        plan_question: String,
        plan_question_at: DateTime<Utc>,
        rating: i64,
        rating_comment: String,
        rated_at: DateTime<Utc>,
    }
}

section! {
    /// A supervision order (督办): a dispatcher tells the responsible manager (`manager`) to act on
    /// a job by `due_on`, for `reason`. The manager answers on their phone (`answer`); unanswered
    /// past `due_on` the server escalates it to the unit's leaders (`escalation`). The dispatcher
    /// closes it (`closed_at`, `remarks`).
    SupervisionOrder {
        issued_at: DateTime<Utc>,
        issued_by: String,
        issued_by_name: String,
        manager: String,
        manager_name: String,
        stage: String,
        reason: String,
        due_on: NaiveDate,
        closed_at: DateTime<Utc>,
        closed_by: String,
        remarks: String,
    };
    answer: SupervisionAnswer,
    escalation: SupervisionEscalation,
}

impl SupervisionOrder {
    /// Whether the order still waits for something: not closed.
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }

    /// Whether the manager has answered.
    pub fn is_answered(&self) -> bool {
        self.answer.answered_at.is_some()
    }

    /// Whether the order is unanswered and open after its deadline, as of `today`.
    pub fn is_late(&self, today: NaiveDate) -> bool {
        self.is_open() && !self.is_answered() && self.due_on.is_some_and(|d| d < today)
    }
}

section! {
    /// The addressed manager's answer to a supervision order.
    SupervisionAnswer { text: String, answered_by: String, answered_at: DateTime<Utc> }
}

section! {
    /// The escalation of an unanswered supervision order to the unit's leaders (written by the
    /// server; `leaders` and `leader_names` are comma-separated).
    SupervisionEscalation { escalated_at: DateTime<Utc>, leaders: String, leader_names: String }
}

section! {
    /// A coordination meeting (项目协调推进会) the project manager called, with who came, what
    /// was discussed and decided. Its action items are `actions` entries naming it.
    Meeting {
        held_on: NaiveDate,
        place: String,
        organizer: String,
        organizer_name: String,
        attendees: String,
        topics: String,
        decisions: String,
    }
}

section! {
    /// An action item of a meeting: what `owner` is to do by `due_on`. The owner records it done
    /// (`done`, laid out with the item).
    ActionItem {
        meeting: String,
        text: String,
        owner: String,
        owner_name: String,
        due_on: NaiveDate,
    };
    done: ActionDone,
}

impl ActionItem {
    /// Whether the item is done.
    pub fn is_done(&self) -> bool {
        self.done.done_at.is_some()
    }

    /// Whether the item is not done after its due day, as of `today`.
    pub fn is_late(&self, today: NaiveDate) -> bool {
        !self.is_done() && self.due_on.is_some_and(|d| d < today)
    }
}

section! {
    /// The owner's record that an action item is done.
    ActionDone { done_at: DateTime<Utc>, done_by: String, note: String }
}

section! {
    /// The connection plan (接电计划) the customer manager sends the project manager: the day
    /// and window proposed for power-on.
    PowerOnPlan {
        planned_on: NaiveDate,
        window_start_at: DateTime<Utc>,
        window_end_at: DateTime<Utc>,
        proposed_by: String,
        proposed_at: DateTime<Utc>,
        note: String,
    }
}

section! {
    /// The outage plan (停电计划) the project manager files for the connection: what is switched
    /// off, when, whom it affects, and where its approval stands.
    OutagePlan {
        lines: String,
        transformers: String,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        customers_affected: i64,
        state: OutageState,
        approval_no: String,
        filed_by: String,
        filed_at: DateTime<Utc>,
        decided_at: DateTime<Utc>,
        note: String,
    }
}

section! {
    /// The firms that design and build the customer's works (客户工程设计、施工单位), by their
    /// id in the unit's register of firms, and the works' dates their certificates must cover.
    CustomerWorks {
        designer_firm: String,
        designer_name: String,
        builder_firm: String,
        builder_name: String,
        works_start_on: NaiveDate,
        works_finish_on: NaiveDate,
        checked_by: String,
        checked_at: DateTime<Utc>,
    }
}

section! {
    /// The typical design (典型设计) picked from the catalogue during the survey, with its cost
    /// range (典型造价) as the catalogue gave it then.
    TypicalDesign {
        design_id: String,
        catalogue: String,
        catalogue_version: i64,
        title: String,
        cost_low_yuan: f64,
        cost_high_yuan: f64,
        picked_by: String,
        picked_at: DateTime<Utc>,
    }
}

section! {
    /// Temporary supply (临时用电) until `ends_on`, with a transformer rented from the utility
    /// (变压器租赁): its asset number, size and rental period, and its removal (拆除).
    TemporarySupply {
        ends_on: NaiveDate,
        transformer_asset_no: String,
        transformer_kva: f64,
        rented_from_on: NaiveDate,
        rented_to_on: NaiveDate,
        removed_at: DateTime<Utc>,
        removed_by: String,
        note: String,
    }
}

section! {
    /// The visit plan of an important customer (重要客户“1+1+1”走访): the company leader who leads
    /// it, the grid manager and the customer manager, and how often (`every_days`, from
    /// `starts_on`).
    VisitPlan {
        leader: String,
        leader_name: String,
        grid_manager: String,
        grid_manager_name: String,
        customer_manager: String,
        customer_manager_name: String,
        every_days: i64,
        starts_on: NaiveDate,
    }
}

section! {
    /// A visit made under the plan, with what was found.
    KeyVisit {
        visited_on: NaiveDate,
        participants: String,
        leader_present: bool,
        findings: String,
        recorded_by: String,
    }
}

section! {
    /// The office review of synced work (审核).
    Review { state: ReviewState, reviewer: String, reviewed_at: DateTime<Utc>, comment: String };
    findings: BTreeMap<String, Finding>,
}

section! {
    /// One group of the document checklist (收资清单), e.g. "subject proof": which document was
    /// collected for it. A job accepted on one document (一证受理) marks the groups still missing
    /// with the day they are to be collected by (`due_on`).
    ChecklistItem {
        doc_type: String,
        collected: bool,
        original_seen: bool,
        collected_by: String,
        collected_at: DateTime<Utc>,
        note: String,
        due_on: NaiveDate,
    };
    photos: BTreeMap<String, bool>,
}

section! {
    /// A photo of the job (照片): metadata only. The original, the display copy and the
    /// thumbnail are content-addressed blobs named by their SHA-256. Recorded once, never edited.
    /// `watermark` holds the lines drawn on the display copy (job number, time, position, who),
    /// one per line, so they can be read without reading pixels.
    Photo {
        purpose: PhotoPurpose,
        caption: String,
        author: String,
        author_name: String,
        device: String,
        taken_at: DateTime<Utc>,
        captured_at: DateTime<Utc>,
        latitude: f64,
        longitude: f64,
        gps_accuracy_m: f64,
        gps_source: String,
        camera: String,
        checklist_group: String,
        original_sha256: String,
        original_bytes: i64,
        original_mime: String,
        width: i64,
        height: i64,
        display_sha256: String,
        display_bytes: i64,
        display_width: i64,
        display_height: i64,
        thumbnail_sha256: String,
        thumbnail_bytes: i64,
        watermark: String,
    }
}

impl Photo {
    /// The media type this photo declares for its blob of `role`: the original's own (JPEG when
    /// unnamed); the display copy and the thumbnail are always JPEG.
    pub fn declared_mime(&self, role: &str) -> &str {
        match role {
            "original" => self.original_mime.as_deref().unwrap_or("image/jpeg"),
            _ => "image/jpeg",
        }
    }

    /// The blobs this photo names: (role, sha256, size).
    pub fn blobs(&self) -> Vec<(&'static str, &str, i64)> {
        [
            ("thumbnail", &self.thumbnail_sha256, self.thumbnail_bytes),
            ("display", &self.display_sha256, self.display_bytes),
            ("original", &self.original_sha256, self.original_bytes),
        ]
        .into_iter()
        .filter_map(|(role, h, n)| Some((role, h.as_deref()?, n.unwrap_or(0))))
        .collect()
    }
}

section! {
    /// A signed supply contract (供用电合同), written once when it is signed and never edited
    /// (see `field_core::contract`). `manifest` is the exact JSON the device signed; `values`
    /// is the JSON object of the values filled into the template.
    Contract {
        template_id: String,
        template_version: i64,
        title: String,
        contract_no: String,
        version: i64,
        amends: String,
        values: String,
        text: String,
        text_sha256: String,
        customer_name: String,
        customer_strokes: String,
        manager_name: String,
        manager_strokes: String,
        manifest: String,
        manifest_sha256: String,
        device_signature: String,
        device_key: String,
        device: String,
        signed_by: String,
        signed_at: DateTime<Utc>,
    };
    receipt: ContractReceipt,
}

impl Contract {
    /// Whether the contract carries a signed manifest.
    pub fn is_signed(&self) -> bool {
        self.manifest.is_some() && self.device_signature.is_some()
    }
}

section! {
    /// The server's countersignature of a contract (`receipt` is the exact JSON it signed).
    ContractReceipt { receipt: String, signature: String, received_at: DateTime<Utc> }
}

section! {
    /// A milestone on the timeline.
    Milestone {
        event: MilestoneEvent,
        actor: String,
        at: DateTime<Utc>,
        recorded_at: DateTime<Utc>,
        device: String,
        note: String,
    }
}

section! {
    /// An interval during which the job waits on the customer; time-limit clocks pause.
    Pause {
        reason: String,
        started_at: DateTime<Utc>,
        started_by: String,
        ended_at: DateTime<Utc>,
        ended_by: String,
    }
}

section! {
    /// Which rule set was in force when the job was accepted.
    RulesRef { id: String, version: i64 }
}
