//! Grid cells (接入受限) as admins keep them: each change of a unit's cells installs the next version
//! of that unit's `grid_cells` reference data, so the server judges jobs by it at once and the
//! unit's phones get it at their next sync. The public page lists the restricted cells.

use super::{Env, reference};
use crate::authz::Principal;
use crate::error::ServerError;
use field_core::grid::{GridCell, GridCells};

fn guard(who: &Principal) -> Result<(), ServerError> {
    super::admin::require_admin(who, "维护电网网格", "keep grid cells")
}

/// What the administration page shows: `unit`'s cells and every unit to choose from (admins).
pub fn for_admin(
    env: &Env,
    who: &Principal,
    unit: &str,
) -> Result<(GridCells, Vec<String>), ServerError> {
    guard(who)?;
    let units = env.store.read()?.units()?;
    Ok((
        cells(env, unit),
        units.into_iter().map(|u| u.unit).collect(),
    ))
}

/// A unit's cells as published now (an empty list before any).
pub fn cells(env: &Env, unit: &str) -> GridCells {
    env.grid().unit(unit).cloned().unwrap_or(GridCells {
        unit: unit.to_string(),
        version: 0,
        cells: Vec::new(),
    })
}

fn publish(env: &Env, who: &Principal, mut g: GridCells) -> Result<GridCells, ServerError> {
    g.version += 1;
    g.cells.sort_by(|a, b| a.id.cmp(&b.id));
    let json = serde_json::to_string(&g).map_err(|e| ServerError::Internal(e.to_string()))?;
    reference::install(env, &who.username, "grid_cells", &json)?;
    Ok(g)
}

/// Adds a cell to `unit`, or replaces the one with its id.
pub fn save_cell(
    env: &Env,
    who: &Principal,
    unit: &str,
    cell: GridCell,
) -> Result<GridCells, ServerError> {
    guard(who)?;
    super::auth::check_name("unit", unit)?;
    let mut g = cells(env, unit);
    g.cells.retain(|c| c.id != cell.id);
    g.cells.push(cell);
    publish(env, who, g)
}

/// Removes a cell from `unit` (not found when it has none by that id).
pub fn remove_cell(
    env: &Env,
    who: &Principal,
    unit: &str,
    id: &str,
) -> Result<GridCells, ServerError> {
    guard(who)?;
    let mut g = cells(env, unit);
    let before = g.cells.len();
    g.cells.retain(|c| c.id != id);
    if g.cells.len() == before {
        return Err(ServerError::NotFound);
    }
    publish(env, who, g)
}
