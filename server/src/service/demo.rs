//! Demo data: a unit, a user of every role (with printed passwords) and jobs of every kind in
//! every state, created once per data directory through the same path as a phone's sync.

use super::{Env, auth, jobs, now_ms};
use crate::error::ServerError;
use crate::store::{DeviceRow, UserChange, WriteTx};
use automerge::ActorId;
use chrono::{DateTime, Duration, Utc};
use field_core::codes::{InspectionKind, PhotoPurpose, ReviewState};
use field_core::contract::{KeyPair, SignRequest, Signer, sample};
use field_core::job::{
    Application, Assignment, ChecklistItem, ConstructionLog, Customer, Finding, FindingTarget,
    Inspection, JobDoc, Metering, Milestone, ReturnVisit, Review, Seal, SupervisionOrder,
    SupplyPlan, Survey,
};
use field_core::photo::{GeoPoint, IngestOptions, PhotoContext};
use field_core::{
    Edit, EditContext, JobKind, MilestoneEvent as E, NewJob, Role, Source, Tariff, Voltage,
};
use rand::RngCore;
use std::collections::BTreeMap;

pub const DEMO_UNIT: &str = "zhuxian";
/// The demo unit's name.
pub const DEMO_UNIT_NAME: &str = "朱仙供电所";
/// The demo unit's grid cells.
const GRID_CELLS: &str = r#"{"unit": "zhuxian", "version": 1, "cells": [
    {"id": "ZX-01", "name": "城西网格", "grade": "healthy"},
    {"id": "ZX-02", "name": "工业园网格", "grade": "sub_healthy",
     "note": "10 千伏园区线负载率偏高，2027 年一季度完成分流"},
    {"id": "ZX-03", "name": "城东网格", "grade": "sick",
     "note": "2 号配变重载，新装先接入满足基本用电，同步改造", "upgrade_project": "PJ-2026-GZ-17"}
]}"#;
/// The demo unit's leader (单位负责人).
const LEADER: &str = "leader1";
const PASSWORDS_FILE: &str = "demo-passwords.txt";

const USERS: &[(&str, Role, &str)] = &[
    ("admin", Role::Admin, "系统管理员"),
    ("office1", Role::OfficeStaff, "营业厅 王芳"),
    ("dispatcher1", Role::Dispatcher, "服务调度 陈明"),
    ("leader1", Role::Dispatcher, "供电服务中心主任 周伟"),
    ("cm-li", Role::CustomerManager, "客户经理 李强"),
    ("cm-zhao", Role::CustomerManager, "客户经理 赵敏"),
    ("pm-wang", Role::ProjectManager, "项目经理 王磊"),
];

/// The milestones of a job from acceptance to return visit, in order.
const FULL_PATH: &[E] = &[
    E::HandedOver,
    E::SurveyDone,
    E::SupplyPlanReplied,
    E::WorksStarted,
    E::WorksCompleted,
    E::CompletionInspectionRequested,
    E::CompletionInspectionReplied,
    E::CompletionInspectionPassed,
    E::ContractSigned,
    E::FeesPaid,
    E::MeterInstalled,
    E::PoweredOn,
    E::ReturnVisitDone,
];

/// How far along `FULL_PATH` a job goes to reach each status (accepted … closed).
const STATUS_DEPTHS: &[usize] = &[0, 1, 2, 3, 4, 6, 10, 12, 13];

const CUSTOMERS: &[&str] = &[
    "邾县宏达五金厂",
    "城东花园小区",
    "李家村张建国",
    "邾县第一中学",
    "恒泰物流园",
    "新城充电站",
    "绿源农业合作社",
    "阳光超市",
    "邾县人民医院",
    "金山矿业",
    "滨河小区二期",
    "王记餐馆",
    "邾县数据中心",
    "老街茶馆",
    "红星机械厂",
    "锦绣家园",
    "开发区电子厂",
    "福寿养老院",
];

/// A demo phone or desk: who uses it, its automerge actor and its contract-signing key.
struct DemoDevice {
    id: &'static str,
    user: &'static str,
    actor: ActorId,
    key: KeyPair,
}

fn devices() -> Vec<DemoDevice> {
    [
        ("demo-phone-cm-li", "cm-li"),
        ("demo-phone-cm-zhao", "cm-zhao"),
        ("demo-phone-pm-wang", "pm-wang"),
        ("demo-desk-office1", "office1"),
        ("demo-desk-dispatcher1", "dispatcher1"),
    ]
    .into_iter()
    .map(|(id, user)| DemoDevice {
        id,
        user,
        actor: ActorId::from(id.as_bytes()),
        key: KeyPair::generate(),
    })
    .collect()
}

/// A blob a demo photo names.
struct Blob {
    sha256: String,
    bytes: Vec<u8>,
}

/// Seeds the demo once (users, devices, then every job in one transaction, photos into the
/// blob store). Returns the users and passwords to print. Runs on a blocking thread.
pub fn seed(
    env: &Env,
    data_dir: &std::path::Path,
) -> Result<Vec<(String, Role, String)>, ServerError> {
    let file = data_dir.join(PASSWORDS_FILE);
    if let Ok(text) = std::fs::read_to_string(&file) {
        return Ok(text
            .lines()
            .filter_map(|l| {
                let mut p = l.split('\t');
                let (u, r, pw) = (p.next()?, p.next()?, p.next()?);
                Some((u.to_string(), Role::parse(r)?, pw.to_string()))
            })
            .collect());
    }
    let mut out = Vec::new();
    let mut hashed = Vec::new();
    for (user, role, name) in USERS {
        let mut raw = [0u8; 6];
        rand::rng().fill_bytes(&mut raw);
        let password = hex::encode(raw);
        hashed.push((*user, *role, *name, auth::hash_password(&password)?));
        out.push((user.to_string(), *role, password));
    }
    let devices = devices();
    let mut docs = Vec::new();
    let mut blobs = Vec::new();
    for i in 0..CUSTOMERS.len() {
        let (doc, b) = demo_job(i, &devices)
            .map_err(|e| ServerError::Internal(format!("demo job {i}: {e}")))?;
        docs.push(doc);
        blobs.extend(b);
    }
    // Online applications waiting at the counter: one with a customer manager chosen.
    let applications = demo_applications()?;
    let files = applications.iter().flat_map(|(_, f)| f.iter());
    store_blobs(
        env,
        blobs
            .iter()
            .map(|b| (b.sha256.as_str(), b.bytes.as_slice()))
            .chain(files.map(|(sha, bytes)| (sha.as_str(), bytes.as_slice()))),
    )?;
    let mut tx = env.store.write()?;
    super::units::add(&mut *tx, DEMO_UNIT, DEMO_UNIT_NAME, "demo")?;
    tx.update_unit(&super::units::Unit {
        unit: DEMO_UNIT.into(),
        name: DEMO_UNIT_NAME.into(),
        address: "朱仙镇人民路 18 号供电营业厅".into(),
        hall_hours: "工作日 8:30–12:00，14:00–17:30".into(),
        hotline: "0710-5551234".into(),
    })?;
    let mut ids = BTreeMap::new();
    for (user, role, name, hash) in &hashed {
        ids.insert(
            *user,
            auth::add_user(&mut *tx, user, hash, *role, DEMO_UNIT, name, "demo")?,
        );
    }
    // The unit's leader: late supervision orders escalate to them.
    tx.update_user(
        LEADER,
        &UserChange {
            leader: Some(true),
            ..Default::default()
        },
    )?;
    register_devices(&mut *tx, &devices, &ids)?;
    // Managers' qualifications (任职条件): 赵敏 has not had the business-expansion training yet,
    // so the counter sees her flagged.
    for (user, title, trained) in [
        ("cm-li", "engineer", true),
        ("cm-zhao", "assistant_engineer", false),
        ("pm-wang", "engineer", false),
    ] {
        tx.set_qualification(
            &crate::store::QualificationRow {
                username: user.into(),
                title: title.into(),
                skill: "none".into(),
            },
            now_ms(),
            "demo",
        )?;
        if trained {
            tx.insert_training(&crate::store::TrainingRow {
                id: format!("demo-training-{user}"),
                username: user.into(),
                course: field_core::qualification::BUSINESS_EXPANSION_COURSE.into(),
                completed_on: "2025-06-20".into(),
                certificate: "YK-2025-0618".into(),
                recorded_at: now_ms(),
                recorded_by: "demo".into(),
            })?;
        }
    }
    for b in &blobs {
        tx.insert_blob(&b.sha256, b.bytes.len() as i64, now_ms())?;
    }
    for doc in &mut docs {
        jobs::import_trusted(&mut *tx, env, "demo-seed", doc)?;
    }
    for (row, files) in &applications {
        // The chosen manager's work number is her user id, known only now.
        let mut row = row.clone();
        if let Ok(mut d) =
            serde_json::from_str::<super::applications::ApplicationDetail>(&row.detail)
            && let Some(m) = &mut d.manager
        {
            m.2 = super::public::work_number(ids[m.0.as_str()]);
            row.detail =
                serde_json::to_string(&d).map_err(|e| ServerError::Internal(e.to_string()))?;
        }
        let row = &row;
        tx.insert_application(row)?;
        let shas: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        tx.insert_application_blobs(&row.id, &shas)?;
        for (sha, bytes) in files {
            tx.insert_blob(sha, bytes.len() as i64, now_ms())?;
        }
    }
    tx.commit()?;
    // The unit's grid cells (接入受限): one sick, one sub-healthy, one healthy.
    super::reference::install(env, "demo-seed", "grid_cells", GRID_CELLS)?;
    // The unit's register of the customer's design and construction firms.
    super::reference::install(
        env,
        "demo-seed",
        "contractor_firms",
        super::demo_works::FIRMS,
    )?;
    let text: String = out
        .iter()
        .map(|(u, r, p)| format!("{u}\t{}\t{p}\n", r.as_str()))
        .collect();
    std::fs::write(&file, text).map_err(|e| ServerError::Io(e.to_string()))?;
    Ok(out)
}

/// Two online applications filed a little earlier today, one choosing 赵敏 (her work number is
/// filled in once users exist).
fn demo_applications()
-> Result<Vec<(crate::store::ApplicationRow, super::applications::Blobs)>, ServerError> {
    use super::applications::{ApplyInput, demo};
    let now = chrono::Utc::now();
    let form =
        |kind: &str, name: &str, id: &str, phone: &str, address: &str, kva: f64| ApplyInput {
            kind: kind.into(),
            name: name.into(),
            id_number: id.into(),
            phone: phone.into(),
            address: address.into(),
            capacity_kva: Some(kva),
            wanted_on: None,
            manager: None,
        };
    let photo = |seed| field_core::photo::sample::jpeg(1024, 640, seed, &Default::default());
    Ok(vec![
        demo(
            DEMO_UNIT,
            &form(
                "lv_residential",
                "孙丽华",
                "421122198001010016",
                "13971234567",
                "朱仙镇幸福里 6 栋 302",
                8.0,
            ),
            Some(("cm-zhao".into(), person("cm-zhao"), String::new())),
            &photo(101),
            now - chrono::Duration::hours(2),
        )?,
        demo(
            DEMO_UNIT,
            &form(
                "lv_small_micro",
                "朱仙镇鑫源面馆",
                "91350100M000100Y43",
                "0710-5557788",
                "朱仙镇老街 12 号",
                25.0,
            ),
            None,
            &photo(102),
            now - chrono::Duration::minutes(40),
        )?,
    ])
}

fn register_devices(
    tx: &mut dyn WriteTx,
    devices: &[DemoDevice],
    ids: &BTreeMap<&str, i64>,
) -> Result<(), ServerError> {
    for d in devices {
        tx.upsert_device(&DeviceRow {
            device_id: d.id.into(),
            user_id: ids[d.user],
            last_seen: now_ms(),
            public_key: Some(d.key.public_hex()),
            actor: Some(d.actor.to_hex_string()),
        })?;
    }
    Ok(())
}

/// Puts the demo's photo blobs (`(sha256, bytes)`) into the blob store (from a blocking thread).
fn store_blobs<'a>(
    env: &Env,
    blobs: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> Result<(), ServerError> {
    let handle = tokio::runtime::Handle::current();
    for (sha256, bytes) in blobs {
        handle.block_on(env.blobs.put_bytes(&env.tmp_dir, sha256, bytes))?;
    }
    Ok(())
}

fn ctx(device: &DemoDevice, now: DateTime<Utc>) -> EditContext {
    EditContext {
        actor: device.user.into(),
        device: device.id.into(),
        now,
    }
}

/// Makes `device` the author of the next changes.
fn as_device(doc: &mut JobDoc, device: &DemoDevice) {
    doc.automerge().set_actor(device.actor.clone());
}

type DemoResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Takes a photo on `device`: a generated camera JPEG through the phone's own ingest.
#[allow(clippy::too_many_arguments)]
fn photo(
    doc: &mut JobDoc,
    device: &DemoDevice,
    at: DateTime<Utc>,
    seed: u64,
    purpose: PhotoPurpose,
    caption: &str,
    group: Option<&str>,
    blobs: &mut Vec<Blob>,
) -> DemoResult<String> {
    let job = doc.job()?;
    let gps = (
        31.2304 + seed as f64 * 0.001,
        121.4737 - seed as f64 * 0.001,
    );
    let exif = field_core::photo::sample::SampleExif {
        orientation: 1,
        taken_at: Some(at),
        gps: Some(gps),
    };
    let bytes = field_core::photo::sample::jpeg(640, 480, seed, &exif);
    let ingested = field_core::photo::ingest(
        &bytes,
        &PhotoContext {
            job_no: job.job_no.clone(),
            purpose,
            caption: Some(caption.into()),
            author: device.user.into(),
            author_name: USERS
                .iter()
                .find(|(u, _, _)| *u == device.user)
                .map(|(_, _, n)| n.to_string()),
            address: job.customer.address.clone(),
            gps: Some(GeoPoint {
                latitude: gps.0,
                longitude: gps.1,
                accuracy_m: Some(8.0),
            }),
            device_time: at,
            checklist_group: group.map(str::to_string),
        },
        &IngestOptions {
            display_long_edge: 960,
            thumbnail_long_edge: 240,
            ..Default::default()
        },
    )?;
    let id = format!("p{seed}");
    let mut record = ingested.record.clone();
    record.device = Some(device.id.into());
    doc.apply(
        &Edit::AddPhoto {
            id: id.clone(),
            photo: record,
        },
        &ctx(device, at),
    )?;
    blobs.push(Blob {
        sha256: ingested.original_sha256.clone(),
        bytes,
    });
    blobs.push(Blob {
        sha256: ingested.display.sha256.clone(),
        bytes: ingested.display.bytes,
    });
    blobs.push(Blob {
        sha256: ingested.thumbnail.sha256.clone(),
        bytes: ingested.thumbnail.bytes,
    });
    Ok(id)
}

/// Job `i`: kinds and statuses cycle so every kind and every status appears; photos, checked
/// documents, a signed contract, inspection findings, reviews and a same-field conflict appear
/// where the job has got that far.
fn demo_job(i: usize, devices: &[DemoDevice]) -> DemoResult<(JobDoc, Vec<Blob>)> {
    let kind = JobKind::ALL[i % JobKind::ALL.len()];
    let path = &FULL_PATH[..STATUS_DEPTHS[i % STATUS_DEPTHS.len()]];
    let now = Utc::now();
    let mut blobs = Vec::new();
    // Older jobs are further along; a few are old enough to be overdue.
    let accepted = now - Duration::days(3 + 4 * path.len() as i64 + (i as i64 % 3) * 9);
    let office_dev = &devices[3];
    let office = ctx(office_dev, accepted);
    let (voltage, tariff) = match kind {
        JobKind::HighVoltage | JobKind::ResidentialCommunity => {
            (Voltage::Kv10, Tariff::CommercialIndustrial)
        }
        JobKind::LowVoltageResidential => (Voltage::V220, Tariff::Residential),
        _ => (Voltage::V380, Tariff::CommercialIndustrial),
    };
    let new = NewJob {
        id: None,
        job_no: None,
        kind,
        unit: DEMO_UNIT.into(),
        accepted_at: accepted,
        customer: Customer {
            name: Some(CUSTOMERS[i].into()),
            id_number: Some(format!("3101011980010{:05}", 1000 + i)),
            contact_name: Some(["张建国", "李秀英", "王强", "赵丽"][i % 4].into()),
            contact_phone: Some(format!("1380000{:04}", i)),
            address: Some(format!("邾县建设路 {} 号", 10 + i)),
            ..Default::default()
        },
        application: Application {
            capacity_kva: Some(if kind.is_low_voltage() {
                30.0 + i as f64 * 5.0
            } else {
                400.0 + i as f64 * 100.0
            }),
            voltage: Some(voltage),
            tariff: Some(tariff),
            source: Some(if i.is_multiple_of(4) {
                Source::Dual
            } else {
                Source::Single
            }),
            grid_distance_m: Some(if i.is_multiple_of(3) { 260.0 } else { 80.0 }),
            // Jobs in the three grid cells; those in the sick one carry its upgrade project.
            grid_cell: Some(["ZX-01", "ZX-02", "ZX-03"][i % 3].into()),
            upgrade_project: (i % 3 == 2).then(|| "PJ-2026-GZ-17".into()),
            ..Default::default()
        },
    };
    let mut doc = JobDoc::create(
        office_dev.actor.clone(),
        &new,
        &field_core::RuleSet::default(),
        &office,
    )?;
    if i % 6 == 2 {
        doc.apply(
            &Edit::UpdateApplication(Application {
                key_project: Some(true),
                chief_service_officer: Some("营业厅 王芳".into()),
                project_name: Some(format!("{}新建项目", CUSTOMERS[i])),
                ..Default::default()
            }),
            &office,
        )?;
    }
    let (cm, cm_dev) = if i.is_multiple_of(2) {
        ("cm-li", &devices[0])
    } else {
        ("cm-zhao", &devices[1])
    };
    let pm_dev = &devices[2];
    // Handing the job to its customer manager records the hand-over; some are a day late.
    // Jobs only just accepted have nobody yet.
    if !path.is_empty() {
        let handed = if i.is_multiple_of(3) {
            accepted + Duration::days(1)
        } else {
            accepted
        };
        doc.apply(
            &Edit::UpdateAssignment(Assignment {
                customer_manager: Some(cm.into()),
                customer_manager_name: Some(person(cm)),
                // Some customers chose their manager from the published list.
                customer_chose_manager: Some(i.is_multiple_of(2)),
                project_manager: Some("pm-wang".into()),
                project_manager_name: Some(person("pm-wang")),
                assigned_at: Some(handed),
                ..Default::default()
            }),
            &ctx(office_dev, handed),
        )?;
        doc.apply(
            &Edit::AddMilestone {
                id: "pm-appointed".into(),
                milestone: Milestone {
                    event: Some(E::ProjectManagerAppointed),
                    at: Some(handed),
                    note: Some("聘任 pm-wang，批准：主管副总经理".into()),
                    ..Default::default()
                },
            },
            &ctx(office_dev, handed),
        )?;
    }
    let rules = field_core::RuleSet::default();
    let with_photos = i < 12;
    for (n, event) in path.iter().enumerate() {
        let at = accepted + Duration::days(1 + 3 * n as i64);
        let dev = match event {
            E::WorksStarted | E::WorksCompleted => pm_dev,
            E::ReturnVisitDone => &devices[4],
            _ => cm_dev,
        };
        as_device(&mut doc, dev);
        let c = ctx(dev, at);
        match event {
            E::HandedOver => {
                // The counter collected the documents every job needs, each with its photo.
                for (g, group) in rules
                    .document_groups(kind)
                    .into_iter()
                    .filter(|g| g.when == field_core::rules::Condition::Always)
                    .take(3)
                    .enumerate()
                {
                    let Some(option) = group.options.first() else {
                        continue;
                    };
                    let pid = if with_photos {
                        Some(photo(
                            &mut doc,
                            cm_dev,
                            at,
                            (i * 10 + g) as u64,
                            PhotoPurpose::DocumentProof,
                            &option.label.zh,
                            Some(&group.key),
                            &mut blobs,
                        )?)
                    } else {
                        None
                    };
                    let mut item = ChecklistItem {
                        doc_type: Some(option.key.clone()),
                        collected: Some(true),
                        original_seen: Some(option.original),
                        collected_by: Some(cm.into()),
                        collected_at: Some(at),
                        ..Default::default()
                    };
                    if let Some(pid) = pid {
                        item.photos.insert(pid, true);
                    }
                    doc.apply(
                        &Edit::CheckDocument {
                            group: group.key.clone(),
                            item,
                        },
                        &c,
                    )?;
                }
            }
            E::SurveyDone => {
                doc.apply(
                    &Edit::UpdateSurvey(Survey {
                        surveyed_at: Some(at),
                        surveyor: Some(cm.into()),
                        address_verified: Some(true),
                        capacity_verified: Some(true),
                        category_verified: Some(true),
                        load_nature: Some("一般负荷".into()),
                        access_point: Some(format!("10千伏城东线 {} 号杆", 20 + i)),
                        findings: Some("现场具备接电条件，表箱位置已与客户确认。".into()),
                        ..Default::default()
                    }),
                    &c,
                )?;
                if with_photos {
                    photo(
                        &mut doc,
                        cm_dev,
                        at,
                        (i * 10 + 5) as u64,
                        PhotoPurpose::Survey,
                        "现场勘查：接入点",
                        None,
                        &mut blobs,
                    )?;
                }
            }
            E::SupplyPlanReplied => {
                doc.apply(
                    &Edit::UpdateSupplyPlan(SupplyPlan {
                        source: Some(Source::Single),
                        voltage: Some(voltage),
                        access_point: Some(format!("10千伏城东线 {} 号杆", 20 + i)),
                        metering_point: Some("产权分界处".into()),
                        metering_method: Some(
                            if kind.is_low_voltage() {
                                "低供低计"
                            } else {
                                "高供高计"
                            }
                            .into(),
                        ),
                        property_boundary: Some("计量箱出线端".into()),
                        utility_invests_to_red_line: Some(true),
                        reply_mode: Some("书面答复".into()),
                        replied_at: Some(at),
                        ..Default::default()
                    }),
                    &c,
                )?;
            }
            E::WorksStarted => {
                doc.apply(
                    &Edit::PutConstructionLog {
                        id: format!("log-{i}"),
                        log: ConstructionLog {
                            at: Some(at),
                            author: Some("pm-wang".into()),
                            progress_pct: Some(30.0),
                            text: Some("开挖电缆沟，敷设保护管".into()),
                            safety_ok: Some(true),
                            quality_ok: Some(true),
                        },
                    },
                    &c,
                )?;
                if with_photos {
                    photo(
                        &mut doc,
                        pm_dev,
                        at,
                        (i * 10 + 6) as u64,
                        PhotoPurpose::Construction,
                        "施工现场",
                        None,
                        &mut blobs,
                    )?;
                }
            }
            E::CompletionInspectionReplied => {
                let passed = path.contains(&E::CompletionInspectionPassed);
                doc.apply(
                    &Edit::UpdateInspection {
                        kind: InspectionKind::Completion,
                        inspection: Inspection {
                            requested_at: Some(at - Duration::days(3)),
                            replied_at: Some(at),
                            inspector: Some(cm.into()),
                            passed: Some(false),
                            written_notice: Some(true),
                            ..Default::default()
                        },
                    },
                    &c,
                )?;
                for (f, text) in [
                    "进线电缆终端头未做防水处理",
                    "计量箱接地电阻实测 12 Ω，超过 4 Ω 要求",
                    "配电室缺少安全警示标识",
                ]
                .iter()
                .enumerate()
                {
                    doc.apply(
                        &Edit::PutFinding {
                            target: FindingTarget::Inspection(InspectionKind::Completion),
                            id: format!("cf{f}"),
                            finding: Finding {
                                text: Some(text.to_string()),
                                severity: Some("must_fix".into()),
                                raised_by: Some(cm.into()),
                                raised_at: Some(at),
                                resolved: Some(passed),
                                resolved_at: passed.then_some(at + Duration::days(2)),
                            },
                        },
                        &c,
                    )?;
                }
            }
            E::ContractSigned => {
                let job = doc.job()?;
                let req = SignRequest {
                    contract_id: format!("c{i}"),
                    template: None,
                    inputs: [
                        ("supplier".to_string(), "国网邾县供电公司".to_string()),
                        (
                            "manager_name".to_string(),
                            USERS
                                .iter()
                                .find(|u| u.0 == cm)
                                .map(|u| u.2.to_string())
                                .unwrap_or_default(),
                        ),
                    ]
                    .into_iter()
                    .collect(),
                    amends: None,
                    customer_name: None,
                    customer: sample::signature(240, i as f64),
                    manager: sample::signature(160, 1.0 + i as f64),
                    photo_ids: job.photos.keys().take(1).cloned().collect(),
                    gps: None,
                };
                let signer = Signer {
                    user: cm.into(),
                    device_id: cm_dev.id.into(),
                    device_time: at,
                };
                match field_core::contract::sign(&job, &req, &signer, &cm_dev.key) {
                    Ok(contract) => {
                        doc.apply(
                            &Edit::SignContract {
                                id: req.contract_id.clone(),
                                contract,
                            },
                            &c,
                        )?;
                        continue;
                    }
                    Err(e) => tracing::warn!(job = i, error = %e, "demo contract not signed"),
                }
            }
            E::MeterInstalled => {
                doc.apply(
                    &Edit::UpdateMetering(Metering {
                        meter_asset_no: Some(format!("3310001{:06}", 4200 + i)),
                        initial_reading: Some(0.0),
                        installer: Some(cm.into()),
                        installed_at: Some(at),
                        ..Default::default()
                    }),
                    &c,
                )?;
                doc.apply(
                    &Edit::PutSeal {
                        id: "s1".into(),
                        seal: Seal {
                            number: Some(format!("FY{:08}", 100 + i)),
                            position: Some("计量箱门".into()),
                        },
                    },
                    &c,
                )?;
                if with_photos {
                    photo(
                        &mut doc,
                        cm_dev,
                        at,
                        (i * 10 + 7) as u64,
                        PhotoPurpose::Meter,
                        "电能表及封印",
                        None,
                        &mut blobs,
                    )?;
                }
            }
            E::ReturnVisitDone => {
                doc.apply(
                    // One customer was unhappy: a follow-up is open on the board.
                    &Edit::UpdateReturnVisit(if i == 8 {
                        ReturnVisit {
                            visited_at: Some(at),
                            visitor: Some("dispatcher1".into()),
                            channel: Some("phone".into()),
                            satisfaction: Some(2),
                            comment: Some("送电后电压偏低，等了很久才有人来".into()),
                            ..Default::default()
                        }
                    } else {
                        ReturnVisit {
                            visited_at: Some(at),
                            visitor: Some("dispatcher1".into()),
                            channel: Some("phone".into()),
                            satisfaction: Some(5 - (i as i64 % 2)),
                            comment: Some("接电快，服务周到".into()),
                            ..Default::default()
                        }
                    }),
                    &c,
                )?;
            }
            _ => {}
        }
        if *event == E::HandedOver {
            continue; // the assignment recorded it
        }
        doc.apply(
            &Edit::AddMilestone {
                id: format!("m{n}"),
                milestone: Milestone {
                    event: Some(*event),
                    at: Some(at),
                    ..Default::default()
                },
            },
            &c,
        )?;
    }
    let last = accepted + Duration::days(1 + 3 * path.len() as i64);
    // Reviews: some jobs wait for the office, one was returned with findings, one approved.
    if path.len() >= 2 {
        as_device(&mut doc, cm_dev);
        match i % 6 {
            1 | 4 => {
                doc.apply(
                    &Edit::SubmitForReview {
                        id: "submit-1".into(),
                        at: last.min(now),
                    },
                    &ctx(cm_dev, last.min(now)),
                )?;
            }
            3 => {
                as_device(&mut doc, office_dev);
                let oc = ctx(office_dev, last.min(now));
                doc.apply(
                    &Edit::UpdateReview(Review {
                        state: Some(ReviewState::Returned),
                        reviewer: Some("office1".into()),
                        reviewed_at: Some(last.min(now)),
                        comment: Some("资料不全，请补充后重新提交".into()),
                        ..Default::default()
                    }),
                    &oc,
                )?;
                doc.apply(
                    &Edit::PutFinding {
                        target: FindingTarget::Review,
                        id: "rf1".into(),
                        finding: Finding {
                            text: Some("产权证明照片模糊，请重新拍摄".into()),
                            severity: Some("must_fix".into()),
                            raised_by: Some("office1".into()),
                            raised_at: Some(last.min(now)),
                            resolved: Some(false),
                            resolved_at: None,
                        },
                    },
                    &oc,
                )?;
            }
            _ => {}
        }
    }
    if i % 5 == 3 {
        as_device(&mut doc, office_dev);
        doc.apply(
            &Edit::StartWaiting {
                id: "wait-1".into(),
                reason: "等待客户补充产权证明".into(),
                at: now - Duration::days(1),
            },
            &office,
        )?;
    }
    // Two people changed the contact phone offline: both values are kept.
    if i % 7 == 1 {
        let mut desk = doc.fork_as(office_dev.actor.clone());
        let mut phone = doc.fork_as(cm_dev.actor.clone());
        desk.apply(
            &Edit::UpdateCustomer(Customer {
                contact_phone: Some(format!("1390000{:04}", i)),
                ..Default::default()
            }),
            &ctx(office_dev, last.min(now)),
        )?;
        phone.apply(
            &Edit::UpdateCustomer(Customer {
                contact_phone: Some(format!("1370000{:04}", i)),
                ..Default::default()
            }),
            &ctx(cm_dev, last.min(now)),
        )?;
        doc.merge(&mut desk)?;
        doc.merge(&mut phone)?;
    }
    supervise(&mut doc, i, cm, cm_dev, &devices[4], now)?;
    let cm_by = |at| (ctx(cm_dev, at), cm_dev.actor.clone());
    let pm_by = |at| (ctx(pm_dev, at), pm_dev.actor.clone());
    let office_by = |at| (ctx(office_dev, at), office_dev.actor.clone());
    let cm_name = person(cm);
    super::demo_works::add(
        &mut doc,
        i,
        &super::demo_works::Writers {
            cm,
            cm_name: &cm_name,
            cm_ctx: &cm_by,
            pm_ctx: &pm_by,
            office_ctx: &office_by,
        },
        accepted,
        now,
    )?;
    as_device(&mut doc, office_dev);
    doc.apply(
        &Edit::SetNotes {
            text: format!("演示工单 {}：{}。", i + 1, kind.zh()),
        },
        &office,
    )?;
    Ok((doc, blobs))
}

/// A demo user's name without their title (`客户经理 李强` → `李强`).
fn person(user: &str) -> String {
    USERS
        .iter()
        .find(|(n, _, _)| *n == user)
        .and_then(|(_, _, d)| d.rsplit(' ').next())
        .unwrap_or(user)
        .to_string()
}

/// Supervision orders (督办) on three jobs: one left unanswered past its deadline (the server
/// escalates it to the unit's leader when it starts), one answered on the customer manager's
/// phone, one just issued to the project manager.
fn supervise(
    doc: &mut JobDoc,
    i: usize,
    cm: &str,
    cm_dev: &DemoDevice,
    dispatcher: &DemoDevice,
    now: DateTime<Utc>,
) -> DemoResult<()> {
    let name = |u: &str| {
        USERS
            .iter()
            .find(|(n, _, _)| *n == u)
            .map_or(u.to_string(), |(_, _, d)| d.to_string())
    };
    let (to, issued, days, stage, reason) = match i {
        1 => (cm, 5, 2, None, "现场勘查已超期，请立即联系客户安排勘查"),
        2 => (cm, 2, 3, None, "供电方案答复临近时限，请抓紧"),
        4 => (
            "pm-wang",
            0,
            4,
            Some("supporting_works"),
            "配套工程进度滞后，请说明原因并报送赶工计划",
        ),
        _ => return Ok(()),
    };
    let issued = now - Duration::days(issued);
    let id = format!("sup-{i}");
    as_device(doc, dispatcher);
    doc.apply(
        &Edit::IssueSupervision {
            id: id.clone(),
            order: SupervisionOrder {
                issued_by_name: Some(name(dispatcher.user)),
                manager: Some(to.into()),
                manager_name: Some(name(to)),
                stage: stage.map(str::to_string),
                reason: Some(reason.into()),
                due_on: Some(field_core::job::local_date(issued + Duration::days(days))),
                ..Default::default()
            },
        },
        &ctx(dispatcher, issued),
    )?;
    if i == 2 {
        let at = issued + Duration::hours(20);
        as_device(doc, cm_dev);
        doc.apply(
            &Edit::AnswerSupervision {
                id,
                text: "已与客户约定，方案明天上午答复".into(),
                at,
            },
            &ctx(cm_dev, at),
        )?;
    }
    Ok(())
}
