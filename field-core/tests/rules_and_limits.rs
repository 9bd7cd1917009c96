//! Rule verdicts and time limits on concrete jobs.

mod common;

use common::*;
use field_core::job::{Application, ChecklistItem, Milestone, Survey};
use field_core::rules::{Outcome, RuleBook, RuleSet};
use field_core::sla::{SlaState, Stage};
use field_core::{
    Edit, GridHealth, Importance, JobKind, MilestoneEvent, Source, SpecialLoad, Store, Tariff,
    Voltage,
};

fn d(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
}

fn milestone(store: &Store, job: &str, id: &str, event: MilestoneEvent, date: &str) {
    store
        .edit(
            job,
            "u",
            &Edit::AddMilestone {
                id: id.into(),
                milestone: Milestone {
                    event: Some(event),
                    at: Some(at(date)),
                    ..Default::default()
                },
            },
        )
        .unwrap();
}

fn store() -> Store {
    Store::open_in_memory()
        .unwrap()
        .with_clock(|| at("2026-09-25"))
}

#[test]
fn small_micro_whole_job_skips_national_day() {
    let s = store();
    // Accepted on Friday 2026-09-25 (a holiday); 15 working days skip the National Day week and
    // count the adjusted working Saturday 10-10.
    let job = s
        .create_job("o", &new_job(JobKind::LowVoltageSmallMicro, "2026-09-25"))
        .unwrap();
    let limits = s.time_limits(&job.id, d("2026-09-25")).unwrap();
    let whole = limits.get(Stage::WholeJob).unwrap();
    assert_eq!(whole.limit_days, 15);
    assert_eq!(whole.due_on, Some(d("2026-10-22")));
    assert_eq!(whole.state, SlaState::OnTrack);
    // Same-day hand-over; 09-25 is the Mid-Autumn holiday, so "the same day" is the next
    // working day, Monday 09-28.
    let handover = limits.get(Stage::Handover).unwrap();
    assert_eq!(handover.due_on, Some(d("2026-09-28")));
    assert_eq!(handover.state, SlaState::DueSoon);
    // Handed over on Tuesday: missed.
    milestone(&s, &job.id, "ho", MilestoneEvent::HandedOver, "2026-09-29");
    let limits = s.time_limits(&job.id, d("2026-09-29")).unwrap();
    assert_eq!(limits.get(Stage::Handover).unwrap().state, SlaState::Missed);
    // Later, overdue without power-on.
    let due_day = s.time_limits(&job.id, d("2026-10-22")).unwrap();
    assert_eq!(
        due_day.get(Stage::WholeJob).unwrap().state,
        SlaState::DueSoon
    );
    let late = s.time_limits(&job.id, d("2026-10-23")).unwrap();
    assert_eq!(late.get(Stage::WholeJob).unwrap().state, SlaState::Overdue);
    assert_eq!(late.get(Stage::WholeJob).unwrap().used_days, 16);
    // Powered on in time: met.
    milestone(&s, &job.id, "on", MilestoneEvent::PoweredOn, "2026-10-20");
    let done = s.time_limits(&job.id, d("2026-10-22")).unwrap();
    assert_eq!(done.get(Stage::WholeJob).unwrap().state, SlaState::Met);
    assert_eq!(done.get(Stage::WholeJob).unwrap().used_days, 13);
}

#[test]
fn waiting_on_the_customer_pauses_the_clock() {
    let s = Store::open_in_memory()
        .unwrap()
        .with_clock(|| at("2026-11-02"));
    let mut n = new_job(JobKind::HighVoltage, "2026-11-02");
    n.application.source = Some(Source::Dual);
    let job = s.create_job("o", &n).unwrap();
    let base = s.time_limits(&job.id, d("2026-11-02")).unwrap();
    let plan = base.get(Stage::SupplyPlanReply).unwrap();
    assert_eq!(plan.limit_days, 18);
    assert_eq!(plan.due_on, Some(d("2026-11-26")));
    // Waiting Wed 11-04 .. Mon 11-09: Thu, Fri, Mon paused (3 working days).
    s.edit(
        &job.id,
        "cm",
        &Edit::StartWaiting {
            id: "w1".into(),
            reason: "客户补充资料".into(),
            at: at("2026-11-04"),
        },
    )
    .unwrap();
    let mid = s.time_limits(&job.id, d("2026-11-06")).unwrap();
    let plan = mid.get(Stage::SupplyPlanReply).unwrap();
    assert!(plan.paused_now);
    assert_eq!(plan.used_days, 2);
    assert_eq!(plan.paused_days, 2);
    assert!(s.job(&job.id).unwrap().waiting());
    s.edit(
        &job.id,
        "cm",
        &Edit::EndWaiting {
            at: at("2026-11-09"),
        },
    )
    .unwrap();
    let after = s.time_limits(&job.id, d("2026-11-10")).unwrap();
    let plan = after.get(Stage::SupplyPlanReply).unwrap();
    assert!(!plan.paused_now);
    assert_eq!(plan.paused_days, 3);
    assert_eq!(plan.used_days, 3);
    assert_eq!(plan.due_on, Some(d("2026-12-01")));
    // Ending a wait that is not running is an error.
    assert!(
        s.edit(
            &job.id,
            "cm",
            &Edit::EndWaiting {
                at: at("2026-11-10")
            }
        )
        .is_err()
    );
}

#[test]
fn power_on_clock_starts_when_all_preconditions_hold() {
    let s = store();
    let job = s
        .create_job("o", &new_job(JobKind::HighVoltage, "2026-09-01"))
        .unwrap();
    milestone(
        &s,
        &job.id,
        "a",
        MilestoneEvent::CompletionInspectionPassed,
        "2026-09-10",
    );
    milestone(
        &s,
        &job.id,
        "b",
        MilestoneEvent::ContractSigned,
        "2026-09-11",
    );
    let l = s.time_limits(&job.id, d("2026-09-14")).unwrap();
    assert_eq!(l.get(Stage::PowerOn).unwrap().state, SlaState::NotStarted);
    milestone(&s, &job.id, "c", MilestoneEvent::FeesPaid, "2026-09-14");
    let l = s.time_limits(&job.id, d("2026-09-14")).unwrap();
    let p = l.get(Stage::PowerOn).unwrap();
    assert_eq!(p.started_on, Some(d("2026-09-14")));
    assert_eq!(p.due_on, Some(d("2026-09-17")));
}

#[test]
fn inspections_and_approval_apply_by_facts() {
    let s = store();
    let mut n = new_job(JobKind::HighVoltage, "2026-09-01");
    n.application = Application {
        importance: Some(Importance::Normal),
        grid_distance_m: Some(320.0),
        ..Default::default()
    };
    let job = s.create_job("o", &n).unwrap();
    let l = s.time_limits(&job.id, d("2026-09-02")).unwrap();
    assert!(l.get(Stage::DesignReview).is_none());
    assert!(l.get(Stage::AccessApproval).is_some());
    s.edit(
        &job.id,
        "cm",
        &Edit::SetSpecialLoad {
            load: SpecialLoad::Harmonic,
            present: true,
        },
    )
    .unwrap();
    let l = s.time_limits(&job.id, d("2026-09-02")).unwrap();
    assert_eq!(l.get(Stage::DesignReview).unwrap().limit_days, 3);
    assert_eq!(l.get(Stage::MidInspection).unwrap().limit_days, 2);
    let v = s.verdicts(&job.id).unwrap();
    assert_eq!(v.inspections_required.outcome, Outcome::Yes);
    assert!(v.inspections_required.reasons[0].zh.contains("高次谐波"));
    assert_eq!(v.approval_exempt.outcome, Outcome::No);
    assert!(v.approval_exempt.reasons[0].en.contains("320"));
}

fn job_with(kind: JobKind, app: Application) -> field_core::Job {
    let s = store();
    let mut n = new_job(kind, "2026-09-01");
    n.application = app;
    s.create_job("o", &n).unwrap()
}

#[test]
fn zero_investment_paths() {
    let r = RuleSet::default();
    let sm = job_with(JobKind::LowVoltageSmallMicro, Application::default());
    assert_eq!(r.zero_investment(&sm).outcome, Outcome::Yes);
    let res = job_with(
        JobKind::LowVoltageResidential,
        Application {
            tariff: Some(Tariff::Residential),
            voltage: Some(Voltage::V220),
            ..Default::default()
        },
    );
    assert_eq!(r.zero_investment(&res).outcome, Outcome::Yes);
    let hv_ev = job_with(
        JobKind::HighVoltage,
        Application {
            tariff: Some(Tariff::CommercialIndustrial),
            dev_zone: Some(field_core::DevZone::None),
            ev_charging: Some(true),
            ..Default::default()
        },
    );
    assert_eq!(r.zero_investment(&hv_ev).outcome, Outcome::Yes);
    let hv_plain = job_with(
        JobKind::HighVoltage,
        Application {
            tariff: Some(Tariff::CommercialIndustrial),
            dev_zone: Some(field_core::DevZone::Municipal),
            replacement_share_pct: Some(40.0),
            ..Default::default()
        },
    );
    let v = r.zero_investment(&hv_plain);
    assert_eq!(v.outcome, Outcome::No);
    assert!(v.reasons.iter().any(|x| x.code == "replacement_low"));
    // Four steps when the utility does not invest to the red line, three when it does.
    assert_eq!(r.service_steps(&hv_plain).len(), 4);
    assert_eq!(r.service_steps(&hv_ev).len(), 3);
    let unknown = job_with(JobKind::HighVoltage, Application::default());
    assert_eq!(r.zero_investment(&unknown).outcome, Outcome::Unknown);
}

#[test]
fn onsite_plan_reply_eligibility() {
    let r = RuleSet::default();
    let ok = job_with(
        JobKind::HighVoltage,
        Application {
            source: Some(Source::Single),
            voltage: Some(Voltage::Kv10),
            capacity_kva: Some(1250.0),
            ..Default::default()
        },
    );
    assert_eq!(r.onsite_plan_reply(&ok).outcome, Outcome::Yes);
    let big = job_with(
        JobKind::HighVoltage,
        Application {
            source: Some(Source::Single),
            voltage: Some(Voltage::Kv10),
            capacity_kva: Some(1600.0),
            ..Default::default()
        },
    );
    let v = r.onsite_plan_reply(&big);
    assert_eq!(v.outcome, Outcome::No);
    assert!(v.reasons.iter().any(|x| x.code == "capacity_over"));
}

#[test]
fn direct_install_needs_verified_survey_and_documents() {
    let s = store();
    let mut n = new_job(JobKind::LowVoltageSmallMicro, "2026-09-25");
    n.application = Application {
        capacity_kva: Some(50.0),
        grid_health: Some(GridHealth::Healthy),
        ..Default::default()
    };
    let job = s.create_job("cm", &n).unwrap();
    let v = s.verdicts(&job.id).unwrap();
    assert_eq!(v.direct_install.outcome, Outcome::Unknown);
    assert!(
        v.direct_install
            .reasons
            .iter()
            .any(|r| r.code == "documents_missing")
    );
    for (group, doc) in [
        ("subject_proof", "business_licence"),
        ("property_proof", "property_cert"),
    ] {
        s.edit(
            &job.id,
            "cm",
            &Edit::CheckDocument {
                group: group.into(),
                item: ChecklistItem {
                    doc_type: Some(doc.into()),
                    collected: Some(true),
                    ..Default::default()
                },
            },
        )
        .unwrap();
    }
    s.edit(
        &job.id,
        "cm",
        &Edit::UpdateSurvey(Survey {
            address_verified: Some(true),
            capacity_verified: Some(true),
            category_verified: Some(true),
            load_nature: Some("一般负荷".into()),
            ..Default::default()
        }),
    )
    .unwrap();
    let v = s.verdicts(&job.id).unwrap();
    assert_eq!(
        v.direct_install.outcome,
        Outcome::Yes,
        "{:?}",
        v.direct_install
    );
    // An agent filing adds the agent's documents.
    s.edit(
        &job.id,
        "cm",
        &Edit::UpdateAgent(field_core::job::Agent {
            filed_by_agent: Some(true),
            ..Default::default()
        }),
    )
    .unwrap();
    let v = s.verdicts(&job.id).unwrap();
    assert_eq!(v.direct_install.outcome, Outcome::Unknown);
    let required: Vec<_> = v
        .required_documents
        .iter()
        .filter(|g| g.required)
        .map(|g| g.group.key.as_str())
        .collect();
    assert_eq!(
        required,
        [
            "subject_proof",
            "property_proof",
            "agent_authorisation",
            "agent_id"
        ]
    );
    // A sick grid cell blocks direct install whatever else holds.
    s.edit(
        &job.id,
        "cm",
        &Edit::UpdateApplication(Application {
            grid_health: Some(GridHealth::Sick),
            ..Default::default()
        }),
    )
    .unwrap();
    assert_eq!(
        s.verdicts(&job.id).unwrap().direct_install.outcome,
        Outcome::No
    );
}

#[test]
fn unit_override_applies_from_its_effective_date_and_jobs_keep_their_set() {
    let mut override_set = RuleSet {
        id: "zhuxian-2026".into(),
        version: 2,
        unit: Some("zhuxian".into()),
        effective_from: d("2026-10-01"),
        ..Default::default()
    };
    override_set.limits.small_micro_whole_job = 10;
    let json = serde_json::to_string(&override_set).unwrap();

    let mut book = RuleBook::default();
    book.add_json(&json).unwrap();
    assert_eq!(
        book.in_force("zhuxian", d("2026-09-30")).id,
        "national-default"
    );
    assert_eq!(book.in_force("zhuxian", d("2026-10-01")).id, "zhuxian-2026");
    assert_eq!(
        book.in_force("other", d("2026-10-01")).id,
        "national-default"
    );

    let s = store();
    let before = s
        .create_job("o", &new_job(JobKind::LowVoltageSmallMicro, "2026-09-25"))
        .unwrap();
    s.install_rules(&json).unwrap();
    let after = s
        .create_job("o", &new_job(JobKind::LowVoltageSmallMicro, "2026-10-12"))
        .unwrap();
    let l1 = s.time_limits(&before.id, d("2026-10-12")).unwrap();
    let l2 = s.time_limits(&after.id, d("2026-10-12")).unwrap();
    assert_eq!(l1.get(Stage::WholeJob).unwrap().limit_days, 15);
    assert_eq!(l2.get(Stage::WholeJob).unwrap().limit_days, 10);
    // A rule set missing a job kind is refused.
    let mut broken = override_set.clone();
    broken.kinds.pop();
    assert!(
        s.install_rules(&serde_json::to_string(&broken).unwrap())
            .is_err()
    );
}

#[test]
fn provisional_answers_beyond_the_data() {
    let s = Store::open_in_memory()
        .unwrap()
        .with_clock(|| at("2026-12-24"));
    let job = s
        .create_job("o", &new_job(JobKind::LowVoltageSmallMicro, "2026-12-24"))
        .unwrap();
    let l = s.time_limits(&job.id, d("2026-12-24")).unwrap();
    assert!(l.get(Stage::WholeJob).unwrap().provisional);
    assert!(!l.get(Stage::Handover).unwrap().provisional);
    // A newer calendar delivered later replaces the embedded one.
    let bundle = r#"{"version": 2099000000, "years": [{"year": 2027, "papers": [],
        "days": [{"name": "元旦", "date": "2027-01-01", "isOffDay": true}]}]}"#;
    assert!(s.install_calendar(bundle).unwrap());
    let l = s.time_limits(&job.id, d("2026-12-24")).unwrap();
    assert!(!l.get(Stage::WholeJob).unwrap().provisional);
    assert!(
        !s.install_calendar(bundle).unwrap(),
        "same version again is a no-op"
    );
}

#[test]
fn warnings_follow_the_rule_sets_thresholds() {
    use field_core::sla::{StageClock, Warning};
    let rules = RuleSet::default();
    assert_eq!(rules.thresholds.warn_percent, vec![50, 75, 90]);
    let clock = |used: i64, state: SlaState, ended: bool| StageClock {
        stage: Stage::SupplyPlanReply,
        limit_days: 10,
        started_on: Some(d("2026-11-02")),
        ended_on: ended.then(|| d("2026-11-20")),
        due_on: Some(d("2026-11-16")),
        used_days: used,
        paused_days: 0,
        paused: vec![],
        paused_now: false,
        state,
        provisional: false,
    };
    let t = &rules.thresholds;
    assert_eq!(clock(4, SlaState::OnTrack, false).warning(t), None);
    assert_eq!(
        clock(5, SlaState::OnTrack, false).warning(t),
        Some(Warning::Used(50))
    );
    assert_eq!(
        clock(8, SlaState::OnTrack, false).warning(t),
        Some(Warning::Used(75))
    );
    assert_eq!(
        clock(9, SlaState::DueSoon, false).warning(t),
        Some(Warning::DueSoon)
    );
    assert_eq!(
        clock(12, SlaState::Overdue, false).warning(t),
        Some(Warning::Overdue)
    );
    assert_eq!(clock(12, SlaState::Missed, true).warning(t), None, "ended");
    // A unit's own thresholds.
    let mut strict = rules.thresholds.clone();
    strict.warn_percent = vec![30];
    assert_eq!(
        clock(3, SlaState::OnTrack, false).warning(&strict),
        Some(Warning::Used(30))
    );
    assert!(Warning::Overdue.rank() > Warning::DueSoon.rank());
    assert!(Warning::DueSoon.rank() > Warning::Used(90).rank());
    // Older rule-set JSON without the field gets the defaults.
    let mut json = serde_json::to_value(&rules).unwrap();
    json["thresholds"]
        .as_object_mut()
        .unwrap()
        .remove("warn_percent");
    let old: RuleSet = serde_json::from_value(json).unwrap();
    assert_eq!(old.thresholds.warn_percent, vec![50, 75, 90]);
    for s in Stage::ALL {
        assert_eq!(Stage::parse(s.code()), Some(*s));
        assert_eq!(serde_json::to_value(s).unwrap(), s.code());
    }
}

#[test]
fn assigning_the_first_customer_manager_records_the_hand_over() {
    use field_core::JobStatus;
    use field_core::job::Assignment;
    let s = store();
    let job = s
        .create_job("o", &new_job(JobKind::LowVoltageResidential, "2026-09-28"))
        .unwrap();
    let running = s.time_limits(&job.id, d("2026-09-28")).unwrap();
    assert!(running.get(Stage::Handover).unwrap().ended_on.is_none());
    let assign = |who: &str, at_: &str| {
        Edit::UpdateAssignment(Assignment {
            customer_manager: Some(who.into()),
            assigned_at: Some(at(at_)),
            ..Default::default()
        })
    };
    let after = s.edit(&job.id, "o", &assign("cm-a", "2026-09-28")).unwrap();
    assert_eq!(after.status(), JobStatus::HandedOver);
    let handovers: Vec<_> = after
        .milestones
        .iter()
        .filter(|(_, m)| m.event == Some(MilestoneEvent::HandedOver))
        .collect();
    assert_eq!(handovers.len(), 1);
    assert_eq!(handovers[0].0, field_core::job::HANDOVER_MILESTONE);
    assert_eq!(handovers[0].1.actor.as_deref(), Some("o"));
    // The same-day clock stopped in time.
    let limits = s.time_limits(&job.id, d("2026-09-30")).unwrap();
    let handover = limits.get(Stage::Handover).unwrap();
    assert_eq!(handover.ended_on, Some(d("2026-09-28")));
    assert_eq!(handover.state, SlaState::Met);
    // A later reassignment is not a second hand-over.
    let again = s.edit(&job.id, "o", &assign("cm-b", "2026-09-29")).unwrap();
    assert_eq!(
        again
            .milestones
            .values()
            .filter(|m| m.event == Some(MilestoneEvent::HandedOver))
            .count(),
        1
    );
    // Appointing only a project manager hands nothing over.
    let other = s
        .create_job("o", &new_job(JobKind::HighVoltage, "2026-09-28"))
        .unwrap();
    let pm_only = s
        .edit(
            &other.id,
            "o",
            &Edit::UpdateAssignment(Assignment {
                project_manager: Some("pm-a".into()),
                ..Default::default()
            }),
        )
        .unwrap();
    assert_eq!(pm_only.status(), JobStatus::Accepted);
}

#[test]
fn key_projects_get_tighter_limits_when_the_rule_set_says_so() {
    use field_core::job::Application;
    let mut strict = RuleSet::default();
    strict.limits.key_project_percent = Some(50);
    assert_eq!(strict.limits.for_job(15, true), 8, "rounded up");
    assert_eq!(strict.limits.for_job(15, false), 15);
    assert_eq!(strict.limits.for_job(0, true), 0, "same day stays same day");
    assert_eq!(
        RuleSet::default().limits.for_job(15, true),
        15,
        "national default: unchanged"
    );
    let key = |on: bool| {
        let mut job = new_job(JobKind::LowVoltageSmallMicro, "2026-11-02");
        job.application = Application {
            key_project: Some(on),
            ..Default::default()
        };
        job
    };
    let s = Store::open_in_memory()
        .unwrap()
        .with_clock(|| at("2026-11-02"));
    let plain = s.create_job("o", &key(false)).unwrap();
    let green = s.create_job("o", &key(true)).unwrap();
    let whole = |id: &str, rules: &RuleSet| {
        let job = s.job(id).unwrap();
        let limits = field_core::sla::time_limits(
            &job,
            rules,
            &field_core::calendar::Calendar::embedded(),
            d("2026-11-03"),
        );
        limits.get(Stage::WholeJob).unwrap().limit_days
    };
    assert_eq!(whole(&plain.id, &strict), 15);
    assert_eq!(whole(&green.id, &strict), 8);
    assert_eq!(whole(&green.id, &RuleSet::default()), 15);
}

#[test]
fn version_2_follows_seed_001s_checklist_and_originals_must_be_seen() {
    use field_core::job::{ChecklistItem, Customer};
    let book = RuleBook::default();
    let v1 = book.in_force("any", d("2026-11-29"));
    let v2 = book.in_force("any", d("2026-11-30"));
    assert_eq!((v1.version, v2.version), (1, 2));
    let keys = |set: &RuleSet, kind: JobKind| -> Vec<String> {
        set.document_groups(kind)
            .iter()
            .map(|g| g.key.clone())
            .collect()
    };
    assert!(!keys(v1, JobKind::HighVoltage).contains(&"legal_rep_id".to_string()));
    assert!(keys(v2, JobKind::HighVoltage).contains(&"legal_rep_id".to_string()));
    let hv_property = v2
        .document_groups(JobKind::HighVoltage)
        .into_iter()
        .find(|g| g.key == "property_proof")
        .unwrap();
    assert!(hv_property.options.iter().any(|o| o.key == "lease"));
    let res_property = v2
        .document_groups(JobKind::LowVoltageResidential)
        .into_iter()
        .find(|g| g.key == "property_proof")
        .unwrap();
    assert!(
        res_property
            .rural_options
            .iter()
            .any(|o| o.key == "village_committee_letter" && o.original)
    );

    // A document the seed wants in original counts only once the original was seen.
    let s = Store::open_in_memory()
        .unwrap()
        .with_clock(|| at("2026-11-30"));
    let mut new = new_job(JobKind::LowVoltageResidential, "2026-11-30");
    new.customer = Customer {
        name: Some("张大爷".into()),
        ..Default::default()
    };
    new.application.rural = Some(true);
    let job = s.create_job("o", &new).unwrap();
    let check = |seen: bool| {
        s.edit(
            &job.id,
            "o",
            &Edit::CheckDocument {
                group: "property_proof".into(),
                item: ChecklistItem {
                    doc_type: Some("village_committee_letter".into()),
                    collected: Some(true),
                    original_seen: Some(seen),
                    ..Default::default()
                },
            },
        )
        .unwrap()
    };
    let collected = |j: &field_core::Job| {
        book.for_job(j)
            .required_documents(j)
            .into_iter()
            .find(|g| g.group.key == "property_proof")
            .unwrap()
            .collected
    };
    let copy_only = check(false);
    assert_eq!(book.for_job(&copy_only).version, 2);
    assert!(!collected(&copy_only), "a copy is not enough");
    let original = check(true);
    assert!(collected(&original));
}
