//! Work that must run once per cluster (the daily clock recomputation, escalating late
//! supervision orders): a node does it only while it holds the named lease, kept in the database
//! as `holder|expires_ms` under `server_state`. The holder renews it each time it runs; if it
//! stops, another node takes over once the lease has expired. Claiming reads and writes in one
//! write transaction (SQLite's single writer makes it atomic; a PostgreSQL store must lock the
//! row for the same effect).

use super::{Env, now_ms};
use crate::error::ServerError;
use std::time::Duration;

/// Claims (or renews) lease `name` for `holder` until `ttl` from now; false while another
/// holder's lease runs.
pub fn claim(env: &Env, name: &str, holder: &str, ttl: Duration) -> Result<bool, ServerError> {
    let key = format!("lease:{name}");
    let now = now_ms();
    let mut tx = env.store.write()?;
    if let Some(v) = tx.state(&key)?
        && let Some((owner, until)) = v.split_once('|')
        && owner != holder
        && until.parse::<i64>().is_ok_and(|u| u > now)
    {
        return Ok(false);
    }
    let until = now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX));
    tx.set_state(&key, &format!("{holder}|{until}"))?;
    tx.commit()?;
    Ok(true)
}
