//! Taking a photo into a job: ingest, blob files, the job document and the upload queue, as one
//! action.

use super::{Store, StoreError};
use crate::codes::PhotoPurpose;
use crate::job::{Edit, Job};
use crate::photo::{GeoPoint, IngestOptions, PhotoContext, ingest};
use rusqlite::params;

/// What the app says about a photo besides its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoInput {
    pub purpose: PhotoPurpose,
    pub caption: Option<String>,
    /// The phone's own location fix at capture, if it had one.
    pub gps: Option<GeoPoint>,
    /// For document-proof photos: the checklist group the photo proves.
    pub checklist_group: Option<String>,
    /// The author's name as printed in the watermark (the user id is recorded anyway).
    pub author_name: Option<String>,
}

/// The result of [`Store::add_photo`].
#[derive(Debug, Clone, PartialEq)]
pub struct AddedPhoto {
    pub photo_id: String,
    pub job: Job,
    /// The same original was already recorded on this job; nothing was added.
    pub duplicate: bool,
}

/// Upload order: thumbnails first (the office sees something at once), the original last.
fn priority(role: &str) -> i64 {
    match role {
        "thumbnail" => 0,
        "display" => 1,
        _ => 2,
    }
}

impl Store {
    /// Takes a camera JPEG/PNG into a job. Durable when it returns: the three blobs are synced
    /// files, and the job document change and the upload queue entries are one transaction. On
    /// error nothing stored changes. Adding the same original bytes again returns the photo
    /// already recorded.
    pub fn add_photo(
        &self,
        job_id: &str,
        actor: &str,
        bytes: &[u8],
        input: &PhotoInput,
        options: &IngestOptions,
    ) -> Result<AddedPhoto, StoreError> {
        let job = self.job(job_id)?;
        let original = crate::photo::sha256_hex(bytes);
        if let Some((id, _)) = job
            .photos
            .iter()
            .find(|(_, p)| p.original_sha256.as_deref() == Some(original.as_str()))
        {
            return Ok(AddedPhoto {
                photo_id: id.clone(),
                job,
                duplicate: true,
            });
        }
        if let Some(g) = &input.checklist_group
            && !job.checklist.contains_key(g)
        {
            return Err(crate::validate::Invalid::new(
                "photo.checklist_group",
                format!("收资清单中没有 {g} 这一项"),
                format!("the checklist has no group {g}"),
            )
            .into());
        }
        let ctx = PhotoContext {
            job_no: job.job_no.clone(),
            purpose: input.purpose,
            caption: input.caption.clone(),
            author: actor.to_string(),
            author_name: input.author_name.clone(),
            address: job.customer.address.clone(),
            gps: input.gps,
            device_time: self.now(),
            checklist_group: input.checklist_group.clone(),
        };
        // The heavy work happens without the store lock.
        let photo = ingest(bytes, &ctx, options)?;
        self.blobs
            .put(&photo.thumbnail.sha256, &photo.thumbnail.bytes)?;
        self.blobs
            .put(&photo.display.sha256, &photo.display.bytes)?;
        self.blobs.put(&photo.original_sha256, bytes)?;

        let photo_id = uuid::Uuid::new_v4().to_string();
        let edit = Edit::AddPhoto {
            id: photo_id.clone(),
            photo: photo.record.clone(),
        };
        let blobs: Vec<(String, &'static str, i64)> = photo
            .record
            .blobs()
            .into_iter()
            .map(|(role, h, n)| (h.to_string(), role, n))
            .collect();
        let queued_at = self.now().timestamp_millis();
        let mut inner = self.lock();
        let ectx = self.context(&inner, actor);
        let result = inner.edit_locked_with(job_id, &edit, &ectx, &|conn| {
            for (sha, role, size) in &blobs {
                conn.execute(
                    "INSERT OR IGNORE INTO photo_upload
                       (sha256, job_id, photo_id, role, bytes, priority, queued_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![sha, job_id, photo_id, role, size, priority(role), queued_at],
                )?;
            }
            Ok(())
        });
        match result {
            Ok(job) => Ok(AddedPhoto {
                photo_id,
                job,
                duplicate: false,
            }),
            Err(e) => {
                inner.cache.remove(job_id);
                Err(e)
            }
        }
    }
}
