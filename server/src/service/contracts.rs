//! Contracts on the server: verification against the registered device key, the server's own key
//! and the stored photo blobs; the exported archive (one directory per contract) and its
//! verification.

use super::Env;
use crate::blobs::BlobStore;
use crate::error::ServerError;
use field_core::Job;
use field_core::contract::{self, Evidence, Manifest, SignerRole, Trust, Verification};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn not_found(job_id: &str) -> ServerError {
    ServerError::bad(
        "no_such_job",
        format!("找不到工单 {job_id}"),
        format!("job {job_id} not found"),
    )
}

/// A job as stored on the server (no access check: callers check).
pub async fn load_job(env: &Arc<Env>, job_id: &str) -> Result<Job, ServerError> {
    let id = job_id.to_string();
    env.blocking(move |env| super::jobs::read_job(env, &id))
        .await?
        .ok_or_else(|| not_found(job_id))
}

/// The SHA-256 of each photo original the manifest names, as stored (absent: not uploaded).
async fn photo_hashes(blobs: &BlobStore, manifest: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    // A manifest that parses names only valid photo ids and SHA-256s, and the blob store opens
    // nothing but its own blobs.
    if let Ok(m) = Manifest::parse(manifest) {
        for p in m.photos {
            if let Ok(bytes) = blobs.get(&p.sha256).await {
                out.insert(p.sha256.clone(), sha256_hex(&bytes));
            }
        }
    }
    out
}

/// Verifies the contracts of a job (all, or one) as the server holds them.
pub async fn verify_job(
    env: &Arc<Env>,
    server_key: &str,
    job_id: &str,
    contract_id: Option<&str>,
) -> Result<Vec<Verification>, ServerError> {
    let job = load_job(env, job_id).await?;
    let ids: Vec<String> = match contract_id {
        Some(id) if job.contracts.contains_key(id) => vec![id.to_string()],
        Some(id) => {
            return Err(ServerError::NotFoundNamed {
                zh: format!("工单 {job_id} 中没有合同 {id}"),
                en: format!("job {job_id} has no contract {id}"),
            });
        }
        None => job.contracts.keys().cloned().collect(),
    };
    let mut out = Vec::new();
    for id in ids {
        let evidence = Evidence::from_job(&job, &id).expect("listed above");
        let device = Manifest::parse(&evidence.manifest)
            .ok()
            .map(|m| m.device_id);
        let registered = match device {
            Some(d) => {
                env.blocking(move |env| {
                    Ok(env.store.read()?.device(&d)?.and_then(|d| d.public_key))
                })
                .await?
            }
            None => None,
        };
        let hashes = photo_hashes(&env.blobs, &evidence.manifest).await;
        let trust = Trust {
            device_key: registered.as_deref(),
            server_key: contract::trusted_server_key(
                &evidence,
                Some(server_key),
                &env.retired_keys,
            ),
        };
        out.push(contract::verify(&evidence, trust, &mut |p| {
            hashes.get(&p.sha256).cloned()
        }));
    }
    Ok(out)
}

/// File names inside an exported contract directory.
pub mod files {
    pub const TEXT: &str = "contract.txt";
    pub const VALUES: &str = "values.json";
    pub const MANIFEST: &str = "manifest.json";
    pub const DEVICE_SIGNATURE: &str = "manifest.sig";
    pub const RECEIPT: &str = "receipt.json";
    pub const RECEIPT_SIGNATURE: &str = "receipt.sig";
    pub const IDS: &str = "archive.json";
    pub const PDF: &str = "contract.pdf";
    pub const README: &str = "README.txt";
    pub const SIGNATURES: &str = "signatures";
    pub const PHOTOS: &str = "photos";
}

fn role_file(role: SignerRole) -> &'static str {
    match role {
        SignerRole::Customer => "customer",
        SignerRole::CustomerManager => "customer_manager",
    }
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), ServerError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| ServerError::Io(format!("{}: {e}", dir.display())))?;
    }
    std::fs::write(path, bytes).map_err(|e| ServerError::Io(format!("{}: {e}", path.display())))
}

const README: &str = "供用电合同电子档案 / supply contract archive (Fieldline)

contract.txt      合同文本（签署的原文，UTF-8）/ the signed canonical text
values.json       填入范本的内容 / values filled into the template
manifest.json     设备签名的签署清单（原样字节）/ the manifest exactly as the device signed it
manifest.sig      设备的 ed25519 签名（十六进制）/ the device's ed25519 signature (hex)
receipt.json      服务器回执（原样字节）/ the server's receipt exactly as signed
receipt.sig       服务器的 ed25519 签名 / the server's ed25519 signature (hex)
signatures/       手写签名原始笔迹（.json）及由其生成的 SVG / raw strokes and derived SVG
photos/           签署清单所列照片的原图 / originals of the photos the manifest names
contract.pdf      合同 PDF（由以上内容生成）/ the contract as PDF, derived from the above

核验 / verify:  fieldline contract verify --archive <this directory>
";

/// The photo files (SHA-256) the signed manifests of `job`'s contracts `ids` name.
pub fn manifest_photos<'a>(job: &Job, ids: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    ids.into_iter()
        .filter_map(|id| job.contracts.get(id))
        .filter_map(|c| Manifest::parse(c.manifest.as_deref().unwrap_or_default()).ok())
        .flat_map(|m| m.photos.into_iter().map(|p| p.sha256))
        .collect()
}

/// Writes the archive of contract `contract_id` of `job` into `dir` (created). Photos not
/// uploaded yet are left out (verification then reports them unchecked). `pdf` is the rendered
/// PDF, when available.
pub async fn export(
    blobs: &BlobStore,
    job: &Job,
    contract_id: &str,
    dir: &Path,
    pdf: Option<Vec<u8>>,
) -> Result<Vec<PathBuf>, ServerError> {
    let evidence =
        Evidence::from_job(job, contract_id).ok_or_else(|| ServerError::NotFoundNamed {
            zh: format!("工单中没有合同 {contract_id}"),
            en: format!("the job has no contract {contract_id}"),
        })?;
    let c = &job.contracts[contract_id];
    let mut written = Vec::new();
    let mut put = |name: &str, bytes: Vec<u8>| -> Result<(), ServerError> {
        let path = inside(dir, name)?;
        write(&path, bytes)?;
        written.push(path);
        Ok(())
    };
    put(files::README, README.as_bytes().to_vec())?;
    let ids =
        serde_json::json!({ "job_id": job.id, "job_no": job.job_no, "contract_id": contract_id });
    put(files::IDS, serde_json::to_vec_pretty(&ids).expect("json"))?;
    put(files::TEXT, evidence.text.clone().into_bytes())?;
    put(
        files::VALUES,
        c.values.clone().unwrap_or_default().into_bytes(),
    )?;
    put(files::MANIFEST, evidence.manifest.clone().into_bytes())?;
    put(
        files::DEVICE_SIGNATURE,
        evidence.device_signature.clone().into_bytes(),
    )?;
    if let Some((r, s)) = &evidence.receipt {
        put(files::RECEIPT, r.clone().into_bytes())?;
        put(files::RECEIPT_SIGNATURE, s.clone().into_bytes())?;
    }
    for (role, strokes) in &evidence.strokes {
        let base = format!("{}/{}", files::SIGNATURES, role_file(*role));
        put(&format!("{base}.json"), strokes.clone().into_bytes())?;
        if let Ok(pad) = contract::SignaturePad::from_json("signature", strokes) {
            put(&format!("{base}.svg"), pad.to_svg().into_bytes())?;
        }
    }
    if let Ok(m) = Manifest::parse(&evidence.manifest) {
        for p in &m.photos {
            if let Ok(bytes) = blobs.get(&p.sha256).await {
                put(&format!("{}/{}.jpg", files::PHOTOS, p.photo_id), bytes)?;
            }
        }
    }
    if let Some(pdf) = pdf {
        put(files::PDF, pdf)?;
    }
    Ok(written)
}

/// `dir/name`, refusing any name that would leave `dir` (absolute, `..`, a drive prefix).
fn inside(dir: &Path, name: &str) -> Result<PathBuf, ServerError> {
    let rel = Path::new(name);
    let plain = rel
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !plain || name.is_empty() {
        return Err(ServerError::bad(
            "bad_archive_path",
            format!("档案文件名 {name:?} 无效"),
            format!("{name:?} is not a file name inside the archive"),
        ));
    }
    Ok(dir.join(rel))
}

fn read_opt(path: &Path) -> Result<Option<String>, ServerError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(String::from_utf8_lossy(&b).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ServerError::Io(format!("{}: {e}", path.display()))),
    }
}

/// Verifies an exported archive directory. `server_key`: the key to trust (the server's own when
/// run on the server; `retired`, its keys rotated out); `None` trusts the key the receipt names
/// and says so.
pub fn verify_archive(
    dir: &Path,
    server_key: Option<&str>,
    retired: &[String],
) -> Result<Verification, ServerError> {
    let ids_text = read_opt(&dir.join(files::IDS))?.ok_or_else(|| {
        ServerError::bad(
            "not_an_archive",
            format!("{} 不是合同档案目录（缺少 {}）", dir.display(), files::IDS),
            format!(
                "{} is not a contract archive ({} is missing)",
                dir.display(),
                files::IDS
            ),
        )
    })?;
    let ids: serde_json::Value = serde_json::from_str(&ids_text).unwrap_or_default();
    let field = |k: &str| {
        ids.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let mut strokes = BTreeMap::new();
    for role in [SignerRole::Customer, SignerRole::CustomerManager] {
        let path = dir
            .join(files::SIGNATURES)
            .join(format!("{}.json", role_file(role)));
        if let Some(s) = read_opt(&path)? {
            strokes.insert(role, s);
        }
    }
    let receipt = match (
        read_opt(&dir.join(files::RECEIPT))?,
        read_opt(&dir.join(files::RECEIPT_SIGNATURE))?,
    ) {
        (Some(r), Some(s)) => Some((r, s)),
        _ => None,
    };
    let evidence = Evidence {
        job_id: field("job_id"),
        contract_id: field("contract_id"),
        text: read_opt(&dir.join(files::TEXT))?.unwrap_or_default(),
        values: read_opt(&dir.join(files::VALUES))?.and_then(|v| serde_json::from_str(&v).ok()),
        strokes,
        manifest: read_opt(&dir.join(files::MANIFEST))?.unwrap_or_default(),
        device_signature: read_opt(&dir.join(files::DEVICE_SIGNATURE))?.unwrap_or_default(),
        receipt,
        photo_records: None,
    };
    let trust = Trust {
        device_key: None,
        server_key: contract::trusted_server_key(&evidence, server_key, retired),
    };
    Ok(contract::verify(&evidence, trust, &mut |p| {
        let path = dir.join(files::PHOTOS).join(format!("{}.jpg", p.photo_id));
        std::fs::read(path).ok().map(|b| sha256_hex(&b))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_files_stay_inside_the_archive() {
        let dir = Path::new("/tmp/archive");
        assert!(inside(dir, "photos/p1.jpg").is_ok());
        for bad in ["../key", "/etc/passwd", "photos/../../key", "", "a/./../b"] {
            assert!(inside(dir, bad).is_err(), "{bad}");
        }
    }
}
