//! PostgreSQL's group commit in few statements: the jobs of a batch that decide
//! no authorization request (nearly all) are written together, one multi-row
//! statement per kind of row, instead of a handful of statements per job.
//! Each statement is a round trip and a parse on the server; a batch of fifty
//! updates costs about as many statements as one.
//!
//! The same rows as [`super::commit`]'s `apply`, in the same order of effects:
//! the update marked handled (a job whose update was handled already is a
//! duplicate and writes nothing), requests created in the step confirmed,
//! registrations, the chat recorded, sessions, then the replies (owned by the
//! job's instance unless a message of another owner waits for the chat).

use super::db::{Db, Query};
use super::json_rows::JsonRows;
use super::statements as sql;
use super::types::{
    ChatClaim, ClaimedChat, Committed, Job, OutboxMessage, StoreError, files_json, keyboard_json, now_text,
    session_json,
};
use std::collections::{HashMap, HashSet};

/// Commits `jobs` (none deciding a request); a result per job, in order.
pub async fn apply_many<D: Db>(db: &mut D, jobs: &[&Job]) -> Result<Vec<Committed>, StoreError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    // Each job's time as stored, written once.
    let ats: Vec<String> = jobs.iter().map(|j| now_text(j.now)).collect();
    let stamped: Vec<(&Job, &str)> = jobs.iter().copied().zip(ats.iter().map(String::as_str)).collect();
    // 1. Marked handled; the updates that were not are duplicates, and so is an update
    // that an earlier job of the batch handles (a statement may not change a row twice).
    let mut first: HashSet<(&str, i64)> = HashSet::new();
    let firsts: Vec<bool> = jobs
        .iter()
        .map(|j| j.update_id.is_none_or(|id| first.insert((j.bot.as_str(), id))))
        .collect();
    let marked: Vec<(&Job, &str)> = stamped
        .iter()
        .zip(&firsts)
        .filter(|((j, _), f)| j.update_id.is_some() && **f)
        .map(|(s, _)| *s)
        .collect();
    let mut fresh: HashSet<(String, i64)> = HashSet::new();
    if !marked.is_empty() {
        let mut rows = JsonRows::new();
        for (j, at) in &marked {
            rows.row()
                .text("bot", &j.bot)
                .opt_int("update_id", j.update_id)
                .int("chat", j.chat)
                .text("at", at);
        }
        for row in db
            .fetch_all(Query::new(sql::MARK_HANDLED_MANY).bind(rows.finish()))
            .await?
        {
            fresh.insert((row.text(0)?, row.int(1)?));
        }
    }
    let live: Vec<bool> = jobs
        .iter()
        .zip(&firsts)
        .map(|(j, f)| *f && j.update_id.is_none_or(|id| fresh.contains(&(j.bot.clone(), id))))
        .collect();
    let kept: Vec<(&Job, &str)> = stamped
        .iter()
        .zip(&live)
        .filter(|(_, l)| **l)
        .map(|(s, _)| *s)
        .collect();

    // 2. Requests created in the step, and registrations: rare, one statement each.
    for (j, _) in &kept {
        super::writes::confirm_and_register(db, j).await?;
    }

    // 3. Chats seen for the first time.
    let mut chats = JsonRows::new();
    for (j, at) in kept.iter().filter(|(j, _)| j.record_chat) {
        chats
            .row()
            .text("bot", &j.bot)
            .int("chat", j.chat)
            .text("name", &j.chat_name)
            .text("at", at);
    }
    if !chats.is_empty() {
        db.execute(Query::new(sql::RECORD_CHATS_MANY).bind(chats.finish()))
            .await?;
    }

    // 4. Sessions; of two jobs that save the same user's session, the later one's (as if
    // committed one after the other).
    let mut latest: HashMap<(&str, (i64, i64)), usize> = HashMap::new();
    let all: Vec<(&Job, &str, (i64, i64), String)> = kept
        .iter()
        .flat_map(|&(j, at)| {
            j.changes
                .sessions
                .iter()
                .map(move |(k, s)| (j, at, *k, session_json(s)))
        })
        .collect();
    for (i, (j, _, key, _)) in all.iter().enumerate() {
        latest.insert((j.bot.as_str(), *key), i);
    }
    let sessions: Vec<&(&Job, &str, (i64, i64), String)> = all
        .iter()
        .enumerate()
        .filter(|(i, (j, _, key, _))| latest[&(j.bot.as_str(), *key)] == *i)
        .map(|(_, s)| s)
        .collect();
    if !sessions.is_empty() {
        let mut rows = JsonRows::new();
        for (j, at, (chat, user), data) in &sessions {
            rows.row()
                .text("bot", &j.bot)
                .int("chat", *chat)
                .int("user_id", *user)
                .text("data", data)
                .text("at", at);
        }
        db.execute(Query::new(sql::SESSIONS_MANY).bind(rows.finish())).await?;
    }

    // 5. Whose replies are whose: a job's instance sends them from memory unless a message
    // of another owner waits for one of their chats (then they queue behind it).
    let mut blocked: HashSet<(String, i64)> = HashSet::new();
    let owned: Vec<(&Job, &str, i64)> = kept
        .iter()
        .filter(|(j, _)| j.owner.is_some() && !j.out.is_empty())
        .flat_map(|&(j, at)| j.out.iter().map(move |m| (j, at, m.to)))
        .collect();
    if !owned.is_empty() {
        let mut rows = JsonRows::new();
        for (j, at, chat) in &owned {
            rows.row()
                .text("bot", &j.bot)
                .int("chat", *chat)
                .opt_text("owner", j.owner.as_deref())
                .text("at", at);
        }
        for row in db
            .fetch_all(Query::new(sql::OTHERS_WAITING_MANY).bind(rows.finish()))
            .await?
        {
            blocked.insert((row.text(0)?, row.int(1)?));
        }
    }

    // 6. The replies, in order; their ids come back in the order of the rows.
    let mut rows: Vec<(&Job, &crate::engine::Outgoing, Option<&str>, &str)> = Vec::new();
    for &(j, at) in &kept {
        let owner = j
            .owner
            .as_deref()
            .filter(|_| !j.out.iter().any(|m| blocked.contains(&(j.bot.clone(), m.to))));
        for m in &j.out {
            rows.push((j, m, owner, at));
        }
    }
    let mut ids: Vec<i64> = Vec::new();
    if !rows.is_empty() {
        let mut json = JsonRows::new();
        for (j, m, owner, at) in &rows {
            json.row()
                .text("bot", &j.bot)
                .int("chat", m.to)
                .text("text", &m.text)
                .text("keyboard", &keyboard_json(&m.keyboard))
                .text("status", if owner.is_some() { "sending" } else { "queued" })
                .text("at", at)
                .opt_text("owner", *owner)
                .opt_text("claimed_at", owner.map(|_| *at))
                .text("attachments", &files_json(&m.files));
        }
        ids = db.fetch_ints(Query::new(sql::REPLIES_MANY).bind(json.finish())).await?;
    }
    if ids.len() != rows.len() {
        return Err(StoreError::Setup(format!(
            "{} replies stored but {} ids returned",
            rows.len(),
            ids.len()
        )));
    }
    let mut sent = rows.iter().zip(ids);
    let mut results = Vec::with_capacity(jobs.len());
    for (j, l) in jobs.iter().zip(live) {
        if !l {
            results.push(Committed::Duplicate);
            continue;
        }
        let mut to_send = Vec::new();
        let mut queued = 0;
        for _ in &j.out {
            let ((_, m, owner, at), id) = sent.next().expect("an id per reply");
            if owner.is_some() {
                to_send.push(OutboxMessage::reply(id, m, at));
            } else {
                queued += 1;
            }
        }
        results.push(Committed::Messages { to_send, queued });
    }
    Ok(results)
}

/// Claims chats (the rule of `sql::CLAIM_CHAT`, in one statement): for each chat, `Some`
/// with what the claim read when it is this instance's now, `None` when another live
/// instance holds it.
pub async fn claim_many<D: Db>(
    db: &mut D,
    claims: &[&ChatClaim],
) -> Result<HashMap<(String, i64), Option<ClaimedChat>>, StoreError> {
    let mut out: HashMap<(String, i64), Option<ClaimedChat>> = HashMap::new();
    // One row per chat (a statement may not change a row twice).
    let mut unique: Vec<&ChatClaim> = Vec::new();
    for c in claims {
        if out.insert((c.bot.clone(), c.chat), None).is_none() {
            unique.push(c);
        }
    }
    let Some(alive_since) = unique.iter().map(|c| c.alive_since).min() else {
        return Ok(out);
    };
    let alive_since = now_text(alive_since);
    let mut rows = JsonRows::new();
    for c in &unique {
        rows.row()
            .text("bot", &c.bot)
            .int("chat", c.chat)
            .text("owner", &c.instance)
            .text("at", &now_text(c.now));
    }
    let q = Query::new(sql::CLAIM_MANY).bind(rows.finish()).bind(&alive_since);
    let claimed: Vec<(String, i64)> = db
        .fetch_all(q)
        .await?
        .iter()
        .map(|r| Ok((r.text(0)?, r.int(1)?)))
        .collect::<Result<_, StoreError>>()?;
    if claimed.is_empty() {
        return Ok(out);
    }
    // What each claimed chat has waiting, and its private user's state.
    let mut rows = JsonRows::new();
    for (bot, chat) in &claimed {
        rows.row().text("bot", bot).int("chat", *chat);
    }
    let q = Query::new(sql::CLAIMED_STATE_MANY).bind(rows.finish());
    for row in db.fetch_all(q).await? {
        let key: (String, i64) = (row.text(0)?, row.int(1)?);
        let waiting = match row.opt_text(2)? {
            Some(ids) => ids
                .split(',')
                .map(|i| {
                    i.parse().map_err(|e| {
                        StoreError::corrupt("inbox", format!("{}:{}", key.0, key.1), format!("update id {i:?}: {e}"))
                    })
                })
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let registration = super::rows::principal_at(&row, 4)?;
        out.insert(
            key,
            Some(ClaimedChat {
                waiting,
                session: row.opt_text(3)?,
                registration,
            }),
        );
    }
    Ok(out)
}

/// Lets chats go (this instance's claims only, in one statement); the chats among them
/// for which updates wait in the inbox.
pub async fn release_many<D: Db>(db: &mut D, releases: &[&ChatClaim]) -> Result<HashSet<(String, i64)>, StoreError> {
    let mut waiting = HashSet::new();
    if releases.is_empty() {
        return Ok(waiting);
    }
    let mut rows = JsonRows::new();
    for c in releases {
        rows.row()
            .text("bot", &c.bot)
            .int("chat", c.chat)
            .text("owner", &c.instance);
    }
    for row in db.fetch_all(Query::new(sql::RELEASE_MANY).bind(rows.finish())).await? {
        waiting.insert((row.text(0)?, row.int(1)?));
    }
    Ok(waiting)
}
