//! Photo ingest (照片采集): turns the camera's JPEG or PNG into evidence.
//!
//! The original bytes are kept untouched (EXIF included) with their SHA-256; a display copy
//! (orientation applied, long edge 1600 px, JPEG quality 80, a Chinese watermark band) and a
//! 320 px thumbnail are derived from it. [`ingest`] is a pure function: the store
//! (`Store::add_photo`) keeps the blobs and records the metadata in the job document.
//!
//! Decoding shrinks JPEGs on load (DCT scaling) and checks the pixel count from the header
//! before any pixel buffer exists, so a "decompression bomb" costs nothing.

mod decode;
pub mod exif;
pub mod sample;
mod transform;
mod watermark;

pub use decode::{ImageFormat, inspect};
pub use exif::ExifFacts;

use crate::codes::PhotoPurpose;
use crate::job::Photo;
use chrono::{DateTime, FixedOffset, Utc};
use sha2::{Digest, Sha256};

/// Errors of photo ingest. Nothing is stored when ingest fails.
#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("照片为空 / the photo is empty")]
    Empty,
    #[error(
        "照片有 {bytes} 字节，超过上限 {max} 字节 / the photo is {bytes} bytes, over the limit of {max}"
    )]
    TooLarge { bytes: usize, max: usize },
    #[error(
        "不支持 {format} 格式：请让相机应用交出 JPEG（见 docs/photos.md） / {format} is not supported: the app must hand over a JPEG (see docs/photos.md)"
    )]
    Unsupported { format: &'static str },
    #[error("不是 JPEG 或 PNG 图片 / not a JPEG or PNG image")]
    NotAnImage,
    #[error(
        "图片 {width}×{height} 像素，超过上限 {max} 像素 / the image is {width}×{height} pixels, over the limit of {max}"
    )]
    TooManyPixels { width: u64, height: u64, max: u64 },
    #[error("图片已损坏或不完整 / the image is damaged or incomplete: {0}")]
    Corrupt(String),
    #[error("照片处理失败 / the photo could not be processed: {0}")]
    Encode(String),
}

/// Explicit limits on what ingest accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoLimits {
    /// Largest accepted file (bytes).
    pub max_bytes: usize,
    /// Largest accepted pixel count (width × height).
    pub max_pixels: u64,
    /// Largest accepted width or height.
    pub max_edge: u32,
}

impl Default for PhotoLimits {
    fn default() -> Self {
        PhotoLimits {
            max_bytes: 64 << 20,
            max_pixels: 100_000_000,
            max_edge: 20_000,
        }
    }
}

/// How the derived copies are made.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestOptions {
    /// Long edge of the display copy, pixels.
    pub display_long_edge: u32,
    /// Long edge of the thumbnail, pixels.
    pub thumbnail_long_edge: u32,
    /// JPEG quality of the display copy and the thumbnail (1–100).
    pub quality: u8,
    /// Whether the display copy carries the evidence watermark.
    pub watermark: bool,
    pub limits: PhotoLimits,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            display_long_edge: 1600,
            thumbnail_long_edge: 320,
            quality: 80,
            watermark: true,
            limits: PhotoLimits::default(),
        }
    }
}

/// A position reported by the phone's location service.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    pub latitude: f64,
    pub longitude: f64,
    pub accuracy_m: Option<f64>,
}

/// What the app knows about the photo besides its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoContext {
    pub job_no: String,
    pub purpose: PhotoPurpose,
    pub caption: Option<String>,
    /// Who took it: user id (recorded) and display name (in the watermark).
    pub author: String,
    pub author_name: Option<String>,
    /// The site address, for the watermark.
    pub address: Option<String>,
    /// The phone's own position fix, preferred over EXIF GPS.
    pub gps: Option<GeoPoint>,
    /// The device time of capture.
    pub device_time: DateTime<Utc>,
    /// For document-proof photos: the checklist group the photo proves.
    pub checklist_group: Option<String>,
}

/// One derived JPEG.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendition {
    pub bytes: Vec<u8>,
    pub sha256: String,
    pub width: u32,
    pub height: u32,
}

/// The result of ingest: the three blobs and the record for the job document.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestedPhoto {
    pub format: ImageFormat,
    pub original_sha256: String,
    pub display: Rendition,
    pub thumbnail: Rendition,
    pub exif: ExifFacts,
    /// The metadata to record under `photos.<id>` (without the id).
    pub record: Photo,
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub use crate::validate::is_sha256_hex;

/// Ingests one photo. Pure: reads `bytes`, returns the copies and the record.
pub fn ingest(
    bytes: &[u8],
    ctx: &PhotoContext,
    opts: &IngestOptions,
) -> Result<IngestedPhoto, PhotoError> {
    if bytes.is_empty() {
        return Err(PhotoError::Empty);
    }
    if bytes.len() > opts.limits.max_bytes {
        return Err(PhotoError::TooLarge {
            bytes: bytes.len(),
            max: opts.limits.max_bytes,
        });
    }
    let format = decode::sniff(bytes)?;
    let display_edge = opts.display_long_edge.max(16);
    let thumb_edge = opts.thumbnail_long_edge.max(16);
    // Hashing and EXIF run beside the decode; the thumbnail is made beside the watermark and
    // the display copy's encoding.
    std::thread::scope(|scope| {
        let side = scope.spawn(|| (sha256_hex(bytes), exif::read(bytes)));
        let (decoded, (source_w, source_h)) =
            decode::decode(bytes, format, &opts.limits, display_edge)?;
        let resized = transform::resize(&decoded, display_edge)?;
        drop(decoded);
        let (original_sha256, exif) = side
            .join()
            .map_err(|_| PhotoError::Encode("hashing failed".into()))?;
        let mut display = transform::orient(resized, exif.orientation);
        let thumb = transform::resize(&display, thumb_edge)?;
        let thumb_job = scope.spawn(move || encode(thumb, opts.quality));
        let taken_at = exif.taken_at.unwrap_or(ctx.device_time);
        let (gps, gps_source) = position(ctx.gps, exif.gps);
        let lines = opts
            .watermark
            .then(|| watermark_lines(ctx, taken_at, gps.as_ref()));
        if let Some(lines) = &lines {
            watermark::draw(&mut display, lines);
        }
        let display = encode(display, opts.quality)?;
        let thumbnail = thumb_job
            .join()
            .map_err(|_| PhotoError::Encode("thumbnail failed".into()))??;
        Ok(finish(
            bytes,
            ctx,
            format,
            original_sha256,
            exif,
            (source_w, source_h),
            display,
            thumbnail,
            taken_at,
            gps,
            gps_source,
            lines.map(|l| l.join("\n")),
        ))
    })
}

fn position(
    device: Option<GeoPoint>,
    exif: Option<(f64, f64)>,
) -> (Option<GeoPoint>, Option<&'static str>) {
    match (device, exif) {
        (Some(p), _) => (Some(p), Some("device")),
        (None, Some((lat, lon))) => (
            Some(GeoPoint {
                latitude: lat,
                longitude: lon,
                accuracy_m: None,
            }),
            Some("exif"),
        ),
        (None, None) => (None, None),
    }
}

#[allow(clippy::too_many_arguments)]
fn finish(
    bytes: &[u8],
    ctx: &PhotoContext,
    format: ImageFormat,
    original_sha256: String,
    exif: ExifFacts,
    (source_w, source_h): (u32, u32),
    display: Rendition,
    thumbnail: Rendition,
    taken_at: DateTime<Utc>,
    gps: Option<GeoPoint>,
    gps_source: Option<&'static str>,
    watermark: Option<String>,
) -> IngestedPhoto {
    let (ow, oh) = if exif.orientation >= 5 {
        (source_h, source_w)
    } else {
        (source_w, source_h)
    };
    let record = Photo {
        purpose: Some(ctx.purpose),
        caption: ctx.caption.clone(),
        author: Some(ctx.author.clone()),
        author_name: ctx.author_name.clone(),
        taken_at: Some(taken_at),
        captured_at: Some(ctx.device_time),
        latitude: gps.map(|g| g.latitude),
        longitude: gps.map(|g| g.longitude),
        gps_accuracy_m: gps.and_then(|g| g.accuracy_m),
        gps_source: gps_source.map(str::to_string),
        camera: exif.camera.clone(),
        checklist_group: ctx.checklist_group.clone(),
        original_sha256: Some(original_sha256.clone()),
        original_bytes: Some(bytes.len() as i64),
        original_mime: Some(format.mime().to_string()),
        width: Some(i64::from(ow)),
        height: Some(i64::from(oh)),
        display_sha256: Some(display.sha256.clone()),
        display_bytes: Some(display.bytes.len() as i64),
        display_width: Some(i64::from(display.width)),
        display_height: Some(i64::from(display.height)),
        thumbnail_sha256: Some(thumbnail.sha256.clone()),
        thumbnail_bytes: Some(thumbnail.bytes.len() as i64),
        watermark,
        device: None,
    };
    IngestedPhoto {
        format,
        original_sha256,
        display,
        thumbnail,
        exif,
        record,
    }
}

/// The watermark text, in Chinese: job number and purpose, capture time (China time), position,
/// author, address, caption.
fn watermark_lines(
    ctx: &PhotoContext,
    taken_at: DateTime<Utc>,
    gps: Option<&GeoPoint>,
) -> Vec<String> {
    let china = FixedOffset::east_opt(8 * 3600).expect("valid offset");
    let time = taken_at.with_timezone(&china).format("%Y-%m-%d %H:%M:%S");
    let mut lines = vec![format!("工单 {}  {}  {time}", ctx.job_no, ctx.purpose.zh())];
    let position = match gps {
        Some(g) => {
            let ns = if g.latitude < 0.0 { "S" } else { "N" };
            let ew = if g.longitude < 0.0 { "W" } else { "E" };
            let acc = g
                .accuracy_m
                .map(|a| format!(" ±{a:.0}米"))
                .unwrap_or_default();
            format!(
                "{:.6}°{ns} {:.6}°{ew}{acc}",
                g.latitude.abs(),
                g.longitude.abs()
            )
        }
        None => "无定位".to_string(),
    };
    let who = ctx.author_name.as_deref().unwrap_or(&ctx.author);
    lines.push(format!("位置 {position}  拍摄人 {who}"));
    if let Some(a) = ctx.address.as_deref().filter(|a| !a.trim().is_empty()) {
        lines.push(format!("地址 {a}"));
    }
    if let Some(c) = ctx.caption.as_deref().filter(|c| !c.trim().is_empty()) {
        lines.push(format!("说明 {c}"));
    }
    lines
}

fn encode(img: decode::Rgb, quality: u8) -> Result<Rendition, PhotoError> {
    let (w, h) = (img.width, img.height);
    let (w16, h16) = (
        u16::try_from(w).map_err(|_| PhotoError::Encode("too wide".into()))?,
        u16::try_from(h).map_err(|_| PhotoError::Encode("too tall".into()))?,
    );
    let mut out = Vec::with_capacity(img.data.len() / 8);
    jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100))
        .encode(&img.data, w16, h16, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| PhotoError::Encode(e.to_string()))?;
    Ok(Rendition {
        sha256: sha256_hex(&out),
        bytes: out,
        width: w,
        height: h,
    })
}
