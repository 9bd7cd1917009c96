//! Users, devices and bearer tokens. Passwords are argon2 hashes, checked on a blocking thread
//! outside any database transaction (at most two at a time); tokens are random 256-bit values
//! stored only as SHA-256 hashes, bound to a device, expiring and revocable. A device registers
//! its contract-signing key and its automerge actor at its first login and keeps both.

use super::{Env, audit, now_ms};
use crate::authz::Principal;
use crate::config::Config;
use crate::error::ServerError;
use crate::store::{AuditEntry, DeviceRow, NewUser, ReadTx, WriteTx};
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use automerge::ActorId;
use field_core::Role;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Login and token settings.
pub struct AuthSettings {
    pub token_ttl: Duration,
    /// Attempts per account and client address.
    pub limiter: LoginLimiter,
    /// Attempts per client address.
    pub address_limiter: LoginLimiter,
    /// The header carrying the client's address behind a trusted proxy (lower case), if any.
    pub client_ip_header: Option<String>,
    /// Bounds concurrent password hashing (CPU-heavy).
    pub hashing: tokio::sync::Semaphore,
    /// Browser cookies carry `Secure`.
    pub secure_cookies: bool,
    /// Requests to the customers' pages per client address.
    pub public_limiter: LoginLimiter,
    /// Online applications filed per client address and hour.
    pub apply_limiter: LoginLimiter,
}

impl AuthSettings {
    pub fn new(config: &Config) -> Self {
        AuthSettings {
            token_ttl: Duration::from_secs(u64::from(config.token_ttl_days) * 86_400),
            limiter: LoginLimiter::new(config.login_attempts_per_minute, Duration::from_secs(60)),
            address_limiter: LoginLimiter::new(
                config.login_attempts_per_minute_per_address,
                Duration::from_secs(60),
            ),
            public_limiter: LoginLimiter::new(
                config.public_requests_per_minute_per_address,
                Duration::from_secs(60),
            ),
            apply_limiter: LoginLimiter::new(
                config.applications_per_hour_per_address,
                Duration::from_secs(3600),
            ),
            client_ip_header: Some(config.client_ip_header.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty()),
            hashing: tokio::sync::Semaphore::new(2),
            secure_cookies: config.secure_cookies,
        }
    }
}

pub fn hash_password(password: &str) -> Result<String, ServerError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| ServerError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServerError::Internal(e.to_string()))
}

/// A hash of a random password: checking against it costs what a real check costs, so unknown
/// user names cannot be told from wrong passwords by timing.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password").expect("argon2 hashes"))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

pub fn check_name(field: &'static str, value: &str) -> Result<(), ServerError> {
    if value.is_empty()
        || value.len() > 64
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(ServerError::bad(
            "invalid_name",
            format!("{field} 无效：1–64 位字母、数字或 - _ ."),
            format!("{field} is invalid: 1–64 letters, digits or - _ ."),
        ));
    }
    Ok(())
}

/// Adds a user (CLI `fieldline user add`, the admin page, demo data), on the record as done by
/// `by`. Hash the password first ([`hash_password`]), outside the transaction.
pub fn add_user(
    tx: &mut dyn WriteTx,
    username: &str,
    password_hash: &str,
    role: Role,
    unit: &str,
    display_name: &str,
    by: &str,
) -> Result<i64, ServerError> {
    check_name("username", username)?;
    if unit.trim().is_empty() || display_name.trim().is_empty() {
        return Err(ServerError::bad(
            "missing_field",
            "单位和姓名不能为空",
            "unit and display name are required",
        ));
    }
    super::units::require(tx, unit.trim())?;
    let id = tx
        .insert_user(&NewUser {
            username,
            password_hash,
            role: role.as_str(),
            unit: unit.trim(),
            display_name: display_name.trim(),
            created_at: now_ms(),
        })?
        .ok_or_else(|| {
            ServerError::bad(
                "user_exists",
                format!("用户 {username} 已存在"),
                format!("user {username} already exists"),
            )
        })?;
    audit::append(
        tx,
        AuditEntry {
            kind: "user_added".into(),
            username: Some(by.to_string()),
            detail: serde_json::json!({
                "user": username, "role": role.as_str(), "unit": unit.trim(),
            }),
            ..Default::default()
        },
    )?;
    Ok(id)
}

/// The shortest and longest password a user may be given.
pub const PASSWORD_MIN: usize = 12;
pub const PASSWORD_MAX: usize = 128;

/// Checks a new password.
pub fn check_password(password: &str) -> Result<(), ServerError> {
    // OWASP ASVS 2.1.1: at least 12 characters (generated passwords have 12), at most 128.
    let n = password.chars().count();
    if n < PASSWORD_MIN {
        return Err(ServerError::bad(
            "weak_password",
            format!("密码至少 {PASSWORD_MIN} 位"),
            format!("the password needs at least {PASSWORD_MIN} characters"),
        ));
    }
    if n > PASSWORD_MAX {
        return Err(ServerError::bad(
            "long_password",
            format!("密码最多 {PASSWORD_MAX} 位"),
            format!("the password may have at most {PASSWORD_MAX} characters"),
        ));
    }
    Ok(())
}

/// A freshly issued token.
pub struct Issued {
    pub token: String,
    pub expires_at_ms: i64,
    pub principal: Principal,
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// What a login asks for.
pub struct LoginAttempt {
    pub username: String,
    pub password: String,
    pub device_id: String,
    pub device_key: Option<String>,
    pub device_actor: Option<String>,
    /// The client's address, for rate limits and the audit.
    pub client: String,
    /// The device already holds a valid token of this user (it showed it): no login limit
    /// ever refuses it.
    pub holds_token: bool,
}

fn wrong() -> ServerError {
    ServerError::Unauthorized("wrong username or password")
}

/// Verifies a password and issues a token for the device. The same answer, in the same time,
/// for an unknown user and a wrong password.
pub async fn login(env: &Arc<Env>, attempt: LoginAttempt) -> Result<Issued, ServerError> {
    check_name("device_id", &attempt.device_id)?;
    if let Some(k) = &attempt.device_key
        && field_core::contract::parse_public_key(k).is_err()
    {
        return Err(ServerError::bad(
            "bad_device_key",
            "设备签名公钥格式无效",
            "the device's signing key is not a valid ed25519 public key (64 hex digits)",
        ));
    }
    if let Some(a) = &attempt.device_actor
        && (a.is_empty() || a.len() > 64 || hex::decode(a).is_err())
    {
        return Err(ServerError::bad(
            "bad_device_actor",
            "设备的 automerge 标识格式无效",
            "the device's automerge actor must be 1–32 bytes of hex",
        ));
    }
    // One spelling per actor: the unique index compares text.
    let mut attempt = attempt;
    attempt.device_actor = attempt.device_actor.map(|a| a.to_ascii_lowercase());
    let user = check_credentials(
        env,
        &attempt.username,
        &attempt.password,
        &attempt.device_id,
        &attempt.client,
        attempt.holds_token,
    )
    .await?;
    let env2 = env.clone();
    env2.blocking(move |env| {
        let mut tx = env.store.write()?;
        let role =
            Role::parse(&user.role).ok_or_else(|| ServerError::Internal("bad role".into()))?;
        let device = tx.device(&attempt.device_id)?;
        if tx.device_revoked(&attempt.device_id)?.flatten().is_some() {
            audit::append(
                &mut *tx,
                AuditEntry {
                    kind: "login_refused".into(),
                    username: Some(user.username.clone()),
                    device_id: Some(attempt.device_id.clone()),
                    detail: serde_json::json!({ "client": attempt.client, "why": "device_revoked" }),
                    ..Default::default()
                },
            )?;
            tx.commit()?;
            return Err(ServerError::forbidden(
                "该设备已被管理员吊销（如手机丢失），请联系管理员恢复后再登录",
                "this device was revoked by an admin (a lost phone): ask an admin to let it back, then log in",
            ));
        }
        if let Some(d) = &device {
            if d.user_id != user.id {
                return Err(ServerError::forbidden(
                    "该设备已登记给其他用户",
                    "this device is registered to another user",
                ));
            }
            if let (Some(old), Some(new)) = (&d.public_key, &attempt.device_key)
                && old != new
            {
                return Err(ServerError::conflict(
                    "device_key_changed",
                    "该设备已登记了另一把签名密钥；如设备被重置，请以新设备身份登录",
                    "this device registered another signing key; a reset phone must log in as a new device",
                ));
            }
            if let (Some(old), Some(new)) = (&d.actor, &attempt.device_actor)
                && old != new
            {
                return Err(ServerError::conflict(
                    "device_actor_changed",
                    "该设备已登记了另一个数据标识；如设备被重置，请以新设备身份登录",
                    "this device registered another automerge actor; a reset phone must log in as a new device",
                ));
            }
        }
        // An actor is an identity: a device may register only one nobody else writes as (the
        // server, or any other device, whose changes would then be attributed to it).
        if let Some(actor) = &attempt.device_actor
            && device.as_ref().is_none_or(|d| d.actor.is_none())
        {
            check_actor_free(&*tx, actor, &attempt.device_id)?;
        }
        let now = now_ms();
        tx.upsert_device(&DeviceRow {
            device_id: attempt.device_id.clone(),
            user_id: user.id,
            last_seen: now,
            public_key: attempt.device_key.clone(),
            actor: attempt.device_actor.clone(),
        })?;
        let actor = tx
            .device(&attempt.device_id)?
            .and_then(|d| d.actor)
            .and_then(|a| hex::decode(a).ok())
            .map(ActorId::from);
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = hex::encode(raw);
        let expires = now + env.auth.token_ttl.as_millis() as i64;
        tx.insert_token(&token_hash(&token), user.id, &attempt.device_id, now, expires)?;
        audit::append(
            &mut *tx,
            AuditEntry {
                kind: "login".into(),
                username: Some(user.username.clone()),
                role: Some(user.role.clone()),
                device_id: Some(attempt.device_id.clone()),
                detail: serde_json::json!({ "client": attempt.client }),
                ..Default::default()
            },
        )?;
        tx.commit()?;
        Ok(Issued {
            token,
            expires_at_ms: expires,
            principal: Principal {
                user_id: user.id,
                username: user.username,
                display_name: user.display_name,
                role,
                unit: user.unit,
                device_id: attempt.device_id,
                actor,
            },
        })
    })
    .await
}

/// Refuses an automerge actor that is the server's or another device's.
fn check_actor_free(tx: &dyn ReadTx, actor: &str, device_id: &str) -> Result<(), ServerError> {
    let server = super::docs::server_actor().to_hex_string();
    let taken = actor == server
        || tx
            .actor_devices(&[actor.to_string()])?
            .iter()
            .any(|(_, device, _, _)| device != device_id);
    if taken {
        return Err(ServerError::conflict(
            "actor_taken",
            "该数据标识已属于其他设备或服务器：请以新的标识登录（重新安装应用）",
            "this automerge actor belongs to another device or to the server: log in with a new one (reinstall the app)",
        ));
    }
    Ok(())
}

/// Checks a user name and password within the login limits: the hash is checked outside any
/// transaction (a bounded number at a time, the same cost for unknown users), a failure is
/// audited. Returns the user, enabled and with the right password.
///
/// The limits count attempts per client address and per account-and-address pair, so rotating
/// names from one address gets nowhere, and a stranger's guesses never lock the account's owner
/// out from their own address. Guesses spread over many addresses meet a backoff: past
/// [`BACKOFF_AFTER`] failures of an account in a minute each attempt on it waits longer (at most
/// [`BACKOFF_MAX`]), which slows them without refusing anyone. A device showing a valid token
/// of the account (`trusted`) skips both.
pub async fn check_credentials(
    env: &Arc<Env>,
    username: &str,
    password: &str,
    device: &str,
    client: &str,
    trusted: bool,
) -> Result<crate::store::UserRow, ServerError> {
    let short = |s: &str| s.chars().take(128).collect::<String>();
    let minute = super::now_ms().div_euclid(60_000);
    let failures_key = format!("fail:{}", short(username));
    if !trusted {
        env.auth.address_limiter.check(client)?;
        env.auth
            .limiter
            .check(&format!("{}\u{0}{}", short(username), short(client)))?;
        // The same limits across every node on this database.
        let keys = (
            format!("pair:{}|{}", short(username), short(client)),
            format!("addr:{}", short(client)),
            failures_key.clone(),
        );
        let (per_pair, per_address, failures) = env
            .blocking(move |env| {
                let mut tx = env.store.write()?;
                let counts = (
                    tx.count_login_attempt(&keys.0, minute)?,
                    tx.count_login_attempt(&keys.1, minute)?,
                    tx.login_attempts(&keys.2, minute)?,
                );
                tx.commit()?;
                Ok(counts)
            })
            .await?;
        if per_pair > i64::from(env.auth.limiter.max())
            || per_address > i64::from(env.auth.address_limiter.max())
        {
            return Err(ServerError::TooManyRequests);
        }
        let wait = backoff(failures);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
    let name = username.to_string();
    let user = env
        .blocking(move |env| Ok(env.store.read()?.user_by_name(&name)?))
        .await?;
    let permit = env
        .auth
        .hashing
        .acquire()
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))?;
    let pw = password.to_string();
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let ok = tokio::task::spawn_blocking(move || {
        verify_password(&pw, hash.as_deref().unwrap_or_else(|| decoy_hash()))
    })
    .await
    .map_err(|e| ServerError::Internal(e.to_string()))?;
    drop(permit);
    match user {
        Some(u) if ok && !u.disabled => Ok(u),
        _ => {
            env.blocking(move |env| {
                let mut tx = env.store.write()?;
                tx.count_login_attempt(&failures_key, minute)?;
                tx.commit()?;
                Ok(())
            })
            .await?;
            let entry = AuditEntry {
                kind: "login_failed".into(),
                username: Some(username.to_string()),
                device_id: Some(device.to_string()),
                detail: serde_json::json!({ "client": client }),
                ..Default::default()
            };
            env.blocking(move |env| audit::record(env, entry)).await?;
            Err(wrong())
        }
    }
}

/// Resolves a bearer token (a read; never waits for the writer).
pub fn authenticate(tx: &dyn ReadTx, token: &str) -> Result<Principal, ServerError> {
    let Some(row) = tx.token(&token_hash(token))? else {
        return Err(ServerError::Unauthorized("unknown token"));
    };
    if row.revoked || row.user.disabled {
        return Err(ServerError::Unauthorized("token revoked"));
    }
    if row.expires_at < now_ms() {
        return Err(ServerError::Unauthorized("token expired"));
    }
    Ok(Principal {
        user_id: row.user.id,
        username: row.user.username,
        display_name: row.user.display_name,
        role: Role::parse(&row.user.role)
            .ok_or_else(|| ServerError::Internal("bad role".into()))?,
        unit: row.user.unit,
        device_id: row.device_id,
        actor: row
            .device_actor
            .and_then(|a| hex::decode(a).ok())
            .map(ActorId::from),
    })
}

/// Revokes a device (a lost phone): every token it holds ends and its password no longer logs
/// it in until an admin lets it back ([`restore_device`]). Returns how many tokens ended; an
/// unknown device is an error.
pub fn revoke_device(
    tx: &mut dyn WriteTx,
    device_id: &str,
    by: Option<&str>,
) -> Result<usize, ServerError> {
    let now = now_ms();
    if !tx.set_device_revoked(device_id, Some(now))? {
        return Err(no_device(device_id));
    }
    let n = tx.revoke_device_tokens(device_id, now)?;
    audit::append(
        tx,
        AuditEntry {
            kind: "token_revoked".into(),
            username: by.map(str::to_string),
            device_id: Some(device_id.to_string()),
            detail: serde_json::json!({ "tokens": n }),
            ..Default::default()
        },
    )?;
    Ok(n)
}

/// Lets a revoked device log in again (its user signs in anew; old tokens stay ended).
pub fn restore_device(
    tx: &mut dyn WriteTx,
    device_id: &str,
    by: Option<&str>,
) -> Result<(), ServerError> {
    if !tx.set_device_revoked(device_id, None)? {
        return Err(no_device(device_id));
    }
    audit::append(
        tx,
        AuditEntry {
            kind: "device_restored".into(),
            username: by.map(str::to_string),
            device_id: Some(device_id.to_string()),
            ..Default::default()
        },
    )?;
    Ok(())
}

fn no_device(device_id: &str) -> ServerError {
    ServerError::NotFoundNamed {
        zh: format!("没有设备 {device_id}"),
        en: format!("there is no device {device_id}"),
    }
}

/// Failures of one account in a minute before its attempts start to wait.
pub const BACKOFF_AFTER: i64 = 10;
/// The longest wait of one attempt.
pub const BACKOFF_MAX: Duration = Duration::from_secs(8);

/// How long an attempt on an account waits after `failures` failures this minute: nothing up
/// to [`BACKOFF_AFTER`], then doubling from 250 ms up to [`BACKOFF_MAX`].
pub fn backoff(failures: i64) -> Duration {
    if failures < BACKOFF_AFTER {
        return Duration::ZERO;
    }
    let doublings = (failures - BACKOFF_AFTER).min(10) as u32;
    (Duration::from_millis(250) * 2u32.pow(doublings)).min(BACKOFF_MAX)
}

/// Most keys a limiter remembers; a flood of new keys beyond it is refused, not stored.
const LIMITER_KEYS_MAX: usize = 100_000;

/// A fixed-window limiter for login attempts (per account and address, or per address). Its memory is
/// bounded: keys older than the window are forgotten, and when it is full new keys are refused.
pub struct LoginLimiter {
    max: u32,
    window: Duration,
    hits: Mutex<HashMap<String, (Instant, u32)>>,
}

impl LoginLimiter {
    pub fn new(max: u32, window: Duration) -> Self {
        LoginLimiter {
            max,
            window,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt; `Err` when over the limit.
    pub fn check(&self, key: &str) -> Result<(), ServerError> {
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if hits.len() >= LIMITER_KEYS_MAX && !hits.contains_key(key) {
            hits.retain(|_, (start, _)| now.duration_since(*start) < self.window);
            if hits.len() >= LIMITER_KEYS_MAX {
                return Err(ServerError::TooManyRequests);
            }
        }
        // Bounded key length: a key is an address or a user name.
        let key: String = key.chars().take(128).collect();
        let entry = hits.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 > self.max {
            return Err(ServerError::TooManyRequests);
        }
        Ok(())
    }

    /// Attempts allowed per window.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.hits.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Forgets login attempts older than two minutes (run every hour).
pub fn prune_attempts(env: &Env) -> Result<usize, ServerError> {
    let mut tx = env.store.write()?;
    let n = tx.prune_login_attempts(super::now_ms().div_euclid(60_000) - 2)?;
    tx.commit()?;
    Ok(n)
}

/// The client's address: the TCP peer, or behind a trusted proxy the address the proxy put in
/// `header` (the last entry of a list such as `X-Forwarded-For`: the one the proxy added).
pub fn client_address(
    peer: std::net::IpAddr,
    header: Option<&str>,
    headers: &axum::http::HeaderMap,
) -> String {
    header
        .and_then(|h| headers.get(h))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .map(str::trim)
        .and_then(|v| v.parse::<std::net::IpAddr>().ok())
        .unwrap_or(peer)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_counts_per_key_and_stays_bounded() {
        let l = LoginLimiter::new(2, Duration::from_secs(60));
        assert!(l.check("a").is_ok() && l.check("a").is_ok());
        assert!(l.check("a").is_err());
        assert!(l.check("b").is_ok());
        // A flood of new keys fills it, then is refused rather than stored.
        for i in 0..LIMITER_KEYS_MAX {
            let _ = l.check(&format!("user-{i}"));
        }
        assert_eq!(l.len(), LIMITER_KEYS_MAX);
        assert!(l.check("one-more").is_err());
        assert!(l.check("b").is_ok(), "known keys still count");
    }

    #[test]
    fn behind_a_proxy_the_client_is_the_address_it_added() {
        let peer: std::net::IpAddr = "10.0.0.1".parse().unwrap();
        let mut h = axum::http::HeaderMap::new();
        h.insert("x-forwarded-for", "1.2.3.4, 5.6.7.8".parse().unwrap());
        assert_eq!(client_address(peer, None, &h), "10.0.0.1");
        assert_eq!(client_address(peer, Some("x-forwarded-for"), &h), "5.6.7.8");
        h.insert("x-forwarded-for", "not an address".parse().unwrap());
        assert_eq!(
            client_address(peer, Some("x-forwarded-for"), &h),
            "10.0.0.1"
        );
    }
}
