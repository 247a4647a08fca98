//! The outbox beyond the group commit: claims of messages nobody sends yet
//! (from the HTTP API, scheduled ones, retries, leftovers of a dead instance),
//! delivery outcomes written in batches, instance leases, and retention.
//! Written once over [`Db`].
//!
//! Ownership: a message an instance sends is `sending` with `owner` = that
//! instance. Instances keep a lease by heartbeat (`instances`); the messages of
//! an instance whose lease ran out go back to the queue for any other.
//!
//! **Invariant:** a chat's messages are sent in order: a message is claimed
//! only when no earlier message to its chat is waiting or being sent.

use super::db::{Arg, Db, Query};
use super::json_rows::JsonRows;
use super::rows;
use super::statements as sql;
use super::types::{Delivery, Dialect, OutboxMessage, StoreError, now_text};
use chrono::{DateTime, FixedOffset};
use std::fmt::Write;
use std::time::Duration;

/// Claims due messages of a bot that nobody sends, oldest first, for `owner` (see
/// [`sql::claim_query`]). A stored message that cannot be read is failed with the reason,
/// logged, and not claimed: it would otherwise block its chat for good.
pub async fn claim<D: Db>(
    db: &mut D,
    bot: &str,
    owner: &str,
    now: DateTime<FixedOffset>,
    limit: i64,
) -> Result<Vec<OutboxMessage>, StoreError> {
    let now_s = now_text(now);
    let select = sql::claim_query(db.dialect());
    let rows = db
        .fetch_all(Query::new(&select).bind(bot).bind(now_s.as_str()).bind(limit))
        .await?;
    let mut messages = Vec::with_capacity(rows.len());
    for row in &rows {
        match rows::outbox_message(row, &now_s) {
            Ok(m) => messages.push(m),
            Err(e @ StoreError::Corrupt { .. }) => {
                let q = Query::new(sql::FAIL_CORRUPT)
                    .bind(e.to_string())
                    .bind(now_s.as_str())
                    .bind(row.int(0)?);
                db.execute(q).await?;
            }
            Err(e) => return Err(e),
        }
    }
    if !messages.is_empty() {
        let take = sql::take_claimed_sql(&id_list(messages.iter().map(|m| m.id)));
        db.execute(Query::once(&take).bind(owner).bind(now_s.as_str())).await?;
    }
    Ok(messages)
}

/// The statement that records a delivery outcome of `owner`'s attempt, with its values.
pub fn delivery_statement<'a>(d: &'a Delivery, owner: &'a str) -> Query<'a> {
    match d {
        Delivery::Sent {
            id,
            telegram_id,
            parts,
            at,
        } => Query::new(sql::SENT)
            .bind(now_text(*at))
            .bind(*telegram_id)
            .bind(*parts)
            .bind(*id),
        Delivery::PartSent { id, parts, telegram_id } => {
            Query::new(sql::PART_SENT).bind(*parts).bind(*telegram_id).bind(*id)
        }
        Delivery::Retry {
            id,
            attempts,
            due,
            error,
        } => Query::new(sql::RETRY)
            .bind(*attempts)
            .bind(now_text(*due))
            .bind(error)
            .bind(*id)
            .bind(owner),
        Delivery::Failed {
            id,
            attempts,
            error,
            at,
        } => Query::new(sql::FAILED)
            .bind(*attempts)
            .bind(error)
            .bind(now_text(*at))
            .bind(*id)
            .bind(owner),
        Delivery::Blocked { id, error, at } => Query::new(sql::BLOCKED)
            .bind(error)
            .bind(now_text(*at))
            .bind(*id)
            .bind(owner),
        Delivery::TextReplaced { id, text } => Query::new(sql::TEXT_REPLACED).bind(text).bind(*id),
        Delivery::Released { id } => Query::new(sql::RELEASED).bind(*id).bind(owner),
    }
}

/// Records the outcomes of `owner`'s delivery attempts. PostgreSQL writes every `Sent` in one statement (a round trip
/// each would cost more than its JSON rows); SQLite runs one prepared statement per outcome.
pub async fn record_deliveries<D: Db>(db: &mut D, deliveries: &[Delivery], owner: &str) -> Result<(), StoreError> {
    let together = db.dialect() == Dialect::Postgres;
    let sent: Vec<(i64, Option<i64>, i64, DateTime<FixedOffset>)> = deliveries
        .iter()
        .filter(|_| together)
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
        let mut rows = JsonRows::new();
        for (id, telegram_id, parts, _) in &sent {
            rows.row()
                .int("id", *id)
                .opt_int("telegram", *telegram_id)
                .int("parts", *parts);
        }
        let q = Query::new(sql::SENT_MANY).bind(now_text(latest)).bind(rows.finish());
        db.execute(q).await?;
    }
    for d in deliveries {
        if together && matches!(d, Delivery::Sent { .. }) {
            continue;
        }
        db.execute(delivery_statement(d, owner)).await?;
    }
    Ok(())
}

/// Renews this instance's lease.
pub async fn heartbeat<D: Db>(db: &mut D, instance: &str, now: DateTime<FixedOffset>) -> Result<(), StoreError> {
    let q = Query::new(sql::HEARTBEAT).bind(instance).bind(now_text(now));
    db.execute(q).await.map(|_| ())
}

/// Gives the messages of instances whose lease ran out (heartbeat older than `lease`)
/// back to the queue and forgets those instances; gives how many messages came back.
pub async fn rescue<D: Db>(db: &mut D, now: DateTime<FixedOffset>, lease: Duration) -> Result<u64, StoreError> {
    let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(60));
    let stale = now_text(now - lease);
    let back = db.execute(Query::new(sql::RESCUE).bind(stale.as_str())).await?;
    db.execute(Query::new(sql::FORGET_INSTANCES).bind(stale.as_str()))
        .await?;
    Ok(back)
}

/// Hands this instance's unsent messages back and ends its lease (a graceful stop).
pub async fn leave<D: Db>(db: &mut D, instance: &str) -> Result<(), StoreError> {
    db.execute(Query::new(sql::HAND_BACK).bind(instance)).await?;
    db.execute(Query::new(sql::LEAVE).bind(instance)).await?;
    Ok(())
}

/// Deletes handled update ids, finished messages that finished before `before` and
/// insights log rows written before it, a thousand rows per statement so that no
/// statement holds the database for long. Gives how many rows went.
pub async fn delete_finished<D: Db>(db: &mut D, before: DateTime<FixedOffset>) -> Result<u64, StoreError> {
    let before = now_text(before);
    let mut total = 0;
    for statement in [sql::RETAIN_INBOX, sql::RETAIN_OUTBOX, sql::RETAIN_LOG] {
        loop {
            let gone = db
                .execute(Query::new(statement).bind(Arg::from(before.as_str())))
                .await?;
            total += gone;
            // The log goes by windows of ids: on until a window holds nothing old.
            let more = if statement == sql::RETAIN_LOG {
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
pub async fn queue_depth<D: Db>(db: &mut D) -> Result<i64, StoreError> {
    Ok(db.fetch_int(Query::new(sql::QUEUE_DEPTH)).await?.unwrap_or(0))
}

fn id_list(ids: impl Iterator<Item = i64>) -> String {
    let mut out = String::new();
    for (i, id) in ids.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write!(out, "{id}").expect("a string takes writes");
    }
    out
}
