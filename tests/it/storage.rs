//! The storage suite, against SQLite and a real PostgreSQL: migrations,
//! sessions, registrations, authorization requests, the inbox (exactly-once
//! updates, poison), the outbox (claims, leases, rescue, retention), and the
//! plan of every query on the hot path.

use botwright::engine::{AuthRequest, AuthStatus, Keyboard, Outgoing, Principal, Session, User, World};
use botwright::store::buffered::{BufferedWorld, CommitError};
use botwright::store::queries::{self, NewMessage};
use botwright::store::sql::SqlStore;
use botwright::store::types::Delivery;
use botwright::store::types::Received;
use botwright::store::{console_plans, plans};
use std::time::Duration;

fn now() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339("2021-02-06T14:00:00+03:00").unwrap()
}

fn user(chat: i64) -> User {
    User {
        id: chat,
        chat,
        name: format!("U{chat}"),
        username: None,
    }
}

async fn suite(url: &str) {
    let store = SqlStore::open(url).await.unwrap();
    // Migrating again is a no-op.
    let store = {
        drop(store);
        SqlStore::open(url).await.unwrap()
    };
    let store2 = store.clone();
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        let handle = tokio::runtime::Handle::current();
        let store = store2;
        // Sessions, registrations and a request, committed with an update id.
        let mut w = BufferedWorld::new(&store, "demo", handle.clone());
        assert!(!w.already_handled(1).unwrap());
        let session = Session {
            stamps: [("choice".to_string(), "0123456789abcdef".to_string())].into(),
            seq: 3,
            ..Session::default()
        };
        w.save_session(10, 10, &session).unwrap();
        w.register(
            10,
            &Principal {
                kind: "partner".into(),
                id: "7".into(),
                name: "ООО".into(),
            },
            "U10",
            now(),
        )
        .unwrap();
        let id = w
            .create_auth_request(AuthRequest {
                id: 0,
                key: 11,
                user_id: 11,
                name: "U11".into(),
                username: None,
                data: "data".into(),
                status: AuthStatus::Pending,
                created_at: now(),
                reason: None,
            })
            .unwrap();
        let out = [Outgoing::text(10, "hi".into(), Keyboard::None)];
        w.commit(Some(1), &user(10), &out, now()).unwrap();

        let mut w = BufferedWorld::new(&store, "demo", handle.clone());
        assert!(w.already_handled(1).unwrap());
        assert_eq!(w.session(10, 10).unwrap(), Some(session));
        assert_eq!(w.registration(10).unwrap().unwrap().id, "7");
        assert_eq!(w.pending_auth_request(11).unwrap().unwrap().id, id);
        // The same update again is a duplicate.
        assert!(matches!(
            w.commit(Some(1), &user(10), &[], now()),
            Err(CommitError::Duplicate)
        ));

        // Two decisions of one request: the second finds it decided.
        let mut a = BufferedWorld::new(&store, "demo", handle.clone());
        let mut b = BufferedWorld::new(&store, "demo", handle.clone());
        let mut ra = a.auth_request(id).unwrap().unwrap();
        let mut rb = b.auth_request(id).unwrap().unwrap();
        ra.status = AuthStatus::Approved;
        rb.status = AuthStatus::Rejected;
        a.update_auth_request(&ra).unwrap();
        b.update_auth_request(&rb).unwrap();
        a.commit(Some(2), &user(1001), &[], now()).unwrap();
        assert!(matches!(
            b.commit(Some(3), &user(1002), &[], now()),
            Err(CommitError::Conflict)
        ));
        // The conflicting job wrote nothing, not even its update id: it is handled again.
        let mut c = BufferedWorld::new(&store, "demo", handle.clone());
        assert!(!c.already_handled(3).unwrap());
        assert_eq!(c.auth_request(id).unwrap().unwrap().status, AuthStatus::Approved);
        assert!(c.pending_auth_request(11).unwrap().is_none());

        // A draft left by a step that never committed is invisible.
        let mut d = BufferedWorld::new(&store, "demo", handle.clone());
        let draft = d
            .create_auth_request(AuthRequest {
                id: 0,
                key: 12,
                user_id: 12,
                name: "U12".into(),
                username: None,
                data: "x".into(),
                status: AuthStatus::Pending,
                created_at: now(),
                reason: None,
            })
            .unwrap();
        drop(d);
        let mut e = BufferedWorld::new(&store, "demo", handle.clone());
        assert!(e.auth_request(draft).unwrap().is_none() && e.pending_auth_request(12).unwrap().is_none());

        handle.block_on(async {
            // The inbox: a redelivered update is stored once; waiting updates come per chat, in order.
            let received = |id: i64, chat: i64| Received {
                update_id: id,
                chat,
                payload: format!("{{\"update_id\": {id}}}"),
            };
            let fresh = store
                .receive("demo", &[received(50, 5), received(51, 6), received(52, 5)], now())
                .await
                .unwrap();
            assert_eq!(fresh, [50, 51, 52]);
            let again = store
                .receive("demo", &[received(52, 5), received(53, 5)], now())
                .await
                .unwrap();
            assert_eq!(again, [53], "a redelivered update is not new");
            let waiting: Vec<i64> = store
                .waiting_updates("demo", 5, 10)
                .await
                .unwrap()
                .iter()
                .map(|u| u.update_id)
                .collect();
            assert_eq!(waiting, [50, 52, 53]);
            // Three failed attempts are counted; poison takes the update out of the queue.
            for n in 1..=3 {
                assert_eq!(store.update_failed("demo", 52, "boom").await.unwrap(), n);
            }
            store.poison_update("demo", 52, "boom", now()).await.unwrap();
            let waiting: Vec<i64> = store
                .waiting_updates("demo", 5, 10)
                .await
                .unwrap()
                .iter()
                .map(|u| u.update_id)
                .collect();
            assert_eq!(waiting, [50, 53]);
            assert_eq!(
                store.poisoned_updates("demo").await.unwrap(),
                [(52, 3, "boom".to_string())]
            );
            let stale = store
                .chats_waiting_since(now() + chrono::Duration::seconds(1), 10)
                .await
                .unwrap();
            assert_eq!(stale.len(), 2, "chats 5 and 6 wait");

            // The outbox: idempotency, and a claim of one message per chat at a time.
            let mut tx = store.begin().await.unwrap();
            for (chat, text, key) in [
                (20, "a1", Some("k")),
                (20, "a2", None),
                (21, "b1", None),
                (20, "a1 again", Some("k")),
            ] {
                let m = NewMessage {
                    bot: "demo",
                    chat,
                    text,
                    keyboard: &Keyboard::None,
                    attachments: &[],
                    due: now(),
                    now: now(),
                    idempotency_key: key,
                    first_id: None,
                    broadcast: None,
                };
                // The repeated key is refused by the database's conflict handling, not an error.
                let stored = queries::insert_message(&mut tx, &m).await.unwrap();
                assert_eq!(stored.is_none(), text == "a1 again", "{text}");
            }
            tx.commit().await.unwrap();
            let later = now() + chrono::Duration::seconds(1);
            store.heartbeat("one", later).await.unwrap();
            store.heartbeat("two", later).await.unwrap();
            let first = store.claim("demo", "one", later, 100).await.unwrap();
            let mut texts: Vec<&str> = first.iter().map(|m| m.text.as_str()).collect();
            texts.sort();
            assert_eq!(
                texts,
                ["a1", "b1", "hi"],
                "one message per chat, idempotent key stored once"
            );
            assert!(
                store.claim("demo", "two", later, 100).await.unwrap().is_empty(),
                "claimed messages are not claimed twice"
            );
            let a1 = first.iter().find(|m| m.text == "a1").unwrap();
            store
                .record_deliveries(
                    &[Delivery::Sent {
                        id: a1.id,
                        telegram_id: Some(900),
                        parts: 1,
                        at: later,
                    }],
                    "one",
                )
                .await
                .unwrap();
            let next = store.claim("demo", "two", later, 100).await.unwrap();
            assert_eq!(next.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), ["a2"]);
            // Instance "one" stops beating: after its lease its messages go back to the queue.
            let much_later = later + chrono::Duration::seconds(10);
            store.heartbeat("two", much_later).await.unwrap();
            assert_eq!(
                store.rescue(much_later, Duration::from_secs(3)).await.unwrap(),
                2,
                "{url}"
            );
            let taken = store.claim("demo", "two", much_later, 100).await.unwrap();
            let mut texts: Vec<&str> = taken.iter().map(|m| m.text.as_str()).collect();
            texts.sort();
            assert_eq!(texts, ["b1", "hi"]);
            // "two" sends b1. Then "one" learns late that its attempts failed: the messages are
            // not its own any more, and nothing it records takes them back (a late retry used
            // to queue b1, sent already, again).
            let id_of = |text: &str| taken.iter().find(|m| m.text == text).unwrap().id;
            let (b1, hi) = (id_of("b1"), id_of("hi"));
            let sent = Delivery::Sent {
                id: b1,
                telegram_id: Some(901),
                parts: 1,
                at: much_later,
            };
            store.record_deliveries(&[sent], "two").await.unwrap();
            let error = || "too late".to_string();
            let late = [
                Delivery::Retry {
                    id: b1,
                    attempts: 1,
                    due: much_later,
                    error: error(),
                },
                Delivery::Released { id: hi },
                Delivery::Failed {
                    id: hi,
                    attempts: 5,
                    error: error(),
                    at: much_later,
                },
                Delivery::Blocked {
                    id: hi,
                    error: error(),
                    at: much_later,
                },
            ];
            store.record_deliveries(&late, "one").await.unwrap();
            assert!(
                store.claim("demo", "three", much_later, 100).await.unwrap().is_empty(),
                "a late outcome of a lost attempt queued a message on {url}"
            );
            // A graceful stop hands the messages back at once: hi and a2, not b1, which is sent.
            store.leave("two").await.unwrap();
            let handed: Vec<String> = store
                .claim("demo", "three", much_later, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.text)
                .collect();
            assert_eq!(handed.len(), 2, "{handed:?}");
            assert!(!handed.contains(&"b1".to_string()), "{handed:?}");

            // Retention: finished messages and handled updates older than the cut go; waiting ones stay.
            let depth_before = store.queue_depth().await.unwrap();
            let gone = store
                .delete_finished(much_later + chrono::Duration::days(31))
                .await
                .unwrap();
            assert!(gone >= 4, "the sent message and three handled updates: {gone}");
            assert_eq!(
                store.queue_depth().await.unwrap(),
                depth_before,
                "nothing unsent is deleted"
            );
            assert_eq!(
                store.waiting_updates("demo", 5, 10).await.unwrap().len(),
                2,
                "waiting updates are kept"
            );
            // The idempotency key of a deleted message is free again.
            let mut tx = store.begin().await.unwrap();
            let m = NewMessage {
                bot: "demo",
                chat: 20,
                text: "a1 anew",
                keyboard: &Keyboard::None,
                attachments: &[],
                due: now(),
                now: now(),
                idempotency_key: Some("k"),
                first_id: None,
                broadcast: None,
            };
            let (new_id, _) = queries::insert_message(&mut tx, &m)
                .await
                .unwrap()
                .expect("the key is free");
            tx.commit().await.unwrap();
            assert_ne!(new_id, a1.id);

            // The check sees a full scan where there is one ...
            let scan = plans::HotQuery {
                name: "a scan",
                sql: "SELECT id FROM outbox WHERE text = $1".into(),
                params: vec![plans::Param::Text("x")],
            };
            let plan = store.plan(&scan).await.unwrap();
            assert!(!plans::full_scans(store.dialect, &plan).is_empty(), "{plan:#?}");
            // ... and every query on the hot path reads through an index.
            for q in plans::hot_queries(store.dialect)
                .into_iter()
                .chain(console_plans::console_queries())
            {
                let plan = store.plan(&q).await.unwrap();
                let scans = plans::full_scans(store.dialect, &plan);
                assert!(scans.is_empty(), "{} scans a whole table on {url}: {plan:#?}", q.name);
                // SQLite shows no step for an insert by primary key; every other statement has a plan.
                assert!(!plan.is_empty() || q.sql.starts_with("INSERT"), "{}: no plan", q.name);
            }
        });
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    suite(&format!("sqlite://{}", dir.path().join("s.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_on_postgres() {
    suite(&crate::support::postgres_db().await).await;
}

/// Action buttons kept before migration 0005 find their chat in the outbox (or, their message
/// gone, have none); every button answers only in its chat, through the engine's world too.
async fn action_button_chats(url: &str) {
    use botwright::engine::{ActionButton, Keyboard, LinkButton};
    sqlx::any::install_default_drivers();
    let (dialect, connect) = match url.strip_prefix("sqlite://") {
        Some(path) => ("sqlite", format!("sqlite://{path}?mode=rwc")),
        None => ("postgres", url.to_string()),
    };
    let pool = sqlx::AnyPool::connect(&connect).await.unwrap();
    let mut old = sqlx::migrate::Migrator::new(std::path::Path::new(&format!("migrations/{dialect}")))
        .await
        .unwrap();
    old.migrations = old
        .migrations
        .iter()
        .filter(|m| m.version <= 4)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    old.run(&pool).await.unwrap();
    let keyboard = serde_json::to_string(&Keyboard::Links(vec![vec![
        LinkButton {
            text: "Open".into(),
            url: "https://x.example/".into(),
            data: None,
        },
        LinkButton {
            text: "Done".into(),
            url: String::new(),
            data: Some("x:7".into()),
        },
    ]]))
    .unwrap();
    let at = botwright::store::types::now_text(now());
    for statement in [
        format!(
            "INSERT INTO action_buttons (id, bot, record, value, label, message_text, created_at) \
             VALUES (7, 'signal', 'task_done_button', '19', 'Done', 'Task 19', '{at}')"
        ),
        format!(
            "INSERT INTO action_buttons (id, bot, record, value, label, message_text, created_at) \
             VALUES (8, 'signal', 'task_done_button', '20', 'Done', 'Task 20', '{at}')"
        ),
        format!(
            "INSERT INTO outbox (bot, chat, text, keyboard, attachments, status, due_at, created_at) \
             VALUES ('signal', 502, 'Task 19', '{keyboard}', '[]', 'sent', '{at}', '{at}')"
        ),
        format!(
            "INSERT INTO outbox (bot, chat, text, keyboard, attachments, status, due_at, created_at) \
             VALUES ('signal', 503, 'Hello', '\"None\"', '[]', 'sent', '{at}', '{at}')"
        ),
    ] {
        sqlx::query(&statement).execute(&pool).await.unwrap();
    }
    pool.close().await;

    let store = SqlStore::open(url).await.unwrap();
    let kept = store
        .action_button("signal", 7, 502)
        .await
        .unwrap()
        .expect("its chat was found");
    assert_eq!((kept.value.as_str(), kept.chat), ("19", 502));
    assert_eq!(
        store.action_button("signal", 7, 503).await.unwrap(),
        None,
        "another chat"
    );
    assert_eq!(store.action_button("other", 7, 502).await.unwrap(), None, "another bot");
    assert_eq!(
        store.action_button("signal", 8, 502).await.unwrap(),
        None,
        "its message is gone"
    );
    // A new button keeps its chat.
    let button = ActionButton {
        record: "task_done_button".into(),
        value: "21".into(),
        label: "Done".into(),
        message_text: "Task 21".into(),
        chat: 600,
    };
    let mut tx = store.pool.begin().await.unwrap();
    let id = queries::insert_action_button(&mut tx, "signal", &button, now())
        .await
        .unwrap() as u64;
    tx.commit().await.unwrap();
    assert_eq!(
        store.action_button("signal", id, 600).await.unwrap(),
        Some(button.clone())
    );
    assert_eq!(store.action_button("signal", id, 601).await.unwrap(), None);
    // The engine's world of one update reads the same way.
    tokio::task::spawn_blocking(move || {
        let handle = tokio::runtime::Handle::current();
        let mut w = BufferedWorld::new(&store, "signal", handle);
        assert_eq!(w.action_button(id, 600).unwrap(), Some(button));
        assert_eq!(w.action_button(id, 502).unwrap(), None);
        assert_eq!(w.action_button(7, 502).unwrap().map(|b| b.chat), Some(502));
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_buttons_answer_only_in_their_chat_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    action_button_chats(&format!("sqlite://{}", dir.path().join("a.db").display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_buttons_answer_only_in_their_chat_on_postgres() {
    action_button_chats(&crate::support::postgres_db().await).await;
}
