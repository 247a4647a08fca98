//! Notifications as the business system sends them (api.md, `POST …/messages` with `text`, or
//! `template` and `data`): `data` read within its bounds, a `[notifications.<name>]` message
//! rendered for one recipient, and its keyboard with the action buttons kept. One copy for
//! everyone: the HTTP API and `botwright send` (`api::compose`, which keeps action buttons in
//! the database) and, offline, transcripts' `@notify`/`@send`, `chat`'s `/notify`/`/send` and
//! the studio's form ([`offline`], which keeps them in a [`MemoryWorld`]).

use crate::engine::{self, ActionButton, Callback, Keyboard, LinkButton, Outgoing, User, World, WorldError};
use crate::expr::Value;
use crate::limits::{MAX_DATA_BYTES, MAX_DATA_DEPTH, MAX_DATA_VALUES, MAX_MESSAGE};
use crate::model::{CompiledBot, NotificationButton};
use crate::store::MemoryWorld;
use chrono::{DateTime, FixedOffset};

/// The most characters of an action button's value.
pub const MAX_ACTION_VALUE: usize = 1000;

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

/// A button of a message: a link, or an action that runs a record marked `action = true`.
#[derive(Debug, Clone, PartialEq)]
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

/// A `[notifications.<name>]` message rendered for one recipient.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// HTML text.
    pub text: String,
    /// The template's rows of buttons, their texts and values rendered.
    pub buttons: Vec<Vec<Button>>,
    /// Whether the request's attachments are sent with it.
    pub attachments: bool,
}

/// Renders the notification `name` (which the caller has checked the bot has) for `user` with
/// `data`: its text and its buttons' texts (cut to Telegram's 64 bytes) and values (cut to
/// [`MAX_ACTION_VALUE`] characters). A field `data` lacks renders as templates render a
/// missing field.
pub fn render_template(
    bot: &CompiledBot,
    world: &mut dyn World,
    user: &User,
    name: &str,
    data: &Value,
    now: DateTime<FixedOffset>,
) -> Result<Rendered, WorldError> {
    let n = &bot.notifications[name];
    let vars = [("data", data.clone())];
    let render = |world: &mut dyn World, template: &crate::expr::Template| -> Result<String, WorldError> {
        Ok(engine::message_for(bot, world, user, template, &vars, now)?.text)
    };
    let text = render(world, &n.text)?;
    let mut rows = Vec::with_capacity(n.buttons.len());
    for row in &n.buttons {
        let mut out = Vec::with_capacity(row.len());
        for b in row {
            out.push(match b {
                NotificationButton::Link { text, url } => Button::Link {
                    text: engine::shorten_label(&render(world, text)?),
                    url: url.clone(),
                },
                NotificationButton::Action { text, action, value } => Button::Action {
                    text: engine::shorten_label(&render(world, text)?),
                    record: action.clone(),
                    value: render(world, value)?.chars().take(MAX_ACTION_VALUE).collect(),
                },
            });
        }
        rows.push(out);
    }
    Ok(Rendered {
        text,
        buttons: rows,
        attachments: n.attachments,
    })
}

/// The fields of `data` that the notification `name` uses (`data.X` in its text and its
/// buttons), in the order they first appear: what a form for its data offers.
pub fn data_fields(bot: &CompiledBot, name: &str) -> Vec<String> {
    use crate::expr::ast::{ExprKind, Segment};
    fn walk(e: &crate::expr::Expr, out: &mut Vec<String>) {
        match &e.kind {
            ExprKind::Member(inner, field) => {
                if matches!(&inner.kind, ExprKind::Var(v) if v == "data") {
                    if !out.contains(field) {
                        out.push(field.clone());
                    }
                } else {
                    walk(inner, out);
                }
            }
            ExprKind::Literal(_) | ExprKind::Var(_) => {}
            ExprKind::Index(a, b) | ExprKind::Binary(_, a, b) => {
                walk(a, out);
                walk(b, out);
            }
            ExprKind::Unary(_, a) => walk(a, out),
            ExprKind::Call { args, .. } | ExprKind::List(args) => args.iter().for_each(|a| walk(a, out)),
            ExprKind::Object(fields) => fields.iter().for_each(|(_, a)| walk(a, out)),
            ExprKind::If(a, b, c) => {
                walk(a, out);
                walk(b, out);
                walk(c, out);
            }
        }
    }
    let Some(n) = bot.notifications.get(name) else {
        return Vec::new();
    };
    let mut templates = vec![&n.text];
    for b in n.buttons.iter().flatten() {
        match b {
            NotificationButton::Link { text, .. } => templates.push(text),
            NotificationButton::Action { text, value, .. } => templates.extend([text, value]),
        }
    }
    let mut out = Vec::new();
    for t in templates {
        for s in &t.segments {
            if let Segment::Expr(e) = s {
                walk(e, &mut out);
            }
        }
    }
    out
}

/// The keyboard of a message whose HTML text is `text`, sent to `chat`: link buttons as they
/// are, and each action button kept by `keep` (which gives its id) and named by its callback
/// data. No rows, or only empty ones, is no keyboard.
pub fn keyboard<E>(
    rows: &[Vec<Button>],
    text: &str,
    chat: i64,
    mut keep: impl FnMut(ActionButton) -> Result<u64, E>,
) -> Result<Keyboard, E> {
    if rows.iter().all(Vec::is_empty) {
        return Ok(Keyboard::None);
    }
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
                Button::Action {
                    text: label,
                    record,
                    value,
                } => {
                    let id = keep(ActionButton {
                        record: record.clone(),
                        value: value.clone(),
                        label: label.clone(),
                        message_text: text_of(text),
                        chat,
                    })?;
                    LinkButton {
                        text: label.clone(),
                        url: String::new(),
                        data: Some(Callback::Action { id }.encode()),
                    }
                }
            });
        }
        out.push(out_row);
    }
    Ok(Keyboard::Links(out))
}

/// The message's text as a user reads it (HTML tags dropped), for `history`'s `title`.
pub fn text_of(html: &str) -> String {
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

/// Checks a message's text as the API takes it: not empty, within Telegram's length.
pub fn check_text(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if text.chars().count() > MAX_MESSAGE {
        return Err(format!("is longer than Telegram's {MAX_MESSAGE} characters"));
    }
    Ok(())
}

/// The message of a rendered text checked against Telegram's length.
pub fn check_rendered(text: &str) -> Result<(), String> {
    if text.chars().count() > MAX_MESSAGE {
        return Err(format!(
            "the rendered text is longer than Telegram's {MAX_MESSAGE} characters"
        ));
    }
    Ok(())
}

/// What the business system sends when it is played offline.
#[derive(Debug, Clone, PartialEq)]
pub enum Offline {
    /// `@notify NAME JSON`: a notification of the bot with this object as its `data`.
    Notify { name: String, data: serde_json::Value },
    /// `@send TEXT`: an HTML text.
    Send(String),
}

impl Offline {
    /// Reads what follows `@notify` (`NAME JSON`, the JSON an object within the API's bounds
    /// of `data`).
    pub fn notify(rest: &str) -> Result<Offline, String> {
        let rest = rest.trim();
        let (name, json) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        Offline::notify_parts(name, json)
    }

    /// A notification by its name and its data as JSON text (an object within the API's
    /// bounds of `data`).
    pub fn notify_parts(name: &str, json: &str) -> Result<Offline, String> {
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err("write `@notify NAME {JSON object}`: a notification's name, then its data".into());
        }
        let json = json.trim();
        if json.is_empty() {
            return Err(format!(
                "`@notify {name}` needs its data: a JSON object such as {{\"id\": 17}}"
            ));
        }
        let data = parse_data(json).map_err(|e| format!("the data of `@notify {name}` {e}"))?;
        if !data.is_object() {
            return Err(format!(
                "the data of `@notify {name}` must be a JSON object, not `{json}`"
            ));
        }
        Ok(Offline::Notify {
            name: name.to_string(),
            data,
        })
    }

    /// Reads what follows `@send`: the text, `\n` for a line break.
    pub fn send(rest: &str) -> Result<Offline, String> {
        let text = rest.trim().replace("\\n", "\n");
        check_text(&text).map_err(|e| format!("the text of `@send` {e}"))?;
        Ok(Offline::Send(text))
    }

    /// The transcript line that does this.
    pub fn line(&self) -> String {
        match self {
            Offline::Notify { name, data } => format!("@notify {name} {data}"),
            Offline::Send(text) => format!("@send {}", text.replace('\n', "\\n")),
        }
    }
}

/// The business system's message to `user` offline, exactly as the API would store it for
/// `to: {key}` (the user counts as known): a notification's text and buttons (no attachments:
/// none come with it), its action buttons kept in `world`. An unknown notification, or a text
/// that is empty or too long, is an error.
pub fn offline(
    bot: &CompiledBot,
    world: &mut MemoryWorld,
    user: &User,
    what: &Offline,
    now: DateTime<FixedOffset>,
) -> Result<Outgoing, String> {
    match what {
        Offline::Send(text) => {
            check_text(text).map_err(|e| format!("the text {e}"))?;
            Ok(Outgoing::text(user.chat, text.clone(), Keyboard::None))
        }
        Offline::Notify { name, data } => {
            if !bot.notifications.contains_key(name) {
                let known: Vec<&str> = bot.notifications.keys().map(String::as_str).collect();
                return Err(if known.is_empty() {
                    format!("the bot has no notification `{name}` (it has no [notifications] at all)")
                } else {
                    format!("the bot has no notification `{name}` (it has {})", known.join(", "))
                });
            }
            let data = Value::from_json(data).map_err(|e| format!("the data of `{name}`: {e}"))?;
            let rendered = render_template(bot, world, user, name, &data, now)
                .map_err(|e| format!("the in-memory world failed: {e}"))?;
            check_rendered(&rendered.text)?;
            let keyboard = keyboard(&rendered.buttons, &rendered.text, user.chat, |b| {
                Ok::<_, String>(world.keep_action_button(b))
            })?;
            Ok(Outgoing::text(user.chat, rendered.text, keyboard))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::SourceFile;

    #[test]
    fn data_fields_are_those_the_text_and_buttons_use_in_order() {
        let text = std::fs::read_to_string("bots/signal.toml").unwrap();
        let bot = crate::validate::compile("signal", &SourceFile::new("signal.toml", text), &mut Vec::new()).unwrap();
        assert_eq!(
            data_fields(&bot, "task_assigned"),
            ["id", "description", "deadline", "important", "author"]
        );
        assert_eq!(data_fields(&bot, "process_started"), ["scenario", "description"]);
        assert!(data_fields(&bot, "nope").is_empty());
    }
}
