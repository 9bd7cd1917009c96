//! Generated signatures for tests, benchmarks and demos: a wavy line like a fast scrawl.

use super::signature::{SignaturePad, StrokePoint};

/// A signature of `points` points in two strokes on a 640×240 canvas; `phase` varies its shape.
pub fn signature(points: usize, phase: f64) -> SignaturePad {
    let all: Vec<StrokePoint> = (0..points)
        .map(|i| StrokePoint {
            x: 20.0 + i as f64 * (580.0 / points.max(1) as f64),
            y: 110.0 + ((i as f64 + phase) * 0.45).sin() * 70.0,
            t_ms: i as u64 * 10,
            pressure: Some(0.3 + (i % 5) as f64 * 0.1),
        })
        .collect();
    let (a, b) = all.split_at(points / 2);
    SignaturePad {
        width: 640,
        height: 240,
        strokes: vec![a.to_vec(), b.to_vec()],
    }
}
