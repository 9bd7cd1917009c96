//! Sealed blob files: XChaCha20-Poly1305 over 64 KiB segments, so a range (an upload chunk)
//! is read by opening only the segments it covers.
//!
//! File layout: `FLB\x01`, a 16-byte random nonce prefix, then each segment's ciphertext and
//! 16-byte tag. Segment `i`'s nonce is the prefix, `i` (u32, big-endian), a byte that is 1 on the
//! last segment and three zero bytes, so segments cannot be reordered, dropped or the file cut
//! short without the tags failing; the blob's SHA-256 is each segment's associated data, so a
//! file moved to another blob's name does not open either. Files are named by an HMAC of the
//! SHA-256, so the directory does not reveal which photos (with known hashes) the phone holds.

use super::StoreError;
use super::key::{Purpose, StoreKey};
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

pub(crate) const MAGIC: &[u8; 4] = b"FLB\x01";
const PREFIX: usize = 16;
pub(crate) const HEADER: usize = MAGIC.len() + PREFIX;
const SEGMENT: usize = 64 * 1024;
const TAG: usize = 16;

/// Sealing and naming keys of one store's blob files.
pub(crate) struct BlobSeal {
    aead: XChaCha20Poly1305,
    name_key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for BlobSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlobSeal(…)")
    }
}

fn damaged(sha256: &str, what: &str) -> StoreError {
    StoreError::Blob(format!(
        "照片文件 {sha256:.16}… 无法解密（密钥不对或文件损坏）/ blob {sha256:.16}… cannot be decrypted ({what}: wrong key or damaged file)"
    ))
}

fn segments(len: usize) -> usize {
    len.div_ceil(SEGMENT).max(1)
}

/// The size of the sealed file of `len` plain bytes.
pub(crate) fn sealed_len(len: usize) -> u64 {
    (HEADER + segments(len) * TAG + len) as u64
}

fn nonce(prefix: &[u8], index: usize, last: bool) -> XNonce {
    let mut n = [0u8; 24];
    n[..PREFIX].copy_from_slice(prefix);
    n[PREFIX..PREFIX + 4].copy_from_slice(&(index as u32).to_be_bytes());
    n[PREFIX + 4] = u8::from(last);
    XNonce::from(n)
}

impl BlobSeal {
    pub(crate) fn new(key: &StoreKey) -> BlobSeal {
        let seal = key.derive(Purpose::BlobSeal);
        BlobSeal {
            aead: XChaCha20Poly1305::new(seal.as_slice().into()),
            name_key: key.derive(Purpose::BlobName),
        }
    }

    /// The file name of a blob: HMAC-SHA256 of its SHA-256 (hex).
    pub(crate) fn file_name(&self, sha256: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.name_key.as_slice())
            .expect("HMAC takes any key length");
        mac.update(sha256.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub(crate) fn seal(&self, sha256: &str, plain: &[u8]) -> Vec<u8> {
        let mut prefix = [0u8; PREFIX];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut prefix);
        let mut out = Vec::with_capacity(sealed_len(plain.len()) as usize);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&prefix);
        let count = segments(plain.len());
        for i in 0..count {
            let chunk =
                &plain[(i * SEGMENT).min(plain.len())..((i + 1) * SEGMENT).min(plain.len())];
            let start = out.len();
            out.extend_from_slice(chunk);
            let tag = self
                .aead
                .encrypt_in_place_detached(
                    &nonce(&prefix, i, i + 1 == count),
                    sha256.as_bytes(),
                    &mut out[start..],
                )
                .expect("segments are far below XChaCha20-Poly1305's message limit");
            out.extend_from_slice(&tag);
        }
        out
    }

    /// Opens segments `first..` of a sealed file whose header is `header` and whose whole sealed
    /// length is `file_len`; `body` holds those segments' sealed bytes back to back.
    fn open_segments(
        &self,
        sha256: &str,
        header: &[u8],
        file_len: u64,
        first: usize,
        body: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        if header.len() != HEADER || &header[..MAGIC.len()] != MAGIC {
            return Err(damaged(sha256, "header"));
        }
        let prefix = &header[MAGIC.len()..];
        let payload = file_len
            .checked_sub(HEADER as u64)
            .ok_or_else(|| damaged(sha256, "length"))?;
        let count = payload.div_ceil((SEGMENT + TAG) as u64) as usize;
        let mut out = Vec::with_capacity(body.len());
        for (k, sealed) in body.chunks(SEGMENT + TAG).enumerate() {
            let i = first + k;
            if sealed.len() < TAG {
                return Err(damaged(sha256, "length"));
            }
            let (data, tag) = sealed.split_at(sealed.len() - TAG);
            let start = out.len();
            out.extend_from_slice(data);
            self.aead
                .decrypt_in_place_detached(
                    &nonce(prefix, i, i + 1 == count),
                    sha256.as_bytes(),
                    &mut out[start..],
                    tag.into(),
                )
                .map_err(|_| damaged(sha256, "tag"))?;
        }
        Ok(out)
    }

    /// The plain bytes of a whole sealed file.
    pub(crate) fn open(&self, sha256: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        if sealed.len() < HEADER + TAG {
            return Err(damaged(sha256, "length"));
        }
        let (header, body) = sealed.split_at(HEADER);
        self.open_segments(sha256, header, sealed.len() as u64, 0, body)
    }

    /// `len` plain bytes from `offset`, reading only the segments they fall in.
    pub(crate) fn open_range(
        &self,
        sha256: &str,
        file: &mut std::fs::File,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, StoreError> {
        use std::io::{Read, Seek, SeekFrom};
        let io = |e: std::io::Error| StoreError::Blob(format!("blob {sha256:.16}…: {e}"));
        let file_len = file.metadata().map_err(io)?.len();
        let mut header = [0u8; HEADER];
        file.read_exact(&mut header).map_err(io)?;
        let first = (offset / SEGMENT as u64) as usize;
        let end = offset.saturating_add(len as u64);
        let last = end.div_ceil(SEGMENT as u64).max(first as u64 + 1) as usize;
        let from = HEADER as u64 + (first * (SEGMENT + TAG)) as u64;
        file.seek(SeekFrom::Start(from)).map_err(io)?;
        let mut body = Vec::with_capacity((last - first) * (SEGMENT + TAG));
        file.take(((last - first) * (SEGMENT + TAG)) as u64)
            .read_to_end(&mut body)
            .map_err(io)?;
        if body.is_empty() {
            return Ok(Vec::new());
        }
        let mut plain = self.open_segments(sha256, &header, file_len, first, &body)?;
        let skip = ((offset - (first * SEGMENT) as u64) as usize).min(plain.len());
        plain.drain(..skip);
        plain.truncate(len);
        Ok(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal() -> BlobSeal {
        BlobSeal::new(&StoreKey::new(&[9; 32]).unwrap())
    }

    #[test]
    fn round_trips_every_size_around_segment_edges() {
        let s = seal();
        for len in [0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 17] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let sealed = s.seal("abc", &plain);
            assert_eq!(sealed.len() as u64, sealed_len(len), "{len}");
            assert_eq!(s.open("abc", &sealed).unwrap(), plain, "{len}");
            assert!(s.open("abd", &sealed).is_err(), "bound to its name");
        }
    }

    #[test]
    fn ranges_open_only_what_they_cover() {
        let s = seal();
        let plain: Vec<u8> = (0..(3 * SEGMENT + 100)).map(|i| (i % 253) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b");
        std::fs::write(&path, s.seal("x", &plain)).unwrap();
        for (off, len) in [
            (0, 10),
            (SEGMENT - 5, 10),
            (SEGMENT, SEGMENT),
            (2 * SEGMENT + 99, 4 * SEGMENT),
            (plain.len(), 10),
            (plain.len() + 5, 10),
        ] {
            let mut f = std::fs::File::open(&path).unwrap();
            let got = s.open_range("x", &mut f, off as u64, len).unwrap();
            let want: Vec<u8> = plain.iter().skip(off).take(len).copied().collect();
            assert_eq!(got, want, "{off}+{len}");
        }
    }

    #[test]
    fn tampering_truncation_and_other_keys_fail() {
        let s = seal();
        let plain = vec![5u8; 2 * SEGMENT + 3];
        let sealed = s.seal("x", &plain);
        let mut flipped = sealed.clone();
        flipped[HEADER + 10] ^= 1;
        assert!(s.open("x", &flipped).is_err());
        // Cut at a segment boundary: the new last segment was not sealed as last.
        assert!(
            s.open("x", &sealed[..HEADER + 2 * (SEGMENT + TAG)])
                .is_err()
        );
        let other = BlobSeal::new(&StoreKey::new(&[8; 32]).unwrap());
        assert!(other.open("x", &sealed).is_err());
        assert_ne!(s.file_name("x"), other.file_name("x"));
        assert_eq!(s.file_name("x").len(), 64);
    }
}
