//! The audit trail: every accepted change with who, role, device, the device's time, the server's
//! time and the paths it touched; security events; readable over HTTP by those who may see the
//! job and from the `fieldline audit` command.

use field_core::job::{ConstructionLog, Survey};
use field_core::{Edit, JobKind, Role};
use fieldline_server::store::AuditEntry;
use fieldline_tests::*;
use std::process::Command;

const UNIT: &str = "zhuxian";
const BIN: &str = env!("CARGO_BIN_EXE_fieldline-under-test");

async fn history(
    server: &TestServer,
    phone: &Phone,
    job: &str,
    query: &str,
) -> (u16, serde_json::Value) {
    let token = phone.store.sync_setting("token").unwrap().unwrap();
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/jobs/{job}/history{query}", server.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

fn cli_audit(server: &TestServer, args: &[&str]) -> Vec<AuditEntry> {
    let out = Command::new(BIN)
        .args(server.cli_args())
        .arg("audit")
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn who_changed_what_when_and_from_which_device() {
    let server = TestServer::start().await;
    for (u, r) in [
        ("office1", Role::OfficeStaff),
        ("cm-li", Role::CustomerManager),
        ("pm-wang", Role::ProjectManager),
        ("disp1", Role::Dispatcher),
        ("cm-zhao", Role::CustomerManager),
    ] {
        server.add_user(u, r, UNIT);
    }
    // A failed login is on the record.
    let probe = Phone::offline();
    assert!(
        field_core::sync::login(&probe.store, &server.url(), "cm-li", "not-the-password")
            .await
            .is_err()
    );
    let office = Phone::login(&server, "office1").await;
    let cm = Phone::login(&server, "cm-li").await;
    let pm = Phone::login(&server, "pm-wang").await;
    let disp = Phone::login(&server, "disp1").await;
    let zhao = Phone::login(&server, "cm-zhao").await;
    let job_id = accept(
        &office,
        JobKind::LowVoltageSmallMicro,
        UNIT,
        "审计客户",
        "cm-li",
        Some("pm-wang"),
    );
    let job = office.store.job(&job_id).unwrap();
    office.sync().await;
    cm.sync().await;
    pm.sync().await;
    cm.store
        .edit(
            &job.id,
            "cm-li",
            &Edit::UpdateSurvey(Survey {
                load_nature: Some("一般负荷".into()),
                ..Default::default()
            }),
        )
        .unwrap();
    pm.store
        .edit(
            &job.id,
            "pm-wang",
            &Edit::PutConstructionLog {
                id: "log-1".into(),
                log: ConstructionLog {
                    text: Some("开挖".into()),
                    ..Default::default()
                },
            },
        )
        .unwrap();
    cm.sync().await;
    pm.sync().await;
    // A project manager's phone with a job made before anyone signed in: refused (project
    // managers do not create jobs), and the refusal is recorded.
    let early = Phone::offline();
    let refused_job = early
        .store
        .create_job(
            "pm-wang",
            &new_job(JobKind::LowVoltageResidential, UNIT, "越权新建"),
        )
        .unwrap();
    let early = early.sign_in(&server, "pm-wang").await;
    let r = early.sync().await;
    assert_eq!(r.rejected[0].code, "forbidden", "{r:?}");

    // Over HTTP, for the office: every change, by whom, from which device, what it touched.
    let (status, h) = history(&server, &office, &job.id, "").await;
    assert_eq!(status, 200, "{h}");
    let entries: Vec<AuditEntry> = serde_json::from_value(h["entries"].clone()).unwrap();
    let changes: Vec<&AuditEntry> = entries.iter().filter(|e| e.kind == "change").collect();
    let by = |u: &str| {
        changes
            .iter()
            .filter(|e| e.username.as_deref() == Some(u))
            .count()
    };
    assert!(
        by("office1") >= 2 && by("cm-li") == 1 && by("pm-wang") == 1,
        "{changes:#?}"
    );
    let survey = changes
        .iter()
        .find(|e| e.username.as_deref() == Some("cm-li"))
        .unwrap();
    assert_eq!(survey.role.as_deref(), Some("customer_manager"));
    assert_eq!(
        survey.device_id.as_deref(),
        Some(cm.store.device().device_id.as_str())
    );
    assert_eq!(survey.sections, vec!["survey".to_string()]);
    assert!(
        survey.paths.contains(&"survey.load_nature".to_string()),
        "{survey:?}"
    );
    assert!(survey.change_hash.as_ref().is_some_and(|h| h.len() == 64));
    let device_time = survey.device_time.unwrap();
    assert!((survey.at - device_time).abs() < 120_000, "{survey:?}");
    let log = changes
        .iter()
        .find(|e| e.username.as_deref() == Some("pm-wang"))
        .unwrap();
    assert!(
        log.paths
            .iter()
            .any(|p| p.starts_with("project.logs.log-1"))
    );
    // The job's managers and the unit's dispatcher see it too; another manager does not.
    assert_eq!(history(&server, &cm, &job.id, "").await.0, 200);
    assert_eq!(history(&server, &disp, &job.id, "").await.0, 200);
    assert_eq!(history(&server, &zhao, &job.id, "").await.0, 404);
    assert_eq!(history(&server, &zhao, "no-such-job", "").await.0, 404);
    // Paged.
    let (_, first) = history(&server, &office, &job.id, "?limit=2").await;
    assert_eq!(first["entries"].as_array().unwrap().len(), 2);
    let after = first["next_after"].as_i64().unwrap();
    let (_, second) = history(
        &server,
        &office,
        &job.id,
        &format!("?after={after}&limit=500"),
    )
    .await;
    assert_eq!(
        2 + second["entries"].as_array().unwrap().len(),
        entries.len()
    );

    // The `fieldline audit` command shows the same, and the security events.
    let job_trail = cli_audit(&server, &["--job", &job.id]);
    assert_eq!(job_trail.len(), entries.len());
    let li = cli_audit(&server, &["--user", "cm-li"]);
    let kinds: Vec<&str> = li.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.contains(&"login_failed") && kinds.contains(&"login") && kinds.contains(&"change"),
        "{kinds:?}"
    );
    let refusals = cli_audit(&server, &["--job", &refused_job.id]);
    assert_eq!(refusals.len(), 1);
    assert_eq!(refusals[0].kind, "push_refused");
    assert_eq!(refusals[0].detail["code"], "forbidden");
    assert!(cli_audit(&server, &["--since", "2999-01-01"]).is_empty());
    // The document download is on the record.
    let token = office.store.sync_setting("token").unwrap().unwrap();
    reqwest::Client::new()
        .get(format!("{}/api/v1/jobs/{}/automerge", server.url(), job.id))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let downloads: Vec<AuditEntry> = cli_audit(&server, &["--user", "office1"])
        .into_iter()
        .filter(|e| e.kind == "download")
        .collect();
    assert_eq!(downloads.len(), 1);
    // Readable text form, too.
    let out = Command::new(BIN)
        .args(server.cli_args())
        .args(["audit", "--job", &job.id])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("cm-li") && text.contains("survey"), "{text}");
}
