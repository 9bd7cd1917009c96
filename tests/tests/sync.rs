//! End to end: the real server, real field-core clients.

use field_core::job::{ConstructionLog, Metering, Survey};
use field_core::store::JobFilter;
use field_core::{Edit, JobKind, Role};
use fieldline_tests::*;

const UNIT: &str = "zhuxian";

async fn setup() -> TestServer {
    let server = TestServer::start().await;
    server.add_user("office1", Role::OfficeStaff, UNIT);
    server.add_user("cm-li", Role::CustomerManager, UNIT);
    server.add_user("pm-wang", Role::ProjectManager, UNIT);
    server.add_user("cm-zhao", Role::CustomerManager, UNIT);
    server
}

/// Office accepts a job and assigns both managers; returns its id.
async fn assigned_job(office: &Phone, customer: &str) -> String {
    accept(
        office,
        JobKind::LowVoltageSmallMicro,
        UNIT,
        customer,
        "cm-li",
        Some("pm-wang"),
    )
}

#[tokio::test]
async fn two_managers_offline_both_keep_their_work() {
    let server = setup().await;
    let office = Phone::login(&server, "office1").await;
    let cm = Phone::login(&server, "cm-li").await;
    let pm = Phone::login(&server, "pm-wang").await;
    let id = assigned_job(&office, "邾县宏达五金厂").await;
    let r = office.sync().await;
    assert_eq!(r.round_trips, 1);
    assert_eq!(r.jobs_pushed, 1);
    cm.sync().await;
    pm.sync().await;
    assert!(cm.store.job(&id).is_ok() && pm.store.job(&id).is_ok());

    // Both offline: the customer manager surveys and writes notes, the project manager logs
    // construction and writes notes too; both change the CT ratio (metering is theirs both).
    cm.store
        .edit(
            &id,
            "cm-li",
            &Edit::UpdateSurvey(Survey {
                load_nature: Some("一般负荷".into()),
                address_verified: Some(true),
                ..Default::default()
            }),
        )
        .unwrap();
    cm.store
        .edit(
            &id,
            "cm-li",
            &Edit::SetNotes {
                text: "客户周五在厂。".into(),
            },
        )
        .unwrap();
    cm.store
        .edit(
            &id,
            "cm-li",
            &Edit::UpdateMetering(Metering {
                ct_ratio: Some("100/5".into()),
                ..Default::default()
            }),
        )
        .unwrap();
    pm.store
        .edit(
            &id,
            "pm-wang",
            &Edit::PutConstructionLog {
                id: "log-1".into(),
                log: ConstructionLog {
                    at: Some(at("2026-11-04")),
                    progress_pct: Some(60.0),
                    text: Some("表箱安装完成".into()),
                    ..Default::default()
                },
            },
        )
        .unwrap();
    pm.store
        .edit(
            &id,
            "pm-wang",
            &Edit::SetNotes {
                text: "电缆已到。".into(),
            },
        )
        .unwrap();
    pm.store
        .edit(
            &id,
            "pm-wang",
            &Edit::UpdateMetering(Metering {
                ct_ratio: Some("150/5".into()),
                ..Default::default()
            }),
        )
        .unwrap();

    let r = cm.sync().await;
    assert_eq!(r.round_trips, 1, "one round trip per sync");
    pm.sync().await;
    cm.sync().await;
    let a = cm.store.job(&id).unwrap();
    let b = pm.store.job(&id).unwrap();
    let s = server.job(&id).await;
    assert_eq!(a, b);
    assert_eq!(a, s);
    assert_eq!(a.survey.load_nature.as_deref(), Some("一般负荷"));
    assert_eq!(a.project.logs["log-1"].progress_pct, Some(60.0));
    assert!(
        a.notes.contains("客户周五在厂。") && a.notes.contains("电缆已到。"),
        "{}",
        a.notes
    );
    let conflict = a
        .conflicts
        .iter()
        .find(|c| c.path == "metering.ct_ratio")
        .expect("same-field conflict visible");
    assert_eq!(conflict.others.len(), 1);
    // Nothing left to send; syncing again moves nothing.
    assert!(cm.store.dirty_jobs().unwrap().is_empty());
    let again = cm.sync().await;
    assert_eq!(again.jobs_pushed, 0);
    assert_eq!(again.jobs_pulled, 0);
    // The server's copy is plain automerge.
    let bytes = reqwest_get(&server, &cm, &format!("/api/v1/jobs/{id}/automerge")).await;
    let doc = automerge::Automerge::load(&bytes).unwrap();
    assert_eq!(doc.get_heads().len(), {
        let mut d = cm.store.document_bytes(&id).unwrap();
        automerge::Automerge::load(&std::mem::take(&mut d))
            .unwrap()
            .get_heads()
            .len()
    });
}

async fn reqwest_get(server: &TestServer, phone: &Phone, path: &str) -> Vec<u8> {
    let token = phone.store.sync_setting("token").unwrap().unwrap();
    let resp = reqwest_client()
        .get(format!("{}{path}", server.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    resp.bytes().await.unwrap().to_vec()
}

fn reqwest_client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn a_device_never_receives_a_job_it_is_not_assigned_to() {
    let server = setup().await;
    let office = Phone::login(&server, "office1").await;
    let li = Phone::login(&server, "cm-li").await;
    let zhao = Phone::login(&server, "cm-zhao").await;
    let mine = assigned_job(&office, "李的客户").await;
    let other = office
        .store
        .create_job("office1", &new_job(JobKind::HighVoltage, UNIT, "赵的客户"))
        .unwrap()
        .id;
    assign(&office, &other, Some("cm-zhao"), None);
    office.sync().await;
    li.sync().await;
    zhao.sync().await;
    let li_jobs: Vec<String> = li
        .store
        .list_jobs(&JobFilter::default())
        .unwrap()
        .items
        .into_iter()
        .map(|s| s.job_id)
        .collect();
    assert_eq!(li_jobs, vec![mine.clone()]);
    assert!(zhao.store.job(&mine).is_err());
    assert!(zhao.store.job(&other).is_ok());
    // The job is reassigned to Zhao: Zhao now receives its whole history, Li gets no more.
    assign(&office, &mine, Some("cm-zhao"), None);
    office.sync().await;
    zhao.sync().await;
    let got = zhao
        .store
        .job(&mine)
        .expect("newly assigned job arrives whole");
    assert_eq!(got, office.store.job(&mine).unwrap());
    // Li wrote a note offline before hearing of it: at Li's next sync the push is refused, the
    // job leaves Li's list, and the unsynced note stays on the phone for export.
    li.store
        .edit(
            &mine,
            "cm-li",
            &Edit::SetNotes {
                text: "李离线写的备注".into(),
            },
        )
        .unwrap();
    let r = li.sync().await;
    assert!(r.complete);
    assert_eq!(r.rejected.len(), 1, "{r:?}");
    assert_eq!(r.rejected[0].code, "not_yours");
    assert!(r.rejected[0].en.contains("outside your scope"));
    assert_eq!(r.left_scope, vec![mine.clone()]);
    assert!(
        li.store
            .list_jobs(&JobFilter::default())
            .unwrap()
            .items
            .is_empty()
    );
    let held = li.store.refused_jobs().unwrap();
    assert_eq!(held.len(), 1);
    assert!(
        held[0].left_scope && held[0].unsynced_changes == 1,
        "{held:?}"
    );
    let out = tempfile::tempdir().unwrap();
    let export = li.store.export_unsynced(&mine, out.path()).unwrap();
    let summary = std::fs::read_to_string(&export.summary_file).unwrap();
    assert!(summary.contains("李离线写的备注"), "{summary}");
    let again = li.sync().await;
    assert!(again.rejected.is_empty() && again.complete, "{again:?}");
    // Zhao's other job goes to Li: Zhao had nothing unsynced on it, so it simply leaves Zhao's
    // phone; Li receives it whole.
    assign(&office, &other, Some("cm-li"), None);
    office.sync().await;
    let z = zhao.sync().await;
    assert_eq!(z.left_scope, vec![other.clone()]);
    assert!(zhao.store.job(&other).is_err());
    assert!(zhao.store.refused_jobs().unwrap().is_empty());
    li.sync().await;
    assert_eq!(
        li.store.job(&other).unwrap(),
        office.store.job(&other).unwrap()
    );
    // And cannot fetch a job that is not theirs.
    let token = li.store.sync_setting("token").unwrap().unwrap();
    let status = reqwest_client()
        .get(format!("{}/api/v1/jobs/{}/automerge", server.url(), mine))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 404);
}

#[tokio::test]
async fn repeated_and_replayed_requests_change_nothing() {
    let server = setup().await;
    let office = Phone::login(&server, "office1").await;
    let id = assigned_job(&office, "重放测试").await;
    // Build the request the client would send, and send it three times.
    let token = office.store.sync_setting("token").unwrap().unwrap();
    let out_body = {
        let doc = office.store.document_bytes(&id).unwrap();
        let heads = {
            let d = automerge::Automerge::load(&doc).unwrap();
            field_core::store::wire_heads(&d.get_heads())
        };
        field_core::sync::protocol::encode(&field_core::sync::protocol::SyncRequest {
            protocol: 1,
            device_id: office.store.device().device_id,
            cursor: 0,
            push: vec![field_core::sync::protocol::PushJob {
                job_id: id.clone(),
                changes: doc,
                heads,
            }],
            messages: vec![],
            page_bytes: None,
        })
    };
    for _ in 0..3 {
        let resp = reqwest_client()
            .post(format!("{}/api/v1/sync", server.url()))
            .bearer_auth(&token)
            .header("fieldline-protocol", "1")
            .body(out_body.clone())
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
    }
    // The client's own sync afterwards: the server already has everything.
    office.sync().await;
    let changes = server.change_count().await;
    let local = {
        let bytes = office.store.document_bytes(&id).unwrap();
        let mut d = automerge::AutoCommit::load(&bytes).unwrap();
        d.get_changes(&[]).len() as i64
    };
    assert_eq!(changes, local, "every change stored exactly once");
    let cm = Phone::login(&server, "cm-li").await;
    cm.sync().await;
    assert_eq!(cm.store.job(&id).unwrap(), office.store.job(&id).unwrap());
}

#[tokio::test]
async fn acknowledged_work_survives_a_server_restart() {
    let mut server = setup().await;
    let office = Phone::login(&server, "office1").await;
    let id = assigned_job(&office, "重启测试").await;
    office.sync().await;
    server.restart().await;
    let cm = Phone::login(&server, "cm-li").await;
    cm.sync().await;
    assert_eq!(cm.store.job(&id).unwrap(), office.store.job(&id).unwrap());
    // Offline work while the server is down is kept and sent once it is back.
    server.stop().await;
    cm.store
        .edit(
            &id,
            "cm-li",
            &Edit::SetNotes {
                text: "服务器停机时写的".into(),
            },
        )
        .unwrap();
    assert!(cm.try_sync().await.is_err());
    assert_eq!(cm.store.dirty_jobs().unwrap().len(), 1);
    server.restart().await;
    cm.sync().await;
    office.sync().await;
    assert_eq!(office.store.job(&id).unwrap().notes, "服务器停机时写的");
}

#[tokio::test]
async fn server_restored_from_backup_falls_back_to_automerge_sync() {
    let mut server = setup().await;
    let office = Phone::login(&server, "office1").await;
    let cm = Phone::login(&server, "cm-li").await;
    let id = assigned_job(&office, "备份恢复").await;
    office.sync().await;
    cm.sync().await;
    // Back up the server, then more work reaches it.
    server.stop().await;
    let backup = server.dir.path().join("backup");
    server.backup(&backup);
    server.restart().await;
    cm.store
        .edit(
            &id,
            "cm-li",
            &Edit::SetNotes {
                text: "第一段。".into(),
            },
        )
        .unwrap();
    cm.sync().await;
    // Disaster: the server is restored from the backup and loses that change.
    server.stop().await;
    server.restore(&backup);
    server.restart().await;
    // The device's base is now unknown to the server: it falls back and loses nothing.
    cm.store
        .edit(
            &id,
            "cm-li",
            &Edit::SetNotes {
                text: "第一段。第二段。".into(),
            },
        )
        .unwrap();
    let report = cm.sync().await;
    assert_eq!(report.fallback_jobs, 1, "{report:?}");
    assert!(report.complete);
    assert!(cm.store.dirty_jobs().unwrap().is_empty());
    let s = server.job(&id).await;
    assert_eq!(s.notes, "第一段。第二段。");
    assert_eq!(s, cm.store.job(&id).unwrap());
}

/// Every change of a job as its author's phone holds it, against the server's change log.
fn change_count(store: &field_core::Store, job: &str) -> usize {
    let bytes = store.document_bytes(job).unwrap();
    automerge::AutoCommit::load(&bytes)
        .unwrap()
        .get_changes(&[])
        .len()
}

#[tokio::test]
async fn after_a_restore_fallback_and_a_real_restart_a_third_device_gets_everything() {
    let mut server = setup().await;
    let office = Phone::login(&server, "office1").await;
    let cm = Phone::login(&server, "cm-li").await;
    let id = assigned_job(&office, "恢复后重启").await;
    office.sync().await;
    cm.sync().await;
    server.stop().await;
    let backup = server.dir.path().join("backup");
    server.backup(&backup);
    server.restart().await;
    // Acknowledged, then lost with the restore.
    cm.store
        .edit(
            &id,
            "cm-li",
            &Edit::UpdateSurvey(Survey {
                load_nature: Some("一般负荷".into()),
                ..Default::default()
            }),
        )
        .unwrap();
    cm.sync().await;
    server.stop().await;
    server.restore(&backup);
    server.restart().await;
    // Meanwhile the office works on the restored server; the manager pushes on top of what the
    // server lost: the push lacks its base, and the exchange falls back.
    office
        .store
        .edit(
            &id,
            "office1",
            &Edit::SetNotes {
                text: "恢复后办公室的备注".into(),
            },
        )
        .unwrap();
    office.sync().await;
    cm.store
        .edit(
            &id,
            "cm-li",
            &Edit::UpdateSurvey(Survey {
                surveyor: Some("李强".into()),
                ..Default::default()
            }),
        )
        .unwrap();
    let r = cm.sync().await;
    assert_eq!(r.fallback_jobs, 1, "{r:?}");
    assert!(cm.store.dirty_jobs().unwrap().is_empty());
    cm.sync().await;
    // Restarted for real: nothing held in memory counts any more.
    server.restart().await;
    let pm = Phone::login(&server, "pm-wang").await;
    pm.sync().await;
    let got = pm.store.job(&id).unwrap();
    assert_eq!(got.survey.load_nature.as_deref(), Some("一般负荷"));
    assert_eq!(got.survey.surveyor.as_deref(), Some("李强"));
    assert_eq!(got.notes, "恢复后办公室的备注");
    cm.sync().await;
    assert_eq!(got, cm.store.job(&id).unwrap());
    assert_eq!(
        server.change_count().await as usize,
        change_count(&cm.store, &id),
        "every change in the server's log, once"
    );
}

#[tokio::test]
async fn a_phone_restored_from_an_old_backup_fetches_what_the_feed_does_not_resend() {
    let server = setup().await;
    let office = Phone::login(&server, "office1").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db");
    let cm = field_core::Store::open(&path, &fieldline_tests::phone_key()).unwrap();
    field_core::sync::login(&cm, &server.url(), "cm-li", PASSWORD)
        .await
        .unwrap();
    let id = assigned_job(&office, "手机备份恢复").await;
    office.sync().await;
    field_core::sync::sync(&cm, &fast_options(), &|_| {})
        .await
        .unwrap();
    // The phone's data is backed up; then it records a survey and syncs it.
    let backup = dir.path().join("backup.db");
    cm.backup_to(&backup).unwrap();
    cm.edit(
        &id,
        "cm-li",
        &Edit::UpdateSurvey(Survey {
            load_nature: Some("一般负荷".into()),
            ..Default::default()
        }),
    )
    .unwrap();
    field_core::sync::sync(&cm, &fast_options(), &|_| {})
        .await
        .unwrap();
    drop(cm);
    // The office builds on the survey.
    office.sync().await;
    office
        .store
        .edit(
            &id,
            "office1",
            &Edit::SetNotes {
                text: "勘查后补充".into(),
            },
        )
        .unwrap();
    office.sync().await;
    // The phone comes back from the old backup: it lacks its own survey, which the feed never
    // sends back to the device that wrote it, and the office's note depends on it.
    let restored = field_core::Store::open(&backup, &fieldline_tests::phone_key()).unwrap();
    let r = field_core::sync::sync(&restored, &fast_options(), &|_| {})
        .await
        .unwrap();
    assert_eq!(r.jobs_repaired, 1, "{r:?}");
    let job = restored.job(&id).unwrap();
    assert_eq!(job.survey.load_nature.as_deref(), Some("一般负荷"));
    assert_eq!(job.notes, "勘查后补充");
    assert_eq!(job, office.store.job(&id).unwrap());
    // The cursor moved on only after the repair; a second sync has nothing more.
    let again = field_core::sync::sync(&restored, &fast_options(), &|_| {})
        .await
        .unwrap();
    assert_eq!((again.jobs_pulled, again.jobs_repaired), (0, 0));
}
