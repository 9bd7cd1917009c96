//! Backups an operator makes and restores with one command each (`fieldline backup`, `fieldline
//! backup verify`, `fieldline restore`).
//!
//! A backup is a folder: `fieldline.db`, a consistent snapshot of the database (one read
//! snapshot of either backend copied into a new SQLite file, the same copy `db copy` makes and
//! checks table by table); `blobs.list`, every photo file that snapshot records (`sha256 bytes`);
//! `blobs/`, those files (unless only listed: a bucket with versioning or replication keeps them);
//! `server-signing.key`, the key that countersigns contracts; and `manifest.json`, written last,
//! with the counts and digests of everything. A folder without a manifest is not a backup.
//!
//! A restore verifies the whole backup before it creates anything, refuses a database that is
//! not empty, and puts back the database, the photo files and the key.

use crate::ServerError;
use crate::blobs::BlobStore;
use crate::config::Config;
use crate::files::{io_at, write_new};
use crate::store::{self, Schema, ServerStore};
use field_core::contract::KeyPair;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "manifest.json";
pub const BLOB_LIST: &str = "blobs.list";
const FORMAT: &str = "fieldline-backup";
const FORMAT_VERSION: u32 = 1;
/// The largest manifest read (a manifest is a few KiB).
const MANIFEST_MAX: u64 = 1 << 20;

/// Whether the photo files are in the backup or only listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlobMode {
    Copied,
    Listed,
}

/// A file of the backup: its name, size and SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub file: String,
    pub bytes: u64,
    pub sha256: String,
}

/// A table of the database snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    pub table: String,
    pub rows: u64,
    pub digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blobs {
    pub mode: BlobMode,
    pub count: u64,
    pub bytes: u64,
    pub list: FileEntry,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKey {
    pub file: FileEntry,
    pub public: String,
}

/// What a backup holds, written last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub created_at: String,
    pub fieldline: String,
    /// The SQLite schema version of `fieldline.db`.
    pub schema: usize,
    /// The backend backed up: `sqlite` or `postgres`.
    pub source: String,
    pub database: FileEntry,
    pub tables: Vec<TableEntry>,
    pub blobs: Blobs,
    /// `None` when the installation had no key yet (and no contract was countersigned).
    pub signing_key: Option<SigningKey>,
}

impl Manifest {
    pub fn rows(&self, table: &str) -> u64 {
        self.tables
            .iter()
            .find(|t| t.table == table)
            .map_or(0, |t| t.rows)
    }
}

/// What a long step has done so far, for a progress line.
pub enum Progress<'a> {
    Table { table: &'a str, rows: u64 },
    Blob { done: u64, of: u64 },
}

fn setup(zh: String, en: String) -> ServerError {
    ServerError::Setup { zh, en }
}

/// The size and SHA-256 of a file, read as a stream.
fn file_entry(dir: &Path, name: &str) -> Result<FileEntry, ServerError> {
    let path = dir.join(name);
    let mut f = std::fs::File::open(&path).map_err(io_at(&path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io_at(&path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileEntry {
        file: name.to_string(),
        bytes,
        sha256: hex::encode(h.finalize()),
    })
}

/// The photo files a database snapshot records: `(sha256, bytes)` by name.
fn recorded_blobs(store: &dyn ServerStore) -> Result<Vec<(String, u64)>, ServerError> {
    let read = store.read()?;
    let mut out: Vec<(String, u64)> = Vec::new();
    loop {
        let after = out.last().map(|b| b.0.clone()).unwrap_or_default();
        let page = read.blobs_after(&after, 1000)?;
        if page.is_empty() {
            return Ok(out);
        }
        out.extend(page.into_iter().map(|(sha, n)| (sha, n as u64)));
    }
}

fn parse_list(text: &str) -> Result<Vec<(String, u64)>, ServerError> {
    text.lines()
        .map(|l| {
            let mut parts = l.split(' ');
            match (
                parts.next(),
                parts.next().map(str::parse::<u64>),
                parts.next(),
            ) {
                (Some(sha), Some(Ok(bytes)), None) if field_core::validate::is_sha256_hex(sha) => {
                    Ok((sha.to_string(), bytes))
                }
                _ => Err(setup(
                    format!("{BLOB_LIST} 中有无效的行：{l:?}"),
                    format!("{BLOB_LIST} has a malformed line: {l:?}"),
                )),
            }
        })
        .collect()
}

fn format_list(blobs: &[(String, u64)]) -> String {
    blobs.iter().map(|(s, n)| format!("{s} {n}\n")).collect()
}

/// The folder a backup is written to: new, or empty.
fn check_out_dir(out: &Path) -> Result<(), ServerError> {
    match std::fs::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(setup(
                    format!("{} 不是空目录：请为每次备份指定新目录", out.display()),
                    format!(
                        "{} is not empty: give each backup a new folder",
                        out.display()
                    ),
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ServerError::Io(format!("{}: {e}", out.display()))),
    }
}

/// Backs up the installation `config` names into the new folder `out`.
pub async fn backup(
    config: &Config,
    out: &Path,
    mode: BlobMode,
    mut progress: impl FnMut(Progress),
) -> Result<Manifest, ServerError> {
    check_out_dir(out)?;
    let source = store::open_as(config, Schema::AsIs)?;
    let blob_source = BlobStore::from_config(config)?;
    blob_source.ready().await?;
    // The key, checked as a start would: a backup must hold the key its contracts need.
    let recorded = source.read()?.state(crate::signing::COUNTERSIGNED_BY)?;
    let key = match recorded {
        Some(_) => Some(crate::signing::checked(config, &*source)?),
        None => crate::signing::load(config)?,
    };
    std::fs::create_dir_all(out).map_err(io_at(out))?;

    // The database: one read snapshot of the source, copied and checked table by table.
    let snapshot = store::sqlite::SqliteStore::open(out)?;
    let report = store::copy::copy(&*source, &snapshot, |table, rows| {
        progress(Progress::Table { table, rows })
    })?;
    let blobs = recorded_blobs(&snapshot)?;
    snapshot.close()?;
    drop(snapshot);
    for extra in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(out.join(format!("{}{extra}", store::sqlite::FILE)));
    }

    // The photo files the snapshot records, each checked against its name as it is copied.
    write_new(&out.join(BLOB_LIST), format_list(&blobs).as_bytes())?;
    let total: u64 = blobs.iter().map(|b| b.1).sum();
    if mode == BlobMode::Copied {
        let into = BlobStore::fs(out);
        let tmp = out.join("blob.partial");
        let mut bad = Vec::new();
        for (i, (sha, bytes)) in blobs.iter().enumerate() {
            match blob_source.read_hashed(sha, Some(&tmp)).await? {
                Some((n, hash)) if n == *bytes && hash == *sha => into.put_file(sha, &tmp).await?,
                Some(_) => bad.push(format!("{sha} (damaged)")),
                None => bad.push(format!("{sha} (missing)")),
            }
            progress(Progress::Blob {
                done: i as u64 + 1,
                of: blobs.len() as u64,
            });
        }
        let _ = std::fs::remove_file(&tmp);
        if !bad.is_empty() {
            return Err(setup(
                format!(
                    "照片存储缺少或损坏 {} 个文件（fieldline blobs check 列出其工单），{} 中的备份不完整，没有写入 {MANIFEST}：{}",
                    bad.len(),
                    out.display(),
                    bad.join(", ")
                ),
                format!(
                    "the blob store lacks or has damaged {} photo files (fieldline blobs check lists their jobs); the backup in {} is incomplete and has no {MANIFEST}: {}",
                    bad.len(),
                    out.display(),
                    bad.join(", ")
                ),
            ));
        }
    }
    let signing_key = match &key {
        Some(k) => {
            write_new(&out.join(crate::signing::KEY_FILE), &k.secret_bytes())?;
            Some(SigningKey {
                file: file_entry(out, crate::signing::KEY_FILE)?,
                public: k.public_hex(),
            })
        }
        None => None,
    };
    let manifest = Manifest {
        format: FORMAT.into(),
        version: FORMAT_VERSION,
        created_at: chrono::Utc::now().to_rfc3339(),
        fieldline: env!("CARGO_PKG_VERSION").into(),
        schema: store::sqlite::MIGRATIONS.len(),
        source: source.backend().into(),
        database: file_entry(out, store::sqlite::FILE)?,
        tables: report
            .tables
            .into_iter()
            .map(|(table, rows, digest)| TableEntry {
                table,
                rows,
                digest,
            })
            .collect(),
        blobs: Blobs {
            mode,
            count: blobs.len() as u64,
            bytes: total,
            list: file_entry(out, BLOB_LIST)?,
        },
        signing_key,
    };
    let text =
        serde_json::to_vec_pretty(&manifest).map_err(|e| ServerError::Internal(e.to_string()))?;
    write_new(&out.join(MANIFEST), &text)?;
    Ok(manifest)
}

/// Reads a backup's manifest, bounded and checked for its format.
fn read_manifest(dir: &Path) -> Result<Manifest, ServerError> {
    let path = dir.join(MANIFEST);
    let f = std::fs::File::open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            setup(
                format!("{} 不是完整的备份（没有 {MANIFEST}）", dir.display()),
                format!(
                    "{} is not a complete backup (it has no {MANIFEST})",
                    dir.display()
                ),
            )
        } else {
            ServerError::Io(format!("{}: {e}", path.display()))
        }
    })?;
    let mut text = Vec::new();
    f.take(MANIFEST_MAX + 1)
        .read_to_end(&mut text)
        .map_err(io_at(&path))?;
    let bad = |why: String| {
        setup(
            format!("{} 无效：{why}", path.display()),
            format!("{} is invalid: {why}", path.display()),
        )
    };
    if text.len() as u64 > MANIFEST_MAX {
        return Err(bad("larger than 1 MiB".into()));
    }
    let m: Manifest = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    if m.format != FORMAT || m.version != FORMAT_VERSION {
        return Err(bad(format!(
            "format {} v{} (this fieldline reads {FORMAT} v{FORMAT_VERSION})",
            m.format, m.version
        )));
    }
    if m.schema > store::sqlite::MIGRATIONS.len() {
        return Err(setup(
            format!(
                "备份由较新的 Fieldline（{}，数据库版本 {}）生成：请用该版本或更新版本恢复",
                m.fieldline, m.schema
            ),
            format!(
                "the backup was made by a newer Fieldline ({}, schema {}): restore it with that version or a newer one",
                m.fieldline, m.schema
            ),
        ));
    }
    Ok(m)
}

/// What `verify` found: the manifest and every problem (none: the backup is whole).
pub struct Verified {
    pub manifest: Manifest,
    pub problems: Vec<String>,
}

/// Checks a backup: every file against the manifest's size and digest, the database snapshot's
/// tables against their counts and digests, the photo list against the snapshot, every photo
/// file (`full`: re-hashed too), and the key against the contracts it countersigned.
pub async fn verify(
    dir: &Path,
    full: bool,
    mut progress: impl FnMut(Progress),
) -> Result<Verified, ServerError> {
    let manifest = read_manifest(dir)?;
    let mut problems = Vec::new();
    let check_file =
        |entry: &FileEntry, problems: &mut Vec<String>| match file_entry(dir, &entry.file) {
            Ok(got) if got == *entry => true,
            Ok(got) => {
                problems.push(format!(
                    "{}: {} bytes sha256 {}, the manifest says {} bytes sha256 {}",
                    entry.file, got.bytes, got.sha256, entry.bytes, entry.sha256
                ));
                false
            }
            Err(e) => {
                problems.push(e.to_string());
                false
            }
        };
    if check_file(&manifest.database, &mut problems) {
        let snapshot = store::sqlite::SqliteStore::open_as(dir, Schema::AsIs)?;
        if manifest.schema == store::sqlite::MIGRATIONS.len() {
            let tables = store::copy::digests(&snapshot)?;
            for t in &manifest.tables {
                match tables.iter().find(|(name, ..)| *name == t.table) {
                    Some((_, rows, digest)) if *rows == t.rows && *digest == t.digest => {}
                    Some((_, rows, _)) => problems.push(format!(
                        "table {}: {rows} rows and a different digest than the manifest's {} rows",
                        t.table, t.rows
                    )),
                    None => problems.push(format!("table {} is not in the snapshot", t.table)),
                }
                progress(Progress::Table {
                    table: &t.table,
                    rows: t.rows,
                });
            }
        }
        let recorded = snapshot.read()?.state(crate::signing::COUNTERSIGNED_BY)?;
        match (&recorded, &manifest.signing_key) {
            (Some(public), None) => problems.push(format!(
                "the snapshot's contracts were countersigned by {public}, but the backup has no signing key"
            )),
            (Some(public), Some(k)) if *public != k.public => problems.push(format!(
                "the snapshot's contracts were countersigned by {public}, the backup's key is {}",
                k.public
            )),
            _ => {}
        }
        if check_file(&manifest.blobs.list, &mut problems) {
            let text = std::fs::read_to_string(dir.join(BLOB_LIST))
                .map_err(io_at(&dir.join(BLOB_LIST)))?;
            let listed = parse_list(&text)?;
            if listed != recorded_blobs(&snapshot)? {
                problems.push(format!(
                    "{BLOB_LIST} differs from the photo files the snapshot records"
                ));
            }
            if manifest.blobs.mode == BlobMode::Copied {
                let store = BlobStore::fs(dir);
                for (i, (sha, bytes)) in listed.iter().enumerate() {
                    let ok = if full {
                        store.stored_sha256(sha).await?.as_deref() == Some(sha.as_str())
                    } else {
                        store.size(sha).await? == Some(*bytes)
                    };
                    if !ok {
                        problems.push(format!("blobs/{}/{sha}: missing or damaged", &sha[..2]));
                    }
                    progress(Progress::Blob {
                        done: i as u64 + 1,
                        of: listed.len() as u64,
                    });
                }
            }
        }
        drop(snapshot);
    }
    if let Some(k) = &manifest.signing_key
        && check_file(&k.file, &mut problems)
    {
        let secret = std::fs::read(dir.join(&k.file.file)).map_err(io_at(dir))?;
        match KeyPair::from_secret(&secret) {
            Ok(key) if key.public_hex() == k.public => {}
            Ok(key) => problems.push(format!(
                "{}: public key {}, the manifest says {}",
                k.file.file,
                key.public_hex(),
                k.public
            )),
            Err(e) => problems.push(format!("{}: {e}", k.file.file)),
        }
    }
    Ok(Verified { manifest, problems })
}

/// What a restore put back.
pub struct Restored {
    pub manifest: Manifest,
    pub rows: u64,
    /// Photo files copied into the blob store, and those already there.
    pub blobs_copied: u64,
    pub blobs_present: u64,
    /// Listed photo files neither in the backup nor in the blob store.
    pub blobs_missing: Vec<String>,
    pub key: Option<PathBuf>,
}

/// Restores the backup in `from` into the installation `config` names: verified whole first,
/// into an empty database only; `by` is the operator on the record.
pub async fn restore(
    config: &Config,
    from: &Path,
    by: &str,
    mut progress: impl FnMut(Progress),
) -> Result<Restored, ServerError> {
    let verified = verify(from, true, &mut progress).await?;
    if !verified.problems.is_empty() {
        return Err(setup(
            format!(
                "备份 {} 未通过校验，未恢复任何内容：{}",
                from.display(),
                verified.problems.join("; ")
            ),
            format!(
                "the backup in {} failed verification; nothing was restored: {}",
                from.display(),
                verified.problems.join("; ")
            ),
        ));
    }
    let manifest = verified.manifest;
    // Everything is checked before anything is created.
    let url = config.database_url.trim();
    let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if !postgres {
        let dir = match url.strip_prefix("sqlite://") {
            Some(p) => store::sqlite::dir_of(Path::new(p))?,
            None => config.data_dir.clone(),
        };
        let db = dir.join(store::sqlite::FILE);
        if db.exists() {
            return Err(setup(
                format!(
                    "{} 已存在：恢复只写入新的空数据库，请先将旧数据目录移开",
                    db.display()
                ),
                format!(
                    "{} exists: a restore writes only into a new, empty database; move the old data folder away first",
                    db.display()
                ),
            ));
        }
    }
    let shared_key =
        !config.signing_key.trim().is_empty() || !config.signing_key_file.trim().is_empty();
    let own_key = config.data_dir.join(crate::signing::KEY_FILE);
    if let Some(k) = &manifest.signing_key {
        // The key a start would use, if there is one (none is made here).
        let present = crate::signing::load(config)?;
        if let Some(present) = present
            && present.public_hex() != k.public
        {
            return Err(setup(
                format!(
                    "配置的服务器签名密钥（公钥 {}）不是备份中的密钥（{}）：请改用备份中的 {}（或将其放入密钥管理）",
                    present.public_hex(),
                    k.public,
                    from.join(&k.file.file).display()
                ),
                format!(
                    "the configured server signing key (public {}) is not the backup's ({}): use {} from the backup (or put it in your secret store)",
                    present.public_hex(),
                    k.public,
                    from.join(&k.file.file).display()
                ),
            ));
        }
    }
    let blobs = BlobStore::from_config(config)?;
    if matches!(blobs, BlobStore::S3 { .. }) {
        blobs.ready().await?;
    }

    // The database.
    std::fs::create_dir_all(&config.data_dir).map_err(io_at(&config.data_dir))?;
    let target = store::open_as(config, Schema::Create)?;
    let upgrade_dir;
    let source: Box<dyn ServerStore> = if manifest.schema == store::sqlite::MIGRATIONS.len() {
        Box::new(store::sqlite::SqliteStore::open_as(from, Schema::AsIs)?)
    } else {
        // An older backup is upgraded in a copy, never in place.
        upgrade_dir = tempfile::tempdir_in(&config.data_dir).map_err(io_at(&config.data_dir))?;
        std::fs::copy(
            from.join(store::sqlite::FILE),
            upgrade_dir.path().join(store::sqlite::FILE),
        )
        .map_err(io_at(from))?;
        Box::new(store::sqlite::SqliteStore::open_as(
            upgrade_dir.path(),
            Schema::Upgrade,
        )?)
    };
    let report = store::copy::copy(&*source, &*target, |table, rows| {
        progress(Progress::Table { table, rows })
    })?;
    drop(source);
    for t in &manifest.tables {
        let rows = report
            .tables
            .iter()
            .find(|(name, ..)| *name == t.table)
            .map_or(0, |r| r.1);
        if rows != t.rows {
            return Err(setup(
                format!(
                    "恢复后表 {} 有 {rows} 行，备份清单为 {} 行",
                    t.table, t.rows
                ),
                format!(
                    "table {} has {rows} rows after the restore, the manifest {}",
                    t.table, t.rows
                ),
            ));
        }
    }

    // The photo files.
    let text = std::fs::read_to_string(from.join(BLOB_LIST)).map_err(io_at(from))?;
    let listed = parse_list(&text)?;
    let backed_up = BlobStore::fs(from);
    let tmp = config.data_dir.join("restore-blob.partial");
    let (mut copied, mut present, mut missing) = (0, 0, Vec::new());
    for (i, (sha, bytes)) in listed.iter().enumerate() {
        if blobs.size(sha).await? == Some(*bytes) {
            present += 1;
        } else if manifest.blobs.mode == BlobMode::Copied {
            match backed_up.read_hashed(sha, Some(&tmp)).await? {
                Some((n, hash)) if n == *bytes && hash == *sha => {
                    blobs.put_file(sha, &tmp).await?;
                    copied += 1;
                }
                _ => missing.push(sha.clone()),
            }
        } else {
            missing.push(sha.clone());
        }
        progress(Progress::Blob {
            done: i as u64 + 1,
            of: listed.len() as u64,
        });
    }
    let _ = std::fs::remove_file(&tmp);

    // The key, where the server looks for it (a shared key was checked above).
    let mut key = None;
    if let Some(k) = &manifest.signing_key
        && !shared_key
        && !own_key.exists()
    {
        let secret = std::fs::read(from.join(&k.file.file)).map_err(io_at(from))?;
        write_new(&own_key, &secret)?;
        key = Some(own_key.clone());
    }

    let mut tx = target.write()?;
    // Unfinished uploads: their parts were not backed up, so their phones start them again
    // (a tus client does when the server no longer knows an upload).
    let forgotten = tx.delete_stale_uploads(i64::MAX)?.len();
    super::audit::append(
        &mut *tx,
        crate::store::AuditEntry {
            kind: "restored".into(),
            username: Some(by.to_string()),
            detail: serde_json::json!({
                "from": from.display().to_string(),
                "backup_created_at": manifest.created_at,
                "rows": report.rows(),
                "blobs_copied": copied,
                "blobs_present": present,
                "blobs_missing": missing.len(),
                "uploads_forgotten": forgotten,
            }),
            ..Default::default()
        },
    )?;
    tx.commit()?;
    target.close()?;
    Ok(Restored {
        rows: report.rows(),
        manifest,
        blobs_copied: copied,
        blobs_present: present,
        blobs_missing: missing,
        key,
    })
}
