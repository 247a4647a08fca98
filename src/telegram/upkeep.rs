//! Upkeep of an instance: its lease (a heartbeat a third of the lease apart),
//! the rescue of what dead instances left (their unsent messages, their
//! stored but unhandled updates), and retention (handled update ids and
//! finished messages older than `--retention` days are deleted). A graceful
//! stop ends the lease in `run` once the senders have stopped.

use super::{Chats, Runtime, ServedBot};
use crate::store::sql::Dialect;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often retention runs (and once soon after start).
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Runs until `stop`, which comes after the runtime's shutdown: while the senders finish
/// at a graceful stop, the lease is still renewed (and nothing else is done), so that they
/// may go on sending.
pub async fn run_upkeep(
    runtime: Arc<Runtime>,
    chats: Arc<Chats>,
    bots: Vec<Arc<ServedBot>>,
    retention_days: u32,
    mut stop: watch::Receiver<bool>,
) {
    let beat = runtime.lease.length() / 3;
    let mut retention_at = Instant::now() + Duration::from_secs(10);
    loop {
        if let Err(e) = runtime.renew_lease().await {
            tracing::error!(error = %e, "cannot renew this instance's lease");
        }
        if !*runtime.shutdown.borrow() {
            take_over(&runtime, &chats, &bots, &mut retention_at, retention_days).await;
        }
        if *stop.borrow() {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(beat) => {}
            _ = stop.changed() => break,
        }
    }
}

/// What dead instances left, and retention.
async fn take_over(
    runtime: &Runtime,
    chats: &Arc<Chats>,
    bots: &[Arc<ServedBot>],
    retention_at: &mut Instant,
    retention_days: u32,
) {
    let now = (runtime.clock)();
    match runtime.store.rescue(now, runtime.lease.length()).await {
        Ok(0) => {}
        Ok(n) => {
            tracing::warn!(
                messages = n,
                "took over the unsent messages of an instance that stopped"
            );
            bots.iter().for_each(|b| b.outbox.notify_one());
        }
        Err(e) => tracing::error!(error = %e, "cannot rescue messages of stopped instances"),
    }
    if runtime.store.dialect == Dialect::Postgres {
        match runtime
            .store
            .chats_waiting_since(runtime.lease.stale_before(now), 500)
            .await
        {
            Ok(waiting) => waiting.iter().for_each(|(bot, chat)| chats.rescue(bot, *chat)),
            Err(e) => tracing::error!(error = %e, "cannot look for waiting updates"),
        }
    }
    if Instant::now() >= *retention_at {
        *retention_at = Instant::now() + RETENTION_EVERY;
        let before = now - chrono::Duration::days(i64::from(retention_days));
        match runtime.store.delete_finished(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                rows = n,
                days = retention_days,
                "deleted handled updates and finished messages"
            ),
            Err(e) => tracing::error!(error = %e, "retention failed"),
        }
    }
}
