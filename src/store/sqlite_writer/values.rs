//! What the writer binds and reads: values as sqlx's SQLite driver encodes them through
//! sea-orm, and the cells of returned rows, read as sqlx would decode them.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use sea_orm::{DbErr, Value};
use std::sync::Arc;

/// A value as SQLite stores it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// One row a statement returned.
#[derive(Debug, Clone)]
pub struct Row {
    pub(super) names: Arc<[String]>,
    pub(super) cells: Vec<Cell>,
}

impl Row {
    /// The value of column `name`, converted; an error names the column.
    pub fn get<T: FromCell>(&self, name: &str) -> Result<T, DbErr> {
        self.get_prefixed("", name)
    }

    /// The value of column `{pre}{name}` (a column a join selected under a prefix, as
    /// sea-orm's `from_query_result(row, pre)` reads it).
    pub fn get_prefixed<T: FromCell>(&self, pre: &str, name: &str) -> Result<T, DbErr> {
        let cell = self
            .names
            .iter()
            .position(|n| n.strip_prefix(pre) == Some(name))
            .and_then(|i| self.cells.get(i))
            .ok_or_else(|| DbErr::Type(format!("no column {pre}{name} in the row")))?;
        T::from_cell(cell).map_err(|e| DbErr::Type(format!("column {pre}{name}: {e}")))
    }
}

/// A Rust value read from a [`Cell`], as sqlx would decode it.
pub trait FromCell: Sized {
    fn from_cell(cell: &Cell) -> Result<Self, String>;
}

/// A type read from the rows a statement returned (the writer's, or an inline read's).
pub trait FromRow: Sized {
    fn from_row(row: &Row) -> Result<Self, DbErr>;
}

impl<T: FromCell> FromCell for Option<T> {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Null => Ok(None),
            c => T::from_cell(c).map(Some),
        }
    }
}

fn unexpected(want: &str, cell: &Cell) -> String {
    let got = match cell {
        Cell::Null => "NULL",
        Cell::Integer(_) => "an integer",
        Cell::Real(_) => "a real",
        Cell::Text(_) => "text",
        Cell::Blob(_) => "a blob",
    };
    format!("expected {want}, found {got}")
}

impl FromCell for String {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Text(s) => Ok(s.clone()),
            c => Err(unexpected("text", c)),
        }
    }
}

impl FromCell for i64 {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Integer(i) => Ok(*i),
            c => Err(unexpected("an integer", c)),
        }
    }
}

impl FromCell for i32 {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        let i = i64::from_cell(cell)?;
        i32::try_from(i).map_err(|_| format!("{i} does not fit in 32 bits"))
    }
}

impl FromCell for bool {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        i64::from_cell(cell).map(|i| i != 0)
    }
}

impl FromCell for f64 {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Real(f) => Ok(*f),
            Cell::Integer(i) => Ok(*i as f64),
            c => Err(unexpected("a number", c)),
        }
    }
}

impl FromCell for uuid::Uuid {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Blob(b) => uuid::Uuid::from_slice(b).map_err(|e| e.to_string()),
            Cell::Text(s) => uuid::Uuid::parse_str(s).map_err(|e| e.to_string()),
            c => Err(unexpected("a UUID", c)),
        }
    }
}

impl FromCell for DateTime<Utc> {
    fn from_cell(cell: &Cell) -> Result<Self, String> {
        match cell {
            Cell::Text(s) => parse_timestamp(s).ok_or_else(|| format!("invalid timestamp {s:?}")),
            Cell::Integer(secs) => Utc
                .timestamp_opt(*secs, 0)
                .single()
                .ok_or_else(|| format!("invalid timestamp {secs}")),
            c => Err(unexpected("a timestamp", c)),
        }
    }
}

/// What sqlx writes (RFC 3339), and SQLite's own `YYYY-MM-DD HH:MM:SS[.fff]` (UTC).
pub(super) fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    ["%F %T%.f", "%FT%T%.f"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .map(|n| Utc.from_utc_datetime(&n))
}

/// A value to bind, as sqlx's SQLite driver encodes it through sea-orm.
#[derive(Debug, PartialEq)]
pub(super) enum Bind {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

pub(super) fn bind_value(v: &Value) -> Result<Bind, String> {
    fn opt<T>(v: &Option<T>, f: impl FnOnce(&T) -> Bind) -> Bind {
        v.as_ref().map_or(Bind::Null, f)
    }
    Ok(match v {
        Value::Bool(b) => opt(b, |b| Bind::Integer(i64::from(*b))),
        Value::TinyInt(i) => opt(i, |i| Bind::Integer(i64::from(*i))),
        Value::SmallInt(i) => opt(i, |i| Bind::Integer(i64::from(*i))),
        Value::Int(i) => opt(i, |i| Bind::Integer(i64::from(*i))),
        Value::BigInt(i) => opt(i, |i| Bind::Integer(*i)),
        Value::TinyUnsigned(i) => opt(i, |i| Bind::Integer(i64::from(*i))),
        Value::SmallUnsigned(i) => opt(i, |i| Bind::Integer(i64::from(*i))),
        Value::Unsigned(i) => opt(i, |i| Bind::Integer(i64::from(*i))),
        Value::BigUnsigned(Some(i)) => {
            Bind::Integer(i64::try_from(*i).map_err(|_| format!("{i} does not fit in 64 bits"))?)
        }
        Value::BigUnsigned(None) => Bind::Null,
        Value::Float(f) => opt(f, |f| Bind::Real(f64::from(*f))),
        Value::Double(f) => opt(f, |f| Bind::Real(*f)),
        Value::String(s) => opt(s, |s| Bind::Text(s.to_string())),
        Value::Enum(sea_orm::sea_query::OptionEnum::Some(e)) => Bind::Text(e.value.to_string()),
        Value::Enum(sea_orm::sea_query::OptionEnum::None(_)) => Bind::Null,
        Value::Char(c) => opt(c, |c| Bind::Text(c.to_string())),
        Value::Bytes(b) => opt(b, |b| Bind::Blob(b.to_vec())),
        Value::Uuid(u) => opt(u, |u| Bind::Blob(u.as_bytes().to_vec())),
        Value::Json(j) => match j {
            Some(j) => Bind::Text(serde_json::to_string(j).map_err(|e| e.to_string())?),
            None => Bind::Null,
        },
        Value::ChronoDateTimeUtc(t) => opt(t, |t| {
            Bind::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
        }),
        Value::ChronoDateTimeWithTimeZone(t) => opt(t, |t| {
            Bind::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
        }),
        Value::ChronoDateTimeLocal(t) => opt(t, |t| {
            Bind::Text(t.to_rfc3339_opts(SecondsFormat::AutoSi, false))
        }),
        Value::ChronoDateTime(t) => opt(t, |t| Bind::Text(t.format("%F %T%.f").to_string())),
        Value::ChronoDate(d) => opt(d, |d| Bind::Text(d.format("%F").to_string())),
        Value::ChronoTime(t) => opt(t, |t| Bind::Text(t.format("%T%.f").to_string())),
        other => return Err(format!("cannot bind {other:?} for SQLite")),
    })
}
