use crate::engine::{ActionButton, AuthRequest, AuthStatus, Principal, Session, World, WorldError};
use std::collections::HashMap;

/// Everything in memory: sessions, registrations, requests and action buttons
/// (transcripts, `chat`, the studio, tests and benchmarks). Algorithms are not
/// the world's: they are the engine's `algorithms::Runner`.
#[derive(Default)]
pub struct MemoryWorld {
    pub sessions: HashMap<(i64, i64), Session>,
    pub registrations: HashMap<i64, (Principal, String)>,
    pub requests: Vec<AuthRequest>,
    /// Notification action buttons by id (kept by [`MemoryWorld::keep_action_button`]).
    pub action_buttons: HashMap<u64, ActionButton>,
}

impl MemoryWorld {
    /// Registers a chat as a principal (`@registered`, `--registered`); this world cannot fail.
    pub fn register_as(&mut self, key: i64, principal: &Principal, name: &str) {
        self.registrations.insert(key, (principal.clone(), name.to_string()));
    }

    /// Keeps a notification's action button and gives its id (1, 2, …), as the runtime's
    /// `action_buttons` table does.
    pub fn keep_action_button(&mut self, button: ActionButton) -> u64 {
        let id = self.action_buttons.keys().max().copied().unwrap_or(0) + 1;
        self.action_buttons.insert(id, button);
        id
    }
}

impl World for MemoryWorld {
    fn action_button(&mut self, id: u64, chat: i64) -> Result<Option<ActionButton>, WorldError> {
        Ok(self.action_buttons.get(&id).filter(|b| b.chat == chat).cloned())
    }

    fn session(&mut self, chat: i64, user: i64) -> Result<Option<Session>, WorldError> {
        Ok(self.sessions.get(&(chat, user)).cloned())
    }

    fn save_session(&mut self, chat: i64, user: i64, session: &Session) -> Result<(), WorldError> {
        self.sessions.insert((chat, user), session.clone());
        Ok(())
    }

    fn registration(&mut self, key: i64) -> Result<Option<Principal>, WorldError> {
        Ok(self.registrations.get(&key).map(|(p, _)| p.clone()))
    }

    fn register(
        &mut self,
        key: i64,
        principal: &Principal,
        name: &str,
        _at: chrono::DateTime<chrono::FixedOffset>,
    ) -> Result<(), WorldError> {
        self.register_as(key, principal, name);
        Ok(())
    }

    fn create_auth_request(&mut self, mut request: AuthRequest) -> Result<u64, WorldError> {
        request.id = self.requests.len() as u64 + 1;
        self.requests.push(request);
        Ok(self.requests.len() as u64)
    }

    fn auth_request(&mut self, id: u64) -> Result<Option<AuthRequest>, WorldError> {
        Ok(self.requests.iter().find(|r| r.id == id).cloned())
    }

    fn pending_auth_request(&mut self, key: i64) -> Result<Option<AuthRequest>, WorldError> {
        Ok(self
            .requests
            .iter()
            .rev()
            .find(|r| r.key == key && r.status == AuthStatus::Pending)
            .cloned())
    }

    fn update_auth_request(&mut self, request: &AuthRequest) -> Result<(), WorldError> {
        if let Some(r) = self.requests.iter_mut().find(|r| r.id == request.id) {
            *r = request.clone();
        }
        Ok(())
    }
}
