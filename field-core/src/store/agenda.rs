//! The phone's agenda and the project side's reference data: the dated items its jobs ask of
//! people (served from the projection, never by loading documents), the typical-design
//! catalogues and registers of firms delivered by sync, and the rules that use them.

use super::{Store, StoreError};
use crate::agenda::{AgendaKind, AgendaState};
use crate::catalogue::{Catalogue, CatalogueBook, DesignEntry};
use crate::firms::{FirmBook, FirmCheck, FirmRegister};
use crate::job::local_date;
use chrono::NaiveDate;
use rusqlite::params;
use serde::{Deserialize, Serialize};

/// Reference kinds kept in the `catalogues` table.
const DESIGNS: &str = "typical_designs";
const FIRMS: &str = "contractor_firms";

/// An agenda item of a job on this phone, as of a day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgendaEntry {
    pub job_id: String,
    pub job_no: String,
    pub customer_name: String,
    pub item_id: String,
    pub kind: AgendaKind,
    pub owner: Option<String>,
    pub due_on: NaiveDate,
    pub title: String,
    pub state: AgendaState,
}

/// The typical designs that fit a job, from the catalogue in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DesignChoice {
    pub catalogue: String,
    pub catalogue_version: u32,
    pub designs: Vec<DesignEntry>,
}

impl Store {
    /// What is open on this phone's jobs for `owner` (every owner when `None`), due up to
    /// `until`, late first then by day: done items are left out.
    pub fn agenda(
        &self,
        owner: Option<&str>,
        until: NaiveDate,
    ) -> Result<Vec<AgendaEntry>, StoreError> {
        let today = local_date(self.now());
        let inner = self.lock();
        let mut stmt = inner.conn.prepare_cached(
            "SELECT a.job_id, l.job_no, l.customer_name, a.item_id, a.kind, a.owner, a.due_on,
                    a.late_on, a.title
             FROM agenda a JOIN job_list l ON l.job_id = a.job_id
             WHERE a.done = 0 AND a.due_on <= ?1 AND (?2 IS NULL OR a.owner = ?2)
             ORDER BY a.due_on, a.job_id, a.item_id LIMIT 1000",
        )?;
        let rows = stmt.query_map(params![until.to_string(), owner], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<String>>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
            ))
        })?;
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        let mut out = Vec::new();
        for row in rows {
            let (job_id, job_no, customer_name, item_id, kind, owner, due, late, title) = row?;
            let (Some(kind), Some(due_on), Some(late_on)) =
                (AgendaKind::parse(&kind), day(&due), day(&late))
            else {
                continue;
            };
            out.push(AgendaEntry {
                job_id,
                job_no,
                customer_name,
                item_id,
                kind,
                owner,
                due_on,
                title,
                state: crate::agenda::state(due_on, late_on, false, today),
            });
        }
        out.sort_by_key(|e| (e.state != AgendaState::Late, e.due_on));
        Ok(out)
    }

    /// Installs a typical-design catalogue (典型设计), delivered by sync.
    pub fn install_designs(&self, json: &str) -> Result<(), StoreError> {
        let c = Catalogue::from_json(json)?;
        self.put_catalogue(DESIGNS, &c.id, c.version, json)
    }

    /// Installs a register of the customer's design and construction firms, delivered by sync.
    pub fn install_firms(&self, json: &str) -> Result<(), StoreError> {
        let r = FirmRegister::from_json(json)?;
        self.put_catalogue(FIRMS, &r.id, r.version, json)
    }

    fn put_catalogue(
        &self,
        kind: &str,
        id: &str,
        version: u32,
        json: &str,
    ) -> Result<(), StoreError> {
        self.lock().conn.execute(
            "INSERT OR REPLACE INTO catalogues (kind, id, version, body) VALUES (?1, ?2, ?3, ?4)",
            params![kind, id, version, json],
        )?;
        Ok(())
    }

    fn bodies(&self, kind: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .lock()
            .conn
            .prepare_cached("SELECT body FROM catalogues WHERE kind = ?1 ORDER BY id, version")?
            .query_map([kind], |r| r.get(0))?
            .collect::<Result<_, _>>()?)
    }

    /// The typical-design catalogues this phone has: the national one and what sync delivered.
    fn designs(&self) -> Result<CatalogueBook, StoreError> {
        let mut book = CatalogueBook::default();
        for b in self.bodies(DESIGNS)? {
            book.add_json(&b)?;
        }
        Ok(book)
    }

    /// The typical designs that fit a job (kind, voltage, capacity), from the catalogue in force
    /// for its unit today (the national one until the unit's arrives). Pick one with
    /// `Edit::PickTypicalDesign(entry.pick(…))`, or [`Store::pick_typical_design`].
    pub fn typical_designs(&self, job_id: &str) -> Result<DesignChoice, StoreError> {
        let job = self.job(job_id)?;
        let book = self.designs()?;
        let c = book.in_force(&job.unit, local_date(self.now()));
        Ok(DesignChoice {
            catalogue: c.id.clone(),
            catalogue_version: c.version,
            designs: c.for_job(&job).cloned().collect(),
        })
    }

    /// Records the typical design `design_id` of the catalogue in force on a job.
    pub fn pick_typical_design(
        &self,
        job_id: &str,
        actor: &str,
        design_id: &str,
    ) -> Result<crate::Job, StoreError> {
        let job = self.job(job_id)?;
        let book = self.designs()?;
        let c = book.in_force(&job.unit, local_date(self.now()));
        let Some(entry) = c.get(design_id) else {
            return Err(crate::validate::Invalid::new(
                "typical_design.design_id",
                format!("典型设计目录中没有 {design_id}"),
                format!("the catalogue has no design {design_id}"),
            )
            .into());
        };
        self.edit(
            job_id,
            actor,
            &crate::Edit::PickTypicalDesign(entry.pick(c)),
        )
    }

    /// The verdicts on the firms a job names, against its unit's register in force today (every
    /// firm is unregistered until the register arrives).
    pub fn firm_checks(&self, job_id: &str) -> Result<Vec<FirmCheck>, StoreError> {
        let job = self.job(job_id)?;
        let mut book = FirmBook::default();
        for b in self.bodies(FIRMS)? {
            book.add(FirmRegister::from_json(&b)?);
        }
        let today = local_date(self.now());
        Ok(crate::firms::check(
            &job,
            book.in_force(&job.unit, today),
            today,
        ))
    }
}
