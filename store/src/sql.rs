//! Backend-neutral SQL: the values a statement takes and returns, and [`Db`], the one seam both
//! stores implement. Every statement of the aggregates is written once, in the SQL that SQLite
//! and PostgreSQL share, with SQLite's numbered placeholders (`?1`, `?2`…); the PostgreSQL
//! connection rewrites them to `$1`, `$2`…. Where the two differ (index hints, text search), the
//! statement asks the connection's [`Dialect`].

use super::{Result, StoreError};

/// Which SQL a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// A table `s(value)` of the texts in the JSON array bound to `param` (one statement text
    /// whatever the list's length).
    pub fn text_list(self, param: &str) -> String {
        match self {
            Dialect::Sqlite => format!("json_each({param}) AS s"),
            Dialect::Postgres => {
                format!("json_array_elements_text(CAST({param} AS JSON)) AS s(value)")
            }
        }
    }

    /// `INDEXED BY name` where SQLite needs the hint (the planner picks well in PostgreSQL).
    pub fn indexed_by(self, index: &str) -> String {
        match self {
            Dialect::Sqlite => format!("INDEXED BY {index}"),
            Dialect::Postgres => String::new(),
        }
    }
}

/// A value bound to a statement or read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
    /// A column of values, bound as one PostgreSQL array (see [`insert_rows`]).
    List(Vec<Value>),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Int(i64::from(v))
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Blob(v.to_vec())
    }
}
impl From<&Vec<u8>> for Value {
    fn from(v: &Vec<u8>) -> Self {
        Value::Blob(v.clone())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
impl From<&Option<String>> for Value {
    fn from(v: &Option<String>) -> Self {
        v.as_ref().map_or(Value::Null, |s| Value::Text(s.clone()))
    }
}
impl From<&Option<i64>> for Value {
    fn from(v: &Option<i64>) -> Self {
        v.map_or(Value::Null, Value::Int)
    }
}

/// The arguments of a statement: `args![a, b]`.
macro_rules! args {
    ($($v:expr),* $(,)?) => {
        &[$($crate::sql::Value::from($v)),*][..]
    };
}
pub(crate) use args;

/// A value read from a row, converted to what the caller asks for.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}
impl FromValue for bool {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}
impl FromValue for f64 {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Real(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}
impl FromValue for String {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Blob(b) => Some(b.clone()),
            _ => None,
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// One row of a result.
#[derive(Debug, Clone, Default)]
pub struct Row(pub Vec<Value>);

impl Row {
    /// Column `i` as `T`; a missing column or another type is an error naming both.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self.0.get(i).unwrap_or(&Value::Null);
        T::from_value(v).ok_or_else(|| {
            StoreError::Database(format!(
                "column {i}: {v:?} is not a {}",
                std::any::type_name::<T>()
            ))
        })
    }

    /// Takes column `i` out of the row (no copy of large values).
    pub fn take(&mut self, i: usize) -> Value {
        self.0
            .get_mut(i)
            .map(|v| std::mem::replace(v, Value::Null))
            .unwrap_or(Value::Null)
    }
}

/// A connection inside a transaction.
pub trait Db {
    fn dialect(&self) -> Dialect;
    /// Runs a statement and returns its rows.
    fn query(&self, sql: &str, args: &[Value]) -> Result<Vec<Row>>;
    /// Runs a statement and returns the number of rows it changed.
    fn execute(&self, sql: &str, args: &[Value]) -> Result<u64>;
    /// Runs statements without arguments (transaction control, migrations).
    fn batch(&self, sql: &str) -> Result<()>;
}

impl dyn Db + '_ {
    /// Every row, each through `f`.
    pub fn all<T>(
        &self,
        sql: &str,
        args: &[Value],
        f: impl Fn(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.query(sql, args)?.iter().map(f).collect()
    }

    /// The first row through `f`, if any.
    pub fn opt<T>(
        &self,
        sql: &str,
        args: &[Value],
        f: impl Fn(&Row) -> Result<T>,
    ) -> Result<Option<T>> {
        self.query(sql, args)?.first().map(f).transpose()
    }

    /// The first column of the first row (an error when there is no row).
    pub fn value<T: FromValue>(&self, sql: &str, args: &[Value]) -> Result<T> {
        match self.query(sql, args)?.first() {
            Some(row) => row.get(0),
            None => Err(StoreError::Database(format!("no row: {sql}"))),
        }
    }

    /// The first column of each row.
    pub fn column<T: FromValue>(&self, sql: &str, args: &[Value]) -> Result<Vec<T>> {
        self.all(sql, args, |r| r.get(0))
    }
}

/// The SQL type of a column [`insert_rows`] writes (PostgreSQL binds each column as an array
/// of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Text,
    Int,
    Real,
    Blob,
    /// A feed position, given as the transaction's ordinal (PostgreSQL only: stored as
    /// `fieldline_feed_position(ordinal)`).
    Position,
}

impl Ty {
    fn array(self) -> &'static str {
        match self {
            Ty::Text => "TEXT[]",
            Ty::Int | Ty::Position => "BIGINT[]",
            Ty::Real => "DOUBLE PRECISION[]",
            Ty::Blob => "BYTEA[]",
        }
    }
}

/// Inserts `rows` (each a value per column of `columns`) into `table`, followed by `tail`
/// (e.g. `ON CONFLICT DO NOTHING`). On PostgreSQL it is one statement whatever the number of
/// rows (each column bound as an array and `UNNEST`ed, so the text, and its prepared statement,
/// never varies); on SQLite, in the process, one cached single-row statement per row.
pub fn insert_rows(
    db: &dyn Db,
    table: &str,
    columns: &[(&str, Ty)],
    rows: Vec<Vec<Value>>,
    tail: &str,
) -> Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let names = columns.iter().map(|c| c.0).collect::<Vec<_>>().join(", ");
    match db.dialect() {
        Dialect::Postgres => {
            let mut arrays: Vec<Vec<Value>> = vec![Vec::with_capacity(rows.len()); columns.len()];
            for row in rows {
                if row.len() != columns.len() {
                    return Err(StoreError::Database(format!(
                        "{table}: a row of {} values for {} columns",
                        row.len(),
                        columns.len()
                    )));
                }
                for (column, value) in arrays.iter_mut().zip(row) {
                    column.push(value);
                }
            }
            let unnest = columns
                .iter()
                .enumerate()
                .map(|(i, (_, ty))| format!("CAST(?{} AS {})", i + 1, ty.array()))
                .collect::<Vec<_>>()
                .join(", ");
            let aliases = (1..=columns.len())
                .map(|i| format!("c{i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let select = columns
                .iter()
                .enumerate()
                .map(|(i, (_, ty))| match ty {
                    Ty::Position => format!("fieldline_feed_position(u.c{})", i + 1),
                    _ => format!("u.c{}", i + 1),
                })
                .collect::<Vec<_>>()
                .join(", ");
            let args: Vec<Value> = arrays.into_iter().map(Value::List).collect();
            db.execute(
                &format!(
                    "INSERT INTO {table} ({names}) SELECT {select} \
                     FROM UNNEST({unnest}) AS u({aliases}) {tail}"
                ),
                &args,
            )
        }
        Dialect::Sqlite if columns.iter().any(|c| c.1 == Ty::Position) => Err(
            StoreError::Database(format!("{table}: SQLite draws feed positions itself")),
        ),
        Dialect::Sqlite => {
            let marks = (1..=columns.len())
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!("INSERT INTO {table} ({names}) VALUES ({marks}) {tail}");
            let mut n = 0;
            for row in rows {
                n += db.execute(&sql, &row)?;
            }
            Ok(n)
        }
    }
}

/// Rewrites SQLite's `?N` placeholders to PostgreSQL's `$N` (outside quoted text).
pub fn numbered_to_dollar(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => out.push('$'),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_quotes_only() {
        assert_eq!(
            numbered_to_dollar("SELECT '?1', x FROM t WHERE a = ?1 AND b LIKE ?12 ESCAPE '\\'"),
            "SELECT '?1', x FROM t WHERE a = $1 AND b LIKE $12 ESCAPE '\\'"
        );
    }

    #[test]
    fn values_convert_both_ways_and_a_wrong_type_is_an_error() {
        let row = Row(vec![
            Value::from(7_i64),
            Value::from(true),
            Value::from(None::<String>),
            Value::from("文"),
        ]);
        assert_eq!(row.get::<i64>(0).unwrap(), 7);
        assert!(row.get::<bool>(1).unwrap());
        assert_eq!(row.get::<Option<String>>(2).unwrap(), None);
        assert_eq!(row.get::<String>(3).unwrap(), "文");
        assert!(row.get::<i64>(3).is_err());
        assert!(row.get::<String>(9).is_err(), "a missing column");
    }
}
