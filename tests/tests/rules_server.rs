//! Rules the phone core applies, shown through the real server: a phone records the facts, syncs,
//! and the office's view of the job (`GET /api/v1/jobs/{id}`) judges them the same way — the
//! zero-investment, 150 m approval-exemption and 1,250 kVA on-site plan-reply verdicts with their
//! reasons, the agent's documents and the rural options of the checklist, and a clock that pauses
//! while the job waits on the customer. And a job the server refused after a policy change goes
//! through with `retry_refused` once the policy allows it again.

use field_core::job::{Agent, Application};
use field_core::{DevZone, Edit, JobKind, Role, Source, Tariff, Voltage};
use fieldline_tests::*;
use serde_json::Value as Json;

async fn view(base: &str, office: &str, id: &str) -> Json {
    session_get(base, office, &format!("/api/v1/jobs/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

/// The outcome and reason codes of verdict `check` in a job view.
fn verdict(v: &Json, check: &str) -> (String, Vec<String>) {
    let n = v["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["check"] == check)
        .unwrap_or_else(|| panic!("no verdict {check}"));
    let outcome = n["verdict"]["outcome"].as_str().unwrap().to_string();
    let codes = n["verdict"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect();
    (outcome, codes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_judges_a_job_as_the_phone_does() {
    let server = TestServer::start().await;
    server.add_user("cm", Role::CustomerManager, "zhuxian");
    server.add_user("office", Role::OfficeStaff, "zhuxian");
    let phone = Phone::login(&server, "cm").await;
    let base = server.url();
    let office = form_login(&base, "office", PASSWORD).await;
    let s = &phone.store;
    let job = |kind, name: &str, app: Application| {
        let mut n = new_job(kind, "zhuxian", name);
        n.application = app;
        s.create_job("cm", &n).unwrap().id
    };
    // Zero investment: a small/micro enterprise yes; a high-voltage customer on a commercial
    // tariff outside any development zone no; one replacing over half its load by electricity yes.
    let small = job(
        JobKind::LowVoltageSmallMicro,
        "小微",
        Application::default(),
    );
    let hv_no = job(
        JobKind::HighVoltage,
        "高压甲",
        Application {
            voltage: Some(Voltage::Kv10),
            tariff: Some(Tariff::CommercialIndustrial),
            dev_zone: Some(DevZone::None),
            ev_charging: Some(false),
            replacement_share_pct: Some(10.0),
            source: Some(Source::Single),
            capacity_kva: Some(2000.0),
            grid_distance_m: Some(200.0),
            ..Default::default()
        },
    );
    let hv_yes = job(
        JobKind::HighVoltage,
        "高压乙",
        Application {
            voltage: Some(Voltage::Kv10),
            tariff: Some(Tariff::CommercialIndustrial),
            dev_zone: Some(DevZone::None),
            replacement_share_pct: Some(60.0),
            source: Some(Source::Single),
            capacity_kva: Some(1000.0),
            grid_distance_m: Some(120.0),
            ..Default::default()
        },
    );
    // An agent files for a rural small business.
    let rural = job(
        JobKind::LowVoltageSmallMicro,
        "村口小卖部",
        Application {
            rural: Some(true),
            ..Default::default()
        },
    );
    s.edit(
        &rural,
        "cm",
        &Edit::UpdateAgent(Agent {
            filed_by_agent: Some(true),
            name: Some("代理人".into()),
            ..Default::default()
        }),
    )
    .unwrap();
    // Its property is proved by the village committee's letter, seen in original.
    s.edit(
        &rural,
        "cm",
        &Edit::CheckDocument {
            group: "property_proof".into(),
            item: field_core::job::ChecklistItem {
                doc_type: Some("village_committee_letter".into()),
                collected: Some(true),
                original_seen: Some(true),
                ..Default::default()
            },
        },
    )
    .unwrap();
    phone.sync().await;

    let (o, codes) = verdict(&view(&base, &office, &small).await, "zero_investment");
    assert_eq!(o, "yes", "{codes:?}");
    assert!(codes.contains(&"small_micro".to_string()), "{codes:?}");
    let v_no = view(&base, &office, &hv_no).await;
    assert_eq!(verdict(&v_no, "zero_investment").0, "no");
    let v_yes = view(&base, &office, &hv_yes).await;
    let (o, codes) = verdict(&v_yes, "zero_investment");
    assert_eq!(o, "yes");
    assert!(
        codes.contains(&"electric_replacement".to_string()),
        "{codes:?}"
    );
    // The 150 m exemption, and the approval clock only where the works are longer.
    assert_eq!(
        verdict(&v_yes, "approval_exempt"),
        ("yes".into(), vec!["within_150m".to_string()])
    );
    assert_eq!(
        verdict(&v_no, "approval_exempt"),
        ("no".into(), vec!["over_150m".to_string()])
    );
    let stages = |v: &Json| -> Vec<String> {
        v["time_limits"]["clocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["stage"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(stages(&v_no).contains(&"access_approval".to_string()));
    assert!(!stages(&v_yes).contains(&"access_approval".to_string()));
    // On-site plan reply: single-source 10 kV within 1,250 kVA yes; 2,000 kVA no.
    assert_eq!(verdict(&v_yes, "onsite_plan_reply").0, "yes");
    assert_eq!(verdict(&v_no, "onsite_plan_reply").0, "no");
    // The agent's documents become required; the rural options are offered.
    let v = view(&base, &office, &rural).await;
    let groups = v["checklist"].as_array().unwrap();
    let required: Vec<&str> = groups
        .iter()
        .filter(|g| g["required"] == true)
        .map(|g| g["group"]["key"].as_str().unwrap())
        .collect();
    assert!(
        groups
            .iter()
            .filter(|g| g["group"]["when"] == "agent")
            .all(|g| g["required"] == true),
        "{required:?}"
    );
    assert!(groups.iter().any(|g| g["group"]["when"] == "agent"));
    let property = groups
        .iter()
        .find(|g| g["group"]["key"] == "property_proof")
        .unwrap();
    assert!(
        property["group"]["rural_options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["key"] == "village_committee_letter"),
        "the village committee's letter is offered in rural areas"
    );
    assert_eq!(
        property["collected"], true,
        "and counts as the property proof"
    );

    // Waiting on the customer pauses the running clocks, on the server too.
    let before = view(&base, &office, &small).await;
    let due = |v: &Json, stage: &str| -> Option<String> {
        v["time_limits"]["clocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["stage"] == stage)
            .and_then(|c| c["due_on"].as_str().map(str::to_string))
    };
    let due_before = due(&before, "whole_job").unwrap();
    s.edit(
        &small,
        "cm",
        &Edit::StartWaiting {
            id: "wait-1".into(),
            reason: "客户资料未齐".into(),
            at: at("2026-11-03"),
        },
    )
    .unwrap();
    s.edit(
        &small,
        "cm",
        &Edit::EndWaiting {
            at: at("2026-11-10"),
        },
    )
    .unwrap();
    phone.sync().await;
    let after = view(&base, &office, &small).await;
    let clock = after["time_limits"]["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["stage"] == "whole_job")
        .unwrap()
        .clone();
    assert!(clock["paused_days"].as_i64().unwrap() > 0, "{clock}");
    assert!(
        due(&after, "whole_job").unwrap() > due_before,
        "the due date moves by the pause"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_refused_under_a_policy_goes_through_when_retried_after_the_policy_allows_it() {
    let server = TestServer::start().await;
    server.add_user("cm", Role::CustomerManager, "zhuxian");
    server.add_user("root", Role::Admin, "zhuxian");
    let phone = Phone::login(&server, "cm").await;
    let base = server.url();
    let id = phone
        .store
        .create_job(
            "cm",
            &new_job(JobKind::LowVoltageResidential, "zhuxian", "张三"),
        )
        .unwrap()
        .id;
    phone.sync().await;

    // The unit's policy takes the survey away from customer managers; the phone, not yet told,
    // records one: the server refuses the job and the phone holds it with the reason.
    let policy = |version: u32, survey: Json| {
        let mut p: Json = serde_json::from_str(include_str!(
            "../../field-core/data/policy/national.v1.json"
        ))
        .unwrap();
        p["id"] = "zhuxian-policy".into();
        p["version"] = version.into();
        p["unit"] = "zhuxian".into();
        p["effective_from"] = "2026-01-01".into();
        p["sections"]["survey"] = survey;
        p.to_string()
    };
    let install = |body: String| {
        let env = server.env().clone();
        async move {
            env.blocking(move |env| {
                fieldline_server::service::reference::install(env, "root", "write_policy", &body)
            })
            .await
            .unwrap()
        }
    };
    install(policy(1, serde_json::json!({ "admin": "write" }))).await;
    phone
        .store
        .edit(
            &id,
            "cm",
            &Edit::UpdateSurvey(field_core::job::Survey {
                findings: Some("表箱位置已确认".into()),
                ..Default::default()
            }),
        )
        .unwrap();
    let report = phone.sync().await;
    assert_eq!(report.rejected.len(), 1, "{report:?}");
    assert!(!phone.store.refused_jobs().unwrap().is_empty());
    let refused = server.job(&id).await;
    assert_eq!(refused.survey.findings, None, "nothing of it was stored");

    // The policy gives the survey back; retried, the held job goes through.
    install(policy(
        2,
        serde_json::json!({ "customer_manager": "write", "admin": "write" }),
    ))
    .await;
    phone.sync().await;
    assert!(phone.store.retry_refused(&id).unwrap());
    let report = phone.sync().await;
    assert!(report.rejected.is_empty(), "{report:?}");
    assert!(phone.store.refused_jobs().unwrap().is_empty());
    assert_eq!(
        server.job(&id).await.survey.findings.as_deref(),
        Some("表箱位置已确认")
    );
    let _ = base;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_written_notice_for_any_inspection_with_findings_is_recorded_as_given_when_printed() {
    use field_core::InspectionKind;
    use field_core::job::{Finding, FindingTarget, Inspection};
    let server = TestServer::start().await;
    server.add_user("cm", Role::CustomerManager, "zhuxian");
    server.add_user("office", Role::OfficeStaff, "zhuxian");
    let phone = Phone::login(&server, "cm").await;
    let base = server.url();
    let s = &phone.store;
    let id = s
        .create_job("cm", &new_job(JobKind::HighVoltage, "zhuxian", "园区厂房"))
        .unwrap()
        .id;
    s.edit(
        &id,
        "cm",
        &Edit::UpdateInspection {
            kind: InspectionKind::DesignReview,
            inspection: Inspection {
                requested_at: Some(at("2026-11-03")),
                replied_at: Some(at("2026-11-04")),
                inspector: Some("cm".into()),
                passed: Some(false),
                ..Default::default()
            },
        },
    )
    .unwrap();
    s.edit(
        &id,
        "cm",
        &Edit::PutFinding {
            target: FindingTarget::Inspection(InspectionKind::DesignReview),
            id: "f-1".into(),
            finding: Finding {
                text: Some("无功补偿容量不足".into()),
                severity: Some("major".into()),
                ..Default::default()
            },
        },
    )
    .unwrap();
    phone.sync().await;
    let office = form_login(&base, "office", PASSWORD).await;
    let page = session_get(&base, &office, &format!("/jobs/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("notice.pdf?inspection=design_review"),
        "the design review's notice is offered"
    );
    assert!(
        !page.contains("notice.pdf?inspection=completion"),
        "no findings, no notice"
    );
    let r = session_get(
        &base,
        &office,
        &format!("/jobs/{id}/notice.pdf?inspection=completion"),
    )
    .await;
    assert_eq!(r.status(), 400, "nothing to notify");
    let r = session_get(
        &base,
        &office,
        &format!("/jobs/{id}/notice.pdf?inspection=design_review"),
    )
    .await;
    assert_eq!(r.status(), 200);
    let pdf = r.bytes().await.unwrap();
    if let Some(text) = pdf_text(&pdf) {
        let flat: String = text.split_whitespace().collect();
        assert!(
            flat.contains("设计审查一次性书面告知书") && flat.contains("无功补偿容量不足"),
            "{text:.500}"
        );
    }
    // Recorded as given, and the manager's phone learns it.
    phone.sync().await;
    let job = s.job(&id).unwrap();
    assert_eq!(job.inspections.design_review.written_notice, Some(true));
    assert_eq!(job.inspections.completion.written_notice, None);
    let audit = server.audit(Some(&id));
    assert!(
        audit
            .iter()
            .any(|e| e.kind == "download" || e.detail.to_string().contains("written_notice"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_supporting_project_recorded_on_the_project_managers_phone_reaches_the_office() {
    use field_core::job::{
        Assignment, Material, Permit, Project, ProjectAcceptance, ProjectDesign,
    };
    let server = TestServer::start().await;
    server.add_user("cm", Role::CustomerManager, "zhuxian");
    server.add_user("pm", Role::ProjectManager, "zhuxian");
    server.add_user("office", Role::OfficeStaff, "zhuxian");
    let cm = Phone::login(&server, "cm").await;
    let base = server.url();
    let id = cm
        .store
        .create_job(
            "cm",
            &new_job(JobKind::HighVoltage, "zhuxian", "开发区厂房"),
        )
        .unwrap()
        .id;
    cm.sync().await;
    // The counter appoints the project manager; his phone gets the job.
    let office = Phone::login(&server, "office").await;
    office.sync().await;
    assign(&office, &id, None, Some("pm"));
    office.sync().await;
    let pm = Phone::login(&server, "pm").await;
    pm.sync().await;
    let s = &pm.store;
    let edits = [
        Edit::UpdateProject(Project {
            project_no: Some("PJ-2026-031".into()),
            utility_invested: Some(true),
            voltage: Some(Voltage::Kv10),
            ..Default::default()
        }),
        Edit::UpdateProjectDesign(ProjectDesign {
            designer: Some("邾县电力设计院".into()),
            plan: Some("新建 10 千伏电缆 0.8 千米".into()),
            approved_at: Some(at("2026-11-05")),
            approved_by: Some("王总".into()),
        }),
        Edit::PutMaterial {
            id: "m-1".into(),
            item: Material {
                name: Some("YJV22-8.7/15kV 电缆".into()),
                spec: Some("3×240".into()),
                quantity: Some(800.0),
                unit: Some("米".into()),
                requisition_no: Some("WZ-2026-118".into()),
                requisitioned: Some(true),
                received: Some(true),
            },
        },
        Edit::PutPermit {
            id: "p-1".into(),
            permit: Permit {
                kind: Some("掘路".into()),
                number: Some("JL-2026-0451".into()),
                authority: Some("邾县城管局".into()),
                issued_on: Some("2026-11-06".parse().unwrap()),
                expires_on: Some("2026-12-06".parse().unwrap()),
            },
        },
        Edit::UpdateProjectAcceptance(ProjectAcceptance {
            accepted_at: Some(at("2026-11-20")),
            accepted_by: Some("pm".into()),
            passed: Some(true),
            remarks: Some("验收合格".into()),
        }),
    ];
    for e in &edits {
        s.edit(&id, "pm", e).unwrap();
    }
    // His rights stop at the project: the customer's section is not his.
    assert!(
        s.edit(
            &id,
            "pm",
            &Edit::UpdateAssignment(Assignment {
                customer_manager: Some("pm".into()),
                ..Default::default()
            })
        )
        .is_err()
    );
    let report = pm.sync().await;
    assert!(report.rejected.is_empty(), "{report:?}");
    let session = form_login(&base, "office", PASSWORD).await;
    let v = view(&base, &session, &id).await;
    // (The typed view leaves nested parts to the whole document.)
    let p = &v["document"]["project"];
    assert_eq!(p["project_no"], "PJ-2026-031");
    assert_eq!(p["design"]["designer"], "邾县电力设计院");
    assert_eq!(p["materials"]["m-1"]["requisition_no"], "WZ-2026-118");
    assert_eq!(p["permits"]["p-1"]["number"], "JL-2026-0451");
    assert_eq!(p["acceptance"]["passed"], true);
    let page = session_get(&base, &session, &format!("/jobs/{id}"))
        .await
        .text()
        .await
        .unwrap();
    for shown in ["邾县电力设计院", "WZ-2026-118", "JL-2026-0451", "验收合格"] {
        assert!(page.contains(shown), "{shown} on the office's page");
    }
    // And the customer manager's phone has it all after a sync.
    cm.sync().await;
    let job = cm.store.job(&id).unwrap();
    assert_eq!(
        job.project.permits["p-1"].number.as_deref(),
        Some("JL-2026-0451")
    );
    assert_eq!(job.project.acceptance.passed, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photos_watermark_is_readable_on_the_server_as_drawn_on_the_phone() {
    use field_core::photo::{GeoPoint, IngestOptions, sample};
    use field_core::store::PhotoInput;
    let server = TestServer::start().await;
    server.add_user("cm", Role::CustomerManager, "zhuxian");
    server.add_user("office", Role::OfficeStaff, "zhuxian");
    let phone = Phone::login(&server, "cm").await;
    let base = server.url();
    let job = phone
        .store
        .create_job(
            "cm",
            &new_job(JobKind::LowVoltageResidential, "zhuxian", "李四"),
        )
        .unwrap();
    let added = phone
        .store
        .add_photo(
            &job.id,
            "cm",
            &sample::jpeg(1200, 900, 3, &Default::default()),
            &PhotoInput {
                purpose: field_core::PhotoPurpose::Meter,
                caption: Some("表箱".into()),
                gps: Some(GeoPoint {
                    latitude: 32.060255,
                    longitude: 118.796877,
                    accuracy_m: Some(5.0),
                }),
                checklist_group: None,
                author_name: Some("李强".into()),
            },
            &IngestOptions::default(),
        )
        .unwrap();
    phone.sync().await;
    let office = form_login(&base, "office", PASSWORD).await;
    let v = view(&base, &office, &job.id).await;
    let mark = v["job"]["photos"][&added.photo_id]["watermark"]
        .as_str()
        .unwrap()
        .to_string();
    let lines: Vec<&str> = mark.lines().collect();
    // The job number, the purpose and the time (China time), the position and who took it.
    assert!(
        lines[0].starts_with(&format!("工单 {}", job.job_no)),
        "{mark}"
    );
    assert!(lines[0].contains("计量装置"), "{mark}");
    let taken = v["job"]["photos"][&added.photo_id]["taken_at"]
        .as_str()
        .unwrap();
    let china = chrono::DateTime::parse_from_rfc3339(taken)
        .unwrap()
        .with_timezone(&field_core::job::china_offset())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    assert!(lines[0].ends_with(&china), "{mark} vs {china}");
    assert!(
        lines[1].contains("32.060255°N 118.796877°E ±5米") && lines[1].contains("李强"),
        "{mark}"
    );
    assert!(lines.contains(&"说明 表箱"), "{mark}");
    let page = session_get(
        &base,
        &office,
        &format!("/jobs/{}/photos/{}", job.id, added.photo_id),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        page.contains("id=\"watermark\"") && page.contains("118.796877"),
        "on the photo's page"
    );
}
