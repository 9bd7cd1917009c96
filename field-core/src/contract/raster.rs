//! A signature drawn as a PNG (black, anti-aliased, transparent background) from its strokes.

use super::signature::{SignaturePad, avg};
use crate::validate::Invalid;

/// Largest PNG edge drawn, in pixels.
const MAX_EDGE: f64 = 4096.0;

/// Distance from `(px, py)` to the segment `a`–`b`.
fn distance(px: f64, py: f64, a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 {
        0.0
    } else {
        (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0)
    };
    let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
    ((px - cx).powi(2) + (py - cy).powi(2)).sqrt()
}

/// Draws the signature at `scale` × its canvas size (capped at 4096 px per edge) as an
/// 8-bit grey + alpha PNG.
pub fn signature_png(pad: &SignaturePad, scale: f64) -> Result<Vec<u8>, Invalid> {
    pad.validate("signature")?;
    let scale = scale
        .clamp(0.05, 8.0)
        .min(MAX_EDGE / pad.width as f64)
        .min(MAX_EDGE / pad.height as f64);
    let w = ((pad.width as f64 * scale).round() as usize).max(1);
    let h = ((pad.height as f64 * scale).round() as usize).max(1);
    let mut alpha = vec![0f32; w * h];
    for stroke in &pad.strokes {
        let pairs: Vec<_> = if stroke.len() == 1 {
            vec![(stroke[0], stroke[0])]
        } else {
            stroke.windows(2).map(|p| (p[0], p[1])).collect()
        };
        for (a, b) in pairs {
            let r = pad.pen_width(avg(a.pressure, b.pressure)) * scale / 2.0;
            let pa = (a.x * scale, a.y * scale);
            let pb = (b.x * scale, b.y * scale);
            let x0 = (pa.0.min(pb.0) - r - 1.0).floor().max(0.0) as usize;
            let y0 = (pa.1.min(pb.1) - r - 1.0).floor().max(0.0) as usize;
            let x1 = ((pa.0.max(pb.0) + r + 1.0).ceil().max(0.0) as usize).min(w);
            let y1 = ((pa.1.max(pb.1) + r + 1.0).ceil().max(0.0) as usize).min(h);
            for y in y0..y1 {
                for x in x0..x1 {
                    let d = distance(x as f64 + 0.5, y as f64 + 0.5, pa, pb);
                    let cover = (r + 0.5 - d).clamp(0.0, 1.0) as f32;
                    let px = &mut alpha[y * w + x];
                    *px = px.max(cover);
                }
            }
        }
    }
    let mut data = Vec::with_capacity(w * h * 2);
    for a in alpha {
        data.push(0);
        data.push((a * 255.0).round() as u8);
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
        enc.set_color(png::ColorType::GrayscaleAlpha);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc
            .write_header()
            .map_err(|e| Invalid::new("signature", "签名图片生成失败", format!("PNG: {e}")))?;
        writer
            .write_image_data(&data)
            .map_err(|e| Invalid::new("signature", "签名图片生成失败", format!("PNG: {e}")))?;
    }
    Ok(out)
}
