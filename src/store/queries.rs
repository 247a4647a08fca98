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
}

const MESSAGE_COLUMNS: &str =
    "id, chat, text, status, due_at, created_at, sent_at, telegram_message_id, attempts, last_error";

impl StoredMessage {
    fn from_row(r: &AnyRow) -> StoredMessage {
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

    pub async fn messages(&self, bot: &str) -> Result<Vec<StoredMessage>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM outbox WHERE bot = $1 ORDER BY id"
        ))
        .bind(bot)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(StoredMessage::from_row).collect())
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

    pub async fn auth_requests(&self, bot: &str) -> Result<Vec<RequestRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, chat, name, data, created_at, status FROM auth_requests \
             WHERE bot = $1 AND status <> 'draft' ORDER BY id",
        )
        .bind(bot)
        .fetch_all(&self.pool)
        .await?;
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

/// The first chat registered as a principal; with `private_only` (a bot with required
/// authorization), only private chats count: their ids are the users' ids, never negative.
pub async fn chat_of_principal(
    conn: &mut sqlx::AnyConnection,
    bot: &str,
    kind: &str,
    id: &str,
    private_only: bool,
) -> Result<Option<i64>, sqlx::Error> {
    let sql = if private_only {
        "SELECT chat FROM registrations WHERE bot = $1 AND kind = $2 AND principal_id = $3 AND chat > 0 \
         ORDER BY chat LIMIT 1"
    } else {
        "SELECT chat FROM registrations WHERE bot = $1 AND kind = $2 AND principal_id = $3 ORDER BY chat LIMIT 1"
    };
    sqlx::query_scalar(sql)
        .bind(bot)
        .bind(kind)
        .bind(id)
        .fetch_optional(conn)
        .await
}
