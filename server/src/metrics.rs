//! Operations metrics in Prometheus' text format (`GET /metrics`): requests per route, method and
//! status with a latency histogram, sync exchanges, pushed and refused jobs, photo bytes received,
//! time-limit recomputation and supervision escalations, and at scrape time the feed position and
//! the document cache. Counts only: nothing personal. Routes are the router's templates
//! (`/jobs/{id}`), never raw paths, so the series stay few.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets (seconds).
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Debug, Default, Clone)]
struct Route {
    count: u64,
    seconds: f64,
    /// Requests at or under each bucket's bound (cumulative when written).
    buckets: [u64; BUCKETS.len()],
}

/// The server's counters (one per process; a fleet's are summed by Prometheus).
#[derive(Debug, Default)]
pub struct Metrics {
    http: Mutex<BTreeMap<(String, String, u16), Route>>,
    sync_requests: AtomicU64,
    sync_jobs_acked: AtomicU64,
    sync_jobs_refused: AtomicU64,
    upload_bytes: AtomicU64,
    clock_runs: AtomicU64,
    clock_jobs: AtomicU64,
    clock_last_seconds_bits: AtomicU64,
    escalations: AtomicU64,
    blobs_checked: AtomicU64,
    blob_problems: AtomicU64,
}

fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

impl Metrics {
    /// One answered HTTP request.
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let secs = took.as_secs_f64();
        let mut http = self.http.lock().unwrap_or_else(|p| p.into_inner());
        let r = http
            .entry((route.to_string(), method.to_string(), status))
            .or_default();
        r.count += 1;
        r.seconds += secs;
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            r.buckets[i] += 1;
        }
    }

    /// One sync exchange: jobs acknowledged and refused.
    pub fn sync(&self, acked: usize, refused: usize) {
        add(&self.sync_requests, 1);
        add(&self.sync_jobs_acked, acked as u64);
        add(&self.sync_jobs_refused, refused as u64);
    }

    /// Photo bytes stored from an upload request.
    pub fn upload_bytes(&self, n: u64) {
        add(&self.upload_bytes, n);
    }

    /// A daily recomputation of the running clocks.
    pub fn clocks(&self, jobs: usize, took: Duration) {
        add(&self.clock_runs, 1);
        add(&self.clock_jobs, jobs as u64);
        self.clock_last_seconds_bits
            .store(took.as_secs_f64().to_bits(), Ordering::Relaxed);
    }

    /// Supervision orders escalated.
    pub fn escalated(&self, n: usize) {
        add(&self.escalations, n as u64);
    }

    /// The periodic photo-file check looked at `checked` files; `problems`: missing or damaged
    /// ones in its latest pass over the store.
    pub fn blob_check(&self, checked: u64, problems: u64) {
        add(&self.blobs_checked, checked);
        self.blob_problems.store(problems, Ordering::Relaxed);
    }

    /// The exposition text, with the gauges read at scrape time.
    pub fn render(
        &self,
        feed_position: i64,
        cached_documents: usize,
        store: crate::store::StoreStatus,
    ) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, v: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        {
            let http = self.http.lock().unwrap_or_else(|p| p.into_inner());
            let _ = writeln!(
                out,
                "# HELP fieldline_http_requests_total HTTP requests answered, by route template, method and status.\n\
                 # TYPE fieldline_http_requests_total counter"
            );
            for ((route, method, status), r) in http.iter() {
                let _ = writeln!(
                    out,
                    "fieldline_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {}",
                    escape(route),
                    r.count
                );
            }
            let _ = writeln!(
                out,
                "# HELP fieldline_http_request_duration_seconds Time to answer, by route template and method.\n\
                 # TYPE fieldline_http_request_duration_seconds histogram"
            );
            let mut by_route: BTreeMap<(&str, &str), Route> = BTreeMap::new();
            for ((route, method, _), r) in http.iter() {
                let t = by_route
                    .entry((route.as_str(), method.as_str()))
                    .or_default();
                t.count += r.count;
                t.seconds += r.seconds;
                for (a, b) in t.buckets.iter_mut().zip(r.buckets.iter()) {
                    *a += b;
                }
            }
            for ((route, method), r) in &by_route {
                let labels = format!("route=\"{}\",method=\"{method}\"", escape(route));
                let mut cumulative = 0;
                for (bound, n) in BUCKETS.iter().zip(r.buckets.iter()) {
                    cumulative += n;
                    let _ = writeln!(
                        out,
                        "fieldline_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                    );
                }
                let _ = writeln!(
                    out,
                    "fieldline_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
                     fieldline_http_request_duration_seconds_sum{{{labels}}} {}\n\
                     fieldline_http_request_duration_seconds_count{{{labels}}} {}",
                    r.count, r.seconds, r.count
                );
            }
        }
        counter(
            &mut out,
            "fieldline_sync_requests_total",
            "Sync exchanges handled.",
            get(&self.sync_requests),
        );
        counter(
            &mut out,
            "fieldline_sync_jobs_acked_total",
            "Pushed jobs acknowledged.",
            get(&self.sync_jobs_acked),
        );
        counter(
            &mut out,
            "fieldline_sync_jobs_refused_total",
            "Pushed jobs refused (write rights, bad bytes, scope).",
            get(&self.sync_jobs_refused),
        );
        counter(
            &mut out,
            "fieldline_upload_bytes_total",
            "Photo bytes received by tus uploads.",
            get(&self.upload_bytes),
        );
        counter(
            &mut out,
            "fieldline_clock_recomputations_total",
            "Daily recomputations of the running time-limit clocks.",
            get(&self.clock_runs),
        );
        counter(
            &mut out,
            "fieldline_clock_jobs_total",
            "Jobs looked at by those recomputations.",
            get(&self.clock_jobs),
        );
        gauge(
            &mut out,
            "fieldline_clock_last_run_seconds",
            "How long the last recomputation took.",
            f64::from_bits(get(&self.clock_last_seconds_bits)).to_string(),
        );
        counter(
            &mut out,
            "fieldline_supervision_escalations_total",
            "Supervision orders escalated to a unit's leaders.",
            get(&self.escalations),
        );
        counter(
            &mut out,
            "fieldline_blobs_checked_total",
            "Photo files the periodic check found in the blob store at their size (or not).",
            get(&self.blobs_checked),
        );
        gauge(
            &mut out,
            "fieldline_blobs_missing",
            "Photo files the database records that the periodic check found missing or at a wrong size in its latest pass (fieldline blobs check lists them with their jobs).",
            get(&self.blob_problems).to_string(),
        );
        gauge(
            &mut out,
            "fieldline_feed_position",
            "The newest change's feed position (phones' cursors approach it).",
            feed_position.to_string(),
        );
        gauge(
            &mut out,
            "fieldline_document_cache_entries",
            "Job documents held in memory.",
            cached_documents.to_string(),
        );
        gauge(
            &mut out,
            "fieldline_db_connections",
            "Database connections open on this node.",
            store.connections.to_string(),
        );
        gauge(
            &mut out,
            "fieldline_db_connections_idle",
            "Open database connections not in use.",
            store.idle.to_string(),
        );
        gauge(
            &mut out,
            "fieldline_db_connections_waiting",
            "Requests waiting for a database connection.",
            store.waiting.to_string(),
        );
        counter(
            &mut out,
            "fieldline_db_writes_total",
            "Write transactions ended on this node.",
            store.writes,
        );
        let _ = writeln!(
            out,
            "# HELP fieldline_db_writer_seconds_total Time this node's write transactions held the writer (one at a time in a cluster).\n\
             # TYPE fieldline_db_writer_seconds_total counter\nfieldline_db_writer_seconds_total {}",
            store.write_nanos as f64 / 1e9
        );
        counter(
            &mut out,
            "fieldline_db_statements_total",
            "Statements sent to the database server (PostgreSQL; 0 on SQLite).",
            store.statements,
        );
        counter(
            &mut out,
            "fieldline_db_round_trips_total",
            "Round trips to the database server (PostgreSQL; 0 on SQLite).",
            store.round_trips,
        );
        histogram(
            &mut out,
            "fieldline_db_writer_hold_seconds",
            "How long each write transaction held the cluster's writer (administration; SQLite: every write).",
            &store.write_buckets,
            store.write_nanos,
            store.writes,
        );
        histogram(
            &mut out,
            "fieldline_serialized_section_seconds",
            "How long each commit that added to the feed spent in a section serialized across the installation (SQLite: its write transaction, without the flush to disk; PostgreSQL has none).",
            &store.serial_buckets,
            store.serial_nanos,
            store.serial_commits,
        );
        histogram(
            &mut out,
            "fieldline_job_lock_seconds",
            "How long each commit that added to the feed held its jobs' locks, which only writes of the same jobs wait for (PostgreSQL: row locks; SQLite: the writer).",
            &store.job_lock_buckets,
            store.job_lock_nanos,
            store.job_lock_commits,
        );
        histogram(
            &mut out,
            "fieldline_db_flush_seconds",
            "SQLite's flushes of its write-ahead log to disk, each covering every commit written before it began (group commit; outside the writer). PostgreSQL: none (its own).",
            &store.flush_buckets,
            store.flush_nanos,
            store.flushes,
        );
        out
    }
}

/// A histogram of held times: cumulative buckets over [`crate::store::WRITER_BUCKETS`], the sum
/// and the count.
fn histogram(out: &mut String, name: &str, help: &str, buckets: &[u64], nanos: u64, count: u64) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    let bounds = crate::store::WRITER_BUCKETS.iter().map(f64::to_string);
    for (le, n) in bounds
        .chain(std::iter::once("+Inf".to_string()))
        .zip(buckets)
    {
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "{name}_sum {}\n{name}_count {count}",
        nanos as f64 / 1e9
    );
}

/// A label value as the text format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_histograms_render_in_the_text_format() {
        let m = Metrics::default();
        m.request("/jobs/{id}", "GET", 200, Duration::from_millis(3));
        m.request("/jobs/{id}", "GET", 404, Duration::from_millis(40));
        m.request("/jobs/{id}", "GET", 200, Duration::from_secs(20));
        m.sync(3, 1);
        let text = m.render(42, 7, crate::store::StoreStatus::default());
        for want in [
            "fieldline_http_requests_total{route=\"/jobs/{id}\",method=\"GET\",status=\"200\"} 2",
            "fieldline_http_requests_total{route=\"/jobs/{id}\",method=\"GET\",status=\"404\"} 1",
            "fieldline_http_request_duration_seconds_bucket{route=\"/jobs/{id}\",method=\"GET\",le=\"0.005\"} 1",
            "fieldline_http_request_duration_seconds_bucket{route=\"/jobs/{id}\",method=\"GET\",le=\"0.05\"} 2",
            "fieldline_http_request_duration_seconds_bucket{route=\"/jobs/{id}\",method=\"GET\",le=\"+Inf\"} 3",
            "fieldline_http_request_duration_seconds_count{route=\"/jobs/{id}\",method=\"GET\"} 3",
            "fieldline_sync_jobs_acked_total 3",
            "fieldline_sync_jobs_refused_total 1",
            "fieldline_feed_position 42",
            "fieldline_document_cache_entries 7",
        ] {
            assert!(text.contains(want), "{want}\n{text}");
        }
    }
}
