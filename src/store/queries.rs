//! The queries of the HTTP API and `botwright send`: reads of messages,
//! users, chats and authorization requests, cancellation and unregistering.
//! Also the HTTP API's writes into the outbox and the action buttons, inside its transaction.

use super::sql::{SqlStore, StoreError, now_text};
use super::statements as sql;
use super::types::{Attachment, files_json, keyboard_json, stored_time};
use crate::engine::{Keyboard, Outgoing};
use chrono::{DateTime, FixedOffset};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

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
        let row = sqlx::query(sql::MESSAGE_BY_ID)
            .bind(bot)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(StoredMessage::from_row))
    }

    /// A broadcast: its recipients and what did not resolve.
    pub async fn broadcast(&self, bot: &str, id: i64) -> Result<Option<(i64, String)>, StoreError> {
        let row = sqlx::query(sql::BROADCAST_BY_ID)
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
        let sql = broadcasts_counts_sql(ids.len());
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
        self.cancel(sql::CANCEL_BROADCAST, bot, id, now).await
    }

    /// Cancels what nobody sends yet of a message or a broadcast (`statement`); how many.
    async fn cancel(&self, statement: &str, bot: &str, id: i64, now: DateTime<FixedOffset>) -> Result<u64, StoreError> {
        let done = sqlx::query(statement)
            .bind(now_text(now))
            .bind(bot)
            .bind(id)
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
        if self.cancel(sql::CANCEL_MESSAGE, bot, id, now).await? == 1 {
            return Ok(Ok(()));
        }
        let status: Option<String> = sqlx::query_scalar(sql::MESSAGE_STATUS)
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
        let done = sqlx::query(sql::UNREGISTER)
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
        let sql = auth_requests_sql(status.is_some());
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
    sqlx::query_scalar(sql::CHAT_NAME)
        .bind(bot)
        .bind(chat)
        .fetch_optional(conn)
        .await
}

/// Whose registered chats: one principal's, a kind's, or everyone's.
#[derive(Debug, Clone, Copy)]
pub enum Registered<'a> {
    Principal { kind: &'a str, id: &'a str },
    Kind(&'a str),
    All,
}

/// The chats registered as `who`, in order; with `private_only` (a bot with required
/// authorization), only private chats count: their ids are the users' ids, never negative.
pub async fn registered_chats(
    conn: &mut sqlx::AnyConnection,
    bot: &str,
    who: Registered<'_>,
    private_only: bool,
) -> Result<Vec<i64>, sqlx::Error> {
    let (sql, values) = registered_chats_sql(who, private_only);
    let mut query = sqlx::query_scalar(&sql).bind(bot);
    for v in values {
        query = query.bind(v);
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
    let id: Option<i64> = sqlx::query_scalar(sql::INSERT_BROADCAST)
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
    let existing: i64 = sqlx::query_scalar(sql::BROADCAST_BY_KEY)
        .bind(bot)
        .bind(idempotency_key)
        .fetch_one(conn)
        .await?;
    Ok(Err(existing))
}

/// Puts messages into the outbox inside a transaction.
pub async fn enqueue(
    tx: &mut Transaction<'static, Any>,
    bot: &str,
    messages: &[Outgoing],
    now: DateTime<FixedOffset>,
) -> Result<(), sqlx::Error> {
    for m in messages {
        sqlx::query(sql::ENQUEUE)
            .bind(bot)
            .bind(m.to)
            .bind(&m.text)
            .bind(keyboard_json(&m.keyboard))
            .bind(now_text(now))
            .bind(files_json(&m.files))
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Keeps an action button's record and value; gives the id its callback data names.
pub async fn insert_action_button(
    tx: &mut Transaction<'static, Any>,
    bot: &str,
    button: &crate::engine::ActionButton,
    now: DateTime<FixedOffset>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(sql::INSERT_ACTION_BUTTON)
        .bind(bot)
        .bind(&button.record)
        .bind(&button.value)
        .bind(&button.label)
        .bind(&button.message_text)
        .bind(now_text(now))
        .bind(button.chat)
        .fetch_one(&mut **tx)
        .await
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
    /// The first message of the same request (a principal registered from several chats).
    pub first_id: Option<i64>,
    /// The broadcast it belongs to.
    pub broadcast: Option<i64>,
}

/// Stores a message; `None` when its idempotency key is taken (by a request committed
/// before, or at the same moment: the database's conflict handling decides, never an error).
/// Gives its id and status.
pub async fn insert_message(
    tx: &mut Transaction<'static, Any>,
    m: &NewMessage<'_>,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    let status = if m.due > m.now { "scheduled" } else { "queued" };
    let id: Option<i64> = sqlx::query_scalar(sql::INSERT_MESSAGE)
        .bind(m.bot)
        .bind(m.chat)
        .bind(m.text)
        .bind(keyboard_json(m.keyboard))
        .bind(files_json(m.attachments))
        .bind(status)
        .bind(now_text(m.due))
        .bind(now_text(m.now))
        .bind(m.idempotency_key)
        .bind(m.first_id)
        .bind(m.broadcast)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(id.map(|id| (id, status.to_string())))
}

/// The message a request with this idempotency key stored, with every message of that
/// request (ids, oldest first) and the first one's status.
pub async fn message_by_key(
    tx: &mut Transaction<'static, Any>,
    bot: &str,
    key: &str,
    now: DateTime<FixedOffset>,
) -> Result<Option<(Vec<i64>, String)>, StoreError> {
    let Some(r) = sqlx::query(sql::MESSAGE_BY_KEY)
        .bind(bot)
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?
    else {
        return Ok(None);
    };
    let first: i64 = r.get(0);
    let status: String = r.get(1);
    let due: String = r.get(2);
    let mut ids: Vec<i64> = sqlx::query_scalar(sql::MESSAGES_OF_FIRST)
        .bind(bot)
        .bind(first)
        .fetch_all(&mut **tx)
        .await?;
    ids.insert(0, first);
    Ok(Some((ids, shown_status(first, &status, &due, now)?)))
}

/// A message's status as the API shows it: a scheduled message whose time has come is queued.
/// A message being sent (`sending`) is still `queued` to the API: it is not sent until Telegram says so.
/// `id`: the message's, named when its time is corrupt.
pub fn shown_status(id: i64, status: &str, due: &str, now: DateTime<FixedOffset>) -> Result<String, StoreError> {
    Ok(
        if status == "sending" || (status == "scheduled" && stored_time("outbox", id, due)? <= now) {
            "queued".to_string()
        } else {
            status.to_string()
        },
    )
}

/// A stored time as the API shows it (RFC 3339); a time that cannot be read is a corrupt row.
pub fn shown_time(table: &'static str, id: impl std::fmt::Display, s: &str) -> Result<String, StoreError> {
    stored_time(table, id, s).map(|t| t.to_rfc3339())
}

// The statements built per request, for the methods above and the plan test
// (`console_plans.rs`).

/// The counts by shown status of `n` broadcasts (`$1` the bot, `$2` now, then their ids).
pub fn broadcasts_counts_sql(n: usize) -> String {
    let list: Vec<String> = (0..n).map(|i| format!("${}", i + 3)).collect();
    format!(
        "SELECT broadcast, CASE WHEN status = 'sending' OR (status = 'scheduled' AND due_at <= $2) THEN 'queued' \
         ELSE status END AS shown, COUNT(*) FROM outbox WHERE bot = $1 AND broadcast IN ({}) GROUP BY broadcast, shown",
        list.join(", ")
    )
}

/// A page of authorization requests (`$1` the bot, `$2` after, `$3` the limit, `$4` the status).
pub fn auth_requests_sql(with_status: bool) -> String {
    let filter = if with_status { " AND status = $4" } else { "" };
    format!(
        "SELECT id, chat, name, data, created_at, status FROM auth_requests \
         WHERE bot = $1 AND status <> 'draft' AND id > $2{filter} ORDER BY id LIMIT $3"
    )
}

/// The chats registered as `who`: the statement (`$1` the bot) and the values of its
/// other parameters, the kind and the principal's id.
pub fn registered_chats_sql<'a>(who: Registered<'a>, private_only: bool) -> (String, Vec<&'a str>) {
    let (condition, values) = match who {
        Registered::Principal { kind, id } => (" AND kind = $2 AND principal_id = $3", vec![kind, id]),
        Registered::Kind(kind) => (" AND kind = $2", vec![kind]),
        Registered::All => ("", Vec::new()),
    };
    let private = if private_only { " AND chat > 0" } else { "" };
    let sql = format!("SELECT chat FROM registrations WHERE bot = $1{condition}{private} ORDER BY chat");
    (sql, values)
}
