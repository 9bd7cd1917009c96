//! Photo ingest: formats, EXIF, orientation, watermark, limits and bad input.
#![cfg(feature = "photo")]

use chrono::{TimeZone, Utc};
use field_core::PhotoPurpose;
use field_core::photo::sample::{self, SampleExif};
use field_core::photo::{
    GeoPoint, ImageFormat, IngestOptions, PhotoContext, PhotoError, ingest, sha256_hex,
};

fn common_key() -> field_core::StoreKey {
    field_core::StoreKey::new(&[42; 32]).unwrap()
}

fn ctx() -> PhotoContext {
    PhotoContext {
        job_no: "YK-2026-000123".into(),
        purpose: PhotoPurpose::Survey,
        caption: Some("配电箱位置".into()),
        author: "cm-zhang".into(),
        author_name: Some("张伟".into()),
        address: Some("上海市浦东新区张江路 88 号".into()),
        gps: None,
        device_time: Utc.with_ymd_and_hms(2026, 11, 20, 6, 30, 0).unwrap(),
        checklist_group: None,
    }
}

fn decode_dims(jpeg: &[u8]) -> (u32, u32) {
    let mut d = jpeg_decoder::Decoder::new(jpeg);
    d.read_info().unwrap();
    let i = d.info().unwrap();
    (u32::from(i.width), u32::from(i.height))
}

#[test]
fn ingest_keeps_the_original_and_derives_display_and_thumbnail() {
    let taken = Utc.with_ymd_and_hms(2026, 11, 20, 6, 29, 41).unwrap();
    let exif = SampleExif {
        orientation: 1,
        taken_at: Some(taken),
        gps: Some((31.230416, 121.473701)),
    };
    let original = sample::jpeg(2400, 1800, 7, &exif);
    let p = ingest(&original, &ctx(), &IngestOptions::default()).unwrap();
    assert_eq!(p.format, ImageFormat::Jpeg);
    assert_eq!(p.original_sha256, sha256_hex(&original));
    assert_eq!((p.display.width, p.display.height), (1600, 1200));
    assert_eq!(decode_dims(&p.display.bytes), (1600, 1200));
    assert_eq!((p.thumbnail.width, p.thumbnail.height), (320, 240));
    assert_eq!(p.display.sha256, sha256_hex(&p.display.bytes));
    let r = &p.record;
    assert_eq!(r.taken_at, Some(taken), "EXIF capture time, China time");
    assert_eq!(r.captured_at, Some(ctx().device_time));
    let (lat, lon) = (r.latitude.unwrap(), r.longitude.unwrap());
    assert!((lat - 31.230416).abs() < 1e-5 && (lon - 121.473701).abs() < 1e-5);
    assert_eq!(r.gps_source.as_deref(), Some("exif"));
    assert_eq!(r.camera.as_deref(), Some("Fieldline Sample Camera"));
    assert_eq!((r.width, r.height), (Some(2400), Some(1800)));
    assert_eq!(r.original_bytes, Some(original.len() as i64));
}

#[test]
fn the_phone_fix_wins_over_exif_gps() {
    let original = sample::jpeg(
        640,
        480,
        1,
        &SampleExif {
            gps: Some((10.0, 10.0)),
            ..Default::default()
        },
    );
    let mut c = ctx();
    c.gps = Some(GeoPoint {
        latitude: 39.9,
        longitude: 116.4,
        accuracy_m: Some(8.0),
    });
    let p = ingest(&original, &c, &IngestOptions::default()).unwrap();
    assert_eq!(p.record.latitude, Some(39.9));
    assert_eq!(p.record.gps_source.as_deref(), Some("device"));
    assert_eq!(p.record.gps_accuracy_m, Some(8.0));
    // Small photos are not upscaled; capture time falls back to the device time.
    assert_eq!((p.display.width, p.display.height), (640, 480));
    assert_eq!(p.record.taken_at, Some(c.device_time));
}

#[test]
fn orientation_is_applied() {
    for (o, dims) in [(6, (1200, 1600)), (8, (1200, 1600)), (3, (1600, 1200))] {
        let original = sample::jpeg(
            2000,
            1500,
            3,
            &SampleExif {
                orientation: o,
                ..Default::default()
            },
        );
        let p = ingest(&original, &ctx(), &IngestOptions::default()).unwrap();
        assert_eq!(p.exif.orientation, o);
        assert_eq!((p.display.width, p.display.height), dims, "orientation {o}");
        assert_eq!(decode_dims(&p.display.bytes), dims);
        assert_eq!(
            (p.record.width, p.record.height),
            if o >= 5 {
                (Some(1500), Some(2000))
            } else {
                (Some(2000), Some(1500))
            }
        );
    }
}

#[test]
fn the_watermark_changes_only_the_bottom_band() {
    let original = sample::jpeg(1600, 1200, 5, &SampleExif::default());
    let plain = IngestOptions {
        watermark: false,
        ..Default::default()
    };
    let a = ingest(&original, &ctx(), &plain).unwrap();
    let b = ingest(&original, &ctx(), &IngestOptions::default()).unwrap();
    assert_ne!(a.display.sha256, b.display.sha256);
    let decode = |j: &[u8]| jpeg_decoder::Decoder::new(j).decode().unwrap();
    let (pa, pb) = (decode(&a.display.bytes), decode(&b.display.bytes));
    let row = 1600 * 3;
    let top_diff: u64 = (0..row * 600)
        .map(|i| u64::from(pa[i].abs_diff(pb[i])))
        .sum();
    assert_eq!(top_diff, 0, "the upper half is untouched");
    let bottom = row * 1150..row * 1200;
    let changed = bottom.filter(|&i| pa[i].abs_diff(pb[i]) > 30).count();
    assert!(
        changed > 10_000,
        "the band is drawn ({changed} bytes changed)"
    );
    // The thumbnail is taken before the watermark and so is identical.
    assert_eq!(a.thumbnail.sha256, b.thumbnail.sha256);
}

#[test]
fn png_is_accepted() {
    let original = sample::png(900, 1200, 2);
    let p = ingest(&original, &ctx(), &IngestOptions::default()).unwrap();
    assert_eq!(p.format, ImageFormat::Png);
    assert_eq!((p.display.width, p.display.height), (900, 1200));
    assert_eq!((p.thumbnail.width, p.thumbnail.height), (240, 320));
    assert_eq!(p.record.original_mime.as_deref(), Some("image/png"));
}

/// A JPEG header claiming 60000×60000 pixels followed by almost nothing.
fn jpeg_bomb() -> Vec<u8> {
    let small = sample::jpeg(16, 16, 1, &SampleExif::default());
    let sof = small
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("baseline SOF0");
    let mut bomb = small.clone();
    // SOF0: FF C0, length (2), precision (1), height (2), width (2).
    bomb[sof + 5..sof + 7].copy_from_slice(&60000u16.to_be_bytes());
    bomb[sof + 7..sof + 9].copy_from_slice(&60000u16.to_be_bytes());
    bomb
}

fn png_bomb() -> Vec<u8> {
    let mut png = sample::png(16, 16, 1);
    // IHDR data starts at byte 16: width, height (big-endian), then its CRC at 29..33.
    png[16..20].copy_from_slice(&60000u32.to_be_bytes());
    png[20..24].copy_from_slice(&60000u32.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

#[test]
fn bombs_truncated_and_foreign_files_get_typed_errors() {
    let opts = IngestOptions::default();
    for (name, bytes) in [("jpeg", jpeg_bomb()), ("png", png_bomb())] {
        match ingest(&bytes, &ctx(), &opts) {
            Err(PhotoError::TooManyPixels { width, height, .. }) => {
                assert_eq!((width, height), (60000, 60000), "{name}")
            }
            other => panic!("{name} bomb: {other:?}"),
        }
    }
    let good = sample::jpeg(800, 600, 9, &SampleExif::default());
    for cut in [good.len() / 2, good.len() - 3, 200, 3] {
        let r = ingest(&good[..cut], &ctx(), &opts);
        assert!(
            matches!(r, Err(PhotoError::Corrupt(_))),
            "cut at {cut}: {r:?}"
        );
    }
    let png = sample::png(300, 200, 9);
    let r = ingest(&png[..png.len() / 2], &ctx(), &opts);
    assert!(matches!(r, Err(PhotoError::Corrupt(_))), "{r:?}");

    assert!(matches!(ingest(b"", &ctx(), &opts), Err(PhotoError::Empty)));
    assert!(matches!(
        ingest(b"%PDF-1.7 not a photo", &ctx(), &opts),
        Err(PhotoError::NotAnImage)
    ));
    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    let e = ingest(&heic, &ctx(), &opts).unwrap_err();
    assert!(matches!(e, PhotoError::Unsupported { .. }));
    assert!(e.to_string().contains("JPEG"), "{e}");
    let tiny = IngestOptions {
        limits: field_core::photo::PhotoLimits {
            max_bytes: 1000,
            ..Default::default()
        },
        ..Default::default()
    };
    assert!(matches!(
        ingest(&good, &ctx(), &tiny),
        Err(PhotoError::TooLarge { .. })
    ));
}

#[test]
fn gallery_formats_are_taken_through_the_fallback_decoder() {
    let opts = IngestOptions::default();
    for format in [
        ImageFormat::WebP,
        ImageFormat::Gif,
        ImageFormat::Bmp,
        ImageFormat::Tiff,
    ] {
        let bytes = sample::encoded(format, 900, 600, 4);
        let p = ingest(&bytes, &ctx(), &opts).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(p.format, format);
        assert_eq!(p.record.original_mime.as_deref(), Some(format.mime()));
        assert_eq!((p.record.width, p.record.height), (Some(900), Some(600)));
        assert_eq!(&p.display.bytes[..3], &[0xFF, 0xD8, 0xFF], "{format:?}");
        assert_eq!(
            (p.display.width, p.display.height),
            (900, 600),
            "{format:?}"
        );
        assert!(p.thumbnail.width <= 320 && p.thumbnail.height <= 320);
        // Cut short: a clear error, never a panic.
        let r = ingest(&bytes[..bytes.len() / 2], &ctx(), &opts);
        assert!(
            matches!(r, Err(PhotoError::Corrupt(_))),
            "{format:?}: {r:?}"
        );
    }
    // GIF: the first frame; a palette image still comes out in colour.
    let gif = sample::encoded(ImageFormat::Gif, 64, 48, 1);
    assert!(ingest(&gif, &ctx(), &opts).is_ok());
}

#[test]
fn gallery_format_bombs_are_refused_from_the_header() {
    let opts = IngestOptions::default();
    // BMP: width and height are the header's i32s at 18 and 22.
    let mut bmp = sample::encoded(ImageFormat::Bmp, 32, 32, 1);
    bmp[18..22].copy_from_slice(&60_000i32.to_le_bytes());
    bmp[22..26].copy_from_slice(&60_000i32.to_le_bytes());
    // GIF: the logical screen and the first frame's descriptor both claim 60000×60000.
    let mut gif = sample::encoded(ImageFormat::Gif, 32, 32, 1);
    gif[6..8].copy_from_slice(&60_000u16.to_le_bytes());
    gif[8..10].copy_from_slice(&60_000u16.to_le_bytes());
    if let Some(at) = gif.iter().position(|&b| b == 0x2C) {
        gif[at + 5..at + 7].copy_from_slice(&60_000u16.to_le_bytes());
        gif[at + 7..at + 9].copy_from_slice(&60_000u16.to_le_bytes());
    }
    // TIFF: a 60000×60000 8-bit grey image described by a bare IFD, with 4 bytes of data.
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    let entries: [(u16, u16, u32); 8] = [
        (256, 4, 60_000),
        (257, 4, 60_000),
        (258, 3, 8),
        (259, 3, 1),
        (262, 3, 1),
        (273, 4, 8 + 2 + 8 * 12 + 4),
        (278, 4, 60_000),
        (279, 4, 4),
    ];
    tiff.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, kind, value) in entries {
        tiff.extend_from_slice(&tag.to_le_bytes());
        tiff.extend_from_slice(&kind.to_le_bytes());
        tiff.extend_from_slice(&1u32.to_le_bytes());
        tiff.extend_from_slice(&value.to_le_bytes());
    }
    tiff.extend_from_slice(&[0, 0, 0, 0, 1, 2, 3, 4]);
    // WebP: a lossless (VP8L) header claiming 16383×16383.
    let mut webp = b"RIFF\0\0\0\0WEBPVP8L\x05\0\0\0\x2f".to_vec();
    webp.extend_from_slice(&(16_382u32 | (16_382 << 14)).to_le_bytes());
    webp.push(0);
    let len = (webp.len() - 8) as u32;
    webp[4..8].copy_from_slice(&len.to_le_bytes());
    for (name, bytes) in [("bmp", bmp), ("gif", gif), ("tiff", tiff), ("webp", webp)] {
        match ingest(&bytes, &ctx(), &opts) {
            Err(PhotoError::TooManyPixels { width, height, .. }) => {
                assert!(width * height > 100_000_000, "{name}: {width}×{height}")
            }
            other => panic!("{name} bomb: {other:?}"),
        }
    }
}

#[test]
fn broken_exif_is_ignored_not_fatal() {
    let mut original = sample::jpeg(
        640,
        480,
        4,
        &SampleExif {
            orientation: 6,
            ..Default::default()
        },
    );
    // Point the first IFD far past the end of the EXIF block.
    let tiff = original.windows(4).position(|w| w == b"II*\0").unwrap();
    original[tiff + 4..tiff + 8].copy_from_slice(&0x00FF_FF00u32.to_le_bytes());
    let p = ingest(&original, &ctx(), &IngestOptions::default()).unwrap();
    assert_eq!(p.exif.orientation, 1);
    assert_eq!((p.display.width, p.display.height), (640, 480));
}

mod store {
    use super::*;
    use field_core::job::Customer;
    use field_core::store::PhotoInput;
    use field_core::{JobKind, NewJob, Store, StoreError};

    fn job(store: &Store) -> field_core::Job {
        store
            .create_job(
                "cm-zhang",
                &NewJob {
                    id: None,
                    job_no: None,
                    kind: JobKind::LowVoltageResidential,
                    unit: "zhuxian".into(),
                    accepted_at: Utc.with_ymd_and_hms(2026, 11, 2, 1, 0, 0).unwrap(),
                    customer: Customer {
                        name: Some("王芳".into()),
                        address: Some("朱仙镇东街 12 号".into()),
                        ..Default::default()
                    },
                    application: Default::default(),
                },
            )
            .unwrap()
    }

    fn input() -> PhotoInput {
        PhotoInput {
            purpose: PhotoPurpose::Survey,
            caption: None,
            gps: None,
            checklist_group: None,
            author_name: None,
        }
    }

    #[test]
    fn a_photo_is_one_durable_action_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("phone.db");
        let bytes = sample::jpeg(1200, 900, 3, &SampleExif::default());
        let (job_id, photo_id) = {
            let store = Store::open(&path, &common_key()).unwrap();
            let j = job(&store);
            let added = store
                .add_photo(
                    &j.id,
                    "cm-zhang",
                    &bytes,
                    &input(),
                    &IngestOptions::default(),
                )
                .unwrap();
            (j.id, added.photo_id)
        };
        let store = Store::open(&path, &common_key()).unwrap();
        let j = store.job(&job_id).unwrap();
        let p = &j.photos[&photo_id];
        assert_eq!(p.author.as_deref(), Some("cm-zhang"));
        assert_eq!(p.device.as_deref(), Some(store.device().device_id.as_str()));
        let original = p.original_sha256.clone().unwrap();
        assert_eq!(store.blob(&original).unwrap(), bytes);
        let display = store.blob(p.display_sha256.as_deref().unwrap()).unwrap();
        assert_eq!(sha256_hex(&display), p.display_sha256.clone().unwrap());
        let status = store.upload_status().unwrap();
        assert_eq!((status.photos_pending, status.blobs_pending), (1, 3));
        let pending = store.pending_uploads().unwrap();
        assert_eq!(pending[0].role, "thumbnail", "thumbnails go first");
        assert_eq!(pending[2].role, "original");
        assert!(
            store
                .dirty_jobs()
                .unwrap()
                .iter()
                .any(|d| d.job_id == job_id)
        );
    }

    #[test]
    fn bad_photos_change_nothing() {
        let store = Store::open_in_memory().unwrap();
        let j = job(&store);
        let before = store.document_bytes(&j.id).unwrap();
        let mut truncated = sample::jpeg(640, 480, 1, &SampleExif::default());
        truncated.truncate(truncated.len() / 2);
        let mut with_group = input();
        with_group.checklist_group = Some("no-such-group".into());
        let good = sample::jpeg(640, 480, 2, &SampleExif::default());
        for (bytes, inp) in [
            (super::jpeg_bomb(), input()),
            (super::png_bomb(), input()),
            (truncated, input()),
            (b"GIF89a....".to_vec(), input()),
            (good, with_group),
        ] {
            let e = store
                .add_photo(&j.id, "cm-zhang", &bytes, &inp, &IngestOptions::default())
                .unwrap_err();
            assert!(
                matches!(e, StoreError::Photo(_) | StoreError::Job(_)),
                "{e}"
            );
        }
        assert_eq!(store.document_bytes(&j.id).unwrap(), before);
        assert!(store.job(&j.id).unwrap().photos.is_empty());
        assert_eq!(store.upload_status().unwrap().blobs_pending, 0);
    }
}
