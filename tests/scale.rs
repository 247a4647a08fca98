//! Several instances, one PostgreSQL, webhooks delivered to either instance
//! at random: a thousand messages from fifty users give the same transcripts
//! as one instance would, with nothing lost or sent twice, through a kill -9
//! of one instance and a rolling restart.
//!
//! The instance killed with -9 only receives (`--receive-only`): an instance
//! killed between Telegram's acknowledgement of a message and the database
//! recording it would make its successor send that message again, a window no
//! Bot API client can close (sendMessage has no idempotency key). Claims
//! among several senders are tested in `storage.rs`; the sending instance here
//! goes through a graceful rolling restart, which finishes what it sends.
//!
//! The instance killed with -9 only receives (`--receive-only`): an instance
//! killed between Telegram's acknowledgement of a message and the database
//! recording it would make its successor send that message again, a window no
//! Bot API client can close (sendMessage has no idempotency key). Claims
//! among several senders are tested in `storage.rs`; the sending instance here
//! goes through a graceful rolling restart, which finishes what it sends.

mod support;

use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::{Botwright, FakeTelegram, wait_for};

const TOKEN: &str = "555555:scale-token-for-tests";
const USERS: i64 = 50;
const CYCLES: usize = 5;
/// Each cycle: four messages and the four replies they must get, in order.
const SCRIPT: [(&str, &str); 4] = [
    ("Выбор", "Выберите один из вариантов"),
    ("1", "Вы выбрали «Вариант №1». Подтвердить?"),
    ("Да", "Выбрали \"Вариант №1\""),
    ("А1", "Ответ на ключевое слово А1"),
];

fn secret() -> String {
    botwright::telegram::webhook::secret_for(TOKEN)
}

/// Delivers one update as Telegram would: to a random instance, again (anywhere) until one answers 2xx.
fn deliver(instances: &[String], update: &Value, seed: &mut u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    loop {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let target = &instances[(*seed % instances.len() as u64) as usize];
        let answer = agent
            .post(&format!("{target}/hook/demo"))
            .header("x-telegram-bot-api-secret-token", &secret())
            .header("content-type", "application/json")
            .send(update.to_string());
        if matches!(answer, Ok(ref r) if r.status().is_success()) {
            return;
        }
        assert!(Instant::now() < deadline, "no instance took the update");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_one_database_webhooks_at_random() {
    let fake = FakeTelegram::start().await;
    fake.add_bot(TOKEN, 555555, "scale_bot");
    let db = support::postgres_db().await;
    let bots = tempfile::tempdir().unwrap();
    std::fs::write(
        bots.path().join("demo.toml"),
        std::fs::read_to_string("bots/demo.toml").unwrap(),
    )
    .unwrap();
    let logs = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..2)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        })
        .collect();
    let instances: Vec<String> = ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect();
    let start = |i: usize| {
        let listen = format!("127.0.0.1:{}", ports[i]);
        let env = [("DEMO_BOT_TOKEN", TOKEN), ("BOTWRIGHT_API_TOKEN", "scale-api")];
        let mut args = [
            "--listen",
            &listen,
            "--webhook-url",
            "https://bots.example.com/hook",
            "--bot-rate",
            "1000",
            "--chat-rate",
            "1000",
            "--claim-timeout",
            "10",
        ]
        .to_vec();
        if i == 1 {
            args.push("--receive-only");
        }
        Botwright::start_with(
            bots.path(),
            &db,
            &fake.url,
            &env,
            logs.path().join(format!("log{i}")),
            &args,
        )
    };
    let mut running = [start(0), start(1)];
    for url in &instances {
        let health = format!("{url}/healthz");
        wait_for("an instance is up", || ureq::get(&health).call().is_ok()).await;
    }
    let hooks = fake.calls(TOKEN, "SetWebhook");
    assert_eq!(hooks.len(), 2);
    assert!(
        hooks
            .iter()
            .all(|c| c.body["url"] == "https://bots.example.com/hook/demo" && c.body["secret_token"] == secret())
    );

    // Fifty users, each writing in order (Telegram keeps one chat's updates in order).
    let delivered = Arc::new(AtomicUsize::new(0));
    let mut users = Vec::new();
    for u in 0..USERS {
        let instances = instances.clone();
        let delivered = delivered.clone();
        users.push(std::thread::spawn(move || {
            let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ (u as u64 + 1);
            let mut update_id = 1_000_000 + u * 1000;
            for _ in 0..CYCLES {
                for (text, _) in SCRIPT {
                    update_id += 1;
                    let mut update = support::message_update(7000 + u, "User", text);
                    update["update_id"] = update_id.into();
                    deliver(&instances, &update, &mut seed);
                    delivered.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    let total = USERS as usize * CYCLES * SCRIPT.len();
    assert_eq!(total, 1000);

    // A kill -9 of one instance in the middle, then a rolling restart of the other.
    wait_for("a third delivered", || delivered.load(Ordering::SeqCst) >= total / 3).await;
    running[1].child.kill().unwrap();
    running[1].child.wait().unwrap();
    running[1] = start(1);
    wait_for("two thirds delivered", || {
        delivered.load(Ordering::SeqCst) >= 2 * total / 3
    })
    .await;
    running[0].signal("TERM");
    assert_eq!(running[0].exit_code().await, Some(0));
    running[0] = start(0);
    for u in users {
        tokio::task::spawn_blocking(move || u.join().unwrap()).await.unwrap();
    }

    // Every user got exactly the script's replies, in order: nothing lost, nothing twice.
    let expected: Vec<String> = (0..CYCLES)
        .flat_map(|_| SCRIPT.iter().map(|(_, reply)| reply.to_string()))
        .collect();
    wait_for("every reply sent", || fake.count(TOKEN, "SendMessage") >= total).await;
    for u in 0..USERS {
        let chat = 7000 + u;
        wait_for("the user's replies", || fake.sent(TOKEN, chat).len() >= expected.len()).await;
        assert_eq!(fake.sent(TOKEN, chat), expected, "user {chat}");
    }
    // Nothing more arrives later (a duplicate would).
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(fake.count(TOKEN, "SendMessage"), total);
    // Stopping an instance never removes the webhook.
    assert_eq!(fake.count(TOKEN, "DeleteWebhook"), 0);
}
