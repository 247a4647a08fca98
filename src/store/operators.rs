//! Operators, the audit log, and the pages of the console's lists (api.md,
//! Operators and the console): every list is a page cut in SQL (`LIMIT`, by
//! id or key), so that it costs the same with a million rows as with ten.

use super::queries::StoredMessage;
use super::sql::{SqlStore, StoreError, now_text};
use chrono::{DateTime, FixedOffset};
use sqlx::Row;

/// An operator as stored: the token only as its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRow {
    pub name: String,
    pub role: String,
    pub created_at: String,
}

/// A row of the audit log.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub operator: String,
    pub action: String,
    pub bot: Option<String>,
    pub object: Option<String>,
    pub detail: String,
}

/// What the audit log records of one call.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry {
    pub operator: String,
    pub action: String,
    pub bot: Option<String>,
    pub object: Option<String>,
    pub detail: String,
}

/// Which end of a list a page starts from: the oldest first after an id (the API's
/// default), or the newest first before one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Oldest { after: i64, limit: i64 },
    Newest { before: Option<i64>, limit: i64 },
}

/// A statement built from conditions, with its arguments numbered as they are added
/// (PostgreSQL refuses an argument the statement does not use).
#[derive(Default)]
pub struct Statement {
    sql: String,
    args: Vec<Arg>,
}

enum Arg {
    Int(i64),
    Text(String),
}

impl Statement {
    fn new(sql: &str) -> Statement {
        Statement {
            sql: sql.to_string(),
            args: Vec::new(),
        }
    }

    /// Adds an argument and answers its placeholder.
    fn arg(&mut self, value: Arg) -> String {
        self.args.push(value);
        format!("${}", self.args.len())
    }

    fn push(&mut self, text: &str) {
        self.sql.push_str(text);
    }

    /// `AND id > after ORDER BY id LIMIT n`, or newest first.
    fn page(&mut self, column: &str, page: Page) {
        match page {
            Page::Oldest { after, limit } => {
                let a = self.arg(Arg::Int(after));
                let l = self.arg(Arg::Int(limit));
                self.push(&format!(" AND {column} > {a} ORDER BY {column} LIMIT {l}"));
            }
            Page::Newest { before, limit } => {
                if let Some(before) = before {
                    let b = self.arg(Arg::Int(before));
                    self.push(&format!(" AND {column} < {b}"));
                }
                let l = self.arg(Arg::Int(limit));
                self.push(&format!(" ORDER BY {column} DESC LIMIT {l}"));
            }
        }
    }

    /// The statement as the plan test takes it.
    pub fn hot(self, name: &'static str) -> super::plans::HotQuery {
        super::plans::HotQuery {
            name,
            sql: self.sql,
            params: self
                .args
                .into_iter()
                .map(|a| match a {
                    Arg::Int(i) => super::plans::Param::Int(i),
                    Arg::Text(t) => super::plans::Param::Owned(t),
                })
                .collect(),
        }
    }

    fn query(&self) -> sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments<'_>> {
        let mut q = sqlx::query(&self.sql);
        for a in &self.args {
            q = match a {
                Arg::Int(i) => q.bind(*i),
                Arg::Text(t) => q.bind(t.as_str()),
            };
        }
        q
    }
}

/// Whether adding an operator failed because the name is taken.
#[derive(Debug)]
pub enum AddOperator {
    Added,
    Exists,
}

/// The console's overview of one bot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overview {
    pub updates: i64,
    pub users: i64,
    pub algorithm_failures: i64,
    pub scheduled: i64,
    pub queued: i64,
    pub failed: i64,
    /// Updates and users per hour, oldest first, hours with updates only.
    pub hourly: Vec<super::insights::Hour>,
}

/// A row of the broadcasts list: id, created at, recipients.
#[derive(Debug, Clone)]
pub struct BroadcastRow {
    pub id: i64,
    pub created_at: String,
    pub recipients: i64,
}

impl SqlStore {
    /// Adds an operator with the hash of their token.
    pub async fn add_operator(
        &self,
        name: &str,
        role: &str,
        token_hash: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<AddOperator, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO operators (name, role, token_hash, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(role)
        .bind(token_hash)
        .bind(now_text(now))
        .execute(&self.pool)
        .await?;
        Ok(if inserted.rows_affected() == 1 {
            AddOperator::Added
        } else {
            AddOperator::Exists
        })
    }

    /// Every operator, by name.
    pub async fn operators(&self) -> Result<Vec<OperatorRow>, StoreError> {
        let rows = sqlx::query("SELECT name, role, created_at FROM operators ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| OperatorRow {
                name: r.get(0),
                role: r.get(1),
                created_at: r.get(2),
            })
            .collect())
    }

    /// Removes an operator (their token stops working at once); whether there was one.
    pub async fn remove_operator(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM operators WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The operator whose token has this hash: (name, role).
    pub async fn operator_by_token(&self, token_hash: &str) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query("SELECT name, role FROM operators WHERE token_hash = $1")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// Records a call that changed something.
    pub async fn audit(&self, entry: &AuditEntry, now: DateTime<FixedOffset>) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO audit (at, operator, action, bot, object, detail) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(now_text(now))
            .bind(&entry.operator)
            .bind(&entry.action)
            .bind(entry.bot.as_deref())
            .bind(entry.object.as_deref())
            .bind(&entry.detail)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A page of the audit log.
    pub async fn audit_page(&self, page: Page) -> Result<Vec<AuditRow>, StoreError> {
        let s = audit_statement(page);
        let rows = s.query().fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| AuditRow {
                id: r.get(0),
                at: r.get(1),
                operator: r.get(2),
                action: r.get(3),
                bot: r.get(4),
                object: r.get(5),
                detail: r.get(6),
            })
            .collect())
    }

    /// A page of messages with the status the API shows (`queued` covers `sending` and
    /// `scheduled` messages whose time has come), to one chat or any.
    pub async fn messages_list(
        &self,
        bot: &str,
        status: Option<&str>,
        to: Option<i64>,
        now: DateTime<FixedOffset>,
        page: Page,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let s = messages_statement(bot, status, to, now, page);
        let rows = s.query().fetch_all(&self.pool).await?;
        Ok(rows.iter().map(StoredMessage::from_row).collect())
    }

    /// A page of registered users (key, principal, name, registered at) by key, those whose
    /// key, name or principal contains `search` (any case) when it is given.
    pub async fn users_list(
        &self,
        bot: &str,
        search: Option<&str>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<(i64, crate::engine::Principal, String, String)>, StoreError> {
        let s = users_statement(bot, search, after, limit);
        let rows = s.query().fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    crate::engine::Principal {
                        kind: r.get(1),
                        id: r.get(2),
                        name: r.get(3),
                    },
                    r.get(4),
                    r.get(5),
                )
            })
            .collect())
    }

    /// A page of a bot's broadcasts.
    pub async fn broadcasts_list(&self, bot: &str, page: Page) -> Result<Vec<BroadcastRow>, StoreError> {
        let s = broadcasts_statement(bot, page);
        let rows = s.query().fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| BroadcastRow {
                id: r.get(0),
                created_at: r.get(1),
                recipients: r.get(2),
            })
            .collect())
    }

    /// The console's overview of a bot: updates, users and failed algorithm calls since
    /// `since` (the start of the day), messages waiting or failed, and updates per hour
    /// from `hours_from` on.
    pub async fn overview(
        &self,
        bot: &str,
        since: DateTime<FixedOffset>,
        hours_from: DateTime<FixedOffset>,
        now: DateTime<FixedOffset>,
    ) -> Result<Overview, StoreError> {
        let mut o = Overview::default();
        let mut conn = self.pool.acquire().await?;
        let (now_t, since_t) = (now_text(now), now_text(since));
        (o.updates, o.users) = super::insights::totals(&mut conn, bot, &since_t, &now_t).await?;
        o.algorithm_failures = sqlx::query_scalar(ALGORITHM_FAILURES)
            .bind(bot)
            .bind(&since_t)
            .fetch_one(&mut *conn)
            .await?;
        let waiting = sqlx::query(WAITING_COUNTS)
            .bind(bot)
            .bind(&now_t)
            .fetch_all(&mut *conn)
            .await?;
        for r in &waiting {
            let shown: String = r.get(0);
            let n: i64 = r.get(1);
            match shown.as_str() {
                "scheduled" => o.scheduled = n,
                "failed" => o.failed = n,
                _ => o.queued = n,
            }
        }
        o.hourly = super::insights::hourly(&mut conn, bot, &now_text(hours_from), &now_t).await?;
        Ok(o)
    }
}

// The console's statements, built per request: these functions build them for the store's
// methods above and for the plan test (`console_plans.rs`).

/// The overview's failed algorithm calls since `$2`.
pub const ALGORITHM_FAILURES: &str = "SELECT COUNT(*) FROM insights WHERE bot = $1 AND kind = 'algorithm' AND at >= $2 \
     AND value IN ('failed', 'timeout')";

/// The overview's messages waiting or failed, by the status the API shows (`$2`: now).
pub const WAITING_COUNTS: &str = "SELECT CASE WHEN status = 'scheduled' AND due_at > $2 THEN 'scheduled' \
     WHEN status = 'failed' THEN 'failed' ELSE 'queued' END AS shown, COUNT(*) FROM outbox \
     WHERE bot = $1 AND status IN ('scheduled', 'queued', 'sending', 'failed') GROUP BY shown";

/// A page of the audit log.
pub fn audit_statement(page: Page) -> Statement {
    let mut s = Statement::new("SELECT id, at, operator, action, bot, object, detail FROM audit WHERE 1 = 1");
    s.page("id", page);
    s
}

/// A page of messages (see [`SqlStore::messages_list`]).
pub fn messages_statement(
    bot: &str,
    status: Option<&str>,
    to: Option<i64>,
    now: DateTime<FixedOffset>,
    page: Page,
) -> Statement {
    let mut s = Statement::new(&format!(
        "SELECT {} FROM outbox WHERE bot = ",
        super::statements::MESSAGE_COLUMNS
    ));
    let b = s.arg(Arg::Text(bot.into()));
    s.push(&b);
    if let Some(chat) = to {
        let c = s.arg(Arg::Int(chat));
        s.push(&format!(" AND chat = {c}"));
    }
    match status {
        None => {}
        Some("queued") => {
            let n = s.arg(Arg::Text(now_text(now)));
            s.push(&format!(
                " AND (status IN ('queued', 'sending') OR (status = 'scheduled' AND due_at <= {n}))"
            ));
        }
        Some("scheduled") => {
            let n = s.arg(Arg::Text(now_text(now)));
            s.push(&format!(" AND status = 'scheduled' AND due_at > {n}"));
        }
        Some(other) => {
            let v = s.arg(Arg::Text(other.into()));
            s.push(&format!(" AND status = {v}"));
        }
    }
    s.page("id", page);
    s
}

/// A page of registered users (see [`SqlStore::users_list`]).
pub fn users_statement(bot: &str, search: Option<&str>, after: i64, limit: i64) -> Statement {
    let mut s = Statement::new(
        "SELECT chat, kind, principal_id, principal_name, name, registered_at FROM registrations WHERE bot = ",
    );
    let b = s.arg(Arg::Text(bot.into()));
    s.push(&b);
    if let Some(search) = search.map(str::trim).filter(|t| !t.is_empty()) {
        // `search` holds the key, name and principal folded to lower case by Rust.
        let escaped: String = search
            .to_lowercase()
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let p = s.arg(Arg::Text(format!("%{escaped}%")));
        s.push(&format!(" AND search LIKE {p} ESCAPE '\\'"));
    }
    s.page("chat", Page::Oldest { after, limit });
    s
}

/// A page of a bot's broadcasts.
pub fn broadcasts_statement(bot: &str, page: Page) -> Statement {
    let mut s = Statement::new("SELECT id, created_at, recipients FROM broadcasts WHERE bot = ");
    let b = s.arg(Arg::Text(bot.into()));
    s.push(&b);
    s.page("id", page);
    s
}
