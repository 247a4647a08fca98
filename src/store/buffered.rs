//! The engine's world for one update, with no transaction open while the
//! engine runs: reads go to the database (or, on SQLite, to the state cache)
//! as needed, writes are kept here as [`Changes`] and committed later by the
//! group commit ([`super::commit`]) together with the update id and the
//! outgoing messages.
//!
//! Why: algorithms (an `http` webhook to a business system) run inside the
//! engine step, and a business system may call the HTTP API while it
//! answers. A transaction held across that call would block the API (and,
//! on SQLite, every other update) until the webhook timed out.
//!
//! **Invariant:** a read that fails is an error returned to the engine, which
//! aborts the step; it never stands for "nothing stored".

use super::cache::StateCache;
use super::sql::SqlStore;
pub use super::types::Changes;
use super::types::{Committed, Job, LogRow, StoreError, Work, decode_session};
use crate::engine::{AuthRequest, AuthStatus, Outgoing, Principal, Session, User, World, WorldError};
use chrono::{DateTime, FixedOffset};
use std::collections::HashMap;

pub struct BufferedWorld<'a> {
    pub store: &'a SqlStore,
    pub bot: String,
    pub handle: tokio::runtime::Handle,
    cache: Option<&'a StateCache>,
    sessions: HashMap<(i64, i64), Option<Session>>,
    registrations: HashMap<i64, Option<Principal>>,
    changes: Changes,
}

/// Why a commit did not happen.
#[derive(Debug)]
pub enum CommitError {
    /// The update was handled already (by this or another instance).
    Duplicate,
    /// A request decided here was decided elsewhere meanwhile: handle the update again.
    Conflict,
    Database(StoreError),
}

impl<'a> BufferedWorld<'a> {
    pub fn new(store: &'a SqlStore, bot: &str, handle: tokio::runtime::Handle) -> BufferedWorld<'a> {
        BufferedWorld {
            store,
            bot: bot.to_string(),
            handle,
            cache: None,
            sessions: HashMap::new(),
            registrations: HashMap::new(),
            changes: Changes::default(),
        }
    }

    /// Reads sessions and registrations through `cache` (only for a database this process alone writes).
    pub fn with_cache(mut self, cache: Option<&'a StateCache>) -> BufferedWorld<'a> {
        self.cache = cache;
        self
    }

    fn read<T>(&self, f: impl AsyncFnOnce(&SqlStore, &str) -> Result<T, StoreError>) -> Result<T, WorldError> {
        self.handle
            .block_on(f(self.store, &self.bot))
            .map_err(|e| WorldError::Storage(e.to_string()))
    }

    /// Reads a user's session and their chat's registration in one round trip, as a step
    /// reads both (on SQLite the state cache answers them instead; nothing to do).
    pub fn prefetch(&mut self, chat: i64, user: i64) -> Result<(), WorldError> {
        if self.cache.is_some() || self.sessions.contains_key(&(chat, user)) {
            return Ok(());
        }
        let (session, registration) =
            self.read(async |store, bot| store.session_and_registration(bot, chat, user).await)?;
        self.sessions.insert((chat, user), session);
        self.registrations.insert(chat, registration);
        Ok(())
    }

    /// Takes a user's session (as stored) and their chat's registration read elsewhere (with
    /// the chat's claim), instead of reading them.
    pub fn seed(&mut self, chat: i64, user: i64, session: Option<&str>, registration: Option<Principal>) {
        let session = session.and_then(|d| decode_session(&self.bot, chat, d));
        self.sessions.insert((chat, user), session);
        self.registrations.insert(chat, registration);
    }

    /// Whether the update was handled already.
    pub fn already_handled(&self, update_id: i64) -> Result<bool, WorldError> {
        let status = self.read(async |store, bot| store.update_status(bot, update_id).await)?;
        Ok(status.is_some_and(|s| s != "new"))
    }

    /// The step's changes, for the group commit.
    pub fn into_changes(self) -> Changes {
        self.changes
    }

    /// Commits the step's changes, the update id (when given) and the messages in one
    /// transaction of their own (the runtime batches many steps into one instead).
    pub fn commit(
        self,
        update_id: Option<i64>,
        user: &User,
        out: &[Outgoing],
        now: DateTime<FixedOffset>,
    ) -> Result<(), CommitError> {
        self.commit_logged(update_id, user, out, Vec::new(), now)
    }

    /// [`commit`](Self::commit), with the update's rows of the insights log.
    pub fn commit_logged(
        self,
        update_id: Option<i64>,
        user: &User,
        out: &[Outgoing],
        insights: Vec<LogRow>,
        now: DateTime<FixedOffset>,
    ) -> Result<(), CommitError> {
        let job = Work::Job(Box::new(Job {
            release: None,
            bot: self.bot.clone(),
            update_id,
            chat: user.chat,
            chat_name: user.name.clone(),
            record_chat: true,
            changes: self.changes,
            out: out.to_vec(),
            owner: None,
            now,
            insights,
        }));
        let results = self
            .handle
            .block_on(self.store.commit(std::slice::from_ref(&job)))
            .map_err(CommitError::Database)?;
        match results.into_iter().next() {
            Some(Committed::Messages { .. }) => Ok(()),
            Some(Committed::Duplicate) => Err(CommitError::Duplicate),
            Some(Committed::Conflict | Committed::Received(_) | Committed::Claimed(_) | Committed::Released { .. })
            | None => Err(CommitError::Conflict),
        }
    }

    fn cache_request(&mut self, r: AuthRequest) -> AuthRequest {
        self.changes.requests.entry(r.id).or_insert(r).clone()
    }
}

impl World for BufferedWorld<'_> {
    fn session(&mut self, chat: i64, user: i64) -> Result<Option<Session>, WorldError> {
        if let Some(s) = self.sessions.get(&(chat, user)) {
            return Ok(s.clone());
        }
        let generation = match self.cache {
            Some(cache) => match cache.session(&self.bot, chat, user) {
                Ok(found) => {
                    self.sessions.insert((chat, user), found.clone());
                    return Ok(found);
                }
                Err(generation) => Some(generation),
            },
            None => None,
        };
        let stored = self.read(async |store, bot| store.session(bot, chat, user).await)?;
        if let (Some(cache), Some(generation)) = (self.cache, generation) {
            cache.fill_session(&self.bot, chat, user, stored.clone(), generation);
        }
        self.sessions.insert((chat, user), stored.clone());
        Ok(stored)
    }

    fn save_session(&mut self, chat: i64, user: i64, session: &Session) -> Result<(), WorldError> {
        // A session the step left as it was read needs no write.
        if self
            .sessions
            .get(&(chat, user))
            .is_some_and(|s| s.as_ref() == Some(session))
            && !self.changes.sessions.contains_key(&(chat, user))
        {
            return Ok(());
        }
        self.sessions.insert((chat, user), Some(session.clone()));
        self.changes.sessions.insert((chat, user), session.clone());
        Ok(())
    }

    fn registration(&mut self, key: i64) -> Result<Option<Principal>, WorldError> {
        if let Some(p) = self.registrations.get(&key) {
            return Ok(p.clone());
        }
        let generation = match self.cache {
            Some(cache) => match cache.registration(&self.bot, key) {
                Ok(found) => {
                    self.registrations.insert(key, found.clone());
                    return Ok(found);
                }
                Err(generation) => Some(generation),
            },
            None => None,
        };
        let found = self.read(async |store, bot| store.registration(bot, key).await)?;
        if let (Some(cache), Some(generation)) = (self.cache, generation) {
            cache.fill_registration(&self.bot, key, found.clone(), generation);
        }
        self.registrations.insert(key, found.clone());
        Ok(found)
    }

    fn register(
        &mut self,
        key: i64,
        principal: &Principal,
        name: &str,
        at: DateTime<FixedOffset>,
    ) -> Result<(), WorldError> {
        self.registrations.insert(key, Some(principal.clone()));
        self.changes
            .registrations
            .push((key, principal.clone(), name.to_string(), at));
        Ok(())
    }

    fn create_auth_request(&mut self, mut request: AuthRequest) -> Result<u64, WorldError> {
        // The row is stored now as a draft (so that its id can go on buttons) and made real by the commit;
        // a draft left by a failed step is never shown or decided.
        let r = &request;
        let id = self.read(async |store, bot| store.insert_draft_request(bot, r).await)?;
        request.id = id;
        self.changes.created.push(request.id);
        self.changes.requests.insert(request.id, request);
        Ok(id)
    }

    fn auth_request(&mut self, id: u64) -> Result<Option<AuthRequest>, WorldError> {
        if let Some(r) = self.changes.requests.get(&id) {
            return Ok(Some(r.clone()));
        }
        let found = self.read(async |store, bot| store.auth_request(bot, id).await)?;
        Ok(found.map(|r| self.cache_request(r)))
    }

    fn pending_auth_request(&mut self, key: i64) -> Result<Option<AuthRequest>, WorldError> {
        if let Some(r) = self
            .changes
            .requests
            .values()
            .filter(|r| r.key == key && r.status == AuthStatus::Pending)
            .max_by_key(|r| r.id)
        {
            return Ok(Some(r.clone()));
        }
        let found = self.read(async |store, bot| store.pending_auth_request(bot, key).await)?;
        // A request decided in this step is no longer pending, whatever the database says.
        Ok(found
            .map(|r| self.cache_request(r))
            .filter(|r| r.status == AuthStatus::Pending))
    }

    fn update_auth_request(&mut self, request: &AuthRequest) -> Result<(), WorldError> {
        self.changes.requests.insert(request.id, request.clone());
        if !self.changes.decided.contains(&request.id) {
            self.changes.decided.push(request.id);
        }
        Ok(())
    }

    fn action_button(&mut self, id: u64, chat: i64) -> Result<Option<crate::engine::ActionButton>, WorldError> {
        self.read(async |store, bot| store.action_button(bot, id, chat).await)
    }
}
