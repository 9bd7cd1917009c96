//! The PostgreSQL store: several `fieldline serve` nodes share one database.
//!
//! - Connections come from a deadpool pool whose connection tasks run on the store's own small
//!   tokio runtime, so the synchronous [`ServerStore`] API works from any thread (the services
//!   call it on blocking threads, the command line from `main`).
//! - A read is a `REPEATABLE READ READ ONLY` transaction: one snapshot, like SQLite's readers.
//! - Job writes ([`ServerStore::write_beside`]) take no lock across the cluster: each job's write
//!   is checked against the version it was planned from and holds only that job's row from the
//!   check to the commit. A change's feed position is drawn from the writing transaction's id,
//!   and readers serve only below the oldest writer of the database still running
//!   (`migrations/0006_feed_positions.sql`), so no reader can see position n + 1 before n.
//! - Administrative writes ([`ServerStore::write`]), rare and reading shared rows before they
//!   write, take the cluster-wide writer lock (`pg_advisory_xact_lock`) first and run one at a
//!   time, as SQLite's do.
//! - Migrations (`migrations/*.sql`, numbered like SQLite's but on their own track) run under a
//!   session advisory lock: nodes that start together wait for one another, and each applies
//!   only what is missing.

use crate::conn::Conn;
use crate::sql::{Db, Dialect, Row, Value, numbered_to_dollar};
use crate::{ReadTx, Result, ServerStore, StoreError, StoreStatus, WriteTx, WriterClock};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

/// The migrations, in order: migration `i` takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_schema.sql"),
    include_str!("migrations/0002_upload_locks.sql"),
    include_str!("migrations/0003_actor_identity.sql"),
    include_str!("migrations/0004_device_revoked.sql"),
    include_str!("migrations/0005_units.sql"),
    include_str!("migrations/0006_feed_positions.sql"),
    include_str!("migrations/0007_customer_channel.sql"),
    include_str!("migrations/0008_agenda.sql"),
];

/// Statements sent and round trips waited for, by every PostgreSQL store of the process.
static STATEMENTS: AtomicU64 = AtomicU64::new(0);
static ROUND_TRIPS: AtomicU64 = AtomicU64::new(0);

/// Advisory lock keys (any 64-bit number no other application on the database uses).
const WRITER_LOCK: i64 = 0x4649_454c_444c_0001;
const MIGRATION_LOCK: i64 = 0x4649_454c_444c_0002;

fn pg_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Database(e.to_string())
}

/// The PostgreSQL implementation of [`ServerStore`].
pub struct PostgresStore {
    pool: Pool,
    runtime: Option<tokio::runtime::Runtime>,
    /// `host:port/db` without the password, for logs.
    target: String,
    clock: WriterClock,
    /// Commits that added to the feed: how long each held its jobs' row locks.
    job_lock_clock: WriterClock,
    /// Tests only: readers ignore writers still running (the rule broken, to show the cluster
    /// test catches it).
    #[cfg(feature = "fault-injection")]
    unsafe_feed: std::sync::atomic::AtomicBool,
    /// This node's writers queue here, not for the cluster's lock while holding a pooled
    /// connection: a pool full of waiting writers would starve the writer that holds the lock
    /// and needs one more connection to read.
    writer: std::sync::Mutex<()>,
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        // Dropping a runtime inside another one's async context would panic.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/db`) with up to `pool_size`
    /// connections and brings the schema up to date.
    pub fn open(url: &str, pool_size: u32) -> Result<PostgresStore> {
        Self::open_as(url, pool_size, super::Schema::Create)
    }

    /// Opens the database `url` names, creating or upgrading its schema only as `schema`
    /// allows (the database itself must exist in every case).
    pub fn open_as(url: &str, pool_size: u32, schema: super::Schema) -> Result<PostgresStore> {
        let pg: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Database(format!("PostgreSQL URL: {e}")))?;
        let target = format!(
            "{}:{}/{}",
            pg.get_hosts()
                .first()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(h) => h.clone(),
                    #[cfg(unix)]
                    tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .unwrap_or_default(),
            pg.get_ports().first().copied().unwrap_or(5432),
            pg.get_dbname().unwrap_or("")
        );
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fieldline-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Io(format!("PostgreSQL runtime: {e}")))?;
        let manager = Manager::from_config(
            pg,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(2) as usize)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(std::time::Duration::from_secs(30)))
            .create_timeout(Some(std::time::Duration::from_secs(10)))
            .build()
            .map_err(|e| StoreError::Database(format!("PostgreSQL pool: {e}")))?;
        let store = PostgresStore {
            pool,
            runtime: Some(runtime),
            target,
            clock: WriterClock::default(),
            job_lock_clock: WriterClock::default(),
            #[cfg(feature = "fault-injection")]
            unsafe_feed: std::sync::atomic::AtomicBool::new(false),
            writer: std::sync::Mutex::new(()),
        };
        match schema {
            super::Schema::AsIs => store.check_version(schema)?,
            super::Schema::Upgrade => {
                store.check_version(schema)?;
                store.migrate()?;
            }
            super::Schema::Create => store.migrate()?,
        }
        Ok(store)
    }

    /// Refuses a database without Fieldline's schema, and one of a version `schema` does not
    /// allow ([`super::check_version`]).
    fn check_version(&self, schema: super::Schema) -> Result<()> {
        let client = self.connection()?;
        let db: &dyn Db = &client;
        let exists: Option<Option<String>> = db.opt(
            "SELECT CAST(to_regclass('fieldline_schema') AS TEXT)",
            &[],
            |r| r.get(0),
        )?;
        if exists.flatten().is_none() {
            return Err(StoreError::Missing {
                where_: self.target.clone(),
            });
        }
        let found: Option<i64> =
            db.opt("SELECT version FROM fieldline_schema", &[], |r| r.get(0))?;
        super::check_version(
            found.unwrap_or(0) as usize,
            MIGRATIONS.len(),
            schema,
            &self.target,
        )
    }

    /// Tests only: breaks the feed's rule (readers serve up to the newest position committed,
    /// ignoring transactions still running).
    #[cfg(feature = "fault-injection")]
    pub fn break_feed_order(&self) {
        self.unsafe_feed.store(true, Ordering::SeqCst);
    }

    /// Where the store connects (no password), for logs.
    pub fn target(&self) -> &str {
        &self.target
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime.as_ref().expect("a live runtime")
    }

    /// A pooled connection (waits while all are in use).
    fn connection(&self) -> Result<Object> {
        let pool = self.pool.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime().spawn(async move {
            let _ = tx.send(pool.get().await);
        });
        match rx.recv() {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) => {
                // The pool's error says only "error connecting to server": its causes say why.
                let mut why = e.to_string();
                let mut cause = std::error::Error::source(&e);
                while let Some(c) = cause {
                    why.push_str(&format!(": {c}"));
                    cause = c.source();
                }
                Err(StoreError::Database(format!(
                    "无法连接数据库 {t} / cannot reach the database {t}: {why}",
                    t = self.target
                )))
            }
            Err(_) => Err(StoreError::Database("the database runtime stopped".into())),
        }
    }

    fn migrate(&self) -> Result<()> {
        let client = self.connection()?;
        let db: &dyn Db = &client;
        db.batch(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
        let result = (|| {
            db.batch(
                "CREATE TABLE IF NOT EXISTS fieldline_schema (
                    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
                    version BIGINT NOT NULL)",
            )?;
            let current: Option<i64> =
                db.opt("SELECT version FROM fieldline_schema", &[], |r| r.get(0))?;
            let current = current.unwrap_or(0) as usize;
            super::check_version(current, MIGRATIONS.len(), super::Schema::Upgrade, "")?;
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
                db.batch("BEGIN")?;
                let step = db.batch(sql).and_then(|()| {
                    db.execute(
                        "INSERT INTO fieldline_schema (only_row, version) VALUES (TRUE, ?1)
                         ON CONFLICT (only_row) DO UPDATE SET version = excluded.version",
                        &[Value::Int(i as i64 + 1)],
                    )
                });
                match step {
                    Ok(_) => db.batch("COMMIT")?,
                    Err(e) => {
                        let _ = db.batch("ROLLBACK");
                        return Err(StoreError::Database(format!("migration {}: {e}", i + 1)));
                    }
                }
            }
            let collation: Option<String> = db.opt(
                "SELECT datcollate::text FROM pg_database WHERE datname = current_database()",
                &[],
                |r| r.get(0),
            )?;
            if let Some(c) = collation.filter(|c| c != "C" && c != "POSIX") {
                tracing::warn!(
                    collation = %c,
                    "the database sorts text by {c}; create it with LC_COLLATE 'C' so lists sort as on SQLite"
                );
            }
            Ok(())
        })();
        let _ = db.batch(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
        result
    }
}

/// Creates an empty database `name` (letters, digits, `_`) in the cluster of `admin_url` (a
/// connection to any of its databases, by a role that may create databases) and returns its
/// URL. Tests give each server they start its own database this way.
pub fn create_database(admin_url: &str, name: &str) -> Result<String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(StoreError::Database(format!("bad database name {name:?}")));
    }
    // On a thread of its own: the caller may be inside an async runtime.
    let admin = admin_url.to_string();
    let sql = format!(
        "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
    );
    std::thread::spawn(move || create_with(&admin, &sql))
        .join()
        .map_err(|_| StoreError::Database("creating the database panicked".into()))??;
    let base = admin_url
        .split_once('?')
        .map_or(admin_url, |(b, _)| b)
        .rsplit_once('/')
        .map_or(admin_url, |(b, _)| b);
    Ok(format!("{base}/{name}"))
}

fn create_with(admin_url: &str, sql: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| StoreError::Io(e.to_string()))?;
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls)
            .await
            .map_err(pg_err)?;
        let conn = tokio::spawn(connection);
        let created = client.batch_execute(sql).await.map_err(pg_err);
        drop(client);
        let _ = conn.await;
        created
    })
}

impl ServerStore for PostgresStore {
    fn read(&self) -> Result<Box<dyn ReadTx + '_>> {
        let client = self.connection()?;
        client.batch("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
        Ok(Box::new(PgTx::new(self, client, None)))
    }

    fn read_fresh(&self) -> Result<Box<dyn ReadTx + '_>> {
        let mut tx = PgTx::new(self, self.connection()?, None);
        // No transaction: nothing to end.
        tx.done = true;
        Ok(Box::new(tx))
    }

    fn write(&self) -> Result<Box<dyn WriteTx + '_>> {
        let queue = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let client = self.connection()?;
        client.batch("BEGIN")?;
        let mut tx = PgTx::new(self, client, Some(queue));
        // One writer in the whole cluster at a time (see the module's notes).
        tx.db()
            .batch(&format!("SELECT pg_advisory_xact_lock({WRITER_LOCK})"))?;
        tx.writer = Some(std::time::Instant::now());
        Ok(Box::new(tx))
    }

    fn write_beside(&self) -> Result<Box<dyn WriteTx + '_>> {
        let client = self.connection()?;
        client.batch("BEGIN")?;
        Ok(Box::new(PgTx::new(self, client, None)))
    }

    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn status(&self) -> StoreStatus {
        let pool = self.pool.status();
        let (writes, write_nanos) = self.clock.read();
        let (job_lock_commits, job_lock_nanos) = self.job_lock_clock.read();
        StoreStatus {
            connections: pool.size as u64,
            idle: pool.available as u64,
            waiting: pool.waiting as u64,
            writes,
            write_nanos,
            write_buckets: self.clock.buckets(),
            serial_commits: 0,
            serial_nanos: 0,
            serial_buckets: Default::default(),
            job_lock_commits,
            job_lock_nanos,
            job_lock_buckets: self.job_lock_clock.buckets(),
            flushes: 0,
            flush_nanos: 0,
            flush_buckets: Default::default(),
            statements: STATEMENTS.load(Ordering::Relaxed),
            round_trips: ROUND_TRIPS.load(Ordering::Relaxed),
        }
    }
}

/// A transaction on a pooled connection: rolled back unless committed, then returned.
struct PgTx<'s> {
    client: Option<Object>,
    done: bool,
    store: &'s PostgresStore,
    /// A write transaction under the cluster's writer lock: when it took it.
    writer: Option<std::time::Instant>,
    /// The next feed ordinal of the transaction (see the migration `0006_feed_positions.sql`).
    ordinal: std::cell::Cell<i64>,
    /// When it started writing a job of the feed (the job's row lock is held from there).
    fed: std::cell::Cell<Option<std::time::Instant>>,
    /// A write transaction's place as this node's one writer (released last).
    _queue: Option<std::sync::MutexGuard<'s, ()>>,
}

impl<'s> PgTx<'s> {
    fn new(
        store: &'s PostgresStore,
        client: Object,
        queue: Option<std::sync::MutexGuard<'s, ()>>,
    ) -> PgTx<'s> {
        PgTx {
            client: Some(client),
            done: false,
            store,
            writer: None,
            ordinal: std::cell::Cell::new(0),
            fed: std::cell::Cell::new(None),
            _queue: queue,
        }
    }
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if let Some(since) = self.writer {
            self.store.clock.ended(since);
        }
        if let Some(client) = self.client.take()
            && !self.done
            && client.batch("ROLLBACK").is_err()
        {
            // A connection in an unknown state never goes back to the pool.
            let _ = Object::take(client);
        }
    }
}

/// Ordinals one transaction may draw (the positions of transaction ids 2^20 apart).
const ORDINALS: i64 = 1 << 20;

/// Reserves `k` feed ordinals of a transaction.
fn reserve(next: &std::cell::Cell<i64>, k: usize) -> Result<Option<i64>> {
    let first = next.get();
    let end = first.saturating_add(k as i64);
    if end > ORDINALS {
        return Err(StoreError::Database(format!(
            "one transaction may add at most {ORDINALS} entries to the feed"
        )));
    }
    next.set(end);
    Ok(Some(first))
}

impl Conn for PgTx<'_> {
    fn db(&self) -> &dyn Db {
        self.client.as_ref().expect("a live transaction")
    }

    fn feed_ordinals(&self, k: usize) -> Result<Option<i64>> {
        reserve(&self.ordinal, k)
    }

    fn unsafe_horizon(&self) -> bool {
        #[cfg(feature = "fault-injection")]
        return self.store.unsafe_feed.load(Ordering::SeqCst);
        #[cfg(not(feature = "fault-injection"))]
        false
    }

    fn fed(&self) {
        if self.fed.get().is_none() {
            self.fed.set(Some(std::time::Instant::now()));
        }
    }
}

/// A savepoint inside a write transaction: released by `commit`, rolled back on drop.
struct PgSavepoint<'t> {
    client: &'t Object,
    tx: &'t PgTx<'t>,
    name: String,
    done: bool,
}

impl Drop for PgSavepoint<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.client.batch(&format!(
                "ROLLBACK TO SAVEPOINT {0}; RELEASE SAVEPOINT {0}",
                self.name
            ));
        }
    }
}

impl Conn for PgSavepoint<'_> {
    fn db(&self) -> &dyn Db {
        self.client
    }

    fn feed_ordinals(&self, k: usize) -> Result<Option<i64>> {
        self.tx.feed_ordinals(k)
    }

    fn unsafe_horizon(&self) -> bool {
        self.tx.unsafe_horizon()
    }

    fn fed(&self) {
        self.tx.fed()
    }
}

static SAVEPOINTS: AtomicU64 = AtomicU64::new(0);

fn open_savepoint<'t>(tx: &'t PgTx<'t>) -> Result<PgSavepoint<'t>> {
    let client = tx.client.as_ref().expect("a live transaction");
    let name = format!("sp_{}", SAVEPOINTS.fetch_add(1, Ordering::Relaxed));
    client.batch(&format!("SAVEPOINT {name}"))?;
    Ok(PgSavepoint {
        client,
        tx,
        name,
        done: false,
    })
}

impl<'s> crate::conn::Finish for PgTx<'s> {
    fn savepoint(&mut self) -> Result<Box<dyn WriteTx + '_>> {
        Ok(Box::new(open_savepoint(self)?))
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.db().batch("COMMIT")?;
        self.done = true;
        if let Some(since) = self.fed.get() {
            self.store.job_lock_clock.ended(since);
        }
        Ok(())
    }
}

impl crate::conn::Finish for PgSavepoint<'_> {
    fn savepoint(&mut self) -> Result<Box<dyn WriteTx + '_>> {
        Ok(Box::new(open_savepoint(self.tx)?))
    }

    fn commit(mut self: Box<Self>) -> Result<()> {
        self.client
            .batch(&format!("RELEASE SAVEPOINT {}", self.name))?;
        self.done = true;
        Ok(())
    }
}

/// Waits for a future of the client. The client's futures only talk over channels to the
/// connection task (which runs on the store's runtime), so any thread may wait for them.
fn wait<T>(f: impl std::future::Future<Output = T>) -> T {
    STATEMENTS.fetch_add(1, Ordering::Relaxed);
    ROUND_TRIPS.fetch_add(1, Ordering::Relaxed);
    futures_executor::block_on(f)
}

impl Db for Object {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>> {
        let (client, stmt) = prepared(self, sql)?;
        let rows = wait(client.query(&stmt, &params(args))).map_err(pg_err)?;
        rows.iter().map(read_row).collect()
    }

    fn execute(&self, sql: &str, args: &[Value]) -> Result<u64> {
        let (client, stmt) = prepared(self, sql)?;
        wait(client.execute(&stmt, &params(args))).map_err(pg_err)
    }

    fn batch(&self, sql: &str) -> Result<()> {
        let client: &tokio_postgres::Client = self;
        wait(client.batch_execute(sql)).map_err(pg_err)
    }
}

/// The statement for `sql` (prepared once per connection) and the client to run it on.
fn prepared<'c>(
    object: &'c Object,
    sql: &str,
) -> Result<(&'c tokio_postgres::Client, tokio_postgres::Statement)> {
    let wrapper: &deadpool_postgres::ClientWrapper = object;
    let cached = wrapper.statement_cache.size();
    let stmt = futures_executor::block_on(wrapper.prepare_cached(&numbered_to_dollar(sql)))
        .map_err(pg_err)?;
    if wrapper.statement_cache.size() > cached {
        // Prepared now: a round trip of its own (once per connection and statement).
        ROUND_TRIPS.fetch_add(1, Ordering::Relaxed);
    }
    Ok((wrapper, stmt))
}

fn params(args: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

fn read_row(row: &tokio_postgres::Row) -> Result<Row> {
    let mut out = Vec::with_capacity(row.len());
    for (i, col) in row.columns().iter().enumerate() {
        let v = match *col.type_() {
            Type::INT8 => row.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Int)),
            Type::INT4 => row
                .try_get::<_, Option<i32>>(i)
                .map(|v| v.map(|v| Value::Int(v.into()))),
            Type::INT2 => row
                .try_get::<_, Option<i16>>(i)
                .map(|v| v.map(|v| Value::Int(v.into()))),
            Type::BOOL => row
                .try_get::<_, Option<bool>>(i)
                .map(|v| v.map(|v| Value::Int(v.into()))),
            Type::FLOAT8 => row.try_get::<_, Option<f64>>(i).map(|v| v.map(Value::Real)),
            Type::FLOAT4 => row
                .try_get::<_, Option<f32>>(i)
                .map(|v| v.map(|v| Value::Real(v.into()))),
            Type::BYTEA => row
                .try_get::<_, Option<Vec<u8>>>(i)
                .map(|v| v.map(Value::Blob)),
            _ => row
                .try_get::<_, Option<String>>(i)
                .map(|v| v.map(Value::Text)),
        }
        .map_err(|e| pg_err(format!("column {}: {e}", col.name())))?;
        out.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(out))
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

/// A column of values as the array `ty` names (`sql::insert_rows`).
fn list_to_sql(
    items: &[Value],
    ty: &Type,
    out: &mut bytes::BytesMut,
) -> std::result::Result<IsNull, BoxError> {
    use tokio_postgres::types::Kind;
    let Kind::Array(element) = ty.kind() else {
        return Err(format!("a list bound to {ty}").into());
    };
    fn each<'v, T>(
        items: &'v [Value],
        f: impl Fn(&'v Value) -> Option<T>,
    ) -> std::result::Result<Vec<Option<T>>, BoxError> {
        items
            .iter()
            .map(|v| match v {
                Value::Null => Ok(None),
                v => f(v)
                    .map(Some)
                    .ok_or_else(|| BoxError::from(format!("{v:?} in an array"))),
            })
            .collect()
    }
    match *element {
        Type::INT8 => each(items, |v| match v {
            Value::Int(i) => Some(*i),
            _ => None,
        })?
        .to_sql(ty, out),
        Type::FLOAT8 => each(items, |v| match v {
            Value::Real(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        })?
        .to_sql(ty, out),
        Type::TEXT => each(items, |v| match v {
            Value::Text(s) => Some(s.replace('\0', "\u{FFFD}")),
            _ => None,
        })?
        .to_sql(ty, out),
        Type::BYTEA => each(items, |v| match v {
            Value::Blob(b) => Some(b.as_slice()),
            _ => None,
        })?
        .to_sql(ty, out),
        _ => Err(format!("a list bound to {ty}").into()),
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, BoxError> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                _ => i.to_string().to_sql(ty, out),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => f.to_sql(ty, out),
            },
            // PostgreSQL text cannot hold NUL (SQLite's can): a NUL that arrives in a filter or
            // a projected field is stored and matched as U+FFFD instead of failing the request.
            Value::Text(s) if s.contains('\0') => s.replace('\0', "\u{FFFD}").to_sql(ty, out),
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
            Value::List(items) => list_to_sql(items, ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store on the cluster `FIELDLINE_TEST_POSTGRES` names (the tests' own database each).
    fn store() -> Option<PostgresStore> {
        let admin = std::env::var("FIELDLINE_TEST_POSTGRES")
            .ok()
            .filter(|u| !u.is_empty())?;
        let name = format!("fl_unit_{}", uuid::Uuid::new_v4().simple());
        let url = create_database(&admin, &name).unwrap();
        Some(PostgresStore::open(&url, 4).unwrap())
    }

    #[test]
    fn text_with_nul_is_stored_and_matched_not_refused() {
        let Some(store) = store() else {
            eprintln!("skipped: FIELDLINE_TEST_POSTGRES is not set");
            return;
        };
        let mut tx = store.write().unwrap();
        tx.set_state("k\0ey", "va\0lue").unwrap();
        tx.commit().unwrap();
        let r = store.read().unwrap();
        assert_eq!(r.state("k\0ey").unwrap().as_deref(), Some("va\u{FFFD}lue"));
        let rows = r
            .list_jobs(&crate::JobListQuery {
                text: Some("a\0b".into()),
                sla_state: Some("x\0".into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert!(rows.is_empty());
    }
}

#[cfg(test)]
mod upgrade {
    use super::*;
    use crate::{JobRow, JobWrite, NewChange, Scope};

    /// A database at schema 5 (one writer, positions from an identity column) with a job of two
    /// changes and an assignment is upgraded to positions from transaction ids: the job's
    /// changes are numbered, its version and document stand, and new positions come after
    /// every old one, so a phone's cursor from before misses nothing.
    #[test]
    fn a_version_5_database_keeps_its_feed_and_continues_after_it() {
        let Some(admin) = std::env::var("FIELDLINE_TEST_POSTGRES")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            eprintln!("skipped: FIELDLINE_TEST_POSTGRES is not set");
            return;
        };
        let name = format!("fl_upgrade_{}", uuid::Uuid::new_v4().simple());
        let url = create_database(&admin, &name).unwrap();
        {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                client
                    .batch_execute(
                        "CREATE TABLE fieldline_schema (
                            only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
                            version BIGINT NOT NULL)",
                    )
                    .await
                    .unwrap();
                for sql in &MIGRATIONS[..5] {
                    client.batch_execute(sql).await.unwrap();
                }
                client
                    .batch_execute(
                        "INSERT INTO fieldline_schema (only_row, version) VALUES (TRUE, 5);
                         INSERT INTO jobs (job_id, unit, kind, job_no, status, customer_name,
                            created_by, updated_at, doc_seq, snapshot_seq)
                            VALUES ('j1', 'u', 'hv', 'YK-1', 'accepted', '客户', 'cm', 0, 41, 0);
                         INSERT INTO changes (seq, job_id, hash, bytes, origin_device)
                            VALUES (40, 'j1', '\\x01', '\\x0a', 'd'), (41, 'j1', '\\x02', '\\x0b', 'd');
                         INSERT INTO job_access (job_id, username, entered_seq)
                            VALUES ('j1', 'cm', 41);",
                    )
                    .await
                    .unwrap();
            });
        }
        let store = PostgresStore::open(&url, 4).unwrap();
        let r = store.read_fresh().unwrap();
        let meta = r.job_meta("j1").unwrap().unwrap();
        assert_eq!(
            (meta.version, meta.snapshot_n),
            (2, 0),
            "the changes are counted"
        );
        assert_eq!(r.job_bytes("j1").unwrap().unwrap(), vec![0x0a, 0x0b]);
        // Everything up to the bound is final: the old positions, and those no transaction can
        // draw any more.
        let old = r.max_seq().unwrap();
        assert!(old >= 41, "the old positions are all served: {old}");
        let served = r
            .feed_changes(Scope::User("cm"), "other", 0, old, 10)
            .unwrap();
        assert_eq!(
            served.iter().map(|c| c.seq).collect::<Vec<_>>(),
            [40, 41],
            "the old feed as it was"
        );
        drop(r);
        let mut tx = store.write_beside().unwrap();
        let write = JobWrite {
            job_id: "j1".into(),
            expected: Some(2),
            row: JobRow {
                job_id: "j1".into(),
                unit: "u".into(),
                ..Default::default()
            },
            changes: vec![NewChange {
                hash: vec![3],
                bytes: vec![0x0c],
                origin: "d".into(),
            }],
            ..Default::default()
        };
        assert!(tx.write_job(&write).unwrap());
        tx.commit().unwrap();
        let r = store.read_fresh().unwrap();
        let upto = r.max_seq().unwrap();
        let after = r
            .feed_changes(Scope::User("cm"), "other", old, upto, 10)
            .unwrap();
        assert_eq!(after.len(), 1, "the new change comes after the old cursor");
        assert!(after[0].seq > 41);
        assert_eq!(r.job_bytes("j1").unwrap().unwrap(), vec![0x0a, 0x0b, 0x0c]);
    }
}
