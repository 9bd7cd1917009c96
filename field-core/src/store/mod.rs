//! The offline store: SQLite (WAL, `synchronous = FULL`) holding each job as an automerge
//! snapshot plus incremental chunks, a list projection, a sync outbox and the device identity.
//!
//! Every user action is one SQLite transaction: when a call returns `Ok`, the action survives a
//! crash or power loss. When it returns `Err`, nothing stored has changed.

mod agenda;
mod blobs;
mod contracts;
mod encryption;
mod key;
mod list;
#[cfg(feature = "photo")]
mod photos;
pub(crate) mod projection;
mod refused;
mod schema;
mod sealed;
mod sync_state;
mod uploads;

pub use agenda::{AgendaEntry, DesignChoice};
pub use blobs::BlobDir;
pub use contracts::SignedContract;
pub use key::{MAX_SECRET_BYTES, MIN_SECRET_BYTES, StoreKey};
pub use list::{JobFilter, JobPage, JobSummary, SortOrder};
#[cfg(feature = "photo")]
pub use photos::PhotoInput;
pub use refused::{Discarded, RefusedJob, UnsyncedExport};
pub use sync_state::{Outgoing, wire_heads};
pub use uploads::{PendingUpload, UploadStatus};

use crate::calendar::{Calendar, CalendarError};
use crate::codes::JobKind;
use crate::codes::Role;
use crate::contract::KeyPair;
use crate::job::{Edit, EditContext, Job, JobDoc, JobError, NewJob, local_date};
use crate::policy::{PolicyBook, PolicyError, Refusal, Writer};
use crate::rules::{Label, RequiredGroup, RuleBook, RulesError, Verdict};
use crate::sla::TimeLimits;
use automerge::ActorId;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Job(#[from] JobError),
    #[error("找不到工单 {0} / job {0} not found")]
    NotFound(String),
    #[error("工单 {0} 已存在 / job {0} already exists")]
    AlreadyExists(String),
    #[error(
        "数据库版本 {found} 比本应用支持的 {supported} 新，请升级应用 / database version {found} is newer than this app supports ({supported}): please update"
    )]
    TooNew { found: usize, supported: usize },
    #[error(
        "密钥不对，或数据文件已损坏；数据未被改动 / wrong key, or the store's file is damaged; nothing was changed"
    )]
    WrongKey,
    #[error("数据已加密，打开需要密钥 / the store is encrypted: it opens only with its key")]
    KeyRequired,
    #[error("密钥不可用 / unusable key: {0}")]
    BadKey(String),
    #[error("数据库错误 / database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[cfg(feature = "photo")]
    #[error(transparent)]
    Photo(#[from] crate::photo::PhotoError),
    #[error("照片文件读写失败 / photo file error: {0}")]
    Blob(String),
    #[error(transparent)]
    Contract(#[from] crate::contract::ContractError),
    /// The write policy does not let the signed-in user make this change; nothing was stored.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Grid(#[from] crate::grid::GridError),
    #[error(transparent)]
    Fees(#[from] crate::fees::FeeError),
    #[error(transparent)]
    Catalogue(#[from] crate::catalogue::CatalogueError),
    #[error(transparent)]
    Firms(#[from] crate::firms::FirmError),
    #[error("无法写入导出文件 / cannot write the export: {0}")]
    Export(String),
    /// Changes of a job arrived without the changes they depend on; nothing was stored.
    #[error(
        "工单 {0} 的变更缺少前置变更 / changes of job {0} arrived without the changes they depend on"
    )]
    MissingDeps(String),
}

impl From<crate::validate::Invalid> for StoreError {
    fn from(e: crate::validate::Invalid) -> Self {
        StoreError::Job(JobError::Invalid(e))
    }
}

/// This device's stable identity: a device id, the automerge actor it writes as and the public
/// half of its contract-signing key (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub device_id: String,
    pub actor: ActorId,
    pub public_key: String,
}

/// A job waiting to be synced: `generation` grows with every local change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirtyJob {
    pub job_id: String,
    pub generation: i64,
}

/// Every rule verdict for one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobVerdicts {
    pub direct_install: Verdict,
    pub zero_investment: Verdict,
    pub approval_exempt: Verdict,
    pub onsite_plan_reply: Verdict,
    pub inspections_required: Verdict,
    pub required_documents: Vec<RequiredGroup>,
    pub service_steps: Vec<Label>,
}

/// The user signed in on this device (from the last login): whose rights edits are checked
/// against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub username: String,
    pub role: Role,
    pub unit: String,
}

/// Size limits of the document cache.
const CACHE_MAX: usize = 32;

type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

pub(crate) struct Inner {
    conn: Connection,
    device: Device,
    key: crate::contract::KeyPair,
    cache: HashMap<String, JobDoc>,
    calendar: Calendar,
    rules: RuleBook,
    policies: PolicyBook,
    grid: crate::grid::GridBook,
    identity: Option<Identity>,
}

/// The phone's local store. `Send + Sync`; calls are serialised internally.
pub struct Store {
    inner: Mutex<Inner>,
    clock: Clock,
    blobs: BlobDir,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating or upgrading) the encrypted store at `path`: the database through
    /// SQLCipher, photo files sealed in a directory beside it, named after it (`field.db` →
    /// `field.db-blobs/`). A plain store found there is encrypted in place first (its plain
    /// files then removed). A wrong key is [`StoreError::WrongKey`] and changes nothing.
    pub fn open(path: impl AsRef<Path>, key: &StoreKey) -> Result<Store, StoreError> {
        let path = path.as_ref();
        let blobs = BlobDir::beside(path, Some(key));
        if encryption::kind(path)? == encryption::FileKind::Plain {
            encryption::encrypt_plain(path, key, &blobs, schema::MIGRATIONS.len())?;
        }
        let conn = encryption::open_keyed(path, key)?;
        encryption::remove_plain_leftovers(path, &blobs)?;
        Self::from_connection(conn, blobs)
    }

    /// Opens (creating or upgrading) a plain store at `path`, unencrypted: for tools and the
    /// benchmarks' comparison. Phones use [`Store::open`]. An encrypted store found there is
    /// [`StoreError::KeyRequired`].
    pub fn open_unencrypted(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref();
        if encryption::kind(path)? == encryption::FileKind::Encrypted {
            return Err(StoreError::KeyRequired);
        }
        Self::from_connection(Connection::open(path)?, BlobDir::beside(path, None))
    }

    /// A store that lives in memory (tests, previews); photo files go, sealed, in a temporary
    /// directory removed when the store is dropped.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Self::from_connection(Connection::open_in_memory()?, BlobDir::temporary())
    }

    /// Whether the store's files are encrypted (always, except stores opened with
    /// [`Store::open_unencrypted`]).
    pub fn is_encrypted(&self) -> bool {
        self.blobs.is_sealed()
    }

    fn from_connection(mut conn: Connection, blobs: BlobDir) -> Result<Store, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrate_to(&mut conn, schema::MIGRATIONS.len())?;
        let (device, key) = load_or_create_device(&conn)?;
        let mut calendar = Calendar::embedded();
        let bundles: Vec<String> = conn
            .prepare("SELECT bundle FROM calendar_data ORDER BY version")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for b in bundles {
            calendar = calendar.newer(Calendar::from_bundle(&b)?);
        }
        let mut rules = RuleBook::default();
        let sets: Vec<String> = conn
            .prepare("SELECT body FROM rule_set ORDER BY id, version")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for s in sets {
            rules.add_json(&s)?;
        }
        let mut policies = PolicyBook::default();
        let bodies: Vec<String> = conn
            .prepare("SELECT body FROM write_policy ORDER BY id, version")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for b in bodies {
            policies.add_json(&b)?;
        }
        let mut grid = crate::grid::GridBook::default();
        let cells: Vec<String> = conn
            .prepare("SELECT body FROM grid_cells ORDER BY unit")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for b in cells {
            grid.add_json(&b)?;
        }
        let identity = load_identity(&conn)?;
        Ok(Store {
            inner: Mutex::new(Inner {
                conn,
                device,
                key,
                cache: HashMap::new(),
                calendar,
                rules,
                policies,
                grid,
                identity,
            }),
            clock: Arc::new(Utc::now),
            blobs,
        })
    }

    /// Replaces the clock (tests and demos that need a fixed "now").
    pub fn with_clock(
        mut self,
        clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static,
    ) -> Store {
        self.clock = Arc::new(clock);
        self
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll
        // back), so a poisoned lock is safe to reuse.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    pub fn device(&self) -> Device {
        self.lock().device.clone()
    }

    pub fn calendar(&self) -> Calendar {
        self.lock().calendar.clone()
    }

    fn context(&self, inner: &Inner, actor: &str) -> EditContext {
        EditContext {
            actor: actor.to_string(),
            device: inner.device.device_id.clone(),
            now: self.now(),
        }
    }

    /// Accepts a new job (受理). One transaction.
    pub fn create_job(&self, actor: &str, new: &NewJob) -> Result<Job, StoreError> {
        Ok(self
            .create_jobs(actor, std::slice::from_ref(new))?
            .remove(0))
    }

    /// Accepts several jobs in one transaction (imports, demo data, benchmarks).
    pub fn create_jobs(&self, actor: &str, new: &[NewJob]) -> Result<Vec<Job>, StoreError> {
        let mut inner = self.lock();
        let ctx = self.context(&inner, actor);
        let mut created = Vec::with_capacity(new.len());
        for n in new {
            let rules = inner.rules.in_force(&n.unit, local_date(n.accepted_at));
            let mut doc = JobDoc::create(inner.device.actor.clone(), n, rules, &ctx)?;
            inner.check_write(&mut doc, &[], None, &ctx)?;
            let job = doc.job()?;
            let bytes = doc.save();
            created.push((job, doc, bytes));
        }
        let today = local_date(ctx.now);
        let tx = inner.conn.unchecked_transaction()?;
        let mut out = Vec::with_capacity(created.len());
        let mut docs = Vec::with_capacity(created.len());
        for (job, doc, bytes) in created {
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO job_doc (job_id, snapshot) VALUES (?1, ?2)",
                params![job.id, bytes],
            )?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists(job.id));
            }
            let limits = projection::limits_for(&job, &inner.rules, &inner.calendar, today);
            projection::write(&tx, &job, &limits, ctx.now.timestamp_millis())?;
            mark_dirty(&tx, &job.id, ctx.now)?;
            docs.push((job.id.clone(), doc));
            out.push(job);
        }
        tx.commit()?;
        for (id, doc) in docs {
            inner.cache_put(id, doc);
        }
        Ok(out)
    }

    /// Stores documents built elsewhere on this device (an import, a migration, a benchmark) as
    /// local work to be synced, in one transaction. Returns the job ids.
    pub fn import_documents(&self, documents: &[Vec<u8>]) -> Result<Vec<String>, StoreError> {
        let mut inner = self.lock();
        let now = self.now();
        let today = local_date(now);
        let mut loaded = Vec::with_capacity(documents.len());
        for bytes in documents {
            crate::job::chunks::check(bytes).map_err(JobError::from)?;
            let mut doc = JobDoc::load(bytes, inner.device.actor.clone())?;
            let job = doc.job()?;
            let snapshot = doc.save();
            loaded.push((job, doc, snapshot));
        }
        let tx = inner.conn.unchecked_transaction()?;
        let mut ids = Vec::with_capacity(loaded.len());
        let mut docs = Vec::with_capacity(loaded.len());
        for (job, doc, snapshot) in loaded {
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO job_doc (job_id, snapshot) VALUES (?1, ?2)",
                params![job.id, snapshot],
            )?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists(job.id));
            }
            let limits = projection::limits_for(&job, &inner.rules, &inner.calendar, today);
            projection::write(&tx, &job, &limits, now.timestamp_millis())?;
            mark_dirty(&tx, &job.id, now)?;
            ids.push(job.id.clone());
            docs.push((job.id, doc));
        }
        tx.commit()?;
        for (id, doc) in docs {
            inner.cache_put(id, doc);
        }
        Ok(ids)
    }

    /// Reads a job.
    pub fn job(&self, job_id: &str) -> Result<Job, StoreError> {
        let mut inner = self.lock();
        let doc = inner.doc(job_id)?;
        Ok(doc.job()?)
    }

    /// Applies one edit as one durable transaction and returns the job as it now stands.
    pub fn edit(&self, job_id: &str, actor: &str, edit: &Edit) -> Result<Job, StoreError> {
        let mut inner = self.lock();
        let ctx = self.context(&inner, actor);
        let result = inner.edit_locked(job_id, edit, &ctx);
        if result.is_err() {
            // The cached document may hold a change that was not stored: drop it.
            inner.cache.remove(job_id);
        }
        result
    }

    /// The time limits of a job as of `today`.
    pub fn time_limits(&self, job_id: &str, today: NaiveDate) -> Result<TimeLimits, StoreError> {
        let mut inner = self.lock();
        let job = inner.doc(job_id)?.job()?;
        Ok(projection::limits_for(
            &job,
            &inner.rules,
            &inner.calendar,
            today,
        ))
    }

    /// Every rule verdict for a job, under the rule set in force when it was accepted.
    pub fn verdicts(&self, job_id: &str) -> Result<JobVerdicts, StoreError> {
        let mut inner = self.lock();
        let job = inner.doc(job_id)?.job()?;
        let r = inner.rules.for_job(&job);
        // Judged with its grid cell's current grade, when it names a published cell.
        let job = inner.grid.judged(&job);
        Ok(JobVerdicts {
            direct_install: r.direct_install(&job),
            zero_investment: r.zero_investment(&job),
            approval_exempt: r.approval_exempt(&job),
            onsite_plan_reply: r.onsite_plan_reply(&job),
            inspections_required: r.inspections_required(&job),
            required_documents: r.required_documents(&job),
            service_steps: r.service_steps(&job),
        })
    }

    /// Lists jobs from the projection (no documents are loaded).
    pub fn list_jobs(&self, filter: &JobFilter) -> Result<JobPage, StoreError> {
        let inner = self.lock();
        list::list(&inner.conn, filter)
    }

    /// The job's whole automerge document (portable bytes).
    pub fn document_bytes(&self, job_id: &str) -> Result<Vec<u8>, StoreError> {
        let mut inner = self.lock();
        Ok(inner.doc(job_id)?.save())
    }

    /// Merges changes from another replica (sync, or a file). Creates the job if it is new here.
    /// Merged changes are not marked dirty: they came from elsewhere.
    pub fn merge_remote(&self, job_id: &str, bytes: &[u8]) -> Result<Job, StoreError> {
        crate::validate::check_id("job.id", job_id)?;
        let mut inner = self.lock();
        let result = inner.merge_locked(job_id, bytes, self.now());
        if result.is_err() {
            inner.cache.remove(job_id);
        }
        result
    }

    /// Jobs with local changes not yet acknowledged by the server.
    pub fn dirty_jobs(&self) -> Result<Vec<DirtyJob>, StoreError> {
        let inner = self.lock();
        let mut stmt = inner
            .conn
            .prepare("SELECT job_id, generation FROM outbox ORDER BY since, job_id")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(DirtyJob {
                    job_id: r.get(0)?,
                    generation: r.get(1)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// Marks a job clean if nothing changed since `generation` was read (safe against races
    /// with edits made during a sync).
    pub fn mark_synced(&self, dirty: &DirtyJob) -> Result<bool, StoreError> {
        let inner = self.lock();
        let n = inner.conn.execute(
            "DELETE FROM outbox WHERE job_id = ?1 AND generation = ?2",
            params![dirty.job_id, dirty.generation],
        )?;
        Ok(n == 1)
    }

    /// Installs a newer calendar bundle (`{version, years}`), e.g. delivered by the server.
    /// Returns whether it replaced the one in use.
    pub fn install_calendar(&self, bundle_json: &str) -> Result<bool, StoreError> {
        let cal = Calendar::from_bundle(bundle_json)?;
        let mut inner = self.lock();
        if cal.version() <= inner.calendar.version() {
            return Ok(false);
        }
        let cal = inner.calendar.clone().newer(cal);
        let tx = inner.conn.unchecked_transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO calendar_data (version, bundle) VALUES (?1, ?2)",
            params![cal.version(), bundle_json],
        )?;
        projection::rebuild_with(&tx, &inner.rules, &cal)?;
        tx.commit()?;
        inner.calendar = cal;
        Ok(true)
    }

    /// Installs a rule set (a unit's override or a new national version).
    pub fn install_rules(&self, rule_set_json: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let mut book = inner.rules.clone();
        let set = book.add_json(rule_set_json)?.clone();
        let tx = inner.conn.unchecked_transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO rule_set (id, version, body) VALUES (?1, ?2, ?3)",
            params![set.id, set.version, rule_set_json],
        )?;
        projection::rebuild_with(&tx, &book, &inner.calendar)?;
        tx.commit()?;
        inner.rules = book;
        Ok(())
    }

    /// Installs a unit's grid cells (接入受限), delivered by sync; returns whether they were newer
    /// than what the phone had. Rule verdicts use the cells' grades from now on.
    pub fn install_grid(&self, json: &str) -> Result<bool, StoreError> {
        let cells = crate::grid::GridCells::from_json(json)?;
        let mut inner = self.lock();
        let mut book = inner.grid.clone();
        if !book.add(cells.clone()) {
            return Ok(false);
        }
        inner.conn.execute(
            "INSERT OR REPLACE INTO grid_cells (unit, version, body) VALUES (?1, ?2, ?3)",
            params![cells.unit, cells.version, json],
        )?;
        inner.grid = book;
        Ok(true)
    }

    /// Installs a fee schedule (收费标准), delivered by sync.
    pub fn install_fees(&self, json: &str) -> Result<(), StoreError> {
        let f = crate::fees::FeeSchedule::from_json(json)?;
        self.lock().conn.execute(
            "INSERT OR REPLACE INTO fee_schedules (id, version, body) VALUES (?1, ?2, ?3)",
            params![f.id, f.version, json],
        )?;
        Ok(())
    }

    /// The customer's guide (报装指南) for `kind`, as of today, for this phone's unit: the rule
    /// set and the fee schedule in force (the national ones until the phone has its unit's).
    pub fn guide(&self, kind: crate::JobKind) -> Result<crate::guide::Guide, StoreError> {
        let today = local_date(self.now());
        let inner = self.lock();
        let unit = inner
            .identity
            .as_ref()
            .map(|i| i.unit.clone())
            .unwrap_or_default();
        let mut fees = crate::fees::FeeBook::default();
        let bodies: Vec<String> = inner
            .conn
            .prepare("SELECT body FROM fee_schedules ORDER BY id, version")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for b in bodies {
            fees.add_json(&b)?;
        }
        Ok(crate::guide::guide(
            inner.rules.in_force(&unit, today),
            fees.in_force(&unit, today),
            kind,
        ))
    }

    /// The grid cells of `unit` the phone has (none until delivered).
    pub fn grid_cells(&self, unit: &str) -> Option<crate::grid::GridCells> {
        self.lock().grid.unit(unit).cloned()
    }

    /// Recomputes every projection row (e.g. daily, as due dates approach).
    pub fn refresh_projection(&self) -> Result<(), StoreError> {
        let inner = self.lock();
        let tx = inner.conn.unchecked_transaction()?;
        projection::rebuild_with(&tx, &inner.rules, &inner.calendar)?;
        tx.commit()?;
        Ok(())
    }

    /// Recomputes the due date and time-limit state of every listed job with a running clock
    /// as of `today`, once per China-time day: the app calls it when it opens or resumes (and
    /// may call it any time: a second call the same day does nothing). Jobs are done in batches,
    /// so edits and syncs are not held up. Returns the number of rows that changed, or `None`
    /// when `today` was already done. "Recently updated" order is left as it is.
    pub fn refresh_clocks_if_new_day(&self, today: NaiveDate) -> Result<Option<usize>, StoreError> {
        const DAY_KEY: &str = "clocks_day";
        const BATCH: i64 = 200;
        let day = today.to_string();
        let done: Option<String> = self
            .lock()
            .conn
            .query_row(
                "SELECT value FROM local_state WHERE key = ?1",
                [DAY_KEY],
                |r| r.get(0),
            )
            .optional()?;
        if done.as_deref() == Some(day.as_str()) {
            return Ok(None);
        }
        let mut changed = 0;
        let mut after = String::new();
        loop {
            let mut guard = self.lock();
            let inner = &mut *guard;
            let ids: Vec<String> = inner
                .conn
                .prepare_cached(
                    "SELECT job_id FROM job_list WHERE next_due IS NOT NULL AND job_id > ?1
                     ORDER BY job_id LIMIT ?2",
                )?
                .query_map(params![after, BATCH], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let Some(last) = ids.last() else { break };
            after = last.clone();
            let mut rows = Vec::with_capacity(ids.len());
            for id in &ids {
                let job = inner.doc(id)?.job()?;
                let limits = projection::limits_for(&job, &inner.rules, &inner.calendar, today);
                rows.push((
                    id.clone(),
                    limits.next_due().map(|d| d.to_string()),
                    limits.worst().map(|s| s.as_str()),
                ));
            }
            let tx = inner.conn.unchecked_transaction()?;
            for (id, due, state) in &rows {
                changed += tx.execute(
                    "UPDATE job_list SET next_due = ?2, sla_state = ?3
                     WHERE job_id = ?1 AND (next_due IS NOT ?2 OR sla_state IS NOT ?3)",
                    params![id, due, state],
                )?;
            }
            tx.commit()?;
            if ids.len() < BATCH as usize {
                break;
            }
        }
        self.lock().conn.execute(
            "INSERT INTO local_state (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![DAY_KEY, day],
        )?;
        Ok(Some(changed))
    }

    /// Bytes stored for a job: (snapshot, chunks), for diagnostics and benchmarks.
    pub fn stored_size(&self, job_id: &str) -> Result<(i64, i64), StoreError> {
        let inner = self.lock();
        inner
            .conn
            .query_row(
                "SELECT length(snapshot), chunks_bytes FROM job_doc WHERE job_id = ?1",
                [job_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(job_id.to_string()))
    }

    /// Writes a consistent copy of the database to `path` (a new file; photo files beside the
    /// store are not part of it).
    pub fn backup_to(&self, path: &Path) -> Result<(), StoreError> {
        let inner = self.lock();
        inner
            .conn
            .execute("VACUUM INTO ?1", [path.to_string_lossy()])?;
        Ok(())
    }

    /// The job kinds, for pickers.
    pub fn kinds() -> &'static [JobKind] {
        JobKind::ALL
    }

    /// Records who is signed in on this device (done by `sync::login`): from now on every edit
    /// is made as this user and checked against their rights before it is stored.
    pub fn set_identity(&self, identity: &Identity) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let tx = inner.conn.unchecked_transaction()?;
        for (k, v) in [
            ("username", identity.username.as_str()),
            ("role", identity.role.as_str()),
            ("unit", identity.unit.as_str()),
        ] {
            tx.execute(
                "INSERT INTO sync_meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![k, v],
            )?;
        }
        tx.commit()?;
        inner.identity = Some(identity.clone());
        Ok(())
    }

    /// The signed-in user, if any. A store nobody signed in to (a demo, a test) checks input
    /// but no rights; the server checks rights regardless.
    pub fn identity(&self) -> Option<Identity> {
        self.lock().identity.clone()
    }

    /// Installs a write policy (a unit's override or a newer national version) delivered as
    /// JSON. Edits are checked against the policy in force for the user's unit on the day.
    pub fn install_policy(&self, policy_json: &str) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let mut book = inner.policies.clone();
        let p = book.add_json(policy_json)?.clone();
        inner.conn.execute(
            "INSERT OR REPLACE INTO write_policy (id, version, body) VALUES (?1, ?2, ?3)",
            params![p.id, p.version, policy_json],
        )?;
        inner.policies = book;
        Ok(())
    }

    /// The write policy in force for the signed-in user today (the default one when nobody is
    /// signed in).
    pub fn write_policy(&self) -> crate::policy::WritePolicy {
        let inner = self.lock();
        let unit = inner
            .identity
            .as_ref()
            .map(|i| i.unit.as_str())
            .unwrap_or("");
        inner
            .policies
            .in_force(unit, local_date(self.now()))
            .clone()
    }
}

/// The identity stored by the last login, if it is complete.
fn load_identity(conn: &Connection) -> Result<Option<Identity>, StoreError> {
    let get = |k: &str| -> Result<Option<String>, StoreError> {
        Ok(conn
            .query_row("SELECT value FROM sync_meta WHERE key = ?1", [k], |r| {
                r.get(0)
            })
            .optional()?)
    };
    let (Some(username), Some(role), Some(unit)) = (get("username")?, get("role")?, get("unit")?)
    else {
        return Ok(None);
    };
    Ok(Role::parse(&role).map(|role| Identity {
        username,
        role,
        unit,
    }))
}

impl Inner {
    fn cache_put(&mut self, id: String, doc: JobDoc) {
        if self.cache.len() >= CACHE_MAX
            && !self.cache.contains_key(&id)
            && let Some(k) = self.cache.keys().next().cloned()
        {
            self.cache.remove(&k);
        }
        self.cache.insert(id, doc);
    }

    /// Checks the changes `doc` has beyond `before` against the signed-in user's rights (the
    /// same check the server runs on a push). Nobody signed in: nothing to check.
    fn check_write(
        &self,
        doc: &mut JobDoc,
        before: &[automerge::ChangeHash],
        before_job: Option<&Job>,
        ctx: &EditContext,
    ) -> Result<(), StoreError> {
        let Some(who) = &self.identity else {
            return Ok(());
        };
        if ctx.actor != who.username {
            return Err(Refusal::new(
                "other_user",
                format!(
                    "本机已由 {} 登录，不能以 {} 的身份修改",
                    who.username, ctx.actor
                ),
                format!(
                    "{} is signed in on this device: edits cannot be made as {}",
                    who.username, ctx.actor
                ),
            )
            .into());
        }
        let policy = self.policies.in_force(&who.unit, local_date(ctx.now));
        let writer = Writer {
            username: &who.username,
            role: who.role,
            unit: &who.unit,
            device_id: &self.device.device_id,
            actor: &self.device.actor,
        };
        crate::policy::check_changes(doc, before, before_job, &writer, policy)?;
        Ok(())
    }

    fn doc(&mut self, job_id: &str) -> Result<&mut JobDoc, StoreError> {
        if !self.cache.contains_key(job_id) {
            let doc = projection::load_doc(&self.conn, job_id, self.device.actor.clone())?
                .ok_or_else(|| StoreError::NotFound(job_id.to_string()))?;
            self.cache_put(job_id.to_string(), doc);
        }
        Ok(self.cache.get_mut(job_id).expect("just inserted"))
    }

    fn edit_locked(
        &mut self,
        job_id: &str,
        edit: &Edit,
        ctx: &EditContext,
    ) -> Result<Job, StoreError> {
        self.edit_locked_with(job_id, edit, ctx, &|_| Ok(()))
    }

    /// Applies `edit` and stores it, running `extra` in the same transaction (also when the
    /// edit changed nothing).
    pub(crate) fn edit_locked_with(
        &mut self,
        job_id: &str,
        edit: &Edit,
        ctx: &EditContext,
        extra: &dyn Fn(&Connection) -> Result<(), StoreError>,
    ) -> Result<Job, StoreError> {
        let doc = self.doc(job_id)?;
        let before = doc.heads();
        let before_job = doc.job()?;
        if doc.apply(edit, ctx)?.is_none() {
            // Nothing changed in the document (e.g. a repeated edit).
            let job = doc.job()?;
            let tx = self.conn.transaction()?;
            extra(&tx)?;
            tx.commit()?;
            return Ok(job);
        }
        // The document now holds the change: check it, and forget it if it is refused.
        let mut doc = self.cache.remove(job_id).expect("loaded above");
        self.check_write(&mut doc, &before, Some(&before_job), ctx)?;
        self.cache.insert(job_id.to_string(), doc);
        let doc = self.cache.get_mut(job_id).expect("just inserted");
        let job = doc.job()?;
        let chunk = doc.save_incremental();
        self.store_change_with(job_id, &job, chunk, ctx.now, true, extra)?;
        Ok(job)
    }

    fn merge_locked(
        &mut self,
        job_id: &str,
        bytes: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Job, StoreError> {
        let exists = match self.doc(job_id) {
            Ok(_) => true,
            Err(StoreError::NotFound(_)) => false,
            Err(e) => return Err(e),
        };
        if !exists {
            crate::job::chunks::check(bytes).map_err(JobError::from)?;
            if crate::job::chunks::lacks_dependencies(bytes) {
                return Err(StoreError::MissingDeps(job_id.to_string()));
            }
            let mut doc = JobDoc::load(bytes, self.device.actor.clone())?;
            let job = doc.job()?;
            if job.id != job_id {
                return Err(JobError::Corrupt(format!(
                    "document is job {} but was sent as {job_id}",
                    job.id
                ))
                .into());
            }
            let snapshot = doc.save();
            let today = local_date(now);
            let tx = self.conn.savepoint()?;
            tx.execute(
                "INSERT INTO job_doc (job_id, snapshot) VALUES (?1, ?2)",
                params![job_id, snapshot],
            )?;
            let limits = projection::limits_for(&job, &self.rules, &self.calendar, today);
            projection::write(&tx, &job, &limits, now.timestamp_millis())?;
            tx.commit()?;
            self.cache_put(job_id.to_string(), doc);
            return Ok(job);
        }
        let doc = self.doc(job_id)?;
        let before = doc.heads();
        doc.apply_remote(bytes)?;
        // Changes whose dependencies this phone lacks wait in memory only: refuse them (the
        // caller drops the cached document), so they are fetched again with what they need
        // instead of being lost when the cursor moves on.
        if !doc.automerge().get_missing_deps(&[]).is_empty() {
            return Err(StoreError::MissingDeps(job_id.to_string()));
        }
        let job = doc.job()?;
        if doc.heads() == before {
            return Ok(job);
        }
        let chunk = doc.save_incremental();
        self.store_change(job_id, &job, chunk, now, false)?;
        Ok(job)
    }

    /// Stores one chunk, compacting when the chunks outgrow the snapshot, and updates the
    /// projection and (for local changes) the outbox, all in one transaction.
    fn store_change(
        &mut self,
        job_id: &str,
        job: &Job,
        chunk: Vec<u8>,
        now: DateTime<Utc>,
        local: bool,
    ) -> Result<(), StoreError> {
        self.store_change_with(job_id, job, chunk, now, local, &|_| Ok(()))
    }

    /// [`Inner::store_change`], running `extra` in the same transaction.
    fn store_change_with(
        &mut self,
        job_id: &str,
        job: &Job,
        chunk: Vec<u8>,
        now: DateTime<Utc>,
        local: bool,
        extra: &dyn Fn(&Connection) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let (snapshot_len, chunks_bytes): (i64, i64) = self.conn.query_row(
            "SELECT length(snapshot), chunks_bytes FROM job_doc WHERE job_id = ?1",
            [job_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let compact = chunks_bytes + chunk.len() as i64 > snapshot_len;
        let snapshot = if compact {
            Some(self.cache.get_mut(job_id).expect("loaded").save())
        } else {
            None
        };
        let today = local_date(now);
        let limits = projection::limits_for(job, &self.rules, &self.calendar, today);
        let tx = self.conn.savepoint()?;
        if let Some(snapshot) = snapshot {
            tx.execute("DELETE FROM job_chunk WHERE job_id = ?1", [job_id])?;
            tx.execute(
                "UPDATE job_doc SET snapshot = ?2, chunks_bytes = 0 WHERE job_id = ?1",
                params![job_id, snapshot],
            )?;
        } else {
            tx.execute(
                "INSERT INTO job_chunk (job_id, seq, bytes)
                 VALUES (?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM job_chunk WHERE job_id = ?1), ?2)",
                params![job_id, chunk],
            )?;
            tx.execute(
                "UPDATE job_doc SET chunks_bytes = chunks_bytes + ?2 WHERE job_id = ?1",
                params![job_id, chunk.len() as i64],
            )?;
        }
        projection::write(&tx, job, &limits, now.timestamp_millis())?;
        if local {
            mark_dirty(&tx, job_id, now)?;
        }
        extra(&tx)?;
        tx.commit()?;
        Ok(())
    }
}

fn mark_dirty(conn: &Connection, job_id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO outbox (job_id, generation, since) VALUES (?1, 1, ?2)
         ON CONFLICT (job_id) DO UPDATE SET generation = generation + 1",
        params![job_id, now.timestamp_millis()],
    )?;
    Ok(())
}

/// The device row, created on first open; the signing key is created when missing (first open
/// or the first open after migration 6).
fn load_or_create_device(conn: &Connection) -> Result<(Device, KeyPair), StoreError> {
    let existing: Option<(String, Vec<u8>, Option<Vec<u8>>)> = conn
        .query_row(
            "SELECT device_id, actor_id, signing_key FROM device WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let (device_id, actor, key) = match existing {
        Some((device_id, actor, key)) => (device_id, ActorId::from(actor), key),
        None => {
            let id = uuid::Uuid::new_v4();
            let device_id = id.simple().to_string();
            let actor = ActorId::from(id.as_bytes().as_slice());
            conn.execute(
                "INSERT INTO device (id, device_id, actor_id, created_at) VALUES (1, ?1, ?2, ?3)",
                params![device_id, actor.to_bytes(), Utc::now().timestamp_millis()],
            )?;
            (device_id, actor, None)
        }
    };
    let key = match key {
        Some(secret) => KeyPair::from_secret(&secret)?,
        None => {
            let key = KeyPair::generate();
            conn.execute(
                "UPDATE device SET signing_key = ?1 WHERE id = 1",
                [key.secret_bytes().as_slice()],
            )?;
            key
        }
    };
    let device = Device {
        device_id,
        actor,
        public_key: key.public_hex(),
    };
    Ok((device, key))
}
