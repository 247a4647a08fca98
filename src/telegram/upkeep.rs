//! Upkeep of an instance: its lease (a heartbeat a third of the lease apart),
//! the rescue of what dead instances left (their unsent messages, their
//! stored but unhandled updates), and retention (handled update ids and
//! finished messages older than `--retention` days are deleted). A graceful
//! stop ends the lease in `run` once the senders have stopped.

use super::{Chats, Runtime, ServedBot};
use crate::store::sql::Dialect;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often retention runs (and once soon after start).
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

pub async fn run_upkeep(runtime: Arc<Runtime>, chats: Arc<Chats>, bots: Vec<Arc<ServedBot>>, retention_days: u32) {
    let mut shutdown = runtime.shutdown.clone();
    let beat = runtime.lease / 3;
    let mut retention_at = Instant::now() + Duration::from_secs(10);
    loop {
        let now = (runtime.clock)();
        if let Err(e) = runtime.store.heartbeat(&runtime.instance, now).await {
            tracing::error!(error = %e, "cannot renew this instance's lease");
        }
        match runtime.store.rescue(now, runtime.lease).await {
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
            let before = now - chrono::Duration::from_std(runtime.lease).unwrap_or(chrono::Duration::seconds(3));
            match runtime.store.chats_waiting_since(before, 500).await {
                Ok(waiting) => waiting.iter().for_each(|(bot, chat)| chats.rescue(bot, *chat)),
                Err(e) => tracing::error!(error = %e, "cannot look for waiting updates"),
            }
        }
        if Instant::now() >= retention_at {
            retention_at = Instant::now() + RETENTION_EVERY;
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
        tokio::select! {
            _ = tokio::time::sleep(beat) => {}
            _ = shutdown.changed() => break,
        }
    }
}
