//! Strict checking of automerge bytes received from elsewhere.
//!
//! `load_incremental` tolerates trailing garbage (it loads what it can and ignores the rest), which
//! is right for a local file but wrong for bytes from the network: there a malformed upload must
//! be refused as a whole. This splits the bytes into automerge chunks and fully parses each.

use automerge::{Automerge, Change};

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const HEADER: usize = 4 + 4 + 1;

/// Why bytes are not automerge.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error("数据为空 / no automerge data")]
    Empty,
    #[error("第 {index} 块不是 automerge 数据 / chunk {index} is not automerge data")]
    NotAutomerge { index: usize },
    #[error("第 {index} 块被截断 / chunk {index} is truncated")]
    Truncated { index: usize },
    #[error("第 {index} 块无法解析 / chunk {index} cannot be parsed: {reason}")]
    Invalid { index: usize, reason: String },
    #[error("第 {index} 块类型 {kind} 不受支持 / chunk {index} has unsupported type {kind}")]
    Unsupported { index: usize, kind: u8 },
}

fn uleb128(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Checks that `bytes` is a sequence of whole, parseable automerge chunks (documents or
/// changes). Returns how many chunks there are.
pub fn check(bytes: &[u8]) -> Result<usize, ChunkError> {
    if bytes.is_empty() {
        return Err(ChunkError::Empty);
    }
    let mut rest = bytes;
    let mut index = 0;
    while !rest.is_empty() {
        if rest.len() < HEADER + 1 || rest[..4] != MAGIC {
            return Err(ChunkError::NotAutomerge { index });
        }
        let kind = rest[8];
        let (len, n) = uleb128(&rest[HEADER..]).ok_or(ChunkError::Truncated { index })?;
        let total = usize::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(HEADER + n))
            .filter(|t| *t <= rest.len())
            .ok_or(ChunkError::Truncated { index })?;
        let chunk = &rest[..total];
        let invalid = |reason: String| ChunkError::Invalid { index, reason };
        match kind {
            0 => {
                Automerge::load(chunk).map_err(|e| invalid(e.to_string()))?;
            }
            1 | 2 => {
                Change::try_from(chunk).map_err(|e| invalid(e.to_string()))?;
            }
            k => return Err(ChunkError::Unsupported { index, kind: k }),
        }
        rest = &rest[total..];
        index += 1;
    }
    Ok(index)
}
