//! The inbox: every received update is stored before Telegram is told it
//! arrived (the polling offset moves, or the webhook answers 2xx), then
//! handled per chat in update order, then marked handled by the group commit.
//! An update that keeps failing is marked `poison` and skipped.
//!
//! **Invariant:** every query here reads through an index (see the query-plan
//! test); handled rows are deleted after the retention period.

use super::sql::{SqlStore, StoreError, now_text};
use chrono::{DateTime, FixedOffset};
use sqlx::Row;

/// A received update, as stored.
#[derive(Debug, Clone)]
pub struct Received {
    pub update_id: i64,
    pub chat: i64,
    /// The update as Telegram sent it (JSON).
    pub payload: String,
}

/// A chat's waiting updates, oldest first.
pub const WAITING_UPDATES: &str = "SELECT update_id, chat, payload FROM inbox WHERE bot = $1 AND chat = $2 \
     AND status = 'new' ORDER BY update_id LIMIT $3";
/// Chats with an update waiting since before a time.
pub const WAITING_CHATS: &str =
    "SELECT DISTINCT bot, chat FROM inbox WHERE status = 'new' AND received_at < $1 LIMIT $2";

/// Rows a multi-row insert takes at a time (SQLite allows 32,766 parameters).
const INSERT_CHUNK: usize = 200;

impl SqlStore {
    /// Stores received updates in one transaction of their own; gives back the ids that
    /// were new (a redelivered update is stored once and handled once). The runtime stores
    /// them through the group commit instead.
    pub async fn receive(
        &self,
        bot: &str,
        updates: &[Received],
        now: DateTime<FixedOffset>,
    ) -> Result<Vec<i64>, StoreError> {
        let work = super::commit::Work::Receive(super::commit::Receive {
            bot: bot.to_string(),
            updates: updates.to_vec(),
            now,
        });
        match super::commit::commit_batch(self, std::slice::from_ref(&work))
            .await?
            .pop()
        {
            Some(super::commit::Committed::Received(fresh)) => Ok(fresh),
            _ => Ok(Vec::new()),
        }
    }

    /// A chat's updates waiting to be handled, oldest first.
    pub async fn waiting_updates(&self, bot: &str, chat: i64, limit: i64) -> Result<Vec<Received>, StoreError> {
        let rows = sqlx::query(WAITING_UPDATES)
            .bind(bot)
            .bind(chat)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(received).collect())
    }

    /// Every update of a bot still waiting (at start: what a crash left), oldest first.
    pub async fn all_waiting_updates(&self, bot: &str) -> Result<Vec<Received>, StoreError> {
        let rows = sqlx::query(
            "SELECT update_id, chat, payload FROM inbox WHERE bot = $1 AND status = 'new' ORDER BY chat, update_id",
        )
        .bind(bot)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(received).collect())
    }

    /// Chats with an update that has waited since before `before` (its instance may have died).
    pub async fn chats_waiting_since(
        &self,
        before: DateTime<FixedOffset>,
        limit: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(WAITING_CHATS)
            .bind(now_text(before))
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Records a failed attempt at an update; gives the number of attempts so far.
    pub async fn update_failed(&self, bot: &str, update_id: i64, error: &str) -> Result<i64, StoreError> {
        let attempts: Option<i64> = sqlx::query_scalar(
            "UPDATE inbox SET attempts = attempts + 1, last_error = $1 WHERE bot = $2 AND update_id = $3 \
             RETURNING attempts",
        )
        .bind(error)
        .bind(bot)
        .bind(update_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(attempts.unwrap_or(1))
    }

    /// Gives up on an update: recorded as `poison` with its error, and skipped.
    pub async fn poison_update(
        &self,
        bot: &str,
        update_id: i64,
        error: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE inbox SET status = 'poison', last_error = $1, handled_at = $2 WHERE bot = $3 AND update_id = $4",
        )
        .bind(error)
        .bind(now_text(now))
        .bind(bot)
        .bind(update_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The updates given up on, newest first: `(update id, attempts, error)`.
    pub async fn poisoned_updates(&self, bot: &str) -> Result<Vec<(i64, i64, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT update_id, attempts, COALESCE(last_error, '') FROM inbox WHERE bot = $1 AND status = 'poison' \
             ORDER BY update_id DESC",
        )
        .bind(bot)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
    }
}

/// Stores received updates inside a transaction; the ids that were new.
pub(crate) async fn receive_in(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    bot: &str,
    updates: &[Received],
    now: DateTime<FixedOffset>,
) -> Result<Vec<i64>, sqlx::Error> {
    let at = now_text(now);
    let mut fresh = Vec::with_capacity(updates.len());
    for chunk in updates.chunks(INSERT_CHUNK) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let p = i * 4;
                format!("($1, ${}, ${}, ${}, 'new', 0, ${})", p + 2, p + 3, p + 4, p + 5)
            })
            .collect();
        let sql = format!(
            "INSERT INTO inbox (bot, update_id, chat, payload, status, attempts, received_at) VALUES {} \
             ON CONFLICT (bot, update_id) DO NOTHING RETURNING update_id",
            values.join(", ")
        );
        let mut query = sqlx::query_scalar::<_, i64>(&sql).bind(bot);
        for u in chunk {
            query = query.bind(u.update_id).bind(u.chat).bind(&u.payload).bind(&at);
        }
        fresh.extend(query.fetch_all(&mut **tx).await?);
    }
    Ok(fresh)
}

fn received(r: &sqlx::any::AnyRow) -> Received {
    Received {
        update_id: r.get(0),
        chat: r.get(1),
        payload: r.get::<Option<String>, _>(2).unwrap_or_default(),
    }
}
