//! The raw model: what a bot file says, with the byte range of every value. Its
//! schemars attributes are the JSON Schema of bot files (`schema.rs`).

use std::ops::Range;

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
