//! The Fieldline server: sync, auth, the job feed, write rights and the audit trail over HTTP
//! (axum), with embedded SQLite.
//!
//! Layers (see `ARCHITECTURE.md`): [`http`] (routes, the caller, status codes) → [`service`]
//! (what the server does) and [`authz`] (every access decision) → [`store`] (the
//! [`store::ServerStore`] trait; all SQL lives in [`store::sqlite`]). `fieldline serve` runs
//! it; see [`cli`] for every command and [`config::Config`] for settings.

pub mod authz;
pub mod blobs;
pub mod cli;
pub mod config;
pub mod error;
pub mod fault;
pub mod files;
pub mod http;
pub mod i18n;
pub mod metrics;
pub mod pdf;
pub mod range;
pub mod service;
pub mod signing;
pub mod store;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use config::Config;
pub use error::ServerError;
pub use service::Env;

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub env: Arc<Env>,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    pruner: tokio::task::JoinHandle<()>,
    clocks: tokio::task::JoinHandle<()>,
    blob_check: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting connections and waits for the server task to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
        self.pruner.abort();
        self.clocks.abort();
        self.blob_check.abort();
        let env = self.env.clone();
        match tokio::task::spawn_blocking(move || env.store.close()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "closing the database cleanly failed"),
            Err(e) => tracing::warn!(error = %e, "closing the database cleanly failed"),
        }
    }
}

/// Forgets stale uploads and old login attempts at start and every hour, on the node holding
/// the `housekeeping` lease.
fn spawn_upload_pruning(env: Arc<Env>, max_age: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HOUR);
        loop {
            tick.tick().await;
            // Once per cluster, like the clocks (a lease outliving the hourly tick, so one node
            // keeps it while it runs).
            if !holds_lease(&env, "housekeeping", 3 * HOUR).await {
                continue;
            }
            match service::uploads::prune(&env, max_age).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(uploads = n, "forgot stale uploads"),
                Err(e) => tracing::warn!(error = %e, "pruning uploads failed"),
            }
            if let Err(e) = env.blocking(service::auth::prune_attempts).await {
                tracing::warn!(error = %e, "pruning login attempts failed");
            }
        }
    })
}

/// Claims (or renews) the cluster-wide lease `name` for this node: whether this node does the
/// lease's work now. A failed claim is logged and counts as not held.
async fn holds_lease(env: &Arc<Env>, name: &'static str, ttl: Duration) -> bool {
    match env
        .blocking(move |env| service::lease::claim(env, name, &env.node_id, ttl))
        .await
    {
        Ok(held) => held,
        Err(e) => {
            tracing::warn!(error = %e, lease = name, "claiming a lease failed");
            false
        }
    }
}

const HOUR: Duration = Duration::from_secs(3600);

/// Photo files the periodic check looks at per ten minutes (a HEAD request each on S3).
const BLOB_CHECK_BATCH: u32 = 2000;

/// Walks the recorded photo files in the background, a batch every ten minutes on the node
/// holding the `blob_check` lease, and reports each one missing from the blob store (or at a
/// wrong size) with its jobs: a warning in the log and the `fieldline_blobs_missing` gauge.
fn spawn_blob_check(env: Arc<Env>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        let (mut after, mut found, mut last_pass) = (String::new(), 0u64, 0u64);
        loop {
            tick.tick().await;
            if !holds_lease(&env, "blob_check", LEASE).await {
                continue;
            }
            match service::integrity::check_after(&env, &after, BLOB_CHECK_BATCH, false).await {
                Ok(batch) => {
                    for l in &batch.lost {
                        tracing::warn!(
                            sha256 = %l.sha256,
                            problem = ?l.problem,
                            jobs = %l.jobs.join(","),
                            "a photo file the database records is not in the blob store: restore it from the backup (fieldline blobs check lists all)"
                        );
                    }
                    found += batch.lost.len() as u64;
                    env.metrics.blob_check(batch.checked, found.max(last_pass));
                    match batch.last {
                        Some(last) => after = last,
                        None => {
                            (after, last_pass, found) = (String::new(), found, 0);
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "checking photo files failed"),
            }
        }
    })
}

/// How long a node's claim on the periodic work lasts without renewal (it renews every tick).
const LEASE: Duration = Duration::from_secs(15 * 60);

/// Recomputes every running clock once per day (China time): at start, then checks every ten
/// minutes whether the day changed; each check also escalates late supervision orders.
/// With several nodes, only the one holding the `periodic` lease does it.
fn spawn_clocks(env: Arc<Env>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            // Once per cluster: only the node holding the lease does it (renewed each tick).
            if !holds_lease(&env, "periodic", LEASE).await {
                continue;
            }
            let today = field_core::job::local_date(chrono::Utc::now());
            let started = std::time::Instant::now();
            match env
                .blocking(move |env| service::clocks::refresh_if_new_day(env, today))
                .await
            {
                Ok(Some(r)) => {
                    env.metrics.clocks(r.jobs, started.elapsed());
                    tracing::info!(
                    %today,
                    jobs = r.jobs,
                    changed = r.changed,
                    "time limits recomputed for the day"
                    )
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "recomputing time limits failed"),
            }
            match env
                .blocking(move |env| service::supervision::escalate_late(env, today))
                .await
            {
                Ok(0) => {}
                Ok(n) => {
                    env.metrics.escalated(n);
                    tracing::info!(orders = n, "late supervision orders escalated")
                }
                Err(e) => tracing::warn!(error = %e, "escalating supervision orders failed"),
            }
        }
    })
}

/// Logs to stderr, filtered by `FIELDLINE_LOG` (default `info`); `FIELDLINE_LOG_FORMAT=json`
/// writes one JSON object per line with the request's span (its id, method and route). Colour
/// only when stderr is a terminal, never into a file or a pipe.
pub fn init_logging() {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_env("FIELDLINE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if std::env::var("FIELDLINE_LOG_FORMAT").is_ok_and(|f| f == "json") {
        let _ = logs.json().with_current_span(true).try_init();
    } else {
        let _ = logs.try_init();
    }
}

/// Checks what can be checked of `config` without creating anything: the blob store's settings
/// and the signing key (a configured one, or the data folder's own if it has one), so that a
/// wrong setting leaves no new database or key behind.
pub fn preflight(config: &Config) -> Result<(), ServerError> {
    blobs::BlobStore::from_config(config)?;
    signing::load(config)?;
    Ok(())
}

/// Opens the store of `config` and builds the services over it.
pub fn open(config: &Config) -> Result<Arc<Env>, ServerError> {
    files::private_by_default();
    preflight(config)?;
    let store = store::open(config)?;
    let key = signing::checked(config, &*store)?;
    let env = Arc::new(Env::new(config, store, Some(key))?);
    service::public::ensure_secret(&env)?;
    // Claims on uploads this node held before it stopped died with their requests.
    {
        let mut tx = env.store.write()?;
        let n = tx.release_node_uploads(&config.node_name())?;
        tx.commit()?;
        if n > 0 {
            tracing::info!(
                uploads = n,
                "released this node's upload claims from before its restart"
            );
        }
    }
    let n = service::jobs::reproject(&env)?;
    if n > 0 {
        tracing::info!(jobs = n, "filled in new list columns");
    }
    files::warn_if_loose(&config.data_dir);
    Ok(env)
}

/// Opens the store and starts serving on `config.listen` (port 0 picks a free port). The
/// address is taken first: a port in use leaves nothing created behind.
pub async fn start(config: &Config) -> Result<Running, ServerError> {
    let listener = listen(config).await?;
    let env = open(config)?;
    serve_on(listener, config, env).await
}

/// Takes `config.listen`.
pub async fn listen(config: &Config) -> Result<tokio::net::TcpListener, ServerError> {
    tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| ServerError::Setup {
            zh: format!(
                "无法监听 {}：{e}（端口被占用时请换用 --listen 或停止占用它的进程）",
                config.listen
            ),
            en: format!(
                "cannot listen on {}: {e} (if the port is in use, choose another with --listen or stop what holds it)",
                config.listen
            ),
        })
}

/// Serves `env` on `config.listen`.
pub async fn serve(config: &Config, env: Arc<Env>) -> Result<Running, ServerError> {
    let listener = listen(config).await?;
    serve_on(listener, config, env).await
}

/// Serves `env` on `listener`.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    config: &Config,
    env: Arc<Env>,
) -> Result<Running, ServerError> {
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Io(e.to_string()))?;
    let pruner = spawn_upload_pruning(
        env.clone(),
        Duration::from_secs(config.upload_expiry_hours * 3600),
    );
    let clocks = spawn_clocks(env.clone());
    let blob_check = spawn_blob_check(env.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = http::router(env.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "server stopped with an error");
        }
    });
    Ok(Running {
        addr,
        env,
        shutdown: tx,
        task,
        pruner,
        clocks,
        blob_check,
    })
}

/// The layers inside this crate, checked on its sources (the store's boundary is its own crate,
/// which the compiler checks): services never reach the HTTP or web layers above them, and the
/// modules the services build on never reach the services.
#[cfg(test)]
mod layers {
    use std::path::Path;

    fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.display().to_string(), text));
            }
        }
    }

    /// Files under `under` (relative to `src`) that name any of `forbidden`.
    fn offenders(under: &[&str], forbidden: &[&str]) -> Vec<String> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        for u in under {
            let p = src.join(u);
            if p.is_dir() {
                sources(&p, &mut files);
            } else {
                files.push((
                    p.display().to_string(),
                    std::fs::read_to_string(&p).unwrap(),
                ));
            }
        }
        files
            .into_iter()
            .filter(|(_, text)| forbidden.iter().any(|f| text.contains(f)))
            .map(|(path, _)| path)
            .collect()
    }

    #[test]
    fn services_never_call_up_into_http_or_web() {
        let found = offenders(&["service"], &["crate::http", "crate::web"]);
        assert!(found.is_empty(), "services calling up: {found:?}");
    }

    #[test]
    fn what_services_build_on_never_calls_them() {
        let below = [
            "authz.rs",
            "error.rs",
            "i18n.rs",
            "config.rs",
            "blobs.rs",
            "files.rs",
            "range.rs",
            "signing.rs",
            "metrics.rs",
            "store.rs",
        ];
        let found = offenders(&below, &["crate::service", "crate::http", "crate::web"]);
        assert!(found.is_empty(), "lower modules calling up: {found:?}");
    }
}
