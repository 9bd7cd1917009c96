//! Records for photos, contracts and sync, and their conversions.

use crate::views::JobView;
use field_core::codes::PhotoPurpose;
use field_core::contract::{self, SignaturePad, StrokePoint};
use std::collections::HashMap;

/// Where the phone was, from its own location fix.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[uniffi(default)]
    pub accuracy_m: Option<f64>,
}

/// What the app knows about a photo besides its bytes.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PhotoCapture {
    pub purpose: PhotoPurpose,
    #[uniffi(default)]
    pub caption: Option<String>,
    #[uniffi(default)]
    pub location: Option<Location>,
    /// For document-proof photos: the checklist group it proves.
    #[uniffi(default)]
    pub checklist_group: Option<String>,
    /// The author's name for the watermark.
    #[uniffi(default)]
    pub author_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct AddedPhoto {
    pub photo_id: String,
    /// The same original was already on the job; nothing was added.
    pub duplicate: bool,
    pub job: JobView,
}

/// Photos still to upload.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct UploadQueue {
    pub photos_pending: u32,
    pub blobs_pending: u32,
    pub bytes_pending: u64,
    pub blobs_uploaded: u32,
}

/// One sampled point of a handwritten stroke.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct InkPoint {
    pub x: f64,
    pub y: f64,
    /// Milliseconds since the signature began.
    pub t_ms: u64,
    /// Pen pressure 0–1, when the screen reports it.
    #[uniffi(default)]
    pub pressure: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Stroke {
    pub points: Vec<InkPoint>,
}

/// A handwritten signature as drawn: canvas size in pixels and the strokes.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Signature {
    pub width: u32,
    pub height: u32,
    pub strokes: Vec<Stroke>,
}

impl From<&Signature> for SignaturePad {
    fn from(s: &Signature) -> SignaturePad {
        SignaturePad {
            width: s.width,
            height: s.height,
            strokes: s
                .strokes
                .iter()
                .map(|k| {
                    k.points
                        .iter()
                        .map(|p| StrokePoint {
                            x: p.x,
                            y: p.y,
                            t_ms: p.t_ms,
                            pressure: p.pressure,
                        })
                        .collect()
                })
                .collect(),
        }
    }
}

/// What signing a contract needs besides the job.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ContractRequest {
    /// Chosen by the app (a UUID) so a retried call cannot sign twice; generated when absent.
    #[uniffi(default)]
    pub contract_id: Option<String>,
    /// The supplier (供电人), e.g. the unit's legal name.
    pub supplier: String,
    /// Other values the template asks for at signing (`term`, `contract_no`, `manager_name`, …).
    #[uniffi(default)]
    pub inputs: HashMap<String, String>,
    /// The contract this one amends.
    #[uniffi(default)]
    pub amends: Option<String>,
    /// The customer's name as signed (default: the customer in the text).
    #[uniffi(default)]
    pub customer_name: Option<String>,
    pub customer_signature: Signature,
    pub manager_signature: Signature,
    /// Photos the signed record names (ID card, site, meter).
    #[uniffi(default)]
    pub photo_ids: Vec<String>,
    #[uniffi(default)]
    pub location: Option<Location>,
}

/// A value the contract still needs.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct MissingValue {
    pub key: String,
    pub zh: String,
    pub en: String,
}

/// The contract as it would read if signed now.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ContractPreview {
    pub template_id: String,
    pub template_version: u32,
    pub title: String,
    pub text: String,
    pub values: HashMap<String, String>,
    pub missing: Vec<MissingValue>,
}

impl From<contract::Filled> for ContractPreview {
    fn from(f: contract::Filled) -> Self {
        ContractPreview {
            template_id: f.template_id,
            template_version: f.template_version,
            title: f.title,
            text: f.text,
            values: f.values.into_iter().collect(),
            missing: f
                .missing
                .into_iter()
                .map(|m| MissingValue {
                    key: m.key,
                    zh: m.zh,
                    en: m.en,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SignedContract {
    pub contract_id: String,
    pub text_sha256: String,
    pub manifest_sha256: String,
    pub job: JobView,
}

/// One finding of a verification: which part, and why (Chinese and English).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct PartFinding {
    /// `text`, `signature`, `photo`, `manifest` or `receipt`.
    pub part: String,
    /// The signer role or photo id, when the part has one.
    pub part_id: Option<String>,
    pub part_zh: String,
    pub part_en: String,
    pub zh: String,
    pub en: String,
}

#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ContractCheck {
    pub contract_id: String,
    pub valid: bool,
    pub countersigned: bool,
    pub received_at: Option<String>,
    pub altered: Vec<PartFinding>,
    pub unchecked: Vec<PartFinding>,
    pub summary_zh: String,
    pub summary_en: String,
}

fn finding(f: &contract::Finding) -> PartFinding {
    let (part, part_id) = match &f.part {
        contract::Part::Text => ("text", None),
        contract::Part::Signature(r) => (
            "signature",
            Some(match r {
                contract::SignerRole::Customer => "customer".to_string(),
                contract::SignerRole::CustomerManager => "customer_manager".to_string(),
            }),
        ),
        contract::Part::Photo(id) => ("photo", Some(id.clone())),
        contract::Part::Manifest => ("manifest", None),
        contract::Part::Receipt => ("receipt", None),
    };
    PartFinding {
        part: part.to_string(),
        part_id,
        part_zh: f.part.zh(),
        part_en: f.part.en(),
        zh: f.zh.clone(),
        en: f.en.clone(),
    }
}

impl From<contract::Verification> for ContractCheck {
    fn from(v: contract::Verification) -> Self {
        let (summary_zh, summary_en) = v.summary();
        ContractCheck {
            valid: v.is_valid(),
            contract_id: v.contract_id,
            countersigned: v.countersigned,
            received_at: v.received_at,
            altered: v.altered.iter().map(finding).collect(),
            unchecked: v.unchecked.iter().map(finding).collect(),
            summary_zh,
            summary_en,
        }
    }
}

/// Progress of a sync run, after each round trip and during photo uploads.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SyncProgress {
    pub round_trips: u32,
    pub jobs_pushed: u32,
    pub jobs_pulled: u32,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub more: bool,
    pub photos_blobs_pending: u32,
    pub photo_bytes_pending: u64,
    pub photo_bytes_sent: u64,
}

impl From<&field_core::sync::SyncProgress> for SyncProgress {
    fn from(p: &field_core::sync::SyncProgress) -> Self {
        SyncProgress {
            round_trips: p.round_trips,
            jobs_pushed: p.jobs_pushed,
            jobs_pulled: p.jobs_pulled,
            bytes_sent: p.bytes_sent,
            bytes_received: p.bytes_received,
            more: p.more,
            photos_blobs_pending: p.blobs_pending,
            photo_bytes_pending: p.photo_bytes_pending,
            photo_bytes_sent: p.photo_bytes_sent,
        }
    }
}

/// What a sync run did.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct SyncResult {
    pub jobs_pushed: u32,
    pub jobs_pulled: u32,
    pub jobs_merged: u32,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub round_trips: u32,
    pub retries: u32,
    pub duration_ms: u64,
    pub complete: bool,
    /// Jobs the server refused, with why (they are set aside: see `refusedJobs()`).
    pub rejected_zh: Vec<String>,
    pub rejected_en: Vec<String>,
    pub rejected_jobs: Vec<String>,
    /// Jobs that left this user's scope (e.g. reassigned).
    pub left_scope: Vec<String>,
    pub photos_uploaded: u32,
    pub photos_blobs_pending: u32,
    pub photo_bytes_sent: u64,
    /// Photo files queued again because the server no longer had them (restored from a backup).
    pub photos_requeued: u32,
    /// Why photo uploads stopped early (documents synced regardless).
    pub photo_error: Option<String>,
    /// Rule sets, write policies and calendar bundles installed from the server.
    pub reference_installed: u32,
    /// Reference data this app could not use, or why fetching it failed.
    pub reference_errors: Vec<String>,
}

impl From<field_core::sync::SyncReport> for SyncResult {
    fn from(r: field_core::sync::SyncReport) -> Self {
        let photos = r.photos.clone().unwrap_or_default();
        SyncResult {
            jobs_pushed: r.jobs_pushed,
            jobs_pulled: r.jobs_pulled,
            jobs_merged: r.jobs_merged,
            bytes_sent: r.bytes_sent,
            bytes_received: r.bytes_received,
            round_trips: r.round_trips,
            retries: r.retries,
            duration_ms: r.duration_ms,
            complete: r.complete,
            rejected_zh: r
                .rejected
                .iter()
                .map(|x| format!("{}: {}", x.job_id, x.zh))
                .collect(),
            rejected_en: r
                .rejected
                .iter()
                .map(|x| format!("{}: {}", x.job_id, x.en))
                .collect(),
            rejected_jobs: r.rejected.iter().map(|x| x.job_id.clone()).collect(),
            left_scope: r.left_scope.clone(),
            photos_uploaded: photos.blobs_uploaded,
            photos_blobs_pending: photos.blobs_pending,
            photo_bytes_sent: photos.bytes_sent,
            photos_requeued: r.photos_requeued,
            photo_error: r.photo_error,
            reference_installed: r.reference_installed,
            reference_errors: r.reference_errors,
        }
    }
}

/// A grid cell of the user's unit (接入受限): pick it for a job (`application.gridCell`); the
/// direct-install verdict then follows the cell's current grade.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct GridCellView {
    pub id: String,
    pub name: String,
    pub grade: field_core::GridHealth,
    pub note: String,
    pub upgrade_project: String,
}

/// A dated item of a job on this phone (议定事项、计划接电、计划停电、租赁变压器拆除、重要客户走访).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct AgendaEntryView {
    pub job_id: String,
    pub job_no: String,
    pub customer_name: String,
    pub item_id: String,
    /// `action`, `power_on`, `outage`, `rental_removal` or `key_visit`.
    pub kind: String,
    pub kind_zh: String,
    pub owner: Option<String>,
    pub due_on: crate::types::Date,
    pub title: String,
    /// `late`, `due_soon` or `upcoming`.
    pub state: String,
    pub state_zh: String,
}

/// A typical design (典型设计) that fits a job, with its typical cost range (yuan).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TypicalDesignOption {
    pub id: String,
    pub title_zh: String,
    pub title_en: String,
    pub scope_zh: String,
    pub capacity_min_kva: f64,
    pub capacity_max_kva: f64,
    pub cost_low_yuan: f64,
    pub cost_high_yuan: f64,
}

/// The designs that fit a job, from the catalogue in force.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct TypicalDesignChoice {
    pub catalogue: String,
    pub catalogue_version: u32,
    pub designs: Vec<TypicalDesignOption>,
}

/// The verdict on a firm the job names (design or construction).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FirmCheckView {
    pub role: field_core::FirmRole,
    pub firm_id: String,
    /// From the unit's register (`None`: not registered).
    pub firm_name: Option<String>,
    pub ok: bool,
    pub reasons_zh: Vec<String>,
    pub reasons_en: Vec<String>,
}
