//! The server's files are private: the data directory holds password hashes, the progress-link
//! secret, the signing key, ID-card photos and (for a demo) the admin's password. Everything the
//! process creates is its owner's only (umask 077: directories 0700, files 0600, SQLite's WAL and
//! the blobs included), and at start the server warns about anything it finds looser.

use std::path::{Path, PathBuf};

/// An io error as an error naming `path`.
pub fn io_at(path: &Path) -> impl Fn(std::io::Error) -> crate::ServerError + '_ {
    move |e| crate::ServerError::Io(format!("{}: {e}", path.display()))
}

/// Writes `bytes` to the new file `path` durably (never replacing a file that is there).
pub fn write_new(path: &Path, bytes: &[u8]) -> Result<(), crate::ServerError> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_at(path))?;
    f.write_all(bytes).map_err(io_at(path))?;
    f.sync_all().map_err(io_at(path))
}

/// From now on files and directories this process creates are readable by its user only.
pub fn private_by_default() {
    #[cfg(unix)]
    // SAFETY: umask only sets the process's file-mode creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
}

/// Files of the data directory that must be private, where they exist.
fn sensitive(data_dir: &Path) -> Vec<PathBuf> {
    [
        "",
        "fieldline.db",
        "fieldline.db-wal",
        "fieldline.db-shm",
        "server-signing.key",
        "demo-passwords.txt",
        "blobs",
    ]
    .iter()
    .map(|name| {
        if name.is_empty() {
            data_dir.to_path_buf()
        } else {
            data_dir.join(name)
        }
    })
    .collect()
}

/// The sensitive paths under `data_dir` that others than the owner may read, with their modes.
pub fn loose(data_dir: &Path) -> Vec<(PathBuf, u32)> {
    let mut out = Vec::new();
    #[cfg(unix)]
    for path in sensitive(data_dir) {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(&path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                out.push((path, mode));
            }
        }
    }
    out
}

/// Logs a warning for each loose sensitive path, naming the command that tightens it.
pub fn warn_if_loose(data_dir: &Path) {
    for (path, mode) in loose(data_dir) {
        let want = if path.is_dir() { "700" } else { "600" };
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:o}"),
            "others may read this file of the server (ID-card photos, password hashes, keys): chmod {want} {}",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn loose_files_are_found_and_private_ones_are_not() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        let key = data.join("server-signing.key");
        std::fs::write(&key, b"k").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(loose(&data).is_empty());
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        let found: Vec<u32> = loose(&data).into_iter().map(|(_, m)| m).collect();
        assert_eq!(found, vec![0o755, 0o644]);
    }
}
