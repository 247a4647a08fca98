//! Per-chat handling: updates of one chat one at a time and in order, chats
//! concurrently, so that a slow algorithm delays only its own chat.
//!
//! On SQLite one process serves the database: a chat's queue in memory is
//! the order. On PostgreSQL several instances share it: the worker of a chat
//! claims the chat (a row, so no connection is held while its algorithms run)
//! and handles what the inbox holds for the chat, oldest first, whichever
//! instance stored it.
//!
//! **Invariant:** one bot runs at most `STEPS_PER_BOT` engine steps at once;
//! its other chats wait for a permit as async tasks, so a bot whose business
//! system hangs cannot take the blocking threads other bots and the API need.
//!
//! **Invariant:** an update is handled only after it is in the inbox, and
//! leaves it handled, or `poison` after three failed attempts or one panic
//! (logged with the bot and the update id, counted in the metrics): a bad
//! update never stops its bot. The engine step runs under `catch_unwind`.
//!
//! Why one file of about 600 lines: the two ways of draining a chat (SQLite's queue,
//! PostgreSQL's claim), the step and its commit share the per-chat state and the
//! invariants above; split, each part would need the others' private details.

use super::{Runtime, ServedBot, incoming, too_many_requests};
use crate::algorithms::Runner;
use crate::engine;
use crate::store::buffered::BufferedWorld;
use crate::store::insights;
use crate::store::sql::{Dialect, StoreError};
use crate::store::types::{ChatClaim, ClaimedChat, Committed, Job, Receive, Received, ReleaseAfter, Work};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use teloxide::prelude::Requester;
use teloxide::types::Update;

/// Attempts at an update before it is given up as poison.
pub const MAX_ATTEMPTS: i64 = 3;

/// A received update: as stored, and parsed when it came from this process.
#[derive(Debug, Clone)]
pub struct Arrived {
    pub stored: Received,
    pub parsed: Option<Box<Update>>,
}

impl Arrived {
    pub fn from_update(u: Update) -> Arrived {
        let payload = serde_json::to_string(&u).unwrap_or_default();
        Arrived {
            stored: Received {
                update_id: i64::from(u.id.0),
                chat: super::chat_of(&u),
                payload,
            },
            parsed: Some(Box::new(u)),
        }
    }
}

/// A private chat's state as its claim read it: the stored session and the registration.
type Seed = (Option<String>, Option<crate::engine::Principal>);

/// Why one attempt at an update failed.
enum Failure {
    /// The engine panicked: the update is given up at once.
    Panic(String),
    /// A database error or the like: tried again.
    Error(String),
}

type Key = (String, i64);

pub struct Chats {
    runtime: Arc<Runtime>,
    bots: HashMap<String, Arc<ServedBot>>,
    queues: Mutex<HashMap<Key, VecDeque<Arrived>>>,
}

impl Chats {
    pub fn new(runtime: Arc<Runtime>, bots: &[Arc<ServedBot>]) -> Arc<Chats> {
        Arc::new(Chats {
            runtime,
            bots: bots.iter().map(|b| (b.id.clone(), b.clone())).collect(),
            queues: Mutex::new(HashMap::new()),
        })
    }

    fn shared_database(&self) -> bool {
        self.runtime.store.dialect == Dialect::Postgres
    }

    /// Stores received updates in the inbox (one transaction), then queues the new ones
    /// for their chats. `Ok` means they are stored: Telegram may forget them.
    pub async fn receive(self: &Arc<Self>, bot: &Arc<ServedBot>, updates: Vec<Arrived>) -> Result<(), StoreError> {
        let work = Work::Receive(Receive {
            bot: bot.id.clone(),
            updates: updates.iter().map(|u| u.stored.clone()).collect(),
            now: (self.runtime.clock)(),
        });
        let fresh = match self.runtime.commits.submit(work).await {
            Some(Ok(Committed::Received(fresh))) => fresh,
            Some(Ok(_)) => Vec::new(),
            Some(Err(e)) => return Err(e),
            None => return Err(StoreError::Stopped),
        };
        for u in updates {
            if fresh.contains(&u.stored.update_id) {
                self.dispatch(bot, u);
            }
        }
        Ok(())
    }

    /// Whether the runtime is stopping: nothing new should be taken in.
    pub fn stopping(&self) -> bool {
        *self.runtime.shutdown.borrow()
    }

    /// Queues an update for its chat, starting the chat's worker if it has none.
    pub fn dispatch(self: &Arc<Self>, bot: &Arc<ServedBot>, update: Arrived) {
        let key = (bot.id.clone(), update.stored.chat);
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(queue) = queues.get_mut(&key) {
            queue.push_back(update);
            return;
        }
        queues.insert(key.clone(), VecDeque::from([update]));
        drop(queues);
        let chats = self.clone();
        let bot = bot.clone();
        tokio::spawn(async move { chats.work(bot, key.1, false).await });
    }

    /// Handles a chat's waiting updates when its instance may have died (PostgreSQL): only
    /// if no other worker holds the chat.
    pub fn rescue(self: &Arc<Self>, bot: &str, chat: i64) {
        let Some(bot) = self.bots.get(bot).cloned() else {
            return;
        };
        let key = (bot.id.clone(), chat);
        {
            let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
            if queues.contains_key(&key) {
                return;
            }
            queues.insert(key, VecDeque::new());
        }
        let chats = self.clone();
        tokio::spawn(async move { chats.work(bot, chat, true).await });
    }

    /// At start: queues what a crash left in the inbox (SQLite; on PostgreSQL the
    /// rescue in the upkeep finds it).
    pub async fn resume(self: &Arc<Self>) -> Result<usize, StoreError> {
        if self.shared_database() {
            return Ok(0);
        }
        let mut n = 0;
        for bot in self.bots.values() {
            for stored in self.runtime.store.all_waiting_updates(&bot.id).await? {
                n += 1;
                self.dispatch(bot, Arrived { stored, parsed: None });
            }
        }
        Ok(n)
    }

    /// Waits (at most `limit`) until no chat has a worker: at a graceful stop, after
    /// receiving has stopped, so that what was received is handled.
    pub async fn wait_idle(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if self.queues.lock().unwrap_or_else(|e| e.into_inner()).is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tracing::warn!("stopping with chats still being handled; their updates stay in the inbox");
    }

    /// The worker of one chat: runs until its queue is empty.
    async fn work(self: Arc<Self>, bot: Arc<ServedBot>, chat: i64, rescue: bool) {
        let key = (bot.id.clone(), chat);
        let mut first = true;
        loop {
            let batch: Vec<Arrived> = {
                let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
                let queue = queues.entry(key.clone()).or_default();
                if queue.is_empty() && !(first && rescue) {
                    queues.remove(&key);
                    return;
                }
                queue.drain(..).collect()
            };
            first = false;
            if self.shared_database() {
                self.drain_shared(&bot, chat, batch).await;
            } else {
                for update in batch {
                    self.handle(&bot, update, None, None).await;
                }
            }
        }
    }

    /// PostgreSQL: under the chat's claim, handles what the inbox holds for the chat. A chat
    /// another instance holds is left to it: that instance looks at the inbox again as it
    /// lets the chat go, so an update stored meanwhile is not left behind.
    ///
    /// The claim and the release go through the group commit (they share its transactions);
    /// the release answers whether an update waits, so a drain costs one inbox read when
    /// nothing else arrived. `batch` holds the updates this instance received and parsed:
    /// they are handled from memory, in their order among the inbox's.
    async fn drain_shared(&self, bot: &Arc<ServedBot>, chat: i64, batch: Vec<Arrived>) {
        const PAGE: i64 = 50;
        let runtime = &self.runtime;
        let store = &runtime.store;
        let mut parsed: HashMap<i64, Option<Box<Update>>> =
            batch.into_iter().map(|a| (a.stored.update_id, a.parsed)).collect();
        let mut wait = Duration::from_millis(100);
        loop {
            let claimed = match self.claim(bot, chat).await {
                Ok(Some(claimed)) => claimed,
                // Another instance holds the chat: it handles what waits.
                Ok(None) => return,
                Err(e) => {
                    if *runtime.shutdown.borrow() {
                        return;
                    }
                    tracing::error!(bot = %bot.id, chat, error = %e, "cannot claim a chat; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            // The claim read what waits: when it is all in memory, it is handled from there,
            // the first step with the state the claim read too.
            let in_memory = !claimed.waiting.is_empty()
                && (claimed.waiting.len() as i64) < PAGE
                && claimed.waiting.iter().all(|id| matches!(parsed.get(id), Some(Some(_))));
            // The last update known lets the chat go in its own commit.
            let mut released = None;
            if in_memory {
                let mut seed = Some((claimed.session, claimed.registration));
                let last = claimed.waiting.last().copied();
                for id in claimed.waiting {
                    let update = parsed.remove(&id).flatten();
                    let stored = Received {
                        update_id: id,
                        chat,
                        payload: String::new(),
                    };
                    let release = (Some(id) == last).then(|| self.chat_claim(bot, chat));
                    released = self
                        .handle(bot, Arrived { stored, parsed: update }, seed.take(), release)
                        .await;
                }
            } else {
                loop {
                    let waiting = match store.waiting_updates(&bot.id, chat, PAGE).await {
                        Ok(w) => w,
                        Err(e) => {
                            // They stay in the inbox; the rescue (or the next start) handles them.
                            tracing::error!(bot = %bot.id, chat, error = %e, "cannot read a chat's updates");
                            break;
                        }
                    };
                    let full = waiting.len() as i64 == PAGE;
                    let last = waiting.last().map(|w| w.update_id).filter(|_| !full);
                    for stored in waiting {
                        let known = parsed.remove(&stored.update_id).flatten();
                        let release = (Some(stored.update_id) == last).then(|| self.chat_claim(bot, chat));
                        released = self.handle(bot, Arrived { stored, parsed: known }, None, release).await;
                    }
                    if !full {
                        break;
                    }
                }
            }
            // Let go here unless the last update's commit did; what another instance stored
            // while this one held the chat is handled then.
            let released = match released {
                Some(waiting) => Some(waiting),
                None => self.release(bot, chat).await,
            };
            match released {
                Some(true) => continue,
                _ => return,
            }
        }
    }

    fn chat_claim(&self, bot: &ServedBot, chat: i64) -> ChatClaim {
        let runtime = &self.runtime;
        let now = (runtime.clock)();
        ChatClaim {
            bot: bot.id.clone(),
            chat,
            instance: runtime.instance.clone(),
            now,
            alive_since: runtime.lease.stale_before(now),
        }
    }

    /// Claims a chat through the group commit: `Some` with what the claim read when the chat
    /// is this instance's now.
    async fn claim(&self, bot: &ServedBot, chat: i64) -> Result<Option<ClaimedChat>, StoreError> {
        match self
            .runtime
            .commits
            .submit(Work::Claim(self.chat_claim(bot, chat)))
            .await
        {
            Some(Ok(Committed::Claimed(claimed))) => Ok(claimed),
            Some(Ok(_)) => Ok(None),
            Some(Err(e)) => Err(e),
            None => Err(StoreError::Stopped),
        }
    }

    /// Lets a claimed chat go; whether updates of the chat wait (`None` when the release
    /// failed: it is tried again in the background, since a claim of a live instance is
    /// never taken over, and the waiting updates go to whoever claims the chat next).
    async fn release(&self, bot: &Arc<ServedBot>, chat: i64) -> Option<bool> {
        let released = match self
            .runtime
            .commits
            .submit(Work::Release(self.chat_claim(bot, chat)))
            .await
        {
            Some(Ok(Committed::Released { waiting })) => Ok(waiting),
            Some(Ok(_)) => Ok(false),
            Some(Err(e)) => Err(e),
            None => Err(StoreError::Stopped),
        };
        match released {
            Ok(waiting) => Some(waiting),
            Err(e) => {
                tracing::error!(bot = %bot.id, chat, error = %e, "cannot let a chat go; retrying");
                let runtime = self.runtime.clone();
                let bot_id = bot.id.clone();
                tokio::spawn(async move {
                    let mut wait = Duration::from_millis(200);
                    loop {
                        tokio::time::sleep(wait).await;
                        match runtime.store.release_chat(&bot_id, chat, &runtime.instance).await {
                            Ok(()) => return,
                            Err(e) if wait >= Duration::from_secs(5) => {
                                tracing::error!(bot = %bot_id, chat, error = %e, "cannot let a chat go; retrying")
                            }
                            Err(_) => {}
                        }
                        wait = (wait * 2).min(Duration::from_secs(30));
                    }
                });
                None
            }
        }
    }

    /// Handles one update: attempts, then gives it up as poison.
    /// `release`: the chat's claim to let go with the update's commit; the answer is whether
    /// updates of the chat wait, when it was let go.
    async fn handle(
        &self,
        bot: &Arc<ServedBot>,
        update: Arrived,
        seed: Option<Seed>,
        release: Option<ChatClaim>,
    ) -> Option<bool> {
        let release = release.map(ReleaseAfter::new);
        self.handle_one(bot, update, seed, release.clone()).await;
        release.and_then(|r| r.released())
    }

    async fn handle_one(
        &self,
        bot: &Arc<ServedBot>,
        update: Arrived,
        seed: Option<Seed>,
        release: Option<ReleaseAfter>,
    ) {
        let id = update.stored.update_id;
        let parsed = match update.parsed {
            Some(u) => Ok(*u),
            None => serde_json::from_str::<Update>(&update.stored.payload),
        };
        let parsed = match parsed {
            Ok(u) => u,
            Err(e) => {
                return self
                    .give_up(bot, id, &format!("the stored update cannot be read: {e}"))
                    .await;
            }
        };
        let now = (self.runtime.clock)();
        let flood = incoming(&parsed).map(|i| bot.flood_check(i.user.id, now));
        let mut attempts = 0;
        let mut seed = seed;
        loop {
            attempts += 1;
            match self.attempt(bot, &parsed, flood, seed.take(), release.clone()).await {
                Ok(()) => return,
                Err(Failure::Panic(why)) => return self.give_up(bot, id, &why).await,
                Err(Failure::Error(_)) if *self.runtime.shutdown.borrow() => {
                    // Stopping: the update stays in the inbox for the next start, not poison.
                    return;
                }
                Err(Failure::Error(why)) => {
                    tracing::warn!(bot = %bot.id, update = id, attempt = attempts, error = %why, "an update failed; trying again");
                    let recorded = self
                        .runtime
                        .store
                        .update_failed(&bot.id, id, &why)
                        .await
                        .unwrap_or(attempts);
                    if recorded.max(attempts) >= MAX_ATTEMPTS {
                        return self.give_up(bot, id, &why).await;
                    }
                    tokio::time::sleep(Duration::from_millis(200 * attempts as u64)).await;
                }
            }
        }
    }

    /// Records an update as poison and skips it. If even that cannot be written, the update
    /// stays in the inbox and is tried again at the next start (or rescue).
    async fn give_up(&self, bot: &ServedBot, id: i64, why: &str) {
        let why = super::redact(why, &bot.token);
        tracing::error!(bot = %bot.id, update = id, error = %why, "an update was given up and skipped");
        crate::metrics::poisoned(&bot.id);
        if let Err(e) = self
            .runtime
            .store
            .poison_update(&bot.id, id, &why, (self.runtime.clock)())
            .await
        {
            tracing::error!(bot = %bot.id, update = id, error = %e, "cannot record a given-up update");
        }
    }

    /// One attempt: the engine step (off the async threads, under `catch_unwind`), then the
    /// group commit, then the replies go to the sender.
    async fn attempt(
        &self,
        bot: &Arc<ServedBot>,
        update: &Update,
        flood: Option<(bool, bool)>,
        seed: Option<Seed>,
        release: Option<ReleaseAfter>,
    ) -> Result<(), Failure> {
        let runtime = &self.runtime;
        let update_id = i64::from(update.id.0);
        let Some(incoming) = incoming(update) else {
            // A kind the bots do not handle: only marked handled.
            return self
                .commit(bot, empty_job(bot, update_id, super::chat_of(update), runtime, release))
                .await
                .map(|_| ());
        };
        let started = std::time::Instant::now();
        let (over, first_over) = flood.unwrap_or((false, false));
        // A decision that lost to another one elsewhere: the step runs again on fresh state.
        let mut seed = seed;
        for _ in 0..5 {
            let seed = seed.take();
            let now = (runtime.clock)();
            let definition = bot.current();
            let step_runtime = runtime.clone();
            let bot_id = bot.id.clone();
            let user = incoming.user.clone();
            let event = incoming.event.clone();
            let handle = tokio::runtime::Handle::current();
            // The bot's own bound on steps at once: a bot whose business system hangs fills
            // only its own permits, and its other chats wait here, off the blocking pool
            // that other bots and the API need.
            let permit = bot.steps.clone().acquire_owned().await;
            let step = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut world = BufferedWorld::new(&step_runtime.store, &bot_id, handle)
                        .with_cache(step_runtime.cache.as_ref());
                    let mut runner = Runner::online(&step_runtime.builtins).for_update(&bot_id, update_id);
                    let (out, insights) = if over {
                        // Over the flood limit: told once, then ignored until the window passes
                        // (and not logged: the engine did not handle it).
                        if first_over {
                            (vec![too_many_requests(&definition, &user, now)], Vec::new())
                        } else {
                            (Vec::new(), Vec::new())
                        }
                    } else {
                        match seed {
                            // A private chat's state, read with the chat's claim.
                            Some((session, registration)) if user.id == user.chat => {
                                world.seed(user.chat, user.id, session.as_deref(), registration)
                            }
                            _ => world.prefetch(user.chat, user.id)?,
                        }
                        let step = engine::step(&definition, &mut world, &mut runner, &user, &event, now)?;
                        let insights = if step_runtime.log_insights {
                            insights::log_rows(&bot_id, user.chat, now, &step.reached, &step.insights)
                        } else {
                            Vec::new()
                        };
                        (step.out, insights)
                    };
                    Ok::<_, engine::WorldError>((world.into_changes(), out, insights))
                }))
            })
            .await;
            let (changes, out, insights) = match step {
                Ok(Ok(Ok(done))) => done,
                Ok(Ok(Err(e))) => return Err(Failure::Error(e.to_string())),
                Ok(Err(panic)) => return Err(Failure::Panic(format!("the engine panicked: {}", panic_text(&panic)))),
                Err(e) => return Err(Failure::Panic(format!("the engine step failed: {e}"))),
            };
            let job = Job {
                release: release.clone(),
                bot: bot.id.clone(),
                update_id: Some(update_id),
                chat: incoming.user.chat,
                chat_name: incoming.user.name.clone(),
                record_chat: runtime.chat_unknown(&bot.id, incoming.user.chat),
                changes,
                out,
                owner: Some(runtime.instance.clone()),
                now,
                insights,
            };
            match self.commit(bot, job).await? {
                Committed::Conflict => continue,
                Committed::Duplicate | Committed::Received(_) | Committed::Claimed(_) | Committed::Released { .. } => {}
                Committed::Messages { .. } => runtime.chat_recorded(&bot.id, incoming.user.chat),
            }
            crate::metrics::handled(&bot.id, started.elapsed());
            // Every callback query is answered, so the user's button stops spinning.
            if let Some(id) = incoming.callback {
                let bot = bot.clone();
                tokio::spawn(async move {
                    if let Err(e) = bot
                        .api
                        .answer_callback_query(teloxide::types::CallbackQueryId(id))
                        .await
                    {
                        tracing::debug!(bot = %bot.id, error = %super::redact(&e.to_string(), &bot.token), "answerCallbackQuery failed");
                    }
                });
            }
            return Ok(());
        }
        Err(Failure::Error(
            "the update kept conflicting with decisions made elsewhere".into(),
        ))
    }

    async fn commit(&self, bot: &ServedBot, job: Job) -> Result<Committed, Failure> {
        // The term before the commit: a lapse counted after it may have let another instance
        // take the messages over.
        let term = self.runtime.lease.term();
        let committed = self
            .runtime
            .commits
            .submit(Work::Job(Box::new(job)))
            .await
            .ok_or_else(|| Failure::Error("the group commit has stopped".into()))?
            .map_err(|e| Failure::Error(e.to_string()))?;
        Ok(match committed {
            Committed::Messages { to_send, queued } => {
                if queued > 0 {
                    bot.outbox.notify_one();
                }
                bot.send(to_send, term);
                Committed::Messages {
                    to_send: Vec::new(),
                    queued,
                }
            }
            other => other,
        })
    }
}

fn empty_job(bot: &ServedBot, update_id: i64, chat: i64, runtime: &Runtime, release: Option<ReleaseAfter>) -> Job {
    Job {
        release,
        bot: bot.id.clone(),
        update_id: Some(update_id),
        chat,
        chat_name: String::new(),
        record_chat: false,
        changes: Default::default(),
        out: Vec::new(),
        owner: None,
        now: (runtime.clock)(),
        insights: Vec::new(),
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}
