//! Rotating the server's contract-countersigning key (`fieldline key rotate`). The old key's
//! public half joins the retired keys (`signing::RETIRED`), which stay trusted for the receipts
//! they signed (on the server, in exports and on phones, which learn the keys at their next
//! sync); new receipts are signed with the new key, which becomes the one a start requires.
//!
//! With the data folder's own key the new key is written beside the old one first
//! (`server-signing.key.new`), the database records the rotation, then the new file replaces
//! the old: a rotation cut short is finished (or forgotten, if the database never recorded it)
//! by running the command again.

use super::audit;
use crate::ServerError;
use crate::config::Config;
use crate::files::{self, io_at};
use crate::signing::{self, COUNTERSIGNED_BY, KEY_FILE, RETIRED, RetiredKey};
use crate::store::{self, Schema};
use field_core::contract::KeyPair;
use std::path::Path;

/// What a rotation did.
pub struct Rotation {
    pub old_public: String,
    pub new_public: String,
    /// The key is shared (configured): the operator installs the new one on every node.
    pub shared: bool,
}

fn read_key(path: &Path) -> Result<KeyPair, ServerError> {
    let bytes = std::fs::read(path).map_err(io_at(path))?;
    KeyPair::from_secret(&bytes).map_err(|e| ServerError::Setup {
        zh: format!("{} 不是有效的签名密钥：{e}", path.display()),
        en: format!("{} is not a valid signing key: {e}", path.display()),
    })
}

/// Rotates the key `config` names; `new_key_file` is required for a shared key.
pub fn rotate(
    config: &Config,
    new_key_file: Option<&Path>,
    by: &str,
) -> Result<Rotation, ServerError> {
    files::private_by_default();
    let shared =
        !config.signing_key.trim().is_empty() || !config.signing_key_file.trim().is_empty();
    let store = store::open_as(config, Schema::Upgrade)?;
    let own = config.data_dir.join(KEY_FILE);
    let pending = own.with_extension("key.new");
    if !shared && pending.exists() {
        // A rotation cut short: finished if the database recorded it, else forgotten.
        let current = read_key(&own)?;
        let retired = signing::retired(&*store.read()?)?;
        if retired.iter().any(|r| r.public == current.public_hex()) {
            let new = read_key(&pending)?;
            replace(&pending, &own)?;
            return Ok(Rotation {
                old_public: current.public_hex(),
                new_public: new.public_hex(),
                shared,
            });
        }
        std::fs::remove_file(&pending).map_err(io_at(&pending))?;
    }
    // The current key as a start checks it: the right one for this database's contracts.
    let current = signing::checked(config, &*store)?;
    let new = match (shared, new_key_file) {
        (_, Some(file)) => read_key(file)?,
        (false, None) => KeyPair::generate(),
        (true, None) => {
            return Err(ServerError::bad(
                "missing_argument",
                "配置的是共享签名密钥：请用 --new-key-file 指定新密钥（32 字节私钥文件）",
                "the signing key is shared (configured): give the new key with --new-key-file (a file of its 32 secret bytes)",
            ));
        }
    };
    if new.public_hex() == current.public_hex() {
        return Err(ServerError::bad(
            "same_key",
            "新密钥与当前密钥相同",
            "the new key is the current key",
        ));
    }
    if !shared {
        files::write_new(&pending, &new.secret_bytes())?;
    }
    let mut tx = store.write()?;
    let mut retired = signing::retired(&*tx)?;
    retired.push(RetiredKey {
        public: current.public_hex(),
        retired_at: chrono::Utc::now().to_rfc3339(),
    });
    let text = serde_json::to_string(&retired).map_err(|e| ServerError::Internal(e.to_string()))?;
    tx.set_state(RETIRED, &text)?;
    if tx.state(COUNTERSIGNED_BY)?.is_some() {
        tx.set_state(COUNTERSIGNED_BY, &new.public_hex())?;
    }
    audit::append(
        &mut *tx,
        crate::store::AuditEntry {
            kind: "signing_key_rotated".into(),
            username: Some(by.to_string()),
            detail: serde_json::json!({
                "old": current.public_hex(), "new": new.public_hex(), "shared": shared,
            }),
            ..Default::default()
        },
    )?;
    tx.commit()?;
    if !shared {
        replace(&pending, &own)?;
    }
    store.close()?;
    Ok(Rotation {
        old_public: current.public_hex(),
        new_public: new.public_hex(),
        shared,
    })
}

/// Puts `from` in place of `to` durably.
fn replace(from: &Path, to: &Path) -> Result<(), ServerError> {
    std::fs::rename(from, to).map_err(io_at(to))?;
    if let Some(dir) = to.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io_at(dir))?;
    }
    Ok(())
}
