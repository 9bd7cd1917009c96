//! The dispatch board (调度台) in real headless Chromium as the demo's dispatcher: warnings per
//! stage and per manager, drilling down by a count, the list most urgent first, the job's time
//! limits; a dispatcher cannot review; a customer manager cannot open the board.

use fieldline_tests::browser::Browser;
use fieldline_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dispatcher_sees_warnings_per_stage_and_manager() {
    let Some(mut b) = Browser::start("dispatch_board").await else {
        return;
    };
    let server = TestServer::start().await;
    let users = seed_demo(&server).await;
    let password = |u: &str| users.password(u);
    let base = server.url();

    b.login(&base, "/board", "dispatcher1", &password("dispatcher1"))
        .await;
    assert_eq!(b.path().await, "/board");
    assert_eq!(b.count("header.top a[href='/board']").await, 1);
    let overdue = b.count("#warnings .badge.overdue").await;
    assert!(overdue >= 2, "the demo has overdue stages: {overdue}");
    assert!(b.count("#by-stage tbody tr").await >= 2);
    assert!(b.count("#by-manager tbody tr").await >= 2);
    b.shot("board").await;

    // Most urgent first: every overdue row before any other warning.
    let levels: Vec<String> = b
        .js("return [...document.querySelectorAll('#warnings tbody tr .badge:not(.key)')].map(e => e.className)")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let first_other = levels.iter().position(|c| !c.contains("overdue"));
    if let Some(i) = first_other {
        assert!(
            levels[i..].iter().all(|c| !c.contains("overdue")),
            "{levels:?}"
        );
    }

    // A count drills down: the first stage's overdue count lists exactly that many.
    let link = b
        .attr("#by-stage tbody tr a[href*='warning=overdue']", "href")
        .await
        .expect("an overdue count");
    let n: usize = b
        .text("#by-stage tbody tr a[href*='warning=overdue']")
        .await
        .trim()
        .parse()
        .unwrap();
    b.click("#by-stage tbody tr a[href*='warning=overdue']")
        .await;
    assert_eq!(b.path().await, link);
    assert_eq!(b.count("#warnings tbody tr").await, n);
    assert_eq!(b.count("#warnings .badge.overdue").await, n);
    b.shot("board-drilled").await;

    // The filter form: one manager.
    b.goto(&format!("{base}/board")).await;
    b.select("select[name=manager]", "cm-li").await;
    b.click("form.filters button[type=submit]").await;
    let rows = b.count("#warnings tbody tr").await;
    let li_rows = b
        .js("return [...document.querySelectorAll('#warnings tbody tr')].filter(r => r.textContent.includes('李强')).length")
        .await
        .as_u64()
        .unwrap() as usize;
    assert_eq!(rows, li_rows, "only cm-li's jobs");

    // Into a job: its time limits; no review form for a dispatcher.
    b.click("#warnings tbody tr a[href^='/jobs/']").await;
    assert_eq!(b.count("#time-limits .badge.overdue").await.min(1), 1);
    assert_eq!(b.count("#review button[value=approve]").await, 0);

    // Return visits: one falls due after power-on; the dispatcher records it with a low score,
    // which opens a follow-up on the board until its outcome is recorded.
    b.goto(&format!("{base}/board")).await;
    let due_before = b.count("#visits-due tbody tr").await;
    assert!(due_before >= 1, "the demo has powered-on jobs to visit");
    let follow_before = b.count("#follow-ups tbody tr").await;
    let href = b.attr("#visits-due tbody tr a", "href").await.unwrap();
    let job_id = href
        .trim_start_matches("/jobs/")
        .trim_end_matches("#visit-form")
        .to_string();
    b.click("#visits-due tbody tr a").await;
    b.click_only("#visit-form input[name=channel][value=phone]")
        .await;
    b.click_only("#visit-form input[name=satisfaction][value='2']")
        .await;
    b.fill("#visit-form textarea[name=comment]", "装表师傅迟到两次")
        .await;
    b.shot("visit-form").await;
    b.click("#visit-form button[type=submit]").await;
    assert!(b.path().await.contains("done=visit"));
    assert!(b.text("#return_visit").await.contains("装表师傅迟到两次"));
    b.goto(&format!("{base}/board")).await;
    assert_eq!(b.count("#visits-due tbody tr").await, due_before - 1);
    assert_eq!(b.count("#follow-ups tbody tr").await, follow_before + 1);
    b.click(&format!("#follow-ups a[href^='/jobs/{job_id}']"))
        .await;
    b.fill(
        "#visit-form textarea[name=text]",
        "已致电道歉，安排专人回访",
    )
    .await;
    b.click("#visit-form button[type=submit]").await;
    assert!(b.path().await.contains("done=follow_up"));
    assert_eq!(b.count("#visit-form").await, 0, "nothing left to do");
    b.goto(&format!("{base}/board")).await;
    assert_eq!(b.count("#follow-ups tbody tr").await, follow_before);
    // The job's customer manager gets the visit by sync; the job is closed.
    let cm = b
        .js(&format!(
            "return fetch('/api/v1/jobs/{job_id}').then(r => r.json()).then(j => j.job.assignment.customer_manager)"
        ))
        .await;
    let cm = cm.as_str().unwrap_or("cm-li").to_string();
    let d = tempfile::tempdir().unwrap();
    let store =
        field_core::Store::open(d.path().join("p.db"), &fieldline_tests::phone_key()).unwrap();
    field_core::sync::login(&store, &base, &cm, &password(&cm))
        .await
        .unwrap();
    field_core::sync::sync(&store, &fast_options(), &|_| {})
        .await
        .unwrap();
    let job = store.job(&job_id).unwrap();
    assert_eq!(job.return_visit.satisfaction, Some(2));
    assert_eq!(job.return_visit.visitor.as_deref(), Some("dispatcher1"));
    assert!(job.return_visit.follow_up_at.is_some());
    assert_eq!(job.status(), field_core::JobStatus::Closed);

    // Assessment (考核): without a month it opens on the latest month with figures.
    b.goto(&format!("{base}/assessment")).await;
    assert!(
        b.count("#by-kind svg.chart rect").await > 0,
        "the first view of the assessment has figures"
    );
    // The demo's powered-on jobs fall in this month or the ones before.
    let today = field_core::job::local_date(chrono::Utc::now());
    let mut shown = false;
    for back in 0..4 {
        let month = (today - chrono::Duration::days(30 * back))
            .format("%Y-%m")
            .to_string();
        b.goto(&format!("{base}/assessment?month={month}")).await;
        assert!(b.text("h1").await.contains(&month));
        if b.count("#by-kind svg.chart rect").await > 0 {
            assert!(b.count("#by-stage svg.chart").await == 1);
            assert!(b.count("#by-manager tbody tr").await >= 1);
            b.shot("assessment").await;
            b.click_only("a[href^='/assessment.csv']").await;
            let csv = std::fs::read_to_string(b.download(".csv").await).unwrap();
            assert!(csv.starts_with('\u{feff}'));
            assert!(csv.contains("平均接电时间"), "{csv}");
            assert!(csv.lines().count() >= 2);
            b.click_only("a[href^='/assessment.xlsx']").await;
            let xlsx = std::fs::read(b.download(".xlsx").await).unwrap();
            assert!(xlsx.starts_with(b"PK"), "a workbook");
            shown = true;
            break;
        }
    }
    assert!(shown, "some recent month has powered-on demo jobs");
    b.goto(&format!("{base}/assessment?month=2026-13")).await;
    assert!(b.text("main").await.contains("月份须为 YYYY-MM"));

    // A bad filter is a clear message, not a server error.
    b.goto(&format!("{base}/board?stage=nope")).await;
    assert!(b.text("main").await.contains("未知的环节"));

    // English.
    b.goto(&format!("{base}/board")).await;
    b.click("header.top a[href^='/lang/en']").await;
    assert!(b.text("h1").await.starts_with("Dispatch board"));
    b.shot("board-english").await;
    b.close().await;

    // A customer manager's browser is refused the board.
    let http = reqwest::Client::new();
    let session = form_login(&base, "cm-li", &password("cm-li")).await;
    let r = http
        .get(format!("{base}/board"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let html = r.text().await.unwrap();
    assert!(html.contains("无权查看调度台"), "{html}");
    for path in ["/assessment", "/assessment.csv", "/assessment.xlsx"] {
        let r = http
            .get(format!("{base}{path}"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
}
