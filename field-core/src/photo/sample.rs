//! Generated camera-like photos for tests, demos and benchmarks: a JPEG with textured content
//! and a real EXIF block (orientation, capture time, GPS, camera), built without any fixture file.

use chrono::{DateTime, FixedOffset, Utc};

/// What the generated photo's EXIF says.
#[derive(Debug, Clone)]
pub struct SampleExif {
    pub orientation: u16,
    pub taken_at: Option<DateTime<Utc>>,
    pub gps: Option<(f64, f64)>,
}

impl Default for SampleExif {
    fn default() -> Self {
        SampleExif {
            orientation: 1,
            taken_at: None,
            gps: None,
        }
    }
}

/// A `width`×`height` RGB image with gradients, stripes and noise (so it compresses like a photo
/// rather than like a flat colour). `seed` varies the content.
pub fn pixels(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height {
        for x in 0..width {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state & 0x1F) as i32 - 16;
            let fx = x as f32 / width as f32;
            let fy = y as f32 / height as f32;
            let stripes = ((x as f32 * 0.05 + fy * 20.0).sin() * 40.0) as i32;
            let r = (fx * 200.0) as i32 + stripes + noise;
            let g = (fy * 180.0) as i32 + 30 + noise;
            let b = ((fx + fy) * 90.0) as i32 - stripes / 2 + noise + (seed % 50) as i32;
            out.extend([r, g, b].map(|v| v.clamp(0, 255) as u8));
        }
    }
    out
}

/// A JPEG (quality 90) of [`pixels`] carrying `exif`.
pub fn jpeg(width: u32, height: u32, seed: u64, exif: &SampleExif) -> Vec<u8> {
    let data = pixels(width, height, seed);
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 90);
    enc.add_exif_metadata(&tiff(exif))
        .expect("small EXIF block");
    enc.encode(
        &data,
        width as u16,
        height as u16,
        jpeg_encoder::ColorType::Rgb,
    )
    .expect("encodes");
    out
}

/// A PNG of [`pixels`] (no EXIF).
pub fn png(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let data = pixels(width, height, seed);
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().expect("header");
        w.write_image_data(&data).expect("data");
    }
    out
}

/// [`pixels`] in a format decoded through the `image` crate (WebP lossless, GIF, BMP, TIFF),
/// as galleries and messaging apps hand them over. Panics for JPEG and PNG (see [`jpeg`], [`png`]).
pub fn encoded(format: super::ImageFormat, width: u32, height: u32, seed: u64) -> Vec<u8> {
    use super::ImageFormat as F;
    let f = match format {
        F::WebP => image::ImageFormat::WebP,
        F::Gif => image::ImageFormat::Gif,
        F::Bmp => image::ImageFormat::Bmp,
        F::Tiff => image::ImageFormat::Tiff,
        F::Jpeg | F::Png => panic!("use sample::jpeg or sample::png"),
    };
    let img = image::RgbImage::from_raw(width, height, pixels(width, height, seed))
        .expect("pixels fill the image");
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, f)
        .expect("encodes");
    out.into_inner()
}

/// One IFD entry: tag, type, count, and the value bytes (inline when ≤ 4 bytes).
struct Entry {
    tag: u16,
    kind: u16,
    count: u32,
    value: Vec<u8>,
}

fn ascii(tag: u16, s: &str) -> Entry {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    Entry {
        tag,
        kind: 2,
        count: v.len() as u32,
        value: v,
    }
}

fn short(tag: u16, n: u16) -> Entry {
    Entry {
        tag,
        kind: 3,
        count: 1,
        value: n.to_le_bytes().to_vec(),
    }
}

fn long(tag: u16, n: u32) -> Entry {
    Entry {
        tag,
        kind: 4,
        count: 1,
        value: n.to_le_bytes().to_vec(),
    }
}

fn dms(tag: u16, deg: f64) -> Entry {
    let d = deg.abs().trunc();
    let m = ((deg.abs() - d) * 60.0).trunc();
    let s = ((deg.abs() - d) * 60.0 - m) * 60.0;
    let mut v = Vec::new();
    for (num, den) in [
        (d as u32, 1u32),
        (m as u32, 1),
        ((s * 10_000.0).round() as u32, 10_000),
    ] {
        v.extend(num.to_le_bytes());
        v.extend(den.to_le_bytes());
    }
    Entry {
        tag,
        kind: 5,
        count: 3,
        value: v,
    }
}

/// Appends an IFD at the current end of `out` (offsets are from the TIFF header); returns the
/// positions of each entry's value field, for patching pointers.
fn write_ifd(out: &mut Vec<u8>, entries: &[Entry]) -> Vec<usize> {
    let start = out.len();
    let table = 2 + entries.len() * 12 + 4;
    let mut extra = start + table;
    let mut positions = Vec::new();
    let mut tail = Vec::new();
    out.extend((entries.len() as u16).to_le_bytes());
    for e in entries {
        out.extend(e.tag.to_le_bytes());
        out.extend(e.kind.to_le_bytes());
        out.extend(e.count.to_le_bytes());
        positions.push(out.len());
        if e.value.len() <= 4 {
            let mut v = e.value.clone();
            v.resize(4, 0);
            out.extend(v);
        } else {
            out.extend((extra as u32).to_le_bytes());
            tail.extend(&e.value);
            extra += e.value.len();
            if e.value.len() % 2 == 1 {
                tail.push(0);
                extra += 1;
            }
        }
    }
    out.extend(0u32.to_le_bytes());
    out.extend(tail);
    positions
}

/// A little-endian TIFF block holding the EXIF of `exif`.
fn tiff(exif: &SampleExif) -> Vec<u8> {
    let mut out = b"II*\0".to_vec();
    out.extend(8u32.to_le_bytes());
    let china = FixedOffset::east_opt(8 * 3600).expect("valid");
    let stamp = exif.taken_at.map(|t| {
        t.with_timezone(&china)
            .format("%Y:%m:%d %H:%M:%S")
            .to_string()
    });
    let mut ifd0 = vec![
        ascii(0x010F, "Fieldline"),
        ascii(0x0110, "Fieldline Sample Camera"),
        short(0x0112, exif.orientation),
    ];
    let exif_ptr = ifd0.len();
    ifd0.push(long(0x8769, 0));
    let gps_ptr = exif.gps.map(|_| {
        ifd0.push(long(0x8825, 0));
        ifd0.len() - 1
    });
    let pos = write_ifd(&mut out, &ifd0);
    let exif_at = out.len() as u32;
    out[pos[exif_ptr]..pos[exif_ptr] + 4].copy_from_slice(&exif_at.to_le_bytes());
    let mut sub = Vec::new();
    if let Some(s) = &stamp {
        sub.push(ascii(0x9003, s));
        sub.push(ascii(0x9011, "+08:00"));
    }
    write_ifd(&mut out, &sub);
    if let (Some((lat, lon)), Some(i)) = (exif.gps, gps_ptr) {
        let gps_at = out.len() as u32;
        out[pos[i]..pos[i] + 4].copy_from_slice(&gps_at.to_le_bytes());
        write_ifd(
            &mut out,
            &[
                ascii(1, if lat < 0.0 { "S" } else { "N" }),
                dms(2, lat),
                ascii(3, if lon < 0.0 { "W" } else { "E" }),
                dms(4, lon),
            ],
        );
    }
    out
}
