//! Store benchmarks: prints figures, asserts nothing about time.
//!
//! `cargo bench -p field-core --bench store` (add `-- --quick` for a smaller run).
//!
//! 1. Open a store holding 10,000 jobs and list the first page.
//! 2. One user action committed durably (WAL, synchronous=FULL): p50 / p99.
//! 3. Size of a job document after 1,000 edits.

use chrono::{Duration, TimeZone, Utc};
use field_core::job::{Application, ConstructionLog, Customer, Survey};
use field_core::store::JobFilter;
use field_core::{Edit, JobKind, NewJob, Store};
use std::time::Instant;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let jobs = if quick { 1_000 } else { 10_000 };
    let actions = if quick { 200 } else { 1_000 };
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.db");
    let base = Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap();

    // Setup: create the jobs in batches of 500 (one transaction per batch).
    let t = Instant::now();
    {
        let store = Store::open(&path).expect("open");
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
    println!(
        "setup: {jobs} jobs created in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // 1. Open + first page (cold process state: a fresh Store).
    let mut open_list = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let store = Store::open(&path).expect("open");
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
    let store = Store::open(&path).expect("open");
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

    // 3. Document size after 1,000 edits of a realistic mix on one job.
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
}
