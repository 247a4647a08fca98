//! The queries on the runtime's hot path, and their plans: a test asks the
//! database how it runs each one and fails on a full scan of the outbox, the
//! inbox (handled update ids) or the sessions, so that the cost per update
//! stays flat however much history the database holds.

use super::sql::{Dialect, SqlStore, StoreError};
use super::{commit, inbox, outbox, sql};
use sqlx::Row;

/// A parameter of a hot query, with a value of the right type for its plan.
#[derive(Debug, Clone)]
pub enum Param {
    Text(&'static str),
    Int(i64),
}

#[derive(Debug, Clone)]
pub struct HotQuery {
    pub name: &'static str,
    pub sql: String,
    pub params: Vec<Param>,
}

/// Every query the runtime runs per update, per message or per tick.
pub fn hot_queries(dialect: Dialect) -> Vec<HotQuery> {
    use Param::{Int, Text};
    let t = "2026-01-01T00:00:00.000Z";
    let q = |name, sql: &str, params: Vec<Param>| HotQuery {
        name,
        sql: sql.to_string(),
        params,
    };
    let mut queries = vec![
        q("session", sql::SESSION, vec![Text("demo"), Int(1), Int(1)]),
        q("registration", sql::REGISTRATION, vec![Text("demo"), Int(1)]),
        q(
            "mark handled",
            commit::MARK_HANDLED,
            vec![Text("demo"), Int(1), Int(1), Text(t)],
        ),
        q(
            "others waiting",
            commit::OTHERS_WAITING,
            vec![Text("demo"), Int(1), Text("me"), Text(t)],
        ),
        q(
            "waiting updates",
            inbox::WAITING_UPDATES,
            vec![Text("demo"), Int(1), Int(50)],
        ),
        q("waiting chats", inbox::WAITING_CHATS, vec![Text(t), Int(500)]),
        q(
            "claim",
            &outbox::claim_query(dialect),
            vec![Text("demo"), Text(t), Int(200)],
        ),
        q("rescue", outbox::RESCUE, vec![Text(t)]),
        q("retain inbox", outbox::RETAIN_INBOX, vec![Text(t)]),
        q("retain outbox", outbox::RETAIN_OUTBOX, vec![Text(t)]),
        q("retain insights", super::insights::RETAIN, vec![Text(t)]),
    ];
    if dialect == Dialect::Postgres {
        use super::commit_many as many;
        // Two rows each: the multi-row statements of PostgreSQL's group commit.
        let two = |a: Vec<Param>| [a.clone(), a].concat();
        queries.push(q("claim chats", &many::claim_sql(2), {
            let mut p = two(vec![Text("demo"), Int(1), Text("me"), Text(t)]);
            p.push(Text(t));
            p
        }));
        queries.push(q(
            "claimed chats' state",
            &many::claimed_state_sql(2),
            two(vec![Text("demo"), Int(1)]),
        ));
        queries.push(q(
            "release chats",
            &many::release_sql(2),
            two(vec![Text("demo"), Int(1), Text("me")]),
        ));
        queries.push(q(
            "mark handled (many)",
            &many::mark_handled_sql(2),
            two(vec![Text("demo"), Int(1), Int(1), Text(t), Text(t)]),
        ));
        queries.push(q(
            "others waiting (many)",
            &commit::others_waiting_in("($1, $2, $3, $4), ($5, $6, $7, $8)"),
            two(vec![Text("demo"), Int(1), Text("me"), Text(t)]),
        ));
        queries.push(q(
            "session and registration",
            sql::SESSION_AND_REGISTRATION,
            vec![Text("demo"), Int(1), Int(1)],
        ));
        queries.push(q(
            "release chat",
            sql::RELEASE_CHAT,
            vec![Text("demo"), Int(1), Text("me")],
        ));
    }
    queries
}

/// The tables a hot query must never read whole.
const WATCHED: [&str; 4] = ["outbox", "inbox", "sessions", "insights"];

impl SqlStore {
    /// The database's plan for a query, a line per step.
    pub async fn plan(&self, query: &HotQuery) -> Result<Vec<String>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let explain = match self.dialect {
            Dialect::Sqlite => format!("EXPLAIN QUERY PLAN {}", query.sql),
            Dialect::Postgres => {
                // With sequential scans priced out, a plan that still scans has no usable index.
                sqlx::query("SET enable_seqscan = off").execute(&mut *conn).await?;
                format!("EXPLAIN {}", query.sql)
            }
        };
        let mut q = sqlx::query(&explain);
        for p in &query.params {
            q = match p {
                Param::Text(v) => q.bind(*v),
                Param::Int(v) => q.bind(*v),
            };
        }
        let rows = q.fetch_all(&mut *conn).await;
        if self.dialect == Dialect::Postgres {
            sqlx::query("RESET enable_seqscan").execute(&mut *conn).await?;
        }
        let column = if self.dialect == Dialect::Sqlite { 3 } else { 0 };
        Ok(rows?.iter().map(|r| r.get::<String, _>(column)).collect())
    }
}

/// The steps of a plan that read a watched table whole.
pub fn full_scans(dialect: Dialect, plan: &[String]) -> Vec<String> {
    plan.iter()
        .filter(|step| {
            let step = step.trim();
            match dialect {
                // `SCAN t` reads the table; `SCAN t USING ... INDEX i` reads an index, and every
                // index the hot path scans is partial (only unfinished rows).
                Dialect::Sqlite => {
                    let Some(rest) = step.strip_prefix("SCAN ") else {
                        return false;
                    };
                    let table = rest.split_whitespace().next().unwrap_or("");
                    let watched = WATCHED.contains(&table) || ["o", "p"].contains(&table);
                    watched && !rest.contains("INDEX")
                }
                Dialect::Postgres => WATCHED.iter().any(|t| step.contains(&format!("Seq Scan on {t}"))),
            }
        })
        .cloned()
        .collect()
}
