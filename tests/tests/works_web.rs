//! The project side end to end, on real phones, the real server and in headless Chromium: the
//! project manager records a coordination meeting with action items, the outage plan and a
//! rented transformer; the customer manager proposes the connection, names the customer's firms
//! and picks a typical design; the counter sets an important customer's visit plan. The admin
//! installs the unit's register of firms. The dispatch board lists what is late and due by date;
//! the office's job page shows every part and the firms' verdicts; the customer's progress page
//! (and its JSON) shows the planned power-on and the typical cost. The owner records the action
//! done on their phone and it leaves the board.

use chrono::{Days, Duration, TimeZone, Utc};
use field_core::job::*;
use field_core::{Edit, JobKind, OutageState, Role, Voltage};
use fieldline_tests::browser::Browser;
use fieldline_tests::*;

const UNIT: &str = "zhuxian";

const FIRMS: &str = r#"{"id": "zhuxian-firms", "version": 1, "effective_from": "2020-01-01",
  "unit": "zhuxian", "firms": [
  {"id": "hd-design", "name": "华电工程设计院", "role": "design", "qualification": "工程设计电力行业资质",
   "grade": 2, "certificate_no": "A142000001", "valid_from": "2024-01-01", "valid_until": "2030-12-31"},
  {"id": "xd-build", "name": "兴达电力安装公司", "role": "construction", "qualification": "承装（修、试）电力设施许可证",
   "grade": 5, "certificate_no": "6-1-00321-2021", "valid_from": "2021-06-01", "valid_until": "2026-01-31"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_project_side_reaches_the_board_the_office_and_the_customer() {
    let Some(mut b) = Browser::start("works").await else {
        return;
    };
    let server = TestServer::start().await;
    for (u, r) in [
        ("admin1", Role::Admin),
        ("office1", Role::OfficeStaff),
        ("disp1", Role::Dispatcher),
        ("cm1", Role::CustomerManager),
        ("pm1", Role::ProjectManager),
    ] {
        server.add_user(u, r, UNIT);
    }
    server.add_user("office-other", Role::OfficeStaff, "elsewhere");
    let base = server.url();
    let now = Utc::now();
    let today = local_date(now);
    let day = |n: i64| {
        if n >= 0 {
            today + Days::new(n as u64)
        } else {
            today - Days::new((-n) as u64)
        }
    };
    let china = |d: chrono::NaiveDate, h: u32| {
        china_offset()
            .from_local_datetime(&d.and_hms_opt(h, 0, 0).unwrap())
            .unwrap()
            .with_timezone(&Utc)
    };

    // The admin installs the unit's register of firms (a broken one is refused).
    let admin = form_login(&base, "admin1", PASSWORD).await;
    let csrf = page_csrf(&base, &admin, "/admin/reference").await;
    let install = |body: String| {
        let (base, admin, csrf) = (base.clone(), admin.clone(), csrf.clone());
        async move {
            session_post(
                &base,
                &admin,
                "/admin/reference",
                &[
                    ("csrf", csrf.as_str()),
                    ("kind", "contractor_firms"),
                    ("body", &body),
                ],
            )
            .await
        }
    };
    let bad = install(FIRMS.replace("\"grade\": 5", "\"grade\": 9")).await;
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("资质等级应为 1–5"));
    let ok = install(FIRMS.to_string()).await;
    assert!(ok.status().is_success() || ok.status().is_redirection());

    // The counter accepts a 10 kV job ten days ago and assigns both managers.
    let office = Phone::login(&server, "office1").await;
    let mut new = new_job(JobKind::HighVoltage, UNIT, "恒泰物流园");
    new.accepted_at = now - Duration::days(10);
    new.application.voltage = Some(Voltage::Kv10);
    new.application.capacity_kva = Some(800.0);
    let job = office.store.create_job("office1", &new).unwrap();
    assign(&office, &job.id, Some("cm1"), Some("pm1"));
    // An important customer (一级重要用户).
    office
        .store
        .edit(
            &job.id,
            "office1",
            &Edit::UpdateApplication(Application {
                importance: Some(field_core::Importance::First),
                ..Default::default()
            }),
        )
        .unwrap();
    office.sync().await;

    // The counter sets the visit plan in the browser: led by disp1, every 30 days from eight
    // days ago, none made yet. A customer manager may not.
    let page = format!("/jobs/{}", job.id);
    let cm_session = form_login(&base, "cm1", PASSWORD).await;
    let csrf = page_csrf(&base, &cm_session, &page).await;
    let r = session_post(
        &base,
        &cm_session,
        &format!("{page}/visit-plan"),
        &[
            ("csrf", csrf.as_str()),
            ("leader", "disp1"),
            ("grid_manager", "pm1"),
            ("customer_manager", "cm1"),
            ("every_days", "30"),
            ("starts_on", &day(-8).to_string()),
        ],
    )
    .await;
    assert_eq!(r.status(), 403);
    // The counter of another unit does not even find the job; a stranger is sent to log in.
    let other = form_login(&base, "office-other", PASSWORD).await;
    let csrf = page_csrf(&base, &other, "/jobs").await;
    let r = session_post(
        &base,
        &other,
        &format!("{page}/visit-plan"),
        &[
            ("csrf", csrf.as_str()),
            ("leader", "disp1"),
            ("grid_manager", "pm1"),
            ("customer_manager", "cm1"),
            ("every_days", "30"),
            ("starts_on", &day(-8).to_string()),
        ],
    )
    .await;
    assert_eq!(r.status(), 404);
    let stranger = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{base}{page}/visit-plan"))
        .form(&[("every_days", "30")])
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 303);
    b.login(&base, &page, "office1", PASSWORD).await;
    assert_eq!(
        b.count("#visit-plan-form[open]").await,
        1,
        "open for an important customer without a plan"
    );
    b.select("#visit-plan-form select[name=leader]", "disp1")
        .await;
    b.select("#visit-plan-form select[name=grid_manager]", "pm1")
        .await;
    b.select("#visit-plan-form select[name=customer_manager]", "cm1")
        .await;
    b.fill("#visit-plan-form input[name=every_days]", "30")
        .await;
    b.js(&format!(
        "document.querySelector('#visit-plan-form input[name=starts_on]').value = '{}'; return 0",
        day(-8)
    ))
    .await;
    b.shot("visit-plan-form").await;
    b.click("#visit-plan-form button[type=submit]").await;
    assert!(b.text("#next-visit").await.contains(&day(-8).to_string()));
    assert!(b.text("#key-visit-plan").await.contains("disp1"));
    b.click("header.top form[action='/logout'] button").await;
    let cm = Phone::login(&server, "cm1").await;
    let pm = Phone::login(&server, "pm1").await;
    cm.sync().await;
    pm.sync().await;

    // The project manager's phone: a meeting five days ago with a late action item for the
    // customer manager, the outage plan filed, a rented transformer due back in three days.
    for e in [
        Edit::PutMeeting {
            id: "m1".into(),
            meeting: Meeting {
                held_on: Some(day(-5)),
                place: Some("朱仙供电所会议室".into()),
                attendees: Some("王磊、李强、客户代表".into()),
                topics: Some("配套工程与配电室土建交叉作业".into()),
                decisions: Some("客户两日内交付配电室".into()),
                ..Default::default()
            },
        },
        Edit::PutAction {
            id: "a1".into(),
            action: ActionItem {
                meeting: Some("m1".into()),
                text: Some("督促客户交付配电室土建".into()),
                owner: Some("cm1".into()),
                owner_name: Some("李强".into()),
                due_on: Some(day(-2)),
                ..Default::default()
            },
        },
        Edit::UpdateOutagePlan(OutagePlan {
            lines: Some("10千伏朱仙线 #23 杆至 #31 杆".into()),
            starts_at: Some(china(day(4), 8)),
            ends_at: Some(china(day(4), 12)),
            customers_affected: Some(46),
            state: Some(OutageState::Submitted),
            ..Default::default()
        }),
        Edit::UpdateTemporarySupply(TemporarySupply {
            ends_on: Some(day(3)),
            transformer_asset_no: Some("ZB-400-0017".into()),
            transformer_kva: Some(400.0),
            rented_from_on: Some(day(-9)),
            rented_to_on: Some(day(3)),
            ..Default::default()
        }),
    ] {
        pm.store.edit(&job.id, "pm1", &e).unwrap();
    }
    // The customer manager's phone: the connection plan, the firms, a typical design.
    cm.sync().await;
    for e in [
        Edit::UpdatePowerOnPlan(PowerOnPlan {
            planned_on: Some(day(4)),
            window_start_at: Some(china(day(4), 9)),
            window_end_at: Some(china(day(4), 12)),
            ..Default::default()
        }),
        Edit::UpdateCustomerWorks(CustomerWorks {
            designer_firm: Some("hd-design".into()),
            builder_firm: Some("xd-build".into()),
            works_start_on: Some(day(-3)),
            works_finish_on: Some(day(30)),
            ..Default::default()
        }),
    ] {
        cm.store.edit(&job.id, "cm1", &e).unwrap();
    }
    cm.store
        .pick_typical_design(&job.id, "cm1", "hv-10kv-box")
        .unwrap();
    // The phone judges the firms once the register arrived by sync, as the server does.
    pm.sync().await;
    cm.sync().await;
    let checks = cm.store.firm_checks(&job.id).unwrap();
    assert!(checks[0].ok, "{checks:?}");
    assert!(!checks[1].ok);
    assert!(checks[1].reasons[0].zh.contains("2026-01-31"), "{checks:?}");
    let mine = cm.store.agenda(Some("cm1"), day(14)).unwrap();
    let kinds: Vec<_> = mine.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["key_visit", "action", "power_on"], "{mine:?}");

    // Another unit's board holds none of this unit's agenda.
    let other_board: serde_json::Value = session_get(&base, &other, "/api/v1/board")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(other_board["agenda"], serde_json::json!([]));

    // The dispatch board: late first, then by day.
    b.login(&base, "/board", "disp1", PASSWORD).await;
    let rows = b
        .js("return [...document.querySelectorAll('#agenda tr.agenda-row')].map(r => r.dataset.kind + ':' + r.dataset.state)")
        .await;
    let rows: Vec<String> = serde_json::from_value(rows).unwrap();
    assert_eq!(
        rows,
        [
            "key_visit:late",
            "action:late",
            "rental_removal:due_soon",
            "outage:due_soon",
            "power_on:due_soon",
        ],
        "{rows:?}"
    );
    let agenda = b.text("#agenda").await;
    assert!(agenda.contains("督促客户交付配电室土建"), "{agenda}");
    assert!(agenda.contains("ZB-400-0017") && agenda.contains("10千伏朱仙线"));
    b.shot("board-agenda").await;
    b.resize(390, 844).await;
    b.shot("board-agenda-390").await;
    b.resize(1280, 900).await;

    // The office's job page: every part, the firms' verdicts with the reason.
    b.click("header.top form[action='/logout'] button").await;
    b.login(&base, &format!("/jobs/{}", job.id), "office1", PASSWORD)
        .await;
    assert_eq!(b.count("#verdicts h3.firm-check").await, 2);
    let verdicts = b.text("#verdicts").await;
    assert!(verdicts.contains("华电工程设计院") && verdicts.contains("资质符合"));
    assert!(
        verdicts.contains("兴达电力安装公司") && verdicts.contains("2026-01-31"),
        "{verdicts}"
    );
    for (part, want) in [
        ("#meetings", "配套工程与配电室土建交叉作业"),
        ("#actions", "督促客户交付配电室土建"),
        ("#outage_plan", "已报送"),
        ("#power_on_plan", &day(4).to_string()),
        ("#customer_works", "hd-design"),
        ("#typical_design", "10千伏箱式变电站单电源接入"),
        ("#temporary_supply", "ZB-400-0017"),
        ("#key-visit-plan", "已逾期"),
    ] {
        let text = b.text(part).await;
        assert!(text.contains(want), "{part}: {text}");
    }
    b.shot("job-project-side").await;

    // The customer's progress page and its JSON: the planned power-on and the typical cost.
    let token = cm.store.job(&job.id).unwrap().progress_token.unwrap();
    b.goto(&format!("{base}/p/{token}")).await;
    assert_eq!(b.text("#planned-power-on").await, day(4).to_string());
    assert!(b.text("#connection").await.contains("报批中"));
    assert!(b.text("#typical-cost").await.contains("250000–600000"));
    b.resize(390, 844).await;
    b.shot("progress-connection-390").await;
    b.resize(1280, 900).await;
    let tracked: serde_json::Value = reqwest::get(format!("{base}/api/v1/public/track/{token}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tracked["planned_power_on"], day(4).to_string());
    assert_eq!(tracked["power_on_window"], "09:00-12:00");
    assert_eq!(tracked["typical_cost_low_yuan"], 250000.0);

    // The outage is approved; the owner records the action done on the phone: both leave the
    // board's late list, the power-on stays until it happens.
    pm.sync().await;
    pm.store
        .edit(
            &job.id,
            "pm1",
            &Edit::UpdateOutagePlan(OutagePlan {
                state: Some(OutageState::Approved),
                approval_no: Some("TD-2026-1211-03".into()),
                ..Default::default()
            }),
        )
        .unwrap();
    pm.sync().await;
    cm.sync().await;
    let refused = pm
        .store
        .edit(
            &job.id,
            "pm1",
            &Edit::CompleteAction {
                id: "a1".into(),
                at: Utc::now(),
                note: None,
            },
        )
        .unwrap_err();
    assert!(refused.to_string().contains("责任人"), "{refused}");
    cm.store
        .edit(
            &job.id,
            "cm1",
            &Edit::CompleteAction {
                id: "a1".into(),
                at: Utc::now(),
                note: Some("已交付".into()),
            },
        )
        .unwrap();
    cm.sync().await;
    b.goto(&format!("{base}/p/{token}")).await;
    assert!(b.text("#connection").await.contains("已批准"));
    b.goto(&format!("{base}/jobs/{}", job.id)).await;
    b.click("header.top form[action='/logout'] button").await;
    b.login(&base, "/board", "disp1", PASSWORD).await;
    let rows = b
        .js("return [...document.querySelectorAll('#agenda tr.agenda-row')].map(r => r.dataset.kind + ':' + r.dataset.state)")
        .await;
    let rows: Vec<String> = serde_json::from_value(rows).unwrap();
    assert_eq!(
        rows,
        [
            "key_visit:late",
            "rental_removal:due_soon",
            "outage:due_soon",
            "power_on:due_soon",
        ]
    );
    b.close().await;
}
