//! Helpers shared by the integration tests.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use field_core::job::{Application, Customer};
use field_core::{EditContext, JobKind, NewJob};

/// The key of the tests' stores (fixed, so a test can reopen its store).
pub fn common_key() -> field_core::StoreKey {
    field_core::StoreKey::new(&[42; 32]).unwrap()
}

/// A raw connection to an encrypted store, keyed (for tests that inspect the database).
pub fn keyed_connection(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "key", common_key().sqlcipher_key().as_str())
        .unwrap();
    conn
}

/// 09:00 China time on the given date.
pub fn at(date: &str) -> DateTime<Utc> {
    at_time(date, 9)
}

pub fn at_time(date: &str, hour: u32) -> DateTime<Utc> {
    let d: chrono::NaiveDate = date.parse().unwrap();
    let local = d.and_hms_opt(hour, 0, 0).unwrap();
    field_core::job::china_offset()
        .from_local_datetime(&local)
        .unwrap()
        .with_timezone(&Utc)
}

pub fn new_job(kind: JobKind, accepted: &str) -> NewJob {
    NewJob {
        id: None,
        job_no: None,
        kind,
        unit: "zhuxian".into(),
        accepted_at: at(accepted),
        customer: Customer {
            name: Some("邾县宏达五金厂".into()),
            contact_phone: Some("13800000000".into()),
            address: Some("邾县工业路 8 号".into()),
            ..Default::default()
        },
        application: Application::default(),
    }
}

pub fn ctx(actor: &str, device: &str, now: &str) -> EditContext {
    EditContext {
        actor: actor.into(),
        device: device.into(),
        now: at(now),
    }
}

/// Applies `edit` as `user` (its role, device actor `[n; 16]`, on `day`) on a copy of `base` and
/// runs the server's write check on what it added.
pub fn check_as(
    base: &mut field_core::JobDoc,
    user: &str,
    role: field_core::Role,
    n: u8,
    day: &str,
    edit: &field_core::Edit,
) -> Result<(), field_core::policy::Refusal> {
    use field_core::policy::{WritePolicy, Writer, check_changes};
    let actor = automerge::ActorId::from(vec![n; 16]);
    let before = base.heads();
    let before_job = base.job().unwrap();
    let mut doc = base.fork_as(actor.clone());
    let device = format!("dev-{user}");
    doc.apply(edit, &ctx(user, &device, day)).unwrap();
    let writer = Writer {
        username: user,
        role,
        unit: "zhuxian",
        device_id: &device,
        actor: &actor,
    };
    check_changes(
        &mut doc,
        &before,
        Some(&before_job),
        &writer,
        &WritePolicy::default(),
    )
    .map(|_| ())
}

/// The store in `dir` (created on first use), with its clock at 09:00 China time on `day`.
pub fn open_store(dir: &tempfile::TempDir, day: &str) -> field_core::Store {
    let day = day.to_string();
    field_core::Store::open(dir.path().join("field.db"), &common_key())
        .unwrap()
        .with_clock(move || at(&day))
}
