//! Bot file → spanned raw model. Reads TOML with spans, reports syntax
//! errors, unknown keys (with a suggestion) and values of the wrong type,
//! and keeps going so that every problem is reported at once.
//!
//! **Invariant:** nothing after this module sees TOML; every value a user
//! wrote keeps the byte range it came from.

use crate::diagnostics::{Code, Diagnostic, SourceFile, suggest};
pub use crate::secrets::looks_like_token;
use serde_spanned::Spanned;
use sha2::{Digest, Sha256};
use std::ops::Range;
use std::sync::Arc;
use toml::de::{DeTable, DeValue};

/// A value with the byte range of the file it was written at.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sp<T> {
    pub value: T,
    pub span: Range<usize>,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Range<usize>) -> Sp<T> {
        Sp { value, span }
    }
}

pub type Words = Sp<Vec<Sp<String>>>;

/// A spanned value is described as the value it holds.
impl<T: schemars::JsonSchema> schemars::JsonSchema for Sp<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

/// The schema of a word list: a comma-separated string, or an array of strings.
pub struct WordList;

impl schemars::JsonSchema for WordList {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "WordList".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}}
            ]
        })
    }
}

/// The schema of an `input`'s `type`: one of the names the compiler knows.
pub struct AnswerTypeName;

impl schemars::JsonSchema for AnswerTypeName {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AnswerTypeName".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = crate::model::AnswerType::ALL.iter().map(|(n, _)| *n).collect();
        schemars::json_schema!({"type": "string", "enum": names})
    }
}

/// The schema of `menu`: labels in one row each, or rows of labels.
pub struct MenuRows;

impl schemars::JsonSchema for MenuRows {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "MenuRows".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "array",
            "items": {"anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}}
            ]}
        })
    }
}

/// The schema of notification `buttons`: buttons one per row, or rows of buttons.
pub struct ButtonRows;

impl schemars::JsonSchema for ButtonRows {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ButtonRows".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let button = generator.subschema_for::<RawLinkButton>();
        schemars::json_schema!({
            "type": "array",
            "items": {"anyOf": [
                button.clone(),
                {"type": "array", "items": button}
            ]}
        })
    }
}

#[derive(Debug, Default)]
pub struct RawBot {
    /// SHA-256 of the file's value tree (comments and layout excluded).
    pub content_hash: [u8; 32],
    pub bot: RawBotSection,
    pub texts: Vec<(Sp<String>, Sp<String>)>,
    pub keywords: Vec<RawKeyword>,
    pub algorithms: Vec<RawAlgorithm>,
    pub auth: Option<RawAuth>,
    pub notifications: Vec<RawNotification>,
}

#[derive(Debug, Default, schemars::JsonSchema)]
#[schemars(
    deny_unknown_fields,
    description = "The `[bot]` table: who the bot is and how it talks."
)]
pub struct RawBotSection {
    /// Where `[bot]` is, or the file's start when it is missing.
    #[schemars(skip)]
    pub span: Range<usize>,
    #[schemars(skip)]
    pub present: bool,
    /// Keys written with a value of the wrong type (already reported): not missing.
    #[schemars(skip)]
    pub mistyped: Vec<&'static str>,
    #[schemars(description = "Shown to users (`{{ bot.name }}`). Required.")]
    pub name: Option<Sp<String>>,
    #[schemars(description = "Shown in the greeting (`{{ bot.description }}`). Default: empty.")]
    pub description: Option<Sp<String>>,
    #[schemars(
        description = "The name of the environment variable holding the Telegram token. Required. Never write the token itself in a bot file."
    )]
    pub token_env: Option<Sp<String>>,
    #[schemars(description = "The language of the built-in texts: \"ru\" (default) or \"en\".")]
    pub language: Option<Sp<String>>,
    #[schemars(
        description = "Words that trigger the greeting: a comma-separated string or an array. Default: [\"/start\", \"Старт\"]."
    )]
    #[schemars(with = "Option<WordList>")]
    pub start: Option<Words>,
    #[schemars(
        description = "Words that abandon any pending step or open choice: a comma-separated string or an array. Default: [\"/cancel\", \"Отмена\"]."
    )]
    #[schemars(with = "Option<WordList>")]
    pub cancel: Option<Words>,
    #[schemars(description = "Shorthand for `texts.unknown`: the reply to a request nothing matched.")]
    pub unknown: Option<Sp<String>>,
    #[schemars(
        description = "The IANA zone in which dates are computed and shown (`today()`, `deadline()`), e.g. \"Europe/Moscow\"."
    )]
    pub timezone: Option<Sp<String>>,
    #[schemars(
        description = "Keep the texts of unknown requests in the insights log; with false only their count is kept. Default: true."
    )]
    pub log_texts: Option<Sp<bool>>,
    #[schemars(description = "Registered users may type expressions and names of exposed algorithms. Default: false.")]
    pub allow_code: Option<Sp<bool>>,
}

#[derive(Debug, Default, schemars::JsonSchema)]
#[schemars(
    deny_unknown_fields,
    description = "A keyword record: it does exactly one of `reply`, `run`, `choice`, `alias`, `input`."
)]
pub struct RawKeyword {
    #[schemars(skip)]
    pub span: Range<usize>,
    #[schemars(
        description = "Unique in the bot, `[a-z0-9_]+`. Required when another record refers to this one; otherwise derived."
    )]
    pub id: Option<Sp<String>>,
    #[schemars(
        description = "The words that trigger it: a comma-separated string or an array. Matching ignores case and white space. \"*\" (in an option only) matches anything."
    )]
    #[schemars(with = "Option<WordList>")]
    #[schemars(rename = "match")]
    pub r#match: Option<Words>,
    #[schemars(
        description = "Makes this record an option of that `choice` (or of a `run` whose algorithm returns options); its button label is the first word of `match`."
    )]
    pub parent: Option<Sp<String>>,
    #[schemars(description = "The record and everything below it is ignored, as if deleted.")]
    pub disabled: Option<Sp<bool>>,
    #[schemars(description = "Send this text (HTML and `{{ }}` templates allowed).")]
    pub reply: Option<Sp<String>>,
    #[schemars(description = "Run this algorithm and send its result.")]
    pub run: Option<Sp<String>>,
    #[schemars(
        description = "Send this title with one button per option (the records whose `parent` is this one, or the list `options_from` returns)."
    )]
    pub choice: Option<Sp<String>>,
    #[schemars(
        description = "With `choice`: the options are the list this algorithm returns; a \"*\" option handles whichever is chosen."
    )]
    pub options_from: Option<Sp<String>>,
    #[schemars(description = "With `choice`: after an option is chosen, ask `choice_confirm` with yes/no buttons.")]
    pub confirm: Option<Sp<bool>>,
    #[schemars(description = "With `choice`: option buttons per row (default 1).")]
    pub columns: Option<Sp<i64>>,
    #[schemars(description = "Handle this request exactly as the record with this id.")]
    pub alias: Option<Sp<String>>,
    #[schemars(description = "Ask this question and wait for the answer.")]
    pub input: Option<Sp<String>>,
    #[schemars(description = "With `input`: store the answer in `vars.<name>`.")]
    pub save_as: Option<Sp<String>>,
    #[schemars(description = "With `input` (required) or `reply`/`run`: continue at the record with this id.")]
    pub then: Option<Sp<String>>,
    #[schemars(
        description = "Attach a persistent reply keyboard with these buttons (one per row unless given as an array of arrays)."
    )]
    #[schemars(with = "Option<MenuRows>")]
    pub menu: Option<Sp<Vec<Vec<Sp<String>>>>>,
    #[schemars(description = "Remove the reply keyboard.")]
    pub hide_menu: Option<Sp<bool>>,
    #[schemars(
        description = "Top-level records only: on a bot with `required` auth, unregistered users reach this record and everything below it."
    )]
    pub public: Option<Sp<bool>>,
    #[schemars(
        description = "With `input`: the kinds of message the step takes: \"text\" (default), \"document\", \"photo\", \"contact\", \"location\"."
    )]
    #[schemars(with = "Option<WordList>")]
    pub accept: Option<Words>,
    #[schemars(
        description = "With `input`: how the answer is read: \"number\" (a decimal, `,` or `.` as the separator, spaces ignored), \"integer\", \"date\" (a date as `deadline()` reads it, without a time: the start of that day), \"deadline\" (anything `deadline()` reads), \"phone\" (10 to 15 digits, kept as `+` and the digits) or \"email\" (kept in lower case). Default: the text as typed."
    )]
    #[schemars(rename = "type", with = "Option<AnswerTypeName>")]
    pub r#type: Option<Sp<String>>,
    #[schemars(
        description = "With `input`: an expression; the answer is taken only when it gives `true` (`input` is the answer as `type` read it)."
    )]
    pub check: Option<Sp<String>>,
    #[schemars(
        description = "With `input`: the reply to an answer that `type` cannot read or `check` refuses (default `texts.input_invalid`; `input` is the text as typed). The step stays pending."
    )]
    pub invalid: Option<Sp<String>>,
    #[schemars(
        description = "With `input`: the Nth refused answer in a row gets `texts.input_gave_up`, and then nothing is pending. At least 1; default: no limit."
    )]
    #[schemars(range(min = 1))]
    pub attempts: Option<Sp<i64>>,
    /// The target of notification action buttons (api.md).
    #[schemars(
        description = "This record may be the target of a notification's action button (needs an explicit `id`)."
    )]
    pub action: Option<Sp<bool>>,
}

#[derive(Debug, Default, schemars::JsonSchema)]
#[schemars(
    deny_unknown_fields,
    description = "An algorithm: exactly one of `expr`, `http`, `builtin`."
)]
pub struct RawAlgorithm {
    #[schemars(skip)]
    pub name: Sp<String>,
    #[schemars(skip)]
    pub span: Range<usize>,
    #[schemars(description = "An expression in the bot expression language: no I/O, bounded in steps, time and size.")]
    pub expr: Option<Sp<String>>,
    #[schemars(
        description = "A URL that receives a POST with the JSON call; `${BOTID_…}` and `${BOTWRIGHT_URL_…}` variables allowed."
    )]
    pub http: Option<Sp<String>>,
    #[schemars(description = "The name of a Rust function the program embedding the runtime registers.")]
    pub builtin: Option<Sp<String>>,
    #[schemars(description = "How long the call may take, e.g. \"5s\" (default \"10s\" for http).")]
    pub timeout: Option<Sp<String>>,
    #[schemars(description = "With `allow_code`: users may run it by typing its name.")]
    pub exposed: Option<Sp<bool>>,
    #[schemars(description = "A display name users may type instead of the algorithm's name.")]
    pub title: Option<Sp<String>>,
}

#[derive(Debug, Default, schemars::JsonSchema)]
#[schemars(
    deny_unknown_fields,
    description = "The `[auth]` table: who may use the bot, and the registration chain."
)]
pub struct RawAuth {
    #[schemars(skip)]
    pub span: Range<usize>,
    #[schemars(description = "Only registered users reach keywords (except `public` ones).")]
    pub required: Option<Sp<bool>>,
    #[schemars(description = "Shorthand for `texts.auth_request`.")]
    pub request: Option<Sp<String>>,
    #[schemars(description = "Ask the user to confirm the data they entered. Default: true.")]
    pub confirm: Option<Sp<bool>>,
    #[schemars(description = "1st: an algorithm that registers automatically; success is a result with `principal`.")]
    pub algorithm: Option<Sp<String>>,
    #[schemars(description = "2nd: an algorithm that starts an authorization process elsewhere.")]
    pub scenario: Option<Sp<String>>,
    #[schemars(description = "3rd: Telegram user ids of operators who approve or reject requests.")]
    pub responsible: Option<Sp<Vec<Sp<i64>>>>,
    #[schemars(
        description = "Kinds an operator may register a user as. Default: [\"user\", \"partner\", \"counterparty\"]."
    )]
    #[schemars(with = "Option<WordList>")]
    pub principal_kinds: Option<Words>,
    #[schemars(
        description = "An algorithm with which operators link the user to an existing principal by a search text."
    )]
    pub lookup: Option<Sp<String>>,
    #[schemars(description = "The auth button asks Telegram for the user's own phone number instead of typed data.")]
    pub contact: Option<Sp<bool>>,
}

#[derive(Debug, Default, schemars::JsonSchema)]
#[schemars(
    deny_unknown_fields,
    description = "A notification template the HTTP API sends (`template` + `data`)."
)]
pub struct RawNotification {
    #[schemars(skip)]
    pub name: Sp<String>,
    #[schemars(skip)]
    pub span: Range<usize>,
    #[schemars(description = "The text, templated with `data`, `bot` and the recipient as `user`.")]
    pub text: Option<Sp<String>>,
    #[schemars(
        description = "Rows of buttons: `{text, url}` links or `{text, action, value}` action buttons; `text` and `value` are templates."
    )]
    #[schemars(with = "Option<ButtonRows>")]
    pub buttons: Option<Sp<Vec<Vec<RawLinkButton>>>>,
    #[schemars(description = "Whether attachments passed in the request are sent. Default: true.")]
    pub attachments: Option<Sp<bool>>,
}

#[derive(Debug, schemars::JsonSchema)]
#[schemars(
    deny_unknown_fields,
    description = "A notification button: a link (`text`, `url`) or an action (`text`, `action`, `value`)."
)]
pub struct RawLinkButton {
    #[schemars(description = "The button's label (a template).")]
    pub text: Sp<String>,
    /// A link button's address; or
    #[schemars(description = "A link button's address.")]
    pub url: Option<Sp<String>>,
    /// an action button's record id, and its value.
    #[schemars(description = "An action button's record: its `id`, marked `action = true`.")]
    pub action: Option<Sp<String>>,
    #[schemars(description = "An action button's value: `selected` when its record runs (a template).")]
    pub value: Option<Sp<String>>,
}

pub const TOP_KEYS: &[&str] = &["bot", "texts", "keyword", "algorithms", "auth", "notifications"];
pub const BOT_KEYS: &[&str] = &[
    "name",
    "description",
    "token_env",
    "language",
    "start",
    "cancel",
    "unknown",
    "timezone",
    "log_texts",
    "allow_code",
];
pub const KEYWORD_KEYS: &[&str] = &[
    "id",
    "match",
    "parent",
    "disabled",
    "reply",
    "run",
    "choice",
    "options_from",
    "confirm",
    "columns",
    "alias",
    "input",
    "save_as",
    "then",
    "menu",
    "hide_menu",
    "public",
    "accept",
    "action",
    "type",
    "check",
    "invalid",
    "attempts",
];
pub const ALGORITHM_KEYS: &[&str] = &["expr", "http", "builtin", "timeout", "exposed", "title"];
pub const AUTH_KEYS: &[&str] = &[
    "required",
    "request",
    "confirm",
    "algorithm",
    "scenario",
    "responsible",
    "principal_kinds",
    "lookup",
    "contact",
];
pub const NOTIFICATION_KEYS: &[&str] = &["text", "buttons", "attachments"];

/// Parses one bot file. Problems go to `diagnostics`; the raw model holds whatever could be read.
pub fn parse(file: &Arc<SourceFile>, diagnostics: &mut Vec<Diagnostic>) -> Option<RawBot> {
    let (doc, errors) = DeTable::parse_recoverable(&file.text);
    let mut reader = Reader { file, diagnostics };
    if !errors.is_empty() {
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().to_string();
            reader.diagnostics.push(Diagnostic::new(
                file,
                span,
                Code::TomlSyntax,
                format!("invalid TOML: {message}"),
            ));
        }
        return None;
    }
    reader.find_tokens_in_table(doc.get_ref());
    let mut bot = reader.bot(doc.get_ref());
    // SHA-256 over an explicit encoding: the same on every build, machine and Rust release.
    let mut hasher = Sha256::new();
    hash_table(doc.get_ref(), &mut hasher);
    bot.content_hash = hasher.finalize().into();
    Some(bot)
}

/// Feeds the value tree to a hash: keys and values in file order, with their
/// types, so that comments and layout do not count but every value does.
/// Lengths are 8-byte little-endian, whatever the platform's `usize`.
fn hash_table(table: &DeTable, hasher: &mut Sha256) {
    hasher.update(b"{");
    for (k, v) in table.iter() {
        hasher.update((k.get_ref().len() as u64).to_le_bytes());
        hasher.update(k.get_ref().as_bytes());
        hash_value(v.get_ref(), hasher);
    }
    hasher.update(b"}");
}

fn hash_value(value: &DeValue, hasher: &mut Sha256) {
    let mut text = |tag: u8, s: &str| {
        hasher.update([tag]);
        hasher.update((s.len() as u64).to_le_bytes());
        hasher.update(s.as_bytes());
    };
    match value {
        DeValue::String(s) => text(b's', s),
        DeValue::Integer(i) => text(b'i', &format!("{}:{}", i.radix(), i.as_str())),
        DeValue::Float(f) => text(b'f', f.as_str()),
        DeValue::Boolean(b) => text(b'b', if *b { "1" } else { "0" }),
        DeValue::Datetime(d) => text(b'd', &d.to_string()),
        DeValue::Array(items) => {
            hasher.update(b"[");
            for i in items.iter() {
                hash_value(i.get_ref(), hasher);
            }
            hasher.update(b"]");
        }
        DeValue::Table(t) => hash_table(t, hasher),
    }
}

struct Reader<'a> {
    file: &'a Arc<SourceFile>,
    diagnostics: &'a mut Vec<Diagnostic>,
}

type Field<'t, 'i> = (&'t str, &'t Spanned<DeValue<'i>>);

impl Reader<'_> {
    fn push(&mut self, span: Range<usize>, code: Code, message: impl Into<String>) -> &mut Diagnostic {
        self.diagnostics.push(Diagnostic::new(self.file, span, code, message));
        self.diagnostics.last_mut().expect("just pushed")
    }

    /// The known fields of a table, reporting the unknown ones with a suggestion.
    fn fields<'t, 'i>(&mut self, table: &'t DeTable<'i>, known: &[&str], context: &str) -> Vec<Field<'t, 'i>> {
        let mut out = Vec::new();
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            if known.contains(&name) {
                out.push((name, value));
                continue;
            }
            let d = self.push(
                key.span(),
                Code::UnknownKey,
                format!("unknown key `{name}` in {context}"),
            );
            match suggest(name, known.iter().copied()) {
                Some(s) => d.help = Some(format!("did you mean `{s}`?")),
                None => d.help = Some(format!("the keys of {context} are: {}", known.join(", "))),
            }
        }
        out
    }

    fn wrong_type(&mut self, value: &Spanned<DeValue>, key: &str, wanted: &str) {
        let found = value.get_ref().type_str();
        self.push(
            value.span(),
            Code::WrongType,
            format!("`{key}` must be {wanted}, not {found}"),
        );
    }

    fn string(&mut self, value: &Spanned<DeValue>, key: &str) -> Option<Sp<String>> {
        match value.get_ref() {
            DeValue::String(s) => Some(Sp::new(s.to_string(), value.span())),
            _ => {
                self.wrong_type(value, key, "a string");
                None
            }
        }
    }

    fn boolean(&mut self, value: &Spanned<DeValue>, key: &str) -> Option<Sp<bool>> {
        match value.get_ref() {
            DeValue::Boolean(b) => Some(Sp::new(*b, value.span())),
            _ => {
                self.wrong_type(value, key, "true or false");
                None
            }
        }
    }

    fn integer(&mut self, value: &Spanned<DeValue>, key: &str) -> Option<Sp<i64>> {
        match value.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Some(Sp::new(n, value.span())),
                Err(_) => {
                    self.push(value.span(), Code::BadValue, format!("`{key}` is out of range"));
                    None
                }
            },
            _ => {
                self.wrong_type(value, key, "a whole number");
                None
            }
        }
    }

    /// A string or an array of strings. With `split_commas`, a single string is split on commas.
    fn words(&mut self, value: &Spanned<DeValue>, key: &str, split_commas: bool) -> Option<Words> {
        match value.get_ref() {
            DeValue::String(s) => {
                let words = if split_commas {
                    split_words(s, value.span())
                } else {
                    vec![Sp::new(s.trim().to_string(), value.span())]
                };
                Some(Sp::new(words, value.span()))
            }
            DeValue::Array(items) => {
                let mut words = Vec::new();
                for item in items.iter() {
                    if let Some(s) = self.string(item, key) {
                        words.push(Sp::new(s.value.trim().to_string(), s.span));
                    }
                }
                Some(Sp::new(words, value.span()))
            }
            _ => {
                self.wrong_type(value, key, "a string or an array of strings");
                None
            }
        }
    }

    fn table<'t, 'i>(&mut self, value: &'t Spanned<DeValue<'i>>, key: &str) -> Option<&'t DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Some(t),
            _ => {
                self.wrong_type(value, key, "a table");
                None
            }
        }
    }

    fn bot(&mut self, doc: &DeTable) -> RawBot {
        let mut raw = RawBot::default();
        for (key, value) in self.fields(doc, TOP_KEYS, "a bot file") {
            match key {
                "bot" => {
                    if let Some(t) = self.table(value, key) {
                        raw.bot = self.bot_section(t, value.span());
                    }
                }
                "texts" => {
                    if let Some(t) = self.table(value, key) {
                        for (k, v) in t.iter() {
                            if let Some(s) = self.string(v, k.get_ref()) {
                                raw.texts.push((Sp::new(k.get_ref().to_string(), k.span()), s));
                            }
                        }
                    }
                }
                "keyword" => match value.get_ref() {
                    DeValue::Array(items) => {
                        for item in items.iter() {
                            if let Some(t) = self.table(item, "keyword") {
                                raw.keywords.push(self.keyword(t, item.span()));
                            }
                        }
                    }
                    _ => self.wrong_type(value, key, "an array of tables (`[[keyword]]`)"),
                },
                "algorithms" => {
                    if let Some(t) = self.table(value, key) {
                        for (name, v) in t.iter() {
                            if let Some(body) = self.table(v, name.get_ref()) {
                                let name = Sp::new(name.get_ref().to_string(), name.span());
                                raw.algorithms.push(self.algorithm(name, body, v.span()));
                            }
                        }
                    }
                }
                "auth" => {
                    if let Some(t) = self.table(value, key) {
                        raw.auth = Some(self.auth(t, value.span()));
                    }
                }
                "notifications" => {
                    if let Some(t) = self.table(value, key) {
                        for (name, v) in t.iter() {
                            if let Some(body) = self.table(v, name.get_ref()) {
                                let name = Sp::new(name.get_ref().to_string(), name.span());
                                raw.notifications.push(self.notification(name, body, v.span()));
                            }
                        }
                    }
                }
                _ => unreachable!("known top-level key {key}"),
            }
        }
        raw
    }

    fn bot_section(&mut self, t: &DeTable, span: Range<usize>) -> RawBotSection {
        let mut s = RawBotSection {
            span,
            present: true,
            ..Default::default()
        };
        for (key, v) in self.fields(t, BOT_KEYS, "[bot]") {
            match key {
                "name" => {
                    s.name = self.string(v, key);
                    if s.name.is_none() {
                        s.mistyped.push("name");
                    }
                }
                "description" => s.description = self.string(v, key),
                "token_env" => {
                    s.token_env = self.string(v, key);
                    if s.token_env.is_none() {
                        s.mistyped.push("token_env");
                    }
                }
                "language" => s.language = self.string(v, key),
                "start" => s.start = self.words(v, key, false),
                "cancel" => s.cancel = self.words(v, key, false),
                "unknown" => s.unknown = self.string(v, key),
                "timezone" => s.timezone = self.string(v, key),
                "log_texts" => s.log_texts = self.boolean(v, key),
                "allow_code" => s.allow_code = self.boolean(v, key),
                _ => unreachable!(),
            }
        }
        s
    }

    fn keyword(&mut self, t: &DeTable, span: Range<usize>) -> RawKeyword {
        let mut k = RawKeyword {
            span,
            ..Default::default()
        };
        for (key, v) in self.fields(t, KEYWORD_KEYS, "a [[keyword]]") {
            match key {
                "id" => k.id = self.string(v, key),
                "match" => k.r#match = self.words(v, key, true),
                "parent" => k.parent = self.string(v, key),
                "disabled" => k.disabled = self.boolean(v, key),
                "reply" => k.reply = self.string(v, key),
                "run" => k.run = self.string(v, key),
                "choice" => k.choice = self.string(v, key),
                "options_from" => k.options_from = self.string(v, key),
                "confirm" => k.confirm = self.boolean(v, key),
                "columns" => k.columns = self.integer(v, key),
                "alias" => k.alias = self.string(v, key),
                "input" => k.input = self.string(v, key),
                "save_as" => k.save_as = self.string(v, key),
                "then" => k.then = self.string(v, key),
                "menu" => k.menu = self.menu(v),
                "hide_menu" => k.hide_menu = self.boolean(v, key),
                "public" => k.public = self.boolean(v, key),
                "accept" => k.accept = self.words(v, key, false),
                "action" => k.action = self.boolean(v, key),
                "type" => k.r#type = self.string(v, key),
                "check" => k.check = self.string(v, key),
                "invalid" => k.invalid = self.string(v, key),
                "attempts" => k.attempts = self.integer(v, key),
                _ => unreachable!(),
            }
        }
        k
    }

    /// `menu`: an array of strings (one button per row) or of arrays of strings (rows).
    fn menu(&mut self, v: &Spanned<DeValue>) -> Option<Sp<Vec<Vec<Sp<String>>>>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(v, "menu", "an array of strings or of arrays of strings");
            return None;
        };
        let mut rows = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::String(s) => rows.push(vec![Sp::new(s.to_string(), item.span())]),
                DeValue::Array(row) => {
                    let row: Vec<_> = row.iter().filter_map(|b| self.string(b, "menu")).collect();
                    rows.push(row);
                }
                _ => self.wrong_type(item, "menu", "a string or an array of strings"),
            }
        }
        Some(Sp::new(rows, v.span()))
    }

    fn algorithm(&mut self, name: Sp<String>, t: &DeTable, span: Range<usize>) -> RawAlgorithm {
        let context = format!("[algorithms.{}]", name.value);
        let mut a = RawAlgorithm {
            name,
            span,
            ..Default::default()
        };
        for (key, v) in self.fields(t, ALGORITHM_KEYS, &context) {
            match key {
                "expr" => a.expr = self.string(v, key),
                "http" => a.http = self.string(v, key),
                "builtin" => a.builtin = self.string(v, key),
                "timeout" => a.timeout = self.string(v, key),
                "exposed" => a.exposed = self.boolean(v, key),
                "title" => a.title = self.string(v, key),
                _ => unreachable!(),
            }
        }
        a
    }

    fn auth(&mut self, t: &DeTable, span: Range<usize>) -> RawAuth {
        let mut a = RawAuth {
            span,
            ..Default::default()
        };
        for (key, v) in self.fields(t, AUTH_KEYS, "[auth]") {
            match key {
                "required" => a.required = self.boolean(v, key),
                "request" => a.request = self.string(v, key),
                "confirm" => a.confirm = self.boolean(v, key),
                "algorithm" => a.algorithm = self.string(v, key),
                "scenario" => a.scenario = self.string(v, key),
                "responsible" => match v.get_ref() {
                    DeValue::Array(items) => {
                        let ids = items.iter().filter_map(|i| self.integer(i, key)).collect();
                        a.responsible = Some(Sp::new(ids, v.span()));
                    }
                    _ => self.wrong_type(v, key, "an array of Telegram user ids"),
                },
                "principal_kinds" => a.principal_kinds = self.words(v, key, false),
                "lookup" => a.lookup = self.string(v, key),
                "contact" => a.contact = self.boolean(v, key),
                _ => unreachable!(),
            }
        }
        a
    }

    fn notification(&mut self, name: Sp<String>, t: &DeTable, span: Range<usize>) -> RawNotification {
        let context = format!("[notifications.{}]", name.value);
        let mut n = RawNotification {
            name,
            span,
            ..Default::default()
        };
        for (key, v) in self.fields(t, NOTIFICATION_KEYS, &context) {
            match key {
                "text" => n.text = self.string(v, key),
                "attachments" => n.attachments = self.boolean(v, key),
                "buttons" => n.buttons = self.link_buttons(v),
                _ => unreachable!(),
            }
        }
        n
    }

    /// Rows of `{text, url}` buttons; a flat array means one button per row.
    fn link_buttons(&mut self, v: &Spanned<DeValue>) -> Option<Sp<Vec<Vec<RawLinkButton>>>> {
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(v, "buttons", "an array of rows of {text, url} buttons");
            return None;
        };
        let mut rows = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::Table(_) => rows.push(self.link_button(item).into_iter().collect()),
                DeValue::Array(row) => rows.push(row.iter().filter_map(|b| self.link_button(b)).collect()),
                _ => self.wrong_type(item, "buttons", "a {text, url} button or a row of them"),
            }
        }
        Some(Sp::new(rows, v.span()))
    }

    fn link_button(&mut self, v: &Spanned<DeValue>) -> Option<RawLinkButton> {
        let t = self.table(v, "button")?;
        let (mut text, mut url, mut action, mut value) = (None, None, None, None);
        for (key, val) in self.fields(t, &["text", "url", "action", "value"], "a button") {
            match key {
                "text" => text = self.string(val, key),
                "url" => url = self.string(val, key),
                "action" => action = self.string(val, key),
                _ => value = self.string(val, key),
            }
        }
        match (text, url, action, value) {
            (Some(text), Some(url), None, None) => Some(RawLinkButton {
                text,
                url: Some(url),
                action: None,
                value: None,
            }),
            (Some(text), None, Some(action), Some(value)) => Some(RawLinkButton {
                text,
                url: None,
                action: Some(action),
                value: Some(value),
            }),
            _ => {
                self.push(
                    v.span(),
                    Code::MissingKey,
                    "a button needs `text` and `url` (a link), or `text`, `action` and `value` (an action)",
                );
                None
            }
        }
    }

    fn find_tokens_in_table(&mut self, table: &DeTable) {
        for (_, v) in table.iter() {
            self.find_tokens(v);
        }
    }

    fn find_tokens(&mut self, value: &Spanned<DeValue>) {
        match value.get_ref() {
            DeValue::String(s) if looks_like_token(s) => {
                self.push(value.span(), Code::TokenLiteral, "this looks like a Telegram bot token")
                    .help = Some("never write a token in a bot file: put it in an environment variable and name that variable in `token_env`".into());
            }
            DeValue::Array(items) => items.iter().for_each(|i| self.find_tokens(i)),
            DeValue::Table(t) => self.find_tokens_in_table(t),
            _ => {}
        }
    }
}

/// Splits a `match` string on commas. Every word gets the whole string's span
/// (a diagnostic about one word underlines the string it is written in).
fn split_words(s: &str, span: Range<usize>) -> Vec<Sp<String>> {
    s.split(',')
        .map(|w| w.trim())
        .filter(|w| !w.is_empty())
        .map(|w| Sp::new(w.to_string(), span.clone()))
        .collect()
}
