//! Units (供电单位): records an administrator creates (the admin's units page, `fieldline unit
//! add`) before anyone joins them. A user's unit, and any change of it, must name one: a typo
//! never makes a new unit of one person.

use super::{Env, audit, auth};
use crate::ServerError;
use crate::authz::Principal;
use crate::store::{ReadTx, WriteTx};

/// A unit's code and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub unit: String,
    pub name: String,
}

/// The longest unit name, in characters.
pub const NAME_MAX: usize = 64;

/// Adds a unit in `tx`, on the record as done by `by`.
pub fn add(tx: &mut dyn WriteTx, unit: &str, name: &str, by: &str) -> Result<(), ServerError> {
    let (unit, name) = (unit.trim(), name.trim());
    auth::check_name("unit", unit)?;
    if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Err(ServerError::bad(
            "invalid_name",
            format!("单位名称无效：1–{NAME_MAX} 个字符"),
            format!("the unit's name is invalid: 1–{NAME_MAX} characters"),
        ));
    }
    if !tx.insert_unit(unit, name, super::now_ms(), by)? {
        return Err(ServerError::bad(
            "unit_exists",
            format!("单位 {unit} 已存在"),
            format!("unit {unit} already exists"),
        ));
    }
    audit::append(
        tx,
        crate::store::AuditEntry {
            kind: "unit_added".into(),
            username: Some(by.to_string()),
            detail: serde_json::json!({ "unit": unit, "name": name }),
            ..Default::default()
        },
    )?;
    Ok(())
}

/// Adds a unit as the admin `who`.
pub fn create(env: &Env, who: &Principal, unit: &str, name: &str) -> Result<(), ServerError> {
    super::admin::require_admin(who, "新建单位", "create units")?;
    let mut tx = env.store.write()?;
    add(&mut *tx, unit, name, &who.username)?;
    tx.commit()?;
    Ok(())
}

/// That `unit` exists, else an error saying how to create it.
pub fn require(tx: &dyn ReadTx, unit: &str) -> Result<(), ServerError> {
    if tx.unit_name(unit)?.is_some() {
        return Ok(());
    }
    Err(ServerError::bad(
        "unknown_unit",
        format!("单位 {unit} 不存在：请先新建单位（系统管理 → 单位，或 fieldline unit add）"),
        format!(
            "unit {unit} does not exist: create it first (Administration → Units, or fieldline unit add)"
        ),
    ))
}

/// Every unit, by code.
pub fn list(env: &Env) -> Result<Vec<Unit>, ServerError> {
    list_in(&*env.store.read()?)
}

/// Every unit, by code, as `tx` sees them.
pub fn list_in(tx: &dyn ReadTx) -> Result<Vec<Unit>, ServerError> {
    Ok(tx
        .units()?
        .into_iter()
        .map(|(unit, name)| Unit { unit, name })
        .collect())
}
