//! The engine's world for one update, with no transaction open while the
//! engine runs: reads go to the database as needed, writes are kept here and
//! applied by [`BufferedWorld::commit`] in one short transaction, together
//! with the update id and the outgoing messages.
//!
//! Why: algorithms (an `http` webhook to a business system) run inside the
//! engine step, and a business system may call the HTTP API while it
//! answers. A transaction held across that call would block the API (and,
//! on SQLite, every other update) until the webhook timed out.
//!
//! **Invariant:** a decision on an authorization request is written only if
//! the request is still pending in the database; otherwise the commit
//! reports a conflict and the caller handles the update again.

use super::sql::{self, SqlStore, now_text};
use crate::algorithms::{self, AlgorithmCall, AlgorithmFailure, Builtins};
use crate::engine::{AuthRequest, AuthStatus, Outgoing, Principal, Session, User, World};
use crate::expr::Value;
use chrono::{DateTime, FixedOffset};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

pub struct BufferedWorld<'a> {
    pub store: &'a SqlStore,
    pub bot: String,
    pub handle: tokio::runtime::Handle,
    pub builtins: &'a Builtins,
    pub error: Option<sqlx::Error>,
    sessions: HashMap<(i64, i64), Option<Session>>,
    dirty_sessions: BTreeMap<(i64, i64), Session>,
    registrations: HashMap<i64, Option<Principal>>,
    new_registrations: Vec<(i64, Principal, String, DateTime<FixedOffset>)>,
    requests: HashMap<u64, AuthRequest>,
    /// Requests created in this step (stored as drafts until the commit) and requests decided in it.
    created: Vec<u64>,
    decided: Vec<u64>,
}

/// Why a commit did not happen.
#[derive(Debug)]
pub enum CommitError {
    /// The update was handled already (by this or another instance).
    Duplicate,
    /// A request decided here was decided elsewhere meanwhile: handle the update again.
    Conflict,
    Database(sqlx::Error),
}

impl From<sqlx::Error> for CommitError {
    fn from(e: sqlx::Error) -> CommitError {
        CommitError::Database(e)
    }
}

impl<'a> BufferedWorld<'a> {
    pub fn new(
        store: &'a SqlStore,
        bot: &str,
        handle: tokio::runtime::Handle,
        builtins: &'a Builtins,
    ) -> BufferedWorld<'a> {
        BufferedWorld {
            store,
            bot: bot.to_string(),
            handle,
            builtins,
            error: None,
            sessions: HashMap::new(),
            dirty_sessions: BTreeMap::new(),
            registrations: HashMap::new(),
            new_registrations: Vec::new(),
            requests: HashMap::new(),
            created: Vec::new(),
            decided: Vec::new(),
        }
    }

    fn read<T: Default>(&mut self, f: impl AsyncFnOnce(&SqlStore, &str) -> Result<T, sqlx::Error>) -> T {
        if self.error.is_some() {
            return T::default();
        }
        match self.handle.block_on(f(self.store, &self.bot)) {
            Ok(v) => v,
            Err(e) => {
                self.error = Some(e);
                T::default()
            }
        }
    }

    /// Whether the update was handled already.
    pub fn already_handled(&mut self, update_id: i64) -> bool {
        let found: Option<i64> = self.read(async |store, bot| {
            sqlx::query_scalar("SELECT update_id FROM handled_updates WHERE bot = $1 AND update_id = $2")
                .bind(bot)
                .bind(update_id)
                .fetch_optional(&store.pool)
                .await
        });
        found.is_some()
    }

    /// Applies every change of the step, the update id (when given) and the messages in one transaction.
    pub fn commit(
        &mut self,
        update_id: Option<i64>,
        user: &User,
        out: &[Outgoing],
        now: DateTime<FixedOffset>,
    ) -> Result<(), CommitError> {
        if let Some(e) = self.error.take() {
            return Err(CommitError::Database(e));
        }
        let handle = self.handle.clone();
        handle.block_on(self.apply(update_id, user, out, now))
    }

    async fn apply(
        &mut self,
        update_id: Option<i64>,
        user: &User,
        out: &[Outgoing],
        now: DateTime<FixedOffset>,
    ) -> Result<(), CommitError> {
        let bot = self.bot.clone();
        let mut tx = self.store.pool.begin().await?;
        if let Some(id) = update_id {
            let fresh = sqlx::query("INSERT INTO handled_updates (bot, update_id, handled_at) VALUES ($1, $2, $3) ON CONFLICT (bot, update_id) DO NOTHING")
                .bind(&bot)
                .bind(id)
                .bind(now_text(now))
                .execute(&mut *tx)
                .await?;
            if fresh.rows_affected() == 0 {
                tx.rollback().await?;
                return Err(CommitError::Duplicate);
            }
        }
        sqlx::query("INSERT INTO chats (bot, chat, name, first_seen) VALUES ($1, $2, $3, $4) ON CONFLICT (bot, chat) DO NOTHING")
            .bind(&bot)
            .bind(user.chat)
            .bind(&user.name)
            .bind(now_text(now))
            .execute(&mut *tx)
            .await?;
        for id in &self.decided {
            let r = &self.requests[id];
            let done = sqlx::query(
                "UPDATE auth_requests SET status = $1, reason = $2 WHERE bot = $3 AND id = $4 AND status = 'pending'",
            )
            .bind(r.status.as_str())
            .bind(&r.reason)
            .bind(&bot)
            .bind(*id as i64)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 && !self.created.contains(id) {
                tx.rollback().await?;
                return Err(CommitError::Conflict);
            }
        }
        for id in &self.created {
            let r = &self.requests[id];
            sqlx::query("UPDATE auth_requests SET status = $1, reason = $2 WHERE bot = $3 AND id = $4")
                .bind(r.status.as_str())
                .bind(&r.reason)
                .bind(&bot)
                .bind(*id as i64)
                .execute(&mut *tx)
                .await?;
        }
        for (key, p, name, at) in &self.new_registrations {
            sql::upsert_registration(&mut tx, &bot, *key, p, name, &now_text(*at)).await?;
        }
        let at = now_text(now);
        for (&key, session) in &self.dirty_sessions {
            sql::upsert_session(&mut tx, &bot, key, session, &at).await?;
        }
        let mut tx = tx;
        sql::enqueue(&mut tx, &bot, out, now).await?;
        tx.commit().await?;
        Ok(())
    }

    fn cache_request(&mut self, r: AuthRequest) -> AuthRequest {
        self.requests.entry(r.id).or_insert(r).clone()
    }
}

use sql::{REQUEST_COLUMNS, request_from_row};

impl World for BufferedWorld<'_> {
    fn session(&mut self, chat: i64, user: i64) -> Option<Session> {
        if let Some(s) = self.sessions.get(&(chat, user)) {
            return s.clone();
        }
        let stored = self.read(async |store, bot| Ok(store.session(bot, chat, user).await.ok().flatten()));
        self.sessions.insert((chat, user), stored.clone());
        stored
    }

    fn save_session(&mut self, chat: i64, user: i64, session: &Session) {
        self.sessions.insert((chat, user), Some(session.clone()));
        self.dirty_sessions.insert((chat, user), session.clone());
    }

    fn registration(&mut self, key: i64) -> Option<Principal> {
        if let Some(p) = self.registrations.get(&key) {
            return p.clone();
        }
        let found: Option<Principal> = self.read(async |store, bot| {
            sqlx::query("SELECT kind, principal_id, principal_name FROM registrations WHERE bot = $1 AND chat = $2")
                .bind(bot)
                .bind(key)
                .fetch_optional(&store.pool)
                .await
                .map(|r| {
                    r.map(|r| Principal {
                        kind: r.get(0),
                        id: r.get(1),
                        name: r.get(2),
                    })
                })
        });
        self.registrations.insert(key, found.clone());
        found
    }

    fn register(&mut self, key: i64, principal: &Principal, name: &str, at: DateTime<FixedOffset>) {
        self.registrations.insert(key, Some(principal.clone()));
        self.new_registrations
            .push((key, principal.clone(), name.to_string(), at));
    }

    fn create_auth_request(&mut self, mut request: AuthRequest) -> u64 {
        // The row is stored now as a draft (so that its id can go on buttons) and made real by the commit;
        // a draft left by a failed step is never shown or decided.
        let created = now_text(request.created_at);
        let r = request.clone();
        let id: i64 = self.read(async |store, bot| {
            sqlx::query_scalar(
                "INSERT INTO auth_requests (bot, chat, user_id, name, username, data, status, reason, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'draft', NULL, $7) RETURNING id",
            )
            .bind(bot)
            .bind(r.key)
            .bind(r.user_id)
            .bind(&r.name)
            .bind(&r.username)
            .bind(&r.data)
            .bind(&created)
            .fetch_one(&store.pool)
            .await
        });
        request.id = id as u64;
        self.created.push(request.id);
        self.requests.insert(request.id, request);
        id as u64
    }

    fn auth_request(&mut self, id: u64) -> Option<AuthRequest> {
        if let Some(r) = self.requests.get(&id) {
            return Some(r.clone());
        }
        let found: Option<AuthRequest> = self.read(async |store, bot| {
            sqlx::query(&format!(
                "SELECT {REQUEST_COLUMNS} FROM auth_requests WHERE bot = $1 AND id = $2 AND status <> 'draft'"
            ))
            .bind(bot)
            .bind(id as i64)
            .fetch_optional(&store.pool)
            .await
            .map(|r| r.as_ref().map(request_from_row))
        });
        found.map(|r| self.cache_request(r))
    }

    fn pending_auth_request(&mut self, key: i64) -> Option<AuthRequest> {
        if let Some(r) = self
            .requests
            .values()
            .filter(|r| r.key == key && r.status == AuthStatus::Pending)
            .max_by_key(|r| r.id)
        {
            return Some(r.clone());
        }
        let found: Option<AuthRequest> = self.read(async |store, bot| {
            sqlx::query(&format!(
                "SELECT {REQUEST_COLUMNS} FROM auth_requests WHERE bot = $1 AND chat = $2 AND status = 'pending' ORDER BY id DESC LIMIT 1"
            ))
            .bind(bot)
            .bind(key)
            .fetch_optional(&store.pool)
            .await
            .map(|r| r.as_ref().map(request_from_row))
        });
        // A request decided in this step is no longer pending, whatever the database says.
        found
            .map(|r| self.cache_request(r))
            .filter(|r| r.status == AuthStatus::Pending)
    }

    fn update_auth_request(&mut self, request: &AuthRequest) {
        self.requests.insert(request.id, request.clone());
        if !self.decided.contains(&request.id) {
            self.decided.push(request.id);
        }
    }

    fn run_algorithm(&mut self, call: &AlgorithmCall) -> Result<Value, AlgorithmFailure> {
        algorithms::run(call, self.builtins, true)
    }
}
