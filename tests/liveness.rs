//! The runtime stays live for everyone: a panicking algorithm spoils only its
//! own update, a slow business system delays only its own chat, and on
//! SQLite a webhook delivered twice, or two deliveries of one chat at once,
//! are handled once each and in order.

mod support;

use botwright::algorithms::{AlgorithmFailure, Builtins};
use botwright::expr::Value;
use botwright::runtime::{Limits, Runtime, ServedBot, Tuning};
use botwright::store::sql::SqlStore;
use botwright::telegram::{self, Chats};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{Botwright, FakeTelegram, wait_for};
use teloxide::prelude::*;

/// A business system on 127.0.0.1 whose `/slow/N` answers after N milliseconds; gives its
/// address and a counter of the requests it has begun.
fn business_system() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    let begun = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = begun.clone();
    let address = support::http_server(move |path, _| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let millis: u64 = path.rsplit('/').next().and_then(|n| n.parse().ok()).unwrap_or(0);
        std::thread::sleep(Duration::from_millis(millis));
        ("200 OK", r#"{"text": "done slowly"}"#.to_string())
    });
    (address, begun)
}

fn bot_file(dir: &std::path::Path, business: &str, slow_ms: u64) {
    std::fs::write(
        dir.join("shop.toml"),
        format!(
            r#"
[bot]
name = "Shop"
token_env = "SHOP_TOKEN"

[[keyword]]
match = "slow"
run = "slow"

[[keyword]]
match = "fast"
reply = "quick"

[[keyword]]
match = ["boom", "calm"]
run = "explode"

[algorithms.slow]
http = "{business}/slow/{slow_ms}"
timeout = "20s"

[algorithms.explode]
builtin = "explode"
"#
        ),
    )
    .unwrap();
}

const TOKEN: &str = "777777:shop-token-for-tests";

fn latency(fake: &FakeTelegram, chat: i64) -> Duration {
    let calls = fake.calls(TOKEN, "SendMessage");
    let reply = calls
        .iter()
        .find(|c| c.body["chat_id"].as_i64() == Some(chat))
        .expect("a reply")
        .at;
    reply.saturating_duration_since(fake.pushed_at(TOKEN, chat)[0])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_business_system_delays_only_its_own_chat_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("state.db").display());
    slow_business_system(dir, &db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_business_system_delays_only_its_own_chat_on_postgres() {
    slow_business_system(tempfile::tempdir().unwrap(), &support::postgres_db().await).await;
}

async fn slow_business_system(dir: tempfile::TempDir, db: &str) {
    let (business, begun) = business_system();
    let fake = FakeTelegram::start().await;
    fake.add_bot(TOKEN, 777777, "shop_bot");
    bot_file(dir.path(), &business, 5_000);
    let _bw = Botwright::start_with(
        dir.path(),
        db,
        &fake.url,
        &[("SHOP_TOKEN", TOKEN)],
        dir.path().join("log"),
        &["--bot-rate", "1000", "--chat-rate", "1000"],
    );
    wait_for("polling", || fake.count(TOKEN, "GetUpdates") > 0).await;
    // Other chats' replies before anything is slow ...
    for chat in 11..=13 {
        fake.text(TOKEN, chat, "U", "fast");
        wait_for("a quick reply", || fake.sent(TOKEN, chat).len() == 1).await;
    }
    let before = (11..=13).map(|c| latency(&fake, c)).max().unwrap();
    // ... and while one chat waits 5 s for the business system.
    fake.text(TOKEN, 10, "Slow", "slow");
    wait_for("the business system is called", || {
        begun.load(std::sync::atomic::Ordering::SeqCst) == 1
    })
    .await;
    for chat in 21..=23 {
        fake.text(TOKEN, chat, "U", "fast");
        wait_for("a quick reply", || fake.sent(TOKEN, chat).len() == 1).await;
    }
    let during = (21..=23).map(|c| latency(&fake, c)).max().unwrap();
    assert!(fake.sent(TOKEN, 10).is_empty(), "the slow chat is still waiting");
    assert!(
        during < before + Duration::from_millis(100),
        "other chats were delayed: {during:?} against {before:?}"
    );
    wait_for("the slow chat's reply", || fake.sent(TOKEN, 10) == ["done slowly"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_on_sqlite_are_handled_once_and_in_order_per_chat() {
    let (business, _) = business_system();
    let fake = FakeTelegram::start().await;
    fake.add_bot(TOKEN, 777777, "shop_bot");
    let dir = tempfile::tempdir().unwrap();
    bot_file(dir.path(), &business, 1_000);
    let db = format!("sqlite://{}", dir.path().join("state.db").display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let _bw = Botwright::start_with(
        dir.path(),
        &db,
        &fake.url,
        &[("SHOP_TOKEN", TOKEN), ("BOTWRIGHT_API_TOKEN", "api")],
        dir.path().join("log"),
        &["--listen", &listen, "--webhook-url", "https://bots.example.com/hook"],
    );
    let health = format!("http://{listen}/healthz");
    wait_for("up", || ureq::get(&health).call().is_ok()).await;
    let hook = format!("http://{listen}/hook/shop");
    let post = move |update: serde_json::Value| {
        let hook = hook.clone();
        std::thread::spawn(move || {
            ureq::post(&hook)
                .header("x-telegram-bot-api-secret-token", &telegram::webhook::secret_for(TOKEN))
                .header("content-type", "application/json")
                .send(update.to_string())
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        })
    };
    let update = |id: i64, text: &str| {
        let mut u = support::message_update(9, "Ann", text);
        u["update_id"] = id.into();
        u
    };
    // The first delivery is stored (2xx) while its algorithm still runs for a second; the
    // second delivery of the same chat waits for it.
    assert_eq!(post(update(1, "slow")).join().unwrap(), 200);
    assert_eq!(post(update(2, "fast")).join().unwrap(), 200);
    // One update delivered twice at once, then once more.
    let twice = [post(update(3, "fast")), post(update(3, "fast"))];
    for t in twice {
        assert_eq!(t.join().unwrap(), 200);
    }
    assert_eq!(post(update(3, "fast")).join().unwrap(), 200);
    wait_for("three replies", || fake.sent(TOKEN, 9).len() >= 3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.sent(TOKEN, 9), ["done slowly", "quick", "quick"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_algorithm_spoils_only_its_own_update_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("state.db").display());
    panicking_algorithm(dir, &db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_algorithm_spoils_only_its_own_update_on_postgres() {
    panicking_algorithm(tempfile::tempdir().unwrap(), &support::postgres_db().await).await;
}

async fn panicking_algorithm(dir: tempfile::TempDir, db: &str) {
    let fake = FakeTelegram::start().await;
    fake.add_bot(TOKEN, 777777, "shop_bot");
    bot_file(dir.path(), "http://127.0.0.1:9", 0);
    let mut diagnostics = Vec::new();
    let compiled = botwright::validate::compile_path(&dir.path().join("shop.toml"), &mut diagnostics)
        .unwrap()
        .expect("the bot compiles");
    let mut builtins = Builtins::default();
    builtins.register("explode", |call| {
        let input = call.vars.get("input").map(Value::to_text).unwrap_or_default();
        if input == "boom" {
            panic!("the builtin exploded");
        }
        Ok::<_, AlgorithmFailure>(Value::text("still standing"))
    });
    let store = SqlStore::open(db).await.unwrap();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let limits = Limits {
        per_bot: 1000.0,
        per_chat: 1000.0,
        chat_burst: 100.0,
    };
    let runtime = Runtime::new(
        store,
        builtins,
        botwright::runtime::system_clock(),
        limits,
        shutdown.clone(),
        Tuning::default(),
    );
    let api = Bot::new(TOKEN).set_api_url(url::Url::parse(&fake.url).unwrap());
    let bot = Arc::new(ServedBot::new(compiled, api, TOKEN.to_string()));
    let chats = Chats::new(runtime.clone(), std::slice::from_ref(&bot));
    let poller = tokio::spawn(telegram::run_poller(runtime.clone(), chats.clone(), bot.clone(), 1));
    let sender = tokio::spawn(telegram::run_sender(runtime.clone(), bot.clone(), shutdown.clone()));

    let started = Instant::now();
    let boom = fake.text(TOKEN, 1, "Boom", "boom");
    fake.text(TOKEN, 2, "Calm", "calm");
    fake.text(TOKEN, 1, "Boom", "calm");
    wait_for("the others are answered", || {
        fake.sent(TOKEN, 2) == ["still standing"] && fake.sent(TOKEN, 1) == ["still standing"]
    })
    .await;
    assert!(started.elapsed() < Duration::from_secs(30));
    // The update that panicked is recorded and skipped; its chat goes on.
    let poisoned = runtime.store.poisoned_updates("shop").await.unwrap();
    assert_eq!(poisoned.len(), 1);
    assert_eq!(poisoned[0].0, boom);
    assert!(poisoned[0].2.contains("the builtin exploded"), "{poisoned:?}");
    // Both tests of this process count into the same metrics: at least this one.
    let metrics = botwright::metrics::render(0);
    assert!(
        metrics.contains("botwright_updates_poisoned_total{bot=\"shop\"} 1")
            || metrics.contains("botwright_updates_poisoned_total{bot=\"shop\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("botwright_handling_seconds_bucket{"), "{metrics}");
    let _ = stop.send(true);
    poller.await.unwrap();
    sender.await.unwrap();
}
