//! The store at rest: telling plain and encrypted database files apart, opening one with its
//! key, and encrypting a plain store in place (database through `sqlcipher_export`, blob files
//! sealed), crash-safely: until the encrypted database replaces the plain one, the plain store
//! is untouched; after, a marker file makes the next open finish removing the plain blobs.

use super::StoreError;
use super::blobs::{BlobDir, io, sibling};
use super::key::StoreKey;
use super::sealed::MAGIC;
use rusqlite::{Connection, ErrorCode, params};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What is at a store's path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    /// Nothing yet (or an empty file): a new store.
    New,
    /// A plain SQLite database.
    Plain,
    /// Anything else: an encrypted database (or a damaged file, which its key will not open).
    Encrypted,
}

const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

pub(crate) fn kind(path: &Path) -> Result<FileKind, StoreError> {
    let mut f = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileKind::New),
        Err(e) => return Err(io("cannot open", path, e)),
    };
    let mut head = Vec::with_capacity(16);
    (&mut f)
        .take(16)
        .read_to_end(&mut head)
        .map_err(|e| io("cannot read", path, e))?;
    Ok(match head.as_slice() {
        [] => FileKind::New,
        h if h == SQLITE_HEADER => FileKind::Plain,
        _ => FileKind::Encrypted,
    })
}

fn set_key(conn: &Connection, key: &StoreKey) -> Result<(), StoreError> {
    // A wrong key becomes `StoreError::WrongKey`; SQLCipher need not also log it to stderr.
    conn.execute_batch("PRAGMA cipher_log_level = NONE")?;
    conn.pragma_update(None, "key", key.sqlcipher_key().as_str())?;
    Ok(())
}

/// Reads the schema once: the first read that needs the key, so a wrong key shows here.
fn check_key(conn: &Connection) -> Result<(), StoreError> {
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => Ok(()),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == ErrorCode::NotADatabase => {
            Err(StoreError::WrongKey)
        }
        Err(e) => Err(e.into()),
    }
}

/// Opens an encrypted (or new) database with its key; a wrong key is [`StoreError::WrongKey`]
/// and changes nothing.
pub(crate) fn open_keyed(path: &Path, key: &StoreKey) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    set_key(&conn, key)?;
    check_key(&conn)?;
    Ok(conn)
}

fn tables(conn: &Connection, schema: &str) -> Result<Vec<(String, i64)>, StoreError> {
    let names: Vec<String> = conn
        .prepare(&format!(
            "SELECT name FROM {schema}.sqlite_master
              WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ))?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let n: i64 = conn.query_row(
            &format!(
                "SELECT count(*) FROM {schema}.\"{}\"",
                name.replace('"', "\"\"")
            ),
            [],
            |r| r.get(0),
        )?;
        out.push((name, n));
    }
    Ok(out)
}

fn sync_dir(path: &Path) -> Result<(), StoreError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("cannot sync", dir, e))
}

/// The marker that says an encryption replaced the database but the plain blob files may still
/// be there.
fn marker(path: &Path) -> PathBuf {
    sibling(path, "-plain-blobs")
}

fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("cannot remove", path, e)),
    }
}

/// The plain blob files under `root`: `<two hex>/<sha256>` whose bytes are not sealed, and
/// temporary files a crash left behind.
fn plain_blobs(root: &Path) -> Result<Vec<(Option<String>, PathBuf)>, StoreError> {
    let mut out = Vec::new();
    let shards = match fs::read_dir(root) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io("cannot list", root, e)),
    };
    for shard in shards {
        let shard = shard.map_err(|e| io("cannot list", root, e))?.path();
        if !shard.is_dir() {
            continue;
        }
        for entry in fs::read_dir(&shard).map_err(|e| io("cannot list", &shard, e))? {
            let path = entry.map_err(|e| io("cannot list", &shard, e))?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if name.ends_with(".tmp") {
                out.push((None, path));
                continue;
            }
            let mut head = Vec::with_capacity(MAGIC.len());
            fs::File::open(&path)
                .and_then(|f| f.take(MAGIC.len() as u64).read_to_end(&mut head))
                .map_err(|e| io("cannot read", &path, e))?;
            if head != MAGIC && crate::validate::is_sha256_hex(&name) {
                out.push((Some(name.into_owned()), path));
            }
        }
    }
    Ok(out)
}

/// Seals every plain blob into `blobs` (skipping those already sealed).
fn seal_plain_blobs(blobs: &BlobDir) -> Result<(), StoreError> {
    for (sha, path) in plain_blobs(blobs.root())? {
        if let Some(sha) = sha
            && !blobs.path(&sha)?.exists()
        {
            let bytes = fs::read(&path).map_err(|e| io("cannot read", &path, e))?;
            blobs.put(&sha, &bytes)?;
        }
    }
    Ok(())
}

/// Encrypts the plain store at `path` in place. On error the plain store is left as it was; a
/// store from a newer app (schema beyond `supported`) is refused untouched.
pub(crate) fn encrypt_plain(
    path: &Path,
    key: &StoreKey,
    blobs: &BlobDir,
    supported: usize,
) -> Result<(), StoreError> {
    let plain = Connection::open(path)?;
    plain.busy_timeout(std::time::Duration::from_secs(5))?;
    let found: i64 = plain.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > supported as i64 {
        return Err(StoreError::TooNew {
            found: found as usize,
            supported,
        });
    }
    let tmp = sibling(path, "-encrypting");
    for p in [&tmp, &sibling(&tmp, "-journal"), &sibling(&tmp, "-wal")] {
        remove_if_present(p)?;
    }
    // Everything into the main file first, so nothing is left behind in the WAL.
    plain.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let tmp_name = tmp.to_str().ok_or_else(|| {
        StoreError::Blob(format!("the store's path is not UTF-8: {}", tmp.display()))
    })?;
    plain.execute(
        "ATTACH DATABASE ?1 AS encrypted KEY ?2",
        params![tmp_name, key.sqlcipher_key().as_str()],
    )?;
    plain.query_row("SELECT sqlcipher_export('encrypted')", [], |_| Ok(()))?;
    let version: i64 = plain.query_row("PRAGMA main.user_version", [], |r| r.get(0))?;
    plain.execute_batch(&format!("PRAGMA encrypted.user_version = {version}"))?;
    let expected = tables(&plain, "main")?;
    plain.execute_batch("DETACH DATABASE encrypted")?;
    drop(plain);

    // Check the copy with the key before anything plain is given up.
    let copy = open_keyed(&tmp, key)?;
    let copied = tables(&copy, "main")?;
    let copied_version: i64 = copy.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    drop(copy);
    if copied != expected || copied_version != version {
        remove_if_present(&tmp)?;
        return Err(StoreError::Blob(format!(
            "加密副本与原库不一致，未做改动 / the encrypted copy differs from the store ({copied:?} vs {expected:?}); nothing was changed"
        )));
    }

    let marker = marker(path);
    fs::File::create(&marker)
        .and_then(|f| f.sync_all())
        .map_err(|e| io("cannot create", &marker, e))?;
    seal_plain_blobs(blobs)?;
    sync_dir(path)?;
    fs::rename(&tmp, path).map_err(|e| io("cannot replace", path, e))?;
    for p in [sibling(path, "-wal"), sibling(path, "-shm")] {
        remove_if_present(&p)?;
    }
    sync_dir(path)?;
    remove_plain_blobs(path, blobs)
}

/// After an encryption that a crash interrupted (its marker is still there): seals what is
/// missing and removes the plain blob files.
pub(crate) fn remove_plain_leftovers(path: &Path, blobs: &BlobDir) -> Result<(), StoreError> {
    if !marker(path).exists() {
        return Ok(());
    }
    seal_plain_blobs(blobs)?;
    remove_plain_blobs(path, blobs)
}

/// Removes the plain blob files (every one sealed by now) and then the marker.
fn remove_plain_blobs(path: &Path, blobs: &BlobDir) -> Result<(), StoreError> {
    for (_, p) in plain_blobs(blobs.root())? {
        remove_if_present(&p)?;
    }
    remove_if_present(&marker(path))?;
    sync_dir(path)
}
