//! Sessions and registrations kept in memory, for a database that this
//! process alone writes (SQLite): a step then reads nothing from the database.
//!
//! **Invariant:** the cache never holds a value older than the database. A
//! value read from the database is filled in only if nothing was written to
//! that bot since the read began (a generation per bot); every commit writes
//! its values through; the HTTP API drops a bot's entries after it writes.

use crate::engine::{Principal, Session};
use std::collections::HashMap;
use std::sync::Mutex;

/// Entries per bot before the bot's cache is emptied and filled again.
const MAX_ENTRIES: usize = 200_000;

#[derive(Default)]
struct BotCache {
    generation: u64,
    sessions: HashMap<(i64, i64), Option<Session>>,
    registrations: HashMap<i64, Option<Principal>>,
}

impl BotCache {
    fn bound(&mut self) {
        if self.sessions.len() + self.registrations.len() > MAX_ENTRIES {
            self.sessions.clear();
            self.registrations.clear();
        }
    }
}

#[derive(Default)]
pub struct StateCache {
    bots: Mutex<HashMap<String, BotCache>>,
}

impl StateCache {
    fn with<T>(&self, bot: &str, f: impl FnOnce(&mut BotCache) -> T) -> T {
        let mut bots = self.bots.lock().unwrap_or_else(|e| e.into_inner());
        if !bots.contains_key(bot) {
            bots.insert(bot.to_string(), BotCache::default());
        }
        f(bots.get_mut(bot).expect("inserted above"))
    }

    /// The cached session, or the generation to fill it in with after a database read.
    pub fn session(&self, bot: &str, chat: i64, user: i64) -> Result<Option<Session>, u64> {
        self.with(bot, |c| c.sessions.get(&(chat, user)).cloned().ok_or(c.generation))
    }

    pub fn registration(&self, bot: &str, key: i64) -> Result<Option<Principal>, u64> {
        self.with(bot, |c| c.registrations.get(&key).cloned().ok_or(c.generation))
    }

    pub fn fill_session(&self, bot: &str, chat: i64, user: i64, value: Option<Session>, generation: u64) {
        self.with(bot, |c| {
            if c.generation == generation {
                c.bound();
                c.sessions.insert((chat, user), value);
            }
        })
    }

    pub fn fill_registration(&self, bot: &str, key: i64, value: Option<Principal>, generation: u64) {
        self.with(bot, |c| {
            if c.generation == generation {
                c.bound();
                c.registrations.insert(key, value);
            }
        })
    }

    /// Writes committed values through.
    pub fn committed<'a>(
        &self,
        bot: &str,
        sessions: impl Iterator<Item = ((i64, i64), &'a Session)>,
        registrations: impl Iterator<Item = (i64, &'a Principal)>,
    ) {
        self.with(bot, |c| {
            c.generation += 1;
            c.bound();
            for (key, s) in sessions {
                c.sessions.insert(key, Some(s.clone()));
            }
            for (key, p) in registrations {
                c.registrations.insert(key, Some(p.clone()));
            }
        })
    }

    /// Forgets everything of a bot (after a write the cache did not see).
    pub fn invalidate(&self, bot: &str) {
        self.with(bot, |c| {
            c.generation += 1;
            c.sessions.clear();
            c.registrations.clear();
        })
    }
}
