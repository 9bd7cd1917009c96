//! `GET /api/v1/reference?after=<seq>`: the reference data (rule sets, write policies, calendar
//! bundles) installed after the phone's cursor, for its user's unit and every unit. Phones call
//! it at the end of each sync (see `docs/sync-protocol.md`).

use super::caller::Caller;
use super::office::ApiQuery;
use crate::error::ServerError;
use crate::service::Env;
use crate::service::reference::{self, ReferencePage};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct After {
    pub after: i64,
}

pub async fn feed(
    State(env): State<Arc<Env>>,
    Caller(who): Caller,
    ApiQuery(q): ApiQuery<After>,
) -> Result<Json<ReferencePage>, ServerError> {
    Ok(Json(
        env.blocking(move |env| reference::feed(env, &who, q.after))
            .await?,
    ))
}
