//! Fleet sync benchmark: prints figures, asserts nothing about time.
//!
//!   cargo build --release -p fieldline-tests --bins
//!   target/release/fleet_bench [--jobs 1000] [--changes 50] [--devices 4] [--rounds 20]
//!       [--no-js] [--postgres postgres://…/postgres]
//!
//! Each setup runs the real server as separate processes (`fieldline-under-test serve`): one
//! node on SQLite, then, with a PostgreSQL cluster (`--postgres` or FIELDLINE_TEST_POSTGRES, a
//! fresh database each), one node and two nodes on PostgreSQL, in the same run. Besides times it
//! prints the nodes' CPU per document and per sync, the database's CPU (every `postgres`
//! process of the machine), and how long write transactions held the writer (`/metrics`): the
//! inputs of the capacity model in docs/deployment.md.
//!
//! 1. First upload: the office's device creates JOBS varied jobs offline with CHANGES changes each
//!    (distinct customers, addresses, phones, notes, photo references; every change checked
//!    against the write policy by the server), then syncs them to the real server: docs/s, round
//!    trips, wire bytes ÷ raw automerge change bytes.
//! 2. The same workload through automerge-repo 2.x (tests/js/repo-fleet.mjs, Node), in the same
//!    run, and the ratio of docs/s.
//! 3. A fleet: DEVICES managers download their jobs, then for ROUNDS rounds each edits 5 of its
//!    jobs and syncs, all at once: sync latency p50/p99 and round trips per sync.
//! 4. A larger fleet: PHONES lightweight clients (the field-core sync client over stores
//!    prepared by a first download, one manager each) sync at once for PHONE_ROUNDS rounds, each
//!    having edited 5 of its jobs: latency p50/p99 and pushing syncs/s.
//! 5. PostgreSQL only: statements per pushing sync of one job, counted in PostgreSQL's own
//!    statement log (`log_statement = all` for the measured syncs; the log is read beside the
//!    cluster's data directory, or at `--pg-log PATH`), and by the server (`/metrics`).
//!
//! For each fleet it prints how long the section serialized across the installation took per
//! commit (`fieldline_serialized_section_seconds`: SQLite's write transaction; PostgreSQL has
//! none) and how long each commit held its jobs' locks (`fieldline_job_lock_seconds`), p50/p99.

use chrono::{Duration, Utc};
use field_core::job::{Application, Assignment, ChecklistItem, Customer, JobDoc, Milestone};
use field_core::sync::SyncOptions;
use field_core::{Edit, EditContext, JobKind, MilestoneEvent, NewJob, Role, Store};
use std::process::{Child, Command};
use std::time::Instant;

/// The value after `--name` on the command line.
fn flag(name: &str) -> Option<String> {
    let flag = format!("--{name}");
    std::env::args().skip_while(|a| *a != flag).nth(1)
}

fn arg(name: &str, default: usize) -> usize {
    flag(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A small deterministic generator (xorshift64*), so every run builds the same varied jobs.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }

    fn hex64(&mut self) -> String {
        (0..4).map(|_| format!("{:016x}", self.next())).collect()
    }
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "建国", "建华", "志强", "海燕", "红梅", "文", "斌",
    "玉兰",
];
const BUSINESSES: &[&str] = &[
    "五金厂",
    "农业合作社",
    "物流园",
    "充电站",
    "超市",
    "餐馆",
    "机械厂",
    "食品加工厂",
    "家具厂",
    "养殖场",
    "小学",
    "卫生院",
    "民宿",
    "加油站",
    "洗车行",
];
const DISTRICTS: &[&str] = &[
    "城关镇",
    "东城街道",
    "西湖乡",
    "新城开发区",
    "河口镇",
    "白云乡",
    "工业园区",
    "南湖街道",
];
const ROADS: &[&str] = &[
    "建设路",
    "人民路",
    "解放大道",
    "长江路",
    "工业一路",
    "花园街",
    "民主路",
    "振兴大道",
    "滨河路",
    "桃园路",
];
const NOTES: &[&str] = &[
    "与客户电话沟通，约定现场勘查时间",
    "客户补充提交营业执照复印件",
    "现场核实用电地址与申请一致",
    "客户询问电价政策，已解释分时电价",
    "表箱位置需与物业协商",
    "客户要求尽快送电，已告知办理时限",
    "配变容量紧张，建议错峰用电",
    "已提醒客户准备受电工程竣工资料",
];
const CAPTIONS: &[&str] = &[
    "表箱位置",
    "进户线路",
    "配电房外观",
    "营业执照",
    "产权证明",
    "现场全景",
    "计量装置",
    "周边杆线",
];

/// A job with `changes` changes in total (creation included), as the office that accepts jobs
/// makes them on its device (`actor`, `device`): creation, assignment to `manager`, then what
/// the office may write (customer, checklist, notes, application, fees milestones, photos),
/// every value drawn from seeded pools and numbers so that documents differ as real ones do
/// (names, addresses, phones, notes, photo hashes): compression across jobs flatters nothing.
fn build_job(
    i: usize,
    changes: usize,
    manager: &str,
    actor: &automerge::ActorId,
    device: &str,
) -> (Vec<u8>, usize) {
    let mut rng = Rng::new(i as u64 + 1);
    let base = Utc::now() - Duration::days(2 + rng.below(60) as i64);
    let ctx = |k: i64| EditContext {
        actor: "office1".to_string(),
        device: device.to_string(),
        now: base + Duration::minutes(k),
    };
    let person = |rng: &mut Rng| format!("{}{}", rng.pick(SURNAMES), rng.pick(GIVEN));
    let name = if rng.below(3) == 0 {
        format!("{}{}", person(&mut rng), rng.pick(BUSINESSES))
    } else {
        person(&mut rng)
    };
    let address = format!(
        "邾县{}{}{}号{}",
        rng.pick(DISTRICTS),
        rng.pick(ROADS),
        1 + rng.below(998),
        if rng.below(2) == 0 {
            format!("{}栋{}室", 1 + rng.below(30), 101 + rng.below(1800))
        } else {
            String::new()
        }
    );
    let mut doc = JobDoc::create(
        actor.clone(),
        &NewJob {
            id: Some(format!("bench-{i:06}")),
            job_no: None,
            kind: JobKind::LowVoltageSmallMicro,
            unit: "zhuxian".into(),
            accepted_at: base,
            customer: Customer {
                name: Some(name),
                id_number: Some(format!("3101{}{}", rng.digits(10), rng.digits(4))),
                contact_name: Some(person(&mut rng)),
                contact_phone: Some(format!("13{}", rng.digits(9))),
                address: Some(address),
                ..Default::default()
            },
            application: Application::default(),
        },
        // The set in force for the unit on the acceptance day, as the server requires.
        field_core::RuleBook::default().in_force("zhuxian", field_core::job::local_date(base)),
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
    let mut notes_len = 0usize;
    for c in 2..changes {
        let edit = match c % 6 {
            0 => Edit::UpdateCustomer(Customer {
                contact_phone: Some(format!("1{}{}", 3 + rng.below(6), rng.digits(9))),
                contact_name: Some(person(&mut rng)),
                ..Default::default()
            }),
            1 => Edit::CheckDocument {
                group: groups[rng.below(groups.len())].clone(),
                item: ChecklistItem {
                    collected: Some(rng.below(4) > 0),
                    note: Some(format!(
                        "{}月{}日收资，{}，编号{}",
                        1 + rng.below(12),
                        1 + rng.below(28),
                        rng.pick(NOTES),
                        rng.digits(6)
                    )),
                    ..Default::default()
                },
            },
            2 => {
                let text = format!(
                    "{}月{}日 {}（{}）。\n",
                    1 + rng.below(12),
                    1 + rng.below(28),
                    rng.pick(NOTES),
                    person(&mut rng)
                );
                let insert_at = notes_len;
                notes_len += text.chars().count();
                Edit::SpliceNotes {
                    pos: insert_at,
                    delete: 0,
                    insert: text,
                }
            }
            3 => Edit::UpdateApplication(Application {
                capacity_kva: Some(10.0 + rng.below(990) as f64),
                grid_distance_m: Some(rng.below(2000) as f64),
                ..Default::default()
            }),
            4 => Edit::AddMilestone {
                id: format!("m{c}-{}", rng.digits(6)),
                milestone: Milestone {
                    event: Some(MilestoneEvent::FeesPaid),
                    at: Some(base + Duration::minutes(c as i64 * 37 + rng.below(600) as i64)),
                    note: Some(rng.pick(NOTES).to_string()),
                    ..Default::default()
                },
            },
            _ => Edit::AddPhoto {
                id: format!("p{c}-{}", rng.digits(8)),
                photo: field_core::job::Photo {
                    purpose: Some(field_core::codes::PhotoPurpose::Survey),
                    caption: Some(format!("{}{}", rng.pick(CAPTIONS), 1 + rng.below(9))),
                    taken_at: Some(base + Duration::minutes(c as i64)),
                    latitude: Some(30.0 + rng.below(1_000_000) as f64 / 1e6),
                    longitude: Some(114.0 + rng.below(1_000_000) as f64 / 1e6),
                    original_sha256: Some(rng.hex64()),
                    original_bytes: Some(800_000 + rng.below(2_000_000) as i64),
                    original_mime: Some("image/jpeg".into()),
                    width: Some(4032),
                    height: Some(3024),
                    display_sha256: Some(rng.hex64()),
                    display_bytes: Some(150_000 + rng.below(150_000) as i64),
                    thumbnail_sha256: Some(rng.hex64()),
                    thumbnail_bytes: Some(8_000 + rng.below(8_000) as i64),
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

/// What every setup does: the same documents, devices and rounds.
#[derive(Clone, Copy)]
struct Workload<'a> {
    documents: &'a [Vec<u8>],
    /// Raw automerge change bytes of the documents.
    raw: usize,
    devices: usize,
    rounds: usize,
    /// The larger fleet.
    phones: usize,
    phone_rounds: usize,
    /// Customer managers the jobs are spread over (one per phone of the larger fleet).
    managers: usize,
    /// The PostgreSQL cluster's admin URL (statement log).
    postgres_admin: Option<&'a str>,
}

/// Where the bench's server nodes keep their data.
struct Setup {
    label: String,
    /// Empty: SQLite in the data directory.
    database_url: String,
    nodes: usize,
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the 14th, stime the 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds used so far by every PostgreSQL process of this machine.
fn postgres_cpu_seconds() -> f64 {
    let mut total = 0.0;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "postgres" {
            total += cpu_seconds(pid);
        }
    }
    total
}

/// A node's `/metrics` text.
async fn metrics_text(url: &str) -> String {
    reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A metric's value in a `/metrics` text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// A histogram in a `/metrics` text: `(upper bound in seconds, cumulative count)`.
fn buckets(text: &str, name: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{le=\"");
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .filter_map(|l| {
            let (le, n) = l.split_once("\"} ")?;
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((bound, n.trim().parse().ok()?))
        })
        .collect()
}

/// The bucket bound (ms) at or below which a share `q` of the holds counted between two
/// readings of the summed histograms fell.
fn hold_quantile(before: &[(f64, f64)], after: &[(f64, f64)], q: f64) -> String {
    let deltas: Vec<(f64, f64)> = after
        .iter()
        .zip(before.iter().map(|b| b.1).chain(std::iter::repeat(0.0)))
        .map(|((bound, n), m)| (*bound, n - m))
        .collect();
    let total = deltas.last().map_or(0.0, |d| d.1);
    match deltas.iter().find(|d| d.1 >= q * total) {
        Some((b, _)) if b.is_finite() => format!("≤ {} ms", b * 1e3),
        Some(_) => "> 1000 ms".into(),
        None => "-".into(),
    }
}

/// The share of holds longer than `bound` seconds (a bucket's bound) between two readings.
fn share_over(before: &[(f64, f64)], after: &[(f64, f64)], bound: f64) -> f64 {
    let at = |h: &[(f64, f64)], b: f64| {
        h.iter()
            .find(|(le, _)| (*le - b).abs() < 1e-12)
            .map_or(0.0, |x| x.1)
    };
    let total = |h: &[(f64, f64)]| h.last().map_or(0.0, |x| x.1);
    let all = total(after) - total(before);
    if all <= 0.0 {
        return 0.0;
    }
    let within = at(after, bound) - at(before, bound);
    (all - within) / all
}

/// Sums the histograms of several nodes (same buckets).
fn sum_buckets(all: Vec<Vec<(f64, f64)>>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for h in all {
        if out.is_empty() {
            out = h;
        } else {
            for (o, (_, n)) in out.iter_mut().zip(h) {
                o.1 += n;
            }
        }
    }
    out
}

/// Starts `setup.nodes` server processes on one database with the bench's users.
/// Server processes, killed when dropped (also when the bench panics).
struct Nodes(Vec<(Child, String)>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for (child, _) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start_nodes(setup: &Setup, dir: &std::path::Path, managers: usize) -> Nodes {
    let bin = std::env::current_exe()
        .unwrap()
        .with_file_name("fieldline-under-test");
    assert!(
        bin.exists(),
        "{} is missing: cargo build --release -p fieldline-tests --bins",
        bin.display()
    );
    let config = fieldline_server::Config {
        data_dir: dir.join("node-0"),
        database_url: setup.database_url.clone(),
        ..fieldline_server::Config::default()
    };
    {
        let store = fieldline_server::store::open(&config).unwrap();
        let managers: Vec<String> = (0..managers).map(|d| format!("cm-{d}")).collect();
        let mut users = vec![("office1", Role::OfficeStaff)];
        users.extend(managers.iter().map(|m| (m.as_str(), Role::CustomerManager)));
        fieldline_tests::add_users(&*store, &users, "zhuxian");
    }
    if !setup.database_url.is_empty() {
        // The cost of one statement's round trip through the store.
        let store = fieldline_server::store::open(&config).unwrap();
        let r = store.read().unwrap();
        for _ in 0..200 {
            r.connection().query("SELECT 1", &[]).unwrap();
        }
        let t = Instant::now();
        for _ in 0..2000 {
            r.connection().query("SELECT 1", &[]).unwrap();
        }
        println!(
            "[{}] database round trip: {:.0} µs",
            setup.label,
            t.elapsed().as_secs_f64() * 1e6 / 2000.0
        );
    }
    let key = "5a".repeat(32);
    // `--server-cpus 1`: the servers run on those CPUs only (`taskset`), so that with the bench
    // itself pinned elsewhere (`taskset -c 0 fleet_bench …`) the phones do not share the
    // servers' cores, as on a real installation.
    let server_cpus = flag("server-cpus");
    let nodes = (0..setup.nodes)
        .map(|n| {
            let mut cmd = match &server_cpus {
                Some(cpus) => {
                    let mut c = Command::new("taskset");
                    c.args(["-c", cpus]).arg(&bin);
                    c
                }
                None => Command::new(&bin),
            };
            cmd.args(["--data-dir"])
                .arg(dir.join(format!("node-{n}")))
                .args(["serve", "--listen", "127.0.0.1:0"])
                .env("FIELDLINE_SIGNING_KEY", &key)
                .env("FIELDLINE_NODE_ID", format!("node-{n}"))
                .env("FIELDLINE_LOGIN_ATTEMPTS_PER_MINUTE", "100000")
                .env("FIELDLINE_LOGIN_ATTEMPTS_PER_MINUTE_PER_ADDRESS", "100000")
                .env("FIELDLINE_LOG", "warn,fieldline_server::cli=info");
            if !setup.database_url.is_empty() {
                cmd.env("FIELDLINE_DATABASE_URL", &setup.database_url);
            }
            fieldline_tests::spawn_listening(&mut cmd)
        })
        .collect();
    Nodes(nodes)
}

#[tokio::main]
async fn main() {
    let jobs = arg("jobs", 1000);
    let changes = arg("changes", 50).max(3);
    let devices = arg("devices", 4).max(1);
    let rounds = arg("rounds", 20);
    let fleet_phones = arg("phones", 64);
    let phone_rounds = arg("phone-rounds", 10);
    let managers = devices.max(fleet_phones);
    let no_js = std::env::args().any(|a| a == "--no-js");
    let postgres = flag("postgres")
        .or_else(|| std::env::var("FIELDLINE_TEST_POSTGRES").ok())
        .filter(|u| !u.is_empty());
    println!(
        "fleet bench: {jobs} jobs × {changes} changes, {devices} devices × {rounds} rounds, {fleet_phones} phones × {phone_rounds} rounds"
    );

    let dir = tempfile::tempdir().unwrap();
    let device_dir = tempfile::tempdir().unwrap();
    let builder = Store::open(
        device_dir.path().join("builder.db"),
        &fieldline_tests::phone_key(),
    )
    .unwrap();
    let device = builder.device();
    let t = Instant::now();
    let built: Vec<(Vec<u8>, usize)> = (0..jobs)
        .map(|i| {
            build_job(
                i,
                changes,
                &format!("cm-{}", i % managers),
                &device.actor,
                &device.device_id,
            )
        })
        .collect();
    let raw: usize = built.iter().map(|(_, r)| r).sum();
    let documents: Vec<Vec<u8>> = built.into_iter().map(|(b, _)| b).collect();
    eprintln!(
        "built {jobs} documents in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let mut setups = vec![Setup {
        label: "sqlite, 1 node".into(),
        database_url: String::new(),
        nodes: 1,
    }];
    match &postgres {
        Some(admin) => {
            for nodes in [1, 2] {
                let name = format!("fleet_{}", uuid::Uuid::new_v4().simple());
                setups.push(Setup {
                    label: format!("postgres, {nodes} node{}", if nodes > 1 { "s" } else { "" }),
                    database_url: fieldline_server::store::postgres::create_database(admin, &name)
                        .unwrap(),
                    nodes,
                });
            }
        }
        None => println!("postgres: skipped (give --postgres postgres://…/postgres)"),
    }

    let mut first_upload_docs_s = f64::NAN;
    for (i, setup) in setups.iter().enumerate() {
        let docs_s = run_setup(
            &builder,
            setup,
            &dir.path().join(format!("setup-{i}")),
            &device_dir.path().join(format!("setup-{i}")),
            &Workload {
                documents: &documents,
                raw,
                devices,
                rounds,
                phones: fleet_phones,
                phone_rounds,
                managers,
                postgres_admin: postgres.as_deref(),
            },
        )
        .await;
        if i == 0 {
            first_upload_docs_s = docs_s;
        }
    }

    // automerge-repo, same workload, same run.
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
                    "ratio (fieldline sqlite ÷ automerge-repo docs/s): {:.1}×",
                    first_upload_docs_s / docs_s
                );
            }
            Err(e) => println!("automerge-repo first upload: not run ({e})"),
        }
    }
}

/// One setup: the first upload through node 0, then the fleet spread over the nodes. Returns
/// the first upload's docs/s.
async fn run_setup(
    builder: &Store,
    setup: &Setup,
    data: &std::path::Path,
    phones_dir: &std::path::Path,
    work: &Workload<'_>,
) -> f64 {
    let Workload {
        documents,
        raw,
        devices,
        rounds,
        ..
    } = *work;
    std::fs::create_dir_all(phones_dir).unwrap();
    let jobs = documents.len();
    let nodes = start_nodes(setup, data, work.managers);
    let urls: Vec<String> = nodes.0.iter().map(|(_, u)| u.clone()).collect();
    let pids: Vec<u32> = nodes.0.iter().map(|(c, _)| c.id()).collect();
    let node_cpu = || pids.iter().map(|p| cpu_seconds(*p)).sum::<f64>();
    let label = &setup.label;

    // 1. First upload.
    // The office is a copy of the builder's store: the documents are its device's own changes.
    builder.backup_to(&phones_dir.join("office.db")).unwrap();
    let office = Store::open(phones_dir.join("office.db"), &fieldline_tests::phone_key()).unwrap();
    office.import_documents(documents).unwrap();
    field_core::sync::login(&office, &urls[0], "office1", "password-123")
        .await
        .unwrap();
    let (cpu0, db0) = (node_cpu(), postgres_cpu_seconds());
    let t = Instant::now();
    let report = field_core::sync::sync(&office, &SyncOptions::default(), &|_| {})
        .await
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let (cpu1, db1) = (node_cpu(), postgres_cpu_seconds());
    assert!(
        report.rejected.is_empty(),
        "the server refused the bench's jobs: {:?}",
        report.rejected.first()
    );
    let docs_s = jobs as f64 / secs;
    let wire = report.bytes_sent + report.bytes_received;
    println!(
        "[{label}] first upload: {jobs} docs in {secs:.2} s = {docs_s:.0} docs/s, {} round trip(s), wire {:.0} KB, raw changes {:.0} KB, wire/raw {:.3}; server CPU {:.2} ms/doc{}",
        report.round_trips,
        wire as f64 / 1024.0,
        raw as f64 / 1024.0,
        wire as f64 / raw as f64,
        (cpu1 - cpu0) * 1e3 / jobs as f64,
        if setup.database_url.is_empty() {
            String::new()
        } else {
            format!(
                ", database CPU {:.2} ms/doc",
                (db1 - db0) * 1e3 / jobs as f64
            )
        }
    );

    // 2. The fleet: device d syncs through node d mod N.
    let mut phones = Vec::new();
    for d in 0..devices {
        phones.push(phone(&phones_dir.join(format!("cm-{d}.db")), &urls, d).await);
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
        "[{label}] fleet download: {devices} devices pulled {pulled} docs in {secs:.2} s = {:.0} docs/s",
        pulled as f64 / secs
    );
    let fleet = Fleet {
        label,
        urls: &urls,
        node_cpu: &node_cpu,
        postgres: !setup.database_url.is_empty(),
    };
    let phones: Vec<(Store, String)> = phones
        .into_iter()
        .enumerate()
        .map(|(d, p)| (p, format!("cm-{d}")))
        .collect();
    fleet
        .rounds(&format!("{devices} phones"), &phones, rounds)
        .await;

    // 3. The larger fleet: a store per manager, prepared by its first download.
    let mut small = Vec::new();
    for d in 0..work.phones {
        let store = phone(&phones_dir.join(format!("phone-{d}.db")), &urls, d).await;
        field_core::sync::sync(&store, &SyncOptions::default(), &|_| {})
            .await
            .unwrap();
        small.push((store, format!("cm-{d}")));
    }
    fleet
        .rounds(
            &format!("{} phones", work.phones),
            &small,
            work.phone_rounds,
        )
        .await;

    // 4. Statements per pushing sync of one job, from PostgreSQL's statement log.
    if let (Some(admin), false) = (work.postgres_admin, setup.database_url.is_empty()) {
        statement_log(label, admin, &urls, &small[0].0, "cm-0").await;
    }
    drop(nodes);
    docs_s
}

/// The ids of the first `n` jobs of a phone's list.
fn first_jobs(phone: &Store, n: u32) -> Vec<String> {
    phone
        .list_jobs(&field_core::store::JobFilter {
            limit: Some(n),
            ..Default::default()
        })
        .unwrap()
        .items
        .into_iter()
        .map(|s| s.job_id)
        .collect()
}

/// Manager `cm-{d}`'s phone: a store at `path`, logged in through node d mod N.
async fn phone(path: &std::path::Path, urls: &[String], d: usize) -> Store {
    let store = Store::open(path, &fieldline_tests::phone_key()).unwrap();
    field_core::sync::login(
        &store,
        &urls[d % urls.len()],
        &format!("cm-{d}"),
        "password-123",
    )
    .await
    .unwrap();
    store
}

/// The phones of a fleet syncing through the nodes, with the server's figures around them.
struct Fleet<'a> {
    label: &'a str,
    urls: &'a [String],
    node_cpu: &'a dyn Fn() -> f64,
    postgres: bool,
}

/// What the nodes' `/metrics` say, summed over the nodes.
#[derive(Default)]
struct Reading {
    writer_seconds: f64,
    writes: f64,
    writer: Vec<(f64, f64)>,
    feed_seconds: f64,
    feed_commits: f64,
    feed: Vec<(f64, f64)>,
    lock_seconds: f64,
    lock_commits: f64,
    lock: Vec<(f64, f64)>,
    statements: f64,
    round_trips: f64,
}

impl Fleet<'_> {
    async fn read(&self) -> Reading {
        let mut r = Reading::default();
        let (mut writer, mut feed, mut lock) = (Vec::new(), Vec::new(), Vec::new());
        for u in self.urls {
            let text = metrics_text(u).await;
            r.writer_seconds += metric(&text, "fieldline_db_writer_hold_seconds_sum");
            r.writes += metric(&text, "fieldline_db_writer_hold_seconds_count");
            r.feed_seconds += metric(&text, "fieldline_serialized_section_seconds_sum");
            r.feed_commits += metric(&text, "fieldline_serialized_section_seconds_count");
            r.lock_seconds += metric(&text, "fieldline_job_lock_seconds_sum");
            r.lock_commits += metric(&text, "fieldline_job_lock_seconds_count");
            r.statements += metric(&text, "fieldline_db_statements_total");
            r.round_trips += metric(&text, "fieldline_db_round_trips_total");
            writer.push(buckets(&text, "fieldline_db_writer_hold_seconds"));
            feed.push(buckets(&text, "fieldline_serialized_section_seconds"));
            lock.push(buckets(&text, "fieldline_job_lock_seconds"));
        }
        r.writer = sum_buckets(writer);
        r.feed = sum_buckets(feed);
        r.lock = sum_buckets(lock);
        r
    }

    /// `rounds` rounds in which every phone edits 5 of its jobs, then all sync at once.
    async fn rounds(&self, what: &str, phones: &[(Store, String)], rounds: usize) {
        let label = self.label;
        let mut latencies = Vec::new();
        let mut trips = Vec::new();
        let mut edited = 0usize;
        let (cpu0, db0) = ((self.node_cpu)(), postgres_cpu_seconds());
        let before = self.read().await;
        let steady = Instant::now();
        for round in 0..rounds {
            let results = futures_join(phones.iter().map(|(p, me)| async move {
                let mine = first_jobs(p, 5);
                for id in &mine {
                    p.edit(
                        id,
                        me,
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
                assert!(r.rejected.is_empty(), "refused: {:?}", r.rejected.first());
                (t.elapsed().as_secs_f64() * 1e3, r.round_trips, mine.len())
            }))
            .await;
            for (ms, rt, n) in results {
                latencies.push(ms);
                trips.push(rt);
                edited += n;
            }
        }
        let wall = steady.elapsed().as_secs_f64();
        let (cpu1, db1) = ((self.node_cpu)(), postgres_cpu_seconds());
        let after = self.read().await;
        latencies.sort_by(f64::total_cmp);
        let syncs = latencies.len().max(1) as f64;
        let mean_trips = trips.iter().sum::<u32>() as f64 / trips.len().max(1) as f64;
        println!(
            "[{label}] {what} × {rounds} rounds: {} pushing syncs ({edited} edited docs) in {wall:.2} s = {:.0} pushing syncs/s: latency p50 {:.1} ms, p99 {:.1} ms, round trips per sync {:.2}",
            latencies.len(),
            syncs / wall,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            mean_trips
        );
        let writes = (after.writes - before.writes).max(1.0);
        let serial = after.feed_commits - before.feed_commits;
        let locks = (after.lock_commits - before.lock_commits).max(1.0);
        println!(
            "[{label}] {what}, per sync: server CPU {:.2} ms{}; {:.2} transactions under the cluster's writer ({:.2} ms held each)",
            (cpu1 - cpu0) * 1e3 / syncs,
            if self.postgres {
                format!(", database CPU {:.2} ms", (db1 - db0) * 1e3 / syncs)
            } else {
                String::new()
            },
            (after.writes - before.writes) / syncs,
            (after.writer_seconds - before.writer_seconds) * 1e3 / writes,
        );
        println!(
            "[{label}] {what}: serialized section (across the installation) {}; jobs' locks held per commit p50 {}, p99 {}, mean {:.3} ms{}",
            if serial > 0.0 {
                format!(
                    "p50 {}, p99 {}, mean {:.3} ms over {serial:.0} commits, {:.1} % over 1 ms",
                    hold_quantile(&before.feed, &after.feed, 0.5),
                    hold_quantile(&before.feed, &after.feed, 0.99),
                    (after.feed_seconds - before.feed_seconds) * 1e3 / serial,
                    share_over(&before.feed, &after.feed, 0.001) * 100.0,
                )
            } else {
                "none".to_string()
            },
            hold_quantile(&before.lock, &after.lock, 0.5),
            hold_quantile(&before.lock, &after.lock, 0.99),
            (after.lock_seconds - before.lock_seconds) * 1e3 / locks,
            if self.postgres {
                format!(
                    "; {:.1} statements, {:.1} round trips to the database per sync",
                    (after.statements - before.statements) / syncs,
                    (after.round_trips - before.round_trips) / syncs
                )
            } else {
                String::new()
            },
        );
    }
}

/// Statements per pushing sync of one job in PostgreSQL's statement log: `log_statement = all`
/// for the whole cluster (a reload; every session picks it up) while `phone` pushes one edited
/// job at a time, twenty times, then off again. Background work of the nodes during those
/// seconds counts too (it is little).
async fn statement_log(label: &str, admin: &str, urls: &[String], phone: &Store, user: &str) {
    let (client, conn) = match tokio_postgres::connect(admin, tokio_postgres::NoTls).await {
        Ok(c) => c,
        Err(e) => {
            println!("[{label}] statement log: not read ({e})");
            return;
        }
    };
    tokio::spawn(conn);
    let dir: String = match client.query_one("SHOW data_directory", &[]).await {
        Ok(row) => row.get(0),
        Err(e) => {
            println!("[{label}] statement log: not read ({e})");
            return;
        }
    };
    let log = flag("pg-log")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(&dir).with_file_name("server.log"));
    let Ok(start) = std::fs::metadata(&log).map(|m| m.len()) else {
        println!(
            "[{label}] statement log: {} not readable (give --pg-log PATH)",
            log.display()
        );
        return;
    };
    let set = |on: bool| {
        let sql = if on {
            "ALTER SYSTEM SET log_statement = 'all'"
        } else {
            "ALTER SYSTEM RESET log_statement"
        };
        let client = &client;
        async move {
            client.batch_execute(sql).await.unwrap();
            client
                .batch_execute("SELECT pg_reload_conf()")
                .await
                .unwrap();
            // Backends read the new setting between statements.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    };
    let ours = |text: &str| {
        (
            metric(text, "fieldline_db_statements_total"),
            metric(text, "fieldline_db_round_trips_total"),
        )
    };
    let mut ours0 = (0.0, 0.0);
    for u in urls {
        let (s, r) = ours(&metrics_text(u).await);
        ours0 = (ours0.0 + s, ours0.1 + r);
    }
    set(true).await;
    let start = start.max(std::fs::metadata(&log).map(|m| m.len()).unwrap_or(start));
    const SYNCS: usize = 20;
    let mine = first_jobs(phone, 1);
    for i in 0..SYNCS {
        phone
            .edit(
                &mine[0],
                user,
                &Edit::SpliceNotes {
                    pos: 0,
                    delete: 0,
                    insert: format!("记{i}"),
                },
            )
            .unwrap();
        field_core::sync::sync(phone, &SyncOptions::default(), &|_| {})
            .await
            .unwrap();
    }
    let mut ours1 = (0.0, 0.0);
    for u in urls {
        let (s, r) = ours(&metrics_text(u).await);
        ours1 = (ours1.0 + s, ours1.1 + r);
    }
    set(false).await;
    let text = std::fs::read(&log).unwrap_or_default();
    let text = String::from_utf8_lossy(&text[(start as usize).min(text.len())..]);
    let logged = text
        .lines()
        .filter(|l| l.contains("LOG:  statement: ") || l.contains("LOG:  execute "))
        .filter(|l| !l.contains("log_statement") && !l.contains("pg_reload_conf"))
        .count();
    println!(
        "[{label}] one job per pushing sync, {SYNCS} syncs: {:.1} statements per sync in PostgreSQL's log; the server counted {:.1} statements in {:.1} round trips per sync",
        logged as f64 / SYNCS as f64,
        (ours1.0 - ours0.0) / SYNCS as f64,
        (ours1.1 - ours0.1) / SYNCS as f64,
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
