//! Group commit: the state changes, handled update ids and outgoing messages
//! of many updates in one transaction, so that one fsync serves them all.
//!
//! **Invariant:** each job commits whole or not at all. A job whose update
//! was handled already writes nothing ([`Committed::Duplicate`]); a job
//! whose decision on an authorization request lost to another decision is
//! rolled back to its savepoint ([`Committed::Conflict`]) and handled again
//! by its caller. A database error fails the batch; the caller then commits
//! each job on its own, so that one bad job cannot hold the others back.

use super::buffered::Changes;
use super::inbox::{self, Received};
use super::insights::{self as log, LogRow};
use super::sql::{self, OutboxMessage, SqlStore, StoreError, now_text};
use crate::engine::Outgoing;
use chrono::{DateTime, FixedOffset};
use sqlx::{Any, Transaction};

/// The statuses of a message not sent yet, written the same way in every query
/// (SQLite uses a partial index only for a query that repeats its condition).
pub const UNSENT: &str = "status IN ('scheduled', 'queued', 'sending')";

/// Marks an update handled (inserting it when it never went through the inbox); changes
/// nothing when it was handled already.
pub const MARK_HANDLED: &str = "INSERT INTO inbox (bot, update_id, chat, payload, status, attempts, received_at, handled_at) \
     VALUES ($1, $2, $3, NULL, 'done', 0, $4, $4) ON CONFLICT (bot, update_id) DO UPDATE \
     SET status = 'done', payload = NULL, handled_at = excluded.handled_at WHERE inbox.status = 'new'";

/// A message to a chat that waits and is not the given owner's.
pub const OTHERS_WAITING: &str = "SELECT id FROM outbox WHERE bot = $1 AND chat = $2 \
     AND status IN ('scheduled', 'queued', 'sending') \
     AND (owner IS NULL OR owner <> $3) AND (status = 'sending' OR due_at <= $4 OR attempts > 0) LIMIT 1";

/// The chats, among the `(bot, chat, owner, now)` rows of `values`, for which a message
/// that is not the owner's waits (the multi-row form of [`OTHERS_WAITING`]).
pub fn others_waiting_in(values: &str) -> String {
    format!(
        "SELECT DISTINCT o.bot, o.chat FROM outbox o JOIN (VALUES {values}) AS v(bot, chat, owner, now) \
         ON o.bot = v.bot AND o.chat = v.chat WHERE o.status IN ('scheduled', 'queued', 'sending') \
         AND (o.owner IS NULL OR o.owner <> v.owner) AND (o.status = 'sending' OR o.due_at <= v.now OR o.attempts > 0)"
    )
}

/// A decision on a request, written only while it is pending.
pub const DECIDE_REQUEST: &str =
    "UPDATE auth_requests SET status = $1, reason = $2 WHERE bot = $3 AND id = $4 AND status = 'pending'";
/// A request created in the step: from draft to its status.
pub const CONFIRM_REQUEST: &str = "UPDATE auth_requests SET status = $1, reason = $2 WHERE bot = $3 AND id = $4";
pub const RECORD_CHAT: &str =
    "INSERT INTO chats (bot, chat, name, first_seen) VALUES ($1, $2, $3, $4) ON CONFLICT (bot, chat) DO NOTHING";
pub const INSERT_REPLY: &str = "INSERT INTO outbox (bot, chat, text, keyboard, status, due_at, created_at, \
     attempts, owner, claimed_at, attachments) VALUES ($1, $2, $3, $4, $5, $6, $6, 0, $7, $8, $9) RETURNING id";

/// One handled update (or an HTTP API step) to commit.
#[derive(Debug)]
pub struct Job {
    pub bot: String,
    /// The update's id; `None` for work that is not an update.
    pub update_id: Option<i64>,
    pub chat: i64,
    pub chat_name: String,
    /// Whether the chat must be recorded as one that talked to the bot.
    pub record_chat: bool,
    pub changes: Changes,
    pub out: Vec<Outgoing>,
    /// The instance that sends the messages straight from memory; `None` leaves them to a claim.
    pub owner: Option<String>,
    pub now: DateTime<FixedOffset>,
    /// The update's rows of the insights log, written with it (none when the log is off).
    pub insights: Vec<LogRow>,
    /// PostgreSQL: the chat's claim to let go in the same transaction, when this is the last
    /// update its worker knows of (a job that conflicts keeps it).
    pub release: Option<ReleaseAfter>,
}

/// A claim let go with a job, and where the commit says whether updates of the chat wait.
#[derive(Debug, Clone)]
pub struct ReleaseAfter {
    pub claim: ChatClaim,
    /// 0 until the commit: 1 released with nothing waiting, 2 released with updates waiting.
    pub outcome: std::sync::Arc<std::sync::atomic::AtomicU8>,
}

impl ReleaseAfter {
    pub fn new(claim: ChatClaim) -> ReleaseAfter {
        ReleaseAfter {
            claim,
            outcome: Default::default(),
        }
    }

    /// After the commit: `Some(waiting)` when the claim was let go.
    pub fn released(&self) -> Option<bool> {
        match self.outcome.load(std::sync::atomic::Ordering::SeqCst) {
            1 => Some(false),
            2 => Some(true),
            _ => None,
        }
    }
}

/// What a group commit takes: received updates to store in the inbox, or a handled update.
#[derive(Debug)]
pub enum Work {
    Receive(Receive),
    Job(Box<Job>),
    /// PostgreSQL: claim a chat for this instance (`sql::CLAIM_CHAT`), in the group commit so
    /// that claims share its transactions instead of one commit each.
    Claim(ChatClaim),
    /// PostgreSQL: let a claimed chat go, and say whether updates of the chat wait in the
    /// inbox (stored meanwhile by another instance, which left them to this one).
    Release(ChatClaim),
}

/// What a claim reads with the chat: the ids of its waiting updates (oldest first), and the
/// stored session of its user in a private chat (user = chat) and its registration, so
/// that the first step after the claim needs no read of its own.
#[derive(Debug, Clone, Default)]
pub struct ClaimedChat {
    pub waiting: Vec<i64>,
    pub session: Option<String>,
    pub registration: Option<crate::engine::Principal>,
}

/// A chat and the instance that claims it or lets it go.
#[derive(Debug, Clone)]
pub struct ChatClaim {
    pub bot: String,
    pub chat: i64,
    pub instance: String,
    pub now: DateTime<FixedOffset>,
    /// An owner whose heartbeat is older than this is gone: its claim may be taken over.
    pub alive_since: DateTime<FixedOffset>,
}

/// Updates received from Telegram, to be stored before Telegram is told they arrived.
#[derive(Debug)]
pub struct Receive {
    pub bot: String,
    pub updates: Vec<Received>,
    pub now: DateTime<FixedOffset>,
}

#[derive(Debug)]
pub enum Committed {
    /// Received updates stored; the ids that were new (a redelivery is stored once).
    Received(Vec<i64>),
    /// Committed. `to_send`: the messages the job's owner sends from memory; `queued`: how many
    /// were left to a claim instead.
    Messages {
        to_send: Vec<OutboxMessage>,
        queued: usize,
    },
    Duplicate,
    Conflict,
    /// A claim: `Some` when the chat is this instance's now, with what the claim read.
    Claimed(Option<ClaimedChat>),
    /// A release: whether updates of the chat wait in the inbox.
    Released {
        waiting: bool,
    },
}

/// Commits the work in one transaction; a result per item, in order.
pub async fn commit_batch(store: &SqlStore, works: &[Work]) -> Result<Vec<Committed>, StoreError> {
    if let Some(e) = &store.embedded {
        return e.commit(works);
    }
    let mut tx = store.begin().await?;
    // The jobs that decide no request go together, in few statements (`commit_many`).
    let simple = |w: &Work| matches!(w, Work::Job(job) if job.changes.decided.is_empty());
    let together: Vec<&Job> = works
        .iter()
        .filter(|w| simple(w))
        .map(|w| match w {
            Work::Job(job) => &**job,
            _ => unreachable!("filtered to jobs"),
        })
        .collect();
    let mut many = super::commit_many::apply_many(&mut tx, &together).await?.into_iter();
    // Claims and releases of chats, each kind in one statement.
    let claiming: Vec<&ChatClaim> = works
        .iter()
        .filter_map(|w| match w {
            Work::Claim(c) => Some(c),
            _ => None,
        })
        .collect();
    let mut claims = super::commit_many::claim_many(&mut tx, &claiming).await?;
    let mut releasing: Vec<&ChatClaim> = works
        .iter()
        .filter_map(|w| match w {
            Work::Release(c) => Some(c),
            _ => None,
        })
        .collect();
    let mut results = Vec::with_capacity(works.len());
    for work in works {
        results.push(match work {
            Work::Job(_) if simple(work) => many.next().expect("a result per job"),
            Work::Job(job) => apply(&mut tx, job).await?,
            Work::Receive(r) => Committed::Received(inbox::receive_in(&mut tx, &r.bot, &r.updates, r.now).await?),
            Work::Claim(c) => Committed::Claimed(claims.remove(&(c.bot.clone(), c.chat)).flatten()),
            // Filled in below, once every release of the batch is done.
            Work::Release(_) => Committed::Released { waiting: false },
        });
    }
    // The claims let go with their jobs (unless the job conflicted: its step runs again).
    let with_jobs: Vec<&ReleaseAfter> = works
        .iter()
        .zip(&results)
        .filter_map(|(w, r)| match (w, r) {
            (Work::Job(job), Committed::Messages { .. } | Committed::Duplicate) => job.release.as_ref(),
            _ => None,
        })
        .collect();
    releasing.extend(with_jobs.iter().map(|r| &r.claim));
    let waiting = super::commit_many::release_many(&mut tx, &releasing).await?;
    for (work, result) in works.iter().zip(results.iter_mut()) {
        if let (Work::Release(c), Committed::Released { waiting: w }) = (work, result) {
            *w = waiting.contains(&(c.bot.clone(), c.chat));
        }
    }
    let rows = log_rows(works, &results);
    if !rows.is_empty() {
        log::insert(&mut tx, &rows).await?;
    }
    tx.commit().await?;
    for r in with_jobs {
        let w = waiting.contains(&(r.claim.bot.clone(), r.claim.chat));
        r.outcome
            .store(if w { 2 } else { 1 }, std::sync::atomic::Ordering::SeqCst);
    }
    Ok(results)
}

async fn apply(tx: &mut Transaction<'static, Any>, job: &Job) -> Result<Committed, sqlx::Error> {
    let bot = job.bot.as_str();
    let at = now_text(job.now);
    let c = &job.changes;
    let guarded = !c.decided.is_empty();
    if guarded {
        sqlx::query("SAVEPOINT job").execute(&mut **tx).await?;
    }
    if let Some(id) = job.update_id {
        // Inserted when the update never went through the inbox (a direct commit), else marked handled;
        // nothing when it was handled already.
        let fresh = sqlx::query(MARK_HANDLED)
            .bind(bot)
            .bind(id)
            .bind(job.chat)
            .bind(&at)
            .execute(&mut **tx)
            .await?;
        if fresh.rows_affected() == 0 {
            if guarded {
                undo_job(tx).await?;
            }
            return Ok(Committed::Duplicate);
        }
    }
    for id in &c.decided {
        let r = &c.requests[id];
        let done = sqlx::query(DECIDE_REQUEST)
            .bind(r.status.as_str())
            .bind(&r.reason)
            .bind(bot)
            .bind(*id as i64)
            .execute(&mut **tx)
            .await?;
        if done.rows_affected() == 0 && !c.created.contains(id) {
            undo_job(tx).await?;
            return Ok(Committed::Conflict);
        }
    }
    if guarded {
        sqlx::query("RELEASE SAVEPOINT job").execute(&mut **tx).await?;
    }
    for id in &c.created {
        let r = &c.requests[id];
        sqlx::query(CONFIRM_REQUEST)
            .bind(r.status.as_str())
            .bind(&r.reason)
            .bind(bot)
            .bind(*id as i64)
            .execute(&mut **tx)
            .await?;
    }
    for (key, p, name, when) in &c.registrations {
        sql::upsert_registration(tx, bot, *key, p, name, &now_text(*when)).await?;
    }
    if job.record_chat {
        sqlx::query(RECORD_CHAT)
            .bind(bot)
            .bind(job.chat)
            .bind(&job.chat_name)
            .bind(&at)
            .execute(&mut **tx)
            .await?;
    }
    for (&key, session) in &c.sessions {
        sql::upsert_session(tx, bot, key, session, &at).await?;
    }
    let owner = match &job.owner {
        Some(owner) if !job.out.is_empty() => owned_unless_others_wait(tx, job, owner, &at).await?,
        _ => None,
    };
    let mut to_send = Vec::with_capacity(job.out.len());
    for m in &job.out {
        let stored = insert_reply(tx, bot, m, owner, &at).await?;
        if owner.is_some() {
            to_send.push(stored);
        }
    }
    let queued = job.out.len() - to_send.len();
    Ok(Committed::Messages { to_send, queued })
}

/// The insights log rows of the jobs that committed (not of duplicates nor of conflicts),
/// for one multi-row insert at the end of the group commit.
pub fn log_rows<'w>(works: &'w [Work], results: &[Committed]) -> Vec<&'w LogRow> {
    works
        .iter()
        .zip(results)
        .filter_map(|(w, r)| match (w, r) {
            (Work::Job(job), Committed::Messages { .. }) => Some(job.insights.iter()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Undoes what a job wrote since its savepoint.
async fn undo_job(tx: &mut Transaction<'static, Any>) -> Result<(), sqlx::Error> {
    sqlx::query("ROLLBACK TO SAVEPOINT job").execute(&mut **tx).await?;
    sqlx::query("RELEASE SAVEPOINT job").execute(&mut **tx).await?;
    Ok(())
}

/// The owner for a job's messages: the job's, unless a message to one of their chats
/// that is not the owner's is still waiting. Then they queue behind it through a
/// claim, so that a chat's messages keep their order across instances.
async fn owned_unless_others_wait<'o>(
    tx: &mut Transaction<'static, Any>,
    job: &Job,
    owner: &'o str,
    at: &str,
) -> Result<Option<&'o str>, sqlx::Error> {
    let mut chats: Vec<i64> = job.out.iter().map(|m| m.to).collect();
    chats.sort_unstable();
    chats.dedup();
    for chat in chats {
        let waiting: Option<i64> = sqlx::query_scalar(OTHERS_WAITING)
            .bind(&job.bot)
            .bind(chat)
            .bind(owner)
            .bind(at)
            .fetch_optional(&mut **tx)
            .await?;
        if waiting.is_some() {
            return Ok(None);
        }
    }
    Ok(Some(owner))
}

async fn insert_reply(
    tx: &mut Transaction<'static, Any>,
    bot: &str,
    m: &Outgoing,
    owner: Option<&str>,
    at: &str,
) -> Result<OutboxMessage, sqlx::Error> {
    let keyboard = serde_json::to_string(&m.keyboard).expect("keyboards serialize");
    let status = if owner.is_some() { "sending" } else { "queued" };
    let id: i64 = sqlx::query_scalar(INSERT_REPLY)
        .bind(bot)
        .bind(m.to)
        .bind(&m.text)
        .bind(keyboard)
        .bind(status)
        .bind(at)
        .bind(owner)
        .bind(owner.map(|_| at))
        .bind(serde_json::to_string(&m.files).expect("files serialize"))
        .fetch_one(&mut **tx)
        .await?;
    Ok(OutboxMessage::reply(id, m, at))
}
