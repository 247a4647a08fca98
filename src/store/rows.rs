//! Rows read back as the engine's types, whichever driver read them. A row
//! that cannot be (an unknown status, a time or a keyboard that does not
//! parse) is an error naming its table and id, logged, never a default.

use super::db::Row;
use super::types::{OutboxMessage, StoreError, stored_time};
use crate::engine::{ActionButton, AuthRequest, AuthStatus, Principal};

/// The registration in columns `first..first + 3` of a row (kind, id, name), when they are
/// not null (a `LEFT JOIN` of `registrations` that found none).
pub fn principal_at(row: &Row, first: usize) -> Result<Option<Principal>, StoreError> {
    Ok(
        match (row.opt_text(first)?, row.opt_text(first + 1)?, row.opt_text(first + 2)?) {
            (Some(kind), Some(id), Some(name)) => Some(Principal { kind, id, name }),
            _ => None,
        },
    )
}

/// An authorization request, from the columns of `statements::REQUEST_COLUMNS`.
pub fn request(r: &Row) -> Result<AuthRequest, StoreError> {
    let id = r.int(0)?;
    let status = r.text(6)?;
    Ok(AuthRequest {
        id: id as u64,
        key: r.int(1)?,
        user_id: r.int(2)?,
        name: r.text(3)?,
        username: r.opt_text(4)?,
        data: r.text(5)?,
        status: match status.as_str() {
            "pending" => AuthStatus::Pending,
            "approved" => AuthStatus::Approved,
            "rejected" => AuthStatus::Rejected,
            other => {
                return Err(StoreError::corrupt(
                    "auth_requests",
                    id,
                    format!("unknown status {other:?}"),
                ));
            }
        },
        reason: r.opt_text(7)?,
        created_at: stored_time("auth_requests", id, &r.text(8)?)?,
    })
}

/// A notification action button, from the columns of `statements::ACTION_BUTTON`.
pub fn action_button(r: &Row) -> Result<ActionButton, StoreError> {
    Ok(ActionButton {
        record: r.text(0)?,
        value: r.text(1)?,
        label: r.text(2)?,
        message_text: r.text(3)?,
        chat: r.int(4)?,
    })
}

/// A message of the claim's selection (`statements::claim_query`), taken at `claimed_at`.
pub fn outbox_message(r: &Row, claimed_at: &str) -> Result<OutboxMessage, StoreError> {
    let id = r.int(0)?;
    let keyboard = r.text(3)?;
    let attachments = r.text(4)?;
    Ok(OutboxMessage {
        id,
        chat: r.int(1)?,
        text: r.text(2)?,
        keyboard: serde_json::from_str(&keyboard)
            .map_err(|e| StoreError::corrupt("outbox", id, format!("keyboard: {e}")))?,
        attachments: serde_json::from_str(&attachments)
            .map_err(|e| StoreError::corrupt("outbox", id, format!("attachments: {e}")))?,
        attempts: r.int(5)?,
        parts_sent: r.int(6)?,
        claimed_at: claimed_at.to_string(),
        broadcast: r.opt_int(7)?.is_some(),
        term: 0,
    })
}
