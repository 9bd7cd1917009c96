//! Demo data: a unit, a user of every role (with printed passwords) and jobs of every kind in
//! every state, created once per data directory through the same path as a phone's sync.

use super::{Env, auth, jobs};
use crate::error::ServerError;
use chrono::{Duration, Utc};
use field_core::job::{
    Application, Assignment, ConstructionLog, Customer, JobDoc, Milestone, Survey,
};
use field_core::{
    Edit, EditContext, JobKind, MilestoneEvent as E, NewJob, Role, Source, Tariff, Voltage,
};
use rand::RngCore;

pub const DEMO_UNIT: &str = "zhuxian";
const PASSWORDS_FILE: &str = "demo-passwords.txt";

const USERS: &[(&str, Role, &str)] = &[
    ("admin", Role::Admin, "系统管理员"),
    ("office1", Role::OfficeStaff, "营业厅 王芳"),
    ("dispatcher1", Role::Dispatcher, "服务调度 陈明"),
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

/// Seeds the demo once (users, then every job in one transaction). Returns the users and
/// passwords to print.
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
    let mut tx = env.store.write()?;
    for (user, role, name, hash) in &hashed {
        auth::add_user(&mut *tx, user, hash, *role, DEMO_UNIT, name)?;
    }
    for i in 0..CUSTOMERS.len() {
        let mut doc =
            demo_job(i).map_err(|e| ServerError::Internal(format!("demo job {i}: {e}")))?;
        jobs::import_trusted(&mut *tx, env, "demo-seed", &mut doc)?;
    }
    tx.commit()?;
    let text: String = out
        .iter()
        .map(|(u, r, p)| format!("{u}\t{}\t{p}\n", r.as_str()))
        .collect();
    std::fs::write(&file, text).map_err(|e| ServerError::Io(e.to_string()))?;
    Ok(out)
}

/// Job `i`: kinds and statuses cycle so every kind and every status appears.
fn demo_job(i: usize) -> Result<JobDoc, field_core::job::JobError> {
    let kind = JobKind::ALL[i % JobKind::ALL.len()];
    let path = &FULL_PATH[..STATUS_DEPTHS[i % STATUS_DEPTHS.len()]];
    let now = Utc::now();
    // Older jobs are further along; a few are old enough to be overdue.
    let accepted = now - Duration::days(3 + 4 * path.len() as i64 + (i as i64 % 3) * 9);
    let office = EditContext {
        actor: "office1".into(),
        device: "demo-seed".into(),
        now: accepted,
    };
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
            contact_name: Some("联系人".into()),
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
            ..Default::default()
        },
    };
    let mut doc = JobDoc::create(
        automerge::ActorId::from(format!("demo-{i}").as_bytes()),
        &new,
        &field_core::RuleSet::default(),
        &office,
    )?;
    let cm = if i.is_multiple_of(2) {
        "cm-li"
    } else {
        "cm-zhao"
    };
    doc.apply(
        &Edit::UpdateAssignment(Assignment {
            customer_manager: Some(cm.into()),
            project_manager: Some("pm-wang".into()),
            assigned_at: Some(accepted),
            ..Default::default()
        }),
        &office,
    )?;
    for (n, event) in path.iter().enumerate() {
        let at = accepted + Duration::days(1 + 3 * n as i64);
        let actor = match event {
            E::WorksStarted | E::WorksCompleted => "pm-wang",
            _ => cm,
        };
        let ctx = EditContext {
            actor: actor.into(),
            device: "demo-seed".into(),
            now: at,
        };
        if *event == E::SurveyDone {
            doc.apply(
                &Edit::UpdateSurvey(Survey {
                    surveyed_at: Some(at),
                    address_verified: Some(true),
                    load_nature: Some("一般负荷".into()),
                    ..Default::default()
                }),
                &ctx,
            )?;
        }
        if *event == E::WorksStarted {
            doc.apply(
                &Edit::PutConstructionLog {
                    id: format!("log-{i}"),
                    log: ConstructionLog {
                        at: Some(at),
                        progress_pct: Some(30.0),
                        text: Some("开挖电缆沟".into()),
                        ..Default::default()
                    },
                },
                &ctx,
            )?;
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
            &ctx,
        )?;
    }
    if i % 5 == 3 {
        doc.apply(
            &Edit::StartWaiting {
                id: "wait-1".into(),
                reason: "等待客户补充产权证明".into(),
                at: now - Duration::days(1),
            },
            &office,
        )?;
    }
    doc.apply(
        &Edit::SetNotes {
            text: format!("演示工单 {}：{}。", i + 1, kind.zh()),
        },
        &office,
    )?;
    Ok(doc)
}
