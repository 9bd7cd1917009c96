//! Administration (系统管理) of users and devices, for admins: list, create, disable and
//! enable, reset a password (a new one shown once), change role and unit, revoke a device.
//! Every action is in the audit trail. Credentials end when trust ends: a password reset, a
//! disable, or a change of role or unit ends every token and browser session of the user (an
//! enable revives none), and the user page lists the live ones to end one by one.

use super::auth;
use super::{Env, audit, now_ms};
use crate::authz::Principal;
use crate::error::ServerError;
use crate::store::{DeviceSummary, SessionSummary, UserChange, UserSummary};
use field_core::Role;
use rand::RngCore;

/// Whether `who` administers.
pub fn may_admin(who: &Principal) -> bool {
    who.role == Role::Admin
}

/// Refuses everyone but admins, naming what they may not do.
pub fn require_admin(who: &Principal, what_zh: &str, what_en: &str) -> Result<(), ServerError> {
    if may_admin(who) {
        Ok(())
    } else {
        Err(ServerError::forbidden(
            format!("{}无权{what_zh}", who.role.zh()),
            format!("a {} may not {what_en}", who.role.en()),
        ))
    }
}

fn guard(who: &Principal) -> Result<(), ServerError> {
    if may_admin(who) {
        Ok(())
    } else {
        Err(ServerError::forbidden(
            "系统管理仅限管理员",
            "administration is for admins only",
        ))
    }
}

/// A user and their devices.
#[derive(Debug, Clone)]
pub struct UserDetail {
    pub user: UserSummary,
    pub devices: Vec<DeviceSummary>,
    /// Live browser sessions.
    pub sessions: Vec<SessionSummary>,
}

/// A new password people can read aloud: 12 characters without look-alikes.
pub fn new_password() -> String {
    const CHARS: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| CHARS[*b as usize % CHARS.len()] as char)
        .collect()
}

pub fn users(env: &Env, who: &Principal) -> Result<Vec<UserSummary>, ServerError> {
    guard(who)?;
    Ok(env.store.read()?.user_list(None)?)
}

/// A unit as administration sees it: who works there, its jobs, and the reference data in force.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitSummary {
    pub unit: String,
    pub name: String,
    /// Active users per role code.
    pub roles: Vec<(String, usize)>,
    /// Display names of the unit's leaders (单位负责人): late supervision orders go to them.
    pub leaders: Vec<String>,
    pub jobs: i64,
    pub overdue: i64,
    /// The rule set and write policy in force today: `id vN`.
    pub rule_set: String,
    pub policy: String,
    /// Grid cells published, and how many restrict access.
    pub grid_cells: usize,
    pub restricted: usize,
}

/// Every unit.
pub fn units(env: &Env, who: &Principal) -> Result<Vec<UnitSummary>, ServerError> {
    guard(who)?;
    let today = field_core::job::local_date(chrono::Utc::now());
    let tx = env.store.read()?;
    let users = tx.user_list(None)?;
    let (rules, grid) = (env.rules(), env.grid());
    let mut out = Vec::new();
    for super::units::Unit { unit, name, .. } in super::units::list_in(&*tx)? {
        let mine: Vec<&UserSummary> = users
            .iter()
            .filter(|u| u.unit == unit && !u.disabled)
            .collect();
        let mut roles: Vec<(String, usize)> = Vec::new();
        for r in Role::ALL {
            let n = mine.iter().filter(|u| u.role == r.as_str()).count();
            if n > 0 {
                roles.push((r.as_str().to_string(), n));
            }
        }
        let counts = tx.count_jobs(&crate::store::JobListQuery {
            unit: Some(unit.clone()),
            ..Default::default()
        })?;
        let overdue = counts
            .by_sla_state
            .iter()
            .filter(|(s, _)| s == "overdue")
            .map(|(_, n)| *n)
            .sum();
        let set = rules.in_force(&unit, today);
        let policy = env.policy(&unit);
        let cells = grid.unit(&unit);
        out.push(UnitSummary {
            roles,
            leaders: mine
                .iter()
                .filter(|u| u.leader)
                .map(|u| u.display_name.clone())
                .collect(),
            jobs: counts.total,
            overdue,
            rule_set: format!("{} v{}", set.id, set.version),
            policy: format!("{} v{}", policy.id, policy.version),
            grid_cells: cells.map_or(0, |g| g.cells.len()),
            restricted: cells.map_or(0, |g| g.restricted().count()),
            unit,
            name,
        });
    }
    Ok(out)
}

pub fn user(env: &Env, who: &Principal, username: &str) -> Result<UserDetail, ServerError> {
    guard(who)?;
    let tx = env.store.read()?;
    let row = tx.user_by_name(username)?.ok_or(ServerError::NotFound)?;
    let user = tx
        .user_list(Some(&row.unit))?
        .into_iter()
        .find(|u| u.username == username)
        .ok_or(ServerError::NotFound)?;
    let devices = tx.user_devices(row.id, now_ms())?;
    let sessions = tx.user_sessions(row.id, now_ms())?;
    Ok(UserDetail {
        user,
        devices,
        sessions,
    })
}

fn role(code: &str) -> Result<Role, ServerError> {
    Role::parse(code).ok_or_else(|| ServerError::bad("invalid_value", "未知的角色", "unknown role"))
}

/// Creates a user; returns the password to hand over (the one given, or a new one).
pub fn create(
    env: &Env,
    who: &Principal,
    username: &str,
    display_name: &str,
    role_code: &str,
    unit: &str,
    password: &str,
) -> Result<String, ServerError> {
    guard(who)?;
    let role = role(role_code)?;
    let password = if password.is_empty() {
        new_password()
    } else {
        auth::check_password(password)?;
        password.to_string()
    };
    let hash = auth::hash_password(&password)?;
    let mut tx = env.store.write()?;
    auth::add_user(
        &mut *tx,
        username.trim(),
        &hash,
        role,
        unit,
        display_name,
        &who.username,
    )?;
    tx.commit()?;
    Ok(password)
}

fn by(who: &Principal, kind: &str, target: &str) -> crate::store::AuditEntry {
    let mut e = audit::by(who, kind);
    e.detail = serde_json::json!({ "user": target });
    e
}

/// Whether a change ends the trust every credential of the user was issued under.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Trust {
    Kept,
    Ended,
}

fn change(
    env: &Env,
    who: &Principal,
    username: &str,
    c: &UserChange,
    kind: &str,
    trust: Trust,
) -> Result<(), ServerError> {
    guard(who)?;
    let mut tx = env.store.write()?;
    let user = tx
        .user_by_name(username)?
        .ok_or_else(|| no_user(username))?;
    if let Some(u) = c.unit.as_ref().filter(|u| **u != user.unit) {
        super::units::require(&*tx, u)?;
    }
    // A role or unit change ends trust only when it changes something.
    let moved = c.role.as_ref().is_some_and(|r| *r != user.role)
        || c.unit.as_ref().is_some_and(|u| *u != user.unit);
    if !tx.update_user(username, c)? {
        return Err(ServerError::NotFound);
    }
    let mut entry = by(who, kind, username);
    if let Some(r) = &c.role {
        entry.detail["role"] = r.clone().into();
    }
    if let Some(u) = &c.unit {
        entry.detail["unit"] = u.clone().into();
    }
    audit::append(&mut *tx, entry)?;
    if trust == Trust::Ended && (c.role.is_none() && c.unit.is_none() || moved) {
        end_credentials(&mut *tx, who, &user, kind)?;
    }
    tx.commit()?;
    Ok(())
}

/// An unknown user named by an admin or an operator.
fn no_user(username: &str) -> ServerError {
    ServerError::NotFoundNamed {
        zh: format!("没有用户 {username}"),
        en: format!("there is no user {username}"),
    }
}

/// Ends every token and browser session of `user`, on the record.
fn end_credentials(
    tx: &mut dyn crate::store::WriteTx,
    who: &Principal,
    user: &crate::store::UserRow,
    why: &str,
) -> Result<(), ServerError> {
    let (tokens, sessions) = tx.end_user_credentials(user.id, now_ms())?;
    let mut entry = by(who, "credentials_ended", &user.username);
    entry.detail["tokens"] = tokens.into();
    entry.detail["sessions"] = sessions.into();
    entry.detail["because"] = why.into();
    audit::append(tx, entry)?;
    Ok(())
}

/// Ends one browser session of a user (the admin's user page).
pub fn end_session(
    env: &Env,
    who: &Principal,
    username: &str,
    session: &str,
) -> Result<(), ServerError> {
    guard(who)?;
    let hash = hex::decode(session).map_err(|_| ServerError::NotFound)?;
    let mut tx = env.store.write()?;
    let user = tx.user_by_name(username)?.ok_or(ServerError::NotFound)?;
    if !tx.end_user_session(user.id, &hash, now_ms())? {
        return Err(ServerError::NotFound);
    }
    let mut entry = by(who, "session_ended", username);
    entry.detail["session"] = session.chars().take(16).collect::<String>().into();
    audit::append(&mut *tx, entry)?;
    tx.commit()?;
    Ok(())
}

/// Disables (or enables again) a user. Admins cannot disable themselves.
pub fn set_disabled(
    env: &Env,
    who: &Principal,
    username: &str,
    disabled: bool,
) -> Result<(), ServerError> {
    if disabled && username == who.username {
        return Err(ServerError::bad(
            "self",
            "不能停用自己的账号",
            "you cannot disable your own account",
        ));
    }
    let c = UserChange {
        disabled: Some(disabled),
        ..Default::default()
    };
    change(
        env,
        who,
        username,
        &c,
        if disabled {
            "user_disabled"
        } else {
            "user_enabled"
        },
        if disabled { Trust::Ended } else { Trust::Kept },
    )
}

/// Makes a user one of their unit's leaders (单位负责人), or no longer one: supervision orders
/// left unanswered past their deadline escalate to the unit's leaders.
pub fn set_leader(
    env: &Env,
    who: &Principal,
    username: &str,
    leader: bool,
) -> Result<(), ServerError> {
    let c = UserChange {
        leader: Some(leader),
        ..Default::default()
    };
    let kind = if leader { "leader_set" } else { "leader_unset" };
    change(env, who, username, &c, kind, Trust::Kept)
}

/// Gives a user a new password; returns it (shown once).
pub fn reset_password(env: &Env, who: &Principal, username: &str) -> Result<String, ServerError> {
    guard(who)?;
    let password = new_password();
    let c = UserChange {
        password_hash: Some(auth::hash_password(&password)?),
        ..Default::default()
    };
    change(env, who, username, &c, "password_reset", Trust::Ended)?;
    Ok(password)
}

/// Changes a user's role and unit.
pub fn set_role_unit(
    env: &Env,
    who: &Principal,
    username: &str,
    role_code: &str,
    unit: &str,
) -> Result<(), ServerError> {
    let role = role(role_code)?;
    let unit = unit.trim();
    auth::check_name("unit", unit)?;
    if username == who.username && role != Role::Admin {
        return Err(ServerError::bad(
            "self",
            "不能取消自己的管理员角色",
            "you cannot take the admin role from yourself",
        ));
    }
    let c = UserChange {
        role: Some(role.as_str().to_string()),
        unit: Some(unit.to_string()),
        ..Default::default()
    };
    change(env, who, username, &c, "user_changed", Trust::Ended)
}

/// Revokes a device (a lost phone): its tokens end and it cannot log in until let back.
pub fn revoke_device(env: &Env, who: &Principal, device_id: &str) -> Result<usize, ServerError> {
    guard(who)?;
    let mut tx = env.store.write()?;
    let n = auth::revoke_device(&mut *tx, device_id, Some(&who.username))?;
    tx.commit()?;
    Ok(n)
}

/// Lets a revoked device log in again.
pub fn restore_device(env: &Env, who: &Principal, device_id: &str) -> Result<(), ServerError> {
    guard(who)?;
    let mut tx = env.store.write()?;
    auth::restore_device(&mut *tx, device_id, Some(&who.username))?;
    tx.commit()?;
    Ok(())
}
