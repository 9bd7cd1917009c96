//! The restore drill (issue 22), against the real binary on the backend the suite runs on
//! (SQLite, or PostgreSQL with `FIELDLINE_TEST_POSTGRES`): back up while the server runs, lose
//! the installation, restore into a new one, and the phones sync on, the contracts verify and
//! the customer file is complete. A damaged backup is refused before anything is created.

use fieldline_tests::*;
use fieldline_tests::{command_failed as failed, command_ok as ok};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_fieldline-under-test");

/// One installation: its data folder and, on PostgreSQL, its database.
struct Installation {
    data: PathBuf,
    database: Option<String>,
}

impl Installation {
    fn new(data: PathBuf) -> Installation {
        Installation {
            data,
            database: test_database(),
        }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--data-dir").arg(&self.data);
        match &self.database {
            Some(url) => c.env("FIELDLINE_DATABASE_URL", url),
            None => c.env_remove("FIELDLINE_DATABASE_URL"),
        };
        c
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        run_with_stdin(self.command().args(args), stdin)
    }

    fn serve(&self, listen: &str) -> (Server, String) {
        let (child, url) = spawn_listening(self.command().args(["serve", "--listen", listen]));
        (Server(Some(child)), url)
    }
}

/// A running server, killed if the test fails before it stops it.
struct Server(Option<std::process::Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn terminate(mut server: Server) {
    stop_cleanly(server.0.take().unwrap());
}

fn photo_input() -> field_core::store::PhotoInput {
    field_core::store::PhotoInput {
        purpose: field_core::PhotoPurpose::Survey,
        caption: None,
        gps: None,
        checklist_group: None,
        author_name: None,
    }
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_lose_everything_restore_and_the_phones_sync_on() {
    let tmp = tempfile::tempdir().unwrap();
    let old = Installation::new(tmp.path().join("old"));
    ok(&old.run(&["init"], ""));
    ok(&old.run(
        &["unit", "add", "--unit", "demo", "--name", "演示供电所"],
        "",
    ));
    for (user, role) in [("cm-li", "customer_manager"), ("office1", "office_staff")] {
        ok(&old.run(&user_add_args(user, role, "demo"), &format!("{PASSWORD}\n")));
    }
    let (server, url) = old.serve("127.0.0.1:0");
    let listen = url.trim_start_matches("http://").to_string();
    let phone = Phone::login_at(&url, "cm-li").await;
    // A job with a photo and a contract the server countersigns.
    let job = phone.create_sample_contract_job();
    let photo = field_core::photo::sample::jpeg(640, 480, 5, &Default::default());
    phone
        .store
        .add_photo(
            &job.id,
            "cm-li",
            &photo,
            &photo_input(),
            &field_core::photo::IngestOptions::default(),
        )
        .unwrap();
    phone.sign_sample_contract(&job.id, "contract-1");
    phone.sync().await;
    phone.sync().await;

    // Backed up while the server runs; the folder is the backup's alone.
    let backup = tmp.path().join("backup");
    let said = ok(&old.run(&["backup", "--out", backup.to_str().unwrap()], ""));
    assert!(said.contains("backup written"), "{said}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["source"], backend());
    assert_eq!(manifest["blobs"]["mode"], "copied");
    assert!(
        manifest["blobs"]["count"].as_u64().unwrap() >= 2,
        "{manifest}"
    );
    let jobs = manifest["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "jobs")
        .unwrap();
    assert_eq!(jobs["rows"], 1);
    assert!(manifest["signing_key"]["public"].is_string());
    let said = ok(&run_with_stdin(
        Command::new(BIN).args(["backup", "verify", backup.to_str().unwrap()]),
        "",
    ));
    assert!(said.contains("the backup is whole"), "{said}");
    // A second backup into the same folder is refused.
    let err = failed(&old.run(&["backup", "--out", backup.to_str().unwrap()], ""));
    assert!(err.contains("is not empty"), "{err}");

    // Work done after the backup, still on the phone.
    phone
        .store
        .add_photo(
            &job.id,
            "cm-li",
            &field_core::photo::sample::jpeg(320, 240, 9, &Default::default()),
            &photo_input(),
            &field_core::photo::IngestOptions::default(),
        )
        .unwrap();
    phone.sync().await;

    // The machine is lost: the server, its folder and its database.
    terminate(server);
    std::fs::remove_dir_all(&old.data).unwrap();

    // A damaged backup restores nothing.
    let damaged = tmp.path().join("damaged");
    assert!(
        Command::new("cp")
            .arg("-a")
            .arg(&backup)
            .arg(&damaged)
            .status()
            .unwrap()
            .success()
    );
    let blob = files_under(&damaged)
        .into_iter()
        .find(|f| f.starts_with("blobs/"))
        .unwrap();
    let mut bytes = std::fs::read(damaged.join(&blob)).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(damaged.join(&blob), bytes).unwrap();
    let verify = run_with_stdin(
        Command::new(BIN).args(["backup", "verify", damaged.to_str().unwrap()]),
        "",
    );
    failed(&verify);
    assert!(
        String::from_utf8_lossy(&verify.stdout).contains("missing or damaged"),
        "{verify:?}"
    );
    let new = Installation::new(tmp.path().join("new"));
    let err = failed(&new.run(&["restore", "--from", damaged.to_str().unwrap()], ""));
    assert!(err.contains("nothing was restored"), "{err}");
    assert!(!new.data.exists(), "nothing was created");
    std::fs::remove_file(damaged.join("manifest.json")).unwrap();
    let err = failed(&new.run(&["restore", "--from", damaged.to_str().unwrap()], ""));
    assert!(err.contains("not a complete backup"), "{err}");

    // The restore: database, photo files and key.
    let said = ok(&new.run(&["restore", "--from", backup.to_str().unwrap()], ""));
    assert!(said.contains("restored"), "{said}");
    assert!(new.data.join("server-signing.key").exists());
    // Restoring twice is refused: the database is no longer empty.
    let err = failed(&new.run(&["restore", "--from", backup.to_str().unwrap()], ""));
    assert!(err.contains("empty"), "{err}");
    ok(&new.run(&["blobs", "check", "--full"], ""));
    let audit = ok(&new.run(&["audit", "--limit", "1"], ""));
    assert!(audit.contains("restored"), "{audit}");

    // The server starts on it where the old one was; the phone works on with its login, and
    // its next push finds the server lacking its base and sends what the restore lost
    // (automerge's sync protocol: docs/sync-protocol.md).
    let (server, url) = new.serve(&listen);
    assert_eq!(
        reqwest::get(format!("{url}/readyz"))
            .await
            .unwrap()
            .status(),
        200
    );
    phone
        .store
        .edit(
            &job.id,
            "cm-li",
            &field_core::Edit::SetNotes {
                text: "恢复后继续工作".into(),
            },
        )
        .unwrap();
    let on_phone = phone_change_hashes(&phone.store);
    let report = phone.sync().await;
    assert_eq!(report.fallback_jobs, 1, "{report:?}");
    // The photo uploaded after the backup was lost with the server; the server asks for its
    // files and the phone, still holding them, sends them again.
    assert_eq!(
        report.photos_requeued, 3,
        "thumbnail, display copy and original: {report:?}"
    );
    assert_eq!(
        report.photos.as_ref().unwrap().blobs_uploaded,
        3,
        "{report:?}"
    );
    phone.sync().await;
    assert!(phone.store.dirty_jobs().unwrap().is_empty());
    // Everything the phone made, the post-backup photo included, is on the server: another
    // user's phone receives it from there.
    let office = Phone::login_at(&url, "office1").await;
    office.sync().await;
    let on_server = hashes_in(&office.store.document_bytes(&job.id).unwrap());
    assert!(
        on_phone.is_subset(&on_server),
        "{} changes the phone made are not on the restored server",
        on_phone.difference(&on_server).count()
    );
    // The contract verifies with the restored key; the customer file is complete.
    ok(&new.run(&["contract", "verify", "--job", &job.id], ""));
    let session = form_login(&url, "office1", PASSWORD).await;
    let zip = session_get(&url, &session, &format!("/jobs/{}/archive.zip", job.id)).await;
    assert_eq!(zip.status(), 200);
    let zip = zip.bytes().await.unwrap();
    let archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
    let photos = archive
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .filter(|n| n.starts_with("photos/"))
        .count();
    assert!(
        photos >= 2,
        "both photos are in the customer file: {photos}"
    );
    terminate(server);
}
