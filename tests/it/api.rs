//! The HTTP API end to end: `botwright run --listen` with a fake Bot API.

use crate::support::{API_TOKEN, ApiBots, DEMO, SUPPORT, wait_for};
use serde_json::{Value, json};

type Setup = ApiBots;

async fn setup() -> Setup {
    ApiBots::start(None, &[]).await
}

async fn setup_on(db: Option<String>) -> Setup {
    ApiBots::start(db, &[]).await
}

/// One request: (status, the body as JSON, or as a JSON string when it is not JSON).
fn call_sync(method: &str, url: &str, body: Option<&Value>, token: Option<&str>) -> (u16, Value) {
    let (status, text) = crate::support::http_call(method, url, body.map(Value::to_string), token);
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

impl Setup {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.api);
        let method = method.to_string();
        tokio::task::spawn_blocking(move || call_sync(&method, &url, body.as_ref(), Some(API_TOKEN)))
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_statuses_errors_and_idempotency() {
    let s = setup().await;
    // Without the token: 401 and nothing changes; health needs none.
    let url = format!("{}/api/v1/bots/demo/messages", s.api);
    let (status, body) = tokio::task::spawn_blocking(move || {
        call_sync(
            "POST",
            &url,
            Some(&json!({"to": {"key": 7}, "text": "x"})),
            Some("wrong"),
        )
    })
    .await
    .unwrap();
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, body) = s.call("GET", "/api/openapi.json", None).await;
    assert_eq!(status, 200);
    // Generated from the handlers: every endpoint is there, with the error shape.
    assert!(body["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{body}");
    for path in [
        "/api/v1/bots/{bot}/messages",
        "/api/v1/bots/{bot}/messages/{id}",
        "/api/v1/bots/{bot}/broadcasts",
        "/api/v1/bots/{bot}/broadcasts/{id}",
        "/api/v1/bots/{bot}/users",
        "/api/v1/bots/{bot}/users/{key}",
        "/api/v1/bots/{bot}/auth-requests",
        "/api/v1/bots/{bot}/auth-requests/{id}/approve",
        "/api/v1/bots/{bot}/auth-requests/{id}/reject",
    ] {
        assert!(body["paths"][path].is_object(), "{path} is not documented");
    }
    assert!(body["components"]["schemas"]["ErrorBody"].is_object());
    assert!(body["components"]["securitySchemes"]["bearer"].is_object());

    // A chat that never talked to the bot cannot be messaged by key.
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/bots/demo/messages",
            Some(json!({"to": {"key": 7}, "text": "Hi"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "to.key");
    s.fake.text(DEMO, 7, "Ann", "А1");
    wait_for("the chat talked", || s.fake.sent(DEMO, 7).len() == 1).await;

    let (status, body) = s
        .call(
            "POST",
            "/api/v1/bots/demo/messages",
            Some(json!({"to": {"key": 7}, "text": "<b>Задача</b> назначена 🎉"})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "queued");
    let id = body["id"].as_i64().unwrap();
    wait_for("sent", || {
        s.fake
            .sent(DEMO, 7)
            .last()
            .is_some_and(|t| t == "<b>Задача</b> назначена 🎉")
    })
    .await;
    let path = format!("/api/v1/bots/demo/messages/{id}");
    let mut last = Value::Null;
    for _ in 0..500 {
        last = s.call("GET", &path, None).await.1;
        if last["status"] == "sent" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(last["status"], "sent", "{last}");
    assert!(
        last["telegram_message_id"].is_i64() && last["sent_at"].is_string(),
        "{last}"
    );
    assert_eq!(s.call("DELETE", &path, None).await.0, 409);

    // Bad bodies name their field; unknown things are 404.
    for (body, field) in [
        (json!({"to": {"key": "x"}, "text": "a"}), "to.key"),
        (json!({"to": {"key": 7}}), "text"),
        (json!({"to": {"key": 7}, "text": "a", "send_at": "tomorrow"}), "send_at"),
        (
            json!({"to": {"key": 7}, "text": "a", "buttons": [[{"text": "x"}]]}),
            "buttons[0][0]",
        ),
        (
            json!({"to": {"key": 7}, "text": "a", "attachments": [{"name": "a.txt", "content_base64": "%%%"}]}),
            "attachments[0].content_base64",
        ),
    ] {
        let (status, answer) = s.call("POST", "/api/v1/bots/demo/messages", Some(body)).await;
        assert_eq!(status, 400, "{answer}");
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }
    assert_eq!(
        s.call(
            "POST",
            "/api/v1/bots/nobot/messages",
            Some(json!({"to": {"key": 7}, "text": "a"}))
        )
        .await
        .0,
        404
    );
    assert_eq!(s.call("GET", "/api/v1/bots/demo/messages/999999", None).await.0, 404);
    let (status, answer) = s
        .call(
            "POST",
            "/api/v1/bots/demo/messages",
            Some(json!({"to": {"key": 7}, "template": "nope", "data": {}})),
        )
        .await;
    assert_eq!((status, answer["error"]["field"].clone()), (422, json!("template")));

    // The same idempotency key gives the first message back, sent once.
    let body = json!({"to": {"key": 7}, "text": "Один раз", "idempotency_key": "k-1"});
    let first = s.call("POST", "/api/v1/bots/demo/messages", Some(body.clone())).await.1;
    let second = s.call("POST", "/api/v1/bots/demo/messages", Some(body)).await.1;
    assert_eq!(first["id"], second["id"]);
    wait_for("sent once", || {
        s.fake.sent(DEMO, 7).iter().filter(|t| *t == "Один раз").count() == 1
    })
    .await;

    // A delayed message is scheduled, may be cancelled, and otherwise goes at its time.
    let later = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/bots/demo/messages",
            Some(json!({"to": {"key": 7}, "text": "Позже", "send_at": later})),
        )
        .await;
    assert_eq!((status, body["status"].clone()), (202, json!("scheduled")));
    let much_later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    let cancel = s
        .call(
            "POST",
            "/api/v1/bots/demo/messages",
            Some(json!({"to": {"key": 7}, "text": "Отменено", "send_at": much_later})),
        )
        .await
        .1;
    let (status, body) = s
        .call("DELETE", &format!("/api/v1/bots/demo/messages/{}", cancel["id"]), None)
        .await;
    assert_eq!((status, body["status"].clone()), (200, json!("cancelled")));
    let scheduled = s
        .call("GET", "/api/v1/bots/demo/messages?status=cancelled", None)
        .await
        .1;
    assert_eq!(scheduled.as_array().unwrap().len(), 1);
    wait_for("the delayed message", || {
        s.fake.sent(DEMO, 7).last().is_some_and(|t| t == "Позже")
    })
    .await;
    assert!(!s.fake.sent(DEMO, 7).contains(&"Отменено".to_string()));
    // `botwright send` queues through the same outbox, for the running instance to send.
    let db = format!("sqlite://{}", s.state.path().join("state.db").display());
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_botwright"))
        .args(["send", "--bot", "demo", "--to", "7", "--bots"])
        .arg(s.bots.path())
        .args(["--db", &db, "Из командной строки"])
        .status()
        .unwrap();
    assert!(status.success());
    wait_for("the CLI message", || {
        s.fake.sent(DEMO, 7).last().is_some_and(|t| t == "Из командной строки")
    })
    .await;
    let unknown = std::process::Command::new(env!("CARGO_BIN_EXE_botwright"))
        .args(["send", "--bot", "demo", "--to", "999", "--bots"])
        .arg(s.bots.path())
        .args(["--db", &db, "x"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("never talked"));
    let metrics = s.call("GET", "/metrics", None).await.1;
    assert!(metrics.as_str().unwrap().contains("botwright_messages_sent_total"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn principals_templates_attachments_and_auth_requests() {
    let s = setup().await;
    // An unregistered user asks to register; the CRM is down, so operators get the request.
    s.fake.text(SUPPORT, 42, "Иван", "Привет");
    wait_for("auth request", || s.fake.sent(SUPPORT, 42).len() == 1).await;
    let register = s.fake.button(SUPPORT, 42, "Зарегистрироваться").unwrap();
    s.fake.press(SUPPORT, 42, "Иван", &register);
    wait_for("data asked", || s.fake.sent(SUPPORT, 42).len() == 2).await;
    s.fake.text(SUPPORT, 42, "Иван", "ООО Ромашка");
    wait_for("confirm", || s.fake.sent(SUPPORT, 42).len() == 3).await;
    s.fake.text(SUPPORT, 42, "Иван", "Да");
    wait_for("sent to operators", || {
        s.fake
            .sent(SUPPORT, 42)
            .last()
            .is_some_and(|t| t.starts_with("Заявка отправлена"))
    })
    .await;
    assert_eq!(s.fake.sent(SUPPORT, 1001).len(), 1);

    let pending = s
        .call("GET", "/api/v1/bots/support/auth-requests?status=pending", None)
        .await
        .1;
    let request = &pending.as_array().unwrap()[0];
    assert_eq!(
        (request["key"].clone(), request["data"].clone()),
        (json!(42), json!("ООО Ромашка"))
    );
    let approve = format!("/api/v1/bots/support/auth-requests/{}/approve", request["id"]);
    let principal = json!({"principal": {"kind": "partner", "id": "7701", "name": "ООО «Ромашка»"}});
    let (status, body) = s.call("POST", &approve, Some(principal.clone())).await;
    assert_eq!((status, body["status"].clone()), (200, json!("approved")), "{body}");
    wait_for("registered", || {
        s.fake
            .sent(SUPPORT, 42)
            .last()
            .is_some_and(|t| t == "Вы зарегистрированы как ООО «Ромашка».")
    })
    .await;
    assert_eq!(s.call("POST", &approve, Some(principal)).await.0, 409);
    // An operator's button now finds the request decided.
    let approve_button = s.fake.button(SUPPORT, 1001, "Одобрить").unwrap();
    s.fake.press(SUPPORT, 1001, "Оператор", &approve_button);
    wait_for("already decided", || {
        s.fake
            .sent(SUPPORT, 1001)
            .last()
            .is_some_and(|t| t == "Эта заявка уже рассмотрена.")
    })
    .await;

    let users = s.call("GET", "/api/v1/bots/support/users", None).await.1;
    assert_eq!(users[0]["principal"]["id"], "7701");
    assert_eq!(users[0]["key"], 42);

    // A notification by principal, from a template, with a file attached.
    let file = base64_of(b"report body");
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/bots/support/messages",
            Some(json!({
                "to": {"principal": {"kind": "partner", "id": "7701"}},
                "template": "ticket_update",
                "data": {"number": 128, "status": "выполнена"},
                "attachments": [{"name": "report.txt", "content_base64": file}]
            })),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    wait_for("notified", || {
        s.fake
            .sent(SUPPORT, 42)
            .last()
            .is_some_and(|t| t == "Заявка <b>№128</b>: выполнена, ООО «Ромашка».")
    })
    .await;
    wait_for("the file follows", || s.fake.count(SUPPORT, "SendDocument") == 1).await;
    let notification = s.fake.calls(SUPPORT, "SendMessage").into_iter().last().unwrap();
    assert_eq!(
        notification.body["reply_markup"]["inline_keyboard"][0][0]["url"],
        "https://example.com/tickets"
    );
    let sent = s.fake.calls(SUPPORT, "SendDocument");
    assert_eq!(sent[0].body["chat_id"], 42, "{:?}", sent[0].body);
    // A file Telegram already has (one a user sent to an `accept` step) goes by its file_id.
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/bots/support/messages",
            Some(json!({"to": {"key": 42}, "text": "Ваш акт", "attachments": [{"name": "act.pdf", "file_id": "BQACAgIAAxkBAAIC-act_1"}]})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    wait_for("the act follows", || s.fake.count(SUPPORT, "SendDocument") == 2).await;
    let act = s.fake.calls(SUPPORT, "SendDocument").pop().unwrap();
    assert_eq!(act.body["document"], "BQACAgIAAxkBAAIC-act_1", "{:?}", act.body);
    for (attachment, field) in [
        (
            json!({"name": "act.pdf", "file_id": "not a file id"}),
            "attachments[0].file_id",
        ),
        (
            json!({"name": "act.pdf", "file_id": "abc", "url": "https://example.com/a.pdf"}),
            "attachments[0]",
        ),
    ] {
        let (status, body) = s
            .call(
                "POST",
                "/api/v1/bots/support/messages",
                Some(json!({"to": {"key": 42}, "text": "x", "attachments": [attachment]})),
            )
            .await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["field"], field, "{body}");
    }
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/bots/support/messages",
            Some(json!({"to": {"principal": {"kind": "partner", "id": "nobody"}}, "text": "x"})),
        )
        .await;
    assert_eq!((status, body["error"]["field"].clone()), (422, json!("to.principal")));

    // PUT registers (and greets) a chat; DELETE unregisters it.
    s.fake.text(SUPPORT, 43, "Пётр", "Привет");
    wait_for("43 talked", || !s.fake.sent(SUPPORT, 43).is_empty()).await;
    let (status, _) = s
        .call(
            "PUT",
            "/api/v1/bots/support/users/43",
            Some(json!({"principal": {"kind": "counterparty", "id": "9", "name": "ИП Петров"}})),
        )
        .await;
    assert_eq!(status, 200);
    wait_for("greeted", || {
        s.fake
            .sent(SUPPORT, 43)
            .last()
            .is_some_and(|t| t == "Вы зарегистрированы как ИП Петров.")
    })
    .await;
    assert_eq!(s.call("DELETE", "/api/v1/bots/support/users/43", None).await.0, 204);
    assert_eq!(s.call("DELETE", "/api/v1/bots/support/users/43", None).await.0, 404);

    // Two decisions on one request at once: exactly one wins, the other is 409.
    let register = s.fake.button(SUPPORT, 43, "Зарегистрироваться").unwrap();
    s.fake.press(SUPPORT, 43, "Пётр", &register);
    wait_for("data asked", || {
        s.fake
            .sent(SUPPORT, 43)
            .last()
            .is_some_and(|t| !t.starts_with("Вы зарегистрированы"))
    })
    .await;
    let asked = s.fake.sent(SUPPORT, 43).len();
    s.fake.text(SUPPORT, 43, "Пётр", "ИП Петров");
    wait_for("confirm", || s.fake.sent(SUPPORT, 43).len() == asked + 1).await;
    s.fake.text(SUPPORT, 43, "Пётр", "Да");
    wait_for("sent to operators", || {
        s.fake
            .sent(SUPPORT, 43)
            .last()
            .is_some_and(|t| t.starts_with("Заявка отправлена"))
    })
    .await;
    let pending = s
        .call("GET", "/api/v1/bots/support/auth-requests?status=pending", None)
        .await
        .1;
    let id = pending.as_array().unwrap()[0]["id"].clone();
    let api = s.api.clone();
    let decisions = futures_join((0..2).map(|n| {
        let (path, body) = if n == 0 {
            (
                "approve",
                json!({"principal": {"kind": "partner", "id": "9", "name": "ИП Петров"}}),
            )
        } else {
            ("reject", json!({"reason": "дубль"}))
        };
        let url = format!("{api}/api/v1/bots/support/auth-requests/{id}/{path}");
        tokio::task::spawn_blocking(move || call_sync("POST", &url, Some(&body), Some(API_TOKEN)))
    }))
    .await;
    let mut statuses: Vec<u16> = decisions.iter().map(|(s, _)| *s).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{decisions:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_message_survives_kill_9() {
    let mut s = setup().await;
    s.fake.text(DEMO, 8, "Kim", "А1");
    wait_for("the chat talked", || s.fake.sent(DEMO, 8).len() == 1).await;
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    let (status, _) = s
        .call(
            "POST",
            "/api/v1/bots/demo/messages",
            Some(json!({"to": {"key": 8}, "text": "Переживёт сбой", "send_at": soon})),
        )
        .await;
    assert_eq!(status, 202);
    s.restart();
    wait_for("delivered after the restart", || {
        s.fake.sent(DEMO, 8).last().is_some_and(|t| t == "Переживёт сбой")
    })
    .await;
    assert_eq!(
        s.fake.sent(DEMO, 8).iter().filter(|t| *t == "Переживёт сбой").count(),
        1
    );
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Action buttons (from a template and from a request), broadcasts, concurrent
/// duplicates and decisions, pagination and the body limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_buttons_broadcasts_and_races() {
    action_buttons_broadcasts_and_races_on(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn action_buttons_broadcasts_and_races_on_postgres() {
    action_buttons_broadcasts_and_races_on(Some(crate::support::postgres_db().await)).await;
}

async fn action_buttons_broadcasts_and_races_on(db: Option<String>) {
    let s = setup_on(db).await;
    for chat in [7, 8] {
        s.fake.text(DEMO, chat, "Ann", "А1");
        wait_for("the chat talked", || s.fake.sent(DEMO, chat).len() == 1).await;
    }

    // A template's action button runs its record with `selected` = the rendered value.
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/bots/demo/messages",
            Some(json!({"to": {"key": 7}, "template": "visit_reminder", "data": {"date": "05.12"}})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    wait_for("the reminder", || s.fake.button(DEMO, 7, "Подтвердить").is_some()).await;
    assert_eq!(s.fake.sent(DEMO, 7)[1], "Напоминаем: визит 05.12 в 10:00.");
    let data = s.fake.button(DEMO, 7, "Подтвердить").unwrap();
    assert!(data.len() <= 64, "{data}");
    s.fake.press(DEMO, 7, "Ann", &data);
    wait_for("the action ran", || s.fake.sent(DEMO, 7).len() == 3).await;
    assert_eq!(s.fake.sent(DEMO, 7)[2], "Спасибо! Визит 05.12 подтверждён.");

    // A request's own action button, next to a link; its value is kept by the runtime.
    let long_value = "06.12 ".repeat(150);
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/bots/demo/messages",
            Some(json!({"to": {"key": 8}, "text": "Подтвердите визит",
                "buttons": [[{"text": "Да", "action": "visit_confirm", "value": long_value},
                             {"text": "Карта", "url": "https://example.com/map"}]]})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    wait_for("the message", || s.fake.button(DEMO, 8, "Да").is_some()).await;
    s.fake.press(DEMO, 8, "Ann", &s.fake.button(DEMO, 8, "Да").unwrap());
    wait_for("the action ran", || s.fake.sent(DEMO, 8).len() == 3).await;
    assert!(s.fake.sent(DEMO, 8)[2].starts_with("Спасибо! Визит 06.12 06.12"));
    // Only records marked `action = true` can be targets; a forged press is stale.
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/bots/demo/messages",
            Some(
                json!({"to": {"key": 8}, "text": "x", "buttons": [[{"text": "Меню", "action": "menu", "value": "1"}]]}),
            ),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].clone()),
        (422, json!("buttons[0][0].action")),
        "{body}"
    );
    s.fake.press(DEMO, 8, "Ann", "x:999999");
    wait_for("stale", || s.fake.sent(DEMO, 8).len() == 4).await;

    // Broadcasts: resolved and deduplicated by chat, unknown ones listed and skipped.
    let (status, body) = s
        .call(
            "POST",
            "/api/v1/bots/demo/broadcasts",
            Some(json!({"to": {"keys": [7, 8, 7, 999]}, "text": "Всем привет"})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        (body["recipients"].clone(), body["unknown"].clone()),
        (json!(2), json!([999]))
    );
    let broadcast = format!("/api/v1/bots/demo/broadcasts/{}", body["id"]);
    wait_for("both got it", || {
        [7, 8]
            .iter()
            .all(|c| s.fake.sent(DEMO, *c).last().is_some_and(|t| t == "Всем привет"))
    })
    .await;
    let mut counts = Value::Null;
    for _ in 0..500 {
        counts = s.call("GET", &broadcast, None).await.1;
        if counts["counts"]["sent"] == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(counts["counts"]["sent"], 2, "{counts}");
    assert_eq!(s.call("DELETE", &broadcast, None).await.1["cancelled"], 0);
    for to in [json!({"keys": [999]}), json!({"kind": "partner"}), json!({"all": true})] {
        let (status, body) = s
            .call(
                "POST",
                "/api/v1/bots/demo/broadcasts",
                Some(json!({"to": to, "text": "x"})),
            )
            .await;
        assert_eq!(status, 422, "{to}: {body}");
    }
    let principal = json!({"principal": {"kind": "partner", "id": "1", "name": "ООО Ромашка"}});
    assert_eq!(s.call("PUT", "/api/v1/bots/demo/users/7", Some(principal)).await.0, 200);
    // `botwright send` takes a principal and a template with data, as the API does.
    let db = s.db.clone();
    let sent = std::process::Command::new(env!("CARGO_BIN_EXE_botwright"))
        .args([
            "send",
            "--bot",
            "demo",
            "--principal",
            "partner:1",
            "--template",
            "visit_reminder",
        ])
        .args(["--data", r#"{"date": "07.12"}"#, "--bots"])
        .arg(s.bots.path())
        .args(["--db", &db])
        .output()
        .unwrap();
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
    assert!(String::from_utf8_lossy(&sent.stdout).starts_with("message "));
    wait_for("the CLI reminder", || {
        s.fake
            .sent(DEMO, 7)
            .last()
            .is_some_and(|t| t == "Напоминаем: визит 07.12 в 10:00.")
    })
    .await;
    for (args, problem) in [
        (vec!["--principal", "partner:404", "x"], "no user is registered"),
        (vec!["--to", "7", "--template", "nope"], "no notification template"),
        (vec!["--principal", "nokind", "x"], "KIND:ID"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_botwright"))
            .args(["send", "--bot", "demo", "--bots"])
            .arg(s.bots.path())
            .args(["--db", &db])
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(problem), "{args:?}: {stderr}");
    }
    // A scheduled broadcast to a kind, with a key: the same key gives the same broadcast.
    let later = json!({"to": {"kind": "partner"}, "text": "Завтра", "send_at": "2099-01-01T00:00:00Z", "idempotency_key": "b-1"});
    let (status, first) = s
        .call("POST", "/api/v1/bots/demo/broadcasts", Some(later.clone()))
        .await;
    assert_eq!((status, first["recipients"].clone()), (202, json!(1)), "{first}");
    let (_, again) = s.call("POST", "/api/v1/bots/demo/broadcasts", Some(later)).await;
    assert_eq!(again["id"], first["id"]);
    let scheduled = format!("/api/v1/bots/demo/broadcasts/{}", first["id"]);
    assert_eq!(s.call("GET", &scheduled, None).await.1["counts"]["scheduled"], 1);
    assert_eq!(s.call("DELETE", &scheduled, None).await.1["cancelled"], 1);
    assert_eq!(s.call("GET", &scheduled, None).await.1["counts"]["cancelled"], 1);

    // Concurrent requests with one idempotency key: one message, the same answer, no 5xx.
    let api = s.api.clone();
    let answers: Vec<(u16, Value)> = futures_join((0..8).map(|_| {
        let url = format!("{api}/api/v1/bots/demo/messages");
        let body = json!({"to": {"key": 8}, "text": "Один раз", "send_at": "2099-01-01T00:00:00Z", "idempotency_key": "race-1"});
        tokio::task::spawn_blocking(move || call_sync("POST", &url, Some(&body), Some(API_TOKEN)))
    }))
    .await;
    let ids: std::collections::HashSet<String> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 202, "{body}");
            body["id"].to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{answers:?}");

    // Lists page in SQL: oldest first, `after` continues, bad numbers are 400.
    let page = s.call("GET", "/api/v1/bots/demo/messages?limit=2", None).await.1;
    let page = page.as_array().unwrap();
    assert_eq!(page.len(), 2);
    let after = page[1]["id"].as_i64().unwrap();
    assert!(page[0]["id"].as_i64().unwrap() < after);
    let next = s
        .call(
            "GET",
            &format!("/api/v1/bots/demo/messages?limit=1000&after={after}"),
            None,
        )
        .await
        .1;
    assert!(
        next.as_array()
            .unwrap()
            .iter()
            .all(|m| m["id"].as_i64().unwrap() > after)
    );
    for bad in ["limit=0", "limit=1001", "limit=x", "after=y", "status=lost"] {
        let (status, body) = s.call("GET", &format!("/api/v1/bots/demo/messages?{bad}"), None).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }

    // A body over 30 MB is 413 in the error shape, answered from its length alone: a client
    // that asks first (`Expect: 100-continue`) never sends it.
    let address = s.api.trim_start_matches("http://").to_string();
    let (status, body) = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        write!(
            stream,
            "POST /api/v1/bots/demo/messages HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {API_TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
            31 * 1024 * 1024
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let status: u16 = answer.split_whitespace().nth(1).unwrap().parse().unwrap();
        let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap_or("")).unwrap_or(Value::Null);
        (status, body)
    })
    .await
    .unwrap();
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (413, json!("too_large")),
        "{body}"
    );
}

/// Joins spawned tasks, in order.
async fn futures_join<T: Send + 'static>(tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for t in tasks.collect::<Vec<_>>() {
        out.push(t.await.unwrap());
    }
    out
}

/// A broadcast never delays replies to users who are talking to the bot, and a user who
/// blocked the bot is counted as `blocked`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_go_before_a_broadcast() {
    // Three messages a second for the bot: a broadcast to 30 chats takes ten seconds, so a
    // reply that waited for most of it would be seen even on a slow machine, and a reply
    // that did not has eight seconds to go out.
    let s = ApiBots::start(None, &["--bot-rate", "3"]).await;
    let (fake, api) = (&s.fake, s.api.clone());
    for chat in 1..=31 {
        fake.text(DEMO, chat, "U", "А1");
    }
    wait_for("every chat talked", || (1..=31).all(|c| fake.sent(DEMO, c).len() == 1)).await;
    fake.block(3);
    let keys: Vec<i64> = (1..=30).collect();
    let url = format!("{api}/api/v1/bots/demo/broadcasts");
    let body = json!({"to": {"keys": keys}, "text": "Всем"});
    let (status, accepted) = tokio::task::spawn_blocking(move || call_sync("POST", &url, Some(&body), Some(API_TOKEN)))
        .await
        .unwrap();
    assert_eq!((status, accepted["recipients"].clone()), (202, json!(30)), "{accepted}");
    wait_for("the broadcast started", || fake.sent(DEMO, 1).len() == 2).await;
    // Chat 31 talks while the broadcast goes out: its reply does not wait for the rest.
    let update = fake.text(DEMO, 31, "U", "А1");
    wait_for("the reply", || fake.sent(DEMO, 31).len() == 2).await;
    let calls = fake.calls(DEMO, "SendMessage");
    let reply_at = calls.iter().rposition(|c| c.body["chat_id"] == 31).unwrap();
    let broadcast_before = calls[..reply_at].iter().filter(|c| c.body["text"] == "Всем").count();
    // Where the time went, if the reply was late: when the poller had the update (its next
    // getUpdates confirms it), and when the reply went, after the update was pushed.
    let pushed = *fake.pushed_at(DEMO, 31).last().unwrap();
    let polled = fake
        .calls(DEMO, "GetUpdates")
        .iter()
        .find(|c| c.body["offset"].as_i64().is_some_and(|o| o > update))
        .map(|c| c.at.saturating_duration_since(pushed));
    let replied = calls[reply_at].at.saturating_duration_since(pushed);
    assert!(
        broadcast_before < 25,
        "the reply waited for {broadcast_before} broadcast messages: the poller had the update \
         {polled:?} after it was pushed, and the reply went {replied:?} after"
    );
    // Everything is sent, except to the chat that blocked the bot.
    let path = format!("{api}/api/v1/bots/demo/broadcasts/{}", accepted["id"]);
    let mut counts = Value::Null;
    wait_for("the broadcast finished", || {
        counts = call_sync("GET", &path, None, Some(API_TOKEN)).1;
        counts["counts"]["sent"] == 29 && counts["counts"]["blocked"] == 1
    })
    .await;
}
