//! Fleet sync benchmark: prints figures, asserts nothing about time.
//!
//!   cargo run --release -p fieldline-tests --bin fleet_bench -- [--jobs 1000] [--changes 50]
//!       [--devices 4] [--rounds 20] [--no-js]
//!
//! 1. First upload: the office's device creates JOBS jobs offline with CHANGES changes each
//!    (every change checked against the write policy by the server), then syncs them to the
//!    real server: docs/s, round trips, wire bytes ÷ raw automerge change bytes.
//! 2. The same workload through automerge-repo 2.x (tests/js/repo-fleet.mjs, Node), in the same
//!    run, and the ratio of docs/s.
//! 3. A fleet: DEVICES managers download their jobs, then for ROUNDS rounds each edits 5 of its
//!    jobs and syncs, all at once: sync latency p50/p99 and round trips per sync.

use chrono::{Duration, Utc};
use field_core::job::{Application, Assignment, ChecklistItem, Customer, JobDoc, Milestone};
use field_core::sync::SyncOptions;
use field_core::{Edit, EditContext, JobKind, MilestoneEvent, NewJob, Role, Store};
use fieldline_tests::TestServer;
use std::process::Command;
use std::time::Instant;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == &format!("--{name}"))
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A job with `changes` changes in total (creation included), as the office that accepts jobs
/// makes them on its device (`actor`, `device`): creation, assignment to `manager`, then what
/// the office may write (customer, checklist, notes, application, fees milestones).
fn build_job(
    i: usize,
    changes: usize,
    manager: &str,
    actor: &automerge::ActorId,
    device: &str,
) -> (Vec<u8>, usize) {
    let base = Utc::now() - Duration::days(2);
    let ctx = |k: i64| EditContext {
        actor: "office1".to_string(),
        device: device.to_string(),
        now: base + Duration::minutes(k),
    };
    let mut doc = JobDoc::create(
        actor.clone(),
        &NewJob {
            id: Some(format!("bench-{i:06}")),
            job_no: None,
            kind: JobKind::LowVoltageSmallMicro,
            unit: "zhuxian".into(),
            accepted_at: base,
            customer: Customer {
                name: Some(format!("客户{i:05}")),
                ..Default::default()
            },
            application: Application::default(),
        },
        &field_core::RuleSet::default(),
        &ctx(0),
    )
    .expect("create");
    doc.apply(
        &Edit::UpdateAssignment(Assignment {
            customer_manager: Some(manager.into()),
            ..Default::default()
        }),
        &ctx(1),
    )
    .expect("assign");
    let groups: Vec<String> = doc.job().expect("job").checklist.keys().cloned().collect();
    for c in 2..changes {
        let edit = match c % 5 {
            0 => Edit::UpdateCustomer(Customer {
                contact_phone: Some(format!("1380000{c:04}")),
                ..Default::default()
            }),
            1 => Edit::CheckDocument {
                group: groups[c % groups.len()].clone(),
                item: ChecklistItem {
                    collected: Some(c % 2 == 0),
                    note: Some(format!("第{c}次收资：复印件已核对原件")),
                    ..Default::default()
                },
            },
            2 => Edit::SpliceNotes {
                pos: 0,
                delete: 0,
                insert: "现场".into(),
            },
            3 => Edit::UpdateApplication(Application {
                capacity_kva: Some(100.0 + c as f64),
                ..Default::default()
            }),
            _ => Edit::AddMilestone {
                id: format!("m{c}"),
                milestone: Milestone {
                    event: Some(MilestoneEvent::FeesPaid),
                    at: Some(base + Duration::hours(c as i64)),
                    ..Default::default()
                },
            },
        };
        doc.apply(&edit, &ctx(c as i64)).expect("edit");
    }
    let raw: usize = doc
        .changes_since(&[])
        .into_iter()
        .map(|ch| ch.raw_bytes().len())
        .sum();
    (doc.save(), raw)
}

/// Installs the JS side once (npm), runs it, returns its JSON line.
fn run_js(jobs: usize, changes: usize) -> Result<serde_json::Value, String> {
    let dir = std::path::PathBuf::from(
        std::env::var("FIELDLINE_JS_DIR").unwrap_or_else(|_| "/var/tmp/fieldline-js".into()),
    );
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    if !dir.join("node_modules/@automerge/automerge-repo").exists() {
        eprintln!("installing automerge-repo 2.x into {} …", dir.display());
        let ok = Command::new("npm")
            .current_dir(&dir)
            .args([
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--prefix",
                ".",
                "@automerge/automerge-repo@2",
                "@automerge/automerge-repo-network-websocket@2",
                "@automerge/automerge-repo-storage-nodefs@2",
                "ws@8",
            ])
            .status()
            .map_err(|e| format!("npm: {e}"))?
            .success();
        if !ok {
            return Err("npm install failed".into());
        }
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("js/repo-fleet.mjs");
    std::fs::copy(&script, dir.join("repo-fleet.mjs")).map_err(|e| e.to_string())?;
    let out = Command::new("node")
        .current_dir(&dir)
        .args([
            "repo-fleet.mjs",
            "--jobs",
            &jobs.to_string(),
            "--changes",
            &changes.to_string(),
        ])
        .output()
        .map_err(|e| format!("node: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).to_string());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().ok_or("no output")?;
    serde_json::from_str(line).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() {
    let jobs = arg("jobs", 1000);
    let changes = arg("changes", 50).max(3);
    let devices = arg("devices", 4).max(1);
    let rounds = arg("rounds", 20);
    let no_js = std::env::args().any(|a| a == "--no-js");
    println!("fleet bench: {jobs} jobs × {changes} changes, {devices} devices, {rounds} rounds");

    let server = TestServer::start().await;
    server.add_user("office1", Role::OfficeStaff, "zhuxian");
    for d in 0..devices {
        server.add_user(&format!("cm-{d}"), Role::CustomerManager, "zhuxian");
    }

    // 1. First upload.
    let dir = tempfile::tempdir().unwrap();
    let office = Store::open(dir.path().join("office.db")).unwrap();
    let device = office.device();
    let t = Instant::now();
    let built: Vec<(Vec<u8>, usize)> = (0..jobs)
        .map(|i| {
            build_job(
                i,
                changes,
                &format!("cm-{}", i % devices),
                &device.actor,
                &device.device_id,
            )
        })
        .collect();
    let raw: usize = built.iter().map(|(_, r)| r).sum();
    eprintln!(
        "built {jobs} documents in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    office
        .import_documents(&built.into_iter().map(|(b, _)| b).collect::<Vec<_>>())
        .unwrap();
    field_core::sync::login(&office, &server.url(), "office1", "password-123")
        .await
        .unwrap();
    let t = Instant::now();
    let report = field_core::sync::sync(&office, &SyncOptions::default(), &|_| {})
        .await
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    assert!(
        report.rejected.is_empty(),
        "the server refused the bench's jobs: {:?}",
        report.rejected.first()
    );
    let ours_docs_s = jobs as f64 / secs;
    let wire = report.bytes_sent + report.bytes_received;
    println!(
        "fieldline      first upload: {jobs} docs in {secs:.2} s = {ours_docs_s:.0} docs/s, {} round trip(s), wire {:.0} KB, raw changes {:.0} KB, wire/raw {:.3}",
        report.round_trips,
        wire as f64 / 1024.0,
        raw as f64 / 1024.0,
        wire as f64 / raw as f64
    );

    // 2. automerge-repo, same workload, same run.
    if no_js {
        println!("automerge-repo first upload: skipped (--no-js)");
    } else {
        match run_js(jobs, changes) {
            Ok(v) => {
                let docs_s = v["docs_per_s"].as_f64().unwrap_or(f64::NAN);
                let w = v["wire_bytes"].as_f64().unwrap_or(f64::NAN);
                let r = v["raw_bytes"].as_f64().unwrap_or(f64::NAN);
                println!(
                    "automerge-repo first upload: {jobs} docs in {:.2} s = {docs_s:.0} docs/s, wire {:.0} KB, raw changes {:.0} KB, wire/raw {:.3}",
                    v["seconds"].as_f64().unwrap_or(f64::NAN),
                    w / 1024.0,
                    r / 1024.0,
                    w / r
                );
                println!(
                    "ratio (fieldline ÷ automerge-repo docs/s): {:.1}×",
                    ours_docs_s / docs_s
                );
            }
            Err(e) => println!("automerge-repo first upload: not run ({e})"),
        }
    }

    // 3. The fleet.
    let mut phones = Vec::new();
    for d in 0..devices {
        let store = Store::open(dir.path().join(format!("cm-{d}.db"))).unwrap();
        field_core::sync::login(&store, &server.url(), &format!("cm-{d}"), "password-123")
            .await
            .unwrap();
        phones.push(store);
    }
    let t = Instant::now();
    let downloads = futures_join(phones.iter().map(|p| async move {
        field_core::sync::sync(p, &SyncOptions::default(), &|_| {})
            .await
            .unwrap()
    }))
    .await;
    let secs = t.elapsed().as_secs_f64();
    let pulled: u32 = downloads.iter().map(|r| r.jobs_pulled).sum();
    println!(
        "fleet download: {devices} devices pulled {pulled} docs in {secs:.2} s = {:.0} docs/s",
        pulled as f64 / secs
    );
    let mut latencies = Vec::new();
    let mut trips = Vec::new();
    let mut edited = 0usize;
    for round in 0..rounds {
        let results = futures_join(phones.iter().enumerate().map(|(d, p)| async move {
            let mine: Vec<String> = p
                .list_jobs(&field_core::store::JobFilter {
                    limit: Some(5),
                    ..Default::default()
                })
                .unwrap()
                .items
                .into_iter()
                .map(|s| s.job_id)
                .collect();
            for id in &mine {
                p.edit(
                    id,
                    &format!("cm-{d}"),
                    &Edit::SpliceNotes {
                        pos: 0,
                        delete: 0,
                        insert: format!("第{round}轮"),
                    },
                )
                .unwrap();
            }
            let t = Instant::now();
            let r = field_core::sync::sync(p, &SyncOptions::default(), &|_| {})
                .await
                .unwrap();
            (t.elapsed().as_secs_f64() * 1e3, r.round_trips, mine.len())
        }))
        .await;
        for (ms, rt, n) in results {
            latencies.push(ms);
            trips.push(rt);
            edited += n;
        }
    }
    latencies.sort_by(f64::total_cmp);
    let mean_trips = trips.iter().sum::<u32>() as f64 / trips.len().max(1) as f64;
    println!(
        "fleet steady state: {} syncs ({edited} edited docs): latency p50 {:.1} ms, p99 {:.1} ms, round trips per sync {:.2}",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        mean_trips
    );
}

/// Runs futures concurrently on this task and collects their outputs in order.
async fn futures_join<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    join_all(futs.map(Box::pin).collect()).await
}

async fn join_all<F: std::future::Future + Unpin>(mut futs: Vec<F>) -> Vec<F::Output> {
    use std::task::Poll;
    let mut outputs: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futs.iter_mut().enumerate() {
            if outputs[i].is_none() {
                match std::pin::Pin::new(f).poll(cx) {
                    Poll::Ready(v) => outputs[i] = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("ready")).collect()
}
