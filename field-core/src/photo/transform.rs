//! Resizing (fast_image_resize, SIMD convolution) and EXIF orientation.

use super::PhotoError;
use super::decode::Rgb;
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

/// The size that fits `width`×`height` into `long_edge` keeping the aspect ratio (never larger
/// than the source).
pub(crate) fn fit(width: u32, height: u32, long_edge: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= long_edge {
        return (width, height);
    }
    let f = f64::from(long_edge) / f64::from(long);
    let w = ((f64::from(width) * f).round() as u32).clamp(1, long_edge);
    let h = ((f64::from(height) * f).round() as u32).clamp(1, long_edge);
    (w, h)
}

/// Resizes so the long edge is `long_edge` (a copy when already small enough). A mild reduction
/// (the JPEG decoder has already shrunk by a power of two) interpolates bilinearly; a strong one
/// convolves with a Hamming filter, which anti-aliases like a bicubic at bilinear cost.
pub(crate) fn resize(src: &Rgb, long_edge: u32) -> Result<Rgb, PhotoError> {
    let (w, h) = fit(src.width, src.height, long_edge);
    if (w, h) == (src.width, src.height) {
        return Ok(src.clone());
    }
    let view = ImageRef::new(src.width, src.height, &src.data, PixelType::U8x3)
        .map_err(|e| PhotoError::Encode(e.to_string()))?;
    let mut dst = Image::new(w, h, PixelType::U8x3);
    let alg = if w * 2 >= src.width {
        ResizeAlg::Interpolation(FilterType::Bilinear)
    } else {
        ResizeAlg::Convolution(FilterType::Hamming)
    };
    let options = ResizeOptions::new().resize_alg(alg);
    Resizer::new()
        .resize(&view, &mut dst, &options)
        .map_err(|e| PhotoError::Encode(e.to_string()))?;
    Ok(Rgb {
        width: w,
        height: h,
        data: dst.into_vec(),
    })
}

/// Applies EXIF orientation `o` (1–8) so the image stands as the photographer saw it.
pub(crate) fn orient(src: Rgb, o: u16) -> Rgb {
    if !(2..=8).contains(&o) {
        return src;
    }
    let (sw, sh) = (src.width as usize, src.height as usize);
    let swap = o >= 5;
    let (dw, dh) = if swap { (sh, sw) } else { (sw, sh) };
    let mut out = vec![0u8; dw * dh * 3];
    for y in 0..dh {
        for x in 0..dw {
            let (sx, sy) = match o {
                2 => (sw - 1 - x, y),
                3 => (sw - 1 - x, sh - 1 - y),
                4 => (x, sh - 1 - y),
                5 => (y, x),
                6 => (y, sh - 1 - x),
                7 => (sw - 1 - y, sh - 1 - x),
                _ => (sw - 1 - y, x),
            };
            let s = (sy * sw + sx) * 3;
            let d = (y * dw + x) * 3;
            out[d..d + 3].copy_from_slice(&src.data[s..s + 3]);
        }
    }
    Rgb {
        width: dw as u32,
        height: dh as u32,
        data: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(w: u32, h: u32) -> Rgb {
        // Pixel value = index, so positions can be traced.
        let data = (0..w * h).flat_map(|i| [i as u8, 0, 0]).collect();
        Rgb {
            width: w,
            height: h,
            data,
        }
    }

    fn px(i: &Rgb, x: u32, y: u32) -> u8 {
        i.data[((y * i.width + x) * 3) as usize]
    }

    #[test]
    fn orientation_6_turns_clockwise() {
        // 3×2: row0 = 0 1 2, row1 = 3 4 5. Turned clockwise: 2×3, row0 = 3 0.
        let o = orient(img(3, 2), 6);
        assert_eq!((o.width, o.height), (2, 3));
        assert_eq!((px(&o, 0, 0), px(&o, 1, 0)), (3, 0));
        assert_eq!((px(&o, 0, 2), px(&o, 1, 2)), (5, 2));
        let o = orient(img(3, 2), 8);
        assert_eq!((px(&o, 0, 0), px(&o, 1, 0)), (2, 5));
        let o = orient(img(3, 2), 3);
        assert_eq!(px(&o, 0, 0), 5);
    }

    #[test]
    fn fit_never_upscales() {
        assert_eq!(fit(4000, 3000, 1600), (1600, 1200));
        assert_eq!(fit(3000, 4000, 320), (240, 320));
        assert_eq!(fit(100, 50, 320), (100, 50));
    }
}
