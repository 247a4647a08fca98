//! The hot path on SQLite through rusqlite: the group commit, the inbox,
//! delivery outcomes, claims and the step's reads. Measured against sqlx's
//! SQLite driver (behind the `Any` pool) on the group commit's statements,
//! rusqlite costs about 8 µs of CPU per update against about 200 µs
//! (`cargo bench --bench sqlite_driver`, BENCHMARKS.md): sqlx hands every
//! statement to a worker thread. PostgreSQL stays on sqlx, and so does
//! everything off the hot path on SQLite (migrations, the HTTP API, upkeep).
//!
//! The statements are the same text as on sqlx (`$N` parameters, bound here
//! by name), so each is written once.
//!
//! **Invariant:** calls block; the async callers wrap them in
//! `block_in_place` (or call them from blocking threads).

use super::buffered::Changes;
use super::commit::{self, Committed, Job, Work};
use super::inbox::Received;
use super::insights::{self, LogRow};
use super::outbox::{self, CLAIMABLE, Delivery};
use super::sql::{self, OutboxMessage, StoreError, now_text};
use crate::engine::Principal;
use chrono::{DateTime, FixedOffset};
use rusqlite::types::ToSql;
use rusqlite::{CachedStatement, Connection, Transaction};
use std::sync::Mutex;
use std::time::Duration;

pub struct Embedded {
    conn: Mutex<Connection>,
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError(format!("database error: {e}"))
    }
}

/// Binds `$1`, `$2`, … by name (SQLite numbers named parameters by first appearance).
fn bind(stmt: &mut CachedStatement<'_>, values: &[&dyn ToSql]) -> rusqlite::Result<()> {
    for (i, v) in values.iter().enumerate() {
        if let Some(index) = stmt.parameter_index(&format!("${}", i + 1))? {
            stmt.raw_bind_parameter(index, v)?;
        }
    }
    Ok(())
}

fn execute(tx: &Connection, sql: &str, values: &[&dyn ToSql]) -> rusqlite::Result<usize> {
    let mut stmt = tx.prepare_cached(sql)?;
    bind(&mut stmt, values)?;
    stmt.raw_execute()
}

fn query_one<T: rusqlite::types::FromSql>(
    tx: &Connection,
    sql: &str,
    values: &[&dyn ToSql],
) -> rusqlite::Result<Option<T>> {
    let mut stmt = tx.prepare_cached(sql)?;
    bind(&mut stmt, values)?;
    let mut rows = stmt.raw_query();
    match rows.next()? {
        Some(row) => row.get(0).map(Some),
        None => Ok(None),
    }
}

impl Embedded {
    /// Opens the database file (already migrated by sqlx).
    pub fn open(path: &str) -> Result<Embedded, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Room for the insights log's seven inserts beside the hot statements.
        conn.set_prepared_statement_cache_capacity(80);
        Ok(Embedded { conn: Mutex::new(conn) })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        // On a worker of a multi-threaded runtime, tell it this call blocks; elsewhere (a
        // blocking thread, a current-thread runtime, no runtime) just run it.
        let on_worker = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let result = if on_worker {
            tokio::task::block_in_place(|| f(&mut conn))
        } else {
            f(&mut conn)
        };
        result.map_err(StoreError::from)
    }

    pub fn session(&self, bot: &str, chat: i64, user: i64) -> Result<Option<String>, StoreError> {
        self.with(|c| query_one(c, sql::SESSION, &[&bot, &chat, &user]))
    }

    pub fn registration(&self, bot: &str, key: i64) -> Result<Option<Principal>, StoreError> {
        self.with(|c| {
            let mut stmt = c.prepare_cached(sql::REGISTRATION)?;
            bind(&mut stmt, &[&bot, &key])?;
            stmt.raw_query()
                .next()?
                .map(|r| {
                    Ok(Principal {
                        kind: r.get(0)?,
                        id: r.get(1)?,
                        name: r.get(2)?,
                    })
                })
                .transpose()
        })
    }

    /// The group commit: all the work in one transaction.
    pub fn commit(&self, works: &[Work]) -> Result<Vec<Committed>, StoreError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut results = Vec::with_capacity(works.len());
            for work in works {
                results.push(match work {
                    Work::Job(job) => apply(&tx, job)?,
                    Work::Receive(r) => Committed::Received(receive(&tx, &r.bot, &r.updates, r.now)?),
                    // One process serves SQLite: every chat is its own.
                    Work::Claim(_) => Committed::Claimed(Some(Default::default())),
                    Work::Release(_) => Committed::Released { waiting: false },
                });
            }
            insert_log(&tx, &commit::log_rows(works, &results))?;
            tx.commit()?;
            Ok(results)
        })
    }

    pub fn record_deliveries(&self, deliveries: &[Delivery]) -> Result<(), StoreError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            for d in deliveries {
                record(&tx, d)?;
            }
            tx.commit()
        })
    }

    pub fn claim(
        &self,
        bot: &str,
        owner: &str,
        now: DateTime<FixedOffset>,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let now_s = now_text(now);
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let mut messages = Vec::new();
            {
                let mut stmt = tx.prepare_cached(&outbox::claim_query(sql::Dialect::Sqlite))?;
                bind(&mut stmt, &[&bot, &now_s, &limit])?;
                let mut rows = stmt.raw_query();
                while let Some(r) = rows.next()? {
                    let keyboard: String = r.get(3)?;
                    let attachments: String = r.get(4)?;
                    messages.push(OutboxMessage {
                        id: r.get(0)?,
                        chat: r.get(1)?,
                        text: r.get(2)?,
                        keyboard: serde_json::from_str(&keyboard).unwrap_or_default(),
                        attachments: serde_json::from_str(&attachments).unwrap_or_default(),
                        attempts: r.get(5)?,
                        parts_sent: r.get(6)?,
                        claimed_at: now_s.clone(),
                        broadcast: r.get::<_, Option<i64>>(7)?.is_some(),
                    });
                }
            }
            for m in &messages {
                execute(
                    &tx,
                    &format!("UPDATE outbox SET status = 'sending', owner = $1, claimed_at = $2 WHERE id = $3 AND {CLAIMABLE}"),
                    &[&owner, &now_s, &m.id],
                )?;
            }
            tx.commit()?;
            Ok(messages)
        })
    }
}

/// Stores received updates; the ids that were new.
fn receive(
    tx: &Transaction<'_>,
    bot: &str,
    updates: &[Received],
    now: DateTime<FixedOffset>,
) -> rusqlite::Result<Vec<i64>> {
    let at = now_text(now);
    let mut fresh = Vec::with_capacity(updates.len());
    let mut stmt = tx.prepare_cached(
        "INSERT INTO inbox (bot, update_id, chat, payload, status, attempts, received_at) \
         VALUES ($1, $2, $3, $4, 'new', 0, $5) ON CONFLICT (bot, update_id) DO NOTHING",
    )?;
    for u in updates {
        bind(&mut stmt, &[&bot, &u.update_id, &u.chat, &u.payload, &at])?;
        if stmt.raw_execute()? == 1 {
            fresh.push(u.update_id);
        }
    }
    Ok(fresh)
}

/// The insights log rows of the group commit, in multi-row inserts of 64, 32, … 1 rows (as
/// many rows as a statement of that size takes, largest first): a handful of statements, each
/// prepared once and kept (a statement for every number of rows would be compiled again and
/// again, as batches vary in size).
fn insert_log(tx: &Transaction<'_>, rows: &[&LogRow]) -> rusqlite::Result<()> {
    let mut rest = rows;
    while !rest.is_empty() {
        let size = [64, 32, 16, 8, 4, 2, 1]
            .into_iter()
            .find(|&s| s <= rest.len())
            .unwrap_or(1);
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let mut stmt = tx.prepare_cached(insights::insert_sql_of_power(size))?;
        // `$N` in order: SQLite numbers them by first appearance, so N is the index.
        let mut i = 0;
        for r in chunk {
            let values: [&dyn ToSql; insights::COLUMNS] = [
                &r.bot, &r.at, &r.chat, &r.kind, &r.name, &r.value, &r.label, &r.ms, &r.took,
            ];
            for v in values {
                i += 1;
                stmt.raw_bind_parameter(i, v)?;
            }
        }
        stmt.raw_execute()?;
    }
    Ok(())
}

fn undo_job(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch("ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job")
}

/// One job, as `commit::apply` does it on sqlx.
fn apply(tx: &Transaction<'_>, job: &Job) -> rusqlite::Result<Committed> {
    let bot = job.bot.as_str();
    let at = now_text(job.now);
    let c: &Changes = &job.changes;
    let guarded = !c.decided.is_empty();
    if guarded {
        tx.execute_batch("SAVEPOINT job")?;
    }
    if let Some(id) = job.update_id
        && execute(tx, commit::MARK_HANDLED, &[&bot, &id, &job.chat, &at])? == 0
    {
        if guarded {
            undo_job(tx)?;
        }
        return Ok(Committed::Duplicate);
    }
    for id in &c.decided {
        let r = &c.requests[id];
        let done = execute(
            tx,
            commit::DECIDE_REQUEST,
            &[&r.status.as_str(), &r.reason, &bot, &(*id as i64)],
        )?;
        if done == 0 && !c.created.contains(id) {
            undo_job(tx)?;
            return Ok(Committed::Conflict);
        }
    }
    if guarded {
        tx.execute_batch("RELEASE SAVEPOINT job")?;
    }
    for id in &c.created {
        let r = &c.requests[id];
        execute(
            tx,
            commit::CONFIRM_REQUEST,
            &[&r.status.as_str(), &r.reason, &bot, &(*id as i64)],
        )?;
    }
    for (key, p, name, when) in &c.registrations {
        execute(
            tx,
            sql::UPSERT_REGISTRATION,
            &[
                &bot,
                key,
                &p.kind,
                &p.id,
                &p.name,
                name,
                &now_text(*when),
                &sql::registration_search(*key, p, name),
            ],
        )?;
    }
    if job.record_chat {
        execute(tx, commit::RECORD_CHAT, &[&bot, &job.chat, &job.chat_name, &at])?;
    }
    for (&(chat, user), session) in &c.sessions {
        let data = serde_json::to_string(session).expect("sessions serialize");
        execute(tx, sql::UPSERT_SESSION, &[&bot, &chat, &user, &data, &at])?;
    }
    let mut owner = job.owner.as_deref().filter(|_| !job.out.is_empty());
    if let Some(me) = owner {
        let mut chats: Vec<i64> = job.out.iter().map(|m| m.to).collect();
        chats.sort_unstable();
        chats.dedup();
        for chat in chats {
            if query_one::<i64>(tx, commit::OTHERS_WAITING, &[&bot, &chat, &me, &at])?.is_some() {
                owner = None;
                break;
            }
        }
    }
    let mut to_send = Vec::with_capacity(job.out.len());
    for m in &job.out {
        let keyboard = serde_json::to_string(&m.keyboard).expect("keyboards serialize");
        let files = serde_json::to_string(&m.files).expect("files serialize");
        let status = if owner.is_some() { "sending" } else { "queued" };
        let claimed = owner.map(|_| at.as_str());
        let id: i64 = query_one(
            tx,
            commit::INSERT_REPLY,
            &[&bot, &m.to, &m.text, &keyboard, &status, &at, &owner, &claimed, &files],
        )?
        .ok_or(rusqlite::Error::QueryReturnedNoRows)?;
        if owner.is_some() {
            to_send.push(OutboxMessage::reply(id, m, &at));
        }
    }
    let queued = job.out.len() - to_send.len();
    Ok(Committed::Messages { to_send, queued })
}

fn record(tx: &Transaction<'_>, d: &Delivery) -> rusqlite::Result<usize> {
    let (sql, values) = outbox::delivery_statement(d);
    let refs: Vec<&dyn ToSql> = values.iter().map(|v| v as &dyn ToSql).collect();
    execute(tx, sql, &refs)
}

impl ToSql for outbox::SqlValue {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            outbox::SqlValue::Int(v) => v.to_sql(),
            outbox::SqlValue::MaybeInt(v) => v.to_sql(),
            outbox::SqlValue::Text(v) => v.to_sql(),
        }
    }
}
