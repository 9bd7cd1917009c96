//! Pushed automerge bytes as the server takes them: the bounded chunk check, then either a new
//! job (load, typed read, rights check as its creator) or changes on top of a real job (apply,
//! typed read, rights check as its customer manager).
#![no_main]
use automerge::ActorId;
use field_core::Role;
use field_core::job::{JobDoc, chunks};
use field_core::policy::{WritePolicy, Writer, check_changes};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// A real job: created by the office, assigned, with some work on it.
fn base() -> &'static Vec<u8> {
    static BASE: OnceLock<Vec<u8>> = OnceLock::new();
    BASE.get_or_init(|| {
        let bytes = include_bytes!("../seeds/automerge_job/job.automerge");
        bytes.to_vec()
    })
}

fuzz_target!(|data: &[u8]| {
    if data.is_empty() || chunks::check(&data[1..]).is_err() {
        return;
    }
    let (mode, bytes) = (data[0], &data[1..]);
    let policy = WritePolicy::default();
    let actor = ActorId::from(b"fuzz-device".as_slice());
    let writer = |role| Writer {
        username: "cm-li",
        role,
        unit: "zhuxian",
        device_id: "fuzz-device",
        actor: &actor,
    };
    if mode % 2 == 0 {
        if let Ok(mut doc) = JobDoc::load(bytes, ActorId::random()) {
            let _ = doc.job();
            let _ = check_changes(&mut doc, &[], None, &writer(Role::OfficeStaff), &policy);
        }
    } else if let Ok(mut doc) = JobDoc::load(base(), ActorId::random()) {
        let before = doc.heads();
        let before_job = doc.job().ok();
        if doc.load_incremental(bytes).is_ok() && doc.job().is_ok() {
            let _ = check_changes(
                &mut doc,
                &before,
                before_job.as_ref(),
                &writer(Role::CustomerManager),
                &policy,
            );
        }
    }
});
