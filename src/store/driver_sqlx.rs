//! [`Db`] on sqlx: PostgreSQL, and SQLite where rusqlite does not serve (an
//! in-memory database, the drivers' test). Statements are prepared once per
//! connection and kept (sqlx's statement cache).

use super::db::{Arg, Db, Query, Row};
use super::types::{Dialect, StoreError};
use sqlx::AnyConnection;
use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments};

/// A connection (usually inside a transaction) as a [`Db`].
pub struct SqlxDb<'c> {
    pub conn: &'c mut AnyConnection,
    pub dialect: Dialect,
}

fn arguments<'q>(args: &'q [Arg<'q>]) -> Result<AnyArguments<'q>, StoreError> {
    let mut out = AnyArguments::default();
    for a in args {
        let added = match a {
            Arg::Int(v) => out.add(*v),
            Arg::Text(v) => out.add(v.as_deref()),
        };
        added.map_err(|e| StoreError::Sqlx(sqlx::Error::Encode(e)))?;
    }
    Ok(out)
}

fn query<'q>(q: &'q Query<'q>) -> Result<sqlx::query::Query<'q, Any, AnyArguments<'q>>, StoreError> {
    Ok(sqlx::query_with(q.sql, arguments(&q.args)?).persistent(!q.once))
}

impl Db for SqlxDb<'_> {
    fn dialect(&self) -> Dialect {
        self.dialect
    }

    async fn execute(&mut self, q: Query<'_>) -> Result<u64, StoreError> {
        Ok(query(&q)?.execute(&mut *self.conn).await?.rows_affected())
    }

    async fn fetch_all(&mut self, q: Query<'_>) -> Result<Vec<Row>, StoreError> {
        let rows = query(&q)?.fetch_all(&mut *self.conn).await?;
        Ok(rows.into_iter().map(Row::Sqlx).collect())
    }

    async fn fetch_optional(&mut self, q: Query<'_>) -> Result<Option<Row>, StoreError> {
        Ok(query(&q)?.fetch_optional(&mut *self.conn).await?.map(Row::Sqlx))
    }
}
