//! [`Db`] on rusqlite: SQLite's hot path (the group commit, the inbox,
//! delivery outcomes, claims and the step's reads). Measured against sqlx's
//! SQLite driver (behind the `Any` pool) on the group commit's statements,
//! rusqlite costs about 8 µs of CPU per update against about 200 µs
//! (`cargo bench --bench sqlite_driver`, BENCHMARKS.md): sqlx hands every
//! statement to a worker thread. Migrations, the HTTP API and upkeep stay on
//! sqlx.
//!
//! **Invariant:** calls block. [`Embedded::transaction`] runs on a blocking
//! thread (`block_in_place` on a runtime worker) and drives the work's future
//! to its end in one poll: nothing in it waits but on SQLite.

use super::db::{Arg, Db, Query, Row};
use super::types::{Dialect, StoreError};
use rusqlite::types::{ToSql, ToSqlOutput};
use rusqlite::{Connection, TransactionBehavior};
use std::pin::pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// The process's own connection to the database file (already migrated by sqlx).
pub struct Embedded {
    conn: Mutex<Connection>,
}

/// One statement's worth of [`Db`] on a rusqlite connection.
pub struct SqliteDb<'c> {
    conn: &'c Connection,
}

impl ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Arg::Int(v) => v.to_sql(),
            Arg::Text(Some(v)) => Ok(ToSqlOutput::Borrowed(rusqlite::types::ValueRef::Text(v.as_bytes()))),
            Arg::Text(None) => Ok(ToSqlOutput::Owned(rusqlite::types::Value::Null)),
        }
    }
}

impl Embedded {
    pub fn open(path: &str) -> Result<Embedded, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Room for the insights log's seven inserts and the receive's beside the hot statements.
        conn.set_prepared_statement_cache_capacity(96);
        Ok(Embedded { conn: Mutex::new(conn) })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        // On a worker of a multi-threaded runtime, tell it this call blocks; elsewhere (a
        // blocking thread, a current-thread runtime, no runtime) just run it.
        let on_worker = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if on_worker {
            tokio::task::block_in_place(|| f(&mut conn))
        } else {
            f(&mut conn)
        }
    }

    /// Runs `work` in one write transaction (`BEGIN IMMEDIATE`), committed when it succeeds.
    pub fn transaction<T>(
        &self,
        work: impl AsyncFnOnce(&mut SqliteDb<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let result = finish(work(&mut SqliteDb { conn: &tx }))?;
            tx.commit()?;
            Ok(result)
        })
    }

    /// Runs `work` outside a transaction: each statement commits on its own.
    pub fn autocommit<T>(
        &self,
        work: impl AsyncFnOnce(&mut SqliteDb<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with(|c| finish(work(&mut SqliteDb { conn: c })))
    }
}

/// Drives a future of rusqlite calls to its end. They never wait, so one poll does it.
fn finish<T>(work: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    match pin!(work).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(StoreError::Setup(
            "a SQLite transaction waited on something other than SQLite".into(),
        )),
    }
}

impl SqliteDb<'_> {
    /// Runs `f` on the statement of `q`, prepared (or taken from the cache; a statement
    /// built for one use is not cached, so that it pushes none of the hot ones out) and bound.
    fn with_statement<T>(
        &self,
        q: &Query<'_>,
        f: impl FnOnce(&mut rusqlite::Statement<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        if q.once {
            let mut stmt = self.conn.prepare(q.sql)?;
            bind(&mut stmt, q)?;
            f(&mut stmt)
        } else {
            let mut stmt = self.conn.prepare_cached(q.sql)?;
            bind(&mut stmt, q)?;
            f(&mut stmt)
        }
    }
}

/// Binds `$1`, `$2`, … SQLite numbers named parameters by first appearance, and every
/// statement of ours writes them first in the order of their numbers (a test of
/// `plans.rs` checks each one), so a statement with as many parameters as values binds
/// each by its index; any other binds by name.
fn bind(stmt: &mut rusqlite::Statement<'_>, q: &Query<'_>) -> rusqlite::Result<()> {
    let by_index = stmt.parameter_count() == q.args.len();
    for (i, v) in q.args.iter().enumerate() {
        let index = if by_index {
            Some(i + 1)
        } else {
            stmt.parameter_index(&format!("${}", i + 1))?
        };
        if let Some(index) = index {
            stmt.raw_bind_parameter(index, v)?;
        }
    }
    Ok(())
}

fn cells(row: &rusqlite::Row<'_>, columns: usize) -> rusqlite::Result<Row> {
    (0..columns)
        .map(|i| row.get::<_, rusqlite::types::Value>(i))
        .collect::<rusqlite::Result<Vec<_>>>()
        .map(Row::Sqlite)
}

impl Db for SqliteDb<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    async fn execute(&mut self, q: Query<'_>) -> Result<u64, StoreError> {
        Ok(self.with_statement(&q, |stmt| stmt.raw_execute())? as u64)
    }

    async fn fetch_all(&mut self, q: Query<'_>) -> Result<Vec<Row>, StoreError> {
        Ok(self.with_statement(&q, |stmt| {
            let columns = stmt.column_count();
            let mut rows = stmt.raw_query();
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(cells(row, columns)?);
            }
            Ok(out)
        })?)
    }

    /// The first column of every row, read in place (no row is built).
    async fn fetch_ints(&mut self, q: Query<'_>) -> Result<Vec<i64>, StoreError> {
        Ok(self.with_statement(&q, |stmt| {
            let mut rows = stmt.raw_query();
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(row.get(0)?);
            }
            Ok(out)
        })?)
    }

    /// The first column of the first row, read in place (no row is built).
    async fn fetch_int(&mut self, q: Query<'_>) -> Result<Option<i64>, StoreError> {
        Ok(self.with_statement(&q, |stmt| {
            let mut rows = stmt.raw_query();
            match rows.next()? {
                Some(row) => row.get(0).map(Some),
                None => Ok(None),
            }
        })?)
    }

    async fn fetch_optional(&mut self, q: Query<'_>) -> Result<Option<Row>, StoreError> {
        Ok(self.with_statement(&q, |stmt| {
            let columns = stmt.column_count();
            let mut rows = stmt.raw_query();
            match rows.next()? {
                Some(row) => cells(row, columns).map(Some),
                None => Ok(None),
            }
        })?)
    }
}
