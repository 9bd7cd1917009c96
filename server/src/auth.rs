//! Users, devices and bearer tokens. Passwords are argon2 hashes; tokens are random 256-bit
//! values stored only as SHA-256 hashes, bound to a device, expiring and revocable.

use crate::db::now_ms;
use crate::error::ServerError;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use field_core::Role;
use rand::RngCore;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub unit: String,
    pub device_id: String,
}

impl Principal {
    /// Office staff, dispatchers and admins see every job of their unit.
    pub fn sees_unit(&self) -> bool {
        matches!(
            self.role,
            Role::OfficeStaff | Role::Dispatcher | Role::Admin
        )
    }
}

fn hash_password(password: &str) -> Result<String, ServerError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| ServerError::Internal(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServerError::Internal(e.to_string()))
}

fn check_name(field: &'static str, value: &str) -> Result<(), ServerError> {
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

/// Adds a user (CLI `fieldline user add`).
pub fn add_user(
    conn: &Connection,
    username: &str,
    password: &str,
    role: Role,
    unit: &str,
    display_name: &str,
) -> Result<i64, ServerError> {
    check_name("username", username)?;
    if password.chars().count() < 8 {
        return Err(ServerError::bad(
            "weak_password",
            "密码至少 8 位",
            "the password needs at least 8 characters",
        ));
    }
    if unit.trim().is_empty() || display_name.trim().is_empty() {
        return Err(ServerError::bad(
            "missing_field",
            "单位和姓名不能为空",
            "unit and display name are required",
        ));
    }
    let hash = hash_password(password)?;
    let n = conn.execute(
        "INSERT OR IGNORE INTO users (username, password_hash, role, unit, display_name, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![username, hash, role.as_str(), unit.trim(), display_name.trim(), now_ms()],
    )?;
    if n == 0 {
        return Err(ServerError::bad(
            "user_exists",
            format!("用户 {username} 已存在"),
            format!("user {username} already exists"),
        ));
    }
    Ok(conn.last_insert_rowid())
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

struct UserRow {
    id: i64,
    hash: String,
    role: String,
    unit: String,
    display_name: String,
    disabled: bool,
}

/// Verifies a password and issues a token for the device. The same vague error for an unknown
/// user and a wrong password.
pub fn login(
    conn: &Connection,
    username: &str,
    password: &str,
    device_id: &str,
    device_key: Option<&str>,
    ttl: Duration,
) -> Result<Issued, ServerError> {
    check_name("device_id", device_id)?;
    if let Some(k) = device_key
        && field_core::contract::parse_public_key(k).is_err()
    {
        return Err(ServerError::bad(
            "bad_device_key",
            "设备签名公钥格式无效",
            "the device's signing key is not a valid ed25519 public key (64 hex digits)",
        ));
    }
    let row = conn
        .query_row(
            "SELECT id, password_hash, role, unit, display_name, disabled FROM users WHERE username = ?1",
            [username],
            |r| {
                Ok(UserRow {
                    id: r.get(0)?,
                    hash: r.get(1)?,
                    role: r.get(2)?,
                    unit: r.get(3)?,
                    display_name: r.get(4)?,
                    disabled: r.get(5)?,
                })
            },
        )
        .optional()?;
    let wrong = || ServerError::Unauthorized("wrong username or password");
    let Some(row) = row else {
        // Spend the same time as a real check so usernames cannot be probed by timing.
        let _ = hash_password(password);
        return Err(wrong());
    };
    let parsed = PasswordHash::new(&row.hash).map_err(|e| ServerError::Internal(e.to_string()))?;
    if Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
        || row.disabled
    {
        return Err(wrong());
    }
    let role = Role::parse(&row.role).ok_or_else(|| ServerError::Internal("bad role".into()))?;
    let owner: Option<i64> = conn
        .query_row(
            "SELECT user_id FROM devices WHERE device_id = ?1",
            [device_id],
            |r| r.get(0),
        )
        .optional()?;
    if owner.is_some_and(|o| o != row.id) {
        return Err(ServerError::forbidden(
            "该设备已登记给其他用户",
            "this device is registered to another user",
        ));
    }
    let registered = device_key_of(conn, device_id)?;
    if let (Some(old), Some(new)) = (&registered, device_key)
        && old != new
    {
        return Err(ServerError::Conflict {
            code: "device_key_changed",
            zh: "该设备已登记了另一把签名密钥；如设备被重置，请以新设备身份登录".into(),
            en: "this device registered another signing key; a reset phone must log in as a new device".into(),
        });
    }
    let now = now_ms();
    conn.execute(
        "INSERT INTO devices (device_id, user_id, first_seen, last_seen, public_key)
         VALUES (?1, ?2, ?3, ?3, ?4)
         ON CONFLICT (device_id) DO UPDATE SET last_seen = excluded.last_seen,
            public_key = COALESCE(devices.public_key, excluded.public_key)",
        params![device_id, row.id, now, device_key],
    )?;
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let token = hex::encode(raw);
    let expires = now + ttl.as_millis() as i64;
    conn.execute(
        "INSERT INTO tokens (hash, user_id, device_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![token_hash(&token), row.id, device_id, now, expires],
    )?;
    Ok(Issued {
        token,
        expires_at_ms: expires,
        principal: Principal {
            user_id: row.id,
            username: username.to_string(),
            display_name: row.display_name,
            role,
            unit: row.unit,
            device_id: device_id.to_string(),
        },
    })
}

/// Resolves a bearer token.
/// The signing key a device registered at login, if any.
pub fn device_key_of(conn: &Connection, device_id: &str) -> Result<Option<String>, ServerError> {
    Ok(conn
        .query_row(
            "SELECT public_key FROM devices WHERE device_id = ?1",
            [device_id],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
        .flatten())
}

pub fn authenticate(conn: &Connection, token: &str) -> Result<Principal, ServerError> {
    let row = conn
        .query_row(
            "SELECT u.id, u.username, u.display_name, u.role, u.unit, t.device_id, t.expires_at,
                    t.revoked_at, u.disabled
             FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash = ?1",
            [token_hash(token)],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, Option<i64>>(7)?,
                    r.get::<_, bool>(8)?,
                ))
            },
        )
        .optional()?;
    let Some((id, username, display_name, role, unit, device_id, expires, revoked, disabled)) = row
    else {
        return Err(ServerError::Unauthorized("unknown token"));
    };
    if revoked.is_some() || disabled {
        return Err(ServerError::Unauthorized("token revoked"));
    }
    if expires < now_ms() {
        return Err(ServerError::Unauthorized("token expired"));
    }
    Ok(Principal {
        user_id: id,
        username,
        display_name,
        role: Role::parse(&role).ok_or_else(|| ServerError::Internal("bad role".into()))?,
        unit,
        device_id,
    })
}

/// Revokes every token of a device (a lost phone). Returns how many were revoked.
pub fn revoke_device(conn: &Connection, device_id: &str) -> Result<usize, ServerError> {
    Ok(conn.execute(
        "UPDATE tokens SET revoked_at = ?2 WHERE device_id = ?1 AND revoked_at IS NULL",
        params![device_id, now_ms()],
    )?)
}

/// A fixed-window limiter for login attempts, keyed by client address and username.
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
        if hits.len() > 10_000 {
            hits.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = hits.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        if entry.1 > self.max {
            return Err(ServerError::TooManyRequests);
        }
        Ok(())
    }
}
