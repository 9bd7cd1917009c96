//! Signing a supply contract on the phone as one action, and verifying it with what the phone
//! holds (its own key, the server key learned at login, the photo files).

use super::{Store, StoreError};
use crate::contract::{
    self, Evidence, Filled, SignRequest, Signer, Trust, Verification, header_for, template_of,
};
use crate::job::{Edit, Job};
use std::collections::BTreeMap;

/// The result of [`Store::sign_contract`].
#[derive(Debug, Clone, PartialEq)]
pub struct SignedContract {
    pub contract_id: String,
    pub text_sha256: String,
    pub manifest_sha256: String,
    pub job: Job,
}

impl Store {
    /// The contract as it would read if signed now: values, what is missing, the text.
    pub fn contract_preview(
        &self,
        job_id: &str,
        template: Option<(String, u32)>,
        inputs: &BTreeMap<String, String>,
        amends: Option<&str>,
    ) -> Result<Filled, StoreError> {
        let job = self.job(job_id)?;
        let t = template_of(&job, template.as_ref())?;
        let header = header_for(&job, amends)?;
        let mut inputs = inputs.clone();
        inputs.entry("signed_on".into()).or_insert_with(|| {
            crate::job::local_date(self.now())
                .format("%Y年%m月%d日")
                .to_string()
        });
        inputs
            .entry("contract_no".into())
            .or_insert_with(|| format!("{}-HT{:02}", job.job_no, header.version));
        Ok(contract::fill(t, &job, &inputs, &header))
    }

    /// Signs a contract with this device's key and records it with its `contract_signed`
    /// milestone in one transaction. Signing the same request again (same id) after a lost
    /// reply is refused only if the content differs.
    pub fn sign_contract(
        &self,
        job_id: &str,
        actor: &str,
        req: &SignRequest,
    ) -> Result<SignedContract, StoreError> {
        let mut inner = self.lock();
        let ctx = self.context(&inner, actor);
        let job = inner.doc(job_id)?.job()?;
        if let Some(existing) = job.contracts.get(&req.contract_id)
            && existing.is_signed()
        {
            return Err(crate::validate::Invalid::new(
                "contract",
                "合同已签署，不可修改；如需变更请签订变更合同（引用原合同的新版本）",
                "the contract is signed and cannot be changed: sign an amendment (a new version that references it) instead",
            )
            .into());
        }
        let signer = Signer {
            user: actor.to_string(),
            device_id: inner.device.device_id.clone(),
            device_time: ctx.now,
        };
        let record = contract::sign(&job, req, &signer, &inner.key)?;
        let summary = (
            record.text_sha256.clone().unwrap_or_default(),
            record.manifest_sha256.clone().unwrap_or_default(),
        );
        let edit = Edit::SignContract {
            id: req.contract_id.clone(),
            contract: record,
        };
        match inner.edit_locked(job_id, &edit, &ctx) {
            Ok(job) => Ok(SignedContract {
                contract_id: req.contract_id.clone(),
                text_sha256: summary.0,
                manifest_sha256: summary.1,
                job,
            }),
            Err(e) => {
                inner.cache.remove(job_id);
                Err(e)
            }
        }
    }

    /// Verifies a contract of a job against this device's key (when it signed it), the server
    /// keys learned at login and sync (a receipt signed before a key rotation by the retired key
    /// it names) and the photo files on this phone.
    pub fn verify_contract(
        &self,
        job_id: &str,
        contract_id: &str,
    ) -> Result<Verification, StoreError> {
        let job = self.job(job_id)?;
        let evidence = Evidence::from_job(&job, contract_id).ok_or_else(|| {
            crate::validate::Invalid::new(
                "contract_id",
                format!("工单中没有合同 {contract_id}"),
                format!("the job has no contract {contract_id}"),
            )
        })?;
        let device = self.device();
        let own = job
            .contracts
            .get(contract_id)
            .and_then(|c| c.device.as_deref())
            == Some(device.device_id.as_str());
        let (current, retired) = self.server_keys()?;
        let server_key = contract::trusted_server_key(&evidence, current.as_deref(), &retired);
        let trust = Trust {
            device_key: own.then_some(device.public_key.as_str()),
            server_key,
        };
        Ok(contract::verify(&evidence, trust, &mut |p| {
            self.blobs
                .get(&p.sha256)
                .ok()
                .map(|b| contract::sha256_hex(&b))
        }))
    }
}

impl Store {
    /// Remembers the server's countersigning key and its retired ones (valid hex keys only).
    pub fn set_server_keys(&self, current: &str, retired: &[String]) -> Result<(), StoreError> {
        let hex64 = |k: &str| k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex64(current) {
            return Ok(());
        }
        let retired: Vec<&String> = retired.iter().filter(|k| hex64(k)).take(64).collect();
        self.set_sync_setting("server_key", current)?;
        self.set_sync_setting(
            "retired_server_keys",
            &serde_json::to_string(&retired).unwrap_or_else(|_| "[]".into()),
        )
    }

    /// The server's countersigning key (when known) and its retired keys.
    pub fn server_keys(&self) -> Result<(Option<String>, Vec<String>), StoreError> {
        let retired = self
            .sync_setting("retired_server_keys")?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        Ok((self.sync_setting("server_key")?, retired))
    }
}
