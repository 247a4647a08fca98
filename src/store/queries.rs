//! The queries of the HTTP API and `botwright send`: reads of messages,
//! users, chats and authorization requests, cancellation and unregistering.

use super::sql::{SqlStore, StoreError, now_text};
use chrono::{DateTime, FixedOffset};
use sqlx::Row;
use sqlx::any::AnyRow;

/// An outbox message as the API shows it.
#[derive(Debug, Clone)]
pub struct StoredMessage {
    pub id: i64,
    pub chat: i64,
    pub text: String,
    pub status: String,
    pub due_at: String,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub telegram_message_id: Option<i64>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub broadcast: Option<i64>,
}

pub(super) const MESSAGE_COLUMNS: &str =
    "id, chat, text, status, due_at, created_at, sent_at, telegram_message_id, attempts, last_error, broadcast";

impl StoredMessage {
    pub(super) fn from_row(r: &AnyRow) -> StoredMessage {
        StoredMessage {
            id: r.get(0),
            chat: r.get(1),
            text: r.get(2),
            status: r.get(3),
            due_at: r.get(4),
            created_at: r.get(5),
            sent_at: r.get(6),
            telegram_message_id: r.get(7),
            attempts: r.get(8),
            last_error: r.get(9),
            broadcast: r.get(10),
        }
    }
}

/// A row of the authorization requests list.
#[derive(Debug, Clone)]
pub struct RequestRow {
    pub id: i64,
    pub key: i64,
    pub name: String,
    pub data: String,
    pub created_at: String,
    pub status: String,
}

/// Why a message could not be cancelled.
#[derive(Debug)]
pub enum NotCancelled {
    NotFound,
    /// It is in this status (being sent, or finished).
    Status(String),
}

impl SqlStore {
    pub async fn message(&self, bot: &str, id: i64) -> Result<Option<StoredMessage>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM outbox WHERE bot = $1 AND id = $2"
        ))
        .bind(bot)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(StoredMessage::from_row))
    }

    /// A broadcast: its recipients and what did not resolve.
    pub async fn broadcast(&self, bot: &str, id: i64) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query("SELECT recipients, unknown FROM broadcasts WHERE bot = $1 AND id = $2")
            .bind(bot)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// How many messages of a broadcast are in each status the API shows.
    pub async fn broadcast_counts(
        &self,
        bot: &str,
        id: i64,
        now: DateTime<FixedOffset>,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut counts = self.broadcasts_counts(bot, &[id], now).await?;
        Ok(counts.remove(&id).unwrap_or_default())
    }

    /// [`SqlStore::broadcast_counts`] of several broadcasts in one statement.
    pub async fn broadcasts_counts(
        &self,
        bot: &str,
        ids: &[i64],
        now: DateTime<FixedOffset>,
    ) -> Result<std::collections::HashMap<i64, Vec<(String, i64)>>, StoreError> {
        let mut out: std::collections::HashMap<i64, Vec<(String, i64)>> = std::collections::HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let list: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT broadcast, CASE WHEN status = 'sending' OR (status = 'scheduled' AND due_at <= $2) THEN 'queued' \
             ELSE status END AS shown, COUNT(*) FROM outbox WHERE bot = $1 AND broadcast IN ({}) GROUP BY broadcast, shown",
            list.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(bot).bind(now_text(now));
        for id in ids {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&self.pool).await? {
            out.entry(r.get(0)).or_default().push((r.get(1), r.get(2)));
        }
        Ok(out)
    }

    /// Cancels what of a broadcast nobody sends yet; how many messages.
    pub async fn cancel_broadcast(&self, bot: &str, id: i64, now: DateTime<FixedOffset>) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET status = 'cancelled', finished_at = $3 WHERE bot = $1 AND broadcast = $2 \
             AND status IN ('scheduled', 'queued') AND owner IS NULL",
        )
        .bind(bot)
        .bind(id)
        .bind(now_text(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Cancels a message nobody sends yet (`scheduled` or `queued`).
    pub async fn cancel_message(
        &self,
        bot: &str,
        id: i64,
        now: DateTime<FixedOffset>,
    ) -> Result<Result<(), NotCancelled>, StoreError> {
        let done = sqlx::query(
            "UPDATE outbox SET status = 'cancelled', finished_at = $3 WHERE bot = $1 AND id = $2 \
             AND status IN ('scheduled', 'queued') AND owner IS NULL",
        )
        .bind(bot)
        .bind(id)
        .bind(now_text(now))
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(Ok(()));
        }
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM outbox WHERE bot = $1 AND id = $2")
            .bind(bot)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(Err(match status {
            None => NotCancelled::NotFound,
            Some(s) => NotCancelled::Status(s),
        }))
    }

    /// Removes a chat's registration; whether it had one.
    pub async fn unregister(&self, bot: &str, key: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM registrations WHERE bot = $1 AND chat = $2")
            .bind(bot)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// A page of authorization requests, oldest first.
    pub async fn auth_requests_page(
        &self,
        bot: &str,
        status: Option<&str>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<RequestRow>, StoreError> {
        let filter = if status.is_some() { " AND status = $4" } else { "" };
        let sql = format!(
            "SELECT id, chat, name, data, created_at, status FROM auth_requests \
             WHERE bot = $1 AND status <> 'draft' AND id > $2{filter} ORDER BY id LIMIT $3"
        );
        let mut query = sqlx::query(&sql).bind(bot).bind(after).bind(limit);
        if let Some(s) = status {
            query = query.bind(s);
        }
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| RequestRow {
                id: r.get(0),
                key: r.get(1),
                name: r.get(2),
                data: r.get(3),
                created_at: r.get(4),
                status: r.get(5),
            })
            .collect())
    }
}

/// The name of a chat that has talked to the bot, if it has.
pub async fn chat_name(conn: &mut sqlx::AnyConnection, bot: &str, chat: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT name FROM chats WHERE bot = $1 AND chat = $2")
        .bind(bot)
        .bind(chat)
        .fetch_optional(conn)
        .await
}

/// The chats registered as a principal, in order; with `private_only` (a bot with required
/// authorization), only private chats count: their ids are the users' ids, never negative.
pub async fn chats_of_principal(
    conn: &mut sqlx::AnyConnection,
    bot: &str,
    kind: &str,
    id: &str,
    private_only: bool,
) -> Result<Vec<i64>, sqlx::Error> {
    let private = if private_only { " AND chat > 0" } else { "" };
    sqlx::query_scalar(&format!(
        "SELECT chat FROM registrations WHERE bot = $1 AND kind = $2 AND principal_id = $3{private} ORDER BY chat"
    ))
    .bind(bot)
    .bind(kind)
    .bind(id)
    .fetch_all(conn)
    .await
}

/// Every chat registered as a principal of `kind`, or of any kind when `None`.
pub async fn registered_chats(
    conn: &mut sqlx::AnyConnection,
    bot: &str,
    kind: Option<&str>,
    private_only: bool,
) -> Result<Vec<i64>, sqlx::Error> {
    let private = if private_only { " AND chat > 0" } else { "" };
    let of_kind = if kind.is_some() { " AND kind = $2" } else { "" };
    let sql = format!("SELECT chat FROM registrations WHERE bot = $1{of_kind}{private} ORDER BY chat");
    let mut query = sqlx::query_scalar(&sql).bind(bot);
    if let Some(k) = kind {
        query = query.bind(k);
    }
    query.fetch_all(conn).await
}

/// Stores a broadcast; `Err(existing id)` when its idempotency key is taken.
pub async fn insert_broadcast(
    conn: &mut sqlx::AnyConnection,
    bot: &str,
    recipients: i64,
    unknown: &str,
    idempotency_key: Option<&str>,
    now: DateTime<FixedOffset>,
) -> Result<Result<i64, i64>, sqlx::Error> {
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO broadcasts (bot, recipients, unknown, idempotency_key, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (bot, idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(bot)
    .bind(recipients)
    .bind(unknown)
    .bind(idempotency_key)
    .bind(now_text(now))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = id {
        return Ok(Ok(id));
    }
    let existing: i64 = sqlx::query_scalar("SELECT id FROM broadcasts WHERE bot = $1 AND idempotency_key = $2")
        .bind(bot)
        .bind(idempotency_key)
        .fetch_one(conn)
        .await?;
    Ok(Err(existing))
}
