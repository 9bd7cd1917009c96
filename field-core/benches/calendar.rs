//! Working-day engine benchmark: prints figures, asserts nothing about time.
//!
//! `cargo bench -p field-core --bench calendar`
//!
//! The engine counts working days arithmetically (weekdays by formula, the notices' changed days
//! from a sorted index). Beside it, in the same run, the day-by-day walk it replaced (through the
//! public `is_working_day`), over spans from a month to the 250,000 years a hostile date once
//! reached: what one clock costs while the server holds its writer.

use chrono::NaiveDate;
use field_core::calendar::Calendar;
use std::time::Instant;

fn walk_between(cal: &Calendar, from: NaiveDate, to: NaiveDate) -> i64 {
    let mut count = 0;
    let mut day = from;
    while day < to {
        day = day.succ_opt().unwrap_or(NaiveDate::MAX);
        if cal.is_working_day(day) {
            count += 1;
        }
    }
    count
}

/// Median and maximum of `runs` timings of `f`, in microseconds.
fn time(runs: usize, mut f: impl FnMut() -> i64) -> (f64, f64, i64) {
    let mut out = Vec::with_capacity(runs);
    let mut value = 0;
    for _ in 0..runs {
        let t = Instant::now();
        value = std::hint::black_box(f());
        out.push(t.elapsed().as_secs_f64() * 1e6);
    }
    out.sort_by(f64::total_cmp);
    (out[runs / 2], out[runs - 1], value)
}

fn main() {
    let cal = Calendar::embedded();
    let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
    let spans = [
        (
            "30 days",
            NaiveDate::from_ymd_opt(2026, 11, 7).unwrap(),
            200,
            200,
        ),
        (
            "10 years",
            NaiveDate::from_ymd_opt(2016, 12, 7).unwrap(),
            200,
            20,
        ),
        (
            "1,000 years",
            NaiveDate::from_ymd_opt(1026, 12, 7).unwrap(),
            200,
            3,
        ),
        (
            "250,000 years",
            NaiveDate::from_ymd_opt(-248_000, 1, 1).unwrap(),
            200,
            1,
        ),
    ];
    println!("working days between a day and 2026-12-07 (µs: median / max)");
    println!(
        "{:<14} {:>22} {:>26}",
        "span", "arithmetic", "day-by-day walk"
    );
    for (name, from, runs, walk_runs) in spans {
        let (m, x, a) = time(runs, || cal.working_days_between(from, today));
        let (wm, wx, w) = time(walk_runs, || walk_between(&cal, from, today));
        assert_eq!(a, w, "{name}: both count the same");
        println!("{name:<14} {m:>10.2} / {x:>9.2} {wm:>14.1} / {wx:>9.1}   ({a} days)");
    }
    println!("\nthe n-th working day after 2026-12-07 (µs: median / max)");
    for n in [3u32, 20, 250, 100_000, u32::MAX] {
        let (m, x, _) = time(200, || {
            let d = cal.add_working_days(today, n);
            i64::from(chrono::Datelike::num_days_from_ce(&d))
        });
        println!("n = {n:<11} {m:>10.2} / {x:>9.2}");
    }
}
