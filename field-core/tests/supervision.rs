//! Supervision orders (督办): issued by a dispatcher, answered only by the manager they are
//! addressed to, escalated only by the server; the write-rights check holds each part to its
//! writer.

mod common;

use automerge::ActorId;
use common::*;
use field_core::job::{SupervisionEscalation, SupervisionOrder};
use field_core::{Edit, JobDoc, JobKind, Role, RuleSet};

fn order(manager: &str, due: &str) -> SupervisionOrder {
    SupervisionOrder {
        manager: Some(manager.into()),
        manager_name: Some("李明".into()),
        reason: Some("勘查超期，请尽快安排".into()),
        due_on: Some(due.parse().unwrap()),
        stage: Some("survey".into()),
        ..Default::default()
    }
}

fn actor(n: u8) -> ActorId {
    ActorId::from(vec![n; 16])
}

/// A job with order `s1` to `cm1`, as the dispatcher's device wrote it.
fn issued() -> JobDoc {
    let mut doc = JobDoc::create(
        actor(1),
        &new_job(JobKind::LowVoltageResidential, "2026-11-02"),
        &RuleSet::default(),
        &ctx("office1", "dev-office", "2026-11-02"),
    )
    .unwrap();
    doc.apply(
        &Edit::IssueSupervision {
            id: "s1".into(),
            order: order("cm1", "2026-11-05"),
        },
        &ctx("disp1", "dev-disp", "2026-11-03"),
    )
    .unwrap();
    doc
}

/// The server's check of `edit` as `user` on a copy of `base`, on the day orders are answered.
fn check_as(
    base: &mut JobDoc,
    user: &str,
    role: Role,
    n: u8,
    edit: &Edit,
) -> Result<(), field_core::policy::Refusal> {
    common::check_as(base, user, role, n, "2026-11-04", edit)
}

fn answer(text: &str) -> Edit {
    Edit::AnswerSupervision {
        id: "s1".into(),
        text: text.into(),
        at: at("2026-11-04"),
    }
}

#[test]
fn an_order_is_laid_out_with_its_answer_and_reads_back() {
    let mut doc = issued();
    let job = doc.job().unwrap();
    let o = &job.supervision["s1"];
    assert_eq!(o.issued_by.as_deref(), Some("disp1"));
    assert_eq!(o.issued_at, Some(at("2026-11-03")));
    assert!(o.is_open() && !o.is_answered());
    assert!(!o.is_late("2026-11-05".parse().unwrap()));
    assert!(o.is_late("2026-11-06".parse().unwrap()));
    doc.apply(&answer("已约客户明天勘查"), &ctx("cm1", "d", "2026-11-04"))
        .unwrap();
    let o = doc.job().unwrap().supervision["s1"].clone();
    assert_eq!(o.answer.answered_by.as_deref(), Some("cm1"));
    assert!(o.is_answered() && !o.is_late("2026-11-09".parse().unwrap()));
}

#[test]
fn an_order_needs_a_reason_an_addressee_and_a_deadline_after_issue() {
    let mut doc = issued();
    let c = ctx("disp1", "d", "2026-11-03");
    let mut no_reason = order("cm1", "2026-11-05");
    no_reason.reason = Some("  ".into());
    let e = doc
        .apply(
            &Edit::IssueSupervision {
                id: "s2".into(),
                order: no_reason,
            },
            &c,
        )
        .unwrap_err();
    assert!(e.to_string().contains("督办事由"), "{e}");
    let e = doc
        .apply(
            &Edit::IssueSupervision {
                id: "s2".into(),
                order: order("cm1", "2026-11-01"),
            },
            &c,
        )
        .unwrap_err();
    assert!(e.to_string().contains("deadline"), "{e}");
    // Closed: no more answers or changes; closing twice changes nothing.
    let close = Edit::CloseSupervision {
        id: "s1".into(),
        remarks: Some("已办结".into()),
    };
    doc.apply(&close, &c).unwrap();
    assert!(doc.apply(&close, &c).unwrap().is_none());
    assert!(doc.apply(&answer("迟到的答复"), &c).is_err());
    assert!(
        doc.apply(
            &Edit::IssueSupervision {
                id: "s1".into(),
                order: order("cm1", "2026-11-09"),
            },
            &c
        )
        .is_err()
    );
}

#[test]
fn only_the_addressee_answers_and_only_the_server_escalates() {
    let mut base = issued();
    // The addressed customer manager answers.
    assert_eq!(
        check_as(
            &mut base,
            "cm1",
            Role::CustomerManager,
            3,
            &answer("明天去")
        ),
        Ok(())
    );
    // Another customer manager, or a project manager, may not.
    let r = check_as(&mut base, "cm2", Role::CustomerManager, 4, &answer("代答")).unwrap_err();
    assert_eq!(r.code, "not_addressee");
    let r = check_as(&mut base, "pm1", Role::ProjectManager, 5, &answer("代答")).unwrap_err();
    assert_eq!(r.code, "not_addressee");
    // The manager cannot rewrite the order itself, nor close it.
    let r = check_as(
        &mut base,
        "cm1",
        Role::CustomerManager,
        3,
        &Edit::IssueSupervision {
            id: "s1".into(),
            order: order("cm1", "2026-12-30"),
        },
    )
    .unwrap_err();
    assert_eq!(r.code, "forbidden");
    // A dispatcher changes the deadline and closes the order.
    assert_eq!(
        check_as(
            &mut base,
            "disp1",
            Role::Dispatcher,
            6,
            &Edit::IssueSupervision {
                id: "s1".into(),
                order: SupervisionOrder {
                    due_on: Some("2026-11-10".parse().unwrap()),
                    ..Default::default()
                },
            },
        ),
        Ok(())
    );
    // Office staff may not issue orders.
    let r = check_as(
        &mut base,
        "office1",
        Role::OfficeStaff,
        7,
        &Edit::IssueSupervision {
            id: "s9".into(),
            order: order("cm1", "2026-11-09"),
        },
    )
    .unwrap_err();
    assert_eq!(r.code, "forbidden");
    // Nobody but the server escalates, not even an admin.
    let esc = Edit::RecordEscalation {
        id: "s1".into(),
        escalation: SupervisionEscalation {
            escalated_at: Some(at("2026-11-04")),
            leaders: Some("lead1".into()),
            leader_names: Some("赵主任".into()),
        },
    };
    for (user, role) in [("disp1", Role::Dispatcher), ("admin1", Role::Admin)] {
        let r = check_as(&mut base, user, role, 8, &esc).unwrap_err();
        assert_eq!(r.code, "server_only", "{user}");
    }
}
