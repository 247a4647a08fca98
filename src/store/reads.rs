//! The step's reads over [`Db`], the same for the runtime's store and the HTTP API's
//! transaction: a user's session, a chat's registration, an action button, a request,
//! an update's status.

use super::db::{Db, Query, Row};
use super::rows;
use super::statements as sql;
use super::types::{StoreError, decode_session};
use crate::engine::{ActionButton, AuthRequest, Principal, Session};

/// The first row `q` answers, read by `read`.
async fn one<D: Db, T>(
    db: &mut D,
    q: Query<'_>,
    read: impl FnOnce(&Row) -> Result<Option<T>, StoreError>,
) -> Result<Option<T>, StoreError> {
    match db.fetch_optional(q).await? {
        Some(row) => read(&row),
        None => Ok(None),
    }
}

/// A user's stored session (one that cannot be decoded is logged and dropped).
pub async fn session<D: Db>(db: &mut D, bot: &str, chat: i64, user: i64) -> Result<Option<Session>, StoreError> {
    let q = Query::new(sql::SESSION).bind(bot).bind(chat).bind(user);
    let data = one(db, q, |row| row.opt_text(0)).await?;
    Ok(data.and_then(|d| decode_session(bot, chat, &d)))
}

/// A chat's registration.
pub async fn registration<D: Db>(db: &mut D, bot: &str, key: i64) -> Result<Option<Principal>, StoreError> {
    one(db, Query::new(sql::REGISTRATION).bind(bot).bind(key), |row| {
        rows::principal_at(row, 0)
    })
    .await
}

/// A notification action button by id, if it was sent to `chat`.
pub async fn action_button<D: Db>(
    db: &mut D,
    bot: &str,
    id: u64,
    chat: i64,
) -> Result<Option<ActionButton>, StoreError> {
    let q = Query::new(sql::ACTION_BUTTON).bind(bot).bind(id as i64).bind(chat);
    one(db, q, |row| rows::action_button(row).map(Some)).await
}

/// A request by id (never a draft).
pub async fn request<D: Db>(db: &mut D, bot: &str, id: u64) -> Result<Option<AuthRequest>, StoreError> {
    let q = Query::new(sql::REQUEST_BY_ID).bind(bot).bind(id as i64);
    one(db, q, |row| rows::request(row).map(Some)).await
}

/// A chat's latest pending request.
pub async fn pending_request<D: Db>(db: &mut D, bot: &str, key: i64) -> Result<Option<AuthRequest>, StoreError> {
    let q = Query::new(sql::PENDING_REQUEST).bind(bot).bind(key);
    one(db, q, |row| rows::request(row).map(Some)).await
}

/// An update's status in the inbox (`None`: never stored).
pub async fn update_status<D: Db>(db: &mut D, bot: &str, update_id: i64) -> Result<Option<String>, StoreError> {
    let q = Query::new(sql::UPDATE_STATUS).bind(bot).bind(update_id);
    one(db, q, |row| row.text(0).map(Some)).await
}
