//! Updates per second and CPU time per update through `botwright run` and a
//! fake Bot API on 127.0.0.1, for 1 bot and for 10 bots in one process.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;
use support::{Botwright, FakeTelegram};

const UPDATES_PER_BOT: usize = 2_000;

/// User plus system CPU seconds of a process, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

async fn measure(bots: usize) {
    let fake = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let demo = std::fs::read_to_string("bots/demo.toml").unwrap();
    let mut env = Vec::new();
    let mut tokens = Vec::new();
    for i in 0..bots {
        let token = format!("{}:bench-token-{i}", 500_000 + i);
        fake.add_bot(&token, 500_000 + i as i64, &format!("bench{i}"));
        std::fs::write(
            dir.path().join(format!("bench{i}.toml")),
            demo.replace("DEMO_BOT_TOKEN", &format!("BENCH_TOKEN_{i}")),
        )
        .unwrap();
        env.push((format!("BENCH_TOKEN_{i}"), token.clone()));
        tokens.push(token);
    }
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let db = format!("sqlite://{}", dir.path().join("state.db").display());
    // Telegram's sending limits would measure Telegram, not botwright: lift them here.
    let bw = Botwright::start_with(
        dir.path(),
        &db,
        &fake.url,
        &env_refs,
        dir.path().join("log"),
        &["--bot-rate", "100000", "--chat-rate", "100000"],
    );
    support::wait_for("polling", || tokens.iter().all(|t| fake.count(t, "GetUpdates") > 0)).await;
    let cpu_before = cpu_seconds(bw.child.id());
    let started = Instant::now();
    for n in 0..UPDATES_PER_BOT {
        for t in &tokens {
            fake.text(t, 1_000 + (n % 100) as i64, "Bench", "А1");
        }
    }
    let total = UPDATES_PER_BOT * bots;
    support::wait_for("all answered", || {
        tokens.iter().map(|t| fake.count(t, "SendMessage")).sum::<usize>() >= total
    })
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(bw.child.id()) - cpu_before;
    println!(
        "{bots} bot(s), {total} updates: {:.0} updates/s end to end, {:.0} µs CPU per update",
        total as f64 / elapsed,
        cpu / total as f64 * 1e6
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        measure(1).await;
        measure(10).await;
    });
}
