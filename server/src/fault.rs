//! Crash points for tests. A build with the `fault-injection` feature (only the test binary
//! `fieldline-under-test` enables it) reads `FIELDLINE_CRASH_AT=<point>:<n>` and kills its own
//! process with SIGKILL the n-th time it passes `<point>`: the same as pulling the plug, at an
//! exact place. Without the feature every call compiles to nothing.
//!
//! | point | where |
//! |---|---|
//! | `sync_before_commit` | the sync transaction has written everything but not committed |
//! | `sync_after_commit` | committed, the response not sent |
//! | `upload_before_blob` | the last byte of an upload is on disk, the blob not yet moved into the store |
//! | `upload_after_blob` | the blob is in the store, not yet recorded in the database |

/// Passes a named crash point.
#[inline]
pub fn point(name: &'static str) {
    #[cfg(feature = "fault-injection")]
    imp::point(name);
    #[cfg(not(feature = "fault-injection"))]
    let _ = name;
}

#[cfg(feature = "fault-injection")]
mod imp {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};

    fn target() -> &'static Option<(String, u64)> {
        static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
        TARGET.get_or_init(|| {
            let spec = std::env::var("FIELDLINE_CRASH_AT").ok()?;
            let (name, n) = spec.split_once(':').unwrap_or((spec.as_str(), "1"));
            Some((name.to_string(), n.parse().unwrap_or(1)))
        })
    }

    pub fn point(name: &'static str) {
        let Some((wanted, n)) = target() else {
            return;
        };
        if wanted != name {
            return;
        }
        static HITS: OnceLock<Mutex<HashMap<&'static str, u64>>> = OnceLock::new();
        let mut hits = HITS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let count = hits.entry(name).or_insert(0);
        *count += 1;
        if *count == *n {
            eprintln!("fault injection: killing the process at {name} (hit {count})");
            // SAFETY: sends a signal to this very process; nothing else is touched.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
        }
    }
}
