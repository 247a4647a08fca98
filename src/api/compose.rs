//! Composing and storing notifications: the checks of a message's content,
//! its text and buttons per recipient, and its rows in the outbox. The
//! messages and broadcasts endpoints and `botwright send` all go through
//! here, inside one database transaction.

use super::ApiError;
use super::types::{ButtonIn, Content};
use crate::engine::{self, ActionButton, Callback, File, Keyboard, LinkButton, User};
use crate::expr::Value;
use crate::limits::{MAX_DATA_BYTES, MAX_DATA_DEPTH, MAX_DATA_VALUES};
use crate::model::{CompiledBot, NotificationButton};
use crate::store::queries;
use crate::store::sql::{self, NewMessage, TxWorld};
use chrono::{DateTime, FixedOffset};

/// The most characters of an action button's value.
pub const MAX_ACTION_VALUE: usize = 1000;

/// What the message says: a text, or a template of the bot with its data.
#[derive(Debug, Clone)]
pub enum Body {
    Text(String),
    Template { name: String, data: Value },
}

/// Parses a request's `data` within [`MAX_DATA_BYTES`], [`MAX_DATA_VALUES`] and
/// [`MAX_DATA_DEPTH`]: the size is checked before parsing and the count while parsing, so
/// that an over-limit `data` is refused before it is built.
pub fn parse_data(text: &str) -> Result<serde_json::Value, String> {
    use serde::de::DeserializeSeed;
    if text.len() > MAX_DATA_BYTES {
        return Err(format!("is larger than {MAX_DATA_BYTES} bytes"));
    }
    let left = std::cell::Cell::new(MAX_DATA_VALUES);
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Bounded { left: &left, depth: 0 }
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// A JSON value within the limits of `data`: `left` values may still be read, at `depth`.
struct Bounded<'a> {
    left: &'a std::cell::Cell<usize>,
    depth: usize,
}

impl<'de> serde::de::DeserializeSeed<'de> for Bounded<'_> {
    type Value = serde_json::Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<serde_json::Value, D::Error> {
        match self.left.get() {
            0 => Err(serde::de::Error::custom(format_args!(
                "has more than {MAX_DATA_VALUES} values"
            ))),
            n => {
                self.left.set(n - 1);
                d.deserialize_any(self)
            }
        }
    }
}

impl<'de> serde::de::Visitor<'de> for Bounded<'_> {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<serde_json::Value, E> {
        Ok(b.into())
    }

    fn visit_i64<E>(self, n: i64) -> Result<serde_json::Value, E> {
        Ok(n.into())
    }

    fn visit_u64<E>(self, n: u64) -> Result<serde_json::Value, E> {
        Ok(n.into())
    }

    fn visit_f64<E>(self, n: f64) -> Result<serde_json::Value, E> {
        Ok(serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<serde_json::Value, E> {
        Ok(s.into())
    }

    fn visit_string<E>(self, s: String) -> Result<serde_json::Value, E> {
        Ok(s.into())
    }

    fn visit_unit<E>(self) -> Result<serde_json::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<serde_json::Value, A::Error> {
        let depth = self.deeper()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Bounded { left: self.left, depth })? {
            items.push(item);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<serde_json::Value, A::Error> {
        let depth = self.deeper()?;
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Bounded { left: self.left, depth })?;
            object.insert(key, value);
        }
        Ok(serde_json::Value::Object(object))
    }
}

impl Bounded<'_> {
    /// The depth of a list's or object's items; an error past [`MAX_DATA_DEPTH`].
    fn deeper<E: serde::de::Error>(&self) -> Result<usize, E> {
        if self.depth >= MAX_DATA_DEPTH {
            return Err(E::custom(format_args!("is nested deeper than {MAX_DATA_DEPTH} levels")));
        }
        Ok(self.depth + 1)
    }
}

/// A button from a request, checked.
#[derive(Debug, Clone)]
pub enum Button {
    Link {
        text: String,
        url: String,
    },
    Action {
        text: String,
        record: String,
        value: String,
    },
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
            if text.trim().is_empty() {
                return Err(ApiError::bad_request(Some("text"), "must not be empty"));
            }
            if text.chars().count() > crate::limits::MAX_MESSAGE {
                return Err(ApiError::bad_request(
                    Some("text"),
                    format!("is longer than Telegram's {} characters", crate::limits::MAX_MESSAGE),
                ));
            }
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
    let tx = world.tx.as_mut().expect("transaction");
    let name = world
        .handle
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
        let tx = world.tx.as_mut().expect("transaction");
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
        match world
            .handle
            .block_on(sql::insert_message(tx, &row))
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
    let tx = world.tx.as_mut().expect("transaction");
    let found = world
        .handle
        .block_on(sql::message_by_key(tx, &bot, key, now))
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
    let (body_text, template_buttons, files) = match &message.body {
        Body::Text(t) => (t.clone(), None, message.files.clone()),
        Body::Template { name, data } => {
            let n = &bot.notifications[name];
            let vars = [("data", data.clone())];
            let text = engine::message_for(bot, world, user, &n.text, &vars, now)
                .map_err(ApiError::internal)?
                .text;
            let mut rows = Vec::new();
            for row in &n.buttons {
                let mut out = Vec::new();
                for b in row {
                    out.push(match b {
                        NotificationButton::Link { text, url } => Button::Link {
                            text: render_label(bot, world, user, text, &vars, now)?,
                            url: url.clone(),
                        },
                        NotificationButton::Action { text, action, value } => Button::Action {
                            text: render_label(bot, world, user, text, &vars, now)?,
                            record: action.clone(),
                            value: engine::message_for(bot, world, user, value, &vars, now)
                                .map_err(ApiError::internal)?
                                .text
                                .chars()
                                .take(MAX_ACTION_VALUE)
                                .collect(),
                        },
                    });
                }
                rows.push(out);
            }
            let files = if n.attachments {
                message.files.clone()
            } else {
                Vec::new()
            };
            (text, Some(rows), files)
        }
    };
    if body_text.chars().count() > crate::limits::MAX_MESSAGE {
        return Err(ApiError::bad_request(
            Some("text"),
            format!(
                "the rendered text is longer than Telegram's {} characters",
                crate::limits::MAX_MESSAGE
            ),
        ));
    }
    let rows = message.buttons.as_ref().or(template_buttons.as_ref());
    let keyboard = match rows {
        None => Keyboard::None,
        Some(rows) if rows.iter().all(Vec::is_empty) => Keyboard::None,
        Some(rows) => {
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let mut out_row = Vec::with_capacity(row.len());
                for b in row {
                    out_row.push(match b {
                        Button::Link { text, url } => LinkButton {
                            text: text.clone(),
                            url: url.clone(),
                            data: None,
                        },
                        Button::Action { text, record, value } => {
                            let kept = ActionButton {
                                record: record.clone(),
                                value: value.clone(),
                                label: text.clone(),
                                message_text: text_of(&body_text),
                                chat: user.chat,
                            };
                            let bot_id = world.bot.clone();
                            let tx = world.tx.as_mut().expect("transaction");
                            let id = world
                                .handle
                                .block_on(sql::insert_action_button(tx, &bot_id, &kept, now))
                                .map_err(ApiError::internal)?;
                            LinkButton {
                                text: text.clone(),
                                url: String::new(),
                                data: Some(Callback::Action { id: id as u64 }.encode()),
                            }
                        }
                    });
                }
                out.push(out_row);
            }
            Keyboard::Links(out)
        }
    };
    Ok((body_text, keyboard, files))
}

/// The message's text as a user reads it (HTML tags dropped), for `history`'s `title`.
fn text_of(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// A button label template, rendered and cut to Telegram's 64 bytes.
fn render_label(
    bot: &CompiledBot,
    world: &mut TxWorld,
    user: &User,
    template: &crate::expr::Template,
    vars: &[(&str, Value)],
    now: DateTime<FixedOffset>,
) -> Result<String, ApiError> {
    let text = engine::message_for(bot, world, user, template, vars, now)
        .map_err(ApiError::internal)?
        .text;
    Ok(crate::engine::shorten_label(&text))
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
    let tx = world.tx.as_mut().expect("transaction");
    world
        .handle
        .block_on(queries::chats_of_principal(tx, &bot_id, kind, id, private_only))
        .map_err(ApiError::internal)
}
