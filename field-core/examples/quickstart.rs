//! Opens a store, accepts a job, records a few steps of a visit and prints its time-limit state.
//!
//! `cargo run -p field-core --example quickstart [-- --data-dir DIR] [--lang en]`

use chrono::{Duration, Utc};
use field_core::job::{Application, ChecklistItem, Customer, Milestone, Survey, local_date};
use field_core::rules::Outcome;
use field_core::sla::SlaState;
use field_core::{Edit, GridHealth, JobKind, MilestoneEvent, NewJob, Store};
use std::path::PathBuf;

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
    let store = Store::open(&path)?;
    println!(
        "store: {} (device {})",
        path.display(),
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
