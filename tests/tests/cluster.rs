//! Two server nodes on one database (here one SQLite file, as two processes would share it):
//! login limits hold across the nodes, not per node, and the periodic work runs on one of them.

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
