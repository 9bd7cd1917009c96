//! Shared helpers for the end-to-end tests: a real server on 127.0.0.1:0 with its own data
//! directory, users created through the server's own code, and real field-core stores.

pub mod browser;
pub mod proxy;
pub mod raw;
pub mod s3;

use chrono::{DateTime, TimeZone, Utc};
use field_core::job::{Application, Customer};
use field_core::sync::{SyncOptions, SyncReport};
use field_core::{JobKind, NewJob, Role, Store};
use fieldline_server::{Config, Running};
use std::path::PathBuf;

/// A fresh PostgreSQL database for one server under test when `FIELDLINE_TEST_POSTGRES` names a
/// cluster (`postgres://…/postgres`, as `scripts/pg.sh start` prints); `None`: SQLite.
pub fn test_database() -> Option<String> {
    let admin = std::env::var("FIELDLINE_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())?;
    let name = format!("fl_{}", uuid::Uuid::new_v4().simple());
    Some(
        fieldline_server::store::postgres::create_database(&admin, &name).expect("a test database"),
    )
}

/// The backend the tests run on: `postgres` or `sqlite`.
pub fn backend() -> &'static str {
    if std::env::var("FIELDLINE_TEST_POSTGRES").is_ok_and(|u| !u.is_empty()) {
        "postgres"
    } else {
        "sqlite"
    }
}

/// The hashes of the changes in automerge document bytes.
pub fn hashes_in(document: &[u8]) -> std::collections::BTreeSet<String> {
    automerge::AutoCommit::load(document)
        .expect("an automerge document")
        .get_changes(&[])
        .iter()
        .map(|c| c.hash().to_string())
        .collect()
}

/// Every change hash of every job on a phone.
pub fn phone_change_hashes(store: &Store) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for j in store
        .list_jobs(&field_core::store::JobFilter {
            limit: Some(500),
            ..Default::default()
        })
        .unwrap()
        .items
    {
        out.extend(hashes_in(&store.document_bytes(&j.job_id).unwrap()));
    }
    out
}

/// Every change hash of `jobs` as the server stores them.
pub fn stored_change_hashes<'a>(
    r: &dyn fieldline_server::store::ReadTx,
    jobs: impl IntoIterator<Item = &'a str>,
) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for job in jobs {
        out.extend(hashes_in(&r.job_bytes(job).unwrap().unwrap()));
    }
    out
}

/// Copies the files (not folders) of one directory into another.
pub fn copy_files(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn run_tool(tool: &str, args: &[&str]) {
    let out = std::process::Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} is needed (apt-get install postgresql-client): {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A server under test.
pub struct TestServer {
    pub running: Option<Running>,
    /// The address it listens on, kept across restarts.
    pub addr: std::net::SocketAddr,
    pub dir: tempfile::TempDir,
    pub config: Config,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// Starts a server whose configuration `tweak` adjusts (e.g. an S3 blob store).
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config {
            listen: "127.0.0.1:0".into(),
            data_dir: dir.path().join("server"),
            login_attempts_per_minute: 1_000,
            login_attempts_per_minute_per_address: 10_000,
            public_requests_per_minute_per_address: 10_000,
            // Tests read the public figures right after changing them.
            public_cache_seconds: 0,
            ..Config::default()
        };
        tweak(&mut config);
        if config.database_url.is_empty()
            && let Some(url) = test_database()
        {
            config.database_url = url;
        }
        let running = fieldline_server::start(&config)
            .await
            .expect("server starts");
        TestServer {
            addr: running.addr,
            running: Some(running),
            dir,
            config,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    /// Backs up a stopped server: the files of its data directory into `to`, and its
    /// PostgreSQL database (when it has one) as `to/database.dump` (pg_dump).
    pub fn backup(&self, to: &std::path::Path) {
        copy_files(&self.data_dir(), to);
        if !self.config.database_url.is_empty() {
            let dump = to.join("database.dump");
            run_tool(
                "pg_dump",
                &[
                    "-Fc",
                    "-f",
                    dump.to_str().unwrap(),
                    &self.config.database_url,
                ],
            );
        }
    }

    /// Restores what [`TestServer::backup`] kept (the server stopped): the data directory's
    /// files, and the database dropped, created again and filled from the dump.
    pub fn restore(&self, from: &std::path::Path) {
        let _ = std::fs::remove_dir_all(self.data_dir());
        copy_files(from, &self.data_dir());
        let _ = std::fs::remove_file(self.data_dir().join("database.dump"));
        if !self.config.database_url.is_empty() {
            let admin = std::env::var("FIELDLINE_TEST_POSTGRES").expect("the test cluster");
            let name = self.config.database_url.rsplit('/').next().unwrap();
            run_tool(
                "psql",
                &[
                    "-q",
                    &admin,
                    "-c",
                    &format!("DROP DATABASE {name} WITH (FORCE)"),
                ],
            );
            run_tool(
                "psql",
                &[
                    "-q",
                    &admin,
                    "-c",
                    &format!(
                        "CREATE DATABASE {name} TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"
                    ),
                ],
            );
            let dump = from.join("database.dump");
            run_tool(
                "pg_restore",
                &["-d", &self.config.database_url, dump.to_str().unwrap()],
            );
        }
    }

    /// The command line's global arguments that name this server's data: `--data-dir`, and
    /// `--database-url` when it runs on PostgreSQL.
    pub fn cli_args(&self) -> Vec<String> {
        let mut args = vec![
            "--data-dir".to_string(),
            self.config.data_dir.display().to_string(),
        ];
        if !self.config.database_url.is_empty() {
            args.push("--database-url".into());
            args.push(self.config.database_url.clone());
        }
        args
    }

    /// Stops the server (its data stays).
    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
    }

    /// Starts it again on the same port and data.
    pub async fn restart(&mut self) {
        self.stop().await;
        let mut config = self.config.clone();
        config.listen = self.addr.to_string();
        self.running = Some(
            fieldline_server::start(&config)
                .await
                .expect("server restarts"),
        );
    }

    /// The running server's services.
    pub fn env(&self) -> &std::sync::Arc<fieldline_server::Env> {
        &self.running.as_ref().expect("running").env
    }

    /// Counts of what the server stores.
    pub fn stats(&self) -> fieldline_server::store::Stats {
        self.env()
            .store
            .read()
            .expect("read")
            .stats()
            .expect("stats")
    }

    /// Rows in the server's change log (each distinct change once).
    pub async fn change_count(&self) -> i64 {
        self.stats().changes
    }

    /// The server's copy of a job.
    pub async fn job(&self, id: &str) -> field_core::Job {
        let id = id.to_string();
        self.env()
            .blocking(move |env| fieldline_server::service::jobs::read_job(env, &id))
            .await
            .expect("read job")
            .expect("job on server")
    }

    /// The audit trail (oldest first).
    pub fn audit(&self, job: Option<&str>) -> Vec<fieldline_server::store::AuditEntry> {
        fieldline_server::service::audit::query(
            self.env(),
            &fieldline_server::store::AuditQuery {
                job_id: job.map(str::to_string),
                limit: 100_000,
                ..Default::default()
            },
        )
        .expect("audit")
    }

    pub fn add_user(&self, username: &str, role: Role, unit: &str) {
        add_user_to(self.env(), username, role, unit);
    }
}

/// Adds a user with the test password through the server's own code.
pub fn add_user_to(env: &fieldline_server::Env, username: &str, role: Role, unit: &str) {
    add_users(&*env.store, &[(username, role)], unit);
}

/// Adds users of `unit` with the test password straight into a store (before any server runs
/// on it), in one transaction.
pub fn add_users(
    store: &dyn fieldline_server::store::ServerStore,
    users: &[(&str, Role)],
    unit: &str,
) {
    use fieldline_server::service::auth;
    let hash = auth::hash_password(PASSWORD).expect("hash");
    let mut tx = store.write().expect("write");
    if tx.unit_name(unit).expect("units").is_none() {
        fieldline_server::service::units::add(&mut *tx, unit, unit, "test").expect("unit added");
    }
    for (username, role) in users {
        auth::add_user(&mut *tx, username, &hash, *role, unit, username, "test")
            .expect("user added");
    }
    tx.commit().expect("commit");
}

/// The key of every test phone's store (fixed, so a test can reopen a phone's store).
pub fn phone_key() -> field_core::StoreKey {
    field_core::StoreKey::new(b"fieldline test phones: fixed key").expect("key")
}

/// The password of every test user.
pub const PASSWORD: &str = "password-123";

/// A phone: its own store in its own directory.
pub struct Phone {
    pub store: Store,
    pub user: String,
    _dir: tempfile::TempDir,
}

impl Phone {
    pub async fn login(server: &TestServer, user: &str) -> Phone {
        Self::login_at(&server.url(), user).await
    }

    /// A phone nobody has signed in on yet (its work is checked only when it syncs).
    pub fn offline() -> Phone {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path().join("phone.db"), &phone_key()).expect("store");
        Phone {
            store,
            user: String::new(),
            _dir: dir,
        }
    }

    /// Signs this phone in as `user`.
    pub async fn sign_in(mut self, server: &TestServer, user: &str) -> Phone {
        field_core::sync::login(&self.store, &server.url(), user, PASSWORD)
            .await
            .expect("login");
        self.user = user.to_string();
        self
    }

    /// Logs in through another address (e.g. a fault proxy).
    pub async fn login_at(url: &str, user: &str) -> Phone {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(dir.path().join("phone.db"), &phone_key()).expect("store");
        field_core::sync::login(&store, url, user, PASSWORD)
            .await
            .expect("login");
        Phone {
            store,
            user: user.to_string(),
            _dir: dir,
        }
    }

    pub async fn sync(&self) -> SyncReport {
        self.try_sync().await.expect("sync")
    }

    pub async fn try_sync(&self) -> Result<SyncReport, field_core::sync::SyncError> {
        field_core::sync::sync(&self.store, &fast_options(), &|_| {}).await
    }
}

impl Phone {
    /// Creates the sample contract's job (`field_core::contract::sample`, unit `demo`) as this
    /// phone's user.
    pub fn create_sample_contract_job(&self) -> field_core::Job {
        self.store
            .create_job(
                &self.user,
                &field_core::contract::sample::residential_job(
                    "YK-2026-000001",
                    "李春兰",
                    at("2026-11-02"),
                ),
            )
            .expect("the sample contract's job")
    }

    /// Signs the sample contract `contract_id` on `job_id`.
    pub fn sign_sample_contract(&self, job_id: &str, contract_id: &str) {
        self.store
            .sign_contract(
                job_id,
                &self.user,
                &field_core::contract::sample::sign_request(contract_id, vec![]),
            )
            .expect("signed");
    }
}

/// The stdout of a command that must have succeeded (its stderr in the failure otherwise).
pub fn command_ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The stderr of a command that must have failed.
pub fn command_failed(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "should fail: {out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

/// Stops a server process the way a service manager does (SIGTERM), waits for it and checks it
/// stopped cleanly.
pub fn stop_cleanly(mut child: std::process::Child) {
    // SAFETY: signalling a child process we started.
    unsafe {
        libc_kill(child.id() as i32, 15);
    }
    let status = child.wait().expect("the server process");
    assert!(status.success(), "a clean stop: {status:?}");
}

/// The arguments of `fieldline user add` for `user` of `role` in `unit` (its display name the
/// user name; the password goes to stdin).
pub fn user_add_args<'a>(user: &'a str, role: &'a str, unit: &'a str) -> [&'a str; 10] {
    [
        "user",
        "add",
        "--username",
        user,
        "--role",
        role,
        "--unit",
        unit,
        "--display-name",
        user,
    ]
}

/// The office (signed in on `office`) assigns the job's managers; `None` leaves one as it is.
pub fn assign(office: &Phone, job_id: &str, cm: Option<&str>, pm: Option<&str>) {
    office
        .store
        .edit(
            job_id,
            &office.user,
            &field_core::Edit::UpdateAssignment(field_core::job::Assignment {
                customer_manager: cm.map(str::to_string),
                project_manager: pm.map(str::to_string),
                ..Default::default()
            }),
        )
        .expect("assigned");
}

/// The office accepts a job and assigns its managers; returns its id.
pub fn accept(
    office: &Phone,
    kind: JobKind,
    unit: &str,
    customer: &str,
    cm: &str,
    pm: Option<&str>,
) -> String {
    let job = office
        .store
        .create_job(&office.user, &new_job(kind, unit, customer))
        .expect("job accepted");
    assign(office, &job.id, Some(cm), pm);
    job.id
}

/// Retries quickly (tests inject faults on purpose).
pub fn fast_options() -> SyncOptions {
    SyncOptions {
        attempts: 8,
        backoff: std::time::Duration::from_millis(20),
        timeout: std::time::Duration::from_secs(5),
        ..SyncOptions::default()
    }
}

/// 09:00 China time.
pub fn at(date: &str) -> DateTime<Utc> {
    let d: chrono::NaiveDate = date.parse().expect("date");
    field_core::job::china_offset()
        .from_local_datetime(&d.and_hms_opt(9, 0, 0).expect("time"))
        .unwrap()
        .with_timezone(&Utc)
}

pub fn new_job(kind: JobKind, unit: &str, customer: &str) -> NewJob {
    NewJob {
        id: None,
        job_no: None,
        kind,
        unit: unit.into(),
        accepted_at: at("2026-11-02"),
        customer: Customer {
            name: Some(customer.into()),
            ..Default::default()
        },
        application: Application::default(),
    }
}

/// The users of `fieldline demo` and their passwords.
pub struct DemoUsers(pub Vec<(String, Role, String)>);

impl DemoUsers {
    pub fn password(&self, user: &str) -> String {
        self.0
            .iter()
            .find(|u| u.0 == user)
            .map(|u| u.2.clone())
            .unwrap_or_else(|| panic!("no demo user {user}"))
    }
}

/// Seeds the demo data into `server` (on a blocking thread, as `fieldline demo` does).
pub async fn seed_demo(server: &TestServer) -> DemoUsers {
    let data_dir = server.data_dir();
    DemoUsers(
        server
            .env()
            .blocking(move |env| fieldline_server::service::demo::seed(env, &data_dir))
            .await
            .expect("demo seeded"),
    )
}

/// The `name=value` part of every `Set-Cookie` of a response.
fn cookies_set(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
        .collect()
}

/// The text of a PDF (`pdftotext -layout`), or `None` where poppler is not installed.
pub fn pdf_text(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("a.pdf");
    std::fs::write(&path, pdf).expect("pdf written");
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path.to_str().expect("utf-8 path"), "-"])
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// What a server process wrote on stderr so far (its logs), read on a thread of its own so the
/// pipe never fills.
#[derive(Clone, Default)]
pub struct Logs(std::sync::Arc<std::sync::Mutex<String>>);

impl Logs {
    pub fn text(&self) -> String {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Starts a `fieldline serve` command (the caller sets its binary, arguments and environment)
/// and returns it with the URL of its "listening" log line (on stderr, as every log line).
pub fn spawn_listening(cmd: &mut std::process::Command) -> (std::process::Child, String) {
    let (child, url, _) = spawn_listening_logged(cmd);
    (child, url)
}

/// As [`spawn_listening`], with the process's logs.
pub fn spawn_listening_logged(
    cmd: &mut std::process::Command,
) -> (std::process::Child, String, Logs) {
    use std::io::BufRead;
    // Its stdout goes nowhere (a server writes only logs, to stderr): a server left running by
    // a failed test must not hold the test runner's output open.
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start fieldline serve");
    let stderr = child.stderr.take().expect("stderr");
    let logs = Logs::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let kept = logs.clone();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(at) = line.find("listening on http://")
                && let Some(tx) = tx.take()
            {
                let url: String = line[at + "listening on ".len()..]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '"')
                    .collect();
                let _ = tx.send(url);
            }
            let mut all = kept.0.lock().unwrap_or_else(|p| p.into_inner());
            all.push_str(&line);
            all.push('\n');
        }
    });
    let url = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("no listening line; logs:\n{}", logs.text()));
    (child, url, logs)
}

/// `GET path` as the browser session `session` (its `fl_session=…` cookie), as a raw client.
pub async fn session_get(base: &str, session: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{base}{path}"))
        .header("cookie", session)
        .send()
        .await
        .expect("GET as a session")
}

/// `POST path` with a form as the browser session `session`, as a raw client.
pub async fn session_post(
    base: &str,
    session: &str,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("cookie", session)
        .form(form)
        .send()
        .await
        .expect("POST as a session")
}

/// The CSRF token of the forms on the page at `path`, for the browser session `session`.
pub async fn page_csrf(base: &str, session: &str, path: &str) -> String {
    let html = session_get(base, session, path)
        .await
        .text()
        .await
        .expect("page text");
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .map(|s| s[..64].to_string())
        .expect("a form with a CSRF token")
}

/// Logs in through the browser's login form, as a raw client (no redirects followed);
/// returns the session cookie `fl_session=…`.
pub async fn form_login(base: &str, user: &str, password: &str) -> String {
    let r = form_login_to(base, user, password, "/jobs").await;
    assert_eq!(r.status(), 303, "{user} logs in");
    cookies_set(&r)
        .into_iter()
        .find(|c| c.starts_with("fl_session="))
        .expect("a session cookie")
}

/// Submits the login form as a browser would (its CSRF cookie first) with `next`: the answer,
/// redirects not followed.
pub async fn form_login_to(
    base: &str,
    user: &str,
    password: &str,
    next: &str,
) -> reqwest::Response {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let page = http
        .get(format!("{base}/"))
        .send()
        .await
        .expect("login page");
    let login_cookie = cookies_set(&page)
        .into_iter()
        .next()
        .expect("the login form's CSRF cookie");
    let csrf = login_cookie
        .split_once('=')
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    http.post(format!("{base}/login"))
        .header("cookie", &login_cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", user),
            ("password", password),
            ("next", next),
        ])
        .send()
        .await
        .expect("login")
}

/// Runs `cmd` with `stdin` written to it: its whole output (status, stdout, stderr).
pub fn run_with_stdin(cmd: &mut std::process::Command, stdin: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the command");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("its output")
}
