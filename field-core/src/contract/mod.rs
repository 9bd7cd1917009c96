//! The on-the-spot supply contract (供用电合同).
//!
//! A template (versioned data) is filled from the job; its canonical text is hashed; the
//! customer and the customer manager sign by hand (raw strokes); the device signs a manifest
//! naming the template, the text hash, the stroke hashes, the photos, GPS, time and device; the
//! server countersigns the manifest when it arrives. A signed contract is never edited: a change
//! is an amendment, a new contract that names the one it replaces. `verify` says whether every
//! part is as signed, or which part was altered. See `docs/contracts.md`.

mod fill;
mod keys;
mod manifest;
#[cfg(feature = "photo")]
mod raster;
pub mod sample;
mod signature;
mod template;
mod verify;

pub use fill::{Filled, Header, MissingField, fill, render, text_sha256};
pub use keys::{BadSignature, KeyPair, parse_public_key, verify as verify_signature};
pub use manifest::{
    GeoFix, MANIFEST_FORMAT, Manifest, PhotoRef, RECEIPT_FORMAT, Receipt, SignatureRef, SignerRole,
};
#[cfg(feature = "photo")]
pub use raster::signature_png;
pub use signature::{MAX_POINTS, MAX_STROKES, SignaturePad, StrokePoint};
pub use template::{Clause, FieldSpec, Format, Label, Template, template, template_for, templates};
pub use verify::{Evidence, Finding, Part, Trust, Verification, trusted_server_key, verify};

use crate::codes::JobKind;
use crate::job::{Contract, ContractReceipt, Job, local_date};
use crate::validate::Invalid;
use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Errors of contracts.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("没有适用于“{}”的合同范本 / no contract template for {}", .0.zh(), .0.en())]
    NoTemplate(JobKind),
    #[error(
        "合同范本 {id} 第 {version} 版不存在 / contract template {id} v{version} does not exist"
    )]
    UnknownTemplate { id: String, version: u32 },
    #[error("合同范本无效 / invalid contract template: {0}")]
    Template(String),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("签名密钥无效 / invalid signing key: {0}")]
    Key(String),
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Longest contract id (the signing milestone's id is derived from it).
pub const CONTRACT_ID_MAX: usize = 40;
/// Longest canonical text, in characters.
pub const TEXT_MAX: usize = 50_000;

/// What the customer manager provides to sign a contract.
#[derive(Debug, Clone, PartialEq)]
pub struct SignRequest {
    pub contract_id: String,
    /// `None`: the newest template for the job's kind.
    pub template: Option<(String, u32)>,
    /// Values given at signing (`input.<name>` in templates): `supplier`, `contract_no`,
    /// `term`, `manager_name`, … `signed_on` defaults to the signing date.
    pub inputs: BTreeMap<String, String>,
    /// The contract this one amends.
    pub amends: Option<String>,
    /// The customer's name as signed (default: the customer in the text).
    pub customer_name: Option<String>,
    pub customer: SignaturePad,
    pub manager: SignaturePad,
    /// Photos the manifest names (e.g. the ID card, the site, the meter).
    pub photo_ids: Vec<String>,
    pub gps: Option<GeoFix>,
}

/// Who signs, where and when (filled in by the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub user: String,
    pub device_id: String,
    pub device_time: DateTime<Utc>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The template for a request: the one named, or the newest for the job's kind.
pub fn template_of(
    job: &Job,
    req_template: Option<&(String, u32)>,
) -> Result<&'static Template, ContractError> {
    match req_template {
        Some((id, version)) => template(id, *version),
        None => template_for(job.kind),
    }
}

/// Version and amended contract number for a new contract amending `amends`.
pub fn header_for(job: &Job, amends: Option<&str>) -> Result<Header, Invalid> {
    let Some(old_id) = amends else {
        return Ok(Header {
            version: 1,
            amends_no: None,
        });
    };
    let old = job
        .contracts
        .get(old_id)
        .filter(|c| c.is_signed())
        .ok_or_else(|| {
            Invalid::new(
                "contract.amends",
                format!("要变更的合同 {old_id} 不存在或未签署"),
                format!("the contract to amend ({old_id}) does not exist or is not signed"),
            )
        })?;
    if let Some((newer, _)) = job
        .contracts
        .iter()
        .find(|(_, c)| c.amends.as_deref() == Some(old_id))
    {
        return Err(Invalid::new(
            "contract.amends",
            format!("合同 {old_id} 已由 {newer} 变更，请在最新版本上变更"),
            format!("contract {old_id} was already amended by {newer}: amend the newest version"),
        ));
    }
    Ok(Header {
        version: old.version.unwrap_or(1) as u32 + 1,
        amends_no: old.contract_no.clone(),
    })
}

/// Fills, renders and signs a contract: the record to store in the job (`Edit::SignContract`).
pub fn sign(
    job: &Job,
    req: &SignRequest,
    signer: &Signer,
    key: &KeyPair,
) -> Result<Contract, ContractError> {
    crate::validate::check_id("contract.id", &req.contract_id)?;
    if req.contract_id.len() > CONTRACT_ID_MAX {
        return Err(Invalid::new(
            "contract.id",
            format!("合同标识最长 {CONTRACT_ID_MAX} 位"),
            format!("a contract id has at most {CONTRACT_ID_MAX} characters"),
        )
        .into());
    }
    req.customer.validate("contract.customer_signature")?;
    req.manager.validate("contract.manager_signature")?;
    let template = template_of(job, req.template.as_ref())?;
    let header = header_for(job, req.amends.as_deref())?;
    let mut inputs = req.inputs.clone();
    inputs.entry("signed_on".into()).or_insert_with(|| {
        local_date(signer.device_time)
            .format("%Y年%m月%d日")
            .to_string()
    });
    inputs
        .entry("contract_no".into())
        .or_insert_with(|| format!("{}-HT{:02}", job.job_no, header.version));
    let filled = fill(template, job, &inputs, &header);
    filled.require_complete()?;
    let text = filled.text;
    if text.chars().count() > TEXT_MAX {
        return Err(Invalid::new(
            "contract.text",
            "合同文本过长",
            format!("the contract text exceeds {TEXT_MAX} characters"),
        )
        .into());
    }
    let mut photos = Vec::new();
    for id in &req.photo_ids {
        let p = job.photos.get(id).ok_or_else(|| {
            Invalid::new(
                "contract.photos",
                format!("工单中没有照片 {id}"),
                format!("the job has no photo {id}"),
            )
        })?;
        photos.push(PhotoRef {
            photo_id: id.clone(),
            purpose: p
                .purpose
                .map(|c| c.as_str().to_string())
                .unwrap_or_default(),
            sha256: p.original_sha256.clone().unwrap_or_default(),
        });
    }
    let customer_strokes = req.customer.canonical_json();
    let manager_strokes = req.manager.canonical_json();
    let customer_name = req
        .customer_name
        .clone()
        .or_else(|| filled.values.get("customer").cloned())
        .unwrap_or_default();
    let manager_name = filled
        .values
        .get("manager")
        .cloned()
        .unwrap_or_else(|| signer.user.clone());
    let contract_no = filled
        .values
        .get("contract_no")
        .cloned()
        .unwrap_or_default();
    let amends_manifest_sha256 = req
        .amends
        .as_ref()
        .and_then(|id| job.contracts.get(id))
        .and_then(|c| c.manifest.as_deref())
        .map(|m| sha256_hex(m.as_bytes()));
    let manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        job_id: job.id.clone(),
        contract_id: req.contract_id.clone(),
        contract_no: contract_no.clone(),
        template_id: template.id.clone(),
        template_version: template.version,
        version: header.version,
        amends: req.amends.clone(),
        amends_no: header.amends_no.clone(),
        amends_manifest_sha256,
        text_sha256: text_sha256(&text),
        signatures: vec![
            SignatureRef {
                role: SignerRole::Customer,
                name: customer_name.clone(),
                sha256: sha256_hex(customer_strokes.as_bytes()),
                points: req.customer.point_count() as u32,
            },
            SignatureRef {
                role: SignerRole::CustomerManager,
                name: manager_name.clone(),
                sha256: sha256_hex(manager_strokes.as_bytes()),
                points: req.manager.point_count() as u32,
            },
        ],
        photos,
        gps: req.gps,
        device_time: rfc3339(signer.device_time),
        device_id: signer.device_id.clone(),
        device_key: key.public_hex(),
        signer: signer.user.clone(),
    };
    let manifest_json = manifest.to_json();
    let device_signature = key.sign(manifest_json.as_bytes());
    Ok(Contract {
        template_id: Some(template.id.clone()),
        template_version: Some(template.version.into()),
        title: Some(template.title.zh.clone()),
        contract_no: Some(contract_no),
        version: Some(header.version.into()),
        amends: req.amends.clone(),
        values: Some(serde_json::to_string(&filled.values).expect("strings serialise")),
        text_sha256: Some(manifest.text_sha256.clone()),
        text: Some(text),
        customer_name: Some(customer_name),
        customer_strokes: Some(customer_strokes),
        manager_name: Some(manager_name),
        manager_strokes: Some(manager_strokes),
        manifest_sha256: Some(sha256_hex(manifest_json.as_bytes())),
        manifest: Some(manifest_json),
        device_signature: Some(device_signature),
        device_key: Some(key.public_hex()),
        device: Some(signer.device_id.clone()),
        signed_by: Some(signer.user.clone()),
        signed_at: Some(signer.device_time),
        receipt: ContractReceipt::default(),
    })
}

/// The server's countersignature of a stored contract, after checking the device signature
/// with the key the server registered for that device.
pub fn countersign(
    job: &Job,
    contract_id: &str,
    registered_device_key: Option<&str>,
    server_key: &KeyPair,
    received_at: DateTime<Utc>,
) -> Result<ContractReceipt, Box<Verification>> {
    let evidence = Evidence::from_job(job, contract_id).unwrap_or_default();
    let trust = Trust {
        device_key: registered_device_key,
        server_key: None,
    };
    // Photos arrive after documents: the receipt covers their hashes through the manifest.
    let mut check = verify(
        &Evidence {
            receipt: None,
            ..evidence.clone()
        },
        trust,
        &mut |_| None,
    );
    if registered_device_key.is_none() {
        check.altered.push(Finding {
            part: Part::Manifest,
            zh: "设备未向服务器登记签名密钥".into(),
            en: "the device has not registered a signing key with the server".into(),
        });
    }
    if !check.is_valid() {
        return Err(Box::new(check));
    }
    let receipt = Receipt {
        format: RECEIPT_FORMAT.into(),
        job_id: job.id.clone(),
        contract_id: contract_id.to_string(),
        manifest_sha256: sha256_hex(evidence.manifest.as_bytes()),
        device_signature: evidence.device_signature.clone(),
        received_at: rfc3339(received_at),
        server_key: server_key.public_hex(),
    };
    let json = receipt.to_json();
    Ok(ContractReceipt {
        signature: Some(server_key.sign(json.as_bytes())),
        receipt: Some(json),
        received_at: Some(received_at),
    })
}
