//! Format detection and decoding of camera images into 8-bit RGB, with limits checked from the
//! header before any pixel buffer is allocated. JPEG (with DCT scaling) and PNG have fast paths
//! of their own; WebP, GIF (first frame), BMP and TIFF, which galleries and messaging apps hand
//! over, go through the `image` crate with the same limits.

use super::{PhotoError, PhotoLimits};
use std::io::Cursor;

/// An 8-bit RGB image, rows top to bottom, no padding.
#[derive(Clone)]
pub(crate) struct Rgb {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

/// The formats ingest accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Jpeg,
    Png,
    WebP,
    /// The first frame of a GIF.
    Gif,
    Bmp,
    Tiff,
}

impl ImageFormat {
    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::WebP => "image/webp",
            ImageFormat::Gif => "image/gif",
            ImageFormat::Bmp => "image/bmp",
            ImageFormat::Tiff => "image/tiff",
        }
    }

    /// The `image` crate's name for the formats decoded through it.
    fn fallback(self) -> Option<image::ImageFormat> {
        match self {
            ImageFormat::Jpeg | ImageFormat::Png => None,
            ImageFormat::WebP => Some(image::ImageFormat::WebP),
            ImageFormat::Gif => Some(image::ImageFormat::Gif),
            ImageFormat::Bmp => Some(image::ImageFormat::Bmp),
            ImageFormat::Tiff => Some(image::ImageFormat::Tiff),
        }
    }
}

/// Tells the accepted formats apart from everything else by their magic bytes; names the
/// formats phones are known to produce but that cannot be taken (HEIC, AVIF, video) so the
/// error can say what to do.
pub(crate) fn sniff(bytes: &[u8]) -> Result<ImageFormat, PhotoError> {
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let brand = &bytes[8..12];
        let format = match brand {
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"mif1" | b"msf1" => {
                "HEIC/HEIF"
            }
            b"avif" | b"avis" => "AVIF",
            _ => "ISO media (MP4/MOV)",
        };
        return Err(PhotoError::Unsupported { format });
    }
    // The signatures are the ones the server checks uploaded blobs against.
    Ok(match crate::validate::sniff_image(bytes) {
        Some("image/jpeg") => ImageFormat::Jpeg,
        Some("image/png") => ImageFormat::Png,
        Some("image/webp") => ImageFormat::WebP,
        Some("image/gif") => ImageFormat::Gif,
        Some("image/tiff") => ImageFormat::Tiff,
        Some("image/bmp") => ImageFormat::Bmp,
        _ => return Err(PhotoError::NotAnImage),
    })
}

/// Reads what a photo is from its header alone (format, width, height), checking the size
/// limits, without decoding any pixels.
pub fn inspect(bytes: &[u8], limits: &PhotoLimits) -> Result<(ImageFormat, u32, u32), PhotoError> {
    let format = sniff(bytes)?;
    let (w, h) = match format {
        ImageFormat::Jpeg => {
            let mut d = jpeg_decoder::Decoder::new(Cursor::new(bytes));
            d.read_info().map_err(jpeg_err)?;
            let info = d
                .info()
                .ok_or_else(|| PhotoError::Corrupt("the JPEG header is missing".into()))?;
            (u32::from(info.width), u32::from(info.height))
        }
        ImageFormat::Png => {
            let mut probe = png::Decoder::new(Cursor::new(bytes));
            let header = probe.read_header_info().map_err(png_err)?;
            (header.width, header.height)
        }
        other => fallback_reader(bytes, other)?
            .into_dimensions()
            .map_err(image_err)?,
    };
    check_pixels(u64::from(w), u64::from(h), limits)?;
    Ok((format, w, h))
}

fn check_pixels(width: u64, height: u64, limits: &PhotoLimits) -> Result<(), PhotoError> {
    if width == 0 || height == 0 {
        return Err(PhotoError::Corrupt("the image has no pixels".into()));
    }
    if width * height > limits.max_pixels || width.max(height) > u64::from(limits.max_edge) {
        return Err(PhotoError::TooManyPixels {
            width,
            height,
            max: limits.max_pixels,
        });
    }
    Ok(())
}

/// The size to ask a scaling decoder for so that the long edge is still at least `long_edge`.
fn request(width: u32, height: u32, long_edge: u32) -> (u16, u16) {
    let long = width.max(height).max(1);
    if long <= long_edge {
        return (width as u16, height as u16);
    }
    let f = f64::from(long_edge) / f64::from(long);
    let w = (f64::from(width) * f).ceil().max(1.0) as u16;
    let h = (f64::from(height) * f).ceil().max(1.0) as u16;
    (w, h)
}

/// Decodes `bytes`, letting JPEG shrink on load (DCT scaling by 1/2, 1/4 or 1/8) as long as the
/// long edge stays at least `want_long_edge`. Returns the image and the source's own size.
pub(crate) fn decode(
    bytes: &[u8],
    format: ImageFormat,
    limits: &PhotoLimits,
    want_long_edge: u32,
) -> Result<(Rgb, (u32, u32)), PhotoError> {
    match format {
        ImageFormat::Jpeg => decode_jpeg(bytes, limits, want_long_edge),
        ImageFormat::Png => decode_png(bytes, limits),
        other => decode_fallback(bytes, other, limits),
    }
}

fn fallback_reader(
    bytes: &[u8],
    format: ImageFormat,
) -> Result<image::ImageReader<Cursor<&[u8]>>, PhotoError> {
    let f = format
        .fallback()
        .ok_or_else(|| PhotoError::Corrupt(format!("{format:?} has a decoder of its own")))?;
    Ok(image::ImageReader::with_format(Cursor::new(bytes), f))
}

fn image_err(e: image::ImageError) -> PhotoError {
    match e {
        image::ImageError::Limits(_) => {
            PhotoError::Corrupt("the image needs more memory to decode than allowed".into())
        }
        image::ImageError::Unsupported(u) => {
            PhotoError::Corrupt(format!("unsupported variant: {u}"))
        }
        other => PhotoError::Corrupt(other.to_string()),
    }
}

/// WebP, GIF, BMP and TIFF: the size is read from the header and checked first, then the
/// decoder runs under the same pixel limits and a memory cap (8 bytes a pixel: 16-bit RGBA).
/// Kept out of line: the JPEG path stays as it was compiled before the fallback existed.
#[inline(never)]
#[cold]
fn decode_fallback(
    bytes: &[u8],
    format: ImageFormat,
    limits: &PhotoLimits,
) -> Result<(Rgb, (u32, u32)), PhotoError> {
    let (sw, sh) = fallback_reader(bytes, format)?
        .into_dimensions()
        .map_err(image_err)?;
    check_pixels(u64::from(sw), u64::from(sh), limits)?;
    let mut reader = fallback_reader(bytes, format)?;
    let mut caps = image::Limits::default();
    caps.max_image_width = Some(limits.max_edge);
    caps.max_image_height = Some(limits.max_edge);
    caps.max_alloc = Some(limits.max_pixels.saturating_mul(8).saturating_add(1 << 20));
    reader.limits(caps);
    let img = reader.decode().map_err(image_err)?;
    let (w, h) = (img.width(), img.height());
    if (w, h) != (sw, sh) {
        return Err(PhotoError::Corrupt(format!(
            "the header says {sw}×{sh} but {w}×{h} was decoded"
        )));
    }
    let data = if img.color().has_alpha() {
        rgba_to_rgb_in_place(img.into_rgba8().into_raw())
    } else {
        img.into_rgb8().into_raw()
    };
    Ok((
        Rgb {
            width: w,
            height: h,
            data,
        },
        (sw, sh),
    ))
}

fn jpeg_err(e: jpeg_decoder::Error) -> PhotoError {
    PhotoError::Corrupt(e.to_string())
}

fn decode_jpeg(
    bytes: &[u8],
    limits: &PhotoLimits,
    want_long_edge: u32,
) -> Result<(Rgb, (u32, u32)), PhotoError> {
    if !has_end_of_image(bytes) {
        return Err(PhotoError::Corrupt(
            "the JPEG has no end-of-image marker (truncated)".into(),
        ));
    }
    let mut d = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    d.read_info().map_err(jpeg_err)?;
    let info = d
        .info()
        .ok_or_else(|| PhotoError::Corrupt("the JPEG header is missing".into()))?;
    let (sw, sh) = (u32::from(info.width), u32::from(info.height));
    check_pixels(u64::from(sw), u64::from(sh), limits)?;
    let (rw, rh) = request(sw, sh, want_long_edge);
    let (w, h) = d.scale(rw, rh).map_err(jpeg_err)?;
    d.set_max_decoding_buffer_size((limits.max_pixels as usize).saturating_mul(4));
    let pixels = d.decode().map_err(jpeg_err)?;
    let (w, h) = (u32::from(w), u32::from(h));
    let n = w as usize * h as usize;
    let data = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => pixels,
        jpeg_decoder::PixelFormat::L8 => gray_to_rgb(&pixels),
        jpeg_decoder::PixelFormat::L16 => {
            let hi: Vec<u8> = pixels.chunks_exact(2).map(|p| p[0]).collect();
            gray_to_rgb(&hi)
        }
        jpeg_decoder::PixelFormat::CMYK32 => pixels
            .chunks_exact(4)
            .flat_map(|p| {
                let k = u16::from(p[3]);
                [p[0], p[1], p[2]].map(|c| (u16::from(c) * k / 255) as u8)
            })
            .collect(),
    };
    if data.len() != n * 3 {
        return Err(PhotoError::Corrupt(format!(
            "decoded {} bytes for a {w}×{h} image",
            data.len()
        )));
    }
    Ok((
        Rgb {
            width: w,
            height: h,
            data,
        },
        (sw, sh),
    ))
}

/// Whether an EOI marker (FF D9) ends the image data. Phones sometimes append data after it, so
/// the marker is looked for near the end rather than only at the last two bytes.
fn has_end_of_image(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(64 * 1024)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}

fn gray_to_rgb(gray: &[u8]) -> Vec<u8> {
    gray.iter().flat_map(|&g| [g, g, g]).collect()
}

fn png_err(e: png::DecodingError) -> PhotoError {
    match e {
        png::DecodingError::LimitsExceeded => {
            PhotoError::Corrupt("the PNG needs more memory to decode than allowed".into())
        }
        other => PhotoError::Corrupt(other.to_string()),
    }
}

fn decode_png(bytes: &[u8], limits: &PhotoLimits) -> Result<(Rgb, (u32, u32)), PhotoError> {
    // Read the header alone first: the size check must come before any allocation.
    let mut probe = png::Decoder::new(Cursor::new(bytes));
    let header = probe.read_header_info().map_err(png_err)?;
    let source = (header.width, header.height);
    check_pixels(u64::from(source.0), u64::from(source.1), limits)?;
    let mut decoder = png::Decoder::new_with_limits(
        Cursor::new(bytes),
        png::Limits {
            bytes: (limits.max_pixels as usize).saturating_mul(4) + (1 << 20),
        },
    );
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(png_err)?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| PhotoError::Corrupt("the PNG is too large to decode".into()))?;
    let mut buf = vec![0; size];
    let frame = reader.next_frame(&mut buf).map_err(png_err)?;
    buf.truncate(frame.buffer_size());
    let (w, h) = (frame.width, frame.height);
    let data = match frame.color_type {
        png::ColorType::Rgb => buf,
        png::ColorType::Grayscale => gray_to_rgb(&buf),
        png::ColorType::GrayscaleAlpha => buf
            .chunks_exact(2)
            .flat_map(|p| {
                let g = over_white(p[0], p[1]);
                [g, g, g]
            })
            .collect(),
        png::ColorType::Rgba => rgba_to_rgb_in_place(buf),
        png::ColorType::Indexed => {
            return Err(PhotoError::Corrupt("unexpanded palette".into()));
        }
    };
    Ok((
        Rgb {
            width: w,
            height: h,
            data,
        },
        source,
    ))
}

fn over_white(c: u8, a: u8) -> u8 {
    let (c, a) = (u32::from(c), u32::from(a));
    ((c * a + 255 * (255 - a) + 127) / 255) as u8
}

/// Composites RGBA over white into RGB, reusing the buffer (a 48 MP PNG must not need a second
/// full-size copy).
fn rgba_to_rgb_in_place(mut buf: Vec<u8>) -> Vec<u8> {
    let n = buf.len() / 4;
    for i in 0..n {
        let a = buf[i * 4 + 3];
        let (r, g, b) = (buf[i * 4], buf[i * 4 + 1], buf[i * 4 + 2]);
        buf[i * 3] = over_white(r, a);
        buf[i * 3 + 1] = over_white(g, a);
        buf[i * 3 + 2] = over_white(b, a);
    }
    buf.truncate(n * 3);
    buf.shrink_to_fit();
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_names_phone_formats() {
        let mut heic = vec![0, 0, 0, 24];
        heic.extend_from_slice(b"ftypheic\0\0\0\0");
        assert!(matches!(
            sniff(&heic),
            Err(PhotoError::Unsupported {
                format: "HEIC/HEIF"
            })
        ));
        assert!(matches!(sniff(b"hello world"), Err(PhotoError::NotAnImage)));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]).unwrap(), ImageFormat::Jpeg);
        let mut avif = vec![0, 0, 0, 24];
        avif.extend_from_slice(b"ftypavif\0\0\0\0");
        assert!(matches!(
            sniff(&avif),
            Err(PhotoError::Unsupported { format: "AVIF" })
        ));
        assert_eq!(sniff(b"GIF89a\x01\0").unwrap(), ImageFormat::Gif);
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 ").unwrap(), ImageFormat::WebP);
        assert_eq!(sniff(b"II*\0\x08\0\0\0").unwrap(), ImageFormat::Tiff);
        assert!(matches!(sniff(b"BM"), Err(PhotoError::NotAnImage)));
    }

    #[test]
    fn request_keeps_the_long_edge() {
        assert_eq!(request(4000, 3000, 1600), (1600, 1200));
        assert_eq!(request(3000, 4000, 1600), (1200, 1600));
        assert_eq!(request(800, 600, 1600), (800, 600));
    }

    #[test]
    fn rgba_over_white() {
        let out = rgba_to_rgb_in_place(vec![0, 0, 0, 0, 10, 20, 30, 255]);
        assert_eq!(out, vec![255, 255, 255, 10, 20, 30]);
    }
}
