//! HTTP byte ranges (RFC 9110 §14) for blob downloads: a phone on a weak link can resume a large
//! original where it stopped. One range per request; a list of ranges is answered with the whole
//! blob, which the RFC allows.

use std::ops::Range;

/// Longest `Range` header read.
pub const RANGE_HEADER_MAX: usize = 128;

/// What a `Range` header asks of a blob of a known length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// No usable range: send everything (200).
    Whole,
    /// These bytes (206 with `Content-Range`).
    Part(Range<u64>),
    /// Nothing the blob has (416 with `Content-Range: bytes */len`).
    Unsatisfiable,
}

/// Reads `header` (e.g. `bytes=0-1023`, `bytes=4096-`, `bytes=-500`) against `len` bytes.
/// Headers that are not single byte ranges are ignored, as the RFC says a server may.
pub fn wanted(header: Option<&str>, len: u64) -> Wanted {
    // A single range is short; anything longer is not one we answer.
    let header = header.filter(|h| h.len() <= RANGE_HEADER_MAX);
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Wanted::Whole;
    };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Wanted::Whole;
    };
    let number = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (first.trim().is_empty(), number(first), number(last)) {
        // bytes=-N: the last N bytes.
        (true, _, Some(n)) => {
            if n == 0 || len == 0 {
                Wanted::Unsatisfiable
            } else {
                Wanted::Part(len - n.min(len)..len)
            }
        }
        (false, Some(start), end) if last.trim().is_empty() || end.is_some() => {
            if start >= len {
                return Wanted::Unsatisfiable;
            }
            match end {
                Some(end) if end < start => Wanted::Whole,
                Some(end) => Wanted::Part(start..end.min(len - 1) + 1),
                None => Wanted::Part(start..len),
            }
        }
        _ => Wanted::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges() {
        assert_eq!(wanted(Some("bytes=0-9"), 100), Wanted::Part(0..10));
        assert_eq!(wanted(Some("bytes=90-"), 100), Wanted::Part(90..100));
        assert_eq!(wanted(Some("bytes=90-500"), 100), Wanted::Part(90..100));
        assert_eq!(wanted(Some("bytes=-10"), 100), Wanted::Part(90..100));
        assert_eq!(wanted(Some("bytes=-1000"), 100), Wanted::Part(0..100));
        assert_eq!(wanted(Some(" bytes= 5 - 6 "), 100), Wanted::Part(5..7));
    }

    #[test]
    fn what_cannot_be_served() {
        assert_eq!(wanted(Some("bytes=100-"), 100), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=-0"), 100), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=-5"), 0), Wanted::Unsatisfiable);
    }

    #[test]
    fn anything_else_is_the_whole_blob() {
        for h in [
            None,
            Some("items=0-5"),
            Some("bytes=0-1,5-6"),
            Some("bytes=abc"),
            Some("bytes=9-3"),
            Some("bytes=-"),
            Some("bytes=+1-2"),
            Some("bytes=1-x"),
            Some("bytes=99999999999999999999999-"),
        ] {
            assert_eq!(wanted(h, 100), Wanted::Whole, "{h:?}");
        }
    }
}
