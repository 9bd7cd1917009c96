//! Planning the contract edits: signing (immutable once written), the server's receipt, and
//! power-on.

use super::Job;
use super::edit::{EditContext, Write, fields, not_before_acceptance, path};
use super::sections::{Contract, ContractReceipt, Metering, Milestone};
use crate::codes::MilestoneEvent;
use crate::contract::{self, Evidence, Manifest, Receipt, Trust};
use crate::validate::{Invalid, check_id};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};

fn invalid(field: &str, zh: impl Into<String>, en: impl Into<String>) -> Invalid {
    Invalid::new(field, zh, en)
}

fn milestone(
    ctx: &EditContext,
    id: &str,
    event: MilestoneEvent,
    at: DateTime<Utc>,
    note: Option<String>,
) -> Result<Write, Invalid> {
    let m = Milestone {
        event: Some(event),
        actor: Some(ctx.actor.clone()),
        at: Some(at),
        recorded_at: Some(ctx.now),
        device: Some(ctx.device.clone()),
        note,
    };
    Ok(Write::Entry {
        path: path(&["milestones"]),
        id: id.to_string(),
        fields: fields("milestone", &m)?,
    })
}

/// The id of the milestone recorded with a contract.
pub fn signed_milestone_id(contract_id: &str) -> String {
    format!("signed-{contract_id}")
}

pub(super) fn plan_sign(
    job: &Job,
    ctx: &EditContext,
    id: &str,
    c: &Contract,
) -> Result<Vec<Write>, Invalid> {
    check_id("contract.id", id)?;
    if id.len() > contract::CONTRACT_ID_MAX {
        return Err(invalid(
            "contract.id",
            format!("合同标识最长 {} 位", contract::CONTRACT_ID_MAX),
            format!(
                "a contract id has at most {} characters",
                contract::CONTRACT_ID_MAX
            ),
        ));
    }
    if let Some(existing) = job.contracts.get(id) {
        let unsigned = |c: &Contract| Contract {
            receipt: ContractReceipt::default(),
            ..c.clone()
        };
        if unsigned(existing) == unsigned(c) {
            return Ok(Vec::new());
        }
        return Err(invalid(
            "contract",
            "合同已签署，不可修改；如需变更请签订变更合同（引用原合同的新版本）",
            "the contract is signed and cannot be changed: sign an amendment (a new version that references it) instead",
        ));
    }
    let manifest_json = c.manifest.as_deref().unwrap_or_default();
    let m = Manifest::parse(manifest_json).map_err(|e| {
        invalid(
            "contract.manifest",
            format!("签署清单无效：{e}"),
            format!("the manifest is invalid: {e}"),
        )
    })?;
    let consistent = c.manifest_sha256.as_deref()
        == Some(contract::sha256_hex(manifest_json.as_bytes()).as_str())
        && c.text_sha256.as_deref() == Some(m.text_sha256.as_str())
        && c.template_id.as_deref() == Some(m.template_id.as_str())
        && c.template_version == Some(m.template_version.into())
        && c.version == Some(m.version.into())
        && c.amends == m.amends
        && c.contract_no.as_deref() == Some(m.contract_no.as_str())
        && c.device_key.as_deref() == Some(m.device_key.as_str())
        && c.device.as_deref() == Some(m.device_id.as_str());
    if !consistent {
        return Err(invalid(
            "contract",
            "合同记录与签署清单不一致",
            "the contract record does not agree with its manifest",
        ));
    }
    if m.device_id != ctx.device || m.signer != ctx.actor {
        return Err(invalid(
            "contract",
            "只能记录本设备、本人签署的合同",
            "only a contract signed on this device by this user can be recorded here",
        ));
    }
    let header = contract::header_for(job, c.amends.as_deref())?;
    if header.version != m.version || header.amends_no != m.amends_no {
        return Err(invalid(
            "contract.version",
            format!("合同版本应为第 {} 版", header.version),
            format!("the contract's version should be {}", header.version),
        ));
    }
    let text_chars = c.text.as_deref().map_or(0, |t| t.chars().count());
    if text_chars > contract::TEXT_MAX {
        return Err(invalid(
            "contract.text",
            "合同文本过长",
            "the contract text is too long",
        ));
    }
    let signed_at = c.signed_at.ok_or_else(|| {
        invalid(
            "contract.signed_at",
            "缺少签署时间",
            "the signing time is missing",
        )
    })?;
    not_before_acceptance(job, "contract.signed_at", Some(signed_at))?;
    let check = contract::verify(
        &Evidence::from_contract(job, id, c),
        Trust::default(),
        &mut |_| None,
    );
    if !check.is_valid() {
        let (zh, en) = check.summary();
        return Err(invalid("contract", zh, en));
    }
    let record = match serde_json::to_value(c) {
        Ok(Json::Object(map)) => map,
        _ => {
            return Err(invalid(
                "contract",
                "内容无法编码",
                "the value cannot be encoded",
            ));
        }
    };
    Ok(vec![
        Write::Entry {
            path: path(&["contracts"]),
            id: id.to_string(),
            fields: record,
        },
        milestone(
            ctx,
            &signed_milestone_id(id),
            MilestoneEvent::ContractSigned,
            signed_at,
            c.contract_no.clone(),
        )?,
    ])
}

pub(super) fn plan_receipt(
    job: &Job,
    contract_id: &str,
    r: &ContractReceipt,
) -> Result<Vec<Write>, Invalid> {
    let Some(c) = job.contracts.get(contract_id).filter(|c| c.is_signed()) else {
        return Err(invalid(
            "receipt.contract_id",
            format!("合同 {contract_id} 不存在或未签署"),
            format!("contract {contract_id} does not exist or is not signed"),
        ));
    };
    let (Some(json), Some(_), Some(_)) = (&r.receipt, &r.signature, &r.received_at) else {
        return Err(invalid(
            "receipt",
            "回执不完整",
            "the receipt is incomplete",
        ));
    };
    let parsed = Receipt::parse(json).map_err(|e| {
        invalid(
            "receipt",
            format!("回执无效：{e}"),
            format!("the receipt is invalid: {e}"),
        )
    })?;
    let manifest_sha = c
        .manifest
        .as_deref()
        .map(|m| contract::sha256_hex(m.as_bytes()));
    if parsed.job_id != job.id
        || parsed.contract_id != contract_id
        || Some(parsed.manifest_sha256) != manifest_sha
    {
        return Err(invalid(
            "receipt",
            "回执与合同不符",
            "the receipt does not match the contract",
        ));
    }
    if c.receipt.receipt.is_some() {
        if c.receipt == *r {
            return Ok(Vec::new());
        }
        return Err(invalid(
            "receipt",
            "合同已有服务器回执",
            "the contract already has a server receipt",
        ));
    }
    let map: Map<String, Json> = match serde_json::to_value(r) {
        Ok(Json::Object(m)) => m,
        _ => {
            return Err(invalid(
                "receipt",
                "内容无法编码",
                "the value cannot be encoded",
            ));
        }
    };
    Ok(vec![Write::Patch {
        path: path(&["contracts", contract_id, "receipt"]),
        fields: map,
    }])
}

pub(super) fn plan_power_on(
    job: &Job,
    ctx: &EditContext,
    id: &str,
    at: DateTime<Utc>,
) -> Result<Vec<Write>, Invalid> {
    check_id("power_on.id", id)?;
    not_before_acceptance(job, "metering.powered_on_at", Some(at))?;
    if !job.contracts.values().any(Contract::is_signed) {
        return Err(invalid(
            "power_on",
            "送电前须签订供用电合同",
            "a supply contract must be signed before power-on",
        ));
    }
    let mut lacking = Vec::new();
    if job.metering.meter_asset_no.is_none() {
        lacking.push(("电能表资产编号", "meter asset number"));
    }
    if job.metering.initial_reading.is_none() {
        lacking.push(("电能表起度", "initial meter reading"));
    }
    if !lacking.is_empty() {
        let zh: Vec<&str> = lacking.iter().map(|l| l.0).collect();
        let en: Vec<&str> = lacking.iter().map(|l| l.1).collect();
        return Err(invalid(
            "power_on",
            format!("送电前请先录入：{}", zh.join("、")),
            format!("record before power-on: {}", en.join(", ")),
        ));
    }
    let m = Metering {
        powered_on_at: Some(at),
        ..Default::default()
    };
    Ok(vec![
        Write::Patch {
            path: path(&["metering"]),
            fields: fields("metering", &m)?,
        },
        milestone(ctx, id, MilestoneEvent::PoweredOn, at, None)?,
    ])
}
