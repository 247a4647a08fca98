//! What the runtime's tasks share, apart from Telegram's protocol: the
//! clock, the bots being served, the group commit and the delivery writer,
//! sending limits and tuning. The Telegram adapter (`telegram/`) and the HTTP
//! API (`api/`) both build on it; neither imports the other.

mod batch;
pub mod listener;

pub use batch::Batcher;

use crate::algorithms::Builtins;
use crate::model::CompiledBot;
use crate::store::cache::StateCache;
use crate::store::sql::SqlStore;
use crate::store::types::{Committed, Delivery, Dialect, OutboxMessage, StoreError, Work};
use chrono::{DateTime, FixedOffset};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use teloxide::prelude::*;
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
    pub(crate) to_send_rx: Mutex<Option<mpsc::UnboundedReceiver<OutboxMessage>>>,
    /// Recent message times per user, for the flood limit.
    flood: Mutex<Flood>,
    /// This bot's engine steps at once (each may wait on its business system): its own
    /// bound, so that one bot cannot fill the blocking pool every bot and the API share.
    pub steps: Arc<tokio::sync::Semaphore>,
}

/// Engine steps of one bot at once. tokio's blocking pool has 512 threads: a bot whose
/// business system hangs holds at most this many of them.
pub const STEPS_PER_BOT: usize = 32;

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
            flood: Mutex::new(Flood::default()),
            steps: Arc::new(tokio::sync::Semaphore::new(STEPS_PER_BOT)),
        }
    }

    /// Hands committed messages, taken in lease term `term`, to this bot's sender.
    pub fn send(&self, messages: Vec<OutboxMessage>, term: u64) {
        for mut m in messages {
            m.term = term;
            let _ = self.to_send.send(m);
        }
    }

    pub fn current(&self) -> Arc<CompiledBot> {
        self.definition.read().expect("definition lock").clone()
    }

    /// Records a message and says whether it is over the limit, and whether it is the first one over.
    pub(crate) fn flood_check(&self, user: i64, now: DateTime<FixedOffset>) -> (bool, bool) {
        self.flood.lock().unwrap_or_else(|e| e.into_inner()).check(user, now)
    }
}

/// Recent message times per user, for the flood limit. Users whose times have all left the
/// window are dropped: the whole map is swept whenever it has doubled since the last sweep,
/// so a sweep's cost is paid by as many checks as it visits (amortised O(1) per check) and
/// the map holds at most about twice the users active within the window.
#[derive(Debug, Default)]
pub(crate) struct Flood {
    users: HashMap<i64, Vec<DateTime<FixedOffset>>>,
    /// The map's size that triggers the next sweep.
    sweep_at: usize,
}

impl Flood {
    /// The fewest users at which a sweep happens.
    const MIN_SWEEP: usize = 1024;

    pub(crate) fn check(&mut self, user: i64, now: DateTime<FixedOffset>) -> (bool, bool) {
        let window = chrono::Duration::from_std(FLOOD_WINDOW).expect("small duration");
        if self.users.len() >= self.sweep_at.max(Self::MIN_SWEEP) {
            self.users.retain(|_, times| {
                times.retain(|t| now - *t < window);
                !times.is_empty()
            });
            self.sweep_at = 2 * self.users.len();
        }
        let times = self.users.entry(user).or_default();
        times.retain(|t| now - *t < window);
        times.push(now);
        (times.len() > FLOOD_LIMIT, times.len() == FLOOD_LIMIT + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::{FLOOD_LIMIT, FLOOD_WINDOW, Flood};

    fn at(seconds: i64) -> chrono::DateTime<chrono::FixedOffset> {
        chrono::DateTime::parse_from_rfc3339("2021-02-06T14:00:00+03:00").unwrap() + chrono::Duration::seconds(seconds)
    }

    #[test]
    fn the_limit_counts_messages_within_the_window() {
        let mut flood = Flood::default();
        for _ in 0..FLOOD_LIMIT {
            assert_eq!(flood.check(1, at(0)), (false, false));
        }
        assert_eq!(flood.check(1, at(1)), (true, true));
        assert_eq!(flood.check(1, at(2)), (true, false));
        assert_eq!(flood.check(2, at(2)), (false, false), "another user");
        // A window later the first twenty have left it: two remain, and this one.
        let later = FLOOD_WINDOW.as_secs() as i64;
        assert_eq!(flood.check(1, at(later)), (false, false));
    }

    #[test]
    fn users_whose_times_expired_are_dropped() {
        let mut flood = Flood::default();
        let many = 10 * Flood::MIN_SWEEP as i64;
        for user in 0..many {
            flood.check(user, at(0));
        }
        // Within the window nobody may be forgotten.
        assert_eq!(flood.users.len(), many as usize);
        // A window later the old users go, within as many new checks as the map holds.
        let later = FLOOD_WINDOW.as_secs() as i64;
        // One user active within the window: its count survives the sweep.
        for _ in 0..FLOOD_LIMIT {
            flood.check(-1, at(later - 1));
        }
        let mut new = 0;
        while flood.users.len() > new + 1 {
            assert!(new <= many as usize + 1, "no sweep after {new} new users");
            flood.check(many + new as i64, at(later));
            new += 1;
        }
        assert_eq!(
            flood.users.len(),
            new + 1,
            "only the new users and the active one are left"
        );
        assert_eq!(flood.check(-1, at(later)), (true, true), "its count is kept");
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
    /// This instance's lease: how long it lasts without a heartbeat, whether it holds as
    /// this instance knows it, and its term.
    pub lease: Lease,
    /// Whether handled updates are written to the insights log (api.md, Insights). Off only
    /// with the hidden `BOTWRIGHT_NO_INSIGHTS` variable, for the benchmark's comparison.
    pub log_insights: bool,
    /// Chats known to be recorded as having talked to their bot (saves a write per update).
    known_chats: Mutex<std::collections::HashSet<(String, i64)>>,
}

impl Runtime {
    /// Takes or renews this instance's lease: the heartbeat, written with the time it starts.
    /// The runtime takes it before it handles anything, and the upkeep renews it.
    pub async fn renew_lease(&self) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        self.store.heartbeat(&self.instance, (self.clock)()).await?;
        self.lease.renewed(started);
        Ok(())
    }

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

/// This instance's lease as this instance knows it. Other instances take over its messages
/// once its heartbeat is older than the lease, so it sends only while its last heartbeat is
/// younger than three quarters of the lease (the rest is a margin for a send's own time and
/// for clocks). A renewal that starts after that counts a new term: the messages taken in an
/// earlier term may be another instance's now, and are handed back, not sent (the sender
/// checks each message's term). Without this, an instance starved for longer than its lease
/// sent messages another instance had already sent, after their chat's next ones.
pub struct Lease {
    /// Until when it holds; `None` before the first heartbeat.
    until: Mutex<Option<std::time::Instant>>,
    term: std::sync::atomic::AtomicU64,
    length: Duration,
}

impl Lease {
    pub fn new(length: Duration) -> Lease {
        Lease {
            until: Mutex::new(None),
            term: std::sync::atomic::AtomicU64::new(0),
            length,
        }
    }

    /// How long a lease lasts without a heartbeat.
    pub fn length(&self) -> Duration {
        self.length
    }

    /// The time before which another instance's heartbeat (or claim) is stale at `now`.
    pub fn stale_before(&self, now: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
        now - chrono::Duration::from_std(self.length).unwrap_or(chrono::Duration::seconds(3))
    }

    /// A heartbeat that started at `started` is written.
    pub fn renewed(&self, started: std::time::Instant) {
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        if until.is_none_or(|u| started > u) {
            self.term.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        let next = started + self.length * 3 / 4;
        if until.is_none_or(|u| next > u) {
            *until = Some(next);
        }
    }

    /// Whether the lease holds now.
    pub fn holds(&self) -> bool {
        let until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        until.is_some_and(|u| std::time::Instant::now() < u)
    }

    /// The current term (1 from the first heartbeat on).
    pub fn term(&self) -> u64 {
        self.term.load(std::sync::atomic::Ordering::SeqCst)
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
            // SQLite has one writer; PostgreSQL commits several batches side by side.
            let lanes = if store.dialect == Dialect::Postgres {
                COMMIT_LANES
            } else {
                1
            };
            let commits = Batcher::spawn_lanes(
                tuning.commit_batch,
                tuning.commit_linger,
                lanes,
                move |jobs: Vec<Work>| {
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
                },
            );
            let writer_store = store.clone();
            let writer_shutdown = shutdown.clone();
            let writer_instance = instance.clone();
            let deliveries = Batcher::spawn(512, Duration::ZERO, move |batch: Vec<Delivery>| {
                let store = writer_store.clone();
                let owner = writer_instance.clone();
                let n = batch.len();
                let mut shutdown = writer_shutdown.clone();
                async move {
                    // A status that cannot be written is tried again: a message sent but not
                    // recorded would be sent again by whoever takes it over.
                    let mut wait = Duration::from_millis(100);
                    loop {
                        match store.record_deliveries(&batch, &owner).await {
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
                lease: Lease::new(tuning.lease),
                log_insights: std::env::var_os("BOTWRIGHT_NO_INSIGHTS").is_none(),
                known_chats: Mutex::new(Default::default()),
            }
        })
    }
}

/// PostgreSQL: group commits at once (each on its own connection).
const COMMIT_LANES: usize = 4;

/// Commits a batch of jobs; when the batch fails, each job on its own, so that one bad
/// job fails alone.
async fn group_commit(store: &SqlStore, jobs: &[Work]) -> Vec<Result<Committed, StoreError>> {
    match store.commit(jobs).await {
        Ok(results) => results.into_iter().map(Ok).collect(),
        Err(e) if jobs.len() == 1 => vec![Err(e)],
        Err(_) => {
            let mut results = Vec::with_capacity(jobs.len());
            for job in jobs {
                results.push(
                    store
                        .commit(std::slice::from_ref(job))
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

/// Sending limits: a token bucket per bot and one per chat.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Messages a second per bot (Telegram allows about 30).
    pub per_bot: f64,
    /// Messages a second to one chat, after a short burst.
    pub per_chat: f64,
    pub chat_burst: f64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            per_bot: 30.0,
            per_chat: 1.0,
            chat_burst: 5.0,
        }
    }
}

#[cfg(test)]
mod lease_tests {
    use super::Lease;
    use std::time::{Duration, Instant};

    #[test]
    fn a_lease_holds_from_a_heartbeat_and_a_late_renewal_starts_a_new_term() {
        let lease = Lease::new(Duration::from_secs(4));
        assert!(!lease.holds(), "no heartbeat yet");
        assert_eq!(lease.term(), 0);
        let start = Instant::now();
        lease.renewed(start);
        assert!(lease.holds());
        assert_eq!(lease.term(), 1);
        // Renewed within three quarters of the lease: the same term.
        lease.renewed(start + Duration::from_secs(2));
        assert_eq!(lease.term(), 1);
        // A renewal that began after the lease stopped holding (3 s after the last one): others
        // may have taken the messages over, so a new term.
        lease.renewed(start + Duration::from_secs(6));
        assert_eq!(lease.term(), 2);
        // A heartbeat that began earlier but was written late does not shorten the lease.
        lease.renewed(start + Duration::from_secs(5));
        assert_eq!(lease.term(), 2);
        assert!(lease.holds());
        // Run out: a heartbeat of long ago.
        let stale = Lease::new(Duration::from_millis(4));
        stale.renewed(start);
        let deadline = Instant::now() + Duration::from_secs(10);
        while stale.holds() && Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert!(!stale.holds(), "a lease of 4 ms still held after 10 s");
    }
}
