//! Handwritten signatures as captured: strokes of points (x, y in canvas pixels, time in ms,
//! optional pressure 0–1) on a canvas of known size. The raw strokes are what is stored and
//! hashed; SVG (vector, for the PDF) and PNG (for screens) are derived from them.

use crate::validate::Invalid;
use serde::de::{Deserializer, Error as _};
use serde::ser::{SerializeTuple, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Limits of one signature.
pub const MAX_CANVAS: u32 = 8192;
pub const MAX_STROKES: usize = 200;
pub const MAX_POINTS: usize = 20_000;
/// Largest stored form of one signature (canonical JSON), in bytes.
pub const MAX_STROKES_JSON: usize = 512 * 1024;

/// One sampled point of a stroke.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StrokePoint {
    pub x: f64,
    pub y: f64,
    /// Milliseconds since the signature began.
    pub t_ms: u64,
    /// Pen pressure 0–1, when the screen reports it.
    pub pressure: Option<f64>,
}

impl Serialize for StrokePoint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let n = if self.pressure.is_some() { 4 } else { 3 };
        let mut t = s.serialize_tuple(n)?;
        t.serialize_element(&self.x)?;
        t.serialize_element(&self.y)?;
        t.serialize_element(&self.t_ms)?;
        if let Some(p) = self.pressure {
            t.serialize_element(&p)?;
        }
        t.end()
    }
}

impl<'de> Deserialize<'de> for StrokePoint {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v: Vec<f64> = Vec::deserialize(d)?;
        if !(3..=4).contains(&v.len()) || v[2] < 0.0 || v[2].fract() != 0.0 {
            return Err(D::Error::custom(
                "a point is [x, y, t_ms] or [x, y, t_ms, pressure]",
            ));
        }
        Ok(StrokePoint {
            x: v[0],
            y: v[1],
            t_ms: v[2] as u64,
            pressure: v.get(3).copied(),
        })
    }
}

/// A signature as drawn on the phone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignaturePad {
    pub width: u32,
    pub height: u32,
    pub strokes: Vec<Vec<StrokePoint>>,
}

fn round(v: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    let r = (v * f).round() / f;
    if r == 0.0 { 0.0 } else { r }
}

impl SignaturePad {
    pub fn point_count(&self) -> usize {
        self.strokes.iter().map(Vec::len).sum()
    }

    /// Checks canvas, counts, and that every number is finite and near the canvas.
    pub fn validate(&self, field: &str) -> Result<(), Invalid> {
        let bad = |zh: String, en: String| Err(Invalid::new(field, zh, en));
        if !(1..=MAX_CANVAS).contains(&self.width) || !(1..=MAX_CANVAS).contains(&self.height) {
            return bad(
                format!(
                    "签名画布尺寸 {}×{} 无效（1–{MAX_CANVAS}）",
                    self.width, self.height
                ),
                format!(
                    "signature canvas {}×{} is invalid (1–{MAX_CANVAS})",
                    self.width, self.height
                ),
            );
        }
        let points = self.point_count();
        if points < 2 {
            return bad(
                "签名为空，请签字".into(),
                "the signature is empty: please sign".into(),
            );
        }
        if self.strokes.len() > MAX_STROKES || points > MAX_POINTS {
            return bad(
                format!(
                    "签名笔画过多（{} 笔、{points} 点，最多 {MAX_STROKES} 笔、{MAX_POINTS} 点）",
                    self.strokes.len()
                ),
                format!(
                    "too many strokes ({} strokes, {points} points; at most {MAX_STROKES}, {MAX_POINTS})",
                    self.strokes.len()
                ),
            );
        }
        let (w, h) = (self.width as f64, self.height as f64);
        for p in self.strokes.iter().flatten() {
            let inside = p.x.is_finite()
                && p.y.is_finite()
                && (-w..=2.0 * w).contains(&p.x)
                && (-h..=2.0 * h).contains(&p.y)
                && p.pressure.is_none_or(|v| (0.0..=1.0).contains(&v));
            if !inside {
                return bad(
                    "签名笔迹含有无效坐标或压力值".into(),
                    "the signature has an invalid coordinate or pressure".into(),
                );
            }
        }
        Ok(())
    }

    /// The canonical stored form: coordinates rounded to 0.01 px, pressure to 0.001, JSON with
    /// points as arrays. Parsing it and writing it again gives the same bytes.
    pub fn canonical_json(&self) -> String {
        let rounded = SignaturePad {
            width: self.width,
            height: self.height,
            strokes: self
                .strokes
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.iter()
                        .map(|p| StrokePoint {
                            x: round(p.x, 2),
                            y: round(p.y, 2),
                            t_ms: p.t_ms,
                            pressure: p.pressure.map(|v| round(v, 3)),
                        })
                        .collect()
                })
                .collect(),
        };
        serde_json::to_string(&rounded).expect("numbers are finite")
    }

    /// Parses a stored form and checks it.
    pub fn from_json(field: &str, json: &str) -> Result<SignaturePad, Invalid> {
        if json.len() > MAX_STROKES_JSON {
            return Err(Invalid::new(
                field,
                "签名数据过大",
                format!("the signature data is larger than {MAX_STROKES_JSON} bytes"),
            ));
        }
        let pad: SignaturePad = serde_json::from_str(json).map_err(|e| {
            Invalid::new(
                field,
                format!("签名数据无法解析：{e}"),
                format!("the signature data cannot be read: {e}"),
            )
        })?;
        pad.validate(field)?;
        Ok(pad)
    }

    /// Pen width in canvas pixels for a pressure.
    pub(super) fn pen_width(&self, pressure: Option<f64>) -> f64 {
        let base = (self.width.min(self.height) as f64 / 80.0).clamp(1.5, 12.0);
        base * (0.6 + 0.8 * pressure.unwrap_or(0.5))
    }

    /// The signature as SVG: one round-capped path per stroke segment run of equal width, black
    /// on transparent, `viewBox` = the canvas.
    pub fn to_svg(&self) -> String {
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\">\
             <g fill=\"none\" stroke=\"#000\" stroke-linecap=\"round\" stroke-linejoin=\"round\">",
            w = self.width,
            h = self.height
        );
        for stroke in &self.strokes {
            match stroke.as_slice() {
                [] => {}
                [p] => {
                    let _ = write!(
                        svg,
                        "<circle cx=\"{:.2}\" cy=\"{:.2}\" r=\"{:.2}\" fill=\"#000\" stroke=\"none\"/>",
                        p.x,
                        p.y,
                        self.pen_width(p.pressure) / 2.0
                    );
                }
                points => {
                    for pair in points.windows(2) {
                        let (a, b) = (pair[0], pair[1]);
                        let width = self.pen_width(avg(a.pressure, b.pressure));
                        let _ = write!(
                            svg,
                            "<path d=\"M{:.2} {:.2}L{:.2} {:.2}\" stroke-width=\"{width:.2}\"/>",
                            a.x, a.y, b.x, b.y
                        );
                    }
                }
            }
        }
        svg.push_str("</g></svg>");
        svg
    }
}

pub(super) fn avg(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a + b) / 2.0),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn pad() -> SignaturePad {
        SignaturePad {
            width: 600,
            height: 200,
            strokes: vec![
                vec![
                    StrokePoint {
                        x: 10.123,
                        y: 20.0,
                        t_ms: 0,
                        pressure: Some(0.51234),
                    },
                    StrokePoint {
                        x: 200.0,
                        y: 150.5,
                        t_ms: 16,
                        pressure: Some(0.7),
                    },
                ],
                vec![StrokePoint {
                    x: 300.0,
                    y: 100.0,
                    t_ms: 400,
                    pressure: None,
                }],
            ],
        }
    }

    #[test]
    fn canonical_form_round_trips() {
        let json = pad().canonical_json();
        assert!(
            json.starts_with(r#"{"width":600,"height":200,"strokes":[[[10.12,20.0,0,0.512]"#),
            "{json}"
        );
        let back = SignaturePad::from_json("s", &json).unwrap();
        assert_eq!(back.canonical_json(), json);
        let svg = back.to_svg();
        assert!(svg.contains("viewBox=\"0 0 600 200\"") && svg.contains("<circle"));
    }

    #[test]
    fn bad_signatures_are_refused() {
        let mut empty = pad();
        empty.strokes = vec![vec![]];
        assert!(empty.validate("s").unwrap_err().zh.contains("签名为空"));
        let mut nan = pad();
        nan.strokes[0][0].x = f64::NAN;
        assert!(nan.validate("s").is_err());
        let mut canvas = pad();
        canvas.width = 0;
        assert!(canvas.validate("s").is_err());
        assert!(SignaturePad::from_json("s", "[1,2]").is_err());
        assert!(
            SignaturePad::from_json("s", r#"{"width":10,"height":10,"strokes":[[[1,2]]]}"#)
                .is_err()
        );
    }
}
