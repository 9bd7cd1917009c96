//! A property test of the whole sync protocol: three phones (office, customer manager, project
//! manager) and the real server, random edits, and every request may be dropped, its response
//! lost, duplicated, replayed out of order or cut, and the server restarted. In the end, with the
//! network quiet, all three phones and the server hold the same job, every appended item exactly
//! once, and each change is stored once.
//!
//! Cases: `FIELDLINE_PROPTEST_CASES` (default 24 in the test suite; the dedicated run uses
//! 10,000: `FIELDLINE_PROPTEST_CASES=10000 cargo test --release -p fieldline-tests --test
//! prop_sync -- --nocapture`).

use field_core::codes::InspectionKind;
use field_core::job::{ConstructionLog, Customer, Finding, FindingTarget, Seal};
use field_core::{Edit, JobKind, Role};
use fieldline_tests::proxy::{Fault, FaultProxy};
use fieldline_tests::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::collections::BTreeSet;

const UNIT: &str = "zhuxian";
const USERS: [&str; 3] = ["office1", "cm-li", "pm-wang"];

#[derive(Debug, Clone)]
enum Step {
    /// Phone `phone` makes edit `kind` (what its role may write).
    Edit { phone: usize, kind: u8 },
    /// Phone `phone` syncs while the network does `faults` to its next requests.
    Sync { phone: usize, faults: Vec<Fault> },
    /// The server stops and starts again on the same data.
    Restart,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        4 => Just(Fault::Pass),
        1 => Just(Fault::DropRequest),
        1 => Just(Fault::DropResponse),
        1 => Just(Fault::Duplicate),
        1 => Just(Fault::Replay),
        1 => Just(Fault::Truncate),
        1 => Just(Fault::Reset),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0..3usize, 0..3u8).prop_map(|(phone, kind)| Step::Edit { phone, kind }),
        4 => (0..3usize, proptest::collection::vec(fault(), 0..4))
            .prop_map(|(phone, faults)| Step::Sync { phone, faults }),
        1 => Just(Step::Restart),
    ]
}

struct World {
    server: tokio::sync::Mutex<TestServer>,
    proxy: FaultProxy,
    phones: Vec<Phone>,
}

/// Phone `i`'s edit `kind` of job `job` with marker `m`; returns the id of what it appends.
fn edit(world: &World, i: usize, kind: u8, job: &str, m: &str) -> Option<String> {
    let finding = |target| Edit::PutFinding {
        target,
        id: m.to_string(),
        finding: Finding {
            text: Some(m.to_string()),
            ..Default::default()
        },
    };
    let contact = Edit::UpdateCustomer(Customer {
        contact_name: Some(m.to_string()),
        ..Default::default()
    });
    let notes = Edit::SpliceNotes {
        pos: 0,
        delete: 0,
        insert: format!("[{m}]"),
    };
    let (e, appended) = match (i, kind) {
        (0, 0) => (finding(FindingTarget::Review), true),
        (1, 0) => (
            finding(FindingTarget::Inspection(InspectionKind::Completion)),
            true,
        ),
        (2, 0) => (
            Edit::PutConstructionLog {
                id: m.to_string(),
                log: ConstructionLog {
                    text: Some(m.to_string()),
                    ..Default::default()
                },
            },
            true,
        ),
        (2, 1) => (
            Edit::PutSeal {
                id: m.to_string(),
                seal: Seal {
                    number: Some(m.to_string()),
                    ..Default::default()
                },
            },
            true,
        ),
        (_, 1) => (contact, false),
        _ => (notes, true),
    };
    world.phones[i].store.edit(job, USERS[i], &e).unwrap();
    appended.then(|| m.to_string())
}

async fn run_case(world: &World, case: usize, steps: &[Step]) -> Result<(), TestCaseError> {
    world.proxy.clear();
    let office = &world.phones[0];
    let job = accept(
        office,
        JobKind::LowVoltageSmallMicro,
        UNIT,
        &format!("性质{case}"),
        "cm-li",
        Some("pm-wang"),
    );
    for p in &world.phones {
        p.sync().await;
    }
    let mut appended = BTreeSet::new();
    for (n, s) in steps.iter().enumerate() {
        match s {
            Step::Edit { phone, kind } => {
                appended.extend(edit(world, *phone, *kind, &job, &format!("c{case}s{n}")));
            }
            Step::Sync { phone, faults } => {
                world.proxy.schedule(faults.iter().copied());
                let _ = world.phones[*phone].try_sync().await;
                // A request still waiting to be replayed reaches the server before the next
                // one, whoever sends it.
                world.proxy.clear_faults();
            }
            Step::Restart => world.server.lock().await.restart().await,
        }
    }
    // Quiet network: everyone syncs until nothing moves.
    world.proxy.clear();
    for _ in 0..3 {
        for p in &world.phones {
            p.sync().await;
        }
    }
    let docs: Vec<_> = world
        .phones
        .iter()
        .map(|p| p.store.job(&job).unwrap())
        .collect();
    let server = world.server.lock().await;
    let on_server = server.job(&job).await;
    prop_assert_eq!(&docs[0], &docs[1]);
    prop_assert_eq!(&docs[1], &docs[2]);
    prop_assert_eq!(&docs[0], &on_server);
    let d = &docs[0];
    let mut seen = BTreeSet::new();
    for k in d
        .project
        .logs
        .keys()
        .chain(d.inspections.completion.findings.keys())
        .chain(d.review.findings.keys())
        .chain(d.metering.seals.keys())
    {
        prop_assert!(seen.insert(k.clone()), "{} twice", k);
    }
    for a in &appended {
        let in_notes = d.notes.matches(&format!("[{a}]")).count();
        prop_assert!(
            seen.contains(a) || in_notes == 1,
            "{} lost (notes: {})",
            a,
            d.notes
        );
        prop_assert!(in_notes <= 1, "{} twice in the notes", a);
    }
    let rows = server
        .env()
        .store
        .read()
        .unwrap()
        .job_change_count(&job)
        .unwrap();
    let distinct = {
        let bytes = office.store.document_bytes(&job).unwrap();
        automerge::AutoCommit::load(&bytes)
            .unwrap()
            .get_changes(&[])
            .len() as i64
    };
    prop_assert_eq!(rows, distinct, "each change stored once");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_phones_and_a_faulty_network_converge_exactly_once() {
    let cases: u32 = std::env::var("FIELDLINE_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let server = TestServer::start().await;
    for (u, r) in USERS.iter().zip([
        Role::OfficeStaff,
        Role::CustomerManager,
        Role::ProjectManager,
    ]) {
        server.add_user(u, r, UNIT);
    }
    let proxy = FaultProxy::start(server.addr, "/api/v1/sync").await;
    let mut phones = Vec::new();
    for u in USERS {
        phones.push(Phone::login_at(&proxy.url(), u).await);
    }
    let world = World {
        server: tokio::sync::Mutex::new(server),
        proxy,
        phones,
    };
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let started = std::time::Instant::now();
    let rt = tokio::runtime::Handle::current();
    let result = tokio::task::block_in_place(|| {
        runner.run(&proptest::collection::vec(step(), 1..14), |steps| {
            let case = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            rt.block_on(run_case(&world, case, &steps))
        })
    });
    eprintln!(
        "sync protocol property: {} cases ({} generated) in {:.1} s",
        cases,
        counter.load(std::sync::atomic::Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}
