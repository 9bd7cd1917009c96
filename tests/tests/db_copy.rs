//! `fieldline db copy`: an installation moves from SQLite to PostgreSQL (to another SQLite
//! database when no PostgreSQL cluster is given) and its phones carry on against the copy
//! without signing in again, losing or missing anything.

use field_core::{Edit, JobKind, Role};
use fieldline_server::Config;
use fieldline_tests::*;

async fn cli(args: &[&str]) -> i32 {
    let mut all = vec!["fieldline"];
    all.extend_from_slice(args);
    use clap::Parser;
    fieldline_server::cli::run(fieldline_server::cli::Cli::parse_from(all)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installation_moves_to_another_database_and_its_phones_carry_on() {
    let dir = tempfile::tempdir().unwrap();
    let source = format!("sqlite://{}", dir.path().join("old").display());
    let mut old = TestServer::start_with(|c| c.database_url = source.clone()).await;
    for (u, r) in [
        ("office1", Role::OfficeStaff),
        ("cm1", Role::CustomerManager),
    ] {
        old.add_user(u, r, "zhuxian");
    }
    let office = Phone::login(&old, "office1").await;
    let cm = Phone::login(&old, "cm1").await;
    let mut jobs = Vec::new();
    for name in ["迁移一号", "迁移二号", "迁移三号"] {
        let job = office
            .store
            .create_job(
                "office1",
                &new_job(JobKind::LowVoltageSmallMicro, "zhuxian", name),
            )
            .unwrap();
        assign(&office, &job.id, Some("cm1"), None);
        jobs.push(job.id);
    }
    office.sync().await;
    cm.sync().await;
    let before = old.stats();
    old.stop().await;

    // The copy, into a new PostgreSQL database (or SQLite file), checked table by table.
    let target =
        test_database().unwrap_or_else(|| format!("sqlite://{}", dir.path().join("new").display()));
    assert_eq!(
        cli(&["db", "copy", "--from", &source, "--to", &target]).await,
        0
    );
    // A second copy into the same database is refused: it is no longer empty.
    assert_eq!(
        cli(&["db", "copy", "--from", &source, "--to", &target]).await,
        1
    );
    // A source that does not exist is an error, not a new empty database.
    let missing = format!("sqlite://{}", dir.path().join("nothing").display());
    assert_eq!(
        cli(&["db", "copy", "--from", &missing, "--to", &target]).await,
        1
    );
    assert!(!dir.path().join("nothing").exists());

    // The new server: same data directory (blobs, signing key), the copied database.
    let config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: old.data_dir(),
        database_url: target.clone(),
        ..Config::default()
    };
    let new = fieldline_server::start(&config).await.unwrap();
    let after = new.env.store.read().unwrap().stats().unwrap();
    assert_eq!(after, before, "every row arrived");
    let url = format!("http://{}", new.addr);
    // The phones keep their logins and cursors: the manager writes, the office receives it
    // (its cursor points into the old feed, so new positions must continue after it).
    for phone in [&office, &cm] {
        phone.store.set_sync_setting("server", &url).unwrap();
    }
    cm.store
        .edit(
            &jobs[1],
            "cm1",
            &Edit::SetNotes {
                text: "迁移后的记录".into(),
            },
        )
        .unwrap();
    let report = cm.sync().await;
    assert!(report.rejected.is_empty(), "{report:?}");
    office.sync().await;
    assert_eq!(office.store.job(&jobs[1]).unwrap().notes, "迁移后的记录");
    let r = new.env.store.read().unwrap();
    assert_eq!(r.stats().unwrap().changes, before.changes + 1);
    for id in &jobs {
        assert_eq!(
            office.store.job(id).unwrap(),
            cm.store.job(id).unwrap(),
            "both phones agree on {id}"
        );
    }
    drop(r);
    new.stop().await;
}
