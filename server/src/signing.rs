//! The server's ed25519 key that countersigns contracts: created on first start in the data
//! directory (`server-signing.key`, 32 secret bytes, readable by the owner only) and kept.
//! Back it up with the database: receipts name its public key.

use crate::error::ServerError;
use field_core::contract::KeyPair;
use std::path::Path;

pub const KEY_FILE: &str = "server-signing.key";

/// `server_state` key holding the public key of the first receipt the server wrote: from then
/// on a missing or different signing key stops the start instead of making every signed
/// contract look altered.
pub const COUNTERSIGNED_BY: &str = "countersigned_by";

/// `server_state` key holding the keys rotated out (`fieldline key rotate`), oldest first: still
/// trusted for the receipts they signed.
pub const RETIRED: &str = "retired_signing_keys";

/// A key rotated out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RetiredKey {
    pub public: String,
    /// RFC 3339.
    pub retired_at: String,
}

/// The keys rotated out, oldest first.
pub fn retired(tx: &dyn crate::store::ReadTx) -> Result<Vec<RetiredKey>, ServerError> {
    match tx.state(RETIRED)? {
        Some(text) => serde_json::from_str(&text).map_err(|e| ServerError::Setup {
            zh: format!("数据库中的 {RETIRED} 无法读取：{e}"),
            en: format!("{RETIRED} in the database cannot be read: {e}"),
        }),
        None => Ok(Vec::new()),
    }
}

/// The key `config` names, checked against the one that countersigned this database's
/// contracts (if any did): a missing key is not created anew, a different one is refused, and
/// the message says which file to restore.
pub fn checked(
    config: &crate::config::Config,
    store: &dyn crate::store::ServerStore,
) -> Result<KeyPair, ServerError> {
    let recorded = store.read()?.state(COUNTERSIGNED_BY)?;
    let own_file =
        config.signing_key.trim().is_empty() && config.signing_key_file.trim().is_empty();
    let path = config.data_dir.join(KEY_FILE);
    if let Some(public) = &recorded
        && own_file
        && !path.exists()
    {
        return Err(ServerError::Setup {
            zh: format!(
                "服务器签名密钥 {} 不存在，但本数据库的合同已由公钥 {public} 回执：请从备份恢复该文件后再启动（如确需更换密钥，见 docs/deployment.md）",
                path.display()
            ),
            en: format!(
                "the server signing key {} is missing, but this database's contracts were countersigned by public key {public}: restore that file from the backup, then start again (to replace the key on purpose, see docs/deployment.md)",
                path.display()
            ),
        });
    }
    let key = from_config(config)?;
    if let Some(public) = recorded
        && key.public_hex() != public
    {
        let source = if own_file {
            path.display().to_string()
        } else if !config.signing_key.trim().is_empty() {
            "signing_key".to_string()
        } else {
            config.signing_key_file.trim().to_string()
        };
        return Err(ServerError::Setup {
            zh: format!(
                "服务器签名密钥（{source}）的公钥为 {}，不是为本数据库合同回执的 {public}：请恢复原密钥文件",
                key.public_hex()
            ),
            en: format!(
                "the server signing key ({source}) has public key {}, not {public}, which countersigned this database's contracts: restore the original key file",
                key.public_hex()
            ),
        });
    }
    Ok(key)
}

/// The key `config` names: its hex secret, its shared key file, or `data_dir`'s own key
/// (created on first start). A shared key that is missing or malformed stops the server with a
/// clear message: nodes must never sign with different keys by accident.
pub fn from_config(config: &crate::config::Config) -> Result<KeyPair, ServerError> {
    let bad = |what: &str, e: String| ServerError::Setup {
        zh: format!("服务器签名密钥无效（{what}）：{e}"),
        en: format!("the server signing key is invalid ({what}): {e}"),
    };
    let hex_key = config.signing_key.trim();
    if !hex_key.is_empty() {
        let bytes = hex::decode(hex_key).map_err(|e| bad("signing_key", e.to_string()))?;
        return KeyPair::from_secret(&bytes).map_err(|e| bad("signing_key", e.to_string()));
    }
    let file = config.signing_key_file.trim();
    if !file.is_empty() {
        let bytes = std::fs::read(file).map_err(|e| bad(file, e.to_string()))?;
        return KeyPair::from_secret(&bytes).map_err(|e| bad(file, e.to_string()));
    }
    load_or_create(&config.data_dir)
}

/// The key `config` names, if there is one (tools that only read never create it).
pub fn load(config: &crate::config::Config) -> Result<Option<KeyPair>, ServerError> {
    let shared =
        !config.signing_key.trim().is_empty() || !config.signing_key_file.trim().is_empty();
    if shared || config.data_dir.join(KEY_FILE).exists() {
        from_config(config).map(Some)
    } else {
        Ok(None)
    }
}

/// Loads the key from `data_dir`, creating it on first use.
pub fn load_or_create(data_dir: &Path) -> Result<KeyPair, ServerError> {
    let path = data_dir.join(KEY_FILE);
    let io = |e: std::io::Error| ServerError::Io(format!("{}: {e}", path.display()));
    match std::fs::read(&path) {
        Ok(bytes) => KeyPair::from_secret(&bytes).map_err(|e| ServerError::Setup {
            zh: format!("服务器签名密钥 {} 无效：{e}", path.display()),
            en: format!("the server signing key {} is invalid: {e}", path.display()),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir).map_err(io)?;
            let key = KeyPair::generate();
            // Written under a name of this process's own, then linked into place, which never
            // replaces a key another process made meanwhile (that one is used instead).
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            {
                use std::io::Write;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create(true).truncate(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(0o600);
                }
                let mut f = options.open(&tmp).map_err(io)?;
                f.write_all(&key.secret_bytes()).map_err(io)?;
                f.sync_all().map_err(io)?;
            }
            let linked = std::fs::hard_link(&tmp, &path);
            let _ = std::fs::remove_file(&tmp);
            match linked {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    return load_or_create(data_dir);
                }
                Err(e) => return Err(io(e)),
            }
            tracing::info!(public_key = %key.public_hex(), "created the server signing key");
            Ok(key)
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_share_a_key_from_a_file_or_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate();
        let shared = dir.path().join("shared.key");
        std::fs::write(&shared, key.secret_bytes()).unwrap();
        let node = |data: &str| crate::config::Config {
            data_dir: dir.path().join(data),
            signing_key_file: shared.display().to_string(),
            ..Default::default()
        };
        assert_eq!(
            from_config(&node("a")).unwrap().public_hex(),
            key.public_hex()
        );
        assert_eq!(
            from_config(&node("b")).unwrap().public_hex(),
            key.public_hex()
        );
        assert!(
            !dir.path().join("a").join(KEY_FILE).exists(),
            "no key of its own"
        );
        let hex_config = crate::config::Config {
            signing_key: hex::encode(key.secret_bytes()),
            ..node("c")
        };
        assert_eq!(
            from_config(&hex_config).unwrap().public_hex(),
            key.public_hex()
        );
        // Missing or malformed: a clear error, never a fresh key.
        let missing = crate::config::Config {
            signing_key_file: dir.path().join("nope").display().to_string(),
            ..node("d")
        };
        assert!(
            from_config(&missing)
                .unwrap_err()
                .to_string()
                .contains("signing key")
        );
        let short = crate::config::Config {
            signing_key: "abcd".into(),
            ..node("e")
        };
        assert!(from_config(&short).is_err());
        // Default: the data folder's own key.
        let own = crate::config::Config {
            data_dir: dir.path().join("f"),
            ..Default::default()
        };
        assert_eq!(
            from_config(&own).unwrap().public_hex(),
            load_or_create(&dir.path().join("f")).unwrap().public_hex()
        );
    }

    #[test]
    fn the_key_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(dir.path()).unwrap();
        let b = load_or_create(dir.path()).unwrap();
        assert_eq!(a.public_hex(), b.public_hex());
        std::fs::write(dir.path().join(KEY_FILE), b"short").unwrap();
        assert!(load_or_create(dir.path()).is_err());
    }
}
