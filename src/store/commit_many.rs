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

use super::commit::{CONFIRM_REQUEST, ChatClaim, ClaimedChat, Committed, Job, others_waiting_in};
use super::sql::{self, OutboxMessage, now_text};
use sqlx::{Any, Row, Transaction};
use std::collections::{HashMap, HashSet};

/// Rows per multi-row statement (PostgreSQL takes at most 65,535 parameters).
const CHUNK: usize = 500;

/// `($1, $2, …), (…)`: `rows` tuples of `width` numbered placeholders, with `extra` text
/// (constants) appended inside each tuple.
fn tuples(rows: usize, width: usize, extra: &str) -> String {
    (0..rows)
        .map(|r| {
            let p: Vec<String> = (1..=width).map(|k| format!("${}", r * width + k)).collect();
            format!("({}{extra})", p.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `n` updates marked handled (bot, update id, chat, handled at, received at), answering
/// those that were not handled before.
pub fn mark_handled_sql(n: usize) -> String {
    format!(
        "INSERT INTO inbox (bot, update_id, chat, handled_at, received_at, payload, status, attempts) VALUES {} \
         ON CONFLICT (bot, update_id) DO UPDATE SET status = 'done', payload = NULL, handled_at = excluded.handled_at \
         WHERE inbox.status = 'new' RETURNING bot, update_id",
        tuples(n, 5, ", NULL, 'done', 0")
    )
}

/// `n` replies (bot, chat, text, keyboard, status, due, created, owner, claimed, files).
pub fn replies_sql(n: usize) -> String {
    format!(
        "INSERT INTO outbox (bot, chat, text, keyboard, status, due_at, created_at, owner, claimed_at, attachments, attempts) \
         VALUES {} RETURNING id",
        tuples(n, 10, ", 0")
    )
}

/// `n` chat claims (bot, chat, owner, at), then the time before which an owner is gone: a
/// new claim, this instance's own again, or one whose owner's lease ran out and which is
/// older than that. Answers the chats that are this instance's now.
pub fn claim_sql(n: usize) -> String {
    format!(
        "INSERT INTO chat_claims (bot, chat, owner, claimed_at) VALUES {} \
         ON CONFLICT (bot, chat) DO UPDATE SET owner = excluded.owner, claimed_at = excluded.claimed_at \
         WHERE chat_claims.owner = excluded.owner \
         OR (chat_claims.claimed_at < ${p} AND chat_claims.owner NOT IN (SELECT id FROM instances WHERE heartbeat_at >= ${p})) \
         RETURNING bot, chat",
        tuples(n, 4, ""),
        p = n * 4 + 1
    )
}

/// For `n` claimed chats (bot, chat): the ids of their waiting updates, their private
/// user's session and their registration.
pub fn claimed_state_sql(n: usize) -> String {
    format!(
        "SELECT v.bot, v.chat, \
         (SELECT string_agg(CAST(i.update_id AS TEXT), ',' ORDER BY i.update_id) FROM inbox i \
          WHERE i.bot = v.bot AND i.chat = v.chat AND i.status = 'new'), \
         (SELECT s.data FROM sessions s WHERE s.bot = v.bot AND s.chat = v.chat AND s.user_id = v.chat), \
         r.kind, r.principal_id, r.principal_name \
         FROM (VALUES {}) AS v(bot, chat) LEFT JOIN registrations r ON r.bot = v.bot AND r.chat = v.chat",
        tuples(n, 2, "")
    )
}

/// `n` claims let go (bot, chat, owner): this instance's only; answers the chats among them
/// whose updates wait in the inbox.
pub fn release_sql(n: usize) -> String {
    format!(
        "WITH v(bot, chat, owner) AS (VALUES {}), \
         gone AS (DELETE FROM chat_claims c USING v WHERE c.bot = v.bot AND c.chat = v.chat AND c.owner = v.owner) \
         SELECT DISTINCT i.bot, i.chat FROM inbox i JOIN v ON i.bot = v.bot AND i.chat = v.chat WHERE i.status = 'new'",
        tuples(n, 3, "")
    )
}

/// Commits `jobs` (none deciding a request); a result per job, in order.
pub async fn apply_many(tx: &mut Transaction<'static, Any>, jobs: &[&Job]) -> Result<Vec<Committed>, sqlx::Error> {
    // Each job's time as stored, written once.
    let ats: Vec<String> = jobs.iter().map(|j| now_text(j.now)).collect();
    let stamped: Vec<(&Job, &str)> = jobs.iter().copied().zip(ats.iter().map(String::as_str)).collect();
    // 1. Marked handled; the updates that were not are duplicates.
    let marked: Vec<(&Job, &str)> = stamped.iter().copied().filter(|(j, _)| j.update_id.is_some()).collect();
    let mut fresh: HashSet<(String, i64)> = HashSet::new();
    for chunk in marked.chunks(CHUNK) {
        let sql = mark_handled_sql(chunk.len());
        let mut q = sqlx::query(&sql);
        for (j, at) in chunk {
            q = q.bind(&j.bot).bind(j.update_id).bind(j.chat).bind(at).bind(at);
        }
        for row in q.fetch_all(&mut **tx).await? {
            fresh.insert((row.get(0), row.get(1)));
        }
    }
    let live: Vec<bool> = jobs
        .iter()
        .map(|j| j.update_id.is_none_or(|id| fresh.contains(&(j.bot.clone(), id))))
        .collect();
    let kept: Vec<(&Job, &str)> = stamped
        .iter()
        .zip(&live)
        .filter(|(_, l)| **l)
        .map(|(s, _)| *s)
        .collect();

    // 2. Requests created in the step, and registrations: rare, one statement each.
    for (j, _) in &kept {
        for id in &j.changes.created {
            let r = &j.changes.requests[id];
            sqlx::query(CONFIRM_REQUEST)
                .bind(r.status.as_str())
                .bind(&r.reason)
                .bind(&j.bot)
                .bind(*id as i64)
                .execute(&mut **tx)
                .await?;
        }
        for (key, p, name, when) in &j.changes.registrations {
            sql::upsert_registration(tx, &j.bot, *key, p, name, &now_text(*when)).await?;
        }
    }

    // 3. Chats seen for the first time.
    let chats: Vec<(&Job, &str)> = kept.iter().copied().filter(|(j, _)| j.record_chat).collect();
    for chunk in chats.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO chats (bot, chat, name, first_seen) VALUES {} ON CONFLICT (bot, chat) DO NOTHING",
            tuples(chunk.len(), 4, "")
        );
        let mut q = sqlx::query(&sql);
        for (j, at) in chunk {
            q = q.bind(&j.bot).bind(j.chat).bind(&j.chat_name).bind(*at);
        }
        q.execute(&mut **tx).await?;
    }

    // 4. Sessions.
    let sessions: Vec<(&Job, &str, (i64, i64), String)> = kept
        .iter()
        .flat_map(|&(j, at)| {
            j.changes
                .sessions
                .iter()
                .map(move |(k, s)| (j, at, *k, serde_json::to_string(s).expect("sessions serialize")))
        })
        .collect();
    for chunk in sessions.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO sessions (bot, chat, user_id, data, updated_at) VALUES {} \
             ON CONFLICT (bot, chat, user_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
            tuples(chunk.len(), 5, "")
        );
        let mut q = sqlx::query(&sql);
        for (j, at, (chat, user), data) in chunk {
            q = q.bind(&j.bot).bind(*chat).bind(*user).bind(data).bind(*at);
        }
        q.execute(&mut **tx).await?;
    }

    // 5. Whose replies are whose: a job's instance sends them from memory unless a message
    // of another owner waits for one of their chats (then they queue behind it).
    let mut blocked: HashSet<(String, i64)> = HashSet::new();
    let owned: Vec<(&Job, &str, i64)> = kept
        .iter()
        .filter(|(j, _)| j.owner.is_some() && !j.out.is_empty())
        .flat_map(|&(j, at)| j.out.iter().map(move |m| (j, at, m.to)))
        .collect();
    for chunk in owned.chunks(CHUNK) {
        let sql = others_waiting_in(&tuples(chunk.len(), 4, ""));
        let mut q = sqlx::query(&sql);
        for (j, at, chat) in chunk {
            q = q.bind(&j.bot).bind(*chat).bind(j.owner.as_deref()).bind(*at);
        }
        for row in q.fetch_all(&mut **tx).await? {
            blocked.insert((row.get(0), row.get(1)));
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
    let mut ids: Vec<i64> = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(CHUNK) {
        let sql = replies_sql(chunk.len());
        let mut q = sqlx::query_scalar::<_, i64>(&sql);
        for (j, m, owner, at) in chunk {
            q = q
                .bind(&j.bot)
                .bind(m.to)
                .bind(&m.text)
                .bind(serde_json::to_string(&m.keyboard).expect("keyboards serialize"))
                .bind(if owner.is_some() { "sending" } else { "queued" })
                .bind(at)
                .bind(at)
                .bind(*owner)
                .bind(owner.map(|_| *at))
                .bind(serde_json::to_string(&m.files).expect("files serialize"));
        }
        ids.extend(q.fetch_all(&mut **tx).await?);
    }
    if ids.len() != rows.len() {
        return Err(sqlx::Error::Protocol(format!(
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
pub async fn claim_many(
    tx: &mut Transaction<'static, Any>,
    claims: &[&ChatClaim],
) -> Result<HashMap<(String, i64), Option<ClaimedChat>>, sqlx::Error> {
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
    for chunk in unique.chunks(CHUNK) {
        let n = chunk.len();
        let sql = claim_sql(n);
        let mut q = sqlx::query(&sql);
        for c in chunk {
            q = q.bind(&c.bot).bind(c.chat).bind(&c.instance).bind(now_text(c.now));
        }
        let claimed: Vec<(String, i64)> = q
            .bind(&alive_since)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        if claimed.is_empty() {
            continue;
        }
        // What each claimed chat has waiting, and its private user's state.
        let sql = claimed_state_sql(claimed.len());
        let mut q = sqlx::query(&sql);
        for (bot, chat) in &claimed {
            q = q.bind(bot).bind(*chat);
        }
        for row in q.fetch_all(&mut **tx).await? {
            let key: (String, i64) = (row.get(0), row.get(1));
            let waiting = row
                .get::<Option<String>, _>(2)
                .map(|ids| ids.split(',').filter_map(|i| i.parse().ok()).collect())
                .unwrap_or_default();
            let registration = sql::principal_at(&row, 4);
            out.insert(
                key,
                Some(ClaimedChat {
                    waiting,
                    session: row.get(3),
                    registration,
                }),
            );
        }
    }
    Ok(out)
}

/// Lets chats go (this instance's claims only, in one statement); the chats among them
/// for which updates wait in the inbox.
pub async fn release_many(
    tx: &mut Transaction<'static, Any>,
    releases: &[&ChatClaim],
) -> Result<HashSet<(String, i64)>, sqlx::Error> {
    let mut waiting = HashSet::new();
    for chunk in releases.chunks(CHUNK) {
        let sql = release_sql(chunk.len());
        let mut q = sqlx::query(&sql);
        for c in chunk {
            q = q.bind(&c.bot).bind(c.chat).bind(&c.instance);
        }
        for row in q.fetch_all(&mut **tx).await? {
            waiting.insert((row.get(0), row.get(1)));
        }
    }
    Ok(waiting)
}
