//! The storage suite, against SQLite and a real PostgreSQL: migrations,
//! sessions, registrations, authorization requests, exactly-once updates and
//! the outbox claim.

mod support;

use botwright::algorithms::Builtins;
use botwright::engine::{AuthRequest, AuthStatus, Keyboard, Outgoing, Principal, Session, User, World};
use botwright::store::buffered::{BufferedWorld, CommitError};
use botwright::store::sql::{self, NewMessage, SqlStore};
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
    let builtins = Builtins::default();
    let store2 = store.clone();
    let url = url.to_string();
    tokio::task::spawn_blocking(move || {
        let handle = tokio::runtime::Handle::current();
        let store = store2;
        // Sessions, registrations and a request, committed with an update id.
        let mut w = BufferedWorld::new(&store, "demo", handle.clone(), &builtins);
        assert!(!w.already_handled(1));
        let session = Session {
            hash: "abc".into(),
            seq: 3,
            ..Session::default()
        };
        w.save_session(10, 10, &session);
        w.register(
            10,
            &Principal {
                kind: "partner".into(),
                id: "7".into(),
                name: "ООО".into(),
            },
            "U10",
            now(),
        );
        let id = w.create_auth_request(AuthRequest {
            id: 0,
            key: 11,
            user_id: 11,
            name: "U11".into(),
            username: None,
            data: "data".into(),
            status: AuthStatus::Pending,
            created_at: now(),
            reason: None,
        });
        let out = [Outgoing {
            to: 10,
            text: "hi".into(),
            keyboard: Keyboard::None,
        }];
        w.commit(Some(1), &user(10), &out, now()).unwrap();

        let mut w = BufferedWorld::new(&store, "demo", handle.clone(), &builtins);
        assert!(w.already_handled(1));
        assert_eq!(w.session(10, 10), Some(session));
        assert_eq!(w.registration(10).unwrap().id, "7");
        assert_eq!(w.pending_auth_request(11).unwrap().id, id);
        // The same update again is a duplicate.
        assert!(matches!(
            w.commit(Some(1), &user(10), &[], now()),
            Err(CommitError::Duplicate)
        ));

        // Two decisions of one request: the second finds it decided.
        let mut a = BufferedWorld::new(&store, "demo", handle.clone(), &builtins);
        let mut b = BufferedWorld::new(&store, "demo", handle.clone(), &builtins);
        let mut ra = a.auth_request(id).unwrap();
        let mut rb = b.auth_request(id).unwrap();
        ra.status = AuthStatus::Approved;
        rb.status = AuthStatus::Rejected;
        a.update_auth_request(&ra);
        b.update_auth_request(&rb);
        a.commit(Some(2), &user(1001), &[], now()).unwrap();
        assert!(matches!(
            b.commit(Some(3), &user(1002), &[], now()),
            Err(CommitError::Conflict)
        ));
        let mut c = BufferedWorld::new(&store, "demo", handle.clone(), &builtins);
        assert_eq!(c.auth_request(id).unwrap().status, AuthStatus::Approved);
        assert!(c.pending_auth_request(11).is_none());

        // A draft left by a step that never committed is invisible.
        let mut d = BufferedWorld::new(&store, "demo", handle.clone(), &builtins);
        let draft = d.create_auth_request(AuthRequest {
            id: 0,
            key: 12,
            user_id: 12,
            name: "U12".into(),
            username: None,
            data: "x".into(),
            status: AuthStatus::Pending,
            created_at: now(),
            reason: None,
        });
        drop(d);
        let mut e = BufferedWorld::new(&store, "demo", handle.clone(), &builtins);
        assert!(e.auth_request(draft).is_none() && e.pending_auth_request(12).is_none());

        // The outbox: idempotency, and a claim of one message per chat at a time.
        handle.block_on(async {
            let mut tx = store.pool.begin().await.unwrap();
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
                };
                sql::insert_message(&mut tx, &m).await.unwrap();
            }
            tx.commit().await.unwrap();
            let later = now() + chrono::Duration::seconds(1);
            let first = store
                .claim_due("demo", later, 100, Duration::from_secs(60))
                .await
                .unwrap();
            let mut texts: Vec<&str> = first.iter().map(|m| m.text.as_str()).collect();
            texts.sort();
            assert_eq!(
                texts,
                ["a1", "b1", "hi"],
                "one message per chat, idempotent key stored once"
            );
            assert!(
                store
                    .claim_due("demo", later, 100, Duration::from_secs(60))
                    .await
                    .unwrap()
                    .is_empty(),
                "claimed messages are not claimed twice"
            );
            let a1 = first.iter().find(|m| m.text == "a1").unwrap();
            store.mark_sent(a1.id, later).await.unwrap();
            let next = store
                .claim_due("demo", later, 100, Duration::from_secs(60))
                .await
                .unwrap();
            assert_eq!(next.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(), ["a2"]);
            // A claim left by a dead instance is taken over after the timeout.
            let much_later = later + chrono::Duration::seconds(120);
            let taken = store
                .claim_due("demo", much_later, 100, Duration::from_secs(60))
                .await
                .unwrap();
            assert_eq!(taken.len(), 3, "{url}");
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
    suite(&support::postgres_db().await).await;
}
