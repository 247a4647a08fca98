//! Decisions on authorization requests, made alike by an operator in the chat
//! and by the HTTP API: approve (register the requester) or reject (with a
//! reason), each written only while the request is pending.

use crate::engine::{AuthRequest, AuthStatus, Keyboard, Principal, User, World, WorldError};
use crate::expr::Value;
use crate::texts::Text;

/// Registers the requester and marks the request approved (also used by the HTTP API).
pub fn finish_approval(
    world: &mut dyn World,
    req: &mut AuthRequest,
    principal: &Principal,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Result<(), WorldError> {
    world.register(req.key, principal, &req.name, now)?;
    req.status = AuthStatus::Approved;
    world.update_auth_request(req)
}

/// Marks the request rejected with `reason` (also used by the HTTP API).
pub fn finish_rejection(world: &mut dyn World, req: &mut AuthRequest, reason: &str) -> Result<(), WorldError> {
    req.status = AuthStatus::Rejected;
    req.reason = Some(reason.to_string());
    world.update_auth_request(req)
}

/// Why a request cannot be decided.
#[derive(Debug, Clone, PartialEq)]
pub enum DecisionError {
    NotFound,
    AlreadyDecided,
    World(WorldError),
}

impl From<WorldError> for DecisionError {
    fn from(e: WorldError) -> DecisionError {
        DecisionError::World(e)
    }
}

pub(super) fn requester_of(req: &AuthRequest) -> User {
    User {
        id: req.user_id,
        chat: req.key,
        name: req.name.clone(),
        username: req.username.clone(),
    }
}

/// Approves a pending request from outside the chat (the HTTP API), exactly as an operator would:
/// the user is registered and gets `auth_success`.
pub fn approve_request(
    bot: &crate::model::CompiledBot,
    world: &mut dyn World,
    id: u64,
    principal: &Principal,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Result<Vec<crate::engine::Outgoing>, DecisionError> {
    let mut req = world.auth_request(id)?.ok_or(DecisionError::NotFound)?;
    if req.status != AuthStatus::Pending {
        return Err(DecisionError::AlreadyDecided);
    }
    finish_approval(world, &mut req, principal, now)?;
    let data = [("input", Value::text(&req.data))];
    let mut message =
        crate::engine::turn::message_for(bot, world, &requester_of(&req), bot.text(Text::AuthSuccess), &data, now)?;
    if bot.auth.as_ref().is_some_and(|a| a.contact) {
        // `auth_success` removes the contact button.
        message.keyboard = Keyboard::RemoveMenu;
    }
    Ok(vec![message])
}

/// Rejects a pending request from outside the chat: the user gets `auth_rejected` with the reason.
pub fn reject_request(
    bot: &crate::model::CompiledBot,
    world: &mut dyn World,
    id: u64,
    reason: &str,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Result<Vec<crate::engine::Outgoing>, DecisionError> {
    let mut req = world.auth_request(id)?.ok_or(DecisionError::NotFound)?;
    if req.status != AuthStatus::Pending {
        return Err(DecisionError::AlreadyDecided);
    }
    finish_rejection(world, &mut req, reason)?;
    let vars = [("input", Value::text(&req.data)), ("reason", Value::text(reason))];
    Ok(vec![crate::engine::turn::message_for(
        bot,
        world,
        &requester_of(&req),
        bot.text(Text::AuthRejected),
        &vars,
        now,
    )?])
}
