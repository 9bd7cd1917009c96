//! Managers' qualifications (任职条件, seed 003 第五条/第六条) in real headless Chromium: the admin
//! records a manager's title and training; the counter sees a manager who falls short flagged
//! before assigning them; where the unit's rule set says `block`, assigning them is refused with
//! the reason, as a raw client too.

use field_core::Role;
use fieldline_tests::browser::Browser;
use fieldline_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_who_falls_short_is_flagged_and_blocked_where_the_unit_says_so() {
    let Some(mut b) = Browser::start("qualifications").await else {
        return;
    };
    let server = TestServer::start().await;
    let users = seed_demo(&server).await;
    let base = server.url();
    server.add_user("cm-new", Role::CustomerManager, "zhuxian");

    // The counter's 派工 form flags 赵敏 (no business-expansion training in the demo).
    let office = form_login(&base, "office1", &users.password("office1")).await;
    let list: serde_json::Value = session_get(&base, &office, "/api/v1/jobs?limit=500")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<String> = list["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["job_id"].as_str().unwrap().to_string())
        .collect();
    b.login(
        &base,
        &format!("/jobs/{}", ids[0]),
        "office1",
        &users.password("office1"),
    )
    .await;
    // (The 派工 form may be folded: read the text, shown or not.)
    let warning = b
        .js("return document.querySelector('#qualification-warning').textContent")
        .await;
    let warning = warning.as_str().unwrap_or_default().to_string();
    assert!(
        warning.contains("cm-zhao") && warning.contains("业扩报装业务培训"),
        "{warning}"
    );
    assert!(!warning.contains("cm-li"), "{warning}");
    let flagged = b
        .js("return [...document.querySelectorAll('select[name=customer_manager] option')].filter(o => o.textContent.includes('资格不符')).map(o => o.value)")
        .await;
    let mut flagged: Vec<String> = serde_json::from_value(flagged).unwrap();
    flagged.sort();
    assert_eq!(flagged, ["cm-new", "cm-zhao"]);
    b.shot("flagged").await;

    // The admin records her training: she is no longer flagged.
    b.click("header.top form[action='/logout'] button").await;
    b.login(
        &base,
        "/admin/users/cm-zhao",
        "admin",
        &users.password("admin"),
    )
    .await;
    assert!(b.text("#shortfalls").await.contains("业扩报装业务培训"));
    let admin = b.cookie_header().await;
    let csrf = page_csrf(&base, &admin, "/admin/users/cm-zhao").await;
    let r = session_post(
        &base,
        &admin,
        "/admin/users/cm-zhao/training",
        &[
            ("csrf", csrf.as_str()),
            ("course", "business_expansion"),
            ("completed_on", "2026-06-30"),
            ("certificate", "YK-2026-0630"),
        ],
    )
    .await;
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    // A date in the future is refused with the reason.
    let r = session_post(
        &base,
        &admin,
        "/admin/users/cm-zhao/training",
        &[
            ("csrf", csrf.as_str()),
            ("course", "business_expansion"),
            ("completed_on", "2999-01-01"),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    b.goto(&format!("{base}/admin/users/cm-zhao")).await;
    assert_eq!(b.count("#shortfalls").await, 0);
    assert!(b.text("#trainings").await.contains("YK-2026-0630"));
    b.shot("admin-trainings").await;
    let audit = server.audit(None);
    assert!(audit.iter().any(|e| e.kind == "training_recorded"));

    // Warned only (the default): an unqualified manager can still be assigned.
    let csrf_o = page_csrf(&base, &office, &format!("/jobs/{}", ids[0])).await;
    let assign = |job: String, cm: &'static str| {
        let (base, office, csrf) = (base.clone(), office.clone(), csrf_o.clone());
        async move {
            session_post(
                &base,
                &office,
                &format!("/jobs/{job}/assignment"),
                &[("csrf", csrf.as_str()), ("customer_manager", cm)],
            )
            .await
        }
    };
    let r = assign(ids[0].clone(), "cm-new").await;
    assert!(
        r.status().is_redirection() || r.status().is_success(),
        "{}",
        r.status()
    );

    // The unit's rule set blocks it: refused with the reason; a qualified manager goes through.
    let today = field_core::job::local_date(chrono::Utc::now());
    let mut set = serde_json::to_value(server.env().rules().in_force("zhuxian", today)).unwrap();
    set["id"] = "zhuxian-rules".into();
    set["version"] = 1.into();
    set["unit"] = "zhuxian".into();
    set["effective_from"] = today.to_string().into();
    set["thresholds"]["manager_qualification"] = "block".into();
    let csrf_a = page_csrf(&base, &admin, "/admin/reference").await;
    let r = session_post(
        &base,
        &admin,
        "/admin/reference",
        &[
            ("csrf", csrf_a.as_str()),
            ("kind", "rule_set"),
            ("body", &set.to_string()),
        ],
    )
    .await;
    assert!(
        r.status().is_redirection() || r.status().is_success(),
        "{}",
        r.status()
    );
    let r = assign(ids[1].clone(), "cm-new").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("不符合客户经理任职条件"));
    let r = assign(ids[1].clone(), "cm-zhao").await;
    assert!(
        r.status().is_redirection() || r.status().is_success(),
        "{}",
        r.status()
    );
    b.close().await;
}
