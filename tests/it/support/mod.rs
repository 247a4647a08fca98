//! A fake Telegram Bot API server on 127.0.0.1 for end-to-end tests, and
//! helpers to run the `botwright` binary against it.

#![allow(dead_code)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// One request the fake server received.
#[derive(Debug, Clone)]
pub struct Call {
    pub token: String,
    pub method: String,
    pub body: Value,
    pub at: Instant,
}

/// A failure to answer instead of the real thing.
#[derive(Debug, Clone)]
pub enum Failure {
    TooManyRequests { retry_after: u64 },
    ServerError,
}

#[derive(Default)]
struct Inner {
    /// Chats that blocked the bot: sending to them is 403.
    blocked: std::collections::HashSet<i64>,
    /// token → (bot id, username)
    bots: HashMap<String, (i64, String)>,
    /// token → updates not yet confirmed by an offset
    updates: HashMap<String, Vec<Value>>,
    next_update: HashMap<String, i64>,
    calls: Vec<Call>,
    failures: HashMap<String, VecDeque<Failure>>,
    next_message: i64,
    /// (token, chat) → when each of its updates was pushed, in order.
    pushed_at: HashMap<(String, i64), Vec<Instant>>,
}

#[derive(Clone, Default)]
pub struct FakeTelegram {
    inner: Arc<Mutex<Inner>>,
    new_update: Arc<Notify>,
    pub url: String,
}

impl FakeTelegram {
    /// Starts the server on a free port of 127.0.0.1 in the current runtime.
    pub async fn start() -> FakeTelegram {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fake = FakeTelegram {
            url,
            ..FakeTelegram::default()
        };
        let app = Router::new()
            .route("/{bot}/{method}", axum::routing::any(handle))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    pub fn add_bot(&self, token: &str, id: i64, username: &str) {
        self.inner
            .lock()
            .unwrap()
            .bots
            .insert(token.to_string(), (id, username.to_string()));
    }

    /// Queues an update for a bot, giving it the next update id; returns the id.
    pub fn push(&self, token: &str, mut update: Value) -> i64 {
        let mut inner = self.inner.lock().unwrap();
        let next = inner.next_update.entry(token.to_string()).or_insert(100);
        *next += 1;
        let id = *next;
        update["update_id"] = json!(id);
        let chat = update_chat(&update);
        inner
            .pushed_at
            .entry((token.to_string(), chat))
            .or_default()
            .push(Instant::now());
        inner.updates.entry(token.to_string()).or_default().push(update);
        drop(inner);
        self.new_update.notify_waiters();
        id
    }

    /// When each update to a chat of a bot was pushed, in order.
    pub fn pushed_at(&self, token: &str, chat: i64) -> Vec<Instant> {
        self.inner
            .lock()
            .unwrap()
            .pushed_at
            .get(&(token.to_string(), chat))
            .cloned()
            .unwrap_or_default()
    }

    /// For every chat of a bot, the time from each pushed update to the sendMessage of the same
    /// rank in that chat (each update of the benchmark's script gets one reply).
    pub fn reply_latencies(&self, token: &str) -> Vec<Duration> {
        let inner = self.inner.lock().unwrap();
        let mut sent: HashMap<i64, Vec<Instant>> = HashMap::new();
        for c in inner
            .calls
            .iter()
            .filter(|c| c.token == token && c.method == "SendMessage")
        {
            sent.entry(c.body["chat_id"].as_i64().unwrap_or(0))
                .or_default()
                .push(c.at);
        }
        let mut out = Vec::new();
        for ((t, chat), pushed) in &inner.pushed_at {
            if t != token {
                continue;
            }
            if let Some(replies) = sent.get(chat) {
                out.extend(pushed.iter().zip(replies).map(|(p, r)| r.saturating_duration_since(*p)));
            }
        }
        out
    }

    /// Queues an update with a given id (to deliver one again).
    pub fn push_with_id(&self, token: &str, mut update: Value, id: i64) {
        update["update_id"] = json!(id);
        self.inner
            .lock()
            .unwrap()
            .updates
            .entry(token.to_string())
            .or_default()
            .push(update);
        self.new_update.notify_waiters();
    }

    pub fn text(&self, token: &str, chat: i64, name: &str, text: &str) -> i64 {
        self.push(token, message_update(chat, name, text))
    }

    pub fn press(&self, token: &str, chat: i64, name: &str, data: &str) -> i64 {
        self.push(token, callback_update(chat, name, data))
    }

    /// The user of `chat` blocks every bot: sending to them answers 403.
    #[allow(dead_code)]
    pub fn block(&self, chat: i64) {
        self.inner.lock().unwrap().blocked.insert(chat);
    }

    pub fn fail_next(&self, method: &str, failure: Failure) {
        self.inner
            .lock()
            .unwrap()
            .failures
            .entry(method.to_string())
            .or_default()
            .push_back(failure);
    }

    pub fn calls(&self, token: &str, method: &str) -> Vec<Call> {
        self.inner
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.token == token && c.method == method)
            .cloned()
            .collect()
    }

    /// How many requests of a method a bot made.
    pub fn count(&self, token: &str, method: &str) -> usize {
        self.inner
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.token == token && c.method == method)
            .count()
    }

    /// Texts of the messages a bot sent to a chat, in order.
    pub fn sent(&self, token: &str, chat: i64) -> Vec<String> {
        self.calls(token, "SendMessage")
            .into_iter()
            .filter(|c| c.body["chat_id"].as_i64() == Some(chat))
            .map(|c| c.body["text"].as_str().unwrap_or("").to_string())
            .collect()
    }

    /// The callback data of the newest button labelled `label` in a chat.
    pub fn button(&self, token: &str, chat: i64, label: &str) -> Option<String> {
        self.calls(token, "SendMessage")
            .into_iter()
            .rev()
            .filter(|c| c.body["chat_id"].as_i64() == Some(chat))
            .find_map(|c| {
                c.body["reply_markup"]["inline_keyboard"]
                    .as_array()?
                    .iter()
                    .flat_map(|r| r.as_array().cloned().unwrap_or_default())
                    .find_map(|b| {
                        (b["text"].as_str() == Some(label))
                            .then(|| b["callback_data"].as_str().unwrap_or("").to_string())
                    })
            })
    }

    /// Updates still waiting to be confirmed by an offset.
    pub fn unconfirmed(&self, token: &str) -> usize {
        self.inner.lock().unwrap().updates.get(token).map_or(0, Vec::len)
    }
}

fn update_chat(update: &Value) -> i64 {
    update["message"]["chat"]["id"]
        .as_i64()
        .or_else(|| update["callback_query"]["message"]["chat"]["id"].as_i64())
        .unwrap_or(0)
}

pub fn message_update(chat: i64, name: &str, text: &str) -> Value {
    json!({"message": {
        "message_id": 1, "date": 1_600_000_000,
        "chat": {"id": chat, "type": "private", "first_name": name},
        "from": {"id": chat, "is_bot": false, "first_name": name},
        "text": text
    }})
}

pub fn sticker_update(chat: i64, name: &str) -> Value {
    json!({"message": {
        "message_id": 1, "date": 1_600_000_000,
        "chat": {"id": chat, "type": "private", "first_name": name},
        "from": {"id": chat, "is_bot": false, "first_name": name},
        "sticker": {"file_id": "f", "file_unique_id": "u", "type": "regular", "width": 1, "height": 1, "is_animated": false, "is_video": false}
    }})
}

/// A message carrying a document, as Telegram sends it.
pub fn document_update(chat: i64, name: &str, file_name: &str) -> Value {
    json!({"message": {
        "message_id": 1, "date": 1_600_000_000,
        "chat": {"id": chat, "type": "private", "first_name": name},
        "from": {"id": chat, "is_bot": false, "first_name": name},
        "document": {"file_id": "doc-1", "file_unique_id": "u1", "file_name": file_name,
                     "mime_type": "application/pdf", "file_size": 2048}
    }})
}

/// A message sharing a contact; `user_id` is whose contact it is.
#[allow(dead_code)]
pub fn contact_update(chat: i64, name: &str, phone: &str, user_id: i64) -> Value {
    json!({"message": {
        "message_id": 1, "date": 1_600_000_000,
        "chat": {"id": chat, "type": "private", "first_name": name},
        "from": {"id": chat, "is_bot": false, "first_name": name},
        "contact": {"phone_number": phone, "first_name": name, "user_id": user_id}
    }})
}

/// A message carrying a location.
pub fn location_update(chat: i64, name: &str, latitude: f64, longitude: f64) -> Value {
    json!({"message": {
        "message_id": 1, "date": 1_600_000_000,
        "chat": {"id": chat, "type": "private", "first_name": name},
        "from": {"id": chat, "is_bot": false, "first_name": name},
        "location": {"latitude": latitude, "longitude": longitude}
    }})
}

pub fn callback_update(chat: i64, name: &str, data: &str) -> Value {
    json!({"callback_query": {
        "id": format!("cq{chat}{}", data.len()),
        "from": {"id": chat, "is_bot": false, "first_name": name},
        "chat_instance": "ci",
        "data": data,
        "message": {
            "message_id": 5, "date": 1_600_000_000,
            "chat": {"id": chat, "type": "private", "first_name": name},
            "text": "…"
        }
    }})
}

fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

/// The text fields of a multipart form (files are skipped), as a JSON object.
fn multipart_fields(content_type: &str, body: &[u8]) -> Value {
    let Some(boundary) = content_type.split("boundary=").nth(1) else {
        return Value::Null;
    };
    let text = String::from_utf8_lossy(body);
    let mut out = serde_json::Map::new();
    for part in text.split(&format!("--{}", boundary.trim_matches('"'))) {
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        if head.contains("filename=") {
            continue;
        }
        if let Some(name) = head.split("name=\"").nth(1).and_then(|n| n.split('"').next()) {
            let value = value.trim_end_matches("\r\n").to_string();
            out.insert(
                name.to_string(),
                serde_json::from_str(&value).unwrap_or(Value::String(value)),
            );
        }
    }
    Value::Object(out)
}

async fn handle(
    State(fake): State<FakeTelegram>,
    Path((bot, method)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let token = bot.strip_prefix("bot").unwrap_or("").to_string();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body: Value = if content_type.starts_with("multipart/") {
        multipart_fields(&content_type, &body)
    } else {
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    };
    let failure = {
        let mut inner = fake.inner.lock().unwrap();
        inner.calls.push(Call {
            token: token.clone(),
            method: method.clone(),
            body: body.clone(),
            at: Instant::now(),
        });
        if !inner.bots.contains_key(&token) {
            return (
                StatusCode::UNAUTHORIZED,
                axum::Json(json!({"ok": false, "error_code": 401, "description": "Unauthorized"})),
            )
                .into_response();
        }
        inner.failures.get_mut(&method).and_then(VecDeque::pop_front)
    };
    match failure {
        Some(Failure::TooManyRequests { retry_after }) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                axum::Json(json!({"ok": false, "error_code": 429, "description": format!("Too Many Requests: retry after {retry_after}"), "parameters": {"retry_after": retry_after}})),
            )
                .into_response();
        }
        Some(Failure::ServerError) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"ok": false, "error_code": 500, "description": "Internal Server Error"})),
            )
                .into_response();
        }
        None => {}
    }
    match method.as_str() {
        "GetMe" => {
            let (id, username) = fake.inner.lock().unwrap().bots[&token].clone();
            ok(json!({
                "id": id, "is_bot": true, "first_name": username, "username": username,
                "can_join_groups": false, "can_read_all_group_messages": false, "supports_inline_queries": false,
                "can_connect_to_business": false, "has_main_web_app": false
            }))
        }
        "GetUpdates" => {
            let offset = body["offset"].as_i64().unwrap_or(0);
            // Telegram gives at most `limit` updates a call (100 by default).
            let limit = body["limit"].as_u64().unwrap_or(100).clamp(1, 100) as usize;
            let timeout = body["timeout"].as_u64().unwrap_or(0).min(5);
            let deadline = Instant::now() + Duration::from_secs(timeout);
            loop {
                let notified = fake.new_update.notified();
                let pending: Vec<Value> = {
                    let mut inner = fake.inner.lock().unwrap();
                    let list = inner.updates.entry(token.clone()).or_default();
                    // An offset confirms every update before it.
                    list.retain(|u| u["update_id"].as_i64().unwrap_or(0) >= offset);
                    list.iter().take(limit).cloned().collect()
                };
                if !pending.is_empty() || Instant::now() >= deadline {
                    return ok(Value::Array(pending));
                }
                let _ = tokio::time::timeout(deadline - Instant::now(), notified).await;
            }
        }
        "SendMessage" | "SendDocument" | "SendPhoto"
            if fake
                .inner
                .lock()
                .unwrap()
                .blocked
                .contains(&body["chat_id"].as_i64().unwrap_or(0)) =>
        {
            (
                StatusCode::FORBIDDEN,
                axum::Json(
                    json!({"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}),
                ),
            )
                .into_response()
        }
        "SendMessage" | "SendDocument" | "SendPhoto" => {
            let id = {
                let mut inner = fake.inner.lock().unwrap();
                inner.next_message += 1;
                inner.next_message
            };
            let chat = body["chat_id"].as_i64().unwrap_or(0);
            ok(
                json!({"message_id": id, "date": 1_600_000_000, "chat": {"id": chat, "type": "private", "first_name": "U"}, "text": body["text"]}),
            )
        }
        "GetWebhookInfo" => ok(json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0})),
        _ => ok(json!(true)),
    }
}

/// An HTTP/1.1 server on 127.0.0.1 standing in for a business system: each request is
/// answered on its own thread with `answer(path, body)` → (status line, JSON body).
/// Gives its address.
#[allow(dead_code)]
pub fn http_server(answer: impl Fn(&str, &str) -> (&'static str, String) + Send + Sync + 'static) -> String {
    http_server_with_headers(move |path, _headers, body| answer(path, body))
}

/// [`http_server`] whose `answer` also sees the request's headers (names in lower case).
/// An answer whose status starts with `3` is sent with `Location: /ok`.
pub fn http_server_with_headers(
    answer: impl Fn(&str, &HashMap<String, String>, &str) -> (&'static str, String) + Send + Sync + 'static,
) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let mut headers = HashMap::new();
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    if header.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = header.split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                    }
                }
                let length = headers.get("content-length").map_or(0, |v| v.parse().unwrap());
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let (status, body) = answer(&path, &headers, &String::from_utf8_lossy(&body));
                let location = if status.starts_with('3') {
                    "Location: /ok\r\n"
                } else {
                    ""
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\n{location}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    address
}

/// Waits until `condition` holds, checking every 20 ms, for at most 60 seconds.
pub async fn wait_for(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A `botwright run` process with its stderr in a file.
pub struct Botwright {
    pub child: Child,
    pub log: std::path::PathBuf,
}

impl Botwright {
    pub fn start(
        bots: &std::path::Path,
        db: &str,
        api: &str,
        env: &[(&str, &str)],
        log: std::path::PathBuf,
    ) -> Botwright {
        Botwright::start_with(bots, db, api, env, log, &[])
    }

    /// Starts with extra arguments to `botwright run`.
    pub fn start_with(
        bots: &std::path::Path,
        db: &str,
        api: &str,
        env: &[(&str, &str)],
        log: std::path::PathBuf,
        extra: &[&str],
    ) -> Botwright {
        let binary = std::path::Path::new(env!("CARGO_BIN_EXE_botwright"));
        Botwright::start_binary(binary, bots, db, api, env, log, extra)
    }

    /// [`start_with`](Self::start_with) another build of botwright (the runtime benchmark's
    /// before and after).
    pub fn start_binary(
        binary: &std::path::Path,
        bots: &std::path::Path,
        db: &str,
        api: &str,
        env: &[(&str, &str)],
        log: std::path::PathBuf,
        extra: &[&str],
    ) -> Botwright {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut cmd = Command::new(binary);
        cmd.args(["run", "--bots"])
            .arg(bots)
            .args(["--db", db, "--api-url", api, "--poll-timeout", "1"])
            .args(extra);
        cmd.env_remove("TELOXIDE_API_URL")
            .env("BOTWRIGHT_LOG", "info")
            .stdout(Stdio::null())
            .stderr(file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Botwright {
            child: cmd.spawn().unwrap(),
            log,
        }
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the process to exit (at most 60 s) and gives its exit code.
    pub async fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "botwright did not stop");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Botwright {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static POSTGRES: std::sync::OnceLock<String> = std::sync::OnceLock::new();
static DATABASES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The base URL of a PostgreSQL server: the one named by `BOTWRIGHT_TEST_POSTGRES`
/// (which `.ci/run` starts), else a throw-away cluster started here for this test
/// process and stopped when it exits.
fn postgres_server() -> String {
    POSTGRES
        .get_or_init(|| {
            if let Ok(url) = std::env::var("BOTWRIGHT_TEST_POSTGRES") {
                return url.trim_end_matches('/').to_string();
            }
            let bin = std::path::Path::new("/usr/lib/postgresql/15/bin");
            assert!(
                bin.join("initdb").exists(),
                "PostgreSQL tests need a server: set BOTWRIGHT_TEST_POSTGRES=postgres://USER@HOST:PORT or install PostgreSQL 15 (`.ci/run` does both)"
            );
            let dir = std::env::temp_dir().join(format!("botwright-pg-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let root = unsafe_is_root();
            let as_postgres = |args: &[&str]| {
                let mut cmd = if root {
                    let mut c = Command::new("runuser");
                    c.args(["-u", "postgres", "--"]);
                    c
                } else {
                    Command::new(args[0])
                };
                if root {
                    cmd.args(args);
                } else {
                    cmd.args(&args[1..]);
                }
                cmd
            };
            if root {
                Command::new("chown").args(["postgres"]).arg(&dir).status().unwrap();
            }
            let d = dir.display().to_string();
            let initdb = bin.join("initdb").display().to_string();
            let pg_ctl = bin.join("pg_ctl").display().to_string();
            let ok = as_postgres(&[&initdb, "-D", &d, "-A", "trust", "-U", "postgres"]).stdout(Stdio::null()).status().unwrap();
            assert!(ok.success(), "initdb failed");
            let options = format!("-p {port} -k {d} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off");
            let log = format!("{d}/log");
            let ok = as_postgres(&[&pg_ctl, "-D", &d, "-o", &options, "-l", &log, "-w", "start"]).stdout(Stdio::null()).status().unwrap();
            assert!(ok.success(), "pg_ctl start failed");
            // Stop the cluster when this test process is gone.
            let stop = if root { format!("runuser -u postgres -- {pg_ctl} -D {d} -m immediate stop") } else { format!("{pg_ctl} -D {d} -m immediate stop") };
            let watchdog = format!("while kill -0 {} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {d}", std::process::id());
            Command::new("setsid")
                .args(["-f", "sh", "-c", &watchdog])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            format!("postgres://postgres@127.0.0.1:{port}")
        })
        .clone()
}

fn unsafe_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A new, empty PostgreSQL database for one test; its URL.
pub async fn postgres_db() -> String {
    let server = postgres_server();
    let name = format!(
        "t{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&format!("{server}/postgres")).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    format!("{server}/{name}")
}

/// Tokens of the demo and support bots in [`ApiBots`], and the API's bearer token.
pub const DEMO: &str = "111111:demo-token-for-tests";
pub const SUPPORT: &str = "333333:support-token-for-tests";
pub const API_TOKEN: &str = "api-secret-for-tests";

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP request: (status, body text); status 0 when nothing answered.
pub fn http_call(method: &str, url: &str, json_body: Option<String>, bearer: Option<&str>) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    if let Some(t) = bearer {
        request = request.header("authorization", format!("Bearer {t}"));
    }
    let result = match json_body {
        Some(b) => agent.run(request.header("content-type", "application/json").body(b).unwrap()),
        None => agent.run(request.body(()).unwrap()),
    };
    match result {
        Ok(mut r) => (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default()),
        Err(_) => (0, String::new()),
    }
}

/// `bots/demo.toml` and `bots/support.toml` served by `botwright run` on the fake Bot API,
/// with the HTTP API on a free port.
pub struct ApiBots {
    pub fake: FakeTelegram,
    pub bots: tempfile::TempDir,
    pub state: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`.
    pub api: String,
    /// The database's URL.
    pub db: String,
    pub bw: Botwright,
}

impl ApiBots {
    /// Starts on SQLite in the state folder, or on `db`; `extra` goes to `botwright run`.
    /// Returns once `/healthz` answers 200.
    pub async fn start(db: Option<String>, extra: &[&str]) -> ApiBots {
        let fake = FakeTelegram::start().await;
        fake.add_bot(DEMO, 111111, "demo_bot");
        fake.add_bot(SUPPORT, 333333, "support_bot");
        let bots = tempfile::tempdir().unwrap();
        for b in ["demo", "support"] {
            std::fs::copy(format!("bots/{b}.toml"), bots.path().join(format!("{b}.toml"))).unwrap();
        }
        let state = tempfile::tempdir().unwrap();
        let db = db.unwrap_or_else(|| format!("sqlite://{}", state.path().join("state.db").display()));
        let (bw, api) = ApiBots::launch(&fake, &bots, &state, &db, extra);
        let health = format!("{api}/healthz");
        wait_for("the API is up", || http_call("GET", &health, None, None).0 == 200).await;
        ApiBots {
            fake,
            bots,
            state,
            api,
            db,
            bw,
        }
    }

    /// Stops the process at once (as a crash would) and starts it again on the same
    /// database, with the API on a new port. Does not wait for it to come up.
    pub fn restart(&mut self) {
        self.bw.child.kill().unwrap();
        self.bw.child.wait().unwrap();
        let (bw, api) = ApiBots::launch(&self.fake, &self.bots, &self.state, &self.db, &[]);
        self.bw = bw;
        self.api = api;
    }

    fn launch(
        fake: &FakeTelegram,
        bots: &tempfile::TempDir,
        state: &tempfile::TempDir,
        db: &str,
        extra: &[&str],
    ) -> (Botwright, String) {
        let listen = format!("127.0.0.1:{}", free_port());
        let env = [
            ("DEMO_BOT_TOKEN", DEMO),
            ("SUPPORT_BOT_TOKEN", SUPPORT),
            ("BOTWRIGHT_API_TOKEN", API_TOKEN),
            ("SUPPORT_CRM_URL", "http://127.0.0.1:9"),
        ];
        let mut args = vec!["--listen", listen.as_str()];
        args.extend_from_slice(extra);
        let bw = Botwright::start_with(bots.path(), db, &fake.url, &env, state.path().join("log"), &args);
        (bw, format!("http://{listen}"))
    }
}
