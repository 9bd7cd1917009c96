//! Running a fleet: Prometheus metrics at `/metrics`, a request id on every answer (and in every
//! log line of the request, as JSON when asked), `/readyz` checking the database and the blob
//! store. Against the real server, and the real binary for the logs.

use field_core::{JobKind, Role};
use fieldline_tests::*;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_fieldline-under-test");

/// The value of a metric line (`name{labels} value`) in an exposition text.
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_count_what_the_server_did_and_requests_carry_an_id() {
    let server = TestServer::start().await;
    server.add_user("office1", Role::OfficeStaff, "zhuxian");
    let phone = Phone::login(&server, "office1").await;
    let job = phone
        .store
        .create_job(
            "office1",
            &new_job(JobKind::LowVoltageResidential, "zhuxian", "周建国"),
        )
        .unwrap();
    phone.sync().await;
    let http = reqwest::Client::new();

    let r = http
        .get(format!("{}/readyz", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ready");

    let r = http
        .get(format!("{}/metrics", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = r.text().await.unwrap();
    assert!(
        metric(&text, "fieldline_sync_requests_total").unwrap() >= 1.0,
        "{text}"
    );
    assert!(
        metric(&text, "fieldline_sync_jobs_acked_total").unwrap() >= 1.0,
        "{text}"
    );
    let route =
        "fieldline_http_requests_total{route=\"/api/v1/sync\",method=\"POST\",status=\"200\"}";
    assert!(metric(&text, route).unwrap() >= 1.0, "{text}");
    assert!(
        metric(&text, "fieldline_feed_position").unwrap() >= 1.0,
        "{text}"
    );
    // How long write transactions held the writer, as a histogram: every one counted once,
    // the buckets cumulative.
    let writes = metric(&text, "fieldline_db_writer_hold_seconds_count").unwrap();
    assert!(writes >= 1.0, "{text}");
    assert_eq!(
        metric(
            &text,
            "fieldline_db_writer_hold_seconds_bucket{le=\"+Inf\"}"
        ),
        Some(writes)
    );
    assert_eq!(metric(&text, "fieldline_db_writes_total"), Some(writes));
    let buckets: Vec<f64> = text
        .lines()
        .filter(|l| l.starts_with("fieldline_db_writer_hold_seconds_bucket"))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 14);
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    // Route templates, never raw paths: a job id never becomes a series.
    let _ = http
        .get(format!("{}/api/v1/jobs/{}", server.url(), job.id))
        .send()
        .await
        .unwrap();
    let text = http
        .get(format!("{}/metrics", server.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("route=\"/api/v1/jobs/{id}\""), "{text}");
    assert!(!text.contains(&job.id), "{text}");

    // Every answer carries a request id: the caller's when it is a plain token, else a new one.
    let r = http
        .get(format!("{}/healthz", server.url()))
        .header("x-request-id", "lb-7f3a")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "lb-7f3a");
    let r = http
        .get(format!("{}/healthz", server.url()))
        .header("x-request-id", "not a token: too long and with spaces")
        .send()
        .await
        .unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 32, "{id}");
}

#[tokio::test]
async fn json_logs_name_the_request_id() {
    let data = tempfile::tempdir().unwrap();
    let (child, url, logs) = spawn_listening_logged(
        Command::new(BIN)
            .arg("--data-dir")
            .arg(data.path())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("FIELDLINE_LOG_FORMAT", "json")
            .env_remove("FIELDLINE_LOG"),
    );
    let r = reqwest::Client::new()
        .get(format!("{url}/readyz?q=110101199001011234"))
        .header("x-request-id", "rid-json-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut child = child;
    let _ = child.kill();
    let _ = child.wait();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let logs = logs.text();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .unwrap_or_else(|e| panic!("every line on stderr is JSON ({e}): {l}"))
        })
        .collect();
    // At the default level, one line per request: its id, method, route template, status and
    // duration; never the query string.
    let answered: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|v| v["fields"]["message"] == "answered")
        .collect();
    assert!(
        answered.iter().any(|v| v["span"]["id"] == "rid-json-1"
            && v["span"]["route"] == "/readyz"
            && v["span"]["method"] == "GET"
            && v["fields"]["status"] == 200
            && v["fields"]["ms"].is_u64()),
        "{logs}"
    );
    assert!(
        lines.iter().any(|v| v["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("fieldline listening on http://"))),
        "the listening line is a log line: {logs}"
    );
    assert!(!logs.contains("110101199001011234"), "{logs}");
    assert!(
        !logs.contains('\u{1b}'),
        "no colour codes into a pipe: {logs}"
    );
}
