//! tus request headers as the server parses them: `Upload-Metadata` and `Upload-Checksum`.
#![no_main]
use fieldline_server::service::uploads::{parse_checksum, parse_metadata};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = parse_metadata(s);
        let _ = parse_checksum(s);
    }
});
