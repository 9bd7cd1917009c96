//! What a device signs when a contract is signed (the manifest), and what the server signs when
//! it receives one (the receipt). Both are stored as the exact JSON bytes that were signed, so
//! verification never depends on serialising again.

use serde::{Deserialize, Serialize};

pub const MANIFEST_FORMAT: &str = "fieldline-contract-manifest/1";
pub const RECEIPT_FORMAT: &str = "fieldline-contract-receipt/1";
/// Largest stored manifest or receipt, in bytes.
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024;
/// Most photos a manifest names.
pub const MAX_PHOTOS: usize = 64;

fn id_ok(field: &str, id: &str) -> Result<(), String> {
    crate::validate::check_id(field, id).map_err(|_| format!("{field} is not a valid identifier"))
}

fn sha_ok(field: &str, h: &str) -> Result<(), String> {
    if crate::validate::is_sha256_hex(h) {
        Ok(())
    } else {
        Err(format!("{field} is not a lower-case hex SHA-256"))
    }
}

/// Who signed with their hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignerRole {
    Customer,
    CustomerManager,
}

impl SignerRole {
    pub fn zh(self) -> &'static str {
        match self {
            SignerRole::Customer => "用电人签名",
            SignerRole::CustomerManager => "客户经理签名",
        }
    }
    pub fn en(self) -> &'static str {
        match self {
            SignerRole::Customer => "customer's signature",
            SignerRole::CustomerManager => "customer manager's signature",
        }
    }
}

/// A handwritten signature named by the SHA-256 of its canonical strokes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureRef {
    pub role: SignerRole,
    pub name: String,
    pub sha256: String,
    pub points: u32,
}

/// A photo named by the SHA-256 of its original bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoRef {
    pub photo_id: String,
    pub purpose: String,
    pub sha256: String,
}

/// Where the phone was when the contract was signed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoFix {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy_m: Option<f64>,
}

/// The signed record of a contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub job_id: String,
    pub contract_id: String,
    pub contract_no: String,
    pub template_id: String,
    pub template_version: u32,
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amends: Option<String>,
    /// The contract number of the amended contract (printed in the text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amends_no: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amends_manifest_sha256: Option<String>,
    pub text_sha256: String,
    pub signatures: Vec<SignatureRef>,
    pub photos: Vec<PhotoRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gps: Option<GeoFix>,
    /// The device's clock at signing, RFC 3339.
    pub device_time: String,
    pub device_id: String,
    /// The device's public key, hex.
    pub device_key: String,
    /// The user who recorded it.
    pub signer: String,
}

impl Manifest {
    /// The bytes to sign and store.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a manifest always serialises")
    }

    pub fn parse(json: &str) -> Result<Manifest, String> {
        if json.len() > MAX_MANIFEST_BYTES {
            return Err(format!("larger than {MAX_MANIFEST_BYTES} bytes"));
        }
        let m: Manifest = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if m.format != MANIFEST_FORMAT {
            return Err(format!("unknown format {}", m.format));
        }
        m.check_names()?;
        Ok(m)
    }

    /// Every id is a safe identifier and every hash a lower-case hex SHA-256: nothing in a
    /// manifest can name a file outside what the server stores.
    fn check_names(&self) -> Result<(), String> {
        id_ok("job_id", &self.job_id)?;
        id_ok("contract_id", &self.contract_id)?;
        id_ok("device_id", &self.device_id)?;
        if let Some(a) = &self.amends {
            id_ok("amends", a)?;
        }
        sha_ok("text_sha256", &self.text_sha256)?;
        if let Some(h) = &self.amends_manifest_sha256 {
            sha_ok("amends_manifest_sha256", h)?;
        }
        if self.signatures.len() > 8 || self.photos.len() > MAX_PHOTOS {
            return Err("too many signatures or photos".into());
        }
        for s in &self.signatures {
            sha_ok("signatures.sha256", &s.sha256)?;
        }
        for p in &self.photos {
            id_ok("photos.photo_id", &p.photo_id)?;
            sha_ok("photos.sha256", &p.sha256)?;
        }
        Ok(())
    }

    pub fn signature(&self, role: SignerRole) -> Option<&SignatureRef> {
        self.signatures.iter().find(|s| s.role == role)
    }
}

/// The server's countersignature: it received this manifest, signed by this device signature,
/// at this time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub format: String,
    pub job_id: String,
    pub contract_id: String,
    pub manifest_sha256: String,
    pub device_signature: String,
    /// RFC 3339, the server's clock.
    pub received_at: String,
    /// The server's public key, hex.
    pub server_key: String,
}

impl Receipt {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a receipt always serialises")
    }

    pub fn parse(json: &str) -> Result<Receipt, String> {
        if json.len() > MAX_MANIFEST_BYTES {
            return Err(format!("larger than {MAX_MANIFEST_BYTES} bytes"));
        }
        let r: Receipt = serde_json::from_str(json).map_err(|e| e.to_string())?;
        if r.format != RECEIPT_FORMAT {
            return Err(format!("unknown format {}", r.format));
        }
        id_ok("job_id", &r.job_id)?;
        id_ok("contract_id", &r.contract_id)?;
        sha_ok("manifest_sha256", &r.manifest_sha256)?;
        Ok(r)
    }
}
