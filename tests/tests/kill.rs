//! The real `fieldline` binary, killed with SIGKILL in the middle of a sync and restarted:
//! nothing it acknowledged is lost, and the next sync completes the rest.

use field_core::sync::SyncOptions;
use field_core::{JobKind, Store};
use fieldline_tests::*;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

const BIN: &str = env!("CARGO_BIN_EXE_fieldline-under-test");

/// Where the killed server keeps its data: a data folder, and its own PostgreSQL database when
/// the tests run on PostgreSQL.
struct Data {
    dir: std::path::PathBuf,
    database_url: String,
}

impl Data {
    fn new(dir: std::path::PathBuf) -> Data {
        Data {
            dir,
            database_url: test_database().unwrap_or_default(),
        }
    }

    /// The `fieldline` command on this data.
    fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--data-dir").arg(&self.dir);
        if !self.database_url.is_empty() {
            cmd.env("FIELDLINE_DATABASE_URL", &self.database_url);
        }
        cmd
    }

    fn config(&self) -> fieldline_server::Config {
        fieldline_server::Config {
            data_dir: self.dir.clone(),
            database_url: self.database_url.clone(),
            ..Default::default()
        }
    }
}

fn cli(data: &Data, args: &[&str], stdin: &str) {
    let out = run_with_stdin(data.command().args(args), stdin);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `fieldline serve` and returns it with the address it printed.
fn serve(data: &Data, listen: &str) -> (Child, String) {
    spawn_listening(
        data.command()
            .args(["serve", "--listen", listen])
            .stderr(Stdio::null()),
    )
}

#[tokio::test]
async fn killed_mid_sync_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = Data::new(dir.path().join("server"));
    cli(&data, &["init"], "");
    cli(
        &data,
        &["unit", "add", "--unit", "zhuxian", "--name", "朱仙供电所"],
        "",
    );
    cli(
        &data,
        &[
            "user",
            "add",
            "--username",
            "office1",
            "--role",
            "office_staff",
            "--unit",
            "zhuxian",
            "--display-name",
            "受理员",
        ],
        "password-123\n",
    );
    let (child, url) = serve(&data, "127.0.0.1:0");
    let addr = url.trim_start_matches("http://").to_string();
    let child = Arc::new(Mutex::new(child));

    let phone_dir = tempfile::tempdir().unwrap();
    let store = Store::open(phone_dir.path().join("p.db"), &fieldline_tests::phone_key()).unwrap();
    field_core::sync::login(&store, &url, "office1", "password-123")
        .await
        .unwrap();
    let jobs: Vec<_> = (0..120)
        .map(|i| {
            new_job(
                JobKind::LowVoltageResidential,
                "zhuxian",
                &format!("客户{i}"),
            )
        })
        .collect();
    store.create_jobs("office1", &jobs).unwrap();

    // Small pushes: the sync takes many round trips; kill the server after the third.
    let options = SyncOptions {
        push_bytes: 4_000,
        attempts: 1,
        ..fast_options()
    };
    let killer = child.clone();
    let result = field_core::sync::sync(&store, &options, &move |p| {
        if p.round_trips == 3 {
            let _ = killer.lock().unwrap().kill(); // SIGKILL
        }
    })
    .await;
    assert!(result.is_err(), "the sync was cut off");
    let _ = child.lock().unwrap().wait();
    let clean: Vec<String> = {
        let dirty: std::collections::BTreeSet<String> = store
            .dirty_jobs()
            .unwrap()
            .into_iter()
            .map(|d| d.job_id)
            .collect();
        store
            .list_jobs(&field_core::store::JobFilter {
                limit: Some(500),
                ..Default::default()
            })
            .unwrap()
            .items
            .into_iter()
            .map(|s| s.job_id)
            .filter(|id| !dirty.contains(id))
            .collect()
    };
    assert!(
        !clean.is_empty() && clean.len() < 120,
        "{} acknowledged",
        clean.len()
    );

    // Restart on the same port and data: every acknowledged job is there.
    let (child, _) = serve(&data, &addr);
    let check_dir = tempfile::tempdir().unwrap();
    let checker =
        Store::open(check_dir.path().join("c.db"), &fieldline_tests::phone_key()).unwrap();
    field_core::sync::login(&checker, &url, "office1", "password-123")
        .await
        .unwrap();
    field_core::sync::sync(&checker, &fast_options(), &|_| {})
        .await
        .unwrap();
    for id in &clean {
        assert_eq!(checker.job(id).unwrap(), store.job(id).unwrap());
    }
    // And the interrupted phone finishes the job.
    let report = field_core::sync::sync(&store, &fast_options(), &|_| {})
        .await
        .unwrap();
    assert!(report.complete);
    assert!(store.dirty_jobs().unwrap().is_empty());
    field_core::sync::sync(&checker, &fast_options(), &|_| {})
        .await
        .unwrap();
    assert_eq!(
        checker
            .list_jobs(&field_core::store::JobFilter {
                limit: Some(500),
                ..Default::default()
            })
            .unwrap()
            .items
            .len(),
        120
    );
    let mut child = child;
    let _ = child.kill();
    let _ = child.wait();
}

/// Starts `fieldline serve` on `listen`, set to kill itself at `crash` (`point:n`) if given.
fn serve_crashing(data: &Data, listen: &str, crash: Option<&str>) -> Child {
    let mut cmd = data.command();
    cmd.args(["serve", "--listen", listen])
        .stderr(Stdio::null());
    if let Some(c) = crash {
        cmd.env("FIELDLINE_CRASH_AT", c);
    }
    spawn_listening(&mut cmd).0
}

/// What the (stopped) server stores: every change hash, the change rows, the blobs.
fn stored(data: &Data, jobs: &[String]) -> (std::collections::BTreeSet<String>, i64, i64) {
    let store = fieldline_server::store::open(&data.config()).unwrap();
    let r = store.read().unwrap();
    let out = stored_change_hashes(&*r, jobs.iter().map(String::as_str));
    let stats = r.stats().unwrap();
    (out, stats.changes, stats.blobs)
}

#[tokio::test]
async fn killed_again_and_again_at_named_points_nothing_acknowledged_is_lost() {
    const POINTS: [&str; 4] = [
        "sync_before_commit",
        "sync_after_commit",
        "upload_before_blob",
        "upload_after_blob",
    ];
    const KILLS: usize = 24;
    let dir = tempfile::tempdir().unwrap();
    let data = Data::new(dir.path().join("server"));
    cli(&data, &["init"], "");
    cli(
        &data,
        &["unit", "add", "--unit", "zhuxian", "--name", "朱仙供电所"],
        "",
    );
    for (user, role) in [
        ("office1", "office_staff"),
        ("cm-li", "customer_manager"),
        ("pm-wang", "project_manager"),
    ] {
        cli(
            &data,
            &user_add_args(user, role, "zhuxian"),
            "password-123\n",
        );
    }
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let url = format!("http://{addr}");
    let mut child = serve_crashing(&data, &addr, None);
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let users = ["office1", "cm-li", "pm-wang"];
    let mut phones = Vec::new();
    for (d, u) in dirs.iter().zip(users) {
        let s = Store::open(d.path().join("p.db"), &fieldline_tests::phone_key()).unwrap();
        field_core::sync::login(&s, &url, u, "password-123")
            .await
            .unwrap();
        phones.push(s);
    }
    let office = &phones[0];
    let mut jobs = Vec::new();
    for i in 0..3 {
        let job = office
            .create_job(
                "office1",
                &new_job(
                    JobKind::LowVoltageSmallMicro,
                    "zhuxian",
                    &format!("断电{i}"),
                ),
            )
            .unwrap();
        office
            .edit(
                &job.id,
                "office1",
                &field_core::Edit::UpdateAssignment(field_core::job::Assignment {
                    customer_manager: Some("cm-li".into()),
                    project_manager: Some("pm-wang".into()),
                    ..Default::default()
                }),
            )
            .unwrap();
        jobs.push(job.id);
    }
    for p in &phones {
        field_core::sync::sync(p, &fast_options(), &|_| {})
            .await
            .unwrap();
    }
    let _ = child.kill();
    let _ = child.wait();
    let once = SyncOptions {
        attempts: 1,
        ..fast_options()
    };
    let mut acknowledged = std::collections::BTreeSet::new();
    let mut seed = 0x6b11_u64;
    let mut photo = 0u64;
    for kill in 0..KILLS {
        let point = POINTS[kill % POINTS.len()];
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let n = 1 + (seed >> 33) % 3;
        let mut child = serve_crashing(&data, &addr, Some(&format!("{point}:{n}")));
        let mut died = false;
        // Until the server dies at its point (a loaded machine may need more steps).
        for step in 0..60 {
            for (i, p) in phones.iter().enumerate() {
                for job in &jobs {
                    p.edit(
                        job,
                        users[i],
                        &field_core::Edit::SpliceNotes {
                            pos: 0,
                            delete: 0,
                            insert: format!("[{kill}.{step}.{i}]"),
                        },
                    )
                    .unwrap();
                }
            }
            // A photo each step keeps the upload points busy.
            photo += 1;
            phones[1]
                .add_photo(
                    &jobs[(photo % 3) as usize],
                    "cm-li",
                    &field_core::photo::sample::jpeg(96, 64, photo, &Default::default()),
                    &field_core::store::PhotoInput {
                        purpose: field_core::codes::PhotoPurpose::Survey,
                        caption: None,
                        gps: None,
                        checklist_group: None,
                        author_name: None,
                    },
                    &Default::default(),
                )
                .unwrap();
            let results = tokio::join!(
                field_core::sync::sync(&phones[0], &once, &|_| {}),
                field_core::sync::sync(&phones[1], &once, &|_| {}),
                field_core::sync::sync(&phones[2], &once, &|_| {}),
            );
            for (p, r) in phones.iter().zip([results.0, results.1, results.2]) {
                if let Ok(r) = r
                    && r.complete
                    && p.dirty_jobs().unwrap().is_empty()
                {
                    // Everything this phone holds is acknowledged by the server.
                    acknowledged.extend(phone_change_hashes(p));
                }
            }
            if child.try_wait().unwrap().is_some() {
                died = true;
                break;
            }
        }
        assert!(died, "the server never reached {point}:{n}");
        let (on_server, rows, _) = stored(&data, &jobs);
        let lost: Vec<_> = acknowledged.difference(&on_server).collect();
        assert!(lost.is_empty(), "after a kill at {point}: lost {lost:?}");
        assert_eq!(rows as usize, on_server.len(), "each change stored once");
    }
    // The power stays on: everyone syncs until quiet and ends up with the same jobs.
    let mut child = serve_crashing(&data, &addr, None);
    for _ in 0..3 {
        for p in &phones {
            field_core::sync::sync(p, &fast_options(), &|_| {})
                .await
                .unwrap();
        }
    }
    for p in &phones {
        assert!(p.dirty_jobs().unwrap().is_empty());
        assert_eq!(p.upload_status().unwrap().blobs_pending, 0);
        for job in &jobs {
            assert_eq!(p.job(job).unwrap(), phones[0].job(job).unwrap());
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let (on_server, rows, blobs) = stored(&data, &jobs);
    assert!(acknowledged.is_subset(&on_server));
    assert_eq!(
        phone_change_hashes(&phones[0]),
        on_server,
        "every phone converged on the server's jobs"
    );
    assert_eq!(rows as usize, on_server.len(), "each change stored once");
    assert_eq!(blobs as u64, photo * 3, "every photo's three blobs, once");
    eprintln!(
        "kill loop: {KILLS} kills across {} points, {} changes acknowledged, {} stored once, {blobs} blobs",
        POINTS.len(),
        acknowledged.len(),
        on_server.len()
    );
}
