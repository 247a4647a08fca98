//! The inbox: every received update is stored before Telegram is told it
//! arrived (the polling offset moves, or the webhook answers 2xx), then
//! handled per chat in update order, then marked handled by the group commit.
//! An update that keeps failing is marked `poison` and skipped. Written once
//! over [`Db`].
//!
//! **Invariant:** every query here reads through an index (see the query-plan
//! test); handled rows are deleted after the retention period.

use super::db::{Db, Query, Row};
use super::statements as sql;
use super::types::{Received, StoreError, now_text};
use chrono::{DateTime, FixedOffset};

/// Stores received updates; the ids that were new (a redelivered update is stored once).
/// Multi-row inserts of 64, 32, … 1 rows: few statements, each prepared once and kept.
pub async fn receive<D: Db>(
    db: &mut D,
    bot: &str,
    updates: &[Received],
    now: DateTime<FixedOffset>,
) -> Result<Vec<i64>, StoreError> {
    let at = now_text(now);
    let mut fresh = std::collections::HashSet::with_capacity(updates.len());
    let mut rest = updates;
    while !rest.is_empty() {
        let (size, text) = sql::RECEIVE.next(rest.len());
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let mut q = Query::new(text).bind(bot);
        q.args.reserve(chunk.len() * 4);
        for u in chunk {
            q.push(u.update_id);
            q.push(u.chat);
            q.push(u.payload.as_str());
            q.push(at.as_str());
        }
        fresh.extend(db.fetch_ints(q).await?);
    }
    // In the order received (RETURNING's order is the database's).
    Ok(updates
        .iter()
        .filter_map(|u| fresh.remove(&u.update_id).then_some(u.update_id))
        .collect())
}

/// A chat's updates waiting to be handled, oldest first.
pub async fn waiting_updates<D: Db>(db: &mut D, bot: &str, chat: i64, limit: i64) -> Result<Vec<Received>, StoreError> {
    let q = Query::new(sql::WAITING_UPDATES).bind(bot).bind(chat).bind(limit);
    db.fetch_all(q).await?.iter().map(received).collect()
}

/// Every update of a bot still waiting (at start: what a crash left), oldest first.
pub async fn all_waiting_updates<D: Db>(db: &mut D, bot: &str) -> Result<Vec<Received>, StoreError> {
    let q = Query::new(sql::ALL_WAITING_UPDATES).bind(bot);
    db.fetch_all(q).await?.iter().map(received).collect()
}

/// Chats with an update that has waited since before `before` (its instance may have died).
pub async fn chats_waiting_since<D: Db>(
    db: &mut D,
    before: DateTime<FixedOffset>,
    limit: i64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let q = Query::new(sql::WAITING_CHATS).bind(now_text(before)).bind(limit);
    db.fetch_all(q)
        .await?
        .iter()
        .map(|r| Ok((r.text(0)?, r.int(1)?)))
        .collect()
}

/// Records a failed attempt at an update; gives the number of attempts so far.
pub async fn update_failed<D: Db>(db: &mut D, bot: &str, update_id: i64, error: &str) -> Result<i64, StoreError> {
    let q = Query::new(sql::UPDATE_FAILED).bind(error).bind(bot).bind(update_id);
    Ok(db.fetch_int(q).await?.unwrap_or(1))
}

/// Gives up on an update: recorded as `poison` with its error, and skipped.
pub async fn poison_update<D: Db>(
    db: &mut D,
    bot: &str,
    update_id: i64,
    error: &str,
    now: DateTime<FixedOffset>,
) -> Result<(), StoreError> {
    let q = Query::new(sql::POISON_UPDATE)
        .bind(error)
        .bind(now_text(now))
        .bind(bot)
        .bind(update_id);
    db.execute(q).await.map(|_| ())
}

/// The updates given up on, newest first: `(update id, attempts, error)`.
pub async fn poisoned_updates<D: Db>(db: &mut D, bot: &str) -> Result<Vec<(i64, i64, String)>, StoreError> {
    let q = Query::new(sql::POISONED_UPDATES).bind(bot);
    db.fetch_all(q)
        .await?
        .iter()
        .map(|r| Ok((r.int(0)?, r.int(1)?, r.text(2)?)))
        .collect()
}

fn received(r: &Row) -> Result<Received, StoreError> {
    Ok(Received {
        update_id: r.int(0)?,
        chat: r.int(1)?,
        payload: r.opt_text(2)?.unwrap_or_default(),
    })
}
