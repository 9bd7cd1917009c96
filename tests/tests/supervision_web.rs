//! 督办 end to end, in real headless Chromium and on real phones: an admin makes a user the unit's
//! leader; a dispatcher issues a supervision order on a job's page; it reaches the customer
//! manager's phone by sync, where only they can answer it; the answer shows in the browser and
//! the dispatcher closes the order. A second order left unanswered past its deadline is
//! escalated by the server to the leader (on the board, on the job page, on the phone), once.
//! Office staff cannot issue orders, and nobody but the server writes an escalation.

use chrono::Utc;
use field_core::job::local_date;
use field_core::{Edit, JobKind, Role};
use fieldline_server::service::supervision;
use fieldline_tests::browser::Browser;
use fieldline_tests::*;

const UNIT: &str = "zhuxian";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_reaches_the_phone_is_answered_there_and_escalates_when_late() {
    let Some(mut b) = Browser::start("supervision").await else {
        return;
    };
    let server = TestServer::start().await;
    for (u, r) in [
        ("admin1", Role::Admin),
        ("office1", Role::OfficeStaff),
        ("disp1", Role::Dispatcher),
        ("lead1", Role::Dispatcher),
        ("cm1", Role::CustomerManager),
        ("pm1", Role::ProjectManager),
    ] {
        server.add_user(u, r, UNIT);
    }
    let base = server.url();
    let office = Phone::login(&server, "office1").await;
    let mut new = new_job(JobKind::LowVoltageSmallMicro, UNIT, "周建国");
    new.accepted_at = Utc::now();
    let job = office.store.create_job("office1", &new).unwrap();
    assign(&office, &job.id, Some("cm1"), Some("pm1"));
    office.sync().await;
    let cm = Phone::login(&server, "cm1").await;
    let pm = Phone::login(&server, "pm1").await;
    cm.sync().await;
    pm.sync().await;
    let page = format!("/jobs/{}", job.id);

    // The admin makes lead1 the unit's leader.
    b.login(&base, "/admin/users/lead1", "admin1", PASSWORD)
        .await;
    b.click("form[action$='/leader'] button").await;
    assert_eq!(b.path().await, "/admin/users/lead1");
    assert_eq!(b.count("#user .badge.key").await, 1);
    b.click("header.top form[action='/logout'] button").await;

    // Office staff see no form, and a forged order is refused.
    let session = form_login(&base, "office1", PASSWORD).await;
    let csrf = page_csrf(&base, &session, &page).await;
    let today = local_date(Utc::now()).to_string();
    let r = session_post(
        &base,
        &session,
        &format!("{page}/supervision"),
        &[
            ("csrf", csrf.as_str()),
            ("to", "customer_manager"),
            ("reason", "冒充调度"),
            ("due_on", &today),
        ],
    )
    .await;
    assert_eq!(r.status(), 403);

    // The dispatcher issues an order to the customer manager.
    b.login(&base, &page, "disp1", PASSWORD).await;
    assert_eq!(b.count("#supervision article.order").await, 0);
    assert_eq!(b.count("#supervision-form").await, 1);
    b.fill(
        "#supervision-form textarea[name=reason]",
        "勘查迟迟未安排，请今天联系客户",
    )
    .await;
    b.shot("issue-form").await;
    b.click("#supervision-form button[type=submit]").await;
    assert_eq!(
        b.count("#supervision article.order[data-state=open]").await,
        1
    );
    assert!(b.text("#supervision").await.contains("勘查迟迟未安排"));

    // It reaches the phone; the project manager cannot answer it, the customer manager does.
    cm.sync().await;
    pm.sync().await;
    let on_phone = cm.store.job(&job.id).unwrap();
    let (order_id, order) = on_phone
        .supervision
        .iter()
        .next()
        .expect("the order synced");
    assert_eq!(order.manager.as_deref(), Some("cm1"));
    assert_eq!(order.issued_by.as_deref(), Some("disp1"));
    let answer = |text: &str| Edit::AnswerSupervision {
        id: order_id.clone(),
        text: text.into(),
        at: Utc::now(),
    };
    let refused = pm.store.edit(&job.id, "pm1", &answer("代答")).unwrap_err();
    assert!(refused.to_string().contains("被督办人"), "{refused}");
    cm.store
        .edit(&job.id, "cm1", &answer("已约客户今天下午勘查"))
        .unwrap();
    cm.sync().await;

    // The answer shows in the browser; the dispatcher closes the order.
    b.goto(&format!("{base}{page}")).await;
    assert_eq!(
        b.count("#supervision article.order[data-state=answered]")
            .await,
        1
    );
    assert!(
        b.text("#supervision")
            .await
            .contains("已约客户今天下午勘查")
    );
    b.shot("answered").await;
    b.fill(
        "#supervision form.inline-form input[name=remarks]",
        "已勘查",
    )
    .await;
    b.click("#supervision form.inline-form button").await;
    assert_eq!(
        b.count("#supervision article.order[data-state=closed]")
            .await,
        1
    );

    // A second order, due today, left unanswered: a few days on the server escalates it.
    b.click_only("#supervision-form summary").await;
    b.fill("#supervision-form textarea[name=reason]", "供电方案逾期")
        .await;
    b.click("#supervision-form button[type=submit]").await;
    b.goto(&format!("{base}/board")).await;
    assert_eq!(
        b.count("#supervision-orders tbody tr[data-state=open]")
            .await,
        1
    );
    let env = server.env().clone();
    let later = local_date(Utc::now()) + chrono::Duration::days(3);
    let n = env
        .blocking(move |env| supervision::escalate_late(env, later))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let again = env
        .blocking(move |env| supervision::escalate_late(env, later))
        .await
        .unwrap();
    assert_eq!(again, 0, "escalated once");
    b.click("header.top form[action='/logout'] button").await;
    b.login(&base, "/board", "lead1", PASSWORD).await;
    assert_eq!(
        b.count("#supervision-orders tbody tr[data-state=escalated].key")
            .await,
        1,
        "marked as escalated to the leader"
    );
    assert!(b.text("#supervision-orders").await.contains("升级给我"));
    b.shot("board-escalated").await;
    b.click("#supervision-orders tbody tr a").await;
    assert_eq!(
        b.count("#supervision article.order[data-state=escalated]")
            .await,
        1
    );
    assert!(b.text("#supervision").await.contains("lead1"));
    b.shot("escalated").await;

    // The phone learns of the escalation; the escalation itself is the server's alone.
    cm.sync().await;
    let on_phone = cm.store.job(&job.id).unwrap();
    let escalated = on_phone
        .supervision
        .values()
        .find(|o| o.escalation.escalated_at.is_some())
        .expect("the escalation synced");
    assert_eq!(escalated.escalation.leaders.as_deref(), Some("lead1"));
    let audit = env
        .store
        .read()
        .unwrap()
        .audit(&fieldline_server::store::AuditQuery {
            job_id: Some(job.id.clone()),
            limit: 1000,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.kind == "supervision_escalated")
            .count(),
        1
    );

    // The same board and the month's assessment as JSON: for the leader, not for a manager.
    let lead = form_login(&base, "lead1", PASSWORD).await;
    let r = session_get(&base, &lead, "/api/v1/board").await;
    assert_eq!(r.status(), 200);
    let board: serde_json::Value = r.json().await.unwrap();
    let orders = board["supervision"].as_array().unwrap();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0]["leaders"], "lead1");
    let r = session_get(&base, &lead, "/api/v1/assessment").await;
    assert_eq!(r.status(), 200);
    let a: serde_json::Value = r.json().await.unwrap();
    assert_eq!(a["unit"], UNIT);
    let cm_session = form_login(&base, "cm1", PASSWORD).await;
    for path in ["/api/v1/board", "/api/v1/assessment"] {
        assert_eq!(session_get(&base, &cm_session, path).await.status(), 403);
    }
    b.close().await;
}
