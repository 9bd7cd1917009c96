//! Reference data (基础数据) from the administration pages to the phones, in real headless Chromium:
//! an admin installs a unit's rule set with a tighter supply-plan limit and a calendar bundle for a
//! year the app does not cover; the server computes with them at once, the unit's phones get them
//! at their next sync and compute the same due dates, another unit's phone gets only the calendar.
//! Invalid data is refused with a clear message, and only admins may install.

use chrono::Utc;
use field_core::job::local_date;
use field_core::{JobKind, Role, RuleSet};
use fieldline_tests::browser::Browser;
use fieldline_tests::*;

const UNIT: &str = "zhuxian";

/// Puts `text` into the install form's text area (too long to type) and picks `kind`.
async fn install(b: &Browser, kind: &str, text: &str) {
    b.click_only(&format!("#install input[name=kind][value={kind}]"))
        .await;
    let js = format!(
        "document.querySelector('#install textarea[name=body]').value = {};",
        serde_json::to_string(text).unwrap()
    );
    b.js(&js).await;
    b.click("#install button[type=submit]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installed_rules_and_calendars_reach_the_phones_and_the_clocks() {
    let Some(mut b) = Browser::start("reference").await else {
        return;
    };
    let server = TestServer::start().await;
    for (u, r) in [
        ("admin1", Role::Admin),
        ("office1", Role::OfficeStaff),
        ("cm1", Role::CustomerManager),
    ] {
        server.add_user(u, r, UNIT);
    }
    server.add_user("cm-far", Role::CustomerManager, "other-unit");
    let base = server.url();
    let office = Phone::login(&server, "office1").await;
    let mut new = new_job(JobKind::HighVoltage, UNIT, "恒泰物流园");
    new.accepted_at = Utc::now();
    let job = office.store.create_job("office1", &new).unwrap();
    assign(&office, &job.id, Some("cm1"), None);
    office.sync().await;
    let cm = Phone::login(&server, "cm1").await;
    let far = Phone::login(&server, "cm-far").await;
    cm.sync().await;
    let today = local_date(Utc::now());
    let due = |limits: &field_core::sla::TimeLimits| {
        limits
            .clocks
            .iter()
            .find(|c| c.stage == field_core::sla::Stage::SupplyPlanReply)
            .map(|c| (c.limit_days, c.due_on))
            .expect("a supply plan clock")
    };
    let before = due(&cm.store.time_limits(&job.id, today).unwrap());

    // The unit's own rule set: supply plans answered in 5 working days instead of 10, in force
    // since a month ago (so it covers the job accepted today).
    let mut set = RuleSet::national_v2();
    set.id = "zhuxian-fast".into();
    set.version = 1;
    set.unit = Some(UNIT.into());
    set.effective_from = today - chrono::Duration::days(30);
    set.limits.plan_reply_single = 5;
    set.limits.plan_reply_dual = 5;
    let set_json = serde_json::to_string_pretty(&set).unwrap();
    // A calendar bundle for a year the app does not cover.
    let calendar = r#"{"version": 2099000001, "years": [{"year": 2031, "papers": ["测试"],
        "days": [{"name": "元旦", "date": "2031-01-01", "isOffDay": true}]}]}"#;

    b.login(&base, "/admin/reference", "admin1", PASSWORD).await;
    assert_eq!(b.count("#installed tbody tr").await, 0);
    // Broken data is refused, clearly.
    install(&b, "rule_set", "{\"id\": \"x\"}").await;
    let page = b.text("body").await;
    assert!(page.contains("规则集无效"), "{page}");
    b.goto(&format!("{base}/admin/reference")).await;
    install(&b, "rule_set", &set_json).await;
    assert_eq!(b.path().await, "/admin/reference");
    install(&b, "calendar", calendar).await;
    assert_eq!(b.count("#installed tbody tr").await, 2);
    b.shot("installed").await;

    // The counter's phone gets both at its next sync; a job it accepts now is judged by the
    // unit's rule set, on the phone and on the server alike. The job accepted before keeps its own.
    let report = office.sync().await;
    assert_eq!(
        report.reference_installed, 2,
        "{:?}",
        report.reference_errors
    );
    let mut newer = new_job(JobKind::HighVoltage, UNIT, "新城充电站");
    newer.accepted_at = Utc::now();
    let job2 = office.store.create_job("office1", &newer).unwrap();
    assert_eq!(job2.rules.id.as_deref(), Some("zhuxian-fast"));
    assign(&office, &job2.id, Some("cm1"), None);
    office.sync().await;
    let session = form_login(&base, "admin1", PASSWORD).await;
    let job_json = |id: String| {
        let (session, base) = (session.clone(), base.clone());
        async move {
            session_get(&base, &session, &format!("/api/v1/jobs/{id}"))
                .await
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let server_clock = |view: serde_json::Value| {
        let c = view["time_limits"]["clocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["stage"] == "supply_plan_reply")
            .unwrap()
            .clone();
        (view["rule_set"].as_str().unwrap().to_string(), c)
    };
    let (rule_set, clock) = server_clock(job_json(job2.id.clone()).await);
    assert!(rule_set.contains("zhuxian-fast"), "{rule_set}");
    assert_eq!(clock["limit_days"], 5, "{clock}");
    let (_, old_clock) = server_clock(job_json(job.id.clone()).await);
    assert_eq!(
        old_clock["limit_days"], 10,
        "the earlier job keeps its rule set"
    );

    // The customer manager's phone gets both too and computes the same due dates; another
    // unit's phone gets only the calendar.
    let report = cm.sync().await;
    assert_eq!(
        report.reference_installed, 2,
        "{:?}",
        report.reference_errors
    );
    let mine = due(&cm.store.time_limits(&job2.id, today).unwrap());
    assert_eq!(mine.0, 5);
    assert_eq!(
        mine.1.map(|d| d.to_string()),
        clock["due_on"].as_str().map(str::to_string)
    );
    assert_eq!(due(&cm.store.time_limits(&job.id, today).unwrap()), before);
    assert!(
        !cm.store
            .calendar()
            .is_working_day("2031-01-01".parse().unwrap())
    );
    let again = cm.sync().await;
    assert_eq!(again.reference_installed, 0, "nothing twice");
    let far_report = far.sync().await;
    assert_eq!(far_report.reference_installed, 1);

    // Grid cells (接入受限): the admin records a sick cell and a healthy one; the public page lists
    // the restricted one; the phones get them and judge a job in the sick cell by its grade.
    b.goto(&format!("{base}/admin/grid")).await;
    for (id, name, grade, note) in [
        ("ZX-03", "城东网格", "sick", "2 号配变重载，改造中"),
        ("ZX-01", "城西网格", "healthy", ""),
    ] {
        b.fill("#cell-form input[name=id]", id).await;
        b.fill("#cell-form input[name=name]", name).await;
        b.select("#cell-form select[name=grade]", grade).await;
        b.fill("#cell-form input[name=note]", note).await;
        b.click("#cell-form button[type=submit]").await;
    }
    assert_eq!(b.count("#cells tbody tr").await, 2);
    b.shot("grid").await;
    b.goto(&format!("{base}/public/{UNIT}")).await;
    assert_eq!(b.count("#restricted tbody tr").await, 1);
    assert!(b.text("#restricted").await.contains("城东网格"));
    b.shot("public-restricted").await;
    let verdict_codes = |phone: &Phone, id: &str| -> Vec<String> {
        phone
            .store
            .verdicts(id)
            .unwrap()
            .direct_install
            .reasons
            .iter()
            .map(|r| r.code.clone())
            .collect()
    };
    office.sync().await;
    assert_eq!(office.store.grid_cells(UNIT).unwrap().cells.len(), 2);
    office
        .store
        .edit(
            &job2.id,
            "office1",
            &field_core::Edit::UpdateApplication(field_core::job::Application {
                grid_cell: Some("ZX-03".into()),
                ..Default::default()
            }),
        )
        .unwrap();
    assert!(verdict_codes(&office, &job2.id).contains(&"grid_restricted".to_string()));
    office.sync().await;
    let server_codes = |view: serde_json::Value| -> Vec<String> {
        view["verdicts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["check"] == "direct_install")
            .unwrap()["verdict"]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(server_codes(job_json(job2.id.clone()).await).contains(&"grid_restricted".to_string()));
    // The cell is cured: the same job turns, on the server at once and on the phone after sync.
    b.goto(&format!("{base}/admin/grid")).await;
    b.fill("#cell-form input[name=id]", "ZX-03").await;
    b.fill("#cell-form input[name=name]", "城东网格").await;
    b.select("#cell-form select[name=grade]", "healthy").await;
    b.click("#cell-form button[type=submit]").await;
    assert!(server_codes(job_json(job2.id.clone()).await).contains(&"grid_ok".to_string()));
    office.sync().await;
    assert!(verdict_codes(&office, &job2.id).contains(&"grid_ok".to_string()));
    b.goto(&format!("{base}/public/{UNIT}")).await;
    assert_eq!(b.count("#restricted-none").await, 1);
    let far_report = far.sync().await;
    assert_eq!(far_report.reference_installed, 0);
    assert!(
        far.store.grid_cells(UNIT).is_none(),
        "another unit's cells stay home"
    );

    // Nobody but an admin installs.
    let office_session = form_login(&base, "office1", PASSWORD).await;
    let r = session_get(&base, &office_session, "/admin/reference").await;
    assert_eq!(r.status(), 403);
    b.close().await;
}
