//! The store's bottom layer: the types every other part of `store/` shares
//! (errors, times as stored, the group commit's work and results, outbox
//! messages, delivery outcomes). It imports nothing else from `store/`.

use crate::engine::{AuthRequest, File, Keyboard, Outgoing, Principal, Session};
use chrono::{DateTime, FixedOffset, Utc};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// Why the store could not do something. Nothing secret is in it (a URL's password is
/// hidden before it gets here).
#[derive(Debug)]
pub enum StoreError {
    /// sqlx failed (PostgreSQL; SQLite off the hot path): connection, SQL, constraint.
    Sqlx(sqlx::Error),
    /// rusqlite failed (SQLite's hot path).
    Sqlite(rusqlite::Error),
    /// A stored row that cannot be read as what it must be. Logged with its table and id
    /// when it is made ([`StoreError::corrupt`]).
    Corrupt {
        table: &'static str,
        id: String,
        problem: String,
    },
    /// The database cannot be opened, created or migrated.
    Setup(String),
    /// The group commit has stopped (the process is shutting down).
    Stopped,
}

impl StoreError {
    /// A corrupt row, logged as an error with its table and id.
    pub fn corrupt(table: &'static str, id: impl std::fmt::Display, problem: impl std::fmt::Display) -> StoreError {
        let (id, problem) = (id.to_string(), problem.to_string());
        tracing::error!(table, id = %id, problem = %problem, "a stored row is corrupt");
        StoreError::Corrupt { table, id, problem }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Sqlx(e) => write!(f, "database error: {e}"),
            StoreError::Sqlite(e) => write!(f, "database error: {e}"),
            StoreError::Corrupt { table, id, problem } => write!(f, "corrupt row {id} of {table}: {problem}"),
            StoreError::Setup(message) => f.write_str(message),
            StoreError::Stopped => f.write_str("the group commit has stopped"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Sqlx(e) => Some(e),
            StoreError::Sqlite(e) => Some(e),
            _ => None,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        StoreError::Sqlx(e)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Sqlite(e)
    }
}

/// A time as stored: RFC 3339 in UTC with milliseconds (so that text order is time order).
pub fn now_text(t: DateTime<FixedOffset>) -> String {
    t.with_timezone(&Utc)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A stored time read back; a text that is not one is a corrupt row of `table`.
pub fn stored_time(
    table: &'static str,
    id: impl std::fmt::Display,
    s: &str,
) -> Result<DateTime<FixedOffset>, StoreError> {
    DateTime::parse_from_rfc3339(s).map_err(|e| StoreError::corrupt(table, id, format!("time {s:?}: {e}")))
}

/// A session's JSON, as stored.
pub fn session_json(session: &Session) -> String {
    serde_json::to_string(session).expect("a session is plain data")
}

/// A stored session, decoded; one that cannot be is logged and dropped (the user starts
/// at the top level, as after a change of the bot that removed their place).
pub fn decode_session(bot: &str, chat: i64, data: &str) -> Option<Session> {
    match serde_json::from_str(data) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(bot, chat, error = %e, "a stored session cannot be decoded; starting at the top level");
            None
        }
    }
}

/// A received update, as stored.
#[derive(Debug, Clone)]
pub struct Received {
    pub update_id: i64,
    pub chat: i64,
    /// The update as Telegram sent it (JSON).
    pub payload: String,
}

/// A message waiting in the outbox.
#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub id: i64,
    pub chat: i64,
    pub text: String,
    pub keyboard: Keyboard,
    pub attachments: Vec<Attachment>,
    pub attempts: i64,
    /// Parts already acknowledged by Telegram: the text is part 0, then each attachment.
    pub parts_sent: i64,
    /// When this instance took it (from its own commit or by a claim).
    pub claimed_at: String,
    /// Part of a broadcast: sent after the replies to users who are talking to the bot.
    pub broadcast: bool,
    /// The runtime's lease term under which this instance took it (`runtime::Lease`); 0 as read.
    pub term: u64,
}

/// A file sent after a message's text.
pub use crate::engine::File as Attachment;

impl OutboxMessage {
    /// A reply just stored with `id`, taken by this instance at `at`.
    pub(crate) fn reply(id: i64, m: &Outgoing, at: &str) -> OutboxMessage {
        OutboxMessage {
            id,
            chat: m.to,
            text: m.text.clone(),
            keyboard: m.keyboard.clone(),
            attachments: m.files.clone(),
            attempts: 0,
            parts_sent: 0,
            claimed_at: at.to_string(),
            broadcast: false,
            term: 0,
        }
    }
}

/// The JSON of a keyboard and of attachments, as stored.
pub fn keyboard_json(keyboard: &Keyboard) -> String {
    serde_json::to_string(keyboard).expect("a keyboard is plain data")
}

pub fn files_json(files: &[File]) -> String {
    serde_json::to_string(files).expect("attachments are plain data")
}

/// What happened to a message, to be recorded.
#[derive(Debug, Clone)]
pub enum Delivery {
    Sent {
        id: i64,
        telegram_id: Option<i64>,
        parts: i64,
        at: DateTime<FixedOffset>,
    },
    /// Some parts (the text, attachments) were acknowledged, not all.
    PartSent {
        id: i64,
        parts: i64,
        telegram_id: Option<i64>,
    },
    /// Back to the queue, for any instance, after `due`.
    Retry {
        id: i64,
        attempts: i64,
        due: DateTime<FixedOffset>,
        error: String,
    },
    Failed {
        id: i64,
        attempts: i64,
        error: String,
        at: DateTime<FixedOffset>,
    },
    /// Telegram answered 403: the user blocked the bot or never started it.
    Blocked {
        id: i64,
        error: String,
        at: DateTime<FixedOffset>,
    },
    /// The text was replaced (escaped, after Telegram rejected its HTML).
    TextReplaced { id: i64, text: String },
    /// Handed back unsent (shutdown).
    Released { id: i64 },
}

/// One row of the insights log.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRow {
    pub bot: String,
    pub at: String,
    pub chat: i64,
    pub kind: &'static str,
    pub name: Option<String>,
    pub value: Option<String>,
    pub label: Option<String>,
    pub ms: Option<i64>,
    pub took: Option<String>,
}

/// What one engine step changed, to be committed with its update.
#[derive(Debug, Default)]
pub struct Changes {
    pub sessions: BTreeMap<(i64, i64), Session>,
    pub registrations: Vec<(i64, Principal, String, DateTime<FixedOffset>)>,
    /// Requests created in the step (stored as drafts until the commit) and requests decided in it.
    pub requests: HashMap<u64, AuthRequest>,
    pub created: Vec<u64>,
    pub decided: Vec<u64>,
}

/// One handled update (or an HTTP API step) to commit.
#[derive(Debug)]
pub struct Job {
    pub bot: String,
    /// The update's id; `None` for work that is not an update.
    pub update_id: Option<i64>,
    pub chat: i64,
    pub chat_name: String,
    /// Whether the chat must be recorded as one that talked to the bot.
    pub record_chat: bool,
    pub changes: Changes,
    pub out: Vec<Outgoing>,
    /// The instance that sends the messages straight from memory; `None` leaves them to a claim.
    pub owner: Option<String>,
    pub now: DateTime<FixedOffset>,
    /// The update's rows of the insights log, written with it (none when the log is off).
    pub insights: Vec<LogRow>,
    /// PostgreSQL: the chat's claim to let go in the same transaction, when this is the last
    /// update its worker knows of (a job that conflicts keeps it).
    pub release: Option<ReleaseAfter>,
}

/// A claim let go with a job, and where the commit says whether updates of the chat wait.
#[derive(Debug, Clone)]
pub struct ReleaseAfter {
    pub claim: ChatClaim,
    /// 0 until the commit: 1 released with nothing waiting, 2 released with updates waiting.
    pub outcome: std::sync::Arc<std::sync::atomic::AtomicU8>,
}

impl ReleaseAfter {
    pub fn new(claim: ChatClaim) -> ReleaseAfter {
        ReleaseAfter {
            claim,
            outcome: Default::default(),
        }
    }

    /// After the commit: `Some(waiting)` when the claim was let go.
    pub fn released(&self) -> Option<bool> {
        match self.outcome.load(std::sync::atomic::Ordering::SeqCst) {
            1 => Some(false),
            2 => Some(true),
            _ => None,
        }
    }
}

/// What a group commit takes: received updates to store in the inbox, or a handled update.
#[derive(Debug)]
pub enum Work {
    Receive(Receive),
    Job(Box<Job>),
    /// PostgreSQL: claim a chat for this instance, in the group commit so that claims share
    /// its transactions instead of one commit each.
    Claim(ChatClaim),
    /// PostgreSQL: let a claimed chat go, and say whether updates of the chat wait in the
    /// inbox (stored meanwhile by another instance, which left them to this one).
    Release(ChatClaim),
}

/// What a claim reads with the chat: the ids of its waiting updates (oldest first), and the
/// stored session of its user in a private chat (user = chat) and its registration, so
/// that the first step after the claim needs no read of its own.
#[derive(Debug, Clone, Default)]
pub struct ClaimedChat {
    pub waiting: Vec<i64>,
    pub session: Option<String>,
    pub registration: Option<Principal>,
}

/// A chat and the instance that claims it or lets it go.
#[derive(Debug, Clone)]
pub struct ChatClaim {
    pub bot: String,
    pub chat: i64,
    pub instance: String,
    pub now: DateTime<FixedOffset>,
    /// An owner whose heartbeat is older than this is gone: its claim may be taken over.
    pub alive_since: DateTime<FixedOffset>,
}

/// Updates received from Telegram, to be stored before Telegram is told they arrived.
#[derive(Debug)]
pub struct Receive {
    pub bot: String,
    pub updates: Vec<Received>,
    pub now: DateTime<FixedOffset>,
}

#[derive(Debug)]
pub enum Committed {
    /// Received updates stored; the ids that were new (a redelivery is stored once).
    Received(Vec<i64>),
    /// Committed. `to_send`: the messages the job's owner sends from memory; `queued`: how many
    /// were left to a claim instead.
    Messages {
        to_send: Vec<OutboxMessage>,
        queued: usize,
    },
    Duplicate,
    Conflict,
    /// A claim: `Some` when the chat is this instance's now, with what the claim read.
    Claimed(Option<ClaimedChat>),
    /// A release: whether updates of the chat wait in the inbox.
    Released {
        waiting: bool,
    },
}
