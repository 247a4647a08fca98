//! The same work through every driver: rusqlite (a SQLite file's hot path), sqlx on the
//! same kind of file, and sqlx on PostgreSQL (where the group commit writes jobs together,
//! `commit_many`). The group commit, the inbox and the outbox are written once over the
//! store's `Db` trait; this checks that every driver and both strategies answer alike and
//! leave the same rows behind.

use botwright::engine::{AuthRequest, AuthStatus, File, InlineButton, Keyboard, Outgoing, Principal, Session};
use botwright::store::sql::SqlStore;
use botwright::store::types::{Changes, Committed, Delivery, Job, LogRow, Receive, Received, Work};
use chrono::{DateTime, Duration, FixedOffset};

fn at(minutes: i64) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2021-02-06T14:00:00+03:00").unwrap() + Duration::minutes(minutes)
}

fn job(update_id: Option<i64>, chat: i64, minutes: i64) -> Job {
    Job {
        bot: "demo".into(),
        update_id,
        chat,
        chat_name: format!("U{chat}"),
        record_chat: update_id.is_some(),
        changes: Changes::default(),
        out: Vec::new(),
        owner: None,
        now: at(minutes),
        insights: Vec::new(),
        release: None,
    }
}

fn log(chat: i64, kind: &'static str, value: &str) -> LogRow {
    LogRow {
        bot: "demo".into(),
        at: botwright::store::types::now_text(at(10)),
        chat,
        kind,
        name: Some("n".into()),
        value: Some(value.into()),
        label: None,
        ms: Some(3),
        took: None,
    }
}

/// What a commit answered, without the parts that are the database's to choose.
fn summary(results: &[Committed]) -> Vec<String> {
    results
        .iter()
        .map(|r| match r {
            Committed::Messages { to_send, queued } => format!(
                "messages to_send={:?} queued={queued}",
                to_send
                    .iter()
                    .map(|m| (m.id, m.chat, m.text.clone(), m.claimed_at.clone()))
                    .collect::<Vec<_>>()
            ),
            other => format!("{other:?}"),
        })
        .collect()
}

/// Every row the work left, as text.
async fn dump(url: &str) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let tables = [
        (
            "inbox",
            "bot, update_id, chat, payload, status, attempts, last_error, received_at, handled_at",
            "bot, update_id",
        ),
        (
            "outbox",
            "id, bot, chat, text, keyboard, attachments, status, owner, claimed_at, due_at, attempts, parts_sent, \
             telegram_message_id, last_error, sent_at, finished_at",
            "id",
        ),
        ("sessions", "bot, chat, user_id, data, updated_at", "bot, chat, user_id"),
        (
            "registrations",
            "bot, chat, kind, principal_id, principal_name, name, registered_at, search",
            "bot, chat",
        ),
        ("chats", "bot, chat, name, first_seen", "bot, chat"),
        (
            "auth_requests",
            "id, bot, chat, user_id, name, username, data, status, reason, created_at",
            "id",
        ),
        ("insights", "bot, at, chat, kind, name, value, label, ms, took", "id"),
        ("instances", "id, heartbeat_at", "id"),
    ];
    let mut out = Vec::new();
    for (table, columns, order) in tables {
        let list: Vec<&str> = columns.split(", ").collect();
        let select = list
            .iter()
            .map(|c| format!("CAST({c} AS TEXT)"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = sqlx::query(&format!("SELECT {select} FROM {table} ORDER BY {order}"))
            .fetch_all(&pool)
            .await
            .unwrap();
        for row in rows {
            let cells: Vec<Option<String>> = (0..list.len()).map(|i| sqlx::Row::get(&row, i)).collect();
            out.push(format!("{table}: {cells:?}"));
        }
    }
    pool.close().await;
    out
}

/// The script: received updates (and a redelivery), a batch of jobs (replies sent from
/// memory and left to a claim, a duplicate, a request created, a step of the API), a
/// decision and a decision that loses, a claim, delivery outcomes of every kind, the
/// inbox's failures and poison, leases and retention. Gives what each call answered.
async fn script(store: &SqlStore) -> Vec<String> {
    let mut said = Vec::new();
    let updates = |ids: &[i64]| -> Vec<Received> {
        ids.iter()
            .map(|&id| Received {
                update_id: id,
                chat: 10 + id % 2,
                payload: format!("{{\"update_id\":{id}}}"),
            })
            .collect()
    };
    let fresh = store
        .receive("demo", &updates(&[1, 2, 3, 4, 5, 6]), at(0))
        .await
        .unwrap();
    said.push(format!("receive: {fresh:?}"));
    let receive = Work::Receive(Receive {
        bot: "demo".into(),
        updates: updates(&[5, 6, 7, 8]),
        now: at(0),
    });
    said.extend(summary(&store.commit(&[receive]).await.unwrap()));

    let principal = Principal {
        kind: "partner".into(),
        id: "7701".into(),
        name: "ООО «Вектор»".into(),
    };
    let draft = AuthRequest {
        id: 0,
        key: 10,
        user_id: 10,
        name: "U10".into(),
        username: Some("u10".into()),
        data: "+7 900".into(),
        status: AuthStatus::Pending,
        created_at: at(1),
        reason: None,
    };
    let request = store.insert_draft_request("demo", &draft).await.unwrap();
    said.push(format!("draft: {request}"));

    let mut a = job(Some(1), 10, 1);
    a.owner = Some("me".into());
    a.changes.sessions.insert(
        (10, 10),
        Session {
            seq: 4,
            ..Session::default()
        },
    );
    a.changes
        .registrations
        .push((10, principal.clone(), "U10".into(), at(1)));
    a.out = vec![
        Outgoing::text(
            10,
            "Ответ".into(),
            Keyboard::Inline(vec![vec![InlineButton {
                label: "Да".into(),
                data: "o:1".into(),
            }]]),
        ),
        Outgoing {
            files: vec![File {
                name: "a.pdf".into(),
                content_base64: None,
                url: Some("https://example.org/a.pdf".into()),
                file_id: None,
            }],
            ..Outgoing::text(10, "second".into(), Keyboard::None)
        },
    ];
    a.insights = vec![log(10, "update", "record"), log(10, "choice", "x")];
    let mut b = job(Some(2), 11, 1);
    b.out = vec![Outgoing::text(11, "queued".into(), Keyboard::None)];
    b.insights = vec![log(11, "update", "unknown")];
    let duplicate = job(Some(1), 10, 2);
    let mut d = job(Some(3), 11, 2);
    d.changes.requests.insert(
        request,
        AuthRequest {
            id: request,
            ..draft.clone()
        },
    );
    d.changes.created.push(request);
    let mut api = job(None, 12, 2);
    api.out = vec![Outgoing::text(12, "from the API".into(), Keyboard::None)];
    let batch: Vec<Work> = [a, b, duplicate, d, api]
        .into_iter()
        .map(|j| Work::Job(Box::new(j)))
        .collect();
    said.extend(summary(&store.commit(&batch).await.unwrap()));

    // A decision, then one that finds the request decided already.
    let decide = |update: i64, status: AuthStatus| {
        let mut j = job(Some(update), 10, 3);
        j.changes.requests.insert(
            request,
            AuthRequest {
                id: request,
                status,
                ..draft.clone()
            },
        );
        j.changes.decided.push(request);
        j.out = vec![Outgoing::text(10, format!("decided {update}"), Keyboard::None)];
        Work::Job(Box::new(j))
    };
    let decisions = [decide(4, AuthStatus::Approved), decide(5, AuthStatus::Rejected)];
    said.extend(summary(&store.commit(&decisions).await.unwrap()));

    let claimed = store.claim("demo", "other", at(4), 10).await.unwrap();
    said.push(format!(
        "claim: {:?}",
        claimed
            .iter()
            .map(|m| (m.id, m.chat, m.text.clone(), m.attempts, m.claimed_at.clone()))
            .collect::<Vec<_>>()
    ));
    let ids: Vec<i64> = claimed.iter().map(|m| m.id).collect();
    let mut deliveries = vec![
        Delivery::Sent {
            id: 1,
            telegram_id: Some(501),
            parts: 1,
            at: at(5),
        },
        Delivery::PartSent {
            id: 2,
            parts: 1,
            telegram_id: Some(502),
        },
        Delivery::TextReplaced {
            id: 2,
            text: "second, escaped".into(),
        },
    ];
    if let [first, second, rest @ ..] = ids.as_slice() {
        deliveries.push(Delivery::Retry {
            id: *first,
            attempts: 1,
            due: at(6),
            error: "429".into(),
        });
        deliveries.push(Delivery::Blocked {
            id: *second,
            error: "403".into(),
            at: at(5),
        });
        for id in rest {
            deliveries.push(Delivery::Sent {
                id: *id,
                telegram_id: None,
                parts: 1,
                at: at(5),
            });
        }
    }
    store.record_deliveries(&deliveries, "other").await.unwrap();
    store
        .record_deliveries(
            &[Delivery::Failed {
                id: 2,
                attempts: 5,
                error: "gave up".into(),
                at: at(6),
            }],
            "me",
        )
        .await
        .unwrap();

    said.push(format!(
        "waiting 11: {:?}",
        store.waiting_updates("demo", 11, 10).await.unwrap().len()
    ));
    said.push(format!(
        "all waiting: {:?}",
        store
            .all_waiting_updates("demo")
            .await
            .unwrap()
            .iter()
            .map(|u| (u.update_id, u.chat, u.payload.clone()))
            .collect::<Vec<_>>()
    ));
    said.push(format!(
        "chats waiting: {:?}",
        store.chats_waiting_since(at(9), 10).await.unwrap()
    ));
    said.push(format!(
        "failed: {}",
        store.update_failed("demo", 6, "boom").await.unwrap()
    ));
    said.push(format!(
        "failed: {}",
        store.update_failed("demo", 6, "boom again").await.unwrap()
    ));
    store.poison_update("demo", 6, "boom again", at(7)).await.unwrap();
    said.push(format!("poisoned: {:?}", store.poisoned_updates("demo").await.unwrap()));
    store.heartbeat("me", at(7)).await.unwrap();
    store.heartbeat("other", at(1)).await.unwrap();
    said.push(format!(
        "rescued: {}",
        store.rescue(at(8), std::time::Duration::from_secs(120)).await.unwrap()
    ));
    store.leave("me").await.unwrap();
    said.push(format!("depth: {}", store.queue_depth().await.unwrap()));
    said.push(format!(
        "session: {:?}",
        store.session("demo", 10, 10).await.unwrap().map(|s| s.seq)
    ));
    said.push(format!(
        "registration: {:?}",
        store.registration("demo", 10).await.unwrap()
    ));
    said.push(format!(
        "session and registration: {:?}",
        store.session_and_registration("demo", 11, 11).await.unwrap()
    ));
    said.push(format!(
        "request: {:?}",
        store
            .auth_request("demo", request)
            .await
            .unwrap()
            .map(|r| (r.status, r.created_at))
    ));
    said.push(format!(
        "pending: {:?}",
        store.pending_auth_request("demo", 10).await.unwrap()
    ));
    said.push(format!("status 1: {:?}", store.update_status("demo", 1).await.unwrap()));
    said.push(format!("gone: {}", store.delete_finished(at(5)).await.unwrap()));
    said
}

async fn run(url: &str, sqlx_only: bool) -> (Vec<String>, Vec<String>) {
    let store = if sqlx_only {
        SqlStore::open_on_sqlx(url).await.unwrap()
    } else {
        SqlStore::open(url).await.unwrap()
    };
    let said = script(&store).await;
    store.close().await;
    (said, dump(url).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_work_through_every_driver_answers_alike_and_leaves_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let on = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    let rusqlite = run(&on("rusqlite.db"), false).await;
    let sqlx = run(&on("sqlx.db"), true).await;
    // The script did something of every kind: not a comparison of two empty databases.
    for expected in [
        "receive: [1, 2, 3, 4, 5, 6]",
        "Received([7, 8])",
        "Duplicate",
        "Conflict",
        "failed: 2",
        "depth: ",
    ] {
        assert!(
            rusqlite.0.iter().any(|s| s.contains(expected)),
            "{expected} in {:#?}",
            rusqlite.0
        );
    }
    assert!(
        rusqlite
            .1
            .iter()
            .any(|r| r.starts_with("outbox: ") && r.contains("\"sent\""))
    );
    assert!(rusqlite.1.iter().any(|r| r.starts_with("registrations: ")));
    assert!(rusqlite.1.iter().any(|r| r.starts_with("insights: ")));
    assert_eq!(rusqlite.0, sqlx.0, "what the calls answered, rusqlite against sqlx");
    assert_eq!(rusqlite.1, sqlx.1, "the rows left, rusqlite against sqlx");
    // PostgreSQL commits jobs together (commit_many) and claims with SKIP LOCKED: the same
    // answers and rows.
    let postgres = run(&crate::support::postgres_db().await, false).await;
    assert_eq!(
        rusqlite.0, postgres.0,
        "what the calls answered, SQLite against PostgreSQL"
    );
    assert_eq!(rusqlite.1, postgres.1, "the rows left, SQLite against PostgreSQL");
}

/// Corrupt rows are errors naming their table and id, never defaults: a request's unknown
/// status (was read as pending), a time that does not parse (was 1970); a message whose
/// keyboard cannot be decoded is failed with the reason instead of sent without it.
async fn corrupt_rows(url: &str) {
    use botwright::store::types::StoreError;
    let store = SqlStore::open(url).await.unwrap();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let request = |status: &str, created: &str| {
        format!(
            "INSERT INTO auth_requests (bot, chat, user_id, name, username, data, status, reason, created_at) \
             VALUES ('demo', 10, 10, 'U', NULL, '+7', '{status}', NULL, '{created}') RETURNING id"
        )
    };
    let odd: i64 = sqlx::query_scalar(&request("maybe", "2021-02-06T11:00:00.000Z"))
        .fetch_one(&pool)
        .await
        .unwrap();
    match store.auth_request("demo", odd as u64).await {
        Err(StoreError::Corrupt { table, id, problem }) => {
            assert_eq!((table, id), ("auth_requests", odd.to_string()));
            assert!(problem.contains("maybe"), "{problem}");
        }
        other => panic!("an unknown status read as {other:?}"),
    }
    sqlx::query(&request("pending", "yesterday"))
        .fetch_one(&pool)
        .await
        .unwrap();
    match store.pending_auth_request("demo", 10).await {
        Err(StoreError::Corrupt {
            table: "auth_requests",
            problem,
            ..
        }) => {
            assert!(problem.contains("yesterday"), "{problem}")
        }
        other => panic!("an unreadable time read as {other:?}"),
    }
    let message = |text: &str, keyboard: &str| {
        format!(
            "INSERT INTO outbox (bot, chat, text, keyboard, attachments, status, due_at, created_at, attempts) \
             VALUES ('demo', 20, '{text}', '{keyboard}', '[]', 'queued', '2021-02-06T11:00:00.000Z', \
             '2021-02-06T11:00:00.000Z', 0) RETURNING id"
        )
    };
    let bad: i64 = sqlx::query_scalar(&message("broken", "{not json"))
        .fetch_one(&pool)
        .await
        .unwrap();
    let good: i64 = sqlx::query_scalar(&message("fine", "\"None\""))
        .fetch_one(&pool)
        .await
        .unwrap();
    // The chat's first message cannot be read: failed, so it does not hold the second back,
    // which the next claim takes.
    let claimed = store.claim("demo", "me", at(0), 10).await.unwrap();
    assert!(claimed.is_empty(), "the second waits behind the first in this claim");
    let claimed = store.claim("demo", "me", at(0), 10).await.unwrap();
    assert_eq!(
        claimed.iter().map(|m| m.id).collect::<Vec<_>>(),
        [good],
        "only the readable one"
    );
    let (status, error): (String, Option<String>) =
        sqlx::query_as(&format!("SELECT status, last_error FROM outbox WHERE id = {bad}"))
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(status, "failed");
    assert!(error.as_deref().is_some_and(|e| e.contains("keyboard")), "{error:?}");
    pool.close().await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_rows_are_errors_on_every_driver() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    corrupt_rows(&format!("sqlite://{}", dir.path().join("c.db").display())).await;
    corrupt_rows(&crate::support::postgres_db().await).await;
}
