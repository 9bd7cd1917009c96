//! 派工 at the counter, in real headless Chromium: the office assigns the customer manager the
//! customer chose from the published list and appoints a project manager with who approved it;
//! both phones receive the job; settling the supporting project on the project manager's phone
//! releases them (自动解聘). A dispatcher gets no form and a forged assignment is refused.

use chrono::Utc;
use field_core::job::ProjectSettlement;
use field_core::{Edit, JobKind, MilestoneEvent, Role};
use fieldline_tests::browser::Browser;
use fieldline_tests::*;

const UNIT: &str = "zhuxian";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counter_assigns_the_chosen_manager_and_appoints_a_project_manager() {
    let Some(mut b) = Browser::start("assignment").await else {
        return;
    };
    let server = TestServer::start().await;
    for (u, r) in [
        ("office1", Role::OfficeStaff),
        ("disp1", Role::Dispatcher),
        ("cm1", Role::CustomerManager),
        ("cm2", Role::CustomerManager),
        ("pm1", Role::ProjectManager),
    ] {
        server.add_user(u, r, UNIT);
    }
    server.add_user("cm-far", Role::CustomerManager, "other-unit");
    let base = server.url();
    let office = Phone::login(&server, "office1").await;
    let mut new = new_job(JobKind::HighVoltage, UNIT, "恒泰物流园");
    new.accepted_at = Utc::now();
    let job = office.store.create_job("office1", &new).unwrap();
    office.sync().await;
    let page = format!("/jobs/{}", job.id);

    // A dispatcher has no form, and a forged assignment is refused.
    let session = form_login(&base, "disp1", PASSWORD).await;
    let html = session_get(&base, &session, &page)
        .await
        .text()
        .await
        .unwrap();
    assert!(!html.contains("assign-form"));
    let csrf = page_csrf(&base, &session, &page).await;
    let r = session_post(
        &base,
        &session,
        &format!("{page}/assignment"),
        &[("csrf", csrf.as_str()), ("customer_manager", "cm2")],
    )
    .await;
    assert_eq!(r.status(), 403);

    // The counter: the form offers the unit's managers with their records.
    b.login(&base, &page, "office1", PASSWORD).await;
    assert_eq!(b.count("#assign-form[open]").await, 1);
    assert_eq!(
        b.count("#assign-form select[name=customer_manager] option")
            .await,
        3,
        "(unchanged), cm1, cm2: not another unit's"
    );
    b.select("#assign-form select[name=customer_manager]", "cm1")
        .await;
    b.click_only("#assign-form input[name=customer_chose]")
        .await;
    b.select("#assign-form select[name=project_manager]", "pm1")
        .await;
    b.fill("#assign-form input[name=approved_by]", "副总经理 张")
        .await;
    b.shot("form").await;
    b.click("#assign-form button[type=submit]").await;
    assert!(b.path().await.contains("done=assigned"));
    let timeline = b.text("#milestones").await;
    assert!(timeline.contains("聘任项目经理"), "{timeline}");
    assert!(timeline.contains("副总经理 张"), "{timeline}");
    assert!(timeline.contains("转客户经理"), "the hand-over: {timeline}");
    b.shot("assigned").await;

    // The written receipt (书面回执): the next step's limit as a date, whom to contact, and the
    // customer's progress page, which the server also wrote into the job for the phones.
    let session = form_login(&base, "office1", PASSWORD).await;
    let r = session_get(&base, &session, &format!("{page}/receipt.pdf")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let pdf = r.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF"));
    if let Some(text) = pdf_text(&pdf) {
        for want in [
            "业扩报装书面回执",
            "最迟办结日期",
            "供电方案答复",
            "cm1（工号 cm1）",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
        // The link wraps across lines: look for it without the layout's white space.
        let joined: String = text.split_whitespace().collect();
        assert!(joined.contains(&format!("/p/{}.", job.id)), "{text}");
    }
    // Both phones receive the job with the choice recorded.
    let cm = Phone::login(&server, "cm1").await;
    let pm = Phone::login(&server, "pm1").await;
    cm.sync().await;
    pm.sync().await;
    let got = cm.store.job(&job.id).unwrap();
    assert_eq!(got.assignment.customer_manager.as_deref(), Some("cm1"));
    assert_eq!(got.assignment.customer_chose_manager, Some(true));
    assert_eq!(got.assignment.project_manager.as_deref(), Some("pm1"));
    assert!(got.first(MilestoneEvent::ProjectManagerAppointed).is_some());
    assert!(pm.store.job(&job.id).is_ok());
    let token = got
        .progress_token
        .clone()
        .expect("the server gave the job its progress page");
    let progress = reqwest::get(format!("{base}/p/{token}")).await.unwrap();
    assert_eq!(progress.status(), 200);

    // The project is settled on the project manager's phone: the server releases them.
    pm.store
        .edit(
            &job.id,
            "pm1",
            &Edit::UpdateProjectSettlement(ProjectSettlement {
                amount_yuan: Some(128_000.0),
                settled_at: Some(Utc::now()),
                documents_complete: Some(true),
            }),
        )
        .unwrap();
    pm.sync().await;
    pm.sync().await;
    let released = pm.store.job(&job.id).unwrap();
    assert!(released.assignment.pm_released_at.is_some(), "released");
    b.goto(&format!("{base}{page}")).await;
    let form = b
        .js("return document.querySelector('#assign-form').textContent")
        .await;
    assert!(form.as_str().unwrap().contains("自动解聘"), "{form}");
    // Another project manager cannot be appointed to a settled project.
    let csrf = page_csrf(&base, &session, &page).await;
    let r = session_post(
        &base,
        &session,
        &format!("{page}/assignment"),
        &[("csrf", csrf.as_str()), ("project_manager", "pm2")],
    )
    .await;
    assert_eq!(r.status(), 400);
    b.close().await;
}
