//! The Fieldline server: sync, auth and the job feed over HTTP (axum), with embedded SQLite.
//!
//! `fieldline serve` runs it; see [`cli`] for every command and [`config::Config`] for settings.

pub mod auth;
pub mod blobs;
pub mod cli;
pub mod config;
pub mod contracts;
pub mod db;
pub mod demo;
pub mod error;
pub mod http;
pub mod jobs;
pub mod pdf;
pub mod range;
pub mod signing;
pub mod sync;
pub mod tus;
pub mod uploads;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use config::Config;
pub use error::ServerError;

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    pub db: db::Db,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    pruner: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting connections and waits for the server task to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
        self.pruner.abort();
    }
}

/// Forgets stale uploads at start and every hour.
fn spawn_upload_pruning(
    db: db::Db,
    uploads: Arc<uploads::Uploads>,
    max_age: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match uploads.prune(&db, max_age).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(uploads = n, "forgot stale uploads"),
                Err(e) => tracing::warn!(error = %e, "pruning uploads failed"),
            }
        }
    })
}

/// Opens the database and starts serving on `config.listen` (port 0 picks a free port).
pub async fn start(config: &Config) -> Result<Running, ServerError> {
    let db = db::Db::open(&config.data_dir)?;
    let blob_store = blobs::BlobStore::from_config(config)?;
    let state = http::AppState {
        db: db.clone(),
        blobs: Arc::new(blob_store),
        uploads: Arc::new(uploads::Uploads::new(
            &config.data_dir,
            config.max_upload_mib * 1024 * 1024,
        )),
        ctx: Arc::new(jobs::Context {
            signing_key: Some(signing::load_or_create(&config.data_dir)?),
            ..jobs::Context::default()
        }),
        limiter: Arc::new(auth::LoginLimiter::new(
            config.login_attempts_per_minute,
            Duration::from_secs(60),
        )),
        token_ttl: Duration::from_secs(u64::from(config.token_ttl_days) * 86_400),
    };
    let pruner = spawn_upload_pruning(
        db.clone(),
        state.uploads.clone(),
        Duration::from_secs(config.upload_expiry_hours * 3600),
    );
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| ServerError::Io(format!("cannot listen on {}: {e}", config.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServerError::Io(e.to_string()))?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = http::router(state).into_make_service_with_connect_info::<SocketAddr>();
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
    tracing::info!(%addr, "listening");
    Ok(Running {
        addr,
        db,
        shutdown: tx,
        task,
        pruner,
    })
}
