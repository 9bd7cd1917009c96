//! Merge semantics of the job document: two managers editing the same job offline.

mod common;

use automerge::ActorId;
use common::*;
use field_core::job::{ConstructionLog, Customer, Finding, FindingTarget, Milestone, Survey};
use field_core::rules::RuleSet;
use field_core::{Edit, InspectionKind, JobDoc, JobKind, MilestoneEvent};
use serde_json::json;

fn actor(n: u8) -> ActorId {
    ActorId::from(vec![n; 16])
}

fn pair() -> (JobDoc, JobDoc) {
    let office = ctx("office1", "counter", "2026-03-02");
    let mut a = JobDoc::create(
        actor(1),
        &new_job(JobKind::LowVoltageSmallMicro, "2026-03-02"),
        &RuleSet::default(),
        &office,
    )
    .unwrap();
    let b = a.fork_as(actor(2));
    (a, b)
}

#[test]
fn two_managers_offline_both_keep_their_work() {
    let (mut cm, mut pm) = pair();
    let cm_ctx = ctx("cm-li", "phone-cm", "2026-03-03");
    let pm_ctx = ctx("pm-wang", "phone-pm", "2026-03-03");

    // Customer manager: survey and notes; project manager: construction log and notes.
    cm.apply(
        &Edit::UpdateSurvey(Survey {
            surveyed_at: Some(at("2026-03-03")),
            address_verified: Some(true),
            load_nature: Some("一般负荷".into()),
            ..Default::default()
        }),
        &cm_ctx,
    )
    .unwrap();
    cm.apply(
        &Edit::SetNotes {
            text: "客户要求周五前送电。".into(),
        },
        &cm_ctx,
    )
    .unwrap();
    pm.apply(
        &Edit::PutConstructionLog {
            id: "log-1".into(),
            log: ConstructionLog {
                at: Some(at("2026-03-03")),
                progress_pct: Some(40.0),
                text: Some("电缆敷设完成".into()),
                ..Default::default()
            },
        },
        &pm_ctx,
    )
    .unwrap();
    pm.apply(
        &Edit::SetNotes {
            text: "表箱已到货。".into(),
        },
        &pm_ctx,
    )
    .unwrap();
    // Both change different customer fields and the same one.
    cm.apply(
        &Edit::UpdateCustomer(Customer {
            contact_name: Some("张经理".into()),
            contact_phone: Some("13911112222".into()),
            ..Default::default()
        }),
        &cm_ctx,
    )
    .unwrap();
    pm.apply(
        &Edit::UpdateCustomer(Customer {
            account_no: Some("3100012345".into()),
            contact_phone: Some("13933334444".into()),
            ..Default::default()
        }),
        &pm_ctx,
    )
    .unwrap();

    cm.merge(&mut pm).unwrap();
    pm.merge(&mut cm).unwrap();
    let a = cm.read().unwrap();
    let b = pm.read().unwrap();
    assert_eq!(a, b, "both replicas agree");
    assert_eq!(a.survey.load_nature.as_deref(), Some("一般负荷"));
    assert_eq!(a.project.logs["log-1"].progress_pct, Some(40.0));
    assert_eq!(a.customer.contact_name.as_deref(), Some("张经理"));
    assert_eq!(a.customer.account_no.as_deref(), Some("3100012345"));
    // Concurrent notes interleave: both texts survive.
    assert!(a.notes.contains("客户要求周五前送电。"), "{}", a.notes);
    assert!(a.notes.contains("表箱已到货。"), "{}", a.notes);
    // The same scalar: a deterministic winner, the loser visible as a conflict.
    let c = a
        .conflicts
        .iter()
        .find(|c| c.path == "customer.contact_phone")
        .expect("conflict visible");
    let mut values = vec![c.winner.clone()];
    values.extend(c.others.clone());
    values.sort_by_key(|v| v.to_string());
    assert_eq!(values, vec![json!("13911112222"), json!("13933334444")]);
    assert_eq!(
        a.customer.contact_phone.as_ref().map(|p| json!(p)),
        Some(c.winner.clone())
    );

    // Resolving the conflict is an ordinary edit of the field.
    cm.apply(
        &Edit::UpdateCustomer(Customer {
            contact_phone: Some("13933334444".into()),
            ..Default::default()
        }),
        &cm_ctx,
    )
    .unwrap();
    let resolved = cm.read().unwrap();
    assert!(resolved.conflicts.is_empty(), "{:?}", resolved.conflicts);
}

#[test]
fn concurrent_appends_survive_and_repeats_do_not_duplicate() {
    let (mut a, mut b) = pair();
    let ca = ctx("cm", "p1", "2026-03-04");
    let cb = ctx("pm", "p2", "2026-03-04");
    let finding = |t: &str| Finding {
        text: Some(t.into()),
        ..Default::default()
    };
    a.apply(
        &Edit::PutFinding {
            target: FindingTarget::Inspection(InspectionKind::Completion),
            id: "f-a".into(),
            finding: finding("接地电阻偏大"),
        },
        &ca,
    )
    .unwrap();
    b.apply(
        &Edit::PutFinding {
            target: FindingTarget::Inspection(InspectionKind::Completion),
            id: "f-b".into(),
            finding: finding("标识牌缺失"),
        },
        &cb,
    )
    .unwrap();
    for (doc, c, id) in [(&mut a, &ca, "m-a"), (&mut b, &cb, "m-b")] {
        let edit = Edit::AddMilestone {
            id: id.into(),
            milestone: Milestone {
                event: Some(MilestoneEvent::SurveyDone),
                at: Some(at("2026-03-04")),
                ..Default::default()
            },
        };
        doc.apply(&edit, c).unwrap();
        // A retried call (the user tapped twice, or the app restarted) changes nothing.
        assert!(doc.apply(&edit, c).unwrap().is_none());
    }
    a.merge(&mut b).unwrap();
    b.merge(&mut a).unwrap();
    // Merging again is idempotent.
    a.merge(&mut b).unwrap();
    let job = a.read().unwrap();
    assert_eq!(job, b.read().unwrap());
    let findings = &job.inspections.completion.findings;
    assert_eq!(findings.len(), 2);
    assert_eq!(findings["f-a"].raised_by.as_deref(), Some("cm"));
    // accepted + two survey milestones
    assert_eq!(job.milestones.len(), 3);
    assert_eq!(job.timeline().len(), 3);
    assert!(job.conflicts.is_empty(), "{:?}", job.conflicts);
}

#[test]
fn unknown_keys_written_by_others_are_preserved() {
    let (mut a, _) = pair();
    {
        use automerge::{ROOT, transaction::Transactable};
        let doc = a.automerge();
        doc.put(ROOT, "x_future_field", "from a newer app").unwrap();
        doc.commit();
    }
    a.apply(
        &Edit::UpdateCustomer(Customer {
            name: Some("新名称".into()),
            ..Default::default()
        }),
        &ctx("cm", "p", "2026-03-05"),
    )
    .unwrap();
    let bytes = a.save();
    let reloaded = JobDoc::load(&bytes, actor(9)).unwrap();
    {
        use automerge::ReadDoc;
        let mut r = reloaded;
        let doc = r.automerge();
        let (v, _) = doc.get(automerge::ROOT, "x_future_field").unwrap().unwrap();
        assert_eq!(v.as_str(), Some("from a newer app"));
    }
}

#[test]
fn document_is_plain_automerge() {
    let (mut a, _) = pair();
    let bytes = a.save();
    // Any automerge implementation can load it: plain maps, text and timestamps.
    let doc = automerge::Automerge::load(&bytes).unwrap();
    use automerge::ReadDoc;
    let (kind, _) = doc.get(automerge::ROOT, "kind").unwrap().unwrap();
    assert_eq!(kind.as_str(), Some("lv_small_micro"));
    let (v, _) = doc.get(automerge::ROOT, "schema_version").unwrap().unwrap();
    assert_eq!(v.as_i64(), Some(1));
}

#[test]
fn invalid_edits_change_nothing() {
    let (mut a, _) = pair();
    let before = a.save();
    let c = ctx("cm", "p", "2026-03-05");
    let bad = [
        Edit::UpdateApplication(field_core::job::Application {
            capacity_kva: Some(-10.0),
            ..Default::default()
        }),
        Edit::UpdateApplication(field_core::job::Application {
            wanted_on: Some("2026-01-01".parse().unwrap()),
            ..Default::default()
        }),
        Edit::AddMilestone {
            id: "early".into(),
            milestone: Milestone {
                event: Some(MilestoneEvent::SurveyDone),
                at: Some(at("2026-02-01")),
                ..Default::default()
            },
        },
        Edit::SpliceNotes {
            pos: 10,
            delete: 0,
            insert: "x".into(),
        },
        Edit::SetNotes {
            text: "长".repeat(100_001),
        },
        Edit::PutSeal {
            id: "bad id!".into(),
            seal: Default::default(),
        },
        Edit::EndWaiting {
            at: at("2026-03-05"),
        },
    ];
    for e in &bad {
        let err = a.apply(e, &c).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(" / "), "bilingual error: {text}");
    }
    assert_eq!(a.save(), before);
}
