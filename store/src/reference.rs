//! Reference data (rule sets, write policies, calendars) and its feed to the phones.

use crate::Result;
use crate::conn::{Conn, Finish};
use crate::sql::{Row, args};
use serde::{Deserialize, Serialize};

/// Installed reference data (基础数据) the phones get by sync: a rule set, a write policy or a
/// calendar bundle.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReferenceRow {
    /// Assigned by the store (ignored when inserting): the phones' cursor.
    pub seq: i64,
    /// `rule_set`, `write_policy` or `calendar`.
    pub kind: String,
    pub id: String,
    pub version: i64,
    /// `None`: every unit.
    pub unit: Option<String>,
    /// `YYYY-MM-DD` (calendars have none).
    pub effective_from: Option<String>,
    /// The JSON exactly as installed.
    pub body: String,
    pub installed_at: i64,
    pub installed_by: String,
}

/// Reads of installed reference data.
pub trait ReferenceReads {
    /// Installed reference data of `kind` (every kind for `None`), in the order installed.
    fn reference_data(&self, kind: Option<&str>) -> Result<Vec<ReferenceRow>>;

    /// Reference data installed after `after` for `unit` (its own and every unit's), in order.
    fn reference_after(&self, after: i64, unit: &str, limit: u32) -> Result<Vec<ReferenceRow>>;

    /// The newest reference data's number (0 when none).
    fn max_reference_seq(&self) -> Result<i64>;
}

/// Installs reference data.
pub trait ReferenceWrites {
    /// Installs reference data; one with the same kind, id and version is replaced (and gets a
    /// new number, so phones fetch it again). Returns its number.
    fn insert_reference(&mut self, r: &ReferenceRow) -> Result<i64>;
}

impl<T: Conn> ReferenceReads for T {
    fn reference_data(&self, kind: Option<&str>) -> Result<Vec<ReferenceRow>> {
        self.db().all(
            &format!(
                "SELECT {REFERENCE_COLS} FROM reference_data
                 WHERE (CAST(?1 AS TEXT) IS NULL OR kind = ?1) ORDER BY seq"
            ),
            args![kind],
            reference_row,
        )
    }

    fn reference_after(&self, after: i64, unit: &str, limit: u32) -> Result<Vec<ReferenceRow>> {
        self.db().all(
            &format!(
                "SELECT {REFERENCE_COLS} FROM reference_data
                 WHERE seq > ?1 AND (unit IS NULL OR unit = ?2) ORDER BY seq LIMIT ?3"
            ),
            args![after, unit, limit],
            reference_row,
        )
    }

    fn max_reference_seq(&self) -> Result<i64> {
        self.db()
            .value("SELECT COALESCE(MAX(seq), 0) FROM reference_data", args![])
    }
}

impl<T: Conn + Finish> ReferenceWrites for T {
    fn insert_reference(&mut self, r: &ReferenceRow) -> Result<i64> {
        let db = self.db();
        db.execute(
            "DELETE FROM reference_data WHERE kind = ?1 AND id = ?2 AND version = ?3",
            args![&r.kind, &r.id, r.version],
        )?;
        db.value(
            "INSERT INTO reference_data (kind, id, version, unit, effective_from, body,
                installed_at, installed_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING seq",
            args![
                &r.kind,
                &r.id,
                r.version,
                &r.unit,
                &r.effective_from,
                &r.body,
                r.installed_at,
                &r.installed_by
            ],
        )
    }
}

const REFERENCE_COLS: &str =
    "seq, kind, id, version, unit, effective_from, body, installed_at, installed_by";

fn reference_row(r: &Row) -> Result<ReferenceRow> {
    Ok(ReferenceRow {
        seq: r.get(0)?,
        kind: r.get(1)?,
        id: r.get(2)?,
        version: r.get(3)?,
        unit: r.get(4)?,
        effective_from: r.get(5)?,
        body: r.get(6)?,
        installed_at: r.get(7)?,
        installed_by: r.get(8)?,
    })
}
