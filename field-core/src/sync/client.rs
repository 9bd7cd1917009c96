//! The sync client: log in once, then `sync()` pushes the outbox and pulls the feed, one round
//! trip per page, safe to interrupt at any point (every step is stored before the next starts and
//! repeating any request is harmless).

use super::protocol::{
    self, ApiError, LoginRequest, LoginResponse, PROTOCOL_HEADER, PROTOCOL_VERSION, PullJob,
    Rejected, SyncRequest, SyncResponse, UserInfo,
};
use crate::store::{Store, StoreError};
use std::time::{Duration, Instant};

const SYNC_MEDIA_TYPE: &str = "application/vnd.fieldline.sync+cbor+zstd";

/// Errors of login and sync.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("网络不可用：{0} / network unavailable: {0}")]
    Network(String),
    #[error("尚未登录服务器 / not logged in to a server")]
    NotLoggedIn,
    #[error("{zh} / {en}")]
    Unauthorized { zh: String, en: String },
    #[error("{zh} / {en}")]
    PleaseUpdate { zh: String, en: String },
    #[error("服务器拒绝（{status}）：{zh} / server refused ({status}): {en}")]
    Refused {
        status: u16,
        code: String,
        zh: String,
        en: String,
    },
    #[error("服务器响应无法解析 / the server's response cannot be read: {0}")]
    Protocol(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    fn retryable(&self) -> bool {
        match self {
            SyncError::Network(_) | SyncError::Protocol(_) => true,
            SyncError::Refused { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

/// Tuning of a sync run.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Attempts per request before giving up (network errors, 5xx, 429).
    pub attempts: u32,
    /// First retry delay; doubles each time.
    pub backoff: Duration,
    /// Request timeout.
    pub timeout: Duration,
    /// Most round trips in one run (pages and fallback steps).
    pub max_rounds: u32,
    /// Feed page size to ask for, in bytes.
    pub page_bytes: Option<u64>,
    /// Most bytes of changes pushed in one request; more dirty jobs go in the next round.
    pub push_bytes: usize,
    /// Upload queued photos after the documents.
    pub upload_photos: bool,
    /// Bytes per upload PATCH (each carries its own checksum).
    pub upload_chunk_bytes: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            attempts: 5,
            backoff: Duration::from_millis(200),
            timeout: Duration::from_secs(60),
            max_rounds: 1_000,
            page_bytes: None,
            push_bytes: 8 * 1024 * 1024,
            upload_photos: true,
            upload_chunk_bytes: 1024 * 1024,
        }
    }
}

/// Progress after each round trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncProgress {
    pub round_trips: u32,
    pub jobs_pushed: u32,
    pub jobs_pulled: u32,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// More rounds are coming (feed pages, pushes over the size limit, fallback steps).
    pub more: bool,
    /// Photo blobs still to upload, their bytes, and photo bytes sent so far.
    pub blobs_pending: u32,
    pub photo_bytes_pending: u64,
    pub photo_bytes_sent: u64,
}

/// What a sync run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Jobs whose local changes the server acknowledged.
    pub jobs_pushed: u32,
    /// Jobs that received changes from the server.
    pub jobs_pulled: u32,
    /// Pulled jobs that also had local changes (merged).
    pub jobs_merged: u32,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub round_trips: u32,
    /// Request attempts that failed and were retried.
    pub retries: u32,
    pub duration_ms: u64,
    /// Jobs that went through automerge's sync protocol (server lacked their base).
    pub fallback_jobs: u32,
    /// Photo files queued again because the server no longer had them (a restore).
    pub photos_requeued: u32,
    pub rejected: Vec<Rejected>,
    /// Jobs that left this user's scope (removed, or kept for export if they held unsynced work).
    pub left_scope: Vec<String>,
    /// Jobs fetched whole because pulled changes arrived without what they depend on.
    pub jobs_repaired: u32,
    /// False when `max_rounds` ran out before everything was exchanged.
    pub complete: bool,
    /// The photo uploads that followed (`None` when not attempted).
    pub photos: Option<super::upload::UploadReport>,
    /// Why the photo uploads stopped early, if they did (documents synced regardless).
    pub photo_error: Option<String>,
    /// Reference data installed from the server (rule sets, write policies, calendar bundles).
    pub reference_installed: u32,
    /// Reference data this app could not use, or why fetching it failed (documents synced
    /// regardless).
    pub reference_errors: Vec<String>,
}

/// An error with its causes, e.g. "error sending request: connection refused".
pub(super) fn network(e: reqwest::Error) -> SyncError {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    SyncError::Network(text)
}

pub(super) fn http(timeout: Duration) -> Result<reqwest::Client, SyncError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(network)
}

pub(super) async fn api_error(resp: reqwest::Response) -> SyncError {
    let status = resp.status().as_u16();
    let body: Option<ApiError> = resp.json().await.ok();
    let (code, zh, en) = body.map(|b| (b.code, b.zh, b.en)).unwrap_or_else(|| {
        (
            "http".into(),
            format!("HTTP {status}"),
            format!("HTTP {status}"),
        )
    });
    match status {
        401 => SyncError::Unauthorized { zh, en },
        426 => SyncError::PleaseUpdate { zh, en },
        _ => SyncError::Refused {
            status,
            code,
            zh,
            en,
        },
    }
}

/// Logs in to `server` (e.g. `http://127.0.0.1:8080`) as this device and remembers the token.
pub async fn login(
    store: &Store,
    server: &str,
    username: &str,
    password: &str,
) -> Result<UserInfo, SyncError> {
    let server = server.trim_end_matches('/');
    let device = store.device();
    let mut request = http(Duration::from_secs(30))?.post(format!("{server}/api/v1/auth/login"));
    // A phone that still holds a valid token shows it: the server then never refuses it for
    // the login limits a stranger's attempts may have used up.
    if let Some(token) = store.sync_setting("token")?.filter(|t| !t.is_empty()) {
        request = request.bearer_auth(token);
    }
    let resp = request
        .json(&LoginRequest {
            username: username.to_string(),
            password: password.to_string(),
            device_id: device.device_id,
            device_key: Some(device.public_key),
            device_actor: Some(device.actor.to_hex_string()),
        })
        .send()
        .await
        .map_err(network)?;
    if !resp.status().is_success() {
        return Err(api_error(resp).await);
    }
    let body: LoginResponse = resp
        .json()
        .await
        .map_err(|e| SyncError::Protocol(e.to_string()))?;
    let role = crate::codes::Role::parse(&body.user.role).ok_or_else(|| {
        SyncError::Protocol(format!(
            "the server named an unknown role {}",
            body.user.role
        ))
    })?;
    store.set_sync_setting("server", server)?;
    store.set_sync_setting("token", &body.token)?;
    store.set_identity(&crate::store::Identity {
        username: body.user.username.clone(),
        role,
        unit: body.user.unit.clone(),
    })?;
    if let Some(key) = &body.server_key {
        store.set_server_keys(key, &body.retired_server_keys)?;
    }
    Ok(body.user)
}

async fn post_sync(
    client: &reqwest::Client,
    server: &str,
    token: &str,
    body: Vec<u8>,
) -> Result<Vec<u8>, SyncError> {
    let resp = client
        .post(format!("{server}/api/v1/sync"))
        .bearer_auth(token)
        .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
        .header(reqwest::header::CONTENT_TYPE, SYNC_MEDIA_TYPE)
        .body(body)
        .send()
        .await
        .map_err(network)?;
    if !resp.status().is_success() {
        return Err(api_error(resp).await);
    }
    resp.bytes().await.map(|b| b.to_vec()).map_err(network)
}

/// Pushes every local change and pulls everything the device lacks. Calls `progress` after each
/// round trip. Interrupting it (dropping the future, losing the network, killing the app) at any
/// point loses nothing: the next run picks up where the stored state says.
pub async fn sync(
    store: &Store,
    options: &SyncOptions,
    progress: &(dyn Fn(&SyncProgress) + Send + Sync),
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let server = store
        .sync_setting("server")?
        .ok_or(SyncError::NotLoggedIn)?;
    let token = store.sync_setting("token")?.ok_or(SyncError::NotLoggedIn)?;
    let device_id = store.device().device_id;
    let client = http(options.timeout)?;
    let mut report = SyncReport::default();
    let mut pushed = std::collections::BTreeSet::new();
    let mut pulled = std::collections::BTreeSet::new();
    loop {
        if report.round_trips >= options.max_rounds {
            report.complete = false;
            break;
        }
        let out = store.sync_outgoing(options.push_bytes)?;
        let req = SyncRequest {
            protocol: PROTOCOL_VERSION,
            device_id: device_id.clone(),
            cursor: out.cursor,
            push: out.push.clone(),
            messages: out.messages.clone(),
            page_bytes: options.page_bytes,
        };
        let body = protocol::encode(&req);
        let mut attempt = 0;
        let bytes = loop {
            attempt += 1;
            report.bytes_sent += body.len() as u64;
            match post_sync(&client, &server, &token, body.clone()).await {
                Ok(b) => break b,
                Err(e) if e.retryable() && attempt < options.attempts => {
                    report.retries += 1;
                    tracing::debug!(error = %e, attempt, "sync request failed, retrying");
                    tokio::time::sleep(options.backoff * 2u32.saturating_pow(attempt - 1)).await;
                }
                Err(e) => return Err(e),
            }
        };
        report.bytes_received += bytes.len() as u64;
        report.round_trips += 1;
        let resp: SyncResponse = protocol::decode(&bytes, protocol::MAX_DECODED_BYTES)
            .map_err(|e| SyncError::Protocol(e.to_string()))?;
        let incomplete = apply(store, &out, &resp, &mut report, &mut pushed, &mut pulled)?;
        // Pulled changes that arrived without what they depend on (e.g. this phone was
        // restored from an old backup and lacks its own earlier changes, which the feed does not
        // send back): fetch those jobs whole before the cursor moves past them.
        for job_id in &incomplete {
            repair(store, &client, &server, &token, job_id).await?;
            pulled.insert(job_id.clone());
            report.jobs_repaired += 1;
        }
        store.set_sync_cursor(resp.cursor)?;
        let more = resp.more || out.more || store.fallback_pending()?;
        progress(&SyncProgress {
            round_trips: report.round_trips,
            jobs_pushed: pushed.len() as u32,
            jobs_pulled: pulled.len() as u32,
            bytes_sent: report.bytes_sent,
            bytes_received: report.bytes_received,
            more,
            ..Default::default()
        });
        if !more {
            report.complete = true;
            break;
        }
    }
    report.jobs_pushed = pushed.len() as u32;
    report.jobs_pulled = pulled.len() as u32;
    if report.complete
        && let Err(e) = pull_reference(store, &client, &server, &token, &mut report).await
    {
        if let SyncError::Unauthorized { zh, en } = e {
            return Err(SyncError::Unauthorized { zh, en });
        }
        report.reference_errors.push(e.to_string());
    }
    if options.upload_photos && report.complete {
        let base = SyncProgress {
            round_trips: report.round_trips,
            jobs_pushed: report.jobs_pushed,
            jobs_pulled: report.jobs_pulled,
            bytes_sent: report.bytes_sent,
            bytes_received: report.bytes_received,
            more: true,
            ..Default::default()
        };
        let on_upload = |p: &super::upload::UploadProgress| {
            progress(&SyncProgress {
                blobs_pending: p.blobs_pending,
                photo_bytes_pending: p.bytes_pending,
                photo_bytes_sent: p.bytes_sent,
                more: p.blobs_pending > 0,
                ..base.clone()
            })
        };
        match super::upload::upload_pending(store, options, &on_upload).await {
            Ok(r) => report.photos = Some(r),
            Err(SyncError::Unauthorized { zh, en }) => {
                return Err(SyncError::Unauthorized { zh, en });
            }
            Err(e) => {
                report.photo_error = Some(e.to_string());
                let status = store.upload_status()?;
                report.photos = Some(super::upload::UploadReport {
                    blobs_pending: status.blobs_pending,
                    photos_pending: status.photos_pending,
                    bytes_pending: status.bytes_pending,
                    ..Default::default()
                });
            }
        }
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Fetches a job's whole document and merges it (repairs changes that arrived without their
/// dependencies). A job the server no longer shows this user has nothing to repair.
/// Largest reference page the phone reads (bytes).
const REFERENCE_PAGE_MAX: usize = 64 * 1024 * 1024;

/// Installs the reference data the server has for this user since the last sync (rule sets,
/// write policies, calendar bundles), so the phone computes the same clocks as the server. An
/// item this app cannot use is reported and passed over; the cursor is stored after each page.
async fn pull_reference(
    store: &Store,
    client: &reqwest::Client,
    server: &str,
    token: &str,
    report: &mut SyncReport,
) -> Result<(), SyncError> {
    let mut after: i64 = store
        .sync_setting("reference_seq")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    loop {
        let resp = client
            .get(format!("{server}/api/v1/reference?after={after}"))
            .bearer_auth(token)
            .send()
            .await
            .map_err(network)?;
        if resp.status().as_u16() == 404 {
            return Ok(()); // a server from before reference data
        }
        if !resp.status().is_success() {
            return Err(api_error(resp).await);
        }
        if resp
            .content_length()
            .is_some_and(|n| n > REFERENCE_PAGE_MAX as u64)
        {
            return Err(SyncError::Protocol("reference page too large".into()));
        }
        let bytes = resp.bytes().await.map_err(network)?;
        if bytes.len() > REFERENCE_PAGE_MAX {
            return Err(SyncError::Protocol("reference page too large".into()));
        }
        let page: super::protocol::ReferencePage = serde_json::from_slice(&bytes)
            .map_err(|e| SyncError::Protocol(format!("reference page: {e}")))?;
        if page.items.is_empty() || page.next <= after {
            return Ok(());
        }
        for item in &page.items {
            let installed = match item.kind.as_str() {
                "rule_set" => store.install_rules(&item.body),
                "write_policy" => store.install_policy(&item.body),
                "calendar" => store.install_calendar(&item.body).map(|_| ()),
                "grid_cells" => store.install_grid(&item.body).map(|_| ()),
                "fee_schedule" => store.install_fees(&item.body),
                "typical_designs" => store.install_designs(&item.body),
                "contractor_firms" => store.install_firms(&item.body),
                other => {
                    tracing::debug!(kind = other, "reference data of an unknown kind skipped");
                    continue;
                }
            };
            match installed {
                Ok(()) => report.reference_installed += 1,
                Err(e) => report
                    .reference_errors
                    .push(format!("{} #{}: {e}", item.kind, item.seq)),
            }
        }
        after = page.next;
        store.set_sync_setting("reference_seq", &after.to_string())?;
    }
}

async fn repair(
    store: &Store,
    client: &reqwest::Client,
    server: &str,
    token: &str,
    job_id: &str,
) -> Result<(), SyncError> {
    let resp = client
        .get(format!("{server}/api/v1/jobs/{job_id}/automerge"))
        .bearer_auth(token)
        .send()
        .await
        .map_err(network)?;
    if resp.status().as_u16() == 404 {
        return Ok(());
    }
    if !resp.status().is_success() {
        return Err(api_error(resp).await);
    }
    let bytes = resp.bytes().await.map_err(network)?;
    let page = store.sync_merge_pulled(&[PullJob {
        job_id: job_id.to_string(),
        changes: bytes.to_vec(),
    }])?;
    if !page.incomplete.is_empty() {
        return Err(StoreError::MissingDeps(job_id.to_string()).into());
    }
    Ok(())
}

/// Stores one response, step by step; each step is durable and repeatable. Returns the jobs
/// whose pulled changes lack their dependencies (nothing of them was stored); the caller repairs
/// them, then stores the cursor.
fn apply(
    store: &Store,
    out: &super::super::store::Outgoing,
    resp: &SyncResponse,
    report: &mut SyncReport,
    pushed: &mut std::collections::BTreeSet<String>,
    pulled: &mut std::collections::BTreeSet<String>,
) -> Result<Vec<String>, SyncError> {
    for m in &out.messages {
        store.sync_message_sent(&m.job_id)?;
    }
    store.sync_acks(&resp.acks, &out.dirty)?;
    pushed.extend(resp.acks.iter().map(|a| a.job_id.clone()));
    if let Some((current, retired)) = resp.server_keys.split_first() {
        store.set_server_keys(current, retired)?;
    }
    for sha in &resp.wanted_blobs {
        // Only well-formed names reach the store; anything else is the server's mistake.
        if crate::validate::is_sha256_hex(sha) && store.requeue_upload(sha)? {
            report.photos_requeued += 1;
        }
    }
    for job in &resp.fallback {
        store.sync_fallback_start(job)?;
        report.fallback_jobs += 1;
    }
    for m in &resp.messages {
        let dirty = store
            .dirty_jobs()?
            .into_iter()
            .find(|d| d.job_id == m.job_id);
        if store.sync_fallback_receive(&m.job_id, &m.message, dirty.as_ref())? {
            pushed.insert(m.job_id.clone());
        }
    }
    // A refused job is set aside with its reason; it blocks nothing else.
    for r in &resp.rejected {
        store.sync_set_aside(r)?;
    }
    let page = store.sync_merge_pulled(&resp.pull)?;
    for (job_id, was_dirty) in page.merged {
        if was_dirty {
            report.jobs_merged += 1;
        }
        pulled.insert(job_id);
    }
    let incomplete = page.incomplete;
    for job in &resp.gone {
        store.sync_left_scope(job)?;
    }
    report.rejected.extend(resp.rejected.iter().cloned());
    report.left_scope.extend(resp.gone.iter().cloned());
    Ok(incomplete)
}
