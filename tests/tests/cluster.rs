//! Two server nodes on one database (here one SQLite file, as two processes would share it):
//! phones alternate between the nodes without losing or repeating anything (each node's document
//! cache is checked against the database's version), login limits hold across the nodes, not per
//! node, and the periodic work runs on one of them.

use fieldline_server::Config;
use fieldline_tests::*;

async fn login(http: &reqwest::Client, url: &str, password: &str) -> u16 {
    http.post(format!("{url}/api/v1/auth/login"))
        .json(&serde_json::json!({
            "username": "office1",
            "password": password,
            "device_id": "cluster-test",
        }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_limits_hold_across_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let node = |name: &str| Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().join("shared"),
        node_id: name.into(),
        login_attempts_per_minute: 4,
        login_attempts_per_minute_per_address: 1_000,
        ..Config::default()
    };
    let a = fieldline_server::start(&node("node-a")).await.unwrap();
    let b = fieldline_server::start(&node("node-b")).await.unwrap();
    add_user_to(&a.env, "office1", field_core::Role::OfficeStaff, "zhuxian");
    let (url_a, url_b) = (format!("http://{}", a.addr), format!("http://{}", b.addr));
    let http = reqwest::Client::new();

    // Four wrong guesses, alternating nodes: each node saw only two, yet the fifth attempt is
    // refused on either node, even with the right password.
    for i in 0..4 {
        let url = if i % 2 == 0 { &url_a } else { &url_b };
        assert_eq!(login(&http, url, "wrong-guess").await, 401, "guess {i}");
    }
    assert_eq!(login(&http, &url_a, PASSWORD).await, 429);
    assert_eq!(login(&http, &url_b, PASSWORD).await, 429);

    // The periodic work belongs to one node at a time.
    let hour = std::time::Duration::from_secs(3600);
    let holder_a =
        fieldline_server::service::lease::claim(&a.env, "periodic", "node-a", hour).unwrap();
    let holder_b =
        fieldline_server::service::lease::claim(&b.env, "periodic", "node-b", hour).unwrap();
    assert!(holder_a != holder_b, "exactly one node holds the lease");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phones_alternate_between_nodes_and_converge() {
    use field_core::{Edit, JobKind, Role};
    let dir = tempfile::tempdir().unwrap();
    let node = |name: &str| Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().join("shared"),
        node_id: name.into(),
        login_attempts_per_minute: 1_000,
        login_attempts_per_minute_per_address: 10_000,
        ..Config::default()
    };
    let a = fieldline_server::start(&node("node-a")).await.unwrap();
    let b = fieldline_server::start(&node("node-b")).await.unwrap();
    for (u, r) in [
        ("office1", Role::OfficeStaff),
        ("cm1", Role::CustomerManager),
    ] {
        add_user_to(&a.env, u, r, "zhuxian");
    }
    let urls = [format!("http://{}", a.addr), format!("http://{}", b.addr)];
    let office = Phone::login_at(&urls[0], "office1").await;
    let cm = Phone::login_at(&urls[1], "cm1").await;
    let job = office
        .store
        .create_job(
            "office1",
            &new_job(JobKind::LowVoltageSmallMicro, "zhuxian", "周建国"),
        )
        .unwrap();
    assign(&office, &job.id, Some("cm1"), None);
    office.sync().await; // through node a
    cm.sync().await; // through node b, which has not served this job yet
    // Every round each phone edits the notes, then syncs through the other node than before.
    for round in 0..6 {
        for (i, (phone, user)) in [(&office, "office1"), (&cm, "cm1")].into_iter().enumerate() {
            phone
                .store
                .edit(
                    &job.id,
                    user,
                    &Edit::SpliceNotes {
                        pos: 0,
                        delete: 0,
                        insert: format!("[{user} {round}]"),
                    },
                )
                .unwrap();
            let url = &urls[(round + i) % 2];
            phone.store.set_sync_setting("server", url).unwrap();
            let report = phone.sync().await;
            assert!(report.rejected.is_empty(), "{:?}", report.rejected);
        }
    }
    // A last sync each, then both phones and both nodes hold the same notes with all 12 edits.
    for (i, phone) in [&office, &cm].into_iter().enumerate() {
        phone.store.set_sync_setting("server", &urls[i]).unwrap();
        phone.sync().await;
    }
    office.store.set_sync_setting("server", &urls[1]).unwrap();
    office.sync().await;
    let notes = office.store.job(&job.id).unwrap().notes;
    assert_eq!(cm.store.job(&job.id).unwrap().notes, notes);
    for round in 0..6 {
        for user in ["office1", "cm1"] {
            let mark = format!("[{user} {round}]");
            assert_eq!(notes.matches(&mark).count(), 1, "{mark} once in {notes}");
        }
    }
    for env in [&a.env, &b.env] {
        let who = fieldline_server::service::auth::Principal {
            user_id: 0,
            username: "office1".into(),
            display_name: "office1".into(),
            role: Role::OfficeStaff,
            unit: "zhuxian".into(),
            device_id: "test".into(),
            actor: None,
        };
        let v = fieldline_server::service::view::job_view(env, &who, &job.id).unwrap();
        assert_eq!(v.job.notes, notes, "each node serves the latest document");
    }
    a.stop().await;
    b.stop().await;
}
