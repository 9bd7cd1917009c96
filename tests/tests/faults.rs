//! A flaky network between phones and the server: requests and responses dropped, duplicated,
//! delayed, truncated and reset. Everything still converges, and every change is stored once.

use field_core::job::{ConstructionLog, Customer, Finding, FindingTarget};
use field_core::{Edit, InspectionKind, JobKind, Role};
use fieldline_tests::proxy::{Fault, FaultProxy};
use fieldline_tests::*;
use std::collections::BTreeSet;
use std::time::Duration;

const UNIT: &str = "zhuxian";

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn fault(rng: &mut Rng) -> Fault {
    match rng.below(7) {
        0 => Fault::DropRequest,
        1 => Fault::DropResponse,
        2 => Fault::Duplicate,
        3 => Fault::Delay(Duration::from_millis(rng.below(80))),
        4 => Fault::Truncate,
        5 => Fault::Reset,
        _ => Fault::Pass,
    }
}

#[tokio::test]
async fn a_flaky_day_converges_exactly_once() {
    let server = TestServer::start().await;
    for (u, r) in [
        ("office1", Role::OfficeStaff),
        ("cm-li", Role::CustomerManager),
        ("pm-wang", Role::ProjectManager),
    ] {
        server.add_user(u, r, UNIT);
    }
    let proxy = FaultProxy::start(server.addr, "/api/v1/sync").await;
    let office = Phone::login_at(&proxy.url(), "office1").await;
    let cm = Phone::login_at(&proxy.url(), "cm-li").await;
    let pm = Phone::login_at(&proxy.url(), "pm-wang").await;
    let job = office
        .store
        .create_job("office1", &new_job(JobKind::HighVoltage, UNIT, "弱网测试"))
        .unwrap();
    office
        .store
        .edit(
            &job.id,
            "office1",
            &Edit::UpdateAssignment(field_core::job::Assignment {
                customer_manager: Some("cm-li".into()),
                project_manager: Some("pm-wang".into()),
                ..Default::default()
            }),
        )
        .unwrap();
    while office.try_sync().await.is_err() {}

    let mut rng = Rng(0x5eed_f1e1_d11e);
    let mut appended = BTreeSet::new();
    let phones = [&office, &cm, &pm];
    let mut failed_syncs = 0;
    for round in 0..12 {
        for (i, p) in phones.iter().enumerate() {
            if p.store.job(&job.id).is_err() {
                // Not received yet: just sync.
                proxy.schedule((0..rng.below(3)).map(|_| fault(&mut rng)));
                if p.try_sync().await.is_err() {
                    failed_syncs += 1;
                }
                continue;
            }
            let id = format!("r{round}-p{i}");
            // Each person edits what their role may write: the office reviews, the customer
            // manager inspects, the project manager logs the works; office and customer manager
            // both correct the contact.
            let contact = Edit::UpdateCustomer(Customer {
                contact_name: Some(id.clone()),
                ..Default::default()
            });
            let finding = |target| Edit::PutFinding {
                target,
                id: id.clone(),
                finding: Finding {
                    text: Some(id.clone()),
                    ..Default::default()
                },
            };
            let edit = match (i, rng.below(2)) {
                (0, 0) => finding(FindingTarget::Review),
                (1, 0) => finding(FindingTarget::Inspection(InspectionKind::Completion)),
                (2, 0) => Edit::PutConstructionLog {
                    id: id.clone(),
                    log: ConstructionLog {
                        at: Some(at("2026-11-05")),
                        text: Some(id.clone()),
                        ..Default::default()
                    },
                },
                (2, _) => Edit::PutSeal {
                    id: id.clone(),
                    seal: field_core::job::Seal {
                        number: Some(id.clone()),
                        ..Default::default()
                    },
                },
                _ => contact,
            };
            if !matches!(edit, Edit::UpdateCustomer(_)) {
                appended.insert(id.clone());
            }
            p.store.edit(&job.id, &p.user, &edit).unwrap();
            p.store
                .edit(
                    &job.id,
                    &p.user,
                    &Edit::SpliceNotes {
                        pos: 0,
                        delete: 0,
                        insert: format!("[{id}]"),
                    },
                )
                .unwrap();
            proxy.schedule((0..rng.below(4)).map(|_| fault(&mut rng)));
            if p.try_sync().await.is_err() {
                failed_syncs += 1;
            }
        }
    }
    assert!(proxy.stats().faults > 10, "{:?}", proxy.stats());
    // The network recovers: everyone syncs until quiet.
    proxy.schedule(std::iter::empty());
    while proxy.pending() > 0 {
        let _ = office.try_sync().await;
    }
    for _ in 0..2 {
        for p in phones {
            p.sync().await;
        }
    }
    let docs: Vec<_> = phones
        .iter()
        .map(|p| p.store.job(&job.id).unwrap())
        .collect();
    assert_eq!(docs[0], docs[1]);
    assert_eq!(docs[1], docs[2]);
    let on_server = server.job(&job.id).await;
    assert_eq!(on_server, docs[0]);
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
        assert!(seen.insert(k.clone()), "{k} twice");
    }
    assert_eq!(seen, appended, "every appended item exactly once");
    for a in &appended {
        assert_eq!(d.notes.matches(&format!("[{a}]")).count(), 1);
    }
    // Exactly once on the server: one row per distinct change.
    let stored = server.change_count().await;
    let bytes = office.store.document_bytes(&job.id).unwrap();
    let distinct = automerge::AutoCommit::load(&bytes)
        .unwrap()
        .get_changes(&[])
        .len() as i64;
    assert_eq!(stored, distinct);
    eprintln!(
        "flaky day: {} requests through the proxy, {} faults, {failed_syncs} syncs gave up and were retried later",
        proxy.stats().requests,
        proxy.stats().faults
    );
}
