//! Online applications (线上申请, seed 000): a customer applies on the unit's public page without
//! a login (kind, name, ID number or credit code, phone, address, capacity, wanted date, a photo
//! of the ID card or licence, and optionally the customer manager they choose), and gets a
//! tracking link at once. The counter checks it and accepts it on that one document (一证受理:
//! the job is made with channel `online`, the photo proves its checklist group, the groups still
//! missing are marked to be collected by a date) or declines it with a reason the applicant
//! reads. The job has the application's id, so the tracking link is also the job's progress link.

use super::{Env, audit, jobs, now_ms, public};
use crate::authz::Principal;
use crate::error::ServerError;
use crate::store::{ApplicationRow, AuditEntry};
use chrono::{DateTime, NaiveDate, Utc};
use field_core::job::{Application, Assignment, ChecklistItem, Customer, Photo};
use field_core::policy::Checked;
use field_core::validate::{self, Invalid};
use field_core::{Edit, EditContext, JobDoc, JobKind, NewJob, PhotoPurpose, Role};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Largest ID photo accepted, bytes.
pub const PHOTO_MAX_BYTES: usize = 10 << 20;
/// Largest ID photo accepted, pixels.
pub const PHOTO_MAX_PIXELS: u64 = 40_000_000;
/// Applications one phone number may file per day.
pub const PER_PHONE_PER_DAY: i64 = 3;
/// Longest reason for declining, characters.
pub const REASON_MAX: usize = 500;
/// Most applications a queue page lists.
pub const QUEUE_MAX: u32 = 500;

/// What the applicant fills in (the photo travels beside it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApplyInput {
    /// The kind of job (`lv_residential`, `lv_small_micro`, `lv_other`, `hv`, `residential_community`).
    pub kind: String,
    /// The customer's or the company's name.
    pub name: String,
    /// An 18-digit resident ID number or an 18-character unified social credit code.
    pub id_number: String,
    /// A mobile number or a landline with its area code.
    pub phone: String,
    /// Where the electricity is wanted.
    pub address: String,
    /// Capacity applied for, kVA.
    #[serde(default)]
    pub capacity_kva: Option<f64>,
    /// The wanted power-on date, `YYYY-MM-DD`.
    #[serde(default)]
    pub wanted_on: Option<String>,
    /// The work number (工号) of the customer manager the customer chooses, from the unit's list.
    #[serde(default)]
    pub manager: Option<String>,
}

/// An application as stored: the form as given (checked) and its photo's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationDetail {
    pub kind: JobKind,
    pub name: String,
    pub id_number: String,
    pub phone: String,
    pub address: String,
    pub capacity_kva: Option<f64>,
    pub wanted_on: Option<NaiveDate>,
    /// The chosen customer manager: user name, display name and work number.
    pub manager: Option<(String, String, String)>,
    pub photo: Photo,
}

/// An application with what the counter and the applicant read of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplicationView {
    pub id: String,
    /// The number printed on the receipt (申请编号).
    pub number: String,
    pub unit: String,
    pub state: String,
    pub filed_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    pub job_id: Option<String>,
    pub detail: ApplicationDetail,
}

impl ApplicationView {
    /// Still pending after the working day it was filed (seed 000: started the same working
    /// day): filed on a working day before `today`, or on a day off and `today` is past the
    /// next working day.
    pub fn is_late(&self, calendar: &field_core::Calendar, today: NaiveDate) -> bool {
        let filed = field_core::job::local_date(self.filed_at);
        self.state == "pending" && calendar.working_day_on_or_after(filed) < today
    }
}

/// What filing returned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Filed {
    /// The application's id.
    pub id: String,
    /// The number printed on the receipt.
    pub number: String,
    /// The tracking link's token: `/p/{token}`.
    pub token: String,
    /// It was filed before (same ID number, address and phone, still open): this is that one.
    pub duplicate: bool,
}

/// The receipt number of an application filed at `at`.
pub fn number(id: &str, at: DateTime<Utc>) -> String {
    format!(
        "SQ{}{}",
        field_core::job::local_date(at).format("%Y%m%d"),
        id.get(..6).unwrap_or(id).to_uppercase()
    )
}

fn invalid(i: Invalid) -> ServerError {
    ServerError::bad("invalid_value", i.zh, i.en)
}

fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// The key of "the same application": unit, document number and address (spacing and case
/// ignored).
fn same_key(unit: &str, id_number: &str, address: &str) -> String {
    let address: String = address
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect();
    digest(&[unit, &id_number.trim().to_ascii_uppercase(), &address])
}

fn phone_key(phone: &str) -> String {
    digest(&["phone", &validate::normalized_phone(phone)])
}

/// Checks the form as the phone checks the same fields (limits and messages), plus what an
/// anonymous form needs: every required field, a real phone number and document number.
fn check(input: &ApplyInput, today: NaiveDate) -> Result<ApplicationDetail, ServerError> {
    let kind = JobKind::parse(input.kind.trim()).ok_or_else(|| {
        ServerError::bad(
            "invalid_value",
            "请选择业务类型",
            "choose the kind of application",
        )
    })?;
    let required = |field: &str, value: &str, zh: &str, en: &str| {
        if value.trim().is_empty() {
            Err(invalid(Invalid::new(field, zh, en)))
        } else {
            Ok(value.trim().to_string())
        }
    };
    let name = required(
        "customer.name",
        &input.name,
        "请填写客户或单位名称",
        "enter the customer's or company's name",
    )?;
    let id_number = required(
        "customer.id_number",
        &input.id_number,
        "请填写证件号码",
        "enter the document number",
    )?
    .to_ascii_uppercase();
    let phone = required(
        "customer.contact_phone",
        &input.phone,
        "请填写联系电话",
        "enter a phone number",
    )?;
    let address = required(
        "customer.address",
        &input.address,
        "请填写用电地址",
        "enter the address",
    )?;
    validate::check_phone_number("customer.contact_phone", &phone).map_err(invalid)?;
    validate::check_id_document("customer.id_number", &id_number).map_err(invalid)?;
    let wanted_on = match input.wanted_on.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(d) => {
            let day = NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                ServerError::bad(
                    "invalid_value",
                    "期望送电日期格式应为 YYYY-MM-DD",
                    "the wanted date must be YYYY-MM-DD",
                )
            })?;
            if day < today || day > today + chrono::Duration::days(3 * 366) {
                return Err(ServerError::bad(
                    "invalid_value",
                    "期望送电日期应在今天至三年内",
                    "the wanted date must be between today and three years from now",
                ));
            }
            Some(day)
        }
    };
    // The same limits as the phone's: the fields as they will stand in the job.
    let customer = customer_of(&name, &id_number, &phone, &address);
    let patch = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
    validate::check_patch(
        "customer",
        &patch(serde_json::to_value(&customer).unwrap_or_default()),
    )
    .map_err(invalid)?;
    let application = Application {
        capacity_kva: input.capacity_kva,
        ..Default::default()
    };
    validate::check_patch(
        "application",
        &patch(serde_json::to_value(&application).unwrap_or_default()),
    )
    .map_err(invalid)?;
    Ok(ApplicationDetail {
        kind,
        name,
        id_number,
        phone,
        address,
        capacity_kva: input.capacity_kva,
        wanted_on,
        manager: None,
        photo: Photo::default(),
    })
}

fn customer_of(name: &str, id_number: &str, phone: &str, address: &str) -> Customer {
    Customer {
        name: Some(name.to_string()),
        id_number: Some(id_number.to_string()),
        contact_name: Some(name.to_string()),
        contact_phone: Some(phone.to_string()),
        address: Some(address.to_string()),
        account_no: None,
    }
}

/// The chosen manager by work number: an active customer manager of `unit`.
fn chosen_manager(
    env: &Env,
    unit: &str,
    work_number: &str,
) -> Result<(String, String, String), ServerError> {
    let list = public::count_managers(env, unit)?.unwrap_or_default();
    list.into_iter()
        .find(|m| m.work_number == work_number.trim())
        .map(|m| (m.username, m.name, m.work_number))
        .ok_or_else(|| {
            ServerError::bad(
                "invalid_value",
                "所选客户经理不在本单位的公示名单中",
                "the chosen customer manager is not on the unit's list",
            )
        })
}

/// Files an application from `client` (its address, for the rate limit). The photo is checked
/// (a JPEG or PNG by its bytes, bounded in bytes and pixels) and stored with its display copy
/// and thumbnail before the application is.
pub async fn file(
    env: &std::sync::Arc<Env>,
    unit: String,
    input: ApplyInput,
    photo: Vec<u8>,
    client: String,
) -> Result<Filed, ServerError> {
    // A unit that does not exist is not found, whatever was filled in.
    let u = unit.clone();
    let known = env
        .blocking(move |env| Ok(env.store.read()?.unit_name(&u)?.is_some()))
        .await?;
    if !known {
        return Err(ServerError::NotFound);
    }
    env.auth.apply_limiter.check(&client)?;
    let now = Utc::now();
    let today = field_core::job::local_date(now);
    let mut detail = check(&input, today)?;
    let u = unit.clone();
    let manager = input.manager.clone().filter(|m| !m.trim().is_empty());
    let chosen = env
        .blocking(move |env| manager.map(|m| chosen_manager(env, &u, &m)).transpose())
        .await?;
    detail.manager = chosen;
    let (same, by_phone) = (
        same_key(&unit, &detail.id_number, &detail.address),
        phone_key(&detail.phone),
    );
    // The same person and place, still open: that application, if the phone matches too.
    let (s, p) = (same.clone(), by_phone.clone());
    let prior = env
        .blocking(move |env| {
            let tx = env.store.read()?;
            let open = tx.open_application(&s)?;
            let filed_today = tx.applications_by_phone(&p, now_ms() - 86_400_000)?;
            Ok((open, filed_today))
        })
        .await?;
    if let Some(open) = prior.0 {
        return duplicate(env, open, &by_phone).await;
    }
    if prior.1 >= PER_PHONE_PER_DAY {
        return Err(ServerError::TooManyRequests);
    }
    let (row, blobs) = {
        let (unit, detail) = (unit.clone(), detail.clone());
        tokio::task::spawn_blocking(move || build(&unit, detail, &photo, now))
            .await
            .map_err(|e| ServerError::Internal(e.to_string()))??
    };
    for (sha, bytes) in &blobs {
        env.blobs.put_bytes(&env.tmp_dir, sha, bytes).await?;
    }
    let id = row.id.clone();
    // The files' records, the application and its audit entry: one write.
    let files: Vec<(String, i64)> = blobs
        .iter()
        .map(|(sha, bytes)| (sha.clone(), bytes.len() as i64))
        .collect();
    let inserted = env
        .blocking(move |env| {
            let mut tx = env.store.write()?;
            for (sha, len) in &files {
                tx.insert_blob(sha, *len, now_ms())?;
            }
            tx.insert_application(&row)?;
            let shas: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
            tx.insert_application_blobs(&row.id, &shas)?;
            audit::append(
                &mut *tx,
                AuditEntry {
                    kind: "application_filed".into(),
                    job_id: Some(row.id.clone()),
                    detail: serde_json::json!({ "unit": row.unit }),
                    ..Default::default()
                },
            )?;
            tx.commit()?;
            Ok(())
        })
        .await;
    if let Err(e) = inserted {
        // Another filing of the same person and place came first.
        let open = env
            .blocking(move |env| Ok(env.store.read()?.open_application(&same)?))
            .await?;
        return match open {
            Some(open) => duplicate(env, open, &by_phone).await,
            None => Err(e),
        };
    }
    let token = public_token(env, &id).await?;
    Ok(Filed {
        number: number(&id, now),
        id,
        token,
        duplicate: false,
    })
}

/// An application ready to store from a checked form: a new id, its photo checked (a JPEG or
/// PNG by its bytes, bounded in bytes and pixels) and copied (display copy, thumbnail), and the
/// row with its keys. CPU-bound: call it from a blocking thread.
pub(crate) fn build(
    unit: &str,
    mut detail: ApplicationDetail,
    photo: &[u8],
    now: DateTime<Utc>,
) -> Result<(ApplicationRow, Blobs), ServerError> {
    if photo.is_empty() {
        return Err(ServerError::bad(
            "invalid_value",
            "请上传身份证或营业执照照片",
            "attach a photo of the ID card or business licence",
        ));
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (record, blobs) = ingest(photo, &number(&id, now), detail.kind, now)?;
    detail.photo = record;
    let row = ApplicationRow {
        unit: unit.to_string(),
        state: "pending".into(),
        same_key: same_key(unit, &detail.id_number, &detail.address),
        phone_key: phone_key(&detail.phone),
        detail: serde_json::to_string(&detail).map_err(|e| ServerError::Internal(e.to_string()))?,
        created_at: now.timestamp_millis(),
        id,
        ..Default::default()
    };
    Ok((row, blobs))
}

/// A demo application of `unit` filed at `now` (the form checked like any other), with the
/// customer manager `manager` (user name, name, work number) chosen.
pub(crate) fn demo(
    unit: &str,
    input: &ApplyInput,
    manager: Option<(String, String, String)>,
    photo: &[u8],
    now: DateTime<Utc>,
) -> Result<(ApplicationRow, Blobs), ServerError> {
    let mut detail = check(input, field_core::job::local_date(now))?;
    detail.manager = manager;
    build(unit, detail, photo, now)
}

async fn public_token(env: &std::sync::Arc<Env>, id: &str) -> Result<String, ServerError> {
    let id = id.to_string();
    env.blocking(move |env| public::token(env, &id)).await
}

/// The answer to filing again what is open: its tracking link when the phone matches, else
/// only that it exists (a stranger who knows someone's ID number and address learns no link).
async fn duplicate(
    env: &std::sync::Arc<Env>,
    open: ApplicationRow,
    phone_key: &str,
) -> Result<Filed, ServerError> {
    if open.phone_key != phone_key {
        return Err(ServerError::conflict(
            "application_exists",
            "该证件号和地址已有办理中的申请：请使用申请时获得的查询链接，或联系营业厅",
            "an application for this document number and address is already open: use the \
             tracking link it gave, or contact the service hall",
        ));
    }
    let token = public_token(env, &open.id).await?;
    let at = DateTime::from_timestamp_millis(open.created_at).unwrap_or_default();
    Ok(Filed {
        number: number(&open.id, at),
        id: open.id,
        token,
        duplicate: true,
    })
}

/// The files of a photo: `(sha256, bytes)`.
pub(crate) type Blobs = Vec<(String, Vec<u8>)>;

/// Checks and copies the photo: the record and the three blobs (original, display, thumbnail).
fn ingest(
    bytes: &[u8],
    number: &str,
    kind: JobKind,
    now: DateTime<Utc>,
) -> Result<(Photo, Blobs), ServerError> {
    use field_core::photo::{IngestOptions, PhotoContext, PhotoLimits};
    let opts = IngestOptions {
        limits: PhotoLimits {
            max_bytes: PHOTO_MAX_BYTES,
            max_pixels: PHOTO_MAX_PIXELS,
            max_edge: 12_000,
        },
        ..Default::default()
    };
    let ctx = PhotoContext {
        job_no: number.to_string(),
        purpose: PhotoPurpose::DocumentProof,
        caption: Some(format!("线上申请证件照（{}）", kind.zh())),
        author: "applicant".into(),
        author_name: Some("申请人（线上）".into()),
        address: None,
        gps: None,
        device_time: now,
        checklist_group: None,
    };
    let p = field_core::photo::ingest(bytes, &ctx, &opts)
        .map_err(|e| ServerError::bad("invalid_photo", e.to_string(), e.to_string()))?;
    let blobs = vec![
        (p.original_sha256.clone(), bytes.to_vec()),
        (p.display.sha256.clone(), p.display.bytes),
        (p.thumbnail.sha256.clone(), p.thumbnail.bytes),
    ];
    let mut record = p.record;
    // Recorded in the job by whoever accepts it; who uploaded it is the caption's business.
    record.author = None;
    Ok((record, blobs))
}

fn view(row: ApplicationRow) -> Result<ApplicationView, ServerError> {
    let detail: ApplicationDetail = serde_json::from_str(&row.detail)
        .map_err(|e| ServerError::Internal(format!("application {}: {e}", row.id)))?;
    let filed_at = DateTime::from_timestamp_millis(row.created_at).unwrap_or_default();
    Ok(ApplicationView {
        number: number(&row.id, filed_at),
        id: row.id,
        unit: row.unit,
        state: row.state,
        filed_at,
        decided_at: row.decided_at.and_then(DateTime::from_timestamp_millis),
        reason: row.reason,
        job_id: row.job_id,
        detail,
    })
}

/// The application a tracking token opens, when no job was made from it (yet).
pub fn by_token_id(env: &Env, id: &str) -> Result<Option<ApplicationView>, ServerError> {
    env.store.read()?.application(id)?.map(view).transpose()
}

/// Whether `who` works the counter of `unit`: may assign managers there (the write policy's
/// `assignment` right), in that unit or as an admin.
fn counter(env: &Env, who: &Principal, unit: &str) -> Result<(), ServerError> {
    let here = who.role == Role::Admin || who.unit == unit;
    if here && super::assignment::may_assign(env, who) {
        return Ok(());
    }
    Err(ServerError::forbidden(
        format!("{}不能受理线上申请", who.role.zh()),
        format!("a {} may not accept online applications", who.role.en()),
    ))
}

/// Whether `who` may see online applications at all (the counter's queue).
pub fn may_see_queue(env: &Env, who: &Principal) -> bool {
    counter(env, who, &who.unit).is_ok()
}

/// The counter's queue: the unit's applications in `state` (pending by default), oldest first.
pub fn queue(
    env: &Env,
    who: &Principal,
    state: Option<&str>,
) -> Result<Vec<ApplicationView>, ServerError> {
    counter(env, who, &who.unit)?;
    let state = match state {
        None | Some("") => Some("pending"),
        Some("all") => None,
        Some(s @ ("pending" | "accepted" | "declined")) => Some(s),
        Some(_) => {
            return Err(ServerError::bad(
                "invalid_value",
                "未知的申请状态",
                "unknown application state",
            ));
        }
    };
    let rows = env
        .store
        .read()?
        .applications_of(&who.unit, state, QUEUE_MAX)?;
    rows.into_iter().map(view).collect()
}

/// One application, for the counter of its unit (not found for anyone else).
pub fn get(env: &Env, who: &Principal, id: &str) -> Result<ApplicationView, ServerError> {
    let row = env
        .store
        .read()?
        .application(id)?
        .ok_or(ServerError::NotFound)?;
    if counter(env, who, &row.unit).is_err() {
        return Err(ServerError::NotFound);
    }
    view(row)
}

/// The blob of the application's photo in `role` (`thumbnail`, `display`, `original`), for the
/// counter of its unit: `(sha256, media type)`.
pub fn photo(
    env: &Env,
    who: &Principal,
    id: &str,
    role: &str,
) -> Result<(String, String), ServerError> {
    let a = get(env, who, id)?;
    let p = &a.detail.photo;
    let sha = match role {
        "thumbnail" => p.thumbnail_sha256.clone(),
        "display" => p.display_sha256.clone(),
        "original" => p.original_sha256.clone(),
        _ => None,
    }
    .ok_or(ServerError::NotFound)?;
    Ok((sha, p.declared_mime(role).to_string()))
}

/// What the counter decides when accepting.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AcceptInput {
    /// The customer manager's user name, when the customer chose none (ignored when they did).
    #[serde(default)]
    pub customer_manager: String,
    /// The day the missing documents are to be collected by (`YYYY-MM-DD`); by default five
    /// working days after today.
    #[serde(default)]
    pub collect_by: Option<String>,
}

/// The checklist group the application's one document proves: the owner's ID for a household,
/// else the proof of the applicant.
fn proof_group(rules: &field_core::RuleSet, kind: JobKind) -> Option<(String, Option<String>)> {
    let groups = rules.document_groups(kind);
    ["owner_id", "subject_proof", "legal_rep_id"]
        .iter()
        .find_map(|k| groups.iter().find(|g| g.key == *k))
        .map(|g| (g.key.clone(), g.options.first().map(|o| o.key.clone())))
}

/// Accepts a pending application (一证受理): makes its job, assigns the chosen (or the
/// counter's) customer manager, and marks the application accepted, all in one transaction.
/// Returns the job's id.
pub fn accept(
    env: &Env,
    who: &Principal,
    id: &str,
    input: &AcceptInput,
) -> Result<String, ServerError> {
    let a = get(env, who, id)?;
    if a.state != "pending" {
        return Err(decided());
    }
    let now = Utc::now();
    let today = field_core::job::local_date(now);
    let calendar = env.calendar();
    let collect_by = match input.collect_by.as_deref().map(str::trim) {
        None | Some("") => calendar.add_working_days(today, 5),
        Some(d) => {
            let day = NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                ServerError::bad(
                    "invalid_value",
                    "补交资料日期格式应为 YYYY-MM-DD",
                    "the collect-by date must be YYYY-MM-DD",
                )
            })?;
            if day < today || day > today + chrono::Duration::days(366) {
                return Err(ServerError::bad(
                    "invalid_value",
                    "补交资料日期应在今天至一年内",
                    "the collect-by date must be between today and a year from now",
                ));
            }
            day
        }
    };
    let d = &a.detail;
    let (cm, chose) = match &d.manager {
        Some((username, ..)) => (username.clone(), true),
        None => (input.customer_manager.trim().to_string(), false),
    };
    let cm_name = if cm.is_empty() {
        None
    } else {
        Some(super::assignment::member(
            env,
            &cm,
            Role::CustomerManager,
            &a.unit,
        )?)
    };
    let rules = env.rules();
    let set = rules.in_force(&a.unit, today);
    let new = NewJob {
        id: Some(a.id.clone()),
        job_no: None,
        kind: d.kind,
        unit: a.unit.clone(),
        accepted_at: now,
        customer: customer_of(&d.name, &d.id_number, &d.phone, &d.address),
        application: Application {
            channel: Some("online".into()),
            capacity_kva: d.capacity_kva,
            wanted_on: d.wanted_on,
            ..Default::default()
        },
    };
    let ctx = EditContext {
        actor: who.username.clone(),
        device: super::session::WEB_DEVICE.into(),
        now,
    };
    let bad = |e: field_core::job::JobError| match e {
        field_core::job::JobError::Invalid(i) => invalid(i),
        other => ServerError::Internal(other.to_string()),
    };
    let mut doc = JobDoc::create(super::docs::server_actor(), &new, set, &ctx).map_err(bad)?;
    let mut edits = Vec::new();
    let proof = proof_group(set, d.kind);
    let mut photo = d.photo.clone();
    photo.checklist_group = proof.as_ref().map(|p| p.0.clone());
    edits.push(Edit::AddPhoto {
        id: format!("online-{}", a.id.get(..12).unwrap_or(&a.id)),
        photo,
    });
    let job = doc.job().map_err(bad)?;
    for req in set.required_documents(&job) {
        if !req.required {
            continue;
        }
        let item = if proof.as_ref().is_some_and(|p| p.0 == req.group.key) {
            ChecklistItem {
                doc_type: proof.as_ref().and_then(|p| p.1.clone()),
                collected: Some(true),
                collected_by: Some(who.username.clone()),
                collected_at: Some(now),
                note: Some("一证受理：线上申请上传的证件照".into()),
                ..Default::default()
            }
        } else {
            ChecklistItem {
                collected: Some(false),
                note: Some("一证受理：其余资料后补".into()),
                due_on: Some(collect_by),
                ..Default::default()
            }
        };
        edits.push(Edit::CheckDocument {
            group: req.group.key.clone(),
            item,
        });
    }
    if let Some(name) = cm_name {
        edits.push(Edit::UpdateAssignment(Assignment {
            customer_manager: Some(cm.clone()),
            customer_manager_name: Some(name),
            customer_chose_manager: Some(chose),
            assigned_at: Some(now),
            ..Default::default()
        }));
    }
    jobs::apply_edits(&mut doc, &edits, &ctx)?;
    let planned = {
        let tx = env.store.read()?;
        jobs::plan(
            &*tx,
            env,
            jobs::Origin::OnBehalf(who),
            &a.id,
            doc,
            jobs::Before::default(),
            &Checked::default(),
        )?
    };
    let mut tx = env.store.write_beside()?;
    if !tx.decide_application(
        &a.id,
        "accepted",
        &who.username,
        now.timestamp_millis(),
        None,
        Some(&a.id),
    )? {
        return Err(decided());
    }
    if !tx.write_job(&planned.write)? {
        return Err(ServerError::conflict(
            "job_exists",
            format!("工单 {} 已存在", a.id),
            format!("job {} already exists", a.id),
        ));
    }
    let mut entry = audit::by(who, "application_accepted");
    entry.job_id = Some(a.id.clone());
    entry.detail = serde_json::json!({ "customer_manager": cm, "customer_chose": chose });
    audit::append(&mut *tx, entry)?;
    tx.commit()?;
    planned.check_in(env);
    Ok(a.id)
}

fn decided() -> ServerError {
    ServerError::conflict(
        "application_decided",
        "该申请已处理",
        "this application was already decided",
    )
}

/// Declines a pending application with a reason the applicant reads.
pub fn decline(env: &Env, who: &Principal, id: &str, reason: &str) -> Result<(), ServerError> {
    let a = get(env, who, id)?;
    let reason = reason.trim();
    if reason.is_empty()
        || reason.chars().count() > REASON_MAX
        || reason
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ServerError::bad(
            "invalid_value",
            format!("请填写不予受理的原因（1–{REASON_MAX} 字）"),
            format!("give the reason for declining (1–{REASON_MAX} characters)"),
        ));
    }
    let mut tx = env.store.write()?;
    if !tx.decide_application(
        &a.id,
        "declined",
        &who.username,
        now_ms(),
        Some(reason),
        None,
    )? {
        return Err(decided());
    }
    let mut entry = audit::by(who, "application_declined");
    entry.job_id = Some(a.id.clone());
    audit::append(&mut *tx, entry)?;
    tx.commit()?;
    Ok(())
}

/// Applications of `units` (every unit's for `None`) still pending from before today's start
/// of work: not started the same working day (seed 000), for the dispatch board.
pub fn late(env: &Env, units: Option<&[String]>) -> Result<Vec<ApplicationView>, ServerError> {
    let now = Utc::now();
    let today = field_core::job::local_date(now);
    let start = today
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_local_timezone(field_core::job::china_offset())
        .single()
        .map(|t| t.timestamp_millis())
        .unwrap_or(0);
    let rows = env.store.read()?.pending_before(units, start, QUEUE_MAX)?;
    let calendar = env.calendar();
    rows.into_iter()
        .map(view)
        .filter(|a| a.as_ref().map_or(true, |a| a.is_late(&calendar, today)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_application_is_the_same_whatever_the_spacing_and_case() {
        assert_eq!(
            same_key("zx", "11010519491231002x", "邾县 城关镇 1 号"),
            same_key("zx", "11010519491231002X", "邾县城关镇1号"),
        );
        assert_ne!(
            same_key("zx", "11010519491231002X", "邾县城关镇1号"),
            same_key("zx", "11010519491231002X", "邾县城关镇2号"),
        );
        assert_eq!(phone_key("138 0013 8000"), phone_key("13800138000"));
    }

    #[test]
    fn the_form_is_checked_like_the_phone_checks_it() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let good = ApplyInput {
            kind: "lv_residential".into(),
            name: "张三".into(),
            id_number: "11010519491231002X".into(),
            phone: "13800138000".into(),
            address: "邾县城关镇人民路 1 号".into(),
            capacity_kva: Some(8.0),
            wanted_on: Some("2026-12-20".into()),
            manager: None,
        };
        assert!(check(&good, today).is_ok());
        let bad = |f: &dyn Fn(&mut ApplyInput)| {
            let mut i = good.clone();
            f(&mut i);
            check(&i, today).unwrap_err()
        };
        assert!(matches!(
            bad(&|i| i.phone = "12345".into()),
            ServerError::BadRequest { .. }
        ));
        bad(&|i| i.id_number = "110105194912310021".into());
        bad(&|i| i.kind = "nuclear".into());
        bad(&|i| i.capacity_kva = Some(-1.0));
        bad(&|i| i.wanted_on = Some("2026-12-01".into()));
        bad(&|i| i.name = "x".repeat(201));
        bad(&|i| i.address = " ".into());
    }
}
