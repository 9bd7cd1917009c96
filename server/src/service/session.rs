//! Browser sessions: a random 256-bit token in an HttpOnly, SameSite=Strict cookie, stored only
//! as its SHA-256, expiring and revocable, with a CSRF token every form must carry. Logins go
//! through the same credential check, limits and audit as phones.

use super::auth;
use super::{Env, audit, now_ms};
use crate::authz::Principal;
use crate::error::ServerError;
use crate::store::{AuditEntry, ReadTx};
use field_core::Role;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// How long a browser session lasts.
pub const SESSION_HOURS: i64 = 12;
/// The device name browser work is recorded under.
pub const WEB_DEVICE: &str = "web";

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub who: Principal,
    /// What every form of this session must send back.
    pub csrf: String,
}

fn random_hex() -> String {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A fresh value for the pre-login CSRF cookie.
pub fn new_csrf() -> String {
    random_hex()
}

/// Compares two secrets in constant time.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Checks the password and opens a session. Returns the cookie's token.
pub async fn login(
    env: &Arc<Env>,
    username: &str,
    password: &str,
    client: &str,
) -> Result<(String, WebSession), ServerError> {
    let user = auth::check_credentials(env, username, password, WEB_DEVICE, client, false).await?;
    let token = random_hex();
    let csrf = random_hex();
    let (t, c, client) = (token.clone(), csrf.clone(), client.to_string());
    let session = env
        .blocking(move |env| {
            let mut tx = env.store.write()?;
            let now = now_ms();
            tx.insert_web_session(&hash(&t), user.id, &c, now, now + SESSION_HOURS * 3_600_000)?;
            audit::append(
                &mut *tx,
                AuditEntry {
                    kind: "login".into(),
                    username: Some(user.username.clone()),
                    role: Some(user.role.clone()),
                    device_id: Some(WEB_DEVICE.into()),
                    detail: serde_json::json!({ "client": client }),
                    ..Default::default()
                },
            )?;
            tx.commit()?;
            Ok(WebSession {
                who: principal(user)?,
                csrf: c,
            })
        })
        .await?;
    Ok((token, session))
}

fn principal(user: crate::store::UserRow) -> Result<Principal, ServerError> {
    Ok(Principal {
        user_id: user.id,
        role: Role::parse(&user.role).ok_or_else(|| ServerError::Internal("bad role".into()))?,
        username: user.username,
        display_name: user.display_name,
        unit: user.unit,
        device_id: WEB_DEVICE.into(),
        actor: None,
    })
}

/// The session of a cookie token, if it is valid.
pub fn resolve(tx: &dyn ReadTx, token: &str) -> Result<Option<WebSession>, ServerError> {
    if token.is_empty() || token.len() > 128 {
        return Ok(None);
    }
    let Some(row) = tx.web_session(&hash(token))? else {
        return Ok(None);
    };
    if row.revoked || row.user.disabled || row.expires_at < now_ms() {
        return Ok(None);
    }
    Ok(Some(WebSession {
        csrf: row.csrf,
        who: principal(row.user)?,
    }))
}

/// Ends a session.
pub fn logout(env: &Env, token: &str, who: &Principal) -> Result<(), ServerError> {
    let mut tx = env.store.write()?;
    tx.revoke_web_session(&hash(token), now_ms())?;
    audit::append(&mut *tx, audit::by(who, "logout"))?;
    tx.commit()?;
    Ok(())
}
