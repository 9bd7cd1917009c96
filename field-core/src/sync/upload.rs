//! The photo upload queue's client: tus 1.0 (creation + checksum) against
//! `/api/v1/uploads`. Each blob resumes from the offset the server has; each chunk carries its
//! SHA-256 so a damaged chunk is refused and sent again; the server checks the whole blob
//! against its name. Runs after document sync, so a document never waits for a photo, and the
//! server already knows which job names each blob.

use super::client::{SyncError, SyncOptions, api_error as refused, network};
use crate::store::{PendingUpload, Store};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::{Digest, Sha256};

const TUS_VERSION: &str = "1.0.0";

/// What an upload run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadReport {
    /// Blobs that reached the server in this run (or that it already had).
    pub blobs_uploaded: u32,
    /// Bytes sent in PATCH bodies.
    pub bytes_sent: u64,
    /// Chunks sent again after a checksum or offset problem.
    pub chunks_retried: u32,
    /// Blobs still waiting, and their bytes.
    pub blobs_pending: u32,
    pub photos_pending: u32,
    pub bytes_pending: u64,
    /// Blobs skipped this run, with why (e.g. their job has not synced yet).
    pub skipped: Vec<(String, String)>,
}

/// Progress during uploads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadProgress {
    pub blobs_pending: u32,
    pub bytes_pending: u64,
    pub bytes_sent: u64,
}

/// What happened to one blob.
enum Outcome {
    Uploaded,
    Skipped(String),
}

fn offset_of(resp: &reqwest::Response) -> Option<u64> {
    resp.headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

struct Uploader<'a> {
    store: &'a Store,
    client: reqwest::Client,
    server: String,
    token: String,
    options: &'a SyncOptions,
    report: UploadReport,
    progress: &'a (dyn Fn(&UploadProgress) + Send + Sync),
}

/// Uploads every queued blob. Network trouble is retried with backoff; when it persists the run
/// stops with what is left still queued (nothing is lost, the next run resumes).
pub async fn upload_pending(
    store: &Store,
    options: &SyncOptions,
    progress: &(dyn Fn(&UploadProgress) + Send + Sync),
) -> Result<UploadReport, SyncError> {
    let server = store
        .sync_setting("server")?
        .ok_or(SyncError::NotLoggedIn)?;
    let token = store.sync_setting("token")?.ok_or(SyncError::NotLoggedIn)?;
    let client = super::client::http(options.timeout)?;
    let mut up = Uploader {
        store,
        client,
        server,
        token,
        options,
        report: UploadReport::default(),
        progress,
    };
    let result = up.run().await;
    let status = store.upload_status()?;
    up.report.blobs_pending = status.blobs_pending;
    up.report.photos_pending = status.photos_pending;
    up.report.bytes_pending = status.bytes_pending;
    result.map(|()| up.report)
}

impl Uploader<'_> {
    async fn run(&mut self) -> Result<(), SyncError> {
        for item in self.store.pending_uploads()? {
            let mut attempt = 0;
            loop {
                attempt += 1;
                match self.one(&item).await {
                    Ok(Outcome::Uploaded) => {
                        self.store.mark_uploaded(&item.sha256)?;
                        self.report.blobs_uploaded += 1;
                        break;
                    }
                    Ok(Outcome::Skipped(why)) => {
                        self.store.upload_failed(&item.sha256, &why)?;
                        self.report.skipped.push((item.sha256.clone(), why));
                        break;
                    }
                    Err(e) if retryable(&e) && attempt < self.options.attempts => {
                        tracing::debug!(error = %e, attempt, sha = %item.sha256, "upload failed, retrying");
                        tokio::time::sleep(self.options.backoff * 2u32.saturating_pow(attempt - 1))
                            .await;
                    }
                    Err(e) => {
                        self.store.upload_failed(&item.sha256, &e.to_string())?;
                        return Err(e);
                    }
                }
            }
            self.tell()?;
        }
        Ok(())
    }

    fn tell(&self) -> Result<(), SyncError> {
        let status = self.store.upload_status()?;
        (self.progress)(&UploadProgress {
            blobs_pending: status.blobs_pending,
            bytes_pending: status.bytes_pending,
            bytes_sent: self.report.bytes_sent,
        });
        Ok(())
    }

    fn url(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            format!("{}{}", self.server, location)
        }
    }

    /// Creates the upload; `Ok(None)` when the server refuses it for a reason that a later run
    /// may not have (the job's document has not reached the server yet).
    async fn create(
        &self,
        item: &PendingUpload,
    ) -> Result<Result<(String, u64), String>, SyncError> {
        let meta = format!(
            "sha256 {},job {},role {}",
            B64.encode(&item.sha256),
            B64.encode(&item.job_id),
            B64.encode(&item.role)
        );
        let resp = self
            .client
            .post(format!("{}/api/v1/uploads", self.server))
            .bearer_auth(&self.token)
            .header("tus-resumable", TUS_VERSION)
            .header("upload-length", item.bytes.to_string())
            .header("upload-metadata", meta)
            .send()
            .await
            .map_err(network)?;
        if resp.status().as_u16() == 201 {
            let offset = offset_of(&resp).unwrap_or(0);
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| SyncError::Protocol("upload created without a Location".into()))?;
            return Ok(Ok((self.url(location), offset)));
        }
        match refused(resp).await {
            SyncError::Refused { status, zh, en, .. } if status == 409 || status == 403 => {
                Ok(Err(format!("{zh} / {en}")))
            }
            e => Err(e),
        }
    }

    /// The server's offset of an upload; `None` when the upload is gone.
    async fn offset(&self, url: &str) -> Result<Option<u64>, SyncError> {
        let resp = self
            .client
            .head(url)
            .bearer_auth(&self.token)
            .header("tus-resumable", TUS_VERSION)
            .send()
            .await
            .map_err(network)?;
        match resp.status().as_u16() {
            200 | 204 => Ok(Some(offset_of(&resp).ok_or_else(|| {
                SyncError::Protocol("HEAD without Upload-Offset".into())
            })?)),
            404 | 410 => Ok(None),
            _ => Err(refused(resp).await),
        }
    }

    async fn one(&mut self, item: &PendingUpload) -> Result<Outcome, SyncError> {
        let stored = self.store.pending_uploads()?;
        let url = stored
            .iter()
            .find(|p| p.sha256 == item.sha256)
            .and_then(|p| p.upload_url.clone());
        let (url, mut offset) = match url {
            Some(url) => match self.offset(&url).await? {
                Some(o) => (url, o),
                None => {
                    self.store.set_upload_url(&item.sha256, None)?;
                    return self.create_then(item).await;
                }
            },
            None => return self.create_then(item).await,
        };
        while offset < item.bytes {
            let len = self
                .options
                .upload_chunk_bytes
                .min((item.bytes - offset) as usize);
            let chunk = self.store.blob_range(&item.sha256, offset, len)?;
            if chunk.len() != len {
                return Ok(Outcome::Skipped(format!(
                    "本机照片文件不完整 / the local photo file is short ({} of {len} bytes at {offset})",
                    chunk.len()
                )));
            }
            let digest = B64.encode(Sha256::digest(&chunk));
            let resp = self
                .client
                .patch(&url)
                .bearer_auth(&self.token)
                .header("tus-resumable", TUS_VERSION)
                .header("upload-offset", offset.to_string())
                .header("upload-checksum", format!("sha256 {digest}"))
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/offset+octet-stream",
                )
                .body(chunk)
                .send()
                .await
                .map_err(network)?;
            match resp.status().as_u16() {
                204 | 200 => {
                    let next = offset_of(&resp).unwrap_or(offset + len as u64);
                    self.report.bytes_sent += next.saturating_sub(offset);
                    offset = next;
                    self.tell()?;
                }
                // Offset disagreement or a damaged chunk: ask the server where it is.
                409 | 460 => {
                    self.report.chunks_retried += 1;
                    match self.offset(&url).await? {
                        Some(o) => offset = o,
                        None => {
                            // The server dropped the upload (whole-blob mismatch): check ours.
                            self.store.set_upload_url(&item.sha256, None)?;
                            let local = self.store.blob(&item.sha256)?;
                            if crate::validate::is_sha256_hex(&item.sha256)
                                && hex::encode(Sha256::digest(&local)) != item.sha256
                            {
                                return Ok(Outcome::Skipped(
                                    "本机照片文件已损坏 / the local photo file is damaged".into(),
                                ));
                            }
                            return Err(SyncError::Network(
                                "the server discarded the upload; starting again".into(),
                            ));
                        }
                    }
                }
                404 | 410 => {
                    self.store.set_upload_url(&item.sha256, None)?;
                    return Err(SyncError::Network(
                        "the upload expired; starting again".into(),
                    ));
                }
                _ => return Err(refused(resp).await),
            }
        }
        Ok(Outcome::Uploaded)
    }

    async fn create_then(&mut self, item: &PendingUpload) -> Result<Outcome, SyncError> {
        match self.create(item).await? {
            Err(why) => Ok(Outcome::Skipped(why)),
            Ok((url, offset)) => {
                self.store.set_upload_url(&item.sha256, Some(&url))?;
                if offset >= item.bytes {
                    return Ok(Outcome::Uploaded);
                }
                // Continue from the stored URL (one code path for new and resumed uploads).
                Box::pin(self.one(item)).await
            }
        }
    }
}

fn retryable(e: &SyncError) -> bool {
    match e {
        SyncError::Network(_) | SyncError::Protocol(_) => true,
        SyncError::Refused { status, .. } => *status >= 500 || *status == 429 || *status == 409,
        _ => false,
    }
}
