//! The teloxide adapter: long polling, turning updates into engine events,
//! committing each update with its state change, and sending the outbox
//! within Telegram's limits.
//!
//! **Invariant:** an update's offset is confirmed to Telegram only after its
//! state change, its outgoing messages and its update id are committed in
//! one transaction; a redelivered update is recognised by its id and not
//! handled twice. **Invariant:** no token appears in any log line: every
//! error text from the Bot API client passes through [`redact`].

mod batch;
mod chats;
mod sender;
mod upkeep;
pub mod webhook;

pub use batch::Batcher;
pub use chats::{Arrived, Chats};
pub use sender::{Limits, run_sender};
pub use upkeep::run_upkeep;

use crate::algorithms::Builtins;
use crate::engine::{self, Event, Outgoing, User};
use crate::model::CompiledBot;
use crate::store::cache::StateCache;
use crate::store::commit::{self, Committed, Work};
use crate::store::outbox::Delivery;
use crate::store::sql::{Dialect, OutboxMessage, SqlStore, StoreError};
use chrono::{DateTime, FixedOffset};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use teloxide::prelude::*;
use teloxide::types::{AllowedUpdate, MaybeInaccessibleMessage, UpdateKind};
use tokio::sync::{Notify, mpsc, watch};

/// A clock, injected so that tests and benchmarks control time.
pub type Clock = Arc<dyn Fn() -> DateTime<FixedOffset> + Send + Sync>;

/// The real clock in the machine's offset.
pub fn system_clock() -> Clock {
    Arc::new(|| chrono::Local::now().fixed_offset())
}

/// Messages a user may send within [`FLOOD_WINDOW`] before being told to slow down.
pub const FLOOD_LIMIT: usize = 20;
pub const FLOOD_WINDOW: Duration = Duration::from_secs(60);

/// One bot being served.
pub struct ServedBot {
    pub id: String,
    /// The current definition; hot reload swaps it.
    pub definition: RwLock<Arc<CompiledBot>>,
    pub api: Bot,
    pub token: String,
    /// Wakes the sender to claim: the outbox got a message nobody sends yet.
    pub outbox: Notify,
    /// Messages this instance committed and sends straight from memory.
    to_send: mpsc::UnboundedSender<OutboxMessage>,
    to_send_rx: Mutex<Option<mpsc::UnboundedReceiver<OutboxMessage>>>,
    /// Recent message times per user, for the flood limit.
    flood: Mutex<HashMap<i64, Vec<DateTime<FixedOffset>>>>,
}

impl ServedBot {
    pub fn new(definition: CompiledBot, api: Bot, token: String) -> ServedBot {
        let (to_send, to_send_rx) = mpsc::unbounded_channel();
        ServedBot {
            to_send,
            to_send_rx: Mutex::new(Some(to_send_rx)),
            id: definition.id.clone(),
            definition: RwLock::new(Arc::new(definition)),
            api,
            token,
            outbox: Notify::new(),
            flood: Mutex::new(HashMap::new()),
        }
    }

    /// Hands committed messages to this bot's sender.
    pub fn send(&self, messages: Vec<OutboxMessage>) {
        for m in messages {
            let _ = self.to_send.send(m);
        }
    }

    pub fn current(&self) -> Arc<CompiledBot> {
        self.definition.read().expect("definition lock").clone()
    }

    /// Records a message and says whether it is over the limit, and whether it is the first one over.
    fn flood_check(&self, user: i64, now: DateTime<FixedOffset>) -> (bool, bool) {
        let mut flood = self.flood.lock().expect("flood lock");
        let times = flood.entry(user).or_default();
        let window = chrono::Duration::from_std(FLOOD_WINDOW).expect("small duration");
        times.retain(|t| now - *t < window);
        times.push(now);
        (times.len() > FLOOD_LIMIT, times.len() == FLOOD_LIMIT + 1)
    }
}

/// What the runtime shares between tasks.
pub struct Runtime {
    pub store: SqlStore,
    pub builtins: Builtins,
    pub clock: Clock,
    pub limits: Limits,
    pub shutdown: watch::Receiver<bool>,
    /// This instance's id: the owner of the messages it sends, renewed by heartbeat.
    pub instance: String,
    /// Sessions and registrations in memory, when this process alone writes the database (SQLite).
    pub cache: Option<StateCache>,
    /// The group commit of handled updates.
    pub commits: Batcher<Work, Result<Committed, StoreError>>,
    /// Delivery outcomes, written in batches.
    pub deliveries: Batcher<Delivery, ()>,
    /// How long an instance's lease lasts without a heartbeat.
    pub lease: Duration,
    /// Chats known to be recorded as having talked to their bot (saves a write per update).
    known_chats: Mutex<std::collections::HashSet<(String, i64)>>,
}

impl Runtime {
    /// Whether a chat still has to be recorded as one that talked to its bot.
    pub fn chat_unknown(&self, bot: &str, chat: i64) -> bool {
        let known = self.known_chats.lock().unwrap_or_else(|e| e.into_inner());
        !known.contains(&(bot.to_string(), chat))
    }

    /// Remembers that a chat is recorded.
    pub fn chat_recorded(&self, bot: &str, chat: i64) {
        let mut known = self.known_chats.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() > 1_000_000 {
            known.clear();
        }
        known.insert((bot.to_string(), chat));
    }
}

/// How the runtime is tuned (hidden flags of `run`, and tests).
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    pub commit_batch: usize,
    pub commit_linger: Duration,
    pub lease: Duration,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            commit_batch: 256,
            commit_linger: Duration::from_millis(2),
            lease: Duration::from_secs(3),
        }
    }
}

impl Runtime {
    /// The runtime's shared parts; starts the group commit and the delivery writer.
    pub fn new(
        store: SqlStore,
        builtins: Builtins,
        clock: Clock,
        limits: Limits,
        shutdown: watch::Receiver<bool>,
        tuning: Tuning,
    ) -> Arc<Runtime> {
        let instance = instance_id();
        let cache = (store.dialect == Dialect::Sqlite).then(StateCache::default);
        Arc::new_cyclic(|me: &std::sync::Weak<Runtime>| {
            let committer_store = store.clone();
            let me_commit = me.clone();
            let commits = Batcher::spawn(tuning.commit_batch, tuning.commit_linger, move |jobs: Vec<Work>| {
                let store = committer_store.clone();
                let runtime = me_commit.clone();
                async move {
                    let results = group_commit(&store, &jobs).await;
                    if let Some(cache) = runtime.upgrade().as_ref().and_then(|r| r.cache.as_ref()) {
                        for (work, result) in jobs.iter().zip(&results) {
                            if let (Work::Job(job), Ok(Committed::Messages { .. })) = (work, result) {
                                cache.committed(
                                    &job.bot,
                                    job.changes.sessions.iter().map(|(k, v)| (*k, v)),
                                    job.changes.registrations.iter().map(|(k, p, _, _)| (*k, p)),
                                );
                            }
                        }
                    }
                    results
                }
            });
            let writer_store = store.clone();
            let writer_shutdown = shutdown.clone();
            let deliveries = Batcher::spawn(512, Duration::ZERO, move |batch: Vec<Delivery>| {
                let store = writer_store.clone();
                let n = batch.len();
                let mut shutdown = writer_shutdown.clone();
                async move {
                    // A status that cannot be written is tried again: a message sent but not
                    // recorded would be sent again by whoever takes it over.
                    let mut wait = Duration::from_millis(100);
                    loop {
                        match store.record_deliveries(&batch).await {
                            Ok(()) => break,
                            Err(e) => {
                                tracing::error!(error = %e, "cannot record delivery outcomes; retrying");
                                tokio::select! {
                                    _ = tokio::time::sleep(wait) => {}
                                    _ = shutdown.changed() => {}
                                }
                                wait = (wait * 2).min(Duration::from_secs(5));
                            }
                        }
                    }
                    vec![(); n]
                }
            });
            Runtime {
                store,
                builtins,
                clock,
                limits,
                shutdown,
                instance,
                cache,
                commits,
                deliveries,
                lease: tuning.lease,
                known_chats: Mutex::new(Default::default()),
            }
        })
    }
}

/// Commits a batch of jobs; when the batch fails, each job on its own, so that one bad
/// job fails alone.
async fn group_commit(store: &SqlStore, jobs: &[Work]) -> Vec<Result<Committed, StoreError>> {
    match commit::commit_batch(store, jobs).await {
        Ok(results) => results.into_iter().map(Ok).collect(),
        Err(e) if jobs.len() == 1 => vec![Err(e)],
        Err(_) => {
            let mut results = Vec::with_capacity(jobs.len());
            for job in jobs {
                results.push(
                    commit::commit_batch(store, std::slice::from_ref(job))
                        .await
                        .map(|mut r| r.pop().expect("one result per job")),
                );
            }
            results
        }
    }
}

/// A new id for this instance: host, process and start time.
fn instance_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{}-{nanos:x}", host.trim(), std::process::id())
}

/// Hides a bot token (and anything shaped like one) in a text that may carry a request URL.
pub fn redact(text: &str, token: &str) -> String {
    let text = if token.is_empty() {
        text.to_string()
    } else {
        text.replace(token, "<token>")
    };
    crate::algorithms::redact_url(&text)
}

/// Long polling for one bot until shutdown. Each batch of updates is stored in the
/// inbox first; only then does the offset move past it (Telegram forgets them), and
/// then they go to their chats' queues.
pub async fn run_poller(runtime: Arc<Runtime>, chats: Arc<Chats>, bot: Arc<ServedBot>, poll_timeout: u32) {
    let mut offset: i32 = 0;
    let mut backoff = Duration::from_millis(500);
    let mut shutdown = runtime.shutdown.clone();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let request = bot
            .api
            .get_updates()
            .offset(offset)
            .timeout(poll_timeout)
            .allowed_updates(vec![AllowedUpdate::Message, AllowedUpdate::CallbackQuery]);
        let result = tokio::select! {
            r = request.send() => r,
            _ = shutdown.changed() => break,
        };
        let updates = match result {
            Ok(u) => {
                backoff = Duration::from_millis(500);
                u
            }
            Err(teloxide::RequestError::RetryAfter(s)) => {
                tracing::warn!(bot = %bot.id, seconds = s.seconds(), "getUpdates: Telegram asks to retry later");
                sleep_or_shutdown(s.duration(), &mut shutdown).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(bot = %bot.id, error = %redact(&e.to_string(), &bot.token), retry_in_ms = backoff.as_millis() as u64, "getUpdates failed");
                sleep_or_shutdown(backoff, &mut shutdown).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        let Some(last) = updates.iter().map(|u| u.id.0).max() else {
            continue;
        };
        let items: Vec<Arrived> = updates.into_iter().map(Arrived::from_update).collect();
        match chats.receive(&bot, items).await {
            Ok(()) => offset = last as i32 + 1,
            Err(e) => {
                // Not confirmed: Telegram gives the same updates again.
                tracing::error!(bot = %bot.id, error = %e, "cannot store received updates; they will be fetched again");
                sleep_or_shutdown(backoff, &mut shutdown).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
    tracing::info!(bot = %bot.id, "polling stopped");
}

async fn sleep_or_shutdown(d: Duration, shutdown: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = shutdown.changed() => {}
    }
}

/// The chat an update belongs to (0 for kinds without one).
pub fn chat_of(u: &Update) -> i64 {
    match &u.kind {
        UpdateKind::Message(m) => m.chat.id.0,
        UpdateKind::CallbackQuery(q) => q.message.as_ref().map(|m| m.chat().id.0).unwrap_or(q.from.id.0 as i64),
        _ => 0,
    }
}

/// An update as the engine sees it.
pub struct Incoming {
    pub update_id: u32,
    pub user: User,
    pub event: Event,
    pub callback: Option<String>,
}

/// Turns a Telegram update into an engine event; `None` for kinds the bots do not handle.
pub fn incoming(u: &Update) -> Option<Incoming> {
    let to_user = |from: &teloxide::types::User, chat: i64| User {
        id: from.id.0 as i64,
        chat,
        name: from.full_name(),
        username: from.username.clone(),
    };
    match &u.kind {
        UpdateKind::Message(m) => {
            let from = m.from.as_ref()?;
            let event = match m.text() {
                Some(t) => Event::Text(t.to_string()),
                None => attachment_of(m).map(Event::Attachment).unwrap_or(Event::Unsupported),
            };
            Some(Incoming {
                update_id: u.id.0,
                user: to_user(from, m.chat.id.0),
                event,
                callback: None,
            })
        }
        UpdateKind::CallbackQuery(q) => {
            let chat = match &q.message {
                Some(MaybeInaccessibleMessage::Regular(m)) => m.chat.id.0,
                Some(MaybeInaccessibleMessage::Inaccessible(m)) => m.chat.id.0,
                None => q.from.id.0 as i64,
            };
            Some(Incoming {
                update_id: u.id.0,
                user: to_user(&q.from, chat),
                event: Event::Button(q.data.clone().unwrap_or_default()),
                callback: Some(q.id.0.clone()),
            })
        }
        _ => None,
    }
}

/// A document, the largest size of a photo, a contact or a location, as an `input` takes it.
fn attachment_of(m: &teloxide::types::Message) -> Option<engine::Attachment> {
    if let Some(d) = m.document() {
        return Some(engine::Attachment::Document {
            file_id: d.file.id.0.clone(),
            name: d.file_name.clone().unwrap_or_default(),
            mime: d
                .mime_type
                .as_ref()
                .map(|m| m.to_string())
                .unwrap_or_else(|| "application/octet-stream".into()),
            size: u64::from(d.file.size),
        });
    }
    if let Some(largest) = m
        .photo()
        .and_then(|sizes| sizes.iter().max_by_key(|p| p.width * p.height))
    {
        return Some(engine::Attachment::Photo {
            file_id: largest.file.id.0.clone(),
            width: largest.width,
            height: largest.height,
        });
    }
    if let Some(c) = m.contact() {
        return Some(engine::Attachment::Contact {
            phone: c.phone_number.clone(),
            first_name: c.first_name.clone(),
            user_id: c.user_id.map(|u| u.0 as i64),
        });
    }
    m.location().map(|l| engine::Attachment::Location {
        latitude: l.latitude,
        longitude: l.longitude,
    })
}

pub(crate) fn too_many_requests(bot: &CompiledBot, user: &User, now: DateTime<FixedOffset>) -> Outgoing {
    let vars = indexmap::IndexMap::new();
    let ctx = crate::expr::Context {
        vars: &vars,
        now,
        tz: bot.timezone,
    };
    let text = crate::expr::render(bot.text("too_many_requests"), &ctx, true).unwrap_or_default();
    Outgoing {
        to: user.chat,
        text,
        keyboard: engine::Keyboard::None,
    }
}
