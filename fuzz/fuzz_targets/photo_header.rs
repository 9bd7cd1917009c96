//! Photo bytes as ingest first looks at them: format sniffing, the header's size (checked
//! against the pixel limits before any decoding) and the EXIF facts.
#![no_main]
use field_core::photo::{PhotoLimits, exif, inspect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = PhotoLimits::default();
    if let Ok((_, w, h)) = inspect(data, &limits) {
        assert!(u64::from(w) * u64::from(h) <= limits.max_pixels);
    }
    let _ = exif::read(data);
});
