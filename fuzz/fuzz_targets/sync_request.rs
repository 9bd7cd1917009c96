//! The sync body as the server decodes it (zstd + CBOR, bounded), and the response as a phone
//! decodes it.
#![no_main]
use field_core::sync::protocol::{self, SyncRequest, SyncResponse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = protocol::decode::<SyncRequest>(data, 4 << 20);
    let _ = protocol::decode::<SyncResponse>(data, 4 << 20);
});
