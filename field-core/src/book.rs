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
}

/// Reference data with a national default compiled in (fee schedules, typical designs).
pub trait National: Versioned + Sized {
    type Error;
    /// The compiled-in national set.
    fn national() -> Self;
    /// Parses and checks a set.
    fn parse(json: &str) -> Result<Self, Self::Error>;
}

/// Every version of a kind with a national default: the default, and what is installed on top.
#[derive(Debug, Clone, PartialEq)]
pub struct NationalBook<T> {
    book: Book<T>,
}

impl<T: National> Default for NationalBook<T> {
    fn default() -> Self {
        let mut book = Book::default();
        book.add(T::national());
        NationalBook { book }
    }
}

impl<T: National> NationalBook<T> {
    /// Adds a set (one with the same id and version is replaced).
    pub fn add(&mut self, s: T) {
        self.book.add(s);
    }

    pub fn add_json(&mut self, json: &str) -> Result<(), T::Error> {
        self.add(T::parse(json)?);
        Ok(())
    }

    /// The set in force for `unit` on `date`: the unit's own newest one in force, else the
    /// national one.
    pub fn in_force(&self, unit: &str, date: NaiveDate) -> &T {
        self.book
            .in_force(unit, date)
            .or_else(|| self.book.first())
            .expect("the national set is always there")
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

/// What every versioned set checks first: an id of 1–64 characters and 1 to `max` entries;
/// the refusal in Chinese and English (`what`: how the entries are called, zh and en).
pub(crate) fn check_set(
    id: &str,
    entries: usize,
    max: usize,
    what: (&str, &str),
) -> Result<(), (String, String)> {
    if id.trim().is_empty() || id.len() > 64 {
        return Err(("缺少编号".into(), "the id is missing".into()));
    }
    if entries == 0 || entries > max {
        return Err((
            format!("{}应为 1–{max} 项", what.0),
            format!("1–{max} {} are needed", what.1),
        ));
    }
    Ok(())
}

/// Whether a text a person reads is missing, longer than `max` characters or holds control
/// characters.
pub(crate) fn bad_text(t: &str, max: usize) -> bool {
    t.trim().is_empty() || t.chars().count() > max || t.chars().any(char::is_control)
}
