//! Office job list benchmark: prints figures, asserts nothing about time.
//!
//!   cargo run --release -p fieldline-tests --bin list_bench -- [--jobs 100000] [--runs 30]
//!       [--keep DIR]
//!
//! Stores JOBS list rows in one unit (varied kinds, stages, time-limit and review states, 40
//! customer and 20 project managers, two years of acceptance dates, distinct customers and
//! addresses, 5 % key projects), then times, for office staff, a customer manager and an
//! admin:
//! 1. the service call behind a page (`listing::list`: the filtered page of 50 plus the counts
//!    per state), p50 / p99 / max in ms;
//! 2. the whole page over HTTP from the real server (`GET /jobs?…` with a browser session:
//!    session check, query, counts, HTML), p50 / p99 in ms as the client sees it on loopback;
//! 3. a CSV export of a filtered selection (rows/s).

use field_core::{JobKind, JobStatus};
use fieldline_server::Config;
use fieldline_server::authz::Principal;
use fieldline_server::service::assessment::{self, AssessmentFilter};
use fieldline_server::service::listing::{self, ListFilter};
use fieldline_server::store::{JobRow, StageClockRow};
use fieldline_tests::{PASSWORD, TestServer, add_user_to, form_login};
use std::time::Instant;

const UNIT: &str = "bench";
const SLA: &[&str] = &["on_track", "due_soon", "overdue", "met", "missed"];
const REVIEW: &[Option<&str>] = &[
    None,
    None,
    None,
    Some("pending"),
    Some("returned"),
    Some("approved"),
];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
];
const TRADES: &[&str] = &[
    "五金厂",
    "物流园",
    "充电站",
    "农业合作社",
    "超市",
    "餐馆",
    "茶馆",
    "机械厂",
    "电子厂",
    "养老院",
    "数据中心",
    "小区",
];
const ROADS: &[&str] = &["建设路", "人民路", "解放路", "滨河路", "工业大道", "新华街"];

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == &format!("--{name}"))
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (xorshift), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

fn row(i: usize, rng: &mut Rng) -> JobRow {
    let day = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()
        + chrono::Duration::days((rng.next() % 700) as i64);
    let status = rng.pick(JobStatus::ALL);
    let open = !matches!(status, JobStatus::PoweredOn | JobStatus::Closed);
    let sla = if open {
        rng.pick(&SLA[..3])
    } else {
        rng.pick(&SLA[3..])
    };
    JobRow {
        job_id: format!("{:032x}", (i as u128) * 0x9e37_79b9_7f4a_7c15 + 1),
        unit: UNIT.into(),
        kind: rng.pick(JobKind::ALL).as_str().into(),
        job_no: format!("YK{}{:06}", day.format("%Y%m%d"), i),
        status: status.as_str().into(),
        customer_name: format!(
            "{}{}{}号{}",
            rng.pick(SURNAMES),
            rng.pick(SURNAMES),
            i % 997,
            rng.pick(TRADES)
        ),
        customer_manager: Some(format!("cm-{:02}", rng.next() % 40)),
        project_manager: (!rng.next().is_multiple_of(3))
            .then(|| format!("pm-{:02}", rng.next() % 20)),
        next_due: open.then(|| (day + chrono::Duration::days(20)).to_string()),
        sla_state: Some(sla.into()),
        created_by: "office1".into(),
        updated_at: 1_750_000_000_000 + (rng.next() % 10_000_000_000) as i64,
        review_state: rng.pick(REVIEW).map(str::to_string),
        accepted_on: day.to_string(),
        address: format!("邾县{}{}号", rng.pick(ROADS), i % 3000),
        key_project: rng.next().is_multiple_of(20),
        powered_on: (!open)
            .then(|| (day + chrono::Duration::days(10 + (rng.next() % 50) as i64)).to_string()),
        visit_state: None,
        satisfaction: (status == JobStatus::Closed).then(|| 1 + (rng.next() % 5) as i64),
        project_progress: Some((rng.next() % 101) as f64),
        customer_rating: None,
    }
}

/// The started stage clocks of a bench job: hand-over and supply plan ended (met or missed),
/// supporting works running or ended.
fn clocks(r: &JobRow, rng: &mut Rng) -> Vec<StageClockRow> {
    let accepted: chrono::NaiveDate = r.accepted_on.parse().unwrap();
    let ended = |days: i64| (accepted + chrono::Duration::days(days)).to_string();
    let state = |rng: &mut Rng| {
        if rng.next().is_multiple_of(5) {
            "missed"
        } else {
            "met"
        }
    };
    let mut out = vec![
        StageClockRow {
            stage: "handover".into(),
            started_on: r.accepted_on.clone(),
            ended_on: Some(ended(1)),
            due_on: Some(r.accepted_on.clone()),
            used_days: 1,
            limit_days: 0,
            state: state(rng).into(),
            paused: false,
            warning: None,
            warn_rank: 0,
        },
        StageClockRow {
            stage: "supply_plan_reply".into(),
            started_on: r.accepted_on.clone(),
            ended_on: Some(ended(12)),
            due_on: Some(ended(20)),
            used_days: 9,
            limit_days: 15,
            state: state(rng).into(),
            paused: false,
            warning: None,
            warn_rank: 0,
        },
    ];
    let running = r.powered_on.is_none();
    out.push(StageClockRow {
        stage: "supporting_works".into(),
        started_on: ended(12),
        ended_on: (!running).then(|| ended(30)),
        due_on: Some(ended(40)),
        used_days: 10,
        limit_days: 20,
        state: if running {
            "overdue".into()
        } else {
            state(rng).into()
        },
        paused: false,
        warning: running.then(|| "overdue".into()),
        warn_rank: if running { 1000 } else { 0 },
    });
    out
}

/// A bench case: its name, who asks, and the filter as URL pairs.
type Case<'a> = (&'a str, &'a Principal, Vec<(&'a str, &'a str)>);

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn filter(pairs: &[(&str, &str)]) -> ListFilter {
    let mut f = ListFilter::default();
    for (k, v) in pairs {
        let v = v.to_string();
        match *k {
            "kind" => f.kind = v,
            "status" => f.status = v,
            "review" => f.review = v,
            "sla" => f.sla = v,
            "cm" => f.cm = v,
            "pm" => f.pm = v,
            "from" => f.from = v,
            "to" => f.to = v,
            "q" => f.q = v,
            "sort" => f.sort = v,
            "key" => f.key = v,
            "after" => f.after = v,
            other => panic!("unknown filter {other}"),
        }
    }
    f
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn principal(username: &str, role: field_core::Role, user_id: i64) -> Principal {
    Principal {
        user_id,
        username: username.into(),
        display_name: username.into(),
        role,
        unit: UNIT.into(),
        device_id: "bench".into(),
        actor: None,
    }
}

#[tokio::main]
async fn main() {
    let jobs = arg("jobs", 100_000);
    let runs = arg("runs", 30);
    let dir = tempfile::tempdir().unwrap();
    // `--keep DIR`: build the data there and leave it (to look at query plans).
    let args: Vec<String> = std::env::args().collect();
    let data_dir = match args.iter().position(|a| a == "--keep") {
        Some(i) => std::path::PathBuf::from(&args[i + 1]),
        None => dir.path().join("server"),
    };
    let config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.clone(),
        ..Config::default()
    };
    // 1. Rows in.
    let env = fieldline_server::open(&config).unwrap();
    add_user_to(&env, "office1", field_core::Role::OfficeStaff, UNIT);
    add_user_to(&env, "admin", field_core::Role::Admin, UNIT);
    add_user_to(&env, "cm-07", field_core::Role::CustomerManager, UNIT);
    let started = Instant::now();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut i = 0;
    while i < jobs {
        let mut tx = env.store.write().unwrap();
        for _ in 0..10_000.min(jobs - i) {
            let r = row(i, &mut rng);
            let write = fieldline_server::store::JobWrite {
                job_id: r.job_id.clone(),
                clocks: Some(clocks(&r, &mut rng)),
                grant: [&r.customer_manager, &r.project_manager]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect(),
                row: r,
                ..Default::default()
            };
            assert!(tx.write_job(&write).unwrap());
            i += 1;
        }
        tx.commit().unwrap();
    }
    let db = std::fs::metadata(data_dir.join("fieldline.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "{jobs} jobs stored in {:.1} s ({:.0} MB database)",
        started.elapsed().as_secs_f64(),
        db as f64 / 1e6
    );

    let office = principal("office1", field_core::Role::OfficeStaff, 1);
    let admin = principal("admin", field_core::Role::Admin, 2);
    let cm = principal("cm-07", field_core::Role::CustomerManager, 3);
    // A cursor a few pages in, for the "next page" case.
    let mut deep = filter(&[]);
    for _ in 0..20 {
        let l = listing::list(&env, &office, &deep).unwrap();
        deep.after = l.next.unwrap();
    }
    let deep_after = deep.after.clone();
    let cases: Vec<Case> = vec![
        ("office: no filter (recently changed)", &office, vec![]),
        ("office: to review", &office, vec![("review", "pending")]),
        (
            "office: one cm, to review",
            &office,
            vec![("cm", "cm-07"), ("review", "pending")],
        ),
        (
            "office: stage + overdue",
            &office,
            vec![("status", "works"), ("sla", "overdue")],
        ),
        (
            "office: kind + pm + accepted in a month",
            &office,
            vec![
                ("kind", "hv"),
                ("pm", "pm-03"),
                ("from", "2025-06-01"),
                ("to", "2025-06-30"),
            ],
        ),
        ("office: search 2 characters", &office, vec![("q", "王李")]),
        ("office: search job number", &office, vec![("q", "000123")]),
        (
            "office: search 3+ characters",
            &office,
            vec![("q", "王李12")],
        ),
        (
            "office: search a whole street (broad)",
            &office,
            vec![("q", "建设路")],
        ),
        ("office: sort by due date", &office, vec![("sort", "due")]),
        ("office: key projects", &office, vec![("key", "1")]),
        (
            "office: page 21 (keyset)",
            &office,
            vec![("after", deep_after.as_str())],
        ),
        ("customer manager: own jobs", &cm, vec![]),
        ("admin: every unit", &admin, vec![]),
    ];
    println!("\nservice time per page (listing::list: 50 rows + counts), {runs} runs each");
    println!(
        "{:<42} {:>8} {:>9} {:>9} {:>9}",
        "case", "matches", "p50 ms", "p99 ms", "max ms"
    );
    let mut worst: f64 = 0.0;
    for (name, who, pairs) in &cases {
        let f = filter(pairs);
        let mut ms = Vec::new();
        let mut total = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let l = listing::list(&env, who, &f).unwrap();
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            total = l.counts.total;
        }
        ms.sort_by(f64::total_cmp);
        worst = worst.max(percentile(&ms, 0.99));
        println!(
            "{name:<42} {total:>8} {:>9.2} {:>9.2} {:>9.2}",
            percentile(&ms, 0.5),
            percentile(&ms, 0.99),
            ms[ms.len() - 1]
        );
    }
    println!("worst p99: {worst:.2} ms");

    // Assessment (考核) of a month, as the unit's office and as an admin over every unit.
    println!("\nassessment of a month (connection time per kind and manager, on time per stage,");
    println!("satisfaction, supporting projects), {runs} runs each");
    println!(
        "{:<42} {:>8} {:>9} {:>9} {:>9}",
        "case", "powered", "p50 ms", "p99 ms", "max ms"
    );
    for (name, who, month) in [
        ("office: 2025-09", &office, "2025-09"),
        ("office: 2026-03", &office, "2026-03"),
        ("admin: 2025-09, every unit", &admin, "2025-09"),
    ] {
        let f = AssessmentFilter {
            month: month.into(),
            unit: String::new(),
        };
        let mut ms = Vec::new();
        let mut powered = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let a = assessment::assess(&env, who, &f).unwrap();
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            powered = a.total.jobs;
        }
        ms.sort_by(f64::total_cmp);
        println!(
            "{name:<42} {powered:>8} {:>9.2} {:>9.2} {:>9.2}",
            percentile(&ms, 0.5),
            percentile(&ms, 0.99),
            ms[ms.len() - 1]
        );
    }
    drop(env);

    // 2. Whole pages over HTTP from the real server on the same data.
    let server = TestServer::start_with(|c| c.data_dir = data_dir.clone()).await;
    let base = server.url();
    let http = reqwest::Client::new();
    println!("\nwhole page over HTTP (GET /jobs?…, HTML), {runs} runs each");
    println!("{:<42} {:>9} {:>9} {:>9}", "case", "p50 ms", "p99 ms", "KB");
    let sessions = [
        ("office1", form_login(&base, "office1", PASSWORD).await),
        ("cm-07", form_login(&base, "cm-07", PASSWORD).await),
        ("admin", form_login(&base, "admin", PASSWORD).await),
    ];
    let mut worst_http: f64 = 0.0;
    for (name, who, pairs) in &cases {
        let cookie = &sessions.iter().find(|s| s.0 == who.username).unwrap().1;
        let q = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let url = format!("{base}/jobs?{q}");
        let mut ms = Vec::new();
        let mut size = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let r = http
                .get(&url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{url}");
            size = r.bytes().await.unwrap().len();
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        ms.sort_by(f64::total_cmp);
        worst_http = worst_http.max(percentile(&ms, 0.99));
        println!(
            "{name:<42} {:>9.2} {:>9.2} {:>9.1}",
            percentile(&ms, 0.5),
            percentile(&ms, 0.99),
            size as f64 / 1024.0
        );
    }
    println!("worst p99: {worst_http:.2} ms");

    // 3. A CSV export of a filtered selection.
    let t = Instant::now();
    let r = http
        .get(format!("{base}/jobs/export.csv?review=pending"))
        .header("cookie", &sessions[0].1)
        .send()
        .await
        .unwrap();
    let body = r.bytes().await.unwrap();
    let lines = body.iter().filter(|b| **b == b'\n').count();
    let s = t.elapsed().as_secs_f64();
    println!(
        "\nCSV export of the jobs to review: {} rows, {:.1} MB in {s:.2} s ({:.0} rows/s)",
        lines.saturating_sub(1),
        body.len() as f64 / 1e6,
        lines as f64 / s
    );
}
