//! Hostile input from a logged-in client speaking the documented protocol: the server stays up,
//! refuses with a clear reason, reads only its own data and stores nothing of it.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc};
use field_core::contract::{self, SignRequest, Signer};
use field_core::store::wire_heads;
use field_core::sync::protocol::{self, PushJob};
use field_core::{JobKind, Role};
use fieldline_tests::raw::*;
use fieldline_tests::*;
use std::io::Write;

const UNIT: &str = "zhuxian";

async fn setup() -> (TestServer, Phone, String) {
    let server = TestServer::start().await;
    server.add_user("office1", Role::OfficeStaff, UNIT);
    server.add_user("cm-li", Role::CustomerManager, UNIT);
    let office = Phone::login(&server, "office1").await;
    let job = accept(
        &office,
        JobKind::LowVoltageResidential,
        UNIT,
        "王秀英",
        "cm-li",
        None,
    );
    office.sync().await;
    (server, office, job)
}

async fn healthy(server: &TestServer) {
    let r = reqwest::get(format!("{}/healthz", server.url()))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}

fn map_obj(doc: &AutoCommit, key: &str) -> automerge::ObjId {
    match doc.get(ROOT, key).unwrap() {
        Some((automerge::Value::Object(_), id)) => id,
        other => panic!("{key}: {other:?}"),
    }
}

#[tokio::test]
async fn maps_nested_a_thousand_deep_are_refused_and_the_server_stays_up() {
    let (server, office, job) = setup().await;
    let cm = raw_login(&server, "cm-li").await;
    let before = server.stats();
    // Into an existing job, under a section the customer manager may write.
    let mut doc = cm.doc(&server, &job).await;
    let base = doc.get_heads();
    let mut o = map_obj(&doc, "customer");
    for i in 0..1000 {
        o = doc.put_object(&o, format!("n{i}"), ObjType::Map).unwrap();
    }
    doc.put(&o, "leaf", "x").unwrap();
    doc.commit();
    let push = push_of(&job, &mut doc, &base);
    assert!(protocol::encode(&push).len() < 16 * 1024);
    let resp = cm.push(&server, vec![push]).await;
    assert!(resp.acks.is_empty());
    assert_eq!(resp.rejected.len(), 1, "{resp:?}");
    assert!(
        resp.rejected[0].en.contains("deeper than"),
        "{:?}",
        resp.rejected[0]
    );
    // As a new job, whole.
    let mut fresh = AutoCommit::new().with_actor(cm.actor.clone());
    let mut o = ROOT;
    for i in 0..1000 {
        o = fresh.put_object(&o, format!("n{i}"), ObjType::Map).unwrap();
    }
    fresh.commit();
    let resp = cm
        .push(
            &server,
            vec![PushJob {
                job_id: "deep-new".into(),
                changes: fresh.save(),
                heads: wire_heads(&fresh.get_heads()),
            }],
        )
        .await;
    assert_eq!(resp.rejected.len(), 1, "{resp:?}");
    healthy(&server).await;
    assert_eq!(server.stats().changes, before.changes, "nothing stored");
    // And the job still syncs for everyone.
    office.sync().await;
}

#[tokio::test]
async fn a_12_mb_text_field_is_refused_by_the_phones_limits() {
    let (server, _office, job) = setup().await;
    let cm = raw_login(&server, "cm-li").await;
    let mut doc = cm.doc(&server, &job).await;
    let base = doc.get_heads();
    let customer = map_obj(&doc, "customer");
    doc.put(&customer, "name", "长".repeat(4 * 1024 * 1024))
        .unwrap();
    doc.commit();
    let before = server.stats().changes;
    let resp = cm.push(&server, vec![push_of(&job, &mut doc, &base)]).await;
    assert_eq!(resp.rejected.len(), 1, "{resp:?}");
    let r = &resp.rejected[0];
    assert_eq!(r.code, "invalid_value");
    assert_eq!(r.paths, vec!["customer.name".to_string()]);
    assert!(
        r.zh.contains("文字过长") && r.en.contains("too long"),
        "{r:?}"
    );
    assert_eq!(server.stats().changes, before);
    assert_eq!(
        server.job(&job).await.customer.name.as_deref(),
        Some("王秀英")
    );
}

fn uleb(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn sleb(mut v: i64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && b & 0x40 == 0) || (v == -1 && b & 0x40 != 0);
        out.push(if done { b } else { b | 0x80 });
        if done {
            return;
        }
    }
}

/// An automerge chunk of `kind` around `body` (the checksum is not even right: the size checks
/// come first).
fn chunk(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, kind];
    uleb(body.len() as u64, &mut out);
    out.extend_from_slice(body);
    out
}

fn deflated_zeros(n: usize) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1 << 20];
    for _ in 0..n / block.len() {
        e.write_all(&block).unwrap();
    }
    e.finish().unwrap()
}

/// The header of a change body with one column `(spec, data)`.
fn change_body(spec: u32, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    uleb(0, &mut b); // deps
    uleb(1, &mut b); // actor
    b.push(7);
    uleb(1, &mut b); // seq
    uleb(1, &mut b); // start op
    sleb(0, &mut b); // time
    uleb(0, &mut b); // message
    uleb(0, &mut b); // other actors
    uleb(1, &mut b); // one column
    uleb(u64::from(spec), &mut b);
    uleb(data.len() as u64, &mut b);
    b.extend_from_slice(data);
    b
}

#[tokio::test]
async fn compressed_bombs_and_counted_op_bombs_are_refused_before_inflating() {
    let (server, office, _job) = setup().await;
    let cm = raw_login(&server, "cm-li").await;
    let before = server.stats();
    // 128 MiB of zeros in about 128 KB: a compressed change chunk and a document column.
    let zeros = deflated_zeros(128 << 20);
    assert!(zeros.len() < 256 * 1024);
    let compressed_change = chunk(2, &zeros);
    let mut doc_body = Vec::new();
    uleb(1, &mut doc_body); // actors
    uleb(1, &mut doc_body);
    doc_body.push(7);
    uleb(0, &mut doc_body); // heads
    uleb(1, &mut doc_body); // change columns: one deflated actor column
    uleb(1 | 0b1000, &mut doc_body); // column 0 (actor), deflated
    uleb(zeros.len() as u64, &mut doc_body);
    uleb(0, &mut doc_body); // op columns
    doc_body.extend_from_slice(&zeros);
    let document = chunk(0, &doc_body);
    // A 20-byte change that claims 2^40 operations in one run of its action column.
    let mut rle = Vec::new();
    sleb(1 << 40, &mut rle);
    uleb(1, &mut rle);
    let ops_bomb = chunk(1, &change_body((4 << 4) | 2, &rle));
    let pushes: Vec<PushJob> = [compressed_change, document, ops_bomb]
        .into_iter()
        .enumerate()
        .map(|(i, changes)| PushJob {
            job_id: format!("bomb-{i}"),
            changes,
            heads: vec![],
        })
        .collect();
    let resp = cm.push(&server, pushes).await;
    assert_eq!(resp.rejected.len(), 3, "{resp:?}");
    for r in &resp.rejected {
        assert_eq!(r.code, "not_automerge", "{r:?}");
        assert!(r.en.contains("exceeds the limit"), "{r:?}");
    }
    healthy(&server).await;
    let after = server.stats();
    assert_eq!((after.jobs, after.changes), (before.jobs, before.changes));
    assert_eq!(
        after.audit,
        before.audit + 3,
        "each refusal is on the record"
    );
    office.sync().await;
}

#[tokio::test]
async fn hostile_bodies_get_clear_errors_before_anything_is_parsed() {
    let (server, _office, _job) = setup().await;
    let cm = raw_login(&server, "cm-li").await;
    // CBOR nested 10,000 deep.
    let mut cbor = vec![0x81u8; 10_000];
    cbor.push(0);
    let body = zstd::bulk::compress(&cbor, 3).unwrap();
    let (status, bytes) = cm.post(&server, body).await;
    assert_eq!(status, 400);
    let err: protocol::ApiError = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(err.code, "bad_body");
    // Too large once decompressed: 413.
    let huge = zstd::bulk::compress(&vec![0u8; protocol::MAX_DECODED_BYTES + 1], 3).unwrap();
    let (status, bytes) = cm.post(&server, huge).await;
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&bytes));
    // No token: refused before the body is read (401, not 400 or 413).
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/sync", server.url()))
        .header("fieldline-protocol", "1")
        .body(vec![0u8; 20 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    // A login body over 4 KiB.
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", server.url()))
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"username":"cm-li","password":"{}","device_id":"d"}}"#,
            "x".repeat(5000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
    healthy(&server).await;
}

#[tokio::test]
async fn a_manifest_naming_paths_is_refused_and_exports_stay_inside_their_folder() {
    let (server, office, _) = setup().await;
    let mut new = contract::sample::residential_job("YK-EVIL", "王秀英", at("2026-11-02"));
    new.unit = UNIT.into();
    let job = office.store.create_job("office1", &new).unwrap().id;
    assign(&office, &job, Some("cm-li"), None);
    office.sync().await;
    let cm = raw_login(&server, "cm-li").await;
    let key_file = server.data_dir().join(fieldline_server::signing::KEY_FILE);
    let secret = std::fs::read(&key_file).unwrap();
    // A contract the device really signed, whose manifest names the server's key file as a
    // photo's SHA-256 and a photo id that climbs out of the archive.
    let mut doc = cm.doc(&server, &job).await;
    let base = doc.get_heads();
    let typed = field_core::JobDoc::load(&doc.save(), ActorId::random())
        .unwrap()
        .read()
        .unwrap();
    let honest = contract::sign(
        &typed,
        &SignRequest {
            contract_id: "c-evil".into(),
            template: None,
            inputs: [("supplier", "示范供电公司"), ("manager_name", "李")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            amends: None,
            customer_name: None,
            customer: contract::sample::signature(60, 0.0),
            manager: contract::sample::signature(60, 1.0),
            photo_ids: vec![],
            gps: None,
        },
        &Signer {
            user: cm.user.clone(),
            device_id: cm.device.clone(),
            device_time: chrono::Utc::now(),
        },
        &cm.key,
    )
    .unwrap();
    let mut manifest: serde_json::Value =
        serde_json::from_str(honest.manifest.as_deref().unwrap()).unwrap();
    manifest["photos"] = serde_json::json!([{
        "photo_id": "../../escaped",
        "purpose": "document_proof",
        "sha256": key_file.display().to_string(),
    }]);
    let manifest = manifest.to_string();
    let signature = cm.key.sign(manifest.as_bytes());
    let contracts = map_obj(&doc, "contracts");
    let c = doc.put_object(&contracts, "c-evil", ObjType::Map).unwrap();
    let record = serde_json::to_value(&honest).unwrap();
    for (k, v) in record.as_object().unwrap() {
        match (k.as_str(), v) {
            ("manifest", _) => doc.put(&c, "manifest", manifest.as_str()).unwrap(),
            ("manifest_sha256", _) => doc
                .put(&c, "manifest_sha256", {
                    use sha2::Digest;
                    hex_of(&sha2::Sha256::digest(manifest.as_bytes()))
                })
                .unwrap(),
            ("device_signature", _) => doc.put(&c, "device_signature", signature.as_str()).unwrap(),
            ("signed_at", serde_json::Value::String(t)) => doc
                .put(
                    &c,
                    "signed_at",
                    automerge::ScalarValue::Timestamp(
                        chrono::DateTime::parse_from_rfc3339(t)
                            .unwrap()
                            .timestamp_millis(),
                    ),
                )
                .unwrap(),
            (k, serde_json::Value::String(s)) => doc.put(&c, k, s.as_str()).unwrap(),
            (k, serde_json::Value::Number(n)) => doc.put(&c, k, n.as_i64().unwrap()).unwrap(),
            _ => {}
        }
    }
    doc.commit();
    let resp = cm.push(&server, vec![push_of(&job, &mut doc, &base)]).await;
    assert_eq!(resp.rejected.len(), 1, "{resp:?}");
    assert!(
        resp.rejected[0].en.contains("manifest"),
        "{:?}",
        resp.rejected[0]
    );

    // Even a stored job holding such a contract (put there by the server itself) exports only
    // inside the archive folder and never reads a file the blob store did not write.
    let mut trusted = field_core::JobDoc::load(&doc.save(), ActorId::random()).unwrap();
    let bad = trusted.job().unwrap();
    assert!(bad.contracts.contains_key("c-evil"));
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("archive");
    let files = fieldline_server::service::contracts::export(
        &server.env().blobs,
        &bad,
        "c-evil",
        &archive,
        None,
    )
    .await
    .unwrap();
    for f in &files {
        assert!(f.starts_with(&archive), "{}", f.display());
        assert_ne!(
            std::fs::read(f).unwrap(),
            secret,
            "{} holds the key",
            f.display()
        );
    }
    assert!(!out.path().join("escaped.jpg").exists());
    // Verification of the archive refuses the manifest instead of reading paths from it.
    let v = fieldline_server::service::contracts::verify_archive(&archive, None, &[]).unwrap();
    assert!(!v.is_valid());
}

#[tokio::test]
async fn a_login_flood_with_rotating_names_is_limited_and_does_not_stall_sync() {
    let server = TestServer::start_with(|c| {
        c.login_attempts_per_minute = 5;
        c.login_attempts_per_minute_per_address = 20;
    })
    .await;
    server.add_user("office1", Role::OfficeStaff, UNIT);
    let office = Phone::login(&server, "office1").await;
    // Unknown and known names get the same answer.
    let attempt = |user: &'static str| {
        let url = server.url();
        async move {
            let resp = reqwest::Client::new()
                .post(format!("{url}/api/v1/auth/login"))
                .json(&serde_json::json!({"username": user, "password": "wrong", "device_id": "probe"}))
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    assert_eq!(attempt("office1").await, attempt("nobody-at-all").await);
    // Rotating user names from one address: the address limit stops them.
    let mut statuses = Vec::new();
    for i in 0..22 {
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/login", server.url()))
            .json(&serde_json::json!({
                "username": format!("guess-{i}"), "password": "x", "device_id": "flood"
            }))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    // 20 a minute from one address: the office's login, the two probes, 17 guesses.
    assert!(statuses[..17].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[17..].iter().all(|s| *s == 429), "{statuses:?}");
    // While every password check is busy, sync goes on: hashing holds no database lock.
    let env = server.env().clone();
    let permits = env.auth.hashing.acquire_many(2).await.unwrap();
    office
        .store
        .create_job("office1", &new_job(JobKind::HighVoltage, UNIT, "压力测试"))
        .unwrap();
    let r = office.sync().await;
    assert_eq!(r.jobs_pushed, 1);
    drop(permits);
}
