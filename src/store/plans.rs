//! The queries on the runtime's hot path, and their plans: a test asks the
//! database how it runs each one and fails on a full scan of the outbox, the
//! inbox (handled update ids) or the sessions, so that the cost per update
//! stays flat however much history the database holds.

use super::sql::SqlStore;
use super::statements as sql;
use super::types::{Dialect, StoreError};
use sqlx::Row;

/// A parameter of a hot query, with a value of the right type for its plan.
#[derive(Debug, Clone)]
pub enum Param {
    Text(&'static str),
    Int(i64),
    /// A text built at run time (JSON rows of a multi-row statement, a search pattern).
    Owned(String),
}

#[derive(Debug, Clone)]
pub struct HotQuery {
    pub name: &'static str,
    pub sql: String,
    pub params: Vec<Param>,
}

/// Every statement of [`sql`] (a test checks that none is left out), with values of the
/// right types: the runtime runs them per update, per message or per tick.
pub fn hot_queries(dialect: Dialect) -> Vec<HotQuery> {
    use Param::{Int, Text};
    let t = "2026-01-01T00:00:00.000Z";
    let q = |name, sql: &str, params: Vec<Param>| HotQuery {
        name,
        sql: sql.to_string(),
        params,
    };
    let demo_id = || vec![Text("demo"), Int(1)];
    // A reply's bot, chat, text, keyboard and status.
    let reply = vec![Text("demo"), Int(1), Text("x"), Text("null"), Text("queued")];
    let mut queries = vec![
        // The step's reads.
        q("session", sql::SESSION, vec![Text("demo"), Int(1), Int(1)]),
        q("registration", sql::REGISTRATION, demo_id()),
        q(
            "session and registration",
            sql::SESSION_AND_REGISTRATION,
            vec![Text("demo"), Int(1), Int(1)],
        ),
        q("action button", sql::ACTION_BUTTON, vec![Text("demo"), Int(1), Int(1)]),
        q("update status", sql::UPDATE_STATUS, demo_id()),
        q("request by id", sql::REQUEST_BY_ID, demo_id()),
        q("pending request", sql::PENDING_REQUEST, demo_id()),
        q(
            "request",
            sql::INSERT_REQUEST,
            vec![
                Text("demo"),
                Int(1),
                Int(1),
                Text("n"),
                Text("u"),
                Text("{}"),
                Text("pending"),
                Text("r"),
                Text(t),
            ],
        ),
        // The group commit.
        q(
            "mark handled",
            sql::MARK_HANDLED,
            vec![Text("demo"), Int(1), Int(1), Text(t)],
        ),
        q(
            "decide request",
            sql::DECIDE_REQUEST,
            vec![Text("approved"), Text("r"), Text("demo"), Int(1)],
        ),
        q(
            "confirm request",
            sql::CONFIRM_REQUEST,
            vec![Text("pending"), Text("r"), Text("demo"), Int(1)],
        ),
        q(
            "record chat",
            sql::RECORD_CHAT,
            vec![Text("demo"), Int(1), Text("n"), Text(t)],
        ),
        q(
            "upsert session",
            sql::UPSERT_SESSION,
            vec![Text("demo"), Int(1), Int(1), Text("{}"), Text(t)],
        ),
        q(
            "upsert registration",
            sql::UPSERT_REGISTRATION,
            vec![
                Text("demo"),
                Int(1),
                Text("k"),
                Text("i"),
                Text("n"),
                Text("n"),
                Text(t),
                Text("s"),
            ],
        ),
        q(
            "others waiting",
            sql::OTHERS_WAITING,
            vec![Text("demo"), Int(1), Text("me"), Text(t)],
        ),
        q(
            "insert reply",
            sql::INSERT_REPLY,
            [reply.clone(), vec![Text(t), Text("me"), Text(t), Text("[]")]].concat(),
        ),
        q(
            "receive",
            &sql::receive_sql(2),
            vec![
                Text("demo"),
                Int(1),
                Int(1),
                Text("{}"),
                Text(t),
                Int(2),
                Int(1),
                Text("{}"),
                Text(t),
            ],
        ),
        q("insights log", &sql::insert_log_sql(1), {
            vec![
                Text("demo"),
                Text(t),
                Int(1),
                Text("update"),
                Text("n"),
                Text("v"),
                Text("l"),
                Int(1),
                Text("c"),
            ]
        }),
        // The inbox.
        q(
            "waiting updates",
            sql::WAITING_UPDATES,
            vec![Text("demo"), Int(1), Int(50)],
        ),
        q("all waiting updates", sql::ALL_WAITING_UPDATES, vec![Text("demo")]),
        q("waiting chats", sql::WAITING_CHATS, vec![Text(t), Int(500)]),
        q(
            "update failed",
            sql::UPDATE_FAILED,
            vec![Text("e"), Text("demo"), Int(1)],
        ),
        q(
            "poison update",
            sql::POISON_UPDATE,
            vec![Text("e"), Text(t), Text("demo"), Int(1)],
        ),
        q("poisoned updates", sql::POISONED_UPDATES, vec![Text("demo")]),
        // The outbox.
        q(
            "claim",
            &sql::claim_query(dialect),
            vec![Text("demo"), Text(t), Int(200)],
        ),
        q(
            "take claimed",
            &sql::take_claimed_sql("1, 2"),
            vec![Text("me"), Text(t)],
        ),
        q("fail corrupt", sql::FAIL_CORRUPT, vec![Text("e"), Text(t), Int(1)]),
        q("heartbeat", sql::HEARTBEAT, vec![Text("me"), Text(t)]),
        q("rescue", sql::RESCUE, vec![Text(t)]),
        q("forget instances", sql::FORGET_INSTANCES, vec![Text(t)]),
        q("hand back", sql::HAND_BACK, vec![Text("me")]),
        q("leave", sql::LEAVE, vec![Text("me")]),
        q("queue depth", sql::QUEUE_DEPTH, vec![]),
        q("sent", sql::SENT, vec![Text(t), Int(1), Int(1), Int(1)]),
        q("part sent", sql::PART_SENT, vec![Int(1), Int(1), Int(1)]),
        q("retry", sql::RETRY, vec![Int(1), Text(t), Text("e"), Int(1), Text("i")]),
        q(
            "failed",
            sql::FAILED,
            vec![Int(1), Text("e"), Text(t), Int(1), Text("i")],
        ),
        q("blocked", sql::BLOCKED, vec![Text("e"), Text(t), Int(1), Text("i")]),
        q("text replaced", sql::TEXT_REPLACED, vec![Text("x"), Int(1)]),
        q("released", sql::RELEASED, vec![Int(1), Text("i")]),
        q("retain inbox", sql::RETAIN_INBOX, vec![Text(t)]),
        q("retain outbox", sql::RETAIN_OUTBOX, vec![Text(t)]),
        q("retain insights", sql::RETAIN_LOG, vec![Text(t)]),
        // The HTTP API's.
        q("message by id", sql::MESSAGE_BY_ID, demo_id()),
        q("message status", sql::MESSAGE_STATUS, demo_id()),
        q(
            "cancel message",
            sql::CANCEL_MESSAGE,
            vec![Text(t), Text("demo"), Int(1)],
        ),
        q(
            "cancel broadcast",
            sql::CANCEL_BROADCAST,
            vec![Text(t), Text("demo"), Int(1)],
        ),
        q("broadcast by id", sql::BROADCAST_BY_ID, demo_id()),
        q("broadcast by key", sql::BROADCAST_BY_KEY, vec![Text("demo"), Text("k")]),
        q(
            "insert broadcast",
            sql::INSERT_BROADCAST,
            vec![Text("demo"), Int(2), Text("[]"), Text("k"), Text(t)],
        ),
        q("unregister", sql::UNREGISTER, demo_id()),
        q("chat name", sql::CHAT_NAME, demo_id()),
        q(
            "enqueue",
            sql::ENQUEUE,
            vec![Text("demo"), Int(1), Text("x"), Text("null"), Text(t), Text("[]")],
        ),
        q(
            "insert message",
            sql::INSERT_MESSAGE,
            vec![
                Text("demo"),
                Int(1),
                Text("x"),
                Text("null"),
                Text("[]"),
                Text("queued"),
                Text(t),
                Text(t),
                Text("k"),
                Int(1),
                Int(1),
            ],
        ),
        q("message by key", sql::MESSAGE_BY_KEY, vec![Text("demo"), Text("k")]),
        q("messages of a request", sql::MESSAGES_OF_FIRST, demo_id()),
        q(
            "insert action button",
            sql::INSERT_ACTION_BUTTON,
            vec![
                Text("demo"),
                Text("r"),
                Text("v"),
                Text("l"),
                Text("m"),
                Text(t),
                Int(1),
            ],
        ),
    ];
    if dialect == Dialect::Postgres {
        // Two rows each: the multi-row statements of PostgreSQL's group commit, whose rows
        // are a JSON array (each row's fields below, then the statement's other values).
        let at = format!("\"at\": \"{t}\"");
        let claim = format!("\"bot\": \"demo\", \"chat\": 1, \"owner\": \"me\", {at}");
        let reply = format!(
            "\"bot\": \"demo\", \"chat\": 1, \"text\": \"x\", \"keyboard\": \"null\", \"status\": \"sending\", \
             {at}, \"owner\": \"me\", \"claimed_at\": \"{t}\", \"attachments\": \"[]\""
        );
        // (name, statement, values before the rows, a row's fields, values after the rows)
        let many: [Many; 10] = [
            ("claim chats", sql::CLAIM_MANY, vec![], claim.clone(), vec![Text(t)]),
            (
                "claimed chats' state",
                sql::CLAIMED_STATE_MANY,
                vec![],
                "\"bot\": \"demo\", \"chat\": 1".into(),
                vec![],
            ),
            (
                "release chats",
                sql::RELEASE_MANY,
                vec![],
                "\"bot\": \"demo\", \"chat\": 1, \"owner\": \"me\"".into(),
                vec![],
            ),
            (
                "mark handled (many)",
                sql::MARK_HANDLED_MANY,
                vec![],
                format!("\"bot\": \"demo\", \"update_id\": 1, \"chat\": 1, {at}"),
                vec![],
            ),
            ("others waiting (many)", sql::OTHERS_WAITING_MANY, vec![], claim, vec![]),
            (
                "record chats (many)",
                sql::RECORD_CHATS_MANY,
                vec![],
                format!("\"bot\": \"demo\", \"chat\": 1, \"name\": \"n\", {at}"),
                vec![],
            ),
            (
                "sessions (many)",
                sql::SESSIONS_MANY,
                vec![],
                format!("\"bot\": \"demo\", \"chat\": 1, \"user_id\": 1, \"data\": \"{{}}\", {at}"),
                vec![],
            ),
            ("replies (many)", sql::REPLIES_MANY, vec![], reply, vec![]),
            (
                "insights log (many)",
                sql::INSERT_LOG_MANY,
                vec![],
                format!(
                    "\"bot\": \"demo\", {at}, \"chat\": 1, \"kind\": \"update\", \"name\": \"record\", \
                     \"value\": \"a\", \"label\": null, \"ms\": null, \"took\": null"
                ),
                vec![],
            ),
            (
                "sent (many)",
                sql::SENT_MANY,
                vec![Text(t)],
                "\"id\": 1, \"telegram\": 5, \"parts\": 1".into(),
                vec![],
            ),
        ];
        for (name, statement, before, row, after) in many {
            let rows = Param::Owned(format!("[{{{row}}}, {{{row}}}]"));
            queries.push(q(name, statement, [before, vec![rows], after].concat()));
        }
        queries.push(q(
            "release chat",
            sql::RELEASE_CHAT,
            vec![Text("demo"), Int(1), Text("me")],
        ));
    }
    queries
}

/// A multi-row statement's entry: its name, its text, the values before its rows, a row's
/// fields, and the values after its rows.
type Many = (&'static str, &'static str, Vec<Param>, String, Vec<Param>);

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
                Param::Owned(v) => q.bind(v.as_str()),
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

/// The numbers of the `$N` parameters of a statement, in the order they first appear.
#[cfg(test)]
pub(super) fn first_appearances(sql: &str) -> Vec<usize> {
    let mut seen = Vec::new();
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse::<usize>()
            && !seen.contains(&n)
        {
            seen.push(n);
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::first_appearances;

    /// SQLite numbers parameters by first appearance, and the rusqlite driver binds by index
    /// when the counts agree: every statement writes `$1`, `$2`, … first in that order.
    #[test]
    fn every_statement_numbers_its_parameters_in_order() {
        for dialect in [super::Dialect::Sqlite, super::Dialect::Postgres] {
            for q in super::hot_queries(dialect) {
                let order = first_appearances(&q.sql);
                let expected: Vec<usize> = (1..=order.len()).collect();
                assert_eq!(order, expected, "{}: {}", q.name, q.sql);
                assert_eq!(order.len(), q.params.len(), "{}: the values for its plan", q.name);
            }
        }
    }

    /// Every statement and statement builder of `statements.rs` is in [`super::hot_queries`]
    /// (but the savepoints, which have no plan, and the helpers that build placeholders).
    #[test]
    fn every_statement_has_its_plan_checked() {
        let statements = include_str!("statements.rs");
        let plans = include_str!("plans.rs");
        let skip = [
            "UNSENT",
            "CLAIMABLE",
            "REQUEST_COLUMNS",
            "MESSAGE_COLUMNS",
            "LOG_COLUMNS",
            "tuples",
        ];
        let mut missing = Vec::new();
        for line in statements.lines() {
            let name = line
                .strip_prefix("pub const ")
                .or_else(|| line.strip_prefix("pub fn "))
                .and_then(|rest| rest.split([':', '(']).next());
            if let Some(name) = name
                && !skip.contains(&name)
                && !name.contains("SAVEPOINT")
                && !plans.contains(&format!("sql::{name}"))
            {
                missing.push(name);
            }
        }
        assert!(missing.is_empty(), "statements whose plan no test checks: {missing:?}");
    }
}
