//! Writes that both strategies of the group commit ([`super::commit`], [`super::commit_many`])
//! and the HTTP API's world ([`super::tx_world`]) make the same way: a step's requests
//! confirmed, and registrations.

use super::db::{Db, Query};
use super::statements as sql;
use super::types::{Job, StoreError, now_text};
use crate::engine::Principal;

/// A job's requests created in its step (from draft to their status), and its registrations.
pub async fn confirm_and_register<D: Db>(db: &mut D, job: &Job) -> Result<(), StoreError> {
    for id in &job.changes.created {
        let r = &job.changes.requests[id];
        let q = Query::new(sql::CONFIRM_REQUEST)
            .bind(r.status.as_str())
            .bind(&r.reason)
            .bind(job.bot.as_str())
            .bind(*id as i64);
        db.execute(q).await?;
    }
    for (key, p, name, when) in &job.changes.registrations {
        upsert_registration(db, &job.bot, *key, p, name, &now_text(*when)).await?;
    }
    Ok(())
}

/// Registers a chat as a principal, or changes its registration.
pub async fn upsert_registration<D: Db>(
    db: &mut D,
    bot: &str,
    key: i64,
    principal: &Principal,
    name: &str,
    at: &str,
) -> Result<(), StoreError> {
    let q = Query::new(sql::UPSERT_REGISTRATION)
        .bind(bot)
        .bind(key)
        .bind(&principal.kind)
        .bind(&principal.id)
        .bind(&principal.name)
        .bind(name)
        .bind(at)
        .bind(registration_search(key, principal, name));
    db.execute(q).await.map(|_| ())
}

/// What the console's user search looks in: the key, the name and the principal, folded to
/// lower case here (SQLite's `LOWER` folds ASCII only, PostgreSQL's depends on its locale).
pub fn registration_search(key: i64, principal: &Principal, name: &str) -> String {
    format!(
        "{key}\u{1f}{name}\u{1f}{}\u{1f}{}\u{1f}{}",
        principal.kind, principal.id, principal.name
    )
    .to_lowercase()
}

/// Stores an authorization request with `status` (`draft` for a request created in a
/// step, until the step commits); gives its id.
pub async fn insert_request<D: Db>(
    db: &mut D,
    bot: &str,
    r: &crate::engine::AuthRequest,
    status: &str,
) -> Result<u64, StoreError> {
    let created = now_text(r.created_at);
    let q = Query::new(sql::INSERT_REQUEST)
        .bind(bot)
        .bind(r.key)
        .bind(r.user_id)
        .bind(r.name.as_str())
        .bind(&r.username)
        .bind(r.data.as_str())
        .bind(status)
        .bind(if status == "draft" { None } else { r.reason.as_deref() })
        .bind(created);
    match db.fetch_int(q).await? {
        Some(id) => Ok(id as u64),
        None => Err(StoreError::Setup("an insert into auth_requests returned no id".into())),
    }
}

/// Inserts or replaces a user's session.
pub async fn upsert_session<D: Db>(
    db: &mut D,
    bot: &str,
    (chat, user): (i64, i64),
    session: &crate::engine::Session,
    at: &str,
) -> Result<(), StoreError> {
    let q = Query::new(sql::UPSERT_SESSION)
        .bind(bot)
        .bind(chat)
        .bind(user)
        .bind(super::types::session_json(session))
        .bind(at);
    db.execute(q).await.map(|_| ())
}
