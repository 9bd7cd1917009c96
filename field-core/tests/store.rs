//! The offline store: durability, projection, lists, errors, migrations.

mod common;

use common::*;
use field_core::job::{Application, Assignment, ChecklistItem, Milestone};
use field_core::store::{JobFilter, SortOrder};
use field_core::{Edit, JobKind, JobStatus, MilestoneEvent, Store, StoreError};

fn open(dir: &tempfile::TempDir) -> Store {
    open_store(dir, "2026-03-03")
}

#[test]
fn actions_survive_reopening_and_device_identity_is_stable() {
    let dir = tempfile::tempdir().unwrap();
    let (job_id, device) = {
        let store = open(&dir);
        let job = store
            .create_job(
                "office1",
                &new_job(JobKind::LowVoltageSmallMicro, "2026-03-02"),
            )
            .unwrap();
        store
            .edit(
                &job.id,
                "cm-li",
                &Edit::UpdateAssignment(Assignment {
                    customer_manager: Some("cm-li".into()),
                    ..Default::default()
                }),
            )
            .unwrap();
        store
            .edit(
                &job.id,
                "cm-li",
                &Edit::SetNotes {
                    text: "带上表箱钥匙".into(),
                },
            )
            .unwrap();
        (job.id, store.device())
        // dropped without any explicit flush: every call was already durable
    };
    let store = open(&dir);
    assert_eq!(store.device(), device);
    let job = store.job(&job_id).unwrap();
    assert_eq!(job.notes, "带上表箱钥匙");
    assert_eq!(job.assignment.customer_manager.as_deref(), Some("cm-li"));
    let dirty = store.dirty_jobs().unwrap();
    assert_eq!(dirty.len(), 1);
    assert_eq!(dirty[0].generation, 3);
}

#[test]
fn outbox_generation_protects_edits_made_during_sync() {
    let store = Store::open_in_memory().unwrap();
    let job = store
        .create_job("o", &new_job(JobKind::HighVoltage, "2026-03-02"))
        .unwrap();
    let snapshot = store.dirty_jobs().unwrap().remove(0);
    store
        .edit(&job.id, "cm", &Edit::SetNotes { text: "x".into() })
        .unwrap();
    // The sync that read `snapshot` finishes: the newer edit keeps the job dirty.
    assert!(!store.mark_synced(&snapshot).unwrap());
    let now = store.dirty_jobs().unwrap().remove(0);
    assert!(store.mark_synced(&now).unwrap());
    assert!(store.dirty_jobs().unwrap().is_empty());
}

#[test]
fn bad_input_is_a_typed_error_and_changes_nothing() {
    let store = Store::open_in_memory().unwrap();
    let job = store
        .create_job("o", &new_job(JobKind::HighVoltage, "2026-03-02"))
        .unwrap();
    let before = store.document_bytes(&job.id).unwrap();
    let err = store
        .edit(
            &job.id,
            "cm",
            &Edit::UpdateApplication(Application {
                capacity_kva: Some(-1.0),
                ..Default::default()
            }),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Job(_)), "{err:?}");
    assert!(err.to_string().contains("容量") && err.to_string().contains("capacity"));
    assert_eq!(store.document_bytes(&job.id).unwrap(), before);
    assert!(matches!(
        store.job("nope").unwrap_err(),
        StoreError::NotFound(_)
    ));
    // An unknown kind can't even be expressed in the typed API; from JSON it is rejected.
    let bad: Result<field_core::NewJob, _> = serde_json::from_value(serde_json::json!({
        "kind": "nuclear", "unit": "u", "accepted_at": "2026-03-02T01:00:00Z", "customer": {}
    }));
    assert!(bad.is_err());
    let mut no_name = new_job(JobKind::HighVoltage, "2026-03-02");
    no_name.customer.name = None;
    assert!(store.create_job("o", &no_name).is_err());
    let mut early = new_job(JobKind::HighVoltage, "2026-03-02");
    early.application.wanted_on = Some("2026-02-01".parse().unwrap());
    assert!(store.create_job("o", &early).is_err());
    // Creating the same id twice is refused, the first copy is untouched.
    let mut dup = new_job(JobKind::HighVoltage, "2026-03-02");
    dup.id = Some(job.id.clone());
    assert!(matches!(
        store.create_job("o", &dup).unwrap_err(),
        StoreError::AlreadyExists(_)
    ));
    assert_eq!(store.document_bytes(&job.id).unwrap(), before);
}

#[test]
fn chunks_are_compacted_and_reload_equal() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let job = store
        .create_job("o", &new_job(JobKind::HighVoltage, "2026-03-02"))
        .unwrap();
    for i in 0..300 {
        store
            .edit(
                &job.id,
                "cm",
                &Edit::SpliceNotes {
                    pos: 0,
                    delete: 0,
                    insert: format!("{i};"),
                },
            )
            .unwrap();
    }
    let (snapshot, chunks) = store.stored_size(&job.id).unwrap();
    assert!(
        chunks <= snapshot,
        "chunks {chunks} outgrew snapshot {snapshot}"
    );
    let expected = store.job(&job.id).unwrap();
    drop(store);
    let store = open(&dir);
    assert_eq!(store.job(&job.id).unwrap(), expected);
}

#[test]
fn lists_filter_and_page_from_the_projection() {
    let store = Store::open_in_memory()
        .unwrap()
        .with_clock(|| at("2026-03-03"));
    let mut ids = Vec::new();
    for i in 0..25 {
        let kind = if i % 2 == 0 {
            JobKind::LowVoltageSmallMicro
        } else {
            JobKind::HighVoltage
        };
        let mut n = new_job(kind, "2026-03-02");
        n.customer.name = Some(format!("客户{i:02}"));
        ids.push(store.create_job("o", &n).unwrap().id);
    }
    store
        .edit(
            &ids[3],
            "cm",
            &Edit::UpdateAssignment(Assignment {
                customer_manager: Some("cm-li".into()),
                ..Default::default()
            }),
        )
        .unwrap();
    store
        .edit(
            &ids[3],
            "cm",
            &Edit::AddMilestone {
                id: "ho".into(),
                milestone: Milestone {
                    event: Some(MilestoneEvent::HandedOver),
                    at: Some(at("2026-03-02")),
                    ..Default::default()
                },
            },
        )
        .unwrap();
    let mine = store
        .list_jobs(&JobFilter {
            customer_manager: Some("cm-li".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(mine.items.len(), 1);
    assert_eq!(mine.items[0].status, JobStatus::HandedOver);
    let hv = store
        .list_jobs(&JobFilter {
            kind: Some(JobKind::HighVoltage),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(hv.items.len(), 12);
    let found = store
        .list_jobs(&JobFilter {
            text: Some("客户07".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(found.items.len(), 1);
    for order in [SortOrder::RecentlyUpdated, SortOrder::NextDue] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = store
                .list_jobs(&JobFilter {
                    limit: Some(7),
                    cursor: cursor.clone(),
                    order,
                    ..Default::default()
                })
                .unwrap();
            seen.extend(page.items.iter().map(|s| s.job_id.clone()));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 25, "{order:?}: every job exactly once");
        assert_eq!(seen.len(), 25);
    }
    assert!(
        store
            .list_jobs(&JobFilter {
                cursor: Some("garbage".into()),
                ..Default::default()
            })
            .is_err()
    );
}

#[test]
fn upgrade_from_version_1_projects_existing_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    // Build a version-1 database by hand: only documents, no projection.
    let mut doc = field_core::JobDoc::create(
        automerge::ActorId::random(),
        &new_job(JobKind::LowVoltageResidential, "2026-03-02"),
        &field_core::RuleSet::default(),
        &ctx("o", "d", "2026-03-02"),
    )
    .unwrap();
    let job = doc.read().unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE device (id INTEGER PRIMARY KEY CHECK (id = 1), device_id TEXT NOT NULL,
                actor_id BLOB NOT NULL, created_at INTEGER NOT NULL);
             CREATE TABLE job_doc (job_id TEXT PRIMARY KEY, snapshot BLOB NOT NULL,
                chunks_bytes INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE job_chunk (job_id TEXT NOT NULL REFERENCES job_doc(job_id) ON DELETE CASCADE,
                seq INTEGER NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY (job_id, seq));
             INSERT INTO device VALUES (1, 'old-device', x'0102030405060708090a0b0c0d0e0f10', 0);
             PRAGMA user_version = 1;",
        )
        .unwrap();
        conn.execute(
            "INSERT INTO job_doc (job_id, snapshot) VALUES (?1, ?2)",
            rusqlite::params![job.id, doc.save()],
        )
        .unwrap();
    }
    let store = Store::open(&path, &common_key()).unwrap();
    assert_eq!(store.device().device_id, "old-device");
    // Migration 6 gave the old device a signing key, kept from now on.
    let key = store.device().public_key;
    assert_eq!(key.len(), 64);
    let list = store.list_jobs(&JobFilter::default()).unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].job_id, job.id);
    assert_eq!(list.items[0].customer_name, "邾县宏达五金厂");
    // And the upgraded store works as usual.
    store
        .edit(
            &job.id,
            "cm",
            &Edit::SetNotes {
                text: "升级后".into(),
            },
        )
        .unwrap();
    drop(store);
    let conn = keyed_connection(&path);
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        v, 11,
        "every migration applied (the last: the agenda and catalogues)"
    );
    drop(conn);
    assert_eq!(
        Store::open(&path, &common_key())
            .unwrap()
            .device()
            .public_key,
        key
    );
    let conn = keyed_connection(&path);
    // Migration 5 made the (empty) photo upload queue; migration 7 the policy and refusal tables;
    // migration 12 the agenda (re-projected: the old jobs have no dated items) and catalogues.
    for table in [
        "photo_upload",
        "write_policy",
        "sync_refused",
        "agenda",
        "catalogues",
    ] {
        let n: i64 = conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0, "{table}");
    }
}

#[test]
fn a_database_from_a_newer_app_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99;")
        .unwrap();
    let err = Store::open(&path, &common_key()).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
    // Still the plain file it was: not encrypted, not migrated.
    let v: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, 99);
    let err = Store::open_unencrypted(&path).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { found: 99, .. }), "{err}");
}

#[test]
fn merge_remote_creates_and_merges_without_marking_dirty() {
    let a = Store::open_in_memory().unwrap();
    let b = Store::open_in_memory().unwrap();
    let job = a
        .create_job("o", &new_job(JobKind::LowVoltageSmallMicro, "2026-03-02"))
        .unwrap();
    b.merge_remote(&job.id, &a.document_bytes(&job.id).unwrap())
        .unwrap();
    assert!(b.dirty_jobs().unwrap().is_empty());
    b.edit(
        &job.id,
        "cm",
        &Edit::CheckDocument {
            group: "subject_proof".into(),
            item: ChecklistItem {
                doc_type: Some("business_licence".into()),
                collected: Some(true),
                ..Default::default()
            },
        },
    )
    .unwrap();
    a.edit(&job.id, "pm", &Edit::SetNotes { text: "A".into() })
        .unwrap();
    let merged = a
        .merge_remote(&job.id, &b.document_bytes(&job.id).unwrap())
        .unwrap();
    assert_eq!(merged.checklist["subject_proof"].collected, Some(true));
    assert_eq!(
        merged.checklist["subject_proof"].collected_by.as_deref(),
        Some("cm")
    );
    assert_eq!(merged.notes, "A");
    // Garbage is refused and changes nothing.
    assert!(a.merge_remote(&job.id, b"not automerge").is_err());
    assert_eq!(a.job(&job.id).unwrap(), merged);
    assert!(a.merge_remote("other-id", b"not automerge").is_err());
}

#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
}

#[test]
fn the_list_clocks_move_with_the_day_once_per_day() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    // The store's clock: 2026-03-03.
    let now = at("2026-03-03");
    let new = new_job(JobKind::LowVoltageSmallMicro, "2026-03-03");
    let job = store.create_job("office1", &new).unwrap();
    store
        .edit(
            &job.id,
            "office1",
            &Edit::UpdateAssignment(Assignment {
                customer_manager: Some("cm1".into()),
                ..Default::default()
            }),
        )
        .unwrap();
    let row = |s: &Store| s.list_jobs(&JobFilter::default()).unwrap().items[0].clone();
    let before = row(&store);
    assert_ne!(before.sla_state, Some(field_core::sla::SlaState::Overdue));
    let today = field_core::job::local_date(now);
    assert_eq!(store.refresh_clocks_if_new_day(today).unwrap(), Some(0));
    assert_eq!(
        store.refresh_clocks_if_new_day(today).unwrap(),
        None,
        "once a day"
    );
    // Forty days on, untouched: overdue, without moving in the "recently updated" order.
    let later = today + chrono::Duration::days(40);
    assert_eq!(store.refresh_clocks_if_new_day(later).unwrap(), Some(1));
    let after = row(&store);
    assert_eq!(after.sla_state, Some(field_core::sla::SlaState::Overdue));
    assert_eq!(after.next_due, before.next_due);
    assert_eq!(after.updated_at_ms, before.updated_at_ms);
    // The day is remembered across reopening.
    drop(store);
    let store = open(&dir);
    assert_eq!(store.refresh_clocks_if_new_day(later).unwrap(), None);
}

#[test]
fn the_phone_builds_the_customers_guide_from_its_rules_and_fees() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    // National fees until the unit's schedule arrives by sync; kept across reopening.
    let g = store.guide(JobKind::LowVoltageResidential).unwrap();
    assert!(g.fee_schedule.starts_with("national-fees"));
    assert!(g.fees.iter().any(|f| f.standard.zh.contains("零投资")));
    let own = r#"{"id": "own-fees", "version": 2, "effective_from": "2020-01-01",
        "items": [{"item": {"zh": "某项", "en": "an item"}, "standard": {"zh": "100 元", "en": "100 yuan"},
                   "basis": {"zh": "某文件", "en": "a notice"}}]}"#;
    assert!(
        store.install_fees("{").is_err(),
        "a broken schedule is refused"
    );
    store.install_fees(own).unwrap();
    drop(store);
    let store = open(&dir);
    let g = store.guide(JobKind::LowVoltageResidential).unwrap();
    assert_eq!(g.fee_schedule, "own-fees v2");
    assert_eq!(g.fees.len(), 1);
    let r = g.report(&field_core::guide::GuideHeader::default());
    assert!(r.title.contains("低压居民"));
}
