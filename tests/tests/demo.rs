//! `fieldline demo` data: every role can log in and sees its scope; every kind and status exists.

use field_core::store::JobFilter;
use field_core::{JobKind, JobStatus, Store};
use fieldline_server::Config;
use fieldline_server::service::demo;
use fieldline_tests::*;
use std::collections::BTreeSet;

#[tokio::test]
async fn demo_data_covers_every_kind_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().join("server"),
        ..Config::default()
    };
    let env = fieldline_server::open(&config).unwrap();
    let data_dir = config.data_dir.clone();
    // The seed blocks on the blob store: it runs on a blocking thread, as `fieldline demo` does.
    let seed = || {
        let data_dir = data_dir.clone();
        let env = env.clone();
        async move { env.blocking(move |env| demo::seed(env, &data_dir)).await }
    };
    let users = seed().await.unwrap();
    // A user per role, a second customer manager and the unit's leader (a dispatcher).
    assert_eq!(users.len(), field_core::Role::ALL.len() + 2);
    // Seeding again keeps the same data and logins.
    let again = seed().await.unwrap();
    assert_eq!(users, again);
    let running = fieldline_server::serve(&config, env).await.unwrap();
    let url = format!("http://{}", running.addr);
    let password = |u: &str| users.iter().find(|x| x.0 == u).unwrap().2.clone();

    let phone = |name: &'static str| {
        let url = url.clone();
        let pw = password(name);
        async move {
            let d = tempfile::tempdir().unwrap();
            let store = Store::open(d.path().join("p.db"), &fieldline_tests::phone_key()).unwrap();
            field_core::sync::login(&store, &url, name, &pw)
                .await
                .unwrap();
            field_core::sync::sync(&store, &fast_options(), &|_| {})
                .await
                .unwrap();
            (store, d)
        }
    };
    let (dispatcher, _d1) = phone("dispatcher1").await;
    let all = dispatcher
        .list_jobs(&JobFilter {
            limit: Some(100),
            ..Default::default()
        })
        .unwrap()
        .items;
    assert!(all.len() >= 12, "{} jobs", all.len());
    let kinds: BTreeSet<JobKind> = all.iter().map(|s| s.kind).collect();
    let statuses: BTreeSet<JobStatus> = all.iter().map(|s| s.status).collect();
    assert_eq!(kinds.len(), JobKind::ALL.len());
    assert_eq!(statuses.len(), JobStatus::ALL.len(), "{statuses:?}");
    assert!(all.iter().any(|s| s.waiting));
    let (li, _d2) = phone("cm-li").await;
    let mine = li
        .list_jobs(&JobFilter {
            limit: Some(100),
            ..Default::default()
        })
        .unwrap()
        .items;
    assert!(!mine.is_empty() && mine.len() < all.len());
    assert!(
        mine.iter()
            .all(|s| s.customer_manager.as_deref() == Some("cm-li"))
    );
    // The project side: 赵敏's phone has her late meeting action item and the overdue visit to an
    // important customer; the dispatcher's board lists the unit's agenda, the register of firms
    // flags the builder whose licence ends before the works.
    let (zhao, _d3) = phone("cm-zhao").await;
    let until = field_core::job::local_date(chrono::Utc::now()) + chrono::Days::new(14);
    let agenda = zhao.agenda(Some("cm-zhao"), until).unwrap();
    let late: BTreeSet<&str> = agenda
        .iter()
        .filter(|e| e.state == field_core::agenda::AgendaState::Late)
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(late, BTreeSet::from(["action", "key_visit"]), "{agenda:?}");
    let board = session_get(
        &url,
        &form_login(&url, "dispatcher1", &password("dispatcher1")).await,
        "/api/v1/board",
    )
    .await
    .json::<serde_json::Value>()
    .await
    .unwrap();
    let kinds: BTreeSet<String> = board["agenda"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap().to_string())
        .collect();
    for k in [
        "action",
        "power_on",
        "outage",
        "rental_removal",
        "key_visit",
    ] {
        assert!(kinds.contains(k), "{k} on the board: {kinds:?}");
    }
    let with_firms = all
        .iter()
        .find(|s| {
            zhao.firm_checks(&s.job_id)
                .map(|c| c.len() == 2)
                .unwrap_or(false)
        })
        .expect("a demo job names its firms");
    let checks = zhao.firm_checks(&with_firms.job_id).unwrap();
    assert!(checks[0].ok && !checks[1].ok, "{checks:?}");
    running.stop().await;
}
