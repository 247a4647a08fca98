//! The teloxide adapter: long polling, turning updates into engine events,
//! committing each update with its state change, and sending the outbox
//! within Telegram's limits.
//!
//! **Invariant:** an update's offset is confirmed to Telegram only after its
//! state change, its outgoing messages and its update id are committed in
//! one transaction; a redelivered update is recognised by its id and not
//! handled twice. **Invariant:** no token appears in any log line: every
//! error text from the Bot API client passes through [`redact`].

mod sender;
pub mod webhook;

pub use sender::{Limits, run_sender};

use crate::algorithms::Builtins;
use crate::engine::{self, Event, Outgoing, User};
use crate::model::CompiledBot;
use crate::store::buffered::{BufferedWorld, CommitError};
use crate::store::sql::SqlStore;
use chrono::{DateTime, FixedOffset};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use teloxide::prelude::*;
use teloxide::types::{AllowedUpdate, MaybeInaccessibleMessage, UpdateKind};
use tokio::sync::{Notify, watch};

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
    /// Wakes the sender when the outbox gets a message.
    pub outbox: Notify,
    /// Recent message times per user, for the flood limit.
    flood: Mutex<HashMap<i64, Vec<DateTime<FixedOffset>>>>,
}

impl ServedBot {
    pub fn new(definition: CompiledBot, api: Bot, token: String) -> ServedBot {
        ServedBot {
            id: definition.id.clone(),
            definition: RwLock::new(Arc::new(definition)),
            api,
            token,
            outbox: Notify::new(),
            flood: Mutex::new(HashMap::new()),
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

/// Long polling for one bot until shutdown. The offset advances only past committed updates.
pub async fn run_poller(runtime: Arc<Runtime>, bot: Arc<ServedBot>, poll_timeout: u32) {
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
        if updates.is_empty() {
            continue;
        }
        // Updates of one chat are handled in order; different chats concurrently.
        let mut by_chat: HashMap<i64, Vec<Update>> = HashMap::new();
        let last = updates.iter().map(|u| u.id.0).max().unwrap_or(0);
        for u in updates {
            by_chat.entry(chat_of(&u)).or_default().push(u);
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (_, chat_updates) in by_chat {
            let runtime = runtime.clone();
            let bot = bot.clone();
            tasks.spawn(async move {
                for u in chat_updates {
                    let id = u.id.0;
                    if let Err(e) = handle_update(&runtime, &bot, u).await {
                        tracing::error!(bot = %bot.id, update = id, error = %e, "an update could not be stored; it will be handled again");
                        return false;
                    }
                }
                true
            });
        }
        let mut all_ok = true;
        while let Some(done) = tasks.join_next().await {
            all_ok &= done.unwrap_or(false);
        }
        if all_ok {
            offset = last as i32 + 1;
        } else {
            // Not confirmed: the same updates come again; the handled ones are skipped by id.
            sleep_or_shutdown(backoff, &mut shutdown).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
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

fn chat_of(u: &Update) -> i64 {
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
                None => Event::Unsupported,
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

/// Handles one update: engine step, state, outbox and update id in one transaction.
pub async fn handle_update(runtime: &Arc<Runtime>, bot: &Arc<ServedBot>, update: Update) -> Result<(), String> {
    let Some(incoming) = incoming(&update) else {
        return Ok(());
    };
    let now = (runtime.clock)();
    let started = std::time::Instant::now();
    let definition = bot.current();
    let (over, first_over) = bot.flood_check(incoming.user.id, now);
    let outcome = {
        let runtime = runtime.clone();
        let bot_id = bot.id.clone();
        let user = incoming.user.clone();
        let event = incoming.event.clone();
        let update_id = incoming.update_id;
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || -> Result<bool, sqlx::Error> {
            // One chat's updates are handled one at a time, across instances too.
            let lock = handle
                .block_on(runtime.store.lock_chat(&bot_id, user.chat))
                .map_err(|e| sqlx::Error::Protocol(e.0))?;
            let result = (|| {
                // A conflicting decision elsewhere means handling the update again on fresh state.
                for _ in 0..5 {
                    let mut world = BufferedWorld::new(&runtime.store, &bot_id, handle.clone(), &runtime.builtins);
                    if world.already_handled(update_id as i64) {
                        return Ok(false);
                    }
                    let out: Vec<Outgoing> = if over {
                        // Over the flood limit: told once, then ignored until the window passes.
                        if first_over {
                            vec![too_many_requests(&definition, &user, now)]
                        } else {
                            Vec::new()
                        }
                    } else {
                        engine::handle(&definition, &mut world, &user, &event, now)
                    };
                    match world.commit(Some(update_id as i64), &user, &out, now) {
                        Ok(()) => return Ok(!out.is_empty()),
                        Err(CommitError::Duplicate) => return Ok(false),
                        Err(CommitError::Conflict) => continue,
                        Err(CommitError::Database(e)) => return Err(e),
                    }
                }
                Err(sqlx::Error::Protocol(
                    "the update kept conflicting with decisions made elsewhere".into(),
                ))
            })();
            if let Some(lock) = lock {
                handle.block_on(lock.release());
            }
            result
        })
        .await
        .map_err(|e| format!("the handler panicked: {e}"))?
    };
    crate::metrics::HANDLING_MICROS.add(started.elapsed().as_micros() as u64);
    match outcome {
        Ok(queued) => {
            crate::metrics::UPDATES_HANDLED.inc();
            if queued {
                bot.outbox.notify_one();
            }
        }
        Err(e) => return Err(e.to_string()),
    }
    // Every callback query is answered, so the user's button stops spinning.
    if let Some(id) = incoming.callback
        && let Err(e) = bot
            .api
            .answer_callback_query(teloxide::types::CallbackQueryId(id))
            .await
    {
        tracing::debug!(bot = %bot.id, error = %redact(&e.to_string(), &bot.token), "answerCallbackQuery failed");
    }
    Ok(())
}

fn too_many_requests(bot: &CompiledBot, user: &User, now: DateTime<FixedOffset>) -> Outgoing {
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
