//! The server's services: what it does, independent of HTTP. Each service works on a
//! [`ServerStore`] transaction and asks [`crate::authz`] before it reads or writes anything on a
//! caller's behalf. Blocking work (SQLite, automerge, argon2) runs off the async threads through
//! [`Env::blocking`].

pub mod admin;
pub mod applications;
pub mod assessment;
pub mod assignment;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod board;
pub mod clocks;
pub mod contracts;
pub mod customer_voice;
pub mod demo;
mod demo_works;
pub mod derived;
pub mod docs;
pub mod exports;
pub mod feed;
pub mod grid;
pub mod guide;
pub mod integrity;
pub mod jobs;
pub mod key_visits;
pub mod keys;
pub mod lease;
pub mod listing;
pub mod on_behalf;
pub mod public;
pub mod push;
pub mod qualifications;
pub mod reference;
pub mod return_visit;
pub mod review;
pub mod server_edits;
pub mod session;
pub mod supervision;
pub mod sync;
pub mod tus;
pub mod units;
pub mod uploads;
pub mod view;

use crate::blobs::BlobStore;
use crate::config::Config;
use crate::error::ServerError;
use crate::store::ServerStore;
use field_core::contract::KeyPair;
use field_core::policy::{PolicyBook, WritePolicy};
use field_core::{Calendar, RuleBook};
use std::sync::{Arc, RwLock};

/// Everything the services share.
pub struct Env {
    pub store: Arc<dyn ServerStore>,
    /// Loaded job documents, by version.
    pub docs: docs::DocCache,
    pub blobs: BlobStore,
    pub uploads: uploads::Uploads,
    /// Rule sets, the calendar and write policies: the compiled-in defaults and the reference
    /// data installed (`service::reference`), replaced whole when more is installed.
    rules: RwLock<Arc<RuleBook>>,
    calendar: RwLock<Arc<Calendar>>,
    grid: RwLock<Arc<field_core::grid::GridBook>>,
    fees: RwLock<Arc<field_core::fees::FeeBook>>,
    designs: RwLock<Arc<field_core::catalogue::CatalogueBook>>,
    firms: RwLock<Arc<field_core::firms::FirmBook>>,
    pub policies: RwLock<PolicyBook>,
    /// Countersigns contracts; `None` for tools that only read.
    pub signing_key: Option<KeyPair>,
    /// The public halves of the keys rotated out, oldest first: still trusted for the receipts
    /// they signed.
    pub retired_keys: Vec<String>,
    pub auth: auth::AuthSettings,
    /// Scratch space for exports being built (under the data directory: they hold personal data).
    pub tmp_dir: std::path::PathBuf,
    /// Counters for `GET /metrics`.
    pub metrics: crate::metrics::Metrics,
    /// This process among the nodes (for leases on once-per-cluster work).
    pub node_id: String,
    /// The customers' public lists, counted at most once a minute per unit.
    pub public: public::PublicCache,
    /// Sync exchanges being worked on: at most `sync_workers` at once ([`Env::sync_work`]).
    pub syncs: tokio::sync::Semaphore,
    /// Customer files (一户一档) building now: at most `archive_builds` at once.
    pub archives: tokio::sync::Semaphore,
    /// The largest customer file's photos, bytes.
    pub archive_max_bytes: u64,
}

impl Env {
    /// Builds the services over an open store.
    pub fn new(
        config: &Config,
        store: Arc<dyn ServerStore>,
        signing_key: Option<KeyPair>,
    ) -> Result<Env, ServerError> {
        let reference::Loaded {
            rules,
            calendar,
            policies,
            grid,
            fees,
            designs,
            firms,
        } = reference::load(&*store)?;
        let retired_keys = crate::signing::retired(&*store.read()?)?
            .into_iter()
            .map(|k| k.public)
            .collect();
        Ok(Env {
            retired_keys,
            store,
            docs: docs::DocCache::default(),
            blobs: BlobStore::from_config(config)?,
            uploads: uploads::Uploads::new(
                &config.data_dir,
                config.max_upload_mib * 1024 * 1024,
                config.node_name(),
            ),
            rules: RwLock::new(Arc::new(rules)),
            calendar: RwLock::new(Arc::new(calendar)),
            grid: RwLock::new(Arc::new(grid)),
            fees: RwLock::new(Arc::new(fees)),
            designs: RwLock::new(Arc::new(designs)),
            firms: RwLock::new(Arc::new(firms)),
            policies: RwLock::new(policies),
            signing_key,
            auth: auth::AuthSettings::new(config),
            tmp_dir: config.data_dir.join("tmp"),
            metrics: Default::default(),
            node_id: config.node_name(),
            public: public::PublicCache::new(std::time::Duration::from_secs(
                config.public_cache_seconds,
            )),
            archives: tokio::sync::Semaphore::new(config.archive_builds.max(1) as usize),
            syncs: tokio::sync::Semaphore::new(match config.sync_workers {
                0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
                n => n as usize,
            }),
            archive_max_bytes: config.archive_max_mib.saturating_mul(1024 * 1024),
        })
    }

    /// Runs blocking work (database, automerge, hashing) on a blocking thread.
    pub async fn blocking<T, F>(self: &Arc<Self>, f: F) -> Result<T, ServerError>
    where
        T: Send + 'static,
        F: FnOnce(&Env) -> Result<T, ServerError> + Send + 'static,
    {
        let env = self.clone();
        // The request's span (its id) follows the work onto the blocking thread.
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| f(&env)))
            .await
            .map_err(|e| ServerError::Internal(format!("blocking task failed: {e}")))?
    }

    /// Runs a sync exchange's blocking work once one of the `sync_workers` places is free (the
    /// others wait their turn, holding no lock).
    pub async fn sync_work<T, F>(self: &Arc<Self>, f: F) -> Result<T, ServerError>
    where
        T: Send + 'static,
        F: FnOnce(&Env) -> Result<T, ServerError> + Send + 'static,
    {
        let _place = self
            .syncs
            .acquire()
            .await
            .map_err(|e| ServerError::Internal(format!("sync workers closed: {e}")))?;
        self.blocking(f).await
    }

    /// The rule sets in use (a snapshot: installing more replaces it).
    pub fn rules(&self) -> Arc<RuleBook> {
        self.rules.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The working-day calendar in use (a snapshot).
    pub fn calendar(&self) -> Arc<Calendar> {
        self.calendar
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Every unit's published grid cells (a snapshot).
    pub fn grid(&self) -> Arc<field_core::grid::GridBook> {
        self.grid.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The fee schedules (收费标准): the national default and what is installed.
    pub fn fees(&self) -> Arc<field_core::fees::FeeBook> {
        self.fees.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The typical-design catalogues (典型设计): the national default and what is installed.
    pub fn designs(&self) -> Arc<field_core::catalogue::CatalogueBook> {
        self.designs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The units' registers of the customer's design and construction firms.
    pub fn firms(&self) -> Arc<field_core::firms::FirmBook> {
        self.firms.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reloads rules, calendar and write policies after reference data was installed.
    pub fn reload_reference(&self) -> Result<(), ServerError> {
        let reference::Loaded {
            rules,
            calendar,
            policies,
            grid,
            fees,
            designs,
            firms,
        } = reference::load(&*self.store)?;
        *self.grid.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(grid);
        *self.designs.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(designs);
        *self.firms.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(firms);
        *self.fees.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fees);
        *self.rules.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(rules);
        *self.calendar.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(calendar);
        *self.policies.write().unwrap_or_else(|p| p.into_inner()) = policies;
        Ok(())
    }

    /// The write policy in force for `unit` today (China time).
    pub fn policy(&self, unit: &str) -> WritePolicy {
        let today = field_core::job::local_date(chrono::Utc::now());
        self.policies
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .in_force(unit, today)
            .clone()
    }

    /// The server's public key (hex), if it has one.
    pub fn server_key(&self) -> Option<String> {
        self.signing_key.as_ref().map(KeyPair::public_hex)
    }

    /// The countersigning key, then the retired ones (empty without a key).
    pub fn server_keys(&self) -> Vec<String> {
        match self.server_key() {
            Some(k) => std::iter::once(k)
                .chain(self.retired_keys.iter().cloned())
                .collect(),
            None => Vec::new(),
        }
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
