//! The embedded SQLite store: one file under the data directory in WAL mode, numbered
//! migrations in `migrations/*.sql`, one writer connection behind a mutex and a pool of
//! read-only connections beside it (WAL readers see the last commit and never wait for the
//! writer).
//!
//! # Group commit
//!
//! An acknowledged commit survives power loss, yet the one writer is not held while the disk
//! flushes: the writer commits with `synchronous = NORMAL` (the transaction's frames are written
//! to the WAL file, not yet flushed), lets the writer go, and only then waits until the WAL file
//! has been flushed past its commit ([`Durability`]). One flush covers every commit written
//! before it began, so writers that commit while another flushes share the next flush instead
//! of each flushing under the lock. [`crate::WriteTx::commit`] returns only once its commit is
//! durable.
//!
//! A commit is visible to readers before it is durable, so the feed is never served beyond a
//! position this store committed and has not yet flushed: a transaction that adds to the feed
//! notes the newest position before its own (its floor) before it commits, and until its flush
//! is done readers serve no further than the lowest such floor. After a power loss the positions
//! of lost commits are drawn again by later ones, and a phone must never have read past them.
//! Other reads may show a commit a moment before it is flushed; a power loss in that moment loses
//! only what no caller was told was stored.

use crate::conn::Conn;
use crate::sql::{Db, Dialect, Row, Value};
use crate::{ReadTx, Result, ServerStore, StoreError, StoreStatus, WriteTx, WriterClock};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// The migrations, in order: migration `i` takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_users.sql"),
    include_str!("migrations/0002_jobs.sql"),
    include_str!("migrations/0003_blobs.sql"),
    include_str!("migrations/0004_device_keys.sql"),
    include_str!("migrations/0005_rights_audit.sql"),
    include_str!("migrations/0006_office.sql"),
    include_str!("migrations/0007_list_speed.sql"),
    include_str!("migrations/0008_clocks.sql"),
    include_str!("migrations/0009_board.sql"),
    include_str!("migrations/0010_return_visits.sql"),
    include_str!("migrations/0011_assessment.sql"),
    include_str!("migrations/0012_supervision.sql"),
    include_str!("migrations/0013_reference_data.sql"),
    include_str!("migrations/0014_login_attempts.sql"),
    include_str!("migrations/0015_upload_locks.sql"),
    include_str!("migrations/0016_actor_identity.sql"),
    include_str!("migrations/0017_device_revoked.sql"),
    include_str!("migrations/0018_units.sql"),
    include_str!("migrations/0019_job_versions.sql"),
    include_str!("migrations/0020_customer_channel.sql"),
    include_str!("migrations/0021_agenda.sql"),
];

/// The database file inside the data directory.
pub const FILE: &str = "fieldline.db";

/// Readers kept open; more are opened under load, up to `MAX_READERS` at once.
const IDLE_READERS: usize = 4;
const MAX_READERS: usize = 16;

pub(crate) fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        db_err(e)
    }
}

/// The directory of a `sqlite://` path: the path itself, or the folder of a `fieldline.db`.
pub fn dir_of(path: &Path) -> Result<PathBuf> {
    if path.file_name().is_some_and(|n| n == FILE) {
        return Ok(path.parent().map(Path::to_path_buf).unwrap_or_default());
    }
    if path.extension().is_some_and(|e| e == "db") {
        return Err(StoreError::Database(format!(
            "SQLite 数据库文件须名为 {FILE} / the SQLite file must be called {FILE}: {}",
            path.display()
        )));
    }
    Ok(path.to_path_buf())
}

/// Prepared statements kept per connection: every statement of the store fits (rusqlite's
/// default of 16 would re-prepare the write path's statements in each transaction).
const STATEMENT_CACHE: usize = 256;

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Switching a new database to WAL takes a lock that another process opening it at the same
    // moment may hold, and SQLite answers "database is locked" at once there instead of waiting
    // as the busy timeout does elsewhere: retried for as long.
    let started = std::time::Instant::now();
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < Duration::from_secs(10) =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            other => {
                other?;
                break;
            }
        }
    }
    // The writer flushes the WAL itself after letting the writer go (the module's notes); a
    // checkpoint flushes the WAL before copying it into the database, and the database after.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Checkpoints run beside the writer ([`checkpoints`]), never inside a commit.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // The workspace links SQLCipher (for the phones), built to keep temporary tables in memory;
    // the server has no key and keeps large sorts (exports) in temporary files, as SQLite does.
    conn.pragma_update(None, "temp_store", "FILE")?;
    Ok(())
}

/// The SQLite implementation of [`ServerStore`].
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Readers>,
    returned: Condvar,
    clock: WriterClock,
    /// Write transactions that added to the feed (the one writer is the serialized section).
    feed_clock: WriterClock,
    durability: Arc<Durability>,
    /// Ends the checkpointing thread when the store goes.
    _checkpoints: std::sync::mpsc::Sender<()>,
}

/// How often the WAL is copied into the database when there were commits.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Copies the WAL into the database on a thread of its own, beside the writer (a commit never
/// pays for it): a passive checkpoint every [`CHECKPOINT_EVERY`] when there were commits, until
/// the store is dropped (`stop` disconnects). A checkpoint flushes the WAL before it copies and
/// the database after, so it needs no flush of ours.
fn checkpoints(
    path: PathBuf,
    durability: Arc<Durability>,
    stop: std::sync::mpsc::Receiver<()>,
) -> Result<()> {
    let conn = Connection::open(&path).map_err(db_err)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            let mut done = 0;
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stop.recv_timeout(CHECKPOINT_EVERY)
            {
                let committed = durability.committed.load(Ordering::Acquire);
                if committed == done {
                    continue;
                }
                match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    Ok(()) => done = committed,
                    Err(e) => tracing::warn!(error = %e, "SQLite checkpoint failed; will retry"),
                }
            }
        })
        .map_err(|e| StoreError::Io(format!("checkpoint thread: {e}")))?;
    Ok(())
}

/// Which commits are on disk (the module's notes on group commit).
struct Durability {
    /// The WAL file, flushed by whoever leads a flush.
    wal: PathBuf,
    /// Commits so far, numbered as they end under the writer (after their frames are written).
    committed: AtomicU64,
    /// The newest commit number a finished flush covers; a flush is led under the mutex, so a
    /// commit waiting for it finds, once it has the mutex, whether an earlier flush covered it.
    flushed: Mutex<u64>,
    /// Commits that added to the feed and are not known to be flushed yet, each with its floor
    /// (the newest position before its own): the feed is served no further than the lowest.
    unflushed: Mutex<std::collections::BTreeMap<u64, i64>>,
    next_hold: AtomicU64,
    /// Flushes done, and the time they took (`/metrics`: beside the writer, not in it).
    flushes: WriterClock,
}

impl Durability {
    fn new(wal: PathBuf) -> Self {
        Durability {
            wal,
            committed: AtomicU64::new(0),
            flushed: Mutex::new(0),
            unflushed: Mutex::new(std::collections::BTreeMap::new()),
            next_hold: AtomicU64::new(0),
            flushes: WriterClock::default(),
        }
    }

    /// Before a commit that adds to the feed becomes visible: the feed stops at `floor` until
    /// [`Durability::release`] of the returned hold.
    fn hold(&self, floor: i64) -> u64 {
        let id = self.next_hold.fetch_add(1, Ordering::Relaxed);
        self.unflushed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, floor);
        id
    }

    fn release(&self, hold: u64) {
        self.unflushed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&hold);
    }

    /// The newest position the feed may serve, when a commit of this store is not flushed yet.
    fn bound(&self) -> Option<i64> {
        let unflushed = self.unflushed.lock().unwrap_or_else(|p| p.into_inner());
        unflushed.values().min().copied()
    }

    /// Called under the writer right after a commit: the commit's number.
    fn committed(&self) -> u64 {
        self.committed.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Returns once commit `n` is on disk: flushes the WAL unless a flush that began after the
    /// commit already did.
    fn wait(&self, n: u64) -> Result<()> {
        let mut flushed = self.flushed.lock().unwrap_or_else(|p| p.into_inner());
        if *flushed >= n {
            return Ok(());
        }
        // Every commit counted here has its frames written: the flush below covers them.
        let upto = self.committed.load(Ordering::Acquire);
        let started = std::time::Instant::now();
        self.flush()?;
        self.flushes.ended(started);
        *flushed = upto;
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        let failed = |e: std::io::Error| {
            StoreError::Io(format!(
                "{}: 写入磁盘失败 / could not flush to disk: {e}",
                self.wal.display()
            ))
        };
        match std::fs::File::open(&self.wal) {
            Ok(f) => f.sync_data().map_err(failed),
            // No WAL file: nothing was written since it was checkpointed away (the checkpoint
            // flushed the database).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(failed(e)),
        }
    }
}

struct Readers {
    idle: Vec<Connection>,
    open: usize,
}

impl SqliteStore {
    /// Opens (creating and migrating) the database in `dir`.
    pub fn open(dir: &Path) -> Result<SqliteStore> {
        Self::open_as(dir, super::Schema::Create)
    }

    /// Opens the database in `dir`, creating or upgrading it only as `schema` allows.
    pub fn open_as(dir: &Path, schema: super::Schema) -> Result<SqliteStore> {
        let path = dir.join(FILE);
        if schema == super::Schema::Create {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Io(format!("{}: {e}", dir.display())))?;
        } else {
            match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => {}
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    return Err(StoreError::Io(format!(
                        "{}: 无权读取：请以服务器的用户（数据目录的所有者）运行 / permission denied: run the command as the server's user (the owner of the data folder)",
                        path.display()
                    )));
                }
                _ => {
                    return Err(StoreError::Missing {
                        where_: path.display().to_string(),
                    });
                }
            }
        }
        let mut conn = Connection::open(&path)
            .map_err(|e| StoreError::Database(format!("{}: {e}", path.display())))?;
        // Every database error of the open names the file (e.g. "attempt to write a readonly
        // database" says nothing of which).
        let at = |step: &str| {
            let path = path.display().to_string();
            let step = step.to_string();
            move |e: StoreError| match e {
                StoreError::Database(m) => StoreError::Database(format!("{path} ({step}): {m}")),
                other => other,
            }
        };
        configure(&conn).map_err(at("opening"))?;
        if schema == super::Schema::AsIs {
            let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            super::check_version(
                found as usize,
                MIGRATIONS.len(),
                schema,
                &path.display().to_string(),
            )?;
        } else {
            migrate(&mut conn).map_err(at("upgrading the schema"))?;
        }
        // What an earlier process wrote is flushed before this one serves any of it.
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        let durability = Arc::new(Durability::new(PathBuf::from(wal)));
        durability.flush()?;
        let (stop, stopped) = std::sync::mpsc::channel();
        if schema != super::Schema::AsIs {
            checkpoints(path.clone(), durability.clone(), stopped)?;
        }
        std::fs::File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(|e| StoreError::Io(format!("{}: {e}", path.display())))?;
        Ok(SqliteStore {
            path,
            writer: Mutex::new(conn),
            readers: Mutex::new(Readers {
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
            clock: WriterClock::default(),
            feed_clock: WriterClock::default(),
            durability,
            _checkpoints: stop,
        })
    }

    /// Where the database file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn reader(&self) -> Result<Connection> {
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(c) = readers.idle.pop() {
                return Ok(c);
            }
            if readers.open < MAX_READERS {
                readers.open += 1;
                drop(readers);
                let opened = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY
                        | OpenFlags::SQLITE_OPEN_NO_MUTEX
                        | OpenFlags::SQLITE_OPEN_URI,
                )
                .map_err(db_err)
                .and_then(|c| {
                    c.busy_timeout(Duration::from_secs(10))?;
                    c.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                    c.pragma_update(None, "query_only", true)?;
                    Ok(c)
                });
                if opened.is_err() {
                    let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
                    readers.open -= 1;
                }
                return opened;
            }
            readers = self
                .returned
                .wait(readers)
                .unwrap_or_else(|p| p.into_inner());
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if readers.idle.len() < IDLE_READERS {
            readers.idle.push(conn);
        } else {
            readers.open -= 1;
        }
        self.returned.notify_one();
    }
}

/// Applies the migrations the database lacks, each in its own transaction with its version
/// bump. The version is read and each migration applied under an exclusive lock, so processes
/// starting together on one folder migrate once (the others find the work done).
fn migrate(conn: &mut Connection) -> Result<()> {
    loop {
        conn.execute_batch("BEGIN EXCLUSIVE")?;
        let step = (|| -> Result<bool> {
            let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            let current = current as usize;
            super::check_version(current, MIGRATIONS.len(), super::Schema::Upgrade, "")?;
            let Some(sql) = MIGRATIONS.get(current) else {
                return Ok(false);
            };
            conn.execute_batch(sql)?;
            conn.pragma_update(None, "user_version", (current + 1) as i64)?;
            Ok(true)
        })();
        match step {
            Ok(more) => {
                conn.execute_batch("COMMIT")?;
                if !more {
                    return Ok(());
                }
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
    }
}

impl ServerStore for SqliteStore {
    fn close(&self) -> Result<()> {
        // A clean stop leaves everything in the database file itself: a copy of
        // `fieldline.db` alone is then a whole database.
        let conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    fn read(&self) -> Result<Box<dyn ReadTx + '_>> {
        let conn = self.reader()?;
        // A deferred transaction: every query of this read sees the same snapshot.
        if let Err(e) = conn.execute_batch("BEGIN") {
            self.give_back(conn);
            return Err(e.into());
        }
        Ok(Box::new(SqliteRead {
            conn: Some(conn),
            store: self,
        }))
    }

    fn write(&self) -> Result<Box<dyn WriteTx + '_>> {
        let conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        // A panic that unwound through a transaction rolled it back in `Drop`; make sure.
        if !conn.is_autocommit() {
            conn.execute_batch("ROLLBACK")?;
        }
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let changes_before = conn.total_changes();
        Ok(Box::new(SqliteWrite {
            changes_before,
            conn: Some(conn),
            done: false,
            started: std::time::Instant::now(),
            store: self,
            fed: std::cell::Cell::new(None),
        }))
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn status(&self) -> StoreStatus {
        let readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        let (writes, write_nanos) = self.clock.read();
        let (serial_commits, serial_nanos) = self.feed_clock.read();
        let (flushes, flush_nanos) = self.durability.flushes.read();
        StoreStatus {
            connections: readers.open as u64 + 1,
            idle: readers.idle.len() as u64,
            waiting: 0,
            writes,
            write_nanos,
            write_buckets: self.clock.buckets(),
            serial_commits,
            serial_nanos,
            serial_buckets: self.feed_clock.buckets(),
            // The one writer is every job's lock.
            job_lock_commits: serial_commits,
            job_lock_nanos: serial_nanos,
            job_lock_buckets: self.feed_clock.buckets(),
            flushes,
            flush_nanos,
            flush_buckets: self.durability.flushes.buckets(),
            statements: 0,
            round_trips: 0,
        }
    }
}

/// A read transaction on a pooled connection; ended and returned to the pool on drop.
struct SqliteRead<'s> {
    conn: Option<Connection>,
    store: &'s SqliteStore,
}

impl Drop for SqliteRead<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if conn.execute_batch("ROLLBACK").is_ok() {
                self.store.give_back(conn);
            } else {
                let mut readers = self.store.readers.lock().unwrap_or_else(|p| p.into_inner());
                readers.open -= 1;
                self.store.returned.notify_one();
            }
        }
    }
}

/// The write transaction: holds the writer until committed or dropped (rolled back).
struct SqliteWrite<'s> {
    /// The writer (`None` once let go).
    conn: Option<MutexGuard<'s, Connection>>,
    done: bool,
    started: std::time::Instant,
    store: &'s SqliteStore,
    /// Whether it added to the feed: the newest position before its own (its floor).
    fed: std::cell::Cell<Option<i64>>,
    /// The connection's count of changed rows when the transaction began: a commit that
    /// changed none writes nothing to the log, so it waits for no flush.
    changes_before: u64,
}

impl SqliteWrite<'_> {
    fn conn(&self) -> &Connection {
        self.conn.as_ref().expect("a live write transaction")
    }

    /// Lets the writer go, recording how long it was held.
    fn let_go(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !self.done {
                let _ = conn.execute_batch("ROLLBACK");
            }
            drop(conn);
            self.store.clock.ended(self.started);
            if self.fed.get().is_some() && self.done {
                self.store.feed_clock.ended(self.started);
            }
        }
    }
}

impl Drop for SqliteWrite<'_> {
    fn drop(&mut self) {
        self.let_go();
    }
}

/// A savepoint inside a write transaction: released by `commit`, rolled back on drop.
struct SqliteSavepoint<'t> {
    conn: &'t Connection,
    fed: &'t std::cell::Cell<Option<i64>>,
    name: String,
    done: bool,
}

impl Drop for SqliteSavepoint<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self
                .conn
                .execute_batch(&format!("ROLLBACK TO {0}; RELEASE {0}", self.name));
        }
    }
}

impl Conn for SqliteRead<'_> {
    fn db(&self) -> &dyn Db {
        self.conn.as_ref().expect("a live read transaction")
    }

    fn durable_seq(&self) -> Option<i64> {
        self.store.durability.bound()
    }
}

impl Conn for SqliteWrite<'_> {
    fn db(&self) -> &dyn Db {
        self.conn()
    }

    fn fed(&self) {
        note_floor(self.conn(), &self.fed);
    }
}

impl Conn for SqliteSavepoint<'_> {
    fn db(&self) -> &dyn Db {
        self.conn
    }

    fn fed(&self) {
        note_floor(self.conn, self.fed);
    }
}

/// The first time a write transaction adds to the feed: the newest position before its own. (A
/// failed read notes 0, which only holds the feed back until the commit is flushed.)
fn note_floor(conn: &Connection, fed: &std::cell::Cell<Option<i64>>) {
    if fed.get().is_none() {
        let floor = conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM changes", [], |r| {
                r.get(0)
            })
            .unwrap_or(0);
        fed.set(Some(floor));
    }
}

fn to_sql(v: &Value) -> rusqlite::types::ToSqlOutput<'_> {
    use rusqlite::types::{ToSqlOutput, ValueRef};
    ToSqlOutput::Borrowed(match v {
        Value::Null => ValueRef::Null,
        Value::Int(i) => ValueRef::Integer(*i),
        Value::Real(f) => ValueRef::Real(*f),
        Value::Text(s) => ValueRef::Text(s.as_bytes()),
        Value::Blob(b) => ValueRef::Blob(b),
        // Refused before binding (`scalars`): SQLite has no arrays.
        Value::List(_) => ValueRef::Null,
    })
}

/// Refuses arguments SQLite cannot bind (a list is PostgreSQL's array).
fn scalars(args: &[Value]) -> Result<()> {
    if args.iter().any(|v| matches!(v, Value::List(_))) {
        return Err(StoreError::Database(
            "SQLite binds no arrays: insert rows one by one (sql::insert_rows)".into(),
        ));
    }
    Ok(())
}

fn from_sql(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

impl Db for Connection {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>> {
        scalars(args)?;
        let mut stmt = self.prepare_cached(sql)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(args.iter().map(to_sql)))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut row = Vec::with_capacity(columns);
            for i in 0..columns {
                row.push(from_sql(r.get_ref(i)?));
            }
            out.push(Row(row));
        }
        Ok(out)
    }

    fn execute(&self, sql: &str, args: &[Value]) -> Result<u64> {
        scalars(args)?;
        let mut stmt = self.prepare_cached(sql)?;
        Ok(stmt.execute(rusqlite::params_from_iter(args.iter().map(to_sql)))? as u64)
    }

    fn batch(&self, sql: &str) -> Result<()> {
        Ok(self.execute_batch(sql)?)
    }
}

static SAVEPOINTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn open_savepoint<'t>(
    conn: &'t Connection,
    fed: &'t std::cell::Cell<Option<i64>>,
) -> Result<SqliteSavepoint<'t>> {
    let n = SAVEPOINTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("sp_{n}");
    conn.execute_batch(&format!("SAVEPOINT {name}"))?;
    Ok(SqliteSavepoint {
        conn,
        fed,
        name,
        done: false,
    })
}

impl crate::conn::Finish for SqliteWrite<'_> {
    fn savepoint(&mut self) -> Result<Box<dyn WriteTx + '_>> {
        Ok(Box::new(open_savepoint(self.conn(), &self.fed)?))
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        let durability = &self.store.durability;
        let wrote = self.conn().total_changes() != self.changes_before;
        // Held before the commit is visible, released once it is on disk.
        let hold = self.fed.get().map(|floor| durability.hold(floor));
        if let Err(e) = self.conn().execute_batch("COMMIT") {
            if let Some(h) = hold {
                durability.release(h);
            }
            return Err(e.into());
        }
        self.done = true;
        let n = durability.committed();
        // The writer goes before the flush (the module's notes on group commit).
        self.let_go();
        let flushed = if wrote { durability.wait(n) } else { Ok(()) };
        if let Some(h) = hold {
            durability.release(h);
        }
        flushed
    }
}

impl crate::conn::Finish for SqliteSavepoint<'_> {
    fn savepoint(&mut self) -> Result<Box<dyn WriteTx + '_>> {
        Ok(Box::new(open_savepoint(self.conn, self.fed)?))
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.conn.execute_batch(&format!("RELEASE {}", self.name))?;
        self.done = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_2_database_upgrades_and_keeps_its_jobs() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(FILE)).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(MIGRATIONS[1]).unwrap();
            conn.execute_batch(
                "INSERT INTO jobs (job_id, unit, kind, job_no, status, customer_name, created_by,
                    updated_at) VALUES ('j1', 'u', 'hv', 'YK-1', 'accepted', '客户', 'cm', 0);
                 INSERT INTO changes (job_id, hash, bytes, origin_device) VALUES ('j1', x'01', x'02', 'd');
                 INSERT INTO changes (job_id, hash, bytes, origin_device) VALUES ('j1', x'03', x'04', 'd');
                 PRAGMA user_version = 2;",
            )
            .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let conn = Connection::open(dir.path().join(FILE)).unwrap();
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v as usize, MIGRATIONS.len());
        let r = store.read().unwrap();
        let meta = r.job_meta("j1").unwrap().unwrap();
        assert_eq!(meta.unit, "u");
        assert_eq!(meta.version, 2, "the document version is backfilled");
        let stats = r.stats().unwrap();
        assert_eq!(
            (stats.jobs, stats.changes, stats.blobs, stats.audit),
            (1, 2, 0, 0)
        );
        let keys: i64 = conn
            .query_row(
                "SELECT COUNT(public_key) + COUNT(actor) FROM devices",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(keys, 0);
    }

    /// The ids of the jobs a text search finds.
    fn search(r: &dyn ReadTx, text: &str) -> Vec<String> {
        r.list_jobs(&crate::JobListQuery {
            text: Some(text.into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|row| row.job_id)
        .collect()
    }

    #[test]
    fn a_version_6_database_keeps_its_snapshots_and_finds_its_jobs_by_text() {
        use crate::{JobListQuery, JobRow};
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(FILE)).unwrap();
            for sql in &MIGRATIONS[..6] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(
                "INSERT INTO jobs (job_id, unit, kind, job_no, status, customer_name, created_by,
                    updated_at, snapshot, snapshot_seq, address)
                 VALUES ('j1', 'u', 'hv', 'YK-0001', 'accepted', '城东花园小区', 'cm', 0,
                    x'0a0b0c', 1, '邾县建设路 9 号');
                 INSERT INTO jobs (job_id, unit, kind, job_no, status, customer_name, created_by,
                    updated_at) VALUES ('j2', 'u', 'hv', 'YK-0002', 'accepted', '王记餐馆', 'cm', 0);
                 INSERT INTO changes (job_id, hash, bytes, origin_device) VALUES ('j1', x'01', x'0d', 'd');
                 PRAGMA user_version = 6;",
            )
            .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let r = store.read().unwrap();
        // The snapshot moved out of the jobs table; the document still loads as before
        // (snapshot, then the changes after it).
        let bytes = r.job_bytes("j1").unwrap().unwrap();
        assert!(bytes.starts_with(&[0x0a, 0x0b, 0x0c]), "{bytes:?}");
        let found = |text: &str| search(&*r, text);
        // Existing jobs are searchable: short text, long text, job number, wildcards literal.
        assert_eq!(found("花园"), vec!["j1"]);
        assert_eq!(found("建设路 9"), vec!["j1"]);
        assert_eq!(found("YK-0002"), vec!["j2"]);
        assert_eq!(found("yk-000").len(), 2, "case-insensitive");
        assert!(found("%").is_empty() && found("_").is_empty());
        drop(r);
        // New and changed jobs follow through the triggers.
        let mut tx = store.write().unwrap();
        let mut row = JobRow {
            job_id: "j3".into(),
            unit: "u".into(),
            kind: "hv".into(),
            job_no: "YK-0003".into(),
            status: "accepted".into(),
            customer_name: "恒泰物流园".into(),
            customer_manager: None,
            project_manager: None,
            next_due: None,
            sla_state: None,
            created_by: "cm".into(),
            updated_at: 1,
            review_state: None,
            accepted_on: "2026-11-01".into(),
            address: String::new(),
            key_project: false,
            powered_on: None,
            visit_state: None,
            satisfaction: None,
            project_progress: None,
            customer_rating: None,
        };
        let mut write = crate::JobWrite {
            job_id: "j3".into(),
            row: row.clone(),
            snapshot: Some(b"snap".to_vec()),
            ..Default::default()
        };
        assert!(tx.write_job(&write).unwrap());
        assert!(!tx.write_job(&write).unwrap(), "a new job that exists");
        row.customer_name = "新城充电站".into();
        write.row = row;
        write.expected = Some(0);
        write.snapshot = Some(b"snap2".to_vec());
        assert!(tx.write_job(&write).unwrap());
        write.expected = Some(1);
        assert!(
            !tx.write_job(&write).unwrap(),
            "a version the job is not at"
        );
        // Planned from the row it had: only what changed is rewritten (here the status and the
        // address; the name stays as stored).
        write.expected = Some(0);
        write.snapshot = None;
        write.previous = Some(write.row.clone());
        write.row.status = "surveyed".into();
        write.row.address = "邾县滨河路 3 号".into();
        assert!(tx.write_job(&write).unwrap());
        tx.commit().unwrap();
        let r = store.read().unwrap();
        let found = |text: &str| search(&*r, text);
        assert!(found("恒泰物流").is_empty(), "the old name is gone");
        assert_eq!(found("充电站"), vec!["j3"]);
        assert_eq!(found("充电"), vec!["j3"]);
        assert_eq!(
            found("滨河路"),
            vec!["j3"],
            "the changed address is searchable"
        );
        let j3 = r
            .list_jobs(&JobListQuery {
                text: Some("充电站".into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(j3[0].status, "surveyed");
        assert_eq!(r.job_bytes("j3").unwrap().unwrap(), b"snap2");
        let counts = r.count_jobs(&JobListQuery::default()).unwrap();
        assert_eq!(counts.total, 3);
    }

    #[test]
    fn a_version_15_database_keeps_each_actor_for_its_first_device() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(FILE)).unwrap();
            for sql in &MIGRATIONS[..15] {
                conn.execute_batch(sql).unwrap();
            }
            // An older server let a second device take a registered actor (in capitals), and a
            // third take the server's own.
            conn.execute_batch(
                "INSERT INTO users (id, username, password_hash, role, unit, display_name, created_at)
                    VALUES (1, 'cm', 'h', 'customer_manager', 'u', 'cm', 0);
                 INSERT INTO devices (device_id, user_id, first_seen, last_seen, actor)
                    VALUES ('honest', 1, 10, 10, 'abcd'), ('thief', 1, 20, 20, 'ABCD'),
                           ('server', 1, 30, 30, '6669656c646c696e652d736572766572'),
                           ('other', 1, 40, 40, 'ef01');
                 INSERT INTO tokens (hash, user_id, device_id, created_at, expires_at)
                    VALUES (x'01', 1, 'honest', 0, 9999999999999), (x'02', 1, 'thief', 0, 9999999999999),
                           (x'03', 1, 'server', 0, 9999999999999);
                 PRAGMA user_version = 15;",
            )
            .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let r = store.read().unwrap();
        let actor = |d: &str| r.device(d).unwrap().unwrap().actor;
        assert_eq!(actor("honest").as_deref(), Some("abcd"));
        assert_eq!(actor("thief"), None, "the later registration loses it");
        assert_eq!(actor("server"), None, "nobody keeps the server's actor");
        assert_eq!(actor("other").as_deref(), Some("ef01"));
        let live = |h: u8| !r.token(&[h]).unwrap().unwrap().revoked;
        assert!(live(1) && !live(2) && !live(3), "their tokens ended");
        drop(r);
        // The index keeps it so.
        let mut tx = store.write().unwrap();
        let taken = tx.upsert_device(&crate::DeviceRow {
            device_id: "again".into(),
            user_id: 1,
            last_seen: 50,
            public_key: None,
            actor: Some("abcd".into()),
        });
        assert!(
            taken.is_err(),
            "a second device cannot register a taken actor"
        );
    }

    #[test]
    fn a_version_17_database_gets_a_record_for_every_unit_it_names() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(FILE)).unwrap();
            for sql in &MIGRATIONS[..17] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(
                "INSERT INTO users (username, password_hash, role, unit, display_name, created_at)
                    VALUES ('cm', 'h', 'customer_manager', 'u1', 'cm', 0),
                           ('cm2', 'h', 'customer_manager', 'u1', 'cm2', 0);
                 INSERT INTO jobs (job_id, unit, kind, job_no, status, customer_name, created_by,
                    updated_at) VALUES ('j1', 'u2', 'hv', 'YK-1', 'accepted', '客户', 'cm', 0);
                 INSERT INTO reference_data (kind, id, version, unit, effective_from, body,
                    installed_at, installed_by)
                    VALUES ('rule_set', 'r', 9, 'u3', '2026-01-01', '{}', 0, 'x');
                 PRAGMA user_version = 17;",
            )
            .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let r = store.read().unwrap();
        let units: Vec<String> = r.units().unwrap().into_iter().map(|u| u.unit).collect();
        assert_eq!(units, ["u1", "u2", "u3"]);
        assert_eq!(r.unit_name("u1").unwrap().as_deref(), Some("u1"));
        assert_eq!(r.unit_name("nope").unwrap(), None);
    }

    #[test]
    fn a_version_11_database_gains_supervision_orders_and_unit_leaders() {
        use crate::{SupervisionQuery, SupervisionRow, UserChange};
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(FILE)).unwrap();
            for sql in &MIGRATIONS[..11] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(
                "INSERT INTO users (username, password_hash, role, unit, display_name, created_at)
                    VALUES ('lead1', 'x', 'dispatcher', 'u', '周', 0);
                 PRAGMA user_version = 11;",
            )
            .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        assert!(store.read().unwrap().unit_leaders("u").unwrap().is_empty());
        let mut tx = store.write().unwrap();
        let change = UserChange {
            leader: Some(true),
            ..Default::default()
        };
        assert!(tx.update_user("lead1", &change).unwrap());
        let order = SupervisionRow {
            job_id: "j1".into(),
            order_id: "s1".into(),
            unit: "u".into(),
            job_no: "YK-1".into(),
            manager: "cm1".into(),
            manager_name: "李".into(),
            reason: "督办".into(),
            due_on: "2026-11-30".into(),
            ..Default::default()
        };
        let write = crate::JobWrite {
            job_id: "j1".into(),
            row: crate::JobRow {
                job_id: "j1".into(),
                unit: "u".into(),
                ..Default::default()
            },
            supervision: Some(vec![order.clone()]),
            ..Default::default()
        };
        assert!(tx.write_job(&write).unwrap());
        tx.commit().unwrap();
        let r = store.read().unwrap();
        assert_eq!(
            r.unit_leaders("u").unwrap(),
            vec![("lead1".to_string(), "周".to_string())]
        );
        let q = SupervisionQuery {
            unit: Some("u".into()),
            open_only: true,
            limit: 10,
        };
        assert_eq!(r.supervision_orders(&q).unwrap(), vec![order]);
        assert_eq!(r.late_orders("2026-11-30", 10).unwrap(), vec![]);
        assert_eq!(
            r.late_orders("2026-12-01", 10).unwrap(),
            vec![("j1".to_string(), "s1".to_string())]
        );
    }

    #[test]
    fn a_version_12_database_moves_its_write_policies_into_reference_data() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(FILE)).unwrap();
            for sql in &MIGRATIONS[..12] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(
                "INSERT INTO write_policies (id, version, unit, effective_from, body, installed_at)
                    VALUES ('zhuxian', 2, 'zhuxian', '2026-01-01', '{}', 5);
                 PRAGMA user_version = 12;",
            )
            .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let r = store.read().unwrap();
        let rows = r.reference_data(Some("write_policy")).unwrap();
        assert_eq!(rows.len(), 1);
        let p = &rows[0];
        assert_eq!((p.id.as_str(), p.version), ("zhuxian", 2));
        assert_eq!(p.unit.as_deref(), Some("zhuxian"));
        assert_eq!(p.installed_by, "cli");
        assert_eq!(r.reference_after(0, "zhuxian", 10).unwrap().len(), 1);
        assert!(r.reference_after(0, "other", 10).unwrap().is_empty());
        assert_eq!(r.max_reference_seq().unwrap(), p.seq);
    }

    #[test]
    fn a_database_from_a_newer_server_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        Connection::open(dir.path().join(FILE))
            .unwrap()
            .execute_batch("PRAGMA user_version = 99;")
            .unwrap();
        assert!(matches!(
            SqliteStore::open(dir.path()),
            Err(StoreError::TooNew { found: 99, .. })
        ));
    }

    #[test]
    fn transactions_roll_back_unless_committed_and_savepoints_nest() {
        use crate::{AuditEntry, AuditQuery};
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let entry = |kind: &str| AuditEntry {
            kind: kind.into(),
            at: 1,
            ..Default::default()
        };
        {
            let mut tx = store.write().unwrap();
            tx.append_audit(&entry("dropped")).unwrap();
        }
        {
            let mut tx = store.write().unwrap();
            tx.append_audit(&entry("kept")).unwrap();
            {
                let mut sp = tx.savepoint().unwrap();
                sp.append_audit(&entry("undone")).unwrap();
            }
            let mut sp = tx.savepoint().unwrap();
            sp.append_audit(&entry("released")).unwrap();
            sp.commit().unwrap();
            tx.commit().unwrap();
        }
        // A panic inside a transaction leaves nothing open behind it.
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut tx = store.write().unwrap();
            tx.append_audit(&entry("panicked")).unwrap();
            panic!("boom");
        }));
        assert!(panicked.is_err());
        let mut tx = store.write().unwrap();
        tx.append_audit(&entry("after")).unwrap();
        tx.commit().unwrap();
        let kinds: Vec<String> = store
            .read()
            .unwrap()
            .audit(&AuditQuery {
                limit: 10,
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, vec!["kept", "released", "after"]);
        // The trail is append-only, even for SQL that tries.
        let conn = Connection::open(dir.path().join(FILE)).unwrap();
        assert!(conn.execute("DELETE FROM audit", []).is_err());
        assert!(conn.execute("UPDATE audit SET kind = 'x'", []).is_err());
    }

    #[test]
    fn readers_do_not_wait_for_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let mut tx = store.write().unwrap();
        tx.append_audit(&crate::AuditEntry {
            kind: "uncommitted".into(),
            ..Default::default()
        })
        .unwrap();
        // The writer is busy; a reader still answers, from the last commit.
        let r = store.read().unwrap();
        assert_eq!(r.stats().unwrap().audit, 0);
        drop(r);
        tx.commit().unwrap();
        assert_eq!(store.read().unwrap().stats().unwrap().audit, 1);
    }

    /// A new job with `n` changes, its bytes made unique by `tag`.
    fn new_job(id: &str, n: usize) -> crate::JobWrite {
        crate::JobWrite {
            job_id: id.into(),
            row: crate::JobRow {
                job_id: id.into(),
                unit: "u".into(),
                ..Default::default()
            },
            changes: (0..n)
                .map(|i| crate::NewChange {
                    hash: format!("{id}/{i}").into_bytes(),
                    bytes: vec![1, 2, 3],
                    origin: "d".into(),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_feed_is_served_only_up_to_what_is_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let mut tx = store.write().unwrap();
        assert!(tx.write_job(&new_job("j1", 2)).unwrap());
        tx.commit().unwrap();
        // A commit returns once flushed: its changes are in the feed at once.
        assert_eq!(store.read().unwrap().max_seq().unwrap(), 2);
        // A commit of this store that is visible but not flushed yet (held as `commit` holds
        // it before `COMMIT`; its rows written here by another connection) is not served.
        let hold = store.durability.hold(2);
        let other = Connection::open(store.path()).unwrap();
        other
            .execute(
                "INSERT INTO changes (job_id, n, hash, bytes, origin_device) \
                 VALUES ('j1', 3, x'01', x'01', 'd')",
                [],
            )
            .unwrap();
        let r = store.read().unwrap();
        assert_eq!(r.job_change_count("j1").unwrap(), 3);
        assert_eq!(r.max_seq().unwrap(), 2, "served beyond the flushed commits");
        drop(r);
        // Once flushed, it is.
        store.durability.release(hold);
        assert_eq!(store.read().unwrap().max_seq().unwrap(), 3);
        // What another store on the same file commits (another node, a command) is served at
        // once: it returned only once flushed.
        let node2 = SqliteStore::open(dir.path()).unwrap();
        let mut tx = node2.write().unwrap();
        assert!(tx.write_job(&new_job("j2", 1)).unwrap());
        tx.commit().unwrap();
        assert_eq!(store.read().unwrap().max_seq().unwrap(), 4);
        assert_eq!(store.durability.bound(), None);
    }

    #[test]
    fn a_commit_that_changed_nothing_waits_for_no_flush() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let flushes = || store.status().flushes;
        let before = flushes();
        let tx = store.write().unwrap();
        assert_eq!(tx.job_change_count("j1").unwrap(), 0);
        tx.commit().unwrap();
        assert_eq!(flushes(), before, "an empty commit flushed");
        let mut tx = store.write().unwrap();
        assert!(tx.write_job(&new_job("j1", 1)).unwrap());
        tx.commit().unwrap();
        assert_eq!(flushes(), before + 1);
    }

    #[test]
    fn writers_share_flushes_and_each_returns_durable() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        let threads = 4;
        let each = 25;
        let writing = std::sync::atomic::AtomicBool::new(true);
        std::thread::scope(|s| {
            // A reader as a feed page reads: the bound never goes back.
            let reader = s.spawn(|| {
                let mut last = 0;
                while writing.load(Ordering::SeqCst) {
                    let served = store.read().unwrap().max_seq().unwrap();
                    assert!(
                        served >= last,
                        "the feed's bound went back: {last} → {served}"
                    );
                    last = served;
                }
            });
            let writers: Vec<_> = (0..threads)
                .map(|t| {
                    let store = &store;
                    s.spawn(move || {
                        for i in 0..each {
                            let mut tx = store.write().unwrap();
                            assert!(tx.write_job(&new_job(&format!("j{t}-{i}"), 1)).unwrap());
                            tx.commit().unwrap();
                        }
                    })
                })
                .collect();
            for w in writers {
                w.join().unwrap();
            }
            writing.store(false, Ordering::SeqCst);
            reader.join().unwrap();
        });
        let status = store.status();
        assert_eq!(status.writes, (threads * each) as u64);
        assert!(status.flushes >= 1 && status.flushes <= status.writes);
        assert_eq!(
            store.read().unwrap().max_seq().unwrap(),
            (threads * each) as i64
        );
    }

    #[test]
    fn a_version_19_database_gains_unit_places_and_online_applications() {
        use crate::{ApplicationRow, UnitRecord};
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(FILE)).unwrap();
            for sql in &MIGRATIONS[..19] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch(
                "INSERT INTO units (unit, name, created_at, created_by) VALUES ('zx', '邾县', 0, 'a');
                 PRAGMA user_version = 19;",
            )
            .unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let units = store.read().unwrap().units().unwrap();
        assert_eq!(
            units,
            vec![UnitRecord {
                unit: "zx".into(),
                name: "邾县".into(),
                ..Default::default()
            }]
        );
        let app = |id: &str, at: i64| ApplicationRow {
            id: id.into(),
            unit: "zx".into(),
            state: "pending".into(),
            same_key: "same".into(),
            phone_key: "phone".into(),
            detail: "{}".into(),
            created_at: at,
            ..Default::default()
        };
        let mut tx = store.write().unwrap();
        tx.insert_application(&app("a1", 10)).unwrap();
        tx.commit().unwrap();
        // One pending application per person and place.
        let mut tx = store.write().unwrap();
        assert!(tx.insert_application(&app("a2", 20)).is_err());
        drop(tx);
        let r = store.read().unwrap();
        assert_eq!(r.open_application("same").unwrap().unwrap().id, "a1");
        assert_eq!(r.applications_by_phone("phone", 0).unwrap(), 1);
        assert_eq!(r.pending_before(None, 11, 10).unwrap().len(), 1);
        assert_eq!(
            r.pending_before(Some(&["other".into()]), 11, 10)
                .unwrap()
                .len(),
            0
        );
        drop(r);
        let mut tx = store.write().unwrap();
        assert!(
            tx.decide_application("a1", "declined", "o", 30, Some("no"), None)
                .unwrap()
        );
        assert!(
            !tx.decide_application("a1", "accepted", "o", 31, None, Some("a1"))
                .unwrap(),
            "decided once"
        );
        tx.insert_application(&app("a3", 40)).unwrap();
        tx.commit().unwrap();
        let r = store.read().unwrap();
        assert_eq!(
            r.application("a1").unwrap().unwrap().reason.as_deref(),
            Some("no")
        );
        assert_eq!(r.open_application("same").unwrap().unwrap().id, "a3");
        assert_eq!(
            r.applications_of("zx", Some("pending"), 10).unwrap().len(),
            1
        );
    }

    #[test]
    fn a_version_20_database_gains_the_agenda() {
        use crate::{AgendaQuery, AgendaRow, JobRow};
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(FILE)).unwrap();
            for sql in &MIGRATIONS[..20] {
                conn.execute_batch(sql).unwrap();
            }
            conn.execute_batch("PRAGMA user_version = 20;").unwrap();
        }
        let store = SqliteStore::open(dir.path()).unwrap();
        let item = |id: &str, due: &str, done: bool| AgendaRow {
            job_id: "j1".into(),
            item_id: id.into(),
            unit: "zx".into(),
            job_no: "YK-1".into(),
            customer_name: "客户".into(),
            kind: "action".into(),
            owner: Some("cm".into()),
            due_on: due.into(),
            late_on: due.into(),
            title: "落实".into(),
            done,
        };
        let mut tx = store.write().unwrap();
        let write = crate::JobWrite {
            job_id: "j1".into(),
            row: JobRow {
                job_id: "j1".into(),
                unit: "zx".into(),
                kind: "hv".into(),
                job_no: "YK-1".into(),
                status: "accepted".into(),
                created_by: "cm".into(),
                accepted_on: "2026-11-01".into(),
                ..Default::default()
            },
            agenda: Some(vec![
                item("a1", "2026-11-05", false),
                item("a2", "2026-11-30", false),
                item("a3", "2026-11-04", true),
            ]),
            snapshot: Some(b"snap".to_vec()),
            ..Default::default()
        };
        assert!(tx.write_job(&write).unwrap());
        tx.commit().unwrap();
        let q = |unit: Option<&str>, owner: Option<&str>, until: &str| AgendaQuery {
            unit: unit.map(str::to_string),
            owner: owner.map(str::to_string),
            until: until.into(),
            limit: 10,
        };
        let ids = |q: AgendaQuery| -> Vec<String> {
            let r = store.read().unwrap();
            r.agenda_items(&q)
                .unwrap()
                .into_iter()
                .map(|i| i.item_id)
                .collect()
        };
        assert_eq!(
            ids(q(Some("zx"), None, "2026-11-20")),
            ["a1"],
            "open, due by then"
        );
        assert_eq!(ids(q(None, Some("cm"), "2026-12-31")), ["a1", "a2"]);
        assert!(ids(q(Some("other"), None, "2026-12-31")).is_empty());
        assert!(ids(q(None, Some("someone"), "2026-12-31")).is_empty());
        // Rewritten whole with the job.
        let mut tx = store.write().unwrap();
        let mut again = write.clone();
        again.expected = Some(0);
        again.snapshot = None;
        again.agenda = Some(vec![item("a2", "2026-11-30", true)]);
        assert!(tx.write_job(&again).unwrap());
        tx.commit().unwrap();
        assert!(ids(q(None, None, "2026-12-31")).is_empty());
    }
}
