//! [`JobDoc`]: one automerge document per job.

use super::edit::{Edit, EditContext, Write};
use super::mapping::{self, MappingError, ensure_map, get_map, put_patch};
use super::{Job, sections::Milestone};
use crate::codes::{InspectionKind, JobKind, MilestoneEvent};
use crate::rules::RuleSet;
use crate::validate::{Invalid, check_id, check_patch};
use automerge::{
    ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, TextEncoding,
    transaction::{CommitOptions, Transactable},
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// Version of the document layout in `docs/job-document.md`.
pub const SCHEMA_VERSION: i64 = 1;

/// Sections created with every job, so that no two replicas ever create the same map
/// concurrently (which would hide one side's fields behind a conflict).
const SECTIONS: &[&[&str]] = &[
    &["rules"],
    &["customer"],
    &["agent"],
    &["application"],
    &["application", "special_loads"],
    &["checklist"],
    &["assignment"],
    &["survey"],
    &["supply_plan"],
    &["project"],
    &["project", "design"],
    &["project", "acceptance"],
    &["project", "settlement"],
    &["project", "materials"],
    &["project", "permits"],
    &["project", "logs"],
    &["inspections"],
    &["metering"],
    &["metering", "seals"],
    &["return_visit"],
    &["customer_voice"],
    &["review"],
    &["review", "findings"],
    &["milestones"],
    &["pauses"],
    &["photos"],
    &["contracts"],
    &["supervision"],
    &["meetings"],
    &["actions"],
    &["power_on_plan"],
    &["outage_plan"],
    &["customer_works"],
    &["typical_design"],
    &["temporary_supply"],
    &["visit_plan"],
    &["key_visits"],
];

/// Errors of job documents.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("工单文档损坏 / the job document is corrupt: {0}")]
    Corrupt(String),
    #[error(
        "工单文档版本 {found} 比本应用支持的 {supported} 新，请升级应用 / job document schema {found} is newer than this app supports ({supported}): please update"
    )]
    TooNew { found: i64, supported: i64 },
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    #[error(transparent)]
    NotAutomerge(#[from] super::chunks::ChunkError),
}

impl From<MappingError> for JobError {
    fn from(e: MappingError) -> Self {
        match e {
            MappingError::Automerge(a) => JobError::Automerge(a),
            MappingError::Value { field, reason } => {
                JobError::Invalid(Invalid::new(&field, reason.clone(), reason))
            }
            e @ MappingError::TooDeep { .. } => JobError::Corrupt(e.to_string()),
        }
    }
}

/// What is needed to create a job (受理).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewJob {
    /// Client-chosen id (UUID); generated when `None`.
    pub id: Option<String>,
    /// Human job number; generated from the acceptance date when `None`.
    pub job_no: Option<String>,
    pub kind: JobKind,
    pub unit: String,
    pub accepted_at: DateTime<Utc>,
    pub customer: super::Customer,
    #[serde(default)]
    pub application: super::Application,
}

/// One job as an automerge document.
#[derive(Debug)]
pub struct JobDoc {
    doc: AutoCommit,
    /// The typed view of the current state; cleared by every mutation.
    view: Option<Job>,
}

fn new_doc(actor: ActorId) -> AutoCommit {
    AutoCommit::new_with_encoding(TextEncoding::UnicodeCodePoint).with_actor(actor)
}

impl JobDoc {
    /// Creates the document of a newly accepted job, with every section laid out, the checklist
    /// groups of its kind, and the `accepted` milestone.
    pub fn create(
        actor: ActorId,
        new: &NewJob,
        rules: &RuleSet,
        ctx: &EditContext,
    ) -> Result<JobDoc, JobError> {
        let id = new
            .id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        check_id("job.id", &id)?;
        let job_no = new.job_no.clone().unwrap_or_else(|| {
            format!(
                "YK{}{}",
                super::local_date(new.accepted_at).format("%Y%m%d"),
                &id[..6.min(id.len())].to_uppercase()
            )
        });
        let unit = new.unit.trim();
        if unit.is_empty() {
            return Err(
                Invalid::new("job.unit", "必须填写供电单位", "the unit is required").into(),
            );
        }
        let customer = serde_json::to_value(&new.customer)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default();
        check_patch("customer", &customer)?;
        if new
            .customer
            .name
            .as_deref()
            .is_none_or(|n| n.trim().is_empty())
        {
            return Err(Invalid::new(
                "customer.name",
                "必须填写客户名称",
                "the customer's name is required",
            )
            .into());
        }
        let application = serde_json::to_value(&new.application)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default();
        check_patch("application", &application)?;
        if let Some(w) = new.application.wanted_on
            && w < super::local_date(new.accepted_at)
        {
            return Err(Invalid::new(
                "application.wanted_on",
                "期望送电日期早于受理日期",
                "the wanted power-on date is before acceptance",
            )
            .into());
        }

        let mut doc = new_doc(actor);
        doc.put(ROOT, "schema_version", SCHEMA_VERSION)?;
        doc.put(ROOT, "id", id.as_str())?;
        doc.put(ROOT, "job_no", job_no.as_str())?;
        doc.put(ROOT, "kind", new.kind.as_str())?;
        doc.put(ROOT, "unit", unit)?;
        doc.put(
            ROOT,
            "created_at",
            ScalarValue::Timestamp(ctx.now.timestamp_millis()),
        )?;
        for section in SECTIONS {
            let mut obj = ROOT;
            for key in *section {
                obj = ensure_map(&mut doc, &obj, key)?;
            }
        }
        let inspections = get_map(&doc, &ROOT, "inspections")?.expect("created above");
        for kind in InspectionKind::ALL {
            let i = ensure_map(&mut doc, &inspections, kind.as_str())?;
            ensure_map(&mut doc, &i, "findings")?;
        }
        let checklist = get_map(&doc, &ROOT, "checklist")?.expect("created above");
        for group in rules.document_groups(new.kind) {
            let g = ensure_map(&mut doc, &checklist, &group.key)?;
            ensure_map(&mut doc, &g, "photos")?;
        }
        doc.put_object(ROOT, "notes", ObjType::Text)?;
        let rules_obj = get_map(&doc, &ROOT, "rules")?.expect("created above");
        doc.put(&rules_obj, "id", rules.id.as_str())?;
        doc.put(&rules_obj, "version", i64::from(rules.version))?;
        let cust = get_map(&doc, &ROOT, "customer")?.expect("created above");
        put_patch(&mut doc, &cust, &customer)?;
        let app = get_map(&doc, &ROOT, "application")?.expect("created above");
        put_patch(&mut doc, &app, &application)?;

        let milestone = Milestone {
            event: Some(MilestoneEvent::Accepted),
            actor: Some(ctx.actor.clone()),
            at: Some(new.accepted_at),
            recorded_at: Some(ctx.now),
            device: Some(ctx.device.clone()),
            note: None,
        };
        let milestones = get_map(&doc, &ROOT, "milestones")?.expect("created above");
        let m = ensure_map(&mut doc, &milestones, "accepted")?;
        let fields = serde_json::to_value(&milestone)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default();
        put_patch(&mut doc, &m, &fields)?;
        doc.commit_with(commit_options("create_job", ctx));
        Ok(JobDoc { doc, view: None })
    }

    /// Loads a saved document (snapshot, optionally followed by incremental chunks).
    pub fn load(bytes: &[u8], actor: ActorId) -> Result<JobDoc, JobError> {
        if bytes.is_empty() {
            return Err(JobError::Corrupt("empty document".into()));
        }
        let doc = AutoCommit::load_with_options(
            bytes,
            automerge::LoadOptions::new().text_encoding(TextEncoding::UnicodeCodePoint),
        )
        .map_err(|e| JobError::Corrupt(e.to_string()))?
        .with_actor(actor);
        let mut job = JobDoc { doc, view: None };
        job.job()?;
        Ok(job)
    }

    /// Applies incremental chunks (`save_incremental` output) in order.
    pub fn load_incremental(&mut self, chunk: &[u8]) -> Result<(), JobError> {
        self.view = None;
        self.doc
            .load_incremental(chunk)
            .map_err(|e| JobError::Corrupt(e.to_string()))?;
        Ok(())
    }

    /// The typed view, with conflicts; cached until the document changes.
    pub fn job(&mut self) -> Result<Job, JobError> {
        if let Some(job) = &self.view {
            return Ok(job.clone());
        }
        let job = self.read()?;
        self.view = Some(job.clone());
        Ok(job)
    }

    /// The whole document as JSON, every nested part included (the typed view leaves some
    /// out), with the conflicts it holds. For readers that show everything, e.g. the office.
    pub fn to_json(&self) -> Result<(Json, Vec<mapping::Conflict>), JobError> {
        let mut conflicts = Vec::new();
        let root = mapping::read_object(&self.doc, &ROOT, "", &mut conflicts)?;
        Ok((root, conflicts))
    }

    /// The typed view, with conflicts, read afresh from the document.
    pub fn read(&self) -> Result<Job, JobError> {
        let mut conflicts = Vec::new();
        let mut root = mapping::read_object(&self.doc, &ROOT, "", &mut conflicts)?;
        let schema = root
            .get("schema_version")
            .and_then(Json::as_i64)
            .ok_or_else(|| JobError::Corrupt("schema_version is missing".into()))?;
        if schema > SCHEMA_VERSION {
            return Err(JobError::TooNew {
                found: schema,
                supported: SCHEMA_VERSION,
            });
        }
        if let Some(obj) = root.as_object_mut() {
            obj.insert(
                "conflicts".into(),
                serde_json::to_value(&conflicts).unwrap_or_default(),
            );
            // Sections are filled leniently; the identity fields must be right.
            for key in [
                "customer",
                "agent",
                "application",
                "checklist",
                "assignment",
                "survey",
                "supply_plan",
                "project",
                "inspections",
                "metering",
                "return_visit",
                "review",
                "milestones",
                "pauses",
                "photos",
                "contracts",
                "supervision",
                "meetings",
                "actions",
                "power_on_plan",
                "outage_plan",
                "customer_works",
                "typical_design",
                "temporary_supply",
                "visit_plan",
                "key_visits",
                "rules",
            ] {
                let v = obj.entry(key).or_insert(Json::Null);
                if !v.is_object() {
                    *v = Json::Object(Default::default());
                }
            }
            obj.entry("notes").or_insert(Json::String(String::new()));
        }
        serde_json::from_value(root).map_err(|e| JobError::Corrupt(e.to_string()))
    }

    /// Validates `edit` against the current job and applies it as one automerge change.
    /// On error the document is unchanged.
    pub fn apply(
        &mut self,
        edit: &Edit,
        ctx: &EditContext,
    ) -> Result<Option<ChangeHash>, JobError> {
        let job = self.job()?;
        let writes = edit.plan(&job, ctx)?;
        self.view = None;
        match self.write(writes) {
            Ok(()) => Ok(self.doc.commit_with(commit_options(edit.name(), ctx))),
            Err(e) => {
                self.doc.rollback();
                Err(e)
            }
        }
    }

    fn write(&mut self, writes: Vec<Write>) -> Result<(), JobError> {
        for w in writes {
            match w {
                Write::Patch { path, fields } => {
                    let obj = self.ensure_path(&path)?;
                    put_patch(&mut self.doc, &obj, &fields)?;
                }
                Write::Entry { path, id, fields } => {
                    let parent = self.ensure_path(&path)?;
                    let obj = ensure_map(&mut self.doc, &parent, &id)?;
                    put_patch(&mut self.doc, &obj, &fields)?;
                }
                Write::EndPauses { fields } => {
                    let pauses = self.ensure_path(&["pauses".to_string()])?;
                    let open: Vec<ObjId> = self
                        .doc
                        .keys(&pauses)
                        .filter_map(|k| get_map(&self.doc, &pauses, &k).ok().flatten())
                        .filter(|p| {
                            self.doc.get(p, "started_at").ok().flatten().is_some()
                                && self.doc.get(p, "ended_at").ok().flatten().is_none()
                        })
                        .collect();
                    for p in open {
                        put_patch(&mut self.doc, &p, &fields)?;
                    }
                }
                Write::Splice {
                    pos,
                    delete,
                    insert,
                } => {
                    let notes = self.notes_obj()?;
                    self.doc
                        .splice_text(&notes, pos, delete as isize, &insert)?;
                }
                Write::SetText { text } => {
                    let notes = self.notes_obj()?;
                    self.doc.update_text(&notes, &text)?;
                }
            }
        }
        Ok(())
    }

    fn notes_obj(&mut self) -> Result<ObjId, JobError> {
        match self.doc.get(ROOT, "notes")? {
            Some((automerge::Value::Object(ObjType::Text), id)) => Ok(id),
            _ => Ok(self.doc.put_object(ROOT, "notes", ObjType::Text)?),
        }
    }

    fn ensure_path(&mut self, path: &[String]) -> Result<ObjId, JobError> {
        let mut obj = ROOT;
        for key in path {
            obj = ensure_map(&mut self.doc, &obj, key)?;
        }
        Ok(obj)
    }

    /// The whole document, compacted (portable: any automerge implementation loads it).
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }

    /// The whole document without DEFLATE on its columns: larger, and several times quicker to
    /// write (the server's snapshots, which the database stores as they are).
    pub fn save_plain(&mut self) -> Vec<u8> {
        self.doc.save_with_options(automerge::SaveOptions {
            deflate: false,
            retain_orphans: true,
        })
    }

    /// Changes since the last `save`/`save_incremental`.
    pub fn save_incremental(&mut self) -> Vec<u8> {
        self.doc.save_incremental()
    }

    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Changes that are not ancestors of `heads` (all changes for empty `heads`).
    pub fn changes_since(&mut self, heads: &[ChangeHash]) -> Vec<automerge::Change> {
        self.doc.get_changes(heads)
    }

    /// Whether the document contains the change `hash`.
    pub fn has_change(&mut self, hash: &ChangeHash) -> bool {
        self.doc.get_change_by_hash(hash).is_some()
    }

    /// The change chunks after `heads` (what a peer that has `heads` lacks).
    pub fn save_after(&mut self, heads: &[ChangeHash]) -> Vec<u8> {
        self.doc.save_after(heads)
    }

    /// Merges another replica of the same job.
    pub fn merge(&mut self, other: &mut JobDoc) -> Result<(), JobError> {
        self.view = None;
        self.doc.merge(&mut other.doc)?;
        Ok(())
    }

    /// Applies raw changes (bytes of `save`, `save_incremental` or `save_after`) from another replica.
    /// The bytes are checked strictly first: anything that is not whole automerge chunks is
    /// refused and the document is unchanged.
    pub fn apply_remote(&mut self, bytes: &[u8]) -> Result<(), JobError> {
        super::chunks::check(bytes)?;
        self.load_incremental(bytes)
    }

    /// A copy of this document that writes as `actor` (e.g. a second device in tests).
    pub fn fork_as(&mut self, actor: ActorId) -> JobDoc {
        JobDoc {
            doc: self.doc.fork().with_actor(actor),
            view: self.view.clone(),
        }
    }

    /// The underlying automerge document, read-only (keeps the cached typed view).
    pub fn automerge_ref(&self) -> &AutoCommit {
        &self.doc
    }

    /// The underlying automerge document, for the sync layer.
    pub fn automerge(&mut self) -> &mut AutoCommit {
        self.view = None;
        &mut self.doc
    }
}

fn commit_options(message: &str, ctx: &EditContext) -> CommitOptions {
    CommitOptions::default()
        .with_message(message.to_string())
        .with_time(ctx.now.timestamp())
}
