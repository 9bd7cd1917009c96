//! Day one for an operator (issue 22), against the real binary: its processes, files, exit codes
//! and messages. A wrong step fails loudly and changes nothing; a clean stop leaves a whole
//! database file; a restore without the signing key does not start; a lost phone stays out.

use field_core::JobKind;
use fieldline_tests::*;
use fieldline_tests::{command_failed as failed, command_ok as ok};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_fieldline-under-test");

/// Runs `fieldline --data-dir DIR ARGS` with `stdin`; its output.
fn run(dir: &Path, args: &[&str], stdin: &str) -> Output {
    run_with_stdin(
        Command::new(BIN)
            .arg("--data-dir")
            .arg(dir)
            .args(args)
            .env_remove("FIELDLINE_DATABASE_URL"),
        stdin,
    )
}

/// Adds `user` to `unit`, creating the unit first when the installation lacks it.
fn add_user(dir: &Path, user: &str, role: &str, unit: &str) {
    let units = ok(&run(dir, &["unit", "list"], ""));
    if !units
        .lines()
        .any(|l| l.split_whitespace().next() == Some(unit))
    {
        ok(&run(
            dir,
            &["unit", "add", "--unit", unit, "--name", unit],
            "",
        ));
    }
    ok(&run(
        dir,
        &user_add_args(user, role, unit),
        &format!("{PASSWORD}\n"),
    ));
}

/// `fieldline serve` on `dir`: the process and its URL.
fn serve(dir: &Path) -> (std::process::Child, String) {
    spawn_listening(&mut serve_command(dir, "127.0.0.1:0"))
}

/// The command `fieldline --data-dir DIR serve --listen LISTEN` on SQLite.
fn serve_command(dir: &Path, listen: &str) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", listen])
        .env_remove("FIELDLINE_DATABASE_URL");
    c
}

/// A new installation with a customer manager `cm-li` of the sample contract's unit, served,
/// and their phone holding the sample contract's job: (folder's owner, data folder, server,
/// URL, phone, job).
async fn installation_with_a_contract_job() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    std::process::Child,
    String,
    Phone,
    field_core::Job,
) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    ok(&run(&data, &["init"], ""));
    // The sample contract's job belongs to the unit `demo`.
    add_user(&data, "cm-li", "customer_manager", "demo");
    let (server, url) = serve(&data);
    let phone = Phone::login_at(&url, "cm-li").await;
    let job = phone.create_sample_contract_job();
    (tmp, data, server, url, phone, job)
}

/// Stops a server the way a service manager does (SIGTERM) and waits for it.
fn terminate(child: std::process::Child) {
    stop_cleanly(child);
}

/// A new installation with `users` (name, role) of unit zhuxian, served, and a phone of the
/// first user with one job: (folder's owner, data folder, server, URL, phone, job id).
async fn installation_with_a_job(
    users: &[(&str, &str)],
) -> (
    tempfile::TempDir,
    std::path::PathBuf,
    std::process::Child,
    String,
    Phone,
    String,
) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    ok(&run(&data, &["init"], ""));
    for (user, role) in users {
        add_user(&data, user, role, "zhuxian");
    }
    let (server, url) = serve(&data);
    let me = users[0].0;
    let phone = Phone::login_at(&url, me).await;
    let job = phone
        .store
        .create_job(
            me,
            &new_job(JobKind::LowVoltageResidential, "zhuxian", "周建国"),
        )
        .unwrap();
    (tmp, data, server, url, phone, job.id)
}

#[test]
fn commands_need_an_existing_database_and_change_nothing_when_pointed_elsewhere() {
    let tmp = tempfile::tempdir().unwrap();
    let typo = tmp.path().join("typo");
    for args in [
        vec!["audit"],
        vec!["policy", "list"],
        vec!["device", "revoke", "--device-id", "x"],
    ] {
        let err = failed(&run(&typo, &args, ""));
        assert!(
            err.contains("no Fieldline database") && err.contains(&typo.display().to_string()),
            "{args:?}: {err}"
        );
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }
    let err = failed(&run(
        &typo,
        &[
            "user",
            "add",
            "--username",
            "u",
            "--role",
            "admin",
            "--unit",
            "zhuxian",
            "--display-name",
            "u",
        ],
        &format!("{PASSWORD}\n"),
    ));
    assert!(err.contains("fieldline init"), "{err}");
    assert!(!typo.exists());
    // A URL that would name a relative path is refused, not created.
    let out = Command::new(BIN)
        .args(["--database-url", "sqlite://tmp/x", "audit"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let err = failed(&out);
    assert!(err.contains("absolute path"), "{err}");
    assert!(!tmp.path().join("tmp").exists());

    // init makes a private installation; then the same commands work.
    let data = tmp.path().join("data");
    let said = ok(&run(&data, &["init"], ""));
    assert!(said.contains("installation ready"), "{said}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
    ok(&run(&data, &["audit"], ""));
    // Unknown ids are errors.
    let err = failed(&run(
        &data,
        &["device", "revoke", "--device-id", "no-such-phone"],
        "",
    ));
    assert!(err.contains("there is no device no-such-phone"), "{err}");
    // Read-only commands never upgrade: an older database is refused as it is.
    let db = data.join("fieldline.db");
    let older = {
        let c = rusqlite_version(&db, None);
        rusqlite_version(&db, Some(c - 1))
    };
    let err = failed(&run(&data, &["audit"], ""));
    assert!(err.contains("read-only commands never upgrade"), "{err}");
    assert_eq!(rusqlite_version(&db, None), older, "left as it was");
}

/// The database's `user_version`, after setting it to `set` when given.
fn rusqlite_version(db: &Path, set: Option<i64>) -> i64 {
    let out = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); {} print(c.execute('PRAGMA user_version').fetchone()[0])",
            set.map(|v| format!("c.execute('PRAGMA user_version = {v}'); c.commit();"))
                .unwrap_or_default()
        ))
        .arg(db)
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a version")
}

#[test]
fn misspelt_settings_stop_the_start_and_name_the_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("fieldline.toml");
    std::fs::write(&file, "listn = \"127.0.0.1:0\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["--config", file.to_str().unwrap(), "--data-dir"])
        .arg(tmp.path().join("d"))
        .arg("serve")
        .env_remove("FIELDLINE_DATABASE_URL")
        .output()
        .unwrap();
    let err = failed(&out);
    assert!(
        err.contains("unknown setting listn") && err.contains("did you mean listen?"),
        "{err}"
    );
    assert!(!tmp.path().join("d").exists(), "nothing created");
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(tmp.path().join("d"))
        .arg("serve")
        .env_remove("FIELDLINE_DATABASE_URL")
        .env("FIELDLINE_S3__BUCKETT", "photos")
        .output()
        .unwrap();
    let err = failed(&out);
    assert!(
        err.contains("FIELDLINE_S3__BUCKETT") && err.contains("FIELDLINE_S3__BUCKET?"),
        "{err}"
    );
}

#[test]
fn processes_starting_together_migrate_once() {
    for round in 0..5 {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let start = || {
            Command::new(BIN)
                .arg("--data-dir")
                .arg(&data)
                .arg("init")
                .env_remove("FIELDLINE_DATABASE_URL")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (start(), start());
        for child in [a, b] {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn a_piped_command_ends_quietly_when_its_reader_goes() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    ok(&run(&data, &["init"], ""));
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{BIN}' --data-dir '{}' policy list --json | head -c 1 >/dev/null",
            data.display()
        ))
        .env_remove("FIELDLINE_DATABASE_URL")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_leaves_a_whole_database_and_a_lost_phone_stays_out() {
    let (tmp, data, server, url, phone, job) =
        installation_with_a_job(&[("office1", "office_staff")]).await;
    phone.sync().await;
    // A lost phone: revoked from the command line, it stays out even with the password.
    let device = phone.store.device().device_id;
    ok(&run(
        &data,
        &["device", "revoke", "--device-id", &device],
        "",
    ));
    assert!(phone.try_sync().await.is_err(), "its token ended");
    let again = field_core::sync::login(&phone.store, &url, "office1", PASSWORD).await;
    assert!(
        again
            .as_ref()
            .is_err_and(|e| e.to_string().contains("revoked")),
        "{again:?}"
    );
    ok(&run(
        &data,
        &["device", "restore", "--device-id", &device],
        "",
    ));
    field_core::sync::login(&phone.store, &url, "office1", PASSWORD)
        .await
        .expect("let back, it logs in");
    phone.sync().await;
    terminate(server);
    // Everything is in fieldline.db itself: a copy of that file alone is the whole database.
    let wal = data.join("fieldline.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "the WAL was checkpointed"
    );
    let copy = tmp.path().join("copy");
    std::fs::create_dir(&copy).unwrap();
    std::fs::copy(data.join("fieldline.db"), copy.join("fieldline.db")).unwrap();
    let audit = ok(&run(&copy, &["audit", "--job", &job], ""));
    assert!(audit.contains(&job), "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_without_the_signing_key_does_not_start() {
    let (_tmp, data, server, _url, phone, job) = installation_with_a_contract_job().await;
    phone.sign_sample_contract(&job.id, "contract-1");
    phone.sync().await;
    phone.sync().await;
    terminate(server);
    let key = data.join("server-signing.key");
    let original = std::fs::read(&key).unwrap();
    let start = || serve_command(&data, "127.0.0.1:0").output().unwrap();
    // The key left behind in a restore: no start, no new key, the file to restore named.
    std::fs::remove_file(&key).unwrap();
    let err = failed(&start());
    assert!(
        err.contains("server-signing.key") && err.contains("restore"),
        "{err}"
    );
    assert!(!key.exists(), "no new key was made");
    // Another key in its place: refused as well.
    std::fs::write(&key, [7u8; 32]).unwrap();
    let err = failed(&start());
    assert!(err.contains("countersigned"), "{err}");
    // The right key back: it starts, and the contract verifies.
    std::fs::write(&key, &original).unwrap();
    let (server, _) = serve(&data);
    terminate(server);
    ok(&run(&data, &["contract", "verify", "--job", &job.id], ""));
}

#[test]
fn the_audit_shows_recent_events_first_and_what_was_done_to_whom() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let as_operator = |args: &[&str], stdin: &str| {
        run_with_stdin(
            Command::new(BIN)
                .arg("--data-dir")
                .arg(&data)
                .args(args)
                .env_remove("FIELDLINE_DATABASE_URL")
                .env("USER", "zhang-ops"),
            stdin,
        )
    };
    ok(&as_operator(&["init"], ""));
    ok(&as_operator(
        &["unit", "add", "--unit", "zhuxian", "--name", "朱仙供电所"],
        "",
    ));
    for user in ["office1", "cm-li", "cm-zhao"] {
        ok(&as_operator(
            &user_add_args(user, "customer_manager", "zhuxian"),
            &format!("{PASSWORD}\n"),
        ));
    }
    let entries = |args: &[&str]| -> (Vec<serde_json::Value>, String) {
        let mut all = vec!["audit", "--json"];
        all.extend_from_slice(args);
        let out = as_operator(&all, "");
        let json = ok(&out);
        (
            serde_json::from_str(&json).unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Newest first, with a notice of what the limit left out.
    let (newest, notice) = entries(&["--limit", "1"]);
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0]["detail"]["user"], "cm-zhao", "{newest:?}");
    assert!(notice.contains("3 more older entries"), "{notice}");
    let (oldest, _) = entries(&["--limit", "2", "--oldest-first"]);
    assert_eq!(oldest[0]["kind"], "unit_added");
    assert_eq!(oldest[0]["username"], "cli:zhang-ops");
    assert_eq!(oldest[1]["detail"]["user"], "office1");
    // Done by the operator (not by the new user), found as done to the new user.
    assert_eq!(newest[0]["username"], "cli:zhang-ops");
    let (to_li, _) = entries(&["--subject", "cm-li"]);
    assert_eq!(to_li.len(), 1, "{to_li:?}");
    assert_eq!(to_li[0]["kind"], "user_added");
    let (by_ops, _) = entries(&["--user", "cli:zhang-ops"]);
    assert_eq!(by_ops.len(), 4, "a unit and three users");
    let (before_2000, _) = entries(&["--until", "2000-01-01"]);
    assert!(before_2000.is_empty());
    let err = failed(&as_operator(&["audit", "--limit", "0"], ""));
    assert!(err.contains("--limit must be 1 or more"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_photo_files_are_noticed_and_exports_refuse_to_be_partial() {
    let (_tmp, data, server, url, phone, job) =
        installation_with_a_job(&[("cm-li", "customer_manager"), ("office1", "office_staff")])
            .await;
    let photo = field_core::photo::sample::jpeg(640, 480, 5, &Default::default());
    phone
        .store
        .add_photo(
            &job,
            "cm-li",
            &photo,
            &field_core::store::PhotoInput {
                purpose: field_core::PhotoPurpose::Survey,
                caption: None,
                gps: None,
                checklist_group: None,
                author_name: None,
            },
            &field_core::photo::IngestOptions::default(),
        )
        .unwrap();
    phone.sync().await;
    let ready = || async { reqwest::get(format!("{url}/readyz")).await.unwrap() };
    assert_eq!(ready().await.status(), 200);
    ok(&run(&data, &["blobs", "check", "--full"], ""));
    let session = form_login(&url, "office1", PASSWORD).await;
    let archive = format!("/jobs/{}/archive.zip", job);
    assert_eq!(session_get(&url, &session, &archive).await.status(), 200);

    // The photo files are lost (a restore without blobs/).
    std::fs::remove_dir_all(data.join("blobs")).unwrap();
    let r = ready().await;
    assert_eq!(r.status(), 503);
    let why = r.text().await.unwrap();
    assert!(why.contains("newest photo files"), "{why}");
    let out = run(&data, &["blobs", "check"], "");
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    failed(&out);
    assert!(
        listed.contains("missing") && listed.contains(&job),
        "{listed}"
    );
    let refused = session_get(&url, &session, &archive).await;
    assert_eq!(refused.status(), 409);
    let page = refused.text().await.unwrap();
    assert!(page.contains("导出不完整"), "{page}");
    terminate(server);
    // A server started on it finds them in its periodic check (its first batch runs at start)
    // and says so: a warning naming the job, and the gauge.
    let (server, url, logs) = spawn_listening_logged(
        serve_command(&data, "127.0.0.1:0").env("FIELDLINE_LOG_FORMAT", "json"),
    );
    let mut gauge = String::new();
    for _ in 0..100 {
        let metrics = reqwest::get(format!("{url}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        gauge = metrics
            .lines()
            .find(|l| l.starts_with("fieldline_blobs_missing "))
            .unwrap_or_default()
            .to_string();
        if gauge != "fieldline_blobs_missing 0" && !gauge.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        gauge.starts_with("fieldline_blobs_missing ") && gauge != "fieldline_blobs_missing 0",
        "{gauge}"
    );
    // The warning was written before the gauge was set; its line reaches us on the log
    // reader's thread.
    let warned = |text: &str| {
        text.lines()
            .any(|l| l.contains("not in the blob store") && l.contains(&job))
    };
    for _ in 0..100 {
        if warned(&logs.text()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(warned(&logs.text()), "{}", logs.text());
    terminate(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_run_users_from_the_command_line() {
    let (_tmp, data, server, url, phone, _job) =
        installation_with_a_job(&[("cm-li", "customer_manager")]).await;
    phone.sync().await;
    let listed = ok(&run(&data, &["user", "list"], ""));
    assert!(
        listed.contains("cm-li") && listed.contains("customer_manager"),
        "{listed}"
    );
    // Disable ends the phone's token; enable revives none; a reset prints a new password.
    ok(&run(&data, &["user", "disable", "--username", "cm-li"], ""));
    assert!(phone.try_sync().await.is_err());
    assert!(ok(&run(&data, &["user", "list", "--json"], "")).contains("\"disabled\": true"));
    ok(&run(&data, &["user", "enable", "--username", "cm-li"], ""));
    assert!(phone.try_sync().await.is_err(), "enable revives no token");
    let said = ok(&run(&data, &["user", "reset", "--username", "cm-li"], ""));
    let password = said.rsplit(' ').next().unwrap().trim().to_string();
    assert_eq!(password.len(), 12, "{said}");
    field_core::sync::login(&phone.store, &url, "cm-li", &password)
        .await
        .expect("the new password logs in");
    phone.sync().await;
    ok(&run(
        &data,
        &[
            "user",
            "role",
            "--username",
            "cm-li",
            "--role",
            "project_manager",
            "--unit",
            "zhuxian",
        ],
        "",
    ));
    assert!(phone.try_sync().await.is_err(), "a new role ends the token");
    // Units are records: a user joins only one that exists (a typo never makes a unit).
    for args in [
        vec![
            "user",
            "add",
            "--username",
            "cm-wu",
            "--role",
            "customer_manager",
            "--unit",
            "zhuxain",
            "--display-name",
            "cm-wu",
        ],
        vec![
            "user",
            "role",
            "--username",
            "cm-li",
            "--role",
            "customer_manager",
            "--unit",
            "zhuxain",
        ],
    ] {
        let err = failed(&run(&data, &args, &format!("{PASSWORD}\n")));
        assert!(
            err.contains("unit zhuxain does not exist") && err.contains("fieldline unit add"),
            "{args:?}: {err}"
        );
    }
    assert!(!ok(&run(&data, &["user", "list"], "")).contains("cm-wu"));
    assert!(!ok(&run(&data, &["unit", "list"], "")).contains("zhuxain"));
    let err = failed(&run(
        &data,
        &["unit", "add", "--unit", "zhuxian", "--name", "again"],
        "",
    ));
    assert!(err.contains("unit zhuxian already exists"), "{err}");
    ok(&run(
        &data,
        &["unit", "add", "--unit", "xinzhuang", "--name", "新庄供电所"],
        "",
    ));
    assert!(ok(&run(&data, &["unit", "list"], "")).contains("新庄供电所"));
    let err = failed(&run(
        &data,
        &["user", "disable", "--username", "nobody"],
        "",
    ));
    assert!(err.contains("there is no user nobody"), "{err}");
    let audit = ok(&run(&data, &["audit", "--subject", "cm-li"], ""));
    for kind in [
        "user_disabled",
        "user_enabled",
        "password_reset",
        "user_changed",
        "credentials_ended",
    ] {
        assert!(audit.contains(kind), "{kind}: {audit}");
    }
    terminate(server);
}

#[test]
fn a_failed_start_leaves_nothing_behind_and_names_what_is_wrong() {
    let tmp = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    std::fs::write(tmp.path().join("short.key"), b"zz\n").unwrap();
    let key = tmp.path().join("short.key").display().to_string();
    for (name, args, env, says) in [
        (
            "port",
            vec!["serve", "--listen", port.as_str()],
            None,
            "choose another with --listen",
        ),
        (
            "blobs",
            vec!["serve", "--listen", "127.0.0.1:0"],
            Some(("FIELDLINE_BLOB_STORE", "s4")),
            "blob_store must be",
        ),
        (
            "key",
            vec!["serve", "--listen", "127.0.0.1:0"],
            Some(("FIELDLINE_SIGNING_KEY_FILE", key.as_str())),
            "short.key",
        ),
        (
            "demo",
            vec!["demo", "--listen", port.as_str()],
            None,
            "choose another with --listen",
        ),
    ] {
        let data = tmp.path().join(name);
        let mut cmd = Command::new(BIN);
        cmd.arg("--data-dir")
            .arg(&data)
            .args(&args)
            .env_remove("FIELDLINE_DATABASE_URL");
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let err = failed(&cmd.output().unwrap());
        assert!(err.contains(says), "{name}: {err}");
        assert!(!data.exists(), "{name}: {} was created", data.display());
    }
    // An unreachable database is named (never its password), with the cause.
    let out = Command::new(BIN)
        .args([
            "--database-url",
            "postgres://fieldline:secret@127.0.0.1:1/fieldline",
            "audit",
        ])
        .output()
        .unwrap();
    let err = failed(&out);
    assert!(
        err.contains("127.0.0.1:1/fieldline") && err.contains("refused") && !err.contains("secret"),
        "{err}"
    );
    drop(taken);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_keeps_earlier_contracts_valid_everywhere() {
    let (tmp, data, server, url, phone, job) = installation_with_a_contract_job().await;
    let listen = url.trim_start_matches("http://").to_string();
    let sign = |id: &str| phone.sign_sample_contract(&job.id, id);
    sign("contract-1");
    phone.sync().await;
    phone.sync().await;
    assert!(
        phone
            .store
            .verify_contract(&job.id, "contract-1")
            .unwrap()
            .is_valid()
    );
    terminate(server);
    let key = data.join("server-signing.key");
    let old_secret = std::fs::read(&key).unwrap();

    let said = ok(&run(&data, &["key", "rotate"], ""));
    assert!(said.contains("signing key rotated"), "{said}");
    let shown = ok(&run(&data, &["key", "show"], ""));
    assert!(shown.contains("retired"), "{shown}");
    assert_ne!(std::fs::read(&key).unwrap(), old_secret);
    assert!(!data.join("server-signing.key.new").exists());
    let audit = ok(&run(&data, &["audit", "--limit", "1"], ""));
    assert!(audit.contains("signing_key_rotated"), "{audit}");

    // Serving again: the receipt the old key signed still verifies (server, export, phone),
    // and new receipts are signed with the new key.
    let (server, _) = spawn_listening(&mut serve_command(&data, &listen));
    ok(&run(&data, &["contract", "verify", "--job", &job.id], ""));
    sign("contract-2");
    phone.sync().await;
    phone.sync().await;
    for c in ["contract-1", "contract-2"] {
        let v = phone.store.verify_contract(&job.id, c).unwrap();
        assert!(v.is_valid() && v.countersigned, "{c} on the phone: {v:?}");
    }
    terminate(server);
    ok(&run(&data, &["contract", "verify", "--job", &job.id], ""));
    let out = tmp.path().join("export");
    ok(&run(
        &data,
        &[
            "contract",
            "export",
            "--job",
            &job.id,
            "--out",
            out.to_str().unwrap(),
        ],
        "",
    ));
    for c in ["contract-1", "contract-2"] {
        let archive = out.join(c);
        ok(&run(
            &data,
            &["contract", "verify", "--archive", archive.to_str().unwrap()],
            "",
        ));
    }
    // The old key put back is refused: it no longer signs for this database.
    std::fs::write(&key, &old_secret).unwrap();
    let err = failed(&serve_command(&data, "127.0.0.1:0").output().unwrap());
    assert!(err.contains("countersigned"), "{err}");
}
