//! Strict checking of automerge bytes received from elsewhere.
//!
//! `load_incremental` tolerates trailing garbage (it loads what it can and ignores the rest), which
//! is right for a local file but wrong for bytes from the network: there a malformed upload must
//! be refused as a whole. This splits the bytes into automerge chunks and fully parses each.

use automerge::{Automerge, Change};

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const HEADER: usize = 4 + 4 + 1;

/// Bounds on what a check lets through (bytes from the network are decoded only within them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes after inflating compressed chunks and columns, over all chunks.
    pub inflated_bytes: usize,
    /// Operations over all chunks.
    pub ops: u64,
    /// Changes over all chunks.
    pub changes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            inflated_bytes: 64 * 1024 * 1024,
            ops: 1_000_000,
            changes: 100_000,
        }
    }
}

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
    #[error("数据超出上限（{what}）/ the data exceeds the limit on {what}")]
    TooLarge { what: &'static str },
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
/// changes) within the default [`Limits`]. Returns how many chunks there are.
pub fn check(bytes: &[u8]) -> Result<usize, ChunkError> {
    check_with(bytes, &Limits::default())
}

/// [`check`] with explicit limits. Sizes and operation counts are read from the chunks' own
/// headers and run-length columns before automerge parses anything, so a small chunk that
/// claims a huge inflated size or billions of operations is refused without inflating it.
pub fn check_with(bytes: &[u8], limits: &Limits) -> Result<usize, ChunkError> {
    if bytes.is_empty() {
        return Err(ChunkError::Empty);
    }
    let mut budget = Budget {
        inflated: limits.inflated_bytes,
        ops: limits.ops,
        changes: limits.changes,
    };
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
        let body = &chunk[HEADER + n..];
        let invalid = |reason: String| ChunkError::Invalid { index, reason };
        let malformed = |_: Short| invalid("malformed header or columns".into());
        match kind {
            0 => {
                budget.document(body).map_err(|e| e.or(malformed))?;
                Automerge::load(chunk).map_err(|e| invalid(e.to_string()))?;
            }
            1 => {
                budget.change(body).map_err(|e| e.or(malformed))?;
                Change::try_from(chunk).map_err(|e| invalid(e.to_string()))?;
            }
            2 => {
                let inner = budget.inflate(body)?;
                budget.change(&inner).map_err(|e| e.or(malformed))?;
                Change::try_from(chunk).map_err(|e| invalid(e.to_string()))?;
            }
            k => return Err(ChunkError::Unsupported { index, kind: k }),
        }
        rest = &rest[total..];
        index += 1;
    }
    Ok(index)
}

/// Whether checked chunks (see [`check`]) hold changes that depend on changes not among them
/// (so they cannot start a document on their own).
pub fn lacks_dependencies(bytes: &[u8]) -> bool {
    Automerge::load_with_options(
        bytes,
        automerge::LoadOptions::new().on_partial_load(automerge::OnPartialLoad::Error),
    )
    .is_err_and(|e| matches!(e, automerge::AutomergeError::MissingDeps))
}

/// The input ended early or a number did not fit.
struct Short;

/// Either a limit was hit or the bytes are malformed.
enum Bad {
    Limit(ChunkError),
    Short,
}

impl Bad {
    fn or(self, malformed: impl FnOnce(Short) -> ChunkError) -> ChunkError {
        match self {
            Bad::Limit(e) => e,
            Bad::Short => malformed(Short),
        }
    }
}

impl From<Short> for Bad {
    fn from(_: Short) -> Self {
        Bad::Short
    }
}

impl From<ChunkError> for Bad {
    fn from(e: ChunkError) -> Self {
        Bad::Limit(e)
    }
}

/// A cursor over untrusted bytes.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn uleb(&mut self) -> Result<u64, Short> {
        let (v, n) = uleb128(self.bytes).ok_or(Short)?;
        self.bytes = &self.bytes[n..];
        Ok(v)
    }

    fn sleb(&mut self) -> Result<i64, Short> {
        let mut value: i64 = 0;
        for (i, b) in self.bytes.iter().enumerate().take(10) {
            value |= i64::from(b & 0x7f).checked_shl(7 * i as u32).ok_or(Short)?;
            if b & 0x80 == 0 {
                if i < 9 && b & 0x40 != 0 {
                    value |= -1i64 << (7 * (i + 1));
                }
                self.bytes = &self.bytes[i + 1..];
                return Ok(value);
            }
        }
        Err(Short)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], Short> {
        let n = usize::try_from(n).map_err(|_| Short)?;
        if n > self.bytes.len() {
            return Err(Short);
        }
        let (a, b) = self.bytes.split_at(n);
        self.bytes = b;
        Ok(a)
    }

    /// A length-prefixed list of length-prefixed byte strings (actor ids).
    fn actors(&mut self) -> Result<(), Short> {
        let count = self.uleb()?;
        for _ in 0..count {
            let len = self.uleb()?;
            self.take(len)?;
        }
        Ok(())
    }

    /// Column metadata: `(spec, length)` pairs.
    fn columns(&mut self) -> Result<Vec<(u32, u64)>, Short> {
        let count = self.uleb()?;
        // Each pair takes at least two bytes: a count larger than that is a lie.
        if count > self.bytes.len() as u64 / 2 {
            return Err(Short);
        }
        let mut out = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let spec = u32::try_from(self.uleb()?).map_err(|_| Short)?;
            let len = self.uleb()?;
            out.push((spec, len));
        }
        Ok(out)
    }
}

const DEFLATE_BIT: u32 = 0b1000;
/// The action column (id 4, unsigned RLE) has one row per operation, in changes and documents.
const ACTION_COLUMN: u32 = 4;
/// The change-actor column of a document's change metadata (id 0) has one row per change.
const CHANGE_ACTOR_COLUMN: u32 = 0;

/// What the chunks checked so far may still use.
struct Budget {
    inflated: usize,
    ops: u64,
    changes: u64,
}

impl Budget {
    /// Inflates deflated bytes, within the remaining budget.
    fn inflate(&mut self, deflated: &[u8]) -> Result<Vec<u8>, ChunkError> {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(deflated)
            .take(self.inflated as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| ChunkError::Invalid {
                index: 0,
                reason: format!("deflate: {e}"),
            })?;
        if out.len() > self.inflated {
            return Err(ChunkError::TooLarge {
                what: "inflated size / 解压后大小",
            });
        }
        self.inflated -= out.len();
        Ok(out)
    }

    fn spend_ops(&mut self, rows: u64) -> Result<(), ChunkError> {
        self.ops = self.ops.checked_sub(rows).ok_or(ChunkError::TooLarge {
            what: "operations / 操作数",
        })?;
        Ok(())
    }

    /// Counts the rows of an unsigned RLE column, refusing once they pass `max`.
    fn rle_rows(data: &[u8], max: u64) -> Result<u64, Bad> {
        let too_many = || {
            Bad::Limit(ChunkError::TooLarge {
                what: "operations / 操作数",
            })
        };
        let mut r = Reader { bytes: data };
        let mut rows: u64 = 0;
        while !r.bytes.is_empty() {
            let count = r.sleb()?;
            let n = match count {
                c if c > 0 => {
                    r.uleb()?;
                    c as u64
                }
                c if c < 0 => {
                    let n = c.unsigned_abs();
                    for _ in 0..n {
                        r.uleb()?;
                    }
                    n
                }
                _ => r.uleb()?,
            };
            rows = rows.checked_add(n).ok_or_else(too_many)?;
            if rows > max {
                return Err(too_many());
            }
        }
        Ok(rows)
    }

    /// A change chunk's body (after the header): counts its operations.
    fn change(&mut self, body: &[u8]) -> Result<(), Bad> {
        let mut r = Reader { bytes: body };
        let deps = r.uleb()?;
        r.take(deps.checked_mul(32).ok_or(Short)?)?;
        let actor = r.uleb()?;
        r.take(actor)?;
        r.uleb()?; // seq
        r.uleb()?; // start op
        r.sleb()?; // time
        let message = r.uleb()?;
        r.take(message)?;
        r.actors()?;
        let columns = r.columns()?;
        let mut rows = 0;
        for (spec, len) in columns {
            let data = r.take(len)?;
            if spec & DEFLATE_BIT != 0 {
                // Changes never deflate their columns; automerge refuses them.
                return Err(Bad::Short);
            }
            if spec >> 4 == ACTION_COLUMN {
                rows = Self::rle_rows(data, self.ops)?;
            }
        }
        self.spend_ops(rows)?;
        self.changes = self.changes.checked_sub(1).ok_or(ChunkError::TooLarge {
            what: "changes / 变更数",
        })?;
        Ok(())
    }

    /// A document chunk's body: inflates its deflated columns within the budget and counts its
    /// changes and operations.
    fn document(&mut self, body: &[u8]) -> Result<(), Bad> {
        let mut r = Reader { bytes: body };
        r.actors()?;
        let heads = r.uleb()?;
        r.take(heads.checked_mul(32).ok_or(Short)?)?;
        let change_cols = r.columns()?;
        let op_cols = r.columns()?;
        for (cols, row_column, is_ops) in [
            (change_cols, CHANGE_ACTOR_COLUMN, false),
            (op_cols, ACTION_COLUMN, true),
        ] {
            let mut rows = 0;
            for (spec, len) in cols {
                let data = r.take(len)?;
                let inflated;
                let data = if spec & DEFLATE_BIT != 0 {
                    inflated = self.inflate(data)?;
                    &inflated[..]
                } else {
                    data
                };
                if spec >> 4 == row_column && rows == 0 {
                    let max = if is_ops { self.ops } else { self.changes };
                    rows = Self::rle_rows(data, max)?;
                }
            }
            if is_ops {
                self.spend_ops(rows)?;
            } else {
                self.changes = self.changes.checked_sub(rows).ok_or(ChunkError::TooLarge {
                    what: "changes / 变更数",
                })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType, ROOT};

    /// A document with `n` operations whose saved form deflates its columns.
    fn doc(n: usize) -> AutoCommit {
        let mut d = AutoCommit::new();
        let text = d.put_object(ROOT, "notes", ObjType::Text).unwrap();
        d.splice_text(&text, 0, 0, &"备注".repeat(n / 2)).unwrap();
        d.commit();
        d
    }

    #[test]
    fn real_documents_and_changes_pass_and_are_counted() {
        let mut d = doc(2_000);
        let saved = d.save();
        assert_eq!(check(&saved).unwrap(), 1);
        let changes = d.save_after(&[]);
        assert_eq!(check(&changes).unwrap(), 1);
        let both: Vec<u8> = saved.iter().chain(changes.iter()).copied().collect();
        assert_eq!(check(&both).unwrap(), 2);
    }

    #[test]
    fn operation_and_size_limits_refuse_before_automerge_parses() {
        let mut d = doc(2_000);
        let tight = Limits {
            ops: 1_000,
            ..Limits::default()
        };
        for bytes in [d.save(), d.save_after(&[])] {
            assert!(matches!(
                check_with(&bytes, &tight),
                Err(ChunkError::TooLarge { .. })
            ));
        }
        let one_change = Limits {
            changes: 0,
            ..Limits::default()
        };
        assert!(matches!(
            check_with(&d.save_after(&[]), &one_change),
            Err(ChunkError::TooLarge { .. })
        ));
        // A document whose columns inflate past the budget.
        let mut big = doc(200_000);
        let saved = big.save();
        assert!(saved.len() < 100_000, "{} bytes", saved.len());
        let small_budget = Limits {
            inflated_bytes: 1_000,
            ..Limits::default()
        };
        assert!(matches!(
            check_with(&saved, &small_budget),
            Err(ChunkError::TooLarge { .. })
        ));
    }

    #[test]
    fn truncated_and_lying_headers_are_malformed_not_panics() {
        let saved = doc(100).save();
        for cut in [10, 20, saved.len() / 2, saved.len() - 1] {
            assert!(check(&saved[..cut]).is_err(), "cut at {cut}");
        }
        // A change body that claims four billion columns.
        let inner = [0, 1, 7, 1, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f];
        let mut body = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 1, inner.len() as u8];
        body.extend(inner);
        assert!(matches!(check(&body), Err(ChunkError::Invalid { .. })));
    }
}
