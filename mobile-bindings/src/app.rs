//! `FieldApp`: the one object an app holds. It forwards to field-core's `Store` and sync client.
//! Calls that may take long (login, sync, photo ingest, PDF) are `async` (Kotlin `suspend`, Swift
//! `async`) and run off the caller's thread.

use crate::edit::JobEdit;
use crate::error::FieldlineError;
use crate::records::*;
use crate::types::{Date, Timestamp};
use crate::views::*;
use field_core::Store;
use field_core::codes::JobKind;
use field_core::contract::{GeoFix, SignRequest};
use field_core::job::{Application, Customer, NewJob};
use field_core::store::{JobFilter, PhotoInput, SortOrder};
use std::path::PathBuf;
use std::sync::Arc;

/// Receives sync progress; implemented in Kotlin, Swift or Python.
#[uniffi::export(with_foreign)]
pub trait SyncListener: Send + Sync {
    fn on_progress(&self, progress: SyncProgress);
}

/// Supplies the secret this phone's data is encrypted with; the app implements it over the
/// Android Keystore or the iOS Keychain (see `mobile-bindings/README.md`).
#[uniffi::export(with_foreign)]
pub trait StoreKeyProvider: Send + Sync {
    /// The secret: 16 to 1,024 bytes (32 random bytes from [`new_store_secret`] recommended),
    /// created on the first call and the same bytes on every later one. Throw (any error) when
    /// it cannot be had, e.g. while the device is locked: nothing is opened or changed then.
    fn store_secret(&self) -> Result<Vec<u8>, FieldlineError>;
}

/// 32 random bytes from the operating system's generator: a new secret for
/// [`StoreKeyProvider::store_secret`] to keep.
#[uniffi::export]
pub fn new_store_secret() -> Vec<u8> {
    field_core::StoreKey::generate().secret().to_vec()
}

/// A new job (受理).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct NewJobInput {
    pub kind: JobKind,
    pub unit: String,
    pub accepted_at: Timestamp,
    pub customer: Customer,
    #[uniffi(default)]
    pub application: Option<crate::sections::ApplicationPatch>,
    /// Chosen by the app (a UUID) so a retried call cannot create twice; generated when absent.
    #[uniffi(default)]
    pub id: Option<String>,
    #[uniffi(default)]
    pub job_no: Option<String>,
}

/// The app's handle on this phone's data. Thread-safe; share one per data directory.
#[derive(uniffi::Object)]
pub struct FieldApp {
    store: Arc<Store>,
    data_dir: PathBuf,
}

impl FieldApp {
    fn user(&self) -> Result<String, FieldlineError> {
        self.store
            .sync_setting("username")?
            .ok_or_else(|| FieldlineError::LoginRequired {
                zh: "请先登录".into(),
                en: "please log in first".into(),
            })
    }
}

fn blocking_error(e: tokio::task::JoinError) -> FieldlineError {
    FieldlineError::Storage {
        zh: format!("后台任务失败：{e}"),
        en: format!("background task failed: {e}"),
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl FieldApp {
    /// Opens (creating or upgrading) the data in `data_dir`, encrypted with the secret `keys`
    /// supplies (data an earlier version left unencrypted is encrypted now). A wrong or missing
    /// secret is `FieldlineError::Key` and changes nothing.
    #[uniffi::constructor]
    pub fn open(
        data_dir: String,
        keys: Arc<dyn StoreKeyProvider>,
    ) -> Result<Arc<FieldApp>, FieldlineError> {
        let dir = PathBuf::from(&data_dir);
        std::fs::create_dir_all(&dir).map_err(|e| FieldlineError::Storage {
            zh: format!("无法创建数据目录 {data_dir}：{e}"),
            en: format!("cannot create the data directory {data_dir}: {e}"),
        })?;
        let key = field_core::StoreKey::new(&keys.store_secret()?)?;
        let store = Store::open(dir.join("fieldline.db"), &key)?;
        Ok(Arc::new(FieldApp {
            store: Arc::new(store),
            data_dir: dir,
        }))
    }

    pub fn data_dir(&self) -> String {
        self.data_dir.display().to_string()
    }

    pub fn device(&self) -> DeviceView {
        let d = self.store.device();
        DeviceView {
            device_id: d.device_id,
            public_key: d.public_key,
        }
    }

    /// Logs in to `server` (e.g. `https://fieldline.example.cn`) and remembers the session.
    pub async fn login(
        &self,
        server: String,
        username: String,
        password: String,
    ) -> Result<UserView, FieldlineError> {
        let user = field_core::sync::login(&self.store, &server, &username, &password).await?;
        Ok(UserView {
            username: user.username,
            display_name: user.display_name,
            role: user.role,
            unit: user.unit,
            server: server.trim_end_matches('/').to_string(),
        })
    }

    /// The user last logged in on this phone, if any.
    /// The grid cells of the signed-in user's unit, as last delivered by sync (empty before).
    pub fn grid_cells(&self) -> Result<Vec<GridCellView>, FieldlineError> {
        let unit = self.store.sync_setting("unit")?.unwrap_or_default();
        Ok(self
            .store
            .grid_cells(&unit)
            .map(|g| {
                g.cells
                    .into_iter()
                    .map(|c| GridCellView {
                        id: c.id,
                        name: c.name,
                        grade: c.grade,
                        note: c.note,
                        upgrade_project: c.upgrade_project,
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    pub fn current_user(&self) -> Result<Option<UserView>, FieldlineError> {
        let get = |k: &str| self.store.sync_setting(k);
        let Some(username) = get("username")? else {
            return Ok(None);
        };
        Ok(Some(UserView {
            display_name: username.clone(),
            username,
            role: get("role")?.unwrap_or_default(),
            unit: get("unit")?.unwrap_or_default(),
            server: get("server")?.unwrap_or_default(),
        }))
    }

    /// Accepts a new job (受理) as the current user.
    pub fn create_job(&self, job: NewJobInput) -> Result<JobView, FieldlineError> {
        let new = NewJob {
            id: job.id,
            job_no: job.job_no,
            kind: job.kind,
            unit: job.unit,
            accepted_at: job.accepted_at,
            customer: job.customer,
            application: job.application.map(Application::from).unwrap_or_default(),
        };
        Ok((&self.store.create_job(&self.user()?, &new)?).into())
    }

    pub fn list_jobs(&self, query: JobQuery) -> Result<JobListPage, FieldlineError> {
        let filter = JobFilter {
            kind: query.kind,
            status: query.status,
            unit: None,
            customer_manager: query.customer_manager,
            project_manager: query.project_manager,
            sla_state: query.limit_state.map(Into::into),
            waiting: query.waiting,
            text: query.text,
            order: match query.order.unwrap_or_default() {
                JobOrder::RecentlyUpdated => SortOrder::RecentlyUpdated,
                JobOrder::NextDue => SortOrder::NextDue,
            },
            limit: query.limit,
            cursor: query.cursor,
        };
        Ok(self.store.list_jobs(&filter)?.into())
    }

    pub fn get_job(&self, job_id: String) -> Result<JobView, FieldlineError> {
        Ok((&self.store.job(&job_id)?).into())
    }

    /// Applies one edit as the current user; durable when it returns.
    pub fn edit(&self, job_id: String, edit: JobEdit) -> Result<JobView, FieldlineError> {
        Ok((&self.store.edit(&job_id, &self.user()?, &edit.into())?).into())
    }

    /// What is open on this phone's jobs up to `until` (late first): the signed-in user's own
    /// items (`mine_only`), else everyone's.
    pub fn agenda(
        &self,
        until: Date,
        mine_only: bool,
    ) -> Result<Vec<AgendaEntryView>, FieldlineError> {
        let me = if mine_only { Some(self.user()?) } else { None };
        Ok(self
            .store
            .agenda(me.as_deref(), until)?
            .into_iter()
            .map(|e| AgendaEntryView {
                job_id: e.job_id,
                job_no: e.job_no,
                customer_name: e.customer_name,
                item_id: e.item_id,
                kind: e.kind.as_str().to_string(),
                kind_zh: e.kind.zh().to_string(),
                owner: e.owner,
                due_on: e.due_on,
                title: e.title,
                state: e.state.as_str().to_string(),
                state_zh: e.state.zh().to_string(),
            })
            .collect())
    }

    /// The typical designs (典型设计) that fit a job, from its unit's catalogue in force.
    pub fn typical_designs(&self, job_id: String) -> Result<TypicalDesignChoice, FieldlineError> {
        let c = self.store.typical_designs(&job_id)?;
        Ok(TypicalDesignChoice {
            catalogue: c.catalogue,
            catalogue_version: c.catalogue_version,
            designs: c
                .designs
                .into_iter()
                .map(|d| TypicalDesignOption {
                    id: d.id,
                    title_zh: d.title.zh,
                    title_en: d.title.en,
                    scope_zh: d.scope.zh,
                    capacity_min_kva: d.capacity_min_kva,
                    capacity_max_kva: d.capacity_max_kva,
                    cost_low_yuan: d.cost_low_yuan,
                    cost_high_yuan: d.cost_high_yuan,
                })
                .collect(),
        })
    }

    /// Records the typical design `design_id` of the catalogue in force on a job, with its cost
    /// range.
    pub fn pick_typical_design(
        &self,
        job_id: String,
        design_id: String,
    ) -> Result<JobView, FieldlineError> {
        Ok((&self
            .store
            .pick_typical_design(&job_id, &self.user()?, &design_id)?)
            .into())
    }

    /// The verdicts on the design and construction firms a job names, against its unit's
    /// register of firms (资质登记) as last delivered by sync.
    pub fn firm_checks(&self, job_id: String) -> Result<Vec<FirmCheckView>, FieldlineError> {
        Ok(self
            .store
            .firm_checks(&job_id)?
            .into_iter()
            .map(|c| FirmCheckView {
                role: c.role,
                firm_id: c.firm_id,
                firm_name: c.firm_name,
                ok: c.ok,
                reasons_zh: c.reasons.iter().map(|r| r.zh.clone()).collect(),
                reasons_en: c.reasons.iter().map(|r| r.en.clone()).collect(),
            })
            .collect())
    }

    /// Rule verdicts (direct install, zero investment, …) and the documents to collect.
    pub fn rules(&self, job_id: String) -> Result<JobRules, FieldlineError> {
        let v = self.store.verdicts(&job_id)?;
        let verdict = |rule: &str, v: &field_core::Verdict| RuleVerdict {
            rule: rule.to_string(),
            outcome: serde_json::to_value(v.outcome)
                .ok()
                .and_then(|o| o.as_str().map(str::to_string))
                .unwrap_or_default(),
            reasons_zh: v.reasons.iter().map(|r| r.zh.clone()).collect(),
            reasons_en: v.reasons.iter().map(|r| r.en.clone()).collect(),
        };
        Ok(JobRules {
            verdicts: vec![
                verdict("direct_install", &v.direct_install),
                verdict("zero_investment", &v.zero_investment),
                verdict("approval_exempt", &v.approval_exempt),
                verdict("onsite_plan_reply", &v.onsite_plan_reply),
                verdict("inspections_required", &v.inspections_required),
            ],
            documents: v
                .required_documents
                .iter()
                .map(|g| DocumentRequirement {
                    group: g.group.key.clone(),
                    label_zh: g.group.label.zh.clone(),
                    label_en: g.group.label.en.clone(),
                    required: g.required,
                    collected: g.collected,
                })
                .collect(),
            service_steps_zh: v.service_steps.iter().map(|s| s.zh.clone()).collect(),
        })
    }

    /// The job's time-limit clocks as of `today`.
    pub fn time_limits(
        &self,
        job_id: String,
        today: Date,
    ) -> Result<Vec<LimitClock>, FieldlineError> {
        let limits = self.store.time_limits(&job_id, today)?;
        Ok(limits
            .clocks
            .iter()
            .map(|c| LimitClock {
                stage: serde_json::to_value(c.stage)
                    .ok()
                    .and_then(|s| s.as_str().map(str::to_string))
                    .unwrap_or_default(),
                stage_zh: c.stage.zh().to_string(),
                limit_days: c.limit_days,
                started_on: c.started_on,
                ended_on: c.ended_on,
                due_on: c.due_on,
                used_days: c.used_days,
                paused_days: c.paused_days,
                paused_now: c.paused_now,
                state: c.state.into(),
                provisional: c.provisional,
            })
            .collect())
    }

    /// Moves the list's due dates and time-limit states to today (China time), once per day:
    /// call it when the app opens and when it comes back to the foreground; a second call the
    /// same day returns at once with `None`. Otherwise the number of jobs whose state changed.
    /// Runs in batches on a background thread; edits and syncs go on meanwhile.
    pub async fn refresh_clocks(&self) -> Result<Option<u32>, FieldlineError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let today = field_core::job::local_date(chrono::Utc::now());
            Ok(store
                .refresh_clocks_if_new_day(today)?
                .map(|n| n.min(u32::MAX as usize) as u32))
        })
        .await
        .map_err(blocking_error)?
    }

    /// Takes a camera JPEG/PNG into a job (display copy, thumbnail, watermark, upload queue).
    pub async fn add_photo(
        &self,
        job_id: String,
        bytes: Vec<u8>,
        capture: PhotoCapture,
    ) -> Result<AddedPhoto, FieldlineError> {
        let user = self.user()?;
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let input = PhotoInput {
                purpose: capture.purpose,
                caption: capture.caption,
                gps: capture.location.map(|l| field_core::photo::GeoPoint {
                    latitude: l.latitude,
                    longitude: l.longitude,
                    accuracy_m: l.accuracy_m,
                }),
                checklist_group: capture.checklist_group,
                author_name: capture.author_name,
            };
            let added = store.add_photo(&job_id, &user, &bytes, &input, &Default::default())?;
            Ok(AddedPhoto {
                photo_id: added.photo_id,
                duplicate: added.duplicate,
                job: (&added.job).into(),
            })
        })
        .await
        .map_err(blocking_error)?
    }

    /// Photos waiting to upload.
    /// The bytes of a photo file this phone holds (an original, display copy or thumbnail, by
    /// the SHA-256 in its `PhotoView`), decrypted, for showing it: the files themselves are
    /// encrypted.
    pub fn photo_bytes(&self, sha256: String) -> Result<Vec<u8>, FieldlineError> {
        Ok(self.store.blob(&sha256)?)
    }

    pub fn upload_queue(&self) -> Result<UploadQueue, FieldlineError> {
        let s = self.store.upload_status()?;
        Ok(UploadQueue {
            photos_pending: s.photos_pending,
            blobs_pending: s.blobs_pending,
            bytes_pending: s.bytes_pending,
            blobs_uploaded: s.blobs_uploaded,
        })
    }

    /// The contract as it would read if signed now, and what it still lacks.
    pub fn contract_preview(
        &self,
        job_id: String,
        supplier: String,
        inputs: std::collections::HashMap<String, String>,
        amends: Option<String>,
    ) -> Result<ContractPreview, FieldlineError> {
        let mut inputs: std::collections::BTreeMap<_, _> = inputs.into_iter().collect();
        inputs.insert("supplier".into(), supplier);
        Ok(self
            .store
            .contract_preview(&job_id, None, &inputs, amends.as_deref())?
            .into())
    }

    /// Signs the supply contract with this phone's key (one durable action).
    pub fn sign_contract(
        &self,
        job_id: String,
        request: ContractRequest,
    ) -> Result<SignedContract, FieldlineError> {
        let mut inputs: std::collections::BTreeMap<_, _> = request.inputs.into_iter().collect();
        inputs.insert("supplier".into(), request.supplier);
        let req = SignRequest {
            contract_id: request
                .contract_id
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            template: None,
            inputs,
            amends: request.amends,
            customer_name: request.customer_name,
            customer: (&request.customer_signature).into(),
            manager: (&request.manager_signature).into(),
            photo_ids: request.photo_ids,
            gps: request.location.map(|l| GeoFix {
                latitude: l.latitude,
                longitude: l.longitude,
                accuracy_m: l.accuracy_m,
            }),
        };
        let signed = self.store.sign_contract(&job_id, &self.user()?, &req)?;
        Ok(SignedContract {
            contract_id: signed.contract_id,
            text_sha256: signed.text_sha256,
            manifest_sha256: signed.manifest_sha256,
            job: (&signed.job).into(),
        })
    }

    /// Is the contract exactly as signed (and countersigned)? Which part was altered?
    pub fn verify_contract(
        &self,
        job_id: String,
        contract_id: String,
    ) -> Result<ContractCheck, FieldlineError> {
        Ok(self.store.verify_contract(&job_id, &contract_id)?.into())
    }

    /// A signature drawn as SVG (vector) from its strokes.
    pub fn signature_svg(&self, signature: Signature) -> Result<String, FieldlineError> {
        let pad: field_core::contract::SignaturePad = (&signature).into();
        pad.validate("signature")?;
        Ok(pad.to_svg())
    }

    /// A signature drawn as PNG (`scale` × the canvas size).
    pub fn signature_png(
        &self,
        signature: Signature,
        scale: f64,
    ) -> Result<Vec<u8>, FieldlineError> {
        Ok(field_core::contract::signature_png(
            &(&signature).into(),
            scale,
        )?)
    }

    /// The contract as PDF (only in builds with the `pdf` feature).
    pub async fn contract_pdf(
        &self,
        job_id: String,
        contract_id: String,
    ) -> Result<Vec<u8>, FieldlineError> {
        let job = self.store.job(&job_id)?;
        tokio::task::spawn_blocking(move || crate::pdf::render(&job, &contract_id))
            .await
            .map_err(blocking_error)?
    }

    /// The written receipt (书面回执) for the customer as PDF: what was done, the next step's time
    /// limit as a date, whom to contact, and the QR code of their progress page once the server
    /// has given the job one (after its first sync). Only in builds with the `pdf` feature.
    pub async fn receipt_pdf(&self, job_id: String) -> Result<Vec<u8>, FieldlineError> {
        let job = self.store.job(&job_id)?;
        let now = chrono::Utc::now();
        let limits = self
            .store
            .time_limits(&job_id, field_core::job::local_date(now))?;
        let server = self.store.sync_setting("server")?;
        let url = match (&server, &job.progress_token) {
            (Some(s), Some(t)) => Some(format!("{}/p/{t}", s.trim_end_matches('/'))),
            _ => None,
        };
        let report =
            field_core::written_receipt::written_receipt(&job, &limits, url.as_deref(), now);
        tokio::task::spawn_blocking(move || crate::pdf::render_report(&report))
            .await
            .map_err(blocking_error)?
    }

    /// The customer's guide (供电业务报装指南) for `kind` as PDF, from the rule set and the fee
    /// schedule in force for this phone's unit (what the server's public guide shows), with the
    /// link to apply online as a QR code once the phone knows its server; printed or shared
    /// from the phone. Only in builds with the `pdf` feature.
    pub async fn guide_pdf(
        &self,
        kind: JobKind,
        unit_name: String,
        english: bool,
    ) -> Result<Vec<u8>, FieldlineError> {
        let guide = self.store.guide(kind)?;
        let apply_link = match (self.store.sync_setting("server")?, self.store.identity()) {
            (Some(server), Some(who)) => {
                format!("{}/public/{}/apply", server.trim_end_matches('/'), who.unit)
            }
            _ => String::new(),
        };
        let report = guide.report(&field_core::guide::GuideHeader {
            unit_name,
            apply_link,
            english,
            ..Default::default()
        });
        tokio::task::spawn_blocking(move || crate::pdf::render_report(&report))
            .await
            .map_err(blocking_error)?
    }

    /// Pushes every local change, pulls what the phone lacks, then uploads queued photos.
    /// Interrupting it loses nothing; run it again.
    pub async fn sync(
        &self,
        listener: Option<Arc<dyn SyncListener>>,
    ) -> Result<SyncResult, FieldlineError> {
        let progress = move |p: &field_core::sync::SyncProgress| {
            if let Some(l) = &listener {
                l.on_progress(p.into());
            }
        };
        let report = field_core::sync::sync(&self.store, &Default::default(), &progress).await?;
        Ok(report.into())
    }

    /// Jobs that need attention: refused by the server, or out of this user's scope while they
    /// held unsynced work. Nothing else is blocked by them.
    pub fn refused_jobs(&self) -> Result<Vec<RefusedJobView>, FieldlineError> {
        Ok(self
            .store
            .refused_jobs()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Writes the job's unsynced changes (automerge bytes) and a readable JSON summary into
    /// `dir` (e.g. a folder the user shares with the office).
    pub fn export_unsynced(
        &self,
        job_id: String,
        dir: String,
    ) -> Result<UnsyncedExportView, FieldlineError> {
        Ok(self
            .store
            .export_unsynced(&job_id, std::path::Path::new(&dir))?
            .into())
    }

    /// Gives up the job's unsynced changes, after exporting them into `dir`: the job returns to
    /// the server's version (or leaves the phone if the server never had it).
    pub fn discard_unsynced(
        &self,
        job_id: String,
        dir: String,
    ) -> Result<DiscardedView, FieldlineError> {
        let d = self
            .store
            .discard_unsynced(&job_id, std::path::Path::new(&dir))?;
        Ok(DiscardedView {
            export: d.export.into(),
            job_removed: d.job_removed,
        })
    }

    /// Pushes a refused job's changes again at the next sync (e.g. after the office reassigned
    /// it). Returns whether it was set aside.
    pub fn retry_refused(&self, job_id: String) -> Result<bool, FieldlineError> {
        Ok(self.store.retry_refused(&job_id)?)
    }

    /// Whether `date` is a working day (工作日) in the official calendar.
    pub fn is_working_day(&self, date: Date) -> bool {
        self.store.calendar().is_working_day(date)
    }

    /// The date `days` working days after `date`.
    pub fn add_working_days(&self, date: Date, days: u32) -> Date {
        self.store.calendar().add_working_days(date, days)
    }

    /// Working days after `from` up to and including `to`.
    pub fn working_days_between(&self, from: Date, to: Date) -> i64 {
        self.store.calendar().working_days_between(from, to)
    }
}
