//! The real `fieldline` binary, killed with SIGKILL in the middle of a sync and restarted:
//! nothing it acknowledged is lost, and the next sync completes the rest.

use field_core::sync::SyncOptions;
use field_core::{JobKind, Store};
use fieldline_tests::*;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

const BIN: &str = env!("CARGO_BIN_EXE_fieldline-under-test");

fn cli(data: &std::path::Path, args: &[&str], stdin: &str) {
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fieldline");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Starts `fieldline serve` and returns it with the address it printed.
fn serve(data: &std::path::Path, listen: &str) -> (Child, String) {
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", listen])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start fieldline serve");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("fieldline listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();
    (child, url)
}

#[tokio::test]
async fn killed_mid_sync_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
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
    let store = Store::open(phone_dir.path().join("p.db")).unwrap();
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
    let checker = Store::open(check_dir.path().join("c.db")).unwrap();
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
