//! `Range` headers of blob downloads against blobs of any length.
#![no_main]
use fieldline_server::range::{Wanted, wanted};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let len = u64::from_le_bytes(data[..8].try_into().unwrap());
    if let Ok(s) = std::str::from_utf8(&data[8..]) {
        if let Wanted::Part(r) = wanted(Some(s), len) {
            // A part is always inside the blob and never empty.
            assert!(r.start < r.end && r.end <= len, "{s:?} {len} {r:?}");
        }
    }
});
