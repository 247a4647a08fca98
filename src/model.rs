//! The compiled bot: what the engine runs. Built by `validate`, never by hand
//! from TOML.
//!
//! **Invariant:** a `CompiledBot` has passed every compile-time check: every
//! reference resolves, every template parsed, disabled records are gone.

use crate::Language;
use crate::expr::{Expr, Template};
use chrono_tz::Tz;
use indexmap::IndexMap;
use rustc_hash::FxHashMap as HashMap;
use std::time::Duration;

/// Index of a record in [`CompiledBot::records`]. Valid only with the bot it came from;
/// stored state uses [`Record::id`] plus [`Record::fingerprint`] instead.
pub type RecordIdx = usize;

#[derive(Debug)]
pub struct CompiledBot {
    pub id: String,
    pub name: String,
    pub description: String,
    pub token_env: String,
    pub language: Language,
    /// Normalized start and cancel words.
    pub start: Vec<String>,
    pub cancel: Vec<String>,
    pub timezone: Option<Tz>,
    pub allow_code: bool,
    /// Whether unknown texts are kept in the insights log as typed (`log_texts`).
    pub log_texts: bool,
    /// Every text key with its template: the bot's override or the built-in default.
    pub texts: HashMap<&'static str, Template>,
    pub records: Vec<Record>,
    /// Normalized word → top-level record.
    pub top: HashMap<String, RecordIdx>,
    pub algorithms: IndexMap<String, Algorithm>,
    /// Normalized name or title → exposed algorithm, for code mode.
    pub code_names: HashMap<String, String>,
    pub auth: Option<Auth>,
    pub notifications: IndexMap<String, Notification>,
    /// SHA-256 (hex, 16 digits) of the bot id and the file's values: tells whether a reload
    /// changed anything at all. Sessions and buttons do not carry it: they carry the
    /// [`Record::fingerprint`]s of the records they stand on.
    pub hash: String,
    /// The bots compiled together with this one: which `${VAR}` its `http` URLs may name
    /// is checked against them again when a URL is expanded.
    pub neighbours: std::sync::Arc<crate::validate::Neighbours>,
}

#[derive(Debug)]
pub struct Record {
    /// The id written in the file, or one derived from its words (bot-format.md, `id`): the
    /// first `match` word normalized, after the parent's id and `/` for an option. Only a
    /// record with neither `match` nor `id` (which nothing can reach) gets `#N`, N its
    /// position among the file's keywords.
    pub id: String,
    /// SHA-256 (hex) of a canonical form of what a press on it or an answer to it does
    /// (bot-format.md, "Changing a bot file"): a conversation standing on this record
    /// survives a reload while this stays the same. See `validate::fingerprint`.
    pub fingerprint: String,
    /// The words as written; the first is the button label.
    pub words: Vec<String>,
    pub is_star: bool,
    pub parent: Option<RecordIdx>,
    pub action: Action,
    pub then: Option<RecordIdx>,
    pub menu: Option<Vec<Vec<String>>>,
    pub hide_menu: bool,
    /// Options (records whose parent is this one), in file order.
    pub options: Vec<RecordIdx>,
    /// Normalized word → option, for the static options of this record.
    pub option_index: HashMap<String, RecordIdx>,
    /// The first `"*"` option, taken last.
    pub star_option: Option<RecordIdx>,
    /// In a `public` subtree: a stranger on a closed bot reaches it.
    pub public: bool,
    /// `action = true`: notification action buttons may run it (api.md).
    pub action_target: bool,
}

impl Record {
    /// The button label: the first word as written.
    pub fn label(&self) -> &str {
        self.words.first().map(String::as_str).unwrap_or(&self.id)
    }

    pub fn is_choice(&self) -> bool {
        matches!(self.action, Action::Choice { .. })
    }
}

#[derive(Debug)]
pub enum Action {
    Reply(Template),
    Run(String),
    Choice {
        title: Template,
        options_from: Option<String>,
        confirm: bool,
        columns: usize,
    },
    Alias(RecordIdx),
    Input {
        question: Template,
        save_as: Option<String>,
        /// The kinds of message the step takes (`text` unless `accept` says otherwise).
        accept: Vec<InputKind>,
        /// How a text answer is read (`type`); `None`: the text as typed.
        answer_type: Option<AnswerType>,
        /// `check`: a text answer is taken only when this gives `true`.
        check: Option<Expr>,
        /// `invalid`: the reply to a refused answer (else `texts.input_invalid`).
        invalid: Option<Template>,
        /// `attempts`: the refused answer in a row that gives up.
        attempts: Option<u32>,
    },
}

/// How an `input` step reads a text answer (bot-format.md, `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerType {
    Number,
    Integer,
    Date,
    Deadline,
    Phone,
    Email,
}

impl AnswerType {
    pub const ALL: [(&'static str, AnswerType); 6] = [
        ("number", AnswerType::Number),
        ("integer", AnswerType::Integer),
        ("date", AnswerType::Date),
        ("deadline", AnswerType::Deadline),
        ("phone", AnswerType::Phone),
        ("email", AnswerType::Email),
    ];

    pub fn parse(name: &str) -> Option<AnswerType> {
        AnswerType::ALL.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }
}

/// A kind of message an `input` step may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Text,
    Document,
    Photo,
    Contact,
    Location,
}

impl InputKind {
    pub const ALL: [(&'static str, InputKind); 5] = [
        ("text", InputKind::Text),
        ("document", InputKind::Document),
        ("photo", InputKind::Photo),
        ("contact", InputKind::Contact),
        ("location", InputKind::Location),
    ];

    pub fn parse(name: &str) -> Option<InputKind> {
        InputKind::ALL.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }
}

impl Action {
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Reply(_) => "reply",
            Action::Run(_) => "run",
            Action::Choice { .. } => "choice",
            Action::Alias(_) => "alias",
            Action::Input { .. } => "input",
        }
    }
}

#[derive(Debug)]
pub struct Algorithm {
    pub name: String,
    pub kind: AlgorithmKind,
    pub timeout: Duration,
    pub exposed: bool,
    pub title: Option<String>,
}

#[derive(Debug)]
pub enum AlgorithmKind {
    Expr(Expr),
    /// The URL as written; `${VAR}` is replaced from the environment when called.
    Http(String),
    Builtin(String),
}

#[derive(Debug)]
pub struct Auth {
    pub required: bool,
    pub confirm: bool,
    pub algorithm: Option<String>,
    pub scenario: Option<String>,
    pub responsible: Vec<i64>,
    pub kinds: Vec<String>,
    /// Operators link the user to an existing principal found by this algorithm.
    pub lookup: Option<String>,
    /// The auth button shares the user's own phone number, which is the data.
    pub contact: bool,
}

#[derive(Debug)]
pub struct Notification {
    pub name: String,
    pub text: Template,
    pub buttons: Vec<Vec<NotificationButton>>,
    pub attachments: bool,
}

/// A button of a `[notifications.<name>]` message; `text` and `value` are templates.
#[derive(Debug)]
pub enum NotificationButton {
    Link {
        text: Template,
        url: String,
    },
    /// Runs the record with id `action` (marked `action = true`) with `selected` = `value`.
    Action {
        text: Template,
        action: String,
        value: Template,
    },
}

/// Matching ignores case and all white space: Unicode lowercase, white space removed, nothing else.
pub fn normalize(word: &str) -> String {
    word.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

impl CompiledBot {
    pub fn record_by_id(&self, id: &str) -> Option<RecordIdx> {
        self.records.iter().position(|r| r.id == id)
    }

    pub fn text(&self, text: crate::texts::Text) -> &Template {
        // Compiling fills every key of the catalogue (`validate`), so each has a template.
        self.texts
            .get(text.key())
            .unwrap_or_else(|| panic!("text key `{}` is in the built-in table", text.key()))
    }

    /// The current fingerprint of the record with this id, cut to `len` hex digits; `None`
    /// when the file has no such record (any more), or it is disabled.
    pub fn fingerprint_of(&self, id: &str, len: usize) -> Option<&str> {
        self.record_by_id(id).map(|r| self.records[r].fingerprint_prefix(len))
    }
}

impl Record {
    /// The first `len` hex digits of the fingerprint: what sessions and buttons keep.
    pub fn fingerprint_prefix(&self, len: usize) -> &str {
        &self.fingerprint[..len.min(self.fingerprint.len())]
    }
}
