//! The engine's world inside one database transaction (sqlx), for the HTTP
//! API and `botwright send`: a decision, a registration, a notification
//! rendered against stored state, then committed together. Engine calls are
//! synchronous, so each statement is driven to completion on the runtime from
//! a blocking thread.
//!
//! **Invariant:** only statements run inside the transaction. The world keeps
//! state only (algorithms are the engine's `Runner`, which this world does not
//! have), so no HTTP call can happen while the transaction is open.

use super::db::{Db, Query};
use super::driver_sqlx::SqlxDb;
use super::reads;
use super::statements as sql;
use super::types::{Dialect, StoreError, now_text};
use super::writes::{insert_request, upsert_registration, upsert_session};
use crate::engine::{ActionButton, AuthRequest, AuthStatus, Principal, Session, World, WorldError};
use chrono::{DateTime, FixedOffset, Utc};
use sqlx::{Any, Transaction};

pub struct TxWorld {
    tx: Transaction<'static, Any>,
    dialect: Dialect,
    pub bot: String,
    handle: tokio::runtime::Handle,
    /// A statement failed: the transaction is done for (PostgreSQL refuses anything more).
    failed: bool,
}

impl TxWorld {
    pub fn new(tx: Transaction<'static, Any>, dialect: Dialect, bot: &str, handle: tokio::runtime::Handle) -> TxWorld {
        TxWorld {
            tx,
            dialect,
            bot: bot.to_string(),
            handle,
            failed: false,
        }
    }

    /// The open transaction and the runtime to drive it on, for the API's own statements.
    pub fn parts(&mut self) -> (&mut Transaction<'static, Any>, &tokio::runtime::Handle) {
        (&mut self.tx, &self.handle)
    }

    /// Commits what the world did.
    pub fn commit(self) -> Result<(), StoreError> {
        self.handle.block_on(self.tx.commit()).map_err(StoreError::from)
    }

    /// Undoes what the world did.
    pub fn rollback(self) {
        if let Err(e) = self.handle.block_on(self.tx.rollback()) {
            tracing::warn!(error = %e, "a transaction could not be rolled back; the connection drops it");
        }
    }

    fn run<T>(&mut self, f: impl AsyncFnOnce(&mut SqlxDb<'_>, &str) -> Result<T, StoreError>) -> Result<T, WorldError> {
        if self.failed {
            return Err(WorldError::Storage(
                "an earlier statement of this transaction failed".into(),
            ));
        }
        let mut db = SqlxDb {
            conn: &mut self.tx,
            dialect: self.dialect,
        };
        let result = self.handle.block_on(f(&mut db, &self.bot));
        result.map_err(|e| {
            self.failed = true;
            WorldError::Storage(e.to_string())
        })
    }
}

impl World for TxWorld {
    fn session(&mut self, chat: i64, user: i64) -> Result<Option<Session>, WorldError> {
        self.run(async |db, bot| reads::session(db, bot, chat, user).await)
    }

    fn save_session(&mut self, chat: i64, user: i64, session: &Session) -> Result<(), WorldError> {
        let now = now_text(Utc::now().fixed_offset());
        self.run(async |db, bot| upsert_session(db, bot, (chat, user), session, &now).await)
    }

    fn registration(&mut self, key: i64) -> Result<Option<Principal>, WorldError> {
        self.run(async |db, bot| reads::registration(db, bot, key).await)
    }

    fn register(&mut self, key: i64, p: &Principal, name: &str, at: DateTime<FixedOffset>) -> Result<(), WorldError> {
        let at = now_text(at);
        self.run(async |db, bot| upsert_registration(db, bot, key, p, name, &at).await)
    }

    fn create_auth_request(&mut self, r: AuthRequest) -> Result<u64, WorldError> {
        self.run(async |db, bot| insert_request(db, bot, &r, r.status.as_str()).await)
    }

    fn auth_request(&mut self, id: u64) -> Result<Option<AuthRequest>, WorldError> {
        self.run(async |db, bot| reads::request(db, bot, id).await)
    }

    fn pending_auth_request(&mut self, key: i64) -> Result<Option<AuthRequest>, WorldError> {
        self.run(async |db, bot| reads::pending_request(db, bot, key).await)
    }

    fn update_auth_request(&mut self, r: &AuthRequest) -> Result<(), WorldError> {
        // A decision is written only while the request is pending, and the rows are counted:
        // of two decisions at once, exactly one wins.
        let decision = r.status != AuthStatus::Pending;
        let text = if decision {
            sql::DECIDE_REQUEST
        } else {
            sql::CONFIRM_REQUEST
        };
        let rows = self.run(async |db, bot| {
            let q = Query::new(text)
                .bind(r.status.as_str())
                .bind(&r.reason)
                .bind(bot)
                .bind(r.id as i64);
            db.execute(q).await
        })?;
        if decision && rows == 0 {
            return Err(WorldError::Conflict(format!(
                "authorization request {} is already decided",
                r.id
            )));
        }
        Ok(())
    }

    fn action_button(&mut self, id: u64, chat: i64) -> Result<Option<ActionButton>, WorldError> {
        self.run(async |db, bot| reads::action_button(db, bot, id, chat).await)
    }
}
