//! The runtime stays live for everyone: a panicking algorithm spoils only its
//! own update, a slow business system delays only its own chat, and on
//! SQLite a webhook delivered twice, or two deliveries of one chat at once,
//! are handled once each and in order.

use crate::support::{Botwright, FakeTelegram, wait_for};
use botwright::algorithms::{AlgorithmFailure, Builtins};
use botwright::expr::Value;
use botwright::runtime::{Limits, Runtime, ServedBot, Tuning};
use botwright::store::sql::SqlStore;
use botwright::telegram::{self, Chats};
use std::sync::Arc;
use std::time::Duration;
use teloxide::prelude::*;

/// A gate the business system's `/slow` calls wait at until the test opens it (or, so
/// that a failing test still ends, a minute has passed).
#[derive(Clone, Default)]
pub(crate) struct Gate(Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);

impl Gate {
    pub(crate) fn open(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }

    fn wait(&self) {
        let open = self.0.0.lock().unwrap();
        let _ = self
            .0
            .1
            .wait_timeout_while(open, Duration::from_secs(60), |open| !*open)
            .unwrap();
    }
}

/// A business system on 127.0.0.1 whose `/slow` answers once the gate is open; gives its
/// address, a counter of the requests it has begun, and the gate.
pub(crate) fn business_system() -> (String, Arc<std::sync::atomic::AtomicUsize>, Gate) {
    let begun = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let gate = Gate::default();
    let (seen, waiting) = (begun.clone(), gate.clone());
    let address = crate::support::http_server(move |_, _| {
        seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        waiting.wait();
        ("200 OK", r#"{"text": "done slowly"}"#.to_string())
    });
    (address, begun, gate)
}

pub(crate) fn bot_file(dir: &std::path::Path, business: &str) {
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
http = "{business}/slow"
timeout = "90s"

[algorithms.explode]
builtin = "explode"
"#
        ),
    )
    .unwrap();
}

pub(crate) const TOKEN: &str = "777777:shop-token-for-tests";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_business_system_delays_only_its_own_chat_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("state.db").display());
    slow_business_system(dir, &db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_business_system_delays_only_its_own_chat_on_postgres() {
    slow_business_system(tempfile::tempdir().unwrap(), &crate::support::postgres_db().await).await;
}

async fn slow_business_system(dir: tempfile::TempDir, db: &str) {
    let (business, begun, gate) = business_system();
    let fake = FakeTelegram::start().await;
    fake.add_bot(TOKEN, 777777, "shop_bot");
    bot_file(dir.path(), &business);
    let _bw = Botwright::start_with(
        dir.path(),
        db,
        &fake.url,
        &[("SHOP_TOKEN", TOKEN)],
        dir.path().join("log"),
        &["--bot-rate", "1000", "--chat-rate", "1000"],
    );
    wait_for("polling", || fake.count(TOKEN, "GetUpdates") > 0).await;
    // One chat waits at the business system, which does not answer until the gate opens ...
    fake.text(TOKEN, 10, "Slow", "slow");
    wait_for("the business system is called", || {
        begun.load(std::sync::atomic::Ordering::SeqCst) == 1
    })
    .await;
    // ... and meanwhile other chats are answered: the gate is still shut, so their
    // replies cannot have waited for it.
    for chat in 21..=23 {
        fake.text(TOKEN, chat, "U", "fast");
        wait_for("a quick reply while the slow chat waits", || {
            fake.sent(TOKEN, chat).len() == 1
        })
        .await;
    }
    assert!(fake.sent(TOKEN, 10).is_empty(), "the slow chat is still waiting");
    gate.open();
    wait_for("the slow chat's reply", || fake.sent(TOKEN, 10) == ["done slowly"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_on_sqlite_are_handled_once_and_in_order_per_chat() {
    let (business, begun, gate) = business_system();
    let fake = FakeTelegram::start().await;
    fake.add_bot(TOKEN, 777777, "shop_bot");
    let dir = tempfile::tempdir().unwrap();
    bot_file(dir.path(), &business);
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
        let mut u = crate::support::message_update(9, "Ann", text);
        u["update_id"] = id.into();
        u
    };
    // The first delivery is stored (2xx) while its algorithm waits at the gate; the later
    // deliveries of the same chat are stored too, and wait for it.
    assert_eq!(post(update(1, "slow")).join().unwrap(), 200);
    wait_for("the business system is called", || {
        begun.load(std::sync::atomic::Ordering::SeqCst) == 1
    })
    .await;
    assert_eq!(post(update(2, "fast")).join().unwrap(), 200);
    // One update delivered twice at once, then once more.
    let twice = [post(update(3, "fast")), post(update(3, "fast"))];
    for t in twice {
        assert_eq!(t.join().unwrap(), 200);
    }
    assert_eq!(post(update(3, "fast")).join().unwrap(), 200);
    assert!(fake.sent(TOKEN, 9).is_empty(), "nothing overtook the waiting update");
    gate.open();
    wait_for("three replies", || fake.sent(TOKEN, 9).len() >= 3).await;
    // Nothing more will come: the database holds each update once, every one handled, and
    // exactly three replies, all sent.
    let state = rusqlite::Connection::open(dir.path().join("state.db")).unwrap();
    wait_for("every reply recorded as sent", || {
        let unsent: i64 = state
            .query_row("SELECT count(*) FROM outbox WHERE status <> 'sent'", [], |r| r.get(0))
            .unwrap();
        unsent == 0
    })
    .await;
    let inbox: Vec<(i64, String)> = state
        .prepare("SELECT update_id, status FROM inbox WHERE bot = 'shop' ORDER BY update_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(inbox, [(1, "done".into()), (2, "done".into()), (3, "done".into())]);
    let outbox: Vec<String> = state
        .prepare("SELECT text FROM outbox WHERE chat = 9 ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(outbox, ["done slowly", "quick", "quick"]);
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
    panicking_algorithm(tempfile::tempdir().unwrap(), &crate::support::postgres_db().await).await;
}

async fn panicking_algorithm(dir: tempfile::TempDir, db: &str) {
    let fake = FakeTelegram::start().await;
    fake.add_bot(TOKEN, 777777, "shop_bot");
    bot_file(dir.path(), "http://127.0.0.1:9");
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
    // The lease, which the sender waits for.
    let upkeep = tokio::spawn(telegram::run_upkeep(
        runtime.clone(),
        chats.clone(),
        vec![bot.clone()],
        30,
        shutdown.clone(),
    ));

    let boom = fake.text(TOKEN, 1, "Boom", "boom");
    fake.text(TOKEN, 2, "Calm", "calm");
    fake.text(TOKEN, 1, "Boom", "calm");
    wait_for("the others are answered", || {
        fake.sent(TOKEN, 2) == ["still standing"] && fake.sent(TOKEN, 1) == ["still standing"]
    })
    .await;
    // The update that panicked is recorded and skipped; its chat goes on.
    let poisoned = runtime.store.poisoned_updates("shop").await.unwrap();
    assert_eq!(poisoned.len(), 1);
    assert_eq!(poisoned[0].0, boom);
    assert!(poisoned[0].2.contains("the builtin exploded"), "{poisoned:?}");
    // Every test of this process counts into the same metrics: at least this one.
    let metrics = botwright::metrics::render(0);
    let poisoned_total: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("botwright_updates_poisoned_total{bot=\"shop\"} "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(poisoned_total >= 1, "{metrics}");
    assert!(metrics.contains("botwright_handling_seconds_bucket{"), "{metrics}");
    let _ = stop.send(true);
    poller.await.unwrap();
    sender.await.unwrap();
    upkeep.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_business_system_of_one_bot_delays_no_other_bot_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("state.db").display());
    one_bot_hangs(dir, &db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_business_system_of_one_bot_delays_no_other_bot_on_postgres() {
    one_bot_hangs(tempfile::tempdir().unwrap(), &crate::support::postgres_db().await).await;
}

const FAST_TOKEN: &str = "888888:fast-token-for-tests";
/// More chats waiting on the slow bot than tokio has blocking threads (512).
const HANGING_CHATS: i64 = 600;

/// 600 chats of one bot wait on a business system that accepts connections and does not
/// answer; meanwhile another bot answers at once, and so does the HTTP API.
async fn one_bot_hangs(dir: tempfile::TempDir, db: &str) {
    let (business, begun, gate) = business_system();
    let fake = FakeTelegram::start().await;
    fake.add_bot(TOKEN, 777777, "shop_bot");
    fake.add_bot(FAST_TOKEN, 888888, "fast_bot");
    bot_file(dir.path(), &business);
    std::fs::write(
        dir.path().join("fast.toml"),
        "[bot]\nname = \"Fast\"\ntoken_env = \"FAST_TOKEN\"\n\n[[keyword]]\nmatch = \"ping\"\nreply = \"pong\"\n",
    )
    .unwrap();
    let listen = format!("127.0.0.1:{}", crate::support::free_port());
    let _bw = Botwright::start_with(
        dir.path(),
        db,
        &fake.url,
        &[
            ("SHOP_TOKEN", TOKEN),
            ("FAST_TOKEN", FAST_TOKEN),
            ("BOTWRIGHT_API_TOKEN", "api"),
        ],
        dir.path().join("log"),
        &["--bot-rate", "1000", "--chat-rate", "1000", "--listen", &listen],
    );
    wait_for("polling", || {
        fake.count(TOKEN, "GetUpdates") > 0 && fake.count(FAST_TOKEN, "GetUpdates") > 0
    })
    .await;
    for chat in 1..=HANGING_CHATS {
        fake.text(TOKEN, 100_000 + chat, "Slow", "slow");
    }
    // The slow bot takes every update and calls its business system as often as its own
    // bound allows; nothing answers while the gate is shut.
    wait_for("the slow bot's calls hang", || {
        begun.load(std::sync::atomic::Ordering::SeqCst) >= botwright::runtime::STEPS_PER_BOT
    })
    .await;
    // The other bot answers, each time soon.
    let mut latencies = Vec::new();
    for chat in 1..=3 {
        fake.text(FAST_TOKEN, chat, "Fast", "ping");
        wait_for("the other bot's reply", || fake.sent(FAST_TOKEN, chat) == ["pong"]).await;
        let reply = fake
            .calls(FAST_TOKEN, "SendMessage")
            .into_iter()
            .find(|c| c.body["chat_id"].as_i64() == Some(chat))
            .expect("a reply")
            .at;
        latencies.push(reply.saturating_duration_since(fake.pushed_at(FAST_TOKEN, chat)[0]));
    }
    // The HTTP API answers too (a blocked pool made a POST wait as long as the algorithms).
    let url = format!("http://{listen}/api/v1/bots/fast/messages");
    let started = std::time::Instant::now();
    let (status, body) = tokio::task::spawn_blocking(move || {
        crate::support::http_call(
            "POST",
            &url,
            Some(r#"{"to": {"key": 1}, "text": "from the API"}"#.into()),
            Some("api"),
        )
    })
    .await
    .unwrap();
    let api = started.elapsed();
    assert!((200..300).contains(&status), "{status} {body}");
    println!("other bot's replies {latencies:?}, API POST {api:?}, while the slow bot's chats wait");
    assert!(
        begun.load(std::sync::atomic::Ordering::SeqCst) < HANGING_CHATS as usize,
        "the slow bot's calls are bounded"
    );
    assert!(fake.sent(TOKEN, 100_001).is_empty(), "the gate is still shut");
    let best = latencies.iter().min().unwrap();
    assert!(
        *best < Duration::from_secs(1),
        "the other bot answered in {latencies:?} while one bot hung"
    );
    // Once its business system answers, every chat of the slow bot is answered.
    gate.open();
    wait_for("every slow chat answered", || {
        fake.count(TOKEN, "SendMessage") >= HANGING_CHATS as usize
    })
    .await;
}
