//! Group commit: the state changes, handled update ids and outgoing messages
//! of many updates in one transaction, so that one fsync serves them all.
//! Written once over [`Db`]; PostgreSQL writes the jobs that decide no request
//! together ([`super::commit_many`]), because there every statement is a
//! round trip, while SQLite runs each job's statements, prepared once.
//!
//! **Invariant:** each job commits whole or not at all. A job whose update
//! was handled already writes nothing ([`Committed::Duplicate`]); a job
//! whose decision on an authorization request lost to another decision is
//! rolled back to its savepoint ([`Committed::Conflict`]) and handled again
//! by its caller. A database error fails the batch; the caller then commits
//! each job on its own, so that one bad job cannot hold the others back.

use super::commit_many;
use super::db::{Db, Query};
use super::inbox;
use super::json_rows::JsonRows;
use super::statements as sql;
use super::types::{
    ChatClaim, Committed, Dialect, Job, LogRow, OutboxMessage, ReleaseAfter, StoreError, Work, files_json,
    keyboard_json, now_text,
};
use super::writes;
use crate::engine::Outgoing;

/// What a commit did, and the claims let go with jobs (to be told once the transaction
/// is committed, see [`ReleaseAfter`]) with whether updates of their chats wait.
pub struct Outcome<'w> {
    pub results: Vec<Committed>,
    pub released: Vec<(&'w ReleaseAfter, bool)>,
}

impl Outcome<'_> {
    /// Tells the jobs' claims what became of them: call after the transaction committed.
    pub fn tell_releases(&self) {
        for (r, waiting) in &self.released {
            r.outcome
                .store(if *waiting { 2 } else { 1 }, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// Commits the work inside `db`'s transaction; a result per item, in order.
pub async fn commit<'w, D: Db>(db: &mut D, works: &'w [Work]) -> Result<Outcome<'w>, StoreError> {
    let postgres = db.dialect() == Dialect::Postgres;
    // PostgreSQL: the jobs that decide no request go together, in few statements.
    let together = |w: &Work| postgres && matches!(w, Work::Job(job) if job.changes.decided.is_empty());
    let jobs: Vec<&Job> = works
        .iter()
        .filter(|w| together(w))
        .filter_map(|w| match w {
            Work::Job(job) => Some(&**job),
            _ => None,
        })
        .collect();
    let mut many = commit_many::apply_many(db, &jobs).await?.into_iter();
    let claiming: Vec<&ChatClaim> = works
        .iter()
        .filter_map(|w| match w {
            Work::Claim(c) => Some(c),
            _ => None,
        })
        .collect();
    let mut claims = if postgres {
        commit_many::claim_many(db, &claiming).await?
    } else {
        Default::default()
    };
    let mut results = Vec::with_capacity(works.len());
    for work in works {
        results.push(match work {
            Work::Job(_) if together(work) => many
                .next()
                .ok_or_else(|| StoreError::Setup("the group commit lost a job's result".into()))?,
            Work::Job(job) => apply(db, job).await?,
            Work::Receive(r) => Committed::Received(inbox::receive(db, &r.bot, &r.updates, r.now).await?),
            // One process serves SQLite: every chat is its own.
            Work::Claim(_) if !postgres => Committed::Claimed(Some(Default::default())),
            Work::Claim(c) => Committed::Claimed(claims.remove(&(c.bot.clone(), c.chat)).flatten()),
            // Filled in below, once every release of the batch is done.
            Work::Release(_) => Committed::Released { waiting: false },
        });
    }
    let mut released = Vec::new();
    if postgres {
        // The claims let go with their jobs (unless the job conflicted: its step runs again).
        let with_jobs: Vec<&ReleaseAfter> = works
            .iter()
            .zip(&results)
            .filter_map(|(w, r)| match (w, r) {
                (Work::Job(job), Committed::Messages { .. } | Committed::Duplicate) => job.release.as_ref(),
                _ => None,
            })
            .collect();
        let mut releasing: Vec<&ChatClaim> = works
            .iter()
            .filter_map(|w| match w {
                Work::Release(c) => Some(c),
                _ => None,
            })
            .collect();
        releasing.extend(with_jobs.iter().map(|r| &r.claim));
        let waiting = commit_many::release_many(db, &releasing).await?;
        let waits = |c: &ChatClaim| waiting.contains(&(c.bot.clone(), c.chat));
        for (work, result) in works.iter().zip(results.iter_mut()) {
            if let (Work::Release(c), Committed::Released { waiting: w }) = (work, result) {
                *w = waits(c);
            }
        }
        released = with_jobs.into_iter().map(|r| (r, waits(&r.claim))).collect();
    }
    insert_log(db, &log_rows(works, &results)).await?;
    Ok(Outcome { results, released })
}

/// One job, statement by statement.
async fn apply<D: Db>(db: &mut D, job: &Job) -> Result<Committed, StoreError> {
    let bot = job.bot.as_str();
    let at = now_text(job.now);
    let c = &job.changes;
    let guarded = !c.decided.is_empty();
    if guarded {
        db.execute(Query::new(sql::SAVEPOINT)).await?;
    }
    if let Some(id) = job.update_id {
        // Inserted when the update never went through the inbox (a direct commit), else marked handled;
        // nothing when it was handled already.
        let q = Query::new(sql::MARK_HANDLED)
            .bind(bot)
            .bind(id)
            .bind(job.chat)
            .bind(&at);
        if db.execute(q).await? == 0 {
            if guarded {
                undo_job(db).await?;
            }
            return Ok(Committed::Duplicate);
        }
    }
    for id in &c.decided {
        let r = &c.requests[id];
        let q = Query::new(sql::DECIDE_REQUEST)
            .bind(r.status.as_str())
            .bind(&r.reason)
            .bind(bot)
            .bind(*id as i64);
        if db.execute(q).await? == 0 && !c.created.contains(id) {
            undo_job(db).await?;
            return Ok(Committed::Conflict);
        }
    }
    if guarded {
        db.execute(Query::new(sql::RELEASE_SAVEPOINT)).await?;
    }
    writes::confirm_and_register(db, job).await?;
    if job.record_chat {
        let q = Query::new(sql::RECORD_CHAT)
            .bind(bot)
            .bind(job.chat)
            .bind(&job.chat_name)
            .bind(&at);
        db.execute(q).await?;
    }
    for (&key, session) in &c.sessions {
        writes::upsert_session(db, bot, key, session, &at).await?;
    }
    let owner = match &job.owner {
        Some(owner) if !job.out.is_empty() => owned_unless_others_wait(db, job, owner, &at).await?,
        _ => None,
    };
    let mut to_send = Vec::with_capacity(job.out.len());
    for m in &job.out {
        let stored = insert_reply(db, bot, m, owner, &at).await?;
        if owner.is_some() {
            to_send.push(stored);
        }
    }
    let queued = job.out.len() - to_send.len();
    Ok(Committed::Messages { to_send, queued })
}

/// The insights log rows of the jobs that committed (not of duplicates nor of conflicts).
fn log_rows<'w>(works: &'w [Work], results: &[Committed]) -> Vec<&'w LogRow> {
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

/// The insights log rows of a group commit, in multi-row inserts. SQLite: of 64, 32, … 1
/// rows (largest first), a handful of statements each prepared once and kept, as batches
/// vary in size. PostgreSQL: every row in one statement, its rows as JSON (as the rest of
/// its group commit, `commit_many.rs`).
async fn insert_log<D: Db>(db: &mut D, rows: &[&LogRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    if db.dialect() == Dialect::Postgres {
        let mut json = JsonRows::new();
        for r in rows {
            json.row()
                .text("bot", &r.bot)
                .text("at", &r.at)
                .int("chat", r.chat)
                .text("kind", r.kind)
                .opt_text("name", r.name.as_deref())
                .opt_text("value", r.value.as_deref())
                .opt_text("label", r.label.as_deref())
                .opt_int("ms", r.ms)
                .opt_text("took", r.took.as_deref());
        }
        db.execute(Query::new(sql::INSERT_LOG_MANY).bind(json.finish())).await?;
        return Ok(());
    }
    let mut rest = rows;
    while !rest.is_empty() {
        let (size, text) = sql::INSERT_LOG.next(rest.len());
        let (chunk, after) = rest.split_at(size);
        rest = after;
        let mut q = Query::new(text);
        q.args.reserve(chunk.len() * sql::LOG_COLUMNS);
        for r in chunk {
            q.push(r.bot.as_str());
            q.push(r.at.as_str());
            q.push(r.chat);
            q.push(r.kind);
            q.push(r.name.as_deref());
            q.push(r.value.as_deref());
            q.push(r.label.as_deref());
            q.push(r.ms);
            q.push(r.took.as_deref());
        }
        db.execute(q).await?;
    }
    Ok(())
}

/// Undoes what a job wrote since its savepoint.
async fn undo_job<D: Db>(db: &mut D) -> Result<(), StoreError> {
    db.execute(Query::new(sql::ROLLBACK_TO_SAVEPOINT)).await?;
    db.execute(Query::new(sql::RELEASE_SAVEPOINT)).await?;
    Ok(())
}

/// The owner for a job's messages: the job's, unless a message to one of their chats
/// that is not the owner's is still waiting. Then they queue behind it through a
/// claim, so that a chat's messages keep their order across instances.
async fn owned_unless_others_wait<'o, D: Db>(
    db: &mut D,
    job: &Job,
    owner: &'o str,
    at: &str,
) -> Result<Option<&'o str>, StoreError> {
    let mut chats: Vec<i64> = job.out.iter().map(|m| m.to).collect();
    chats.sort_unstable();
    chats.dedup();
    for chat in chats {
        let q = Query::new(sql::OTHERS_WAITING)
            .bind(job.bot.as_str())
            .bind(chat)
            .bind(owner)
            .bind(at);
        if db.fetch_int(q).await?.is_some() {
            return Ok(None);
        }
    }
    Ok(Some(owner))
}

async fn insert_reply<D: Db>(
    db: &mut D,
    bot: &str,
    m: &Outgoing,
    owner: Option<&str>,
    at: &str,
) -> Result<OutboxMessage, StoreError> {
    let q = Query::new(sql::INSERT_REPLY)
        .bind(bot)
        .bind(m.to)
        .bind(m.text.as_str())
        .bind(keyboard_json(&m.keyboard))
        .bind(if owner.is_some() { "sending" } else { "queued" })
        .bind(at)
        .bind(owner)
        .bind(owner.map(|_| at))
        .bind(files_json(&m.files));
    let id = db
        .fetch_int(q)
        .await?
        .ok_or_else(|| StoreError::Setup("an insert into outbox returned no id".into()))?;
    Ok(OutboxMessage::reply(id, m, at))
}
