//! Process-wide metrics on prometheus-client, served at `/metrics` in the
//! OpenMetrics text format: per bot, updates handled, updates given up,
//! messages sent, failed sends, and a histogram of handling latency (from the
//! start of a step to its commit).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::LazyLock;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BotLabel {
    bot: String,
}

struct Metrics {
    registry: Registry,
    handled: Family<BotLabel, Counter>,
    poisoned: Family<BotLabel, Counter>,
    sent: Family<BotLabel, Counter>,
    send_failures: Family<BotLabel, Counter>,
    latency: Family<BotLabel, Histogram>,
    queue_depth: Gauge,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("botwright");
    let handled = Family::<BotLabel, Counter>::default();
    let poisoned = Family::<BotLabel, Counter>::default();
    let sent = Family::<BotLabel, Counter>::default();
    let send_failures = Family::<BotLabel, Counter>::default();
    // 0.25 ms to about 8 s.
    let latency =
        Family::<BotLabel, Histogram>::new_with_constructor(|| Histogram::new(exponential_buckets(0.000_25, 2.0, 16)));
    let queue_depth = Gauge::default();
    registry.register("updates_handled", "Updates handled and committed", handled.clone());
    registry.register(
        "updates_poisoned",
        "Updates given up after three failed attempts or a panic, and skipped",
        poisoned.clone(),
    );
    registry.register("messages_sent", "Messages Telegram acknowledged", sent.clone());
    registry.register(
        "send_failures",
        "Failed attempts to send a message",
        send_failures.clone(),
    );
    registry.register(
        "handling_seconds",
        "Time from the start of an update's step to its commit",
        latency.clone(),
    );
    registry.register("outbox_queue_depth", "Messages waiting to be sent", queue_depth.clone());
    Metrics {
        registry,
        handled,
        poisoned,
        sent,
        send_failures,
        latency,
        queue_depth,
    }
});

fn label(bot: &str) -> BotLabel {
    BotLabel { bot: bot.to_string() }
}

/// An update of `bot` was handled and committed, `took` after its step began.
pub fn handled(bot: &str, took: Duration) {
    let l = label(bot);
    METRICS.handled.get_or_create(&l).inc();
    METRICS.latency.get_or_create(&l).observe(took.as_secs_f64());
}

pub fn poisoned(bot: &str) {
    METRICS.poisoned.get_or_create(&label(bot)).inc();
}

pub fn sent(bot: &str) {
    METRICS.sent.get_or_create(&label(bot)).inc();
}

pub fn send_failed(bot: &str) {
    METRICS.send_failures.get_or_create(&label(bot)).inc();
}

/// The metrics as text; `queue_depth` is read from the outbox by the caller.
pub fn render(queue_depth: i64) -> String {
    METRICS.queue_depth.set(queue_depth);
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &METRICS.registry) {
        tracing::error!(error = %e, "cannot encode the metrics");
    }
    out
}
