//! The evidence watermark: a darkened band along the bottom of the display copy with white text
//! (job number, capture time, GPS, author, address), drawn with an embedded CJK font.

use super::decode::Rgb;
use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use std::sync::OnceLock;

/// Noto Sans CJK SC Bold, subset to ASCII + GB 2312 (SIL OFL 1.1; see `data/fonts/OFL.txt`).
static FONT_BYTES: &[u8] = include_bytes!("../../data/fonts/NotoSansSC-Bold-GB2312.otf");

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).expect("embedded font parses"))
}

/// Text size in pixels for an image: readable on a phone screen, small next to the subject.
fn text_px(img: &Rgb) -> f32 {
    (img.width.max(img.height) as f32 * 0.016).clamp(12.0, 64.0)
}

/// Draws `lines` in a band at the bottom of `img`. Lines wider than the image are cut with "…".
pub(crate) fn draw(img: &mut Rgb, lines: &[String]) {
    if lines.is_empty() || img.width < 32 || img.height < 32 {
        return;
    }
    let font = font();
    let px = text_px(img);
    let scaled = font.as_scaled(PxScale::from(px));
    let line_h = (scaled.height() + scaled.line_gap()).ceil() + px * 0.15;
    let pad = (px * 0.5).ceil();
    let band_h = ((line_h * lines.len() as f32 + pad * 2.0).ceil() as u32).min(img.height / 2);
    let top = img.height - band_h;
    darken(img, top, 0.45);
    let max_x = img.width as f32 - pad;
    for (i, line) in lines.iter().enumerate() {
        let baseline = top as f32 + pad + scaled.ascent() + line_h * i as f32;
        if baseline > img.height as f32 {
            break;
        }
        let text = fit_line(&scaled, line, max_x - pad);
        let mut x = pad;
        for c in text.chars() {
            let id = font.glyph_id(c);
            let glyph = id.with_scale_and_position(px, point(x, baseline));
            x += scaled.h_advance(id);
            if let Some(outline) = font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, cov| {
                    let (x, y) = (b.min.x as i64 + gx as i64, b.min.y as i64 + gy as i64);
                    blend_white(img, x, y, cov);
                });
            }
        }
    }
}

/// Cuts `line` so that it fits in `width` pixels, ending with "…" when cut.
fn fit_line<F: Font, S: ScaleFont<F>>(scaled: &S, line: &str, width: f32) -> String {
    let advance = |c: char| scaled.h_advance(scaled.glyph_id(c));
    let total: f32 = line.chars().map(advance).sum();
    if total <= width {
        return line.to_string();
    }
    let ellipsis = advance('…');
    let mut out = String::new();
    let mut w = 0.0;
    for c in line.chars() {
        let a = advance(c);
        if w + a + ellipsis > width {
            break;
        }
        w += a;
        out.push(c);
    }
    out.push('…');
    out
}

fn darken(img: &mut Rgb, top: u32, amount: f32) {
    let keep = ((1.0 - amount) * 256.0) as u32;
    let start = (top * img.width * 3) as usize;
    for v in &mut img.data[start..] {
        *v = ((u32::from(*v) * keep) >> 8) as u8;
    }
}

fn blend_white(img: &mut Rgb, x: i64, y: i64, coverage: f32) {
    if x < 0 || y < 0 || x >= i64::from(img.width) || y >= i64::from(img.height) {
        return;
    }
    let a = (coverage.clamp(0.0, 1.0) * 255.0) as u32;
    let i = ((y as usize) * img.width as usize + x as usize) * 3;
    for v in &mut img.data[i..i + 3] {
        *v = ((u32::from(*v) * (255 - a) + 255 * a) / 255) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_band_carries_white_text() {
        let mut img = Rgb {
            width: 800,
            height: 600,
            data: vec![128; 800 * 600 * 3],
        };
        draw(
            &mut img,
            &["工单 YK-2026-0001 2026-11-22 14:03".to_string()],
        );
        let top_row = &img.data[..800 * 3];
        assert!(
            top_row.iter().all(|&v| v == 128),
            "above the band untouched"
        );
        let bottom = &img.data[(560 * 800 * 3)..];
        assert!(bottom.iter().any(|&v| v > 200), "text is drawn");
        assert!(bottom.iter().any(|&v| v < 90), "band is darkened");
    }

    #[test]
    fn font_covers_common_hanzi() {
        for c in "工单地址拍摄人张三北京市朝阳区经纬度".chars() {
            assert_ne!(font().glyph_id(c).0, 0, "{c} missing");
        }
    }
}
