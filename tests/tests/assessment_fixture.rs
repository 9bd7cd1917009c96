//! The assessment's figures (考核: average connection time, on-time rate, satisfaction,
//! supporting projects under way) through the real server, against values computed by hand on a
//! small fixture: six jobs of one unit entered on real phones (the counter, two customer
//! managers, a project manager, a dispatcher) and one customer's own rating through the public
//! API. November 2026 has no public holiday, so a month's working days are its weekdays.
//!
//! | job | kind | manager | accepted | handed over | powered on | working days | score |
//! |---|---|---|---|---|---|---|---|
//! | J1 | small/micro | cm-a | Mon 11-02 | 11-02 (met) | Thu 11-12 | 8 (whole job met) | visit 5 |
//! | J2 | residential | cm-a | Wed 11-04 | Thu 11-05 (missed) | Mon 11-16 | 8 | visit 2 (low) |
//! | J3 | residential | cm-b | Mon 11-09 | 11-09 (met) | Fri 11-27 | 14 | rating 4 |
//! | J4 | residential | cm-b | Mon 10-26 | 10-26 (October) | Tue 12-01 | (December) | – |
//! | J5 | 10 kV | cm-b, pm-k | Mon 11-02 | 11-02 (met) | – | plan replied Fri 11-06 (met) | – |
//! | J6 | small/micro | cm-a, pm-k | Tue 12-01 | 12-01 (December) | – | – | – |
//!
//! Working days count `(accepted, powered on]`. J5's utility-invested 10 kV works run from the
//! plan reply (limit 10 working days: overdue since 11-20) at 40 %; J6's small/micro works from
//! today's survey (limit 5: on time whatever day the test runs) at 60 %.

use chrono::{DateTime, Utc};
use field_core::job::{Assignment, Milestone, Project, ReturnVisit};
use field_core::{Edit, JobKind, MilestoneEvent, Role, Voltage};
use fieldline_tests::*;
use serde_json::{Value, json};

const UNIT: &str = "kaohe";

fn milestone(id: &str, event: MilestoneEvent, at: DateTime<Utc>) -> Edit {
    Edit::AddMilestone {
        id: id.into(),
        milestone: Milestone {
            event: Some(event),
            at: Some(at),
            ..Default::default()
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_months_figures_match_a_hand_computed_fixture() {
    let server = TestServer::start().await;
    for (u, r) in [
        ("office-k", Role::OfficeStaff),
        ("disp-k", Role::Dispatcher),
        ("cm-a", Role::CustomerManager),
        ("cm-b", Role::CustomerManager),
        ("pm-k", Role::ProjectManager),
    ] {
        server.add_user(u, r, UNIT);
    }
    let base = server.url();
    let office = Phone::login(&server, "office-k").await;
    // (kind, customer manager, project manager, accepted, handed over)
    let fixture = [
        (
            JobKind::LowVoltageSmallMicro,
            "cm-a",
            None,
            "2026-11-02",
            "2026-11-02",
        ),
        (
            JobKind::LowVoltageResidential,
            "cm-a",
            None,
            "2026-11-04",
            "2026-11-05",
        ),
        (
            JobKind::LowVoltageResidential,
            "cm-b",
            None,
            "2026-11-09",
            "2026-11-09",
        ),
        (
            JobKind::LowVoltageResidential,
            "cm-b",
            None,
            "2026-10-26",
            "2026-10-26",
        ),
        (
            JobKind::HighVoltage,
            "cm-b",
            Some("pm-k"),
            "2026-11-02",
            "2026-11-02",
        ),
        (
            JobKind::LowVoltageSmallMicro,
            "cm-a",
            Some("pm-k"),
            "2026-12-01",
            "2026-12-01",
        ),
    ];
    let mut ids = Vec::new();
    for (i, (kind, cm, pm, accepted, handed)) in fixture.iter().enumerate() {
        let mut new = new_job(*kind, UNIT, &format!("考核客户{}", i + 1));
        new.accepted_at = at(accepted);
        if *kind == JobKind::HighVoltage {
            new.application.voltage = Some(Voltage::Kv10);
        }
        let job = office.store.create_job("office-k", &new).unwrap();
        office
            .store
            .edit(
                &job.id,
                "office-k",
                &Edit::UpdateAssignment(Assignment {
                    customer_manager: Some(cm.to_string()),
                    project_manager: pm.map(str::to_string),
                    assigned_at: Some(at(handed)),
                    ..Default::default()
                }),
            )
            .unwrap();
        ids.push(job.id);
    }
    office.sync().await;
    let (cm_a, cm_b) = (
        Phone::login(&server, "cm-a").await,
        Phone::login(&server, "cm-b").await,
    );
    let pm = Phone::login(&server, "pm-k").await;
    let disp = Phone::login(&server, "disp-k").await;
    for p in [&cm_a, &cm_b, &pm, &disp] {
        p.sync().await;
    }
    // Power-on and the plan reply, on the customer managers' phones.
    for (phone, user, job, event, day) in [
        (&cm_a, "cm-a", 0, MilestoneEvent::PoweredOn, "2026-11-12"),
        (&cm_a, "cm-a", 1, MilestoneEvent::PoweredOn, "2026-11-16"),
        (&cm_b, "cm-b", 2, MilestoneEvent::PoweredOn, "2026-11-27"),
        (&cm_b, "cm-b", 3, MilestoneEvent::PoweredOn, "2026-12-01"),
        (
            &cm_b,
            "cm-b",
            4,
            MilestoneEvent::SupplyPlanReplied,
            "2026-11-06",
        ),
    ] {
        phone
            .store
            .edit(
                &ids[job],
                user,
                &milestone(&format!("m-{job}"), event, at(day)),
            )
            .unwrap();
    }
    cm_a.store
        .edit(
            &ids[5],
            "cm-a",
            &milestone("m-survey", MilestoneEvent::SurveyDone, Utc::now()),
        )
        .unwrap();
    cm_a.sync().await;
    cm_b.sync().await;
    // The supporting projects, on the project manager's phone.
    pm.sync().await;
    for (job, pct) in [(4, 40.0), (5, 60.0)] {
        pm.store
            .edit(
                &ids[job],
                "pm-k",
                &Edit::UpdateProject(Project {
                    utility_invested: Some(true),
                    voltage: Some(if job == 4 {
                        Voltage::Kv10
                    } else {
                        Voltage::V380
                    }),
                    progress_pct: Some(pct),
                    ..Default::default()
                }),
            )
            .unwrap();
    }
    pm.sync().await;
    // The dispatcher's return visits; J3's customer rates through the public API.
    disp.sync().await;
    for (job, score) in [(0, 5), (1, 2)] {
        disp.store
            .edit(
                &ids[job],
                "disp-k",
                &Edit::UpdateReturnVisit(ReturnVisit {
                    visited_at: Some(Utc::now()),
                    channel: Some("phone".into()),
                    satisfaction: Some(score),
                    ..Default::default()
                }),
            )
            .unwrap();
    }
    disp.sync().await;
    cm_b.sync().await;
    let token = cm_b.store.job(&ids[2]).unwrap().progress_token.unwrap();
    let rated = reqwest::Client::new()
        .post(format!("{base}/api/v1/public/track/{token}/rating"))
        .json(&json!({"score": 4, "comment": "按时送电"}))
        .send()
        .await
        .unwrap();
    assert!(rated.status().is_success(), "{}", rated.status());

    let session = form_login(&base, "office-k", PASSWORD).await;
    let a: Value = session_get(&base, &session, "/api/v1/assessment?month=2026-11")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["from"], "2026-11-01");
    assert_eq!(a["to"], "2026-11-30");
    // Average connection time: (8 + 8 + 14) / 3 = 10; per kind 8 (J1) and (8 + 14) / 2 = 11.
    assert_eq!(a["total"], json!({"jobs": 3, "avg_working_days": 10.0}));
    assert_eq!(
        a["by_kind"],
        json!({
            "lv_small_micro": {"jobs": 1, "avg_working_days": 8.0},
            "lv_residential": {"jobs": 2, "avg_working_days": 11.0},
        })
    );
    // Clocks that ended in November: hand-over J1, J3, J5 met and J2 missed; J1's whole job
    // (8 of 15) met; J5's plan reply (4 of 10) met. 5 of 6 on time.
    assert_eq!(
        a["by_stage"],
        json!({
            "handover": {"met": 3, "missed": 1},
            "whole_job": {"met": 1, "missed": 0},
            "supply_plan_reply": {"met": 1, "missed": 0},
        })
    );
    assert_eq!(a["on_time"], json!({"met": 5, "missed": 1}));
    // Satisfaction: visits 5 and 2, J3's own rating 4: (5 + 2 + 4) / 3; one score ≤ 2.
    let s = &a["satisfaction"];
    assert_eq!(
        (
            s["visits"].as_i64(),
            s["ratings"].as_i64(),
            s["low"].as_i64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert!(
        (s["average"].as_f64().unwrap() - 11.0 / 3.0).abs() < 1e-9,
        "{s}"
    );
    // Per customer manager.
    let managers = a["managers"].as_array().unwrap();
    let m = |name: &str| {
        managers
            .iter()
            .find(|m| m["manager"] == name)
            .unwrap()
            .clone()
    };
    let (a_, b_) = (m("cm-a"), m("cm-b"));
    assert_eq!(
        a_["connection"],
        json!({"jobs": 2, "avg_working_days": 8.0})
    );
    assert_eq!(a_["on_time"], json!({"met": 2, "missed": 1}));
    assert_eq!(a_["satisfaction"]["average"], 3.5);
    assert_eq!(
        b_["connection"],
        json!({"jobs": 1, "avg_working_days": 14.0})
    );
    assert_eq!(b_["on_time"], json!({"met": 3, "missed": 0}));
    assert_eq!(b_["satisfaction"]["average"], 4.0);
    assert_eq!(managers.len(), 2, "{managers:?}");
    // Supporting projects under way: J5 overdue at 40 %, J6 on time at 60 %.
    assert_eq!(
        a["projects"],
        json!([{"manager": "pm-k", "running": 2, "overdue": 1, "avg_progress": 50.0}])
    );
    // October holds J4's hand-over only; December its power-on (and J6's hand-over).
    let oct: Value = session_get(&base, &session, "/api/v1/assessment?month=2026-10")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(oct["total"]["jobs"], 0);
    assert_eq!(oct["on_time"], json!({"met": 1, "missed": 0}));
}
