//! The server's ed25519 key that countersigns contracts: created on first start in the data
//! directory (`server-signing.key`, 32 secret bytes, readable by the owner only) and kept.
//! Back it up with the database: receipts name its public key.

use crate::error::ServerError;
use field_core::contract::KeyPair;
use std::path::Path;

pub const KEY_FILE: &str = "server-signing.key";

/// The key in `data_dir`, if one was created.
pub fn load(data_dir: &Path) -> Result<Option<KeyPair>, ServerError> {
    if data_dir.join(KEY_FILE).exists() {
        load_or_create(data_dir).map(Some)
    } else {
        Ok(None)
    }
}

/// Loads the key from `data_dir`, creating it on first use.
pub fn load_or_create(data_dir: &Path) -> Result<KeyPair, ServerError> {
    let path = data_dir.join(KEY_FILE);
    let io = |e: std::io::Error| ServerError::Io(format!("{}: {e}", path.display()));
    match std::fs::read(&path) {
        Ok(bytes) => KeyPair::from_secret(&bytes)
            .map_err(|e| ServerError::Internal(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(data_dir).map_err(io)?;
            let key = KeyPair::generate();
            let tmp = path.with_extension("tmp");
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
            std::fs::rename(&tmp, &path).map_err(io)?;
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
    fn the_key_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(dir.path()).unwrap();
        let b = load_or_create(dir.path()).unwrap();
        assert_eq!(a.public_hex(), b.public_hex());
        std::fs::write(dir.path().join(KEY_FILE), b"short").unwrap();
        assert!(load_or_create(dir.path()).is_err());
    }
}
