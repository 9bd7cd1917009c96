//! The server's storage seam: a [`ServerStore`] hands out read transactions (from a pool of
//! readers, never waiting behind a writer), write transactions, and all SQL lives behind it. The
//! embedded SQLite implementation is [`sqlite::SqliteStore`], the one for several nodes
//! [`postgres::PostgresStore`].
//!
//! Transactions are guards: a write transaction commits only through [`WriteTx::commit`] and
//! rolls back when dropped (also while a panic unwinds), so no error path can leave the database
//! inside an open transaction. [`WriteTx::savepoint`] nests a guard of the same kind. A job's
//! write is planned before the transaction and stored by [`WriteTx::write_job`] only if the job
//! is still at the version it was planned from; [`ServerStore::write_beside`] gives the
//! transaction for that, which on PostgreSQL runs beside other writers.
//!
//! # The feed cursor
//!
//! The change log's `seq` is the sync feed's cursor: a phone asks for the changes after the last
//! `seq` it stored. That is only correct if no change with a smaller `seq` can become visible
//! after a larger one was read. Every read of the feed is bounded by [`ReadTx::max_seq`], the
//! newest position every earlier one of which is final. SQLite has one writer, so positions
//! commit in order and the bound is the newest change. PostgreSQL draws a position from the
//! writing transaction's id and bounds reads below the oldest writer of the database still
//! running (`postgres/migrations/0006_feed_positions.sql`). [`ReadTx::max_seq`],
//! [`ReadTx::feed_changes`] and friends are the only places that read positions.

pub mod copy;
pub mod postgres;
mod queries;
pub mod sql;
pub mod sqlite;

use serde::{Deserialize, Serialize};

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

/// A user row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub unit: String,
    pub display_name: String,
    pub disabled: bool,
}

/// A new user.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub unit: &'a str,
    pub display_name: &'a str,
    pub created_at: i64,
}

/// A device row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    pub device_id: String,
    pub user_id: i64,
    pub last_seen: i64,
    pub public_key: Option<String>,
    pub actor: Option<String>,
}

/// What a bearer token resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub user: UserRow,
    pub device_id: String,
    pub device_actor: Option<String>,
    pub expires_at: i64,
    pub revoked: bool,
}

/// What the server keeps about a job besides its document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobMeta {
    pub job_id: String,
    pub unit: String,
    pub created_by: String,
    /// How many changes the job has (numbered 1, 2, …): the version of its document, which a
    /// write planned from it must still find ([`WriteTx::write_job`]).
    pub version: i64,
    /// How many of them its snapshot holds.
    pub snapshot_n: i64,
}

/// A job's version, next due date and worst time-limit state.
pub type JobClock = (i64, Option<String>, Option<String>);

/// A job as a write is planned from it: its meta and who may see it through an assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    pub meta: JobMeta,
    /// Users with access (managers, the creator until a customer manager is assigned), sorted.
    pub access: Vec<String>,
}

/// A change to append to a job's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChange {
    pub hash: Vec<u8>,
    pub bytes: Vec<u8>,
    /// The device that pushed it (`server` for the server's own).
    pub origin: String,
}

/// A photo file a job's document names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRefRow {
    pub sha256: String,
    pub photo_id: String,
    pub role: String,
    pub bytes: i64,
    pub mime: String,
}

/// Everything one write of a job stores, planned before the transaction from the job as it
/// stood at version `expected` (so the work that depends on a job runs beside the writes of
/// other jobs, never inside a lock they wait for). [`WriteTx::write_job`] stores it only if the
/// job is still at that version.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobWrite {
    pub job_id: String,
    /// The version the write was planned from; `None`: a new job.
    pub expected: Option<i64>,
    /// The list row (lists, filters, clocks' summary).
    pub row: JobRow,
    /// The list row the job had at `expected`, as planned from it: only the columns that differ
    /// are rewritten (the clock columns and `updated_at` always), so indexes and the text
    /// search of unchanged columns are left alone. `None`: every column.
    pub previous: Option<JobRow>,
    /// The running stage clocks, when they changed.
    pub clocks: Option<Vec<StageClockRow>>,
    /// The supervision orders, when they changed.
    pub supervision: Option<Vec<SupervisionRow>>,
    /// The new changes, in the document's order.
    pub changes: Vec<NewChange>,
    /// The audit entries of the write (one per change, and any other).
    pub audit: Vec<AuditEntry>,
    /// Users who gain / lose access (told at this write's feed position).
    pub grant: Vec<String>,
    pub revoke: Vec<String>,
    /// Photo files the job names for the first time.
    pub blob_refs: Vec<BlobRefRow>,
    /// The whole document, to keep as the job's snapshot (it holds every change).
    pub snapshot: Option<Vec<u8>>,
    /// Server state set where not yet set (the countersigning key's first use).
    pub state: Vec<(String, String)>,
}

/// The list row of a job (what lists and filters need).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobRow {
    pub job_id: String,
    pub unit: String,
    pub kind: String,
    pub job_no: String,
    pub status: String,
    pub customer_name: String,
    pub customer_manager: Option<String>,
    pub project_manager: Option<String>,
    pub next_due: Option<String>,
    pub sla_state: Option<String>,
    pub created_by: String,
    pub updated_at: i64,
    pub review_state: Option<String>,
    pub accepted_on: String,
    pub address: String,
    pub key_project: bool,
    /// The China-time day the job was powered on.
    pub powered_on: Option<String>,
    /// The return visit: `due`, `follow_up` or `done` (`None`: not powered on yet).
    pub visit_state: Option<String>,
    /// The return visit's satisfaction, 1–5.
    pub satisfaction: Option<i64>,
    /// The supporting project's progress, percent.
    pub project_progress: Option<f64>,
}

/// A running stage clock of a job (the dispatch board).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StageClockRow {
    pub stage: String,
    pub started_on: String,
    /// `None` while the clock runs.
    pub ended_on: Option<String>,
    pub due_on: Option<String>,
    pub used_days: i64,
    pub limit_days: i64,
    pub state: String,
    pub paused: bool,
    /// `overdue`, `due_soon`, `used_90`… (`None`: no warning).
    pub warning: Option<String>,
    pub warn_rank: i64,
}

/// The jobs and clocks an assessment period covers.
#[derive(Debug, Clone, Default)]
pub struct AssessmentQuery {
    /// `None`: every unit.
    pub unit: Option<String>,
    /// First and last day (`YYYY-MM-DD`) of the period.
    pub from: String,
    pub to: String,
}

/// A job powered on in an assessment period.
#[derive(Debug, Clone, PartialEq)]
pub struct PoweredJob {
    pub kind: String,
    pub customer_manager: Option<String>,
    pub accepted_on: String,
    pub powered_on: String,
    pub satisfaction: Option<i64>,
}

/// A user as administration lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub unit: String,
    pub disabled: bool,
    pub created_at: i64,
    /// A leader of the unit (单位负责人): late supervision orders escalate to them.
    pub leader: bool,
}

/// A supervision order (督办) as the board lists it: a projection of the job document, written
/// with every change of the job.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SupervisionRow {
    pub job_id: String,
    pub order_id: String,
    pub unit: String,
    pub job_no: String,
    pub manager: String,
    pub manager_name: String,
    pub issued_by: String,
    pub stage: Option<String>,
    pub reason: String,
    /// Milliseconds since the epoch, like every instant below.
    pub issued_at: Option<i64>,
    /// `YYYY-MM-DD`.
    pub due_on: String,
    pub answered_at: Option<i64>,
    pub escalated_at: Option<i64>,
    /// Comma-separated usernames of the leaders it escalated to.
    pub leaders: Option<String>,
    pub closed_at: Option<i64>,
}

/// Which supervision orders to list.
#[derive(Debug, Clone, Default)]
pub struct SupervisionQuery {
    /// `None`: every unit (admins).
    pub unit: Option<String>,
    /// Leave out closed orders.
    pub open_only: bool,
    pub limit: u32,
}

/// A device as administration lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSummary {
    pub device_id: String,
    pub first_seen: i64,
    pub last_seen: i64,
    /// Tokens neither revoked nor expired.
    pub active_tokens: i64,
    /// When an admin revoked the device (it cannot log in until let back).
    pub revoked_at: Option<i64>,
}

/// A live browser session of a user, as the admin's user page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// The session's stored hash (never the cookie itself), in hex: names it for ending it.
    pub id: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A change to a user (only what is `Some`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    pub disabled: Option<bool>,
    pub leader: Option<bool>,
    pub password_hash: Option<String>,
    pub role: Option<String>,
    pub unit: Option<String>,
}

/// A customer manager's record (the public page).
#[derive(Debug, Clone, PartialEq)]
pub struct ManagerStats {
    pub username: String,
    pub handled: i64,
    pub open: i64,
    pub satisfaction: Option<f64>,
    pub visits: i64,
}

/// A running supporting project (配套工程).
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectClock {
    pub project_manager: Option<String>,
    pub state: String,
    pub progress: Option<f64>,
}

/// Counts of warnings on the board.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BoardCounts {
    /// `(stage, warning, jobs)`.
    pub by_stage: Vec<(String, String, i64)>,
    /// `(customer manager or "", warning, jobs)`.
    pub by_manager: Vec<(String, String, i64)>,
}

/// What the dispatch board shows: a scope and optional filters.
#[derive(Debug, Clone, Default)]
pub struct BoardQuery {
    /// `None`: every unit (admins).
    pub unit: Option<String>,
    /// Only jobs this user is assigned to (managers).
    pub assigned_to: Option<String>,
    pub stage: Option<String>,
    pub warning: Option<String>,
    /// Customer or project manager.
    pub manager: Option<String>,
    pub key_project: Option<bool>,
    pub limit: u32,
}

/// A warning on the board: the stage clock and its job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BoardRow {
    pub job_id: String,
    pub job_no: String,
    pub unit: String,
    pub kind: String,
    pub customer_name: String,
    pub customer_manager: Option<String>,
    pub project_manager: Option<String>,
    pub key_project: bool,
    pub clock: StageClockRow,
}

/// How a job list is sorted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListSort {
    /// Most recently changed first.
    #[default]
    Updated,
    /// Earliest due date first (no running clock last).
    Due,
    /// Most recently accepted first.
    Accepted,
    /// By job number.
    JobNo,
}

/// A job list query: a scope, filters (all optional), a sort and a keyset page.
#[derive(Debug, Clone, Default)]
pub struct JobListQuery {
    /// `None`: every job (admins).
    pub unit: Option<String>,
    /// Only jobs this user is assigned to (managers).
    pub assigned_to: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    /// A review state, or `none` for jobs never reviewed or submitted.
    pub review_state: Option<String>,
    pub sla_state: Option<String>,
    pub customer_manager: Option<String>,
    pub project_manager: Option<String>,
    /// Accepted on or after / before (YYYY-MM-DD).
    pub accepted_from: Option<String>,
    pub accepted_to: Option<String>,
    /// Matched in the customer's name, the address and the job number.
    pub text: Option<String>,
    pub key_project: Option<bool>,
    pub sort: ListSort,
    /// `due`, `follow_up` or `done` (return visits).
    pub visit_state: Option<String>,
    /// Powered on on or before this day (`YYYY-MM-DD`).
    pub powered_on_until: Option<String>,
    /// The sort key and job id of the last row of the previous page.
    pub after: Option<(String, String)>,
    pub limit: u32,
}

/// One row of a job list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobListRow {
    pub job_id: String,
    pub unit: String,
    pub kind: String,
    pub job_no: String,
    pub status: String,
    pub customer_name: String,
    pub address: String,
    pub customer_manager: Option<String>,
    pub project_manager: Option<String>,
    pub next_due: Option<String>,
    pub sla_state: Option<String>,
    pub review_state: Option<String>,
    pub accepted_on: String,
    pub key_project: bool,
    pub updated_at: i64,
    pub powered_on: Option<String>,
    pub visit_state: Option<String>,
    /// The value the list is sorted by (for the next page's cursor).
    pub sort_key: String,
}

/// Totals of a job list query (paging aside): `[state, count]` pairs per kind of state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobCounts {
    pub total: i64,
    #[schema(value_type = Vec<Vec<serde_json::Value>>)]
    pub by_status: Vec<(String, i64)>,
    #[schema(value_type = Vec<Vec<serde_json::Value>>)]
    pub by_sla_state: Vec<(String, i64)>,
    #[schema(value_type = Vec<Vec<serde_json::Value>>)]
    pub by_review_state: Vec<(String, i64)>,
}

/// A browser session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub user: UserRow,
    pub csrf: String,
    pub expires_at: i64,
    pub revoked: bool,
}

/// An office review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRow {
    pub id: i64,
    pub job_id: String,
    pub at: i64,
    pub reviewer: String,
    pub outcome: String,
    pub comment: String,
    /// The document heads the reviewer saw (32 bytes each).
    pub heads: Vec<u8>,
}

/// Whose jobs a feed query covers.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Every job (admins).
    All,
    /// Every job of a unit (office staff, dispatchers).
    Unit(&'a str),
    /// The jobs a user is assigned to.
    User(&'a str),
}

/// One change of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedChange {
    pub seq: i64,
    pub job_id: String,
    pub bytes: Vec<u8>,
}

/// A blob as [`ReadTx::blobs_named`] finds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobNamed {
    pub sha256: String,
    /// `(job_id, mime, role)` of every job that names it.
    pub refs: Vec<(String, String, String)>,
    /// The file was received.
    pub stored: bool,
}

/// A tus upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    pub id: String,
    pub username: String,
    pub job_id: String,
    pub sha256: String,
    pub length: u64,
    pub offset: u64,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Assigned by the store (ignored when appending).
    pub id: i64,
    /// Server time (ms since the epoch).
    pub at: i64,
    /// `change`, `login`, `login_failed`, `token_revoked`, `push_refused`,
    /// `contract_verified`, `contract_exported`, `download`, `user_added`, `reference_installed`,
    /// `supervision_escalated`, …
    pub kind: String,
    pub username: Option<String>,
    pub role: Option<String>,
    pub device_id: Option<String>,
    pub job_id: Option<String>,
    pub change_hash: Option<String>,
    /// The device's clock when the change was made (ms).
    pub device_time: Option<i64>,
    pub sections: Vec<String>,
    pub paths: Vec<String>,
    /// Anything else (reason codes, client address, file names).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// Which audit entries to read.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub job_id: Option<String>,
    pub username: Option<String>,
    /// Server time, ms: entries at or after.
    pub since: Option<i64>,
    /// Server time, ms: entries before.
    pub until: Option<i64>,
    /// Entries about this user (what was done *to* them: the `user` an administrative entry
    /// names), beside `username` (who did it).
    pub subject: Option<String>,
    /// Entries with a larger id (paging, oldest first).
    pub after_id: Option<i64>,
    /// Entries with a smaller id, newest first (paging backwards; overrides `after_id`).
    pub before_id: Option<i64>,
    pub limit: u32,
}

/// Installed reference data (基础数据) the phones get by sync: a rule set, a write policy or a
/// calendar bundle.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReferenceRow {
    /// Assigned by the store (ignored when inserting): the phones' cursor.
    pub seq: i64,
    /// `rule_set`, `write_policy` or `calendar`.
    pub kind: String,
    pub id: String,
    pub version: i64,
    /// `None`: every unit.
    pub unit: Option<String>,
    /// `YYYY-MM-DD` (calendars have none).
    pub effective_from: Option<String>,
    /// The JSON exactly as installed.
    pub body: String,
    pub installed_at: i64,
    pub installed_by: String,
}

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

/// Opens the store `config` names: `database_url` `postgres://…` (or `postgresql://…`),
/// `sqlite://PATH` (a directory or a `.db` file), or, when empty, SQLite under `data_dir`.
pub fn open(config: &crate::config::Config) -> Result<std::sync::Arc<dyn ServerStore>> {
    open_as(config, Schema::Create)
}

/// Opens the store `config` names, creating or upgrading its schema only as `schema` allows.
pub fn open_as(
    config: &crate::config::Config,
    schema: Schema,
) -> Result<std::sync::Arc<dyn ServerStore>> {
    let url = config.database_url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = postgres::PostgresStore::open_as(url, config.database_pool, schema)?;
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
        None if url.is_empty() => config.data_dir.clone(),
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
    /// A write transaction that runs beside other writers: for jobs ([`WriteTx::write_job`]:
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

/// Reads.
pub trait ReadTx {
    // Users, devices, tokens.
    fn user_by_name(&self, username: &str) -> Result<Option<UserRow>>;
    /// When device `device_id` was revoked (`Some(None)`: it is not; `None`: no such device).
    fn device_revoked(&self, device_id: &str) -> Result<Option<Option<i64>>>;
    fn device(&self, device_id: &str) -> Result<Option<DeviceRow>>;
    fn token(&self, hash: &[u8]) -> Result<Option<TokenRow>>;

    // Jobs.
    fn job_meta(&self, job_id: &str) -> Result<Option<JobMeta>>;
    /// A job's meta and access in one read (what planning a write needs).
    fn job_state(&self, job_id: &str) -> Result<Option<JobState>>;
    /// The stored document: its snapshot followed by the changes after it.
    fn job_bytes(&self, job_id: &str) -> Result<Option<Vec<u8>>>;
    /// Rows of the job's change log.
    fn job_change_count(&self, job_id: &str) -> Result<i64>;
    /// The newest feed position a reader may serve: every position up to it is final
    /// (committed, or never to be), whichever writers are still running.
    fn max_seq(&self) -> Result<i64>;
    fn fallback_state(&self, device_id: &str, job_id: &str) -> Result<Option<Vec<u8>>>;

    // The feed.
    /// Changes after `cursor` up to `upto` (a position [`ReadTx::max_seq`] gave) in scope, in
    /// position order, except those `device` pushed, at most `limit` rows.
    fn feed_changes(
        &self,
        scope: Scope,
        device_id: &str,
        cursor: i64,
        upto: i64,
        limit: u32,
    ) -> Result<Vec<FeedChange>>;
    /// Like [`ReadTx::feed_changes`], the position and size in bytes of each change only (a page
    /// is measured before any change is loaded).
    fn feed_sizes(
        &self,
        scope: Scope,
        device_id: &str,
        cursor: i64,
        upto: i64,
        limit: u32,
    ) -> Result<Vec<(i64, i64)>>;
    /// The bytes of a job's changes up to position `upto`.
    fn job_history_bytes(&self, job_id: &str, upto: i64) -> Result<i64>;
    /// Jobs that entered `username`'s scope at a position in `(from, to]`.
    fn entered_jobs(&self, username: &str, from: i64, to: i64) -> Result<Vec<(String, i64)>>;
    /// Jobs that left `username`'s scope at a position in `(from, to]` and are still out of it.
    fn left_jobs(&self, username: &str, from: i64, to: i64) -> Result<Vec<String>>;
    /// A job's changes up to position `upto`, in order.
    fn job_changes_upto(&self, job_id: &str, upto: i64) -> Result<Vec<(i64, Vec<u8>)>>;

    // Blobs and uploads.
    fn blob_ref_bytes(&self, sha256: &str, job_id: &str) -> Result<Option<i64>>;
    /// Jobs naming a blob, with its media type and role.
    fn blob_refs(&self, sha256: &str) -> Result<Vec<(String, String, String)>>;
    /// For each of `shas` in one read: the jobs naming it with the media type and role they
    /// declare, and whether the store has the file.
    fn blobs_named(&self, shas: &[&str]) -> Result<Vec<BlobNamed>>;
    /// Stored blobs (sha256, bytes), newest first, at most `limit`.
    fn recent_blobs(&self, limit: u32) -> Result<Vec<(String, i64)>>;
    /// Stored blobs (sha256, bytes) after `after` in hash order, at most `limit` (a check
    /// walks them all in pages).
    fn blobs_after(&self, after: &str, limit: u32) -> Result<Vec<(String, i64)>>;
    fn blob_stored(&self, sha256: &str) -> Result<bool>;
    fn upload(&self, id: &str, username: &str) -> Result<Option<UploadRow>>;
    /// The newest upload of `sha256` by `username` (a retried creation finds it).
    fn upload_of(&self, username: &str, sha256: &str) -> Result<Option<UploadRow>>;

    // Audit and policies.
    /// How many entries the query's filters match (its paging and limit aside).
    fn audit_count(&self, q: &AuditQuery) -> Result<i64>;
    fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>>;
    /// Installed reference data of `kind` (every kind for `None`), in the order installed.
    fn reference_data(&self, kind: Option<&str>) -> Result<Vec<ReferenceRow>>;
    /// Reference data installed after `after` for `unit` (its own and every unit's), in order.
    fn reference_after(&self, after: i64, unit: &str, limit: u32) -> Result<Vec<ReferenceRow>>;
    /// The newest reference data's number (0 when none).
    fn max_reference_seq(&self) -> Result<i64>;

    // The office's lists, sessions and reviews.
    fn list_jobs(&self, q: &JobListQuery) -> Result<Vec<JobListRow>>;
    fn count_jobs(&self, q: &JobListQuery) -> Result<JobCounts>;
    /// Jobs whose list row predates a column (filled in at start).
    fn jobs_to_reproject(&self) -> Result<Vec<String>>;
    /// `(username, display name, role)` of a unit's users (every unit's for `None`).
    fn users_of(&self, unit: Option<&str>) -> Result<Vec<(String, String, String)>>;
    /// The user ids of a unit's active users, by user name (their public work numbers).
    fn user_ids(&self, unit: &str) -> Result<Vec<(String, i64)>>;
    fn web_session(&self, hash: &[u8]) -> Result<Option<SessionRow>>;
    /// The device and user each automerge actor (hex) writes for, where known:
    /// `(actor, device_id, username, display_name)`.
    fn actor_devices(&self, actors: &[String]) -> Result<Vec<(String, String, String, String)>>;
    fn last_review(&self, job_id: &str) -> Result<Option<ReviewRow>>;

    // The dispatch board.
    /// Warnings, most urgent first (then the earliest due).
    fn board_rows(&self, q: &BoardQuery) -> Result<Vec<BoardRow>>;
    /// Warnings counted by `(stage, warning)` and by `(customer manager, warning)`.
    fn board_counts(&self, q: &BoardQuery) -> Result<BoardCounts>;
    /// A job's running stage clocks.
    fn stage_clocks(&self, job_id: &str) -> Result<Vec<StageClockRow>>;
    /// Supervision orders, escalated and late first, then by deadline.
    fn supervision_orders(&self, q: &SupervisionQuery) -> Result<Vec<SupervisionRow>>;
    /// `(job_id, order_id)` of open, unanswered, not yet escalated orders due before `today`.
    fn late_orders(&self, today: &str, limit: u32) -> Result<Vec<(String, String)>>;
    /// `(username, display name)` of a unit's enabled leaders.
    fn unit_leaders(&self, unit: &str) -> Result<Vec<(String, String)>>;

    // Assessment.
    /// Jobs powered on in the period.
    fn powered_jobs(&self, q: &AssessmentQuery) -> Result<Vec<PoweredJob>>;
    /// Stage clocks that ended in the period: `(stage, customer manager or "", state, count)`.
    fn stage_outcomes(&self, q: &AssessmentQuery) -> Result<Vec<(String, String, String, i64)>>;
    /// Supporting projects whose clock runs (the unit of `q`; the period is ignored).
    fn running_projects(&self, q: &AssessmentQuery) -> Result<Vec<ProjectClock>>;

    // Administration.
    /// Every user of a unit (every unit's for `None`), disabled ones too.
    fn user_list(&self, unit: Option<&str>) -> Result<Vec<UserSummary>>;
    /// A user's devices, the most recently seen first.
    fn user_devices(&self, user_id: i64, now: i64) -> Result<Vec<DeviceSummary>>;
    /// The user's browser sessions neither ended nor expired, newest first.
    fn user_sessions(&self, user_id: i64, now: i64) -> Result<Vec<SessionSummary>>;

    // The customer's view.
    /// Per customer manager of a unit: jobs handled, open, satisfaction.
    fn manager_stats(&self, unit: &str) -> Result<Vec<ManagerStats>>;
    /// The photo files job `job_id` names that the blob store has not received (or lost).
    fn missing_blobs(&self, job_id: &str) -> Result<Vec<String>>;
    /// Every unit's code and name, by code.
    fn units(&self) -> Result<Vec<(String, String)>>;
    /// A unit's name, `None` when no such unit exists.
    fn unit_name(&self, unit: &str) -> Result<Option<String>>;

    // Scheduled work.
    /// A value of the server's own state (e.g. the day time limits were last recomputed).
    fn state(&self, key: &str) -> Result<Option<String>>;
    /// A job's clock columns, next due date and worst state, with its version.
    fn job_clock(&self, job_id: &str) -> Result<Option<JobClock>>;
    /// Jobs with a running clock (a due date) after `after` in id order, at most `limit`.
    fn running_clocks(&self, after: &str, limit: u32) -> Result<Vec<String>>;

    fn stats(&self) -> Result<Stats>;

    /// The transaction's connection, for whole-table work (`fieldline db copy`); services use
    /// the methods above.
    fn connection(&self) -> &dyn sql::Db;
}

/// Writes, inside one transaction.
pub trait WriteTx: ReadTx {
    /// A nested transaction: commits into this one, or is undone when dropped.
    fn savepoint(&mut self) -> Result<Box<dyn WriteTx + '_>>;
    /// Makes everything durable (or, for a savepoint, part of the enclosing transaction).
    fn commit(self: Box<Self>) -> Result<()>;

    // Users, devices, tokens.
    /// `None` when the username is taken.
    fn insert_user(&mut self, user: &NewUser) -> Result<Option<i64>>;
    /// A new unit; `false` when its code is taken.
    fn insert_unit(&mut self, unit: &str, name: &str, at: i64, by: &str) -> Result<bool>;
    fn upsert_device(&mut self, device: &DeviceRow) -> Result<()>;
    fn insert_token(
        &mut self,
        hash: &[u8],
        user_id: i64,
        device_id: &str,
        created_at: i64,
        expires_at: i64,
    ) -> Result<()>;
    /// Marks a device revoked at `at`, or lets it back (`None`); whether it exists.
    fn set_device_revoked(&mut self, device_id: &str, at: Option<i64>) -> Result<bool>;
    fn revoke_device_tokens(&mut self, device_id: &str, at: i64) -> Result<usize>;
    /// Ends every token and browser session of a user (trust in them ended): `(tokens,
    /// sessions)` ended.
    fn end_user_credentials(&mut self, user_id: i64, at: i64) -> Result<(usize, usize)>;
    /// Ends one browser session of a user; whether there was such a live one.
    fn end_user_session(&mut self, user_id: i64, hash: &[u8], at: i64) -> Result<bool>;
    /// Applies `change` to a user; `false` when there is no such user.
    fn update_user(&mut self, username: &str, change: &UserChange) -> Result<bool>;

    // Jobs.
    /// Stores a planned write of a job if the job is still at the version it was planned from
    /// (a new job: if it does not exist yet); `false` when it moved on (nothing written: plan
    /// again). Positions in the feed are drawn by the backend (see the module's notes).
    fn write_job(&mut self, w: &JobWrite) -> Result<bool>;
    /// Rewrites a job's clocks (the daily recomputation: `updated_at` stays) if it is still at
    /// `version`; whether it was.
    fn set_job_clocks(
        &mut self,
        job_id: &str,
        version: i64,
        clock: Option<(Option<&str>, Option<&str>)>,
        stages: &[StageClockRow],
    ) -> Result<bool>;
    fn set_state(&mut self, key: &str, value: &str) -> Result<()>;
    fn save_fallback_state(&mut self, device_id: &str, job_id: &str, state: &[u8]) -> Result<()>;

    // Blobs and uploads.
    fn insert_blob(&mut self, sha256: &str, bytes: i64, at: i64) -> Result<()>;
    fn forget_blob(&mut self, sha256: &str) -> Result<()>;
    fn insert_upload(&mut self, u: &UploadRow, at: i64) -> Result<()>;
    fn update_upload(&mut self, id: &str, job_id: &str, offset: u64, at: i64) -> Result<()>;
    fn set_upload_offset(&mut self, id: &str, offset: u64, at: i64) -> Result<()>;
    fn delete_upload(&mut self, id: &str) -> Result<()>;
    /// Deletes uploads untouched since `before`; returns their ids.
    fn delete_stale_uploads(&mut self, before: i64) -> Result<Vec<String>>;
    /// Claims upload `id` for `holder` until `until` (ms) unless another holder's claim stands
    /// at `now`; `true` when claimed (or renewed).
    fn claim_upload(&mut self, id: &str, holder: &str, now: i64, until: i64) -> Result<bool>;
    /// Ends `holder`'s claim on upload `id` (another's claim stays).
    fn release_upload(&mut self, id: &str, holder: &str) -> Result<()>;
    /// Ends every claim of node `node` (holders `node#…`): a restarted node's requests died
    /// with it. Returns how many.
    fn release_node_uploads(&mut self, node: &str) -> Result<u64>;

    // Audit and policies.
    fn append_audit(&mut self, entry: &AuditEntry) -> Result<i64>;
    /// Counts one login attempt for `key` in `minute` (minutes since the epoch); returns the
    /// minute's count so far, every node's attempts included.
    fn count_login_attempt(&mut self, key: &str, minute: i64) -> Result<i64>;
    /// Attempts counted under `key` in `minute` so far (nothing counted).
    fn login_attempts(&mut self, key: &str, minute: i64) -> Result<i64>;
    /// Forgets attempts of minutes before `minute`.
    fn prune_login_attempts(&mut self, minute: i64) -> Result<usize>;
    /// Installs reference data; one with the same kind, id and version is replaced (and gets a
    /// new number, so phones fetch it again). Returns its number.
    fn insert_reference(&mut self, r: &ReferenceRow) -> Result<i64>;

    // Sessions and reviews.
    fn insert_web_session(
        &mut self,
        hash: &[u8],
        user_id: i64,
        csrf: &str,
        created_at: i64,
        expires_at: i64,
    ) -> Result<()>;
    fn revoke_web_session(&mut self, hash: &[u8], at: i64) -> Result<()>;
    fn insert_review(&mut self, r: &ReviewRow) -> Result<i64>;
}
