//! The cost of the write-rights check per push, beside what the server does with the same push
//! anyway (apply the bytes to the stored document, read the typed job). Prints figures; asserts
//! nothing about time.
//!
//!   cargo bench -p field-core --bench policy            (add -- --quick for fewer rounds)

use automerge::ActorId;
use chrono::{DateTime, Duration, Utc};
use field_core::job::{
    Assignment, ChecklistItem, ConstructionLog, Customer, JobDoc, Milestone, Survey,
};
use field_core::policy::{WritePolicy, Writer, check_changes};
use field_core::{Edit, EditContext, JobKind, MilestoneEvent, NewJob, Role};
use std::time::Instant;

fn base() -> DateTime<Utc> {
    "2026-11-02T01:00:00Z".parse().unwrap()
}

fn ctx(actor: &str, k: i64) -> EditContext {
    EditContext {
        actor: actor.into(),
        device: format!("{actor}-device"),
        now: base() + Duration::minutes(k),
    }
}

fn actor(name: &str) -> ActorId {
    ActorId::from(name.as_bytes())
}

/// A customer manager's edit number `c`.
fn cm_edit(c: usize) -> Edit {
    match c % 4 {
        0 => Edit::UpdateCustomer(Customer {
            contact_phone: Some(format!("1380000{c:04}")),
            ..Default::default()
        }),
        1 => Edit::SpliceNotes {
            pos: 0,
            delete: 0,
            insert: format!("现场记录{c}。"),
        },
        2 => Edit::UpdateSurvey(Survey {
            verified_capacity_kva: Some(100.0 + c as f64),
            load_nature: Some("一般负荷".into()),
            ..Default::default()
        }),
        _ => Edit::AddMilestone {
            id: format!("m{c}"),
            milestone: Milestone {
                event: Some(MilestoneEvent::SurveyDone),
                at: Some(base() + Duration::hours(c as i64)),
                ..Default::default()
            },
        },
    }
}

/// A job accepted by the office.
fn accepted(id: &str, kind: JobKind, customer: &str) -> JobDoc {
    JobDoc::create(
        actor("office1-actor"),
        &NewJob {
            id: Some(id.into()),
            job_no: None,
            kind,
            unit: "zhuxian".into(),
            accepted_at: base(),
            customer: Customer {
                name: Some(customer.into()),
                ..Default::default()
            },
            application: Default::default(),
        },
        &field_core::RuleSet::default(),
        &ctx("office1", 0),
    )
    .unwrap()
}

/// A job created by the office and assigned, then `edits` customer-manager edits.
fn job(edits: usize) -> JobDoc {
    let office = ctx("office1", 0);
    let mut doc = accepted("bench-job", JobKind::LowVoltageSmallMicro, "邾县宏达五金厂");
    doc.apply(
        &Edit::UpdateAssignment(Assignment {
            customer_manager: Some("cm-li".into()),
            project_manager: Some("pm-wang".into()),
            ..Default::default()
        }),
        &office,
    )
    .unwrap();
    let mut cm = doc.fork_as(actor("cm-li-actor"));
    for c in 0..edits {
        cm.apply(&cm_edit(c), &ctx("cm-li", c as i64 + 1)).unwrap();
    }
    cm
}

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (p(0.5), p(0.99))
}

/// Measures one scenario: `prior` is the server's copy, `pushed` the phone's (which holds the
/// push on top), written by `who` as `role`.
fn scenario(
    name: &str,
    prior: &mut JobDoc,
    pushed: &mut JobDoc,
    who: &str,
    role: Role,
    rounds: usize,
) {
    let before = prior.heads();
    let bytes = pushed.save_after(&before);
    let policy = WritePolicy::default();
    let device = format!("{who}-device");
    let actor = actor(&format!("{who}-actor"));
    let writer = Writer {
        username: who,
        role,
        unit: "zhuxian",
        device_id: &device,
        actor: &actor,
    };
    let before_job = prior.job().unwrap();
    let mut apply = Vec::new();
    let mut check = Vec::new();
    let mut read = Vec::new();
    let mut touched = 0;
    for _ in 0..rounds {
        let mut server = prior.fork_as(ActorId::random());
        let t = Instant::now();
        server.load_incremental(&bytes).unwrap();
        apply.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        let _ = server.job().unwrap();
        read.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        let checked = check_changes(&mut server, &before, Some(&before_job), &writer, &policy)
            .expect("an honest push passes");
        check.push(t.elapsed().as_secs_f64() * 1e6);
        touched = checked.changes.iter().map(|c| c.paths.len()).sum();
    }
    let (a50, a99) = stats(apply);
    let (r50, _) = stats(read);
    let (c50, c99) = stats(check);
    println!(
        "{name:<44} {:>4} B  apply {a50:>7.0} µs (p99 {a99:>6.0})  typed read {r50:>6.0} µs  check {c50:>6.0} µs (p99 {c99:>6.0}, {touched} paths)  check/apply {:.2}",
        bytes.len(),
        c50 / a50
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 30 } else { 300 };
    println!("write-rights check per push (medians of {rounds}; policy national v1)");

    // One edit on a job with a history of 200 changes.
    let mut prior = job(200);
    let mut phone = prior.fork_as(actor("cm-li-actor"));
    phone
        .apply(
            &Edit::UpdateSurvey(Survey {
                surveyor: Some("李强".into()),
                address_verified: Some(true),
                capacity_verified: Some(true),
                category_verified: Some(true),
                ..Default::default()
            }),
            &ctx("cm-li", 500),
        )
        .unwrap();
    scenario(
        "1 edit (survey, 4 fields), 200-change job",
        &mut prior,
        &mut phone,
        "cm-li",
        Role::CustomerManager,
        rounds,
    );

    // An offline day: 30 edits in one push.
    let mut prior = job(50);
    let mut phone = prior.fork_as(actor("cm-li-actor"));
    for c in 0..30 {
        phone
            .apply(&cm_edit(c + 1000), &ctx("cm-li", 600 + c as i64))
            .unwrap();
    }
    scenario(
        "30 edits in one push, 50-change job",
        &mut prior,
        &mut phone,
        "cm-li",
        Role::CustomerManager,
        rounds,
    );

    // Typing: 2,000 characters of notes in one change.
    let mut prior = job(20);
    let mut phone = prior.fork_as(actor("cm-li-actor"));
    phone
        .apply(
            &Edit::SpliceNotes {
                pos: 0,
                delete: 0,
                insert: "客户要求周五上午装表，现场已具备条件。".repeat(100),
            },
            &ctx("cm-li", 700),
        )
        .unwrap();
    scenario(
        "notes: 2,000 characters in one change",
        &mut prior,
        &mut phone,
        "cm-li",
        Role::CustomerManager,
        rounds,
    );

    // The project manager's construction log with a checklist note from the office beside it.
    let mut prior = job(20);
    let mut phone = prior.fork_as(actor("pm-wang-actor"));
    for c in 0..5 {
        phone
            .apply(
                &Edit::PutConstructionLog {
                    id: format!("log-{c}"),
                    log: ConstructionLog {
                        at: Some(base() + Duration::hours(c)),
                        progress_pct: Some(20.0 * c as f64),
                        text: Some("今日完成电缆敷设".into()),
                        ..Default::default()
                    },
                },
                &ctx("pm-wang", 800 + c),
            )
            .unwrap();
    }
    scenario(
        "5 construction logs (project manager)",
        &mut prior,
        &mut phone,
        "pm-wang",
        Role::ProjectManager,
        rounds,
    );

    // A new job pushed whole: creation plus 50 edits by the office that accepted it.
    let mut created = accepted("bench-new", JobKind::HighVoltage, "邾县数据中心");
    let group = created
        .job()
        .unwrap()
        .checklist
        .keys()
        .next()
        .unwrap()
        .clone();
    for c in 0..50 {
        let e = match c % 3 {
            0 => Edit::UpdateCustomer(Customer {
                contact_name: Some(format!("联系人{c}")),
                ..Default::default()
            }),
            1 => Edit::CheckDocument {
                group: group.clone(),
                item: ChecklistItem {
                    note: Some(format!("收资{c}")),
                    ..Default::default()
                },
            },
            _ => Edit::SpliceNotes {
                pos: 0,
                delete: 0,
                insert: "受理".into(),
            },
        };
        created.apply(&e, &ctx("office1", c + 1)).unwrap();
    }
    let bytes = created.save();
    let policy = WritePolicy::default();
    let a = actor("office1-actor");
    let writer = Writer {
        username: "office1",
        role: Role::OfficeStaff,
        unit: "zhuxian",
        device_id: "office1-device",
        actor: &a,
    };
    let mut load = Vec::new();
    let mut check = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let mut doc = JobDoc::load(&bytes, ActorId::random()).unwrap();
        load.push(t.elapsed().as_secs_f64() * 1e6);
        let t = Instant::now();
        check_changes(&mut doc, &[], None, &writer, &policy).expect("an honest new job passes");
        check.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let (l50, l99) = stats(load);
    let (c50, c99) = stats(check);
    println!(
        "{:<44} {:>4} B  load  {l50:>7.0} µs (p99 {l99:>6.0})  check {c50:>6.0} µs (p99 {c99:>6.0})  check/load {:.2}",
        "new job pushed whole (creation + 50 edits)",
        bytes.len(),
        c50 / l50
    );
}
