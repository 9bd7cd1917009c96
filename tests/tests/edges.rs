//! Bad input, auth and paging against the real server.

use field_core::Role;
use field_core::sync::protocol::{self, ApiError, PushJob, SyncRequest};
use field_core::{Edit, JobKind};
use fieldline_tests::*;

const UNIT: &str = "zhuxian";

async fn setup() -> (TestServer, Phone) {
    let server = TestServer::start().await;
    server.add_user("office1", Role::OfficeStaff, UNIT);
    server.add_user("cm-li", Role::CustomerManager, UNIT);
    server.add_user("office-other", Role::OfficeStaff, "other-unit");
    let office = Phone::login(&server, "office1").await;
    (server, office)
}

fn token(p: &Phone) -> String {
    p.store.sync_setting("token").unwrap().unwrap()
}

async fn post_sync(
    server: &TestServer,
    token: &str,
    body: Vec<u8>,
    protocol: Option<&str>,
) -> (u16, Option<ApiError>) {
    let mut req = reqwest::Client::new()
        .post(format!("{}/api/v1/sync", server.url()))
        .bearer_auth(token)
        .body(body);
    if let Some(p) = protocol {
        req = req.header("fieldline-protocol", p);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.ok())
}

fn request(device: &str, push: Vec<PushJob>) -> Vec<u8> {
    protocol::encode(&SyncRequest {
        protocol: 1,
        device_id: device.into(),
        cursor: 0,
        push,
        messages: vec![],
        page_bytes: None,
    })
}

#[tokio::test]
async fn bad_requests_get_clear_4xx_and_change_nothing() {
    let (server, office) = setup().await;
    let job = office
        .store
        .create_job("office1", &new_job(JobKind::HighVoltage, UNIT, "客户"))
        .unwrap();
    office.sync().await;
    let before = server.change_count().await;
    let device = office.store.device().device_id;
    let t = token(&office);

    // Not zstd at all.
    let (status, body) = post_sync(&server, &t, b"hello".to_vec(), Some("1")).await;
    assert_eq!(status, 400);
    let body = body.unwrap();
    assert_eq!(body.code, "bad_body");
    assert!(
        body.zh.contains("解压") && body.en.contains("zstd"),
        "{body:?}"
    );
    // zstd, but not a sync request.
    let (status, _) = post_sync(&server, &t, protocol::encode(&vec![1, 2, 3]), Some("1")).await;
    assert_eq!(status, 400);
    // A valid request whose "changes" are not automerge.
    let junk = request(
        &device,
        vec![PushJob {
            job_id: job.id.clone(),
            changes: b"definitely not automerge".to_vec(),
            heads: vec![],
        }],
    );
    let (status, body) = post_sync(&server, &t, junk, Some("1")).await;
    assert_eq!(status, 400);
    assert_eq!(body.unwrap().code, "not_automerge");
    // A push of real automerge bytes that are not a job document.
    let mut doc = automerge::AutoCommit::new();
    automerge::transaction::Transactable::put(&mut doc, automerge::ROOT, "x", 1).unwrap();
    let not_job = request(
        &device,
        vec![PushJob {
            job_id: "new-thing".into(),
            changes: doc.save(),
            heads: vec![],
        }],
    );
    let (status, body) = post_sync(&server, &t, not_job, Some("1")).await;
    assert_eq!(status, 400);
    assert_eq!(body.unwrap().code, "not_a_job");
    // A device id that is not the token's.
    let (status, _) = post_sync(&server, &t, request("someone-else", vec![]), Some("1")).await;
    assert_eq!(status, 403);
    // An old client.
    let (status, body) = post_sync(&server, &t, request(&device, vec![]), None).await;
    assert_eq!(status, 426);
    assert!(body.unwrap().zh.contains("请更新"));
    // Too large.
    let huge = vec![0u8; protocol::MAX_REQUEST_BYTES + 1024];
    let (status, _) = post_sync(&server, &t, huge, Some("1")).await;
    assert_eq!(status, 413);
    // No token, bad token.
    let (status, _) = post_sync(&server, "nonsense", request(&device, vec![]), Some("1")).await;
    assert_eq!(status, 401);

    assert_eq!(
        server.change_count().await,
        before,
        "nothing stored changed"
    );
    // The server keeps serving.
    office
        .store
        .edit(
            &job.id,
            "office1",
            &Edit::SetNotes {
                text: "仍然正常".into(),
            },
        )
        .unwrap();
    let r = office.sync().await;
    assert_eq!(r.jobs_pushed, 1);
}

#[tokio::test]
async fn jobs_of_another_unit_are_refused() {
    let (server, _office) = setup().await;
    let other = Phone::login(&server, "office-other").await;
    // An office in another unit tries to create a job for zhuxian.
    other
        .store
        .create_job("office-other", &new_job(JobKind::HighVoltage, UNIT, "越权"))
        .unwrap();
    let err = other.try_sync().await.unwrap_err();
    assert!(err.to_string().contains("another unit"), "{err}");
    assert_eq!(server.change_count().await, 0);
    // The local work is still there, still waiting.
    assert_eq!(other.store.dirty_jobs().unwrap().len(), 1);
}

#[tokio::test]
async fn login_errors_rate_limits_and_revocation() {
    let server = TestServer::start().await;
    server.add_user("cm-li", Role::CustomerManager, UNIT);
    let dir = tempfile::tempdir().unwrap();
    let store = field_core::Store::open(dir.path().join("p.db")).unwrap();
    let err = field_core::sync::login(&store, &server.url(), "cm-li", "wrong-password")
        .await
        .unwrap_err();
    assert!(
        matches!(err, field_core::sync::SyncError::Unauthorized { .. }),
        "{err}"
    );
    let err = field_core::sync::login(&store, &server.url(), "nobody", "wrong-password")
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        field_core::sync::SyncError::Unauthorized { .. }
    ));
    // Syncing before logging in is a clear error.
    let err = field_core::sync::sync(&store, &fast_options(), &|_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, field_core::sync::SyncError::NotLoggedIn));

    let phone = Phone::login(&server, "cm-li").await;
    phone.sync().await;
    // A lost phone: revoke its device; its token stops working at once.
    let device = phone.store.device().device_id;
    let n = server
        .running
        .as_ref()
        .unwrap()
        .db
        .run(move |core| fieldline_server::auth::revoke_device(&core.conn, &device))
        .await
        .unwrap();
    assert_eq!(n, 1);
    let err = phone.try_sync().await.unwrap_err();
    assert!(
        matches!(err, field_core::sync::SyncError::Unauthorized { .. }),
        "{err}"
    );

    // Expired tokens are refused.
    let mut expiring = server.config.clone();
    expiring.listen = "127.0.0.1:0".into();
    expiring.token_ttl_days = 0;
    expiring.data_dir = server.dir.path().join("expiring");
    let expiring = fieldline_server::start(&expiring).await.unwrap();
    expiring
        .db
        .run_sync(|core| {
            fieldline_server::auth::add_user(
                &core.conn,
                "cm-li",
                "password-123",
                Role::CustomerManager,
                UNIT,
                "李",
            )
        })
        .unwrap();
    let short = Phone::login_at(&format!("http://{}", expiring.addr), "cm-li").await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let err = short.try_sync().await.unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    expiring.stop().await;

    // Rate limit: a strict server refuses the 4th attempt within a minute.
    let mut strict = server.config.clone();
    strict.listen = "127.0.0.1:0".into();
    strict.login_attempts_per_minute = 3;
    strict.data_dir = server.dir.path().join("strict");
    let strict = fieldline_server::start(&strict).await.unwrap();
    let url = format!("http://{}", strict.addr);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let resp = reqwest::Client::new()
            .post(format!("{url}/api/v1/auth/login"))
            .json(&serde_json::json!({"username": "x", "password": "y", "device_id": "d"}))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, vec![401, 401, 401, 429]);
    strict.stop().await;
}

#[tokio::test]
async fn large_syncs_are_paged_and_every_page_stands_alone() {
    let (server, office) = setup().await;
    server.add_user("dispatcher1", Role::Dispatcher, UNIT);
    let jobs: Vec<_> = (0..40)
        .map(|i| new_job(JobKind::LowVoltageResidential, UNIT, &format!("客户{i}")))
        .collect();
    office.store.create_jobs("office1", &jobs).unwrap();
    office.sync().await;
    let dispatcher = Phone::login(&server, "dispatcher1").await;
    let small_pages = field_core::sync::SyncOptions {
        page_bytes: Some(2_000),
        ..fast_options()
    };
    let pages = std::sync::Mutex::new(Vec::new());
    let report = field_core::sync::sync(&dispatcher.store, &small_pages, &|p| {
        pages.lock().unwrap().push(p.clone())
    })
    .await
    .unwrap();
    assert!(report.round_trips > 3, "{report:?}");
    assert!(report.complete);
    assert_eq!(report.jobs_pulled, 40);
    let pages = pages.into_inner().unwrap();
    assert!(pages.iter().rev().skip(1).all(|p| p.more));
    assert!(!pages.last().unwrap().more);
    let list = dispatcher
        .store
        .list_jobs(&field_core::store::JobFilter {
            limit: Some(100),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(list.items.len(), 40);
    // Interrupted after the first page: the next run continues from the stored cursor.
    let fresh = Phone::login(&server, "dispatcher1").await;
    let one_round = field_core::sync::SyncOptions {
        max_rounds: 1,
        ..small_pages.clone()
    };
    let first = field_core::sync::sync(&fresh.store, &one_round, &|_| {})
        .await
        .unwrap();
    assert!(!first.complete);
    let cursor = fresh.store.sync_cursor().unwrap();
    assert!(cursor > 0);
    let rest = field_core::sync::sync(&fresh.store, &small_pages, &|_| {})
        .await
        .unwrap();
    assert!(rest.complete);
    assert_eq!(first.jobs_pulled + rest.jobs_pulled, 40);
}
