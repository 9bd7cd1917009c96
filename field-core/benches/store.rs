//! Store benchmarks: prints figures, asserts nothing about time.
//!
//! `cargo bench -p field-core --bench store` (add `-- --quick` for a smaller run).
//!
//! Everything runs twice in one process, on a plain store and on an encrypted one (SQLCipher
//! database, sealed photo files), and the figures are printed side by side:
//! 1. Open a store holding 10,000 jobs and list the first page.
//! 2. One user action committed durably (WAL, synchronous=FULL): p50 / p99.
//! 3. A 12 MP camera JPEG taken into a job (ingest, three blob files, the job change), the two
//!    stores alternating photo by photo.
//! 4. Size of a job document after 1,000 edits (once: encryption does not change it).

use chrono::{Duration, TimeZone, Utc};
use field_core::job::{Application, ConstructionLog, Customer, Survey};
use field_core::photo::IngestOptions;
use field_core::photo::sample::{self, SampleExif};
use field_core::store::{JobFilter, PhotoInput};
use field_core::{Edit, JobKind, NewJob, PhotoPurpose, Store, StoreKey};
use std::path::Path;
use std::time::Instant;

/// How a run opens its store.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Plain,
    Encrypted,
}

fn open(path: &Path, mode: Mode, key: &StoreKey) -> Store {
    match mode {
        Mode::Plain => Store::open_unencrypted(path).expect("open"),
        Mode::Encrypted => Store::open(path, key).expect("open"),
    }
}

struct Figures {
    setup_s: f64,
    open_median: f64,
    open_max: f64,
    list_median: f64,
    action_p50: f64,
    action_p99: f64,
    action_max: f64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let jobs = if quick { 1_000 } else { 10_000 };
    let actions = if quick { 200 } else { 1_000 };
    let photos = if quick { 6 } else { 30 };
    let key = StoreKey::generate();
    let jpeg = sample::jpeg(4000, 3000, 7, &SampleExif::default());
    let plain_run = run(Mode::Plain, &key, jobs, actions);
    let encrypted_run = run(Mode::Encrypted, &key, jobs, actions);
    println!("== {photos} photos into each store, alternating");
    let [p, e] = photos_interleaved([&plain_run, &encrypted_run], photos, &jpeg);
    let (plain, encrypted) = (plain_run.figures, encrypted_run.figures);
    println!();
    println!("| {jobs} jobs, same run | plain | encrypted | cost |");
    println!("|---|---|---|---|");
    let row = |what: &str, a: f64, b: f64| {
        println!(
            "| {what} | {a:.2} ms | {b:.2} ms | {:+.0} % |",
            (b / a - 1.0) * 100.0
        );
    };
    row(
        "open + first page of 50 (median)",
        plain.open_median,
        encrypted.open_median,
    );
    row(
        "open + first page (max of 5)",
        plain.open_max,
        encrypted.open_max,
    );
    row(
        "first page, store open (median)",
        plain.list_median,
        encrypted.list_median,
    );
    row("durable action p50", plain.action_p50, encrypted.action_p50);
    row("durable action p99", plain.action_p99, encrypted.action_p99);
    row("durable action max", plain.action_max, encrypted.action_max);
    row(
        "12 MP photo into a job (median)",
        percentile(&p, 0.5),
        percentile(&e, 0.5),
    );
    row(
        "12 MP photo into a job (max)",
        p[p.len() - 1],
        e[e.len() - 1],
    );
    println!(
        "| setup: {jobs} jobs created | {:.1} s | {:.1} s | {:+.0} % |",
        plain.setup_s,
        encrypted.setup_s,
        (encrypted.setup_s / plain.setup_s - 1.0) * 100.0
    );
}

/// A run's figures and its store, kept open for the photo round.
struct Run {
    figures: Figures,
    store: Store,
    jobs: Vec<String>,
    _dir: tempfile::TempDir,
}

/// Camera photos into both stores' jobs, durably, alternating photo by photo so that the
/// machine's noise (and the disk's) hits both alike: (plain, encrypted) times in ms, sorted.
fn photos_interleaved(runs: [&Run; 2], photos: usize, jpeg: &[u8]) -> [Vec<f64>; 2] {
    let mut ms = [Vec::with_capacity(photos), Vec::with_capacity(photos)];
    for i in 0..photos {
        // A different original each time (the store recognises one it already holds).
        let mut bytes = jpeg.to_vec();
        bytes.extend_from_slice(format!("{i}").as_bytes());
        for (k, run) in runs.iter().enumerate() {
            let input = PhotoInput {
                purpose: PhotoPurpose::Survey,
                caption: Some("表箱位置".into()),
                gps: None,
                checklist_group: None,
                author_name: Some("张伟".into()),
            };
            let t = Instant::now();
            run.store
                .add_photo(
                    &run.jobs[i % run.jobs.len()],
                    "cm",
                    &bytes,
                    &input,
                    &IngestOptions::default(),
                )
                .expect("photo");
            ms[k].push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    for m in &mut ms {
        m.sort_by(f64::total_cmp);
    }
    ms
}

fn run(mode: Mode, key: &StoreKey, jobs: usize, actions: usize) -> Run {
    let label = if mode == Mode::Plain {
        "plain"
    } else {
        "encrypted"
    };
    println!("== {label} store");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.db");
    let base = Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap();

    // Setup: create the jobs in batches of 500 (one transaction per batch).
    let t = Instant::now();
    {
        let store = open(&path, mode, key);
        let kinds = JobKind::ALL;
        let mut n = 0usize;
        while n < jobs {
            let batch: Vec<NewJob> = (n..(n + 500).min(jobs))
                .map(|i| NewJob {
                    id: None,
                    job_no: None,
                    kind: kinds[i % kinds.len()],
                    unit: "zhuxian".into(),
                    accepted_at: base + Duration::hours(i as i64 % 2000),
                    customer: Customer {
                        name: Some(format!("客户{i:05}")),
                        address: Some(format!("邾县工业路 {i} 号")),
                        ..Default::default()
                    },
                    application: Application {
                        capacity_kva: Some(50.0 + (i % 400) as f64),
                        ..Default::default()
                    },
                })
                .collect();
            store.create_jobs("office", &batch).expect("create");
            n += batch.len();
        }
    }
    let setup_s = t.elapsed().as_secs_f64();
    println!("setup: {jobs} jobs created in {setup_s:.1} s");

    // 1. Open + first page (cold process state: a fresh Store).
    let mut open_list = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let store = open(&path, mode, key);
        let page = store
            .list_jobs(&JobFilter {
                limit: Some(50),
                ..Default::default()
            })
            .expect("list");
        assert_eq!(page.items.len(), 50);
        open_list.push(t.elapsed().as_secs_f64() * 1e3);
    }
    open_list.sort_by(f64::total_cmp);
    let store = open(&path, mode, key);
    let mut list_only = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        store
            .list_jobs(&JobFilter {
                limit: Some(50),
                order: field_core::store::SortOrder::NextDue,
                ..Default::default()
            })
            .expect("list");
        list_only.push(t.elapsed().as_secs_f64() * 1e3);
    }
    list_only.sort_by(f64::total_cmp);
    println!(
        "open store with {jobs} jobs + first page of 50: median {:.2} ms, max {:.2} ms (goal < 50 ms)",
        percentile(&open_list, 0.5),
        open_list[open_list.len() - 1]
    );
    println!(
        "first page by next due date (store open): median {:.2} ms",
        percentile(&list_only, 0.5)
    );

    // 2. Durable user actions on a few jobs, round-robin (typical: one job open at a time).
    let ids: Vec<String> = store
        .list_jobs(&JobFilter {
            limit: Some(8),
            ..Default::default()
        })
        .expect("list")
        .items
        .into_iter()
        .map(|s| s.job_id)
        .collect();
    let mut lat = Vec::with_capacity(actions);
    for i in 0..actions {
        let id = &ids[i % ids.len()];
        let edit = match i % 3 {
            0 => Edit::UpdateSurvey(Survey {
                load_nature: Some(format!("负荷{i}")),
                ..Default::default()
            }),
            1 => Edit::PutConstructionLog {
                id: format!("log-{i}"),
                log: ConstructionLog {
                    at: Some(base + Duration::days(120)),
                    progress_pct: Some((i % 100) as f64),
                    text: Some("施工日志".into()),
                    ..Default::default()
                },
            },
            _ => Edit::SpliceNotes {
                pos: 0,
                delete: 0,
                insert: format!("第{i}条。"),
            },
        };
        let t = Instant::now();
        store.edit(id, "cm", &edit).expect("edit");
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "durable user action ({actions} edits): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (goal p99 < 10 ms)",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat[lat.len() - 1]
    );

    let figures = Figures {
        setup_s,
        open_median: percentile(&open_list, 0.5),
        open_max: open_list[open_list.len() - 1],
        list_median: percentile(&list_only, 0.5),
        action_p50: percentile(&lat, 0.5),
        action_p99: percentile(&lat, 0.99),
        action_max: lat[lat.len() - 1],
    };
    if mode == Mode::Encrypted {
        return Run {
            figures,
            store,
            jobs: ids,
            _dir: dir,
        };
    }

    // 4. Document size after 1,000 edits of a realistic mix on one job.
    let job = store
        .create_job(
            "office",
            &NewJob {
                id: None,
                job_no: None,
                kind: JobKind::HighVoltage,
                unit: "zhuxian".into(),
                accepted_at: base,
                customer: Customer {
                    name: Some("文档大小测试".into()),
                    ..Default::default()
                },
                application: Application::default(),
            },
        )
        .expect("create");
    for i in 0..1_000 {
        let edit = match i % 4 {
            0 => Edit::UpdateCustomer(Customer {
                contact_phone: Some(format!("1380000{i:04}")),
                ..Default::default()
            }),
            1 => Edit::PutConstructionLog {
                id: format!("l{i}"),
                log: ConstructionLog {
                    at: Some(base + Duration::hours(i)),
                    progress_pct: Some((i % 100) as f64),
                    text: Some("今日完成电缆敷设".into()),
                    ..Default::default()
                },
            },
            2 => Edit::SpliceNotes {
                pos: 0,
                delete: 0,
                insert: "现场".into(),
            },
            _ => Edit::UpdateApplication(Application {
                capacity_kva: Some(100.0 + i as f64),
                ..Default::default()
            }),
        };
        store.edit(&job.id, "cm", &edit).expect("edit");
    }
    let bytes = store.document_bytes(&job.id).expect("bytes");
    let (snap, chunks) = store.stored_size(&job.id).expect("size");
    println!(
        "job document after 1,000 edits: {:.1} KB saved (stored: snapshot {:.1} KB + chunks {:.1} KB) (goal < 64 KB)",
        bytes.len() as f64 / 1024.0,
        snap as f64 / 1024.0,
        chunks as f64 / 1024.0
    );
    Run {
        figures,
        store,
        jobs: ids,
        _dir: dir,
    }
}
