//! Opens an encrypted store, accepts a job, records a few steps of a visit and prints its
//! time-limit state.
//!
//! The store's key comes from a file this example creates beside the store (`field.key`, 32
//! random bytes, readable by you only). That is for the example alone: an app keeps the secret
//! in the Android Keystore or the iOS Keychain (see `mobile-bindings/README.md`), never in a file
//! beside the data it protects.
//!
//! `cargo run -p field-core --example quickstart [-- --data-dir DIR] [--lang en]`

use chrono::{Duration, Utc};
use field_core::job::{Application, ChecklistItem, Customer, Milestone, Survey, local_date};
use field_core::rules::Outcome;
use field_core::sla::SlaState;
use field_core::{Edit, GridHealth, JobKind, MilestoneEvent, NewJob, Store, StoreKey};
use std::path::{Path, PathBuf};

/// The example's key: read from `path`, or made and written there (mode 0600) on first run.
fn key_beside_store(path: &Path) -> Result<StoreKey, Box<dyn std::error::Error>> {
    if let Ok(secret) = std::fs::read(path) {
        return Ok(StoreKey::new(&secret)?);
    }
    let key = StoreKey::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, key.secret())?;
    Ok(key)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let english = arg("--lang").as_deref() == Some("en");
    let dir = arg("--data-dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("fieldline-quickstart"));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("field.db");
    let key_file = dir.join("field.key");
    let key = key_beside_store(&key_file)?;
    let store = Store::open(&path, &key)?;
    println!(
        "store: {} (encrypted: {}; key in {}; device {})",
        path.display(),
        store.is_encrypted(),
        key_file.display(),
        store.device().device_id
    );

    let now = Utc::now();
    let job = store.create_job(
        "office-zhang",
        &NewJob {
            id: None,
            job_no: None,
            kind: JobKind::LowVoltageSmallMicro,
            unit: "邾县供电公司".into(),
            accepted_at: now - Duration::days(3),
            customer: Customer {
                name: Some("邾县宏达五金厂".into()),
                contact_name: Some("王女士".into()),
                contact_phone: Some("13800000000".into()),
                address: Some("邾县工业路 8 号".into()),
                ..Default::default()
            },
            application: Application {
                capacity_kva: Some(80.0),
                grid_health: Some(GridHealth::Healthy),
                ..Default::default()
            },
        },
    )?;
    let edits = [
        Edit::AddMilestone {
            id: "handover".into(),
            milestone: Milestone {
                event: Some(MilestoneEvent::HandedOver),
                at: Some(now - Duration::days(3)),
                ..Default::default()
            },
        },
        Edit::CheckDocument {
            group: "subject_proof".into(),
            item: ChecklistItem {
                doc_type: Some("business_licence".into()),
                collected: Some(true),
                ..Default::default()
            },
        },
        Edit::UpdateSurvey(Survey {
            surveyed_at: Some(now),
            address_verified: Some(true),
            capacity_verified: Some(true),
            category_verified: Some(true),
            load_nature: Some("一般负荷".into()),
            ..Default::default()
        }),
        Edit::SetNotes {
            text: "客户希望本周内送电；表箱位置在厂区东门。".into(),
        },
    ];
    for e in &edits {
        store.edit(&job.id, "cm-li", e)?;
    }

    let job = store.job(&job.id)?;
    println!(
        "job {} · {} · {} · {}",
        job.job_no,
        if english {
            job.kind.en()
        } else {
            job.kind.zh()
        },
        job.customer.name.as_deref().unwrap_or(""),
        if english {
            job.status().en()
        } else {
            job.status().zh()
        }
    );
    let v = store.verdicts(&job.id)?;
    let outcome = match v.direct_install.outcome {
        Outcome::Yes => ("可以", "yes"),
        Outcome::No => ("不可以", "no"),
        Outcome::Unknown => ("待定", "not yet known"),
    };
    println!(
        "{}: {}",
        if english {
            "survey-and-install in one visit"
        } else {
            "勘查装表一岗制"
        },
        if english { outcome.1 } else { outcome.0 }
    );
    for r in &v.direct_install.reasons {
        println!("  - {}", if english { &r.en } else { &r.zh });
    }
    let limits = store.time_limits(&job.id, local_date(now))?;
    println!("{}", if english { "time limits:" } else { "时限：" });
    for c in &limits.clocks {
        let state = if english {
            c.state.as_str()
        } else {
            c.state.zh()
        };
        let due = c
            .due_on
            .map(|d| d.to_string())
            .unwrap_or_else(|| "—".into());
        println!(
            "  {:<28} {:>2} {} · {} {due} · {} {} · {state}{}",
            if english { c.stage.en() } else { c.stage.zh() },
            c.limit_days,
            if english {
                "working days"
            } else {
                "个工作日"
            },
            if english { "due" } else { "到期" },
            if english { "used" } else { "已用" },
            c.used_days,
            if c.provisional { " (provisional)" } else { "" }
        );
    }
    let list = store.list_jobs(&Default::default())?;
    let overdue = list
        .items
        .iter()
        .filter(|s| s.sla_state == Some(SlaState::Overdue))
        .count();
    println!(
        "{} {} · {} {overdue}",
        if english {
            "jobs in store:"
        } else {
            "本机工单数："
        },
        list.items.len(),
        if english { "overdue:" } else { "超期：" }
    );
    Ok(())
}
