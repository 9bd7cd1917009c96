//! Listing 1,000 jobs through `FieldApp` in Rust (no FFI), to compare with the same call from
//! Python through the generated bindings (`scripts/bench-bindings.sh` runs both on one store).
//!
//!   cargo bench -p mobile-bindings --bench list_jobs -- <data dir>

use field_core::Store;
use field_core::codes::JobKind;
use field_core::job::{Customer, NewJob};
use fieldline_mobile::{FieldApp, FieldlineError, JobQuery, StoreKeyProvider};
use std::time::Instant;

/// The secret of the bench's store (bench_list.py's provider gives the same).
const SECRET: &[u8] = b"fieldline list bench: fixed key!";

struct BenchKey;

impl StoreKeyProvider for BenchKey {
    fn store_secret(&self) -> Result<Vec<u8>, FieldlineError> {
        Ok(SECRET.to_vec())
    }
}

const JOBS: usize = 1_000;
const ROUNDS: usize = 30;

fn main() {
    let dir = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| {
            std::env::temp_dir()
                .join("fieldline-list-bench")
                .display()
                .to_string()
        });
    std::fs::create_dir_all(&dir).expect("data dir");
    {
        let key = field_core::StoreKey::new(SECRET).expect("key");
        let store =
            Store::open(std::path::Path::new(&dir).join("fieldline.db"), &key).expect("store");
        let have = store
            .list_jobs(&Default::default())
            .expect("list")
            .items
            .len();
        if have == 0 {
            let now = chrono::Utc::now();
            let new: Vec<NewJob> = (0..JOBS)
                .map(|i| NewJob {
                    id: None,
                    job_no: Some(format!("YK-BENCH-{i:05}")),
                    kind: JobKind::ALL[i % JobKind::ALL.len()],
                    unit: "demo".into(),
                    accepted_at: now,
                    customer: Customer {
                        name: Some(format!("客户{i:04}")),
                        address: Some(format!("示范路 {i} 号")),
                        ..Default::default()
                    },
                    application: Default::default(),
                })
                .collect();
            store.create_jobs("bench", &new).expect("jobs");
        }
    }
    let app = FieldApp::open(dir.clone(), std::sync::Arc::new(BenchKey)).expect("open");
    let list_all = || {
        let mut n = 0;
        let mut cursor = None;
        loop {
            let page = app
                .list_jobs(JobQuery {
                    limit: Some(500),
                    cursor,
                    ..Default::default()
                })
                .expect("list");
            n += page.items.len();
            cursor = page.next_cursor;
            if cursor.is_none() {
                return n;
            }
        }
    };
    assert_eq!(list_all(), JOBS, "the store holds {JOBS} jobs");
    let mut times: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            list_all();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "rust   list {JOBS} jobs (2 pages of 500) via FieldApp: median {:.2} ms, min {:.2} ms ({ROUNDS} rounds)",
        times[ROUNDS / 2],
        times[0]
    );
    println!("store: {dir}");
}
