//! Operators, their rights, the audit log and cross-site refusals (api.md,
//! Operators and the console), end to end: `botwright operators` on the
//! database that `botwright run --listen` serves.

use crate::support::{API_TOKEN, ApiBots, SUPPORT, wait_for};
use serde_json::{Value, json};
use std::process::Command;

/// One request with a bearer and extra headers: (status, body as JSON or as a string).
fn request(method: &str, url: &str, body: Option<&Value>, token: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut r = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("authorization", format!("Bearer {token}"));
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let result = match body {
        Some(b) => agent.run(
            r.header("content-type", "application/json")
                .body(b.to_string())
                .unwrap(),
        ),
        None => agent.run(r.body(()).unwrap()),
    };
    let mut answer = result.expect("the API answers");
    let text = answer.body_mut().read_to_string().unwrap_or_default();
    (
        answer.status().as_u16(),
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn call(s: &ApiBots, method: &str, path: &str, body: Option<Value>, token: &str) -> (u16, Value) {
    call_with(s, method, path, body, token, &[]).await
}

async fn call_with(
    s: &ApiBots,
    method: &str,
    path: &str,
    body: Option<Value>,
    token: &str,
    headers: &[(&'static str, &'static str)],
) -> (u16, Value) {
    let url = format!("{}{path}", s.api);
    let (method, token, headers) = (method.to_string(), token.to_string(), headers.to_vec());
    tokio::task::spawn_blocking(move || request(&method, &url, body.as_ref(), &token, &headers))
        .await
        .unwrap()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `botwright operators ARGS --db DB`: (exit code, stdout, stderr).
fn operators(db: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_botwright"))
        .arg("operators")
        .args(args)
        .args(["--db", db])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Adds an operator with the CLI and answers their token.
pub(crate) fn add(db: &str, name: &str, role: &str) -> String {
    let (code, out, err) = operators(db, &["add", name, "--role", role]);
    assert_eq!(code, 0, "{err}");
    // The token alone on stdout.
    let token = out.trim_end_matches('\n');
    assert_eq!(out.lines().count(), 1, "{out:?}");
    assert!(token.len() >= 32 && !token.contains(char::is_whitespace), "{out:?}");
    token.to_string()
}

/// A pending authorization request of the support bot, from chat 42; its id.
pub(crate) async fn pending_request(s: &ApiBots) -> i64 {
    s.fake.text(SUPPORT, 42, "Иван", "Привет");
    wait_for("auth request", || s.fake.sent(SUPPORT, 42).len() == 1).await;
    let register = s.fake.button(SUPPORT, 42, "Зарегистрироваться").unwrap();
    s.fake.press(SUPPORT, 42, "Иван", &register);
    wait_for("data asked", || s.fake.sent(SUPPORT, 42).len() == 2).await;
    s.fake.text(SUPPORT, 42, "Иван", "ООО Ромашка");
    wait_for("confirm", || s.fake.sent(SUPPORT, 42).len() == 3).await;
    s.fake.text(SUPPORT, 42, "Иван", "Да");
    wait_for("sent to operators", || s.fake.sent(SUPPORT, 1001).len() == 1).await;
    let (status, pending) = call(
        s,
        "GET",
        "/api/v1/bots/support/auth-requests?status=pending",
        None,
        API_TOKEN,
    )
    .await;
    assert_eq!(status, 200, "{pending}");
    pending[0]["id"].as_i64().unwrap()
}

async fn status_of(s: &ApiBots, id: i64) -> Value {
    let (_, list) = call(s, "GET", "/api/v1/bots/support/auth-requests", None, API_TOKEN).await;
    list.as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .map(|r| r["status"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rights_audit_and_cross_site_refusals_on_sqlite() {
    rights_audit_and_cross_site_refusals(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rights_audit_and_cross_site_refusals_on_postgres() {
    rights_audit_and_cross_site_refusals(Some(crate::support::postgres_db().await)).await;
}

async fn rights_audit_and_cross_site_refusals(db: Option<String>) {
    let s = ApiBots::start(db, &[]).await;
    let viewer = add(&s.db, "vera", "viewer");
    let operator = add(&s.db, "oleg", "operator");
    // A name that exists, `api` included, is refused with exit 1.
    for name in ["vera", "api"] {
        let (code, out, err) = operators(&s.db, &["add", name, "--role", "admin"]);
        assert_eq!((code, out.as_str()), (1, ""), "{name}: {err}");
        assert!(err.contains("exists"), "{err}");
    }
    let (code, listed, _) = operators(&s.db, &["list"]);
    assert_eq!(code, 0);
    let names: Vec<(&str, &str)> = listed
        .lines()
        .map(|l| {
            let mut parts = l.split('\t');
            (parts.next().unwrap(), parts.next().unwrap())
        })
        .collect();
    assert_eq!(names, [("oleg", "operator"), ("vera", "viewer")], "{listed}");
    // Only the hash is stored: the token is nowhere in the database file.
    if let Some(file) = s.db.strip_prefix("sqlite://") {
        let mut stored = std::fs::read(file).unwrap();
        for suffix in ["-wal", "-shm"] {
            stored.extend(std::fs::read(format!("{file}{suffix}")).unwrap_or_default());
        }
        assert!(
            !stored.windows(viewer.len()).any(|w| w == viewer.as_bytes()),
            "the viewer's token is stored in the clear"
        );
    }

    // Who am I.
    assert_eq!(
        call(&s, "GET", "/api/v1/me", None, &viewer).await,
        (200, json!({"name": "vera", "role": "viewer"}))
    );
    assert_eq!(
        call(&s, "GET", "/api/v1/me", None, API_TOKEN).await,
        (200, json!({"name": "api", "role": "admin"}))
    );
    assert_eq!(call(&s, "GET", "/api/v1/me", None, "not-a-token").await.0, 401);

    let id = pending_request(&s).await;
    let approve = format!("/api/v1/bots/support/auth-requests/{id}/approve");
    let principal = json!({"principal": {"kind": "partner", "id": "7701", "name": "ООО «Ромашка»"}});

    // A viewer reads but may not decide: 403, and the request stays pending.
    let (status, list) = call(&s, "GET", "/api/v1/bots/support/auth-requests", None, &viewer).await;
    assert_eq!((status, list.as_array().map(Vec::len)), (200, Some(1)));
    let (status, body) = call(&s, "POST", &approve, Some(principal.clone()), &viewer).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    assert_eq!(status_of(&s, id).await, "pending");
    // Nor list the operators, nor send.
    assert_eq!(call(&s, "GET", "/api/v1/operators", None, &viewer).await.0, 403);
    assert_eq!(call(&s, "GET", "/api/v1/operators", None, &operator).await.0, 403);

    // From another site's page: 403 and nothing changes, whoever's token it carries.
    for token in [operator.as_str(), API_TOKEN] {
        let (status, body) = call_with(
            &s,
            "POST",
            &approve,
            Some(principal.clone()),
            token,
            &[("origin", "http://evil.example")],
        )
        .await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(status_of(&s, id).await, "pending");
    }
    // Reads from anywhere are fine (they change nothing).
    assert_eq!(
        call_with(
            &s,
            "GET",
            "/api/v1/me",
            None,
            &viewer,
            &[("origin", "http://evil.example")]
        )
        .await
        .0,
        200
    );

    // The operator approves, from the API's own page.
    let host = s.api.trim_start_matches("http://").to_string();
    let origin: &'static str = Box::leak(format!("http://{host}").into_boxed_str());
    let (status, body) = call_with(&s, "POST", &approve, Some(principal), &operator, &[("origin", origin)]).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("approved")), "{body}");
    wait_for("the user is told", || {
        s.fake
            .sent(SUPPORT, 42)
            .last()
            .is_some_and(|t| t == "Вы зарегистрированы как ООО «Ромашка».")
    })
    .await;

    // The console's reads: the bots, a bot's overview (today's updates and users, updates per
    // hour), its broadcasts and messages newest first.
    let (status, bots) = call(&s, "GET", "/api/v1/bots", None, &viewer).await;
    assert_eq!(status, 200);
    let support = bots.as_array().unwrap().iter().find(|b| b["id"] == "support").unwrap();
    assert_eq!(support["kinds"], json!(["partner", "counterparty"]), "{support}");
    let (status, overview) = call(&s, "GET", "/api/v1/bots/support/overview", None, &viewer).await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["today"]["users"], 1, "{overview}");
    let updates = overview["today"]["updates"].as_i64().unwrap();
    assert!(updates >= 4, "{overview}");
    let hourly = overview["hourly"].as_array().unwrap();
    assert_eq!(
        hourly.iter().map(|h| h["updates"].as_i64().unwrap()).sum::<i64>(),
        updates,
        "{overview}"
    );
    let (status, list) = call(&s, "GET", "/api/v1/bots/support/broadcasts?order=newest", None, &viewer).await;
    assert_eq!((status, list), (200, json!([])));
    let (status, list) = call(
        &s,
        "GET",
        "/api/v1/bots/support/messages?order=newest&to=42&limit=2",
        None,
        &viewer,
    )
    .await;
    assert_eq!(status, 200);
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_i64().unwrap())
        .collect();
    assert!(ids.len() == 2 && ids[0] > ids[1], "{list}");

    // The console's search finds the user by any part of their principal, in any case
    // (Cyrillic too), and nothing else.
    for (q, found) in [
        ("ромашка", true),
        ("РОМАШ", true),
        ("7701", true),
        ("42", true),
        ("вектор", false),
    ] {
        let (status, users) = call(
            &s,
            "GET",
            &format!("/api/v1/bots/support/users?q={}", urlencode(q)),
            None,
            &viewer,
        )
        .await;
        assert_eq!(status, 200, "{users}");
        let keys: Vec<i64> = users
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["key"].as_i64().unwrap())
            .collect();
        assert_eq!(keys, if found { vec![42] } else { vec![] }, "{q}");
    }

    // The audit log names the operator, the action, the bot and the object; reads and
    // refused calls are not in it.
    let (status, log) = call(&s, "GET", "/api/v1/audit", None, &viewer).await;
    assert_eq!(status, 200);
    let entries: Vec<(String, String, String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["operator"].as_str().unwrap_or("").into(),
                e["action"].as_str().unwrap_or("").into(),
                e["bot"].as_str().unwrap_or("").into(),
                e["object"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        entries,
        [(
            "oleg".to_string(),
            "approve auth-request".to_string(),
            "support".to_string(),
            id.to_string()
        )],
        "{log}"
    );
    assert!(log[0]["detail"].as_str().unwrap().contains("7701"), "{log}");
    assert!(log[0]["at"].as_str().is_some_and(|t| t.len() >= 20));

    // An admin adds an operator through the API (the token shown once), and 409 for a name
    // that exists.
    let (status, added) = call(
        &s,
        "POST",
        "/api/v1/operators",
        Some(json!({"name": "irina", "role": "admin"})),
        API_TOKEN,
    )
    .await;
    assert_eq!(status, 201, "{added}");
    let irina = added["token"].as_str().unwrap().to_string();
    assert_eq!(
        call(&s, "GET", "/api/v1/me", None, &irina).await.1,
        json!({"name": "irina", "role": "admin"})
    );
    for name in ["irina", "api"] {
        let (status, _) = call(
            &s,
            "POST",
            "/api/v1/operators",
            Some(json!({"name": name, "role": "viewer"})),
            &irina,
        )
        .await;
        assert_eq!(status, 409, "{name}");
    }
    let (status, body) = call(
        &s,
        "POST",
        "/api/v1/operators",
        Some(json!({"name": "x", "role": "boss"})),
        &irina,
    )
    .await;
    assert_eq!((status, body["error"]["field"].as_str()), (400, Some("role")));
    let (_, list) = call(&s, "GET", "/api/v1/operators", None, &irina).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["irina", "oleg", "vera"]);
    assert!(list.as_array().unwrap().iter().all(|o| o.get("token").is_none()));

    // Removed, by the API or the CLI: the token stops working at once.
    assert_eq!(call(&s, "DELETE", "/api/v1/operators/oleg", None, &irina).await.0, 204);
    assert_eq!(call(&s, "GET", "/api/v1/me", None, &operator).await.0, 401);
    let (code, _, _) = operators(&s.db, &["remove", "vera"]);
    assert_eq!(code, 0);
    assert_eq!(call(&s, "GET", "/api/v1/me", None, &viewer).await.0, 401);
    assert_eq!(operators(&s.db, &["remove", "vera"]).0, 1);
    let (_, log) = call(&s, "GET", "/api/v1/audit?order=newest&limit=2", None, API_TOKEN).await;
    let actions: Vec<(&str, &str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["operator"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["object"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [("irina", "remove operator", "oleg"), ("api", "add operator", "irina")]
    );
    // A name in Cyrillic: the audit log names the object as written, not percent-encoded.
    let (status, _) = call(
        &s,
        "POST",
        "/api/v1/operators",
        Some(json!({"name": "анна", "role": "viewer"})),
        &irina,
    )
    .await;
    assert_eq!(status, 201);
    let path = format!("/api/v1/operators/{}", urlencode("анна"));
    assert_eq!(call(&s, "DELETE", &path, None, &irina).await.0, 204);
    let (_, log) = call(&s, "GET", "/api/v1/audit?order=newest&limit=1", None, &irina).await;
    assert_eq!(
        (log[0]["action"].as_str(), log[0]["object"].as_str()),
        (Some("remove operator"), Some("анна")),
        "{log}"
    );
}
