//! Composing and storing notifications: the checks of a message's content,
//! its text and buttons per recipient, and its rows in the outbox. The
//! messages and broadcasts endpoints and `botwright send` all go through
//! here, inside one database transaction.

use super::ApiError;
use super::types::{ButtonIn, Content};
use crate::engine::{File, Keyboard, User};
use crate::expr::Value;
use crate::model::CompiledBot;
use crate::notification;
use crate::store::queries;
use crate::store::queries::NewMessage;
use crate::store::tx_world::TxWorld;
use chrono::{DateTime, FixedOffset};

pub use crate::notification::{Button, MAX_ACTION_VALUE, parse_data};

/// What the message says: a text, or a template of the bot with its data.
#[derive(Debug, Clone)]
pub enum Body {
    Text(String),
    Template { name: String, data: Value },
}

/// A message's content, checked against the bot before anything is stored.
#[derive(Debug, Clone)]
pub struct Checked {
    pub body: Body,
    /// Buttons of the request (they replace a template's), if it gave any.
    pub buttons: Option<Vec<Vec<Button>>>,
    pub files: Vec<File>,
    pub due: DateTime<FixedOffset>,
    pub idempotency_key: Option<String>,
}

/// Checks a request's content: 400 for a malformed field, 422 for something the bot lacks.
pub fn check(content: Content, bot: &CompiledBot, now: DateTime<FixedOffset>) -> Result<Checked, ApiError> {
    // Bounded before anything is built from it: a request costs a few times its body at most.
    let data = match &content.data {
        Some(raw) => Some(parse_data(raw.get()).map_err(|why| ApiError::bad_request(Some("data"), why))?),
        None => None,
    };
    let body = match (content.text, content.template) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                Some("text"),
                "give either `text` or `template`, not both",
            ));
        }
        (Some(text), None) => {
            notification::check_text(&text).map_err(|why| ApiError::bad_request(Some("text"), why))?;
            Body::Text(text)
        }
        (None, Some(name)) => {
            if !bot.notifications.contains_key(&name) {
                return Err(ApiError::unprocessable(
                    Some("template"),
                    format!("the bot has no notification template `{name}`"),
                ));
            }
            let data = match &data {
                Some(json) => Value::from_json(json).map_err(|e| ApiError::bad_request(Some("data"), e))?,
                None => Value::Null,
            };
            Body::Template { name, data }
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                Some("text"),
                "give `text`, or `template` with `data`",
            ));
        }
    };
    let buttons = match content.buttons {
        None => None,
        Some(rows) => {
            let mut out = Vec::with_capacity(rows.len());
            for (i, row) in rows.into_iter().enumerate() {
                if row.len() > 8 {
                    return Err(ApiError::bad_request(
                        Some(&format!("buttons[{i}]")),
                        "Telegram shows at most 8 buttons in a row",
                    ));
                }
                let mut out_row = Vec::with_capacity(row.len());
                for (j, b) in row.into_iter().enumerate() {
                    out_row.push(check_button(b, bot, &format!("buttons[{i}][{j}]"))?);
                }
                out.push(out_row);
            }
            Some(out)
        }
    };
    let mut files = Vec::new();
    for (i, f) in content.attachments.unwrap_or_default().into_iter().enumerate() {
        let json =
            serde_json::json!({"name": f.name, "content_base64": f.content_base64, "url": f.url, "file_id": f.file_id});
        let file = File::parse(&json).map_err(|(field, why)| {
            let at = match field {
                Some(k) => format!("attachments[{i}].{k}"),
                None => format!("attachments[{i}]"),
            };
            ApiError::bad_request(Some(&at), why)
        })?;
        files.push(file);
    }
    let due = match content.send_at {
        None => now,
        Some(t) => DateTime::parse_from_rfc3339(&t)
            .map_err(|e| ApiError::bad_request(Some("send_at"), format!("is not an RFC 3339 time: {e}")))?,
    };
    let idempotency_key = match content.idempotency_key {
        None => None,
        Some(k) if !k.is_empty() && k.chars().count() <= 200 => Some(k),
        Some(_) => {
            return Err(ApiError::bad_request(
                Some("idempotency_key"),
                "must be a non-empty string of at most 200 characters",
            ));
        }
    };
    Ok(Checked {
        body,
        buttons,
        files,
        due,
        idempotency_key,
    })
}

fn check_button(b: ButtonIn, bot: &CompiledBot, field: &str) -> Result<Button, ApiError> {
    let text = &b.text;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(
            Some(&format!("{field}.text")),
            "must not be empty",
        ));
    }
    if text.len() > crate::limits::MAX_LABEL {
        return Err(ApiError::bad_request(
            Some(&format!("{field}.text")),
            "is longer than Telegram's 64 bytes",
        ));
    }
    match b {
        ButtonIn {
            text,
            url: Some(url),
            action: None,
            value: None,
        } => match url::Url::parse(&url) {
            Ok(u) if matches!(u.scheme(), "http" | "https" | "tg") => Ok(Button::Link { text, url }),
            _ => Err(ApiError::bad_request(Some(&format!("{field}.url")), "is not a URL")),
        },
        ButtonIn {
            text,
            url: None,
            action: Some(action),
            value: Some(value),
        } => {
            let a = ActionIn { text, action, value };
            if a.value.chars().count() > MAX_ACTION_VALUE {
                return Err(ApiError::bad_request(
                    Some(&format!("{field}.value")),
                    format!("is longer than {MAX_ACTION_VALUE} characters"),
                ));
            }
            match bot.record_by_id(&a.action).map(|r| &bot.records[r]) {
                Some(r) if r.action_target => Ok(Button::Action {
                    text: a.text,
                    record: a.action,
                    value: a.value,
                }),
                Some(_) => Err(ApiError::unprocessable(
                    Some(&format!("{field}.action")),
                    format!("record `{}` is not marked `action = true`", a.action),
                )),
                None => Err(ApiError::unprocessable(
                    Some(&format!("{field}.action")),
                    format!("the bot has no record `{}`", a.action),
                )),
            }
        }
        _ => Err(ApiError::bad_request(
            Some(field),
            "a button needs `text` and `url` (a link), or `text`, `action` and `value` (an action)",
        )),
    }
}

struct ActionIn {
    text: String,
    action: String,
    value: String,
}

/// A chat as a template's `user`: its name from when it talked to the bot.
fn user_of(world: &mut TxWorld, chat: i64) -> Result<Option<User>, ApiError> {
    let bot = world.bot.clone();
    let (tx, handle) = world.parts();
    let name = handle
        .block_on(queries::chat_name(tx, &bot, chat))
        .map_err(ApiError::internal)?;
    Ok(name.map(|name| User {
        id: chat,
        chat,
        name,
        username: None,
    }))
}

/// Whether a chat has talked to the bot.
pub fn known_chat(world: &mut TxWorld, chat: i64) -> Result<bool, ApiError> {
    Ok(user_of(world, chat)?.is_some())
}

/// What one request stored.
#[derive(Debug, Clone)]
pub struct Stored {
    pub ids: Vec<i64>,
    pub status: String,
}

/// Stores the message for each chat (text, buttons and files per recipient). With an
/// idempotency key already used, stores nothing and gives the first request's messages.
pub fn store(
    world: &mut TxWorld,
    bot: &CompiledBot,
    chats: &[i64],
    message: &Checked,
    broadcast: Option<i64>,
    now: DateTime<FixedOffset>,
) -> Result<Stored, ApiError> {
    // Idempotency keys of broadcasts are their own; a broadcast's messages carry none.
    let key = if broadcast.is_some() {
        None
    } else {
        message.idempotency_key.as_deref()
    };
    if let Some(key) = key
        && let Some(found) = existing(world, key, now)?
    {
        return Ok(found);
    }
    let mut ids = Vec::with_capacity(chats.len());
    let mut status = String::new();
    for &chat in chats {
        let user = user_of(world, chat)?.unwrap_or(User {
            id: chat,
            chat,
            name: String::new(),
            username: None,
        });
        let (text, keyboard, files) = render(world, bot, &user, message, now)?;
        let bot_id = world.bot.clone();
        let (tx, handle) = world.parts();
        let row = NewMessage {
            bot: &bot_id,
            chat,
            text: &text,
            keyboard: &keyboard,
            attachments: &files,
            due: message.due,
            now,
            idempotency_key: if ids.is_empty() { key } else { None },
            first_id: ids.first().copied(),
            broadcast,
        };
        match handle
            .block_on(queries::insert_message(tx, &row))
            .map_err(ApiError::internal)?
        {
            Some((id, s)) => {
                if ids.is_empty() {
                    status = s;
                }
                ids.push(id);
            }
            // The same key, committed by a request running at the same moment.
            None => {
                return match existing(world, key.unwrap_or_default(), now)? {
                    Some(found) => Ok(found),
                    None => Err(ApiError::internal(
                        "an idempotency key conflicted with no stored message",
                    )),
                };
            }
        }
    }
    Ok(Stored { ids, status })
}

/// The messages an earlier request with this idempotency key stored, if any.
pub fn existing(world: &mut TxWorld, key: &str, now: DateTime<FixedOffset>) -> Result<Option<Stored>, ApiError> {
    let bot = world.bot.clone();
    let (tx, handle) = world.parts();
    let found = handle
        .block_on(queries::message_by_key(tx, &bot, key, now))
        .map_err(ApiError::internal)?;
    Ok(found.map(|(ids, status)| Stored { ids, status }))
}

/// The text, keyboard and files of the message for one recipient.
fn render(
    world: &mut TxWorld,
    bot: &CompiledBot,
    user: &User,
    message: &Checked,
    now: DateTime<FixedOffset>,
) -> Result<(String, Keyboard, Vec<File>), ApiError> {
    let (body_text, template_buttons, files): (String, _, _) = match &message.body {
        Body::Text(t) => (t.clone(), None, message.files.clone()),
        Body::Template { name, data } => {
            let n = notification::render_template(bot, world, user, name, data, now).map_err(ApiError::from)?;
            let files = if n.attachments {
                message.files.clone()
            } else {
                Vec::new()
            };
            (n.text, Some(n.buttons), files)
        }
    };
    notification::check_rendered(&body_text).map_err(|why| ApiError::bad_request(Some("text"), why))?;
    let rows = message
        .buttons
        .as_deref()
        .or(template_buttons.as_deref())
        .unwrap_or_default();
    let keyboard = notification::keyboard(rows, &body_text, user.chat, |kept| {
        let bot_id = world.bot.clone();
        let (tx, handle) = world.parts();
        let id = handle
            .block_on(queries::insert_action_button(tx, &bot_id, &kept, now))
            .map_err(ApiError::internal)?;
        Ok::<u64, ApiError>(id as u64)
    })?;
    Ok((body_text, keyboard, files))
}

/// Resolves one recipient to its chats: 422 when it resolves to none.
pub fn chats_of(world: &mut TxWorld, bot: &CompiledBot, to: &super::types::Recipient) -> Result<Vec<i64>, ApiError> {
    use super::types::Recipient;
    match to {
        Recipient::Key(k) => {
            if known_chat(world, *k)? {
                Ok(vec![*k])
            } else {
                Err(ApiError::unprocessable(
                    Some("to.key"),
                    format!("chat {k} has never talked to the bot"),
                ))
            }
        }
        Recipient::Principal(p) => {
            let chats = principal_chats(world, bot, &p.kind, &p.id)?;
            if chats.is_empty() {
                Err(ApiError::unprocessable(
                    Some("to.principal"),
                    format!("no user is registered as {} {}", p.kind, p.id),
                ))
            } else {
                Ok(chats)
            }
        }
    }
}

/// The chats registered as a principal; on a closed bot only private chats (bot-format.md,
/// "Chats and users").
pub fn principal_chats(world: &mut TxWorld, bot: &CompiledBot, kind: &str, id: &str) -> Result<Vec<i64>, ApiError> {
    let private_only = bot.auth.as_ref().is_some_and(|a| a.required);
    let bot_id = world.bot.clone();
    let (tx, handle) = world.parts();
    handle
        .block_on(queries::registered_chats(
            tx,
            &bot_id,
            queries::Registered::Principal { kind, id },
            private_only,
        ))
        .map_err(ApiError::internal)
}
