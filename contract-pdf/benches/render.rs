//! PDF render time and size for a signed low-voltage residential contract.
//! `cargo bench -p contract-pdf` (prints figures; no timing assertions).

use contract_pdf::PdfRenderer;
use field_core::Store;
use field_core::contract::SignRequest;
use field_core::contract::sample::{residential_job, signature};
use std::time::Instant;

fn main() {
    let store = Store::open_in_memory().expect("store");
    let job = store
        .create_job(
            "cm",
            &residential_job("YK-2026-000001", "王秀英", chrono::Utc::now()),
        )
        .expect("job");
    let req = SignRequest {
        contract_id: "c1".into(),
        template: None,
        inputs: [
            ("supplier".to_string(), "国网示范市供电公司".to_string()),
            ("manager_name".to_string(), "张伟".to_string()),
        ]
        .into_iter()
        .collect(),
        amends: None,
        customer_name: None,
        customer: signature(300, 0.0),
        manager: signature(200, 1.0),
        photo_ids: vec![],
        gps: None,
    };
    let job = store
        .sign_contract(&job.id, "cm", &req)
        .expect("signed")
        .job;

    let t = Instant::now();
    let renderer = PdfRenderer::with_default_fonts().expect("fonts");
    let load = t.elapsed();
    println!(
        "fonts: {} files loaded in {:.1} ms",
        renderer.font_files().len(),
        load.as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let first = renderer.render(&job, "c1").expect("pdf");
    println!(
        "first render: {:.1} ms, {} bytes",
        t.elapsed().as_secs_f64() * 1e3,
        first.len()
    );
    let mut times = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        renderer.render(&job, "c1").expect("pdf");
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "warm renders (10): min {:.1} ms, median {:.1} ms, max {:.1} ms",
        times[0], times[5], times[9]
    );
}
