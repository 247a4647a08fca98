//! The outbox beyond the group commit: claims of messages nobody sends yet
//! (from the HTTP API, scheduled ones, retries, leftovers of a dead instance),
//! delivery outcomes written in batches, instance leases, and retention.
//!
//! Ownership: a message an instance sends is `sending` with `owner` = that
//! instance. Instances keep a lease by heartbeat (`instances`); the messages of
//! an instance whose lease ran out go back to the queue for any other.
//!
//! **Invariant:** a chat's messages are sent in order: a message is claimed
//! only when no earlier message to its chat is waiting or being sent.

use super::commit::UNSENT;
use super::sql::{Dialect, OutboxMessage, SqlStore, StoreError, now_text};
use chrono::{DateTime, FixedOffset};
use std::fmt::Write;
use std::time::Duration;

/// The statuses of a message nobody sends yet (the condition of the claim index).
pub const CLAIMABLE: &str = "status IN ('scheduled', 'queued') AND owner IS NULL";

/// What happened to a message, to be recorded.
#[derive(Debug, Clone)]
pub enum Delivery {
    Sent {
        id: i64,
        telegram_id: Option<i64>,
        parts: i64,
        at: DateTime<FixedOffset>,
    },
    /// Some parts (the text, attachments) were acknowledged, not all.
    PartSent {
        id: i64,
        parts: i64,
        telegram_id: Option<i64>,
    },
    /// Back to the queue, for any instance, after `due`.
    Retry {
        id: i64,
        attempts: i64,
        due: DateTime<FixedOffset>,
        error: String,
    },
    Failed {
        id: i64,
        attempts: i64,
        error: String,
        at: DateTime<FixedOffset>,
    },
    /// Telegram answered 403: the user blocked the bot or never started it.
    Blocked {
        id: i64,
        error: String,
        at: DateTime<FixedOffset>,
    },
    /// The text was replaced (escaped, after Telegram rejected its HTML).
    TextReplaced { id: i64, text: String },
    /// Handed back unsent (shutdown).
    Released { id: i64 },
}

/// The claim's selection (`FOR UPDATE SKIP LOCKED` on PostgreSQL).
pub fn claim_query(dialect: Dialect) -> String {
    let lock = if dialect == Dialect::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    format!(
        "SELECT id, chat, text, keyboard, attachments, attempts, parts_sent, broadcast FROM outbox o \
         WHERE o.bot = $1 AND o.{CLAIMABLE} AND o.due_at <= $2 \
         AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.bot = o.bot AND p.chat = o.chat AND p.{UNSENT} \
             AND p.id < o.id AND (p.status = 'sending' OR p.due_at <= $2 OR p.attempts > 0)) \
         ORDER BY o.due_at, o.id LIMIT $3{lock}"
    )
}

/// Unsent messages of instances whose lease ran out, back to the queue.
pub const RESCUE: &str = "UPDATE outbox SET status = 'queued', owner = NULL, claimed_at = NULL \
     WHERE status IN ('scheduled', 'queued', 'sending') AND owner IS NOT NULL \
     AND owner NOT IN (SELECT id FROM instances WHERE heartbeat_at >= $1)";

/// Retention, a thousand rows at a time.
pub const RETAIN_INBOX: &str = "DELETE FROM inbox WHERE (bot, update_id) IN \
     (SELECT bot, update_id FROM inbox WHERE handled_at < $1 LIMIT 1000)";
pub const RETAIN_OUTBOX: &str =
    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE finished_at < $1 LIMIT 1000)";

/// A value bound to a statement, for statements built once for both drivers.
#[derive(Debug, Clone)]
pub enum SqlValue {
    Int(i64),
    MaybeInt(Option<i64>),
    Text(String),
}

/// The statement that records a delivery outcome other than `Sent`, with its values.
pub fn delivery_statement(d: &Delivery) -> (&'static str, Vec<SqlValue>) {
    use SqlValue::{Int, MaybeInt, Text};
    match d {
        Delivery::Sent {
            id,
            telegram_id,
            parts,
            at,
        } => (
            "UPDATE outbox SET status = 'sent', sent_at = $1, finished_at = $1, owner = NULL, \
             telegram_message_id = COALESCE($2, telegram_message_id), parts_sent = $3 WHERE id = $4",
            vec![Text(now_text(*at)), MaybeInt(*telegram_id), Int(*parts), Int(*id)],
        ),
        Delivery::PartSent { id, parts, telegram_id } => (
            "UPDATE outbox SET parts_sent = $1, telegram_message_id = COALESCE($2, telegram_message_id) WHERE id = $3",
            vec![Int(*parts), MaybeInt(*telegram_id), Int(*id)],
        ),
        Delivery::Retry {
            id,
            attempts,
            due,
            error,
        } => (
            "UPDATE outbox SET status = 'queued', owner = NULL, claimed_at = NULL, attempts = $1, due_at = $2, \
             last_error = $3 WHERE id = $4",
            vec![Int(*attempts), Text(now_text(*due)), Text(error.clone()), Int(*id)],
        ),
        Delivery::Failed {
            id,
            attempts,
            error,
            at,
        } => (
            "UPDATE outbox SET status = 'failed', owner = NULL, attempts = $1, last_error = $2, finished_at = $3 \
             WHERE id = $4",
            vec![Int(*attempts), Text(error.clone()), Text(now_text(*at)), Int(*id)],
        ),
        Delivery::Blocked { id, error, at } => (
            "UPDATE outbox SET status = 'blocked', owner = NULL, last_error = $1, finished_at = $2 WHERE id = $3",
            vec![Text(error.clone()), Text(now_text(*at)), Int(*id)],
        ),
        Delivery::TextReplaced { id, text } => (
            "UPDATE outbox SET text = $1 WHERE id = $2",
            vec![Text(text.clone()), Int(*id)],
        ),
        Delivery::Released { id } => (
            "UPDATE outbox SET status = 'queued', owner = NULL, claimed_at = NULL WHERE id = $1 AND status = 'sending'",
            vec![Int(*id)],
        ),
    }
}

fn duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::seconds(60))
}

impl SqlStore {
    /// Claims due messages of a bot that nobody sends, oldest first, for `owner`. A message
    /// is taken only when no earlier message to its chat waits (a scheduled one not yet due
    /// does not count) or is being sent.
    pub async fn claim(
        &self,
        bot: &str,
        owner: &str,
        now: DateTime<FixedOffset>,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        if let Some(e) = &self.embedded {
            return e.claim(bot, owner, now, limit);
        }
        let now_s = now_text(now);
        let mut tx = self.begin().await?;
        let rows = sqlx::query(&claim_query(self.dialect))
            .bind(bot)
            .bind(&now_s)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
        let mut messages: Vec<OutboxMessage> = rows.iter().map(OutboxMessage::from_row).collect();
        if !messages.is_empty() {
            let ids = id_list(messages.iter().map(|m| m.id));
            sqlx::query(&format!(
                "UPDATE outbox SET status = 'sending', owner = $1, claimed_at = $2 WHERE id IN ({ids}) AND {CLAIMABLE}"
            ))
            .bind(owner)
            .bind(&now_s)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        for m in &mut messages {
            m.claimed_at = now_s.clone();
        }
        Ok(messages)
    }

    /// Records delivery outcomes in one transaction: every `Sent` in one statement.
    pub async fn record_deliveries(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        if let Some(e) = &self.embedded {
            return e.record_deliveries(deliveries);
        }
        let mut tx = self.begin().await?;
        let sent: Vec<(i64, Option<i64>, i64, DateTime<FixedOffset>)> = deliveries
            .iter()
            .filter_map(|d| match d {
                Delivery::Sent {
                    id,
                    telegram_id,
                    parts,
                    at,
                } => Some((*id, *telegram_id, *parts, *at)),
                _ => None,
            })
            .collect();
        if let Some(latest) = sent.iter().map(|s| s.3).max() {
            // Ids and Telegram's message ids are integers written by us: safe to put in the text.
            let mut telegram = String::from("CASE id");
            let mut parts = String::from("CASE id");
            for (id, telegram_id, n, _) in &sent {
                match telegram_id {
                    Some(t) => write!(telegram, " WHEN {id} THEN {t}").expect("string"),
                    None => write!(telegram, " WHEN {id} THEN telegram_message_id").expect("string"),
                }
                write!(parts, " WHEN {id} THEN {n}").expect("string");
            }
            telegram.push_str(" ELSE telegram_message_id END");
            parts.push_str(" ELSE parts_sent END");
            let ids = id_list(sent.iter().map(|s| s.0));
            let at = now_text(latest);
            sqlx::query(&format!(
                "UPDATE outbox SET status = 'sent', sent_at = $1, finished_at = $1, owner = NULL, \
                 telegram_message_id = {telegram}, parts_sent = {parts} WHERE id IN ({ids})"
            ))
            .bind(&at)
            .execute(&mut *tx)
            .await?;
        }
        for d in deliveries.iter().filter(|d| !matches!(d, Delivery::Sent { .. })) {
            let (sql, values) = delivery_statement(d);
            let mut query = sqlx::query(sql);
            for v in values {
                query = match v {
                    SqlValue::Int(v) => query.bind(v),
                    SqlValue::MaybeInt(v) => query.bind(v),
                    SqlValue::Text(v) => query.bind(v),
                };
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Renews this instance's lease.
    pub async fn heartbeat(&self, instance: &str, now: DateTime<FixedOffset>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO instances (id, started_at, heartbeat_at) VALUES ($1, $2, $2) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        )
        .bind(instance)
        .bind(now_text(now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives the messages of instances whose lease ran out (heartbeat older than `lease`)
    /// back to the queue and forgets those instances; gives how many messages came back.
    pub async fn rescue(&self, now: DateTime<FixedOffset>, lease: Duration) -> Result<u64, StoreError> {
        let stale = now_text(now - duration(lease));
        let mut tx = self.begin().await?;
        let back = sqlx::query(RESCUE).bind(&stale).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM instances WHERE heartbeat_at < $1")
            .bind(&stale)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(back.rows_affected())
    }

    /// Hands this instance's unsent messages back and ends its lease (a graceful stop).
    pub async fn leave(&self, instance: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(&format!(
            "UPDATE outbox SET status = 'queued', owner = NULL, claimed_at = NULL WHERE {UNSENT} AND owner = $1"
        ))
        .bind(instance)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM instances WHERE id = $1")
            .bind(instance)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes handled update ids, finished messages that finished before `before` and
    /// insights log rows written before it,
    /// a thousand rows per statement so that no statement holds the database for long.
    /// Gives how many rows went.
    pub async fn delete_finished(&self, before: DateTime<FixedOffset>) -> Result<u64, StoreError> {
        let before = now_text(before);
        let mut total = 0;
        for sql in [RETAIN_INBOX, RETAIN_OUTBOX, super::insights::RETAIN] {
            loop {
                let gone = sqlx::query(sql)
                    .bind(&before)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                total += gone;
                // The log goes by windows of ids: on until a window holds nothing old.
                let more = if sql == super::insights::RETAIN {
                    gone > 0
                } else {
                    gone >= 1000
                };
                if !more {
                    break;
                }
            }
        }
        Ok(total)
    }

    /// Messages waiting to be sent, over every bot.
    pub async fn queue_depth(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar(&format!("SELECT COUNT(*) FROM outbox WHERE {UNSENT}"))
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

fn id_list(ids: impl Iterator<Item = i64>) -> String {
    let mut out = String::new();
    for (i, id) in ids.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write!(out, "{id}").expect("string");
    }
    out
}
