//! State in a real database through sqlx (SQLite by default, PostgreSQL for
//! scale-out): sessions, registrations, authorization requests, handled
//! update ids and the outbox. Queries are written once with `$N`
//! parameters, which both databases accept.

use crate::algorithms::{self, AlgorithmCall, AlgorithmFailure, Builtins};
use crate::engine::{AuthRequest, AuthStatus, Keyboard, Outgoing, Principal, Session, World};
use crate::expr::Value;
use chrono::{DateTime, FixedOffset, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Row, Transaction};
use std::time::Duration;

/// Migrations, versioned in the repository: one file per version and dialect.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        include_str!("../../migrations/sqlite/0001_init.sql"),
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        include_str!("../../migrations/sqlite/0002_outbox_parts.sql"),
        include_str!("../../migrations/postgres/0002_outbox_parts.sql"),
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct SqlStore {
    pub pool: AnyPool,
    pub dialect: Dialect,
    /// Bounds the connections held by chat locks, so that the updates holding them can
    /// always get another connection for their reads and commit (no pool deadlock).
    chat_locks: std::sync::Arc<tokio::sync::Semaphore>,
}

/// PostgreSQL connections per instance, and how many of them chat locks may hold.
const PG_CONNECTIONS: u32 = 32;
const PG_LOCKS: usize = 12;

/// After this long a claim on a message is taken over by another sender (default).
pub const STALE_CLAIM: Duration = Duration::from_secs(60);

/// A held per-chat lock (PostgreSQL).
pub struct ChatLock {
    conn: sqlx::pool::PoolConnection<Any>,
    key: i64,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl ChatLock {
    pub async fn release(mut self) {
        if let Err(e) = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .execute(&mut *self.conn)
            .await
        {
            // A connection that cannot unlock must not go back to the pool holding the lock.
            tracing::warn!(error = %e, "cannot release a chat lock; closing its connection");
            let _ = self.conn.close().await;
        }
    }
}

fn chat_lock_key(bot: &str, chat: i64) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(bot.as_bytes())
        .chain_update(chat.to_le_bytes())
        .finalize();
    i64::from_le_bytes(digest[..8].try_into().expect("eight bytes"))
}

/// A database error, with nothing secret in it.
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoreError {}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        StoreError(format!("database error: {e}"))
    }
}

pub fn now_text(t: DateTime<FixedOffset>) -> String {
    t.with_timezone(&Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_time(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap_or_else(|_| DateTime::<Utc>::UNIX_EPOCH.fixed_offset())
}

impl SqlStore {
    /// Opens (creating a SQLite file if needed) and migrates the database at `url`.
    pub async fn open(url: &str) -> Result<SqlStore, StoreError> {
        sqlx::any::install_default_drivers();
        let (dialect, url) = if let Some(path) = url.strip_prefix("sqlite://") {
            let url = if path.contains('?') {
                format!("sqlite://{path}")
            } else {
                format!("sqlite://{path}?mode=rwc")
            };
            (Dialect::Sqlite, url)
        } else if url.starts_with("sqlite:") {
            (Dialect::Sqlite, url.to_string())
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Dialect::Postgres, url.to_string())
        } else {
            return Err(StoreError(format!(
                "unsupported database URL (use sqlite://FILE or postgres://…): {}",
                redact_password(url)
            )));
        };
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        // SQLite has one writer: one connection serializes updates instead of failing them as busy.
        let options = match dialect {
            Dialect::Sqlite => options.max_connections(1).after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA synchronous = FULL").execute(&mut *conn).await?;
                    Ok(())
                })
            }),
            Dialect::Postgres => options.max_connections(PG_CONNECTIONS),
        };
        let pool = options
            .connect(&url)
            .await
            .map_err(|e| StoreError(format!("cannot open the database {}: {e}", redact_password(&url))))?;
        let store = SqlStore {
            pool,
            dialect,
            chat_locks: std::sync::Arc::new(tokio::sync::Semaphore::new(PG_LOCKS)),
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the migrations not yet applied, all in one transaction. On PostgreSQL an
    /// advisory lock makes instances that start at once migrate one after another.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        if self.dialect == Dialect::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7263541)")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)",
        )
        .execute(&mut *tx)
        .await?;
        for (version, sqlite, postgres) in MIGRATIONS {
            let done: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
            if done.is_some() {
                continue;
            }
            let script = if self.dialect == Dialect::Sqlite {
                sqlite
            } else {
                postgres
            };
            // Comment lines go first, so that a `;` in a comment never splits a statement.
            let code: Vec<&str> = script.lines().filter(|l| !l.trim_start().starts_with("--")).collect();
            for statement in code.join("\n").split(';').map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
                .bind(version)
                .bind(now_text(Utc::now().fixed_offset()))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The stored session of one user, if any (undecodable ones are logged and dropped).
    pub async fn session(&self, bot: &str, chat: i64, user: i64) -> Result<Option<Session>, StoreError> {
        let data: Option<String> =
            sqlx::query_scalar("SELECT data FROM sessions WHERE bot = $1 AND chat = $2 AND user_id = $3")
                .bind(bot)
                .bind(chat)
                .bind(user)
                .fetch_optional(&self.pool)
                .await?;
        Ok(data.and_then(|d| decode_session(bot, chat, &d)))
    }

    pub async fn registrations(&self, bot: &str) -> Result<Vec<(i64, Principal, String, String)>, StoreError> {
        let rows = sqlx::query("SELECT chat, kind, principal_id, principal_name, name, registered_at FROM registrations WHERE bot = $1 ORDER BY chat")
            .bind(bot)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let p = Principal {
                    kind: r.get(1),
                    id: r.get(2),
                    name: r.get(3),
                };
                (r.get::<i64, _>(0), p, r.get(4), r.get(5))
            })
            .collect())
    }

    pub async fn outbox_statuses(&self, bot: &str) -> Result<Vec<(i64, i64, String, String)>, StoreError> {
        let rows = sqlx::query("SELECT id, chat, text, status FROM outbox WHERE bot = $1 ORDER BY id")
            .bind(bot)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
    }

    /// Claims due messages of a bot for sending, oldest first, at most one per chat at a time
    /// (a chat's next message waits while an earlier one is being sent or is backing off), so
    /// that several instances never send one message twice nor a chat's messages out of order.
    /// A claim older than `stale_after` (its instance died) is taken over.
    pub async fn claim_due(
        &self,
        bot: &str,
        now: DateTime<FixedOffset>,
        limit: i64,
        stale_after: Duration,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let now_s = now_text(now);
        let stale = now_text(now - chrono::Duration::from_std(stale_after).unwrap_or(chrono::Duration::seconds(60)));
        sqlx::query("UPDATE outbox SET status = 'queued' WHERE bot = $1 AND status = 'sending' AND claimed_at < $2")
            .bind(bot)
            .bind(&stale)
            .execute(&self.pool)
            .await?;
        let lock = if self.dialect == Dialect::Postgres {
            " FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query(&format!(
            "SELECT id, chat, text, keyboard, attachments, attempts, parts_sent FROM outbox o \
             WHERE o.bot = $1 AND o.status IN ('queued', 'scheduled') AND o.due_at <= $2 \
             AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.bot = o.bot AND p.chat = o.chat AND p.id < o.id \
                 AND (p.status = 'sending' OR (p.status IN ('queued', 'scheduled') AND (p.due_at <= $2 OR p.attempts > 0)))) \
             ORDER BY o.id LIMIT $3{lock}"
        ))
        .bind(bot)
        .bind(&now_s)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut messages: Vec<OutboxMessage> = rows.iter().map(OutboxMessage::from_row).collect();
        for m in &mut messages {
            m.claimed_at = now_s.clone();
            sqlx::query("UPDATE outbox SET status = 'sending', claimed_at = $1 WHERE id = $2")
                .bind(&now_s)
                .bind(m.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(messages)
    }

    /// Renews a claim just before sending; `None` when another sender has taken the message over.
    pub async fn renew_claim(
        &self,
        id: i64,
        token: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<Option<String>, StoreError> {
        let renewed = now_text(now);
        let done =
            sqlx::query("UPDATE outbox SET claimed_at = $1 WHERE id = $2 AND status = 'sending' AND claimed_at = $3")
                .bind(&renewed)
                .bind(id)
                .bind(token)
                .execute(&self.pool)
                .await?;
        Ok((done.rows_affected() == 1).then_some(renewed))
    }

    /// Gives a claimed message back to the queue unchanged (its chat is at its rate limit).
    pub async fn release(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET status = 'queued', claimed_at = NULL WHERE id = $1 AND status = 'sending'")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Serializes the handling of one chat's updates across instances (PostgreSQL advisory
    /// lock on a connection of its own, released by [`ChatLock::release`] or when the
    /// connection closes with a dead instance). SQLite needs none: one process serves it.
    pub async fn lock_chat(&self, bot: &str, chat: i64) -> Result<Option<ChatLock>, StoreError> {
        if self.dialect != Dialect::Postgres {
            return Ok(None);
        }
        let key = chat_lock_key(bot, chat);
        let permit = self
            .chat_locks
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError("the store is closed".into()))?;
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(key)
            .execute(&mut *conn)
            .await?;
        Ok(Some(ChatLock {
            conn,
            key,
            _permit: permit,
        }))
    }

    pub async fn mark_sent(&self, id: i64, at: DateTime<FixedOffset>) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET status = 'sent', sent_at = $1 WHERE id = $2")
            .bind(now_text(at))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn mark_retry(
        &self,
        id: i64,
        attempts: i64,
        due: DateTime<FixedOffset>,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET status = 'queued', attempts = $1, due_at = $2, last_error = $3 WHERE id = $4")
            .bind(attempts)
            .bind(now_text(due))
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn mark_failed(&self, id: i64, attempts: i64, error: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET status = 'failed', attempts = $1, last_error = $2 WHERE id = $3")
            .bind(attempts)
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that a part of a message was acknowledged (the text's Telegram id when it is part 0).
    pub async fn mark_part_sent(&self, id: i64, parts_sent: i64, telegram_id: Option<i64>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET parts_sent = $1, telegram_message_id = COALESCE($2, telegram_message_id) WHERE id = $3",
        )
        .bind(parts_sent)
        .bind(telegram_id)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Replaces a message's text (used to resend a business system's text escaped when Telegram rejects its HTML).
    pub async fn replace_text(&self, id: i64, text: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET text = $1 WHERE id = $2")
            .bind(text)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn decode_session(bot: &str, chat: i64, data: &str) -> Option<Session> {
    match serde_json::from_str(data) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(bot, chat, error = %e, "a stored session cannot be decoded; starting at the top level");
            None
        }
    }
}

/// Hides the password of a database URL.
pub fn redact_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// A message waiting in the outbox.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub id: i64,
    pub chat: i64,
    pub text: String,
    pub keyboard: Keyboard,
    pub attachments: Vec<Attachment>,
    pub attempts: i64,
    /// Parts already acknowledged by Telegram: the text is part 0, then each attachment.
    pub parts_sent: i64,
    /// When this sender claimed it: the claim's token (a takeover writes another time).
    pub claimed_at: String,
}

/// A file sent after a message's text.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Attachment {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl OutboxMessage {
    fn from_row(r: &AnyRow) -> OutboxMessage {
        let keyboard: String = r.get(3);
        let attachments: String = r.get(4);
        OutboxMessage {
            id: r.get(0),
            chat: r.get(1),
            text: r.get(2),
            keyboard: serde_json::from_str(&keyboard).unwrap_or_default(),
            attachments: serde_json::from_str(&attachments).unwrap_or_default(),
            attempts: r.get(5),
            parts_sent: r.get(6),
            claimed_at: String::new(),
        }
    }
}

/// Puts messages into the outbox inside a transaction.
pub async fn enqueue(
    tx: &mut Transaction<'static, Any>,
    bot: &str,
    messages: &[Outgoing],
    now: DateTime<FixedOffset>,
) -> Result<(), sqlx::Error> {
    for m in messages {
        sqlx::query(
            "INSERT INTO outbox (bot, chat, text, keyboard, attachments, status, due_at, created_at, attempts) \
             VALUES ($1, $2, $3, $4, '[]', 'queued', $5, $5, 0)",
        )
        .bind(bot)
        .bind(m.to)
        .bind(&m.text)
        .bind(serde_json::to_string(&m.keyboard).expect("keyboards serialize"))
        .bind(now_text(now))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The engine's world inside one database transaction. Engine calls are
/// synchronous, so each query is driven to completion on the runtime from a
/// blocking thread. The first database error is kept; the caller then rolls back.
pub struct TxWorld<'b> {
    pub tx: Option<Transaction<'static, Any>>,
    pub bot: String,
    pub handle: tokio::runtime::Handle,
    pub builtins: &'b Builtins,
    pub error: Option<sqlx::Error>,
}

impl TxWorld<'_> {
    fn run<T: Default>(
        &mut self,
        f: impl AsyncFnOnce(&mut Transaction<'static, Any>, &str) -> Result<T, sqlx::Error>,
    ) -> T {
        if self.error.is_some() {
            return T::default();
        }
        let mut tx = self.tx.take().expect("transaction present");
        let bot = self.bot.clone();
        let result = self.handle.block_on(f(&mut tx, &bot));
        self.tx = Some(tx);
        match result {
            Ok(v) => v,
            Err(e) => {
                self.error = Some(e);
                T::default()
            }
        }
    }
}

/// Inserts or replaces a session.
pub(crate) async fn upsert_session(
    conn: &mut sqlx::AnyConnection,
    bot: &str,
    (chat, user): (i64, i64),
    session: &Session,
    at: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (bot, chat, user_id, data, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (bot, chat, user_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
    )
    .bind(bot)
    .bind(chat)
    .bind(user)
    .bind(serde_json::to_string(session).expect("sessions serialize"))
    .bind(at)
    .execute(conn)
    .await
    .map(|_| ())
}

/// Registers a chat as a principal, or changes its registration.
pub(crate) async fn upsert_registration(
    conn: &mut sqlx::AnyConnection,
    bot: &str,
    key: i64,
    principal: &Principal,
    name: &str,
    at: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO registrations (bot, chat, kind, principal_id, principal_name, name, registered_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (bot, chat) DO UPDATE SET kind = excluded.kind, \
         principal_id = excluded.principal_id, principal_name = excluded.principal_name, name = excluded.name, \
         registered_at = excluded.registered_at",
    )
    .bind(bot)
    .bind(key)
    .bind(&principal.kind)
    .bind(&principal.id)
    .bind(&principal.name)
    .bind(name)
    .bind(at)
    .execute(conn)
    .await
    .map(|_| ())
}

pub(crate) fn request_from_row(r: &AnyRow) -> AuthRequest {
    let status: String = r.get(6);
    AuthRequest {
        id: r.get::<i64, _>(0) as u64,
        key: r.get(1),
        user_id: r.get(2),
        name: r.get(3),
        username: r.get(4),
        data: r.get(5),
        status: match status.as_str() {
            "approved" => AuthStatus::Approved,
            "rejected" => AuthStatus::Rejected,
            _ => AuthStatus::Pending,
        },
        reason: r.get(7),
        created_at: parse_time(&r.get::<String, _>(8)),
    }
}

pub(crate) const REQUEST_COLUMNS: &str = "id, chat, user_id, name, username, data, status, reason, created_at";

impl World for TxWorld<'_> {
    fn session(&mut self, chat: i64, user: i64) -> Option<Session> {
        let data: Option<String> = self.run(async |tx, bot| {
            sqlx::query_scalar("SELECT data FROM sessions WHERE bot = $1 AND chat = $2 AND user_id = $3")
                .bind(bot)
                .bind(chat)
                .bind(user)
                .fetch_optional(&mut **tx)
                .await
        });
        data.and_then(|d| decode_session(&self.bot, chat, &d))
    }

    fn save_session(&mut self, chat: i64, user: i64, session: &Session) {
        let now = now_text(Utc::now().fixed_offset());
        self.run(async |tx, bot| upsert_session(tx, bot, (chat, user), session, &now).await)
    }

    fn registration(&mut self, key: i64) -> Option<Principal> {
        let row: Option<(String, String, String)> = self.run(async |tx, bot| {
            sqlx::query("SELECT kind, principal_id, principal_name FROM registrations WHERE bot = $1 AND chat = $2")
                .bind(bot)
                .bind(key)
                .fetch_optional(&mut **tx)
                .await
                .map(|r| r.map(|r| (r.get(0), r.get(1), r.get(2))))
        });
        row.map(|(kind, id, name)| Principal { kind, id, name })
    }

    fn register(&mut self, key: i64, principal: &Principal, name: &str, at: DateTime<FixedOffset>) {
        let at = now_text(at);
        self.run(async |tx, bot| upsert_registration(tx, bot, key, principal, name, &at).await)
    }

    fn create_auth_request(&mut self, r: AuthRequest) -> u64 {
        let created = now_text(r.created_at);
        let id: i64 = self.run(async |tx, bot| {
            sqlx::query_scalar(
                "INSERT INTO auth_requests (bot, chat, user_id, name, username, data, status, reason, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(bot)
            .bind(r.key)
            .bind(r.user_id)
            .bind(&r.name)
            .bind(&r.username)
            .bind(&r.data)
            .bind(r.status.as_str())
            .bind(&r.reason)
            .bind(&created)
            .fetch_one(&mut **tx)
            .await
        });
        id as u64
    }

    fn auth_request(&mut self, id: u64) -> Option<AuthRequest> {
        self.run(async |tx, bot| {
            sqlx::query(&format!(
                "SELECT {REQUEST_COLUMNS} FROM auth_requests WHERE bot = $1 AND id = $2 AND status <> 'draft'"
            ))
            .bind(bot)
            .bind(id as i64)
            .fetch_optional(&mut **tx)
            .await
            .map(|r| r.as_ref().map(request_from_row))
        })
    }

    fn pending_auth_request(&mut self, key: i64) -> Option<AuthRequest> {
        self.run(async |tx, bot| {
            sqlx::query(&format!("SELECT {REQUEST_COLUMNS} FROM auth_requests WHERE bot = $1 AND chat = $2 AND status = 'pending' ORDER BY id DESC LIMIT 1"))
                .bind(bot)
                .bind(key)
                .fetch_optional(&mut **tx)
                .await
                .map(|r| r.as_ref().map(request_from_row))
        })
    }

    fn update_auth_request(&mut self, r: &AuthRequest) {
        self.run(async |tx, bot| {
            sqlx::query("UPDATE auth_requests SET status = $1, reason = $2 WHERE bot = $3 AND id = $4")
                .bind(r.status.as_str())
                .bind(&r.reason)
                .bind(bot)
                .bind(r.id as i64)
                .execute(&mut **tx)
                .await
                .map(|_| ())
        })
    }

    fn run_algorithm(&mut self, call: &AlgorithmCall) -> Result<Value, AlgorithmFailure> {
        algorithms::run(call, self.builtins, true)
    }
}

/// A message for the outbox from the HTTP API or `botwright send`.
pub struct NewMessage<'a> {
    pub bot: &'a str,
    pub chat: i64,
    pub text: &'a str,
    pub keyboard: &'a Keyboard,
    pub attachments: &'a [Attachment],
    pub due: DateTime<FixedOffset>,
    pub now: DateTime<FixedOffset>,
    pub idempotency_key: Option<&'a str>,
}

/// Stores a message; with an idempotency key already used, gives the first message instead.
/// Returns its id and status.
pub async fn insert_message(
    tx: &mut Transaction<'static, Any>,
    m: &NewMessage<'_>,
) -> Result<(i64, String), sqlx::Error> {
    if let Some(key) = m.idempotency_key {
        let existing = sqlx::query("SELECT id, status, due_at FROM outbox WHERE bot = $1 AND idempotency_key = $2")
            .bind(m.bot)
            .bind(key)
            .fetch_optional(&mut **tx)
            .await?;
        if let Some(r) = existing {
            let status: String = r.get(1);
            let due: String = r.get(2);
            return Ok((r.get(0), shown_status(&status, &due, m.now)));
        }
    }
    let status = if m.due > m.now { "scheduled" } else { "queued" };
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO outbox (bot, chat, text, keyboard, attachments, status, due_at, created_at, attempts, idempotency_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9) RETURNING id",
    )
    .bind(m.bot)
    .bind(m.chat)
    .bind(m.text)
    .bind(serde_json::to_string(m.keyboard).expect("keyboards serialize"))
    .bind(serde_json::to_string(m.attachments).expect("attachments serialize"))
    .bind(status)
    .bind(now_text(m.due))
    .bind(now_text(m.now))
    .bind(m.idempotency_key)
    .fetch_one(&mut **tx)
    .await?;
    Ok((id, status.to_string()))
}

/// A message's status as the API shows it: a scheduled message whose time has come is queued.
pub fn shown_status(status: &str, due: &str, now: DateTime<FixedOffset>) -> String {
    if status == "scheduled" && parse_time(due) <= now {
        "queued".to_string()
    } else {
        status.to_string()
    }
}

pub fn parse_stored_time(s: &str) -> DateTime<FixedOffset> {
    parse_time(s)
}
