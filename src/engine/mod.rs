//! The dialogue engine: one step of the processing order of bot-format.md.
//!
//! **Invariant:** the engine does no I/O of its own and never reads the
//! clock. Sessions, registrations, authorization requests and algorithm
//! calls go through [`World`]; the time comes in as an argument. That is
//! what lets transcripts, `chat`, property tests and the Telegram runtime
//! share one implementation.

mod answers;
mod auth;
mod buttons;
mod choices;
mod code;
mod insights;
mod records;
mod session;
mod step;
mod turn;

pub use answers::read_answer;
pub use auth::{DecisionError, approve_request, finish_approval, reject_request};
pub use buttons::Callback;
pub use insights::{CallResult, Insight, Reached, Step};
pub use session::{ChosenOption, DynamicOption, HistoryEntry, OpenChoice, Pending, Session};
pub use step::{handle, step};
pub use turn::{message_for, shorten_label, split_message};

/// Calls a fallible [`World`] method from a `Turn`. The first failure is kept in
/// the turn, and from then on the world is not called again: a neutral value
/// stands in for every later call, and the step's result is thrown away.
macro_rules! world {
    ($turn:expr, $method:ident ( $($arg:expr),* $(,)? )) => {{
        if $turn.failure.is_some() {
            Default::default()
        } else {
            let result = $turn.world.$method($($arg),*);
            $turn.check(result)
        }
    }};
}
pub(crate) use world;

use crate::expr::Value;
use serde::{Deserialize, Serialize};

/// Who sent an event. In a private chat `chat` equals `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: i64,
    pub chat: i64,
    pub name: String,
    pub username: Option<String>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Text(String),
    /// A press of an inline button, with its callback data.
    Button(String),
    /// A file, a photo, a contact or a location: what an `input` step with `accept` takes.
    Attachment(Attachment),
    /// A message of another kind (a sticker, a voice note).
    Unsupported,
}

/// A message that is not text, as an `input` step receives it (bot-format.md, `accept`).
#[derive(Debug, Clone, PartialEq)]
pub enum Attachment {
    Document {
        file_id: String,
        name: String,
        mime: String,
        size: u64,
    },
    /// The largest size of a photo.
    Photo {
        file_id: String,
        width: u32,
        height: u32,
    },
    Contact {
        phone: String,
        first_name: String,
        user_id: Option<i64>,
    },
    Location {
        latitude: f64,
        longitude: f64,
    },
}

impl Attachment {
    pub fn kind(&self) -> crate::model::InputKind {
        use crate::model::InputKind;
        match self {
            Attachment::Document { .. } => InputKind::Document,
            Attachment::Photo { .. } => InputKind::Photo,
            Attachment::Contact { .. } => InputKind::Contact,
            Attachment::Location { .. } => InputKind::Location,
        }
    }

    /// The answer as templates and `vars` see it.
    pub fn to_value(&self) -> Value {
        // As Telegram wrote it: the shortest decimal that reads back as the same float.
        let number = |n: f64| {
            n.to_string()
                .parse::<rust_decimal::Decimal>()
                .map(|d| Value::Number(d.normalize()))
                .unwrap_or(Value::Null)
        };
        match self {
            Attachment::Document {
                file_id,
                name,
                mime,
                size,
            } => Value::object([
                ("type", Value::text("document")),
                ("file_id", Value::text(file_id)),
                ("name", Value::text(name)),
                ("mime", Value::text(mime)),
                ("size", Value::from(*size as i64)),
            ]),
            Attachment::Photo { file_id, width, height } => Value::object([
                ("type", Value::text("photo")),
                ("file_id", Value::text(file_id)),
                ("width", Value::from(i64::from(*width))),
                ("height", Value::from(i64::from(*height))),
            ]),
            Attachment::Contact {
                phone,
                first_name,
                user_id,
            } => Value::object([
                ("type", Value::text("contact")),
                ("phone", Value::text(phone)),
                ("first_name", Value::text(first_name)),
                ("user_id", user_id.map(Value::from).unwrap_or(Value::Null)),
            ]),
            Attachment::Location { latitude, longitude } => Value::object([
                ("type", Value::text("location")),
                ("latitude", number(*latitude)),
                ("longitude", number(*longitude)),
            ]),
        }
    }
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outgoing {
    /// The chat to send to.
    pub to: i64,
    /// HTML text.
    pub text: String,
    pub keyboard: Keyboard,
    /// Files sent after the text (an algorithm result's `attachments`, an API message's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<File>,
}

impl Outgoing {
    /// A text message with no files.
    pub fn text(to: i64, text: String, keyboard: Keyboard) -> Outgoing {
        Outgoing {
            to,
            text,
            keyboard,
            files: Vec::new(),
        }
    }
}

/// A file sent after a message's text: `{name, content_base64}` or `{name, url}` (api.md), or
/// `{name, file_id}`: a file Telegram already has, such as one a user sent to an `accept` step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct File {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
}

/// The largest file sent, in bytes (Telegram's limit for bots is 50 MB).
pub const MAX_FILE: usize = 20 * 1024 * 1024;

impl File {
    /// Whether the file is sent as a photo (by its name: `.jpg`, `.jpeg`, `.png`, `.webp`)
    /// rather than as a document.
    pub fn is_photo(&self) -> bool {
        let lower = self.name.to_lowercase();
        [".jpg", ".jpeg", ".png", ".webp"].iter().any(|e| lower.ends_with(e))
    }

    /// Reads one `{name, content_base64}`, `{name, url}` or `{name, file_id}` object; `Err` says what is wrong
    /// and, when it is one field, which (`Some(field)`).
    pub fn parse(v: &serde_json::Value) -> Result<File, (Option<&'static str>, String)> {
        let obj = v.as_object().ok_or((
            None,
            "must be {name, content_base64}, {name, url} or {name, file_id}".to_string(),
        ))?;
        let text = |k: &'static str| -> Result<Option<String>, (Option<&'static str>, String)> {
            match obj.get(k) {
                None | Some(serde_json::Value::Null) => Ok(None),
                Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err((Some(k), "must be a string".to_string())),
            }
        };
        let name = text("name")?.unwrap_or_default();
        if name.trim().is_empty() {
            return Err((Some("name"), "must be a non-empty string".into()));
        }
        if name.chars().count() > 255 {
            return Err((Some("name"), "is longer than 255 characters".into()));
        }
        let file = File {
            name,
            content_base64: text("content_base64")?,
            url: text("url")?,
            file_id: text("file_id")?,
        };
        match (&file.content_base64, &file.url, &file.file_id) {
            (Some(content), None, None) => {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(content)
                    .map_err(|e| (Some("content_base64"), format!("is not base64: {e}")))?;
                if bytes.len() > MAX_FILE {
                    return Err((Some("content_base64"), format!("is larger than {MAX_FILE} bytes")));
                }
            }
            (None, Some(url), None) => match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => return Err((Some("url"), "is not an http(s) URL".into())),
            },
            (None, None, Some(id)) => {
                // Telegram's file ids are URL-safe base64 of well under 255 characters.
                let well_formed = !id.is_empty()
                    && id.len() <= 255
                    && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                if !well_formed {
                    return Err((Some("file_id"), "is not a Telegram file id".into()));
                }
            }
            _ => {
                return Err((
                    None,
                    "needs exactly one of `content_base64`, `url` and `file_id`".into(),
                ));
            }
        }
        Ok(file)
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum Keyboard {
    #[default]
    None,
    Inline(Vec<Vec<InlineButton>>),
    /// A persistent reply keyboard (`menu`).
    Menu(Vec<Vec<String>>),
    /// Removes the reply keyboard (`hide_menu`).
    RemoveMenu,
    /// A one-time reply-keyboard button that shares the user's own phone number (`[auth] contact`).
    Contact(String),
    /// Rows of buttons of a notification from the HTTP API: links and action buttons.
    Links(Vec<Vec<LinkButton>>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkButton {
    pub text: String,
    /// The link; empty for an action button.
    #[serde(default)]
    pub url: String,
    /// An action button's callback data (`Callback::Action`), instead of a link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

impl Keyboard {
    /// The keyboard as transcripts write it, a line per row: `[A] [B]` for
    /// inline buttons, `menu: [A] [B]` for the reply keyboard.
    pub fn lines(&self) -> Vec<String> {
        let row = |labels: Vec<&str>| labels.iter().map(|l| format!("[{l}]")).collect::<Vec<_>>().join(" ");
        match self {
            Keyboard::None => Vec::new(),
            Keyboard::Inline(rows) => rows
                .iter()
                .map(|r| row(r.iter().map(|b| b.label.as_str()).collect()))
                .collect(),
            Keyboard::Menu(rows) => rows
                .iter()
                .map(|r| format!("menu: {}", row(r.iter().map(String::as_str).collect())))
                .collect(),
            Keyboard::RemoveMenu => vec!["(menu removed)".to_string()],
            Keyboard::Contact(label) => vec![format!("menu: [{label}]")],
            Keyboard::Links(rows) => rows
                .iter()
                .map(|r| row(r.iter().map(|b| b.text.as_str()).collect()))
                .collect(),
        }
    }

    /// The labels of row `index` of the inline buttons, or of the reply keyboard when `menu`.
    pub fn row(&self, index: usize, menu: bool) -> Option<Vec<String>> {
        match (self, menu) {
            (Keyboard::Inline(rows), false) => rows.get(index).map(|r| r.iter().map(|b| b.label.clone()).collect()),
            (Keyboard::Links(rows), false) => rows.get(index).map(|r| r.iter().map(|b| b.text.clone()).collect()),
            (Keyboard::Menu(rows), true) => rows.get(index).cloned(),
            (Keyboard::Contact(label), true) if index == 0 => Some(vec![label.clone()]),
            _ => None,
        }
    }

    /// The callback data of the inline button labelled `label`, if this keyboard has one.
    pub fn button_data(&self, label: &str) -> Option<&str> {
        match self {
            Keyboard::Inline(rows) => rows
                .iter()
                .flatten()
                .find(|b| b.label == label)
                .map(|b| b.data.as_str()),
            Keyboard::Links(rows) => rows
                .iter()
                .flatten()
                .find(|b| b.text == label)
                .and_then(|b| b.data.as_deref()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InlineButton {
    pub label: String,
    pub data: String,
}

/// What a notification's action button runs (api.md): kept by the runtime, named in the
/// button's callback data by its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionButton {
    /// The `id` of the record marked `action = true`.
    pub record: String,
    /// `selected` when it runs.
    pub value: String,
    /// The button's text: `input` when it runs.
    pub label: String,
    /// The text of the message the button was sent with: the history entry's `title`.
    pub message_text: String,
    /// The chat the button was sent to: a press from any other chat is stale.
    pub chat: i64,
}

/// A registered user's identity in the business system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Principal {
    pub kind: String,
    pub id: String,
    pub name: String,
}

impl Principal {
    pub fn to_value(&self) -> Value {
        Value::object([
            ("kind", Value::text(&self.kind)),
            ("id", Value::text(&self.id)),
            ("name", Value::text(&self.name)),
        ])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthStatus {
    Pending,
    Approved,
    Rejected,
}

impl AuthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthStatus::Pending => "pending",
            AuthStatus::Approved => "approved",
            AuthStatus::Rejected => "rejected",
        }
    }
}

/// A request to be registered, waiting for an operator or a process elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthRequest {
    pub id: u64,
    /// The requesting user's chat: their key.
    pub key: i64,
    pub user_id: i64,
    pub name: String,
    pub username: Option<String>,
    pub data: String,
    pub status: AuthStatus,
    pub created_at: chrono::DateTime<chrono::FixedOffset>,
    pub reason: Option<String>,
}

/// A failure outside the engine. The engine stops using the world at the first
/// one and [`handle`] returns it: the update is aborted and tried again, never
/// finished on made-up state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorldError {
    /// The store failed: a database error, or a stored row that cannot be read.
    Storage(String),
    /// A decision on an authorization request lost to another decision made meanwhile.
    Conflict(String),
}

impl std::fmt::Display for WorldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorldError::Storage(message) | WorldError::Conflict(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for WorldError {}

/// Everything the engine reads or changes outside itself. Every method that
/// touches storage can fail; the engine aborts the step on the first failure.
pub trait World {
    /// The stored session of a user in a chat, if any (the engine checks its hash).
    fn session(&mut self, chat: i64, user: i64) -> Result<Option<Session>, WorldError>;
    fn save_session(&mut self, chat: i64, user: i64, session: &Session) -> Result<(), WorldError>;
    /// The principal a chat is registered as in this bot.
    fn registration(&mut self, key: i64) -> Result<Option<Principal>, WorldError>;
    fn register(
        &mut self,
        key: i64,
        principal: &Principal,
        name: &str,
        at: chrono::DateTime<chrono::FixedOffset>,
    ) -> Result<(), WorldError>;
    /// Stores a new request and gives it its id (the request's `id` is ignored).
    fn create_auth_request(&mut self, request: AuthRequest) -> Result<u64, WorldError>;
    fn auth_request(&mut self, id: u64) -> Result<Option<AuthRequest>, WorldError>;
    /// The pending request of a chat, if any.
    fn pending_auth_request(&mut self, key: i64) -> Result<Option<AuthRequest>, WorldError>;
    fn update_auth_request(&mut self, request: &AuthRequest) -> Result<(), WorldError>;
    /// A notification's action button by its id, if it was sent to `chat` (a button of
    /// another chat, or one whose chat is unknown, is `None`).
    fn action_button(&mut self, id: u64, chat: i64) -> Result<Option<ActionButton>, WorldError>;
}
