//! Process-wide counters, rendered in Prometheus' text format.

use std::sync::atomic::{AtomicU64, Ordering};

pub struct Counter {
    name: &'static str,
    help: &'static str,
    value: AtomicU64,
}

impl Counter {
    const fn new(name: &'static str, help: &'static str) -> Counter {
        Counter {
            name,
            help,
            value: AtomicU64::new(0),
        }
    }

    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, n: u64) {
        self.value.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
}

pub static UPDATES_HANDLED: Counter = Counter::new("botwright_updates_handled_total", "Updates handled and committed.");
pub static MESSAGES_SENT: Counter = Counter::new("botwright_messages_sent_total", "Messages Telegram acknowledged.");
pub static SEND_FAILURES: Counter = Counter::new("botwright_send_failures_total", "Failed attempts to send a message.");
pub static HANDLING_MICROS: Counter = Counter::new(
    "botwright_handling_seconds_sum_micros",
    "Total time spent handling updates, in microseconds.",
);

const COUNTERS: [&Counter; 4] = [&UPDATES_HANDLED, &MESSAGES_SENT, &SEND_FAILURES, &HANDLING_MICROS];

/// The metrics in Prometheus' text format; `queue_depth` is read from the outbox by the caller.
pub fn render(queue_depth: i64) -> String {
    let mut out = String::new();
    for c in COUNTERS {
        out.push_str(&format!(
            "# HELP {} {}\n# TYPE {} counter\n{} {}\n",
            c.name,
            c.help,
            c.name,
            c.name,
            c.get()
        ));
    }
    let handled = UPDATES_HANDLED.get().max(1);
    out.push_str(&format!(
        "# HELP botwright_handling_seconds_avg Average time to handle an update.\n# TYPE botwright_handling_seconds_avg gauge\nbotwright_handling_seconds_avg {}\n",
        HANDLING_MICROS.get() as f64 / handled as f64 / 1_000_000.0
    ));
    out.push_str(&format!(
        "# HELP botwright_outbox_queue_depth Messages waiting to be sent.\n# TYPE botwright_outbox_queue_depth gauge\nbotwright_outbox_queue_depth {queue_depth}\n"
    ));
    out
}
