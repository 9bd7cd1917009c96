//! Versioned reference data per unit (rule-set style): every version of every set is kept; the
//! one in force for a unit on a day is the unit's own newest one in force, else the national one
//! (no unit). Fee schedules, typical-design catalogues and registers of firms are kept this way.

use chrono::NaiveDate;

/// A versioned set of reference data.
pub trait Versioned {
    fn id(&self) -> &str;
    fn version(&self) -> u32;
    fn effective_from(&self) -> NaiveDate;
    /// `None`: national, for every unit without its own.
    fn unit(&self) -> Option<&str>;
}

/// Every version known of one kind of reference data.
#[derive(Debug, Clone, PartialEq)]
pub struct Book<T> {
    sets: Vec<T>,
}

impl<T> Default for Book<T> {
    fn default() -> Self {
        Book { sets: Vec::new() }
    }
}

impl<T: Versioned> Book<T> {
    /// Adds a set (one with the same id and version is replaced).
    pub fn add(&mut self, s: T) {
        self.sets
            .retain(|have| !(have.id() == s.id() && have.version() == s.version()));
        self.sets.push(s);
    }

    /// The set in force for `unit` on `date`: the unit's own newest one in force, else the
    /// newest national one in force.
    pub fn in_force(&self, unit: &str, date: NaiveDate) -> Option<&T> {
        let pick = |own: bool| {
            self.sets
                .iter()
                .filter(|s| s.effective_from() <= date)
                .filter(|s| match s.unit() {
                    Some(u) => own && u == unit,
                    None => !own,
                })
                .max_by_key(|s| (s.effective_from(), s.version()))
        };
        pick(true).or_else(|| pick(false))
    }

    /// The first set added (a compiled-in default).
    pub fn first(&self) -> Option<&T> {
        self.sets.first()
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }
}

/// Implements [`Versioned`] for a struct with `id`, `version`, `effective_from` and `unit` fields.
macro_rules! versioned {
    ($t:ty) => {
        impl $crate::book::Versioned for $t {
            fn id(&self) -> &str {
                &self.id
            }
            fn version(&self) -> u32 {
                self.version
            }
            fn effective_from(&self) -> chrono::NaiveDate {
                self.effective_from
            }
            fn unit(&self) -> Option<&str> {
                self.unit.as_deref()
            }
        }
    };
}
pub(crate) use versioned;
