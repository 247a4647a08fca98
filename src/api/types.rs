//! The API's request and response bodies. The handlers read and write these
//! types, and the OpenAPI document is generated from them (utoipa): the
//! document cannot drift from what the handlers do.
//!
//! About 500 lines: every body of api.md, each small.

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

pub use crate::store::insights::{
    AlgorithmStats, ChoiceStats, Hour, InputStats, Insights, OptionStats, RecordHits, UnknownText,
};

/// A string, or a number written as one (`"id": 7` reads as `"7"`).
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        S(String),
        N(serde_json::Number),
    }
    Ok(match Either::deserialize(d)? {
        Either::S(s) => s,
        Either::N(n) => n.to_string(),
    })
}

fn optional_string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    string_or_number(d).map(Some)
}

/// A principal as a recipient: who the business system knows the user as.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PrincipalRef {
    pub kind: String,
    #[serde(deserialize_with = "string_or_number")]
    pub id: String,
}

/// A principal to register a user as (`name` is what the business system calls them).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct PrincipalIn {
    #[schema(min_length = 1, pattern = r"\S")]
    pub kind: String,
    #[serde(deserialize_with = "string_or_number")]
    #[schema(min_length = 1, pattern = r"\S")]
    pub id: String,
    #[schema(min_length = 1, pattern = r"\S")]
    pub name: String,
}

/// A principal as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PrincipalOut {
    pub kind: String,
    pub id: String,
    pub name: String,
}

/// Parts of a principal for an approval; what is missing defaults as an operator's
/// approval would: the bot's first principal kind, the user's key, the entered data.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct PrincipalPartial {
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "optional_string_or_number")]
    #[schema(value_type = Option<String>)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// One recipient: a chat that has talked to the bot, or a registered principal.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// A chat id (any chat that has talked to the bot; needs no registration).
    Key(i64),
    /// A registered user; 422 when nobody is registered as it.
    Principal(PrincipalRef),
}

/// Who a broadcast goes to.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Every user registered as a principal of this kind.
    Kind(String),
    Principals(Vec<PrincipalRef>),
    Keys(Vec<i64>),
    /// `true`: every registered user.
    All(bool),
}

/// An inline button under a message: a link (`text`, `url`), or an action (`text`,
/// `action`, `value`): pressing it runs the record whose `id` is `action` (marked
/// `action = true`) with `selected` = `value` (at most 1,000 characters, kept by the runtime).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ButtonIn {
    pub text: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

/// A file sent after the text: exactly one of its content in base64, a URL Telegram fetches,
/// or the `file_id` of a file Telegram already has (one a user sent to an `accept` step).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct FileIn {
    pub name: String,
    #[serde(default)]
    pub content_base64: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub file_id: Option<String>,
}

/// The schema of `data`: an object (any JSON is accepted) within the limits of
/// `crate::limits`, which the document states as `maxProperties` and in words.
fn data_schema() -> utoipa::openapi::Object {
    use crate::limits::{MAX_DATA_BYTES, MAX_DATA_DEPTH, MAX_DATA_VALUES};
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .max_properties(Some(MAX_DATA_VALUES - 1))
        .description(Some(format!(
            "The template's `data` variable: any JSON of at most {MAX_DATA_BYTES} bytes as written, \
             {MAX_DATA_VALUES} values (every object, list and scalar at any depth, itself included) \
             and {MAX_DATA_DEPTH} levels of nesting; more is 400 with `field` `data`."
        )))
        .build()
}

/// Defines a request body: `to` of the given type, then the fields of a message's content
/// (written out, not flattened, so that a bad field is named by its path).
macro_rules! with_content {
    ($(#[$doc:meta])* $name:ident, $to:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Deserialize, ToSchema)]
        pub struct $name {
            pub to: $to,
            /// HTML text; or `template` with `data`.
            #[serde(default)]
            pub text: Option<String>,
            /// A `[notifications.<template>]` of the bot file.
            #[serde(default)]
            pub template: Option<String>,
            /// The template's `data` variable, within the bounds of `crate::limits` (the
            /// document states them: `data_schema`).
            #[serde(default)]
            #[schema(schema_with = data_schema)]
            pub data: Option<Box<serde_json::value::RawValue>>,
            /// Rows of inline buttons; they replace a template's buttons.
            #[serde(default)]
            pub buttons: Option<Vec<Vec<ButtonIn>>>,
            #[serde(default)]
            pub attachments: Option<Vec<FileIn>>,
            /// RFC 3339: send then, not now.
            #[serde(default)]
            #[schema(format = DateTime)]
            pub send_at: Option<String>,
            /// A second request with the same key returns the first one's result.
            #[serde(default)]
            #[schema(min_length = 1, max_length = 200)]
            pub idempotency_key: Option<String>,
        }

        impl $name {
            /// The recipient and the content.
            pub fn split(self) -> ($to, Content) {
                (
                    self.to,
                    Content {
                        text: self.text,
                        template: self.template,
                        data: self.data,
                        buttons: self.buttons,
                        attachments: self.attachments,
                        send_at: self.send_at,
                        idempotency_key: self.idempotency_key,
                    },
                )
            }
        }
    };
}

with_content!(
    /// One message to one recipient.
    MessageIn,
    Recipient
);
with_content!(
    /// One message to many users.
    BroadcastIn,
    Audience
);

/// What a message says and carries; shared by messages, broadcasts and `botwright send`.
#[derive(Debug, Clone, Default)]
pub struct Content {
    pub text: Option<String>,
    pub template: Option<String>,
    /// As the request wrote it: parsed only after its size is checked ([`super::compose::check`]).
    pub data: Option<Box<serde_json::value::RawValue>>,
    pub buttons: Option<Vec<Vec<ButtonIn>>>,
    pub attachments: Option<Vec<FileIn>>,
    pub send_at: Option<String>,
    pub idempotency_key: Option<String>,
}

/// A stored message: `id` is the first message's, `ids` every chat's (a principal
/// registered from several chats gets one in each).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageAccepted {
    pub id: i64,
    pub ids: Vec<i64>,
    /// `scheduled` or `queued` (or the first request's status, for a repeated idempotency key).
    pub status: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct KeyOut {
    pub key: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageOut {
    pub id: i64,
    pub to: KeyOut,
    pub text: String,
    /// `scheduled`, `queued`, `sent`, `blocked`, `failed` or `cancelled`.
    pub status: String,
    #[schema(format = DateTime)]
    pub send_at: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    pub attempts: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub sent_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telegram_message_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatusOut {
    pub id: i64,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BroadcastAccepted {
    pub id: i64,
    /// The chats it goes to.
    pub recipients: i64,
    /// Keys (numbers) and principals (`{kind, id}`) that resolve to no chat.
    #[schema(value_type = Vec<Object>)]
    pub unknown: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Counts {
    pub scheduled: i64,
    pub queued: i64,
    pub sent: i64,
    pub blocked: i64,
    pub failed: i64,
    pub cancelled: i64,
}

impl Counts {
    /// Adds `n` messages in the status the API shows.
    pub fn add(&mut self, status: &str, n: i64) {
        match status {
            "scheduled" => self.scheduled += n,
            "queued" => self.queued += n,
            "sent" => self.sent += n,
            "blocked" => self.blocked += n,
            "failed" => self.failed += n,
            "cancelled" => self.cancelled += n,
            _ => {}
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BroadcastOut {
    pub id: i64,
    pub recipients: i64,
    pub counts: Counts,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BroadcastCancelled {
    pub id: i64,
    /// How many messages were cancelled now.
    pub cancelled: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserOut {
    pub key: i64,
    pub name: String,
    pub principal: PrincipalOut,
    #[schema(format = DateTime)]
    pub registered_at: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct UserIn {
    pub principal: PrincipalIn,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserRegistered {
    pub key: i64,
    pub principal: PrincipalOut,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuthRequestOut {
    pub id: i64,
    pub key: i64,
    pub name: String,
    pub data: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ApproveIn {
    #[serde(default)]
    pub principal: Option<PrincipalPartial>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct RejectIn {
    #[schema(min_length = 1, pattern = r"\S")]
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    /// `ok`; with 503, `starting` until every bot is served, `stopping` once asked to stop,
    /// or `database_unreachable`.
    pub status: String,
}

// The refusals most endpoints share, for the document only: handlers answer them through
// `ApiError`, so these types are never built.

/// 401 and 404, which every endpoint under a bot may answer.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)]
pub enum Refused {
    #[response(status = 401, description = "No valid bearer token")]
    Unauthorized(ErrorBody),
    #[response(status = 404, description = "No such bot, or nothing with that id or key")]
    NotFound(ErrorBody),
}

/// 400: a malformed body field, path segment or query parameter.
#[derive(utoipa::IntoResponses)]
#[response(status = 400, description = "A malformed field")]
#[allow(dead_code)]
pub struct Malformed(ErrorBody);

/// 413: a body over the 30 MB limit.
#[derive(utoipa::IntoResponses)]
#[response(status = 413, description = "The body is over 30 MB")]
#[allow(dead_code)]
pub struct TooLarge(ErrorBody);

/// Every error: `{"error": {"code", "message", "field"?}}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `bad_request`, `unauthorized`, `not_found`, `conflict`, `unprocessable`, `too_large`,
    /// `timeout` (the body stopped arriving), `internal`.
    pub code: String,
    pub message: String,
    /// The request field at fault, as a path such as `to.key` or `buttons[0][1].url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

// ----- operators and the console -----

/// Who the token belongs to.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeOut {
    pub name: String,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
}

/// An operator as listed (never their token).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OperatorOut {
    pub name: String,
    pub role: String,
    pub created_at: String,
}

/// A new operator.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct OperatorIn {
    /// Letters, digits, `_`, `-` and `.`, up to 64 characters; not `api`.
    pub name: String,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
}

/// The operator just added, with their token: shown this once, only its hash is kept.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OperatorAdded {
    pub name: String,
    pub role: String,
    pub token: String,
}

/// A row of the audit log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditOut {
    pub id: i64,
    pub at: String,
    pub operator: String,
    /// The route's verb and noun: `approve auth-request`, `send message`, `delete user`…
    pub action: String,
    pub bot: Option<String>,
    /// The id, key or name the call acted on.
    pub object: Option<String>,
    pub detail: String,
}

/// A notification of a bot file, as the console composes it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificationOut {
    pub name: String,
    /// The `data` fields its templates read.
    pub fields: Vec<String>,
    pub buttons: bool,
    pub attachments: bool,
}

/// A bot this process serves.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BotOut {
    pub id: String,
    pub name: String,
    /// The principal kinds of its `[auth]`.
    pub kinds: Vec<String>,
    pub notifications: Vec<NotificationOut>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TodayOut {
    pub updates: i64,
    pub users: i64,
    pub algorithm_failures: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WaitingOut {
    pub scheduled: i64,
    pub queued: i64,
    pub failed: i64,
}

/// The console's overview of a bot: today (in the bot's time zone, else UTC), the messages
/// waiting or failed, and updates per hour over the last 24 hours (hours with updates).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OverviewOut {
    pub bot: String,
    pub today: TodayOut,
    pub messages: WaitingOut,
    pub hourly: Vec<Hour>,
}

/// A row of the broadcasts list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BroadcastRowOut {
    pub id: i64,
    pub created_at: String,
    pub recipients: i64,
    pub counts: Counts,
}
