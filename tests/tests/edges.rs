//! Bad input, auth and paging against the real server.

use field_core::Role;
use field_core::sync::protocol::{self, ApiError, PushJob, SyncRequest, SyncResponse};
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

async fn post_sync_ok(server: &TestServer, token: &str, body: Vec<u8>) -> SyncResponse {
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/sync", server.url()))
        .bearer_auth(token)
        .header("fieldline-protocol", "1")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    protocol::decode(&resp.bytes().await.unwrap(), 1 << 30).unwrap()
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
    // A valid request whose "changes" are not automerge, and one whose automerge bytes are no
    // job: each refused on its own, with its reason; the request itself succeeds.
    let mut doc = automerge::AutoCommit::new();
    automerge::transaction::Transactable::put(&mut doc, automerge::ROOT, "x", 1).unwrap();
    let junk = request(
        &device,
        vec![
            PushJob {
                job_id: job.id.clone(),
                changes: b"definitely not automerge".to_vec(),
                heads: vec![],
            },
            PushJob {
                job_id: "new-thing".into(),
                changes: doc.save(),
                heads: vec![],
            },
        ],
    );
    let resp = post_sync_ok(&server, &t, junk).await;
    let codes: Vec<&str> = resp.rejected.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, vec!["not_automerge", "not_a_job"], "{resp:?}");
    assert!(resp.rejected[0].zh.contains("automerge") && resp.rejected[1].en.contains("job"));
    assert!(resp.acks.is_empty());
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
async fn a_refused_job_is_set_aside_and_blocks_nothing_else() {
    let (server, office) = setup().await;
    // Work made on a phone before anyone signed in on it: a job for zhuxian. Then an office
    // worker of another unit signs in on that phone and accepts a job of their own.
    let other = Phone::offline();
    let foreign = other
        .store
        .create_job("office-other", &new_job(JobKind::HighVoltage, UNIT, "越权"))
        .unwrap();
    let other = other.sign_in(&server, "office-other").await;
    let own = other
        .store
        .create_job(
            "office-other",
            &new_job(JobKind::HighVoltage, "other-unit", "本单位客户"),
        )
        .unwrap();
    // One request carries both: the good one is acknowledged, the other refused with its reason.
    let r = other.sync().await;
    assert!(r.complete);
    assert_eq!(r.jobs_pushed, 1, "{r:?}");
    assert_eq!(r.rejected.len(), 1, "{r:?}");
    assert_eq!(r.rejected[0].job_id, foreign.id);
    assert_eq!(r.rejected[0].code, "other_unit");
    assert!(r.rejected[0].zh.contains("其他单位"), "{:?}", r.rejected[0]);
    assert_eq!(
        server.job(&own.id).await.customer.name.as_deref(),
        Some("本单位客户")
    );
    // Set aside: listed as needing attention, not pushed again, nothing else blocked.
    let refused = other.store.refused_jobs().unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].job_id, foreign.id);
    assert_eq!(refused[0].code, "other_unit");
    assert!(refused[0].unsynced_changes >= 1);
    let listed = other
        .store
        .list_jobs(&field_core::store::JobFilter::default())
        .unwrap();
    let row = listed
        .items
        .iter()
        .find(|j| j.job_id == foreign.id)
        .unwrap();
    assert_eq!(row.attention.as_deref(), Some("other_unit"));
    other
        .store
        .edit(
            &own.id,
            "office-other",
            &Edit::SetNotes {
                text: "继续工作".into(),
            },
        )
        .unwrap();
    let again = other.sync().await;
    assert!(again.rejected.is_empty(), "not pushed again: {again:?}");
    assert_eq!(again.jobs_pushed, 1);
    // The refusal is on the record; nothing of the refused job reached the server.
    let refusals: Vec<_> = server
        .audit(Some(&foreign.id))
        .into_iter()
        .filter(|e| e.kind == "push_refused")
        .collect();
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].username.as_deref(), Some("office-other"));
    assert!(server.stats().jobs == 1);
    // Export, then discard: the job never reached the server, so it leaves the phone; the
    // export holds its changes and a readable summary.
    let out = tempfile::tempdir().unwrap();
    let exported = other
        .store
        .export_unsynced(&foreign.id, out.path())
        .unwrap();
    assert!(exported.changes >= 1);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&exported.summary_file).unwrap()).unwrap();
    assert_eq!(summary["refused"]["code"], "other_unit");
    assert_eq!(summary["customer_name"], "越权");
    let bytes = std::fs::read(&exported.changes_file).unwrap();
    let mut restored = automerge::AutoCommit::load(&bytes).unwrap();
    assert!(!restored.get_heads().is_empty());
    let discarded = other
        .store
        .discard_unsynced(&foreign.id, out.path())
        .unwrap();
    assert!(discarded.job_removed);
    assert!(other.store.job(&foreign.id).is_err());
    assert!(other.store.refused_jobs().unwrap().is_empty());
    let r = other.sync().await;
    assert!(r.rejected.is_empty() && r.complete);
    // The office of zhuxian never saw any of it.
    office.sync().await;
    assert!(office.store.job(&foreign.id).is_err());
}

#[tokio::test]
async fn login_errors_rate_limits_and_revocation() {
    let server = TestServer::start().await;
    server.add_user("cm-li", Role::CustomerManager, UNIT);
    let dir = tempfile::tempdir().unwrap();
    let store =
        field_core::Store::open(dir.path().join("p.db"), &fieldline_tests::phone_key()).unwrap();
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
    let n = {
        let mut tx = server.env().store.write().unwrap();
        let n = fieldline_server::service::auth::revoke_device(&mut *tx, &device, Some("test"))
            .unwrap();
        tx.commit().unwrap();
        n
    };
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
    expiring.database_url = fieldline_tests::test_database().unwrap_or_default();
    let expiring = fieldline_server::start(&expiring).await.unwrap();
    add_user_to(&expiring.env, "cm-li", Role::CustomerManager, UNIT);
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
    strict.database_url = fieldline_tests::test_database().unwrap_or_default();
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
    // Pages end at a feed position, so the one job whose changes straddle the interruption
    // (its creation and the server's token, say) is pulled by both runs; none is missed.
    let pulled = first.jobs_pulled + rest.jobs_pulled;
    assert!((40..=41).contains(&pulled), "{pulled}");
    let list = fresh
        .store
        .list_jobs(&field_core::store::JobFilter {
            limit: Some(100),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(list.items.len(), 40);
}
