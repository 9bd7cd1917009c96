//! The server's storage seam: a [`ServerStore`] hands out read transactions (from a pool of
//! readers, never waiting behind a writer), write transactions, and all SQL lives behind it. The
//! embedded SQLite implementation is [`sqlite::SqliteStore`], the one for several nodes
//! [`postgres::PostgresStore`].
//!
//! Transactions are guards: a write transaction commits only through [`WriteTx::commit`] and
//! rolls back when dropped (also while a panic unwinds), so no error path can leave the database
//! inside an open transaction. [`WriteTx::savepoint`] nests a guard of the same kind. A job's
//! write is planned before the transaction and stored by [`JobWrites::write_job`] only if the job
//! is still at the version it was planned from; [`ServerStore::write_beside`] gives the
//! transaction for that, which on PostgreSQL runs beside other writers.
//!
//! # The feed cursor
//!
//! The change log's `seq` is the sync feed's cursor: a phone asks for the changes after the last
//! `seq` it stored. That is only correct if no change with a smaller `seq` can become visible
//! after a larger one was read. Every read of the feed is bounded by [`FeedReads::max_seq`], the
//! newest position every earlier one of which is final. SQLite has one writer, so positions
//! commit in order and the bound is the newest change. PostgreSQL draws a position from the
//! writing transaction's id and bounds reads below the oldest writer of the database still
//! running (`postgres/migrations/0006_feed_positions.sql`). [`FeedReads::max_seq`],
//! [`FeedReads::feed_changes`] and friends are the only places that read positions.

pub mod applications;
pub mod assessment;
pub mod audit;
pub mod board;
mod conn;
pub mod copy;
pub mod feed;
pub mod jobs;
pub mod listing;
pub mod postgres;
pub mod reference;
pub mod sessions;
pub mod sql;
pub mod sqlite;
pub mod uploads;
pub mod users;

pub use applications::{ApplicationReads, ApplicationRow, ApplicationWrites};
pub use assessment::{AssessmentQuery, AssessmentReads, ManagerStats, PoweredJob, ProjectClock};
pub use audit::{AuditEntry, AuditQuery, AuditReads, AuditWrites};
pub use board::{
    AgendaQuery, AgendaRow, BoardCounts, BoardQuery, BoardReads, BoardRow, StageClockRow,
    SupervisionQuery, SupervisionRow,
};
pub use feed::{FeedChange, FeedReads, Scope};
pub use jobs::{
    BlobRefRow, JobClock, JobMeta, JobReads, JobRow, JobState, JobWrite, JobWrites, NewChange,
    ReviewRow,
};
pub use listing::{JobCounts, JobListQuery, JobListRow, ListReads, ListSort};
pub use reference::{ReferenceReads, ReferenceRow, ReferenceWrites};
pub use sessions::{SessionReads, SessionRow, SessionSummary, SessionWrites};
pub use uploads::{BlobNamed, UploadReads, UploadRow, UploadWrites};
pub use users::{
    DeviceRow, DeviceSummary, NewUser, QualificationRow, TokenRow, TrainingRow, UnitRecord,
    UserChange, UserReads, UserRow, UserSummary, UserWrites,
};

use conn::{Conn, Finish};
use sql::{Db, args};

use serde::Serialize;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(String),
    #[error(
        "数据库版本 {found} 比本服务器支持的 {supported} 新，请升级服务器 / database version {found} is newer than this server ({supported}): please update"
    )]
    TooNew { found: usize, supported: usize },
    #[error(
        "{where_} 没有 Fieldline 数据库：请检查 --data-dir、--config 或 --database-url（新装请先运行 fieldline init）/ there is no Fieldline database at {where_}: check --data-dir, --config or --database-url (a new installation starts with fieldline init)"
    )]
    Missing { where_: String },
    #[error(
        "{where_} 的数据库版本 {found} 旧于本程序的 {needed}：只读命令不升级数据库，请先运行 fieldline serve 或 fieldline init 升级 / the database at {where_} is version {found}, older than this fieldline ({needed}): read-only commands never upgrade it; run fieldline serve or fieldline init first"
    )]
    Outdated {
        where_: String,
        found: usize,
        needed: usize,
    },
    #[error("{0}")]
    Io(String),
}

/// The rule every backend applies to the schema version `found` in a database (this build
/// knows `supported` versions): never a newer one, and an older one only where `schema` lets
/// it be upgraded.
pub(crate) fn check_version(
    found: usize,
    supported: usize,
    schema: Schema,
    where_: &str,
) -> Result<()> {
    if found > supported {
        return Err(StoreError::TooNew { found, supported });
    }
    if found < supported && schema == Schema::AsIs {
        return Err(StoreError::Outdated {
            where_: where_.to_string(),
            found,
            needed: supported,
        });
    }
    Ok(())
}

/// Whether opening a store may create or upgrade its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// `serve`, `demo`, `init`: create the database if need be and upgrade it.
    Create,
    /// Commands that write: the database must exist; it is upgraded.
    Upgrade,
    /// Commands that only read: the database must exist at this version; nothing is changed.
    AsIs,
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Counts for operators and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub users: i64,
    pub devices: i64,
    pub jobs: i64,
    pub changes: i64,
    pub blobs: i64,
    pub uploads: i64,
    pub audit: i64,
}

/// Opens the store a database URL names: `postgres://…` (or `postgresql://…`) with at most
/// `pool` connections, `sqlite://PATH` (a directory or a `.db` file), or, when empty, SQLite
/// under `data_dir`; creating or upgrading its schema only as `schema` allows.
pub fn open_url(
    url: &str,
    data_dir: &std::path::Path,
    pool: u32,
    schema: Schema,
) -> Result<std::sync::Arc<dyn ServerStore>> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = postgres::PostgresStore::open_as(url, pool, schema)?;
        tracing::info!(database = store.target(), "PostgreSQL store");
        return Ok(std::sync::Arc::new(store));
    }
    let dir = match url.strip_prefix("sqlite://") {
        Some(path)
            if path.starts_with('/') || path.starts_with("./") || path.starts_with("../") =>
        {
            sqlite::dir_of(std::path::Path::new(path))?
        }
        Some(path) => {
            return Err(StoreError::Database(format!(
                "SQLite 地址须为绝对路径（sqlite:///srv/fieldline）或以 ./ 开头的相对路径：{url} / a SQLite URL needs an absolute path (sqlite:///srv/fieldline) or one starting with ./: {url} (here “{path}” would be read as a relative path)"
            )));
        }
        None if url.is_empty() => data_dir.to_path_buf(),
        None => {
            return Err(StoreError::Database(format!(
                "数据库地址须以 sqlite:// 或 postgres:// 开头 / the database URL must start with sqlite:// or postgres://: {url}"
            )));
        }
    };
    Ok(std::sync::Arc::new(sqlite::SqliteStore::open_as(
        &dir, schema,
    )?))
}

/// How a store's connections and its writer are doing (`/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStatus {
    /// Connections open, and idle among them.
    pub connections: u64,
    pub idle: u64,
    /// Callers waiting for a connection.
    pub waiting: u64,
    /// Write transactions ended, and the time they held the writer (the one-writer-at-a-time
    /// lock: its use bounds the writes a whole cluster can make per second).
    pub writes: u64,
    pub write_nanos: u64,
    /// Write transactions held at most each bound of [`WRITER_BUCKETS`] (cumulative, as a
    /// Prometheus histogram's buckets), then all of them (+Inf).
    pub write_buckets: [u64; WRITER_BUCKETS.len() + 1],
    /// Commits that added to the feed inside a section serialized across the installation, the
    /// time each spent in it, and its histogram like `write_buckets`: SQLite's one writer (the
    /// whole write transaction); on PostgreSQL there is none (job writes take no lock beyond
    /// their jobs' rows, feed positions none), so these stay 0.
    pub serial_commits: u64,
    pub serial_nanos: u64,
    pub serial_buckets: [u64; WRITER_BUCKETS.len() + 1],
    /// Commits that added to the feed, and how long each held its jobs' locks (from its first
    /// job's version check to the commit): PostgreSQL's row locks, which only other writes of
    /// the same jobs wait for; SQLite: the writer, as above.
    pub job_lock_commits: u64,
    pub job_lock_nanos: u64,
    pub job_lock_buckets: [u64; WRITER_BUCKETS.len() + 1],
    /// SQLite's flushes of its write-ahead log (group commit: outside the writer, each covering
    /// every commit written before it began), their time and histogram; PostgreSQL: 0.
    pub flushes: u64,
    pub flush_nanos: u64,
    pub flush_buckets: [u64; WRITER_BUCKETS.len() + 1],
    /// Statements sent to the database server, and the round trips they took (PostgreSQL;
    /// SQLite runs in the process: 0).
    pub statements: u64,
    pub round_trips: u64,
}

/// The upper bounds of the writer-hold histogram, seconds (then +Inf).
pub const WRITER_BUCKETS: [f64; 13] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// Counts write transactions and the time each held the writer, in total and as a histogram.
#[derive(Debug, Default)]
pub struct WriterClock {
    writes: std::sync::atomic::AtomicU64,
    nanos: std::sync::atomic::AtomicU64,
    /// Per bucket of [`WRITER_BUCKETS`] and one for longer: the holds that fell in it.
    buckets: [std::sync::atomic::AtomicU64; WRITER_BUCKETS.len() + 1],
}

impl WriterClock {
    /// A write transaction that started at `since` ended.
    pub fn ended(&self, since: std::time::Instant) {
        self.record(since.elapsed());
    }

    /// A hold of `held`.
    pub fn record(&self, held: std::time::Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        self.writes.fetch_add(1, Relaxed);
        self.nanos.fetch_add(held.as_nanos() as u64, Relaxed);
        let seconds = held.as_secs_f64();
        let i = WRITER_BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(WRITER_BUCKETS.len());
        self.buckets[i].fetch_add(1, Relaxed);
    }

    /// `(writes, nanoseconds)` so far.
    pub fn read(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (self.writes.load(Relaxed), self.nanos.load(Relaxed))
    }

    /// The histogram's cumulative buckets (+Inf last).
    pub fn buckets(&self) -> [u64; WRITER_BUCKETS.len() + 1] {
        use std::sync::atomic::Ordering::Relaxed;
        let mut total = 0;
        let mut out = [0; WRITER_BUCKETS.len() + 1];
        for (o, n) in out.iter_mut().zip(&self.buckets) {
            total += n.load(Relaxed);
            *o = total;
        }
        out
    }
}

/// A database that holds the server's state.
pub trait ServerStore: Send + Sync + 'static {
    /// Called once when the server stops cleanly: SQLite moves its write-ahead log into the
    /// database file.
    fn close(&self) -> Result<()> {
        Ok(())
    }

    /// A read transaction: a consistent snapshot from the reader pool.
    fn read(&self) -> Result<Box<dyn ReadTx + '_>>;
    /// Reads without a snapshot across them: each statement sees the newest commits (on
    /// PostgreSQL no `BEGIN` and `ROLLBACK` around them). For planning a job's write, which the
    /// version check makes safe, and for feed pages, which never look beyond the position they
    /// read first (every position up to it is final).
    fn read_fresh(&self) -> Result<Box<dyn ReadTx + '_>> {
        self.read()
    }
    /// A write transaction under the cluster's one writer (administration and other rare
    /// writes that read and then write shared rows); rolled back unless committed.
    fn write(&self) -> Result<Box<dyn WriteTx + '_>>;
    /// A write transaction that runs beside other writers: for jobs ([`JobWrites::write_job`]:
    /// each checked against the version it was planned from; feed positions need no lock) and
    /// for single-row writes whose own statement decides (an upload's claim, offset and
    /// release). PostgreSQL takes no cluster-wide lock for it; SQLite has one writer for all.
    fn write_beside(&self) -> Result<Box<dyn WriteTx + '_>> {
        self.write()
    }
    /// The backend's name, for logs (`sqlite`, …).
    fn backend(&self) -> &'static str;
    /// Connections and the writer's use so far.
    fn status(&self) -> StoreStatus;
}

/// Every read of the store, by aggregate (each trait lives with its rows in its module; a
/// caller imports the ones it uses). A read transaction of either backend has them all.
pub trait ReadTx:
    UserReads
    + SessionReads
    + JobReads
    + FeedReads
    + UploadReads
    + AuditReads
    + ReferenceReads
    + ListReads
    + BoardReads
    + AssessmentReads
    + ApplicationReads
{
    fn stats(&self) -> Result<Stats>;

    /// The transaction's connection, for whole-table work (`fieldline db copy`); services use
    /// the methods above.
    fn connection(&self) -> &dyn sql::Db;
}

/// Every write of the store, by aggregate, inside one transaction.
pub trait WriteTx:
    ReadTx
    + UserWrites
    + SessionWrites
    + JobWrites
    + UploadWrites
    + AuditWrites
    + ReferenceWrites
    + ApplicationWrites
{
    /// A nested transaction: commits into this one, or is undone when dropped.
    fn savepoint(&mut self) -> Result<Box<dyn WriteTx + '_>>;
    /// Makes everything durable (or, for a savepoint, part of the enclosing transaction).
    fn commit(self: Box<Self>) -> Result<()>;
}

impl<T: Conn> ReadTx for T {
    fn stats(&self) -> Result<Stats> {
        let row = self.db().opt(
            "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM devices),
                    (SELECT COUNT(*) FROM jobs), (SELECT COUNT(*) FROM changes),
                    (SELECT COUNT(*) FROM blobs), (SELECT COUNT(*) FROM uploads),
                    (SELECT COUNT(*) FROM audit)",
            args![],
            |r| {
                Ok(Stats {
                    users: r.get(0)?,
                    devices: r.get(1)?,
                    jobs: r.get(2)?,
                    changes: r.get(3)?,
                    blobs: r.get(4)?,
                    uploads: r.get(5)?,
                    audit: r.get(6)?,
                })
            },
        )?;
        Ok(row.unwrap_or_default())
    }

    fn connection(&self) -> &dyn Db {
        self.db()
    }
}

impl<T: Conn + Finish> WriteTx for T {
    fn savepoint(&mut self) -> Result<Box<dyn WriteTx + '_>> {
        Finish::savepoint(self)
    }

    fn commit(self: Box<Self>) -> Result<()> {
        Finish::commit(self)
    }
}
