//! Verifying a signed contract: is every part exactly what the device signed and the server
//! received, and if not, which part was altered (text, a signature, a photo, the manifest, the
//! server's receipt)?

use super::fill::{Header, render};
use super::keys;
use super::manifest::{Manifest, PhotoRef, Receipt, SignerRole};
use super::sha256_hex;
use super::signature::SignaturePad;
use super::template::template;
use crate::job::{Contract, Job};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A part of a signed contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Part {
    Text,
    Signature(SignerRole),
    /// A photo, by photo id.
    Photo(String),
    Manifest,
    Receipt,
}

impl Part {
    pub fn zh(&self) -> String {
        match self {
            Part::Text => "合同文本".into(),
            Part::Signature(r) => r.zh().into(),
            Part::Photo(id) => format!("照片 {id}"),
            Part::Manifest => "签署清单".into(),
            Part::Receipt => "服务器回执".into(),
        }
    }
    pub fn en(&self) -> String {
        match self {
            Part::Text => "contract text".into(),
            Part::Signature(r) => r.en().into(),
            Part::Photo(id) => format!("photo {id}"),
            Part::Manifest => "manifest".into(),
            Part::Receipt => "server receipt".into(),
        }
    }
}

/// One finding about one part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub part: Part,
    pub zh: String,
    pub en: String,
}

/// The outcome of verifying one contract.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    pub job_id: String,
    pub contract_id: String,
    /// Parts that are not what was signed. Empty means valid.
    pub altered: Vec<Finding>,
    /// What could not be checked here (a photo not available, no receipt yet).
    pub unchecked: Vec<Finding>,
    /// The server countersigned this exact manifest.
    pub countersigned: bool,
    pub received_at: Option<String>,
    pub text_sha256: Option<String>,
}

impl Verification {
    pub fn is_valid(&self) -> bool {
        self.altered.is_empty()
    }

    /// The parts found altered.
    pub fn altered_parts(&self) -> Vec<&Part> {
        self.altered.iter().map(|f| &f.part).collect()
    }

    /// A one-paragraph summary in Chinese and English.
    pub fn summary(&self) -> (String, String) {
        if self.is_valid() {
            let (zh, en) = if self.countersigned {
                ("有效，已经服务器加签", "valid, countersigned by the server")
            } else {
                (
                    "有效（尚未经服务器加签）",
                    "valid (not yet countersigned by the server)",
                )
            };
            return (
                format!("合同 {}：{zh}", self.contract_id),
                format!("contract {}: {en}", self.contract_id),
            );
        }
        let zh: Vec<String> = self
            .altered
            .iter()
            .map(|f| format!("{}：{}", f.part.zh(), f.zh))
            .collect();
        let en: Vec<String> = self
            .altered
            .iter()
            .map(|f| format!("{}: {}", f.part.en(), f.en))
            .collect();
        (
            format!("合同 {} 已被改动——{}", self.contract_id, zh.join("；")),
            format!(
                "contract {} was altered — {}",
                self.contract_id,
                en.join("; ")
            ),
        )
    }
}

/// Everything stored for a signed contract, from a job document or an exported archive.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Evidence {
    pub job_id: String,
    pub contract_id: String,
    pub text: String,
    /// The values filled into the template, when known: the text is then also rendered again.
    pub values: Option<BTreeMap<String, String>>,
    pub strokes: BTreeMap<SignerRole, String>,
    /// The exact manifest JSON the device signed.
    pub manifest: String,
    pub device_signature: String,
    /// The server's receipt JSON and its signature.
    pub receipt: Option<(String, String)>,
    /// The job's own photo records (photo id → original SHA-256), when verifying from a job.
    pub photo_records: Option<BTreeMap<String, String>>,
}

impl Evidence {
    /// The evidence of contract `contract_id` of `job`.
    pub fn from_job(job: &Job, contract_id: &str) -> Option<Evidence> {
        let c = job.contracts.get(contract_id)?;
        Some(Evidence::from_contract(job, contract_id, c))
    }

    pub(crate) fn from_contract(job: &Job, contract_id: &str, c: &Contract) -> Evidence {
        let mut strokes = BTreeMap::new();
        if let Some(s) = &c.customer_strokes {
            strokes.insert(SignerRole::Customer, s.clone());
        }
        if let Some(s) = &c.manager_strokes {
            strokes.insert(SignerRole::CustomerManager, s.clone());
        }
        let receipt = match (&c.receipt.receipt, &c.receipt.signature) {
            (Some(r), Some(s)) => Some((r.clone(), s.clone())),
            _ => None,
        };
        Evidence {
            job_id: job.id.clone(),
            contract_id: contract_id.to_string(),
            text: c.text.clone().unwrap_or_default(),
            values: c
                .values
                .as_deref()
                .and_then(|v| serde_json::from_str(v).ok()),
            strokes,
            manifest: c.manifest.clone().unwrap_or_default(),
            device_signature: c.device_signature.clone().unwrap_or_default(),
            receipt,
            photo_records: Some(
                job.photos
                    .iter()
                    .filter_map(|(id, p)| Some((id.clone(), p.original_sha256.clone()?)))
                    .collect(),
            ),
        }
    }
}

/// Which keys to trust.
#[derive(Debug, Clone, Copy, Default)]
pub struct Trust<'a> {
    /// The public key the server registered for the manifest's device, when known.
    pub device_key: Option<&'a str>,
    /// The server's public key, when known.
    pub server_key: Option<&'a str>,
}

fn finding(part: Part, zh: impl Into<String>, en: impl Into<String>) -> Finding {
    Finding {
        part,
        zh: zh.into(),
        en: en.into(),
    }
}

/// The server key to trust for `e`'s receipt: the key the receipt names when it is one of the
/// server's retired keys (a receipt signed before a key rotation), else the current one.
pub fn trusted_server_key<'a>(
    e: &Evidence,
    current: Option<&'a str>,
    retired: &'a [String],
) -> Option<&'a str> {
    let named = e
        .receipt
        .as_ref()
        .and_then(|(json, _)| serde_json::from_str::<serde_json::Value>(json).ok())
        .and_then(|v| v.get("server_key")?.as_str().map(str::to_string));
    match named {
        Some(k) => retired
            .iter()
            .find(|r| **r == k)
            .map(String::as_str)
            .or(current),
        None => current,
    }
}

/// Verifies `e`. `photo_sha256` returns the SHA-256 of a photo's original bytes as stored
/// here, or `None` when they are not available.
pub fn verify(
    e: &Evidence,
    trust: Trust<'_>,
    photo_sha256: &mut dyn FnMut(&PhotoRef) -> Option<String>,
) -> Verification {
    let mut v = Verification {
        job_id: e.job_id.clone(),
        contract_id: e.contract_id.clone(),
        altered: Vec::new(),
        unchecked: Vec::new(),
        countersigned: false,
        received_at: None,
        text_sha256: None,
    };
    let m = match Manifest::parse(&e.manifest) {
        Ok(m) => m,
        Err(err) => {
            v.altered.push(finding(
                Part::Manifest,
                format!("签署清单无法读取（{err}）"),
                format!("the manifest cannot be read ({err})"),
            ));
            return v;
        }
    };
    v.text_sha256 = Some(m.text_sha256.clone());
    if let Some(registered) = trust.device_key
        && registered != m.device_key
    {
        v.altered.push(finding(
            Part::Manifest,
            format!("签署清单的设备密钥不是设备 {} 登记的密钥", m.device_id),
            format!(
                "the manifest's device key is not the one registered for device {}",
                m.device_id
            ),
        ));
        return v;
    }
    if let Err(err) = keys::verify(&m.device_key, e.manifest.as_bytes(), &e.device_signature) {
        v.altered.push(finding(
            Part::Manifest,
            format!("设备签名不符，签署清单被改动（{err}）"),
            format!("the device signature does not hold: the manifest was altered ({err})"),
        ));
        return v;
    }
    if m.job_id != e.job_id || m.contract_id != e.contract_id {
        v.altered.push(finding(
            Part::Manifest,
            "签署清单属于另一份工单或合同",
            "the manifest belongs to another job or contract",
        ));
        return v;
    }
    check_text(e, &m, &mut v);
    check_signatures(e, &m, &mut v);
    check_photos(e, &m, &mut v, photo_sha256);
    check_receipt(e, trust, &mut v);
    v
}

fn check_text(e: &Evidence, m: &Manifest, v: &mut Verification) {
    if sha256_hex(e.text.as_bytes()) != m.text_sha256 {
        v.altered.push(finding(
            Part::Text,
            "合同文本与签署时的摘要不符",
            "the contract text does not match the hash that was signed",
        ));
        return;
    }
    let Some(values) = &e.values else { return };
    match template(&m.template_id, m.template_version) {
        Ok(t) => {
            let header = Header {
                version: m.version,
                amends_no: m.amends_no.clone(),
            };
            if render(t, values, &header) != e.text {
                v.altered.push(finding(
                    Part::Text,
                    "合同文本与范本填写结果不一致",
                    "the contract text is not what the template renders from its values",
                ));
            }
        }
        Err(_) => v.unchecked.push(finding(
            Part::Text,
            format!(
                "本程序没有范本 {} 第 {} 版，未重新生成文本",
                m.template_id, m.template_version
            ),
            format!(
                "template {} v{} is unknown here: the text was not rendered again",
                m.template_id, m.template_version
            ),
        )),
    }
}

fn check_signatures(e: &Evidence, m: &Manifest, v: &mut Verification) {
    for r in &m.signatures {
        let part = Part::Signature(r.role);
        match e.strokes.get(&r.role) {
            None => v.altered.push(finding(
                part,
                "签名笔迹缺失",
                "the signature strokes are missing",
            )),
            Some(s) if sha256_hex(s.as_bytes()) != r.sha256 => v.altered.push(finding(
                part,
                "签名笔迹与签署时的摘要不符",
                "the signature strokes do not match the hash that was signed",
            )),
            Some(s) => {
                if let Err(err) = SignaturePad::from_json("signature", s) {
                    v.altered.push(finding(part, err.zh, err.en));
                }
            }
        }
    }
    for role in e.strokes.keys() {
        if m.signature(*role).is_none() {
            v.altered.push(finding(
                Part::Signature(*role),
                "签署清单中没有这份签名",
                "the manifest does not name this signature",
            ));
        }
    }
}

fn check_photos(
    e: &Evidence,
    m: &Manifest,
    v: &mut Verification,
    photo_sha256: &mut dyn FnMut(&PhotoRef) -> Option<String>,
) {
    for p in &m.photos {
        let part = Part::Photo(p.photo_id.clone());
        if let Some(records) = &e.photo_records
            && records.get(&p.photo_id) != Some(&p.sha256)
        {
            v.altered.push(finding(
                part,
                "工单中的照片记录与签署时不符",
                "the job's photo record is not the one that was signed",
            ));
            continue;
        }
        match photo_sha256(p) {
            Some(actual) if actual == p.sha256 => {}
            Some(_) => v.altered.push(finding(
                part,
                "照片原图与签署时的摘要不符",
                "the photo's original does not match the hash that was signed",
            )),
            None => v.unchecked.push(finding(
                part,
                "此处没有照片原图（可能尚未上传）",
                "the photo's original is not available here (perhaps not uploaded yet)",
            )),
        }
    }
}

fn check_receipt(e: &Evidence, trust: Trust<'_>, v: &mut Verification) {
    let Some((json, signature)) = &e.receipt else {
        v.unchecked.push(finding(
            Part::Receipt,
            "尚未经服务器加签",
            "not yet countersigned by the server",
        ));
        return;
    };
    let r = match Receipt::parse(json) {
        Ok(r) => r,
        Err(err) => {
            v.altered.push(finding(
                Part::Receipt,
                format!("服务器回执无法读取（{err}）"),
                format!("the server receipt cannot be read ({err})"),
            ));
            return;
        }
    };
    let key = trust.server_key.unwrap_or(&r.server_key);
    if key != r.server_key {
        v.altered.push(finding(
            Part::Receipt,
            "回执不是本服务器的密钥签发的",
            "the receipt was not signed by this server's key",
        ));
        return;
    }
    if let Err(err) = keys::verify(key, json.as_bytes(), signature) {
        v.altered.push(finding(
            Part::Receipt,
            format!("服务器签名不符，回执被改动（{err}）"),
            format!("the server signature does not hold: the receipt was altered ({err})"),
        ));
        return;
    }
    if r.manifest_sha256 != sha256_hex(e.manifest.as_bytes())
        || r.device_signature != e.device_signature
        || r.job_id != e.job_id
        || r.contract_id != e.contract_id
    {
        v.altered.push(finding(
            Part::Manifest,
            "签署清单不是服务器收到的那一份",
            "the manifest is not the one the server received",
        ));
        return;
    }
    if trust.server_key.is_none() {
        v.unchecked.push(finding(
            Part::Receipt,
            "未提供服务器公钥，回执只按其自带的公钥核验",
            "no server key given: the receipt was checked only against the key it names",
        ));
    }
    v.countersigned = true;
    v.received_at = Some(r.received_at);
}
