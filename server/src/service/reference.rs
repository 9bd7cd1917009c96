//! Reference data (基础数据): rule sets, write policies, working-day calendar bundles, grid cells,
//! fee schedules (收费标准), typical-design catalogues (典型设计) and registers of the customer's
//! design and construction firms (资质登记), national or
//! for one unit, each with its version and effective date. Admins install them in the browser (or
//! `fieldline policy add`); the server uses them at once (rules and calendar for every clock,
//! policies for every write) and the phones get them with their next sync
//! (`GET /api/v1/reference?after=`), so phone and server compute the same clocks. Nothing is
//! ever removed: a newer version or effective date takes over, and a job keeps the rule set it
//! was accepted under.

use super::{Env, audit, clocks, now_ms};
use crate::authz::Principal;
use crate::error::ServerError;
use crate::store::{AuditEntry, ReferenceRow, ServerStore};
use field_core::grid::{GridBook, GridCells};
use field_core::policy::{PolicyBook, WritePolicy};
pub use field_core::sync::protocol::{ReferenceItem, ReferencePage};
use field_core::{Calendar, RuleBook};

/// The kinds of reference data: `(code, zh, en)`.
pub const KINDS: &[(&str, &str, &str)] = &[
    ("rule_set", "业务规则集", "rule set"),
    ("write_policy", "写入权限策略", "write policy"),
    ("calendar", "工作日历", "working-day calendar"),
    (
        "grid_cells",
        "电网网格（接入受限）",
        "grid cells (restricted access)",
    ),
    ("fee_schedule", "收费标准和收费依据", "fees and their basis"),
    (
        "typical_designs",
        "典型设计和典型造价目录",
        "typical designs and costs",
    ),
    (
        "contractor_firms",
        "客户工程设计、施工单位资质登记",
        "the customer's design and construction firms",
    ),
];
/// Largest document accepted (bytes).
pub const BODY_MAX: usize = 1024 * 1024;
/// Items per page of the phones' feed.
const PAGE: u32 = 50;

fn bad(zh: String, en: String) -> ServerError {
    ServerError::bad("bad_reference", zh, en)
}

/// Checks `body` as reference data of `kind` and describes it for the store.
pub fn parse(kind: &str, body: &str) -> Result<ReferenceRow, ServerError> {
    if body.len() > BODY_MAX {
        return Err(bad(
            format!("文件过大（最多 {} KiB）", BODY_MAX / 1024),
            format!(
                "the document is too large (at most {} KiB)",
                BODY_MAX / 1024
            ),
        ));
    }
    let row = |id: String, version: i64, unit: Option<String>, from: Option<String>| ReferenceRow {
        kind: kind.to_string(),
        id,
        version,
        unit,
        effective_from: from,
        body: body.to_string(),
        ..Default::default()
    };
    match kind {
        "rule_set" => {
            let mut book = RuleBook::default();
            let set = book.add_json(body).map_err(|e| {
                bad(
                    format!("规则集无效：{e}"),
                    format!("the rule set is invalid: {e}"),
                )
            })?;
            Ok(row(
                set.id.clone(),
                i64::from(set.version),
                set.unit.clone(),
                Some(set.effective_from.to_string()),
            ))
        }
        "write_policy" => {
            let p = WritePolicy::from_json(body).map_err(|e| {
                bad(
                    format!("写入权限策略无效：{e}"),
                    format!("the write policy is invalid: {e}"),
                )
            })?;
            Ok(row(
                p.id.clone(),
                i64::from(p.version),
                p.unit.clone(),
                Some(p.effective_from.to_string()),
            ))
        }
        "calendar" => {
            let cal = Calendar::from_bundle(body).map_err(|e| {
                bad(
                    format!("工作日历无效：{e}"),
                    format!("the calendar bundle is invalid: {e}"),
                )
            })?;
            Ok(row("calendar".into(), i64::from(cal.version()), None, None))
        }
        "grid_cells" => {
            let g = GridCells::from_json(body).map_err(|e| {
                bad(
                    format!("电网网格数据无效：{e}"),
                    format!("the grid cells are invalid: {e}"),
                )
            })?;
            Ok(row(
                format!("grid-{}", g.unit),
                i64::from(g.version),
                Some(g.unit.clone()),
                None,
            ))
        }
        "fee_schedule" => {
            let f = field_core::fees::FeeSchedule::from_json(body).map_err(|e| {
                bad(
                    format!("收费标准无效：{e}"),
                    format!("the fee schedule is invalid: {e}"),
                )
            })?;
            Ok(row(
                f.id.clone(),
                i64::from(f.version),
                f.unit.clone(),
                Some(f.effective_from.to_string()),
            ))
        }
        "typical_designs" => {
            let c = field_core::catalogue::Catalogue::from_json(body).map_err(|e| {
                bad(
                    format!("典型设计目录无效：{e}"),
                    format!("the typical-design catalogue is invalid: {e}"),
                )
            })?;
            Ok(row(
                c.id.clone(),
                i64::from(c.version),
                c.unit.clone(),
                Some(c.effective_from.to_string()),
            ))
        }
        "contractor_firms" => {
            let r = field_core::firms::FirmRegister::from_json(body).map_err(|e| {
                bad(
                    format!("资质登记无效：{e}"),
                    format!("the register of firms is invalid: {e}"),
                )
            })?;
            Ok(row(
                r.id.clone(),
                i64::from(r.version),
                r.unit.clone(),
                Some(r.effective_from.to_string()),
            ))
        }
        other => Err(bad(
            format!("未知的基础数据类型：{other}"),
            format!("unknown kind of reference data: {other}"),
        )),
    }
}

/// Everything reference data sets up: the compiled-in defaults with what is installed on top.
pub struct Loaded {
    pub rules: RuleBook,
    pub calendar: Calendar,
    pub policies: PolicyBook,
    pub grid: GridBook,
    pub fees: field_core::fees::FeeBook,
    pub designs: field_core::catalogue::CatalogueBook,
    pub firms: field_core::firms::FirmBook,
}

/// Rules, calendar, write policies and grid cells: the compiled-in defaults with everything
/// installed on top.
pub fn load(store: &dyn ServerStore) -> Result<Loaded, ServerError> {
    let mut rules = RuleBook::default();
    let mut calendar = Calendar::embedded();
    let mut policies = PolicyBook::default();
    let mut grid = GridBook::default();
    let mut fees = field_core::fees::FeeBook::default();
    let mut designs = field_core::catalogue::CatalogueBook::default();
    let mut firms = field_core::firms::FirmBook::default();
    let broken = |r: &ReferenceRow, e: String| {
        ServerError::Internal(format!("installed {} {} v{}: {e}", r.kind, r.id, r.version))
    };
    for r in store.read()?.reference_data(None)? {
        match r.kind.as_str() {
            "rule_set" => {
                rules
                    .add_json(&r.body)
                    .map_err(|e| broken(&r, e.to_string()))?;
            }
            "write_policy" => {
                policies
                    .add_json(&r.body)
                    .map_err(|e| broken(&r, e.to_string()))?;
            }
            "calendar" => {
                let cal = Calendar::from_bundle(&r.body).map_err(|e| broken(&r, e.to_string()))?;
                calendar = calendar.newer(cal);
            }
            "grid_cells" => {
                grid.add_json(&r.body)
                    .map_err(|e| broken(&r, e.to_string()))?;
            }
            "fee_schedule" => {
                fees.add_json(&r.body)
                    .map_err(|e| broken(&r, e.to_string()))?;
            }
            "typical_designs" => {
                designs
                    .add_json(&r.body)
                    .map_err(|e| broken(&r, e.to_string()))?;
            }
            "contractor_firms" => {
                firms.add(
                    field_core::firms::FirmRegister::from_json(&r.body)
                        .map_err(|e| broken(&r, e.to_string()))?,
                );
            }
            other => tracing::warn!(kind = other, "unknown reference data kind left out"),
        }
    }
    Ok(Loaded {
        rules,
        calendar,
        policies,
        grid,
        fees,
        designs,
        firms,
    })
}

/// Installs checked reference data as `by`, audits it and puts it in force at once.
pub fn install(env: &Env, by: &str, kind: &str, body: &str) -> Result<ReferenceRow, ServerError> {
    let mut row = parse(kind, body)?;
    row.installed_at = now_ms();
    row.installed_by = by.to_string();
    let mut tx = env.store.write()?;
    row.seq = tx.insert_reference(&row)?;
    audit::append(
        &mut *tx,
        AuditEntry {
            kind: "reference_installed".into(),
            username: Some(by.to_string()),
            detail: serde_json::json!({
                "kind": row.kind, "id": row.id, "version": row.version, "unit": row.unit,
                "effective_from": row.effective_from, "seq": row.seq,
            }),
            ..Default::default()
        },
    )?;
    tx.commit()?;
    env.reload_reference()?;
    Ok(row)
}

fn guard(who: &Principal) -> Result<(), ServerError> {
    super::admin::require_admin(who, "管理基础数据", "manage reference data")
}

/// An admin installs reference data in the browser; every running clock is recomputed with it.
pub fn install_as(
    env: &Env,
    who: &Principal,
    kind: &str,
    body: &str,
) -> Result<ReferenceRow, ServerError> {
    guard(who)?;
    let row = install(env, &who.username, kind, body)?;
    if row.kind == "rule_set" || row.kind == "calendar" {
        clocks::refresh(env, field_core::job::local_date(chrono::Utc::now()))?;
    }
    Ok(row)
}

/// Everything installed, newest first (admins).
pub fn installed(env: &Env, who: &Principal) -> Result<Vec<ReferenceRow>, ServerError> {
    guard(who)?;
    let mut rows = env.store.read()?.reference_data(None)?;
    rows.reverse();
    Ok(rows)
}

/// The phones' feed: what was installed after `after` for the caller's unit and every unit.
pub fn feed(env: &Env, who: &Principal, after: i64) -> Result<ReferencePage, ServerError> {
    // One statement: no snapshot needed (installs commit one at a time, in order).
    let rows = env
        .store
        .read_fresh()?
        .reference_after(after.max(0), &who.unit, PAGE)?;
    let next = rows.last().map_or(after.max(0), |r| r.seq);
    Ok(ReferencePage {
        items: rows
            .into_iter()
            .map(|r| ReferenceItem {
                seq: r.seq,
                kind: r.kind,
                body: r.body,
            })
            .collect(),
        next,
    })
}
