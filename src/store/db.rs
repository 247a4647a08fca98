//! The store's third layer: [`Db`], the little a statement needs from a driver
//! (execute, query one, query all, with values bound by position), so that the
//! group commit, the inbox and the outbox are written once over it. Two
//! implementations: rusqlite ([`super::driver_sqlite`], SQLite's hot path) and
//! sqlx ([`super::driver_sqlx`], PostgreSQL, and SQLite off the hot path).
//!
//! **Invariant:** a `Db` is one connection inside one transaction (or one
//! read). Nothing but statements goes through it: no algorithm, no HTTP call,
//! no wait on anything but the database.

use super::types::{Dialect, StoreError};
use std::borrow::Cow;

/// A value bound to a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg<'a> {
    Int(Option<i64>),
    Text(Option<Cow<'a, str>>),
}

impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(Some(v))
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::Int(v)
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(Some(Cow::Borrowed(v)))
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(Some(Cow::Borrowed(v)))
    }
}

impl From<String> for Arg<'_> {
    fn from(v: String) -> Self {
        Arg::Text(Some(Cow::Owned(v)))
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::Text(v.map(Cow::Borrowed))
    }
}

impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::Text(v.as_deref().map(Cow::Borrowed))
    }
}

/// A statement and its values, `$1` first.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    pub sql: &'a str,
    pub args: Vec<Arg<'a>>,
    /// Built for one use (its text holds values, such as a list of ids): not kept prepared.
    pub once: bool,
}

impl<'a> Query<'a> {
    pub fn new(sql: &'a str) -> Query<'a> {
        Query {
            sql,
            // Room for the values of any one-row statement: one allocation.
            args: Vec::with_capacity(10),
            once: false,
        }
    }

    /// A statement whose text is built for one use: drivers do not keep it prepared.
    pub fn once(sql: &'a str) -> Query<'a> {
        Query {
            once: true,
            ..Query::new(sql)
        }
    }

    /// Binds the next parameter.
    pub fn bind(mut self, value: impl Into<Arg<'a>>) -> Query<'a> {
        self.args.push(value.into());
        self
    }

    /// Binds the next parameter, in place (for statements built in a loop).
    pub fn push(&mut self, value: impl Into<Arg<'a>>) {
        self.args.push(value.into());
    }
}

/// A row read, whichever driver read it. Reading a column as the wrong type is an error,
/// never a default.
pub enum Row {
    Sqlx(sqlx::any::AnyRow),
    Sqlite(Vec<rusqlite::types::Value>),
}

impl Row {
    fn sqlite(&self, i: usize) -> Result<&rusqlite::types::Value, StoreError> {
        match self {
            Row::Sqlite(cells) => cells
                .get(i)
                .ok_or_else(|| StoreError::Sqlite(rusqlite::Error::InvalidColumnIndex(i))),
            Row::Sqlx(_) => unreachable!("called for SQLite rows only"),
        }
    }

    fn wrong_type(i: usize, found: &rusqlite::types::Value) -> StoreError {
        StoreError::Sqlite(rusqlite::Error::InvalidColumnType(
            i,
            format!("column {i}"),
            found.data_type(),
        ))
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        use rusqlite::types::Value;
        match self {
            Row::Sqlx(r) => Ok(sqlx::Row::try_get(r, i)?),
            Row::Sqlite(_) => match self.sqlite(i)? {
                Value::Null => Ok(None),
                Value::Integer(v) => Ok(Some(*v)),
                other => Err(Row::wrong_type(i, other)),
            },
        }
    }

    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self {
            Row::Sqlx(r) => Ok(sqlx::Row::try_get(r, i)?),
            Row::Sqlite(_) => self
                .opt_int(i)?
                .ok_or_else(|| Row::wrong_type(i, &rusqlite::types::Value::Null)),
        }
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        use rusqlite::types::Value;
        match self {
            Row::Sqlx(r) => Ok(sqlx::Row::try_get(r, i)?),
            Row::Sqlite(_) => match self.sqlite(i)? {
                Value::Null => Ok(None),
                Value::Text(v) => Ok(Some(v.clone())),
                other => Err(Row::wrong_type(i, other)),
            },
        }
    }

    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        match self {
            Row::Sqlx(r) => Ok(sqlx::Row::try_get(r, i)?),
            Row::Sqlite(_) => self
                .opt_text(i)?
                .ok_or_else(|| Row::wrong_type(i, &rusqlite::types::Value::Null)),
        }
    }
}

/// One connection in one transaction (or one read), whichever the driver.
///
/// The methods are `async` for sqlx; rusqlite's complete at once (the SQLite driver
/// drives them on a blocking thread without ever waiting, see `driver_sqlite`). The
/// futures carry no `Send` bound: the SQLite driver's cannot be `Send` (a rusqlite
/// transaction stays on its thread), and where the store spawns work, the driver is
/// the concrete sqlx one, whose futures are.
#[allow(async_fn_in_trait)]
pub trait Db {
    fn dialect(&self) -> Dialect;

    /// Runs a statement; the number of rows it changed.
    async fn execute(&mut self, q: Query<'_>) -> Result<u64, StoreError>;

    /// Every row a statement answers.
    async fn fetch_all(&mut self, q: Query<'_>) -> Result<Vec<Row>, StoreError>;

    /// The first row a statement answers, if any.
    async fn fetch_optional(&mut self, q: Query<'_>) -> Result<Option<Row>, StoreError>;

    /// The first column of every row, as integers.
    async fn fetch_ints(&mut self, q: Query<'_>) -> Result<Vec<i64>, StoreError> {
        self.fetch_all(q).await?.iter().map(|row| row.int(0)).collect()
    }

    /// The first column of the first row, as an integer.
    async fn fetch_int(&mut self, q: Query<'_>) -> Result<Option<i64>, StoreError> {
        match self.fetch_optional(q).await? {
            Some(row) => Ok(Some(row.int(0)?)),
            None => Ok(None),
        }
    }
}
