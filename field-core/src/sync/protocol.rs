//! The sync protocol (`POST /api/v1/sync`), shared by the client here and the server.
//!
//! Bodies are CBOR, compressed with zstd (`Content-Encoding: zstd`). One round trip carries, per
//! dirty job, the automerge changes the server may lack plus the device's heads, and the device's
//! feed cursor; the response carries acknowledgements, the changes the device lacks (a page of the
//! server's change feed) and the next cursor. Every part is idempotent: automerge deduplicates
//! changes by hash, and the cursor only advances after the device has stored a page.
//!
//! See `docs/sync-protocol.md` for the full description.

use serde::{Deserialize, Serialize};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u32 = 1;
/// The oldest client protocol the server accepts.
pub const MIN_PROTOCOL_VERSION: u32 = 1;
/// HTTP header carrying the protocol version.
pub const PROTOCOL_HEADER: &str = "fieldline-protocol";
/// Largest request body the server accepts (compressed).
pub const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;
/// Largest request body after decompression.
pub const MAX_DECODED_BYTES: usize = 128 * 1024 * 1024;

/// A 32-byte automerge change hash.
pub type Hash = serde_bytes::ByteBuf;

/// One job's outgoing changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushJob {
    pub job_id: String,
    /// automerge change chunks the server may lack (`save_after(base)`).
    #[serde(with = "serde_bytes")]
    pub changes: Vec<u8>,
    /// The device's heads for this job after these changes.
    pub heads: Vec<Hash>,
}

/// An automerge sync-protocol message for one job (fallback when the server lacks a base).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncMessage {
    pub job_id: String,
    #[serde(with = "serde_bytes")]
    pub message: Vec<u8>,
}

/// The request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    pub protocol: u32,
    pub device_id: String,
    /// The feed cursor of the last page this device stored (0 at first).
    pub cursor: u64,
    pub push: Vec<PushJob>,
    /// Continuing automerge sync-protocol exchanges.
    #[serde(default)]
    pub messages: Vec<SyncMessage>,
    /// Largest page of feed changes the device wants, in bytes (the server caps it).
    #[serde(default)]
    pub page_bytes: Option<u64>,
}

/// The server's acknowledgement of a pushed job: its heads after merging, durable on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub job_id: String,
    pub heads: Vec<Hash>,
}

/// Changes of one job the device lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullJob {
    pub job_id: String,
    #[serde(with = "serde_bytes")]
    pub changes: Vec<u8>,
}

/// A job the server refused, and why (in Chinese and English). Nothing of the job's push was
/// stored; the other jobs of the request were handled as usual.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    pub job_id: String,
    pub code: String,
    pub zh: String,
    pub en: String,
    /// The document paths the refusal is about (e.g. `review.state`), when it names any.
    #[serde(default)]
    pub paths: Vec<String>,
}

/// The response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    pub protocol: u32,
    pub acks: Vec<Ack>,
    /// Jobs whose changes could not be applied because the server lacks their base: the device
    /// continues with `messages` (automerge's sync protocol).
    pub fallback: Vec<String>,
    pub messages: Vec<SyncMessage>,
    pub rejected: Vec<Rejected>,
    pub pull: Vec<PullJob>,
    /// Store this after applying `pull`; send it next time.
    pub cursor: u64,
    /// More feed pages are waiting.
    pub more: bool,
    /// Jobs that left the caller's scope (e.g. reassigned) within this page.
    #[serde(default)]
    pub gone: Vec<String>,
    /// Photo files that jobs this request pushed name but the server lacks (e.g. lost with a
    /// restore from a backup): a device holding one uploads it again.
    #[serde(default)]
    pub wanted_blobs: Vec<String>,
    /// The server's countersigning key and then its retired ones (after a key rotation the
    /// phone learns the new key without logging in again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_keys: Vec<String>,
}

/// One item of reference data (`GET /api/v1/reference?after=`, JSON): a rule set, a write
/// policy or a calendar bundle, exactly as installed on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceItem {
    pub seq: i64,
    /// `rule_set`, `write_policy` or `calendar` (others: from a newer server, skipped).
    pub kind: String,
    pub body: String,
}

/// A page of reference data: store `next` and ask again until `items` is empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferencePage {
    pub items: Vec<ReferenceItem>,
    pub next: i64,
}

/// Error body of every non-2xx API response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: String,
    pub zh: String,
    pub en: String,
}

/// Login request (`POST /api/v1/auth/login`, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    pub device_id: String,
    /// The device's ed25519 public key (hex) for contract signatures, registered on first
    /// login; a device id cannot change its key later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<String>,
    /// The automerge actor (hex) this device writes as, registered on first login: the server
    /// accepts only changes by this actor from this device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_actor: Option<String>,
}

/// A user as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub unit: String,
}

/// Login response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginResponse {
    pub token: String,
    pub expires_at: String,
    pub user: UserInfo,
    /// The server's ed25519 public key (hex) that countersigns contracts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_key: Option<String>,
    /// The server's earlier keys (rotated out), still trusted for the receipts they signed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_server_keys: Vec<String>,
}

/// Errors encoding or decoding a body.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("请求体解压失败 / the body is not valid zstd: {0}")]
    Zstd(String),
    #[error("请求体过大 / the body is larger than {0} bytes once decompressed")]
    TooLarge(usize),
    #[error("请求体格式错误 / the body is not valid CBOR for this message: {0}")]
    Cbor(String),
}

/// CBOR + zstd.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut cbor = Vec::new();
    ciborium::into_writer(value, &mut cbor).expect("serialising to memory cannot fail");
    zstd::bulk::compress(&cbor, 3).expect("compressing in memory cannot fail")
}

/// Inverse of [`encode`], with a limit on the decompressed size.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], max: usize) -> Result<T, CodecError> {
    use std::io::Read;
    let mut decoder =
        zstd::stream::read::Decoder::new(bytes).map_err(|e| CodecError::Zstd(e.to_string()))?;
    // A frame may not make the decoder allocate a larger window than our encoder ever uses.
    decoder
        .window_log_max(ZSTD_WINDOW_LOG_MAX)
        .map_err(|e| CodecError::Zstd(e.to_string()))?;
    let mut out = Vec::new();
    let read = (&mut decoder)
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| CodecError::Zstd(e.to_string()))?;
    if read > max {
        return Err(CodecError::TooLarge(max));
    }
    ciborium::de::from_reader_with_recursion_limit(out.as_slice(), CBOR_NESTING_MAX)
        .map_err(|e| CodecError::Cbor(e.to_string()))
}

/// Deepest CBOR nesting a message may have (the messages need 4 levels).
pub const CBOR_NESTING_MAX: usize = 32;
/// Largest zstd window a body may ask the decoder for (2^23 = 8 MiB; level 3 uses 2^21).
pub const ZSTD_WINDOW_LOG_MAX: u32 = 23;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_limits() {
        let req = SyncRequest {
            protocol: PROTOCOL_VERSION,
            device_id: "d".into(),
            cursor: 7,
            push: vec![PushJob {
                job_id: "j".into(),
                changes: vec![1, 2, 3],
                heads: vec![serde_bytes::ByteBuf::from(vec![0u8; 32])],
            }],
            messages: vec![],
            page_bytes: None,
        };
        let bytes = encode(&req);
        assert_eq!(decode::<SyncRequest>(&bytes, 1 << 20).unwrap(), req);
        assert!(matches!(
            decode::<SyncRequest>(&bytes, 4),
            Err(CodecError::TooLarge(4))
        ));
        assert!(matches!(
            decode::<SyncRequest>(b"garbage", 1 << 20),
            Err(CodecError::Zstd(_))
        ));
        let not_request = encode(&"hello");
        assert!(matches!(
            decode::<SyncRequest>(&not_request, 1 << 20),
            Err(CodecError::Cbor(_))
        ));
    }
}
