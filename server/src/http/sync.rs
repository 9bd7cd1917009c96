//! `POST /api/v1/sync`: decode (bounded, on a blocking thread, before any database lock), hand
//! the request to the sync service, encode.

use super::caller::Caller;
use crate::error::ServerError;
use crate::service::{Env, sync};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use field_core::sync::protocol::{
    self, MAX_DECODED_BYTES, MIN_PROTOCOL_VERSION, PROTOCOL_HEADER, SyncRequest,
};
use std::sync::Arc;

/// Media type of sync bodies: CBOR compressed with zstd.
pub const SYNC_MEDIA_TYPE: &str = "application/vnd.fieldline.sync+cbor+zstd";

fn check_protocol(headers: &HeaderMap) -> Result<(), ServerError> {
    let client = headers
        .get(PROTOCOL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    if client < MIN_PROTOCOL_VERSION {
        return Err(ServerError::UpgradeRequired {
            client,
            min: MIN_PROTOCOL_VERSION,
        });
    }
    Ok(())
}

pub async fn sync(
    State(env): State<Arc<Env>>,
    Caller(who): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ServerError> {
    check_protocol(&headers)?;
    let bytes = env
        .sync_work(move |env| {
            let req: SyncRequest = protocol::decode(&body, MAX_DECODED_BYTES).map_err(|e| {
                let text = e.to_string();
                match e {
                    protocol::CodecError::TooLarge(_) => ServerError::TooLarge {
                        code: "too_large",
                        zh: text.clone(),
                        en: text,
                    },
                    _ => ServerError::bad("bad_body", text.clone(), text),
                }
            })?;
            drop(body);
            if req.protocol < MIN_PROTOCOL_VERSION {
                return Err(ServerError::UpgradeRequired {
                    client: req.protocol,
                    min: MIN_PROTOCOL_VERSION,
                });
            }
            let resp = sync::handle(env, &who, &req)?;
            env.metrics.sync(resp.acks.len(), resp.rejected.len());
            Ok(protocol::encode(&resp))
        })
        .await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, SYNC_MEDIA_TYPE)],
        bytes,
    ))
}
