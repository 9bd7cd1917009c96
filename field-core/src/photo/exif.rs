//! Lenient EXIF reading: phone EXIF is often slightly malformed, so every field is read on its
//! own and a broken one is skipped rather than failing the photo.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use exif::{Exif, In, Tag, Value};
use std::io::Cursor;

/// What ingest uses from the EXIF block.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExifFacts {
    /// EXIF orientation 1–8 (1 when absent or invalid).
    pub orientation: u16,
    /// When the camera says the photo was taken (DateTimeOriginal, else DateTime).
    pub taken_at: Option<DateTime<Utc>>,
    /// Latitude and longitude in degrees (WGS-84 as the phone recorded them).
    pub gps: Option<(f64, f64)>,
    /// Camera make and model, for the record.
    pub camera: Option<String>,
}

/// Reads the facts; never fails (no or unreadable EXIF gives the defaults).
pub fn read(bytes: &[u8]) -> ExifFacts {
    let mut reader = exif::Reader::new();
    reader.continue_on_error(true);
    let exif = match reader
        .read_from_container(&mut Cursor::new(bytes))
        .or_else(|e| e.distill_partial_result(|_errors| {}))
    {
        Ok(e) => e,
        Err(_) => {
            return ExifFacts {
                orientation: 1,
                ..Default::default()
            };
        }
    };
    ExifFacts {
        orientation: orientation(&exif),
        taken_at: taken_at(&exif),
        gps: gps(&exif),
        camera: camera(&exif),
    }
}

fn uint(exif: &Exif, tag: Tag) -> Option<u32> {
    exif.get_field(tag, In::PRIMARY)
        .and_then(|f| f.value.get_uint(0))
}

fn ascii(exif: &Exif, tag: Tag) -> Option<String> {
    match &exif.get_field(tag, In::PRIMARY)?.value {
        Value::Ascii(parts) => {
            let s = String::from_utf8_lossy(parts.first()?)
                .trim_matches(char::from(0))
                .trim()
                .to_string();
            (!s.is_empty()).then_some(s)
        }
        _ => None,
    }
}

fn orientation(exif: &Exif) -> u16 {
    match uint(exif, Tag::Orientation) {
        Some(o @ 1..=8) => o as u16,
        _ => 1,
    }
}

/// EXIF times are local wall-clock times; OffsetTimeOriginal gives the zone when present,
/// otherwise China time (UTC+8) is assumed, as the phones this app serves are set to it.
fn taken_at(exif: &Exif) -> Option<DateTime<Utc>> {
    let (text, offset_tag) = match ascii(exif, Tag::DateTimeOriginal) {
        Some(t) => (t, Tag::OffsetTimeOriginal),
        None => (ascii(exif, Tag::DateTime)?, Tag::OffsetTime),
    };
    let naive = NaiveDateTime::parse_from_str(&text, "%Y:%m:%d %H:%M:%S").ok()?;
    let offset = ascii(exif, offset_tag)
        .and_then(|o| parse_offset(&o))
        .unwrap_or_else(|| FixedOffset::east_opt(8 * 3600).expect("valid offset"));
    let t = offset.from_local_datetime(&naive).single()?;
    Some(t.with_timezone(&Utc))
}

fn parse_offset(s: &str) -> Option<FixedOffset> {
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = s[1..].split_once(':')?;
    let secs = h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60;
    FixedOffset::east_opt(sign * secs)
}

fn degrees(exif: &Exif, tag: Tag, ref_tag: Tag, negative: &str) -> Option<f64> {
    let Value::Rational(parts) = &exif.get_field(tag, In::PRIMARY)?.value else {
        return None;
    };
    let mut deg = 0.0;
    for (i, r) in parts.iter().take(3).enumerate() {
        if r.denom == 0 {
            return None;
        }
        deg += r.to_f64() / [1.0, 60.0, 3600.0][i];
    }
    if ascii(exif, ref_tag).is_some_and(|r| r.eq_ignore_ascii_case(negative)) {
        deg = -deg;
    }
    deg.is_finite().then_some(deg)
}

fn gps(exif: &Exif) -> Option<(f64, f64)> {
    let lat = degrees(exif, Tag::GPSLatitude, Tag::GPSLatitudeRef, "S")?;
    let lon = degrees(exif, Tag::GPSLongitude, Tag::GPSLongitudeRef, "W")?;
    let valid = lat.abs() <= 90.0 && lon.abs() <= 180.0 && (lat, lon) != (0.0, 0.0);
    valid.then_some((lat, lon))
}

fn camera(exif: &Exif) -> Option<String> {
    match (ascii(exif, Tag::Make), ascii(exif, Tag::Model)) {
        (Some(a), Some(b)) if b.starts_with(&a) => Some(b),
        (Some(a), Some(b)) => Some(format!("{a} {b}")),
        (a, b) => a.or(b),
    }
}
