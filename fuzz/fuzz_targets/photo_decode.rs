//! Whole photo ingest of small images: every decoder (JPEG, PNG and the `image` crate's WebP,
//! GIF, BMP and TIFF) on untrusted bytes, under tight limits so each run stays fast. Any result
//! but a panic or a breach of the limits is fine.
#![no_main]
use chrono::{TimeZone, Utc};
use field_core::PhotoPurpose;
use field_core::photo::{IngestOptions, PhotoContext, PhotoLimits, ingest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = IngestOptions {
        limits: PhotoLimits {
            max_bytes: 1 << 20,
            max_pixels: 250_000,
            max_edge: 2_000,
        },
        watermark: false,
        display_long_edge: 64,
        thumbnail_long_edge: 16,
        ..Default::default()
    };
    let ctx = PhotoContext {
        job_no: "YK-FUZZ".into(),
        purpose: PhotoPurpose::Survey,
        caption: None,
        author: "fuzz".into(),
        author_name: None,
        address: None,
        gps: None,
        device_time: Utc.with_ymd_and_hms(2026, 11, 30, 2, 0, 0).unwrap(),
        checklist_group: None,
    };
    if let Ok(p) = ingest(data, &ctx, &options) {
        let (w, h) = (p.record.width.unwrap_or(0), p.record.height.unwrap_or(0));
        assert!(w * h <= 250_000, "{w}×{h} passed the limits");
        assert!(p.display.width.max(p.display.height) <= 64);
    }
});
