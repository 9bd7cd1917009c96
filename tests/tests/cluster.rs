//! Server nodes on one database (one SQLite file, as two processes would share it, or one
//! PostgreSQL database when `FIELDLINE_TEST_POSTGRES` names a cluster):
//! phones alternate between the nodes without losing or repeating anything (each node's document
//! cache is checked against the database's version), login limits hold across the nodes, not per
//! node, and the periodic work runs on one of them.

use fieldline_server::Config;
use fieldline_tests::*;

/// The tests here run one at a time: each starts several nodes (and the feed test keeps nine
/// threads committing as fast as they can), which on a 2-core machine starved a neighbour's
/// login past its 30 s timeout.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
    let _serial = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let db = test_database().unwrap_or_default();
    let node = |name: &str| Config {
        database_url: db.clone(),
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
    let _serial = ONE_AT_A_TIME.lock().await;
    use field_core::{Edit, JobKind, Role};
    let dir = tempfile::tempdir().unwrap();
    let db = test_database().unwrap_or_default();
    let node = |name: &str| Config {
        database_url: db.clone(),
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
        let who = fieldline_server::authz::Principal {
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

/// What the feed test saw: per reader, the positions and markers it read in order; and every
/// marker committed.
struct FeedRun {
    committed: std::collections::BTreeSet<Vec<u8>>,
    readers: Vec<Vec<(i64, Vec<u8>)>>,
}

impl FeedRun {
    /// `(positions seen twice or out of order, committed changes never seen)`, over all readers.
    fn faults(&self) -> (usize, usize) {
        let (mut disorder, mut skipped) = (0, 0);
        for seen in &self.readers {
            disorder += seen.windows(2).filter(|p| p[0].0 >= p[1].0).count();
            let got: std::collections::BTreeSet<&Vec<u8>> = seen.iter().map(|s| &s.1).collect();
            skipped += self.committed.iter().filter(|c| !got.contains(c)).count();
        }
        (disorder, skipped)
    }
}

/// Six writers on three nodes write three jobs (two writers each, so they also race for the
/// same job: each write is planned from the version it read and planned again when the other
/// came first) as fast as they can, one or two changes a commit, some abandoned; meanwhile a
/// reader on every node pages through the feed, moving its cursor to the last position it read,
/// as phones do.
fn feed_run(nodes: &[std::sync::Arc<dyn fieldline_server::store::ServerStore>]) -> FeedRun {
    use fieldline_server::store::{JobRow, JobWrite, NewChange, Scope};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    const WRITERS: usize = 6;
    const COMMITS: usize = 120;
    let row = |j: usize| JobRow {
        job_id: format!("job-{j}"),
        unit: "u".into(),
        kind: "low_voltage_residential".into(),
        job_no: format!("YK-{j}"),
        status: "accepted".into(),
        created_by: "office1".into(),
        accepted_on: "2026-11-30".into(),
        ..Default::default()
    };
    {
        let mut tx = nodes[0].write_beside().unwrap();
        for j in 0..WRITERS / 2 {
            let write = JobWrite {
                job_id: format!("job-{j}"),
                row: row(j),
                ..Default::default()
            };
            assert!(tx.write_job(&write).unwrap());
        }
        tx.commit().unwrap();
    }
    let writing = Arc::new(AtomicBool::new(true));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = nodes[w % nodes.len()].clone();
            let job = w % (WRITERS / 2);
            std::thread::spawn(move || {
                let mut written = Vec::new();
                for i in 0..COMMITS {
                    // One or two changes per commit, like a push of one or two jobs.
                    let changes: Vec<NewChange> = (0..1 + i % 2)
                        .map(|k| {
                            let marker = format!("{w}-{i}-{k}").into_bytes();
                            NewChange {
                                hash: marker.clone(),
                                bytes: marker,
                                origin: "phone".into(),
                            }
                        })
                        .collect();
                    loop {
                        let version = store
                            .read()
                            .unwrap()
                            .job_meta(&format!("job-{job}"))
                            .unwrap()
                            .unwrap()
                            .version;
                        let mut tx = store.write_beside().unwrap();
                        let write = JobWrite {
                            job_id: format!("job-{job}"),
                            expected: Some(version),
                            row: row(job),
                            changes: changes.clone(),
                            ..Default::default()
                        };
                        if !tx.write_job(&write).unwrap() {
                            continue; // the other writer of this job came first
                        }
                        if i % 7 == 3 {
                            drop(tx); // an abandoned exchange rolls back its positions
                        } else {
                            tx.commit().unwrap();
                            written.extend(changes.iter().map(|c| c.bytes.clone()));
                        }
                        break;
                    }
                }
                written
            })
        })
        .collect();
    let readers: Vec<_> = (0..3)
        .map(|r| {
            let store = nodes[r % nodes.len()].clone();
            let writing = writing.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut cursor = 0;
                loop {
                    let done = !writing.load(Ordering::SeqCst);
                    loop {
                        // As a feed page does: the bound first, then the changes up to it.
                        let read = store.read_fresh().unwrap();
                        let upto = read.max_seq().unwrap();
                        let page = read
                            .feed_changes(Scope::All, "reader", cursor, upto, 25)
                            .unwrap();
                        let Some(last) = page.last() else { break };
                        cursor = last.seq;
                        seen.extend(page.into_iter().map(|c| (c.seq, c.bytes)));
                    }
                    if done {
                        return seen;
                    }
                }
            })
        })
        .collect();
    let mut committed = std::collections::BTreeSet::new();
    for w in writers {
        committed.extend(w.join().unwrap());
    }
    writing.store(false, Ordering::SeqCst);
    let readers = readers.into_iter().map(|r| r.join().unwrap()).collect();
    assert_eq!(
        committed.len(),
        nodes[0].read().unwrap().stats().unwrap().changes as usize
    );
    FeedRun { committed, readers }
}

/// The feed cursor under concurrent commits (see [`feed_run`]): no reader may skip a change (a
/// position committed after a larger one was read) or see one twice.
#[test]
fn feed_positions_are_never_skipped_under_concurrent_commits() {
    let _serial = ONE_AT_A_TIME.blocking_lock();
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().join("shared"),
        database_url: test_database().unwrap_or_default(),
        database_pool: 8,
        ..Config::default()
    };
    let nodes: Vec<_> = (0..3)
        .map(|_| fieldline_server::store::open(&config).unwrap())
        .collect();
    let run = feed_run(&nodes);
    assert_eq!(
        run.faults(),
        (0, 0),
        "no position out of order, none skipped"
    );
    for seen in &run.readers {
        let got: std::collections::BTreeSet<Vec<u8>> = seen.iter().map(|s| s.1.clone()).collect();
        assert_eq!(
            got, run.committed,
            "each reader saw exactly what was committed"
        );
    }
    eprintln!(
        "{}: {} changes committed by 6 writers on 3 nodes, read by 3 readers: 0 skipped, 0 repeated",
        fieldline_tests::backend(),
        run.committed.len(),
    );
}

/// The same test with the rule broken (PostgreSQL: positions drawn in a transaction of their
/// own, so a writer may commit a larger position before a smaller one) catches the readers
/// skipping changes: the test above would fail.
#[test]
fn the_feed_test_fails_when_positions_commit_out_of_order() {
    let _serial = ONE_AT_A_TIME.blocking_lock();
    let Some(url) = test_database() else {
        eprintln!("skipped: SQLite has one writer, so its positions cannot commit out of order");
        return;
    };
    let nodes: Vec<std::sync::Arc<dyn fieldline_server::store::ServerStore>> = (0..3)
        .map(|_| {
            let store = fieldline_server::store::postgres::PostgresStore::open(&url, 8).unwrap();
            store.break_feed_order();
            std::sync::Arc::new(store) as _
        })
        .collect();
    let run = feed_run(&nodes);
    let (disorder, skipped) = run.faults();
    eprintln!("rule broken: {disorder} out of order, {skipped} skipped over 3 readers");
    assert!(skipped > 0, "the broken rule shows as skipped changes");
}

/// The feed waits only for writers of its own database: a transaction left open in another
/// database of the cluster holds nothing back; one left open in this database holds back what
/// is written after it began (delayed, never skipped) until it ends.
#[test]
fn the_feed_waits_only_for_writers_of_its_own_database() {
    let _serial = ONE_AT_A_TIME.blocking_lock();
    use fieldline_server::store::{JobRow, JobWrite, NewChange, Scope, ServerStore};
    let (Some(url), Some(other)) = (test_database(), test_database()) else {
        eprintln!("skipped: SQLite has one writer");
        return;
    };
    let store = fieldline_server::store::postgres::PostgresStore::open(&url, 4).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A session that has begun writing and stays open.
    let hold = |url: &str| {
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
                .batch_execute("BEGIN; SELECT pg_current_xact_id()")
                .await
                .unwrap();
            client
        })
    };
    let mut version = None;
    let mut write = |marker: &str| {
        let mut tx = store.write_beside().unwrap();
        let w = JobWrite {
            job_id: "job-h".into(),
            expected: version,
            row: JobRow {
                job_id: "job-h".into(),
                unit: "u".into(),
                ..Default::default()
            },
            changes: vec![NewChange {
                hash: marker.as_bytes().to_vec(),
                bytes: marker.as_bytes().to_vec(),
                origin: "phone".into(),
            }],
            ..Default::default()
        };
        assert!(tx.write_job(&w).unwrap());
        tx.commit().unwrap();
        version = Some(version.unwrap_or(0) + 1);
    };
    let served = |after: i64| {
        let r = store.read_fresh().unwrap();
        let upto = r.max_seq().unwrap();
        let got: Vec<String> = r
            .feed_changes(Scope::All, "reader", after, upto, 100)
            .unwrap()
            .into_iter()
            .map(|c| String::from_utf8(c.bytes).unwrap())
            .collect();
        (upto, got)
    };
    write("first");
    let (h0, got) = served(0);
    assert_eq!(got, ["first"]);
    let elsewhere = hold(&other);
    write("second");
    let (h1, got) = served(h0);
    assert_eq!(
        got,
        ["second"],
        "another database's open transaction holds nothing back"
    );
    let here = hold(&url);
    write("third");
    let (h2, got) = served(h1);
    assert!(
        got.is_empty(),
        "written after a writer of this database began: {got:?}"
    );
    assert!(h2 >= h1);
    rt.block_on(here.batch_execute("ROLLBACK")).unwrap();
    let (_, got) = served(h2);
    assert_eq!(
        got,
        ["third"],
        "served once that writer ended, after the old cursor"
    );
    rt.block_on(elsewhere.batch_execute("ROLLBACK")).unwrap();
}

/// A tus upload begun on one node resumes on another: the nodes keep nothing of it locally
/// (each has its own data folder), its parts are in the shared bucket, and one request at a time
/// writes it, whichever node that request reaches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_begun_on_one_node_resumes_on_another() {
    let _serial = ONE_AT_A_TIME.lock().await;
    use base64::Engine;
    use field_core::codes::PhotoPurpose;
    use field_core::sync::SyncOptions;
    use field_core::{JobKind, Role};
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let s3 = fieldline_tests::s3::S3Server::start();
    let db = test_database()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("shared").display()));
    let node = |name: &str| {
        let mut c = Config {
            listen: "127.0.0.1:0".into(),
            data_dir: dir.path().join(name),
            database_url: db.clone(),
            node_id: name.into(),
            signing_key: "6b".repeat(32),
            login_attempts_per_minute: 1_000,
            login_attempts_per_minute_per_address: 10_000,
            ..Config::default()
        };
        s3.configure(&mut c);
        c
    };
    let a = fieldline_server::start(&node("node-a")).await.unwrap();
    let b = fieldline_server::start(&node("node-b")).await.unwrap();
    add_user_to(&a.env, "cm1", Role::CustomerManager, "zhuxian");
    let (url_a, url_b) = (format!("http://{}", a.addr), format!("http://{}", b.addr));
    let cm = Phone::login_at(&url_a, "cm1").await;
    let job = cm
        .store
        .create_job(
            "cm1",
            &new_job(JobKind::LowVoltageResidential, "zhuxian", "跨节点上传"),
        )
        .unwrap();
    let original = field_core::photo::sample::jpeg(640, 480, 7, &Default::default());
    cm.store
        .add_photo(
            &job.id,
            "cm1",
            &original,
            &field_core::store::PhotoInput {
                purpose: PhotoPurpose::Meter,
                caption: None,
                gps: None,
                checklist_group: None,
                author_name: None,
            },
            &Default::default(),
        )
        .unwrap();
    let docs_only = SyncOptions {
        upload_photos: false,
        ..fast_options()
    };
    field_core::sync::sync(&cm.store, &docs_only, &|_| {})
        .await
        .unwrap();
    let sha = hex::encode(sha2::Sha256::digest(&original));
    let token = cm.store.sync_setting("token").unwrap().unwrap();
    let http = reqwest::Client::new();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let tus =
        |req: reqwest::RequestBuilder| req.bearer_auth(&token).header("tus-resumable", "1.0.0");
    let patch = |url: &str, location: &str, offset: usize, bytes: &[u8]| {
        tus(http.patch(format!("{url}{location}")))
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", offset.to_string())
            .body(bytes.to_vec())
            .send()
    };

    // Begun on node a: created, then the first half.
    let created = tus(http.post(format!("{url_a}/api/v1/uploads")))
        .header("upload-length", original.len().to_string())
        .header(
            "upload-metadata",
            format!("sha256 {},job {}", b64(&sha), b64(&job.id)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_string();
    let half = original.len() / 2;
    let first = patch(&url_a, &location, 0, &original[..half])
        .await
        .unwrap();
    assert_eq!(first.status(), 204);

    // Node b knows where it stands.
    let head = tus(http.head(format!("{url_b}{location}")))
        .send()
        .await
        .unwrap();
    assert_eq!(head.headers()["upload-offset"], half.to_string().as_str());

    // While a request on node a holds the upload, node b refuses to write it too.
    let id = location.rsplit('/').next().unwrap();
    let claim = fieldline_server::service::uploads::claim(&a.env, id)
        .await
        .unwrap()
        .expect("claimed");
    let busy = patch(&url_b, &location, half, &original[half..])
        .await
        .unwrap();
    assert_eq!(busy.status(), 409);
    drop(claim);

    // Released: node b takes the rest (the release is asynchronous: retry briefly).
    let mut status = 0;
    for _ in 0..50 {
        // A refusal may come before the body is read: the client can see the connection close.
        status = match patch(&url_b, &location, half, &original[half..]).await {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        };
        if status != 409 && status != 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, 204);
    assert!(s3.holds(&sha), "the blob is in the shared bucket");
    // Either node serves it, byte for byte.
    for url in [&url_a, &url_b] {
        let got = http
            .get(format!("{url}/api/v1/blobs/{sha}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 200);
        assert_eq!(got.bytes().await.unwrap().as_ref(), original.as_slice());
    }
    // No node kept anything of the upload in its own folder.
    for name in ["node-a", "node-b"] {
        let incoming = dir.path().join(name).join("uploads").join("incoming");
        let left = std::fs::read_dir(&incoming).map_or(0, |d| d.count());
        assert_eq!(left, 0, "{name} kept bytes in {}", incoming.display());
    }
    a.stop().await;
    b.stop().await;
}

/// Two node processes on one database and one bucket behind a balancer that sends each request
/// to the next node (the fault proxy, also losing, repeating and cutting some): phones edit and
/// take photos whose uploads cross nodes chunk by chunk, and node a is SIGKILLed right after a
/// sync commit. Nothing acknowledged is lost, nothing is stored twice, every photo arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_behind_a_faulty_balancer_one_killed_mid_sync() {
    let _serial = ONE_AT_A_TIME.lock().await;
    use field_core::codes::PhotoPurpose;
    use field_core::sync::SyncOptions;
    use field_core::{Edit, JobKind, Role};
    use fieldline_tests::proxy::{Fault, FaultProxy};
    use std::collections::BTreeSet;
    use std::process::Command;
    const BIN: &str = env!("CARGO_BIN_EXE_fieldline-under-test");
    let dir = tempfile::tempdir().unwrap();
    let s3 = fieldline_tests::s3::S3Server::start();
    let db = test_database()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("shared").display()));
    let mut base = Config {
        data_dir: dir.path().join("setup"),
        database_url: db.clone(),
        ..Config::default()
    };
    s3.configure(&mut base);
    add_users(
        &*fieldline_server::store::open(&base).unwrap(),
        &[
            ("office1", Role::OfficeStaff),
            ("cm1", Role::CustomerManager),
            ("cm2", Role::CustomerManager),
        ],
        "zhuxian",
    );
    let start = |name: &str, crash: Option<&str>, listen: &str| {
        let mut cmd = Command::new(BIN);
        cmd.arg("--data-dir")
            .arg(dir.path().join(name))
            .args(["serve", "--listen", listen])
            .env("FIELDLINE_DATABASE_URL", &db)
            .env("FIELDLINE_SIGNING_KEY", "7c".repeat(32))
            .env("FIELDLINE_NODE_ID", name)
            .env("FIELDLINE_BLOB_STORE", "s3")
            .env("FIELDLINE_S3__BUCKET", &base.s3.bucket)
            .env("FIELDLINE_S3__ENDPOINT", &base.s3.endpoint)
            .env("FIELDLINE_S3__REGION", &base.s3.region)
            .env("FIELDLINE_S3__ACCESS_KEY_ID", &base.s3.access_key_id)
            .env(
                "FIELDLINE_S3__SECRET_ACCESS_KEY",
                &base.s3.secret_access_key,
            )
            .env("FIELDLINE_S3__PREFIX", &base.s3.prefix)
            .env("FIELDLINE_S3__ALLOW_HTTP", "true")
            .env("FIELDLINE_LOGIN_ATTEMPTS_PER_MINUTE", "1000")
            .env("FIELDLINE_LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS", "10000")
            .stderr(std::process::Stdio::null());
        if let Some(c) = crash {
            cmd.env("FIELDLINE_CRASH_AT", c);
        }
        let (child, url) = spawn_listening(&mut cmd);
        (Node(child), url)
    };
    let (mut node_a, url_a) = start("node-a", Some("sync_after_commit:4"), "127.0.0.1:0");
    let (node_b, url_b) = start("node-b", None, "127.0.0.1:0");
    let addr = |url: &str| url.trim_start_matches("http://").parse().unwrap();
    let addr_a: std::net::SocketAddr = addr(&url_a);
    let proxy = FaultProxy::start_many(vec![addr_a, addr(&url_b)], "/api/v1").await;
    let office = Phone::login_at(&proxy.url(), "office1").await;
    let cm1 = Phone::login_at(&proxy.url(), "cm1").await;
    let cm2 = Phone::login_at(&proxy.url(), "cm2").await;
    let mut jobs = Vec::new();
    for (i, cm) in ["cm1", "cm2", "cm1"].iter().enumerate() {
        let job = office
            .store
            .create_job(
                "office1",
                &new_job(
                    JobKind::LowVoltageResidential,
                    "zhuxian",
                    &format!("两节点{i}"),
                ),
            )
            .unwrap();
        assign(&office, &job.id, Some(cm), None);
        jobs.push((job.id, *cm));
    }
    let options = SyncOptions {
        upload_chunk_bytes: 16 * 1024,
        ..fast_options()
    };
    let phones = [(&office, "office1"), (&cm1, "cm1"), (&cm2, "cm2")];
    let mut acknowledged = BTreeSet::new();
    let mut photos = Vec::new();
    let mut a_died = false;
    let jobs_first = jobs[0].0.clone();
    let mut made = Vec::new();
    for step in 0..10 {
        proxy.schedule([
            Fault::Pass,
            Fault::DropResponse,
            Fault::Pass,
            Fault::Duplicate,
            Fault::Pass,
            Fault::Truncate,
        ]);
        for (phone, user) in phones {
            for (job, cm) in &jobs {
                // (A manager's edit fails until the job has reached the phone.)
                if (user == "office1" || user == *cm)
                    && phone
                        .store
                        .edit(
                            job,
                            user,
                            &Edit::SpliceNotes {
                                pos: 0,
                                delete: 0,
                                insert: format!("[{user}.{step}]"),
                            },
                        )
                        .is_ok()
                    && job == &jobs_first
                {
                    made.push(format!("[{user}.{step}]"));
                }
            }
        }
        if step % 3 == 0 {
            let bytes = field_core::photo::sample::jpeg(800, 600, step, &Default::default());
            let added = cm1.store.add_photo(
                &jobs[0].0,
                "cm1",
                &bytes,
                &field_core::store::PhotoInput {
                    purpose: PhotoPurpose::Meter,
                    caption: None,
                    gps: None,
                    checklist_group: None,
                    author_name: None,
                },
                &Default::default(),
            );
            if added.is_ok() {
                photos.push(bytes);
            }
        }
        let results = tokio::join!(
            field_core::sync::sync(&office.store, &options, &|_| {}),
            field_core::sync::sync(&cm1.store, &options, &|_| {}),
            field_core::sync::sync(&cm2.store, &options, &|_| {}),
        );
        for ((phone, _), r) in phones.iter().zip([results.0, results.1, results.2]) {
            if let Ok(r) = r
                && r.complete
                && phone.store.dirty_jobs().unwrap().is_empty()
            {
                acknowledged.extend(phone_change_hashes(&phone.store));
            }
        }
        if !a_died && node_a.0.try_wait().unwrap().is_some() {
            a_died = true;
        }
    }
    assert!(a_died, "node a was killed at its crash point");
    // Node a comes back (same address): both nodes serve until everyone is quiet.
    let (node_a2, _) = start("node-a", None, &addr_a.to_string());
    proxy.clear_faults();
    for _ in 0..3 {
        for (phone, _) in phones {
            field_core::sync::sync(&phone.store, &options, &|_| {})
                .await
                .unwrap();
        }
    }
    let notes = office.store.job(&jobs[0].0).unwrap().notes;
    for (phone, _) in phones {
        for (job, cm) in &jobs {
            if phone.user == "office1" || phone.user == *cm {
                assert_eq!(
                    phone.store.job(job).unwrap(),
                    office.store.job(job).unwrap(),
                    "{} agrees on {job}",
                    phone.user
                );
            }
        }
    }
    assert!(made.len() > 10, "{made:?}");
    for mark in &made {
        assert_eq!(
            notes.matches(mark.as_str()).count(),
            1,
            "{mark} once in {notes}"
        );
    }
    for bytes in &photos {
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes));
        assert!(s3.holds(&sha), "photo {sha} arrived");
    }
    drop((node_a, node_b, node_a2));
    let store = fieldline_server::store::open(&base).unwrap();
    let r = store.read().unwrap();
    let on_server = stored_change_hashes(&*r, jobs.iter().map(|(j, _)| j.as_str()));
    let lost: Vec<_> = acknowledged.difference(&on_server).collect();
    assert!(lost.is_empty(), "acknowledged and lost: {lost:?}");
    assert_eq!(
        r.stats().unwrap().changes as usize,
        on_server.len(),
        "each change stored once"
    );
    eprintln!(
        "{}: {} changes, {} acknowledged before the end, {} photos, proxy {:?}",
        fieldline_tests::backend(),
        on_server.len(),
        acknowledged.len(),
        photos.len(),
        proxy.stats()
    );
}

/// A server process, killed when dropped (also when a test fails).
struct Node(std::process::Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
