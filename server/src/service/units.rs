//! Units (供电单位): records an administrator creates (the admin's units page, `fieldline unit
//! add`) before anyone joins them. A user's unit, and any change of it, must name one: a typo
//! never makes a new unit of one person.

use super::{Env, audit, auth};
use crate::ServerError;
use crate::authz::Principal;
use crate::store::{ReadTx, WriteTx};

/// A unit's code, name, service hall and hotline.
pub use crate::store::UnitRecord as Unit;

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
    Ok(tx.units()?)
}

/// A unit's record (not found when there is no such unit).
pub fn get(env: &Env, unit: &str) -> Result<Unit, ServerError> {
    env.store
        .read()?
        .unit_record(unit)?
        .ok_or(ServerError::NotFound)
}

/// Longest address and opening hours, in characters.
pub const PLACE_MAX: usize = 200;

fn text(field: &str, zh: &str, en: &str, value: &str, max: usize) -> Result<String, ServerError> {
    let value = value.trim();
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(ServerError::bad(
            "invalid_value",
            format!("{zh}无效：最多 {max} 个字符"),
            format!("the {en} is invalid: at most {max} characters ({field})"),
        ));
    }
    Ok(value.to_string())
}

/// Changes a unit's display name, service hall address, opening hours and hotline, as the admin
/// `who`.
pub fn update(env: &Env, who: &Principal, record: &Unit) -> Result<(), ServerError> {
    super::admin::require_admin(who, "修改单位", "change units")?;
    let name = text("name", "单位名称", "name", &record.name, NAME_MAX)?;
    if name.is_empty() {
        return Err(ServerError::bad(
            "invalid_name",
            format!("单位名称无效：1–{NAME_MAX} 个字符"),
            format!("the unit's name is invalid: 1–{NAME_MAX} characters"),
        ));
    }
    let hotline = text("hotline", "服务电话", "hotline", &record.hotline, 32)?;
    if !hotline
        .chars()
        .all(|c| c.is_ascii_digit() || " -+()".contains(c))
    {
        return Err(ServerError::bad(
            "invalid_value",
            "服务电话只能包含数字和 + - ( ) 空格",
            "the hotline may contain only digits, spaces and + - ( )",
        ));
    }
    let clean = Unit {
        unit: record.unit.clone(),
        name,
        address: text(
            "address",
            "营业厅地址",
            "address",
            &record.address,
            PLACE_MAX,
        )?,
        hall_hours: text(
            "hall_hours",
            "营业时间",
            "opening hours",
            &record.hall_hours,
            PLACE_MAX,
        )?,
        hotline,
    };
    let mut tx = env.store.write()?;
    if !tx.update_unit(&clean)? {
        return Err(ServerError::NotFound);
    }
    audit::append(
        &mut *tx,
        crate::store::AuditEntry {
            kind: "unit_changed".into(),
            username: Some(who.username.clone()),
            detail: serde_json::json!({
                "unit": clean.unit, "name": clean.name, "address": clean.address,
                "hall_hours": clean.hall_hours, "hotline": clean.hotline,
            }),
            ..Default::default()
        },
    )?;
    tx.commit()?;
    Ok(())
}
