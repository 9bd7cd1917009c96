//! The project side's duties on the phone core: coordination meetings and their action items
//! (only the owner records one done), the connection and outage plans, the customer's firms
//! against a register, the typical design from the catalogue, temporary supply with a rented
//! transformer, visits to important customers; the agenda they make and the write rights.

mod common;

use automerge::ActorId;
use common::*;
use field_core::agenda::{AgendaKind, AgendaState, agenda};
use field_core::job::*;
use field_core::{Edit, JobDoc, JobKind, OutageState, Role, RuleSet, Voltage};

fn actor(n: u8) -> ActorId {
    ActorId::from(vec![n; 16])
}

fn d(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
}

fn created() -> JobDoc {
    let mut new = new_job(JobKind::HighVoltage, "2026-11-02");
    new.application.voltage = Some(Voltage::Kv10);
    new.application.capacity_kva = Some(800.0);
    let mut doc = JobDoc::create(
        actor(1),
        &new,
        &RuleSet::default(),
        &ctx("office1", "dev-office", "2026-11-02"),
    )
    .unwrap();
    doc.apply(
        &Edit::UpdateAssignment(Assignment {
            customer_manager: Some("cm1".into()),
            project_manager: Some("pm1".into()),
            ..Default::default()
        }),
        &ctx("office1", "dev-office", "2026-11-02"),
    )
    .unwrap();
    doc
}

fn meeting() -> Edit {
    Edit::PutMeeting {
        id: "m1".into(),
        meeting: Meeting {
            held_on: Some(d("2026-11-04")),
            place: Some("城东供电所会议室".into()),
            attendees: Some("项目经理、客户经理、施工单位".into()),
            topics: Some("配套工程进度".into()),
            decisions: Some("11月10日前完成电缆敷设".into()),
            ..Default::default()
        },
    }
}

fn action(owner: &str, due: &str) -> Edit {
    Edit::PutAction {
        id: "a1".into(),
        action: ActionItem {
            meeting: Some("m1".into()),
            text: Some("协调客户配电室土建交付".into()),
            owner: Some(owner.into()),
            owner_name: Some("李明".into()),
            due_on: Some(d(due)),
            ..Default::default()
        },
    }
}

/// The server's check of `edit` as `user` on a copy of `base`, its refusal as text.
fn check_as(base: &mut JobDoc, user: &str, role: Role, n: u8, edit: &Edit) -> Result<(), String> {
    common::check_as(base, user, role, n, "2026-11-05", edit).map_err(|r| r.to_string())
}

#[test]
fn a_meeting_and_its_action_item_the_owner_records_done() {
    let mut doc = created();
    let pm = ctx("pm1", "dev-pm", "2026-11-04");
    doc.apply(&meeting(), &pm).unwrap();
    doc.apply(&action("cm1", "2026-11-06"), &pm).unwrap();
    let job = doc.job().unwrap();
    assert_eq!(job.meetings["m1"].organizer.as_deref(), Some("pm1"));
    let a = &job.actions["a1"];
    assert!(!a.is_done() && !a.is_late(d("2026-11-06")) && a.is_late(d("2026-11-07")));

    // The agenda: the item is the owner's, late after its day.
    let items = agenda(&job);
    let item = items.iter().find(|i| i.kind == AgendaKind::Action).unwrap();
    assert_eq!(item.owner.as_deref(), Some("cm1"));
    assert_eq!(item.state(d("2026-11-05")), AgendaState::DueSoon);
    assert_eq!(item.state(d("2026-11-07")), AgendaState::Late);

    // Only the owner records it done; the customer manager may not call meetings.
    let done = Edit::CompleteAction {
        id: "a1".into(),
        at: at("2026-11-05"),
        note: Some("已交付".into()),
    };
    assert!(check_as(&mut doc, "cm1", Role::CustomerManager, 3, &done).is_ok());
    let e = check_as(&mut doc, "pm1", Role::ProjectManager, 4, &done).unwrap_err();
    assert!(e.contains("责任人"), "{e}");
    let Edit::PutMeeting { meeting: mut m, .. } = meeting() else {
        unreachable!()
    };
    m.decisions = Some("改期".into());
    let changed = Edit::PutMeeting {
        id: "m1".into(),
        meeting: m,
    };
    let e = check_as(&mut doc, "cm1", Role::CustomerManager, 3, &changed).unwrap_err();
    assert!(
        e.contains("项目协调推进会") || e.contains("meetings"),
        "{e}"
    );
    assert!(
        check_as(
            &mut doc,
            "pm1",
            Role::ProjectManager,
            4,
            &action("cm1", "2026-11-08")
        )
        .is_ok()
    );

    doc.apply(&done, &ctx("cm1", "dev-cm", "2026-11-05"))
        .unwrap();
    let job = doc.job().unwrap();
    assert_eq!(job.actions["a1"].done.done_by.as_deref(), Some("cm1"));
    assert!(
        agenda(&job)
            .iter()
            .all(|i| i.kind != AgendaKind::Action || i.done)
    );
    // Done is done: changing it is refused, recording it again changes nothing.
    assert!(doc.apply(&action("cm1", "2026-11-09"), &pm).is_err());
    assert!(
        doc.apply(&done, &ctx("cm1", "dev-cm", "2026-11-06"))
            .unwrap()
            .is_none()
    );
}

#[test]
fn an_action_item_needs_its_meeting_owner_and_a_day_after_the_meeting() {
    let mut doc = created();
    let pm = ctx("pm1", "dev-pm", "2026-11-04");
    let e = doc.apply(&action("cm1", "2026-11-06"), &pm).unwrap_err();
    assert!(e.to_string().contains("m1"), "{e}");
    doc.apply(&meeting(), &pm).unwrap();
    let e = doc.apply(&action("cm1", "2026-11-03"), &pm).unwrap_err();
    assert!(e.to_string().contains("早于会议日期"), "{e}");
    let e = doc.apply(&action("cm1", "2206-11-03"), &pm).unwrap_err();
    assert!(e.to_string().contains("合理范围"), "{e}");
    let Edit::PutAction { action: mut a, .. } = action("", "2026-11-06") else {
        unreachable!()
    };
    a.owner = Some(" ".into());
    let e = doc
        .apply(
            &Edit::PutAction {
                id: "a2".into(),
                action: a,
            },
            &pm,
        )
        .unwrap_err();
    assert!(e.to_string().contains("责任人"), "{e}");
}

#[test]
fn the_connection_and_outage_plans_are_on_the_agenda_by_date() {
    let mut doc = created();
    let cm = ctx("cm1", "dev-cm", "2026-11-05");
    let pm = ctx("pm1", "dev-pm", "2026-11-05");
    let bad = Edit::UpdatePowerOnPlan(PowerOnPlan {
        planned_on: Some(d("2026-11-20")),
        window_start_at: Some(at_time("2026-11-20", 14)),
        window_end_at: Some(at_time("2026-11-20", 10)),
        ..Default::default()
    });
    assert!(
        doc.apply(&bad, &cm)
            .unwrap_err()
            .to_string()
            .contains("结束早于开始")
    );
    let plan = Edit::UpdatePowerOnPlan(PowerOnPlan {
        planned_on: Some(d("2026-11-20")),
        window_start_at: Some(at_time("2026-11-20", 9)),
        window_end_at: Some(at_time("2026-11-20", 12)),
        ..Default::default()
    });
    doc.apply(&plan, &cm).unwrap();
    assert!(check_as(&mut doc, "pm1", Role::ProjectManager, 4, &plan).is_err());
    // Submitting needs what is switched off and when.
    let submit = OutagePlan {
        state: Some(OutageState::Submitted),
        ..Default::default()
    };
    let e = doc
        .apply(&Edit::UpdateOutagePlan(submit.clone()), &pm)
        .unwrap_err();
    assert!(e.to_string().contains("停电线路"), "{e}");
    let outage = OutagePlan {
        lines: Some("10千伏城东线 #12 杆后段".into()),
        starts_at: Some(at_time("2026-11-20", 8)),
        ends_at: Some(at_time("2026-11-20", 12)),
        customers_affected: Some(36),
        ..submit
    };
    doc.apply(&Edit::UpdateOutagePlan(outage.clone()), &pm)
        .unwrap();
    let changed = OutagePlan {
        customers_affected: Some(40),
        ..outage
    };
    let e = check_as(
        &mut doc,
        "cm1",
        Role::CustomerManager,
        3,
        &Edit::UpdateOutagePlan(changed),
    );
    assert!(e.unwrap_err().contains("停电计划"));
    let job = doc.job().unwrap();
    assert_eq!(job.outage_plan.filed_by.as_deref(), Some("pm1"));
    assert_eq!(job.power_on_plan.proposed_by.as_deref(), Some("cm1"));
    let items = agenda(&job);
    let outage = items.iter().find(|i| i.kind == AgendaKind::Outage).unwrap();
    assert_eq!(outage.owner.as_deref(), Some("pm1"));
    assert_eq!(outage.due_on, d("2026-11-20"));
    // Unapproved on its day: late; approved: not late until the window is over.
    assert_eq!(outage.state(d("2026-11-20")), AgendaState::Late);
    doc.apply(
        &Edit::UpdateOutagePlan(OutagePlan {
            state: Some(OutageState::Approved),
            approval_no: Some("TD-2026-1120-03".into()),
            ..Default::default()
        }),
        &pm,
    )
    .unwrap();
    let job = doc.job().unwrap();
    assert!(job.outage_plan.decided_at.is_some());
    let items = agenda(&job);
    let outage = items.iter().find(|i| i.kind == AgendaKind::Outage).unwrap();
    assert_eq!(outage.state(d("2026-11-20")), AgendaState::DueSoon);
    assert_eq!(outage.state(d("2026-11-21")), AgendaState::Late);
    let power_on = items
        .iter()
        .find(|i| i.kind == AgendaKind::PowerOn)
        .unwrap();
    assert_eq!(power_on.owner.as_deref(), Some("cm1"));
    assert_eq!(power_on.state(d("2026-11-10")), AgendaState::Upcoming);
}

const REGISTER: &str = r#"{"id": "zhuxian-firms", "version": 1, "effective_from": "2026-01-01",
  "unit": "zhuxian", "firms": [
  {"id": "hd-design", "name": "华电设计院", "role": "design", "qualification": "工程设计电力行业资质",
   "grade": 2, "certificate_no": "A142000001", "valid_from": "2024-01-01", "valid_until": "2028-12-31"},
  {"id": "xd-build", "name": "兴达电力安装", "role": "construction", "qualification": "承装（修、试）电力设施许可证",
   "grade": 5, "certificate_no": "6-1-00321-2021", "valid_from": "2021-06-01", "valid_until": "2026-11-30"},
  {"id": "jc-build", "name": "建诚电力工程", "role": "construction", "qualification": "承装（修、试）电力设施许可证",
   "grade": 4, "certificate_no": "5-1-00088-2023", "valid_from": "2023-03-01", "valid_until": "2029-02-28"}]}"#;

#[test]
fn the_firms_are_judged_on_role_grade_and_validity() {
    let register = field_core::firms::FirmRegister::from_json(REGISTER).unwrap();
    let mut doc = created();
    let cm = ctx("cm1", "dev-cm", "2026-11-05");
    let works = |designer: &str, builder: &str, finish: &str| {
        Edit::UpdateCustomerWorks(CustomerWorks {
            designer_firm: Some(designer.into()),
            builder_firm: Some(builder.into()),
            works_start_on: Some(d("2026-11-10")),
            works_finish_on: Some(d(finish)),
            ..Default::default()
        })
    };
    doc.apply(&works("hd-design", "xd-build", "2026-12-20"), &cm)
        .unwrap();
    let job = doc.job().unwrap();
    assert_eq!(job.customer_works.checked_by.as_deref(), Some("cm1"));
    let checks = field_core::firms::check(&job, Some(&register), d("2026-11-05"));
    assert!(checks[0].ok, "{:?}", checks[0]);
    // A 10 kV job is within grade 5; the licence ends before the works finish.
    assert!(!checks[1].ok);
    assert_eq!(checks[1].reasons.len(), 1);
    assert!(
        checks[1].reasons[0].zh.contains("2026-11-30"),
        "{:?}",
        checks[1].reasons
    );
    // A 35 kV job is beyond grade 5; a designer named as builder is the wrong role.
    doc.apply(
        &Edit::UpdateSupplyPlan(SupplyPlan {
            voltage: Some(Voltage::Kv35),
            ..Default::default()
        }),
        &cm,
    )
    .unwrap();
    doc.apply(&works("hd-design", "hd-design", "2026-11-20"), &cm)
        .unwrap();
    let checks = field_core::firms::check(&doc.job().unwrap(), Some(&register), d("2026-11-05"));
    assert!(checks[0].ok);
    assert!(
        checks[1]
            .reasons
            .iter()
            .any(|r| r.zh.contains("不是施工单位")),
        "{:?}",
        checks[1]
    );
    doc.apply(&works("hd-design", "xd-build", "2026-11-20"), &cm)
        .unwrap();
    let checks = field_core::firms::check(&doc.job().unwrap(), Some(&register), d("2026-11-05"));
    assert!(
        checks[1]
            .reasons
            .iter()
            .any(|r| r.zh.contains("最高承接 10 千伏")),
        "{:?}",
        checks[1]
    );
    doc.apply(&works("hd-design", "jc-build", "2026-11-20"), &cm)
        .unwrap();
    let checks = field_core::firms::check(&doc.job().unwrap(), Some(&register), d("2026-11-05"));
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
    // Unregistered, or no register yet.
    doc.apply(&works("nobody", "jc-build", "2026-11-20"), &cm)
        .unwrap();
    let checks = field_core::firms::check(&doc.job().unwrap(), None, d("2026-11-05"));
    assert!(checks.iter().all(|c| !c.ok && c.firm_name.is_none()));
    assert!(
        doc.apply(&works("hd-design", "jc-build", "2026-11-01"), &cm)
            .is_err()
    );
    // Bad registers are refused with a reason.
    let bad = REGISTER.replace("\"grade\": 5", "\"grade\": 7");
    assert!(
        field_core::firms::FirmRegister::from_json(&bad)
            .unwrap_err()
            .to_string()
            .contains("1–5")
    );
    let bad = REGISTER.replace("\"unit\": \"zhuxian\",", "");
    assert!(field_core::firms::FirmRegister::from_json(&bad).is_err());
}

#[test]
fn temporary_supply_reminds_of_the_rented_transformers_removal() {
    let mut doc = created();
    let pm = ctx("pm1", "dev-pm", "2026-11-05");
    let e = doc
        .apply(
            &Edit::UpdateTemporarySupply(TemporarySupply {
                rented_from_on: Some(d("2026-12-01")),
                rented_to_on: Some(d("2026-11-01")),
                ..Default::default()
            }),
            &pm,
        )
        .unwrap_err();
    assert!(e.to_string().contains("租赁结束日期早于开始日期"), "{e}");
    doc.apply(
        &Edit::UpdateTemporarySupply(TemporarySupply {
            ends_on: Some(d("2027-03-31")),
            transformer_asset_no: Some("ZB-400-0017".into()),
            transformer_kva: Some(400.0),
            rented_from_on: Some(d("2026-11-10")),
            rented_to_on: Some(d("2027-03-31")),
            ..Default::default()
        }),
        &pm,
    )
    .unwrap();
    let removal = |doc: &mut JobDoc| {
        agenda(&doc.job().unwrap())
            .into_iter()
            .find(|i| i.kind == AgendaKind::RentalRemoval)
            .unwrap()
    };
    let r = removal(&mut doc);
    assert_eq!(r.owner.as_deref(), Some("pm1"));
    assert_eq!(r.state(d("2027-03-20")), AgendaState::Upcoming);
    assert_eq!(r.state(d("2027-03-27")), AgendaState::DueSoon);
    assert_eq!(r.state(d("2027-04-01")), AgendaState::Late);
    doc.apply(
        &Edit::UpdateTemporarySupply(TemporarySupply {
            removed_at: Some(at("2027-03-31")),
            ..Default::default()
        }),
        &ctx("pm1", "dev-pm", "2027-03-31"),
    )
    .unwrap();
    assert_eq!(
        doc.job().unwrap().temporary_supply.removed_by.as_deref(),
        Some("pm1")
    );
    assert!(removal(&mut doc).done);
}

#[test]
fn important_customers_are_visited_on_plan_and_visits_are_written_once() {
    let mut doc = created();
    let office = ctx("office1", "dev-office", "2026-11-05");
    doc.apply(
        &Edit::UpdateVisitPlan(VisitPlan {
            leader: Some("leader1".into()),
            leader_name: Some("王总".into()),
            grid_manager: Some("grid1".into()),
            customer_manager: Some("cm1".into()),
            every_days: Some(90),
            starts_on: Some(d("2026-11-20")),
            ..Default::default()
        }),
        &office,
    )
    .unwrap();
    assert!(
        doc.apply(
            &Edit::UpdateVisitPlan(VisitPlan {
                every_days: Some(0),
                ..Default::default()
            }),
            &office
        )
        .is_err()
    );
    assert_eq!(
        field_core::agenda::next_key_visit(&doc.job().unwrap()),
        Some(d("2026-11-20"))
    );
    let visit = Edit::AddKeyVisit {
        id: "v1".into(),
        visit: KeyVisit {
            visited_on: Some(d("2026-11-21")),
            participants: Some("王总、网格经理、客户经理".into()),
            leader_present: Some(true),
            findings: Some("备用电源切换试验未做".into()),
            ..Default::default()
        },
    };
    // The customer manager adds visits, once; a project manager may not.
    let earlier = Edit::AddKeyVisit {
        id: "v0".into(),
        visit: KeyVisit {
            visited_on: Some(d("2026-11-04")),
            ..Default::default()
        },
    };
    check_as(&mut doc, "cm1", Role::CustomerManager, 3, &earlier).unwrap();
    let e = check_as(&mut doc, "pm1", Role::ProjectManager, 4, &earlier).unwrap_err();
    assert!(e.contains("走访"), "{e}");
    let e = doc
        .apply(&visit, &ctx("cm1", "dev-cm", "2026-11-20"))
        .unwrap_err();
    assert!(e.to_string().contains("晚于今天"), "{e}");
    doc.apply(&visit, &ctx("cm1", "dev-cm", "2026-11-21"))
        .unwrap();
    let job = doc.job().unwrap();
    assert_eq!(job.key_visits["v1"].recorded_by.as_deref(), Some("cm1"));
    assert_eq!(
        field_core::agenda::next_key_visit(&job),
        Some(d("2027-02-19"))
    );
    let item = agenda(&job)
        .into_iter()
        .find(|i| i.kind == AgendaKind::KeyVisit)
        .unwrap();
    assert_eq!(item.state(d("2027-02-20")), AgendaState::Late);
}

#[test]
fn the_phone_keeps_the_agenda_catalogue_and_register() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir, "2026-11-05");
    let mut new = new_job(JobKind::HighVoltage, "2026-11-02");
    new.application.voltage = Some(Voltage::Kv10);
    new.application.capacity_kva = Some(800.0);
    let job = store.create_job("cm1", &new).unwrap();
    store
        .edit(
            &job.id,
            "office1",
            &Edit::UpdateAssignment(Assignment {
                customer_manager: Some("cm1".into()),
                project_manager: Some("pm1".into()),
                ..Default::default()
            }),
        )
        .unwrap();
    store.edit(&job.id, "pm1", &meeting()).unwrap();
    store
        .edit(&job.id, "pm1", &action("cm1", "2026-11-04"))
        .unwrap();
    store
        .edit(
            &job.id,
            "cm1",
            &Edit::UpdatePowerOnPlan(PowerOnPlan {
                planned_on: Some(d("2026-11-25")),
                ..Default::default()
            }),
        )
        .unwrap();
    let mine = store.agenda(Some("cm1"), d("2026-12-31")).unwrap();
    assert_eq!(mine.len(), 2, "{mine:?}");
    assert_eq!(mine[0].kind, AgendaKind::Action);
    assert_eq!(mine[0].state, AgendaState::Late, "late first");
    assert_eq!(mine[1].kind, AgendaKind::PowerOn);
    assert!(
        store
            .agenda(Some("pm1"), d("2026-12-31"))
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.agenda(Some("cm1"), d("2026-11-10")).unwrap().len(), 1);

    // The national catalogue until the unit's arrives; a pick records the cost range.
    let choice = store.typical_designs(&job.id).unwrap();
    assert_eq!(choice.catalogue, "national-designs");
    assert!(choice.designs.iter().any(|e| e.id == "hv-10kv-box"));
    assert!(choice.designs.iter().all(|e| e.voltage == Voltage::Kv10));
    assert!(store.pick_typical_design(&job.id, "cm1", "nope").is_err());
    let j = store
        .pick_typical_design(&job.id, "cm1", "hv-10kv-box")
        .unwrap();
    assert_eq!(j.typical_design.cost_low_yuan, Some(250000.0));
    assert_eq!(j.typical_design.picked_by.as_deref(), Some("cm1"));

    // Firms: unregistered until the register arrives by sync; kept across reopening.
    store
        .edit(
            &job.id,
            "cm1",
            &Edit::UpdateCustomerWorks(CustomerWorks {
                builder_firm: Some("jc-build".into()),
                ..Default::default()
            }),
        )
        .unwrap();
    assert!(!store.firm_checks(&job.id).unwrap()[0].ok);
    assert!(store.install_firms("{").is_err());
    store.install_firms(REGISTER).unwrap();
    drop(store);
    let store = open_store(&dir, "2026-11-05");
    let checks = store.firm_checks(&job.id).unwrap();
    assert!(checks[0].ok, "{checks:?}");
    assert_eq!(checks[0].firm_name.as_deref(), Some("建诚电力工程"));
}
