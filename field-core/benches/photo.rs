//! Photo ingest benchmark: prints figures, asserts nothing about time.
//!
//! `cargo bench -p field-core --bench photo` (add `-- --quick` for fewer rounds).
//!
//! In one run, for the same generated 4000×3000 JPEG:
//! 1. our display copy (1600 px, q80) + 320 px thumbnail, without the watermark;
//! 2. the same with the watermark;
//! 3. `vipsthumbnail -s 1600` (Debian libvips-tools), as a process, as people run it.
//!
//! Then the peak memory (max RSS) of ingesting a 48 MP (8000×6000) JPEG in a child process,
//! beside vipsthumbnail's on the same file.

use chrono::Utc;
use field_core::PhotoPurpose;
use field_core::photo::sample::{self, SampleExif};
use field_core::photo::{IngestOptions, PhotoContext, ingest};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn ctx() -> PhotoContext {
    PhotoContext {
        job_no: "YK-2026-000123".into(),
        purpose: PhotoPurpose::Survey,
        caption: Some("配电箱位置".into()),
        author: "cm-zhang".into(),
        author_name: Some("张伟".into()),
        address: Some("上海市浦东新区张江路 88 号".into()),
        gps: None,
        device_time: Utc::now(),
        checklist_group: None,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

fn vips(input: &Path, out: &Path) -> bool {
    Command::new("vipsthumbnail")
        .arg("-s")
        .arg("1600")
        .arg(input)
        .arg("-o")
        .arg(out)
        .status()
        .is_ok_and(|s| s.success())
}

/// Medians of (ours, ours with watermark, vips), the three interleaved round by round so that
/// machine noise hits all three alike.
fn interleaved(bytes: &[u8], input: &Path, out: &Path, rounds: usize) -> (f64, f64, Option<f64>) {
    let c = ctx();
    let plain = IngestOptions {
        watermark: false,
        ..Default::default()
    };
    let marked = IngestOptions::default();
    ingest(bytes, &c, &marked).expect("warm-up");
    let have_vips = vips(input, out);
    let (mut a, mut b, mut v) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let t = Instant::now();
        std::hint::black_box(ingest(bytes, &c, &plain).expect("ingest"));
        a.push(ms_since(t));
        let t = Instant::now();
        std::hint::black_box(ingest(bytes, &c, &marked).expect("ingest"));
        b.push(ms_since(t));
        if have_vips {
            let t = Instant::now();
            assert!(vips(input, out), "vipsthumbnail failed");
            v.push(ms_since(t));
        }
    }
    (median(a), median(b), have_vips.then(|| median(v)))
}

/// Max RSS of the largest child waited for so far, MiB.
fn children_max_rss_mib() -> f64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    usage.ru_maxrss as f64 / 1024.0
}

fn self_max_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // Child mode: ingest one file and report this process's peak memory.
    if let Some(i) = args.iter().position(|a| a == "--ingest-once") {
        let bytes = std::fs::read(&args[i + 1]).expect("read");
        let before = self_max_rss_mib();
        let p = ingest(&bytes, &ctx(), &IngestOptions::default()).expect("ingest");
        println!(
            "{:.1} {:.1} {}x{}",
            before,
            self_max_rss_mib(),
            p.display.width,
            p.display.height
        );
        return;
    }
    let rounds = if args.iter().any(|a| a == "--quick") {
        5
    } else {
        15
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let exif = SampleExif {
        orientation: 1,
        taken_at: Some(Utc::now()),
        gps: Some((31.2304, 121.4737)),
    };
    let photo = sample::jpeg(4000, 3000, 42, &exif);
    let input = dir.path().join("photo-12mp.jpg");
    std::fs::write(&input, &photo).expect("write");
    println!(
        "input: generated 4000×3000 JPEG q90, {:.2} MB; median of {rounds} rounds",
        photo.len() as f64 / 1e6
    );

    let out = dir.path().join("vips.jpg");
    let (plain, marked, vips_ms) = interleaved(&photo, &input, &out, rounds);
    println!("fieldline display+thumbnail            {plain:8.1} ms");
    println!("fieldline display+thumbnail+watermark  {marked:8.1} ms");
    match vips_ms {
        Some(v) => {
            println!("vipsthumbnail -s 1600                  {v:8.1} ms");
            println!(
                "ratio fieldline/vips: {:.2} (goal ≤ 0.60); with watermark {:.2}",
                plain / v,
                marked / v
            );
        }
        None => println!("vipsthumbnail: not installed (apt-get install libvips-tools)"),
    }

    // Peak memory on a 48 MP photo, each in its own process.
    let big = sample::jpeg(8000, 6000, 43, &exif);
    let big_path = dir.path().join("photo-48mp.jpg");
    std::fs::write(&big_path, &big).expect("write");
    drop(big);
    let me = std::env::current_exe().expect("own path");
    let t = Instant::now();
    let child = Command::new(&me)
        .arg("--ingest-once")
        .arg(&big_path)
        .output()
        .expect("run child");
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let report = String::from_utf8_lossy(&child.stdout);
    let fields: Vec<&str> = report.split_whitespace().collect();
    if fields.len() == 3 {
        println!(
            "48 MP ingest (8000×6000): peak RSS {} MiB (before ingest {} MiB), {ms:.0} ms incl. process start, display {}",
            fields[1], fields[0], fields[2]
        );
    } else {
        println!("48 MP ingest failed: {report}");
    }
    let t = Instant::now();
    if vips(&big_path, &out) {
        println!(
            "48 MP vipsthumbnail: peak RSS {:.1} MiB, {:.0} ms",
            children_max_rss_mib(),
            t.elapsed().as_secs_f64() * 1e3
        );
    }
}
