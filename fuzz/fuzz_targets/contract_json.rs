//! Contract manifests and receipts as the server parses them (from pushed contracts and from
//! exported archives).
#![no_main]
use field_core::contract::{Manifest, Receipt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(m) = Manifest::parse(s) {
            // Whatever parses names only safe ids and hashes.
            for p in &m.photos {
                assert!(field_core::validate::is_sha256_hex(&p.sha256));
                assert!(field_core::validate::check_id("id", &p.photo_id).is_ok());
            }
        }
        let _ = Receipt::parse(s);
    }
});
